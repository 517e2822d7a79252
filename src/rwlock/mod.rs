//! An async reader-writer lock: [`RwLock`] and its methods; its futures and guards live in
//! the two submodules.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::fmt;

use crate::diag;
use crate::raw::rwlock::{RawRwLock, MAX_READERS};
use crate::sync::const_fn;

mod futures;
mod guards;

pub use futures::{
    Read, ReadOwned, UpgradableRead, UpgradableReadOwned, Upgrade, UpgradeOwned, Write, WriteOwned,
};
pub use guards::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, OwnedMappedRwLockReadGuard,
    OwnedMappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard,
    OwnedRwLockWriteGuard, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};

/// An async reader-writer lock that works on any executor and from plain threads.
///
/// Any number of readers ([`read`](RwLock::read)) may hold the lock together, or one writer
/// ([`write`](RwLock::write)). An *upgradable reader* ([`upgradable_read`](RwLock::upgradable_read))
/// shares the lock with readers but excludes writers and other upgradable readers, and can later
/// become the writer without letting anybody else write in between
/// ([`RwLockUpgradableReadGuard::upgrade`]). Every waiting method has a `_blocking` twin for
/// threads; tasks and threads wait in the same queues.
///
/// # Fairness
///
/// The lock is *phase-fair*: neither side can starve the other.
///
/// - Once a writer is next in line (it has got past the other writers and upgradable readers)
///   and runs, or an upgradable reader starts to upgrade, new readers queue behind it,
///   `try_read` included. The writer waits only for the readers already inside. A writer
///   handed its turn while it waited announces itself when its task next polls it: until
///   then new readers still get in (and the writer then waits for them too), for the reason
///   given for let-in readers below.
/// - When a writer releases the lock, every reader that queued behind it is let in at once,
///   before the next writer: they hold their read locks from that moment (even before they
///   are scheduled). The next writer, or upgrade, waits until they have run (each as soon as
///   it is scheduled) before it makes new readers queue, and then for them to leave. Until they
///   run, new readers still get in: the lock is not left to readers that are not running
///   while every reader that is running queues.
/// - On a lock made with [`RwLock::with_max_readers`], a writer's release lets in only as many
///   of those readers as there is room for. The rest get in first in, first out as read locks
///   are released, and a writer that announces itself before they do goes first. Readers that
///   queue while the release is still waking the ones behind it (new readers queue while
///   anyone does) are let in by it only if no writer waits for its turn meanwhile.
///
/// So under a steady stream of readers a writer waits for one batch of readers, and under a
/// steady stream of writers a reader waits for at most the writer in front of it. Both bounds
/// count from the moment the wait queues. An async read queues at its first poll that cannot
/// get in and a write after a brief spin, as a [`Mutex`](crate::Mutex) task does; a
/// `_blocking` wait first tries again up to 16 times, yielding its thread in between, and
/// writers that are running may take the lock meanwhile (see [Design](crate#design)). A lock
/// with a reader limit does not keep the second bound: a writer's release that leaves no room
/// (one that downgrades while the lock is full, or is cancelled while readers fill it) lets
/// no queued reader in, and the next writer goes first, so a queued reader can wait behind
/// any number of such writers. Writers and upgradable readers queue among themselves like
/// [`Mutex`](crate::Mutex) lockers (in arrival order, a woken waiter losing the lock at most
/// once).
/// While an upgradable reader holds the lock without upgrading, readers keep entering; a
/// writer queued behind it does not stop them.
///
/// # Re-entrancy
///
/// A task or thread that holds a read lock and asks for another with [`read`](RwLock::read)
/// deadlocks if a writer has queued in between: the writer waits for the first read lock,
/// and the second read waits behind the writer. Pass the guard you have down instead.
///
/// # Limits
///
/// At most [`RwLock::MAX_READERS`] read locks can be held at once. Past that, `read` and its
/// twins panic and `try_read` fails, before anything changes; so does the downgrade of an
/// upgradable lock to a read lock, which then releases the guard it was given. (A write
/// lock's downgrade always fits: no read lock is held while a writer is inside.)
///
/// A lock made with [`RwLock::with_max_readers`] hands out fewer: past its limit, reads wait
/// for a read lock to be released, first in, first out.
///
/// # Leaks
///
/// A guard that is leaked (`mem::forget`) keeps its lock for ever. A wait future leaked while
/// queued keeps its place, and its turn still comes: a leaked `write` or `upgradable_read`
/// that is given its turn among writers and upgradable readers, or woken to take it, keeps
/// those queued after it waiting for ever (as a leaked [`Mutex`](crate::Mutex) lock future
/// does), and a leaked `write` or `upgrade` that already announced itself keeps every later
/// reader out too. A leaked `read` that a writer's release lets in holds its read lock for
/// ever, so no writer or upgrade gets in again. Drop futures you no longer need (every future
/// here is cancel-safe).
///
/// # Panics and poisoning
///
/// The lock is not poisoned when a guard is dropped during a panic: the lock is released and
/// the next holder sees the value as the panicking code left it. So, as with
/// [`Mutex`](crate::Mutex), `RwLock<T>` is not `RefUnwindSafe`, and `UnwindSafe` when `T` is.
///
/// # When to use `std::sync::RwLock` instead
///
/// If no guard is held across an `.await`, a blocking lock (`std::sync::RwLock`,
/// `parking_lot::RwLock`) is cheaper. Use this one when a guard must live across `.await`, or
/// when tasks and threads must share the lock.
///
/// # Examples
///
/// ```
/// use unisync::RwLock;
///
/// # futures::executor::block_on(async {
/// let lock = RwLock::new(vec![1, 2]);
/// {
///     let a = lock.read().await;
///     let b = lock.read().await; // readers share the lock
///     assert_eq!(a.len() + b.len(), 4);
/// }
/// lock.write().await.push(3);
/// assert_eq!(*lock.read().await, [1, 2, 3]);
/// # });
/// ```
///
/// A lock of a value that is not `Sync` cannot be shared, since readers on several threads would
/// see the value at once:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<unisync::RwLock<std::cell::Cell<u8>>>();
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    // The writer's record; zero-sized without the `diagnostics` feature.
    writer: diag::HolderCell,
    value: UnsafeCell<T>,
}

// SAFETY: moving the lock moves `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: a shared lock hands `&T` to readers on several threads at once (needs `T: Sync`) and
// `&mut T` to a writer on any thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T: ?Sized> RwLock<T> {
    /// The most read locks one lock can hand out at once: `usize::MAX >> 2`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(unisync::RwLock::<()>::MAX_READERS, usize::MAX >> 2);
    /// ```
    pub const MAX_READERS: usize = MAX_READERS;
}

impl<T> RwLock<T> {
    const_fn! {
        /// Creates an unlocked lock holding `value`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::RwLock;
        ///
        /// static CONFIG: RwLock<u32> = RwLock::new(7);
        /// assert_eq!(*CONFIG.try_read().unwrap(), 7);
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new(value: T) -> RwLock<T> {
            RwLock {
                raw: RawRwLock::new(),
                writer: diag::HolderCell::new(),
                value: UnsafeCell::new(value),
            }
        }
    }

    const_fn! {
        /// Creates an unlocked lock holding `value` that hands out at most `max_readers` read
        /// locks at once.
        ///
        /// Past that, [`read`](RwLock::read) and its twins wait until a read lock is released
        /// (where a lock made with [`new`](RwLock::new) panics at
        /// [`RwLock::MAX_READERS`]), and [`try_read`](RwLock::try_read) fails. Readers that wait
        /// for room get in first in, first out: while one waits, later readers queue behind
        /// it. The writers' rules do not change (see [Fairness](RwLock#fairness)); a writer's
        /// release lets in as many of the readers queued behind it as there is room for.
        ///
        /// A limit of [`RwLock::MAX_READERS`] makes the lock [`new`](RwLock::new) makes: no
        /// program can hold that many read locks, and a read past it panics.
        ///
        /// The upgradable lock is not a read lock and does not count. Downgrading it to a read
        /// lock succeeds even when that takes the count past `max_readers` (it panics only at
        /// [`RwLock::MAX_READERS`], see [Limits](RwLock#limits)). A write
        /// lock's downgrade always fits (no reader is inside a write); the readers queued
        /// behind it get in as far as there is room beside it.
        ///
        /// # Panics
        ///
        /// If `max_readers` is 0 or greater than [`RwLock::MAX_READERS`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::task::Poll;
        /// use futures::{poll, pin_mut};
        /// use unisync::RwLock;
        ///
        /// # futures::executor::block_on(async {
        /// let lock = RwLock::with_max_readers((), 2);
        /// let a = lock.read().await;
        /// let b = lock.read().await;
        /// assert!(lock.try_read().is_none(), "no room for a third");
        ///
        /// let third = lock.read();
        /// pin_mut!(third);
        /// assert!(poll!(third.as_mut()).is_pending());
        /// drop(a);
        /// assert!(matches!(poll!(third.as_mut()), Poll::Ready(_)), "let in for the room");
        /// # drop(b);
        /// # });
        /// ```
        // The caller passed the count, so its line is the one to report.
        #[track_caller]
        pub const fn with_max_readers(value: T, max_readers: usize) -> RwLock<T> {
            assert!(
                max_readers > 0,
                "`RwLock::with_max_readers`: `max_readers` must be at least 1"
            );
            assert!(
                max_readers <= MAX_READERS,
                "`RwLock::with_max_readers`: `max_readers` must be at most `RwLock::MAX_READERS`"
            );
            RwLock {
                raw: RawRwLock::with_max_readers(max_readers),
                writer: diag::HolderCell::new(),
                value: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(5);
    /// assert_eq!(lock.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes a read lock, waiting while a writer holds the lock or has announced itself as next
    /// in line for it (see [Fairness](RwLock#fairness)), and, on a lock made with
    /// [`with_max_readers`](RwLock::with_max_readers), while it has no room.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the returned future before it completes leaves the lock as if
    /// `read` had never been called: it holds no read lock, and it leaves the queue of readers (if it had already been let in, the read lock it was given is released at once).
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::RwLock;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// let a = lock.read().await;
    /// let b = lock.read().await;
    /// assert_eq!(*a + *b, 2);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read(&self) -> Read<'_, T> {
        Read::new(self, diag::caller())
    }

    /// Takes a read lock if that is possible right now.
    ///
    /// Fails while a writer holds the lock or has announced itself as next in line for it
    /// (see [Fairness](RwLock#fairness)), and when [`RwLock::MAX_READERS`] read locks are
    /// held (on a lock made with [`with_max_readers`](RwLock::with_max_readers): when its
    /// limit is reached, or readers wait for room).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(1);
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.try_read().is_none());
    /// drop(writer);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            let reader = diag::read_acquired(self.readers(), diag::caller(), false);
            // SAFETY: we just took a read lock.
            Some(unsafe { RwLockReadGuard::new(self, reader) })
        } else {
            None
        }
    }

    /// Takes a read lock, parking the current thread until it can.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker and may deadlock it if the holder needs that worker to run.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, thread};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let lock2 = lock.clone();
    /// let guard = thread::spawn(move || *lock2.read_blocking() + 1).join().unwrap();
    /// assert_eq!(guard, 2);
    /// assert_eq!(*lock.read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_read")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        crate::raw::wait::block_on(self.read(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Takes a read lock, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if it could not be taken in time; the lock is then as if this call had
    /// never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::RwLock;
    ///
    /// let lock = RwLock::new(());
    /// let writer = lock.write_blocking();
    /// assert!(lock.read_blocking_timeout(Duration::from_millis(10)).is_none());
    /// drop(writer);
    /// assert!(lock.read_blocking_timeout(Duration::from_millis(10)).is_some());
    /// ```
    #[doc(alias = "try_read_for")]
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn read_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<RwLockReadGuard<'_, T>> {
        crate::raw::wait::block_on(self.read(), crate::raw::wait::deadline(timeout))
    }

    /// Takes a read lock of a lock behind an `Arc`, yielding a guard that owns a reference to
    /// the lock (`'static` when `T` is).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`read`](RwLock::read).
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.read_owned().await;
    /// let handle = std::thread::spawn(move || *guard + 1);
    /// assert_eq!(handle.join().unwrap(), 2);
    /// # });
    /// ```
    #[doc(alias = "read_arc")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_owned(self: &Arc<Self>) -> ReadOwned<T> {
        ReadOwned::new(self.clone(), diag::caller())
    }

    /// Takes a read lock of a lock behind an `Arc`, parking the current thread until it can; the guard owns a reference to
    /// the lock and can move to another thread.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.read_owned_blocking();
    /// assert_eq!(std::thread::spawn(move || *guard).join().unwrap(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_read_owned")]
    #[doc(alias = "read_arc_blocking")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn read_owned_blocking(self: &Arc<Self>) -> OwnedRwLockReadGuard<T> {
        crate::raw::wait::block_on(self.read_owned(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Takes a read lock of a lock behind an `Arc`, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if the read lock could not be taken in time; the lock is then as if this call
    /// had never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held (see [Limits](RwLock#limits)), before
    /// anything changes. Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.read_owned_blocking_timeout(Duration::from_millis(5)).is_none());
    /// drop(writer);
    /// assert!(lock.read_owned_blocking_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn read_owned_blocking_timeout(
        self: &Arc<Self>,
        timeout: core::time::Duration,
    ) -> Option<OwnedRwLockReadGuard<T>> {
        crate::raw::wait::block_on(self.read_owned(), crate::raw::wait::deadline(timeout))
    }

    /// Takes a read lock of a lock behind an `Arc` if that is possible right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// assert!(lock.try_read_owned().is_none());
    /// drop(writer);
    /// assert!(lock.try_read_owned().is_some());
    /// ```
    #[must_use = "if unused the lock is released at once"]
    #[doc(alias = "try_read_arc")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedRwLockReadGuard<T>> {
        if self.raw.try_read() {
            let reader = diag::read_acquired(self.readers(), diag::caller(), false);
            // SAFETY: we just took a read lock.
            Some(unsafe { OwnedRwLockReadGuard::new(self.clone(), reader) })
        } else {
            None
        }
    }

    /// Takes the write lock, waiting until no other guard exists.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the returned future before it completes leaves the lock as if
    /// `write` had never been called: it holds no lock, readers that queued behind it are let in, and a wake-up it had received goes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::RwLock;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// *lock.write().await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write(&self) -> Write<'_, T> {
        Write::new(self, diag::caller())
    }

    /// Takes the write lock if that is possible right now.
    ///
    /// Fails while the lock is held (including by readers let in but not yet run, see
    /// [`reader_count`](RwLock::reader_count)), or while the lock is handing itself to waiters
    /// in order.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(1);
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.try_write().is_none());
    /// drop(writer);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
            self.writer.record(diag::caller(), false);
            // SAFETY: we just took the write lock.
            Some(unsafe { RwLockWriteGuard::new(self) })
        } else {
            None
        }
    }

    /// Takes the write lock, parking the current thread until it can.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker and may deadlock it if the holder needs that worker to run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, thread};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let lock2 = lock.clone();
    /// let seen = thread::spawn(move || {
    ///     let mut guard = lock2.write_blocking();
    ///     *guard += 1;
    ///     *guard
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(seen, 2);
    /// assert_eq!(*lock.write_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_write")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        crate::raw::wait::block_on(self.write(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Takes the write lock, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if it could not be taken in time; the lock is then as if this call had
    /// never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::RwLock;
    ///
    /// let lock = RwLock::new(());
    /// let writer = lock.write_blocking();
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(10)).is_none());
    /// drop(writer);
    /// assert!(lock.write_blocking_timeout(Duration::from_millis(10)).is_some());
    /// ```
    #[doc(alias = "try_write_for")]
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn write_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<RwLockWriteGuard<'_, T>> {
        crate::raw::wait::block_on(self.write(), crate::raw::wait::deadline(timeout))
    }

    /// Takes the write lock of a lock behind an `Arc`, yielding a guard that owns a reference to
    /// the lock (`'static` when `T` is).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`write`](RwLock::write).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.write_owned().await;
    /// let handle = std::thread::spawn(move || *guard + 1);
    /// assert_eq!(handle.join().unwrap(), 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "write_arc")]
    pub fn write_owned(self: &Arc<Self>) -> WriteOwned<T> {
        WriteOwned::new(self.clone(), diag::caller())
    }

    /// Takes the write lock of a lock behind an `Arc`, parking the current thread until it can; the guard owns a reference to
    /// the lock and can move to another thread.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.write_owned_blocking();
    /// std::thread::spawn(move || { let mut guard = guard; *guard += 1 }).join().unwrap();
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_write_owned")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "write_arc_blocking")]
    pub fn write_owned_blocking(self: &Arc<Self>) -> OwnedRwLockWriteGuard<T> {
        crate::raw::wait::block_on(self.write_owned(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Takes the write lock of a lock behind an `Arc`, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if the write lock could not be taken in time; the lock is then as if this call
    /// had never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let reader = lock.try_read().unwrap();
    /// assert!(lock.write_owned_blocking_timeout(Duration::from_millis(5)).is_none());
    /// drop(reader);
    /// assert!(lock.write_owned_blocking_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn write_owned_blocking_timeout(
        self: &Arc<Self>,
        timeout: core::time::Duration,
    ) -> Option<OwnedRwLockWriteGuard<T>> {
        crate::raw::wait::block_on(self.write_owned(), crate::raw::wait::deadline(timeout))
    }

    /// Takes the write lock of a lock behind an `Arc` if that is possible right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// assert!(lock.try_write_owned().is_none());
    /// drop(writer);
    /// assert!(lock.try_write_owned().is_some());
    /// ```
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "try_write_arc")]
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedRwLockWriteGuard<T>> {
        if self.raw.try_write() {
            self.writer.record(diag::caller(), false);
            // SAFETY: we just took the write lock.
            Some(unsafe { OwnedRwLockWriteGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Takes the upgradable read lock, waiting while a writer or another upgradable reader holds
    /// the lock or is queued for it ahead of this one (they take turns in arrival order, see
    /// [Fairness](RwLock#fairness)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the returned future before it completes leaves the lock as if
    /// `upgradable_read` had never been called: it holds no lock, and a wake-up it had received goes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read().await;
    /// assert!(lock.try_read().is_some()); // readers may still come in
    /// let mut guard = RwLockUpgradableReadGuard::upgrade(guard).await;
    /// *guard = 2;
    /// # });
    /// ```
    #[inline]
    pub fn upgradable_read(&self) -> UpgradableRead<'_, T> {
        UpgradableRead::new(self, diag::caller())
    }

    /// Takes the upgradable read lock if that is possible right now.
    ///
    /// Fails while a writer or another upgradable reader exists, and also while the lock is
    /// being handed to a writer or upgradable reader that waited for it (see
    /// [Fairness](RwLock#fairness)).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(1);
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.try_upgradable_read().is_none());
    /// drop(writer);
    /// assert!(lock.try_upgradable_read().is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the lock is released at once"]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        if self.raw.try_upgradable_read() {
            // SAFETY: we just took the upgradable read lock.
            Some(unsafe { RwLockUpgradableReadGuard::new(self) })
        } else {
            None
        }
    }

    /// Takes the upgradable read lock, parking the current thread until it can.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker and may deadlock it if the holder needs that worker to run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, thread};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let lock2 = lock.clone();
    /// let guard = thread::spawn(move || *lock2.upgradable_read_blocking() + 1).join().unwrap();
    /// assert_eq!(guard, 2);
    /// assert_eq!(*lock.upgradable_read_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_upgradable_read")]
    pub fn upgradable_read_blocking(&self) -> RwLockUpgradableReadGuard<'_, T> {
        crate::raw::wait::block_on(self.upgradable_read(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Takes the upgradable read lock, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if it could not be taken in time; the lock is then as if this call had
    /// never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::RwLock;
    ///
    /// let lock = RwLock::new(());
    /// let writer = lock.write_blocking();
    /// assert!(lock.upgradable_read_blocking_timeout(Duration::from_millis(10)).is_none());
    /// drop(writer);
    /// assert!(lock.upgradable_read_blocking_timeout(Duration::from_millis(10)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[must_use = "if unused the lock is released at once"]
    pub fn upgradable_read_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        crate::raw::wait::block_on(self.upgradable_read(), crate::raw::wait::deadline(timeout))
    }

    /// Takes the upgradable read lock of a lock behind an `Arc`, yielding a guard that owns a reference to
    /// the lock (`'static` when `T` is).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`upgradable_read`](RwLock::upgradable_read).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.upgradable_read_owned().await;
    /// let handle = std::thread::spawn(move || *guard + 1);
    /// assert_eq!(handle.join().unwrap(), 2);
    /// # });
    /// ```
    #[doc(alias = "upgradable_read_arc")]
    pub fn upgradable_read_owned(self: &Arc<Self>) -> UpgradableReadOwned<T> {
        UpgradableReadOwned::new(self.clone(), diag::caller())
    }

    /// Takes the upgradable read lock of a lock behind an `Arc`, parking the current thread until it can; the guard owns a reference to
    /// the lock and can move to another thread.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.upgradable_read_owned_blocking();
    /// assert_eq!(*guard, 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_upgradable_read_owned")]
    #[doc(alias = "upgradable_read_arc_blocking")]
    pub fn upgradable_read_owned_blocking(self: &Arc<Self>) -> OwnedRwLockUpgradableReadGuard<T> {
        crate::raw::wait::block_on(
            self.upgradable_read_owned(),
            crate::raw::wait::Deadline::Never,
        )
        .expect("a wait without deadline completes")
    }

    /// Takes the upgradable read lock of a lock behind an `Arc`, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if the upgradable lock could not be taken in time; the lock is then as if this call
    /// had never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write().unwrap();
    /// assert!(lock.upgradable_read_owned_blocking_timeout(Duration::from_millis(5)).is_none());
    /// drop(writer);
    /// assert!(lock.upgradable_read_owned_blocking_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[must_use = "if unused the lock is released at once"]
    pub fn upgradable_read_owned_blocking_timeout(
        self: &Arc<Self>,
        timeout: core::time::Duration,
    ) -> Option<OwnedRwLockUpgradableReadGuard<T>> {
        crate::raw::wait::block_on(
            self.upgradable_read_owned(),
            crate::raw::wait::deadline(timeout),
        )
    }

    /// Takes the upgradable read lock of a lock behind an `Arc` if that is possible right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::RwLock;
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// assert!(lock.try_upgradable_read_owned().is_none());
    /// drop(writer);
    /// assert!(lock.try_upgradable_read_owned().is_some());
    /// ```
    #[must_use = "if unused the lock is released at once"]
    #[doc(alias = "try_upgradable_read_arc")]
    pub fn try_upgradable_read_owned(
        self: &Arc<Self>,
    ) -> Option<OwnedRwLockUpgradableReadGuard<T>> {
        if self.raw.try_upgradable_read() {
            // SAFETY: we just took the upgradable read lock.
            Some(unsafe { OwnedRwLockUpgradableReadGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Returns a mutable reference to the value; no locking is needed since `&mut self` is
    /// unique.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = unisync::RwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Returns whether a writer holds the lock or has announced itself and waits for the
    /// readers inside to leave, so that new readers queue (a hint: it may change at once).
    ///
    /// A writer that still waits for the readers let in by the previous write to run has not
    /// announced itself yet (see [Fairness](RwLock#fairness)): this returns `false` then.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(());
    /// let guard = lock.try_write().unwrap();
    /// assert!(lock.is_write_locked());
    /// drop(guard);
    /// assert!(!lock.is_write_locked());
    /// ```
    pub fn is_write_locked(&self) -> bool {
        self.raw.is_write_locked()
    }

    /// Returns how many read locks are held (a hint; the upgradable lock is not counted).
    ///
    /// Readers let in by a writer's release, or for room on a lock made with
    /// [`with_max_readers`](RwLock::with_max_readers), hold their read lock from that moment,
    /// before their futures have run and made a guard: they are counted too.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(());
    /// let (_a, _b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    /// assert_eq!(lock.reader_count(), 2);
    /// ```
    pub fn reader_count(&self) -> usize {
        self.raw.reader_count()
    }

    /// Returns who holds the write lock: where it was taken, since when, and by which thread.
    ///
    /// `None` while no writer holds the lock (readers and the upgradable reader are not
    /// recorded). The record is written by every way of taking the write lock (`write`,
    /// `write_owned`, `try_write`, an upgrade, the `_blocking` forms), at the caller's site,
    /// kept by mapped guards and cleared by a downgrade; `Debug` prints it too. See
    /// [`diagnostics`](crate::diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let writer = lock.write_blocking();
    /// assert_eq!(lock.writer().unwrap().site().line(), line!() - 1);
    /// let reader = RwLockWriteGuard::downgrade(writer);
    /// assert!(lock.writer().is_none());
    /// # drop(reader);
    /// ```
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    pub fn writer(&self) -> Option<crate::diagnostics::Holder> {
        self.writer.get()
    }

    /// The record that read locks are counted under (a zero-sized no-op without
    /// `diagnostics`).
    #[inline]
    pub(crate) fn readers(&self) -> diag::HolderRef<'_> {
        diag::HolderRef::new(&self.writer)
    }

    /// The lock as a diagnosed wait sees it: its writer's record, and its readers (a
    /// zero-sized no-op without `diagnostics`).
    #[inline]
    pub(crate) fn writer_target(&self, kind: diag::LockKind) -> diag::Target<'_> {
        diag::Target::new(&self.writer, self, kind).with_readers()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        #[cfg(feature = "diagnostics")]
        if let Some(writer) = self.writer() {
            d.field("writer", &writer);
        }
        d.finish()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;

    /// A lock whose reader count is at its limit, less `spare`.
    fn near_the_limit(spare: usize) -> RwLock<u8> {
        let lock = RwLock::new(0);
        lock.raw.add_phantom_readers((MAX_READERS - spare) as isize);
        lock
    }

    fn release_phantoms(lock: &RwLock<u8>, spare: usize) {
        lock.raw
            .add_phantom_readers(-((MAX_READERS - spare) as isize));
    }

    /// Regression: at the limit, downgrading an upgradable guard panicked after consuming the
    /// guard without unlocking it, so writers and upgradable readers were locked out for good.
    #[test]
    fn downgrade_at_the_reader_limit_panics_and_releases_the_guard() {
        let lock = near_the_limit(0);
        let up = lock.try_upgradable_read().unwrap();
        let res = catch_unwind(AssertUnwindSafe(|| {
            RwLockUpgradableReadGuard::downgrade(up)
        }));
        assert!(res.is_err(), "no room for one more reader");
        assert_eq!(lock.reader_count(), MAX_READERS, "nothing changed");
        assert!(
            lock.try_upgradable_read().is_some(),
            "the upgradable lock was released by the unwinding"
        );
        release_phantoms(&lock, 0);
        assert!(lock.try_write().is_some());
    }

    #[test]
    fn write_downgrade_at_the_reader_limit_panics_and_releases_the_guard() {
        let lock = RwLock::new(0);
        let writer = lock.try_write().unwrap();
        // Readers cannot enter while the writer holds the lock: count them in behind its back.
        lock.raw.add_phantom_readers(MAX_READERS as isize);
        let res = catch_unwind(AssertUnwindSafe(|| RwLockWriteGuard::downgrade(writer)));
        assert!(res.is_err());
        assert!(
            !lock.is_write_locked(),
            "the write lock was released by the unwinding"
        );
        release_phantoms(&lock, 0);
        assert!(lock.try_write().is_some());
    }

    /// Runs `downgrade`, which takes the write lock, fills the reader count to its limit with
    /// the given closure, and downgrades: that must panic and leave the write lock released.
    fn downgrade_panics_at_the_limit(downgrade: impl FnOnce(&Arc<RwLock<u8>>, &dyn Fn())) {
        let lock = Arc::new(RwLock::new(0));
        // Readers cannot enter while the writer holds the lock: count them in behind its back.
        let fill = || lock.raw.add_phantom_readers(MAX_READERS as isize);
        let res = catch_unwind(AssertUnwindSafe(|| downgrade(&lock, &fill)));
        assert!(res.is_err(), "no room for one more reader");
        assert!(
            !lock.is_write_locked(),
            "the write lock was released by the unwinding"
        );
        release_phantoms(&lock, 0);
        assert!(lock.try_write().is_some());
        assert_eq!(Arc::strong_count(&lock), 1);
    }

    #[test]
    fn mapping_downgrades_at_the_reader_limit_panic_and_release_the_write_lock() {
        downgrade_panics_at_the_limit(|l, fill| {
            let w = l.try_write().unwrap();
            fill();
            drop(RwLockWriteGuard::downgrade_map(w, |v| v));
        });
        downgrade_panics_at_the_limit(|l, fill| {
            let w = l.try_write().unwrap();
            fill();
            drop(RwLockWriteGuard::try_downgrade_map(w, |v| Some(v)));
        });
        downgrade_panics_at_the_limit(|l, fill| {
            let w = l.clone().try_write_owned().unwrap();
            fill();
            drop(OwnedRwLockWriteGuard::downgrade_map(w, |v| v));
        });
        downgrade_panics_at_the_limit(|l, fill| {
            let w = l.clone().try_write_owned().unwrap();
            fill();
            drop(OwnedRwLockWriteGuard::try_downgrade_map(w, |v| Some(v)));
        });
        downgrade_panics_at_the_limit(|l, fill| {
            let w = RwLockWriteGuard::map(l.try_write().unwrap(), |v| v);
            fill();
            drop(MappedRwLockWriteGuard::downgrade(w));
        });
        downgrade_panics_at_the_limit(|l, fill| {
            let w = OwnedRwLockWriteGuard::map(l.clone().try_write_owned().unwrap(), |v| v);
            fill();
            drop(OwnedMappedRwLockWriteGuard::downgrade(w));
        });
    }

    #[test]
    fn a_limit_of_max_readers_is_the_lock_new_makes() {
        let lock = RwLock::with_max_readers(0u8, MAX_READERS);
        lock.raw.add_phantom_readers(MAX_READERS as isize);
        assert!(lock.try_read().is_none());
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(::futures::executor::block_on(lock.read()));
        }));
        assert!(
            res.is_err(),
            "a read past MAX_READERS panics, as documented"
        );
        release_phantoms(&lock, 0);
        assert_eq!(lock.reader_count(), 0);
        assert!(lock.try_write().is_some());
    }

    #[test]
    fn reads_at_the_limit_fail_or_panic_before_changing_anything() {
        let lock = near_the_limit(1);
        let last = lock.try_read().expect("one read lock left");
        assert!(lock.try_read().is_none(), "try_read fails at the limit");
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(::futures::executor::block_on(lock.read()));
        }));
        assert!(res.is_err(), "read panics at the limit");
        #[cfg(feature = "std")]
        assert!(catch_unwind(AssertUnwindSafe(|| lock.read_blocking())).is_err());
        assert_eq!(lock.reader_count(), MAX_READERS);
        drop(last);
        release_phantoms(&lock, 1);
        assert!(lock.try_write().is_some());
    }

    /// Regression: on a lock without a limit of its own, a reader queued behind an upgrade
    /// that gave up while the count was at `MAX_READERS` was never let in, though reads were
    /// released and the room came back.
    #[test]
    fn readers_left_queued_by_an_upgrade_that_gave_up_at_the_limit_get_the_room() {
        use core::future::Future;
        use core::sync::atomic::{AtomicUsize, Ordering};
        use core::task::{Context, Poll};
        use std::task::{Wake, Waker};

        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let woken = || count.0.load(Ordering::Relaxed);
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let lock = near_the_limit(1);
        let last = lock.try_read().unwrap();
        let mut upgrade = alloc::boxed::Box::pin(RwLockUpgradableReadGuard::upgrade(
            lock.try_upgradable_read().unwrap(),
        ));
        assert!(upgrade.as_mut().poll(&mut cx).is_pending());
        let mut read = alloc::boxed::Box::pin(lock.read());
        assert!(
            read.as_mut().poll(&mut cx).is_pending(),
            "behind the upgrade"
        );
        drop(upgrade); // no room for the queued reader yet
        assert!(!lock.is_write_locked());
        let before = woken();
        drop(last);
        assert_eq!(
            woken(),
            before + 1,
            "the release that made room woke the reader"
        );
        assert!(matches!(read.as_mut().poll(&mut cx), Poll::Ready(_)));
        drop(read);
        release_phantoms(&lock, 1);
        assert!(lock.try_write().is_some());
    }
}

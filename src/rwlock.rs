//! An async reader-writer lock: [`RwLock`], its guards and its futures.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::raw::rwlock::{RawRwLock, ReadWaiter, UpgradableWaiter, UpgradeWaiter, WriteWaiter};
use crate::raw::wait::{Async, Strategy, Wait};
use crate::sync::const_fn;

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
/// - Once a writer is next in line (or an upgradable reader starts to upgrade), new readers
///   queue behind it, `try_read` included. The writer waits only for the readers already inside.
/// - When a writer releases the lock, every reader that queued behind it is let in, before
///   the next writer: that writer waits until they have entered (each as soon as it runs) and
///   then for them to leave.
///
/// So under a steady stream of readers a writer waits for one batch of readers, and under a
/// steady stream of writers a reader waits for at most the writer in front of it. Writers and
/// upgradable readers queue among themselves like [`Mutex`](crate::Mutex) lockers (barging
/// until a woken waiter loses the race, then first-in first-out).
///
/// # Panics and poisoning
///
/// The lock is not poisoned when a guard is dropped during a panic: the lock is released and
/// the next holder sees the value as the panicking code left it.
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
    value: UnsafeCell<T>,
}

// SAFETY: moving the lock moves `T`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: a shared lock hands `&T` to readers on several threads at once (needs `T: Sync`) and
// `&mut T` to a writer on any thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

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
        pub const fn new(value: T) -> RwLock<T> {
            RwLock { raw: RawRwLock::new(), value: UnsafeCell::new(value) }
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
    /// Takes a read lock, waiting while a writer holds or is waiting for the lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the returned future before it completes leaves the lock as if
    /// `read` had never been called: it holds no read lock, and it leaves the queue of readers (if it had already been let in, the read lock it was given is released at once).
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
    pub fn read(&self) -> Read<'_, T> {
        Read {
            lock: Some(self),
            waiter: ReadWaiter::new(),
        }
    }

    /// Takes a read lock if that is possible right now.
    ///
    /// Fails while a writer holds the lock or is waiting for it (see [Fairness](RwLock#fairness)).
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
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        if self.raw.try_read() {
            // SAFETY: we just took a read lock.
            Some(unsafe { RwLockReadGuard::new(self) })
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
    #[doc(alias = "blocking_read")]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        crate::raw::wait::block_on(self.read(), None).expect("a wait without deadline completes")
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
    #[cfg(feature = "std")]
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
    pub fn read_owned(self: &Arc<Self>) -> ReadOwned<T> {
        ReadOwned {
            lock: Some(self.clone()),
            waiter: ReadWaiter::new(),
        }
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
    pub fn try_read_owned(self: &Arc<Self>) -> Option<OwnedRwLockReadGuard<T>> {
        if self.raw.try_read() {
            // SAFETY: we just took a read lock.
            Some(unsafe { OwnedRwLockReadGuard::new(self.clone()) })
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
    pub fn write(&self) -> Write<'_, T> {
        Write {
            lock: Some(self),
            waiter: WriteWaiter::new(),
        }
    }

    /// Takes the write lock if that is possible right now.
    ///
    /// Fails while any other guard exists, or while the lock is handing itself to waiters in order.
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
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if self.raw.try_write() {
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
    /// let mut guard = thread::spawn(move || *lock2.write_blocking() + 1).join().unwrap();
    /// assert_eq!(guard, 2);
    /// assert_eq!(*lock.write_blocking(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_write")]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        crate::raw::wait::block_on(self.write(), None).expect("a wait without deadline completes")
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
    #[cfg(feature = "std")]
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
    pub fn write_owned(self: &Arc<Self>) -> WriteOwned<T> {
        WriteOwned {
            lock: Some(self.clone()),
            waiter: WriteWaiter::new(),
        }
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
    pub fn try_write_owned(self: &Arc<Self>) -> Option<OwnedRwLockWriteGuard<T>> {
        if self.raw.try_write() {
            // SAFETY: we just took the write lock.
            Some(unsafe { OwnedRwLockWriteGuard::new(self.clone()) })
        } else {
            None
        }
    }

    /// Takes the upgradable read lock, waiting while a writer or another upgradable reader holds the lock.
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
        UpgradableRead {
            lock: Some(self),
            waiter: UpgradableWaiter::new(),
        }
    }

    /// Takes the upgradable read lock if that is possible right now.
    ///
    /// Fails while a writer or another upgradable reader exists.
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
    #[doc(alias = "blocking_upgradable_read")]
    pub fn upgradable_read_blocking(&self) -> RwLockUpgradableReadGuard<'_, T> {
        crate::raw::wait::block_on(self.upgradable_read(), None)
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
    pub fn upgradable_read_owned(self: &Arc<Self>) -> UpgradableReadOwned<T> {
        UpgradableReadOwned {
            lock: Some(self.clone()),
            waiter: UpgradableWaiter::new(),
        }
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

    /// Returns whether a writer holds the lock or is waiting for the readers to leave (a hint:
    /// it may change at once).
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

    /// Returns how many read guards exist (a hint; the upgradable guard is not counted).
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
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
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

/// The future returned by [`RwLock::read`]; resolves to a [`RwLockReadGuard`].
///
/// # Examples
///
/// ```
/// use unisync::{futures::Read, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = RwLock::new(0);
/// let fut: Read<'_, i32> = lock.read();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
#[repr(C)]
pub struct Read<'a, T: ?Sized> {
    // Two zero words, then the reference (see `Lock`).
    waiter: ReadWaiter,
    lock: Option<&'a RwLock<T>>,
}

impl<'a, T: ?Sized> Wait for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self.lock.expect("`Read` polled after completion");
        match self.waiter.poll_read(&lock.raw, strategy) {
            Poll::Ready(()) => {
                self.lock = None;
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { RwLockReadGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<'a, T: ?Sized> Future for Read<'a, T> {
    type Output = RwLockReadGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for Read<'_, T> {
    fn drop(&mut self) {
        if let Some(lock) = self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for Read<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Read").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::read_owned`]; resolves to an [`OwnedRwLockReadGuard`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::{futures::ReadOwned, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = Arc::new(RwLock::new(0));
/// let fut: ReadOwned<i32> = lock.read_owned();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct ReadOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiter: ReadWaiter,
}

impl<T: ?Sized> Wait for ReadOwned<T> {
    type Output = OwnedRwLockReadGuard<T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self
            .lock
            .as_ref()
            .expect("`ReadOwned` polled after completion");
        match self.waiter.poll_read(&lock.raw, strategy) {
            Poll::Ready(()) => {
                let lock = self.lock.take().expect("checked above");
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { OwnedRwLockReadGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized> Future for ReadOwned<T> {
    type Output = OwnedRwLockReadGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for ReadOwned<T> {
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for ReadOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadOwned").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::write`]; resolves to a [`RwLockWriteGuard`].
///
/// # Examples
///
/// ```
/// use unisync::{futures::Write, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = RwLock::new(0);
/// let fut: Write<'_, i32> = lock.write();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct Write<'a, T: ?Sized> {
    lock: Option<&'a RwLock<T>>,
    waiter: WriteWaiter,
}

impl<'a, T: ?Sized> Wait for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self.lock.expect("`Write` polled after completion");
        match self.waiter.poll_write(&lock.raw, strategy) {
            Poll::Ready(()) => {
                self.lock = None;
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { RwLockWriteGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<'a, T: ?Sized> Future for Write<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for Write<'_, T> {
    fn drop(&mut self) {
        if let Some(lock) = self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for Write<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::write_owned`]; resolves to an [`OwnedRwLockWriteGuard`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::{futures::WriteOwned, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = Arc::new(RwLock::new(0));
/// let fut: WriteOwned<i32> = lock.write_owned();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct WriteOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiter: WriteWaiter,
}

impl<T: ?Sized> Wait for WriteOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self
            .lock
            .as_ref()
            .expect("`WriteOwned` polled after completion");
        match self.waiter.poll_write(&lock.raw, strategy) {
            Poll::Ready(()) => {
                let lock = self.lock.take().expect("checked above");
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { OwnedRwLockWriteGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized> Future for WriteOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for WriteOwned<T> {
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for WriteOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteOwned").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::upgradable_read`]; resolves to a [`RwLockUpgradableReadGuard`].
///
/// # Examples
///
/// ```
/// use unisync::{futures::UpgradableRead, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = RwLock::new(0);
/// let fut: UpgradableRead<'_, i32> = lock.upgradable_read();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
#[repr(C)]
pub struct UpgradableRead<'a, T: ?Sized> {
    // Two zero words, then the reference (see `Lock`).
    waiter: UpgradableWaiter,
    lock: Option<&'a RwLock<T>>,
}

impl<'a, T: ?Sized> Wait for UpgradableRead<'a, T> {
    type Output = RwLockUpgradableReadGuard<'a, T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self.lock.expect("`UpgradableRead` polled after completion");
        match self.waiter.poll_upgradable(&lock.raw, strategy) {
            Poll::Ready(()) => {
                self.lock = None;
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { RwLockUpgradableReadGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<'a, T: ?Sized> Future for UpgradableRead<'a, T> {
    type Output = RwLockUpgradableReadGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for UpgradableRead<'_, T> {
    fn drop(&mut self) {
        if let Some(lock) = self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for UpgradableRead<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradableRead").finish_non_exhaustive()
    }
}

/// The future returned by [`RwLock::upgradable_read_owned`]; resolves to an [`OwnedRwLockUpgradableReadGuard`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::{futures::UpgradableReadOwned, RwLock};
///
/// # futures::executor::block_on(async {
/// let lock = Arc::new(RwLock::new(0));
/// let fut: UpgradableReadOwned<i32> = lock.upgradable_read_owned();
/// assert_eq!(*fut.await, 0);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct UpgradableReadOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiter: UpgradableWaiter,
}

impl<T: ?Sized> Wait for UpgradableReadOwned<T> {
    type Output = OwnedRwLockUpgradableReadGuard<T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self
            .lock
            .as_ref()
            .expect("`UpgradableReadOwned` polled after completion");
        match self.waiter.poll_upgradable(&lock.raw, strategy) {
            Poll::Ready(()) => {
                let lock = self.lock.take().expect("checked above");
                // SAFETY: the wait completed, so we hold the lock.
                Poll::Ready(unsafe { OwnedRwLockUpgradableReadGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized> Future for UpgradableReadOwned<T> {
    type Output = OwnedRwLockUpgradableReadGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for UpgradableReadOwned<T> {
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            self.waiter.cancel(&lock.raw);
        }
    }
}

impl<T: ?Sized> fmt::Debug for UpgradableReadOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradableReadOwned")
            .finish_non_exhaustive()
    }
}

/// The future returned by [`RwLockUpgradableReadGuard::upgrade`]; resolves to an [`RwLockWriteGuard`].
///
/// It owns the upgradable lock until it completes: dropping it unfinished releases that lock.
///
/// # Examples
///
/// ```
/// use unisync::{futures::Upgrade, RwLock, RwLockUpgradableReadGuard};
///
/// # futures::executor::block_on(async {
/// let lock = RwLock::new(1);
/// let fut: Upgrade<'_, i32> = RwLockUpgradableReadGuard::upgrade(lock.upgradable_read().await);
/// assert_eq!(*fut.await, 1);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct Upgrade<'a, T: ?Sized> {
    lock: Option<&'a RwLock<T>>,
    waiter: UpgradeWaiter,
}

impl<'a, T: ?Sized> Wait for Upgrade<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self.lock.expect("`Upgrade` polled after completion");
        match self.waiter.poll_upgrade(&lock.raw, strategy) {
            Poll::Ready(()) => {
                self.lock = None;
                // SAFETY: the upgrade completed, so we hold the write lock.
                Poll::Ready(unsafe { RwLockWriteGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<'a, T: ?Sized> Future for Upgrade<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<'a, T: ?Sized> Drop for Upgrade<'a, T> {
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            // SAFETY: an unfinished upgrade owns the upgradable lock it was made from.
            unsafe { self.waiter.cancel(&lock.raw) };
        }
    }
}

impl<'a, T: ?Sized> fmt::Debug for Upgrade<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade").finish_non_exhaustive()
    }
}

/// The future returned by [`OwnedRwLockUpgradableReadGuard::upgrade`]; resolves to an [`OwnedRwLockWriteGuard`].
///
/// It owns the upgradable lock until it completes: dropping it unfinished releases that lock.
///
/// # Examples
///
/// ```
/// use unisync::{futures::UpgradeOwned, RwLock, OwnedRwLockUpgradableReadGuard};
///
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(RwLock::new(1));
/// let fut: UpgradeOwned<i32> = OwnedRwLockUpgradableReadGuard::upgrade(lock.upgradable_read_owned().await);
/// assert_eq!(*fut.await, 1);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited or polled"]
pub struct UpgradeOwned<T: ?Sized> {
    lock: Option<Arc<RwLock<T>>>,
    waiter: UpgradeWaiter,
}

impl<T: ?Sized> Wait for UpgradeOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let lock = self
            .lock
            .as_ref()
            .expect("`UpgradeOwned` polled after completion");
        match self.waiter.poll_upgrade(&lock.raw, strategy) {
            Poll::Ready(()) => {
                let lock = self.lock.take().expect("checked above");
                // SAFETY: the upgrade completed, so we hold the write lock.
                Poll::Ready(unsafe { OwnedRwLockWriteGuard::new(lock) })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: ?Sized> Future for UpgradeOwned<T> {
    type Output = OwnedRwLockWriteGuard<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl<T: ?Sized> Drop for UpgradeOwned<T> {
    fn drop(&mut self) {
        if let Some(lock) = &self.lock {
            // SAFETY: an unfinished upgrade owns the upgradable lock it was made from.
            unsafe { self.waiter.cancel(&lock.raw) };
        }
    }
}

impl<T: ?Sized> fmt::Debug for UpgradeOwned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeOwned").finish_non_exhaustive()
    }
}

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`RwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let guard = lock.read().await;
/// assert_eq!(*guard, [1]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    /// Opts out of the automatic `Send`, which would ask for more than `T: Sync`.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a read guard is a shared borrow: sending it sends `&T`, which needs `T: Sync`; it
// never drops or mutably borrows `T`.
unsafe impl<'a, T: ?Sized + Sync> Send for RwLockReadGuard<'a, T> {}
// SAFETY: the guard only gives out `&T`, and releasing a read lock from another thread is
// fine; sending or sharing it shares `&T` between threads.
unsafe impl<'a, T: ?Sized + Sync> Sync for RwLockReadGuard<'a, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard {
            lock,
            _not_send: PhantomData,
        }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_read().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockReadGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockReadGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.read_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockReadGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases the write lock of the [`RwLock`] when dropped; it derefs to `&mut T`.
///
/// Guard helpers are associated functions (`RwLockWriteGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let mut guard = lock.write().await;
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: sharing the guard shares `&T`. (It is `Send` only when `T: Send + Sync`, because it
// can be downgraded to a read guard whose value other readers see.)
unsafe impl<'a, T: ?Sized + Sync> Sync for RwLockWriteGuard<'a, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockWriteGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> &'a RwLock<T> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_write().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockWriteGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockWriteGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.write_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockWriteGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized> DerefMut for RwLockWriteGuard<'a, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases the upgradable read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`RwLockUpgradableReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let guard = lock.upgradable_read().await;
/// assert_eq!(guard.len(), 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

// SAFETY: sharing the guard shares `&T`. (It is `Send` only when `T: Send + Sync`, because it
// can be upgraded to `&mut T`.)
unsafe impl<'a, T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'a, T> {}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockUpgradableReadGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> &'a RwLock<T> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockUpgradableReadGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockUpgradableReadGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.upgradable_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockUpgradableReadGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockUpgradableReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockUpgradableReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`OwnedRwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let guard = lock.read_owned().await;
/// assert_eq!(*guard, [1]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

// SAFETY: sharing the guard shares `&T`. (It is `Send` only when `T: Send + Sync`: it may drop
// the last `Arc`, and so `T`, on another thread.)
unsafe impl<T: ?Sized + Sync> Sync for OwnedRwLockReadGuard<T> {}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockReadGuard { lock }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_read_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockReadGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.read_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases the write lock of the [`RwLock`] when dropped; it derefs to `&mut T`.
///
/// Guard helpers are associated functions (`OwnedRwLockWriteGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let mut guard = lock.write_owned().await;
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for OwnedRwLockWriteGuard<T> {}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockWriteGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> Arc<RwLock<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_write_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockWriteGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.write_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases the upgradable read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`OwnedRwLockUpgradableReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let guard = lock.upgradable_read_owned().await;
/// assert_eq!(guard.len(), 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockUpgradableReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for OwnedRwLockUpgradableReadGuard<T> {}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockUpgradableReadGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> Arc<RwLock<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockUpgradableReadGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockUpgradableReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.upgradable_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockUpgradableReadGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockUpgradableReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockUpgradableReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
    ///
    /// New readers queue as soon as the returned future is first polled, so a stream of
    /// readers cannot hold the upgrade off; no other writer can get in between, since the
    /// upgradable lock excludes writers.
    ///
    /// # Cancel safety
    ///
    /// The returned future owns the upgradable lock. Dropping it before it completes releases
    /// that lock (the guard is gone), lets in the readers that queued behind the upgrade, and
    /// leaves nothing else behind. If you need to keep reading after giving up, use
    /// [`try_upgrade`](Self::try_upgrade) in a loop or take a new guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read().await;
    /// if *guard == 1 {
    ///     let mut writer = RwLockUpgradableReadGuard::upgrade(guard).await;
    ///     *writer = 2;
    /// }
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    pub fn upgrade(guard: Self) -> Upgrade<'a, T> {
        Upgrade {
            lock: Some(Self::into_lock(guard)),
            waiter: UpgradeWaiter::new(),
        }
    }

    /// Turns the guard into the write lock if no reader is inside; otherwise gives it back.
    ///
    /// # Errors
    ///
    /// Returns the guard unchanged while some read guard exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = RwLockUpgradableReadGuard::try_upgrade(guard).unwrap_err();
    /// drop(reader);
    /// let mut writer = RwLockUpgradableReadGuard::try_upgrade(guard).unwrap();
    /// *writer = 2;
    /// ```
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            // SAFETY: the upgradable lock became the write lock.
            Ok(unsafe { RwLockWriteGuard::new(Self::into_lock(guard)) })
        } else {
            Err(guard)
        }
    }

    /// Turns the guard into the write lock, parking the current thread until the readers
    /// inside have left.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read_blocking();
    /// *RwLockUpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_upgrade")]
    pub fn upgrade_blocking(guard: Self) -> RwLockWriteGuard<'a, T> {
        crate::raw::wait::block_on(Self::upgrade(guard), None)
            .expect("a wait without deadline completes")
    }

    /// Turns the guard into the write lock, parking the current thread for at most `timeout`
    /// while the readers inside leave.
    ///
    /// # Errors
    ///
    /// If the readers did not leave in time, gives the upgradable guard back: the caller keeps
    /// its upgradable lock, and readers that queued behind the attempted upgrade are let in.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read_blocking();
    /// let reader = lock.read_blocking();
    /// let guard = RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_millis(5))
    ///     .unwrap_err(); // a reader is inside: still upgradable
    /// drop(reader);
    /// let mut write = RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_secs(1))
    ///     .unwrap();
    /// *write += 1;
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "try_upgrade_for")]
    pub fn upgrade_blocking_timeout(
        guard: Self,
        timeout: core::time::Duration,
    ) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let mut upgrade = Self::upgrade(guard);
        match crate::raw::wait::block_on_mut(&mut upgrade, crate::raw::wait::deadline(timeout)) {
            Some(write) => Ok(write),
            None => {
                let lock = upgrade
                    .lock
                    .take()
                    .expect("an unfinished upgrade owns its lock");
                upgrade.waiter.withdraw(&lock.raw);
                // SAFETY: withdrawing the upgrade kept the upgradable lock; it passes to the
                // new guard.
                Err(unsafe { RwLockUpgradableReadGuard::new(lock) })
            }
        }
    }

    /// Turns the guard into a read guard, letting writers and upgradable readers in again.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// let reader = RwLockUpgradableReadGuard::downgrade(guard);
    /// assert!(lock.try_upgradable_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the upgradable lock and give it up for a read lock.
        unsafe {
            lock.raw.downgrade_upgradable();
            RwLockReadGuard::new(lock)
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
    ///
    /// Readers that queued behind this writer get in at the same time.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut writer = lock.try_write().unwrap();
    /// *writer = 2;
    /// let reader = RwLockWriteGuard::downgrade(writer);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// assert_eq!(*reader, 2);
    /// ```
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the write lock and give it up for a read lock.
        unsafe {
            lock.raw.downgrade_write();
            RwLockReadGuard::new(lock)
        }
    }

    /// Turns the write lock into the upgradable read lock, letting readers in but no writer.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let writer = lock.try_write().unwrap();
    /// let guard = RwLockWriteGuard::downgrade_to_upgradable(writer);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// assert_eq!(*guard, 1);
    /// ```
    pub fn downgrade_to_upgradable(guard: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the write lock and give it up for the upgradable lock.
        unsafe {
            lock.raw.downgrade_write_to_upgradable();
            RwLockUpgradableReadGuard::new(lock)
        }
    }
}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
    ///
    /// # Cancel safety
    ///
    /// As for [`RwLockUpgradableReadGuard::upgrade`]: the future owns the upgradable lock, and
    /// dropping it unfinished releases that lock and leaves nothing else behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.upgradable_read_owned().await;
    /// *OwnedRwLockUpgradableReadGuard::upgrade(guard).await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    pub fn upgrade(guard: Self) -> UpgradeOwned<T> {
        UpgradeOwned {
            lock: Some(Self::into_lock(guard)),
            waiter: UpgradeWaiter::new(),
        }
    }

    /// Turns the guard into the write lock, parking the current thread until the readers
    /// inside have left.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// *OwnedRwLockUpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[doc(alias = "blocking_upgrade")]
    pub fn upgrade_blocking(guard: Self) -> OwnedRwLockWriteGuard<T> {
        crate::raw::wait::block_on(Self::upgrade(guard), None)
            .expect("a wait without deadline completes")
    }

    /// Turns the guard into the write lock, parking the current thread for at most `timeout`
    /// while the readers inside leave.
    ///
    /// # Errors
    ///
    /// If the readers did not leave in time, gives the upgradable guard back.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let write =
    ///     OwnedRwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_secs(1));
    /// assert_eq!(*write.unwrap(), 1);
    /// ```
    #[cfg(feature = "std")]
    pub fn upgrade_blocking_timeout(
        guard: Self,
        timeout: core::time::Duration,
    ) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        let mut upgrade = Self::upgrade(guard);
        match crate::raw::wait::block_on_mut(&mut upgrade, crate::raw::wait::deadline(timeout)) {
            Some(write) => Ok(write),
            None => {
                let lock = upgrade
                    .lock
                    .take()
                    .expect("an unfinished upgrade owns its lock");
                upgrade.waiter.withdraw(&lock.raw);
                // SAFETY: withdrawing the upgrade kept the upgradable lock; it passes to the
                // new guard.
                Err(unsafe { OwnedRwLockUpgradableReadGuard::new(lock) })
            }
        }
    }

    /// Turns the guard into the write lock if no reader is inside; otherwise gives it back.
    ///
    /// # Errors
    ///
    /// Returns the guard unchanged while some read guard exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = OwnedRwLockUpgradableReadGuard::try_upgrade(guard).unwrap_err();
    /// drop(reader);
    /// assert!(OwnedRwLockUpgradableReadGuard::try_upgrade(guard).is_ok());
    /// ```
    pub fn try_upgrade(guard: Self) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            // SAFETY: the upgradable lock became the write lock.
            Ok(unsafe { OwnedRwLockWriteGuard::new(Self::into_lock(guard)) })
        } else {
            Err(guard)
        }
    }

    /// Turns the guard into a read guard, letting writers and upgradable readers in again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = OwnedRwLockUpgradableReadGuard::downgrade(guard);
    /// assert!(lock.try_upgradable_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the upgradable lock and give it up for a read lock.
        unsafe {
            lock.raw.downgrade_upgradable();
            OwnedRwLockReadGuard::new(lock)
        }
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// let reader = OwnedRwLockWriteGuard::downgrade(writer);
    /// assert!(lock.try_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the write lock and give it up for a read lock.
        unsafe {
            lock.raw.downgrade_write();
            OwnedRwLockReadGuard::new(lock)
        }
    }

    /// Turns the write lock into the upgradable read lock, letting readers in but no writer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// let guard = OwnedRwLockWriteGuard::downgrade_to_upgradable(writer);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// assert_eq!(*guard, 1);
    /// ```
    pub fn downgrade_to_upgradable(guard: Self) -> OwnedRwLockUpgradableReadGuard<T> {
        let lock = Self::into_lock(guard);
        // SAFETY: we held the write lock and give it up for the upgradable lock.
        unsafe {
            lock.raw.downgrade_write_to_upgradable();
            OwnedRwLockUpgradableReadGuard::new(lock)
        }
    }
}

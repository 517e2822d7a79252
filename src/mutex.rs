//! An async mutex: [`Mutex`], its guards and its futures.

use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::diag;
use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::mutex::{LockWaiter, RawMutex, TaskSpin};
use crate::raw::queue::Node;
use crate::raw::wait::{Finally, Strategy};
use crate::sync::const_fn;

/// An async mutual-exclusion lock that works on any executor and from plain threads.
///
/// Tasks lock it with [`lock`](Mutex::lock)`.await`; threads with
/// [`lock_blocking`](Mutex::lock_blocking). Both wait on the same queue, so a task and a thread
/// can share one mutex. The guard unlocks on drop and can be held across `.await` points.
///
/// # Fairness
///
/// Waiters queue in arrival order. The lock is *barging* while no waiter has been overtaken:
/// an unlock frees the lock and wakes the oldest waiter, but a task that is already running
/// may take the lock first, which keeps contended throughput high. Until the woken waiter
/// has run, unlocks wake nobody else, so a barger that locks and unlocks meanwhile cannot
/// wake a later waiter that might run first. A woken waiter that loses the lock this way
/// goes back to the *front* of the queue, and the next unlock hands the lock straight to it,
/// so nobody (`try_lock` included) can take it in between. So a waiter loses the lock at most
/// once after it reaches the front of the queue (to whoever takes it before the woken waiter
/// runs, one locker or several in turn), and nobody who queued after it gets the lock before
/// it.
///
/// A task that finds the lock taken spins briefly before it queues, trying again whenever
/// the lock looks free: for up to 8 µs as long as such spins have been taking the lock on its
/// thread (at least one in two), and otherwise for a fraction of a microsecond, only while
/// nobody is queued. A holder on another thread usually lets go within that time, and parking
/// and waking a task costs about as much or more. A spinning task is a barger, so the rules
/// above hold for it: it cannot take a lock that is being handed to an overtaken waiter. On a
/// single-threaded executor, or behind a lock held across an `.await`, spins fail, so its
/// tasks soon queue at once and the spin costs only the first contender. Without the `std`
/// feature a task spins only the short way, and only while nobody is queued. A thread in
/// [`lock_blocking`](Mutex::lock_blocking) tries again up to 16 times, yielding its time
/// slice in between, before it queues, and is a barger meanwhile too.
///
/// # Panics and poisoning
///
/// The mutex is not poisoned when a guard is dropped during a panic: the lock is released and
/// the next locker sees the value as the panicking code left it. If your invariants can be
/// broken half-way, restore them before anything can panic, or record the breakage in `T`.
/// For the same reason `Mutex<T>` is not `RefUnwindSafe` (as with tokio and `parking_lot`):
/// a closure given to `catch_unwind` that uses a `&Mutex` needs `AssertUnwindSafe`, which
/// says that a half-updated value is fine to see. It is `UnwindSafe` when `T` is.
///
/// # Leaks
///
/// A guard that is leaked (`mem::forget`) keeps the mutex locked for ever, as with `std`. A
/// lock future leaked while it is queued keeps its place, and its turn still comes: handed the
/// lock, it keeps the mutex locked for ever; woken to try again, it never does, and since an
/// unlock wakes no one while a woken waiter is on its way, no queued waiter is woken after
/// that (a locker that finds the mutex free still gets in). Drop futures you no longer need
/// (every future here is cancel-safe).
///
/// # When to use `std::sync::Mutex` instead
///
/// If the lock is never held across an `.await` and critical sections are short, a blocking
/// mutex (`std::sync::Mutex`, `parking_lot::Mutex`) is cheaper. Use this one when a guard must
/// live across `.await`, or when tasks and threads must wait on the same lock.
///
/// # Size
///
/// `Mutex<()>` is 16 bytes on 64-bit targets (64 with the `diagnostics` feature, which adds
/// the holder's record): a state word and a pointer to its wait queue. The
/// queue is allocated the first time a waiter has to park, never on the uncontended path;
/// waiting itself allocates nothing (the waiter's place in the queue is inside its future).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::Mutex;
///
/// # futures::executor::block_on(async {
/// let counter = Arc::new(Mutex::new(0));
/// let mut tasks = Vec::new();
/// for _ in 0..4 {
///     let counter = counter.clone();
///     tasks.push(async move { *counter.lock().await += 1 });
/// }
/// futures::future::join_all(tasks).await;
/// assert_eq!(*counter.lock().await, 4);
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    // Zero-sized without the `diagnostics` feature.
    holder: diag::HolderCell,
    value: UnsafeCell<T>,
}

// SAFETY: the mutex hands out `&mut T` to one holder at a time, possibly on another thread, so it
// can be shared when `T` can be sent; moving the mutex moves `T`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; `&Mutex<T>` never gives out `&T` to two threads without exclusion.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    const_fn! {
        /// Creates an unlocked mutex holding `value`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::Mutex;
        ///
        /// static COUNT: Mutex<u32> = Mutex::new(0);
        /// assert_eq!(*COUNT.try_lock().unwrap(), 0);
        /// ```
        #[doc(alias = "const_new")]
        pub const fn new(value: T) -> Mutex<T> {
            Mutex {
                raw: RawMutex::new(),
                holder: diag::HolderCell::new(),
                value: UnsafeCell::new(value),
            }
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::Mutex::new(5);
    /// assert_eq!(mutex.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting until it is free.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the returned future before it completes leaves the mutex as if
    /// `lock` had never been called: it is not locked on the caller's behalf, and if the future
    /// had been woken to take the lock, that wake-up goes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::Mutex;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Mutex::new(1);
    /// let mut guard = mutex.lock().await;
    /// *guard += 1;
    /// drop(guard);
    /// assert_eq!(*mutex.lock().await, 2);
    /// # });
    /// ```
    #[inline]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            shell: Shell::new(self, LockKind::new(diag::caller())),
        }
    }

    /// Locks the mutex if it is free right now.
    ///
    /// Fails while another guard exists, and also while the mutex is handing the lock to a
    /// waiter that was overtaken (see [Fairness](Mutex#fairness)).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::Mutex::new(1);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    #[inline]
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.raw.try_lock_looking() {
            self.holder.record(diag::caller(), false);
            Some(MutexGuard { mutex: self })
        } else {
            None
        }
    }

    /// Locks the mutex, parking the current thread until it is free.
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
    /// use unisync::Mutex;
    ///
    /// let mutex = Arc::new(Mutex::new(0));
    /// let handles: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let mutex = mutex.clone();
    ///         thread::spawn(move || *mutex.lock_blocking() += 1)
    ///     })
    ///     .collect();
    /// for h in handles {
    ///     h.join().unwrap();
    /// }
    /// assert_eq!(*mutex.lock_blocking(), 4);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_lock")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        crate::raw::wait::block_on(self.lock(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Locks the mutex, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if the lock could not be taken in time; the mutex is then as if this call
    /// had never been made.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::Mutex;
    ///
    /// let mutex = Mutex::new(());
    /// let guard = mutex.lock_blocking();
    /// assert!(mutex.lock_blocking_timeout(Duration::from_millis(10)).is_none());
    /// drop(guard);
    /// assert!(mutex.lock_blocking_timeout(Duration::from_millis(10)).is_some());
    /// ```
    #[doc(alias = "try_lock_for")]
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn lock_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<MutexGuard<'_, T>> {
        crate::raw::wait::block_on(self.lock(), crate::raw::wait::deadline(timeout))
    }

    /// Locks the mutex behind an `Arc`, yielding a guard that owns a reference to it.
    ///
    /// The guard is `'static` when `T` is, so it can move into a spawned task.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::Mutex;
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Arc::new(Mutex::new(String::new()));
    /// let mut guard = mutex.lock_owned().await;
    /// guard.push_str("hello");
    /// drop(guard);
    /// assert_eq!(*mutex.lock().await, "hello");
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "lock_arc")]
    pub fn lock_owned(self: &Arc<Self>) -> LockOwned<T> {
        LockOwned {
            shell: Shell::new(self.clone(), LockKind::new(diag::caller())),
        }
    }

    /// Locks the mutex behind an `Arc`, parking the current thread until it is free.
    ///
    /// The blocking twin of [`lock_owned`](Mutex::lock_owned): the guard owns a reference to
    /// the mutex, so it can move to another thread.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker and may deadlock it if the holder needs that worker to run.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::Mutex;
    ///
    /// let mutex = Arc::new(Mutex::new(1));
    /// let mut guard = mutex.lock_owned_blocking();
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*mutex.lock_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_lock_owned")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "lock_arc_blocking")]
    pub fn lock_owned_blocking(self: &Arc<Self>) -> OwnedMutexGuard<T> {
        crate::raw::wait::block_on(self.lock_owned(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Locks the mutex behind an `Arc`, parking the current thread for at most `timeout`.
    ///
    /// Returns `None` if the lock could not be taken in time; the mutex is then as if this call
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
    /// use unisync::Mutex;
    ///
    /// let mutex = Arc::new(Mutex::new(()));
    /// let guard = mutex.lock_owned_blocking();
    /// assert!(mutex.lock_owned_blocking_timeout(Duration::from_millis(5)).is_none());
    /// drop(guard);
    /// assert!(mutex.lock_owned_blocking_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn lock_owned_blocking_timeout(
        self: &Arc<Self>,
        timeout: core::time::Duration,
    ) -> Option<OwnedMutexGuard<T>> {
        crate::raw::wait::block_on(self.lock_owned(), crate::raw::wait::deadline(timeout))
    }

    /// Locks the mutex behind an `Arc` if it is free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::Mutex;
    ///
    /// let mutex = Arc::new(Mutex::new(1));
    /// let guard = mutex.try_lock_owned().unwrap();
    /// assert!(mutex.try_lock_owned().is_none());
    /// drop(guard);
    /// ```
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[doc(alias = "try_lock_arc")]
    pub fn try_lock_owned(self: &Arc<Self>) -> Option<OwnedMutexGuard<T>> {
        if self.raw.try_lock_looking() {
            self.holder.record(diag::caller(), false);
            Some(OwnedMutexGuard {
                mutex: self.clone(),
            })
        } else {
            None
        }
    }

    /// Returns whether the mutex is locked right now (a hint: it may change at once).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::Mutex::new(());
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    #[doc(alias = "locked")]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Returns who holds the mutex: where it was locked, since when, and by which thread.
    ///
    /// `None` while the mutex is free. The record is written by every way of locking
    /// (`lock`, `lock_owned`, `try_lock`, the `_blocking` forms), at the caller's site, and
    /// kept by mapped guards; `Debug` prints it too. A copy: the mutex may change hands right
    /// after. See [`diagnostics`](crate::diagnostics) for what else is recorded, and the
    /// limits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::Mutex;
    ///
    /// let mutex = Mutex::new(());
    /// assert!(mutex.holder().is_none());
    /// let guard = mutex.lock_blocking();
    /// let holder = mutex.holder().unwrap();
    /// assert_eq!(holder.site().line(), line!() - 2);
    /// std::thread::sleep(Duration::from_millis(2));
    /// assert!(holder.held_for() >= Duration::from_millis(2));
    /// assert!(format!("{mutex:?}").contains("holder"));
    /// drop(guard);
    /// assert!(mutex.holder().is_none());
    /// ```
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    pub fn holder(&self) -> Option<crate::diagnostics::Holder> {
        self.holder.get()
    }

    /// Returns a mutable reference to the value; no locking is needed with `&mut self`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = unisync::Mutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Makes a guard for a lock the caller already holds: the one unchecked way in.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock and hand its ownership to the new guard.
    pub(crate) unsafe fn make_guard_unchecked(&self) -> MutexGuard<'_, T> {
        MutexGuard { mutex: self }
    }

    pub(crate) fn raw(&self) -> &RawMutex {
        &self.raw
    }

    /// The mutex as a diagnosed wait sees it (a zero-sized no-op without `diagnostics`).
    #[inline]
    pub(crate) fn diag_target(&self) -> diag::Target<'_> {
        diag::Target::new(&self.holder, self, diag::LockKind::Mutex)
    }

    /// Forgets the holder's record: for a holder about to release the lock through
    /// [`raw`](Self::raw) rather than by dropping a guard (a no-op without `diagnostics`).
    #[inline]
    pub(crate) fn clear_holder(&self) {
        self.holder.clear();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        #[cfg(feature = "diagnostics")]
        let holder = self.holder();
        // Not `try_lock`, which would record this line as the holder's site.
        if self.raw.try_lock_looking() {
            // SAFETY: we just took the lock; the guard releases it.
            let guard = unsafe { self.make_guard_unchecked() };
            d.field("data", &&*guard);
        } else {
            d.field("data", &format_args!("<locked>"));
        }
        #[cfg(feature = "diagnostics")]
        if let Some(holder) = holder {
            d.field("holder", &holder);
        }
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

/// A reference to a [`Mutex`] that a lock future holds: borrowed or an `Arc`.
pub(crate) trait MutexRef {
    type Value: ?Sized;
    type Guard;

    fn mutex(&self) -> &Mutex<Self::Value>;

    /// Makes the guard for a lock the caller holds.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock and hand its ownership to the guard.
    unsafe fn into_guard(self) -> Self::Guard;
}

impl<'a, T: ?Sized> MutexRef for &'a Mutex<T> {
    type Value = T;
    type Guard = MutexGuard<'a, T>;

    #[inline]
    fn mutex(&self) -> &Mutex<T> {
        self
    }

    #[inline]
    unsafe fn into_guard(self) -> MutexGuard<'a, T> {
        MutexGuard { mutex: self }
    }
}

impl<T: ?Sized> MutexRef for Arc<Mutex<T>> {
    type Value = T;
    type Guard = OwnedMutexGuard<T>;

    #[inline]
    fn mutex(&self) -> &Mutex<T> {
        self
    }

    #[inline]
    unsafe fn into_guard(self) -> OwnedMutexGuard<T> {
        OwnedMutexGuard { mutex: self }
    }
}

/// The lock wait, shared by [`Lock`] and [`LockOwned`].
pub(crate) struct LockKind<R> {
    waiter: LockWaiter,
    // Zero-sized without the `diagnostics` feature.
    diag: diag::WaitRecord,
    _source: PhantomData<fn() -> R>,
}

impl<R> LockKind<R> {
    #[inline]
    fn new(site: diag::Site) -> Self {
        LockKind {
            waiter: LockWaiter::new(),
            diag: diag::WaitRecord::new(site),
            _source: PhantomData,
        }
    }
}

impl<R: MutexRef> WaitKind for LockKind<R> {
    type Source = R;
    type Ready = ();
    type Output = R::Guard;

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, source: &R, strategy: &mut S) -> Poll<()> {
        let mutex = source.mutex();
        let waiter = &mut self.waiter;
        diag::watch(&mut self.diag, mutex.diag_target(), strategy, |strategy| {
            waiter.poll_lock(node, &mutex.raw, strategy, TaskSpin::Eager)
        })
    }

    #[inline(always)]
    fn finish(&mut self, (): (), source: R) -> R::Guard {
        self.diag.record_holder(source.mutex().diag_target());
        // SAFETY: the wait completed, so we hold the lock; it passes to the guard.
        unsafe { source.into_guard() }
    }

    fn cancel(&mut self, node: Pin<&Node>, source: &R) {
        let diag = &mut self.diag;
        let _then = Finally::new(|| diag.cancel(source.mutex().diag_target()));
        self.waiter.cancel(node, &source.mutex().raw);
    }
}

pin_project! {
    /// The future returned by [`Mutex::lock`]; resolves to a [`MutexGuard`].
    ///
    /// The future holds the waiter's place in the mutex's queue, so it is `!Unpin`: `.await`
    /// pins it for you; to keep one in a struct or poll it by hand, pin it with
    /// [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use unisync::{futures::Lock, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Mutex::new(0);
    /// let lock: Lock<'_, i32> = mutex.lock();
    /// let mut lock = pin!(lock);
    /// assert_eq!(*lock.as_mut().await, 0);
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct Lock<'a, T: ?Sized> {
        #[pin]
        shell: Shell<LockKind<&'a Mutex<T>>>,
    }
}

wait_future!(Lock ['a, T: ?Sized] ['a, T] -> MutexGuard<'a, T>);

pin_project! {
    /// The future returned by [`Mutex::lock_owned`]; resolves to an [`OwnedMutexGuard`].
    ///
    /// `!Unpin`, like [`Lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::LockOwned, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let mutex = Arc::new(Mutex::new(0));
    /// let lock: LockOwned<i32> = mutex.lock_owned();
    /// let boxed = Box::pin(lock); // stored in a struct, say
    /// assert_eq!(*boxed.await, 0);
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct LockOwned<T: ?Sized> {
        #[pin]
        shell: Shell<LockKind<Arc<Mutex<T>>>>,
    }
}

wait_future!(LockOwned [T: ?Sized] [T] -> OwnedMutexGuard<T>);

/// A guard that releases the [`Mutex`] when dropped.
///
/// Guard helpers are associated functions (`MutexGuard::map(guard, ..)`), so they never shadow
/// methods of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let mutex = unisync::Mutex::new(vec![1]);
/// let mut guard = mutex.lock().await;
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: `&MutexGuard` gives out `&T` (needs `T: Sync`) and, through `source`, the
// `&Mutex<T>` itself, with which another thread could later lock the mutex and move or drop
// `T` there (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Returns the mutex this guard locks.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(0);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(std::ptr::eq(MutexGuard::source(&guard), &mutex));
    /// ```
    #[doc(alias = "mutex")]
    pub fn source(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }

    /// Narrows the guard to a part of the value; the lock stays held by the new guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((1, String::from("a")));
    /// let mut name = MutexGuard::map(mutex.try_lock().unwrap(), |v| &mut v.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(mutex.try_lock().unwrap().1, "ab");
    /// ```
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let mutex = guard.mutex;
        // SAFETY: `guard` holds the lock, so `&mut T` is ours; it stays ours until the mapped
        // guard unlocks, since `guard` is forgotten only after `f` returned.
        let value = NonNull::from(f(unsafe { &mut *mutex.value.get() }));
        core::mem::forget(guard);
        MappedMutexGuard {
            raw: &mutex.raw,
            holder: diag::HolderRef::new(&mutex.holder),
            value,
            _marker: PhantomData,
        }
    }

    /// Narrows the guard to a part of the value that `f` may or may not find; gives the guard
    /// back unchanged when `f` returns `None`.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Errors
    ///
    /// Returns the original guard when `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(vec![1, 2]);
    /// let guard = mutex.try_lock().unwrap();
    /// let guard = MutexGuard::try_map(guard, |v| v.get_mut(5)).unwrap_err();
    /// let mut second = MutexGuard::try_map(guard, |v| v.get_mut(1)).unwrap();
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(*mutex.try_lock().unwrap(), [1, 20]);
    /// ```
    pub fn try_map<U: ?Sized, F>(guard: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let mutex = guard.mutex;
        // SAFETY: as in `map`: `guard` holds the lock until it is forgotten below.
        let Some(value) = f(unsafe { &mut *mutex.value.get() }).map(NonNull::from) else {
            return Err(guard);
        };
        core::mem::forget(guard);
        Ok(MappedMutexGuard {
            raw: &mutex.raw,
            holder: diag::HolderRef::new(&mutex.holder),
            value,
            _marker: PhantomData,
        })
    }

    /// Splits the guard into the mutex it locks, leaving the mutex locked.
    pub(crate) fn into_locked(guard: Self) -> &'a Mutex<T> {
        let mutex = guard.mutex;
        core::mem::forget(guard);
        mutex
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.holder.clear();
        // SAFETY: a guard exists only while its lock is held.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no one else touches the value.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

/// A guard for a mutex behind an `Arc`; it keeps the mutex alive and is `'static` when `T` is.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// # futures::executor::block_on(async {
/// let mutex = Arc::new(unisync::Mutex::new(1));
/// let guard = mutex.lock_owned().await;
/// let handle = std::thread::spawn(move || *guard + 1);
/// assert_eq!(handle.join().unwrap(), 2);
/// # });
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: sharing the guard shares `&T` (needs `T: Sync`) and, through `source`, the
// `Arc<Mutex<T>>`, which another thread could clone and use to move `T` (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// Returns the mutex this guard locks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Mutex, OwnedMutexGuard};
    ///
    /// let mutex = Arc::new(Mutex::new(0));
    /// let guard = mutex.try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedMutexGuard::source(&guard), &mutex));
    /// ```
    #[doc(alias = "mutex")]
    pub fn source(guard: &Self) -> &Arc<Mutex<T>> {
        &guard.mutex
    }

    /// Narrows the guard to a part of the value; the mapped guard keeps the mutex alive and
    /// locked.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Mutex, OwnedMutexGuard};
    ///
    /// let mutex = Arc::new(Mutex::new((1, String::from("a"))));
    /// let mut name = OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |v| &mut v.1);
    /// name.push('b');
    /// drop(name);
    /// assert_eq!(mutex.try_lock().unwrap().1, "ab");
    /// ```
    pub fn map<U: ?Sized, F>(mut guard: Self, f: F) -> OwnedMappedMutexGuard<T, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let value = NonNull::from(f(&mut *guard));
        OwnedMappedMutexGuard {
            mutex: Self::into_locked(guard),
            value,
            _invariant: PhantomData,
        }
    }

    /// Narrows the guard to a part of the value that `f` may or may not find; gives the guard
    /// back unchanged when `f` returns `None`.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Errors
    ///
    /// Returns the original guard when `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Mutex, OwnedMutexGuard};
    ///
    /// let mutex = Arc::new(Mutex::new(Some(1)));
    /// let mut inner = OwnedMutexGuard::try_map(mutex.try_lock_owned().unwrap(), Option::as_mut)
    ///     .unwrap();
    /// *inner += 1;
    /// drop(inner);
    /// assert_eq!(*mutex.try_lock().unwrap(), Some(2));
    /// ```
    pub fn try_map<U: ?Sized, F>(mut guard: Self, f: F) -> Result<OwnedMappedMutexGuard<T, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let Some(value) = f(&mut *guard).map(NonNull::from) else {
            return Err(guard);
        };
        Ok(OwnedMappedMutexGuard {
            mutex: Self::into_locked(guard),
            value,
            _invariant: PhantomData,
        })
    }

    /// Splits the guard into the mutex it locks, leaving the mutex locked.
    pub(crate) fn into_locked(guard: Self) -> Arc<Mutex<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the `Arc` is moved out once.
        unsafe { core::ptr::read(&guard.mutex) }
    }

    /// Makes an owned guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock and hand its ownership to the new guard.
    pub(crate) unsafe fn from_locked(mutex: Arc<Mutex<T>>) -> Self {
        OwnedMutexGuard { mutex }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.holder.clear();
        // SAFETY: a guard exists only while its lock is held.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

/// A guard for part of a locked value, made by [`MutexGuard::map`].
///
/// # Examples
///
/// ```
/// use unisync::{MappedMutexGuard, Mutex, MutexGuard};
///
/// let mutex = Mutex::new([1, 2, 3]);
/// let mut first: MappedMutexGuard<'_, i32> =
///     MutexGuard::map(mutex.try_lock().unwrap(), |a| &mut a[0]);
/// *first = 10;
/// drop(first);
/// assert_eq!(*mutex.try_lock().unwrap(), [10, 2, 3]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    raw: &'a RawMutex,
    // Zero-sized without the `diagnostics` feature.
    holder: diag::HolderRef<'a>,
    value: NonNull<T>,
    _marker: PhantomData<&'a mut T>,
}

// SAFETY: the guard is a locked `&mut T`; sending it sends that exclusive access.
unsafe impl<T: ?Sized + Send> Send for MappedMutexGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MappedMutexGuard<'_, T> {}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// Narrows the guard further.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(((1, 2), 3));
    /// let inner = MutexGuard::map(mutex.try_lock().unwrap(), |v| &mut v.0);
    /// let second = MappedMutexGuard::map(inner, |v| &mut v.1);
    /// assert_eq!(*second, 2);
    /// ```
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (raw, holder) = (guard.raw, guard.holder);
        let mut value = guard.value;
        // SAFETY: `guard` holds the lock and is forgotten only after `f` returned, so the
        // borrow is exclusive and passes to the new guard.
        let value = NonNull::from(f(unsafe { value.as_mut() }));
        core::mem::forget(guard);
        MappedMutexGuard {
            raw,
            holder,
            value,
            _marker: PhantomData,
        }
    }

    /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
    /// unchanged when `f` returns `None`.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Errors
    ///
    /// Returns the original guard when `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{MappedMutexGuard, Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new((vec![1], 2));
    /// let list = MutexGuard::map(mutex.try_lock().unwrap(), |v| &mut v.0);
    /// let first = MappedMutexGuard::try_map(list, |l| l.first_mut()).unwrap();
    /// assert_eq!(*first, 1);
    /// ```
    pub fn try_map<U: ?Sized, F>(guard: Self, f: F) -> Result<MappedMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let (raw, holder) = (guard.raw, guard.holder);
        let mut value = guard.value;
        // SAFETY: as in `map`.
        let Some(value) = f(unsafe { value.as_mut() }).map(NonNull::from) else {
            return Err(guard);
        };
        core::mem::forget(guard);
        Ok(MappedMutexGuard {
            raw,
            holder,
            value,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.holder.clear();
        // SAFETY: a mapped guard exists only while its lock is held.
        unsafe { self.raw.unlock() }
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the lock is held and the pointer came from a live `&mut T`.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and `&mut self` makes this borrow unique.
        unsafe { self.value.as_mut() }
    }
}

/// A guard for part of a value locked through an `Arc`, made by [`OwnedMutexGuard::map`]; it
/// keeps the mutex alive and is `'static` when `T` and `U` are.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};
///
/// let mutex = Arc::new(Mutex::new([1, 2, 3]));
/// let first: OwnedMappedMutexGuard<[i32; 3], i32> =
///     OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |a| &mut a[0]);
/// let handle = std::thread::spawn(move || {
///     let mut first = first;
///     *first = 10;
/// });
/// handle.join().unwrap();
/// assert_eq!(*mutex.try_lock().unwrap(), [10, 2, 3]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized> {
    mutex: Arc<Mutex<T>>,
    value: NonNull<U>,
    /// Invariant in `U`, as `&mut U` is: the guard hands out `&mut U`.
    _invariant: PhantomData<*mut U>,
}

// SAFETY: sending the guard sends exclusive access to `U` (needs `U: Send`) and the `Arc`,
// whose last clone may drop the mutex and `T` on the other thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send, U: ?Sized + Send> Send for OwnedMappedMutexGuard<T, U> {}
// SAFETY: sharing the guard shares `&U` (needs `U: Sync`); it holds an `Arc<Mutex<T>>`, so ask
// for what sharing that would.
unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedMutexGuard<T, U> {}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// Narrows the guard further.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};
    ///
    /// let mutex = Arc::new(Mutex::new(((1, 2), 3)));
    /// let inner = OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |v| &mut v.0);
    /// let second = OwnedMappedMutexGuard::map(inner, |v| &mut v.1);
    /// assert_eq!(*second, 2);
    /// ```
    pub fn map<V: ?Sized, F>(mut guard: Self, f: F) -> OwnedMappedMutexGuard<T, V>
    where
        F: FnOnce(&mut U) -> &mut V,
    {
        let value = NonNull::from(f(&mut *guard));
        OwnedMappedMutexGuard {
            mutex: Self::into_locked(guard),
            value,
            _invariant: PhantomData,
        }
    }

    /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
    /// unchanged when `f` returns `None`.
    ///
    /// If `f` panics, the guard is dropped and the mutex unlocked.
    ///
    /// # Errors
    ///
    /// Returns the original guard when `f` returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};
    ///
    /// let mutex = Arc::new(Mutex::new((vec![5], 0)));
    /// let list = OwnedMutexGuard::map(mutex.try_lock_owned().unwrap(), |v| &mut v.0);
    /// let list = OwnedMappedMutexGuard::try_map(list, |l| l.get_mut(3)).unwrap_err();
    /// assert_eq!(*list, [5]);
    /// ```
    pub fn try_map<V: ?Sized, F>(mut guard: Self, f: F) -> Result<OwnedMappedMutexGuard<T, V>, Self>
    where
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        let Some(value) = f(&mut *guard).map(NonNull::from) else {
            return Err(guard);
        };
        Ok(OwnedMappedMutexGuard {
            mutex: Self::into_locked(guard),
            value,
            _invariant: PhantomData,
        })
    }

    /// Splits the guard into its mutex, leaving the mutex locked.
    fn into_locked(guard: Self) -> Arc<Mutex<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the `Arc` is moved out once.
        unsafe { core::ptr::read(&guard.mutex) }
    }
}

impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedMutexGuard<T, U> {
    fn drop(&mut self) {
        self.mutex.holder.clear();
        // SAFETY: a mapped guard exists only while its lock is held.
        unsafe { self.mutex.raw.unlock() }
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;

    fn deref(&self) -> &U {
        // SAFETY: the lock is held and the pointer came from a live `&mut U` into the value,
        // which the `Arc` keeps alive.
        unsafe { self.value.as_ref() }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as above, and `&mut self` makes this borrow unique.
        unsafe { self.value.as_mut() }
    }
}

forward_fmt! {
    MutexGuard ['a, T: ?Sized] ['a, T];
    OwnedMutexGuard [T: ?Sized] [T];
    MappedMutexGuard ['a, T: ?Sized] ['a, T];
    OwnedMappedMutexGuard [T: ?Sized, U: ?Sized] [T, U];
}

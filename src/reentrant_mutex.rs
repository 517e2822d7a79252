//! A mutex the thread holding it may lock again: [`ReentrantMutex`] and its guard.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::pin::pin;
use core::pin::Pin;
use core::task::Poll;

use crate::diag;
use crate::future::{Shell, WaitKind};
use crate::raw::mutex::{LockWaiter, TaskSpin};
use crate::raw::queue::Node;
use crate::raw::reentrant::RawReentrantMutex;
use crate::raw::wait::{Blocking, Finally, Strategy};
use crate::sync::const_fn;

/// A mutual-exclusion lock that the thread holding it may lock again (Python's `RLock`).
///
/// A thread that holds the lock can call [`lock_blocking`](Self::lock_blocking) (or
/// [`try_lock`](Self::try_lock)) again and gets another guard at once; the lock is released
/// when the last (outermost) of that thread's guards is dropped. Other threads wait until
/// then. It suits code where a locked method calls another method that locks the same state.
///
/// Since one thread may hold several guards at once, a guard gives `&T`, not `&mut T` (as
/// `std`'s `ReentrantLock` and `parking_lot`'s `ReentrantMutex` do): put what you change in
/// a [`Cell`](core::cell::Cell) or [`RefCell`](core::cell::RefCell). `T` need only be `Send`,
/// as only the thread holding the lock can reach it; for the same reason the guard is
/// `!Send`: it must be dropped on the thread that locked.
///
/// # Why there is no async form
///
/// A reentrant lock must know who is asking, and in async code there is no answer that every
/// runtime shares. A thread's identity is not it: a work-stealing executor moves a task to
/// another thread at any `.await`, and two tasks that run on one worker thread would both get
/// in. Nor is there a task identity to use instead: tokio, smol and async-std each keep their
/// own (or none), and a combinator like `join!` or `select!` runs several independent
/// branches inside one task, which would get in together too. We found no design that is
/// sound on every executor, so there is none. In async code, pass the guard down: write the
/// inner function to take the [`MutexGuard`](crate::MutexGuard) (or `&mut T`) of a
/// [`Mutex`](crate::Mutex) rather than the mutex, so a caller that holds the lock lends it
/// instead of locking again.
///
/// # Fairness
///
/// A thread that holds the lock never waits to lock it again. Other threads wait on the same
/// queue and with the same fairness as [`Mutex`](crate::Mutex): in arrival order, and a woken
/// waiter that loses the lock to a newcomer once is handed it next.
///
/// # Panics and poisoning
///
/// The lock is not poisoned when a guard is dropped during a panic: each guard releases its
/// share as usual, and the next locker sees the value as the panicking code left it. So, as
/// with [`Mutex`](crate::Mutex), `ReentrantMutex<T>` is not `RefUnwindSafe`, and
/// `UnwindSafe` when `T` is.
///
/// # Leaks
///
/// A guard that is leaked (`mem::forget`) keeps the lock held for ever, even after its
/// thread has exited: thread ids are never reused, so no other thread can take it over.
///
/// # Diagnostics
///
/// With the `diagnostics` feature, the mutex records its holder as a
/// [`Mutex`](crate::Mutex) does: the site of the outermost lock (locking again does not
/// change it), when, and the thread; it is cleared when the outermost guard drops. Read it
/// with `holder()`; `Debug` prints it. A wait that lasts too long is reported to the
/// long-wait hook, and threads blocked on it take part in `diagnostics::check_deadlock`. See
/// the `diagnostics` module.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use unisync::ReentrantMutex;
///
/// struct Log {
///     lines: ReentrantMutex<RefCell<Vec<String>>>,
/// }
///
/// impl Log {
///     fn line(&self, s: &str) {
///         self.lines.lock_blocking().borrow_mut().push(s.to_owned());
///     }
///
///     /// Writes both lines with no other thread's line between them.
///     fn pair(&self, a: &str, b: &str) {
///         let _held = self.lines.lock_blocking(); // held across both calls
///         self.line(a); // locks again: this thread already holds it
///         self.line(b);
///     }
/// }
///
/// let log = Log { lines: ReentrantMutex::new(RefCell::new(Vec::new())) };
/// std::thread::scope(|s| {
///     s.spawn(|| log.pair("a1", "a2"));
///     s.spawn(|| log.pair("b1", "b2"));
/// });
/// let lines = log.lines.into_inner().into_inner();
/// assert!(lines == ["a1", "a2", "b1", "b2"] || lines == ["b1", "b2", "a1", "a2"]);
/// ```
#[doc(alias = "RLock")]
#[doc(alias = "ReentrantLock")]
#[doc(alias = "RecursiveMutex")]
pub struct ReentrantMutex<T: ?Sized> {
    raw: RawReentrantMutex,
    // Zero-sized without the `diagnostics` feature.
    holder: diag::HolderCell,
    value: T,
}

// SAFETY: only the thread holding the lock can reach `T` (`&T` through its guards, which are
// `!Send`, and `Sync` only when `T` is, so a `&T` reaches another thread only where `T: Sync`
// allows it); threads take turns, never share, so `T` need only be `Send`. `Send` itself
// follows from the fields.
unsafe impl<T: ?Sized + Send> Sync for ReentrantMutex<T> {}

impl<T> ReentrantMutex<T> {
    const_fn! {
        /// Creates an unlocked reentrant mutex holding `value`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::ReentrantMutex;
        ///
        /// static CONFIG: ReentrantMutex<u32> = ReentrantMutex::new(7);
        /// assert_eq!(*CONFIG.lock_blocking(), 7);
        /// ```
        pub const fn new(value: T) -> ReentrantMutex<T> {
            ReentrantMutex {
                raw: RawReentrantMutex::new(),
                holder: diag::HolderCell::new(),
                value,
            }
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::ReentrantMutex::new(5);
    /// assert_eq!(mutex.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T: ?Sized> ReentrantMutex<T> {
    /// Locks the mutex, parking the current thread until it is free; returns at once if this
    /// thread holds it already.
    ///
    /// # Panics
    ///
    /// Panics if this thread already holds `usize::MAX` guards of the mutex.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker, and a task has no identity of its own here (see
    /// [why there is no async form](ReentrantMutex#why-there-is-no-async-form)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use unisync::ReentrantMutex;
    ///
    /// let mutex = ReentrantMutex::new(Cell::new(0));
    /// let outer = mutex.lock_blocking();
    /// let inner = mutex.lock_blocking(); // same thread: no wait
    /// inner.set(inner.get() + 1);
    /// drop(inner);
    /// assert!(mutex.is_locked()); // the outer guard still holds it
    /// drop(outer);
    /// assert!(!mutex.is_locked());
    /// ```
    #[doc(alias = "lock")]
    #[doc(alias = "blocking_lock")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn lock_blocking(&self) -> ReentrantMutexGuard<'_, T> {
        self.lock_until(crate::raw::wait::Deadline::Never, diag::caller())
            .expect("a wait without deadline completes")
    }

    /// Locks the mutex, parking the current thread for at most `timeout`; returns at once if
    /// this thread holds it already.
    ///
    /// Returns `None` if the lock could not be taken in time; the mutex is then as if this call
    /// had never been made.
    ///
    /// # Panics
    ///
    /// Panics if this thread already holds `usize::MAX` guards of the mutex.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::ReentrantMutex;
    ///
    /// let mutex = ReentrantMutex::new(());
    /// let guard = mutex.lock_blocking();
    /// std::thread::scope(|s| {
    ///     // Another thread gives up after 10 ms.
    ///     let other = s.spawn(|| mutex.lock_blocking_timeout(Duration::from_millis(10)).is_none());
    ///     assert!(other.join().unwrap());
    /// });
    /// // The holder itself never waits.
    /// assert!(mutex.lock_blocking_timeout(Duration::ZERO).is_some());
    /// drop(guard);
    /// ```
    #[doc(alias = "try_lock_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    #[must_use = "if unused the lock is released at once"]
    pub fn lock_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<ReentrantMutexGuard<'_, T>> {
        self.lock_until(crate::raw::wait::deadline(timeout), diag::caller())
    }

    /// Locks the mutex if it is free or this thread holds it already.
    ///
    /// Like [`Mutex::try_lock`](crate::Mutex::try_lock), it also fails while the lock is being
    /// handed to a waiting thread.
    ///
    /// # Panics
    ///
    /// Panics if this thread already holds `usize::MAX` guards of the mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::ReentrantMutex;
    ///
    /// let mutex = ReentrantMutex::new(1);
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_some()); // the holder may lock again
    /// std::thread::scope(|s| {
    ///     assert!(s.spawn(|| mutex.try_lock().is_none()).join().unwrap()); // others may not
    /// });
    /// drop(guard);
    /// ```
    #[must_use = "if unused the lock is released at once"]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        if self.raw.try_reenter() {
            return Some(ReentrantMutexGuard::new(self));
        }
        if !self.raw.mutex().try_lock_looking() {
            return None;
        }
        // SAFETY: we have just taken the raw mutex, for this one guard.
        unsafe { self.raw.acquired() };
        self.holder.record(diag::caller(), false);
        Some(ReentrantMutexGuard::new(self))
    }

    /// Returns whether some thread holds the mutex right now (a hint: it may change at once,
    /// unless the current thread is the holder).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::ReentrantMutex::new(());
    /// let guard = mutex.lock_blocking();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    #[doc(alias = "locked")]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Returns whether the current thread holds the mutex.
    ///
    /// Exact, unlike [`is_locked`](Self::is_locked): only this thread can change the answer.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::ReentrantMutex::new(());
    /// let guard = mutex.lock_blocking();
    /// assert!(mutex.is_owned_by_current_thread());
    /// std::thread::scope(|s| {
    ///     assert!(!s.spawn(|| mutex.is_owned_by_current_thread()).join().unwrap());
    /// });
    /// drop(guard);
    /// assert!(!mutex.is_owned_by_current_thread());
    /// ```
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.raw.is_owned_by_current_thread()
    }

    /// Returns a mutable reference to the value; no locking is needed with `&mut self`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = unisync::ReentrantMutex::new(1);
    /// *mutex.get_mut() = 2;
    /// assert_eq!(mutex.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// Returns who holds the mutex: where its outermost lock was taken, since when, and by
    /// which thread.
    ///
    /// `None` while the mutex is free. The record is written by the lock that takes the mutex
    /// (`lock_blocking`, `lock_blocking_timeout`, `try_lock`), at the caller's site; locking
    /// again on the holding thread keeps it, and the outermost guard's drop clears it. `Debug`
    /// prints it too. A copy: the mutex may change hands right after. See
    /// [`diagnostics`](crate::diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::ReentrantMutex;
    ///
    /// let mutex = ReentrantMutex::new(());
    /// assert!(mutex.holder().is_none());
    /// let outer = mutex.lock_blocking();
    /// let inner = mutex.lock_blocking(); // locking again keeps the outer site
    /// assert_eq!(mutex.holder().unwrap().site().line(), line!() - 2);
    /// assert!(format!("{mutex:?}").contains("holder"));
    /// drop(inner);
    /// assert!(mutex.holder().is_some());
    /// drop(outer);
    /// assert!(mutex.holder().is_none());
    /// ```
    #[cfg(feature = "diagnostics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
    pub fn holder(&self) -> Option<crate::diagnostics::Holder> {
        self.holder.get()
    }

    /// Locks again if this thread holds the lock, else waits for it until `deadline`.
    fn lock_until(
        &self,
        deadline: crate::raw::wait::Deadline,
        site: diag::Site,
    ) -> Option<ReentrantMutexGuard<'_, T>> {
        if !self.raw.try_reenter() {
            // The same wait as a mutex's, driven by parking; dropped on timeout, which
            // withdraws it and passes on a wake-up it had received.
            let wait = pin!(Shell::new(self, RelockKind::new(site)));
            if wait.poll_with(&mut Blocking { deadline }).is_pending() {
                return None;
            }
        }
        Some(ReentrantMutexGuard::new(self))
    }

    /// The mutex as a diagnosed wait sees it (a zero-sized no-op without `diagnostics`).
    #[inline]
    fn diag_target(&self) -> diag::Target<'_> {
        diag::Target::new(&self.holder, self, diag::LockKind::ReentrantMutex)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        #[cfg(feature = "diagnostics")]
        let holder = self.holder();
        // Not `try_lock`, which would record this line as the holder's site.
        if self.raw.try_lock() {
            let guard = ReentrantMutexGuard::new(self);
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

impl<T: Default> Default for ReentrantMutex<T> {
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

/// The wait of a thread that does not hold the lock: the raw mutex's own.
/// The wait of a thread that does not hold the lock: a mutex's lock wait on the raw mutex.
struct RelockKind<'a, T: ?Sized> {
    waiter: LockWaiter,
    // Zero-sized without the `diagnostics` feature.
    diag: diag::WaitRecord,
    _source: PhantomData<fn() -> &'a ReentrantMutex<T>>,
}

impl<T: ?Sized> RelockKind<'_, T> {
    #[inline]
    fn new(site: diag::Site) -> Self {
        RelockKind {
            waiter: LockWaiter::new(),
            diag: diag::WaitRecord::new(site),
            _source: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> WaitKind for RelockKind<'a, T> {
    type Source = &'a ReentrantMutex<T>;
    type Ready = ();
    type Output = ();

    #[inline]
    fn poll<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        mutex: &&'a ReentrantMutex<T>,
        strategy: &mut S,
    ) -> Poll<()> {
        let waiter = &mut self.waiter;
        diag::watch(&mut self.diag, mutex.diag_target(), strategy, |strategy| {
            waiter.poll_lock(node, mutex.raw.mutex(), strategy, TaskSpin::Eager)
        })
    }

    #[inline]
    fn finish(&mut self, (): (), mutex: &'a ReentrantMutex<T>) {
        // SAFETY: the wait completed: this thread has just taken the raw mutex.
        unsafe { mutex.raw.acquired() }
        self.diag.record_holder(mutex.diag_target());
    }

    fn cancel(&mut self, node: Pin<&Node>, mutex: &&'a ReentrantMutex<T>) {
        let diag = &mut self.diag;
        let _then = Finally::new(|| diag.cancel(mutex.diag_target()));
        self.waiter.cancel(node, mutex.raw.mutex());
    }
}

/// A guard of a [`ReentrantMutex`]; the lock is released when the last guard of the holding
/// thread is dropped.
///
/// It gives `&T` only (the same thread may hold several guards at once), and it is `!Send`:
/// it must be dropped on the thread that locked. It is `Sync` when `T` is, since sharing it
/// shares only `&T`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use unisync::{ReentrantMutex, ReentrantMutexGuard};
///
/// let mutex = ReentrantMutex::new(Cell::new(1));
/// let guard: ReentrantMutexGuard<'_, Cell<i32>> = mutex.lock_blocking();
/// guard.set(guard.get() * 10);
/// assert_eq!(guard.get(), 10);
/// ```
///
/// A guard cannot be sent to another thread:
///
/// ```compile_fail
/// let mutex = unisync::ReentrantMutex::new(0);
/// let guard = mutex.lock_blocking();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard));
/// });
/// ```
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<unisync::ReentrantMutexGuard<'static, u8>>();
/// ```
///
/// nor shared when `T` is not `Sync`:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<unisync::ReentrantMutexGuard<'static, std::cell::Cell<u8>>>();
/// ```
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
#[clippy::has_significant_drop]
pub struct ReentrantMutexGuard<'a, T: ?Sized> {
    mutex: &'a ReentrantMutex<T>,
    /// `!Send`: the lock's count and owner belong to the thread that locked.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares `&T` (needs `T: Sync`) and `&ReentrantMutex<T>` (through
// `source`), with which another thread can only wait for the lock like anyone else; nothing
// reachable through `&Self` touches the lock's count.
unsafe impl<T: ?Sized + Sync> Sync for ReentrantMutexGuard<'_, T> {}

impl<'a, T: ?Sized> ReentrantMutexGuard<'a, T> {
    /// A guard for one lock the current thread has just taken.
    fn new(mutex: &'a ReentrantMutex<T>) -> Self {
        ReentrantMutexGuard {
            mutex,
            _not_send: PhantomData,
        }
    }

    /// Returns the mutex this guard locks.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{ReentrantMutex, ReentrantMutexGuard};
    ///
    /// let mutex = ReentrantMutex::new(0);
    /// let guard = mutex.lock_blocking();
    /// let again = ReentrantMutexGuard::source(&guard).lock_blocking();
    /// assert!(std::ptr::eq(ReentrantMutexGuard::source(&again), &mutex));
    /// ```
    pub fn source(guard: &Self) -> &'a ReentrantMutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Drop for ReentrantMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a guard exists only while its thread holds the lock, and it is dropped on
        // that thread (it is `!Send`); this is one of that thread's locks going away.
        unsafe { self.mutex.raw.unlock(|| self.mutex.holder.clear()) }
    }
}

impl<T: ?Sized> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.mutex.value
    }
}

forward_fmt! {
    ReentrantMutexGuard ['a, T: ?Sized] ['a, T];
}

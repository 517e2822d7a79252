//! A condition variable for the async mutex: [`Condvar`], its futures and [`CondvarGuard`].

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ops::DerefMut;
use core::pin::Pin;
use core::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use crate::diag;
use crate::mutex::{Mutex, MutexGuard, OwnedMutexGuard};
use crate::raw::condvar::{CondvarWaiter, RawCondvar};
use crate::raw::mutex::{LockWaiter, TaskSpin};
use crate::raw::queue::Node;
use crate::raw::wait::{Async, Drive, Finally, Strategy};
use crate::sync::const_fn;

/// A condition variable: tasks and threads wait on it, with a [`Mutex`] guard, until notified.
///
/// Waiting atomically releases the mutex and waits for a notification; when it ends, the mutex
/// is locked again and the guard handed back. Tasks use [`wait`](Condvar::wait) and
/// [`wait_while`](Condvar::wait_while); threads use the `_blocking` twins. Both kinds can wait on
/// the same condvar, with guards of the same mutex. Guards of both kinds work:
/// [`MutexGuard`] and [`OwnedMutexGuard`] (see [`CondvarGuard`]).
///
/// A condvar binds to the first mutex it is used with; waiting with a guard of another mutex
/// panics (see [`wait`](Condvar::wait)).
///
/// # Fairness
///
/// [`notify_one`](Condvar::notify_one) wakes the waiter that has waited longest. The woken
/// waiter then locks the mutex again under the mutex's own [fairness rules](Mutex#fairness), so
/// another task may take the mutex first and change the state. A wait may also return after a
/// notification that was meant for a waiter that gave up (see `# Cancel safety` on
/// [`wait`](Condvar::wait)). Always re-check the condition after waking, or let
/// [`wait_while`](Condvar::wait_while) do it.
///
/// # Leaks
///
/// A wait future leaked (`mem::forget`) while queued stays in the condvar's queue and may take
/// a `notify_one` that another waiter needed. One leaked while it locks the mutex again after
/// a notification is a leaked lock future of that mutex (see [`Mutex`'s
/// leaks](crate::Mutex#leaks)): waiters queued on the mutex behind it are not woken again.
/// One leaked before its first poll keeps the guard, and so the mutex, for ever. Drop
/// futures you no longer need (every future here is cancel-safe).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::sync::Arc;
/// use unisync::{Condvar, Mutex};
///
/// # futures::executor::block_on(async {
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
///
/// let pair2 = pair.clone();
/// let handle = std::thread::spawn(move || {
///     let (ready, cv) = &*pair2;
///     *ready.lock_blocking() = true;
///     cv.notify_one();
/// });
///
/// let (ready, cv) = &*pair;
/// let guard = cv.wait_while(ready.lock().await, |ready| !*ready).await;
/// assert!(*guard);
/// # drop(guard);
/// # handle.join().unwrap();
/// # });
/// # }
/// ```
pub struct Condvar {
    raw: RawCondvar,
}

impl Condvar {
    /// Test only: the raw condvar underneath.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn raw(&self) -> &RawCondvar {
        &self.raw
    }

    const_fn! {
        /// Creates a condvar that no one waits on and that is bound to no mutex yet.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::Condvar;
        ///
        /// static READY: Condvar = Condvar::new();
        /// READY.notify_all(); // nobody waits: nothing happens
        /// ```
        pub const fn new() -> Condvar {
            Condvar { raw: RawCondvar::new() }
        }
    }

    /// Releases the guard's mutex, waits until notified, then locks the mutex again.
    ///
    /// The mutex is released only once the future is first polled, and after the waiter is
    /// registered, so a notification sent by anyone who takes the mutex after that reaches it.
    /// Notifications sent before the wait started are not remembered. The wait may end after a
    /// wake-up passed on by a waiter that gave up, so check your condition in a loop, or use
    /// [`wait_while`](Condvar::wait_while).
    ///
    /// # Panics
    ///
    /// Like `std::sync::Condvar`, a condvar binds to the first mutex it is used with, by the
    /// mutex's address. Calling this with a guard of any other mutex panics (the guard is
    /// dropped, which unlocks it). A mutex that was moved between two waits (into a `Box`, out
    /// of a `Vec`) has a new address and counts as another mutex: keep the mutex where it is,
    /// behind an `Arc` for instance, for as long as the condvar is used with it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses the guard, never the mutex's state:
    ///
    /// - before its first poll, the guard is dropped and the mutex unlocked, as if the guard had
    ///   been dropped directly;
    /// - while waiting (the mutex is released), the mutex is not locked again behind your back;
    ///   the waiter leaves the condvar, and if it had just been woken by
    ///   [`notify_one`](Condvar::notify_one) or [`notify_many`](Condvar::notify_many), that
    ///   notification goes to another waiter;
    /// - while locking the mutex again after a notification, that lock attempt is withdrawn
    ///   and a `notify_one` or `notify_many` notification is passed to another waiter.
    ///
    /// A notification from [`notify_all`](Condvar::notify_all) is not passed on: it reached
    /// every waiter there was, and passing it on would wake one that started waiting after it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let pair2 = pair.clone();
    /// std::thread::spawn(move || {
    ///     let (value, cv) = &*pair2;
    ///     *value.lock_blocking() = 7;
    ///     cv.notify_all();
    /// });
    ///
    /// let (value, cv) = &*pair;
    /// let mut guard = value.lock().await;
    /// while *guard == 0 {
    ///     guard = cv.wait(guard).await;
    /// }
    /// assert_eq!(*guard, 7);
    /// # });
    /// # }
    /// ```
    #[track_caller]
    pub fn wait<G: CondvarGuard>(&self, guard: G) -> CondvarWait<'_, G> {
        CondvarWait {
            core: WaitCore::new(self, guard),
        }
    }

    /// Waits while `condition` returns `true`, then returns the guard.
    ///
    /// `condition` is called with the mutex locked: first when the future is first polled (if
    /// it returns `false`, the future completes without waiting), then after every wake-up.
    /// It is the async form of `std::sync::Condvar::wait_while`.
    ///
    /// # Panics
    ///
    /// Panics if the guard is of another mutex than the one this condvar is bound to (see
    /// [`wait`](Condvar::wait)). A panic inside `condition` drops the guard, which
    /// unlocks the mutex.
    ///
    /// # Cancel safety
    ///
    /// As for [`wait`](Condvar::wait): dropping the future drops the guard (or, while waiting,
    /// leaves the mutex released) and passes on a `notify_one` or `notify_many` notification it
    /// had received.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// # futures::executor::block_on(async {
    /// let queue = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    /// let queue2 = queue.clone();
    /// std::thread::spawn(move || {
    ///     let (items, cv) = &*queue2;
    ///     items.lock_blocking().push(1);
    ///     cv.notify_one();
    /// });
    ///
    /// let (items, cv) = &*queue;
    /// let mut guard = cv.wait_while(items.lock().await, |items| items.is_empty()).await;
    /// assert_eq!(guard.pop(), Some(1));
    /// # });
    /// # }
    /// ```
    #[doc(alias = "wait_for")]
    #[track_caller]
    pub fn wait_while<G, F>(&self, guard: G, condition: F) -> WaitWhile<'_, G, F>
    where
        G: CondvarGuard,
        F: FnMut(&mut G::Target) -> bool,
    {
        WaitWhile {
            core: WaitCore::new(self, guard),
            condition,
            check: true,
        }
    }

    /// Wakes one waiting task or thread, if any.
    ///
    /// Each call wakes one more waiter, even if a waiter woken by an earlier call has not run
    /// yet. If nobody waits, the notification is lost: it does not wake a later waiter. Holding
    /// the mutex while notifying is not required.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let pair2 = pair.clone();
    /// let waiter = std::thread::spawn(move || {
    ///     let (done, cv) = &*pair2;
    ///     drop(cv.wait_while_blocking(done.lock_blocking(), |done| !*done));
    /// });
    ///
    /// let (done, cv) = &*pair;
    /// *done.lock_blocking() = true;
    /// cv.notify_one();
    /// waiter.join().unwrap();
    /// # }
    /// ```
    #[inline]
    pub fn notify_one(&self) {
        self.raw.notify_one();
    }

    /// Wakes up to `n` waiting tasks or threads, those that have waited longest first.
    ///
    /// The same as `n` calls of [`notify_one`](Condvar::notify_one), made in one go: each
    /// call's notification goes to a waiter of its own, and if fewer than `n` wait, the rest
    /// are lost, not kept for later waiters. It is Python's `Condition.notify(n)`. Past 32,
    /// the waiters are woken in batches of 32 with the condvar's queue released in between,
    /// like that many `notify_one` calls in a row: a waiter that queues meanwhile may get one
    /// of the notifications left.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// // Three workers wait for jobs; two jobs arrive, so two workers are woken.
    /// let pair = Arc::new((Mutex::new(0_u32), Condvar::new()));
    /// let workers: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let pair = pair.clone();
    ///         std::thread::spawn(move || {
    ///             let (jobs, cv) = &*pair;
    ///             let mut jobs = cv.wait_while_blocking(jobs.lock_blocking(), |jobs| *jobs == 0);
    ///             *jobs -= 1;
    ///         })
    ///     })
    ///     .collect();
    ///
    /// let (jobs, cv) = &*pair;
    /// *jobs.lock_blocking() += 2;
    /// cv.notify_many(2);
    /// // One more job, for the worker that is left.
    /// *jobs.lock_blocking() += 1;
    /// cv.notify_one();
    /// for w in workers {
    ///     w.join().unwrap();
    /// }
    /// assert_eq!(*jobs.lock_blocking(), 0);
    /// # }
    /// ```
    #[doc(alias = "notify_n")]
    #[inline]
    pub fn notify_many(&self, n: usize) {
        self.raw.notify_many(n);
    }

    /// Wakes every task and thread that waits right now.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let pair = pair.clone();
    ///         std::thread::spawn(move || {
    ///             let (go, cv) = &*pair;
    ///             drop(cv.wait_while_blocking(go.lock_blocking(), |go| !*go));
    ///         })
    ///     })
    ///     .collect();
    ///
    /// let (go, cv) = &*pair;
    /// *go.lock_blocking() = true;
    /// cv.notify_all();
    /// for w in waiters {
    ///     w.join().unwrap();
    /// }
    /// # }
    /// ```
    #[inline]
    pub fn notify_all(&self) {
        self.raw.notify_all();
    }

    /// Releases the guard's mutex, parks the thread until notified, then locks the mutex again.
    ///
    /// The blocking form of [`wait`](Condvar::wait), with the same rules.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task: it would stall the executor's
    /// worker and may deadlock it if the notifier needs that worker to run.
    ///
    /// # Panics
    ///
    /// Panics if the guard is of another mutex than the one this condvar is bound to (see
    /// [`wait`](Condvar::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let pair2 = pair.clone();
    /// std::thread::spawn(move || {
    ///     let (value, cv) = &*pair2;
    ///     *value.lock_blocking() = 1;
    ///     cv.notify_one();
    /// });
    ///
    /// let (value, cv) = &*pair;
    /// let mut guard = value.lock_blocking();
    /// while *guard == 0 {
    ///     guard = cv.wait_blocking(guard);
    /// }
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait")]
    #[track_caller]
    pub fn wait_blocking<G: CondvarGuard>(&self, guard: G) -> G {
        crate::raw::wait::block_on(self.wait(guard), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline ends")
    }

    /// Parks the thread while `condition` returns `true`, then returns the guard.
    ///
    /// The blocking form of [`wait_while`](Condvar::wait_while), like
    /// `std::sync::Condvar::wait_while`.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// Panics if the guard is of another mutex than the one this condvar is bound to (see
    /// [`wait`](Condvar::wait)). A panic inside `condition` drops the guard, which
    /// unlocks the mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let pair2 = pair.clone();
    /// std::thread::spawn(move || {
    ///     let (count, cv) = &*pair2;
    ///     for _ in 0..3 {
    ///         *count.lock_blocking() += 1;
    ///         cv.notify_one();
    ///     }
    /// });
    ///
    /// let (count, cv) = &*pair;
    /// let guard = cv.wait_while_blocking(count.lock_blocking(), |n| *n < 3);
    /// assert_eq!(*guard, 3);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait_while")]
    #[track_caller]
    pub fn wait_while_blocking<G, F>(&self, guard: G, condition: F) -> G
    where
        G: CondvarGuard,
        F: FnMut(&mut G::Target) -> bool,
    {
        crate::raw::wait::block_on(
            self.wait_while(guard, condition),
            crate::raw::wait::Deadline::Never,
        )
        .expect("a wait without deadline ends")
    }

    /// Like [`wait_blocking`](Condvar::wait_blocking), but waits for a notification for at
    /// most `timeout`.
    ///
    /// The mutex is always locked again before this returns, also when the time ran out, and
    /// [`WaitTimeoutResult::timed_out`] tells which happened. The timeout bounds the wait for a
    /// notification only: locking the mutex again may take longer. A [`notify_all`] that began
    /// before the deadline counts as a notification, even if it had not reached this waiter
    /// yet when the time ran out.
    ///
    /// [`notify_all`]: Condvar::notify_all
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// Panics if the guard is of another mutex than the one this condvar is bound to (see
    /// [`wait`](Condvar::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(());
    /// let cv = Condvar::new();
    /// let (guard, result) = cv.wait_blocking_timeout(mutex.lock_blocking(), Duration::from_millis(10));
    /// assert!(result.timed_out());
    /// assert!(mutex.is_locked()); // `guard` holds it again
    /// # drop(guard);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "wait_timeout")]
    #[doc(alias = "blocking_wait_timeout")]
    #[track_caller]
    pub fn wait_blocking_timeout<G: CondvarGuard>(
        &self,
        guard: G,
        timeout: core::time::Duration,
    ) -> (G, WaitTimeoutResult) {
        let (guard, notified) = self.wait_until(guard, crate::raw::wait::deadline(timeout));
        (guard, WaitTimeoutResult(!notified))
    }

    /// Like [`wait_while_blocking`](Condvar::wait_while_blocking), but gives up waiting after
    /// `timeout` in total.
    ///
    /// Returns the guard (the mutex is locked again in every case) and whether the time ran
    /// out with `condition` still `true`. As with
    /// [`wait_blocking_timeout`](Condvar::wait_blocking_timeout), the timeout bounds the waits
    /// for notifications; locking the mutex again may take longer.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Panics
    ///
    /// Panics if the guard is of another mutex than the one this condvar is bound to (see
    /// [`wait`](Condvar::wait)). A panic inside `condition` drops the guard, which
    /// unlocks the mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let ready = Mutex::new(false);
    /// let cv = Condvar::new();
    /// let (guard, result) =
    ///     cv.wait_while_blocking_timeout(ready.lock_blocking(), Duration::from_millis(10), |r| !*r);
    /// assert!(result.timed_out());
    /// assert!(!*guard);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "wait_timeout_while")]
    #[track_caller]
    pub fn wait_while_blocking_timeout<G, F>(
        &self,
        mut guard: G,
        timeout: core::time::Duration,
        mut condition: F,
    ) -> (G, WaitTimeoutResult)
    where
        G: CondvarGuard,
        F: FnMut(&mut G::Target) -> bool,
    {
        // Fixed at the first wait, and kept through the waits that follow.
        let mut deadline = crate::raw::wait::deadline(timeout);
        // As the other waits do, even if the condition needs no wait; on a panic the guard is
        // dropped, which unlocks its mutex.
        self.bind(&guard);
        loop {
            if !condition(&mut guard) {
                return (guard, WaitTimeoutResult(false));
            }
            if deadline.passed() {
                return (guard, WaitTimeoutResult(true));
            }
            guard = self.wait_until(guard, deadline).0;
        }
    }

    /// Binds the condvar to the guard's mutex on first use; panics if it is bound to another.
    #[track_caller]
    fn bind<G: CondvarGuard>(&self, guard: &G) {
        let mutex: *const Mutex<G::Target> = G::guard_mutex(guard);
        self.raw.bind(mutex.cast::<()>() as usize);
    }

    /// Waits for a notification until `deadline`, then locks the mutex again without one.
    /// Returns the guard and whether the wait was notified.
    #[cfg(feature = "std")]
    #[track_caller]
    fn wait_until<G: CondvarGuard>(
        &self,
        guard: G,
        deadline: crate::raw::wait::Deadline,
    ) -> (G, bool) {
        use crate::raw::wait::{block_on_pinned, Blocking};
        let mut wait = core::pin::pin!(self.wait(guard));
        let mut core = wait.as_mut().project().core;
        let notified = match core.as_mut().poll_notified(&mut Blocking { deadline }) {
            Poll::Ready(()) => true,
            Poll::Pending => core.withdraw(),
        };
        let guard = block_on_pinned(wait, crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline ends");
        (guard, notified)
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

/// Whether a timed wait ran out of time, returned by
/// [`Condvar::wait_blocking_timeout`] and [`Condvar::wait_while_blocking_timeout`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::time::Duration;
/// use unisync::{Condvar, Mutex, WaitTimeoutResult};
///
/// let mutex = Mutex::new(());
/// let cv = Condvar::new();
/// let result: WaitTimeoutResult = cv.wait_blocking_timeout(mutex.lock_blocking(), Duration::ZERO).1;
/// assert!(result.timed_out());
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Returns whether the wait ended because its time ran out.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::time::Duration;
    /// use unisync::{Condvar, Mutex};
    ///
    /// let mutex = Mutex::new(true);
    /// let cv = Condvar::new();
    /// // The condition is already false: no wait, no timeout.
    /// let (_guard, result) =
    ///     cv.wait_while_blocking_timeout(mutex.lock_blocking(), Duration::ZERO, |v| !*v);
    /// assert!(!result.timed_out());
    /// # }
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

mod sealed {
    use super::*;

    /// How a wait takes a guard apart while the mutex is released, and puts it back.
    pub trait Sealed: DerefMut + Sized {
        /// What the wait keeps of the guard while the mutex is released.
        type Source;

        /// The mutex the guard locks.
        fn guard_mutex(guard: &Self) -> &Mutex<Self::Target>;

        /// The mutex a source refers to.
        fn source_mutex(source: &Self::Source) -> &Mutex<Self::Target>;

        /// Takes the guard apart, leaving its mutex locked.
        fn into_source(guard: Self) -> Self::Source;

        /// Makes a guard again.
        ///
        /// # Safety
        ///
        /// The caller must hold the lock of `source`'s mutex and hand it to the guard.
        unsafe fn from_source(source: Self::Source) -> Self;
    }
}

/// A mutex guard that a [`Condvar`] can wait with: [`MutexGuard`] and [`OwnedMutexGuard`].
///
/// Waiting hands back a guard of the same type. The trait is sealed: it cannot be implemented
/// outside this crate.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use unisync::{Condvar, CondvarGuard, Mutex};
///
/// fn wake_when_positive<G: CondvarGuard<Target = i32>>(cv: &Condvar, guard: G) -> G {
///     cv.wait_while_blocking(guard, |v| *v <= 0)
/// }
///
/// let (value, cv) = (Mutex::new(1), Condvar::new());
/// assert_eq!(*wake_when_positive(&cv, value.lock_blocking()), 1);
/// # }
/// ```
pub trait CondvarGuard: sealed::Sealed {}

impl<'a, T: ?Sized> sealed::Sealed for MutexGuard<'a, T> {
    type Source = &'a Mutex<T>;

    fn guard_mutex(guard: &Self) -> &Mutex<T> {
        MutexGuard::source(guard)
    }

    fn source_mutex(source: &Self::Source) -> &Mutex<T> {
        source
    }

    fn into_source(guard: Self) -> &'a Mutex<T> {
        MutexGuard::into_locked(guard)
    }

    unsafe fn from_source(source: &'a Mutex<T>) -> Self {
        // SAFETY: the caller holds the lock and hands it over (see the trait's contract).
        unsafe { source.make_guard_unchecked() }
    }
}

impl<T: ?Sized> CondvarGuard for MutexGuard<'_, T> {}

impl<T: ?Sized> sealed::Sealed for OwnedMutexGuard<T> {
    type Source = Arc<Mutex<T>>;

    fn guard_mutex(guard: &Self) -> &Mutex<T> {
        OwnedMutexGuard::source(guard)
    }

    fn source_mutex(source: &Self::Source) -> &Mutex<T> {
        source
    }

    fn into_source(guard: Self) -> Arc<Mutex<T>> {
        OwnedMutexGuard::into_locked(guard)
    }

    unsafe fn from_source(source: Arc<Mutex<T>>) -> Self {
        // SAFETY: the caller holds the lock and hands it over (see the trait's contract).
        unsafe { OwnedMutexGuard::from_locked(source) }
    }
}

impl<T: ?Sized> CondvarGuard for OwnedMutexGuard<T> {}

pin_project! {
    /// One wait, shared by every future and blocking method: release, wait, lock again.
    ///
    /// One node serves both halves: it queues on the condvar until notified, then on the
    /// mutex until the lock is taken again.
    struct WaitCore<'a, G: CondvarGuard> {
        condvar: &'a Condvar,
        // `None` once the guard was handed back.
        source: Option<G::Source>,
        waiter: CondvarWaiter,
        lock: LockWaiter,
        // The wait's site, and its registry entry while it waits to lock the mutex again
        // (zero-sized without the `diagnostics` feature).
        diag: diag::WaitRecord,
        #[pin]
        node: Node,
    }

    impl<'a, G: CondvarGuard> PinnedDrop for WaitCore<'a, G> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let Some(source) = this.source.take() else {
                return;
            };
            if this.waiter.holds_lock() {
                // SAFETY: the wait never released the lock, so the guard still owns it;
                // dropping the guard releases it exactly once.
                drop(unsafe { G::from_source(source) });
                return;
            }
            let node = this.node.into_ref();
            let mutex = G::source_mutex(&source).raw();
            let (waiter, condvar, diag) = (this.waiter, this.condvar, this.diag);
            let relocking = !waiter.is_waiting();
            // Run even if withdrawing the lock attempt panics (dropping a user's waker can):
            // a notification this wait took is passed on.
            let _then = Finally::new(|| {
                diag.cancel(G::source_mutex(&source).diag_target());
                waiter.cancel(node, &condvar.raw, mutex);
            });
            if relocking {
                // Past the notification: the node may be queued on the mutex.
                this.lock.cancel(node, mutex);
            }
        }
    }
}

impl<'a, G: CondvarGuard> WaitCore<'a, G> {
    #[track_caller]
    fn new(condvar: &'a Condvar, guard: G) -> Self {
        // On a panic here the guard is dropped, which unlocks its mutex.
        condvar.bind(&guard);
        WaitCore {
            condvar,
            source: Some(G::into_source(guard)),
            waiter: CondvarWaiter::new(),
            lock: LockWaiter::new(),
            diag: diag::WaitRecord::new(diag::caller()),
            node: Node::new(),
        }
    }

    /// Releases the mutex and waits for a notification (or for `withdraw`).
    fn poll_notified<S: Strategy>(self: Pin<&mut Self>, strategy: &mut S) -> Poll<()> {
        let this = self.project();
        let source = this
            .source
            .as_ref()
            .expect(crate::future::POLLED_AFTER_COMPLETION);
        let source_mutex = G::source_mutex(source);
        // SAFETY: `source` came from a guard and the lock has not been released since (the
        // waiter tracks that); the waiter releases it once, and its holder is no longer then.
        unsafe {
            this.waiter.poll_wait(
                this.node.into_ref(),
                &this.condvar.raw,
                source_mutex.raw(),
                || source_mutex.clear_holder(),
                strategy,
            )
        }
    }

    /// Ends a blocking wait whose deadline passed; returns whether it was notified after all.
    #[cfg(feature = "std")]
    fn withdraw(self: Pin<&mut Self>) -> bool {
        let this = self.project();
        this.waiter
            .withdraw(this.node.into_ref(), &this.condvar.raw)
    }

    /// The whole wait: notified, then locked again.
    fn poll_core<S: Strategy>(mut self: Pin<&mut Self>, strategy: &mut S) -> Poll<G> {
        ready!(self.as_mut().poll_notified(strategy));
        let this = self.project();
        let source = this.source.as_ref().expect("checked by `poll_notified`");
        let mutex = G::source_mutex(source);
        let (lock, node) = (this.lock, this.node.into_ref());
        ready!(diag::watch(
            this.diag,
            mutex.diag_target(),
            strategy,
            |strategy| lock.poll_lock(node, mutex.raw(), strategy, TaskSpin::Alone)
        ));
        this.diag.record_holder(mutex.diag_target());
        let source = this.source.take().expect("checked above");
        // SAFETY: `poll_lock` returned `Ready`, so we hold the lock; it passes to the guard.
        Poll::Ready(unsafe { G::from_source(source) })
    }

    /// Takes back the guard while the lock is held and the wait has not started.
    fn take_guard(self: Pin<&mut Self>) -> G {
        let this = self.project();
        let source = this
            .source
            .take()
            .expect(crate::future::POLLED_AFTER_COMPLETION);
        debug_assert!(this.waiter.holds_lock());
        // SAFETY: the waiter has not released the lock that `source`'s guard held.
        unsafe { G::from_source(source) }
    }

    /// Starts a fresh wait with `guard`.
    fn put_guard(self: Pin<&mut Self>, guard: G) {
        let this = self.project();
        *this.source = Some(G::into_source(guard));
        this.waiter.reset();
    }

    fn is_terminated(&self) -> bool {
        self.source.is_none()
    }
}

pin_project! {
    /// The future returned by [`Condvar::wait`]; resolves to the guard, locked again.
    ///
    /// The future holds the waiter's place in the condvar's queue (and then the mutex's), so
    /// it is `!Unpin`: `.await` pins it for you; to keep one in a struct or poll it by hand,
    /// pin it with [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "std")] {
    /// use std::sync::Arc;
    /// use unisync::{futures::CondvarWait, Condvar, Mutex, MutexGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let (mutex, cv) = (Arc::new(Mutex::new(0)), Arc::new(Condvar::new()));
    /// let (mutex2, cv2) = (mutex.clone(), cv.clone());
    /// std::thread::spawn(move || {
    ///     *mutex2.lock_blocking() = 1;
    ///     cv2.notify_one();
    /// });
    /// let mut guard = mutex.lock().await;
    /// while *guard == 0 {
    ///     let wait: CondvarWait<'_, MutexGuard<'_, i32>> = cv.wait(guard);
    ///     guard = wait.await;
    /// }
    /// # });
    /// # }
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct CondvarWait<'a, G: CondvarGuard> {
        #[pin]
        core: WaitCore<'a, G>,
    }
}

impl<G: CondvarGuard> Drive for CondvarWait<'_, G> {
    type Output = G;

    fn drive<S: Strategy>(self: Pin<&mut Self>, strategy: &mut S) -> Poll<G> {
        self.project().core.poll_core(strategy)
    }
}

impl<G: CondvarGuard> Future for CondvarWait<'_, G> {
    type Output = G;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G> {
        self.drive(&mut Async(cx.waker()))
    }
}

impl<G: CondvarGuard> futures_core::future::FusedFuture for CondvarWait<'_, G> {
    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }
}

impl<G: CondvarGuard> fmt::Debug for CondvarWait<'_, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CondvarWait")
            .field("terminated", &self.core.is_terminated())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The future returned by [`Condvar::wait_while`]; resolves to the guard once the
    /// condition is `false`.
    ///
    /// `!Unpin`, like [`CondvarWait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::WaitWhile, Condvar, Mutex, MutexGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let (mutex, cv) = (Mutex::new(5), Condvar::new());
    /// let wait: WaitWhile<'_, MutexGuard<'_, i32>, _> = cv.wait_while(mutex.lock().await, |v| *v < 5);
    /// assert_eq!(*wait.await, 5); // the condition was already false
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct WaitWhile<'a, G: CondvarGuard, F> {
        #[pin]
        core: WaitCore<'a, G>,
        condition: F,
        // The lock is held and the condition must be checked before waiting.
        check: bool,
    }
}

impl<G, F> Drive for WaitWhile<'_, G, F>
where
    G: CondvarGuard,
    F: FnMut(&mut G::Target) -> bool,
{
    type Output = G;

    fn drive<S: Strategy>(self: Pin<&mut Self>, strategy: &mut S) -> Poll<G> {
        let mut this = self.project();
        loop {
            if *this.check {
                let mut guard = this.core.as_mut().take_guard();
                if !(this.condition)(&mut guard) {
                    return Poll::Ready(guard);
                }
                this.core.as_mut().put_guard(guard);
                *this.check = false;
            }
            let guard = ready!(this.core.as_mut().poll_core(strategy));
            this.core.as_mut().put_guard(guard);
            *this.check = true;
        }
    }
}

impl<G, F> Future for WaitWhile<'_, G, F>
where
    G: CondvarGuard,
    F: FnMut(&mut G::Target) -> bool,
{
    type Output = G;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G> {
        self.drive(&mut Async(cx.waker()))
    }
}

impl<G, F> futures_core::future::FusedFuture for WaitWhile<'_, G, F>
where
    G: CondvarGuard,
    F: FnMut(&mut G::Target) -> bool,
{
    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }
}

impl<G: CondvarGuard, F> fmt::Debug for WaitWhile<'_, G, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitWhile")
            .field("terminated", &self.core.is_terminated())
            .finish_non_exhaustive()
    }
}

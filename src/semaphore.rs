//! A counting semaphore: [`Semaphore`], its permits, futures and errors.

use alloc::sync::Arc;
use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::queue::Node;
use crate::raw::semaphore::{
    cancel_acquire, overflow, overflow_unless_unwinding, poll_acquire, Closed, RawSemaphore,
    TryFail, MAX_PERMITS,
};
use crate::raw::wait::Strategy;
use crate::sync::const_fn;

/// A counting semaphore: caps how many holders may proceed at once.
///
/// Permits are taken with [`acquire`](Semaphore::acquire) / [`acquire_many`](Semaphore::acquire_many)
/// (or their `_blocking` twins on threads) and given back when the returned permit is dropped,
/// so no code path can release more than it took. [`add_permits`](Semaphore::add_permits)
/// grows the pool; [`close`](Semaphore::close) fails every current and future wait.
///
/// # Fairness
///
/// Strictly first in, first out, as in tokio: waiters are served in the order they started
/// waiting, whatever they ask for. While anyone waits, returned permits go to the first waiter
/// until it has all it asked for, then to the next; nobody else, `try_acquire` included, takes
/// any. So `acquire_many(n)` is never starved by a stream of `acquire()` calls, and a later
/// `acquire_many(3)` never overtakes a queued `acquire_many(5)`, even with 4 permits free (the
/// first waiter holds those 4 while it waits for the fifth, and
/// [`available_permits`](Semaphore::available_permits) reports 0).
///
/// The other side of that rule: a waiter asking for more permits than will ever be free at
/// once waits for ever, and every waiter behind it too.
///
/// A task that finds too few permits while nobody is queued spins before it queues, trying
/// again whenever enough look free: for up to a few microseconds while such spins have been
/// paying off on its thread (its holders run on other threads and let go soon), otherwise for
/// a few short rounds, as a [`Mutex`](crate::Mutex) waiter does. It stops as soon as anyone
/// queues, and once anyone is queued, tasks queue at once. With permits held across an
/// `.await`, spins fail and soon shrink to the short rounds.
///
/// # Limits
///
/// A semaphore holds at most [`Semaphore::MAX_PERMITS`] permits. Asking for more panics
/// (`acquire_many`, `try_acquire_many` and their twins alike), since such a call could never
/// succeed. Asking for zero permits succeeds at once unless the semaphore is closed, for
/// `acquire_many(0)` and `try_acquire_many(0)` alike, whoever waits. Returning permits past the
/// limit (with [`add_permits`](Semaphore::add_permits), or by dropping a permit after
/// `add_permits` filled the semaphore up) panics; see there. So does an acquire that ends
/// without its permits (its future dropped, a blocking wait timing out, or a wait that finds
/// the semaphore closed) holding permits it had collected (a weighted wait served in part, or
/// a wait served but not polled since) when they no longer fit: permits are never lost
/// silently, except while the thread is already unwinding from another panic (a second
/// panic would abort the process). Telling that a thread is unwinding needs the `std`
/// feature: without it such a drop panics again, which aborts.
///
/// # Leaks
///
/// A permit that is leaked (`mem::forget`) is never returned, as with
/// [`forget`](SemaphorePermit::forget). A wait future that is leaked while queued keeps its
/// place: when its turn comes it is handed its permits, which are never returned (as with a
/// leaked permit), and the waiters behind it are served as usual. Drop futures you no longer
/// need (every future here is cancel-safe).
///
/// # Size
///
/// `Semaphore` is 16 bytes on 64-bit targets: a state word and a pointer to its wait queue. The
/// queue is allocated when the semaphore first has to make someone wait; waiting allocates
/// nothing more (the waiter's place in the queue is inside its future).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::Semaphore;
///
/// # futures::executor::block_on(async {
/// let connections = Arc::new(Semaphore::new(2));
/// let a = connections.acquire().await.unwrap();
/// let _b = connections.acquire().await.unwrap();
/// assert!(connections.try_acquire().is_err());
/// drop(a);
/// assert!(connections.try_acquire().is_ok());
/// # });
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold: `usize::MAX >> 3`.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::Semaphore;
    ///
    /// let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    /// assert_eq!(sem.available_permits(), usize::MAX >> 3);
    /// ```
    pub const MAX_PERMITS: usize = MAX_PERMITS;

    const_fn! {
        /// Creates a semaphore with `permits` permits.
        ///
        /// # Panics
        ///
        /// Panics if `permits` exceeds [`Semaphore::MAX_PERMITS`].
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::Semaphore;
        ///
        /// static LIMIT: Semaphore = Semaphore::new(8);
        /// assert_eq!(LIMIT.available_permits(), 8);
        /// ```
        #[track_caller]
        #[doc(alias = "const_new")]
        pub const fn new(permits: usize) -> Semaphore {
            Semaphore { raw: RawSemaphore::new(permits) }
        }
    }

    /// Returns the number of permits available right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// let _p = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[inline]
    pub fn available_permits(&self) -> usize {
        self.raw.available()
    }

    /// Adds `n` permits and wakes waiters that can use them. Adding zero does nothing.
    ///
    /// # Panics
    ///
    /// Panics if the available permits would exceed [`Semaphore::MAX_PERMITS`]. With nobody
    /// waiting the semaphore is then unchanged; with waiters, the permits they were waiting
    /// for are handed to them first, and the rest is refused whole (none of it is added, even
    /// the part that would have fitted); the message says how many went to waiters and how
    /// many were refused. A permit dropped into a semaphore that `add_permits` has filled up
    /// meanwhile panics too (see [`SemaphorePermit`]); while that drop has not taken its
    /// permits back out, `add_permits` counts them and may refuse permits that would fit once
    /// it has.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    #[doc(alias = "release")]
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        if let Err(refused) = self.raw.release(n) {
            overflow("adding", n, refused);
        }
    }

    /// Takes up to `n` available permits away for good; returns how many it took.
    ///
    /// Only permits that are free right now are taken: held permits are not touched, and
    /// while anyone waits no permit is free (they go to the waiters first), so nothing is
    /// taken then. Like tokio's method of the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(5);
    /// let held = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.forget_permits(4), 3); // only 3 were free
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.raw.forget(n)
    }

    /// Closes the semaphore: every pending and later acquire fails with an error.
    ///
    /// Waiting tasks and threads are all woken, and fail as one: once one queued acquire has
    /// failed, any other polled after it fails too, and permits returned while `close` is
    /// still waking them go back to the count, not to a waiter. An acquire that was served
    /// before `close` but is polled only after it fails too (it was still pending for its
    /// caller), and the permits it had been given go back to the count. Permits already held stay
    /// valid and are returned as usual when dropped. Closing twice does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    pub fn close(&self) {
        self.raw.close();
    }

    /// Returns whether [`close`](Semaphore::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// Acquires one permit, waiting until one is available.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes returns every permit it had set
    /// aside and passes any wake-up it had received to the next waiter, so the semaphore is as
    /// if `acquire` had never been called.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let sem = unisync::Semaphore::new(1);
    /// let permit = sem.acquire().await.unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        self.acquire_many(1)
    }

    /// Acquires `n` permits at once, waiting until they are available.
    ///
    /// `n == 0` succeeds at once on an open semaphore. The wait is first in, first out (see
    /// [Fairness](Semaphore#fairness)): if `n` is more than will ever be free at once, it waits
    /// for ever, and so does everyone queued behind it.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`]: such a wait could never finish.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`acquire`](Semaphore::acquire): permits the future had collected
    /// are returned when it is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let sem = unisync::Semaphore::new(5);
    /// let permits = sem.acquire_many(3).await.unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// drop(permits);
    /// assert_eq!(sem.available_permits(), 5);
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            shell: Shell::new(self, AcquireKind::new(n)),
        }
    }

    /// Acquires one permit if one is available right now.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free (which is always the case while anyone
    /// waits), [`TryAcquireError::Closed`] if the semaphore is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// ```
    #[inline]
    #[must_use = "if unused the permits are released at once"]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Acquires `n` permits if they are all available right now.
    ///
    /// `n == 0` succeeds unless the semaphore is closed.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`], as
    /// [`acquire_many`](Semaphore::acquire_many) does.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(2);
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    #[inline]
    #[track_caller]
    #[must_use = "if unused the permits are released at once"]
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        check_request(n);
        self.raw.try_acquire(n).map_err(TryAcquireError::from)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Acquires one permit of a semaphore behind an `Arc`, yielding an owned, `'static` permit.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// let permit = sem.acquire_owned().await.unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    #[inline]
    #[doc(alias = "acquire_arc")]
    pub fn acquire_owned(self: &Arc<Self>) -> AcquireOwned {
        self.acquire_many_owned(1)
    }

    /// Acquires `n` permits of a semaphore behind an `Arc`, yielding an owned permit.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(unisync::Semaphore::new(4));
    /// let permit = sem.acquire_many_owned(4).await.unwrap();
    /// assert_eq!(permit.num_permits(), 4);
    /// # });
    /// ```
    #[inline]
    #[track_caller]
    pub fn acquire_many_owned(self: &Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            shell: Shell::new(self.clone(), AcquireKind::new(n)),
        }
    }

    /// Acquires one owned permit if one is available right now.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// let permit = sem.try_acquire_owned().unwrap();
    /// assert!(sem.try_acquire_owned().is_err());
    /// ```
    #[inline]
    #[must_use = "if unused the permits are released at once"]
    #[doc(alias = "try_acquire_arc")]
    pub fn try_acquire_owned(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Acquires `n` owned permits if they are all available right now.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(3));
    /// assert_eq!(sem.try_acquire_many_owned(3).unwrap().num_permits(), 3);
    /// ```
    #[track_caller]
    #[must_use = "if unused the permits are released at once"]
    pub fn try_acquire_many_owned(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        check_request(n);
        self.raw.try_acquire(n).map_err(TryAcquireError::from)?;
        Ok(OwnedSemaphorePermit {
            sem: self.clone(),
            permits: n,
        })
    }

    /// Acquires one permit of a semaphore behind an `Arc`, parking the current thread until
    /// one is available; the permit is owned and `'static`.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// let permit = sem.acquire_owned_blocking().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_acquire_owned")]
    #[doc(alias = "acquire_arc_blocking")]
    pub fn acquire_owned_blocking(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned_blocking(1)
    }

    /// Acquires `n` permits of a semaphore behind an `Arc`, parking the current thread until
    /// they are available.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(3));
    /// assert_eq!(sem.acquire_many_owned_blocking(3).unwrap().num_permits(), 3);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn acquire_many_owned_blocking(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        crate::raw::wait::block_on(
            self.acquire_many_owned(n),
            crate::raw::wait::Deadline::Never,
        )
        .expect("a wait without deadline completes")
    }

    /// Acquires one owned permit, parking the current thread for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`] if no permit came in time (the semaphore is then as
    /// if this call had never been made), [`AcquireTimeoutError::Closed`] if it was closed.
    ///
    /// A permit comes when it is handed to this waiter. One release that serves many waiters
    /// (a large [`add_permits`](Semaphore::add_permits)) hands its permits out in order, a
    /// batch of waiters at a time; permits it has not handed to this thread when the time runs
    /// out go to the waiters behind it, or back to the semaphore.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::{AcquireTimeoutError, Semaphore};
    ///
    /// let sem = Arc::new(Semaphore::new(0));
    /// let err = sem.acquire_owned_blocking_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, AcquireTimeoutError::Timeout);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn acquire_owned_blocking_timeout(
        self: &Arc<Self>,
        timeout: core::time::Duration,
    ) -> Result<OwnedSemaphorePermit, AcquireTimeoutError> {
        self.acquire_many_owned_blocking_timeout(1, timeout)
    }

    /// Acquires `n` owned permits, parking the current thread for at most `timeout`.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// As [`acquire_owned_blocking_timeout`](Semaphore::acquire_owned_blocking_timeout).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(2));
    /// let permits = sem.acquire_many_owned_blocking_timeout(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(permits.num_permits(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn acquire_many_owned_blocking_timeout(
        self: &Arc<Self>,
        n: usize,
        timeout: core::time::Duration,
    ) -> Result<OwnedSemaphorePermit, AcquireTimeoutError> {
        let deadline = crate::raw::wait::deadline(timeout);
        match crate::raw::wait::block_on(self.acquire_many_owned(n), deadline) {
            Some(Ok(permit)) => Ok(permit),
            Some(Err(AcquireError(()))) => Err(AcquireTimeoutError::Closed),
            None => Err(AcquireTimeoutError::Timeout),
        }
    }

    /// Acquires one permit, parking the current thread until one is available.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(1);
    /// let permit = sem.acquire_blocking().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_acquire")]
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Acquires `n` permits, parking the current thread until they are available.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before this acquire completes,
    /// even if its permits had already been set aside for it (see [`close`](Semaphore::close)).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// let permits = sem.acquire_many_blocking(2).unwrap();
    /// assert_eq!(permits.num_permits(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_acquire_many")]
    #[track_caller]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        crate::raw::wait::block_on(self.acquire_many(n), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Acquires one permit, parking the current thread for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`] if no permit came in time (the semaphore is then as
    /// if this call had never been made), [`AcquireTimeoutError::Closed`] if it was closed.
    ///
    /// A permit comes when it is handed to this waiter. One release that serves many waiters
    /// (a large [`add_permits`](Semaphore::add_permits)) hands its permits out in order, a
    /// batch of waiters at a time; permits it has not handed to this thread when the time runs
    /// out go to the waiters behind it, or back to the semaphore.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{AcquireTimeoutError, Semaphore};
    ///
    /// let sem = Semaphore::new(0);
    /// let err = sem.acquire_blocking_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err, AcquireTimeoutError::Timeout);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn acquire_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        self.acquire_many_blocking_timeout(1, timeout)
    }

    /// Acquires `n` permits, parking the current thread for at most `timeout`.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// # Errors
    ///
    /// As [`acquire_blocking_timeout`](Semaphore::acquire_blocking_timeout).
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = unisync::Semaphore::new(2);
    /// let permits = sem.acquire_many_blocking_timeout(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(permits.num_permits(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[track_caller]
    pub fn acquire_many_blocking_timeout(
        &self,
        n: usize,
        timeout: core::time::Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        match crate::raw::wait::block_on(self.acquire_many(n), crate::raw::wait::deadline(timeout))
        {
            Some(Ok(permit)) => Ok(permit),
            Some(Err(AcquireError(()))) => Err(AcquireTimeoutError::Closed),
            None => Err(AcquireTimeoutError::Timeout),
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    fn default() -> Self {
        Semaphore::new(0)
    }
}

/// Panics if `n` permits could never be acquired.
#[inline]
#[track_caller]
fn check_request(n: usize) {
    if n > MAX_PERMITS {
        too_many_permits(n);
    }
}

#[cold]
#[track_caller]
fn too_many_permits(n: usize) -> ! {
    panic!(
        "cannot acquire {n} permits: a semaphore holds at most `Semaphore::MAX_PERMITS` \
         ({MAX_PERMITS})"
    )
}

/// The permits of two guards merged into one, which must be able to give them all back.
#[inline]
#[track_caller]
fn merged(held: usize, added: usize) -> usize {
    // Each guard holds at most `MAX_PERMITS`, so the sum cannot wrap.
    let sum = held + added;
    if sum > MAX_PERMITS {
        merge_too_large(held, added);
    }
    sum
}

#[cold]
#[track_caller]
fn merge_too_large(held: usize, added: usize) -> ! {
    panic!(
        "cannot merge permits of {held} and {added}: one permit holds at most \
         `Semaphore::MAX_PERMITS` ({MAX_PERMITS})"
    )
}

/// Returns a permit guard's permits.
#[inline]
#[track_caller]
fn release_held(sem: &Semaphore, n: usize) {
    if let Err(refused) = sem.raw.return_held(n) {
        overflow_unless_unwinding(n, refused);
    }
}

/// A reference to a [`Semaphore`] that an acquire future holds: borrowed or an `Arc`.
pub(crate) trait SemaphoreRef {
    type Permit;

    fn semaphore(&self) -> &Semaphore;

    /// Makes the guard for `permits` permits the caller holds.
    fn into_permit(self, permits: usize) -> Self::Permit;
}

impl<'a> SemaphoreRef for &'a Semaphore {
    type Permit = SemaphorePermit<'a>;

    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self
    }

    #[inline]
    fn into_permit(self, permits: usize) -> SemaphorePermit<'a> {
        SemaphorePermit { sem: self, permits }
    }
}

impl SemaphoreRef for Arc<Semaphore> {
    type Permit = OwnedSemaphorePermit;

    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self
    }

    #[inline]
    fn into_permit(self, permits: usize) -> OwnedSemaphorePermit {
        OwnedSemaphorePermit { sem: self, permits }
    }
}

/// The acquire wait, shared by [`Acquire`] and [`AcquireOwned`].
pub(crate) struct AcquireKind<R> {
    /// The permits asked for, less one (wrapping, within `MAX_PERMITS`): `acquire()` starts
    /// as a zero word, which the future's layout wants (see `Shell`). The top bit says the
    /// wait has been in its slow path.
    need_less_one: usize,
    _source: PhantomData<fn() -> R>,
}

const ACQUIRE_SLOW: usize = 1 << (usize::BITS - 1);

impl<R> AcquireKind<R> {
    #[inline]
    #[track_caller]
    fn new(need: usize) -> Self {
        check_request(need);
        AcquireKind {
            need_less_one: need.wrapping_sub(1) & MAX_PERMITS,
            _source: PhantomData,
        }
    }

    #[inline]
    fn need(&self) -> usize {
        self.need_less_one.wrapping_add(1) & MAX_PERMITS
    }
}

impl<R: SemaphoreRef> WaitKind for AcquireKind<R> {
    type Source = R;
    type Ready = Result<(), Closed>;
    type Output = Result<R::Permit, AcquireError>;

    #[inline(always)]
    fn poll<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        source: &R,
        strategy: &mut S,
    ) -> Poll<Result<(), Closed>> {
        let raw = &source.semaphore().raw;
        if self.need_less_one & ACQUIRE_SLOW == 0 {
            // The uncontended case, inlined into the caller: a new wait is not queued.
            match raw.try_acquire(self.need()) {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(TryFail::Closed) => return Poll::Ready(Err(Closed)),
                Err(TryFail::NoPermits) => self.need_less_one |= ACQUIRE_SLOW,
            }
        }
        poll_acquire(node, raw, self.need(), strategy)
    }

    #[inline(always)]
    fn finish(&mut self, ready: Result<(), Closed>, source: R) -> Result<R::Permit, AcquireError> {
        match ready {
            Ok(()) => Ok(source.into_permit(self.need())),
            Err(Closed) => Err(AcquireError(())),
        }
    }

    fn cancel(&mut self, node: Pin<&Node>, source: &R) {
        cancel_acquire(node, &source.semaphore().raw, self.need());
    }
}

pin_project! {
    /// The future returned by [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
    ///
    /// The future holds the waiter's place in the semaphore's queue, so it is `!Unpin`:
    /// `.await` pins it for you; to keep one in a struct or poll it by hand, pin it with
    /// [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Panics
    ///
    /// Dropping the future, or polling it after [`close`](Semaphore::close), gives back the
    /// permits it had collected for its caller; if [`add_permits`](Semaphore::add_permits)
    /// filled the semaphore up to [`Semaphore::MAX_PERMITS`] meanwhile, that drop or poll
    /// panics as dropping a [`SemaphorePermit`] would.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::Acquire, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let fut: Acquire<'_> = sem.acquire();
    /// assert!(fut.await.is_ok());
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct Acquire<'a> {
        #[pin]
        shell: Shell<AcquireKind<&'a Semaphore>>,
    }
}

wait_future!(Acquire ['a] ['a] -> Result<SemaphorePermit<'a>, AcquireError>);

pin_project! {
    /// The future returned by [`Semaphore::acquire_owned`] and
    /// [`Semaphore::acquire_many_owned`].
    ///
    /// `!Unpin`, like [`Acquire`].
    ///
    /// # Panics
    ///
    /// Dropping or polling it can panic at [`Semaphore::MAX_PERMITS`], as [`Acquire`] can.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::AcquireOwned, Semaphore};
    ///
    /// # futures::executor::block_on(async {
    /// let sem = Arc::new(Semaphore::new(1));
    /// let fut: AcquireOwned = sem.acquire_owned();
    /// assert!(fut.await.is_ok());
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct AcquireOwned {
        #[pin]
        shell: Shell<AcquireKind<Arc<Semaphore>>>,
    }
}

wait_future!(AcquireOwned [] [] -> Result<OwnedSemaphorePermit, AcquireError>);

/// Permits borrowed from a [`Semaphore`]; they go back when this is dropped.
///
/// # Panics
///
/// Dropping the permit panics if the semaphore cannot take its permits back because
/// [`add_permits`](Semaphore::add_permits) has filled it up to [`Semaphore::MAX_PERMITS`]
/// meanwhile. A permit dropped while its thread is already unwinding from another panic does
/// not panic again (that would abort the process): the permits that do not fit are dropped.
/// Without the `std` feature the crate cannot tell that a thread is unwinding, and such a
/// drop panics again, which aborts.
///
/// The drop returns its permits with one atomic addition and checks the count after it, so
/// until such a drop has taken its permits back out, other threads can acquire them; if
/// acquires bring the count back within the limit first, the drop leaves its permits in and
/// does not panic.
///
/// # Examples
///
/// ```
/// let sem = unisync::Semaphore::new(2);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 1);
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "if unused the permits are released at once"]
#[clippy::has_significant_drop]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// Returns how many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    #[inline]
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken for good: they are not returned to the semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Moves the permits of `other` (from the same semaphore) into this one.
    ///
    /// # Panics
    ///
    /// Panics if `other` belongs to a different semaphore, or if the two hold more than
    /// [`Semaphore::MAX_PERMITS`] together (possible only after
    /// [`add_permits`](Semaphore::add_permits) refilled what they took): one permit could
    /// not give that many back. Each permit then keeps its own, and the panic drops `other`,
    /// which gives its permits back as any dropped permit does.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// let mut a = sem.try_acquire().unwrap();
    /// a.merge(sem.try_acquire_many(2).unwrap());
    /// assert_eq!(a.num_permits(), 3);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: SemaphorePermit<'a>) {
        assert!(
            core::ptr::eq(self.sem, other.sem),
            "merged permits must belong to the same semaphore"
        );
        // Taken from `other` only once they fit: a panic drops it with its permits.
        self.permits = merged(self.permits, other.permits);
        other.permits = 0;
    }

    /// Moves `n` of these permits into a new permit of their own, or returns `None` (and
    /// changes nothing) if this one holds fewer than `n`.
    ///
    /// Each part is returned to the semaphore when it is dropped, so a task can give back part
    /// of what it took while it keeps the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// let mut held = sem.try_acquire_many(3).unwrap();
    /// let part = held.split(1).unwrap();
    /// assert_eq!((held.num_permits(), part.num_permits()), (2, 1));
    /// assert!(held.split(3).is_none());
    /// drop(part);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[must_use = "if unused the split-off permits are released at once"]
    pub fn split(&mut self, n: usize) -> Option<SemaphorePermit<'a>> {
        self.permits = self.permits.checked_sub(n)?;
        Some(SemaphorePermit {
            sem: self.sem,
            permits: n,
        })
    }

    /// Returns the semaphore these permits belong to.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(std::ptr::eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &'a Semaphore {
        self.sem
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        release_held(self.sem, self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// Permits of a [`Semaphore`] behind an `Arc`; `'static`, returned when dropped.
///
/// # Panics
///
/// As for [`SemaphorePermit`]: dropping it panics if the semaphore is full to
/// [`Semaphore::MAX_PERMITS`], unless its thread is already unwinding (which only the `std`
/// feature can tell).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// let sem = Arc::new(unisync::Semaphore::new(1));
/// let permit = sem.try_acquire_owned().unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "if unused the permits are released at once"]
#[clippy::has_significant_drop]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Returns how many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken for good.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// sem.try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Moves the permits of `other` (from the same semaphore) into this one.
    ///
    /// # Panics
    ///
    /// Panics if `other` belongs to a different semaphore, or if the two hold more than
    /// [`Semaphore::MAX_PERMITS`] together (possible only after
    /// [`add_permits`](Semaphore::add_permits) refilled what they took): one permit could
    /// not give that many back. Each permit then keeps its own, and the panic drops `other`,
    /// which gives its permits back as any dropped permit does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(2));
    /// let mut a = sem.try_acquire_owned().unwrap();
    /// a.merge(sem.try_acquire_owned().unwrap());
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: OwnedSemaphorePermit) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "merged permits must belong to the same semaphore"
        );
        // Taken from `other` only once they fit: a panic drops it with its permits.
        self.permits = merged(self.permits, other.permits);
        other.permits = 0;
    }

    /// Moves `n` of these permits into a new permit of their own, or returns `None` (and
    /// changes nothing) if this one holds fewer than `n`.
    ///
    /// Each part is returned to the semaphore when it is dropped, so a task can give back part
    /// of what it took while it keeps the rest.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(3));
    /// let mut held = sem.try_acquire_many_owned(3).unwrap();
    /// let part = held.split(1).unwrap();
    /// assert_eq!((held.num_permits(), part.num_permits()), (2, 1));
    /// assert!(held.split(3).is_none());
    /// drop(part);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[must_use = "if unused the split-off permits are released at once"]
    pub fn split(&mut self, n: usize) -> Option<OwnedSemaphorePermit> {
        self.permits = self.permits.checked_sub(n)?;
        Some(OwnedSemaphorePermit {
            sem: Arc::clone(&self.sem),
            permits: n,
        })
    }

    /// Returns the semaphore these permits belong to.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// let p = sem.try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        release_held(&self.sem, self.permits);
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// The error of an async or blocking acquire: the semaphore was closed.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let sem = unisync::Semaphore::new(0);
/// sem.close();
/// let err = sem.acquire().await.unwrap_err();
/// assert_eq!(err.to_string(), "semaphore closed");
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcquireError(());

impl fmt::Debug for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AcquireError(semaphore closed)")
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for AcquireError {}

/// The error of a `try_acquire*` call.
///
/// An [`AcquireError`] converts into [`TryAcquireError::Closed`], so `?` passes one on from
/// a function that returns this error.
///
/// # Examples
///
/// ```
/// use unisync::{AcquireError, Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// sem.close();
/// let closed: AcquireError = futures::executor::block_on(sem.acquire()).unwrap_err();
/// assert_eq!(TryAcquireError::from(closed), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits were available right now.
    NoPermits,
}

impl From<TryFail> for TryAcquireError {
    fn from(fail: TryFail) -> Self {
        match fail {
            TryFail::Closed => TryAcquireError::Closed,
            TryFail::NoPermits => TryAcquireError::NoPermits,
        }
    }
}

impl From<AcquireError> for TryAcquireError {
    fn from(AcquireError(()): AcquireError) -> Self {
        TryAcquireError::Closed
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for TryAcquireError {}

/// The error of a `*_blocking_timeout` acquire: out of time, or closed.
///
/// An [`AcquireError`] converts into [`AcquireTimeoutError::Closed`], so `?` passes one on
/// from a function that returns this error.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::time::Duration;
/// use unisync::{AcquireTimeoutError, Semaphore};
///
/// let sem = Semaphore::new(0);
/// sem.close();
/// let err = sem.acquire_blocking_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, AcquireTimeoutError::Closed);
/// let err = sem.acquire_blocking().unwrap_err();
/// assert_eq!(AcquireTimeoutError::from(err), AcquireTimeoutError::Closed);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireTimeoutError {
    /// The permits did not become available before the timeout.
    Timeout,
    /// The semaphore was closed.
    Closed,
}

impl From<AcquireError> for AcquireTimeoutError {
    fn from(AcquireError(()): AcquireError) -> Self {
        AcquireTimeoutError::Closed
    }
}

impl fmt::Display for AcquireTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireTimeoutError::Timeout => f.write_str("timed out waiting for permits"),
            AcquireTimeoutError::Closed => f.write_str("semaphore closed"),
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for AcquireTimeoutError {}

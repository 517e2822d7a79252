//! A counting semaphore: [`Semaphore`], its permits, futures and errors.

use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::raw::semaphore::{AcquireWaiter, Closed, RawSemaphore, TryFail, MAX_PERMITS};
use crate::raw::wait::{Async, Strategy, Wait};
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
/// Waiters take permits in the order they reach the semaphore while nobody starves. A waiter
/// that was woken and still found too few permits becomes the *head*: from then on every
/// released permit is set aside for it until it has all it asked for, and everyone else,
/// `try_acquire` included, waits. So `acquire_many(n)` is not starved by a stream of
/// `acquire()` calls. Only one waiter is head at a time, so collecting permits cannot deadlock.
///
/// # Limits
///
/// A semaphore holds at most [`Semaphore::MAX_PERMITS`] permits; asking for more panics, since
/// such a call could never succeed. `acquire_many(0)` succeeds at once on an open semaphore.
///
/// # Size
///
/// `Semaphore` is 16 bytes on 64-bit targets: a state word and one pointer to its two wait
/// queues (every waiter's, and the head waiter's own, so a release wakes the head directly).
/// The queues are allocated when the semaphore first has to make someone wait.
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

    /// Adds `n` permits and wakes waiters that can use them.
    ///
    /// # Panics
    ///
    /// Panics if the total would exceed [`Semaphore::MAX_PERMITS`]; the semaphore is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.raw.release(n);
    }

    /// Closes the semaphore: every pending and later acquire fails with an error.
    ///
    /// Waiting tasks and threads are all woken. Permits already held stay valid and are
    /// returned as usual when dropped. Closing twice does nothing more.
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
    /// Fails with [`AcquireError`] if the semaphore is closed before the permit is acquired.
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
    /// `n == 0` succeeds at once on an open semaphore.
    ///
    /// # Panics
    ///
    /// Panics if `n` exceeds [`Semaphore::MAX_PERMITS`]: such a wait could never finish.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed before the permits are acquired.
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
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            waiter: AcquireWaiter::new(n),
        }
    }

    /// Acquires one permit if one is available right now.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free (or a starving waiter is collecting
    /// permits), [`TryAcquireError::Closed`] if the semaphore is closed.
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
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Acquires `n` permits if they are all available right now.
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
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
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
    /// Fails with [`AcquireError`] if the semaphore is closed first.
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
    /// let permit = sem.clone().acquire_owned().await.unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
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
    /// Fails with [`AcquireError`] if the semaphore is closed first.
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
    /// let permit = sem.clone().acquire_many_owned(4).await.unwrap();
    /// assert_eq!(permit.num_permits(), 4);
    /// # });
    /// ```
    #[inline]
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned {
            waiter: AcquireWaiter::new(n),
            sem: Some(self),
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
    /// let permit = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// ```
    #[inline]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Acquires `n` owned permits if they are all available right now.
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
    /// assert_eq!(sem.clone().try_acquire_many_owned(3).unwrap().num_permits(), 3);
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.raw.try_acquire(n).map_err(TryAcquireError::from)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Acquires one permit, parking the current thread until one is available.
    ///
    /// # Errors
    ///
    /// Fails with [`AcquireError`] if the semaphore is closed first.
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
    /// Fails with [`AcquireError`] if the semaphore is closed first.
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
    #[doc(alias = "blocking_acquire_many")]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        crate::raw::wait::block_on(self.acquire_many(n), None)
            .expect("a wait without deadline completes")
    }

    /// Acquires one permit, parking the current thread for at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`] if no permit came in time (the semaphore is then as
    /// if this call had never been made), [`AcquireTimeoutError::Closed`] if it was closed.
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

/// The future returned by [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
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
#[repr(C)]
pub struct Acquire<'a> {
    // The waiter's two words first, both zero for `acquire()`, then the reference (see
    // `Lock`). The waiter knows when it is done.
    waiter: AcquireWaiter,
    sem: &'a Semaphore,
}

impl<'a> Wait for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    #[inline]
    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        assert!(!self.waiter.is_done(), "`Acquire` polled after completion");
        let sem = self.sem;
        let res = match self.waiter.poll_acquire(&sem.raw, strategy) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(res) => res,
        };
        Poll::Ready(match res {
            Ok(()) => Ok(SemaphorePermit {
                sem,
                permits: self.waiter.need(),
            }),
            Err(Closed) => Err(AcquireError(())),
        })
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.waiter.is_done() {
            self.waiter.cancel(&self.sem.raw);
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.waiter.need())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Semaphore::acquire_owned`] and [`Semaphore::acquire_many_owned`].
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
pub struct AcquireOwned {
    sem: Option<Arc<Semaphore>>,
    waiter: AcquireWaiter,
}

impl Wait for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    #[inline]
    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output> {
        let sem = self
            .sem
            .as_ref()
            .expect("`AcquireOwned` polled after completion");
        let res = match self.waiter.poll_acquire(&sem.raw, strategy) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(res) => res,
        };
        let sem = self.sem.take().expect("checked above");
        Poll::Ready(match res {
            Ok(()) => Ok(OwnedSemaphorePermit {
                sem,
                permits: self.waiter.need(),
            }),
            Err(Closed) => Err(AcquireError(())),
        })
    }
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().poll_wait(&mut Async(cx))
    }
}

impl Drop for AcquireOwned {
    #[inline]
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            self.waiter.cancel(&sem.raw);
        }
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.waiter.need())
            .finish_non_exhaustive()
    }
}

/// Permits borrowed from a [`Semaphore`]; they go back when this is dropped.
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
    /// Panics if `other` belongs to a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = unisync::Semaphore::new(3);
    /// let mut a = sem.try_acquire().unwrap();
    /// a.merge(sem.try_acquire_many(2).unwrap());
    /// assert_eq!(a.num_permits(), 3);
    /// ```
    pub fn merge(&mut self, mut other: SemaphorePermit<'a>) {
        assert!(
            core::ptr::eq(self.sem, other.sem),
            "merged permits must belong to the same semaphore"
        );
        self.permits += core::mem::take(&mut other.permits);
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
        self.sem.raw.release_held(self.permits);
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
/// # Examples
///
/// ```
/// use std::sync::Arc;
///
/// let sem = Arc::new(unisync::Semaphore::new(1));
/// let permit = sem.clone().try_acquire_owned().unwrap();
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
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// Moves the permits of `other` (from the same semaphore) into this one.
    ///
    /// # Panics
    ///
    /// Panics if `other` belongs to a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(2));
    /// let mut a = sem.clone().try_acquire_owned().unwrap();
    /// a.merge(sem.clone().try_acquire_owned().unwrap());
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    pub fn merge(&mut self, mut other: OwnedSemaphorePermit) {
        assert!(
            Arc::ptr_eq(&self.sem, &other.sem),
            "merged permits must belong to the same semaphore"
        );
        self.permits += core::mem::take(&mut other.permits);
    }

    /// Returns the semaphore these permits belong to.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let sem = Arc::new(unisync::Semaphore::new(1));
    /// let p = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(p.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.raw.release_held(self.permits);
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AcquireError {}

/// The error of a `try_acquire*` call.
///
/// # Examples
///
/// ```
/// use unisync::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TryAcquireError {}

/// The error of a `*_blocking_timeout` acquire: out of time, or closed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use unisync::{AcquireTimeoutError, Semaphore};
///
/// let sem = Semaphore::new(0);
/// sem.close();
/// let err = sem.acquire_blocking_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, AcquireTimeoutError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireTimeoutError {
    /// The permits did not become available before the timeout.
    Timeout,
    /// The semaphore was closed.
    Closed,
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
impl std::error::Error for AcquireTimeoutError {}

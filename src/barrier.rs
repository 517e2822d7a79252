//! A reusable rendezvous point: [`Barrier`], its future, result and errors.

use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::barrier::{BarrierWaiter, Broken, RawBarrier, MAX_PARTIES};
use crate::raw::queue::Node;
use crate::raw::wait::Strategy;
use crate::sync::const_fn;

/// A reusable barrier: `parties` tasks or threads wait until all of them have arrived.
///
/// Each call to [`wait`](Barrier::wait) (or [`wait_blocking`](Barrier::wait_blocking) on a
/// thread) counts one party. When the last of `parties` arrives, the barrier *trips*: every
/// party of that generation is released, and the barrier starts filling again for the next
/// generation. A party that arrives right after a trip counts toward the next generation. It
/// follows Python's `threading.Barrier`: one party per generation is the leader, the barrier
/// can be [`abort`](Barrier::abort)ed (broken) and [`reset`](Barrier::reset).
///
/// # Leader and indices
///
/// Every party of a generation gets a [`BarrierWaitResult`] with a distinct
/// [`index`](BarrierWaitResult::index) in `0..parties`. Indices are handed out in the order
/// the parties collect their result after the trip: the party whose arrival trips the barrier
/// usually collects first. Index 0 is the [leader](BarrierWaitResult::is_leader), so there is
/// exactly one leader per generation among the parties that return.
///
/// The one exception is a waker that panics (see the crate's feature flags for what that
/// does). A party whose collecting trips the next generation wakes that generation's
/// parties, after it took its own index; if one of their wakers panics, the panic comes out
/// of this party's wait and its index is lost with its result. If that was index 0, its
/// generation returns without a leader.
///
/// # Generations and collecting
///
/// A generation trips only after every party of the previous one has collected its result
/// (returned from `wait`, or dropped its future). Parties woken by a trip collect as soon as
/// they run, so this costs nothing in practice; but a future that was released and is then
/// neither polled nor dropped holds the next generation back. When there are exactly `parties`
/// tasks this cannot happen, since each is needed in the next generation anyway.
///
/// A party that arrives again while the generation it left is still collecting is counted in
/// the next generation at once. So an [`abort`](Barrier::abort) or [`reset`](Barrier::reset)
/// made right after a trip, by the last party to collect say, fails the parties that are
/// already back. Python holds such a party outside, uncounted, until the whole generation has
/// left; with `asyncio`, whose tasks run one at a time, a reset made by the last party to
/// leave then always comes first and lets them into the fresh generation (with threads it is
/// a race there too). Holding them back here would cost each party that comes back early a
/// second wake-up per generation. To reset between generations, do it before the parties can
/// come back (behind a second barrier, as Python's own tests do), or have them retry on
/// [`BarrierError`].
///
/// # Cancellation and timeouts
///
/// A party whose future is dropped before the trip withdraws: the count goes down and the
/// barrier waits for another party in its place. A blocking wait that times out withdraws the
/// same way; unlike Python, a timeout does **not** break the barrier, and the other parties
/// simply keep waiting. Once a generation has tripped its result stands: dropping a released
/// future does not undo the trip for anyone.
///
/// # Fairness
///
/// There is no queue order: a trip releases all parties of the generation together.
///
/// # Size
///
/// `Barrier` is 24 bytes on 64-bit targets: a state word, the party count and a pointer to its
/// wait queue.
///
/// # Leaks
///
/// A wait future leaked (`mem::forget`) after it arrived stays counted: its generation trips
/// with one party fewer to come, but the leaked party never collects its result, and a
/// generation cannot start until every result of the one before is collected. So no later
/// generation ever trips, [`reset`](Barrier::reset) included. Drop futures you no longer need
/// (every future here is cancel-safe).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use unisync::Barrier;
///
/// # futures::executor::block_on(async {
/// let barrier = Arc::new(Barrier::new(3));
/// let parties = (0..3).map(|_| {
///     let barrier = barrier.clone();
///     async move { barrier.wait().await.unwrap() }
/// });
/// let results = futures::future::join_all(parties).await;
/// assert_eq!(results.iter().filter(|r| r.is_leader()).count(), 1);
/// # });
/// ```
pub struct Barrier {
    raw: RawBarrier,
}

impl Barrier {
    /// Test only: the raw barrier underneath.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn raw(&self) -> &RawBarrier {
        &self.raw
    }

    /// The most parties a barrier can have: `2^20 - 1` on 64-bit targets, `2^9 - 1` on 32-bit
    /// ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::Barrier;
    ///
    /// let barrier = Barrier::new(Barrier::MAX_PARTIES);
    /// assert_eq!(barrier.parties(), Barrier::MAX_PARTIES);
    /// ```
    pub const MAX_PARTIES: usize = MAX_PARTIES;

    const_fn! {
        /// Creates a barrier that trips when `parties` parties have arrived.
        ///
        /// # Panics
        ///
        /// Panics if `parties` is 0 (nothing could ever wait on it) or exceeds
        /// [`Barrier::MAX_PARTIES`].
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::Barrier;
        ///
        /// static START: Barrier = Barrier::new(4);
        /// assert_eq!(START.parties(), 4);
        /// ```
        #[track_caller]
        pub const fn new(parties: usize) -> Barrier {
            Barrier { raw: RawBarrier::new(parties) }
        }
    }

    /// Returns the number of parties needed to trip the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(unisync::Barrier::new(2).parties(), 2);
    /// ```
    pub fn parties(&self) -> usize {
        self.raw.parties()
    }

    /// Returns the number of parties waiting in the generation now filling.
    ///
    /// While the barrier is broken, or a [`reset`](Barrier::reset) waits for the parties that
    /// had arrived to leave, no generation is filling and this is 0 (as Python's `n_waiting`
    /// is): those parties are about to fail, not waiting to trip.
    ///
    /// It can briefly equal [`parties`](Barrier::parties), which Python's never does: a
    /// generation that fills while the parties of the previous one are still collecting their
    /// results trips once the last of them has.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    ///
    /// let barrier = unisync::Barrier::new(2);
    /// let mut wait = Box::pin(barrier.wait());
    /// assert!(wait.as_mut().now_or_never().is_none());
    /// assert_eq!(barrier.n_waiting(), 1);
    /// drop(wait); // withdraws
    /// assert_eq!(barrier.n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.raw.n_waiting()
    }

    /// Returns whether the barrier is broken by [`abort`](Barrier::abort).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = unisync::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// barrier.reset();
    /// assert!(!barrier.is_broken());
    /// ```
    #[doc(alias = "broken")]
    pub fn is_broken(&self) -> bool {
        self.raw.is_broken()
    }

    /// Breaks the barrier: every party waiting now, and every later `wait`, fails with
    /// [`BarrierError`] until [`reset`](Barrier::reset).
    ///
    /// Parties of a generation that had already tripped still get their results. A party
    /// that waits to enter a full generation (one that tripped while the previous one had
    /// not finished leaving) is not counted in any generation yet: it fails when it next
    /// looks at the barrier, unless a `reset` came first; then it enters the fresh
    /// generation, as a thread waiting to enter a Python `threading.Barrier` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let barrier = unisync::Barrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.wait().await.is_err());
    /// # });
    /// ```
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// Returns the barrier to its empty, unbroken state.
    ///
    /// Parties waiting at the moment of the reset are woken and fail with [`BarrierError`];
    /// parties that arrive afterwards wait until those have left, then fill a fresh
    /// generation. Parties of a generation that had already tripped still get their results.
    /// A party still waiting to enter a full generation (see [`abort`](Barrier::abort)) was
    /// not counted in one: it is not failed, and it enters the fresh generation.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    ///
    /// let barrier = unisync::Barrier::new(2);
    /// let mut early = Box::pin(barrier.wait());
    /// assert!(early.as_mut().now_or_never().is_none());
    /// barrier.reset();
    /// assert!(early.now_or_never().unwrap().is_err());
    /// assert_eq!(barrier.n_waiting(), 0);
    /// ```
    pub fn reset(&self) {
        self.raw.reset();
    }

    /// Waits until `parties` parties have called `wait`, then returns this party's result.
    ///
    /// The trip ends the wait of every party of its generation in one step, as seen by
    /// whoever polls them: once one of them has completed, any other polled after it
    /// completes too.
    ///
    /// # Errors
    ///
    /// Fails with [`BarrierError`] if the barrier is broken ([`abort`](Barrier::abort)) or
    /// [`reset`](Barrier::reset) before this party's generation trips.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before the barrier trips withdraws this party: the
    /// count goes down and the barrier waits for another party instead. Dropping it after the
    /// trip gives up this party's result and nothing else: the generation stays tripped and
    /// the other parties keep their results (the leader is then one of them).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let barrier = unisync::Barrier::new(1);
    /// let result = barrier.wait().await.unwrap();
    /// assert!(result.is_leader());
    /// assert_eq!(result.index(), 0);
    /// # });
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            shell: Shell::new(self, BarrierKind(BarrierWaiter::new(), PhantomData)),
        }
    }

    /// Parks the current thread until `parties` parties have arrived.
    ///
    /// Threads and tasks may be parties of the same generation.
    ///
    /// # Errors
    ///
    /// As [`wait`](Barrier::wait): [`BarrierError`] if the barrier is broken or reset first.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use [`wait`](Barrier::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::Barrier;
    ///
    /// let barrier = Arc::new(Barrier::new(2));
    /// let other = {
    ///     let barrier = barrier.clone();
    ///     std::thread::spawn(move || barrier.wait_blocking().unwrap())
    /// };
    /// let mine = barrier.wait_blocking().unwrap();
    /// let theirs = other.join().unwrap();
    /// assert_ne!(mine.index(), theirs.index());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait")]
    pub fn wait_blocking(&self) -> Result<BarrierWaitResult, BarrierError> {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline finished")
    }

    /// Parks the current thread until `parties` parties have arrived or `timeout` passes.
    ///
    /// On timeout this party withdraws exactly as a dropped [`wait`](Barrier::wait) future
    /// does: the barrier is **not** broken (unlike Python), and the other parties keep waiting
    /// for a party to take this one's place. If the barrier trips just as the time runs out,
    /// the trip wins and the call returns its result.
    ///
    /// # Errors
    ///
    /// [`BarrierTimeoutError::Timeout`] if the barrier did not trip in time,
    /// [`BarrierTimeoutError::Broken`] if it was broken or reset first.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use [`wait`](Barrier::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{Barrier, BarrierTimeoutError};
    ///
    /// let barrier = Barrier::new(2);
    /// let err = barrier.wait_blocking_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, BarrierTimeoutError::Timeout);
    /// assert_eq!(barrier.n_waiting(), 0); // withdrawn, not broken
    /// assert!(!barrier.is_broken());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait_timeout")]
    pub fn wait_blocking_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Result<BarrierWaitResult, BarrierTimeoutError> {
        let mut wait = core::pin::pin!(self.wait());
        let deadline = crate::raw::wait::deadline(timeout);
        match crate::raw::wait::block_on_pinned(wait.as_mut(), deadline) {
            Some(Ok(result)) => Ok(result),
            Some(Err(BarrierError(()))) => Err(BarrierTimeoutError::Broken),
            // Withdraw, unless the generation tripped at the deadline: then the trip stands.
            None => {
                let (node, source, kind) = wait.project().shell.parts();
                // The wait ends here: its drop has nothing left to withdraw.
                source.take();
                match kind.0.give_up(node, &self.raw) {
                    Some(Ok(index)) => Ok(BarrierWaitResult { index }),
                    Some(Err(Broken)) => Err(BarrierTimeoutError::Broken),
                    None => Err(BarrierTimeoutError::Timeout),
                }
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.is_broken())
            .finish()
    }
}

/// What a party gets when its generation trips: its index, and whether it is the leader.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let barrier = unisync::Barrier::new(1);
/// let result = barrier.wait().await.unwrap();
/// assert!(result.is_leader());
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    index: usize,
}

impl BarrierWaitResult {
    /// Returns whether this party is the generation's leader (the one with index 0).
    ///
    /// Exactly one party of each generation that returns is the leader, which makes it a
    /// convenient place for one-off work between phases.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let barrier = unisync::Barrier::new(1);
    /// assert!(barrier.wait().await.unwrap().is_leader());
    /// # });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.index == 0
    }

    /// Returns this party's index in `0..parties`, distinct within its generation.
    ///
    /// Indices follow the order in which the parties collected their result after the trip.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let barrier = unisync::Barrier::new(1);
    /// assert_eq!(barrier.wait().await.unwrap().index(), 0);
    /// # });
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }
}

/// The barrier wait.
pub(crate) struct BarrierKind<'a>(BarrierWaiter, PhantomData<&'a Barrier>);

impl<'a> WaitKind for BarrierKind<'a> {
    type Source = &'a Barrier;
    type Ready = Result<usize, Broken>;
    type Output = Result<BarrierWaitResult, BarrierError>;

    fn poll<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        barrier: &&'a Barrier,
        strategy: &mut S,
    ) -> Poll<Result<usize, Broken>> {
        debug_assert!(!self.0.is_done());
        self.0.poll_wait(node, &barrier.raw, strategy)
    }

    fn finish(
        &mut self,
        ready: Result<usize, Broken>,
        _barrier: &'a Barrier,
    ) -> Result<BarrierWaitResult, BarrierError> {
        match ready {
            Ok(index) => Ok(BarrierWaitResult { index }),
            Err(Broken) => Err(BarrierError(())),
        }
    }

    fn cancel(&mut self, node: Pin<&Node>, barrier: &&'a Barrier) {
        self.0.cancel(node, &barrier.raw);
    }
}

pin_project! {
    /// The future returned by [`Barrier::wait`].
    ///
    /// The future holds the party's place in the barrier's queue, so it is `!Unpin`: `.await`
    /// pins it for you; to keep one in a struct or poll it by hand, pin it with
    /// [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::BarrierWait, Barrier};
    ///
    /// # futures::executor::block_on(async {
    /// let barrier = Barrier::new(1);
    /// let wait: BarrierWait<'_> = barrier.wait();
    /// assert!(wait.await.unwrap().is_leader());
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct BarrierWait<'a> {
        #[pin]
        shell: Shell<BarrierKind<'a>>,
    }
}

wait_future!(BarrierWait ['a] ['a] -> Result<BarrierWaitResult, BarrierError>);

/// The error of a barrier wait: the barrier was broken by [`Barrier::abort`] or
/// [`Barrier::reset`] before this party's generation tripped.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let barrier = unisync::Barrier::new(2);
/// barrier.abort();
/// let err = barrier.wait().await.unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "barrier broken: aborted or reset before this party's generation tripped"
/// );
/// # });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierError(());

/// One text for both errors: Python's `BrokenBarrierError` likewise covers abort and reset.
const BROKEN_MESSAGE: &str =
    "barrier broken: aborted or reset before this party's generation tripped";

impl fmt::Debug for BarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BarrierError(broken)")
    }
}

impl fmt::Display for BarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(BROKEN_MESSAGE)
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for BarrierError {}

/// The error of [`Barrier::wait_blocking_timeout`]: out of time, or broken.
///
/// A [`BarrierError`] converts into [`BarrierTimeoutError::Broken`], so `?` passes one on
/// from a function that returns this error.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::time::Duration;
/// use unisync::{Barrier, BarrierTimeoutError};
///
/// let barrier = Barrier::new(2);
/// barrier.abort();
/// let err = barrier.wait_blocking_timeout(Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, BarrierTimeoutError::Broken);
/// let err = barrier.wait_blocking().unwrap_err();
/// assert_eq!(BarrierTimeoutError::from(err), BarrierTimeoutError::Broken);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BarrierTimeoutError {
    /// The barrier did not trip before the timeout; this party withdrew.
    Timeout,
    /// The barrier was broken or reset before it tripped.
    Broken,
}

impl From<BarrierError> for BarrierTimeoutError {
    fn from(BarrierError(()): BarrierError) -> Self {
        BarrierTimeoutError::Broken
    }
}

impl fmt::Display for BarrierTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BarrierTimeoutError::Timeout => f.write_str("timed out waiting at the barrier"),
            BarrierTimeoutError::Broken => f.write_str(BROKEN_MESSAGE),
        }
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl std::error::Error for BarrierTimeoutError {}

//! A count of outstanding work that tasks and threads wait to reach zero: [`WaitGroup`].

use alloc::sync::Arc;
use core::fmt;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::drain::{cancel_wait, poll_drained, poll_triggered, RawDrain, MAX_COUNT};
use crate::raw::queue::Node;
use crate::raw::wait::Strategy;

/// Counts outstanding work and lets tasks and threads wait until all of it is done.
///
/// Each unit of work holds a [`WaitGroupToken`], made by [`token`](WaitGroup::token) or by
/// cloning another token. Dropping a token completes its unit, so a task that panics, returns
/// early or is cancelled still completes it. [`wait`](WaitGroup::wait)`.await` (or
/// [`wait_blocking`](WaitGroup::wait_blocking) on a thread) returns once no token is left.
/// It is Go's `sync.WaitGroup`, or Python's `Queue.join()` with `task_done()`, without the
/// way to miscount: there is no `done()` to call one time too many.
///
/// The group can be used again after it reaches zero: new tokens start a new count.
///
/// `WaitGroup` is a handle: clones share one count.
///
/// # When a wait completes
///
/// A wait completes once the count is zero at some moment after the wait started (its first
/// poll), even if a new token is made before the waiter runs again. A wait that starts
/// while the count is zero completes at once.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use unisync::WaitGroup;
///
/// let group = WaitGroup::new();
/// for i in 0..4 {
///     let token = group.token();
///     std::thread::spawn(move || {
///         let _token = token; // completes when the thread ends, even by a panic
///         println!("worker {i} done");
///     });
/// }
/// group.wait_blocking();
/// assert_eq!(group.count(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    raw: Arc<RawDrain>,
}

impl WaitGroup {
    /// Test only: the raw drain underneath.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn raw(&self) -> &RawDrain {
        &self.raw
    }

    /// The most tokens that can be outstanding at once: 2^61 - 1 on 64-bit targets.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(unisync::WaitGroup::MAX_TOKENS >= (1 << 29) - 1);
    /// ```
    pub const MAX_TOKENS: usize = MAX_COUNT;

    /// Creates a wait group with no work outstanding.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = unisync::WaitGroup::new();
    /// assert_eq!(group.count(), 0);
    /// ```
    pub fn new() -> WaitGroup {
        // The drain's trigger is fired from the start: a wait group waits for zero alone.
        WaitGroup {
            raw: Arc::new(RawDrain::new(true)),
        }
    }

    /// Adds one unit of work and returns the token that completes it when dropped.
    ///
    /// # Panics
    ///
    /// Panics if [`MAX_TOKENS`](WaitGroup::MAX_TOKENS) tokens are already outstanding (which
    /// only leaked tokens can reach); the count is left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = unisync::WaitGroup::new();
    /// let token = group.token();
    /// assert_eq!(group.count(), 1);
    /// drop(token);
    /// assert_eq!(group.count(), 0);
    /// ```
    #[track_caller]
    pub fn token(&self) -> WaitGroupToken {
        add_or_panic(&self.raw);
        WaitGroupToken {
            raw: self.raw.clone(),
        }
    }

    /// Returns how many tokens are outstanding right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = unisync::WaitGroup::new();
    /// let a = group.token();
    /// let b = a.clone();
    /// assert_eq!(group.count(), 2);
    /// # drop((a, b));
    /// ```
    pub fn count(&self) -> usize {
        self.raw.count()
    }

    /// Waits until no token is outstanding; completes at once if none is.
    ///
    /// Reaching zero ends every wait in one step, as seen by whoever polls them: once one wait
    /// has completed, any other polled after it completes too (unless a new token came
    /// first).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future at any point leaves the group unchanged, and there is
    /// no wake-up to hand on: reaching zero wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::WaitGroup;
    ///
    /// # futures::executor::block_on(async {
    /// let group = WaitGroup::new();
    /// let token = group.token();
    /// let worker = async move {
    ///     // ... work ...
    ///     drop(token);
    /// };
    /// futures::join!(worker, group.wait());
    /// assert_eq!(group.count(), 0);
    /// # });
    /// ```
    pub fn wait(&self) -> WaitGroupWait<'_> {
        WaitGroupWait {
            shell: Shell::new(self, DrainKind::new()),
        }
    }

    /// Like [`wait`](WaitGroup::wait), but the future holds a handle of its own, so it borrows
    /// nothing and is `'static`, to keep in a struct or move into a spawned task.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`wait`](WaitGroup::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = unisync::WaitGroup::new();
    /// let token = group.token();
    /// let all_done = group.wait_owned(); // 'static
    /// drop(token);
    /// futures::executor::block_on(all_done);
    /// ```
    pub fn wait_owned(&self) -> WaitGroupWaitOwned {
        WaitGroupWaitOwned {
            shell: Shell::new(self.clone(), DrainKind::new()),
        }
    }

    /// Parks the current thread until no token is outstanding.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`wait`](WaitGroup::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// let group = unisync::WaitGroup::new();
    /// let token = group.token();
    /// std::thread::spawn(move || drop(token));
    /// group.wait_blocking();
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait")]
    pub fn wait_blocking(&self) {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::Deadline::Never);
    }

    /// Parks the current thread until no token is outstanding or `timeout` passes.
    ///
    /// Returns `true` if the count reached zero, `false` on timeout.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`wait`](WaitGroup::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = unisync::WaitGroup::new();
    /// let token = group.token();
    /// assert!(!group.wait_blocking_timeout(Duration::from_millis(5)));
    /// drop(token);
    /// assert!(group.wait_blocking_timeout(Duration::from_millis(5)));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait_timeout")]
    pub fn wait_blocking_timeout(&self, timeout: core::time::Duration) -> bool {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::deadline(timeout)).is_some()
    }
}

impl Default for WaitGroup {
    /// A wait group with no work outstanding.
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}

/// Adds one unit to `raw`, or panics with what went wrong.
#[track_caller]
pub(crate) fn add_or_panic(raw: &RawDrain) {
    if raw.add().is_err() {
        too_many();
    }
}

/// The panic for a count at its limit.
#[cold]
#[track_caller]
pub(crate) fn too_many() -> ! {
    panic!(
        "too many units of work outstanding: the limit is {MAX_COUNT} (were guards or tokens \
         leaked with mem::forget?)"
    );
}

/// One unit of work in a [`WaitGroup`]; dropping it completes the unit.
///
/// Cloning a token adds another unit to the same group.
///
/// # Examples
///
/// ```
/// let group = unisync::WaitGroup::new();
/// let token = group.token();
/// let other = token.clone();
/// drop(token);
/// assert_eq!(group.count(), 1);
/// drop(other);
/// assert_eq!(group.count(), 0);
/// ```
#[must_use = "dropping the token completes its unit of work at once"]
pub struct WaitGroupToken {
    raw: Arc<RawDrain>,
}

impl Clone for WaitGroupToken {
    /// Adds one unit of work to the same group.
    ///
    /// # Panics
    ///
    /// Panics if [`WaitGroup::MAX_TOKENS`] tokens are already outstanding.
    #[track_caller]
    fn clone(&self) -> Self {
        add_or_panic(&self.raw);
        WaitGroupToken {
            raw: self.raw.clone(),
        }
    }
}

impl Drop for WaitGroupToken {
    fn drop(&mut self) {
        self.raw.sub();
    }
}

impl fmt::Debug for WaitGroupToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroupToken")
            .field("count", &self.raw.count())
            .finish()
    }
}

/// What a drain-based wait reads its state from.
pub(crate) trait DrainRef {
    fn drain(&self) -> &RawDrain;

    /// Whether a trigger above this one has fired (a shutdown signal's ancestor), so that a
    /// wait for the trigger is over though this drain's own flag is not set yet.
    #[inline]
    fn fired_above(&self) -> bool {
        false
    }
}

impl DrainRef for &WaitGroup {
    #[inline]
    fn drain(&self) -> &RawDrain {
        &self.raw
    }
}

impl DrainRef for WaitGroup {
    #[inline]
    fn drain(&self) -> &RawDrain {
        &self.raw
    }
}

/// A wait for a [`RawDrain`]'s trigger and zero count (one word, zero when new: see `Shell`).
pub(crate) struct DrainKind<R> {
    _zero: usize,
    _source: PhantomData<fn() -> R>,
}

impl<R> DrainKind<R> {
    #[inline]
    pub(crate) fn new() -> Self {
        DrainKind {
            _zero: 0,
            _source: PhantomData,
        }
    }
}

impl<R: DrainRef> WaitKind for DrainKind<R> {
    type Source = R;
    type Ready = ();
    type Output = ();

    #[inline]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, source: &R, strategy: &mut S) -> Poll<()> {
        if source.fired_above() && source.drain().count() == 0 {
            // An ancestor fired, its firing is on its way down to this drain, and nothing is
            // tracked (a firing stays fired, so both held at the count's read): drained now,
            // as `is_triggered` and a wait for the trigger already say.
            cancel_wait(node, source.drain());
            return Poll::Ready(());
        }
        let polled = poll_drained(node, source.drain(), strategy);
        if polled.is_pending()
            && strategy.is_blocking()
            && source.fired_above()
            && source.drain().count() == 0
        {
            // A thread out of time after an ancestor fired, before the firing reached it,
            // with nothing tracked since (a firing stays fired, so both held at the count's
            // read): the signal drained before the deadline.
            cancel_wait(node, source.drain());
            return Poll::Ready(());
        }
        polled
    }

    #[inline]
    fn finish(&mut self, (): (), _source: R) {}

    fn cancel(&mut self, node: Pin<&Node>, source: &R) {
        cancel_wait(node, source.drain());
    }
}

/// A wait for a [`RawDrain`]'s trigger alone.
pub(crate) struct TriggerKind<R> {
    _zero: usize,
    _source: PhantomData<fn() -> R>,
}

impl<R> TriggerKind<R> {
    #[inline]
    pub(crate) fn new() -> Self {
        TriggerKind {
            _zero: 0,
            _source: PhantomData,
        }
    }
}

impl<R: DrainRef> WaitKind for TriggerKind<R> {
    type Source = R;
    type Ready = ();
    type Output = ();

    #[inline]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, source: &R, strategy: &mut S) -> Poll<()> {
        if source.fired_above() {
            // The firing is on its way down to this drain: the wait is over now, as it is for
            // a wait polled after another one saw the trigger.
            cancel_wait(node, source.drain());
            return Poll::Ready(());
        }
        let polled = poll_triggered(node, source.drain(), strategy);
        if polled.is_pending() && strategy.is_blocking() && source.fired_above() {
            // A thread out of time after an ancestor fired, before the firing reached it: the
            // firing came before the deadline.
            cancel_wait(node, source.drain());
            return Poll::Ready(());
        }
        polled
    }

    #[inline]
    fn finish(&mut self, (): (), _source: R) {}

    fn cancel(&mut self, node: Pin<&Node>, source: &R) {
        cancel_wait(node, source.drain());
    }
}

pin_project! {
    /// The future returned by [`WaitGroup::wait`].
    ///
    /// It holds the waiter's place in the group's queue, so it is `!Unpin`: `.await` pins it
    /// for you.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::WaitGroupWait, WaitGroup};
    ///
    /// # futures::executor::block_on(async {
    /// let group = WaitGroup::new();
    /// let wait: WaitGroupWait<'_> = group.wait();
    /// wait.await; // nothing outstanding
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct WaitGroupWait<'a> {
        #[pin]
        shell: Shell<DrainKind<&'a WaitGroup>>,
    }
}

wait_future!(WaitGroupWait ['a] ['a] -> ());

pin_project! {
    /// The future returned by [`WaitGroup::wait_owned`].
    ///
    /// `!Unpin`, like [`WaitGroupWait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::WaitGroupWaitOwned, WaitGroup};
    ///
    /// let group = WaitGroup::new();
    /// let wait: WaitGroupWaitOwned = group.wait_owned();
    /// drop(group); // the future keeps the count alive
    /// futures::executor::block_on(wait); // nothing outstanding
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct WaitGroupWaitOwned {
        #[pin]
        shell: Shell<DrainKind<WaitGroup>>,
    }
}

wait_future!(WaitGroupWaitOwned [] [] -> ());

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn overflow_panics_and_leaves_the_count() {
        let group = WaitGroup::new();
        group.raw.set_count_for_test(MAX_COUNT);
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.token()))
            .expect_err("a token past the limit must panic");
        let msg = err
            .downcast_ref::<alloc::string::String>()
            .expect("a formatted message");
        assert!(msg.contains("too many units of work"), "{msg}");
        assert_eq!(group.count(), MAX_COUNT);
        group.raw.set_count_for_test(1);
        let token = WaitGroupToken {
            raw: group.raw.clone(),
        };
        drop(token);
        assert_eq!(group.count(), 0);
    }
}

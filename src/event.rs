//! A set/clear signal many tasks and threads can wait on: [`Event`] and its future.

use alloc::sync::Arc;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::flag::{FlagWaiter, RawFlag};
use crate::raw::queue::Node;
use crate::raw::wait::Strategy;
use crate::sync::const_fn;

/// A flag that tasks and threads wait on until it is set: shutdown, readiness, "go".
///
/// [`set`](Event::set) wakes every waiter at once and makes later waits complete immediately
/// until [`clear`](Event::clear) is called. Tasks wait with [`wait`](Event::wait)`.await`,
/// threads with [`wait_blocking`](Event::wait_blocking); both can wait on the same event. It is
/// the async counterpart of Python's `threading.Event`.
///
/// # No lost signals
///
/// Every wait that had started when `set` was called completes, even if `clear` runs right
/// after `set`, before the waiter was scheduled. A wait that starts after the `clear` waits for
/// the next `set`. A wait "starts" when its future is first polled.
///
/// A `set` ends all those waits in one step, as seen by whoever polls them: once one of them
/// has completed, any other polled after it completes too, even while `set` is still waking
/// the rest (a wait polled before its wake-up arrives checks the event itself and leaves the
/// queue).
///
/// # Fairness
///
/// There is no queue order to be fair about: `set` wakes all waiters together. Waking `n`
/// waiters costs O(n) in all: `set` takes them off the queue in batches of 32 and wakes each
/// batch after releasing the queue's lock, and each woken waiter finishes with one load of its
/// own place in the queue, without taking that lock again.
///
/// # Leaks
///
/// A wait future leaked (`mem::forget`) while queued stays in the event's queue; `set` still
/// wakes everyone else.
///
/// # Size
///
/// `Event` is 16 bytes on 64-bit targets: a state word (the flag plus a generation counter) and
/// a pointer to its wait queue. The queue is allocated the first time a waiter has to park; an
/// event nobody ever waits on never allocates, and waiting allocates nothing (the waiter's
/// place in the queue is inside its future).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "std")] {
/// use std::sync::Arc;
/// use unisync::Event;
///
/// let ready = Arc::new(Event::new());
/// let worker = {
///     let ready = ready.clone();
///     std::thread::spawn(move || ready.wait_blocking())
/// };
/// # futures::executor::block_on(async {
/// ready.set();
/// ready.wait().await; // already set: completes at once
/// # });
/// worker.join().unwrap();
/// # }
/// ```
pub struct Event {
    raw: RawFlag,
}

impl Event {
    /// Test only: the raw flag underneath.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn raw(&self) -> &RawFlag {
        &self.raw
    }

    const_fn! {
        /// Creates an event that is not set.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::Event;
        ///
        /// static SHUTDOWN: Event = Event::new();
        /// assert!(!SHUTDOWN.is_set());
        /// ```
        pub const fn new() -> Event {
            Event { raw: RawFlag::new() }
        }
    }

    /// Sets the event and wakes every task and thread waiting on it.
    ///
    /// Setting an event that is already set does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = unisync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    #[doc(alias = "notify_waiters")]
    pub fn set(&self) {
        self.raw.set();
    }

    /// Clears the event, so later waits block until the next [`set`](Event::set).
    ///
    /// Waits that started before the last `set` still complete.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = unisync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.raw.clear();
    }

    /// Returns whether the event is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = unisync::Event::new();
    /// assert!(!event.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.raw.is_set()
    }

    /// Waits until the event is set; completes at once if it is set already.
    ///
    /// The wait starts when the future is first polled: a `set` after that completes it even if
    /// the event is cleared again before the future is polled once more.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future at any point leaves the event unchanged, and there is
    /// no wake-up to hand on: `set` wakes every waiter, not one of them.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    ///
    /// let event = unisync::Event::new();
    /// let mut wait = Box::pin(event.wait());
    /// assert!(wait.as_mut().now_or_never().is_none());
    /// event.set();
    /// event.clear();
    /// assert!(wait.now_or_never().is_some()); // the set was not lost to the clear
    /// ```
    #[inline]
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            shell: Shell::new(self, EventKind(FlagWaiter::new(), PhantomData)),
        }
    }

    /// Like [`wait`](Event::wait), for an event behind an `Arc`: the future holds a reference
    /// of its own, so it borrows nothing and is `'static`, to keep in a struct or move into a
    /// spawned task.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`wait`](Event::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::Event;
    ///
    /// let ready = Arc::new(Event::new());
    /// let wait = ready.wait_owned(); // 'static: `ready` may go out of scope
    /// ready.set();
    /// futures::executor::block_on(wait);
    /// ```
    #[inline]
    #[doc(alias = "notified_owned")]
    pub fn wait_owned(self: &Arc<Self>) -> EventWaitOwned {
        EventWaitOwned {
            shell: Shell::new(self.clone(), EventKind(FlagWaiter::new(), PhantomData)),
        }
    }

    /// Parks the current thread until the event is set.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use [`wait`](Event::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// let event = unisync::Event::new();
    /// event.set();
    /// event.wait_blocking();
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait")]
    pub fn wait_blocking(&self) {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::Deadline::Never);
    }

    /// Parks the current thread until the event is set or `timeout` passes.
    ///
    /// Returns `true` if the event was set (or was set and cleared again during the wait),
    /// `false` on timeout.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use [`wait`](Event::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = unisync::Event::new();
    /// assert!(!event.wait_blocking_timeout(Duration::from_millis(5)));
    /// event.set();
    /// assert!(event.wait_blocking_timeout(Duration::from_millis(5)));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait_timeout")]
    pub fn wait_blocking_timeout(&self, timeout: core::time::Duration) -> bool {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::deadline(timeout)).is_some()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish()
    }
}

impl Default for Event {
    /// An event that is not set.
    fn default() -> Self {
        Event::new()
    }
}

/// The event wait, borrowing the event (`&Event`) or owning a reference to it (`Arc<Event>`).
pub(crate) struct EventKind<R>(FlagWaiter, PhantomData<fn() -> R>);

impl<R: Deref<Target = Event>> WaitKind for EventKind<R> {
    type Source = R;
    type Ready = ();
    type Output = ();

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, event: &R, strategy: &mut S) -> Poll<()> {
        self.0.poll_wait(node, &event.raw, strategy)
    }

    #[inline(always)]
    fn finish(&mut self, (): (), _event: R) {}

    fn cancel(&mut self, node: Pin<&Node>, event: &R) {
        self.0.cancel(node, &event.raw);
    }
}

pin_project! {
    /// The future returned by [`Event::wait`].
    ///
    /// The future holds the waiter's place in the event's queue, so it is `!Unpin`: `.await`
    /// pins it for you; to keep one in a struct or poll it by hand, pin it with
    /// [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::EventWait, Event};
    ///
    /// # futures::executor::block_on(async {
    /// let event = Event::new();
    /// event.set();
    /// let wait: EventWait<'_> = event.wait();
    /// wait.await;
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct EventWait<'a> {
        #[pin]
        shell: Shell<EventKind<&'a Event>>,
    }
}

wait_future!(EventWait ['a] ['a] -> ());

pin_project! {
    /// The future returned by [`Event::wait_owned`].
    ///
    /// `!Unpin`, like [`EventWait`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::EventWaitOwned, Event};
    ///
    /// # futures::executor::block_on(async {
    /// let event = Arc::new(Event::new());
    /// let wait: EventWaitOwned = event.wait_owned();
    /// let boxed = Box::pin(wait); // stored in a struct, say
    /// event.set();
    /// boxed.await;
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct EventWaitOwned {
        #[pin]
        shell: Shell<EventKind<Arc<Event>>>,
    }
}

wait_future!(EventWaitOwned [] [] -> ());

//! The waiting core: one state machine per wait, driven by a task or by a thread.
//!
//! # Implementation notes
//!
//! Every primitive is an atomic state word plus one [`Event`] on which waiters park. A wait is
//! written once, as a type implementing [`Wait`]: its `poll_wait` is handed a [`Strategy`] that
//! either registers the task's `Waker` ([`Async`]) or parks the thread ([`Blocking`], with an
//! optional deadline). Async futures and `_blocking` methods therefore run the same code; a
//! blocking wait whose deadline passes returns `Pending`, and the wait is dropped, which runs the
//! same cancellation path as dropping a future.
//!
//! Every slow path has the same shape:
//!
//! 1. try the state word;
//! 2. register a listener on the event;
//! 3. try again (a release between 1 and 2 would otherwise be missed);
//! 4. park until notified, then go to 1.
//!
//! Registering a listener issues a `SeqCst` fence, and so does every notification, so either the
//! releaser sees the listener or the waiter's step 3 sees the release: no wake-up is lost.
//!
//! # Allocation
//!
//! Uncontended paths never allocate: they are a single atomic read-modify-write. A wait that has
//! to park allocates one listener with [`Event::listen`], which boxes it. We chose the boxed
//! listener over `event-listener`'s stack-pinned `listener!` macro because the macro only works
//! inside an `async fn` body, and our futures are named types (`Lock`, `Acquire`, …) that users
//! can store in structs; a boxed listener also keeps those futures `Unpin`. A listener is spent
//! when it fires, so a waiter that is woken and then beaten to the state by another thread
//! registers again (one more box); the fairness rules in each primitive bound how often that
//! happens. The event's own list is allocated once, by the first waiter a primitive ever has.
//!
//! # Passing notifications on
//!
//! A listener that fires hands its waiter a notification that was meant for one waiter. If the
//! waiter is dropped before it acts on it, the notification must reach someone else. Dropping an
//! `EventListener` that was notified but not yet polled passes the notification to the next
//! listener by itself; a waiter that was polled to completion owns what it acquired and its
//! primitive's drop logic releases it. Each primitive states how in its own drop code.

use core::mem::ManuallyDrop;
use core::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::{AtomicUsize, Ordering};

#[cfg(feature = "std")]
use std::time::Instant;

/// How a [`Wait`] parks: by registering a waker, or by blocking the thread.
pub(crate) trait Strategy {
    /// Waits for `listener` to fire.
    ///
    /// Returns `Ready` once it has fired (the slot is then `None`: a fired listener is spent).
    /// Returns `Pending` when the waiter should give up for now: an async strategy has
    /// registered the waker, a blocking one has reached its deadline. The slot still holds the
    /// listener then, unless the blocking strategy removed it at the deadline.
    fn park(&mut self, listener: &mut Option<EventListener>) -> Poll<()>;

    /// Whether this strategy parks the thread. A thread may retry briefly before it parks (see
    /// [`SPINS`]); a task never does (it would hold up its executor).
    fn is_blocking(&self) -> bool;
}

/// Drives a wait from a task's `Context`.
pub(crate) struct Async<'a, 'b>(pub(crate) &'a mut Context<'b>);

impl Strategy for Async<'_, '_> {
    #[inline]
    fn park(&mut self, slot: &mut Option<EventListener>) -> Poll<()> {
        let listener = slot.as_mut().expect("parked without a listener");
        match core::pin::Pin::new(listener).poll(self.0) {
            Poll::Ready(()) => {
                *slot = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_blocking(&self) -> bool {
        false
    }
}

use core::future::Future as _;

/// Drives a wait by parking the current thread, until an optional deadline.
#[cfg(feature = "std")]
pub(crate) struct Blocking {
    pub(crate) deadline: Option<Instant>,
}

#[cfg(feature = "std")]
impl Strategy for Blocking {
    fn park(&mut self, slot: &mut Option<EventListener>) -> Poll<()> {
        use event_listener::Listener as _;
        let listener = slot.take().expect("parked without a listener");
        let fired = match self.deadline {
            None => {
                listener.wait();
                true
            }
            // At the deadline the listener removes itself; it reports a notification that raced
            // with the deadline as fired, so none is lost.
            Some(deadline) => listener.wait_deadline(deadline).is_some(),
        };
        if fired {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn is_blocking(&self) -> bool {
        true
    }
}

/// One wait's state machine, written once for tasks and threads.
pub(crate) trait Wait {
    /// What the wait yields.
    type Output;

    /// Advances the wait. `Pending` means: parked (async) or out of time (blocking).
    fn poll_wait<S: Strategy>(&mut self, strategy: &mut S) -> Poll<Self::Output>;
}

/// Runs `wait` on the current thread until it completes or `deadline` passes.
///
/// On timeout the wait is dropped, which runs its cancellation path: whatever it held is
/// released and any notification it consumed is passed on.
#[cfg(feature = "std")]
pub(crate) fn block_on<W: Wait>(mut wait: W, deadline: Option<Instant>) -> Option<W::Output> {
    match wait.poll_wait(&mut Blocking { deadline }) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Runs `wait` on the current thread until it completes or `deadline` passes, leaving it with
/// the caller on timeout: for waits whose timeout keeps part of what they hold (a barrier
/// result that raced the deadline, the upgradable lock of a timed-out upgrade).
#[cfg(feature = "std")]
pub(crate) fn block_on_mut<W: Wait>(wait: &mut W, deadline: Option<Instant>) -> Option<W::Output> {
    match wait.poll_wait(&mut Blocking { deadline }) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// Sets a sticky "a waiter may exist" bit in `state` before a listener is registered.
///
/// Releases notify only when they see the bit, so an uncontended primitive never touches its
/// event. The bit is never cleared; the load first keeps the common case (already set) free of
/// a read-modify-write. Ordering: the waiter's `listen` is a `SeqCst` fence between setting the
/// bit and re-checking the state, and a release reads the bit in the same read-modify-write
/// that releases, so either the release sees the bit or the re-check sees the release.
#[inline]
pub(crate) fn mark_contended(state: &AtomicUsize, bit: usize) {
    if state.load(Ordering::Relaxed) & bit == 0 {
        state.fetch_or(bit, Ordering::Relaxed);
    }
}

/// How many times a blocking waiter retries before it registers a listener and parks.
///
/// Parking and waking a thread costs far more than a short critical section, so a thread
/// first retries a few times, *yielding* its time slice in between. Yielding rather than
/// busy-spinning matters when threads outnumber cores: a busy spin burns the slice the lock
/// holder needs. Measured with 4 threads on 2 cores taking a mutex 200,000 times each: no
/// retry 23 ms, 64 busy spins 57 ms, 8 yields 10 ms, 16 yields 4.5 ms (`parking_lot` 5.4 ms,
/// `std` 14 ms).
pub(crate) const SPINS: u32 = if cfg!(loom) { 0 } else { 16 };

/// Retries `attempt` up to [`SPINS`] times, yielding the thread in between, for blocking
/// waiters only. Only for attempts without side effects (a `try_lock`, a `try_acquire`).
#[inline]
pub(crate) fn spin<S: Strategy>(strategy: &S, mut attempt: impl FnMut() -> bool) -> bool {
    if !strategy.is_blocking() {
        return false;
    }
    for _ in 0..SPINS {
        #[cfg(feature = "std")]
        std::thread::yield_now();
        #[cfg(not(feature = "std"))]
        core::hint::spin_loop();
        if attempt() {
            return true;
        }
    }
    false
}

/// Turns a timeout into a deadline; a timeout too large to represent never expires.
#[cfg(feature = "std")]
pub(crate) fn deadline(timeout: core::time::Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The listen/re-check/park loop every slow path shares.
///
/// `attempt(kind)` tries the state word; `kind` says which step it is made from (a waiter just
/// notified may take state reserved for notified waiters). It returns `Some` when the wait is
/// done.
///
/// When an attempt succeeds while a listener is still registered, the listener is dropped,
/// which passes on any notification it received in the meantime.
#[inline]
pub(crate) fn poll_loop<S, T>(
    strategy: &mut S,
    event: &Event,
    listener: &mut Option<EventListener>,
    mut attempt: impl FnMut(Attempt) -> Option<T>,
) -> Poll<T>
where
    S: Strategy,
{
    let mut woken = false;
    loop {
        if listener.is_none() {
            let kind = if woken {
                Attempt::Woken
            } else {
                Attempt::Fresh
            };
            if let Some(out) = attempt(kind) {
                return Poll::Ready(out);
            }
            *listener = Some(event.listen());
            if let Some(out) = attempt(Attempt::Registered) {
                *listener = None;
                return Poll::Ready(out);
            }
        }
        match strategy.park(listener) {
            Poll::Ready(()) => woken = true,
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Which step of the protocol an attempt is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Before any listener: the first try, or a retry after an earlier poll.
    Fresh,
    /// Just after registering a listener, before parking.
    Registered,
    /// Just after a notification fired for this waiter.
    Woken,
}

/// A waiter's `bool`, stored in a whole word.
///
/// Futures are often moved right after they are built (`now_or_never`, `Box::pin`, `select!`
/// arms), and the move copies them with loads of eight or sixteen bytes. A load that covers a
/// one-byte store made moments before cannot be served from the store buffer and waits for the
/// store to reach the cache: on the machine in BENCHMARKS.md that tripled the cost of an
/// uncontended lock (14 ns against 5 ns). Waiter state is therefore kept in whole words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flag(usize);

impl Flag {
    pub(crate) const CLEAR: Flag = Flag(0);

    #[inline]
    pub(crate) fn get(self) -> bool {
        self.0 != 0
    }

    #[inline]
    pub(crate) fn set(&mut self, value: bool) {
        self.0 = usize::from(value);
    }

    /// Returns the flag and clears it.
    #[inline]
    pub(crate) fn take(&mut self) -> bool {
        core::mem::replace(self, Flag::CLEAR).get()
    }
}

/// A waiter's listener slot, dropped without a call when it is empty.
///
/// Every finished wait has an empty slot, so the common drop is a single test; the compiler
/// would otherwise emit an out-of-line drop call for `Option<EventListener>` on every lock.
#[derive(Debug, Default)]
pub(crate) struct Slot(ManuallyDrop<Option<EventListener>>);

impl Slot {
    pub(crate) const fn new() -> Self {
        Slot(ManuallyDrop::new(None))
    }
}

impl core::ops::Deref for Slot {
    type Target = Option<EventListener>;

    #[inline]
    fn deref(&self) -> &Option<EventListener> {
        &self.0
    }
}

impl core::ops::DerefMut for Slot {
    #[inline]
    fn deref_mut(&mut self) -> &mut Option<EventListener> {
        &mut self.0
    }
}

impl Drop for Slot {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            drop_listener(&mut self.0);
        }
    }
}

#[cold]
fn drop_listener(slot: &mut Option<EventListener>) {
    // Dropping a notified listener passes its notification on.
    drop(slot.take());
}

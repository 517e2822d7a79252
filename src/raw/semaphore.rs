//! The permit-counting state machine under [`Semaphore`](crate::Semaphore).
//!
//! # State word
//!
//! | bits  | name        | meaning                                                       |
//! |-------|-------------|---------------------------------------------------------------|
//! | 0     | `CLOSED`    | the semaphore is closed; every wait fails                     |
//! | 1     | `CONTENDED` | some waiter has registered a listener; releases must notify   |
//! | 2     | `HEAD`      | one waiter is collecting permits; nobody else may take any    |
//! | 3..   | permits     | available permits, at most [`MAX_PERMITS`]                    |
//!
//! # Fairness
//!
//! Waiters take permits all at once while nobody is starving, in whatever order they reach the
//! state word. A waiter that was woken and still could not get all it asked for becomes the
//! *head*: it takes every available permit, sets `HEAD`, and from then on every released permit
//! is reserved for it until it has all it needs. It parks on an event of its own, so a release
//! wakes it directly instead of waking the queue. A large `acquire_many(n)` therefore cannot be
//! starved by a stream of small acquires: once it is head, the small ones wait for it.
//!
//! Every wake-up that hands out permits is an *additional* notification: `Event::notify(n)`
//! only tops the number of notified listeners up to `n`, so a second release while the first
//! woken waiter has not run yet would otherwise wake nobody and strand a permit.
//!
//! Only one waiter is head at a time, which is what makes collecting permits safe: two waiters
//! each holding part of what they need could otherwise deadlock.

use core::task::Poll;

use event_listener::{Event, IntoNotification as _, Listener as _};

use crate::raw::events::EventPair;
use crate::raw::wait::{mark_contended, poll_loop, spin, Attempt, Slot, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const CLOSED: usize = 1;
const CONTENDED: usize = 1 << 1;
const HEAD: usize = 1 << 2;
const SHIFT: u32 = 3;

/// The largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> SHIFT;

#[inline]
const fn permits(state: usize) -> usize {
    state >> SHIFT
}

/// Why a `try_acquire` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryFail {
    Closed,
    NoPermits,
}

/// A semaphore without guards.
pub(crate) struct RawSemaphore {
    state: AtomicUsize,
    /// The queue of waiters, and the head waiter's own event.
    events: EventPair,
}

impl RawSemaphore {
    const_fn! {
        pub(crate) const fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX_PERMITS,
                "a semaphore holds at most `Semaphore::MAX_PERMITS` (usize::MAX >> 3) permits"
            );
            RawSemaphore {
                state: AtomicUsize::new(permits << SHIFT),
                events: EventPair::new(),
            }
        }
    }

    /// The queue every waiter parks on (allocated with the head's on first contention).
    #[inline]
    fn queue(&self) -> &Event {
        self.events.first()
    }

    /// The event only the head waiter parks on.
    #[inline]
    fn head(&self) -> &Event {
        self.events.second()
    }

    #[inline]
    pub(crate) fn available(&self) -> usize {
        permits(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes `n` permits at once if nobody is ahead of us.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryFail> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Err(TryFail::Closed);
            }
            if s & HEAD != 0 || permits(s) < n {
                return Err(TryFail::NoPermits);
            }
            match self.state.compare_exchange_weak(
                s,
                s - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }

    /// Returns `n` permits that a permit guard held, and wakes whoever may use them.
    ///
    /// One atomic add: held permits came out of this semaphore, so they fit again unless
    /// `add_permits` filled it up in the meantime, which is caught and undone below.
    #[inline]
    pub(crate) fn release_held(&self, n: usize) {
        if n == 0 {
            return;
        }
        let prev = self.state.fetch_add(n << SHIFT, Ordering::Release);
        if n > MAX_PERMITS - permits(prev) {
            self.state.fetch_sub(n << SHIFT, Ordering::Relaxed);
            panic!("returning {n} permits would exceed `Semaphore::MAX_PERMITS` ({MAX_PERMITS})");
        }
        self.wake_after_release(prev, n);
    }

    #[inline]
    fn wake_after_release(&self, prev: usize, n: usize) {
        if prev & HEAD != 0 {
            self.head().notify(1);
        } else if prev & CONTENDED != 0 {
            self.queue().notify(n.additional());
        }
    }

    /// Adds `n` permits and wakes whoever may use them; panics (changing nothing) if the total
    /// would exceed [`MAX_PERMITS`].
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.load(Ordering::Relaxed);
        let prev = loop {
            let next = match permits(s).checked_add(n) {
                Some(p) if p <= MAX_PERMITS => (s & ((1 << SHIFT) - 1)) | (p << SHIFT),
                _ => panic!(
                    "adding {n} permits would exceed `Semaphore::MAX_PERMITS` ({MAX_PERMITS})"
                ),
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(prev) => break prev,
                Err(actual) => s = actual,
            }
        };
        self.wake_after_release(prev, n);
    }

    /// Closes the semaphore and wakes every waiter. Returns whether it was open.
    pub(crate) fn close(&self) -> bool {
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            return false;
        }
        if prev & CONTENDED != 0 {
            self.queue().notify(usize::MAX);
            self.head().notify(usize::MAX);
        }
        true
    }

    /// Tries to become head, taking every available permit. Returns the permits taken, or
    /// `None` when another waiter is head (or the semaphore closed).
    fn become_head(&self, need: usize) -> Option<usize> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (HEAD | CLOSED) != 0 {
                return None;
            }
            let take = permits(s).min(need);
            let next = (s - (take << SHIFT)) | if take < need { HEAD } else { 0 };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(take),
                Err(actual) => s = actual,
            }
        }
    }

    /// As head: takes up to `need` permits; clears `HEAD` when that completes the wait.
    /// Returns the permits taken and the permits left over after completing.
    fn collect(&self, need: usize) -> (usize, usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & HEAD != 0);
            let take = permits(s).min(need);
            let mut next = s - (take << SHIFT);
            if take == need {
                next &= !HEAD;
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return (take, permits(next)),
                Err(actual) => s = actual,
            }
        }
    }

    /// Gives up the head position, returning `held` permits, and wakes the queue it held back.
    fn resign_head(&self, held: usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        let next = loop {
            let next = (s + (held << SHIFT)) & !HEAD;
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break next,
                Err(actual) => s = actual,
            }
        };
        if next & CONTENDED != 0 && permits(next) > 0 {
            self.queue().notify(permits(next).additional());
        }
    }
}

/// Where an acquire stands, in one word so that the future stays small: queued, done, or head
/// of the line holding the permits it has collected so far. Queued is zero, so a new future is
/// mostly zero words, which the compiler writes and copies in few wide stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Phase(usize);

impl Phase {
    /// Queued with everybody else, taking all permits at once or none.
    const QUEUED: Phase = Phase(0);
    /// Finished: the permits belong to the caller (or the wait failed).
    const DONE: Phase = Phase(1);
    /// Head-of-line phases start here: `HEAD + held`.
    const HEAD: usize = 2;

    /// Head of the line, collecting permits; `held` are already ours. `held` is at most
    /// `MAX_PERMITS`, so the sum cannot overflow.
    fn head(held: usize) -> Phase {
        debug_assert!(held <= MAX_PERMITS);
        Phase(held + Self::HEAD)
    }

    /// The permits collected so far, if this is the head of the line.
    fn held(self) -> Option<usize> {
        self.0.checked_sub(Self::HEAD)
    }
}

/// The part of an acquire future that waits.
#[derive(Debug)]
pub(crate) struct AcquireWaiter {
    need: usize,
    phase: Phase,
    listener: Slot,
}

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl AcquireWaiter {
    #[inline]
    pub(crate) fn new(need: usize) -> Self {
        assert!(
            need <= MAX_PERMITS,
            "cannot acquire {need} permits: a semaphore holds at most `Semaphore::MAX_PERMITS` \
             ({MAX_PERMITS})"
        );
        AcquireWaiter {
            need,
            phase: Phase::QUEUED,
            listener: Slot::new(),
        }
    }

    #[inline]
    pub(crate) fn need(&self) -> usize {
        self.need
    }

    /// Whether the wait has finished (or was withdrawn).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::DONE
    }

    /// Advances the wait; `Ready(Ok(()))` means the caller now owns `need` permits.
    #[inline]
    pub(crate) fn poll_acquire<S: Strategy>(
        &mut self,
        raw: &RawSemaphore,
        strategy: &mut S,
    ) -> Poll<Result<(), Closed>> {
        // The uncontended case, inlined into the caller: the same first attempt `poll_loop`
        // would make, without setting the loop up.
        if self.phase == Phase::QUEUED && self.listener.is_none() {
            let done = match raw.try_acquire(self.need) {
                Ok(()) => Ok(()),
                Err(TryFail::Closed) => Err(Closed),
                Err(TryFail::NoPermits) => return self.poll_acquire_slow(raw, strategy),
            };
            self.phase = Phase::DONE;
            return Poll::Ready(done);
        }
        self.poll_acquire_slow(raw, strategy)
    }

    #[inline(never)]
    fn poll_acquire_slow<S: Strategy>(
        &mut self,
        raw: &RawSemaphore,
        strategy: &mut S,
    ) -> Poll<Result<(), Closed>> {
        let need = self.need;
        if self.phase == Phase::QUEUED && self.listener.is_none() {
            let mut outcome = Err(TryFail::NoPermits);
            if spin(strategy, || {
                outcome = raw.try_acquire(need);
                outcome != Err(TryFail::NoPermits)
            }) {
                self.phase = Phase::DONE;
                return Poll::Ready(outcome.map_err(|_| Closed));
            }
        }
        if self.phase == Phase::QUEUED {
            let mut head_taken = None;
            let res = poll_loop(strategy, raw.queue(), &mut self.listener, |attempt| {
                match raw.try_acquire(need) {
                    Ok(()) => return Some(Ok(())),
                    Err(TryFail::Closed) => return Some(Err(Closed)),
                    Err(TryFail::NoPermits) => {}
                }
                if need == 0 {
                    return Some(Ok(()));
                }
                if attempt == Attempt::Woken {
                    if let Some(taken) = raw.become_head(need) {
                        head_taken = Some(taken);
                        return Some(Ok(()));
                    }
                }
                if attempt != Attempt::Registered {
                    mark_contended(&raw.state, CONTENDED);
                }
                None
            });
            match (res, head_taken) {
                (Poll::Pending, _) => return Poll::Pending,
                (Poll::Ready(r), None) => {
                    self.phase = Phase::DONE;
                    return Poll::Ready(r);
                }
                (Poll::Ready(_), Some(taken)) if taken == need => {
                    self.phase = Phase::DONE;
                    return Poll::Ready(Ok(()));
                }
                (Poll::Ready(_), Some(taken)) => {
                    // We gave up our place in the queue: pass on a wake-up we may hold.
                    self.drop_listener(raw);
                    self.phase = Phase::head(taken);
                }
            }
        }
        if let Some(mut held) = self.phase.held() {
            let res = poll_loop(strategy, raw.head(), &mut self.listener, |_| {
                if raw.is_closed() {
                    return Some(Err(Closed));
                }
                let (taken, left) = raw.collect(need - held);
                held += taken;
                (held == need).then_some(Ok(left))
            });
            return match res {
                Poll::Pending => {
                    self.phase = Phase::head(held);
                    Poll::Pending
                }
                Poll::Ready(Err(Closed)) => {
                    self.phase = Phase::DONE;
                    raw.resign_head(held);
                    Poll::Ready(Err(Closed))
                }
                Poll::Ready(Ok(left)) => {
                    self.phase = Phase::DONE;
                    if left > 0 {
                        raw.queue().notify(left.additional());
                    }
                    Poll::Ready(Ok(()))
                }
            };
        }
        unreachable!("acquire polled after completion")
    }

    fn drop_listener(&mut self, raw: &RawSemaphore) {
        if let Some(listener) = self.listener.take() {
            if listener.discard() {
                raw.queue().notify(1.additional());
            }
        }
    }

    /// Withdraws an unfinished wait: returns collected permits and passes on a notification.
    pub(crate) fn cancel(&mut self, raw: &RawSemaphore) {
        let phase = core::mem::replace(&mut self.phase, Phase::DONE);
        if phase == Phase::QUEUED {
            self.drop_listener(raw);
        } else if let Some(held) = phase.held() {
            // Only the head listens on `head`: there is nobody to pass its wake-up to.
            if let Some(listener) = self.listener.take() {
                listener.discard();
            }
            raw.resign_head(held);
        }
    }
}

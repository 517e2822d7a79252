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
//! each holding part of what they need could otherwise deadlock. It is also why the permits the
//! head has collected so far are kept beside its event rather than in its future: only the head
//! reads or writes that count, and handing `HEAD` from one head to the next (a release
//! compare-exchange clearing it, an acquire one setting it) orders one head's count before the
//! next's. The future stays three words.

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
    /// The queue of waiters, the head waiter's own event, and the permits the head has
    /// collected so far (its spare word).
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

    /// The permits the current head has collected; only the head touches it.
    #[inline]
    fn head_held(&self) -> &AtomicUsize {
        self.events.word()
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
            self.undo_overfull_release(n);
        }
        if prev & (HEAD | CONTENDED) != 0 {
            self.wake_after_release(prev, n);
        }
    }

    #[cold]
    #[inline(never)]
    fn undo_overfull_release(&self, n: usize) -> ! {
        self.state.fetch_sub(n << SHIFT, Ordering::Relaxed);
        panic!("returning {n} permits would exceed `Semaphore::MAX_PERMITS` ({MAX_PERMITS})");
    }

    /// Out of line, so that the release a permit's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
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
        if prev & (HEAD | CONTENDED) != 0 {
            self.wake_after_release(prev, n);
        }
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

    /// Tries to become head, taking every available permit.
    ///
    /// Returns `Some(true)` when that was all `need` (the wait is over, nobody became head),
    /// `Some(false)` when the caller is now head, and `None` when another waiter is head (or
    /// the semaphore closed).
    fn become_head(&self, need: usize) -> Option<bool> {
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
                Ok(_) if take == need => return Some(true),
                Ok(_) => {
                    self.head_held().store(take, Ordering::Relaxed);
                    return Some(false);
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// As head: takes what it still lacks of `need` permits. When that completes the wait it
    /// clears `HEAD` and returns the permits left over for others.
    fn collect(&self, need: usize) -> Option<usize> {
        let held = self.head_held().load(Ordering::Relaxed);
        let want = need - held;
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & HEAD != 0);
            let take = permits(s).min(want);
            let mut next = s - (take << SHIFT);
            if take == want {
                next &= !HEAD;
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if take == want => return Some(permits(next)),
                Ok(_) => {
                    self.head_held().store(held + take, Ordering::Relaxed);
                    return None;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Gives up the head position, returning the permits it collected, and wakes the queue it
    /// held back.
    fn resign_head(&self) {
        let held = self.head_held().load(Ordering::Relaxed);
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

/// What an acquire asks for and where it stands, in one word: the permits it needs, with two
/// flags in the bits above `MAX_PERMITS`. Neither flag set means queued with everybody else.
///
/// The count is stored as `need - 1` modulo `MAX_PERMITS + 1`, so that the common `acquire()`
/// of one permit starts as a zero word next to the empty listener slot: the compiler writes
/// and copies such a pair as one 16-byte zero, where a one beside a zero would be two stores
/// that a 16-byte copy cannot be forwarded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Request(usize);

impl Request {
    /// Head of the line, collecting permits (see `RawSemaphore::head_held`).
    const HEAD: usize = 1 << (usize::BITS - 1);
    /// Finished: the permits belong to the caller (or the wait failed).
    const DONE: usize = 1 << (usize::BITS - 2);

    /// A queued request for `need` permits, at most `MAX_PERMITS`.
    #[inline]
    fn new(need: usize) -> Request {
        // `MAX_PERMITS + 1` is a power of two and `MAX_PERMITS` its mask.
        Request(need.wrapping_sub(1) & MAX_PERMITS)
    }

    #[inline]
    fn need(self) -> usize {
        (self.0 & MAX_PERMITS).wrapping_add(1) & MAX_PERMITS
    }

    #[inline]
    fn is_queued(self) -> bool {
        self.0 & (Self::HEAD | Self::DONE) == 0
    }

    #[inline]
    fn is_head(self) -> bool {
        self.0 & Self::HEAD != 0
    }

    #[inline]
    fn is_done(self) -> bool {
        self.0 & Self::DONE != 0
    }

    #[inline]
    fn set(&mut self, flag: usize) {
        self.0 = (self.0 & MAX_PERMITS) | flag;
    }
}

/// The part of an acquire future that waits: two words, so the future is three.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct AcquireWaiter {
    request: Request,
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
            request: Request::new(need),
            listener: Slot::new(),
        }
    }

    #[inline]
    pub(crate) fn need(&self) -> usize {
        self.request.need()
    }

    /// Whether the wait has finished (or was withdrawn).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.request.is_done()
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
        if self.request.is_queued() && self.listener.is_none() {
            let done = match raw.try_acquire(self.request.need()) {
                Ok(()) => Ok(()),
                Err(TryFail::Closed) => Err(Closed),
                Err(TryFail::NoPermits) => return self.poll_acquire_slow(raw, strategy),
            };
            self.request.set(Request::DONE);
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
        let need = self.request.need();
        if self.request.is_queued() && self.listener.is_none() {
            let mut outcome = Err(TryFail::NoPermits);
            if spin(strategy, || {
                outcome = raw.try_acquire(need);
                outcome != Err(TryFail::NoPermits)
            }) {
                self.request.set(Request::DONE);
                return Poll::Ready(outcome.map_err(|_| Closed));
            }
        }
        if self.request.is_queued() {
            let mut became_head = false;
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
                    match raw.become_head(need) {
                        Some(true) => return Some(Ok(())),
                        Some(false) => {
                            became_head = true;
                            return Some(Ok(()));
                        }
                        None => {}
                    }
                }
                if attempt != Attempt::Registered {
                    mark_contended(&raw.state, CONTENDED);
                }
                None
            });
            match res {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) if !became_head => {
                    self.request.set(Request::DONE);
                    return Poll::Ready(r);
                }
                Poll::Ready(_) => {
                    // We gave up our place in the queue: pass on a wake-up we may hold.
                    self.drop_listener(raw);
                    self.request.set(Request::HEAD);
                }
            }
        }
        if self.request.is_head() {
            let res = poll_loop(strategy, raw.head(), &mut self.listener, |_| {
                if raw.is_closed() {
                    return Some(Err(Closed));
                }
                raw.collect(need).map(Ok)
            });
            return match res {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(Closed)) => {
                    self.request.set(Request::DONE);
                    raw.resign_head();
                    Poll::Ready(Err(Closed))
                }
                Poll::Ready(Ok(left)) => {
                    self.request.set(Request::DONE);
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
        let request = self.request;
        self.request.set(Request::DONE);
        if request.is_queued() {
            self.drop_listener(raw);
        } else if request.is_head() {
            // Only the head listens on `head`: there is nobody to pass its wake-up to.
            if let Some(listener) = self.listener.take() {
                listener.discard();
            }
            raw.resign_head();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_every_count_and_its_flags() {
        for need in [0, 1, 2, 3, 1 << 40, MAX_PERMITS - 1, MAX_PERMITS] {
            let mut request = Request::new(need);
            assert_eq!(request.need(), need);
            assert!(request.is_queued() && !request.is_head() && !request.is_done());
            request.set(Request::HEAD);
            assert_eq!(request.need(), need);
            assert!(request.is_head() && !request.is_queued() && !request.is_done());
            request.set(Request::DONE);
            assert_eq!(request.need(), need);
            assert!(request.is_done() && !request.is_head() && !request.is_queued());
        }
        // One permit, the common case, is a zero word.
        assert_eq!(Request::new(1).0, 0);
    }
}

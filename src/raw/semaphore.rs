//! The permit-counting state machine under [`Semaphore`](crate::Semaphore).
//!
//! # State word
//!
//! | bits | name     | meaning                                                             |
//! |------|----------|---------------------------------------------------------------------|
//! | 0    | `CLOSED` | the semaphore is closed; every wait fails                           |
//! | 1    | `PARKED` | the queue is not empty; set and cleared only under the queue's lock |
//! | 2..  | permits  | available permits, at most [`MAX_PERMITS`]                          |
//!
//! # Fairness: first in, first out
//!
//! Waiters are served strictly in the order they queued, whatever they ask for. A waiter that
//! finds too few permits takes all there are and queues with what it still lacks as its node's
//! data. From then on every returned permit goes to the queue first, under the queue's lock:
//! the first waiter's lack is filled, and once it has everything it is woken already owning its
//! permits; what is left goes to the next one. Only permits left over when the queue is empty
//! reach the state word. So while anyone waits the word holds no permits, and `try_acquire`, or
//! a later `acquire_many(3)` behind a queued `acquire_many(5)`, cannot take any.
//!
//! Only the first waiter ever holds part of what it asked for (permits reach a waiter only when
//! every waiter before it is served), so partial holdings cannot deadlock. A waiter that goes
//! away returns what it holds to the queue under the same lock, and a woken waiter that goes
//! away returns the permits it was given like any holder.
//!
//! # Why no wake-up is lost
//!
//! A waiter sets `PARKED` and links its node in one critical section. A release adds permits
//! with a compare-and-swap that fails when `PARKED` is set, and then hands them out under the
//! queue's lock instead.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, Check, Protocol, Strategy, TASK_SPIN_ROUNDS};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const CLOSED: usize = 1;
const PARKED: usize = 1 << 1;
const SHIFT: u32 = 2;

/// The largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// Token: the waiter was given every permit it asked for.
const GRANTED: usize = 0;
/// Token: the semaphore closed; the node's data is what the waiter still lacked.
const CLOSING: usize = 1;

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

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// Returning permits would have taken the count past [`MAX_PERMITS`]: how many of them did
/// not fit (the others went to waiters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow(pub(crate) usize);

/// The panic of a return that [`Overflow`]s: the same whether a permit is dropped or a wait
/// that held part of its permits goes away. `verb` says what the caller did with the `n`
/// permits ("returning", "adding").
#[cold]
#[track_caller]
pub(crate) fn overflow(verb: &str, n: usize, Overflow(refused): Overflow) -> ! {
    let permits = if n == 1 { "permit" } else { "permits" };
    if refused == n {
        panic!("{verb} {n} {permits} would exceed `Semaphore::MAX_PERMITS` ({MAX_PERMITS})")
    }
    panic!(
        "{verb} {n} {permits} would exceed `Semaphore::MAX_PERMITS` ({MAX_PERMITS}): {} went \
         to waiters, {refused} did not fit",
        n - refused
    )
}

/// [`overflow`] for permits given back by a guard or a wait, unless this thread is already
/// unwinding (a drop during a panic): a second panic would abort the process, so the permits
/// that did not fit are dropped then.
#[cold]
#[track_caller]
pub(crate) fn overflow_unless_unwinding(n: usize, refused: Overflow) {
    #[cfg(feature = "std")]
    if std::thread::panicking() {
        return;
    }
    overflow("returning", n, refused)
}

/// A semaphore without guards.
pub(crate) struct RawSemaphore {
    state: AtomicUsize,
    queue: WaitQueue,
}

impl RawSemaphore {
    const_fn! {
        // The public constructor's caller is the one to blame.
        #[track_caller]
        pub(crate) const fn new(permits: usize) -> RawSemaphore {
            assert!(
                permits <= MAX_PERMITS,
                "a semaphore holds at most `Semaphore::MAX_PERMITS` (usize::MAX >> 3) permits"
            );
            RawSemaphore {
                state: AtomicUsize::new(permits << SHIFT),
                queue: WaitQueue::new(),
            }
        }
    }

    #[inline]
    pub(crate) fn available(&self) -> usize {
        permits(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes `n` permits at once if nobody waits and enough are free. Zero permits succeed
    /// unless the semaphore is closed.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryFail> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Err(TryFail::Closed);
            }
            if n == 0 {
                return Ok(());
            }
            if s & PARKED != 0 || permits(s) < n {
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

    /// Returns `n` permits, to the queue first. Fails, changing nothing, if the total would
    /// exceed [`MAX_PERMITS`] and nobody waits; with waiters, permits that go to them are
    /// handed out and only the remainder is refused.
    #[inline]
    pub(crate) fn release(&self, n: usize) -> Result<(), Overflow> {
        if n == 0 {
            return Ok(());
        }
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & PARKED != 0 {
                return self.release_slow(n);
            }
            if n > MAX_PERMITS - permits(s) {
                return Err(Overflow(n));
            }
            match self.state.compare_exchange_weak(
                s,
                s + (n << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }

    /// Out of line, so that the release a permit's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
    fn release_slow(&self, n: usize) -> Result<(), Overflow> {
        let mut queue = self.queue.lock();
        self.release_locked(&mut queue, n)
    }

    /// Hands `n` permits to the waiters in order, then adds what is left to the word and
    /// clears `PARKED` if nobody is left. Under the queue's lock. Once the semaphore is closed
    /// nobody is handed any: the waiters `close` has not reached yet fail like the others.
    fn release_locked(&self, queue: &mut Locked<'_>, mut n: usize) -> Result<(), Overflow> {
        while n > 0 {
            queue.make_room();
            // Read after every batch: a `close` that ran between two of them has failed the
            // waiters it reached, and the rest must fail like them.
            if self.state.load(Ordering::Relaxed) & CLOSED != 0 {
                break;
            }
            let Some(lacks) = queue.front() else { break };
            if n < lacks {
                queue.set_front(lacks - n);
                n = 0;
            } else {
                n -= lacks;
                queue.pop_front(GRANTED);
            }
        }
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let mut next = s;
            if queue.is_empty() {
                next &= !PARKED;
            }
            let fits = n <= MAX_PERMITS - permits(s);
            if fits {
                next += n << SHIFT;
            }
            if next == s {
                return if fits { Ok(()) } else { Err(Overflow(n)) };
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if fits => return Ok(()),
                Ok(_) => return Err(Overflow(n)),
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes up to `n` free permits out of the count; returns how many.
    pub(crate) fn forget(&self, n: usize) -> usize {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let take = permits(s).min(n);
            if take == 0 {
                return 0;
            }
            match self.state.compare_exchange_weak(
                s,
                s - (take << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(actual) => s = actual,
            }
        }
    }

    /// Closes the semaphore and wakes every waiter. Returns whether it was open.
    pub(crate) fn close(&self) -> bool {
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            return false;
        }
        if prev & PARKED != 0 {
            let mut queue = self.queue.lock();
            queue.pop_front_while(CLOSING, |_| true);
            self.state.fetch_and(!PARKED, Ordering::Relaxed);
        }
        true
    }

    /// Gives back permits a waiter held when its wait ended without them. They came out of
    /// this semaphore, so they fit unless `add_permits` filled it up meanwhile; then this
    /// panics as dropping a permit of them would.
    // Out of line: only waits that end without their permits come here.
    #[cold]
    #[inline(never)]
    fn give_back(&self, n: usize) {
        if let Err(refused) = self.release(n) {
            overflow_unless_unwinding(n, refused);
        }
    }
}

struct AcquireWait<'a> {
    raw: &'a RawSemaphore,
    need: usize,
}

impl<'a> Protocol<'a> for AcquireWait<'a> {
    type Output = Result<(), Closed>;

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.queue
    }

    #[inline]
    fn attempt(&mut self) -> Option<Result<(), Closed>> {
        match self.raw.try_acquire(self.need) {
            Ok(()) => Some(Ok(())),
            Err(TryFail::Closed) => Some(Err(Closed)),
            Err(TryFail::NoPermits) => None,
        }
    }

    fn spins(&self) -> bool {
        true
    }

    #[inline]
    fn task_spin_rounds(&self) -> u32 {
        // Only while nobody is queued (permits go to them first) and the semaphore is open.
        if self.raw.state.load(Ordering::Relaxed) & (PARKED | CLOSED) == 0 {
            TASK_SPIN_ROUNDS
        } else {
            0
        }
    }

    fn released(&mut self) -> bool {
        // A queued wait polled after `close` fails at once, as the waits `close` has already
        // reached did. (While it is queued, `attempt` can only find the semaphore closed.)
        self.raw.state.load(Ordering::Acquire) & CLOSED != 0
    }

    #[inline]
    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<Result<(), Closed>> {
        let state = &self.raw.state;
        let mut s = state.load(Ordering::Relaxed);
        loop {
            if s & CLOSED != 0 {
                return Check::Done(Err(Closed));
            }
            // With anyone queued the word holds no permits: this takes none then.
            let take = permits(s).min(self.need);
            let done = take == self.need && s & PARKED == 0;
            let next = if done {
                s - (take << SHIFT)
            } else {
                (s - (take << SHIFT)) | PARKED
            };
            // Nothing to change (marked already, with nothing to take) needs no exchange:
            // while `PARKED` is set only a holder of the lock (us) adds permits to the word. A
            // `close` that lands meanwhile finds `PARKED` and fails us once we unlock.
            if next != s {
                if let Err(actual) =
                    state.compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
                {
                    s = actual;
                    continue;
                }
            }
            return match done {
                true => Check::Done(Ok(())),
                false => Check::Wait {
                    data: self.need - take,
                    front: false,
                },
            };
        }
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<Result<(), Closed>> {
        let held = if wakeup.token == GRANTED {
            // Served before a `close` that came before this poll: the acquire is still pending
            // for its caller, and every pending acquire fails once `close` has returned.
            if self.raw.state.load(Ordering::Acquire) & CLOSED == 0 {
                return Some(Ok(()));
            }
            self.need
        } else {
            self.need - wakeup.data
        };
        self.raw.give_back(held);
        Some(Err(Closed))
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, lacks: usize) {
        let held = self.need - lacks;
        // The count is consistent on `Err` (only what did not fit was refused), and the
        // queue's guard unlocks and wakes the waiters served here as the panic unwinds.
        if let Err(refused) = self.raw.release_locked(queue, held) {
            overflow_unless_unwinding(held, refused);
        }
    }

    fn undo(&mut self, out: Result<(), Closed>) {
        if out.is_ok() {
            self.raw.give_back(self.need);
        }
    }

    fn abandon(&mut self, wakeup: Wakeup) {
        let held = if wakeup.token == GRANTED {
            self.need
        } else {
            self.need - wakeup.data
        };
        self.raw.give_back(held);
    }
}

/// Advances an acquire of `need` permits; `Ready(Ok(()))` means the caller now owns them.
/// The caller tries [`RawSemaphore::try_acquire`] first, inline.
#[inline(never)]
pub(crate) fn poll_acquire<S: Strategy>(
    node: Pin<&Node>,
    raw: &RawSemaphore,
    need: usize,
    strategy: &mut S,
) -> Poll<Result<(), Closed>> {
    poll_wait(node, strategy, &mut AcquireWait { raw, need })
}

/// Withdraws an unfinished acquire of `need` permits, returning what it held.
pub(crate) fn cancel_acquire(node: Pin<&Node>, raw: &RawSemaphore, need: usize) {
    cancel(node, &mut AcquireWait { raw, need });
}

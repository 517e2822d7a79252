//! The permit-counting state machine under [`Semaphore`](crate::Semaphore).
//!
//! # State word
//!
//! | bits | name     | meaning                                                             |
//! |------|----------|---------------------------------------------------------------------|
//! | 0    | `CLOSED` | the semaphore is closed; every wait fails                           |
//! | 1    | `PARKED` | the queue is not empty; set and cleared only under the queue's lock |
//! | 2..  | permits  | available permits, at most [`MAX_PERMITS`] (but see "Returns")      |
//!
//! # Fairness: first in, first out
//!
//! Waiters are served strictly in the order they queued, whatever they ask for. A waiter that
//! finds too few permits takes all there are and queues with what it still lacks as its node's
//! data. From then on every returned permit goes to the queue first, under the queue's lock:
//! the first waiter's lack is filled, and once it has everything it is woken already owning its
//! permits; what is left goes to the next one. Only permits left over when the queue is empty
//! reach the state word for good. While `PARKED` is set nobody takes permits from the word
//! (see "Returns"), so `try_acquire`, or a later `acquire_many(3)` behind a queued
//! `acquire_many(5)`, cannot take any.
//!
//! Only the first waiter ever holds part of what it asked for (permits reach a waiter only when
//! every waiter before it is served), so partial holdings cannot deadlock. A waiter that goes
//! away returns what it holds to the queue under the same lock, and a woken waiter that goes
//! away returns the permits it was given like any holder.
//!
//! # Returns
//!
//! A permit guard gives its permits back with one `fetch_add`, not a compare-and-swap: under
//! contention a load followed by a compare-and-swap moves the word's cache line twice. The
//! addition is checked after the fact, and two cases are settled after it:
//!
//! - `PARKED` was set: the permits belong to the waiters. Whoever holds the queue's lock to
//!   hand out permits first takes every permit out of the word (one compare-and-swap) and
//!   hands them on with its own. The returner takes the lock to do so (finding nothing if a
//!   holder of the lock did it first). Until then nobody takes them: `try_acquire`, a queueing
//!   acquire's check and `forget` take nothing while `PARKED` is set and the semaphore is
//!   open (once it is closed nobody is handed any, and the permits are free again).
//! - The count passed [`MAX_PERMITS`]: the returner takes its permits back out (unless
//!   acquires took the count back down meanwhile) and its drop panics, as a compare-and-swap
//!   that refused them would have made it. The word's bits above `MAX_PERMITS` are the
//!   room for this: the count exceeds the limit only by returns not yet settled, each of at
//!   most [`FAST_RETURN_MAX`] permits (larger ones use the compare-and-swap), so it would
//!   take 2^24 threads returning at once to fill them.
//!
//! `add_permits`, and permits given back by a wait that ends without them, still use the
//! compare-and-swap, which refuses what does not fit before changing anything.
//!
//! # Why no wake-up is lost
//!
//! A waiter sets `PARKED` and links its node in one critical section. `add_permits` adds
//! permits with a compare-and-swap that fails when `PARKED` is set, and then hands them out
//! under the queue's lock instead; a guard's return that finds `PARKED` set takes that lock
//! after its addition (see "Returns").

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{
    cancel, poll_wait, spin_credit, Check, Look, Protocol, Strategy, TaskSpinFor, TASK_SPIN_ROUNDS,
};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const CLOSED: usize = 1;
const PARKED: usize = 1 << 1;
const SHIFT: u32 = 2;

/// The largest number of permits a semaphore can hold.
pub(crate) const MAX_PERMITS: usize = usize::MAX >> 3;

/// The most permits a guard returns with an unchecked addition (see "Returns"): 2^37 on 64-bit
/// targets, 31 on 32-bit ones.
const FAST_RETURN_MAX: usize = MAX_PERMITS >> 24;

/// Token: the waiter was given every permit it asked for.
const GRANTED: usize = 0;
/// Token: the semaphore closed; the node's data is what the waiter still lacked.
const CLOSING: usize = 1;

#[inline]
const fn permits(state: usize) -> usize {
    state >> SHIFT
}

/// Whether the permits in the word belong to the waiters (see "Returns"): someone waits and
/// the semaphore is open. Once it is closed, nobody is handed any.
#[inline]
const fn owed_to_waiters(state: usize) -> bool {
    state & (PARKED | CLOSED) == PARKED
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
        let s = self.state.load(Ordering::Acquire);
        if owed_to_waiters(s) {
            0
        } else {
            permits(s).min(MAX_PERMITS)
        }
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
            // Saturating: a return being settled may have taken the count past the limit.
            if n > MAX_PERMITS.saturating_sub(permits(s)) {
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

    /// Returns `n` permits that a guard held: one `fetch_add` when nobody waits and the count
    /// stays within [`MAX_PERMITS`], settled after it otherwise (see "Returns"). Fails, having
    /// taken its permits back out, if they did not fit.
    #[inline]
    pub(crate) fn return_held(&self, n: usize) -> Result<(), Overflow> {
        // One test for both: zero returns nothing, and large returns take the checked way.
        if n.wrapping_sub(1) >= FAST_RETURN_MAX {
            return if n == 0 {
                Ok(())
            } else {
                self.release_large(n)
            };
        }
        let prev = self.state.fetch_add(n << SHIFT, Ordering::Release);
        // No overflow: the count is below 2^62 (see "Returns") and `n` below 2^38.
        if prev & PARKED == 0 && permits(prev) + n <= MAX_PERMITS {
            return Ok(());
        }
        self.settle(n, prev)
    }

    /// [`release`](Self::release), out of line: a guard of that many permits is rare.
    #[cold]
    #[inline(never)]
    fn release_large(&self, n: usize) -> Result<(), Overflow> {
        self.release(n)
    }

    /// The rest of [`return_held`](Self::return_held) when the word it added its `n` permits
    /// to, `prev`, had `PARKED` set or the count went past the limit.
    #[cold]
    #[inline(never)]
    fn settle(&self, n: usize, prev: usize) -> Result<(), Overflow> {
        if prev & PARKED != 0 {
            // Someone queued, so the queue exists: locking it allocates nothing.
            let mut queue = self.queue.lock();
            // Hands the permits in the word to the waiters, ours among them unless a holder
            // of the lock already did. With nothing of its own it refuses nothing.
            let handed = self.release_locked(&mut queue, 0);
            debug_assert_eq!(handed, Ok(()));
        }
        // Read afresh, not judged by `prev`: what a holder of the lock handed back into the
        // word may have taken it past the limit even if ours alone fitted. Over it, take ours
        // back out, unless acquires took the count back within it; returns that pushed it
        // further settle theirs. An exchange, as `release_locked` takes permits out of the
        // word, so the two never count the same permit.
        let mut s = self.state.load(Ordering::Relaxed);
        while permits(s) > MAX_PERMITS {
            match self.state.compare_exchange_weak(
                s,
                s - (n << SHIFT),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Err(Overflow(n)),
                Err(actual) => s = actual,
            }
        }
        Ok(())
    }

    /// Out of line, so that `release` inlined stays one compare-and-swap loop.
    #[cold]
    #[inline(never)]
    fn release_slow(&self, n: usize) -> Result<(), Overflow> {
        let mut queue = self.queue.lock();
        self.release_locked(&mut queue, n)
    }

    /// Hands `n` permits to the waiters in order, with any that guards returned to the word
    /// while someone waited (see "Returns"), then adds what is left to the word and clears
    /// `PARKED` if nobody is left. Under the queue's lock. Only the caller's `n` can be
    /// refused: returned permits stay in the word, past the limit if need be, for their
    /// returners to settle. Once the semaphore is closed nobody is handed any: the waiters
    /// `close` has not reached yet fail like the others.
    fn release_locked(&self, queue: &mut Locked<'_>, n: usize) -> Result<(), Overflow> {
        // The caller's permits, and returned ones taken out of the word: both in hand.
        let (mut ours, mut theirs) = (n, 0);
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            // Taken out at once, not at the end: handing out can release the lock for a
            // moment (a full batch of wake-ups), and another holder must not count them too.
            if owed_to_waiters(s) && permits(s) != 0 {
                match self.state.compare_exchange_weak(
                    s,
                    s & (CLOSED | PARKED),
                    Ordering::Acquire,
                    Ordering::Acquire,
                ) {
                    Ok(_) => theirs += permits(s),
                    Err(actual) => {
                        s = actual;
                        continue;
                    }
                }
            }
            // Theirs first: they were returned before the caller's.
            if theirs != 0 {
                theirs = self.hand_out(queue, theirs);
            }
            if ours != 0 {
                ours = self.hand_out(queue, ours);
            }
            // Afresh: a full batch of wake-ups released the lock for a moment.
            s = self.state.load(Ordering::Acquire);
            let mut next = s;
            if queue.is_empty() {
                next &= !PARKED;
            }
            next += theirs << SHIFT;
            let fits = ours <= MAX_PERMITS.saturating_sub(permits(next));
            if fits {
                next += ours << SHIFT;
            }
            let result = if fits { Ok(()) } else { Err(Overflow(ours)) };
            // Nothing to change. Permits returned meanwhile are settled by their returners,
            // who found `PARKED` set and take the lock after us.
            if next == s {
                return result;
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return result,
                Err(actual) => s = actual,
            }
        }
    }

    /// Hands `n` permits to the waiters in order; returns what is left. Stops at a `close`.
    fn hand_out(&self, queue: &mut Locked<'_>, mut n: usize) -> usize {
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
        n
    }

    /// Takes up to `n` free permits out of the count; returns how many.
    pub(crate) fn forget(&self, n: usize) -> usize {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let take = if owed_to_waiters(s) {
                0
            } else {
                permits(s).min(n)
            };
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
    fn task_spin(&self) -> TaskSpinFor {
        // Only while nobody is queued (permits go to them first) and the semaphore is open.
        if self.raw.state.load(Ordering::Relaxed) & (PARKED | CLOSED) != 0 {
            TaskSpinFor::Rounds(0)
        } else if spin_credit::has() {
            TaskSpinFor::Time
        } else {
            TaskSpinFor::Rounds(TASK_SPIN_ROUNDS)
        }
    }

    #[inline]
    fn look(&self) -> Look {
        let s = self.raw.state.load(Ordering::Relaxed);
        if s & CLOSED != 0 {
            // The attempt fails the wait at once.
            Look::Free
        } else if s & PARKED != 0 {
            // Somebody queued: the permits go to the queue first.
            Look::Stop
        } else if permits(s) >= self.need {
            Look::Free
        } else {
            Look::Taken
        }
    }

    fn task_spun(&mut self, took: bool) {
        spin_credit::record(took);
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
            // With anyone queued, permits in the word are theirs (see "Returns").
            let take = if owed_to_waiters(s) {
                0
            } else {
                permits(s).min(self.need)
            };
            let done = take == self.need && s & PARKED == 0;
            let next = if done {
                s - (take << SHIFT)
            } else {
                (s - (take << SHIFT)) | PARKED
            };
            // Nothing to change (marked already, taking nothing) needs no exchange: what is
            // returned meanwhile is settled by its returner under this lock, after us. A
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

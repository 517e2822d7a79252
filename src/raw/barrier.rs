//! The rendezvous state machine under [`Barrier`](crate::Barrier).
//!
//! # State word
//!
//! | bits          | name        | meaning                                                      |
//! |---------------|-------------|--------------------------------------------------------------|
//! | 0             | `BROKEN`    | `abort` was called; every wait fails until `reset`           |
//! | 1             | `DRAINING`  | `reset` was called; arrived parties fail, newcomers wait     |
//! | 2             | `PARKED`    | the queue is not empty; changed only under the queue's lock  |
//! | 3             | `GEN`       | parity of the generation now filling                         |
//! | 4..4+F        | `count`     | parties arrived in the generation now filling                |
//! | 4+F..4+2F     | `left`      | parties of the last tripped generation yet to collect        |
//! | 4+2F..4+3F    | `handed`    | results (indices) handed out in the last tripped generation  |
//!
//! `F` is `(usize::BITS - 4) / 3`: 20 bits on 64-bit targets, 9 on 32-bit ones, which bounds
//! the number of parties ([`MAX_PARTIES`]).
//!
//! # Generations
//!
//! The party that brings `count` to `parties` *trips* the barrier in one compare-and-swap: it
//! flips `GEN`, sets `count` to zero and `left` to `parties`. A party remembers the parity it
//! arrived under and learns that its generation tripped when the parity differs. A party that
//! arrives after the trip counts toward the next generation, so a fast party cannot slip back
//! into the one that just tripped.
//!
//! The next generation may fill while the tripped one is still collecting, but it trips only
//! once `left` is zero. If it fills first, the party of the previous generation that collects
//! last trips it, and newcomers wait outside (uncounted) until that trip. That rule is what makes one parity bit enough (a party can only ever see its
//! own generation or the next one), and it lets one `handed` counter number the results: each
//! party that collects takes `handed` as its index and bumps it, in the same step that lowers
//! `left`. Index 0, the first result collected, is the leader. A future of a tripped generation
//! dropped before collecting lowers `left` without taking an index, so the indices handed out
//! stay dense and the leader is a party that actually returns.
//!
//! # Withdrawing, aborting, resetting
//!
//! A party that leaves before its generation trips (its future dropped, its blocking wait out
//! of time, or the barrier broken) lowers `count` in one compare-and-swap. Arrival, withdrawal
//! and trip all change the same word, so the last arrival racing a withdrawal either sees the
//! lowered count (and does not trip) or trips first (and the withdrawal then finds its
//! generation tripped and collects instead): exactly one trip either way.
//!
//! A party that withdraws from a *full* generation (one whose newcomers wait outside for the
//! previous generation to collect) makes room: it wakes the waiters so that one outside
//! takes its place.
//!
//! `abort` sets `BROKEN`: arrived parties withdraw with an error and newcomers fail at once.
//! `reset` clears `BROKEN`; if parties are still arrived it sets `DRAINING`, which makes them
//! withdraw with an error while newcomers wait; the last one to withdraw clears `DRAINING` and
//! the barrier is empty and whole again. Parties of a generation that tripped before the abort
//! or reset still collect their results.
//!
//! Every change that someone may wait for wakes every waiter queued before it, and each
//! re-reads the word, so no waiter ever holds a wake-up meant for another and cancellation has
//! nothing to pass on. A waiter that queues again while those wake-ups go out has read the
//! word after the change, and is left for the next one (see `RawBarrier::config`). A queued
//! waiter polled again re-reads the word before its wake-up comes (the wake-ups go out batch
//! by batch), so once one party has seen a trip, a party polled after it sees it too.
//!
//! # Why no wake-up is lost
//!
//! A waiter that must wait remembers the word it last read. Under the queue's lock it sets
//! `PARKED` with a compare-and-swap from exactly that value, and links its node only if that
//! succeeds; if the word moved meanwhile it reads it again instead. Every change that wakes
//! is a read-modify-write of the word that sees `PARKED` and then takes the queue's lock.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{stamped_before, Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, Check, Finally, Protocol, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const BROKEN: usize = 1;
const DRAINING: usize = 1 << 1;
const PARKED: usize = 1 << 2;
const GEN: usize = 1 << 3;
const FIELD_BITS: u32 = (usize::BITS - 4) / 3;
const MASK: usize = (1 << FIELD_BITS) - 1;
const COUNT_SHIFT: u32 = 4;
const LEFT_SHIFT: u32 = COUNT_SHIFT + FIELD_BITS;
const HANDED_SHIFT: u32 = LEFT_SHIFT + FIELD_BITS;

/// The most parties a barrier can have: `2^20 - 1` on 64-bit targets, `2^9 - 1` on 32-bit ones.
pub(crate) const MAX_PARTIES: usize = MASK;

#[inline]
const fn count(s: usize) -> usize {
    (s >> COUNT_SHIFT) & MASK
}

#[inline]
const fn left(s: usize) -> usize {
    (s >> LEFT_SHIFT) & MASK
}

#[inline]
const fn handed(s: usize) -> usize {
    (s >> HANDED_SHIFT) & MASK
}

#[inline]
const fn with_count(s: usize, n: usize) -> usize {
    (s & !(MASK << COUNT_SHIFT)) | (n << COUNT_SHIFT)
}

/// The generation now filling trips: flip the parity, empty it, expect `parties` to collect.
#[inline]
const fn trip(s: usize, parties: usize) -> usize {
    let flags = (s & (BROKEN | DRAINING | PARKED)) | ((s & GEN) ^ GEN);
    flags | (parties << LEFT_SHIFT)
}

/// A barrier without results: a state word, the party count and the queue parties park on.
pub(crate) struct RawBarrier {
    state: AtomicUsize,
    /// The party count in the low [`FIELD_BITS`] bits, fixed; above it the wake epoch, bumped
    /// under the queue's lock by every release of the waiters. A waiter queues with the epoch
    /// current then, and a release wakes only the waiters queued before it: a woken waiter
    /// that has to wait on and queues again while the release is between two batches is not
    /// woken again by it (with wakers that poll at once, that release would never end).
    config: AtomicUsize,
    queue: WaitQueue,
}

/// The wake epoch's place in [`RawBarrier::config`].
const EPOCH_SHIFT: u32 = FIELD_BITS;
const EPOCH_MASK: usize = usize::MAX >> FIELD_BITS;

/// Why a wait ended without a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Broken;

impl RawBarrier {
    const_fn! {
        // The public constructor's caller is the one to blame.
        #[track_caller]
        pub(crate) const fn new(parties: usize) -> RawBarrier {
            assert!(parties != 0, "a barrier needs at least one party (`Barrier::new(0)`)");
            assert!(
                parties <= MAX_PARTIES,
                "too many parties for a barrier: at most `Barrier::MAX_PARTIES`"
            );
            RawBarrier {
                state: AtomicUsize::new(0),
                config: AtomicUsize::new(parties),
                queue: WaitQueue::new(),
            }
        }
    }

    #[inline]
    pub(crate) fn parties(&self) -> usize {
        // Relaxed: these bits never change.
        self.config.load(Ordering::Relaxed) & MASK
    }

    /// The wake epoch now. Under the queue's lock, which guards it.
    fn epoch(&self) -> usize {
        self.config.load(Ordering::Relaxed) >> EPOCH_SHIFT
    }

    /// Parties arrived in the generation now filling.
    pub(crate) fn n_waiting(&self) -> usize {
        let s = self.state.load(Ordering::Acquire);
        // Parties arrived before an abort or a reset are about to fail, not waiting.
        if s & (BROKEN | DRAINING) != 0 {
            0
        } else {
            count(s)
        }
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.state.load(Ordering::Acquire) & BROKEN != 0
    }

    /// Applies `f` to the state word until it sticks; returns the previous and new values.
    #[inline]
    fn update(&self, mut f: impl FnMut(usize) -> usize) -> (usize, usize) {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let next = f(s);
            if next == s {
                return (s, s);
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return (s, next),
                Err(actual) => s = actual,
            }
        }
    }

    /// Wakes every queued waiter if `prev`, the word before a change, says any is queued.
    fn wake_all(&self, prev: usize) {
        if prev & PARKED != 0 {
            self.wake_all_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_all_slow(&self) {
        let mut queue = self.queue.lock();
        let prev = self.config.fetch_add(1 << EPOCH_SHIFT, Ordering::Relaxed) >> EPOCH_SHIFT;
        let now = prev.wrapping_add(1) & EPOCH_MASK;
        queue.pop_front_while(0, |linked| stamped_before(linked, now, EPOCH_MASK));
        // Waiters that queued again meanwhile are still there, and keep `PARKED` set.
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Test only: puts the wake epoch at its last value, so that the next bump wraps.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn move_epoch_to_wrap(&self) {
        self.config
            .fetch_or(EPOCH_MASK << EPOCH_SHIFT, Ordering::Relaxed);
    }

    /// Breaks the barrier. Returns whether it was whole.
    pub(crate) fn abort(&self) -> bool {
        let (prev, _) = self.update(|s| s | BROKEN);
        self.wake_all(prev);
        prev & BROKEN == 0
    }

    /// Mends the barrier; parties still arrived fail, newcomers wait until they are gone.
    pub(crate) fn reset(&self) {
        let (prev, _) = self.update(|s| {
            let s = s & !BROKEN;
            if count(s) == 0 {
                s & !DRAINING
            } else {
                s | DRAINING
            }
        });
        self.wake_all(prev);
    }

    /// Collects the result of a tripped generation; `keep` is false for a dropped future,
    /// which takes no index. Trips the next generation if it filled while this one collected.
    fn collect(&self, keep: bool) -> usize {
        let parties = self.parties();
        let (prev, next) = self.update(|s| {
            let (l, h) = (left(s), handed(s));
            debug_assert!(
                l > 0,
                "collected from a barrier generation with nobody left"
            );
            let h = h + usize::from(keep);
            let base = s & !((MASK << LEFT_SHIFT) | (MASK << HANDED_SHIFT));
            if l == 1 {
                if count(s) == parties && s & (BROKEN | DRAINING) == 0 {
                    trip(s, parties)
                } else {
                    base
                }
            } else {
                base | ((l - 1) << LEFT_SHIFT) | (h << HANDED_SHIFT)
            }
        });
        if (prev ^ next) & GEN != 0 {
            self.wake_all(prev);
        }
        handed(prev)
    }
}

/// Where a barrier wait stands: one word, zero when new (the future's layout wants that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Phase {
    /// Not counted yet.
    Outside = 0,
    /// Counted in the generation with parity 0.
    ArrivedEven,
    /// Counted in the generation with parity `GEN`.
    ArrivedOdd,
    /// Finished: the result was returned.
    Done,
}

impl Phase {
    fn arrived(gen: usize) -> Phase {
        if gen == 0 {
            Phase::ArrivedEven
        } else {
            Phase::ArrivedOdd
        }
    }

    /// The parity of the generation this party arrived in, if it has arrived.
    fn generation(self) -> Option<usize> {
        match self {
            Phase::ArrivedEven => Some(0),
            Phase::ArrivedOdd => Some(GEN),
            Phase::Outside | Phase::Done => None,
        }
    }
}

/// What a finished wait yields: the index, or the barrier was broken.
pub(crate) type Outcome = Result<usize, Broken>;

/// The part of a barrier future that waits, beside its node.
#[derive(Debug)]
pub(crate) struct BarrierWaiter {
    phase: Phase,
}

struct BarrierWait<'a> {
    raw: &'a RawBarrier,
    phase: &'a mut Phase,
    /// The word as the last look at it found it, while the wait had to go on.
    seen: usize,
}

impl<'a> Protocol<'a> for BarrierWait<'a> {
    type Output = Outcome;

    fn queue(&self) -> &'a WaitQueue {
        &self.raw.queue
    }

    fn attempt(&mut self) -> Option<Outcome> {
        match BarrierWaiter::step(self.phase, self.raw) {
            Ok(outcome) => Some(outcome),
            Err(seen) => {
                self.seen = seen;
                None
            }
        }
    }

    fn spins(&self) -> bool {
        // A thread retries a few times, yielding, before it parks: parties that work in step
        // arrive within microseconds of each other, and a party still retrying when the last
        // one trips the barrier is released without a wake-up through the kernel.
        true
    }

    fn released(&mut self) -> bool {
        // Once one party has seen the trip, a party polled after it sees it too (a wake-up
        // carries nothing to pass on). Whatever the next step of this party can act on:
        let s = self.raw.state.load(Ordering::Acquire);
        match self.phase.generation() {
            // its generation tripped, or the barrier broke or is being reset;
            Some(gen) => s & GEN != gen || s & (BROKEN | DRAINING) != 0,
            // outside: the barrier broke, or the generation it waits to enter has room.
            None => s & BROKEN != 0 || (s & DRAINING == 0 && count(s) < self.raw.parties()),
        }
    }

    fn released_counts_at_deadline(&self) -> bool {
        // A timed-out party gives up through `give_up`, which lets a trip win; one waiting
        // outside a full generation must not enter it after its deadline.
        false
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<Outcome> {
        // Queue only if nothing changed since that look.
        match self.raw.state.compare_exchange(
            self.seen,
            self.seen | PARKED,
            Ordering::AcqRel,
            Ordering::Relaxed,
        ) {
            Ok(_) => Check::Wait {
                data: self.raw.epoch(),
                front: false,
            },
            Err(_) => Check::Retry,
        }
    }

    fn woken(&mut self, _wakeup: Wakeup) -> Option<Outcome> {
        // Something changed: look again.
        None
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.raw.state, PARKED);
    }
}

impl BarrierWaiter {
    pub(crate) const fn new() -> Self {
        BarrierWaiter {
            phase: Phase::Outside,
        }
    }

    /// One look at the state word: arrive, collect, fail, or keep waiting (with the word seen).
    fn step(phase: &mut Phase, raw: &RawBarrier) -> Result<Outcome, usize> {
        if *phase == Phase::Outside {
            let parties = raw.parties();
            let mut arrived = None;
            let (prev, next) = raw.update(|s| {
                arrived = None;
                // Broken, draining, or full and waiting for the previous generation to collect.
                if s & (BROKEN | DRAINING) != 0 || count(s) == parties {
                    return s;
                }
                arrived = Some(s & GEN);
                let n = count(s) + 1;
                if n == parties && left(s) == 0 {
                    trip(s, parties)
                } else {
                    with_count(s, n)
                }
            });
            match arrived {
                Some(gen) => {
                    *phase = Phase::arrived(gen);
                    if (prev ^ next) & GEN != 0 {
                        raw.wake_all(prev);
                    }
                }
                None if prev & BROKEN != 0 => {
                    *phase = Phase::Done;
                    return Ok(Err(Broken));
                }
                // A reset is draining the parties before us, or the generation is full: wait.
                None => return Err(prev),
            }
        }
        if let Some(gen) = phase.generation() {
            let s = raw.state.load(Ordering::Acquire);
            if s & GEN != gen {
                *phase = Phase::Done;
                return Ok(Ok(raw.collect(true)));
            }
            if s & (BROKEN | DRAINING) != 0 {
                *phase = Phase::Done;
                return Ok(match Self::leave(gen, raw, true) {
                    Some(index) => Ok(index),
                    None => Err(Broken),
                });
            }
            return Err(s);
        }
        panic!("{}", crate::future::POLLED_AFTER_COMPLETION)
    }

    /// Leaves generation `gen`: withdraws if it has not tripped, else collects (returning the
    /// index, or taking none unless `keep`). One compare-and-swap decides which, so a trip
    /// racing the leave is never undone.
    fn leave(gen: usize, raw: &RawBarrier, keep: bool) -> Option<usize> {
        Self::leave_seen(gen, raw, keep).0
    }

    /// [`leave`](Self::leave), also returning the word the step that decided acted on.
    fn leave_seen(gen: usize, raw: &RawBarrier, keep: bool) -> (Option<usize>, usize) {
        let mut tripped = false;
        let (prev, next) = raw.update(|s| {
            tripped = s & GEN != gen;
            if tripped {
                return s;
            }
            let s = with_count(s, count(s) - 1);
            if count(s) == 0 {
                s & !DRAINING
            } else {
                s
            }
        });
        if tripped {
            return (Some(raw.collect(keep)), prev);
        }
        // The last party out of a reset ends the drain, and a party leaving a full generation
        // makes room for one waiting outside: either way, waiters have something to re-read.
        if (prev ^ next) & DRAINING != 0 || count(prev) == raw.parties() {
            raw.wake_all(prev);
        }
        (None, prev)
    }

    /// Advances the wait; `Ready` with the index once the generation trips, or an error.
    pub(crate) fn poll_wait<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawBarrier,
        strategy: &mut S,
    ) -> Poll<Outcome> {
        let mut wait = BarrierWait {
            raw,
            phase: &mut self.phase,
            seen: 0,
        };
        poll_wait(node, strategy, &mut wait)
    }

    /// Whether the wait has finished.
    pub(crate) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Ends the wait now: collects the result if this party's generation has tripped (in the
    /// same step that would otherwise withdraw it), else withdraws. `None` if it timed out;
    /// `Some(Err(Broken))` if an `abort` or `reset` had come first (its wake-up may not have
    /// reached this party yet).
    #[cfg(feature = "std")]
    pub(crate) fn give_up(&mut self, node: Pin<&Node>, raw: &RawBarrier) -> Option<Outcome> {
        self.unqueue(node, raw);
        match core::mem::replace(&mut self.phase, Phase::Done).generation() {
            Some(gen) => match Self::leave_seen(gen, raw, true) {
                (Some(index), _) => Some(Ok(index)),
                (None, prev) if prev & (BROKEN | DRAINING) != 0 => Some(Err(Broken)),
                (None, _) => None,
            },
            // Outside, it fails on a broken barrier as its next look would.
            None if raw.is_broken() => Some(Err(Broken)),
            None => None,
        }
    }

    /// Withdraws an unfinished wait, or gives up the result of a generation that tripped.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, raw: &RawBarrier) {
        let phase = core::mem::replace(&mut self.phase, Phase::Done);
        // The party leaves even if leaving the queue panics (dropping a user's waker can).
        let _leave = Finally::new(|| {
            if let Some(gen) = phase.generation() {
                Self::leave(gen, raw, false);
            }
        });
        self.unqueue(node, raw);
    }

    /// Takes the node out of the queue (a wake-up it holds carries nothing).
    fn unqueue(&mut self, node: Pin<&Node>, raw: &RawBarrier) {
        cancel(
            node,
            &mut BarrierWait {
                raw,
                phase: &mut self.phase,
                seen: 0,
            },
        );
    }
}

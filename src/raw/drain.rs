//! A count of outstanding work with a one-way trigger: the state under
//! [`WaitGroup`](crate::WaitGroup) and [`ShutdownSignal`](crate::ShutdownSignal).
//!
//! # State word
//!
//! | bits | name        | meaning                                                              |
//! |------|-------------|----------------------------------------------------------------------|
//! | 0    | `TRIGGERED` | set once and never cleared (a wait group is born with it)            |
//! | 1    | `PARKED`    | the queue is not empty; set and cleared only under the queue's lock  |
//! | 2..  | count       | units of work outstanding (tokens, drain guards)                     |
//!
//! Two waits park on the queue. A *trigger wait* completes once `TRIGGERED` is set. A *drain
//! wait* completes once `TRIGGERED` is set and the count is zero at some moment after the wait
//! began, even if new work comes in before the waiter runs.
//!
//! # Why the last unit cannot slip past a drain wait
//!
//! Adding work is one lock-free `fetch_add`. Completing it is lock-free too, except for the
//! decrement that takes a triggered count to zero while `PARKED` is set: that one is made
//! under the queue's lock. A drain waiter links under the same lock after seeing a non-zero
//! count, so every queued waiter is there before the zero that ends its wait, and the thread
//! that makes that zero finds it. A new unit racing the last one's completion either lands
//! first (the count never reaches zero: nobody is woken) or after (the waiters queued before
//! the zero are woken, and later waiters wait for the new unit).
//!
//! # Epochs
//!
//! Waking everyone may take several batches, and the lock is released between them; a drain
//! wait that links meanwhile saw a non-zero count and must not be woken by a zero that came
//! before it. So each release of waiters (the trigger, a zero) bumps an epoch under the
//! lock, every waiter links with the epoch current at the time, and a release wakes only the
//! waiters older than its own epoch. The queue is in arrival order, so those are at its front.
//!
//! # The trigger's release
//!
//! The trigger completes every trigger wait, and the drain waits if the count is zero. A
//! drain wait with work still out is not woken: it moves to the back of the queue, still
//! linked, with the trigger's epoch, so `PARKED` stays set and the zero that ends it is made
//! under the lock, whenever it comes.
//!
//! While `PARKED` is set, `TRIGGERED` is set only under the lock, together with `FIRING` in
//! the epoch word, which stays set until the trigger's release has popped every waiter that
//! linked before it. A zero made meanwhile (between two of its batches) wakes nobody itself:
//! it bumps the epoch and sets `ZERO_SEEN`, and the trigger's release completes the drain
//! waits older than that epoch too. So the thread that fires a signal wakes every trigger wait
//! (a child signal's registration among them) itself, and has fired every child when it
//! returns.
//!
//! A queued wait that is polled again before its batch is reached loads the state word first
//! and, if its wait is over, leaves the queue itself: once one waiter has seen a release, a
//! waiter polled after it does too, as long as the word still shows it (a drain wait polled
//! after new work came waits for its batch, which still ends it). A thread whose deadline
//! passes asks the queue instead (`at_deadline`), so it counts such a zero too.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{stamped_before, Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, AtDeadline, Check, Protocol, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const TRIGGERED: usize = 1;
const PARKED: usize = 1 << 1;
const COUNT_SHIFT: u32 = 2;
const ONE: usize = 1 << COUNT_SHIFT;

/// The most units of work a count holds at once (2^61 - 1 on 64-bit targets). The word has
/// room above it, so threads racing past the limit can still undo their increments.
pub(crate) const MAX_COUNT: usize = usize::MAX >> 3;

/// Bit 0 of a queued node's data: a drain wait (else a trigger wait). The epoch is above it.
const DRAIN: usize = 1;
/// The epoch's bits in the epoch word; the two bits above them are flags.
const EPOCH_MASK: usize = usize::MAX >> 3;
/// In the epoch word: the trigger's release is running (see the module docs).
const FIRING: usize = 1 << (usize::BITS - 1);
/// In the epoch word: the count reached zero while `FIRING`; the trigger's release completes
/// the drain waits older than the current epoch too.
const ZERO_SEEN: usize = 1 << (usize::BITS - 2);

#[inline]
const fn count(state: usize) -> usize {
    state >> COUNT_SHIFT
}

/// Whether a waiter that linked in epoch `linked` came before a release of epoch `current`.
#[inline]
fn older(linked: usize, current: usize) -> bool {
    stamped_before(linked, current, EPOCH_MASK)
}

/// A count of outstanding work, a trigger, and the queue their waiters park on.
pub(crate) struct RawDrain {
    state: AtomicUsize,
    /// The epoch and the `FIRING` and `ZERO_SEEN` flags. Changed only under the queue's lock
    /// (see the module docs).
    epoch: AtomicUsize,
    queue: WaitQueue,
}

impl RawDrain {
    const_fn! {
        /// A count of zero, triggered or not.
        pub(crate) const fn new(triggered: bool) -> RawDrain {
            RawDrain {
                state: AtomicUsize::new(if triggered { TRIGGERED } else { 0 }),
                epoch: AtomicUsize::new(0),
                queue: WaitQueue::new(),
            }
        }
    }

    /// Whether the trigger has fired.
    #[inline]
    pub(crate) fn is_triggered(&self) -> bool {
        self.state.load(Ordering::Acquire) & TRIGGERED != 0
    }

    /// The units of work outstanding right now.
    #[inline]
    pub(crate) fn count(&self) -> usize {
        count(self.state.load(Ordering::Acquire))
    }

    /// Sets the count, keeping the other bits: lets tests reach the limit.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn set_count_for_test(&self, n: usize) {
        let s = self.state.load(Ordering::Relaxed);
        self.state
            .store((s & (ONE - 1)) | (n << COUNT_SHIFT), Ordering::Relaxed);
    }

    /// Fires the trigger and wakes every trigger wait (and every drain wait, which completes
    /// if the count is zero). Returns whether this call fired it.
    #[inline]
    pub(crate) fn trigger(&self) -> bool {
        self.trigger_with(|| ())
    }

    /// [`trigger`](Self::trigger), calling `before_waking` first if anyone is queued: before
    /// the flag is set, and only then. Without waiters nothing is woken, so nothing runs on
    /// behalf of this trigger after it has set the flag.
    pub(crate) fn trigger_with(&self, before_waking: impl FnOnce()) -> bool {
        // Acquire, also where the exchange fails: a trigger that finds the flag set is ordered
        // after the one that set it, and so after everything that firing had counted (a
        // shutdown signal's count of firings under way, say).
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if s & TRIGGERED != 0 {
                return false;
            }
            if s & PARKED != 0 {
                before_waking();
                return self.fire();
            }
            // Nobody queued, so nobody to wake: a waiter that queues later (under the lock,
            // setting `PARKED`, which fails this exchange) sees the trigger.
            match self.state.compare_exchange_weak(
                s,
                s | TRIGGERED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Fires the trigger with waiters queued, and releases them (see the module docs).
    #[cold]
    #[inline(never)]
    fn fire(&self) -> bool {
        let mut queue = self.queue.lock();
        let prev = self.state.fetch_or(TRIGGERED, Ordering::AcqRel);
        if prev & TRIGGERED != 0 {
            return false;
        }
        // Drained now, whatever is tracked between our batches: every drain wait queued
        // before is over.
        let zero_now = count(prev) == 0;
        // A zero now is seen as a zero made meanwhile is: a timed drain wait out of time
        // before the firing reaches it reads it there (see `zero_since`).
        let bound = self.next_epoch(FIRING | if zero_now { ZERO_SEEN } else { 0 });
        loop {
            queue.make_room();
            let Some(data) = queue.front() else { break };
            if !older(data >> 1, bound) {
                break;
            }
            let zero_seen = self.epoch.load(Ordering::Relaxed) & ZERO_SEEN != 0;
            if data & DRAIN == 0 || zero_now || zero_seen {
                queue.pop_front(1);
            } else {
                // Work is still out: it waits on, linked, for the zero.
                queue.requeue_front((bound << 1) | DRAIN);
            }
        }
        // Zeros made meanwhile: every drain wait that linked before the last of them is over
        // (one may come while the batches go out: the bound is read afresh each time).
        if self.epoch.load(Ordering::Relaxed) & ZERO_SEEN != 0 {
            queue.pop_front_while(1, |data| {
                older(data >> 1, self.epoch.load(Ordering::Relaxed) & EPOCH_MASK)
            });
        }
        let word = self.epoch.load(Ordering::Relaxed);
        self.epoch.store(word & EPOCH_MASK, Ordering::Relaxed);
        queue.clear_when_empty(&self.state, PARKED);
        true
    }

    /// Test only: puts the wake epoch at its last value, so that the next bump wraps.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn move_epoch_to_wrap(&self) {
        self.epoch.fetch_or(EPOCH_MASK, Ordering::Relaxed);
    }

    /// Starts a new epoch, keeping the flags and adding `flags`, and returns it. Under the
    /// queue's lock.
    fn next_epoch(&self, flags: usize) -> usize {
        let word = self.epoch.load(Ordering::Relaxed);
        let epoch = (word & EPOCH_MASK).wrapping_add(1) & EPOCH_MASK;
        self.epoch
            .store((word & !EPOCH_MASK) | flags | epoch, Ordering::Relaxed);
        epoch
    }

    /// Adds one unit of work.
    ///
    /// Returns `Err(())`, with the count unchanged, if it already holds [`MAX_COUNT`] units.
    #[inline]
    pub(crate) fn add(&self) -> Result<(), ()> {
        // Release: a shutdown signal adds a unit from its root down, and whoever reads (or
        // completes) this one must see the adds made above it before. The unit's work itself
        // publishes nothing until it completes (see `sub`).
        let prev = self.state.fetch_add(ONE, Ordering::Release);
        if count(prev) >= MAX_COUNT {
            // Far from zero, so undoing cannot be the zero a drain waits for.
            self.state.fetch_sub(ONE, Ordering::Relaxed);
            return Err(());
        }
        Ok(())
    }

    /// Completes one unit of work (there must be one).
    #[inline]
    pub(crate) fn sub(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(count(s) > 0, "completed more work than was added");
            if count(s) == 1 && s & (TRIGGERED | PARKED) == TRIGGERED | PARKED {
                return self.sub_last();
            }
            // Release: the work done under this unit happens before a drain that sees the
            // count it leaves.
            match self
                .state
                .compare_exchange_weak(s, s - ONE, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
    }

    /// Completes what may be the last unit while drain waiters are queued: under the lock.
    #[cold]
    #[inline(never)]
    fn sub_last(&self) {
        let mut queue = self.queue.lock();
        let prev = self.state.fetch_sub(ONE, Ordering::AcqRel);
        // `PARKED` changes only under the lock we hold; the count may have grown meanwhile.
        if count(prev) != 1 || prev & PARKED == 0 {
            return;
        }
        if self.epoch.load(Ordering::Relaxed) & FIRING != 0 {
            // Between two batches of the trigger's release, which completes the drain waits
            // this zero ends (see the module docs).
            self.next_epoch(ZERO_SEEN);
            return;
        }
        // Only drain waits are left once the trigger has fired: complete those queued before
        // this zero.
        let epoch = self.next_epoch(0);
        queue.pop_front_while(1, |data| {
            debug_assert!(
                !older(data >> 1, epoch) || data & DRAIN != 0,
                "a trigger wait after the trigger"
            );
            older(data >> 1, epoch)
        });
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Whether a drain wait still linked with epoch `linked` is over: a zero came after it
    /// linked, which the count may no longer show (new work came since). Under the lock.
    ///
    /// Outside a firing, every epoch after a linked drain wait's own was started by a zero
    /// (the firing moves the drain waits it does not end to its own epoch). During one, only
    /// `ZERO_SEEN` says that a zero came (at or after the firing), ending every drain wait
    /// older than the current epoch.
    fn zero_since(&self, linked: usize) -> bool {
        let word = self.epoch.load(Ordering::Relaxed);
        (word & FIRING == 0 || word & ZERO_SEEN != 0) && older(linked, word & EPOCH_MASK)
    }

    /// Marks the state word as having a queued waiter and returns the data to link with.
    /// Under the lock; `None` if `done` holds for the state first.
    fn mark(&self, kind: usize, done: impl Fn(usize) -> bool) -> Option<usize> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            if done(s) {
                return None;
            }
            if s & PARKED != 0 {
                break;
            }
            match self.state.compare_exchange_weak(
                s,
                s | PARKED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        Some(((self.epoch.load(Ordering::Relaxed) & EPOCH_MASK) << 1) | kind)
    }
}

#[inline]
fn triggered(s: usize) -> bool {
    s & TRIGGERED != 0
}

#[inline]
fn drained(s: usize) -> bool {
    s & TRIGGERED != 0 && count(s) == 0
}

/// One wait on a [`RawDrain`]: for the trigger, or for the trigger and a zero count.
struct DrainWait<'a> {
    raw: &'a RawDrain,
    kind: usize,
    /// `released` saw the wait over: it is, whatever the count does after (a drain wait takes
    /// nothing, so it may end on what it saw).
    seen: bool,
}

impl DrainWait<'_> {
    #[inline]
    fn done(&self, s: usize) -> bool {
        if self.kind == DRAIN {
            drained(s)
        } else {
            triggered(s)
        }
    }
}

impl<'a> Protocol<'a> for DrainWait<'a> {
    type Output = ();

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.queue
    }

    #[inline]
    fn attempt(&mut self) -> Option<()> {
        (self.seen || self.done(self.raw.state.load(Ordering::Acquire))).then_some(())
    }

    fn released(&mut self) -> bool {
        // Once one waiter has seen the trigger (or the zero), one polled after it sees it too,
        // even if work is tracked again while it leaves the queue.
        self.seen = self.done(self.raw.state.load(Ordering::Acquire));
        self.seen
    }

    fn at_deadline(&mut self, node: Pin<&Node>) -> AtDeadline<()> {
        if !self.released() && self.kind == DRAIN {
            // The zero may have come and gone (new work since) before the releaser reached
            // this node: the epoch it linked with tells.
            let queue = self.raw.queue.lock();
            self.seen = match queue.data_if_linked(&node) {
                Some(data) => self.raw.zero_since(data >> 1),
                // Woken meanwhile: every wake-up ends a drain wait.
                None => true,
            };
        }
        AtDeadline::released_if(self.seen)
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        match self.raw.mark(self.kind, |s| self.done(s)) {
            None => Check::Done(()),
            Some(data) => Check::Wait { data, front: false },
        }
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<()> {
        // Every release completes the waits it wakes.
        debug_assert_eq!(wakeup.token, 1);
        Some(())
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.raw.state, PARKED);
    }
}

/// Advances a wait for the trigger.
#[inline]
pub(crate) fn poll_triggered<S: Strategy>(
    node: Pin<&Node>,
    raw: &RawDrain,
    strategy: &mut S,
) -> Poll<()> {
    poll_wait(
        node,
        strategy,
        &mut DrainWait {
            raw,
            kind: 0,
            seen: false,
        },
    )
}

/// Advances a wait for the trigger and a zero count.
#[inline]
pub(crate) fn poll_drained<S: Strategy>(
    node: Pin<&Node>,
    raw: &RawDrain,
    strategy: &mut S,
) -> Poll<()> {
    poll_wait(
        node,
        strategy,
        &mut DrainWait {
            raw,
            kind: DRAIN,
            seen: false,
        },
    )
}

/// Withdraws an unfinished wait of either kind. Releases wake every waiter, so nothing is
/// passed on.
pub(crate) fn cancel_wait(node: Pin<&Node>, raw: &RawDrain) {
    // The kind only matters to `check`, which a cancellation never runs.
    cancel(
        node,
        &mut DrainWait {
            raw,
            kind: 0,
            seen: false,
        },
    );
}

//! The set/clear flag under [`Event`](crate::Event), with a generation so no signal is lost.
//!
//! # State word
//!
//! | bits | name       | meaning                                                              |
//! |------|------------|----------------------------------------------------------------------|
//! | 0    | `SET`      | the flag is set; waits complete at once                              |
//! | 1    | `PARKED`   | the queue is not empty; set and cleared only under the queue's lock  |
//! | 2..  | generation | bumped (wrapping) each time `set` turns the flag on                  |
//!
//! # Why a racing `clear` loses nothing
//!
//! A waiter remembers the generation it first saw while the flag was clear, and queues with
//! it as its node's data. `set` bumps the generation and then wakes every queued waiter whose
//! generation is older, even if a `clear` has already undone the flag. Every waiter that
//! started before a `set` therefore completes, however soon the `clear` follows. Waiters that
//! queue after such a `clear` carry the new generation and stay queued; since the queue is in
//! arrival order they are all behind the older ones, so `set` stops at the first of them.
//!
//! The generation wraps after 2^62 sets on 64-bit targets (2^30 on 32-bit ones); a waiter would
//! have to sleep through exactly that many sets to miss one.
//!
//! # One set, seen at once
//!
//! `set` reaches the waiters batch by batch, so a queued wait that is polled again may be
//! one it has not reached yet. Such a poll loads the state word first: a newer generation
//! means the wait is over, and it leaves the queue itself (taking the lock once), so that a
//! wait polled after one that saw the set never reports `Pending`.
//!
//! # Cost of waking many waiters
//!
//! `set` unlinks waiters in batches of [`BATCH`](crate::raw::queue::BATCH) and wakes each batch
//! after releasing the queue's lock, so `n` waiters cost `⌈n / BATCH⌉ + 1` lock acquisitions,
//! and a woken waiter finishes with one load of its own node. Because `set` wakes everyone, a
//! waiter that goes away never has a wake-up to pass on.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{stamped_before, Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, Check, Protocol, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const SET: usize = 1;
const PARKED: usize = 1 << 1;
const GEN_SHIFT: u32 = 2;
const GEN_ONE: usize = 1 << GEN_SHIFT;

#[inline]
const fn generation(state: usize) -> usize {
    state >> GEN_SHIFT
}

/// A flag without data: a state word and the queue its waiters park on.
pub(crate) struct RawFlag {
    state: AtomicUsize,
    queue: WaitQueue,
}

impl RawFlag {
    const_fn! {
        pub(crate) const fn new() -> RawFlag {
            RawFlag { state: AtomicUsize::new(0), queue: WaitQueue::new() }
        }
    }

    /// Whether the flag is set right now.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.state.load(Ordering::Acquire) & SET != 0
    }

    /// Sets the flag and wakes every waiter. Returns whether it was clear.
    pub(crate) fn set(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        let prev = loop {
            if s & SET != 0 {
                return false;
            }
            let next = (s | SET).wrapping_add(GEN_ONE);
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(prev) => break prev,
                Err(actual) => s = actual,
            }
        };
        if prev & PARKED != 0 {
            self.wake_older_than(generation(prev).wrapping_add(1) & (usize::MAX >> GEN_SHIFT));
        }
        true
    }

    /// Wakes every queued waiter that started before generation `current`.
    #[cold]
    #[inline(never)]
    fn wake_older_than(&self, current: usize) {
        let mut queue = self.queue.lock();
        // Not `!=`: a set still waking its batches must stop at waiters that started after a
        // later set and clear.
        queue.pop_front_while(0, |started| {
            stamped_before(started, current, usize::MAX >> GEN_SHIFT)
        });
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Test only: puts the generation at its last value, so that the next bump wraps.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn move_epoch_to_wrap(&self) {
        self.state
            .store(usize::MAX & !(SET | PARKED), Ordering::Relaxed);
    }

    /// Clears the flag. Waiters that started before the last `set` still complete.
    #[inline]
    pub(crate) fn clear(&self) {
        self.state.fetch_and(!SET, Ordering::AcqRel);
    }
}

/// The part of an event wait beside its node: the generation it started in, plus one (zero
/// before its first check).
#[derive(Debug, Default)]
pub(crate) struct FlagWaiter {
    started: usize,
}

struct FlagWait<'a> {
    raw: &'a RawFlag,
    started: &'a mut usize,
}

impl FlagWait<'_> {
    /// Whether the flag is set or was set after the wait began; records the start otherwise.
    #[inline]
    fn done(&mut self, s: usize) -> bool {
        if s & SET != 0 {
            return true;
        }
        let now = generation(s) + 1;
        if *self.started == 0 {
            *self.started = now;
            false
        } else {
            *self.started != now
        }
    }
}

impl<'a> Protocol<'a> for FlagWait<'a> {
    type Output = ();

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.queue
    }

    #[inline]
    fn attempt(&mut self) -> Option<()> {
        let s = self.raw.state.load(Ordering::Acquire);
        self.done(s).then_some(())
    }

    fn released(&mut self) -> bool {
        // Linked, so the generation the wait started in is recorded: this only compares.
        let s = self.raw.state.load(Ordering::Acquire);
        self.done(s)
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        let state = &self.raw.state;
        let mut s = state.load(Ordering::Acquire);
        loop {
            if self.done(s) {
                return Check::Done(());
            }
            if s & PARKED != 0 {
                break;
            }
            match state.compare_exchange_weak(s, s | PARKED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        Check::Wait {
            data: *self.started - 1,
            front: false,
        }
    }

    fn woken(&mut self, _wakeup: Wakeup) -> Option<()> {
        // Only a `set` after this wait began wakes it.
        Some(())
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.raw.state, PARKED);
    }
}

impl FlagWaiter {
    #[inline]
    pub(crate) const fn new() -> Self {
        FlagWaiter { started: 0 }
    }

    /// Advances the wait; `Ready` once the flag is set or was set after the wait began.
    #[inline]
    pub(crate) fn poll_wait<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawFlag,
        strategy: &mut S,
    ) -> Poll<()> {
        // A set event, inlined into the caller. A wait that has never looked (`started` is
        // zero) has never queued its node.
        if self.started == 0 && raw.is_set() {
            return Poll::Ready(());
        }
        self.poll_wait_slow(node, raw, strategy)
    }

    #[inline(never)]
    fn poll_wait_slow<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawFlag,
        strategy: &mut S,
    ) -> Poll<()> {
        let mut wait = FlagWait {
            raw,
            started: &mut self.started,
        };
        poll_wait(node, strategy, &mut wait)
    }

    /// Withdraws an unfinished wait. `set` wakes every waiter, so nothing is passed on.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, raw: &RawFlag) {
        cancel(
            node,
            &mut FlagWait {
                raw,
                started: &mut self.started,
            },
        );
    }
}

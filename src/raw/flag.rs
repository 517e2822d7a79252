//! The set/clear flag under [`Event`](crate::Event), with a generation so no signal is lost.
//!
//! # State word
//!
//! | bits | name         | meaning                                                        |
//! |------|--------------|----------------------------------------------------------------|
//! | 0    | `SET`        | the flag is set; waits complete at once                        |
//! | 1    | `CONTENDED`  | some waiter has registered a listener; `set` must notify       |
//! | 2..  | generation   | bumped (wrapping) each time `set` turns the flag on            |
//!
//! # Why a racing `clear` loses nothing
//!
//! A waiter remembers the generation it first saw while the flag was clear. It completes when it
//! sees `SET`, *or* when the generation has moved on: a `set` happened after it started waiting,
//! even if a `clear` has already undone it. Every waiter that started before a `set` therefore
//! completes, however soon the `clear` follows. The generation wraps after 2^62 sets on 64-bit
//! targets (2^30 on 32-bit ones); a waiter would have to sleep through exactly that many sets to
//! miss one.
//!
//! # Cost of waking many waiters
//!
//! `set` calls `notify(usize::MAX)` once, and each woken waiter needs one load of the state word
//! to finish. Waking `n` waiters costs O(n) in all, and no waiter is woken twice. Because `set`
//! wakes everyone, a waiter that goes away never has a wake-up to pass on.
//!
//! `CONTENDED` is sticky, as in the mutex: a flag that never had a waiter never touches its
//! event, so it never allocates.

use core::task::Poll;

use event_listener::{Event, Listener as _};

use crate::raw::wait::{mark_contended, poll_loop, Attempt, Slot, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const SET: usize = 1;
const CONTENDED: usize = 1 << 1;
const GEN_SHIFT: u32 = 2;
const GEN_ONE: usize = 1 << GEN_SHIFT;

/// A flag without data: a state word and the event its waiters park on.
pub(crate) struct RawFlag {
    state: AtomicUsize,
    event: Event,
}

impl RawFlag {
    const_fn! {
        pub(crate) const fn new() -> RawFlag {
            RawFlag { state: AtomicUsize::new(0), event: Event::new() }
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
        if prev & CONTENDED != 0 {
            self.event.notify(usize::MAX);
        }
        true
    }

    /// Clears the flag. Waiters that started before the last `set` still complete.
    #[inline]
    pub(crate) fn clear(&self) {
        self.state.fetch_and(!SET, Ordering::AcqRel);
    }
}

/// The part of a wait future that waits: the generation it started in and its listener.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct FlagWaiter {
    /// One more than the generation the wait began in; zero before the first check. A plain
    /// word rather than an `Option`, and zero when new, so a new future is two zero words and a
    /// reference, which the compiler writes and copies in few wide stores.
    started: usize,
    listener: Slot,
}

impl FlagWaiter {
    #[inline]
    pub(crate) const fn new() -> Self {
        FlagWaiter {
            started: 0,
            listener: Slot::new(),
        }
    }

    /// Advances the wait; `Ready` once the flag is set or was set after the wait began.
    #[inline]
    pub(crate) fn poll_wait<S: Strategy>(&mut self, raw: &RawFlag, strategy: &mut S) -> Poll<()> {
        // A set event, inlined into the caller: the loop's first check, without the loop.
        if self.listener.is_none() && raw.is_set() {
            return Poll::Ready(());
        }
        self.poll_wait_slow(raw, strategy)
    }

    #[inline(never)]
    fn poll_wait_slow<S: Strategy>(&mut self, raw: &RawFlag, strategy: &mut S) -> Poll<()> {
        let started = &mut self.started;
        poll_loop(strategy, &raw.event, &mut self.listener, |attempt| {
            let s = raw.state.load(Ordering::Acquire);
            if s & SET != 0 {
                return Some(());
            }
            // The shift leaves room for the `+ 1`.
            let now = (s >> GEN_SHIFT) + 1;
            if *started == 0 {
                *started = now;
            } else if *started != now {
                return Some(());
            }
            if attempt != Attempt::Registered {
                mark_contended(&raw.state, CONTENDED);
            }
            None
        })
    }

    /// Withdraws an unfinished wait. `set` wakes every waiter, so nothing is passed on.
    pub(crate) fn cancel(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
    }
}

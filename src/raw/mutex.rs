//! The lock state machine under [`Mutex`](crate::Mutex), without the protected value.
//!
//! # State word
//!
//! | bits      | name        | meaning                                                          |
//! |-----------|-------------|------------------------------------------------------------------|
//! | 0         | `LOCKED`    | a guard exists                                                   |
//! | 1         | `CONTENDED` | some waiter has registered a listener; releases must notify      |
//! | 2..       | `STARVING`  | count of waiters that were woken and then lost the lock          |
//!
//! `CONTENDED` is sticky: once a mutex has had a waiter, every unlock calls `notify(1)`, which is
//! a fence and a load when nobody listens. Before that, lock and unlock are one atomic operation
//! each and never touch the event, so an uncontended mutex never allocates.
//!
//! # Fairness
//!
//! While no waiter is starving, the lock is taken by whoever gets to it first ("barging"): an
//! unlock wakes the oldest waiter, but a running task may take the lock before that waiter is
//! scheduled. Barging keeps the lock busy instead of idle while a woken task is scheduled, which
//! is what makes contended throughput high.
//!
//! A waiter that was woken and found the lock taken counts itself in `STARVING`. While the count
//! is not zero the mutex is FIFO: new lockers (including `try_lock`) may not take a free lock and
//! queue behind the waiters instead, and the lock goes to the waiter that the unlock woke,
//! oldest first. A starving waiter therefore waits for at most the waiters queued ahead of it,
//! each holding the lock once, and it can be overtaken after a wake-up at most once.
//!
//! One exception keeps the FIFO mode from stalling: a waiter that has just registered may take a
//! free lock when no notification is in flight (the unlock's notification found nobody because
//! every other waiter was between two listeners).

use core::task::Poll;

use event_listener::Event;

use crate::raw::wait::{mark_contended, poll_loop, spin, Attempt, Flag, Slot, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const LOCKED: usize = 1;
const CONTENDED: usize = 1 << 1;
const STARVING: usize = 1 << 2;

/// A mutex without data: a state word and the event its waiters park on.
pub(crate) struct RawMutex {
    state: AtomicUsize,
    event: Event,
}

impl RawMutex {
    const_fn! {
        pub(crate) const fn new() -> RawMutex {
            RawMutex { state: AtomicUsize::new(0), event: Event::new() }
        }
    }

    /// Takes the lock if it is free and no waiter is starving.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        self.acquire(|s| s < STARVING, false)
    }

    /// Whether a guard currently exists.
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// Releases the lock and wakes one waiter if any may exist.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock (it is released on behalf of the holder).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        let prev = self.state.fetch_sub(LOCKED, Ordering::Release);
        debug_assert!(prev & LOCKED != 0, "unlock of an unlocked mutex");
        if prev & CONTENDED != 0 {
            self.wake_one();
        }
    }

    /// Out of line, so that the unlock a guard's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        self.event.notify(1);
    }

    /// Sets `LOCKED` if the lock is free and `allowed(state)` holds; a starving waiter that
    /// wins also removes itself from the count in the same step.
    #[inline]
    fn acquire(&self, allowed: impl Fn(usize) -> bool, starving: bool) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & LOCKED != 0 || !allowed(s) {
                return false;
            }
            let next = (s | LOCKED) - if starving { STARVING } else { 0 };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }
}

/// The part of a lock future that waits: its listener and whether it counts as starving.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct LockWaiter {
    listener: Slot,
    starving: Flag,
}

impl LockWaiter {
    pub(crate) const fn new() -> Self {
        LockWaiter {
            listener: Slot::new(),
            starving: Flag::CLEAR,
        }
    }

    /// Advances the wait; `Ready` means the caller now holds the lock.
    #[inline]
    pub(crate) fn poll_lock<S: Strategy>(&mut self, raw: &RawMutex, strategy: &mut S) -> Poll<()> {
        // The uncontended case, inlined into the caller: the same first attempt `poll_loop`
        // would make, without setting the loop up.
        if self.listener.is_none() && !self.starving.get() && raw.try_lock() {
            return Poll::Ready(());
        }
        self.poll_lock_slow(raw, strategy)
    }

    #[inline(never)]
    fn poll_lock_slow<S: Strategy>(&mut self, raw: &RawMutex, strategy: &mut S) -> Poll<()> {
        if self.listener.is_none() && !self.starving.get() && spin(strategy, || raw.try_lock()) {
            return Poll::Ready(());
        }
        let starving = &mut self.starving;
        poll_loop(strategy, &raw.event, &mut self.listener, |attempt| {
            let is_starving = starving.get();
            let won = match attempt {
                Attempt::Fresh => raw.acquire(|s| s < STARVING, is_starving),
                // A notification is in flight: it is that waiter's turn, not ours.
                Attempt::Registered => {
                    raw.acquire(|s| s < STARVING || !raw.event.is_notified(), is_starving)
                }
                Attempt::Woken => raw.acquire(|_| true, is_starving),
            };
            if won {
                starving.set(false);
                return Some(());
            }
            if attempt == Attempt::Woken && !is_starving {
                raw.state.fetch_add(STARVING, Ordering::Relaxed);
                starving.set(true);
            }
            if attempt != Attempt::Registered {
                mark_contended(&raw.state, CONTENDED);
            }
            None
        })
    }

    /// Withdraws an unfinished wait, passing on a notification it had not acted on.
    pub(crate) fn cancel(&mut self, raw: &RawMutex) {
        if let Some(listener) = self.listener.take() {
            use event_listener::Listener as _;
            if listener.discard() {
                raw.event.notify(1);
            }
        }
        if self.starving.take() {
            raw.state.fetch_sub(STARVING, Ordering::Relaxed);
        }
    }
}

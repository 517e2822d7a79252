//! The wait/notify state machine under [`Condvar`](crate::Condvar), without any mutex data.
//!
//! # State
//!
//! | field     | meaning                                                                      |
//! |-----------|------------------------------------------------------------------------------|
//! | `waiters` | waiters that registered a listener and have not yet been woken or withdrawn  |
//! | `mutex`   | address of the mutex the condvar is bound to; `0` until its first wait       |
//!
//! `notify_one` and `notify_all` read `waiters` and return at once when it is zero, so a condvar
//! that nobody waits on never touches its event (whose list is allocated on first use). The
//! count may be too high for a moment (a waiter that was woken but has not run yet), which only
//! costs a notification that finds nobody; it is never too low while a listener is registered.
//!
//! # No lost wake-up
//!
//! A waiter registers its listener and counts itself *before* it releases the mutex. A notifier
//! that changed the shared state under the mutex therefore either ran before the waiter took the
//! mutex (and the waiter sees the change before it waits) or after the waiter released it (and
//! then it sees the count and the listener).
//!
//! # Notifications
//!
//! `notify_one` sends an *additional* notification: it wakes one more listener than are already
//! woken, so two calls wake two waiters even if the first has not run yet. A waiter that was
//! woken and then gives up (its future dropped) sends one on in its place.

use core::task::Poll;

use event_listener::{Event, IntoNotification as _, Listener as _};

use crate::raw::mutex::RawMutex;
use crate::raw::wait::{poll_loop, Attempt, Slot, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

/// A condvar without data: a waiter count, the bound mutex and the event its waiters park on.
pub(crate) struct RawCondvar {
    waiters: AtomicUsize,
    mutex: AtomicUsize,
    event: Event,
}

impl RawCondvar {
    const_fn! {
        pub(crate) const fn new() -> RawCondvar {
            RawCondvar { waiters: AtomicUsize::new(0), mutex: AtomicUsize::new(0), event: Event::new() }
        }
    }

    /// Binds the condvar to the mutex at `addr` on first use; panics if it is bound to another.
    #[inline]
    #[track_caller]
    pub(crate) fn bind(&self, addr: usize) {
        // Only the identity matters here: no data is published through this word.
        let bound = self.mutex.load(Ordering::Relaxed);
        if bound == addr {
            return;
        }
        if bound == 0 {
            match self
                .mutex
                .compare_exchange(0, addr, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) if actual == addr => return,
                Err(_) => {}
            }
        }
        panic!("Condvar used with a different Mutex than the one it is bound to");
    }

    /// Wakes one more waiter, if any waits.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.event.notify(1.additional());
        }
    }

    /// Wakes every waiter that waits now.
    #[inline]
    pub(crate) fn notify_all(&self) {
        if self.waiters.load(Ordering::SeqCst) != 0 {
            self.event.notify(usize::MAX);
        }
    }
}

/// Where a waiter is in its wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The caller still holds the mutex; nothing is registered.
    Holding,
    /// Counted and listening; the mutex has been released.
    Waiting,
    /// Woken by a notification; the mutex is still released.
    Notified,
    /// Gave up at a deadline without a notification; the mutex is still released.
    TimedOut,
}

/// The condvar half of a wait: its listener and its phase.
#[derive(Debug)]
pub(crate) struct CondvarWaiter {
    listener: Slot,
    phase: Phase,
}

impl CondvarWaiter {
    pub(crate) const fn new() -> Self {
        CondvarWaiter {
            listener: Slot::new(),
            phase: Phase::Holding,
        }
    }

    /// Whether the caller's lock is still held on its behalf (the wait has not started).
    #[inline]
    pub(crate) fn holds_lock(&self) -> bool {
        self.phase == Phase::Holding
    }

    /// Registers, releases `mutex`, and waits for a notification. `Ready` once notified (or
    /// once [`withdraw`](Self::withdraw) ended the wait); the mutex is then still released.
    ///
    /// # Safety
    ///
    /// While [`holds_lock`](Self::holds_lock) is true the caller must hold `mutex`'s lock and
    /// hand it to this call, which releases it once.
    pub(crate) unsafe fn poll_wait<S: Strategy>(
        &mut self,
        condvar: &RawCondvar,
        mutex: &RawMutex,
        strategy: &mut S,
    ) -> Poll<()> {
        if matches!(self.phase, Phase::Notified | Phase::TimedOut) {
            return Poll::Ready(());
        }
        let phase = &mut self.phase;
        poll_loop(strategy, &condvar.event, &mut self.listener, |attempt| {
            match attempt {
                // Nothing to try before listening: only a notification ends this wait.
                Attempt::Fresh => None,
                Attempt::Registered => {
                    if *phase == Phase::Holding {
                        // Counted and listening before the unlock: a notifier that takes the
                        // mutex after us sees both.
                        condvar.waiters.fetch_add(1, Ordering::SeqCst);
                        *phase = Phase::Waiting;
                        // SAFETY: the caller handed us the lock (see `# Safety`); the phase
                        // change above makes this the only release.
                        unsafe { mutex.unlock() };
                    }
                    None
                }
                Attempt::Woken => {
                    condvar.waiters.fetch_sub(1, Ordering::Relaxed);
                    *phase = Phase::Notified;
                    Some(())
                }
            }
        })
    }

    /// Ends a wait whose deadline passed. Returns whether it had been notified after all (the
    /// notification is then kept, not passed on).
    #[cfg(feature = "std")]
    pub(crate) fn withdraw(&mut self, condvar: &RawCondvar) -> bool {
        if self.phase != Phase::Waiting {
            return self.phase == Phase::Notified;
        }
        let notified = self.listener.take().is_some_and(|l| l.discard());
        condvar.waiters.fetch_sub(1, Ordering::Relaxed);
        self.phase = if notified {
            Phase::Notified
        } else {
            Phase::TimedOut
        };
        notified
    }

    /// Starts over after the caller re-acquired the lock (for `wait_while`).
    pub(crate) fn reset(&mut self) {
        debug_assert!(self.listener.is_none());
        self.phase = Phase::Holding;
    }

    /// Withdraws an unfinished wait after the mutex was released, passing on a notification it
    /// had received. The caller deals with the lock.
    pub(crate) fn cancel(&mut self, condvar: &RawCondvar) {
        let pass_on = match self.phase {
            Phase::Holding | Phase::TimedOut => false,
            Phase::Waiting => {
                let notified = self.listener.take().is_some_and(|l| l.discard());
                condvar.waiters.fetch_sub(1, Ordering::Relaxed);
                notified
            }
            Phase::Notified => true,
        };
        self.phase = Phase::TimedOut;
        if pass_on {
            condvar.notify_one();
        }
    }
}

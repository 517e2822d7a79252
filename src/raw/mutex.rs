//! The lock state machine under [`Mutex`](crate::Mutex), without the protected value.
//!
//! # State word
//!
//! | bits | name     | meaning                                                              |
//! |------|----------|----------------------------------------------------------------------|
//! | 0    | `LOCKED` | a guard exists, or the lock is being handed to a woken waiter        |
//! | 1    | `PARKED` | the queue is not empty; set and cleared only under the queue's lock  |
//! | 2    | `WOKEN`  | a waiter was woken to retry and has not tried yet; set under the     |
//! |      |          | queue's lock, cleared by that waiter (or for it, if it goes away)    |
//!
//! Lock and unlock are one compare-and-swap each while `PARKED` and `WOKEN` are clear, and
//! never touch the queue. `PARKED` is exact (it is cleared when the last waiter leaves), so a
//! mutex that was contended once is as cheap as a new one again once its waiters are gone.
//!
//! # Fairness
//!
//! While no waiter has been overtaken, the lock is taken by whoever gets to it first
//! ("barging"): an unlock clears `LOCKED` and wakes the oldest waiter, but a running task may
//! take the lock before that waiter is scheduled. That keeps the lock busy rather than idle
//! while a woken task is scheduled, which is what makes contended throughput high.
//!
//! Only one waiter is woken to retry at a time. Until it has tried (`WOKEN`), an unlock just
//! clears `LOCKED` and wakes nobody, so a barger that locks and unlocks meanwhile cannot wake
//! the waiter queued behind it, which might then be scheduled first and take the lock ahead
//! of the older one.
//!
//! Before it first queues, a task that finds the lock taken spins up to a few microseconds,
//! retrying (see `wait::TASK_SPIN_TIME`; for an rwlock's gate a few rounds, only while
//! `PARKED` is clear): barging, which the rule allows until a waiter has been overtaken, and
//! then the lock is handed over, so that no spinning task can take it.
//!
//! A woken waiter that finds the lock taken goes back to the *front* of the queue, marked
//! as overtaken. The unlock that finds such a waiter first in line does not clear `LOCKED`: it
//! hands the lock straight to it, so nobody can barge in between. A waiter is therefore
//! overtaken at most once after it reaches the front of the queue, and it keeps its place:
//! nobody who queued after it gets the lock before it.
//!
//! # Why no wake-up is lost
//!
//! A waiter sets `PARKED` (if the lock is still taken) and links its node in one critical
//! section of the queue's lock. An unlock whose compare-and-swap fails because `PARKED` is set
//! takes the queue's lock and wakes the first waiter, unless `WOKEN` says that a woken waiter
//! is still on its way: that one tries after the unlock and finds the lock free. While
//! `LOCKED` is set nobody but the holder and a holder of the queue's lock changes the word, so
//! the unlock can rewrite it under the queue's lock. A woken waiter is the one that must take
//! the freed lock; if its wait is dropped before it tries, it clears `WOKEN` and, if the lock
//! is free, wakes the next waiter in its place.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::queue::{Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{
    cancel, poll_wait, spin_credit, Check, Look, Protocol, Strategy, TaskSpinFor,
    MUTEX_SPIN_ROUNDS, TASK_SPIN_ROUNDS,
};
use crate::sync::{const_fn, Accesses, AtomicUsize, Ordering};

const LOCKED: usize = 1;
const PARKED: usize = 1 << 1;
const WOKEN: usize = 1 << 2;

/// Token: the lock was freed; try to take it.
const RETRY: usize = 0;
/// Token: the lock was handed over; the waiter holds it.
const HANDOFF: usize = 1;

/// Node data of a waiter that was overtaken once and has gone back to the front.
const OVERTAKEN: usize = 1;

/// A mutex without data: a state word and the queue its waiters park on.
pub(crate) struct RawMutex {
    state: AtomicUsize,
    queue: WaitQueue,
    accesses: Accesses,
}

impl RawMutex {
    const_fn! {
        pub(crate) const fn new() -> RawMutex {
            RawMutex {
                state: AtomicUsize::new(0),
                queue: WaitQueue::new(),
                accesses: Accesses::new(),
            }
        }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        // First as if the lock were free and nobody waited: a compare-and-swap without a load
        // before it takes the cache line once, not twice, when other threads want it too.
        let first =
            self.state
                .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed);
        let mut s = match first {
            Ok(_) => {
                self.accesses.exclusive();
                return true;
            }
            Err(actual) => actual,
        };
        loop {
            if s & LOCKED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.accesses.exclusive();
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes the lock if it is free, reading the state first: a caller that may try a held
    /// lock again and again (`Mutex::try_lock` in a loop) then only reads the cache line while
    /// it fails, where a compare-and-swap would take it from the holder's core each time.
    #[inline]
    pub(crate) fn try_lock_looking(&self) -> bool {
        !self.is_locked() && self.try_lock()
    }

    /// Takes the lock if it is free, for the waiter that `WOKEN` stands for, clearing it.
    #[inline]
    fn try_lock_woken(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & WOKEN != 0, "a waiter woken to retry finds `WOKEN` set");
            if s & LOCKED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                (s | LOCKED) & !WOKEN,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Whether a guard currently exists.
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// Whether anyone waits for the lock: queued, or woken to retry (a hint).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (PARKED | WOKEN) != 0
    }

    /// Releases the lock, or hands it to the first waiter.
    ///
    /// # Safety
    ///
    /// The caller must hold the lock (it is released on behalf of the holder).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        self.accesses.exclusive();
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// Out of line, so that the unlock a guard's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & WOKEN != 0 {
            // A woken waiter is on its way and will find the lock free: wake nobody.
            match self.state.compare_exchange_weak(
                s,
                s & !LOCKED,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        let mut queue = self.queue.lock();
        // We hold `LOCKED` and the queue's lock: nobody else can change the word now, and
        // `WOKEN` is clear (it is set only by a holder of both, or with the lock free).
        let next = match queue.front() {
            None => 0,
            Some(data) => {
                let handoff = data == OVERTAKEN;
                queue.pop_front(if handoff { HANDOFF } else { RETRY });
                let parked = if queue.is_empty() { 0 } else { PARKED };
                parked | if handoff { LOCKED } else { WOKEN }
            }
        };
        self.state.store(next, Ordering::Release);
    }

    /// A woken waiter went away without trying: clears `WOKEN` for it and, if the lock is
    /// free, wakes the first waiter in its place.
    #[cold]
    fn pass_on_wakeup(&self) {
        let mut queue = self.queue.lock();
        let mut s = self.state.load(Ordering::Relaxed);
        // Only this wait clears `WOKEN` and `PARKED` changes only under the queue's lock, so
        // only `LOCKED` can move under us.
        while s & LOCKED != 0 || queue.is_empty() {
            debug_assert!(s & WOKEN != 0, "a waiter woken to retry stands for `WOKEN`");
            // Nobody to wake, or the holder's unlock wakes the next one.
            match self.state.compare_exchange_weak(
                s,
                s & !WOKEN,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
        // The lock is free: the first waiter is woken to retry and stands for `WOKEN` from now
        // on. It cannot be an overtaken one, which cleared `WOKEN` when it went back to the
        // front.
        debug_assert!(queue.front() != Some(OVERTAKEN));
        queue.pop_front(RETRY);
        queue.clear_when_empty(&self.state, PARKED);
    }
}

/// The part of a lock future that waits, beside its node: whether it has been in the slow
/// path (its node may be linked) and whether it was overtaken, in one word.
///
/// A new waiter is a zero word, which the compiler can see, so the inlined fast path needs
/// no load of the node to know that it is not queued.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct LockWaiter {
    bits: usize,
}

const WAITER_OVERTAKEN: usize = 1;
const WAITER_SLOW: usize = 1 << 1;
const _: () = assert!(WAITER_OVERTAKEN | WAITER_SLOW == (1 << LockWaiter::BITS) - 1);

/// How a task that finds the lock taken spins before it queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskSpin {
    /// A lock call (`Mutex`, `ReentrantMutex`, a multi-lock): `TASK_SPIN_TIME`, whether or
    /// not others are queued, unless spins have been failing on this thread (`spin_credit`);
    /// then `MUTEX_SPIN_ROUNDS` while nobody is queued, and no spin while others are.
    Eager,
    /// `TASK_SPIN_ROUNDS`, and only while nobody is queued: an rwlock's gate, whose holder may
    /// be a writer waiting for readers to leave or an upgradable reader, and a condvar
    /// waiter's relock, where a `notify_all` sends every waiter to the lock at once.
    Alone,
}

struct LockWait<'a> {
    raw: &'a RawMutex,
    waiter: &'a mut LockWaiter,
    spin: TaskSpin,
    /// Woken to retry and not yet tried: this wait stands for `WOKEN`. Set and cleared
    /// within one poll (a wake-up is acted on in the poll that takes it).
    retrying: bool,
}

impl Drop for LockWait<'_> {
    fn drop(&mut self) {
        if self.retrying {
            // Unwinding between the wake-up and the try (cloning the task's waker panicked):
            // the wait stands for `WOKEN`, so it must pass its turn on, or nobody is woken
            // again.
            self.raw.pass_on_wakeup();
        }
    }
}

impl<'a> Protocol<'a> for LockWait<'a> {
    type Output = ();

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.queue
    }

    #[inline]
    fn attempt(&mut self) -> Option<()> {
        if self.retrying {
            if !self.raw.try_lock_woken() {
                return None;
            }
            self.retrying = false;
            return Some(());
        }
        self.raw.try_lock().then_some(())
    }

    fn spins(&self) -> bool {
        true
    }

    fn task_spin(&self) -> TaskSpinFor {
        // Loaded only where the credit does not decide.
        let alone = || self.raw.state.load(Ordering::Relaxed) & PARKED == 0;
        match self.spin {
            TaskSpin::Eager if spin_credit::has() => TaskSpinFor::Time,
            TaskSpin::Eager if alone() => TaskSpinFor::Rounds(MUTEX_SPIN_ROUNDS),
            TaskSpin::Alone if alone() => TaskSpinFor::Rounds(TASK_SPIN_ROUNDS),
            _ => TaskSpinFor::Rounds(0),
        }
    }

    #[inline]
    fn look(&self) -> Look {
        if self.raw.state.load(Ordering::Relaxed) & LOCKED == 0 {
            Look::Free
        } else {
            Look::Taken
        }
    }

    fn task_spun(&mut self, took: bool) {
        if self.spin == TaskSpin::Eager {
            spin_credit::record(took);
        }
    }

    #[inline]
    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        let state = &self.raw.state;
        // A woken waiter gives up `WOKEN` here, whether it takes the lock or queues again.
        let keep = if self.retrying { !WOKEN } else { !0 };
        let mut s = state.load(Ordering::Relaxed);
        loop {
            let (next, done) = if s & LOCKED == 0 {
                ((s | LOCKED) & keep, true)
            } else if s & PARKED == 0 || self.retrying {
                ((s | PARKED) & keep, false)
            } else {
                break;
            };
            match state.compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    self.retrying = false;
                    if done {
                        return Check::Done(());
                    }
                    break;
                }
                Err(actual) => s = actual,
            }
        }
        let overtaken = self.waiter.overtaken();
        Check::Wait {
            data: if overtaken { OVERTAKEN } else { 0 },
            front: overtaken,
        }
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<()> {
        if wakeup.token == HANDOFF {
            return Some(());
        }
        // Freed for us, but someone may get there first: then we go back to the front.
        self.waiter.bits |= WAITER_OVERTAKEN;
        self.retrying = true;
        None
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.raw.state, PARKED);
    }

    fn undo(&mut self, (): ()) {
        // SAFETY: `check` locked the mutex for this wait, which is going away.
        unsafe { self.raw.unlock() };
    }

    fn abandon(&mut self, wakeup: Wakeup) {
        if wakeup.token == HANDOFF {
            // SAFETY: the lock was handed to this wait, which is going away: release it.
            unsafe { self.raw.unlock() };
        } else {
            self.raw.pass_on_wakeup();
        }
    }
}

impl LockWaiter {
    /// How many low bits of a word [`into_bits`](Self::into_bits) uses; a wait may keep its
    /// own state in the bits above.
    pub(crate) const BITS: u32 = 2;

    pub(crate) const fn new() -> Self {
        LockWaiter { bits: 0 }
    }

    /// Whether the waiter was woken and then overtaken.
    #[inline]
    fn overtaken(&self) -> bool {
        self.bits & WAITER_OVERTAKEN != 0
    }

    /// The waiter as two bits, for a wait that keeps it with other flags in one word.
    pub(crate) fn into_bits(self) -> usize {
        self.bits
    }

    /// A waiter from [`into_bits`](Self::into_bits).
    pub(crate) fn from_bits(bits: usize) -> Self {
        LockWaiter {
            bits: bits & (WAITER_OVERTAKEN | WAITER_SLOW),
        }
    }

    /// Advances the wait; `Ready` means the caller now holds the lock.
    #[inline]
    pub(crate) fn poll_lock<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawMutex,
        strategy: &mut S,
        spin: TaskSpin,
    ) -> Poll<()> {
        // The uncontended case, inlined into the caller: a new waiter's node is not queued.
        if self.bits == 0 && raw.try_lock() {
            return Poll::Ready(());
        }
        self.poll_lock_slow(node, raw, strategy, spin)
    }

    #[inline(never)]
    fn poll_lock_slow<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawMutex,
        strategy: &mut S,
        spin: TaskSpin,
    ) -> Poll<()> {
        self.bits |= WAITER_SLOW;
        let mut wait = LockWait {
            raw,
            waiter: self,
            spin,
            retrying: false,
        };
        let res = poll_wait(node, strategy, &mut wait);
        debug_assert!(
            !wait.retrying,
            "a woken waiter tries before its poll returns"
        );
        drop(wait);
        if res.is_ready() {
            // Done, and the node is idle: new again.
            self.bits = 0;
            raw.accesses.exclusive();
        }
        res
    }

    /// Withdraws an unfinished wait, passing on a wake-up it had not acted on.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, raw: &RawMutex) {
        cancel(
            node,
            &mut LockWait {
                raw,
                waiter: self,
                // A cancelled wait does not spin.
                spin: TaskSpin::Alone,
                retrying: false,
            },
        );
        self.bits = 0;
    }
}

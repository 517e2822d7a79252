//! The wait/notify state machine under [`Condvar`](crate::Condvar), without any mutex data.
//!
//! # State
//!
//! | field          | meaning                                                                 |
//! |----------------|-------------------------------------------------------------------------|
//! | `state` bit 0  | `PARKED`: the queue is not empty; changed only under the queue's lock   |
//! | `state` 1..    | epoch: bumped by every `notify_all`; a waiter queues with the current one |
//! | `mutex`        | address of the mutex the condvar is bound to; `0` until its first wait  |
//!
//! `notify_one` and `notify_all` read `PARKED` and return at once when it is clear, so a
//! condvar that nobody waits on never touches its queue (which is allocated on first use).
//!
//! # No lost wake-up
//!
//! A waiter links its node and sets `PARKED` *before* it releases the mutex. A notifier that
//! changed the shared state under the mutex therefore either ran before the waiter took the
//! mutex (and the waiter sees the change before it waits) or after the waiter released it (and
//! then it sees `PARKED` and the node).
//!
//! # Notifications
//!
//! `notify_one` unlinks the waiter that has waited longest and wakes it: two calls wake two
//! waiters even if the first has not run yet (`notify_many(n)` is `n` of them in one go).
//! `notify_all` wakes every waiter that queued before it (the epoch tells them apart from
//! waiters that queue while it works through the queue in batches). A waiter that was woken
//! by `notify_one` or `notify_many` and then gives up (its future dropped) sends a
//! `notify_one` on in its place. One woken by `notify_all` passes nothing on: that call
//! reached every waiter there was, and a `notify_one` would wake a waiter that came after it.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::mutex::RawMutex;
use crate::raw::queue::{stamped_before, Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, Check, Protocol, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const PARKED: usize = 1;
const EPOCH_ONE: usize = 1 << 1;

/// Wake-up token: a `notify_one` (or one of a `notify_many`), owed to another waiter if this
/// one gives up.
const ONE: usize = 0;
/// Wake-up token: a `notify_all`, which leaves nothing to pass on.
const ALL: usize = 1;

/// A condvar without data: its state word, the bound mutex and the queue its waiters park on.
pub(crate) struct RawCondvar {
    state: AtomicUsize,
    mutex: AtomicUsize,
    queue: WaitQueue,
}

impl RawCondvar {
    const_fn! {
        pub(crate) const fn new() -> RawCondvar {
            RawCondvar {
                state: AtomicUsize::new(0),
                mutex: AtomicUsize::new(0),
                queue: WaitQueue::new(),
            }
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
        panic!(
            "Condvar used with a different Mutex than the one it is bound to (a condvar binds \
             to the address of the first mutex it waits with; a mutex that moved counts as \
             another)"
        );
    }

    /// Wakes the waiter that has waited longest, if any waits.
    #[inline]
    pub(crate) fn notify_one(&self) {
        if self.state.load(Ordering::Acquire) & PARKED != 0 {
            self.notify_one_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_one_slow(&self) {
        let mut queue = self.queue.lock();
        self.wake_owed(&mut queue);
        if !queue.is_empty() {
            queue.pop_front(ONE);
        }
        // Also when the owed wake-ups emptied the queue: the next notify then stays on its
        // fast path.
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Wakes up to `n` of the waiters that have waited longest, under one lock (taken again
    /// between batches).
    #[inline]
    pub(crate) fn notify_many(&self, n: usize) {
        if n != 0 && self.state.load(Ordering::Acquire) & PARKED != 0 {
            self.notify_many_slow(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_many_slow(&self, n: usize) {
        let mut queue = self.queue.lock();
        for _ in 0..n {
            // Each time: a full batch releases the lock, and a `notify_all` may start then.
            self.wake_owed(&mut queue);
            if queue.is_empty() {
                break;
            }
            queue.pop_front(ONE);
        }
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Wakes the waiters at the front that a `notify_all` still working through its batches
    /// owes a wake-up (those stamped with an epoch before the current one), so that a
    /// notification sent meanwhile goes to a waiter of its own, not to one of theirs. Leaves
    /// room in the wake-up batch.
    fn wake_owed(&self, queue: &mut Locked<'_>) {
        // The epoch is read for every waiter: a `notify_all` that starts while a full batch
        // is woken (the lock released) owes its waiters a wake-up too.
        queue.pop_front_while(ALL, |queued| {
            let epoch = self.state.load(Ordering::Relaxed) & !PARKED;
            stamped_before(queued, epoch, usize::MAX)
        });
    }

    /// Test only: puts the wake epoch at its last value, so that the next bump wraps.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn move_epoch_to_wrap(&self) {
        self.state.fetch_or(!PARKED, Ordering::Relaxed);
    }

    /// Wakes every waiter that waits now.
    #[inline]
    pub(crate) fn notify_all(&self) {
        if self.state.load(Ordering::Acquire) & PARKED != 0 {
            self.notify_all_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn notify_all_slow(&self) {
        let mut queue = self.queue.lock();
        // Waiters that queue while the batches below are woken carry the new epoch. Those of
        // older epochs are woken too: another `notify_all` may have stopped at this one's
        // waiters, or may still be waking its own (between two batches, or from a waker).
        let epoch = self.state.fetch_add(EPOCH_ONE, Ordering::Relaxed) & !PARKED;
        let next = epoch.wrapping_add(EPOCH_ONE);
        queue.pop_front_while(ALL, |queued| stamped_before(queued, next, usize::MAX));
        queue.clear_when_empty(&self.state, PARKED);
    }
}

/// Where a waiter is in its wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The caller still holds the mutex; nothing is registered.
    Holding,
    /// Queued; the mutex has been released.
    Waiting,
    /// Woken by a notification; the mutex is still released. `pass_on`: by a `notify_one`,
    /// so that giving up now owes another waiter one.
    Notified { pass_on: bool },
    /// Gave up at a deadline without a notification; the mutex is still released.
    TimedOut,
}

/// The condvar half of a wait: its phase (the node is the future's).
#[derive(Debug)]
pub(crate) struct CondvarWaiter {
    phase: Phase,
}

struct CondvarWait<'a, F: Fn()> {
    condvar: &'a RawCondvar,
    mutex: &'a RawMutex,
    phase: &'a mut Phase,
    /// Runs just before the mutex is released (the lock diagnostics forget its holder).
    releasing: F,
}

impl<'a, F: Fn()> Protocol<'a> for CondvarWait<'a, F> {
    type Output = ();

    fn queue(&self) -> &'a WaitQueue {
        &self.condvar.queue
    }

    fn attempt(&mut self) -> Option<()> {
        // Only a notification ends this wait.
        None
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        let s = self.condvar.state.fetch_or(PARKED, Ordering::Relaxed);
        Check::Wait {
            data: s & !PARKED,
            front: false,
        }
    }

    fn linked(&mut self) {
        if *self.phase == Phase::Holding {
            *self.phase = Phase::Waiting;
            (self.releasing)();
            // SAFETY: the caller of `poll_wait` handed us the lock (see its `# Safety`); the
            // phase change above makes this the only release.
            unsafe { self.mutex.unlock() };
        }
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<()> {
        *self.phase = Phase::Notified {
            pass_on: wakeup.token == ONE,
        };
        Some(())
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.condvar.state, PARKED);
    }

    fn abandon(&mut self, wakeup: Wakeup) {
        // A notification meant for one waiter goes to another.
        if wakeup.token == ONE {
            self.condvar.notify_one();
        }
    }
}

impl CondvarWaiter {
    pub(crate) const fn new() -> Self {
        CondvarWaiter {
            phase: Phase::Holding,
        }
    }

    /// Whether the caller's lock is still held on its behalf (the wait has not started).
    #[inline]
    pub(crate) fn holds_lock(&self) -> bool {
        self.phase == Phase::Holding
    }

    /// Whether the node is (or may be) queued on the condvar: released, not yet notified.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.phase == Phase::Waiting
    }

    /// Queues, releases `mutex`, and waits for a notification. `Ready` once notified (or once
    /// [`withdraw`](Self::withdraw) ended the wait); the mutex is then still released and the
    /// node idle again. `releasing` runs just before the release, which comes only once the
    /// node is queued (a panic before, from the waker's clone, leaves the lock held).
    ///
    /// # Safety
    ///
    /// While [`holds_lock`](Self::holds_lock) is true the caller must hold `mutex`'s lock and
    /// hand it to this call, which releases it once.
    pub(crate) unsafe fn poll_wait<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        condvar: &RawCondvar,
        mutex: &RawMutex,
        releasing: impl Fn(),
        strategy: &mut S,
    ) -> Poll<()> {
        if matches!(self.phase, Phase::Notified { .. } | Phase::TimedOut) {
            return Poll::Ready(());
        }
        let mut wait = CondvarWait {
            condvar,
            mutex,
            phase: &mut self.phase,
            releasing,
        };
        poll_wait(node, strategy, &mut wait)
    }

    /// Ends a wait whose deadline passed. Returns whether it had been notified after all (the
    /// notification is then kept, not passed on).
    #[cfg(feature = "std")]
    pub(crate) fn withdraw(&mut self, node: Pin<&Node>, condvar: &RawCondvar) -> bool {
        if self.phase != Phase::Waiting {
            return matches!(self.phase, Phase::Notified { .. });
        }
        // `Some(pass_on)` if notified.
        let notified = match node.take_wakeup() {
            Some(wakeup) => Some(wakeup.token == ONE),
            None => {
                let (removed, owed) = {
                    let mut queue = condvar.queue.lock();
                    // A `notify_all` that began after this wait queued notifies it, though its
                    // batches have not reached it yet (the tasks queued beside it will be
                    // notified): the wake-up is taken here, and nothing is passed on.
                    let epoch = condvar.state.load(Ordering::Relaxed) & !PARKED;
                    let owed = queue
                        .data_if_linked(&node)
                        .is_some_and(|queued| stamped_before(queued, epoch, usize::MAX));
                    let removed = queue.remove(&node).is_ok();
                    if removed {
                        queue.clear_when_empty(&condvar.state, PARKED);
                    }
                    (removed, owed)
                };
                if owed {
                    Some(false)
                } else if removed {
                    None
                } else {
                    node.take_wakeup().map(|wakeup| wakeup.token == ONE)
                }
            }
        };
        self.phase = match notified {
            Some(pass_on) => Phase::Notified { pass_on },
            None => Phase::TimedOut,
        };
        notified.is_some()
    }

    /// Starts over after the caller re-acquired the lock (for `wait_while`).
    pub(crate) fn reset(&mut self) {
        self.phase = Phase::Holding;
    }

    /// Withdraws an unfinished wait after the mutex was released, passing on a `notify_one` it
    /// had received. The caller deals with the lock.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, condvar: &RawCondvar, mutex: &RawMutex) {
        match self.phase {
            Phase::Holding | Phase::TimedOut => {}
            Phase::Waiting => cancel(
                node,
                &mut CondvarWait {
                    condvar,
                    mutex,
                    phase: &mut self.phase,
                    // Past the release already.
                    releasing: || {},
                },
            ),
            Phase::Notified { pass_on: true } => condvar.notify_one(),
            Phase::Notified { pass_on: false } => {}
        }
        self.phase = Phase::TimedOut;
    }
}

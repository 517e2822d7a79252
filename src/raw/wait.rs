//! The waiting protocol, written once for tasks and threads.
//!
//! # Implementation notes
//!
//! Every wait is a [`Protocol`] (what to try, what to check under the queue's lock, what a
//! wake-up means) driven by [`poll_wait`] with a [`Strategy`]: [`Async`] registers the task's
//! `Waker`, [`Blocking`] parks the thread, with an optional deadline. Futures and `_blocking`
//! methods therefore run the same code, and a blocking wait whose deadline passes is dropped
//! like a future, through the same cancellation path ([`cancel`]).
//!
//! Every slow path has the same shape:
//!
//! 1. try the state word without any lock ([`Protocol::attempt`]);
//! 2. take the queue's lock, try again, and if the wait must go on, tell the primitive's
//!    state word that a waiter is queued and link the node, all in that one critical
//!    section ([`Protocol::check`]);
//! 3. wait until a releaser unlinks the node and hands it a token ([`Protocol::woken`]).
//!
//! Step 2 is why no wake-up is lost: a primitive's releasers change the state word with one
//! read-modify-write and take the queue's lock when that word says a waiter is queued, and
//! step 2 sets that mark with a read-modify-write on the same word under the lock. Either the
//! release comes first in the word's order (and step 2 sees it and does not wait), or the
//! waiter's mark does (and the releaser finds the node once it gets the lock).
//!
//! # Costs
//!
//! A wait that parks and is woken takes the queue's lock twice in all: once to link its node,
//! once by the releaser that unlinks it. The woken waiter learns of its wake-up from its own
//! node with one load. A wait cancelled while linked takes the lock once more, to unlink
//! itself. Nothing is allocated: the node is part of the future, or of the blocked thread's
//! stack frame. A task polled again while still linked takes the lock to check that the
//! stored waker is still its own.
//!
//! # Passing wake-ups on
//!
//! A token can carry something the waiter now owns (a lock handed over, permits). A wait
//! dropped after it was woken but before it acted gives that back through
//! [`Protocol::abandon`], which passes it to the next waiter; a node unlinked by its own
//! cancellation gives back what its data says it held through [`Protocol::unlinked`].

use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Poll, Waker};

use crate::raw::queue::{Locked, Node, Unpark, WaitQueue, Wakeup};

#[cfg(feature = "std")]
use std::time::{Duration, Instant};

/// How a wait parks: by registering a waker, or by blocking the thread.
pub(crate) trait Strategy {
    /// Whether this strategy blocks a thread. A thread retries briefly before it parks (see
    /// [`SPINS`]); a task only spins a few rounds or microseconds (see [`TASK_SPIN_ROUNDS`]
    /// and [`TASK_SPIN_TIME`]): longer would hold up its executor.
    fn is_blocking(&self) -> bool;

    /// Whether a blocking wait's deadline has passed. Its retries before parking stop then:
    /// under load each yield may cost a whole time slice, which would stretch a short
    /// timeout many times over.
    #[inline]
    fn past_deadline(&mut self) -> bool {
        false
    }

    /// What a releaser should use to wake this waiter.
    fn unparker(&mut self) -> Unpark;

    /// Waits for the linked `node` to be woken. `Ready` with its wake-up, or `Pending` when the
    /// waiter should give up for now: a task has left its waker in the node, a thread has
    /// reached its deadline (the node may still be linked: the caller cancels it).
    /// `just_linked` says the node was linked by this same call, with this strategy's unparker.
    fn park(&mut self, queue: &WaitQueue, node: Pin<&Node>, just_linked: bool) -> Poll<Wakeup>;
}

/// Drives a wait from a task's waker.
///
/// It holds the `Waker`, not the `Context`: a poll that completes at once then never needs
/// the caller's `Context` in memory, only the waker's address (the fast paths pass this
/// strategy by reference to their out-of-line slow paths).
pub(crate) struct Async<'a>(pub(crate) &'a Waker);

impl Strategy for Async<'_> {
    #[inline]
    fn is_blocking(&self) -> bool {
        false
    }

    #[inline]
    fn unparker(&mut self) -> Unpark {
        Unpark::Task(self.0.clone())
    }

    #[inline]
    fn park(&mut self, queue: &WaitQueue, node: Pin<&Node>, just_linked: bool) -> Poll<Wakeup> {
        if let Some(wakeup) = node.take_wakeup() {
            return Poll::Ready(wakeup);
        }
        if just_linked {
            return Poll::Pending;
        }
        // Polled again while linked: the task may have a new waker. Compare under the lock,
        // clone outside it, then swap it in under the lock again.
        let waker = self.0;
        let same = queue.lock().wakes(&node, waker);
        if same == Some(false) {
            let fresh = Unpark::Task(waker.clone());
            if queue.lock().set_unpark(&node, fresh) {
                // Still queued when the new waker went in: any wake-up from now on, even one
                // that dropping the old waker causes (it may own a permit), wakes the task
                // through it. So this poll is over, as tokio's is.
                return Poll::Pending;
            }
        }
        match node.take_wakeup() {
            Some(wakeup) => Poll::Ready(wakeup),
            None => Poll::Pending,
        }
    }
}

/// When a blocking wait gives up.
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub(crate) enum Deadline {
    /// Never: the wait lasts until it completes.
    Never,
    /// At this instant.
    At(Instant),
    /// This long after the wait first needs the clock, once its first attempt has failed. A
    /// wait that never has to wait never reads the clock: it is not free, and on some targets
    /// (`wasm32-unknown-unknown`) there is none.
    After(Duration),
}

#[cfg(feature = "std")]
impl Deadline {
    /// Whether the deadline has passed (fixing an `After` from now, if it was not yet).
    pub(crate) fn passed(&mut self) -> bool {
        self.instant().is_some_and(|at| Instant::now() >= at)
    }

    /// The instant the wait gives up at, if any; an `After` is fixed the first time.
    fn instant(&mut self) -> Option<Instant> {
        if let Deadline::After(timeout) = *self {
            #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
            {
                let _ = timeout;
                no_threads();
            }
            // A timeout too large to represent never expires.
            #[allow(unreachable_code)]
            {
                #[cfg(all(test, not(loom)))]
                crate::raw::queue::stats::read_clock();
                *self = Instant::now()
                    .checked_add(timeout)
                    .map_or(Deadline::Never, Deadline::At);
            }
        }
        match *self {
            Deadline::At(at) => Some(at),
            _ => None,
        }
    }
}

/// A blocking wait had to wait on a target where nothing could ever wake it: say so rather
/// than spin for ever.
#[cfg(all(
    feature = "std",
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[cold]
fn no_threads() -> ! {
    panic!("a `_blocking` method had to wait on a target without threads; use the async method")
}

/// Drives a wait by parking the current thread, until a deadline.
#[cfg(feature = "std")]
pub(crate) struct Blocking {
    pub(crate) deadline: Deadline,
}

#[cfg(feature = "std")]
impl Strategy for Blocking {
    #[inline]
    fn is_blocking(&self) -> bool {
        true
    }

    #[inline]
    fn past_deadline(&mut self) -> bool {
        // Under loom nothing spins (`SPINS` is 0) and time is not modelled.
        #[cfg(not(loom))]
        return self.deadline.passed();
        #[cfg(loom)]
        false
    }

    fn unparker(&mut self) -> Unpark {
        Unpark::Thread(crate::sync::thread::current())
    }

    fn park(&mut self, _queue: &WaitQueue, node: Pin<&Node>, _just_linked: bool) -> Poll<Wakeup> {
        #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
        {
            let _ = node;
            no_threads();
        }
        // A wake-up that comes within a few yields needs no sleep and no wake-up through the
        // kernel (see `SPINS`).
        #[allow(unreachable_code)]
        if let Some(wakeup) = spin(|| node.take_wakeup(), || self.past_deadline()) {
            return Poll::Ready(wakeup);
        }
        #[allow(unreachable_code)]
        loop {
            if let Some(wakeup) = node.take_wakeup() {
                return Poll::Ready(wakeup);
            }
            match self.deadline.instant() {
                None => crate::sync::thread::park(),
                Some(deadline) => {
                    // Under loom a timed park is a yield: the deadline may pass at any point.
                    #[cfg(loom)]
                    {
                        let _ = deadline;
                        crate::sync::thread::yield_now();
                        return match node.take_wakeup() {
                            Some(wakeup) => Poll::Ready(wakeup),
                            None => Poll::Pending,
                        };
                    }
                    #[cfg(not(loom))]
                    {
                        let now = Instant::now();
                        if now >= deadline {
                            return Poll::Pending;
                        }
                        crate::sync::thread::park_timeout(deadline - now);
                    }
                }
            }
        }
    }
}

/// What the check under the queue's lock decided.
pub(crate) enum Check<T> {
    /// The wait is over.
    Done(T),
    /// Link the node with this data, at the back of the queue or at its front.
    Wait { data: usize, front: bool },
    /// The state moved under us: start over from the first attempt.
    Retry,
}

/// One kind of wait: what it tries, and what a wake-up means to it.
pub(crate) trait Protocol<'q> {
    /// What the wait yields.
    type Output;

    /// The queue this wait parks on (borrowed from the primitive, not from the protocol).
    fn queue(&self) -> &'q WaitQueue;

    /// Tries the state word without the queue's lock. `None` to wait.
    fn attempt(&mut self) -> Option<Self::Output>;

    /// Whether a thread should retry [`attempt`](Self::attempt) a few times before it parks:
    /// worth it for locks and permits, which come back after a short critical section, and
    /// for a barrier, whose parties arrive close together when they work in step.
    fn spins(&self) -> bool {
        false
    }

    /// How long a task should spin, retrying [`attempt`](Self::attempt), before it first
    /// queues. Worth it only for locks and permits, whose holder is most likely running and
    /// about to let go: [`TASK_SPIN_TIME`] while its thread's spins have been paying off (see
    /// [`spin_credit`]), for a mutex whether or not others are queued, for a semaphore only
    /// while nobody is; otherwise [`TASK_SPIN_ROUNDS`] while nobody is queued.
    fn task_spin(&self) -> TaskSpinFor {
        TaskSpinFor::Rounds(0)
    }

    /// For a [timed](TaskSpinFor::Time) spin: whether [`attempt`](Self::attempt) may succeed,
    /// from a load that writes nothing, so that a spinning task leaves the state word's cache
    /// line with its holder until it is worth a try; or that the spin should stop (a
    /// semaphore's waiter once someone has queued, as the permits then go to the queue).
    fn look(&self) -> Look {
        Look::Free
    }

    /// After a task's spin (one that was not `Rounds(0)`): whether it took what it waits for.
    fn task_spun(&mut self, _took: bool) {}

    /// For a queued wait polled again before its wake-up has come: whether the release it
    /// waits for may have come, from a look at the state word that changes nothing. If so,
    /// the wait leaves the queue as a cancelled one does (a wake-up that came meanwhile goes
    /// to [`abandon`](Self::abandon)) and starts over from [`attempt`](Self::attempt).
    ///
    /// For waits that one release ends all at once (an event, a closed semaphore, the readers
    /// a write lets in): the releaser wakes them batch by batch, and a wait polled after
    /// another one saw the release must see it too. It leaves the queue before it takes
    /// anything, since dropping the waker stored there can panic. `attempt` must not take
    /// anything a waiter queued ahead is owed.
    fn released(&mut self) -> bool {
        false
    }

    /// For a thread whose deadline has passed while it is still queued: whether it should
    /// look at [`released`](Self::released) before it gives up, and end as a task polled now
    /// would. A release that came before the deadline then counts, even if its batch has not
    /// reached this node yet. Waits with a deadline rule of their own (the barrier's) say no.
    fn released_counts_at_deadline(&self) -> bool {
        true
    }

    /// [`released`](Self::released) for a thread out of time while still queued (its `node`).
    /// Waits whose release the state word may no longer show (a count back above zero) ask
    /// the queue too, and a wait may end there at once, having left the queue itself.
    fn at_deadline(&mut self, _node: Pin<&Node>) -> AtDeadline<Self::Output> {
        AtDeadline::released_if(self.released())
    }

    /// Whether a released wait (see [`released`](Self::released)) takes what it waits for
    /// before it leaves the queue, so that nobody who came later (a writer after a reader
    /// let in) gets there first. If leaving then panics, [`undo`](Self::undo) gives it back.
    fn takes_before_leaving(&self) -> bool {
        false
    }

    /// Under the queue's lock: tries once more, or marks the state word and says how to link.
    fn check(&mut self, queue: &mut Locked<'_>) -> Check<Self::Output>;

    /// Runs after the node was linked and the lock released.
    fn linked(&mut self) {}

    /// The node was woken: finish with `Some`, or `None` to start over from the top.
    fn woken(&mut self, wakeup: Wakeup) -> Option<Self::Output>;

    /// Under the queue's lock: the node of a cancelled wait was unlinked with `data`.
    fn unlinked(&mut self, _queue: &mut Locked<'_>, _data: usize) {}

    /// A wait that was woken is going away without acting on its wake-up: give back what it
    /// carried.
    fn abandon(&mut self, _wakeup: Wakeup) {}

    /// A [`Check::Done`] output that cannot be returned (dropping the unparker the wait did
    /// not need panicked): give back what it owns.
    fn undo(&mut self, _out: Self::Output) {}
}

/// Advances a wait. `Pending` means: parked (async) or out of time (blocking; the caller then
/// cancels the wait).
#[inline]
pub(crate) fn poll_wait<'q, S, P>(node: Pin<&Node>, strategy: &mut S, p: &mut P) -> Poll<P::Output>
where
    S: Strategy,
    P: Protocol<'q>,
{
    // A thread (and, for locks and permits, a task) retries before it first parks; once
    // woken it is at the front, and it retries once before it goes back there.
    let mut woken = false;
    if node.is_linked() && p.released() {
        // Released, but not reached by the releaser yet: leave the queue, then try as new
        // (the loop's first step).
        if !p.takes_before_leaving() {
            cancel(node, p);
        } else if let Some(out) = p.attempt() {
            return Poll::Ready(keep_through(p, out, |p| cancel(node, p)));
        }
    }
    loop {
        let just_linked = node.is_idle();
        if just_linked {
            if let Some(out) = p.attempt() {
                return Poll::Ready(out);
            }
            if !woken {
                let spun = match strategy.is_blocking() {
                    true if p.spins() => spin(|| p.attempt(), || strategy.past_deadline()),
                    true => None,
                    false => {
                        let spin = p.task_spin();
                        let out = match spin {
                            TaskSpinFor::Rounds(rounds) => spin_briefly(rounds, || Ok(p.attempt())),
                            TaskSpinFor::Time => spin_timed(|| match p.look() {
                                Look::Free => Ok(p.attempt()),
                                Look::Taken => Ok(None),
                                Look::Stop => Err(()),
                            }),
                        };
                        if spin != TaskSpinFor::Rounds(0) {
                            #[cfg(all(test, not(loom)))]
                            crate::raw::queue::stats::task_spun(spin == TaskSpinFor::Time);
                            p.task_spun(out.is_some());
                        }
                        out
                    }
                };
                if let Some(out) = spun {
                    return Poll::Ready(out);
                }
            }
            // The lock guard is never moved (it carries the wake-up batch, a kilobyte): it is
            // dropped in place at the end of this block, and `unpark`, if not linked, after it.
            let decided = {
                let unpark = strategy.unparker();
                let mut queue = p.queue().lock();
                match p.check(&mut queue) {
                    Check::Wait { data, front } => {
                        queue.push(node, unpark, data, front);
                        None
                    }
                    other => Some((other, unpark)),
                }
            };
            match decided {
                Some((Check::Done(out), unpark)) => return Poll::Ready(unneeded(p, out, unpark)),
                Some((_, unpark)) => {
                    drop(unpark);
                    continue;
                }
                None => {}
            }
            p.linked();
        }
        match strategy.park(p.queue(), node, just_linked) {
            Poll::Pending => {
                // A thread out of time whose release came before its deadline but whose batch
                // has not reached it yet ends as a task polled now would. So does one whose
                // wake-up landed since `park` last looked: `leave_released` passes it on.
                if strategy.is_blocking() && p.released_counts_at_deadline() {
                    if let Some(out) = out_of_time(node, p) {
                        return Poll::Ready(out);
                    }
                }
                return Poll::Pending;
            }
            Poll::Ready(wakeup) => {
                if let Some(out) = p.woken(wakeup) {
                    return Poll::Ready(out);
                }
                woken = true;
            }
        }
    }
}

/// What a thread out of time while still queued does (see [`Protocol::at_deadline`]).
pub(crate) enum AtDeadline<T> {
    /// Gives up.
    TimedOut,
    /// Its release has come: it leaves the queue and tries once more, as a task polled now
    /// would.
    Released,
    /// It has left the queue with what it waited for.
    Ended(T),
}

impl<T> AtDeadline<T> {
    /// `Released` if `released`, else `TimedOut`.
    pub(crate) fn released_if(released: bool) -> Self {
        match released {
            true => AtDeadline::Released,
            false => AtDeadline::TimedOut,
        }
    }
}

/// A thread out of time: ends the wait if its release has come (see
/// [`Protocol::at_deadline`]). Out of line, as only a deadline gets here.
#[cold]
#[inline(never)]
fn out_of_time<'q, P: Protocol<'q>>(node: Pin<&Node>, p: &mut P) -> Option<P::Output> {
    match p.at_deadline(node) {
        AtDeadline::TimedOut => None,
        AtDeadline::Released => leave_released(node, p),
        AtDeadline::Ended(out) => Some(out),
    }
}

/// A thread out of time whose release has come (see [`Protocol::released`]): leaves the
/// queue and tries once more, or, for a wait that takes before it leaves, tries first. As the
/// poll above does for a task, but with no going back to the queue.
#[cold]
fn leave_released<'q, P: Protocol<'q>>(node: Pin<&Node>, p: &mut P) -> Option<P::Output> {
    if !p.takes_before_leaving() {
        cancel(node, p);
        return p.attempt();
    }
    let out = p.attempt()?;
    Some(keep_through(p, out, |p| cancel(node, p)))
}

/// Drops the unparker a wait that finished under the lock did not need, and returns `out`.
/// Dropping it runs the user's waker code, which can panic: `out` is then given back.
fn unneeded<'q, P: Protocol<'q>>(p: &mut P, out: P::Output, unpark: Unpark) -> P::Output {
    keep_through(p, out, |_| drop(unpark))
}

/// Runs `step`, which can panic (it drops a user's waker), and returns `out`, or gives `out`
/// back if `step` panics.
fn keep_through<'q, P: Protocol<'q>>(
    p: &mut P,
    out: P::Output,
    step: impl FnOnce(&mut P),
) -> P::Output {
    struct Undo<'p, 'q, P: Protocol<'q>> {
        p: &'p mut P,
        out: Option<P::Output>,
        queue: PhantomData<&'q ()>,
    }
    impl<'q, P: Protocol<'q>> Drop for Undo<'_, 'q, P> {
        fn drop(&mut self) {
            if let Some(out) = self.out.take() {
                self.p.undo(out);
            }
        }
    }
    let mut undo = Undo {
        p,
        out: Some(out),
        queue: PhantomData,
    };
    step(undo.p);
    match undo.out.take() {
        Some(out) => out,
        None => unreachable!("taken only here"),
    }
}

/// Runs a closure when dropped, on unwinding too: the later steps of a withdrawal that must
/// run even if an earlier one panics (dropping a user's waker can).
pub(crate) struct Finally<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Finally<F> {
    #[inline]
    pub(crate) fn new(f: F) -> Self {
        Finally(Some(f))
    }

    /// Drops the closure without running it: the steps it stood for are not needed.
    #[inline]
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for Finally<F> {
    #[inline]
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Runs `step` on every item, each even if an earlier one panicked (waking or dropping a
/// user's waker can): the rest run as the panic unwinds, when the queue catches any further
/// waker panic instead of aborting.
pub(crate) fn each_finally<I: Iterator>(items: I, step: impl FnMut(I::Item)) {
    struct Rest<I: Iterator, F: FnMut(I::Item)> {
        items: I,
        step: F,
    }
    impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
        fn drop(&mut self) {
            for item in self.items.by_ref() {
                (self.step)(item);
            }
        }
    }
    let mut rest = Rest { items, step };
    for item in rest.items.by_ref() {
        (rest.step)(item);
    }
}

/// Withdraws a wait: unlinks its node, or gives back a wake-up it had not acted on.
pub(crate) fn cancel<'q, P: Protocol<'q>>(node: Pin<&Node>, p: &mut P) {
    if node.is_idle() {
        return;
    }
    if let Some(wakeup) = node.take_wakeup() {
        p.abandon(wakeup);
        return;
    }
    // The lock guard is dropped in place, not moved (see `poll_wait`).
    let unlinked = {
        let mut queue = p.queue().lock();
        match queue.remove(&node) {
            Ok(data) => {
                p.unlinked(&mut queue, data);
                true
            }
            Err(()) => false,
        }
    };
    if !unlinked {
        let wakeup = node
            .take_wakeup()
            .expect("a node leaves its queue only when woken");
        p.abandon(wakeup);
    }
}

/// How many times a blocking waiter retries before it parks.
///
/// Parking and waking a thread costs far more than a short critical section, so a thread first
/// retries a few times, *yielding* its time slice in between (mutex and semaphore waits, the
/// read-write lock's reads and its writer's wait for readers to leave, and a barrier's
/// parties). Yielding rather than busy-spinning matters when threads outnumber cores: a busy
/// spin burns the slice the lock holder needs. When the count was chosen, 4 threads on 2 cores
/// taking a mutex 200,000 times each took: no retry 23 ms, 64 busy spins 57 ms, 8 yields 10 ms,
/// 16 yields 4.5 ms (`parking_lot` 5.4 ms, `std` 14 ms). The read-write lock's waits, with 4
/// threads doing 200,000 operations each, one in 20 a write (`rwlock/blocking-long/4`):
/// 13–21 ms parking at once, 7.7–9.4 ms retrying first. Two threads passing a barrier 1,000
/// times (`barrier/blocking/2`): 16–18 ms parking at once, 0.5–1.3 ms retrying first. A queued
/// thread, too, looks at its node that many times, yielding in between, before it parks, since
/// a wake-up that comes meanwhile then needs no sleep: a condvar's ping-pong between two
/// threads (`condvar/blocking/2`, 1,000 turns each) took 30–32 ms with the thread parking at
/// once and 1.1–1.4 ms with it looking first, and the barrier's rounds 0.37–0.43 ms. A timed
/// wait stops retrying once its deadline has passed: on busy cores a yield can cost a time
/// slice, and 16 of them stretched a 50 µs timeout past 20 ms.
pub(crate) const SPINS: u32 = if cfg!(loom) { 0 } else { 16 };

/// Retries `attempt` up to [`SPINS`] times, yielding the thread in between, until
/// `past_deadline` says the wait is out of time.
// Under loom `SPINS` is 0, so the range is empty there on purpose.
#[cfg_attr(loom, allow(clippy::reversed_empty_ranges))]
#[inline]
fn spin<T>(
    mut attempt: impl FnMut() -> Option<T>,
    mut past_deadline: impl FnMut() -> bool,
) -> Option<T> {
    for _ in 0..SPINS {
        if past_deadline() {
            return None;
        }
        #[cfg(all(test, not(loom)))]
        crate::raw::queue::stats::retried();
        #[cfg(all(feature = "std", not(loom)))]
        std::thread::yield_now();
        #[cfg(any(not(feature = "std"), loom))]
        core::hint::spin_loop();
        if let Some(out) = attempt() {
            return Some(out);
        }
    }
    None
}

/// How many rounds a task spins before it first queues (2, 4, then 8 `spin_loop` hints, an
/// attempt after each), while nobody is queued: a semaphore's waits, an rwlock's writers, a
/// condvar's relock.
///
/// A task cannot yield its thread, so it busy-spins, and only briefly: parking a task and
/// waking it again (through its executor, often on another thread) costs far more than a
/// critical section of a few instructions, but a holder that keeps the lock across an
/// `.await` makes the spin wasted. Spinning only while nobody is queued bounds that waste to
/// the first contender, which then queues and makes the next ones queue at once. Measured on
/// 2 workers (64 tasks taking a mutex 100 times each, on smol): 186–244 µs without, 93–117
/// µs with it.
pub(crate) const TASK_SPIN_ROUNDS: u32 = if cfg!(loom) { 0 } else { 3 };

/// How long a task spins before it first queues, retrying after each round of `spin_loop`
/// hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskSpinFor {
    /// The `r`th round of `2^r` hints, for `r` up to this (none for 0).
    Rounds(u32),
    /// Rounds of up to 32 hints until [`TASK_SPIN_TIME`] has passed, retrying only when
    /// [`Protocol::look`] says so; [`MUTEX_SPIN_ROUNDS`] rounds where there is no clock to
    /// read.
    Time,
}

/// What a timed spin makes of one look at the state word (see [`Protocol::look`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Look {
    /// Worth an attempt.
    Free,
    /// Not yet: spin on.
    Taken,
    /// No attempt can succeed before the task would be woken anyway: queue now.
    Stop,
}

/// Whether the timed spins of this thread's tasks have been paying off lately: a task spins
/// for [`TASK_SPIN_TIME`] only while they have.
///
/// A spin can only pay off while the holder runs on another thread. On a single-threaded
/// executor, or behind a lock or permits held across an `.await`, every such spin is wasted:
/// with every waiter spinning, a run of 64 tasks on one thread taking a mutex held across a
/// yield 100 times each took 4.4–4.8 ms instead of 1.8–2.5 (`benches/instructions.rs`,
/// workload `mutex`, timed whole). A spin that takes what it waits for earns one credit, up
/// to `MAX`; one that fails costs one, so spins go on while at least half of them succeed.
/// With no credit left a task still spins a few rounds when nobody is queued (a fraction of a
/// microsecond), and a success then earns credit back. Mutex and semaphore spins share the
/// credit: what it measures is whether the thread's holders run elsewhere.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod spin_credit {
    use core::cell::Cell;

    const MAX: u8 = 16;

    std::thread_local! {
        static CREDIT: Cell<u8> = const { Cell::new(MAX / 2) };
    }

    /// Whether this thread's tasks may spin for [`TASK_SPIN_TIME`](super::TASK_SPIN_TIME).
    pub(crate) fn has() -> bool {
        // Not while the thread's locals are being destroyed.
        CREDIT.try_with(|c| c.get() > 0).unwrap_or(false)
    }

    /// Records how a timed spin, or a short one without credit, ended.
    pub(crate) fn record(took: bool) {
        let _ = CREDIT.try_with(|c| {
            let v = c.get();
            c.set(if took {
                (v + 1).min(MAX)
            } else {
                v.saturating_sub(1)
            });
        });
    }
}

/// Without threads of its own to keep a credit for, a task never spins for a time.
#[cfg(not(all(feature = "std", not(loom))))]
pub(crate) mod spin_credit {
    pub(crate) fn has() -> bool {
        false
    }

    pub(crate) fn record(_took: bool) {}
}

/// How long a task that wants a mutex or permits spins before it first queues, as long as such
/// spins have been paying off on its thread ([`spin_credit`]): for a mutex whether or not
/// others are queued, for a semaphore only while nobody is (queued waiters get the permits
/// first, so the spin stops as soon as one queues).
///
/// An unlock frees the lock for whoever gets there first and wakes one queued waiter, and
/// until that waiter has run it wakes nobody else (the mutex's fairness rule). A running task
/// that queued as soon as anyone else was then lost the lock to that woken waiter and had to
/// be woken again itself: on smol, whose wake-ups go to whichever worker is idle, 64 tasks
/// taking a mutex 100 times each on 2 workers parked 20–23 times per 1,000 locks, and 0.5–1.5
/// times with a spin (170 µs an iteration against 92–123).
///
/// The spin is bounded by time, not by a count of hints, because what it has to outlast is a
/// holder's run of lock calls on another worker, and a `spin_loop` hint's length varies more
/// than threefold between the two machines of BENCHMARKS.md (25 ns on the AMD one, 7 ns on the
/// Intel one), and more between others. On the Intel machine, 30 hints (0.2 µs) left the
/// contended mutex on smol at 1.5–2.4 times futures-intrusive's time in most runs; spins of
/// 6, 8 and 16 µs put it at 0.43–0.85, 16 µs no better than 8. The bound is kept
/// near the low end of that because a spin that fails holds the task's worker thread for all
/// of it: spinning stops while spins fail on this thread (the credit), and a spin while
/// nobody is queued and the credit is spent is [`MUTEX_SPIN_ROUNDS`] rounds. Where nearly
/// every spin fails (a lock held across a yield) the time was level with the 30 hints'.
///
/// A semaphore waiter spun three short rounds (14 hints) until the same bound was given to
/// it: on the Intel machine, with as many permits as workers and every other task asking for
/// two, one task that queued sent every later acquire into the queue behind it (strict
/// order), and with the short spin most of a run went that way; with the timed spin,
/// `semaphore/mixed-tokio/2` took 0.8–1.1 ms instead of 2.8–5.8, and `mixed-smol/2` 1.6–2.0
/// ms instead of 1.9–10 (BENCHMARKS.md, "Permits spun for by time").
#[cfg_attr(
    not(all(
        feature = "std",
        not(loom),
        not(all(target_family = "wasm", target_os = "unknown"))
    )),
    allow(dead_code)
)]
pub(crate) const TASK_SPIN_TIME: core::time::Duration = core::time::Duration::from_micros(8);

/// How many rounds a task spins for a mutex (2 to 16 `spin_loop` hints, 30 in all, an attempt
/// after each) where it cannot spin for [`TASK_SPIN_TIME`]: without the `std` feature or a
/// clock, and, with no spin credit left on its thread, while nobody is queued (where a
/// success earns the credit back). The rwlock's writers and a condvar waiter's relock keep
/// [`TASK_SPIN_ROUNDS`]: a writer often holds the gate while it waits for readers to leave,
/// which no spin outlasts (spinning there too made the read-heavy groups 5 % slower), and a
/// `notify_all` sends every waiter to the mutex at once (the condvar benches, bimodal with
/// and without the spin, showed no gain from it).
pub(crate) const MUTEX_SPIN_ROUNDS: u32 = if cfg!(loom) { 0 } else { 4 };

/// Runs `step` (an attempt, a look that skips it, or `Err` to give up) for up to
/// [`TASK_SPIN_TIME`], after rounds of 2, 4, … hints, then `MAX_HINTS` at a time.
#[cfg(all(
    feature = "std",
    not(loom),
    not(all(target_family = "wasm", target_os = "unknown"))
))]
#[inline]
fn spin_timed<T>(mut step: impl FnMut() -> Result<Option<T>, ()>) -> Option<T> {
    // A look costs a load and a read of the clock, and the lock may be free again within a
    // few dozen hints.
    const MAX_HINTS: u32 = 32;
    // The clock is read only once the first round has failed: a lock freed within it (the
    // common case) costs no clock read.
    let mut start = None;
    let mut hints = 2;
    loop {
        for _ in 0..hints {
            core::hint::spin_loop();
        }
        match step() {
            Ok(Some(out)) => return Some(out),
            Ok(None) => {}
            Err(()) => return None,
        }
        let start = *start.get_or_insert_with(Instant::now);
        if start.elapsed() >= TASK_SPIN_TIME {
            return None;
        }
        hints = (hints * 2).min(MAX_HINTS);
    }
}

/// Without a clock (no `std`, loom, or WebAssembly without an OS), [`MUTEX_SPIN_ROUNDS`]
/// rounds.
#[cfg(not(all(
    feature = "std",
    not(loom),
    not(all(target_family = "wasm", target_os = "unknown"))
)))]
#[inline]
fn spin_timed<T>(step: impl FnMut() -> Result<Option<T>, ()>) -> Option<T> {
    spin_briefly(MUTEX_SPIN_ROUNDS, step)
}

/// Runs `step` (as for [`spin_timed`]) after each of `rounds` rounds of busy spinning, the
/// `r`th of `2^r` hints.
#[inline]
fn spin_briefly<T>(rounds: u32, mut step: impl FnMut() -> Result<Option<T>, ()>) -> Option<T> {
    for round in 1..=rounds {
        for _ in 0..1u32 << round {
            core::hint::spin_loop();
        }
        match step() {
            Ok(Some(out)) => return Some(out),
            Ok(None) => {}
            Err(()) => return None,
        }
    }
    None
}

/// The deadline of a wait with `timeout`, counted from when the wait first has to wait (see
/// [`Deadline::After`]); a timeout too large to represent never expires.
#[cfg(feature = "std")]
pub(crate) fn deadline(timeout: Duration) -> Deadline {
    Deadline::After(timeout)
}

/// A future that can also be driven by a blocking strategy.
pub(crate) trait Drive {
    /// What the wait yields.
    type Output;

    /// Advances the wait with `strategy`.
    fn drive<S: Strategy>(self: Pin<&mut Self>, strategy: &mut S) -> Poll<Self::Output>;
}

/// Runs `wait` on the current thread until it completes or `deadline` passes.
///
/// On timeout the wait is dropped, which runs its cancellation path: whatever it held is
/// released and any wake-up it had received is passed on.
///
/// Always inlined, so that the wait is built where it is driven and its first attempt (the
/// wait's own inlined fast path) runs in the caller. Out of line, every call copied the
/// future and the deadline into this frame, and the copy of the deadline read a word that the
/// caller had just written in pieces, which stalls until the write reaches the cache. In
/// `mutex/blocking-long/4` (4 threads on 2 cores, 200,000 locks each) `lock_blocking` took
/// 10.6–11.2 ms out of line and 4.2–4.5 ms inlined (`parking_lot` 5.1–6.2 ms); an
/// uncontended `lock_blocking`, 12 ns and 4.7 ns.
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn block_on<W: Drive>(wait: W, deadline: Deadline) -> Option<W::Output> {
    let mut wait = core::pin::pin!(wait);
    block_on_pinned(wait.as_mut(), deadline)
}

/// Like [`block_on`], but leaves the wait with the caller on timeout: for waits whose timeout
/// keeps part of what they hold (a barrier result that raced the deadline, the upgradable
/// lock of a timed-out upgrade).
#[cfg(feature = "std")]
#[inline(always)]
pub(crate) fn block_on_pinned<W: Drive + ?Sized>(
    wait: Pin<&mut W>,
    deadline: Deadline,
) -> Option<W::Output> {
    match wait.drive(&mut Blocking { deadline }) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// A waiter's `bool`, stored in a whole word.
///
/// Futures are often moved right after they are built (`now_or_never`, `Box::pin`, `select!`
/// arms), and the move copies them with wide loads. A load that covers a one-byte store made
/// moments before cannot be served from the store buffer and waits for the store to reach the
/// cache, so waiter state is kept in whole words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flag(usize);

impl Flag {
    pub(crate) const CLEAR: Flag = Flag(0);

    #[inline]
    pub(crate) fn get(self) -> bool {
        self.0 != 0
    }

    #[inline]
    pub(crate) fn set(&mut self, value: bool) {
        self.0 = usize::from(value);
    }

    /// Returns the flag and clears it.
    #[inline]
    pub(crate) fn take(&mut self) -> bool {
        core::mem::replace(self, Flag::CLEAR).get()
    }
}

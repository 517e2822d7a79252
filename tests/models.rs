//! Exact reference models of the semaphore's and the condition variable's documented order,
//! run beside the real primitive and compared after every step, at poll level.
//!
//! `tests/explorer.rs` checks what must hold whatever the order (exclusion, conservation, no
//! lost wake-up once everything is released). This file checks the order itself. A few lines
//! of plain code restate what the docs promise, and after every step of a random sequence the
//! primitive must agree with them exactly: which future is ready, with how many permits, what
//! `available_permits` says, and how many times each waker was woken.
//!
//! - **Semaphore** (its Fairness section): strictly first in, first out. A waiter that finds
//!   nobody queued takes every free permit and queues for the rest; returned permits go to the
//!   first waiter until it has all it asked for; `try_acquire_many` fails while anyone waits;
//!   zero permits succeed unless closed; `close` fails every waiter, and a served waiter polled
//!   after `close` fails too and returns its permits.
//! - **Condvar** with the crate's `Mutex`: notifications go to waiters in the order they
//!   started waiting; `notify_one` with nobody waiting is not stored; a wait dropped after its
//!   notification (or while it locks the mutex again) passes one notification on; no waiter is
//!   woken that was not notified, and the mutex is never left free with a parked locker that
//!   nobody woke.
//!
//! Each future is polled with either of two wakers, so a wake-up must reach the waker of the
//! latest poll, exactly once.
//!
//! The number of random sequences per test is `UNISYNC_MODEL_CASES`, else `PROPTEST_CASES`,
//! else [`DEFAULT_CASES`] (a few seconds each in a debug build). A failing case shrinks to a
//! minimal sequence, which proptest prints with the rule that broke.

mod common;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use common::Counter;
use proptest::prelude::*;

/// Random sequences per test unless the environment says otherwise.
const DEFAULT_CASES: u32 = 2_000;

fn config() -> ProptestConfig {
    let cases = ["UNISYNC_MODEL_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|name| {
            let value = std::env::var(name).ok()?;
            Some(
                value
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={value:?} is not a number of cases")),
            )
        })
        .unwrap_or(DEFAULT_CASES);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Live futures at once: enough to queue several behind each other.
const SLOTS: usize = 5;

/// Polls after which a sequence that keeps making progress counts as a livelock.
const SETTLE_STEPS: usize = 1_000;

/// A future under test, with the two wakers it may be polled with.
struct Polled<F: ?Sized> {
    fut: Pin<Box<F>>,
    wakers: [Counter; 2],
    /// The waker of the latest poll.
    last: usize,
}

impl<F: Future + ?Sized> Polled<F> {
    fn new(fut: Pin<Box<F>>) -> Self {
        Polled {
            fut,
            wakers: [Counter::new(), Counter::new()],
            last: 0,
        }
    }

    fn poll(&mut self, waker: usize) -> Poll<F::Output> {
        self.last = waker;
        let waker = self.wakers[waker].waker().clone();
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// The first occupied slot at or after `i`, wrapping around.
fn pick<T>(slots: &[Option<T>], i: usize) -> Option<usize> {
    (i..i + slots.len())
        .map(|j| j % slots.len())
        .find(|&j| slots[j].is_some())
}

mod semaphore {
    use super::*;
    use std::sync::Arc;

    use common::Permit;
    use futures::FutureExt as _;
    use unisync::{AcquireError, Semaphore, TryAcquireError};

    /// Permit guards kept at once (`split` makes more).
    const PERMITS: usize = 8;

    type Acquire<'a> = dyn Future<Output = Result<Permit<'a>, AcquireError>> + 'a;

    /// Where the model says an acquire future is.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Stage {
        /// Not polled yet: it has not started waiting.
        New,
        /// In the queue, still short of `lacks` permits (it holds the rest).
        Queued { lacks: usize },
        /// Handed all its permits: ready on its next poll.
        Served,
        /// Failed by `close` while it held `held` permits: it returns them on its next poll.
        Closed { held: usize },
    }

    struct Slot<'a> {
        polled: Polled<Acquire<'a>>,
        need: usize,
        stage: Stage,
        /// Wake-ups each waker should have had.
        wakes: [usize; 2],
    }

    impl Slot<'_> {
        fn held(&self) -> usize {
            match self.stage {
                Stage::New => 0,
                Stage::Queued { lacks } => self.need - lacks,
                Stage::Served => self.need,
                Stage::Closed { held } => held,
            }
        }
    }

    #[derive(Debug, Clone)]
    pub enum Op {
        Acquire { n: usize, owned: bool },
        Poll { slot: usize, waker: usize },
        DropFuture(usize),
        TryAcquire { n: usize, owned: bool },
        AddPermits(usize),
        ForgetPermits(usize),
        Close,
        DropPermit(usize),
        ForgetPermit(usize),
        Split { permit: usize, n: usize },
        Merge(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..=4usize, any::<bool>()).prop_map(|(n, owned)| Op::Acquire { n, owned }),
            10 => (0..SLOTS, 0..2usize).prop_map(|(slot, waker)| Op::Poll { slot, waker }),
            3 => (0..SLOTS).prop_map(Op::DropFuture),
            2 => (0..=3usize, any::<bool>()).prop_map(|(n, owned)| Op::TryAcquire { n, owned }),
            3 => (0..=3usize).prop_map(Op::AddPermits),
            1 => (0..=3usize).prop_map(Op::ForgetPermits),
            1 => Just(Op::Close),
            4 => (0..PERMITS).prop_map(Op::DropPermit),
            1 => (0..PERMITS).prop_map(Op::ForgetPermit),
            1 => (0..PERMITS, 0..=3usize).prop_map(|(permit, n)| Op::Split { permit, n }),
            1 => (0..PERMITS, 0..PERMITS).prop_map(|(a, b)| Op::Merge(a, b)),
        ]
    }

    struct Model<'a> {
        sem: &'a Arc<Semaphore>,
        available: usize,
        closed: bool,
        /// Slots of the queued futures, first in line first.
        queue: VecDeque<usize>,
        slots: Vec<Option<Slot<'a>>>,
        permits: Vec<Permit<'a>>,
        /// Permits in existence: the initial ones, plus added, minus forgotten.
        total: usize,
    }

    impl<'a> Model<'a> {
        /// Returned permits: to the queue in order, the rest to the count.
        fn release(&mut self, mut n: usize) {
            while n > 0 && !self.closed {
                let Some(&first) = self.queue.front() else {
                    break;
                };
                let slot = self.slots[first].as_mut().unwrap();
                let Stage::Queued { lacks } = slot.stage else {
                    unreachable!("the model queued a future that is not waiting");
                };
                if n < lacks {
                    slot.stage = Stage::Queued { lacks: lacks - n };
                    n = 0;
                } else {
                    n -= lacks;
                    slot.stage = Stage::Served;
                    slot.wakes[slot.polled.last] += 1;
                    self.queue.pop_front();
                }
            }
            self.available += n;
        }

        /// What the model expects of a poll of slot `i`: the permits it completes with,
        /// `Err` if it fails, or `None` while it waits.
        fn expect_poll(&mut self, i: usize) -> Option<Result<usize, ()>> {
            let slot = self.slots[i].as_mut().unwrap();
            let need = slot.need;
            match slot.stage {
                Stage::New if self.closed => Some(Err(())),
                Stage::New if need == 0 => Some(Ok(0)),
                Stage::New if self.queue.is_empty() && self.available >= need => {
                    self.available -= need;
                    Some(Ok(need))
                }
                Stage::New => {
                    // Only the first in line takes what is free; behind it nothing is.
                    let take = if self.queue.is_empty() {
                        self.available
                    } else {
                        0
                    };
                    self.available -= take;
                    slot.stage = Stage::Queued { lacks: need - take };
                    self.queue.push_back(i);
                    None
                }
                Stage::Queued { .. } => None,
                Stage::Served if self.closed => {
                    self.release(need);
                    Some(Err(()))
                }
                Stage::Served => Some(Ok(need)),
                Stage::Closed { held } => {
                    self.release(held);
                    Some(Err(()))
                }
            }
        }

        fn step(&mut self, op: &Op) {
            match *op {
                Op::Acquire { n, owned } => {
                    let Some(i) = self.slots.iter().position(Option::is_none) else {
                        return;
                    };
                    let fut: Pin<Box<Acquire<'a>>> = if owned {
                        Box::pin(self.sem.acquire_many_owned(n).map(|r| r.map(Permit::Owned)))
                    } else {
                        Box::pin(self.sem.acquire_many(n).map(|r| r.map(Permit::Borrowed)))
                    };
                    self.slots[i] = Some(Slot {
                        polled: Polled::new(fut),
                        need: n,
                        stage: Stage::New,
                        wakes: [0, 0],
                    });
                }
                Op::Poll { slot, waker } => {
                    let Some(i) = pick(&self.slots, slot) else {
                        return;
                    };
                    let got = self.slots[i].as_mut().unwrap().polled.poll(waker);
                    let expected = self.expect_poll(i);
                    match (got, expected) {
                        (Poll::Pending, None) => {}
                        (Poll::Ready(Ok(permit)), Some(Ok(n))) => {
                            assert_eq!(permit.num_permits(), n, "permits of slot {i}");
                            self.slots[i] = None;
                            self.permits.push(permit);
                        }
                        (Poll::Ready(Err(_)), Some(Err(()))) => self.slots[i] = None,
                        (got, expected) => panic!(
                            "poll of slot {i}: got {:?}, the model says {expected:?}",
                            got.map(|r| r.map(|p| p.num_permits()))
                        ),
                    }
                }
                Op::DropFuture(i) => {
                    let Some(i) = pick(&self.slots, i) else {
                        return;
                    };
                    let slot = self.slots[i].take().unwrap();
                    let held = slot.held();
                    drop(slot);
                    self.queue.retain(|&q| q != i);
                    self.release(held);
                }
                Op::TryAcquire { n, owned } => {
                    let got = if owned {
                        self.sem.try_acquire_many_owned(n).map(Permit::Owned)
                    } else {
                        self.sem.try_acquire_many(n).map(Permit::Borrowed)
                    };
                    let expected = if self.closed {
                        Err(TryAcquireError::Closed)
                    } else if n == 0 {
                        Ok(0)
                    } else if !self.queue.is_empty() || self.available < n {
                        Err(TryAcquireError::NoPermits)
                    } else {
                        self.available -= n;
                        Ok(n)
                    };
                    match (got, expected) {
                        (Ok(permit), Ok(k)) => {
                            assert_eq!(permit.num_permits(), k);
                            self.permits.push(permit);
                        }
                        (Err(got), Err(expected)) => assert_eq!(got, expected),
                        (got, expected) => panic!(
                            "try_acquire_many({n}): got {:?}, the model says {expected:?}",
                            got.map(|p| p.num_permits())
                        ),
                    }
                }
                Op::AddPermits(n) => {
                    self.sem.add_permits(n);
                    self.total += n;
                    self.release(n);
                }
                Op::ForgetPermits(n) => {
                    let taken = self.available.min(n);
                    assert_eq!(self.sem.forget_permits(n), taken, "forget_permits({n})");
                    self.available -= taken;
                    self.total -= taken;
                }
                Op::Close => {
                    self.sem.close();
                    if !self.closed {
                        self.closed = true;
                        for i in std::mem::take(&mut self.queue) {
                            let slot = self.slots[i].as_mut().unwrap();
                            slot.stage = Stage::Closed { held: slot.held() };
                            slot.wakes[slot.polled.last] += 1;
                        }
                    }
                }
                Op::DropPermit(i) => {
                    if !self.permits.is_empty() {
                        let permit = self.permits.remove(i % self.permits.len());
                        let n = permit.num_permits();
                        drop(permit);
                        self.release(n);
                    }
                }
                Op::ForgetPermit(i) => {
                    if !self.permits.is_empty() {
                        let permit = self.permits.remove(i % self.permits.len());
                        self.total -= permit.num_permits();
                        permit.forget();
                    }
                }
                Op::Split { permit, n } => {
                    if self.permits.is_empty() || self.permits.len() >= PERMITS {
                        return;
                    }
                    let i = permit % self.permits.len();
                    let had = self.permits[i].num_permits();
                    let split = match &mut self.permits[i] {
                        Permit::Borrowed(p) => p.split(n).map(Permit::Borrowed),
                        Permit::Owned(p) => p.split(n).map(Permit::Owned),
                    };
                    match split {
                        Some(part) => {
                            assert!(n <= had, "split({n}) of {had} succeeded");
                            assert_eq!(part.num_permits(), n);
                            assert_eq!(self.permits[i].num_permits(), had - n);
                            self.permits.push(part);
                        }
                        None => assert!(n > had, "split({n}) of {had} failed"),
                    }
                }
                Op::Merge(a, b) => {
                    let len = self.permits.len();
                    let (a, b) = (a % len.max(1), b % len.max(1));
                    let same_kind = len >= 2
                        && matches!(
                            (&self.permits[a], &self.permits[b]),
                            (Permit::Borrowed(_), Permit::Borrowed(_))
                                | (Permit::Owned(_), Permit::Owned(_))
                        );
                    if a == b || !same_kind {
                        return;
                    }
                    let sum = self.permits[a].num_permits() + self.permits[b].num_permits();
                    let other = self.permits.remove(b);
                    let a = if b < a { a - 1 } else { a };
                    match (&mut self.permits[a], other) {
                        (Permit::Borrowed(p), Permit::Borrowed(q)) => p.merge(q),
                        (Permit::Owned(p), Permit::Owned(q)) => p.merge(q),
                        _ => unreachable!("checked to be of one kind"),
                    }
                    assert_eq!(self.permits[a].num_permits(), sum);
                }
            }
            self.check(op);
        }

        fn check(&self, op: &Op) {
            assert_eq!(
                self.sem.available_permits(),
                self.available,
                "available_permits after {op:?}"
            );
            assert_eq!(self.sem.is_closed(), self.closed);
            for (i, slot) in self.slots.iter().enumerate() {
                let Some(slot) = slot else { continue };
                for w in 0..2 {
                    assert_eq!(
                        slot.polled.wakers[w].count(),
                        slot.wakes[w],
                        "wake-ups of slot {i}'s waker {w} ({:?}) after {op:?}",
                        slot.stage
                    );
                }
            }
            let held: usize = self.permits.iter().map(Permit::num_permits).sum::<usize>()
                + self.slots.iter().flatten().map(Slot::held).sum::<usize>();
            assert_eq!(
                self.available + held,
                self.total,
                "the model lost track of permits"
            );
        }

        /// A future that was woken and has not been queued again since: served or failed.
        fn woken(&self) -> Option<usize> {
            (0..SLOTS).find(|&i| {
                self.slots[i].as_ref().is_some_and(|s| {
                    s.polled.wakers[s.polled.last].count() > 0
                        && !matches!(s.stage, Stage::Queued { .. })
                })
            })
        }

        /// Returns every permit and polls every woken future until nothing changes, then
        /// drops the rest: every permit must be back.
        fn finish(&mut self) {
            for _ in 0..SETTLE_STEPS {
                while !self.permits.is_empty() {
                    self.step(&Op::DropPermit(0));
                }
                let Some(i) = self.woken() else {
                    for i in 0..SLOTS {
                        if self.slots[i].is_some() {
                            self.step(&Op::DropFuture(i));
                        }
                    }
                    assert_eq!(self.sem.available_permits(), self.total);
                    return;
                };
                let waker = self.slots[i].as_ref().unwrap().polled.last;
                self.step(&Op::Poll { slot: i, waker });
            }
            panic!("the futures did not settle in {SETTLE_STEPS} polls");
        }
    }

    fn run(initial: usize, ops: &[Op]) {
        let sem = Arc::new(Semaphore::new(initial));
        let mut model = Model {
            sem: &sem,
            available: initial,
            closed: false,
            queue: VecDeque::new(),
            slots: (0..SLOTS).map(|_| None).collect(),
            permits: Vec::new(),
            total: initial,
        };
        for op in ops {
            model.step(op);
        }
        model.finish();
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn the_semaphore_serves_in_the_documented_order(
            initial in 0..=3usize,
            ops in prop::collection::vec(op(), 1..60),
        ) {
            run(initial, &ops);
        }
    }
}

mod condvar {
    use super::*;
    use std::sync::Arc;

    use unisync::{Condvar, Mutex, OwnedMutexGuard};

    type Wait = dyn Future<Output = OwnedMutexGuard<u32>>;

    /// Where the model says a future is.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Stage {
        /// A lock of the mutex.
        Lock,
        /// A condvar wait not polled yet: it still holds the mutex.
        Holding,
        /// A condvar wait queued for a notification.
        Waiting,
        /// Notified, not polled since.
        Notified,
        /// Polled after its notification: locking the mutex again.
        Relocking,
    }

    struct Slot {
        polled: Polled<Wait>,
        stage: Stage,
        /// Whether it has been polled at all.
        started: bool,
        /// Wake-ups of the latest poll's waker before that poll.
        seen: usize,
        /// Notified by a `notify_all`, which a dropped wait does not pass on.
        by_all: bool,
    }

    impl Slot {
        fn woken(&self) -> bool {
            self.polled.wakers[self.polled.last].count() > self.seen
        }
    }

    #[derive(Debug, Clone)]
    pub enum Op {
        Lock,
        TryLock,
        Wait,
        Poll { slot: usize, waker: usize },
        DropFuture(usize),
        DropGuard,
        NotifyOne,
        NotifyMany(usize),
        NotifyAll,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Lock),
            1 => Just(Op::TryLock),
            5 => Just(Op::Wait),
            12 => (0..SLOTS, 0..2usize).prop_map(|(slot, waker)| Op::Poll { slot, waker }),
            3 => (0..SLOTS).prop_map(Op::DropFuture),
            3 => Just(Op::DropGuard),
            3 => Just(Op::NotifyOne),
            2 => (0..=3usize).prop_map(Op::NotifyMany),
            2 => Just(Op::NotifyAll),
        ]
    }

    struct Model {
        mutex: Arc<Mutex<u32>>,
        condvar: Arc<Condvar>,
        slots: Vec<Option<Slot>>,
        guard: Option<OwnedMutexGuard<u32>>,
        /// Slots of the waits queued on the condvar, first to wait first.
        queue: VecDeque<usize>,
    }

    impl Model {
        fn notify(&mut self, n: usize, by_all: bool) {
            for _ in 0..n {
                let Some(i) = self.queue.pop_front() else {
                    return;
                };
                let slot = self.slots[i].as_mut().unwrap();
                slot.stage = Stage::Notified;
                slot.by_all = by_all;
            }
        }

        fn add(&mut self, fut: Pin<Box<Wait>>, stage: Stage) {
            let i = self.slots.iter().position(Option::is_none).unwrap();
            self.slots[i] = Some(Slot {
                polled: Polled::new(fut),
                stage,
                started: false,
                seen: 0,
                by_all: false,
            });
        }

        fn mutex_held(&self) -> bool {
            self.guard.is_some()
                || self
                    .slots
                    .iter()
                    .flatten()
                    .any(|s| s.stage == Stage::Holding)
        }

        fn step(&mut self, op: &Op) {
            let full = self.slots.iter().all(Option::is_some);
            match *op {
                Op::Lock if !full => {
                    self.add(Box::pin(self.mutex.clone().lock_owned()), Stage::Lock);
                }
                Op::TryLock => {
                    let guard = self.mutex.try_lock_owned();
                    if self.mutex_held() {
                        assert!(guard.is_none(), "try_lock took a held mutex");
                    }
                    if guard.is_some() {
                        self.guard = guard;
                    }
                }
                Op::Wait if !full => {
                    if let Some(guard) = self.guard.take() {
                        let condvar = self.condvar.clone();
                        self.add(
                            Box::pin(async move { condvar.wait(guard).await }),
                            Stage::Holding,
                        );
                    }
                }
                Op::Lock | Op::Wait => {}
                Op::Poll { slot, waker } => {
                    let Some(i) = pick(&self.slots, slot) else {
                        return;
                    };
                    let slot = self.slots[i].as_mut().unwrap();
                    slot.seen = slot.polled.wakers[waker].count();
                    slot.started = true;
                    let stage = slot.stage;
                    match slot.polled.poll(waker) {
                        Poll::Ready(guard) => {
                            assert!(
                                matches!(stage, Stage::Lock | Stage::Notified | Stage::Relocking),
                                "slot {i} completed while {stage:?}"
                            );
                            assert!(self.guard.is_none(), "two guards of one mutex");
                            self.guard = Some(guard);
                            self.slots[i] = None;
                        }
                        Poll::Pending => match stage {
                            Stage::Holding => {
                                slot.stage = Stage::Waiting;
                                self.queue.push_back(i);
                            }
                            Stage::Notified => slot.stage = Stage::Relocking,
                            _ => {}
                        },
                    }
                }
                Op::DropFuture(i) => {
                    let Some(i) = pick(&self.slots, i) else {
                        return;
                    };
                    let slot = self.slots[i].take().unwrap();
                    match slot.stage {
                        Stage::Waiting => self.queue.retain(|&q| q != i),
                        // A `notify_one`'s notification goes to the next waiter; a
                        // `notify_all` already reached everyone there was.
                        Stage::Notified | Stage::Relocking if !slot.by_all => self.notify(1, false),
                        Stage::Notified | Stage::Relocking => {}
                        Stage::Lock | Stage::Holding => {}
                    }
                }
                Op::DropGuard => self.guard = None,
                Op::NotifyOne => {
                    self.condvar.notify_one();
                    self.notify(1, false);
                }
                Op::NotifyMany(n) => {
                    self.condvar.notify_many(n);
                    self.notify(n, false);
                }
                Op::NotifyAll => {
                    self.condvar.notify_all();
                    self.notify(usize::MAX, true);
                }
            }
            self.check(op);
        }

        fn check(&self, op: &Op) {
            for (i, slot) in self.slots.iter().enumerate() {
                let Some(slot) = slot else { continue };
                match slot.stage {
                    Stage::Waiting => {
                        assert!(!slot.woken(), "slot {i} woken though not notified ({op:?})");
                    }
                    Stage::Notified => {
                        assert!(slot.woken(), "slot {i} notified but not woken ({op:?})");
                    }
                    _ => {}
                }
            }
            let someone_to_run = self.slots.iter().flatten().any(|s| s.woken() || !s.started);
            let parked_locker = self.slots.iter().flatten().any(|s| {
                matches!(s.stage, Stage::Lock | Stage::Relocking) && s.started && !s.woken()
            });
            assert!(
                self.mutex_held() || !parked_locker || someone_to_run,
                "lost wake-up: the mutex is free, lockers are parked and none was woken ({op:?})"
            );
        }

        /// Polls every future that can make progress until nothing changes.
        fn settle(&mut self) {
            for _ in 0..SETTLE_STEPS {
                self.step(&Op::DropGuard);
                let runnable = (0..SLOTS).find(|&i| {
                    self.slots[i]
                        .as_ref()
                        .is_some_and(|s| !s.started || s.woken() || s.stage == Stage::Holding)
                });
                let Some(i) = runnable else { return };
                let waker = self.slots[i].as_ref().unwrap().polled.last;
                self.step(&Op::Poll { slot: i, waker });
            }
            panic!("the futures did not settle in {SETTLE_STEPS} polls");
        }

        fn finish(&mut self) {
            self.settle();
            for slot in self.slots.iter().flatten() {
                assert_eq!(
                    slot.stage,
                    Stage::Waiting,
                    "a future left parked on a free mutex"
                );
            }
            self.step(&Op::NotifyAll);
            self.settle();
            let left: Vec<_> = self.slots.iter().flatten().map(|s| s.stage).collect();
            assert!(left.is_empty(), "left after notify_all: {left:?}");
        }
    }

    fn run(ops: &[Op]) {
        let mut model = Model {
            mutex: Arc::new(Mutex::new(0)),
            condvar: Arc::new(Condvar::new()),
            slots: (0..SLOTS).map(|_| None).collect(),
            guard: None,
            queue: VecDeque::new(),
        };
        for op in ops {
            model.step(op);
        }
        model.finish();
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn the_condvar_notifies_in_the_documented_order(
            ops in prop::collection::vec(op(), 1..60),
        ) {
            run(&ops);
        }
    }
}

//! A random poll/drop explorer for every primitive, built on `proptest`.
//!
//! Each test drives one primitive from one thread through a random sequence of steps over a
//! small pool of [`SLOTS`] slots. A step starts a wait (every kind the primitive has, plus its
//! `try_` forms and its signalling calls), polls a future (only if it was woken since its last
//! poll, or on its first poll), polls a future that was *not* woken (which must be harmless),
//! drops a future (pending, or woken but not yet polled), or drops a guard or permit that an
//! earlier wait produced. Every future gets its own waker, which records whether it was woken.
//!
//! After every step the cheap invariants are checked: mutual exclusion for the locks (the
//! rwlock's writer excludes everything, there is at most one upgradable reader, readers inside
//! together see one value), conservation of permits for the semaphore, one leader and dense,
//! distinct indices per barrier generation, no lost `set` for the event, a model of the
//! shutdown signals' tree (which have fired, how many guards each tracks) and of the wait
//! group's count, and that a finished or dropped future kept no clone of its waker. There, a
//! wait that a trigger or a drain (the count reaching zero once fired) has ended must also
//! have been woken by the end of the step.
//!
//! At the end every guard and permit is released and every woken future is polled (releasing
//! what it yields) until nothing changes. Then no live future may be left parked while the
//! primitive could let it through, and every lock and permit must be back: a future that is
//! still pending there was never woken after the state made progress possible, which is a lost
//! wake-up, the bug class this file exists to find. Last, a final `set` / `notify_all` /
//! `abort` / trigger of the root must finish whatever legitimately still waits.
//!
//! A failing case shrinks to a minimal step sequence, which proptest prints with the panic
//! message naming the rule that broke. `PROPTEST_RNG_SEED` replays a run's random choices.
//!
//! # Number of cases
//!
//! The number of random sequences per test is, in order of precedence:
//!
//! 1. `UNISYNC_EXPLORER_CASES`, if set;
//! 2. `PROPTEST_CASES`, if set;
//! 3. [`DEFAULT_CASES`] ([`DRAIN_CASES`] for the shutdown signal and the wait group), sized so
//!    that the whole file takes under a minute in a debug build (`cargo test --test explorer`)
//!    on a 2-core machine: about 45 s on a 2.0 GHz Xeon (1,500 cases took 13 s there).
//!
//! Under Miri the default drops to [`MIRI_CASES`] (`UNISYNC_EXPLORER_CASES` still overrides it,
//! `PROPTEST_CASES` does not), of at most [`MIRI_MAX_STEPS`] steps. Failures are not persisted
//! to a regressions file; the minimal failing sequence is printed instead.
//!
//! For a long soak, run a release build with many cases:
//!
//! ```text
//! UNISYNC_EXPLORER_CASES=100000 cargo test --release --test explorer
//! ```

mod common;

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::fmt::Debug;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::Permit;
use futures::FutureExt as _;
use proptest::prelude::*;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::TestRunner;
use unisync::{
    AcquireError, Barrier, BarrierError, BarrierWaitResult, Condvar, DrainGuard, Event, Mutex,
    MutexGuard, OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard,
    OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
    Semaphore, ShutdownSignal, TryAcquireError, WaitGroup, WaitGroupToken,
};

/// How many futures and guards can be alive at once.
const SLOTS: usize = 6;
/// The longest step sequence: [`MIRI_MAX_STEPS`] under Miri.
const MAX_STEPS: usize = if cfg!(miri) { MIRI_MAX_STEPS } else { 64 };
/// The longest step sequence under Miri, where a sequence of up to 64 steps took about 15 s:
/// there the point is to run the queue's unsafe code through random orders, which a shorter
/// sequence still does, and the file ran longest of all the tests Miri runs.
const MIRI_MAX_STEPS: usize = 32;
/// Cases per test unless an environment variable says otherwise (see the file's docs).
const DEFAULT_CASES: u32 = 6_000;
/// Cases per test for the shutdown signal and the wait group unless an environment variable
/// says otherwise. Fewer, so that the file keeps to its time: a case costs about the same
/// whatever the primitive (most of it goes to proptest generating the steps), and the two
/// tests explore one shared core, the count-and-trigger under both, from two sides.
const DRAIN_CASES: u32 = DEFAULT_CASES / 2;
/// Cases per test under Miri unless `UNISYNC_EXPLORER_CASES` says otherwise: a sequence takes
/// seconds there (see [`MIRI_MAX_STEPS`]), and each run draws new ones.
const MIRI_CASES: u32 = 1;

fn env_cases(name: &str) -> Option<u32> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number of cases")),
    )
}

/// The configuration of a test whose default number of cases is `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = env_cases("UNISYNC_EXPLORER_CASES").unwrap_or_else(|| {
        if cfg!(miri) {
            MIRI_CASES
        } else {
            env_cases("PROPTEST_CASES").unwrap_or(default)
        }
    });
    let mut config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    // proptest's default is 4 shrink steps per case, too few with a handful of cases.
    if config.max_shrink_iters == u32::MAX {
        config.max_shrink_iters = 20_000;
    }
    config
}

// ---------------------------------------------------------------------------------------------
// The machinery shared by every primitive.
// ---------------------------------------------------------------------------------------------

/// The waker of one future: records that it was woken.
#[derive(Default)]
struct Tracker {
    woken: AtomicBool,
}

impl Wake for Tracker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, SeqCst);
    }
}

/// What an explorer remembers about one of its futures.
#[derive(Default)]
struct Meta {
    /// What the future waits for, for messages and for the explorer to tell kinds apart.
    kind: &'static str,
    /// Semaphore: the permits asked for.
    need: usize,
    /// When the future first returned `Pending` (its place in line), as a running number.
    seq: Option<u64>,
    /// Explorer-specific mark (event: a `set` happened since it started waiting; barrier: an
    /// `abort` or `reset` happened since it arrived, so it may fail).
    flag: bool,
    /// Condvar `wait_while`: how many times its condition was called, and the last answer.
    probe: Option<Rc<Cell<(usize, bool)>>>,
    /// Condvar `wait_while`: the number of condition calls seen so far.
    seen: usize,
    /// Shutdown signal: the signal waited on, as an index into the explorer's tree.
    node: usize,
    /// Drain waits (shutdown signal, wait group): how many times the count had drained when
    /// the wait first returned `Pending`.
    drains: Option<usize>,
    /// Condvar: the number of the wait's latest registration on the condvar.
    registration: Option<u64>,
}

impl Meta {
    fn new(kind: &'static str) -> Self {
        Meta {
            kind,
            ..Meta::default()
        }
    }
}

type BoxFuture<'a, H> = Pin<Box<dyn Future<Output = H> + 'a>>;

/// A live future with its waker.
struct Task<'a, H> {
    fut: BoxFuture<'a, H>,
    tracker: Arc<Tracker>,
    polled: bool,
    meta: Meta,
}

impl<'a, H> Task<'a, H> {
    /// Whether the future is due for a poll: never polled, or woken since its last poll.
    fn due(&self) -> bool {
        !self.polled || self.tracker.woken.load(SeqCst)
    }

    fn poll(&mut self) -> Poll<H> {
        self.tracker.woken.store(false, SeqCst);
        self.polled = true;
        let waker = Waker::from(self.tracker.clone());
        self.fut.as_mut().poll(&mut Context::from_waker(&waker))
    }

    /// Drops the future, checking that it let go of every clone of its waker.
    fn retire(self) -> Meta {
        let Task {
            fut, tracker, meta, ..
        } = self;
        drop(fut);
        assert_eq!(
            Arc::strong_count(&tracker),
            1,
            "a finished or dropped `{}` future left a clone of its waker behind",
            meta.kind
        );
        meta
    }
}

/// One slot of the pool.
enum Slot<'a, H> {
    Empty,
    Waiting(Task<'a, H>),
    Held(H),
}

/// The futures and guards alive in one run.
struct Pool<'a, H> {
    slots: Vec<Slot<'a, H>>,
    next_seq: u64,
}

impl<'a, H> Pool<'a, H> {
    fn new() -> Self {
        Pool {
            slots: (0..SLOTS).map(|_| Slot::Empty).collect(),
            next_seq: 0,
        }
    }

    /// The first empty slot.
    fn free(&self) -> Option<usize> {
        self.slots.iter().position(|s| matches!(s, Slot::Empty))
    }

    /// The first slot at or after slot `i` (wrapping around) that satisfies `pred`.
    fn pick(&self, i: usize, pred: impl Fn(&Slot<'a, H>) -> bool) -> Option<usize> {
        (i..i + SLOTS)
            .map(|j| j % SLOTS)
            .find(|&j| pred(&self.slots[j]))
    }

    /// The first guard or permit at or after slot `i` (wrapping around).
    fn pick_held(&self, i: usize) -> Option<usize> {
        self.pick(i, |s| matches!(s, Slot::Held(_)))
    }

    fn take(&mut self, i: usize) -> Slot<'a, H> {
        mem::replace(&mut self.slots[i], Slot::Empty)
    }

    fn put(&mut self, i: usize, slot: Slot<'a, H>) {
        debug_assert!(matches!(self.slots[i], Slot::Empty));
        self.slots[i] = slot;
    }

    fn spawn(&mut self, i: usize, fut: impl Future<Output = H> + 'a, meta: Meta) {
        self.put(
            i,
            Slot::Waiting(Task {
                fut: Box::pin(fut),
                tracker: Arc::default(),
                polled: false,
                meta,
            }),
        );
    }

    fn held(&self) -> impl Iterator<Item = &H> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Held(h) => Some(h),
            _ => None,
        })
    }

    fn waiting(&self) -> impl Iterator<Item = &Task<'a, H>> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Waiting(t) => Some(t),
            _ => None,
        })
    }

    fn kinds_waiting(&self) -> Vec<&'static str> {
        self.waiting().map(|t| t.meta.kind).collect()
    }

    /// One line: what each slot holds.
    fn render(&self, describe: impl Fn(&H) -> String) -> String {
        let slots: Vec<String> = (self.slots.iter().enumerate())
            .map(|(i, s)| match s {
                Slot::Empty => format!("{i}: -"),
                Slot::Waiting(t) => {
                    let state = if !t.polled {
                        "new"
                    } else if t.tracker.woken.load(SeqCst) {
                        "woken"
                    } else {
                        "pending"
                    };
                    format!("{i}: {} ({state})", t.meta.kind)
                }
                Slot::Held(h) => format!("{i}: {}", describe(h)),
            })
            .collect();
        slots.join(" | ")
    }
}

/// One step of a sequence. `Do` is primitive-specific; the others name a slot `i`, and act on
/// the first slot at or after `i` (wrapping around) that has something to act on, so that
/// (nearly) every step does something, and deleting an unrelated step rarely changes what a
/// later one hits. A new future or guard goes into the first empty slot; actions on a guard
/// (an upgrade, a condvar wait, ...) pick their guard the same way.
#[derive(Clone)]
enum Step<A> {
    /// Start a wait, call a `try_` form or a signalling method, or transform a guard.
    Do(A),
    /// Poll a future that is due (never polled, or woken since its last poll).
    Poll(usize),
    /// Poll a live future, woken or not: a spurious poll must be harmless.
    Nudge(usize),
    /// Empty a slot: drop a future (pending, or woken and not yet polled), or release a
    /// guard/permit.
    Drop(usize),
}

/// One step a line, even in the pretty form proptest prints a failing sequence in.
impl<A: Debug> Debug for Step<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Do(action) => write!(f, "Do({action:?})"),
            Step::Poll(i) => write!(f, "Poll({i})"),
            Step::Nudge(i) => write!(f, "Nudge({i})"),
            Step::Drop(i) => write!(f, "Drop({i})"),
        }
    }
}

fn steps<A: Debug + Clone + 'static>(
    action: impl Strategy<Value = A> + 'static,
) -> impl Strategy<Value = Vec<Step<A>>> {
    let step = prop_oneof![
        4 => action.prop_map(Step::Do),
        4 => (0..SLOTS).prop_map(Step::Poll),
        1 => (0..SLOTS).prop_map(Step::Nudge),
        2 => (0..SLOTS).prop_map(Step::Drop),
    ];
    Sequence {
        element: step,
        len: 1..MAX_STEPS,
    }
}

/// Like `prop::collection::vec`, but shrinks harder. proptest's own vec tries deleting each
/// element once; here deleting one step often changes what a later step hits (or which slot
/// a new future lands in), so it takes deleting several at once, and another pass after
/// that. This tree deletes runs of 8, 4, 2 and then 1 consecutive steps, then simplifies the
/// steps one by one, and starts over for as long as any of that keeps the failure.
#[derive(Debug)]
struct Sequence<S> {
    element: S,
    len: std::ops::Range<usize>,
}

impl<S: Strategy> Strategy for Sequence<S> {
    type Tree = SequenceTree<S::Tree>;
    type Value = Vec<S::Value>;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let n = self.len.clone().new_tree(runner)?.current();
        let elements = (0..n)
            .map(|_| self.element.new_tree(runner))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SequenceTree {
            included: vec![true; n],
            elements,
            min: self.len.start,
            phase: Phase::Delete {
                run: MAX_RUN,
                at: 0,
            },
            last: None,
            progress: false,
        })
    }
}

/// The longest run of steps a shrink tries to delete at once.
const MAX_RUN: usize = 8;

#[derive(Clone, Copy)]
enum Phase {
    /// Deleting `run` consecutive kept elements, starting at the `at`-th one kept.
    Delete { run: usize, at: usize },
    /// Simplifying the element at this index.
    Simplify(usize),
}

/// The simplification being tried: it stays if `simplify` is called next, and is undone if
/// `complicate` is.
enum Tried {
    Deleted(Vec<usize>),
    Simplified(usize),
}

struct SequenceTree<T> {
    elements: Vec<T>,
    included: Vec<bool>,
    min: usize,
    phase: Phase,
    last: Option<Tried>,
    /// Whether a simplification stayed in this pass.
    progress: bool,
}

impl<T: ValueTree> ValueTree for SequenceTree<T> {
    type Value = Vec<T::Value>;

    fn current(&self) -> Vec<T::Value> {
        let kept = self.elements.iter().zip(&self.included).filter(|(_, &k)| k);
        kept.map(|(e, _)| e.current()).collect()
    }

    fn simplify(&mut self) -> bool {
        self.progress |= self.last.take().is_some();
        loop {
            match self.phase {
                Phase::Delete { run: 0, .. } => self.phase = Phase::Simplify(0),
                Phase::Delete { run, at } => {
                    let kept: Vec<usize> = (0..self.elements.len())
                        .filter(|&i| self.included[i])
                        .collect();
                    if at + run > kept.len() || kept.len() - run < self.min {
                        self.phase = Phase::Delete {
                            run: run / 2,
                            at: 0,
                        };
                        continue;
                    }
                    let chunk = kept[at..at + run].to_vec();
                    for &i in &chunk {
                        self.included[i] = false;
                    }
                    self.last = Some(Tried::Deleted(chunk));
                    return true;
                }
                Phase::Simplify(i) if i >= self.elements.len() => {
                    if !mem::take(&mut self.progress) {
                        return false;
                    }
                    self.phase = Phase::Delete {
                        run: MAX_RUN,
                        at: 0,
                    };
                }
                Phase::Simplify(i) => {
                    if self.included[i] && self.elements[i].simplify() {
                        self.last = Some(Tried::Simplified(i));
                        return true;
                    }
                    self.phase = Phase::Simplify(i + 1);
                }
            }
        }
    }

    fn complicate(&mut self) -> bool {
        match self.last.take() {
            None => false,
            Some(Tried::Deleted(chunk)) => {
                for i in chunk {
                    self.included[i] = true;
                }
                if let Phase::Delete { at, .. } = &mut self.phase {
                    *at += 1;
                }
                true
            }
            Some(Tried::Simplified(i)) => {
                if self.elements[i].complicate() {
                    self.last = Some(Tried::Simplified(i));
                }
                // Even when the element cannot move back any further (it is at its last
                // failing value again), say it moved: proptest stops shrinking altogether
                // at a `false` here, and the other elements and passes are still to come.
                true
            }
        }
    }
}

/// One primitive under exploration. `'a` is the lifetime of the primitive.
trait Explorer<'a>: Sized {
    /// What a future yields and a slot holds.
    type Held: 'a;
    type Action: Debug;

    fn act(&mut self, pool: &mut Pool<'a, Self::Held>, action: &Self::Action);

    /// A poll returned `Pending`; `first` on the future's first poll.
    fn pending(&mut self, _meta: &mut Meta, _first: bool) {}

    /// A future completed with `out`; returns what its slot keeps.
    fn ready(&mut self, out: Self::Held, _meta: &Meta) -> Option<Self::Held> {
        Some(out)
    }

    /// The slot is about to be emptied.
    fn dropping(&mut self, _slot: &Slot<'a, Self::Held>) {}

    /// Names what a slot holds, for traces.
    fn describe(&self, _held: &Self::Held) -> String {
        "held".into()
    }

    /// The invariants that must hold after every step.
    fn check(&self, pool: &Pool<'a, Self::Held>);

    /// The checks at the end of a sequence.
    fn finish(&mut self, pool: &mut Pool<'a, Self::Held>);
}

/// Polls the future in slot `i` if it is due (or always, with `force`); returns whether it
/// polled.
fn poll_slot<'a, E: Explorer<'a>>(
    e: &mut E,
    pool: &mut Pool<'a, E::Held>,
    i: usize,
    force: bool,
) -> bool {
    let Slot::Waiting(task) = &mut pool.slots[i] else {
        return false;
    };
    if !force && !task.due() {
        return false;
    }
    let first = !task.polled;
    match task.poll() {
        Poll::Pending => {
            if first {
                task.meta.seq = Some(pool.next_seq);
                pool.next_seq += 1;
            }
            e.pending(&mut task.meta, first);
        }
        Poll::Ready(out) => {
            let Slot::Waiting(task) = pool.take(i) else {
                unreachable!()
            };
            let meta = task.retire();
            if let Some(held) = e.ready(out, &meta) {
                pool.put(i, Slot::Held(held));
            }
        }
    }
    true
}

fn drop_slot<'a, E: Explorer<'a>>(e: &mut E, pool: &mut Pool<'a, E::Held>, i: usize) {
    e.dropping(&pool.slots[i]);
    match pool.take(i) {
        Slot::Waiting(task) => {
            task.retire();
        }
        Slot::Held(held) => drop(held),
        Slot::Empty => {}
    }
}

/// Drops every guard and permit.
fn release_all<'a, E: Explorer<'a>>(e: &mut E, pool: &mut Pool<'a, E::Held>) {
    for i in 0..SLOTS {
        if matches!(pool.slots[i], Slot::Held(_)) {
            drop_slot(e, pool, i);
        }
    }
}

/// Drops every future still waiting.
fn drop_waiting<'a, E: Explorer<'a>>(e: &mut E, pool: &mut Pool<'a, E::Held>) {
    for i in 0..SLOTS {
        if matches!(pool.slots[i], Slot::Waiting(_)) {
            drop_slot(e, pool, i);
        }
    }
}

/// Polls every due future and releases whatever it yields, until nothing changes.
fn settle<'a, E: Explorer<'a>>(e: &mut E, pool: &mut Pool<'a, E::Held>) {
    for _ in 0..1000 {
        let mut progress = false;
        for i in 0..SLOTS {
            progress |= poll_slot(e, pool, i, false);
            if matches!(pool.slots[i], Slot::Held(_)) {
                drop_slot(e, pool, i);
                progress = true;
            }
        }
        if !progress {
            return;
        }
    }
    panic!("no fixed point: the futures keep waking each other");
}

/// Where a traced run logs its steps.
type Trace = RefCell<Vec<String>>;

/// Runs one sequence; with `trace`, logs every step and the slots after it.
fn explore<'a, E: Explorer<'a>>(mut e: E, steps: &[Step<E::Action>], trace: Option<&Trace>) {
    let mut pool = Pool::new();
    // The step goes in before it runs, the slots after, so a step that panics still shows.
    let log = |what: &dyn Fn() -> String| trace.map(|t| t.borrow_mut().push(what()));
    let log_slots = |e: &E, pool: &Pool<'a, E::Held>| {
        trace.map(|t| {
            let slots = pool.render(|h| e.describe(h));
            t.borrow_mut().last_mut().unwrap().push_str(&slots);
        })
    };
    for (n, step) in steps.iter().enumerate() {
        log(&|| format!("{n:>3}. {:<36} ", format!("{step:?}")));
        match step {
            Step::Do(action) => e.act(&mut pool, action),
            Step::Poll(i) => {
                let due = |s: &Slot<'a, E::Held>| matches!(s, Slot::Waiting(t) if t.due());
                if let Some(j) = pool.pick(*i, due) {
                    poll_slot(&mut e, &mut pool, j, false);
                }
            }
            Step::Nudge(i) => {
                let waiting = |s: &Slot<'a, E::Held>| matches!(s, Slot::Waiting(_));
                if let Some(j) = pool.pick(*i, waiting) {
                    poll_slot(&mut e, &mut pool, j, true);
                }
            }
            Step::Drop(i) => {
                if let Some(j) = pool.pick(*i, |s| !matches!(s, Slot::Empty)) {
                    drop_slot(&mut e, &mut pool, j);
                }
            }
        }
        log_slots(&e, &pool);
        e.check(&pool);
    }
    log(&|| format!("{:<41} ", "end: release all, poll the woken"));
    release_all(&mut e, &mut pool);
    settle(&mut e, &mut pool);
    log_slots(&e, &pool);
    e.finish(&mut pool);
}

thread_local! {
    /// Set while this thread's panics are caught and reported some other way.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The message of a panic kept quiet, in case a second one aborts the process.
    static KEPT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps this thread's panics from printing until it is dropped (by unwinding too).
struct Quiet;

impl Quiet {
    fn new() -> Self {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let print = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(Cell::get) {
                    return print(info);
                }
                // A panic while another unwinds aborts the process: then print both.
                if let Some(first) = KEPT.with(|k| k.borrow_mut().replace(info.to_string())) {
                    eprintln!("{first}");
                    print(info);
                }
            }));
        });
        QUIET.with(|q| q.set(true));
        Quiet
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
        KEPT.with(|k| k.borrow_mut().take());
    }
}

/// Runs `f`, catching a panic without printing it.
fn quietly(f: impl FnOnce()) -> std::thread::Result<()> {
    let _quiet = Quiet::new();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
}

/// Runs one case. If it fails, runs it again with a trace (the explorer is deterministic)
/// and fails with the trace added to the message, so that the minimal case proptest prints
/// shows what each step did. The panics of the cases tried while shrinking stay quiet: the
/// last one is in proptest's report.
fn run_case(case: impl Fn(Option<&Trace>)) {
    if quietly(|| case(None)).is_ok() {
        return;
    }
    let trace = Trace::default();
    let Err(panic) = quietly(|| case(Some(&trace))) else {
        panic!("a failing case passed when run again: the explorer is not deterministic");
    };
    let message = (panic.downcast_ref::<String>().map(String::as_str))
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)");
    let _quiet = Quiet::new();
    panic!(
        "{message}\n\nThe steps as they ran, each with the slots after it (a future is `new` \
         before its first poll, then `pending` or `woken`):\n{}\n",
        trace.into_inner().join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

/// A mutex guard of either kind.
enum MutexHeld<'a> {
    Borrowed(MutexGuard<'a, u32>),
    Owned(OwnedMutexGuard<u32>),
}

impl MutexHeld<'_> {
    fn describe(&self) -> String {
        match self {
            MutexHeld::Borrowed(g) => format!("guard({})", **g),
            MutexHeld::Owned(g) => format!("owned guard({})", **g),
        }
    }

    fn value(&mut self) -> &mut u32 {
        match self {
            MutexHeld::Borrowed(g) => g,
            MutexHeld::Owned(g) => g,
        }
    }
}

#[derive(Debug, Clone)]
enum MutexAction {
    Lock { owned: bool },
    TryLock { owned: bool },
}

fn mutex_action() -> impl Strategy<Value = MutexAction> {
    prop_oneof![
        3 => any::<bool>().prop_map(|owned| MutexAction::Lock { owned }),
        1 => any::<bool>().prop_map(|owned| MutexAction::TryLock { owned }),
    ]
}

/// Starts a `lock` or `lock_owned` future in slot `i`.
fn spawn_lock<'a>(
    pool: &mut Pool<'a, MutexHeld<'a>>,
    mutex: &'a Arc<Mutex<u32>>,
    i: usize,
    owned: bool,
) {
    if owned {
        let fut = mutex.lock_owned().map(MutexHeld::Owned);
        pool.spawn(i, fut, Meta::new("lock_owned"));
    } else {
        let fut = mutex.lock().map(MutexHeld::Borrowed);
        pool.spawn(i, fut, Meta::new("lock"));
    }
}

fn try_lock<'a>(mutex: &'a Arc<Mutex<u32>>, owned: bool) -> Option<MutexHeld<'a>> {
    if owned {
        mutex.try_lock_owned().map(MutexHeld::Owned)
    } else {
        mutex.try_lock().map(MutexHeld::Borrowed)
    }
}

struct MutexExplorer<'a> {
    mutex: &'a Arc<Mutex<u32>>,
}

impl<'a> Explorer<'a> for MutexExplorer<'a> {
    type Held = MutexHeld<'a>;
    type Action = MutexAction;

    fn describe(&self, held: &Self::Held) -> String {
        held.describe()
    }

    fn act(&mut self, pool: &mut Pool<'a, Self::Held>, action: &MutexAction) {
        let Some(i) = pool.free() else { return };
        match *action {
            MutexAction::Lock { owned } => spawn_lock(pool, self.mutex, i, owned),
            MutexAction::TryLock { owned } => {
                if let Some(guard) = try_lock(self.mutex, owned) {
                    pool.put(i, Slot::Held(guard));
                }
            }
        }
    }

    fn check(&self, pool: &Pool<'a, Self::Held>) {
        let guards = pool.held().count();
        assert!(guards <= 1, "{guards} mutex guards at once");
        if guards == 1 {
            assert!(
                self.mutex.is_locked(),
                "a guard exists but the mutex is unlocked"
            );
        }
        // One waiter at a time is woken (to retry, or handed the lock): a second one woken
        // before the first has run could take the lock ahead of it.
        let woken = (pool.waiting())
            .filter(|t| t.polled && t.tracker.woken.load(SeqCst))
            .count();
        assert!(woken <= 1, "{woken} lock futures woken and not yet polled");
    }

    fn finish(&mut self, pool: &mut Pool<'a, Self::Held>) {
        let left = pool.kinds_waiting();
        assert!(
            left.is_empty(),
            "lock futures {left:?} left parked with every guard released (lost wake-up)"
        );
        assert!(!self.mutex.is_locked(), "the mutex is locked with no guard");
        assert!(
            self.mutex.try_lock().is_some(),
            "try_lock fails on a free mutex"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum SemAction {
    Acquire { n: usize, owned: bool },
    TryAcquire { n: usize, owned: bool },
    AddPermits(usize),
    Forget(usize),
    Merge(usize, usize),
    Close,
}

fn sem_action() -> impl Strategy<Value = SemAction> {
    prop_oneof![
        12 => (0..=3usize, any::<bool>()).prop_map(|(n, owned)| SemAction::Acquire { n, owned }),
        3 => (0..=3usize, any::<bool>()).prop_map(|(n, owned)| SemAction::TryAcquire { n, owned }),
        4 => (1..=2usize).prop_map(SemAction::AddPermits),
        1 => (0..SLOTS).prop_map(SemAction::Forget),
        1 => (0..SLOTS, 0..SLOTS).prop_map(|(a, b)| SemAction::Merge(a, b)),
        1 => Just(SemAction::Close),
    ]
}

struct SemExplorer<'a> {
    sem: &'a Arc<Semaphore>,
    /// Permits the semaphore should own in all: initial + added - forgotten.
    total: usize,
    closed: bool,
}

type SemHeld<'a> = Result<Permit<'a>, AcquireError>;

impl<'a> SemExplorer<'a> {
    fn held_permits(&self, pool: &Pool<'a, SemHeld<'a>>) -> usize {
        pool.held()
            .map(|h| h.as_ref().map_or(0, Permit::num_permits))
            .sum()
    }
}

impl<'a> Explorer<'a> for SemExplorer<'a> {
    type Held = SemHeld<'a>;
    type Action = SemAction;

    fn describe(&self, held: &Self::Held) -> String {
        match held {
            Ok(Permit::Borrowed(p)) => format!("permit({})", p.num_permits()),
            Ok(Permit::Owned(p)) => format!("owned permit({})", p.num_permits()),
            Err(_) => "error".into(),
        }
    }

    fn act(&mut self, pool: &mut Pool<'a, Self::Held>, action: &SemAction) {
        match *action {
            SemAction::Acquire { n, owned } => {
                let Some(i) = pool.free() else { return };
                if owned {
                    let fut = self.sem.acquire_many_owned(n).map(|r| r.map(Permit::Owned));
                    pool.spawn(
                        i,
                        fut,
                        Meta {
                            need: n,
                            ..Meta::new("acquire_many_owned")
                        },
                    );
                } else {
                    let fut = self.sem.acquire_many(n).map(|r| r.map(Permit::Borrowed));
                    pool.spawn(
                        i,
                        fut,
                        Meta {
                            need: n,
                            ..Meta::new("acquire_many")
                        },
                    );
                }
            }
            SemAction::TryAcquire { n, owned } => {
                let Some(i) = pool.free() else { return };
                let result = if owned {
                    self.sem.try_acquire_many_owned(n).map(Permit::Owned)
                } else {
                    self.sem.try_acquire_many(n).map(Permit::Borrowed)
                };
                match result {
                    Ok(permit) => {
                        assert!(
                            !self.closed,
                            "try_acquire_many({n}) succeeded on a closed semaphore"
                        );
                        assert_eq!(permit.num_permits(), n);
                        pool.put(i, Slot::Held(Ok(permit)));
                    }
                    Err(TryAcquireError::Closed) => {
                        assert!(
                            self.closed,
                            "try_acquire_many({n}): Closed on an open semaphore"
                        );
                    }
                    Err(TryAcquireError::NoPermits) => {
                        assert!(!self.closed, "try_acquire_many({n}): NoPermits, not Closed");
                        assert_ne!(n, 0, "try_acquire_many(0) failed on an open semaphore");
                    }
                }
            }
            SemAction::AddPermits(n) => {
                self.sem.add_permits(n);
                self.total += n;
            }
            SemAction::Forget(i) => {
                let Some(i) = pool.pick_held(i) else { return };
                match pool.take(i) {
                    Slot::Held(Ok(permit)) => {
                        self.total -= permit.num_permits();
                        permit.forget();
                    }
                    other => pool.put(i, other),
                }
            }
            SemAction::Merge(a, b) => {
                let (Some(a), Some(b)) = (pool.pick_held(a), pool.pick_held(b)) else {
                    return;
                };
                if a == b {
                    return;
                }
                match (pool.take(a), pool.take(b)) {
                    (
                        Slot::Held(Ok(Permit::Borrowed(mut p))),
                        Slot::Held(Ok(Permit::Borrowed(q))),
                    ) => {
                        p.merge(q);
                        pool.put(a, Slot::Held(Ok(Permit::Borrowed(p))));
                    }
                    (Slot::Held(Ok(Permit::Owned(mut p))), Slot::Held(Ok(Permit::Owned(q)))) => {
                        p.merge(q);
                        pool.put(a, Slot::Held(Ok(Permit::Owned(p))));
                    }
                    (x, y) => {
                        pool.put(a, x);
                        pool.put(b, y);
                    }
                }
            }
            SemAction::Close => {
                self.sem.close();
                self.closed = true;
            }
        }
    }

    fn pending(&mut self, meta: &mut Meta, _first: bool) {
        assert!(
            !self.closed,
            "`{}` is pending on a closed semaphore",
            meta.kind
        );
        assert_ne!(
            meta.need, 0,
            "`{}(0)` is pending on an open semaphore",
            meta.kind
        );
    }

    fn ready(&mut self, out: Self::Held, meta: &Meta) -> Option<Self::Held> {
        match out {
            Ok(permit) => {
                assert_eq!(
                    permit.num_permits(),
                    meta.need,
                    "`{}` got the wrong count",
                    meta.kind
                );
                // Even one served before `close`: it was still pending for its caller.
                assert!(
                    !self.closed,
                    "`{}` succeeded when polled after close",
                    meta.kind
                );
                Some(Ok(permit))
            }
            Err(_) => {
                assert!(self.closed, "`{}` failed on an open semaphore", meta.kind);
                None
            }
        }
    }

    fn check(&self, pool: &Pool<'a, Self::Held>) {
        let available = self.sem.available_permits();
        let held = self.held_permits(pool);
        assert!(
            available + held <= self.total,
            "permits out of thin air: {available} available + {held} held > {} in all",
            self.total
        );
    }

    fn finish(&mut self, pool: &mut Pool<'a, Self::Held>) {
        if self.closed {
            let left = pool.kinds_waiting();
            assert!(
                left.is_empty(),
                "acquires {left:?} left parked on a closed semaphore"
            );
        } else {
            // First in, first out: only a head asking for more than there will ever be may
            // hold up the line.
            let head = pool
                .waiting()
                .min_by_key(|t| t.meta.seq.expect("settled futures were all polled"));
            if let Some(head) = head {
                assert!(
                    head.meta.need > self.total,
                    "`{}({})` left parked at the head of the line with {} permits in all \
                     (lost wake-up); parked: {:?}",
                    head.meta.kind,
                    head.meta.need,
                    self.total,
                    pool.waiting()
                        .map(|t| (t.meta.kind, t.meta.need))
                        .collect::<Vec<_>>()
                );
            }
        }
        drop_waiting(self, pool);
        assert_eq!(
            self.sem.available_permits(),
            self.total,
            "with everything released, not every permit is back"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RwLock
// ---------------------------------------------------------------------------------------------

enum RwHeld<'a> {
    Read(RwLockReadGuard<'a, u32>),
    Write(RwLockWriteGuard<'a, u32>),
    Upgradable(RwLockUpgradableReadGuard<'a, u32>),
    OwnedRead(OwnedRwLockReadGuard<u32>),
    OwnedWrite(OwnedRwLockWriteGuard<u32>),
    OwnedUpgradable(OwnedRwLockUpgradableReadGuard<u32>),
}

#[derive(Debug, Clone)]
enum RwAction {
    Read { owned: bool },
    Write { owned: bool },
    UpgradableRead { owned: bool },
    TryRead,
    TryWrite,
    TryUpgradableRead,
    Upgrade(usize),
    TryUpgrade(usize),
    Downgrade(usize),
    DowngradeToUpgradable(usize),
}

fn rw_action() -> impl Strategy<Value = RwAction> {
    prop_oneof![
        4 => any::<bool>().prop_map(|owned| RwAction::Read { owned }),
        3 => any::<bool>().prop_map(|owned| RwAction::Write { owned }),
        3 => any::<bool>().prop_map(|owned| RwAction::UpgradableRead { owned }),
        1 => Just(RwAction::TryRead),
        1 => Just(RwAction::TryWrite),
        1 => Just(RwAction::TryUpgradableRead),
        3 => (0..SLOTS).prop_map(RwAction::Upgrade),
        1 => (0..SLOTS).prop_map(RwAction::TryUpgrade),
        1 => (0..SLOTS).prop_map(RwAction::Downgrade),
        1 => (0..SLOTS).prop_map(RwAction::DowngradeToUpgradable),
    ]
}

fn upgradable(slot: &Slot<'_, RwHeld<'_>>) -> bool {
    matches!(
        slot,
        Slot::Held(RwHeld::Upgradable(_) | RwHeld::OwnedUpgradable(_))
    )
}

fn writer(slot: &Slot<'_, RwHeld<'_>>) -> bool {
    matches!(slot, Slot::Held(RwHeld::Write(_) | RwHeld::OwnedWrite(_)))
}

const UPGRADE: &str = "upgrade";
const UPGRADE_OWNED: &str = "upgrade (owned)";

struct RwExplorer<'a> {
    lock: &'a Arc<RwLock<u32>>,
    /// The lock's reader limit (`with_max_readers`), or `None`.
    max: Option<usize>,
    /// A downgrade of the upgradable lock made a read lock, which may pass the limit: it is no
    /// longer checked. (A write's downgrade cannot pass it: no reader is inside a write.)
    downgraded: bool,
}

impl<'a> Explorer<'a> for RwExplorer<'a> {
    type Held = RwHeld<'a>;
    type Action = RwAction;

    fn describe(&self, held: &Self::Held) -> String {
        match held {
            RwHeld::Read(_) => "read",
            RwHeld::Write(_) => "write",
            RwHeld::Upgradable(_) => "upgradable",
            RwHeld::OwnedRead(_) => "owned read",
            RwHeld::OwnedWrite(_) => "owned write",
            RwHeld::OwnedUpgradable(_) => "owned upgradable",
        }
        .into()
    }

    fn act(&mut self, pool: &mut Pool<'a, Self::Held>, action: &RwAction) {
        let lock = self.lock;
        let free = pool.free();
        match *action {
            RwAction::Read { owned } => {
                let Some(i) = free else { return };
                if owned {
                    pool.spawn(
                        i,
                        lock.read_owned().map(RwHeld::OwnedRead),
                        Meta::new("read_owned"),
                    );
                } else {
                    pool.spawn(i, lock.read().map(RwHeld::Read), Meta::new("read"));
                }
            }
            RwAction::Write { owned } => {
                let Some(i) = free else { return };
                if owned {
                    let fut = lock.write_owned().map(RwHeld::OwnedWrite);
                    pool.spawn(i, fut, Meta::new("write_owned"));
                } else {
                    pool.spawn(i, lock.write().map(RwHeld::Write), Meta::new("write"));
                }
            }
            RwAction::UpgradableRead { owned } => {
                let Some(i) = free else { return };
                if owned {
                    let fut = lock.upgradable_read_owned().map(RwHeld::OwnedUpgradable);
                    pool.spawn(i, fut, Meta::new("upgradable_read_owned"));
                } else {
                    let fut = lock.upgradable_read().map(RwHeld::Upgradable);
                    pool.spawn(i, fut, Meta::new("upgradable_read"));
                }
            }
            RwAction::TryRead => {
                let Some(i) = free else { return };
                if let Some(g) = lock.try_read() {
                    pool.put(i, Slot::Held(RwHeld::Read(g)));
                }
            }
            RwAction::TryWrite => {
                let Some(i) = free else { return };
                if let Some(g) = lock.try_write_owned() {
                    pool.put(i, Slot::Held(RwHeld::OwnedWrite(g)));
                }
            }
            RwAction::TryUpgradableRead => {
                let Some(i) = free else { return };
                if let Some(g) = lock.try_upgradable_read() {
                    pool.put(i, Slot::Held(RwHeld::Upgradable(g)));
                }
            }
            RwAction::Upgrade(i) => {
                let Some(i) = pool.pick(i, upgradable) else {
                    return;
                };
                match pool.take(i) {
                    Slot::Held(RwHeld::Upgradable(g)) => {
                        let fut = RwLockUpgradableReadGuard::upgrade(g).map(RwHeld::Write);
                        pool.spawn(i, fut, Meta::new(UPGRADE));
                    }
                    Slot::Held(RwHeld::OwnedUpgradable(g)) => {
                        let fut =
                            OwnedRwLockUpgradableReadGuard::upgrade(g).map(RwHeld::OwnedWrite);
                        pool.spawn(i, fut, Meta::new(UPGRADE_OWNED));
                    }
                    other => pool.put(i, other),
                }
            }
            RwAction::TryUpgrade(i) => {
                let Some(i) = pool.pick(i, upgradable) else {
                    return;
                };
                let slot = match pool.take(i) {
                    Slot::Held(RwHeld::Upgradable(g)) => {
                        match RwLockUpgradableReadGuard::try_upgrade(g) {
                            Ok(w) => RwHeld::Write(w),
                            Err(g) => RwHeld::Upgradable(g),
                        }
                    }
                    Slot::Held(RwHeld::OwnedUpgradable(g)) => {
                        match OwnedRwLockUpgradableReadGuard::try_upgrade(g) {
                            Ok(w) => RwHeld::OwnedWrite(w),
                            Err(g) => RwHeld::OwnedUpgradable(g),
                        }
                    }
                    other => return pool.put(i, other),
                };
                pool.put(i, Slot::Held(slot));
            }
            RwAction::Downgrade(i) => {
                let Some(i) = pool.pick(i, |s| upgradable(s) || writer(s)) else {
                    return;
                };
                let slot = match pool.take(i) {
                    Slot::Held(RwHeld::Write(g)) => RwHeld::Read(RwLockWriteGuard::downgrade(g)),
                    Slot::Held(RwHeld::Upgradable(g)) => {
                        self.downgraded = true;
                        RwHeld::Read(RwLockUpgradableReadGuard::downgrade(g))
                    }
                    Slot::Held(RwHeld::OwnedWrite(g)) => {
                        RwHeld::OwnedRead(OwnedRwLockWriteGuard::downgrade(g))
                    }
                    Slot::Held(RwHeld::OwnedUpgradable(g)) => {
                        self.downgraded = true;
                        RwHeld::OwnedRead(OwnedRwLockUpgradableReadGuard::downgrade(g))
                    }
                    other => return pool.put(i, other),
                };
                pool.put(i, Slot::Held(slot));
            }
            RwAction::DowngradeToUpgradable(i) => {
                let Some(i) = pool.pick(i, writer) else {
                    return;
                };
                let slot = match pool.take(i) {
                    Slot::Held(RwHeld::Write(g)) => {
                        RwHeld::Upgradable(RwLockWriteGuard::downgrade_to_upgradable(g))
                    }
                    Slot::Held(RwHeld::OwnedWrite(g)) => {
                        RwHeld::OwnedUpgradable(OwnedRwLockWriteGuard::downgrade_to_upgradable(g))
                    }
                    other => return pool.put(i, other),
                };
                pool.put(i, Slot::Held(slot));
            }
        }
    }

    fn ready(&mut self, mut out: Self::Held, _meta: &Meta) -> Option<Self::Held> {
        // Every writer leaves a mark, so readers that overlapped a writer would disagree.
        match &mut out {
            RwHeld::Write(g) => **g += 1,
            RwHeld::OwnedWrite(g) => **g += 1,
            _ => {}
        }
        Some(out)
    }

    fn check(&self, pool: &Pool<'a, Self::Held>) {
        let (mut readers, mut writers, mut upgradable) = (0, 0, 0);
        let mut seen = Vec::new();
        for h in pool.held() {
            let (count, value) = match h {
                RwHeld::Read(g) => (&mut readers, **g),
                RwHeld::OwnedRead(g) => (&mut readers, **g),
                RwHeld::Upgradable(g) => (&mut upgradable, **g),
                RwHeld::OwnedUpgradable(g) => (&mut upgradable, **g),
                RwHeld::Write(_) | RwHeld::OwnedWrite(_) => {
                    writers += 1;
                    continue;
                }
            };
            *count += 1;
            seen.push(value);
        }
        assert!(
            seen.windows(2).all(|w| w[0] == w[1]),
            "readers inside together see different values: {seen:?}"
        );
        // An unfinished upgrade owns the upgradable lock.
        let upgrading = pool
            .waiting()
            .filter(|t| t.meta.kind == UPGRADE || t.meta.kind == UPGRADE_OWNED)
            .count();
        let holders = [readers, writers, upgradable, upgrading];
        let shown = "[readers, writers, upgradable, upgrading]";
        assert!(writers <= 1, "two writers: {shown} = {holders:?}");
        assert!(
            upgradable + upgrading <= 1,
            "two upgradable readers: {shown} = {holders:?}"
        );
        if writers == 1 {
            assert!(
                readers + upgradable + upgrading == 0,
                "a writer shares the lock: {shown} = {holders:?}"
            );
            assert!(
                self.lock.is_write_locked(),
                "a writer holds an unlocked lock"
            );
            assert_eq!(self.lock.reader_count(), 0, "readers inside with a writer");
        }
        assert!(
            self.lock.reader_count() >= readers,
            "reader_count {} below the {readers} read guards",
            self.lock.reader_count()
        );
        if let Some(max) = self.max.filter(|_| !self.downgraded) {
            assert!(
                self.lock.reader_count() <= max,
                "{} read locks in a lock limited to {max}",
                self.lock.reader_count()
            );
        }
    }

    fn finish(&mut self, pool: &mut Pool<'a, Self::Held>) {
        let left = pool.kinds_waiting();
        assert!(
            left.is_empty(),
            "rwlock futures {left:?} left parked with every guard released (lost wake-up)"
        );
        assert_eq!(self.lock.reader_count(), 0, "read locks held by nobody");
        assert!(!self.lock.is_write_locked(), "write-locked by nobody");
        assert!(
            self.lock.try_write().is_some(),
            "try_write fails on a free lock"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum EventAction {
    Wait,
    Set,
    Clear,
}

fn event_action() -> impl Strategy<Value = EventAction> {
    prop_oneof![
        4 => Just(EventAction::Wait),
        1 => Just(EventAction::Set),
        1 => Just(EventAction::Clear),
    ]
}

struct EventExplorer<'a> {
    event: &'a Event,
    set: bool,
}

impl<'a> Explorer<'a> for EventExplorer<'a> {
    type Held = ();
    type Action = EventAction;

    fn act(&mut self, pool: &mut Pool<'a, ()>, action: &EventAction) {
        match action {
            EventAction::Wait => {
                if let Some(i) = pool.free() {
                    pool.spawn(i, self.event.wait(), Meta::new("wait"));
                }
            }
            EventAction::Set => {
                self.event.set();
                self.set = true;
                // Every wait that had started must now complete, whatever comes next.
                for slot in &mut pool.slots {
                    if let Slot::Waiting(t) = slot {
                        t.meta.flag |= t.polled;
                    }
                }
            }
            EventAction::Clear => {
                self.event.clear();
                self.set = false;
            }
        }
    }

    fn pending(&mut self, meta: &mut Meta, first: bool) {
        assert!(
            !self.event.is_set(),
            "a wait is pending on a set event (first poll: {first})"
        );
        assert!(
            !meta.flag,
            "a wait that had started before a `set` is pending after it"
        );
    }

    fn ready(&mut self, (): (), meta: &Meta) -> Option<()> {
        assert!(
            self.event.is_set() || meta.flag,
            "a wait completed with the event clear and no `set` since it started"
        );
        None
    }

    fn check(&self, _pool: &Pool<'a, ()>) {
        assert_eq!(
            self.event.is_set(),
            self.set,
            "is_set disagrees with the calls made"
        );
    }

    fn finish(&mut self, pool: &mut Pool<'a, ()>) {
        let signalled = pool.waiting().filter(|t| t.meta.flag).count();
        assert_eq!(
            signalled, 0,
            "waits that saw a `set` left parked (lost wake-up)"
        );
        if self.set {
            let left = pool.waiting().count();
            assert_eq!(
                left, 0,
                "{left} waits left parked on a set event (lost wake-up)"
            );
        }
        self.act(pool, &EventAction::Set);
        settle(self, pool);
        let left = pool.waiting().count();
        assert_eq!(
            left, 0,
            "{left} waits left parked after a final `set` (lost wake-up)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Condvar (with its mutex)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum CondvarAction {
    Lock {
        owned: bool,
    },
    TryLock {
        owned: bool,
    },
    /// `wait` with the guard in the slot.
    Wait(usize),
    /// `wait_while(value < threshold)` with the guard in the slot.
    WaitWhile(usize, u32),
    NotifyOne,
    /// `notify_many(n)`.
    NotifyMany(usize),
    NotifyAll,
    /// Adds one to the value through the guard in the slot.
    Bump(usize),
}

fn condvar_action() -> impl Strategy<Value = CondvarAction> {
    prop_oneof![
        4 => any::<bool>().prop_map(|owned| CondvarAction::Lock { owned }),
        1 => any::<bool>().prop_map(|owned| CondvarAction::TryLock { owned }),
        3 => (0..SLOTS).prop_map(CondvarAction::Wait),
        3 => (0..SLOTS, 0..4u32).prop_map(|(i, t)| CondvarAction::WaitWhile(i, t)),
        2 => Just(CondvarAction::NotifyOne),
        1 => (0..4usize).prop_map(CondvarAction::NotifyMany),
        1 => Just(CondvarAction::NotifyAll),
        2 => (0..SLOTS).prop_map(CondvarAction::Bump),
    ]
}

const WAIT: &str = "wait";
const WAIT_WHILE: &str = "wait_while";

fn is_condvar_wait(meta: &Meta) -> bool {
    meta.kind == WAIT || meta.kind == WAIT_WHILE
}

struct CondvarExplorer<'a> {
    mutex: &'a Arc<Mutex<u32>>,
    cv: &'a Condvar,
    /// Registrations on the condvar not notified yet, in the order they queued.
    unnotified: VecDeque<u64>,
    /// Registrations that a `notify_all` notified: a wait dropped after one passes nothing on.
    by_all: HashSet<u64>,
    next_registration: u64,
}

impl CondvarExplorer<'_> {
    fn new<'a>(mutex: &'a Arc<Mutex<u32>>, cv: &'a Condvar) -> CondvarExplorer<'a> {
        CondvarExplorer {
            mutex,
            cv,
            unnotified: VecDeque::new(),
            by_all: HashSet::new(),
            next_registration: 0,
        }
    }

    fn register(&mut self, meta: &mut Meta) {
        meta.registration = Some(self.next_registration);
        self.unnotified.push_back(self.next_registration);
        self.next_registration += 1;
    }

    /// A `notify_one`: the registration that queued first is notified.
    fn notify_one(&mut self) {
        self.unnotified.pop_front();
    }
}

impl<'a> Explorer<'a> for CondvarExplorer<'a> {
    type Held = MutexHeld<'a>;
    type Action = CondvarAction;

    fn describe(&self, held: &Self::Held) -> String {
        held.describe()
    }

    fn act(&mut self, pool: &mut Pool<'a, Self::Held>, action: &CondvarAction) {
        let cv = self.cv;
        match *action {
            CondvarAction::Lock { owned } => {
                if let Some(i) = pool.free() {
                    spawn_lock(pool, self.mutex, i, owned);
                }
            }
            CondvarAction::TryLock { owned } => {
                if let Some(i) = pool.free() {
                    if let Some(guard) = try_lock(self.mutex, owned) {
                        pool.put(i, Slot::Held(guard));
                    }
                }
            }
            CondvarAction::Wait(i) => {
                let Some(i) = pool.pick_held(i) else { return };
                match pool.take(i) {
                    Slot::Held(MutexHeld::Borrowed(g)) => {
                        pool.spawn(i, cv.wait(g).map(MutexHeld::Borrowed), Meta::new(WAIT));
                    }
                    Slot::Held(MutexHeld::Owned(g)) => {
                        pool.spawn(i, cv.wait(g).map(MutexHeld::Owned), Meta::new(WAIT));
                    }
                    other => pool.put(i, other),
                }
            }
            CondvarAction::WaitWhile(i, threshold) => {
                let Some(i) = pool.pick_held(i) else { return };
                let probe = Rc::new(Cell::new((0, false)));
                let condition = {
                    let probe = probe.clone();
                    move |value: &mut u32| {
                        let keep_waiting = *value < threshold;
                        probe.set((probe.get().0 + 1, keep_waiting));
                        keep_waiting
                    }
                };
                let meta = Meta {
                    probe: Some(probe),
                    ..Meta::new(WAIT_WHILE)
                };
                match pool.take(i) {
                    Slot::Held(MutexHeld::Borrowed(g)) => {
                        let fut = cv.wait_while(g, condition).map(MutexHeld::Borrowed);
                        pool.spawn(i, fut, meta);
                    }
                    Slot::Held(MutexHeld::Owned(g)) => {
                        let fut = cv.wait_while(g, condition).map(MutexHeld::Owned);
                        pool.spawn(i, fut, meta);
                    }
                    other => pool.put(i, other),
                }
            }
            CondvarAction::NotifyOne => {
                cv.notify_one();
                self.notify_one();
            }
            CondvarAction::NotifyMany(n) => {
                cv.notify_many(n);
                for _ in 0..n {
                    self.notify_one();
                }
            }
            CondvarAction::NotifyAll => {
                cv.notify_all();
                self.by_all.extend(self.unnotified.drain(..));
            }
            CondvarAction::Bump(i) => {
                let Some(i) = pool.pick_held(i) else { return };
                if let Slot::Held(guard) = &mut pool.slots[i] {
                    *guard.value() += 1;
                }
            }
        }
    }

    fn pending(&mut self, meta: &mut Meta, first: bool) {
        if meta.kind == WAIT && first {
            self.register(meta);
        } else if let Some(probe) = &meta.probe {
            // `wait_while` (re-)registers each time its condition says to keep waiting.
            let (checks, keep_waiting) = probe.get();
            if checks != meta.seen {
                meta.seen = checks;
                assert!(
                    keep_waiting,
                    "wait_while is pending after its condition turned false"
                );
                self.register(meta);
            }
        }
    }

    fn ready(&mut self, out: Self::Held, meta: &Meta) -> Option<Self::Held> {
        if let Some(probe) = &meta.probe {
            let (checks, keep_waiting) = probe.get();
            assert!(
                checks > meta.seen && !keep_waiting,
                "wait_while returned without its condition turning false"
            );
        }
        Some(out)
    }

    fn dropping(&mut self, slot: &Slot<'a, Self::Held>) {
        // A registered wait leaves the queue, or passes on a `notify_one` it was woken by; a
        // `notify_all` reached every wait there was, and is not passed on.
        if let Slot::Waiting(t) = slot {
            if let Some(registration) = t.meta.registration {
                if let Some(at) = self.unnotified.iter().position(|&r| r == registration) {
                    self.unnotified.remove(at);
                } else if !self.by_all.contains(&registration) {
                    self.notify_one();
                }
            }
        }
    }

    fn check(&self, pool: &Pool<'a, Self::Held>) {
        // A condvar wait holds its guard until its first poll.
        let holders = pool.held().count()
            + pool
                .waiting()
                .filter(|t| is_condvar_wait(&t.meta) && !t.polled)
                .count();
        assert!(
            holders <= 1,
            "{holders} holders of the condvar's mutex at once"
        );
        if holders == 1 {
            assert!(
                self.mutex.is_locked(),
                "a guard exists but the mutex is unlocked"
            );
        }
    }

    fn finish(&mut self, pool: &mut Pool<'a, Self::Held>) {
        let locks: Vec<_> = pool
            .waiting()
            .filter(|t| !is_condvar_wait(&t.meta))
            .map(|t| t.meta.kind)
            .collect();
        assert!(
            locks.is_empty(),
            "lock futures {locks:?} left parked (lost wake-up)"
        );
        let parked = pool.waiting().count();
        assert_eq!(
            parked,
            self.unnotified.len(),
            "{parked} condvar waits parked but {} were never notified (a notified wait lost \
             its wake-up, or a wait returned un-notified)",
            self.unnotified.len()
        );
        // Make every condition false, then wake everybody.
        let mut guard = self.mutex.try_lock().expect("the mutex is free at the end");
        *guard = u32::MAX;
        drop(guard);
        self.act(pool, &CondvarAction::NotifyAll);
        settle(self, pool);
        let left = pool.kinds_waiting();
        assert!(
            left.is_empty(),
            "waits {left:?} left parked after a final notify_all"
        );
        assert!(
            self.mutex.try_lock().is_some(),
            "the mutex is not free at the end"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum BarrierAction {
    Wait,
    Abort,
    Reset,
}

fn barrier_action() -> impl Strategy<Value = BarrierAction> {
    prop_oneof![
        20 => Just(BarrierAction::Wait),
        1 => Just(BarrierAction::Abort),
        1 => Just(BarrierAction::Reset),
    ]
}

struct BarrierExplorer<'a> {
    barrier: &'a Barrier,
    /// The index of the last result returned.
    last_index: Option<usize>,
    leaders: usize,
    /// Results returned, and futures dropped after arriving: at least `parties` per trip.
    oks: usize,
    arrived_drops: usize,
}

type BarrierHeld = Result<BarrierWaitResult, BarrierError>;

impl<'a> Explorer<'a> for BarrierExplorer<'a> {
    type Held = BarrierHeld;
    type Action = BarrierAction;

    fn act(&mut self, pool: &mut Pool<'a, BarrierHeld>, action: &BarrierAction) {
        match action {
            BarrierAction::Wait => {
                if let Some(i) = pool.free() {
                    pool.spawn(i, self.barrier.wait(), Meta::new("wait"));
                }
            }
            BarrierAction::Abort | BarrierAction::Reset => {
                if matches!(action, BarrierAction::Abort) {
                    self.barrier.abort();
                } else {
                    self.barrier.reset();
                }
                // Every party waiting now may fail.
                for slot in &mut pool.slots {
                    if let Slot::Waiting(t) = slot {
                        t.meta.flag |= t.polled;
                    }
                }
            }
        }
    }

    fn ready(&mut self, out: BarrierHeld, meta: &Meta) -> Option<BarrierHeld> {
        let parties = self.barrier.parties();
        match out {
            Ok(result) => {
                let index = result.index();
                assert!(index < parties, "index {index} with {parties} parties");
                // A generation trips only once the previous one has collected, so results come
                // generation by generation, each numbered 0, 1, 2, ... in collection order.
                if index == 0 {
                    self.leaders += 1;
                } else {
                    assert_eq!(
                        Some(index - 1),
                        self.last_index,
                        "barrier index {index} does not follow {:?} (a duplicate index, or a \
                         generation without a leader)",
                        self.last_index
                    );
                }
                self.last_index = Some(index);
                self.oks += 1;
            }
            Err(_) => assert!(
                self.barrier.is_broken() || meta.flag,
                "a wait failed on a whole barrier with no abort or reset since it arrived"
            ),
        }
        None
    }

    fn dropping(&mut self, slot: &Slot<'a, BarrierHeld>) {
        if let Slot::Waiting(t) = slot {
            self.arrived_drops += usize::from(t.polled);
        }
    }

    fn check(&self, pool: &Pool<'a, BarrierHeld>) {
        let n = self.barrier.n_waiting();
        let polled = pool.waiting().filter(|t| t.polled).count();
        let parties = self.barrier.parties();
        assert!(n <= parties, "n_waiting {n} with {parties} parties");
        assert!(
            n <= polled,
            "n_waiting {n} but only {polled} live futures were ever polled"
        );
        // Each generation with a leader had `parties` parties, each of which has returned, was
        // dropped, or is still alive.
        assert!(
            self.leaders * parties <= self.oks + self.arrived_drops + polled,
            "{} leaders, but only {} results, {} dropped parties and {polled} live ones: more \
             than one leader per generation",
            self.leaders,
            self.oks,
            self.arrived_drops
        );
    }

    fn finish(&mut self, pool: &mut Pool<'a, BarrierHeld>) {
        let parked = pool.waiting().count();
        let parties = self.barrier.parties();
        if self.barrier.is_broken() {
            assert_eq!(
                parked, 0,
                "{parked} waits left parked on a broken barrier (lost wake-up)"
            );
        } else {
            assert!(
                parked < parties,
                "{parked} waits left parked with {parties} parties (lost wake-up)"
            );
            assert_eq!(
                self.barrier.n_waiting(),
                parked,
                "n_waiting disagrees with the parked waits (a party waits outside unwoken)"
            );
        }
        self.check(pool);
        let oks = self.oks;
        self.act(pool, &BarrierAction::Abort);
        settle(self, pool);
        self.check(pool);
        let left = pool.waiting().count();
        assert_eq!(
            left, 0,
            "{left} waits left parked after a final abort (lost wake-up)"
        );
        assert_eq!(self.oks, oks, "a wait succeeded after the final abort");
    }
}

// ---------------------------------------------------------------------------------------------
// ShutdownSignal
// ---------------------------------------------------------------------------------------------

/// The signals every run starts with: a root, two children, and a grandchild under the first.
const TREE: usize = 4;
const TREE_NAMES: [&str; TREE] = ["root", "a", "b", "a/g"];

/// `on` and `of` name a signal: one of the tree's (below [`TREE`]), or else the signal of the
/// first kept child handle or guard at or after slot `on - TREE` (wrapping around), falling
/// back to the tree's signal `on % TREE` when the pool holds none.
#[derive(Debug, Clone)]
enum ShutdownAction {
    Wait {
        on: usize,
        owned: bool,
    },
    Drained {
        on: usize,
    },
    /// Clones the guard if `on` picks one, else tracks a task under the signal.
    Track {
        on: usize,
    },
    /// Makes a child and keeps its handle in a slot, where dropping it unregisters the child
    /// unless a guard, a future or a grandchild still holds it.
    Child {
        of: usize,
    },
    Trigger {
        on: usize,
    },
}

fn shutdown_action() -> impl Strategy<Value = ShutdownAction> {
    let on = || 0..TREE + SLOTS;
    // The three waits in one arm: each arm of a union costs a random generator per step.
    let wait = (0..3, on()).prop_map(|(kind, on)| match kind {
        0 => ShutdownAction::Wait { on, owned: false },
        1 => ShutdownAction::Wait { on, owned: true },
        _ => ShutdownAction::Drained { on },
    });
    prop_oneof![
        6 => wait,
        4 => on().prop_map(|on| ShutdownAction::Track { on }),
        2 => on().prop_map(|of| ShutdownAction::Child { of }),
        2 => on().prop_map(|on| ShutdownAction::Trigger { on }),
    ]
}

const DRAINED: &str = "drained";

enum ShutdownHeld {
    /// A handle to a child made during the run.
    Signal(usize, ShutdownSignal),
    Guard(usize, DrainGuard),
    /// A wait that completed.
    Done,
}

impl ShutdownHeld {
    fn signal(&self) -> Option<(usize, &ShutdownSignal)> {
        match self {
            ShutdownHeld::Signal(node, signal) => Some((*node, signal)),
            ShutdownHeld::Guard(node, guard) => Some((*node, guard.signal())),
            ShutdownHeld::Done => None,
        }
    }
}

/// Makes the tree every run starts with.
fn shutdown_tree() -> [ShutdownSignal; TREE] {
    let root = ShutdownSignal::new();
    let (a, b) = (root.child(), root.child());
    let g = a.child();
    [root, a, b, g]
}

/// The model of the signals: the tree's, then every child made during the run, by index.
struct ShutdownExplorer<'a> {
    tree: &'a [ShutdownSignal; TREE],
    parents: Vec<Option<usize>>,
    /// Whether `trigger` was called on the signal itself; it has fired if it or an ancestor
    /// was.
    triggered: Vec<bool>,
    /// Guards alive under the signal or its descendants.
    tracked: Vec<usize>,
    /// How many times the signal has drained: a trigger reached it with nothing tracked, or
    /// its last guard went after it fired. A drain wait may end once this moves past what it
    /// was when the wait started, whatever is tracked by the time it is polled.
    drains: Vec<usize>,
}

impl<'a> ShutdownExplorer<'a> {
    fn new(tree: &'a [ShutdownSignal; TREE]) -> Self {
        ShutdownExplorer {
            tree,
            parents: vec![None, Some(0), Some(0), Some(1)],
            triggered: vec![false; TREE],
            tracked: vec![0; TREE],
            drains: vec![0; TREE],
        }
    }

    /// The signal and its ancestors, the signal first.
    fn ancestry(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::successors(Some(node), |&n| self.parents[n])
    }

    fn fired(&self, node: usize) -> bool {
        self.ancestry(node).any(|n| self.triggered[n])
    }

    /// The signal's name for messages, formatted only if one is written: a child made during
    /// the run is its parent's name and its index.
    fn name(&self, node: usize) -> impl std::fmt::Display + '_ {
        struct Name<'e>(&'e [Option<usize>], usize);
        impl std::fmt::Display for Name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.0[self.1] {
                    _ if self.1 < TREE => f.write_str(TREE_NAMES[self.1]),
                    Some(parent) => write!(f, "{}/{}", Name(self.0, parent), self.1),
                    None => unreachable!("only the root has no parent"),
                }
            }
        }
        Name(&self.parents, node)
    }

    /// The slot of the kept handle or guard that `on` names, if it names one (see
    /// [`ShutdownAction`]).
    fn kept(pool: &Pool<'a, ShutdownHeld>, on: usize) -> Option<usize> {
        let kept = |s: &Slot<'a, ShutdownHeld>| matches!(s, Slot::Held(h) if h.signal().is_some());
        on.checked_sub(TREE).and_then(|i| pool.pick(i, kept))
    }

    /// The signal `on` names.
    fn signal<'p>(
        &'p self,
        pool: &'p Pool<'a, ShutdownHeld>,
        on: usize,
    ) -> (usize, &'p ShutdownSignal) {
        match Self::kept(pool, on).map(|i| &pool.slots[i]) {
            Some(Slot::Held(held)) => held.signal().unwrap(),
            _ => (on % TREE, &self.tree[on % TREE]),
        }
    }

    /// Counts a new guard under `node`.
    fn add_guard(&mut self, node: usize) {
        for n in std::iter::successors(Some(node), |&n| self.parents[n]) {
            self.tracked[n] += 1;
        }
    }

    /// Checks one handle against the model.
    fn check_signal(&self, node: usize, signal: &ShutdownSignal) {
        assert_eq!(
            signal.is_triggered(),
            self.fired(node),
            "is_triggered of {} disagrees with the triggers made on it and its ancestors",
            self.name(node)
        );
        assert_eq!(
            signal.tracked(),
            self.tracked[node],
            "tracked() of {} disagrees with the guards alive under it",
            self.name(node)
        );
    }
}

impl<'a> Explorer<'a> for ShutdownExplorer<'a> {
    type Held = ShutdownHeld;
    type Action = ShutdownAction;

    fn describe(&self, held: &ShutdownHeld) -> String {
        match held {
            ShutdownHeld::Signal(node, _) => format!("signal {}", self.name(*node)),
            ShutdownHeld::Guard(node, _) => format!("guard {}", self.name(*node)),
            ShutdownHeld::Done => "done".into(),
        }
    }

    fn act(&mut self, pool: &mut Pool<'a, ShutdownHeld>, action: &ShutdownAction) {
        let done = |()| ShutdownHeld::Done;
        match *action {
            ShutdownAction::Wait { on, owned } => {
                let Some(i) = pool.free() else { return };
                let (node, signal) = self.signal(pool, on);
                let kind = if owned { "wait_owned" } else { "wait" };
                let meta = Meta {
                    node,
                    ..Meta::new(kind)
                };
                if owned {
                    let fut = signal.wait_owned().map(done);
                    pool.spawn(i, fut, meta);
                } else if node < TREE {
                    pool.spawn(i, self.tree[node].wait().map(done), meta);
                } else {
                    // The future borrows a handle of its own, as a spawned task would.
                    let signal = signal.clone();
                    pool.spawn(i, async move { signal.wait().await }.map(done), meta);
                }
            }
            ShutdownAction::Drained { on } => {
                let Some(i) = pool.free() else { return };
                let (node, signal) = self.signal(pool, on);
                let meta = Meta {
                    node,
                    ..Meta::new(DRAINED)
                };
                if node < TREE {
                    pool.spawn(i, self.tree[node].drained().map(done), meta);
                } else {
                    let signal = signal.clone();
                    pool.spawn(i, async move { signal.drained().await }.map(done), meta);
                }
            }
            ShutdownAction::Track { on } => {
                let Some(i) = pool.free() else { return };
                let guard = match Self::kept(pool, on).map(|j| &pool.slots[j]) {
                    Some(Slot::Held(ShutdownHeld::Guard(node, guard))) => (*node, guard.clone()),
                    _ => {
                        let (node, signal) = self.signal(pool, on);
                        (node, signal.track())
                    }
                };
                self.add_guard(guard.0);
                pool.put(i, Slot::Held(ShutdownHeld::Guard(guard.0, guard.1)));
            }
            ShutdownAction::Child { of } => {
                let Some(i) = pool.free() else { return };
                let (parent, signal) = self.signal(pool, of);
                let child = signal.child();
                let node = self.parents.len();
                self.parents.push(Some(parent));
                self.triggered.push(false);
                self.tracked.push(0);
                self.drains.push(0);
                pool.put(i, Slot::Held(ShutdownHeld::Signal(node, child)));
            }
            ShutdownAction::Trigger { on } => {
                let (node, signal) = self.signal(pool, on);
                let fired = signal.trigger();
                let before: Vec<bool> = (0..self.parents.len()).map(|n| self.fired(n)).collect();
                assert_eq!(
                    fired,
                    !before[node],
                    "trigger of {} returned {fired}, but it had {}fired before",
                    self.name(node),
                    if before[node] { "" } else { "not " }
                );
                self.triggered[node] = true;
                // What this trigger reached with nothing tracked has drained.
                for (n, was) in before.into_iter().enumerate() {
                    if !was && self.fired(n) && self.tracked[n] == 0 {
                        self.drains[n] += 1;
                    }
                }
            }
        }
    }

    fn pending(&mut self, meta: &mut Meta, first: bool) {
        let node = meta.node;
        let name = self.name(node);
        if meta.kind != DRAINED {
            assert!(
                !self.fired(node),
                "a `{}` on {name} is pending though it has fired (first poll: {first})",
                meta.kind
            );
            return;
        }
        if first {
            meta.drains = Some(self.drains[node]);
        }
        assert!(
            !self.fired(node) || self.tracked[node] != 0,
            "a drain wait on {name} is pending though it has fired and tracks nothing (first \
             poll: {first})"
        );
        assert_eq!(
            meta.drains,
            Some(self.drains[node]),
            "a drain wait on {name} is pending though it drained since the wait started"
        );
    }

    fn ready(&mut self, out: ShutdownHeld, meta: &Meta) -> Option<ShutdownHeld> {
        assert!(matches!(out, ShutdownHeld::Done));
        let node = meta.node;
        let name = self.name(node);
        if meta.kind != DRAINED {
            assert!(
                self.fired(node),
                "a `{}` on {name} completed before it fired",
                meta.kind
            );
        } else {
            let drained_now = self.fired(node) && self.tracked[node] == 0;
            let drained_since = meta.drains.is_some_and(|d| self.drains[node] > d);
            assert!(
                drained_now || drained_since,
                "a drain wait on {name} completed though it has not drained since it started"
            );
        }
        None
    }

    fn dropping(&mut self, slot: &Slot<'a, ShutdownHeld>) {
        if let Slot::Held(ShutdownHeld::Guard(node, _)) = *slot {
            for n in std::iter::successors(Some(node), |&n| self.parents[n]) {
                self.tracked[n] -= 1;
                if self.tracked[n] == 0 && self.fired(n) {
                    self.drains[n] += 1;
                }
            }
        }
    }

    fn check(&self, pool: &Pool<'a, ShutdownHeld>) {
        for (node, signal) in self.tree.iter().enumerate() {
            self.check_signal(node, signal);
        }
        for (node, signal) in pool.held().filter_map(ShutdownHeld::signal) {
            self.check_signal(node, signal);
        }
        // Firing and draining wake every wait they end, at once.
        for t in pool.waiting().filter(|t| t.polled && !t.due()) {
            let name = self.name(t.meta.node);
            if t.meta.kind == DRAINED {
                assert_eq!(
                    t.meta.drains,
                    Some(self.drains[t.meta.node]),
                    "a drain wait on {name} is parked unwoken though it drained since the wait \
                     started (lost wake-up)"
                );
            } else {
                assert!(
                    !self.fired(t.meta.node),
                    "a `{}` on {name} is parked unwoken though it fired (lost wake-up)",
                    t.meta.kind
                );
            }
        }
    }

    fn finish(&mut self, pool: &mut Pool<'a, ShutdownHeld>) {
        // Every guard is gone, so whatever fired has drained too.
        self.check(pool);
        let stuck: Vec<String> = (pool.waiting())
            .filter(|t| self.fired(t.meta.node))
            .map(|t| format!("{} on {}", t.meta.kind, self.name(t.meta.node)))
            .collect();
        assert!(
            stuck.is_empty(),
            "{stuck:?} left parked on fired signals with nothing tracked (lost wake-up)"
        );
        // Every signal is under the root, the kept children too (futures hold them).
        self.act(pool, &ShutdownAction::Trigger { on: 0 });
        settle(self, pool);
        self.check(pool);
        let left = pool.kinds_waiting();
        assert!(
            left.is_empty(),
            "waits {left:?} left parked after a final trigger of the root (lost wake-up)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// WaitGroup
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum WaitGroupAction {
    Token,
    /// Clones the token in the slot.
    CloneToken(usize),
    Wait,
}

fn wait_group_action() -> impl Strategy<Value = WaitGroupAction> {
    prop_oneof![
        3 => Just(WaitGroupAction::Token),
        1 => (0..SLOTS).prop_map(WaitGroupAction::CloneToken),
        3 => Just(WaitGroupAction::Wait),
    ]
}

enum WaitGroupHeld {
    Token(WaitGroupToken),
    /// A wait that completed.
    Done,
}

struct WaitGroupExplorer<'a> {
    group: &'a WaitGroup,
    /// Tokens alive.
    count: usize,
    /// How many times the count has come down to zero: a wait may end once this moves past
    /// what it was when the wait started, whatever the count is by the time it is polled.
    zeros: usize,
}

impl<'a> Explorer<'a> for WaitGroupExplorer<'a> {
    type Held = WaitGroupHeld;
    type Action = WaitGroupAction;

    fn describe(&self, held: &WaitGroupHeld) -> String {
        match held {
            WaitGroupHeld::Token(_) => "token".into(),
            WaitGroupHeld::Done => "done".into(),
        }
    }

    fn act(&mut self, pool: &mut Pool<'a, WaitGroupHeld>, action: &WaitGroupAction) {
        let Some(free) = pool.free() else { return };
        match *action {
            WaitGroupAction::Token => {
                pool.put(free, Slot::Held(WaitGroupHeld::Token(self.group.token())));
                self.count += 1;
            }
            WaitGroupAction::CloneToken(i) => {
                let token =
                    |s: &Slot<'a, WaitGroupHeld>| matches!(s, Slot::Held(WaitGroupHeld::Token(_)));
                let Some(i) = pool.pick(i, token) else { return };
                let Slot::Held(WaitGroupHeld::Token(token)) = &pool.slots[i] else {
                    unreachable!()
                };
                let token = token.clone();
                pool.put(free, Slot::Held(WaitGroupHeld::Token(token)));
                self.count += 1;
            }
            WaitGroupAction::Wait => {
                let fut = self.group.wait().map(|()| WaitGroupHeld::Done);
                pool.spawn(free, fut, Meta::new("wait"));
            }
        }
    }

    fn pending(&mut self, meta: &mut Meta, first: bool) {
        if first {
            meta.drains = Some(self.zeros);
        }
        assert_ne!(
            self.count, 0,
            "a wait is pending with no token outstanding (first poll: {first})"
        );
        assert_eq!(
            meta.drains,
            Some(self.zeros),
            "a wait is pending though the count reached zero since it started"
        );
    }

    fn ready(&mut self, out: WaitGroupHeld, meta: &Meta) -> Option<WaitGroupHeld> {
        assert!(matches!(out, WaitGroupHeld::Done));
        assert!(
            self.count == 0 || meta.drains.is_some_and(|z| self.zeros > z),
            "a wait completed though the count has not reached zero since it started"
        );
        None
    }

    fn dropping(&mut self, slot: &Slot<'a, WaitGroupHeld>) {
        if let Slot::Held(WaitGroupHeld::Token(_)) = slot {
            self.count -= 1;
            self.zeros += usize::from(self.count == 0);
        }
    }

    fn check(&self, pool: &Pool<'a, WaitGroupHeld>) {
        assert_eq!(
            self.group.count(),
            self.count,
            "count() disagrees with the tokens alive"
        );
        // Reaching zero wakes every wait it ends, at once.
        let lost = (pool.waiting())
            .filter(|t| t.polled && !t.due() && t.meta.drains != Some(self.zeros))
            .count();
        assert_eq!(
            lost, 0,
            "{lost} waits parked unwoken though the count reached zero since they started \
             (lost wake-up)"
        );
    }

    fn finish(&mut self, pool: &mut Pool<'a, WaitGroupHeld>) {
        self.check(pool);
        let left = pool.waiting().count();
        assert_eq!(
            left, 0,
            "{left} waits left parked with no token outstanding (lost wake-up)"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(DEFAULT_CASES))]

    #[test]
    fn mutex(steps in steps(mutex_action())) {
        run_case(|trace| {
            let mutex = Arc::new(Mutex::new(0));
            explore(MutexExplorer { mutex: &mutex }, &steps, trace);
        });
    }

    #[test]
    fn semaphore(initial in 0..=3usize, steps in steps(sem_action())) {
        run_case(|trace| {
            let sem = Arc::new(Semaphore::new(initial));
            explore(SemExplorer { sem: &sem, total: initial, closed: false }, &steps, trace);
        });
    }

    #[test]
    fn rwlock(steps in steps(rw_action())) {
        run_case(|trace| {
            let lock = Arc::new(RwLock::new(0));
            explore(RwExplorer { lock: &lock, max: None, downgraded: false }, &steps, trace);
        });
    }

    #[test]
    fn rwlock_limited(max in 1..=3usize, steps in steps(rw_action())) {
        run_case(|trace| {
            let lock = Arc::new(RwLock::with_max_readers(0, max));
            explore(RwExplorer { lock: &lock, max: Some(max), downgraded: false }, &steps, trace);
        });
    }

    #[test]
    fn event(steps in steps(event_action())) {
        run_case(|trace| {
            let event = Event::new();
            explore(EventExplorer { event: &event, set: false }, &steps, trace);
        });
    }

    #[test]
    fn condvar(steps in steps(condvar_action())) {
        run_case(|trace| {
            let mutex = Arc::new(Mutex::new(0));
            let cv = Condvar::new();
            explore(CondvarExplorer::new(&mutex, &cv), &steps, trace);
        });
    }

    #[test]
    fn barrier(parties in 2..=3usize, steps in steps(barrier_action())) {
        run_case(|trace| {
            let barrier = Barrier::new(parties);
            let explorer = BarrierExplorer {
                barrier: &barrier,
                last_index: None,
                leaders: 0,
                oks: 0,
                arrived_drops: 0,
            };
            explore(explorer, &steps, trace);
        });
    }
}

proptest! {
    #![proptest_config(config(DRAIN_CASES))]

    #[test]
    fn shutdown(steps in steps(shutdown_action())) {
        run_case(|trace| {
            let tree = shutdown_tree();
            explore(ShutdownExplorer::new(&tree), &steps, trace);
        });
    }

    #[test]
    fn wait_group(steps in steps(wait_group_action())) {
        run_case(|trace| {
            let group = WaitGroup::new();
            explore(WaitGroupExplorer { group: &group, count: 0, zeros: 0 }, &steps, trace);
        });
    }
}

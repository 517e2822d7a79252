//! Workloads for counting instructions, not time: each waits the slow way on every operation,
//! on one thread, so that a run under `valgrind --tool=callgrind` is the same every time.
//!
//! Times on a machine with few cores are bimodal (see BENCHMARKS.md); instruction counts are
//! not, and they say what the waiting paths cost: registering, being woken, handing a lock or
//! permits over. They say nothing about cache-line traffic between cores, which only a
//! machine with the cores can show.
//!
//! Every workload runs on `futures`' single-threaded `LocalPool`, the same executor for every
//! contender, and only the part after setup is counted (`measured`, picked out with
//! callgrind's `--toggle-collect`). `benches/instructions.sh` runs each pair under callgrind
//! and prints instructions per operation.
//!
//! ```text
//! cargo bench --bench instructions -- <workload> <contender>   # one pair, once
//! cargo bench --bench instructions                              # every pair, once
//! ```
//!
//! - `yield-only`: the tasks of the lock workloads with no lock: what the executor and the
//!   loop cost, to subtract from theirs.
//! - `mutex`: 64 tasks each lock, yield to the executor while holding the guard, add one and
//!   unlock, 100 times; every task but the holder is queued at nearly every moment.
//! - `semaphore`: the same with two permits and one permit per acquire; `semaphore-mixed`:
//!   every other task takes both permits at once.
//! - `rwlock-read-heavy`: the same with a read-write lock, one operation in 20 a write (task
//!   `i` writes at operation `op` when `(i + op) % 20 == 0`), the rest reads;
//!   `rwlock-write-heavy`: every second operation a write.
//! - `barrier`: 8 tasks pass a barrier of 8 parties 200 times; an operation is one wait.
//! - `event`: 10,000 tasks wait on one event (their first poll is not counted); counted: the
//!   set and every task running to its end.
//! - `condvar-ping-pong`: two tasks take turns on a counter behind a mutex, 1,000 turns each,
//!   each waiting on a condvar while it is not its turn and waking the other with
//!   `notify_one`; an operation is one turn.
//! - `condvar-notify-all`: 64 tasks meet 100 times at a barrier made of a mutex and a condvar,
//!   the last to arrive waking the rest with `notify_all`; an operation is one arrival.
//!
//! The condvar workloads' peers are async-std's `Condvar` and a tokio `Mutex` with a `Notify`
//! (see `benches/condvar.rs`).

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use futures::executor::LocalPool;
use futures::poll;
use futures::task::LocalSpawnExt;

use common::{yield_now, Meeting};

/// Tasks in the lock and permit workloads.
const TASKS: usize = 64;
/// Operations per task in the lock and permit workloads.
const OPS: usize = 100;
/// Waiters in the event workload.
const WAITERS: usize = 10_000;

/// The pairs this file knows: a workload and the contenders it runs.
const PAIRS: &[(&str, &[&str])] = &[
    ("yield-only", &["none"]),
    (
        "mutex",
        &[
            "unisync",
            "tokio",
            "async-lock",
            "futures",
            "futures-intrusive",
        ],
    ),
    (
        "semaphore",
        &["unisync", "tokio", "async-lock", "futures-intrusive"],
    ),
    (
        "semaphore-mixed",
        &["unisync", "tokio", "futures-intrusive"],
    ),
    ("rwlock-read-heavy", &["unisync", "tokio", "async-lock"]),
    ("rwlock-write-heavy", &["unisync", "tokio", "async-lock"]),
    ("barrier", &["unisync", "tokio", "async-lock"]),
    (
        "event",
        &[
            "unisync",
            "tokio-notify",
            "event-listener",
            "futures-intrusive",
            "tokio-watch",
        ],
    ),
    (
        "condvar-ping-pong",
        &["unisync", "async-std", "tokio-notify"],
    ),
    (
        "condvar-notify-all",
        &["unisync", "async-std", "tokio-notify"],
    ),
];

/// The counted part: `start`, then the pool until every task has finished.
#[inline(never)]
fn measured(pool: &mut LocalPool, start: &mut dyn FnMut()) {
    start();
    pool.run();
}

/// Spawns `tasks` tasks made by `task(i)` and runs them, counted; returns the operations done.
fn run_tasks<F, Fut>(tasks: usize, task: F) -> usize
where
    F: Fn(usize, Rc<Cell<usize>>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut pool = LocalPool::new();
    let done = Rc::new(Cell::new(0));
    for i in 0..tasks {
        pool.spawner().spawn_local(task(i, done.clone())).unwrap();
    }
    measured(&mut pool, &mut || {});
    done.get()
}

/// One lock or permit operation, in a loop of `OPS`, counting each in `done`.
macro_rules! hold_across_yield {
    ($shared:expr, |$s:ident, $i:ident| $acquire:expr) => {{
        let shared = $shared;
        run_tasks(TASKS, |$i, done| {
            let $s = shared.clone();
            async move {
                for _ in 0..OPS {
                    let held = $acquire;
                    yield_now().await;
                    done.set(done.get() + 1);
                    drop(held);
                }
            }
        })
    }};
}

/// The lock workloads' tasks with nothing to wait for: what the executor and the loop cost.
fn yield_only(contender: &str) -> usize {
    if contender != "none" {
        unknown("yield-only", contender);
    }
    /// Held across the yield like a guard, and dropped like one, doing nothing.
    struct Nothing;
    impl Drop for Nothing {
        fn drop(&mut self) {}
    }
    hold_across_yield!(Rc::new(()), |_s, _i| Nothing)
}

fn mutex(contender: &str) -> usize {
    match contender {
        "unisync" => hold_across_yield!(Rc::new(unisync::Mutex::new(())), |m, _i| m.lock().await),
        "tokio" => hold_across_yield!(Rc::new(tokio::sync::Mutex::new(())), |m, _i| m.lock().await),
        "async-lock" => {
            hold_across_yield!(Rc::new(async_lock::Mutex::new(())), |m, _i| m.lock().await)
        }
        "futures" => hold_across_yield!(Rc::new(futures::lock::Mutex::new(())), |m, _i| m
            .lock()
            .await),
        "futures-intrusive" => hold_across_yield!(
            Rc::new(futures_intrusive::sync::Mutex::new((), false)),
            |m, _i| m.lock().await
        ),
        _ => unknown("mutex", contender),
    }
}

/// Permits per acquire in task `i`: one, or two for every other task when `mixed`.
fn want(mixed: bool, i: usize) -> usize {
    if mixed && i % 2 == 1 {
        2
    } else {
        1
    }
}

fn semaphore(contender: &str, mixed: bool) -> usize {
    const PERMITS: usize = 2;
    match contender {
        "unisync" => hold_across_yield!(Rc::new(unisync::Semaphore::new(PERMITS)), |s, i| s
            .acquire_many(want(mixed, i))
            .await
            .unwrap()),
        "tokio" => hold_across_yield!(Rc::new(tokio::sync::Semaphore::new(PERMITS)), |s, i| s
            .acquire_many(want(mixed, i) as u32)
            .await
            .unwrap()),
        "async-lock" if !mixed => {
            hold_across_yield!(Rc::new(async_lock::Semaphore::new(PERMITS)), |s, _i| s
                .acquire()
                .await)
        }
        "futures-intrusive" => hold_across_yield!(
            Rc::new(futures_intrusive::sync::Semaphore::new(true, PERMITS)),
            |s, i| s.acquire(want(mixed, i)).await
        ),
        _ => unknown(
            if mixed {
                "semaphore-mixed"
            } else {
                "semaphore"
            },
            contender,
        ),
    }
}

/// Reads, and a write every `every` operations, each guard held across a yield.
macro_rules! read_write {
    ($lock:expr, $every:expr) => {{
        let lock = $lock;
        run_tasks(TASKS, |i, done| {
            let lock = lock.clone();
            async move {
                for op in 0..OPS {
                    if (i + op) % $every == 0 {
                        let mut guard = lock.write().await;
                        yield_now().await;
                        *guard += 1;
                    } else {
                        let guard = lock.read().await;
                        yield_now().await;
                        std::hint::black_box(*guard);
                    }
                    done.set(done.get() + 1);
                }
            }
        })
    }};
}

fn rwlock(contender: &str, every: usize) -> usize {
    match contender {
        "unisync" => read_write!(Rc::new(unisync::RwLock::new(0u64)), every),
        "tokio" => read_write!(Rc::new(tokio::sync::RwLock::new(0u64)), every),
        "async-lock" => read_write!(Rc::new(async_lock::RwLock::new(0u64)), every),
        _ => unknown("rwlock", contender),
    }
}

/// Parties of the barrier workload, one task each.
const PARTIES: usize = 8;
/// Times each party passes the barrier.
const ROUNDS: usize = 200;

/// Runs `tasks` tasks that each call `op(&shared, task number)` `times` times, counted;
/// returns the calls done.
fn repeat<S: 'static>(
    tasks: usize,
    times: usize,
    shared: S,
    op: impl AsyncFn(&S, usize) + Clone + 'static,
) -> usize {
    let shared = Rc::new(shared);
    run_tasks(tasks, |i, done| {
        let (shared, op) = (shared.clone(), op.clone());
        async move {
            for _ in 0..times {
                op(&shared, i).await;
                done.set(done.get() + 1);
            }
        }
    })
}

fn barrier(contender: &str) -> usize {
    match contender {
        "unisync" => repeat(
            PARTIES,
            ROUNDS,
            unisync::Barrier::new(PARTIES),
            async |b, _| {
                b.wait().await.unwrap();
            },
        ),
        "tokio" => repeat(
            PARTIES,
            ROUNDS,
            tokio::sync::Barrier::new(PARTIES),
            async |b, _| {
                b.wait().await;
            },
        ),
        "async-lock" => repeat(
            PARTIES,
            ROUNDS,
            async_lock::Barrier::new(PARTIES),
            async |b, _| {
                b.wait().await;
            },
        ),
        _ => unknown("barrier", contender),
    }
}

/// A flag with an `event_listener::Event`, the pattern that crate documents.
#[derive(Default)]
struct FlagEvent {
    flag: AtomicBool,
    event: event_listener::Event,
}

/// Spawns `WAITERS` tasks made by `task`, polls each until it waits (not counted), then
/// counts `set` and the tasks running to their end; returns how many finished.
fn fan_out<S, F, Fut>(shared: S, task: F, set: impl Fn(&S)) -> usize
where
    S: Clone + 'static,
    F: Fn(S) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut pool = LocalPool::new();
    let done = Rc::new(Cell::new(0));
    for _ in 0..WAITERS {
        let (wait, done) = (task(shared.clone()), done.clone());
        pool.spawner()
            .spawn_local(async move {
                wait.await;
                done.set(done.get() + 1);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    assert_eq!(done.get(), 0, "a waiter finished before the event was set");
    measured(&mut pool, &mut || set(&shared));
    done.get()
}

fn event(contender: &str) -> usize {
    match contender {
        "unisync" => fan_out(
            Rc::new(unisync::Event::new()),
            |ev| async move { ev.wait().await },
            |ev| ev.set(),
        ),
        "tokio-notify" => fan_out(
            Rc::new(tokio::sync::Notify::new()),
            |n| async move {
                let mut notified = pin!(n.notified());
                notified.as_mut().enable();
                notified.await;
            },
            |n| n.notify_waiters(),
        ),
        "event-listener" => fan_out(
            Rc::new(FlagEvent::default()),
            |ev| async move {
                while !ev.flag.load(SeqCst) {
                    let listener = ev.event.listen();
                    if ev.flag.load(SeqCst) {
                        break;
                    }
                    listener.await;
                }
            },
            |ev| {
                ev.flag.store(true, SeqCst);
                ev.event.notify(usize::MAX);
            },
        ),
        "futures-intrusive" => fan_out(
            Rc::new(futures_intrusive::sync::ManualResetEvent::new(false)),
            |ev| async move { ev.wait().await },
            |ev| ev.set(),
        ),
        "tokio-watch" => fan_out(
            Rc::new(tokio::sync::watch::channel(false).0),
            |tx| async move {
                let mut rx = tx.subscribe();
                let mut changed = pin!(rx.changed());
                if poll!(changed.as_mut()).is_pending() {
                    changed.await.unwrap();
                }
            },
            |tx| tx.send(true).unwrap(),
        ),
        _ => unknown("event", contender),
    }
}

/// Turns each task takes in the condvar ping-pong.
const TURNS: usize = 1000;
/// Tasks meeting at the condvar barrier.
const MEETING: usize = 64;
/// Times they meet.
const MEETINGS: usize = 100;

fn condvar_ping_pong(contender: &str) -> usize {
    match contender {
        "unisync" => repeat(
            2,
            TURNS,
            (unisync::Mutex::new(0usize), unisync::Condvar::new()),
            async |(count, cv), me| {
                let mut guard = cv.wait_while(count.lock().await, |n| *n % 2 != me).await;
                *guard += 1;
                drop(guard);
                cv.notify_one();
            },
        ),
        "async-std" => repeat(
            2,
            TURNS,
            (
                async_std::sync::Mutex::new(0usize),
                async_std::sync::Condvar::new(),
            ),
            async |(count, cv), me| {
                let mut guard = cv.wait_until(count.lock().await, |n| *n % 2 == me).await;
                *guard += 1;
                drop(guard);
                cv.notify_one();
            },
        ),
        "tokio-notify" => repeat(
            2,
            TURNS,
            (tokio::sync::Mutex::new(0usize), tokio::sync::Notify::new()),
            async |(count, notify), me| {
                let mut guard = count.lock().await;
                while *guard % 2 != me {
                    let mut notified = pin!(notify.notified());
                    notified.as_mut().enable();
                    drop(guard);
                    notified.await;
                    guard = count.lock().await;
                }
                *guard += 1;
                drop(guard);
                notify.notify_one();
            },
        ),
        _ => unknown("condvar-ping-pong", contender),
    }
}

fn condvar_notify_all(contender: &str) -> usize {
    match contender {
        "unisync" => repeat(
            MEETING,
            MEETINGS,
            (
                unisync::Mutex::new(Meeting::new(MEETING)),
                unisync::Condvar::new(),
            ),
            async |(state, cv), _| {
                let mut guard = state.lock().await;
                let round = guard.round;
                if guard.arrive() {
                    drop(guard);
                    cv.notify_all();
                } else {
                    drop(cv.wait_while(guard, |s| s.round == round).await);
                }
            },
        ),
        "async-std" => repeat(
            MEETING,
            MEETINGS,
            (
                async_std::sync::Mutex::new(Meeting::new(MEETING)),
                async_std::sync::Condvar::new(),
            ),
            async |(state, cv), _| {
                let mut guard = state.lock().await;
                let round = guard.round;
                if guard.arrive() {
                    drop(guard);
                    cv.notify_all();
                } else {
                    drop(cv.wait_until(guard, |s| s.round != round).await);
                }
            },
        ),
        "tokio-notify" => repeat(
            MEETING,
            MEETINGS,
            (
                tokio::sync::Mutex::new(Meeting::new(MEETING)),
                tokio::sync::Notify::new(),
            ),
            async |(state, notify), _| {
                let mut guard = state.lock().await;
                let round = guard.round;
                if guard.arrive() {
                    drop(guard);
                    notify.notify_waiters();
                    return;
                }
                while guard.round == round {
                    let mut notified = pin!(notify.notified());
                    notified.as_mut().enable();
                    drop(guard);
                    notified.await;
                    guard = state.lock().await;
                }
            },
        ),
        _ => unknown("condvar-notify-all", contender),
    }
}

fn unknown(workload: &str, contender: &str) -> ! {
    panic!("no contender `{contender}` for workload `{workload}`; see PAIRS in this file")
}

/// Runs one pair once; returns the operations done and how many were expected.
fn run(workload: &str, contender: &str) -> (usize, usize) {
    match workload {
        "yield-only" => (yield_only(contender), TASKS * OPS),
        "mutex" => (mutex(contender), TASKS * OPS),
        "semaphore" => (semaphore(contender, false), TASKS * OPS),
        "semaphore-mixed" => (semaphore(contender, true), TASKS * OPS),
        "rwlock-read-heavy" => (rwlock(contender, 20), TASKS * OPS),
        "rwlock-write-heavy" => (rwlock(contender, 2), TASKS * OPS),
        "barrier" => (barrier(contender), PARTIES * ROUNDS),
        "event" => (event(contender), WAITERS),
        "condvar-ping-pong" => (condvar_ping_pong(contender), 2 * TURNS),
        "condvar-notify-all" => (condvar_notify_all(contender), MEETING * MEETINGS),
        _ => panic!("no workload `{workload}`; see PAIRS in this file"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything starting with `-` is not ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let pairs: Vec<(&str, &str)> = match args.as_slice() {
        [] => PAIRS
            .iter()
            .flat_map(|(w, cs)| cs.iter().map(move |c| (*w, *c)))
            .collect(),
        [workload, contender] => vec![(workload.as_str(), contender.as_str())],
        _ => panic!("usage: instructions [<workload> <contender>]"),
    };
    for (workload, contender) in pairs {
        let (done, expected) = run(workload, contender);
        assert_eq!(done, expected, "{workload}/{contender} lost operations");
        println!("{workload}/{contender}: {done} operations");
    }
}

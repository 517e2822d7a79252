//! Workers on two runtimes and a plain thread move through phases together on one
//! `unisync::Barrier`.
//!
//! Three tokio tasks (on a multi-thread runtime), three smol tasks (on a smol executor driven
//! by its own thread) and one plain thread (with the `_blocking` methods) each contribute a
//! value per phase to a shared `unisync::Mutex<Vec<_>>`, then wait at the barrier. The party
//! the barrier names leader checks and sums the phase's contributions and advances the phase
//! counter; a second wait keeps everybody else from starting the next phase before it is done:
//!
//! ```text
//! cargo run --example phases
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use unisync::{Barrier, Mutex};

/// Phases every worker goes through.
const PHASES: usize = 5;
/// Workers that run as tokio tasks.
const TOKIO_WORKERS: usize = 3;
/// Workers that run as smol tasks.
const SMOL_WORKERS: usize = 3;
/// Workers that run on plain threads.
const THREAD_WORKERS: usize = 1;
/// Every worker is a party of the barrier.
const PARTIES: usize = TOKIO_WORKERS + SMOL_WORKERS + THREAD_WORKERS;
/// The whole run must finish within this time, or the program fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// One worker's part of one phase.
#[derive(Debug, Clone, Copy)]
struct Contribution {
    worker: usize,
    phase: usize,
    value: u64,
}

/// What the leader of a phase found.
#[derive(Debug)]
struct PhaseReport {
    phase: usize,
    contributions: usize,
    sum: u64,
    leader: usize,
}

/// Shared by every worker, whatever runs it.
struct Shared {
    barrier: Barrier,
    /// Contributions of the phase in progress; the leader empties it.
    contributions: Mutex<Vec<Contribution>>,
    /// The phase everybody is in; only a leader advances it.
    phase: AtomicUsize,
    /// One entry per finished phase, written by its leader.
    reports: Mutex<Vec<PhaseReport>>,
}

/// What worker `worker` contributes in `phase`: distinct per worker and phase.
fn value(worker: usize, phase: usize) -> u64 {
    ((phase + 1) * 100 + worker) as u64
}

/// What the leader must find in `phase`.
fn expected_sum(phase: usize) -> u64 {
    (0..PARTIES).map(|worker| value(worker, phase)).sum()
}

/// Which runtime runs `worker`, for the printout.
fn runtime_of(worker: usize) -> &'static str {
    if worker < TOKIO_WORKERS {
        "tokio"
    } else if worker < TOKIO_WORKERS + SMOL_WORKERS {
        "smol"
    } else {
        "thread"
    }
}

/// The leader's work between two phases; `drained` is the phase's contributions.
fn finish_phase(shared: &Shared, phase: usize, leader: usize, drained: Vec<Contribution>) {
    let mut workers: Vec<usize> = drained.iter().map(|c| c.worker).collect();
    workers.sort_unstable();
    assert_eq!(
        workers,
        (0..PARTIES).collect::<Vec<_>>(),
        "phase {phase}: every worker contributes exactly once"
    );
    assert!(drained.iter().all(|c| c.phase == phase));
    let sum = drained.iter().map(|c| c.value).sum();
    assert_eq!(sum, expected_sum(phase));
    let report = PhaseReport {
        phase,
        contributions: drained.len(),
        sum,
        leader,
    };
    println!(
        "phase {}: {} contributions, sum {}, leader worker {} ({})",
        report.phase,
        report.contributions,
        report.sum,
        report.leader,
        runtime_of(leader)
    );
    // Only the leader writes these, and nobody reads them before the second wait.
    shared
        .reports
        .try_lock()
        .expect("no one else touches the reports")
        .push(report);
    let was = shared.phase.fetch_add(1, Ordering::SeqCst);
    assert_eq!(was, phase);
}

/// A worker as an async task; the same code runs on tokio and on smol. Returns how many
/// phases it led.
async fn worker(shared: Arc<Shared>, id: usize) -> usize {
    let mut led = 0;
    for phase in 0..PHASES {
        // The second wait of the previous phase let nobody through before the leader was done.
        assert_eq!(shared.phase.load(Ordering::SeqCst), phase);
        shared.contributions.lock().await.push(Contribution {
            worker: id,
            phase,
            value: value(id, phase),
        });

        // Everybody has contributed once this returns.
        let arrived = shared.barrier.wait().await.expect("never aborted");
        if arrived.is_leader() {
            led += 1;
            let drained = std::mem::take(&mut *shared.contributions.lock().await);
            finish_phase(&shared, phase, id, drained);
        }
        // The leader's work is done once this returns.
        shared.barrier.wait().await.expect("never aborted");
    }
    led
}

/// The same worker on a plain thread, with `wait_blocking` and `lock_blocking`.
fn thread_worker(shared: &Shared, id: usize) -> usize {
    let mut led = 0;
    for phase in 0..PHASES {
        assert_eq!(shared.phase.load(Ordering::SeqCst), phase);
        shared.contributions.lock_blocking().push(Contribution {
            worker: id,
            phase,
            value: value(id, phase),
        });
        let arrived = shared.barrier.wait_blocking().expect("never aborted");
        if arrived.is_leader() {
            led += 1;
            let drained = std::mem::take(&mut *shared.contributions.lock_blocking());
            finish_phase(shared, phase, id, drained);
        }
        shared.barrier.wait_blocking().expect("never aborted");
    }
    led
}

fn main() {
    let started = Instant::now();
    // A stuck barrier would hang every worker: fail the run instead.
    std::thread::spawn(|| {
        std::thread::sleep(RUN_LIMIT);
        eprintln!("the run did not finish within {RUN_LIMIT:?}");
        std::process::exit(1);
    });

    let shared = Arc::new(Shared {
        barrier: Barrier::new(PARTIES),
        contributions: Mutex::new(Vec::with_capacity(PARTIES)),
        phase: AtomicUsize::new(0),
        reports: Mutex::new(Vec::with_capacity(PHASES)),
    });

    // smol tasks on an executor that a thread of its own drives.
    let smol_thread = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let executor = smol::Executor::new();
            let tasks: Vec<_> = (TOKIO_WORKERS..TOKIO_WORKERS + SMOL_WORKERS)
                .map(|id| executor.spawn(worker(shared.clone(), id)))
                .collect();
            smol::block_on(executor.run(async {
                let mut led = Vec::new();
                for task in tasks {
                    led.push(task.await);
                }
                led
            }))
        })
    };

    // Plain threads.
    let threads: Vec<_> = (TOKIO_WORKERS + SMOL_WORKERS..PARTIES)
        .map(|id| {
            let shared = shared.clone();
            std::thread::spawn(move || thread_worker(&shared, id))
        })
        .collect();

    // tokio tasks on a multi-thread runtime, driven from the main thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    let mut led = runtime.block_on(async {
        let tasks: Vec<_> = (0..TOKIO_WORKERS)
            .map(|id| tokio::spawn(worker(shared.clone(), id)))
            .collect();
        let mut led = Vec::new();
        for task in tasks {
            led.push(task.await.expect("tokio worker panicked"));
        }
        led
    });
    led.extend(smol_thread.join().expect("smol thread panicked"));
    led.extend(
        threads
            .into_iter()
            .map(|t| t.join().expect("worker thread panicked")),
    );

    let reports = shared.reports.try_lock().expect("every worker is done");
    let total: u64 = reports.iter().map(|r| r.sum).sum();
    let leaders = |runtime: &str| {
        (0..PARTIES)
            .filter(|&id| runtime_of(id) == runtime)
            .map(|id| led[id])
            .sum::<usize>()
    };
    println!(
        "{PHASES} phases, {PARTIES} workers ({TOKIO_WORKERS} tokio, {SMOL_WORKERS} smol, \
         {THREAD_WORKERS} thread), one barrier"
    );
    println!(
        "leaders:  tokio {}, smol {}, thread {}",
        leaders("tokio"),
        leaders("smol"),
        leaders("thread")
    );
    println!("total:    {total}");
    println!("elapsed:  {:.2?}", started.elapsed());

    // Exactly one leader per phase, and each phase was finished once, in order.
    assert_eq!(led.iter().sum::<usize>(), PHASES);
    assert_eq!(reports.len(), PHASES);
    assert!(reports.iter().enumerate().all(|(i, r)| r.phase == i));
    assert_eq!(total, (0..PHASES).map(expected_sum).sum());
    assert_eq!(shared.phase.load(Ordering::SeqCst), PHASES);
    assert!(shared
        .contributions
        .try_lock()
        .expect("every worker is done")
        .is_empty());
    println!("ok: every phase had one leader and every worker's contribution exactly once");
}

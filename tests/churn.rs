//! Churn: tokio, smol and async-std tasks and plain threads share one `Mutex`, `Semaphore`,
//! `RwLock`, `Event`, `WaitGroup` and tree of `ShutdownSignal`s, while a random fraction of
//! waits is cancelled (dropped after a random number of polls, or by a runtime timeout) or
//! times out in the blocking API.
//!
//! At the end every count matches, every permit, token and drain guard is back, no wait
//! completed on a signal that had not fired, and the number of live heap allocations has not
//! grown between two identical rounds (a leaked listener, a lost permit or a child signal
//! left registered would show up as growth or a hang).
//!
//! `UNISYNC_CHURN_OPS` sets the operations per round (default 40,000; CI runs 1,000,000, in a
//! debug build so that the crate's debug assertions check it; set it higher, or run it with
//! `--release`, for a longer soak).
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::{limit, live_allocs, no_stall, Progress, Rng};
use unisync::{Event, Mutex, RwLock, Semaphore, ShutdownSignal, WaitGroup};

// Counts the live heap allocations of the whole process (`live_allocs`).
common::counting_allocator!();

const PERMITS: usize = 3;

struct Shared {
    mutex: Mutex<u64>,
    sem: Semaphore,
    rw: RwLock<u64>,
    event: Event,
    /// Increments that completed, to compare with the mutex and the write lock.
    mutex_done: AtomicUsize,
    rw_done: AtomicUsize,
    /// Holders of the semaphore right now; never above `PERMITS`.
    holders: AtomicUsize,
    over: AtomicBool,
    /// Tokens are held across a yield; waits for zero are bounded.
    group: WaitGroup,
    /// Never triggered: every generation is a child of it.
    root: ShutdownSignal,
    /// The current generation: a child of `root` that the driver fires and replaces. Tasks
    /// make children of it, track guards under them, wait and drain.
    generation: std::sync::Mutex<ShutdownSignal>,
    /// Shutdown waits that completed, and whether one did on a signal that had not fired.
    fired: AtomicUsize,
    premature: AtomicBool,
    /// Operations started, for the deadlock guard: a hang is a stretch without one, however
    /// long the whole run is.
    progress: Progress,
}

impl Shared {
    fn generation(&self) -> ShutdownSignal {
        self.generation.lock().unwrap().clone()
    }

    /// Checks that a completed shutdown wait's signal has fired.
    fn fired(&self, signal: &ShutdownSignal) {
        self.fired.fetch_add(1, SeqCst);
        if !signal.is_triggered() {
            self.premature.store(true, SeqCst);
        }
    }
}

/// Yields to the executor once.
async fn yield_now() {
    let _ = limit(std::future::pending::<()>(), 1).await;
}

async fn async_op(s: &Shared, rng: &mut Rng) {
    s.progress.step();
    let cancel = rng.below(4) == 0;
    let polls = rng.below(4) as u32;
    match rng.below(6) {
        0 => {
            if cancel {
                if let Some(mut g) = limit(s.mutex.lock(), polls).await {
                    *g += 1;
                    s.mutex_done.fetch_add(1, SeqCst);
                }
            } else {
                *s.mutex.lock().await += 1;
                s.mutex_done.fetch_add(1, SeqCst);
            }
        }
        1 => {
            let n = 1 + rng.below(PERMITS as u64) as usize;
            let permit = if cancel {
                limit(s.sem.acquire_many(n), polls).await
            } else {
                Some(s.sem.acquire_many(n).await)
            };
            if let Some(permit) = permit {
                let permit = permit.expect("never closed");
                if s.holders.fetch_add(n, SeqCst) + n > PERMITS {
                    s.over.store(true, SeqCst);
                }
                s.holders.fetch_sub(n, SeqCst);
                drop(permit);
            }
        }
        2 => {
            if rng.below(3) == 0 {
                let g = if cancel {
                    limit(s.rw.write(), polls).await
                } else {
                    Some(s.rw.write().await)
                };
                if let Some(mut g) = g {
                    *g += 1;
                    s.rw_done.fetch_add(1, SeqCst);
                }
            } else if let Some(g) = limit(s.rw.read(), polls + 2).await {
                std::hint::black_box(*g);
            }
        }
        3 => {
            // The event is toggled by the driver; waits here are mostly cancelled.
            let _ = limit(s.event.wait(), polls).await;
        }
        4 => {
            if rng.below(2) == 0 {
                let token = s.group.token();
                yield_now().await;
                drop(token);
            } else {
                // Others take tokens all the time: a zero may be long in coming.
                let _ = limit(s.group.wait(), polls + 1).await;
            }
        }
        _ => {
            let generation = s.generation();
            let child = generation.child();
            let guard = child.track();
            match rng.below(4) {
                0 => {
                    if limit(child.wait(), polls).await.is_some() {
                        s.fired(&child);
                    }
                }
                1 => {
                    // Closed on its own: its waits complete at once.
                    child.trigger();
                    child.wait().await;
                    s.fired(&child);
                }
                2 => {
                    drop(guard);
                    if limit(generation.drained(), polls).await.is_some() {
                        s.fired(&generation);
                    }
                    return;
                }
                _ => {
                    if limit(generation.wait_owned(), polls).await.is_some() {
                        s.fired(&generation);
                    }
                }
            }
            yield_now().await;
            drop(guard);
        }
    }
}

fn blocking_op(s: &Shared, rng: &mut Rng) {
    s.progress.step();
    let timeout = Duration::from_micros(rng.below(200));
    match rng.below(5) {
        0 => {
            if let Some(mut g) = s.mutex.lock_blocking_timeout(timeout) {
                *g += 1;
                s.mutex_done.fetch_add(1, SeqCst);
            }
        }
        1 => {
            let n = 1 + rng.below(PERMITS as u64) as usize;
            if let Ok(permit) = s.sem.acquire_many_blocking_timeout(n, timeout) {
                if s.holders.fetch_add(n, SeqCst) + n > PERMITS {
                    s.over.store(true, SeqCst);
                }
                s.holders.fetch_sub(n, SeqCst);
                drop(permit);
            }
        }
        2 => {
            if rng.below(2) == 0 {
                if let Some(mut g) = s.rw.write_blocking_timeout(timeout) {
                    *g += 1;
                    s.rw_done.fetch_add(1, SeqCst);
                }
            } else if let Some(g) = s.rw.read_blocking_timeout(timeout) {
                std::hint::black_box(*g);
            }
        }
        3 => {
            if rng.below(2) == 0 {
                let token = s.group.token();
                std::thread::yield_now();
                drop(token);
            } else {
                let _ = s.group.wait_blocking_timeout(timeout);
            }
        }
        _ => {
            let generation = s.generation();
            if rng.below(2) == 0 {
                let child = generation.child();
                let guard = child.track();
                if child.wait_blocking_timeout(timeout) {
                    s.fired(&child);
                }
                drop(guard);
            } else if generation.drained_blocking_timeout(timeout) {
                s.fired(&generation);
            }
        }
    }
}

/// Runs one round of `ops` operations split over every runtime and some threads.
fn round(shared: &Arc<Shared>, ops: usize, seed: u64, rt: &tokio::runtime::Runtime) {
    let per = ops / 8;
    let mut joins: Vec<std::thread::JoinHandle<()>> = Vec::new();
    // Plain threads, blocking API with timeouts.
    for t in 0..2u64 {
        let s = shared.clone();
        joins.push(std::thread::spawn(move || {
            let mut rng = Rng::new(seed ^ (0x9E37 + t));
            for _ in 0..per {
                blocking_op(&s, &mut rng);
            }
        }));
    }
    // smol tasks on an executor driven by two threads.
    {
        let s = shared.clone();
        joins.push(std::thread::spawn(move || {
            let ex = Arc::new(smol::Executor::new());
            let tasks: Vec<_> = (0..2u64)
                .map(|t| {
                    let s = s.clone();
                    ex.spawn(async move {
                        let mut rng = Rng::new(seed ^ (0x51 + t));
                        for _ in 0..per {
                            async_op(&s, &mut rng).await;
                        }
                    })
                })
                .collect();
            let (done_tx, done_rx) = smol::channel::bounded::<()>(1);
            let helper = {
                let ex = ex.clone();
                std::thread::spawn(move || smol::block_on(ex.run(done_rx.recv())))
            };
            smol::block_on(ex.run(async {
                for t in tasks {
                    t.await;
                }
            }));
            drop(done_tx);
            let _ = helper.join();
        }));
    }
    // async-std tasks.
    {
        let s = shared.clone();
        joins.push(std::thread::spawn(move || {
            async_std::task::block_on(async {
                let tasks: Vec<_> = (0..2u64)
                    .map(|t| {
                        let s = s.clone();
                        async_std::task::spawn(async move {
                            let mut rng = Rng::new(seed ^ (0xA5 + t));
                            for _ in 0..per {
                                async_op(&s, &mut rng).await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await;
                }
            })
        }));
    }
    // tokio tasks, some cancelled by the runtime's own timer.
    rt.block_on(async {
        let mut handles = Vec::new();
        for t in 0..2u64 {
            let s = shared.clone();
            handles.push(tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ (0x70 + t));
                for _ in 0..per {
                    if rng.below(8) == 0 {
                        let d = Duration::from_micros(rng.below(50));
                        let _ =
                            tokio::time::timeout(d, async_op(&s, &mut Rng::new(rng.next()))).await;
                    } else {
                        async_op(&s, &mut rng).await;
                    }
                }
            }));
        }
        // Toggle the event, and fire and replace the shutdown generation, while the others
        // run.
        let s = shared.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..200 {
                if i % 2 == 0 {
                    s.event.set();
                } else {
                    s.event.clear();
                }
                if i % 4 == 0 {
                    let fresh = s.root.child();
                    let old = std::mem::replace(&mut *s.generation.lock().unwrap(), fresh);
                    old.trigger();
                }
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
        }));
        for h in handles {
            h.await.unwrap();
        }
    });
    for j in joins {
        j.join().unwrap();
    }
}

#[test]
fn churn_across_runtimes_and_threads() {
    // A lost wake-up shows up as a hang: every operation is bounded, so a stretch without a
    // new one fails the test whatever `ops` is.
    no_stall(|progress| {
        let ops: usize = std::env::var("UNISYNC_CHURN_OPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(40_000);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared {
            mutex: Mutex::new(0),
            sem: Semaphore::new(PERMITS),
            rw: RwLock::new(0),
            event: Event::new(),
            mutex_done: AtomicUsize::new(0),
            rw_done: AtomicUsize::new(0),
            holders: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            group: WaitGroup::new(),
            root: ShutdownSignal::new(),
            generation: std::sync::Mutex::new(ShutdownSignal::new()),
            fired: AtomicUsize::new(0),
            premature: AtomicBool::new(false),
            progress,
        });
        *shared.generation.lock().unwrap() = shared.root.child();

        // Warm-up round: runtimes, thread pools and the events' lists allocate what they keep.
        round(&shared, ops / 4, 1, &rt);
        let before = live_allocs();
        round(&shared, ops, 2, &rt);
        round(&shared, ops, 3, &rt);
        let after = live_allocs();
        println!(
            "churn: {ops} operations per round, mutex {} / rwlock {} increments, {} shutdown \
             waits completed, live allocations {before} -> {after}",
            shared.mutex_done.load(SeqCst),
            shared.rw_done.load(SeqCst),
            shared.fired.load(SeqCst)
        );

        let s = &*shared;
        assert!(!s.over.load(SeqCst), "more semaphore holders than permits");
        assert_eq!(s.sem.available_permits(), PERMITS, "a permit was lost");
        assert_eq!(
            *s.mutex.try_lock().expect("mutex left locked"),
            s.mutex_done.load(SeqCst) as u64
        );
        assert_eq!(
            *s.rw.try_write().expect("rwlock left locked"),
            s.rw_done.load(SeqCst) as u64
        );
        // The event is usable: setting it completes a wait at once.
        s.event.set();
        assert!(s.event.wait_blocking_timeout(Duration::from_secs(5)));
        assert!(
            !s.premature.load(SeqCst),
            "a shutdown wait completed before its signal fired"
        );
        assert_eq!(s.group.count(), 0, "a wait group token was lost");
        assert!(s.group.wait_blocking_timeout(Duration::from_secs(5)));
        assert_eq!(s.root.tracked(), 0, "a drain guard was lost");
        assert!(!s.root.is_triggered(), "a child's trigger reached the root");
        // The tree still works: the root's trigger reaches the current generation and its
        // children, and everything drains.
        let generation = s.generation();
        let child = generation.child();
        s.root.trigger();
        assert!(generation.is_triggered() && child.is_triggered());
        assert!(s.root.drained_blocking_timeout(Duration::from_secs(5)));
        // Runtimes keep small caches; a leak per cancelled wait would be thousands.
        let growth = after - before;
        assert!(
            growth < 256,
            "live allocations grew by {growth} over two rounds of {ops} operations"
        );
    });
}

//! Prints how long waiters wait under contention: p50, p99 and max per primitive.
//!
//! `cargo run --release --example fairness`
//!
//! This is a report, not a test: the numbers depend on the machine. The test suite bounds the
//! longest wait with generous limits; this shows the distribution.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use unisync::{Mutex, RwLock, Semaphore};

const TASKS: usize = 32;
const RUN: Duration = Duration::from_millis(400);

fn report(name: &str, mut waits: Vec<Duration>) {
    waits.sort();
    let pick = |q: f64| waits[((waits.len() - 1) as f64 * q) as usize];
    println!(
        "{name:<34} n={:>7}  p50={:>9.1?}  p99={:>9.1?}  max={:>9.1?}",
        waits.len(),
        pick(0.50),
        pick(0.99),
        waits[waits.len() - 1]
    );
}

/// Runs `TASKS` tasks on a 2-worker tokio runtime, each timing `op` until `RUN` has passed.
fn contend<F, Fut>(op: F) -> Vec<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (op, stop) = (op.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut waits = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        op(i).await;
                        waits.push(start.elapsed());
                        tokio::task::yield_now().await;
                    }
                    waits
                })
            })
            .collect();
        tokio::time::sleep(RUN).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    })
}

fn main() {
    let mutex = Arc::new(Mutex::new(0u64));
    report(
        "Mutex lock (32 tasks)",
        contend(move |_| {
            let m = mutex.clone();
            async move {
                let mut g = m.lock().await;
                *g += 1;
                std::hint::black_box(&*g);
            }
        }),
    );

    let sem = Arc::new(Semaphore::new(4));
    let big = Arc::new(std::sync::Mutex::new(Vec::new()));
    let big2 = big.clone();
    let small = contend(move |i| {
        let (sem, big) = (sem.clone(), big2.clone());
        async move {
            let n = if i == 0 { 4 } else { 1 };
            let start = Instant::now();
            let p = sem.acquire_many(n).await.unwrap();
            if n == 4 {
                big.lock().unwrap().push(start.elapsed());
            }
            tokio::task::yield_now().await;
            drop(p);
        }
    });
    report("Semaphore acquires (all 32 tasks)", small);
    report(
        "Semaphore acquire_many(4) (1 task)",
        big.lock().unwrap().clone(),
    );

    let lock = Arc::new(RwLock::new(0u64));
    let writes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writes2 = writes.clone();
    let reads = contend(move |i| {
        let (lock, writes) = (lock.clone(), writes2.clone());
        async move {
            if i % 8 == 0 {
                let start = Instant::now();
                *lock.write().await += 1;
                writes.lock().unwrap().push(start.elapsed());
            } else {
                let g = lock.read().await;
                std::hint::black_box(*g);
                tokio::task::yield_now().await;
            }
        }
    });
    report("RwLock read+write mix (all ops)", reads);
    report("RwLock write under readers", writes.lock().unwrap().clone());
}

//! One `Semaphore` and one `Mutex` shared at the same time by tokio tasks, async-std tasks,
//! smol tasks and plain threads.
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use unisync::{Mutex, Semaphore};

const PERMITS: usize = 3;
const WORKERS_PER_GROUP: usize = 4;
const ITERS: usize = 150;

/// What every party shares.
struct Shared {
    sem: Semaphore,
    count: Mutex<u64>,
    in_use: AtomicUsize,
    max_in_use: AtomicUsize,
}

impl Shared {
    fn enter(&self, n: usize) {
        let now = self.in_use.fetch_add(n, Ordering::SeqCst) + n;
        self.max_in_use.fetch_max(now, Ordering::SeqCst);
        assert!(now <= PERMITS, "{now} permits in use");
    }

    fn leave(&self, n: usize) {
        self.in_use.fetch_sub(n, Ordering::SeqCst);
    }
}

/// Odd workers take two permits at a time, so the weighted path runs too.
fn weight(worker: usize) -> usize {
    1 + worker % 2
}

async fn async_worker(s: Arc<Shared>, worker: usize) {
    let n = weight(worker);
    for i in 0..ITERS {
        let permit = s.sem.acquire_many(n).await.unwrap();
        s.enter(n);
        {
            let mut g = s.count.lock().await;
            *g += 1;
            if i % 4 == 0 {
                // Hold the lock across a yield now and then.
                common::yield_once().await;
            }
        }
        common::yield_once().await;
        s.leave(n);
        drop(permit);
    }
}

fn blocking_worker(s: &Shared, worker: usize) {
    let n = weight(worker);
    for _ in 0..ITERS {
        let permit = s.sem.acquire_many_blocking(n).unwrap();
        s.enter(n);
        *s.count.lock_blocking() += 1;
        thread::yield_now();
        s.leave(n);
        drop(permit);
    }
}

#[test]
fn tokio_async_std_smol_and_threads_share_one_mutex_and_semaphore() {
    let s = Arc::new(Shared {
        sem: Semaphore::new(PERMITS),
        count: Mutex::new(0),
        in_use: AtomicUsize::new(0),
        max_in_use: AtomicUsize::new(0),
    });

    // tokio: a multi-thread runtime with two workers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tokio_tasks: Vec<_> = (0..WORKERS_PER_GROUP)
        .map(|w| rt.spawn(async_worker(s.clone(), w)))
        .collect();

    // async-std: its global executor.
    let async_std_tasks: Vec<_> = (0..WORKERS_PER_GROUP)
        .map(|w| async_std::task::spawn(async_worker(s.clone(), w)))
        .collect();

    // smol: an executor driven by two threads until told to stop.
    let ex = Arc::new(smol::Executor::new());
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let smol_tasks: Vec<_> = (0..WORKERS_PER_GROUP)
        .map(|w| ex.spawn(async_worker(s.clone(), w)))
        .collect();
    let smol_threads: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stop_rx) = (ex.clone(), stop_rx.clone());
            thread::spawn(move || {
                smol::block_on(ex.run(async move {
                    let _ = stop_rx.recv().await;
                }))
            })
        })
        .collect();

    // Plain threads.
    let threads: Vec<_> = (0..WORKERS_PER_GROUP)
        .map(|w| {
            let s = s.clone();
            thread::spawn(move || blocking_worker(&s, w))
        })
        .collect();

    rt.block_on(async {
        for t in tokio_tasks {
            t.await.unwrap();
        }
    });
    async_std::task::block_on(async {
        for t in async_std_tasks {
            t.await;
        }
    });
    futures::executor::block_on(async {
        for t in smol_tasks {
            t.await;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    drop(stop_tx);
    for t in smol_threads {
        t.join().unwrap();
    }

    let expected = (4 * WORKERS_PER_GROUP * ITERS) as u64;
    assert_eq!(
        *s.count.try_lock().unwrap(),
        expected,
        "every increment counted"
    );
    let max = s.max_in_use.load(Ordering::SeqCst);
    assert!(
        max <= PERMITS,
        "at most {PERMITS} permits in use, saw {max}"
    );
    assert!(max >= 2, "the run never overlapped (max {max})");
    assert_eq!(s.in_use.load(Ordering::SeqCst), 0);
    assert_eq!(s.sem.available_permits(), PERMITS, "no permit lost");
    assert!(!s.count.is_locked());
}

//! The behaviours async-std's and futures-rs's test suites check for their locks, restated
//! against unisync's API.
//!
//! Sources: async-rs/async-std `tests/condvar.rs` and the tests in `src/sync/barrier.rs`;
//! rust-lang/futures-rs `futures/tests/lock_mutex.rs`. futures-test's `pending_once` becomes
//! `common::yield_once`; futures' `ThreadPool` becomes a tokio multi-thread runtime. The
//! `quadratic_performance_test` there only prints timings: here it checks that every locker
//! finishes, and is restated for the semaphore and the rwlock too. Where the originals sleep to
//! let tasks settle, these tests wait for a state they can observe; no assertion depends on
//! wall-clock time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{no_deadlock, poll_once, yield_once, Counter};
use futures::executor::block_on;
use futures::FutureExt;
use unisync::{Barrier, Condvar, Mutex, RwLock, Semaphore};

// ---------------------------------------------------------------------------------------------
// async-std
// ---------------------------------------------------------------------------------------------

/// Port of async-std's `tests/condvar.rs::notify_all`: one `notify_all` releases ten tasks.
#[test]
fn condvar_notify_all() {
    no_deadlock(|| {
        async_std::task::block_on(async {
            let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
            let waiting = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..10 {
                let (pair, waiting) = (pair.clone(), waiting.clone());
                tasks.push(async_std::task::spawn(async move {
                    let (m, c) = &*pair;
                    let mut count = m.lock().await;
                    waiting.fetch_add(1, Ordering::SeqCst);
                    while *count == 0 {
                        count = c.wait(count).await;
                    }
                    *count += 1;
                }));
            }
            // Instead of sleeping: every task has counted itself in under the lock, and the
            // lock is released only once it is queued on the condvar.
            while waiting.load(Ordering::SeqCst) < 10 {
                async_std::task::yield_now().await;
            }
            let (m, c) = &*pair;
            {
                let mut count = m.lock().await;
                *count += 1;
                c.notify_all();
            }
            for t in tasks {
                t.await;
            }
            assert_eq!(*m.lock().await, 11);
        })
    });
}

/// Port of async-std's `src/sync/barrier.rs::test_barrier`: none passes early, one leads.
#[test]
fn barrier_one_leader() {
    use futures::{SinkExt, StreamExt};
    async_std::task::block_on(async {
        const N: usize = 10;
        let barrier = Arc::new(Barrier::new(N));
        let (tx, mut rx) = futures::channel::mpsc::unbounded();
        for _ in 0..N - 1 {
            let (c, mut tx) = (barrier.clone(), tx.clone());
            async_std::task::spawn(async move {
                let res = c.wait().await.unwrap();
                tx.send(res.is_leader()).await.unwrap();
            });
        }
        common::wait_until("nine parties in", || barrier.n_waiting() == N - 1);
        assert!(rx.try_recv().is_err(), "a party passed early");
        let mut leader_found = barrier.wait().await.unwrap().is_leader();
        for _ in 0..N - 1 {
            if rx.next().await.unwrap() {
                assert!(!leader_found);
                leader_found = true;
            }
        }
        assert!(leader_found);
    });
}

// ---------------------------------------------------------------------------------------------
// futures-rs
// ---------------------------------------------------------------------------------------------

/// Port of futures-rs's `lock_mutex.rs::mutex_wakes_waiters`: an unlock wakes the waiter once.
#[test]
fn mutex_wakes_waiters() {
    let mutex = Mutex::new(());
    let lock = mutex.lock().now_or_never();
    assert!(lock.is_some());
    let c = Counter::new();
    let mut waiter = Box::pin(mutex.lock());
    assert!(c.poll(&mut waiter).is_pending());
    assert_eq!(c.count(), 0);
    drop(lock);
    assert_eq!(c.count(), 1);
    assert!(poll_once(&mut waiter).is_ready());
}

/// Port of futures-rs's `lock_mutex.rs::mutex_contested`: 500 pool tasks lose no increment.
#[test]
fn mutex_contested() {
    no_deadlock(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mutex = Arc::new(Mutex::new(0));
        let num_tasks = 500;
        for _ in 0..num_tasks {
            let tx = tx.clone();
            let mutex = mutex.clone();
            rt.spawn(async move {
                let mut lock = mutex.lock().await;
                yield_once().await;
                *lock += 1;
                tx.send(()).unwrap();
                drop(lock);
            });
        }
        for _ in 0..num_tasks {
            rx.recv().unwrap();
        }
        assert_eq!(num_tasks, *block_on(mutex.lock()));
    });
}

/// Port of futures-rs's `lock_mutex.rs::quadratic_performance_test`, as a completion check.
#[test]
fn many_lockers_in_one_futures_unordered_all_finish() {
    use futures::stream::{FuturesUnordered, StreamExt};
    no_deadlock(|| {
        let mutex = Mutex::new(0usize);
        let n = block_on(
            (0..20_000)
                .map(|_| async {
                    let mut g = mutex.lock().await;
                    yield_once().await;
                    *g += 1;
                })
                .collect::<FuturesUnordered<_>>()
                .count(),
        );
        assert_eq!(n, 20_000);
        assert_eq!(*mutex.try_lock().unwrap(), 20_000);
    });
}

/// futures-rs's `quadratic_performance_test` for semaphore acquirers, readers and writers.
#[test]
fn many_acquirers_and_readers_in_one_futures_unordered_all_finish() {
    use futures::stream::{FuturesUnordered, StreamExt};
    no_deadlock(|| {
        let sem = Semaphore::new(3);
        let rw = RwLock::new(0usize);
        let n = block_on(
            (0..6_000)
                .map(|i| {
                    let (sem, rw) = (&sem, &rw);
                    async move {
                        if i % 3 == 0 {
                            let _p = sem.acquire_many(1 + i % 3).await.unwrap();
                            yield_once().await;
                        } else if i % 7 == 0 {
                            let mut w = rw.write().await;
                            yield_once().await;
                            *w += 1;
                        } else {
                            let r = rw.read().await;
                            yield_once().await;
                            drop(r);
                        }
                    }
                })
                .collect::<FuturesUnordered<_>>()
                .count(),
        );
        assert_eq!(n, 6_000);
        assert_eq!(sem.available_permits(), 3);
    });
}

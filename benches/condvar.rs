//! Condvar benchmarks: unisync against its peers, side by side in each group.
//!
//! Peers: async-std's `Condvar` with its `Mutex` (the one async condvar among the peers; built
//! with async-std's `unstable` feature), and what a tokio user writes instead, a
//! `tokio::sync::Mutex` with a `Notify` (the `Notified` future enabled before the guard is
//! dropped, so that no notification falls between the two); for threads, `std::sync` and
//! `parking_lot`.
//!
//! - `condvar/ping-pong-{tokio,smol}/<workers>`: two tasks take turns on one counter, 1,000
//!   turns each: a task waits while it is not its turn, takes it, and wakes the other with
//!   `notify_one`. Nearly every turn parks and is woken.
//! - `condvar/notify-all-{tokio,smol}/<workers>`: 64 tasks meet 100 times at a barrier built
//!   from a mutex and a condvar; the last to arrive starts the next round and wakes the other
//!   63 with `notify_all`.
//! - `condvar/blocking/2`: the ping-pong between two plain threads, with the `_blocking`
//!   waits, against blocking condvars.

mod common;

use std::pin::pin;
use std::sync::Arc;

use common::{config, worker_counts, Exec, Meeting, TASKS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Turns each of the two ping-pong parties takes per iteration.
const TURNS: usize = 1000;
/// Rounds of the notify-all barrier per iteration.
const ROUNDS: usize = 100;

/// Whose turn the counter says it is.
fn turn_of(count: usize) -> usize {
    count % 2
}

fn ping_pong_on(c: &mut Criterion, kind: &str) {
    let name = format!("condvar/ping-pong-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((2 * TURNS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let shared = Arc::new((unisync::Mutex::new(0usize), unisync::Condvar::new()));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| {
                *shared.0.lock_blocking() = 0;
                exec.run_tasks(2, &shared, |me, shared| async move {
                    let (count, cv) = &*shared;
                    for _ in 0..TURNS {
                        let mut guard = cv
                            .wait_while(count.lock().await, |n| turn_of(*n) != me)
                            .await;
                        *guard += 1;
                        drop(guard);
                        cv.notify_one();
                    }
                })
            })
        });
        let shared = Arc::new((
            async_std::sync::Mutex::new(0usize),
            async_std::sync::Condvar::new(),
        ));
        group.bench_function(BenchmarkId::new("async-std", workers), |b| {
            b.iter(|| {
                *shared.0.try_lock().unwrap() = 0;
                exec.run_tasks(2, &shared, |me, shared| async move {
                    let (count, cv) = &*shared;
                    for _ in 0..TURNS {
                        let mut guard = cv
                            .wait_until(count.lock().await, |n| turn_of(*n) == me)
                            .await;
                        *guard += 1;
                        drop(guard);
                        cv.notify_one();
                    }
                })
            })
        });
        let shared = Arc::new((tokio::sync::Mutex::new(0usize), tokio::sync::Notify::new()));
        group.bench_function(BenchmarkId::new("tokio-notify", workers), |b| {
            b.iter(|| {
                *shared.0.try_lock().unwrap() = 0;
                exec.run_tasks(2, &shared, |me, shared| async move {
                    let (count, notify) = &*shared;
                    for _ in 0..TURNS {
                        let mut guard = count.lock().await;
                        while turn_of(*guard) != me {
                            let mut notified = pin!(notify.notified());
                            notified.as_mut().enable();
                            drop(guard);
                            notified.await;
                            guard = count.lock().await;
                        }
                        *guard += 1;
                        drop(guard);
                        notify.notify_one();
                    }
                })
            })
        });
    }
    group.finish();
}

fn ping_pong(c: &mut Criterion) {
    ping_pong_on(c, "tokio");
    ping_pong_on(c, "smol");
}

fn notify_all_on(c: &mut Criterion, kind: &str) {
    let name = format!("condvar/notify-all-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((TASKS * ROUNDS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let shared = Arc::new((
            unisync::Mutex::new(Meeting::new(TASKS)),
            unisync::Condvar::new(),
        ));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| {
                exec.run_tasks(TASKS, &shared, |_, shared| async move {
                    let (state, cv) = &*shared;
                    for _ in 0..ROUNDS {
                        let mut guard = state.lock().await;
                        let round = guard.round;
                        if guard.arrive() {
                            drop(guard);
                            cv.notify_all();
                        } else {
                            drop(cv.wait_while(guard, |s| s.round == round).await);
                        }
                    }
                })
            })
        });
        let shared = Arc::new((
            async_std::sync::Mutex::new(Meeting::new(TASKS)),
            async_std::sync::Condvar::new(),
        ));
        group.bench_function(BenchmarkId::new("async-std", workers), |b| {
            b.iter(|| {
                exec.run_tasks(TASKS, &shared, |_, shared| async move {
                    let (state, cv) = &*shared;
                    for _ in 0..ROUNDS {
                        let mut guard = state.lock().await;
                        let round = guard.round;
                        if guard.arrive() {
                            drop(guard);
                            cv.notify_all();
                        } else {
                            drop(cv.wait_until(guard, |s| s.round != round).await);
                        }
                    }
                })
            })
        });
        let shared = Arc::new((
            tokio::sync::Mutex::new(Meeting::new(TASKS)),
            tokio::sync::Notify::new(),
        ));
        group.bench_function(BenchmarkId::new("tokio-notify", workers), |b| {
            b.iter(|| {
                exec.run_tasks(TASKS, &shared, |_, shared| async move {
                    let (state, notify) = &*shared;
                    for _ in 0..ROUNDS {
                        let mut guard = state.lock().await;
                        let round = guard.round;
                        if guard.arrive() {
                            drop(guard);
                            notify.notify_waiters();
                            continue;
                        }
                        while guard.round == round {
                            let mut notified = pin!(notify.notified());
                            notified.as_mut().enable();
                            drop(guard);
                            notified.await;
                            guard = state.lock().await;
                        }
                    }
                })
            })
        });
    }
    group.finish();
}

fn notify_all(c: &mut Criterion) {
    notify_all_on(c, "tokio");
    notify_all_on(c, "smol");
}

/// Runs the two ping-pong parties on plain threads; `party` gets its number.
fn run_threads_pair<S: Sync>(shared: &S, party: impl Fn(&S, usize) + Sync) {
    std::thread::scope(|scope| {
        for me in 0..2 {
            let party = &party;
            scope.spawn(move || party(shared, me));
        }
    });
}

fn blocking(c: &mut Criterion) {
    let mut group = c.benchmark_group("condvar/blocking");
    group.throughput(Throughput::Elements((2 * TURNS) as u64));

    let shared = (unisync::Mutex::new(0usize), unisync::Condvar::new());
    group.bench_function(BenchmarkId::new("unisync", 2), |b| {
        b.iter(|| {
            *shared.0.lock_blocking() = 0;
            run_threads_pair(&shared, |(count, cv), me| {
                for _ in 0..TURNS {
                    let mut guard =
                        cv.wait_while_blocking(count.lock_blocking(), |n| turn_of(*n) != me);
                    *guard += 1;
                    drop(guard);
                    cv.notify_one();
                }
            })
        })
    });
    let shared = (std::sync::Mutex::new(0usize), std::sync::Condvar::new());
    group.bench_function(BenchmarkId::new("std", 2), |b| {
        b.iter(|| {
            *shared.0.lock().unwrap() = 0;
            run_threads_pair(&shared, |(count, cv), me| {
                for _ in 0..TURNS {
                    let mut guard = cv
                        .wait_while(count.lock().unwrap(), |n| turn_of(*n) != me)
                        .unwrap();
                    *guard += 1;
                    drop(guard);
                    cv.notify_one();
                }
            })
        })
    });
    let shared = (parking_lot::Mutex::new(0usize), parking_lot::Condvar::new());
    group.bench_function(BenchmarkId::new("parking_lot", 2), |b| {
        b.iter(|| {
            *shared.0.lock() = 0;
            run_threads_pair(&shared, |(count, cv), me| {
                for _ in 0..TURNS {
                    let mut guard = count.lock();
                    cv.wait_while(&mut guard, |n| turn_of(*n) != me);
                    *guard += 1;
                    drop(guard);
                    cv.notify_one();
                }
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = ping_pong, notify_all, blocking
}
criterion_main!(benches);

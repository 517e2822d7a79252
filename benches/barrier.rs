//! Barrier benchmarks: unisync against its peers, side by side in each group.
//!
//! - `barrier/rounds-{tokio,smol}/<workers>`: as many parties as worker threads, one task per
//!   party, each passing the barrier 1000 times.
//! - `barrier/blocking/<threads>`: the same with one plain thread per party, as many as there
//!   are cores, against `std::sync::Barrier` (`wait_blocking` for the async barriers).

mod common;

use std::sync::Arc;

use common::{config, cores, worker_counts, Exec};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// Times each party passes the barrier per iteration.
const ROUNDS: usize = 1000;

fn rounds_on(c: &mut Criterion, kind: &str) {
    let name = format!("barrier/rounds-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements(ROUNDS as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let barrier = Arc::new(unisync::Barrier::new(workers));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| {
                exec.run_tasks(workers, &barrier, |_, barrier| async move {
                    for _ in 0..ROUNDS {
                        barrier.wait().await.unwrap();
                    }
                })
            })
        });
        let barrier = Arc::new(tokio::sync::Barrier::new(workers));
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| {
                exec.run_tasks(workers, &barrier, |_, barrier| async move {
                    for _ in 0..ROUNDS {
                        barrier.wait().await;
                    }
                })
            })
        });
        let barrier = Arc::new(async_lock::Barrier::new(workers));
        group.bench_function(BenchmarkId::new("async-lock", workers), |b| {
            b.iter(|| {
                exec.run_tasks(workers, &barrier, |_, barrier| async move {
                    for _ in 0..ROUNDS {
                        barrier.wait().await;
                    }
                })
            })
        });
    }
    group.finish();
}

fn rounds(c: &mut Criterion) {
    rounds_on(c, "tokio");
    rounds_on(c, "smol");
}

/// Runs one plain thread per party, each calling `wait` `ROUNDS` times, and waits for them.
fn rounds_on_threads<B: Sync>(parties: usize, barrier: &B, wait: impl Fn(&B) + Sync) {
    std::thread::scope(|scope| {
        for _ in 0..parties {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    wait(barrier);
                }
            });
        }
    });
}

fn blocking(c: &mut Criterion) {
    let parties = cores();
    let mut group = c.benchmark_group("barrier/blocking");
    group.throughput(Throughput::Elements(ROUNDS as u64));

    let barrier = unisync::Barrier::new(parties);
    group.bench_function(BenchmarkId::new("unisync", parties), |b| {
        b.iter(|| {
            rounds_on_threads(parties, &barrier, |barrier| {
                barrier.wait_blocking().unwrap();
            })
        })
    });
    let barrier = std::sync::Barrier::new(parties);
    group.bench_function(BenchmarkId::new("std", parties), |b| {
        b.iter(|| {
            rounds_on_threads(parties, &barrier, |barrier| {
                barrier.wait();
            })
        })
    });
    let barrier = async_lock::Barrier::new(parties);
    group.bench_function(BenchmarkId::new("async-lock", parties), |b| {
        b.iter(|| {
            rounds_on_threads(parties, &barrier, |barrier| {
                barrier.wait_blocking();
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = rounds, blocking
}
criterion_main!(benches);

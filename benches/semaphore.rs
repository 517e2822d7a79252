//! Semaphore benchmarks: unisync against its peers, side by side in each group.
//!
//! - `semaphore/uncontended`: acquire + release of one permit polled once where it was created
//!   (as `.await` does), no runtime; `semaphore/uncontended-moved`: the same through
//!   `FutureExt::now_or_never`, which moves the future before polling it.
//! - `semaphore/contended-{tokio,smol}/<workers>`: as many permits as workers; 64 tasks each
//!   acquire one permit, do a little work and release it, 100 times.
//! - `semaphore/mixed-{tokio,smol}/<workers>`: the same, but every other task takes two permits
//!   at once (`acquire_many(2)`), so whole-batch waiters compete with single ones.
//! - `semaphore/blocking`: 2 × cores plain threads share `cores` permits, 1000 acquisitions
//!   each; `semaphore/blocking-long`: 200,000 each, so that starting the threads is a small
//!   part of the time. `std` is the semaphore plain-thread code writes without a crate: a
//!   count under a `std::sync::Mutex` and a `Condvar` to wait for it.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::{
    config, cores, poll_once, run_threads, uncontended_name, worker_counts, Exec, LONG_THREAD_OPS,
    OPS, TASKS, THREAD_OPS,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// What a task does while it holds its permits.
fn tiny_work() {
    for i in 0..16u32 {
        black_box(i);
    }
}

fn uncontended<const MOVED: bool>(c: &mut Criterion) {
    let mut group = c.benchmark_group(uncontended_name::<MOVED>("semaphore/uncontended"));

    let s = unisync::Semaphore::new(1);
    group.bench_function("unisync", |b| {
        b.iter(|| drop(poll_once::<MOVED, _>(s.acquire()).unwrap()))
    });
    let s = tokio::sync::Semaphore::new(1);
    group.bench_function("tokio", |b| {
        b.iter(|| drop(poll_once::<MOVED, _>(s.acquire()).unwrap()))
    });
    let s = async_lock::Semaphore::new(1);
    group.bench_function("async-lock", |b| {
        b.iter(|| drop(poll_once::<MOVED, _>(s.acquire())))
    });
    let s = futures_intrusive::sync::Semaphore::new(true, 1);
    group.bench_function("futures-intrusive", |b| {
        b.iter(|| drop(poll_once::<MOVED, _>(s.acquire(1))))
    });
    group.finish();
}

fn contended_on(c: &mut Criterion, kind: &str) {
    let name = format!("semaphore/contended-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((TASKS * OPS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let s = Arc::new(unisync::Semaphore::new(workers));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| {
                exec.run(&s, |_, s| async move {
                    for _ in 0..OPS {
                        let _permit = s.acquire().await.unwrap();
                        tiny_work();
                    }
                })
            })
        });
        let s = Arc::new(tokio::sync::Semaphore::new(workers));
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| {
                exec.run(&s, |_, s| async move {
                    for _ in 0..OPS {
                        let _permit = s.acquire().await.unwrap();
                        tiny_work();
                    }
                })
            })
        });
        let s = Arc::new(async_lock::Semaphore::new(workers));
        group.bench_function(BenchmarkId::new("async-lock", workers), |b| {
            b.iter(|| {
                exec.run(&s, |_, s| async move {
                    for _ in 0..OPS {
                        let _permit = s.acquire().await;
                        tiny_work();
                    }
                })
            })
        });
        let s = Arc::new(futures_intrusive::sync::Semaphore::new(true, workers));
        group.bench_function(BenchmarkId::new("futures-intrusive", workers), |b| {
            b.iter(|| {
                exec.run(&s, |_, s| async move {
                    for _ in 0..OPS {
                        let _permit = s.acquire(1).await;
                        tiny_work();
                    }
                })
            })
        });
    }
    group.finish();
}

/// Even-numbered tasks take two permits at a time, odd-numbered ones take one. async-lock's
/// semaphore has no multi-permit acquire, so it is not in this group.
fn mixed_on(c: &mut Criterion, kind: &str) {
    let name = format!("semaphore/mixed-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((TASKS * OPS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let s = Arc::new(unisync::Semaphore::new(workers));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| {
                exec.run(&s, |i, s| async move {
                    let n = 1 + (i + 1) % 2;
                    for _ in 0..OPS {
                        let _permits = s.acquire_many(n).await.unwrap();
                        tiny_work();
                    }
                })
            })
        });
        let s = Arc::new(tokio::sync::Semaphore::new(workers));
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| {
                exec.run(&s, |i, s| async move {
                    let n = 1 + (i as u32 + 1) % 2;
                    for _ in 0..OPS {
                        let _permits = s.acquire_many(n).await.unwrap();
                        tiny_work();
                    }
                })
            })
        });
        let s = Arc::new(futures_intrusive::sync::Semaphore::new(true, workers));
        group.bench_function(BenchmarkId::new("futures-intrusive", workers), |b| {
            b.iter(|| {
                exec.run(&s, |i, s| async move {
                    let n = 1 + (i + 1) % 2;
                    for _ in 0..OPS {
                        let _permits = s.acquire(n).await;
                        tiny_work();
                    }
                })
            })
        });
    }
    group.finish();
}

fn contended(c: &mut Criterion) {
    for kind in ["tokio", "smol"] {
        contended_on(c, kind);
        mixed_on(c, kind);
    }
}

/// A counting semaphore from `std` alone: the permits under a mutex, a condvar to wait on.
struct StdSemaphore {
    permits: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

impl StdSemaphore {
    fn new(permits: usize) -> Self {
        StdSemaphore {
            permits: std::sync::Mutex::new(permits),
            freed: std::sync::Condvar::new(),
        }
    }

    fn acquire(&self) -> StdPermit<'_> {
        let mut permits = self
            .freed
            .wait_while(self.permits.lock().unwrap(), |permits| *permits == 0)
            .unwrap();
        *permits -= 1;
        StdPermit(self)
    }
}

struct StdPermit<'a>(&'a StdSemaphore);

impl Drop for StdPermit<'_> {
    fn drop(&mut self) {
        *self.0.permits.lock().unwrap() += 1;
        self.0.freed.notify_one();
    }
}

fn blocking_with(c: &mut Criterion, name: &str, ops: usize) {
    let (threads, permits) = (2 * cores(), cores());
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((threads * ops) as u64));

    let s = unisync::Semaphore::new(permits);
    group.bench_function(BenchmarkId::new("unisync", threads), |b| {
        b.iter(|| {
            run_threads(threads, ops, &s, |s| {
                let _permit = s.acquire_blocking().unwrap();
                tiny_work();
            })
        })
    });
    let s = async_lock::Semaphore::new(permits);
    group.bench_function(BenchmarkId::new("async-lock", threads), |b| {
        b.iter(|| {
            run_threads(threads, ops, &s, |s| {
                let _permit = s.acquire_blocking();
                tiny_work();
            })
        })
    });
    let s = StdSemaphore::new(permits);
    group.bench_function(BenchmarkId::new("std", threads), |b| {
        b.iter(|| {
            run_threads(threads, ops, &s, |s| {
                let _permit = s.acquire();
                tiny_work();
            })
        })
    });
    group.finish();
}

fn blocking(c: &mut Criterion) {
    blocking_with(c, "semaphore/blocking", THREAD_OPS);
    blocking_with(c, "semaphore/blocking-long", LONG_THREAD_OPS);
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended::<false>, uncontended::<true>, contended, blocking
}
criterion_main!(benches);

//! Mutex benchmarks: unisync against its peers, side by side in each group.
//!
//! - `mutex/uncontended`: lock + unlock polled once where it was created (as `.await` does), no
//!   runtime; `mutex/uncontended-moved`: the same through `FutureExt::now_or_never`, which moves
//!   the future before polling it.
//! - `mutex/contended-{tokio,smol}/<workers>`: 64 tasks each lock, increment and unlock 100
//!   times on an executor with that many worker threads.
//! - `mutex/held-across-yield-{tokio,smol}/<workers>`: the same, each task yielding to the
//!   executor once while it holds the lock (as one awaiting I/O under a guard does): a spin
//!   cannot outlast such a holder, so nearly every lock call queues.
//! - `mutex/blocking`: 2 × cores threads each lock, increment and unlock 1000 times from
//!   plain threads, against blocking mutexes; `mutex/blocking-long`: 200,000 times each, so
//!   that starting the threads is a small part of the time.
//! - `mutex/try-lock-held`: a `try_lock` that fails because this thread holds the lock, as in
//!   a loop that tries a busy lock and does other work meanwhile; against the blocking locks
//!   too, whose `try_lock` is the same call.
//! - `mutex/diagnostics`: uncontended `lock` (polled in place), `try_lock` and `lock_blocking`
//!   of unisync alone, each row labelled `diagnostics-on` or `diagnostics-off` by how the bench
//!   was built. Run `cargo bench --bench mutex -- mutex/diagnostics` with and without
//!   `--features diagnostics` to read what the holder record costs.

mod common;

use std::sync::Arc;

use common::{
    config, cores, poll_once, run_threads, uncontended_name, worker_counts, yield_now, Exec,
    LONG_THREAD_OPS, OPS, TASKS, THREAD_OPS,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn uncontended<const MOVED: bool>(c: &mut Criterion) {
    let mut group = c.benchmark_group(uncontended_name::<MOVED>("mutex/uncontended"));

    let m = unisync::Mutex::new(0u64);
    group.bench_function("unisync", |b| {
        b.iter(|| *poll_once::<MOVED, _>(m.lock()) += 1)
    });
    let m = tokio::sync::Mutex::new(0u64);
    group.bench_function("tokio", |b| {
        b.iter(|| *poll_once::<MOVED, _>(m.lock()) += 1)
    });
    let m = async_lock::Mutex::new(0u64);
    group.bench_function("async-lock", |b| {
        b.iter(|| *poll_once::<MOVED, _>(m.lock()) += 1)
    });
    let m = futures::lock::Mutex::new(0u64);
    group.bench_function("futures", |b| {
        b.iter(|| *poll_once::<MOVED, _>(m.lock()) += 1)
    });
    let m = futures_intrusive::sync::Mutex::new(0u64, false);
    group.bench_function("futures-intrusive", |b| {
        b.iter(|| *poll_once::<MOVED, _>(m.lock()) += 1)
    });
    group.finish();
}

fn try_lock_held(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex/try-lock-held");
    let m = unisync::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("unisync", |b| b.iter(|| m.try_lock().is_none()));
    let m = tokio::sync::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("tokio", |b| b.iter(|| m.try_lock().is_err()));
    let m = async_lock::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("async-lock", |b| b.iter(|| m.try_lock().is_none()));
    let m = futures::lock::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("futures", |b| b.iter(|| m.try_lock().is_none()));
    let m = parking_lot::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("parking_lot", |b| b.iter(|| m.try_lock().is_none()));
    let m = std::sync::Mutex::new(0u64);
    let _held = m.try_lock().unwrap();
    group.bench_function("std", |b| b.iter(|| m.try_lock().is_err()));
    group.finish();
}

/// The contended groups: `HELD` makes each task yield to its executor while it holds the lock,
/// as a task that awaits I/O under a guard does.
fn contended_on<const HELD: bool>(c: &mut Criterion, kind: &str) {
    let name = if HELD {
        format!("mutex/held-across-yield-{kind}")
    } else {
        format!("mutex/contended-{kind}")
    };
    // One task's work, the same for every contender (their guards are different types).
    macro_rules! lock_ops {
        ($m:ident) => {
            for _ in 0..OPS {
                let mut guard = $m.lock().await;
                if HELD {
                    yield_now().await;
                }
                *guard += 1;
            }
        };
    }
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((TASKS * OPS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);

        let m = Arc::new(unisync::Mutex::new(0u64));
        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter(|| exec.run(&m, |_, m| async move { lock_ops!(m) }))
        });
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        group.bench_function(BenchmarkId::new("tokio", workers), |b| {
            b.iter(|| exec.run(&m, |_, m| async move { lock_ops!(m) }))
        });
        let m = Arc::new(async_lock::Mutex::new(0u64));
        group.bench_function(BenchmarkId::new("async-lock", workers), |b| {
            b.iter(|| exec.run(&m, |_, m| async move { lock_ops!(m) }))
        });
        let m = Arc::new(futures::lock::Mutex::new(0u64));
        group.bench_function(BenchmarkId::new("futures", workers), |b| {
            b.iter(|| exec.run(&m, |_, m| async move { lock_ops!(m) }))
        });
        let m = Arc::new(futures_intrusive::sync::Mutex::new(0u64, false));
        group.bench_function(BenchmarkId::new("futures-intrusive", workers), |b| {
            b.iter(|| exec.run(&m, |_, m| async move { lock_ops!(m) }))
        });
    }
    group.finish();
}

fn contended(c: &mut Criterion) {
    contended_on::<false>(c, "tokio");
    contended_on::<false>(c, "smol");
}

fn held_across_yield(c: &mut Criterion) {
    contended_on::<true>(c, "tokio");
    contended_on::<true>(c, "smol");
}

fn blocking_with(c: &mut Criterion, name: &str, ops: usize) {
    let threads = 2 * cores();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((threads * ops) as u64));

    let m = unisync::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("unisync", threads), |b| {
        b.iter(|| run_threads(threads, ops, &m, |m| *m.lock_blocking() += 1))
    });
    let m = async_lock::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("async-lock", threads), |b| {
        b.iter(|| run_threads(threads, ops, &m, |m| *m.lock_blocking() += 1))
    });
    let m = std::sync::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("std", threads), |b| {
        b.iter(|| run_threads(threads, ops, &m, |m| *m.lock().unwrap() += 1))
    });
    let m = parking_lot::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("parking_lot", threads), |b| {
        b.iter(|| run_threads(threads, ops, &m, |m| *m.lock() += 1))
    });
    group.finish();
}

fn blocking(c: &mut Criterion) {
    blocking_with(c, "mutex/blocking", THREAD_OPS);
    blocking_with(c, "mutex/blocking-long", LONG_THREAD_OPS);
}

fn diagnostics(c: &mut Criterion) {
    let label = if cfg!(feature = "diagnostics") {
        "diagnostics-on"
    } else {
        "diagnostics-off"
    };
    let mut group = c.benchmark_group("mutex/diagnostics");
    let m = unisync::Mutex::new(0u64);
    group.bench_function(BenchmarkId::new("lock", label), |b| {
        b.iter(|| *poll_once::<false, _>(m.lock()) += 1)
    });
    group.bench_function(BenchmarkId::new("try_lock", label), |b| {
        b.iter(|| *m.try_lock().unwrap() += 1)
    });
    group.bench_function(BenchmarkId::new("lock_blocking", label), |b| {
        b.iter(|| *m.lock_blocking() += 1)
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended::<false>, uncontended::<true>, try_lock_held, contended,
        held_across_yield, blocking, diagnostics
}
criterion_main!(benches);

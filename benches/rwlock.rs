//! RwLock benchmarks: unisync against its async peers, side by side in each group.
//!
//! - `rwlock/uncontended-read`, `rwlock/uncontended-write`: read (write) lock + unlock polled
//!   once where it was created, no runtime (`-moved`: moved into `FutureExt::now_or_never`
//!   first). The blocking `std` and `parking_lot` locks are not async and are left
//!   out; futures-intrusive has no RwLock.
//! - `rwlock/try-write-read-held`: a `try_write` that fails because this thread holds a read
//!   lock; against the blocking locks too, whose `try_write` is the same call.
//! - `rwlock/read-heavy-{tokio,smol}/<workers>`: 64 tasks each do 100 operations, one in 20 a
//!   write (increment) and the rest reads, on an executor with that many worker threads.
//!   Task `i` writes at operations `op` with `(i + op) % 20 == 0`, so the writes are spread
//!   over the run instead of every task writing at the same step.
//! - `rwlock/write-heavy-{tokio,smol}/<workers>`: the same with every second operation a write.
//! - `rwlock/blocking/<threads>`: 2 × cores plain threads each do 1000 operations, one in 20 a
//!   write, spread as above (thread `t` writes when `(t + op) % 20 == 0`), against blocking
//!   read-write locks; `rwlock/blocking-long`: 200,000 operations each, so that starting the
//!   threads is a small part of the time.
//! - `rwlock/diagnostics`: uncontended `read` and `write` (polled in place) and `try_read` of
//!   unisync alone, and its read-heavy workload on tokio with 2 workers, each row labelled
//!   `diagnostics-on` or `diagnostics-off` by how the bench was built. Run
//!   `cargo bench --bench rwlock -- rwlock/diagnostics` with and without
//!   `--features diagnostics` to read what the writer's record and the readers' table cost.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::{
    config, cores, poll_once, uncontended_name, worker_counts, Exec, LONG_THREAD_OPS, OPS, TASKS,
    THREAD_OPS,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn uncontended_read<const MOVED: bool>(c: &mut Criterion) {
    let mut group = c.benchmark_group(uncontended_name::<MOVED>("rwlock/uncontended-read"));

    let l = unisync::RwLock::new(0u64);
    group.bench_function("unisync", |b| b.iter(|| *poll_once::<MOVED, _>(l.read())));
    let l = tokio::sync::RwLock::new(0u64);
    group.bench_function("tokio", |b| b.iter(|| *poll_once::<MOVED, _>(l.read())));
    let l = async_lock::RwLock::new(0u64);
    group.bench_function("async-lock", |b| {
        b.iter(|| *poll_once::<MOVED, _>(l.read()))
    });
    group.finish();
}

fn try_write_read_held(c: &mut Criterion) {
    let mut group = c.benchmark_group("rwlock/try-write-read-held");
    let l = unisync::RwLock::new(0u64);
    let _held = l.try_read().unwrap();
    group.bench_function("unisync", |b| b.iter(|| l.try_write().is_none()));
    let l = tokio::sync::RwLock::new(0u64);
    let _held = l.try_read().unwrap();
    group.bench_function("tokio", |b| b.iter(|| l.try_write().is_err()));
    let l = async_lock::RwLock::new(0u64);
    let _held = l.try_read().unwrap();
    group.bench_function("async-lock", |b| b.iter(|| l.try_write().is_none()));
    let l = parking_lot::RwLock::new(0u64);
    let _held = l.try_read().unwrap();
    group.bench_function("parking_lot", |b| b.iter(|| l.try_write().is_none()));
    let l = std::sync::RwLock::new(0u64);
    let _held = l.try_read().unwrap();
    group.bench_function("std", |b| b.iter(|| l.try_write().is_err()));
    group.finish();
}

fn uncontended_write<const MOVED: bool>(c: &mut Criterion) {
    let mut group = c.benchmark_group(uncontended_name::<MOVED>("rwlock/uncontended-write"));

    let l = unisync::RwLock::new(0u64);
    group.bench_function("unisync", |b| {
        b.iter(|| *poll_once::<MOVED, _>(l.write()) += 1)
    });
    let l = tokio::sync::RwLock::new(0u64);
    group.bench_function("tokio", |b| {
        b.iter(|| *poll_once::<MOVED, _>(l.write()) += 1)
    });
    let l = async_lock::RwLock::new(0u64);
    group.bench_function("async-lock", |b| {
        b.iter(|| *poll_once::<MOVED, _>(l.write()) += 1)
    });
    group.finish();
}

/// Benchmarks one lock type in a mixed workload: every `$every`-th operation is a write.
macro_rules! mixed {
    ($group:expr, $exec:expr, $workers:expr, $name:expr, $lock:expr, $every:expr) => {{
        let lock = Arc::new($lock);
        $group.bench_function(BenchmarkId::new($name, $workers), |b| {
            b.iter(|| {
                $exec.run(&lock, |i, lock| async move {
                    for op in 0..OPS {
                        if (i + op) % $every == 0 {
                            *lock.write().await += 1;
                        } else {
                            black_box(*lock.read().await);
                        }
                    }
                })
            })
        });
    }};
}

fn mixed_on(c: &mut Criterion, workload: &str, every: usize, kind: &str) {
    let name = format!("rwlock/{workload}-{kind}");
    let mut group = c.benchmark_group(&name);
    group.throughput(Throughput::Elements((TASKS * OPS) as u64));
    for workers in worker_counts(&name) {
        let exec = Exec::new(kind, workers);
        mixed!(
            group,
            exec,
            workers,
            "unisync",
            unisync::RwLock::new(0u64),
            every
        );
        mixed!(
            group,
            exec,
            workers,
            "tokio",
            tokio::sync::RwLock::new(0u64),
            every
        );
        mixed!(
            group,
            exec,
            workers,
            "async-lock",
            async_lock::RwLock::new(0u64),
            every
        );
    }
    group.finish();
}

fn read_heavy(c: &mut Criterion) {
    mixed_on(c, "read-heavy", 20, "tokio");
    mixed_on(c, "read-heavy", 20, "smol");
}

fn write_heavy(c: &mut Criterion) {
    mixed_on(c, "write-heavy", 2, "tokio");
    mixed_on(c, "write-heavy", 2, "smol");
}

fn diagnostics(c: &mut Criterion) {
    let label = if cfg!(feature = "diagnostics") {
        "diagnostics-on"
    } else {
        "diagnostics-off"
    };
    let mut group = c.benchmark_group("rwlock/diagnostics");
    let l = unisync::RwLock::new(0u64);
    group.bench_function(BenchmarkId::new("read", label), |b| {
        b.iter(|| *poll_once::<false, _>(l.read()))
    });
    group.bench_function(BenchmarkId::new("try_read", label), |b| {
        b.iter(|| *l.try_read().unwrap())
    });
    group.bench_function(BenchmarkId::new("write", label), |b| {
        b.iter(|| *poll_once::<false, _>(l.write()) += 1)
    });
    let workers = 2;
    if worker_counts("rwlock/diagnostics").contains(&workers) {
        let exec = Exec::new("tokio", workers);
        mixed!(
            group,
            exec,
            workers,
            format!("read-heavy-tokio-{label}"),
            unisync::RwLock::new(0u64),
            20
        );
    }
    group.finish();
}

/// Runs `threads` plain threads that each do `ops` operations, a `write` when
/// `(thread + op) % 20 == 0` and a `read` otherwise, and waits for them.
fn read_heavy_threads<L: Sync>(
    threads: usize,
    ops: usize,
    lock: &L,
    read: impl Fn(&L) + Sync,
    write: impl Fn(&L) + Sync,
) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (read, write) = (&read, &write);
            scope.spawn(move || {
                for op in 0..ops {
                    if (t + op) % 20 == 0 {
                        write(lock);
                    } else {
                        read(lock);
                    }
                }
            });
        }
    });
}

fn blocking_with(c: &mut Criterion, name: &str, ops: usize) {
    let threads = 2 * cores();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements((threads * ops) as u64));

    let l = unisync::RwLock::new(0u64);
    group.bench_function(BenchmarkId::new("unisync", threads), |b| {
        b.iter(|| {
            read_heavy_threads(
                threads,
                ops,
                &l,
                |l| {
                    black_box(*l.read_blocking());
                },
                |l| *l.write_blocking() += 1,
            )
        })
    });
    let l = async_lock::RwLock::new(0u64);
    group.bench_function(BenchmarkId::new("async-lock", threads), |b| {
        b.iter(|| {
            read_heavy_threads(
                threads,
                ops,
                &l,
                |l| {
                    black_box(*l.read_blocking());
                },
                |l| *l.write_blocking() += 1,
            )
        })
    });
    let l = std::sync::RwLock::new(0u64);
    group.bench_function(BenchmarkId::new("std", threads), |b| {
        b.iter(|| {
            read_heavy_threads(
                threads,
                ops,
                &l,
                |l| {
                    black_box(*l.read().unwrap());
                },
                |l| *l.write().unwrap() += 1,
            )
        })
    });
    let l = parking_lot::RwLock::new(0u64);
    group.bench_function(BenchmarkId::new("parking_lot", threads), |b| {
        b.iter(|| {
            read_heavy_threads(
                threads,
                ops,
                &l,
                |l| {
                    black_box(*l.read());
                },
                |l| *l.write() += 1,
            )
        })
    });
    group.finish();
}

fn blocking(c: &mut Criterion) {
    blocking_with(c, "rwlock/blocking", THREAD_OPS);
    blocking_with(c, "rwlock/blocking-long", LONG_THREAD_OPS);
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended_read::<false>, uncontended_read::<true>, uncontended_write::<false>, uncontended_write::<true>, try_write_read_held, read_heavy, write_heavy, blocking, diagnostics
}
criterion_main!(benches);

//! Graceful-shutdown benchmarks: unisync's `ShutdownSignal` (and `WaitGroup`) against
//! tokio-util's `CancellationToken` and `TaskTracker`, side by side in each group.
//!
//! Contenders:
//!
//! - `unisync-shutdown`: a `ShutdownSignal`; tasks wait with `wait`, are tracked with `track`
//!   (the guard moved into the task), and the drain is `trigger` then `drained().await`.
//! - `tokio-util`: a `CancellationToken` (`cancelled`, `child_token`); the drain spawns with
//!   `TaskTracker::spawn` and ends with `cancel`, `close`, `wait().await`.
//! - `unisync-event` (fan-out): an `Event`, the floor for a one-way wake-up in this crate.
//! - `unisync-event+waitgroup` (drain): the same done by hand: tasks wait on an `Event` and
//!   each holds a `WaitGroupToken`; the drain is `set` then the group's `wait().await`.
//!
//! Groups:
//!
//! - `shutdown/fan_out_10000/<workers>`: 10,000 tasks wait on one signal on a tokio
//!   multi-thread runtime with that many workers. Once every task has registered (its first
//!   poll returned `Pending`), the time from the trigger until every task has finished is
//!   measured; spawning and registering are not (the method of `event/fan-out-10000`).
//! - `shutdown/child_create_drop/<siblings>`: make a child of a root and drop it, no runtime,
//!   nobody waiting on the root; with 0 or 1,000 other children of the root kept alive.
//! - `shutdown/child_trigger/<threads>`: make a child of a root, trigger it and drop it (a
//!   connection that closes), nobody waiting; each thread has a tree of its own, so the
//!   threads share nothing but what the implementation shares between trees.
//! - `shutdown/drain_10000/<workers>`: 10,000 tracked tasks wait for the signal, each
//!   finishing (dropping its guard or token) once it fires. Once every task has registered,
//!   the time from the trigger until the drain wait returns is measured (and that nothing is
//!   left tracked then is asserted); spawning, tracking and joining the tasks afterwards are
//!   not.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, worker_counts};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use futures::poll;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tasks per iteration in the fan-out and drain groups.
const TASKS: usize = 10_000;
/// Live siblings in the second case of the child group.
const SIBLINGS: usize = 1_000;

/// Spawns `TASKS` tasks with `spawn` (each counts itself in `registered` once its first poll
/// has parked it), waits until all have, then returns how long `release` takes. The handles
/// `release` hands back are joined after the clock stops.
fn parked_then<S, R, Fut>(
    rt: &tokio::runtime::Runtime,
    shared: S,
    spawn: impl Fn(&S, &Arc<AtomicUsize>) -> JoinHandle<()>,
    release: R,
) -> Duration
where
    R: FnOnce(S, Vec<JoinHandle<()>>) -> Fut,
    Fut: Future<Output = Vec<JoinHandle<()>>>,
{
    rt.block_on(async {
        let registered = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..TASKS).map(|_| spawn(&shared, &registered)).collect();
        // Sleep rather than spin: this thread is not a worker and must not take their cores.
        while registered.load(SeqCst) < TASKS {
            std::thread::sleep(Duration::from_micros(100));
        }
        let start = Instant::now();
        let rest = release(shared, handles).await;
        let elapsed = start.elapsed();
        for handle in rest {
            handle.await.unwrap();
        }
        elapsed
    })
}

/// Joins every handle: the end of a fan-out.
async fn join_all(handles: Vec<JoinHandle<()>>) -> Vec<JoinHandle<()>> {
    for handle in handles {
        handle.await.unwrap();
    }
    Vec::new()
}

/// Polls `wait` once, counts the task as registered, then finishes the wait if it parked.
async fn register_and_wait<F: Future<Output = ()>>(wait: F, registered: Arc<AtomicUsize>) {
    let mut wait = pin!(wait);
    let pending = poll!(wait.as_mut()).is_pending();
    registered.fetch_add(1, SeqCst);
    if pending {
        wait.await;
    }
}

/// A multi-thread tokio runtime with `workers` worker threads.
fn runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Settings for the groups that spawn 10,000 tasks per iteration outside the timed part:
/// flat sampling, and twice the samples of `event/fan-out-10000`, whose runs on 2 vCPUs
/// are bimodal; the untimed part makes each contender take about 4 × the measurement time.
fn flat_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(2));
    group
}

fn fan_out(c: &mut Criterion) {
    let name = format!("shutdown/fan_out_{TASKS}");
    let mut group = flat_group(c, &name);
    for workers in worker_counts(&name) {
        let rt = runtime(workers);

        group.bench_function(BenchmarkId::new("unisync-shutdown", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            unisync::ShutdownSignal::new(),
                            |signal, registered| {
                                let (signal, registered) = (signal.clone(), registered.clone());
                                tokio::spawn(async move {
                                    register_and_wait(signal.wait(), registered).await;
                                })
                            },
                            |signal, handles| {
                                signal.trigger();
                                join_all(handles)
                            },
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("tokio-util", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            CancellationToken::new(),
                            |token, registered| {
                                let (token, registered) = (token.clone(), registered.clone());
                                tokio::spawn(async move {
                                    register_and_wait(token.cancelled(), registered).await;
                                })
                            },
                            |token, handles| {
                                token.cancel();
                                join_all(handles)
                            },
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("unisync-event", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            Arc::new(unisync::Event::new()),
                            |ev, registered| {
                                let (ev, registered) = (ev.clone(), registered.clone());
                                tokio::spawn(async move {
                                    register_and_wait(ev.wait(), registered).await;
                                })
                            },
                            |ev, handles| {
                                ev.set();
                                join_all(handles)
                            },
                        )
                    })
                    .sum()
            })
        });
    }
    group.finish();
}

/// Runs `op` `iters` times on each of `threads` threads at once, each with its own `make()`;
/// returns the time until the last thread is done.
fn on_threads<T>(
    threads: usize,
    iters: u64,
    make: impl Fn() -> T + Sync,
    op: impl Fn(&T) + Sync,
) -> Duration {
    let start = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let state = make();
                start.wait();
                for _ in 0..iters {
                    op(&state);
                }
            });
        }
        start.wait();
        let began = Instant::now();
        // The scope joins every thread before it returns.
        began
    })
    .elapsed()
}

fn child_trigger(c: &mut Criterion) {
    let mut group = c.benchmark_group("shutdown/child_trigger");
    for threads in std::iter::once(1).chain(worker_counts("shutdown/child_trigger")) {
        group.bench_function(BenchmarkId::new("unisync-shutdown", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, unisync::ShutdownSignal::new, |root| {
                    let child = root.child();
                    assert!(child.trigger());
                })
            })
        });
        group.bench_function(BenchmarkId::new("tokio-util", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, CancellationToken::new, |root| {
                    root.child_token().cancel();
                })
            })
        });
    }
    group.finish();
}

fn child_create_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("shutdown/child_create_drop");
    for siblings in [0, SIBLINGS] {
        let root = unisync::ShutdownSignal::new();
        let kept: Vec<_> = (0..siblings).map(|_| root.child()).collect();
        // The root's queue is allocated by its first child; make it outside the timing.
        drop(root.child());
        group.bench_function(BenchmarkId::new("unisync-shutdown", siblings), |b| {
            b.iter(|| drop(root.child()))
        });
        drop(kept);

        let root = CancellationToken::new();
        let kept: Vec<_> = (0..siblings).map(|_| root.child_token()).collect();
        drop(root.child_token());
        group.bench_function(BenchmarkId::new("tokio-util", siblings), |b| {
            b.iter(|| drop(root.child_token()))
        });
        drop(kept);
    }
    group.finish();
}

fn drain(c: &mut Criterion) {
    let name = format!("shutdown/drain_{TASKS}");
    let mut group = flat_group(c, &name);
    for workers in worker_counts(&name) {
        let rt = runtime(workers);

        group.bench_function(BenchmarkId::new("unisync-shutdown", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            unisync::ShutdownSignal::new(),
                            |signal, registered| {
                                let guard = signal.track();
                                let registered = registered.clone();
                                tokio::spawn(async move {
                                    register_and_wait(guard.signal().wait(), registered).await;
                                    drop(guard);
                                })
                            },
                            |signal, handles| async move {
                                signal.trigger();
                                signal.drained().await;
                                assert_eq!(signal.tracked(), 0);
                                handles
                            },
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("tokio-util", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            (TaskTracker::new(), CancellationToken::new()),
                            |(tracker, token), registered| {
                                let (token, registered) = (token.clone(), registered.clone());
                                tracker.spawn(async move {
                                    register_and_wait(token.cancelled(), registered).await;
                                })
                            },
                            |(tracker, token), handles| async move {
                                token.cancel();
                                tracker.close();
                                tracker.wait().await;
                                assert!(tracker.is_empty());
                                handles
                            },
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("unisync-event+waitgroup", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        parked_then(
                            &rt,
                            (Arc::new(unisync::Event::new()), unisync::WaitGroup::new()),
                            |(ev, group), registered| {
                                let token = group.token();
                                let (ev, registered) = (ev.clone(), registered.clone());
                                tokio::spawn(async move {
                                    register_and_wait(ev.wait(), registered).await;
                                    drop(token);
                                })
                            },
                            |(ev, group), handles| async move {
                                ev.set();
                                group.wait().await;
                                assert_eq!(group.count(), 0);
                                handles
                            },
                        )
                    })
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = fan_out, child_create_drop, child_trigger, drain
}
criterion_main!(benches);

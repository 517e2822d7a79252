//! Event benchmarks: unisync against the closest equivalents its peers offer. Neither tokio
//! nor async-lock has a set/clear event, so the peers are built from what they do have:
//!
//! - `event-listener`: an `AtomicBool` flag plus an `event_listener::Event`, the pattern that
//!   crate documents. A waiter checks the flag, creates a listener, checks the flag again and
//!   only then awaits; setting stores the flag and notifies every listener.
//! - `tokio-watch`: a `tokio::sync::watch` channel holding a `bool`. The uncontended case waits
//!   with `Receiver::wait_for(|set| *set)`; the fan-out waits with `Receiver::changed`, and
//!   setting sends `true`.
//! - `tokio-notify` (fan-out only): a `tokio::sync::Notify`; waiters `enable` a `Notified`
//!   future, setting calls `notify_waiters`. It has no "stays set" state, so it has no
//!   uncontended counterpart.
//! - `futures-intrusive`: its `ManualResetEvent`, the closest peer: a set/reset event whose
//!   waiters are intrusive nodes in their futures.
//!
//! Groups:
//!
//! - `event/uncontended-wait-set`: one wait on an event that is already set, polled once where
//!   it was created, no runtime (`-moved`: moved into `FutureExt::now_or_never` first).
//! - `event/fan-out-10000/<workers>`: 10,000 tasks wait on one event on a tokio multi-thread
//!   runtime with that many worker threads. Once every task has registered (its first poll
//!   returned `Pending`), the time from the set until every task has finished is measured;
//!   spawning and registering are not.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, poll_once, uncontended_name, worker_counts};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use futures::poll;

/// Tasks waiting on the event in the fan-out group.
const WAITERS: usize = 10_000;

/// A flag with an `event_listener::Event` to wait on it.
#[derive(Default)]
struct FlagEvent {
    flag: AtomicBool,
    event: event_listener::Event,
}

impl FlagEvent {
    fn set(&self) {
        self.flag.store(true, SeqCst);
        self.event.notify(usize::MAX);
    }

    async fn wait(&self) {
        loop {
            if self.flag.load(SeqCst) {
                return;
            }
            let listener = self.event.listen();
            if self.flag.load(SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

fn uncontended_wait_set<const MOVED: bool>(c: &mut Criterion) {
    let mut group = c.benchmark_group(uncontended_name::<MOVED>("event/uncontended-wait-set"));

    let ev = unisync::Event::new();
    ev.set();
    group.bench_function("unisync", |b| b.iter(|| poll_once::<MOVED, _>(ev.wait())));
    let ev = FlagEvent::default();
    ev.set();
    group.bench_function("event-listener", |b| {
        b.iter(|| poll_once::<MOVED, _>(ev.wait()))
    });
    let ev = futures_intrusive::sync::ManualResetEvent::new(true);
    group.bench_function("futures-intrusive", |b| {
        b.iter(|| poll_once::<MOVED, _>(ev.wait()))
    });
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tx.send(true).unwrap();
    group.bench_function("tokio-watch", |b| {
        b.iter(|| *poll_once::<MOVED, _>(rx.wait_for(|set| *set)).unwrap())
    });
    group.finish();
}

/// Spawns `WAITERS` tasks made by `task`, waits until each has counted itself in
/// `registered`, then returns the time `set` and joining every task take.
fn fan_out_once<S, F, Fut>(
    rt: &tokio::runtime::Runtime,
    shared: S,
    task: F,
    set: impl FnOnce(&S),
) -> Duration
where
    S: Clone + Send + 'static,
    F: Fn(S, Arc<AtomicUsize>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let registered = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..WAITERS)
            .map(|_| tokio::spawn(task(shared.clone(), registered.clone())))
            .collect();
        // Sleep rather than spin: this thread is not a worker and must not take their cores.
        while registered.load(SeqCst) < WAITERS {
            std::thread::sleep(Duration::from_micros(100));
        }
        let start = Instant::now();
        set(&shared);
        for handle in handles {
            handle.await.unwrap();
        }
        start.elapsed()
    })
}

fn fan_out(c: &mut Criterion) {
    let name = format!("event/fan-out-{WAITERS}");
    let mut group = c.benchmark_group(&name);
    // Each iteration spawns 10,000 tasks outside the timed part; keep the count low.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(1));
    for workers in worker_counts(&name) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .build()
            .unwrap();

        group.bench_function(BenchmarkId::new("unisync", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fan_out_once(
                            &rt,
                            Arc::new(unisync::Event::new()),
                            |ev, registered| async move {
                                let mut wait = pin!(ev.wait());
                                let pending = poll!(wait.as_mut()).is_pending();
                                registered.fetch_add(1, SeqCst);
                                if pending {
                                    wait.await;
                                }
                            },
                            |ev| ev.set(),
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("tokio-notify", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fan_out_once(
                            &rt,
                            Arc::new(tokio::sync::Notify::new()),
                            |notify, registered| async move {
                                let mut notified = pin!(notify.notified());
                                notified.as_mut().enable();
                                registered.fetch_add(1, SeqCst);
                                notified.await;
                            },
                            |notify| notify.notify_waiters(),
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("event-listener", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fan_out_once(
                            &rt,
                            Arc::new(FlagEvent::default()),
                            |ev, registered| async move {
                                // `listen` registers at once; the flag is re-checked after it.
                                let listener = ev.event.listen();
                                registered.fetch_add(1, SeqCst);
                                if !ev.flag.load(SeqCst) {
                                    listener.await;
                                }
                            },
                            |ev| ev.set(),
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("futures-intrusive", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fan_out_once(
                            &rt,
                            Arc::new(futures_intrusive::sync::ManualResetEvent::new(false)),
                            |ev, registered| async move {
                                let mut wait = pin!(ev.wait());
                                let pending = poll!(wait.as_mut()).is_pending();
                                registered.fetch_add(1, SeqCst);
                                if pending {
                                    wait.await;
                                }
                            },
                            |ev| ev.set(),
                        )
                    })
                    .sum()
            })
        });
        group.bench_function(BenchmarkId::new("tokio-watch", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        fan_out_once(
                            &rt,
                            Arc::new(tokio::sync::watch::channel(false).0),
                            |tx, registered| async move {
                                let mut rx = tx.subscribe();
                                let mut changed = pin!(rx.changed());
                                let pending = poll!(changed.as_mut()).is_pending();
                                registered.fetch_add(1, SeqCst);
                                if pending {
                                    changed.await.unwrap();
                                }
                            },
                            |tx| tx.send(true).unwrap(),
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
    targets = uncontended_wait_set::<false>, uncontended_wait_set::<true>, fan_out
}
criterion_main!(benches);

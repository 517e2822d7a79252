//! Shared harness for the benchmarks: executors with a fixed number of worker threads, the
//! worker counts to try, and the criterion settings.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::Criterion;

/// Tasks spawned per iteration of a contended benchmark.
pub const TASKS: usize = 64;
/// Operations each task performs per iteration.
pub const OPS: usize = 100;
/// Worker-thread counts tried by the contended benchmarks.
pub const WORKERS: [usize; 4] = [2, 4, 8, 16];

/// Modest settings, so that a full run takes minutes rather than an hour.
pub fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20)
}

/// The cores this machine offers.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The entries of `WORKERS` this machine can run; says which ones it skips, and why.
pub fn worker_counts(group: &str) -> Vec<usize> {
    let cores = cores();
    WORKERS
        .into_iter()
        .filter(|&workers| {
            let fits = workers <= cores;
            if !fits {
                println!("{group}: skipped {workers} workers (only {cores} cores available)");
            }
            fits
        })
        .collect()
}

/// An executor driven by a fixed number of worker threads.
pub enum Exec {
    /// A tokio multi-thread runtime.
    Tokio(tokio::runtime::Runtime),
    /// A smol executor, each worker thread running `Executor::run` until told to stop.
    Smol {
        ex: Arc<smol::Executor<'static>>,
        stop: Option<smol::channel::Sender<()>>,
        threads: Vec<JoinHandle<()>>,
    },
}

impl Exec {
    /// The executor named `kind` ("tokio" or "smol") with `workers` threads.
    pub fn new(kind: &str, workers: usize) -> Exec {
        match kind {
            "tokio" => Exec::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .build()
                    .unwrap(),
            ),
            "smol" => {
                let ex = Arc::new(smol::Executor::new());
                let (stop, stopped) = smol::channel::unbounded::<()>();
                let threads = (0..workers)
                    .map(|_| {
                        let (ex, stopped) = (ex.clone(), stopped.clone());
                        std::thread::spawn(move || {
                            let _ = smol::block_on(ex.run(stopped.recv()));
                        })
                    })
                    .collect();
                Exec::Smol {
                    ex,
                    stop: Some(stop),
                    threads,
                }
            }
            _ => panic!("unknown executor {kind}"),
        }
    }

    /// Spawns `TASKS` tasks made by `task` on the workers and waits for all of them.
    pub fn run<S, F, Fut>(&self, shared: &Arc<S>, task: F)
    where
        S: Send + Sync + 'static,
        F: Fn(usize, Arc<S>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.run_tasks(TASKS, shared, task)
    }

    /// Spawns `tasks` tasks made by `task` (given its number) on the workers and waits for
    /// all of them.
    pub fn run_tasks<S, F, Fut>(&self, tasks: usize, shared: &Arc<S>, task: F)
    where
        S: Send + Sync + 'static,
        F: Fn(usize, Arc<S>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self {
            Exec::Tokio(rt) => rt.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| tokio::spawn(task(i, shared.clone())))
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            }),
            Exec::Smol { ex, .. } => smol::block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|i| ex.spawn(task(i, shared.clone())))
                    .collect();
                for handle in handles {
                    handle.await;
                }
            }),
        }
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        if let Exec::Smol { stop, threads, .. } = self {
            drop(stop.take());
            for thread in threads.drain(..) {
                thread.join().unwrap();
            }
        }
    }
}

/// Operations each thread performs per iteration of a `blocking` group.
pub const THREAD_OPS: usize = OPS * 10;
/// Operations each thread performs per iteration of a `blocking-long` group: enough that
/// starting the threads is a small part of the time, so that the lock's own cost shows.
pub const LONG_THREAD_OPS: usize = 200_000;

/// Runs `threads` threads that each call `op` `ops` times, and waits for them.
pub fn run_threads<S: Sync>(threads: usize, ops: usize, shared: &S, op: impl Fn(&S) + Sync) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..ops {
                    op(shared);
                }
            });
        }
    });
}

/// Polls `fut` once where it was created, as `.await` does, and returns its output.
///
/// The `-moved` groups use `FutureExt::now_or_never` instead (see [`poll_once`]), which takes
/// the future by value and copies it before polling; a copy right after the future was built
/// can stall on store forwarding, so the two ways are measured separately.
///
/// # Panics
///
/// Panics if the future is not ready at once: these benchmarks are uncontended.
#[inline(always)]
pub fn poll_in_place<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("an uncontended wait was not ready at once"),
    }
}

/// Polls an uncontended wait once: where it was created when `MOVED` is false (as `.await`
/// does), or after moving it into `FutureExt::now_or_never` when it is true.
#[inline(always)]
pub fn poll_once<const MOVED: bool, F: Future>(fut: F) -> F::Output {
    if MOVED {
        futures::FutureExt::now_or_never(fut).expect("an uncontended wait was not ready at once")
    } else {
        poll_in_place(fut)
    }
}

/// The group name of an uncontended benchmark, by how it polls.
pub fn uncontended_name<const MOVED: bool>(name: &str) -> String {
    if MOVED {
        format!("{name}-moved")
    } else {
        name.to_owned()
    }
}

/// Returns `Pending` once, waking itself: the task goes to the back of its executor's run
/// queue. The same on every executor, unlike each runtime's own `yield_now`.
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Yields once to the executor (see [`YieldNow`]).
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// The state of a barrier built from a mutex and a condvar, for the condvar workloads: the
/// round its parties are in, and how many of them have reached it.
pub struct Meeting {
    parties: usize,
    /// The round the parties are in; it moves on when the last of them arrives.
    pub round: usize,
    arrived: usize,
}

impl Meeting {
    /// A meeting of `parties` parties, in round 0.
    pub fn new(parties: usize) -> Meeting {
        Meeting {
            parties,
            round: 0,
            arrived: 0,
        }
    }

    /// Counts a party in; returns whether it was the last, which starts the next round.
    pub fn arrive(&mut self) -> bool {
        self.arrived += 1;
        let last = self.arrived == self.parties;
        if last {
            self.arrived = 0;
            self.round += 1;
        }
        last
    }
}

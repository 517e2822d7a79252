//! A bounded queue built from one `Mutex` and two `Condvar`s, shared by threads and tasks.
//!
//! First plain threads produce while tokio tasks consume, then tasks produce while threads
//! consume. Every item must arrive exactly once.
//!
//! Run with `cargo run --example producer_consumer`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use unisync::{Condvar, Mutex};

const CAPACITY: usize = 8;
const PRODUCERS: u64 = 3;
const CONSUMERS: usize = 3;
const PER_PRODUCER: u64 = 2_000;

struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// A queue that holds at most `CAPACITY` items; pushers wait while it is full, poppers while
/// it is empty.
struct BoundedQueue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
}

impl<T> BoundedQueue<T> {
    fn new() -> Self {
        BoundedQueue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(CAPACITY),
                closed: false,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        }
    }

    fn push_blocking(&self, item: T) {
        let mut state = self
            .not_full
            .wait_while_blocking(self.state.lock_blocking(), |s| s.items.len() == CAPACITY);
        state.items.push_back(item);
        drop(state);
        self.not_empty.notify_one();
    }

    async fn push(&self, item: T) {
        let mut state = self
            .not_full
            .wait_while(self.state.lock().await, |s| s.items.len() == CAPACITY)
            .await;
        state.items.push_back(item);
        drop(state);
        self.not_empty.notify_one();
    }

    /// Returns `None` once the queue is closed and drained.
    fn pop_blocking(&self) -> Option<T> {
        let mut state = self
            .not_empty
            .wait_while_blocking(self.state.lock_blocking(), |s| {
                s.items.is_empty() && !s.closed
            });
        let item = state.items.pop_front();
        drop(state);
        self.not_full.notify_one();
        item
    }

    async fn pop(&self) -> Option<T> {
        let mut state = self
            .not_empty
            .wait_while(self.state.lock().await, |s| s.items.is_empty() && !s.closed)
            .await;
        let item = state.items.pop_front();
        drop(state);
        self.not_full.notify_one();
        item
    }

    /// Wakes every consumer so it sees the end once the queue is empty.
    fn close(&self) {
        self.state.lock_blocking().closed = true;
        self.not_empty.notify_all();
    }
}

/// Checks that the received items are exactly `0..PRODUCERS * PER_PRODUCER`, once each.
fn check(label: &str, per_consumer: Vec<Vec<u64>>, started: Instant) {
    let counts: Vec<usize> = per_consumer.iter().map(Vec::len).collect();
    let mut all: Vec<u64> = per_consumer.into_iter().flatten().collect();
    all.sort_unstable();
    let expected: Vec<u64> = (0..PRODUCERS * PER_PRODUCER).collect();
    assert_eq!(
        all, expected,
        "{label}: an item was lost or delivered twice"
    );
    println!(
        "{label}: {} items, each exactly once; per consumer {counts:?}; {:?}",
        all.len(),
        started.elapsed()
    );
}

/// Plain threads produce, tokio tasks consume.
fn threads_to_tasks(rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    let queue = Arc::new(BoundedQueue::new());
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    queue.push_blocking(p * PER_PRODUCER + i);
                }
            })
        })
        .collect();

    let received = rt.block_on(async {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    while let Some(item) = queue.pop().await {
                        got.push(item);
                    }
                    got
                })
            })
            .collect();
        // Close from a plain thread once the producers are done, without blocking a worker.
        let closer = {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for p in producers {
                    p.join().unwrap();
                }
                queue.close();
            })
        };
        let mut received = Vec::new();
        for c in consumers {
            received.push(c.await.unwrap());
        }
        closer.join().unwrap();
        received
    });
    check("threads -> tasks", received, started);
}

/// Tokio tasks produce, plain threads consume.
fn tasks_to_threads(rt: &tokio::runtime::Runtime) {
    let started = Instant::now();
    let queue = Arc::new(BoundedQueue::new());
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(item) = queue.pop_blocking() {
                    got.push(item);
                }
                got
            })
        })
        .collect();

    rt.block_on(async {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = queue.clone();
                tokio::spawn(async move {
                    for i in 0..PER_PRODUCER {
                        queue.push(p * PER_PRODUCER + i).await;
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.unwrap();
        }
    });
    queue.close();
    let received = consumers.into_iter().map(|c| c.join().unwrap()).collect();
    check("tasks -> threads", received, started);
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    threads_to_tasks(&rt);
    tasks_to_threads(&rt);
}

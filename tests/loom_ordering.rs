//! Loom models of what each signal orders: whatever a thread wrote before it set an event,
//! released a permit, arrived at a barrier, dropped a wait group token or a drain guard, or
//! triggered a shutdown signal is visible to the thread whose wait that let through.
//!
//! Run with:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --target-dir target/loom --test loom_ordering
//! ```
//!
//! The data is a loom `UnsafeCell`, written by one thread and read by the other with no other
//! synchronization between them: loom reports a causality violation in any execution where
//! the primitive let the reader through without ordering the write before it. (The locks
//! record their holders' accesses themselves; see `loom.rs` and `loom_rwlock.rs`.)
//!
//! Each model's main thread yields once after spawning: without it, loom's blind spot (see
//! `loom_support`) hid the executions in which a release made `Relaxed` lets the reader
//! through, in three of these models.
#![cfg(loom)]

mod common;
mod loom_support;

use common::poll_once;
use loom_support::model;

use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use unisync::{Barrier, Event, Semaphore, ShutdownSignal, WaitGroup};

/// A value one thread writes and another reads.
#[derive(Default)]
struct Data(UnsafeCell<usize>);

// SAFETY: the models only touch the value where the primitive under test orders the accesses;
// loom checks that, and fails the model where it does not.
unsafe impl Sync for Data {}

impl Data {
    fn write(&self, value: usize) {
        // SAFETY: see the `Sync` impl.
        self.0.with_mut(|p| unsafe { *p = value });
    }

    fn read(&self) -> usize {
        // SAFETY: see the `Sync` impl.
        self.0.with(|p| unsafe { *p })
    }
}

/// Spawns a thread that writes 1 to `data` and then releases with `release(handle)`, then
/// yields once (see the module docs) and returns the thread.
fn write_then<H: Send + 'static, R>(
    data: &Arc<Data>,
    handle: H,
    release: impl FnOnce(H) -> R + Send + 'static,
) -> thread::JoinHandle<()> {
    let data = data.clone();
    let thread = thread::spawn(move || {
        data.write(1);
        release(handle);
    });
    thread::yield_now();
    thread
}

/// Writes before `set`, reads after a wait that the set ended or found done: async, blocking,
/// and a look with `is_set`.
#[test]
fn event_set_orders_the_setters_writes_before_the_wait() {
    model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(Data::default());
        let setter = write_then(&data, event.clone(), |event| event.set());
        block_on(event.wait());
        assert_eq!(data.read(), 1);
        setter.join().unwrap();
    });
    model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(Data::default());
        let waiter = {
            let (event, data) = (event.clone(), data.clone());
            thread::spawn(move || {
                event.wait_blocking();
                data.read()
            })
        };
        thread::yield_now();
        data.write(1);
        event.set();
        assert_eq!(waiter.join().unwrap(), 1);
    });
    model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(Data::default());
        let setter = write_then(&data, event.clone(), |event| event.set());
        if event.is_set() {
            assert_eq!(data.read(), 1);
        }
        setter.join().unwrap();
    });
}

/// A permit added by one thread, or released by its holder, orders that thread's writes before
/// the acquire that gets it: handed to a queued waiter, or left in the count once the queue
/// is served.
#[test]
fn semaphore_release_orders_writes_before_the_next_acquire() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let data = Arc::new(Data::default());
        let mut first = Box::pin(sem.acquire());
        assert!(poll_once(&mut first).is_pending());
        let adder = write_then(&data, sem.clone(), |sem| sem.add_permits(2));
        let permit = block_on(sem.acquire()).unwrap();
        assert_eq!(data.read(), 1);
        drop((permit, block_on(first).unwrap()));
        adder.join().unwrap();
    });
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let data = Arc::new(Data::default());
        let adder = write_then(&data, sem.clone(), |sem| sem.add_permits(1));
        let permit = block_on(sem.acquire()).unwrap();
        assert_eq!(data.read(), 1);
        drop(permit);
        adder.join().unwrap();
    });
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let data = Arc::new(Data::default());
        let other = {
            let (sem, data) = (sem.clone(), data.clone());
            thread::spawn(move || {
                let _permit = sem.acquire_blocking().unwrap();
                let seen = data.read();
                data.write(seen + 1);
            })
        };
        thread::yield_now();
        {
            let _permit = block_on(sem.acquire()).unwrap();
            let seen = data.read();
            data.write(seen + 1);
        }
        other.join().unwrap();
        assert_eq!(data.read(), 2);
    });
}

/// Each party's writes before the barrier are visible to every party after it.
#[test]
fn barrier_orders_every_partys_writes_before_the_trip() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let (a, b) = (Arc::new(Data::default()), Arc::new(Data::default()));
        let other = {
            let (barrier, a, b) = (barrier.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                b.write(2);
                barrier.wait_blocking().unwrap();
                a.read()
            })
        };
        thread::yield_now();
        a.write(1);
        block_on(barrier.wait()).unwrap();
        assert_eq!(b.read(), 2);
        assert_eq!(other.join().unwrap(), 1);
    });
}

/// A token's holder's writes before it drops the token are visible once the group's wait
/// returns.
#[test]
fn wait_group_orders_a_tokens_writes_before_the_wait() {
    model(|| {
        let group = WaitGroup::new();
        let data = Arc::new(Data::default());
        let token = group.token();
        let worker = write_then(&data, token, drop);
        block_on(group.wait());
        assert_eq!(data.read(), 1);
        worker.join().unwrap();
    });
    // With a wait queued, the last drop releases it under the queue's lock; a wait that
    // starts afterwards finds the count at zero without that lock.
    model(|| {
        let group = WaitGroup::new();
        let data = Arc::new(Data::default());
        let token = group.token();
        let mut first = Box::pin(group.wait());
        assert!(poll_once(&mut first).is_pending());
        let worker = write_then(&data, token, drop);
        block_on(group.wait());
        assert_eq!(data.read(), 1);
        block_on(first);
        worker.join().unwrap();
    });
    // Two tokens and a queued wait: the token dropped last wakes the wait under the queue's
    // lock, and passes on what the other token's holder wrote before its own drop.
    model(|| {
        let group = WaitGroup::new();
        let data = Arc::new(Data::default());
        let (early, late) = (group.token(), group.token());
        let mut wait = Box::pin(group.wait());
        assert!(poll_once(&mut wait).is_pending());
        let worker = write_then(&data, early, drop);
        drop(late);
        block_on(wait);
        assert_eq!(data.read(), 1);
        worker.join().unwrap();
    });
}

/// A trigger orders the triggering thread's writes before the waits it ends, a child's
/// included; the last drain guard's drop orders its holder's writes before `drained`.
#[test]
fn shutdown_orders_writes_before_the_waits_it_ends() {
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let trigger = write_then(&data, root.clone(), |root| root.trigger());
        block_on(root.wait());
        assert_eq!(data.read(), 1);
        trigger.join().unwrap();
    });
    // A look that finds the signal fired, the root's or a child's, orders the same.
    model(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let data = Arc::new(Data::default());
        let trigger = write_then(&data, root.clone(), |root| root.trigger());
        if child.is_triggered() {
            assert_eq!(data.read(), 1);
        }
        trigger.join().unwrap();
    });
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let trigger = write_then(&data, root.clone(), |root| root.trigger());
        if root.is_triggered() {
            assert_eq!(data.read(), 1);
        }
        trigger.join().unwrap();
    });
    model(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let data = Arc::new(Data::default());
        let trigger = write_then(&data, root.clone(), |root| root.trigger());
        block_on(child.wait());
        assert_eq!(data.read(), 1);
        trigger.join().unwrap();
    });
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let guard = root.track();
        let worker = write_then(&data, guard, drop);
        root.trigger();
        block_on(root.drained());
        assert_eq!(data.read(), 1);
        worker.join().unwrap();
    });
    // With a wait queued, the firing (and the last guard's drop) release it under the queue's
    // lock; a wait that starts afterwards finds the flag (or the count) without that lock.
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let mut first = Box::pin(root.wait());
        assert!(poll_once(&mut first).is_pending());
        let trigger = write_then(&data, root.clone(), |root| root.trigger());
        block_on(root.wait());
        assert_eq!(data.read(), 1);
        block_on(first);
        trigger.join().unwrap();
    });
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let guard = root.track();
        root.trigger();
        let mut first = Box::pin(root.drained());
        assert!(poll_once(&mut first).is_pending());
        let worker = write_then(&data, guard, drop);
        block_on(root.drained());
        assert_eq!(data.read(), 1);
        block_on(first);
        worker.join().unwrap();
    });
    // A drain wait queued before the trigger and the last guard dropped before it too: the
    // firing wakes the wait, and passes on what the guard's holder wrote.
    model(|| {
        let root = ShutdownSignal::new();
        let data = Arc::new(Data::default());
        let guard = root.track();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let worker = write_then(&data, guard, drop);
        root.trigger();
        block_on(drained);
        assert_eq!(data.read(), 1);
        worker.join().unwrap();
    });
}

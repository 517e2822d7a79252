//! Sizes of the primitives and the heap allocations of their paths, counted per thread.

mod common;

use std::mem::size_of;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use common::{allocs, assert_pending, assert_ready, Counter};
use futures::FutureExt as _;
use unisync::futures::{Acquire, BarrierWait, EventWait, Lock, Read, UpgradableRead, Write};
use unisync::{Barrier, Condvar, Event, Mutex, RwLock, Semaphore};

common::counting_allocator!();

#[test]
fn sizes() {
    // A state word and one pointer to the wait queue, allocated on first contention.
    assert!(size_of::<Mutex<()>>() <= 16, "{}", size_of::<Mutex<()>>());
    assert!(size_of::<Semaphore>() <= 16, "{}", size_of::<Semaphore>());
    assert!(size_of::<Event>() <= 16, "{}", size_of::<Event>());
}

#[test]
fn futures_hold_their_queue_node_and_stay_small() {
    // Each future carries its waiter's place in the queue (links, waker, state and one word
    // of data: six words), one word of its own, a pad word and a reference (see `Shell` for
    // why the pad word pays for itself when the future is moved).
    let limit = 9 * size_of::<usize>();
    let sizes = [
        ("Lock", size_of::<Lock<'_, u64>>()),
        ("Acquire", size_of::<Acquire<'_>>()),
        ("Read", size_of::<Read<'_, u64>>()),
        ("Write", size_of::<Write<'_, u64>>()),
        ("UpgradableRead", size_of::<UpgradableRead<'_, u64>>()),
        ("EventWait", size_of::<EventWait<'_>>()),
        ("BarrierWait", size_of::<BarrierWait<'_>>()),
    ];
    for (name, size) in sizes {
        assert!(size <= limit, "`{name}` is {size} bytes");
    }
}

#[test]
fn counter_sees_allocations() {
    let (n, b) = allocs(|| Box::new(1u64));
    assert_eq!(n, 1);
    drop(b);
}

fn mutex_uncontended(m: &Mutex<u32>) {
    *m.try_lock().unwrap() += 1;
    *m.lock().now_or_never().unwrap() += 1;
    *m.lock_blocking() += 1;
    *m.lock_blocking_timeout(Duration::from_secs(1)).unwrap() += 1;
    assert!(!m.is_locked());
}

#[test]
fn uncontended_mutex_never_allocates() {
    let (n, ()) = allocs(|| {
        let m = Mutex::new(0);
        mutex_uncontended(&m);
    });
    assert_eq!(n, 0, "a brand-new mutex allocated on the uncontended path");

    let m = Arc::new(Mutex::new(0));
    let (n, ()) = allocs(|| {
        drop(m.try_lock_owned().unwrap());
        drop(m.lock_owned().now_or_never().unwrap());
    });
    assert_eq!(n, 0);

    // After a contended round (the sticky contended bit is set and the event's list exists),
    // uncontended locking still allocates nothing.
    contended_mutex_round(&m);
    let (n, ()) = allocs(|| mutex_uncontended(&m));
    assert_eq!(n, 0, "uncontended lock after contention allocated");
}

fn sem_uncontended(sem: &Semaphore) {
    drop(sem.try_acquire().unwrap());
    drop(sem.try_acquire_many(2).unwrap());
    drop(sem.acquire().now_or_never().unwrap().unwrap());
    drop(sem.acquire_many(2).now_or_never().unwrap().unwrap());
    drop(sem.acquire_blocking().unwrap());
    drop(sem.acquire_many_blocking(2).unwrap());
    drop(
        sem.acquire_blocking_timeout(Duration::from_secs(1))
            .unwrap(),
    );
    drop(sem.acquire_many(0).now_or_never().unwrap().unwrap());
    sem.add_permits(1);
    sem.try_acquire().unwrap().forget();
}

#[test]
fn uncontended_semaphore_never_allocates() {
    let (n, ()) = allocs(|| {
        let sem = Semaphore::new(2);
        sem_uncontended(&sem);
        assert_eq!(sem.available_permits(), 2);
    });
    assert_eq!(
        n, 0,
        "a brand-new semaphore allocated on the uncontended path"
    );

    let sem = Arc::new(Semaphore::new(2));
    let (n, ()) = allocs(|| {
        drop(sem.try_acquire_owned().unwrap());
        drop(sem.acquire_many_owned(2).now_or_never().unwrap().unwrap());
    });
    // `sem.clone()` bumps a reference count; nothing is allocated.
    assert_eq!(n, 0);

    contended_sem_round(&sem);
    let (n, ()) = allocs(|| sem_uncontended(&sem));
    assert_eq!(n, 0, "uncontended acquire after contention allocated");
}

/// One waiter parks, the holder releases, the waiter completes. Returns the allocations.
fn contended_mutex_round(m: &Mutex<u32>) -> usize {
    let c = Counter::new();
    let holder = m.try_lock().unwrap();
    let mut fut = pin!(m.lock());
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        assert_eq!(c.count(), 1);
        drop(assert_ready!(c, fut));
    });
    n
}

fn contended_sem_round(sem: &Semaphore) -> usize {
    let c = Counter::new();
    let holder = sem.try_acquire_many(2).unwrap();
    let mut fut = pin!(sem.acquire_many(2));
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        drop(assert_ready!(c, fut).unwrap());
    });
    n
}

#[test]
fn a_parked_wait_allocates_nothing_once_the_queue_exists() {
    let m = Mutex::new(0);
    assert_eq!(
        contended_mutex_round(&m),
        1,
        "first contention: the queue itself"
    );
    for _ in 0..3 {
        assert_eq!(contended_mutex_round(&m), 0, "a parked lock allocated");
    }
    let sem = Semaphore::new(2);
    assert_eq!(
        contended_sem_round(&sem),
        1,
        "first contention: the queue itself"
    );
    for _ in 0..3 {
        assert_eq!(contended_sem_round(&sem), 0, "a parked acquire allocated");
    }
}

#[test]
fn a_woken_and_overtaken_waiter_waits_again_without_allocating() {
    let m = Mutex::new(0);
    contended_mutex_round(&m);
    let c = Counter::new();
    let holder = m.try_lock().unwrap();
    let mut fut = pin!(m.lock());
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        let barger = m.try_lock().unwrap();
        assert_pending!(c, fut); // overtaken: back to the front of the queue
        drop(barger); // hands the lock over
        drop(assert_ready!(c, fut));
    });
    assert_eq!(n, 0, "{n} allocations");

    // A semaphore waiter woken for part of its request, then for the rest.
    let sem = Semaphore::new(0);
    sem.add_permits(2);
    contended_sem_round(&sem);
    let held = sem.try_acquire_many(2).unwrap();
    let mut fut = pin!(sem.acquire_many(3));
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(held);
        assert_pending!(c, fut);
        sem.add_permits(1);
        assert_ready!(c, fut).unwrap().forget();
    });
    assert_eq!(n, 0, "{n} allocations");
}

#[test]
fn parked_waits_of_every_primitive_allocate_nothing() {
    let c = Counter::new();
    let lock = RwLock::new(0);
    let event = Event::new();
    let barrier = Barrier::new(2);
    let mutex = Arc::new(Mutex::new(0));
    let cv = Condvar::new();
    let round = || {
        let writer = lock.try_write().unwrap();
        let mut read = pin!(lock.read());
        assert_pending!(c, read);
        drop(writer);
        let reader = assert_ready!(c, read);
        let mut write = pin!(lock.write());
        assert_pending!(c, write);
        drop(reader);
        drop(assert_ready!(c, write));

        let mut wait = pin!(event.wait());
        assert_pending!(c, wait);
        event.set();
        assert_ready!(c, wait);
        event.clear();

        let mut first = pin!(barrier.wait());
        assert_pending!(c, first);
        let mut second = pin!(barrier.wait());
        assert_ready!(c, second).unwrap();
        assert_ready!(c, first).unwrap();

        let mut wait = pin!(cv.wait(mutex.try_lock().unwrap()));
        assert_pending!(c, wait);
        cv.notify_one();
        drop(assert_ready!(c, wait));
    };
    // The first round allocates each primitive's queue once (two for the lock's readers and
    // its writer's drain).
    let (first, ()) = allocs(round);
    assert!(first <= 6, "{first} allocations");
    for _ in 0..3 {
        let (n, ()) = allocs(round);
        assert_eq!(n, 0, "{n} allocations");
    }
}

#[test]
fn a_blocked_thread_waits_without_allocating() {
    let m = Arc::new(Mutex::new(0));
    contended_mutex_round(&m);
    for _ in 0..3 {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || {
                // Warm the thread up (its handle, its first park), then wait to be told the
                // lock is held.
                drop(m.lock_blocking());
                std::thread::park_timeout(Duration::from_millis(1));
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                let (n, ()) = allocs(|| *m.lock_blocking() += 1);
                n
            })
        };
        ready_rx.recv().unwrap();
        let guard = m.try_lock().unwrap();
        go_tx.send(()).unwrap();
        // Give the thread time to park (if it has not, it simply waits less).
        std::thread::sleep(Duration::from_millis(20));
        drop(guard);
        assert_eq!(waiter.join().unwrap(), 0, "a blocking wait allocated");
    }
}

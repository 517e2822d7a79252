//! Sizes of the primitives and the heap allocations of their paths, counted per thread.
// The blocking forms need the `std` feature; without it their steps and tests are left out.
#![cfg_attr(not(feature = "std"), allow(unused_imports))]

mod common;

use std::mem::size_of;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use common::{allocs, assert_pending, assert_ready, net_bytes, Counter};
use futures::FutureExt as _;
use unisync::futures::{
    Acquire, BarrierWait, Drained, DrainedOwned, EventWait, EventWaitOwned, Lock, Read,
    ShutdownWait, ShutdownWaitOwned, UpgradableRead, WaitGroupWait, WaitGroupWaitOwned, Write,
};
use unisync::{
    Barrier, Condvar, DrainGuard, Event, Mutex, RwLock, Semaphore, ShutdownSignal, WaitGroup,
    WaitGroupToken,
};

common::counting_allocator!();

#[test]
#[cfg_attr(
    feature = "diagnostics",
    ignore = "the diagnostics feature adds a holder record to locks and a wait record to futures"
)]
fn sizes() {
    // A state word and one pointer to the wait queue, allocated on first contention.
    assert!(size_of::<Mutex<()>>() <= 16, "{}", size_of::<Mutex<()>>());
    assert!(size_of::<Semaphore>() <= 16, "{}", size_of::<Semaphore>());
    assert!(size_of::<Event>() <= 16, "{}", size_of::<Event>());
}

#[test]
#[cfg_attr(
    feature = "diagnostics",
    ignore = "the diagnostics feature adds a holder record to locks and a wait record to futures"
)]
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
        ("EventWaitOwned", size_of::<EventWaitOwned>()),
        ("BarrierWait", size_of::<BarrierWait<'_>>()),
        ("WaitGroupWait", size_of::<WaitGroupWait<'_>>()),
        ("WaitGroupWaitOwned", size_of::<WaitGroupWaitOwned>()),
        ("ShutdownWait", size_of::<ShutdownWait<'_>>()),
        ("ShutdownWaitOwned", size_of::<ShutdownWaitOwned>()),
        ("Drained", size_of::<Drained<'_>>()),
        ("DrainedOwned", size_of::<DrainedOwned>()),
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
    #[cfg(feature = "std")]
    {
        *m.lock_blocking() += 1;
        *m.lock_blocking_timeout(Duration::from_secs(1)).unwrap() += 1;
    }
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
    #[cfg(feature = "std")]
    {
        drop(sem.acquire_blocking().unwrap());
        drop(sem.acquire_many_blocking(2).unwrap());
        drop(
            sem.acquire_blocking_timeout(Duration::from_secs(1))
                .unwrap(),
        );
    }
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

#[cfg(feature = "std")]
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

#[test]
fn shutdown_and_wait_group_handles_are_one_pointer() {
    let word = size_of::<usize>();
    assert_eq!(size_of::<ShutdownSignal>(), word);
    assert_eq!(size_of::<Option<ShutdownSignal>>(), word);
    assert_eq!(size_of::<DrainGuard>(), word);
    assert_eq!(size_of::<WaitGroup>(), word);
    assert_eq!(size_of::<WaitGroupToken>(), word);
    assert_eq!(size_of::<Option<WaitGroupToken>>(), word);
}

/// A guard of a signal up to 32 levels below its root allocates nothing, a deeper one one
/// short-lived block (its list of ancestors), and every level counts it either way.
#[test]
fn a_guard_deep_in_a_tree_allocates_only_past_32_levels() {
    for below in [0usize, 1, 31, 32, 33, 34, 100] {
        let root = ShutdownSignal::new();
        let mut all = vec![root.clone()];
        for _ in 0..below {
            let next = all.last().unwrap().child();
            all.push(next);
        }
        let leaf = all.last().unwrap();
        let (n, guard) = allocs(|| leaf.track());
        let (m, other) = allocs(|| guard.clone());
        let expected = usize::from(below > 32);
        assert_eq!(
            (n, m),
            (expected, expected),
            "a guard {below} levels below the root"
        );
        assert!(all.iter().all(|signal| signal.tracked() == 2));
        drop((guard, other));
        assert!(all.iter().all(|signal| signal.tracked() == 0));
    }
}

#[test]
fn shutdown_and_wait_group_allocate_one_block_each_and_nothing_on_their_fast_paths() {
    let (n, group) = allocs(WaitGroup::new);
    assert_eq!(n, 1, "a wait group is one block");
    let (n, ()) = allocs(|| {
        let token = group.token();
        let other = token.clone();
        let handle = group.clone();
        assert_eq!(handle.count(), 2);
        drop((token, other, handle));
        assert!(group.wait().now_or_never().is_some());
        #[cfg(feature = "std")]
        {
            group.wait_blocking();
            assert!(group.wait_blocking_timeout(Duration::from_secs(1)));
        }
    });
    assert_eq!(n, 0, "tokens and a wait at zero allocated");

    let (n, signal) = allocs(ShutdownSignal::new);
    assert_eq!(n, 1, "a signal is one block");
    let (n, ()) = allocs(|| {
        let clone = signal.clone();
        let guard = signal.track();
        let other = guard.clone();
        assert_eq!(signal.tracked(), 2);
        // Nobody waits: firing takes no queue.
        assert!(clone.trigger());
        assert!(signal.wait().now_or_never().is_some());
        assert!(signal.wait_owned().now_or_never().is_some());
        #[cfg(feature = "std")]
        {
            signal.wait_blocking();
            assert!(signal.wait_blocking_timeout(Duration::from_secs(1)));
        }
        drop((guard, other));
        assert!(signal.drained().now_or_never().is_some());
        #[cfg(feature = "std")]
        {
            signal.drained_blocking();
            assert!(signal.drained_blocking_timeout(Duration::from_secs(1)));
        }
        drop(clone);
    });
    assert_eq!(n, 0, "handles, guards and completed waits allocated");

    let root = ShutdownSignal::new();
    // The first child also allocates the queue it registers in.
    let (n, first) = allocs(|| root.child());
    assert_eq!(n, 2, "the child and its parent's queue");
    let (n, second) = allocs(|| root.child());
    assert_eq!(n, 1, "a child is one block");
    root.trigger();
    assert!(first.is_triggered() && second.is_triggered());
    let (n, born) = allocs(|| root.child());
    assert_eq!(n, 1, "a child born triggered is one block");
    assert!(born.is_triggered());
}

/// Makes and drops `cycles` children of `root` with `cycle`; checks that each costs at most
/// one allocation and that nothing is retained.
fn child_cycles(root: &ShutdownSignal, cycles: usize, what: &str, cycle: impl Fn(&ShutdownSignal)) {
    // The first child allocates the root's queue (if a waiter has not already): not counted.
    cycle(root);
    let (bytes, (n, ())) = net_bytes(|| {
        allocs(|| {
            for _ in 0..cycles {
                cycle(root);
            }
        })
    });
    assert!(
        n <= cycles,
        "{what}: {n} allocations for {cycles} children, more than one each"
    );
    assert_eq!(
        bytes, 0,
        "{what}: {cycles} children made and dropped left {bytes} bytes behind"
    );
}

#[test]
fn a_million_children_made_and_dropped_cost_one_block_each_and_leave_nothing() {
    for parked in [false, true] {
        let root = ShutdownSignal::new();
        let c = Counter::new();
        let mut wait = pin!(root.wait());
        if parked {
            assert_pending!(c, wait);
        }
        // Under Miri a hundred: the counts are exact, so one block per child shows as well.
        let cycles = if cfg!(miri) { 100 } else { 1_000_000 };
        child_cycles(&root, cycles, "plain", |root| {
            let child = root.child();
            drop(child);
        });
        // A connection's life: cloned, tracked, closed on its own.
        child_cycles(&root, cycles / 5, "tracked and triggered", |root| {
            let child = root.child();
            let handle = child.clone();
            let guard = child.track();
            assert!(handle.trigger());
            drop((guard, handle, child));
        });
        assert_eq!(root.tracked(), 0);
        assert!(!root.is_triggered(), "a child's trigger reached the root");
        // The root still works, and its waiter was woken by nothing but its trigger.
        assert_eq!(c.count(), 0);
        let kept = root.child();
        root.trigger();
        assert!(kept.is_triggered());
        if parked {
            assert_eq!(c.count(), 1);
            assert_ready!(c, wait);
        }
    }
}

#[test]
fn parked_shutdown_and_wait_group_waits_allocate_nothing_once_the_queue_exists() {
    let c = Counter::new();
    let group = WaitGroup::new();
    let round = || {
        let token = group.token();
        let mut wait = pin!(group.wait());
        assert_pending!(c, wait);
        drop(token);
        assert_ready!(c, wait);
    };
    let (first, ()) = allocs(round);
    assert_eq!(first, 1, "first wait: the queue itself");
    for _ in 0..3 {
        let (n, ()) = allocs(round);
        assert_eq!(n, 0, "a parked group wait allocated");
    }

    for _ in 0..3 {
        let signal = ShutdownSignal::new();
        // Warm the signal's queue with a wait that parks and is dropped.
        let (first, ()) = allocs(|| {
            let mut wait = pin!(signal.wait());
            assert_pending!(c, wait);
        });
        assert_eq!(first, 1, "first wait: the queue itself");
        let (n, ()) = allocs(|| {
            let guard = signal.track();
            let mut wait = pin!(signal.wait());
            let mut owned = pin!(signal.wait_owned());
            let mut drained = pin!(signal.drained());
            assert_pending!(c, wait);
            assert_pending!(c, owned);
            assert_pending!(c, drained);
            signal.trigger();
            assert_ready!(c, wait);
            assert_ready!(c, owned);
            assert_pending!(c, drained);
            drop(guard);
            assert_ready!(c, drained);
        });
        assert_eq!(n, 0, "parked shutdown waits allocated {n} times");
    }
}

/// `Barrier` and `Event` are exactly the sizes their `# Size` sections give for 64-bit targets.
#[cfg(target_pointer_width = "64")]
#[test]
fn barrier_and_event_sizes_match_their_docs() {
    assert_eq!(
        size_of::<Barrier>(),
        24,
        "src/barrier.rs `# Size` says 24 bytes"
    );
    assert_eq!(
        size_of::<Event>(),
        16,
        "src/event.rs `# Size` says 16 bytes"
    );
}

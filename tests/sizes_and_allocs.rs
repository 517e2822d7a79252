//! Sizes of the primitives and the heap allocations of their paths, counted per thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;
use std::sync::Arc;
use std::time::Duration;

use common::{assert_pending, assert_ready, Counter};
use futures::FutureExt as _;
use unisync::futures::{Acquire, EventWait, Lock, Read, UpgradableRead};
use unisync::{Mutex, Semaphore};

/// Counts allocations made by the current thread, so other test threads do not interfere.
struct CountingAlloc;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with` so an allocation during thread teardown is simply not counted.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded to `System` unchanged; we only count.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn allocs<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (ALLOCS.with(Cell::get) - before, r)
}

#[test]
fn sizes() {
    // A state word and an event (one pointer).
    assert!(size_of::<Mutex<()>>() <= 16, "{}", size_of::<Mutex<()>>());
    // A state word and one pointer to the lazily allocated pair of wait queues.
    assert!(size_of::<Semaphore>() <= 16, "{}", size_of::<Semaphore>());
}

#[test]
fn hot_futures_are_a_few_words() {
    // Futures are often moved right after they are built (`now_or_never`, `select!`); a small
    // future of whole words copies cheaply. A reference, a listener slot and one word of state.
    let three_words = 3 * size_of::<usize>();
    let sizes = [
        ("Lock", size_of::<Lock<'_, u64>>()),
        ("Acquire", size_of::<Acquire<'_>>()),
        ("Read", size_of::<Read<'_, u64>>()),
        ("UpgradableRead", size_of::<UpgradableRead<'_, u64>>()),
        ("EventWait", size_of::<EventWait<'_>>()),
    ];
    for (name, size) in sizes {
        assert!(size <= three_words, "`{name}` is {size} bytes");
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
        drop(sem.clone().try_acquire_owned().unwrap());
        drop(
            sem.clone()
                .acquire_many_owned(2)
                .now_or_never()
                .unwrap()
                .unwrap(),
        );
    });
    // `sem.clone()` bumps a reference count; nothing is allocated.
    assert_eq!(n, 0);

    contended_sem_round(&sem);
    let (n, ()) = allocs(|| sem_uncontended(&sem));
    assert_eq!(n, 0, "uncontended acquire after contention allocated");
}

/// One waiter parks, the holder releases, the waiter completes.
fn contended_mutex_round(m: &Mutex<u32>) {
    let c = Counter::new();
    let holder = m.try_lock().unwrap();
    let mut fut = m.lock();
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        drop(assert_ready!(c, fut));
    });
    // First round: the event's list plus one listener; later rounds: the listener only.
    assert!(n <= 2, "{n} allocations");
}

fn contended_sem_round(sem: &Semaphore) {
    let c = Counter::new();
    let holder = sem.try_acquire_many(2).unwrap();
    let mut fut = sem.acquire_many(2);
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        drop(assert_ready!(c, fut).unwrap());
    });
    // First round: the pair of wait queues, the queue's list and one listener; later rounds:
    // the listener only.
    assert!(n <= 3, "{n} allocations");
}

#[test]
fn contended_mutex_wait_allocates_at_most_one_listener() {
    let m = Mutex::new(0);
    contended_mutex_round(&m);
    let c = Counter::new();
    let holder = m.try_lock().unwrap();
    let mut fut = m.lock();
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        assert_eq!(c.count(), 1);
        drop(assert_ready!(c, fut));
    });
    assert!(n <= 1, "{n} allocations for one contended wait");
}

#[test]
fn contended_semaphore_wait_allocates_at_most_one_listener() {
    let sem = Semaphore::new(2);
    contended_sem_round(&sem);
    let c = Counter::new();
    let holder = sem.try_acquire().unwrap();
    let holder2 = sem.try_acquire().unwrap();
    let mut fut = sem.acquire();
    let (n, ()) = allocs(|| {
        assert_pending!(c, fut);
        drop(holder);
        assert_eq!(c.count(), 1);
        drop(assert_ready!(c, fut).unwrap());
    });
    assert!(n <= 1, "{n} allocations for one contended wait");
    drop(holder2);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn head_waiter_allocates_a_bounded_number_of_listeners() {
    // A waiter that becomes head parks once on the queue and once (or more) on the head event;
    // each first use of the head event allocates its list once.
    let sem = Semaphore::new(0);
    let run = |sem: &Semaphore| {
        let c = Counter::new();
        let mut fut = sem.acquire_many(2);
        allocs(|| {
            assert_pending!(c, fut);
            sem.add_permits(1);
            assert_pending!(c, fut);
            sem.add_permits(1);
            // Keep the semaphore empty for the next round.
            assert_ready!(c, fut).unwrap().forget();
        })
        .0
    };
    let first = run(&sem);
    let warm = run(&sem);
    assert!(warm <= 2, "{warm} allocations (first round {first})");
}

//! A panic while holding a guard releases it, and the primitive stays usable: no poisoning,
//! the next holder sees the value as the panicking code left it, and a queued waiter is woken.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use common::Counter;
use futures::executor::block_on;
use futures::FutureExt;
use unisync::{
    Condvar, MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, MutexGuard,
    OwnedMappedMutexGuard, OwnedMappedRwLockReadGuard, OwnedMappedRwLockWriteGuard,
    OwnedMutexGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore,
};

/// Runs `f`, which must panic.
fn panics(f: impl FnOnce()) {
    assert!(catch_unwind(AssertUnwindSafe(f)).is_err());
}

/// Queues a lock waiter on `m`, runs `f` (which panics while holding the lock), and checks
/// that the waiter was woken, gets the lock and sees the value `f` left.
fn mutex_after_panic(m: &Mutex<u32>, f: impl FnOnce()) {
    let c = Counter::new();
    let mut waiter = Box::pin(m.lock());
    assert!(c.poll(&mut waiter).is_pending());
    panics(f);
    assert!(c.count() > 0, "the queued waiter was not woken");
    let guard = match c.poll(&mut waiter) {
        std::task::Poll::Ready(g) => g,
        std::task::Poll::Pending => panic!("the lock was not released by the panic"),
    };
    assert_eq!(*guard, 1);
    drop(guard);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[test]
fn panic_holding_mutex_guard_releases_it() {
    let m = Mutex::new(0);
    let mut guard = m.try_lock().unwrap();
    mutex_after_panic(&m, move || {
        *guard += 1;
        panic!("while holding a MutexGuard");
    });
}

#[test]
fn panic_holding_owned_mutex_guard_releases_it() {
    let m = Arc::new(Mutex::new(0));
    let mut guard = m.try_lock_owned().unwrap();
    mutex_after_panic(&m, move || {
        *guard += 1;
        panic!("while holding an OwnedMutexGuard");
    });
}

#[test]
fn panic_holding_mapped_mutex_guard_releases_it() {
    let m = Mutex::new((0, 0));
    let c = Counter::new();
    let mut waiter = Box::pin(m.lock());
    let mut mapped = MutexGuard::map(m.try_lock().unwrap(), |pair| &mut pair.1);
    assert!(c.poll(&mut waiter).is_pending());
    panics(move || {
        *mapped = 5;
        panic!("while holding a MappedMutexGuard");
    });
    assert!(c.count() > 0);
    match c.poll(&mut waiter) {
        std::task::Poll::Ready(g) => assert_eq!(*g, (0, 5)),
        std::task::Poll::Pending => panic!("the lock was not released by the panic"),
    }
    assert!(!m.is_locked());
}

#[test]
fn panic_inside_a_task_holding_the_lock_releases_it() {
    let m = Mutex::new(0);
    let res = block_on(
        AssertUnwindSafe(async {
            let mut guard = m.lock().await;
            *guard = 1;
            panic!("inside a task");
        })
        .catch_unwind(),
    );
    assert!(res.is_err());
    assert_eq!(*block_on(m.lock()), 1);
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[test]
fn panicking_tokio_task_releases_the_rwlock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let lock = Arc::new(RwLock::new(0));
        let l2 = lock.clone();
        let handle = tokio::spawn(async move {
            let mut guard = l2.write().await;
            *guard = 3;
            panic!("inside a spawned task");
        });
        assert!(handle.await.unwrap_err().is_panic());
        assert_eq!(*lock.write().await, 3);
    });
}

#[test]
fn panic_holding_rwlock_read_guard_releases_it() {
    let lock = RwLock::new(2);
    let guard = lock.try_read().unwrap();
    let c = Counter::new();
    let mut writer = Box::pin(lock.write());
    assert!(c.poll(&mut writer).is_pending());
    panics(move || {
        assert_eq!(*guard, 2);
        panic!("while holding a read guard");
    });
    assert!(c.count() > 0, "the queued writer was not woken");
    assert!(c.poll(&mut writer).is_ready());
    drop(writer);
    assert_eq!(lock.reader_count(), 0);
    assert!(!lock.is_write_locked());
    assert!(lock.try_write().is_some());
}

#[test]
fn panic_holding_rwlock_write_guard_releases_it() {
    let lock = Arc::new(RwLock::new(0));
    let mut guard = lock.try_write_owned().unwrap();
    let c = Counter::new();
    let mut reader = Box::pin(lock.read());
    assert!(c.poll(&mut reader).is_pending());
    panics(move || {
        *guard = 7;
        panic!("while holding a write guard");
    });
    assert!(c.count() > 0, "the queued reader was not woken");
    match c.poll(&mut reader) {
        std::task::Poll::Ready(g) => assert_eq!(*g, 7),
        std::task::Poll::Pending => panic!("the write lock was not released"),
    }
    assert!(lock.try_write().is_some());
}

#[test]
fn panic_holding_upgradable_guard_releases_it() {
    let lock = RwLock::new(1);
    let guard = lock.try_upgradable_read().unwrap();
    let c = Counter::new();
    let mut other = Box::pin(lock.upgradable_read());
    assert!(c.poll(&mut other).is_pending());
    panics(move || {
        assert_eq!(*guard, 1);
        panic!("while holding an upgradable guard");
    });
    assert!(c.count() > 0, "the queued upgradable reader was not woken");
    let g = match c.poll(&mut other) {
        std::task::Poll::Ready(g) => g,
        std::task::Poll::Pending => panic!("the upgradable lock was not released"),
    };
    // The new upgradable guard can still upgrade: nothing was left behind.
    let mut w = RwLockUpgradableReadGuard::upgrade(g)
        .now_or_never()
        .unwrap();
    *w = 2;
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 2);
}

#[test]
fn panic_holding_a_permit_returns_it() {
    let sem = Arc::new(Semaphore::new(2));
    let p1 = sem.try_acquire().unwrap();
    let p2 = sem.try_acquire_owned().unwrap();
    let c = Counter::new();
    let mut waiter = Box::pin(sem.acquire_many(2));
    assert!(c.poll(&mut waiter).is_pending());
    panics(move || {
        let _held = (p1, p2);
        panic!("while holding permits");
    });
    assert!(c.count() > 0, "the queued waiter was not woken");
    assert!(c.poll(&mut waiter).is_ready());
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn panic_in_wait_while_condition_unlocks_the_mutex() {
    let m = Mutex::new(0);
    let cv = Condvar::new();
    let mut guard = m.try_lock().unwrap();
    *guard = 4;
    let mut fut = Box::pin(cv.wait_while(guard, |n| {
        assert_eq!(*n, 4);
        panic!("in the condition");
    }));
    let c = Counter::new();
    panics(|| {
        let _ = c.poll(&mut fut);
    });
    drop(fut);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 4);
    // The condvar still works with its mutex.
    let mut w = Box::pin(cv.wait(m.try_lock().unwrap()));
    assert!(c.poll(&mut w).is_pending());
    cv.notify_one();
    assert!(c.poll(&mut w).is_ready());
}

#[test]
fn panic_in_wait_while_condition_after_a_wake_up_unlocks_the_mutex() {
    let m = Mutex::new(0);
    let cv = Condvar::new();
    let mut fut = Box::pin(cv.wait_while(m.try_lock().unwrap(), |n| {
        assert!(*n == 0, "condition sees {n}");
        true
    }));
    let c = Counter::new();
    assert!(c.poll(&mut fut).is_pending());
    *m.try_lock().unwrap() = 1;
    cv.notify_one();
    panics(|| {
        let _ = c.poll(&mut fut);
    });
    drop(fut);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[cfg(feature = "std")]
#[test]
fn panicking_thread_releases_a_blocking_lock() {
    let m = Arc::new(Mutex::new(0));
    let m2 = m.clone();
    let t = std::thread::spawn(move || {
        let mut guard = m2.lock_blocking();
        *guard = 9;
        panic!("in a thread");
    });
    assert!(t.join().is_err());
    assert_eq!(*m.lock_blocking(), 9);
}

/// Regression: `map` forgot the guard before calling the closure, so a panicking closure left
/// the mutex locked for ever.
#[test]
fn panic_inside_guard_map_unlocks() {
    let m = Mutex::new((1u32, 2u32));
    panics(|| {
        let _ = MutexGuard::map(m.try_lock().unwrap(), |_| -> &mut u32 { panic!("in map") });
    });
    assert!(!m.is_locked(), "the panicking map left the mutex locked");
    panics(|| {
        let first = MutexGuard::map(m.try_lock().unwrap(), |v| &mut v.0);
        let _ = unisync::MappedMutexGuard::map(first, |_| -> &mut u32 { panic!("in map") });
    });
    assert!(
        !m.is_locked(),
        "the panicking nested map left the mutex locked"
    );
    assert_eq!(*m.try_lock().unwrap(), (1, 2));
}

/// Queues a lock waiter behind `guard` (a guard of `m`, mapped or not), runs `f` on the guard
/// (it must panic inside a `map`/`try_map` closure), and checks that the lock was released:
/// the waiter was woken and gets it.
fn mutex_released_by_panicking_map<T, G>(m: &Mutex<T>, guard: G, f: impl FnOnce(G)) {
    assert!(m.is_locked());
    let c = Counter::new();
    let mut waiter = Box::pin(m.lock());
    assert!(c.poll(&mut waiter).is_pending());
    panics(move || f(guard));
    assert!(c.count() > 0, "the queued waiter was not woken");
    assert!(
        c.poll(&mut waiter).is_ready(),
        "the panicking closure left the mutex locked"
    );
    assert!(!m.is_locked());
}

#[test]
fn panic_inside_every_mutex_map_and_try_map_unlocks() {
    let m = Arc::new(Mutex::new((1u32, Some(2u32))));
    mutex_released_by_panicking_map(&m, m.try_lock().unwrap(), |g| {
        let _ = MutexGuard::map(g, |_| -> &mut u32 { panic!("in MutexGuard::map") });
    });
    mutex_released_by_panicking_map(&m, m.try_lock().unwrap(), |g| {
        let _ = MutexGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in MutexGuard::try_map")
        });
    });
    let mapped = || MutexGuard::map(m.try_lock().unwrap(), |v| &mut v.1);
    mutex_released_by_panicking_map(&m, mapped(), |g| {
        let _ = MappedMutexGuard::map(g, |_| -> &mut u32 { panic!("in MappedMutexGuard::map") });
    });
    mutex_released_by_panicking_map(&m, mapped(), |g| {
        let _ = MappedMutexGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in MappedMutexGuard::try_map")
        });
    });
    mutex_released_by_panicking_map(&m, m.try_lock_owned().unwrap(), |g| {
        let _ = OwnedMutexGuard::map(g, |_| -> &mut u32 { panic!("in OwnedMutexGuard::map") });
    });
    mutex_released_by_panicking_map(&m, m.try_lock_owned().unwrap(), |g| {
        let _ = OwnedMutexGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in OwnedMutexGuard::try_map")
        });
    });
    let owned_mapped = || OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |v| &mut v.1);
    mutex_released_by_panicking_map(&m, owned_mapped(), |g| {
        let _ = OwnedMappedMutexGuard::map(g, |_| -> &mut u32 {
            panic!("in OwnedMappedMutexGuard::map")
        });
    });
    mutex_released_by_panicking_map(&m, owned_mapped(), |g| {
        let _ = OwnedMappedMutexGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in OwnedMappedMutexGuard::try_map")
        });
    });
    assert_eq!(Arc::strong_count(&m), 1, "a guard's `Arc` was left behind");
    assert_eq!(*m.try_lock().unwrap(), (1, Some(2)));
}

/// Queues a writer behind `guard` (a read or write guard of `lock`, mapped or not), runs `f`
/// on the guard (it must panic inside a `map`/`try_map` closure), and checks that the lock
/// was released: the writer was woken and gets it, and nothing is left behind.
fn rwlock_released_by_panicking_map<T, G>(lock: &RwLock<T>, guard: G, f: impl FnOnce(G)) {
    assert!(lock.try_write().is_none());
    let c = Counter::new();
    let mut writer = Box::pin(lock.write());
    assert!(c.poll(&mut writer).is_pending());
    panics(move || f(guard));
    assert!(c.count() > 0, "the queued writer was not woken");
    assert!(
        c.poll(&mut writer).is_ready(),
        "the panicking closure left the lock held"
    );
    drop(writer);
    assert_eq!(lock.reader_count(), 0);
    assert!(!lock.is_write_locked());
    assert!(lock.try_write().is_some());
}

#[test]
fn panic_inside_every_rwlock_read_map_and_try_map_releases_the_read_lock() {
    let lock = Arc::new(RwLock::new((1u32, Some(2u32))));
    rwlock_released_by_panicking_map(&lock, lock.try_read().unwrap(), |g| {
        let _ = RwLockReadGuard::map(g, |_| -> &u32 { panic!("in RwLockReadGuard::map") });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_read().unwrap(), |g| {
        let _ = RwLockReadGuard::try_map(g, |_| -> Option<&u32> {
            panic!("in RwLockReadGuard::try_map")
        });
    });
    let mapped = || RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.1);
    rwlock_released_by_panicking_map(&lock, mapped(), |g| {
        let _ =
            MappedRwLockReadGuard::map(g, |_| -> &u32 { panic!("in MappedRwLockReadGuard::map") });
    });
    rwlock_released_by_panicking_map(&lock, mapped(), |g| {
        let _ = MappedRwLockReadGuard::try_map(g, |_| -> Option<&u32> {
            panic!("in MappedRwLockReadGuard::try_map")
        });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_read_owned().unwrap(), |g| {
        let _ =
            OwnedRwLockReadGuard::map(g, |_| -> &u32 { panic!("in OwnedRwLockReadGuard::map") });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_read_owned().unwrap(), |g| {
        let _ = OwnedRwLockReadGuard::try_map(g, |_| -> Option<&u32> {
            panic!("in OwnedRwLockReadGuard::try_map")
        });
    });
    let owned_mapped = || OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.1);
    rwlock_released_by_panicking_map(&lock, owned_mapped(), |g| {
        let _ = OwnedMappedRwLockReadGuard::map(g, |_| -> &u32 {
            panic!("in OwnedMappedRwLockReadGuard::map")
        });
    });
    rwlock_released_by_panicking_map(&lock, owned_mapped(), |g| {
        let _ = OwnedMappedRwLockReadGuard::try_map(g, |_| -> Option<&u32> {
            panic!("in OwnedMappedRwLockReadGuard::try_map")
        });
    });
    assert_eq!(
        Arc::strong_count(&lock),
        1,
        "a guard's `Arc` was left behind"
    );
    assert_eq!(*lock.try_read().unwrap(), (1, Some(2)));
}

#[test]
fn panic_inside_every_rwlock_write_map_and_try_map_releases_the_write_lock() {
    let lock = Arc::new(RwLock::new((1u32, Some(2u32))));
    rwlock_released_by_panicking_map(&lock, lock.try_write().unwrap(), |g| {
        let _ = RwLockWriteGuard::map(g, |_| -> &mut u32 { panic!("in RwLockWriteGuard::map") });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_write().unwrap(), |g| {
        let _ = RwLockWriteGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in RwLockWriteGuard::try_map")
        });
    });
    let mapped = || RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.1);
    rwlock_released_by_panicking_map(&lock, mapped(), |g| {
        let _ = MappedRwLockWriteGuard::map(g, |_| -> &mut u32 {
            panic!("in MappedRwLockWriteGuard::map")
        });
    });
    rwlock_released_by_panicking_map(&lock, mapped(), |g| {
        let _ = MappedRwLockWriteGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in MappedRwLockWriteGuard::try_map")
        });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_write_owned().unwrap(), |g| {
        let _ = OwnedRwLockWriteGuard::map(g, |_| -> &mut u32 {
            panic!("in OwnedRwLockWriteGuard::map")
        });
    });
    rwlock_released_by_panicking_map(&lock, lock.try_write_owned().unwrap(), |g| {
        let _ = OwnedRwLockWriteGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in OwnedRwLockWriteGuard::try_map")
        });
    });
    let owned_mapped = || OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.1);
    rwlock_released_by_panicking_map(&lock, owned_mapped(), |g| {
        let _ = OwnedMappedRwLockWriteGuard::map(g, |_| -> &mut u32 {
            panic!("in OwnedMappedRwLockWriteGuard::map")
        });
    });
    rwlock_released_by_panicking_map(&lock, owned_mapped(), |g| {
        let _ = OwnedMappedRwLockWriteGuard::try_map(g, |_| -> Option<&mut u32> {
            panic!("in OwnedMappedRwLockWriteGuard::try_map")
        });
    });
    assert_eq!(
        Arc::strong_count(&lock),
        1,
        "a guard's `Arc` was left behind"
    );
    assert_eq!(*lock.try_read().unwrap(), (1, Some(2)));
}

/// A waker that panics when woken.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics");
    }
}

/// Sets an event with `n` waiters, the one at `bad` with a waker that panics: every other
/// waiter is still woken, the panic reaches the caller that woke it, and the queue's lock is
/// released once (the primitive stays usable, from this thread and from others).
fn set_with_a_panicking_waker(n: usize, bad: usize) {
    let event = unisync::Event::new();
    let counter = Counter::new();
    let panicking = std::task::Waker::from(Arc::new(PanickingWaker));
    let mut waits: Vec<_> = (0..n).map(|_| Box::pin(event.wait())).collect();
    for (i, wait) in waits.iter_mut().enumerate() {
        let waker = if i == bad {
            &panicking
        } else {
            counter.waker()
        };
        let mut cx = std::task::Context::from_waker(waker);
        assert!(std::future::Future::poll(wait.as_mut(), &mut cx).is_pending());
    }
    panics(|| event.set());
    assert_eq!(counter.count(), n - 1, "every other waiter was woken");
    for wait in &mut waits {
        assert!(wait.as_mut().now_or_never().is_some());
    }
    // The lock is free, and taken and released in balance.
    event.clear();
    let mut again = Box::pin(event.wait());
    assert!(counter.poll(&mut again).is_pending());
    let setter = std::thread::scope(|s| s.spawn(|| event.set()).join());
    assert!(setter.is_ok());
    assert!(again.now_or_never().is_some());
}

/// The panicking waker in the middle of a release that takes several batches (of 32).
#[test]
// Without `std` the panic is not caught: see `tests/panicking_wakers_no_std.rs`.
#[cfg(feature = "std")]
fn a_panicking_waker_leaves_no_waiter_asleep() {
    set_with_a_panicking_waker(100, 40);
}

/// The panicking waker last in a full batch that is not the release's last, and last of the
/// release's last batch, and the only waiter.
#[test]
// Without `std` the panic is not caught: see `tests/panicking_wakers_no_std.rs`.
#[cfg(feature = "std")]
fn a_panicking_waker_at_the_end_of_a_batch_leaves_the_lock_balanced() {
    set_with_a_panicking_waker(100, 31);
    set_with_a_panicking_waker(100, 99);
    set_with_a_panicking_waker(1, 0);
}

#[cfg(feature = "std")]
/// A mutex unlock that wakes a waiter whose waker panics: the panic reaches the unlocker,
/// the lock is free, and the woken waiter still gets it.
#[test]
fn an_unlock_waking_a_panicking_waker_leaves_the_mutex_usable() {
    let m = Mutex::new(0u32);
    let panicking = std::task::Waker::from(Arc::new(PanickingWaker));
    let guard = m.try_lock().unwrap();
    let mut waiter = Box::pin(m.lock());
    let mut cx = std::task::Context::from_waker(&panicking);
    assert!(std::future::Future::poll(waiter.as_mut(), &mut cx).is_pending());
    panics(|| drop(guard));
    let mut guard = waiter
        .now_or_never()
        .expect("the woken waiter takes the lock");
    *guard += 1;
    drop(guard);
    let other = std::thread::scope(|s| s.spawn(|| *m.lock_blocking()).join());
    assert_eq!(other.ok(), Some(1));
}

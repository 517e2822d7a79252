//! The behaviours tokio's own sync test suites check, restated against unisync's API.
//!
//! Sources: `tokio/tests/sync_semaphore.rs`, `sync_semaphore_owned.rs`, `sync_mutex.rs`,
//! `sync_mutex_owned.rs`, `sync_rwlock.rs`, `sync_barrier.rs`, `sync_notify.rs`, and the unit
//! and loom tests under `tokio/src/sync/tests/` (`semaphore_batch.rs`, `loom_semaphore_batch.rs`,
//! `rwlock.rs`, `loom_rwlock.rs`, `notify.rs`, `loom_notify.rs`). tokio's `Notify::notify_waiters`
//! maps onto an `Event` that is set (and, for a one-off pulse, cleared again); its `notify_one`
//! onto `Condvar::notify_one` where no stored permit is involved. Loom models become repeated
//! runs on real threads. No assertion depends on wall-clock time; the only timeout is a
//! many-second "did not finish" guard around tests that could deadlock.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;

use common::{
    no_deadlock, on_threads, poll_once, poll_with, ready_while_held, spawn, twin_tests, Task,
};
use futures::executor::block_on;
use futures::FutureExt;
use unisync::{Barrier, Condvar, Event, Mutex, MutexGuard, RwLock, RwLockWriteGuard, Semaphore};

// =============================================================================================
// Semaphore, borrowed and owned permits (tokio/tests/sync_semaphore.rs, sync_semaphore_owned.rs)
// =============================================================================================

/// tokio's try_acquire and try_lock checks: while the first success of `try_take` is held a
/// second try fails, and once it is dropped a try succeeds again.
fn second_try_fails_while_held<T>(try_take: impl Fn() -> Option<T>) {
    {
        let first = try_take();
        assert!(first.is_some());
        assert!(try_take().is_none());
    }
    assert!(try_take().is_some());
}

// A semaphore with no permits can be created.
#[test]
fn sem_new_with_zero_permits() {
    let sem = Semaphore::new(0);
    assert_eq!(sem.available_permits(), 0);
}

twin_tests! {
    where
        try_acquire = [Semaphore::try_acquire, Semaphore::try_acquire_owned],
        acquire = [Semaphore::acquire, Semaphore::acquire_owned];

    // try_acquire (borrowed or owned) fails while the only permit is held and succeeds once it
    // is dropped.
    #[test]
    fn [sem_try_acquire, owned_sem_try_acquire] {
        let sem = Arc::new(Semaphore::new(1));
        second_try_fails_while_held(|| try_acquire(&sem).ok());
    }

    // A spawned task's acquire (borrowed or owned) completes once the held permit is dropped.
    #[tokio::test]
    async fn [sem_acquire_after_release, owned_sem_acquire] {
        let sem = Arc::new(Semaphore::new(1));
        let p1 = try_acquire(&sem).unwrap();
        let sem2 = sem.clone();
        let j = tokio::spawn(async move {
            let _p2 = acquire(&sem2).await.unwrap();
        });
        drop(p1);
        j.await.unwrap();
    }

    // A spawned task's acquire (borrowed or owned) on an empty semaphore completes after
    // add_permits.
    #[tokio::test]
    async fn [sem_add_permits_wakes_acquire, owned_sem_add_permits] {
        let sem = Arc::new(Semaphore::new(0));
        let sem2 = sem.clone();
        let j = tokio::spawn(async move {
            let _p2 = acquire(&sem2).await.unwrap();
        });
        sem.add_permits(1);
        j.await.unwrap();
    }

    // A forgotten permit (borrowed or owned) is never returned.
    #[test]
    fn [sem_forget, owned_sem_forget] {
        let sem = Arc::new(Semaphore::new(1));
        {
            let p = try_acquire(&sem).unwrap();
            assert_eq!(sem.available_permits(), 0);
            p.forget();
            assert_eq!(sem.available_permits(), 0);
        }
        assert_eq!(sem.available_permits(), 0);
        assert!(try_acquire(&sem).is_err());
    }

    // Merged permits (borrowed or owned) are held together and all returned when the merged
    // permit drops.
    #[test]
    fn [sem_merge, owned_sem_merge]
    where try_acquire_many = [Semaphore::try_acquire_many, Semaphore::try_acquire_many_owned]
    {
        let sem = Arc::new(Semaphore::new(3));
        {
            let mut p1 = try_acquire(&sem).unwrap();
            assert_eq!(sem.available_permits(), 2);
            let p2 = try_acquire_many(&sem, 2).unwrap();
            assert_eq!(sem.available_permits(), 0);
            p1.merge(p2);
            assert_eq!(p1.num_permits(), 3);
            assert_eq!(sem.available_permits(), 0);
        }
        assert_eq!(sem.available_permits(), 3);
    }

    // Merging permits (borrowed or owned) of two different semaphores panics.
    #[test]
    #[should_panic]
    fn [sem_merge_unrelated_permits, owned_sem_merge_unrelated_permits] {
        let sem1 = Arc::new(Semaphore::new(3));
        let sem2 = Arc::new(Semaphore::new(3));
        let mut p1 = try_acquire(&sem1).unwrap();
        let p2 = try_acquire(&sem2).unwrap();
        p1.merge(p2);
    }

    // 1000 tasks acquiring and releasing permits (borrowed or owned) leave exactly the initial 5.
    #[tokio::test]
    async fn [sem_stress_test, owned_sem_stress_test] {
        let sem = Arc::new(Semaphore::new(5));
        let mut handles = Vec::new();
        for _ in 0..1000 {
            let sem = sem.clone();
            handles.push(tokio::spawn(async move {
                let _p = acquire(&sem).await.unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let held: Vec<_> = (0..5).map(|_| try_acquire(&sem).unwrap()).collect();
        assert!(try_acquire(&sem).is_err());
        drop(held);
    }
}

// add_permits can fill an empty semaphore up to MAX_PERMITS.
#[test]
fn sem_add_max_amount_permits() {
    let s = Semaphore::new(0);
    s.add_permits(Semaphore::MAX_PERMITS);
    assert_eq!(s.available_permits(), Semaphore::MAX_PERMITS);
}

// add_permits past MAX_PERMITS in one call panics.
#[test]
#[should_panic]
fn sem_add_more_than_max_amount_permits1() {
    let s = Semaphore::new(1);
    s.add_permits(Semaphore::MAX_PERMITS);
}

// add_permits past MAX_PERMITS over two calls panics.
#[test]
#[should_panic]
fn sem_add_more_than_max_amount_permits2() {
    let s = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    s.add_permits(1);
    s.add_permits(1);
}

// Creating a semaphore with more than MAX_PERMITS panics.
#[test]
#[should_panic]
fn sem_panic_when_exceeds_maxpermits() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

// Exactly MAX_PERMITS is accepted, by new and by add_permits.
#[test]
fn sem_no_panic_at_maxpermits() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS);
    let s = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    s.add_permits(1);
    assert_eq!(s.available_permits(), Semaphore::MAX_PERMITS);
}

// try_acquire_many_owned takes all or nothing and the permits add up after release.
#[test]
fn owned_sem_try_acquire_many() {
    let sem = Arc::new(Semaphore::new(42));
    {
        let p1 = sem.try_acquire_many_owned(42);
        assert!(p1.is_ok());
        let p2 = sem.try_acquire_owned();
        assert!(p2.is_err());
    }
    let p3 = sem.try_acquire_many_owned(32);
    assert!(p3.is_ok());
    let p4 = sem.try_acquire_many_owned(10);
    assert!(p4.is_ok());
    assert!(sem.try_acquire_owned().is_err());
}

// A task holding 10 of 42 permits waits for 32 more until another holder drops its 32.
#[tokio::test]
async fn owned_sem_acquire_many() {
    let sem = Arc::new(Semaphore::new(42));
    let permit32 = sem.try_acquire_many_owned(32).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sem2 = sem.clone();
    let j = tokio::spawn(async move {
        let _permit10 = sem2.acquire_many_owned(10).await.unwrap();
        tx.send(()).unwrap();
        let _permit32 = sem2.acquire_many_owned(32).await.unwrap();
    });
    rx.await.unwrap();
    drop(permit32);
    j.await.unwrap();
    assert_eq!(sem.available_permits(), 42);
}

// =============================================================================================
// Semaphore, poll level (tokio/src/sync/tests/semaphore_batch.rs). tokio's internal
// `acquire(n)` keeps its permits without a guard and `release(n)` hands permits back; here
// permits are forgotten to keep them out and `add_permits` stands in for `release`.
// =============================================================================================

twin_tests! {
    // One permit is taken repeatedly while permits are free, by an acquire that is ready on its
    // first poll or by try_acquire.
    #[test]
    fn [batch_poll_acquire_one_available, batch_try_acquire_one_available]
    where
        take = [
            |s: &Semaphore| spawn(s.acquire()).assert_ready().unwrap().forget(),
            |s: &Semaphore| s.try_acquire().unwrap().forget(),
        ],
    {
        let s = Semaphore::new(100);
        assert_eq!(s.available_permits(), 100);
        for left in [99, 98] {
            take(&s);
            assert_eq!(s.available_permits(), left);
        }
    }

    // Several permits are taken repeatedly while they are free, by an acquire_many that is ready
    // on its first poll or by try_acquire_many.
    #[test]
    fn [batch_poll_acquire_many_available, batch_try_acquire_many_available]
    where
        take_5 = [
            |s: &Semaphore| spawn(s.acquire_many(5)).assert_ready().unwrap().forget(),
            |s: &Semaphore| s.try_acquire_many(5).unwrap().forget(),
        ],
    {
        let s = Semaphore::new(100);
        for left in [95, 90] {
            take_5(&s);
            assert_eq!(s.available_permits(), left);
        }
    }
}

// A pending acquire is woken by a release, which goes straight to it (available stays 0).
#[test]
fn batch_poll_acquire_one_unavailable() {
    let s = Semaphore::new(1);
    spawn(s.acquire()).assert_ready().unwrap().forget();
    assert_eq!(s.available_permits(), 0);

    let mut acquire_2 = spawn(s.acquire());
    acquire_2.assert_pending();
    assert_eq!(s.available_permits(), 0);

    s.add_permits(1);
    assert_eq!(s.available_permits(), 0);
    assert!(acquire_2.is_woken());
    acquire_2.assert_ready().unwrap().forget();
    assert_eq!(s.available_permits(), 0);

    s.add_permits(1);
    assert_eq!(s.available_permits(), 1);
}

// Weighted waiters are served first in, first out; the second is woken only when it has all.
#[test]
fn batch_poll_acquire_many_unavailable() {
    let s = Semaphore::new(5);
    spawn(s.acquire()).assert_ready().unwrap().forget();
    assert_eq!(s.available_permits(), 4);

    let mut acquire_2 = spawn(s.acquire_many(5));
    acquire_2.assert_pending();
    assert_eq!(s.available_permits(), 0);

    let mut acquire_3 = spawn(s.acquire_many(3));
    acquire_3.assert_pending();
    assert_eq!(s.available_permits(), 0);

    s.add_permits(1);
    assert_eq!(s.available_permits(), 0);
    assert!(acquire_2.is_woken());
    acquire_2.assert_ready().unwrap().forget();

    assert!(!acquire_3.is_woken());
    assert_eq!(s.available_permits(), 0);

    s.add_permits(1);
    assert!(!acquire_3.is_woken());
    assert_eq!(s.available_permits(), 0);

    s.add_permits(2);
    assert!(acquire_3.is_woken());
    acquire_3.assert_ready().unwrap().forget();
}

// try_acquire fails with no permit free and succeeds after a release.
#[test]
fn batch_try_acquire_one_unavailable() {
    let s = Semaphore::new(1);
    s.try_acquire().unwrap().forget();
    assert_eq!(s.available_permits(), 0);
    assert!(s.try_acquire().is_err());
    s.add_permits(1);
    assert_eq!(s.available_permits(), 1);
    s.try_acquire().unwrap().forget();
    s.add_permits(1);
    assert_eq!(s.available_permits(), 1);
}

// try_acquire_many fails short of permits and succeeds once enough are released.
#[test]
fn batch_try_acquire_many_unavailable() {
    let s = Semaphore::new(5);
    s.try_acquire().unwrap().forget();
    assert_eq!(s.available_permits(), 4);
    assert!(s.try_acquire_many(5).is_err());
    s.add_permits(1);
    assert_eq!(s.available_permits(), 5);
    s.try_acquire_many(5).unwrap().forget();
    s.add_permits(1);
    assert_eq!(s.available_permits(), 1);
    s.add_permits(1);
    assert_eq!(s.available_permits(), 2);
}

// An acquire on a semaphore created empty is woken by the first release.
#[test]
fn batch_poll_acquire_one_zero_permits() {
    let s = Semaphore::new(0);
    assert_eq!(s.available_permits(), 0);
    let mut acquire = spawn(s.acquire());
    acquire.assert_pending();
    s.add_permits(1);
    assert!(acquire.is_woken());
    drop(acquire.assert_ready().unwrap());
}

// A closed semaphore fails every acquire at once and keeps its permit count.
#[test]
fn batch_close_semaphore_prevents_acquire() {
    let s = Semaphore::new(5);
    s.close();
    assert_eq!(5, s.available_permits());
    assert!(spawn(s.acquire()).assert_ready().is_err());
    assert_eq!(5, s.available_permits());
    assert!(spawn(s.acquire()).assert_ready().is_err());
    assert_eq!(5, s.available_permits());
}

// close wakes a pending acquire, which then fails.
#[test]
fn batch_close_semaphore_notifies_permit1() {
    let s = Semaphore::new(0);
    let mut acquire = spawn(s.acquire());
    acquire.assert_pending();
    s.close();
    assert!(acquire.is_woken());
    assert!(acquire.assert_ready().is_err());
}

// close wakes every pending acquire; released permits still count but cannot be acquired.
#[test]
fn batch_close_semaphore_notifies_permit2() {
    let s = Semaphore::new(2);
    spawn(s.acquire()).assert_ready().unwrap().forget();
    spawn(s.acquire()).assert_ready().unwrap().forget();

    let mut acquire3 = spawn(s.acquire());
    let mut acquire4 = spawn(s.acquire());
    acquire3.assert_pending();
    acquire4.assert_pending();

    s.close();
    assert!(acquire3.is_woken());
    assert!(acquire4.is_woken());
    assert!(acquire3.assert_ready().is_err());
    assert!(acquire4.assert_ready().is_err());
    assert_eq!(0, s.available_permits());

    s.add_permits(1);
    assert_eq!(1, s.available_permits());
    assert!(spawn(s.acquire()).assert_ready().is_err());
    s.add_permits(1);
    assert_eq!(2, s.available_permits());
}

// Dropping a pending acquire gives back the permits it had collected.
#[test]
fn batch_cancel_acquire_releases_permits() {
    let s = Semaphore::new(10);
    s.try_acquire_many(4).unwrap().forget();
    assert_eq!(6, s.available_permits());

    let mut acquire = spawn(s.acquire_many(8));
    acquire.assert_pending();
    assert_eq!(0, s.available_permits());
    drop(acquire);

    assert_eq!(6, s.available_permits());
    assert!(s.try_acquire_many(6).is_ok());
}

// A waker whose drop releases a permit of the same semaphore does not deadlock a re-poll.
#[test]
fn batch_release_permits_at_drop() {
    struct ReleaseOnDrop(#[allow(dead_code)] Option<unisync::OwnedSemaphorePermit>);
    impl Wake for ReleaseOnDrop {
        fn wake(self: Arc<Self>) {}
    }

    no_deadlock(|| {
        let sem = Arc::new(Semaphore::new(1));
        let mut fut = Box::pin(async {
            let _permit = sem.acquire().await.unwrap();
        });
        // The first waker holds the only permit, so the first poll waits.
        let waker = Waker::from(Arc::new(ReleaseOnDrop(sem.try_acquire_owned().ok())));
        assert!(poll_with(&mut fut, &waker).is_pending());
        drop(waker);
        // The second poll replaces that waker, whose drop returns the permit: it must not
        // deadlock. As in tokio, that poll is `Pending` (the permit is handed to the waiter,
        // and the wake-up goes to the new waker); the next poll completes.
        let waker = Waker::from(Arc::new(ReleaseOnDrop(sem.try_acquire_owned().ok())));
        assert!(poll_with(&mut fut, &waker).is_pending());
        assert!(poll_with(&mut fut, &waker).is_ready());
        assert_eq!(sem.available_permits(), 1);
    });
}

// forget_permits takes only free permits and says how many.
#[test]
fn batch_forget_permits_basic() {
    let s = Semaphore::new(10);
    assert_eq!(s.forget_permits(4), 4);
    assert_eq!(s.available_permits(), 6);
    assert_eq!(s.forget_permits(10), 6);
    assert_eq!(s.available_permits(), 0);
}

// A waiter satisfied by a larger release leaves the rest available, which can be forgotten.
#[test]
fn batch_update_permits_many_times() {
    let s = Semaphore::new(5);
    let mut acquire = spawn(s.acquire_many(7));
    acquire.assert_pending();
    s.add_permits(5);
    acquire.assert_ready().unwrap().forget();
    assert_eq!(s.available_permits(), 3);
    assert_eq!(s.forget_permits(3), 3);
    assert_eq!(s.available_permits(), 0);
}

// =============================================================================================
// Semaphore on threads (tokio/src/sync/tests/loom_semaphore_batch.rs, as repeated runs)
// =============================================================================================

const RUNS: usize = 200;

// No more than the semaphore's permits are ever held at once.
#[test]
fn loom_sem_basic_usage() {
    common::sem_holders_never_exceed_permits(RUNS, 20);
}

// A permit passed between two threads is acquired and released by both.
#[test]
fn loom_sem_release() {
    common::sem_permit_passes_between_threads(RUNS);
}

// Threads looping on acquire/release all finish when the semaphore is closed meanwhile.
#[test]
fn loom_sem_basic_closing() {
    common::sem_close_ends_acquiring_threads(RUNS);
}

// Several threads each acquiring, releasing and closing all finish.
#[test]
fn loom_sem_concurrent_close() {
    common::sem_acquire_release_close_on_threads(RUNS);
}

// Acquires polled once and dropped on several threads lose no permits.
#[test]
fn loom_sem_concurrent_cancel() {
    fn poll_and_cancel(sem: &Semaphore) {
        let mut a1 = pin!(sem.acquire());
        let mut a2 = pin!(sem.acquire());
        let _ = poll_once(&mut a1);
        let _ = poll_once(&mut a2);
    }
    for _ in 0..RUNS {
        let sem = Arc::new(Semaphore::new(0));
        let spawn_one = || {
            let sem = sem.clone();
            thread::spawn(move || poll_and_cancel(&sem))
        };
        let (t1, t2, t3) = (spawn_one(), spawn_one(), spawn_one());
        t1.join().unwrap();
        sem.add_permits(10);
        t2.join().unwrap();
        t3.join().unwrap();
        assert_eq!(sem.available_permits(), 10);
    }
}

// Weighted acquires of 4, 10 and 8 out of 10 on two threads never overcommit.
#[test]
fn loom_sem_batch() {
    for _ in 0..RUNS {
        let sem = Semaphore::new(10);
        let active = AtomicUsize::new(0);
        let acquire_batches = || {
            for n in [4, 10, 8] {
                let p = block_on(sem.acquire_many(n)).unwrap();
                active.fetch_add(n, SeqCst);
                assert!(active.load(SeqCst) <= 10);
                thread::yield_now();
                active.fetch_sub(n, SeqCst);
                drop(p);
            }
        };
        on_threads(2, acquire_batches, || {});
        assert_eq!(10, sem.available_permits());
    }
}

// A release racing with a waiting acquire_many leaves every permit accounted for.
#[test]
fn loom_sem_release_during_acquire() {
    for _ in 0..RUNS {
        let sem = Semaphore::new(10);
        let held = sem.try_acquire_many(8).unwrap();
        held.forget();
        on_threads(
            1,
            || block_on(sem.acquire_many(4)).unwrap().forget(),
            || sem.add_permits(8),
        );
        sem.add_permits(4);
        assert_eq!(10, sem.available_permits());
    }
}

// =============================================================================================
// Mutex, borrowed and owned guards (tokio/tests/sync_mutex.rs, sync_mutex_owned.rs)
// =============================================================================================

twin_tests! {
    where lock = [Mutex::lock, Mutex::lock_owned];

    // Uncontended locks (borrowed or owned) are ready on first poll and see each other's writes.
    #[test]
    fn [mutex_straight_execution, owned_mutex_straight_execution] {
        let l = Arc::new(Mutex::new(100));
        for (seen, next) in [(100, 99), (99, 98)] {
            let mut t = spawn(lock(&l));
            let mut g = t.assert_ready();
            assert_eq!(*g, seen);
            *g = next;
        }
        let mut t = spawn(lock(&l));
        let g = t.assert_ready();
        assert_eq!(*g, 98);
    }

    // A second lock (borrowed or owned) is pending while the first guard lives, and is woken and
    // ready after unlock.
    #[test]
    fn [mutex_readiness, owned_mutex_readiness] {
        let l = Arc::new(Mutex::new(100));
        let mut t1 = spawn(lock(&l));
        let mut t2 = spawn(lock(&l));
        let g = t1.assert_ready();
        t2.assert_pending();
        drop(g);
        assert!(t2.is_woken());
        drop(t2.assert_ready());
    }

    // A future dropped while it holds the guard (borrowed or owned) unlocks the mutex.
    #[test]
    fn [mutex_aborted_future_holding_lock, owned_mutex_aborted_future_holding_lock] {
        let m = Arc::new(Mutex::new(0usize));
        {
            let m2 = m.clone();
            let mut t = spawn(async move {
                let _g = lock(&m2).await;
                std::future::pending::<()>().await;
            });
            t.assert_pending();
            assert!(m.try_lock().is_none());
        }
        drop(spawn(lock(&m)).assert_ready());
    }

    // A lock future (borrowed or owned) dropped while waiting leaves no lock behind.
    #[test]
    fn [mutex_aborted_future_waiting, owned_mutex_aborted_future_waiting] {
        let m = Arc::new(Mutex::new(0usize));
        {
            let _g = spawn(lock(&m)).assert_ready();
            let mut waiting = spawn(lock(&m));
            waiting.assert_pending();
        }
        drop(spawn(lock(&m)).assert_ready());
    }

    // A guard's (borrowed or owned) Debug output is the value's.
    #[tokio::test]
    async fn [mutex_guard_debug_format, owned_mutex_guard_debug_format] {
        let s = "debug";
        let m = Arc::new(Mutex::new(s.to_string()));
        assert_eq!(format!("{s:?}"), format!("{:?}", lock(&m).await));
    }
}

twin_tests! {
    // try_lock (borrowed or owned) fails while a guard exists and succeeds after it is dropped.
    #[test]
    fn [mutex_try_lock, owned_mutex_try_lock_owned]
    where try_lock = [Mutex::try_lock, Mutex::try_lock_owned]
    {
        let m = Arc::new(Mutex::new(0usize));
        second_try_fails_while_held(|| try_lock(&m));
    }
}

// The mutex's Debug output shows the value when free and `<locked>` while held.
#[tokio::test]
async fn mutex_debug() {
    let m = Mutex::new("data".to_string());
    let free = format!("{m:?}");
    assert!(free.starts_with("Mutex"), "{free}");
    assert!(free.contains("\"data\""), "{free}");
    let _guard = m.lock().await;
    let held = format!("{m:?}");
    assert!(held.contains("<locked>"), "{held}");
    assert!(!held.contains("\"data\""), "{held}");
}

// =============================================================================================
// RwLock (tokio/tests/sync_rwlock.rs, tokio/src/sync/tests/{rwlock,loom_rwlock}.rs)
// =============================================================================================

// into_inner gives the value back.
#[test]
fn rwlock_into_inner() {
    let rwlock = RwLock::new(42);
    assert_eq!(rwlock.into_inner(), 42);
}

// Several reads are ready at once.
#[test]
fn rwlock_read_shared() {
    let rwlock = RwLock::new(100);
    assert!(ready_while_held(rwlock.read(), rwlock.read()));
}

// A write is pending while a read guard exists.
#[test]
fn rwlock_write_shared_pending() {
    let rwlock = RwLock::new(100);
    assert!(!ready_while_held(rwlock.read(), rwlock.write()));
}

// A read is pending while a write guard exists.
#[test]
fn rwlock_read_exclusive_pending() {
    let rwlock = RwLock::new(100);
    assert!(!ready_while_held(rwlock.write(), rwlock.read()));
}

// A write is pending while another write guard exists.
#[test]
fn rwlock_write_exclusive_pending() {
    let rwlock = RwLock::new(100);
    assert!(!ready_while_held(rwlock.write(), rwlock.write()));
}

// A pending write is woken and ready once the read guard is dropped.
#[test]
fn rwlock_write_shared_drop() {
    let rwlock = RwLock::new(100);
    let mut t1 = spawn(rwlock.read());
    let g1 = t1.assert_ready();
    let mut t2 = spawn(rwlock.write());
    t2.assert_pending();
    drop(g1);
    assert!(t2.is_woken());
    let _g2 = t2.assert_ready();
}

/// With a read guard of `rwlock` held, queues a write and then a read behind it: both are
/// pending on their first poll. Returns the two waiting tasks.
fn queue_write_then_read(rwlock: &RwLock<i32>) -> (Task<impl Future + '_>, Task<impl Future + '_>) {
    let mut write = spawn(rwlock.write());
    write.assert_pending();
    let mut read = spawn(rwlock.read());
    read.assert_pending();
    (write, read)
}

// Once a write waits, new reads queue behind it.
#[test]
fn rwlock_write_read_shared_pending() {
    let rwlock = RwLock::new(100);
    let _g1 = spawn(rwlock.read()).assert_ready();
    let _g2 = spawn(rwlock.read()).assert_ready();
    let _queued = queue_write_then_read(&rwlock);
}

// Dropping the waiting write lets the reads queued behind it in.
#[test]
fn rwlock_write_read_shared_drop_pending() {
    let rwlock = RwLock::new(100);
    let _g1 = spawn(rwlock.read()).assert_ready();
    let (write, mut read) = queue_write_then_read(&rwlock);
    drop(write);
    assert!(read.is_woken());
    let _g3 = read.assert_ready();
}

// An uncontended read sees the value.
#[tokio::test]
async fn rwlock_read_uncontested() {
    let rwlock = RwLock::new(100);
    let result = *rwlock.read().await;
    assert_eq!(result, 100);
}

// An uncontended write can change the value.
#[tokio::test]
async fn rwlock_write_uncontested() {
    let rwlock = RwLock::new(100);
    let mut result = rwlock.write().await;
    *result += 50;
    assert_eq!(*result, 150);
}

// Writes are granted in the order their futures are first polled, not created.
#[tokio::test]
async fn rwlock_write_order() {
    let rwlock = RwLock::<Vec<u32>>::new(vec![]);
    let fut2 = rwlock.write().map(|mut guard| guard.push(2));
    let fut1 = rwlock.write().map(|mut guard| guard.push(1));
    fut1.await;
    fut2.await;
    assert_eq!(*rwlock.read().await, vec![1, 2]);
}

// Four tasks on a multi-threaded runtime each write 1000 times; no update is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rwlock_multithreaded() {
    let barrier = Arc::new(Barrier::new(5));
    let rwlock = Arc::new(RwLock::<u32>::new(0));
    for add in [2, 3, 5, 7] {
        let rwlock = rwlock.clone();
        let barrier = barrier.clone();
        tokio::spawn(async move {
            for _ in 0..1000 {
                *rwlock.write().await += add;
            }
            barrier.wait().await.unwrap();
        });
    }
    barrier.wait().await.unwrap();
    assert_eq!(*rwlock.read().await, 17_000);
}

// try_write fails while a read guard exists and succeeds after it is dropped.
#[tokio::test]
async fn rwlock_try_write() {
    let lock = RwLock::new(0);
    let read_guard = lock.read().await;
    assert!(lock.try_write().is_none());
    drop(read_guard);
    assert!(lock.try_write().is_some());
}

// try_read shares with readers and excludes writers; try_write excludes readers.
#[test]
fn rwlock_try_read_try_write() {
    let lock: RwLock<usize> = RwLock::new(15);
    {
        let rg1 = lock.try_read().unwrap();
        assert_eq!(*rg1, 15);
        assert!(lock.try_write().is_none());
        let rg2 = lock.try_read().unwrap();
        assert_eq!(*rg2, 15);
    }
    {
        let mut wg = lock.try_write().unwrap();
        *wg = 1515;
        assert!(lock.try_read().is_none());
    }
    assert_eq!(*lock.try_read().unwrap(), 1515);
}

// Downgrading a write guard lets a queued read in, on the same value.
#[tokio::test]
async fn rwlock_downgrade_wakes_reader() {
    let lock = RwLock::new(0);
    let write_guard = lock.write().await;
    let mut read_t = spawn(lock.read());
    read_t.assert_pending();
    let read_guard1 = RwLockWriteGuard::downgrade(write_guard);
    assert!(read_t.is_woken());
    let read_guard2 = read_t.assert_ready();
    assert!(std::ptr::eq(&*read_guard1, &*read_guard2));
}

// Past the limit of a lock made `with_max_readers`, a read waits; a released read lock lets
// it in.
#[test]
fn rwlock_exhaust_reading() {
    let rwlock = RwLock::with_max_readers(100, 1024);
    let mut reads = Vec::new();
    loop {
        let mut t = spawn(rwlock.read());
        match t.poll() {
            std::task::Poll::Ready(guard) => reads.push(guard),
            std::task::Poll::Pending => break,
        }
    }
    assert_eq!(reads.len(), 1024);
    let mut t1 = spawn(rwlock.read());
    t1.assert_pending();
    let g2 = reads.pop().unwrap();
    drop(g2);
    assert!(t1.is_woken());
    let _g1 = t1.assert_ready();
}

#[test]
#[should_panic(expected = "at least 1")]
fn rwlock_zero_max_readers() {
    let _ = RwLock::with_max_readers(100, 0);
}

#[test]
#[should_panic(expected = "at most")]
fn rwlock_max_readers_above_the_limit() {
    let _ = RwLock::with_max_readers(100, RwLock::<i32>::MAX_READERS + 1);
}

// `downgrade_map` runs its closure under the write lock; the queued read gets in afterwards,
// on the same value.
#[tokio::test]
async fn rwlock_downgrade_map() {
    let lock = RwLock::new(0);
    let write_guard = lock.write().await;
    let mut read_t = spawn(lock.read());
    read_t.assert_pending();
    let read_guard1 = RwLockWriteGuard::downgrade_map(write_guard, |v| {
        read_t.assert_pending();
        v
    });
    let read_guard2 = read_t.assert_ready();
    assert!(std::ptr::eq(&*read_guard1, &*read_guard2));
}

// `try_downgrade_map` keeps the write lock when its closure finds nothing.
#[tokio::test]
async fn rwlock_try_downgrade_map() {
    let lock = RwLock::new(0);
    let write_guard = lock.write().await;
    let mut read_t = spawn(lock.read());
    read_t.assert_pending();
    let write_guard = RwLockWriteGuard::try_downgrade_map(write_guard, |_| {
        read_t.assert_pending();
        None::<&()>
    })
    .expect_err("the closure found nothing");
    read_t.assert_pending();
    let read_guard1 = RwLockWriteGuard::try_downgrade_map(write_guard, |v| {
        read_t.assert_pending();
        Some(v)
    })
    .expect("the closure found the value");
    let read_guard2 = read_t.assert_ready();
    assert!(std::ptr::eq(&*read_guard1, &*read_guard2));
}

// Two threads' writes both land.
#[test]
fn loom_rwlock_concurrent_write() {
    for _ in 0..RUNS {
        let rwlock = RwLock::<u32>::new(0);
        let add_5 = || block_on(async { *rwlock.write().await += 5 });
        on_threads(2, add_5, || {});
        assert_eq!(10, *block_on(rwlock.read()));
    }
}

// A reader racing two writers sees 0, 5 or 10, and both writes land.
#[test]
fn loom_rwlock_concurrent_read_write() {
    for _ in 0..RUNS {
        let rwlock = RwLock::<u32>::new(0);
        let add_5 = || block_on(async { *rwlock.write().await += 5 });
        let v = on_threads(2, add_5, || *block_on(rwlock.read()));
        assert!(v == 0 || v == 5 || v == 10);
        assert_eq!(10, *block_on(rwlock.read()));
    }
}

// A downgraded write guard reads its own value; a waiting writer gets in after it is dropped.
#[test]
fn loom_rwlock_downgrade() {
    for _ in 0..RUNS {
        let lock = RwLock::new(1);
        let n = block_on(lock.write());
        let downgrade = || {
            let n = RwLockWriteGuard::downgrade(n);
            assert_eq!(*n, 1);
            drop(n);
        };
        on_threads(1, || *block_on(lock.write()) = 2, downgrade);
        assert_eq!(*block_on(lock.read()), 2);
    }
}

// =============================================================================================
// Barrier (tokio/tests/sync_barrier.rs)
// =============================================================================================
//
// tokio's `zero_does_not_block` is not restated: tokio (like `std`) treats a barrier of zero
// parties as one of one, while `Barrier::new(0)` panics here, documented under `# Panics`
// (Python's `Barrier(0)` raises too); tests/barrier.rs checks that panic.

// The barrier's wait future is Send.
#[test]
fn barrier_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let b = Barrier::new(1);
    let w = b.wait();
    is_send(&w);
}

// A barrier of one trips at every wait, and that party is the leader.
#[test]
fn barrier_single() {
    let b = Barrier::new(1);
    for _ in 0..3 {
        let mut w = spawn(b.wait());
        let wr = w.assert_ready().unwrap();
        assert!(wr.is_leader());
    }
}

// With two parties the first waits for the second, and exactly one is the leader.
#[test]
fn barrier_tango() {
    let b = Barrier::new(2);
    let mut w1 = spawn(b.wait());
    w1.assert_pending();
    let mut w2 = spawn(b.wait());
    let wr2 = w2.assert_ready().unwrap();
    let wr1 = w1.assert_ready().unwrap();
    assert!(wr1.is_leader() || wr2.is_leader());
    assert!(!(wr1.is_leader() && wr2.is_leader()));
}

// 100 parties over 10 generations: 99 wait, the 100th trips it, exactly one leader each time.
#[test]
fn barrier_lots() {
    let b = Barrier::new(100);
    for _ in 0..10 {
        let mut wait = Vec::new();
        for _ in 0..99 {
            let mut w = spawn(b.wait());
            w.assert_pending();
            wait.push(w);
        }
        for w in &mut wait {
            w.assert_pending();
        }
        let mut w = spawn(b.wait());
        let mut found_leader = w.assert_ready().unwrap().is_leader();
        for mut w in wait {
            let wr = w.assert_ready().unwrap();
            if wr.is_leader() {
                assert!(!found_leader);
                found_leader = true;
            }
        }
        assert!(found_leader);
    }
}

// =============================================================================================
// Event as Notify::notify_waiters (tokio/tests/sync_notify.rs,
// tokio/src/sync/tests/{notify,loom_notify}.rs). A `set` then `clear` is a one-off pulse, like
// `notify_waiters`; a plain `set` also lets later waits through.
// =============================================================================================

// A pulse wakes every wait that is already polled.
#[test]
fn event_notify_simple() {
    let event = Event::new();
    let mut fut1 = spawn(event.wait());
    fut1.assert_pending();
    let mut fut2 = spawn(event.wait());
    fut2.assert_pending();
    event.set();
    event.clear();
    assert!(fut1.is_woken() && fut2.is_woken());
    fut1.assert_ready();
    fut2.assert_ready();
}

// A set made before a wait is first polled lets that wait through.
#[test]
fn event_notify_then_wait() {
    let event = Event::new();
    let mut waited = spawn(async { event.wait().await });
    event.set();
    waited.assert_ready();
}

// A pending wait is woken by set and then ready.
#[test]
fn event_wait_then_notify() {
    let event = Event::new();
    let mut waited = spawn(async { event.wait().await });
    waited.assert_pending();
    event.set();
    assert!(waited.is_woken());
    waited.assert_ready();
}

// A wait dropped after polling does not keep set from waking the others.
#[test]
fn event_dropped_wait_then_notify() {
    let event = Event::new();
    let mut waited1 = spawn(event.wait());
    let mut waited2 = spawn(event.wait());
    waited1.assert_pending();
    drop(waited1);
    waited2.assert_pending();
    event.set();
    assert!(waited2.is_woken());
    waited2.assert_ready();
}

// A waker whose drop sets the same event does not deadlock set.
#[test]
fn event_notify_in_drop_after_wake() {
    struct SetOnDrop(Arc<Event>);
    impl Wake for SetOnDrop {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set();
            self.0.clear();
        }
    }
    no_deadlock(|| {
        let event = Arc::new(Event::new());
        let mut fut = Box::pin(event.wait());
        {
            let waker = Waker::from(Arc::new(SetOnDrop(event.clone())));
            assert!(poll_with(&mut fut, &waker).is_pending());
        }
        event.set();
        event.clear();
        drop(fut);
    });
}

// A waker whose clone sets the same event does not deadlock the wait that registers it.
#[test]
fn event_clones_waker_before_lock() {
    const VTABLE: &RawWakerVTable = &RawWakerVTable::new(clone_w, wake_w, wake_by_ref_w, drop_w);

    unsafe fn clone_w(data: *const ()) -> RawWaker {
        let ptr = data as *const Event;
        // SAFETY: `data` came from `Arc::into_raw` and that reference is still alive.
        unsafe { Arc::increment_strong_count(ptr) };
        // SAFETY: the reference counted above keeps the event alive.
        unsafe { (*ptr).set() };
        RawWaker::new(data, VTABLE)
    }
    unsafe fn wake_w(data: *const ()) {
        // SAFETY: waking by value consumes this waker's reference.
        unsafe { drop_w(data) }
    }
    unsafe fn wake_by_ref_w(_data: *const ()) {}
    unsafe fn drop_w(data: *const ()) {
        // SAFETY: every waker owns one reference from `Arc::into_raw` or `clone_w`.
        drop(unsafe { Arc::from_raw(data as *const Event) });
    }

    no_deadlock(|| {
        let event = Arc::new(Event::new());
        let raw = RawWaker::new(Arc::into_raw(event.clone()) as *const (), VTABLE);
        // SAFETY: the vtable's functions uphold the `RawWaker` contract for an `Arc<Event>`.
        let waker = unsafe { Waker::from_raw(raw) };
        let mut fut = pin!(event.wait());
        // The result does not matter; it must not deadlock.
        let _ = poll_with(&mut fut, &waker);
    });
}

// A panicking waker makes set panic, but every other waiter is still woken.
#[test]
fn event_set_handles_panicking_waker() {
    struct PanickingWaker;
    impl Wake for PanickingWaker {
        fn wake(self: Arc<Self>) {
            panic!("waker panicked");
        }
    }
    let event = Event::new();
    let mut bad = spawn(event.wait());
    let waker = Waker::from(Arc::new(PanickingWaker));
    assert!(bad.poll_with(&waker).is_pending());

    let mut futs = Vec::new();
    for _ in 0..32 {
        let mut fut = spawn(event.wait());
        fut.assert_pending();
        futs.push(fut);
    }
    assert!(catch_unwind(AssertUnwindSafe(|| event.set())).is_err());
    for mut fut in futs {
        fut.assert_ready();
    }
}

// A re-poll with a new waker replaces the old one: set wakes the new waker.
#[test]
fn event_waker_update() {
    let event = Event::new();
    let mut fut = spawn(event.wait());
    assert!(fut.poll_with(futures::task::noop_waker_ref()).is_pending());
    fut.assert_pending();
    event.set();
    assert!(fut.is_woken());
}

// Two waits created before another thread sets the event both complete.
#[test]
fn loom_event_notify_waiters() {
    for _ in 0..RUNS {
        let event = Event::new();
        let w1 = event.wait();
        let w2 = event.wait();
        let both = || {
            block_on(async {
                w1.await;
                w2.await;
            })
        };
        on_threads(1, || event.set(), both);
    }
}

/// Polls wait `first`, then `others`, then wait `second` of `n` waits; pulses the event on
/// another thread; then checks that if wait 0 is ready, wait 1 is too.
fn poll_consistency(n: usize, first: usize, second: usize) {
    let event = Event::new();
    let mut futs: Vec<_> = (0..n).map(|_| spawn(event.wait())).collect();
    futs[first].assert_pending();
    for fut in &mut futs[2..] {
        fut.assert_pending();
    }
    futs[second].assert_pending();
    let pulse = || {
        event.set();
        event.clear();
    };
    let (res1, res2) = on_threads(1, pulse, || (futs[0].poll(), futs[1].poll()));
    assert!(res1.is_pending() || res2.is_ready());
    // Every wait had started before the pulse, so every one completes.
    if res1.is_pending() {
        futs[0].assert_ready();
    }
    if res2.is_pending() {
        futs[1].assert_ready();
    }
    for fut in &mut futs[2..] {
        fut.assert_ready();
    }
}

// Of two polled waits, if one sees a concurrent pulse the other does too.
#[test]
fn loom_event_notify_waiters_poll_consistency() {
    for _ in 0..RUNS {
        poll_consistency(2, 0, 1);
        poll_consistency(2, 1, 0);
    }
}

// The same with 31 more waits between them, so they are woken in different batches.
#[test]
fn loom_event_notify_waiters_poll_consistency_many() {
    for _ in 0..RUNS {
        poll_consistency(33, 0, 1);
        poll_consistency(33, 1, 0);
    }
}

// One pulse does not get through two waits awaited one after the other.
#[test]
fn event_notify_waiters_sequential_wait() {
    let event = Event::new();
    let mut first = spawn(event.wait());
    first.assert_pending();
    let _pile: Vec<_> = (0..33)
        .map(|_| {
            let mut fut = spawn(event.wait());
            fut.assert_pending();
            fut
        })
        .collect();
    event.set();
    event.clear();
    first.assert_ready();
    let mut second = spawn(event.wait());
    second.assert_pending();
}

// =============================================================================================
// Condvar::notify_one as Notify::notify_one without a stored permit (tokio/tests/sync_notify.rs)
// =============================================================================================

/// Two waits on `cv`, each with a guard of `m`, polled in order; then one notify_one, which
/// must wake only the first. Returns both waits.
fn two_waits_one_notified<'a>(
    m: &'a Mutex<()>,
    cv: &'a Condvar,
) -> [Task<impl Future<Output = MutexGuard<'a, ()>> + 'a>; 2] {
    let mut w1 = spawn(cv.wait(m.try_lock().unwrap()));
    w1.assert_pending();
    let mut w2 = spawn(cv.wait(m.try_lock().unwrap()));
    w2.assert_pending();

    cv.notify_one();
    assert!(w1.is_woken());
    assert!(!w2.is_woken());
    [w1, w2]
}

// notify_one wakes only the oldest of two waiters.
#[test]
fn condvar_notified_multi_notify() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let [mut w1, mut w2] = two_waits_one_notified(&m, &cv);
    drop(w1.assert_ready());
    w2.assert_pending();
}

// A notified waiter that is dropped before it runs passes the notification on.
#[test]
fn condvar_notified_multi_notify_drop_one() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let [w1, mut w2] = two_waits_one_notified(&m, &cv);
    drop(w1);
    assert!(w2.is_woken());
    drop(w2.assert_ready());
}

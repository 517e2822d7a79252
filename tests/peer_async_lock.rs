//! The behaviour that async-lock's own tests check (smol-rs/async-lock: `tests/mutex.rs`,
//! `tests/rwlock.rs`, `tests/semaphore.rs`, `tests/barrier.rs`), restated against unisync's API.
//!
//! async-lock's `*_arc` methods are unisync's `*_owned` ones, and its `set_size` has no
//! counterpart here: growing is `add_permits`, shrinking is forgetting a held permit.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use common::{
    assert_pending, assert_ready, pending_until_released, takes_both_permits, twin_tests, Counter,
    HANG,
};
use futures::executor::block_on;
use futures::future::{select, Either};
use smol::future::yield_now;
use unisync::{
    Barrier, Mutex, OwnedRwLockUpgradableReadGuard, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, Semaphore,
};

/// Checks with [`pending_until_released`] that `acquire` is pending while `holder` is held, is
/// woken when `holder` is dropped, and then completes.
fn check_yields_when_contended<G, F: Future>(holder: G, acquire: F) {
    pending_until_released(Box::pin(acquire), move || drop(holder));
}

/// Runs `fut` to completion on a thread of its own; the handle joins it.
fn spawn<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::spawn(move || block_on(fut))
}

/// A small xorshift generator, so the contention tests need no extra crate.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

// The mutex can be locked, released and locked again from a task.
#[test]
fn mutex_smoke() {
    block_on(async {
        let m = Mutex::new(());
        drop(m.lock().await);
        drop(m.lock().await);
        assert!(m.try_lock().is_some(), "a dropped guard kept the lock");
    });
}

twin_tests! {
    // The mutex can be locked (borrowed or owned, as an Arc), released and locked again from a
    // plain thread.
    #[cfg(feature = "std")]
    #[test]
    fn [mutex_smoke_blocking, mutex_smoke_owned_blocking]
    where lock = [Mutex::lock_blocking, Mutex::lock_owned_blocking]
    {
        let m = Arc::new(Mutex::new(()));
        drop(lock(&m));
        drop(lock(&m));
    }
}

// try_lock on a free mutex succeeds and gives write access.
#[test]
fn mutex_try_lock() {
    let m = Mutex::new(0);
    *m.try_lock().unwrap() = 1;
    assert_eq!(m.into_inner(), 1);
}

twin_tests! {
    where
        new = [Mutex::new, RwLock::new],
        into_inner = [Mutex::into_inner, RwLock::into_inner];

    // into_inner returns the value (of a mutex, or of an rwlock).
    #[test]
    fn [mutex_into_inner, rwlock_into_inner] {
        assert_eq!(into_inner(new(10i32)), 10);
    }

    // get_mut writes through without locking (a mutex, or an rwlock).
    #[test]
    fn [mutex_get_mut, rwlock_get_mut]
    where get_mut = [Mutex::get_mut, RwLock::get_mut]
    {
        let mut lock = new(10i32);
        *get_mut(&mut lock) = 20;
        assert_eq!(into_inner(lock), 20);
    }
}

// 100 threads each lock from a task and increment while holding the lock; none is lost.
#[test]
fn mutex_contention() {
    let (tx, rx) = mpsc::channel();
    let mutex = Arc::new(Mutex::new(0i32));
    let num_tasks = 100;
    let handles: Vec<_> = (0..num_tasks)
        .map(|_| {
            let (tx, mutex) = (tx.clone(), mutex.clone());
            spawn(async move {
                let mut guard = mutex.lock().await;
                *guard += 1;
                tx.send(()).unwrap();
                drop(guard);
            })
        })
        .collect();
    for _ in 0..num_tasks {
        rx.recv_timeout(HANG).expect("a locker hung");
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*mutex.try_lock().expect("every locker is done"), num_tasks);
}

// An owned lock future keeps the mutex alive after every other handle is dropped.
#[test]
fn mutex_owned_future_keeps_mutex_alive() {
    let fut = {
        let mutex = Arc::new(Mutex::new(7i32));
        mutex.lock_owned()
    };
    assert_eq!(*block_on(fut), 7);
}

// A contended lock (plain and owned) is pending, is woken by the unlock, then completes.
#[test]
fn mutex_yields_when_contended() {
    let m = Mutex::new(());
    check_yields_when_contended(m.try_lock().unwrap(), m.lock());

    let m = Arc::new(m);
    check_yields_when_contended(m.try_lock_owned().unwrap(), m.lock_owned());
}

// ---------------------------------------------------------------------------------------------
// RwLock
// ---------------------------------------------------------------------------------------------

// Reads, writes and two reads at once all succeed from a task.
#[test]
fn rwlock_smoke() {
    block_on(async {
        let lock = RwLock::new(());
        drop(lock.read().await);
        drop(lock.write().await);
        drop((lock.read().await, lock.read().await));
        drop(lock.write().await);
        assert!(lock.try_write().is_some(), "a dropped guard kept the lock");
    });
}

twin_tests! {
    // The blocking forms (borrowed or owned), an upgradable read beside a read, and a blocking
    // upgrade all succeed.
    #[cfg(feature = "std")]
    #[test]
    fn [rwlock_smoke_blocking, rwlock_smoke_owned_blocking]
    where
        read = [RwLock::read_blocking, RwLock::read_owned_blocking],
        write = [RwLock::write_blocking, RwLock::write_owned_blocking],
        upgradable_read = [
            RwLock::upgradable_read_blocking,
            RwLock::upgradable_read_owned_blocking,
        ],
        upgrade = [
            RwLockUpgradableReadGuard::upgrade_blocking,
            OwnedRwLockUpgradableReadGuard::upgrade_blocking,
        ],
    {
        let lock = Arc::new(RwLock::new(()));
        drop(read(&lock));
        drop(write(&lock));
        drop((read(&lock), read(&lock)));
        let read = read(&lock);
        let upgradable = upgradable_read(&lock);
        drop(read);
        drop(upgrade(upgradable));
        drop(write(&lock));
    }
}

// try_write fails while a read guard exists.
#[test]
fn rwlock_try_write_fails_while_read() {
    block_on(async {
        let lock = RwLock::new(0isize);
        let read_guard = lock.read().await;
        assert!(lock.try_write().is_none());
        drop(read_guard);
    });
}

// into_inner moves the value out without dropping it; it is dropped exactly once, later.
#[test]
fn rwlock_into_inner_and_drop() {
    struct Counter(Arc<AtomicUsize>);
    impl Drop for Counter {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    let cnt = Arc::new(AtomicUsize::new(0));
    let lock = RwLock::new(Counter(cnt.clone()));
    assert_eq!(cnt.load(Ordering::SeqCst), 0);
    {
        let _inner = lock.into_inner();
        assert_eq!(cnt.load(Ordering::SeqCst), 0);
    }
    assert_eq!(cnt.load(Ordering::SeqCst), 1);
}

// A read guard is covariant in the value's type, as async-lock's is: a guard of a lock of
// `&'static str` serves where one of a shorter-lived `&str` is expected.
#[test]
fn rwlock_read_guard_is_covariant() {
    fn shorten<'g>(guard: RwLockReadGuard<'g, &'static str>) -> RwLockReadGuard<'g, &'g str> {
        guard
    }
    let lock = RwLock::new("static");
    assert_eq!(*shorten(lock.try_read().unwrap()), "static");
    assert!(
        lock.try_write().is_some(),
        "the shortened guard kept the lock"
    );
}

/// async-lock's upgrade set-up: two reads, an upgradable read and a third read, which sees 0;
/// then the reads are dropped and the upgradable read is returned.
async fn upgradable_after_reads<R, U>(
    read: impl Fn() -> R,
    upgradable_read: impl FnOnce() -> U,
) -> U::Output
where
    R: Future,
    R::Output: Deref<Target = i32>,
    U: Future,
{
    let read_guard = read().await;
    let read_guard2 = read().await;
    let upgradable = upgradable_read().await;
    let read_guard3 = read().await;
    assert_eq!(0, *read_guard3);
    drop(read_guard);
    drop(read_guard2);
    drop(read_guard3);
    upgradable
}

twin_tests! {
    where
        read = [RwLock::<i32>::read, RwLock::<i32>::read_owned],
        write = [RwLock::<i32>::write, RwLock::<i32>::write_owned],
        upgradable_read = [
            RwLock::<i32>::upgradable_read,
            RwLock::<i32>::upgradable_read_owned,
        ],
        upgrade = [
            RwLockUpgradableReadGuard::<i32>::upgrade,
            OwnedRwLockUpgradableReadGuard::<i32>::upgrade,
        ];

    // 10 task-threads taking random reads and writes (borrowed or owned) 1000 times each all
    // finish.
    #[test]
    fn [rwlock_contention, rwlock_contention_owned]
    where
        seed = [0x9E37_79B9_7F4A_7C15, 0x2545_F491_4F6C_DD1D],
    {
        const N: u64 = 10;
        const M: usize = 1000;
        let rw = Arc::new(RwLock::new(0));
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let rw = rw.clone();
                spawn(async move {
                    let mut rng = seed ^ (i + 1);
                    for _ in 0..M {
                        if next_random(&mut rng) % N == 0 {
                            drop(write(&rw).await);
                        } else {
                            drop(read(&rw).await);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    // A writer (borrowed or owned) that yields while holding the lock is never observed
    // half-way by readers.
    #[test]
    fn [rwlock_writer_and_readers, rwlock_writer_and_readers_owned] {
        let lock = Arc::new(RwLock::new(0i32));
        let writer = spawn({
            let lock = lock.clone();
            async move {
                let mut guard = write(&lock).await;
                for _ in 0..1000 {
                    let tmp = *guard;
                    *guard = -1;
                    yield_now().await;
                    *guard = tmp + 1;
                }
            }
        });
        let readers: Vec<_> = (0..5)
            .map(|_| {
                let lock = lock.clone();
                spawn(async move {
                    for _ in 0..1000 {
                        let guard = read(&lock).await;
                        assert!(*guard >= 0);
                    }
                })
            })
            .collect();
        for r in readers {
            r.join().unwrap();
        }
        writer.join().unwrap();
        assert_eq!(*block_on(read(&lock)), 1000);
    }

    // An upgradable read (borrowed or owned) coexists with reads, blocks writers, and
    // try_upgrade succeeds once the readers are gone.
    #[test]
    fn [rwlock_upgrade, rwlock_upgrade_owned]
    where
        try_upgrade = [
            RwLockUpgradableReadGuard::try_upgrade,
            OwnedRwLockUpgradableReadGuard::try_upgrade,
        ],
    {
        let lock = Arc::new(RwLock::new(0i32));
        block_on(async {
            let upgradable =
                upgradable_after_reads(|| read(&lock), || upgradable_read(&lock)).await;
            assert!(lock.try_write().is_none());

            let mut write_guard = try_upgrade(upgradable)
                .unwrap_or_else(|_| panic!("no readers are left, so the upgrade succeeds"));
            *write_guard += 1;
            drop(write_guard);
            assert_eq!(1, *read(&lock).await);
        });
    }

    // Dropping an upgradable read (borrowed or owned) without upgrading leaves the lock free
    // for a writer.
    #[test]
    fn [rwlock_not_upgrade, rwlock_not_upgrade_owned] {
        block_on(async {
            let lock = Arc::new(RwLock::new(0i32));
            let upgradable =
                upgradable_after_reads(|| read(&lock), || upgradable_read(&lock)).await;
            drop(upgradable);

            assert_eq!(0, *read(&lock).await);
            let mut write_guard = write(&lock).await;
            *write_guard += 1;
            drop(write_guard);
            assert_eq!(1, *read(&lock).await);
        });
    }

    // An upgrade (borrowed or owned) wins over a writer that queued while the upgradable read
    // was held.
    #[test]
    fn [
        rwlock_upgradable_with_concurrent_writer,
        rwlock_upgradable_with_concurrent_writer_owned
    ] {
        let lock = Arc::new(RwLock::new(0i32));
        let lock2 = lock.clone();
        block_on(async {
            let upgradable = upgradable_read(&lock).await;

            let writer = pin!(async move {
                *write(&lock2).await = 1;
            });
            let upgrader = pin!(async move {
                let mut guard = upgrade(upgradable).await;
                assert_eq!(*guard, 0);
                *guard = 2;
            });
            match select(writer, upgrader).await {
                Either::Left(_) => panic!("the writer overtook the upgradable reader"),
                Either::Right(((), _writer)) => {}
            }

            assert_eq!(2, *write(&lock).await);
            assert_eq!(2, *read(&lock).await);
        });
    }

    // Every contended acquisition (borrowed or owned) is pending, is woken by the release that
    // frees it, then completes.
    #[test]
    fn [rwlock_yields_when_contended, rwlock_yields_when_contended_owned]
    where
        try_read = [RwLock::try_read, RwLock::try_read_owned],
        try_write = [RwLock::try_write, RwLock::try_write_owned],
        try_upgradable_read = [RwLock::try_upgradable_read, RwLock::try_upgradable_read_owned],
    {
        let rw = Arc::new(RwLock::new(0));

        check_yields_when_contended(try_write(&rw).unwrap(), read(&rw));
        check_yields_when_contended(try_write(&rw).unwrap(), upgradable_read(&rw));
        check_yields_when_contended(try_write(&rw).unwrap(), write(&rw));

        check_yields_when_contended(try_read(&rw).unwrap(), write(&rw));

        check_yields_when_contended(try_upgradable_read(&rw).unwrap(), write(&rw));
        check_yields_when_contended(try_upgradable_read(&rw).unwrap(), upgradable_read(&rw));

        let upgradable = try_upgradable_read(&rw).unwrap();
        check_yields_when_contended(try_read(&rw).unwrap(), upgrade(upgradable));
    }
}

// Dropping futures that were never polled (an upgrade's included) leaves the lock usable.
#[test]
fn rwlock_cancellation() {
    block_on(async {
        let rw = RwLock::new(());
        drop(rw.read());
        drop(rw.upgradable_read());
        drop(rw.write());

        drop(rw.read().await);
        drop(rw.upgradable_read().await);
        drop(rw.write().await);

        let upgradable = rw.upgradable_read().await;
        drop(RwLockUpgradableReadGuard::upgrade(upgradable));

        let upgradable = rw.upgradable_read().await;
        drop(RwLockUpgradableReadGuard::upgrade(upgradable).await);
        assert!(rw.try_write().is_some());
    });
}

// Owned futures and guards hold one reference to the Arc while alive and none once dropped.
#[test]
fn rwlock_owned_refcounts() {
    /// Checks that `held` accounts for the one reference to `rw` besides the test's own, and
    /// that dropping it gives that reference back.
    fn holds_one<T>(rw: &Arc<RwLock<()>>, held: T) {
        assert_eq!(Arc::strong_count(rw), 2);
        drop(held);
        assert_eq!(Arc::strong_count(rw), 1);
    }

    block_on(async {
        let rw = Arc::new(RwLock::new(()));
        assert_eq!(Arc::strong_count(&rw), 1);

        drop(rw.read_owned());
        assert_eq!(Arc::strong_count(&rw), 1);
        drop(rw.upgradable_read_owned());
        assert_eq!(Arc::strong_count(&rw), 1);
        drop(rw.write_owned());
        assert_eq!(Arc::strong_count(&rw), 1);

        holds_one(&rw, rw.read_owned().await);
        holds_one(&rw, rw.upgradable_read_owned().await);
        holds_one(&rw, rw.write_owned().await);

        let upgradable = rw.upgradable_read_owned().await;
        assert_eq!(Arc::strong_count(&rw), 2);
        holds_one(&rw, OwnedRwLockUpgradableReadGuard::upgrade(upgradable));

        let upgradable = rw.upgradable_read_owned().await;
        assert_eq!(Arc::strong_count(&rw), 2);
        holds_one(
            &rw,
            OwnedRwLockUpgradableReadGuard::upgrade(upgradable).await,
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------------

// try_acquire takes the free permits, then fails until one is released.
#[test]
fn semaphore_try_acquire() {
    let s = Semaphore::new(2);
    takes_both_permits(&s, || s.try_acquire());
}

// 50 task-threads taking and returning a permit 10,000 times each leave all 5 permits intact.
#[test]
fn semaphore_stress() {
    const COUNT: usize = 10_000;
    let s = Arc::new(Semaphore::new(5));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let s = s.clone();
            spawn(async move {
                for _ in 0..COUNT {
                    drop(s.acquire().await.unwrap());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }

    let mut held: Vec<_> = (0..5).map(|_| s.try_acquire().unwrap()).collect();
    assert!(s.try_acquire().is_err());
    drop(held.pop());
    assert!(s.try_acquire().is_ok());
}

// A one-permit semaphore serialises a task on another thread and one on this thread.
#[test]
fn semaphore_as_mutex() {
    let s = Arc::new(Semaphore::new(1));
    let s2 = s.clone();
    let t = spawn(async move {
        let _g = s2.acquire().await.unwrap();
    });
    block_on(async {
        let _g = s.acquire().await.unwrap();
    });
    t.join().unwrap();
}

// Two permits let two holders hold at once (each waits for the other while holding).
#[test]
fn semaphore_multi_resource() {
    let s = Arc::new(Semaphore::new(2));
    let s2 = s.clone();
    let (tx1, rx1) = mpsc::channel();
    let (tx2, rx2) = mpsc::channel();
    let t = spawn(async move {
        let _g = s2.acquire().await.unwrap();
        rx2.recv_timeout(HANG).expect("the other holder never held");
        tx1.send(()).unwrap();
    });
    block_on(async {
        let _g = s.acquire().await.unwrap();
        tx2.send(()).unwrap();
        rx1.recv_timeout(HANG).expect("the other holder never held");
    });
    t.join().unwrap();
}

// An owned acquire future keeps the semaphore alive after every other handle is dropped.
#[test]
fn semaphore_owned_future_keeps_semaphore_alive() {
    let fut = {
        let s = Arc::new(Semaphore::new(2));
        s.acquire_owned()
    };
    assert_eq!(block_on(fut).unwrap().num_permits(), 1);
}

// A contended acquire (plain and owned) is pending, is woken by the release, then completes.
#[test]
fn semaphore_yields_when_contended() {
    let s = Semaphore::new(1);
    check_yields_when_contended(s.try_acquire().unwrap(), s.acquire());

    let s = Arc::new(s);
    check_yields_when_contended(s.try_acquire_owned().unwrap(), s.acquire_owned());
}

twin_tests! {
    // Blocking acquires (borrowed or owned) take the permits and dropping one frees it.
    #[cfg(feature = "std")]
    #[test]
    fn [semaphore_smoke_blocking, semaphore_smoke_owned_blocking]
    where acquire = [Semaphore::acquire_blocking, Semaphore::acquire_owned_blocking]
    {
        let s = Arc::new(Semaphore::new(2));
        takes_both_permits(&s, || acquire(&s));
    }
}

// add_permits(50) releases all 50 acquirers waiting on an empty semaphore.
#[test]
fn semaphore_add_permits_wakes_waiters() {
    let counter = Arc::new(AtomicUsize::new(0));
    let s = Arc::new(Semaphore::new(0));
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let (s, counter) = (s.clone(), counter.clone());
            spawn(async move {
                s.acquire().await.unwrap().forget();
                counter.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    assert_eq!(counter.load(Ordering::SeqCst), 0);
    s.add_permits(50);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 50);
}

// One added permit completes the first of two pending acquires and leaves the second pending.
#[test]
fn semaphore_add_permits_serves_first_waiter() {
    let counter = Counter::new();
    let s = Semaphore::new(0);
    let mut acq = pin!(s.acquire());
    let mut acq2 = pin!(s.acquire());
    assert_pending!(counter, acq);
    assert_pending!(counter, acq2);
    s.add_permits(1);
    let first = assert_ready!(counter, acq);
    assert!(first.is_ok());
    assert_pending!(counter, acq2);
    drop(first);
}

// Growing the pool while an acquire is pending completes it (async-lock's set_size grow).
#[test]
fn semaphore_grow_completes_pending_acquire() {
    let counter = Counter::new();
    let s = Semaphore::new(2);
    let _g1 =
        assert_ready!(counter, pin!(s.acquire())).expect("a free permit was not taken at once");
    let _g2 =
        assert_ready!(counter, pin!(s.acquire())).expect("a free permit was not taken at once");
    let mut acq3 = pin!(s.acquire());
    assert_pending!(counter, acq3);
    s.add_permits(1);
    assert!(counter.poll(&mut acq3).is_ready());
}

// Growing the pool lets try_acquire succeed (async-lock's set_size grow with try_acquire).
#[test]
fn semaphore_grow_try_acquire() {
    let s = Semaphore::new(1);
    let _g1 = s.try_acquire().unwrap();
    assert!(s.try_acquire().is_err());
    s.add_permits(1);
    assert!(s.try_acquire().is_ok());
}

// Shrinking the pool by a held permit keeps a pending acquire waiting until the other holder
// releases (async-lock's set_size shrink, with the shrink as forgetting a held permit).
#[test]
fn semaphore_shrink_keeps_pending_acquire_waiting() {
    let counter = Counter::new();
    let s = Semaphore::new(2);
    let g1 = s.try_acquire().unwrap();
    let g2 = s.try_acquire().unwrap();
    let mut acq3 = pin!(s.acquire());
    assert_pending!(counter, acq3);
    g2.forget(); // the pool is now one permit, held by g1
    assert_pending!(counter, acq3);
    drop(g1);
    assert!(counter.poll(&mut acq3).is_ready());
}

// Shrinking the pool by a held permit: try_acquire fails until the remaining holder releases.
#[test]
fn semaphore_shrink_try_acquire() {
    let s = Semaphore::new(2);
    let g1 = s.try_acquire().unwrap();
    let g2 = s.try_acquire().unwrap();
    g1.forget(); // the pool is now one permit, held by g2
    assert!(s.try_acquire().is_err());
    drop(g2);
    let g = s.try_acquire().unwrap();
    assert!(s.try_acquire().is_err());
    drop(g);
    assert_eq!(s.available_permits(), 1);
}

// ---------------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------------

twin_tests! {
    // Ten generations of 10 parties (9 threads plus this one), every party waiting from a task
    // or with wait_blocking: nobody passes before the last arrives, and each generation has
    // exactly one leader.
    #[cfg(feature = "std")]
    #[test]
    fn [barrier_smoke, barrier_smoke_blocking]
    where wait = [|b: &Barrier| block_on(b.wait()), Barrier::wait_blocking]
    {
        const N: usize = 10;
        let barrier = Arc::new(Barrier::new(N));
        for _ in 0..10 {
            let (tx, rx) = mpsc::channel();
            let handles: Vec<_> = (0..N - 1)
                .map(|_| {
                    let (barrier, tx) = (barrier.clone(), tx.clone());
                    thread::spawn(move || tx.send(wait(&barrier).unwrap().is_leader()).unwrap())
                })
                .collect();

            assert!(
                rx.try_recv().is_err(),
                "a party passed before the barrier was full"
            );

            let mut leaders = usize::from(wait(&barrier).unwrap().is_leader());
            for _ in 0..N - 1 {
                leaders += usize::from(rx.recv_timeout(HANG).expect("a party hung"));
            }
            assert_eq!(leaders, 1);
            for h in handles {
                h.join().unwrap();
            }
        }
    }
}

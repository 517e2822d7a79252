//! Stress tests of `Semaphore`, `Mutex` and `RwLock`, for the mixes that the per-primitive
//! files leave out.
//!
//! Weighted acquires cancelled at random points (a runtime timeout or a poll limit) race timed
//! blocking acquires, `add_permits` and `forget_permits` of what was added, `split` and `merge`
//! of held permits, and a `close`. Upgradable readers upgrade, downgrade and give up under
//! cancellation beside timed blocking readers and writers, on locks with and without a reader
//! limit. Wakers lock and unlock the mutex that woke them. Readers let in by a release are
//! dropped before they run while an upgrade waits for them.
//!
//! The storms keep their own books beside the primitive (permits held, readers, writers) and
//! check them at every step; at the end every permit and every lock is back. A lost wake-up
//! shows up as a hang, which `common::no_deadlock` turns into a failure; in the storms,
//! `common::no_stall` does, once they make no step for a minute, so a storm may run as long as
//! its scale asks.
//!
//! `UNISYNC_STRESS_SCALE` multiplies the rounds of every storm (default 1; tests/stress_signals.rs
//! reads it too; set it to 20 or more in release mode for a longer soak; at 400 some
//! storms run for minutes).
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{
    limit, no_deadlock, no_stall, runtime, spawn, stress_scale, yield_once, Permit, Progress, Rng,
    Task,
};
use unisync::{
    AcquireTimeoutError, Mutex, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore,
};

/// Polls `task` for as long as it is woken, and returns its output; fails if it stays pending
/// without having been woken, which under an executor would be a hang.
#[track_caller]
fn run_while_woken<F: Future>(task: &mut Task<F>, what: &str) -> F::Output {
    for _ in 0..100 {
        match task.poll() {
            Poll::Ready(out) => return out,
            Poll::Pending => assert!(task.is_woken(), "{what}: pending and never woken"),
        }
    }
    panic!("{what}: still pending after 100 wake-ups");
}

// ---------------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------------

const SEM_PERMITS: usize = 6;

/// Permits the semaphore has that no holder has counted as held. Holders take from it once
/// they hold their permits and give back before they drop them; the grower gives to it before
/// it adds permits and takes back only once as many were forgotten. So it goes negative only
/// if the semaphore handed out more permits than it had.
struct Room(AtomicIsize);

impl Room {
    fn take(&self, n: usize) {
        let left = self.0.fetch_sub(n as isize, SeqCst) - n as isize;
        assert!(left >= 0, "permits held beyond what the semaphore has");
    }

    fn give(&self, n: usize) {
        self.0.fetch_add(n as isize, SeqCst);
    }
}

/// Weighted owned acquires on tokio tasks, cancelled at random points, race weighted timed
/// blocking acquires (borrowed and owned) on threads, while a grower adds permits and forgets
/// as many again, and holders split off and merge or drop parts of what they hold. Nobody ever
/// holds a permit the semaphore does not have, and every permit is back at the end.
#[test]
fn weighted_acquires_race_add_forget_split_and_merge() {
    no_stall(|progress| {
        for seed in 1..=3 {
            sem_storm(seed, &progress);
        }
    });
}

fn sem_storm(seed: u64, progress: &Progress) {
    let ops = 1500 * stress_scale();
    let sem = Arc::new(Semaphore::new(SEM_PERMITS));
    let room = Arc::new(Room(AtomicIsize::new(SEM_PERMITS as isize)));
    let growing = Arc::new(AtomicBool::new(true));
    let rt = runtime();
    let tasks: Vec<_> = (0..6)
        .map(|t| {
            let (sem, room, progress) = (sem.clone(), room.clone(), progress.clone());
            rt.spawn(async move {
                let mut rng = Rng::new(seed * 7919 + t);
                for _ in 0..ops {
                    progress.step();
                    let n = 1 + rng.below(SEM_PERMITS as u64) as usize;
                    let tiny = Duration::from_micros(rng.below(300));
                    let permit = match rng.below(4) {
                        0 => tokio::time::timeout(tiny, sem.acquire_many_owned(n))
                            .await
                            .ok(),
                        1 => limit(sem.acquire_many_owned(n), rng.below(4) as u32).await,
                        _ => Some(sem.acquire_many_owned(n).await),
                    };
                    let Some(permit) = permit else { continue };
                    let mut permit = permit.expect("never closed");
                    assert_eq!(permit.num_permits(), n);
                    room.take(n);
                    if n >= 2 && rng.below(2) == 0 {
                        let part = permit.split(1).expect("holds at least two");
                        yield_once().await;
                        permit.merge(part);
                        assert_eq!(permit.num_permits(), n);
                    } else if n >= 2 {
                        let part = permit.split(1).expect("holds at least two");
                        room.give(1);
                        drop(part);
                    }
                    yield_once().await;
                    room.give(permit.num_permits());
                    drop(permit);
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (sem, room, progress) = (sem.clone(), room.clone(), progress.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 104_729 + t);
                for _ in 0..ops {
                    progress.step();
                    let n = 1 + rng.below(SEM_PERMITS as u64) as usize;
                    let timeout = Duration::from_micros(rng.below(200));
                    let permit = if rng.below(2) == 0 {
                        sem.acquire_many_blocking_timeout(n, timeout)
                            .map(Permit::Borrowed)
                    } else {
                        sem.acquire_many_owned_blocking_timeout(n, timeout)
                            .map(Permit::Owned)
                    };
                    match permit {
                        Ok(permit) => {
                            room.take(n);
                            thread::yield_now();
                            room.give(n);
                            drop(permit);
                        }
                        Err(AcquireTimeoutError::Timeout) => {}
                        Err(e) => panic!("never closed, yet {e:?}"),
                    }
                }
            })
        })
        .collect();
    let grower = {
        let (sem, room, growing) = (sem.clone(), room.clone(), growing.clone());
        thread::spawn(move || {
            let mut rng = Rng::new(seed * 31 + 5);
            while growing.load(SeqCst) {
                let add = 1 + rng.below(4) as usize;
                room.give(add);
                sem.add_permits(add);
                thread::sleep(Duration::from_micros(rng.below(300)));
                // `forget_permits` takes only free permits: it may take several calls.
                let mut left = add;
                while left > 0 {
                    left -= sem.forget_permits(left);
                    thread::yield_now();
                }
                room.take(add);
            }
        })
    };
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    growing.store(false, SeqCst);
    grower.join().unwrap();
    assert_eq!(room.0.load(SeqCst), SEM_PERMITS as isize, "seed {seed}");
    assert_eq!(sem.available_permits(), SEM_PERMITS, "seed {seed}: {sem:?}");
    drop(
        sem.try_acquire_many(SEM_PERMITS)
            .expect("every permit is free"),
    );
}

/// Weighted waiters of every kind queue behind a holder (tokio tasks, some under timeouts;
/// threads, some with timeouts), the first of them collecting part of what it asks for; the
/// semaphore may get more permits, then is closed while they wait, and the holder returns its
/// permits after the close. Every wait ends, and every permit is back in the count.
#[test]
fn close_amid_weighted_waiters_of_every_kind_loses_no_permit() {
    no_stall(|progress| {
        for round in 0..40 * stress_scale() as u64 {
            progress.step();
            const PERMITS: usize = 4;
            let sem = Arc::new(Semaphore::new(PERMITS));
            let held = sem.try_acquire_many_owned(3).unwrap();
            let rt = runtime();
            let mut rng = Rng::new(round + 99);
            let tasks: Vec<_> = (0..8)
                .map(|t| {
                    let sem = sem.clone();
                    let bounded = rng.below(4) == 0;
                    let n = 1 + t % PERMITS;
                    rt.spawn(async move {
                        let acquire = sem.acquire_many_owned(n);
                        let permit = if bounded {
                            tokio::time::timeout(Duration::from_micros(200), acquire)
                                .await
                                .ok()
                        } else {
                            Some(acquire.await)
                        };
                        if let Some(Ok(permit)) = permit {
                            yield_once().await;
                            drop(permit);
                        }
                    })
                })
                .collect();
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let sem = sem.clone();
                    let n = 1 + t % PERMITS;
                    thread::spawn(move || {
                        if t == 0 {
                            drop(sem.acquire_many_blocking(n));
                        } else {
                            let timeout = Duration::from_millis(t as u64);
                            drop(sem.acquire_many_blocking_timeout(n, timeout));
                        }
                    })
                })
                .collect();
            // Lets the close land at a different point of the queueing each round.
            thread::sleep(Duration::from_micros(rng.below(2000)));
            let added = if rng.below(2) == 0 { 2 } else { 0 };
            sem.add_permits(added);
            sem.close();
            drop(held);
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            for t in threads {
                t.join().unwrap();
            }
            assert!(sem.is_closed());
            assert_eq!(
                sem.available_permits(),
                PERMITS + added,
                "round {round}: {sem:?}"
            );
        }
    });
}

/// smol tasks (whose acquires are dropped after a few polls), async-std tasks and threads
/// acquire weighted permits in a loop until the semaphore is closed under them: every loop
/// sees the close and ends, and every permit is back.
#[test]
fn close_ends_weighted_acquire_loops_on_smol_async_std_and_threads() {
    no_stall(|acquired| {
        let sem = Arc::new(Semaphore::new(3));
        let mut workers = Vec::new();
        for t in 0..2 {
            let (sem, acquired) = (sem.clone(), acquired.clone());
            workers.push(thread::spawn(move || {
                smol::block_on(async {
                    let mut rng = Rng::new(t + 5);
                    loop {
                        let n = 1 + rng.below(3) as usize;
                        match limit(sem.acquire_many(n), rng.below(5) as u32).await {
                            Some(Ok(permit)) => {
                                acquired.step();
                                yield_once().await;
                                drop(permit);
                            }
                            Some(Err(_)) => break,
                            None => {}
                        }
                    }
                })
            }));
        }
        for t in 0..2 {
            let (sem, acquired) = (sem.clone(), acquired.clone());
            workers.push(thread::spawn(move || {
                async_std::task::block_on(async {
                    let mut rng = Rng::new(t + 50);
                    while let Ok(permit) = sem.acquire_many_owned(1 + rng.below(3) as usize).await {
                        acquired.step();
                        async_std::task::yield_now().await;
                        drop(permit);
                    }
                })
            }));
        }
        for t in 0..2 {
            let (sem, acquired) = (sem.clone(), acquired.clone());
            workers.push(thread::spawn(move || {
                let mut rng = Rng::new(t + 500);
                while let Ok(permit) = sem.acquire_many_blocking(1 + rng.below(3) as usize) {
                    acquired.step();
                    drop(permit);
                }
            }));
        }
        let target = 600 * stress_scale();
        acquired.wait_for("the workers to get going", target);
        sem.close();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 3);
    });
}

// ---------------------------------------------------------------------------------------------
// Mutex
// ---------------------------------------------------------------------------------------------

/// A waker that, when woken, takes the mutex with `try_lock` and unlocks it again: an unlock
/// that runs inside the wake-up of another unlock.
struct Relock {
    mutex: Arc<Mutex<u32>>,
    wakes: AtomicUsize,
}

impl Wake for Relock {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, SeqCst);
        if let Some(mut guard) = self.mutex.try_lock() {
            *guard += 1;
        }
    }
}

/// More waiters than one batch of wake-ups (40), each with a [`Relock`] waker: every unlock
/// wakes the next waiter, whose waker locks and unlocks the mutex at once. No wake-up is lost
/// to that: each waiter in turn is woken and gets the lock at its next poll.
#[test]
fn wakers_that_lock_and_unlock_inside_the_wake_up_pass_the_mutex_down_the_queue() {
    no_deadlock(|| {
        let mutex = Arc::new(Mutex::new(0u32));
        let first = mutex.try_lock_owned().unwrap();
        let mut waiters: Vec<_> = (0..40)
            .map(|_| {
                let relock = Arc::new(Relock {
                    mutex: mutex.clone(),
                    wakes: AtomicUsize::new(0),
                });
                let waker = Waker::from(relock.clone());
                let mut lock = Box::pin(mutex.lock_owned());
                assert!(common::poll_with(&mut lock, &waker).is_pending());
                (relock, waker, lock)
            })
            .collect();
        drop(first);
        for (i, (relock, waker, lock)) in waiters.iter_mut().enumerate() {
            assert!(relock.wakes.load(SeqCst) >= 1, "waiter {i} was not woken");
            match common::poll_with(lock, waker) {
                Poll::Ready(guard) => drop(guard),
                Poll::Pending => panic!("waiter {i} was woken but did not get the lock"),
            }
        }
        // Each waker found the mutex free: the unlocks did run inside wake-ups.
        assert_eq!(*mutex.try_lock().unwrap(), 40, "every waker took the lock");
    });
}

// ---------------------------------------------------------------------------------------------
// RwLock
// ---------------------------------------------------------------------------------------------

/// The storm's books: who holds the lock, as counted by the holders themselves. A holder
/// counts itself in only once it holds the lock and out before it lets go, so the books never
/// show a holder the lock does not have.
struct RwBooks {
    readers: AtomicIsize,
    /// Readers that came in through a read lock (not a downgrade): only they obey the limit.
    plain_readers: AtomicIsize,
    writers: AtomicIsize,
    upgradable: AtomicIsize,
    max_readers: Option<usize>,
    /// Writes made, to compare with the value at the end.
    writes: AtomicU64,
}

impl RwBooks {
    fn new(max_readers: Option<usize>) -> Self {
        RwBooks {
            readers: AtomicIsize::new(0),
            plain_readers: AtomicIsize::new(0),
            writers: AtomicIsize::new(0),
            upgradable: AtomicIsize::new(0),
            max_readers,
            writes: AtomicU64::new(0),
        }
    }

    /// `plain`: a read lock, not a downgrade (which may pass the limit, as documented).
    fn enter_read(&self, plain: bool) {
        self.readers.fetch_add(1, SeqCst);
        assert_eq!(self.writers.load(SeqCst), 0, "a reader beside a writer");
        if plain {
            let plain_now = self.plain_readers.fetch_add(1, SeqCst) + 1;
            if let Some(max) = self.max_readers {
                assert!(
                    plain_now <= max as isize,
                    "{plain_now} readers, limit {max}"
                );
            }
        }
    }

    fn leave_read(&self, plain: bool) {
        if plain {
            self.plain_readers.fetch_sub(1, SeqCst);
        }
        self.readers.fetch_sub(1, SeqCst);
    }

    fn enter_write(&self) {
        assert_eq!(self.writers.fetch_add(1, SeqCst), 0, "two writers");
        assert_eq!(self.readers.load(SeqCst), 0, "a writer beside readers");
        assert_eq!(
            self.upgradable.load(SeqCst),
            0,
            "a writer beside an upgradable"
        );
        self.writes.fetch_add(1, SeqCst);
    }

    fn leave_write(&self) {
        self.writers.fetch_sub(1, SeqCst);
    }

    fn enter_upgradable(&self) {
        assert_eq!(self.upgradable.fetch_add(1, SeqCst), 0, "two upgradables");
        assert_eq!(
            self.writers.load(SeqCst),
            0,
            "an upgradable beside a writer"
        );
    }

    fn leave_upgradable(&self) {
        self.upgradable.fetch_sub(1, SeqCst);
    }
}

/// One random step of a task: a read, a write or an upgradable read (borrowed or owned), each
/// waited for in full, dropped after a few polls or bounded by a runtime timeout; writes may
/// downgrade, and upgradable reads upgrade (maybe cancelled), downgrade, try to upgrade or just
/// leave.
async fn rw_task_step(lock: &Arc<RwLock<u64>>, books: &RwBooks, rng: &mut Rng) {
    let polls = rng.below(4) as u32;
    let cancel = rng.below(3) == 0;
    let tiny = Duration::from_micros(rng.below(200));
    match rng.below(7) {
        0 | 1 => {
            let guard = if cancel {
                limit(lock.read(), polls).await
            } else {
                Some(lock.read().await)
            };
            if let Some(guard) = guard {
                books.enter_read(true);
                if rng.below(2) == 0 {
                    yield_once().await;
                }
                books.leave_read(true);
                drop(guard);
            }
        }
        2 => {
            let guard = if cancel {
                tokio::time::timeout(tiny, lock.write_owned()).await.ok()
            } else {
                Some(lock.write_owned().await)
            };
            if let Some(mut guard) = guard {
                books.enter_write();
                *guard += 1;
                if rng.below(2) == 0 {
                    yield_once().await;
                }
                books.leave_write();
                if rng.below(3) == 0 {
                    let read = OwnedRwLockWriteGuard::downgrade(guard);
                    books.enter_read(false);
                    yield_once().await;
                    books.leave_read(false);
                    drop(read);
                }
            }
        }
        3 | 4 => {
            let guard = if cancel {
                limit(lock.upgradable_read_owned(), polls).await
            } else {
                Some(lock.upgradable_read_owned().await)
            };
            let Some(guard) = guard else { return };
            books.enter_upgradable();
            if rng.below(2) == 0 {
                yield_once().await;
            }
            rw_upgradable_step(guard, books, rng, cancel.then_some(polls)).await;
        }
        _ => {
            let guard = if cancel {
                tokio::time::timeout(tiny, lock.read_owned()).await.ok()
            } else {
                Some(lock.read_owned().await)
            };
            if let Some(guard) = guard {
                books.enter_read(true);
                std::hint::black_box(*guard);
                books.leave_read(true);
            }
        }
    }
}

/// What a task does with an upgradable read it holds (counted in the books); `polls`: the
/// polls an upgrade gets before it is dropped, if it is cancelled.
async fn rw_upgradable_step(
    guard: OwnedRwLockUpgradableReadGuard<u64>,
    books: &RwBooks,
    rng: &mut Rng,
    polls: Option<u32>,
) {
    match rng.below(4) {
        0 => {
            let mut upgrade = limit(
                OwnedRwLockUpgradableReadGuard::upgrade(guard),
                polls.unwrap_or(u32::MAX),
            );
            let write = (&mut upgrade).await;
            // The upgrade holds the upgradable lock until it completes or is dropped.
            books.leave_upgradable();
            drop(upgrade);
            if let Some(mut write) = write {
                books.enter_write();
                *write += 1;
                books.leave_write();
                if rng.below(2) == 0 {
                    let back = OwnedRwLockWriteGuard::downgrade_to_upgradable(write);
                    books.enter_upgradable();
                    yield_once().await;
                    books.leave_upgradable();
                    drop(back);
                }
            }
        }
        1 => {
            books.leave_upgradable();
            let read = OwnedRwLockUpgradableReadGuard::downgrade(guard);
            books.enter_read(false);
            yield_once().await;
            books.leave_read(false);
            drop(read);
        }
        2 => {
            books.leave_upgradable();
            if let Ok(mut write) = OwnedRwLockUpgradableReadGuard::try_upgrade(guard) {
                books.enter_write();
                *write += 1;
                books.leave_write();
            }
        }
        _ => {
            books.leave_upgradable();
            drop(guard);
        }
    }
}

/// One random step of a thread: a timed blocking read, write, or upgradable read that tries
/// a timed upgrade and then downgrades.
fn rw_thread_step(lock: &RwLock<u64>, books: &RwBooks, rng: &mut Rng) {
    let tiny = Duration::from_micros(rng.below(200));
    match rng.below(5) {
        0 | 1 => {
            if let Some(guard) = lock.read_blocking_timeout(tiny) {
                books.enter_read(true);
                std::hint::black_box(*guard);
                books.leave_read(true);
            }
        }
        2 => {
            if let Some(mut guard) = lock.write_blocking_timeout(tiny) {
                books.enter_write();
                *guard += 1;
                books.leave_write();
            }
        }
        _ => {
            let Some(guard) = lock.upgradable_read_blocking_timeout(tiny) else {
                return;
            };
            books.enter_upgradable();
            match RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, tiny) {
                Ok(mut write) => {
                    books.leave_upgradable();
                    books.enter_write();
                    *write += 1;
                    books.leave_write();
                    let read = RwLockWriteGuard::downgrade(write);
                    books.enter_read(false);
                    books.leave_read(false);
                    drop(read);
                }
                Err(guard) => {
                    books.leave_upgradable();
                    drop(guard);
                }
            }
        }
    }
}

/// Eight tokio tasks and two threads take [`rw_task_step`]s and [`rw_thread_step`]s on one
/// lock. The books hold at every step, no write is lost, and the lock is free at the end.
fn rw_storm(max_readers: Option<usize>, seed: u64, progress: &Progress) {
    let ops = 1200 * stress_scale();
    let lock = Arc::new(match max_readers {
        Some(max) => RwLock::with_max_readers(0u64, max),
        None => RwLock::new(0u64),
    });
    let books = Arc::new(RwBooks::new(max_readers));
    let rt = runtime();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (lock, books, progress) = (lock.clone(), books.clone(), progress.clone());
            rt.spawn(async move {
                let mut rng = Rng::new(seed * 1000 + t);
                for _ in 0..ops {
                    progress.step();
                    rw_task_step(&lock, &books, &mut rng).await;
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (lock, books, progress) = (lock.clone(), books.clone(), progress.clone());
            thread::spawn(move || {
                let mut rng = Rng::new(seed * 5000 + t);
                for _ in 0..ops {
                    progress.step();
                    rw_thread_step(&lock, &books, &mut rng);
                }
            })
        })
        .collect();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    let ctx = format!("max {max_readers:?}, seed {seed}");
    assert_eq!(
        *lock.try_read().unwrap(),
        books.writes.load(SeqCst),
        "{ctx}"
    );
    assert_eq!(lock.reader_count(), 0, "{ctx}: a read lock left behind");
    assert!(!lock.is_write_locked(), "{ctx}: a write left behind");
    drop(lock.try_write().expect("the write lock is free"));
    drop(
        lock.try_upgradable_read()
            .expect("the upgradable lock is free"),
    );
    let room = max_readers.unwrap_or(8);
    let reads: Vec<_> = (0..room)
        .map(|_| lock.try_read().expect("read free"))
        .collect();
    drop(reads);
}

#[test]
fn rwlock_storm_with_upgrades_cancellation_and_timed_blocking_waits() {
    no_stall(|progress| {
        for seed in 1..=2 {
            rw_storm(None, seed, &progress);
        }
    });
}

#[test]
fn rwlock_storm_on_locks_with_a_reader_limit() {
    no_stall(|progress| {
        for (seed, max) in [(1, 1), (2, 2), (3, 3)] {
            rw_storm(Some(max), seed, &progress);
        }
    });
}

/// On a lock limited to two readers, both inside: four reads queue for room and a writer
/// announces itself behind them. The readers leave, the first two queued reads give up, and
/// the writer gets in. Its release lets in the two reads left; one of them is dropped before
/// it runs and must give its read lock back.
#[test]
fn limited_reads_let_in_by_a_write_release_and_dropped_unpolled_give_their_room_back() {
    let lock = RwLock::with_max_readers(0u32, 2);
    let (a, b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    let mut gives_up = [spawn(lock.read()), spawn(lock.read())];
    let (mut dropped, mut kept) = (spawn(lock.read()), spawn(lock.read()));
    for read in gives_up.iter_mut().chain([&mut dropped, &mut kept]) {
        read.assert_pending();
    }
    let mut writer = spawn(lock.write());
    writer.assert_pending();
    assert!(lock.is_write_locked(), "the writer announced itself");
    drop((a, b));
    assert!(writer.is_woken(), "the last reader out wakes the writer");
    drop(gives_up);
    let write = writer.assert_ready();
    dropped.assert_pending();
    drop(write);
    assert!(dropped.is_woken() && kept.is_woken(), "both let in");
    assert_eq!(lock.reader_count(), 2);
    drop(dropped);
    let read = kept.assert_ready();
    assert_eq!(
        lock.reader_count(),
        1,
        "the dropped read gave its lock back"
    );
    drop(read);
    assert_eq!(lock.reader_count(), 0);
    assert!(lock.try_write().is_some());
}

/// A reader queued behind a writer is let in by `downgrade_to_upgradable` (but has not run);
/// an upgrade then waits for it, while new readers still enter. Dropping the let-in reader
/// before it ran wakes the upgrade, which now announces itself and waits for the new reader.
#[test]
fn upgrade_waiting_for_a_let_in_reader_is_woken_when_that_reader_is_dropped_unpolled() {
    let lock = RwLock::new(0u32);
    let write = lock.try_write().unwrap();
    let mut let_in = spawn(lock.read());
    let_in.assert_pending();
    let upgradable = RwLockWriteGuard::downgrade_to_upgradable(write);
    assert_eq!(lock.reader_count(), 1, "the queued reader was let in");
    let mut upgrade = spawn(RwLockUpgradableReadGuard::upgrade(upgradable));
    upgrade.assert_pending();
    let newcomer = lock
        .try_read()
        .expect("not announced yet: new readers still enter");
    drop(let_in);
    assert!(upgrade.is_woken(), "the let-in reader went away");
    upgrade.assert_pending();
    assert!(lock.try_read().is_none(), "announced now");
    drop(newcomer);
    assert!(upgrade.is_woken());
    let mut write = upgrade.assert_ready();
    *write += 1;
    drop(write);
    assert_eq!(lock.reader_count(), 0);
    assert!(lock.try_write().is_some());
}

/// The upgrade above is dropped while it waits for the let-in reader: a writer queued on the
/// upgradable/write gate is woken, waits for that reader in turn, and gets in once it left.
#[test]
fn upgrade_dropped_while_waiting_for_a_let_in_reader_lets_the_next_writer_in() {
    let lock = RwLock::new(0u32);
    let write = lock.try_write().unwrap();
    let mut let_in = spawn(lock.read());
    let_in.assert_pending();
    let upgradable = RwLockWriteGuard::downgrade_to_upgradable(write);
    let mut upgrade = spawn(RwLockUpgradableReadGuard::upgrade(upgradable));
    upgrade.assert_pending();
    let mut writer = spawn(lock.write());
    writer.assert_pending();
    drop(upgrade);
    assert!(writer.is_woken(), "the gate was released");
    writer.assert_pending();
    let read = let_in.assert_ready();
    writer.assert_pending();
    drop(read);
    drop(run_while_woken(
        &mut writer,
        "the writer behind the let-in reader",
    ));
    assert!(lock.try_write().is_some());
}

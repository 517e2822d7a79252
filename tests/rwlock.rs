//! Tests for `RwLock`: exclusion, try/upgrade/downgrade semantics, timeouts, cancellation and
//! fairness.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, blocked_until_released, pending_until_released, Counter,
};
use futures::future::LocalBoxFuture;
use futures::FutureExt;
use unisync::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, OwnedMappedRwLockReadGuard,
    OwnedMappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard,
    OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};

/// A future under test with its own counting waker.
struct Probe<'a, T> {
    fut: LocalBoxFuture<'a, T>,
    counter: Counter,
    seen: usize,
}

impl<'a, T> Probe<'a, T> {
    fn new(fut: impl Future<Output = T> + 'a) -> Self {
        Probe {
            fut: fut.boxed_local(),
            counter: Counter::new(),
            seen: 0,
        }
    }

    fn poll(&mut self) -> Poll<T> {
        self.seen = self.wakes();
        self.counter.poll(&mut self.fut)
    }

    fn wakes(&self) -> usize {
        self.counter.count()
    }

    fn woken(&self) -> bool {
        self.wakes() > self.seen
    }

    /// Polls while woken: `Some` once ready, `None` when it waits without a pending wake-up.
    fn drive(&mut self) -> Option<T> {
        loop {
            if let Poll::Ready(out) = self.poll() {
                return Some(out);
            }
            if !self.woken() {
                return None;
            }
        }
    }
}

fn assert_free<T>(lock: &RwLock<T>) {
    assert!(
        !lock.is_write_locked(),
        "a write announcement was left behind"
    );
    assert_eq!(lock.reader_count(), 0, "a read lock was left behind");
    assert!(lock.try_write().is_some(), "lock not free");
    assert!(
        lock.try_upgradable_read().is_some(),
        "upgradable lock not free"
    );
}

#[test]
fn try_semantics() {
    let lock = RwLock::new(0);
    let r1 = lock.try_read().unwrap();
    let r2 = lock.try_read().unwrap();
    assert!(lock.try_write().is_none());
    let u = lock.try_upgradable_read().unwrap();
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.try_read().is_some());
    assert!(lock.try_write().is_none());
    drop((r1, r2));
    assert!(lock.try_write().is_none(), "upgradable excludes writers");
    drop(u);
    let mut w = lock.try_write().unwrap();
    *w = 5;
    assert!(lock.try_read().is_none());
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.try_write().is_none());
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 5);
    assert_free(&lock);
}

#[test]
fn owned_try_semantics() {
    let lock = Arc::new(RwLock::new(1));
    let r = lock.try_read_owned().unwrap();
    assert!(lock.try_write_owned().is_none());
    let u = lock.try_upgradable_read_owned().unwrap();
    assert!(lock.try_upgradable_read_owned().is_none());
    drop(r);
    let w = OwnedRwLockUpgradableReadGuard::try_upgrade(u).unwrap();
    assert!(lock.try_read_owned().is_none());
    let u = OwnedRwLockWriteGuard::downgrade_to_upgradable(w);
    assert!(lock.try_read_owned().is_some());
    let r = OwnedRwLockUpgradableReadGuard::downgrade(u);
    assert!(lock.try_upgradable_read_owned().is_some());
    drop(r);
    let w = lock.try_write_owned().unwrap();
    let r = OwnedRwLockWriteGuard::downgrade(w);
    assert_eq!(*r, 1);
    drop(r);
    assert_free(&lock);
}

#[test]
fn upgrade_waits_for_readers_and_blocks_new_ones() {
    let lock = RwLock::new(1);
    let reader = lock.try_read().unwrap();
    let up = lock.try_upgradable_read().unwrap();
    let mut upgrade = Probe::new(RwLockUpgradableReadGuard::upgrade(up));
    assert!(upgrade.poll().is_pending());
    assert!(
        lock.try_read().is_none(),
        "a pending upgrade lets new readers in"
    );
    let mut late_reader = Probe::new(lock.read());
    assert!(late_reader.poll().is_pending());
    drop(reader);
    assert!(upgrade.woken());
    let mut w = match upgrade.poll() {
        Poll::Ready(w) => w,
        Poll::Pending => panic!("upgrade not granted after the last reader left"),
    };
    *w = 2;
    assert!(!late_reader.woken());
    let r = RwLockWriteGuard::downgrade(w);
    assert!(late_reader.woken());
    assert_eq!(*late_reader.drive().unwrap(), 2);
    drop(r);
    assert_free(&lock);
}

#[test]
fn downgrade_lets_queued_readers_in_without_a_writer_between() {
    let lock = RwLock::new(0);
    let w = lock.try_write().unwrap();
    let mut reader = Probe::new(lock.read());
    let mut writer = Probe::new(lock.write());
    assert!(reader.poll().is_pending());
    assert!(writer.poll().is_pending());
    let r = RwLockWriteGuard::downgrade(w);
    assert!(reader.drive().is_some());
    assert!(
        writer.drive().is_none(),
        "writer got in while readers hold the lock"
    );
    drop(r);
    drop(reader);
    assert!(writer.drive().is_some());
    drop(writer);
    assert_free(&lock);
}

#[cfg(feature = "std")]
#[test]
fn blocking_twins_and_upgrade_blocking() {
    let lock = Arc::new(RwLock::new(0));
    let u = lock.upgradable_read_blocking();
    let reader = lock.read_blocking();
    let l2 = lock.clone();
    let t = thread::spawn(move || {
        let u = l2.upgradable_read_blocking();
        *RwLockUpgradableReadGuard::upgrade_blocking(u) += 1;
    });
    let mut w = RwLockUpgradableReadGuard::upgrade_blocking({
        drop(reader);
        u
    });
    *w += 10;
    drop(w);
    t.join().unwrap();
    assert_eq!(*lock.write_blocking(), 11);
    assert_free(&lock);
}

#[cfg(feature = "std")]
#[test]
fn timeouts_leave_nothing_behind() {
    let lock = RwLock::new(());
    let t = Duration::from_millis(20);
    let w = lock.write_blocking();
    assert!(lock.read_blocking_timeout(t).is_none());
    assert!(lock.write_blocking_timeout(t).is_none());
    assert!(lock.upgradable_read_blocking_timeout(t).is_none());
    drop(w);
    assert_free(&lock);

    // A writer that times out waiting for readers must withdraw its announcement.
    let r = lock.read_blocking();
    assert!(lock.write_blocking_timeout(t).is_none());
    assert!(
        lock.try_read().is_some(),
        "timed-out writer still holds readers off"
    );
    let u = lock.upgradable_read_blocking_timeout(t).unwrap();
    drop((r, u));
    assert_free(&lock);
    assert!(lock.read_blocking_timeout(t).is_some());
    assert!(lock.write_blocking_timeout(t).is_some());
}

#[cfg(feature = "std")]
#[test]
fn timed_out_reader_wakes_nobody_wrongly_and_writer_proceeds() {
    let lock = Arc::new(RwLock::new(0));
    let w = lock.write_blocking();
    let l2 = lock.clone();
    let t = thread::spawn(move || {
        l2.read_blocking_timeout(Duration::from_millis(30))
            .is_none()
    });
    assert!(t.join().unwrap());
    drop(w);
    assert_free(&lock);
}

type Fut<'a> = LocalBoxFuture<'a, ()>;

/// What holds the lock while the future under test waits.
#[derive(Clone, Copy, Debug)]
enum Blocker {
    Reader,
    Writer,
}

/// Builds the future under test; it may take guards it needs from the lock right away.
type Make = for<'a> fn(&'a Arc<RwLock<u32>>) -> Fut<'a>;

fn kinds() -> Vec<(&'static str, Make, Blocker)> {
    vec![
        (
            "read",
            |l| l.read().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "read_owned",
            |l| l.read_owned().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "write/w",
            |l| l.write().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "write/r",
            |l| l.write().map(drop).boxed_local(),
            Blocker::Reader,
        ),
        (
            "write_owned/w",
            |l| l.write_owned().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "write_owned/r",
            |l| l.write_owned().map(drop).boxed_local(),
            Blocker::Reader,
        ),
        (
            "upgradable",
            |l| l.upgradable_read().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "upgradable_owned",
            |l| l.upgradable_read_owned().map(drop).boxed_local(),
            Blocker::Writer,
        ),
        (
            "upgrade",
            |l| {
                let u = l.try_upgradable_read().unwrap();
                RwLockUpgradableReadGuard::upgrade(u)
                    .map(drop)
                    .boxed_local()
            },
            Blocker::Reader,
        ),
        (
            "upgrade_owned",
            |l| {
                let u = l.try_upgradable_read_owned().unwrap();
                OwnedRwLockUpgradableReadGuard::upgrade(u)
                    .map(drop)
                    .boxed_local()
            },
            Blocker::Reader,
        ),
    ]
}

/// For every future kind: poll it `k` times while contended (optionally releasing the blocker
/// first, so it holds an unconsumed wake-up or a granted lock), drop it, and check that the
/// next waiters are woken and get the lock, and that the lock ends up fully free.
#[test]
fn cancellation_sweep() {
    for (name, make, blocker) in kinds() {
        for k in 0..=3 {
            for release_first in [false, true] {
                for next_is_reader in [false, true] {
                    let ctx = format!(
                        "{name} k={k} release_first={release_first} reader={next_is_reader}"
                    );
                    let lock = Arc::new(RwLock::new(0));
                    let mut held_r = None;
                    let mut held_w = None;
                    match blocker {
                        Blocker::Reader => held_r = Some(lock.try_read().unwrap()),
                        Blocker::Writer => held_w = Some(lock.try_write().unwrap()),
                    }
                    let mut fut = Probe::new(make(&lock));
                    let mut finished = false;
                    for _ in 0..k {
                        if fut.poll().is_ready() {
                            finished = true;
                            break;
                        }
                    }
                    let mut next: Probe<'_, ()> = if next_is_reader {
                        Probe::new(lock.read().map(drop))
                    } else {
                        Probe::new(lock.write().map(drop))
                    };
                    let mut next_done = next.drive().is_some();
                    if release_first {
                        drop(held_r.take());
                        drop(held_w.take());
                    }
                    drop(fut);
                    drop(held_r.take());
                    drop(held_w.take());
                    if !next_done {
                        next_done = next.drive().is_some();
                    }
                    assert!(
                        next_done,
                        "{ctx}: next waiter not woken (finished={finished})"
                    );
                    drop(next);
                    assert!(!lock.is_write_locked(), "{ctx}: announcement left");
                    assert_eq!(lock.reader_count(), 0, "{ctx}: reader left");
                    assert!(lock.try_write().is_some(), "{ctx}: lock not free");
                    assert!(lock.try_upgradable_read().is_some(), "{ctx}");
                }
            }
        }
    }
}

/// Several queued readers and one is dropped after being admitted: the others still get in and
/// a later writer is not blocked by the dropped one.
#[test]
fn admitted_reader_dropped_unpolled_releases_its_lock() {
    let lock = RwLock::new(0);
    let w = lock.try_write().unwrap();
    let mut a = Probe::new(lock.read());
    let mut b = Probe::new(lock.read());
    assert!(a.poll().is_pending());
    assert!(b.poll().is_pending());
    drop(w);
    assert_eq!(
        lock.reader_count(),
        2,
        "queued readers are admitted together"
    );
    drop(a);
    assert_eq!(lock.reader_count(), 1);
    let guard = b.drive().unwrap();
    assert!(lock.try_write().is_none());
    drop(guard);
    drop(b);
    assert_free(&lock);
}

/// Fairness, writer side: once a writer waits, new readers queue behind it, so a stream of
/// readers cannot hold it off.
#[test]
fn waiting_writer_is_not_starved_by_readers() {
    let lock = RwLock::new(0);
    let first = lock.try_read().unwrap();
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    let mut queued = Vec::new();
    for _ in 0..100 {
        assert!(
            lock.try_read().is_none(),
            "a reader overtook the waiting writer"
        );
        let mut r = Probe::new(lock.read());
        assert!(r.poll().is_pending());
        queued.push(r);
    }
    drop(first);
    assert!(writer.woken());
    let mut w = writer
        .drive()
        .expect("writer gets the lock after the readers inside");
    *w += 1;
    assert!(queued.iter().all(|r| !r.woken()));
    drop(w);
    for r in &mut queued {
        assert_eq!(*r.drive().expect("queued reader admitted"), 1);
    }
}

#[cfg(feature = "std")]
/// Same bound with threads, on a busy machine: readers take and release the lock in a loop
/// while a thread beside them burns a core. Once the writer has announced itself, which it
/// does on its first try, only the readers already inside finish before it: no read section
/// that sees the announcement (`is_write_locked`) can start after it, so each write overlaps
/// at most one section per reader thread. (Regression: a blocking writer retried before it
/// announced itself, and under load readers streamed past it through more than 10^6 reads.)
#[test]
fn waiting_writer_gets_in_under_a_stream_of_reader_threads() {
    const READERS: usize = 3;
    let lock = Arc::new(RwLock::new(()));
    let reads = Arc::new(AtomicUsize::new(0));
    let overlapping = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let hog = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut x = 0u64;
            while stop.load(Ordering::Relaxed) == 0 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        })
    };
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (lock, reads, overlapping, stop) = (
                lock.clone(),
                reads.clone(),
                overlapping.clone(),
                stop.clone(),
            );
            thread::spawn(move || {
                while stop.load(Ordering::Relaxed) == 0 {
                    let g = lock.read_blocking();
                    if lock.is_write_locked() {
                        overlapping.fetch_add(1, Ordering::SeqCst);
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                    drop(g);
                }
            })
        })
        .collect();
    while reads.load(Ordering::Relaxed) < 100 {
        thread::yield_now();
    }
    for _ in 0..20 {
        let before = reads.load(Ordering::Relaxed);
        let w = lock.write_blocking();
        // Every section that saw this write announced has ended: the write lock is ours.
        let overlap = overlapping.swap(0, Ordering::SeqCst);
        let during = reads.load(Ordering::Relaxed) - before;
        // Sections of readers that saw the previous write announced may be counted here too.
        assert!(
            overlap <= 2 * READERS,
            "{overlap} read sections ran while the writer was announced"
        );
        // Generous, and only a guard against starvation: before the writer announces
        // itself it may be preempted for a whole time slice while the readers keep going.
        assert!(during < 10_000_000, "writer waited through {during} reads");
        drop(w);
    }
    stop.store(1, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    hog.join().unwrap();
}

/// Fairness, reader side: readers queued behind a writer get in before a writer that arrives
/// later, round after round under a stream of writers.
#[test]
fn queued_readers_go_before_the_next_writer() {
    let lock = RwLock::new(0u32);
    let mut current = Probe::new(lock.write());
    let mut current_guard = current.drive().unwrap();
    for round in 1..=20 {
        *current_guard = round;
        let mut readers: Vec<_> = (0..3).map(|_| Probe::new(lock.read())).collect();
        for r in &mut readers {
            assert!(r.poll().is_pending());
        }
        let mut next = Probe::new(lock.write());
        assert!(next.poll().is_pending());
        drop(current_guard);
        // The next writer may run first, but it must not get the lock.
        assert!(
            next.drive().is_none(),
            "round {round}: writer overtook queued readers"
        );
        let guards: Vec<_> = readers
            .iter_mut()
            .map(|r| r.drive().expect("queued reader admitted"))
            .collect();
        assert!(guards.iter().all(|g| **g == round));
        drop(guards);
        drop(readers);
        current_guard = next.drive().expect("writer gets in after the readers");
        current = next;
    }
    drop(current_guard);
    drop(current);
    assert_free(&lock);
}

/// Checks exclusion: `state` is the number of readers inside, or -1 with a writer.
fn enter_read(state: &AtomicIsize) {
    let prev = state.fetch_add(1, Ordering::SeqCst);
    assert!(prev >= 0, "reader entered while a writer is inside");
}
fn leave_read(state: &AtomicIsize) {
    state.fetch_sub(1, Ordering::SeqCst);
}
fn enter_write(state: &AtomicIsize) {
    assert_eq!(
        state.compare_exchange(0, -1, Ordering::SeqCst, Ordering::SeqCst),
        Ok(0),
        "writer entered while someone is inside"
    );
}
fn leave_write(state: &AtomicIsize) {
    assert_eq!(state.swap(0, Ordering::SeqCst), -1);
}

async fn mixed_task(lock: Arc<RwLock<u64>>, state: Arc<AtomicIsize>, id: usize, rounds: usize) {
    for i in 0..rounds {
        match (id + i) % 4 {
            0 | 1 => {
                let _g = lock.read().await;
                enter_read(&state);
                futures::pending!();
                leave_read(&state);
            }
            2 => {
                let mut g = lock.write().await;
                enter_write(&state);
                *g += 1;
                futures::pending!();
                leave_write(&state);
            }
            _ => {
                let u = lock.upgradable_read().await;
                enter_read(&state);
                leave_read(&state);
                let mut g = RwLockUpgradableReadGuard::upgrade(u).await;
                enter_write(&state);
                *g += 1;
                leave_write(&state);
                let _r = RwLockWriteGuard::downgrade(g);
                enter_read(&state);
                leave_read(&state);
            }
        }
    }
}

#[cfg(feature = "std")]
fn thread_worker(lock: Arc<RwLock<u64>>, state: Arc<AtomicIsize>, id: usize, rounds: usize) {
    for i in 0..rounds {
        if (id + i) % 3 == 0 {
            let mut g = lock.write_blocking();
            enter_write(&state);
            *g += 1;
            leave_write(&state);
        } else {
            let _g = lock.read_blocking();
            enter_read(&state);
            thread::yield_now();
            leave_read(&state);
        }
    }
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn exclusion_tokio_multi_thread_and_threads() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let lock = Arc::new(RwLock::new(0u64));
    let state = Arc::new(AtomicIsize::new(0));
    let threads: Vec<_> = (0..3)
        .map(|id| {
            let (lock, state) = (lock.clone(), state.clone());
            thread::spawn(move || thread_worker(lock, state, id, 300))
        })
        .collect();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|id| tokio::spawn(yielding(mixed_task(lock.clone(), state.clone(), id, 200))))
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(state.load(Ordering::SeqCst), 0);
    assert_free(&lock);
}

#[cfg_attr(
    miri,
    ignore = "starts smol and async-std runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn smol_async_std_and_threads_share_one_lock() {
    let lock = Arc::new(RwLock::new(0u64));
    let state = Arc::new(AtomicIsize::new(0));
    let threads: Vec<_> = (0..2)
        .map(|id| {
            let (lock, state) = (lock.clone(), state.clone());
            thread::spawn(move || thread_worker(lock, state, id, 200))
        })
        .collect();
    let async_std_tasks: Vec<_> = (0..4)
        .map(|id| {
            async_std::task::spawn(yielding(mixed_task(lock.clone(), state.clone(), id, 100)))
        })
        .collect();
    smol::block_on(async {
        let smol_tasks: Vec<_> = (0..4)
            .map(|id| {
                smol::spawn(yielding(mixed_task(
                    lock.clone(),
                    state.clone(),
                    id + 1,
                    100,
                )))
            })
            .collect();
        for t in smol_tasks {
            t.await;
        }
        for t in async_std_tasks {
            t.await;
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(state.load(Ordering::SeqCst), 0);
    assert_free(&lock);
}

/// Runs `fut`, waking itself whenever it returns `Pending` without having registered a waker
/// (as `futures::pending!` does), so it works as a yield point on any executor.
fn yielding<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let mut fut = Box::pin(fut);
    std::future::poll_fn(move |cx| {
        let res = Pin::new(&mut fut).poll(cx);
        if res.is_pending() {
            cx.waker().wake_by_ref();
        }
        res
    })
}

/// Regression: a reader let in by one write release must keep its place when a second
/// writer announces itself and then gives up while another reader queues behind it. With a
/// one-bit phase the second release flipped the phase back, the first reader believed it was
/// still queued, and its bookkeeping corrupted the reader count (found by the churn test).
/// Readers are counted as holders when they are let in; the next writer waits for them to
/// run before it announces itself, then for them to leave.
#[test]
fn reader_let_in_before_a_cancelled_write_keeps_its_place() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let mut first = Probe::new(lock.read());
    assert!(first.poll().is_pending());
    drop(writer); // lets `first` in
    assert!(first.woken());
    assert_eq!(lock.reader_count(), 1, "let in: a holder before it runs");
    let mut second_writer = Probe::new(lock.write());
    assert!(
        second_writer.poll().is_pending(),
        "`first` holds a read lock"
    );
    drop(
        lock.try_read()
            .expect("the writer announced before `first` ran"),
    );
    let g1 = match first.poll() {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the reader that was let in did not get its lock"),
    };
    assert!(
        second_writer.woken(),
        "`first` ran: the writer announces now"
    );
    assert!(second_writer.poll().is_pending(), "`first` is still inside");
    assert!(lock.try_read().is_none(), "the announced writer goes first");
    let mut second = Probe::new(lock.read());
    assert!(
        second.poll().is_pending(),
        "queued behind the announced writer"
    );
    drop(second_writer); // gives up, letting `second` in
    let g2 = match second.poll() {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the second reader was not let in"),
    };
    assert_eq!(lock.reader_count(), 2);
    drop((g1, g2));
    assert_eq!(lock.reader_count(), 0);
    assert!(lock.try_write().is_some());
}

/// A reader that was let in but dropped before it entered gives its place up exactly once,
/// and a writer waiting for it to enter is woken.
#[test]
fn let_in_reader_dropped_before_entering_wakes_the_waiting_writer() {
    let lock = RwLock::new(0);
    let writer = lock.try_write().unwrap();
    let mut first = Probe::new(lock.read());
    assert!(first.poll().is_pending());
    drop(writer);
    let mut second_writer = Probe::new(lock.write());
    assert!(second_writer.poll().is_pending());
    drop(first);
    assert!(second_writer.woken(), "the writer waits for nobody now");
    let w = match second_writer.poll() {
        Poll::Ready(w) => w,
        Poll::Pending => panic!("the writer did not get the lock"),
    };
    assert_eq!(lock.reader_count(), 0);
    drop(w);
    assert!(lock.try_write().is_some());
}

#[cfg(feature = "std")]
/// A timed-out upgrade keeps the upgradable lock, lets in the readers that queued behind it,
/// and a later upgrade still works.
#[test]
fn upgrade_blocking_timeout_gives_the_upgradable_guard_back() {
    let lock = Arc::new(RwLock::new(0));
    let guard = lock.upgradable_read_blocking();
    let reader = lock.read_blocking();
    let (tx, rx) = std::sync::mpsc::channel();
    let queued = {
        let lock = lock.clone();
        thread::spawn(move || {
            // Queues behind the announced upgrade, then gets in when it is withdrawn.
            tx.send(()).unwrap();
            *lock.read_blocking()
        })
    };
    rx.recv().unwrap();
    let guard =
        RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_millis(50))
            .expect_err("a reader is inside");
    assert_eq!(queued.join().unwrap(), 0);
    assert!(
        lock.try_upgradable_read().is_none(),
        "still held by `guard`"
    );
    drop(reader);
    let mut write =
        RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_secs(5))
            .expect("no reader is inside");
    *write += 1;
    drop(write);
    assert_eq!(*lock.read_blocking(), 1);
    assert!(lock.try_write().is_some());
}

#[cfg(feature = "std")]
/// Regression: a writer that found readers let in by the previous write (but not yet
/// running) only marked that it wanted the lock, and new readers kept entering past it; under
/// load, the released readers were not scheduled and the stream never ended. A writer now
/// blocks new readers from its first try, from a task or a thread.
/// The next writer first waits for the readers let in by the last write to run; until then
/// new readers still enter. Once they have run it announces itself, and new readers queue.
#[test]
fn writer_blocks_new_readers_once_the_let_in_readers_ran() {
    let lock = Arc::new(RwLock::new(0));
    let first = lock.try_write().unwrap();
    let mut let_in = Probe::new(lock.read());
    assert!(let_in.poll().is_pending());
    drop(first); // lets the reader in; it has not run yet
    let mut writer = Probe::new(lock.write());
    assert!(
        writer.poll().is_pending(),
        "the let-in reader holds a read lock"
    );
    assert!(
        !lock.is_write_locked(),
        "the writer announced before the let-in reader ran"
    );
    let early = lock
        .try_read()
        .expect("a new reader was kept out before the writer announced");
    let guard = let_in.drive().expect("let in");
    assert!(
        writer.woken(),
        "the let-in reader ran and did not wake the writer"
    );
    assert!(writer.poll().is_pending(), "two readers are inside");
    assert!(lock.is_write_locked(), "the writer did not announce itself");
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook the announced writer"
    );
    drop(early);
    assert!(!writer.woken(), "woken with a reader still inside");
    drop(guard);
    assert!(
        writer.woken(),
        "the last reader out did not wake the writer"
    );
    *writer.drive().expect("the writer gets in") += 1;
    drop(writer);

    // A writer withdrawn while it waits for let-in readers leaves nothing behind.
    let second = lock.try_write().unwrap();
    let mut let_in = Probe::new(lock.read());
    assert!(let_in.poll().is_pending());
    drop(second);
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    drop(writer);
    drop(let_in.drive().expect("let in"));
    assert_free(&lock);

    // A blocked thread as the writer: new readers enter until the let-in reader runs.
    let third = lock.try_write().unwrap();
    let mut let_in = Probe::new(lock.read());
    assert!(let_in.poll().is_pending());
    drop(third);
    let blocked = {
        let lock = lock.clone();
        thread::spawn(move || *lock.write_blocking() += 1)
    };
    thread::sleep(Duration::from_millis(20));
    assert!(!lock.is_write_locked());
    drop(lock.try_read().expect("a new reader was kept out"));
    let guard = let_in.drive().expect("let in");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !lock.is_write_locked() {
        assert!(
            std::time::Instant::now() < deadline,
            "the blocked writer never announced itself"
        );
        thread::yield_now();
    }
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook the blocked writer"
    );
    drop(guard);
    blocked.join().unwrap();
    assert_eq!(*lock.try_read().unwrap(), 2);

    // With no let-in readers, a writer announces on its first try.
    let reader = lock.try_read().unwrap();
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    assert!(lock.is_write_locked());
    assert!(lock.try_read().is_none());
    drop(reader);
    drop(writer.drive().expect("the writer gets in"));
    assert_free(&lock);
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_forms_wait_for_a_holder_on_another_thread() {
    let lock = Arc::new(RwLock::new(0));

    // A read waits for the writer.
    let w = lock.try_write_owned().unwrap();
    let r = blocked_until_released(
        || lock.read_owned_blocking(),
        move || {
            let mut w = w;
            *w = 1;
        },
    );
    assert_eq!(*r, 1, "the reader sees what the writer left");
    assert!(Arc::ptr_eq(OwnedRwLockReadGuard::source(&r), &lock));
    assert_eq!(lock.reader_count(), 1);
    assert!(lock.try_write().is_none());

    // A write waits for the reader.
    let mut w = blocked_until_released(|| lock.write_owned_blocking(), move || drop(r));
    assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::source(&w), &lock));
    assert_eq!(lock.reader_count(), 0);
    assert!(lock.try_read().is_none());
    *w = 2;

    // An upgradable read waits for the writer.
    let u = blocked_until_released(|| lock.upgradable_read_owned_blocking(), move || drop(w));
    assert_eq!(*u, 2);
    assert!(Arc::ptr_eq(
        OwnedRwLockUpgradableReadGuard::source(&u),
        &lock
    ));
    assert!(lock.try_upgradable_read().is_none());
    assert!(
        lock.try_read().is_some(),
        "readers share with the upgradable guard"
    );
    let w = OwnedRwLockUpgradableReadGuard::try_upgrade(u).unwrap();
    drop(w);
    assert_free(&lock);
    assert_eq!(Arc::strong_count(&lock), 1, "no guard's `Arc` left behind");
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_timeouts_time_out_while_held_and_get_released_locks() {
    let lock = Arc::new(RwLock::new(0));
    let t = Duration::from_millis(10);

    let w = lock.try_write().unwrap();
    assert!(lock.read_owned_blocking_timeout(t).is_none());
    assert!(lock.write_owned_blocking_timeout(t).is_none());
    assert!(lock.upgradable_read_owned_blocking_timeout(t).is_none());
    assert_eq!(Arc::strong_count(&lock), 1, "timed-out waits keep no `Arc`");
    drop(w);
    assert_free(&lock);

    // A writer that times out waiting for a reader withdraws its announcement.
    let r = lock.try_read().unwrap();
    assert!(lock.write_owned_blocking_timeout(t).is_none());
    assert!(
        lock.try_read().is_some(),
        "timed-out writer still holds readers off"
    );
    let u = lock.upgradable_read_owned_blocking_timeout(t).unwrap();
    assert!(lock.upgradable_read_owned_blocking_timeout(t).is_none());
    drop((r, u));
    assert_free(&lock);

    // Locks released by another thread are obtained well within the deadline.
    let long = Duration::from_secs(60);
    let w = lock.try_write_owned().unwrap();
    let r = blocked_until_released(|| lock.read_owned_blocking_timeout(long), move || drop(w))
        .expect("the released lock was read");
    assert_eq!(lock.reader_count(), 1);
    let w = blocked_until_released(|| lock.write_owned_blocking_timeout(long), move || drop(r))
        .expect("the released lock was written");
    assert!(lock.try_read().is_none());
    let u = blocked_until_released(
        || lock.upgradable_read_owned_blocking_timeout(long),
        move || drop(w),
    )
    .expect("the released lock was taken upgradable");
    assert!(lock.try_upgradable_read().is_none());
    drop(u);
    assert_free(&lock);
    assert_eq!(Arc::strong_count(&lock), 1);
}

/// Checks that `guard` (any read guard of `lock`, mapped or not) holds a read lock, and that
/// dropping it wakes a queued writer, which then gets the lock.
fn read_held_until_dropped<T, G>(lock: &RwLock<T>, guard: G) {
    assert_eq!(lock.reader_count(), 1, "the guard holds a read lock");
    assert!(lock.try_read().is_some(), "readers share it");
    assert!(lock.try_write().is_none());
    let w = pending_until_released(Box::pin(lock.write()), move || drop(guard));
    assert!(lock.try_read().is_none(), "the writer holds the lock");
    drop(w);
    assert_free(lock);
}

/// Checks that `guard` (any write guard of `lock`, mapped or not) holds the write lock, and
/// that dropping it wakes a queued reader, which then gets the lock. Returns what it reads.
fn write_held_until_dropped<T: Clone, G>(lock: &RwLock<T>, guard: G) -> T {
    assert!(lock.is_write_locked(), "the guard holds the write lock");
    assert!(lock.try_read().is_none());
    assert!(lock.try_upgradable_read().is_none());
    let r = pending_until_released(Box::pin(lock.read()), move || drop(guard));
    let seen = (*r).clone();
    assert_eq!(lock.reader_count(), 1);
    drop(r);
    assert_free(lock);
    seen
}

#[test]
fn read_guard_map_and_try_map_hold_the_read_lock_until_dropped() {
    let lock = RwLock::new((1u32, Some(2u32)));

    let first: MappedRwLockReadGuard<'_, u32> =
        RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.0);
    assert_eq!(*first, 1);
    read_held_until_dropped(&lock, first);

    let g = RwLockReadGuard::try_map(lock.try_read().unwrap(), |v| {
        v.1.as_ref().filter(|&&x| x > 10)
    })
    .unwrap_err();
    assert_eq!(*g, (1, Some(2)));
    read_held_until_dropped(&lock, g);

    let second = RwLockReadGuard::try_map(lock.try_read().unwrap(), |v| v.1.as_ref()).unwrap();
    assert_eq!(*second, 2);
    read_held_until_dropped(&lock, second);
}

#[test]
fn mapped_read_guard_map_and_try_map_hold_the_read_lock_until_dropped() {
    let lock = RwLock::new(((1u32, 2u32), Some(3u32)));

    let pair = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.0);
    let second = MappedRwLockReadGuard::map(pair, |p| &p.1);
    assert_eq!(*second, 2);
    read_held_until_dropped(&lock, second);

    let opt = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.1);
    let opt = MappedRwLockReadGuard::try_map(opt, |o| o.as_ref().filter(|&&x| x > 10)).unwrap_err();
    assert_eq!(*opt, Some(3));
    assert_eq!(
        lock.reader_count(),
        1,
        "the returned mapped guard holds the lock"
    );
    let inner = MappedRwLockReadGuard::try_map(opt, Option::as_ref).unwrap();
    assert_eq!(*inner, 3);
    read_held_until_dropped(&lock, inner);
}

#[test]
fn write_guard_map_and_try_map_hold_the_write_lock_until_dropped() {
    let lock = RwLock::new((1u32, None::<u32>));

    let mut first: MappedRwLockWriteGuard<'_, u32> =
        RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.0);
    *first = 10;
    assert_eq!(write_held_until_dropped(&lock, first), (10, None));

    let mut g = RwLockWriteGuard::try_map(lock.try_write().unwrap(), |v| v.1.as_mut()).unwrap_err();
    assert!(std::ptr::eq(RwLockWriteGuard::source(&g), &lock));
    assert!(
        lock.try_read().is_none(),
        "the returned guard holds the write lock"
    );
    g.1 = Some(5);
    assert_eq!(write_held_until_dropped(&lock, g), (10, Some(5)));

    let mut inner = RwLockWriteGuard::try_map(lock.try_write().unwrap(), |v| v.1.as_mut()).unwrap();
    *inner += 1;
    assert_eq!(write_held_until_dropped(&lock, inner), (10, Some(6)));
}

#[test]
fn mapped_write_guard_map_and_try_map_hold_the_write_lock_until_dropped() {
    let lock = RwLock::new(((1u32, 2u32), None::<u32>));

    let pair = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.0);
    let mut second = MappedRwLockWriteGuard::map(pair, |p| &mut p.1);
    *second = 20;
    assert_eq!(write_held_until_dropped(&lock, second), ((1, 20), None));

    let opt = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.1);
    let mut opt = MappedRwLockWriteGuard::try_map(opt, Option::as_mut).unwrap_err();
    assert!(
        lock.try_read().is_none(),
        "the returned mapped guard holds the write lock"
    );
    *opt = Some(7);
    let mut inner = MappedRwLockWriteGuard::try_map(opt, Option::as_mut).unwrap();
    *inner += 1;
    assert_eq!(write_held_until_dropped(&lock, inner), ((1, 20), Some(8)));
}

#[test]
fn owned_read_guard_map_and_try_map_hold_the_read_lock_until_dropped() {
    let lock = Arc::new(RwLock::new(((1u32, 2u32), Some(3u32))));

    let pair: OwnedMappedRwLockReadGuard<_, (u32, u32)> =
        OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.0);
    assert_eq!(
        Arc::strong_count(&lock),
        2,
        "the mapped guard keeps the lock alive"
    );
    let first = OwnedMappedRwLockReadGuard::map(pair, |p| &p.0);
    assert_eq!(*first, 1);
    read_held_until_dropped(&lock, first);
    assert_eq!(Arc::strong_count(&lock), 1);

    let g = OwnedRwLockReadGuard::try_map(lock.try_read_owned().unwrap(), |v| {
        v.1.as_ref().filter(|&&x| x > 10)
    })
    .unwrap_err();
    assert!(Arc::ptr_eq(OwnedRwLockReadGuard::source(&g), &lock));
    read_held_until_dropped(&lock, g);

    let opt =
        OwnedRwLockReadGuard::try_map(lock.try_read_owned().unwrap(), |v| Some(&v.1)).unwrap();
    let opt =
        OwnedMappedRwLockReadGuard::try_map(opt, |o| o.as_ref().filter(|&&x| x > 10)).unwrap_err();
    assert_eq!(
        lock.reader_count(),
        1,
        "the returned mapped guard holds the lock"
    );
    let inner = OwnedMappedRwLockReadGuard::try_map(opt, Option::as_ref).unwrap();
    assert_eq!(*inner, 3);
    read_held_until_dropped(&lock, inner);
    assert_eq!(Arc::strong_count(&lock), 1, "no guard's `Arc` left behind");
}

#[test]
fn owned_write_guard_map_and_try_map_hold_the_write_lock_until_dropped() {
    let lock = Arc::new(RwLock::new(((1u32, 2u32), None::<u32>)));

    let pair: OwnedMappedRwLockWriteGuard<_, (u32, u32)> =
        OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.0);
    assert_eq!(
        Arc::strong_count(&lock),
        2,
        "the mapped guard keeps the lock alive"
    );
    let mut first = OwnedMappedRwLockWriteGuard::map(pair, |p| &mut p.0);
    *first = 10;
    assert_eq!(write_held_until_dropped(&lock, first), ((10, 2), None));
    assert_eq!(Arc::strong_count(&lock), 1);

    let mut g = OwnedRwLockWriteGuard::try_map(lock.try_write_owned().unwrap(), |v| v.1.as_mut())
        .unwrap_err();
    assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::source(&g), &lock));
    g.1 = Some(4);
    assert_eq!(write_held_until_dropped(&lock, g), ((10, 2), Some(4)));

    let opt = OwnedRwLockWriteGuard::try_map(lock.try_write_owned().unwrap(), |v| Some(&mut v.1))
        .unwrap();
    let mut opt =
        OwnedMappedRwLockWriteGuard::try_map(opt, |o| o.as_mut().filter(|x| **x > 10)).unwrap_err();
    assert!(
        lock.try_read().is_none(),
        "the returned mapped guard holds the write lock"
    );
    *opt = Some(40);
    let mut inner = OwnedMappedRwLockWriteGuard::try_map(opt, Option::as_mut).unwrap();
    *inner += 2;
    assert_eq!(write_held_until_dropped(&lock, inner), ((10, 2), Some(42)));
    assert_eq!(Arc::strong_count(&lock), 1, "no guard's `Arc` left behind");
}

#[test]
fn owned_mapped_guards_are_sent_to_another_thread_and_dropped_there() {
    let lock = Arc::new(RwLock::new((1u32, vec![1u32, 2, 3])));

    // A mapped write guard: a queued reader is woken by its drop on the other thread.
    let list = OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.1);
    let last = OwnedMappedRwLockWriteGuard::try_map(list, |l| l.last_mut()).unwrap();
    let c = Counter::new();
    let mut reader = Box::pin(lock.read());
    assert_pending!(c, reader);
    thread::spawn(move || {
        let mut last = last;
        *last = 30;
    })
    .join()
    .unwrap();
    assert!(
        c.count() > 0,
        "the drop on the other thread woke the reader"
    );
    let r = assert_ready!(c, reader);
    assert_eq!(r.1, [1, 2, 30]);
    drop(r);

    // A mapped read guard: a queued writer is woken by its drop on the other thread.
    let list = OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.1);
    let first = OwnedMappedRwLockReadGuard::try_map(list, |l| l.first()).unwrap();
    let c = Counter::new();
    let mut writer = Box::pin(lock.write());
    assert_pending!(c, writer);
    let seen = thread::spawn(move || *first).join().unwrap();
    assert_eq!(seen, 1);
    assert!(
        c.count() > 0,
        "the drop on the other thread woke the writer"
    );
    drop(assert_ready!(c, writer));
    assert_free(&lock);
    assert_eq!(Arc::strong_count(&lock), 1);
}

/// `Debug` shows the value while no writer holds the lock, and `<locked>` while one does, in
/// the shape tokio's, async-lock's and parking_lot's locks use.
#[cfg(not(feature = "diagnostics"))]
#[test]
fn debug_shows_the_value_or_locked() {
    let lock = RwLock::new(5);
    assert_eq!(format!("{lock:?}"), "RwLock { data: 5 }");
    let reader = lock.try_read().unwrap();
    assert_eq!(format!("{lock:?}"), "RwLock { data: 5 }");
    drop(reader);
    let writer = lock.try_write().unwrap();
    assert_eq!(format!("{lock:?}"), "RwLock { data: <locked> }");
    drop(writer);
    assert_eq!(lock.reader_count(), 0);
}

/// Regression: while a woken writer has not run yet, a `try_write` that takes and drops the
/// write lock wakes nobody, so the writer queued behind it cannot get ahead of it.
#[test]
fn barging_writes_do_not_wake_the_writer_behind_a_woken_one() {
    let lock = RwLock::new(Vec::new());
    let holder = lock.try_write().unwrap();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut w1 = Box::pin(lock.write());
    let mut w2 = Box::pin(lock.write());
    assert_pending!(c1, w1);
    assert_pending!(c2, w2);
    drop(holder); // wakes W1
    for _ in 0..3 {
        drop(lock.try_write().expect("barging while W1 has not run"));
    }
    assert_eq!((c1.count(), c2.count()), (1, 0), "only W1 was woken");
    assert_pending!(c2, w2);
    assert_ready!(c1, w1).push(1);
    assert_eq!(c2.count(), 1, "W1's unlock wakes W2");
    assert_ready!(c2, w2).push(2);
    assert_eq!(*lock.try_read().unwrap(), [1, 2]);
}

/// `RwLock` fairness: "When a writer releases the lock, every reader that queued behind it is
/// let in at once, before the next writer: they hold their read locks from that moment (even
/// before they are scheduled)." While the write unlock is between two batches, a reader that
/// queued behind the writer is still Pending when polled, after the first reader got in and
/// after a brand-new `try_read` got in ahead of it.
#[test]
fn every_reader_queued_behind_a_writer_is_in_once_the_write_is_released() {
    static LOCK: unisync::RwLock<u32> = unisync::RwLock::new(0);
    let stall = common::Stall::new();
    let guard = LOCK.try_write().unwrap();
    let mut reads: Vec<_> = (0..40).map(|_| Box::pin(LOCK.read())).collect();
    assert!(common::poll_with(&mut reads[0], &stall.waker()).is_pending());
    for r in &mut reads[1..] {
        assert!(common::poll_once(r).is_pending());
    }
    let unlock = std::thread::spawn(move || drop(guard));
    stall.wait_until_entered();
    let first = match common::poll_once(&mut reads[0]) {
        Poll::Ready(g) => g,
        Poll::Pending => panic!("the first reader was not let in"),
    };
    let newcomer = LOCK.try_read().expect("the write was released");
    let last_ready = common::poll_once(&mut reads[39]).is_ready();
    stall.go_on();
    unlock.join().unwrap();
    drop((first, newcomer));
    assert!(
        last_ready,
        "a reader queued behind the writer was Pending after the write was released (and after \
         a newcomer got in)"
    );
}

/// A waker that does nothing when woken and runs a hook when its last clone is dropped: it
/// stands for a thread that acts at that moment (a preempted poll).
struct DropHook(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::task::Wake for DropHook {
    fn wake(self: Arc<Self>) {}
}

impl Drop for DropHook {
    fn drop(&mut self) {
        if let Some(f) = self.0.lock().unwrap().take() {
            f();
        }
    }
}

#[cfg(feature = "std")]
/// "When a writer releases the lock, every reader that queued behind it is let in at once,
/// before the next writer": also a queued reader polled while the unlock is still letting in
/// earlier batches, which enters by itself. It takes its read lock before it leaves the queue:
/// the next writer, coming meanwhile (here while the reader's old waker is dropped), does not
/// get in first.
#[test]
fn reader_polled_between_let_in_batches_is_not_overtaken_by_the_next_writer() {
    let lock = Arc::new(RwLock::new(()));
    let w1 = lock.try_write_owned().unwrap();
    let stall = common::Stall::new();
    let mut first = Box::pin(lock.read_owned());
    assert!(common::poll_with(&mut first, &stall.waker()).is_pending());
    let mut rest: Vec<_> = (0..31).map(|_| Box::pin(lock.read_owned())).collect();
    for r in &mut rest {
        assert!(common::poll_once(r).is_pending());
    }
    let batch = Arc::new(std::sync::Mutex::new(Some((first, rest))));
    let (wrote_tx, wrote_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let wrote_first = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut late = Box::pin(lock.read_owned());
    {
        let (stall, batch, wrote_first) = (stall.clone(), batch.clone(), wrote_first.clone());
        let hook = move || {
            // The writer's release goes on, and the next writer comes.
            stall.go_on();
            // The first batch runs (here: gives up its read locks).
            drop(batch.lock().unwrap().take());
            if wrote_rx
                .recv_timeout(std::time::Duration::from_secs(2))
                .is_ok()
            {
                wrote_first.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        assert!(common::poll_with(
            &mut late,
            &std::task::Waker::from(Arc::new(DropHook(std::sync::Mutex::new(Some(Box::new(
                hook
            ))))))
        )
        .is_pending());
    }
    let writer = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            drop(w1);
            let w2 = lock.write_blocking();
            let _ = wrote_tx.send(());
            let _ = done_rx.recv_timeout(std::time::Duration::from_secs(10));
            drop(w2);
        })
    };
    stall.wait_until_entered();
    let polled = common::poll_once(&mut late);
    let _ = done_tx.send(());
    drop(polled);
    drop(late);
    drop(batch.lock().unwrap().take());
    writer.join().unwrap();
    assert!(
        !wrote_first.load(std::sync::atomic::Ordering::SeqCst),
        "the next writer got the lock before a reader queued behind the previous one"
    );
}

#[test]
fn downgrade_map_runs_under_the_write_lock_then_lets_queued_readers_in_before_a_writer() {
    let lock = RwLock::new((1, String::from("a")));
    let mut w = lock.try_write().unwrap();
    w.1.push('b');
    let mut reader = Probe::new(lock.read());
    let mut writer = Probe::new(lock.write());
    assert!(reader.poll().is_pending());
    assert!(writer.poll().is_pending());
    let name = RwLockWriteGuard::downgrade_map(w, |v| {
        assert!(lock.try_read().is_none(), "f runs under the write lock");
        &v.1
    });
    assert_eq!(*name, "ab");
    let r = reader
        .drive()
        .expect("the queued reader gets in with the downgrade");
    assert_eq!(r.1, "ab");
    assert_eq!(*name, "ab", "both read guards read the value");
    assert!(writer.drive().is_none(), "a writer got in between");
    drop(r);
    drop(reader);
    assert!(
        writer.drive().is_none(),
        "the mapped guard still holds a read lock"
    );
    drop(name);
    assert!(
        writer.drive().is_some(),
        "the writer gets in once it is dropped"
    );
    drop(writer);
    assert_free(&lock);
}

#[test]
fn try_downgrade_map_keeps_the_write_lock_when_nothing_is_found() {
    let lock = RwLock::new(vec![1, 2]);
    let w = lock.try_write().unwrap();
    let mut reader = Probe::new(lock.read());
    assert!(reader.poll().is_pending());
    let w = RwLockWriteGuard::try_downgrade_map(w, |v| v.get(9));
    let mut w = w.unwrap_err();
    assert!(reader.drive().is_none(), "the write lock is still held");
    w.push(3);
    let third = RwLockWriteGuard::try_downgrade_map(w, |v| v.get(2)).unwrap();
    assert_eq!(*third, 3);
    assert_eq!(*reader.drive().expect("let in by the downgrade"), [1, 2, 3]);
    drop(reader);
    read_held_until_dropped(&lock, third);
}

#[test]
fn owned_downgrade_map_and_try_downgrade_map_hold_a_read_lock() {
    let lock = Arc::new(RwLock::new((1, 2)));
    let mut w = lock.clone().try_write_owned().unwrap();
    w.1 = 20;
    let second = OwnedRwLockWriteGuard::downgrade_map(w, |v| &v.1);
    assert_eq!(*second, 20);
    assert_eq!(
        Arc::strong_count(&lock),
        2,
        "the mapped guard keeps the lock"
    );
    read_held_until_dropped(&lock, second);

    let w = lock.clone().try_write_owned().unwrap();
    let w = OwnedRwLockWriteGuard::try_downgrade_map(w, |_| None::<&i32>).unwrap_err();
    assert!(lock.try_read().is_none(), "still the write lock");
    let first = OwnedRwLockWriteGuard::try_downgrade_map(w, |v| Some(&v.0)).unwrap();
    assert_eq!(*first, 1);
    read_held_until_dropped(&lock, first);
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn mapped_write_guards_downgrade_to_mapped_read_guards_of_the_same_part() {
    let lock = RwLock::new((1, 2));
    let mut second = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.1);
    *second = 20;
    let mut reader = Probe::new(lock.read());
    assert!(reader.poll().is_pending());
    let second: MappedRwLockReadGuard<'_, i32> = MappedRwLockWriteGuard::downgrade(second);
    assert_eq!(*second, 20);
    let other = reader.drive().expect("let in by the downgrade");
    assert_eq!(*other, (1, 20));
    assert_eq!(*second, 20, "both read guards read the value");
    drop(other);
    drop(reader);
    read_held_until_dropped(&lock, second);

    let lock = Arc::new(RwLock::new([1, 2]));
    let mut first =
        OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |a| &mut a[0]);
    *first = 10;
    let first: OwnedMappedRwLockReadGuard<[i32; 2], i32> =
        OwnedMappedRwLockWriteGuard::downgrade(first);
    assert_eq!(*first, 10);
    read_held_until_dropped(&lock, first);
    assert_eq!(*lock.try_read().unwrap(), [10, 2]);
}

#[test]
fn a_panic_in_downgrade_map_releases_the_write_lock() {
    let lock = Arc::new(RwLock::new(0));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        RwLockWriteGuard::downgrade_map(lock.try_write().unwrap(), |_| -> &i32 { panic!("f") })
    }));
    assert!(r.is_err());
    assert_free(&lock);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        RwLockWriteGuard::try_downgrade_map(lock.try_write().unwrap(), |_| -> Option<&i32> {
            panic!("f")
        })
    }));
    assert!(r.is_err());
    assert_free(&lock);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        OwnedRwLockWriteGuard::downgrade_map(lock.clone().try_write_owned().unwrap(), |_| -> &i32 {
            panic!("f")
        })
    }));
    assert!(r.is_err());
    assert_free(&lock);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        OwnedRwLockWriteGuard::try_downgrade_map(
            lock.clone().try_write_owned().unwrap(),
            |_| -> Option<&i32> { panic!("f") },
        )
    }));
    assert!(r.is_err());
    assert_free(&lock);
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn limited_reads_wait_for_room_first_in_first_out() {
    let lock = RwLock::with_max_readers(0, 1);
    let first = lock.try_read().unwrap();
    assert!(lock.try_read().is_none(), "no room");
    let mut second = Probe::new(lock.read());
    let mut third = Probe::new(lock.read());
    assert!(second.poll().is_pending());
    assert!(third.poll().is_pending());
    drop(first);
    assert!(
        lock.try_read().is_none(),
        "the room went to the queued reader"
    );
    let second_guard = second
        .drive()
        .expect("the first queued reader got the room");
    assert!(!third.woken(), "no room for the next one");
    assert!(third.drive().is_none());
    drop(second_guard);
    drop(second);
    assert!(third.drive().is_some());
    drop(third);
    assert_free(&lock);
}

#[test]
fn a_new_reader_queues_behind_readers_waiting_for_room() {
    let lock = RwLock::with_max_readers(0, 2);
    let a = lock.try_read().unwrap();
    let b = lock.try_read().unwrap();
    let mut waiting = Probe::new(lock.read());
    assert!(waiting.poll().is_pending());
    drop(a);
    // The room is the waiting reader's, whether it has run yet or not.
    assert!(lock.try_read().is_none());
    let mut late = Probe::new(lock.read());
    assert!(late.poll().is_pending());
    let got = waiting.drive().expect("the waiting reader got the room");
    assert!(late.drive().is_none(), "the late reader passed the limit");
    drop(got);
    drop(waiting);
    assert!(late.drive().is_some());
    drop((b, late));
    assert_free(&lock);
}

#[test]
fn a_limited_write_release_lets_in_only_as_many_readers_as_fit() {
    let lock = RwLock::with_max_readers(0, 2);
    let w = lock.try_write().unwrap();
    let mut readers: Vec<_> = (0..5).map(|_| Probe::new(lock.read())).collect();
    for r in &mut readers {
        assert!(r.poll().is_pending());
    }
    drop(w);
    let mut guards: Vec<_> = readers[..2]
        .iter_mut()
        .map(|r| r.drive().expect("let in by the write's release"))
        .collect();
    for r in &mut readers[2..] {
        assert!(r.drive().is_none(), "let in past the limit");
    }
    assert_eq!(lock.reader_count(), 2);
    // Each release lets the next one in, in order.
    for next in 2..5 {
        drop(guards.remove(0));
        guards.push(readers[next].drive().expect("let in for the room"));
        for r in &mut readers[next + 1..] {
            assert!(r.drive().is_none());
        }
        assert!(lock.reader_count() <= 2);
    }
    drop(guards);
    drop(readers);
    assert_free(&lock);
}

#[test]
fn a_writer_announced_while_readers_wait_for_room_goes_before_them() {
    let lock = RwLock::with_max_readers(0, 1);
    let inside = lock.try_read().unwrap();
    let mut waiting = Probe::new(lock.read());
    assert!(waiting.poll().is_pending());
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    drop(inside);
    let mut w = writer
        .drive()
        .expect("the writer waited only for the reader inside");
    assert!(waiting.drive().is_none(), "a reader with the writer");
    *w = 1;
    drop(w);
    drop(writer);
    assert_eq!(*waiting.drive().expect("let in by the write's release"), 1);
    drop(waiting);
    assert_free(&lock);
}

#[test]
fn a_dropped_limited_read_gives_its_room_to_the_next() {
    let lock = RwLock::with_max_readers(0, 1);
    let inside = lock.try_read().unwrap();
    let mut cancelled = Probe::new(lock.read());
    let mut next = Probe::new(lock.read());
    let mut last = Probe::new(lock.read());
    assert!(cancelled.poll().is_pending());
    assert!(next.poll().is_pending());
    assert!(last.poll().is_pending());
    // Dropped while queued: it leaves the queue.
    drop(cancelled);
    drop(inside);
    // Let in for the room, then dropped before it ran: the room goes on.
    assert!(next.woken());
    drop(next);
    assert!(last.drive().is_some(), "the room was passed on");
    drop(last);
    assert_free(&lock);
}

#[test]
fn downgrades_take_their_read_lock_even_at_the_limit() {
    let lock = RwLock::with_max_readers(0, 1);
    let w = lock.try_write().unwrap();
    let r = RwLockWriteGuard::downgrade(w);
    assert_eq!(lock.reader_count(), 1);
    let up = lock.try_upgradable_read().unwrap();
    let r2 = RwLockUpgradableReadGuard::downgrade(up);
    assert_eq!(lock.reader_count(), 2, "past the limit, as documented");
    let mut waiting = Probe::new(lock.read());
    assert!(waiting.poll().is_pending());
    drop(r);
    assert!(waiting.drive().is_none(), "still no room");
    drop(r2);
    assert!(waiting.drive().is_some());
    drop(waiting);
    assert_free(&lock);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
fn limited_readers_never_exceed_the_limit_across_tasks_and_threads() {
    const LIMIT: usize = 3;
    let lock = Arc::new(RwLock::with_max_readers(0u64, LIMIT));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let read = {
        let (inside, most) = (inside.clone(), most.clone());
        move |_: &u64| {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            assert!(
                now <= LIMIT,
                "{now} readers inside a lock limited to {LIMIT}"
            );
            thread::yield_now();
            inside.fetch_sub(1, Ordering::SeqCst);
        }
    };
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (lock, read) = (lock.clone(), read.clone());
            thread::spawn(move || {
                for n in 0..300 {
                    if (i + n) % 10 == 0 {
                        *lock.write_blocking() += 1;
                    } else {
                        read(&lock.read_blocking());
                    }
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (lock, read) = (lock.clone(), read.clone());
                tokio::spawn(async move {
                    for _ in 0..300 {
                        read(&*lock.read().await);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*lock.try_read().unwrap(), 120);
    assert!(most.load(Ordering::SeqCst) <= LIMIT);
    assert_free(&lock);
}

#[test]
fn a_new_reader_does_not_pass_the_limit_between_let_in_batches() {
    // A write's release lets more than one batch of readers in; between batches it releases
    // the queue's lock to wake the first. A reader arriving then must queue, not take the
    // room that the rest of the queue is counted against.
    const LIMIT: usize = 40;
    let lock = Arc::new(RwLock::with_max_readers((), LIMIT));
    let w = lock.try_write_owned().unwrap();
    let stall = common::Stall::new();
    let mut first = Box::pin(lock.read_owned());
    assert!(common::poll_with(&mut first, &stall.waker()).is_pending());
    let mut rest: Vec<_> = (0..LIMIT).map(|_| Box::pin(lock.read_owned())).collect();
    for r in &mut rest {
        assert!(common::poll_once(r).is_pending());
    }
    let releaser = thread::spawn(move || drop(w));
    stall.wait_until_entered();
    let barged = lock.try_read().is_some();
    stall.go_on();
    releaser.join().unwrap();
    assert!(!barged, "a new reader took room between the batches");
    assert!(
        lock.reader_count() <= LIMIT,
        "{} read locks in a lock limited to {LIMIT}",
        lock.reader_count()
    );
    drop(first);
    drop(rest);
    assert_free(&lock);
}

#[test]
fn into_mapped_write_guards_hold_the_write_lock_until_dropped() {
    let lock = RwLock::new(1u32);
    let mut whole: MappedRwLockWriteGuard<'_, u32> =
        RwLockWriteGuard::into_mapped(lock.try_write().unwrap());
    *whole = 2;
    assert_eq!(write_held_until_dropped(&lock, whole), 2);

    let lock = Arc::new(RwLock::new(3u32));
    let mut whole: OwnedMappedRwLockWriteGuard<u32, u32> =
        OwnedRwLockWriteGuard::into_mapped(lock.clone().try_write_owned().unwrap());
    *whole = 4;
    assert_eq!(write_held_until_dropped(&lock, whole), 4);
    assert_eq!(Arc::strong_count(&lock), 1);
}

#[test]
fn limited_readers_left_queued_by_a_write_wait_for_a_writer_that_announced_before_them() {
    // As documented under Fairness: a write's release lets in only as many as fit; the rest
    // get in as room is made, after any writer that announced itself meanwhile.
    let lock = RwLock::with_max_readers(0, 1);
    let w1 = lock.try_write().unwrap();
    let mut x1 = Probe::new(lock.read());
    let mut x2 = Probe::new(lock.read());
    assert!(x1.poll().is_pending());
    assert!(x2.poll().is_pending());
    let mut w2 = Probe::new(lock.write());
    assert!(w2.poll().is_pending());
    drop(w1);
    let g1 = x1.drive().expect("let in by the write's release");
    assert!(x2.drive().is_none(), "no room for the second");
    assert!(
        w2.drive().is_none(),
        "the next writer waits for the reader inside"
    );
    drop(g1);
    let mut g = w2.drive().expect("the next writer, announced, goes first");
    assert!(x2.drive().is_none());
    *g = 2;
    drop(g);
    assert_eq!(*x2.drive().expect("let in by its release"), 2);
    drop((x1, x2, w2));
    assert_free(&lock);
}

#[test]
fn a_limited_write_release_that_leaves_no_room_lets_the_next_writer_go_first() {
    // As documented under Fairness: the bound "a reader waits for at most the writer in front
    // of it" does not hold on a limited lock when a writer downgrades with the lock full.
    let lock = RwLock::with_max_readers(0, 1);
    let w1 = lock.try_write().unwrap();
    let mut r = Probe::new(lock.read());
    assert!(r.poll().is_pending());
    let mut w2 = Probe::new(lock.write());
    assert!(w2.poll().is_pending());
    let d = RwLockWriteGuard::downgrade(w1);
    assert!(r.drive().is_none(), "no room beside the downgraded reader");
    // The next writer runs before the downgraded reader leaves: it takes the writers' lock
    // and, with no let-in reader left to run, announces itself at once.
    assert!(w2.drive().is_none(), "waits for the downgraded reader");
    drop(d);
    let g2 = w2.drive().expect("the next writer had announced itself");
    assert!(r.drive().is_none());
    drop(g2);
    assert!(r.drive().is_some(), "let in by the second writer's release");
    drop((r, w2));
    assert_free(&lock);
}

/// Regression: a thread queued for a read in a later batch than a slow waker timed out though
/// the write lock had been released before its deadline and readers were being let in; on a
/// lock with a reader limit (room for all of them here), too.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn timed_blocking_read_sees_a_write_release_that_came_before_its_deadline() {
    for max_readers in [RwLock::<()>::MAX_READERS, 1000] {
        common::timed_wait_counts_a_release_before_its_deadline(|| {
            let lock = Arc::new(RwLock::with_max_readers(0, max_readers));
            let write = lock.try_write_owned().unwrap();
            let waits = common::full_batch(|| {
                let lock = lock.clone();
                async move { assert_eq!(*lock.read().await, 0) }
            });
            common::BehindABatch {
                waits,
                timed: Box::new(move |timeout| lock.read_blocking_timeout(timeout).is_some()),
                release: Box::new(move || drop(write)),
            }
        });
    }
}

/// A lock of an unsized slice works through every kind of guard, borrowed and owned.
#[test]
fn unsized_slice_through_every_kind_of_guard() {
    use futures::executor::block_on;
    let rw: Arc<RwLock<[u8]>> = Arc::new(RwLock::new([1, 2, 3]));
    block_on(async {
        assert_eq!(rw.read().await.len(), 3);
        rw.write().await[0] = 9;
        let up = rw.upgradable_read().await;
        assert_eq!(up[0], 9);
        let mut w = RwLockUpgradableReadGuard::upgrade(up).await;
        w[1] = 8;
        let r = RwLockWriteGuard::downgrade(w);
        let last: MappedRwLockReadGuard<'_, u8> = RwLockReadGuard::map(r, |s| &s[2]);
        assert_eq!(*last, 3);
        drop(last);
        let ow = rw.write_owned().await;
        let r = OwnedRwLockWriteGuard::downgrade(ow);
        assert_eq!(&*r, &[9, 8, 3]);
        drop(r);
        let up = rw.upgradable_read_owned().await;
        let w = OwnedRwLockUpgradableReadGuard::upgrade(up).await;
        drop(w);
        assert_eq!(rw.read_owned().await.len(), 3);
    });
    assert!(rw.try_write().is_some());
}

/// A lock of a `dyn Debug` value formats itself and its guards.
#[cfg(not(feature = "diagnostics"))]
#[test]
fn unsized_dyn_debug() {
    use futures::executor::block_on;
    use std::fmt::Debug;
    let rw: Box<RwLock<dyn Debug + Send + Sync>> = Box::new(RwLock::new(7u32));
    assert_eq!(format!("{rw:?}"), "RwLock { data: 7 }");
    let w = rw.try_write().unwrap();
    assert_eq!(format!("{:?}", w), "7");
    assert_eq!(format!("{rw:?}"), "RwLock { data: <locked> }");
    drop(w);
    let r = block_on(rw.read());
    assert_eq!(format!("{:?}", r), "7");
}

type StaticRead = Pin<Box<unisync::futures::Read<'static, ()>>>;

/// Queues `n` reads on `lock`, each polled once (they wait), the first with `first_waker`.
fn queued_reads_first_woken_by(
    lock: &'static RwLock<()>,
    n: usize,
    first_waker: &std::task::Waker,
) -> Vec<StaticRead> {
    let noop = futures::task::noop_waker();
    (0..n)
        .map(|i| {
            let mut read: StaticRead = Box::pin(lock.read());
            let waker = if i == 0 { first_waker } else { &noop };
            assert!(common::poll_with(&mut read, waker).is_pending());
            read
        })
        .collect()
}

/// Queues `n` reads on `lock`, each polled once (they wait).
fn queued_reads(lock: &'static RwLock<()>, n: usize) -> Vec<StaticRead> {
    queued_reads_first_woken_by(lock, n, &futures::task::noop_waker())
}

/// How many chained wakers fire at most: what ends a release that would chase them for ever.
const CHAIN: usize = 20;

/// A waker that, the first time it is woken, queues 32 new reads on the lock, the first of
/// them with another such waker (up to [`CHAIN`] in all): readers that arrive while the
/// release that woke it is between two batches.
struct QueuesMoreReads {
    lock: &'static RwLock<()>,
    depth: usize,
    fired: Arc<AtomicUsize>,
    reads: Arc<std::sync::Mutex<Vec<StaticRead>>>,
    woken: std::sync::atomic::AtomicBool,
}

impl QueuesMoreReads {
    fn waker(
        lock: &'static RwLock<()>,
        depth: usize,
        fired: &Arc<AtomicUsize>,
        reads: &Arc<std::sync::Mutex<Vec<StaticRead>>>,
    ) -> std::task::Waker {
        std::task::Waker::from(Arc::new(QueuesMoreReads {
            lock,
            depth,
            fired: fired.clone(),
            reads: reads.clone(),
            woken: std::sync::atomic::AtomicBool::new(false),
        }))
    }
}

impl std::task::Wake for QueuesMoreReads {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.woken.swap(true, Ordering::SeqCst) || self.depth >= CHAIN {
            return;
        }
        self.fired.fetch_add(1, Ordering::SeqCst);
        let next = Self::waker(self.lock, self.depth + 1, &self.fired, &self.reads);
        let noop = futures::task::noop_waker();
        let fresh: Vec<StaticRead> = (0..32)
            .map(|i| {
                let mut read: StaticRead = Box::pin(self.lock.read());
                let waker = if i == 0 { &next } else { &noop };
                // Queued while anyone is; in at once if nobody is left.
                let _ = common::poll_with(&mut read, waker);
                read
            })
            .collect();
        self.reads.lock().unwrap().extend(fresh);
    }
}

/// Regression: on a lock with a reader limit, a write release let in, batch after batch,
/// readers that queued while it was between two batches, ahead of the writer waiting for the
/// lock, and with wakers that queue reads at once it returned only when the room was used up.
/// It now lets in the readers queued behind the writer; later ones wait for the next writer.
#[test]
fn a_limited_write_release_does_not_let_in_readers_that_queue_during_it_before_a_writer() {
    static LOCK: RwLock<()> = RwLock::with_max_readers((), 100_000);
    let writer = LOCK.try_write().unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let later = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first = QueuesMoreReads::waker(&LOCK, 0, &fired, &later);
    // Two batches queue behind the writer; the first reader's waker makes more queue.
    let behind = queued_reads_first_woken_by(&LOCK, 33, &first);
    let mut next_writer = Box::pin(LOCK.write());
    let writer_waker = Counter::new();
    assert!(writer_waker.poll(&mut next_writer).is_pending());
    drop(writer);
    assert_eq!(
        fired.load(Ordering::SeqCst),
        1,
        "the release let in readers that queued during it"
    );
    assert_eq!(
        LOCK.reader_count(),
        33,
        "the readers queued behind the writer are in"
    );
    // The next writer goes before the readers that queued during the release: once the
    // readers let in have run, it announces itself and waits for them to leave.
    let guards: Vec<_> = behind
        .into_iter()
        .map(|mut read| match common::poll_once(&mut read) {
            Poll::Ready(guard) => guard,
            Poll::Pending => panic!("a reader let in by the release is not in"),
        })
        .collect();
    assert!(writer_waker.count() > 0);
    assert!(writer_waker.poll(&mut next_writer).is_pending());
    assert!(LOCK.is_write_locked());
    drop(guards);
    let guard = match writer_waker.poll(&mut next_writer) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the writer waits behind the later readers"),
    };
    assert_eq!(LOCK.reader_count(), 0);
    // Then those readers get in.
    let mut queued_during = std::mem::take(&mut *later.lock().unwrap());
    assert_eq!(queued_during.len(), 32);
    drop(guard);
    for read in &mut queued_during {
        assert!(common::poll_once(read).is_ready());
    }
    drop(queued_during);
    let rest = std::mem::take(&mut *later.lock().unwrap());
    drop(rest);
}

/// A waker that runs a closure the first time it is woken.
struct OnWake(std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl std::task::Wake for OnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let f = self.0.lock().unwrap().take();
        if let Some(f) = f {
            f();
        }
    }
}

/// The same when most of the readers the release owes leave the queue while it wakes its
/// first batch: it stops at the last reader it owes, not after as many readers as it owed.
#[test]
fn a_limited_write_release_stops_at_the_last_reader_it_owes_when_others_leave() {
    static LOCK: RwLock<()> = RwLock::with_max_readers((), 100_000);
    let writer = LOCK.try_write().unwrap();
    let owed_tail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let late = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let (owed_tail, late) = (owed_tail.clone(), late.clone());
        let run: Box<dyn FnOnce() + Send> = Box::new(move || {
            // All but the last of the second batch give up; then new readers queue.
            let mut tail = owed_tail.lock().unwrap();
            let last = tail.pop();
            tail.clear();
            tail.extend(last);
            drop(tail);
            late.lock().unwrap().extend(queued_reads(&LOCK, 32));
        });
        std::task::Waker::from(Arc::new(OnWake(std::sync::Mutex::new(Some(run)))))
    };
    let first = queued_reads_first_woken_by(&LOCK, 32, &hook);
    owed_tail.lock().unwrap().extend(queued_reads(&LOCK, 32));
    let mut next_writer = Box::pin(LOCK.write());
    assert!(Counter::new().poll(&mut next_writer).is_pending());
    drop(writer);
    assert_eq!(late.lock().unwrap().len(), 32);
    assert_eq!(
        LOCK.reader_count(),
        33,
        "readers that queued during the release got in ahead of the waiting writer"
    );
    drop((first, next_writer));
    drop(std::mem::take(&mut *owed_tail.lock().unwrap()));
    drop(std::mem::take(&mut *late.lock().unwrap()));
}

/// The gate that upgradable and write locks pass is a mutex whose "someone queued" mark a
/// limited lock reads. Woken upgradable waiters that leave one after the other must leave it
/// clear: else a write release, believing a writer waits for the gate, stops letting in
/// readers that queued while it ran.
#[test]
fn woken_upgradable_waiters_that_leave_do_not_hold_back_readers_of_a_later_release() {
    static LOCK: RwLock<u32> = RwLock::with_max_readers(0, 100);
    let lock = &LOCK;

    let held = lock.try_upgradable_read().unwrap();
    let mut first = Box::pin(lock.upgradable_read());
    let mut second = Box::pin(lock.upgradable_read());
    assert!(common::poll_once(&mut first).is_pending());
    assert!(common::poll_once(&mut second).is_pending());
    drop(held); // wakes `first`
    drop(first); // passes its turn to `second`, the last one queued
    drop(second); // passes it to nobody: nobody waits for the gate now

    let write = lock.try_write().unwrap();
    // More readers than one wake-up batch (32); the first one's waker holds the release.
    let stall = common::Stall::new();
    let mut readers: Vec<_> = (0..41).map(|_| Box::pin(lock.read())).collect();
    assert!(common::poll_with(&mut readers[0], &stall.waker()).is_pending());
    for reader in &mut readers[1..] {
        assert!(common::poll_once(reader).is_pending());
    }
    let (released_tx, released) = std::sync::mpsc::channel::<()>();
    let late = {
        let stall = stall.clone();
        thread::spawn(move || {
            stall.wait_until_entered();
            // Queues while the release runs, behind the readers it lets in.
            let mut late = Box::pin(lock.read());
            assert!(common::poll_once(&mut late).is_pending());
            stall.go_on();
            released.recv().unwrap();
            common::poll_once(&mut late).is_ready()
        })
    };
    drop(write);
    released_tx.send(()).unwrap();
    let late_let_in = late.join().unwrap();
    for reader in &mut readers {
        assert!(common::poll_once(reader).is_ready());
    }
    drop(readers);
    assert!(
        late_let_in,
        "a reader queued during a write release was left out though no writer waits"
    );
    assert_eq!(lock.reader_count(), 0);
}

/// A limited write release that fills the room it counted looks at the count again: readers
/// released meanwhile saw the write and left letting readers in to it. The one way to hold
/// a read lock while a write is announced and then taken back is a writer that waited for
/// the readers inside and was dropped; here that drop races the last reader's release.
/// Whatever the order, both queued readers fit once both are done, so both must be let in.
/// Only a release that lands inside the release's own window shows a missing second look,
/// so the timing is swept over many rounds (no order can fail as the code stands).
#[test]
fn a_dropped_writer_racing_the_last_reader_leaves_no_reader_queued_with_room() {
    let rounds: usize = if cfg!(miri) { 4 } else { 4000 };
    for round in 0..rounds {
        let lock = RwLock::with_max_readers(0u32, 2);
        let inside = lock.try_read().unwrap();
        let mut write = Box::pin(lock.write());
        assert!(
            common::poll_once(&mut write).is_pending(),
            "waits for the reader inside"
        );
        let mut first = std::pin::pin!(lock.read());
        let mut second = std::pin::pin!(lock.read());
        assert!(common::poll_once(&mut first).is_pending());
        assert!(common::poll_once(&mut second).is_pending());
        let start = std::sync::Barrier::new(2);
        let spins = (round % 64) * 8;
        thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                drop(write);
            });
            s.spawn(|| {
                start.wait();
                for _ in 0..spins {
                    std::hint::spin_loop();
                }
                drop(inside);
            });
        });
        let Poll::Ready(first) = common::poll_once(&mut first) else {
            panic!("round {round}: the first reader was left queued");
        };
        let Poll::Ready(second) = common::poll_once(&mut second) else {
            panic!("round {round}: the second reader was left queued with room for it");
        };
        drop((first, second));
        assert!(lock.try_write().is_some());
    }
}

/// `RwLock` fairness: "A writer handed its turn while it waited announces itself when its task
/// next polls it: until then new readers still get in (and the writer then waits for them
/// too)". The writer is overtaken once, so the upgradable reader's release hands it the turn
/// directly.
#[test]
fn writer_handed_its_turn_announces_itself_when_next_polled() {
    let lock = RwLock::new(0);
    let upgradable = lock.try_upgradable_read().unwrap();
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    drop(upgradable); // wakes the writer to retry
    let barger = lock.try_upgradable_read().unwrap();
    assert!(
        writer.poll().is_pending(),
        "overtaken once: now first in line"
    );
    drop(barger); // hands the turn to the writer
    assert!(writer.woken());
    assert!(
        lock.try_upgradable_read().is_none(),
        "the writer has its turn"
    );
    assert!(!lock.is_write_locked(), "not announced before it runs");
    let reader = lock.try_read().expect("a reader still gets in");
    assert!(
        writer.poll().is_pending(),
        "announced; waits for the reader inside"
    );
    assert!(lock.is_write_locked());
    assert!(lock.try_read().is_none(), "new readers queue now");
    drop(reader);
    assert!(writer.woken());
    let Poll::Ready(mut guard) = writer.poll() else {
        panic!("the reader left: the writer goes in");
    };
    *guard = 1;
    drop(guard);
    assert_free(&lock);
}

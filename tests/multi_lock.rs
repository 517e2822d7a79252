//! `lock_all` and its forms: guards in the caller's order, all or nothing on cancellation,
//! timeout and failed `try`, duplicate members, and opposite naming orders under load that
//! must never deadlock.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, blocked_until_released, pending_until_released, poll_once,
    Counter,
};
use futures::future::FusedFuture;
use unisync::futures::LockAll;
use unisync::{lock_all, try_lock_all, Mutex, MutexGuard};
#[cfg(feature = "std")]
use unisync::{lock_all_blocking, lock_all_blocking_timeout};

/// The members of `ms` in the order every multi-lock takes them (by address; the mutexes are
/// all of one type, so comparing the mutexes compares their locks).
fn lock_order<T>(ms: &[Arc<Mutex<T>>]) -> Vec<Arc<Mutex<T>>> {
    let mut sorted = ms.to_vec();
    sorted.sort_by_key(|m| Arc::as_ptr(m) as usize);
    sorted
}

fn all_free<T>(ms: &[&Mutex<T>]) -> bool {
    ms.iter().all(|m| !m.is_locked())
}

#[cfg(feature = "std")]
#[test]
fn guards_come_back_in_the_callers_order() {
    let (n, s, v) = (
        Mutex::new(1u8),
        Mutex::new(String::from("s")),
        Mutex::new(vec![3]),
    );
    futures::executor::block_on(async {
        let (gv, gn, gs) = lock_all((&v, &n, &s)).await;
        assert_eq!((&*gv, *gn, gs.as_str()), (&vec![3], 1, "s"));
        assert!(std::ptr::eq(MutexGuard::source(&gv), &v));
        drop((gv, gn, gs));
        let (gs, gv, gn) = lock_all((&s, &v, &n)).await;
        assert_eq!((gs.as_str(), &*gv, *gn), ("s", &vec![3], 1));
    });
    let (gn, gs) = lock_all_blocking((&n, &s));
    assert_eq!((*gn, gs.as_str()), (1, "s"));
    drop((gn, gs));
    let (gs, gn) = try_lock_all((&s, &n)).unwrap();
    assert_eq!((gs.as_str(), *gn), ("s", 1));
    drop((gs, gn));
    let (gv,) = lock_all_blocking_timeout((&v,), Duration::from_secs(5)).unwrap();
    assert_eq!(*gv, [3]);
}

#[cfg(feature = "std")]
#[test]
fn arrays_slices_and_six_tuples_keep_the_callers_order() {
    let ms: Vec<Mutex<usize>> = (0..6).map(Mutex::new).collect();
    let backwards: Vec<&Mutex<usize>> = ms.iter().rev().collect();

    let guards = lock_all_blocking(&backwards[..]);
    assert_eq!(
        guards.iter().map(|g| **g).collect::<Vec<_>>(),
        [5, 4, 3, 2, 1, 0]
    );
    drop(guards);

    let arr = [&ms[3], &ms[0], &ms[5]];
    let guards = lock_all_blocking(arr);
    assert_eq!([*guards[0], *guards[1], *guards[2]], [3, 0, 5]);
    drop(guards);

    let six = (&ms[2], &ms[5], &ms[0], &ms[4], &ms[1], &ms[3]);
    let (a, b, c, d, e, f) = lock_all_blocking(six);
    assert_eq!([*a, *b, *c, *d, *e, *f], [2, 5, 0, 4, 1, 3]);
    assert!(ms.iter().all(Mutex::is_locked));
    drop((a, b, c, d, e, f));
    assert!(ms.iter().all(|m| !m.is_locked()));
}

#[cfg(feature = "std")]
#[test]
fn empty_sets_lock_nothing() {
    let none: [&Mutex<u8>; 0] = [];
    let guards = futures::executor::block_on(lock_all(none));
    assert!(guards.is_empty());
    let empty: &[&Mutex<u8>] = &[];
    assert!(try_lock_all(empty).unwrap().is_empty());
    assert!(lock_all_blocking(empty).is_empty());
}

#[test]
fn uncontended_lock_all_is_ready_on_first_poll() {
    let (a, b) = (Mutex::new(1), Mutex::new(2));
    let mut fut = Box::pin(lock_all((&a, &b)));
    assert!(!fut.is_terminated());
    let (ga, gb) = assert_ready!(fut);
    assert!(fut.is_terminated());
    assert!(a.is_locked() && b.is_locked());
    drop((ga, gb));
    assert!(all_free(&[&a, &b]));
}

/// With the later mutex (in lock order) held, the multi-lock takes the earlier one, waits
/// for the later one while holding the earlier, and is woken by its release.
#[test]
fn waits_for_each_member_in_turn_holding_the_earlier_ones() {
    let ms = [Arc::new(Mutex::new(0)), Arc::new(Mutex::new(1))];
    let sorted = lock_order(&ms);
    let (lo, hi) = (&sorted[0], &sorted[1]);
    let holder = hi.try_lock().unwrap();
    let mut fut = Box::pin(lock_all((&**hi, &**lo)));
    assert_pending!(fut);
    assert!(
        lo.is_locked(),
        "the earlier member is held while the later one is waited for"
    );
    drop(fut);
    assert!(
        !lo.is_locked(),
        "a dropped multi-lock released what it held"
    );

    let fut = Box::pin(lock_all((&**hi, &**lo)));
    let (ghi, glo) = pending_until_released(fut, move || drop(holder));
    assert!(std::ptr::eq(MutexGuard::source(&ghi), &**hi));
    assert!(std::ptr::eq(MutexGuard::source(&glo), &**lo));
}

/// Three mutexes, each held, released one per step in lock order; the multi-lock is polled
/// `k` times and dropped. A waiter queued on each mutex meanwhile must be woken once the
/// holders are gone, whatever the multi-lock had taken or been handed when it was dropped,
/// and every mutex must end up free.
#[test]
fn dropping_after_any_number_of_polls_leaves_every_mutex_free() {
    for k in 0..=5 {
        for barge in [false, true] {
            let ms: Vec<_> = (0..3).map(|_| Arc::new(Mutex::new(()))).collect();
            let sorted = lock_order(&ms);
            let mut holders: Vec<_> = sorted
                .iter()
                .map(|m| Some(m.try_lock_owned().unwrap()))
                .collect();
            let mut fut = Some(Box::pin(lock_all([&*ms[2], &*ms[0], &*ms[1]])));
            let cf = Counter::new();
            let counters: Vec<Counter> = (0..3).map(|_| Counter::new()).collect();
            let mut waiters: Vec<Pin<Box<unisync::futures::Lock<'_, ()>>>> = Vec::new();
            let mut barger = None;
            for step in 0..k {
                if step > 0 {
                    // Release the next holder; with `barge`, someone takes that mutex
                    // first, so the woken multi-lock finds it taken once.
                    drop(barger.take());
                    if let Some(h) = holders.get_mut(step - 1).and_then(Option::take) {
                        drop(h);
                        if barge {
                            barger = sorted[step - 1].try_lock();
                        }
                    }
                }
                if let Poll::Ready(guards) = cf.poll(fut.as_mut().unwrap()) {
                    drop(guards);
                    fut = None;
                    break;
                }
                if waiters.is_empty() {
                    for (m, c) in sorted.iter().zip(&counters) {
                        let mut w = Box::pin(m.lock());
                        assert!(c.poll(&mut w).is_pending());
                        waiters.push(w);
                    }
                }
            }
            drop(fut);
            drop(barger);
            drop(holders);
            for (i, (w, c)) in waiters.iter_mut().zip(&counters).enumerate() {
                assert!(
                    c.count() > 0,
                    "waiter {i} was not woken (k = {k}, barge = {barge})"
                );
                match c.poll(w) {
                    Poll::Ready(g) => drop(g),
                    Poll::Pending => panic!("woken waiter {i} did not lock (k = {k})"),
                }
            }
            drop(waiters);
            let refs: Vec<&Mutex<()>> = ms.iter().map(|m| &**m).collect();
            assert!(
                all_free(&refs),
                "a mutex left locked (k = {k}, barge = {barge})"
            );
            assert!(try_lock_all(&refs[..]).is_some());
        }
    }
}

#[test]
fn try_lock_all_is_all_or_nothing() {
    let ms: Vec<Mutex<u8>> = (0..4).map(Mutex::new).collect();
    let refs: Vec<&Mutex<u8>> = ms.iter().collect();
    for held in 0..ms.len() {
        let guard = ms[held].try_lock().unwrap();
        assert!(try_lock_all(&refs[..]).is_none());
        assert!(try_lock_all((refs[3], refs[1], refs[2], refs[0])).is_none());
        for (i, m) in ms.iter().enumerate() {
            assert_eq!(m.is_locked(), i == held, "member {i} with {held} held");
        }
        drop(guard);
    }
    let guards = try_lock_all(&refs[..]).unwrap();
    assert!(try_lock_all([refs[0]]).is_none());
    drop(guards);
    assert!(all_free(&refs));
}

#[cfg(feature = "std")]
#[test]
fn lock_all_blocking_timeout_releases_everything_it_took() {
    let ms = [
        Arc::new(Mutex::new(())),
        Arc::new(Mutex::new(())),
        Arc::new(Mutex::new(())),
    ];
    let sorted = lock_order(&ms);
    // The last in lock order is held: the first two are taken, then given back on timeout.
    let held = sorted[2].try_lock().unwrap();
    let set = (&*ms[1], &*ms[2], &*ms[0]);
    assert!(lock_all_blocking_timeout(set, Duration::from_millis(20)).is_none());
    assert!(!sorted[0].is_locked() && !sorted[1].is_locked());
    assert!(lock_all_blocking_timeout(set, Duration::ZERO).is_none());
    assert!(!sorted[0].is_locked() && !sorted[1].is_locked());
    drop(held);
    let guards = lock_all_blocking_timeout(set, Duration::from_secs(5)).unwrap();
    drop(guards);
    assert!(ms.iter().all(|m| !m.is_locked()));
}

#[cfg(feature = "std")]
#[test]
fn lock_all_blocking_waits_until_the_last_member_is_released() {
    let (a, b) = (Mutex::new(1), Mutex::new(2));
    let held = b.try_lock().unwrap();
    let sum = blocked_until_released(
        || {
            let (gb, ga) = lock_all_blocking((&b, &a));
            *ga + *gb
        },
        || drop(held),
    );
    assert_eq!(sum, 3);
    assert!(all_free(&[&a, &b]));
}

fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    match payload.downcast::<String>() {
        Ok(msg) => *msg,
        Err(payload) => payload.downcast::<&str>().map(|m| m.to_string()).unwrap(),
    }
}

#[cfg(feature = "std")]
#[test]
fn the_same_mutex_twice_panics_and_locks_nothing() {
    let (a, b) = (Mutex::new(0), Mutex::new(1));
    let msgs = [
        panic_message(|| drop(lock_all((&a, &b, &a)))),
        panic_message(|| drop(try_lock_all([&b, &b]))),
        panic_message(|| drop(lock_all_blocking(&[&a, &b, &b][..]))),
        panic_message(|| drop(lock_all_blocking_timeout((&a, &a), Duration::from_secs(1)))),
    ];
    for msg in msgs {
        assert!(msg.contains("the same mutex appears twice"), "{msg}");
    }
    assert!(all_free(&[&a, &b]));
}

#[test]
#[should_panic(expected = "members 0 and 2")]
fn the_panic_names_the_duplicate_members() {
    let (a, b) = (Mutex::new(0), Mutex::new(1));
    drop(lock_all((&a, &b, &a)));
}

#[test]
fn the_future_does_not_grow_with_the_set() {
    use std::mem::size_of;
    let extra = |members: usize| members * size_of::<&Mutex<u8>>();
    let two = size_of::<LockAll<[&Mutex<u8>; 2]>>() - extra(2);
    let six = size_of::<LockAll<[&Mutex<u8>; 6]>>() - extra(6);
    let tuple = size_of::<LockAll<(&Mutex<u8>, &Mutex<u64>, &Mutex<String>)>>() - extra(3);
    assert_eq!(two, six);
    assert_eq!(two, tuple);
    // One lock future's worth plus the set: the same node and word as `Mutex::lock`.
    assert_eq!(two, size_of::<unisync::futures::Lock<'_, u8>>() - extra(1));
}

#[test]
fn debug_names_the_future() {
    let (a, b) = (Mutex::new(0), Mutex::new(1));
    let fut = lock_all((&a, &b));
    assert!(format!("{fut:?}").starts_with("LockAll"));
}

/// Runs `work` on its own thread and fails the test if it has not finished within `limit`,
/// instead of hanging: a deadlock shows up as a failure.
fn with_watchdog(limit: Duration, work: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().expect_err("the worker panicked"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("no progress in {limit:?}: the multi-locks deadlocked")
        }
    }
}

/// Two mutexes that are always changed together: whoever holds both sees them equal.
struct Pair {
    a: Mutex<u64>,
    b: Mutex<u64>,
    /// Rounds that took both locks.
    rounds: AtomicU64,
}

impl Pair {
    fn new() -> Arc<Pair> {
        Arc::new(Pair {
            a: Mutex::new(0),
            b: Mutex::new(0),
            rounds: AtomicU64::new(0),
        })
    }

    /// One round with the guards of `a` and `b` (in whatever order they were named).
    fn bump(&self, ga: &mut MutexGuard<'_, u64>, gb: &mut MutexGuard<'_, u64>) {
        assert!(
            std::ptr::eq(MutexGuard::source(ga), &self.a),
            "guards out of order"
        );
        assert!(
            std::ptr::eq(MutexGuard::source(gb), &self.b),
            "guards out of order"
        );
        assert_eq!(
            **ga, **gb,
            "a multi-lock ran while another held one of its mutexes"
        );
        **ga += 1;
        **gb += 1;
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    async fn ab(&self) {
        let (mut ga, mut gb) = lock_all((&self.a, &self.b)).await;
        self.bump(&mut ga, &mut gb);
    }

    async fn ba(&self) {
        let (mut gb, mut ga) = lock_all((&self.b, &self.a)).await;
        self.bump(&mut ga, &mut gb);
    }

    #[cfg(feature = "std")]
    fn ab_blocking(&self) {
        let (mut ga, mut gb) = lock_all_blocking((&self.a, &self.b));
        self.bump(&mut ga, &mut gb);
    }

    #[cfg(feature = "std")]
    fn ba_blocking(&self) {
        let (mut gb, mut ga) = lock_all_blocking((&self.b, &self.a));
        self.bump(&mut ga, &mut gb);
    }

    /// A multi-lock polled once and dropped: cancelled wherever it got to.
    fn ba_cancelled(&self) {
        let mut fut = Box::pin(lock_all((&self.b, &self.a)));
        if let Poll::Ready((mut gb, mut ga)) = poll_once(&mut fut) {
            self.bump(&mut ga, &mut gb);
        }
    }

    #[cfg(feature = "std")]
    fn ab_timeout(&self) {
        let timeout = Duration::from_micros(50);
        if let Some((mut ga, mut gb)) = lock_all_blocking_timeout((&self.a, &self.b), timeout) {
            self.bump(&mut ga, &mut gb);
        }
    }

    fn check(&self) {
        let rounds = self.rounds.load(Ordering::Relaxed);
        let (a, b) = try_lock_all((&self.a, &self.b)).expect("both mutexes free at the end");
        assert_eq!((*a, *b), (rounds, rounds));
    }
}

#[cfg(feature = "std")]
/// Acceptance: tokio tasks and plain threads take `{a, b}` and `{b, a}` 100,000 times each,
/// beside threads whose multi-locks time out or are cancelled, and nobody deadlocks. The
/// watchdog's 120 s is the only time bound: the work takes a few seconds.
#[test]
#[cfg_attr(miri, ignore = "starts a tokio runtime; far too slow under miri")]
fn opposite_orders_never_deadlock_across_tasks_and_threads() {
    const N: usize = 100_000;
    let pair = Pair::new();
    let p = pair.clone();
    with_watchdog(Duration::from_secs(120), move || {
        let stop = Arc::new(AtomicBool::new(false));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|i| {
                let p = p.clone();
                rt.spawn(async move {
                    for round in 0..N {
                        if i == 0 {
                            p.ab().await
                        } else {
                            p.ba().await
                        }
                        if round % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let p = p.clone();
                thread::spawn(move || {
                    for _ in 0..N {
                        if i == 0 {
                            p.ab_blocking()
                        } else {
                            p.ba_blocking()
                        }
                    }
                })
            })
            .collect();
        let extras: Vec<_> = (0..2)
            .map(|i| {
                let (p, stop) = (p.clone(), stop.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if i == 0 {
                            p.ab_timeout()
                        } else {
                            p.ba_cancelled()
                        }
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
        stop.store(true, Ordering::Relaxed);
        for t in extras {
            t.join().unwrap();
        }
    });
    assert!(pair.rounds.load(Ordering::Relaxed) >= 4 * N as u64);
    pair.check();
}

#[cfg(feature = "std")]
/// The same without tokio, small enough for miri: threads and `block_on` tasks, both orders,
/// with cancelled and timed-out multi-locks beside them.
#[test]
fn opposite_orders_on_threads_and_block_on_finish() {
    let n = if cfg!(miri) { 30 } else { 5_000 };
    let pair = Pair::new();
    let p = pair.clone();
    with_watchdog(Duration::from_secs(120), move || {
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let p = p.clone();
                thread::spawn(move || {
                    for _ in 0..n {
                        match i {
                            0 => p.ab_blocking(),
                            1 => p.ba_blocking(),
                            2 => futures::executor::block_on(p.ab()),
                            3 => futures::executor::block_on(p.ba()),
                            4 => p.ab_timeout(),
                            _ => p.ba_cancelled(),
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    pair.check();
}

#[cfg(feature = "std")]
/// Many mutexes, many overlapping sets named in different orders, across threads.
#[test]
fn overlapping_sets_of_many_mutexes_finish() {
    let rounds = if cfg!(miri) { 10 } else { 2_000 };
    let ms: Arc<Vec<Mutex<u64>>> = Arc::new((0..5).map(|_| Mutex::new(0)).collect());
    let m2 = ms.clone();
    with_watchdog(Duration::from_secs(120), move || {
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let ms = m2.clone();
                thread::spawn(move || {
                    for r in 0..rounds {
                        // Sets of three, rotated and reversed by thread and round.
                        let mut idx = [(t + r) % 5, (t + r + 1) % 5, (t + r + 3) % 5];
                        if (t + r) % 2 == 0 {
                            idx.reverse();
                        }
                        let set = [&ms[idx[0]], &ms[idx[1]], &ms[idx[2]]];
                        let mut guards = if r % 3 == 0 {
                            futures::executor::block_on(lock_all(set))
                        } else {
                            lock_all_blocking(set)
                        };
                        for g in &mut guards {
                            **g += 1;
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
    let total: u64 = ms.iter().map(|m| *m.try_lock().unwrap()).sum();
    assert_eq!(total, 4 * 3 * rounds as u64);
}

/// A future under `select!`-style racing: the losing multi-lock is dropped while queued and
/// the winner's release still reaches the next waiter.
#[test]
fn a_multi_lock_that_loses_a_race_is_withdrawn() {
    let (a, b) = (Mutex::new(0), Mutex::new(0));
    let held = a.try_lock().unwrap();
    let mut racing = Box::pin(lock_all((&b, &a)));
    let c = Counter::new();
    assert!(c.poll(&mut racing).is_pending());
    let mut next = Box::pin(a.lock());
    let cn = Counter::new();
    assert_pending!(cn, next);
    drop(racing); // lost the race
    drop(held);
    assert!(cn.count() > 0, "the next waiter was woken");
    drop(assert_ready!(cn, next));
    assert!(all_free(&[&a, &b]));
}

/// `lock_all` is usable as a plain `Future` in generic code.
#[test]
fn lock_all_is_a_future() {
    fn assert_future<F: Future + Send>(_: &F) {}
    let (a, b) = (Mutex::new(0), Mutex::new(0));
    let fut = lock_all((&a, &b));
    assert_future(&fut);
}

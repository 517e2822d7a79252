//! Stress tests of `Barrier`, `Condvar`, `Event`, `WaitGroup` and `ShutdownSignal`, for the
//! mixes that the per-primitive files leave out.
//!
//! Async waits on tokio and smol, cancelled at random points, share each primitive with
//! blocking waits, timed or not: barriers are aborted and reset at random, and each of their
//! generations must still hand out every index once; condvar notifications must survive the
//! waits that were notified and then dropped, also past one batch of wake-ups and on to
//! blocking waiters; timed blocking waits must count the event pulses and the wait group zeros
//! that came while they waited; drain waits must not end while a guard is alive. A few
//! poll-level checks take resets and notifications past one batch of wake-ups, and every
//! blocking wait is tried with a zero and an endless timeout.
//!
//! Nothing here asserts on how long anything took. A lost wake-up shows up as a hang, which
//! `common::no_deadlock` turns into a failure; in the storms, `common::no_stall` does, once
//! they make no step for a minute, so a storm may run as long as its scale asks.
//!
//! `UNISYNC_STRESS_SCALE` multiplies the rounds of every storm (default 1; tests/stress_locks.rs
//! reads it too; set it to 20 or more in release mode for a longer soak; at 400 some
//! storms run for minutes).
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{no_deadlock, no_stall, runtime, spawn, stress_scale, wait_until, Rng, HANG};
use unisync::{
    Barrier, BarrierTimeoutError, BarrierWaitResult, Condvar, Event, Mutex, ShutdownSignal,
    WaitGroup,
};

/// Checks that one generation's indices are `0..parties`, each once.
#[track_caller]
fn check_permutation(what: &str, indices: &[usize], parties: usize) {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..parties).collect::<Vec<_>>(),
        "{what}: not one index of 0..{parties} each"
    );
}

/// Checks that the `g`-th result of every party belongs to one generation `g`.
fn check_every_generation(per_party: &[Vec<usize>], rounds: usize, parties: usize) {
    for g in 0..rounds {
        let indices: Vec<_> = per_party.iter().map(|party| party[g]).collect();
        check_permutation(&format!("generation {g}"), &indices, parties);
    }
}

// ---------------------------------------------------------------------------------------------
// Barrier
// ---------------------------------------------------------------------------------------------

/// As many participants as parties (tokio tasks, a smol task, a blocking thread and threads
/// with short timeouts, which withdraw and come back) wait round after round, while a thread
/// aborts and resets the barrier at random. No async wait is cancelled and everyone waits on
/// every generation, so the `g`-th success of each participant comes from the same
/// generation, which must have handed out every index once.
#[test]
fn barrier_abort_reset_chaos_keeps_every_generation_a_permutation() {
    const ROUNDS: usize = 120;
    const PARTIES: usize = 6;
    no_stall(|progress| {
        for run in 0..3 * stress_scale() as u64 {
            progress.step();
            let barrier = Arc::new(Barrier::new(PARTIES));
            let rt = runtime();
            let tokio_parties: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    rt.spawn(async move {
                        let mut out = Vec::new();
                        while out.len() < ROUNDS {
                            match barrier.wait().await {
                                Ok(r) => out.push(r.index()),
                                // Broken: wait for the reset rather than spin.
                                Err(_) => tokio::time::sleep(Duration::from_micros(50)).await,
                            }
                        }
                        out
                    })
                })
                .collect();
            let smol_party = {
                let barrier = barrier.clone();
                thread::spawn(move || {
                    smol::block_on(async move {
                        let mut out = Vec::new();
                        while out.len() < ROUNDS {
                            match barrier.wait().await {
                                Ok(r) => out.push(r.index()),
                                Err(_) => {
                                    smol::Timer::after(Duration::from_micros(50)).await;
                                }
                            }
                        }
                        out
                    })
                })
            };
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let barrier = barrier.clone();
                    thread::spawn(move || {
                        let mut rng = Rng::new(0xABCD_EF01 ^ (run * 7 + t + 1));
                        let mut out = Vec::new();
                        while out.len() < ROUNDS {
                            let r = if t == 0 {
                                barrier
                                    .wait_blocking()
                                    .map_err(|_| BarrierTimeoutError::Broken)
                            } else {
                                let timeout = Duration::from_millis(rng.below(3));
                                barrier.wait_blocking_timeout(timeout)
                            };
                            match r {
                                Ok(r) => out.push(r.index()),
                                Err(BarrierTimeoutError::Timeout) => {}
                                Err(BarrierTimeoutError::Broken) => {
                                    thread::sleep(Duration::from_micros(50));
                                }
                            }
                        }
                        out
                    })
                })
                .collect();
            let done = Arc::new(AtomicBool::new(false));
            let chaos = {
                let (barrier, done) = (barrier.clone(), done.clone());
                thread::spawn(move || {
                    let mut rng = Rng::new(0x5555_1234 + run);
                    while !done.load(SeqCst) {
                        assert!(barrier.n_waiting() <= barrier.parties());
                        if rng.below(3) == 0 {
                            barrier.abort();
                        } else {
                            barrier.reset();
                        }
                        // Lets some generations trip between two breaks.
                        thread::sleep(Duration::from_micros(rng.below(3000)));
                        barrier.reset();
                        thread::sleep(Duration::from_micros(rng.below(3000)));
                    }
                })
            };
            let mut per_party: Vec<Vec<usize>> = Vec::new();
            for p in tokio_parties {
                per_party.push(rt.block_on(p).unwrap());
            }
            per_party.push(smol_party.join().unwrap());
            for t in threads {
                per_party.push(t.join().unwrap());
            }
            done.store(true, SeqCst);
            chaos.join().unwrap();
            check_every_generation(&per_party, ROUNDS, PARTIES);
            assert!(!barrier.is_broken());
            assert_eq!(barrier.n_waiting(), 0);
        }
    });
}

/// As many participants as parties, without breaks: threads wait with short timeouts (they
/// withdraw, or win a trip at their deadline), and each async wait is polled once in one tokio
/// task and finished in another, so its waker changes. Still one whole generation per round.
#[test]
fn barrier_timed_threads_and_tasks_moving_waits_keep_generations_whole() {
    const ROUNDS: usize = 300;
    const PARTIES: usize = 5;
    no_deadlock(|| {
        // Leaked so that a wait can move into a task of its own.
        let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(PARTIES)));
        let rt = runtime();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                rt.spawn(async move {
                    let mut out = Vec::new();
                    for _ in 0..ROUNDS {
                        let r = tokio::spawn(async move {
                            let mut wait = Box::pin(barrier.wait());
                            match futures::poll!(wait.as_mut()) {
                                Poll::Ready(r) => r,
                                Poll::Pending => tokio::spawn(wait).await.unwrap(),
                            }
                        })
                        .await
                        .unwrap();
                        out.push(r.expect("never broken").index());
                    }
                    out
                })
            })
            .collect();
        let threads: Vec<_> = (0..3)
            .map(|t| {
                thread::spawn(move || {
                    let mut rng = Rng::new(0x1357_9BDF ^ (t + 1));
                    let mut out = Vec::new();
                    while out.len() < ROUNDS {
                        let timeout = Duration::from_micros(rng.below(400));
                        match barrier.wait_blocking_timeout(timeout) {
                            Ok(r) => out.push(r.index()),
                            Err(BarrierTimeoutError::Timeout) => {}
                            Err(BarrierTimeoutError::Broken) => panic!("never aborted"),
                        }
                    }
                    out
                })
            })
            .collect();
        let mut per_party = Vec::new();
        for t in tasks {
            per_party.push(rt.block_on(t).unwrap());
        }
        for t in threads {
            per_party.push(t.join().unwrap());
        }
        check_every_generation(&per_party, ROUNDS, PARTIES);
        assert_eq!(barrier.n_waiting(), 0);
    });
}

/// Async waits cancelled at random points by tokio and smol timers, beside timed blocking
/// waits. A cancelled wait that the trip had released gives up its result and takes no index,
/// so a generation may return fewer results; but the results stay dense: index 0 (the
/// leader) at least as often as index 1, and so on, and never an index of `parties` or more.
/// A clean round afterwards trips whole.
#[test]
fn barrier_waits_cancelled_at_random_keep_indices_dense() {
    const PARTIES: usize = 4;
    no_stall(|progress| {
        for run in 0..4 * stress_scale() as u64 {
            progress.step();
            let barrier = Arc::new(Barrier::new(PARTIES));
            // Results by index; the last slot counts indices out of range.
            let by_index: Arc<Vec<AtomicUsize>> =
                Arc::new((0..=PARTIES).map(|_| AtomicUsize::new(0)).collect());
            let record = |by_index: &[AtomicUsize], r: BarrierWaitResult| {
                by_index[r.index().min(PARTIES)].fetch_add(1, SeqCst);
            };
            let rt = runtime();
            let tasks: Vec<_> = (0..2)
                .map(|t| {
                    let (barrier, by_index) = (barrier.clone(), by_index.clone());
                    rt.spawn(async move {
                        let mut rng = Rng::new(0x2468_ACE0 ^ (run * 11 + t + 1));
                        for _ in 0..400 {
                            let timeout = Duration::from_micros(rng.below(120));
                            let wait = tokio::time::timeout(timeout, barrier.wait());
                            if let Ok(r) = wait.await {
                                record(&by_index, r.expect("never broken"));
                            }
                        }
                    })
                })
                .collect();
            let smol_party = {
                let (barrier, by_index) = (barrier.clone(), by_index.clone());
                thread::spawn(move || {
                    let mut rng = Rng::new(0x600D_F00D ^ (run + 1));
                    smol::block_on(async move {
                        for _ in 0..400 {
                            let timeout = Duration::from_micros(rng.below(120));
                            let r = smol::future::or(async { Some(barrier.wait().await) }, async {
                                smol::Timer::after(timeout).await;
                                None
                            })
                            .await;
                            if let Some(r) = r {
                                record(&by_index, r.expect("never broken"));
                            }
                        }
                    })
                })
            };
            let thread_party = {
                let (barrier, by_index) = (barrier.clone(), by_index.clone());
                thread::spawn(move || {
                    let mut rng = Rng::new(0xFEED_BEEF ^ (run + 1));
                    for _ in 0..400 {
                        let timeout = Duration::from_micros(rng.below(120));
                        if let Ok(r) = barrier.wait_blocking_timeout(timeout) {
                            record(&by_index, r);
                        }
                    }
                })
            };
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            smol_party.join().unwrap();
            thread_party.join().unwrap();
            let counts: Vec<_> = by_index.iter().map(|c| c.load(SeqCst)).collect();
            assert_eq!(
                counts[PARTIES], 0,
                "run {run}: an index out of range: {counts:?}"
            );
            for i in 1..PARTIES {
                assert!(
                    counts[i] <= counts[i - 1],
                    "run {run}: index {i} more often than index {}: {counts:?}",
                    i - 1
                );
            }
            assert!(!barrier.is_broken());
            assert_eq!(barrier.n_waiting(), 0, "run {run}: parties left counted");
            let clean: Vec<_> = (0..PARTIES)
                .map(|_| {
                    let barrier = barrier.clone();
                    thread::spawn(move || barrier.wait_blocking().unwrap().index())
                })
                .collect();
            let indices: Vec<_> = clean.into_iter().map(|t| t.join().unwrap()).collect();
            check_permutation(&format!("run {run}: clean round"), &indices, PARTIES);
        }
    });
}

/// `abort` and `reset` while async waits, a blocking wait and a timed blocking wait are all
/// parked: each of them fails (the timed one with `Broken`, not `Timeout`), and after the
/// reset a fresh generation of tasks and threads trips whole.
#[test]
fn barrier_abort_and_reset_fail_async_and_blocking_parties_alike() {
    no_deadlock(|| {
        for reset_instead in [false, true] {
            let barrier = Arc::new(Barrier::new(5));
            let mut waits = [spawn(barrier.wait()), spawn(barrier.wait())];
            for w in &mut waits {
                w.assert_pending();
            }
            let blocking = {
                let barrier = barrier.clone();
                thread::spawn(move || barrier.wait_blocking().is_err())
            };
            let timed = {
                let barrier = barrier.clone();
                thread::spawn(move || barrier.wait_blocking_timeout(HANG))
            };
            wait_until("four parties to arrive", || barrier.n_waiting() == 4);
            if reset_instead {
                barrier.reset();
            } else {
                barrier.abort();
            }
            assert_eq!(barrier.is_broken(), !reset_instead);
            assert_eq!(barrier.n_waiting(), 0);
            assert!(blocking.join().unwrap(), "the blocking party did not fail");
            assert_eq!(timed.join().unwrap(), Err(BarrierTimeoutError::Broken));
            for w in &mut waits {
                assert!(w.is_woken(), "an async party was not woken");
                assert!(w.assert_ready().is_err());
            }
            barrier.reset();
            // A fresh generation of five: three tasks and two threads.
            let mut waits: Vec<_> = (0..3).map(|_| spawn(barrier.wait())).collect();
            for w in &mut waits {
                w.assert_pending();
            }
            assert_eq!(barrier.n_waiting(), 3);
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    thread::spawn(move || barrier.wait_blocking().unwrap().index())
                })
                .collect();
            let mut indices: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            for w in &mut waits {
                assert!(w.is_woken(), "a task was not woken by the trip");
                indices.push(w.assert_ready().unwrap().index());
            }
            check_permutation("the generation after the reset", &indices, 5);
            assert_eq!(barrier.n_waiting(), 0);
        }
    });
}

/// More parties than one batch of wake-ups: a reset fails 70 parked parties, and 70 newcomers
/// that arrive before those have left wait outside, uncounted. As the failed ones leave (some
/// dropped, some polled) the newcomers are let in, and with 30 more they trip one generation
/// of 100 that hands out every index once.
#[test]
fn barrier_reset_with_more_than_a_batch_of_parties_then_a_full_generation() {
    let barrier = Barrier::new(100);
    let mut old: Vec<_> = (0..70).map(|_| spawn(barrier.wait())).collect();
    for w in &mut old {
        w.assert_pending();
    }
    assert_eq!(barrier.n_waiting(), 70);
    barrier.reset();
    assert_eq!(barrier.n_waiting(), 0);
    let mut newcomers: Vec<_> = (0..70).map(|_| spawn(barrier.wait())).collect();
    for w in &mut newcomers {
        w.assert_pending();
    }
    assert_eq!(
        barrier.n_waiting(),
        0,
        "newcomers wait outside while the old ones leave"
    );
    for (i, mut w) in old.into_iter().enumerate() {
        assert!(w.is_woken(), "old party {i} was not woken by the reset");
        // Every third leaves by being dropped unpolled.
        if i % 3 != 0 {
            assert!(w.assert_ready().is_err(), "old party {i}");
        }
    }
    for (i, w) in newcomers.iter_mut().enumerate() {
        assert!(
            w.is_woken(),
            "newcomer {i} was not let in once the old parties left"
        );
        w.assert_pending();
    }
    assert_eq!(barrier.n_waiting(), 70);
    let mut more: Vec<_> = (0..30).map(|_| spawn(barrier.wait())).collect();
    let mut last = more.pop().unwrap();
    for w in &mut more {
        w.assert_pending();
    }
    let mut indices = vec![last.assert_ready().expect("the last party trips").index()];
    for w in newcomers.iter_mut().chain(&mut more) {
        indices.push(w.assert_ready().expect("released by the trip").index());
    }
    check_permutation("the generation of 100", &indices, 100);
    assert_eq!(barrier.n_waiting(), 0);
}

// ---------------------------------------------------------------------------------------------
// Condvar
// ---------------------------------------------------------------------------------------------

struct Queue {
    items: usize,
    stop: bool,
}

/// Round after round, a producer queues 1 to 3 items and sends as many notifications
/// (`notify_many`, or `notify_one` as many times). Consumers that wait for good (`wait_while`
/// the queue is empty, on two tokio tasks and a thread) share the condvar with consumers whose
/// every plain `wait` is bounded by a short random timeout (tokio, smol, a timed blocking
/// thread) and that take an item only when notified. These never check the queue before
/// waiting, so they cannot make up for a notification that a dropped wait did not pass on:
/// were one lost, the round's items would stay queued while the other consumers sleep.
#[test]
fn condvar_notifications_survive_waits_cancelled_at_random_points() {
    no_stall(|progress| {
        let queue = Arc::new(Mutex::new(Queue {
            items: 0,
            stop: false,
        }));
        let cv = Arc::new(Condvar::new());
        let consumed = Arc::new(AtomicUsize::new(0));
        let stop_bounded = Arc::new(AtomicBool::new(false));
        let take = |q: &mut Queue, consumed: &AtomicUsize| {
            if q.items > 0 {
                q.items -= 1;
                consumed.fetch_add(1, SeqCst);
            }
        };
        let rt = runtime();
        let tasks_for_good: Vec<_> = (0..2)
            .map(|_| {
                let (queue, cv, consumed) = (queue.clone(), cv.clone(), consumed.clone());
                rt.spawn(async move {
                    let mut q = queue.lock().await;
                    loop {
                        q = cv.wait_while(q, |q| q.items == 0 && !q.stop).await;
                        if q.items == 0 {
                            break;
                        }
                        take(&mut q, &consumed);
                    }
                })
            })
            .collect();
        let thread_for_good = {
            let (queue, cv, consumed) = (queue.clone(), cv.clone(), consumed.clone());
            thread::spawn(move || {
                let mut q = queue.lock_blocking();
                loop {
                    q = cv.wait_while_blocking(q, |q| q.items == 0 && !q.stop);
                    if q.items == 0 {
                        break;
                    }
                    take(&mut q, &consumed);
                }
            })
        };
        // What each waiter that gives up at random takes along.
        let bounded = || {
            (
                queue.clone(),
                cv.clone(),
                consumed.clone(),
                stop_bounded.clone(),
            )
        };
        let bounded_tasks: Vec<_> = (0..2)
            .map(|t| {
                let (queue, cv, consumed, stop) = bounded();
                rt.spawn(async move {
                    let mut rng = Rng::new(0xC0DE_0000 ^ (t + 1));
                    while !stop.load(SeqCst) {
                        let q = queue.lock().await;
                        let timeout = Duration::from_micros(rng.below(60));
                        if let Ok(mut q) = tokio::time::timeout(timeout, cv.wait(q)).await {
                            take(&mut q, &consumed);
                        }
                    }
                })
            })
            .collect();
        let bounded_smol = {
            let (queue, cv, consumed, stop) = bounded();
            thread::spawn(move || {
                let mut rng = Rng::new(0x5EED_5EED);
                smol::block_on(async move {
                    while !stop.load(SeqCst) {
                        let q = queue.lock_owned().await;
                        let timeout = Duration::from_micros(rng.below(300));
                        let notified = smol::future::or(async { Some(cv.wait(q).await) }, async {
                            smol::Timer::after(timeout).await;
                            None
                        })
                        .await;
                        if let Some(mut q) = notified {
                            take(&mut q, &consumed);
                        }
                    }
                })
            })
        };
        let bounded_thread = {
            let (queue, cv, consumed, stop) = bounded();
            thread::spawn(move || {
                let mut rng = Rng::new(0x7173_7173);
                while !stop.load(SeqCst) {
                    let q = queue.lock_blocking();
                    let timeout = Duration::from_micros(rng.below(300));
                    let (mut q, res) = cv.wait_blocking_timeout(q, timeout);
                    if !res.timed_out() {
                        take(&mut q, &consumed);
                    }
                }
            })
        };
        let mut rng = Rng::new(42);
        let mut queued = 0;
        for round in 0..400 * stress_scale() {
            progress.step();
            let k = 1 + rng.below(3) as usize;
            queue.lock_blocking().items += k;
            queued += k;
            if round % 3 == 0 {
                cv.notify_many(k);
            } else {
                for _ in 0..k {
                    cv.notify_one();
                }
            }
            wait_until(&format!("round {round}: a lost notification?"), || {
                consumed.load(SeqCst) == queued
            });
        }
        stop_bounded.store(true, SeqCst);
        for t in bounded_tasks {
            rt.block_on(t).unwrap();
        }
        bounded_smol.join().unwrap();
        bounded_thread.join().unwrap();
        queue.lock_blocking().stop = true;
        cv.notify_all();
        for t in tasks_for_good {
            rt.block_on(t).unwrap();
        }
        thread_for_good.join().unwrap();
        assert_eq!(consumed.load(SeqCst), queued);
    });
}

/// A notified wait, locking the mutex again, is overtaken once by a barger and then handed
/// the mutex by the barger's unlock; dropped before it runs, it must both unlock the mutex and
/// pass its `notify_one` on to the next waiter, here a blocking thread.
#[test]
fn condvar_wait_dropped_while_holding_a_handed_mutex_passes_both_on() {
    no_deadlock(|| {
        let m = Arc::new(Mutex::new(0u32));
        let cv = Arc::new(Condvar::new());
        let mut wait = spawn(cv.wait(m.try_lock_owned().unwrap()));
        wait.assert_pending();
        let thread = {
            let (m, cv) = (m.clone(), cv.clone());
            thread::spawn(move || {
                let mut g = m.lock_blocking();
                // Seen by the test once this wait has released the mutex.
                *g = 1;
                let (g, res) = cv.wait_blocking_timeout(g, HANG);
                (*g, res.timed_out())
            })
        };
        wait_until("the thread to queue on the condvar", || {
            m.try_lock().is_some_and(|g| *g == 1)
        });
        let holder = m.try_lock().unwrap();
        cv.notify_one();
        assert!(wait.is_woken());
        wait.assert_pending();
        drop(holder);
        let barger = m
            .try_lock()
            .expect("the freed mutex can be taken by a barger");
        wait.assert_pending();
        drop(barger);
        assert!(m.is_locked(), "handed to the overtaken wait");
        drop(wait);
        assert_eq!(
            thread.join().unwrap(),
            (1, false),
            "the notification did not reach the blocking waiter"
        );
        assert!(!m.is_locked());
    });
}

/// `notify_many(3)` to two waiting futures, the oldest, and three threads queued after them.
/// Both futures are dropped once notified, so their notifications go on to the threads: all
/// three return notified (none times out).
#[test]
fn condvar_notify_many_passed_on_from_dropped_futures_to_blocking_waiters() {
    no_deadlock(|| {
        let m = Arc::new(Mutex::new(0usize));
        let cv = Arc::new(Condvar::new());
        // Each wait releases the mutex at its first poll, for the next to take.
        let waits: Vec<_> = (0..2)
            .map(|_| {
                let mut w = spawn(cv.wait(m.try_lock_owned().unwrap()));
                w.assert_pending();
                w
            })
            .collect();
        let threads: Vec<_> = (1..=3)
            .map(|i| {
                let thread = {
                    let (m, cv) = (m.clone(), cv.clone());
                    thread::spawn(move || {
                        let mut g = m.lock_blocking();
                        *g += 1;
                        cv.wait_blocking_timeout(g, HANG).1.timed_out()
                    })
                };
                // Queued in this order: each thread's wait released the mutex.
                wait_until("the thread to queue", || {
                    m.try_lock().is_some_and(|g| *g == i)
                });
                thread
            })
            .collect();
        cv.notify_many(3);
        assert!(waits.iter().all(|w| w.is_woken()));
        drop(waits);
        for t in threads {
            assert!(
                !t.join().unwrap(),
                "a thread timed out: a notification was lost"
            );
        }
    });
}

/// `wait_while_blocking_timeout` bounds the whole wait, not each sleep between wake-ups: under
/// a stream of notifications and a condition that stays true it still ends, reports the
/// timeout and holds the mutex. The async `wait_while` under a runtime timeout gives the mutex
/// back when it is dropped.
#[test]
fn condvar_wait_while_timeout_is_total_under_notification_spam() {
    no_deadlock(|| {
        let m = Arc::new(Mutex::new(0u64));
        let cv = Arc::new(Condvar::new());
        let stop = Arc::new(AtomicBool::new(false));
        let spammer = {
            let (m, cv, stop) = (m.clone(), cv.clone(), stop.clone());
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(SeqCst) {
                    *m.lock_blocking() += 1;
                    if i % 2 == 0 {
                        cv.notify_all();
                    } else {
                        cv.notify_one();
                    }
                    i += 1;
                    thread::sleep(Duration::from_micros(100));
                }
            })
        };
        for _ in 0..5 {
            let mut checks = 0;
            let (g, res) = cv.wait_while_blocking_timeout(
                m.lock_blocking(),
                Duration::from_millis(30),
                |_| {
                    checks += 1;
                    true
                },
            );
            assert!(res.timed_out());
            assert!(m.is_locked(), "the guard came back");
            drop(g);
            assert!(checks >= 1);
        }
        let rt = runtime();
        rt.block_on(async {
            let g = m.lock().await;
            let wait = cv.wait_while(g, |_| true);
            assert!(tokio::time::timeout(Duration::from_millis(30), wait)
                .await
                .is_err());
        });
        assert!(
            !m.is_locked(),
            "a dropped async wait_while left the mutex locked"
        );
        stop.store(true, SeqCst);
        spammer.join().unwrap();
    });
}

/// `notify_many(40)` over 60 waits, more than one batch of wake-ups; of the 40 notified, every
/// third is dropped before it runs and passes its notification on to the next in line. In
/// the end exactly 40 waits complete, and the rest stay pending until a `notify_all`.
#[test]
fn condvar_notify_many_past_a_batch_with_drops_keeps_the_count() {
    let m = Arc::new(Mutex::new(()));
    let cv = Condvar::new();
    let mut waits: Vec<_> = (0..60)
        .map(|_| {
            let mut w = spawn(cv.wait(m.try_lock_owned().unwrap()));
            w.assert_pending();
            Some(w)
        })
        .collect();
    cv.notify_many(40);
    let mut dropped = 0;
    for (i, slot) in waits.iter_mut().enumerate() {
        if i < 40 && i % 3 == 0 {
            assert!(
                slot.as_ref().is_some_and(|w| w.is_woken()),
                "wait {i} was notified"
            );
            *slot = None;
            dropped += 1;
        }
    }
    assert_eq!(dropped, 14);
    let mut completed = 0;
    for w in waits.iter_mut().flatten() {
        if w.is_woken() {
            drop(w.assert_ready());
            completed += 1;
        } else {
            w.assert_pending();
        }
    }
    assert_eq!(
        completed, 40,
        "the dropped waits' notifications were passed on"
    );
    cv.notify_all();
    let mut left = 0;
    for w in waits.iter_mut().flatten().filter(|w| w.is_woken()) {
        drop(w.assert_ready());
        left += 1;
    }
    assert_eq!(left, 60 - dropped - 40);
}

// ---------------------------------------------------------------------------------------------
// Event, WaitGroup
// ---------------------------------------------------------------------------------------------

/// Threads wait with long timeouts on an event that another thread pulses (`set`, then
/// `clear`) over and over, beside tokio tasks whose waits have short random timeouts: a timed
/// wait that started before a pulse must return `true`, though the event is clear again by
/// the time the thread runs (its timeout is far longer than the test).
#[test]
fn event_pulses_end_timed_blocking_waits_with_true() {
    no_stall(|progress| {
        let event = Arc::new(Event::new());
        let stop = Arc::new(AtomicBool::new(false));
        let pulser = {
            let (event, stop) = (event.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(SeqCst) {
                    event.set();
                    event.clear();
                    thread::sleep(Duration::from_micros(30));
                }
            })
        };
        let rt = runtime();
        let tasks: Vec<_> = (0..3)
            .map(|t| {
                let event = event.clone();
                rt.spawn(async move {
                    let mut rng = Rng::new(0xE7E7 ^ (t + 1));
                    for _ in 0..300 {
                        let timeout = Duration::from_micros(rng.below(200));
                        let _ = tokio::time::timeout(timeout, event.wait()).await;
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (event, progress) = (event.clone(), progress.clone());
                thread::spawn(move || {
                    for i in 0..300 * stress_scale() {
                        assert!(
                            event.wait_blocking_timeout(HANG),
                            "timed wait {i} returned false though pulses kept coming"
                        );
                        progress.step();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        stop.store(true, SeqCst);
        pulser.join().unwrap();
        assert!(!event.is_set());
    });
}

/// Three churners in lockstep take tokens and drop them, so the count passes through zero at
/// every step and comes straight back. Waits of every kind (tokio tasks, some under random
/// timeouts; threads, one with short timeouts) each start while work is out: a wait that
/// started before a zero ends at that zero though the work is back at once, so each of them
/// completes its share of waits.
#[test]
fn wait_group_zeros_end_queued_waits_while_work_keeps_coming() {
    const CHURNERS: usize = 3;
    no_stall(|progress| {
        let waits = 150 * stress_scale();
        let group = WaitGroup::new();
        let stop = Arc::new(AtomicBool::new(false));
        let step = Arc::new(std::sync::Barrier::new(CHURNERS));
        let quit = Arc::new(AtomicBool::new(false));
        let churners: Vec<_> = (0..CHURNERS)
            .map(|_| {
                let (group, stop, step, quit) =
                    (group.clone(), stop.clone(), step.clone(), quit.clone());
                thread::spawn(move || loop {
                    // One decision for every churner, so that they leave together.
                    if step.wait().is_leader() {
                        quit.store(stop.load(SeqCst), SeqCst);
                    }
                    step.wait();
                    if quit.load(SeqCst) {
                        break;
                    }
                    let token = group.token();
                    let clone = token.clone();
                    thread::sleep(Duration::from_micros(200));
                    drop(token);
                    drop(clone);
                    // The zero lasts only until every churner has passed this step.
                    step.wait();
                })
            })
            .collect();
        let rt = runtime();
        let tasks: Vec<_> = (0..3)
            .map(|t| {
                let (group, progress) = (group.clone(), progress.clone());
                rt.spawn(async move {
                    let mut rng = Rng::new(0xBA5E ^ (t + 1));
                    let mut done = 0;
                    while done < waits {
                        while group.count() == 0 {
                            tokio::task::yield_now().await;
                        }
                        if t == 0 {
                            group.wait().await;
                            done += 1;
                            progress.step();
                        } else {
                            let timeout = Duration::from_micros(rng.below(100));
                            if tokio::time::timeout(timeout, group.wait()).await.is_ok() {
                                done += 1;
                                progress.step();
                            }
                        }
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|t| {
                let (group, progress) = (group.clone(), progress.clone());
                thread::spawn(move || {
                    let mut done = 0;
                    while done < waits {
                        while group.count() == 0 {
                            thread::yield_now();
                        }
                        if t == 0 {
                            group.wait_blocking();
                            done += 1;
                            progress.step();
                        } else if group.wait_blocking_timeout(Duration::from_micros(50)) {
                            done += 1;
                            progress.step();
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
        stop.store(true, SeqCst);
        for c in churners {
            c.join().unwrap();
        }
        assert_eq!(group.count(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// ShutdownSignal
// ---------------------------------------------------------------------------------------------

/// Drain waits on the root and on a subsystem, of every kind (tokio tasks whose waits keep
/// timing out and starting again, a smol task, a blocking thread), while the guards tracked
/// under four grandchildren go one by one after the trigger: no drain wait ends while a guard
/// is alive, and all of them end once the last is gone.
#[test]
fn shutdown_drains_end_only_once_the_last_guard_is_gone() {
    no_stall(|progress| {
        for run in 0..20 * stress_scale() as u64 {
            progress.step();
            let root = ShutdownSignal::new();
            let sub = root.child();
            let leaves: Vec<_> = (0..4).map(|_| sub.child()).collect();
            let mut guards: Vec<_> = leaves.iter().map(|l| l.track()).collect();
            let alive = Arc::new(AtomicUsize::new(guards.len()));
            let early = Arc::new(AtomicBool::new(false));
            // A drain wait that ended: early if a guard was still counted alive.
            let ended = {
                let (alive, early) = (alive.clone(), early.clone());
                move || {
                    if alive.load(SeqCst) != 0 {
                        early.store(true, SeqCst);
                    }
                }
            };
            let rt = runtime();
            let tasks: Vec<_> = (0..4u64)
                .map(|i| {
                    let signal = if i % 2 == 0 {
                        root.clone()
                    } else {
                        sub.clone()
                    };
                    let ended = ended.clone();
                    rt.spawn(async move {
                        let mut rng = Rng::new(99 + run * 4 + i);
                        loop {
                            let timeout = Duration::from_micros(rng.below(300));
                            if tokio::time::timeout(timeout, signal.drained())
                                .await
                                .is_ok()
                            {
                                ended();
                                break;
                            }
                        }
                    })
                })
                .collect();
            let blocking = {
                let (sub, ended) = (sub.clone(), ended.clone());
                thread::spawn(move || {
                    sub.drained_blocking();
                    ended();
                })
            };
            let smol_wait = {
                let (root, ended) = (root.clone(), ended.clone());
                thread::spawn(move || {
                    smol::block_on(root.drained());
                    ended();
                })
            };
            thread::sleep(Duration::from_micros(300));
            root.trigger();
            while let Some(guard) = guards.pop() {
                thread::sleep(Duration::from_micros(100));
                // Counted gone before the last guard goes, so a drain that ends may see zero;
                // the others only after, so none can.
                if guards.is_empty() {
                    alive.fetch_sub(1, SeqCst);
                    drop(guard);
                } else {
                    drop(guard);
                    alive.fetch_sub(1, SeqCst);
                }
            }
            for t in tasks {
                rt.block_on(t).unwrap();
            }
            blocking.join().unwrap();
            smol_wait.join().unwrap();
            assert!(
                !early.load(SeqCst),
                "run {run}: a drain ended while a guard was alive"
            );
        }
    });
}

/// Threads race `trigger` on a root, its child and its grandchild: the root's triggers return
/// `true` exactly once, the others' at most once, and once every call has returned the whole
/// tree has fired and its waits are over.
#[test]
fn concurrent_triggers_report_true_at_most_once_per_signal() {
    no_stall(|progress| {
        for _ in 0..300 * stress_scale() {
            progress.step();
            let root = ShutdownSignal::new();
            let mid = root.child();
            let leaf = mid.child();
            let tree = [root, mid, leaf];
            let mut waits: Vec<_> = tree.iter().map(|s| spawn(s.wait_owned())).collect();
            for w in &mut waits {
                w.assert_pending();
            }
            let go = Arc::new(std::sync::Barrier::new(6));
            let triggers: Vec<_> = (0..6)
                .map(|i| {
                    let (signal, go) = (tree[i % 3].clone(), go.clone());
                    thread::spawn(move || {
                        go.wait();
                        (i % 3, signal.trigger())
                    })
                })
                .collect();
            let mut fired = [0; 3];
            for t in triggers {
                let (which, fired_it) = t.join().unwrap();
                fired[which] += usize::from(fired_it);
            }
            assert_eq!(fired[0], 1, "the root's triggers: {fired:?}");
            assert!(fired[1] <= 1 && fired[2] <= 1, "{fired:?}");
            for s in &tree {
                assert!(s.is_triggered());
                assert!(!s.trigger());
            }
            for w in &mut waits {
                assert!(w.is_woken());
                w.assert_ready();
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Timeouts at their edges
// ---------------------------------------------------------------------------------------------

/// A zero timeout still succeeds where no waiting is needed (the barrier party that trips, a
/// set event) and fails cleanly otherwise, leaving nothing counted; `Duration::MAX`, too long
/// to add to the clock, waits as an unbounded wait does, on every primitive.
#[test]
fn zero_and_max_timeouts_on_every_blocking_wait() {
    no_deadlock(|| {
        // Barrier
        let b = Arc::new(Barrier::new(2));
        assert_eq!(
            b.wait_blocking_timeout(Duration::ZERO),
            Err(BarrierTimeoutError::Timeout)
        );
        assert_eq!(b.n_waiting(), 0);
        let mut first = spawn(b.wait());
        first.assert_pending();
        let r = b
            .wait_blocking_timeout(Duration::ZERO)
            .expect("the last party trips at once");
        let r2 = first.assert_ready().expect("released");
        check_permutation("zero timeout", &[r.index(), r2.index()], 2);
        assert!(Barrier::new(1)
            .wait_blocking_timeout(Duration::ZERO)
            .unwrap()
            .is_leader());
        let mut mine = None;
        let theirs = common::blocked_until_released(
            || b.wait_blocking_timeout(Duration::MAX).unwrap().index(),
            || mine = Some(b.wait_blocking().unwrap().index()),
        );
        check_permutation("max timeout", &[mine.unwrap(), theirs], 2);

        // Condvar
        let (m, cv) = (Mutex::new(false), Condvar::new());
        let woken = common::blocked_until_released(
            || {
                let (g, res) =
                    cv.wait_while_blocking_timeout(m.lock_blocking(), Duration::MAX, |v| !*v);
                (*g, res.timed_out())
            },
            || {
                *m.lock_blocking() = true;
                cv.notify_one();
            },
        );
        assert_eq!(woken, (true, false));

        // Event
        let e = Event::new();
        assert!(!e.wait_blocking_timeout(Duration::ZERO));
        let set =
            common::blocked_until_released(|| e.wait_blocking_timeout(Duration::MAX), || e.set());
        assert!(set);
        assert!(e.wait_blocking_timeout(Duration::ZERO));

        // WaitGroup
        let g = WaitGroup::new();
        let token = g.token();
        assert!(common::blocked_until_released(
            || g.wait_blocking_timeout(Duration::MAX),
            || drop(token),
        ));

        // ShutdownSignal
        let s = ShutdownSignal::new();
        let c = s.child();
        let guard = c.track();
        let fired = common::blocked_until_released(
            || c.wait_blocking_timeout(Duration::MAX),
            || {
                s.trigger();
            },
        );
        assert!(fired);
        assert!(common::blocked_until_released(
            || c.drained_blocking_timeout(Duration::MAX),
            || drop(guard),
        ));
    });
}

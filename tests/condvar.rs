//! Tests of `Condvar`: poll-level protocol tests, cancellation, blocking waits, and tasks and
//! threads sharing one condvar.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{allocs, Counter, Stall};
use unisync::{Condvar, Mutex, MutexGuard};

common::counting_allocator!();

/// A future under test with its own counting waker.
struct Probe<F> {
    fut: Option<Pin<Box<F>>>,
    wakes: Counter,
}

impl<F: Future> Probe<F> {
    fn new(fut: F) -> Self {
        Probe {
            fut: Some(Box::pin(fut)),
            wakes: Counter::new(),
        }
    }

    fn poll(&mut self) -> Poll<F::Output> {
        let out = self
            .wakes
            .poll(self.fut.as_mut().expect("probe already finished"));
        if out.is_ready() {
            self.fut = None;
        }
        out
    }

    fn woken(&self) -> usize {
        self.wakes.count()
    }

    fn cancel(&mut self) {
        self.fut = None;
    }
}

fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected Ready, got Pending"),
    }
}

#[test]
fn notify_before_wait_does_not_wake_a_later_waiter() {
    let (m, cv) = (Mutex::new(0), Condvar::new());
    cv.notify_one();
    cv.notify_all();
    let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(w.poll().is_pending());
    assert!(!m.is_locked(), "the waiter released the mutex");
    assert!(w.poll().is_pending());
    assert_eq!(w.woken(), 0);
    cv.notify_one();
    let g = ready(w.poll());
    assert_eq!(*g, 0);
}

#[test]
fn notify_one_after_release_wakes_the_waiter() {
    let (m, cv) = (Mutex::new(1), Condvar::new());
    let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(w.poll().is_pending());
    // The waiter has released the mutex: a notifier can take it and change the state.
    *m.try_lock().expect("mutex is free while waiting") = 2;
    cv.notify_one();
    assert_eq!(w.woken(), 1);
    let g = ready(w.poll());
    assert!(m.is_locked(), "the guard holds the mutex again");
    assert_eq!(*g, 2);
    drop(g);
    assert!(!m.is_locked());
}

#[test]
fn idle_notify_does_not_allocate() {
    let cv = Condvar::new();
    let (n, ()) = allocs(|| {
        for _ in 0..10 {
            cv.notify_one();
            cv.notify_many(3);
            cv.notify_all();
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn two_notify_one_wake_two_waiters() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let mut a = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(a.poll().is_pending());
    let mut b = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(b.poll().is_pending());
    let mut c = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(c.poll().is_pending());

    // Back to back, before the first woken waiter has run.
    cv.notify_one();
    cv.notify_one();
    assert_eq!((a.woken(), b.woken(), c.woken()), (1, 1, 0));

    let ga = ready(a.poll());
    assert!(b.poll().is_pending(), "b waits for the mutex that a holds");
    drop(ga);
    drop(ready(b.poll()));
    assert!(c.poll().is_pending());
    assert_eq!(c.woken(), 0, "only two waiters were notified");
}

#[test]
fn notify_many_wakes_that_many_longest_waiters_first() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let mut ws: Vec<_> = (0..5)
        .map(|_| {
            let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
            assert!(w.poll().is_pending());
            w
        })
        .collect();
    let woken = |ws: &Vec<Probe<_>>| ws.iter().map(Probe::woken).collect::<Vec<_>>();

    cv.notify_many(0);
    assert_eq!(woken(&ws), [0, 0, 0, 0, 0], "zero wakes nobody");
    cv.notify_many(2);
    assert_eq!(woken(&ws), [1, 1, 0, 0, 0], "the two that waited longest");

    // The first woken gives up without running: its notification goes to the next in line.
    ws[0].cancel();
    assert_eq!(woken(&ws)[1..], [1, 1, 0, 0]);

    // More than are left: every remaining waiter, and nothing is kept for a later one.
    cv.notify_many(10);
    assert_eq!(woken(&ws)[1..], [1, 1, 1, 1]);
    for w in &mut ws[1..] {
        drop(ready(w.poll()));
    }
    let mut late = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(late.poll().is_pending());
    assert_eq!(late.woken(), 0, "surplus notifications are not kept");
    cv.notify_many(1);
    drop(ready(late.poll()));
    assert!(!m.is_locked());
}

#[test]
fn notify_all_wakes_every_waiter() {
    let (m, cv) = (Mutex::new(0), Condvar::new());
    let mut ws: Vec<_> = (0..4)
        .map(|_| {
            let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
            assert!(w.poll().is_pending());
            w
        })
        .collect();
    cv.notify_all();
    for w in &mut ws {
        assert_eq!(w.woken(), 1);
        let mut g = ready(w.poll());
        *g += 1;
    }
    assert_eq!(*m.try_lock().unwrap(), 4);
}

#[test]
fn dropped_notified_waiter_passes_the_notification_on() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let mut a = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(a.poll().is_pending());
    let mut b = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(b.poll().is_pending());

    cv.notify_one();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    a.cancel(); // notified but never polled again
    assert_eq!(b.woken(), 1, "the notification moved to b");
    drop(ready(b.poll()));
    assert!(!m.is_locked());
}

#[test]
fn dropped_waiter_while_relocking_passes_the_notification_on() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let mut a = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(a.poll().is_pending());
    let mut b = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(b.poll().is_pending());

    let holder = m.try_lock().unwrap();
    cv.notify_one();
    assert!(
        a.poll().is_pending(),
        "a was notified but the mutex is held"
    );
    a.cancel();
    assert_eq!(b.woken(), 1, "the notification moved to b");
    assert!(m.is_locked(), "the holder still holds the mutex");
    assert!(b.poll().is_pending());
    drop(holder);
    drop(ready(b.poll()));
    assert!(!m.is_locked());
}

/// A `notify_all` reached every waiter there was: a waiter it woke that then gives up (while
/// queued, or while locking the mutex again) owes nobody a wake-up, and must not wake a waiter
/// that started after the `notify_all`.
#[test]
fn dropped_waiter_woken_by_notify_all_passes_nothing_on() {
    for relocking in [false, true] {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        let mut a = Probe::new(cv.wait(m.try_lock().unwrap()));
        assert!(a.poll().is_pending());
        let holder = m.try_lock().unwrap();
        cv.notify_all();
        assert_eq!(a.woken(), 1);
        if relocking {
            assert!(
                a.poll().is_pending(),
                "a was notified but the mutex is held"
            );
        }
        drop(holder);
        let mut b = Probe::new(cv.wait(m.try_lock().unwrap()));
        assert!(b.poll().is_pending());
        a.cancel();
        assert_eq!(
            b.woken(),
            0,
            "relocking = {relocking}: b came after the notify_all"
        );
        assert!(b.poll().is_pending(), "relocking = {relocking}");
        assert!(!m.is_locked());
        cv.notify_one();
        assert_eq!(b.woken(), 1, "relocking = {relocking}");
        drop(ready(b.poll()));
        assert!(!m.is_locked());
    }
}

#[test]
fn dropped_unpolled_wait_releases_the_guard_once() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let w = cv.wait(m.try_lock().unwrap());
    assert!(m.is_locked());
    drop(w);
    assert!(!m.is_locked());
    // The mutex works as before (a double unlock would trip a debug assertion or corrupt it).
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_none());
    drop(g);
}

#[test]
fn dropped_waiting_wait_does_not_relock() {
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(w.poll().is_pending());
    w.cancel();
    assert!(!m.is_locked());
    // The condvar forgot the waiter: a later waiter gets the next notification.
    let mut x = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(x.poll().is_pending());
    cv.notify_one();
    drop(ready(x.poll()));
}

#[test]
#[should_panic(expected = "Condvar used with a different Mutex")]
fn wrong_mutex_panics() {
    let (a, b, cv) = (Mutex::new(()), Mutex::new(()), Condvar::new());
    let mut w = Probe::new(cv.wait(a.try_lock().unwrap()));
    assert!(w.poll().is_pending());
    drop(cv.wait(b.try_lock().unwrap()));
}

#[cfg(feature = "std")]
#[test]
fn wrong_mutex_panic_unlocks_the_guard() {
    let (a, b, cv) = (Mutex::new(()), Mutex::new(()), Condvar::new());
    drop(cv.wait_blocking_timeout(a.try_lock().unwrap(), Duration::ZERO));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = cv.wait_blocking(b.try_lock().unwrap());
    }));
    assert!(res.is_err());
    assert!(!b.is_locked());
    // Still bound to `a`.
    let (g, r) = cv.wait_blocking_timeout(a.try_lock().unwrap(), Duration::ZERO);
    assert!(r.timed_out());
    drop(g);
}

#[cfg(feature = "std")]
/// Every wait checks the binding, `wait_while` and its twins even when the condition needs
/// no wait: the guard of another mutex panics (and is unlocked), whatever the condition says.
#[test]
fn every_wait_while_checks_the_mutex_even_when_it_need_not_wait() {
    let (a, b, cv) = (Mutex::new(()), Mutex::new(()), Condvar::new());
    drop(cv.wait_while_blocking_timeout(a.try_lock().unwrap(), Duration::ZERO, |_| false));
    let waits: [&dyn Fn(); 3] = [
        &|| drop(cv.wait_while_blocking(b.try_lock().unwrap(), |_| false)),
        &|| {
            let guard = b.try_lock().unwrap();
            drop(cv.wait_while_blocking_timeout(guard, Duration::from_secs(1), |_| false))
        },
        &|| drop(cv.wait_while(b.try_lock().unwrap(), |_| false)),
    ];
    for wait in waits {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(wait));
        assert!(
            res.is_err(),
            "the condvar was bound to `a` by the first wait"
        );
        assert!(!b.is_locked());
    }
}

#[test]
fn wait_while_returns_at_once_when_condition_is_false() {
    let (m, cv) = (Mutex::new(3), Condvar::new());
    let mut calls = 0;
    let g = futures::FutureExt::now_or_never(cv.wait_while(m.try_lock().unwrap(), |v| {
        calls += 1;
        *v != 3
    }))
    .expect("no wait needed");
    assert_eq!(*g, 3);
    assert!(m.is_locked());
    drop(g);
    assert_eq!(calls, 1);
}

#[test]
fn wait_while_waits_again_while_condition_holds() {
    let (m, cv) = (Mutex::new(0), Condvar::new());
    let mut w = Probe::new(cv.wait_while(m.try_lock().unwrap(), |v| *v < 2));
    assert!(w.poll().is_pending());

    *m.try_lock().unwrap() = 1;
    cv.notify_one();
    assert!(w.poll().is_pending(), "condition still true: waits again");
    assert!(!m.is_locked(), "and released the mutex again");

    *m.try_lock().unwrap() = 2;
    cv.notify_one();
    assert_eq!(*ready(w.poll()), 2);
}

#[cfg(feature = "std")]
#[test]
fn wait_blocking_timeout_times_out_and_relocks() {
    let (m, cv) = (Mutex::new(5), Condvar::new());
    let (g, r) = cv.wait_blocking_timeout(m.lock_blocking(), Duration::from_millis(20));
    assert!(r.timed_out());
    assert!(m.is_locked());
    assert_eq!(*g, 5);
    drop(g);
    // The timed-out waiter left the condvar: a new waiter gets the next notification.
    let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
    assert!(w.poll().is_pending());
    cv.notify_one();
    assert_eq!(w.woken(), 1);
}

#[cfg(feature = "std")]
#[test]
fn wait_while_blocking_timeout_times_out_and_reports_it() {
    let (m, cv) = (Mutex::new(false), Condvar::new());
    let (g, r) =
        cv.wait_while_blocking_timeout(m.lock_blocking(), Duration::from_millis(20), |v| !*v);
    assert!(r.timed_out());
    assert!(!*g);
    assert!(m.is_locked());
}

#[cfg(feature = "std")]
/// When the time runs out the condition is checked once more, with the mutex locked again:
/// a condition that became false while the waiter was parked, without a notification, is
/// no timeout.
#[test]
fn wait_while_blocking_timeout_checks_the_condition_once_more_at_the_deadline() {
    for _ in 0..50 {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let (m, cv) = &*pair;
        let g = m.lock_blocking();
        let setter = {
            let pair = pair.clone();
            // Gets the mutex once the waiter parks, and notifies no one.
            std::thread::spawn(move || *pair.0.lock_blocking() = true)
        };
        let (g, r) = cv.wait_while_blocking_timeout(g, Duration::from_millis(50), |v| !*v);
        let set_meanwhile = *g;
        drop(g);
        setter.join().unwrap();
        if set_meanwhile {
            assert!(
                !r.timed_out(),
                "the condition no longer held when the wait returned"
            );
            return;
        }
        // The setter ran only after the waiter had locked the mutex again: try again.
    }
    panic!("the setter never got the mutex while the waiter was parked");
}

#[cfg(feature = "std")]
#[test]
fn wait_while_blocking_timeout_notified_in_time() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let pair2 = pair.clone();
    let t = std::thread::spawn(move || {
        let (m, cv) = &*pair2;
        *m.lock_blocking() = true;
        cv.notify_one();
    });
    let (m, cv) = &*pair;
    let (g, r) =
        cv.wait_while_blocking_timeout(m.lock_blocking(), Duration::from_secs(60), |v| !*v);
    assert!(!r.timed_out());
    assert!(*g);
    drop(g);
    t.join().unwrap();
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_guard_works_across_tokio_spawn() {
    let m = Arc::new(Mutex::new(0u32));
    let cv = Arc::new(Condvar::new());
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (m, cv) = (m.clone(), cv.clone());
            tokio::spawn(async move {
                let mut g = cv.wait_while(m.lock_owned().await, |v| *v == 0).await;
                *g += 1;
                // The guard type is preserved: an `OwnedMutexGuard` is `'static`.
                let g: unisync::OwnedMutexGuard<u32> = g;
                drop(g);
            })
        })
        .collect();
    tokio::task::yield_now().await;
    *m.lock().await = 1;
    cv.notify_all();
    // A waiter that registered after `notify_all` still sees the condition and returns.
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*m.lock().await, 5);
}

/// Polls a victim wait `k` times along a fixed script (notified while the mutex is held, then
/// released), drops it, and checks the mutex and the condvar are left as they should be.
#[test]
fn cancellation_sweep() {
    for k in 0..=6 {
        let (m, cv) = (Mutex::new(()), Condvar::new());
        let mut victim = Probe::new(cv.wait(m.try_lock().unwrap()));
        let mut witness: Option<Probe<_>> = None;
        let mut holder: Option<MutexGuard<'_, ()>> = None;
        let mut notified = false;
        let mut victim_guard = None;

        for i in 0..k {
            match i {
                1 => {
                    // A second waiter queues behind the victim, then a notifier holds the
                    // mutex and notifies: the victim is woken but cannot lock.
                    let mut w = Probe::new(cv.wait(m.try_lock().unwrap()));
                    assert!(w.poll().is_pending());
                    witness = Some(w);
                    holder = Some(m.try_lock().unwrap());
                    cv.notify_one();
                    notified = true;
                }
                3 => holder = None,
                _ => {}
            }
            if victim_guard.is_none() {
                if let Poll::Ready(g) = victim.poll() {
                    victim_guard = Some(g);
                }
            }
        }
        let victim_done = victim_guard.is_some();
        drop(victim_guard);
        if !victim_done {
            victim.cancel();
        }
        drop(holder);
        assert!(!m.is_locked(), "k = {k}: mutex left locked");

        if let Some(mut w) = witness {
            if notified && !victim_done {
                // The victim's notification must have moved to the witness.
                assert_eq!(w.woken(), 1, "k = {k}: notification lost");
            } else {
                assert!(w.poll().is_pending(), "k = {k}");
                cv.notify_one();
            }
            drop(ready(w.poll()));
        }
        // The condvar still works for a fresh waiter.
        let mut x = Probe::new(cv.wait(m.try_lock().unwrap()));
        assert!(x.poll().is_pending(), "k = {k}");
        cv.notify_one();
        drop(ready(x.poll()));
        assert!(!m.is_locked(), "k = {k}");
    }
}

/// Threads (blocking) and tokio tasks take turns on one counter: threads move it from even to
/// odd, tasks from odd to even.
#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn threads_and_tasks_share_one_condvar() {
    const ROUNDS: u32 = 200;
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));

    let threads: Vec<_> = (0..2)
        .map(|_| {
            let pair = pair.clone();
            std::thread::spawn(move || loop {
                let (m, cv) = &*pair;
                let mut g =
                    cv.wait_while_blocking(m.lock_blocking(), |n| *n % 2 == 1 && *n < 2 * ROUNDS);
                if *g >= 2 * ROUNDS {
                    return;
                }
                *g += 1;
                drop(g);
                cv.notify_all();
            })
        })
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let pair = pair.clone();
                tokio::spawn(async move {
                    let (m, cv) = &*pair;
                    loop {
                        let mut g = cv
                            .wait_while(m.lock().await, |n| *n % 2 == 0 && *n < 2 * ROUNDS)
                            .await;
                        if *g >= 2 * ROUNDS {
                            return;
                        }
                        *g += 1;
                        drop(g);
                        cv.notify_all();
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
    assert_eq!(*pair.0.lock_blocking(), 2 * ROUNDS);
}

/// One mutex and condvar shared by a smol task, an async-std task, a tokio task and a plain
/// thread: each waits for its turn (`turn == id`) with `wait_while`, takes it, and passes the
/// turn on with `notify_all`, for several rounds. Every turn is taken exactly once, in order.
#[cfg_attr(
    miri,
    ignore = "starts tokio, smol and async-std executors, far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn smol_async_std_tokio_and_a_thread_take_turns() {
    const PARTIES: usize = 4;
    const ROUNDS: usize = 50;
    /// The turn counter and the order turns were taken in, with the condvar that signals them.
    type Turns = Arc<(Mutex<(usize, Vec<usize>)>, Condvar)>;
    let shared: Turns = Arc::new((Mutex::new((0usize, Vec::new())), Condvar::new()));

    async fn take_turns(shared: Turns, id: usize) {
        let (mutex, condvar) = &*shared;
        for _ in 0..ROUNDS {
            let mut guard = condvar
                .wait_while(mutex.lock().await, |s| s.0 % PARTIES != id)
                .await;
            guard.1.push(id);
            guard.0 += 1;
            drop(guard);
            condvar.notify_all();
        }
    }

    let thread = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (mutex, condvar) = &*shared;
            for _ in 0..ROUNDS {
                let mut guard =
                    condvar.wait_while_blocking(mutex.lock_blocking(), |s| s.0 % PARTIES != 3);
                guard.1.push(3);
                guard.0 += 1;
                drop(guard);
                condvar.notify_all();
            }
        })
    };
    let smol_task = {
        let shared = shared.clone();
        std::thread::spawn(move || smol::block_on(take_turns(shared, 0)))
    };
    let async_std_task = async_std::task::spawn(take_turns(shared.clone(), 1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::spawn(take_turns(shared.clone(), 2)).await.unwrap();
    });
    async_std::task::block_on(async_std_task);
    smol_task.join().unwrap();
    thread.join().unwrap();

    let guard = shared.0.lock_blocking();
    assert_eq!(guard.0, PARTIES * ROUNDS);
    let expected: Vec<usize> = (0..PARTIES * ROUNDS).map(|i| i % PARTIES).collect();
    assert_eq!(guard.1, expected, "turns taken out of order or twice");
}

#[cfg(feature = "std")]
/// Holds a `notify_all` of 40 waiters between its first two wake-up batches (its first
/// waiter has seen its notification), queues a late waiter and sends `notify`. Every waiter
/// then waits "right now": the late one is woken at once, by the newer call, and every old
/// one by the end, whatever the newer call is (a `notify_one` first wakes the waiters the
/// older `notify_all` still owes a wake-up, so that its own goes to a waiter of its own).
fn late_waiter_while_an_older_notify_all_is_still_waking(
    mutex: &'static Mutex<()>,
    condvar: &'static Condvar,
    notify: impl FnOnce(&Condvar),
) {
    let stall = Stall::new();
    let noop = futures::task::noop_waker();
    let mut old = Vec::new();
    for i in 0..40 {
        let mut wait = Box::pin(condvar.wait(mutex.lock_blocking()));
        let waker = if i == 0 { stall.waker() } else { noop.clone() };
        assert!(common::poll_with(&mut wait, &waker).is_pending());
        old.push(wait);
    }
    let first = std::thread::spawn(|| condvar.notify_all());
    stall.wait_until_entered();
    match common::poll_with(&mut old[0], &noop) {
        Poll::Ready(guard) => drop(guard),
        Poll::Pending => panic!("the first waiter of the notify_all was not notified"),
    }

    let late_waker = Counter::new();
    let mut late = Box::pin(condvar.wait(mutex.lock_blocking()));
    assert!(late_waker.poll(&mut late).is_pending());
    notify(condvar);
    assert_eq!(
        late_waker.count(),
        1,
        "the waiter that waited was not woken"
    );

    stall.go_on();
    first.join().unwrap();
    assert_each_notified(&mut old[1..], "the first notify_all");
    assert!(late_waker.poll(&mut late).is_ready());
}

/// Polls each wait once, dropping the guard it returns; panics at one still waiting, naming
/// the notification that should have reached it.
fn assert_each_notified<W: Future + Unpin>(waits: &mut [W], by: &str) {
    let noop = futures::task::noop_waker();
    for (i, wait) in waits.iter_mut().enumerate() {
        match common::poll_with(wait, &noop) {
            Poll::Ready(guard) => drop(guard),
            Poll::Pending => panic!("waiter {i} was not woken by {by}"),
        }
    }
}

#[cfg(feature = "std")]
/// `notify_all` "wakes every task and thread that waits right now", even while an older
/// `notify_all` is still waking its batches: the waiter that queued meanwhile is woken by the
/// newer call, and not left for every later one to skip.
#[test]
fn notify_all_wakes_every_waiter_while_an_older_notify_all_is_still_waking() {
    static MUTEX: Mutex<()> = Mutex::new(());
    static CONDVAR: Condvar = Condvar::new();
    late_waiter_while_an_older_notify_all_is_still_waking(&MUTEX, &CONDVAR, Condvar::notify_all);
}

#[cfg(feature = "std")]
/// `notify_one`: "Each call wakes one more waiter", also while an older `notify_all` is still
/// waking its batches: it must not take a waiter that call owes a wake-up, leaving the late
/// waiter asleep.
#[test]
fn notify_one_during_an_older_notify_all_does_not_strand_a_new_waiter() {
    static MUTEX: Mutex<()> = Mutex::new(());
    static CONDVAR: Condvar = Condvar::new();
    late_waiter_while_an_older_notify_all_is_still_waking(&MUTEX, &CONDVAR, Condvar::notify_one);
}

#[cfg(feature = "std")]
/// The same with `notify_many(1)`, "the same as `n` calls of `notify_one`".
#[test]
fn notify_many_during_an_older_notify_all_does_not_strand_a_new_waiter() {
    static MUTEX: Mutex<()> = Mutex::new(());
    static CONDVAR: Condvar = Condvar::new();
    late_waiter_while_an_older_notify_all_is_still_waking(&MUTEX, &CONDVAR, |condvar| {
        condvar.notify_many(1)
    });
}

#[cfg(feature = "std")]
/// A `notify_one` (or `notify_many`) that is waking the waiters an older `notify_all` owes
/// releases the lock between batches; a newer `notify_all` that starts then owes its own
/// waiters a wake-up, and the `notify_one` must skip those too, so that its wake-up goes to
/// a waiter that queued after them. The three calls are held between batches by stalling
/// wakers: `notify_all` A at its first batch, the `notify` at its first batch of A's owed
/// waiters, `notify_all` B at its first batch; the late waiter queues while all three wait.
fn notify_while_a_newer_notify_all_starts_between_its_batches(
    mutex: &'static Mutex<()>,
    condvar: &'static Condvar,
    notify: impl FnOnce(&Condvar) + Send + 'static,
) {
    let noop = futures::task::noop_waker();
    let stalls = [Stall::new(), Stall::new(), Stall::new()];
    let mut waits = Vec::new();
    let mut queue = |waker: &std::task::Waker| {
        let mut wait = Box::pin(condvar.wait(mutex.lock_blocking()));
        assert!(common::poll_with(&mut wait, waker).is_pending());
        waits.push(wait);
    };
    // 65 waiters: A wakes the first 32, the notify the next 32 (owed by A), B the last.
    for i in 0..65 {
        match i {
            0 => queue(&stalls[0].waker()),
            32 => queue(&stalls[1].waker()),
            64 => queue(&stalls[2].waker()),
            _ => queue(&noop),
        }
    }
    let a = std::thread::spawn(|| condvar.notify_all());
    stalls[0].wait_until_entered();
    // Waiters of A's epoch, which B owes a wake-up: 31 fill B's first batch, 2 are left.
    for _ in 0..33 {
        queue(&noop);
    }
    let notifier = std::thread::spawn(move || notify(condvar));
    stalls[1].wait_until_entered();
    let b = std::thread::spawn(|| condvar.notify_all());
    stalls[2].wait_until_entered();
    let late_waker = Counter::new();
    let mut late = Box::pin(condvar.wait(mutex.lock_blocking()));
    assert!(late_waker.poll(&mut late).is_pending());

    stalls[1].go_on();
    notifier.join().unwrap();
    let late_woken = late_waker.count();
    stalls[2].go_on();
    stalls[0].go_on();
    b.join().unwrap();
    a.join().unwrap();
    assert_eq!(
        late_woken, 1,
        "the notification went to a waiter the newer notify_all owed a wake-up"
    );
    assert_each_notified(&mut waits, "either notify_all");
    assert!(late_waker.poll(&mut late).is_ready());
}

#[cfg(feature = "std")]
#[test]
fn notify_one_skips_the_waiters_a_newer_notify_all_owes() {
    static MUTEX: Mutex<()> = Mutex::new(());
    static CONDVAR: Condvar = Condvar::new();
    notify_while_a_newer_notify_all_starts_between_its_batches(
        &MUTEX,
        &CONDVAR,
        Condvar::notify_one,
    );
}

#[cfg(feature = "std")]
#[test]
fn notify_many_skips_the_waiters_a_newer_notify_all_owes() {
    static MUTEX: Mutex<()> = Mutex::new(());
    static CONDVAR: Condvar = Condvar::new();
    notify_while_a_newer_notify_all_starts_between_its_batches(&MUTEX, &CONDVAR, |condvar| {
        condvar.notify_many(1)
    });
}

/// A thread's timed wait queued behind a full wake-up batch counts a `notify_all` that began
/// before its deadline (every task queued beside it is notified), even while the notifier is
/// held in the first batch's waker: `timed_out()` is false.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn a_timed_wait_counts_a_notify_all_that_began_before_its_deadline() {
    common::timed_wait_counts_a_release_before_its_deadline(|| {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let waits = common::full_batch(|| {
            let pair = pair.clone();
            async move {
                let (m, cv) = &*pair;
                drop(cv.wait(m.lock().await).await);
            }
        });
        let (timed, notify) = (pair.clone(), pair);
        common::BehindABatch {
            waits,
            timed: Box::new(move |timeout| {
                let (m, cv) = &*timed;
                let (_guard, res) = cv.wait_blocking_timeout(m.lock_blocking(), timeout);
                !res.timed_out()
            }),
            release: Box::new(move || notify.1.notify_all()),
        }
    });
}

/// Polling a finished condvar wait again panics with the message every unisync future uses
/// (its guard was already handed out).
#[test]
#[should_panic(expected = "a unisync future was polled after it completed")]
fn wait_polled_after_completion_panics() {
    let mutex = Mutex::new(0);
    let cv = Condvar::new();
    let mut wait = Box::pin(cv.wait(mutex.try_lock().unwrap()));
    assert!(common::poll_once(&mut wait).is_pending());
    cv.notify_one();
    let guard = match common::poll_once(&mut wait) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the notified wait is still pending"),
    };
    drop(guard);
    let _ = common::poll_once(&mut wait);
}

/// The same for a predicate wait.
#[test]
#[should_panic(expected = "a unisync future was polled after it completed")]
fn wait_while_polled_after_completion_panics() {
    let mutex = Mutex::new(1);
    let cv = Condvar::new();
    let mut wait = Box::pin(cv.wait_while(mutex.try_lock().unwrap(), |n| *n == 0));
    let guard = match common::poll_once(&mut wait) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the predicate is false already, yet the wait is pending"),
    };
    drop(guard);
    let _ = common::poll_once(&mut wait);
}

//! Loom models of `Condvar`.
//!
//! Run with
//! `LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" cargo test --release --target-dir target/loom --test loom_condvar`.
#![cfg(loom)]

mod loom_support;

use loom_support::model;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;
use unisync::{Condvar, Mutex};

/// A notifier that sets the flag and notifies while a waiter releases the mutex to wait: the
/// waiter always sees the flag or gets the notification (a lost wake-up is a loom deadlock).
///
/// Bound: 2 threads.
#[test]
fn notify_one_racing_a_wait_is_not_lost() {
    model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (flag, cv) = &*pair;
                *block_on(flag.lock()) = true;
                // Notify after unlocking: the harder case for the waiter's registration.
                cv.notify_one();
            })
        };
        let (flag, cv) = &*pair;
        let mut guard = block_on(flag.lock());
        while !*guard {
            guard = block_on(cv.wait(guard));
        }
        drop(guard);
        notifier.join().unwrap();
    });
}

/// The same race with the notification sent while the mutex is held, through `wait_while`.
///
/// Bound: 2 threads.
#[test]
fn notify_one_under_the_lock_racing_wait_while_is_not_lost() {
    model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (flag, cv) = &*pair;
                let mut guard = block_on(flag.lock());
                *guard = true;
                cv.notify_one();
                drop(guard);
            })
        };
        let (flag, cv) = &*pair;
        let guard = block_on(cv.wait_while(block_on(flag.lock()), |f| !*f));
        assert!(*guard);
        drop(guard);
        notifier.join().unwrap();
    });
}

/// Waiter A is registered first, then dropped at any point relative to a `notify_one` that
/// may reach it; waiter B must still finish (it gets the passed-on notification, or it saw the
/// flag before waiting).
///
/// Bound: 3 threads (A's owner, B, the notifier).
#[test]
fn dropped_notified_wait_passes_the_notification_on() {
    model(|| dropped_wait_beside_a_notifier(Condvar::notify_one, true));
}

/// The same with `notify_all`, whose wake-up a dropped waiter does not pass on: B still
/// finishes in every interleaving, woken by the `notify_all` itself or seeing the flag before
/// it waits.
///
/// Bound: 3 threads (A's owner, B, the notifier).
#[test]
fn dropped_wait_woken_by_notify_all_leaves_the_others_woken() {
    model(|| dropped_wait_beside_a_notifier(Condvar::notify_all, false));
}

/// One execution of the two models above: A waits, B waits with `wait_while` for the flag,
/// a notifier sets the flag and calls `notify`, and A gives up. `for_one`: the notification
/// was meant for one waiter.
fn dropped_wait_beside_a_notifier(notify: fn(&Condvar), for_one: bool) {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (flag, cv) = &*pair;

    // A: registered and waiting, with the mutex released.
    let mut a = Box::pin(cv.wait(block_on(flag.lock())));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut a).poll(&mut cx).is_pending());

    let b = {
        let pair = pair.clone();
        thread::spawn(move || {
            let (flag, cv) = &*pair;
            drop(block_on(cv.wait_while(block_on(flag.lock()), |f| !*f)));
        })
    };
    let notifier = {
        let pair = pair.clone();
        thread::spawn(move || {
            let (flag, cv) = &*pair;
            *block_on(flag.lock()) = true;
            notify(cv);
        })
    };

    // A may be notified or not yet, and may be locking again; it gives up here unless it
    // already got the mutex back. Then a `notify_one` was rightly its own, and it hands the
    // work on as a consumer that does nothing would; a `notify_all` reached B as well.
    let polled = Pin::new(&mut a).poll(&mut cx);
    drop(a);
    if let Poll::Ready(guard) = polled {
        drop(guard);
        if for_one {
            cv.notify_one();
        }
    }
    b.join().unwrap();
    notifier.join().unwrap();
}

/// The blocking path: a thread waiting with `wait_while_blocking` and a thread that sets the
/// condition and calls `notify_one`; the waiter always wakes and sees the condition.
///
/// Bound: 2 threads.
#[test]
fn notify_one_racing_a_blocking_wait_is_not_lost() {
    model(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (mutex, condvar) = &*pair;
                *mutex.lock_blocking() = true;
                condvar.notify_one();
            })
        };
        let (mutex, condvar) = &*pair;
        let guard = condvar.wait_while_blocking(mutex.lock_blocking(), |ready| !*ready);
        assert!(*guard);
        drop(guard);
        notifier.join().unwrap();
    });
}

/// Two workers wait for jobs while a notifier adds two jobs and calls `notify_many(2)`, which
/// under loom releases and retakes the queue's lock between the two wake-ups (a batch is one
/// there). Neither worker may be left waiting: each sees a job before it waits, or is woken.
///
/// Bound: 3 threads (two workers, the notifier).
#[test]
fn notify_many_racing_two_waits_wakes_both() {
    model(|| {
        let pair = Arc::new((Mutex::new(0_u32), Condvar::new()));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let pair = pair.clone();
                thread::spawn(move || {
                    let (jobs, cv) = &*pair;
                    let mut jobs = block_on(cv.wait_while(block_on(jobs.lock()), |j| *j == 0));
                    *jobs -= 1;
                })
            })
            .collect();
        let (jobs, cv) = &*pair;
        *block_on(jobs.lock()) += 2;
        cv.notify_many(2);
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(*block_on(jobs.lock()), 0);
    });
}

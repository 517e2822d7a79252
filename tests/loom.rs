//! Loom models of `Mutex` and `Semaphore`.
//!
//! Run with:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --target-dir target/loom --test loom
//! ```
//!
//! Every model below is explored with at most 2 preemptions (`LOOM_MAX_PREEMPTIONS=2`, also the
//! default set by `model` here when the variable is unset); larger bounds take far longer.
//! A lost wake-up shows up as loom reporting a deadlock.
//!
//! Under loom the mutex records its holder's access to the value on a loom cell when the lock
//! is taken and when it is given up, so every model here that locks from two threads also
//! checks that each unlock happens before the next holder's lock: loom reports two holders
//! whose accesses it cannot order as a causality violation, without the model looking at the
//! value.
#![cfg(loom)]

mod common;
mod loom_support;

use common::poll_once;
use loom_support::model;

use std::sync::Arc;

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use unisync::{Mutex, Semaphore};

/// Two threads and the main thread increment a counter in the mutex; a tracked flag checks
/// that no two guards exist at once. Preemption bound: 2.
#[test]
fn mutex_exclusion() {
    model(|| {
        let m = Arc::new(Mutex::new(0usize));
        let held = Arc::new(AtomicBool::new(false));
        let critical = |m: &Mutex<usize>, held: &AtomicBool, blocking: bool| {
            let mut g = if blocking {
                m.lock_blocking()
            } else {
                block_on(m.lock())
            };
            assert!(!held.swap(true, Ordering::SeqCst), "two holders at once");
            *g += 1;
            held.store(false, Ordering::SeqCst);
        };
        let ts: Vec<_> = (0..2)
            .map(|i| {
                let (m, held) = (m.clone(), held.clone());
                thread::spawn(move || critical(&m, &held, i == 0))
            })
            .collect();
        critical(&m, &held, false);
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(*m.try_lock().unwrap(), 3);
    });
}

/// A task waiting for the lock is woken by the release. Preemption bound: 2.
#[test]
fn mutex_async_waiter_is_woken() {
    model(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.try_lock_owned().unwrap();
        let t = {
            let m = m.clone();
            thread::spawn(move || *block_on(m.lock()) += 1)
        };
        drop(g);
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

/// A thread in `lock_blocking` is woken by the release. Preemption bound: 2.
#[test]
fn mutex_blocking_waiter_is_woken() {
    model(|| {
        let m = Arc::new(Mutex::new(0));
        let g = m.try_lock_owned().unwrap();
        let t = {
            let m = m.clone();
            thread::spawn(move || *m.lock_blocking() += 1)
        };
        drop(g);
        t.join().unwrap();
        assert_eq!(*m.try_lock().unwrap(), 1);
    });
}

/// A lock future registered first, then dropped while the holder releases concurrently, must
/// not swallow the wake-up: the other waiter still gets the lock. Preemption bound: 2.
#[test]
fn mutex_dropped_lock_future_passes_the_wake_up_on() {
    model(|| assert_eq!(first_waiter_racing_a_release(false, false, false), 1));
}

/// Queues a lock future, then races a second waiter (async or blocking), a release (followed,
/// with `barger`, by a try_lock that locks and unlocks), and the first future: completed when
/// `finish_first`, else dropped (a woken waiter going away). Everybody must finish; returns
/// the total added (1 by the second waiter, 10 by the barger if it got in, 100 by the first).
fn first_waiter_racing_a_release(finish_first: bool, blocking_second: bool, barger: bool) -> usize {
    let m = Arc::new(Mutex::new(0));
    let g = m.try_lock_owned().unwrap();
    let mut first = Box::pin(m.lock());
    assert!(poll_once(&mut first).is_pending());
    let waiter = {
        let m = m.clone();
        thread::spawn(move || {
            if blocking_second {
                *m.lock_blocking() += 1;
            } else {
                *block_on(m.lock()) += 1;
            }
        })
    };
    let releaser = {
        let m = m.clone();
        thread::spawn(move || {
            drop(g);
            if barger {
                if let Some(mut barger) = m.try_lock() {
                    *barger += 10;
                }
            }
        })
    };
    if finish_first {
        *block_on(first) += 100;
    } else {
        drop(first);
    }
    releaser.join().unwrap();
    waiter.join().unwrap();
    let total = *m.try_lock().unwrap();
    total
}

/// A barger locks and unlocks right after the release that wakes the first waiter, while a
/// second waiter queues: the first waiter's wake-up is not lost (the barger's unlock wakes
/// nobody while it is on its way) and everybody finishes. Preemption bound: 2.
#[test]
fn mutex_barger_racing_a_woken_waiter_loses_no_wake_up() {
    model(|| {
        let total = first_waiter_racing_a_release(true, false, true);
        assert!(total == 101 || total == 111, "{total}");
    });
}

/// The woken first waiter is dropped while a barger may hold the lock: its turn passes to the
/// second waiter, either at once or through the barger's unlock. Preemption bound: 2.
#[test]
fn mutex_woken_waiter_dropped_behind_a_barger_passes_its_turn_on() {
    model(|| {
        let total = first_waiter_racing_a_release(false, true, true);
        assert!(total == 1 || total == 11, "{total}");
    });
}

/// Permits are conserved across acquire, acquire_many and drop, and never over-committed.
/// Preemption bound: 2.
#[test]
fn semaphore_permits_conserved() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let in_use = Arc::new(AtomicUsize::new(0));
        let work = |sem: &Semaphore, in_use: &AtomicUsize, n: usize, blocking: bool| {
            let p = if blocking {
                sem.acquire_many_blocking(n)
            } else {
                block_on(sem.acquire_many(n))
            }
            .unwrap();
            let now = in_use.fetch_add(n, Ordering::SeqCst) + n;
            assert!(now <= 2, "{now} permits in use");
            in_use.fetch_sub(n, Ordering::SeqCst);
            drop(p);
        };
        let t = {
            let (sem, in_use) = (sem.clone(), in_use.clone());
            thread::spawn(move || work(&sem, &in_use, 2, false))
        };
        work(&sem, &in_use, 1, true);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

/// Closing races with an acquire_many and an acquire: each either gets its permits or fails,
/// and all permits are back at the end. Preemption bound: 2.
#[test]
fn semaphore_close_conserves_permits() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        let big = {
            let sem = sem.clone();
            thread::spawn(move || drop(block_on(sem.acquire_many(2))))
        };
        let small = {
            let sem = sem.clone();
            thread::spawn(move || drop(sem.acquire_blocking()))
        };
        sem.add_permits(1);
        drop(held);
        sem.close();
        big.join().unwrap();
        small.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

/// A timed blocking acquire of two permits, served one of them, queued behind a task's acquire
/// while `close` reaches the two in separate batches (one waiter each under loom): a thread
/// out of time before its batch sees the close and leaves the queue itself. Either way the
/// permit it was served comes back and nothing succeeds after the close. Preemption bound: 2.
#[test]
fn semaphore_timed_acquire_racing_batched_close_gives_back_its_permits() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let mut first = Box::pin(sem.acquire());
        assert!(poll_once(&mut first).is_pending());
        let timed = {
            let sem = sem.clone();
            thread::spawn(move || {
                sem.acquire_many_blocking_timeout(2, std::time::Duration::from_secs(1))
                    .map(drop)
            })
        };
        let closer = {
            let sem = sem.clone();
            thread::spawn(move || {
                // The task is served this one; the thread, if queued by now, the next.
                sem.add_permits(2);
                sem.close();
            })
        };
        // The task may finish before the close (with its permit) or after it (without).
        let _ = block_on(first).map(drop);
        // The thread may get both permits too, once the task has given its one back.
        let _ = timed.join().unwrap();
        closer.join().unwrap();
        // A permit the thread was served and gave back on timeout or close is not lost.
        assert_eq!(sem.available_permits(), 2);
    });
}

/// An acquire registered first, then dropped while a permit is released concurrently, passes
/// the wake-up on to the other waiter. Preemption bound: 2.
#[test]
fn semaphore_dropped_acquire_passes_the_wake_up_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let p = sem.try_acquire_owned().unwrap();
        let mut first = Box::pin(sem.acquire());
        assert!(poll_once(&mut first).is_pending());
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || drop(block_on(sem.acquire()).unwrap()))
        };
        let releaser = thread::spawn(move || drop(p));
        drop(first);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A waiter for two permits that may have become head is dropped while the two held permits
/// are released one by one; the waiter for one permit still completes. Preemption bound: 2.
#[test]
fn semaphore_dropped_head_passes_permits_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let p1 = sem.try_acquire_owned().unwrap();
        let p2 = sem.try_acquire_owned().unwrap();
        let mut big = Box::pin(sem.acquire_many(2));
        assert!(poll_once(&mut big).is_pending());
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || drop(block_on(sem.acquire()).unwrap()))
        };
        drop(p1);
        // Polled after the first release: it is woken, finds one permit and becomes head.
        let _ = poll_once(&mut big);
        let releaser = thread::spawn(move || drop(p2));
        drop(big);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

/// The head waiter, holding one of the three permits it asked for, is dropped on one thread
/// while another adds a permit and closes the semaphore: the waiter behind either gets its
/// permit or fails with the close, and no permit is lost (the two that were out come back).
/// Preemption bound: 2.
#[test]
fn semaphore_partial_head_dropped_racing_release_and_close_loses_nothing() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let mut big = Box::pin(sem.acquire_many_owned(3));
        assert!(poll_once(&mut big).is_pending()); // holds 1, lacks 2
        let mut small = Box::pin(sem.acquire());
        assert!(poll_once(&mut small).is_pending());
        let dropper = thread::spawn(move || drop(big));
        let closer = {
            let sem = sem.clone();
            thread::spawn(move || {
                sem.add_permits(1);
                sem.close();
            })
        };
        drop(block_on(small));
        dropper.join().unwrap();
        closer.join().unwrap();
        assert_eq!(sem.available_permits(), 2);
    });
}

/// Two permits released back to back while two waiters wait: both waiters must complete.
/// Preemption bound: 2.
#[test]
fn semaphore_two_releases_wake_two_waiters() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let p1 = sem.try_acquire_owned().unwrap();
        let p2 = sem.try_acquire_owned().unwrap();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                // Kept for good, so a waiter's own release cannot hide a lost wake-up.
                thread::spawn(move || block_on(sem.acquire()).unwrap().forget())
            })
            .collect();
        drop(p1);
        drop(p2);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(sem.available_permits(), 0);
    });
}

/// Two permits returned with one addition each while a task queues for one and a
/// `try_acquire` races them: a return that finds the task queued lands in the word only to be
/// handed on under the queue's lock, and nobody takes it from there first. The task gets its
/// permit, the `try_acquire` one only if it came before the task queued, and both permits are
/// accounted for at the end. Preemption bound: 2.
#[test]
fn semaphore_returns_landing_while_a_task_queues_are_handed_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let p1 = sem.try_acquire_owned().unwrap();
        let p2 = sem.try_acquire_owned().unwrap();
        let waiter = {
            let sem = sem.clone();
            // Kept for good, so that its own return cannot hide a lost one.
            thread::spawn(move || block_on(sem.acquire()).unwrap().forget())
        };
        let returner = thread::spawn(move || drop(p1));
        drop(p2);
        if let Ok(p) = sem.try_acquire() {
            drop(p);
        }
        returner.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A permit returned while a task is queued for it is the task's, even in the moment it sits
/// in the count before its returner hands it on: a later acquire queues behind the task, and
/// `try_acquire` and `forget_permits` racing the return find no free permit. The task gets it,
/// then the later acquire. Preemption bound: 2.
#[test]
fn semaphore_permit_returned_to_a_queued_task_is_never_free() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let p = sem.try_acquire_owned().unwrap();
        let mut queued = Box::pin(sem.acquire());
        assert!(poll_once(&mut queued).is_pending());
        let returner = thread::spawn(move || drop(p));
        let mut later = Box::pin(sem.acquire());
        assert!(
            poll_once(&mut later).is_pending(),
            "a later acquire took the queued task's permit"
        );
        assert!(sem.try_acquire().is_err(), "try_acquire took it");
        assert_eq!(sem.forget_permits(1), 0, "forget_permits took it");
        returner.join().unwrap();
        drop(block_on(queued).unwrap());
        drop(block_on(later).unwrap());
        assert_eq!(sem.available_permits(), 1);
    });
}

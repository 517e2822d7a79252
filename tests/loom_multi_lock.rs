//! Loom models of `lock_all`: cancellation while waiting on a later mutex, opposite naming
//! orders, and the timed blocking form giving everything back.
//!
//! Run with:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --target-dir target/loom --test loom_multi_lock
//! ```
//!
//! A lost wake-up or a deadlock shows up as loom reporting a deadlock.
#![cfg(loom)]

mod common;
mod loom_support;

use common::poll_once;
use loom_support::model;

use std::sync::Arc;
use std::time::Duration;

use loom::future::block_on;
use loom::thread;
use unisync::{lock_all, lock_all_blocking, lock_all_blocking_timeout, Mutex};

/// Two mutexes, returned in the order every multi-lock takes them.
fn pair() -> (Arc<Mutex<usize>>, Arc<Mutex<usize>>) {
    let (x, y) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
    if Arc::as_ptr(&x) < Arc::as_ptr(&y) {
        (x, y)
    } else {
        (y, x)
    }
}

/// A multi-lock holds the first mutex and waits on the second; it is dropped while the
/// second's holder releases it on another thread. The drop must give the first mutex back and
/// pass on the wake-up (or the lock handed over) it may have received for the second: a task
/// queued behind it on the second, which then wants the first, must get both.
///
/// Three threads (the dropper, the releaser, the waiter).
#[test]
fn dropped_while_waiting_on_its_second_lock_releases_the_first_and_passes_the_wake_up_on() {
    model(|| {
        let (first, second) = pair();
        let held = second.try_lock_owned().unwrap();
        let mut multi = Box::pin(lock_all((&*second, &*first)));
        assert!(poll_once(&mut multi).is_pending());
        assert!(
            first.is_locked(),
            "the first mutex is held while the second is waited for"
        );
        let waiter = {
            let (first, second) = (first.clone(), second.clone());
            thread::spawn(move || {
                *block_on(second.lock()) += 1;
                *first.lock_blocking() += 1;
            })
        };
        let releaser = thread::spawn(move || drop(held));
        drop(multi);
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(*first.try_lock().unwrap(), 1);
        assert_eq!(*second.try_lock().unwrap(), 1);
    });
}

/// A blocking thread locks `(a, b)` while a task locks `(b, a)`: both finish, each sees the
/// two values equal (nobody else was inside), and the guards come back in naming order.
///
/// Two threads.
#[test]
fn opposite_naming_orders_both_finish() {
    model(|| {
        let (a, b) = pair();
        let thread_side = {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                let (mut ga, mut gb) = lock_all_blocking((&*a, &*b));
                assert_eq!(*ga, *gb);
                *ga += 1;
                *gb += 1;
            })
        };
        {
            let (mut gb, mut ga) = block_on(lock_all((&*b, &*a)));
            assert!(std::ptr::eq(unisync::MutexGuard::source(&ga), &*a));
            assert_eq!(*ga, *gb);
            *ga += 1;
            *gb += 1;
        }
        thread_side.join().unwrap();
        assert_eq!((*a.try_lock().unwrap(), *b.try_lock().unwrap()), (2, 2));
    });
}

/// A timed multi-lock races a multi-lock naming the mutexes the other way round. Under loom a
/// timed park may time out at any point: whenever it does, the timed lock must have given
/// back what it took, so the other finishes and both mutexes end up free.
///
/// Two threads.
#[test]
fn a_timed_out_multi_lock_gives_everything_back() {
    model(|| {
        let (a, b) = pair();
        let timed = {
            let (a, b) = (a.clone(), b.clone());
            thread::spawn(move || {
                match lock_all_blocking_timeout((&*a, &*b), Duration::from_secs(1)) {
                    Some((mut ga, mut gb)) => {
                        *ga += 1;
                        *gb += 1;
                        1
                    }
                    None => 0,
                }
            })
        };
        {
            let (mut gb, mut ga) = block_on(lock_all((&*b, &*a)));
            *ga += 1;
            *gb += 1;
        }
        let got = timed.join().unwrap();
        assert!(!a.is_locked() && !b.is_locked());
        assert_eq!(
            (*a.try_lock().unwrap(), *b.try_lock().unwrap()),
            (1 + got, 1 + got)
        );
    });
}

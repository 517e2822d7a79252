//! Loom models of `ReentrantMutex`: the owner and the count handed from one thread to the
//! next, with nested guards, `try_lock` and a timed lock.
//!
//! Run with:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --target-dir target/loom --test loom_reentrant_mutex
//! ```
//!
//! The value is a loom `UnsafeCell` written through `&T`: loom reports any two accesses from
//! different threads that the lock does not order.
#![cfg(loom)]

mod loom_support;

use loom_support::model;

use std::sync::Arc;
use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::thread;
use unisync::ReentrantMutex;

fn bump(cell: &UnsafeCell<usize>) {
    // SAFETY: only the thread holding the lock reaches the cell; loom checks exactly that.
    cell.with_mut(|p| unsafe { *p += 1 });
}

fn read(cell: &UnsafeCell<usize>) -> usize {
    // SAFETY: as in `bump`.
    cell.with(|p| unsafe { *p })
}

/// Two threads each lock twice (nested), write at both depths, and drop the guards in
/// opposite orders; the lock passes between them only when a thread's last guard goes.
///
/// Two threads.
#[test]
fn owner_and_count_pass_between_threads() {
    model(|| {
        let m = Arc::new(ReentrantMutex::new(UnsafeCell::new(0)));
        let other = {
            let m = m.clone();
            thread::spawn(move || {
                let outer = m.lock_blocking();
                let inner = m.try_lock().expect("the holder may lock again");
                bump(&inner);
                drop(outer); // the inner guard still holds the lock
                assert!(m.is_owned_by_current_thread());
                bump(&inner);
                drop(inner);
                assert!(!m.is_owned_by_current_thread());
            })
        };
        {
            let outer = m.lock_blocking();
            let inner = m.lock_blocking();
            bump(&inner);
            drop(inner);
            bump(&outer);
        }
        other.join().unwrap();
        assert!(!m.is_locked());
        assert_eq!(read(&m.lock_blocking()), 4);
    });
}

/// A thread's timed lock may time out at any park under loom; whether it got the lock or not,
/// the lock and its count are as they should be afterwards, and the other thread's nested
/// locks are unaffected.
///
/// Two threads.
#[test]
fn a_timed_out_lock_leaves_owner_and_count_alone() {
    model(|| {
        let m = Arc::new(ReentrantMutex::new(UnsafeCell::new(0)));
        let timed = {
            let m = m.clone();
            thread::spawn(
                move || match m.lock_blocking_timeout(Duration::from_secs(1)) {
                    Some(g) => {
                        let again = m.lock_blocking_timeout(Duration::ZERO).expect("held");
                        bump(&again);
                        drop(g);
                        1
                    }
                    None => {
                        assert!(!m.is_owned_by_current_thread());
                        0
                    }
                },
            )
        };
        {
            let outer = m.lock_blocking();
            let inner = m.lock_blocking();
            bump(&inner);
            drop(outer);
            bump(&inner);
        }
        let got = timed.join().unwrap();
        assert!(!m.is_locked());
        assert_eq!(read(&m.lock_blocking()), 2 + got);
    });
}

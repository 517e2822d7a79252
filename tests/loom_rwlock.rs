//! Loom models of `RwLock`. Run with
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" cargo test --release --test loom_rwlock`.
//!
//! Under loom the lock records each holder's access to the value on a loom cell, as a read
//! for a reader or the upgradable reader and as a write for a writer, when the lock is taken
//! and when it is given up. So each model also checks that a writer's access is ordered after
//! every earlier holder's and before every later one's (loom reports a causality violation
//! otherwise); the atomics the models count holders with cannot show that, since their own
//! `SeqCst` operations order the threads.
#![cfg(loom)]

mod loom_support;

use loom_support::model;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::atomic::{AtomicIsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use unisync::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard};

fn enter_read(s: &AtomicIsize) {
    assert!(
        s.fetch_add(1, Ordering::SeqCst) >= 0,
        "reader inside with a writer"
    );
}
fn leave_read(s: &AtomicIsize) {
    s.fetch_sub(1, Ordering::SeqCst);
}
fn enter_write(s: &AtomicIsize) {
    assert_eq!(
        s.swap(-1, Ordering::SeqCst),
        0,
        "writer inside with someone else"
    );
}
fn leave_write(s: &AtomicIsize) {
    s.store(0, Ordering::SeqCst);
}

/// One async writer against a reader thread and a blocking writer thread (preemption bound 2).
#[test]
fn reader_writer_exclusion() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let s = Arc::new(AtomicIsize::new(0));
        let (l1, s1) = (lock.clone(), s.clone());
        let reader = thread::spawn(move || {
            loom::future::block_on(async {
                let g = l1.read().await;
                enter_read(&s1);
                let v = *g;
                leave_read(&s1);
                v
            })
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let writer = thread::spawn(move || {
            let mut g = l2.write_blocking();
            enter_write(&s2);
            *g += 1;
            leave_write(&s2);
        });
        loom::future::block_on(async {
            let mut g = lock.write().await;
            enter_write(&s);
            *g += 10;
            leave_write(&s);
        });
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        assert!([0, 1, 10, 11].contains(&seen));
        assert_eq!(*lock.try_read().unwrap(), 11);
        assert!(lock.try_write().is_some());
    });
}

/// An upgrader (with a reader it must wait out) against a writer thread (preemption bound 2).
#[test]
fn writer_and_upgrader() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let s = Arc::new(AtomicIsize::new(0));
        let (l1, s1) = (lock.clone(), s.clone());
        let writer = thread::spawn(move || {
            loom::future::block_on(async {
                let mut g = l1.write().await;
                enter_write(&s1);
                *g += 1;
                leave_write(&s1);
            })
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let reader = thread::spawn(move || {
            let _g = l2.read_blocking();
            enter_read(&s2);
            leave_read(&s2);
        });
        loom::future::block_on(async {
            let u = lock.upgradable_read().await;
            let mut g = RwLockUpgradableReadGuard::upgrade(u).await;
            enter_write(&s);
            *g += 10;
            leave_write(&s);
            let r = RwLockWriteGuard::downgrade(g);
            enter_read(&s);
            leave_read(&s);
            drop(r);
        });
        writer.join().unwrap();
        reader.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 11);
        assert!(lock.try_write().is_some());
    });
}

/// Polls `fut` once; returns it if still pending.
struct PollOnce<'a, F>(&'a mut Pin<Box<F>>);
impl<F: Future> Future for PollOnce<'_, F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match self.0.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    }
}

/// A write future that waits, may be woken, and is dropped without being polled again must
/// pass its wake-up on: the other writer still gets the lock (preemption bound 2).
#[test]
fn dropped_write_future_passes_wake_up_on() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let held = lock.try_write().unwrap();
        let l1 = lock.clone();
        let other = thread::spawn(move || {
            *l1.write_blocking() += 1;
        });
        let l2 = lock.clone();
        let canceller = thread::spawn(move || {
            loom::future::block_on(async {
                let mut fut = Box::pin(l2.write());
                if let Some(g) = PollOnce(&mut fut).await {
                    drop(g);
                }
                drop(fut);
            })
        });
        drop(held);
        canceller.join().unwrap();
        other.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
    });
}

/// A queued reader dropped while a writer releases: the writer after it still gets in
/// (preemption bound 2).
#[test]
fn dropped_read_future_releases_admitted_lock() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let held = lock.try_write().unwrap();
        let l1 = lock.clone();
        let canceller = thread::spawn(move || {
            loom::future::block_on(async {
                let mut fut = Box::pin(l1.read());
                let _ = PollOnce(&mut fut).await;
            })
        });
        let l2 = lock.clone();
        let writer = thread::spawn(move || {
            *l2.write_blocking() += 1;
        });
        drop(held);
        canceller.join().unwrap();
        writer.join().unwrap();
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert!(lock.try_write().is_some());
    });
}

/// A reader queued behind a write, let in when it is released, racing the next writer, which
/// waits for that reader to run before it announces itself: both get in, never together
/// (preemption bound 2). `async_writer` picks which side parks a thread and which a task.
fn let_in_reader_and_next_writer(async_writer: bool) {
    model(move || {
        let lock = Arc::new(RwLock::new(0));
        let s = Arc::new(AtomicIsize::new(0));
        let held = lock.try_write().unwrap();
        let (l1, s1) = (lock.clone(), s.clone());
        let reader = thread::spawn(move || {
            let read = |g: &i32| {
                enter_read(&s1);
                let v = *g;
                leave_read(&s1);
                v
            };
            if async_writer {
                read(&l1.read_blocking())
            } else {
                loom::future::block_on(async { read(&*l1.read().await) })
            }
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let writer = thread::spawn(move || {
            let write = |g: &mut i32| {
                enter_write(&s2);
                *g += 10;
                leave_write(&s2);
            };
            if async_writer {
                loom::future::block_on(async { write(&mut *l2.write().await) })
            } else {
                write(&mut l2.write_blocking())
            }
        });
        drop(held);
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        assert!([0, 10].contains(&seen));
        assert_eq!(*lock.try_read().unwrap(), 10);
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn let_in_async_reader_and_blocking_writer() {
    let_in_reader_and_next_writer(false);
}

#[test]
fn let_in_blocking_reader_and_async_writer() {
    let_in_reader_and_next_writer(true);
}

/// Enters as a reader of a lock that allows `max` of them.
fn enter_limited(s: &AtomicIsize, max: isize) {
    let before = s.fetch_add(1, Ordering::SeqCst);
    assert!(before >= 0, "reader inside with a writer");
    assert!(before < max, "more readers inside than the limit");
}

/// A limit of one: a reader task waiting for the room a held read lock leaves, against a
/// blocking writer; the release of the read lock races both (preemption bound 2).
#[test]
fn limited_reader_waits_for_room_beside_a_writer() {
    model(|| {
        let lock = Arc::new(RwLock::with_max_readers(0, 1));
        let s = Arc::new(AtomicIsize::new(0));
        let held = lock.try_read().unwrap();
        enter_limited(&s, 1);
        let (l1, s1) = (lock.clone(), s.clone());
        let reader = thread::spawn(move || {
            loom::future::block_on(async {
                let g = l1.read().await;
                enter_limited(&s1, 1);
                let v = *g;
                leave_read(&s1);
                v
            })
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let writer = thread::spawn(move || {
            let mut g = l2.write_blocking();
            enter_write(&s2);
            *g += 1;
            leave_write(&s2);
        });
        leave_read(&s);
        drop(held);
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        assert!([0, 1].contains(&seen));
        assert_eq!(*lock.try_read().unwrap(), 1);
        assert!(lock.try_write().is_some());
    });
}

/// A limit of one behind a write: the write's release lets one of two queued readers (a task
/// and a thread) in, and that reader's release the other (preemption bound 2).
#[test]
fn limited_write_release_lets_in_one_reader_at_a_time() {
    model(|| {
        let lock = Arc::new(RwLock::with_max_readers(0, 1));
        let s = Arc::new(AtomicIsize::new(0));
        let held = lock.try_write().unwrap();
        let (l1, s1) = (lock.clone(), s.clone());
        let task = thread::spawn(move || {
            loom::future::block_on(async {
                let _g = l1.read().await;
                enter_limited(&s1, 1);
                leave_read(&s1);
            })
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let thread = thread::spawn(move || {
            let _g = l2.read_blocking();
            enter_limited(&s2, 1);
            leave_read(&s2);
        });
        drop(held);
        task.join().unwrap();
        thread.join().unwrap();
        assert_eq!(lock.reader_count(), 0);
        assert!(lock.try_write().is_some());
    });
}

/// A limit of one, a read lock held: a future polled once and then dropped, against a
/// blocking reader, while the read lock is released. The room always reaches the thread
/// (preemption bound 2). `write` picks the future:
/// - a read, which may have been let in for room before it is dropped;
/// - a write, which announces itself; its cancel lets in the readers queued behind it, as
///   many as fit, while the reader inside may be leaving.
fn limited_dropped_future_racing_a_read_release(write: bool) {
    model(move || {
        let lock = Arc::new(RwLock::with_max_readers(0, 1));
        let held = lock.try_read().unwrap();
        let l1 = lock.clone();
        let canceller = thread::spawn(move || {
            loom::future::block_on(async {
                if write {
                    let _ = PollOnce(&mut Box::pin(l1.write())).await;
                } else {
                    let _ = PollOnce(&mut Box::pin(l1.read())).await;
                }
            })
        });
        let l2 = lock.clone();
        let reader = thread::spawn(move || drop(l2.read_blocking()));
        drop(held);
        canceller.join().unwrap();
        reader.join().unwrap();
        assert_eq!(lock.reader_count(), 0);
        assert!(lock.try_write().is_some());
    });
}

#[test]
fn limited_dropped_read_passes_the_room_on() {
    limited_dropped_future_racing_a_read_release(false);
}

#[test]
fn limited_cancelled_write_racing_a_read_release() {
    limited_dropped_future_racing_a_read_release(true);
}

/// A limit of two: a write downgraded to a read lock lets in one of the two readers queued
/// behind it (one blocking, one with a timeout); the other gets the room the downgraded
/// reader leaves, or times out and takes nothing (preemption bound 2).
#[test]
fn limited_downgrade_shares_the_room_with_one_queued_reader() {
    model(|| {
        let lock = Arc::new(RwLock::with_max_readers(0, 2));
        let s = Arc::new(AtomicIsize::new(0));
        let w = lock.try_write().unwrap();
        let (l1, s1) = (lock.clone(), s.clone());
        let blocking = thread::spawn(move || {
            let _g = l1.read_blocking();
            enter_limited(&s1, 2);
            leave_read(&s1);
        });
        let (l2, s2) = (lock.clone(), s.clone());
        let timed = thread::spawn(move || {
            if let Some(_g) = l2.read_blocking_timeout(std::time::Duration::from_secs(1)) {
                enter_limited(&s2, 2);
                leave_read(&s2);
            }
        });
        let r = RwLockWriteGuard::downgrade(w);
        enter_limited(&s, 2);
        leave_read(&s);
        drop(r);
        blocking.join().unwrap();
        timed.join().unwrap();
        assert_eq!(lock.reader_count(), 0);
        assert!(lock.try_write().is_some());
    });
}

/// A `try_write` and a `try_upgrade` that find the last reader gone: the reader's accesses come
/// before the writer's (the lock records both on its loom cell), whether the reader left
/// before the attempt or not at all yet. The main thread yields after spawning, for loom's
/// blind spot (see `loom_support`). Preemption bound 2.
#[test]
fn try_write_and_try_upgrade_after_a_read_release_are_ordered_after_it() {
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let l1 = lock.clone();
        let reader = thread::spawn(move || *l1.read_blocking());
        thread::yield_now();
        if let Some(mut g) = lock.try_write() {
            *g += 1;
        }
        let seen = reader.join().unwrap();
        assert!(seen <= 1);
    });
    model(|| {
        let lock = Arc::new(RwLock::new(0));
        let up = lock.try_upgradable_read().unwrap();
        let l1 = lock.clone();
        let reader = thread::spawn(move || *l1.read_blocking());
        thread::yield_now();
        if let Ok(mut g) = RwLockUpgradableReadGuard::try_upgrade(up) {
            *g += 1;
        }
        let seen = reader.join().unwrap();
        assert!(seen <= 1);
    });
}

//! `ReentrantMutex`: reentrancy depth, release by the outermost guard only, other threads
//! waiting, timeouts and `try_lock`, and exclusion under contention.
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::blocked_until_released;
use unisync::{ReentrantMutex, ReentrantMutexGuard};

/// Runs `f` on another thread and returns its result (scoped, so it may borrow).
fn on_other_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    thread::scope(|s| s.spawn(f).join().unwrap())
}

#[test]
fn the_holder_locks_again_to_any_depth() {
    let m = ReentrantMutex::new(Cell::new(0));
    let mut guards = Vec::new();
    for depth in 1..=100 {
        let g = if depth % 3 == 0 {
            m.try_lock().unwrap()
        } else if depth % 3 == 1 {
            m.lock_blocking()
        } else {
            m.lock_blocking_timeout(Duration::ZERO).unwrap()
        };
        g.set(g.get() + 1);
        guards.push(g);
        assert!(m.is_locked() && m.is_owned_by_current_thread());
    }
    // Every guard sees the same value.
    assert!(guards.iter().all(|g| g.get() == 100));
    // Dropped in any order: the lock stays held until the last one goes.
    while guards.len() > 1 {
        let g = guards.swap_remove(guards.len() / 2);
        drop(g);
        assert!(m.is_locked() && m.is_owned_by_current_thread());
        assert!(on_other_thread(|| m.try_lock().is_none()));
    }
    drop(guards);
    assert!(!m.is_locked() && !m.is_owned_by_current_thread());
    assert!(on_other_thread(|| m.try_lock().map(|g| g.get())) == Some(100));
}

#[test]
fn another_thread_waits_until_the_outermost_guard_drops() {
    let m = ReentrantMutex::new(RefCell::new(Vec::new()));
    let outer = m.lock_blocking();
    let inner = m.lock_blocking();
    inner.borrow_mut().push("holder");
    // Dropping the inner guard releases nothing.
    drop(inner);
    assert!(m.is_locked());
    let seen = blocked_until_released(
        || {
            let g = m.lock_blocking();
            assert!(m.is_owned_by_current_thread());
            g.borrow_mut().push("other");
            let seen = g.borrow().clone();
            seen
        },
        || drop(outer),
    );
    assert_eq!(seen, ["holder", "other"]);
    assert!(!m.is_locked());
}

#[test]
fn a_thread_gives_up_after_its_timeout_and_the_lock_is_unchanged() {
    let m = ReentrantMutex::new(5);
    let guard = m.lock_blocking();
    assert!(on_other_thread(|| {
        m.lock_blocking_timeout(Duration::from_millis(20)).is_none()
            && m.lock_blocking_timeout(Duration::ZERO).is_none()
            && m.try_lock().is_none()
            && !m.is_owned_by_current_thread()
    }));
    assert!(m.is_owned_by_current_thread());
    let again = m.lock_blocking_timeout(Duration::from_millis(20)).unwrap();
    drop((again, guard));
    assert_eq!(
        on_other_thread(|| *m.lock_blocking_timeout(Duration::from_secs(5)).unwrap()),
        5
    );
}

#[test]
fn a_timed_wait_gets_the_lock_when_it_is_released_in_time() {
    let m = ReentrantMutex::new(1);
    let guard = m.lock_blocking();
    let got = blocked_until_released(
        || m.lock_blocking_timeout(Duration::from_secs(60)).map(|g| *g),
        || drop(guard),
    );
    assert_eq!(got, Some(1));
}

#[test]
fn guards_deref_and_format_the_value() {
    let m = ReentrantMutex::new(String::from("v"));
    let g = m.lock_blocking();
    assert_eq!(g.len(), 1);
    assert_eq!(format!("{g}"), "v");
    assert_eq!(format!("{g:?}"), "\"v\"");
    // The holder's own `Debug` of the mutex locks again and shows the value. With the
    // `diagnostics` feature the holder is shown too (tests/diagnostics.rs).
    let mine = format!("{m:?}");
    let theirs = on_other_thread(|| format!("{m:?}"));
    assert!(mine.starts_with("ReentrantMutex { data: \"v\""), "{mine}");
    assert!(
        theirs.starts_with("ReentrantMutex { data: <locked>"),
        "{theirs}"
    );
    #[cfg(not(feature = "diagnostics"))]
    {
        assert_eq!(mine, "ReentrantMutex { data: \"v\" }");
        assert_eq!(theirs, "ReentrantMutex { data: <locked> }");
    }
    assert!(std::ptr::eq(ReentrantMutexGuard::source(&g), &m));
}

#[test]
fn constructors_and_accessors() {
    static GLOBAL: ReentrantMutex<u8> = ReentrantMutex::new(3);
    assert_eq!(*GLOBAL.lock_blocking(), 3);
    let mut m: ReentrantMutex<Vec<u8>> = ReentrantMutex::default();
    m.get_mut().push(1);
    let m2 = ReentrantMutex::from(vec![1u8]);
    assert_eq!(m.into_inner(), m2.into_inner());
    let unsized_: &ReentrantMutex<[u8]> = &ReentrantMutex::new([1, 2, 3]);
    assert_eq!(unsized_.lock_blocking().len(), 3);
}

#[test]
fn a_panic_while_held_releases_every_guard_it_unwinds_through() {
    let m = Arc::new(ReentrantMutex::new(Cell::new(0)));
    let m2 = m.clone();
    let res = thread::spawn(move || {
        let _outer = m2.lock_blocking();
        let inner = m2.lock_blocking();
        inner.set(1);
        panic!("boom");
    })
    .join();
    assert!(res.is_err());
    assert!(!m.is_locked(), "not poisoned, and released on unwind");
    assert_eq!(m.lock_blocking().get(), 1);
}

/// Each thread, holding the lock, reads, yields and writes back at several depths; if two
/// threads were ever inside at once, an increment would be lost.
#[test]
fn threads_take_turns_at_every_depth() {
    let (threads, rounds) = if cfg!(miri) { (3, 10) } else { (4, 2_000) };
    let m = Arc::new(ReentrantMutex::new(Cell::new(0usize)));
    let inside = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (m, inside) = (m.clone(), inside.clone());
            thread::spawn(move || {
                for r in 0..rounds {
                    let outer = match (t + r) % 3 {
                        0 => m.lock_blocking(),
                        1 => loop {
                            if let Some(g) = m.lock_blocking_timeout(Duration::from_micros(100)) {
                                break g;
                            }
                        },
                        _ => loop {
                            if let Some(g) = m.try_lock() {
                                break g;
                            }
                            thread::yield_now();
                        },
                    };
                    assert!(!inside.swap(true, Ordering::SeqCst), "two threads inside");
                    for _ in 0..(r % 3) {
                        let inner = m.lock_blocking();
                        let v = inner.get();
                        thread::yield_now();
                        inner.set(v + 1);
                    }
                    let v = outer.get();
                    outer.set(v + 1);
                    inside.store(false, Ordering::SeqCst);
                    drop(outer);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let per_thread: usize = (0..rounds).map(|r| 1 + r % 3).sum();
    assert_eq!(m.lock_blocking().get(), threads * per_thread);
    assert!(!m.is_locked());
}

/// Ids are per thread and never reused: a guard leaked by a thread that has exited keeps the
/// lock held, and a new thread cannot take it over.
#[test]
fn a_lock_leaked_by_an_exited_thread_stays_held() {
    let m = Arc::new(ReentrantMutex::new(()));
    let m2 = m.clone();
    thread::spawn(move || std::mem::forget(m2.lock_blocking()))
        .join()
        .unwrap();
    for _ in 0..if cfg!(miri) { 2 } else { 20 } {
        let m = m.clone();
        let other =
            thread::spawn(move || m.try_lock().is_none() && !m.is_owned_by_current_thread());
        assert!(other.join().unwrap());
    }
    assert!(m.try_lock().is_none());
}

/// Waiters from several threads all get their turn once the holder's outermost guard goes.
#[test]
fn every_waiting_thread_gets_the_lock_in_turn() {
    let m = Arc::new(ReentrantMutex::new(Cell::new(0)));
    let started = Arc::new(AtomicUsize::new(0));
    let outer = m.lock_blocking();
    let inner = m.lock_blocking();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (m, started) = (m.clone(), started.clone());
            thread::spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                let g = m.lock_blocking();
                let again = m.lock_blocking();
                again.set(again.get() + 1);
                drop(g);
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < 3 {
        thread::yield_now();
    }
    drop(inner);
    assert_eq!(outer.get(), 0);
    drop(outer);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(m.lock_blocking().get(), 3);
}

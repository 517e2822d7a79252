//! Cancel safety of every async wait, through one harness.
//!
//! For each wait and each `k`, the future under test meets contention (a holder, plus a second
//! waiter queued behind it), is polled `k` times while the holder releases at a varying step,
//! and is then dropped. Afterwards the primitive must be whole (unlocked, every permit back) and
//! the second waiter must have been woken and complete.

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use common::Counter;
use unisync::{Mutex, Semaphore};

/// How many polls of the future under test the harness tries (0 means: dropped unpolled).
const K: usize = 8;

struct Case {
    name: &'static str,
    /// Runs the scenario with `k` polls and the first release just before poll `r`.
    run: fn(k: usize, r: usize),
}

/// Every async wait the crate has. When a primitive gains a new async wait (`RwLock::read`,
/// `RwLock::write`, `Event::listen`, `Condvar::wait`, `Barrier::wait`, ...), add a case here
/// and its name to `every_async_wait_is_in_the_harness`.
const CASES: &[Case] = &[
    Case {
        name: "Mutex::lock",
        run: mutex_lock,
    },
    Case {
        name: "Mutex::lock_owned",
        run: mutex_lock_owned,
    },
    Case {
        name: "Semaphore::acquire",
        run: sem_acquire,
    },
    Case {
        name: "Semaphore::acquire_many",
        run: sem_acquire_many,
    },
    Case {
        name: "Semaphore::acquire_owned",
        run: sem_acquire_owned,
    },
    Case {
        name: "Semaphore::acquire_many_owned",
        run: sem_acquire_many_owned,
    },
];

#[test]
fn every_async_wait_is_in_the_harness() {
    // Add every new async wait to `CASES` and here; a wait missing from the harness has no
    // cancel-safety coverage.
    let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "Mutex::lock",
            "Mutex::lock_owned",
            "Semaphore::acquire",
            "Semaphore::acquire_many",
            "Semaphore::acquire_owned",
            "Semaphore::acquire_many_owned",
        ]
    );
}

#[test]
fn dropping_any_wait_at_any_point_leaves_the_primitive_whole() {
    for case in CASES {
        for k in 0..=K {
            for r in 0..=k + 1 {
                let res = std::panic::catch_unwind(|| (case.run)(k, r));
                if let Err(e) = res {
                    eprintln!("case {} failed with k = {k}, r = {r}", case.name);
                    std::panic::resume_unwind(e);
                }
            }
        }
    }
}

/// One scenario: the future under test, the waiter queued behind it, the releases of the
/// contention in order, and the check that the primitive is whole again.
struct Scenario<'a, F, W> {
    fut: F,
    second: W,
    releases: Vec<Box<dyn FnOnce() + 'a>>,
    whole: Box<dyn Fn() -> bool + 'a>,
}

fn drive<F, W>(k: usize, r: usize, s: Scenario<'_, F, W>)
where
    F: Future + Unpin,
    W: Future + Unpin,
{
    let Scenario {
        fut,
        mut second,
        releases,
        whole,
    } = s;
    let (cf, c2) = (Counter::new(), Counter::new());
    let mut fut = Some(fut);
    let mut releases = releases.into_iter();
    // `Some(wakes seen at its last Pending poll)` while the second waiter waits.
    let mut second_state: Option<Option<usize>> = None;
    let poll_second = |c2: &Counter, second: &mut W, state: &mut Option<Option<usize>>| {
        let before = c2.count();
        match c2.poll(second) {
            Poll::Ready(out) => {
                drop(out);
                *state = Some(None);
            }
            Poll::Pending => *state = Some(Some(before)),
        }
    };
    for i in 0..k {
        if i >= r {
            if let Some(release) = releases.next() {
                release();
            }
        }
        if let Poll::Ready(out) = cf.poll(fut.as_mut().unwrap()) {
            drop(out);
            fut = None;
            break;
        }
        if second_state.is_none() {
            poll_second(&c2, &mut second, &mut second_state);
        }
    }
    if second_state.is_none() {
        poll_second(&c2, &mut second, &mut second_state);
    }
    // Cancel the wait (a no-op when it completed).
    drop(fut);
    for release in releases {
        release();
    }
    if let Some(Some(seen)) = second_state {
        assert!(
            c2.count() > seen,
            "the second waiter was not woken (k = {k}, r = {r})"
        );
        match c2.poll(&mut second) {
            Poll::Ready(out) => drop(out),
            Poll::Pending => panic!("the woken second waiter did not complete (k = {k}, r = {r})"),
        }
    }
    drop(second);
    assert!(whole(), "primitive not whole (k = {k}, r = {r})");
}

/// Mutex contention: a holder, then right after it unlocks a barger takes the lock once (so a
/// woken future under test starts starving), then the barger unlocks.
fn mutex_releases<'a>(m: &'a Arc<Mutex<()>>) -> Vec<Box<dyn FnOnce() + 'a>> {
    let holder = m.try_lock_owned().unwrap();
    let barger = Rc::new(RefCell::new(None));
    let b2 = barger.clone();
    vec![
        Box::new(move || {
            drop(holder);
            *barger.borrow_mut() = m.try_lock_owned();
        }),
        Box::new(move || drop(b2.borrow_mut().take())),
    ]
}

fn mutex_whole(m: &Arc<Mutex<()>>) -> Box<dyn Fn() -> bool + '_> {
    Box::new(move || !m.is_locked() && m.try_lock().is_some() && !m.is_locked())
}

fn mutex_lock(k: usize, r: usize) {
    let m = Arc::new(Mutex::new(()));
    let releases = mutex_releases(&m);
    let fut = m.lock();
    let second = m.lock_owned();
    drive(
        k,
        r,
        Scenario {
            fut,
            second,
            releases,
            whole: mutex_whole(&m),
        },
    );
}

fn mutex_lock_owned(k: usize, r: usize) {
    let m = Arc::new(Mutex::new(()));
    let releases = mutex_releases(&m);
    let fut = m.lock_owned();
    let second = m.lock();
    drive(
        k,
        r,
        Scenario {
            fut,
            second,
            releases,
            whole: mutex_whole(&m),
        },
    );
}

const INITIAL: usize = 3;

/// Semaphore contention: three single permits held, released one per step (so a waiter for
/// several permits becomes head and collects them one by one).
fn sem_releases(sem: &Arc<Semaphore>) -> Vec<Box<dyn FnOnce() + '_>> {
    (0..INITIAL)
        .map(|_| {
            let p = sem.try_acquire().unwrap();
            Box::new(move || drop(p)) as Box<dyn FnOnce()>
        })
        .collect()
}

fn sem_whole(sem: &Arc<Semaphore>) -> Box<dyn Fn() -> bool + '_> {
    Box::new(move || sem.available_permits() == INITIAL && sem.try_acquire_many(INITIAL).is_ok())
}

fn sem_case<F: Future + Unpin>(sem: &Arc<Semaphore>, k: usize, r: usize, fut: F) {
    let releases = sem_releases(sem);
    let second = sem.acquire();
    drive(
        k,
        r,
        Scenario {
            fut,
            second,
            releases,
            whole: sem_whole(sem),
        },
    );
}

fn sem_acquire(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(INITIAL));
    sem_case(&sem, k, r, sem.acquire());
}

fn sem_acquire_many(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(INITIAL));
    sem_case(&sem, k, r, sem.acquire_many(INITIAL));
}

fn sem_acquire_owned(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(INITIAL));
    sem_case(&sem, k, r, sem.clone().acquire_owned());
}

fn sem_acquire_many_owned(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(INITIAL));
    sem_case(&sem, k, r, sem.clone().acquire_many_owned(2));
}

//! Cancel safety of every async wait, through one harness.
//!
//! For each wait and each `k`, the future under test meets contention (a holder, plus a second
//! waiter queued behind it), is polled `k` times while the holder releases at a varying step,
//! and is then dropped. Afterwards the primitive must be whole (unlocked, every permit back) and
//! the second waiter must have been woken and complete.

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use common::Counter;
use futures::FutureExt;
use unisync::{
    Barrier, Condvar, Event, Mutex, OwnedRwLockUpgradableReadGuard, RwLock,
    RwLockUpgradableReadGuard, Semaphore, ShutdownSignal, WaitGroup,
};

/// How many polls of the future under test the harness tries (0 means: dropped unpolled).
///
/// Under Miri 5, which halves the scenarios: no case has more than three releases (`drive`
/// checks), so five polls still put every release before, between and after polls, and a
/// dropped future still meets every state; the native run keeps the wider margin.
const K: usize = if cfg!(miri) { 5 } else { 8 };

struct Case {
    name: &'static str,
    /// Runs the scenario with `k` polls and the first release just before poll `r`.
    run: fn(k: usize, r: usize),
}

/// Every async wait the crate has (condvar waits once per guard kind). Adding an async wait
/// method to the crate means adding a case here and its name to
/// `every_async_wait_is_in_the_harness`.
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
        name: "lock_all",
        run: multi_lock_all,
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
    Case {
        name: "RwLock::read",
        run: rwlock_read,
    },
    Case {
        name: "RwLock::read_owned",
        run: rwlock_read_owned,
    },
    Case {
        name: "RwLock::write",
        run: rwlock_write,
    },
    Case {
        name: "RwLock::write_owned",
        run: rwlock_write_owned,
    },
    Case {
        name: "RwLock::upgradable_read",
        run: rwlock_upgradable_read,
    },
    Case {
        name: "RwLock::upgradable_read_owned",
        run: rwlock_upgradable_read_owned,
    },
    Case {
        name: "RwLockUpgradableReadGuard::upgrade",
        run: rwlock_upgrade,
    },
    Case {
        name: "OwnedRwLockUpgradableReadGuard::upgrade",
        run: rwlock_upgrade_owned,
    },
    Case {
        name: "Event::wait",
        run: event_wait,
    },
    Case {
        name: "Event::wait_owned",
        run: event_wait_owned,
    },
    Case {
        name: "Condvar::wait(MutexGuard)",
        run: condvar_wait,
    },
    Case {
        name: "Condvar::wait(OwnedMutexGuard)",
        run: condvar_wait_owned,
    },
    Case {
        name: "Condvar::wait_while(MutexGuard)",
        run: condvar_wait_while,
    },
    Case {
        name: "Condvar::wait_while(OwnedMutexGuard)",
        run: condvar_wait_while_owned,
    },
    Case {
        name: "Barrier::wait",
        run: barrier_wait,
    },
    Case {
        name: "WaitGroup::wait",
        run: wait_group_wait,
    },
    Case {
        name: "WaitGroup::wait_owned",
        run: wait_group_wait_owned,
    },
    Case {
        name: "ShutdownSignal::wait",
        run: shutdown_wait,
    },
    Case {
        name: "ShutdownSignal::wait_owned",
        run: shutdown_wait_owned,
    },
    Case {
        name: "ShutdownSignal::drained",
        run: shutdown_drained,
    },
    Case {
        name: "ShutdownSignal::drained_owned",
        run: shutdown_drained_owned,
    },
];

#[test]
fn every_async_wait_is_in_the_harness() {
    // The full list of async waits. Adding a wait method to the crate means adding a case to
    // `CASES` and its name here: a wait missing from the harness has no cancel-safety coverage.
    let names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "Mutex::lock",
            "Mutex::lock_owned",
            "lock_all",
            "Semaphore::acquire",
            "Semaphore::acquire_many",
            "Semaphore::acquire_owned",
            "Semaphore::acquire_many_owned",
            "RwLock::read",
            "RwLock::read_owned",
            "RwLock::write",
            "RwLock::write_owned",
            "RwLock::upgradable_read",
            "RwLock::upgradable_read_owned",
            "RwLockUpgradableReadGuard::upgrade",
            "OwnedRwLockUpgradableReadGuard::upgrade",
            "Event::wait",
            "Event::wait_owned",
            "Condvar::wait(MutexGuard)",
            "Condvar::wait(OwnedMutexGuard)",
            "Condvar::wait_while(MutexGuard)",
            "Condvar::wait_while(OwnedMutexGuard)",
            "Barrier::wait",
            "WaitGroup::wait",
            "WaitGroup::wait_owned",
            "ShutdownSignal::wait",
            "ShutdownSignal::wait_owned",
            "ShutdownSignal::drained",
            "ShutdownSignal::drained_owned",
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
    assert!(
        releases.len() + 2 <= K,
        "{} releases need K of at least {}: raise K",
        releases.len(),
        releases.len() + 2
    );
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
    // With `r == k` the release comes after the last poll: the future may have been woken and
    // is dropped without acting on it, so the wake-up must be passed on.
    if r == k && fut.is_some() {
        if let Some(release) = releases.next() {
            release();
        }
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
/// woken future under test starts starving), then the barger unlocks. Without `barge` the
/// holder's unlock is the only release: a wake-up the dropped future swallowed is then not
/// covered by a later unlock, so the second waiter is woken only if it was passed on.
fn mutex_releases<'a>(m: &'a Arc<Mutex<()>>, barge: bool) -> Vec<Box<dyn FnOnce() + 'a>> {
    let holder = m.try_lock_owned().unwrap();
    if !barge {
        return vec![Box::new(move || drop(holder))];
    }
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
    let releases = mutex_releases(&m, r % 2 == 0);
    let fut = Box::pin(m.lock());
    let second = Box::pin(m.lock_owned());
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
    let releases = mutex_releases(&m, r % 2 == 0);
    let fut = Box::pin(m.lock_owned());
    let second = Box::pin(m.lock());
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

/// Two mutexes: the one `lock_all` takes second is held (with a barger on even `r`), so the
/// future under test takes the first, then queues on the second; the second waiter queues
/// behind it there. A dropped multi-lock must give the first back and pass on the wake-up
/// (or the lock handed to it) for the second.
fn multi_lock_all(k: usize, r: usize) {
    let (x, y) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let (first, second) = if Arc::as_ptr(&x) < Arc::as_ptr(&y) {
        (x, y)
    } else {
        (y, x)
    };
    let releases = mutex_releases(&second, r % 2 == 0);
    let fut = Box::pin(unisync::lock_all((&*second, &*first)));
    let waiter = Box::pin(second.lock());
    let (first_whole, second_whole) = (mutex_whole(&first), mutex_whole(&second));
    drive(
        k,
        r,
        Scenario {
            fut,
            second: waiter,
            releases,
            whole: Box::new(move || first_whole() && second_whole()),
        },
    );
}

const INITIAL: usize = 3;

/// Semaphore contention in two shapes, alternating with `r`. Spread (even `r`): three single
/// permits held, released one per step, so a waiter for several permits becomes head and
/// collects them one by one. Single (odd `r`): a one-permit semaphore whose only permit is
/// held and released once; a wake-up the dropped future swallowed is then not covered by a
/// later release, so the second waiter is woken only if it was passed on.
fn sem_permits(r: usize) -> usize {
    if r % 2 == 0 {
        INITIAL
    } else {
        1
    }
}

fn sem_releases(sem: &Arc<Semaphore>, permits: usize) -> Vec<Box<dyn FnOnce() + '_>> {
    (0..permits)
        .map(|_| {
            let p = sem.try_acquire().unwrap();
            Box::new(move || drop(p)) as Box<dyn FnOnce()>
        })
        .collect()
}

fn sem_whole(sem: &Arc<Semaphore>, permits: usize) -> Box<dyn Fn() -> bool + '_> {
    Box::new(move || sem.available_permits() == permits && sem.try_acquire_many(permits).is_ok())
}

fn sem_case<F: Future + Unpin>(sem: &Arc<Semaphore>, k: usize, r: usize, fut: F) {
    let permits = sem_permits(r);
    let releases = sem_releases(sem, permits);
    let second = Box::pin(sem.acquire());
    drive(
        k,
        r,
        Scenario {
            fut,
            second,
            releases,
            whole: sem_whole(sem, permits),
        },
    );
}

fn sem_acquire(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(sem_permits(r)));
    sem_case(&sem, k, r, Box::pin(sem.acquire()));
}

fn sem_acquire_many(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(sem_permits(r)));
    sem_case(&sem, k, r, Box::pin(sem.acquire_many(INITIAL)));
}

fn sem_acquire_owned(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(sem_permits(r)));
    sem_case(&sem, k, r, Box::pin(sem.acquire_owned()));
}

fn sem_acquire_many_owned(k: usize, r: usize) {
    let sem = Arc::new(Semaphore::new(sem_permits(r)));
    sem_case(&sem, k, r, Box::pin(sem.acquire_many_owned(2)));
}

/// Boxes a future so that every future under test is `Unpin`, whatever its own type.
fn boxed<'a, F: Future + 'a>(fut: F) -> Pin<Box<dyn Future<Output = F::Output> + 'a>> {
    Box::pin(fut)
}

fn rwlock_whole(lock: &Arc<RwLock<()>>) -> Box<dyn Fn() -> bool + '_> {
    Box::new(move || {
        !lock.is_write_locked() && lock.reader_count() == 0 && lock.try_write().is_some()
    })
}

/// A releaser that drops `guard`, then lets a barger take the lock with `barge` once, then
/// drops the barger: so a woken waiter may find the lock taken again.
fn rwlock_releases<'a, G: 'a, B: 'a>(
    guard: G,
    barge: impl FnOnce() -> Option<B> + 'a,
) -> Vec<Box<dyn FnOnce() + 'a>> {
    let barger = Rc::new(RefCell::new(None));
    let b2 = barger.clone();
    vec![
        Box::new(move || {
            drop(guard);
            *barger.borrow_mut() = barge();
        }),
        Box::new(move || drop(b2.borrow_mut().take())),
    ]
}

fn rwlock_case<'a, F: Future + Unpin, W: Future + Unpin>(
    lock: &'a Arc<RwLock<()>>,
    k: usize,
    r: usize,
    releases: Vec<Box<dyn FnOnce() + 'a>>,
    fut: F,
    second: W,
) {
    drive(
        k,
        r,
        Scenario {
            fut,
            second,
            releases,
            whole: rwlock_whole(lock),
        },
    );
}

/// A reader behind a writer, with a writer queued behind the reader.
fn rwlock_read(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_write_owned().unwrap(), || lock.try_read_owned());
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.read()),
        Box::pin(lock.write_owned()),
    );
}

fn rwlock_read_owned(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_write_owned().unwrap(), || lock.try_write_owned());
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.read_owned()),
        Box::pin(lock.write()),
    );
}

/// A writer behind a reader, with a reader queued behind the writer (phase-fair: new readers
/// wait for a queued writer).
fn rwlock_write(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_read_owned().unwrap(), || lock.try_write_owned());
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.write()),
        Box::pin(lock.read_owned()),
    );
}

fn rwlock_write_owned(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_write_owned().unwrap(), || lock.try_read_owned());
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.write_owned()),
        Box::pin(lock.write()),
    );
}

fn rwlock_upgradable_read(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_write_owned().unwrap(), || {
        lock.try_upgradable_read_owned()
    });
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.upgradable_read()),
        Box::pin(lock.upgradable_read_owned()),
    );
}

fn rwlock_upgradable_read_owned(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let releases = rwlock_releases(lock.try_upgradable_read_owned().unwrap(), || {
        lock.try_write_owned()
    });
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        Box::pin(lock.upgradable_read_owned()),
        Box::pin(lock.write_owned()),
    );
}

/// Two readers inside, released one per step; the upgrade waits for both. A reader queued
/// behind the upgrade must get in when the upgrade is dropped (which releases the upgradable
/// lock it owns).
fn rwlock_upgrade(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let readers = [
        lock.try_read_owned().unwrap(),
        lock.try_read_owned().unwrap(),
    ];
    let releases = readers
        .into_iter()
        .map(|g| Box::new(move || drop(g)) as Box<dyn FnOnce()>)
        .collect();
    let fut = RwLockUpgradableReadGuard::upgrade(lock.try_upgradable_read().unwrap());
    rwlock_case(&lock, k, r, releases, boxed(fut), Box::pin(lock.read()));
}

/// As `rwlock_upgrade`, with another upgradable reader queued behind the upgrade.
fn rwlock_upgrade_owned(k: usize, r: usize) {
    let lock = Arc::new(RwLock::new(()));
    let readers = [
        lock.try_read_owned().unwrap(),
        lock.try_read_owned().unwrap(),
    ];
    let releases = readers
        .into_iter()
        .map(|g| Box::new(move || drop(g)) as Box<dyn FnOnce()>)
        .collect();
    let fut = OwnedRwLockUpgradableReadGuard::upgrade(lock.try_upgradable_read_owned().unwrap());
    rwlock_case(
        &lock,
        k,
        r,
        releases,
        boxed(fut),
        Box::pin(lock.upgradable_read()),
    );
}

/// The event is set and cleared at once at a varying step, then set for good once the future
/// under test is gone: the other waiter must still see that set.
fn event_case(k: usize, r: usize, owned: bool) {
    let event = Arc::new(Event::new());
    let releases: Vec<Box<dyn FnOnce()>> = vec![
        Box::new(|| {
            event.set();
            event.clear();
        }),
        Box::new(|| event.set()),
    ];
    drive(
        k,
        r,
        Scenario {
            fut: if owned {
                Box::pin(event.wait_owned()) as Pin<Box<dyn Future<Output = ()> + '_>>
            } else {
                Box::pin(event.wait())
            },
            second: Box::pin(event.wait()),
            releases,
            whole: Box::new(|| event.is_set() && event.wait().now_or_never().is_some()),
        },
    );
}

fn event_wait(k: usize, r: usize) {
    event_case(k, r, false);
}

fn event_wait_owned(k: usize, r: usize) {
    event_case(k, r, true);
}

/// Condvar scenario: the future under test waits first, a second waiter (always a plain
/// `wait` with a `MutexGuard`) waits behind it, and one `notify_one` is sent at step `r` while
/// a barger holds the mutex (so the notified future must lock again under contention). The
/// notification goes to the future under test, being the longest waiter; if the future is
/// dropped without completing, the notification must reach the second waiter.
fn condvar_case<'a, G, F>(m: &'a Arc<Mutex<u32>>, cv: &'a Condvar, k: usize, r: usize, fut: F)
where
    F: Future<Output = G> + 'a,
{
    let mut fut = Some(boxed(fut));
    let (cf, c2) = (Counter::new(), Counter::new());
    let mut second = None;
    let mut barger = None;
    let mut notified = false;
    for i in 0..k {
        // Release the barger one step after it came in.
        drop(barger.take());
        if i >= r && second.is_some() && !notified {
            barger = m.try_lock();
            if let Some(b) = barger.as_mut() {
                **b += 1;
            }
            cv.notify_one();
            notified = true;
        }
        if let Poll::Ready(guard) = cf.poll(fut.as_mut().unwrap()) {
            drop(guard);
            fut = None;
            break;
        }
        if second.is_none() {
            // The future under test waits (it released the mutex): queue behind it.
            let mut w = boxed(cv.wait(m.try_lock().expect("mutex released by the wait")));
            assert!(c2.poll(&mut w).is_pending());
            second = Some(w);
        }
    }
    let completed = fut.is_none();
    drop(fut);
    drop(barger);
    assert!(
        !m.is_locked(),
        "dropped wait left the mutex locked (k = {k}, r = {r})"
    );
    let mut second = match second {
        Some(w) => w,
        None => {
            let mut w = boxed(cv.wait(m.try_lock().unwrap()));
            assert!(c2.poll(&mut w).is_pending());
            w
        }
    };
    if notified && !completed {
        assert!(
            c2.count() > 0,
            "the notification was not passed on (k = {k}, r = {r})"
        );
    } else {
        assert_eq!(c2.count(), 0, "spurious wake-up (k = {k}, r = {r})");
        cv.notify_one();
        assert!(c2.count() > 0);
    }
    match c2.poll(&mut second) {
        Poll::Ready(g) => drop(g),
        Poll::Pending => panic!("notified second waiter did not complete (k = {k}, r = {r})"),
    }
    assert!(m.try_lock().is_some() && !m.is_locked());
}

fn condvar_wait(k: usize, r: usize) {
    let (m, cv) = (Arc::new(Mutex::new(0)), Condvar::new());
    let fut = cv.wait(m.try_lock().unwrap());
    condvar_case(&m, &cv, k, r, fut);
}

fn condvar_wait_owned(k: usize, r: usize) {
    let (m, cv) = (Arc::new(Mutex::new(0)), Condvar::new());
    let fut = cv.wait(m.try_lock_owned().unwrap());
    condvar_case(&m, &cv, k, r, fut);
}

fn condvar_wait_while(k: usize, r: usize) {
    let (m, cv) = (Arc::new(Mutex::new(0)), Condvar::new());
    let fut = cv.wait_while(m.try_lock().unwrap(), |n| *n == 0);
    condvar_case(&m, &cv, k, r, fut);
}

fn condvar_wait_while_owned(k: usize, r: usize) {
    let (m, cv) = (Arc::new(Mutex::new(0)), Condvar::new());
    let fut = cv.wait_while(m.try_lock_owned().unwrap(), |n| *n == 0);
    condvar_case(&m, &cv, k, r, fut);
}

/// Barrier of three: the future under test and a second party wait; a third party arrives at
/// a varying step (tripping the barrier if the future under test is still in). After the drop
/// the count must be that of the parties still in, and replacements must trip the barrier.
fn barrier_wait(k: usize, r: usize) {
    const PARTIES: usize = 3;
    let barrier = Barrier::new(PARTIES);
    let (cf, c2, c3) = (Counter::new(), Counter::new(), Counter::new());
    let mut fut = Some(Box::pin(barrier.wait()));
    let mut second = Box::pin(barrier.wait());
    let mut third = Box::pin(barrier.wait());
    let (mut third_in, mut third_done) = (false, false);
    let (mut second_in, mut second_done) = (false, false);
    let mut tripped = false;
    for i in 0..k {
        if i >= r && !third_in {
            third_in = true;
            third_done = c3.poll(&mut third).is_ready();
            tripped |= third_done;
        }
        if let Poll::Ready(res) = cf.poll(fut.as_mut().unwrap()) {
            assert!(res.is_ok());
            fut = None;
            tripped = true;
            break;
        }
        if !second_in {
            second_in = true;
            second_done = c2.poll(&mut second).is_ready();
            tripped |= second_done;
        }
    }
    if !second_in {
        second_done = c2.poll(&mut second).is_ready();
        tripped |= second_done;
    }
    drop(fut);
    if !tripped {
        let in_now = 1 + usize::from(third_in);
        assert_eq!(
            barrier.n_waiting(),
            in_now,
            "the dropped party did not withdraw (k = {k}, r = {r})"
        );
        assert_eq!(
            c2.count(),
            0,
            "barrier tripped short of a party (k = {k}, r = {r})"
        );
        // Replacements: the barrier must trip exactly when the count reaches `PARTIES`.
        let mut extra: Vec<_> = (in_now..PARTIES)
            .map(|_| Box::pin(barrier.wait()))
            .collect();
        let ce = Counter::new();
        let last = extra.len() - 1;
        for (j, w) in extra.iter_mut().enumerate() {
            assert_eq!(ce.poll(w).is_ready(), j == last);
        }
        extra.pop();
        for mut w in extra {
            assert!(ce.poll(&mut w).is_ready());
        }
    }
    if !second_done {
        assert!(c2.count() > 0, "second party not woken (k = {k}, r = {r})");
        assert!(
            c2.poll(&mut second).is_ready(),
            "second party did not complete"
        );
    }
    if third_in && !third_done {
        assert!(c3.count() > 0, "third party not woken (k = {k}, r = {r})");
        assert!(
            c3.poll(&mut third).is_ready(),
            "third party did not complete"
        );
    }
    drop((second, third));
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
    // A whole fresh generation still trips.
    let mut round: Vec<_> = (0..PARTIES).map(|_| Box::pin(barrier.wait())).collect();
    let ce = Counter::new();
    let last = round.pop().unwrap();
    for w in round.iter_mut() {
        assert!(ce.poll(w).is_pending());
    }
    assert!(ce.poll(&mut { last }).is_ready());
    for mut w in round {
        assert!(ce.poll(&mut w).is_ready());
    }
}

/// Two tokens out. The first goes; then the second goes and a new token comes at once (the
/// count touches zero, which completes every wait queued by then); then the new one goes. A
/// dropped wait must leave the count as the live tokens say, and the other waiter must
/// complete.
fn wait_group_case(k: usize, r: usize, owned: bool) {
    let group = WaitGroup::new();
    let (first, second) = (group.token(), group.token());
    let again = Rc::new(RefCell::new(None));
    let a2 = again.clone();
    let group_ref = &group;
    let releases: Vec<Box<dyn FnOnce()>> = vec![
        Box::new(move || drop(first)),
        Box::new(move || {
            drop(second);
            *a2.borrow_mut() = Some(group_ref.token());
        }),
        Box::new(move || drop(again.borrow_mut().take())),
    ];
    drive(
        k,
        r,
        Scenario {
            fut: if owned {
                Box::pin(group.wait_owned()) as Pin<Box<dyn Future<Output = ()> + '_>>
            } else {
                Box::pin(group.wait())
            },
            second: Box::pin(group.wait()),
            releases,
            whole: Box::new(|| group.count() == 0 && group.wait().now_or_never().is_some()),
        },
    );
}

fn wait_group_wait(k: usize, r: usize) {
    wait_group_case(k, r, false);
}

fn wait_group_wait_owned(k: usize, r: usize) {
    wait_group_case(k, r, true);
}

/// A signal with a child: the child is triggered alone first (which must not reach the
/// signal), then the signal fires. The second waiter waits on another child, so the trigger
/// reaches it through that child's registration; afterwards the signal and every child of it
/// must be triggered.
fn shutdown_case<'a, F: Future + Unpin>(signal: &'a ShutdownSignal, k: usize, r: usize, fut: F) {
    let alone = signal.child();
    let other = signal.child();
    let releases: Vec<Box<dyn FnOnce() + 'a>> = vec![
        Box::new(move || {
            assert!(alone.trigger());
            assert!(!signal.is_triggered());
            drop(alone);
        }),
        Box::new(|| assert!(signal.trigger())),
    ];
    drive(
        k,
        r,
        Scenario {
            fut,
            second: Box::pin(other.wait_owned()),
            releases,
            whole: Box::new(|| {
                signal.is_triggered()
                    && other.is_triggered()
                    && signal.child().is_triggered()
                    && signal.wait().now_or_never().is_some()
            }),
        },
    );
}

fn shutdown_wait(k: usize, r: usize) {
    let signal = ShutdownSignal::new();
    shutdown_case(&signal, k, r, Box::pin(signal.wait()));
}

fn shutdown_wait_owned(k: usize, r: usize) {
    let signal = ShutdownSignal::new();
    shutdown_case(&signal, k, r, Box::pin(signal.wait_owned()));
}

/// A guard tracked under a child holds up the drain. The signal fires (the drain waits on);
/// then the guard goes and a new one is tracked at once (the count touches zero); then the
/// new one goes. The second waiter drains the child, which the new guard (tracked on the
/// signal itself) does not hold up.
fn shutdown_drained_case(k: usize, r: usize, owned: bool) {
    let signal = ShutdownSignal::new();
    let child = signal.child();
    let guard = child.track();
    let again = Rc::new(RefCell::new(None));
    let a2 = again.clone();
    let signal_ref = &signal;
    let releases: Vec<Box<dyn FnOnce()>> = vec![
        Box::new(|| assert!(signal.trigger())),
        Box::new(move || {
            drop(guard);
            *a2.borrow_mut() = Some(signal_ref.track());
        }),
        Box::new(move || drop(again.borrow_mut().take())),
    ];
    drive(
        k,
        r,
        Scenario {
            fut: if owned {
                Box::pin(signal.drained_owned()) as Pin<Box<dyn Future<Output = ()> + '_>>
            } else {
                Box::pin(signal.drained())
            },
            second: Box::pin(child.drained()),
            releases,
            whole: Box::new(|| {
                signal.tracked() == 0
                    && child.tracked() == 0
                    && signal.drained().now_or_never().is_some()
                    && child.drained().now_or_never().is_some()
            }),
        },
    );
}

fn shutdown_drained(k: usize, r: usize) {
    shutdown_drained_case(k, r, false);
}

fn shutdown_drained_owned(k: usize, r: usize) {
    shutdown_drained_case(k, r, true);
}

//! The `diagnostics` feature: holder records, the long-wait hook and the deadlock check.
//!
//! Timing: nothing here asserts that something did *not* happen within some time on a busy
//! machine. Waits meant to be reported are held until the report arrives; waits meant to be
//! short are far below their threshold; and every "eventually" has a generous deadline that
//! fails the test instead of hanging it.

#![cfg(feature = "diagnostics")]

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier, Mutex as StdMutex, MutexGuard as StdMutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use common::Counter;
use unisync::diagnostics::{self, DeadlockCycle, LockKind, LongWait, ThreadId};
use unisync::{
    Condvar, MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard, OwnedRwLockUpgradableReadGuard,
    ReentrantMutex, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard,
};

/// How long an "eventually" may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

fn addr<T: ?Sized>(lock: &T) -> usize {
    (lock as *const T).cast::<()>() as usize
}

fn line_of_holder<T: ?Sized>(m: &Mutex<T>) -> u32 {
    m.holder().expect("the mutex is held").site().line()
}

fn line_of_writer<T: ?Sized>(l: &RwLock<T>) -> u32 {
    l.writer().expect("a writer holds the lock").site().line()
}

fn block_on<F: Future>(fut: F) -> F::Output {
    futures::executor::block_on(fut)
}

// -- Holder records ---------------------------------------------------------------------------

#[test]
fn every_way_of_locking_a_mutex_records_the_callers_line() {
    let m = Arc::new(Mutex::new(0));
    assert!(m.holder().is_none());

    let g = m.try_lock().unwrap();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = m.lock_blocking();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = m.lock_blocking_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = block_on(m.lock());
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = block_on(m.lock_owned());
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = m.lock_owned_blocking();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let t = Duration::from_secs(1);
    let g = m.lock_owned_blocking_timeout(t).unwrap();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    let g = m.try_lock_owned().unwrap();
    assert_eq!(line_of_holder(&m), line!() - 1);
    drop(g);
    assert!(m.holder().is_none());
}

#[test]
fn a_contended_lock_records_the_site_of_the_wait_that_got_it() {
    let m = Mutex::new(());
    let c = Counter::new();
    let held = m.try_lock().unwrap();
    let mut fut = pin!(m.lock());
    let waited_at = line!() - 1;
    assert!(poll(&c, fut.as_mut()).is_pending());
    drop(held);
    let Poll::Ready(guard) = poll(&c, fut.as_mut()) else {
        panic!("the lock was released");
    };
    assert_eq!(line_of_holder(&m), waited_at);
    assert!(m.holder().unwrap().by_task());
    drop(guard);

    // A thread that parks, then gets the lock.
    let held = m.lock_blocking();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let g = m.lock_blocking();
            let line = line!() - 1;
            (
                line_of_holder(&m),
                line,
                m.holder().unwrap().thread(),
                ThreadId::current(),
                g,
            )
        });
        thread::sleep(Duration::from_millis(5));
        drop(held);
        let (recorded, line, holder, me, g) = waiter.join().unwrap();
        assert_eq!((recorded, holder), (line, me));
        drop(g);
    });
}

#[test]
fn every_way_of_taking_the_write_lock_records_the_callers_line() {
    let l = Arc::new(RwLock::new(0));
    assert!(l.writer().is_none());

    let g = l.try_write().unwrap();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = l.write_blocking();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = l.write_blocking_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = block_on(l.write());
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = block_on(l.write_owned());
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = l.write_owned_blocking();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let g = l.try_write_owned().unwrap();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);

    // Upgrades: the upgradable reader is not a writer until it upgrades.
    let up = l.try_upgradable_read().unwrap();
    assert!(l.writer().is_none());
    let g = block_on(RwLockUpgradableReadGuard::upgrade(up));
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let up = l.upgradable_read_blocking();
    let g = RwLockUpgradableReadGuard::upgrade_blocking(up);
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let up = l.upgradable_read_blocking();
    let g = RwLockUpgradableReadGuard::try_upgrade(up).unwrap();
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);
    let up = l.try_upgradable_read_owned().unwrap();
    let g = OwnedRwLockUpgradableReadGuard::upgrade_blocking(up);
    assert_eq!(line_of_writer(&l), line!() - 1);
    drop(g);

    // Readers are not recorded.
    let r = l.try_read().unwrap();
    assert!(l.writer().is_none());
    drop(r);
    assert!(l.writer().is_none());
}

#[test]
fn a_downgrade_clears_the_writer() {
    let l = RwLock::new(0);
    let w = l.write_blocking();
    let r = RwLockWriteGuard::downgrade(w);
    assert!(l.writer().is_none());
    drop(r);
    let w = l.write_blocking();
    let up = RwLockWriteGuard::downgrade_to_upgradable(w);
    assert!(l.writer().is_none());
    drop(up);
    let r = RwLockWriteGuard::downgrade_map(l.write_blocking(), |v| v);
    assert!(l.writer().is_none());
    drop(r);
    let w = RwLockWriteGuard::try_downgrade_map(l.write_blocking(), |_| None::<&i32>).unwrap_err();
    assert!(
        l.writer().is_some(),
        "a failed try keeps the write lock and its record"
    );
    drop(RwLockWriteGuard::try_downgrade_map(w, |v| Some(v)).unwrap());
    assert!(l.writer().is_none());
    let m = RwLockWriteGuard::map(l.write_blocking(), |v| v);
    assert!(l.writer().is_some(), "a mapped guard keeps the record");
    drop(unisync::MappedRwLockWriteGuard::downgrade(m));
    assert!(l.writer().is_none());
}

#[test]
fn held_for_grows_while_held_and_the_record_goes_with_the_guard() {
    let m = Mutex::new(());
    let before = Instant::now();
    let g = m.lock_blocking();
    let holder = m.holder().unwrap();
    assert!(holder.acquired_at() >= before);
    assert_eq!(holder.thread(), ThreadId::current());
    assert!(!holder.by_task());
    let first = holder.held_for();
    thread::sleep(Duration::from_millis(10));
    let second = m.holder().unwrap().held_for();
    assert!(
        second >= first + Duration::from_millis(10),
        "{first:?} then {second:?}"
    );
    drop(g);
    assert!(m.holder().is_none());
}

/// Regression: a lock taken on one thread and read on another had an `acquired_at` up to
/// 450 ns after an `Instant::now()` read right after it (in an optimized build), since the
/// cores' time-stamp counters need not agree and a counter read is not ordered with loads.
#[test]
fn acquired_at_read_on_another_thread_is_never_after_the_readers_clock() {
    let m = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let locker = {
        let (m, stop) = (m.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                drop(m.try_lock());
            }
        })
    };
    let (mut reads, mut later) = (0, Vec::new());
    while reads < 1_000_000 {
        if let Some(holder) = m.holder() {
            let (at, now) = (holder.acquired_at(), Instant::now());
            reads += 1;
            if at > now {
                later.push(at - now);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    locker.join().unwrap();
    assert!(
        later.is_empty(),
        "{} of {reads} holders taken after the clock read that followed them, by up to {:?}",
        later.len(),
        later.iter().max()
    );
}

#[test]
fn mapped_guards_keep_the_record_until_they_drop() {
    let m = Arc::new(Mutex::new((1, 2)));
    let g = m.lock_blocking();
    let line = line!() - 1;
    let first = MutexGuard::map(g, |v| &mut v.0);
    assert_eq!(line_of_holder(&m), line);
    let first = MappedMutexGuard::map(first, |v| v);
    assert_eq!(line_of_holder(&m), line);
    drop(first);
    assert!(m.holder().is_none());

    let g = m.lock_owned_blocking();
    let line = line!() - 1;
    let second = OwnedMutexGuard::map(g, |v| &mut v.1);
    assert_eq!(line_of_holder(&m), line);
    drop(second);
    assert!(m.holder().is_none());

    let l = RwLock::new((1, 2));
    let w = l.write_blocking();
    let line = line!() - 1;
    let w = RwLockWriteGuard::map(w, |v| &mut v.0);
    assert_eq!(line_of_writer(&l), line);
    drop(w);
    assert!(l.writer().is_none());
}

#[test]
fn debug_shows_the_holder() {
    let m = Mutex::new(5);
    assert_eq!(format!("{m:?}"), "Mutex { data: 5 }");
    let g = m.lock_blocking();
    let line = line!() - 1;
    let shown = format!("{m:?}");
    assert!(
        shown.starts_with("Mutex { data: <locked>, holder: Holder {"),
        "{shown}"
    );
    assert!(shown.contains(&format!("{}:{line}:", file!())), "{shown}");
    drop(g);
    // Formatting neither records itself nor leaves anything behind.
    assert!(m.holder().is_none());
    assert!(!m.is_locked());

    let l = RwLock::new(5);
    let w = l.write_blocking();
    let shown = format!("{l:?}");
    assert!(shown.contains("writer: Holder {"), "{shown}");
    drop(w);
    assert_eq!(format!("{l:?}"), "RwLock { data: 5 }");

    let g = m.lock_blocking();
    let holder = m.holder().unwrap();
    let text = holder.to_string();
    assert!(text.starts_with(&format!("{}:", file!())), "{text}");
    assert!(
        text.contains(&format!("by thread {}", ThreadId::current())),
        "{text}"
    );
    drop(g);
}

#[test]
fn a_condvar_wait_clears_the_holder_and_records_its_own_site() {
    let m = Mutex::new(false);
    let cv = Condvar::new();
    thread::scope(|s| {
        let g = m.lock_blocking();
        let notifier = s.spawn(|| {
            let mut g = m.lock_blocking();
            // The waiter released the mutex: we hold it, and the record says so.
            let holder = m.holder().unwrap();
            *g = true;
            cv.notify_one();
            (holder.thread(), ThreadId::current())
        });
        let g = cv.wait_while_blocking(g, |ready| !*ready);
        let line = line!() - 1;
        assert_eq!(line_of_holder(&m), line);
        assert_eq!(m.holder().unwrap().thread(), ThreadId::current());
        let (recorded, notifier) = notifier.join().unwrap();
        assert_eq!(recorded, notifier);
        drop(g);
    });
    assert!(m.holder().is_none());
}

// -- The long-wait hook -----------------------------------------------------------------------

/// The hook is process-wide: tests that install one take turns.
static HOOK: StdMutex<()> = StdMutex::new(());

/// Installs a hook that forwards every report, and removes it when dropped.
struct Reports {
    rx: Receiver<LongWait>,
    _turn: StdMutexGuard<'static, ()>,
}

impl Reports {
    fn install(threshold: Duration) -> Reports {
        let turn = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
        let (tx, rx) = mpsc::channel();
        diagnostics::set_long_wait_hook(threshold, move |wait| {
            let _ = tx.send(wait.clone());
        });
        Reports { rx, _turn: turn }
    }

    /// The next report about the lock at `lock`, skipping others (other tests' locks).
    fn next_for(&self, lock: usize) -> LongWait {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let wait = self
                .rx
                .recv_timeout(left)
                .expect("the wait was reported in time");
            if wait.lock_addr() == lock {
                return wait;
            }
        }
    }

    /// Every report about `lock` received so far.
    fn so_far_for(&self, lock: usize) -> Vec<LongWait> {
        self.rx
            .try_iter()
            .filter(|w| w.lock_addr() == lock)
            .collect()
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        diagnostics::clear_long_wait_hook();
    }
}

#[test]
fn a_blocked_thread_that_waits_too_long_is_reported_once_with_both_sites() {
    let reports = Reports::install(Duration::from_millis(20));
    let m = Arc::new(Mutex::new(0));
    let held = m.lock_blocking();
    let held_at = line!() - 1;
    let waiter = {
        let m = m.clone();
        thread::Builder::new()
            .name("slow-waiter".into())
            .spawn(move || {
                let mut g = m.lock_blocking();
                *g += 1;
                (line!() - 2, ThreadId::current())
            })
            .unwrap()
    };
    let wait = reports.next_for(addr(&*m));
    assert_eq!(wait.lock_kind(), LockKind::Mutex);
    assert_eq!(wait.site().file(), file!());
    assert!(wait.waited() >= Duration::from_millis(20));
    assert_eq!(wait.thread_name(), Some("slow-waiter"));
    let holder = wait.holder().expect("the holder is known");
    assert_eq!(holder.site().line(), held_at);
    assert_eq!(holder.thread(), ThreadId::current());
    let text = wait.to_string();
    assert!(
        text.contains("slow-waiter") && text.contains("Mutex"),
        "{text}"
    );

    // Still waiting, several thresholds later: not reported again.
    thread::sleep(Duration::from_millis(100));
    drop(held);
    let (waited_at, waiter_id) = waiter.join().unwrap();
    assert_eq!(wait.site().line(), waited_at);
    assert_eq!(wait.thread(), Some(waiter_id));
    assert!(reports.so_far_for(addr(&*m)).is_empty());
}

#[test]
fn a_parked_task_that_waits_too_long_is_reported() {
    let reports = Reports::install(Duration::from_millis(20));
    let m = Mutex::new(());
    let held = m.lock_blocking();
    let held_at = line!() - 1;
    let c = Counter::new();
    let mut fut = pin!(m.lock());
    let waited_at = line!() - 1;
    assert!(poll(&c, fut.as_mut()).is_pending());
    let wait = reports.next_for(addr(&m));
    assert_eq!(wait.site().line(), waited_at);
    assert_eq!(wait.thread(), None, "a task has no thread");
    assert_eq!(wait.holder().unwrap().site().line(), held_at);
    assert!(wait.to_string().contains("in a task"));
    drop(held);
    assert_eq!(c.count(), 1);
    assert!(poll(&c, fut.as_mut()).is_ready());
}

#[test]
fn a_writer_that_waits_too_long_is_reported_with_the_writer_holding_the_lock() {
    let reports = Reports::install(Duration::from_millis(20));
    let l = Arc::new(RwLock::new(0));
    let held = l.write_blocking();
    let held_at = line!() - 1;
    let waiter = {
        let l = l.clone();
        thread::spawn(move || *l.write_blocking() += 1)
    };
    let wait = reports.next_for(addr(&*l));
    assert_eq!(wait.lock_kind(), LockKind::RwLockWrite);
    assert_eq!(wait.holder().unwrap().site().line(), held_at);
    drop(held);
    waiter.join().unwrap();

    // A writer kept out by a reader: reported, with no holder to blame.
    let reader = l.read_blocking();
    let waiter = {
        let l = l.clone();
        thread::spawn(move || *l.write_blocking() += 1)
    };
    let wait = reports.next_for(addr(&*l));
    assert!(wait.holder().is_none());
    assert!(wait.to_string().contains("no recorded holder"));
    drop(reader);
    waiter.join().unwrap();
}

#[test]
fn waits_shorter_than_the_threshold_are_not_reported() {
    // Far above what a short wait takes even on a loaded machine.
    let threshold = Duration::from_millis(500);
    let reports = Reports::install(threshold);
    let short = Arc::new(Mutex::new(()));
    let long = Arc::new(Mutex::new(()));
    // A short wait: parked for a few milliseconds.
    let held = short.lock_blocking();
    let waiter = {
        let short = short.clone();
        thread::spawn(move || drop(short.lock_blocking()))
    };
    thread::sleep(Duration::from_millis(2));
    drop(held);
    waiter.join().unwrap();
    // A long one, on another lock: once it is reported, the watchdog has looked at the
    // registry after the short wait ended, and the short wait was no longer in it.
    let held = long.lock_blocking();
    let waiter = {
        let long = long.clone();
        thread::spawn(move || drop(long.lock_blocking()))
    };
    let wait = reports.next_for(addr(&*long));
    assert!(wait.waited() >= threshold);
    assert!(reports.so_far_for(addr(&*short)).is_empty());
    drop(held);
    waiter.join().unwrap();
}

#[test]
fn a_cancelled_wait_leaves_the_registry() {
    let reports = Reports::install(Duration::from_millis(20));
    let m = Mutex::new(());
    let held = m.lock_blocking();
    let c = Counter::new();
    {
        let mut fut = pin!(m.lock());
        assert!(poll(&c, fut.as_mut()).is_pending());
        // Dropped while parked: out of the registry before it could be reported... or after,
        // on a slow machine; either way at most once, and never once it is gone.
    }
    // A wait that stays, on the same lock: reported.
    let mut fut = pin!(m.lock());
    let waited_at = line!() - 1;
    assert!(poll(&c, fut.as_mut()).is_pending());
    loop {
        let wait = reports.next_for(addr(&m));
        if wait.site().line() == waited_at {
            break;
        }
    }
    drop(held);
    assert!(poll(&c, fut.as_mut()).is_ready());
}

#[test]
fn a_leaked_wait_stays_registered_without_touching_its_lock_again() {
    let reports = Reports::install(Duration::from_millis(20));
    let (lock_addr, waited_at) = {
        let m = Box::new(Mutex::new(()));
        let held = m.lock_blocking();
        let mut fut = Box::pin(m.lock());
        let waited_at = line!() - 1;
        let c = Counter::new();
        let mut cx = Context::from_waker(c.waker());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        std::mem::forget(fut); // its node and registry entry stay, valid, for ever
        drop(held);
        (addr(&*m), waited_at)
        // The mutex is dropped (and its memory freed) here.
    };
    // Reported from the copies in its entry; nothing reads the freed mutex.
    let wait = reports.next_for(lock_addr);
    assert_eq!(wait.site().line(), waited_at);
}

#[test]
fn a_panicking_hook_does_not_stop_the_watchdog() {
    let turn = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
    let (tx, rx) = mpsc::channel();
    diagnostics::set_long_wait_hook(Duration::from_millis(10), move |wait| {
        let _ = tx.send(wait.lock_addr());
        panic!("a hook that panics");
    });
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    for m in [&a, &b] {
        let held = m.lock_blocking();
        let waiter = {
            let m = m.clone();
            thread::spawn(move || drop(m.lock_blocking()))
        };
        let deadline = Instant::now() + PATIENCE;
        while rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("reported in time")
            != addr(&**m)
        {}
        drop(held);
        waiter.join().unwrap();
    }
    diagnostics::clear_long_wait_hook();
    drop(turn);
}

// -- The deadlock check -----------------------------------------------------------------------

/// Calls `check_deadlock` until it reports at least `count` cycles through `locks`, or
/// `PATIENCE` runs out; returns what the last call reported through them.
fn find_cycles_through(locks: &[usize], count: usize) -> Vec<DeadlockCycle> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found: Vec<_> = diagnostics::check_deadlock()
            .into_iter()
            .filter(|c| c.threads().iter().any(|t| locks.contains(&t.lock_addr())))
            .collect();
        if found.len() >= count || Instant::now() >= deadline {
            return found;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The one cycle through `locks`: `None` if it was not found in time, or if one call
/// reported more than one (a cycle must be reported once, whichever member it is found from).
fn find_cycle_through(locks: &[usize]) -> Option<DeadlockCycle> {
    let mut found = find_cycles_through(locks, 1);
    (found.len() == 1).then(|| found.remove(0))
}

/// Looks for a cycle through `locks` on a thread of its own, then sets `give_up`, so that the
/// threads of the cycle stop retrying and the test ends whether or not it was found.
fn spawn_checker(
    locks: [usize; 2],
    give_up: &Arc<AtomicBool>,
) -> thread::JoinHandle<Option<DeadlockCycle>> {
    let give_up = give_up.clone();
    thread::spawn(move || {
        let cycle = find_cycle_through(&locks);
        give_up.store(true, Ordering::SeqCst);
        cycle
    })
}

#[test]
fn check_deadlock_finds_two_threads_that_wait_for_each_other() {
    let a = Arc::new(Mutex::new(()));
    let b = Arc::new(Mutex::new(()));
    let both_hold = Arc::new(Barrier::new(2));
    let give_up = Arc::new(AtomicBool::new(false));
    let other = {
        let (a, b, both_hold, give_up) = (a.clone(), b.clone(), both_hold.clone(), give_up.clone());
        thread::Builder::new()
            .name("b-then-a".into())
            .spawn(move || {
                let held_b = b.lock_blocking();
                let b_held_at = line!() - 1;
                both_hold.wait();
                // Waits for `a` in steps, so that it can give up once the cycle is seen.
                let a_waited_at = line!() + 2;
                while !give_up.load(Ordering::SeqCst) {
                    if let Some(g) = a.lock_blocking_timeout(Duration::from_millis(20)) {
                        drop(g);
                    }
                }
                drop(held_b);
                (b_held_at, a_waited_at, ThreadId::current())
            })
            .unwrap()
    };
    let held_a = a.lock_blocking();
    let a_held_at = line!() - 1;
    both_hold.wait();
    let checker = spawn_checker([addr(&*a), addr(&*b)], &give_up);
    let g = b.lock_blocking(); // a cycle until the other thread gives up
    let b_waited_at = line!() - 1;
    drop(g);
    drop(held_a);
    let cycle = checker.join().unwrap().expect("the cycle was found, once");
    let (b_held_at, a_waited_at, other_id) = other.join().unwrap();

    let me = ThreadId::current();
    assert_eq!(cycle.threads().len(), 2, "{cycle}");
    let mine = cycle.threads().iter().find(|t| t.thread() == me).unwrap();
    let theirs = cycle
        .threads()
        .iter()
        .find(|t| t.thread() == other_id)
        .unwrap();
    assert_eq!(mine.lock_addr(), addr(&*b));
    assert_eq!(mine.site().line(), b_waited_at);
    assert_eq!(mine.holder().site().line(), b_held_at);
    assert_eq!(mine.holder().thread(), other_id);
    assert_eq!(theirs.lock_addr(), addr(&*a));
    assert_eq!(theirs.site().line(), a_waited_at);
    assert_eq!(theirs.holder().site().line(), a_held_at);
    assert_eq!(theirs.holder().thread(), me);
    assert_eq!(theirs.name(), Some("b-then-a"));
    assert_eq!(theirs.lock_kind(), LockKind::Mutex);
    // The cycle starts with its lowest thread id.
    let ids: Vec<_> = cycle.threads().iter().map(|t| t.thread()).collect();
    assert_eq!(ids[0], *ids.iter().min().unwrap());
    let text = cycle.to_string();
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn check_deadlock_finds_a_thread_that_waits_for_itself() {
    let m = Mutex::new(());
    let give_up = AtomicBool::new(false);
    let held = m.lock_blocking();
    let held_at = line!() - 1;
    thread::scope(|s| {
        let checker = s.spawn(|| {
            let cycle = find_cycle_through(&[addr(&m)]);
            give_up.store(true, Ordering::SeqCst);
            cycle
        });
        let waited_at = line!() + 2;
        while !give_up.load(Ordering::SeqCst) {
            assert!(m.lock_blocking_timeout(Duration::from_millis(20)).is_none());
        }
        let cycle = checker.join().unwrap().expect("the cycle was found, once");
        let [me] = cycle.threads() else {
            panic!("one thread: {cycle}");
        };
        assert_eq!(me.thread(), ThreadId::current());
        assert_eq!(me.holder().thread(), ThreadId::current());
        assert_eq!(me.site().line(), waited_at);
        assert_eq!(me.holder().site().line(), held_at);
    });
    drop(held);
}

#[test]
fn check_deadlock_follows_write_locks_too() {
    let m = Arc::new(Mutex::new(()));
    let l = Arc::new(RwLock::new(()));
    let both_hold = Arc::new(Barrier::new(2));
    let give_up = Arc::new(AtomicBool::new(false));
    let other = {
        let (m, l, both_hold, give_up) = (m.clone(), l.clone(), both_hold.clone(), give_up.clone());
        thread::spawn(move || {
            let w = l.write_blocking();
            both_hold.wait();
            while !give_up.load(Ordering::SeqCst) {
                drop(m.lock_blocking_timeout(Duration::from_millis(20)));
            }
            drop(w);
        })
    };
    let held = m.lock_blocking();
    both_hold.wait();
    let checker = spawn_checker([addr(&*m), addr(&*l)], &give_up);
    drop(l.write_blocking());
    drop(held);
    let cycle = checker.join().unwrap().expect("the cycle was found, once");
    other.join().unwrap();
    let mut kinds: Vec<_> = cycle.threads().iter().map(|t| t.lock_kind()).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(kinds, [LockKind::Mutex, LockKind::RwLockWrite]);
}

/// A writer waits for two readers, each of which waits for a mutex the writer holds: two
/// cycles share the writer, which has the lowest thread id of the three. Each is reported
/// once, and each starts with its lowest thread id, though it may be found from a reader.
#[test]
fn two_cycles_through_one_writer_are_each_reported_once_from_their_lowest_thread() {
    let lock = RwLock::new(());
    let (first, second) = (Mutex::new(()), Mutex::new(()));
    let locks = [addr(&lock), addr(&first), addr(&second)];
    let (writer_holds, all_hold) = (Barrier::new(2), Barrier::new(4));
    let give_up = AtomicBool::new(false);
    let cycles = thread::scope(|s| {
        s.spawn(|| {
            // Numbered before the readers are spawned.
            ThreadId::current();
            let _first = first.lock_blocking();
            let _second = second.lock_blocking();
            writer_holds.wait();
            all_hold.wait();
            while !give_up.load(Ordering::SeqCst) {
                drop(lock.write_blocking_timeout(Duration::from_millis(20)));
            }
        });
        writer_holds.wait();
        for mutex in [&first, &second] {
            let (lock, all_hold, give_up) = (&lock, &all_hold, &give_up);
            s.spawn(move || {
                let _read = lock.read_blocking();
                all_hold.wait();
                while !give_up.load(Ordering::SeqCst) {
                    drop(mutex.lock_blocking_timeout(Duration::from_millis(20)));
                }
            });
        }
        all_hold.wait();
        let cycles = find_cycles_through(&locks, 2);
        give_up.store(true, Ordering::SeqCst);
        cycles
    });
    assert_eq!(cycles.len(), 2, "{cycles:#?}");
    let mut members: Vec<Vec<ThreadId>> = cycles
        .iter()
        .map(|c| {
            let ids: Vec<_> = c.threads().iter().map(|t| t.thread()).collect();
            assert_eq!(ids.len(), 2, "{c}");
            assert_eq!(ids[0], *ids.iter().min().unwrap(), "{c}");
            ids
        })
        .collect();
    members.sort_unstable();
    members.dedup();
    assert_eq!(members.len(), 2, "one cycle reported twice: {cycles:#?}");
}

/// Runs `wait` (a timed wait that fails) over and over while another thread checks, twenty
/// times, that no reported cycle goes through the lock at `lock`.
fn never_in_a_cycle_while(lock: usize, wait: impl Fn()) {
    let checking = AtomicBool::new(true);
    let seen = thread::scope(|s| {
        let checker = s.spawn(|| {
            let mut seen = false;
            for _ in 0..20 {
                seen |= diagnostics::check_deadlock()
                    .into_iter()
                    .any(|c| c.threads().iter().any(|t| t.lock_addr() == lock));
                thread::sleep(Duration::from_millis(1));
            }
            checking.store(false, Ordering::SeqCst);
            seen
        });
        while checking.load(Ordering::SeqCst) {
            wait();
        }
        checker.join().unwrap()
    });
    assert!(!seen, "a lock held by a task was followed");
}

#[test]
fn locks_held_by_tasks_are_not_followed() {
    // The main thread holds `m` through an async lock, then blocks on itself: no thread
    // identity can be trusted for the holder, so no cycle is reported.
    let m = Mutex::new(());
    let held = block_on(m.lock());
    assert!(m.holder().unwrap().by_task());
    never_in_a_cycle_while(addr(&m), || {
        assert!(m.lock_blocking_timeout(Duration::from_millis(5)).is_none());
    });
    drop(held);
}

fn poll<F: Future>(c: &Counter, fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(c.waker()))
}

#[test]
fn every_form_of_lock_all_records_its_callers_line_for_each_mutex() {
    let (a, b) = (Mutex::new(1), Mutex::new("b"));
    let guards = block_on(unisync::lock_all((&a, &b)));
    let line = line!() - 1;
    assert_eq!((line_of_holder(&a), line_of_holder(&b)), (line, line));
    drop(guards);
    assert!(a.holder().is_none() && b.holder().is_none());

    let guards = unisync::try_lock_all((&b, &a)).unwrap();
    let line = line!() - 1;
    assert_eq!((line_of_holder(&a), line_of_holder(&b)), (line, line));
    drop(guards);

    let held = b.lock_blocking();
    assert!(unisync::try_lock_all((&a, &b)).is_none());
    assert!(a.holder().is_none(), "a failed try leaves no record behind");
    assert!(unisync::lock_all_blocking_timeout((&a, &b), Duration::from_millis(1)).is_none());
    assert!(
        a.holder().is_none(),
        "a timed-out multi-lock leaves no record behind"
    );
    drop(held);

    let guards = unisync::lock_all_blocking((&a, &b));
    let line = line!() - 1;
    assert_eq!((line_of_holder(&a), line_of_holder(&b)), (line, line));
    drop(guards);
}

/// `Mutex::holder` is `None` only while the mutex is free: a condvar wait whose first poll
/// panics cloning the task's waker has not released the mutex (its future still holds it,
/// and dropping the future unlocks it), so the record stays.
#[test]
fn a_condvar_wait_that_panics_before_releasing_keeps_the_holder() {
    static CLONE_PANICS: std::task::RawWakerVTable =
        std::task::RawWakerVTable::new(|_| panic!("waker clone panics"), |_| {}, |_| {}, |_| {});
    let (m, cv) = (Mutex::new(()), Condvar::new());
    let line = line!() + 1;
    let guard = m.lock_blocking();
    let mut wait = Box::pin(cv.wait(guard));
    // SAFETY: the vtable never reads the data pointer.
    let waker = unsafe {
        std::task::Waker::from_raw(std::task::RawWaker::new(std::ptr::null(), &CLONE_PANICS))
    };
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait.as_mut().poll(&mut Context::from_waker(&waker))
    }));
    assert!(res.is_err(), "the clone panicked");
    assert!(m.is_locked(), "the wait still holds the mutex");
    let holder = m.holder();
    drop(wait);
    assert!(!m.is_locked());
    let holder = holder.expect("the mutex is locked, but holder() says it is free");
    assert_eq!(holder.site().line(), line);
}

/// The watchdog stopped inside the first report of a batch: three task waits on a held mutex
/// (at `target`), all past a 10 ms threshold before the hook was installed, so that its
/// first scan hands them out as one batch. Dropping `go` lets the first report return;
/// `called` gets one message per call of that hook, and closes when the hook is dropped.
struct MidBatch {
    target: usize,
    go: Option<mpsc::Sender<()>>,
    called: Receiver<()>,
}

impl MidBatch {
    /// Runs `during` while the watchdog is stopped in the first report; the waits end after.
    fn run(during: impl FnOnce(&mut MidBatch)) {
        let _turn = HOOK.lock().unwrap_or_else(PoisonError::into_inner);
        let m = Mutex::new(());
        let held = m.try_lock().unwrap();
        let c = Counter::new();
        let (mut a, mut b, mut d) = (Box::pin(m.lock()), Box::pin(m.lock()), Box::pin(m.lock()));
        for wait in [&mut a, &mut b, &mut d] {
            assert!(c.poll(wait).is_pending());
        }
        thread::sleep(Duration::from_millis(30));
        let target = addr(&m);
        let ((calls, called), (first, entered), (go, stop)) =
            (mpsc::channel(), mpsc::channel(), mpsc::channel::<()>());
        let stop = StdMutex::new(stop);
        diagnostics::set_long_wait_hook(Duration::from_millis(10), move |wait| {
            if wait.lock_addr() != target {
                return;
            }
            let _ = calls.send(());
            let _ = first.send(());
            let _ = stop.lock().unwrap().recv_timeout(PATIENCE);
        });
        entered.recv_timeout(PATIENCE).expect("reported in time");
        during(&mut MidBatch {
            target,
            go: Some(go),
            called,
        });
        drop((a, b, d, held));
    }

    /// Installs a hook with `threshold` that forwards how long each wait on the mutex had
    /// waited.
    fn replace_hook(&self, threshold: Duration) -> Receiver<Duration> {
        let (tx, rx) = mpsc::channel();
        let target = self.target;
        diagnostics::set_long_wait_hook(threshold, move |wait| {
            if wait.lock_addr() == target {
                let _ = tx.send(wait.waited());
            }
        });
        rx
    }

    /// Lets the first report return, then counts the calls of the stopped hook until it is
    /// dropped (the watchdog drops it once the batch is out).
    fn go_on_and_count_calls(&mut self) -> usize {
        drop(self.go.take());
        let mut n = 0;
        loop {
            match self.called.recv_timeout(PATIENCE) {
                Ok(()) => n += 1,
                Err(mpsc::RecvTimeoutError::Disconnected) => return n,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("the hook was never dropped"),
            }
        }
    }
}

/// The watchdog collects a batch of reports, then hands them out one by one: once
/// `clear_long_wait_hook` has returned, only the report in hand reaches the hook it removed.
#[test]
fn a_hook_cleared_during_a_batch_gets_only_the_report_in_hand() {
    MidBatch::run(|batch| {
        diagnostics::clear_long_wait_hook();
        assert_eq!(
            batch.go_on_and_count_calls(),
            1,
            "reports to the hook after it was cleared"
        );
    });
}

/// As above with `set_long_wait_hook`: the rest of the batch goes to the new hook.
#[test]
fn a_hook_replaced_during_a_batch_leaves_the_rest_of_it_to_the_new_one() {
    MidBatch::run(|batch| {
        let new = batch.replace_hook(Duration::from_millis(10));
        assert_eq!(
            batch.go_on_and_count_calls(),
            1,
            "reports to the replaced hook"
        );
        for _ in 0..2 {
            new.recv_timeout(PATIENCE)
                .expect("the new hook gets the rest of the batch");
        }
        diagnostics::clear_long_wait_hook();
    });
}

/// A hook installed with a long threshold while the watchdog hands out a batch
/// collected under a short one is not called for waits far below its own threshold.
#[test]
fn a_hook_replaced_during_a_batch_is_not_given_waits_below_its_threshold() {
    MidBatch::run(|batch| {
        let long = Duration::from_secs(3600);
        let new = batch.replace_hook(long);
        assert_eq!(
            batch.go_on_and_count_calls(),
            1,
            "reports to the replaced hook"
        );
        let got: Vec<Duration> = new.try_iter().collect();
        diagnostics::clear_long_wait_hook();
        assert!(
            got.iter().all(|w| *w >= long),
            "a hook with a threshold of {long:?} was called for waits of {got:?}"
        );
    });
}

/// A hook cleared during a batch and installed again at once hears of every wait
/// past its threshold (none of the rest of the batch was reported to anyone).
#[test]
fn a_hook_cleared_during_a_batch_and_set_again_hears_of_the_rest() {
    MidBatch::run(|batch| {
        diagnostics::clear_long_wait_hook();
        assert_eq!(
            batch.go_on_and_count_calls(),
            1,
            "reports to the cleared hook"
        );
        // The watchdog has given the batch up; a new hook for the same waits, still going on.
        let new = batch.replace_hook(Duration::from_millis(10));
        let mut n = 0;
        while n < 2 && new.recv_timeout(PATIENCE).is_ok() {
            n += 1;
        }
        diagnostics::clear_long_wait_hook();
        assert_eq!(
            n, 2,
            "waits past the new hook's threshold never reported to it"
        );
    });
}

// -- ReentrantMutex ---------------------------------------------------------------------------

fn line_of_reentrant_holder<T: ?Sized>(m: &ReentrantMutex<T>) -> u32 {
    m.holder().expect("the mutex is held").site().line()
}

#[test]
fn every_way_of_locking_a_reentrant_mutex_records_the_outermost_callers_line() {
    let m = ReentrantMutex::new(());
    assert!(m.holder().is_none());

    let g = m.try_lock().unwrap();
    assert_eq!(line_of_reentrant_holder(&m), line!() - 1);
    drop(g);
    assert!(m.holder().is_none());
    let g = m.lock_blocking_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(line_of_reentrant_holder(&m), line!() - 1);
    drop(g);
    let outer = m.lock_blocking();
    let outer_at = line!() - 1;
    let holder = m.holder().unwrap();
    assert_eq!(holder.site().line(), outer_at);
    assert_eq!(holder.thread(), ThreadId::current());
    assert!(!holder.by_task());

    // Locking again, every way, keeps the outermost record.
    let inner = [
        m.lock_blocking(),
        m.try_lock().unwrap(),
        m.lock_blocking_timeout(Duration::ZERO).unwrap(),
    ];
    assert_eq!(line_of_reentrant_holder(&m), outer_at);
    // Whichever guard goes last clears it, not the outermost one.
    drop(outer);
    assert_eq!(line_of_reentrant_holder(&m), outer_at);
    drop(inner);
    assert!(m.holder().is_none());
    assert!(!m.is_locked());
}

#[test]
fn debug_of_a_reentrant_mutex_shows_the_holder_and_records_nothing() {
    let m = ReentrantMutex::new(5);
    assert_eq!(format!("{m:?}"), "ReentrantMutex { data: 5 }");
    assert!(m.holder().is_none());
    let g = m.lock_blocking();
    let line = line!() - 1;
    // The holder's own thread may look inside; the record stays the lock's.
    let shown = format!("{m:?}");
    assert!(
        shown.starts_with("ReentrantMutex { data: 5, holder: Holder {"),
        "{shown}"
    );
    assert!(shown.contains(&format!("{}:{line}:", file!())), "{shown}");
    thread::scope(|s| {
        let shown = s.spawn(|| format!("{m:?}")).join().unwrap();
        assert!(
            shown.starts_with("ReentrantMutex { data: <locked>, holder: Holder {"),
            "{shown}"
        );
    });
    assert_eq!(line_of_reentrant_holder(&m), line);
    drop(g);
    assert!(m.holder().is_none());
    assert!(!m.is_locked());
}

#[test]
fn a_thread_that_waits_too_long_for_a_reentrant_mutex_is_reported() {
    let reports = Reports::install(Duration::from_millis(20));
    let m = Arc::new(ReentrantMutex::new(()));
    let held = m.lock_blocking();
    let held_at = line!() - 1;
    let again = m.lock_blocking(); // locking again is no wait and changes nothing
    let waiter = {
        let m = m.clone();
        thread::Builder::new()
            .name("reentrant-waiter".into())
            .spawn(move || {
                let g = m.lock_blocking();
                let waited_at = line!() - 1;
                let recorded = m.holder().unwrap().site().line();
                drop(g);
                (waited_at, recorded, ThreadId::current())
            })
            .unwrap()
    };
    let wait = reports.next_for(addr(&*m));
    assert_eq!(wait.lock_kind(), LockKind::ReentrantMutex);
    assert_eq!(wait.thread_name(), Some("reentrant-waiter"));
    let holder = wait.holder().expect("the holder is known");
    assert_eq!(holder.site().line(), held_at);
    assert_eq!(holder.thread(), ThreadId::current());
    assert!(wait.to_string().contains("ReentrantMutex"), "{wait}");
    drop(again);
    drop(held);
    let (waited_at, recorded, waiter_id) = waiter.join().unwrap();
    assert_eq!(wait.site().line(), waited_at);
    // The wait that got the lock recorded its own site.
    assert_eq!(recorded, waited_at);
    assert_eq!(wait.thread(), Some(waiter_id));
    assert!(m.holder().is_none());
}

#[test]
fn check_deadlock_follows_reentrant_mutexes_too() {
    let m = Arc::new(Mutex::new(()));
    let r = Arc::new(ReentrantMutex::new(()));
    let both_hold = Arc::new(Barrier::new(2));
    let give_up = Arc::new(AtomicBool::new(false));
    let other = {
        let (m, r, both_hold, give_up) = (m.clone(), r.clone(), both_hold.clone(), give_up.clone());
        thread::spawn(move || {
            let held = m.lock_blocking();
            let held_at = line!() - 1;
            both_hold.wait();
            // Timed waits, each withdrawn from the registry when it gives up.
            let waited_at = line!() + 2;
            while !give_up.load(Ordering::SeqCst) {
                assert!(r.lock_blocking_timeout(Duration::from_millis(20)).is_none());
            }
            drop(held);
            (held_at, waited_at, ThreadId::current())
        })
    };
    let held = r.lock_blocking();
    let again = r.lock_blocking(); // the holder locks again: no wait, no new record
    let held_at = line!() - 2;
    both_hold.wait();
    let checker = spawn_checker([addr(&*m), addr(&*r)], &give_up);
    let g = m.lock_blocking(); // a cycle until the other thread gives up
    let waited_at = line!() - 1;
    drop(g);
    let cycle = checker.join().unwrap().expect("the cycle was found, once");
    let (m_held_at, r_waited_at, other_id) = other.join().unwrap();
    drop(again);
    drop(held);

    assert_eq!(cycle.threads().len(), 2, "{cycle}");
    let me = ThreadId::current();
    let mine = cycle.threads().iter().find(|t| t.thread() == me).unwrap();
    let theirs = cycle
        .threads()
        .iter()
        .find(|t| t.thread() == other_id)
        .unwrap();
    assert_eq!(mine.lock_kind(), LockKind::Mutex);
    assert_eq!(mine.site().line(), waited_at);
    assert_eq!(mine.holder().site().line(), m_held_at);
    assert_eq!(theirs.lock_kind(), LockKind::ReentrantMutex);
    assert_eq!(theirs.lock_addr(), addr(&*r));
    assert_eq!(theirs.site().line(), r_waited_at);
    assert_eq!(theirs.holder().site().line(), held_at);
    assert_eq!(theirs.holder().thread(), me);
    // Every wait has left the registry: no cycle through these locks is left.
    assert!(!diagnostics::check_deadlock()
        .iter()
        .any(|c| c
            .threads()
            .iter()
            .any(|t| [addr(&*m), addr(&*r)].contains(&t.lock_addr()))));
}

#[test]
fn a_lasting_cycle_of_reentrant_mutexes_is_reported_by_every_call() {
    // Three threads each hold one reentrant mutex twice and wait for the next one.
    let locks: Arc<[ReentrantMutex<()>; 3]> = Arc::new(Default::default());
    let all_hold = Arc::new(Barrier::new(4));
    let give_up = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (locks, all_hold, give_up) = (locks.clone(), all_hold.clone(), give_up.clone());
            thread::spawn(move || {
                let _outer = locks[i].lock_blocking();
                let _inner = locks[i].lock_blocking();
                all_hold.wait();
                while !give_up.load(Ordering::SeqCst) {
                    // Succeeds only once a neighbour has given up.
                    drop(locks[(i + 1) % 3].lock_blocking_timeout(Duration::from_millis(20)));
                }
            })
        })
        .collect();
    all_hold.wait();
    let addrs: Vec<usize> = locks.iter().map(addr).collect();
    let first = find_cycle_through(&addrs).expect("the cycle was found, once");
    let again = find_cycle_through(&addrs).expect("the cycle was found again, once");
    give_up.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    for cycle in [first, again] {
        assert_eq!(cycle.threads().len(), 3, "{cycle}");
        let mut waited: Vec<_> = cycle.threads().iter().map(|t| t.lock_addr()).collect();
        waited.sort_unstable();
        let mut expected = addrs.clone();
        expected.sort_unstable();
        assert_eq!(waited, expected, "{cycle}");
        assert!(cycle
            .threads()
            .iter()
            .all(|t| t.lock_kind() == LockKind::ReentrantMutex));
    }
}

// -- Read locks in the deadlock check ---------------------------------------------------------

#[test]
fn check_deadlock_follows_a_waiting_writer_to_the_readers_of_its_lock() {
    // Three threads each read one lock and wait to write the next one.
    let locks: Arc<[RwLock<()>; 3]> = Arc::new(Default::default());
    let all_read = Arc::new(Barrier::new(4));
    let give_up = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let (locks, all_read, give_up) = (locks.clone(), all_read.clone(), give_up.clone());
            thread::spawn(move || {
                let read = locks[i].read_blocking();
                let read_at = line!() - 1;
                all_read.wait();
                let waited_at = line!() + 2;
                while !give_up.load(Ordering::SeqCst) {
                    drop(locks[(i + 1) % 3].write_blocking_timeout(Duration::from_millis(20)));
                }
                drop(read);
                (ThreadId::current(), read_at, waited_at)
            })
        })
        .collect();
    all_read.wait();
    let addrs: Vec<usize> = locks.iter().map(addr).collect();
    let cycle = find_cycle_through(&addrs).expect("the cycle was found, once");
    give_up.store(true, Ordering::SeqCst);
    let ids: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    assert_eq!(cycle.threads().len(), 3, "{cycle}");
    for (i, &(id, _, waited_at)) in ids.iter().enumerate() {
        let t = cycle.threads().iter().find(|t| t.thread() == id).unwrap();
        assert_eq!(t.lock_kind(), LockKind::RwLockWrite);
        assert_eq!(t.lock_addr(), addrs[(i + 1) % 3]);
        assert_eq!(t.site().line(), waited_at);
        // The holder it waits for is the next thread, as the reader of that lock.
        let (next, read_at, _) = ids[(i + 1) % 3];
        assert_eq!(t.holder().thread(), next);
        assert_eq!(t.holder().site().line(), read_at);
    }
}

#[test]
fn a_thread_that_waits_to_write_or_upgrade_what_it_reads_is_a_cycle_of_one() {
    let lock = RwLock::new(());
    let read = lock.try_read().unwrap();
    let read_at = line!() - 1;
    let (give_up, gave_up_upgrade) = (AtomicBool::new(false), AtomicBool::new(false));
    thread::scope(|s| {
        let checker = s.spawn(|| {
            let cycle = find_cycle_through(&[addr(&lock)]);
            give_up.store(true, Ordering::SeqCst);
            cycle
        });
        while !give_up.load(Ordering::SeqCst) {
            assert!(lock
                .write_blocking_timeout(Duration::from_millis(20))
                .is_none());
        }
        let cycle = checker.join().unwrap().expect("the cycle was found, once");
        let [me] = cycle.threads() else {
            panic!("one thread: {cycle}");
        };
        assert_eq!(me.lock_kind(), LockKind::RwLockWrite);
        assert_eq!(me.holder().thread(), ThreadId::current());
        assert_eq!(me.holder().site().line(), read_at);

        // The same with an upgrade, which waits for readers only.
        let give_up = &gave_up_upgrade;
        let checker = s.spawn(move || {
            let deadline = Instant::now() + PATIENCE;
            while Instant::now() < deadline {
                let found = diagnostics::check_deadlock().into_iter().find(|c| {
                    c.threads()
                        .iter()
                        .any(|t| t.lock_kind() == LockKind::RwLockUpgrade)
                });
                if found.is_some() {
                    give_up.store(true, Ordering::SeqCst);
                    return found;
                }
                thread::sleep(Duration::from_millis(1));
            }
            give_up.store(true, Ordering::SeqCst);
            None
        });
        let mut upgradable = lock.try_upgradable_read().unwrap();
        while !give_up.load(Ordering::SeqCst) {
            upgradable = RwLockUpgradableReadGuard::upgrade_blocking_timeout(
                upgradable,
                Duration::from_millis(20),
            )
            .expect_err("this thread's own read lock keeps it out");
        }
        drop(upgradable);
        let cycle = checker.join().unwrap().expect("the cycle was found, once");
        assert_eq!(cycle.threads().len(), 1, "{cycle}");
        assert_eq!(cycle.threads()[0].holder().site().line(), read_at);
    });
    drop(read);
}

#[test]
fn check_deadlock_follows_a_reader_blocked_behind_a_writer() {
    let l = Arc::new(RwLock::new(()));
    let m = Arc::new(Mutex::new(()));
    let both_hold = Arc::new(Barrier::new(2));
    let give_up = Arc::new(AtomicBool::new(false));
    let other = {
        let (l, m, both_hold, give_up) = (l.clone(), m.clone(), both_hold.clone(), give_up.clone());
        thread::spawn(move || {
            let w = l.write_blocking();
            let written_at = line!() - 1;
            both_hold.wait();
            while !give_up.load(Ordering::SeqCst) {
                drop(m.lock_blocking_timeout(Duration::from_millis(20)));
            }
            drop(w);
            (ThreadId::current(), written_at)
        })
    };
    let held = m.lock_blocking();
    both_hold.wait();
    let checker = spawn_checker([addr(&*l), addr(&*m)], &give_up);
    let r = l.read_blocking(); // a cycle until the other thread gives up
    let read_at = line!() - 1;
    drop(r);
    drop(held);
    let cycle = checker.join().unwrap().expect("the cycle was found, once");
    let (writer, written_at) = other.join().unwrap();
    assert_eq!(cycle.threads().len(), 2, "{cycle}");
    let mine = cycle
        .threads()
        .iter()
        .find(|t| t.thread() == ThreadId::current())
        .unwrap();
    assert_eq!(mine.lock_kind(), LockKind::RwLockRead);
    assert_eq!(mine.site().line(), read_at);
    assert_eq!(mine.holder().thread(), writer);
    assert_eq!(mine.holder().site().line(), written_at);
    assert!(cycle.to_string().contains("RwLock (read)"), "{cycle}");
}

#[test]
fn a_reader_that_waits_too_long_is_reported_with_the_writer() {
    let reports = Reports::install(Duration::from_millis(20));
    let l = Arc::new(RwLock::new(0));
    let w = l.write_blocking();
    let written_at = line!() - 1;
    let reader = {
        let l = l.clone();
        thread::spawn(move || *l.read_blocking())
    };
    let wait = reports.next_for(addr(&*l));
    assert_eq!(wait.lock_kind(), LockKind::RwLockRead);
    assert_eq!(wait.holder().unwrap().site().line(), written_at);
    drop(w);
    assert_eq!(reader.join().unwrap(), 0);
}

#[test]
fn read_locks_held_by_tasks_are_not_followed() {
    // The main thread reads through an async wait, then waits to write: the reader's thread
    // cannot be trusted to be the one that will release it, so no cycle is reported.
    let lock = RwLock::new(());
    let read = block_on(lock.read());
    never_in_a_cycle_while(addr(&lock), || {
        assert!(lock
            .write_blocking_timeout(Duration::from_millis(5))
            .is_none());
    });
    drop(read);
}

/// A thread reads `l` (after a read by a task it polled, if `task_first`) and then waits for
/// `m`, which the main thread holds while it waits to write `l`: returns the cycle found.
fn reader_and_writer_cycle(task_first: bool) -> Option<DeadlockCycle> {
    let l = Arc::new(RwLock::new(()));
    let m = Arc::new(Mutex::new(()));
    let both_hold = Arc::new(Barrier::new(2));
    let give_up = Arc::new(AtomicBool::new(false));
    let reader = {
        let (l, m, both_hold, give_up) = (l.clone(), m.clone(), both_hold.clone(), give_up.clone());
        thread::spawn(move || {
            let by_task = task_first.then(|| block_on(l.read()));
            let by_thread = l.read_blocking();
            drop(by_task); // the thread's own read lock is what is left
            both_hold.wait();
            while !give_up.load(Ordering::SeqCst) {
                drop(m.lock_blocking_timeout(Duration::from_millis(20)));
            }
            drop(by_thread);
        })
    };
    let held = m.lock_blocking();
    both_hold.wait();
    let checker = spawn_checker([addr(&*l), addr(&*m)], &give_up);
    drop(l.write_blocking()); // a cycle until the reader gives up
    drop(held);
    reader.join().unwrap();
    checker.join().unwrap()
}

#[test]
fn a_threads_read_lock_is_followed_whether_or_not_a_task_it_polled_read_first() {
    for task_first in [false, true] {
        let cycle = reader_and_writer_cycle(task_first).expect("the cycle was found, once");
        assert_eq!(cycle.threads().len(), 2, "{cycle}");
    }
}

#[test]
fn readers_let_in_but_not_yet_running_are_not_blocked() {
    // Readers queue behind a writer, each holding a mutex of its own; the downgrade lets them
    // all in at once, and the downgraded reader then waits for the last reader's mutex. No
    // thread is ever stuck, so no cycle may be reported, however late the readers run.
    const READERS: usize = 4;
    let l = Arc::new(RwLock::new(()));
    let ms: Arc<Vec<Mutex<()>>> = Arc::new((0..READERS).map(|_| Mutex::new(())).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let (l, ms, stop) = (l.clone(), ms.clone(), stop.clone());
        thread::spawn(move || {
            let mut locks: Vec<usize> = ms.iter().map(addr).collect();
            locks.push(addr(&*l));
            while !stop.load(Ordering::SeqCst) {
                let found = diagnostics::check_deadlock()
                    .into_iter()
                    .find(|c| c.threads().iter().any(|t| locks.contains(&t.lock_addr())));
                if let Some(cycle) = found {
                    return Some(cycle.to_string());
                }
            }
            None
        })
    };
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let w = l.write_blocking();
        let readers: Vec<_> = (0..READERS)
            .map(|i| {
                let (l, ms, holds) = (l.clone(), ms.clone(), Arc::new(Barrier::new(2)));
                let t = {
                    let holds = holds.clone();
                    thread::spawn(move || {
                        let g = ms[i].lock_blocking();
                        holds.wait();
                        drop(l.read_blocking());
                        drop(g);
                    })
                };
                holds.wait();
                t
            })
            .collect();
        // Let the readers queue (if one has not yet, it queues behind nobody afterwards).
        thread::sleep(Duration::from_millis(1));
        let r = RwLockWriteGuard::downgrade(w);
        drop(ms[READERS - 1].lock_blocking());
        drop(r);
        readers.into_iter().for_each(|t| t.join().unwrap());
    }
    stop.store(true, Ordering::SeqCst);
    if let Some(cycle) = checker.join().unwrap() {
        panic!("a cycle was reported where no thread is stuck:\n{cycle}");
    }
}

#[test]
fn a_leaked_read_guard_is_no_reader_of_a_new_lock_in_its_place() {
    let mut slot = Some(RwLock::new(()));
    std::mem::forget(slot.as_ref().unwrap().try_read().unwrap());
    let old = addr(slot.as_ref().unwrap());
    slot = Some(RwLock::new(()));
    let l = slot.as_ref().unwrap();
    assert_eq!(addr(l), old);
    // A writer holds the new lock and a reader waits for it: no cycle, since nobody reads it.
    let (held, done) = (Barrier::new(2), AtomicBool::new(false));
    let reported = thread::scope(|s| {
        s.spawn(|| {
            let w = l.write_blocking();
            held.wait();
            while !done.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(1));
            }
            drop(w);
        });
        held.wait();
        let checker = s.spawn(|| {
            let deadline = Instant::now() + Duration::from_millis(300);
            let mut found = None;
            while found.is_none() && Instant::now() < deadline {
                found = diagnostics::check_deadlock()
                    .into_iter()
                    .find(|c| c.threads().iter().any(|t| t.lock_addr() == addr(l)));
                thread::sleep(Duration::from_millis(1));
            }
            done.store(true, Ordering::SeqCst);
            found
        });
        drop(l.read_blocking());
        checker.join().unwrap()
    });
    assert!(reported.is_none(), "{}", reported.unwrap());
}

#[test]
fn readers_still_owed_by_a_release_in_progress_are_not_blocked() {
    // A writer's release lets the queued readers in a batch at a time, waking each batch
    // before the next: readers of a later batch are still queued meanwhile, though owed
    // their read locks. One of them, R, holds `m`; B reads once the writer has gone and waits
    // for `m`. Nobody is stuck: the release goes on and R reads and lets `m` go.
    struct SlowWaker;
    impl std::task::Wake for SlowWaker {
        fn wake(self: Arc<Self>) {
            thread::sleep(Duration::from_millis(300));
        }
    }
    let reports = Reports::install(Duration::from_millis(5));
    let l = Arc::new(RwLock::new(()));
    let m = Arc::new(Mutex::new(()));
    let w = l.try_write_owned().unwrap();
    // A first batch of task readers, the first with a slow waker.
    let slow = std::task::Waker::from(Arc::new(SlowWaker));
    let counter = Counter::new();
    let mut batch: Vec<_> = (0..32).map(|_| Box::pin(l.read())).collect();
    for (i, read) in batch.iter_mut().enumerate() {
        let waker = if i == 0 { &slow } else { counter.waker() };
        let mut cx = Context::from_waker(waker);
        assert!(read.as_mut().poll(&mut cx).is_pending());
    }
    let r = {
        let (l, m) = (l.clone(), m.clone());
        thread::spawn(move || {
            let g = m.lock_blocking();
            drop(l.read_blocking());
            drop(g);
        })
    };
    // R is queued once its wait is reported.
    loop {
        if reports.next_for(addr(&*l)).thread().is_some() {
            break;
        }
    }
    drop(reports);
    let releaser = thread::spawn(move || drop(w));
    let give_up = Arc::new(AtomicBool::new(false));
    let b = {
        let (l, m, give_up) = (l.clone(), m.clone(), give_up.clone());
        thread::spawn(move || {
            let deadline = Instant::now() + PATIENCE;
            let read = loop {
                if let Some(read) = l.try_read() {
                    break read;
                }
                assert!(Instant::now() < deadline, "the writer's release began");
                thread::sleep(Duration::from_millis(1));
            };
            while !give_up.load(Ordering::SeqCst) {
                drop(m.lock_blocking_timeout(Duration::from_millis(10)));
            }
            drop(read);
        })
    };
    let mut found = None;
    while found.is_none() && !releaser.is_finished() {
        found = diagnostics::check_deadlock()
            .into_iter()
            .find(|c| c.threads().iter().any(|t| t.lock_addr() == addr(&*l)));
        thread::sleep(Duration::from_millis(1));
    }
    give_up.store(true, Ordering::SeqCst);
    releaser.join().unwrap();
    r.join().unwrap();
    b.join().unwrap();
    drop(batch);
    if let Some(cycle) = found {
        panic!("a cycle was reported where no thread is stuck:\n{cycle}");
    }
}

#[test]
fn a_write_lock_a_task_took_stays_the_tasks_once_downgraded() {
    // As `read_locks_held_by_tasks_are_not_followed`, with the read lock downgraded from a
    // write lock taken in a task.
    let lock = RwLock::new(());
    let read = block_on(async { RwLockWriteGuard::downgrade(lock.write().await) });
    never_in_a_cycle_while(addr(&lock), || {
        assert!(lock
            .write_blocking_timeout(Duration::from_millis(5))
            .is_none());
    });
    drop(read);
}

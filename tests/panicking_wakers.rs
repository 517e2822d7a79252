//! Wakers that panic when cloned, woken or dropped, in the middle of a withdrawal, a retry, an
//! unlock or a downgrade: the rest of the step still runs (locks taken are released, the
//! diagnostics forget the wait), the lock stays usable and no wake-up is lost. Every test runs its body under a deadlock guard, so a hang
//! shows as a failure.
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::thread;

use common::no_deadlock;
use futures::FutureExt;
use unisync::{
    lock_all, Barrier, Condvar, Event, Mutex, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard,
    Semaphore, ShutdownSignal, WaitGroup,
};

// ---- wakers ------------------------------------------------------------------------------

/// What a test waker does: panic when dropped (unless already unwinding, or even then),
/// panic when cloned or woken, run a closure on its next clone or drop, and count its wake-ups. Every
/// waker of this file points at one of these (see `waker`).
struct Flags {
    drop_panics: AtomicBool,
    drop_panics_unwinding: AtomicBool,
    clone_panics: AtomicBool,
    wake_panics: AtomicBool,
    on_clone: StdMutex<Option<Box<dyn FnOnce() + Send>>>,
    on_drop: StdMutex<Option<Box<dyn FnOnce() + Send>>>,
    wakes: AtomicUsize,
}

/// A fresh `Flags` from a static pool (static, so that Miri sees no leak).
fn flags() -> &'static Flags {
    #[allow(clippy::declare_interior_mutable_const)]
    const FRESH: Flags = Flags {
        drop_panics: AtomicBool::new(false),
        drop_panics_unwinding: AtomicBool::new(false),
        clone_panics: AtomicBool::new(false),
        wake_panics: AtomicBool::new(false),
        on_clone: StdMutex::new(None),
        on_drop: StdMutex::new(None),
        wakes: AtomicUsize::new(0),
    };
    static POOL: [Flags; 128] = [FRESH; 128];
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    &POOL[NEXT.fetch_add(1, Ordering::SeqCst)]
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(vt_clone, vt_wake, vt_wake, vt_drop);

unsafe fn vt_clone(p: *const ()) -> RawWaker {
    // SAFETY: every waker of this file points at a `Flags` of the static pool (see `waker`).
    let f = unsafe { &*(p as *const Flags) };
    if f.clone_panics.load(Ordering::SeqCst) {
        panic!("waker clone panics");
    }
    let hook = f.on_clone.lock().unwrap().take();
    if let Some(hook) = hook {
        hook();
    }
    RawWaker::new(p, &VTABLE)
}
unsafe fn vt_wake(p: *const ()) {
    // SAFETY: every waker of this file points at a `Flags` of the static pool (see `waker`).
    let f = unsafe { &*(p as *const Flags) };
    f.wakes.fetch_add(1, Ordering::SeqCst);
    if f.wake_panics.load(Ordering::SeqCst) {
        panic!("waker wake panics");
    }
}
unsafe fn vt_drop(p: *const ()) {
    // SAFETY: every waker of this file points at a `Flags` of the static pool (see `waker`).
    let f = unsafe { &*(p as *const Flags) };
    let hook = f.on_drop.lock().unwrap().take();
    if let Some(hook) = hook {
        hook();
    }
    let unwinding = thread::panicking();
    if f.drop_panics_unwinding.load(Ordering::SeqCst)
        || (f.drop_panics.load(Ordering::SeqCst) && !unwinding)
    {
        panic!("waker drop panics");
    }
}

fn waker(f: &'static Flags) -> Waker {
    // SAFETY: the data is a `&'static Flags`, which the vtable's functions only read.
    unsafe { Waker::from_raw(RawWaker::new(f as *const Flags as *const (), &VTABLE)) }
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(w))
}

fn noop() -> Waker {
    futures::task::noop_waker()
}

fn addr<T: ?Sized>(m: &Mutex<T>) -> usize {
    m as *const Mutex<T> as *const () as usize
}

// ---- multi-lock --------------------------------------------------------------------------

/// Docs: "Dropping the future before it completes unlocks every mutex it had taken".
/// A waker whose drop panics, dropped by the cancellation, must not leave the taken members
/// locked.
#[test]
fn lock_all_cancel_with_panicking_waker_drop_unlocks_taken_members() {
    no_deadlock(|| {
        let (a, b) = (Mutex::new(0), Mutex::new(0));
        let (lo, hi) = if addr(&a) < addr(&b) {
            (&a, &b)
        } else {
            (&b, &a)
        };
        let held = hi.try_lock().unwrap();
        let f = flags();
        let mut fut = Box::pin(lock_all((&a, &b)));
        {
            let w = waker(f);
            assert!(poll(fut.as_mut(), &w).is_pending());
        }
        assert!(
            lo.is_locked(),
            "holds the lower member while it waits for the higher"
        );
        f.drop_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| drop(fut)));
        f.drop_panics.store(false, Ordering::SeqCst);
        assert!(r.is_err(), "the waker's drop panicked through the cancel");
        drop(held);
        assert!(
            !lo.is_locked(),
            "the member lock_all had taken stays locked after its cancel unwound"
        );
    });
}

/// A waker whose clone panics on the poll that acts on a RETRY wake-up (after being
/// overtaken): the `WOKEN` the wait stood for must not be lost, or later waiters starve.
fn woken_lost_scenario(use_lock_all: bool) {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let f1 = flags();
    let f2 = flags();
    let other = Mutex::new(0); // a second member for the lock_all form
    let mut fut1: Pin<Box<dyn Future<Output = ()> + Send + '_>> = if use_lock_all {
        Box::pin(async { drop(lock_all((&m, &other)).await) })
    } else {
        Box::pin(async { drop(m.lock().await) })
    };
    let mut fut2 = Box::pin(m.lock());
    let w1 = waker(f1);
    let w2 = waker(f2);
    // For lock_all: make sure `other` is not the one it waits on: it is free, so it either
    // takes it first (lower) or waits on `m` first. Either way it ends up queued on `m`.
    assert!(poll(fut1.as_mut(), &w1).is_pending());
    assert!(poll(fut2.as_mut(), &w2).is_pending());
    drop(g); // wakes fut1 to retry (state: WOKEN)
    assert_eq!(f1.wakes.load(Ordering::SeqCst), 1);
    let overtaker = m
        .try_lock()
        .expect("a newcomer may overtake a woken waiter");
    // Re-poll fut1 with a new waker whose clone panics.
    let f3 = flags();
    f3.clone_panics.store(true, Ordering::SeqCst);
    let w3 = waker(f3);
    let r = catch_unwind(AssertUnwindSafe(|| poll(fut1.as_mut(), &w3)));
    assert!(r.is_err(), "the clone panicked");
    f3.clone_panics.store(false, Ordering::SeqCst);
    drop(fut1); // cancel: must pass on the WOKEN it stood for
    drop(overtaker);
    // fut2 must now get the lock (woken, or ready when polled).
    let woken = f2.wakes.load(Ordering::SeqCst) > 0;
    let ready = poll(fut2.as_mut(), &w2).is_ready();
    assert!(
        woken || ready,
        "the second waiter was never woken and cannot get a free mutex (lost `WOKEN`)"
    );
    // And once more: a later lock/unlock must wake it too.
    if !ready {
        drop(m.try_lock());
        assert!(
            poll(fut2.as_mut(), &w2).is_ready(),
            "still starved after another lock/unlock"
        );
    }
}

#[test]
fn mutex_lock_panicking_waker_clone_after_retry_loses_no_wakeup() {
    no_deadlock(|| woken_lost_scenario(false));
}

#[test]
fn lock_all_panicking_waker_clone_after_retry_loses_no_wakeup() {
    no_deadlock(|| woken_lost_scenario(true));
}

// ---- a wait that finishes under the queue's lock -------------------------------------------

/// A wait that finds what it waits for only under the queue's lock owns it there, and still
/// has to drop the waker clone it made to queue with. That clone lets the holder go when
/// cloned (it owns the guard or permit, like the waker of tokio's `release_permits_at_drop`)
/// and panics when dropped: the panic leaves `poll`, and what the wait took must not be lost.
fn finishes_under_the_lock<F: Future>(
    release_on_clone: impl FnOnce() + Send + 'static,
    fut: F,
    after: impl FnOnce(),
) {
    let f = flags();
    *f.on_clone.lock().unwrap() = Some(Box::new(move || {
        release_on_clone();
        f.drop_panics.store(true, Ordering::SeqCst);
    }));
    let mut fut = Box::pin(fut);
    let w = waker(f);
    let r = catch_unwind(AssertUnwindSafe(|| poll(fut.as_mut(), &w)));
    f.drop_panics.store(false, Ordering::SeqCst);
    assert!(r.is_err(), "the unneeded clone's drop panicked out of poll");
    drop(fut);
    after();
}

/// Docs of `Semaphore::acquire`: dropping the future before it completes returns every permit
/// it had set aside.
#[test]
fn a_permit_taken_under_the_lock_is_given_back_when_the_unneeded_waker_panics() {
    no_deadlock(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire_owned().unwrap();
        finishes_under_the_lock(
            move || drop(held),
            sem.acquire(),
            || assert_eq!(sem.available_permits(), 1, "the permit was lost"),
        );
    });
}

#[test]
fn a_mutex_locked_under_the_lock_is_unlocked_when_the_unneeded_waker_panics() {
    no_deadlock(|| {
        let m = Arc::new(Mutex::new(0));
        let held = m.try_lock_owned().unwrap();
        finishes_under_the_lock(
            move || drop(held),
            m.lock(),
            || assert!(!m.is_locked(), "the mutex stays locked with no guard"),
        );
    });
}

/// Read, write (on `gate`, and on the readers' drain) and upgrade (its drain) each finish
/// under a lock of their own.
#[test]
fn rwlock_waits_finished_under_the_lock_give_up_when_the_unneeded_waker_panics() {
    no_deadlock(|| {
        let rw = Arc::new(RwLock::new(0));
        let free = |rw: &RwLock<i32>| {
            let w = rw.try_write().expect("the lock is free again");
            drop(w);
            drop(
                rw.try_upgradable_read()
                    .expect("no upgradable lock is held"),
            );
        };
        let held = rw.try_write_owned().unwrap();
        finishes_under_the_lock(move || drop(held), rw.read(), || free(&rw));
        let held = rw.try_write_owned().unwrap();
        finishes_under_the_lock(move || drop(held), rw.write(), || free(&rw));
        let reader = rw.try_read_owned().unwrap();
        finishes_under_the_lock(move || drop(reader), rw.write(), || free(&rw));
        let reader = rw.try_read_owned().unwrap();
        let up = rw.try_upgradable_read().unwrap();
        finishes_under_the_lock(
            move || drop(reader),
            unisync::RwLockUpgradableReadGuard::upgrade(up),
            || free(&rw),
        );
    });
}

// ---- withdrawals that hand on more than one batch ----------------------------------------

/// Docs of `Semaphore::acquire_many`: the permits a dropped future had collected are returned.
/// Handing them on wakes more than one batch of waiters, and the withdrawn wait's own waker,
/// dropped between two batches, panics: every waiter must still be served.
#[test]
fn a_withdrawn_partial_holder_hands_on_every_permit_when_its_waker_panics_on_drop() {
    no_deadlock(|| {
        let sem = Semaphore::new(40);
        let f = flags();
        let mut holder = Box::pin(sem.acquire_many(41)); // holds 40, lacks 1
        assert!(poll(holder.as_mut(), &waker(f)).is_pending());
        let mut rest: Vec<_> = (0..40).map(|_| Box::pin(sem.acquire())).collect();
        for wait in &mut rest {
            assert!(poll(wait.as_mut(), &noop()).is_pending());
        }
        f.drop_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| drop(holder)));
        f.drop_panics.store(false, Ordering::SeqCst);
        assert!(
            r.is_err(),
            "the waker's drop panicked through the withdrawal"
        );
        let served: Vec<_> = rest
            .iter_mut()
            .enumerate()
            .map(|(i, wait)| match poll(wait.as_mut(), &noop()) {
                Poll::Ready(permit) => permit.unwrap(),
                Poll::Pending => panic!("waiter {i} was not handed its permit"),
            })
            .collect();
        drop(served);
        assert_eq!(sem.available_permits(), 40);
    });
}

/// Two wakers panic in one withdrawal (the next waiter's when woken, the withdrawn wait's when
/// dropped, even while unwinding): the process goes on, and the next waiter is served.
#[test]
fn two_panicking_wakers_in_one_withdrawal_do_not_abort() {
    no_deadlock(|| {
        let sem = Semaphore::new(1);
        let (fa, fb) = (flags(), flags());
        let mut a = Box::pin(sem.acquire_many(2)); // holds 1, lacks 1
        let mut b = Box::pin(sem.acquire());
        assert!(poll(a.as_mut(), &waker(fa)).is_pending());
        let wb = waker(fb);
        assert!(poll(b.as_mut(), &wb).is_pending());
        fa.drop_panics_unwinding.store(true, Ordering::SeqCst);
        fb.wake_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| drop(a)));
        fa.drop_panics_unwinding.store(false, Ordering::SeqCst);
        fb.wake_panics.store(false, Ordering::SeqCst);
        assert!(r.is_err());
        assert_eq!(fb.wakes.load(Ordering::SeqCst), 1);
        match poll(b.as_mut(), &wb) {
            Poll::Ready(permit) => drop(permit.unwrap()),
            Poll::Pending => panic!("the next waiter never got the withdrawn wait's permit"),
        }
        assert_eq!(sem.available_permits(), 1);
    });
}

/// The same in a barrier: a party withdrawn while another's wake-up panics.
#[test]
fn two_panicking_wakers_in_a_barrier_withdrawal_do_not_abort() {
    no_deadlock(|| {
        let barrier = Barrier::new(3);
        let (fa, fb) = (flags(), flags());
        let mut a = Box::pin(barrier.wait());
        let mut b = Box::pin(barrier.wait());
        assert!(poll(a.as_mut(), &waker(fa)).is_pending());
        let wb = waker(fb);
        assert!(poll(b.as_mut(), &wb).is_pending());
        fa.drop_panics_unwinding.store(true, Ordering::SeqCst);
        fb.wake_panics.store(true, Ordering::SeqCst);
        let _ = catch_unwind(AssertUnwindSafe(|| drop(a)));
        fa.drop_panics_unwinding.store(false, Ordering::SeqCst);
        fb.wake_panics.store(false, Ordering::SeqCst);
        // `a` left: `b` and two more complete the generation.
        let mut c = Box::pin(barrier.wait());
        assert!(poll(c.as_mut(), &noop()).is_pending());
        let d = barrier.wait_blocking().expect("the barrier is not broken");
        let b = match poll(b.as_mut(), &wb) {
            Poll::Ready(r) => r.expect("the barrier is not broken"),
            Poll::Pending => panic!("the generation did not release its parties"),
        };
        let c = match poll(c.as_mut(), &noop()) {
            Poll::Ready(r) => r.expect("the barrier is not broken"),
            Poll::Pending => panic!("the generation did not release its parties"),
        };
        let leaders = [&b, &c, &d].iter().filter(|r| r.is_leader()).count();
        assert_eq!(leaders, 1);
    });
}

// ---- condvar ------------------------------------------------------------------------------

/// `Condvar::wait`, cancel safety: dropped while locking the mutex again after a notification,
/// "that lock attempt is withdrawn and the notification is passed to another waiter", also when
/// dropping the waker the lock attempt stored panics.
#[test]
fn a_condvar_wait_dropped_while_relocking_passes_its_notification_on_when_its_waker_panics() {
    no_deadlock(|| {
        let (mutex, condvar) = (Mutex::new(()), Condvar::new());
        let mut first = Box::pin(condvar.wait(mutex.lock_blocking()));
        assert!(poll(first.as_mut(), &noop()).is_pending());
        let fb = flags();
        let second_waker = waker(fb);
        let mut second = Box::pin(condvar.wait(mutex.lock_blocking()));
        assert!(poll(second.as_mut(), &second_waker).is_pending());
        condvar.notify_one(); // taken by `first`
        let held = mutex.lock_blocking();
        let fa = flags();
        // Notified, `first` now queues on the mutex with its waker.
        assert!(poll(first.as_mut(), &waker(fa)).is_pending());
        fa.drop_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| drop(first)));
        fa.drop_panics.store(false, Ordering::SeqCst);
        assert!(r.is_err(), "the waker's drop panicked through the cancel");
        drop(held);
        assert_eq!(
            fb.wakes.load(Ordering::SeqCst),
            1,
            "the notification was not passed on"
        );
        assert!(poll(second.as_mut(), &second_waker).is_ready());
        assert!(!mutex.is_locked());
    });
}

// ---- rwlock: wakers that panic in unlocks, downgrades and withdrawals ---------------------

/// Wakes by panicking.
struct WakePanics;

impl Wake for WakePanics {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics");
    }
}

/// The lock is fully usable: nothing is held and every kind of lock can be taken, from this
/// thread and, blocking, from another.
fn assert_usable<T: Send + Sync>(lock: &RwLock<T>) {
    assert!(
        !lock.is_write_locked(),
        "a write announcement was left behind"
    );
    assert_eq!(lock.reader_count(), 0, "a read lock was left behind");
    assert!(lock.try_read().is_some(), "read lock not obtainable");
    assert!(
        lock.try_upgradable_read().is_some(),
        "upgradable lock not obtainable"
    );
    assert!(lock.try_write().is_some(), "write lock not obtainable");
    thread::scope(|s| {
        s.spawn(|| drop(lock.write_blocking()));
    });
}

/// A write future polled while a reader is inside, with a waker that panics when cloned:
/// the poll panics (the waker's panic reaches the caller) but the dropped future must leave
/// the lock usable.
#[test]
fn write_poll_with_panicking_waker_clone_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let reader = lock.try_read().unwrap();
        let f = flags();
        f.clone_panics.store(true, Ordering::SeqCst);
        let w = waker(f);
        let mut write = Box::pin(lock.write());
        let res = catch_unwind(AssertUnwindSafe(|| poll(write.as_mut(), &w)));
        assert!(res.is_err(), "the waker's clone panicked");
        drop(write);
        drop(reader);
        assert_usable(&lock);
    });
}

/// Same for the owned form.
#[test]
fn write_owned_poll_with_panicking_waker_clone_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = Arc::new(RwLock::new(0u32));
        let reader = lock.try_read().unwrap();
        let f = flags();
        f.clone_panics.store(true, Ordering::SeqCst);
        let w = waker(f);
        let mut write = Box::pin(lock.write_owned());
        let res = catch_unwind(AssertUnwindSafe(|| poll(write.as_mut(), &w)));
        assert!(res.is_err());
        drop(write);
        drop(reader);
        assert_usable(&lock);
    });
}

/// An upgrade future polled while a reader is inside, with a waker that panics when cloned.
#[test]
fn upgrade_poll_with_panicking_waker_clone_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let reader = lock.try_read().unwrap();
        let up = lock.try_upgradable_read().unwrap();
        let f = flags();
        f.clone_panics.store(true, Ordering::SeqCst);
        let w = waker(f);
        let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(up));
        let res = catch_unwind(AssertUnwindSafe(|| poll(upgrade.as_mut(), &w)));
        assert!(res.is_err());
        drop(upgrade);
        drop(reader);
        assert_usable(&lock);
    });
}

/// A write guard dropped while a reader whose waker panics on wake is queued behind it: the
/// panic reaches the unlocker, and the lock must be usable afterwards (as the mutex promises:
/// "the panic reaches the unlocker, the lock is free, and the woken waiter still gets it").
#[test]
fn write_unlock_waking_a_panicking_reader_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let writer = lock.try_write().unwrap();
        let f = flags();
        let w = waker(f);
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &w).is_pending());
        f.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| drop(writer)));
        assert!(res.is_err(), "the panic reaches the unlocker");
        f.wake_panics.store(false, Ordering::SeqCst);
        let guard = read
            .as_mut()
            .now_or_never()
            .expect("the woken reader holds its read lock");
        drop(guard);
        drop(read);
        assert_usable(&lock);
    });
}

/// `downgrade_to_upgradable` waking a queued reader whose waker panics.
#[test]
fn downgrade_to_upgradable_waking_a_panicking_reader_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let writer = lock.try_write().unwrap();
        let f = flags();
        let w = waker(f);
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &w).is_pending());
        f.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockWriteGuard::downgrade_to_upgradable(writer))
        }));
        assert!(res.is_err(), "the panic reaches the caller");
        f.wake_panics.store(false, Ordering::SeqCst);
        drop(
            read.as_mut()
                .now_or_never()
                .expect("the woken reader holds its read lock"),
        );
        drop(read);
        assert_usable(&lock);
    });
}

/// `RwLockUpgradableReadGuard::downgrade` that wakes a writer queued on the upgradable/write
/// gate whose waker panics: the read lock the downgrade took must not be leaked.
#[test]
fn upgradable_downgrade_waking_a_panicking_writer_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let up = lock.try_upgradable_read().unwrap();
        let f = flags();
        let w = waker(f);
        let mut write = Box::pin(lock.write());
        assert!(poll(write.as_mut(), &w).is_pending());
        f.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockUpgradableReadGuard::downgrade(up))
        }));
        assert!(res.is_err(), "the panic reaches the caller");
        f.wake_panics.store(false, Ordering::SeqCst);
        // The woken writer gets the lock (nobody else holds anything).
        drop(
            write
                .as_mut()
                .now_or_never()
                .expect("the woken writer takes the lock: no reader is left inside"),
        );
        drop(write);
        assert_usable(&lock);
    });
}

/// A write future announced and waiting for a reader to leave, dropped with a waker that
/// panics when dropped: the panic reaches the dropper, and the write announcement must not
/// be left behind.
#[test]
fn write_cancel_with_panicking_waker_drop_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let reader = lock.try_read().unwrap();
        let f = flags();
        let w = waker(f);
        let mut write = Box::pin(lock.write());
        assert!(poll(write.as_mut(), &w).is_pending());
        assert!(lock.is_write_locked(), "announced");
        drop(w);
        f.drop_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| drop(write)));
        f.drop_panics.store(false, Ordering::SeqCst);
        assert!(res.is_err(), "the waker's drop panicked");
        drop(reader);
        assert_usable(&lock);
    });
}

/// The same for an upgrade future.
#[test]
fn upgrade_cancel_with_panicking_waker_drop_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let reader = lock.try_read().unwrap();
        let up = lock.try_upgradable_read().unwrap();
        let f = flags();
        let w = waker(f);
        let mut upgrade = Box::pin(RwLockUpgradableReadGuard::upgrade(up));
        assert!(poll(upgrade.as_mut(), &w).is_pending());
        assert!(lock.is_write_locked(), "announced");
        drop(w);
        f.drop_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| drop(upgrade)));
        f.drop_panics.store(false, Ordering::SeqCst);
        assert!(res.is_err(), "the waker's drop panicked");
        drop(reader);
        assert_usable(&lock);
    });
}

/// `upgrade_blocking_timeout` that times out while a reader whose waker panics on wake is
/// queued behind the upgrade: letting that reader in panics, and the upgradable lock (which
/// the call no longer returns) must be released.
#[test]
fn upgrade_blocking_timeout_waking_a_panicking_reader_leaves_the_lock_usable() {
    no_deadlock(|| {
        use std::time::Duration;
        let lock = RwLock::new(0u32);
        let inside = lock.try_read().unwrap();
        let up = lock.try_upgradable_read().unwrap();
        let f = flags();
        std::thread::scope(|s| {
            let lock = &lock;
            let queued = s.spawn(move || {
                while !lock.is_write_locked() {
                    std::thread::yield_now();
                }
                let w = waker(f);
                let mut read = Box::pin(lock.read());
                assert!(poll(read.as_mut(), &w).is_pending());
                f.wake_panics.store(true, Ordering::SeqCst);
                read
            });
            let res = catch_unwind(AssertUnwindSafe(|| {
                match RwLockUpgradableReadGuard::upgrade_blocking_timeout(
                    up,
                    Duration::from_millis(300),
                ) {
                    Ok(_) => panic!("a reader is inside: the upgrade cannot complete"),
                    Err(up) => drop(up),
                }
            }));
            let mut read = queued.join().unwrap();
            f.wake_panics.store(false, Ordering::SeqCst);
            if res.is_ok() {
                // The reader was queued late or the panic did not happen: nothing to check here.
                eprintln!("note: no panic from the withdrawal");
            }
            drop(read.as_mut().now_or_never().expect("let in"));
        });
        drop(inside);
        assert_usable(&lock);
    });
}

/// `RwLockUpgradableReadGuard::downgrade` whose gate release hands the gate to a writer that
/// was overtaken once (a hand-off) and whose waker panics: the unwinding guard releases the
/// gate a second time, so the gate is free while the writer holds it, and another upgradable
/// reader gets in beside the writer.
#[test]
fn upgradable_downgrade_handing_off_to_a_panicking_writer_keeps_exclusion() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let first = lock.try_upgradable_read().unwrap();
        let f = flags();
        let w = waker(f);
        let mut write = Box::pin(lock.write());
        assert!(poll(write.as_mut(), &w).is_pending());
        drop(first); // wakes the writer to retry
        let barger = lock
            .try_upgradable_read()
            .expect("barges before the woken writer runs");
        assert!(
            poll(write.as_mut(), &w).is_pending(),
            "overtaken: back at the front"
        );
        f.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockUpgradableReadGuard::downgrade(barger))
        }));
        assert!(res.is_err(), "the panic reaches the caller");
        f.wake_panics.store(false, Ordering::SeqCst);
        // The gate was handed to the writer: it holds it now (and the write lock too, once no
        // reader is inside).
        let held = poll(write.as_mut(), &w);
        assert!(
            lock.try_upgradable_read().is_none(),
            "an upgradable reader got in while the writer holds the gate"
        );
        drop(held);
    });
}

/// A reader let in by a write release, whose first poll (it starts to run) wakes the next
/// writer waiting for it, and that writer's waker panics: the panic reaches the reader's
/// poller, and the reader's read lock, which it never got a guard for, must not be leaked.
#[test]
fn let_in_reader_waking_a_panicking_writer_on_poll_leaks_no_read_lock() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let first = lock.try_write().unwrap();
        let good = noop();
        let bad_flags = flags();
        let bad = waker(bad_flags);
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &good).is_pending());
        drop(first); // lets the reader in (counted, not yet run)
        let mut write = Box::pin(lock.write());
        assert!(
            poll(write.as_mut(), &bad).is_pending(),
            "waits for the let-in reader to run"
        );
        bad_flags.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| poll(read.as_mut(), &good).is_ready()));
        bad_flags.wake_panics.store(false, Ordering::SeqCst);
        assert!(
            res.is_err(),
            "the writer's waker panicked in the reader's poll"
        );
        drop(read);
        assert!(
            poll(write.as_mut(), &good).is_ready(),
            "the writer gets the lock once the reader is gone"
        );
        drop(write);
        assert_usable(&lock);
    });
}

/// The same, with the let-in reader dropped before it ran.
#[test]
fn let_in_reader_dropped_waking_a_panicking_writer_leaks_no_read_lock() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let first = lock.try_write().unwrap();
        let good = noop();
        let bad_flags = flags();
        let bad = waker(bad_flags);
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &good).is_pending());
        drop(first);
        let mut write = Box::pin(lock.write());
        assert!(poll(write.as_mut(), &bad).is_pending());
        bad_flags.wake_panics.store(true, Ordering::SeqCst);
        let res = catch_unwind(AssertUnwindSafe(|| drop(read)));
        bad_flags.wake_panics.store(false, Ordering::SeqCst);
        assert!(
            res.is_err(),
            "the writer's waker panicked in the reader's drop"
        );
        assert!(
            poll(write.as_mut(), &good).is_ready(),
            "the writer gets the lock once the reader is gone"
        );
        drop(write);
        assert_usable(&lock);
    });
}

/// `RwLockWriteGuard::downgrade` lets a queued reader in whose waker panics on wake: the
/// panic must reach the caller and leave the lock usable (it aborts the process instead: the
/// write guard, still alive, clears a write that is no longer announced while unwinding).
#[test]
fn write_downgrade_waking_a_panicking_reader_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let writer = lock.try_write().unwrap();
        let w = Waker::from(Arc::new(WakePanics));
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &w).is_pending());
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockWriteGuard::downgrade(writer))
        }));
        assert!(res.is_err(), "the panic reaches the caller");
        drop(
            read.as_mut()
                .now_or_never()
                .expect("the woken reader holds its read lock"),
        );
        drop(read);
        assert_usable(&lock);
    });
}

/// `RwLockWriteGuard::downgrade` wakes a writer queued behind it whose waker panics.
#[test]
fn write_downgrade_waking_a_panicking_writer_leaves_the_lock_usable() {
    no_deadlock(|| {
        let lock = RwLock::new(0u32);
        let writer = lock.try_write().unwrap();
        let w = Waker::from(Arc::new(WakePanics));
        let mut write = Box::pin(lock.write());
        assert!(poll(write.as_mut(), &w).is_pending());
        let res = catch_unwind(AssertUnwindSafe(|| {
            drop(RwLockWriteGuard::downgrade(writer))
        }));
        assert!(res.is_err(), "the panic reaches the caller");
        drop(
            write
                .as_mut()
                .now_or_never()
                .expect("the woken writer gets the lock"),
        );
        drop(write);
        assert_usable(&lock);
    });
}

fn panics<R>(f: impl FnOnce() -> R) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
}

// ---- shutdown -----------------------------------------------------------------------------

/// Docs of `ShutdownSignal::tracked`: "how many tasks are tracked under this signal (including
/// under its children)". A guard of a child dropped when the child's drain waiter (whose waker
/// panics on wake) is woken: the panic reaches the dropper, but the parent's count must still
/// go down, or the parent never drains.
#[test]
fn child_guard_drop_waking_a_panicking_drain_waiter_still_completes_the_parent() {
    no_deadlock(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let guard = child.track();
        assert_eq!((root.tracked(), child.tracked()), (1, 1));
        root.trigger();
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let w = waker(f);
        let mut drained = Box::pin(child.drained());
        assert!(poll(drained.as_mut(), &w).is_pending());
        panics(move || drop(guard));
        assert_eq!(f.wakes.load(Ordering::SeqCst), 1);
        assert!(poll(drained.as_mut(), &noop()).is_ready());
        assert_eq!(child.tracked(), 0);
        assert_eq!(root.tracked(), 0, "the parent's count was left up");
        assert!(root.drained().now_or_never().is_some());
    });
}

// ---- multi-lock ---------------------------------------------------------------------------

/// Docs of `lock_all`: "Dropping the future before it completes unlocks every mutex it had
/// taken". Unlocking the first member wakes a waiter queued on it whose waker panics: the
/// panic reaches the dropper, but the other members taken must still be unlocked.
#[test]
fn lock_all_cancel_waking_a_panicking_waiter_unlocks_every_member_taken() {
    no_deadlock(|| {
        let ms = [Mutex::new(0), Mutex::new(0), Mutex::new(0)];
        // Lock order is by address: ms[0], ms[1], ms[2].
        let g2 = ms[2].try_lock().unwrap();
        let mut all = Box::pin(lock_all([&ms[0], &ms[1], &ms[2]]));
        assert!(poll(all.as_mut(), &noop()).is_pending());
        assert!(ms[0].is_locked() && ms[1].is_locked());
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut w = Box::pin(ms[0].lock());
        assert!(poll(w.as_mut(), &waker(f)).is_pending());
        panics(move || drop(all));
        assert_eq!(f.wakes.load(Ordering::SeqCst), 1);
        assert!(
            !ms[1].is_locked(),
            "a member taken by the cancelled lock_all stays locked"
        );
        assert!(poll(w.as_mut(), &noop()).is_ready());
        drop(g2);
        assert!(ms[1].try_lock().is_some());
    });
}

// ---- barrier ------------------------------------------------------------------------------

/// The party that trips the barrier wakes a party whose waker panics: the panic reaches the
/// tripping party's poll, and every party still gets its result, with exactly one leader; the
/// barrier is usable for the next generation.
#[test]
fn barrier_trip_waking_a_panicking_party_keeps_every_result() {
    no_deadlock(|| {
        let b = Barrier::new(3);
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut a = Box::pin(b.wait());
        let mut c = Box::pin(b.wait());
        assert!(poll(a.as_mut(), &waker(f)).is_pending());
        assert!(poll(c.as_mut(), &noop()).is_pending());
        let mut last = Box::pin(b.wait());
        panics(|| poll(last.as_mut(), &noop()));
        let mut leaders = 0;
        let mut idx = Vec::new();
        for fut in [&mut a, &mut c, &mut last] {
            match poll(fut.as_mut(), &noop()) {
                Poll::Ready(Ok(r)) => {
                    leaders += r.is_leader() as usize;
                    idx.push(r.index());
                }
                other => panic!(
                    "a party did not get its result: {:?}",
                    other.map(|r| r.is_ok())
                ),
            }
        }
        idx.sort();
        assert_eq!(leaders, 1);
        assert_eq!(idx, vec![0, 1, 2]);
        assert_eq!(b.n_waiting(), 0);
        // Next generation.
        let mut x = Box::pin(b.wait());
        let mut y = Box::pin(b.wait());
        assert!(poll(x.as_mut(), &noop()).is_pending());
        assert!(poll(y.as_mut(), &noop()).is_pending());
        assert!(matches!(
            poll(Box::pin(b.wait()).as_mut(), &noop()),
            Poll::Ready(Ok(_))
        ));
        assert!(matches!(poll(x.as_mut(), &noop()), Poll::Ready(Ok(_))));
        assert!(matches!(poll(y.as_mut(), &noop()), Poll::Ready(Ok(_))));
    });
}

/// `abort` waking a party whose waker panics: the panic reaches the caller, every party
/// fails, and `reset` makes the barrier usable again.
#[test]
fn barrier_abort_and_reset_waking_panicking_parties() {
    no_deadlock(|| {
        let b = Barrier::new(3);
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut a = Box::pin(b.wait());
        let mut c = Box::pin(b.wait());
        assert!(poll(a.as_mut(), &waker(f)).is_pending());
        assert!(poll(c.as_mut(), &noop()).is_pending());
        panics(|| b.abort());
        assert!(b.is_broken());
        assert!(matches!(poll(a.as_mut(), &noop()), Poll::Ready(Err(_))));
        assert!(matches!(poll(c.as_mut(), &noop()), Poll::Ready(Err(_))));
        b.reset();
        assert!(!b.is_broken());
        let mut a = Box::pin(b.wait());
        assert!(poll(a.as_mut(), &waker(f)).is_pending());
        panics(|| b.reset());
        assert!(matches!(poll(a.as_mut(), &noop()), Poll::Ready(Err(_))));
        assert_eq!(b.n_waiting(), 0);
        let mut x = Box::pin(b.wait());
        let mut y = Box::pin(b.wait());
        assert!(poll(x.as_mut(), &noop()).is_pending());
        assert!(poll(y.as_mut(), &noop()).is_pending());
        assert!(matches!(
            poll(Box::pin(b.wait()).as_mut(), &noop()),
            Poll::Ready(Ok(_))
        ));
        assert!(matches!(poll(x.as_mut(), &noop()), Poll::Ready(Ok(_))));
    });
}

// ---- semaphore ----------------------------------------------------------------------------

/// `close` over more than one batch, one waiter's waker panicking: every waiter fails, the
/// permits are all there, the panic reaches the closer.
#[test]
fn semaphore_close_with_a_panicking_waker_fails_every_waiter() {
    no_deadlock(|| {
        let sem = Semaphore::new(2);
        let held = sem.try_acquire_many(2).unwrap();
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut ws: Vec<_> = (0..70).map(|_| Box::pin(sem.acquire())).collect();
        for (i, w) in ws.iter_mut().enumerate() {
            let wk = if i == 33 { waker(f) } else { noop() };
            assert!(poll(w.as_mut(), &wk).is_pending());
        }
        panics(|| sem.close());
        for w in ws.iter_mut() {
            assert!(matches!(poll(w.as_mut(), &noop()), Poll::Ready(Err(_))));
        }
        drop(held);
        assert_eq!(sem.available_permits(), 2);
    });
}

/// `add_permits` handing permits to a panicking waiter then to others.
#[test]
fn semaphore_add_permits_with_a_panicking_waker_hands_every_permit() {
    no_deadlock(|| {
        let sem = Semaphore::new(0);
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut ws: Vec<_> = (0..40).map(|_| Box::pin(sem.acquire())).collect();
        for (i, w) in ws.iter_mut().enumerate() {
            let wk = if i == 0 || i == 35 { waker(f) } else { noop() };
            assert!(poll(w.as_mut(), &wk).is_pending());
        }
        panics(|| sem.add_permits(45));
        let permits: Vec<_> = ws
            .iter_mut()
            .map(|w| match poll(w.as_mut(), &noop()) {
                Poll::Ready(Ok(p)) => p,
                _ => panic!("a waiter was not served"),
            })
            .collect();
        assert_eq!(sem.available_permits(), 5);
        drop(permits);
        assert_eq!(sem.available_permits(), 45);
    });
}

// ---- condvar ------------------------------------------------------------------------------

/// `notify_many` across batches with a panicking waker: exactly n waiters are notified.
#[test]
fn condvar_notify_many_with_a_panicking_waker_notifies_exactly_n() {
    no_deadlock(|| {
        let m = Mutex::new(0);
        let cv = Condvar::new();
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut ws = Vec::new();
        for i in 0..50 {
            let mut w = Box::pin(cv.wait(m.try_lock().unwrap()));
            let wk = if i == 31 { waker(f) } else { noop() };
            assert!(poll(w.as_mut(), &wk).is_pending());
            ws.push(w);
        }
        assert!(!m.is_locked());
        panics(|| cv.notify_many(40));
        let mut done = 0;
        for w in ws.iter_mut() {
            if let Poll::Ready(g) = poll(w.as_mut(), &noop()) {
                done += 1;
                drop(g);
            }
        }
        assert_eq!(done, 40);
        cv.notify_all();
        for w in ws.iter_mut().skip(40) {
            assert!(poll(w.as_mut(), &noop()).is_ready());
        }
    });
}

// ---- wait group ---------------------------------------------------------------------------

#[test]
fn wait_group_last_token_waking_a_panicking_waiter() {
    no_deadlock(|| {
        let wg = WaitGroup::new();
        let t = wg.token();
        let f = flags();
        f.wake_panics.store(true, Ordering::SeqCst);
        let mut a = Box::pin(wg.wait());
        let mut b = Box::pin(wg.wait());
        assert!(poll(a.as_mut(), &waker(f)).is_pending());
        assert!(poll(b.as_mut(), &noop()).is_pending());
        panics(move || drop(t));
        assert_eq!(wg.count(), 0);
        assert!(poll(a.as_mut(), &noop()).is_ready());
        assert!(poll(b.as_mut(), &noop()).is_ready());
        let t = wg.token();
        let mut c = Box::pin(wg.wait());
        assert!(poll(c.as_mut(), &noop()).is_pending());
        drop(t);
        assert!(poll(c.as_mut(), &noop()).is_ready());
    });
}

/// Docs of `Barrier`: "exactly one leader per generation among the parties that return".
/// A queued party polled again while the trip is still waking earlier batches collects its
/// result itself (index 0: the leader) and then leaves the queue; dropping its stored waker
/// there panics, so the poll panics and that index is lost: no party that returns is the
/// leader.
#[test]
fn barrier_party_collecting_first_and_panicking_on_leaving_the_queue_keeps_a_leader() {
    no_deadlock(|| {
        const N: usize = 40;
        static BARRIER: Barrier = Barrier::new(N);
        let b = &BARRIER;
        let stall = common::Stall::new();
        let f = flags();
        let mut parties: Vec<_> = (0..N - 1).map(|_| Box::pin(b.wait())).collect();
        for (i, p) in parties.iter_mut().enumerate() {
            let w = match i {
                0 => stall.waker(),
                35 => waker(f),
                _ => noop(),
            };
            assert!(poll(p.as_mut(), &w).is_pending());
        }
        let last = thread::spawn(move || {
            let mut p = Box::pin(b.wait());
            match poll(p.as_mut(), &noop()) {
                Poll::Ready(Ok(r)) => r.is_leader(),
                _ => panic!("the last party trips the barrier"),
            }
        });
        // The tripping thread is stopped inside the first batch; party 35 is still queued.
        stall.wait_until_entered();
        f.drop_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| poll(parties[35].as_mut(), &noop())));
        f.drop_panics.store(false, Ordering::SeqCst);
        stall.go_on();
        let mut leaders = usize::from(last.join().unwrap());
        let panicked = r.is_err();
        if let Ok(Poll::Ready(Ok(res))) = r {
            leaders += usize::from(res.is_leader());
        }
        for (i, p) in parties.iter_mut().enumerate() {
            if i == 35 {
                continue;
            }
            match poll(p.as_mut(), &noop()) {
                Poll::Ready(Ok(res)) => leaders += usize::from(res.is_leader()),
                _ => panic!("party {i} did not get its result"),
            }
        }
        assert!(panicked, "the stored waker's drop was expected to panic");
        assert_eq!(leaders, 1, "the parties that returned have no leader");
    });
}

// ---- woken but unpolled futures dropped: the pass-on wakes a panicking waiter ---------------

#[test]
fn mutex_retry_wakeup_passed_on_to_a_panicking_waiter() {
    no_deadlock(|| {
        let m = Mutex::new(0);
        let g = m.try_lock().unwrap();
        let f = flags();
        let mut a = Box::pin(m.lock());
        let mut b = Box::pin(m.lock());
        assert!(poll(a.as_mut(), &noop()).is_pending());
        assert!(poll(b.as_mut(), &waker(f)).is_pending());
        drop(g); // a woken to retry
        f.wake_panics.store(true, Ordering::SeqCst);
        panics(move || drop(a)); // passes the turn to b, whose waker panics
        assert_eq!(f.wakes.load(Ordering::SeqCst), 1);
        f.wake_panics.store(false, Ordering::SeqCst);
        assert!(!m.is_locked());
        let gb = match poll(b.as_mut(), &noop()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("b was passed the turn"),
        };
        drop(gb);
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn mutex_handoff_passed_on_to_a_panicking_waiter() {
    no_deadlock(|| {
        let m = Mutex::new(0);
        let g = m.try_lock().unwrap();
        let f = flags();
        let mut a = Box::pin(m.lock());
        let mut b = Box::pin(m.lock());
        assert!(poll(a.as_mut(), &noop()).is_pending());
        assert!(poll(b.as_mut(), &waker(f)).is_pending());
        drop(g); // a woken to retry
        let g2 = m.try_lock().unwrap(); // barge: a is overtaken
        assert!(poll(a.as_mut(), &noop()).is_pending()); // a back at the front, overtaken
        drop(g2); // handed to a
        assert!(m.is_locked());
        f.wake_panics.store(true, Ordering::SeqCst);
        panics(move || drop(a)); // a's lock goes to b
        f.wake_panics.store(false, Ordering::SeqCst);
        let gb = match poll(b.as_mut(), &noop()) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("b got nothing"),
        };
        drop(gb);
        assert!(!m.is_locked());
        assert!(m.try_lock().is_some());
    });
}

#[test]
fn condvar_notification_passed_on_to_a_panicking_waiter() {
    no_deadlock(|| {
        let m = Mutex::new(0);
        let cv = Condvar::new();
        let f = flags();
        let mut a = Box::pin(cv.wait(m.try_lock().unwrap()));
        assert!(poll(a.as_mut(), &noop()).is_pending());
        let mut b = Box::pin(cv.wait(m.try_lock().unwrap()));
        assert!(poll(b.as_mut(), &waker(f)).is_pending());
        cv.notify_one();
        f.wake_panics.store(true, Ordering::SeqCst);
        panics(move || drop(a));
        f.wake_panics.store(false, Ordering::SeqCst);
        assert!(poll(b.as_mut(), &noop()).is_ready());
        assert!(!m.is_locked());
    });
}

#[test]
fn semaphore_granted_permits_passed_on_to_a_panicking_waiter() {
    no_deadlock(|| {
        let sem = Semaphore::new(0);
        let f = flags();
        let mut a = Box::pin(sem.acquire_many(2));
        let mut b = Box::pin(sem.acquire_many(2));
        assert!(poll(a.as_mut(), &noop()).is_pending());
        assert!(poll(b.as_mut(), &waker(f)).is_pending());
        sem.add_permits(3);
        f.wake_panics.store(true, Ordering::SeqCst);
        panics(move || drop(a));
        f.wake_panics.store(false, Ordering::SeqCst);
        let p = match poll(b.as_mut(), &noop()) {
            Poll::Ready(Ok(p)) => p,
            _ => panic!("b was not served"),
        };
        assert_eq!(sem.available_permits(), 1);
        drop(p);
        assert_eq!(sem.available_permits(), 3);
    });
}

/// Re-polling a queued wait with a new waker drops the old one, which panics: the wait stays
/// queued with the new waker and is served.
#[test]
fn repoll_with_a_new_waker_whose_predecessor_panics_on_drop() {
    no_deadlock(|| {
        let sem = Semaphore::new(0);
        let f = flags();
        let mut a = Box::pin(sem.acquire());
        assert!(poll(a.as_mut(), &waker(f)).is_pending());
        f.drop_panics.store(true, Ordering::SeqCst);
        let g = flags();
        panics(|| poll(a.as_mut(), &waker(g)));
        f.drop_panics.store(false, Ordering::SeqCst);
        sem.add_permits(1);
        assert_eq!(g.wakes.load(Ordering::SeqCst), 1);
        assert!(matches!(poll(a.as_mut(), &noop()), Poll::Ready(Ok(_))));
        let ev = Event::new();
        let mut w = Box::pin(ev.wait());
        assert!(poll(w.as_mut(), &waker(f)).is_pending());
        f.drop_panics.store(true, Ordering::SeqCst);
        panics(|| poll(w.as_mut(), &waker(g)));
        f.drop_panics.store(false, Ordering::SeqCst);
        ev.set();
        assert_eq!(g.wakes.load(Ordering::SeqCst), 2);
        assert!(poll(w.as_mut(), &noop()).is_ready());
    });
}

// ---- rwlock: a queued reader polled between the batches of a write unlock -------------------

/// A write unlock lets more than one batch of queued readers in; a reader of a later batch,
/// polled while the unlock is still waking the first one, enters by itself and then leaves the
/// queue, where dropping its stored waker panics. The poll panics, so no guard owns the read
/// lock it took: it must not be left counted (the lock could never be written again).
#[test]
fn rwlock_reader_entering_by_itself_and_panicking_on_leaving_the_queue_leaks_no_read_lock() {
    no_deadlock(|| {
        const N: usize = 40;
        static LOCK: RwLock<u32> = RwLock::new(0);
        let lock = &LOCK;
        let w = lock.try_write().unwrap();
        let stall = common::Stall::new();
        let f = flags();
        let mut readers: Vec<_> = (0..N).map(|_| Box::pin(lock.read())).collect();
        for (i, r) in readers.iter_mut().enumerate() {
            let wk = match i {
                0 => stall.waker(),
                36 => waker(f),
                _ => noop(),
            };
            assert!(poll(r.as_mut(), &wk).is_pending());
        }
        let unlocker = thread::spawn(move || drop(w));
        stall.wait_until_entered();
        f.drop_panics.store(true, Ordering::SeqCst);
        let r = catch_unwind(AssertUnwindSafe(|| {
            poll(readers[36].as_mut(), &noop()).map(drop)
        }));
        f.drop_panics.store(false, Ordering::SeqCst);
        stall.go_on();
        unlocker.join().unwrap();
        assert!(
            r.is_err(),
            "dropping the stored waker was expected to panic"
        );
        let r36 = readers.remove(36);
        drop(r36);
        for r in readers.iter_mut() {
            match poll(r.as_mut(), &noop()) {
                Poll::Ready(g) => drop(g),
                Poll::Pending => panic!("a reader was not let in"),
            }
        }
        drop(readers);
        assert_eq!(lock.reader_count(), 0, "a read lock was left behind");
        assert!(lock.try_write().is_some(), "write lock not obtainable");
    });
}

#[cfg(feature = "diagnostics")]
mod diag {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    use unisync::diagnostics;

    /// The long-wait hook is process-wide: tests that install one take turns.
    static HOOK: StdMutex<()> = StdMutex::new(());

    /// Whether a long-wait report about `lock` arrives within a second of installing a hook.
    fn reported(lock: usize) -> bool {
        let _turn = HOOK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tx, rx) = mpsc::channel();
        diagnostics::set_long_wait_hook(Duration::from_millis(5), move |w| {
            let _ = tx.send(w.lock_addr());
        });
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut ghost = false;
        while let Ok(a) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            if a == lock {
                ghost = true;
                break;
            }
        }
        diagnostics::clear_long_wait_hook();
        ghost
    }

    /// `upgrade_blocking_timeout` that times out while a reader whose waker panics is queued
    /// behind the upgrade: the withdrawal lets that reader in and panics, and the upgrade's
    /// wait must still leave the registry, or the registry keeps a pointer into the unwound
    /// stack frame. The thread stays alive until the check is over, so that a stale entry
    /// would still point into mapped memory.
    #[test]
    fn an_upgrade_timeout_whose_withdrawal_panics_leaves_the_registry() {
        no_deadlock(|| {
            let lock: &'static RwLock<u32> = Box::leak(Box::new(RwLock::new(0)));
            let inside = lock.try_read().unwrap();
            let (done_tx, done) = mpsc::channel();
            let (exit, exit_rx) = mpsc::channel::<()>();
            let upgrader = thread::spawn(move || {
                let up = lock.try_upgradable_read().unwrap();
                // Long enough for the reader below to queue first, even on a busy machine.
                let res = catch_unwind(AssertUnwindSafe(|| {
                    drop(RwLockUpgradableReadGuard::upgrade_blocking_timeout(
                        up,
                        Duration::from_secs(3),
                    ))
                }));
                done_tx.send(res.is_err()).unwrap();
                let _ = exit_rx.recv();
            });
            while !lock.is_write_locked() {
                thread::yield_now();
            }
            let w = Waker::from(Arc::new(WakePanics));
            let mut read = Box::pin(lock.read());
            assert!(poll(read.as_mut(), &w).is_pending());
            assert!(
                done.recv().unwrap(),
                "the withdrawal panicked (waking the reader)"
            );
            drop(read.as_mut().now_or_never().expect("let in"));
            drop(read);
            drop(inside);
            let ghost = reported(lock as *const RwLock<u32> as usize);
            exit.send(()).unwrap();
            upgrader.join().unwrap();
            assert!(!ghost, "the withdrawn upgrade is still in the registry");
        });
    }

    /// A wait cancelled by a drop that unwinds (its waker's drop panics) must leave the
    /// registry: otherwise the registry keeps a pointer into freed memory. The future is
    /// leaked after its drop ran, so that this test itself reads no freed memory.
    #[test]
    fn cancel_unwinding_from_waker_drop_leaves_registry() {
        no_deadlock(|| {
            let m: &'static Mutex<()> = Box::leak(Box::new(Mutex::new(())));
            let held = m.try_lock().unwrap();
            let f = flags();
            let mut fut = Box::pin(m.lock());
            {
                let w = waker(f);
                assert!(poll(fut.as_mut(), &w).is_pending());
            }
            f.drop_panics.store(true, Ordering::SeqCst);
            // SAFETY: the future is dropped in place and then forgotten, never moved.
            let raw: *mut _ = unsafe { Pin::get_unchecked_mut(fut.as_mut()) };
            // SAFETY: `raw` points at the live, pinned future, dropped once (then forgotten).
            let r = catch_unwind(AssertUnwindSafe(|| unsafe { std::ptr::drop_in_place(raw) }));
            f.drop_panics.store(false, Ordering::SeqCst);
            std::mem::forget(fut);
            assert!(r.is_err());
            drop(held);
            // No wait on `m` exists any more; a hook must not hear of one.
            let ghost = reported(addr(m));
            assert!(
                !ghost,
                "a dropped (cancelled) wait is still in the registry and was reported"
            );
        });
    }
}

/// A wait that completes under the queue's lock gives its permit back when dropping the waker
/// clone it did not need panics. If the semaphore was filled up meanwhile, the permit no
/// longer fits; panicking for that while the waker's panic unwinds would abort the process, so
/// it is dropped instead, and the waker's panic reaches the caller.
#[test]
fn give_back_past_the_limit_while_unwinding_does_not_abort() {
    no_deadlock(|| {
        static SEM: Semaphore = Semaphore::new(0);
        let f = flags();
        // The wait clones the waker just before it takes the queue's lock: a permit arrives
        // then, so the check under the lock succeeds and the clone is not needed.
        *f.on_clone.lock().unwrap() = Some(Box::new(|| SEM.add_permits(1)));
        *f.on_drop.lock().unwrap() = Some(Box::new(|| {
            SEM.add_permits(Semaphore::MAX_PERMITS - SEM.available_permits())
        }));
        f.drop_panics.store(true, Ordering::SeqCst);
        let w = waker(f);
        let mut fut = Box::pin(SEM.acquire());
        let r = catch_unwind(AssertUnwindSafe(|| poll(fut.as_mut(), &w).is_ready()));
        f.drop_panics.store(false, Ordering::SeqCst);
        let payload = r.expect_err("the waker's drop panics");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"waker drop panics"));
        assert_eq!(SEM.available_permits(), Semaphore::MAX_PERMITS);
        drop(SEM.try_acquire().unwrap());
        drop(fut);
    });
}

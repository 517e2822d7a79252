//! Wakers that panic when cloned or dropped, in the middle of a withdrawal or of a retry: the
//! rest of the withdrawal still runs (locks taken are released, the diagnostics forget the
//! wait) and no wake-up is lost. Every test runs its body under a deadlock guard, so a hang
//! shows as a failure.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread;

use common::no_deadlock;
use unisync::{lock_all, Barrier, Mutex, RwLock, Semaphore};

// ---- wakers ------------------------------------------------------------------------------

/// What a test waker does: panic when dropped (unless already unwinding, or even then),
/// panic when cloned or woken, run a closure on its next clone, and count its wake-ups. Every
/// waker of this file points at one of these (see `waker`).
struct Flags {
    drop_panics: AtomicBool,
    drop_panics_unwinding: AtomicBool,
    clone_panics: AtomicBool,
    wake_panics: AtomicBool,
    on_clone: StdMutex<Option<Box<dyn FnOnce() + Send>>>,
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
        wakes: AtomicUsize::new(0),
    };
    static POOL: [Flags; 32] = [FRESH; 32];
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
    assert!(
        r.is_err(),
        "the unneeded clone's drop panicked out of poll"
    );
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
            drop(rw.try_upgradable_read().expect("no upgradable lock is held"));
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
        assert!(r.is_err(), "the waker's drop panicked through the withdrawal");
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

#[cfg(feature = "diagnostics")]
mod diag {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    use unisync::diagnostics;

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
            let (tx, rx) = mpsc::channel();
            diagnostics::set_long_wait_hook(Duration::from_millis(5), move |w| {
                let _ = tx.send(w.lock_addr());
            });
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut ghost = false;
            while let Ok(a) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                if a == addr(m) {
                    ghost = true;
                    break;
                }
            }
            diagnostics::clear_long_wait_hook();
            assert!(
                !ghost,
                "a dropped (cancelled) wait is still in the registry and was reported"
            );
        });
    }
}

//! Wakers that panic when cloned or dropped, in the middle of a withdrawal or of a retry: the
//! rest of the withdrawal still runs (locks taken are released, the diagnostics forget the
//! wait) and no wake-up is lost. Every test runs its body under a deadlock guard, so a hang
//! shows as a failure.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread;

use common::no_deadlock;
use unisync::{lock_all, Mutex};

// ---- wakers ------------------------------------------------------------------------------

/// What a test waker does: panic when dropped, panic when cloned, and count its wake-ups.
/// Every waker of this file points at one of these (see `waker`).
struct Flags {
    drop_panics: AtomicBool,
    clone_panics: AtomicBool,
    wakes: AtomicUsize,
}

/// A fresh `Flags` from a static pool (static, so that Miri sees no leak).
fn flags() -> &'static Flags {
    #[allow(clippy::declare_interior_mutable_const)]
    const FRESH: Flags = Flags {
        drop_panics: AtomicBool::new(false),
        clone_panics: AtomicBool::new(false),
        wakes: AtomicUsize::new(0),
    };
    static POOL: [Flags; 16] = [FRESH; 16];
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
    RawWaker::new(p, &VTABLE)
}
unsafe fn vt_wake(p: *const ()) {
    // SAFETY: every waker of this file points at a `Flags` of the static pool (see `waker`).
    let f = unsafe { &*(p as *const Flags) };
    f.wakes.fetch_add(1, Ordering::SeqCst);
}
unsafe fn vt_drop(p: *const ()) {
    // SAFETY: every waker of this file points at a `Flags` of the static pool (see `waker`).
    let f = unsafe { &*(p as *const Flags) };
    if f.drop_panics.load(Ordering::SeqCst) && !thread::panicking() {
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

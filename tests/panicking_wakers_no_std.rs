//! Without the `std` feature a waker's panic is not caught: it unwinds out of the call that
//! woke it at once. What still holds then, as the crate docs say under the `std` feature:
//! the rest of the panicking waker's batch is woken, the queue's lock is released (once),
//! the primitive's state stays whole (no permit or lock is lost) and it stays usable. The
//! later batches of the same release are left unwoken; a wait among them that is polled
//! again still sees the release.
//!
//! The `std` build catches such panics instead: `tests/panicking_wakers.rs`.
#![cfg(not(feature = "std"))]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::no_deadlock;
use unisync::{Event, Mutex, Semaphore};

/// A waker that counts its wake-ups and, if told to, panics on each after counting it.
#[derive(Default)]
struct Probe {
    wakes: AtomicUsize,
    panics: AtomicBool,
}

impl Wake for Probe {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.panics.load(Ordering::SeqCst) {
            panic!("a waker that panics when woken");
        }
    }
}

impl Probe {
    fn new(panics: bool) -> Arc<Probe> {
        let probe = Arc::new(Probe::default());
        probe.panics.store(panics, Ordering::SeqCst);
        probe
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, probe: &Arc<Probe>) -> Poll<F::Output> {
    let waker = Waker::from(probe.clone());
    fut.poll(&mut Context::from_waker(&waker))
}

/// Two waits made by `wait`, each polled once (and left queued): the first with a waker that
/// panics when woken, the second with one that does not.
fn two_queued<F: Future>(wait: impl Fn() -> F) -> [(Pin<Box<F>>, Arc<Probe>); 2] {
    [true, false].map(|panics| {
        let (mut fut, probe) = (Box::pin(wait()), Probe::new(panics));
        assert!(poll(fut.as_mut(), &probe).is_pending());
        (fut, probe)
    })
}

/// Runs `f`, which must panic with the probe's message (and nothing else).
fn panics_from_a_waker(f: impl FnOnce()) {
    let payload =
        catch_unwind(AssertUnwindSafe(f)).expect_err("the waker's panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a waker that panics when woken")
    );
}

/// More waiters than one wake-up batch holds (32), so that `set` needs a second batch.
const WAITERS: usize = 40;
const BATCH: usize = 32;
const PANICKING: usize = 3;

#[test]
fn event_set_wakes_the_rest_of_the_batch_and_leaves_later_ones_to_their_next_poll() {
    no_deadlock(|| {
        let event = Event::new();
        let probes: Vec<_> = (0..WAITERS).map(|i| Probe::new(i == PANICKING)).collect();
        let mut waits: Vec<_> = (0..WAITERS).map(|_| Box::pin(event.wait())).collect();
        for (wait, probe) in waits.iter_mut().zip(&probes) {
            assert!(poll(wait.as_mut(), probe).is_pending());
        }

        panics_from_a_waker(|| event.set());
        assert!(event.is_set());
        for (i, probe) in probes.iter().enumerate() {
            let expected = usize::from(i < BATCH);
            assert_eq!(probe.wakes(), expected, "wake-ups of waiter {i}");
        }

        // Every wait sees the set when polled, the unwoken ones of the second batch too: they
        // leave the queue themselves, which takes its lock, so the lock was released.
        for (wait, probe) in waits.iter_mut().zip(&probes) {
            assert!(poll(wait.as_mut(), probe).is_ready());
        }
        drop(waits);

        // And the event works as before.
        event.clear();
        let probe = Probe::new(false);
        let mut wait = Box::pin(event.wait());
        assert!(poll(wait.as_mut(), &probe).is_pending());
        event.set();
        assert_eq!(probe.wakes(), 1);
        assert!(poll(wait.as_mut(), &probe).is_ready());
    });
}

#[test]
fn an_unlock_whose_waker_panics_still_hands_over_the_lock() {
    no_deadlock(|| {
        let mutex = Mutex::new(0);
        let guard = mutex.try_lock().unwrap();
        let [(mut first, panicking), (mut second, next)] = two_queued(|| mutex.lock());

        panics_from_a_waker(|| drop(guard));
        assert_eq!(panicking.wakes(), 1);

        // The woken waiter takes the lock when polled; the one behind it is woken when it is
        // released, and nothing is held once both are done.
        let Poll::Ready(mut guard) = poll(first.as_mut(), &panicking) else {
            panic!("the woken waiter did not get the lock");
        };
        *guard += 1;
        assert!(poll(second.as_mut(), &next).is_pending());
        drop(guard);
        assert_eq!(next.wakes(), 1);
        let Poll::Ready(guard) = poll(second.as_mut(), &next) else {
            panic!("the second waiter did not get the lock");
        };
        assert_eq!(*guard, 1);
        drop(guard);
        assert!(mutex.try_lock().is_some());
    });
}

#[test]
fn a_release_whose_waker_panics_loses_no_permit() {
    no_deadlock(|| {
        let sem = Semaphore::new(2);
        let held = sem.try_acquire_many(2).unwrap();
        let [(mut first, panicking), (mut second, next)] = two_queued(|| sem.acquire());

        // Both queued waits are served by one release of two permits; the first waker panics.
        panics_from_a_waker(|| drop(held));
        assert_eq!(panicking.wakes(), 1);
        assert_eq!(next.wakes(), 1, "the rest of the batch is woken");

        let Poll::Ready(Ok(a)) = poll(first.as_mut(), &panicking) else {
            panic!("the first waiter did not get its permit");
        };
        let Poll::Ready(Ok(b)) = poll(second.as_mut(), &next) else {
            panic!("the second waiter did not get its permit");
        };
        assert_eq!(sem.available_permits(), 0);
        drop((a, b));
        assert_eq!(sem.available_permits(), 2);
    });
}

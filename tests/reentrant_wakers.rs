//! Wakers that re-enter the primitive they wait on.
//!
//! A waker may own a guard or a permit of the very primitive it waits on (tokio's
//! `release_permits_at_drop` test is the classic case), or do anything else when it is woken or
//! dropped. If the wait queue woke or dropped wakers while holding its lock, such a waker would
//! call back into the primitive, need that same lock, and hang. Every primitive is checked two
//! ways: a stored waker dropped because the future was polled again with another waker, and a
//! stored waker consumed by the notification that wakes it.
//!
//! Each scenario runs on its own thread under a generous deadline, so a regression fails with
//! a message instead of hanging the suite.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use unisync::{Barrier, Condvar, Event, Mutex, RwLock, Semaphore};

/// A waker that runs `hook` once, when it is dropped for the last time (woken by value or
/// dropped).
struct Hook(StdMutex<Option<Box<dyn FnOnce() + Send>>>);

impl Wake for Hook {
    fn wake(self: Arc<Self>) {}
}

impl Drop for Hook {
    fn drop(&mut self) {
        if let Some(hook) = self.0.lock().unwrap().take() {
            hook();
        }
    }
}

fn hook_waker(hook: impl FnOnce() + Send + 'static) -> Waker {
    Waker::from(Arc::new(Hook(StdMutex::new(Some(Box::new(hook))))))
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

fn noop() -> Waker {
    futures::task::noop_waker()
}

/// Polls `fut` with a new waker (so the stored one is dropped) and returns its output: the
/// old waker's drop releases what the future waits for, so it is ready at once or at the next
/// poll.
fn repoll<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> F::Output {
    if let Poll::Ready(out) = poll(fut.as_mut(), &noop()) {
        return out;
    }
    match poll(fut, &noop()) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the dropped waker's release did not reach the waiter"),
    }
}

/// Polls a fresh future once and drops it: registering and withdrawing take the queue's lock.
fn poke<F: Future>(fut: F) {
    let mut fut = Box::pin(fut);
    let _ = poll(fut.as_mut(), &noop());
}

/// Runs `scenario` on its own thread and fails if it has not finished within the deadline.
fn finishes(name: &str, scenario: impl FnOnce() + Send + 'static) {
    let handle = std::thread::spawn(scenario);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !handle.is_finished() {
        assert!(
            Instant::now() < deadline,
            "{name}: a waker that re-enters the primitive deadlocked it"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.join().expect("scenario panicked");
}

#[test]
fn mutex_waker_dropped_on_repoll_releases_the_lock() {
    finishes("mutex", || {
        let m = Arc::new(Mutex::new(0));
        let guard = m.try_lock_owned().unwrap();
        let mut fut = Box::pin(m.lock());
        assert!(poll(fut.as_mut(), &hook_waker(move || drop(guard))).is_pending());
        // Replacing the stored waker drops it, which unlocks: the lock goes to this future.
        assert_eq!(*repoll(fut.as_mut()), 0);
    });
}

#[test]
fn mutex_waker_consumed_by_a_notification_relocks() {
    finishes("mutex", || {
        let m = Arc::new(Mutex::new(0));
        let guard = m.try_lock().unwrap();
        let m2 = m.clone();
        let mut first = Box::pin(m.lock());
        let mut second = Box::pin(m.lock());
        assert!(poll(first.as_mut(), &hook_waker(move || poke(m2.lock()))).is_pending());
        assert!(poll(second.as_mut(), &noop()).is_pending());
        drop(guard);
        drop(poll(first.as_mut(), &noop()));
        drop(first);
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

#[test]
fn semaphore_waker_dropped_on_repoll_returns_its_permit() {
    finishes("semaphore", || {
        let sem = Arc::new(Semaphore::new(1));
        let mut fut = Box::pin(sem.acquire());
        let permit = sem.try_acquire_owned().unwrap();
        assert!(poll(fut.as_mut(), &hook_waker(move || drop(permit))).is_pending());
        drop(repoll(fut.as_mut()).unwrap());
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn semaphore_waker_consumed_by_a_notification_acquires_again() {
    finishes("semaphore", || {
        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.try_acquire().unwrap();
        let sem2 = sem.clone();
        let mut first = Box::pin(sem.acquire());
        let mut second = Box::pin(sem.acquire());
        assert!(poll(first.as_mut(), &hook_waker(move || poke(sem2.acquire()))).is_pending());
        assert!(poll(second.as_mut(), &noop()).is_pending());
        drop(permit);
        drop(poll(first.as_mut(), &noop()));
        drop(first);
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

#[test]
fn rwlock_waker_dropped_on_repoll_releases_the_write_lock() {
    finishes("rwlock", || {
        let lock = Arc::new(RwLock::new(0));
        let writer = lock.try_write_owned().unwrap();
        let mut read = Box::pin(lock.read());
        assert!(poll(read.as_mut(), &hook_waker(move || drop(writer))).is_pending());
        assert_eq!(*repoll(read.as_mut()), 0);
    });
}

#[test]
fn rwlock_waker_consumed_by_a_notification_queues_again() {
    finishes("rwlock", || {
        let lock = Arc::new(RwLock::new(0));
        let writer = lock.try_write().unwrap();
        let lock2 = lock.clone();
        let mut first = Box::pin(lock.read());
        let mut second = Box::pin(lock.read());
        let mut third = Box::pin(lock.read_owned());
        assert!(poll(third.as_mut(), &noop()).is_pending());
        let hook = move || {
            // Another queued reader goes away, a new writer announces itself, and a new
            // reader queues behind it.
            drop(third);
            let mut write = Box::pin(lock2.write());
            let _ = poll(write.as_mut(), &noop());
            poke(lock2.read());
        };
        assert!(poll(first.as_mut(), &hook_waker(hook)).is_pending());
        assert!(poll(second.as_mut(), &noop()).is_pending());
        drop(writer);
        assert!(poll(first.as_mut(), &noop()).is_ready());
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

#[test]
fn event_waker_dropped_on_repoll_sets_the_event() {
    finishes("event", || {
        let event = Arc::new(Event::new());
        let event2 = event.clone();
        let mut wait = Box::pin(event.wait());
        assert!(poll(wait.as_mut(), &hook_waker(move || event2.set())).is_pending());
        repoll(wait.as_mut());
    });
}

#[test]
fn event_waker_consumed_by_a_notification_waits_again() {
    finishes("event", || {
        let event = Arc::new(Event::new());
        let event2 = event.clone();
        let mut first = Box::pin(event.wait());
        let mut second = Box::pin(event.wait());
        let hook = move || {
            event2.clear();
            poke(event2.wait());
        };
        assert!(poll(first.as_mut(), &hook_waker(hook)).is_pending());
        assert!(poll(second.as_mut(), &noop()).is_pending());
        event.set();
        assert!(poll(first.as_mut(), &noop()).is_ready());
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

#[test]
fn condvar_waker_dropped_on_repoll_notifies() {
    finishes("condvar", || {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let pair2 = pair.clone();
        let mut wait = Box::pin(pair.1.wait(pair.0.try_lock().unwrap()));
        assert!(poll(wait.as_mut(), &hook_waker(move || pair2.1.notify_one())).is_pending());
        drop(repoll(wait.as_mut()));
    });
}

#[test]
fn condvar_waker_consumed_by_a_notification_notifies_again() {
    finishes("condvar", || {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let pair2 = pair.clone();
        let mut first = Box::pin(pair.1.wait(pair.0.try_lock().unwrap()));
        assert!(poll(first.as_mut(), &hook_waker(move || pair2.1.notify_one())).is_pending());
        let mut second = Box::pin(pair.1.wait(pair.0.try_lock().unwrap()));
        assert!(poll(second.as_mut(), &noop()).is_pending());
        pair.1.notify_one();
        drop(poll(first.as_mut(), &noop()));
        drop(first);
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

#[test]
fn barrier_waker_dropped_on_repoll_aborts() {
    finishes("barrier", || {
        let barrier = Arc::new(Barrier::new(2));
        let barrier2 = barrier.clone();
        let mut wait = Box::pin(barrier.wait());
        assert!(poll(wait.as_mut(), &hook_waker(move || barrier2.abort())).is_pending());
        assert!(repoll(wait.as_mut()).is_err(), "the barrier was broken");
    });
}

#[test]
fn barrier_waker_consumed_by_a_notification_waits_again() {
    finishes("barrier", || {
        let barrier = Arc::new(Barrier::new(3));
        let barrier2 = barrier.clone();
        let mut first = Box::pin(barrier.wait());
        let mut second = Box::pin(barrier.wait());
        assert!(poll(first.as_mut(), &hook_waker(move || poke(barrier2.wait()))).is_pending());
        assert!(poll(second.as_mut(), &noop()).is_pending());
        let mut third = Box::pin(barrier.wait());
        assert!(
            poll(third.as_mut(), &noop()).is_ready(),
            "the third party trips"
        );
        assert!(poll(first.as_mut(), &noop()).is_ready());
        assert!(poll(second.as_mut(), &noop()).is_ready());
    });
}

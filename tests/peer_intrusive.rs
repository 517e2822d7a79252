//! The behaviours futures-intrusive's and maitake-sync's test suites check, restated against
//! unisync's API.
//!
//! Sources: futures-intrusive `tests/mutex.rs`, `tests/semaphore.rs` and
//! `tests/manual_reset_event.rs` (`ManualResetEvent` maps onto `Event`, `reset` onto `clear`,
//! `release(n)` onto `add_permits(n)`, `disarm` onto `forget`); maitake-sync `src/mutex/tests.rs`,
//! `src/rwlock/tests/sequential.rs`, `src/semaphore/tests/alloc_tests.rs`,
//! `src/wait_queue/tests/{alloc_tests,loom}.rs` and the tests in `src/wait_cell.rs`, with the
//! loom models of the mutex, rwlock and semaphore taken from maitake's `src/sync/` (where they
//! lived before the split). `WaitQueue::wake_all` maps onto an `Event` that is set (and cleared
//! again for a one-off pulse) or onto `Condvar::notify_all`; `WaitQueue::wake` and
//! `WaitCell::wake` onto `Condvar::notify_one`. Loom models become repeated runs on real threads.
//!
//! futures-intrusive checks a "fair" and an "unfair" mutex and semaphore; unisync has one policy
//! for each (a barging mutex that hands the lock to a waiter overtaken once; a strictly FIFO
//! semaphore that hands permits to waiters), so each check is made against the variant that
//! policy documents. Left out: `WaitMap` (keyed waits), `subscribe` (waiting registered before a
//! poll), `WaitQueue::close`, and whatever relies on a `wake` with nobody waiting being stored
//! for a later waiter (a `Condvar` notification with nobody waiting is lost, as documented).
//! No assertion depends on wall-clock time.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::convert::identity;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, no_deadlock, on_threads, pending_until_released, poll_once,
    ready_while_held, spawn, Counter,
};
use futures::executor::block_on;
use futures::future::FusedFuture;
use unisync::{Condvar, Event, Mutex, RwLock, Semaphore};

/// How many times each former loom model is run on real threads.
const RUNS: usize = 200;

fn is_send<T: Send>(_: &T) {}
fn is_sync<T: Sync>(_: &T) {}

/// Polls `fut` with `counter`'s waker and checks that it is pending and not terminated.
#[track_caller]
fn pending<F: FusedFuture + Unpin>(counter: &Counter, fut: &mut F) {
    assert_pending!(counter, *fut);
    assert!(!fut.is_terminated());
}

/// Pins `fut` and checks that its first poll is [`pending`]; returns it.
#[track_caller]
fn queued<F: FusedFuture>(counter: &Counter, fut: F) -> Pin<Box<F>> {
    let mut fut = Box::pin(fut);
    pending(counter, &mut fut);
    fut
}

/// Polls `fut` with `counter`'s waker, checks that it is ready and then terminated, and returns
/// its output.
#[track_caller]
fn completes<F: FusedFuture + Unpin>(counter: &Counter, fut: &mut F) -> F::Output {
    let out = assert_ready!(counter, *fut);
    assert!(fut.is_terminated());
    out
}

/// Checks that polling `fut` again after it completed panics: it is ready on its first poll,
/// `check` looks at its output (whatever `check` returns stays alive), it is terminated, and the
/// next poll panics.
fn poll_after_completion<F: FusedFuture, T>(fut: F, check: impl FnOnce(F::Output) -> T) {
    let mut fut = Box::pin(fut);
    let _out = check(assert_ready!(fut));
    assert!(fut.is_terminated());
    let _ = poll_once(&mut fut);
}

/// How a check by [`two_waits_behind`] goes on once both waits are queued.
enum Then {
    /// The first wait is cancelled before the release, and gets no wake-up: the release's one
    /// wake-up goes to the second.
    FirstCancelled,
    /// The first wait is woken by the release and dropped without using its wake-up, which
    /// passes to the second.
    WokenDropped,
    /// The first wait, woken by the release, completes before the second (queued before the
    /// release, or polled first after it) can take what was released; the second stays pending
    /// until the first's output is dropped, which wakes it.
    WokenGoesFirst { second_queued: bool },
}

/// Checks what happens to two waits (`wait`) behind `held` (the mutex, or permits, taken at
/// once): the first is polled and pending, and so is the second unless [`Then::WokenGoesFirst`]
/// says it is not queued; nobody is woken. Dropping `held` releases the primitive, as `then`
/// describes, and in the end the second wait completes (its output unwrapped by `taken`).
fn two_waits_behind<H, F: FusedFuture, T>(
    held: H,
    wait: impl Fn() -> F,
    taken: impl Fn(F::Output) -> T,
    then: Then,
) {
    let counter = Counter::new();
    let mut fut2 = Box::pin(wait());
    let mut fut3 = Box::pin(wait());
    pending(&counter, &mut fut2);
    let queue_second = match then {
        Then::WokenGoesFirst { second_queued } => second_queued,
        Then::FirstCancelled | Then::WokenDropped => true,
    };
    if queue_second {
        pending(&counter, &mut fut3);
    }
    assert_eq!(counter.count(), 0);

    match then {
        Then::FirstCancelled => {
            drop(fut2);
            drop(held);
            assert_eq!(counter.count(), 1);
        }
        Then::WokenDropped => {
            drop(held);
            assert_eq!(counter.count(), 1);
            drop(fut2);
            assert_eq!(counter.count(), 2);
        }
        Then::WokenGoesFirst { .. } => {
            drop(held);
            assert_eq!(counter.count(), 1);
            assert_pending!(counter, fut3);
            drop(taken(assert_ready!(counter, fut2)));
            assert_eq!(counter.count(), 2);
        }
    }
    let _out3 = taken(assert_ready!(counter, fut3));
}

/// Runs [`two_waits_behind`] on a mutex: the waits are locks.
fn two_locks_behind(then: Then) {
    let mtx = Mutex::new(5);
    two_waits_behind(mtx.try_lock().unwrap(), || mtx.lock(), identity, then);
}

/// Runs [`two_waits_behind`] on a semaphore of `permits`, all held: the waits acquire `n`
/// permits each (with `acquire` for one).
fn two_acquires_behind(permits: usize, n: usize, then: Then) {
    let sem = Semaphore::new(permits);
    let held = sem.try_acquire_many(permits).unwrap();
    let wait = || {
        if n == 1 {
            sem.acquire()
        } else {
            sem.acquire_many(n)
        }
    };
    two_waits_behind(held, wait, Result::unwrap, then);
}

/// Checks that a wait polled with two wakers in turn wakes only the last one: `fut` is pending
/// for both, `release` wakes the second only, and `fut` then completes; returns its output.
fn wakes_only_the_latest_waker<F: FusedFuture>(fut: F, release: impl FnOnce()) -> F::Output {
    let (first, second) = (Counter::new(), Counter::new());
    let mut fut = Box::pin(fut);
    assert_pending!(first, fut);
    assert_pending!(second, fut);

    release();
    assert_eq!(first.count(), 0);
    assert_eq!(second.count(), 1);
    completes(&second, &mut fut)
}

/// Checks that `primitive` is Sync and Send and that the future `make` builds from it is Send,
/// before and after pinning; returns the pinned future.
fn send_future<'a, P: Send + Sync, F: Future + Send>(
    primitive: &'a P,
    make: impl FnOnce(&'a P) -> F,
) -> Pin<Box<F>> {
    is_sync(primitive);
    is_send(primitive);
    let fut = make(primitive);
    is_send(&fut);
    let fut = Box::pin(fut);
    is_send(&fut);
    fut
}

// =============================================================================================
// Mutex (futures-intrusive tests/mutex.rs)
// =============================================================================================

// A free mutex locks on the first poll without waking anybody; the guard reads and writes the
// value, the future is terminated, and dropping the guard unlocks for the next locker.
#[test]
fn fi_mutex_uncontended_lock() {
    let counter = Counter::new();
    let mtx = Mutex::new(5);
    assert!(!mtx.is_locked());
    {
        let mut fut = Box::pin(mtx.lock());
        assert!(!fut.is_terminated());
        let mut guard = completes(&counter, &mut fut);
        assert!(mtx.is_locked());
        assert_eq!(*guard, 5);
        *guard += 7;
        assert_eq!(*guard, 12);
    }
    assert!(!mtx.is_locked());
    {
        let guard = assert_ready!(counter, Box::pin(mtx.lock()));
        assert!(mtx.is_locked());
        assert_eq!(*guard, 12);
    }
    assert!(!mtx.is_locked());
    assert_eq!(counter.count(), 0);
}

// Polling a lock future again after it completed panics.
#[test]
#[should_panic(expected = "polled after it completed")]
fn fi_mutex_poll_after_completion_panics() {
    let mtx = Mutex::new(5);
    poll_after_completion(mtx.lock(), |guard| {
        assert_eq!(*guard, 5);
        guard
    });
}

// Two queued lockers are woken one per unlock, in order, each seeing the previous holder's
// writes; no wake-up is sent while nobody waits.
#[test]
fn fi_mutex_contended_lock_wakes_one_per_unlock() {
    let counter = Counter::new();
    let mtx = Mutex::new(5);
    let mut guard1 = assert_ready!(counter, Box::pin(mtx.lock()));
    *guard1 = 27;
    let mut fut2 = queued(&counter, mtx.lock());
    let mut fut3 = queued(&counter, mtx.lock());
    assert_eq!(counter.count(), 0);

    drop(guard1);
    assert_eq!(counter.count(), 1);
    let mut guard2 = completes(&counter, &mut fut2);
    assert_eq!(*guard2, 27);
    *guard2 = 72;
    pending(&counter, &mut fut3);
    assert_eq!(counter.count(), 1);

    drop(guard2);
    assert_eq!(counter.count(), 2);
    let guard3 = completes(&counter, &mut fut3);
    assert_eq!(*guard3, 72);
    drop(guard3);
    assert_eq!(counter.count(), 2);
}

// try_lock fails while held; once the holder unlocks and the woken waiter is cancelled,
// try_lock succeeds and sees the value written before.
#[test]
fn fi_mutex_try_lock_after_woken_waiter_is_cancelled() {
    let counter = Counter::new();
    let mtx = Mutex::new(5);
    let mut guard1 = assert_ready!(counter, Box::pin(mtx.lock()));
    *guard1 = 7;
    assert!(mtx.is_locked());
    assert!(mtx.try_lock().is_none());

    let fut2 = queued(&counter, mtx.lock());
    assert_eq!(counter.count(), 0);

    drop(guard1);
    assert!(!mtx.is_locked());
    drop(fut2);

    let guard = mtx.try_lock().unwrap();
    assert!(mtx.is_locked());
    assert_eq!(*guard, 7);
}

common::table_tests! {
    // A queued locker cancelled before the unlock gets no wake-up: the unlock wakes the next
    // one, which then locks.
    fi_mutex_cancelled_waiter_is_skipped => two_locks_behind(Then::FirstCancelled);
    // A woken locker dropped without using its wake-up passes it to the next waiter.
    fi_mutex_unused_wakeup_goes_to_next_waiter => two_locks_behind(Then::WokenDropped);
}

// A locker that was not queued may take the lock between an unlock and the woken waiter's
// poll (barging); the overtaken waiter stays pending and is woken, and locks, at the next
// unlock.
#[test]
fn fi_mutex_new_locker_may_overtake_woken_waiter() {
    let counter = Counter::new();
    let mtx = Mutex::new(5);
    let guard1 = mtx.try_lock().unwrap();
    let mut fut2 = Box::pin(mtx.lock());
    let mut fut3 = Box::pin(mtx.lock());
    assert_pending!(counter, fut2);

    drop(guard1);
    assert_eq!(counter.count(), 1);
    let guard3 = assert_ready!(counter, fut3);
    assert_pending!(counter, fut2);

    drop(guard3);
    assert_eq!(counter.count(), 2);
    let _guard2 = assert_ready!(counter, fut2);
}

common::table_tests! {
    // A locker queued behind the woken one cannot take the lock by polling again: the woken one
    // locks first, and its unlock wakes the other, which then locks.
    fi_mutex_queued_waiter_cannot_overtake_woken_one =>
        two_locks_behind(Then::WokenGoesFirst { second_queued: true });
}

// A lock future polled with two wakers in turn wakes only the last one at the unlock.
#[test]
fn fi_mutex_wakes_only_the_latest_waker() {
    let mtx = Mutex::new(5);
    let guard1 = mtx.try_lock().unwrap();
    let _guard = wakes_only_the_latest_waker(mtx.lock(), || drop(guard1));
}

// The mutex is Sync, and its lock future (before and after pinning) and guard are Send.
#[test]
fn fi_mutex_futures_are_send() {
    let mtx = Mutex::new(true);
    let mut fut = send_future(&mtx, Mutex::lock);
    is_send(&assert_ready!(fut));
}

// =============================================================================================
// Semaphore (futures-intrusive tests/semaphore.rs)
// =============================================================================================

// Free permits are taken on the first poll without waking anybody and come back when the
// permit is dropped, for one permit and for all of them.
#[test]
fn fi_sem_uncontended_acquire() {
    let counter = Counter::new();
    let sem = Semaphore::new(2);
    assert_eq!(sem.available_permits(), 2);
    let permit = completes(&counter, &mut Box::pin(sem.acquire_many(1))).unwrap();
    assert_eq!(sem.available_permits(), 1);
    drop(permit);
    assert_eq!(sem.available_permits(), 2);
    {
        let _permit = completes(&counter, &mut Box::pin(sem.acquire_many(2))).unwrap();
        assert_eq!(sem.available_permits(), 0);
    }
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(counter.count(), 0);
}

// Forgotten permits are not returned, and add_permits puts them back.
#[test]
fn fi_sem_forget_then_add_permits() {
    let sem = Semaphore::new(2);
    for left in [1, 0] {
        let mut fut = Box::pin(sem.acquire_many(1));
        let permit = assert_ready!(fut).unwrap();
        assert!(fut.is_terminated());
        assert_eq!(sem.available_permits(), left);
        permit.forget();
        assert_eq!(sem.available_permits(), left);
    }
    sem.add_permits(2);
    assert_eq!(sem.available_permits(), 2);
}

// Polling an acquire future again after it completed panics.
#[test]
#[should_panic(expected = "polled after it completed")]
fn fi_sem_poll_after_completion_panics() {
    let sem = Semaphore::new(2);
    poll_after_completion(sem.acquire_many(2), Result::unwrap);
}

// Queued acquires of 1, 2 and 2 out of 3: returned permits wake exactly the waiters they
// satisfy, in order, and a waiter that has only part of what it asked for stays pending.
#[test]
fn fi_sem_contended_acquire_many() {
    let counter = Counter::new();
    let sem = Semaphore::new(3);
    let permit1 = assert_ready!(counter, Box::pin(sem.acquire_many(3))).unwrap();
    let mut fut2 = queued(&counter, sem.acquire_many(1));
    let mut fut3 = queued(&counter, sem.acquire_many(2));
    let mut fut4 = queued(&counter, sem.acquire_many(2));
    assert_eq!(counter.count(), 0);
    assert_eq!(sem.available_permits(), 0);

    // The 3 permits are handed to fut2 (1) and fut3 (2), both woken.
    drop(permit1);
    assert_eq!(counter.count(), 2);
    let permit2 = completes(&counter, &mut fut2).unwrap();
    let permit3 = completes(&counter, &mut fut3).unwrap();
    assert_eq!(sem.available_permits(), 0);
    pending(&counter, &mut fut4);

    // One permit is not enough for fut4.
    drop(permit2);
    assert_eq!(counter.count(), 2);
    pending(&counter, &mut fut4);

    drop(permit3);
    assert_eq!(counter.count(), 3);
    drop(completes(&counter, &mut fut4).unwrap());
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(counter.count(), 3);
}

// try_acquire cannot take the permit a released holder owed a queued waiter; once that
// waiter is cancelled its permit is free again, and forgotten permits come back with
// add_permits.
#[test]
fn fi_sem_try_acquire_respects_queued_waiter() {
    let counter = Counter::new();
    let sem = Semaphore::new(3);
    let permit1 = assert_ready!(counter, Box::pin(sem.acquire_many(3))).unwrap();
    assert!(sem.try_acquire_many(1).is_err());

    let fut2 = queued(&counter, sem.acquire_many(1));
    assert_eq!(counter.count(), 0);

    drop(permit1);
    assert!(
        sem.try_acquire_many(3).is_err(),
        "took the woken waiter's permit"
    );
    drop(fut2);
    assert_eq!(sem.available_permits(), 3);

    let permit = sem.try_acquire_many(1).unwrap();
    assert_eq!(sem.available_permits(), 2);
    let permit2 = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.available_permits(), 0);
    permit2.forget();
    sem.add_permits(2);
    drop(permit);
    assert_eq!(sem.available_permits(), 3);
}

// acquire_many(0) completes at once with no permit free and nobody waiting, and its permit
// returns nothing.
#[test]
fn fi_sem_acquire_zero_without_waiters() {
    let sem = Semaphore::new(3);
    let permit1 = sem.try_acquire_many(3).unwrap();
    assert_eq!(sem.available_permits(), 0);
    let mut fut = Box::pin(sem.acquire_many(0));
    let permit0 = assert_ready!(fut).unwrap();
    drop(permit0);
    assert_eq!(sem.available_permits(), 0);
    drop(permit1);
    assert_eq!(sem.available_permits(), 3);
}

// acquire_many(0) completes at once even while another acquire waits, and the waiter is
// served when permits come back.
#[test]
fn fi_sem_acquire_zero_with_waiters() {
    let counter = Counter::new();
    let sem = Semaphore::new(3);
    let permit1 = sem.try_acquire_many(3).unwrap();
    let mut fut2 = queued(&counter, sem.acquire_many(1));

    let mut fut3 = Box::pin(sem.acquire_many(0));
    let permit3 = assert_ready!(counter, fut3).unwrap();
    drop(permit3);
    assert_eq!(sem.available_permits(), 0);

    drop(permit1);
    let permit2 = assert_ready!(counter, fut2).unwrap();
    assert_eq!(sem.available_permits(), 2);
    drop(permit2);
    assert_eq!(sem.available_permits(), 3);
}

common::table_tests! {
    // An acquire cancelled before permits return gets no wake-up; the next waiter is woken and
    // acquires.
    fi_sem_cancelled_waiter_is_skipped => two_acquires_behind(5, 1, Then::FirstCancelled);
    // A woken acquire dropped without using its permit passes it (and a wake-up) to the next
    // waiter.
    fi_sem_unused_wakeup_goes_to_next_waiter => two_acquires_behind(1, 1, Then::WokenDropped);
    // An acquire that was not queued cannot take the permits released for a woken waiter; the
    // woken one acquires, and its release wakes the other, which then acquires.
    fi_sem_new_acquire_cannot_overtake_woken_waiter =>
        two_acquires_behind(3, 3, Then::WokenGoesFirst { second_queued: false });
    // A queued acquire cannot take the permits released for the waiter ahead of it by polling
    // again; the first acquires, and its release wakes the second, which then acquires.
    fi_sem_queued_acquire_cannot_overtake_woken_one =>
        two_acquires_behind(3, 3, Then::WokenGoesFirst { second_queued: true });
}

// An acquire polled with two wakers in turn wakes only the last one when a permit returns.
#[test]
fn fi_sem_wakes_only_the_latest_waker() {
    let sem = Semaphore::new(3);
    let permit = sem.try_acquire_many(3).unwrap();
    assert!(wakes_only_the_latest_waker(sem.acquire(), || drop(permit)).is_ok());
}

// The semaphore is Sync, and its acquire future (before and after pinning) and permit are
// Send.
#[test]
fn fi_sem_futures_are_send() {
    let sem = Semaphore::new(3);
    let mut fut = send_future(&sem, |sem| sem.acquire_many(3));
    is_send(&assert_ready!(fut).unwrap());
}

// =============================================================================================
// Event (futures-intrusive tests/manual_reset_event.rs)
// =============================================================================================

// set and clear change is_set.
#[test]
fn fi_event_set_and_clear() {
    let event = Event::new();
    assert!(!event.is_set());
    event.set();
    assert!(event.is_set());
    event.clear();
    assert!(!event.is_set());
}

// A wait on a set event is not terminated before its first poll, completes on it without a
// wake-up, and is terminated after.
#[test]
fn fi_event_set_event_is_ready_at_once() {
    let counter = Counter::new();
    let event = Event::new();
    event.set();
    assert!(event.is_set());
    let mut wait = Box::pin(event.wait());
    assert!(!wait.is_terminated());
    completes(&counter, &mut wait);
    assert_eq!(counter.count(), 0);
}

// Waits cancelled between other waits are not woken by set; the remaining ones, polled again
// in between without a wake-up, each get one wake-up and complete.
#[test]
fn fi_event_cancel_mid_queue() {
    let counter = Counter::new();
    let event = Event::new();
    let mut waits: Vec<_> = (0..5).map(|_| Box::pin(event.wait())).collect();
    for wait in &mut waits {
        pending(&counter, wait);
    }
    // Cancel the 2nd and the 4th.
    drop(waits.remove(3));
    drop(waits.remove(1));
    for wait in &mut waits {
        assert_pending!(counter, *wait);
    }
    assert_eq!(counter.count(), 0);

    event.set();
    for wait in &mut waits {
        completes(&counter, wait);
    }
    assert_eq!(counter.count(), 3);
}

// Waits cancelled at the end of the queue before more waits queue are not woken by set;
// the others all are.
#[test]
fn fi_event_cancel_at_queue_end() {
    let counter = Counter::new();
    let event = Event::new();
    let mut waits: Vec<_> = (0..4).map(|_| Box::pin(event.wait())).collect();
    assert_pending!(counter, waits[0]);
    assert_pending!(counter, waits[1]);
    {
        let mut wait5 = Box::pin(event.wait());
        let mut wait6 = Box::pin(event.wait());
        assert_pending!(counter, wait5);
        assert_pending!(counter, wait6);
    }
    assert_pending!(counter, waits[2]);
    assert_pending!(counter, waits[3]);

    event.set();
    for wait in &mut waits {
        assert_ready!(counter, *wait);
    }
    assert_eq!(counter.count(), 4);
}

// A wait polled with two wakers in turn wakes only the last one at set.
#[test]
fn fi_event_wakes_only_the_latest_waker() {
    let event = Event::new();
    wakes_only_the_latest_waker(event.wait(), || {
        event.set();
        assert!(event.is_set());
    });
}

// The event is Sync and its wait future (before and after pinning) is Send.
#[test]
fn fi_event_futures_are_send() {
    let event = Event::new();
    drop(send_future(&event, Event::wait));
}

// Threads blocked (through an executor) on an event return only after it is set.
#[test]
fn fi_event_threads_wait_for_set() {
    let event = Event::new();
    let released = AtomicBool::new(false);
    on_threads(
        3,
        || {
            block_on(event.wait());
            assert!(released.load(SeqCst), "a wait returned before set");
        },
        || {
            thread::sleep(Duration::from_millis(20));
            released.store(true, SeqCst);
            event.set();
        },
    );
}

// =============================================================================================
// Mutex (maitake-sync src/mutex/tests.rs, maitake src/sync/mutex/tests/loom.rs)
// =============================================================================================

// Locks taken one after another each see the previous holder's write.
#[test]
fn mk_mutex_basic_single_threaded() {
    let lock = Mutex::new(1);
    for expected in 1..4 {
        block_on(async {
            let mut guard = lock.lock().await;
            assert_eq!(*guard, expected);
            *guard = expected + 1;
        });
    }
    assert_eq!(lock.into_inner(), 4);
}

// Two threads incrementing under the lock both count.
#[test]
fn mk_mutex_basic_multi_threaded() {
    for _ in 0..RUNS {
        let lock = Mutex::new(0);
        let incr = || block_on(async { *lock.lock().await += 1 });
        on_threads(2, incr, || {});
        assert_eq!(*block_on(lock.lock()), 2);
    }
}

// lock and lock_owned return futures (checked at compile time).
#[test]
fn mk_mutex_lock_futures_are_futures() {
    fn assert_future<F: std::future::Future>(_: F) {}
    let mutex = Arc::new(Mutex::new(()));
    assert_future(mutex.lock());
    assert_future(mutex.lock_owned());
}

// =============================================================================================
// RwLock (maitake-sync src/rwlock/tests.rs and tests/sequential.rs, maitake src/sync/rwlock/loom.rs)
// =============================================================================================

// The lock and its read and write guards are Send and Sync.
#[test]
fn mk_rwlock_and_guards_are_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RwLock<usize>>();
    assert_send_sync::<unisync::RwLockReadGuard<'_, usize>>();
    assert_send_sync::<unisync::RwLockWriteGuard<'_, usize>>();
}

/// Whether, on a new `RwLock`, the `$second` access is ready at once while a `$first` guard is
/// held (see [`ready_while_held`]).
macro_rules! ready_beside {
    ($first:ident, $second:ident) => {{
        let lock = RwLock::new(100);
        ready_while_held(lock.$first(), lock.$second())
    }};
}

common::table_tests! {
    // Two readers hold the lock together.
    mk_rwlock_read_shared => assert!(ready_beside!(read, read));
    // A writer waits while a reader holds the lock.
    mk_rwlock_write_waits_for_reader => assert!(!ready_beside!(read, write));
    // A reader waits while a writer holds the lock.
    mk_rwlock_read_waits_for_writer => assert!(!ready_beside!(write, read));
    // A writer waits while another writer holds the lock.
    mk_rwlock_write_waits_for_writer => assert!(!ready_beside!(write, write));
}

// A writer waiting for a reader is woken when the reader leaves, and writes.
#[test]
fn mk_rwlock_write_after_reader_leaves() {
    let lock = RwLock::new(100);
    let reader = spawn(lock.read()).assert_ready();
    let _writer = pending_until_released(Box::pin(lock.write()), || drop(reader));
}

common::table_tests! {
    // Once a writer waits for the readers inside, a new reader waits too.
    mk_rwlock_waiting_writer_holds_off_new_readers =>
        common::reads_queue_behind_a_waiting_write(2, false);
    // A reader held off by a waiting writer is woken, and reads, when that writer is cancelled.
    mk_rwlock_cancelled_writer_lets_readers_in =>
        common::reads_queue_behind_a_waiting_write(1, true);
}

/// One writer thread's work in the rwlock models: add one under the write lock.
fn increment(lock: &RwLock<usize>) {
    block_on(async { *lock.write().await += 1 });
}

// Two writer threads both count.
#[test]
fn mk_rwlock_two_writers() {
    for _ in 0..RUNS {
        let lock = RwLock::new(0);
        on_threads(2, || increment(&lock), || {});
        assert_eq!(*block_on(lock.read()), 2);
    }
}

// A reader racing two writers sees 0, 1 or 2, and both writes count in the end.
#[test]
fn mk_rwlock_reader_races_writers() {
    for _ in 0..RUNS {
        let lock = RwLock::new(0);
        on_threads(
            2,
            || increment(&lock),
            || {
                let seen = *block_on(lock.read());
                assert!(seen <= 2, "read {seen}");
            },
        );
        assert_eq!(*block_on(lock.read()), 2);
    }
}

// =============================================================================================
// Semaphore (maitake-sync src/semaphore/tests*.rs, maitake src/sync/semaphore/tests/loom.rs)
// =============================================================================================

// The semaphore, its futures and its permits (borrowed and owned) are Send and Sync.
#[test]
fn mk_sem_types_are_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Semaphore>();
    assert_send_sync::<unisync::SemaphorePermit<'_>>();
    assert_send_sync::<unisync::OwnedSemaphorePermit>();
    assert_send_sync::<unisync::futures::Acquire<'_>>();
    assert_send_sync::<unisync::futures::AcquireOwned>();
}

// Eight tasks share four permits: never more than four run at once, and all finish.
#[tokio::test]
async fn mk_sem_basic_concurrency_limit() {
    const TASKS: usize = 8;
    const LIMIT: usize = 4;
    let sem = Arc::new(Semaphore::new(LIMIT));
    let running = Arc::new(AtomicUsize::new(0));
    let completed = Arc::new(AtomicUsize::new(0));
    for _ in 0..TASKS {
        let (sem, running, completed) = (sem.clone(), running.clone(), completed.clone());
        tokio::spawn(async move {
            let permit = sem.acquire().await.unwrap();
            assert!(running.fetch_add(1, SeqCst) < LIMIT);
            tokio::task::yield_now().await;
            // Leave before the permit goes, so the next holder never sees this one counted.
            assert!(running.fetch_sub(1, SeqCst) <= LIMIT);
            drop(permit);
            completed.fetch_add(1, SeqCst);
        });
    }
    while completed.load(SeqCst) < TASKS {
        assert!(running.load(SeqCst) <= LIMIT);
        tokio::task::yield_now().await;
    }
}

// acquire_many(4) on an empty semaphore completes only once four tasks have each added one
// permit.
#[tokio::test]
async fn mk_sem_countdown() {
    const TASKS: usize = 4;
    let sem = Arc::new(Semaphore::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let waiter = tokio::spawn({
        let (sem, done) = (sem.clone(), done.clone());
        async move {
            let _permits = sem.acquire_many(TASKS).await.unwrap();
            assert_eq!(done.load(SeqCst), TASKS);
        }
    });
    for _ in 0..TASKS {
        let (sem, done) = (sem.clone(), done.clone());
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            done.fetch_add(1, SeqCst);
            sem.add_permits(1);
        });
    }
    waiter.await.unwrap();
    assert_eq!(done.load(SeqCst), TASKS);
}

common::table_tests! {
    // Three threads share two permits: never more than two hold one at once.
    mk_sem_basically_works => common::sem_holders_never_exceed_permits(RUNS, 1);
    // A permit dropped on one thread lets another thread's acquire complete.
    mk_sem_release_on_drop => common::sem_permit_passes_between_threads(RUNS);
    // Threads acquiring twice all finish when the semaphore is closed meanwhile.
    mk_sem_close => common::sem_close_ends_acquiring_threads(RUNS);
    // Three threads that each acquire, release and close all finish.
    mk_sem_concurrent_close => common::sem_acquire_release_close_on_threads(RUNS);
    // Acquires polled once and then cancelled, on three threads racing add_permits, lose no
    // permits.
    mk_sem_concurrent_cancel => common::sem_cancelled_acquires_lose_no_permits(RUNS);
}

// An acquire of 2 waiting while 3 of 4 permits are held completes once they are dropped,
// leaving 2 free, and all 4 are back after.
#[test]
fn mk_sem_drop_permits_while_acquiring() {
    for _ in 0..RUNS {
        let sem = Semaphore::new(4);
        let permit1 = sem.try_acquire_many(3).unwrap();
        on_threads(
            1,
            || {
                let _permits = block_on(sem.acquire_many(2)).unwrap();
                assert_eq!(sem.available_permits(), 2);
            },
            || drop(permit1),
        );
        assert_eq!(sem.available_permits(), 4);
    }
}

// =============================================================================================
// WaitQueue (maitake-sync src/wait_queue/tests/alloc_tests.rs and tests/loom.rs)
// =============================================================================================

const TASKS: usize = 10;

/// Locks `mutex`, waits on `cv` once, and unlocks.
async fn wait_notified(mutex: &Mutex<()>, cv: &Condvar) {
    let guard = mutex.lock().await;
    drop(cv.wait(guard).await);
}

/// Spawns `TASKS` tasks that each run the future `wait` makes and then count themselves
/// complete; checks that each is pending and none complete until `release` runs, and that then
/// every one is woken and completes.
fn every_task_completes_after<F: Future>(wait: impl Fn() -> F, release: impl FnOnce()) {
    let completed = AtomicUsize::new(0);
    let mut tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let wait = wait();
            spawn(async {
                wait.await;
                completed.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for task in &mut tasks {
        task.assert_pending();
    }
    assert_eq!(completed.load(SeqCst), 0);

    release();
    for task in &mut tasks {
        assert!(task.is_woken());
        task.assert_ready();
    }
    assert_eq!(completed.load(SeqCst), TASKS);
}

// One set-and-clear pulse of an event wakes and completes every task waiting on it.
#[test]
fn mk_queue_wake_all_as_event_pulse() {
    let event = Event::new();
    every_task_completes_after(
        || event.wait(),
        || {
            event.set();
            event.clear();
        },
    );
}

// notify_all wakes and completes every task waiting on the condvar.
#[test]
fn mk_queue_wake_all_as_notify_all() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    every_task_completes_after(|| wait_notified(&mutex, &cv), || cv.notify_all());
}

// One notify_one starts a chain: each woken task completes and notifies the next, until all
// have completed.
#[test]
fn mk_queue_wake_one_chain() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    let wait_then_notify = || async {
        wait_notified(&mutex, &cv).await;
        cv.notify_one();
    };
    every_task_completes_after(wait_then_notify, || cv.notify_one());
}

// notify_one wakes the one waiting task, which then completes.
#[test]
fn mk_queue_wake_one_waiter() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    pending_until_released(Box::pin(wait_notified(&mutex, &cv)), || cv.notify_one());
}

// A thread waiting on the condvar for a flag is woken by another thread's notify_one.
#[cfg(feature = "std")]
#[test]
fn mk_queue_wake_one_thread() {
    no_deadlock(|| {
        for _ in 0..RUNS {
            let shared = Arc::new((Mutex::new(false), Condvar::new()));
            let waiter = {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (flag, cv) = &*shared;
                    block_on(async { drop(cv.wait_while(flag.lock().await, |f| !*f).await) });
                })
            };
            let (flag, cv) = &*shared;
            *flag.lock_blocking() = true;
            cv.notify_one();
            waiter.join().unwrap();
        }
    });
}

// Waits made before another thread sets the event complete when awaited after it.
#[test]
fn mk_queue_wake_all_sequential() {
    no_deadlock(|| {
        for _ in 0..RUNS {
            let event = Arc::new(Event::new());
            let setter = {
                let event = event.clone();
                thread::spawn(move || event.set())
            };
            let (wait1, wait2) = (event.wait(), event.wait());
            block_on(async {
                wait1.await;
                wait2.await;
            });
            setter.join().unwrap();
        }
    });
}

// Threads blocked on the event all return after one set.
#[test]
fn mk_queue_wake_all_concurrent() {
    no_deadlock(|| {
        for _ in 0..RUNS {
            let event = Event::new();
            on_threads(3, || block_on(event.wait()), || event.set());
        }
    });
}

// Threads that wait twice in a row (one through an executor, one with wait_blocking) all
// finish while another thread pulses the event (set, then clear) until they are done.
#[cfg(feature = "std")]
#[test]
fn mk_queue_wake_all_reregistering() {
    no_deadlock(|| {
        for _ in 0..RUNS {
            let event = Event::new();
            let (started, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
            on_threads(
                2,
                || {
                    if started.fetch_add(1, SeqCst) == 0 {
                        block_on(async {
                            event.wait().await;
                            event.wait().await;
                        });
                    } else {
                        event.wait_blocking();
                        event.wait_blocking();
                    }
                    done.fetch_add(1, SeqCst);
                },
                || {
                    while done.load(SeqCst) < 2 {
                        event.set();
                        event.clear();
                        thread::yield_now();
                    }
                },
            );
        }
    });
}

// Closing wakes every task waiting on the semaphore, and each completes with an error
// (WaitQueue::close mapped onto Semaphore::close).
#[test]
fn mk_queue_close_as_semaphore_close() {
    let sem = Semaphore::new(0);
    let failed_acquire = || async {
        assert!(sem.acquire().await.is_err(), "closing must fail the wait");
    };
    every_task_completes_after(failed_acquire, || sem.close());
}

// A condvar wait woken by notify_one and then dropped passes the notification on to the next
// waiter, which completes.
#[test]
fn mk_queue_dropped_woken_wait_passes_notification() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    let mut first = spawn(wait_notified(&mutex, &cv));
    let mut second = spawn(wait_notified(&mutex, &cv));
    first.assert_pending();
    second.assert_pending();
    cv.notify_one();
    assert!(first.is_woken());
    assert!(!second.is_woken());
    drop(first);
    assert!(second.is_woken());
    second.assert_ready();
}

// =============================================================================================
// WaitCell (maitake-sync src/wait_cell.rs), as a condvar with one waiter
// =============================================================================================

// A wait polled twice without a wake-up stays pending, and is still woken, and completes,
// after notify_one.
#[test]
fn mk_cell_spurious_poll_keeps_registration() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    pending_until_released(Box::pin(wait_notified(&mutex, &cv)), || cv.notify_one());
}

// Two notify_one calls with one waiter complete it; the second is not kept for a later wait,
// which stays pending and unwoken until the next notify_one.
#[test]
fn mk_cell_wake_debounce() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    let mut task = spawn(wait_notified(&mutex, &cv));
    task.assert_pending();
    cv.notify_one();
    cv.notify_one();
    assert!(task.is_woken());
    task.assert_ready();

    let mut task = spawn(wait_notified(&mutex, &cv));
    task.assert_pending();
    assert!(!task.is_woken());
    cv.notify_one();
    assert!(task.is_woken());
    task.assert_ready();
}

// A task waiting twice in a row is woken once per notify_one: after the first it waits again
// without waking itself, and the second completes it.
#[test]
fn mk_cell_second_wait_does_not_self_wake() {
    let (mutex, cv) = (Mutex::new(()), Condvar::new());
    let mut task = spawn(async {
        wait_notified(&mutex, &cv).await;
        wait_notified(&mutex, &cv).await;
    });
    task.assert_pending();
    assert!(!task.is_woken());

    cv.notify_one();
    assert!(task.is_woken());
    task.assert_pending();
    assert!(!task.is_woken());
    task.assert_pending();

    cv.notify_one();
    assert!(task.is_woken());
    task.assert_ready();
}

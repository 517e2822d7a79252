//! The behaviour that CPython's `Lib/test/lock_tests.py` checks for `Event`, `Condition`,
//! `Semaphore`/`BoundedSemaphore` and `Barrier`, restated against unisync's blocking API on
//! plain threads (and, where a check mixes kinds of waiters, tokio tasks).
//!
//! Python's `release()` of a semaphore the caller does not hold is `add_permits` here (a held
//! permit is returned by dropping it), `notify(n)` is `notify_many(n)`, and
//! `wait_for(pred)` is `wait_while(!pred)`. Where Python sleeps to let threads settle, these
//! tests wait for a state they can observe (a counter, `n_waiting`), with a generous deadline
//! that only catches hangs.
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{on_threads, poll_once, takes_both_permits, wait_until, HANG};
use unisync::{
    AcquireTimeoutError, Barrier, BarrierTimeoutError, BarrierWaitResult, Condvar, Event, Mutex,
    Semaphore, TryAcquireError,
};

/// A short timeout, for waits that are meant to run out.
const SHORT: Duration = Duration::from_millis(100);

/// Runs `f` on `n` threads at once (this one included) and joins them, as lock_tests' `Bunch`.
fn run_threads(n: usize, f: impl Fn() + Sync) {
    on_threads(n - 1, &f, &f);
}

/// A barrier wait that panics instead of hanging: `None` if the barrier was broken or reset.
fn barrier_wait(barrier: &Barrier) -> Option<BarrierWaitResult> {
    match barrier.wait_blocking_timeout(HANG) {
        Ok(result) => Some(result),
        Err(BarrierTimeoutError::Broken) => None,
        Err(BarrierTimeoutError::Timeout) => panic!("a barrier party hung"),
    }
}

// ---------------------------------------------------------------------------------------------
// Event (EventTests)
// ---------------------------------------------------------------------------------------------

// is_set follows set and clear, and setting or clearing twice changes nothing.
#[test]
fn event_is_set() {
    let evt = Event::new();
    assert!(!evt.is_set());
    evt.set();
    assert!(evt.is_set());
    evt.set();
    assert!(evt.is_set());
    evt.clear();
    assert!(!evt.is_set());
    evt.clear();
    assert!(!evt.is_set());
}

// set wakes every blocked thread, and later waits pass at once; again after a set and clear.
#[test]
fn event_set_wakes_all_threads() {
    fn check(evt: &Event) {
        const N: usize = 5;
        let started = AtomicUsize::new(0);
        let first = StdMutex::new(Vec::new());
        let second = StdMutex::new(Vec::new());
        thread::scope(|s| {
            for _ in 0..N {
                s.spawn(|| {
                    started.fetch_add(1, Ordering::SeqCst);
                    let r = evt.wait_blocking_timeout(HANG);
                    first.lock().unwrap().push(r);
                    let r = evt.wait_blocking_timeout(HANG);
                    second.lock().unwrap().push(r);
                });
            }
            wait_until("the threads to start", || {
                started.load(Ordering::SeqCst) == N
            });
            thread::sleep(Duration::from_millis(10));
            assert!(
                first.lock().unwrap().is_empty(),
                "a wait passed an unset event"
            );
            evt.set();
        });
        assert_eq!(*first.lock().unwrap(), [true; N]);
        assert_eq!(*second.lock().unwrap(), [true; N]);
    }

    let evt = Event::new();
    check(&evt);
    evt.set();
    evt.clear();
    check(&evt);
}

// On an unset event a zero wait and a timed wait fail, the latter after its full timeout; once
// set, both succeed.
#[test]
fn event_wait_timeout() {
    const N: usize = 5;
    let evt = Event::new();
    let results = StdMutex::new(Vec::new());
    run_threads(N, || {
        let zero = evt.wait_blocking_timeout(Duration::ZERO);
        let start = Instant::now();
        let timed = evt.wait_blocking_timeout(SHORT);
        results.lock().unwrap().push((zero, timed, start.elapsed()));
    });
    for &(zero, timed, elapsed) in results.lock().unwrap().iter() {
        assert!(!zero);
        assert!(!timed);
        assert!(elapsed >= SHORT, "timed out early: {elapsed:?}");
    }

    results.lock().unwrap().clear();
    evt.set();
    run_threads(N, || {
        let zero = evt.wait_blocking_timeout(Duration::ZERO);
        let timed = evt.wait_blocking_timeout(SHORT);
        results.lock().unwrap().push((zero, timed, Duration::ZERO));
    });
    for &(zero, timed, _) in results.lock().unwrap().iter() {
        assert!(zero);
        assert!(timed);
    }
}

// Waits that had started when set ran complete, even though clear runs right after set
// (bpo-13502). Each thread registers its wait with a first poll before the set, so the check
// does not depend on sleeping, then finishes the same wait by blocking.
#[test]
fn event_set_and_clear_wakes_started_waiters() {
    const N: usize = 5;
    let evt = Event::new();
    let registered = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        for _ in 0..N {
            let tx = tx.clone();
            let (evt, registered) = (&evt, &registered);
            s.spawn(move || {
                let mut wait = pin!(evt.wait());
                assert!(poll_once(&mut wait).is_pending());
                registered.fetch_add(1, Ordering::SeqCst);
                futures::executor::block_on(wait);
                tx.send(()).unwrap();
            });
        }
        wait_until("the waits to start", || {
            registered.load(Ordering::SeqCst) == N
        });
        evt.set();
        evt.clear();
        for _ in 0..N {
            rx.recv_timeout(HANG)
                .expect("a wait that had started missed the set");
        }
    });
    assert!(!evt.is_set());
}

// ---------------------------------------------------------------------------------------------
// Condition (ConditionTests)
// ---------------------------------------------------------------------------------------------

/// The state the condition tests share under the unisync mutex.
#[derive(Default)]
struct CondState {
    /// Bumped by the notifier after each notification round.
    phase: u32,
    /// Bumped by a waiter right before it waits (with the mutex held).
    waiting: usize,
}

// notify(3) wakes exactly 3 of 5 waiters, notify(5) the 2 left in their first wait plus the 3
// in their second, notify_all the last 2; each woken wait reports a notification and sees the
// phase the notifier set before unlocking. Run twice on the same pair.
#[test]
fn condition_notify_n_and_notify_all() {
    const N: usize = 5;
    let mutex = Mutex::new(CondState::default());
    let cv = Condvar::new();

    let round = || {
        {
            let mut state = mutex.lock_blocking();
            state.phase = 0;
            state.waiting = 0;
        }
        let first: StdMutex<Vec<(bool, u32)>> = StdMutex::new(Vec::new());
        let second: StdMutex<Vec<(bool, u32)>> = StdMutex::new(Vec::new());
        let waiting = |n: usize| {
            wait_until("the waiters to wait", || mutex.lock_blocking().waiting == n);
        };
        thread::scope(|s| {
            for _ in 0..N {
                s.spawn(|| {
                    for results in [&first, &second] {
                        let mut state = mutex.lock_blocking();
                        state.waiting += 1;
                        let (state, r) = cv.wait_blocking_timeout(state, HANG);
                        let phase = state.phase;
                        drop(state);
                        results.lock().unwrap().push((!r.timed_out(), phase));
                    }
                });
            }
            // Once the notifier holds the mutex after a waiter's count, that waiter is queued.
            waiting(N);
            assert!(first.lock().unwrap().is_empty());

            {
                let mut state = mutex.lock_blocking();
                cv.notify_many(3);
                state.phase = 1;
            }
            wait_until("3 wake-ups", || first.lock().unwrap().len() >= 3);
            waiting(N + 3);
            assert_eq!(*first.lock().unwrap(), [(true, 1); 3]);
            assert!(second.lock().unwrap().is_empty());

            {
                let mut state = mutex.lock_blocking();
                cv.notify_many(5);
                state.phase = 2;
            }
            wait_until("5 more wake-ups", || {
                first.lock().unwrap().len() + second.lock().unwrap().len() >= 8
            });
            waiting(2 * N);
            assert_eq!(
                *first.lock().unwrap(),
                [(true, 1), (true, 1), (true, 1), (true, 2), (true, 2)]
            );
            assert_eq!(*second.lock().unwrap(), [(true, 2); 3]);

            {
                let mut state = mutex.lock_blocking();
                cv.notify_all();
                state.phase = 3;
            }
            wait_until("the last wake-ups", || second.lock().unwrap().len() >= N);
        });
        assert_eq!(
            *second.lock().unwrap(),
            [(true, 2), (true, 2), (true, 2), (true, 3), (true, 3)]
        );
    };
    round();
    round();
}

// A wait with a timeout and no notification reports the timeout after at least its duration,
// with the mutex locked again.
#[test]
fn condition_wait_timeout() {
    const N: usize = 5;
    let mutex = Mutex::new(());
    let cv = Condvar::new();
    let results = StdMutex::new(Vec::new());
    run_threads(N, || {
        let guard = mutex.lock_blocking();
        let start = Instant::now();
        let (guard, r) = cv.wait_blocking_timeout(guard, SHORT);
        let elapsed = start.elapsed();
        let relocked = mutex.is_locked();
        drop(guard);
        results
            .lock()
            .unwrap()
            .push((r.timed_out(), elapsed, relocked));
    });
    let results = results.into_inner().unwrap();
    assert_eq!(results.len(), N);
    for (timed_out, elapsed, relocked) in results {
        assert!(timed_out);
        assert!(elapsed >= SHORT, "timed out early: {elapsed:?}");
        assert!(relocked);
    }
}

/// lock_tests' wait_for checks: a waiter waits, for at most `timeout`, until the state reaches 4,
/// while this thread adds 1 to the state and notifies `notifies` times. Returns whether the wait
/// timed out, how long it took, and the state it returned with.
fn wait_for_four(timeout: Duration, notifies: u32) -> (bool, Duration, u32) {
    let mutex = Mutex::new(0u32);
    let cv = Condvar::new();
    let started = AtomicUsize::new(0);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let guard = mutex.lock_blocking();
            started.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            let (guard, r) = cv.wait_while_blocking_timeout(guard, timeout, |state| *state != 4);
            (r.timed_out(), start.elapsed(), *guard)
        });
        wait_until("the waiter to start", || {
            started.load(Ordering::SeqCst) == 1
        });
        for _ in 0..notifies {
            thread::sleep(Duration::from_millis(10));
            *mutex.lock_blocking() += 1;
            cv.notify_one();
        }
        waiter.join().unwrap()
    })
}

// wait_for(pred) returns once a notifier has made the predicate true, with the state it wanted.
#[test]
fn condition_wait_for() {
    let (timed_out, _, state) = wait_for_four(HANG, 4);
    assert!(!timed_out);
    assert_eq!(state, 4);
}

// wait_for(pred, timeout) whose predicate never becomes true reports the timeout after at least
// its duration, although notifications arrived meanwhile.
#[test]
fn condition_wait_for_timeout() {
    let (timed_out, elapsed, state) = wait_for_four(SHORT, 3);
    assert!(timed_out);
    assert!(elapsed >= SHORT, "timed out early: {elapsed:?}");
    assert!(state < 4);
}

// wait_for with a timeout returns success once the predicate holds, before the timeout.
#[test]
fn condition_wait_for_timeout_success() {
    let mutex = Mutex::new(false);
    let cv = Condvar::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let guard = mutex.lock_blocking();
            let (guard, r) = cv.wait_while_blocking_timeout(guard, HANG, |ready| !*ready);
            (r.timed_out(), *guard)
        });
        *mutex.lock_blocking() = true;
        cv.notify_all();
        assert_eq!(waiter.join().unwrap(), (false, true));
    });
}

// wait_for whose predicate already holds returns at once, without a notification.
#[test]
fn condition_wait_for_already_true() {
    let mutex = Mutex::new(true);
    let cv = Condvar::new();
    let (guard, r) = cv.wait_while_blocking_timeout(mutex.lock_blocking(), HANG, |v| !*v);
    assert!(!r.timed_out());
    assert!(*guard);
    drop(guard);
    let guard = cv.wait_while_blocking(mutex.lock_blocking(), |v| !*v);
    assert!(*guard);
}

// ---------------------------------------------------------------------------------------------
// Semaphore and BoundedSemaphore (BaseSemaphoreTests, SemaphoreTests, BoundedSemaphoreTests)
// ---------------------------------------------------------------------------------------------

// An initial value the semaphore cannot hold is rejected (Python: a negative value).
#[test]
#[should_panic]
fn semaphore_rejects_invalid_initial_value() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

// Permits can be acquired up to the initial value and released again.
#[test]
fn semaphore_acquire_release() {
    let sem = Semaphore::new(1);
    drop(sem.acquire_blocking().unwrap());
    let sem = Semaphore::new(2);
    let a = sem.acquire_blocking().unwrap();
    let b = sem.acquire_blocking().unwrap();
    drop(a);
    drop(b);
    assert_eq!(sem.available_permits(), 2);
}

// A held permit may outlive every other handle to its semaphore.
#[test]
fn semaphore_acquire_destroy() {
    let sem = std::sync::Arc::new(Semaphore::new(1));
    let permit = sem.acquire_owned_blocking().unwrap();
    drop(sem);
    drop(permit);
}

// Ten threads taking two permits each go through exactly as far as the releases allow: 6 with
// the initial permits, 7 more after 7 releases, 6 more after 6; then the semaphore is empty
// until a final release lets the last one finish.
#[test]
fn semaphore_acquire_contended() {
    let sem = Semaphore::new(7);
    let held = sem.acquire_blocking().unwrap();
    let phase = AtomicUsize::new(0);
    let results = StdMutex::new(Vec::new());
    let count = || results.lock().unwrap().len();
    let sorted = || {
        let mut r = results.lock().unwrap().clone();
        r.sort_unstable();
        r
    };
    thread::scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                for _ in 0..2 {
                    sem.acquire_blocking_timeout(HANG).unwrap().forget();
                    results.lock().unwrap().push(phase.load(Ordering::SeqCst));
                }
            });
        }
        wait_until("6 acquisitions", || count() >= 6);
        assert_eq!(sorted(), [0; 6]);

        phase.store(1, Ordering::SeqCst);
        for _ in 0..7 {
            sem.add_permits(1);
        }
        wait_until("13 acquisitions", || count() >= 13);
        let mut expected = vec![0; 6];
        expected.extend([1; 7]);
        assert_eq!(sorted(), expected);

        phase.store(2, Ordering::SeqCst);
        for _ in 0..6 {
            sem.add_permits(1);
        }
        wait_until("19 acquisitions", || count() >= 19);
        expected.extend([2; 6]);
        assert_eq!(sorted(), expected);

        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(held);
    });
    assert_eq!(count(), 20);
}

// try_acquire succeeds while permits are free, fails once they are taken, and again succeeds
// after a release.
#[test]
fn semaphore_try_acquire() {
    let sem = Semaphore::new(2);
    takes_both_permits(&sem, || sem.try_acquire());
}

// Five threads each trying twice on the 3 free permits get exactly 3 successes in all.
#[test]
fn semaphore_try_acquire_contended() {
    let sem = Semaphore::new(4);
    let _held = sem.acquire_blocking().unwrap();
    let results = StdMutex::new(Vec::new());
    run_threads(5, || {
        for _ in 0..2 {
            let ok = match sem.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    true
                }
                Err(_) => false,
            };
            results.lock().unwrap().push(ok);
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_unstable();
    let mut expected = vec![false; 7];
    expected.extend([true; 3]);
    assert_eq!(results, expected);
}

// A timed acquire succeeds while permits are free and otherwise fails after at least its
// timeout.
#[test]
fn semaphore_acquire_timeout() {
    let tiny = Duration::from_millis(5);
    let sem = Semaphore::new(2);
    let a = sem.acquire_blocking_timeout(tiny).unwrap();
    let _b = sem.acquire_blocking_timeout(tiny).unwrap();
    assert_eq!(
        sem.acquire_blocking_timeout(tiny).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    drop(a);
    let _c = sem.acquire_blocking_timeout(tiny).unwrap();
    let start = Instant::now();
    assert_eq!(
        sem.acquire_blocking_timeout(SHORT).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    let elapsed = start.elapsed();
    assert!(elapsed >= SHORT, "timed out early: {elapsed:?}");
}

// With the one permit taken, another thread's acquire blocks until it is released (Python's
// default value of 1, given explicitly: unisync's default is 0).
#[test]
fn semaphore_acquire_blocks_until_release() {
    let sem = Semaphore::new(1);
    let permit = sem.acquire_blocking().unwrap();
    let started = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            started.fetch_add(1, Ordering::SeqCst);
            drop(sem.acquire_blocking_timeout(HANG).unwrap());
            finished.fetch_add(1, Ordering::SeqCst);
        });
        wait_until("the thread to start", || {
            started.load(Ordering::SeqCst) == 1
        });
        thread::sleep(Duration::from_millis(10));
        assert_eq!(finished.load(Ordering::SeqCst), 0);
        drop(permit);
    });
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

// Scoped permits (Python's `with sem:`) are returned at the end of the scope, also when the
// scope panics.
#[test]
fn semaphore_scoped_permits() {
    let sem = Semaphore::new(2);
    let scoped = |fail: bool| {
        let _outer = sem.acquire_blocking().unwrap();
        assert!(sem.try_acquire().is_ok());
        let _inner = sem.acquire_blocking().unwrap();
        assert!(sem.try_acquire().is_err());
        assert!(!fail, "failing inside the scope");
    };
    scoped(false);
    assert!(sem.try_acquire().is_ok());
    assert!(catch_unwind(AssertUnwindSafe(|| scoped(true))).is_err());
    assert!(sem.try_acquire().is_ok());
    assert_eq!(sem.available_permits(), 2);
}

// Releasing what was not acquired adds a permit (Python's unbounded Semaphore).
#[test]
fn semaphore_release_unacquired_adds_permit() {
    let sem = Semaphore::new(1);
    sem.add_permits(1);
    let _a = sem.acquire_blocking().unwrap();
    let _b = sem.acquire_blocking().unwrap();
    assert!(sem.try_acquire().is_err());
}

// Releasing n permits at once lets exactly n blocked threads through.
#[test]
fn semaphore_release_n() {
    let sem = Semaphore::new(0);
    let done = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                sem.acquire_blocking_timeout(HANG).unwrap().forget();
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        sem.add_permits(2);
        wait_until("2 acquisitions", || done.load(Ordering::SeqCst) >= 2);
        thread::sleep(Duration::from_millis(10));
        assert_eq!(done.load(Ordering::SeqCst), 2);
        sem.add_permits(1);
    });
    assert_eq!(done.load(Ordering::SeqCst), 3);
    assert_eq!(sem.available_permits(), 0);
}

// Bounded semaphore: releasing is returning a held permit, so the count never goes past its
// initial value (Python raises ValueError on an over-release; here there is nothing to release).
#[test]
fn semaphore_bounded_release_never_exceeds_initial() {
    let sem = Semaphore::new(1);
    assert_eq!(sem.available_permits(), 1);
    drop(sem.acquire_blocking().unwrap());
    assert_eq!(sem.available_permits(), 1);
    let a = sem.try_acquire().unwrap();
    let none = sem.try_acquire_many(0).unwrap();
    drop(none);
    drop(a);
    assert_eq!(sem.available_permits(), 1);
}

// Releasing past what a semaphore can hold is refused with a panic and leaves it unchanged.
#[test]
fn semaphore_over_release_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert!(catch_unwind(AssertUnwindSafe(|| sem.add_permits(1))).is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

// Returning a permit into a semaphore that add_permits has filled up meanwhile panics too.
#[test]
fn semaphore_over_release_by_drop_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let permit = sem.try_acquire().unwrap();
    sem.add_permits(1);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(permit))).is_err());
}

// ---------------------------------------------------------------------------------------------
// Barrier (BarrierTests)
// ---------------------------------------------------------------------------------------------

/// lock_tests' barrier size.
const PARTIES: usize = 5;

// A barrier of no parties is rejected.
#[test]
#[should_panic]
fn barrier_rejects_zero_parties() {
    let _ = Barrier::new(0);
}

/// lock_tests' `multipass`: `passes` rounds of two waits, checking lockstep on both sides.
fn multipass(passes: usize) {
    let barrier = Barrier::new(PARTIES);
    let before = AtomicUsize::new(0);
    let after = AtomicUsize::new(0);
    run_threads(PARTIES, || {
        assert_eq!(barrier.parties(), PARTIES);
        for i in 0..passes {
            before.fetch_add(1, Ordering::SeqCst);
            assert_eq!(after.load(Ordering::SeqCst), i * PARTIES);
            barrier_wait(&barrier).unwrap();
            after.fetch_add(1, Ordering::SeqCst);
            assert_eq!(before.load(Ordering::SeqCst), (i + 1) * PARTIES);
            barrier_wait(&barrier).unwrap();
        }
    });
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
}

// Five threads pass the barrier in lockstep once.
#[test]
fn barrier_lockstep() {
    multipass(1);
}

// Five threads pass the barrier in lockstep ten times over.
#[test]
fn barrier_lockstep_10() {
    multipass(10);
}

// The parties of one generation get the indices 0..parties, each once.
#[test]
fn barrier_wait_return_indices() {
    let barrier = Barrier::new(PARTIES);
    let indices = StdMutex::new(Vec::new());
    run_threads(PARTIES, || {
        let r = barrier_wait(&barrier).unwrap();
        indices.lock().unwrap().push(r.index());
    });
    let mut indices = indices.into_inner().unwrap();
    indices.sort_unstable();
    assert_eq!(indices, (0..PARTIES).collect::<Vec<_>>());
}

// Work done by the one leader of a generation (Python's `action`) happens exactly once per
// generation and is seen by every party after the next wait.
#[test]
fn barrier_leader_action() {
    let barrier = Barrier::new(PARTIES);
    let actions = AtomicUsize::new(0);
    run_threads(PARTIES, || {
        for pass in 0..3 {
            if barrier_wait(&barrier).unwrap().is_leader() {
                actions.fetch_add(1, Ordering::SeqCst);
            }
            barrier_wait(&barrier).unwrap();
            assert_eq!(actions.load(Ordering::SeqCst), pass + 1);
            barrier_wait(&barrier).unwrap();
        }
    });
}

/// lock_tests' abort and reset pattern: every party passes `barrier` once; then the middle party
/// runs `break_it` while each of the others waits again, and every party runs `then`. Checks
/// that none of those second waits passed: all of them failed.
fn break_second_wait(barrier: &Barrier, break_it: impl Fn() + Sync, then: impl Fn() + Sync) {
    let passed = AtomicUsize::new(0);
    let broken = AtomicUsize::new(0);
    run_threads(PARTIES, || {
        if barrier_wait(barrier).unwrap().index() == PARTIES / 2 {
            break_it();
        } else {
            match barrier_wait(barrier) {
                Some(_) => passed.fetch_add(1, Ordering::SeqCst),
                None => broken.fetch_add(1, Ordering::SeqCst),
            };
        }
        then();
    });
    assert_eq!(passed.load(Ordering::SeqCst), 0);
    assert_eq!(broken.load(Ordering::SeqCst), PARTIES - 1);
}

// abort breaks the barrier: every other party's next wait fails and it stays broken.
#[test]
fn barrier_abort() {
    let barrier = Barrier::new(PARTIES);
    break_second_wait(&barrier, || barrier.abort(), || {});
    assert!(barrier.is_broken());
}

// reset fails the parties waiting at that moment, and then the barrier works again.
#[test]
fn barrier_reset() {
    let barrier = Barrier::new(PARTIES);
    let last = AtomicUsize::new(0);
    let reset = || {
        wait_until("the others to wait", || barrier.n_waiting() == PARTIES - 1);
        barrier.reset();
    };
    break_second_wait(&barrier, reset, || {
        barrier_wait(&barrier).unwrap();
        last.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(last.load(Ordering::SeqCst), PARTIES);
    assert!(!barrier.is_broken());
}

// A broken barrier can be reset once everyone has left it, and then works again.
#[test]
fn barrier_abort_and_reset() {
    let barrier = Barrier::new(PARTIES);
    let sync = Barrier::new(PARTIES);
    let last = AtomicUsize::new(0);
    break_second_wait(
        &barrier,
        || barrier.abort(),
        || {
            // Everyone has left the broken barrier before the reset, and nobody enters it before.
            if barrier_wait(&sync).unwrap().index() == PARTIES / 2 {
                assert!(barrier.is_broken());
                barrier.reset();
            }
            barrier_wait(&sync).unwrap();
            barrier_wait(&barrier).unwrap();
            last.fetch_add(1, Ordering::SeqCst);
        },
    );
    assert_eq!(last.load(Ordering::SeqCst), PARTIES);
}

// With one party late, the others' timed waits fail after at least their timeout, and so does
// the late party's once it is alone.
#[test]
fn barrier_timeout() {
    let barrier = Barrier::new(PARTIES);
    let timed_out = AtomicUsize::new(0);
    run_threads(PARTIES, || {
        let r = barrier_wait(&barrier).unwrap();
        if r.index() == PARTIES / 2 {
            // Late: arrive only once every other party has given up.
            wait_until("the others to time out", || {
                timed_out.load(Ordering::SeqCst) == PARTIES - 1
            });
        }
        let start = Instant::now();
        let err = barrier.wait_blocking_timeout(SHORT).unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(err, BarrierTimeoutError::Timeout);
        assert!(elapsed >= SHORT, "timed out early: {elapsed:?}");
        timed_out.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(timed_out.load(Ordering::SeqCst), PARTIES);
    assert_eq!(barrier.n_waiting(), 0);
}

// A barrier of one party passes every wait at once, with that party as leader.
#[test]
fn barrier_single_thread() {
    let barrier = Barrier::new(1);
    assert!(barrier.wait_blocking().unwrap().is_leader());
    assert!(barrier.wait_blocking().unwrap().is_leader());
}

// n_waiting counts the parties blocked in the filling generation and is 0 again after the trip.
#[test]
fn barrier_n_waiting() {
    let barrier = Barrier::new(PARTIES);
    assert_eq!(barrier.n_waiting(), 0);
    thread::scope(|s| {
        for _ in 0..PARTIES - 1 {
            s.spawn(|| barrier_wait(&barrier).unwrap());
        }
        wait_until("the parties to wait", || barrier.n_waiting() == PARTIES - 1);
        barrier_wait(&barrier).unwrap();
    });
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
}

/// Port of lock_tests' `Condition.notify(n)` check across kinds: it wakes the longest waiters.
#[test]
fn condition_notify_n_wakes_longest_waiters_across_threads_and_tasks() {
    common::no_deadlock(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let pair = Arc::new((Mutex::new(0usize), Condvar::new()));
        let woke = Arc::new(StdMutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..6usize {
            let (pair2, woke, queued2) = (pair.clone(), woke.clone(), queued.clone());
            // Queue them one by one: the next starts only once this one holds the lock and
            // has counted itself (it releases the lock only after it queued).
            let before = i;
            if i % 2 == 0 {
                threads.push(thread::spawn(move || {
                    let (m, c) = &*pair2;
                    let g = m.lock_blocking();
                    assert_eq!(queued2.fetch_add(1, Ordering::SeqCst), before);
                    let g = c.wait_blocking(g);
                    woke.lock().unwrap().push(i);
                    drop(g);
                }));
            } else {
                tasks.push(rt.spawn(async move {
                    let (m, c) = &*pair2;
                    let g = m.lock().await;
                    assert_eq!(queued2.fetch_add(1, Ordering::SeqCst), before);
                    let g = c.wait(g).await;
                    woke.lock().unwrap().push(i);
                    drop(g);
                }));
            }
            wait_until("the waiter to count in", || {
                queued.load(Ordering::SeqCst) == i + 1
            });
            // Counted in is not yet queued; getting the lock is, as it queues before it lets go.
            drop(pair.0.lock_blocking());
        }
        pair.1.notify_many(2);
        wait_until("two woken", || woke.lock().unwrap().len() == 2);
        thread::sleep(Duration::from_millis(20));
        {
            let mut w = woke.lock().unwrap().clone();
            w.sort();
            assert_eq!(w, vec![0, 1]);
        }
        pair.1.notify_all();
        for t in threads {
            t.join().unwrap();
        }
        for t in tasks {
            rt.block_on(t).unwrap();
        }
        assert_eq!(woke.lock().unwrap().len(), 6);
    });
}

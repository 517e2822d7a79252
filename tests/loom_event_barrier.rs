//! Loom models of `Event` and `Barrier`. Run with
//! `LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" cargo test --release --test loom_event_barrier`.
#![cfg(loom)]

mod common;
mod loom_support;

use common::poll_once;
use loom_support::model;

use std::task::Poll;

use loom::sync::atomic::{AtomicBool, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use std::time::Duration;

use unisync::{Barrier, BarrierTimeoutError, Event};

/// A waiter that had started before `set` completes even though `clear` races right behind it.
/// Two threads (setter/clearer and the waiter); explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn event_set_racing_clear_completes_registered_waiter() {
    model(|| {
        let event = Arc::new(Event::new());
        let mut wait = Box::pin(event.wait());
        // The wait has started (polled once) before the set.
        assert!(poll_once(&mut wait).is_pending());
        let setter = {
            let event = event.clone();
            thread::spawn(move || {
                event.set();
                event.clear();
            })
        };
        loom::future::block_on(wait);
        setter.join().unwrap();
    });
}

/// A pulse ends every started wait as one step: once a wait has seen it, a wait polled after
/// that one sees it too, though `set` reaches the queued waiters one batch (one waiter, under
/// loom) at a time. Two threads; explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn event_pulse_seen_by_one_wait_is_seen_by_the_next() {
    model(|| {
        let event = Arc::new(Event::new());
        let mut first = Box::pin(event.wait());
        let mut second = Box::pin(event.wait());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        let setter = {
            let event = event.clone();
            thread::spawn(move || {
                event.set();
                event.clear();
            })
        };
        let first_done = poll_once(&mut first).is_ready();
        let second_done = poll_once(&mut second).is_ready();
        assert!(
            !first_done || second_done,
            "the second wait missed a pulse the first saw"
        );
        if !first_done {
            loom::future::block_on(first);
        }
        if !second_done {
            loom::future::block_on(second);
        }
        setter.join().unwrap();
    });
}

/// A blocking waiter on a thread, started concurrently with set/clear: it must finish either
/// because it saw the set, or because it started after the clear and a second set comes.
/// Two threads; explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn event_blocking_waiter_is_not_lost() {
    model(|| {
        let event = Arc::new(Event::new());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking())
        };
        event.set();
        event.clear();
        event.set();
        waiter.join().unwrap();
    });
}

/// A timed blocking wait queued behind a task's wait, racing a set and clear that reach the
/// two waiters in separate batches (a batch is one waiter under loom): a thread out of time
/// before its batch looks at the generation and leaves the queue itself. Whatever it reports,
/// the task's wait completes and the queue is left whole: a later wait parks and a later set
/// ends it. Three threads counting the main one; explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn event_timed_waiter_racing_batched_set_leaves_the_queue_whole() {
    model(|| {
        let event = Arc::new(Event::new());
        let mut first = Box::pin(event.wait());
        assert!(poll_once(&mut first).is_pending());
        let timed = {
            let event = event.clone();
            thread::spawn(move || event.wait_blocking_timeout(std::time::Duration::from_secs(1)))
        };
        let setter = {
            let event = event.clone();
            thread::spawn(move || {
                event.set();
                event.clear();
            })
        };
        loom::future::block_on(first);
        let _ = timed.join().unwrap();
        setter.join().unwrap();
        let mut later = Box::pin(event.wait());
        assert!(poll_once(&mut later).is_pending());
        event.set();
        assert!(poll_once(&mut later).is_ready());
    });
}

/// A barrier of 3: one party waits; another arrives and withdraws (future dropped) while a
/// third arrives. Whatever the interleaving, at most one trip happens, and after a replacement
/// fills in when needed, exactly one party of the generation is leader and the barrier ends
/// empty. Three threads counting the main one; explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_withdraw_racing_last_arrival_trips_once() {
    model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let mut stay = Box::pin(barrier.wait());
        assert!(poll_once(&mut stay).is_pending());
        let leaver = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut leave = Box::pin(barrier.wait());
                let first = poll_once(&mut leave);
                drop(leave);
                match first {
                    Poll::Ready(r) => Some(r.unwrap()),
                    Poll::Pending => None,
                }
            })
        };
        let first_poll_done = Arc::new(AtomicBool::new(false));
        let arriver = {
            let (barrier, done) = (barrier.clone(), first_poll_done.clone());
            thread::spawn(move || {
                let mut w = Box::pin(barrier.wait());
                let first = poll_once(&mut w);
                done.store(true, SeqCst);
                match first {
                    Poll::Ready(r) => r.unwrap(),
                    Poll::Pending => loom::future::block_on(w).unwrap(),
                }
            })
        };
        let mut results: Vec<_> = leaver.join().unwrap().into_iter().collect();
        while !first_poll_done.load(SeqCst) {
            thread::yield_now();
        }
        // No trip yet: `stay` and the arriver wait for a third party.
        if barrier.n_waiting() != 0 {
            assert_eq!(barrier.n_waiting(), 2);
            results.push(loom::future::block_on(barrier.wait()).unwrap());
        }
        results.push(loom::future::block_on(stay).unwrap());
        results.push(arriver.join().unwrap());
        let leaders = results.iter().filter(|r| r.is_leader()).count();
        assert_eq!(leaders, 1, "{results:?}");
        assert!(results.len() <= 3);
        assert_eq!(barrier.n_waiting(), 0);
    });
}

/// The blocking path next to the async one: a thread in `wait_blocking` and a task in `wait`
/// trip a barrier of two exactly once, with one leader and distinct indices.
///
/// Bound: 2 threads, explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_blocking_and_async_parties_trip_once() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let blocking = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_blocking().unwrap())
        };
        let a = loom::future::block_on(barrier.wait()).unwrap();
        let b = blocking.join().unwrap();
        assert!(a.is_leader() != b.is_leader(), "exactly one leader");
        assert_ne!(a.index(), b.index());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

/// A trip ends every arrived party's wait in one step: two parties of a barrier of three are
/// queued, a thread arrives last, and the main thread polls the two in order. The trip wakes
/// them one batch (one party, under loom) at a time, yet once the first has seen it, the
/// second, polled after, sees it too; the three indices are distinct, with one leader.
/// Two threads; explored with `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_trip_seen_by_one_party_is_seen_by_the_next() {
    model(|| {
        let barrier = Arc::new(Barrier::new(3));
        let mut first = Box::pin(barrier.wait());
        let mut second = Box::pin(barrier.wait());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        let last = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_blocking().unwrap())
        };
        let first_done = poll_once(&mut first);
        let second_done = poll_once(&mut second);
        assert!(
            first_done.is_pending() || second_done.is_ready(),
            "the second party missed a trip the first saw"
        );
        let first = match first_done {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => loom::future::block_on(first).unwrap(),
        };
        let second = match second_done {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => loom::future::block_on(second).unwrap(),
        };
        let last = last.join().unwrap();
        let mut indices = [first.index(), second.index(), last.index()];
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2]);
    });
}

/// `reset` racing the last arrival of a barrier of two: the queued party either trips with
/// the arriving one or fails (the reset broke its generation), and then a replacement trips
/// with the arriving one. Either way one leader, nobody left waiting, and the barrier whole.
/// Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_reset_racing_the_last_arrival_fails_or_trips_the_queued_party() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let mut a = Box::pin(barrier.wait());
        assert!(poll_once(&mut a).is_pending());
        let resetter = {
            let b = barrier.clone();
            thread::spawn(move || b.reset())
        };
        let arriver = {
            let b = barrier.clone();
            thread::spawn(move || b.wait_blocking())
        };
        resetter.join().unwrap();
        let a = loom::future::block_on(a);
        let mut results = vec![];
        match a {
            Ok(r) => results.push(r),
            Err(_) => {
                results.push(loom::future::block_on(barrier.wait()).expect("replacement"));
            }
        }
        results.push(arriver.join().unwrap().expect("arriver never fails"));
        assert_eq!(
            results.iter().filter(|r| r.is_leader()).count(),
            1,
            "{results:?}"
        );
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
    });
}

/// `abort` racing a timed thread and a queued task of a barrier of two: both trip (one
/// leader) or both fail, and a thread that timed out left the task to fail with the abort.
/// After `reset` a fresh round trips. Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_abort_racing_a_timed_party_fails_both_or_neither() {
    model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let mut a = Box::pin(barrier.wait());
        assert!(poll_once(&mut a).is_pending());
        let timed = {
            let b = barrier.clone();
            thread::spawn(move || b.wait_blocking_timeout(Duration::from_secs(1)))
        };
        let aborter = {
            let b = barrier.clone();
            thread::spawn(move || b.abort())
        };
        let a = loom::future::block_on(a);
        let t = timed.join().unwrap();
        aborter.join().unwrap();
        match (&a, &t) {
            (Ok(x), Ok(y)) => assert!(x.is_leader() != y.is_leader()),
            (Err(_), Err(_)) => {}
            other => panic!("one party tripped and the other failed: {other:?}"),
        }
        if matches!(t, Err(BarrierTimeoutError::Timeout)) {
            assert!(a.is_err());
        }
        barrier.reset();
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
        // A fresh round of two still trips.
        let mut x = Box::pin(barrier.wait());
        assert!(poll_once(&mut x).is_pending());
        let y = loom::future::block_on(barrier.wait()).unwrap();
        let x = loom::future::block_on(x).unwrap();
        assert!(x.is_leader() != y.is_leader());
    });
}

/// A barrier of one, three parties at once: a timed thread, a thread and a task. Each
/// generation waits for the one before to be collected, so a party can wait behind another;
/// the timed one may give up then (under loom a timed park may end at any point), but
/// nobody is held up by it: the others trip as leaders and the barrier is left whole. Three
/// threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn barrier_of_one_timed_party_holds_up_nobody() {
    model(|| {
        let barrier = Arc::new(Barrier::new(1));
        let timed = {
            let b = barrier.clone();
            thread::spawn(move || b.wait_blocking_timeout(Duration::from_secs(1)))
        };
        let task = {
            let b = barrier.clone();
            thread::spawn(move || loom::future::block_on(b.wait()).unwrap())
        };
        assert!(barrier.wait_blocking().unwrap().is_leader());
        match timed.join().unwrap() {
            Ok(result) => assert!(result.is_leader()),
            Err(BarrierTimeoutError::Timeout) => {}
            Err(other) => panic!("nothing broke the barrier: {other:?}"),
        }
        assert!(task.join().unwrap().is_leader());
        assert_eq!(barrier.n_waiting(), 0);
        assert!(loom::future::block_on(barrier.wait()).unwrap().is_leader());
    });
}

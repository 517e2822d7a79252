//! Tests of `Event`: poll-level wake-ups, the set/clear race, timeouts, many waiters,
//! cancellation and mixed executors.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use common::{poll_once, poll_with, Counter, Stall};
use futures::FutureExt;
use unisync::Event;

#[test]
fn size_is_at_most_16_bytes() {
    assert!(std::mem::size_of::<Event>() <= 16);
}

#[test]
fn wait_completes_when_set() {
    let event = Event::new();
    let counter = Counter::new();
    let mut wait = Box::pin(event.wait());
    assert!(counter.poll(&mut wait).is_pending());
    assert_eq!(counter.count(), 0);
    event.set();
    assert_eq!(counter.count(), 1);
    assert!(counter.poll(&mut wait).is_ready());
}

#[test]
fn wait_on_set_event_is_ready_at_once() {
    let event = Event::default();
    event.set();
    assert!(event.is_set());
    assert!(event.wait().now_or_never().is_some());
    // Stays set for every later wait until cleared.
    assert!(event.wait().now_or_never().is_some());
}

#[test]
fn set_then_clear_still_completes_registered_waiters() {
    let event = Event::new();
    let counter = Counter::new();
    let mut waits: Vec<_> = (0..3).map(|_| Box::pin(event.wait())).collect();
    for w in &mut waits {
        assert!(counter.poll(w).is_pending());
    }
    event.set();
    event.clear();
    assert!(!event.is_set());
    assert_eq!(counter.count(), 3);
    for w in &mut waits {
        assert!(counter.poll(w).is_ready());
    }
}

#[test]
fn set_then_clear_before_listener_fires_is_not_lost() {
    // Polled once (so the wait has started), then set and cleared before it is polled again.
    let event = Event::new();
    let mut wait = Box::pin(event.wait());
    assert!(poll_once(&mut wait).is_pending());
    event.set();
    event.clear();
    event.set();
    event.clear();
    assert!(poll_once(&mut wait).is_ready());
}

#[test]
fn waiter_registered_after_clear_waits() {
    let event = Event::new();
    event.set();
    event.clear();
    let counter = Counter::new();
    let mut wait = Box::pin(event.wait());
    assert!(counter.poll(&mut wait).is_pending());
    assert!(counter.poll(&mut wait).is_pending());
    event.clear();
    assert_eq!(counter.count(), 0);
    assert!(counter.poll(&mut wait).is_pending());
    event.set();
    assert_eq!(counter.count(), 1);
    assert!(counter.poll(&mut wait).is_ready());
}

#[test]
fn unpolled_future_starts_waiting_at_first_poll() {
    let event = Event::new();
    let wait = Box::pin(event.wait());
    event.set();
    event.clear();
    // Created before the set but never polled: it had not started waiting.
    let mut wait = wait;
    assert!(poll_once(&mut wait).is_pending());
}

#[cfg(feature = "std")]
#[test]
fn blocking_timeout_returns_false_then_true() {
    let event = Event::new();
    assert!(!event.wait_blocking_timeout(Duration::from_millis(10)));
    event.set();
    assert!(event.wait_blocking_timeout(Duration::from_millis(10)));
    event.wait_blocking();
}

#[cfg(feature = "std")]
#[test]
fn blocking_timeout_returns_true_when_set_by_another_thread() {
    let event = Arc::new(Event::new());
    let waiter = {
        let event = event.clone();
        std::thread::spawn(move || event.wait_blocking_timeout(Duration::from_secs(60)))
    };
    event.set();
    assert!(waiter.join().unwrap());
}

#[cfg_attr(miri, ignore = "10,000 waiters take minutes under miri")]
#[test]
fn ten_thousand_waiters_complete_after_one_set() {
    const N: usize = 10_000;
    let event = Event::new();
    let counter = Counter::new();
    let mut waits: Vec<_> = (0..N).map(|_| Box::pin(event.wait())).collect();
    for w in &mut waits {
        assert!(counter.poll(w).is_pending());
    }
    event.set();
    assert_eq!(counter.count(), N);
    let done = waits
        .iter_mut()
        .map(|w| counter.poll(w))
        .filter(Poll::is_ready)
        .count();
    assert_eq!(done, N);
}

#[test]
fn cancellation_sweep_leaves_event_whole() {
    // Poll a wait k times while the event flips, drop it, then check a fresh waiter still works.
    for k in 0..=6 {
        let event = Event::new();
        let mut wait = Box::pin(event.wait());
        for i in 0..k {
            if poll_once(&mut wait).is_ready() {
                break;
            }
            if i % 2 == 1 {
                event.set();
                event.clear();
            }
        }
        drop(wait);
        let mut other = Box::pin(event.wait());
        assert!(poll_once(&mut other).is_pending());
        event.set();
        assert!(poll_once(&mut other).is_ready());
    }
}

#[test]
fn dropped_waiter_does_not_keep_others_from_waking() {
    let event = Event::new();
    let counter = Counter::new();
    let mut a = Box::pin(event.wait());
    let mut b = Box::pin(event.wait());
    assert!(counter.poll(&mut a).is_pending());
    assert!(counter.poll(&mut b).is_pending());
    event.set();
    drop(a); // notified but never polled again
    assert!(counter.poll(&mut b).is_ready());
    assert_eq!(counter.count(), 2);
}

#[cfg_attr(
    miri,
    ignore = "starts tokio, smol and async-std runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn threads_tokio_smol_and_async_std_share_one_event() {
    let event = Arc::new(Event::new());
    let gone = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..6 {
        let (event, gone) = (event.clone(), gone.clone());
        handles.push(std::thread::spawn(move || {
            match i % 3 {
                0 => event.wait_blocking(),
                1 => smol::block_on(event.wait()),
                _ => async_std::task::block_on(event.wait()),
            }
            gone.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (event, gone) = (event.clone(), gone.clone());
            rt.spawn(async move {
                event.wait().await;
                gone.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Not cleared: a waiter that has not started by now would rightly wait for the next set.
    event.set();
    for h in handles {
        h.join().unwrap();
    }
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(gone.load(Ordering::SeqCst), 10);
}

/// One pulse ends every wait that had started, as one step: a wait polled after another one
/// saw the pulse sees it too, even while `set` is still waking the waiters batch by batch.
#[test]
fn a_wait_polled_after_another_saw_the_pulse_completes_too() {
    // A static, not a leak: the waits are kept by a waker, which must be `'static`.
    static EVENT: Event = Event::new();
    let event = &EVENT;
    common::one_release_ends_every_wait_at_once(
        || event.wait(),
        || {
            event.set();
            event.clear();
        },
    );
}

/// Queues 40 waits on `event` (more than one wake-up batch) and sets it on another thread,
/// which the first wait's waker holds inside the first batch until `go_on`: the last waits
/// are still queued meanwhile. Returns the waits, the stall and the setting thread.
fn set_held_in_its_first_batch(
    event: &'static Event,
) -> (
    Vec<std::pin::Pin<Box<unisync::futures::EventWait<'static>>>>,
    Arc<Stall>,
    std::thread::JoinHandle<()>,
) {
    let stall = Stall::new();
    let mut waits: Vec<_> = (0..40).map(|_| Box::pin(event.wait())).collect();
    assert!(poll_with(&mut waits[0], &stall.waker()).is_pending());
    for wait in &mut waits[1..] {
        assert!(poll_once(wait).is_pending());
    }
    let setter = std::thread::spawn(move || event.set());
    stall.wait_until_entered();
    (waits, stall, setter)
}

/// "A wait that starts after the `clear` waits for the next `set`", even while an older `set`
/// is still waking its batches: held between two of them, it is overtaken by a `clear`, a
/// `set` and a `clear`, and must then stop at the wait that started last.
#[test]
fn an_older_set_still_waking_does_not_end_a_wait_started_after_a_later_clear() {
    static EVENT: Event = Event::new();
    let (mut old, stall, first) = set_held_in_its_first_batch(&EVENT);

    EVENT.clear();
    let mut middle = Box::pin(EVENT.wait());
    assert!(poll_once(&mut middle).is_pending());
    EVENT.set();
    EVENT.clear();
    let late_waker = Counter::new();
    let mut late = Box::pin(EVENT.wait());
    assert!(late_waker.poll(&mut late).is_pending());

    stall.go_on();
    first.join().unwrap();
    for wait in &mut old {
        assert!(poll_once(wait).is_ready());
    }
    assert!(poll_once(&mut middle).is_ready());
    assert!(
        late_waker.poll(&mut late).is_pending(),
        "a wait that started after the last clear completed without a set"
    );
    assert_eq!(late_waker.count(), 0, "and it was woken");
    EVENT.set();
    assert!(late_waker.poll(&mut late).is_ready());
}

/// Regression: a thread queued in a later wake-up batch than a slow waker timed out and
/// returned `false` though the event had been set before its deadline.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn timed_blocking_wait_sees_a_set_that_came_before_its_deadline() {
    common::timed_wait_counts_a_release_before_its_deadline(|| {
        let event = Arc::new(Event::new());
        let waits = common::full_batch(|| {
            let event = event.clone();
            async move { event.wait().await }
        });
        let (timed, set) = (event.clone(), event);
        common::BehindABatch {
            waits,
            timed: Box::new(move |timeout| timed.wait_blocking_timeout(timeout)),
            // Cleared at once: the set still counts for every wait that began before it.
            release: Box::new(move || {
                set.set();
                set.clear();
            }),
        }
    });
}

/// Rounds of pulses and sets on one event end every wait registered before the `set`.
#[cfg_attr(
    miri,
    ignore = "200 rounds of four threads each take minutes under miri"
)]
#[cfg(feature = "std")]
#[test]
fn pulse_rounds_with_tasks_and_threads() {
    common::no_deadlock(|| {
        let event = Arc::new(Event::new());
        for round in 0..200 {
            let pulse = round % 2 == 0;
            let registered = Arc::new(AtomicUsize::new(0));
            let ts: Vec<_> = (0..4)
                .map(|i| {
                    let (event, registered) = (event.clone(), registered.clone());
                    std::thread::spawn(move || {
                        // A blocking wait's registration cannot be observed from outside, so
                        // blocking threads join only the rounds without a `clear`.
                        if i % 2 == 0 && !pulse {
                            registered.fetch_add(1, Ordering::SeqCst);
                            event.wait_blocking();
                        } else {
                            futures::executor::block_on(async {
                                let mut w = std::pin::pin!(event.wait());
                                assert!(futures::poll!(w.as_mut()).is_pending());
                                registered.fetch_add(1, Ordering::SeqCst);
                                w.await
                            })
                        }
                    })
                })
                .collect();
            common::wait_until("waiters registered", || {
                registered.load(Ordering::SeqCst) == 4
            });
            event.set();
            if pulse {
                event.clear();
            }
            for t in ts {
                t.join().unwrap();
            }
            event.clear();
        }
    });
}

/// A wait that started before a `set` is over even once a `clear` has undone the flag, and
/// even when it is polled before the `set` has reached its wake-up batch: the generation, not
/// the flag, tells it. The first waiter's waker holds the `set` in its first batch.
#[test]
fn a_wait_polled_after_a_set_and_clear_that_have_not_reached_it_completes() {
    static EVENT: Event = Event::new();
    let (mut waits, stall, setter) = set_held_in_its_first_batch(&EVENT);
    EVENT.clear();
    let last = poll_once(&mut waits[39]);
    stall.go_on();
    setter.join().unwrap();
    assert!(
        last.is_ready(),
        "a wait that started before the set stayed pending after the set and a clear"
    );
    for wait in &mut waits[..39] {
        assert!(poll_once(wait).is_ready());
    }
}

/// An owned wait keeps its event alive and behaves as a borrowed one: it is `'static`, sees a
/// set that a clear undoes at once, and goes into a spawned task without a clone of the `Arc`
/// in the task's body.
#[test]
fn owned_wait_outlives_its_handle_and_sees_a_pulse() {
    fn send_static<T: Send + Sync + 'static>(_: &T) {}
    let event = Arc::new(Event::new());
    let counter = Counter::new();
    let mut wait = Box::pin(event.wait_owned());
    send_static(&wait);
    assert!(counter.poll(&mut wait).is_pending());
    assert_eq!(Arc::strong_count(&event), 2, "the future holds a reference");
    event.set();
    event.clear();
    assert_eq!(counter.count(), 1);
    assert!(counter.poll(&mut wait).is_ready());
    drop(wait);
    assert_eq!(Arc::strong_count(&event), 1, "and lets it go");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..4).map(|_| rt.spawn(event.wait_owned())).collect();
    event.set();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
}

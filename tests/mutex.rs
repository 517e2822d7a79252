//! Poll-level tests of `Mutex`: the wait protocol, guards, `?Sized` values, panics, fairness.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, blocked_until_released, pending_until_released, poll_once,
    Counter,
};
use unisync::{MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};

#[test]
fn lock_when_free_is_ready_on_first_poll() {
    let m = Mutex::new(1);
    let mut fut = Box::pin(m.lock());
    let mut guard = assert_ready!(fut);
    *guard += 1;
    drop(guard);
    drop(fut);
    assert_eq!(*m.try_lock().unwrap(), 2);
}

#[test]
fn contended_lock_is_pending_then_woken_by_unlock() {
    let m = Mutex::new(0);
    let holder = m.try_lock().unwrap();
    assert!(m.is_locked());
    let mut guard = pending_until_released(Box::pin(m.lock()), move || drop(holder));
    *guard = 7;
    drop(guard);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 7);
}

#[test]
fn lock_owned_is_pending_then_woken_by_unlock() {
    let m = Arc::new(Mutex::new(0));
    let holder = m.try_lock_owned().unwrap();
    let guard = pending_until_released(Box::pin(m.lock_owned()), move || drop(holder));
    assert!(Arc::ptr_eq(OwnedMutexGuard::source(&guard), &m));
}

#[test]
fn waiters_are_served_one_per_unlock_in_order() {
    let m = Mutex::new(Vec::new());
    let holder = m.try_lock().unwrap();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(m.lock());
    let mut b = Box::pin(m.lock());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    drop(holder);
    assert_eq!(ca.count(), 1, "the oldest waiter is woken");
    assert_eq!(cb.count(), 0, "one unlock wakes one waiter");
    let mut ga = assert_ready!(ca, a);
    ga.push('a');
    assert_pending!(cb, b);
    drop(ga);
    assert_eq!(cb.count(), 1);
    assert_ready!(cb, b).push('b');
    assert_eq!(*m.try_lock().unwrap(), ['a', 'b']);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_none());
    let mut fut = Box::pin(m.lock());
    assert_pending!(fut);
    drop(fut);
    drop(g);
    assert!(m.try_lock().is_some());
}

#[test]
fn try_lock_owned_fails_while_held() {
    let m = Arc::new(Mutex::new(1));
    let g = m.try_lock_owned().unwrap();
    assert!(m.try_lock_owned().is_none());
    assert!(m.try_lock().is_none());
    drop(g);
    assert_eq!(*m.try_lock_owned().unwrap(), 1);
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_guard_moves_into_spawned_task() {
    let m = Arc::new(Mutex::new(0u32));
    let guard = m.clone().lock_owned().await;
    let handle = tokio::spawn(async move {
        let mut guard = guard;
        *guard += 1;
        tokio::task::yield_now().await;
        *guard += 1;
    });
    // The lock is held by the spawned task until it finishes.
    let waited = m.lock().await;
    assert_eq!(*waited, 2);
    drop(waited);
    handle.await.unwrap();

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    let mut g = m.lock_owned().await;
                    *g += 1;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*m.lock().await, 802);
}

#[cfg_attr(
    miri,
    ignore = "thousands of contended blocking locks across threads take minutes under miri"
)]
#[cfg(feature = "std")]
#[test]
fn lock_blocking_from_threads_counts_every_increment() {
    let m = Arc::new(Mutex::new(0usize));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            thread::spawn(move || {
                for _ in 0..1000 {
                    *m.lock_blocking() += 1;
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*m.lock_blocking(), 4000);
    assert!(!m.is_locked());
}

#[cfg(feature = "std")]
#[test]
fn lock_blocking_waits_for_a_task_holder() {
    let m = Arc::new(Mutex::new(0));
    let guard = m.try_lock().unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let t = {
        let (m, started) = (m.clone(), started.clone());
        thread::spawn(move || {
            started.store(true, Ordering::SeqCst);
            let mut g = m.lock_blocking();
            *g += 1;
        })
    };
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    drop(guard);
    t.join().unwrap();
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[cfg(feature = "std")]
#[test]
fn lock_blocking_timeout_is_none_while_held_some_after_release() {
    let m = Mutex::new(5);
    let g = m.try_lock().unwrap();
    assert!(m.lock_blocking_timeout(Duration::from_millis(20)).is_none());
    // The timed-out wait left nothing behind: the holder still owns the lock.
    assert!(m.is_locked());
    drop(g);
    assert!(!m.is_locked());
    assert_eq!(
        *m.lock_blocking_timeout(Duration::from_millis(20)).unwrap(),
        5
    );
    assert!(m.try_lock().is_some());
}

#[cfg(feature = "std")]
#[test]
fn lock_blocking_timeout_gets_a_lock_released_by_another_thread() {
    let m = Arc::new(Mutex::new(0));
    let g = m.clone().try_lock_owned().unwrap();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(g);
    });
    let got = m.lock_blocking_timeout(Duration::from_secs(60));
    assert!(got.is_some());
    drop(got);
    t.join().unwrap();
}

#[cfg(feature = "std")]
#[test]
fn timed_out_blocking_waiter_does_not_swallow_a_wake_up() {
    let m = Arc::new(Mutex::new(()));
    let g = m.try_lock().unwrap();
    let c = Counter::new();
    let mut fut = Box::pin(m.lock());
    assert_pending!(c, fut);
    assert!(m.lock_blocking_timeout(Duration::from_millis(5)).is_none());
    drop(g);
    assert_eq!(c.count(), 1);
    drop(assert_ready!(c, fut));
}

#[cfg(feature = "std")]
#[test]
fn lock_blocking_timeout_huge_timeout_does_not_overflow() {
    let m = Mutex::new(());
    assert!(m.lock_blocking_timeout(Duration::MAX).is_some());
}

#[test]
fn get_mut_into_inner_default_from() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(m.into_inner(), [1, 2]);
    let d: Mutex<String> = Mutex::default();
    assert_eq!(d.into_inner(), "");
    let f = Mutex::from(3u8);
    assert_eq!(*f.try_lock().unwrap(), 3);
    static STATIC: Mutex<u32> = Mutex::new(4);
    assert_eq!(*STATIC.try_lock().unwrap(), 4);
}

#[test]
fn debug_shows_value_or_locked() {
    let m = Mutex::new(5);
    assert_eq!(format!("{m:?}"), "Mutex { data: 5 }");
    let g = m.try_lock().unwrap();
    let locked = format!("{m:?}");
    // With the `diagnostics` feature the holder is shown too (tests/diagnostics.rs).
    assert!(
        locked.starts_with("Mutex { data: <locked>") && locked.ends_with(" }"),
        "{locked}"
    );
    #[cfg(not(feature = "diagnostics"))]
    assert_eq!(locked, "Mutex { data: <locked> }");
    assert_eq!(format!("{g:?}"), "5");
    assert_eq!(format!("{g}"), "5");
    drop(g);
    // Formatting does not leave the mutex locked.
    assert!(!m.is_locked());
    let fut = m.lock();
    assert!(format!("{fut:?}").starts_with("Lock"));
    drop(fut);
    let m = Arc::new(m);
    let fut = m.lock_owned();
    assert!(format!("{fut:?}").starts_with("LockOwned"));
    let g = m.try_lock_owned().unwrap();
    assert_eq!(format!("{g:?} {g}"), "5 5");
}

#[test]
fn guard_map_and_mapped_map() {
    let m = Mutex::new(((1, String::from("a")), 3));
    let g = m.try_lock().unwrap();
    let inner = MutexGuard::map(g, |v| &mut v.0);
    assert!(m.is_locked());
    let mut name: MappedMutexGuard<'_, String> = MappedMutexGuard::map(inner, |v| &mut v.1);
    name.push('b');
    assert_eq!(format!("{name:?}"), "\"ab\"");
    assert!(m.try_lock().is_none(), "the mapped guard keeps the lock");
    drop(name);
    assert!(!m.is_locked());
    assert_eq!(m.try_lock().unwrap().0 .1, "ab");
}

#[test]
fn mapped_guard_unlock_wakes_a_waiter() {
    let m = Mutex::new([1, 2, 3]);
    let mapped = MutexGuard::map(m.try_lock().unwrap(), |a| &mut a[1]);
    let g = pending_until_released(Box::pin(m.lock()), move || drop(mapped));
    assert_eq!(*g, [1, 2, 3]);
}

#[test]
fn guard_source_points_at_its_mutex() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    assert!(std::ptr::eq(MutexGuard::source(&g), &m));
    let m = Arc::new(Mutex::new(0));
    let g = m.try_lock_owned().unwrap();
    assert!(Arc::ptr_eq(OwnedMutexGuard::source(&g), &m));
}

#[test]
fn unsized_slice_in_arc_and_box() {
    let m: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1, 2, 3]));
    m.try_lock().unwrap()[0] = 9;
    let mut fut = Box::pin(m.lock_owned());
    let mut g = assert_ready!(fut);
    g[2] = 7;
    assert_eq!(&*g, &[9, 2, 7]);
    drop(g);
    let b: Box<Mutex<[u8]>> = Box::new(Mutex::new([0; 4]));
    assert_eq!(b.try_lock().unwrap().len(), 4);
    assert_eq!(format!("{b:?}"), "Mutex { data: [0, 0, 0, 0] }");
}

#[test]
fn unsized_dyn_debug() {
    let m: Box<Mutex<dyn Debug + Send>> = Box::new(Mutex::new(42u16));
    assert_eq!(format!("{m:?}"), "Mutex { data: 42 }");
    let g = futures::executor::block_on(m.lock());
    assert_eq!(format!("{:?}", &*g), "42");
    let mapped = MutexGuard::map(g, |v| v);
    drop(mapped);
    assert!(!m.is_locked());
}

#[cfg(feature = "std")]
#[test]
fn panic_while_holding_releases_and_does_not_poison() {
    let m = Mutex::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock_blocking();
        *g = 1;
        panic!("boom");
    }));
    assert!(r.is_err());
    assert!(!m.is_locked());
    // Not poisoned: the value is as the panicking code left it.
    assert_eq!(*m.try_lock().unwrap(), 1);
}

#[test]
fn panic_while_holding_wakes_the_next_waiter() {
    let m = Mutex::new(0);
    let c = Counter::new();
    let mut waiter = Box::pin(m.lock());
    let holder = m.try_lock().unwrap();
    assert_pending!(c, waiter);
    let r = catch_unwind(AssertUnwindSafe(move || {
        let _holder = holder;
        panic!("boom");
    }));
    assert!(r.is_err());
    assert_eq!(c.count(), 1);
    drop(assert_ready!(c, waiter));
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_task_releases_the_lock() {
    let m = Arc::new(Mutex::new(0));
    let task = {
        let m = m.clone();
        tokio::spawn(async move {
            let mut g = m.lock().await;
            *g += 1;
            tokio::task::yield_now().await;
            panic!("task panics while holding the guard");
        })
    };
    let err = task.await.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(*m.lock().await, 1);
}

/// The fairness contract step by step: a woken waiter is overtaken at most once, and then no
/// newcomer (not even `try_lock`) may take the lock before it.
#[test]
fn woken_waiter_is_overtaken_at_most_once() {
    let m = Mutex::new(0);
    let holder = m.try_lock().unwrap();
    let c = Counter::new();
    let mut w = Box::pin(m.lock());
    assert_pending!(c, w);

    drop(holder);
    assert_eq!(c.count(), 1, "the unlock woke W");
    // A running task barges in before W is scheduled: allowed once.
    let barger = m
        .try_lock()
        .expect("barging is allowed while nobody starves");
    assert_pending!(c, w); // W lost the race and is now starving.

    drop(barger);
    assert_eq!(c.count(), 2, "the barger's unlock woke W again");
    assert!(m.try_lock().is_none(), "no barging while W starves");
    let newcomer_c = Counter::new();
    let mut newcomer = Box::pin(m.lock());
    assert_pending!(newcomer_c, newcomer);
    let mut g = assert_ready!(c, w);
    *g += 1;
    drop(g);
    // The newcomer queued behind W and is served next.
    assert_eq!(newcomer_c.count(), 1);
    assert_eq!(*assert_ready!(newcomer_c, newcomer), 1);
    // Starvation mode is over: barging works again.
    assert!(m.try_lock().is_some());
}

/// A waiter among a stream of lockers that keep locking and unlocking (fresh futures and
/// `try_lock` bargers) gets the lock within a small number of their acquisitions.
#[cfg_attr(miri, ignore = "1,000 rounds take minutes under miri")]
#[test]
fn waiter_is_not_starved_by_a_stream_of_lockers() {
    const OTHERS: usize = 3;
    let m = Mutex::new(());
    let mut futs: Vec<Option<std::pin::Pin<Box<unisync::futures::Lock<'_, ()>>>>> =
        (0..OTHERS).map(|_| None).collect();
    let mut guards: Vec<Option<MutexGuard<'_, ()>>> = (0..OTHERS).map(|_| None).collect();
    guards[0] = Some(m.try_lock().unwrap());
    let mut w = Box::pin(m.lock());
    assert_pending!(w);
    let mut others_acquired = 0;
    let mut got = None;
    for _round in 0..1000 {
        for i in 0..OTHERS {
            if guards[i].take().is_some() {
                continue; // released; lock again next round
            }
            // A barger first, then a queued future.
            if let Some(g) = m.try_lock() {
                others_acquired += 1;
                guards[i] = Some(g);
                continue;
            }
            let fut = futs[i].get_or_insert_with(|| Box::pin(m.lock()));
            if let std::task::Poll::Ready(g) = poll_once(fut) {
                futs[i] = None;
                others_acquired += 1;
                guards[i] = Some(g);
            }
        }
        if let std::task::Poll::Ready(g) = poll_once(&mut w) {
            got = Some(g);
            break;
        }
    }
    assert!(got.is_some(), "waiter never got the lock");
    assert!(
        others_acquired <= 2 * OTHERS + 2,
        "waiter was overtaken {others_acquired} times"
    );
}

#[cfg(feature = "std")]
/// A waiting task is not starved by threads that lock and unlock in a tight loop.
#[test]
fn waiter_is_not_starved_by_barging_threads() {
    let m = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let acquired = Arc::new(AtomicUsize::new(0));
    const CAP: usize = 2_000_000;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (m, stop, acquired) = (m.clone(), stop.clone(), acquired.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) && acquired.load(Ordering::Relaxed) < CAP {
                    let _g = m.lock_blocking();
                    acquired.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Let the bargers get going.
    while acquired.load(Ordering::Relaxed) < 1000 {
        thread::yield_now();
    }
    let before = acquired.load(Ordering::Relaxed);
    for _ in 0..20 {
        let g = futures::executor::block_on(m.lock());
        drop(g);
    }
    let overtaken = acquired.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        overtaken < CAP / 2,
        "waiter starved: {overtaken} barging acquisitions"
    );
}

/// Regression: a lock future that was woken by an unlock and then dropped without being polled
/// must hand that wake-up to the next waiter, even when no later unlock comes to cover for it.
#[test]
fn woken_lock_future_dropped_unpolled_wakes_the_next_waiter() {
    let mutex = Mutex::new(0);
    let holder = mutex.try_lock().unwrap();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut first = Box::pin(mutex.lock());
    let mut second = Box::pin(mutex.lock());
    assert!(c1.poll(&mut first).is_pending());
    assert!(c2.poll(&mut second).is_pending());
    drop(holder);
    assert_eq!(c1.count(), 1, "the unlock wakes the oldest waiter");
    assert_eq!(c2.count(), 0);
    drop(first);
    assert_eq!(
        c2.count(),
        1,
        "the dropped future's wake-up was not passed on"
    );
    assert!(c2.poll(&mut second).is_ready());
}

/// Regression for a lost wake-up when two lock futures are polled out of order (the case of
/// async-lock#91): the future registered second is polled first after the unlock, and the one
/// the unlock woke must still get the lock, then hand it to the other.
#[test]
fn two_lock_futures_polled_out_of_order_both_complete() {
    let mutex = Mutex::new(0);
    let holder = mutex.try_lock().unwrap();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut b = Box::pin(mutex.lock());
    let mut a = Box::pin(mutex.lock());
    assert!(cb.poll(&mut b).is_pending());
    assert!(ca.poll(&mut a).is_pending());
    drop(holder);
    // `a` is polled first although the unlock woke `b`, the older waiter: it keeps waiting.
    assert_eq!(cb.count(), 1);
    assert!(ca.poll(&mut a).is_pending());
    let first = match cb.poll(&mut b) {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the woken waiter did not get the free lock"),
    };
    assert!(ca.poll(&mut a).is_pending());
    drop(first);
    assert!(
        ca.count() >= 1,
        "the second waiter was not woken by the unlock"
    );
    assert!(ca.poll(&mut a).is_ready());
}

/// Regression: a woken waiter that loses the lock to a barger keeps its place. It used to
/// re-register at the back, so every waiter queued after it went first (L0…L4, then W).
#[test]
fn overtaken_waiter_keeps_its_place_ahead_of_later_waiters() {
    let m = Mutex::new(Vec::new());
    let holder = m.try_lock().unwrap();
    let w_counter = Counter::new();
    let mut w = Box::pin(m.lock());
    assert_pending!(w_counter, w);
    drop(holder); // wakes W
    let barger = m.try_lock().expect("barging before W runs");
    let counters: Vec<_> = (0..5).map(|_| Counter::new()).collect();
    let mut later: Vec<_> = (0..5).map(|_| Box::pin(m.lock())).collect();
    for (c, l) in counters.iter().zip(later.iter_mut()) {
        assert!(c.poll(l).is_pending());
    }
    assert_pending!(w_counter, w); // W lost the race
    drop(barger);
    // Serve everybody in the order the mutex hands the lock out.
    let mut order = Vec::new();
    let mut pending: Vec<Option<usize>> = (0..6).map(Some).collect();
    while pending.iter().any(Option::is_some) {
        let mut progressed = false;
        for slot in pending.iter_mut() {
            let Some(i) = *slot else { continue };
            let ready = if i == 0 {
                poll_once(&mut w).map(|mut g| g.push(0))
            } else {
                poll_once(&mut later[i - 1]).map(|mut g| g.push(i))
            };
            if ready.is_ready() {
                order.push(i);
                *slot = None;
                progressed = true;
            }
        }
        assert!(progressed, "nobody could take the lock: {order:?}");
    }
    assert_eq!(
        order,
        [0, 1, 2, 3, 4, 5],
        "W first, then the later waiters in order"
    );
    assert_eq!(*m.try_lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

/// Regression: while a woken waiter has not run yet, a barger that locks and unlocks wakes
/// nobody. Each unlock used to wake the oldest waiter still queued, so the waiters behind a
/// woken one were woken too, and whichever ran first took the lock ahead of the older ones.
#[test]
fn bargers_do_not_wake_the_waiters_behind_a_woken_one() {
    let m = Mutex::new(Vec::new());
    let holder = m.try_lock().unwrap();
    let counters: Vec<_> = (0..5).map(|_| Counter::new()).collect();
    let mut waiters: Vec<_> = (0..5).map(|_| Box::pin(m.lock())).collect();
    for (c, w) in counters.iter().zip(waiters.iter_mut()) {
        assert!(c.poll(w).is_pending());
    }
    drop(holder); // wakes the first waiter
    for _ in 0..4 {
        // A running task locks and unlocks before the woken waiter is scheduled.
        drop(
            m.try_lock()
                .expect("barging while the woken waiter has not run"),
        );
    }
    let woken: Vec<_> = counters.iter().map(Counter::count).collect();
    assert_eq!(woken, [1, 0, 0, 0, 0], "only the first waiter was woken");
    // The later waiters, polled anyway, do not get ahead of it.
    for (c, w) in counters.iter().zip(waiters.iter_mut()).skip(1) {
        assert!(c.poll(w).is_pending());
    }
    let mut order = Vec::new();
    for (i, (c, w)) in counters.iter().zip(waiters.iter_mut()).enumerate() {
        let mut g = match c.poll(w) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("waiter {i} was not served in its turn: {order:?}"),
        };
        g.push(i);
        order.push(i);
    }
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

/// A woken waiter whose wait is dropped before it runs passes its turn on: to the next
/// waiter if the lock is free, or through the unlock of a barger that holds it.
#[test]
fn dropped_woken_waiter_passes_its_turn_on_even_behind_a_barger() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let (c1, c2) = (Counter::new(), Counter::new());
    let mut w1 = Box::pin(m.lock());
    let mut w2 = Box::pin(m.lock());
    assert_pending!(c1, w1);
    assert_pending!(c2, w2);
    drop(holder); // wakes W1
    let barger = m.try_lock().expect("barging before W1 runs");
    drop(w1); // W1 goes away while the barger holds the lock
    assert_eq!(c2.count(), 0, "the lock is held: nobody to wake yet");
    drop(barger);
    assert_eq!(c2.count(), 1, "the barger's unlock wakes W2");
    drop(assert_ready!(c2, w2));

    // The same with the lock free when the woken waiter goes away.
    let holder = m.try_lock().unwrap();
    let mut w1 = Box::pin(m.lock());
    let mut w2 = Box::pin(m.lock());
    assert_pending!(c1, w1);
    assert_pending!(c2, w2);
    drop(holder); // wakes W1
    drop(w1);
    assert_eq!(c2.count(), 2, "W1's drop woke W2");
    drop(assert_ready!(c2, w2));
    assert!(m.try_lock().is_some());
}

#[cfg(feature = "std")]
#[test]
fn lock_owned_blocking_waits_for_a_holder_on_another_thread() {
    let m = Arc::new(Mutex::new(0));
    let holder = m.try_lock_owned().unwrap();
    let mut guard = blocked_until_released(
        || m.lock_owned_blocking(),
        move || {
            let mut holder = holder;
            *holder = 1;
        },
    );
    // The guard came back from the waiting thread and still holds the lock.
    assert_eq!(*guard, 1, "the waiter sees what the holder left");
    assert!(Arc::ptr_eq(OwnedMutexGuard::source(&guard), &m));
    assert!(m.try_lock().is_none());
    *guard = 2;
    drop(guard);
    assert!(!m.is_locked());
    assert_eq!(*m.try_lock().unwrap(), 2);
    assert_eq!(Arc::strong_count(&m), 1, "no guard's `Arc` left behind");
}

#[cfg(feature = "std")]
#[test]
fn lock_owned_blocking_timeout_times_out_while_held_and_gets_a_released_lock() {
    let m = Arc::new(Mutex::new(0));
    let holder = m.try_lock_owned().unwrap();
    // A queued task sees that the timed-out wait did not take its wake-up.
    let c = Counter::new();
    let mut task = Box::pin(m.lock());
    assert_pending!(c, task);
    assert!(m
        .lock_owned_blocking_timeout(Duration::from_millis(10))
        .is_none());
    assert!(m.is_locked(), "the holder still holds the lock");
    assert_eq!(Arc::strong_count(&m), 2, "the timed-out wait kept no `Arc`");
    drop(holder);
    assert_eq!(c.count(), 1, "the release woke the queued task");
    drop(assert_ready!(c, task));
    assert!(!m.is_locked());

    // A lock released by another thread is obtained well within the deadline.
    let holder = m.try_lock_owned().unwrap();
    let guard = blocked_until_released(
        || m.lock_owned_blocking_timeout(Duration::from_secs(60)),
        move || drop(holder),
    )
    .expect("the released lock was obtained");
    assert!(Arc::ptr_eq(OwnedMutexGuard::source(&guard), &m));
    assert!(m.try_lock().is_none());
    drop(guard);
    assert!(!m.is_locked());
    assert_eq!(Arc::strong_count(&m), 1);
}

/// Checks that `guard` (any guard of `m`, mapped or not) holds the lock, and that dropping it
/// wakes a queued waiter, which then gets the lock. Returns the value the waiter sees.
fn holds_until_dropped<T: Clone, G>(m: &Mutex<T>, guard: G) -> T {
    assert!(m.is_locked());
    assert!(m.try_lock().is_none(), "the guard holds the lock");
    let g = pending_until_released(Box::pin(m.lock()), move || drop(guard));
    let seen = (*g).clone();
    drop(g);
    assert!(!m.is_locked());
    seen
}

#[test]
fn guard_try_map_some_holds_the_lock_until_dropped() {
    let m = Mutex::new((1u32, Some(2u32)));
    let mut inner: MappedMutexGuard<'_, u32> =
        MutexGuard::try_map(m.try_lock().unwrap(), |v| v.1.as_mut()).unwrap();
    *inner += 3;
    assert_eq!(holds_until_dropped(&m, inner), (1, Some(5)));
}

#[test]
fn guard_try_map_none_gives_back_a_guard_that_holds_the_lock() {
    let m = Mutex::new((1u32, None::<u32>));
    let mut calls = 0;
    let mut g = MutexGuard::try_map(m.try_lock().unwrap(), |v| {
        calls += 1;
        v.1.as_mut()
    })
    .unwrap_err();
    assert_eq!(calls, 1);
    assert!(std::ptr::eq(MutexGuard::source(&g), &m));
    g.0 = 7;
    assert_eq!(holds_until_dropped(&m, g), (7, None));
}

#[test]
fn mapped_guard_try_map_none_keeps_the_lock_and_some_narrows() {
    let m = Mutex::new((1u32, None::<u32>));
    let opt = MutexGuard::map(m.try_lock().unwrap(), |v| &mut v.1);
    let mut opt = MappedMutexGuard::try_map(opt, Option::as_mut).unwrap_err();
    assert!(
        m.try_lock().is_none(),
        "the returned mapped guard holds the lock"
    );
    *opt = Some(10);
    let mut inner = MappedMutexGuard::try_map(opt, Option::as_mut).unwrap();
    *inner += 1;
    assert_eq!(holds_until_dropped(&m, inner), (1, Some(11)));
}

#[test]
fn owned_guard_map_and_try_map_hold_the_lock_until_dropped() {
    let m = Arc::new(Mutex::new((1u32, None::<u32>)));

    let mut first: OwnedMappedMutexGuard<(u32, Option<u32>), u32> =
        OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |v| &mut v.0);
    *first = 2;
    assert_eq!(
        Arc::strong_count(&m),
        2,
        "the mapped guard keeps the mutex alive"
    );
    assert_eq!(holds_until_dropped(&m, first), (2, None));
    assert_eq!(Arc::strong_count(&m), 1);

    let mut g =
        OwnedMutexGuard::try_map(m.try_lock_owned().unwrap(), |v| v.1.as_mut()).unwrap_err();
    assert!(Arc::ptr_eq(OwnedMutexGuard::source(&g), &m));
    assert!(m.try_lock().is_none(), "the returned guard holds the lock");
    g.1 = Some(3);
    let mut inner = OwnedMutexGuard::try_map(g, |v| v.1.as_mut()).unwrap();
    *inner += 1;
    assert_eq!(holds_until_dropped(&m, inner), (2, Some(4)));
    assert_eq!(Arc::strong_count(&m), 1);
}

#[test]
fn owned_mapped_guard_map_and_try_map_hold_the_lock_until_dropped() {
    let m = Arc::new(Mutex::new(((1u32, 2u32), None::<u32>)));

    let pair = OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |v| &mut v.0);
    let mut second = OwnedMappedMutexGuard::map(pair, |p| &mut p.1);
    *second = 20;
    assert_eq!(holds_until_dropped(&m, second), ((1, 20), None));

    let opt = OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |v| &mut v.1);
    let mut opt = OwnedMappedMutexGuard::try_map(opt, Option::as_mut).unwrap_err();
    assert!(
        m.try_lock().is_none(),
        "the returned mapped guard holds the lock"
    );
    *opt = Some(5);
    let mut inner = OwnedMappedMutexGuard::try_map(opt, Option::as_mut).unwrap();
    *inner += 1;
    assert_eq!(holds_until_dropped(&m, inner), ((1, 20), Some(6)));
    assert_eq!(Arc::strong_count(&m), 1, "no guard's `Arc` left behind");
}

#[test]
fn owned_mapped_guard_is_sent_to_another_thread_and_dropped_there() {
    let m = Arc::new(Mutex::new((0u32, vec![1u32, 2, 3])));
    let list = OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |v| &mut v.1);
    let last = OwnedMappedMutexGuard::try_map(list, |l| l.last_mut()).unwrap();
    let c = Counter::new();
    let mut waiter = Box::pin(m.lock());
    assert_pending!(c, waiter);
    thread::spawn(move || {
        let mut last = last;
        *last = 30;
        // Dropped here, on this thread.
    })
    .join()
    .unwrap();
    assert_eq!(c.count(), 1, "the drop on the other thread woke the waiter");
    let g = assert_ready!(c, waiter);
    assert_eq!(g.1, [1, 2, 30]);
    drop(g);
    assert!(!m.is_locked());
    assert_eq!(Arc::strong_count(&m), 1);
}

#[test]
fn owned_mapped_guard_dropped_on_another_thread_can_free_the_mutex_there() {
    /// Counts its drops.
    struct Tracked(Arc<AtomicUsize>, u32);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let m = Arc::new(Mutex::new(Tracked(drops.clone(), 1)));
    let weak = Arc::downgrade(&m);
    let value = OwnedMutexGuard::map(m.try_lock_owned().unwrap(), |t| &mut t.1);
    drop(m); // the mapped guard holds the last `Arc`
    let seen = thread::spawn(move || *value).join().unwrap();
    assert_eq!(seen, 1);
    assert!(
        weak.upgrade().is_none(),
        "the mutex was freed with the guard"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the value was dropped once"
    );
}

/// Locks of `()` (and a semaphore) exclude as any other; a mapped `()` guard stays two words.
#[test]
fn zero_sized_values() {
    use futures::executor::block_on;
    use unisync::{RwLock, Semaphore};
    let m = Mutex::new(());
    let rw = RwLock::new(());
    let s = Semaphore::new(1);
    block_on(async {
        let _g = m.lock().await;
        assert!(m.try_lock().is_none());
        let _r = rw.read().await;
        assert!(rw.try_write().is_none());
        let _p = s.acquire().await.unwrap();
        assert!(s.try_acquire().is_err());
    });
    // With the `diagnostics` feature a mapped guard also carries its holder record.
    #[cfg(not(feature = "diagnostics"))]
    assert_eq!(
        std::mem::size_of_val(&MutexGuard::map(m.try_lock().unwrap(), |u| u)),
        std::mem::size_of::<usize>() * 2
    );
}

/// The `Mutex` docs, "Leaks": a leaked lock future that is woken to try again never does, so
/// no queued waiter is woken after it, while a locker that finds the mutex free gets in.
#[test]
#[cfg_attr(miri, ignore = "leaks a future on purpose")]
fn a_leaked_lock_future_woken_to_retry_leaves_the_mutex_to_lockers_that_find_it_free() {
    let m = Mutex::new(0);
    let holder = m.try_lock().unwrap();
    let (leaked_waker, behind_waker) = (Counter::new(), Counter::new());
    let mut leaked = Box::pin(m.lock());
    assert_pending!(leaked_waker, leaked);
    let mut behind = Box::pin(m.lock());
    assert_pending!(behind_waker, behind);
    std::mem::forget(leaked);
    drop(holder);
    assert_eq!(
        leaked_waker.count(),
        1,
        "the unlock wakes the first waiter to retry"
    );
    assert!(!m.is_locked());
    for _ in 0..3 {
        *assert_ready!(Box::pin(m.lock())) += 1;
        *m.try_lock().expect("the mutex is free") += 1;
    }
    assert_eq!(
        behind_waker.count(),
        0,
        "no unlock wakes past a woken waiter"
    );
    assert_pending!(behind_waker, behind);
    drop(behind);
    assert_eq!(*m.try_lock().unwrap(), 6);
}

//! Poll-level tests of `Semaphore`: permits, errors, closing, limits and weighted fairness.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, blocked_until_released, pending_until_released, Counter,
};
use unisync::{AcquireError, AcquireTimeoutError, Semaphore, TryAcquireError};

#[test]
fn acquire_when_available_is_ready_on_first_poll() {
    let sem = Semaphore::new(2);
    let mut fut = Box::pin(sem.acquire());
    let p = assert_ready!(fut).unwrap();
    assert_eq!(p.num_permits(), 1);
    assert_eq!(sem.available_permits(), 1);
    drop(p);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn acquire_is_pending_then_woken_by_release() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let p = pending_until_released(Box::pin(sem.acquire()), move || drop(held)).unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn acquire_many_waits_for_enough_permits() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire_many(2).unwrap();
    let p = pending_until_released(Box::pin(sem.acquire_many(3)), move || drop(held)).unwrap();
    assert_eq!(p.num_permits(), 3);
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn acquire_is_woken_by_add_permits() {
    let sem = Semaphore::new(0);
    let p = pending_until_released(Box::pin(sem.acquire_many(2)), || sem.add_permits(2)).unwrap();
    assert_eq!(p.num_permits(), 2);
}

#[test]
fn owned_acquires_wait_and_release() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire_owned().unwrap();
    let p = pending_until_released(Box::pin(sem.acquire_owned()), move || drop(held)).unwrap();
    assert!(Arc::ptr_eq(p.semaphore(), &sem));
    drop(p);
    let held = sem.try_acquire_many_owned(1).unwrap();
    let p = pending_until_released(Box::pin(sem.acquire_many_owned(1)), move || drop(held));
    assert_eq!(p.unwrap().num_permits(), 1);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn try_acquire_errors() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(
        sem.try_acquire_many(2).unwrap_err(),
        TryAcquireError::NoPermits
    );
    drop(p);
    assert_eq!(
        sem.try_acquire_many(2).unwrap_err(),
        TryAcquireError::NoPermits
    );
    sem.close();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
    let sem = Arc::new(Semaphore::new(0));
    assert_eq!(
        sem.try_acquire_owned().unwrap_err(),
        TryAcquireError::NoPermits
    );
    sem.close();
    assert_eq!(
        sem.try_acquire_many_owned(1).unwrap_err(),
        TryAcquireError::Closed
    );
}

#[cfg(feature = "std")]
#[test]
fn error_messages_and_error_trait() {
    fn as_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> Box<dyn std::error::Error> {
        Box::new(e)
    }
    assert_eq!(TryAcquireError::Closed.to_string(), "semaphore closed");
    assert_eq!(
        TryAcquireError::NoPermits.to_string(),
        "no permits available"
    );
    assert_eq!(AcquireTimeoutError::Closed.to_string(), "semaphore closed");
    assert_eq!(
        AcquireTimeoutError::Timeout.to_string(),
        "timed out waiting for permits"
    );
    let sem = Semaphore::new(0);
    sem.close();
    let err: AcquireError = futures::executor::block_on(sem.acquire()).unwrap_err();
    assert_eq!(err.to_string(), "semaphore closed");
    assert!(format!("{err:?}").contains("AcquireError"));
    assert!(as_error(err).source().is_none());
    assert!(as_error(TryAcquireError::NoPermits).source().is_none());
    assert!(as_error(AcquireTimeoutError::Timeout).source().is_none());
}

#[test]
fn close_wakes_every_async_waiter_including_the_first() {
    let sem = Semaphore::new(0);
    let (ca, cb, cf) = (Counter::new(), Counter::new(), Counter::new());
    // The first waiter takes permits as they come, without being woken for part of its
    // request.
    let mut first = Box::pin(sem.acquire_many(2));
    assert_pending!(cf, first);
    sem.add_permits(1);
    assert_eq!(cf.count(), 0, "not woken for one permit of two");
    assert_eq!(
        sem.available_permits(),
        0,
        "the first waiter holds the permit it collected"
    );
    let mut a = Box::pin(sem.acquire());
    let mut b = Box::pin(sem.acquire_many(5));
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    assert!(!sem.is_closed());
    sem.close();
    assert!(sem.is_closed());
    assert!(ca.count() > 0 && cb.count() > 0 && cf.count() > 0);
    assert!(assert_ready!(ca, a).is_err());
    assert!(assert_ready!(cb, b).is_err());
    assert!(assert_ready!(cf, first).is_err());
    assert_eq!(
        sem.available_permits(),
        1,
        "the first waiter returned what it had collected"
    );
    // Closing again changes nothing; later waits fail at once.
    sem.close();
    let mut c = Box::pin(sem.acquire());
    assert!(assert_ready!(c).is_err());
}

#[cfg(feature = "std")]
#[test]
fn close_wakes_blocking_waiters() {
    let sem = Arc::new(Semaphore::new(0));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let sem = sem.clone();
            thread::spawn(move || match i {
                0 => sem.acquire_blocking().map(drop).map_err(|_| "closed"),
                1 => sem.acquire_many_blocking(2).map(drop).map_err(|_| "closed"),
                _ => sem
                    .acquire_blocking_timeout(Duration::from_secs(600))
                    .map(drop)
                    .map_err(|e| {
                        assert_eq!(e, AcquireTimeoutError::Closed);
                        "closed"
                    }),
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    sem.close();
    for t in threads {
        assert_eq!(t.join().unwrap(), Err("closed"));
    }
}

#[test]
fn held_permits_stay_valid_after_close() {
    let sem = Semaphore::new(2);
    let p = sem.try_acquire().unwrap();
    sem.close();
    assert_eq!(p.num_permits(), 1);
    drop(p);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn forget_num_permits_merge() {
    let sem = Semaphore::new(5);
    let mut a = sem.try_acquire().unwrap();
    a.merge(sem.try_acquire_many(2).unwrap());
    assert_eq!(a.num_permits(), 3);
    assert_eq!(sem.available_permits(), 2);
    assert!(std::ptr::eq(a.semaphore(), &sem));
    assert!(format!("{a:?}").contains("permits: 3"));
    drop(a);
    assert_eq!(sem.available_permits(), 5);
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.available_permits(), 3);

    let sem = Arc::new(Semaphore::new(3));
    let mut o = sem.try_acquire_owned().unwrap();
    o.merge(sem.try_acquire_many_owned(2).unwrap());
    assert_eq!(o.num_permits(), 3);
    assert!(format!("{o:?}").contains("permits: 3"));
    o.forget();
    assert_eq!(sem.available_permits(), 0);
}

#[test]
fn split_parts_return_on_their_own() {
    let sem = Semaphore::new(4);
    let mut held = sem.try_acquire_many(4).unwrap();
    assert!(held.split(5).is_none(), "cannot split more than it holds");
    assert_eq!(held.num_permits(), 4, "a failed split changes nothing");
    let part = held.split(3).unwrap();
    assert_eq!((held.num_permits(), part.num_permits()), (1, 3));
    assert!(std::ptr::eq(part.semaphore(), &sem));

    // A queued waiter is served by the part that is dropped, while the rest stays held.
    let mut waiter = Box::pin(sem.acquire_many(2));
    assert_pending!(waiter);
    drop(part);
    let served = assert_ready!(waiter).unwrap();
    assert_eq!(served.num_permits(), 2);
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(held.split(0).unwrap().num_permits(), 0);
    held.split(1).unwrap().forget();
    drop(held);
    drop(served);
    assert_eq!(
        sem.available_permits(),
        3,
        "the forgotten part is gone for good"
    );

    let sem = Arc::new(Semaphore::new(3));
    let mut held = sem.try_acquire_many_owned(3).unwrap();
    assert!(held.split(4).is_none());
    let part = held.split(2).unwrap();
    assert_eq!((held.num_permits(), part.num_permits()), (1, 2));
    drop(part);
    assert_eq!(sem.available_permits(), 2);
    drop(held);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
#[should_panic(expected = "same semaphore")]
fn merge_from_another_semaphore_panics() {
    let (s1, s2) = (Semaphore::new(1), Semaphore::new(1));
    let mut a = s1.try_acquire().unwrap();
    a.merge(s2.try_acquire().unwrap());
}

#[test]
#[should_panic(expected = "same semaphore")]
fn owned_merge_from_another_semaphore_panics() {
    let (s1, s2) = (Arc::new(Semaphore::new(1)), Arc::new(Semaphore::new(1)));
    let mut a = s1.try_acquire_owned().unwrap();
    a.merge(s2.try_acquire_owned().unwrap());
}

/// Two permits that together hold more than a semaphore can take back (possible once
/// `add_permits` refilled what the first took) do not merge: the panic says so, and both
/// permits go back to the semaphore whole.
#[test]
fn merge_past_max_permits_panics_and_loses_nothing() {
    let max = Semaphore::MAX_PERMITS;
    let sem = Arc::new(Semaphore::new(max));
    let mut a = sem.try_acquire_many(max).unwrap();
    sem.add_permits(max);
    let b = sem.try_acquire_many(max).unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.merge(b))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("cannot merge permits") && msg.contains("MAX_PERMITS"),
        "{msg}"
    );
    assert_eq!(a.num_permits(), max);
    assert_eq!(
        sem.available_permits(),
        max,
        "the merged-in permit went back"
    );
    // Room for `a` again, which then goes back whole.
    assert_eq!(sem.forget_permits(max), max);
    drop(a);
    assert_eq!(sem.available_permits(), max);

    let mut a = sem.clone().try_acquire_many_owned(max).unwrap();
    sem.add_permits(max);
    let b = sem.clone().try_acquire_many_owned(max).unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.merge(b))).unwrap_err();
    assert!(err
        .downcast_ref::<String>()
        .unwrap()
        .contains("cannot merge permits"));
    assert_eq!(a.num_permits(), max);
    assert_eq!(sem.available_permits(), max);
    assert_eq!(sem.forget_permits(max), max);
    drop(a);
    assert_eq!(sem.available_permits(), max);
}

/// The limit on a merged permit is inclusive, and a guard can split off all it holds.
#[test]
fn merge_up_to_max_permits_and_split_off_everything() {
    let max = Semaphore::MAX_PERMITS;
    let sem = Arc::new(Semaphore::new(max));
    let mut a = sem.try_acquire_many(max - 1).unwrap();
    a.merge(sem.try_acquire().unwrap());
    assert_eq!(a.num_permits(), max);
    let all = a.split(max).unwrap();
    assert_eq!((a.num_permits(), all.num_permits()), (0, max));
    drop((a, all));
    assert_eq!(sem.available_permits(), max);

    let mut a = sem.clone().try_acquire_many_owned(max - 1).unwrap();
    a.merge(sem.clone().try_acquire_owned().unwrap());
    assert_eq!(a.num_permits(), max);
    let all = a.split(max).unwrap();
    assert_eq!((a.num_permits(), all.num_permits()), (0, max));
    assert!(a.split(1).is_none());
    drop(a);
    assert_eq!(sem.available_permits(), 0);
    drop(all);
    assert_eq!(sem.available_permits(), max);
}

#[cfg(feature = "std")]
#[test]
fn acquire_many_zero_is_ready_at_once() {
    let sem = Semaphore::new(0);
    let mut fut = Box::pin(sem.acquire_many(0));
    let p = assert_ready!(fut).unwrap();
    assert_eq!(p.num_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    assert_eq!(sem.acquire_many_blocking(0).unwrap().num_permits(), 0);
    sem.close();
    let mut fut = Box::pin(sem.acquire_many(0));
    assert!(
        assert_ready!(fut).is_err(),
        "a closed semaphore fails even for zero"
    );
}

#[test]
fn acquire_many_zero_is_ready_while_a_head_collects() {
    let sem = Semaphore::new(0);
    let mut head = Box::pin(sem.acquire_many(2));
    assert_pending!(head);
    sem.add_permits(1);
    assert_pending!(head);
    let mut zero = Box::pin(sem.acquire_many(0));
    assert!(assert_ready!(zero).is_ok());
    sem.add_permits(1);
    assert_eq!(assert_ready!(head).unwrap().num_permits(), 2);
}

#[test]
fn new_at_max_permits_is_fine() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    assert_eq!(Semaphore::MAX_PERMITS, usize::MAX >> 3);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn new_above_max_permits_panics() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn acquire_many_above_max_permits_panics() {
    let sem = Semaphore::new(0);
    let _fut = sem.acquire_many(Semaphore::MAX_PERMITS + 1);
}

#[cfg(feature = "std")]
#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn acquire_many_blocking_above_max_permits_panics() {
    let sem = Semaphore::new(0);
    let _ = sem.acquire_many_blocking(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn add_permits_overflow_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    sem.add_permits(1);
}

#[test]
fn add_permits_overflow_leaves_the_count_unchanged() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS - 1);
    let r = catch_unwind(AssertUnwindSafe(|| sem.add_permits(2)));
    let msg = r.unwrap_err();
    let msg = msg
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| msg.downcast_ref::<&str>().copied())
        .unwrap();
    assert!(msg.contains("MAX_PERMITS"), "{msg}");
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS - 1);
    let r = catch_unwind(AssertUnwindSafe(|| sem.add_permits(usize::MAX)));
    assert!(r.is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS - 1);
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    assert!(!sem.is_closed());
}

#[cfg(feature = "std")]
#[test]
fn acquire_blocking_timeout_distinguishes_timeout_from_closed() {
    let sem = Semaphore::new(1);
    let p = sem
        .acquire_blocking_timeout(Duration::from_millis(5))
        .unwrap();
    assert_eq!(
        sem.acquire_blocking_timeout(Duration::from_millis(10))
            .unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    assert_eq!(
        sem.acquire_many_blocking_timeout(2, Duration::from_millis(10))
            .unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    drop(p);
    assert_eq!(sem.available_permits(), 1, "timed-out waits took nothing");
    sem.close();
    assert_eq!(
        sem.acquire_blocking_timeout(Duration::from_millis(10))
            .unwrap_err(),
        AcquireTimeoutError::Closed
    );
    assert!(sem.acquire_blocking().is_err());
}

#[cfg(feature = "std")]
#[test]
fn acquire_blocking_gets_permits_released_by_another_thread() {
    let sem = Arc::new(Semaphore::new(2));
    let held = sem.try_acquire_many_owned(2).unwrap();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(held);
    });
    let p = sem.acquire_many_blocking(2).unwrap();
    assert_eq!(p.num_permits(), 2);
    drop(p);
    t.join().unwrap();
    let p = sem
        .acquire_many_blocking_timeout(2, Duration::from_secs(600))
        .unwrap();
    assert_eq!(p.num_permits(), 2);
}

#[test]
fn debug_and_default() {
    let sem = Semaphore::default();
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available_permits: 0, closed: false }"
    );
    let fut = sem.acquire_many(3);
    assert!(format!("{fut:?}").starts_with("Acquire"));
    drop(fut);
    static S: Semaphore = Semaphore::new(4);
    assert_eq!(S.available_permits(), 4);
}

/// `acquire_many(3)` on a 3-permit semaphore, while single permits keep being released and
/// taken again by `acquire()` callers, completes after a small number of small acquires.
#[test]
fn acquire_many_is_not_starved_by_single_acquires() {
    let sem = Semaphore::new(3);
    let mut small: Vec<_> = (0..3).map(|_| Some(sem.try_acquire().unwrap())).collect();
    let cb = Counter::new();
    let mut big = Box::pin(sem.acquire_many(3));
    assert_pending!(cb, big);
    let mut small_acquired = 0;
    let mut got = None;
    'outer: for _round in 0..100 {
        for slot in small.iter_mut() {
            // Release one single permit and let a fresh caller try to take it.
            drop(slot.take());
            let mut fut = Box::pin(sem.acquire());
            if let std::task::Poll::Ready(p) = common::poll_once(&mut fut) {
                small_acquired += 1;
                *slot = Some(p.unwrap());
            }
            drop(fut);
            if let std::task::Poll::Ready(p) = cb.poll(&mut big) {
                got = Some(p.unwrap());
                break 'outer;
            }
        }
    }
    let got = got.expect("acquire_many(3) was starved");
    assert_eq!(got.num_permits(), 3);
    assert!(
        small_acquired <= 3,
        "{small_acquired} small acquires overtook"
    );
    drop(got);
    small.clear();
    assert_eq!(sem.available_permits(), 3);
}

/// Two releases that happen before the first woken waiter runs must wake two waiters.
#[test]
fn two_releases_before_the_first_waiter_runs_wake_two_waiters() {
    let sem = Semaphore::new(0);
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(sem.acquire());
    let mut b = Box::pin(sem.acquire());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    sem.add_permits(1);
    sem.add_permits(1);
    let pa = assert_ready!(ca, a).unwrap();
    assert_eq!(sem.available_permits(), 0, "the second permit went to `b`");
    assert!(
        cb.count() > 0,
        "second waiter asleep while a permit is waiting for it"
    );
    let pb = assert_ready!(cb, b).unwrap();
    drop((pa, pb));
    assert_eq!(sem.available_permits(), 2);
}

/// The same lost wake-up through permit drops: two holders drop their permits back to back,
/// both waiters must be woken.
#[test]
fn two_permit_drops_in_a_row_wake_two_waiters() {
    let sem = Semaphore::new(2);
    let p1 = sem.try_acquire().unwrap();
    let p2 = sem.try_acquire().unwrap();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(sem.acquire());
    let mut b = Box::pin(sem.acquire());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    drop(p1);
    drop(p2);
    assert!(ca.count() > 0, "first waiter woken");
    assert!(cb.count() > 0, "second waiter woken");
}

/// A woken waiter that is dropped passes its wake-up on even when another waiter had already
/// been woken too.
#[test]
fn dropped_woken_waiter_passes_on_beside_another_woken_waiter() {
    let sem = Semaphore::new(0);
    let (ca, cb, cc) = (Counter::new(), Counter::new(), Counter::new());
    let mut a = Box::pin(sem.acquire());
    let mut b = Box::pin(sem.acquire());
    let mut c = Box::pin(sem.acquire());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    assert_pending!(cc, c);
    sem.add_permits(2);
    assert!(ca.count() > 0 && cb.count() > 0);
    drop(a);
    assert!(cc.count() > 0, "a's wake-up reached c");
    let pb = assert_ready!(cb, b).unwrap();
    let pc = assert_ready!(cc, c).unwrap();
    drop((pb, pc));
    assert_eq!(sem.available_permits(), 2);
}

/// Regression: with 4 permits free, a queued `acquire_many(5)` was overtaken by a later
/// `acquire_many(3)`. Waiters are now served strictly in arrival order.
#[test]
fn weighted_waiters_are_served_in_arrival_order() {
    let sem = Semaphore::new(4);
    let (ca, cb, cc) = (Counter::new(), Counter::new(), Counter::new());
    let mut five = Box::pin(sem.acquire_many(5));
    assert_pending!(ca, five);
    let mut three = Box::pin(sem.acquire_many(3));
    assert_pending!(cb, three);
    assert_eq!(
        sem.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits,
        "try_acquire does not overtake a waiter"
    );
    let mut one = Box::pin(sem.acquire());
    assert_pending!(cc, one);
    sem.add_permits(1);
    let five = assert_ready!(ca, five).unwrap();
    assert_eq!(five.num_permits(), 5);
    assert_eq!(cb.count(), 0, "three waits for three permits");
    sem.add_permits(2);
    assert_pending!(cb, three);
    assert_pending!(cc, one);
    drop(five);
    assert_eq!(assert_ready!(cb, three).unwrap().num_permits(), 3);
    assert_eq!(assert_ready!(cc, one).unwrap().num_permits(), 1);
    assert_eq!(sem.available_permits(), 4 + 1 + 2);
}

/// Regression: returning permits past `MAX_PERMITS` added, then subtracted, then panicked,
/// and an `add_permits` racing in that window succeeded against a wrapped count. A return
/// still adds first (one atomic addition), but the count has room above the limit, so
/// nothing wraps: an `add_permits` in that window finds no room, the return takes its
/// permits back out, and the count seen never leaves its range.
#[test]
fn overflowing_returns_racing_add_permits_keep_the_count_whole() {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("MAX_PERMITS") {
            quiet(info);
        }
    }));
    let sem = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
    let rounds = if cfg!(miri) { 20 } else { 2_000 };
    let dropper = {
        let sem = sem.clone();
        thread::spawn(move || {
            for _ in 0..rounds {
                let Ok(permit) = sem.try_acquire() else {
                    continue;
                };
                // Refill, so that returning the permit overflows.
                let _ = catch_unwind(AssertUnwindSafe(|| sem.add_permits(1)));
                let _ = catch_unwind(AssertUnwindSafe(|| drop(permit)));
                let now = sem.available_permits();
                assert!(
                    now >= Semaphore::MAX_PERMITS - 2,
                    "count collapsed to {now}"
                );
            }
        })
    };
    for _ in 0..rounds {
        let _ = catch_unwind(AssertUnwindSafe(|| sem.add_permits(1)));
        let now = sem.available_permits();
        assert!(
            now >= Semaphore::MAX_PERMITS - 2,
            "count collapsed to {now}"
        );
    }
    dropper.join().unwrap();
    let _ = std::panic::take_hook();
    let now = sem.available_permits();
    assert!((Semaphore::MAX_PERMITS - 2..=Semaphore::MAX_PERMITS).contains(&now));
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn dropping_a_permit_into_a_full_semaphore_panics() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let permit = sem.try_acquire().unwrap();
    sem.add_permits(1);
    drop(permit);
}

#[test]
fn dropping_a_permit_into_a_full_semaphore_changes_nothing() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let permit = sem.try_acquire().unwrap();
    sem.add_permits(1);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(permit))).is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    assert!(sem.try_acquire().is_ok());
}

/// Regression: a permit dropped into a full semaphore while its thread was already unwinding
/// panicked again, which aborts the process. It now keeps to the rule the waits follow: the
/// permits that do not fit are dropped and the first panic reaches the caller.
#[test]
// Without `std` the crate cannot tell that the thread is unwinding: the drop aborts.
#[cfg(feature = "std")]
fn a_permit_dropped_while_unwinding_into_a_full_semaphore_does_not_panic_again() {
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let owned = Arc::new(Semaphore::new(Semaphore::MAX_PERMITS));
    let payload = catch_unwind(AssertUnwindSafe(|| {
        let _permit = sem.try_acquire().unwrap();
        let _owned = owned.clone().try_acquire_owned().unwrap();
        sem.add_permits(1);
        owned.add_permits(1);
        panic!("the holder's own panic");
    }))
    .expect_err("the closure panics");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"the holder's own panic")
    );
    for sem in [&sem, &*owned] {
        assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
        assert!(sem.try_acquire().is_ok());
    }
}

/// `add_permits` past the limit says it was adding, and how many went to waiters first.
#[test]
fn add_permits_past_the_limit_says_what_was_refused() {
    let sem = Semaphore::new(0);
    let mut waiter = Box::pin(sem.acquire_many(3));
    assert_pending!(waiter);
    let payload = catch_unwind(AssertUnwindSafe(|| sem.add_permits(usize::MAX)))
        .expect_err("the count cannot hold them");
    let message = payload.downcast_ref::<String>().unwrap();
    let refused = usize::MAX - 3;
    assert!(
        message.starts_with(&format!("adding {} permits would exceed", usize::MAX))
            && message.ends_with(&format!("3 went to waiters, {refused} did not fit")),
        "{message}"
    );
    let served = assert_ready!(waiter).unwrap();
    assert_eq!((served.num_permits(), sem.available_permits()), (3, 0));
    drop(served);
    assert_eq!(sem.available_permits(), 3);

    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    let payload = catch_unwind(AssertUnwindSafe(|| sem.add_permits(1))).expect_err("full");
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        &format!(
            "adding 1 permit would exceed `Semaphore::MAX_PERMITS` ({})",
            Semaphore::MAX_PERMITS
        )
    );
}

/// Regression: an acquire served while it waited and dropped before its next poll gave its
/// permits back with only a debug assertion, so a release build lost them silently when
/// `add_permits` had filled the semaphore meanwhile. It now panics as the permit's drop does.
#[test]
fn dropping_a_served_acquire_into_a_full_semaphore_panics_like_its_permit() {
    fn served_then_filled(sem: &Semaphore) -> std::pin::Pin<Box<unisync::futures::Acquire<'_>>> {
        let mut fut = Box::pin(sem.acquire_many(3));
        assert_pending!(fut);
        // One permit completes the wait; the rest fill the count to one below the limit.
        sem.add_permits(Semaphore::MAX_PERMITS);
        assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS - 1);
        fut
    }
    fn panic_message(f: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
        match payload.downcast::<String>() {
            Ok(message) => *message,
            Err(payload) => payload.downcast_ref::<&str>().unwrap().to_string(),
        }
    }

    let sem = Semaphore::new(2);
    let mut fut = served_then_filled(&sem);
    let permit = assert_ready!(fut).unwrap();
    let by_permit = panic_message(|| drop(permit));
    assert!(by_permit.contains("returning 3 permits"), "{by_permit}");

    let sem = Semaphore::new(2);
    let fut = served_then_filled(&sem);
    assert_eq!(panic_message(|| drop(fut)), by_permit);
    // Nothing was added: the count is where the fill left it, and the semaphore still works.
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS - 1);
    assert!(sem.try_acquire().is_ok());
}

/// Regression: `try_acquire_many(0)` failed while a waiter was queued, though
/// `acquire_many(0)` succeeded; and `try_acquire_many(n > MAX_PERMITS)` returned an error
/// where `acquire_many` of the same `n` panicked. One rule now: zero permits succeed unless
/// the semaphore is closed, and more than `MAX_PERMITS` panics.
#[test]
fn zero_permits_succeed_while_a_waiter_is_queued() {
    let sem = Semaphore::new(0);
    let c = Counter::new();
    let mut waiter = Box::pin(sem.acquire_many(2));
    assert_pending!(c, waiter);
    // Part of its request arrives: the waiter holds it and waits on for the rest.
    sem.add_permits(1);
    assert_pending!(c, waiter);
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    let mut zero = Box::pin(sem.acquire_many(0));
    assert_eq!(assert_ready!(zero).unwrap().num_permits(), 0);
    sem.close();
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
    let mut zero = Box::pin(sem.acquire_many(0));
    assert!(assert_ready!(zero).is_err());
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn try_acquire_many_above_max_permits_panics() {
    let sem = Semaphore::new(0);
    let _ = sem.try_acquire_many(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn try_acquire_many_owned_above_max_permits_panics() {
    let sem = Arc::new(Semaphore::new(0));
    let _ = sem.try_acquire_many_owned(Semaphore::MAX_PERMITS + 1);
}

#[cfg(feature = "std")]
#[test]
fn acquire_owned_blocking_waits_for_a_permit_released_on_another_thread() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire_owned().unwrap();
    let p = blocked_until_released(|| sem.acquire_owned_blocking(), move || drop(held))
        .expect("not closed");
    assert_eq!(p.num_permits(), 1);
    assert!(Arc::ptr_eq(p.semaphore(), &sem));
    assert_eq!(
        sem.available_permits(),
        0,
        "the permit came back with the waiter"
    );
    drop(p);
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(Arc::strong_count(&sem), 1);
}

#[cfg(feature = "std")]
#[test]
fn acquire_many_owned_blocking_waits_for_enough_permits() {
    let sem = Arc::new(Semaphore::new(3));
    let held = sem.try_acquire_many_owned(2).unwrap();
    // One permit is free, but the waiter needs all three.
    let p = blocked_until_released(|| sem.acquire_many_owned_blocking(3), move || drop(held))
        .expect("not closed");
    assert_eq!(p.num_permits(), 3);
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(Arc::strong_count(&sem), 1);
}

#[cfg(feature = "std")]
#[test]
fn acquire_owned_blocking_fails_when_closed_while_waiting() {
    let sem = Arc::new(Semaphore::new(0));
    let err = blocked_until_released(|| sem.acquire_owned_blocking(), || sem.close()).unwrap_err();
    assert_eq!(err.to_string(), "semaphore closed");
    assert!(sem.acquire_many_owned_blocking(2).is_err());
    assert_eq!(Arc::strong_count(&sem), 1, "failed waits keep no `Arc`");
}

#[cfg(feature = "std")]
#[test]
fn owned_blocking_timeouts_time_out_while_held_and_get_released_permits() {
    let sem = Arc::new(Semaphore::new(2));
    let held = sem.try_acquire_owned().unwrap();
    let t = Duration::from_millis(10);
    let one = sem.acquire_owned_blocking_timeout(t).unwrap();
    assert_eq!(
        sem.acquire_owned_blocking_timeout(t).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    drop(one);
    // One permit is free; a wait for two times out and gives back the one it collected.
    assert_eq!(
        sem.acquire_many_owned_blocking_timeout(2, t).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    assert_eq!(sem.available_permits(), 1, "timed-out waits took nothing");
    assert_eq!(Arc::strong_count(&sem), 2, "only `held` refers to it");

    // Permits released by another thread are obtained well within the deadline.
    let p = blocked_until_released(
        || sem.acquire_many_owned_blocking_timeout(2, Duration::from_secs(60)),
        move || drop(held),
    )
    .expect("the released permits were obtained");
    assert_eq!(p.num_permits(), 2);
    assert!(Arc::ptr_eq(p.semaphore(), &sem));
    let q = blocked_until_released(
        || sem.acquire_owned_blocking_timeout(Duration::from_secs(60)),
        move || drop(p),
    )
    .expect("a released permit was obtained");
    assert_eq!(q.num_permits(), 1);
    assert_eq!(sem.available_permits(), 1);
    drop(q);

    sem.close();
    assert_eq!(
        sem.acquire_owned_blocking_timeout(t).unwrap_err(),
        AcquireTimeoutError::Closed
    );
    assert_eq!(
        sem.acquire_many_owned_blocking_timeout(2, t).unwrap_err(),
        AcquireTimeoutError::Closed
    );
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(Arc::strong_count(&sem), 1);
}

#[cfg(feature = "std")]
/// Every `_owned` method borrows the `Arc`: the caller keeps it, and each permit holds one
/// clone of it for as long as it lives.
#[test]
fn owned_methods_borrow_the_arc_and_permits_hold_a_clone() {
    let sem = Arc::new(Semaphore::new(10));
    let t = Duration::from_secs(60);
    let permits = vec![
        sem.try_acquire_owned().unwrap(),
        sem.try_acquire_many_owned(2).unwrap(),
        futures::executor::block_on(sem.acquire_owned()).unwrap(),
        futures::executor::block_on(sem.acquire_many_owned(2)).unwrap(),
        sem.acquire_owned_blocking().unwrap(),
        sem.acquire_many_owned_blocking(1).unwrap(),
        sem.acquire_owned_blocking_timeout(t).unwrap(),
        sem.acquire_many_owned_blocking_timeout(1, t).unwrap(),
    ];
    assert_eq!(Arc::strong_count(&sem), 1 + permits.len());
    assert_eq!(sem.available_permits(), 0);
    assert!(permits.iter().all(|p| Arc::ptr_eq(p.semaphore(), &sem)));
    drop(permits);
    assert_eq!(Arc::strong_count(&sem), 1);
    assert_eq!(sem.available_permits(), 10);
}

#[test]
fn forget_permits_takes_only_free_permits_and_returns_the_count() {
    let sem = Semaphore::new(5);
    let held = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.forget_permits(0), 0);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.forget_permits(1), 1);
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(sem.forget_permits(10), 2, "only the free permits are taken");
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.forget_permits(1), 0, "held permits are not touched");
    assert_eq!(held.num_permits(), 2);
    drop(held);
    assert_eq!(
        sem.available_permits(),
        2,
        "held permits come back as usual"
    );
    assert_eq!(sem.forget_permits(usize::MAX), 2);
    assert_eq!(
        sem.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits,
        "forgotten permits are gone"
    );
    sem.add_permits(1);
    assert_eq!(sem.try_acquire().unwrap().num_permits(), 1);
}

#[test]
fn forget_permits_takes_nothing_while_a_waiter_is_queued() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire().unwrap();
    let c = Counter::new();
    let mut waiter = Box::pin(sem.acquire_many(3));
    assert_pending!(c, waiter);
    assert_eq!(
        sem.available_permits(),
        0,
        "the queued waiter collects the free permit"
    );
    assert_eq!(sem.forget_permits(1), 0);
    drop(held);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.forget_permits(5), 0);
    assert_eq!(c.count(), 0, "still one permit short");
    sem.add_permits(1);
    assert_eq!(c.count(), 1);
    let p = assert_ready!(c, waiter).unwrap();
    assert_eq!(
        p.num_permits(),
        3,
        "the waiter got every permit it collected"
    );
    drop(p);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.forget_permits(2), 2);
    assert_eq!(sem.available_permits(), 1);
}

#[cfg(feature = "std")]
#[test]
fn acquire_error_debug_is_readable() {
    let sem = Arc::new(Semaphore::new(0));
    sem.close();
    let from_async = futures::executor::block_on(sem.acquire()).unwrap_err();
    let from_blocking = sem.acquire_blocking().unwrap_err();
    let from_owned = sem.acquire_owned_blocking().unwrap_err();
    for err in [from_async, from_blocking, from_owned] {
        assert_eq!(format!("{err:?}"), "AcquireError(semaphore closed)");
    }
    let res: Result<(), AcquireError> = Err(from_async);
    assert_eq!(format!("{res:?}"), "Err(AcquireError(semaphore closed))");
}

/// `close` fails every queued acquire in one step: an acquire polled after another one saw the
/// close fails too, even while `close` is still waking the waiters batch by batch.
#[test]
fn an_acquire_polled_after_another_saw_the_close_fails_too() {
    // A static, not a leak: the waits are kept by a waker, which must be `'static`.
    static SEM: Semaphore = Semaphore::new(0);
    let sem = &SEM;
    common::one_release_ends_every_wait_at_once(|| sem.acquire(), || sem.close());
}

/// Permits returned while `close` is still failing the queued acquires go back to the count,
/// not to a waiter `close` has not reached yet: every acquire queued before the close fails.
#[test]
fn permits_returned_during_close_go_to_no_waiter() {
    use std::sync::Mutex as StdMutex;
    use std::task::{Poll, Wake, Waker};

    use common::poll_once;

    struct AddsPermits(&'static Semaphore, StdMutex<bool>);
    impl Wake for AddsPermits {
        fn wake(self: Arc<Self>) {
            // Called by `close` between two batches of wake-ups.
            self.0.add_permits(1);
            *self.1.lock().unwrap() = true;
        }
    }

    // A static, not a leak: the waker that adds permits must be `'static`.
    static SEM: Semaphore = Semaphore::new(0);
    let sem = &SEM;
    let adds = Arc::new(AddsPermits(sem, StdMutex::new(false)));
    let mut first = Box::pin(sem.acquire());
    assert!(common::poll_with(&mut first, &Waker::from(adds.clone())).is_pending());
    // More than one batch of wake-ups behind it.
    let mut rest: Vec<_> = (0..40).map(|_| Box::pin(sem.acquire())).collect();
    for wait in &mut rest {
        assert!(poll_once(wait).is_pending());
    }
    sem.close();
    assert!(*adds.1.lock().unwrap(), "close woke the first acquire");
    assert!(matches!(poll_once(&mut first), Poll::Ready(Err(_))));
    for wait in &mut rest {
        assert!(
            matches!(poll_once(wait), Poll::Ready(Err(_))),
            "an acquire queued before the close got a permit"
        );
    }
    assert_eq!(sem.available_permits(), 1);
}

/// `Semaphore::close`: "every pending and later acquire fails with an error ... once one
/// queued acquire has failed, any other polled after it fails too".
///
/// An `add_permits` that started before the close is held between two batches; the close is
/// then held between two of its own; the older release, let go first, goes on handing permits
/// to the waiters the close has not reached yet (it read "closed" once, before its first
/// batch).
#[test]
fn a_release_still_waking_hands_no_permit_to_a_waiter_after_close() {
    static SEM: Semaphore = Semaphore::new(0);
    let releasing = common::Stall::new();
    let closing = common::Stall::new();
    let noop = futures::task::noop_waker();
    // 70 waiters: the release pops 0..32, the close 32..64, and 64..70 are left.
    let mut waits: Vec<_> = (0..70).map(|_| Box::pin(SEM.acquire())).collect();
    for (i, wait) in waits.iter_mut().enumerate() {
        let waker = match i {
            0 => releasing.waker(),
            32 => closing.waker(),
            _ => noop.clone(),
        };
        assert!(common::poll_with(wait, &waker).is_pending());
    }
    let release = std::thread::spawn(|| SEM.add_permits(100));
    releasing.wait_until_entered();
    let close = std::thread::spawn(|| SEM.close());
    closing.wait_until_entered();

    // A waiter the close reached fails.
    assert!(matches!(
        common::poll_once(&mut waits[32]),
        std::task::Poll::Ready(Err(_))
    ));
    // Let the older release go on while the close is still between its batches.
    releasing.go_on();
    release.join().unwrap();
    closing.go_on();
    close.join().unwrap();

    let mut granted_after_close = Vec::new();
    for (i, wait) in waits.iter_mut().enumerate().skip(33) {
        match common::poll_once(wait) {
            std::task::Poll::Ready(Ok(permit)) => {
                granted_after_close.push(i);
                drop(permit);
            }
            std::task::Poll::Ready(Err(_)) => {}
            std::task::Poll::Pending => panic!("waiter {i} was stranded"),
        }
    }
    assert!(
        granted_after_close.is_empty(),
        "waiters polled after a failed one got permits after close: {granted_after_close:?}"
    );
    for wait in &mut waits[..32] {
        drop(common::poll_once(wait));
    }
}

#[test]
fn an_acquire_served_before_close_but_polled_after_it_fails_and_gives_its_permits_back() {
    // "Every pending acquire fails": one already given its permits is still pending until it
    // is polled, as in tokio.
    let sem = Semaphore::new(0);
    let mut one = Box::pin(sem.acquire());
    let mut two = Box::pin(sem.acquire_many(2));
    assert!(common::poll_once(&mut one).is_pending());
    assert!(common::poll_once(&mut two).is_pending());
    sem.add_permits(3);
    sem.close();
    assert!(matches!(
        common::poll_once(&mut one),
        std::task::Poll::Ready(Err(_))
    ));
    assert!(matches!(
        common::poll_once(&mut two),
        std::task::Poll::Ready(Err(_))
    ));
    assert_eq!(
        sem.available_permits(),
        3,
        "the permits they were given went back"
    );
}

/// Regression: a thread queued in a later wake-up batch than a slow waker reported a timeout
/// though the semaphore had been closed before its deadline.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn timed_blocking_acquire_sees_a_close_that_came_before_its_deadline() {
    common::timed_wait_counts_a_release_before_its_deadline(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waits = common::full_batch(|| {
            let sem = sem.clone();
            async move { assert!(sem.acquire().await.is_err()) }
        });
        let (timed, close) = (sem.clone(), sem);
        common::BehindABatch {
            waits,
            timed: Box::new(
                move |timeout| match timed.acquire_blocking_timeout(timeout) {
                    Err(AcquireTimeoutError::Closed) => true,
                    Err(AcquireTimeoutError::Timeout) => false,
                    Ok(_) => panic!("no permits to take"),
                },
            ),
            release: Box::new(move || close.close()),
        }
    });
}

/// A partly served acquire that finds the semaphore closed gives its permit back as it fails;
/// past `MAX_PERMITS` that poll panics, as the docs say, and the count stays consistent.
#[test]
fn polling_a_closed_partly_served_acquire_into_a_full_semaphore_panics() {
    let sem = Semaphore::new(1);
    let mut acquire = Box::pin(sem.acquire_many(2));
    assert_pending!(acquire);
    sem.close();
    sem.add_permits(Semaphore::MAX_PERMITS);
    let payload = catch_unwind(AssertUnwindSafe(|| common::poll_once(&mut acquire)))
        .expect_err("the poll gives back one permit too many");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("returning 1 permit would"), "{message}");
    drop(acquire);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
}

/// As the type's docs say under Leaks: an acquire leaked while queued is handed its permits
/// when its turn comes, which are then lost, and the waiters behind it are served as usual.
#[test]
#[cfg_attr(miri, ignore = "leaks a future on purpose")]
fn a_leaked_acquire_is_served_in_turn_and_holds_back_nobody() {
    use common::poll_once;
    use std::task::Poll;

    let sem = Semaphore::new(0);
    let mut leaked = Box::pin(sem.acquire_many(2));
    let mut next = Box::pin(sem.acquire());
    assert!(poll_once(&mut leaked).is_pending());
    assert!(poll_once(&mut next).is_pending());
    std::mem::forget(leaked);
    sem.add_permits(3);
    match poll_once(&mut next) {
        Poll::Ready(Ok(permit)) => drop(permit),
        other => panic!("the waiter behind a leaked acquire was not served: {other:?}"),
    }
    assert_eq!(
        sem.available_permits(),
        1,
        "the leaked acquire's two permits are lost"
    );
}

/// A permit added while `close` wakes its batches goes to the count, not to a waiter that
/// `close` has not reached yet: that waiter fails like the others. (Handed the permit, it
/// would give it back when polled, so only the count before that poll tells.)
#[test]
fn permits_added_while_close_wakes_its_batches_stay_in_the_count() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Poll, Wake, Waker};

    static SEM: Semaphore = Semaphore::new(0);
    /// Adds a permit when woken, between `close`'s first and second batch, and records the
    /// count it sees then.
    struct AddsPermit(AtomicUsize);
    impl Wake for AddsPermit {
        fn wake(self: Arc<Self>) {
            SEM.add_permits(1);
            self.0.store(SEM.available_permits() + 1, Ordering::SeqCst);
        }
    }
    let adds = Arc::new(AddsPermit(AtomicUsize::new(0)));
    let mut first = Box::pin(SEM.acquire());
    assert!(common::poll_with(&mut first, &Waker::from(adds.clone())).is_pending());
    // More than one wake-up batch (32).
    let mut rest: Vec<_> = (0..40).map(|_| Box::pin(SEM.acquire())).collect();
    for wait in &mut rest {
        assert!(common::poll_once(wait).is_pending());
    }
    SEM.close();
    assert_eq!(
        adds.0.load(Ordering::SeqCst),
        2,
        "the waker saw another count than 1 after adding its permit (0: it never ran)"
    );
    assert_eq!(SEM.available_permits(), 1, "before any waiter is polled");
    for wait in std::iter::once(&mut first).chain(rest.iter_mut()) {
        assert!(matches!(common::poll_once(wait), Poll::Ready(Err(_))));
    }
    assert_eq!(SEM.available_permits(), 1);
}

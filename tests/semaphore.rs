//! Poll-level tests of `Semaphore`: permits, errors, closing, limits and weighted fairness.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{assert_pending, assert_ready, pending_until_released, Counter};
use unisync::{AcquireError, AcquireTimeoutError, Semaphore, TryAcquireError};

#[test]
fn acquire_when_available_is_ready_on_first_poll() {
    let sem = Semaphore::new(2);
    let mut fut = sem.acquire();
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
    let p = pending_until_released(sem.acquire(), move || drop(held)).unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn acquire_many_waits_for_enough_permits() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire_many(2).unwrap();
    let p = pending_until_released(sem.acquire_many(3), move || drop(held)).unwrap();
    assert_eq!(p.num_permits(), 3);
    assert_eq!(sem.available_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn acquire_is_woken_by_add_permits() {
    let sem = Semaphore::new(0);
    let p = pending_until_released(sem.acquire_many(2), || sem.add_permits(2)).unwrap();
    assert_eq!(p.num_permits(), 2);
}

#[test]
fn owned_acquires_wait_and_release() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.clone().try_acquire_owned().unwrap();
    let p = pending_until_released(sem.clone().acquire_owned(), move || drop(held)).unwrap();
    assert!(Arc::ptr_eq(p.semaphore(), &sem));
    drop(p);
    let held = sem.clone().try_acquire_many_owned(1).unwrap();
    let p = pending_until_released(sem.clone().acquire_many_owned(1), move || drop(held));
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
    // Asking for more than can ever exist is an error, not a panic, for `try_`.
    assert_eq!(
        sem.try_acquire_many(Semaphore::MAX_PERMITS + 1)
            .unwrap_err(),
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
        sem.clone().try_acquire_owned().unwrap_err(),
        TryAcquireError::NoPermits
    );
    sem.close();
    assert_eq!(
        sem.clone().try_acquire_many_owned(1).unwrap_err(),
        TryAcquireError::Closed
    );
}

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
fn close_wakes_every_async_waiter_including_the_head() {
    let sem = Semaphore::new(0);
    let (ca, cb, ch) = (Counter::new(), Counter::new(), Counter::new());
    // The head: woken once, found too few permits, and is now collecting them.
    let mut head = sem.acquire_many(2);
    assert_pending!(ch, head);
    sem.add_permits(1);
    assert_pending!(ch, head);
    assert_eq!(
        sem.available_permits(),
        0,
        "the head holds the permit it collected"
    );
    let mut a = sem.acquire();
    let mut b = sem.acquire_many(5);
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    assert!(!sem.is_closed());
    sem.close();
    assert!(sem.is_closed());
    assert!(ca.count() > 0 && cb.count() > 0 && ch.count() > 1);
    assert!(assert_ready!(ca, a).is_err());
    assert!(assert_ready!(cb, b).is_err());
    assert!(assert_ready!(ch, head).is_err());
    assert_eq!(
        sem.available_permits(),
        1,
        "the head returned what it had collected"
    );
    // Closing again changes nothing; later waits fail at once.
    sem.close();
    let mut c = sem.acquire();
    assert!(assert_ready!(c).is_err());
}

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
    let mut o = sem.clone().try_acquire_owned().unwrap();
    o.merge(sem.clone().try_acquire_many_owned(2).unwrap());
    assert_eq!(o.num_permits(), 3);
    assert!(format!("{o:?}").contains("permits: 3"));
    o.forget();
    assert_eq!(sem.available_permits(), 0);
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

#[test]
fn acquire_many_zero_is_ready_at_once() {
    let sem = Semaphore::new(0);
    let mut fut = sem.acquire_many(0);
    let p = assert_ready!(fut).unwrap();
    assert_eq!(p.num_permits(), 0);
    drop(p);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    assert_eq!(sem.acquire_many_blocking(0).unwrap().num_permits(), 0);
    sem.close();
    let mut fut = sem.acquire_many(0);
    assert!(
        assert_ready!(fut).is_err(),
        "a closed semaphore fails even for zero"
    );
}

#[test]
fn acquire_many_zero_is_ready_while_a_head_collects() {
    let sem = Semaphore::new(0);
    let mut head = sem.acquire_many(2);
    assert_pending!(head);
    sem.add_permits(1);
    assert_pending!(head);
    let mut zero = sem.acquire_many(0);
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

#[test]
fn acquire_blocking_gets_permits_released_by_another_thread() {
    let sem = Arc::new(Semaphore::new(2));
    let held = sem.clone().try_acquire_many_owned(2).unwrap();
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
    let mut big = sem.acquire_many(3);
    assert_pending!(cb, big);
    let mut small_acquired = 0;
    let mut got = None;
    'outer: for _round in 0..100 {
        for slot in small.iter_mut() {
            // Release one single permit and let a fresh caller try to take it.
            drop(slot.take());
            let mut fut = sem.acquire();
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
    let mut a = sem.acquire();
    let mut b = sem.acquire();
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    sem.add_permits(1);
    sem.add_permits(1);
    let pa = assert_ready!(ca, a).unwrap();
    assert_eq!(sem.available_permits(), 1);
    assert!(
        cb.count() > 0,
        "second waiter asleep while a permit is free"
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
    let mut a = sem.acquire();
    let mut b = sem.acquire();
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
    let mut a = sem.acquire();
    let mut b = sem.acquire();
    let mut c = sem.acquire();
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

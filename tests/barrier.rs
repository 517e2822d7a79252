//! Tests of `Barrier`: trips, leaders and indices, reuse, abort and reset, withdrawal,
//! cancellation and mixed tasks and threads.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Poll;
use std::time::Duration;

use common::{poll_once, poll_with, Counter};
use futures::FutureExt;
use unisync::{Barrier, BarrierError, BarrierTimeoutError, BarrierWaitResult};

/// Checks one generation's results: distinct indices in `0..parties`, exactly one leader.
fn check_generation(results: &[BarrierWaitResult], parties: usize) {
    let indices: HashSet<_> = results.iter().map(|r| r.index()).collect();
    assert_eq!(
        indices.len(),
        results.len(),
        "duplicate index in {results:?}"
    );
    assert!(indices.iter().all(|&i| i < parties), "index out of range");
    assert_eq!(results.iter().filter(|r| r.is_leader()).count(), 1);
}

#[test]
fn size_is_at_most_48_bytes() {
    assert!(std::mem::size_of::<Barrier>() <= 48);
}

#[test]
#[should_panic(expected = "at least one party")]
fn zero_parties_panics() {
    let _ = Barrier::new(0);
}

#[test]
fn trips_with_one_leader_and_distinct_indices() {
    let barrier = Barrier::new(3);
    let mut a = Box::pin(barrier.wait());
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 2);
    let c = barrier.wait().now_or_never().unwrap().unwrap();
    assert!(c.is_leader(), "the party that trips collects first");
    assert_eq!(barrier.n_waiting(), 0);
    let a = poll_once(&mut a).map(Result::unwrap);
    let b = poll_once(&mut b).map(Result::unwrap);
    let (Poll::Ready(a), Poll::Ready(b)) = (a, b) else {
        panic!("parties not released")
    };
    check_generation(&[a, b, c], 3);
}

#[test]
fn trip_wakes_every_waiting_task() {
    let barrier = Barrier::new(3);
    let counter = Counter::new();
    let mut a = Box::pin(barrier.wait());
    let mut b = Box::pin(barrier.wait());
    assert!(poll_with(&mut a, counter.waker()).is_pending());
    assert!(poll_with(&mut b, counter.waker()).is_pending());
    assert_eq!(counter.count(), 0);
    barrier.wait().now_or_never().unwrap().unwrap();
    assert_eq!(counter.count(), 2);
}

#[test]
fn party_arriving_right_after_trip_counts_toward_next_generation() {
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    let b = barrier.wait().now_or_never().unwrap().unwrap();
    // `a` has not collected yet; a fast party re-arrives at once.
    let mut fast = Box::pin(barrier.wait());
    assert!(poll_once(&mut fast).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    let a = poll_once(&mut a);
    let Poll::Ready(Ok(a)) = a else {
        panic!("not released")
    };
    check_generation(&[a, b], 2);
    assert!(
        poll_once(&mut fast).is_pending(),
        "slipped into the old generation"
    );
}

/// Documented difference from Python: a party back while its generation still collects is
/// counted at once, so a reset by the last party to collect fails it. The barrier is whole
/// afterwards, and the next full set of parties trips it.
#[test]
fn reset_by_the_last_collector_fails_the_parties_already_back() {
    let barrier = Barrier::new(3);
    let mut a = Box::pin(barrier.wait());
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    let c = barrier.wait().now_or_never().unwrap().unwrap();
    let Poll::Ready(Ok(a)) = poll_once(&mut a) else {
        panic!("not released")
    };
    let mut a_again = Box::pin(barrier.wait());
    assert!(poll_once(&mut a_again).is_pending());
    assert_eq!(
        barrier.n_waiting(),
        1,
        "counted while `b` has not collected"
    );
    let Poll::Ready(Ok(b)) = poll_once(&mut b) else {
        panic!("not released")
    };
    check_generation(&[a, b, c], 3);
    barrier.reset();
    assert!(matches!(
        poll_once(&mut a_again),
        Poll::Ready(Err(BarrierError { .. }))
    ));
    drop(a_again);
    assert!(!barrier.is_broken());
    let mut parties: Vec<_> = (0..3).map(|_| Box::pin(barrier.wait())).collect();
    assert!(poll_once(&mut parties[0]).is_pending());
    assert!(poll_once(&mut parties[1]).is_pending());
    let results: Vec<_> = [2, 0, 1]
        .into_iter()
        .map(|i| match poll_once(&mut parties[i]) {
            Poll::Ready(Ok(result)) => result,
            other => panic!("party {i}: {other:?}"),
        })
        .collect();
    check_generation(&results, 3);
}

#[test]
fn next_generation_waits_for_previous_to_collect() {
    // More tasks than parties: generation 1 fills before generation 0 has collected.
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    let b = barrier.wait().now_or_never().unwrap().unwrap();
    let mut c = Box::pin(barrier.wait());
    let mut d = Box::pin(barrier.wait());
    assert!(poll_once(&mut c).is_pending());
    assert!(poll_once(&mut d).is_pending());
    assert_eq!(barrier.n_waiting(), 2);
    // `a` collects last; that trips generation 1.
    let Poll::Ready(Ok(a)) = poll_once(&mut a) else {
        panic!("not released")
    };
    check_generation(&[a, b], 2);
    assert_eq!(barrier.n_waiting(), 0);
    let (Poll::Ready(Ok(c)), Poll::Ready(Ok(d))) = (poll_once(&mut c), poll_once(&mut d)) else {
        panic!("generation 1 did not trip")
    };
    check_generation(&[c, d], 2);
}

#[test]
fn dropped_pending_wait_withdraws_and_replacement_trips() {
    let barrier = Barrier::new(3);
    let mut a = Box::pin(barrier.wait());
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 2);
    drop(b);
    assert_eq!(barrier.n_waiting(), 1);
    let mut c = Box::pin(barrier.wait());
    assert!(
        poll_once(&mut c).is_pending(),
        "tripped without the withdrawn party"
    );
    let d = barrier.wait().now_or_never().unwrap().unwrap();
    let (Poll::Ready(Ok(a)), Poll::Ready(Ok(c))) = (poll_once(&mut a), poll_once(&mut c)) else {
        panic!("not released")
    };
    check_generation(&[a, c, d], 3);
}

#[test]
fn dropped_wait_after_trip_does_not_untrip() {
    let barrier = Barrier::new(3);
    let mut a = Box::pin(barrier.wait());
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    let mut c = Box::pin(barrier.wait());
    // `c` trips, but is dropped before it is polled again: the trip stands.
    let c_result = poll_once(&mut c);
    assert!(c_result.is_ready());
    drop(c);
    drop(a); // released but never collected: gives up its result only
    let Poll::Ready(Ok(b)) = poll_once(&mut b) else {
        panic!("not released")
    };
    assert!(b.index() < 3);
    assert_eq!(barrier.n_waiting(), 0);
    // The barrier is whole: the next generation trips normally.
    let mut w: Vec<_> = (0..2).map(|_| Box::pin(barrier.wait())).collect();
    for f in &mut w {
        assert!(poll_once(f).is_pending());
    }
    let last = barrier.wait().now_or_never().unwrap().unwrap();
    let mut results = vec![last];
    for f in &mut w {
        let Poll::Ready(Ok(r)) = poll_once(f) else {
            panic!("next generation not released")
        };
        results.push(r);
    }
    check_generation(&results, 3);
}

#[test]
fn tripping_party_collects_first_and_leads() {
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    let mut b = Box::pin(barrier.wait());
    let Poll::Ready(Ok(b_res)) = poll_once(&mut b) else {
        panic!("did not trip")
    };
    assert!(b_res.is_leader());
    let Poll::Ready(Ok(a_res)) = poll_once(&mut a) else {
        panic!("not released")
    };
    assert_eq!(a_res.index(), 1);
}

#[test]
fn dropped_released_future_takes_no_index_so_a_returning_party_leads() {
    // Generation 1 is tripped by a collecting party of generation 0, so nobody of
    // generation 1 has collected yet when `c` is dropped.
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    barrier.wait().now_or_never().unwrap().unwrap();
    let mut c = Box::pin(barrier.wait());
    let mut d = Box::pin(barrier.wait());
    assert!(poll_once(&mut c).is_pending());
    assert!(poll_once(&mut d).is_pending());
    assert!(poll_once(&mut a).is_ready()); // trips generation 1
    drop(c);
    let Poll::Ready(Ok(d)) = poll_once(&mut d) else {
        panic!("generation 1 did not trip")
    };
    assert!(d.is_leader());
    // Generation 1 has fully collected: generation 2 trips normally.
    let mut e = Box::pin(barrier.wait());
    assert!(poll_once(&mut e).is_pending());
    assert!(barrier.wait().now_or_never().unwrap().unwrap().is_leader());
    assert!(poll_once(&mut e).is_ready());
}

#[cfg(feature = "std")]
#[test]
fn abort_wakes_waiters_with_errors_and_later_waits_fail_until_reset() {
    let barrier = Barrier::new(3);
    let counter = Counter::new();
    let mut a = Box::pin(barrier.wait());
    assert!(poll_with(&mut a, counter.waker()).is_pending());
    barrier.abort();
    assert!(barrier.is_broken());
    assert_eq!(counter.count(), 1);
    assert!(matches!(
        poll_once(&mut a),
        Poll::Ready(Err(BarrierError { .. }))
    ));
    assert!(barrier.wait().now_or_never().unwrap().is_err());
    assert!(barrier.wait_blocking().is_err());
    assert_eq!(
        barrier.wait_blocking_timeout(Duration::from_millis(1)),
        Err(BarrierTimeoutError::Broken)
    );
    barrier.reset();
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    let mut w: Vec<_> = (0..2).map(|_| Box::pin(barrier.wait())).collect();
    for f in &mut w {
        assert!(poll_once(f).is_pending());
    }
    assert!(barrier.wait().now_or_never().unwrap().unwrap().is_leader());
}

#[test]
fn reset_fails_current_waiters_and_newcomers_wait_for_them_to_leave() {
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    barrier.reset();
    assert!(!barrier.is_broken());
    // A newcomer must not pair up with `a`, which is being failed.
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut b).is_pending());
    assert!(matches!(poll_once(&mut a), Poll::Ready(Err(_))));
    assert_eq!(barrier.n_waiting(), 0);
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    let c = barrier.wait().now_or_never().unwrap().unwrap();
    let Poll::Ready(Ok(b)) = poll_once(&mut b) else {
        panic!("fresh generation did not trip")
    };
    check_generation(&[b, c], 2);
}

/// Parties arrived before an abort or a reset are about to fail: `n_waiting` does not count
/// them, even before they have run (Python's `n_waiting` is 0 while broken or resetting).
#[test]
fn n_waiting_is_zero_while_broken_or_draining() {
    let barrier = Barrier::new(3);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    barrier.abort();
    assert_eq!(barrier.n_waiting(), 0, "broken: nobody is waiting to trip");
    barrier.reset();
    assert_eq!(barrier.n_waiting(), 0, "draining: `a` is about to fail");
    let mut b = Box::pin(barrier.wait());
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(
        barrier.n_waiting(),
        0,
        "`b` waits outside until `a` has left"
    );
    assert!(matches!(poll_once(&mut a), Poll::Ready(Err(_))));
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 1, "whole again: `b` counts");
}

#[test]
fn reset_keeps_results_of_a_generation_that_tripped() {
    let barrier = Barrier::new(2);
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    let b = barrier.wait().now_or_never().unwrap().unwrap();
    barrier.abort();
    barrier.reset();
    let Poll::Ready(Ok(a)) = poll_once(&mut a) else {
        panic!("tripped result lost")
    };
    check_generation(&[a, b], 2);
}

#[cfg(feature = "std")]
#[test]
fn blocking_timeout_withdraws_without_breaking() {
    let barrier = Arc::new(Barrier::new(2));
    assert_eq!(
        barrier.wait_blocking_timeout(Duration::from_millis(10)),
        Err(BarrierTimeoutError::Timeout)
    );
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
    let other = {
        let barrier = barrier.clone();
        std::thread::spawn(move || barrier.wait_blocking_timeout(Duration::from_secs(60)))
    };
    let mine = barrier.wait_blocking().unwrap();
    let theirs = other.join().unwrap().unwrap();
    check_generation(&[mine, theirs], 2);
}

#[cfg(feature = "std")]
#[test]
fn errors_have_messages() {
    let barrier = Barrier::new(2);
    barrier.abort();
    let err: Box<dyn std::error::Error> = Box::new(barrier.wait_blocking().unwrap_err());
    assert_eq!(
        err.to_string(),
        "barrier broken: aborted or reset before this party's generation tripped"
    );
    let err: Box<dyn std::error::Error> = Box::new(BarrierTimeoutError::Timeout);
    assert!(err.to_string().contains("timed out"));
}

#[cfg(feature = "std")]
#[test]
fn barrier_error_debug_is_readable() {
    let barrier = Barrier::new(2);
    barrier.abort();
    let from_blocking = barrier.wait_blocking().unwrap_err();
    let from_async = barrier.wait().now_or_never().unwrap().unwrap_err();
    for err in [from_blocking, from_async] {
        assert_eq!(format!("{err:?}"), "BarrierError(broken)");
    }
    let res: Result<(), BarrierError> = Err(from_async);
    assert_eq!(format!("{res:?}"), "Err(BarrierError(broken))");
    let timeout = barrier
        .wait_blocking_timeout(Duration::from_millis(1))
        .unwrap_err();
    assert_eq!(format!("{timeout:?}"), "Broken");
    assert_eq!(format!("{:?}", BarrierTimeoutError::Timeout), "Timeout");
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn reused_over_many_generations_by_tasks_and_threads() {
    const PARTIES: usize = 6;
    const THREADS: usize = 2;
    const GENERATIONS: usize = 100;
    let barrier = Arc::new(Barrier::new(PARTIES));
    // results[g] collects generation g's results.
    let results = Arc::new(StdMutex::new(vec![Vec::new(); GENERATIONS]));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..PARTIES - THREADS)
        .map(|_| {
            let (barrier, results) = (barrier.clone(), results.clone());
            rt.spawn(async move {
                for g in 0..GENERATIONS {
                    let r = barrier.wait().await.unwrap();
                    results.lock().unwrap()[g].push(r);
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (barrier, results) = (barrier.clone(), results.clone());
            std::thread::spawn(move || {
                for g in 0..GENERATIONS {
                    let r = barrier.wait_blocking().unwrap();
                    results.lock().unwrap()[g].push(r);
                }
            })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    for generation in results.lock().unwrap().iter() {
        assert_eq!(generation.len(), PARTIES);
        check_generation(generation, PARTIES);
    }
    assert_eq!(barrier.n_waiting(), 0);
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[test]
fn more_tasks_than_parties_trip_in_whole_generations() {
    // 8 tasks share a barrier of 4. Each trip releases exactly 4 with one leader; the leader
    // of the 100th generation aborts the barrier so that every task ends.
    let barrier = Arc::new(Barrier::new(4));
    let leaders = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (barrier, leaders, released) = (barrier.clone(), leaders.clone(), released.clone());
            rt.spawn(async move {
                while let Ok(r) = barrier.wait().await {
                    assert!(r.index() < 4);
                    released.fetch_add(1, Ordering::SeqCst);
                    if r.is_leader() && leaders.fetch_add(1, Ordering::SeqCst) + 1 == 100 {
                        barrier.abort();
                    }
                }
            })
        })
        .collect();
    rt.block_on(async {
        for t in tasks {
            t.await.unwrap();
        }
    });
    let leaders = leaders.load(Ordering::SeqCst);
    assert!(leaders >= 100);
    assert_eq!(released.load(Ordering::SeqCst), 4 * leaders);
}

#[test]
fn cancellation_sweep_leaves_barrier_whole() {
    // Poll one party's wait k times while other parties come and go, drop it, then check a
    // full set of fresh parties still trips exactly once with one leader.
    const PARTIES: usize = 3;
    for k in 0..=8 {
        let barrier = Barrier::new(PARTIES);
        let mut others = Vec::new();
        let mut victim = Box::pin(barrier.wait());
        let mut collected = Vec::new();
        for i in 0..k {
            match poll_once(&mut victim) {
                Poll::Ready(r) => {
                    collected.push(r.unwrap());
                    break;
                }
                Poll::Pending => {}
            }
            // Contention: another party arrives; every third step one withdraws.
            let mut w = Box::pin(barrier.wait());
            if poll_once(&mut w).is_pending() {
                others.push(w);
            }
            if i % 3 == 2 {
                drop(others.remove(0));
            }
        }
        drop(victim);
        // Finish whatever generation is in flight, then run one clean generation.
        let mut pending: Vec<_> = others;
        while barrier.n_waiting() != 0 {
            let mut w = Box::pin(barrier.wait());
            if poll_once(&mut w).is_pending() {
                pending.push(w);
            }
        }
        for mut w in pending {
            if let Poll::Ready(r) = poll_once(&mut w) {
                collected.push(r.unwrap());
            }
        }
        assert_eq!(barrier.n_waiting(), 0, "k = {k}");
        let mut fresh: Vec<_> = (0..PARTIES - 1).map(|_| Box::pin(barrier.wait())).collect();
        for f in &mut fresh {
            assert!(poll_once(f).is_pending(), "k = {k}");
        }
        let mut results = vec![barrier.wait().now_or_never().unwrap().unwrap()];
        for f in &mut fresh {
            let Poll::Ready(Ok(r)) = poll_once(f) else {
                panic!("k = {k}: fresh generation did not trip")
            };
            results.push(r);
        }
        check_generation(&results, PARTIES);
    }
}

#[cfg(feature = "std")]
#[cfg_attr(miri, ignore = "200 rounds of racing threads take minutes under miri")]
#[test]
fn last_arrival_racing_withdrawal_trips_at_most_once() {
    // Threads: two parties wait, one of them withdraws by timeout while a third arrives.
    for _ in 0..200 {
        let barrier = Arc::new(Barrier::new(2));
        let a = {
            let barrier = barrier.clone();
            std::thread::spawn(move || barrier.wait_blocking_timeout(Duration::from_micros(50)))
        };
        let b = barrier.wait_blocking_timeout(Duration::from_micros(50));
        let a = a.join().unwrap();
        match (a, b) {
            (Ok(a), Ok(b)) => check_generation(&[a, b], 2),
            (Err(BarrierTimeoutError::Timeout), Err(BarrierTimeoutError::Timeout)) => {}
            other => panic!("half a trip: {other:?}"),
        }
        assert_eq!(barrier.n_waiting(), 0);
    }
}

#[cfg_attr(
    miri,
    ignore = "starts tokio, smol and async-std runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn smol_async_std_tokio_and_threads_share_one_barrier() {
    let barrier = Arc::new(Barrier::new(4));
    let leaders = Arc::new(AtomicUsize::new(0));
    let spawn = |kind: usize| {
        let (barrier, leaders) = (barrier.clone(), leaders.clone());
        std::thread::spawn(move || {
            for _ in 0..20 {
                let r = match kind {
                    0 => barrier.wait_blocking(),
                    1 => smol::block_on(barrier.wait()),
                    2 => async_std::task::block_on(barrier.wait()),
                    _ => tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap()
                        .block_on(barrier.wait()),
                }
                .unwrap();
                leaders.fetch_add(usize::from(r.is_leader()), Ordering::SeqCst);
            }
        })
    };
    let handles: Vec<_> = (0..4).map(spawn).collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), 20);
}

/// Regression: a party withdrawn from a full generation stranded a newcomer waiting outside.
/// With two parties: A waits (generation 0); B trips it before A collects; C waits
/// (generation 1); D waits (generation 1 is full, it trips once A collects); E waits outside,
/// uncounted; D goes away (a timeout); A collects. C and E are two live parties of a
/// two-party barrier: they must trip. The withdrawal used to wake nobody, so both waited for
/// ever.
#[test]
fn party_leaving_a_full_generation_lets_an_outside_waiter_in() {
    let barrier = Barrier::new(2);
    let woken_c = Counter::new();
    let woken_e = Counter::new();
    let mut a = Box::pin(barrier.wait());
    assert!(poll_once(&mut a).is_pending());
    let mut b = Box::pin(barrier.wait());
    let b = match poll_once(&mut b) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("B trips generation 0"),
    };
    let mut c = Box::pin(barrier.wait());
    assert!(poll_with(&mut c, woken_c.waker()).is_pending());
    let mut d = Box::pin(barrier.wait());
    assert!(poll_once(&mut d).is_pending());
    let mut e = Box::pin(barrier.wait());
    assert!(poll_with(&mut e, woken_e.waker()).is_pending());
    assert_eq!(barrier.n_waiting(), 2, "C and D; E waits outside");
    drop(d);
    assert!(
        woken_e.count() > 0,
        "the withdrawal must wake the party waiting outside"
    );
    let a = match poll_once(&mut a) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("A collects generation 0"),
    };
    check_generation(&[a, b], 2);
    let e = match poll_with(&mut e, woken_e.waker()) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("E takes D's place"),
    };
    assert!(woken_c.count() > 0, "the trip wakes C");
    let c = match poll_with(&mut c, woken_c.waker()) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("C and E trip generation 1"),
    };
    check_generation(&[c, e], 2);
    assert_eq!(barrier.n_waiting(), 0);
}

/// The same sequence with real tasks on tokio, D's wait under `tokio::time::timeout`.
#[test]
fn party_timing_out_of_a_full_generation_on_tokio_is_replaced() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let barrier = Arc::new(Barrier::new(2));
        let mut a = Box::pin(barrier.wait());
        assert!(poll_once(&mut a).is_pending());
        let b = barrier.wait().await.unwrap();
        let spawn_wait = |barrier: &Arc<Barrier>| {
            let barrier = barrier.clone();
            tokio::spawn(async move { barrier.wait().await })
        };
        let c = spawn_wait(&barrier);
        tokio::task::yield_now().await;
        let d = {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_millis(20), barrier.wait()).await
            })
        };
        tokio::task::yield_now().await;
        let e = spawn_wait(&barrier);
        tokio::task::yield_now().await;
        assert!(
            d.await.unwrap().is_err(),
            "D times out: its generation cannot trip"
        );
        let a = a.await.unwrap();
        check_generation(&[a, b], 2);
        let both = tokio::time::timeout(Duration::from_secs(30), async {
            (c.await.unwrap().unwrap(), e.await.unwrap().unwrap())
        })
        .await
        .expect("C and E must trip generation 1");
        check_generation(&[both.0, both.1], 2);
    });
}

/// A trip ends every arrived party's wait in one step: a party polled after another one saw
/// the trip sees it too, even while the trip is still waking the parties batch by batch.
#[test]
fn a_party_polled_after_another_saw_the_trip_completes_too() {
    // A static, not a leak: the waits are kept by a waker, which must be `'static`.
    static BARRIER: Barrier = Barrier::new(43);
    let barrier = &BARRIER;
    common::one_release_ends_every_wait_at_once(
        || barrier.wait(),
        || {
            let last = poll_once(&mut Box::pin(barrier.wait()));
            assert!(matches!(last, Poll::Ready(Ok(_))), "the last party trips");
        },
    );
}

/// A party that waits to enter a full generation (the one before it has not finished
/// leaving) is not counted in any generation: `abort` then `reset`, or `reset` alone, fails
/// the parties counted in the full generation and lets it into the fresh one; `abort` alone
/// fails it too. As documented on `abort` and `reset`, and as in Python's `threading.Barrier`.
#[test]
fn a_party_waiting_to_enter_a_full_generation_joins_the_fresh_one_after_a_reset() {
    for (abort, reset) in [(true, true), (false, true), (true, false)] {
        let barrier = Barrier::new(2);
        // A waits in generation 0, which B trips; A has not collected, so C and D fill
        // generation 1 and E waits outside.
        let mut a = Box::pin(barrier.wait());
        assert!(poll_once(&mut a).is_pending());
        assert!(barrier.wait().now_or_never().unwrap().is_ok());
        let mut c = Box::pin(barrier.wait());
        let mut d = Box::pin(barrier.wait());
        let mut e = Box::pin(barrier.wait());
        for wait in [&mut c, &mut d, &mut e] {
            assert!(poll_once(wait).is_pending());
        }
        if abort {
            barrier.abort();
        }
        if !reset {
            assert!(matches!(poll_once(&mut e), Poll::Ready(Err(_))));
            continue;
        }
        barrier.reset();
        assert!(
            matches!(poll_once(&mut a), Poll::Ready(Ok(_))),
            "A had tripped"
        );
        assert!(matches!(poll_once(&mut c), Poll::Ready(Err(_))));
        assert!(matches!(poll_once(&mut d), Poll::Ready(Err(_))));
        assert!(
            poll_once(&mut e).is_pending(),
            "E waits in the fresh generation"
        );
        assert_eq!(barrier.n_waiting(), 1);
        let f = barrier.wait().now_or_never().unwrap().unwrap();
        let e = match poll_once(&mut e) {
            Poll::Ready(result) => result.unwrap(),
            Poll::Pending => panic!("the fresh generation did not trip"),
        };
        assert_ne!(e.is_leader(), f.is_leader());
    }
}

/// Clones of the counting waker below.
static CLONES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static COUNTING: std::task::RawWakerVTable =
    std::task::RawWakerVTable::new(count_clone, |_| {}, |_| {}, |_| {});
/// Counts a clone.
fn count_clone(_: *const ()) -> std::task::RawWaker {
    CLONES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::task::RawWaker::new(std::ptr::null(), &COUNTING)
}

/// A queued party polled again with the same waker, the barrier unchanged, keeps its stored
/// waker and its place, as every other wait does: it does not leave the queue and link again.
#[test]
fn barrier_repoll_with_the_same_waker_does_not_requeue() {
    // SAFETY: the vtable's functions ignore the data pointer.
    let waker = unsafe {
        std::task::Waker::from_raw(std::task::RawWaker::new(std::ptr::null(), &COUNTING))
    };
    let barrier = unisync::Barrier::new(2);
    let mut wait = Box::pin(barrier.wait());
    assert!(poll_with(&mut wait, &waker).is_pending());
    let after_first = CLONES.load(std::sync::atomic::Ordering::SeqCst);
    for _ in 0..3 {
        assert!(poll_with(&mut wait, &waker).is_pending());
    }
    let extra = CLONES.load(std::sync::atomic::Ordering::SeqCst) - after_first;
    drop(wait);
    assert_eq!(extra, 0, "re-polls with the same waker cloned it again");
}

/// A xorshift step, so the chaos tests below need no extra crate.
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[cfg(feature = "std")]
/// `count` threads, each waiting `rounds` times with a random timeout of 0 to 2 ms.
fn timed_parties(
    barrier: &Arc<Barrier>,
    run: u64,
    count: u64,
    rounds: usize,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..count)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut seed = 0x1234_5678 ^ (run * 17 + t + 1);
                for _ in 0..rounds {
                    let ms = rng(&mut seed) % 3;
                    let _ = barrier.wait_blocking_timeout(Duration::from_millis(ms));
                }
            })
        })
        .collect()
}

#[cfg(feature = "std")]
/// After the chaos: one generation of threads trips the barrier as a fresh one would.
fn clean_round(barrier: &Arc<Barrier>, run: u64) {
    let parties: Vec<_> = (0..barrier.parties())
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || barrier.wait_blocking_timeout(common::HANG))
        })
        .collect();
    let results: Result<Vec<_>, _> = parties.into_iter().map(|t| t.join().unwrap()).collect();
    match results {
        Ok(results) => check_generation(&results, barrier.parties()),
        Err(e) => panic!("run {run}: a clean round failed: {e:?}"),
    }
}

/// Tasks under tokio timeouts and threads under blocking timeouts leave the barrier whole.
#[cfg_attr(
    miri,
    ignore = "starts tokio runtimes and times out thousands of waits, far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn chaos_with_timeouts_then_a_clean_round() {
    common::no_deadlock(|| {
        for run in 0..20u64 {
            let barrier = Arc::new(Barrier::new(3));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .unwrap();
            let mut handles = Vec::new();
            for t in 0..5u64 {
                let barrier = barrier.clone();
                handles.push(rt.spawn(async move {
                    let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (run * 31 + t + 1);
                    for _ in 0..100 {
                        let ms = rng(&mut seed) % 3;
                        let _ =
                            tokio::time::timeout(Duration::from_millis(ms), barrier.wait()).await;
                    }
                }));
            }
            let threads = timed_parties(&barrier, run, 2, 100);
            for h in handles {
                rt.block_on(h).unwrap();
            }
            for t in threads {
                t.join().unwrap();
            }
            assert!(!barrier.is_broken());
            assert_eq!(barrier.n_waiting(), 0, "run {run}");
            clean_round(&barrier, run);
        }
    });
}

/// Timed parties racing `abort` and `reset` leave a barrier that, once reset, trips cleanly.
#[cfg_attr(
    miri,
    ignore = "times out thousands of waits on racing threads, far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn chaos_with_abort_and_reset_then_a_clean_round() {
    use std::sync::atomic::AtomicBool;
    use std::thread;
    common::no_deadlock(|| {
        for run in 0..20u64 {
            let barrier = Arc::new(Barrier::new(3));
            let stop = Arc::new(AtomicBool::new(false));
            let threads = timed_parties(&barrier, run, 4, 200);
            let chaos = {
                let barrier = barrier.clone();
                let stop = stop.clone();
                thread::spawn(move || {
                    let mut seed = 99 + run;
                    while !stop.load(Ordering::Relaxed) {
                        match rng(&mut seed) % 3 {
                            0 => barrier.abort(),
                            _ => barrier.reset(),
                        }
                        thread::sleep(Duration::from_micros(rng(&mut seed) % 500));
                    }
                })
            };
            for t in threads {
                t.join().unwrap();
            }
            stop.store(true, Ordering::Relaxed);
            chaos.join().unwrap();
            barrier.reset();
            assert!(!barrier.is_broken());
            clean_round(&barrier, run);
        }
    });
}

/// A waker that polls its own wait again from inside `wake`, as a waker that re-enters the
/// barrier does, up to `REPOLLS` times.
struct Repoll {
    wait: StdMutex<Option<std::pin::Pin<Box<unisync::futures::BarrierWait<'static>>>>>,
    wakes: AtomicUsize,
}

const REPOLLS: usize = 20;

impl std::task::Wake for Repoll {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.wakes.fetch_add(1, Ordering::SeqCst) >= REPOLLS {
            return;
        }
        let waker = std::task::Waker::from(self.clone());
        let mut wait = self.wait.lock().unwrap();
        if wait
            .as_mut()
            .is_some_and(|w| poll_with(w, &waker).is_ready())
        {
            *wait = None;
        }
    }
}

/// Regression: a release of the waiters (here a withdrawal from a full generation) woke
/// every waiter it found until the queue was empty, including those that, woken by it, found
/// the generation full again and queued again while it was between two batches. With wakers
/// that poll at once it never ended. Each waiter queued before the release is now woken once.
#[test]
fn a_release_does_not_wake_again_the_waiters_that_queue_again_during_it() {
    static BARRIER: Barrier = Barrier::new(2);
    let barrier = &BARRIER;
    let mut first = Box::pin(barrier.wait());
    assert!(poll_once(&mut first).is_pending());
    assert!(
        poll_once(&mut Box::pin(barrier.wait())).is_ready(),
        "trips generation 0"
    );
    // Generation 1 is full until `leaving` withdraws.
    let mut staying = Box::pin(barrier.wait());
    assert!(poll_once(&mut staying).is_pending());
    let mut leaving = Box::pin(barrier.wait());
    assert!(poll_once(&mut leaving).is_pending());
    // More than one batch of parties waits outside the full generation.
    let outside: Vec<Arc<Repoll>> = (0..40)
        .map(|_| {
            let repoll = Arc::new(Repoll {
                wait: StdMutex::new(None),
                wakes: AtomicUsize::new(0),
            });
            let mut wait = Box::pin(barrier.wait());
            assert!(poll_with(&mut wait, &std::task::Waker::from(repoll.clone())).is_pending());
            *repoll.wait.lock().unwrap() = Some(wait);
            repoll
        })
        .collect();
    drop(leaving);
    let wakes: Vec<usize> = outside
        .iter()
        .map(|r| r.wakes.swap(REPOLLS, Ordering::SeqCst))
        .collect();
    // The first of them took the free place; the others queued again, once each.
    assert_eq!(
        wakes.iter().max(),
        Some(&1),
        "one release woke a waiter more than once: {wakes:?}"
    );
    assert!(poll_once(&mut first).is_ready());
    for repoll in &outside {
        let wait = repoll.wait.lock().unwrap().take();
        drop(wait);
    }
    drop(staying);
}

/// A thread's timed wait queued behind a full wake-up batch reports `Broken` for an `abort` or
/// a `reset` that came before its deadline, as its docs say, even while the release is held
/// in the first batch's waker: a task polled then would fail too.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn a_timed_wait_sees_an_abort_or_reset_that_came_before_its_deadline() {
    let breaks: [fn(&Barrier); 2] = [Barrier::abort, Barrier::reset];
    for break_it in breaks {
        common::timed_wait_counts_a_release_before_its_deadline(|| {
            let barrier = Arc::new(Barrier::new(40));
            let waits = common::full_batch(|| {
                let barrier = barrier.clone();
                async move { assert!(barrier.wait().await.is_err()) }
            });
            let (timed, breaker) = (barrier.clone(), barrier);
            common::BehindABatch {
                waits,
                timed: Box::new(move |timeout| match timed.wait_blocking_timeout(timeout) {
                    Err(BarrierTimeoutError::Broken) => true,
                    Err(BarrierTimeoutError::Timeout) => false,
                    Ok(_) => panic!("40 parties, 33 waiting: the barrier cannot trip"),
                }),
                release: Box::new(move || break_it(&breaker)),
            }
        });
    }
}

/// Polling a finished barrier wait again panics with the message every unisync future uses.
#[test]
#[should_panic(expected = "a unisync future was polled after it completed")]
fn wait_polled_after_completion_panics() {
    let barrier = Barrier::new(1);
    let mut wait = Box::pin(barrier.wait());
    assert!(poll_once(&mut wait).is_ready());
    let _ = poll_once(&mut wait);
}

/// A trip held in its first batch of wake-ups: see [`trip_held_in_first_batch`].
#[cfg(feature = "std")]
struct HeldTrip {
    /// The 39 task parties; the first was polled with `stall`'s waker.
    parties: Vec<common::Task<unisync::futures::BarrierWait<'static>>>,
    stall: Arc<common::Stall>,
    /// The fortieth party, a thread, whose arrival tripped the generation.
    tripper: std::thread::JoinHandle<Result<BarrierWaitResult, BarrierError>>,
}

/// Forty parties, the last a thread whose arrival trips the generation; the first party's
/// waker holds that thread inside the trip's first batch of wake-ups.
#[cfg(feature = "std")]
fn trip_held_in_first_batch(barrier: &'static Barrier) -> HeldTrip {
    let stall = common::Stall::new();
    let mut parties: Vec<_> = (0..39).map(|_| common::spawn(barrier.wait())).collect();
    assert!(parties[0].poll_with(&stall.waker()).is_pending());
    for party in &mut parties[1..] {
        party.assert_pending();
    }
    let tripper = std::thread::spawn(move || barrier.wait_blocking());
    stall.wait_until_entered();
    HeldTrip {
        parties,
        stall,
        tripper,
    }
}

/// While a trip is still waking its parties, those that collect early come back with fresh
/// ones and fill the next generation: the rest of the old trip's wake-ups must not release
/// them, and the next generation trips once the old one's last party has collected.
#[test]
#[cfg(feature = "std")]
fn the_next_generation_waits_while_a_trip_still_wakes() {
    static BARRIER: Barrier = Barrier::new(40);
    let mut held = trip_held_in_first_batch(&BARRIER);
    // A poll sees the trip whether or not its party was woken yet.
    let mut first: Vec<_> = held.parties[1..]
        .iter_mut()
        .map(|party| party.assert_ready().unwrap())
        .collect();
    let mut next: Vec<_> = (0..40).map(|_| common::spawn(BARRIER.wait())).collect();
    for party in &mut next {
        party.assert_pending();
    }
    held.stall.go_on();
    first.push(held.tripper.join().unwrap().unwrap());
    for party in &mut next {
        party.assert_pending();
    }
    first.push(held.parties[0].assert_ready().unwrap());
    assert_eq!(first.len(), 40);
    check_generation(&first, 40);
    let second: Vec<_> = next
        .iter_mut()
        .map(|party| party.assert_ready().unwrap())
        .collect();
    check_generation(&second, 40);
    assert_eq!(BARRIER.n_waiting(), 0);
}

/// An `abort` while a trip is still waking its parties fails newcomers, but every party of
/// the tripped generation still collects its result; a `reset` then makes the barrier whole.
#[test]
#[cfg(feature = "std")]
fn an_abort_while_a_trip_still_wakes_spares_the_tripped_generation() {
    static BARRIER: Barrier = Barrier::new(40);
    let mut held = trip_held_in_first_batch(&BARRIER);
    BARRIER.abort();
    assert!(common::spawn(BARRIER.wait()).assert_ready().is_err());
    let mut results: Vec<_> = held.parties[20..]
        .iter_mut()
        .map(|party| party.assert_ready().unwrap())
        .collect();
    held.stall.go_on();
    results.push(held.tripper.join().unwrap().unwrap());
    results.extend(
        held.parties[..20]
            .iter_mut()
            .map(|p| p.assert_ready().unwrap()),
    );
    check_generation(&results, 40);
    assert!(BARRIER.is_broken());
    BARRIER.reset();
    assert!(!BARRIER.is_broken());
    assert_eq!(BARRIER.n_waiting(), 0);
}

/// A `reset` while a trip is still waking its parties fails the party already waiting in the
/// next generation and leaves the tripped generation's results alone; a party arriving after
/// the reset waits in the fresh generation, and its withdrawal is counted.
#[test]
#[cfg(feature = "std")]
fn a_reset_while_a_trip_still_wakes_fails_only_the_next_generation() {
    static BARRIER: Barrier = Barrier::new(40);
    let mut held = trip_held_in_first_batch(&BARRIER);
    let mut early = common::spawn(BARRIER.wait());
    early.assert_pending();
    BARRIER.reset();
    assert!(early.assert_ready().is_err());
    let mut late = common::spawn(BARRIER.wait());
    late.assert_pending();
    assert_eq!(BARRIER.n_waiting(), 1);
    held.stall.go_on();
    let mut results = vec![held.tripper.join().unwrap().unwrap()];
    results.extend(held.parties.iter_mut().map(|p| p.assert_ready().unwrap()));
    check_generation(&results, 40);
    late.assert_pending();
    assert_eq!(BARRIER.n_waiting(), 1);
    drop(late);
    assert_eq!(BARRIER.n_waiting(), 0);
    assert!(!BARRIER.is_broken());
}

//! Tests of `WaitGroup`: poll-level wake-ups, reuse after zero, the "zero at some moment"
//! rule, timeouts, tokens dropped by panics, and tokens held by tokio tasks, smol tasks and
//! plain threads at once.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{assert_pending, assert_ready, blocked_until_released, poll_once, Counter};
use futures::future::FusedFuture;
use futures::FutureExt;
use unisync::futures::WaitGroupWait;
use unisync::{WaitGroup, WaitGroupToken};

/// Long enough never to expire on a healthy run: only turns a lost wake-up into a failure.
const HANG: Duration = Duration::from_secs(300);

#[test]
fn handles_tokens_and_futures_are_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<WaitGroup>();
    send_sync::<WaitGroupToken>();
    send_sync::<WaitGroupWait<'_>>();
    // A token moves into a spawned task or thread.
    send_static::<WaitGroupToken>();
}

#[cfg(feature = "std")]
#[test]
fn new_group_is_at_zero_and_its_wait_is_ready_at_once() {
    let group = WaitGroup::new();
    assert_eq!(group.count(), 0);
    assert!(group.wait().now_or_never().is_some());
    assert!(WaitGroup::default().wait().now_or_never().is_some());
    // Still zero, and still ready, however often it is asked.
    assert!(group.wait().now_or_never().is_some());
    assert!(group.wait_blocking_timeout(Duration::ZERO));
    group.wait_blocking();
    assert_eq!(group.count(), 0);
}

#[test]
fn tokens_and_their_clones_count() {
    let group = WaitGroup::new();
    let a = group.token();
    assert_eq!(group.count(), 1);
    let b = a.clone();
    let c = group.clone().token();
    assert_eq!(group.count(), 3, "clones of the group share one count");
    drop(b);
    assert_eq!(group.count(), 2);
    drop(a);
    drop(c);
    assert_eq!(group.count(), 0);
}

#[test]
fn wait_is_woken_once_by_the_last_token_only() {
    let group = WaitGroup::new();
    let tokens: Vec<_> = (0..3).map(|_| group.token()).collect();
    let counter = Counter::new();
    let mut wait = pin!(group.wait());
    assert_pending!(counter, wait);
    assert_pending!(counter, wait);
    let mut tokens = tokens.into_iter();
    drop(tokens.next());
    drop(tokens.next());
    assert_eq!(counter.count(), 0, "woken before the count reached zero");
    assert_pending!(counter, wait);
    drop(tokens.next());
    assert_eq!(counter.count(), 1, "the last token wakes the waiter once");
    assert_ready!(counter, wait);
    assert!(wait.is_terminated());
}

#[test]
fn every_waiter_is_woken_by_the_zero() {
    let n = if cfg!(miri) { 40 } else { 1_000 };
    let group = WaitGroup::new();
    let token = group.token();
    let counter = Counter::new();
    let mut waits: Vec<_> = (0..n).map(|_| Box::pin(group.wait())).collect();
    for w in &mut waits {
        assert!(counter.poll(w).is_pending());
    }
    drop(token);
    assert_eq!(counter.count(), n, "every waiter woken exactly once");
    for w in &mut waits {
        assert!(counter.poll(w).is_ready());
    }
}

#[test]
fn group_is_reusable_after_reaching_zero() {
    let group = WaitGroup::new();
    for round in 0..5 {
        let tokens: Vec<_> = (0..=round).map(|_| group.token()).collect();
        assert_eq!(group.count(), round + 1);
        let counter = Counter::new();
        let mut wait = pin!(group.wait());
        assert_pending!(counter, wait);
        drop(tokens);
        assert_eq!(counter.count(), 1, "round {round}");
        assert_ready!(counter, wait);
        assert_eq!(group.count(), 0);
        assert!(group.wait().now_or_never().is_some());
    }
}

#[test]
fn a_zero_after_the_wait_started_completes_it_even_if_a_token_comes_back() {
    let group = WaitGroup::new();
    let token = group.token();
    let counter = Counter::new();
    let mut wait = pin!(group.wait());
    assert_pending!(counter, wait);
    drop(token);
    assert_eq!(counter.count(), 1);
    // New work arrives before the waiter runs: the zero it was woken for still counts.
    let again = group.token();
    assert_ready!(counter, wait);
    // A wait that starts now waits for the new token.
    let mut late = pin!(group.wait());
    assert_pending!(counter, late);
    drop(again);
    assert_ready!(counter, late);
}

#[test]
fn wait_starts_at_its_first_poll() {
    let group = WaitGroup::new();
    // Made while the count is zero, polled only once a token is out: it waits.
    let mut wait = pin!(group.wait());
    let token = group.token();
    assert_pending!(wait);
    drop(token);
    assert_ready!(wait);
}

#[test]
fn a_dropped_waiter_does_not_keep_others_from_waking() {
    let group = WaitGroup::new();
    let token = group.token();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(group.wait());
    let mut b = Box::pin(group.wait());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    drop(a);
    drop(token);
    assert_eq!(cb.count(), 1);
    assert_ready!(cb, b);
    assert_eq!(ca.count(), 0, "a dropped waiter is not woken");
}

#[test]
fn a_waiter_woken_but_dropped_unpolled_loses_nothing() {
    let group = WaitGroup::new();
    let token = group.token();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(group.wait());
    let mut b = Box::pin(group.wait());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    drop(token);
    drop(a);
    assert_eq!(cb.count(), 1);
    assert_ready!(cb, b);
    assert_eq!(group.count(), 0);
    assert!(group.wait().now_or_never().is_some());
}

#[test]
fn repolling_with_a_new_waker_moves_the_wake_up() {
    let group = WaitGroup::new();
    let token = group.token();
    let (old, new) = (Counter::new(), Counter::new());
    let mut wait = pin!(group.wait());
    assert_pending!(old, wait);
    assert_pending!(new, wait);
    drop(token);
    assert_eq!((old.count(), new.count()), (0, 1));
    assert_ready!(new, wait);
}

#[cfg(feature = "std")]
#[test]
fn blocking_timeout_returns_false_then_true() {
    let group = WaitGroup::new();
    let token = group.token();
    assert!(!group.wait_blocking_timeout(Duration::from_millis(10)));
    assert!(!group.wait_blocking_timeout(Duration::ZERO));
    // The timed-out waits left nothing behind: the count is that of the live token.
    assert_eq!(group.count(), 1);
    drop(token);
    assert!(group.wait_blocking_timeout(Duration::from_millis(10)));
    assert!(group.wait_blocking_timeout(Duration::ZERO));
}

#[cfg(feature = "std")]
#[test]
fn blocking_wait_returns_once_another_thread_drops_the_token() {
    let group = WaitGroup::new();
    let token = group.token();
    blocked_until_released(|| group.wait_blocking(), || drop(token));
    assert_eq!(group.count(), 0);

    let token = group.token();
    let done = blocked_until_released(|| group.wait_blocking_timeout(HANG), || drop(token));
    assert!(done, "the timed wait saw the zero");
}

#[cfg(feature = "std")]
#[test]
fn blocking_wait_returns_after_every_thread_is_done() {
    let threads = if cfg!(miri) { 3 } else { 8 };
    let group = WaitGroup::new();
    let done = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let token = group.token();
            let done = done.clone();
            thread::spawn(move || {
                thread::yield_now();
                done.fetch_add(1, Ordering::SeqCst);
                drop(token);
            })
        })
        .collect();
    assert!(group.wait_blocking_timeout(HANG));
    // Every thread counted itself before its token went away.
    assert_eq!(done.load(Ordering::SeqCst), threads);
    for h in handles {
        h.join().unwrap();
    }
}

#[cfg(feature = "std")]
#[test]
fn a_token_dropped_by_a_panicking_thread_completes() {
    let group = WaitGroup::new();
    let token = group.token();
    let kept = group.token();
    let panicker = thread::spawn(move || {
        let _token = token;
        panic!("worker failed");
    });
    assert!(panicker.join().is_err());
    assert_eq!(group.count(), 1, "the panic dropped its token");
    assert!(!group.wait_blocking_timeout(Duration::from_millis(1)));
    drop(kept);
    assert!(group.wait_blocking_timeout(HANG));
}

#[test]
fn a_token_dropped_by_a_panicking_future_wakes_the_waiter() {
    let group = WaitGroup::new();
    let token = group.token();
    let counter = Counter::new();
    let mut wait = pin!(group.wait());
    assert_pending!(counter, wait);
    let res = futures::executor::block_on(
        AssertUnwindSafe(async move {
            let _token = token;
            panic!("task failed");
        })
        .catch_unwind(),
    );
    assert!(res.is_err());
    assert_eq!(counter.count(), 1, "the unwinding drop woke the waiter");
    assert_ready!(counter, wait);

    // Also when the panic happens while the token is being held by plain code.
    let token = group.token();
    assert!(catch_unwind(AssertUnwindSafe(move || {
        let _token = token;
        panic!("in place");
    }))
    .is_err());
    assert_eq!(group.count(), 0);
}

#[test]
fn debug_shows_the_count() {
    let group = WaitGroup::new();
    let token = group.token();
    let shown = format!("{group:?} {token:?}");
    assert!(shown.contains("count: 1"), "{shown}");
    let wait = group.wait();
    assert!(format!("{wait:?}").contains("WaitGroupWait"));
}

// The limit leaves room for any real program's tokens, below the top of the word.
const _: () = assert!(WaitGroup::MAX_TOKENS >= (1 << 29) - 1 && WaitGroup::MAX_TOKENS < usize::MAX);

#[cfg(feature = "std")]
#[test]
fn many_threads_racing_tokens_and_waits_never_strand_a_waiter() {
    // Rounds of: workers take and drop tokens while waiters wait; the round's last tokens go
    // and every waiter must return.
    let rounds = if cfg!(miri) { 3 } else { 200 };
    for _ in 0..rounds {
        let group = WaitGroup::new();
        let base: Vec<_> = (0..2).map(|_| group.token()).collect();
        thread::scope(|s| {
            let waiters: Vec<_> = (0..2)
                .map(|i| {
                    let group = &group;
                    s.spawn(move || {
                        if i == 0 {
                            group.wait_blocking();
                        } else {
                            futures::executor::block_on(group.wait());
                        }
                    })
                })
                .collect();
            for token in base {
                let group = &group;
                s.spawn(move || {
                    // Churn a few tokens, then let the base one go.
                    for _ in 0..3 {
                        drop(group.token());
                    }
                    drop(token);
                });
            }
            for w in waiters {
                w.join().unwrap();
            }
        });
        assert_eq!(group.count(), 0);
    }
}

#[cfg_attr(
    miri,
    ignore = "starts tokio and smol runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn tokens_held_by_tokio_smol_and_threads_complete_one_wait() {
    const PER_KIND: usize = 4;
    let group = WaitGroup::new();
    // Released by the test once every worker holds its token and waits on `go`.
    let gate = WaitGroup::new();
    let hold = gate.token();
    let done = Arc::new(AtomicUsize::new(0));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let ex = Arc::new(smol::Executor::new());
    let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
    let smol_threads: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stop_rx) = (ex.clone(), stop_rx.clone());
            thread::spawn(move || {
                smol::block_on(ex.run(async move {
                    let _ = stop_rx.recv().await;
                }))
            })
        })
        .collect();

    let mut tokio_tasks = Vec::new();
    let mut smol_tasks = Vec::new();
    let mut threads = Vec::new();
    for i in 0..PER_KIND {
        let work = |token: WaitGroupToken| {
            let (gate, done) = (gate.clone(), done.clone());
            async move {
                gate.wait().await;
                common::yield_once().await;
                done.fetch_add(1, Ordering::SeqCst);
                drop(token);
            }
        };
        tokio_tasks.push(rt.spawn(work(group.token())));
        smol_tasks.push(ex.spawn(work(group.token())));
        let (token, gate, done) = (group.token(), gate.clone(), done.clone());
        threads.push(thread::spawn(move || {
            if i % 2 == 0 {
                gate.wait_blocking();
            } else {
                assert!(gate.wait_blocking_timeout(HANG));
            }
            done.fetch_add(1, Ordering::SeqCst);
            drop(token);
        }));
    }
    assert_eq!(group.count(), 3 * PER_KIND);

    // Waiters of every kind on the one group, all started before any token goes away.
    let waiter = |group: WaitGroup, done: Arc<AtomicUsize>| async move {
        group.wait().await;
        done.load(Ordering::SeqCst)
    };
    let tokio_waiter = rt.spawn(waiter(group.clone(), done.clone()));
    let smol_waiter = ex.spawn(waiter(group.clone(), done.clone()));
    let thread_waiter = {
        let (group, done) = (group.clone(), done.clone());
        thread::spawn(move || {
            group.wait_blocking();
            done.load(Ordering::SeqCst)
        })
    };
    // Nothing can complete while every token is held behind the gate.
    assert!(!group.wait_blocking_timeout(Duration::from_millis(20)));
    assert_eq!(done.load(Ordering::SeqCst), 0);

    drop(hold);
    assert!(group.wait_blocking_timeout(HANG));
    let all = 3 * PER_KIND;
    assert_eq!(done.load(Ordering::SeqCst), all);
    assert_eq!(rt.block_on(tokio_waiter).unwrap(), all);
    assert_eq!(futures::executor::block_on(smol_waiter), all);
    assert_eq!(thread_waiter.join().unwrap(), all);
    rt.block_on(async {
        for t in tokio_tasks {
            t.await.unwrap();
        }
    });
    futures::executor::block_on(futures::future::join_all(smol_tasks));
    for t in threads {
        t.join().unwrap();
    }
    drop(stop_tx);
    for t in smol_threads {
        t.join().unwrap();
    }
    assert_eq!(group.count(), 0);
}

#[cfg_attr(
    miri,
    ignore = "starts tokio and smol runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[test]
fn panicking_tokio_and_smol_tasks_still_complete_their_tokens() {
    let group = WaitGroup::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let token = group.token();
    let tokio_task = rt.spawn(async move {
        let _token = token;
        common::yield_once().await;
        panic!("tokio task failed");
    });
    let token = group.token();
    let smol_task = smol::spawn(
        AssertUnwindSafe(async move {
            let _token = token;
            common::yield_once().await;
            panic!("smol task failed");
        })
        .catch_unwind(),
    );
    rt.block_on(async {
        tokio::time::timeout(HANG, group.wait())
            .await
            .expect("the panicking tasks' tokens were dropped");
    });
    assert!(rt.block_on(tokio_task).unwrap_err().is_panic());
    assert!(smol::block_on(smol_task).is_err());
    assert_eq!(group.count(), 0);
}

#[test]
fn polling_after_completion_panics_and_fused_reports_it() {
    let group = WaitGroup::new();
    let mut wait = Box::pin(group.wait());
    assert!(!wait.is_terminated());
    assert_ready!(wait);
    assert!(wait.is_terminated());
    let again = catch_unwind(AssertUnwindSafe(|| poll_once(&mut wait)));
    assert!(again.is_err(), "a completed wait must not be polled again");
}

/// The last token's drop ends every wait in one step: a wait polled after another one saw the
/// group done sees it too, even while the drop is still waking the waiters batch by batch.
#[test]
fn a_wait_polled_after_another_saw_the_group_done_completes_too() {
    // A static, not a leak: the waits are kept by a waker, which must be `'static`.
    static GROUP: std::sync::LazyLock<WaitGroup> = std::sync::LazyLock::new(WaitGroup::new);
    let group: &'static WaitGroup = &GROUP;
    let token = group.token();
    common::one_release_ends_every_wait_at_once(|| group.wait(), || drop(token));
}

/// "A wait completes once the count is zero at some moment after the wait started, even if a
/// new token is made before the waiter runs again": also for a queued wait polled while the
/// last token's drop is still waking earlier waits (held between two batches), which sees the
/// zero, leaves the queue, and meets a new token before it tries again (here made by its old
/// waker's drop, which runs right there).
#[test]
fn a_wait_that_saw_the_zero_completes_though_a_token_comes_as_it_leaves_the_queue() {
    static GROUP: std::sync::LazyLock<WaitGroup> = std::sync::LazyLock::new(WaitGroup::new);
    static LATE: std::sync::Mutex<Option<WaitGroupToken>> = std::sync::Mutex::new(None);
    struct TokenOnDrop;
    impl std::task::Wake for TokenOnDrop {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for TokenOnDrop {
        fn drop(&mut self) {
            *LATE.lock().unwrap() = Some(GROUP.token());
        }
    }
    let token = GROUP.token();
    let seen_zero = common::last_wait_polled_as_new_work_starts(
        || GROUP.wait(),
        std::task::Waker::from(Arc::new(TokenOnDrop)),
        move || drop(token),
        || GROUP.count() == 0,
        || drop(LATE.lock().unwrap().take()),
    );
    assert!(
        seen_zero,
        "the wait saw the zero, yet waits on for the token made after it"
    );
}

/// An owned wait needs no group handle: it is `'static`, keeps the count alive after every
/// handle is gone, and completes when the last token goes.
#[test]
fn owned_wait_outlives_every_handle() {
    fn send_static<T: Send + Sync + 'static>(_: &T) {}
    let group = WaitGroup::new();
    let token = group.token();
    let counter = Counter::new();
    let mut wait = Box::pin(group.wait_owned());
    send_static(&wait);
    drop(group);
    assert_pending!(counter, wait);
    drop(token);
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, wait);
    assert!(wait.is_terminated());
}

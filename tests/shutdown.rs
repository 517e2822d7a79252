//! Tests of `ShutdownSignal` and `DrainGuard`: triggering and waiting at the poll level, the
//! tree of children (ported from the ideas of tokio-util's `CancellationToken` tests), drop
//! orders, draining, timeouts, deep chains on a small stack, panics, and one signal shared by
//! tokio tasks, smol tasks and plain threads.
// The tests that use the blocking forms need the `std` feature.
#![cfg_attr(not(feature = "std"), allow(unused_imports, dead_code))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{
    assert_pending, assert_ready, blocked_until_released, net_bytes, poll_once, poll_with, Counter,
    Stall,
};
use futures::future::FusedFuture;
use futures::FutureExt;
use unisync::futures::{Drained, ShutdownWait, ShutdownWaitOwned};
use unisync::{DrainGuard, ShutdownSignal, WaitGroup, WaitGroupToken};

// Counts what each thread allocates and frees (`net_bytes`), to check that dropped signals
// leave nothing behind.
common::counting_allocator!();

/// Long enough never to expire on a healthy run: only turns a lost wake-up into a failure.
const HANG: Duration = Duration::from_secs(300);

/// Fires a throwaway parent and child on this thread, so that the thread's one-time setup
/// (the thread-local the firing uses) is not counted by a later `net_bytes`.
fn warm_up_this_thread() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let grandchild = child.child();
    root.trigger();
    assert!(grandchild.is_triggered());
}

#[test]
fn handles_guards_and_futures_are_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<ShutdownSignal>();
    send_sync::<DrainGuard>();
    send_sync::<ShutdownWait<'_>>();
    send_sync::<ShutdownWaitOwned>();
    send_sync::<Drained<'_>>();
    // What moves into a spawned task.
    send_static::<ShutdownSignal>();
    send_static::<DrainGuard>();
    send_static::<ShutdownWaitOwned>();
}

// ---------------------------------------------------------------------------------------------
// Trigger and wait
// ---------------------------------------------------------------------------------------------

#[test]
fn new_signal_is_untriggered_and_trigger_fires_it_once() {
    let signal = ShutdownSignal::new();
    assert!(!signal.is_triggered());
    assert!(!ShutdownSignal::default().is_triggered());
    assert!(signal.wait().now_or_never().is_none());
    assert!(signal.trigger(), "the first trigger fires it");
    assert!(signal.is_triggered());
    assert!(!signal.trigger(), "later triggers report that it had fired");
    assert!(signal.is_triggered(), "stays triggered");
    assert!(signal.wait().now_or_never().is_some());
    assert!(signal.wait_owned().now_or_never().is_some());
}

#[test]
fn trigger_wakes_exactly_the_waiters() {
    let signal = ShutdownSignal::new();
    let counter = Counter::new();
    let idle = Counter::new();
    let mut parked = pin!(signal.wait());
    assert_pending!(counter, parked);
    let mut owned = pin!(signal.wait_owned());
    assert_pending!(counter, owned);
    // Made but never polled: not waiting, so not woken.
    let mut unpolled = pin!(signal.wait());
    assert_eq!(counter.count(), 0);

    assert!(signal.trigger());
    assert_eq!(counter.count(), 2, "one wake-up per parked waiter");
    assert_eq!(idle.count(), 0);
    assert!(signal.is_triggered());
    assert_ready!(counter, parked);
    assert_ready!(counter, owned);
    assert_ready!(idle, unpolled);
    assert_eq!(idle.count(), 0, "a ready wait registers nothing");
    // A second trigger wakes nobody.
    assert!(!signal.trigger());
    assert_eq!(counter.count(), 2);
}

#[test]
fn clones_are_one_signal() {
    let signal = ShutdownSignal::new();
    let clone = signal.clone();
    let counter = Counter::new();
    let mut wait = pin!(signal.wait());
    assert_pending!(counter, wait);
    assert!(clone.trigger());
    assert!(signal.is_triggered());
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, wait);
    assert!(!signal.trigger());
}

#[test]
fn a_dropped_waiter_is_not_woken_and_does_not_block_the_others() {
    let signal = ShutdownSignal::new();
    let (ca, cb) = (Counter::new(), Counter::new());
    let mut a = Box::pin(signal.wait());
    let mut b = Box::pin(signal.wait_owned());
    assert_pending!(ca, a);
    assert_pending!(cb, b);
    drop(a);
    signal.trigger();
    assert_eq!((ca.count(), cb.count()), (0, 1));
    assert_ready!(cb, b);
}

#[test]
fn repolling_with_a_new_waker_moves_the_wake_up() {
    let signal = ShutdownSignal::new();
    let (old, new) = (Counter::new(), Counter::new());
    let mut wait = pin!(signal.wait());
    assert_pending!(old, wait);
    assert_pending!(new, wait);
    signal.trigger();
    assert_eq!((old.count(), new.count()), (0, 1));
    assert_ready!(new, wait);
    assert!(wait.is_terminated());
}

#[test]
fn wait_owned_outlives_the_handle_it_came_from() {
    let signal = ShutdownSignal::new();
    let trigger = signal.clone();
    let owned = signal.wait_owned();
    drop(signal);
    let waiter = thread::spawn(move || futures::executor::block_on(owned));
    trigger.trigger();
    waiter.join().unwrap();
}

#[cfg(feature = "std")]
#[test]
fn blocking_timeout_returns_false_then_true() {
    let signal = ShutdownSignal::new();
    assert!(!signal.wait_blocking_timeout(Duration::from_millis(10)));
    assert!(!signal.wait_blocking_timeout(Duration::ZERO));
    // The timed-out waits left nothing queued that a trigger would trip over.
    assert!(signal.trigger());
    assert!(signal.wait_blocking_timeout(Duration::from_millis(10)));
    assert!(signal.wait_blocking_timeout(Duration::ZERO));
    signal.wait_blocking();
}

#[cfg(feature = "std")]
#[test]
fn blocking_wait_returns_when_another_thread_triggers() {
    let signal = ShutdownSignal::new();
    blocked_until_released(|| signal.wait_blocking(), || assert!(signal.trigger()));

    let signal = ShutdownSignal::new();
    let child = signal.child();
    let fired = blocked_until_released(
        || child.wait_blocking_timeout(HANG),
        || assert!(signal.trigger()),
    );
    assert!(
        fired,
        "the parent's trigger reached the blocked child waiter"
    );
}

#[test]
fn debug_shows_the_state() {
    let signal = ShutdownSignal::new();
    let guard = signal.track();
    let shown = format!("{signal:?}");
    assert!(shown.contains("is_triggered: false"), "{shown}");
    assert!(shown.contains("tracked: 1"), "{shown}");
    signal.trigger();
    let shown = format!("{guard:?}");
    assert!(shown.contains("is_triggered: true"), "{shown}");
    assert!(format!("{:?}", signal.wait()).contains("ShutdownWait"));
    assert!(format!("{:?}", signal.drained()).contains("Drained"));
}

#[test]
fn polling_after_completion_panics_and_fused_reports_it() {
    let signal = ShutdownSignal::new();
    signal.trigger();
    let mut wait = Box::pin(signal.wait());
    assert!(!wait.is_terminated());
    assert_ready!(wait);
    assert!(wait.is_terminated());
    assert!(catch_unwind(AssertUnwindSafe(|| poll_once(&mut wait))).is_err());
}

// ---------------------------------------------------------------------------------------------
// Children: the ideas of tokio-util's `CancellationToken` tests, on this API
// ---------------------------------------------------------------------------------------------

#[test]
fn child_fires_with_its_parent() {
    let counter = Counter::new();
    let parent = ShutdownSignal::new();
    let child = parent.child();
    assert!(!child.is_triggered());
    let mut child_wait = pin!(child.wait());
    let mut parent_wait = pin!(parent.wait());
    assert_pending!(counter, child_wait);
    assert_pending!(counter, parent_wait);
    assert_eq!(counter.count(), 0);

    assert!(parent.trigger());
    assert_eq!(counter.count(), 2);
    assert!(parent.is_triggered());
    assert!(child.is_triggered());
    assert!(!child.trigger(), "the child had fired with its parent");
    assert_ready!(counter, child_wait);
    assert_ready!(counter, parent_wait);
}

#[test]
fn grandchild_is_reached_after_the_intermediate_child_is_dropped() {
    let counter = Counter::new();
    let parent = ShutdownSignal::new();
    let intermediate = parent.child();
    let grandchild = intermediate.child();
    drop(intermediate);
    assert!(!grandchild.is_triggered());
    let mut grandchild_wait = pin!(grandchild.wait());
    let mut parent_wait = pin!(parent.wait());
    assert_pending!(counter, grandchild_wait);
    assert_pending!(counter, parent_wait);
    assert_eq!(counter.count(), 0);

    parent.trigger();
    assert_eq!(counter.count(), 2);
    assert!(grandchild.is_triggered());
    assert_ready!(counter, grandchild_wait);
    assert_ready!(counter, parent_wait);
}

#[test]
fn child_triggered_alone_leaves_its_parent_and_siblings() {
    let counter = Counter::new();
    let parent = ShutdownSignal::new();
    let child = parent.child();
    let sibling = parent.child();
    let mut child_wait = pin!(child.wait());
    let mut parent_wait = pin!(parent.wait());
    let mut sibling_wait = pin!(sibling.wait());
    assert_pending!(counter, child_wait);
    assert_pending!(counter, parent_wait);
    assert_pending!(counter, sibling_wait);

    assert!(child.trigger());
    assert_eq!(counter.count(), 1, "only the child's waiter");
    assert!(child.is_triggered());
    assert!(!parent.is_triggered());
    assert!(!sibling.is_triggered());
    assert_ready!(counter, child_wait);
    assert_pending!(counter, parent_wait);
    assert_pending!(counter, sibling_wait);

    // A child made now is not triggered either, and still fires with the parent.
    let late = parent.child();
    assert!(!late.is_triggered());
    let mut late_wait = pin!(late.wait());
    assert_pending!(counter, late_wait);
    assert!(parent.trigger());
    assert_eq!(counter.count(), 4, "parent, sibling and late child woken");
    assert!(late.is_triggered() && sibling.is_triggered());
    assert_ready!(counter, late_wait);
    assert_ready!(counter, parent_wait);
    assert_ready!(counter, sibling_wait);
}

#[test]
fn child_made_after_the_parent_fired_is_born_triggered() {
    for drop_child_first in [true, false] {
        let counter = Counter::new();
        let parent = ShutdownSignal::new();
        parent.trigger();
        let child = parent.child();
        assert!(child.is_triggered());
        assert!(!child.trigger(), "born triggered");
        assert!(child.child().is_triggered(), "and so are its own children");
        {
            let mut child_wait = pin!(child.wait());
            let mut parent_wait = pin!(parent.wait());
            assert_ready!(counter, child_wait);
            assert_ready!(counter, parent_wait);
            assert_eq!(counter.count(), 0);
        }
        if drop_child_first {
            drop(child);
            drop(parent);
        } else {
            drop(parent);
            drop(child);
        }
    }
}

#[test]
fn child_of_a_child_triggered_alone_is_born_triggered() {
    let root = ShutdownSignal::new();
    let child = root.child();
    child.trigger();
    let grandchild = child.child();
    assert!(grandchild.is_triggered());
    assert!(!root.is_triggered());
    assert!(!root.child().is_triggered());
}

#[test]
fn dropping_children_in_any_order_leaves_the_parent_untouched() {
    warm_up_this_thread();
    for drop_first_child_first in [true, false] {
        let (bytes, ()) = net_bytes(|| {
            let parent = ShutdownSignal::new();
            let mut children: Vec<_> = (0..3).map(|_| Some(parent.child())).collect();
            assert!(!children[0].as_ref().unwrap().is_triggered());
            for i in 0..children.len() {
                let at = if drop_first_child_first {
                    i
                } else {
                    children.len() - 1 - i
                };
                children[at] = None;
                assert!(!parent.is_triggered());
                for c in children.iter().flatten() {
                    assert!(!c.is_triggered(), "dropping a sibling fired a child");
                }
            }
            // The parent still works: a new child fires with it.
            let child = parent.child();
            parent.trigger();
            assert!(child.is_triggered());
        });
        assert_eq!(bytes, 0, "dropped children left {bytes} bytes behind");
    }
}

#[test]
fn trigger_reaches_only_descendants() {
    let counter = Counter::new();
    let parent = ShutdownSignal::new();
    let signal = parent.child();
    let sibling = parent.child();
    let child1 = signal.child();
    let child2 = signal.child();
    let grandchild = child1.child();
    let grandchild2 = child1.child();
    let great_grandchild = grandchild.child();
    let all = [
        &parent,
        &signal,
        &sibling,
        &child1,
        &child2,
        &grandchild,
        &grandchild2,
        &great_grandchild,
    ];
    for s in all {
        assert!(!s.is_triggered());
    }
    let mut waits: Vec<_> = all.iter().map(|s| Box::pin(s.wait())).collect();
    for w in &mut waits {
        assert!(counter.poll(w).is_pending());
    }
    assert_eq!(counter.count(), 0);

    assert!(signal.trigger());

    assert_eq!(counter.count(), 6, "the signal and its five descendants");
    let fired: Vec<bool> = all.iter().map(|s| s.is_triggered()).collect();
    assert_eq!(fired, [false, true, false, true, true, true, true, true]);
    let ready: Vec<bool> = waits
        .iter_mut()
        .map(|w| counter.poll(w).is_ready())
        .collect();
    assert_eq!(ready, fired);
    assert_eq!(counter.count(), 6);
}

#[test]
fn drop_orders_in_both_states_leave_everything_consistent_and_freed() {
    warm_up_this_thread();
    for triggered in [false, true] {
        for parent_first in [false, true] {
            let (bytes, ()) = net_bytes(|| {
                let counter = Counter::new();
                let parent = ShutdownSignal::new();
                let child1 = parent.child();
                let child2 = parent.child();
                let grandchild = child1.child();
                if triggered {
                    parent.trigger();
                }
                if parent_first {
                    drop(parent);
                    // The children are as they were: triggered or not, and usable.
                    assert_eq!(child1.is_triggered(), triggered);
                    assert_eq!(grandchild.is_triggered(), triggered);
                    if !triggered {
                        let mut wait = pin!(grandchild.wait());
                        assert_pending!(counter, wait);
                        assert!(child1.trigger(), "an orphan still fires its subtree");
                        assert_eq!(counter.count(), 1);
                        assert_ready!(counter, wait);
                        assert!(!child2.is_triggered());
                    }
                    drop(child1);
                    drop(grandchild);
                    drop(child2);
                } else {
                    drop(grandchild);
                    drop(child2);
                    assert_eq!(child1.is_triggered(), triggered);
                    drop(child1);
                    assert_eq!(parent.is_triggered(), triggered);
                    if !triggered {
                        // Dropped children did not fire the parent, and it still works.
                        let late = parent.child();
                        let mut wait = pin!(late.wait());
                        assert_pending!(counter, wait);
                        parent.trigger();
                        assert_eq!(counter.count(), 1);
                        assert_ready!(counter, wait);
                    }
                    drop(parent);
                }
            });
            assert_eq!(
                bytes, 0,
                "{bytes} bytes left behind (triggered: {triggered}, parent first: {parent_first})"
            );
        }
    }
}

#[test]
fn dropping_a_parent_handle_keeps_its_children_reachable_from_above() {
    // The middle signal has no handle left, only its child: the root's trigger must still get
    // through it, and the same holds for a middle signal whose only user is a guard or a wait.
    let root = ShutdownSignal::new();
    let middle = root.child();
    let leaf = middle.child();
    let guard = root.child().track();
    let owned = root.child().wait_owned();
    drop(middle);
    root.trigger();
    assert!(leaf.is_triggered());
    assert!(guard.signal().is_triggered());
    assert!(owned.now_or_never().is_some());
}

/// Regression: handles made by `clone`, `track` and `wait_owned` count as users of the signal.
/// When they did not, dropping one unregistered the child from its parent while other handles
/// were alive, and the parent's trigger no longer reached it.
#[test]
fn dropping_a_clone_guard_or_owned_wait_keeps_the_child_registered() {
    let root = ShutdownSignal::new();
    let by_clone = root.child();
    drop(by_clone.clone());
    let by_guard = root.child();
    drop(by_guard.track());
    drop(by_guard.track().clone());
    let by_owned_wait = root.child();
    drop(by_owned_wait.wait_owned());
    let counter = Counter::new();
    let mut wait = pin!(by_owned_wait.wait());
    assert_pending!(counter, wait);

    root.trigger();
    assert!(
        by_clone.is_triggered(),
        "a dropped clone unregistered the child"
    );
    assert!(
        by_guard.is_triggered(),
        "a dropped guard unregistered the child"
    );
    assert!(
        by_owned_wait.is_triggered(),
        "a dropped owned wait unregistered the child"
    );
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, wait);
}

#[test]
fn a_guard_or_an_owned_wait_alone_keeps_a_child_registered() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let guard = child.track();
    let owned = child.wait_owned();
    drop(child);
    let counter = Counter::new();
    let mut owned = pin!(owned);
    assert_pending!(counter, owned);
    root.trigger();
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, owned);
    assert!(guard.signal().is_triggered());
    assert_eq!(root.tracked(), 1);
    drop(guard);
    assert_eq!(root.tracked(), 0);
}

#[test]
fn children_made_and_dropped_on_a_root_with_a_waiter_do_not_disturb_it() {
    let root = ShutdownSignal::new();
    let counter = Counter::new();
    let mut wait = pin!(root.wait());
    assert_pending!(counter, wait);
    for i in 0..100 {
        let child = root.child();
        if i % 3 == 0 {
            child.trigger();
        }
        drop(child);
    }
    let kept = root.child();
    assert_eq!(counter.count(), 0);
    root.trigger();
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, wait);
    assert!(kept.is_triggered());
}

// ---------------------------------------------------------------------------------------------
// Wakers that run code
// ---------------------------------------------------------------------------------------------

/// A waker that runs a closure the first time it is woken.
struct OnWake<F: Fn() + Send + Sync> {
    run: F,
    fired: AtomicBool,
}

impl<F: Fn() + Send + Sync + 'static> OnWake<F> {
    fn waker(run: F) -> Waker {
        Waker::from(Arc::new(OnWake {
            run,
            fired: AtomicBool::new(false),
        }))
    }
}

impl<F: Fn() + Send + Sync> Wake for OnWake<F> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.fired.swap(true, Ordering::SeqCst) {
            (self.run)();
        }
    }
}

#[test]
fn a_waker_that_triggers_another_tree_finishes_before_the_outer_trigger_returns() {
    // The waker runs while the root's children are being fired; the other tree it fires
    // must be complete by the time the root's trigger returns.
    let root = ShutdownSignal::new();
    let child = root.child();
    let other = ShutdownSignal::new();
    let other_leaf = other.child().child();
    let waker = {
        let other = other.clone();
        OnWake::waker(move || {
            assert!(other.trigger());
        })
    };
    let mut wait = pin!(child.wait());
    assert!(poll_with(&mut wait, &waker).is_pending());
    root.trigger();
    assert!(child.is_triggered());
    assert!(other.is_triggered());
    assert!(other_leaf.is_triggered());
    assert!(poll_with(&mut wait, &waker).is_ready());
}

#[test]
fn a_trigger_from_a_waker_has_fired_its_whole_tree_when_it_returns() {
    // The waker runs while the root's children are being fired; the trigger it calls on
    // another tree must not return before that tree's descendants have fired (code right
    // after it may rely on them, or wait for them).
    let root = ShutdownSignal::new();
    let child = root.child();
    let other = ShutdownSignal::new();
    let other_leaf = other.child().child();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let waker = {
        let (other, seen) = (other.clone(), seen.clone());
        OnWake::waker(move || {
            assert!(other.trigger());
            *seen.lock().unwrap() = Some(other_leaf.is_triggered());
        })
    };
    let mut wait = pin!(child.wait());
    assert!(poll_with(&mut wait, &waker).is_pending());
    root.trigger();
    assert_eq!(
        *seen.lock().unwrap(),
        Some(true),
        "the grandchild had fired when the inner trigger returned"
    );
    assert!(poll_with(&mut wait, &waker).is_ready());
}

#[test]
fn a_waker_that_makes_and_drops_children_of_the_firing_signal() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let grandchild = child.child();
    let made_inside = Arc::new(std::sync::Mutex::new(None));
    let waker = {
        let (child, made_inside) = (child.clone(), made_inside.clone());
        OnWake::waker(move || {
            // The child is firing right now: a new child of it is born triggered.
            let fresh = child.child();
            drop(child.child());
            *made_inside.lock().unwrap() = Some(fresh.is_triggered());
        })
    };
    let mut wait = pin!(child.wait());
    assert!(poll_with(&mut wait, &waker).is_pending());
    root.trigger();
    assert_eq!(*made_inside.lock().unwrap(), Some(true));
    assert!(grandchild.is_triggered());
    assert!(poll_with(&mut wait, &waker).is_ready());
}

/// A waker that panics when woken.
struct Panics;

impl Wake for Panics {
    fn wake(self: Arc<Self>) {
        panic!("a waker that panics");
    }
}

/// A waker that panics while a child is firing must not stop the child's own children from
/// firing: their parent has fired, so they must have too.
#[test]
fn a_panicking_waker_does_not_strand_the_children_of_the_signal_firing() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let before = child.child();
    let waker = Waker::from(Arc::new(Panics));
    let mut wait = Box::pin(child.wait());
    assert!(poll_with(&mut wait, &waker).is_pending());
    let after = child.child();

    let res = catch_unwind(AssertUnwindSafe(|| root.trigger()));
    assert!(
        res.is_err(),
        "the waker's panic reaches the trigger's caller"
    );
    assert!(root.is_triggered());
    assert!(child.is_triggered());
    assert_eq!(
        (before.is_triggered(), after.is_triggered()),
        (true, true),
        "children of a fired signal (queued before and after the panicking waker) never fired"
    );
    // Whatever happened, the thread can still fire signals.
    let again = ShutdownSignal::new();
    let again_child = again.child().child();
    again.trigger();
    assert!(again_child.is_triggered());
}

// ---------------------------------------------------------------------------------------------
// Drain
// ---------------------------------------------------------------------------------------------

#[test]
fn track_counts_and_guards_know_their_signal() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let a = root.track();
    let b = child.track();
    let c = b.clone();
    assert_eq!((root.tracked(), child.tracked()), (3, 2));
    assert!(!c.signal().is_triggered());
    child.trigger();
    assert!(b.signal().is_triggered() && c.signal().is_triggered());
    assert!(!a.signal().is_triggered());
    drop(b);
    assert_eq!((root.tracked(), child.tracked()), (2, 1));
    drop((a, c));
    assert_eq!((root.tracked(), child.tracked()), (0, 0));
}

#[test]
fn drained_waits_for_the_trigger_and_for_every_guard() {
    let signal = ShutdownSignal::new();
    let guards = [signal.track(), signal.track()];
    let counter = Counter::new();
    let mut drained = pin!(signal.drained());
    assert_pending!(counter, drained);
    let [first, second] = guards;
    drop(first);
    assert_eq!(counter.count(), 0, "not triggered yet");
    assert_pending!(counter, drained);

    signal.trigger();
    // The trigger may wake the drain wait to look again; it must not complete.
    assert_pending!(counter, drained);
    let seen = counter.count();
    drop(second);
    assert!(counter.count() > seen, "the last guard woke the drain wait");
    assert_ready!(counter, drained);
    assert!(signal.drained().now_or_never().is_some());
}

#[test]
fn drained_with_nothing_tracked_completes_at_the_trigger() {
    let signal = ShutdownSignal::new();
    let counter = Counter::new();
    let mut drained = pin!(signal.drained());
    assert_pending!(counter, drained);
    let guard = signal.track();
    drop(guard);
    assert_eq!(
        counter.count(),
        0,
        "a zero before the trigger does not count"
    );
    assert_pending!(counter, drained);
    signal.trigger();
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, drained);
}

#[test]
fn guards_under_children_count_toward_every_ancestor() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let grandchild = child.child();
    let g1 = child.track();
    let g2 = grandchild.track();
    assert_eq!(
        (root.tracked(), child.tracked(), grandchild.tracked()),
        (2, 2, 1)
    );
    let counter = Counter::new();
    let mut root_drained = pin!(root.drained());
    let mut child_drained = pin!(child.drained());
    let mut grandchild_drained = pin!(grandchild.drained());
    assert_pending!(counter, root_drained);
    assert_pending!(counter, child_drained);
    assert_pending!(counter, grandchild_drained);

    root.trigger();
    assert_pending!(counter, root_drained);
    assert_pending!(counter, child_drained);
    assert_pending!(counter, grandchild_drained);

    drop(g2);
    assert_ready!(counter, grandchild_drained);
    assert_pending!(counter, child_drained);
    assert_pending!(counter, root_drained);
    drop(g1);
    assert_ready!(counter, child_drained);
    assert_ready!(counter, root_drained);
    assert_eq!(root.tracked(), 0);
}

#[test]
fn a_child_drains_on_its_own() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let root_guard = root.track();
    let child_guard = child.track();
    child.trigger();
    assert!(child.drained().now_or_never().is_none());
    drop(child_guard);
    // The root's own guard does not count toward its child.
    assert!(child.drained().now_or_never().is_some());
    assert!(
        root.drained().now_or_never().is_none(),
        "root not triggered"
    );
    root.trigger();
    assert!(
        root.drained().now_or_never().is_none(),
        "root's guard is out"
    );
    drop(root_guard);
    assert!(root.drained().now_or_never().is_some());
}

#[cfg(feature = "std")]
#[test]
fn a_task_tracked_after_the_trigger_counts_until_dropped() {
    let signal = ShutdownSignal::new();
    signal.trigger();
    assert!(signal.drained().now_or_never().is_some());
    let late = signal.track();
    assert_eq!(signal.tracked(), 1);
    assert!(late.signal().is_triggered());
    let counter = Counter::new();
    let mut drained = pin!(signal.drained());
    assert_pending!(counter, drained);
    assert!(!signal.drained_blocking_timeout(Duration::from_millis(1)));
    drop(late);
    assert_eq!(counter.count(), 1);
    assert_ready!(counter, drained);
}

#[test]
fn a_zero_after_the_drain_started_completes_it_even_if_a_guard_comes_back() {
    let signal = ShutdownSignal::new();
    let guard = signal.track();
    signal.trigger();
    let counter = Counter::new();
    let mut drained = pin!(signal.drained());
    assert_pending!(counter, drained);
    drop(guard);
    assert_eq!(counter.count(), 1);
    let again = signal.track();
    assert_ready!(counter, drained);
    // A drain that starts now waits for the new guard.
    let mut late = pin!(signal.drained());
    assert_pending!(counter, late);
    drop(again);
    assert_ready!(counter, late);
}

#[cfg(feature = "std")]
#[test]
fn drained_blocking_timeout_is_false_while_a_guard_is_alive() {
    let signal = ShutdownSignal::new();
    assert!(
        !signal.drained_blocking_timeout(Duration::from_millis(5)),
        "nothing tracked, but not triggered"
    );
    let guard = signal.child().track();
    signal.trigger();
    assert!(!signal.drained_blocking_timeout(Duration::from_millis(10)));
    assert!(!signal.drained_blocking_timeout(Duration::ZERO));
    assert_eq!(signal.tracked(), 1, "the timed-out waits changed nothing");
    drop(guard);
    assert!(signal.drained_blocking_timeout(Duration::from_millis(10)));
    assert!(signal.drained_blocking_timeout(Duration::ZERO));
    signal.drained_blocking();
}

#[cfg(feature = "std")]
#[test]
fn drained_blocking_returns_once_another_thread_drops_the_guard() {
    let signal = ShutdownSignal::new();
    let guard = signal.track();
    signal.trigger();
    blocked_until_released(|| signal.drained_blocking(), || drop(guard));

    let signal = ShutdownSignal::new();
    let guard = signal.child().track();
    let drained = blocked_until_released(
        || signal.drained_blocking_timeout(HANG),
        || {
            signal.trigger();
            drop(guard);
        },
    );
    assert!(drained);
}

#[cfg(feature = "std")]
#[test]
fn a_guard_dropped_by_a_panic_completes() {
    let signal = ShutdownSignal::new();
    let guard = signal.child().track();
    let counter = Counter::new();
    let mut drained = pin!(signal.drained());
    assert_pending!(counter, drained);
    signal.trigger();
    let res = futures::executor::block_on(
        AssertUnwindSafe(async move {
            guard.signal().wait().await;
            let _guard = guard;
            panic!("task failed while draining");
        })
        .catch_unwind(),
    );
    assert!(res.is_err());
    assert_eq!(signal.tracked(), 0);
    assert_ready!(counter, drained);

    let guard = signal.track();
    let worker = thread::spawn(move || {
        let _guard = guard;
        panic!("thread failed while draining");
    });
    assert!(worker.join().is_err());
    assert!(signal.drained_blocking_timeout(HANG));
}

// ---------------------------------------------------------------------------------------------
// Deep chains, on a small stack
// ---------------------------------------------------------------------------------------------

/// How long the deep chains are: under Miri, 100 (still past the 33 signals a guard lists on
/// the stack); there the chains check what is freed and when, not the stack's depth.
fn depth() -> usize {
    if cfg!(miri) {
        100
    } else {
        100_000
    }
}

/// Runs `f` on a thread with a 256 KiB stack: a recursion over a deep chain overflows it.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name("small stack".into())
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the deep chain test failed (a stack overflow aborts the process instead)");
}

/// A chain of `depth` children under `root`, each made from the one before. Keeps every
/// handle, or only the last.
fn chain(root: &ShutdownSignal, depth: usize, keep: bool) -> Vec<ShutdownSignal> {
    let mut kept = Vec::new();
    let mut current = root.child();
    for _ in 1..depth {
        let next = current.child();
        if keep {
            kept.push(current);
        }
        current = next;
    }
    kept.push(current);
    kept
}

#[test]
// Without `std` a chain fires recursively, as deep as it is.
#[cfg(feature = "std")]
fn deep_chain_without_intermediate_handles_fires_and_drops_iteratively() {
    on_small_stack(|| {
        warm_up_this_thread();
        for triggered in [false, true] {
            for root_first in [false, true] {
                let (bytes, ()) = net_bytes(|| {
                    let root = ShutdownSignal::new();
                    let leaf = chain(&root, depth(), false).pop().unwrap();
                    assert!(!leaf.is_triggered());
                    if triggered {
                        let counter = Counter::new();
                        let mut wait = pin!(leaf.wait());
                        assert_pending!(counter, wait);
                        assert!(root.trigger());
                        assert!(leaf.is_triggered(), "the trigger did not reach the leaf");
                        assert_eq!(counter.count(), 1);
                        assert_ready!(counter, wait);
                    }
                    if root_first {
                        drop(root);
                        drop(leaf);
                    } else {
                        drop(leaf);
                        drop(root);
                    }
                });
                assert_eq!(
                    bytes, 0,
                    "{bytes} bytes left (triggered: {triggered}, root first: {root_first})"
                );
            }
        }
    });
}

/// While a `track` on a leaf is under way, a thread that sees the task counted under the leaf
/// sees it counted under the root too (the guard counts from the root down and uncounts from
/// the leaf up): a drain of the root never ends while a child shows a task. A long chain
/// makes the window of the opposite order wide.
#[test]
#[cfg_attr(
    miri,
    ignore = "races a track over a long chain; far too slow under miri"
)]
#[cfg(feature = "std")]
fn a_task_counted_under_a_leaf_is_counted_under_the_root() {
    let root = ShutdownSignal::new();
    assert!(root.trigger());
    let leaf = chain(&root, depth(), false).pop().unwrap();
    for _ in 0..50 {
        let tracking = {
            let leaf = leaf.clone();
            thread::spawn(move || leaf.track())
        };
        // Spins, to look in the middle of the `track`.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while leaf.tracked() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the track never ended"
            );
            std::hint::spin_loop();
        }
        assert_eq!(
            root.tracked(),
            1,
            "the leaf counts a task that the root does not"
        );
        assert!(!root.drained_blocking_timeout(Duration::ZERO));
        let guard = tracking.join().unwrap();
        drop(guard);
        assert_eq!((leaf.tracked(), root.tracked()), (0, 0));
    }
}

#[test]
// Without `std` a chain fires recursively, as deep as it is.
#[cfg(feature = "std")]
fn deep_chain_with_every_handle_kept_fires_and_drops_in_either_order() {
    on_small_stack(|| {
        warm_up_this_thread();
        for triggered in [false, true] {
            for root_first in [false, true] {
                let (bytes, ()) = net_bytes(|| {
                    let root = ShutdownSignal::new();
                    let mut all = chain(&root, depth(), true);
                    all.insert(0, root);
                    if triggered {
                        assert!(all[0].trigger());
                        assert!(all.iter().all(ShutdownSignal::is_triggered));
                    } else {
                        assert!(!all.iter().any(ShutdownSignal::is_triggered));
                    }
                    if root_first {
                        drop(all);
                    } else {
                        while let Some(last) = all.pop() {
                            drop(last);
                        }
                    }
                });
                assert_eq!(
                    bytes, 0,
                    "{bytes} bytes left (triggered: {triggered}, root first: {root_first})"
                );
            }
        }
    });
}

#[test]
// Without `std` a chain fires recursively, as deep as it is.
#[cfg(feature = "std")]
fn deep_chain_fired_from_the_middle_fires_only_below() {
    on_small_stack(|| {
        let root = ShutdownSignal::new();
        let all = chain(&root, depth(), true);
        let middle = all.len() / 2;
        assert!(all[middle].trigger());
        assert!(!root.is_triggered());
        assert!(!all[..middle].iter().any(ShutdownSignal::is_triggered));
        assert!(all[middle..].iter().all(ShutdownSignal::is_triggered));
        root.trigger();
        assert!(all.iter().all(ShutdownSignal::is_triggered));
    });
}

#[test]
// Without `std` a chain fires recursively, as deep as it is.
#[cfg(feature = "std")]
fn deep_chain_guard_at_the_leaf_holds_up_the_root_drain() {
    on_small_stack(|| {
        let root = ShutdownSignal::new();
        let leaf = chain(&root, depth(), false).pop().unwrap();
        let guard = leaf.track();
        assert_eq!((root.tracked(), leaf.tracked()), (1, 1));
        drop(leaf);
        let counter = Counter::new();
        let mut drained = pin!(root.drained());
        assert_pending!(counter, drained);
        root.trigger();
        assert!(guard.signal().is_triggered());
        assert_pending!(counter, drained);
        drop(guard);
        assert_ready!(counter, drained);
        assert_eq!(root.tracked(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// Threads racing
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "std")]
#[test]
fn children_made_and_dropped_while_the_parent_fires_all_end_triggered() {
    let rounds = if cfg!(miri) { 4 } else { 200 };
    for _ in 0..rounds {
        let root = ShutdownSignal::new();
        // Held across the trigger by the test: must be fired by the time it returns.
        let held: Vec<_> = (0..4).map(|_| root.child()).collect();
        // Each worker drops its token once it is making children: the trigger then races
        // them.
        let started = WaitGroup::new();
        thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (root, started) = (&root, started.token());
                    s.spawn(move || {
                        let mut started = Some(started);
                        // Make children until one is born triggered; each must have fired
                        // once the root has, whether it was made before or after.
                        let mut made = Vec::new();
                        loop {
                            let child = root.child();
                            let grandchild = child.child();
                            drop(child);
                            drop(started.take());
                            if grandchild.is_triggered() {
                                break;
                            }
                            made.push(grandchild);
                            if made.len() > 8 {
                                made.remove(0);
                            }
                        }
                        made
                    })
                })
                .collect();
            started.wait_blocking();
            root.trigger();
            for c in &held {
                assert!(c.is_triggered(), "a registered child missed the trigger");
            }
            for w in workers {
                for c in w.join().unwrap() {
                    assert!(c.is_triggered());
                }
            }
        });
    }
}

#[cfg(feature = "std")]
#[test]
fn threads_waiting_on_children_all_return_after_the_root_fires() {
    let threads = if cfg!(miri) { 3 } else { 8 };
    let root = ShutdownSignal::new();
    let ready = WaitGroup::new();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let child = root.child();
            let ready = ready.token();
            let root = root.clone();
            thread::spawn(move || {
                let leaf = if i % 2 == 0 { child.child() } else { child };
                drop(ready);
                leaf.wait_blocking();
                // Only the root is ever triggered: the leaf fired through it.
                assert!(root.is_triggered());
            })
        })
        .collect();
    ready.wait_blocking();
    root.trigger();
    for h in handles {
        h.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// One signal and one wait group across tokio, smol and threads
// ---------------------------------------------------------------------------------------------

/// What one worker holds: a token of the shared group and a guard of the shared signal (or
/// of a child of it).
struct Worker {
    token: WaitGroupToken,
    guard: DrainGuard,
    woke: Arc<AtomicUsize>,
}

impl Worker {
    /// The work is done: count it, then let the token and the guard go.
    fn finish(self) {
        assert!(
            self.guard.signal().is_triggered(),
            "woken before the trigger"
        );
        self.woke.fetch_add(1, Ordering::SeqCst);
        drop(self.token);
        drop(self.guard);
    }
}

#[cfg_attr(
    miri,
    ignore = "starts tokio and smol runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[cfg(feature = "std")]
#[test]
fn tokio_smol_and_threads_wait_on_one_signal_and_one_group() {
    const PER_KIND: usize = 4;
    const ALL: usize = 3 * PER_KIND;
    let signal = ShutdownSignal::new();
    let group = WaitGroup::new();
    // Each worker drops its token of `ready` just before it starts waiting.
    let ready = WaitGroup::new();
    let woke = Arc::new(AtomicUsize::new(0));
    let worker = |i: usize| {
        // Half the workers are tracked under a child of their own.
        let scope = if i % 2 == 0 {
            signal.clone()
        } else {
            signal.child()
        };
        let w = Worker {
            token: group.token(),
            guard: scope.track(),
            woke: woke.clone(),
        };
        (w, ready.token())
    };

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

    async fn task(i: usize, w: Worker, ready: WaitGroupToken) {
        let signal = w.guard.signal().clone();
        drop(ready);
        if i % 2 == 0 {
            signal.wait().await;
        } else {
            signal.wait_owned().await;
        }
        common::yield_once().await;
        w.finish();
    }
    let mut tokio_tasks = Vec::new();
    let mut smol_tasks = Vec::new();
    let mut threads = Vec::new();
    for i in 0..PER_KIND {
        let (w, r) = worker(i);
        tokio_tasks.push(rt.spawn(task(i, w, r)));
        let (w, r) = worker(i);
        smol_tasks.push(ex.spawn(task(i, w, r)));
        let (w, r) = worker(i);
        threads.push(thread::spawn(move || {
            let signal = w.guard.signal().clone();
            drop(r);
            if i % 2 == 0 {
                signal.wait_blocking();
            } else {
                assert!(signal.wait_blocking_timeout(HANG));
            }
            w.finish();
        }));
    }
    // Waiters of every kind for the end of the drain and of the group, each reporting how
    // many workers had finished when it returned.
    let drained_on_tokio = {
        let (signal, woke) = (signal.clone(), woke.clone());
        rt.spawn(async move {
            signal.drained().await;
            woke.load(Ordering::SeqCst)
        })
    };
    let group_on_smol = {
        let (group, woke) = (group.clone(), woke.clone());
        ex.spawn(async move {
            group.wait().await;
            woke.load(Ordering::SeqCst)
        })
    };
    let drained_on_thread = {
        let (signal, woke) = (signal.clone(), woke.clone());
        thread::spawn(move || {
            signal.drained_blocking();
            woke.load(Ordering::SeqCst)
        })
    };

    assert!(ready.wait_blocking_timeout(HANG), "every worker started");
    assert_eq!(group.count(), ALL);
    assert_eq!(signal.tracked(), ALL);
    // Nothing can finish before the trigger.
    assert!(!group.wait_blocking_timeout(Duration::from_millis(20)));
    assert!(!signal.drained_blocking_timeout(Duration::from_millis(1)));
    assert_eq!(woke.load(Ordering::SeqCst), 0);

    assert!(signal.trigger());
    // Each wait completes only after every worker's token and guard are gone.
    assert!(group.wait_blocking_timeout(HANG));
    assert_eq!(woke.load(Ordering::SeqCst), ALL);
    assert!(signal.drained_blocking_timeout(HANG));
    assert_eq!(signal.tracked(), 0);
    assert_eq!(rt.block_on(drained_on_tokio).unwrap(), ALL);
    assert_eq!(futures::executor::block_on(group_on_smol), ALL);
    assert_eq!(drained_on_thread.join().unwrap(), ALL);

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
}

#[cfg_attr(
    miri,
    ignore = "starts tokio and smol runtimes (I/O drivers, worker threads), far too slow under miri"
)]
#[test]
fn panicking_tasks_still_drop_their_guards() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let signal = ShutdownSignal::new();
    let guard = signal.child().track();
    let tokio_task = rt.spawn(async move {
        guard.signal().wait().await;
        let _guard = guard;
        panic!("tokio task failed while shutting down");
    });
    let guard = signal.track();
    let smol_task = smol::spawn(
        AssertUnwindSafe(async move {
            guard.signal().wait_owned().await;
            let _guard = guard;
            panic!("smol task failed while shutting down");
        })
        .catch_unwind(),
    );
    assert_eq!(signal.tracked(), 2);
    signal.trigger();
    rt.block_on(async {
        tokio::time::timeout(HANG, signal.drained())
            .await
            .expect("the panicking tasks' guards were dropped");
    });
    assert!(rt.block_on(tokio_task).unwrap_err().is_panic());
    assert!(smol::block_on(smol_task).is_err());
    assert_eq!(signal.tracked(), 0);
}

#[cfg_attr(
    miri,
    ignore = "starts a tokio runtime (I/O driver, worker threads), far too slow under miri"
)]
#[test]
fn a_drain_bounded_by_a_tokio_timeout_gives_up_and_leaves_the_signal_whole() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let signal = ShutdownSignal::new();
        let stuck = signal.track();
        signal.trigger();
        assert!(
            tokio::time::timeout(Duration::from_millis(10), signal.drained())
                .await
                .is_err(),
            "a guard is still out"
        );
        drop(stuck);
        tokio::time::timeout(HANG, signal.drained())
            .await
            .expect("drained once the guard is gone");
    });
}

/// A trigger ends every wait on the signal in one step: a wait polled after another one saw it
/// sees it too, even while the trigger is still waking the waiters batch by batch.
#[test]
fn a_wait_polled_after_another_saw_the_trigger_completes_too() {
    // A static, not a leak: the waits are kept by a waker, which must be `'static`.
    static SIGNAL: std::sync::LazyLock<ShutdownSignal> =
        std::sync::LazyLock::new(ShutdownSignal::new);
    let signal: &'static ShutdownSignal = &SIGNAL;
    common::one_release_ends_every_wait_at_once(
        || signal.wait(),
        || {
            signal.trigger();
        },
    );
}

// ---- draining and firing racing each other -------------------------------------------------

/// `drained`: "It completes once both hold at some moment after the wait started, even if a
/// new task is tracked before the waiter runs again", for a wait that started before the
/// trigger: the trigger does not end it (work is still out), the last guard's drop does, and
/// a guard tracked before the waiter runs does not take that back.
#[test]
fn a_drain_started_before_the_trigger_completes_on_the_zero_after_it() {
    let root = ShutdownSignal::new();
    let child = root.child();
    for signal in [&root, &child] {
        let guard = signal.track();
        let counter = Counter::new();
        let mut on_root = pin!(root.drained());
        let mut on_signal = pin!(signal.drained());
        assert_pending!(counter, on_root);
        assert_pending!(counter, on_signal);
        root.trigger();
        drop(guard);
        let _again = signal.track();
        assert_ready!(counter, on_root);
        assert_ready!(counter, on_signal);
    }
}

/// Records the thread that woke it.
#[derive(Default)]
struct WokenOn(std::sync::Mutex<Option<thread::ThreadId>>);

impl Wake for WokenOn {
    fn wake(self: Arc<Self>) {
        *self.0.lock().unwrap() = Some(thread::current().id());
    }
}

/// `trigger`: when the call that fired the signal returns, every child has fired. The last
/// guard dropped on another thread while the trigger is between two wake-up batches must not
/// take the rest of the queue (a child's registration in it) off the firing thread's hands.
#[test]
fn the_firing_thread_fires_every_child_even_when_the_last_guard_goes_meanwhile() {
    let root = ShutdownSignal::new();
    let guard = root.track();
    let stall = Stall::new();
    // More waiters than a wake-up batch before the child, the first one holding its thread.
    let mut waits: Vec<_> = (0..40).map(|_| Box::pin(root.wait())).collect();
    assert!(poll_with(&mut waits[0], &stall.waker()).is_pending());
    for wait in &mut waits[1..] {
        assert!(poll_once(wait).is_pending());
    }
    let child = root.child();
    let woken_on = Arc::new(WokenOn::default());
    let mut child_wait = Box::pin(child.wait());
    assert!(poll_with(&mut child_wait, &Waker::from(woken_on.clone())).is_pending());
    let mut drained = Box::pin(root.drained());
    assert!(poll_once(&mut drained).is_pending());

    let firing = {
        let root = root.clone();
        thread::spawn(move || root.trigger())
    };
    stall.wait_until_entered();
    thread::spawn(move || drop(guard)).join().unwrap();
    stall.go_on();
    let firing_thread = firing.thread().id();
    assert!(firing.join().unwrap(), "that call fired the signal");
    assert!(child.is_triggered());
    assert_eq!(
        *woken_on.0.lock().unwrap(),
        Some(firing_thread),
        "the child was fired by the thread that dropped the guard"
    );
    assert!(poll_once(&mut drained).is_ready(), "the zero was missed");
    for wait in &mut waits {
        assert!(poll_once(wait).is_ready());
    }
}

/// A waker that drops the last guard while the signal fires: the drain waits queued before
/// and after it, and on the child the guard was under, all complete.
#[test]
fn a_waker_that_drops_the_last_guard_while_the_signal_fires() {
    struct DropsGuard(std::sync::Mutex<Option<DrainGuard>>);
    impl Wake for DropsGuard {
        fn wake(self: Arc<Self>) {
            drop(self.0.lock().unwrap().take());
        }
    }
    for before in [0, 1, 31, 40] {
        let root = ShutdownSignal::new();
        let child = root.child();
        let guard = child.track();
        let mut drains_before: Vec<_> = (0..before).map(|_| Box::pin(root.drained())).collect();
        for drain in &mut drains_before {
            assert!(poll_once(drain).is_pending());
        }
        let drops_guard = Waker::from(Arc::new(DropsGuard(std::sync::Mutex::new(Some(guard)))));
        let mut wait = Box::pin(root.wait());
        assert!(poll_with(&mut wait, &drops_guard).is_pending());
        let mut drain_after = Box::pin(root.drained());
        let mut child_drain = Box::pin(child.drained());
        assert!(poll_once(&mut drain_after).is_pending());
        assert!(poll_once(&mut child_drain).is_pending());
        assert!(root.trigger());
        assert_eq!(root.tracked(), 0);
        for drain in &mut drains_before {
            assert!(poll_once(drain).is_ready());
        }
        assert!(poll_once(&mut drain_after).is_ready());
        assert!(poll_once(&mut child_drain).is_ready());
        assert!(poll_once(&mut wait).is_ready());
    }
}

/// `ShutdownSignal::drained`: "It completes once both hold at some moment after the wait
/// started, even if a new task is tracked before the waiter runs again." The trigger fires
/// with nothing tracked, so both hold at that moment for every drain wait queued before it;
/// a task tracked while the trigger is between two batches must not keep the rest waiting.
#[test]
fn a_task_tracked_while_the_trigger_wakes_its_batches_does_not_hold_back_older_drain_waits() {
    let signal = ShutdownSignal::new();
    let stall = common::Stall::new();
    let mut drains: Vec<_> = (0..40).map(|_| Box::pin(signal.drained())).collect();
    assert!(common::poll_with(&mut drains[0], &stall.waker()).is_pending());
    for wait in &mut drains[1..] {
        assert!(common::poll_once(wait).is_pending());
    }
    let firing = {
        let signal = signal.clone();
        std::thread::spawn(move || signal.trigger())
    };
    stall.wait_until_entered();
    // The first drain wait has completed: fired, nothing tracked.
    assert!(common::poll_once(&mut drains[0]).is_ready());
    let guard = signal.track();
    stall.go_on();
    assert!(firing.join().unwrap());

    let pending: Vec<usize> = drains
        .iter_mut()
        .enumerate()
        .skip(1)
        .filter_map(|(i, wait)| common::poll_once(wait).is_pending().then_some(i))
        .collect();
    drop(guard);
    assert!(
        pending.is_empty(),
        "drain waits that saw the fired, empty signal still wait for a later task: {pending:?}"
    );
}

/// The same promise for `drained` (they share their state machine with the wait group): a
/// queued drain wait polled while the last guard's drop is still waking earlier waits sees the
/// drain, and completes though a task is tracked as it leaves the queue.
#[test]
fn a_drain_wait_that_saw_the_drain_completes_though_a_task_comes_as_it_leaves_the_queue() {
    static SIGNAL: std::sync::LazyLock<ShutdownSignal> =
        std::sync::LazyLock::new(ShutdownSignal::new);
    static LATE: std::sync::Mutex<Option<DrainGuard>> = std::sync::Mutex::new(None);
    struct TracksOnDrop;
    impl Wake for TracksOnDrop {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for TracksOnDrop {
        fn drop(&mut self) {
            *LATE.lock().unwrap() = Some(SIGNAL.track());
        }
    }
    let guard = SIGNAL.track();
    SIGNAL.trigger();
    let seen_drained = common::last_wait_polled_as_new_work_starts(
        || SIGNAL.drained(),
        Waker::from(Arc::new(TracksOnDrop)),
        move || drop(guard),
        || SIGNAL.tracked() == 0,
        || drop(LATE.lock().unwrap().take()),
    );
    assert!(
        seen_drained,
        "the wait saw the drain, yet waits on for the new task"
    );
}

/// Regression: a parent's firing wakes its own waiters before it reaches its children, so a
/// task woken by the parent saw a child as not triggered.
#[test]
fn a_child_counts_as_triggered_once_its_parent_has_fired() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let stall = Stall::new();
    let mut wait = Box::pin(root.wait());
    assert!(poll_with(&mut wait, &stall.waker()).is_pending());
    let firing = {
        let root = root.clone();
        thread::spawn(move || root.trigger())
    };
    // The firing thread is inside the root waiter's waker: the child has not been reached.
    stall.wait_until_entered();
    let child_seen = child.is_triggered();
    let child_wait_ready = poll_once(&mut Box::pin(child.wait())).is_ready();
    stall.go_on();
    assert!(firing.join().unwrap());
    assert!(
        child_seen,
        "the root has fired, yet the child is not triggered"
    );
    assert!(
        child_wait_ready,
        "the root has fired, yet a wait on the child is pending"
    );
}

/// Regression: a trigger that found a child already fired by another thread returned while
/// that thread, held in a waker, had not reached the grandchild; the grandchild read as not
/// triggered.
#[test]
fn a_grandchild_counts_as_triggered_when_the_root_trigger_returns() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let stall = Stall::new();
    let mut wait = Box::pin(child.wait());
    assert!(poll_with(&mut wait, &stall.waker()).is_pending());
    let grandchild = child.child();
    let alone = {
        let child = child.clone();
        thread::spawn(move || child.trigger())
    };
    stall.wait_until_entered();
    assert!(root.trigger(), "this call fired the root");
    let grandchild_seen = grandchild.is_triggered();
    let grandchild_wait_ready = poll_once(&mut Box::pin(grandchild.wait_owned())).is_ready();
    // Nothing is tracked under it: its drain counts that firing too.
    let grandchild_drained = poll_once(&mut Box::pin(grandchild.drained())).is_ready();
    stall.go_on();
    assert!(alone.join().unwrap());
    assert!(
        grandchild_seen,
        "root.trigger() returned, yet the grandchild is not triggered"
    );
    assert!(grandchild_wait_ready);
    assert!(
        grandchild_drained,
        "root.trigger() returned and nothing is tracked, yet the grandchild's drain is pending"
    );
}

/// Regression: a drain of a child polled after the root fired, but before the firing reached
/// the child, stayed pending with nothing tracked, though the child read as triggered; a task
/// tracked next then held it up.
#[test]
fn a_drain_polled_while_an_ancestor_firing_is_on_its_way_sees_it() {
    let root = ShutdownSignal::new();
    let stall = Stall::new();
    let mut root_wait = Box::pin(root.wait());
    assert!(poll_with(&mut root_wait, &stall.waker()).is_pending());
    // Registered after the root's waiter: the firing reaches it after that waker.
    let child = root.child();
    let firing = {
        let root = root.clone();
        thread::spawn(move || root.trigger())
    };
    stall.wait_until_entered();
    let seen = (child.is_triggered(), child.tracked());
    let mut drained = Box::pin(child.drained());
    let drained_at_once = poll_once(&mut drained).is_ready();
    let late = child.track();
    stall.go_on();
    assert!(firing.join().unwrap());
    drop(late);
    assert_eq!(seen, (true, 0));
    assert!(
        drained_at_once,
        "the child reads as triggered with nothing tracked, yet its drain is pending"
    );
}

/// Regression: a thread queued in a later wake-up batch than a slow waker timed out and
/// returned `false` though the signal had fired before its deadline.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn a_timed_blocking_wait_sees_a_firing_that_came_before_its_deadline() {
    common::timed_wait_counts_a_release_before_its_deadline(|| {
        let signal = ShutdownSignal::new();
        let waits = common::full_batch(|| signal.wait_owned());
        let (timed, fire) = (signal.clone(), signal.clone());
        common::BehindABatch {
            waits,
            timed: Box::new(move |timeout| timed.wait_blocking_timeout(timeout)),
            release: Box::new(move || assert!(fire.trigger())),
        }
    });
}

/// A thread parked on a child, out of time after the root fired but before the firing reached
/// the child (it wakes the root's own waiters first), counts the firing: a wait for the
/// trigger, and a drain with nothing tracked.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn a_timed_wait_on_a_child_sees_an_ancestor_firing_before_its_deadline() {
    let waits: [fn(&ShutdownSignal, Duration) -> bool; 2] = [
        ShutdownSignal::wait_blocking_timeout,
        ShutdownSignal::drained_blocking_timeout,
    ];
    for timed_wait in waits {
        common::timed_wait_counts_a_release_before_its_deadline(|| {
            let root = ShutdownSignal::new();
            let waits = common::full_batch(|| root.wait_owned());
            // Registered after the root's waiters: the firing reaches it after their wakers.
            let child = root.child();
            common::BehindABatch {
                waits,
                timed: Box::new(move |timeout| timed_wait(&child, timeout)),
                release: Box::new(move || assert!(root.trigger())),
            }
        });
    }
}

#[cfg(feature = "std")]
/// A wait group's last token dropped behind a full batch of task waits, and with `new_work` a
/// token made right after.
fn wait_group_zero(new_work: bool) -> (common::BehindABatch, common::AfterRelease) {
    let group = Arc::new(WaitGroup::new());
    let token = group.token();
    let waits = common::full_batch(|| {
        let group = group.clone();
        async move { group.wait().await }
    });
    let (timed, late) = (group.clone(), group);
    let batch = common::BehindABatch {
        waits,
        timed: Box::new(move |timeout| timed.wait_blocking_timeout(timeout)),
        release: Box::new(move || drop(token)),
    };
    let after: common::AfterRelease = match new_work {
        true => Box::new(move || Box::new(late.token())),
        false => Box::new(|| Box::new(())),
    };
    (batch, after)
}

#[cfg(feature = "std")]
/// A signal fired with nothing tracked behind a full batch of drain waits, and with
/// `new_work` a task tracked right after.
fn drained_firing(new_work: bool) -> (common::BehindABatch, common::AfterRelease) {
    let signal = ShutdownSignal::new();
    let waits = common::full_batch(|| {
        let signal = signal.clone();
        async move { signal.drained().await }
    });
    let (timed, fire, late) = (signal.clone(), signal.clone(), signal);
    let batch = common::BehindABatch {
        waits,
        timed: Box::new(move |timeout| timed.drained_blocking_timeout(timeout)),
        release: Box::new(move || assert!(fire.trigger())),
    };
    let after: common::AfterRelease = match new_work {
        true => Box::new(move || Box::new(late.track())),
        false => Box::new(|| Box::new(())),
    };
    (batch, after)
}

/// The same through a wait group's last token and a drain.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn timed_drains_see_a_zero_that_came_before_their_deadline() {
    common::timed_wait_counts_a_release_then(|| wait_group_zero(false));
    common::timed_wait_counts_a_release_then(|| drained_firing(false));
}

/// As above, with new work right after the zero, so that the count no longer shows it when
/// the thread's deadline passes: the zero came after the wait started, so the wait is over.
#[test]
#[cfg_attr(
    miri,
    ignore = "orders by the clock, which miri's weak memory does not tie to what a thread sees"
)]
#[cfg(feature = "std")]
fn timed_drains_see_a_zero_that_came_before_their_deadline_though_new_work_followed() {
    common::timed_wait_counts_a_release_then(|| wait_group_zero(true));
    common::timed_wait_counts_a_release_then(|| drained_firing(true));
    // The last guard dropped between two batches of the firing, then a tracked task.
    common::timed_wait_counts_a_release_then(|| {
        let signal = ShutdownSignal::new();
        let guard = signal.track();
        // Trigger waits: the firing wakes them in its first batch.
        let waits = common::full_batch(|| signal.wait_owned());
        let (timed, fire, late) = (signal.clone(), signal.clone(), signal.clone());
        let batch = common::BehindABatch {
            waits,
            timed: Box::new(move |timeout| timed.drained_blocking_timeout(timeout)),
            release: Box::new(move || assert!(fire.trigger())),
        };
        let after: common::AfterRelease = Box::new(move || {
            drop(guard);
            Box::new(late.track())
        });
        (batch, after)
    });
}

/// A child counts as fired once an ancestor has; a `trigger` on it then reports that it had
/// fired already, though it helps the firing along.
#[test]
fn a_child_trigger_after_an_ancestor_fired_reports_it_had_fired() {
    let root = ShutdownSignal::new();
    let child = root.child();
    let stall = Stall::new();
    let mut wait = Box::pin(root.wait());
    assert!(poll_with(&mut wait, &stall.waker()).is_pending());
    let firing = {
        let root = root.clone();
        thread::spawn(move || root.trigger())
    };
    // The firing is held in the root waiter's waker: it has not reached the child.
    stall.wait_until_entered();
    let seen = child.is_triggered();
    let fired_here = child.trigger();
    stall.go_on();
    assert!(firing.join().unwrap());
    assert!(seen);
    assert!(
        !fired_here,
        "the child counted as fired, yet its trigger says it fired it"
    );
}

/// An owned drain needs no signal handle: it is `'static`, waits for the trigger and every
/// guard as `drained` does, and keeps the signal alive after the handle is gone.
#[test]
fn owned_drain_waits_for_trigger_and_guards_without_a_handle() {
    fn send_static<T: Send + Sync + 'static>(_: &T) {}
    let signal = ShutdownSignal::new();
    let guard = signal.track();
    let counter = Counter::new();
    let mut drained = Box::pin(signal.drained_owned());
    send_static(&drained);
    assert_pending!(counter, drained);
    let trigger = guard.signal().clone();
    drop(signal);
    assert!(trigger.trigger());
    assert_pending!(counter, drained);
    let seen = counter.count();
    drop(guard);
    assert!(counter.count() > seen, "the last guard woke the drain wait");
    assert_ready!(counter, drained);
    assert!(drained.is_terminated());
}

//! Loom models of `ShutdownSignal` (trees of children, drain guards) and `WaitGroup`.
//!
//! Run with:
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=2 RUSTFLAGS="--cfg loom" \
//!     cargo test --release --target-dir target/loom --test loom_shutdown
//! ```
//!
//! Every model is explored with at most 2 preemptions (`LOOM_MAX_PREEMPTIONS=2`, also the
//! default set by `model` when the variable is unset). A lost trigger or wake-up shows up as
//! loom reporting a deadlock.
//!
//! # Leaks
//!
//! A signal's state is a `std` `Arc` (a child's registration in its parent's queue holds one
//! too), which loom's own leak check does not see. So this binary counts the heap blocks live
//! on each OS thread (loom runs every modelled thread of a model on the test's thread), and
//! [`model_no_leak`] checks that no execution of a model left one behind. So nothing in a
//! model may print (the test harness's capture allocates its buffer on the first print), and
//! the models wait with their own [`block_on`] rather than loom's (see there).
#![cfg(loom)]

mod common;
mod loom_support;

use common::poll_once;
use loom_support::model;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use loom::thread;
use unisync::{ShutdownSignal, WaitGroup};

/// Forwards to [`System`] and counts the blocks live on each OS thread: a block counts on the
/// thread that allocated it and is taken off on the thread that frees it.
struct ThreadLiveAlloc;

thread_local! {
    /// Blocks allocated minus blocks freed on this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: during thread teardown nothing is counted. The cell is const-initialised,
    // so touching it neither allocates nor re-enters the allocator.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: every call is forwarded to `System` unchanged, with the caller's arguments; we only
// count, without allocating.
unsafe impl GlobalAlloc for ThreadLiveAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            note(1);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            note(1);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // One block before and after (on failure the old one stays live).
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-1);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: ThreadLiveAlloc = ThreadLiveAlloc;

fn live_blocks() -> isize {
    LIVE.with(Cell::get)
}

/// Runs `f` under [`model`], then checks that its executions, all together, leaked no heap
/// block.
///
/// Loom runs a model's threads as coroutines on the calling thread and frees everything of
/// its own when the model ends, so a block still counted on this thread afterwards was
/// leaked by the code under test. A first, empty model sets up what loom and its coroutines
/// keep per thread for good.
fn model_no_leak<F: Fn() + Sync + Send + 'static>(f: F) {
    model(|| thread::spawn(|| {}).join().unwrap());
    let before = live_blocks();
    model(f);
    let leaked = live_blocks() - before;
    assert_eq!(
        leaked, 0,
        "the model's executions leaked {leaked} heap blocks"
    );
}

/// Wakes a loom thread parked in [`block_on`].
struct Unparker(thread::Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on the current loom thread, parking it while the future is
/// pending (a lost wake-up is a deadlock loom reports).
///
/// Not `loom::future::block_on`: each clone of its waker leaks one block of loom's own (its
/// waker rebuilds a `loom::sync::Arc` from a raw pointer inside a `ManuallyDrop`, which keeps
/// a `std` `Arc` of loom's bookkeeping alive for ever), and the leak check would see it.
fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// The leak check itself: a model that forgets a box in every execution is caught.
#[test]
fn leak_check_sees_a_forgotten_block() {
    model(|| thread::spawn(|| {}).join().unwrap());
    let before = live_blocks();
    model(|| {
        let t = thread::spawn(|| std::mem::forget(std::hint::black_box(Box::new(1u64))));
        t.join().unwrap();
    });
    assert!(live_blocks() > before, "a forgotten box went unseen");
}

// ---------------------------------------------------------------------------------------------
// 1. A trigger racing the creation of a child.
// ---------------------------------------------------------------------------------------------

/// One thread triggers the root while the main thread makes two children: it waits on the
/// first, and only looks at the second once `trigger` has returned. Each child is born
/// triggered or is registered in time to be fired, so the wait completes and the second
/// child is triggered in every interleaving. Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_child_creation_fires_the_child() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let trigger = {
            let root = root.clone();
            thread::spawn(move || assert!(root.trigger()))
        };
        let waited = root.child();
        let checked = root.child();
        block_on(waited.wait());
        assert!(waited.is_triggered());
        trigger.join().unwrap();
        assert!(root.is_triggered());
        assert!(
            checked.is_triggered(),
            "the trigger missed a child made as it fired"
        );
        // Made after the trigger: born triggered.
        assert!(root.child().is_triggered());
    });
}

/// A thread makes a child and a grandchild, drops the child's handle (the grandchild keeps
/// the child registered) and blocks on the grandchild, while the main thread triggers the
/// root. The trigger reaches the grandchild through the child in every interleaving, and once
/// `trigger` has returned both are triggered. Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_nested_child_creation_fires_the_grandchild() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let maker = {
            let root = root.clone();
            thread::spawn(move || {
                let child = root.child();
                let grandchild = child.child();
                let keep = child.clone();
                drop(child);
                grandchild.wait_blocking();
                (keep, grandchild)
            })
        };
        root.trigger();
        let (child, grandchild) = maker.join().unwrap();
        assert!(child.is_triggered());
        assert!(grandchild.is_triggered());
    });
}

// ---------------------------------------------------------------------------------------------
// 2. A trigger racing the drop of a child.
// ---------------------------------------------------------------------------------------------

/// One thread drops a child while the main thread triggers the root, whose queue holds that
/// child and a sibling (in both orders, so the drop lands before, between and after the
/// release's batches). No panic, the dropped child is freed (leak check), and the trigger
/// still reaches the sibling, whose waiter completes. Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_child_drop_reaches_the_sibling() {
    for sibling_first in [false, true] {
        model_no_leak(move || {
            let root = ShutdownSignal::new();
            let (child, sibling) = if sibling_first {
                let sibling = root.child();
                (root.child(), sibling)
            } else {
                let child = root.child();
                (child, root.child())
            };
            let mut wait = Box::pin(sibling.wait());
            assert!(poll_once(&mut wait).is_pending());
            let dropper = thread::spawn(move || drop(child));
            assert!(root.trigger());
            // `trigger` has fired every registered child by the time it returns.
            assert!(sibling.is_triggered());
            block_on(wait);
            dropper.join().unwrap();
            assert!(root.child().is_triggered());
        });
    }
}

/// One thread drops a child's handle, then one of its two grandchildren, while the main
/// thread triggers the root. The other grandchild, kept alive with a waiter already parked on
/// it, keeps the child registered, so the trigger reaches it through the child while the
/// dropped grandchild leaves the child's queue. Then dropping the kept grandchild races the
/// dropper to be the child's last user and unregister it. No panic, no lost trigger, no leak.
/// Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_child_drop_reaches_the_grandchild() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let kept = child.child();
        let dropped = child.child();
        let mut wait = Box::pin(kept.wait());
        assert!(poll_once(&mut wait).is_pending());
        let dropper = thread::spawn(move || {
            drop(child);
            drop(dropped);
        });
        assert!(root.trigger());
        assert!(kept.is_triggered(), "the trigger was lost on the way down");
        block_on(wait);
        drop(kept);
        dropper.join().unwrap();
        assert!(root.child().child().is_triggered());
    });
}

/// A waiter on a child (an owned wait, holding a handle of its own) completes and drops its
/// handle while the main thread triggers the root and drops the other handle: whichever is
/// the last user unregisters the child, racing the root's release. No panic, no leak, and the
/// waiter completes. Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn child_wait_completing_racing_drop_of_its_handle() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let wait = child.wait_owned();
        let waiter = thread::spawn(move || block_on(wait));
        let dropper = thread::spawn(move || drop(child));
        root.trigger();
        waiter.join().unwrap();
        dropper.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// 3. The last drain guard racing the start of a drain wait.
// ---------------------------------------------------------------------------------------------

/// The root has fired; one thread drops the last guard while the main thread starts a
/// `drained` wait: the wait completes whichever comes first. Two threads;
/// `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn last_guard_drop_racing_drained_on_a_triggered_root() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        root.trigger();
        let dropper = thread::spawn(move || drop(guard));
        block_on(root.drained());
        assert_eq!(root.tracked(), 0);
        dropper.join().unwrap();
    });
}

/// A thread in `drained_blocking`, a thread dropping the last guard and the main thread
/// triggering the root, all at once, with a `drained` future in the main thread that had
/// started before: both drain waits complete once the trigger and the drop have happened, in
/// every interleaving (a wait woken by the trigger while the guard is still out waits again,
/// and is not lost). Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn last_guard_drop_racing_drained_blocking_and_trigger() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let drainer = {
            let root = root.clone();
            thread::spawn(move || {
                root.drained_blocking();
                assert!(root.is_triggered());
                assert_eq!(root.tracked(), 0);
            })
        };
        let dropper = thread::spawn(move || drop(guard));
        root.trigger();
        block_on(drained);
        assert_eq!(root.tracked(), 0);
        drainer.join().unwrap();
        dropper.join().unwrap();
    });
}

/// The main thread fires the root while another drops its last guard. Ahead of the child's
/// registration in the root's queue is a drain wait, so the firing releases the queue's lock
/// between its batches (a batch is one under loom), where the last guard's zero can come:
/// when `trigger` returns, the child has fired all the same, and the drain wait completes.
/// Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_last_guard_drop_has_fired_the_child_when_it_returns() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let child = root.child();
        let dropper = thread::spawn(move || drop(guard));
        assert!(root.trigger());
        assert!(
            child.is_triggered(),
            "trigger returned before the child fired"
        );
        block_on(drained);
        dropper.join().unwrap();
    });
}

/// As above with a trigger wait queued between the drain wait and the child: the firing
/// takes the drain wait aside, wakes the trigger wait and unlocks, so the last guard's zero
/// can come while the child's registration is still queued. The zero must leave the child to
/// the firing (whose `trigger` has fired it by the time it returns), not release the queue
/// itself. Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_racing_last_guard_drop_fires_a_child_queued_behind_a_wait() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let mut wait = Box::pin(root.wait());
        assert!(poll_once(&mut wait).is_pending());
        let child = root.child();
        let dropper = thread::spawn(move || drop(guard));
        assert!(root.trigger());
        assert!(
            child.is_triggered(),
            "trigger returned before the child fired"
        );
        block_on(wait);
        block_on(drained);
        dropper.join().unwrap();
    });
}

/// Two threads in `drained_blocking`, a thread dropping the last guard and the main thread
/// triggering the root: the trigger wakes each drain wait while the guard may still be out,
/// and a wait that links again meanwhile must neither be lost nor be woken by a release older
/// than its new link (the epochs of `RawDrain`). Both complete in every interleaving. Four
/// threads; `LOOM_MAX_PREEMPTIONS=2` (the slowest model here).
#[test]
fn last_guard_drop_racing_two_blocking_drains_and_trigger() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        let drainers: Vec<_> = (0..2)
            .map(|_| {
                let root = root.clone();
                thread::spawn(move || root.drained_blocking())
            })
            .collect();
        let dropper = thread::spawn(move || drop(guard));
        root.trigger();
        for drainer in drainers {
            drainer.join().unwrap();
        }
        dropper.join().unwrap();
        assert_eq!(root.tracked(), 0);
    });
}

/// The root has fired and a `drained` wait has started with one guard out. One thread drops
/// that guard while another tracks a new task and finishes it: the wait completes in every
/// interleaving (at the first zero, or at the second if the new guard came first).
/// Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn last_guard_drop_racing_a_new_guard_completes_drained() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let guard = root.track();
        root.trigger();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let dropper = thread::spawn(move || drop(guard));
        let tracker = {
            let root = root.clone();
            thread::spawn(move || {
                let guard = root.track();
                assert!((1..=2).contains(&root.tracked()));
                drop(guard);
            })
        };
        block_on(drained);
        dropper.join().unwrap();
        tracker.join().unwrap();
        assert_eq!(root.tracked(), 0);
    });
}

/// A guard tracked under a child counts toward the root: a `drained` wait on the root, begun
/// before the trigger, completes once the root has fired and the guard (dropped by another
/// thread while the main thread triggers) is gone; the child drains too. Two threads;
/// `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn child_guard_drop_racing_trigger_drains_the_root() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let guard = child.track();
        let mut drained = Box::pin(root.drained());
        assert!(poll_once(&mut drained).is_pending());
        let dropper = thread::spawn(move || drop(guard));
        root.trigger();
        block_on(drained);
        assert_eq!(root.tracked(), 0);
        block_on(child.drained());
        dropper.join().unwrap();
    });
}

/// A drain on a child racing the root's trigger, with a task tracked under the child that
/// the main thread finishes after polling the drain once: the drain is not over while the
/// task is, and it completes once the root has fired and the task is gone, whether it looks
/// while the firing is still on its way down to the child or after it arrived. Two threads;
/// `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn child_drain_racing_root_trigger_counts_the_firing_on_its_way() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let guard = child.track();
        let trigger = {
            let root = root.clone();
            thread::spawn(move || assert!(root.trigger()))
        };
        let mut drained = Box::pin(child.drained());
        assert!(
            poll_once(&mut drained).is_pending(),
            "drained while a task is tracked"
        );
        drop(guard);
        block_on(drained);
        assert!(child.is_triggered());
        assert_eq!(child.tracked(), 0);
        trigger.join().unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// 4. A wait group reaching zero racing a new token.
// ---------------------------------------------------------------------------------------------

/// A wait has started (polled once) while one token is out. Thread A drops that token while
/// thread B makes a new one from a clone of the group and drops it later: the wait completes
/// in every interleaving (at A's zero, or at B's if B's token came first), and every `count`
/// seen is one that the tokens' lifetimes allow. Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn wait_group_zero_racing_new_token_completes_earlier_waiter() {
    model_no_leak(|| {
        let group = WaitGroup::new();
        let token = group.token();
        let mut wait = Box::pin(group.wait());
        assert!(poll_once(&mut wait).is_pending());
        let a = {
            let group = group.clone();
            thread::spawn(move || {
                drop(token);
                // Only B's token can be left.
                assert!(group.count() <= 1);
            })
        };
        let b = {
            let group = group.clone();
            thread::spawn(move || {
                let token = group.token();
                let with = group.count();
                assert!((1..=2).contains(&with), "count {with} with this token out");
                drop(token);
                let after = group.count();
                assert!(after <= 1, "count {after} after dropping this token");
            })
        };
        block_on(wait);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(group.count(), 0);
    });
}

/// As above, with a second waiter: a thread in `wait_blocking`, started concurrently with
/// the last token's drop (thread A) and a new token made and dropped by the main thread. Both
/// the earlier wait and the blocking one complete in every interleaving, and the counts seen
/// are consistent. Three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn wait_group_zero_racing_new_token_completes_blocking_waiter() {
    model_no_leak(|| {
        let group = WaitGroup::new();
        let token = group.token();
        let mut wait = Box::pin(group.wait());
        assert!(poll_once(&mut wait).is_pending());
        let waiter = {
            let group = group.clone();
            thread::spawn(move || group.wait_blocking())
        };
        let a = thread::spawn(move || drop(token));
        let token = group.token();
        let with = group.count();
        assert!((1..=2).contains(&with), "count {with} with a token out");
        drop(token);
        let after = group.count();
        assert!(after <= 1, "count {after} after dropping the new token");
        block_on(wait);
        waiter.join().unwrap();
        a.join().unwrap();
        assert_eq!(group.count(), 0);
    });
}

// ---------------------------------------------------------------------------------------------
// 5. A trigger seen by one wait is seen by the next.
// ---------------------------------------------------------------------------------------------

/// Two waits queued on a signal; a thread triggers it while the main thread polls both in
/// order. `trigger` reaches the queued waits one batch (one wait, under loom) at a time, yet
/// once the first has seen it, the second, polled after, sees it too. Two threads;
/// `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn trigger_seen_by_one_wait_is_seen_by_the_next() {
    model_no_leak(|| {
        let signal = ShutdownSignal::new();
        let mut first = Box::pin(signal.wait());
        let mut second = Box::pin(signal.wait());
        assert!(poll_once(&mut first).is_pending());
        assert!(poll_once(&mut second).is_pending());
        let trigger = {
            let signal = signal.clone();
            thread::spawn(move || assert!(signal.trigger()))
        };
        let first_done = poll_once(&mut first).is_ready();
        let second_done = poll_once(&mut second).is_ready();
        assert!(
            !first_done || second_done,
            "the second wait missed a trigger the first saw"
        );
        if !first_done {
            block_on(first);
        }
        if !second_done {
            block_on(second);
        }
        trigger.join().unwrap();
    });
}

/// A child reads as triggered as soon as its root does, though the root's firing reaches the
/// child's own flag later: in that window the child looks at its ancestors, because the
/// firing is counted as on its way (the process-wide count of firings, which a signal reads
/// before its own flag). The child's wait, polled then, completes at once. Two threads;
/// `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn a_child_reads_as_triggered_once_its_root_does() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let trigger = {
            let root = root.clone();
            thread::spawn(move || assert!(root.trigger()))
        };
        // Without it, loom runs this thread's first look before the trigger in every
        // execution it explores.
        thread::yield_now();
        if root.is_triggered() {
            assert!(
                child.is_triggered(),
                "the root read as triggered and its child did not"
            );
            assert!(
                poll_once(&mut Box::pin(child.wait())).is_ready(),
                "a child's wait stayed pending after its root read as triggered"
            );
        }
        trigger.join().unwrap();
        assert!(child.is_triggered());
    });
}

/// A `trigger` that finds the signal fired returns `false`, and by then every child counts as
/// fired, though the firing may still be on its way down on another thread: the look at the
/// flag acquires the count of firings under way that the firing raised first. The second
/// model makes the child on a third thread while the two triggers race, so the losing trigger
/// sees the flag through its failed exchange. Two and three threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn a_trigger_that_finds_the_signal_fired_sees_its_children_fired() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        let firer = {
            let root = root.clone();
            thread::spawn(move || {
                root.trigger();
            })
        };
        thread::yield_now();
        if !root.trigger() {
            assert!(child.is_triggered(), "a lost trigger saw the child unfired");
        }
        firer.join().unwrap();
    });
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let firer = {
            let root = root.clone();
            thread::spawn(move || {
                root.trigger();
            })
        };
        let maker = {
            let root = root.clone();
            thread::spawn(move || root.child())
        };
        thread::yield_now();
        let fired_here = root.trigger();
        let child = maker.join().unwrap();
        if !fired_here {
            assert!(child.is_triggered(), "a lost trigger saw the child unfired");
        }
        firer.join().unwrap();
    });
}

/// A task tracked under a child is counted under the root first: once a look at the child
/// shows it, a drain wait on the fired root does not end. The spawned thread looks and the
/// main thread tracks, with no yield: loom never lets a load return a value its thread saw
/// before its last yield, so a looker that yields could not read the root's stale count (see
/// `loom_support`). Two threads; `LOOM_MAX_PREEMPTIONS=2`.
#[test]
fn a_task_seen_under_a_child_holds_up_the_roots_drain() {
    model_no_leak(|| {
        let root = ShutdownSignal::new();
        let child = root.child();
        root.trigger();
        let looker = {
            let (root, child) = (root.clone(), child.clone());
            thread::spawn(move || {
                if child.tracked() == 1 {
                    let mut drained = Box::pin(root.drained());
                    assert!(
                        poll_once(&mut drained).is_pending(),
                        "the root drained with a task tracked under its child"
                    );
                }
            })
        };
        let guard = child.track();
        looker.join().unwrap();
        drop(guard);
    });
}

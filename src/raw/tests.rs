//! The waiting core's budgets, counted: lock acquisitions per wait, wake-ups, and that no
//! waker is woken, cloned or dropped while a queue's lock is held.
//!
//! The counters live in `queue::stats` and exist only in this crate's own test build; they
//! are per thread, and every test here runs its waiters and releasers on one thread.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::future::Future;
use core::pin::{pin, Pin};
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::raw::queue::{stats, BATCH};
use crate::{Barrier, Condvar, Event, Mutex, RwLock, Semaphore};

/// A waker that counts its wake-ups and fails the test if it is woken, cloned or dropped while
/// the current thread holds a queue's lock. Its data pointer is an `Arc<Probe>`.
struct Probe {
    wakes: AtomicUsize,
}

impl Probe {
    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::Relaxed)
    }
}

/// How many wakers of `probe` exist (its `Arc` count, less the test's own handle).
fn refs(probe: &Arc<Probe>) -> usize {
    Arc::strong_count(probe) - 1
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

fn outside_lock(what: &str) {
    assert!(
        !stats::held(),
        "a waker was {what} while a queue's lock was held"
    );
}

fn clone(data: *const ()) -> RawWaker {
    outside_lock("cloned");
    // SAFETY: `data` came from `Arc::into_raw` and the waker being cloned holds a count.
    unsafe { Arc::increment_strong_count(data.cast::<Probe>()) };
    RawWaker::new(data, &VTABLE)
}

fn wake(data: *const ()) {
    wake_by_ref(data);
    drop_waker(data);
}

fn wake_by_ref(data: *const ()) {
    outside_lock("woken");
    // SAFETY: as in `clone`: the waker holds a count, so the probe is alive.
    unsafe { &*data.cast::<Probe>() }
        .wakes
        .fetch_add(1, Ordering::Relaxed);
}

fn drop_waker(data: *const ()) {
    outside_lock("dropped");
    // SAFETY: the waker being dropped owns one count, given back here.
    unsafe { Arc::decrement_strong_count(data.cast::<Probe>()) };
}

/// A checking waker and its probe.
fn checking_waker() -> (Waker, Arc<Probe>) {
    let probe = Arc::new(Probe {
        wakes: AtomicUsize::new(0),
    });
    let raw = RawWaker::new(Arc::into_raw(probe.clone()).cast(), &VTABLE);
    // SAFETY: the vtable's functions follow the `RawWaker` contract for an `Arc<Probe>`.
    (unsafe { Waker::from_raw(raw) }, probe)
}

fn poll<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Lock acquisitions on this thread while `f` runs.
fn locks_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = stats::locks();
    let out = f();
    (stats::locks() - before, out)
}

#[test]
fn mutex_parked_wait_takes_the_lock_twice_and_the_woken_waiter_never() {
    let (waker, probe) = checking_waker();
    let m = Mutex::new(0);
    let held = m.try_lock().unwrap();
    let mut fut = pin!(m.lock());
    let (register, pending) = locks_in(|| poll(fut.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(register, 1, "registering takes the lock once");
    let (release, ()) = locks_in(|| drop(held));
    assert_eq!(release, 1, "the releaser dequeues under the lock once");
    assert_eq!(probe.wakes(), 1);
    let (woken, ready) = locks_in(|| poll(fut.as_mut(), &waker));
    assert!(ready.is_ready());
    assert_eq!(woken, 0, "the woken waiter learns from its own node");
    // An uncontended lock after the waiters left takes no queue lock at all.
    drop(ready);
    let (after, guard) = locks_in(|| m.try_lock());
    assert!(guard.is_some());
    assert_eq!(after, 0);
}

type BoxedLock<'m> = Pin<Box<crate::futures::Lock<'m, i32>>>;

/// Two lock futures queued on `m` (held meanwhile), the first then woken by the unlock.
fn first_woken_second_queued<'m>(
    m: &'m Mutex<i32>,
    waker: &Waker,
) -> (BoxedLock<'m>, BoxedLock<'m>) {
    let held = m.try_lock().unwrap();
    let mut first = Box::pin(m.lock());
    let mut second = Box::pin(m.lock());
    assert!(poll(first.as_mut(), waker).is_pending());
    assert!(poll(second.as_mut(), waker).is_pending());
    drop(held);
    (first, second)
}

#[test]
fn mutex_overtaken_waiter_costs_two_locks_per_park_and_keeps_its_place() {
    let (waker, _probe) = checking_waker();
    let m = Mutex::new(0);
    let (mut first, mut second) = first_woken_second_queued(&m, &waker);
    // A barger takes the freed lock before the woken waiter runs.
    let barger = m.try_lock().unwrap();
    let (repark, pending) = locks_in(|| poll(first.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(repark, 1, "going back to the front takes the lock once");
    let (handoff, ()) = locks_in(|| drop(barger));
    assert_eq!(handoff, 1);
    // The lock went straight to the overtaken waiter, not to the one queued after it.
    assert!(m.try_lock().is_none());
    assert!(poll(second.as_mut(), &waker).is_pending());
    let (woken, ready) = locks_in(|| poll(first.as_mut(), &waker));
    assert_eq!(woken, 0);
    let guard = match ready {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the overtaken waiter was handed the lock"),
    };
    drop(guard);
    assert!(poll(second.as_mut(), &waker).is_ready());
}

#[test]
fn mutex_barger_unlock_while_a_waiter_is_woken_takes_no_lock_and_wakes_nobody() {
    let (waker, probe) = checking_waker();
    let m = Mutex::new(0);
    let (mut first, mut second) = first_woken_second_queued(&m, &waker);
    assert_eq!(probe.wakes(), 1);
    let barger = m.try_lock().unwrap();
    let (unlock, ()) = locks_in(|| drop(barger));
    assert_eq!(
        unlock, 0,
        "the first waiter is on its way: nothing to dequeue"
    );
    assert_eq!(probe.wakes(), 1, "and nobody else is woken");
    let (woken, ready) = locks_in(|| poll(first.as_mut(), &waker));
    assert_eq!(woken, 0, "the woken waiter finds the lock free");
    assert!(ready.is_ready());
    drop(ready);
    assert_eq!(probe.wakes(), 2);
    assert!(poll(second.as_mut(), &waker).is_ready());
}

#[test]
fn mutex_woken_waiter_dropped_before_it_runs_takes_the_lock_once() {
    let (waker, probe) = checking_waker();
    let m = Mutex::new(0);
    let (first, mut second) = first_woken_second_queued(&m, &waker);
    let (cancel, ()) = locks_in(|| drop(first));
    assert_eq!(cancel, 1, "passing the turn on takes the lock once");
    assert_eq!(probe.wakes(), 2, "the second waiter was woken in its place");
    assert!(poll(second.as_mut(), &waker).is_ready());
}

/// Polls `fut` until it is queued, then drops it: the drop must take the lock once.
fn cancel_costs_one_lock<F: Future>(what: &str, fut: F, waker: &Waker) {
    let mut fut = Box::pin(fut);
    assert!(poll(fut.as_mut(), waker).is_pending(), "{what}: queued");
    let (cancel, ()) = locks_in(|| drop(fut));
    assert_eq!(
        cancel, 1,
        "{what}: a cancelled wait unlinks itself under the lock once"
    );
}

#[test]
fn cancelled_waits_take_the_lock_once() {
    let (waker, _probe) = checking_waker();
    let m = Mutex::new(());
    let _held = m.try_lock().unwrap();
    cancel_costs_one_lock("mutex", m.lock(), &waker);
    let sem = Semaphore::new(0);
    cancel_costs_one_lock("semaphore", sem.acquire(), &waker);
    let event = Event::new();
    cancel_costs_one_lock("event", event.wait(), &waker);
    let lock = RwLock::new(());
    let writer = lock.try_write().unwrap();
    cancel_costs_one_lock("rwlock read", lock.read(), &waker);
    cancel_costs_one_lock("rwlock upgradable read", lock.upgradable_read(), &waker);
    drop(writer);
    let barrier = Barrier::new(2);
    cancel_costs_one_lock("barrier", barrier.wait(), &waker);
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn semaphore_parked_wait_takes_the_lock_twice() {
    let (waker, probe) = checking_waker();
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut fut = pin!(sem.acquire_many(2));
    let (register, pending) = locks_in(|| poll(fut.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(register, 1);
    // The first permit goes to the waiter without waking it; the second completes it.
    let (release, ()) = locks_in(|| drop(held));
    assert_eq!(release, 1);
    assert_eq!(probe.wakes(), 0, "not woken for part of its request");
    let (release, ()) = locks_in(|| sem.add_permits(1));
    assert_eq!(release, 1);
    assert_eq!(probe.wakes(), 1);
    let (woken, ready) = locks_in(|| poll(fut.as_mut(), &waker));
    assert_eq!(woken, 0);
    match ready {
        Poll::Ready(Ok(permit)) => assert_eq!(permit.num_permits(), 2),
        _ => panic!("the waiter was handed its permits"),
    }
}

#[test]
fn rwlock_parked_waits_take_the_lock_twice() {
    let (waker, _probe) = checking_waker();
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let mut write = pin!(lock.write());
    let (register, pending) = locks_in(|| poll(write.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(register, 1, "the writer queues for the readers to leave");
    let mut read = pin!(lock.read());
    let (register, pending) = locks_in(|| poll(read.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(register, 1, "a reader queues behind the writer");
    let (release, ()) = locks_in(|| drop(reader));
    assert_eq!(release, 1, "the last reader out wakes the writer");
    let (woken, ready) = locks_in(|| poll(write.as_mut(), &waker));
    assert_eq!(woken, 0);
    let guard = match ready {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("writer woken with the lock"),
    };
    let (release, ()) = locks_in(|| drop(guard));
    assert_eq!(release, 1, "the writer lets the queued reader in");
    let (woken, ready) = locks_in(|| poll(read.as_mut(), &waker));
    assert_eq!(woken, 0);
    assert!(ready.is_ready());
}

/// A writer that first waits for a reader let in by the last write to run, then for it to
/// leave, parks twice, each time within the bounds of any parked wait.
#[test]
fn rwlock_writer_waiting_for_let_in_readers_parks_twice_within_the_bounds() {
    let (waker, _probe) = checking_waker();
    let lock = RwLock::new(0);
    let first = lock.try_write().unwrap();
    let mut read = pin!(lock.read());
    assert!(poll(read.as_mut(), &waker).is_pending());
    drop(first); // lets the reader in; it has not run yet
    let mut write = pin!(lock.write());
    let (register, pending) = locks_in(|| poll(write.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(
        register, 1,
        "the writer queues for the let-in reader to run"
    );
    let (entered, ready) = locks_in(|| poll(read.as_mut(), &waker));
    assert_eq!(entered, 1, "the let-in reader wakes the writer as it runs");
    let guard = match ready {
        Poll::Ready(guard) => guard,
        Poll::Pending => panic!("the let-in reader did not get its lock"),
    };
    let (announce, pending) = locks_in(|| poll(write.as_mut(), &waker));
    assert!(pending.is_pending());
    assert_eq!(
        announce, 1,
        "the writer announces and queues for the reader to leave"
    );
    let (release, ()) = locks_in(|| drop(guard));
    assert_eq!(release, 1, "the last reader out wakes the writer");
    let (woken, ready) = locks_in(|| poll(write.as_mut(), &waker));
    assert_eq!(woken, 0);
    assert!(ready.is_ready());
}

#[test]
fn event_set_takes_the_lock_once_per_batch() {
    let (waker, probe) = checking_waker();
    for n in [1, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH, 100] {
        let event = Event::new();
        let mut waits: alloc::vec::Vec<_> = (0..n).map(|_| Box::pin(event.wait())).collect();
        for w in &mut waits {
            assert!(poll(w.as_mut(), &waker).is_pending());
        }
        let before = probe.wakes();
        let (set, ()) = locks_in(|| {
            event.set();
        });
        assert!(
            set <= n.div_ceil(BATCH) + 1,
            "set with {n} waiters took the lock {set} times"
        );
        assert_eq!(probe.wakes() - before, n);
        let (woken, ()) = locks_in(|| {
            for w in &mut waits {
                assert!(poll(w.as_mut(), &waker).is_ready());
            }
        });
        assert_eq!(woken, 0, "woken waiters take no lock");
    }
}

/// A notification to send, and how many more waiters it must wake.
type NotifyStep<'a> = (&'a dyn Fn(&Condvar), usize);

/// Queues `n` condvar waits, then runs each `(notify, woken)` step: it must wake `woken`
/// more waiters within ⌈woken / BATCH⌉ + 1 lock acquisitions. Every waiter notified by the
/// end then takes the mutex in turn.
fn condvar_notifies_in_batches(n: usize, steps: &[NotifyStep<'_>]) {
    let (waker, probe) = checking_waker();
    let mutex = Arc::new(Mutex::new(()));
    let cv = Condvar::new();
    let mut waits: alloc::vec::Vec<_> = (0..n)
        .map(|_| Box::pin(cv.wait(mutex.try_lock_owned().unwrap())))
        .map(|mut w| {
            assert!(poll(w.as_mut(), &waker).is_pending());
            w
        })
        .collect();
    let mut expected = 0;
    for (notify, woken) in steps {
        let (locks, ()) = locks_in(|| notify(&cv));
        assert!(
            locks <= woken.div_ceil(BATCH) + 1,
            "{locks} lock acquisitions to wake {woken}"
        );
        expected += woken;
        assert_eq!(probe.wakes(), expected);
    }
    assert_eq!(expected, n, "every waiter is notified by the end");
    for w in &mut waits {
        match poll(w.as_mut(), &waker) {
            Poll::Ready(guard) => drop(guard),
            Poll::Pending => panic!("notified waiter relocks a free mutex"),
        }
    }
}

#[test]
fn condvar_notify_all_takes_the_lock_once_per_batch() {
    let n = 2 * BATCH + 5;
    condvar_notifies_in_batches(n, &[(&|cv| cv.notify_all(), n)]);
}

#[test]
fn condvar_notify_many_takes_the_lock_once_per_batch() {
    let (n, many) = (2 * BATCH + 5, BATCH + 3);
    condvar_notifies_in_batches(
        n,
        &[
            (&|cv| cv.notify_many(many), many),
            // More than are left: the rest, within the bound for the rest.
            (&|cv| cv.notify_many(n), n - many),
        ],
    );
}

#[test]
fn barrier_trip_takes_the_lock_once_per_batch() {
    let (waker, probe) = checking_waker();
    let n = BATCH + 3;
    let barrier = Barrier::new(n + 1);
    let mut waits: alloc::vec::Vec<_> = (0..n).map(|_| Box::pin(barrier.wait())).collect();
    for w in &mut waits {
        assert!(poll(w.as_mut(), &waker).is_pending());
    }
    let mut last = pin!(barrier.wait());
    let (trip, ready) = locks_in(|| poll(last.as_mut(), &waker));
    assert!(ready.is_ready());
    assert!(trip <= n.div_ceil(BATCH) + 1, "{trip} lock acquisitions");
    assert_eq!(probe.wakes(), n);
    let (woken, ()) = locks_in(|| {
        for w in &mut waits {
            assert!(poll(w.as_mut(), &waker).is_ready());
        }
    });
    assert_eq!(woken, 0);
}

#[test]
fn repoll_with_the_same_waker_keeps_it_and_a_new_waker_replaces_it() {
    let (first, first_probe) = checking_waker();
    let (second, second_probe) = checking_waker();
    let m = Mutex::new(());
    let held = m.try_lock().unwrap();
    let mut fut = pin!(m.lock());
    assert!(poll(fut.as_mut(), &first).is_pending());
    assert_eq!(refs(&first_probe), 2, "one clone in the queue");
    assert!(poll(fut.as_mut(), &first).is_pending());
    assert_eq!(refs(&first_probe), 2, "same waker: no new clone");
    assert!(poll(fut.as_mut(), &second).is_pending());
    assert_eq!(refs(&first_probe), 1, "old waker dropped");
    assert_eq!(refs(&second_probe), 2);
    drop(held);
    assert_eq!(first_probe.wakes(), 0);
    assert_eq!(second_probe.wakes(), 1);
    assert_eq!(refs(&second_probe), 1, "woken by value");
    assert!(poll(fut.as_mut(), &second).is_ready());
}

/// Runs `test` on a thread of its own, whose spin credit is fresh (it is kept per thread).
#[cfg(feature = "std")]
fn on_fresh_thread(test: impl FnOnce() + Send + 'static) {
    std::thread::spawn(test).join().unwrap();
}

/// This thread's task spins so far: all of them, and the timed ones.
#[cfg(feature = "std")]
fn spins() -> (usize, usize) {
    (stats::task_spins(), stats::timed_task_spins())
}

/// This thread's task spins since `before` (from [`spins`]): all of them, and the timed ones.
#[cfg(feature = "std")]
fn spun_since((all, timed): (usize, usize)) -> (usize, usize) {
    (stats::task_spins() - all, stats::timed_task_spins() - timed)
}

/// A task spins for a mutex that others are queued for only while such spins have been
/// paying off on its thread: behind a holder that does not run (here it never will), the
/// thread's tasks soon queue at once, as they would for a lock held across an `.await` on a
/// single-threaded executor.
#[cfg(feature = "std")]
#[test]
fn a_task_stops_spinning_for_a_queued_mutex_once_its_spins_keep_failing() {
    on_fresh_thread(|| {
        let (waker, _probe) = checking_waker();
        let m = Mutex::new(0);
        let held = m.try_lock().unwrap();
        let mut waits: alloc::vec::Vec<_> = (0..40).map(|_| Box::pin(m.lock())).collect();
        let all_before = spins();
        let spun: alloc::vec::Vec<usize> = waits
            .iter_mut()
            .map(|wait| {
                let before = spins();
                assert!(poll(wait.as_mut(), &waker).is_pending());
                spun_since(before).0
            })
            .collect();
        assert_eq!(spun[0], 1, "the first finds nobody queued and spins");
        let timed = spun_since(all_before).1;
        assert_eq!(
            timed,
            spun.iter().sum::<usize>(),
            "with credit left, every spin is the timed one"
        );
        assert_eq!(
            spun[1], 1,
            "a fresh thread's task spins though others are queued"
        );
        assert!(
            spun[20..].iter().all(|&n| n == 0),
            "spins went on failing: {spun:?}"
        );
        drop(held);
        // The lock goes down the queue in order.
        for wait in &mut waits {
            assert!(poll(wait.as_mut(), &waker).is_ready());
        }
        drop(waits);
        // With the credit spent, a task still spins (the short way) while nobody is queued,
        // so that a success can earn the credit back.
        let held = m.try_lock().unwrap();
        let mut alone = Box::pin(m.lock());
        let before = spins();
        assert!(poll(alone.as_mut(), &waker).is_pending());
        let (all, timed) = spun_since(before);
        assert_eq!(all, 1, "nobody queued: it spins");
        assert_eq!(timed, 0, "without credit, the short way");
        drop(held);
        assert!(poll(alone.as_mut(), &waker).is_ready());
    });
}

/// A task that finds too few permits spins for a time only while nobody is queued and its
/// thread's spins have been paying off; behind permits that never come back it soon spins
/// only the short way.
#[cfg(feature = "std")]
#[test]
fn a_semaphore_task_spins_for_a_time_only_alone_and_with_credit() {
    on_fresh_thread(|| {
        let (waker, _probe) = checking_waker();
        let s = Semaphore::new(2);
        let held = s.try_acquire_many(2).unwrap();

        let before = spins();
        let mut first = Box::pin(s.acquire());
        assert!(poll(first.as_mut(), &waker).is_pending());
        assert_eq!(
            spun_since(before),
            (1, 1),
            "alone, with credit: the timed spin"
        );
        let before = spins();
        let mut second = Box::pin(s.acquire());
        assert!(poll(second.as_mut(), &waker).is_pending());
        assert_eq!(spun_since(before), (0, 0), "someone is queued: no spin");
        drop((first, second));

        // Alone each time, and each timed spin fails: the credit runs out.
        let before = spins();
        for _ in 0..40 {
            let mut wait = Box::pin(s.acquire_many(2));
            assert!(poll(wait.as_mut(), &waker).is_pending());
        }
        let (all, timed) = spun_since(before);
        assert_eq!(all, 40, "alone: every wait spins");
        assert!(timed < 20, "timed spins went on failing: {timed} of 40");
        let before = spins();
        let mut wait = Box::pin(s.acquire());
        assert!(poll(wait.as_mut(), &waker).is_pending());
        assert_eq!(spun_since(before), (1, 0), "without credit, the short way");
        drop(wait);

        drop(held);
        assert_eq!(
            s.available_permits(),
            2,
            "no permit was lost to the cancelled waits"
        );
    });
}

/// A blocking wait out of time stops retrying: on busy cores each retry's yield may cost a
/// time slice, so a zero timeout makes no retry at all, while a wait with time left still
/// retries before it parks.
#[cfg(feature = "std")]
#[test]
fn a_blocking_wait_retries_only_while_it_has_time() {
    use core::time::Duration;

    let mutex = Mutex::new(());
    let held = mutex.try_lock().unwrap();
    let semaphore = Arc::new(Semaphore::new(0));
    let lock = RwLock::new(());
    let read = lock.try_read().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let before = stats::retries();
    assert!(mutex.lock_blocking_timeout(Duration::ZERO).is_none());
    assert!(semaphore.acquire_blocking_timeout(Duration::ZERO).is_err());
    assert!(lock.write_blocking_timeout(Duration::ZERO).is_none());
    assert!(barrier.wait_blocking_timeout(Duration::ZERO).is_err());
    let (other_mutex, condvar) = (Mutex::new(()), Condvar::new());
    let guard = other_mutex.lock_blocking();
    let (guard, result) = condvar.wait_blocking_timeout(guard, Duration::ZERO);
    assert!(result.timed_out());
    drop(guard);
    assert_eq!(stats::retries(), before, "retries after the deadline");
    drop((held, read));

    let releaser = {
        let semaphore = semaphore.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            semaphore.add_permits(1);
        })
    };
    let permit = semaphore.acquire_blocking_timeout(Duration::from_secs(3600));
    assert!(permit.is_ok());
    assert!(stats::retries() > before, "no retry with an hour to go");
    releaser.join().unwrap();

    // A barrier's party retries too (the other party arrives later, on its own thread).
    let before = stats::retries();
    let other = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            barrier.wait_blocking().unwrap();
        })
    };
    assert!(barrier
        .wait_blocking_timeout(Duration::from_secs(3600))
        .is_ok());
    assert!(
        stats::retries() > before,
        "no barrier retry with an hour to go"
    );
    other.join().unwrap();

    // A queued thread looks at its node a few times before it parks: a condvar waiter can
    // be woken only once it is queued.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let before = stats::retries();
    let notifier = {
        let pair = pair.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            *pair.0.lock_blocking() = true;
            pair.1.notify_one();
        })
    };
    let (flag, condvar) = &*pair;
    let (guard, result) = condvar.wait_while_blocking_timeout(
        flag.lock_blocking(),
        Duration::from_secs(3600),
        |set| !*set,
    );
    assert!(*guard && !result.timed_out());
    drop(guard);
    assert!(
        stats::retries() > before,
        "no retry on the node with an hour to go"
    );
    notifier.join().unwrap();
}

/// A blocking wait with a timeout reads the clock only once it has to wait: one that takes
/// what it waits for at its first attempt reads none (there may be no clock, as on
/// `wasm32-unknown-unknown`), and one that times out fixes its deadline once.
#[cfg(feature = "std")]
#[test]
fn a_timed_blocking_wait_reads_the_clock_only_when_it_has_to_wait() {
    use core::time::Duration;

    let timeout = Duration::from_millis(1);
    let mutex = Mutex::new(());
    let semaphore = Arc::new(Semaphore::new(1));
    let lock = Arc::new(RwLock::new(()));
    let event = Event::new();
    event.set();
    let barrier = Barrier::new(1);
    let condvar = Condvar::new();
    let before = stats::clock_reads();
    drop(mutex.lock_blocking_timeout(timeout).unwrap());
    drop(semaphore.acquire_blocking_timeout(timeout).unwrap());
    drop(
        semaphore
            .acquire_many_owned_blocking_timeout(1, timeout)
            .unwrap(),
    );
    drop(lock.read_blocking_timeout(timeout).unwrap());
    drop(lock.write_owned_blocking_timeout(timeout).unwrap());
    drop(lock.upgradable_read_blocking_timeout(timeout).unwrap());
    assert!(event.wait_blocking_timeout(timeout));
    assert!(barrier.wait_blocking_timeout(timeout).is_ok());
    let (guard, result) =
        condvar.wait_while_blocking_timeout(mutex.try_lock().unwrap(), timeout, |()| false);
    assert!(!result.timed_out());
    drop(guard);
    assert_eq!(
        stats::clock_reads(),
        before,
        "a wait that never waited read the clock"
    );

    let held = mutex.try_lock().unwrap();
    assert!(mutex.lock_blocking_timeout(timeout).is_none());
    assert_eq!(
        stats::clock_reads(),
        before + 1,
        "a timed-out wait fixes one deadline"
    );
    drop(held);
    event.clear();
    assert!(!event.wait_blocking_timeout(Duration::ZERO));
    assert_eq!(stats::clock_reads(), before + 2);
}

/// One call keeps one deadline through every step it waits in: a multi-lock that waits for
/// its first mutex and then for its second, and a condvar wait woken while its condition
/// still holds, each fix their deadline from the clock once.
#[cfg(feature = "std")]
#[test]
fn a_timed_blocking_wait_keeps_one_deadline_through_its_steps() {
    use core::time::Duration;
    use std::sync::mpsc;

    let (a, b) = (Arc::new(Mutex::new(())), Arc::new(Mutex::new(())));
    let (locked, go) = (mpsc::channel(), mpsc::channel::<()>());
    let holder = {
        let (a, b) = (a.clone(), b.clone());
        let (locked, go) = (locked.0, go.1);
        std::thread::spawn(move || {
            let held_a = a.try_lock().unwrap();
            let held_b = b.try_lock().unwrap();
            locked.send(()).unwrap();
            // Lets the caller wait for `a`, then holds `b` until the caller has given up.
            std::thread::sleep(Duration::from_millis(20));
            drop(held_a);
            let _ = go.recv();
            drop(held_b);
        })
    };
    locked.1.recv().unwrap();
    let before = stats::clock_reads();
    let all = crate::lock_all_blocking_timeout((&*a, &*b), Duration::from_millis(200));
    let reads = stats::clock_reads() - before;
    go.0.send(()).unwrap();
    holder.join().unwrap();
    assert!(all.is_none(), "`b` was held throughout");
    assert_eq!(reads, 1, "the multi-lock fixed its deadline more than once");

    let mutex = Mutex::new(false);
    let condvar = Arc::new(Condvar::new());
    let done = Arc::new(AtomicUsize::new(0));
    let notifier = {
        let (condvar, done) = (condvar.clone(), done.clone());
        std::thread::spawn(move || {
            // Wakes the waiter again and again without making its condition false.
            while done.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(5));
                condvar.notify_one();
            }
        })
    };
    let before = stats::clock_reads();
    let (guard, result) = condvar.wait_while_blocking_timeout(
        mutex.lock_blocking(),
        Duration::from_millis(100),
        |ready| !*ready,
    );
    let reads = stats::clock_reads() - before;
    done.store(1, Ordering::Relaxed);
    drop(guard);
    notifier.join().unwrap();
    assert!(result.timed_out());
    assert_eq!(
        reads, 1,
        "the condvar wait fixed its deadline more than once"
    );
}

/// Each wake epoch (or event generation) is a counter that wraps. With the counter at its
/// last value, waiters that queued before the bump that wraps it must count as older than
/// the new value: all of them woken, in batches, in two rounds on either side of the wrap.
#[test]
fn wake_epochs_wrap() {
    let (waker, probe) = checking_waker();
    let n = BATCH + 1;
    let pending_all = |waits: &mut [Pin<Box<dyn Future<Output = ()> + '_>>]| {
        for w in waits {
            assert!(poll(w.as_mut(), &waker).is_pending());
        }
    };
    let ready_all = |waits: &mut [Pin<Box<dyn Future<Output = ()> + '_>>], what: &str| {
        for (i, w) in waits.iter_mut().enumerate() {
            assert!(
                poll(w.as_mut(), &waker).is_ready(),
                "{what}: waiter {i} missed"
            );
        }
    };

    let event = Event::new();
    event.raw().move_epoch_to_wrap();
    for round in 0..2 {
        let mut waits: alloc::vec::Vec<Pin<Box<dyn Future<Output = ()>>>> =
            (0..n).map(|_| Box::pin(event.wait()) as _).collect();
        pending_all(&mut waits);
        let before = probe.wakes();
        event.set();
        event.clear();
        assert_eq!(probe.wakes() - before, n, "event, round {round}");
        ready_all(&mut waits, "event");
    }

    let mutex = Arc::new(Mutex::new(()));
    let cv = Condvar::new();
    cv.raw().move_epoch_to_wrap();
    for round in 0..2 {
        let mut waits: alloc::vec::Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..n)
            .map(|_| {
                let wait = cv.wait(mutex.try_lock_owned().unwrap());
                let mut wait: Pin<Box<dyn Future<Output = ()>>> =
                    Box::pin(async move { drop(wait.await) });
                // Queued, and the mutex free for the next one.
                assert!(poll(wait.as_mut(), &waker).is_pending());
                wait
            })
            .collect();
        let before = probe.wakes();
        cv.notify_all();
        assert_eq!(probe.wakes() - before, n, "condvar, round {round}");
        ready_all(&mut waits, "condvar");
    }

    let barrier = Barrier::new(n + 1);
    barrier.raw().move_epoch_to_wrap();
    for round in 0..2 {
        let mut waits: alloc::vec::Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..n)
            .map(|_| Box::pin(async { assert!(barrier.wait().await.is_ok()) }) as _)
            .collect();
        pending_all(&mut waits);
        let before = probe.wakes();
        let mut last = pin!(barrier.wait());
        assert!(poll(last.as_mut(), &waker).is_ready());
        assert_eq!(probe.wakes() - before, n, "barrier, round {round}");
        ready_all(&mut waits, "barrier");
    }

    let group = crate::WaitGroup::new();
    group.raw().move_epoch_to_wrap();
    for round in 0..2 {
        let token = group.token();
        let mut waits: alloc::vec::Vec<Pin<Box<dyn Future<Output = ()>>>> =
            (0..n).map(|_| Box::pin(group.wait()) as _).collect();
        pending_all(&mut waits);
        let before = probe.wakes();
        drop(token);
        assert_eq!(probe.wakes() - before, n, "wait group, round {round}");
        ready_all(&mut waits, "wait group");
    }

    // A signal fires once: its trigger waits and its drain waits, in one release.
    let signal = crate::ShutdownSignal::new();
    signal.raw().move_epoch_to_wrap();
    let guard = signal.track();
    let mut waits: alloc::vec::Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..n)
        .map(|i| {
            if i % 2 == 0 {
                Box::pin(signal.wait()) as _
            } else {
                Box::pin(signal.drained()) as _
            }
        })
        .collect();
    pending_all(&mut waits);
    let before = probe.wakes();
    drop(guard);
    signal.trigger();
    assert_eq!(probe.wakes() - before, n, "shutdown signal");
    ready_all(&mut waits, "shutdown signal");
}

/// An event's "someone queued" mark is cleared once a `set` empties the queue, so the next
/// `set` with nobody waiting takes the fast path: no lock.
#[test]
fn an_event_set_that_empties_the_queue_clears_its_mark() {
    let (waker, _probe) = checking_waker();
    let event = Event::new();
    let mut waits: alloc::vec::Vec<_> = (0..3).map(|_| Box::pin(event.wait())).collect();
    for w in &mut waits {
        assert!(poll(w.as_mut(), &waker).is_pending());
    }
    event.set();
    event.clear();
    let (locks, ()) = locks_in(|| {
        event.set();
    });
    assert_eq!(locks, 0, "an event set with nobody queued took the lock");
}

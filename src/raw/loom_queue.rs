//! Loom models of the waiter queue on its own: registration, notify-one, notify-all in
//! batches, cancellation and timeouts racing each other.
//!
//! The protocol modelled is the smallest that uses every part of the queue: a count of
//! *signals*. A waiter takes a signal if one is there, and otherwise queues; a notifier hands a
//! signal straight to the first queued waiter (token 1), or leaves it in the count. A waiter
//! that goes away after it was handed a signal passes it on. So signals are conserved: every
//! signal sent is, at the end, either taken by a waiter or still in the count.
//!
//! Run with (every model is bounded by `LOOM_MAX_PREEMPTIONS`, 2 unless set; CI sets 4, about
//! a minute on two cores, and runs the other targets' models at 2 or 3):
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=4 RUSTFLAGS="--cfg loom" \
//!     cargo test --lib --release --target-dir target/loom
//! ```

use core::future::Future as _;
use core::pin::{pin, Pin};
use core::task::Poll;

use loom::sync::Arc;
use loom::thread;

use crate::raw::queue::{Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, Async, Blocking, Check, Deadline, Protocol};
use crate::sync::{AtomicUsize, Ordering};

const PARKED: usize = 1;
const SIGNAL: usize = 2;

struct Signals {
    state: AtomicUsize,
    queue: WaitQueue,
}

impl Signals {
    fn new() -> Self {
        Signals {
            state: AtomicUsize::new(0),
            queue: WaitQueue::new(),
        }
    }

    fn count(&self) -> usize {
        self.state.load(Ordering::SeqCst) / SIGNAL
    }

    /// Sends one signal: to the first waiter, or into the count.
    fn notify_one(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & PARKED != 0 {
                let mut queue = self.queue.lock();
                if queue.is_empty() {
                    self.state.fetch_add(SIGNAL, Ordering::Release);
                } else {
                    queue.pop_front(1);
                }
                queue.clear_when_empty(&self.state, PARKED);
                return;
            }
            match self
                .state
                .compare_exchange(s, s + SIGNAL, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
    }

    /// Sends one signal to every queued waiter, in batches.
    fn notify_all(&self) -> usize {
        if self.state.load(Ordering::Acquire) & PARKED == 0 {
            return 0;
        }
        let mut sent = 0;
        let mut queue = self.queue.lock();
        queue.pop_front_while(1, |_| {
            sent += 1;
            true
        });
        self.state.fetch_and(!PARKED, Ordering::Relaxed);
        sent
    }

    fn wait(&self) -> Wait<'_> {
        Wait { signals: self }
    }
}

struct Wait<'a> {
    signals: &'a Signals,
}

impl<'a> Protocol<'a> for Wait<'a> {
    type Output = ();

    fn queue(&self) -> &'a WaitQueue {
        &self.signals.queue
    }

    fn attempt(&mut self) -> Option<()> {
        let state = &self.signals.state;
        let mut s = state.load(Ordering::Relaxed);
        while s >= SIGNAL {
            match state.compare_exchange(s, s - SIGNAL, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(()),
                Err(actual) => s = actual,
            }
        }
        None
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        let state = &self.signals.state;
        let mut s = state.load(Ordering::Relaxed);
        loop {
            let (next, done) = if s >= SIGNAL {
                (s - SIGNAL, true)
            } else {
                (s | PARKED, false)
            };
            match state.compare_exchange(s, next, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) if done => return Check::Done(()),
                Ok(_) => {
                    return Check::Wait {
                        data: 0,
                        front: false,
                    }
                }
                Err(actual) => s = actual,
            }
        }
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<()> {
        assert_eq!(wakeup.token, 1);
        Some(())
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.signals.state, PARKED);
    }

    fn abandon(&mut self, _wakeup: Wakeup) {
        self.signals.notify_one();
    }
}

/// Waits on a blocked thread; with a deadline, the timed park may give up at any point.
/// Returns whether the wait took a signal.
fn wait_blocking(signals: &Signals, timed: bool) -> bool {
    let node = pin!(Node::new());
    let mut strategy = Blocking {
        deadline: match timed {
            true => Deadline::At(std::time::Instant::now()),
            false => Deadline::Never,
        },
    };
    let mut wait = signals.wait();
    match poll_wait(node.as_ref(), &mut strategy, &mut wait) {
        Poll::Ready(()) => true,
        Poll::Pending => {
            cancel(node.as_ref(), &mut wait);
            false
        }
    }
}

/// A future around one wait, so a task can wait with loom's executor.
struct WaitFuture<'a> {
    signals: &'a Signals,
    node: Node,
    done: bool,
}

impl core::future::Future for WaitFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<()> {
        // SAFETY: `node` is never moved out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: the node stays where it is until the future is dropped.
        let node = unsafe { Pin::new_unchecked(&this.node) };
        let res = poll_wait(node, &mut Async(cx.waker()), &mut this.signals.wait());
        this.done = res.is_ready();
        res
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: the node is pinned for as long as the future lives, which is now.
            let node = unsafe { Pin::new_unchecked(&self.node) };
            cancel(node, &mut self.signals.wait());
        }
    }
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

/// A blocked thread and a task both wait; two notifications reach both, whatever the order of
/// registration, hand-over and wake-up, and each waiter sees what the notifier wrote before
/// notifying (the hand-over publishes it).
#[test]
fn notify_one_racing_registration_wakes_each_waiter() {
    model(|| {
        let signals = Arc::new(Signals::new());
        let payload = Arc::new(loom::cell::UnsafeCell::new(0usize));
        let read = |payload: &loom::cell::UnsafeCell<usize>| {
            // SAFETY: written once before the notifications, only read after them.
            assert_eq!(payload.with(|p| unsafe { *p }), 7);
        };
        let thread_waiter = {
            let (signals, payload) = (signals.clone(), payload.clone());
            thread::spawn(move || {
                assert!(wait_blocking(&signals, false));
                read(&payload);
            })
        };
        let task_waiter = {
            let (signals, payload) = (signals.clone(), payload.clone());
            thread::spawn(move || {
                loom::future::block_on(WaitFuture {
                    signals: &signals,
                    node: Node::new(),
                    done: false,
                });
                read(&payload);
            })
        };
        // SAFETY: nobody reads before the notifications below.
        payload.with_mut(|p| unsafe { *p = 7 });
        signals.notify_one();
        signals.notify_one();
        thread_waiter.join().unwrap();
        task_waiter.join().unwrap();
        assert_eq!(signals.count(), 0);
    });
}

/// A waiter whose timed park gives up races a notification: the signal is taken by it or
/// left in the count, never lost.
#[test]
fn timeout_racing_notify_one_loses_no_signal() {
    model(|| {
        let signals = Arc::new(Signals::new());
        let waiter = {
            let signals = signals.clone();
            thread::spawn(move || wait_blocking(&signals, true))
        };
        signals.notify_one();
        let took = waiter.join().unwrap();
        assert_eq!(signals.count(), usize::from(!took));
    });
}

/// A task polled once and then dropped, racing a notification: a signal it was handed is
/// passed on to the blocked thread, which therefore always finishes.
#[test]
fn dropped_waiter_racing_notify_passes_the_signal_on() {
    model(|| {
        let signals = Arc::new(Signals::new());
        let blocked = {
            let signals = signals.clone();
            thread::spawn(move || assert!(wait_blocking(&signals, false)))
        };
        let dropped = {
            let signals = signals.clone();
            thread::spawn(move || {
                let mut fut = pin!(WaitFuture {
                    signals: &signals,
                    node: Node::new(),
                    done: false,
                });
                let waker = futures::task::noop_waker();
                // The future is dropped (and its wait withdrawn) as this thread returns.
                fut.as_mut()
                    .poll(&mut core::task::Context::from_waker(&waker))
                    .is_ready()
            })
        };
        signals.notify_one();
        let took = dropped.join().unwrap();
        if took {
            // The dropped future finished before it went away; the thread needs another.
            signals.notify_one();
        }
        blocked.join().unwrap();
        assert_eq!(signals.count(), 0);
    });
}

/// Two waiters and a notify-all whose batches (one waiter under loom) release and retake the
/// lock in between, while the waiters are still registering: every waiter ends with a signal.
#[test]
fn notify_all_in_batches_racing_registration() {
    model(|| {
        let signals = Arc::new(Signals::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let signals = signals.clone();
                thread::spawn(move || assert!(wait_blocking(&signals, false)))
            })
            .collect();
        // Whoever registered after the notify-all's pass gets a signal of its own.
        let sent = signals.notify_all();
        for _ in sent..2 {
            signals.notify_one();
        }
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(signals.count(), 0);
    });
}

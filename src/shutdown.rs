//! A tree of shutdown signals with drain tracking: [`ShutdownSignal`] and [`DrainGuard`].
//!
//! # Implementation notes
//!
//! Each signal is a [`RawDrain`] (a trigger, a count of tracked tasks and a wait queue) in a
//! shared allocation, with a count of its *users*: handles, drain guards (each holds a
//! handle) and live children. A child waits for its parent's trigger the way any task does:
//! its allocation holds a queue node, linked in the parent's queue with a waker that fires
//! the child. So a child costs its parent one node in the queue and nothing else, is found
//! by the parent's trigger like every other waiter, and is gone from the parent's queue as
//! soon as its last user is. There is no list of children to walk or to leak.
//!
//! A child keeps its parent's users up, so a parent whose handles are all dropped stays
//! registered with *its* parent for as long as it has children: a trigger from above still
//! reaches them.
//!
//! Firing a signal wakes its children's wakers after its queue's lock is released; each of
//! those fires a child. With `std`, nested firings on one thread are queued and run one
//! after the other rather than recursively, so a deep chain of children cannot overflow the
//! stack; dropping a deep chain is iterative too. A `trigger` works through a queue of its
//! own, set up for the call, so its whole tree has fired when it returns, even when it is
//! called from a waker that another firing on the same thread woke.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::fmt;
use core::pin::Pin;
use core::task::{Poll, Waker};

use pin_project_lite::pin_project;

use crate::future::{wait_future, Shell};
use crate::raw::drain::{cancel_wait, poll_triggered, RawDrain};
use crate::raw::queue::{Node, Unpark, WaitQueue, Wakeup};
use crate::raw::wait::{each_finally, Strategy};
use crate::sync::{AtomicUsize, Ordering};
use crate::wait_group::{too_many, DrainKind, DrainRef, TriggerKind};

/// A shutdown signal that can be triggered once, waited on, split into children, and used to
/// drain the tasks that run under it.
///
/// - **Trigger and wait**: [`trigger`](ShutdownSignal::trigger) fires the signal for good;
///   tasks wait with [`wait`](ShutdownSignal::wait)`.await`, threads with
///   [`wait_blocking`](ShutdownSignal::wait_blocking) or
///   [`wait_blocking_timeout`](ShutdownSignal::wait_blocking_timeout).
/// - **Scopes**: [`child`](ShutdownSignal::child) makes a signal that fires when this one
///   does, and that can also be triggered alone without touching its parent or its
///   siblings: one per subsystem, listener or connection. Dropping every handle to a child
///   unregisters it from its parent, so making and dropping a child per connection keeps
///   memory flat however many connections come and go.
/// - **Drain**: [`track`](ShutdownSignal::track) returns a [`DrainGuard`] that a task holds
///   while it works; [`drained`](ShutdownSignal::drained)`.await` waits until the signal has
///   fired *and* every guard is gone, which is what a server does before it exits. A guard
///   counts toward its signal and every ancestor, so draining the root waits for tasks
///   tracked anywhere below it.
///
/// `ShutdownSignal` is a handle: clones are the same signal. It is the runtime-agnostic
/// counterpart of tokio-util's `CancellationToken` plus `TaskTracker`, with blocking forms
/// for threads.
///
/// # Memory
///
/// [`new`](ShutdownSignal::new) and [`child`](ShutdownSignal::child) allocate one block each
/// (the signal's state and its place in its parent's queue); the signal's own wait queue is
/// allocated once, the first time something waits on it or a child is made under it. After
/// that, clones, guards and waits allocate nothing, except that
/// [`track`](ShutdownSignal::track) on a signal more than 32 levels below its root lists the
/// signal's ancestors in a short-lived allocation, to count the guard from the root down, and
/// a [`trigger`](ShutdownSignal::trigger) that reaches children lists the ones still to fire
/// in a short-lived allocation on the firing thread.
///
/// # Stack
///
/// With the `std` feature a trigger fires a chain of children (each made from the one
/// before) one after the other, so its depth costs no stack. Without `std` there is no
/// per-thread list to queue them on, and a trigger fires each child from inside its
/// parent's firing: the stack it needs grows with the depth of the chain. Trees as wide as
/// you like are fine either way, and so is dropping a deep chain.
///
/// # Examples
///
/// ```
/// use unisync::ShutdownSignal;
///
/// # futures::executor::block_on(async {
/// let shutdown = ShutdownSignal::new();
/// let connection = shutdown.child();
///
/// connection.trigger(); // closes this connection only
/// assert!(connection.is_triggered());
/// assert!(!shutdown.is_triggered());
///
/// let other = shutdown.child();
/// shutdown.trigger(); // reaches every child
/// other.wait().await;
/// # });
/// ```
pub struct ShutdownSignal {
    inner: Arc<Inner>,
}

struct Inner {
    raw: RawDrain,
    /// Handles, drain guards and live children. When it reaches zero nothing can trigger,
    /// track or wait on this signal any more except its parent, so it leaves the parent's
    /// queue and the parent loses a user.
    users: AtomicUsize,
    /// This signal's wait for its parent's trigger: linked in the parent's queue, with a
    /// waker that fires this signal. Idle for a root.
    registration: Node,
    parent: Option<Arc<Inner>>,
}

impl Inner {
    fn new(parent: Option<Arc<Inner>>) -> Inner {
        Inner {
            raw: RawDrain::new(false),
            users: AtomicUsize::new(1),
            registration: Node::new(),
            parent,
        }
    }

    /// Whether an ancestor has fired while its firing may not have reached this signal yet:
    /// it wakes the ancestor's own waiters first, and a firing on another thread may still be
    /// on its way down. Walks the ancestors only while a firing is under way somewhere, so a
    /// deep chain costs nothing once every firing is done.
    fn fired_above(&self) -> bool {
        if self.parent.is_none() || !firing_anywhere() {
            return false;
        }
        let mut current = self.parent.as_deref();
        while let Some(signal) = current {
            if signal.raw.is_triggered() {
                return true;
            }
            current = signal.parent.as_deref();
        }
        false
    }

    #[inline]
    fn registration(&self) -> Pin<&Node> {
        // SAFETY: `Inner` lives in an `Arc` and is never moved out of it (its `Drop` only
        // takes `parent`), so the node stays where it is until the allocation is freed; and
        // the node is unlinked before then (see `release`; a linked node's waker keeps the
        // allocation alive).
        unsafe { Pin::new_unchecked(&self.registration) }
    }
}

impl Wake for Inner {
    fn wake(self: Arc<Self>) {
        fire(self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        fire(self.clone());
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Free a chain of parents that only this signal kept alive one by one, rather than
        // recursively.
        let mut next = self.parent.take();
        while let Some(mut parent) = next {
            // The count check first skips `get_mut`'s read-modify-write in the common case.
            next = if Arc::strong_count(&parent) == 1 {
                Arc::get_mut(&mut parent).and_then(|p| p.parent.take())
            } else {
                None
            };
        }
    }
}

/// How many firings are working their way down a tree, anywhere in the process. While none
/// is, every signal under a fired one has its own flag set (a firing sets the flags of its
/// whole subtree before it ends), so a signal need not look at its ancestors. A signal that
/// fires with nothing queued on it (no waiters, no children) is not counted: no signal is
/// under it, and a child made later sees its flag before `child` returns.
#[cfg(not(loom))]
static FIRING: AtomicUsize = AtomicUsize::new(0);

// Under loom, a static made afresh for each execution of a model.
#[cfg(loom)]
loom::lazy_static! {
    static ref FIRING: AtomicUsize = AtomicUsize::new(0);
}

/// Counts one firing in [`FIRING`] until it is dropped, unwinding included.
struct Firing(());

impl Firing {
    #[inline]
    fn start() -> Firing {
        // Before the flag is set: whoever learns of the firing sees this count too.
        FIRING.fetch_add(1, Ordering::SeqCst);
        #[cfg(all(test, not(loom)))]
        tests::STARTED.with(|started| started.set(started.get() + 1));
        Firing(())
    }
}

impl Drop for Firing {
    #[inline]
    fn drop(&mut self) {
        // Release: a zero read by `firing_anywhere` shows the flags this firing set.
        FIRING.fetch_sub(1, Ordering::Release);
    }
}

/// Whether any firing may still be on its way down. Read *before* a signal's own flag: a zero
/// then means that every firing this caller knows of has set the flags below it.
#[inline]
fn firing_anywhere() -> bool {
    FIRING.load(Ordering::Acquire) != 0
}

#[cfg(all(feature = "std", not(loom)))]
std::thread_local! {
    /// The signals queued to fire on this thread: `Some` while a firing runs here (see
    /// [`fire`]).
    static DEFERRED: core::cell::RefCell<Option<alloc::vec::Vec<Arc<Inner>>>> =
        const { core::cell::RefCell::new(None) };
}

/// Fires `signal`, and through its queue every child that has not fired yet; a child's
/// waker. Nested in a firing on this thread, it only queues `signal` for that firing.
#[cfg(all(feature = "std", not(loom)))]
fn fire(signal: Arc<Inner>) {
    let mut signal = Some(signal);
    // Outside a firing, or while the thread is torn down (no queue), it fires here.
    let _ = DEFERRED.try_with(|deferred| {
        if let Some(list) = deferred.borrow_mut().as_mut() {
            list.extend(signal.take());
        }
    });
    if let Some(signal) = signal {
        fire_all(&signal);
    }
}

/// Fires `signal`, then every signal its firing queues on this thread, and those they queue,
/// until none is left; returns whether this call fired `signal`.
///
/// The queue is this call's own: one that a firing further up this thread's stack was
/// working through is set aside meanwhile. So everything `signal` reaches has fired when this
/// returns, even when it runs inside a waker that such a firing called.
#[cfg(all(feature = "std", not(loom)))]
fn fire_all(signal: &Inner) -> bool {
    // Counted until every signal below has fired.
    let mut firing = None;
    let Ok(outer) = DEFERRED.try_with(|deferred| deferred.replace(Some(alloc::vec::Vec::new())))
    else {
        // The thread is being torn down: no queue, so children fire recursively.
        return trigger_counted(signal, &mut firing);
    };
    // A waker that panics (one of a signal's own waiters) must not leave the children queued
    // behind it unfired: catch it, fire the rest, then pass the first panic on.
    let mut panic = None;
    let first = || trigger_counted(signal, &mut firing);
    let fired = match std::panic::catch_unwind(core::panic::AssertUnwindSafe(first)) {
        Ok(fired) => fired,
        Err(caught) => {
            panic = Some(caught);
            false
        }
    };
    // Only a counted firing queues signals here (it wakes their registrations).
    while let Some(next) = DEFERRED.with(|deferred| {
        deferred
            .borrow_mut()
            .as_mut()
            .and_then(alloc::vec::Vec::pop)
    }) {
        let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            next.raw.trigger();
        }));
        if let Err(caught) = result {
            panic.get_or_insert(caught);
        }
        drop(next);
    }
    let done = DEFERRED.with(|deferred| deferred.replace(outer));
    drop(done);
    drop(firing);
    if let Some(panic) = panic {
        std::panic::resume_unwind(panic);
    }
    fired
}

/// Fires `signal`, and through its queue every child that has not fired yet.
#[cfg(any(not(feature = "std"), loom))]
fn fire(signal: Arc<Inner>) {
    fire_all(&signal);
}

/// Fires `signal`; its children fire recursively from it.
#[cfg(any(not(feature = "std"), loom))]
fn fire_all(signal: &Inner) -> bool {
    trigger_counted(signal, &mut None)
}

/// Triggers `signal`, counting its firing in `firing` (from before its flag is set) if it has
/// waiters or children to reach: a firing with neither has nothing left to reach.
fn trigger_counted(signal: &Inner, firing: &mut Option<Firing>) -> bool {
    signal.raw.trigger_with(|| *firing = Some(Firing::start()))
}

/// Links a child's registration with a waker made for it, moved in rather than cloned.
struct Register(Option<Waker>);

impl Strategy for Register {
    fn is_blocking(&self) -> bool {
        false
    }

    fn unparker(&mut self) -> Unpark {
        Unpark::Task(self.0.take().expect("a registration links once"))
    }

    fn park(&mut self, _queue: &WaitQueue, _node: Pin<&Node>, _just_linked: bool) -> Poll<Wakeup> {
        // Linked: from now on the waker fires the child, whenever the parent fires.
        Poll::Pending
    }
}

/// Takes one user from `inner`; the last one unregisters it from its parent, and so on up.
fn release(inner: &Inner) {
    let mut current = inner;
    // Release: what this user did happens before the unregistration by the last one.
    while current.users.fetch_sub(1, Ordering::AcqRel) == 1 {
        let Some(parent) = current.parent.as_deref() else {
            return;
        };
        cancel_wait(current.registration(), &parent.raw);
        current = parent;
    }
}

impl ShutdownSignal {
    /// Test only: the raw drain underneath.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn raw(&self) -> &RawDrain {
        &self.inner.raw
    }

    /// Creates a signal that has not fired, with no parent.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// assert!(!shutdown.is_triggered());
    /// ```
    pub fn new() -> ShutdownSignal {
        ShutdownSignal {
            inner: Arc::new(Inner::new(None)),
        }
    }

    /// Creates a child: a signal that fires when this one fires, and that can also be
    /// triggered alone.
    ///
    /// Triggering the child does not touch this signal or the child's siblings. A child made
    /// after this signal fired is born triggered. Once every handle to the child (and every
    /// guard and grandchild under it) is dropped, it leaves this signal's queue, so children
    /// that come and go cost nothing after they are gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = unisync::ShutdownSignal::new();
    /// let conn = server.child();
    /// conn.trigger();
    /// assert!(!server.is_triggered());
    ///
    /// let conn = server.child();
    /// server.trigger();
    /// assert!(conn.is_triggered());
    /// assert!(server.child().is_triggered());
    /// ```
    #[doc(alias = "child_token")]
    #[must_use = "a child that is dropped at once is unregistered and never seen again"]
    pub fn child(&self) -> ShutdownSignal {
        self.inner.users.fetch_add(1, Ordering::Relaxed);
        let child = Arc::new(Inner::new(Some(self.inner.clone())));
        let mut register = Register(Some(Waker::from(child.clone())));
        if poll_triggered(child.registration(), &self.inner.raw, &mut register).is_ready() {
            // Nobody waits on the new child yet: this only sets its flag.
            child.raw.trigger();
        }
        ShutdownSignal { inner: child }
    }

    /// Fires the signal and every child under it, and wakes everything waiting on them.
    ///
    /// Returns `true` if this call fired it, `false` if it had fired already (by itself or
    /// through an ancestor, as [`is_triggered`](ShutdownSignal::is_triggered) counts). The signal
    /// stays triggered for good. When the call that fired it returns, every child under the
    /// signal has fired too, wherever it is called from (a waker included), and this thread
    /// fired them: a guard dropped meanwhile on another thread does not take that work over.
    /// The one exception is a child that another call fired first, on another thread: the
    /// children under it are fired by that call, which may still be at work. They count as
    /// fired all the same ([`is_triggered`](ShutdownSignal::is_triggered) and
    /// [`wait`](ShutdownSignal::wait) see this signal's firing, and so does a
    /// [`drained`](ShutdownSignal::drained) wait that looks while nothing is tracked); a drain
    /// wait on one of them that was already parked ends once that call reaches it.
    /// A call that returns `false` does not wait for the one that fired: that one may still
    /// be firing the children (on another thread, or further up this thread's stack when this
    /// call comes from a waker it woke).
    ///
    /// # Panics
    ///
    /// With the `std` feature, a waker that panics when it is woken does not stop the firing:
    /// every child still fires and every other waiter is woken, and then the first such panic
    /// is resumed here. Without it the panic unwinds at once (see the crate's feature flags),
    /// and children and waiters behind that waker's batch may not be reached.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// assert!(shutdown.trigger());
    /// assert!(!shutdown.trigger());
    /// ```
    #[doc(alias = "cancel")]
    pub fn trigger(&self) -> bool {
        // A signal under an ancestor that has fired counts as fired already (see
        // `is_triggered`): this call still helps that firing along, but did not fire it.
        let above = self.inner.fired_above();
        // With a queue of its own: the signal and every child under it have fired when this
        // returns, even if it is called from a waker while this thread is firing other
        // signals.
        fire_all(&self.inner) && !above
    }

    /// Returns whether the signal has fired, by itself or through an ancestor.
    ///
    /// A signal counts as fired as soon as any ancestor has, even while that ancestor's
    /// firing is still on its way down to it: it wakes the ancestor's own waiters first, so
    /// a task woken by the parent sees every child triggered.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let child = shutdown.child();
    /// shutdown.trigger();
    /// assert!(child.is_triggered());
    /// ```
    #[doc(alias = "is_cancelled")]
    #[inline]
    pub fn is_triggered(&self) -> bool {
        // `fired_above` reads the count of firings under way first, and that is what it needs
        // to come before this signal's own flag: see `firing_anywhere`.
        let above = self.inner.fired_above();
        above || self.inner.raw.is_triggered()
    }

    /// Waits until the signal fires; completes at once if it has.
    ///
    /// Firing ends every wait in one step, as seen by whoever polls them: once one wait has
    /// completed, any other polled after it completes too. A wait polled once an ancestor has
    /// fired completes too, as [`is_triggered`](ShutdownSignal::is_triggered) says.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future at any point leaves the signal unchanged, and there
    /// is no wake-up to hand on: firing wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let worker = {
    ///     let shutdown = shutdown.clone();
    ///     async move {
    ///         shutdown.wait().await;
    ///         "stopped"
    ///     }
    /// };
    /// let (stopped, ()) = futures::join!(worker, async { shutdown.trigger(); });
    /// assert_eq!(stopped, "stopped");
    /// # });
    /// ```
    #[doc(alias = "cancelled")]
    pub fn wait(&self) -> ShutdownWait<'_> {
        ShutdownWait {
            shell: Shell::new(self, TriggerKind::new()),
        }
    }

    /// Like [`wait`](ShutdownSignal::wait), but the future holds a handle of its own, so it
    /// borrows nothing and can be moved into a spawned task.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`wait`](ShutdownSignal::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let stopped = shutdown.wait_owned(); // 'static
    /// shutdown.trigger();
    /// futures::executor::block_on(stopped);
    /// ```
    #[doc(alias = "cancelled_owned")]
    pub fn wait_owned(&self) -> ShutdownWaitOwned {
        ShutdownWaitOwned {
            shell: Shell::new(self.clone(), TriggerKind::new()),
        }
    }

    /// Parks the current thread until the signal fires.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`wait`](ShutdownSignal::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let worker = {
    ///     let shutdown = shutdown.clone();
    ///     std::thread::spawn(move || shutdown.wait_blocking())
    /// };
    /// shutdown.trigger();
    /// worker.join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait")]
    pub fn wait_blocking(&self) {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::Deadline::Never);
    }

    /// Parks the current thread until the signal fires or `timeout` passes.
    ///
    /// Returns `true` if the signal fired, `false` on timeout.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`wait`](ShutdownSignal::wait)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let shutdown = unisync::ShutdownSignal::new();
    /// assert!(!shutdown.wait_blocking_timeout(Duration::from_millis(5)));
    /// shutdown.trigger();
    /// assert!(shutdown.wait_blocking_timeout(Duration::from_millis(5)));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_wait_timeout")]
    pub fn wait_blocking_timeout(&self, timeout: core::time::Duration) -> bool {
        crate::raw::wait::block_on(self.wait(), crate::raw::wait::deadline(timeout)).is_some()
    }

    /// Tracks one task under this signal until the returned guard is dropped.
    ///
    /// The guard counts toward this signal and each of its ancestors, so a
    /// [`drained`](ShutdownSignal::drained) wait on any of them waits for it. A task tracked
    /// after the signal fired counts too, until it finishes. The guard also gives the task
    /// its signal ([`DrainGuard::signal`]) to watch.
    ///
    /// # Panics
    ///
    /// Panics if 2^61 - 1 guards (on 64-bit targets) are already live under one signal,
    /// which only leaked guards can reach; nothing is tracked then.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let guard = shutdown.track();
    /// assert_eq!(shutdown.tracked(), 1);
    /// drop(guard);
    /// assert_eq!(shutdown.tracked(), 0);
    /// ```
    #[track_caller]
    pub fn track(&self) -> DrainGuard {
        add_chain(&self.inner);
        DrainGuard {
            signal: self.clone(),
        }
    }

    /// Returns how many tasks are tracked under this signal (including under its children)
    /// right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let conn = shutdown.child();
    /// let _guard = conn.track();
    /// assert_eq!((shutdown.tracked(), conn.tracked()), (1, 1));
    /// ```
    pub fn tracked(&self) -> usize {
        self.inner.raw.count()
    }

    /// Waits until the signal has fired and no task is tracked under it.
    ///
    /// It completes once both hold at some moment after the wait started, even if a new
    /// task is tracked before the waiter runs again. Bound it with your runtime's timer to
    /// drain with a deadline. It waits for the guards, not for the tasks' futures: what a
    /// task still holds after its guard is dropped (a clone of an `Arc`, say) may be alive
    /// for a moment longer, so drop such things before the guard.
    ///
    /// A signal counts as fired as soon as an ancestor has (see
    /// [`is_triggered`](ShutdownSignal::is_triggered)), and a wait polled then with nothing
    /// tracked completes at once. A wait already parked when an ancestor fires learns of it
    /// when the firing reaches this signal (a parent wakes its own waiters first): if a task
    /// was tracked under this signal in between, the wait goes on until that task is done.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future at any point leaves the signal unchanged, and there
    /// is no wake-up to hand on.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let guard = shutdown.track();
    /// let task = async move {
    ///     guard.signal().wait().await; // work until shutdown
    ///     drop(guard); // finished
    /// };
    /// shutdown.trigger();
    /// futures::join!(task, shutdown.drained());
    /// assert_eq!(shutdown.tracked(), 0);
    /// # });
    /// ```
    #[doc(alias = "drain")]
    pub fn drained(&self) -> Drained<'_> {
        Drained {
            shell: Shell::new(self, DrainKind::new()),
        }
    }

    /// Like [`drained`](ShutdownSignal::drained), but the future holds a handle of its own, so
    /// it borrows nothing and is `'static`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`drained`](ShutdownSignal::drained).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let guard = shutdown.track();
    /// let drained = shutdown.drained_owned(); // 'static
    /// shutdown.trigger();
    /// drop(guard);
    /// futures::executor::block_on(drained);
    /// ```
    pub fn drained_owned(&self) -> DrainedOwned {
        DrainedOwned {
            shell: Shell::new(self.clone(), DrainKind::new()),
        }
    }

    /// Parks the current thread until the signal has fired and no task is tracked under it.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`drained`](ShutdownSignal::drained)).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let guard = shutdown.track();
    /// let worker = std::thread::spawn(move || {
    ///     guard.signal().wait_blocking();
    ///     drop(guard);
    /// });
    /// shutdown.trigger();
    /// shutdown.drained_blocking();
    /// worker.join().unwrap();
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn drained_blocking(&self) {
        crate::raw::wait::block_on(self.drained(), crate::raw::wait::Deadline::Never);
    }

    /// Parks the current thread until the signal has fired and no task is tracked under it,
    /// or until `timeout` passes.
    ///
    /// Returns `true` if the signal drained, `false` on timeout. A thread whose time runs out
    /// while an ancestor's firing is still on its way down to this signal (see
    /// [`trigger`](ShutdownSignal::trigger)) returns `true` if no task is tracked under it: the
    /// signal already counts as fired, as [`is_triggered`](ShutdownSignal::is_triggered) says.
    ///
    /// # Blocking
    ///
    /// Parks the thread; never call it from inside an async task (use
    /// [`drained`](ShutdownSignal::drained)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let stuck = shutdown.track();
    /// shutdown.trigger();
    /// assert!(!shutdown.drained_blocking_timeout(Duration::from_millis(5)));
    /// drop(stuck);
    /// assert!(shutdown.drained_blocking_timeout(Duration::from_millis(5)));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn drained_blocking_timeout(&self, timeout: core::time::Duration) -> bool {
        crate::raw::wait::block_on(self.drained(), crate::raw::wait::deadline(timeout)).is_some()
    }
}

/// Signals that [`add_chain`] lists on the stack: a signal and its 32 nearest ancestors, as
/// the type's docs say. Longer chains are listed in one short-lived `Vec`.
const CHAIN_ON_STACK: usize = 33;

/// Adds one tracked task to `leaf` and every signal above it, from the root down: with
/// [`sub_chain`] going from the leaf up, no signal ever counts fewer tasks than one below it,
/// so a task seen under a child is counted under each of its ancestors too (a drain of the
/// root cannot end while a child shows a task). Each add is a release, so whoever sees a
/// level's count sees the adds above it. Panics, changing nothing, if a level is full.
#[track_caller]
fn add_chain(leaf: &Inner) {
    let mut chain: [Option<&Inner>; CHAIN_ON_STACK] = [None; CHAIN_ON_STACK];
    let mut current = Some(leaf);
    for slot in &mut chain {
        let Some(signal) = current else { break };
        *slot = Some(signal);
        current = signal.parent.as_deref();
    }
    // Plain loops: a closure would report a full level's panic here, not at the caller.
    if current.is_some() {
        let levels = || core::iter::successors(Some(leaf), |signal| signal.parent.as_deref());
        // Sized first: one allocation, however deep.
        let mut deep = alloc::vec::Vec::with_capacity(levels().count());
        deep.extend(levels());
        for signal in deep.iter().rev() {
            add_level(signal);
        }
    } else {
        for signal in chain.iter().rev().flatten() {
            add_level(signal);
        }
    }
}

/// Adds one tracked task to `signal`, whose ancestors have one added already: if it is full,
/// takes that back from them and panics.
#[track_caller]
fn add_level(signal: &Inner) {
    if signal.raw.add().is_err() {
        if let Some(parent) = signal.parent.as_deref() {
            sub_chain(parent);
        }
        too_many();
    }
}

/// Completes one tracked task on `from` and every signal above it, from `from` up.
fn sub_chain(from: &Inner) {
    let chain = core::iter::successors(Some(from), |current| current.parent.as_deref());
    // Every level, even if a zero on one of them wakes a waker that panics.
    each_finally(chain, |signal| signal.raw.sub());
}

impl Clone for ShutdownSignal {
    /// Another handle to the same signal.
    fn clone(&self) -> Self {
        // Relaxed: as for `Arc`, a new user can only come from an existing one.
        self.inner.users.fetch_add(1, Ordering::Relaxed);
        ShutdownSignal {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for ShutdownSignal {
    fn drop(&mut self) {
        release(&self.inner);
    }
}

impl Default for ShutdownSignal {
    /// A signal that has not fired, with no parent.
    fn default() -> Self {
        ShutdownSignal::new()
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("is_triggered", &self.is_triggered())
            .field("tracked", &self.tracked())
            .finish_non_exhaustive()
    }
}

impl DrainRef for &ShutdownSignal {
    #[inline]
    fn drain(&self) -> &RawDrain {
        &self.inner.raw
    }

    fn fired_above(&self) -> bool {
        self.inner.fired_above()
    }
}

impl DrainRef for ShutdownSignal {
    #[inline]
    fn drain(&self) -> &RawDrain {
        &self.inner.raw
    }

    fn fired_above(&self) -> bool {
        self.inner.fired_above()
    }
}

/// One task tracked under a [`ShutdownSignal`]; dropping it finishes the task.
///
/// Made by [`ShutdownSignal::track`]. Cloning a guard tracks one more task under the same
/// signal.
///
/// # Examples
///
/// ```
/// let shutdown = unisync::ShutdownSignal::new();
/// let guard = shutdown.track();
/// assert!(!guard.signal().is_triggered());
/// let second = guard.clone();
/// assert_eq!(shutdown.tracked(), 2);
/// # drop((guard, second));
/// ```
#[must_use = "dropping the guard finishes the tracked task at once"]
pub struct DrainGuard {
    signal: ShutdownSignal,
}

impl DrainGuard {
    /// The signal this task is tracked under.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = unisync::ShutdownSignal::new();
    /// let guard = shutdown.track();
    /// shutdown.trigger();
    /// assert!(guard.signal().is_triggered());
    /// ```
    pub fn signal(&self) -> &ShutdownSignal {
        &self.signal
    }
}

impl Clone for DrainGuard {
    /// Tracks one more task under the same signal.
    ///
    /// # Panics
    ///
    /// As [`ShutdownSignal::track`].
    #[track_caller]
    fn clone(&self) -> Self {
        self.signal.track()
    }
}

impl Drop for DrainGuard {
    fn drop(&mut self) {
        sub_chain(&self.signal.inner);
    }
}

impl fmt::Debug for DrainGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DrainGuard")
            .field("signal", &self.signal)
            .finish()
    }
}

pin_project! {
    /// The future returned by [`ShutdownSignal::wait`].
    ///
    /// It holds the waiter's place in the signal's queue, so it is `!Unpin`: `.await` pins
    /// it for you.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::ShutdownWait, ShutdownSignal};
    ///
    /// # futures::executor::block_on(async {
    /// let shutdown = ShutdownSignal::new();
    /// shutdown.trigger();
    /// let wait: ShutdownWait<'_> = shutdown.wait();
    /// wait.await;
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct ShutdownWait<'a> {
        #[pin]
        shell: Shell<TriggerKind<&'a ShutdownSignal>>,
    }
}

wait_future!(ShutdownWait ['a] ['a] -> ());

pin_project! {
    /// The future returned by [`ShutdownSignal::wait_owned`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::ShutdownWaitOwned, ShutdownSignal};
    ///
    /// let shutdown = ShutdownSignal::new();
    /// let wait: ShutdownWaitOwned = shutdown.wait_owned();
    /// shutdown.trigger();
    /// futures::executor::block_on(wait);
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct ShutdownWaitOwned {
        #[pin]
        shell: Shell<TriggerKind<ShutdownSignal>>,
    }
}

wait_future!(ShutdownWaitOwned [] [] -> ());

pin_project! {
    /// The future returned by [`ShutdownSignal::drained`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::Drained, ShutdownSignal};
    ///
    /// # futures::executor::block_on(async {
    /// let shutdown = ShutdownSignal::new();
    /// shutdown.trigger();
    /// let drained: Drained<'_> = shutdown.drained();
    /// drained.await; // nothing tracked
    /// # });
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct Drained<'a> {
        #[pin]
        shell: Shell<DrainKind<&'a ShutdownSignal>>,
    }
}

wait_future!(Drained ['a] ['a] -> ());

pin_project! {
    /// The future returned by [`ShutdownSignal::drained_owned`].
    ///
    /// `!Unpin`, like [`Drained`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::DrainedOwned, ShutdownSignal};
    ///
    /// let shutdown = ShutdownSignal::new();
    /// shutdown.trigger();
    /// let drained: DrainedOwned = shutdown.drained_owned();
    /// futures::executor::block_on(drained); // nothing tracked
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct DrainedOwned {
        #[pin]
        shell: Shell<DrainKind<ShutdownSignal>>,
    }
}

wait_future!(DrainedOwned [] [] -> ());

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::raw::drain::MAX_COUNT;
    use core::future::Future;

    std::thread_local! {
        /// Firings counted in `FIRING` by this thread.
        pub(super) static STARTED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    fn counted(f: impl FnOnce()) -> usize {
        let before = STARTED.with(core::cell::Cell::get);
        f();
        STARTED.with(core::cell::Cell::get) - before
    }

    /// The process-wide count of firings is touched only by firings that have something
    /// queued to reach: a signal that closes with nobody waiting and no children (one
    /// connection, say) costs no shared write.
    #[test]
    fn only_a_firing_with_something_queued_is_counted() {
        let root = ShutdownSignal::new();
        let leaf = root.child();
        assert_eq!(counted(|| assert!(leaf.trigger())), 0);
        assert_eq!(counted(|| assert!(!leaf.trigger())), 0);

        let waited = root.child();
        let mut wait = alloc::boxed::Box::pin(waited.wait());
        let waker = std::task::Waker::noop();
        let mut cx = core::task::Context::from_waker(waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert_eq!(counted(|| assert!(waited.trigger())), 1);
        assert!(wait.as_mut().poll(&mut cx).is_ready());

        // The root has live children: its firing, and the children it reaches, count once
        // (without `std` there is no queue per thread: the middle child fires nested, as a
        // firing of its own, and its child has nothing queued).
        let grandchild = root.child().child();
        let firings = if cfg!(feature = "std") { 1 } else { 2 };
        assert_eq!(counted(|| assert!(root.trigger())), firings);
        assert!(grandchild.is_triggered());
        // A child made under a fired signal is fired before `child` returns, uncounted.
        assert_eq!(counted(|| assert!(root.child().child().is_triggered())), 0);
    }

    /// A `track` that finds a level of its chain full panics at the caller and changes no
    /// count, above or below that level.
    #[test]
    fn track_past_the_limit_in_the_middle_of_a_chain_changes_nothing() {
        let root = ShutdownSignal::new();
        let middle = root.child();
        let leaf = middle.child();
        let _kept = (root.track(), leaf.track());
        middle.inner.raw.set_count_for_test(MAX_COUNT);
        let err = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| leaf.track()))
            .expect_err("past the limit");
        let msg = err
            .downcast_ref::<alloc::string::String>()
            .expect("a formatted message");
        assert!(msg.contains("too many units of work"), "{msg}");
        assert_eq!(
            (root.tracked(), middle.tracked(), leaf.tracked()),
            (2, MAX_COUNT, 1)
        );
        middle.inner.raw.set_count_for_test(1);
    }
}

//! Async synchronization primitives that work on any executor, and from plain threads.
//!
//! `unisync` gives async services the primitives they reach for:
//!
//! | type               | use it to                                                                     |
//! |--------------------|-------------------------------------------------------------------------------|
//! | [`Mutex`]          | guard shared state, with a guard that may live across `.await`                |
//! | [`lock_all`]       | lock several mutexes at once; multi-locks in any naming order never deadlock  |
//! | [`ReentrantMutex`] | let the thread holding a lock take it again (Python's `RLock`)                |
//! | [`RwLock`]         | share state among many readers or one writer (phase-fair)                     |
//! | [`Semaphore`]      | cap concurrent work: connections, jobs, `acquire_many` for weights            |
//! | [`Event`]          | signal many waiters at once and keep the signal set                           |
//! | [`Condvar`]        | wait for a condition on state guarded by a [`Mutex`]                          |
//! | [`Barrier`]        | line a fixed number of parties up, with a leader per generation               |
//! | [`ShutdownSignal`] | stop a service or one scope of it (a connection), then drain its tasks        |
//! | [`WaitGroup`]      | wait until every unit of outstanding work is done                             |
//!
//! They run on tokio, smol, async-std or any other executor (nothing here depends on a
//! runtime), and every waiting method has a `_blocking` twin for plain threads, with a
//! `_blocking_timeout` variant. Tasks and threads can wait on the same primitive at the same
//! time. [`ReentrantMutex`] alone is for threads only: a task has no identity that every
//! runtime shares (its docs say more).
//!
//! # Design
//!
//! Every primitive is an atomic state word plus waiters on one intrusive wait queue of our
//! own. A waiter's place in the queue lives inside its future (or on the stack of the thread
//! that blocks), so waiting allocates nothing; the queue itself (a small lock and two
//! pointers) is allocated the first time a primitive has to make anybody wait. Each wait is
//! written once, as a state machine that a task drives with its `Waker` and a thread drives
//! by parking; the blocking methods are not a second implementation. Uncontended paths are
//! one atomic operation and never touch the queue.
//!
//! A thread that cannot have a lock, permits or a barrier's release at once tries again up to
//! 16 times, yielding its time slice in between, before it queues and parks: waking a parked
//! thread costs far more than most critical sections last. A task may spin briefly before it
//! queues (each type's `Fairness` section says when). The order that those sections promise
//! counts from the moment a wait queues; until then a waiter is one more caller, and callers
//! that are running may get in first.
//!
//! ## Why our own queue
//!
//! The queue's lock guards only a few pointer updates, and nothing else runs under it: no
//! waker is woken, cloned or dropped and no thread is unparked while it is held. Wake-ups are
//! collected in batches of 32 on the stack and run after the unlock. That is what lets a waker
//! that owns a guard or a permit of the primitive it waits on (and so re-enters it when it is
//! woken or dropped) work, where a queue that wakes under its lock deadlocks (see
//! tokio-rs/tokio#5429 for the same bug in another crate). It also keeps the contended paths
//! short: a wait that parks and is woken takes the queue's lock twice in all (to queue, and by
//! the releaser that dequeues it), the woken waiter learns of its wake-up from its own node
//! without the lock, and permits (or a lock, for a waiter that was overtaken once) are handed
//! to the woken waiter directly rather than raced for. Measured against the same crate on
//! `event-listener` (2 workers, the latest full run in `BENCHMARKS.md` in the crate's
//! package), every workload is level or faster: a contended mutex takes 0.24 (smol) and 0.33
//! (tokio) of the time (part of it from a brief spin before a task first queues), a
//! semaphore with mixed requests 0.28–0.74 and waking 10,000 event waiters 0.83, with no
//! allocation per wait where there was one; counted with callgrind where every operation
//! waits, a wait takes 0.60–0.70 of the instructions it took there (an event's waiters,
//! 0.95). On a 16-core machine, at 4, 8 and 16 workers (an earlier build), the contended
//! mutex took 0.18–0.83 of the time and the event's wake-up 0.47–0.76.
//!
//! # Graceful shutdown
//!
//! A service stops in two steps: tell everything to stop, then wait, with a deadline, until
//! the work in flight has finished. [`ShutdownSignal`] does both. `child()` makes a scope (a
//! subsystem, a listener, a connection) that fires with its parent and can also be fired alone;
//! dropping it unregisters it, so one child per connection costs nothing once the connection is
//! gone. `track()` hands a task a `DrainGuard`; `drained()` waits until the signal has fired and
//! every guard under it (children's included) is gone. [`WaitGroup`] is the counter alone (Go's
//! `sync.WaitGroup`, Python's `Queue.join()`): a token per unit of work, `wait()` until none is
//! left. Dropping a guard or token is what completes it, so a task that panics or is cancelled
//! still counts as finished.
//!
//! On tokio, one child and one guard per connection, and a drain with a deadline:
//!
//! ```rust
//! use std::time::Duration;
//! use unisync::ShutdownSignal;
//!
//! #[tokio::main]
//! async fn main() {
//!     let shutdown = ShutdownSignal::new();
//!     for _ in 0..3 {
//!         let conn = shutdown.child(); // this connection's own signal
//!         let guard = conn.track(); // drained when this task ends
//!         tokio::spawn(async move {
//!             tokio::select! {
//!                 () = guard.signal().wait() => {} // shutdown, or this connection was closed
//!                 () = tokio::time::sleep(Duration::from_secs(3600)) => {} // serving
//!             }
//!             // ... say goodbye to the client, then `guard` drops
//!         });
//!     }
//!     shutdown.trigger();
//!     tokio::time::timeout(Duration::from_secs(5), shutdown.drained())
//!         .await
//!         .expect("every connection finished within the deadline");
//! }
//! ```
//!
//! On smol, with a `WaitGroup` for the workers:
//!
//! ```rust
//! use std::time::Duration;
//! use unisync::{ShutdownSignal, WaitGroup};
//!
//! smol::block_on(async {
//!     let shutdown = ShutdownSignal::new();
//!     let workers = WaitGroup::new();
//!     for _ in 0..3 {
//!         let (stop, token) = (shutdown.child(), workers.token());
//!         smol::spawn(async move {
//!             stop.wait().await;
//!             drop(token); // this worker is done
//!         })
//!         .detach();
//!     }
//!     shutdown.trigger();
//!     let drained = smol::future::or(
//!         async {
//!             workers.wait().await;
//!             true
//!         },
//!         async {
//!             smol::Timer::after(Duration::from_secs(5)).await;
//!             false
//!         },
//!     )
//!     .await;
//!     assert!(drained);
//! });
//! ```
//!
//! And with a plain thread, through the blocking forms:
//!
//! ```rust
//! # #[cfg(feature = "std")] {
//! use std::time::Duration;
//! use unisync::ShutdownSignal;
//!
//! let shutdown = ShutdownSignal::new();
//! let guard = shutdown.track();
//! let worker = std::thread::spawn(move || {
//!     let mut rounds = 0;
//!     while !guard.signal().wait_blocking_timeout(Duration::from_millis(1)) {
//!         rounds += 1; // a unit of work between checks
//!     }
//!     rounds
//! });
//! shutdown.trigger();
//! assert!(shutdown.drained_blocking_timeout(Duration::from_secs(5)));
//! worker.join().unwrap();
//! # }
//! ```
//!
//! # Timeouts and cancellation
//!
//! Async waits have no timeout parameter: compose them with your runtime's timer
//! (`tokio::time::timeout`, a race with `smol::Timer`). That is safe because
//! every future here is cancel-safe: dropping it at any point leaves the primitive as if the
//! call had never been made, and a wake-up meant for it alone (a lock or permits handed to it,
//! a `Condvar::notify_one`) is passed to the next waiter. Each async method says so under
//! `# Cancel safety`, with what else a drop does for the three waits that own something: a
//! [`Condvar`] wait and an upgrade of an upgradable read lock drop the guard they were given
//! (the lock is released), and a [`Barrier`] party dropped after its generation tripped leaves
//! the trip standing and gives up only its result.
//!
//! Threads use the `_blocking_timeout` methods. Their timeout counts from the call's first
//! failed attempt: one that gets what it asked for at once never reads the clock.
//!
//! # Memory ordering
//!
//! Every primitive orders memory as a lock does: what a thread or task did before it gave
//! something up happens before what runs after the wait that this let through. So data
//! written before the release is seen after the wait without any other synchronization:
//!
//! - a lock holder's accesses come before the next holder's; for an [`RwLock`], every
//!   reader's come before the next writer's, and a writer's before every later reader's;
//! - what came before dropping a permit, or before [`Semaphore::add_permits`], comes before
//!   the acquire that gets those permits;
//! - what came before an [`Event::set`] that set the event (one that found it clear)
//!   comes before each wait that it ends or that finds it set, and before an
//!   [`Event::is_set`] that returns `true`; a `set` of an event already set changes nothing
//!   and orders nothing;
//! - what each party did before it reached a [`Barrier`] comes before the return of every
//!   party's wait in that generation;
//! - what came before dropping a [`WaitGroupToken`] comes before the wait that the count's
//!   zero ends, and what came before dropping a [`DrainGuard`] before the
//!   [`drained`](ShutdownSignal::drained) wait it ends;
//! - what came before a [`ShutdownSignal::trigger`] that fired the signal (one that returned
//!   `true`) comes before each wait that it ends or that finds it fired, its descendants'
//!   included, and before an [`is_triggered`](ShutdownSignal::is_triggered) that returns
//!   `true`; a `trigger` that returned `false` orders nothing.
//!
//! Loom models check each of these (`tests/loom_ordering.rs`, and the locks' models, in which
//! every lock records its holders' accesses where loom can see them).
//!
//! # Coming from other crates
//!
//! Most names match tokio's, and the docs answer to the peers' names in search
//! (`blocking_lock`, `lock_arc`, `try_lock_for`, `wait_for`, `cancelled`, ...). What differs
//! on purpose:
//!
//! - **tokio**: `try_lock`, `try_read` and `try_write` return an `Option`; permit counts are
//!   `usize`. [`Event`] stays set: a one-off pulse like `Notify::notify_waiters` is `set`
//!   then `clear`, and a `notify_one` that stores a permit for a later waiter has no
//!   counterpart ([`Condvar::notify_one`] wakes only who waits). [`Barrier::wait`] returns a
//!   `Result`, since a barrier can be aborted, and [`Barrier::new`]`(0)` panics.
//!   `CancellationToken` and `TaskTracker` are [`ShutdownSignal`] (`cancel` is `trigger`,
//!   `child_token` is `child`, and `track` plus `drained` do the tracker's part).
//! - **async-lock**: `*_arc` methods are `*_owned`. A semaphore's acquire fails once it is
//!   [`close`](Semaphore::close)d, so it returns a `Result`. In place of `set_size`,
//!   [`add_permits`] grows a semaphore, and [`forget_permits`] or forgetting permits as they
//!   come back shrinks it.
//! - **std and `parking_lot`**: nothing is poisoned, so `lock_blocking` returns the guard
//!   itself. Timeouts are `Duration`s, not `Instant`s; a condvar's notify methods return
//!   nothing; there is no `read_recursive` (see [`RwLock`]'s "Re-entrancy").
//! - **Python's `threading`**: `Event.wait(timeout)` is [`Event::wait_blocking_timeout`],
//!   `Condition.wait_for(pred)` is [`Condvar::wait_while`] with the predicate negated and
//!   `notify(n)` is [`Condvar::notify_many`]. A semaphore's permit goes back when it is
//!   dropped, so nobody releases what they did not take (as with `BoundedSemaphore`);
//!   [`add_permits`] is `release` for permits nobody held. A barrier's timeout withdraws the
//!   party without breaking the barrier, and there is no `action`: the leader
//!   ([`BarrierWaitResult::is_leader`]) runs it. `RLock` is [`ReentrantMutex`].
//! - **Go**: a [`WaitGroup`]'s `Add` and `Done` are a [`WaitGroupToken`] made and dropped;
//!   cloning the group shares its count.
//!
//! Every future in [`futures`] is `!Unpin` (its place in the wait queue lives inside it):
//! `pin!` one before polling it by hand or in a `select!` loop.
//!
//! [`add_permits`]: Semaphore::add_permits
//! [`forget_permits`]: Semaphore::forget_permits
//!
//! # What we are not
//!
//! - A `_blocking` method called from inside an async task parks the executor's worker thread;
//!   if the task that would release the primitive needs that worker, the program deadlocks.
//!   Use the async method inside tasks.
//! - A `_blocking` method that has to wait names its thread with `std::thread::current()` and
//!   parks it, so it works wherever those do: in a thread's own code and in `thread_local!`
//!   destructors on recent toolchains, but not where std cannot name the thread any more (a
//!   destructor registered outside Rust, or code run after `main` returns), where it panics
//!   as `thread::current()` does. A blocking method that gets what it asked for at once
//!   never names its thread.
//! - Nothing is poisoned. A guard dropped while panicking releases its lock as usual; the next
//!   holder sees the data as the panicking code left it.
//! - If a lock is never held across an `.await`, `std::sync::Mutex` or `parking_lot` is cheaper.
//! - On targets without threads (`wasm32-unknown-unknown`) the crate builds, blocking methods
//!   included, but a blocking method that has to wait panics, since nothing could ever wake
//!   it. Use the async methods there.
//!
//! # Feature flags
//!
//! - `std` (default): the `_blocking` methods and `std::error::Error` impls. Without it the
//!   crate needs only `alloc`, and cannot catch a panic: a waker that panics when it is woken
//!   unwinds at once out of the release that woke it. The rest of its batch (up to 32
//!   waiters) is still woken, but the release goes no further: waiters behind that batch are
//!   not woken, and what it was handing out to them (the permits of an `add_permits`, say) is
//!   lost. A second waker of that batch that panics aborts the process. With `std`, every
//!   waiter is woken and the first panic is resumed afterwards. Nor can the crate tell,
//!   without `std`, that a thread is unwinding: a semaphore permit dropped during a panic
//!   into a semaphore that [`Semaphore::add_permits`] has filled to
//!   [`Semaphore::MAX_PERMITS`] panics again, which aborts, where with `std` its permits
//!   that do not fit are dropped. And a [`ShutdownSignal`]'s trigger fires a chain of
//!   children recursively, so its stack grows with the chain's depth (see "Stack" there).
//! - `diagnostics` (off; implies `std`): records where and since when each [`Mutex`], each
//!   [`RwLock`]'s writer and each [`ReentrantMutex`] is held (`Mutex::holder`, shown by
//!   `Debug`), reports waits that
//!   last longer than a threshold to a hook of yours, and finds threads deadlocked on each
//!   other. See the `diagnostics` module. Off, it costs nothing: no field, no instruction.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use unisync::{Mutex, Semaphore};
//!
//! # futures::executor::block_on(async {
//! let limit = Arc::new(Semaphore::new(2));
//! let total = Arc::new(Mutex::new(0));
//!
//! let jobs = (0..8).map(|i| {
//!     let (limit, total) = (limit.clone(), total.clone());
//!     async move {
//!         let _permit = limit.acquire().await.unwrap(); // at most 2 at a time
//!         *total.lock().await += i;
//!     }
//! });
//! futures::future::join_all(jobs).await;
//! assert_eq!(*total.lock().await, 28);
//! # });
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs link to the `_blocking` forms and `ReentrantMutex`, which need `std`; built
// without it, those links have no target and are left as plain text.
#![cfg_attr(not(feature = "std"), allow(rustdoc::broken_intra_doc_links))]
// `unsafe_op_in_unsafe_fn` and the clippy lints live in the manifest's `[lints]` table.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

extern crate alloc;
// The unit tests use threads and `catch_unwind` in every configuration.
#[cfg(all(test, not(feature = "std")))]
extern crate std;

/// Forwards `Debug` and `Display` of guard types to the value they deref to.
///
/// `forward_fmt! { Guard ['a, T: ?Sized] ['a, T]; }`: the generics as declared, then as used.
macro_rules! forward_fmt {
    ($($ty:ident [$($decl:tt)*] [$($used:tt)*];)*) => {$(
        impl<$($decl)*> core::fmt::Debug for $ty<$($used)*>
        where
            <Self as core::ops::Deref>::Target: core::fmt::Debug,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($decl)*> core::fmt::Display for $ty<$($used)*>
        where
            <Self as core::ops::Deref>::Target: core::fmt::Display,
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(&**self, f)
            }
        }
    )*};
}

mod barrier;
mod condvar;
mod diag;
#[cfg(feature = "diagnostics")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
pub mod diagnostics;
mod event;
mod future;
mod multi_lock;
mod mutex;
mod raw;
#[cfg(feature = "std")]
mod reentrant_mutex;
mod rwlock;
mod semaphore;
mod shutdown;
mod sync;
mod wait_group;

pub use barrier::{Barrier, BarrierError, BarrierTimeoutError, BarrierWaitResult};
pub use condvar::{Condvar, CondvarGuard, WaitTimeoutResult};
pub use event::Event;
pub use multi_lock::{lock_all, try_lock_all, LockSet};
#[cfg(feature = "std")]
pub use multi_lock::{lock_all_blocking, lock_all_blocking_timeout};
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard};
#[cfg(feature = "std")]
pub use reentrant_mutex::{ReentrantMutex, ReentrantMutexGuard};
pub use rwlock::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, OwnedMappedRwLockReadGuard,
    OwnedMappedRwLockWriteGuard, OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard,
    OwnedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};
pub use semaphore::{
    AcquireError, AcquireTimeoutError, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TryAcquireError,
};
pub use shutdown::{DrainGuard, ShutdownSignal};
pub use wait_group::{WaitGroup, WaitGroupToken};

/// The named futures returned by the async methods, one per method.
///
/// Each is a plain struct that can be stored and dropped at any point (every wait is
/// cancel-safe). Each holds its waiter's place in the primitive's queue, so a wait that has to
/// park allocates nothing, and for the same reason each is `!Unpin`: `.await` pins it for you,
/// and a future you keep in a struct or poll by hand must be pinned first, with
/// [`core::pin::pin!`] or `Box::pin`. Every future implements `FusedFuture`. Most are nine
/// machine words (72 bytes on 64-bit targets), laid out so that moving one right after it was
/// built (as `FutureExt::now_or_never` or a `select!` does) is a cheap copy. (With the
/// `diagnostics` feature the lock waits are larger, recording their call sites, and give up
/// that layout.)
///
/// # Panics
///
/// Polling one of these futures again after it returned `Poll::Ready` panics with "a unisync
/// future was polled after it completed": its output (a guard, a permit) was already handed
/// out. A `select!` loop or a combinator that may poll a finished arm can ask
/// `FusedFuture::is_terminated` first.
///
/// # Examples
///
/// ```
/// use std::pin::pin;
/// use unisync::{futures::Lock, Mutex};
///
/// fn lock_it(m: &Mutex<u8>) -> Lock<'_, u8> {
///     m.lock()
/// }
///
/// # futures::executor::block_on(async {
/// let mutex = Mutex::new(1);
/// let mut lock = pin!(lock_it(&mutex)); // pinned, so it can be polled in place
/// assert_eq!(*lock.as_mut().await, 1);
/// # });
/// ```
pub mod futures {
    pub use crate::barrier::BarrierWait;
    pub use crate::condvar::{CondvarWait, WaitWhile};
    pub use crate::event::{EventWait, EventWaitOwned};
    pub use crate::multi_lock::LockAll;
    pub use crate::mutex::{Lock, LockOwned};
    pub use crate::rwlock::{
        Read, ReadOwned, UpgradableRead, UpgradableReadOwned, Upgrade, UpgradeOwned, Write,
        WriteOwned,
    };
    pub use crate::semaphore::{Acquire, AcquireOwned};
    pub use crate::shutdown::{Drained, DrainedOwned, ShutdownWait, ShutdownWaitOwned};
    pub use crate::wait_group::{WaitGroupWait, WaitGroupWaitOwned};
}

/// Compile-time checks that every public type is `Send`/`Sync` exactly when it should be.
#[allow(dead_code)]
mod assert_traits {
    use super::futures::*;
    use super::*;

    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn send_sync<T: Send + Sync>() {}
    fn unwind_safe<T: core::panic::UnwindSafe>() {}
    fn ref_unwind_safe<T: core::panic::UnwindSafe + core::panic::RefUnwindSafe>() {}

    /// Unwind safety as `std` and tokio have it: the primitives without a value are unwind
    /// safe; a lock is `UnwindSafe` when its value is, and not `RefUnwindSafe` (no poisoning).
    fn check_unwind_safety() {
        ref_unwind_safe::<Semaphore>();
        ref_unwind_safe::<Event>();
        ref_unwind_safe::<Condvar>();
        ref_unwind_safe::<Barrier>();
        ref_unwind_safe::<WaitGroup>();
        ref_unwind_safe::<ShutdownSignal>();
        unwind_safe::<Mutex<u8>>();
        unwind_safe::<RwLock<u8>>();
        #[cfg(feature = "std")]
        unwind_safe::<ReentrantMutex<u8>>();
    }

    fn check() {
        send_sync::<Mutex<u8>>();
        send_sync::<MutexGuard<'_, u8>>();
        send_sync::<OwnedMutexGuard<u8>>();
        send_sync::<MappedMutexGuard<'_, u8>>();
        send_sync::<OwnedMappedMutexGuard<u8, u8>>();
        send_sync::<MappedRwLockReadGuard<'_, u8>>();
        send_sync::<MappedRwLockWriteGuard<'_, u8>>();
        send_sync::<OwnedMappedRwLockReadGuard<u8, u8>>();
        send_sync::<OwnedMappedRwLockWriteGuard<u8, u8>>();
        send_sync::<Lock<'_, u8>>();
        send_sync::<LockOwned<u8>>();
        // A mutex makes a `Send`-only value shareable.
        send_sync::<Mutex<core::cell::Cell<u8>>>();
        send::<MutexGuard<'_, core::cell::Cell<u8>>>();
        send::<Lock<'_, core::cell::Cell<u8>>>();
        send_sync::<LockAll<(&Mutex<u8>, &Mutex<u16>)>>();
        send_sync::<LockAll<[&Mutex<u8>; 3]>>();
        send_sync::<LockAll<&[&Mutex<u8>]>>();
        send_sync::<LockAll<(&Mutex<core::cell::Cell<u8>>,)>>();
        #[cfg(feature = "std")]
        {
            send_sync::<ReentrantMutex<u8>>();
            // Only the holder reaches the value: a `Send`-only value can be shared.
            send_sync::<ReentrantMutex<core::cell::Cell<u8>>>();
            sync::<ReentrantMutexGuard<'_, u8>>();
        }
        send_sync::<RwLock<u8>>();
        send_sync::<RwLockReadGuard<'_, u8>>();
        send_sync::<RwLockWriteGuard<'_, u8>>();
        send_sync::<RwLockUpgradableReadGuard<'_, u8>>();
        send_sync::<OwnedRwLockReadGuard<u8>>();
        send_sync::<OwnedRwLockWriteGuard<u8>>();
        send_sync::<OwnedRwLockUpgradableReadGuard<u8>>();
        send_sync::<Read<'_, u8>>();
        send_sync::<ReadOwned<u8>>();
        send_sync::<Write<'_, u8>>();
        send_sync::<WriteOwned<u8>>();
        send_sync::<UpgradableRead<'_, u8>>();
        send_sync::<UpgradableReadOwned<u8>>();
        send_sync::<Upgrade<'_, u8>>();
        send_sync::<UpgradeOwned<u8>>();
        // A `Send`-only value can still be moved into and out of a lock.
        send::<RwLock<core::cell::Cell<u8>>>();
        sync::<Semaphore>();
        send_sync::<Semaphore>();
        send_sync::<SemaphorePermit<'_>>();
        send_sync::<OwnedSemaphorePermit>();
        send_sync::<Acquire<'_>>();
        send_sync::<AcquireOwned>();
        send_sync::<AcquireError>();
        send_sync::<TryAcquireError>();
        send_sync::<AcquireTimeoutError>();
        send_sync::<Condvar>();
        send_sync::<WaitTimeoutResult>();
        send_sync::<CondvarWait<'_, MutexGuard<'_, u8>>>();
        send_sync::<CondvarWait<'_, OwnedMutexGuard<u8>>>();
        send_sync::<WaitWhile<'_, MutexGuard<'_, u8>, fn(&mut u8) -> bool>>();
        send_sync::<WaitWhile<'_, OwnedMutexGuard<u8>, fn(&mut u8) -> bool>>();
        send::<CondvarWait<'_, MutexGuard<'_, core::cell::Cell<u8>>>>();
        send_sync::<Event>();
        send_sync::<EventWait<'_>>();
        send_sync::<EventWaitOwned>();
        send_sync::<Barrier>();
        send_sync::<BarrierWait<'_>>();
        send_sync::<BarrierWaitResult>();
        send_sync::<BarrierError>();
        send_sync::<BarrierTimeoutError>();
        send_sync::<WaitGroup>();
        send_sync::<WaitGroupToken>();
        send_sync::<WaitGroupWait<'_>>();
        send_sync::<WaitGroupWaitOwned>();
        send_sync::<ShutdownSignal>();
        send_sync::<DrainGuard>();
        send_sync::<ShutdownWait<'_>>();
        send_sync::<ShutdownWaitOwned>();
        send_sync::<Drained<'_>>();
        send_sync::<DrainedOwned>();
        #[cfg(feature = "diagnostics")]
        {
            use crate::diagnostics::*;
            send_sync::<Holder>();
            send_sync::<ThreadId>();
            send_sync::<LockKind>();
            send_sync::<LongWait>();
            send_sync::<BlockedThread>();
            send_sync::<DeadlockCycle>();
        }
    }
}

/// Every guard that can reach its lock (through `source`) is `Send` and `Sync` only when the
/// lock itself may be shared, that is when `T: Send + Sync` (`T: Send` for a mutex guard's
/// `Send`). With a value that is `Sync` but not `Send` (like a `std::sync::MutexGuard`), a
/// guard sent or shared to another thread would let that thread lock the lock again after the
/// guard is gone and move or drop the value there. None of these compile:
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::MutexGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::MutexGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedMutexGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::OwnedMutexGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::RwLockWriteGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::RwLockWriteGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::RwLockUpgradableReadGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::RwLockUpgradableReadGuard<'static, NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedRwLockReadGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::OwnedRwLockReadGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedRwLockWriteGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::OwnedRwLockWriteGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedRwLockUpgradableReadGuard<NotSend>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Sync>() {}
/// check::<unisync::OwnedRwLockUpgradableReadGuard<NotSend>>();
/// ```
///
/// A mapped mutex guard cannot reach its mutex: it is `Send` with `T: Send` and `Sync` with
/// `T: Sync`, and not otherwise:
///
/// ```compile_fail
/// fn check<T: Send>() {}
/// check::<unisync::MappedMutexGuard<'static, std::rc::Rc<u8>>>();
/// ```
///
/// ```compile_fail
/// fn check<T: Sync>() {}
/// check::<unisync::MappedMutexGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// A mapped guard that owns an `Arc` of its lock can drop the lock, and the whole value, on the
/// thread it is sent to, so it needs what sending the `Arc` needs:
///
/// ```compile_fail
/// fn check<T: Send>() {}
/// check::<unisync::OwnedMappedMutexGuard<std::rc::Rc<u8>, u8>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedMappedRwLockReadGuard<NotSend, u8>>();
/// ```
///
/// ```compile_fail
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check<T: Send>() {}
/// check::<unisync::OwnedMappedRwLockWriteGuard<NotSend, u8>>();
/// ```
///
/// A mapped write guard can be downgraded on the thread it was sent to, where it then shares
/// its part with readers on other threads, so sending it needs that part to be `Sync` too:
///
/// ```compile_fail
/// fn check<T: Send>() {}
/// check::<unisync::MappedRwLockWriteGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// ```compile_fail
/// fn check<T: Send>() {}
/// check::<unisync::OwnedMappedRwLockWriteGuard<std::sync::Mutex<std::cell::Cell<u8>>, std::cell::Cell<u8>>>();
/// ```
///
/// Owned mapped write guards hand out `&mut U`, so they are invariant in `U`: a guard of a
/// `&'static str` is not one of a shorter-lived `&str` (which could then be written into the
/// value and outlive its referent):
///
/// ```compile_fail
/// use unisync::OwnedMappedMutexGuard;
/// fn shorten<'s>(
///     g: OwnedMappedMutexGuard<&'static str, &'static str>,
/// ) -> OwnedMappedMutexGuard<&'static str, &'s str> {
///     g
/// }
/// ```
///
/// ```compile_fail
/// use unisync::OwnedMappedRwLockWriteGuard;
/// fn shorten<'s>(
///     g: OwnedMappedRwLockWriteGuard<&'static str, &'static str>,
/// ) -> OwnedMappedRwLockWriteGuard<&'static str, &'s str> {
///     g
/// }
/// ```
///
/// A read guard, mapped or not, shares `&T` and has no way back to its lock, so it needs
/// `T: Sync` (and only that) to be sent or shared:
///
/// ```compile_fail
/// fn check<T: Send>() {}
/// check::<unisync::MappedRwLockReadGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// ```compile_fail
/// fn check<T: Sync>() {}
/// check::<unisync::MappedRwLockWriteGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// What may be shared does compile: a mapped guard of a `Sync` value is `Sync`, a read guard of
/// one is `Send` and `Sync`, permits are always `Send + Sync`, and lock guards of a
/// `Send + Sync` value are too:
///
/// ```
/// struct NotSend(std::marker::PhantomData<*const ()>);
/// unsafe impl Sync for NotSend {}
/// fn check_sync<T: Sync>() {}
/// fn check<T: Send + Sync>() {}
/// check_sync::<unisync::MappedMutexGuard<'static, NotSend>>();
/// check::<unisync::SemaphorePermit<'static>>();
/// check::<unisync::OwnedSemaphorePermit>();
/// check::<unisync::RwLockReadGuard<'static, u8>>();
/// check::<unisync::RwLockReadGuard<'static, NotSend>>();
/// check::<unisync::MappedRwLockReadGuard<'static, NotSend>>();
/// check::<unisync::OwnedRwLockUpgradableReadGuard<u8>>();
/// check::<unisync::MutexGuard<'static, u8>>();
/// ```
#[cfg(doctest)]
pub struct GuardSendSyncTests;

/// A guard of a value that is not `Sync` cannot be shared between threads:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<unisync::MutexGuard<'static, std::cell::Cell<u8>>>();
/// ```
///
/// A mutex of a value that is not `Send` is neither `Send` nor `Sync`:
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<unisync::Mutex<std::rc::Rc<u8>>>();
/// ```
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<unisync::futures::Lock<'static, std::rc::Rc<u8>>>();
/// ```
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<unisync::OwnedMutexGuard<std::rc::Rc<u8>>>();
/// ```
/// A lock of a value that is `Send` but not `Sync` is not `Sync` (readers would share it):
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<unisync::RwLock<std::cell::Cell<u8>>>();
/// ```
///
/// A read guard of a value that is not `Sync` cannot be sent:
///
/// ```compile_fail
/// fn send<T: Send>() {}
/// send::<unisync::RwLockReadGuard<'static, std::cell::Cell<u8>>>();
/// ```
#[cfg(doctest)]
pub struct RwLockCompileFailTests;

#[cfg(doctest)]
pub struct CompileFailTests;

/// The code blocks of `README.md`, compiled and run as doctests (several use the blocking
/// forms, which need `std`).
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

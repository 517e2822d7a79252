//! Async synchronization primitives that work on any executor, and from plain threads.
//!
//! `unisync` gives async services the primitives they reach for:
//!
//! | type          | use it to                                                          |
//! |---------------|--------------------------------------------------------------------|
//! | [`Mutex`]     | guard shared state, with a guard that may live across `.await`    |
//! | [`RwLock`]    | share state among many readers or one writer (phase-fair)          |
//! | [`Semaphore`] | cap concurrent work: connections, jobs, `acquire_many` for weights |
//! | [`Event`]     | signal many waiters at once and keep the signal set (shutdown)     |
//! | [`Condvar`]   | wait for a condition on state guarded by a [`Mutex`]               |
//! | [`Barrier`]   | line a fixed number of parties up, with a leader per generation    |
//!
//! They run on tokio, async-std, smol or any other executor (nothing here depends on a
//! runtime), and every waiting method has a `_blocking` twin for plain threads, with a
//! `_blocking_timeout` variant. Tasks and threads can wait on the same primitive at the same
//! time.
//!
//! # Design
//!
//! Every primitive is an atomic state word plus waiters queued on an
//! [`event_listener::Event`]. Each wait is written once, as a state machine that a task drives
//! with its `Waker` and a thread drives by parking; the blocking methods are not a second
//! implementation. Uncontended paths are one atomic operation and never allocate.
//!
//! # Timeouts and cancellation
//!
//! Async waits have no timeout parameter: compose them with your runtime's timer
//! (`tokio::time::timeout`, `async_std::future::timeout`, `smol::Timer`). That is safe because
//! every future here is cancel-safe: dropping it at any point leaves the primitive as if the
//! call had never been made, and a wake-up it had received is passed to the next waiter. Each
//! async method says so under `# Cancel safety`.
//!
//! # What we are not
//!
//! - A `_blocking` method called from inside an async task parks the executor's worker thread;
//!   if the task that would release the primitive needs that worker, the program deadlocks.
//!   Use the async method inside tasks.
//! - Nothing is poisoned. A guard dropped while panicking releases its lock as usual; the next
//!   holder sees the data as the panicking code left it.
//! - If a lock is never held across an `.await`, `std::sync::Mutex` or `parking_lot` is cheaper.
//!
//! # Feature flags
//!
//! - `std` (default): the `_blocking` methods and `std::error::Error` impls. Without it the
//!   crate needs only `alloc`.
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
#![deny(missing_docs, unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

extern crate alloc;

mod barrier;
mod condvar;
mod event;
mod mutex;
mod raw;
mod rwlock;
mod semaphore;
mod sync;

pub use barrier::{Barrier, BarrierError, BarrierTimeoutError, BarrierWaitResult};
pub use condvar::{Condvar, CondvarGuard, WaitTimeoutResult};
pub use event::Event;
pub use mutex::{MappedMutexGuard, Mutex, MutexGuard, OwnedMutexGuard};
pub use rwlock::{
    OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
};
pub use semaphore::{
    AcquireError, AcquireTimeoutError, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TryAcquireError,
};

/// The named futures returned by the async methods, one per method.
///
/// Each is a plain struct that can be stored, moved and dropped at any point (every wait is
/// cancel-safe). The common ones are small: [`Lock`](futures::Lock),
/// [`Acquire`](futures::Acquire), [`Read`](futures::Read),
/// [`UpgradableRead`](futures::UpgradableRead) and [`EventWait`](futures::EventWait) are three
/// machine words (24 bytes on 64-bit targets), none of them a `bool`, so moving a future before
/// its first poll, as `FutureExt::now_or_never` or a `select!` does, is a cheap copy. A wait
/// that has to park allocates its listener on the heap; the future itself never grows.
///
/// # Examples
///
/// ```
/// use unisync::{futures::Lock, Mutex};
///
/// fn lock_it(m: &Mutex<u8>) -> Lock<'_, u8> {
///     m.lock()
/// }
/// # futures::executor::block_on(async { assert_eq!(*lock_it(&Mutex::new(1)).await, 1) });
/// ```
pub mod futures {
    pub use crate::barrier::BarrierWait;
    pub use crate::condvar::{CondvarWait, WaitWhile};
    pub use crate::event::EventWait;
    pub use crate::mutex::{Lock, LockOwned};
    pub use crate::rwlock::{
        Read, ReadOwned, UpgradableRead, UpgradableReadOwned, Upgrade, UpgradeOwned, Write,
        WriteOwned,
    };
    pub use crate::semaphore::{Acquire, AcquireOwned};
}

/// Compile-time checks that every public type is `Send`/`Sync` exactly when it should be.
#[allow(dead_code)]
mod assert_traits {
    use super::futures::*;
    use super::*;

    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn send_sync<T: Send + Sync>() {}

    fn check() {
        send_sync::<Mutex<u8>>();
        send_sync::<MutexGuard<'_, u8>>();
        send_sync::<OwnedMutexGuard<u8>>();
        send_sync::<MappedMutexGuard<'_, u8>>();
        send_sync::<Lock<'_, u8>>();
        send_sync::<LockOwned<u8>>();
        // A mutex makes a `Send`-only value shareable.
        send_sync::<Mutex<core::cell::Cell<u8>>>();
        send::<MutexGuard<'_, core::cell::Cell<u8>>>();
        send::<Lock<'_, core::cell::Cell<u8>>>();
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
        // A read guard only shares `&T`: `Sync` is enough to send it.
        #[cfg(feature = "std")]
        send_sync::<RwLockReadGuard<'_, std::sync::MutexGuard<'static, u8>>>();
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
        send_sync::<Barrier>();
        send_sync::<BarrierWait<'_>>();
        send_sync::<BarrierWaitResult>();
        send_sync::<BarrierError>();
        send_sync::<BarrierTimeoutError>();
    }
}

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

/// The code blocks of `README.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

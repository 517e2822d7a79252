//! The waiting core and the state machines of each primitive, without any user data.
//!
//! Layers only point down: the typed primitives use this module, this module uses
//! [`crate::sync`]. Nothing above touches atomics or the waiter queue directly.

pub(crate) mod barrier;
pub(crate) mod condvar;
pub(crate) mod drain;
pub(crate) mod flag;
pub(crate) mod mutex;
pub(crate) mod queue;
#[cfg(feature = "std")]
pub(crate) mod reentrant;
pub(crate) mod rwlock;
pub(crate) mod semaphore;
pub(crate) mod wait;

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom_queue;

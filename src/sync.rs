//! The loom facade: the only module that names `core::sync::atomic` or `loom`.
//!
//! Under `--cfg loom` every atomic is loom's, so the models in
//! `tests/loom.rs` explore the same code that ships. `event-listener` switches with it through
//! its own `loom` feature (see `Cargo.toml`).

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Declares a `const fn` constructor outside loom and a plain `fn` under it (loom's atomics
/// cannot be built in a `const` context). One macro, so the body is written once.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_fn;

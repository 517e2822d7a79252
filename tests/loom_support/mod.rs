//! The one way every loom model in `tests/` runs: bounded, so that a model run by hand without
//! `LOOM_MAX_PREEMPTIONS` still finishes.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Preemptions explored per model unless `LOOM_MAX_PREEMPTIONS` says otherwise.
pub const PREEMPTIONS: usize = 2;

/// Branches a single execution may take. The queue's lock spins (yielding to loom) while a
/// holder finishes a few pointer updates; with three threads that takes more than loom's
/// default of 1,000 branches in some executions.
pub const MAX_BRANCHES: usize = 100_000;

/// Runs `f` under loom with the preemption bound above (or the environment's).
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    builder.max_branches = builder.max_branches.max(MAX_BRANCHES);
    builder.check(f);
}

/// Polls a future once with a waker that does nothing.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

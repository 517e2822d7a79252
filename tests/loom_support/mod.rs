//! The one way every loom model in `tests/` runs: bounded, so that a model run by hand without
//! `LOOM_MAX_PREEMPTIONS` still finishes.
//!
//! Poll helpers (`poll_once`, `poll_with`) come from `tests/common`, which a model includes with
//! `mod common;` like every other test file.
//!
//! # A blind spot of loom's
//!
//! Loom remembers one last access per atomic. When thread A only loads a word and thread B
//! loads it and then changes it (a compare-and-swap loop), B's own load hides A's from B's
//! change, so loom never runs B's change before A's load: in a two-thread model of just that,
//! it explores one execution (the case of tokio-rs/loom#392). Waits, locks and
//! parking add branch points that usually cover it, but a model whose point is what a plain
//! look (`is_triggered`, `is_set`) sees while another thread changes the word must make loom
//! try the other order itself: its main thread yields once after spawning the changer
//! (see `a_child_reads_as_triggered_once_its_root_does` in `loom_shutdown.rs`).
//!
//! The yield has a blind spot of its own: after a thread yields, loom never lets its loads
//! return a store it had seen before the yield (loom 0.7's `is_seen_before_yield`). So a
//! thread that yields can no longer read a stale value of a word it has looked at. A model
//! whose point is such a stale read (a count seen through a child but not through its root,
//! say) looks from a spawned thread that does not yield (see
//! `a_task_seen_under_a_child_holds_up_the_roots_drain` in `loom_shutdown.rs`).
#![allow(dead_code)]

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

//! Helpers shared by the integration tests: a waker that counts its wake-ups and poll helpers.
#![allow(dead_code, unused_macros)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts how many times it was woken.
#[derive(Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and the `Waker` built from it.
pub struct Counter {
    inner: Arc<CountingWaker>,
    waker: Waker,
}

impl Counter {
    pub fn new() -> Self {
        let inner = Arc::new(CountingWaker::default());
        let waker = Waker::from(inner.clone());
        Counter { inner, waker }
    }

    /// How many times the waker has been woken so far.
    pub fn count(&self) -> usize {
        self.inner.wakes.load(Ordering::SeqCst)
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Polls `fut` once with this waker.
    pub fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(&self.waker);
        Pin::new(fut).poll(&mut cx)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    Pin::new(fut).poll(&mut cx)
}

/// Asserts that polling the future once (with the given `Counter`, or a no-op waker) is
/// `Pending`.
macro_rules! assert_pending {
    ($counter:expr, $fut:expr) => {{
        match $counter.poll(&mut $fut) {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(_) => panic!("expected Pending, got Ready"),
        }
    }};
    ($fut:expr) => {{
        match $crate::common::poll_once(&mut $fut) {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(_) => panic!("expected Pending, got Ready"),
        }
    }};
}

/// Asserts that polling the future once is `Ready` and yields the output.
macro_rules! assert_ready {
    ($counter:expr, $fut:expr) => {{
        match $counter.poll(&mut $fut) {
            ::std::task::Poll::Ready(out) => out,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending"),
        }
    }};
    ($fut:expr) => {{
        match $crate::common::poll_once(&mut $fut) {
            ::std::task::Poll::Ready(out) => out,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending"),
        }
    }};
}

#[allow(unused_imports)]
pub(crate) use {assert_pending, assert_ready};

/// Checks the basic wait protocol: `fut` is `Pending` while the primitive is contended, is woken
/// when `release` runs, and is `Ready` on the next poll. Returns the output.
pub fn pending_until_released<F, R>(mut fut: F, release: R) -> F::Output
where
    F: Future + Unpin,
    R: FnOnce(),
{
    let counter = Counter::new();
    assert!(
        counter.poll(&mut fut).is_pending(),
        "Pending while contended"
    );
    // A second poll without a release must still be pending and not lose registration.
    assert!(counter.poll(&mut fut).is_pending(), "still Pending");
    let before = counter.count();
    release();
    assert!(counter.count() > before, "the release woke the waiter");
    match counter.poll(&mut fut) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("woken waiter was not Ready"),
    }
}

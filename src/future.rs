//! One shell for every wait future: the waiter's node, what it waits on, and its own state.
//!
//! Each public future (`Lock`, `Acquire`, `Read`, ...) is a thin wrapper around a [`Shell`],
//! whose [`WaitKind`] says how to poll, what to make of a completed wait, and how to withdraw
//! an unfinished one. The borrowed and `Arc` forms of a future share their kind and differ
//! only in the source they hold. The wrappers' `Future`, `FusedFuture`, `Debug` and blocking
//! entry point come from one macro, [`wait_future!`].

use core::pin::Pin;
use core::task::{ready, Poll};

use pin_project_lite::pin_project;

use crate::raw::queue::Node;
use crate::raw::wait::Strategy;

/// The panic of every future polled again after it completed (see `crate::futures`).
pub(crate) const POLLED_AFTER_COMPLETION: &str = "a unisync future was polled after it completed";

/// What a future waits for, apart from its node and its source.
pub(crate) trait WaitKind {
    /// What the future holds on to: a reference to the primitive, or an `Arc` of it.
    type Source;
    /// What a completed wait hands to [`finish`](Self::finish).
    type Ready;
    /// What the future yields.
    type Output;

    /// Advances the wait.
    fn poll<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        source: &Self::Source,
        strategy: &mut S,
    ) -> Poll<Self::Ready>;

    /// Makes the output of a completed wait; the source is given up to it.
    fn finish(&mut self, ready: Self::Ready, source: Self::Source) -> Self::Output;

    /// Withdraws an unfinished wait (the future is dropped, or a blocking wait timed out).
    fn cancel(&mut self, node: Pin<&Node>, source: &Self::Source);
}

pin_project! {
    /// A wait future: the node it queues with, its kind and its source (`None` once it has
    /// completed).
    ///
    /// # Layout
    ///
    /// Futures are often moved right after they are built (`now_or_never`, `Box::pin`,
    /// `select!` arms), and a move copies them in 16-byte loads. A load that covers a smaller
    /// store made moments before cannot be served from the store buffer and waits for the
    /// store to reach the cache, which costs more than the whole uncontended wait (a moved
    /// lock took 15 ns instead of 6). So the words written when a future is built are laid
    /// out for the copy: the kind's one word and the node's state (first in the node), both
    /// zero, fill the first 16 bytes and are written with one store; the source pointer comes
    /// last, after a pad word, so the 72-byte future ends in an 8-byte slot of its own, copied
    /// with an 8-byte load; nothing else is written until the node is linked. Every kind is
    /// one word, zero when new. (With the `diagnostics` feature, the kinds of lock, read and
    /// write waits also carry their call site and registry entry, and this layout is given
    /// up: that feature trades speed for information.)
    #[repr(C)]
    pub(crate) struct Shell<W: WaitKind> {
        kind: W,
        #[pin]
        node: Node,
        _pad: core::mem::MaybeUninit<usize>,
        source: Option<W::Source>,
    }

    impl<W: WaitKind> PinnedDrop for Shell<W> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(source) = this.source.as_ref() {
                this.kind.cancel(this.node.as_ref(), source);
            }
        }
    }
}

impl<W: WaitKind> Shell<W> {
    #[inline]
    pub(crate) fn new(source: W::Source, kind: W) -> Self {
        Shell {
            node: Node::new(),
            _pad: core::mem::MaybeUninit::uninit(),
            source: Some(source),
            kind,
        }
    }

    /// Advances the wait with `strategy`.
    ///
    /// # Panics
    ///
    /// Panics if the wait already completed.
    #[inline(always)]
    pub(crate) fn poll_with<S: Strategy>(
        self: Pin<&mut Self>,
        strategy: &mut S,
    ) -> Poll<W::Output> {
        let this = self.project();
        let source = this.source.as_ref().expect(POLLED_AFTER_COMPLETION);
        let ready = ready!(this.kind.poll(this.node.as_ref(), source, strategy));
        let source = this.source.take();
        // SAFETY: `source` was `Some` above, and `kind.poll` was lent only a shared reference
        // to what it holds, so nothing has taken it since. A second check would also follow
        // the out-of-line slow path, so the inlined fast path would read back the word it has
        // just stored.
        let source = unsafe { source.unwrap_unchecked() };
        Poll::Ready(this.kind.finish(ready, source))
    }

    /// Whether the wait has completed.
    #[inline]
    pub(crate) fn is_terminated(&self) -> bool {
        self.source.is_none()
    }

    /// The kind, for waits whose blocking timeout keeps part of what they hold.
    #[cfg(feature = "std")]
    pub(crate) fn parts(self: Pin<&mut Self>) -> (Pin<&Node>, &mut Option<W::Source>, &mut W) {
        let this = self.project();
        (this.node.into_ref(), this.source, this.kind)
    }
}

/// Implements `Future`, `FusedFuture`, `Debug` and the blocking entry point for a public
/// wrapper `$name { shell: Shell<..> }` around a [`Shell`].
///
/// `wait_future!(Name ['a, T: ?Sized] ['a, T] -> Output);`: the generics as declared, then as
/// used.
macro_rules! wait_future {
    ($name:ident [$($decl:tt)*] [$($used:tt)*] -> $out:ty) => {
        impl<$($decl)*> core::future::Future for $name<$($used)*> {
            type Output = $out;

            // Always inlined: the fast path is a few instructions, and an out-of-line poll
            // returns its output through memory, which a caller then reloads with wider
            // loads than the stores that wrote it (a store-forwarding stall that tripled the
            // cost of a moved uncontended acquire).
            #[inline(always)]
            fn poll(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
            ) -> core::task::Poll<$out> {
                self.project().shell.poll_with(&mut crate::raw::wait::Async(cx.waker()))
            }
        }

        impl<$($decl)*> crate::raw::wait::Drive for $name<$($used)*> {
            type Output = $out;

            #[inline]
            fn drive<S: crate::raw::wait::Strategy>(
                self: core::pin::Pin<&mut Self>,
                strategy: &mut S,
            ) -> core::task::Poll<$out> {
                self.project().shell.poll_with(strategy)
            }
        }

        impl<$($decl)*> futures_core::future::FusedFuture for $name<$($used)*> {
            #[inline]
            fn is_terminated(&self) -> bool {
                self.shell.is_terminated()
            }
        }

        impl<$($decl)*> core::fmt::Debug for $name<$($used)*> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("terminated", &self.shell.is_terminated())
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use wait_future;

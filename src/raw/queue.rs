//! The waiter queue every primitive parks on.
//!
//! # Implementation notes
//!
//! A [`WaitQueue`] is an intrusive, doubly linked list of [`Node`]s behind a small spin lock.
//! A node lives inside the future that waits (pinned there) or on the stack of the thread that
//! blocks, so waiting never allocates. The list itself (the lock and two pointers) is
//! allocated the first time somebody has to wait, so a primitive that is never contended
//! carries one null pointer and never touches it.
//!
//! ## Who owns a node's fields
//!
//! A node's `state` word says who may touch the rest of it:
//!
//! | state    | links, data, unparker belong to                                           |
//! |----------|---------------------------------------------------------------------------|
//! | `IDLE`   | the waiter (its future or its thread)                                      |
//! | `LINKED` | whoever holds the queue's lock                                             |
//! | `WOKEN`  | the waiter again; the bits above say which wake-up it got (a *token*)      |
//!
//! Only a holder of the lock moves a node into or out of `LINKED`. Popping a node unlinks it
//! and takes its unparker out at once, but the node learns that it was woken only when the
//! lock is released: just before the unlock, the popped nodes get `WOKEN` (and their token)
//! with a release store. So a primitive can first pop waiters and then update its state word
//! for them (count the readers it lets in, say) in the same critical section, and no woken
//! waiter acts before that update. Publishing `WOKEN` is the last touch: from then on the node
//! may vanish at any time (the future is dropped, the thread returns). The waiter learns that
//! it was woken, and with which token, from one acquire load of its own node, without the
//! lock.
//!
//! ## Nothing runs under the lock
//!
//! The lock guards pointer updates and the few state-word steps a primitive must make in the
//! same breath as them. No waker is woken, dropped or cloned and no thread is unparked while
//! it is held: popped unparkers go into a fixed [`BATCH`] on the stack and are woken when the
//! [`Locked`] guard is dropped, after the unlock; a replaced or withdrawn unparker is dropped
//! then too. A waker that re-enters the primitive (it owns a guard or a permit of it, say)
//! therefore finds the lock free. Waking more than a batch (an event set, a condvar's
//! `notify_all`) releases and retakes the lock between batches, so `n` waiters cost
//! `⌈n / BATCH⌉ + 1` lock acquisitions at most.
//!
//! ## A waker that panics
//!
//! With `std`, a waker's panic is caught where it is woken or dropped, the rest of the batch
//! (and of the release: later batches too) is woken as usual, and the first panic is resumed
//! when the [`Locked`] guard is dropped, after the lock is released and every wake-up has run.
//! So a panicking waker reaches the caller that woke it, and nobody else is left asleep. If
//! that caller is already unwinding (a withdrawal that a drop guard finishes), the panic is
//! not resumed: a second one would abort the process. Without
//! `std` the panic unwinds at once: the rest of its batch is still woken (from the batch's
//! `Drop`), and the lock is taken back first so that it is released once. The primitive's
//! release stops there (later batches, and what it hands out with them, are left), and a
//! second panicking waker in the batch aborts; the crate docs say so under the `std` feature.
//!
//! ## Why a spin lock
//!
//! The critical sections are a handful of pointer writes and at most one compare-and-swap on
//! the primitive's state word, and the queue must work without `std`. Waiters that find the
//! lock taken spin briefly and then yield the thread, so a holder that was preempted gets the
//! core back instead of watching it burn.

use alloc::boxed::Box;
use core::marker::PhantomPinned;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::ptr;
use core::task::Waker;

use crate::sync::{AtomicPtr, AtomicUsize, Ordering, SpinLock, UnsafeCell};

/// How many wake-ups are collected under the lock before it is released to run them (at most
/// 32: a batch's tokens are the bits of one `u32`). Under
/// loom a batch is one, so that the models reach the release-and-retake path with two
/// waiters.
pub(crate) const BATCH: usize = if cfg!(loom) { 1 } else { 32 };

const IDLE: usize = 0;
const LINKED: usize = 1;
const WOKEN: usize = 2;
const TOKEN_SHIFT: u32 = 2;

/// How to wake a parked waiter: a task's waker or a blocked thread.
pub(crate) enum Unpark {
    Task(Waker),
    #[cfg(feature = "std")]
    Thread(crate::sync::thread::Thread),
}

impl Unpark {
    #[inline]
    fn unpark(self) {
        match self {
            Unpark::Task(waker) => waker.wake(),
            #[cfg(feature = "std")]
            Unpark::Thread(thread) => thread.unpark(),
        }
    }

    #[inline]
    fn will_wake(&self, waker: &Waker) -> bool {
        match self {
            Unpark::Task(stored) => stored.will_wake(waker),
            #[cfg(feature = "std")]
            Unpark::Thread(_) => false,
        }
    }
}

/// What a woken node was told: the waker's token, and the node's data as the waker left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wakeup {
    pub(crate) token: usize,
    pub(crate) data: usize,
}

/// One waiter's place in a [`WaitQueue`].
///
/// It must stay where it is while linked, hence `!Unpin`; the wait that owns it must unlink it
/// (through [`Locked::remove`]) before it goes away, which every future's drop does.
///
/// Only `state` is written when a node is made: the other fields are written when it is linked
/// and valid while it is (`data` also after it was woken, for its owner to read), so building
/// a future is one store and a future that never waits never touches them.
///
/// `state` comes first (`repr(C)`), so that a future can put a zero word of its own right
/// before it: see [`Shell`](crate::future::Shell).
#[repr(C)]
pub(crate) struct Node {
    state: AtomicUsize,
    /// One word the primitive keeps with the waiter (what it asks for, when it started).
    data: UnsafeCell<MaybeUninit<usize>>,
    prev: UnsafeCell<MaybeUninit<*const Node>>,
    next: UnsafeCell<MaybeUninit<*const Node>>,
    /// Moved out when the node leaves the queue.
    unpark: UnsafeCell<MaybeUninit<Unpark>>,
    _pinned: PhantomPinned,
}

// SAFETY: the raw links are only followed under the queue's lock, and every other field is
// handed between threads by the state word's protocol (see the module docs); the unparker is
// `Send + Sync` itself.
unsafe impl Send for Node {}
// SAFETY: as above: shared access goes through the atomic state word or the queue's lock.
unsafe impl Sync for Node {}

// A node is changed only by the queue's protocol, never by user code between two of its
// steps, so a panic cannot leave one half-changed for the code that catches it.
impl core::panic::UnwindSafe for Node {}
impl core::panic::RefUnwindSafe for Node {}

impl Node {
    #[inline]
    pub(crate) fn new() -> Node {
        Node {
            state: AtomicUsize::new(IDLE),
            prev: UnsafeCell::new(MaybeUninit::uninit()),
            next: UnsafeCell::new(MaybeUninit::uninit()),
            data: UnsafeCell::new(MaybeUninit::uninit()),
            unpark: UnsafeCell::new(MaybeUninit::uninit()),
            _pinned: PhantomPinned,
        }
    }

    /// Whether the node is in no queue and holds no wake-up: a fresh wait starts here.
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        self.state.load(Ordering::Relaxed) == IDLE
    }

    /// Whether the node is in a queue and has not been woken yet.
    #[inline]
    pub(crate) fn is_linked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LINKED != 0
    }

    /// Takes a wake-up, if the node has one; the node is idle again afterwards.
    ///
    /// Only the node's owner calls this.
    #[inline]
    pub(crate) fn take_wakeup(&self) -> Option<Wakeup> {
        let s = self.state.load(Ordering::Acquire);
        if s & (LINKED | WOKEN) != WOKEN {
            return None;
        }
        // SAFETY: `WOKEN` hands the node back to its owner (us); the acquire load above
        // synchronizes with the waker's release store, after which it no longer touches it.
        // `data` was written when the node was linked.
        let data = self.data.with(|d| unsafe { (*d).assume_init() });
        self.state.store(IDLE, Ordering::Relaxed);
        Some(Wakeup {
            token: s >> TOKEN_SHIFT,
            data,
        })
    }
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.state.load(Ordering::Relaxed);
        let state = match s & 3 {
            IDLE => "idle",
            LINKED => "linked",
            _ => "woken",
        };
        f.debug_struct("Node").field("state", &state).finish()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        debug_assert!(
            self.state.load(Ordering::Relaxed) != LINKED,
            "a waiter's node was dropped while still in a queue"
        );
    }
}

/// A queue of waiters, allocated on first use.
pub(crate) struct WaitQueue {
    inner: AtomicPtr<Inner>,
}

// No user code runs under the queue's lock, and a waker's panic is caught or unwinds only
// after the lock is released (see "A waker that panics"), so a panic never leaves the list
// half-linked for the code that catches it. Without these, every primitive would be
// `!UnwindSafe` because of the cells here, where `std`'s are not.
impl core::panic::UnwindSafe for WaitQueue {}
impl core::panic::RefUnwindSafe for WaitQueue {}

struct Inner {
    lock: SpinLock,
    head: UnsafeCell<*const Node>,
    tail: UnsafeCell<*const Node>,
}

impl WaitQueue {
    crate::sync::const_fn! {
        pub(crate) const fn new() -> WaitQueue {
            WaitQueue { inner: AtomicPtr::new(ptr::null_mut()) }
        }
    }

    /// Takes the queue's lock, allocating the queue if nobody ever waited on it.
    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_> {
        let inner = self.inner();
        inner.acquire();
        Locked {
            inner,
            wake: WakeList::new(),
            discard: None,
            #[cfg(all(feature = "std", not(loom)))]
            panic: None,
        }
    }

    #[inline]
    fn inner(&self) -> &Inner {
        let inner = self.inner.load(Ordering::Acquire);
        if inner.is_null() {
            return self.init();
        }
        // SAFETY: a non-null pointer was made by `Box::into_raw` in `init` and published with
        // a release that our acquire load synchronizes with; it is freed only by `drop`, which
        // cannot run while `&self` is alive.
        unsafe { &*inner }
    }

    #[cold]
    fn init(&self) -> &Inner {
        let fresh = Box::into_raw(Box::new(Inner {
            lock: SpinLock::new(),
            head: UnsafeCell::new(ptr::null()),
            tail: UnsafeCell::new(ptr::null()),
        }));
        match self.inner.compare_exchange(
            ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `fresh` is now the published queue; see `inner`.
            Ok(_) => unsafe { &*fresh },
            Err(published) => {
                // SAFETY: `fresh` lost the race and was never shared, so we still own it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `published` is the queue another thread published; see `inner`.
                unsafe { &*published }
            }
        }
    }
}

/// Whether `stamp`, read from a counter that wraps within `mask`, came before `now`: at most
/// half the counter's range before it. A release that wakes the waiters stamped before it
/// stops at newer ones even if a later release already ran.
#[inline]
pub(crate) fn stamped_before(stamp: usize, now: usize, mask: usize) -> bool {
    let age = now.wrapping_sub(stamp) & mask;
    age != 0 && age <= mask / 2
}

/// A place in a queue, taken by [`Locked::back_mark`]: an address to compare, not to follow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Mark(*const Node);

impl Drop for WaitQueue {
    fn drop(&mut self) {
        let inner = self.inner.load(Ordering::Acquire);
        if !inner.is_null() {
            // SAFETY: `&mut self` means no reference into the queue is alive (a linked node
            // borrows its primitive; one whose future was leaked is never followed again, and
            // dropping the queue does not walk its nodes), and the pointer came from
            // `Box::into_raw` in `init`.
            drop(unsafe { Box::from_raw(inner) });
        }
    }
}

impl Inner {
    #[inline]
    fn acquire(&self) {
        self.lock.acquire();
        #[cfg(all(test, not(loom)))]
        stats::locked();
    }

    #[inline]
    fn release(&self) {
        #[cfg(all(test, not(loom)))]
        stats::unlocked();
        self.lock.release();
    }
}

/// The queue's lock, held; wakes what was popped after releasing it.
pub(crate) struct Locked<'q> {
    inner: &'q Inner,
    wake: WakeList,
    /// An unparker taken out of a node (withdrawn or replaced), dropped after the unlock.
    discard: Option<Unpark>,
    /// The first panic of a waker woken so far, resumed once everything is woken.
    #[cfg(all(feature = "std", not(loom)))]
    panic: Option<Panic>,
}

#[cfg(all(feature = "std", not(loom)))]
type Panic = std::boxed::Box<dyn core::any::Any + Send + 'static>;

impl Locked<'_> {
    /// Whether no node is linked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head().is_null()
    }

    /// Clears `bit` of a primitive's `state` if no node is linked: the exact "someone is
    /// queued" mark every primitive keeps, changed only under this lock.
    #[inline]
    pub(crate) fn clear_when_empty(&self, state: &AtomicUsize, bit: usize) {
        if self.is_empty() {
            state.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    #[inline]
    fn head(&self) -> *const Node {
        // SAFETY: we hold the lock, which guards `head`.
        self.inner.head.with(|h| unsafe { *h })
    }

    /// Links `node` at the back of the queue (or at the front, to keep a place it had), with
    /// the primitive's `data` and the unparker that will wake it.
    ///
    /// The node must be idle; it stays pinned where it is until it is woken or removed.
    #[inline]
    pub(crate) fn push(&mut self, node: Pin<&Node>, unpark: Unpark, data: usize, front: bool) {
        let node: &Node = node.get_ref();
        debug_assert_eq!(node.state.load(Ordering::Relaxed), IDLE);
        let me: *const Node = node;
        // SAFETY: the node is idle, so its fields are ours to set (its owner handed it to us
        // by calling this); the list's pointers and the neighbours' links are guarded by the
        // lock we hold, and every linked node is alive (it is unlinked before it goes away).
        unsafe {
            node.data.with_mut(|d| (*d).write(data));
            node.unpark.with_mut(|u| (*u).write(unpark));
            let (head, tail) = (self.head(), self.inner.tail.with(|t| *t));
            if front {
                node.prev.with_mut(|p| (*p).write(ptr::null()));
                node.next.with_mut(|n| (*n).write(head));
                if head.is_null() {
                    self.inner.tail.with_mut(|t| *t = me);
                } else {
                    (*head).prev.with_mut(|p| (*p).write(me));
                }
                self.inner.head.with_mut(|h| *h = me);
            } else {
                node.prev.with_mut(|p| (*p).write(tail));
                node.next.with_mut(|n| (*n).write(ptr::null()));
                if tail.is_null() {
                    self.inner.head.with_mut(|h| *h = me);
                } else {
                    (*tail).next.with_mut(|n| (*n).write(me));
                }
                self.inner.tail.with_mut(|t| *t = me);
            }
        }
        node.state.store(LINKED, Ordering::Relaxed);
    }

    /// Marks where the last node is now, so that a later look can tell whether that node is
    /// first ([`front_is`](Self::front_is)). The mark is only compared, never followed: by
    /// then the node may have left the queue, and its memory may hold a node queued since.
    pub(crate) fn back_mark(&self) -> Mark {
        // SAFETY: we hold the lock, which guards `tail`.
        Mark(self.inner.tail.with(|t| unsafe { *t }))
    }

    /// Whether the first node is where `mark` was taken (see [`back_mark`](Self::back_mark)).
    pub(crate) fn front_is(&self, mark: Mark) -> bool {
        !mark.0.is_null() && self.head() == mark.0
    }

    /// Whether `node` is the first in the queue (its address compared, never followed).
    pub(crate) fn is_front(&self, node: &Node) -> bool {
        core::ptr::eq(self.head(), node)
    }

    /// The data of the first node, if any.
    #[inline]
    pub(crate) fn front(&self) -> Option<usize> {
        let head = self.head();
        if head.is_null() {
            return None;
        }
        // SAFETY: a linked node is alive and its data is guarded by the lock we hold.
        Some(unsafe { (*head).data.with(|d| (*d).assume_init()) })
    }

    /// Replaces the data of the first node (which must exist).
    #[inline]
    pub(crate) fn set_front(&mut self, data: usize) {
        let head = self.head();
        assert!(!head.is_null(), "set_front on an empty queue");
        // SAFETY: as in `front`.
        unsafe { (*head).data.with_mut(|d| (*d).write(data)) };
    }

    /// Moves the first node (which must exist) to the back of the queue with new `data`,
    /// still linked and not woken.
    pub(crate) fn requeue_front(&mut self, data: usize) {
        let head = self.head();
        assert!(!head.is_null(), "requeue_front on an empty queue");
        // SAFETY: `head` is linked, so it is alive and its links are ours under the lock; the
        // tail it is linked behind is linked and alive too.
        unsafe {
            let node = &*head;
            self.unlink(node);
            node.data.with_mut(|d| (*d).write(data));
            let tail = self.inner.tail.with(|t| *t);
            node.prev.with_mut(|p| (*p).write(tail));
            node.next.with_mut(|n| (*n).write(ptr::null()));
            if tail.is_null() {
                self.inner.head.with_mut(|h| *h = head);
            } else {
                (*tail).next.with_mut(|n| (*n).write(head));
            }
            self.inner.tail.with_mut(|t| *t = head);
        }
    }

    /// Whether the wake-up batch is full: [`make_room`](Self::make_room) before popping more.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.wake.len == BATCH
    }

    /// Wakes the batch collected so far if it is full, releasing the lock meanwhile. The
    /// queue may have changed when this returns.
    #[inline]
    pub(crate) fn make_room(&mut self) {
        if self.is_full() {
            self.flush();
        }
    }

    #[cold]
    fn flush(&mut self) {
        self.wake.publish();
        let discard = self.discard.take();
        self.inner.release();
        #[cfg(all(feature = "std", not(loom)))]
        {
            self.wake.wake_all(&mut self.panic, false);
            // Caught too: a panic here must not skip retaking the lock, which `Locked`
            // releases once more when it is dropped.
            drop_caught(discard, &mut self.panic);
            self.inner.acquire();
        }
        #[cfg(not(all(feature = "std", not(loom))))]
        {
            /// Takes the lock back even if a waker panics, so that `Locked` releases it once.
            struct Retake<'a>(&'a Inner);
            impl Drop for Retake<'_> {
                fn drop(&mut self) {
                    self.0.acquire();
                }
            }
            let _retake = Retake(self.inner);
            // Declared after the guard, so dropped before it, unlocked, on unwinding too.
            let discard = discard;
            self.wake.wake_all();
            drop(discard);
        }
    }

    /// Pops the nodes at the front while `pop` says so of their data, handing each `token`
    /// (see [`pop_front`](Self::pop_front)). Past a batch the lock is released and taken again
    /// (see [`make_room`](Self::make_room)), and `pop` is asked about whatever is in front then.
    #[inline]
    pub(crate) fn pop_front_while(&mut self, token: usize, mut pop: impl FnMut(usize) -> bool) {
        loop {
            self.make_room();
            match self.front() {
                Some(data) if pop(data) => self.pop_front(token),
                _ => break,
            }
        }
    }

    /// Unlinks the first node (which must exist) and hands it `token` (0 or 1); the node
    /// learns of it, and is woken, when the lock is released. The batch must have room (see
    /// [`make_room`](Self::make_room)).
    #[inline(always)]
    pub(crate) fn pop_front(&mut self, token: usize) {
        assert!(!self.is_full(), "wake-up batch is full");
        assert!(token <= 1, "a wake-up token is one bit");
        let head = self.head();
        assert!(!head.is_null(), "pop_front on an empty queue");
        // SAFETY: `head` is linked, so it is alive and its fields are ours under the lock.
        let unpark = unsafe {
            let node = &*head;
            self.unlink(node);
            node.unpark.with_mut(|u| (*u).assume_init_read())
        };
        self.wake.push(head, token, unpark);
    }

    /// Removes `node` if it is still linked and returns its data; if it was woken meanwhile,
    /// leaves it alone and returns `Err(())` (its owner then takes the wake-up).
    pub(crate) fn remove(&mut self, node: &Node) -> Result<usize, ()> {
        if node.state.load(Ordering::Relaxed) != LINKED {
            return Err(());
        }
        // SAFETY: the node is linked and we hold the lock, so its fields are ours; the owner
        // calling us keeps it alive.
        let (data, unpark) = unsafe {
            self.unlink(node);
            (
                node.data.with(|d| (*d).assume_init()),
                node.unpark.with_mut(|u| (*u).assume_init_read()),
            )
        };
        debug_assert!(self.discard.is_none());
        self.discard = Some(unpark);
        node.state.store(IDLE, Ordering::Relaxed);
        Ok(data)
    }

    /// The data of `node` if it is still linked; `None` if it was woken meanwhile.
    pub(crate) fn data_if_linked(&self, node: &Node) -> Option<usize> {
        if node.state.load(Ordering::Relaxed) != LINKED {
            return None;
        }
        // SAFETY: a linked node's data is guarded by the lock we hold.
        Some(unsafe { node.data.with(|d| (*d).assume_init()) })
    }

    /// Whether a still-linked `node` will wake `waker`; `None` if it was woken meanwhile.
    pub(crate) fn wakes(&self, node: &Node, waker: &Waker) -> Option<bool> {
        if node.state.load(Ordering::Relaxed) != LINKED {
            return None;
        }
        // SAFETY: a linked node's unparker is guarded by the lock we hold.
        Some(unsafe {
            node.unpark
                .with(|u| (*u).assume_init_ref().will_wake(waker))
        })
    }

    /// Gives a still-linked `node` a new unparker; the old one is dropped after the unlock.
    /// Returns false (and drops `unpark` after the unlock) if the node was woken meanwhile.
    pub(crate) fn set_unpark(&mut self, node: &Node, unpark: Unpark) -> bool {
        debug_assert!(self.discard.is_none());
        if node.state.load(Ordering::Relaxed) != LINKED {
            self.discard = Some(unpark);
            return false;
        }
        // SAFETY: as in `wakes`; the old unparker is moved out as the new one moves in.
        let old = unsafe {
            node.unpark
                .with_mut(|u| core::mem::replace(&mut *u, MaybeUninit::new(unpark)).assume_init())
        };
        self.discard = Some(old);
        true
    }

    /// Unlinks a linked node.
    ///
    /// # Safety
    ///
    /// `node` must be linked in this queue, and the lock held (it is: `&mut self`).
    unsafe fn unlink(&mut self, node: &Node) {
        // SAFETY: the caller guarantees that `node` is linked here; its neighbours are linked
        // and alive, and the lock guards every link.
        unsafe {
            let prev = node.prev.with(|p| (*p).assume_init());
            let next = node.next.with(|n| (*n).assume_init());
            if prev.is_null() {
                self.inner.head.with_mut(|h| *h = next);
            } else {
                (*prev).next.with_mut(|n| (*n).write(next));
            }
            if next.is_null() {
                self.inner.tail.with_mut(|t| *t = prev);
            } else {
                (*next).prev.with_mut(|p| (*p).write(prev));
            }
        }
    }
}

impl Drop for Locked<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.wake.len == 0 {
            self.inner.release();
        } else {
            self.wake.publish();
            self.inner.release();
            #[cfg(all(feature = "std", not(loom)))]
            {
                // The final wake-up goes uncaught when nothing runs after it: not when an
                // unparker is left to drop, nor while this thread already unwinds (a withdrawal
                // that a drop guard finishes), where a second panic would abort the process.
                let last = self.discard.is_none() && !std::thread::panicking();
                self.wake.wake_all(&mut self.panic, last);
            }
            #[cfg(not(all(feature = "std", not(loom))))]
            self.wake.wake_all();
        }
        #[cfg(all(feature = "std", not(loom)))]
        if self.discard.is_some() || self.panic.is_some() {
            self.finish();
        }
        // Otherwise `discard` is dropped after this body, with the lock released.
    }
}

#[cfg(all(feature = "std", not(loom)))]
impl Locked<'_> {
    /// After the unlock and the wake-ups: drops `discard` and resumes the first panic among
    /// them, unless this thread already unwinds (the panic it unwinds with goes on).
    #[cold]
    fn finish(&mut self) {
        drop_caught(self.discard.take(), &mut self.panic);
        if let Some(panic) = self.panic.take() {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Drops an unparker taken out of a node, keeping the first panic.
#[cfg(all(feature = "std", not(loom)))]
#[inline]
fn drop_caught(unpark: Option<Unpark>, panic: &mut Option<Panic>) {
    if let Some(unpark) = unpark {
        if let Err(caught) =
            std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| drop(unpark)))
        {
            panic.get_or_insert(caught);
        }
    }
}

/// Popped nodes waiting to learn their wake-up, and their unparkers, in a fixed batch on the
/// stack. It is filled, published and woken in place (never moved or copied: a batch is a
/// kilobyte).
struct WakeList {
    len: usize,
    /// Entries below `published` have had their node told (and must not touch it again).
    published: usize,
    /// Entries below `woken` have been woken (their unparkers are gone).
    woken: usize,
    /// Bit `i` is the token of entry `i` (tokens are one bit, and a batch fits in 32).
    tokens: u32,
    nodes: [MaybeUninit<*const Node>; BATCH],
    unparks: [MaybeUninit<Unpark>; BATCH],
}

impl WakeList {
    #[inline]
    fn new() -> Self {
        WakeList {
            len: 0,
            published: 0,
            woken: 0,
            tokens: 0,
            // SAFETY: arrays of `MaybeUninit` need no initialization.
            nodes: unsafe {
                MaybeUninit::<[MaybeUninit<*const Node>; BATCH]>::uninit().assume_init()
            },
            // SAFETY: as above.
            unparks: unsafe { MaybeUninit::<[MaybeUninit<Unpark>; BATCH]>::uninit().assume_init() },
        }
    }

    #[inline]
    fn push(&mut self, node: *const Node, token: usize, unpark: Unpark) {
        self.nodes[self.len] = MaybeUninit::new(node);
        self.tokens |= (token as u32 & 1) << self.len;
        self.unparks[self.len] = MaybeUninit::new(unpark);
        self.len += 1;
    }

    /// Tells every popped node its token. Under the lock, as its last step.
    fn publish(&mut self) {
        while self.published < self.len {
            // SAFETY: entries below `len` are initialized.
            let node = unsafe { self.nodes[self.published].assume_init() };
            let token = (self.tokens >> self.published) as usize & 1;
            self.published += 1;
            // SAFETY: the node was linked when popped, and its owner cannot withdraw or drop
            // it without the lock we still hold, nor learn of the wake-up before this store,
            // so it is alive. After this store we never touch it again.
            unsafe {
                (*node)
                    .state
                    .store(WOKEN | (token << TOKEN_SHIFT), Ordering::Release)
            };
        }
    }

    /// Wakes every entry, in the order they were popped, and empties the list. After the
    /// lock is released.
    ///
    /// With `last`, nothing runs after this batch but the caller's unwinding: the final entry
    /// is then woken without catching a panic from it, if none was caught before it.
    fn wake_all(
        &mut self,
        #[cfg(all(feature = "std", not(loom)))] panic: &mut Option<Panic>,
        #[cfg(all(feature = "std", not(loom)))] last: bool,
    ) {
        #[cfg(all(test, not(loom)))]
        assert!(!stats::held(), "woken while a queue's lock is held");
        debug_assert_eq!(self.published, self.len);
        while self.woken < self.len {
            // SAFETY: entries below `len` are initialized, and raising `woken` first means
            // each is read out once (and not again by `drop` if a waker panics).
            let unpark = unsafe { self.unparks[self.woken].assume_init_read() };
            self.woken += 1;
            // A panic is caught so that the entries after it, and the caller's retaking of
            // the lock, still run; after the final entry of the final batch nothing does.
            #[cfg(all(feature = "std", not(loom)))]
            if last && self.woken == self.len && panic.is_none() {
                unpark.unpark();
            } else if let Err(caught) =
                std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| unpark.unpark()))
            {
                panic.get_or_insert(caught);
            }
            #[cfg(not(all(feature = "std", not(loom))))]
            unpark.unpark();
        }
        self.len = 0;
        self.published = 0;
        self.woken = 0;
        self.tokens = 0;
    }

    /// Only reached with entries left when a waker panicked: the rest are still woken, not
    /// silently dropped (their nodes were told before the panic could happen).
    #[cold]
    fn wake_rest(&mut self) {
        while self.woken < self.len {
            // SAFETY: as in `wake_all`: each initialized entry is read out once.
            let unpark = unsafe { self.unparks[self.woken].assume_init_read() };
            self.woken += 1;
            unpark.unpark();
        }
    }
}

impl Drop for WakeList {
    #[inline]
    fn drop(&mut self) {
        if self.woken < self.len {
            self.wake_rest();
        }
    }
}

/// Counts of lock acquisitions and retries on the current thread, for the crate's own tests.
#[cfg(all(test, not(loom)))]
pub(crate) mod stats {
    use std::cell::Cell;

    std::thread_local! {
        static LOCKS: Cell<usize> = const { Cell::new(0) };
        static HELD: Cell<usize> = const { Cell::new(0) };
        static RETRIES: Cell<usize> = const { Cell::new(0) };
        static CLOCK_READS: Cell<usize> = const { Cell::new(0) };
        static TASK_SPINS: Cell<usize> = const { Cell::new(0) };
        static TIMED_TASK_SPINS: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn locked() {
        LOCKS.with(|c| c.set(c.get() + 1));
        HELD.with(|c| c.set(c.get() + 1));
    }

    pub(super) fn unlocked() {
        HELD.with(|c| c.set(c.get() - 1));
    }

    /// How many times this thread has taken a queue's lock.
    pub(crate) fn locks() -> usize {
        LOCKS.with(Cell::get)
    }

    /// Whether this thread holds a queue's lock right now.
    pub(crate) fn held() -> bool {
        HELD.with(Cell::get) > 0
    }

    /// Counts one retry of a blocking wait before it parks.
    pub(crate) fn retried() {
        RETRIES.with(|c| c.set(c.get() + 1));
    }

    /// How many times blocking waits on this thread have retried before parking.
    #[cfg(feature = "std")]
    pub(crate) fn retries() -> usize {
        RETRIES.with(Cell::get)
    }

    /// Counts one spin of a task before it queues; `timed`: one bounded by time.
    pub(crate) fn task_spun(timed: bool) {
        TASK_SPINS.with(|c| c.set(c.get() + 1));
        if timed {
            TIMED_TASK_SPINS.with(|c| c.set(c.get() + 1));
        }
    }

    /// How many times tasks on this thread have spun before queueing.
    #[cfg(feature = "std")]
    pub(crate) fn task_spins() -> usize {
        TASK_SPINS.with(Cell::get)
    }

    /// How many of [`task_spins`] were bounded by time (a mutex's spin with credit left).
    #[cfg(feature = "std")]
    pub(crate) fn timed_task_spins() -> usize {
        TIMED_TASK_SPINS.with(Cell::get)
    }

    /// Counts one reading of the clock that fixes a blocking wait's deadline.
    #[cfg(feature = "std")]
    pub(crate) fn read_clock() {
        CLOCK_READS.with(|c| c.set(c.get() + 1));
    }

    /// How many deadlines blocking waits on this thread have fixed from the clock.
    #[cfg(feature = "std")]
    pub(crate) fn clock_reads() -> usize {
        CLOCK_READS.with(Cell::get)
    }
}

//! Two wait queues and a spare word behind one pointer, allocated when a primitive is first
//! contended.
//!
//! A primitive that needs a second queue (the semaphore's head waiter) would otherwise carry a
//! second `Event` pointer for its whole life; the semaphore's head also keeps the permits it
//! has collected in the spare word rather than in its future. The pair is allocated by the
//! first waiter (or the first release that finds a waiter), the same way `Event` allocates its
//! own list, so the uncontended paths, which never look at the queues, stay a single atomic
//! operation and never allocate.

use alloc::boxed::Box;
use core::ptr;

use event_listener::Event;

use crate::sync::{const_fn, AtomicPtr, AtomicUsize, Ordering};

/// Two events and a word, allocated on first use and freed with their owner.
pub(crate) struct EventPair {
    ptr: AtomicPtr<Shared>,
}

struct Shared {
    events: [Event; 2],
    word: AtomicUsize,
}

impl EventPair {
    const_fn! {
        pub(crate) const fn new() -> EventPair {
            EventPair { ptr: AtomicPtr::new(ptr::null_mut()) }
        }
    }

    /// The first event of the pair.
    #[inline]
    pub(crate) fn first(&self) -> &Event {
        &self.get().events[0]
    }

    /// The second event of the pair.
    #[inline]
    pub(crate) fn second(&self) -> &Event {
        &self.get().events[1]
    }

    /// The spare word, zero at first; its owner decides what it means.
    #[inline]
    pub(crate) fn word(&self) -> &AtomicUsize {
        &self.get().word
    }

    #[inline]
    fn get(&self) -> &Shared {
        let pair = self.ptr.load(Ordering::Acquire);
        if pair.is_null() {
            return self.init();
        }
        // SAFETY: a non-null pointer was made by `Box::into_raw` in `init` and published with
        // a release that our acquire load synchronizes with; it is freed only by `drop`, which
        // cannot run while `&self` is alive.
        unsafe { &*pair }
    }

    #[cold]
    fn init(&self) -> &Shared {
        let fresh = Box::into_raw(Box::new(Shared {
            events: [Event::new(), Event::new()],
            word: AtomicUsize::new(0),
        }));
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` is now the published pair; see `get`.
            Ok(_) => unsafe { &*fresh },
            Err(published) => {
                // SAFETY: `fresh` lost the race and was never shared, so we still own it.
                drop(unsafe { Box::from_raw(fresh) });
                // SAFETY: `published` is the pair another thread published; see `get`.
                unsafe { &*published }
            }
        }
    }
}

impl Drop for EventPair {
    fn drop(&mut self) {
        let pair = self.ptr.load(Ordering::Acquire);
        if !pair.is_null() {
            // SAFETY: `&mut self` means no reference into the pair is alive, and the pointer
            // came from `Box::into_raw` in `init`; it is freed once, here.
            drop(unsafe { Box::from_raw(pair) });
        }
    }
}

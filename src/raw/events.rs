//! Two wait queues behind one pointer, allocated when a primitive is first contended.
//!
//! A primitive that needs a second queue (the semaphore's head waiter) would otherwise carry a
//! second `Event` pointer for its whole life. The pair is allocated by the first waiter (or the
//! first release that finds a waiter), the same way `Event` allocates its own list, so the
//! uncontended paths, which never look at the queues, stay a single atomic operation and
//! never allocate.

use alloc::boxed::Box;
use core::ptr;

use event_listener::Event;

use crate::sync::{const_fn, AtomicPtr, Ordering};

/// Two events, allocated on first use and freed with their owner.
pub(crate) struct EventPair {
    ptr: AtomicPtr<[Event; 2]>,
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
        &self.get()[0]
    }

    /// The second event of the pair.
    #[inline]
    pub(crate) fn second(&self) -> &Event {
        &self.get()[1]
    }

    #[inline]
    fn get(&self) -> &[Event; 2] {
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
    fn init(&self) -> &[Event; 2] {
        let fresh = Box::into_raw(Box::new([Event::new(), Event::new()]));
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

//! The lock state machine under [`ReentrantMutex`](crate::ReentrantMutex): a raw mutex, the
//! thread that holds it, and how many times that thread has locked it.
//!
//! # Implementation notes
//!
//! | field   | holds                                       | written by                         |
//! |---------|---------------------------------------------|------------------------------------|
//! | `mutex` | the lock itself, and its waiters            | [`RawMutex`]'s own protocol        |
//! | `owner` | the holder's [thread id](crate::sync::thread::current_id), 0 when free | the holder only |
//! | `count` | how many guards the holder has              | the holder only                    |
//!
//! A thread that takes `mutex` stores its id in `owner` and sets `count` to 1; locking again
//! only adds to `count`; the drop that brings `count` to 0 clears `owner` and then unlocks
//! `mutex`. Waiting is `mutex`'s: a thread that does not hold the lock waits for `mutex` like
//! any other locker, in the same queue, with the same fairness.
//!
//! ## Why a relaxed load of `owner` is enough
//!
//! A thread asks one question of `owner`: is it me? Only this thread ever stores its own id
//! (ids are never reused), and it clears it again before it unlocks. A thread always reads its
//! own latest store of a location or a later one, and every later store is someone else's id
//! or 0. So the load sees this thread's id exactly when this thread holds the lock; any other
//! value, however stale, correctly says "not me", and the thread goes on to wait for `mutex`.
//! No data is published through `owner`.
//!
//! ## Why `count` needs no atomics
//!
//! Only the holder touches `count`. The hand-over from one holder to the next goes through
//! `mutex`: the last write of the old holder comes before its unlock (a release), and the new
//! holder's first access comes after it took the lock (an acquire).

use crate::raw::mutex::RawMutex;
use crate::sync::thread::current_id;
use crate::sync::{const_fn, AtomicUsize, Ordering, UnsafeCell};

/// A mutex the thread that holds it may lock again.
pub(crate) struct RawReentrantMutex {
    mutex: RawMutex,
    owner: AtomicUsize,
    count: UnsafeCell<usize>,
}

// SAFETY: `count` is touched only by the thread that holds `mutex` (see the module docs);
// everything else is atomic or `RawMutex`'s own.
unsafe impl Sync for RawReentrantMutex {}

impl RawReentrantMutex {
    const_fn! {
        pub(crate) const fn new() -> RawReentrantMutex {
            RawReentrantMutex {
                mutex: RawMutex::new(),
                owner: AtomicUsize::new(0),
                count: UnsafeCell::new(0),
            }
        }
    }

    /// The lock a thread that does not hold it waits for; after taking it, the caller must
    /// call [`acquired`](Self::acquired).
    #[inline]
    pub(crate) fn mutex(&self) -> &RawMutex {
        &self.mutex
    }

    /// Locks once more if the current thread holds the lock; `false` if it does not.
    ///
    /// # Panics
    ///
    /// Panics if the count of locks would overflow; the lock is then unchanged.
    #[inline]
    pub(crate) fn try_reenter(&self) -> bool {
        if self.owner.load(Ordering::Relaxed) != current_id() {
            return false;
        }
        // SAFETY: this thread holds the lock (see "Why a relaxed load of `owner` is enough"),
        // and only the holder touches `count`.
        self.count.with_mut(|count| unsafe {
            *count = (*count)
                .checked_add(1)
                .expect("a ReentrantMutex was locked too many times by one thread");
        });
        true
    }

    /// Records that the current thread has just taken [`mutex`](Self::mutex).
    ///
    /// # Safety
    ///
    /// The current thread must have just taken `mutex`, and hand it to one guard.
    #[inline]
    pub(crate) unsafe fn acquired(&self) {
        // SAFETY: the caller holds `mutex`, so it is the only one to touch `count`.
        self.count.with_mut(|count| unsafe { *count = 1 });
        self.owner.store(current_id(), Ordering::Relaxed);
    }

    /// Locks if the lock is free or the current thread holds it.
    ///
    /// # Panics
    ///
    /// As [`try_reenter`](Self::try_reenter).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        if self.try_reenter() {
            return true;
        }
        if !self.mutex.try_lock_looking() {
            return false;
        }
        // SAFETY: we have just taken `mutex`.
        unsafe { self.acquired() };
        true
    }

    /// Gives back one lock; the last one calls `before_release` and then releases the lock.
    ///
    /// # Safety
    ///
    /// The current thread must hold the lock, and one of its locks must be going away.
    #[inline]
    pub(crate) unsafe fn unlock(&self, before_release: impl FnOnce()) {
        // SAFETY: the caller holds the lock, so it is the only one to touch `count`, which is
        // at least 1 (one lock is going away).
        let last = self.count.with_mut(|count| unsafe {
            *count -= 1;
            *count == 0
        });
        if last {
            before_release();
            self.owner.store(0, Ordering::Relaxed);
            // SAFETY: the caller holds `mutex`; this was its last lock.
            unsafe { self.mutex.unlock() };
        }
    }

    /// Whether some thread holds the lock (a hint: it may change at once).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.mutex.is_locked()
    }

    /// Whether the current thread holds the lock (exact: only this thread can change that).
    #[inline]
    pub(crate) fn is_owned_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == current_id()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn count_overflow_panics_and_leaves_the_lock_as_it_was() {
        let raw = RawReentrantMutex::new();
        assert!(raw.try_lock());
        // SAFETY: this thread holds the lock; only it touches `count`.
        raw.count.with_mut(|count| unsafe { *count = usize::MAX });
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| raw.try_reenter()));
        let payload = res.unwrap_err();
        let msg = match payload.downcast_ref::<String>() {
            Some(msg) => msg.as_str(),
            None => payload.downcast_ref::<&str>().copied().unwrap_or_default(),
        };
        assert!(msg.contains("locked too many times"), "{msg}");
        assert!(raw.is_owned_by_current_thread());
        // SAFETY: as above.
        raw.count.with_mut(|count| unsafe { *count = 1 });
        // SAFETY: this thread holds its one lock.
        unsafe { raw.unlock(|| {}) };
        assert!(!raw.is_locked() && !raw.is_owned_by_current_thread());
    }
}

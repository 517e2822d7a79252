//! Who holds the read locks of each `RwLock`: what the deadlock check follows from a wait
//! on a lock to the threads that read it.
//!
//! A read lock has no single holder to record in the lock, so the holds live in one
//! process-wide table instead, one row per lock and thread, counting that thread's read
//! guards. A row is added after the read lock is taken and counted down before it is
//! released, so every row names a thread that holds the lock: the check may miss a reader
//! for a moment, but never follows one that has left.
//!
//! A read guard keeps the number of the thread that took it, and takes down that thread's
//! row wherever it is dropped: a guard sent to another thread is still counted for the one
//! that took the lock, as a holder record is.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::record::{Site, Snapshot};

/// One thread's read guards of one lock.
pub(super) struct Hold {
    /// The lock's read side (its raw lock's address).
    key: usize,
    /// The first of them: where, when and by which thread (or task) it was taken.
    first: Snapshot,
    count: usize,
}

static HOLDS: Mutex<Vec<Hold>> = Mutex::new(Vec::new());

/// Locks the table. Nothing panics while holding it but an allocation failure, so a
/// poisoned lock is still consistent.
pub(super) fn holds() -> MutexGuard<'static, Vec<Hold>> {
    HOLDS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key of the read side whose raw lock is `raw`.
#[inline]
pub(super) fn key<L: ?Sized>(raw: &L) -> usize {
    (raw as *const L).cast::<()>() as usize
}

/// Which thread took a read lock: kept in the read guard, so that its release takes down
/// that thread's row wherever the guard is dropped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader(usize);

/// Records that the current thread (or a task it polls) has just taken a read lock of the
/// lock whose raw lock is `raw`, at `site`.
pub(crate) fn read_acquired<L: ?Sized>(raw: &L, site: Site, by_task: bool) -> Reader {
    let key = key(raw);
    let first = Snapshot::now(site, by_task);
    let reader = Reader(first.thread_id());
    let mut holds = holds();
    match holds
        .iter_mut()
        .find(|h| h.key == key && h.first.thread_id() == first.thread_id())
    {
        Some(hold) => hold.count += 1,
        None => holds.push(Hold {
            key,
            first,
            count: 1,
        }),
    }
    reader
}

/// Records that one read lock of the lock whose raw lock is `raw`, taken by `reader`, is
/// about to be released.
pub(crate) fn read_released<L: ?Sized>(raw: &L, reader: Reader) {
    let key = key(raw);
    let mut holds = holds();
    let found = holds
        .iter()
        .position(|h| h.key == key && h.first.thread_id() == reader.0);
    if let Some(i) = found {
        holds[i].count -= 1;
        if holds[i].count == 0 {
            holds.swap_remove(i);
        }
    }
}

/// The threads (and tasks) that hold read locks of the read side `key`, each with its first
/// read lock's record.
pub(super) fn readers_of(holds: &[Hold], key: usize) -> impl Iterator<Item = Snapshot> + '_ {
    holds.iter().filter(move |h| h.key == key).map(|h| h.first)
}

#[cfg(test)]
mod tests {
    use alloc::sync::Arc;
    use core::panic::Location;

    use super::*;
    use crate::{
        MappedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLock,
        RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
    };

    /// The read holds of `lock`: (thread number, line of the first read, count).
    fn rows<T>(lock: &RwLock<T>) -> Vec<(usize, u32, usize)> {
        let key = key(&lock.raw);
        holds()
            .iter()
            .filter(|h| h.key == key)
            .map(|h| (h.first.thread_id(), h.first.holder().site().line(), h.count))
            .collect()
    }

    #[test]
    fn every_way_of_reading_adds_a_row_that_its_guards_take_down() {
        let me = crate::sync::thread::current_id();
        let lock = Arc::new(RwLock::new((1, 2)));
        assert!(rows(&lock).is_empty());

        let a = lock.try_read().unwrap();
        let line = Location::caller().line() - 1;
        let b = futures::executor::block_on(lock.read());
        let c = lock.read_blocking();
        let d = lock.try_read_owned().unwrap();
        let e = lock
            .read_owned_blocking_timeout(core::time::Duration::ZERO)
            .unwrap();
        // One row per thread, first site kept, every guard counted.
        assert_eq!(rows(&lock), [(me, line, 5)]);
        // Mapping moves the read lock, and its count, to the new guard.
        let a = RwLockReadGuard::map(a, |v| &v.0);
        let b = MappedRwLockReadGuard::map(RwLockReadGuard::map(b, |v| v), |v| &v.1);
        assert_eq!(rows(&lock), [(me, line, 5)]);
        drop((a, b, c, d, e));
        assert!(rows(&lock).is_empty());

        // Downgrades become readers at their own site.
        let r = RwLockWriteGuard::downgrade(lock.try_write().unwrap());
        let line = Location::caller().line() - 1;
        assert_eq!(rows(&lock), [(me, line, 1)]);
        drop(r);
        let r = OwnedRwLockWriteGuard::downgrade_map(lock.try_write_owned().unwrap(), |v| &v.0);
        assert_eq!(rows(&lock).len(), 1);
        drop(r);
        let r = RwLockUpgradableReadGuard::downgrade(lock.try_upgradable_read().unwrap());
        let r2 = OwnedRwLockUpgradableReadGuard::downgrade(lock.upgradable_read_owned_blocking());
        assert_eq!(rows(&lock)[0].2, 2);
        drop((r, r2));
        assert!(rows(&lock).is_empty());
    }

    #[test]
    fn a_guard_dropped_on_another_thread_counts_down_the_row_of_the_thread_that_took_it() {
        let lock = RwLock::new(0);
        let (mine, theirs) = (lock.try_read().unwrap(), lock.try_read().unwrap());
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                let _own = lock.read_blocking();
                drop(theirs); // taken on the main thread, dropped here
                rows(&lock)
            });
            let mut seen = other.join().unwrap();
            seen.sort_unstable();
            // The guard taken here counted down this thread's row, not the other's.
            let me = crate::sync::thread::current_id();
            assert_eq!(seen.len(), 2);
            assert_eq!((seen[0].0, seen[0].2), (me, 1));
            assert_eq!(seen[1].2, 1);
        });
        drop(mine);
        assert!(rows(&lock).is_empty());
    }

    #[test]
    fn a_let_in_reader_that_is_dropped_unfinished_adds_no_row() {
        use core::future::Future;
        use core::pin::pin;
        use core::task::Context;

        let lock = RwLock::new(0);
        let writer = lock.try_write().unwrap();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut read = pin!(lock.read());
            assert!(read.as_mut().poll(&mut cx).is_pending());
            drop(writer); // lets the queued reader in; it never runs
            assert!(rows(&lock).is_empty());
        }
        assert!(rows(&lock).is_empty());
        assert!(lock.try_write().is_some());
    }
}

//! Who holds the read locks of each `RwLock`: what the deadlock check follows from a wait
//! on a lock to the threads that read it.
//!
//! A read lock has no single holder to record in the lock, so the holds live in one
//! process-wide table instead, one row per lock and reader, counting that reader's read
//! guards. A reader is a thread, or the tasks a thread polled (kept apart: the check does not
//! follow a task's hold, and must still follow the thread's own). A row is added after the
//! read lock is taken and counted down before it is released, so every row names a thread
//! that holds the lock: the check may miss a reader for a moment, but never follows one that
//! has left.
//!
//! A lock's rows are found by the lock's number (see `HolderCell::readers_id`), and a read
//! guard keeps its lock's number and the reader that took it: it counts down that row
//! wherever it is dropped, so a guard sent to another thread is still counted for the one
//! that took the lock, as a holder record is.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::record::{HolderRef, Site, Snapshot};

/// One reader's read guards of one lock.
pub(super) struct Hold {
    /// The lock's number.
    lock: u64,
    /// The reader's first read lock of it: where, when, and by which thread (or task).
    first: Snapshot,
    count: usize,
}

static HOLDS: Mutex<Vec<Hold>> = Mutex::new(Vec::new());

/// Locks the table. Nothing panics while holding it but an allocation failure, so a
/// poisoned lock is still consistent.
pub(super) fn holds() -> MutexGuard<'static, Vec<Hold>> {
    HOLDS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Which row a read guard counts in: its lock's number and its reader.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader {
    lock: u64,
    reader: usize,
}

/// Records that the current thread (or a task it polls, `by_task`) has just taken, at `site`,
/// a read lock of the lock whose holder record is `cell`.
pub(crate) fn read_acquired(cell: HolderRef<'_>, site: Site, by_task: bool) -> Reader {
    let first = Snapshot::now(site, by_task);
    let at = Reader {
        lock: cell.cell().readers_id(),
        reader: first.thread_and_task(),
    };
    let mut holds = holds();
    match holds.iter_mut().find(|h| at.is(h)) {
        Some(hold) => hold.count += 1,
        None => holds.push(Hold {
            lock: at.lock,
            first,
            count: 1,
        }),
    }
    at
}

/// Records that a read lock counted at `at` is about to be released.
pub(crate) fn read_released(at: Reader) {
    let mut holds = holds();
    if let Some(i) = holds.iter().position(|h| at.is(h)) {
        holds[i].count -= 1;
        if holds[i].count == 0 {
            holds.swap_remove(i);
        }
    }
}

impl Reader {
    fn is(self, hold: &Hold) -> bool {
        hold.lock == self.lock && hold.first.thread_and_task() == self.reader
    }
}

/// The threads (and tasks) that hold read locks of the lock numbered `lock`, each with its
/// first read lock's record.
pub(super) fn readers_of(holds: &[Hold], lock: u64) -> impl Iterator<Item = Snapshot> + '_ {
    holds
        .iter()
        .filter(move |h| h.lock == lock)
        .map(|h| h.first)
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

    /// The read holds of `lock`: (thread number, line of the first read, count), sorted.
    fn rows<T>(lock: &RwLock<T>) -> Vec<(usize, u32, usize)> {
        let id = lock.readers().cell().readers_id();
        let mut rows = holds()
            .iter()
            .filter(|h| h.lock == id)
            .map(|h| (h.first.thread_id(), h.first.holder().site().line(), h.count))
            .collect::<Vec<_>>();
        // In a stable order: other tests' releases reorder the table.
        rows.sort_unstable();
        rows
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
        // One row for the thread and one for the task it polled, first sites kept, every
        // guard counted.
        let expected = [(me, line, 4), (me, line + 2, 1)];
        assert_eq!(rows(&lock), expected);
        // Mapping moves the read lock, and its count, to the new guard.
        let a = RwLockReadGuard::map(a, |v| &v.0);
        let b = MappedRwLockReadGuard::map(RwLockReadGuard::map(b, |v| v), |v| &v.1);
        assert_eq!(rows(&lock), expected);
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

    #[test]
    fn a_thread_and_the_tasks_it_polls_are_counted_apart() {
        let lock = RwLock::new(0);
        let id = lock.readers().cell().readers_id();
        let followed = || {
            let holds = holds();
            readers_of(&holds, id).filter(|h| !h.task()).count()
        };
        let by_task = futures::executor::block_on(lock.read());
        let by_thread = lock.read_blocking();
        assert_eq!(followed(), 1);
        // The task's read lock goes; the thread's own is still followed.
        drop(by_task);
        assert_eq!(followed(), 1);
        assert_eq!(rows(&lock).len(), 1);
        drop(by_thread);
        assert!(rows(&lock).is_empty());
    }

    #[test]
    fn a_leaked_read_guard_is_no_reader_of_the_next_lock_at_its_address() {
        let mut slot = Some(RwLock::new(()));
        let old = slot.as_ref().map(|l| l as *const RwLock<()>);
        core::mem::forget(slot.as_ref().unwrap().try_read().unwrap());
        slot = Some(RwLock::new(())); // in the old one's place
        let lock = slot.as_ref().unwrap();
        assert_eq!(Some(lock as *const RwLock<()>), old);
        assert!(rows(lock).is_empty());
    }
}

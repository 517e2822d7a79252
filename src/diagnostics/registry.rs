//! The registry of parked waits, and the watchdog thread that reports the long ones.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr;
use core::time::Duration;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::Instant;

use super::record::{HolderCell, Site, Snapshot};
use super::{LockKind, LongWait, ThreadId};
use crate::raw::queue::Node;

pub(super) type Hook = dyn Fn(&LongWait) + Send + Sync;

/// A wait's place in the registry, inside its [`WaitRecord`](super::record::WaitRecord).
pub(super) type Slot = UnsafeCell<MaybeUninit<Entry>>;

/// A registered wait, with copies of all it reports.
///
/// The registry is a list of groups, one per lock with registered waits: the list links the
/// groups' first entries (their *heads*) through `prev`/`next`, and each group links its
/// entries, head first, through `group_prev`/`group_next`. The lock points to its head (see
/// [`HolderCell`]), and the head keeps the group's copy of the lock's holder record, so a
/// change of holder updates one entry, found without a search.
pub(super) struct Entry {
    prev: *const Slot,
    next: *const Slot,
    group_prev: *const Slot,
    group_next: *const Slot,
    /// A copy of the lock's holder record; kept up to date in the head only.
    holder: Option<Snapshot>,
    pub(super) addr: usize,
    pub(super) kind: LockKind,
    /// The lock's number in the readers' table, or 0 (see `Target`).
    pub(super) readers: u64,
    pub(super) site: Site,
    pub(super) started: Instant,
    /// The blocked thread, for a blocking wait.
    pub(super) thread: Option<(usize, Thread)>,
    /// The wait's node, in the same pinned wait as this entry: valid while it is linked.
    node: *const Node,
    pub(super) reported: bool,
}

impl Entry {
    pub(super) fn new(
        addr: usize,
        kind: LockKind,
        readers: u64,
        site: Site,
        thread: Option<(usize, Thread)>,
        node: *const Node,
    ) -> Entry {
        Entry {
            prev: ptr::null(),
            next: ptr::null(),
            group_prev: ptr::null(),
            group_next: ptr::null(),
            holder: None,
            addr,
            kind,
            readers,
            site,
            started: Instant::now(),
            thread,
            node,
            reported: false,
        }
    }

    /// Whether the wait is queued on its lock now, rather than woken (handed the lock, or
    /// let in) and yet to run.
    pub(super) fn is_queued(&self) -> bool {
        // SAFETY: the node is in the same pinned wait as this entry, which is linked (the
        // caller got it from the registry, under its lock), so the wait has not left yet and
        // its memory is still there; the node's state is an atomic.
        unsafe { (*self.node).is_linked() }
    }

    fn report(&self, waited: Duration, holder: Option<Snapshot>) -> LongWait {
        LongWait {
            site: self.site,
            waited,
            kind: self.kind,
            addr: self.addr,
            thread: self
                .thread
                .as_ref()
                .map(|(id, thread)| (ThreadId(*id), thread.clone())),
            holder: holder.map(Snapshot::holder),
        }
    }
}

/// The entry in a linked slot.
///
/// # Safety
///
/// `slot` must be linked (so initialized, and valid until its wait leaves, which takes the
/// registry's lock), the caller must hold the registry's lock, and no other reference to the
/// entry may be alive.
unsafe fn entry<'a>(slot: *const Slot) -> &'a mut Entry {
    // SAFETY: as the caller promises.
    unsafe { (*(*slot).get()).assume_init_mut() }
}

/// Every parked wait, and the long-wait hook.
pub(super) struct Registry {
    /// The head of the first group.
    first: *const Slot,
    pub(super) hook: Option<Arc<Hook>>,
    pub(super) threshold: Duration,
    /// Whether the watchdog thread runs.
    pub(super) watchdog: bool,
}

// SAFETY: the entries the list points to are only touched under the registry's lock.
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    first: ptr::null(),
    hook: None,
    threshold: Duration::ZERO,
    watchdog: false,
});

/// Wakes the watchdog when its hook changes.
pub(super) static WATCHDOG: Condvar = Condvar::new();

/// Locks the registry. Nothing panics while holding it but an allocation failure, so a
/// poisoned lock is still consistent.
pub(super) fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Registry {
    /// Calls `f` on every registered wait, with the holder of the lock it waits for.
    pub(super) fn for_each(&mut self, mut f: impl FnMut(&mut Entry, Option<Snapshot>)) {
        let mut head = self.first;
        while !head.is_null() {
            // SAFETY: a linked slot (the registry's lock is held by `&mut self`).
            let (holder, next) = unsafe {
                let head = entry(head);
                (head.holder, head.next)
            };
            let mut slot = head;
            while !slot.is_null() {
                // SAFETY: as above; the previous entry's reference is gone.
                let entry = unsafe { entry(slot) };
                slot = entry.group_next;
                f(entry, holder);
            }
            head = next;
        }
    }

    /// Fills `slot` with `entry` and links it into the group of the lock whose record is
    /// `cell`, starting the group if it has none.
    ///
    /// # Safety
    ///
    /// `slot` must not be linked, and must stay valid until it leaves; `cell` must be the
    /// record of the lock the entry waits for, and stay valid for this call.
    pub(super) unsafe fn join(&mut self, slot: *const Slot, mut entry: Entry, cell: &HolderCell) {
        let head = cell.group.load(Ordering::Relaxed);
        if head.is_null() {
            entry.next = self.first;
            // SAFETY: the slot is the caller's and not linked: nobody else reads it.
            unsafe { (*(*slot).get()).write(entry) };
            if !self.first.is_null() {
                // SAFETY: a linked slot.
                unsafe { self::entry(self.first).prev = slot };
            }
            self.first = slot;
            cell.group.store(slot.cast_mut(), Ordering::Relaxed);
        } else {
            // SAFETY: the lock's group pointer is a linked head (see `HolderCell`).
            let head_entry = unsafe { self::entry(head) };
            entry.group_prev = head;
            entry.group_next = head_entry.group_next;
            head_entry.group_next = slot;
            let after = entry.group_next;
            // SAFETY: as for the new group above.
            unsafe { (*(*slot).get()).write(entry) };
            if !after.is_null() {
                // SAFETY: a linked slot.
                unsafe { self::entry(after).group_prev = slot };
            }
        }
    }

    /// Sets the holder of the group whose head is `head`.
    ///
    /// # Safety
    ///
    /// `head` must be a linked head (a lock's group pointer, read under the registry's lock).
    pub(super) unsafe fn set_holder(&mut self, head: *const Slot, holder: Option<Snapshot>) {
        // SAFETY: as the caller promises.
        unsafe { entry(head).holder = holder };
    }

    /// Unlinks `slot` from its group (handing the group to the next entry if it was the head,
    /// or ending the group if it was the last) and moves its entry out.
    ///
    /// # Safety
    ///
    /// `slot` must be linked, into the group of the lock whose record is `cell`, and `cell`
    /// must stay valid for this call.
    pub(super) unsafe fn leave(&mut self, slot: *const Slot, cell: &HolderCell) -> Entry {
        // SAFETY: the slot is linked, so initialized; it is moved out once, here. Every other
        // slot touched below is linked.
        unsafe {
            let entry = (*(*slot).get()).assume_init_read();
            if !entry.group_prev.is_null() {
                self::entry(entry.group_prev).group_next = entry.group_next;
                if !entry.group_next.is_null() {
                    self::entry(entry.group_next).group_prev = entry.group_prev;
                }
                return entry;
            }
            // The head: the next entry of the group takes its place in the list of groups,
            // with the group's holder, or the group ends.
            let heir = entry.group_next;
            if heir.is_null() {
                cell.group.store(ptr::null_mut(), Ordering::Relaxed);
            } else {
                let new_head = self::entry(heir);
                new_head.group_prev = ptr::null();
                new_head.holder = entry.holder;
                new_head.prev = entry.prev;
                new_head.next = entry.next;
                cell.group.store(heir.cast_mut(), Ordering::Relaxed);
            }
            // The neighbouring groups now link to the heir, or to each other.
            let (to_next, to_prev) = if heir.is_null() {
                (entry.next, entry.prev)
            } else {
                (heir, heir)
            };
            if entry.prev.is_null() {
                self.first = to_next;
            } else {
                self::entry(entry.prev).next = to_next;
            }
            if !entry.next.is_null() {
                self::entry(entry.next).prev = to_prev;
            }
            entry
        }
    }
}

/// How often the watchdog looks, for a threshold.
fn tick(threshold: Duration) -> Duration {
    (threshold / 4).clamp(Duration::from_millis(1), Duration::from_secs(1))
}

/// Runs `f`, catching its panic. The panic's payload is user code too: its `Drop` may panic
/// again, so each payload is dropped under `catch_unwind` as well, until one drops cleanly.
/// Nothing escapes to end the watchdog thread.
fn quietly(f: impl FnOnce()) {
    let mut caught = catch_unwind(AssertUnwindSafe(f));
    while let Err(payload) = caught {
        caught = catch_unwind(AssertUnwindSafe(|| drop(payload)));
    }
}

/// The watchdog thread: reports each wait once it passes the threshold, until the hook is
/// removed.
pub(super) fn watchdog() {
    let mut reg = registry();
    loop {
        let Some(hook) = reg.hook.clone() else {
            reg.watchdog = false;
            return;
        };
        let threshold = reg.threshold;
        let now = Instant::now();
        let mut sleep = tick(threshold);
        let mut due = Vec::new();
        reg.for_each(|entry, holder| {
            if entry.reported {
                return;
            }
            let waited = now.saturating_duration_since(entry.started);
            if waited >= threshold {
                entry.reported = true;
                due.push(((entry as *const Entry), entry.report(waited, holder)));
            } else {
                sleep = sleep.min(threshold - waited);
            }
        });
        drop(reg);
        // The batch goes to the hook (and threshold) it was collected for, while that hook is
        // installed: once `clear_long_wait_hook` or `set_long_wait_hook` has returned, only
        // the report in hand may still reach the hook it removed. The rest are not reported
        // yet: the next scan hands them to the hook installed then, by its threshold.
        let mut handed = 0;
        for (i, (_, wait)) in due.iter().enumerate() {
            if i > 0 {
                let reg = registry();
                let same = reg.hook.as_ref().is_some_and(|now| Arc::ptr_eq(now, &hook))
                    && reg.threshold == threshold;
                if !same {
                    break;
                }
            }
            // The panic was printed by the panic hook; the watchdog goes on.
            quietly(|| hook(wait));
            handed = i + 1;
        }
        let rescan = handed < due.len();
        if rescan {
            // An entry still registered at one of these addresses is either that wait, or
            // one registered since (not reported yet): either way, not reported.
            let rest: std::collections::HashSet<*const Entry> =
                due[handed..].iter().map(|(entry, _)| *entry).collect();
            registry().for_each(|entry, _| {
                if rest.contains(&(entry as *const Entry)) {
                    entry.reported = false;
                }
            });
        }
        drop(due);
        // The last reference to a replaced hook may be this one, and what it captured may
        // panic when dropped: caught like the hook's own panics, so the watchdog goes on.
        quietly(|| drop(hook));
        reg = registry();
        // A threshold changed while the hook ran was signalled before this thread waited:
        // scan again at once instead of sleeping on the old threshold's tick.
        if reg.hook.is_some() && reg.threshold == threshold && !rescan {
            let sleep = sleep.max(Duration::from_millis(1));
            reg = WATCHDOG
                .wait_timeout(reg, sleep)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

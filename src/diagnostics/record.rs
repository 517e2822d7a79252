//! The holder record a lock carries, and the part of a wait that registers it: what the
//! locks call, through `crate::diag`.

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::mem::MaybeUninit;
use core::panic::Location;
use core::pin::Pin;
use core::ptr;
use core::task::Poll;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

use super::registry::{registry, Entry, Slot};
use super::{Holder, LockKind, ThreadId};
use crate::raw::queue::{Node, Unpark, WaitQueue, Wakeup};
use crate::raw::wait::Strategy;

/// Where a lock was taken or waited for.
pub(crate) type Site = &'static Location<'static>;

/// The caller's site: the caller of the outermost `#[track_caller]` function.
#[track_caller]
#[inline(always)]
pub(crate) fn caller() -> Site {
    Location::caller()
}

/// The top bit of a recorded thread number: the lock was taken by an async wait.
const BY_TASK: usize = 1 << (usize::BITS - 1);

/// The time stamps of holder records: cheap to take, turned into an `Instant` when read.
///
/// Every acquisition takes a stamp, and `Instant::now` is most of what the record would cost
/// (26 ns against 5 ns for the whole uncontended lock, on a 2-core x86-64 VM). On
/// x86-64 a stamp is the CPU's time-stamp counter instead (10 ns there): it runs at a
/// constant rate on every x86-64 CPU of the last fifteen years. It is turned into an
/// `Instant` only when someone reads the record, by scaling it with the rate measured from
/// the first stamp until then, so a holder's time is off by about as much as two clock reads
/// taken side by side. It is never later than the moment it is read: without that bound, a
/// stamp taken on another core just before it was read came out up to 450 ns after the
/// reader's clock (a 2-vCPU virtual machine, optimized build), since two cores' counters need
/// not agree exactly and a counter read is not ordered with the loads around it. Elsewhere
/// (and under Miri) a stamp is nanoseconds since a base `Instant`.
mod clock {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// The first stamp, and the instant it was taken.
    struct Base {
        instant: Instant,
        stamp: u64,
    }

    fn base() -> &'static Base {
        static BASE: OnceLock<Base> = OnceLock::new();
        BASE.get_or_init(|| Base {
            stamp: counter(),
            instant: Instant::now(),
        })
    }

    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[inline]
    #[allow(unused_unsafe)] // `_rdtsc` is a safe function in newer Rust
    fn counter() -> u64 {
        // SAFETY: every x86-64 CPU has `rdtsc`, and user code may run it on every OS we
        // build for.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    #[inline]
    fn counter() -> u64 {
        // Nanoseconds since the first call (which becomes the base, at 0).
        static START: OnceLock<Instant> = OnceLock::new();
        let start = *START.get_or_init(Instant::now);
        u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// A stamp of now.
    #[inline]
    pub(super) fn now() -> u64 {
        // The base is taken first, so that no stamp comes before it.
        let _ = base();
        counter()
    }

    /// The instant a stamp was taken, at the latest now.
    pub(super) fn instant(stamp: u64) -> Instant {
        let base = base();
        let (now_stamp, now) = (counter(), Instant::now());
        let ticks = u128::from(now_stamp.saturating_sub(base.stamp));
        let nanos = now.saturating_duration_since(base.instant).as_nanos();
        if ticks == 0 {
            return base.instant;
        }
        let since = u128::from(stamp.saturating_sub(base.stamp)) * nanos / ticks;
        let since = Duration::from_nanos(u64::try_from(since).unwrap_or(u64::MAX));
        // A stamp was taken before it was read, whatever the counters say.
        base.instant
            .checked_add(since)
            .map_or(now, |at| at.min(now))
    }
}

/// The holder record of one lock, in the lock itself.
///
/// A seqlock: the holder writes `site`, `since` and `thread` between two increments of `seq`
/// (odd while it writes), readers retry until they read the same even `seq` before and after.
/// Only a holder writes (the lock orders successive holders), so writers never race.
///
/// `group` is the head of this lock's group of registered waits, or null: the registry
/// keeps the group's copy of this record there. It is written only under the registry's
/// lock, by a wait joining or leaving (which borrows the lock, so the lock is alive), and
/// read without that lock only as a hint that there is a group to update.
pub(crate) struct HolderCell {
    seq: AtomicUsize,
    site: AtomicPtr<Location<'static>>,
    since: AtomicU64,
    thread: AtomicUsize,
    pub(super) group: AtomicPtr<Slot>,
    /// The lock's number in the readers' table, 0 until it needs one (see `readers`).
    readers: AtomicU64,
}

// The record is rewritten whole by each holder and read with retries (the seqlock), and the
// group pointer changes only under the registry's lock: a panic leaves nothing half-written
// that a reader would take for a record. So the feature keeps the locks' unwind safety.
impl core::panic::UnwindSafe for HolderCell {}
impl core::panic::RefUnwindSafe for HolderCell {}

impl HolderCell {
    pub(crate) const fn new() -> HolderCell {
        HolderCell {
            seq: AtomicUsize::new(0),
            site: AtomicPtr::new(ptr::null_mut()),
            since: AtomicU64::new(0),
            thread: AtomicUsize::new(0),
            group: AtomicPtr::new(ptr::null_mut()),
            readers: AtomicU64::new(0),
        }
    }

    /// The lock's number in the readers' table, given the first time it is asked for.
    ///
    /// A number rather than the lock's address, which a moved lock leaves behind and a new
    /// lock may take over: the rows of a leaked read guard must not become another lock's.
    pub(super) fn readers_id(&self) -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = self.readers.load(Ordering::Relaxed);
        if id != 0 {
            return id;
        }
        let new = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .readers
            .compare_exchange(0, new, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => new,
            Err(first) => first,
        }
    }

    /// Records the caller, which has just taken the lock, as its holder.
    #[inline]
    pub(crate) fn record(&self, site: Site, by_task: bool) {
        let now = Snapshot::now(site, by_task);
        let site: *const Location<'static> = now.site;
        self.write(|cell| {
            cell.site.store(site.cast_mut(), Ordering::Relaxed);
            cell.since.store(now.since, Ordering::Relaxed);
            cell.thread.store(now.thread, Ordering::Relaxed);
        });
    }

    /// Forgets the holder, which is about to release the lock (or to keep only a read lock).
    #[inline]
    pub(crate) fn clear(&self) {
        self.write(|cell| cell.site.store(ptr::null_mut(), Ordering::Relaxed));
    }

    #[inline]
    fn write(&self, fields: impl FnOnce(&Self)) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        fields(self);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
        // Pairs with the fence in `WaitRecord::register`: either the group that waiter
        // starts is seen here, or this record is seen there.
        fence(Ordering::SeqCst);
        if !self.group.load(Ordering::Relaxed).is_null() {
            self.publish();
        }
    }

    /// Refreshes the registry's copy of this record, if this lock has registered waits.
    #[cold]
    #[inline(never)]
    fn publish(&self) {
        let mut reg = registry();
        // Read under the registry's lock, so the last to publish leaves the latest record.
        let holder = self.snapshot();
        let head = self.group.load(Ordering::Relaxed);
        if !head.is_null() {
            // SAFETY: a lock's group pointer, read under the registry's lock, is a linked head.
            unsafe { reg.set_holder(head, holder) };
        }
    }

    /// The record, read consistently.
    fn snapshot(&self) -> Option<Snapshot> {
        let mut tries = 0u32;
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            if seq & 1 == 0 {
                let site = self.site.load(Ordering::Relaxed);
                let since = self.since.load(Ordering::Relaxed);
                let thread = self.thread.load(Ordering::Relaxed);
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == seq {
                    // SAFETY: a non-null `site` was stored from a `&'static Location`.
                    let site = unsafe { site.as_ref() }?;
                    return Some(Snapshot {
                        site,
                        since,
                        thread,
                    });
                }
            }
            // A writer is between its two increments: a few stores away, unless preempted.
            tries += 1;
            if tries < 64 {
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// The current holder.
    pub(crate) fn get(&self) -> Option<Holder> {
        self.snapshot().map(Snapshot::holder)
    }
}

/// A copy of a holder record.
#[derive(Clone, Copy)]
pub(super) struct Snapshot {
    site: Site,
    since: u64,
    thread: usize,
}

impl Snapshot {
    /// A record of the current thread (or a task it polls) taking a lock at `site`, now.
    #[inline]
    pub(super) fn now(site: Site, by_task: bool) -> Snapshot {
        Snapshot {
            site,
            since: clock::now(),
            thread: crate::sync::thread::current_id() | if by_task { BY_TASK } else { 0 },
        }
    }

    pub(super) fn task(self) -> bool {
        self.thread & BY_TASK != 0
    }

    /// The number of the thread that took the lock (or polled the task that did).
    pub(super) fn thread_id(self) -> usize {
        self.thread & !BY_TASK
    }

    /// The thread's number, with whether it was a task's poll.
    pub(super) fn thread_and_task(self) -> usize {
        self.thread
    }

    pub(super) fn holder(self) -> Holder {
        Holder {
            site: self.site,
            since: clock::instant(self.since),
            thread: ThreadId(self.thread_id()),
            task: self.task(),
        }
    }
}

/// The holder record of a lock, for a mapped guard that keeps the lock but not the lock's
/// type.
#[derive(Clone, Copy)]
pub(crate) struct HolderRef<'a>(&'a HolderCell);

impl<'a> HolderRef<'a> {
    #[inline]
    pub(crate) fn new(cell: &'a HolderCell) -> Self {
        HolderRef(cell)
    }

    #[inline]
    pub(crate) fn clear(self) {
        self.0.clear();
    }

    /// The record itself.
    pub(super) fn cell(self) -> &'a HolderCell {
        self.0
    }

    /// Whether the lock's holder took it in a task (false when the lock is free, or held
    /// without a record).
    #[inline]
    pub(crate) fn by_task(self) -> bool {
        self.0.snapshot().is_some_and(Snapshot::task)
    }
}

/// A lock as a wait sees it: its holder record, its address and its kind, and for a
/// `RwLock` the number of its rows in the readers' table.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    cell: &'a HolderCell,
    addr: usize,
    kind: LockKind,
    /// The lock's number in the readers' table (see `readers`), or 0: a wait on this lock
    /// also waits for its readers.
    readers: u64,
}

impl<'a> Target<'a> {
    #[inline]
    pub(crate) fn new<L: ?Sized>(cell: &'a HolderCell, lock: &L, kind: LockKind) -> Self {
        Target {
            cell,
            addr: (lock as *const L).cast::<()>() as usize,
            kind,
            readers: 0,
        }
    }

    /// The same lock, which has readers (see [`read_acquired`](super::readers::read_acquired)):
    /// the deadlock check follows a wait on it to its readers as well as to its holder.
    #[inline]
    pub(crate) fn with_readers(self) -> Self {
        Target {
            readers: self.cell.readers_id(),
            ..self
        }
    }

    /// Records the caller, which has just taken the lock without a [`WaitRecord`] (a `try`
    /// form), as its holder.
    #[inline]
    pub(crate) fn record(self, site: Site, by_task: bool) {
        self.cell.record(site, by_task);
    }

    /// Forgets the holder, which is about to release the lock other than by dropping a guard.
    #[inline]
    pub(crate) fn clear(self) {
        self.cell.clear();
    }
}

/// What a wait adds to its future: its site and its registry entry.
///
/// The entry is linked into the registry while the wait is parked, so the record must not
/// move then: it lives in a pinned future (or a blocked thread's pinned frame), and it is
/// `!Unpin` so that `&mut` access to it does not claim to be the only access.
pub(crate) struct WaitRecord {
    site: Site,
    // Whether the last poll came from a task; the holder record says so.
    task: bool,
    // Whether `entry` is initialized and linked. Read and written by the wait only.
    registered: bool,
    // Touched only under the registry's lock.
    entry: Slot,
    _pinned: PhantomPinned,
}

// SAFETY: `entry` is only read or written under the registry's lock; the other fields are
// touched only through `&mut WaitRecord`, that is by whoever polls or drops the wait.
unsafe impl Send for WaitRecord {}
// SAFETY: `&WaitRecord` gives access to nothing.
unsafe impl Sync for WaitRecord {}

impl WaitRecord {
    #[inline]
    pub(crate) fn new(site: Site) -> Self {
        WaitRecord {
            site,
            task: false,
            registered: false,
            entry: UnsafeCell::new(MaybeUninit::uninit()),
            _pinned: PhantomPinned,
        }
    }

    /// Records the wait's caller as the holder of `target`, which the wait has just taken.
    #[inline]
    pub(crate) fn record_holder(&self, target: Target<'_>) {
        target.cell.record(self.site, self.task);
    }

    /// Records the wait's caller as a reader of `target`, of which the wait has just taken a
    /// read lock.
    #[inline]
    pub(crate) fn record_reader(&self, target: Target<'_>) -> super::readers::Reader {
        super::readers::read_acquired(HolderRef(target.cell), self.site, self.task)
    }

    /// Leaves the registry, if the wait is in it. `target` is the lock it waited for.
    #[inline]
    pub(crate) fn cancel(&mut self, target: Target<'_>) {
        if self.registered {
            self.deregister(target);
        }
    }

    #[cold]
    #[inline(never)]
    fn register(&mut self, target: Target<'_>, blocking: bool, node: *const Node) {
        let thread = blocking.then(|| (crate::sync::thread::current_id(), std::thread::current()));
        let entry = Entry::new(
            target.addr,
            target.kind,
            target.readers,
            self.site,
            thread,
            node,
        );
        let slot: *const Slot = &self.entry;
        let mut reg = registry();
        // SAFETY: the slot is in this pinned wait, which leaves the registry (`cancel`, or
        // `watch` when it completes) before its memory can go, and while it still borrows
        // the lock whose record `target.cell` is.
        unsafe { reg.join(slot, entry, target.cell) };
        // Pairs with the fence in `HolderCell::write`: a holder that did not see the group
        // this wait may have just started wrote its record before, and it is read here.
        fence(Ordering::SeqCst);
        let holder = target.cell.snapshot();
        let head = target.cell.group.load(Ordering::Relaxed);
        // SAFETY: the lock's group pointer, read under the registry's lock: a linked head.
        unsafe { reg.set_holder(head, holder) };
        drop(reg);
        self.registered = true;
    }

    #[cold]
    #[inline(never)]
    fn deregister(&mut self, target: Target<'_>) {
        let slot: *const Slot = &self.entry;
        // SAFETY: `registered` says the slot is linked, into the group of `target`'s lock,
        // which this wait still borrows.
        let entry = unsafe { registry().leave(slot, target.cell) };
        self.registered = false;
        // Dropped outside the registry's lock (it holds a thread handle).
        drop(entry);
    }
}

/// Advances a wait for `target` through `f`, with `strategy` wrapped so that the wait
/// registers when it first parks, and leaves the registry when it completes.
#[inline]
pub(crate) fn watch<S: Strategy, R>(
    rec: &mut WaitRecord,
    target: Target<'_>,
    strategy: &mut S,
    f: impl FnOnce(&mut Watched<'_, S>) -> Poll<R>,
) -> Poll<R> {
    rec.task = !strategy.is_blocking();
    let res = f(&mut Watched {
        inner: strategy,
        rec: &mut *rec,
        target,
    });
    if res.is_ready() && rec.registered {
        rec.deregister(target);
    }
    res
}

/// A strategy that registers its wait the first time it parks.
pub(crate) struct Watched<'a, S> {
    inner: &'a mut S,
    rec: &'a mut WaitRecord,
    target: Target<'a>,
}

impl<S: Strategy> Strategy for Watched<'_, S> {
    #[inline]
    fn is_blocking(&self) -> bool {
        self.inner.is_blocking()
    }

    #[inline]
    fn past_deadline(&mut self) -> bool {
        self.inner.past_deadline()
    }

    #[inline]
    fn unparker(&mut self) -> Unpark {
        self.inner.unparker()
    }

    fn park(&mut self, queue: &WaitQueue, node: Pin<&Node>, just_linked: bool) -> Poll<Wakeup> {
        if !self.rec.registered {
            let blocking = self.inner.is_blocking();
            self.rec.register(self.target, blocking, &*node);
        }
        self.inner.park(queue, node, just_linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registered waits on the lock at `addr`, and the holder line they report.
    fn group_of(addr: usize) -> (usize, Option<u32>) {
        let (mut count, mut line) = (0, None);
        registry().for_each(|entry, holder| {
            if entry.addr == addr {
                count += 1;
                line = holder.map(|h| h.site.line());
            }
        });
        (count, line)
    }

    /// Waits join and leave the groups of three locks in a scrambled order; every group keeps
    /// its members and its holder, whichever member (the head included) leaves first.
    #[test]
    fn groups_keep_members_and_holder_whatever_the_order() {
        let cells = [HolderCell::new(), HolderCell::new(), HolderCell::new()];
        let target = |i: usize| Target::new(&cells[i], &cells[i], LockKind::Mutex);
        let addr = |i: usize| target(i).addr;
        let site = Location::caller();
        let mut waits: Vec<Box<WaitRecord>> =
            (0..12).map(|_| Box::new(WaitRecord::new(site))).collect();
        // Never looked at here (only the deadlock check reads a wait's node).
        let node = Box::pin(Node::new());
        for (i, wait) in waits.iter_mut().enumerate() {
            wait.register(target(i % 3), i % 2 == 0, &*node);
        }
        for lock in 0..3 {
            assert_eq!(group_of(addr(lock)), (4, None));
        }
        cells[1].record(site, false);
        assert_eq!(group_of(addr(1)), (4, Some(site.line())));
        assert_eq!(group_of(addr(0)), (4, None));

        // Leave in a scrambled order: heads, middles and tails of every group.
        let mut left = [0usize; 3];
        for i in [4, 0, 11, 1, 7, 6, 3, 10, 2, 9, 5, 8] {
            let lock = i % 3;
            waits[i].cancel(target(lock));
            left[lock] += 1;
            let expected_line = if lock == 1 && left[1] < 4 {
                Some(site.line())
            } else {
                None
            };
            assert_eq!(group_of(addr(lock)), (4 - left[lock], expected_line));
            assert_eq!(
                cells[lock].group.load(Ordering::Relaxed).is_null(),
                left[lock] == 4
            );
        }
        cells[1].clear();
    }

    /// A wait that registers after the holder wrote its record reads it; a holder that
    /// changes after a wait registered updates the group.
    #[test]
    fn the_group_follows_the_holder() {
        let cell = HolderCell::new();
        let target = Target::new(&cell, &cell, LockKind::RwLockWrite);
        let first = Location::caller();
        cell.record(first, true);
        let mut wait = Box::new(WaitRecord::new(first));
        let node = Box::pin(Node::new());
        wait.register(target, false, &*node);
        assert_eq!(group_of(target.addr), (1, Some(first.line())));
        cell.clear();
        assert_eq!(group_of(target.addr), (1, None));
        let second = Location::caller();
        cell.record(second, false);
        assert_eq!(group_of(target.addr), (1, Some(second.line())));
        wait.cancel(target);
        assert_eq!(group_of(target.addr), (0, None));
        cell.clear();
    }

    /// A blocked thread whose node is no longer queued (it was handed the lock, or let in,
    /// and has yet to run) is not in a cycle, though its wait is still registered.
    #[test]
    fn a_wait_that_is_no_longer_queued_is_not_blocked() {
        use crate::raw::queue::WaitQueue;

        let cell = HolderCell::new();
        let target = Target::new(&cell, &cell, LockKind::Mutex);
        let site = Location::caller();
        // This thread holds the lock and waits for it: a cycle of one, while queued.
        cell.record(site, false);
        let queue = WaitQueue::new();
        let node = Box::pin(Node::new());
        let waker = futures::task::noop_waker();
        queue
            .lock()
            .push(node.as_ref(), Unpark::Task(waker), 0, false);
        let mut wait = Box::new(WaitRecord::new(site));
        wait.register(target, true, &*node);
        let ours = || {
            crate::diagnostics::check_deadlock()
                .iter()
                .any(|c| c.threads().iter().any(|t| t.lock_addr() == target.addr))
        };
        assert!(ours());
        // Woken: still registered, but no longer blocked.
        queue.lock().pop_front(0);
        assert!(!ours());
        assert!(node.take_wakeup().is_some());
        wait.cancel(target);
        cell.clear();
    }
}

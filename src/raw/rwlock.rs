//! The reader-writer state machine under [`RwLock`](crate::RwLock), without the protected value.
//!
//! # Parts
//!
//! - `gate`: a [`RawMutex`] that writers and upgradable readers hold. At most one of them
//!   exists at a time, and they queue on the mutex with its fairness rules.
//! - `state`: the word below, shared by everybody.
//! - `readers`: the queue of readers blocked by a writer.
//! - `drain`: the queue on which the holder of `gate` waits, first for the readers let in by
//!   the previous write to enter, then, having announced its write, for the readers inside to
//!   leave. Only the holder of `gate` ever waits there.
//! - `entering`: how many readers let in by a write have not run yet (bits 1..), and `WANT`
//!   (bit 0): the holder of `gate` waits on `drain` for that count to reach zero.
//!
//! # State word
//!
//! | bits | name      | meaning                                                             |
//! |------|-----------|---------------------------------------------------------------------|
//! | 0    | `WRITE`   | the holder of `gate` has announced a write, or holds the write lock |
//! | 1    | `PARKED`  | `readers` is not empty; changed only under that queue's lock        |
//! | 2..  | readers   | read locks held, counting readers let in but not yet running        |
//!
//! A writer owns the lock when it holds `gate`, `WRITE` is set and the reader count is zero.
//! New readers never enter while `WRITE` is set, so once the count reaches zero it stays there.
//!
//! # Fairness (phase-fair)
//!
//! - *Writers are not starved by readers.* A writer sets `WRITE` as soon as it holds `gate`
//!   (an upgrade, as soon as it starts) and the readers let in by the previous write have
//!   entered: from then on new readers (and `try_read`) queue, and the writer waits only for
//!   the readers already inside. A writer therefore waits for the writers and upgradable
//!   readers queued on `gate` ahead of it (with the mutex's bounds) and for one batch of
//!   readers.
//! - *Readers are not starved by writers.* Whoever clears `WRITE` (a write guard dropped or
//!   downgraded, a cancelled write or upgrade) lets every queued reader in: it counts them as
//!   holders (and in `entering`) in the same step and then wakes them, each already holding
//!   its read lock. The next writer waits until they have run before it sets `WRITE`, and
//!   then for them to leave. A reader that arrives while a writer is queued or writing
//!   therefore gets in when that writer is done, before any writer that comes later.
//! - *Why the next writer waits for the let-in readers to run.* Until they are scheduled,
//!   which can take a while (an executor may well run the next writer first), the lock is
//!   held only by readers that are not running. Setting `WRITE` then would queue every reader
//!   that does run, each one another wake-up, for no one's benefit; new readers keep entering
//!   instead, and the writer's wait is still bounded by that one batch.
//!
//! # Why no wake-up is lost
//!
//! - Readers: a reader that finds `WRITE` set sets `PARKED` and links its node in one critical
//!   section of the `readers` lock. Clearing `WRITE` is a compare-and-swap that fails while
//!   `PARKED` is set; the clearer then takes the `readers` lock and lets the queue in.
//! - The drain: the holder of `gate` waits only while the count is not zero, checked under the
//!   `drain` lock. A reader whose release takes the count to zero while `WRITE` is set takes
//!   the `drain` lock and wakes whoever waits there: either the writer linked before that (and
//!   is woken) or it checks after (and sees zero).
//! - Entering: the holder of `gate` sets `WANT` with a read-modify-write of `entering` that
//!   also reads the count, under the `drain` lock, and waits only if the count was not zero.
//!   Each let-in reader takes itself off the count with one read-modify-write of the same
//!   word; the one that takes it to zero sees `WANT` if the writer's mark came first, and
//!   then wakes it through the `drain` lock; otherwise the writer saw zero and did not wait.
//! - `gate` follows the mutex's own protocol.
//!
//! # Limits
//!
//! At most [`MAX_READERS`] read locks can be held at once; a read past that panics, and
//! `try_read` fails, before anything changes.
//!
//! A lock made with a lower limit (`max`) makes reads wait for room instead. Such a reader
//! queues on `readers` as behind a writer, and sets `PARKED` only after seeing the count at
//! `max` in the same read-modify-write. While `PARKED` is set and `WRITE` is not, new readers
//! queue behind it (first in, first out), and a reader's release that finds `PARKED` without
//! `WRITE` takes the `readers` lock and lets in as many as there is room for, each with its
//! read lock counted in one compare-and-swap (checking `WRITE` and `max`) before its node is
//! popped. A writer's release lets in at most as many as fit, and looks at the count again
//! after each batch, since readers released meanwhile saw `WRITE` and left the letting-in to
//! it. Readers let in for room are woken with token 1 and are not counted in `entering`.
//! The upgradable lock is not a read lock; its downgrade always gets one, even past `max`.

use core::pin::Pin;
use core::task::Poll;

use crate::raw::mutex::{LockWaiter, RawMutex, TaskSpin};
use crate::raw::queue::{Locked, Node, WaitQueue, Wakeup};
use crate::raw::wait::{cancel, poll_wait, AtDeadline, Check, Finally, Flag, Protocol, Strategy};
use crate::sync::{const_fn, Accesses, AtomicUsize, Ordering};

const WRITE: usize = 1;
const PARKED: usize = 1 << 1;
const READER: usize = 1 << 2;

/// In `entering`: the holder of `gate` waits for the count to reach zero.
const WANT: usize = 1;
/// In `entering`: one reader let in and not yet running.
const ENTERING: usize = 1 << 1;

/// The most read locks that can be held at once.
pub(crate) const MAX_READERS: usize = usize::MAX >> 2;

/// The wake-up token of a reader let in by a write (counted in `entering`).
const LET_IN: usize = 0;
/// The wake-up token of a reader let in because a read lock was released (not counted).
const ROOM: usize = 1;

#[inline]
const fn readers(state: usize) -> usize {
    state >> 2
}

#[cold]
#[track_caller]
fn too_many_readers() -> ! {
    panic!("too many readers of one `RwLock` (at most `RwLock::MAX_READERS`: {MAX_READERS})")
}

/// A reader-writer lock without data.
pub(crate) struct RawRwLock {
    gate: RawMutex,
    state: AtomicUsize,
    readers: WaitQueue,
    drain: WaitQueue,
    entering: AtomicUsize,
    /// The most read locks `read` hands out; reads past it wait, unless it is [`MAX_READERS`].
    max: usize,
    accesses: Accesses,
}

impl RawRwLock {
    const_fn! {
        pub(crate) const fn new() -> RawRwLock {
            RawRwLock::with_max_readers(MAX_READERS)
        }
    }

    const_fn! {
        /// A lock whose reads wait while `max` read locks are held (`1..=MAX_READERS`, checked
        /// by the caller).
        pub(crate) const fn with_max_readers(max: usize) -> RawRwLock {
            RawRwLock {
                gate: RawMutex::new(),
                state: AtomicUsize::new(0),
                readers: WaitQueue::new(),
                drain: WaitQueue::new(),
                entering: AtomicUsize::new(0),
                max,
                accesses: Accesses::new(),
            }
        }
    }

    /// Whether reads wait for room below [`MAX_READERS`] (and then queue first in, first out).
    #[inline]
    fn limited(&self) -> bool {
        self.max != MAX_READERS
    }

    /// Whether a new reader must wait, given the state `s`: a writer holds or waits for the
    /// lock, or there is no room (the count is at the limit, or, on a limited lock, readers
    /// already wait for room: `PARKED` without `WRITE`). `Err` at [`MAX_READERS`], where
    /// waiting is not what a read does.
    #[inline(always)]
    fn must_wait(&self, s: usize) -> Result<bool, ()> {
        // One test on the common path: neither bit set.
        if s & (WRITE | PARKED) != 0 && (s & WRITE != 0 || self.limited()) {
            return Ok(true);
        }
        if readers(s) >= self.max {
            return if self.limited() { Ok(true) } else { Err(()) };
        }
        Ok(false)
    }

    /// Takes a read lock unless a writer holds or waits for the lock, or there is no room (see
    /// [`must_wait`](Self::must_wait)). `Err` (changing nothing) when [`MAX_READERS`] are inside.
    #[inline]
    fn read_now(&self) -> Result<bool, ()> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if self.must_wait(s)? {
                return Ok(false);
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.accesses.shared();
                    return Ok(true);
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes a read lock unless a writer holds or waits for the lock, or the reader count is
    /// at its limit (or, on a limited lock, readers wait for room).
    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        self.read_now() == Ok(true)
    }

    /// Takes a read lock unless a writer holds or waits for the lock; panics, changing nothing,
    /// at the reader limit (a read that waits would wait for ever there).
    #[inline]
    #[track_caller]
    pub(crate) fn try_read_or_panic(&self) -> bool {
        match self.read_now() {
            Ok(entered) => entered,
            Err(()) => too_many_readers(),
        }
    }

    /// Releases a read lock; the last reader out hands the lock to a waiting writer, and on a
    /// limited lock the room left goes to readers waiting for it.
    ///
    /// # Safety
    ///
    /// The caller must hold a read lock, which it gives up.
    #[inline]
    pub(crate) unsafe fn read_unlock(&self) {
        self.accesses.shared();
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(readers(prev) > 0, "read unlock without a reader");
        if prev & WRITE != 0 {
            if readers(prev) == 1 {
                self.wake_writer();
            }
        } else if prev & PARKED != 0 && (self.limited() || readers(prev) == MAX_READERS) {
            // Without a limit of its own, a lock leaves readers queued with no writer in front
            // only when a write or upgrade gave up while the count was at `MAX_READERS`: the
            // first release that makes room lets them in, as on a limited lock.
            self.let_in_for_room();
        }
    }

    /// Lets queued readers in while there is room and no writer has announced itself. Each is
    /// counted in before its node is popped, so the count never passes the limit.
    #[cold]
    #[inline(never)]
    fn let_in_for_room(&self) {
        let mut queue = self.readers.lock();
        queue.pop_front_while(ROOM, |_| self.take_room());
        queue.clear_when_empty(&self.state, PARKED);
    }

    /// Counts one more reader in if no writer has announced itself and there is room. Behind
    /// a writer, queued readers are let in when it is done; without room, by the release that
    /// makes some (it sees `PARKED`, which stays set while anyone is queued).
    fn take_room(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & WRITE != 0 || readers(s) >= self.max {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Out of line, so that the read unlock a guard's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
    fn wake_writer(&self) {
        let mut drain = self.drain.lock();
        if !drain.is_empty() {
            drain.pop_front(0);
        }
    }

    /// Takes the upgradable lock if no writer or upgradable reader exists.
    #[inline]
    pub(crate) fn try_upgradable_read(&self) -> bool {
        let taken = self.gate.try_lock_looking();
        if taken {
            self.accesses.shared();
        }
        taken
    }

    /// Releases the upgradable lock.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock, which it gives up.
    #[inline]
    pub(crate) unsafe fn upgradable_unlock(&self) {
        self.accesses.shared();
        // SAFETY: the upgradable lock is `gate`, which the caller holds.
        unsafe { self.gate.unlock() }
    }

    /// Takes the write lock if nobody holds any lock.
    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        // Readers inside fail it as surely as a held `gate` does; looking first keeps a failed
        // try from taking `gate`, which would make writers and upgrades meanwhile wait.
        if readers(self.state.load(Ordering::Relaxed)) != 0 || !self.gate.try_lock_looking() {
            return false;
        }
        // SAFETY: we hold `gate`, which makes this the upgradable lock.
        if unsafe { self.try_upgrade() } {
            true
        } else {
            // SAFETY: we took `gate` above.
            unsafe { self.gate.unlock() };
            false
        }
    }

    /// Releases the write lock, letting in the readers queued behind it first.
    ///
    /// # Safety
    ///
    /// The caller must hold the write lock, which it gives up.
    #[inline]
    pub(crate) unsafe fn write_unlock(&self) {
        self.accesses.exclusive();
        // SAFETY: a writer holds `gate`. Released even if waking a reader panics.
        let _gate = Finally::new(|| unsafe { self.gate.unlock() });
        self.clear_write(0);
    }

    /// Panics, changing nothing, if a write lock could not become a read lock: the readers
    /// counted in with it would not fit. Called before a downgrade gives its guard up.
    #[track_caller]
    pub(crate) fn check_downgrade(&self) {
        if readers(self.state.load(Ordering::Relaxed)) >= MAX_READERS {
            too_many_readers();
        }
    }

    /// Turns the write lock into a read lock, letting in the queued readers with it.
    ///
    /// Waking a reader can panic, so the caller gives up its write guard and builds the read
    /// guard first (after [`check_downgrade`](Self::check_downgrade)): the read lock then has
    /// an owner whatever happens here.
    ///
    /// # Safety
    ///
    /// The caller must hold the write lock; it holds a read lock afterwards.
    pub(crate) unsafe fn downgrade_write(&self) {
        // SAFETY: a writer holds `gate`. Released even if waking a reader panics.
        let _gate = Finally::new(|| unsafe { self.gate.unlock() });
        self.clear_write(1);
    }

    /// Turns the write lock into the upgradable lock, letting in the queued readers.
    ///
    /// The caller builds the upgradable guard first, as for
    /// [`downgrade_write`](Self::downgrade_write).
    ///
    /// # Safety
    ///
    /// The caller must hold the write lock; it holds the upgradable lock afterwards.
    pub(crate) unsafe fn downgrade_write_to_upgradable(&self) {
        self.clear_write(0);
    }

    /// Takes a read lock for the holder of the upgradable lock, which then gives `gate` up
    /// with [`upgradable_unlock`](Self::upgradable_unlock) once a read guard owns the read
    /// lock (waking the next holder of `gate` can panic). Panics, changing nothing, when
    /// [`MAX_READERS`] are inside.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock.
    #[track_caller]
    pub(crate) unsafe fn downgrade_upgradable(&self) {
        // `WRITE` is clear: only the holder of `gate` sets it.
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if readers(s) == MAX_READERS {
                too_many_readers();
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
    }

    /// Turns the upgradable lock into the write lock if no reader is inside.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock. On success it holds the write lock instead;
    /// on failure nothing changed.
    #[inline]
    pub(crate) unsafe fn try_upgrade(&self) -> bool {
        // `WRITE` is clear while we hold `gate` without having set it.
        let mut s = self.state.load(Ordering::Relaxed);
        while readers(s) == 0 {
            match self.state.compare_exchange_weak(
                s,
                s | WRITE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.accesses.exclusive();
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
        false
    }

    /// Clears `WRITE`, letting every queued reader in (plus `extra` read locks for the caller,
    /// taken in the same step). Panics, changing nothing, if `extra` does not fit.
    #[track_caller]
    fn clear_write(&self, extra: usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & WRITE != 0, "clearing a write that was not announced");
            if s & PARKED != 0 {
                return self.let_readers_in(extra);
            }
            if extra > MAX_READERS - readers(s) {
                too_many_readers();
            }
            let next = (s & !WRITE) + extra * READER;
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
    }

    /// `clear_write` with readers queued: counts them in and wakes them, batch by batch, as
    /// many as there is room for.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn let_readers_in(&self, extra: usize) {
        let mut queue = self.readers.lock();
        if extra > MAX_READERS - readers(self.state.load(Ordering::Relaxed)) {
            too_many_readers();
        }
        // The readers this release owes are those queued behind the writer, up to the last
        // one queued now. On a limited lock new readers queue while anyone does, so more can
        // queue while a full batch is woken (the lock released): once the owed ones are in,
        // those are let in too unless a writer waits for `gate` (it goes first, as it would
        // had they come after it) while readers are inside (one of them lets the rest in when
        // it leaves, if the writer has not announced itself by then). So the writer waits for
        // one batch, even when the wakers of that batch make new readers queue at once. If
        // the last owed reader leaves the queue by itself meanwhile, the mark is not seen and
        // every queued reader is let in, room permitting. Unlimited locks let new readers in
        // without queueing once `WRITE` is cleared.
        let last_owed = if self.limited() {
            Some(queue.back_mark())
        } else {
            None
        };
        let mut owed_in = false;
        let mut first = true;
        loop {
            // Until `WRITE` is cleared below nobody else counts readers in, and after that,
            // on a limited lock, new readers queue while `PARKED` is set: the room only grows
            // (a downgrade of the upgradable lock aside, which may pass the limit).
            let held = readers(self.state.load(Ordering::Relaxed)) + if first { extra } else { 0 };
            let room = self.max.saturating_sub(held);
            let mut admitted = 0;
            while admitted < room && !queue.is_full() && !queue.is_empty() {
                if owed_in && held + admitted > 0 && self.gate.has_waiters() {
                    break;
                }
                owed_in |= last_owed.is_some_and(|mark| queue.front_is(mark));
                queue.pop_front(LET_IN);
                admitted += 1;
            }
            if admitted > 0 {
                // Counted before they can run: they are woken after this lock is released.
                self.entering
                    .fetch_add(admitted * ENTERING, Ordering::Relaxed);
            }
            let add = (admitted + if first { extra } else { 0 }) * READER;
            let mut s = self.state.load(Ordering::Relaxed);
            loop {
                // Each queued reader is a live future or thread, so the count cannot
                // overflow here without [`MAX_READERS`] of them in memory.
                debug_assert!(readers(s) + add / READER <= MAX_READERS);
                let mut next = s + add;
                if first {
                    next &= !WRITE;
                }
                if queue.is_empty() {
                    next &= !PARKED;
                }
                match self
                    .state
                    .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
                {
                    Ok(_) => break,
                    Err(actual) => s = actual,
                }
            }
            first = false;
            if queue.is_empty() {
                return;
            }
            if owed_in && readers(s) + add / READER > 0 && self.gate.has_waiters() {
                // Only readers that queued during this release are left: see `last_owed`.
                return;
            }
            if admitted == room {
                // Full. Readers released since the count was read saw `WRITE` and left the
                // letting-in to us: look again. Those released from now on see `PARKED`.
                let s = self.state.load(Ordering::Relaxed);
                if readers(s) >= self.max {
                    return;
                }
            }
            queue.make_room();
        }
    }

    /// A reader let in by a write has started to run (or gave its lock up without running).
    /// The last of its batch wakes the holder of `gate` if it waits for them.
    #[inline]
    fn entered(&self) {
        let prev = self.entering.fetch_sub(ENTERING, Ordering::AcqRel);
        debug_assert!(prev >= ENTERING, "a reader entered that was not let in");
        if prev == ENTERING | WANT {
            self.wake_writer();
        }
    }

    /// Whether a writer holds or waits for the lock (a hint).
    pub(crate) fn is_write_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITE != 0
    }

    /// How many read locks are held (a hint; the upgradable lock is not counted). Readers let
    /// in by a write but not yet running count as holders.
    pub(crate) fn reader_count(&self) -> usize {
        readers(self.state.load(Ordering::Relaxed))
    }

    /// Adds `n` read locks held by nobody, or takes them away again (for tests at the limit).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn add_phantom_readers(&self, n: isize) {
        if n >= 0 {
            self.state.fetch_add(n as usize * READER, Ordering::Relaxed);
        } else {
            self.state
                .fetch_sub(n.unsigned_abs() * READER, Ordering::Relaxed);
        }
    }
}

struct ReadWait<'a> {
    raw: &'a RawRwLock,
}

impl<'a> Protocol<'a> for ReadWait<'a> {
    type Output = ();

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.readers
    }

    fn spins(&self) -> bool {
        // A write is a short critical section, as a mutex's is.
        true
    }

    #[track_caller]
    fn attempt(&mut self) -> Option<()> {
        match self.raw.read_now() {
            Ok(entered) => entered.then_some(()),
            Err(()) => too_many_readers(),
        }
    }

    #[track_caller]
    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        let state = &self.raw.state;
        let mut s = state.load(Ordering::Relaxed);
        loop {
            let Ok(waits) = self.raw.must_wait(s) else {
                too_many_readers()
            };
            let next = if !waits {
                s + READER
            } else if s & PARKED == 0 {
                s | PARKED
            } else {
                break;
            };
            match state.compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) if !waits => return Check::Done(()),
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        Check::Wait {
            data: 0,
            front: false,
        }
    }

    fn released(&mut self) -> bool {
        // A write unlock lets the queued readers in batch by batch: a reader polled before
        // its batch comes enters by itself, as one that arrives then does.
        self.raw.state.load(Ordering::Acquire) & WRITE == 0
    }

    fn at_deadline(&mut self, node: Pin<&Node>) -> AtDeadline<()> {
        if !self.raw.limited() {
            return AtDeadline::released_if(self.released());
        }
        // On a limited lock `attempt` queues behind any queued reader, this one's own node
        // included. First in line, with room and no writer waiting for its turn, the release
        // under way (or the next one to make room) would let it in: it takes the room itself.
        let mut queue = self.raw.readers.lock();
        if !node.is_linked() {
            drop(queue);
            return AtDeadline::released_if(self.released());
        }
        if !queue.is_front(&node) || self.raw.gate.has_waiters() || !self.raw.take_room() {
            return AtDeadline::TimedOut;
        }
        let removed = queue.remove(&node);
        debug_assert!(removed.is_ok(), "linked under the lock we hold");
        queue.clear_when_empty(&self.raw.state, PARKED);
        AtDeadline::Ended(())
    }

    fn takes_before_leaving(&self) -> bool {
        // Entered before the next writer can announce itself, as the batch would have been.
        true
    }

    fn woken(&mut self, wakeup: Wakeup) -> Option<()> {
        if wakeup.token == ROOM {
            // Let in for room, already counted as a reader.
            return Some(());
        }
        // Let in by a writer, already counted as a reader. If waking the writer that waits
        // for us panics, no guard will own that read lock: give it up.
        let raw = self.raw;
        // SAFETY: we were counted in as a reader.
        let undo = Finally::new(|| unsafe { raw.read_unlock() });
        raw.entered();
        undo.disarm();
        Some(())
    }

    fn unlinked(&mut self, queue: &mut Locked<'_>, _data: usize) {
        queue.clear_when_empty(&self.raw.state, PARKED);
    }

    fn undo(&mut self, (): ()) {
        // SAFETY: `check` counted this wait in as a reader; it gives that lock up.
        unsafe { self.raw.read_unlock() };
    }

    fn abandon(&mut self, wakeup: Wakeup) {
        let raw = self.raw;
        // SAFETY: whoever woke us counted us as a reader; we give that lock up, even if waking
        // the writer that waits for us panics.
        let _release = Finally::new(|| unsafe { raw.read_unlock() });
        if wakeup.token == LET_IN {
            raw.entered();
        }
    }
}

/// Advances a read; `Ready` means the caller now holds a read lock. The caller tries
/// [`RawRwLock::try_read_or_panic`] first, inline.
#[inline(never)]
#[track_caller]
pub(crate) fn poll_read<S: Strategy>(
    node: Pin<&Node>,
    raw: &RawRwLock,
    strategy: &mut S,
) -> Poll<()> {
    let res = poll_wait(node, strategy, &mut ReadWait { raw });
    if res.is_ready() {
        raw.accesses.shared();
    }
    res
}

/// Withdraws an unfinished read, giving up a read lock it was let in with.
pub(crate) fn cancel_read(node: Pin<&Node>, raw: &RawRwLock) {
    cancel(node, &mut ReadWait { raw });
}

struct DrainWait<'a> {
    raw: &'a RawRwLock,
    announced: &'a mut Flag,
}

impl DrainWait<'_> {
    /// Sets `WRITE` (from now on new readers queue behind us) if the readers let in by the
    /// last write have all run, as `entering`, just read, says. Returns the state before, or
    /// `None` while some have not run.
    #[inline]
    fn announce_if_entered(&mut self, entering: usize) -> Option<usize> {
        if entering & !WANT != 0 {
            return None;
        }
        if entering != 0 {
            // Only our `WANT` is left; nobody else changes the word while we hold `gate` and
            // the count is zero.
            self.raw.entering.store(0, Ordering::Relaxed);
        }
        self.announced.set(true);
        let prev = self.raw.state.fetch_or(WRITE, Ordering::Acquire);
        debug_assert!(prev & WRITE == 0, "two writers announced");
        Some(prev)
    }
}

impl<'a> Protocol<'a> for DrainWait<'a> {
    type Output = ();

    #[inline]
    fn queue(&self) -> &'a WaitQueue {
        &self.raw.drain
    }

    fn spins(&self) -> bool {
        // Readers inside leave after a short critical section.
        true
    }

    #[inline]
    fn attempt(&mut self) -> Option<()> {
        let s = if self.announced.get() {
            self.raw.state.load(Ordering::Acquire)
        } else {
            // Readers let in by the last write go first: until they have run, we wait.
            let entering = self.raw.entering.load(Ordering::Acquire);
            self.announce_if_entered(entering)?
        };
        (readers(s) == 0).then_some(())
    }

    fn check(&mut self, _queue: &mut Locked<'_>) -> Check<()> {
        if !self.announced.get() {
            // Mark that we wait, reading the count in the same step: if it was not zero, the
            // last of them to run sees the mark and wakes us.
            let prev = self.raw.entering.fetch_or(WANT, Ordering::AcqRel);
            let _ = self.announce_if_entered(prev | WANT);
        }
        if self.announced.get() && readers(self.raw.state.load(Ordering::Acquire)) == 0 {
            Check::Done(())
        } else {
            Check::Wait {
                data: 0,
                front: false,
            }
        }
    }

    fn undo(&mut self, (): ()) {
        // Back to holding `gate` alone, as before the write was announced.
        self.announced.set(false);
        self.raw.clear_write(0);
    }

    fn woken(&mut self, _wakeup: Wakeup) -> Option<()> {
        // Not announced yet: the let-in readers have run; start over and announce.
        if !self.announced.get() {
            return None;
        }
        (readers(self.raw.state.load(Ordering::Acquire)) == 0).then_some(())
    }
}

/// Waits for the readers inside to leave, on behalf of the holder of `gate`.
#[derive(Debug, Default)]
pub(crate) struct DrainWaiter {
    announced: Flag,
}

impl DrainWaiter {
    pub(crate) const fn new() -> Self {
        DrainWaiter {
            announced: Flag::CLEAR,
        }
    }

    /// Announces the write and waits for the readers to leave; `Ready` means the caller now
    /// holds the write lock.
    ///
    /// The caller must hold `gate` (as a writer that locked it, or an upgradable reader).
    #[inline]
    pub(crate) fn poll_drain<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        let mut wait = DrainWait {
            raw,
            announced: &mut self.announced,
        };
        let res = poll_wait(node, strategy, &mut wait);
        if res.is_ready() {
            self.announced = Flag::CLEAR;
            raw.accesses.exclusive();
        }
        res
    }

    /// Withdraws an unfinished drain: clears `WRITE`, letting in the readers that queued
    /// behind it, or the `WANT` of a drain still waiting for let-in readers to run. The caller
    /// still holds `gate` afterwards.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, raw: &RawRwLock) {
        let announced = self.announced.take();
        // Run even if leaving the queue panics (dropping a user's waker can).
        let _then = Finally::new(|| {
            if announced {
                raw.clear_write(0);
            } else {
                // Only the holder of `gate` sets `WANT`. A reader that saw it may still wake
                // whoever waits on `drain` by then; a woken drain checks again before it
                // goes on.
                raw.entering.fetch_and(!WANT, Ordering::Relaxed);
            }
        });
        // Only the holder of `gate` waits on `drain`: there is nobody to pass a wake-up to.
        // Leaving reads nothing but the node: the flag, cleared above, does not matter.
        cancel(
            node,
            &mut DrainWait {
                raw,
                announced: &mut self.announced,
            },
        );
    }
}

/// The part of a write future that waits beside its node: first for `gate`, then for the
/// readers to leave (and, before it announces, for readers let in by the last write to run).
///
/// One word, both waiters' flags and whether it holds `gate` in it, so the future keeps the
/// layout `Shell` wants.
#[derive(Debug, Default)]
pub(crate) struct WriteWaiter {
    bits: usize,
}

/// The low bits hold the gate's `LockWaiter`.
const ANNOUNCED: usize = 1 << LockWaiter::BITS;
/// The write wait holds `gate` and waits on `drain`.
const HOLDS_GATE: usize = 1 << (LockWaiter::BITS + 1);

impl WriteWaiter {
    pub(crate) const fn new() -> Self {
        WriteWaiter { bits: 0 }
    }

    fn parts(&self) -> (LockWaiter, DrainWaiter, bool) {
        let gate = LockWaiter::from_bits(self.bits);
        let mut drain = DrainWaiter::new();
        drain.announced.set(self.bits & ANNOUNCED != 0);
        (gate, drain, self.bits & HOLDS_GATE != 0)
    }

    fn store(&mut self, gate: &LockWaiter, drain: &DrainWaiter, holds_gate: bool) {
        let mut bits = gate.into_bits();
        if drain.announced.get() {
            bits |= ANNOUNCED;
        }
        if holds_gate {
            bits |= HOLDS_GATE;
        }
        self.bits = bits;
    }

    /// Advances the wait; `Ready` means the caller now holds the write lock.
    pub(crate) fn poll_write<S: Strategy>(
        &mut self,
        node: Pin<&Node>,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        /// Stores the parts back however the poll ends: one that took `gate` and then
        /// panicked (dropping a user's waker can) must still say so, for its cancel.
        struct Parts<'w> {
            waiter: &'w mut WriteWaiter,
            gate: LockWaiter,
            drain: DrainWaiter,
            holds_gate: bool,
        }
        impl Drop for Parts<'_> {
            fn drop(&mut self) {
                self.waiter.store(&self.gate, &self.drain, self.holds_gate);
            }
        }
        let (gate, drain, holds_gate) = self.parts();
        let mut parts = Parts {
            waiter: self,
            gate,
            drain,
            holds_gate,
        };
        let res = if !parts.holds_gate
            && parts
                .gate
                .poll_lock(node, &raw.gate, strategy, TaskSpin::Alone)
                .is_pending()
        {
            Poll::Pending
        } else {
            parts.holds_gate = true;
            parts.drain.poll_drain(node, raw, strategy)
        };
        parts.holds_gate &= res.is_pending();
        res
    }

    /// Withdraws an unfinished wait, releasing whatever it had taken.
    pub(crate) fn cancel(&mut self, node: Pin<&Node>, raw: &RawRwLock) {
        let (mut gate, mut drain, holds_gate) = self.parts();
        if holds_gate {
            // SAFETY: we took `gate` and nobody else released it; it is released even if
            // leaving the drain panics (dropping a user's waker can).
            let _release = Finally::new(|| unsafe { raw.gate.unlock() });
            drain.cancel(node, raw);
        } else {
            gate.cancel(node, &raw.gate);
        }
        self.store(&gate, &drain, false);
    }
}

/// Advances an upgradable read; `Ready` means the caller now holds the upgradable lock.
#[inline]
pub(crate) fn poll_upgradable<S: Strategy>(
    waiter: &mut LockWaiter,
    node: Pin<&Node>,
    raw: &RawRwLock,
    strategy: &mut S,
) -> Poll<()> {
    let res = waiter.poll_lock(node, &raw.gate, strategy, TaskSpin::Alone);
    if res.is_ready() {
        raw.accesses.shared();
    }
    res
}

/// Withdraws an unfinished upgradable read.
pub(crate) fn cancel_upgradable(waiter: &mut LockWaiter, node: Pin<&Node>, raw: &RawRwLock) {
    waiter.cancel(node, &raw.gate);
}

/// Releases the upgradable lock an unfinished upgrade owned, after its drain was withdrawn.
///
/// # Safety
///
/// The caller must own the upgradable lock.
pub(crate) unsafe fn release_gate(raw: &RawRwLock) {
    raw.accesses.shared();
    // SAFETY: the caller owns the upgradable lock, which is `gate`.
    unsafe { raw.gate.unlock() }
}

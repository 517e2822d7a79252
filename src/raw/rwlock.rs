//! The reader-writer state machine under [`RwLock`](crate::RwLock), without the protected value.
//!
//! # Parts
//!
//! - `gate`: a [`RawMutex`] that writers and upgradable readers hold. At most one of them
//!   exists at a time, and they queue on the mutex with its fairness rules.
//! - `state`: the word below, shared by everybody.
//! - `readers`: the event that readers blocked by a writer park on.
//! - `drain`: the event that the holder of `gate`, having announced a write, parks on until
//!   the readers inside have left. Only the holder of `gate` ever listens on it.
//!
//! # State word
//!
//! With `B = (usize::BITS - 2) / 2` bits per count:
//!
//! | bits          | name      | meaning                                                      |
//! |---------------|-----------|--------------------------------------------------------------|
//! | 0             | `WRITE`   | the holder of `gate` wants or has exclusive access           |
//! | 1             | `WANT`    | the holder of `gate` waits to announce `WRITE`               |
//! | 2 .. 2+B      | readers   | read locks held (an upgradable reader is not counted)        |
//! | 2+B .. 2+2B   | queued    | readers behind a writer: waiting while `WRITE` is set,       |
//! |               |           | let in but not yet entered once it is cleared                |
//!
//! A writer owns the lock when it holds `gate`, `WRITE` is set and the reader count is zero.
//! New readers never enter while `WRITE` is set, so once the count reaches zero it stays there.
//!
//! `WRITE` may only be set while `queued` is zero. So a reader counted in `queued` that finds
//! `WRITE` clear knows it was let in by the write it queued behind, never confused with a
//! later one, and it enters by moving itself from `queued` to `readers` in one step. Readers
//! that give up leave `queued` the same way, whichever side of the release they are on.
//!
//! # Fairness (phase-fair)
//!
//! - *Writers are not starved by readers.* As soon as a writer holds `gate` and the readers
//!   let in by the previous write have entered, it sets `WRITE`; from then on new readers (and
//!   `try_read`) queue, and the writer waits only for the readers already inside. A writer
//!   therefore waits for the writers and upgradable readers queued on `gate` ahead of it (with
//!   the mutex's bounds) and for one batch of readers.
//! - *Readers are not starved by writers.* Whoever clears `WRITE` (a write guard dropped or
//!   downgraded, a cancelled write or upgrade) lets every queued reader in and wakes them. The
//!   next writer cannot set `WRITE` until they have all entered (or given up), and then waits
//!   for them to leave. A reader that arrives while a writer is queued or writing therefore
//!   gets in when that writer is done, before any writer that comes later.
//!
//! # Why no wake-up is lost
//!
//! - Readers: a reader registers its listener *before* it enqueues (the enqueue happens in the
//!   re-check step of [`poll_loop`]), and whoever clears `WRITE` sees `queued > 0` and calls
//!   `notify(usize::MAX)` after its compare-exchange. So every queued reader's listener exists
//!   when the notification is sent, and after every wake-up and every new registration the
//!   reader checks `WRITE` again.
//! - The drain: a reader whose release takes the count to zero while `WRITE` is set notifies
//!   `drain`; so does a reader that takes `queued` to zero while `WANT` is set. The holder of
//!   `gate` sets `WANT` (or `WRITE`), registers on `drain`, and re-checks before parking.
//! - `gate` follows the mutex's own protocol.
//!
//! # Allocation
//!
//! Uncontended paths never touch an event: `readers` is notified only when `queued > 0` (the
//! exact count of parked readers plays the part of the mutex's sticky `CONTENDED` bit), `drain`
//! only when a reader leaves while a writer is waiting for it, and `gate` has its own sticky
//! `CONTENDED` bit.

use core::task::Poll;

use event_listener::{Event, Listener as _};

use crate::raw::mutex::{LockWaiter, RawMutex};
use crate::raw::wait::{poll_loop, Attempt, Flag, Slot, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const WRITE: usize = 1;
const WANT: usize = 1 << 1;
const COUNT_BITS: u32 = (usize::BITS - 2) / 2;
const READER: usize = 1 << 2;
const QUEUED: usize = 1 << (2 + COUNT_BITS);
const MAX_COUNT: usize = (1 << COUNT_BITS) - 1;

#[inline]
const fn readers(state: usize) -> usize {
    (state >> 2) & MAX_COUNT
}

#[inline]
const fn queued(state: usize) -> usize {
    (state >> (2 + COUNT_BITS)) & MAX_COUNT
}

#[cold]
fn too_many_readers() -> ! {
    panic!("too many readers of one `RwLock` (at most {MAX_COUNT})")
}

/// A reader-writer lock without data.
pub(crate) struct RawRwLock {
    gate: RawMutex,
    state: AtomicUsize,
    readers: Event,
    drain: Event,
}

impl RawRwLock {
    const_fn! {
        pub(crate) const fn new() -> RawRwLock {
            RawRwLock {
                gate: RawMutex::new(),
                state: AtomicUsize::new(0),
                readers: Event::new(),
                drain: Event::new(),
            }
        }
    }

    /// Takes a read lock unless a writer holds or waits for the lock.
    #[inline]
    pub(crate) fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & WRITE != 0 {
                return false;
            }
            if readers(s) == MAX_COUNT {
                too_many_readers();
            }
            match self.state.compare_exchange_weak(
                s,
                s + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Releases a read lock; the last reader out hands the lock to a waiting writer.
    ///
    /// # Safety
    ///
    /// The caller must hold a read lock, which it gives up.
    #[inline]
    pub(crate) unsafe fn read_unlock(&self) {
        let prev = self.state.fetch_sub(READER, Ordering::Release);
        debug_assert!(readers(prev) > 0, "read unlock without a reader");
        if readers(prev) == 1 && prev & WRITE != 0 {
            self.wake_writer();
        }
    }

    /// Out of line, so that the read unlock a guard's drop inlines stays one atomic and a test.
    #[cold]
    #[inline(never)]
    fn wake_writer(&self) {
        self.drain.notify(1);
    }

    /// Takes the upgradable lock if no writer or upgradable reader exists.
    #[inline]
    pub(crate) fn try_upgradable_read(&self) -> bool {
        self.gate.try_lock()
    }

    /// Releases the upgradable lock.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock, which it gives up.
    #[inline]
    pub(crate) unsafe fn upgradable_unlock(&self) {
        // SAFETY: the upgradable lock is `gate`, which the caller holds.
        unsafe { self.gate.unlock() }
    }

    /// Takes the write lock if nobody holds any lock.
    #[inline]
    pub(crate) fn try_write(&self) -> bool {
        if !self.gate.try_lock() {
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
        self.clear_write(0);
        // SAFETY: a writer holds `gate`.
        unsafe { self.gate.unlock() }
    }

    /// Turns the write lock into a read lock, letting in the queued readers with it.
    ///
    /// # Safety
    ///
    /// The caller must hold the write lock; it holds a read lock afterwards.
    pub(crate) unsafe fn downgrade_write(&self) {
        self.clear_write(1);
        // SAFETY: a writer holds `gate`.
        unsafe { self.gate.unlock() }
    }

    /// Turns the write lock into the upgradable lock, letting in the queued readers.
    ///
    /// # Safety
    ///
    /// The caller must hold the write lock; it holds the upgradable lock afterwards.
    pub(crate) unsafe fn downgrade_write_to_upgradable(&self) {
        self.clear_write(0);
    }

    /// Turns the upgradable lock into a read lock.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock; it holds a read lock afterwards.
    pub(crate) unsafe fn downgrade_upgradable(&self) {
        // `WRITE` is clear: only the holder of `gate` sets it.
        let prev = self.state.fetch_add(READER, Ordering::Relaxed);
        if readers(prev) == MAX_COUNT {
            self.state.fetch_sub(READER, Ordering::Relaxed);
            too_many_readers();
        }
        // SAFETY: the upgradable lock is `gate`.
        unsafe { self.gate.unlock() }
    }

    /// Turns the upgradable lock into the write lock if no reader is inside.
    ///
    /// # Safety
    ///
    /// The caller must hold the upgradable lock. On success it holds the write lock instead;
    /// on failure nothing changed.
    #[inline]
    pub(crate) unsafe fn try_upgrade(&self) -> bool {
        // `WRITE` is clear while we hold `gate` without having set it; readers let in by the
        // previous write (`queued`) must enter and leave first, like any other reader.
        let mut s = self.state.load(Ordering::Relaxed);
        while readers(s) == 0 && queued(s) == 0 {
            match self.state.compare_exchange_weak(
                s,
                s | WRITE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => s = actual,
            }
        }
        false
    }

    /// Clears `WRITE`, letting every queued reader in (plus `extra` read locks for the caller,
    /// taken in the same step), and wakes the readers it let in.
    fn clear_write(&self, extra: usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        let released = loop {
            debug_assert!(s & WRITE != 0, "clearing a write that was not announced");
            if readers(s) + extra > MAX_COUNT {
                too_many_readers();
            }
            let next = (s & !WRITE) + extra * READER;
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break queued(s),
                Err(actual) => s = actual,
            }
        };
        if released > 0 {
            self.readers.notify(usize::MAX);
        }
    }

    /// A read attempt for a reader that is not queued; may enqueue it when `enqueue` is set.
    /// Returns `Ok` when the read lock was taken, `Err(true)` when it enqueued.
    fn read_or_enqueue(&self, enqueue: bool) -> Result<(), bool> {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let next = if s & WRITE == 0 {
                if readers(s) == MAX_COUNT {
                    too_many_readers();
                }
                s + READER
            } else if enqueue {
                if queued(s) == MAX_COUNT {
                    too_many_readers();
                }
                s + QUEUED
            } else {
                return Err(false);
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if s & WRITE == 0 => return Ok(()),
                Ok(_) => return Err(true),
                Err(actual) => s = actual,
            }
        }
    }

    /// A queued reader enters once `WRITE` is clear (it was let in). Returns whether it did.
    fn enter_queued(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & WRITE != 0 {
                return false;
            }
            if readers(s) == MAX_COUNT {
                too_many_readers();
            }
            match self.state.compare_exchange_weak(
                s,
                s - QUEUED + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.after_dequeue(s - QUEUED);
                    return true;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// A queued reader gives up, whether or not it was already let in.
    fn leave_queue(&self) {
        let prev = self.state.fetch_sub(QUEUED, Ordering::Relaxed);
        debug_assert!(queued(prev) > 0, "left a queue it was not in");
        self.after_dequeue(prev - QUEUED);
    }

    /// The last released reader to enter or leave wakes a holder of `gate` waiting to announce.
    #[inline]
    fn after_dequeue(&self, now: usize) {
        if queued(now) == 0 && now & (WANT | WRITE) == WANT {
            self.drain.notify(1);
        }
    }

    /// Sets `WRITE` on behalf of the holder of `gate` once the readers let in by the previous
    /// write have entered; until then sets `WANT` and returns false.
    #[inline]
    fn try_announce(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(s & WRITE == 0, "two writers announced");
            let next = if queued(s) == 0 {
                (s | WRITE) & !WANT
            } else if s & WANT == 0 {
                s | WANT
            } else {
                return false;
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return next & WRITE != 0,
                Err(actual) => s = actual,
            }
        }
    }

    /// Withdraws a `WANT` that did not lead to an announcement.
    fn withdraw_want(&self) {
        self.state.fetch_and(!WANT, Ordering::Relaxed);
    }

    /// Whether the readers inside have all left (for the holder of `gate` with `WRITE` set).
    #[inline]
    fn drained(&self) -> bool {
        readers(self.state.load(Ordering::Acquire)) == 0
    }

    /// Whether a writer holds or waits for the lock (a hint).
    pub(crate) fn is_write_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & WRITE != 0
    }

    /// How many read locks are held (a hint; the upgradable lock is not counted). Readers let
    /// in by a write but not yet running count as holders.
    pub(crate) fn reader_count(&self) -> usize {
        let s = self.state.load(Ordering::Relaxed);
        readers(s) + if s & WRITE == 0 { queued(s) } else { 0 }
    }
}

/// The part of a read future that waits.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct ReadWaiter {
    listener: Slot,
    /// Whether this reader is counted in `queued`.
    queued: Flag,
}

impl ReadWaiter {
    pub(crate) const fn new() -> Self {
        ReadWaiter {
            listener: Slot::new(),
            queued: Flag::CLEAR,
        }
    }

    /// Advances the wait; `Ready` means the caller now holds a read lock.
    #[inline]
    pub(crate) fn poll_read<S: Strategy>(&mut self, raw: &RawRwLock, strategy: &mut S) -> Poll<()> {
        // No writer, inlined into the caller: the loop's first attempt, without the loop.
        if self.listener.is_none() && !self.queued.get() && raw.try_read() {
            return Poll::Ready(());
        }
        self.poll_read_slow(raw, strategy)
    }

    #[inline(never)]
    fn poll_read_slow<S: Strategy>(&mut self, raw: &RawRwLock, strategy: &mut S) -> Poll<()> {
        let queued = &mut self.queued;
        poll_loop(strategy, &raw.readers, &mut self.listener, |attempt| {
            if queued.get() {
                if raw.enter_queued() {
                    queued.set(false);
                    return Some(());
                }
                return None;
            }
            // Enqueue only with a listener in place, so the releasing notification finds it.
            match raw.read_or_enqueue(attempt == Attempt::Registered) {
                Ok(()) => Some(()),
                Err(enqueued) => {
                    queued.set(enqueued);
                    None
                }
            }
        })
    }

    /// Withdraws an unfinished wait: leaves the queue, on either side of its release.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        // Readers are woken all at once, so a notification needs no passing on.
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
        if self.queued.take() {
            raw.leave_queue();
        }
    }
}

/// Waits for the readers inside to leave, on behalf of the holder of `gate`.
#[derive(Debug, Default)]
pub(crate) struct DrainWaiter {
    listener: Slot,
    announced: Flag,
}

impl DrainWaiter {
    pub(crate) const fn new() -> Self {
        DrainWaiter {
            listener: Slot::new(),
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
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        // No reader inside, inlined into the caller: announce and own the lock at once.
        if self.listener.is_none() && !self.announced.get() && raw.try_announce() {
            if raw.drained() {
                return Poll::Ready(());
            }
            self.announced.set(true);
        }
        self.poll_drain_slow(raw, strategy)
    }

    #[inline(never)]
    fn poll_drain_slow<S: Strategy>(&mut self, raw: &RawRwLock, strategy: &mut S) -> Poll<()> {
        let announced = &mut self.announced;
        let res = poll_loop(strategy, &raw.drain, &mut self.listener, |_| {
            if !announced.get() {
                if !raw.try_announce() {
                    return None;
                }
                announced.set(true);
            }
            raw.drained().then_some(())
        });
        if res.is_ready() {
            self.announced.set(false);
        }
        res
    }

    /// Withdraws an unfinished drain: clears `WRITE` (letting in the readers that queued behind
    /// it), or the `WANT` that preceded it. The caller still holds `gate` afterwards.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        // Only the holder of `gate` listens on `drain`: there is nobody to pass a wake-up to.
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
        if self.announced.take() {
            raw.clear_write(0);
        } else {
            raw.withdraw_want();
        }
    }
}

/// The part of a write future that waits: first for `gate`, then for the readers to leave.
#[derive(Debug, Default)]
pub(crate) struct WriteWaiter {
    gate: LockWaiter,
    has_gate: Flag,
    drain: DrainWaiter,
}

impl WriteWaiter {
    pub(crate) const fn new() -> Self {
        WriteWaiter {
            gate: LockWaiter::new(),
            has_gate: Flag::CLEAR,
            drain: DrainWaiter::new(),
        }
    }

    /// Advances the wait; `Ready` means the caller now holds the write lock.
    pub(crate) fn poll_write<S: Strategy>(
        &mut self,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        if !self.has_gate.get() {
            if self.gate.poll_lock(&raw.gate, strategy).is_pending() {
                return Poll::Pending;
            }
            self.has_gate.set(true);
        }
        let res = self.drain.poll_drain(raw, strategy);
        if res.is_ready() {
            self.has_gate.set(false);
        }
        res
    }

    /// Withdraws an unfinished wait, releasing whatever it had taken.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        if self.has_gate.take() {
            self.drain.cancel(raw);
            // SAFETY: we took `gate` and nobody else released it.
            unsafe { raw.gate.unlock() };
        } else {
            self.gate.cancel(&raw.gate);
        }
    }
}

/// The part of an upgradable-read future that waits: the upgradable lock is `gate`.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct UpgradableWaiter {
    gate: LockWaiter,
}

impl UpgradableWaiter {
    pub(crate) const fn new() -> Self {
        UpgradableWaiter {
            gate: LockWaiter::new(),
        }
    }

    /// Advances the wait; `Ready` means the caller now holds the upgradable lock.
    pub(crate) fn poll_upgradable<S: Strategy>(
        &mut self,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        self.gate.poll_lock(&raw.gate, strategy)
    }

    /// Withdraws an unfinished wait.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        self.gate.cancel(&raw.gate);
    }
}

/// The part of an upgrade future that waits; it owns the upgradable lock until it completes.
#[derive(Debug, Default)]
pub(crate) struct UpgradeWaiter {
    drain: DrainWaiter,
}

impl UpgradeWaiter {
    pub(crate) const fn new() -> Self {
        UpgradeWaiter {
            drain: DrainWaiter::new(),
        }
    }

    /// Advances the wait; `Ready` means the upgradable lock is now the write lock.
    pub(crate) fn poll_upgrade<S: Strategy>(
        &mut self,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        self.drain.poll_drain(raw, strategy)
    }

    /// Withdraws an unfinished upgrade but keeps the upgradable lock: the caller gets its
    /// upgradable guard back.
    #[cfg(feature = "std")]
    pub(crate) fn withdraw(&mut self, raw: &RawRwLock) {
        self.drain.cancel(raw);
    }

    /// Withdraws an unfinished upgrade and releases the upgradable lock it owned.
    ///
    /// # Safety
    ///
    /// The caller must own the upgradable lock through this wait.
    pub(crate) unsafe fn cancel(&mut self, raw: &RawRwLock) {
        self.drain.cancel(raw);
        // SAFETY: the caller owns the upgradable lock, which is `gate`.
        unsafe { raw.gate.unlock() };
    }
}

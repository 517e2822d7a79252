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
//! | 1             | `PHASE`   | flips each time the queued readers are let in together       |
//! | 2 .. 2+B      | readers   | read locks held (an upgradable reader is not counted)        |
//! | 2+B .. 2+2B   | queued    | readers parked behind `WRITE`, waiting to be let in          |
//!
//! A writer owns the lock when it holds `gate`, `WRITE` is set and the reader count is zero.
//! New readers never enter while `WRITE` is set, so once the count reaches zero it stays there.
//! `queued` is non-zero only while `WRITE` is set: readers enqueue with a compare-exchange that
//! requires `WRITE`, and clearing `WRITE` admits every queued reader in the same step.
//!
//! # Fairness (phase-fair)
//!
//! - *Writers are not starved by readers.* As soon as a writer holds `gate` it sets `WRITE`;
//!   from then on new readers (and `try_read`) queue, and the writer waits only for the readers
//!   already inside. A writer therefore waits for the writers and upgradable readers queued on
//!   `gate` ahead of it (with the mutex's bounds) and for one batch of readers.
//! - *Readers are not starved by writers.* Whoever clears `WRITE` (a write guard dropped or
//!   downgraded, a cancelled write or upgrade) turns every queued reader into a lock holder in
//!   the same atomic step, before it releases `gate`. The next writer sets `WRITE` again but
//!   must wait for that whole batch to leave. A reader that arrives while a writer is queued or
//!   writing therefore gets in when that writer is done, before any writer that comes later.
//!
//! # Why no wake-up is lost
//!
//! - Readers: a reader registers its listener *before* it enqueues (the enqueue happens in the
//!   re-check step of [`poll_loop`]), and whoever clears `WRITE` sees `queued > 0` and calls
//!   `notify(usize::MAX)` after its compare-exchange. So every queued reader's listener exists
//!   when the notification is sent. A queued reader does not wait for a notification as such:
//!   it checks whether `PHASE` has flipped since it enqueued, and after every wake-up and every
//!   new registration it checks again. One bit of phase is enough: after a flip the reader
//!   holds a read lock, which keeps every writer out, so no second flip can happen before it
//!   has noticed the first.
//! - The drain: a reader whose release takes the count to zero while `WRITE` is set notifies
//!   `drain`. The writer registers on `drain` and re-checks the count before parking.
//! - `gate` follows the mutex's own protocol.
//!
//! # Allocation
//!
//! Uncontended paths never touch an event: `readers` is notified only when `queued > 0` (the
//! exact count of parked readers plays the part of the mutex's sticky `CONTENDED` bit), `drain`
//! only when a reader leaves while a writer is waiting for it, and `gate` has its own sticky
//! `CONTENDED` bit.

use core::task::Poll;

use event_listener::{Event, EventListener, Listener as _};

use crate::raw::mutex::{LockWaiter, RawMutex};
use crate::raw::wait::{poll_loop, Attempt, Strategy};
use crate::sync::{const_fn, AtomicUsize, Ordering};

const WRITE: usize = 1;
const PHASE: usize = 1 << 1;
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
            self.drain.notify(1);
        }
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
        // `WRITE` and `queued` are clear while we hold `gate` without having set `WRITE`.
        let mut s = self.state.load(Ordering::Relaxed);
        while readers(s) == 0 {
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

    /// Clears `WRITE`, turning every queued reader (plus `extra` for the caller) into a lock
    /// holder in the same step, and wakes the readers it let in.
    fn clear_write(&self, extra: usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        let admitted = loop {
            debug_assert!(s & WRITE != 0, "clearing a write that was not announced");
            let admitted = queued(s);
            let holders = readers(s) + admitted + extra;
            if holders > MAX_COUNT {
                too_many_readers();
            }
            let mut next = (s & PHASE) | (holders << 2);
            if admitted > 0 {
                next ^= PHASE;
            }
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break admitted,
                Err(actual) => s = actual,
            }
        };
        if admitted > 0 {
            self.readers.notify(usize::MAX);
        }
    }

    /// A read attempt for a reader that is not queued; may enqueue it when `enqueue` is set.
    /// Returns `Ok` when the read lock was taken, `Err(Some(phase))` when it enqueued.
    fn read_or_enqueue(&self, enqueue: bool) -> Result<(), Option<usize>> {
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
                return Err(None);
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if s & WRITE == 0 => return Ok(()),
                Ok(_) => return Err(Some(s & PHASE)),
                Err(actual) => s = actual,
            }
        }
    }

    /// Whether readers queued in `phase` have been let in.
    #[inline]
    fn admitted(&self, phase: usize) -> bool {
        self.state.load(Ordering::Acquire) & PHASE != phase
    }

    /// Sets `WRITE` on behalf of the holder of `gate`.
    fn announce_write(&self) {
        let prev = self.state.fetch_or(WRITE, Ordering::Acquire);
        debug_assert!(prev & WRITE == 0, "two writers announced");
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

    /// How many read locks are held (a hint; the upgradable lock is not counted).
    pub(crate) fn reader_count(&self) -> usize {
        readers(self.state.load(Ordering::Relaxed))
    }
}

/// The part of a read future that waits.
#[derive(Debug, Default)]
pub(crate) struct ReadWaiter {
    listener: Option<EventListener>,
    /// The phase this reader queued in, once it has queued.
    queued: Option<usize>,
}

impl ReadWaiter {
    pub(crate) const fn new() -> Self {
        ReadWaiter {
            listener: None,
            queued: None,
        }
    }

    /// Advances the wait; `Ready` means the caller now holds a read lock.
    pub(crate) fn poll_read<S: Strategy>(&mut self, raw: &RawRwLock, strategy: &mut S) -> Poll<()> {
        let queued = &mut self.queued;
        let res = poll_loop(strategy, &raw.readers, &mut self.listener, |attempt| {
            if let Some(phase) = *queued {
                return raw.admitted(phase).then_some(());
            }
            // Enqueue only with a listener in place, so the admitting notification finds it.
            match raw.read_or_enqueue(attempt == Attempt::Registered) {
                Ok(()) => Some(()),
                Err(phase) => {
                    *queued = phase;
                    None
                }
            }
        });
        if res.is_ready() {
            self.queued = None;
        }
        res
    }

    /// Withdraws an unfinished wait: leaves the queue, or releases a lock it was given.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        // Readers are woken all at once, so a notification needs no passing on.
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
        let Some(phase) = self.queued.take() else {
            return;
        };
        let mut s = raw.state.load(Ordering::Relaxed);
        loop {
            if s & PHASE != phase {
                // We were let in: give the read lock back.
                // SAFETY: the phase flip made us a holder of a read lock.
                unsafe { raw.read_unlock() };
                return;
            }
            match raw.state.compare_exchange_weak(
                s,
                s - QUEUED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
    }
}

/// Waits for the readers inside to leave, on behalf of the holder of `gate`.
#[derive(Debug, Default)]
pub(crate) struct DrainWaiter {
    listener: Option<EventListener>,
    announced: bool,
}

impl DrainWaiter {
    pub(crate) const fn new() -> Self {
        DrainWaiter {
            listener: None,
            announced: false,
        }
    }

    /// Announces the write and waits for the readers to leave; `Ready` means the caller now
    /// holds the write lock.
    ///
    /// The caller must hold `gate` (as a writer that locked it, or an upgradable reader).
    pub(crate) fn poll_drain<S: Strategy>(
        &mut self,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        if !self.announced {
            raw.announce_write();
            self.announced = true;
        }
        let res = poll_loop(strategy, &raw.drain, &mut self.listener, |_| {
            raw.drained().then_some(())
        });
        if res.is_ready() {
            self.announced = false;
        }
        res
    }

    /// Withdraws an unfinished drain: clears `WRITE` (admitting the readers that queued behind
    /// it). The caller still holds `gate` afterwards.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        // Only the holder of `gate` listens on `drain`: there is nobody to pass a wake-up to.
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
        if core::mem::take(&mut self.announced) {
            raw.clear_write(0);
        }
    }
}

/// The part of a write future that waits: first for `gate`, then for the readers to leave.
#[derive(Debug, Default)]
pub(crate) struct WriteWaiter {
    gate: LockWaiter,
    has_gate: bool,
    drain: DrainWaiter,
}

impl WriteWaiter {
    pub(crate) const fn new() -> Self {
        WriteWaiter {
            gate: LockWaiter::new(),
            has_gate: false,
            drain: DrainWaiter::new(),
        }
    }

    /// Advances the wait; `Ready` means the caller now holds the write lock.
    pub(crate) fn poll_write<S: Strategy>(
        &mut self,
        raw: &RawRwLock,
        strategy: &mut S,
    ) -> Poll<()> {
        if !self.has_gate {
            if self.gate.poll_lock(&raw.gate, strategy).is_pending() {
                return Poll::Pending;
            }
            self.has_gate = true;
        }
        let res = self.drain.poll_drain(raw, strategy);
        if res.is_ready() {
            self.has_gate = false;
        }
        res
    }

    /// Withdraws an unfinished wait, releasing whatever it had taken.
    pub(crate) fn cancel(&mut self, raw: &RawRwLock) {
        if core::mem::take(&mut self.has_gate) {
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

//! The loom facade: the only module that names `core::sync::atomic`, `loom`, or the thread
//! parking calls.
//!
//! Under `--cfg loom` every atomic, cell and park/unpark is loom's, so the models in
//! `tests/loom*.rs` and the core's own loom model explore the same code that ships.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Thread handles and parking, for the blocking waits (loom's under loom, so models can
/// block), and a number naming each thread.
#[cfg(feature = "std")]
pub(crate) mod thread {
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, park_timeout, Thread};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, yield_now, Thread};

    // This thread's number; 0 until it first asks. Under loom, each modelled thread's own.
    #[cfg(not(loom))]
    std::thread_local!(static ID: Cell<usize> = const { Cell::new(0) });
    #[cfg(loom)]
    loom::thread_local!(static ID: Cell<usize> = Cell::new(0));

    /// A number naming the current thread: never 0, and never given to another thread, even
    /// after this one has exited (`std`'s `ThreadId` has no stable number to read).
    ///
    /// The counter is a plain atomic even under loom: it only hands out distinct numbers and
    /// orders nothing, so there is nothing in it for a model to explore.
    #[inline]
    pub(crate) fn current_id() -> usize {
        ID.with(|id| match id.get() {
            0 => {
                let fresh = next_id();
                id.set(fresh);
                fresh
            }
            known => known,
        })
    }

    /// The numbers stay below the top bit, which a holder record uses to flag a task's hold.
    #[cold]
    fn next_id() -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        NEXT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < usize::MAX >> 1).then_some(n + 1)
        })
        .expect("unisync ran out of thread numbers (usize::MAX >> 1 threads asked for one)")
    }
}

/// The wait queue's lock: a spin lock around a few pointer updates.
///
/// Waiters that find it taken spin a little longer each time, then yield the thread, so a
/// holder that was preempted gets the core back instead of watching it burn.
#[cfg(not(loom))]
pub(crate) struct SpinLock(AtomicBool);

#[cfg(not(loom))]
impl SpinLock {
    pub(crate) const fn new() -> Self {
        SpinLock(AtomicBool::new(false))
    }

    #[inline]
    pub(crate) fn acquire(&self) {
        if self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.acquire_slow();
        }
    }

    #[cold]
    fn acquire_slow(&self) {
        let mut spins = 0u32;
        loop {
            while self.0.load(Ordering::Relaxed) {
                if spins < 6 {
                    for _ in 0..1u32 << spins {
                        core::hint::spin_loop();
                    }
                    spins += 1;
                } else {
                    #[cfg(feature = "std")]
                    std::thread::yield_now();
                    #[cfg(not(feature = "std"))]
                    core::hint::spin_loop();
                }
            }
            if self
                .0
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    #[inline]
    pub(crate) fn release(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The wait queue's lock under loom: loom's own mutex, whose waiters block instead of
/// spinning. Loom explores every interleaving of a spinning waiter, and with three threads
/// that takes hours; the spin lock itself is an acquire compare-and-swap and a release store,
/// which is all a lock needs to give.
#[cfg(loom)]
pub(crate) struct SpinLock {
    mutex: loom::sync::Mutex<()>,
    guard: core::cell::UnsafeCell<Option<loom::sync::MutexGuard<'static, ()>>>,
}

#[cfg(loom)]
impl SpinLock {
    pub(crate) fn new() -> Self {
        SpinLock {
            mutex: loom::sync::Mutex::new(()),
            guard: core::cell::UnsafeCell::new(None),
        }
    }

    pub(crate) fn acquire(&self) {
        let guard = self.mutex.lock().unwrap();
        // SAFETY: the guard borrows `self.mutex` and is dropped by `release`, which the holder
        // calls before `self` can go away; only the holder touches `guard`.
        unsafe {
            *self.guard.get() = Some(core::mem::transmute::<
                loom::sync::MutexGuard<'_, ()>,
                loom::sync::MutexGuard<'static, ()>,
            >(guard))
        };
    }

    pub(crate) fn release(&self) {
        // SAFETY: only the holder calls this, and it holds the guard stored by `acquire`.
        drop(unsafe { (*self.guard.get()).take() });
    }
}

/// An `UnsafeCell` whose accesses loom can check, with the same two methods either way.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline]
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for reading.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for writing.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Loom's view of the data a lock guards. The values sit in plain cells that loom cannot see,
/// so under loom a lock records its holder's access on a loom cell of its own when the lock
/// is taken and again when it is given up (a read for a shared holder, a write for an
/// exclusive one). Every model that locks from two threads then checks that the lock orders
/// each holder's accesses before the next conflicting holder's. Zero-sized, and does nothing,
/// outside loom.
pub(crate) struct Accesses {
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<()>,
}

impl Accesses {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Accesses {}
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Accesses {
            cell: loom::cell::UnsafeCell::new(()),
        }
    }

    /// A shared holder takes or gives up the lock.
    #[inline(always)]
    pub(crate) fn shared(&self) {
        #[cfg(loom)]
        self.cell.with(|_| ());
    }

    /// An exclusive holder takes or gives up the lock.
    #[inline(always)]
    pub(crate) fn exclusive(&self) {
        #[cfg(loom)]
        self.cell.with_mut(|_| ());
    }
}

/// Declares a `const fn` constructor outside loom and a plain `fn` under it (loom's atomics
/// cannot be built in a `const` context). One macro, so the body is written once.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_fn;

//! The behaviour that Rust std's own tests (`library/std/tests/sync/{mutex, rwlock, condvar,
//! barrier, reentrant_lock}.rs`) and parking_lot's test modules (`src/{mutex, rwlock, condvar,
//! remutex}.rs`, with its `tests/issue_*.rs`) check, restated against unisync's blocking API on
//! plain threads.
//!
//! unisync's locks do not poison: where std checks that a panicking holder poisons the lock,
//! these tests check what unisync documents instead ("the lock is released and the next locker
//! sees the value as the panicking code left it").
//!
//! Left out, for want of a counterpart: `Mutex`/`RwLock` `get_cloned`, `set`, `replace`,
//! `with`/`with_mut`, `MutexGuard::unlocked`, `try_map_or_err` (restated with `try_map`, which
//! gives the guard back but no error value), `read_recursive` and cloning its guard,
//! `MutexGuard::bump`/`ReentrantMutexGuard::bump`, `Condvar::notify_*`'s return values
//! (parking_lot's `test_condvar_requeue` is restated without them), `Condvar::wait_until` (an
//! `Instant` deadline), `is_locked`/`is_locked_exclusive` on `RwLock` (restated with
//! `is_write_locked` and `reader_count`), `with_upgraded` (restated as upgrade-then-downgrade),
//! serde, `FairMutex`.
//!
//! Where the originals sleep to let threads settle, these tests wait for a state they can
//! observe, with a deadline ([`common::HANG`]) that only catches hangs; no test bounds how long
//! anything takes.
// Uses the blocking forms, which need the `std` feature.
#![cfg(feature = "std")]

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{no_deadlock, on_threads, wait_until, HANG};
use unisync::{
    Barrier, Condvar, MappedMutexGuard, MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex,
    MutexGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, ReentrantMutex, RwLock,
    RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard, WaitTimeoutResult,
};

/// A value that is neither `Copy` nor `Clone`.
#[derive(Debug, PartialEq, Eq)]
struct NonCopy(i32);

/// Counts its drops in a shared counter.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A small xorshift generator, seeded per thread, standing in for `rand` in `frob`.
struct XorShift(u64);

impl XorShift {
    fn one_in(&mut self, n: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n == 0
    }
}

/// Runs `f` expecting it to panic, silencing nothing but asserting that it did.
fn assert_panics(f: impl FnOnce()) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "expected a panic"
    );
}

/// Moves `lock` into an `Arc`, runs `hold` with it on a thread of its own, checks that `hold`
/// panicked there, and returns the `Arc` for the checks that follow.
fn after_a_panicking_thread<L: Send + Sync + 'static>(
    lock: L,
    hold: impl FnOnce(&L) + Send + 'static,
) -> Arc<L> {
    let arc = Arc::new(lock);
    let arc2 = arc.clone();
    let joined = thread::spawn(move || hold(&arc2)).join();
    assert!(joined.is_err(), "the thread was to panic");
    arc
}

/// Runs its closure when dropped (as during a panic's unwinding).
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Checks that a panic in the closure of `$Guard::map` or `$Guard::try_map`, on a guard that
/// `$take` gives of the lock `$new` makes, or in that of `$Mapped::map` or `$Mapped::try_map` on
/// such a guard mapped once, releases what the guard held: `$free` succeeds after each.
macro_rules! panic_in_map_closure_releases {
    ($new:expr, $take:ident, $Guard:ident, $Mapped:ident, $free:ident) => {{
        let lock = $new;
        assert_panics(|| drop($Guard::map::<(), _>(lock.$take(), |_| panic!("in map"))));
        assert!(lock.$free().is_some(), concat!(stringify!($Guard), "::map"));
        assert_panics(|| {
            drop($Guard::try_map::<(), _>(lock.$take(), |_| {
                panic!("in try_map")
            }))
        });
        assert!(
            lock.$free().is_some(),
            concat!(stringify!($Guard), "::try_map")
        );
        assert_panics(|| {
            let mapped = $Guard::map::<(), _>(lock.$take(), |v| v);
            drop($Mapped::map::<(), _>(mapped, |_| panic!("in mapped map")));
        });
        assert!(
            lock.$free().is_some(),
            concat!(stringify!($Mapped), "::map")
        );
        assert_panics(|| {
            let mapped = $Guard::map::<(), _>(lock.$take(), |v| v);
            drop($Mapped::try_map::<(), _>(mapped, |_| {
                panic!("in mapped try_map")
            }));
        });
        assert!(
            lock.$free().is_some(),
            concat!(stringify!($Mapped), "::try_map")
        );
    }};
}

/// Checks that `guard`, a guard mapped twice down to the second element of `[0; 4]`, sees one
/// element, and writes 42 there.
fn write_42_through(mut guard: impl DerefMut<Target = [i32]>) {
    assert_eq!(guard.len(), 1);
    guard[0] = 42;
}

// ---------------------------------------------------------------------------------------------
// Mutex (std mutex.rs, parking_lot mutex.rs)
// ---------------------------------------------------------------------------------------------

// A free mutex can be locked, released and locked again.
#[test]
fn mutex_smoke() {
    let m = Mutex::new(());
    drop(m.lock_blocking());
    drop(m.lock_blocking());
    assert!(!m.is_locked(), "a dropped guard kept the lock");
}

// Six threads incrementing under the lock lose no update.
#[test]
fn mutex_lots_and_lots() {
    const J: u32 = 1000;
    const K: usize = 3;
    let m = Mutex::new(0u32);
    on_threads(
        2 * K,
        || {
            for _ in 0..J {
                *m.lock_blocking() += 1;
            }
        },
        || {},
    );
    assert_eq!(*m.lock_blocking(), J * 2 * K as u32);
}

// try_lock on a free mutex succeeds and gives write access.
#[test]
fn mutex_try_lock() {
    let m = Mutex::new(0);
    *m.try_lock().unwrap() = 1;
    assert_eq!(m.into_inner(), 1);
}

// A mutex holding an `Arc` of another mutex can be locked, then the inner one, on another thread.
#[test]
fn mutex_arc_nested() {
    let inner = Arc::new(Mutex::new(1));
    let outer = Arc::new(Mutex::new(inner));
    let (tx, rx) = channel();
    let t = thread::spawn(move || {
        let lock = outer.lock_blocking();
        let lock2 = lock.lock_blocking();
        assert_eq!(*lock2, 1);
        tx.send(()).unwrap();
    });
    rx.recv().unwrap();
    t.join().unwrap();
}

// A guard of a mutex of a `Sync` value is itself `Sync`.
#[test]
fn mutex_guard_is_sync() {
    fn sync<T: Sync>(_: T) {}
    let mutex = Mutex::new(());
    sync(mutex.lock_blocking());
}

// try_map that finds nothing gives the guard back intact (still locked, same value), and a
// later try_map on it, or on a mapped guard, still works (parking_lot's map_or_err, not mapped).
#[test]
fn mutex_try_map_not_mapped_gives_the_guard_back() {
    let mutex = Mutex::new(vec![("hello".to_string(), "world".to_string())]);
    let guard = mutex.lock_blocking();
    let guard = match MutexGuard::try_map(guard, |v| v.iter_mut().find(|(k, _)| k == "hello2")) {
        Ok(_) => panic!("nothing to find"),
        Err(guard) => guard,
    };
    assert!(
        mutex.try_lock().is_none(),
        "the returned guard still holds the lock"
    );
    assert_eq!(guard[0].1, "world");
    let mapped = match MutexGuard::try_map(guard, |v| v.iter_mut().find(|(k, _)| k == "hello")) {
        Ok(mapped) => mapped,
        Err(_) => panic!("the entry is there"),
    };
    assert_eq!(mapped.1, "world");
    let mapped =
        match MappedMutexGuard::try_map(mapped, |(_, v)| if v != "world" { Some(v) } else { None })
        {
            Ok(_) => panic!("the closure declined"),
            Err(mapped) => mapped,
        };
    assert_eq!(mapped.1, "world");
    assert!(mutex.try_lock().is_none());
    drop(mapped);
    assert!(mutex.try_lock().is_some());
}

// try_map that finds its target yields a mapped guard, which try_map can narrow further
// (parking_lot's map_or_err, mapped).
#[test]
fn mutex_try_map_mapped() {
    let mutex = Mutex::new(vec![("hello".to_string(), "world".to_string())]);
    let guard = mutex.lock_blocking();
    let Ok(mapped) = MutexGuard::try_map(guard, |v| v.iter_mut().find(|(k, _)| k == "hello"))
    else {
        panic!("the entry is there");
    };
    assert_eq!(mapped.1, "world");
    let Ok(value) = MappedMutexGuard::try_map(mapped, |(_, v)| {
        if v == "world" {
            Some(v.as_mut_str())
        } else {
            None
        }
    }) else {
        panic!("the closure accepts");
    };
    assert_eq!(&*value, "world");
}

// A mapped guard can be mapped again; writes through it land in the mutex's value.
#[test]
fn mutex_mapping_mapped_guard() {
    let lock = Mutex::new([0; 4]);
    let guard = MutexGuard::map(lock.lock_blocking(), |arr| &mut arr[..2]);
    write_42_through(MappedMutexGuard::map(guard, |slice| &mut slice[1..]));
    assert_eq!(*lock.lock_blocking(), [0, 42, 0, 0]);
}

// Panicking while holding the guard, three times over, leaves the mutex usable every time.
#[test]
fn mutex_repeated_panics_while_locked() {
    let mutex = Mutex::new(42);
    for _ in 0..3 {
        assert_panics(|| {
            let _guard = mutex.lock_blocking();
            panic!("panic while holding the mutex");
        });
        assert!(!mutex.is_locked());
    }
    assert_eq!(*mutex.lock_blocking(), 42);
}

/// Writes 3 through `value`, then fails an assertion while its guard is still held.
fn write_3_then_fail(value: &mut i32) {
    *value = 3;
    assert_eq!(*value, 2, "deliberate failure while holding the lock");
}

// A thread that panics while holding the guard releases the lock unpoisoned, and the next
// locker sees the value as the thread left it (std's test_mutex_arc_poison, as documented).
#[test]
fn mutex_not_poisoned_by_a_panicking_holder() {
    let lock = after_a_panicking_thread(Mutex::new(1), |lock| {
        write_3_then_fail(&mut lock.lock_blocking());
    });
    assert_eq!(*lock.try_lock().expect("released, not poisoned"), 3);
}

// As above with a mapped guard held during the panic (std's test_mutex_arc_poison_mapped).
#[test]
fn mutex_not_poisoned_by_a_panicking_mapped_holder() {
    let lock = after_a_panicking_thread(Mutex::new((1, 1)), |lock| {
        write_3_then_fail(&mut MutexGuard::map(lock.lock_blocking(), |v| &mut v.1));
    });
    assert_eq!(*lock.try_lock().expect("released, not poisoned"), (1, 3));
}

common::table_tests! {
    // A panic inside a map/try_map closure (of a guard or a mapped guard) unlocks the mutex, and
    // does not poison it (documented: "If `f` panics, the guard is dropped and the mutex
    // unlocked").
    mutex_panic_in_map_closure_unlocks => panic_in_map_closure_releases!(
        Mutex::new(()), lock_blocking, MutexGuard, MappedMutexGuard, try_lock
    );
}

// ---------------------------------------------------------------------------------------------
// Mutex and RwLock alike (std mutex.rs and rwlock.rs, parking_lot mutex.rs and rwlock.rs)
// ---------------------------------------------------------------------------------------------

common::twin_tests! {
    where new = [Mutex::new, RwLock::new];

    // into_inner gives the value back.
    #[test]
    fn [mutex_into_inner, rwlock_into_inner]
    where into_inner = [Mutex::into_inner, RwLock::into_inner]
    {
        assert_eq!(into_inner(new(NonCopy(10))), NonCopy(10));
    }

    // into_inner moves the value out without dropping it; it is dropped once, later.
    #[test]
    fn [mutex_into_inner_drop, rwlock_into_inner_drop]
    where into_inner = [Mutex::into_inner, RwLock::into_inner]
    {
        let drops = Arc::new(AtomicUsize::new(0));
        let lock = new(DropCounter(drops.clone()));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        {
            let _inner = into_inner(lock);
            assert_eq!(drops.load(Ordering::SeqCst), 0);
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    // get_mut writes through `&mut Mutex` (or `&mut RwLock`) without locking.
    #[test]
    fn [mutex_get_mut, rwlock_get_mut]
    where
        get_mut = [Mutex::get_mut, RwLock::get_mut],
        into_inner = [Mutex::into_inner, RwLock::into_inner],
    {
        let mut lock = new(NonCopy(10));
        *get_mut(&mut lock) = NonCopy(20);
        assert_eq!(into_inner(lock), NonCopy(20));
    }

    // A destructor running during a panic's unwinding can lock the mutex (or take the write
    // lock), and its write is kept (std's test_rw_arc_access_in_unwind and its mutex twin).
    #[test]
    fn [mutex_access_in_unwind, rwlock_access_in_unwind]
    where
        write = [Mutex::lock_blocking, RwLock::write_blocking],
        read = [Mutex::lock_blocking, RwLock::read_blocking],
    {
        let lock = after_a_panicking_thread(new(1), move |lock| {
            let _unwinder = OnDrop(|| *write(lock) += 1);
            panic!("unwinding on purpose");
        });
        assert_eq!(*read(&lock), 2);
    }

    // A mutex (or an RwLock) of an unsized slice can be written through and read back.
    #[test]
    fn [mutex_unsized, rwlock_unsized]
    where
        write = [Mutex::<[i32]>::lock_blocking, RwLock::<[i32]>::write_blocking],
        read = [Mutex::<[i32]>::lock_blocking, RwLock::<[i32]>::read_blocking],
    {
        let lock = new([1, 2, 3]);
        {
            let b = &mut *write(&lock);
            b[0] = 4;
            b[2] = 5;
        }
        let expected: &[i32] = &[4, 2, 5];
        assert_eq!(&*read(&lock), expected);
    }

    // Debug prints the value while the lock is free and `<locked>` while it is (write-)locked.
    #[test]
    fn [mutex_debug, rwlock_debug]
    where
        write = [Mutex::lock_blocking, RwLock::write_blocking],
        prefix = ["Mutex {", "RwLock {"],
    {
        let lock = new(vec![0u8, 10]);
        let free = format!("{lock:?}");
        assert!(free.starts_with(prefix), "{free}");
        assert!(free.contains("[0, 10]"), "{free}");
        let _held = write(&lock);
        let held = format!("{lock:?}");
        assert!(held.contains("<locked>"), "{held}");
        assert!(!held.contains("[0, 10]"), "{held}");
    }
}

// ---------------------------------------------------------------------------------------------
// RwLock (std rwlock.rs, parking_lot rwlock.rs)
// ---------------------------------------------------------------------------------------------

// Read, write, upgradable, two reads together, a read beside an upgradable: all work in turn.
#[test]
fn rwlock_smoke() {
    let l = RwLock::new(());
    drop(l.read_blocking());
    drop(l.write_blocking());
    drop(l.upgradable_read_blocking());
    drop((l.read_blocking(), l.read_blocking()));
    drop((l.read_blocking(), l.upgradable_read_blocking()));
    drop(l.write_blocking());
    assert!(l.try_write().is_some(), "a dropped guard kept the lock");
}

// Ten threads taking random reads and writes (one in ten a write) all finish.
#[test]
fn rwlock_frob() {
    const N: u64 = 10;
    const M: usize = 1000;
    let r = RwLock::new(());
    let seed = AtomicUsize::new(1);
    no_deadlock(move || {
        on_threads(
            N as usize,
            || {
                let mut rng =
                    XorShift(0x9E37_79B9_7F4A_7C15 ^ seed.fetch_add(1, Ordering::SeqCst) as u64);
                for _ in 0..M {
                    if rng.one_in(N) {
                        drop(r.write_blocking());
                    } else {
                        drop(r.read_blocking());
                    }
                }
            },
            || {},
        );
    });
}

/// A way of holding an `RwLock`, in the checks below.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    Read,
    Upgradable,
    Write,
}

/// A guard of each kind that [`Access`] names.
enum Held<'a, T> {
    Read(RwLockReadGuard<'a, T>),
    Upgradable(RwLockUpgradableReadGuard<'a, T>),
    Write(RwLockWriteGuard<'a, T>),
}

impl<T> Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Held::Read(guard) => guard,
            Held::Upgradable(guard) => guard,
            Held::Write(guard) => guard,
        }
    }
}

impl Access {
    /// Takes `lock` this way, waiting if need be.
    fn hold<T>(self, lock: &RwLock<T>) -> Held<'_, T> {
        match self {
            Access::Read => Held::Read(lock.read_blocking()),
            Access::Upgradable => Held::Upgradable(lock.upgradable_read_blocking()),
            Access::Write => Held::Write(lock.write_blocking()),
        }
    }

    /// Takes `lock` this way if it can at once.
    fn try_hold<T>(self, lock: &RwLock<T>) -> Option<Held<'_, T>> {
        match self {
            Access::Read => lock.try_read().map(Held::Read),
            Access::Upgradable => lock.try_upgradable_read().map(Held::Upgradable),
            Access::Write => lock.try_write().map(Held::Write),
        }
    }
}

/// Checks that a thread that panics while it holds an `RwLock` of 1 (as `holder`) releases it
/// unpoisoned: `then` gets in at once, and sees 1.
fn rwlock_no_poison(holder: Access, then: Access) {
    let lock = after_a_panicking_thread(RwLock::new(1), move |lock| {
        let _held = holder.hold(lock);
        panic!("panic while holding the lock ({holder:?})");
    });
    assert_eq!(*then.try_hold(&lock).expect("released, not poisoned"), 1);
}

common::table_tests! {
    // A writer that panics releases the lock unpoisoned; a reader sees the value (parking_lot
    // test_rw_arc_no_poison_wr; std's test_rw_arc_poison_wr, as documented).
    rwlock_no_poison_write_then_read => rwlock_no_poison(Access::Write, Access::Read);
    // A writer that panics releases the lock unpoisoned; a writer gets in (..._ww).
    rwlock_no_poison_write_then_write => rwlock_no_poison(Access::Write, Access::Write);
    // A reader that panics releases its read lock; a reader gets in (..._rr).
    rwlock_no_poison_read_then_read => rwlock_no_poison(Access::Read, Access::Read);
    // A reader that panics releases its read lock; a writer gets in (..._rw).
    rwlock_no_poison_read_then_write => rwlock_no_poison(Access::Read, Access::Write);
}

// A panic while a mapped write guard is held releases the lock unpoisoned, with the value as
// left (std's test_rw_arc_poison_mapped_w_r / _w_w).
#[test]
fn rwlock_no_poison_mapped_write() {
    let lock = after_a_panicking_thread(RwLock::new((1, 1)), |lock| {
        let mut guard = RwLockWriteGuard::map(lock.write_blocking(), |v| &mut v.1);
        *guard = 5;
        panic!("panic while writing");
    });
    assert_eq!(*lock.try_read().expect("released, not poisoned"), (1, 5));
    assert!(lock.try_write().is_some());
}

// A panic while a mapped read guard is held releases that read lock (std's
// test_rw_arc_no_poison_mapped_r_r / _r_w).
#[test]
fn rwlock_no_poison_mapped_read() {
    let lock = after_a_panicking_thread(RwLock::new((1, 1)), |lock| {
        let _guard = RwLockReadGuard::map(lock.read_blocking(), |v| &v.0);
        panic!("panic while reading");
    });
    assert_eq!(*lock.try_write().expect("released"), (1, 1));
}

/// Adds one to `value` by way of a half-done state: it is -1 for a moment, across a yield.
fn bump_via_minus_one(value: &mut i32) {
    let tmp = *value;
    *value = -1;
    thread::yield_now();
    *value = tmp + 1;
}

/// Reads `lock`, which must not show a half-done [`bump_via_minus_one`].
fn read_sees_no_half_done_bump(lock: &RwLock<i32>) {
    assert!(*lock.read_blocking() >= 0);
}

// Upgradable readers that upgrade, plain readers and a writer never see one another's
// half-done updates, and every update lands (parking_lot test_ruw_arc).
#[test]
fn rwlock_upgradable_readers_and_writers() {
    let lock = RwLock::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..10 {
                bump_via_minus_one(&mut lock.write_blocking());
            }
        });
        for _ in 0..5 {
            s.spawn(|| {
                let upgradable = lock.upgradable_read_blocking();
                let tmp = *upgradable;
                assert!(tmp >= 0);
                thread::yield_now();
                let mut write = RwLockUpgradableReadGuard::upgrade_blocking(upgradable);
                assert_eq!(
                    tmp, *write,
                    "nobody wrote between the upgradable read and upgrade"
                );
                bump_via_minus_one(&mut write);
            });
        }
        for _ in 0..5 {
            s.spawn(|| read_sees_no_half_done_bump(&lock));
        }
    });
    assert_eq!(*lock.read_blocking(), 15);
}

// Readers never see a writer's half-done update, which they wait out (test_rw_arc).
#[test]
fn rwlock_readers_wait_out_a_writer() {
    let lock = RwLock::new(0);
    thread::scope(|s| {
        s.spawn(|| {
            let mut write = lock.write_blocking();
            for _ in 0..10 {
                bump_via_minus_one(&mut write);
            }
        });
        for _ in 0..5 {
            s.spawn(|| read_sees_no_half_done_bump(&lock));
        }
    });
    assert_eq!(*lock.read_blocking(), 10);
}

/// Runs `check` on a new `RwLock` of 0 while a reader, then an upgradable reader, then a writer
/// holds it (telling it which); returns the lock, free again.
fn beside_each_holder(check: impl Fn(&RwLock<isize>, Access)) -> RwLock<isize> {
    let lock = RwLock::new(0);
    for holder in [Access::Read, Access::Upgradable, Access::Write] {
        let _held = holder.hold(&lock);
        check(&lock, holder);
    }
    lock
}

// try_read succeeds beside a reader and beside an upgradable reader, and fails beside a writer.
#[test]
fn rwlock_try_read() {
    beside_each_holder(|lock, holder| {
        let expected = holder != Access::Write;
        assert_eq!(lock.try_read().is_some(), expected, "beside {holder:?}");
    });
}

// try_write fails beside a reader, an upgradable reader and a writer; only the writer makes
// the lock write-locked (parking_lot's is_locked_exclusive, as is_write_locked).
#[test]
fn rwlock_try_write() {
    let lock = beside_each_holder(|lock, holder| {
        assert!(lock.try_write().is_none(), "beside {holder:?}");
        assert_eq!(lock.is_write_locked(), holder == Access::Write);
    });
    assert!(lock.try_write().is_some());
}

// try_write fails while a read guard, or a mapped read guard, is alive (std's try_write test).
#[test]
fn rwlock_try_write_fails_beside_a_mapped_reader() {
    let lock = RwLock::new(0isize);
    let read = lock.read_blocking();
    assert!(lock.try_write().is_none());
    drop(read);
    let mapped = RwLockReadGuard::map(lock.read_blocking(), |_| &());
    assert!(lock.try_write().is_none());
    drop(mapped);
    assert!(lock.try_write().is_some());
}

// try_upgradable_read succeeds beside a reader, fails beside another upgradable reader or a writer.
#[test]
fn rwlock_try_upgradable_read() {
    beside_each_holder(|lock, holder| {
        let expected = holder == Access::Read;
        assert_eq!(
            lock.try_upgradable_read().is_some(),
            expected,
            "beside {holder:?}"
        );
    });
}

// is_write_locked and reader_count follow a reader and a writer (test_rw_write_is_locked).
#[test]
fn rwlock_write_is_locked() {
    let lock = RwLock::new(0isize);
    for (holder, readers) in [(Access::Read, 1), (Access::Write, 0)] {
        let _held = holder.hold(&lock);
        assert_eq!(lock.reader_count(), readers);
        assert_eq!(lock.is_write_locked(), holder == Access::Write);
    }
    assert!(!lock.is_write_locked());
}

// Read and write guards of a lock of a `Sync` value are `Sync`.
#[test]
fn rwlock_guards_are_sync() {
    fn sync<T: Sync>(_: T) {}
    let rwlock = RwLock::new(());
    sync(rwlock.read_blocking());
    sync(rwlock.write_blocking());
}

// A write guard downgrades to a read guard.
#[test]
fn rwlock_downgrade_basic() {
    let r = RwLock::new(());
    let write = r.write_blocking();
    let _read = RwLockWriteGuard::downgrade(write);
    assert!(r.try_read().is_some());
    assert!(r.try_write().is_none());
}

// Twenty writers, each downgrading after its increment, read back their own value every time,
// and no increment is lost (std test_downgrade_observe, parking_lot test_rwlock_downgrade).
#[test]
fn rwlock_downgrade_observe() {
    const W: usize = 20;
    const N: usize = 100;
    let rw = RwLock::new(0);
    on_threads(
        W,
        || {
            for _ in 0..N {
                let mut write = rw.write_blocking();
                *write += 1;
                let written = *write;
                let read = RwLockWriteGuard::downgrade(write);
                assert_eq!(written, *read);
            }
        },
        || {},
    );
    assert_eq!(*rw.read_blocking(), W * N);
}

// A downgrade lets no queued writer in before the downgraded reader reads (test_downgrade_atomic).
#[test]
fn rwlock_downgrade_atomic() {
    const W: usize = 20;
    const NEW_VALUE: i32 = -1;
    let rwlock = RwLock::new(0);
    let started = AtomicUsize::new(0);
    let mut main_write = rwlock.write_blocking();
    thread::scope(|s| {
        for _ in 0..W {
            s.spawn(|| {
                started.fetch_add(1, Ordering::SeqCst);
                *rwlock.write_blocking() += 1;
            });
        }
        wait_until("the evil writers to start", || {
            started.load(Ordering::SeqCst) == W
        });
        // Not needed for correctness: makes it likely that the writers have queued.
        thread::sleep(Duration::from_millis(42));
        *main_write = NEW_VALUE;
        let main_read = RwLockWriteGuard::downgrade(main_write);
        assert_eq!(*main_read, NEW_VALUE, "`downgrade` was not atomic");
        drop(main_read);
    });
    assert_eq!(*rwlock.read_blocking(), W as i32 + NEW_VALUE);
}

// Mapped read and write guards can be mapped again, and writes land in the value.
#[test]
fn rwlock_mapping_mapped_guard() {
    let mut lock = RwLock::new([0; 4]);
    let guard = RwLockWriteGuard::map(lock.write_blocking(), |arr| &mut arr[..2]);
    write_42_through(MappedRwLockWriteGuard::map(guard, |slice| &mut slice[1..]));
    assert_eq!(*lock.get_mut(), [0, 42, 0, 0]);

    let guard = RwLockReadGuard::map(lock.read_blocking(), |arr| &arr[..2]);
    let guard = MappedRwLockReadGuard::map(guard, |slice| &slice[1..]);
    assert_eq!(*guard, [42]);
    drop(guard);
    assert_eq!(*lock.get_mut(), [0, 42, 0, 0]);
}

common::table_tests! {
    // A panic in a read guard's map/try_map closure (of a guard or a mapped guard) releases the
    // read lock (std's panic_while_mapping_read_unlocked_no_poison).
    rwlock_panic_in_read_map_closure_releases => panic_in_map_closure_releases!(
        RwLock::new(()), read_blocking, RwLockReadGuard, MappedRwLockReadGuard, try_write
    );
    // A panic in a write guard's map/try_map closure releases the write lock, unpoisoned (std's
    // panic_while_mapping_write_unlocked_poison, as documented: "the guard is dropped and the
    // write lock released").
    rwlock_panic_in_write_map_closure_releases => panic_in_map_closure_releases!(
        RwLock::new(()), write_blocking, RwLockWriteGuard, MappedRwLockWriteGuard, try_write
    );
}

// A read guard is covariant in its value type (std test_read_guard_covariance; compiles or not).
#[test]
fn rwlock_read_guard_covariance() {
    fn do_stuff<'a>(_: RwLockReadGuard<'_, &'a i32>, _: &'a i32) {}
    let j: i32 = 5;
    let lock = RwLock::new(&j);
    {
        let i = 6;
        do_stuff(lock.read_blocking(), &i);
    }
    drop(lock);
}

// A mapped read guard is covariant in its value type (std test_mapped_read_guard_covariance).
#[test]
fn rwlock_mapped_read_guard_covariance() {
    fn do_stuff<'a>(_: MappedRwLockReadGuard<'_, &'a i32>, _: &'a i32) {}
    let j: i32 = 5;
    let lock = RwLock::new((&j, &j));
    {
        let i = 6;
        let guard = RwLockReadGuard::map(lock.read_blocking(), |(val, _val)| val);
        do_stuff(guard, &i);
    }
    drop(lock);
}

// A write lock taken in a thread-local's destructor, at thread exit, works (parking_lot issue 203).
#[test]
fn rwlock_in_thread_local_destructor() {
    struct Bar(RwLock<()>);
    impl Drop for Bar {
        fn drop(&mut self) {
            let _n = self.0.write_blocking();
        }
    }
    thread_local! {
        static B: Bar = const { Bar(RwLock::new(())) };
    }
    thread::spawn(|| {
        B.with(|_| ());
        let a = RwLock::new(());
        let _a = a.read_blocking();
    })
    .join()
    .unwrap();
}

common::twin_tests! {
    // An upgradable guard can upgrade and downgrade back to upgradable twice in a row (parking_lot
    // issues 392 and 430, `with_upgraded` on a borrowed and an `Arc` guard).
    #[test]
    fn [rwlock_upgrade_and_back_twice, rwlock_owned_upgrade_and_back_twice]
    where
        upgradable = [RwLock::<i32>::upgradable_read_blocking, RwLock::<i32>::upgradable_read_owned_blocking],
        upgrade = [RwLockUpgradableReadGuard::upgrade_blocking, OwnedRwLockUpgradableReadGuard::upgrade_blocking],
        back = [RwLockWriteGuard::downgrade_to_upgradable, OwnedRwLockWriteGuard::downgrade_to_upgradable],
    {
        let lock = Arc::new(RwLock::new(0));
        let mut guard = upgradable(&lock);
        for _ in 0..2 {
            let mut write = upgrade(guard);
            *write += 1;
            guard = back(write);
        }
        assert_eq!(*guard, 2);
        assert!(lock.try_read().is_some());
        assert!(lock.try_write().is_none());
        drop(guard);
        assert!(lock.try_write().is_some());
    }
}

// ---------------------------------------------------------------------------------------------
// Condvar (std condvar.rs, parking_lot condvar.rs)
// ---------------------------------------------------------------------------------------------

// Notifying a condvar nobody waits on does nothing, and stores nothing for a later wait.
#[test]
fn condvar_smoke() {
    let (m, c) = (Mutex::new(()), Condvar::new());
    c.notify_one();
    c.notify_all();
    // Nobody waited, so nothing was stored for a later wait.
    let (_guard, result) = c.wait_blocking_timeout(m.lock_blocking(), Duration::from_millis(1));
    assert!(result.timed_out());
}

/// Runs `wait` here with `guard`, a guard of `mutex`, while another thread locks `mutex` (which
/// it can only once `wait` has released it), runs `set` on the value and notifies `cv` once,
/// still holding the lock; returns what `wait` returned.
fn notified_from_another_thread<'a, T: Send, R>(
    mutex: &'a Mutex<T>,
    guard: MutexGuard<'a, T>,
    cv: &Condvar,
    set: impl FnOnce(&mut T) + Send,
    wait: impl FnOnce(MutexGuard<'a, T>) -> R,
) -> R {
    thread::scope(|s| {
        s.spawn(|| {
            let mut value = mutex.lock_blocking();
            set(&mut value);
            cv.notify_one();
        });
        wait(guard)
    })
}

// A waiter is woken by notify_one from a thread that took the mutex after the wait released it.
#[test]
fn condvar_notify_one() {
    let (m, c) = (Mutex::new(()), Condvar::new());
    notified_from_another_thread(
        &m,
        m.lock_blocking(),
        &c,
        |_| {},
        |g| {
            drop(c.wait_blocking(g));
        },
    );
}

// notify_all wakes all ten waiters after the last one has counted itself in.
#[test]
fn condvar_notify_all() {
    const N: usize = 10;
    let data = Arc::new((Mutex::new(0), Condvar::new()));
    let (tx, rx) = channel();
    for _ in 0..N {
        let data = data.clone();
        let tx = tx.clone();
        thread::spawn(move || {
            let (lock, cond) = &*data;
            let mut cnt = lock.lock_blocking();
            *cnt += 1;
            if *cnt == N {
                tx.send(()).unwrap();
            }
            while *cnt != 0 {
                cnt = cond.wait_blocking(cnt);
            }
            tx.send(()).unwrap();
        });
    }
    drop(tx);
    let (lock, cond) = &*data;
    rx.recv().unwrap();
    let mut cnt = lock.lock_blocking();
    *cnt = 0;
    cond.notify_all();
    drop(cnt);
    for _ in 0..N {
        rx.recv_timeout(HANG).expect("a waiter was not woken");
    }
}

// A waiter that looped on its flag sees the flag the notifier set (test_mutex_arc_condvar).
#[test]
fn condvar_mutex_arc_condvar() {
    let (m, c) = (Mutex::new(false), Condvar::new());
    notified_from_another_thread(
        &m,
        m.lock_blocking(),
        &c,
        |flag| *flag = true,
        |mut guard| {
            assert!(!*guard);
            while !*guard {
                guard = c.wait_blocking(guard);
            }
        },
    );
}

// wait_while returns once the condition is false, with the notifier's write visible.
#[test]
fn condvar_wait_while() {
    let (m, c) = (Mutex::new(false), Condvar::new());
    let guard = notified_from_another_thread(
        &m,
        m.lock_blocking(),
        &c,
        |s| *s = true,
        |g| c.wait_while_blocking(g, |started| !*started),
    );
    assert!(*guard);
}

/// Checks that `wait`, a wait with a timeout on a condvar nobody notifies, given a guard of a new
/// mutex, times out, after at least its timeout, and gives back a guard still holding the mutex.
fn times_out(
    wait: impl for<'a> FnOnce(
        &Condvar,
        MutexGuard<'a, ()>,
        Duration,
    ) -> (MutexGuard<'a, ()>, WaitTimeoutResult),
) {
    const TIMEOUT: Duration = Duration::from_millis(1);
    let (m, c) = (Mutex::new(()), Condvar::new());
    let start = Instant::now();
    let (g, result) = wait(&c, m.lock_blocking(), TIMEOUT);
    assert!(result.timed_out());
    assert!(start.elapsed() >= TIMEOUT);
    assert!(m.is_locked());
    drop(g);
}

common::table_tests! {
    // A timed wait nobody notifies times out, after at least its duration, and relocks.
    condvar_wait_timeout_wait => times_out(|c, g, timeout| c.wait_blocking_timeout(g, timeout));
    // A timed wait_while whose condition stays true times out.
    condvar_wait_timeout_while_wait =>
        times_out(|c, g, timeout| c.wait_while_blocking_timeout(g, timeout, |_| true));
}

// A timed wait_while whose condition is false at once does not time out, even with no time.
#[test]
fn condvar_wait_timeout_while_instant_satisfy() {
    let m = Mutex::new(());
    let c = Condvar::new();
    let (_g, result) = c.wait_while_blocking_timeout(m.lock_blocking(), Duration::ZERO, |_| false);
    assert!(!result.timed_out());
}

// A timed wait_while with a timeout too large for an `Instant` is ended by the notifier, not
// by time.
#[test]
fn condvar_wait_timeout_while_wake() {
    let (m, c) = (Mutex::new(false), Condvar::new());
    let set = |notified: &mut bool| {
        thread::sleep(Duration::from_millis(1));
        *notified = true;
    };
    let (g, result) = notified_from_another_thread(&m, m.lock_blocking(), &c, set, |g| {
        c.wait_while_blocking_timeout(g, Duration::from_millis(u64::MAX), |notified| !*notified)
    });
    assert!(!result.timed_out());
    assert!(*g);
}

// A timed wait with a timeout too large for an `Instant` returns notified, only after the
// notifier ran (no spurious return: there is no other waiter).
#[test]
fn condvar_wait_timeout_wake() {
    let (m, c) = (Mutex::new(()), Condvar::new());
    let notified = AtomicBool::new(false);
    let set = |_: &mut ()| {
        thread::sleep(Duration::from_millis(1));
        notified.store(true, Ordering::SeqCst);
    };
    notified_from_another_thread(&m, m.lock_blocking(), &c, set, |g| {
        let (_g, result) = c.wait_blocking_timeout(g, Duration::from_millis(u64::MAX));
        assert!(!result.timed_out());
        assert!(
            notified.load(Ordering::SeqCst),
            "returned before the notification"
        );
    });
}

// The same guard can first time out, then be notified in a wait of `u64::MAX` seconds
// (parking_lot wait_for).
#[test]
fn condvar_wait_for() {
    let (m, c) = (Mutex::new(()), Condvar::new());
    let (g, result) = c.wait_blocking_timeout(m.lock_blocking(), Duration::from_millis(1));
    assert!(result.timed_out());
    let (_g, result) = notified_from_another_thread(
        &m,
        g,
        &c,
        |_| {},
        |g| c.wait_blocking_timeout(g, Duration::from_secs(u64::MAX)),
    );
    assert!(!result.timed_out());
}

/// Notifies `cv` once per epoch `1..=iters`, each time only after the waiter's condition has
/// counted `epoch` calls (so the waiter is waiting); stops early once `done` is set.
fn wait_while_notifier(mutex: &Mutex<u32>, cv: &Condvar, iters: u32, done: &AtomicBool) {
    for epoch in 1..=iters {
        loop {
            let guard = mutex.lock_blocking();
            if *guard == epoch {
                cv.notify_one();
                break;
            }
            if *guard > epoch || done.load(Ordering::SeqCst) {
                return;
            }
            drop(guard);
            thread::sleep(Duration::from_millis(1));
        }
    }
}

// wait_while whose condition is false at once calls it exactly once and does not wait.
#[test]
fn condvar_wait_while_does_not_wait_if_initially_false() {
    let mutex = Mutex::new(0u32);
    let cv = Condvar::new();
    let guard = cv.wait_while_blocking(mutex.lock_blocking(), |counter| {
        *counter += 1;
        false
    });
    assert_eq!(*guard, 1);
    let (guard, result) = cv.wait_while_blocking_timeout(guard, Duration::ZERO, |counter| {
        *counter += 1;
        false
    });
    assert!(!result.timed_out());
    assert_eq!(*guard, 2);
}

/// Runs `wait` with a guard of a counter at 0 while another thread notifies the condvar it is
/// given as [`wait_while_notifier`] does for `iters` epochs; once `wait` gives the guard back,
/// tells the notifier it is done, and drops the guard.
fn with_epoch_notifier(
    iters: u32,
    wait: impl for<'a> FnOnce(&Condvar, MutexGuard<'a, u32>) -> MutexGuard<'a, u32>,
) {
    let mutex = Mutex::new(0u32);
    let cv = Condvar::new();
    let done = AtomicBool::new(false);
    let guard = mutex.lock_blocking();
    thread::scope(|s| {
        s.spawn(|| wait_while_notifier(&mutex, &cv, iters, &done));
        let guard = wait(&cv, guard);
        done.store(true, Ordering::SeqCst);
        drop(guard);
    });
}

// A timed wait_while whose condition never turns false times out, after at least its duration,
// having checked the condition once per notification plus once at the start and once at the end.
#[test]
fn condvar_wait_while_times_out_before_false() {
    const ITERS: u32 = 3;
    let timeout = Duration::from_millis(500);
    with_epoch_notifier(ITERS, |cv, guard| {
        let start = Instant::now();
        let (guard, result) = cv.wait_while_blocking_timeout(guard, timeout, |counter| {
            *counter += 1;
            true
        });
        assert!(result.timed_out());
        assert!(start.elapsed() >= timeout);
        // At least the first check and the one after time ran out; at most one per
        // notification besides.
        assert!(
            (2..=ITERS + 2).contains(&*guard),
            "condition ran {} times",
            *guard
        );
        guard
    });
}

// wait_while re-checks its condition once per notification and returns when it turns false;
// called again with a false condition it returns at once.
#[test]
fn condvar_wait_while_checks_once_per_notification() {
    const ITERS: u32 = 4;
    let condition = |counter: &mut u32| {
        *counter += 1;
        *counter <= ITERS
    };
    with_epoch_notifier(ITERS, |cv, guard| {
        let guard = cv.wait_while_blocking(guard, condition);
        assert_eq!(*guard, ITERS + 1);
        let guard = cv.wait_while_blocking(guard, condition);
        assert_eq!(*guard, ITERS + 2);
        guard
    });
}

// Waiting with a guard of a second mutex, while a waiter of the first is queued, panics and
// unlocks that guard; the queued waiter can still be notified.
#[test]
fn condvar_two_mutexes_panics() {
    let m = Mutex::new(());
    let m3 = Mutex::new(());
    let c = Condvar::new();
    let (tx, rx) = channel();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let g = m.lock_blocking();
            tx.send(()).unwrap();
            drop(c.wait_blocking(g));
        });
        rx.recv().unwrap();
        // The waiter released `m` only once it was waiting.
        let g = m.lock_blocking();
        assert_panics(|| drop(c.wait_blocking(m3.lock_blocking())));
        assert!(!m3.is_locked(), "the guard of the wrong mutex was dropped");
        c.notify_one();
        drop(g);
        waiter.join().unwrap();
    });
}

// Debug of a condvar shows nothing of its state.
#[test]
fn condvar_debug() {
    assert_eq!(format!("{:?}", Condvar::new()), "Condvar { .. }");
}

// A chain of waiters, each woken then briefly waiting with a timeout before notifying the
// next, wakes all four from one notify_one: a timed wait loses no notification (parking_lot
// issue 129).
#[test]
fn condvar_timed_wait_loses_no_notification() {
    let locks = Arc::new((Mutex::new(0usize), Condvar::new()));
    let (tx, rx) = channel();
    for _ in 0..4 {
        let locks = locks.clone();
        let tx = tx.clone();
        thread::spawn(move || {
            let (m, c) = &*locks;
            let mut guard = m.lock_blocking();
            *guard += 1;
            guard = c.wait_blocking(guard);
            let (_guard, _) = c.wait_blocking_timeout(guard, Duration::from_millis(1));
            c.notify_one();
            tx.send(()).unwrap();
        });
    }
    // Instead of the original's 100 ms sleep: every thread has counted itself in, so it waits.
    wait_until("the four waiters", || *locks.0.lock_blocking() == 4);
    locks.1.notify_one();
    for _ in 0..4 {
        assert_eq!(rx.recv_timeout(HANG), Ok(()), "a notification was lost");
    }
}

// WebKit's producer/consumer queue test (parking_lot's webkit_queue_test), scaled down.

#[derive(Clone, Copy)]
enum QueueTimeout {
    Bounded(Duration),
    Forever,
}

#[derive(Clone, Copy)]
enum NotifyStyle {
    One,
    All,
}

struct Queue {
    items: VecDeque<usize>,
    should_continue: bool,
}

/// Waits on `cv` until `ready` holds, with timed waits or untimed ones.
fn queue_wait<'a>(
    cv: &Condvar,
    mut guard: MutexGuard<'a, Queue>,
    ready: impl Fn(&Queue) -> bool,
    timeout: QueueTimeout,
) -> MutexGuard<'a, Queue> {
    while !ready(&guard) {
        guard = match timeout {
            QueueTimeout::Forever => cv.wait_blocking(guard),
            QueueTimeout::Bounded(d) => cv.wait_blocking_timeout(guard, d).0,
        };
    }
    guard
}

fn queue_notify(style: NotifyStyle, cv: &Condvar, should_notify: bool) {
    match style {
        NotifyStyle::One => cv.notify_one(),
        NotifyStyle::All if should_notify => cv.notify_all(),
        NotifyStyle::All => {}
    }
}

/// Producers push `0..per_producer` each into a bounded queue; consumers pop into an output
/// list; every message must come out exactly once.
fn run_queue_test(
    producers: usize,
    consumers: usize,
    max_size: usize,
    per_producer: usize,
    style: NotifyStyle,
    timeout: QueueTimeout,
) {
    let queue = Mutex::new(Queue {
        items: VecDeque::new(),
        should_continue: true,
    });
    let not_empty = Condvar::new();
    let not_full = Condvar::new();
    let output = Mutex::new(Vec::new());
    thread::scope(|s| {
        let consumer_handles: Vec<_> = (0..consumers)
            .map(|_| {
                s.spawn(|| loop {
                    let mut q = queue_wait(
                        &not_empty,
                        queue.lock_blocking(),
                        |q| !q.items.is_empty() || !q.should_continue,
                        timeout,
                    );
                    if q.items.is_empty() && !q.should_continue {
                        return;
                    }
                    let should_notify = q.items.len() == max_size;
                    let item = q.items.pop_front();
                    drop(q);
                    queue_notify(style, &not_full, should_notify);
                    if let Some(item) = item {
                        output.lock_blocking().push(item);
                    }
                })
            })
            .collect();
        let producer_handles: Vec<_> = (0..producers)
            .map(|_| {
                s.spawn(|| {
                    for message in 0..per_producer {
                        let mut q = queue_wait(
                            &not_full,
                            queue.lock_blocking(),
                            |q| q.items.len() < max_size,
                            timeout,
                        );
                        let should_notify = q.items.is_empty();
                        q.items.push_back(message);
                        drop(q);
                        queue_notify(style, &not_empty, should_notify);
                    }
                })
            })
            .collect();
        for p in producer_handles {
            p.join().expect("a producer panicked");
        }
        queue.lock_blocking().should_continue = false;
        not_empty.notify_all();
        for c in consumer_handles {
            c.join().expect("a consumer panicked");
        }
    });
    let mut output = output.into_inner();
    assert_eq!(output.len(), producers * per_producer);
    output.sort_unstable();
    for msg in 0..per_producer {
        for p in 0..producers {
            assert_eq!(output[msg * producers + p], msg);
        }
    }
}

use NotifyStyle::{All, One};
use QueueTimeout::{Bounded, Forever};

common::table_tests! {
    // One producer, one consumer, one slot, notify_all, timed waits.
    condvar_queue_one_one_one_slot_timed =>
        run_queue_test(1, 1, 1, 10_000, All, Bounded(Duration::from_secs(1)));
    // One producer, one consumer, one slot, notify_all, untimed waits.
    condvar_queue_one_one_one_slot => run_queue_test(1, 1, 1, 10_000, All, Forever);
    // One producer, five consumers, one slot, notify_all.
    condvar_queue_one_five_one_slot => run_queue_test(1, 5, 1, 10_000, All, Forever);
    // One producer, one consumer, a hundred slots, notify_all.
    condvar_queue_one_one_hundred_slots => run_queue_test(1, 1, 100, 50_000, All, Forever);
    // Ten producers, one consumer, one slot, notify_all.
    condvar_queue_ten_one_one_slot => run_queue_test(10, 1, 1, 1_000, All, Forever);
    // Ten producers, one consumer, a hundred slots, notify_all and notify_one.
    condvar_queue_ten_one_hundred_slots =>
        for style in [All, One] { run_queue_test(10, 1, 100, 1_000, style, Forever) };
    // One producer, ten consumers, one slot, notify_all.
    condvar_queue_one_ten_one_slot => run_queue_test(1, 10, 1, 10_000, All, Forever);
    // One producer, ten consumers, a hundred slots, notify_all and notify_one.
    condvar_queue_one_ten_hundred_slots =>
        for style in [All, One] { run_queue_test(1, 10, 100, 10_000, style, Forever) };
    // Ten producers, ten consumers, one slot, notify_all.
    condvar_queue_ten_ten_one_slot => run_queue_test(10, 10, 1, 2_000, All, Forever);
    // Ten producers, ten consumers, a hundred slots, notify_all and notify_one.
    condvar_queue_ten_ten_hundred_slots =>
        for style in [All, One] { run_queue_test(10, 10, 100, 2_000, style, Forever) };
}

// ---------------------------------------------------------------------------------------------
// Barrier (std barrier.rs)
// ---------------------------------------------------------------------------------------------

// Nine threads stay blocked until the tenth party arrives; then all return, exactly one leader.
#[test]
fn barrier_releases_all_with_one_leader() {
    const N: usize = 10;
    let barrier = Arc::new(Barrier::new(N));
    let (tx, rx) = channel();
    for _ in 0..N - 1 {
        let barrier = barrier.clone();
        let tx = tx.clone();
        thread::spawn(move || {
            tx.send(barrier.wait_blocking().unwrap().is_leader())
                .unwrap();
        });
    }
    wait_until("nine parties to arrive", || barrier.n_waiting() == N - 1);
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
    let mut leader_found = barrier.wait_blocking().unwrap().is_leader();
    for _ in 0..N - 1 {
        if rx.recv_timeout(HANG).expect("a party was not released") {
            assert!(!leader_found, "two leaders");
            leader_found = true;
        }
    }
    assert!(leader_found, "no leader");
}

// A barrier (behind an `Arc`) is `RefUnwindSafe`.
#[test]
fn barrier_is_ref_unwind_safe() {
    fn check<T: panic::RefUnwindSafe>(_: T) {}
    check(Arc::new(Barrier::new(10)));
}

// ---------------------------------------------------------------------------------------------
// ReentrantMutex (std reentrant_lock.rs / remutex, parking_lot remutex.rs)
// ---------------------------------------------------------------------------------------------

// The holding thread can lock three deep, and each guard sees the value.
#[test]
fn remutex_smoke() {
    let m = ReentrantMutex::new(2);
    {
        let a = m.lock_blocking();
        {
            let b = m.lock_blocking();
            {
                let c = m.lock_blocking();
                assert_eq!(*c, 2);
            }
            assert_eq!(*b, 2);
        }
        assert_eq!(*a, 2);
    }
    assert!(!m.is_locked());
}

// Another thread waits until the outer guard is gone, and then sees every nested write.
#[test]
fn remutex_is_mutex() {
    let m = Arc::new(ReentrantMutex::new(RefCell::new(0)));
    let m2 = m.clone();
    let lock = m.lock_blocking();
    let child = thread::spawn(move || {
        let lock = m2.lock_blocking();
        assert_eq!(*lock.borrow(), 4950);
    });
    for i in 0..100 {
        let lock = m.lock_blocking();
        *lock.borrow_mut() += i;
    }
    drop(lock);
    child.join().unwrap();
}

// try_lock succeeds again for the holder and fails for another thread.
#[test]
fn remutex_trylock_works() {
    let m = ReentrantMutex::new(());
    let lock = m.try_lock();
    assert!(lock.is_some());
    let lock2 = m.try_lock();
    assert!(lock2.is_some());
    thread::scope(|s| {
        s.spawn(|| assert!(m.try_lock().is_none()));
    });
    let lock3 = m.try_lock();
    assert!(lock3.is_some());
}

// Debug of a free reentrant mutex prints its value.
#[test]
fn remutex_debug() {
    let mutex = ReentrantMutex::new(vec![0u8, 10]);
    let out = format!("{mutex:?}");
    assert!(out.starts_with("ReentrantMutex {"), "{out}");
    assert!(out.contains("[0, 10]"), "{out}");
}

// A guard's owner that writes in its destructor while the thread unwinds leaves the write for
// the next locker, and the lock is not poisoned (std remutex's `Answer`/poison test, as
// documented).
#[test]
fn remutex_not_poisoned_by_a_panicking_holder() {
    struct Answer<'a>(unisync::ReentrantMutexGuard<'a, RefCell<u32>>);
    impl Drop for Answer<'_> {
        fn drop(&mut self) {
            *self.0.borrow_mut() = 42;
        }
    }
    let m = ReentrantMutex::new(RefCell::new(0));
    thread::scope(|s| {
        let joined = s
            .spawn(|| {
                let _answer = Answer(m.lock_blocking());
                let _inner = m.lock_blocking();
                panic!("panic while holding the lock twice");
            })
            .join();
        assert!(joined.is_err());
    });
    let lock = m.try_lock().expect("released, not poisoned");
    assert_eq!(*lock.borrow(), 42);
}

/// Port of parking_lot's `test_condvar_requeue`: notified under the lock, it waits for the lock.
#[test]
fn condvar_requeue_notified_waiter_waits_for_the_mutex() {
    no_deadlock(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let pair2 = pair.clone();
        let t = thread::spawn(move || {
            let (m, c) = &*pair2;
            let mut g = m.lock_blocking();
            *g = true; // "I am about to wait"
            let g = c.wait_blocking(g);
            assert!(!*g, "relocked only after the notifier's change");
        });
        let (m, c) = &*pair;
        let mut g = loop {
            let g = m.lock_blocking();
            if *g {
                break g;
            }
            drop(g);
            thread::yield_now();
        };
        // The waiter released the mutex only after it queued: this reaches it.
        c.notify_one();
        *g = false;
        thread::sleep(Duration::from_millis(5));
        assert!(
            !t.is_finished(),
            "the waiter cannot return while we hold the mutex"
        );
        drop(g);
        t.join().unwrap();
    });
}

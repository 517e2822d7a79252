//! Lock diagnostics: who holds a lock and since when, reports of waits that last too long,
//! and a check for threads deadlocked on each other.
//!
//! Everything here is behind the `diagnostics` cargo feature, which is off by default. With
//! the feature off nothing of it is compiled: the locks are as small and as fast as without
//! it, and no call site is recorded.
//!
//! What it covers: a [`Mutex`], a [`RwLock`] (its writer, a reader upgrading to it, and
//! its read locks), and a [`ReentrantMutex`]. Upgradable read locks, semaphores and the
//! other primitives are not tracked.
//!
//! - **Holders.** Every way of taking a lock (`lock`, `lock_owned`, `try_lock`, the
//!   `_blocking` forms, `write`, `try_write`, `upgrade`, ...) records where it was called
//!   (through `#[track_caller]`), when, and on which thread. [`Mutex::holder`],
//!   [`RwLock::writer`] and [`ReentrantMutex::holder`] read that record as a [`Holder`], and
//!   `Debug` of the lock prints it. Mapping a guard keeps the record; dropping the guard, or
//!   downgrading a write guard, clears it. A reentrant mutex keeps the record of its
//!   outermost lock until the outermost guard drops.
//! - **Long waits.** [`set_long_wait_hook`] installs a function that is called once for each
//!   wait that has lasted longer than a threshold, with a [`LongWait`]: where the waiter
//!   called, how long it has waited, which lock, and the lock's holder. Async waits are
//!   covered as well as blocking ones, and no logging crate is needed: the hook decides what
//!   to do with the report.
//! - **Deadlocks.** [`check_deadlock`] looks for threads blocked in `_blocking` waits that
//!   wait for each other in a cycle, and returns each cycle with the sites of its waits and
//!   of its holders (like `parking_lot`'s `deadlock` module, it is a check you call, from a
//!   thread of your own or from the long-wait hook). A wait on a `RwLock` waits for its
//!   readers too: every read lock is counted, with its site, for the thread that took it.
//!
//! # Examples
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use std::{sync::Arc, thread};
//! use unisync::{diagnostics, Mutex};
//!
//! let (tx, rx) = mpsc::channel();
//! diagnostics::set_long_wait_hook(Duration::from_millis(50), move |wait| {
//!     let _ = tx.send(wait.to_string()); // or log it, count it, dump the threads...
//! });
//!
//! let config = Arc::new(Mutex::new(0));
//! let guard = config.lock_blocking(); // held for a long time
//! let waiter = {
//!     let config = config.clone();
//!     thread::spawn(move || *config.lock_blocking() += 1)
//! };
//! let report = rx.recv().unwrap(); // the waiter has waited for more than 50 ms
//! assert!(report.contains("Mutex"), "{report}");
//! drop(guard);
//! waiter.join().unwrap();
//! diagnostics::clear_long_wait_hook();
//! ```
//!
//! # Design
//!
//! **Holder record.** Each lock carries, under the feature, a small record of its holder:
//! the call site (a `&'static Location`), the acquisition time and the thread's number, in
//! atomics behind a sequence counter (a seqlock: only the holder writes, so writers never
//! race; readers retry on a torn read). The time is a cheap stamp (the CPU's time-stamp
//! counter on x86-64), turned into an `Instant` only when the record is read: reading the
//! clock would otherwise be most of what the record costs. The thread's number is the
//! crate's own (never reused, unlike an OS thread id); a [`ThreadId`] wraps it.
//!
//! **Registry of waits.** A wait registers itself in one process-wide registry when it first
//! has to park, never on the uncontended path, and leaves it when it completes, times out or
//! is dropped. Its entry lives inside the wait itself (in the future, which is pinned, or on
//! the blocked thread's stack), next to its place in the lock's queue, so registering
//! allocates nothing. The registry is a list of groups, one per lock with parked waits, under
//! one `std` mutex; the first entry of a group keeps the group's copy of the lock's holder.
//!
//! **Nothing in the registry points into a lock.** An entry holds a *copy* of the holder of
//! the lock it waits for, never a reference to the lock: a future that is leaked
//! (`mem::forget` of a `Box::pin`) stays registered for ever, but the lock it borrowed may be
//! moved or dropped afterwards, and the registry must not read it then. So the copy is kept
//! up to date from the other side: the lock points to its group (the pointer is set and
//! cleared by the waits as they join and leave, while they borrow the lock), and when its
//! holder changes while it has a group, it takes the registry's lock and refreshes the copy
//! from its own record, one entry found without a search. A waiter that starts a group while
//! the holder changes cannot miss the change: it sets the lock's group pointer before it
//! reads the record, and the holder writes the record before it reads the pointer, each with
//! a sequentially consistent fence in between, so one of the two sees the other.
//!
//! **The watchdog.** [`set_long_wait_hook`] starts one thread (`unisync-watchdog`) that scans
//! the registry a few times per threshold (at most once a millisecond, at least once a
//! second) and reports each wait once, when it has passed the threshold. Parked tasks are in
//! the registry like blocked threads, so async waits need no timer of any runtime. Reports
//! are collected under the registry's lock and handed to the hook after it is released; the
//! hook never runs under the registry's lock or under any lock of a primitive, so it may lock
//! anything, this crate's locks and [`check_deadlock`] included. A hook that panics has its
//! panic caught; the watchdog goes on. [`clear_long_wait_hook`] stops the thread.
//!
//! **Deadlock check.** The check builds the graph "thread → lock it is blocked on → thread
//! that holds it" from the registry, and follows it: each thread is blocked in one wait at a
//! time; a wait on a `RwLock` also points to every thread that reads that lock.
//!
//! **Readers.** A read lock has no single holder to record in the lock, so read locks are
//! counted in one process-wide table instead, a row per lock and reader with the site and
//! time of that reader's first read lock; a thread and the tasks it polls are different
//! readers, since the check follows the one and not the others. The row is added after the
//! lock is taken and counted down before it is released, so the check never follows a
//! reader that has left. A lock's rows are found by a number it is given when it first needs
//! one, not by its address, which a moved or dropped lock leaves to others; and a read guard
//! keeps its lock's number and its reader, so a guard dropped on another thread counts down
//! the right row.
//!
//! **Waits that are no longer queued.** A wait leaves the registry when its thread (or
//! task) runs again. Between being handed its lock (or let in) and running, it is still
//! registered but no longer blocked: the check reads the wait's place in the lock's queue
//! (an atomic word in the same pinned wait as its entry) and leaves out a wait that is not
//! queued.
//!
//! # Costs
//!
//! Without the feature: none. The record is a zero-sized field, no site is captured, and the
//! locks compile to the code they have without diagnostics (the existing `mutex/uncontended`
//! and `rwlock/uncontended-write` benchmarks are unchanged).
//!
//! With it: a `Mutex`, `RwLock` or `ReentrantMutex` is 48 bytes larger (the record), and a
//! wait future of a tracked lock is larger by its call site and registry entry (144 bytes on
//! 64-bit targets: a `Lock` goes from 72 to 216 bytes). Read guards, mapped ones included,
//! are 16 bytes larger (their row in the readers' table), and mapped mutex and mapped write
//! guards 8 (a reference to the record); a plain `MutexGuard` or `RwLockWriteGuard` does not
//! grow. Every acquisition takes a time stamp and writes the record, and every release
//! clears it;
//! `cargo bench --bench mutex -- mutex/diagnostics`, with and without
//! `--features diagnostics`, shows what that costs. On a 2-core x86-64 VM, an uncontended
//! `lock().await` went from 5 ns to 20 ns, `try_lock` from 5 ns to 12 ns and `lock_blocking`
//! from 5 ns to 20 ns. Contention costs more: a wait that parks takes the registry's lock to
//! join and to leave, and while a lock has parked waiters each change of its holder takes it
//! once more. On that VM, 64 tasks on one mutex ran 3× (tokio) to 10× (smol) slower, and 4
//! threads 1.5× slower. Every read lock and its release also take the lock of the readers'
//! table, which the readers of every `RwLock` in the process share: an uncontended read took
//! 3 to 4 times as long, and a read-heavy workload of 64 tasks about 3 times
//! (`cargo bench --bench rwlock -- rwlock/diagnostics`). Fine for finding a bug;
//! not meant for production throughput.
//!
//! # Limits
//!
//! - Only [`Mutex`], [`RwLock`] and [`ReentrantMutex`] are tracked. A read lock is counted
//!   for the deadlock check but has no holder record: a wait for readers (or for an
//!   upgradable reader) is reported to the long-wait hook with no holder.
//! - Upgradable read locks are not tracked: a thread waiting in `upgradable_read_blocking`
//!   is not seen as blocked, and a thread holding an upgradable read lock is not followed,
//!   so a deadlock through one is not found. (Its upgrade is tracked, as a wait for the
//!   readers.)
//! - The check follows a write or upgrade wait on a `RwLock` to the lock's writer and to all
//!   of its readers, whatever the wait is waiting for at that moment: a writer still queued
//!   behind another writer, say, is taken to wait for the readers as well, which it will once
//!   it is first. A read wait is followed to the writer, and to the readers only while a
//!   write or upgrade of that lock is queued too (the reader waits for them through it). So
//!   a read that waits for room on a lock made with
//!   [`RwLock::with_max_readers`](crate::RwLock::with_max_readers), with no writer queued,
//!   is not followed to the readers; with one queued, it is, though it needs only one reader
//!   to leave. And while a writer's release is still letting queued readers in (a batch of 32
//!   at a time) and another writer is queued, a reader not let in yet is taken to wait for
//!   the readers already in.
//! - An async task has no identity that every runtime shares. A holder that took its lock
//!   through an async wait is recorded with the thread that polled it, flagged with
//!   [`Holder::by_task`], and the deadlock check does not follow it (the task may run on
//!   another worker next time); long waits of tasks are reported all the same. A `try_*` or
//!   `_blocking` call made inside a task cannot tell it is in one: it is recorded as the
//!   polling thread's, and followed like any thread's hold.
//! - A guard sent to another thread is still attributed to the thread that took the lock.
//! - [`lock_all`](crate::lock_all) and its forms record the `lock_all` call as the holder
//!   of each mutex they take, and a multi-lock that waits is reported as a wait for the
//!   mutex it is waiting for at that moment.
//! - A [`ReentrantMutex`] records only its outermost lock: locking it again on the holding
//!   thread neither waits nor changes the record.
//! - After a [`Condvar`](crate::Condvar) wait, the holder's site is the site of the
//!   condvar wait that took the mutex back.
//! - A leaked wait future stays registered (and is reported once) for ever, and a leaked
//!   read guard stays counted as a reader of its lock (which it keeps read-locked).
//! - Holder times need a clock: on `wasm32-unknown-unknown`, where `std` has none, leave the
//!   feature off.
//! - The check sees a snapshot: a cycle it reports existed when the registry was read. A
//!   thread that is blocked with a deadline (`lock_blocking_timeout`) may still leave the
//!   cycle on its own.
//!
//! [`Mutex`]: crate::Mutex
//! [`Mutex::holder`]: crate::Mutex::holder
//! [`RwLock`]: crate::RwLock
//! [`RwLock::writer`]: crate::RwLock::writer
//! [`ReentrantMutex`]: crate::ReentrantMutex
//! [`ReentrantMutex::holder`]: crate::ReentrantMutex::holder

use core::fmt;
use core::panic::Location;
use core::time::Duration;
use std::sync::Arc;
use std::thread::Thread;
use std::time::Instant;

use self::record::Snapshot;
use self::registry::{registry, watchdog, Hook, WATCHDOG};

mod readers;
mod record;
mod registry;

pub(crate) use self::readers::{read_acquired, read_released, Reader};
pub(crate) use self::record::{caller, watch, HolderCell, HolderRef, Site, Target, WaitRecord};

/// The holder of a lock: where it took the lock, when, and on which thread.
///
/// Returned by [`Mutex::holder`](crate::Mutex::holder),
/// [`RwLock::writer`](crate::RwLock::writer) and
/// [`ReentrantMutex::holder`](crate::ReentrantMutex::holder), and carried by [`LongWait`] and
/// [`BlockedThread`]. It is a copy taken when it was read: [`held_for`](Holder::held_for)
/// keeps counting, but the lock may have changed hands since.
///
/// # Examples
///
/// ```
/// use unisync::Mutex;
///
/// let mutex = Mutex::new(0);
/// let guard = mutex.lock_blocking();
/// let holder = mutex.holder().expect("locked");
/// assert_eq!(holder.site().line(), line!() - 2);
/// println!("{holder}"); // src/main.rs:5:20, held for 1.2µs by thread #1
/// drop(guard);
/// assert!(mutex.holder().is_none());
/// ```
#[derive(Clone, Copy)]
pub struct Holder {
    site: &'static Location<'static>,
    since: Instant,
    thread: ThreadId,
    task: bool,
}

impl Holder {
    /// Where the lock was taken: the caller of `lock`, `try_lock`, `write`, ...
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::Mutex::new(());
    /// let _guard = mutex.try_lock().unwrap();
    /// let site = mutex.holder().unwrap().site();
    /// assert_eq!((site.file(), site.line()), (file!(), line!() - 2));
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// How long the lock has been held: from when it was taken until now.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = unisync::Mutex::new(());
    /// let _guard = mutex.try_lock().unwrap();
    /// std::thread::sleep(Duration::from_millis(5));
    /// assert!(mutex.holder().unwrap().held_for() >= Duration::from_millis(5));
    /// ```
    pub fn held_for(&self) -> Duration {
        self.since.elapsed()
    }

    /// When the lock was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    ///
    /// let before = Instant::now();
    /// let mutex = unisync::Mutex::new(());
    /// let _guard = mutex.try_lock().unwrap();
    /// assert!(mutex.holder().unwrap().acquired_at() >= before);
    /// ```
    pub fn acquired_at(&self) -> Instant {
        self.since
    }

    /// The thread that took the lock (for a lock taken by an async task: the thread that
    /// polled it then, see [`by_task`](Holder::by_task)).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::diagnostics::ThreadId;
    ///
    /// let mutex = unisync::Mutex::new(());
    /// let _guard = mutex.lock_blocking();
    /// assert_eq!(mutex.holder().unwrap().thread(), ThreadId::current());
    /// ```
    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    /// Whether the lock was taken by an async wait (`lock().await`, `write().await`, ...),
    /// that is by a task rather than a thread.
    ///
    /// The deadlock check does not follow such holders: a task may be polled by another
    /// worker thread each time. Only a wait future sets it: a `try_*` or `_blocking` call made
    /// inside a task is recorded as the polling thread's (see the [limits](self#limits)).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = unisync::Mutex::new(());
    /// # futures::executor::block_on(async {
    /// let guard = mutex.lock().await;
    /// assert!(mutex.holder().unwrap().by_task());
    /// drop(guard);
    /// let _guard = mutex.lock_blocking(); // a thread's own wait
    /// assert!(!mutex.holder().unwrap().by_task());
    /// # });
    /// ```
    pub fn by_task(&self) -> bool {
        self.task
    }
}

impl fmt::Debug for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Holder")
            .field("site", &format_args!("{}", self.site))
            .field("held_for", &self.held_for())
            .field("thread", &self.thread)
            .field("by_task", &self.task)
            .finish()
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, held for {:?} by thread {}",
            self.site,
            self.held_for(),
            self.thread
        )?;
        if self.task {
            f.write_str(" (in a task)")?;
        }
        Ok(())
    }
}

/// A number naming a thread, as the diagnostics record it.
///
/// Never 0, and never given to another thread, even after this one has exited (the numbers
/// of `std::thread::ThreadId` cannot be read on stable Rust). Displayed as `#n`.
///
/// # Panics
///
/// A thread is numbered the first time it needs one (it takes a tracked lock, or locks a
/// [`ReentrantMutex`](crate::ReentrantMutex)). After `usize::MAX >> 1` threads have been
/// numbered, which only a 32-bit target can reach, the next one panics there.
///
/// # Examples
///
/// ```
/// use unisync::diagnostics::ThreadId;
///
/// let here = ThreadId::current();
/// let there = std::thread::spawn(ThreadId::current).join().unwrap();
/// assert_ne!(here, there);
/// assert_eq!(here, ThreadId::current());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(usize);

impl ThreadId {
    /// The number of the current thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::diagnostics::ThreadId;
    ///
    /// assert_eq!(ThreadId::current(), ThreadId::current());
    /// ```
    pub fn current() -> ThreadId {
        ThreadId(crate::sync::thread::current_id())
    }

    /// The number itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::diagnostics::ThreadId;
    ///
    /// assert!(ThreadId::current().as_u64() > 0);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0 as u64
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which lock a wait is for, and which side of it.
///
/// # Examples
///
/// ```
/// use unisync::diagnostics::LockKind;
///
/// assert_eq!(LockKind::Mutex.to_string(), "Mutex");
/// assert_eq!(LockKind::RwLockWrite.to_string(), "RwLock (write)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LockKind {
    /// A [`Mutex`](crate::Mutex), locked directly or by a [`Condvar`](crate::Condvar) wait.
    Mutex,
    /// The write lock of a [`RwLock`](crate::RwLock).
    RwLockWrite,
    /// An upgradable read lock of a [`RwLock`](crate::RwLock) becoming the write lock: it
    /// waits for readers, so it has no holder to report.
    RwLockUpgrade,
    /// A [`ReentrantMutex`](crate::ReentrantMutex), waited for by a thread that does not
    /// hold it.
    ReentrantMutex,
    /// A read lock of a [`RwLock`](crate::RwLock), waited for while a writer holds the lock
    /// or waits for its readers, or while a lock made with
    /// [`with_max_readers`](crate::RwLock::with_max_readers) has no room.
    RwLockRead,
}

impl fmt::Display for LockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LockKind::Mutex => "Mutex",
            LockKind::RwLockWrite => "RwLock (write)",
            LockKind::RwLockUpgrade => "RwLock (upgrade)",
            LockKind::ReentrantMutex => "ReentrantMutex",
            LockKind::RwLockRead => "RwLock (read)",
        })
    }
}

/// A report of a wait that has lasted longer than the threshold of the long-wait hook.
///
/// Handed to the hook installed with [`set_long_wait_hook`], once per wait (a multi-lock,
/// once for each member it has to wait for). `Display` gives a one-line summary.
///
/// # Examples
///
/// ```
/// use std::sync::{mpsc, Arc};
/// use std::time::Duration;
/// use unisync::{diagnostics, Mutex};
///
/// let (tx, rx) = mpsc::channel();
/// diagnostics::set_long_wait_hook(Duration::from_millis(20), move |wait| {
///     let _ = tx.send((wait.site().line(), wait.holder()));
/// });
///
/// let mutex = Arc::new(Mutex::new(()));
/// let held_at = line!() + 1;
/// let guard = mutex.lock_blocking();
/// let m = mutex.clone();
/// let waited_at = line!() + 1;
/// let waiter = std::thread::spawn(move || drop(m.lock_blocking()));
/// let (line, holder) = rx.recv().unwrap();
/// assert_eq!(line, waited_at);
/// assert_eq!(holder.unwrap().site().line(), held_at);
/// drop(guard);
/// waiter.join().unwrap();
/// diagnostics::clear_long_wait_hook();
/// ```
#[derive(Clone)]
pub struct LongWait {
    site: &'static Location<'static>,
    waited: Duration,
    kind: LockKind,
    addr: usize,
    thread: Option<(ThreadId, Thread)>,
    holder: Option<Holder>,
}

impl LongWait {
    /// Where the waiter called: the caller of `lock`, `lock_blocking`, `write`, ...
    ///
    /// # Examples
    ///
    /// See [`LongWait`].
    ///
    /// ```
    /// # use unisync::diagnostics::LongWait;
    /// fn line_of(wait: &LongWait) -> u32 {
    ///     wait.site().line()
    /// }
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// How long the wait had lasted when it was reported (from when it first had to park).
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::LongWait;
    /// fn is_very_long(wait: &LongWait) -> bool {
    ///     wait.waited() > std::time::Duration::from_secs(10)
    /// }
    /// ```
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Which lock the wait is for.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::diagnostics::{LockKind, LongWait};
    ///
    /// fn is_writer(wait: &LongWait) -> bool {
    ///     wait.lock_kind() == LockKind::RwLockWrite
    /// }
    /// ```
    pub fn lock_kind(&self) -> LockKind {
        self.kind
    }

    /// The address of the lock (of the `Mutex`, `RwLock` or `ReentrantMutex` itself), to tell
    /// locks apart.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{diagnostics::LongWait, Mutex};
    ///
    /// fn is_for(wait: &LongWait, mutex: &Mutex<u32>) -> bool {
    ///     wait.lock_addr() == mutex as *const Mutex<u32> as usize
    /// }
    /// ```
    pub fn lock_addr(&self) -> usize {
        self.addr
    }

    /// The waiting thread, for a blocking wait (`None` for an async wait: a task).
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::LongWait;
    /// fn is_a_task(wait: &LongWait) -> bool {
    ///     wait.thread().is_none()
    /// }
    /// ```
    pub fn thread(&self) -> Option<ThreadId> {
        self.thread.as_ref().map(|(id, _)| *id)
    }

    /// The name of the waiting thread, for a blocking wait in a named thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::LongWait;
    /// fn who(wait: &LongWait) -> &str {
    ///     wait.thread_name().unwrap_or("<unnamed>")
    /// }
    /// ```
    pub fn thread_name(&self) -> Option<&str> {
        self.thread.as_ref().and_then(|(_, thread)| thread.name())
    }

    /// The holder of the lock when the wait was reported, if it is known (a writer waiting
    /// for readers has none).
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::LongWait;
    /// fn blame(wait: &LongWait) -> String {
    ///     match wait.holder() {
    ///         Some(holder) => format!("held at {}", holder.site()),
    ///         None => "no single holder".to_string(),
    ///     }
    /// }
    /// ```
    pub fn holder(&self) -> Option<Holder> {
        self.holder
    }
}

impl fmt::Debug for LongWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongWait")
            .field("site", &format_args!("{}", self.site))
            .field("waited", &self.waited)
            .field("lock_kind", &self.kind)
            .field("lock_addr", &format_args!("{:#x}", self.addr))
            .field("thread", &self.thread())
            .field("thread_name", &self.thread_name())
            .field("holder", &self.holder)
            .finish()
    }
}

impl fmt::Display for LongWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited {:?} for the {} at {:#x}, from {}",
            self.waited, self.kind, self.addr, self.site
        )?;
        match &self.thread {
            Some((id, thread)) => {
                write!(f, " on thread {id}")?;
                if let Some(name) = thread.name() {
                    write!(f, " ({name:?})")?;
                }
            }
            None => f.write_str(" in a task")?,
        }
        match &self.holder {
            Some(holder) => write!(f, "; holder: {holder}"),
            None => f.write_str("; no recorded holder"),
        }
    }
}

/// A thread in a deadlock cycle: what it waits for, and who holds that.
///
/// Part of a [`DeadlockCycle`]. Its [`holder`](BlockedThread::holder) is the next thread of
/// the cycle.
///
/// # Examples
///
/// ```
/// use unisync::diagnostics;
///
/// for cycle in diagnostics::check_deadlock() {
///     for blocked in cycle.threads() {
///         eprintln!(
///             "thread {} waits at {} for the lock held at {} by thread {}",
///             blocked.thread(),
///             blocked.site(),
///             blocked.holder().site(),
///             blocked.holder().thread(),
///         );
///     }
/// }
/// ```
#[derive(Clone)]
pub struct BlockedThread {
    thread: ThreadId,
    handle: Thread,
    site: &'static Location<'static>,
    waited: Duration,
    kind: LockKind,
    addr: usize,
    holder: Holder,
}

impl BlockedThread {
    /// The blocked thread.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::{BlockedThread, ThreadId};
    /// fn is_me(blocked: &BlockedThread) -> bool {
    ///     blocked.thread() == ThreadId::current()
    /// }
    /// ```
    pub fn thread(&self) -> ThreadId {
        self.thread
    }

    /// The blocked thread's name, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::BlockedThread;
    /// fn name(blocked: &BlockedThread) -> &str {
    ///     blocked.name().unwrap_or("<unnamed>")
    /// }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.handle.name()
    }

    /// Where the thread waits: the caller of `lock_blocking`, `write_blocking`, ...
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::BlockedThread;
    /// fn line(blocked: &BlockedThread) -> u32 {
    ///     blocked.site().line()
    /// }
    /// ```
    pub fn site(&self) -> &'static Location<'static> {
        self.site
    }

    /// How long the thread had been blocked when the check ran.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::BlockedThread;
    /// fn stuck_for_long(blocked: &BlockedThread) -> bool {
    ///     blocked.waited() > std::time::Duration::from_secs(1)
    /// }
    /// ```
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// Which lock the thread waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::diagnostics::{BlockedThread, LockKind};
    ///
    /// fn on_a_mutex(blocked: &BlockedThread) -> bool {
    ///     blocked.lock_kind() == LockKind::Mutex
    /// }
    /// ```
    pub fn lock_kind(&self) -> LockKind {
        self.kind
    }

    /// The address of the lock the thread waits for.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::BlockedThread;
    /// fn same_lock(a: &BlockedThread, b: &BlockedThread) -> bool {
    ///     a.lock_addr() == b.lock_addr()
    /// }
    /// ```
    pub fn lock_addr(&self) -> usize {
        self.addr
    }

    /// The holder of that lock that this thread waits for in the cycle: the next thread of
    /// the cycle, and where it took the lock (for a reader of a `RwLock`, its first read
    /// lock of it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::BlockedThread;
    /// fn holder_line(blocked: &BlockedThread) -> u32 {
    ///     blocked.holder().site().line()
    /// }
    /// ```
    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

impl fmt::Debug for BlockedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockedThread")
            .field("thread", &self.thread)
            .field("name", &self.name())
            .field("site", &format_args!("{}", self.site))
            .field("waited", &self.waited)
            .field("lock_kind", &self.kind)
            .field("lock_addr", &format_args!("{:#x}", self.addr))
            .field("holder", &self.holder)
            .finish()
    }
}

impl fmt::Display for BlockedThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {}", self.thread)?;
        if let Some(name) = self.name() {
            write!(f, " ({name:?})")?;
        }
        write!(
            f,
            " waits at {} (for {:?}) for the {} at {:#x}, held at {} by thread {}",
            self.site, self.waited, self.kind, self.addr, self.holder.site, self.holder.thread
        )
    }
}

/// Threads that wait for each other in a cycle: none of them can go on.
///
/// Returned by [`check_deadlock`]. Each thread of [`threads`](DeadlockCycle::threads) waits
/// for a lock held by the next one, and the last for a lock held by the first. `Display`
/// prints one line per thread.
///
/// # Examples
///
/// ```
/// use unisync::diagnostics;
///
/// let cycles = diagnostics::check_deadlock();
/// for (i, cycle) in cycles.iter().enumerate() {
///     eprintln!("deadlock #{i}:\n{cycle}");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct DeadlockCycle {
    threads: Vec<BlockedThread>,
}

impl DeadlockCycle {
    /// The threads of the cycle, starting with the lowest [`ThreadId`]; each waits for a lock
    /// held by the next, the last for one held by the first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use unisync::diagnostics::DeadlockCycle;
    /// fn sites(cycle: &DeadlockCycle) -> Vec<String> {
    ///     cycle.threads().iter().map(|t| t.site().to_string()).collect()
    /// }
    /// ```
    pub fn threads(&self) -> &[BlockedThread] {
        &self.threads
    }
}

impl fmt::Display for DeadlockCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, thread) in self.threads.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{thread}")?;
        }
        Ok(())
    }
}

/// Installs `hook`, to be called once for each wait for a lock this module tracks (a
/// [`Mutex`](crate::Mutex), including the members of a multi-lock and a condvar's re-lock; a
/// [`RwLock`](crate::RwLock)'s write, read and upgrade waits; a
/// [`ReentrantMutex`](crate::ReentrantMutex)) that lasts longer than `threshold`.
///
/// A multi-lock is reported once for each member it has to wait for, its `waited` counted
/// from when it began to wait for that member.
///
/// The hook runs on a thread of its own (`unisync-watchdog`), started by a call made while
/// none runs, never under a lock of this crate, so it may lock anything and call
/// [`check_deadlock`]. It replaces a hook installed before (with its threshold): a report
/// being handed to the old hook when this is called may still arrive there, and every later
/// one goes to the new hook, by the new threshold. Waits that were already reported are not
/// reported again. Async waits are reported like blocking ones, while they are parked. A
/// wait is reported a little after it passes the threshold: the watchdog looks every quarter
/// of the threshold (at most every millisecond, at least every second).
///
/// # Panics
///
/// Panics if the watchdog thread cannot be started (the hook is then not installed). A
/// panic inside the hook is caught, and the watchdog goes on. The hook this one replaces is
/// dropped on the calling thread, so a panic in the drop of what it captured reaches the
/// caller (the new hook is installed by then).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use unisync::diagnostics;
///
/// diagnostics::set_long_wait_hook(Duration::from_secs(1), |wait| {
///     eprintln!("long wait: {wait}");
/// });
/// // ... run the program ...
/// diagnostics::clear_long_wait_hook();
/// ```
pub fn set_long_wait_hook<F>(threshold: Duration, hook: F)
where
    F: Fn(&LongWait) + Send + Sync + 'static,
{
    let hook: Arc<Hook> = Arc::new(hook);
    let mut reg = registry();
    let old = reg.hook.replace(hook);
    reg.threshold = threshold;
    if !reg.watchdog {
        let started = std::thread::Builder::new()
            .name("unisync-watchdog".into())
            .spawn(watchdog);
        match started {
            Ok(_) => reg.watchdog = true,
            Err(err) => {
                let new = core::mem::replace(&mut reg.hook, old);
                drop(reg);
                drop(new);
                panic!("unisync could not start its watchdog thread: {err}");
            }
        }
    }
    drop(reg);
    WATCHDOG.notify_all();
    // Dropped outside the registry's lock: the old hook's captures may lock anything.
    drop(old);
}

/// Removes the long-wait hook, if one is installed, and tells the watchdog thread to exit
/// (without waiting for it).
///
/// Waits go on being registered (the deadlock check needs them); only the reports stop. A
/// report being handed to the hook when this is called may still arrive.
///
/// # Panics
///
/// The removed hook is dropped on the calling thread: a panic in the drop of what it
/// captured reaches the caller (the hook is removed by then).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use unisync::diagnostics;
///
/// diagnostics::set_long_wait_hook(Duration::from_millis(100), |wait| eprintln!("{wait}"));
/// diagnostics::clear_long_wait_hook();
/// diagnostics::clear_long_wait_hook(); // nothing to remove: fine
/// ```
pub fn clear_long_wait_hook() {
    let old = registry().hook.take();
    WATCHDOG.notify_all();
    drop(old);
}

/// Finds the threads that are blocked on each other in a cycle, and returns each cycle once.
///
/// A thread counts as blocked while it waits in a `_blocking` method of a
/// [`Mutex`](crate::Mutex), a [`RwLock`](crate::RwLock) or a
/// [`ReentrantMutex`](crate::ReentrantMutex) (`lock_blocking`, `lock_blocking_timeout`,
/// `read_blocking`, `write_blocking`, `upgrade_blocking`, ..., and the re-lock of
/// [`Condvar::wait_blocking`](crate::Condvar::wait_blocking)). Each of those waits for the
/// lock's holder, and a write or upgrade wait on a `RwLock` also for every thread that holds
/// a read lock of it (a read wait only while a write or upgrade of that lock is queued; see
/// the [limits](self#limits)). Following them from thread to thread, a cycle is a deadlock:
/// nobody in it can go on until someone in it gives up (a wait with a timeout). Each thread
/// of a reported cycle comes with the holder it waits for in that cycle.
///
/// A thread that waits for several (a writer waits for every reader) can be in more than
/// one cycle. Every thread that is in a cycle is in at least one reported cycle, and no
/// cycle is reported twice by one call; where every thread waits for one other (mutexes
/// only, say), every cycle is reported.
///
/// Each call reports the cycles that exist when it reads the registry, so a deadlock that
/// lasts is reported again by every later call, and calls from several threads (yours and
/// the long-wait hook, say) do not take reports from each other. (`parking_lot`'s
/// `check_deadlock` differs: it reports each deadlock once, and leaves out waits with a
/// deadline.) Waits with a timeout are included here: they are how a program gets out of a
/// deadlock it has found. A wait is in the registry once it has to park, after a blocking
/// wait's few yields: on a loaded machine, a wait with a timeout of a few milliseconds can
/// run out of time before it parks, and is then never seen. Wait in steps of 100 ms or
/// more where a step should be seen.
///
/// Async tasks are not followed (see the [module's limits](self#limits)); use the long-wait
/// hook for them. The check holds the registry's lock and the readers' table's lock while it
/// copies the waits, which holds up every read lock and read release in the process
/// meanwhile; its time grows with the waits times the read locks held, and quadratically
/// with the number of blocked threads. Call it from a thread of your own every few
/// seconds, or from the long-wait hook.
///
/// # Examples
///
/// Two threads take two mutexes in opposite orders. One of them waits for its second mutex in
/// short steps, so that it can give up once the cycle has been seen, and the example ends:
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Barrier;
/// use std::thread;
/// use std::time::Duration;
/// use unisync::{diagnostics, Mutex};
///
/// let (a, b) = (Mutex::new(()), Mutex::new(()));
/// let (both_hold_one, give_up) = (Barrier::new(2), AtomicBool::new(false));
/// thread::scope(|s| {
///     s.spawn(|| {
///         let _b = b.lock_blocking();
///         both_hold_one.wait();
///         while !give_up.load(Ordering::SeqCst) {
///             // Waits for `a`, which the main thread holds while it waits for `b`.
///             let _ = a.lock_blocking_timeout(Duration::from_millis(100));
///         }
///     });
///     let _a = a.lock_blocking();
///     both_hold_one.wait();
///     s.spawn(|| {
///         let cycle = loop {
///             if let Some(cycle) = diagnostics::check_deadlock().pop() {
///                 break cycle;
///             }
///             thread::sleep(Duration::from_millis(1));
///         };
///         assert_eq!(cycle.threads().len(), 2);
///         eprintln!("{cycle}");
///         give_up.store(true, Ordering::SeqCst);
///     });
///     drop(b.lock_blocking()); // waits until the other thread gives up
/// });
/// ```
pub fn check_deadlock() -> Vec<DeadlockCycle> {
    let now = Instant::now();
    let mut blocked = Vec::new();
    let mut reg = registry();
    // Always taken after the registry's lock, so the two are read at one moment.
    let holds = readers::holds();
    // The locks with a queued write or upgrade: a read queued on one of them waits, through
    // that writer, for the lock's readers. A read queued on another lock is waiting for its
    // writer to go (holder record), or is already owed its read lock by a release that is
    // still letting readers in, batch by batch: then it waits for no reader.
    let mut writers_waiting = Vec::new();
    reg.for_each(|entry, _| {
        if entry.readers != 0 && entry.kind != LockKind::RwLockRead && entry.is_queued() {
            writers_waiting.push(entry.readers);
        }
    });
    reg.for_each(|entry, holder| {
        let Some((id, handle)) = &entry.thread else {
            return;
        };
        // A wait that was handed its lock, or let in, is not blocked, though it has not run
        // to leave the registry yet.
        if !entry.is_queued() {
            return;
        }
        let mut holders: Vec<Snapshot> = holder.into_iter().collect();
        let through_writer =
            entry.kind != LockKind::RwLockRead || writers_waiting.contains(&entry.readers);
        if entry.readers != 0 && through_writer {
            holders.extend(readers::readers_of(&holds, entry.readers));
        }
        holders.retain(|h| !h.task());
        if holders.is_empty() {
            return;
        }
        blocked.push(Blocked {
            thread: ThreadId(*id),
            handle: handle.clone(),
            site: entry.site,
            waited: now.saturating_duration_since(entry.started),
            kind: entry.kind,
            addr: entry.addr,
            holders,
        });
    });
    drop(holds);
    drop(reg);
    find_cycles(blocked)
}

/// A thread blocked in a wait, and every thread its wait waits for: the lock's holder, and
/// for a `RwLock` its readers.
struct Blocked {
    thread: ThreadId,
    handle: Thread,
    site: &'static Location<'static>,
    waited: Duration,
    kind: LockKind,
    addr: usize,
    holders: Vec<Snapshot>,
}

impl Blocked {
    /// The thread, reported with the holder it waits for in a cycle.
    fn report(&self, holder: Snapshot) -> BlockedThread {
        BlockedThread {
            thread: self.thread,
            handle: self.handle.clone(),
            site: self.site,
            waited: self.waited,
            kind: self.kind,
            addr: self.addr,
            holder: holder.holder(),
        }
    }
}

/// The cycles of the graph where each blocked thread points to each thread it waits for.
///
/// A thread waits in one wait at a time, but a wait on a `RwLock` waits for all of its
/// readers, so a thread may point to several. A cycle is a deadlock whichever way it goes
/// (a writer needs every reader to leave). From each thread in no cycle found so far, in
/// order of thread id, a breadth-first search finds the shortest cycle back to it, if there
/// is one; so every thread that is in a cycle is in one that is reported, and no cycle is
/// reported twice. Where each thread has one way out this finds every cycle, once.
fn find_cycles(mut blocked: Vec<Blocked>) -> Vec<DeadlockCycle> {
    blocked.sort_by_key(|b| b.thread);
    let index = |thread: usize| {
        blocked
            .binary_search_by_key(&ThreadId(thread), |b| b.thread)
            .ok()
    };
    // For each thread: the blocked threads it waits for, each with the holder record that
    // says so (the first, if there are several).
    let edges: Vec<Vec<(usize, Snapshot)>> = blocked
        .iter()
        .map(|b| {
            let mut out: Vec<(usize, Snapshot)> = Vec::new();
            for h in &b.holders {
                if let Some(j) = index(h.thread_id()) {
                    if !out.iter().any(|&(k, _)| k == j) {
                        out.push((j, *h));
                    }
                }
            }
            out
        })
        .collect();
    let mut in_cycle = vec![false; blocked.len()];
    let mut cycles = Vec::new();
    // For the search: how each thread was reached (from which thread, through which record).
    let mut reached: Vec<Option<(usize, Snapshot)>> = vec![None; blocked.len()];
    let mut queue = std::collections::VecDeque::new();
    for start in 0..blocked.len() {
        if in_cycle[start] {
            continue;
        }
        reached.iter_mut().for_each(|r| *r = None);
        queue.clear();
        queue.push_back(start);
        let mut closing = None;
        'search: while let Some(u) = queue.pop_front() {
            for &(v, h) in &edges[u] {
                if v == start {
                    closing = Some((u, h));
                    break 'search;
                }
                if reached[v].is_none() {
                    reached[v] = Some((u, h));
                    queue.push_back(v);
                }
            }
        }
        let Some((last, closing_holder)) = closing else {
            continue;
        };
        // Back from the last thread to `start`, each with the record of the one after it.
        let mut members = vec![(last, closing_holder)];
        let mut k = last;
        while k != start {
            let (from, h) = reached[k].expect("a thread on the path was reached");
            members.push((from, h));
            k = from;
        }
        members.reverse();
        for &(m, _) in &members {
            in_cycle[m] = true;
        }
        // Start with the lowest thread id (`blocked` is sorted by it).
        let lowest = (0..members.len())
            .min_by_key(|&m| members[m].0)
            .expect("a cycle has a member");
        members.rotate_left(lowest);
        let threads = members
            .into_iter()
            .map(|(m, h)| blocked[m].report(h))
            .collect();
        cycles.push(DeadlockCycle { threads });
    }
    cycles
}

//! Locking several [`Mutex`]es at once without deadlock: [`lock_all`], its blocking and `try`
//! forms, and the [`LockSet`] they take.
//!
//! # Implementation notes
//!
//! Every multi-lock takes its mutexes in one global order: by the address of each mutex's
//! raw lock, lowest first. Mutexes are borrowed for as long as a lock or its guards live, so
//! an address cannot change under a caller, and every caller sees the same order whatever
//! order it names the mutexes in. A multi-lock waits for a mutex only while holding mutexes
//! that come earlier in that order, so no cycle of waiting multi-locks can form: the one
//! holding the highest mutex of a would-be cycle waits for nothing any of them holds.
//!
//! We chose ordering over "lock one, try the rest, back off and retry" (C++'s `std::lock`):
//! ordering never spins or retries, a waiter keeps its place in each mutex's queue (and so
//! the fairness the mutex gives it), and a wait costs what the same locks taken one by one
//! cost. The price is that a multi-lock holds the earlier mutexes while it waits for a later
//! one.
//!
//! The future is one [`Shell`] like every other wait: one node, reused for each mutex in
//! turn, and one word of state, which holds the mutex waiter's two bits and, above them, the
//! index (plus one) of the last member taken. The set itself is the shell's source. Which
//! member comes next is found again on each step (the lowest address above the last one
//! taken), so the future does not grow with the number of mutexes and needs no sorted copy
//! of the set (which would need room that grows with it); a step costs O(n) comparisons, a
//! whole multi-lock O(n²), nothing for the handful of mutexes a caller locks together.
//! Members are distinct (checked when the lock is made, also O(n²)), so "above the last one
//! taken" is exact, and "everything up to the last one taken" is exactly what a cancelled
//! lock holds.

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use crate::diag;
use crate::future::{wait_future, Shell, WaitKind};
use crate::mutex::{Mutex, MutexGuard};
use crate::raw::mutex::{LockWaiter, RawMutex, TaskSpin};
use crate::raw::queue::Node;
use crate::raw::wait::{each_finally, Finally, Strategy};

mod sealed {
    use super::{diag, LockSet, RawMutex};

    /// The raw lock of a member and its diagnostics target, in a type other crates can
    /// neither name nor open.
    #[allow(missing_debug_implementations)] // never seen outside the crate
    pub struct Member<'a>(pub(crate) &'a RawMutex, pub(crate) diag::Target<'a>);

    /// What a multi-lock needs from a set, kept out of reach of other crates.
    pub trait Sealed: Sized {
        /// How many mutexes the set names.
        fn len(&self) -> usize;

        /// The raw lock of member `i` (`i < len()`).
        fn member(&self, i: usize) -> Member<'_>;

        /// The guards of every member, in the set's own order.
        ///
        /// # Safety
        ///
        /// The caller must hold every member's lock and hand each to its guard.
        unsafe fn into_guards(self) -> <Self as LockSet>::Guards
        where
            Self: LockSet;
    }
}

use sealed::{Member, Sealed};

/// The raw lock of member `i` of `set`.
#[inline]
fn raw<S: Sealed>(set: &S, i: usize) -> &RawMutex {
    set.member(i).0
}

/// Member `i` of `set` as the diagnostics see it.
#[inline]
fn target<S: Sealed>(set: &S, i: usize) -> diag::Target<'_> {
    set.member(i).1
}

/// A set of [`Mutex`]es that [`lock_all`] and its forms lock together.
///
/// Implemented for:
///
/// - tuples of one to six references to mutexes of any types,
///   `(&Mutex<A>, &Mutex<B>, ..)`, locked into a tuple of guards `(MutexGuard<A>, ..)`;
/// - arrays of references to mutexes of one type, `[&Mutex<T>; N]`, locked into
///   `[MutexGuard<T>; N]`;
/// - slices of references to mutexes of one type, `&[&Mutex<T>]`, locked into a
///   `Vec<MutexGuard<T>>`, for a number of mutexes known only at run time. Locking `n`
///   mutexes takes O(n²) comparisons (the order is found as it goes, without a sorted copy),
///   which is nothing for tens of mutexes but adds up for thousands.
///
/// The guards come back in the order the set names the mutexes, whatever order they were
/// locked in. For mutexes behind an `Arc`, name them as `&*arc`. The trait is sealed: it
/// cannot be implemented outside this crate.
///
/// # Examples
///
/// ```
/// use unisync::{lock_all, Mutex};
///
/// # futures::executor::block_on(async {
/// let (name, hits) = (Mutex::new(String::from("a")), Mutex::new(0));
/// let (mut name, mut hits) = lock_all((&name, &hits)).await; // a tuple
/// name.push('b');
/// *hits += 1;
/// drop((name, hits));
///
/// let shards = [Mutex::new(1), Mutex::new(2), Mutex::new(3)];
/// let all = lock_all([&shards[2], &shards[0]]).await; // an array
/// assert_eq!([*all[0], *all[1]], [3, 1]);
/// drop(all);
///
/// let some: Vec<&Mutex<i32>> = shards.iter().filter(|m| *m.try_lock().unwrap() > 1).collect();
/// let guards = lock_all(&some[..]).await; // a slice: guards in a `Vec`
/// assert_eq!(guards.iter().map(|g| **g).sum::<i32>(), 5);
/// # });
/// ```
pub trait LockSet: Sealed {
    /// The guards [`lock_all`] yields for this set, in the set's order.
    ///
    /// # Examples
    ///
    /// Naming the guards in a signature, generically or for one set:
    ///
    /// ```
    /// use unisync::{LockSet, Mutex, MutexGuard};
    ///
    /// fn lock_or_none<S: LockSet>(set: S) -> Option<S::Guards> {
    ///     unisync::try_lock_all(set)
    /// }
    ///
    /// type Pair<'a> = <(&'a Mutex<u8>, &'a Mutex<String>) as LockSet>::Guards;
    ///
    /// let (n, s) = (Mutex::new(1), Mutex::new(String::new()));
    /// let guards: Pair<'_> = lock_or_none((&n, &s)).unwrap();
    /// let _: (MutexGuard<'_, u8>, MutexGuard<'_, String>) = guards;
    /// ```
    type Guards;
}

/// Each member has a lifetime of its own: a set's future must be `LockSet` whatever the
/// lifetimes of its references, or an `async` block holding it across `.await` could not be
/// proven `Send`.
macro_rules! tuple_sets {
    ($( ($($T:ident $l:lifetime $i:tt),+) )*) => {$(
        impl<$($l),+, $($T: ?Sized),+> Sealed for ($(&$l Mutex<$T>,)+) {
            #[inline]
            fn len(&self) -> usize {
                [$($i),+].len()
            }

            #[inline]
            fn member(&self, i: usize) -> Member<'_> {
                match i {
                    $($i => Member(self.$i.raw(), self.$i.diag_target()),)+
                    _ => unreachable!("a lock set member out of range"),
                }
            }

            #[inline]
            unsafe fn into_guards(self) -> <Self as LockSet>::Guards {
                // SAFETY: the caller holds every member's lock and hands it to its guard.
                unsafe { ($(self.$i.make_guard_unchecked(),)+) }
            }
        }

        impl<$($l),+, $($T: ?Sized),+> LockSet for ($(&$l Mutex<$T>,)+) {
            type Guards = ($(MutexGuard<$l, $T>,)+);
        }
    )*};
}

tuple_sets! {
    (A 'a 0)
    (A 'a 0, B 'b 1)
    (A 'a 0, B 'b 1, C 'c 2)
    (A 'a 0, B 'b 1, C 'c 2, D 'd 3)
    (A 'a 0, B 'b 1, C 'c 2, D 'd 3, E 'e 4)
    (A 'a 0, B 'b 1, C 'c 2, D 'd 3, E 'e 4, F 'f 5)
}

impl<T: ?Sized, const N: usize> Sealed for [&Mutex<T>; N] {
    #[inline]
    fn len(&self) -> usize {
        N
    }

    #[inline]
    fn member(&self, i: usize) -> Member<'_> {
        Member(self[i].raw(), self[i].diag_target())
    }

    #[inline]
    unsafe fn into_guards(self) -> <Self as LockSet>::Guards {
        // SAFETY: the caller holds every member's lock and hands it to its guard.
        self.map(|m| unsafe { m.make_guard_unchecked() })
    }
}

impl<'a, T: ?Sized, const N: usize> LockSet for [&'a Mutex<T>; N] {
    type Guards = [MutexGuard<'a, T>; N];
}

impl<T: ?Sized> Sealed for &[&Mutex<T>] {
    #[inline]
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    #[inline]
    fn member(&self, i: usize) -> Member<'_> {
        Member(self[i].raw(), self[i].diag_target())
    }

    unsafe fn into_guards(self) -> <Self as LockSet>::Guards {
        self.iter()
            // SAFETY: the caller holds every member's lock and hands it to its guard.
            .map(|m| unsafe { m.make_guard_unchecked() })
            .collect()
    }
}

impl<'a, T: ?Sized> LockSet for &[&'a Mutex<T>] {
    type Guards = Vec<MutexGuard<'a, T>>;
}

/// Where member `i` sits in the lock order.
#[inline]
fn key<S: Sealed>(set: &S, i: usize) -> *const RawMutex {
    raw(set, i)
}

/// The member to lock after `last` (the first one when `None`): the lowest address above
/// it, or `None` when every member is taken.
#[inline]
fn next<S: Sealed>(set: &S, last: Option<usize>) -> Option<usize> {
    let floor = last.map(|i| key(set, i));
    let mut best: Option<(usize, *const RawMutex)> = None;
    for i in 0..set.len() {
        let k = key(set, i);
        if floor.map_or(true, |f| k > f) && best.map_or(true, |(_, b)| k < b) {
            best = Some((i, k));
        }
    }
    best.map(|(i, _)| i)
}

/// Unlocks every member up to `last` in the lock order: all that a multi-lock has taken.
///
/// # Safety
///
/// The caller must hold exactly those locks.
unsafe fn unlock_through<S: Sealed>(set: &S, last: usize) {
    let top = key(set, last);
    // Every member, even if an unlock wakes a waker that panics.
    each_finally((0..set.len()).filter(|&i| key(set, i) <= top), |i| {
        target(set, i).clear();
        // SAFETY: the caller holds every lock at or below `top` in the lock order.
        unsafe { raw(set, i).unlock() };
    });
}

/// Panics if a mutex appears twice in `set`: the lock would wait for itself for ever.
#[track_caller]
fn assert_distinct<S: Sealed>(set: &S) {
    for i in 1..set.len() {
        for j in 0..i {
            if core::ptr::eq(raw(set, i), raw(set, j)) {
                panic!(
                    "the same mutex appears twice in a lock set (members {j} and {i}): \
                     locking it twice would deadlock"
                );
            }
        }
    }
}

/// Locks every mutex of `set`, in one global order, and yields their guards in the set's
/// order.
///
/// The mutexes are locked one at a time, lowest address first, whatever order `set` names
/// them in. Since every multi-lock uses that order, multi-locks never deadlock with each
/// other: tasks and threads that lock `(&a, &b)` and `(&b, &a)` at the same time all get
/// through. See [`LockSet`] for the sets it takes (tuples, arrays, slices).
///
/// The order protects multi-locks from each other only. Code that holds one of these
/// mutexes (through [`Mutex::lock`] or an earlier multi-lock) while it waits for another
/// is outside the order and can still deadlock with it: lock everything a step needs in one
/// call. A task or thread that locks one mutex while holding no other cannot take part in
/// such a deadlock.
///
/// Each mutex is waited for as [`Mutex::lock`] waits, in its queue and with its fairness;
/// the mutexes taken first stay locked while the later ones are waited for.
///
/// # Panics
///
/// Panics, here rather than when polled, if the same mutex appears twice in `set`: a mutex
/// that waited for itself would never be locked.
///
/// # Cancel safety
///
/// Cancel-safe, all or nothing. Dropping the future before it completes unlocks every mutex
/// it had taken, withdraws it from the queue of the one it was waiting for, and passes on a
/// wake-up (or a lock handed to it) that it had not acted on, so every mutex is as if
/// `lock_all` had never been called.
///
/// # Examples
///
/// Two tasks transfer between two accounts in opposite directions; both finish:
///
/// ```
/// use unisync::{lock_all, Mutex};
///
/// async fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
///     let (mut from, mut to) = lock_all((from, to)).await;
///     *from -= amount;
///     *to += amount;
/// }
///
/// # futures::executor::block_on(async {
/// let (a, b) = (Mutex::new(100), Mutex::new(100));
/// futures::join!(transfer(&a, &b, 30), transfer(&b, &a, 10));
/// assert_eq!((*a.lock().await, *b.lock().await), (80, 120));
/// # });
/// ```
#[track_caller]
pub fn lock_all<S: LockSet>(set: S) -> LockAll<S> {
    assert_distinct(&set);
    LockAll {
        shell: Shell::new(
            set,
            LockAllKind {
                bits: 0,
                diag: diag::WaitRecord::new(diag::caller()),
                _set: PhantomData,
            },
        ),
    }
}

/// Locks every mutex of `set` if all are free right now; otherwise locks none.
///
/// Never waits, so the order does not matter here: the mutexes are tried in the set's order,
/// and on the first that is taken, the ones already locked are unlocked again and `None` is
/// returned. Like [`Mutex::try_lock`], it also fails on a mutex that is being handed to a
/// waiter.
///
/// # Panics
///
/// Panics if the same mutex appears twice in `set`.
///
/// # Examples
///
/// ```
/// use unisync::{try_lock_all, Mutex};
///
/// let (a, b) = (Mutex::new(1), Mutex::new(2));
/// let held = b.try_lock().unwrap();
/// assert!(try_lock_all((&a, &b)).is_none());
/// assert!(!a.is_locked()); // all or nothing
/// drop(held);
/// let (a, b) = try_lock_all((&a, &b)).unwrap();
/// assert_eq!((*a, *b), (1, 2));
/// ```
#[track_caller]
#[must_use = "if unused the locks are released at once"]
pub fn try_lock_all<S: LockSet>(set: S) -> Option<S::Guards> {
    assert_distinct(&set);
    let site = diag::caller();
    for i in 0..set.len() {
        if !raw(&set, i).try_lock_looking() {
            // Every member taken, even if an unlock wakes a waker that panics.
            each_finally(0..i, |j| {
                target(&set, j).clear();
                // SAFETY: members `0..i` were locked by this loop.
                unsafe { raw(&set, j).unlock() };
            });
            return None;
        }
        target(&set, i).record(site, false);
    }
    // SAFETY: every member was locked above.
    Some(unsafe { set.into_guards() })
}

/// Locks every mutex of `set`, parking the current thread until all are taken; the guards
/// come back in the set's order.
///
/// The blocking twin of [`lock_all`], with the same order: threads and tasks that lock the
/// same mutexes in any naming order never deadlock with each other.
///
/// # Panics
///
/// Panics if the same mutex appears twice in `set`.
///
/// # Blocking
///
/// Parks the thread. Never call it from inside an async task: it would stall the executor's
/// worker and may deadlock it if a holder needs that worker to run.
///
/// # Examples
///
/// ```
/// use std::{sync::Arc, thread};
/// use unisync::{lock_all_blocking, Mutex};
///
/// let (a, b) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
/// let other = {
///     let (a, b) = (a.clone(), b.clone());
///     thread::spawn(move || {
///         for _ in 0..100 {
///             let (mut b, mut a) = lock_all_blocking((&*b, &*a));
///             *a += 1;
///             *b += 1;
///         }
///     })
/// };
/// for _ in 0..100 {
///     let (mut a, mut b) = lock_all_blocking((&*a, &*b));
///     *a += 1;
///     *b += 1;
/// }
/// other.join().unwrap();
/// assert_eq!(*a.lock_blocking(), 200);
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[track_caller]
#[doc(alias = "blocking_lock_all")]
pub fn lock_all_blocking<S: LockSet>(set: S) -> S::Guards {
    crate::raw::wait::block_on(lock_all(set), crate::raw::wait::Deadline::Never)
        .expect("a wait without deadline completes")
}

/// Locks every mutex of `set`, parking the current thread for at most `timeout` in all.
///
/// Returns `None` if the mutexes could not all be taken in time. It is all or nothing: the
/// mutexes taken before the deadline passed are unlocked again before it returns, so every
/// mutex is then as if this call had never been made.
///
/// # Panics
///
/// Panics if the same mutex appears twice in `set`.
///
/// # Blocking
///
/// Parks the thread; never call it from inside an async task.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use unisync::{lock_all_blocking_timeout, Mutex};
///
/// // In an array the mutexes lie in address order, which is the order they are locked in.
/// let [a, b] = &[Mutex::new(()), Mutex::new(())];
/// let held = b.lock_blocking();
/// // `a` is taken, then the wait for `b` times out and gives `a` back.
/// assert!(lock_all_blocking_timeout((a, b), Duration::from_millis(10)).is_none());
/// assert!(!a.is_locked());
/// drop(held);
/// assert!(lock_all_blocking_timeout((a, b), Duration::from_millis(10)).is_some());
/// ```
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[track_caller]
#[must_use = "if unused the locks are released at once"]
pub fn lock_all_blocking_timeout<S: LockSet>(
    set: S,
    timeout: core::time::Duration,
) -> Option<S::Guards> {
    crate::raw::wait::block_on(lock_all(set), crate::raw::wait::deadline(timeout))
}

/// The multi-lock wait: one word, the mutex waiter's bits below and, above them, one plus the
/// index of the last member taken (zero: none yet).
///
/// The index fits: each member is a pointer to a distinct mutex of at least two words, so a
/// set has far fewer than `usize::MAX >> LockWaiter::BITS` members.
pub(crate) struct LockAllKind<S> {
    bits: usize,
    /// The site of the `lock_all` call and its entry among the diagnostics' waits (nothing
    /// without the `diagnostics` feature).
    diag: diag::WaitRecord,
    _set: PhantomData<fn() -> S>,
}

const WAITER_MASK: usize = (1 << LockWaiter::BITS) - 1;

impl<S> LockAllKind<S> {
    /// The last member taken, if any.
    #[inline]
    fn last(&self) -> Option<usize> {
        (self.bits >> LockWaiter::BITS).checked_sub(1)
    }

    /// The waiter of the member being waited for.
    #[inline]
    fn waiter(&self) -> LockWaiter {
        LockWaiter::from_bits(self.bits & WAITER_MASK)
    }
}

impl<S: LockSet> WaitKind for LockAllKind<S> {
    type Source = S;
    type Ready = ();
    type Output = S::Guards;

    #[inline]
    fn poll<St: Strategy>(&mut self, node: Pin<&Node>, set: &S, strategy: &mut St) -> Poll<()> {
        loop {
            let Some(i) = next(set, self.last()) else {
                return Poll::Ready(());
            };
            let mut waiter = self.waiter();
            let t = target(set, i);
            let res = diag::watch(&mut self.diag, t, strategy, |strategy| {
                waiter.poll_lock(node, raw(set, i), strategy, TaskSpin::Eager)
            });
            if res.is_pending() {
                self.bits = (self.bits & !WAITER_MASK) | waiter.into_bits();
                return Poll::Pending;
            }
            self.diag.record_holder(t);
            // Member `i` is ours; the waiter and the node are new again for the next one.
            self.bits = (i + 1) << LockWaiter::BITS;
        }
    }

    #[inline]
    fn finish(&mut self, (): (), set: S) -> S::Guards {
        // SAFETY: the wait completed, so every member is locked; the locks pass to the guards.
        unsafe { set.into_guards() }
    }

    fn cancel(&mut self, node: Pin<&Node>, set: &S) {
        let last = self.last();
        // Whatever happens below (dropping a user's waker can panic), the mutexes taken are
        // released.
        let _release = Finally::new(|| {
            if let Some(last) = last {
                // SAFETY: the members up to `last` in the lock order are exactly those taken.
                unsafe { unlock_through(set, last) };
            }
        });
        let mut waiter = self.waiter();
        self.bits = 0;
        if let Some(i) = next(set, last) {
            let diag = &mut self.diag;
            let _then = Finally::new(|| diag.cancel(target(set, i)));
            // The member being waited for: leave its queue, passing on a wake-up or a lock
            // handed to us (a no-op if its wait had not started).
            waiter.cancel(node, raw(set, i));
        }
    }
}

pin_project! {
    /// The future returned by [`lock_all`]; resolves to the guards of every mutex in the set
    /// ([`LockSet::Guards`]).
    ///
    /// One node, reused for each mutex in turn, so the future is the size of a single
    /// [`Lock`](crate::futures::Lock) with the set in place of its one mutex reference,
    /// however many mutexes it locks.
    /// It holds its place in a mutex's queue, so it is `!Unpin`: `.await` pins it for you; to
    /// keep one in a struct or poll it by hand, pin it with [`core::pin::pin!`] or
    /// [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::FutureExt;
    /// use unisync::{futures::LockAll, lock_all, Mutex};
    ///
    /// // In an array the mutexes lie in address order, which is the order they are locked in.
    /// let [a, b] = &[Mutex::new(1), Mutex::new(2)];
    /// let held = b.try_lock().unwrap();
    /// let mut lock: std::pin::Pin<Box<LockAll<(&Mutex<i32>, &Mutex<i32>)>>> =
    ///     Box::pin(lock_all((a, b)));
    /// assert!(lock.as_mut().now_or_never().is_none());
    /// assert!(a.is_locked()); // taken; the future waits for `b`
    /// drop(lock); // cancelled: whatever it had taken is unlocked
    /// assert!(!a.is_locked());
    /// drop(held);
    /// ```
    #[must_use = "futures do nothing unless awaited or polled"]
    #[project(!Unpin)]
    pub struct LockAll<L: LockSet> {
        #[pin]
        shell: Shell<LockAllKind<L>>,
    }
}

wait_future!(LockAll [L: LockSet] [L] -> L::Guards);

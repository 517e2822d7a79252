//! The guards of [`RwLock`], and the ways to turn one into another.

use alloc::sync::Arc;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

use super::futures::{Upgrade, UpgradeOwned};
use super::RwLock;
use crate::diag;
use crate::raw::rwlock::RawRwLock;

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`RwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// Like a `&'a T`, the guard is covariant in `T` (a guard of `RwLock<&'static str>` can be
/// used where one of `RwLock<&'a str>` is expected) and is `Send` and `Sync` when `T` is
/// `Sync`. That is why, unlike the other unmapped guards, it has no `source`: handing out the lock
/// itself would let a shortened `T` be written into it. The owned read guard keeps its
/// [`source`](OwnedRwLockReadGuard::source) and is invariant in `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let guard = lock.read().await;
/// assert_eq!(*guard, [1]);
/// # });
/// ```
///
/// A guard of longer-lived data is one of shorter-lived data too:
///
/// ```
/// use unisync::{RwLock, RwLockReadGuard};
///
/// fn first<'g>(guard: RwLockReadGuard<'g, &'g str>) -> char {
///     guard.chars().next().unwrap()
/// }
///
/// let lock: RwLock<&'static str> = RwLock::new("static");
/// assert_eq!(first(lock.try_read().unwrap()), 's');
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // A mapped guard of the whole value: a pointer rather than `&'a RwLock<T>`, so the guard
    // is covariant in `T`, as a `&'a T` is, and `Send`/`Sync` exactly when `T: Sync`.
    inner: MappedRwLockReadGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard;
    /// `reader` says who took it (zero-sized without the `diagnostics` feature).
    pub(super) unsafe fn new(lock: &'a RwLock<T>, reader: diag::Reader) -> Self {
        // SAFETY: `UnsafeCell::get` never returns null.
        let value = unsafe { NonNull::new_unchecked(lock.value.get()) };
        RwLockReadGuard {
            inner: MappedRwLockReadGuard::new(&lock.raw, value, reader),
        }
    }
}

impl<'a, T: ?Sized> Deref for RwLockReadGuard<'a, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

/// A guard that releases the write lock of the [`RwLock`] when dropped; it derefs to `&mut T`.
///
/// Guard helpers are associated functions (`RwLockWriteGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let mut guard = lock.write().await;
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockWriteGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> &'a RwLock<T> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_write().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockWriteGuard::source(&guard), &lock));
    /// ```
    #[doc(alias = "rwlock")]
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockWriteGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.writer.clear();
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.write_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockWriteGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized> DerefMut for RwLockWriteGuard<'a, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

/// A guard that releases the upgradable read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`RwLockUpgradableReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = unisync::RwLock::new(vec![1]);
/// let guard = lock.upgradable_read().await;
/// assert_eq!(guard.len(), 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockUpgradableReadGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> &'a RwLock<T> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockUpgradableReadGuard::source(&guard), &lock));
    /// ```
    #[doc(alias = "rwlock")]
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockUpgradableReadGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.upgradable_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockUpgradableReadGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`OwnedRwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// The guard is invariant in `T`, as tokio's owned read guard is: it hands out its lock
/// ([`source`](OwnedRwLockReadGuard::source)), and through a lock seen with a shortened `T` a
/// value that lives too briefly could be written. async-lock's `RwLockReadGuardArc` makes the
/// other choice (covariant, with no way back to its lock). Where covariance matters, hold a
/// borrowed [`RwLockReadGuard`], which is covariant.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let guard = lock.read_owned().await;
/// assert_eq!(*guard, [1]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
    // Zero-sized without the `diagnostics` feature.
    reader: diag::Reader,
}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard;
    /// `reader` says who took it (zero-sized without the `diagnostics` feature).
    pub(super) unsafe fn new(lock: Arc<RwLock<T>>, reader: diag::Reader) -> Self {
        OwnedRwLockReadGuard { lock, reader }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_read_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockReadGuard::source(&guard), &lock));
    /// ```
    #[doc(alias = "rwlock")]
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        diag::read_released(self.reader);
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.read_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockReadGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

/// A guard that releases the write lock of the [`RwLock`] when dropped; it derefs to `&mut T`.
///
/// Guard helpers are associated functions (`OwnedRwLockWriteGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let mut guard = lock.write_owned().await;
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockWriteGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> Arc<RwLock<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_write_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockWriteGuard::source(&guard), &lock));
    /// ```
    #[doc(alias = "rwlock")]
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.writer.clear();
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.write_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockWriteGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedRwLockWriteGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the write lock and `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

/// A guard that releases the upgradable read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`OwnedRwLockUpgradableReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// let lock = std::sync::Arc::new(unisync::RwLock::new(vec![1]));
/// let guard = lock.upgradable_read_owned().await;
/// assert_eq!(guard.len(), 1);
/// # });
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct OwnedRwLockUpgradableReadGuard<T: ?Sized> {
    lock: Arc<RwLock<T>>,
}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockUpgradableReadGuard { lock }
    }

    /// Splits the guard into its lock, leaving the lock held.
    fn into_lock(guard: Self) -> Arc<RwLock<T>> {
        let guard = core::mem::ManuallyDrop::new(guard);
        // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
        unsafe { core::ptr::read(&guard.lock) }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = std::sync::Arc::new(unisync::RwLock::new(0));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// assert!(std::sync::Arc::ptr_eq(unisync::OwnedRwLockUpgradableReadGuard::source(&guard), &lock));
    /// ```
    #[doc(alias = "rwlock")]
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockUpgradableReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.upgradable_unlock() }
    }
}

impl<T: ?Sized> Deref for OwnedRwLockUpgradableReadGuard<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
    ///
    /// New readers queue as soon as the returned future is first polled (or, if readers that
    /// the last write let in have not run yet, when it is next polled after they have: the
    /// last of them to run wakes it; see the type's fairness rules), so a stream of readers
    /// cannot hold the upgrade off; no other writer can get in between, since the upgradable
    /// lock excludes writers.
    ///
    /// # Cancel safety
    ///
    /// The returned future owns the upgradable lock. Dropping it before it completes releases
    /// that lock (the guard is gone), lets in the readers that queued behind the upgrade, and
    /// leaves nothing else behind. If you need to keep reading after giving up, use
    /// [`try_upgrade`](Self::try_upgrade) in a loop or take a new guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read().await;
    /// if *guard == 1 {
    ///     let mut writer = RwLockUpgradableReadGuard::upgrade(guard).await;
    ///     *writer = 2;
    /// }
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade(guard: Self) -> Upgrade<'a, T> {
        Upgrade::new(Self::into_lock(guard), diag::caller())
    }

    /// Turns the guard into the write lock if no reader is inside; otherwise gives it back.
    ///
    /// # Errors
    ///
    /// Returns the guard unchanged while any read lock is held, including by readers let in but
    /// not yet run (see [`reader_count`](RwLock::reader_count)).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = RwLockUpgradableReadGuard::try_upgrade(guard).unwrap_err();
    /// drop(reader);
    /// let mut writer = RwLockUpgradableReadGuard::try_upgrade(guard).unwrap();
    /// *writer = 2;
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            guard.lock.writer.record(diag::caller(), false);
            // SAFETY: the upgradable lock became the write lock.
            Ok(unsafe { RwLockWriteGuard::new(Self::into_lock(guard)) })
        } else {
            Err(guard)
        }
    }

    /// Turns the guard into the write lock, parking the current thread until the readers
    /// inside have left.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read_blocking();
    /// *RwLockUpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_upgrade")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking(guard: Self) -> RwLockWriteGuard<'a, T> {
        crate::raw::wait::block_on(Self::upgrade(guard), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Turns the guard into the write lock, parking the current thread for at most `timeout`
    /// while the readers inside leave.
    ///
    /// # Errors
    ///
    /// If the readers did not leave in time, gives the upgradable guard back: the caller keeps
    /// its upgradable lock, and readers that queued behind the attempted upgrade are let in.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.upgradable_read_blocking();
    /// let reader = lock.read_blocking();
    /// let guard = RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_millis(5))
    ///     .unwrap_err(); // a reader is inside: still upgradable
    /// drop(reader);
    /// let mut write = RwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_secs(1))
    ///     .unwrap();
    /// *write += 1;
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "try_upgrade_for")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking_timeout(
        guard: Self,
        timeout: core::time::Duration,
    ) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let mut upgrade = core::pin::pin!(Self::upgrade(guard));
        let deadline = crate::raw::wait::deadline(timeout);
        match crate::raw::wait::block_on_pinned(upgrade.as_mut(), deadline) {
            Some(write) => Ok(write),
            None => {
                let lock = upgrade.withdraw();
                // SAFETY: withdrawing the upgrade kept the upgradable lock; it passes to the
                // new guard.
                Err(unsafe { RwLockUpgradableReadGuard::new(lock) })
            }
        }
    }

    /// Turns the guard into a read guard, letting writers and upgradable readers in again.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held; the guard's lock is released then
    /// (see [Limits](RwLock#limits)). Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let guard = lock.try_upgradable_read().unwrap();
    /// let reader = RwLockUpgradableReadGuard::downgrade(guard);
    /// assert!(lock.try_upgradable_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        // SAFETY: the guard holds the upgradable lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_upgradable() };
        let lock = Self::into_lock(guard);
        let who = diag::read_acquired(lock.readers(), diag::caller(), false);
        // SAFETY: we now hold a read lock, and still `gate`. The read guard owns the read
        // lock before `gate` goes, since waking its next holder can panic.
        let reader = unsafe { RwLockReadGuard::new(lock, who) };
        // SAFETY: the upgradable lock is ours to give up.
        unsafe { lock.raw.upgradable_unlock() };
        reader
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
    ///
    /// Readers that queued behind this writer get in at the same time (on a lock made with
    /// [`RwLock::with_max_readers`], as many as fit beside this one).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut writer = lock.try_write().unwrap();
    /// *writer = 2;
    /// let reader = RwLockWriteGuard::downgrade(writer);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// assert_eq!(*reader, 2);
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            inner: MappedRwLockWriteGuard::downgrade(Self::into_mapped(guard)),
        }
    }

    /// Turns the write lock into the upgradable read lock, letting readers in but no writer.
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let writer = lock.try_write().unwrap();
    /// let guard = RwLockWriteGuard::downgrade_to_upgradable(writer);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// assert_eq!(*guard, 1);
    /// ```
    pub fn downgrade_to_upgradable(guard: Self) -> RwLockUpgradableReadGuard<'a, T> {
        let lock = Self::into_lock(guard);
        lock.writer.clear();
        // SAFETY: we held the write lock and give it up for the upgradable lock, which the new
        // guard owns first: waking a reader can panic, and the guard then releases `gate`.
        unsafe {
            let upgradable = RwLockUpgradableReadGuard::new(lock);
            lock.raw.downgrade_write_to_upgradable();
            upgradable
        }
    }
}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
    ///
    /// New readers queue behind the upgrade as they do for
    /// [`RwLockUpgradableReadGuard::upgrade`], so a stream of readers cannot hold it off, and
    /// no other writer can get in between.
    ///
    /// # Cancel safety
    ///
    /// As for [`RwLockUpgradableReadGuard::upgrade`]: the future owns the upgradable lock, and
    /// dropping it unfinished releases that lock and leaves nothing else behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.upgradable_read_owned().await;
    /// *OwnedRwLockUpgradableReadGuard::upgrade(guard).await += 1;
    /// assert_eq!(*lock.read().await, 2);
    /// # });
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade(guard: Self) -> UpgradeOwned<T> {
        UpgradeOwned::new(Self::into_lock(guard), diag::caller())
    }

    /// Turns the guard into the write lock, parking the current thread until the readers
    /// inside have left.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// *OwnedRwLockUpgradableReadGuard::upgrade_blocking(guard) += 1;
    /// assert_eq!(*lock.read_blocking(), 2);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "blocking_upgrade")]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking(guard: Self) -> OwnedRwLockWriteGuard<T> {
        crate::raw::wait::block_on(Self::upgrade(guard), crate::raw::wait::Deadline::Never)
            .expect("a wait without deadline completes")
    }

    /// Turns the guard into the write lock, parking the current thread for at most `timeout`
    /// while the readers inside leave.
    ///
    /// # Errors
    ///
    /// If the readers did not leave in time, gives the upgradable guard back: the caller keeps
    /// its upgradable lock, and readers that queued behind the attempted upgrade are let in.
    ///
    /// # Blocking
    ///
    /// Parks the thread. Never call it from inside an async task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let write =
    ///     OwnedRwLockUpgradableReadGuard::upgrade_blocking_timeout(guard, Duration::from_secs(1));
    /// assert_eq!(*write.unwrap(), 1);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn upgrade_blocking_timeout(
        guard: Self,
        timeout: core::time::Duration,
    ) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        let mut upgrade = core::pin::pin!(Self::upgrade(guard));
        let deadline = crate::raw::wait::deadline(timeout);
        match crate::raw::wait::block_on_pinned(upgrade.as_mut(), deadline) {
            Some(write) => Ok(write),
            None => {
                let lock = upgrade.withdraw();
                // SAFETY: withdrawing the upgrade kept the upgradable lock; it passes to the
                // new guard.
                Err(unsafe { OwnedRwLockUpgradableReadGuard::new(lock) })
            }
        }
    }

    /// Turns the guard into the write lock if no reader is inside; otherwise gives it back.
    ///
    /// # Errors
    ///
    /// Returns the guard unchanged while any read lock is held, including by readers let in but
    /// not yet run (see [`reader_count`](RwLock::reader_count)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = lock.try_read().unwrap();
    /// let guard = OwnedRwLockUpgradableReadGuard::try_upgrade(guard).unwrap_err();
    /// drop(reader);
    /// assert!(OwnedRwLockUpgradableReadGuard::try_upgrade(guard).is_ok());
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn try_upgrade(guard: Self) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            guard.lock.writer.record(diag::caller(), false);
            // SAFETY: the upgradable lock became the write lock.
            Ok(unsafe { OwnedRwLockWriteGuard::new(Self::into_lock(guard)) })
        } else {
            Err(guard)
        }
    }

    /// Turns the guard into a read guard, letting writers and upgradable readers in again.
    ///
    /// # Panics
    ///
    /// When [`RwLock::MAX_READERS`] read locks are held; the guard's lock is released then
    /// (see [Limits](RwLock#limits)). Only leaked guards can get that far.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let guard = lock.try_upgradable_read_owned().unwrap();
    /// let reader = OwnedRwLockUpgradableReadGuard::downgrade(guard);
    /// assert!(lock.try_upgradable_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        // SAFETY: the guard holds the upgradable lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_upgradable() };
        let lock = Self::into_lock(guard);
        let who = diag::read_acquired(lock.readers(), diag::caller(), false);
        // SAFETY: we now hold a read lock, and still `gate`. The read guard owns the read
        // lock before `gate` goes, since waking its next holder can panic.
        let reader = unsafe { OwnedRwLockReadGuard::new(lock, who) };
        // SAFETY: the upgradable lock is ours to give up.
        unsafe { reader.lock.raw.upgradable_unlock() };
        reader
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
    ///
    /// Readers that queued behind this writer get in at the same time (on a lock made with
    /// [`RwLock::with_max_readers`], as many as fit beside this one).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// let reader = OwnedRwLockWriteGuard::downgrade(writer);
    /// assert!(lock.try_read().is_some());
    /// assert_eq!(*reader, 1);
    /// ```
    #[cfg_attr(feature = "diagnostics", track_caller)]
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        // Panics, changing nothing, if the read lock would not fit: the guard still owns the
        // write lock then.
        guard.lock.raw.check_downgrade();
        let lock = Self::into_lock(guard);
        // The read lock is the write lock's taker's: a task's, if a task took it.
        let by_task = lock.readers().by_task();
        lock.writer.clear();
        let who = diag::read_acquired(lock.readers(), diag::caller(), by_task);
        // SAFETY: the read guard owns the read lock that the downgrade below takes (waking a
        // reader can panic: the guard then gives it up).
        let reader = unsafe { OwnedRwLockReadGuard::new(lock, who) };
        // SAFETY: we held the write lock and give it up for that read lock.
        unsafe { reader.lock.raw.downgrade_write() };
        reader
    }

    /// Turns the write lock into the upgradable read lock, letting readers in but no writer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new(1));
    /// let writer = lock.try_write_owned().unwrap();
    /// let guard = OwnedRwLockWriteGuard::downgrade_to_upgradable(writer);
    /// assert!(lock.try_read().is_some());
    /// assert!(lock.try_write().is_none());
    /// assert_eq!(*guard, 1);
    /// ```
    pub fn downgrade_to_upgradable(guard: Self) -> OwnedRwLockUpgradableReadGuard<T> {
        let lock = Self::into_lock(guard);
        lock.writer.clear();
        // SAFETY: we held the write lock and give it up for the upgradable lock, which the new
        // guard owns first: waking a reader can panic, and the guard then releases `gate`.
        unsafe {
            let upgradable = OwnedRwLockUpgradableReadGuard::new(lock);
            upgradable.lock.raw.downgrade_write_to_upgradable();
            upgradable
        }
    }
}

/// Narrowing guards to a part of the value: `map` and `try_map` on every read and write guard.
///
/// A mapped guard keeps the lock (read or write) held and releases it when dropped. It cannot
/// be turned back into the full guard or upgraded; a mapped write guard can be downgraded to a
/// mapped read guard of the same part, and a write guard can be narrowed and downgraded in one
/// step (`downgrade_map`, `try_downgrade_map`).
mod mapped {
    use super::*;

    impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
        /// Narrows the guard to a part of the value; the read lock stays held by the new guard.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockReadGuard};
        ///
        /// let lock = RwLock::new((1, String::from("a")));
        /// let name = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.1);
        /// assert_eq!(*name, "a");
        /// ```
        pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedRwLockReadGuard<'a, U>
        where
            F: FnOnce(&T) -> &U,
        {
            MappedRwLockReadGuard::map(guard.inner, f)
        }

        /// Narrows the guard to a part of the value that `f` may or may not find; gives the
        /// guard back unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockReadGuard};
        ///
        /// let lock = RwLock::new(vec![1, 2]);
        /// let guard = RwLockReadGuard::try_map(lock.try_read().unwrap(), |v| v.get(7)).unwrap_err();
        /// let second = RwLockReadGuard::try_map(guard, |v| v.get(1)).unwrap();
        /// assert_eq!(*second, 2);
        /// ```
        pub fn try_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<MappedRwLockReadGuard<'a, U>, Self>
        where
            F: FnOnce(&T) -> Option<&U>,
        {
            MappedRwLockReadGuard::try_map(guard.inner, f)
                .map_err(|inner| RwLockReadGuard { inner })
        }
    }

    impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
        /// Narrows the guard to a part of the value; the write lock stays held by the new
        /// guard.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new((1, String::from("a")));
        /// let mut name = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.1);
        /// name.push('b');
        /// drop(name);
        /// assert_eq!(lock.try_read().unwrap().1, "ab");
        /// ```
        pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
        where
            F: FnOnce(&mut T) -> &mut U,
        {
            let lock = guard.lock;
            // SAFETY: `guard` holds the write lock until it is forgotten below, after `f`.
            let value = NonNull::from(f(unsafe { &mut *lock.value.get() }));
            Self::into_mapped_at(guard, value)
        }

        /// Hands the write lock over to a mapped guard of `value`, a part of the locked value.
        fn into_mapped_at<U: ?Sized>(
            guard: Self,
            value: NonNull<U>,
        ) -> MappedRwLockWriteGuard<'a, U> {
            let lock = Self::into_lock(guard);
            MappedRwLockWriteGuard::new(&lock.raw, diag::HolderRef::new(&lock.writer), value)
        }

        /// Narrows the guard to a part of the value that `f` may or may not find; gives the
        /// guard back unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new(vec![1, 2]);
        /// let mut first = RwLockWriteGuard::try_map(lock.try_write().unwrap(), |v| v.first_mut())
        ///     .unwrap();
        /// *first = 10;
        /// drop(first);
        /// assert_eq!(*lock.try_read().unwrap(), [10, 2]);
        /// ```
        pub fn try_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
        where
            F: FnOnce(&mut T) -> Option<&mut U>,
        {
            let lock = guard.lock;
            // SAFETY: as in `map`.
            let Some(value) = f(unsafe { &mut *lock.value.get() }).map(NonNull::from) else {
                return Err(guard);
            };
            Ok(Self::into_mapped_at(guard, value))
        }

        /// Turns the write lock into a read lock of a part of the value, without letting any
        /// writer in between: [`map`](RwLockWriteGuard::map) and
        /// [`downgrade`](RwLockWriteGuard::downgrade) in one step.
        ///
        /// `f` runs while the write lock is still held, so nobody else sees the value between
        /// the last write and the read guard; it gets `&T`, not `&mut T`, since what it returns
        /// is then shared with other readers. Readers that queued behind this writer get in
        /// once `f` has returned.
        ///
        /// # Panics
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new((0, String::new()));
        /// let mut writer = lock.try_write().unwrap();
        /// writer.1.push_str("ready");
        /// let name = RwLockWriteGuard::downgrade_map(writer, |v| &v.1);
        /// assert_eq!(lock.try_read().unwrap().0, 0);
        /// assert_eq!(*name, "ready");
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn downgrade_map<U: ?Sized, F>(guard: Self, f: F) -> MappedRwLockReadGuard<'a, U>
        where
            F: FnOnce(&T) -> &U,
        {
            let lock = guard.lock;
            // SAFETY: `guard` holds the write lock until the downgrade below, after `f`.
            let value = NonNull::from(f(unsafe { &*lock.value.get() }));
            // `value` came from a shared reference: the mapped write guard is only downgraded,
            // never written through.
            MappedRwLockWriteGuard::downgrade(Self::into_mapped_at(guard, value))
        }

        /// Like [`downgrade_map`](RwLockWriteGuard::downgrade_map), for a part that `f` may
        /// or may not find; gives the write guard back unchanged when `f` returns `None`.
        ///
        /// # Errors
        ///
        /// Returns the original guard, still holding the write lock, when `f` returns `None`.
        ///
        /// # Panics
        ///
        /// As for [`downgrade_map`](RwLockWriteGuard::downgrade_map).
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new(vec![1, 2]);
        /// let mut writer =
        ///     RwLockWriteGuard::try_downgrade_map(lock.try_write().unwrap(), |v| v.get(5))
        ///         .unwrap_err();
        /// writer.push(3);
        /// let third = RwLockWriteGuard::try_downgrade_map(writer, |v| v.get(2)).unwrap();
        /// assert_eq!(*third, 3);
        /// assert!(lock.try_write().is_none());
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn try_downgrade_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<MappedRwLockReadGuard<'a, U>, Self>
        where
            F: FnOnce(&T) -> Option<&U>,
        {
            let lock = guard.lock;
            // SAFETY: as in `downgrade_map`.
            match f(unsafe { &*lock.value.get() }).map(NonNull::from) {
                Some(value) => Ok(MappedRwLockWriteGuard::downgrade(Self::into_mapped_at(
                    guard, value,
                ))),
                None => Err(guard),
            }
        }

        /// Turns the guard into a mapped write guard of the whole value, as
        /// [`map`](RwLockWriteGuard::map) with `|v| v` does: for code that stores either kind
        /// in one place.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new(1);
        /// let mut guard: MappedRwLockWriteGuard<'_, i32> =
        ///     RwLockWriteGuard::into_mapped(lock.try_write().unwrap());
        /// *guard = 2;
        /// drop(guard);
        /// assert_eq!(*lock.try_read().unwrap(), 2);
        /// ```
        pub fn into_mapped(guard: Self) -> MappedRwLockWriteGuard<'a, T> {
            RwLockWriteGuard::map(guard, |v| v)
        }
    }

    impl<T: ?Sized> OwnedRwLockReadGuard<T> {
        /// Narrows the guard to a part of the value; the mapped guard keeps the lock alive and
        /// the read lock held.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockReadGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new((1, 2)));
        /// let second = OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.1);
        /// assert_eq!(std::thread::spawn(move || *second).join().unwrap(), 2);
        /// ```
        pub fn map<U: ?Sized, F>(guard: Self, f: F) -> OwnedMappedRwLockReadGuard<T, U>
        where
            F: FnOnce(&T) -> &U,
        {
            let value = NonNull::from(f(&*guard));
            let reader = guard.reader;
            OwnedMappedRwLockReadGuard::new(Self::into_lock(guard), value, reader)
        }

        /// Narrows the guard to a part of the value that `f` may or may not find; gives the
        /// guard back unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockReadGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(Some(3)));
        /// let inner =
        ///     OwnedRwLockReadGuard::try_map(lock.try_read_owned().unwrap(), Option::as_ref).unwrap();
        /// assert_eq!(*inner, 3);
        /// ```
        pub fn try_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<OwnedMappedRwLockReadGuard<T, U>, Self>
        where
            F: FnOnce(&T) -> Option<&U>,
        {
            let Some(value) = f(&*guard).map(NonNull::from) else {
                return Err(guard);
            };
            let reader = guard.reader;
            Ok(OwnedMappedRwLockReadGuard::new(
                Self::into_lock(guard),
                value,
                reader,
            ))
        }

        /// Splits the guard into its lock, leaving the read lock held.
        fn into_lock(guard: Self) -> Arc<RwLock<T>> {
            let guard = core::mem::ManuallyDrop::new(guard);
            // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
            unsafe { core::ptr::read(&guard.lock) }
        }
    }

    impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
        /// Narrows the guard to a part of the value; the mapped guard keeps the lock alive and
        /// the write lock held.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new((1, 2)));
        /// let mut second = OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.1);
        /// *second = 20;
        /// drop(second);
        /// assert_eq!(*lock.try_read().unwrap(), (1, 20));
        /// ```
        pub fn map<U: ?Sized, F>(mut guard: Self, f: F) -> OwnedMappedRwLockWriteGuard<T, U>
        where
            F: FnOnce(&mut T) -> &mut U,
        {
            let value = NonNull::from(f(&mut *guard));
            Self::into_mapped_at(guard, value)
        }

        /// Hands the write lock over to a mapped guard of `value`, a part of the locked value.
        fn into_mapped_at<U: ?Sized>(
            guard: Self,
            value: NonNull<U>,
        ) -> OwnedMappedRwLockWriteGuard<T, U> {
            OwnedMappedRwLockWriteGuard::new(Self::into_lock(guard), value)
        }

        /// Narrows the guard to a part of the value that `f` may or may not find; gives the
        /// guard back unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(vec![1]));
        /// let guard =
        ///     OwnedRwLockWriteGuard::try_map(lock.try_write_owned().unwrap(), |v| v.get_mut(4));
        /// assert!(guard.is_err());
        /// ```
        pub fn try_map<U: ?Sized, F>(
            mut guard: Self,
            f: F,
        ) -> Result<OwnedMappedRwLockWriteGuard<T, U>, Self>
        where
            F: FnOnce(&mut T) -> Option<&mut U>,
        {
            let Some(value) = f(&mut *guard).map(NonNull::from) else {
                return Err(guard);
            };
            Ok(Self::into_mapped_at(guard, value))
        }

        /// Turns the write lock into a read lock of a part of the value, without letting any
        /// writer in between; the owned form of [`RwLockWriteGuard::downgrade_map`].
        ///
        /// # Panics
        ///
        /// As for [`RwLockWriteGuard::downgrade_map`]: if `f` panics the write lock is
        /// released.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new((1, 2)));
        /// let mut writer = lock.try_write_owned().unwrap();
        /// writer.1 = 20;
        /// let second = OwnedRwLockWriteGuard::downgrade_map(writer, |v| &v.1);
        /// assert_eq!(lock.try_read().unwrap().0, 1);
        /// assert_eq!(std::thread::spawn(move || *second).join().unwrap(), 20);
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn downgrade_map<U: ?Sized, F>(guard: Self, f: F) -> OwnedMappedRwLockReadGuard<T, U>
        where
            F: FnOnce(&T) -> &U,
        {
            let value = NonNull::from(f(&*guard));
            // `value` came from a shared reference: the mapped write guard is only downgraded,
            // never written through.
            OwnedMappedRwLockWriteGuard::downgrade(Self::into_mapped_at(guard, value))
        }

        /// Like [`downgrade_map`](OwnedRwLockWriteGuard::downgrade_map), for a part that `f`
        /// may or may not find; gives the write guard back unchanged when `f` returns `None`.
        ///
        /// # Errors
        ///
        /// Returns the original guard, still holding the write lock, when `f` returns `None`.
        ///
        /// # Panics
        ///
        /// As for [`RwLockWriteGuard::downgrade_map`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(vec![7]));
        /// let writer = lock.try_write_owned().unwrap();
        /// let writer = OwnedRwLockWriteGuard::try_downgrade_map(writer, |v| v.get(1)).unwrap_err();
        /// let first = OwnedRwLockWriteGuard::try_downgrade_map(writer, |v| v.first()).unwrap();
        /// assert_eq!(*first, 7);
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn try_downgrade_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<OwnedMappedRwLockReadGuard<T, U>, Self>
        where
            F: FnOnce(&T) -> Option<&U>,
        {
            match f(&*guard).map(NonNull::from) {
                Some(value) => Ok(OwnedMappedRwLockWriteGuard::downgrade(
                    Self::into_mapped_at(guard, value),
                )),
                None => Err(guard),
            }
        }

        /// Turns the guard into an owned mapped write guard of the whole value, as
        /// [`map`](OwnedRwLockWriteGuard::map) with `|v| v` does.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockWriteGuard, OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(1));
        /// let mut guard: OwnedMappedRwLockWriteGuard<i32, i32> =
        ///     OwnedRwLockWriteGuard::into_mapped(lock.try_write_owned().unwrap());
        /// *guard = 2;
        /// drop(guard);
        /// assert_eq!(*lock.try_read().unwrap(), 2);
        /// ```
        pub fn into_mapped(guard: Self) -> OwnedMappedRwLockWriteGuard<T, T> {
            OwnedRwLockWriteGuard::map(guard, |v| v)
        }
    }

    /// A read guard for part of a locked value, made by [`RwLockReadGuard::map`] (and by
    /// mapping it again, by [`RwLockWriteGuard::downgrade_map`], or by downgrading a mapped
    /// write guard).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
    ///
    /// let lock = RwLock::new([1, 2, 3]);
    /// let last: MappedRwLockReadGuard<'_, i32> =
    ///     RwLockReadGuard::map(lock.try_read().unwrap(), |a| &a[2]);
    /// assert_eq!(*last, 3);
    /// ```
    #[must_use = "if unused the RwLock will immediately unlock"]
    #[clippy::has_significant_drop]
    pub struct MappedRwLockReadGuard<'a, T: ?Sized> {
        raw: &'a RawRwLock,
        value: NonNull<T>,
        // Zero-sized without the `diagnostics` feature.
        reader: diag::Reader,
        _marker: PhantomData<&'a T>,
    }

    // SAFETY: the guard is a shared borrow of `T` with no way back to its lock: sending or
    // sharing it shares `&T`, and releasing a read lock from another thread is fine.
    unsafe impl<T: ?Sized + Sync> Send for MappedRwLockReadGuard<'_, T> {}
    // SAFETY: as above.
    unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockReadGuard<'_, T> {}

    impl<'a, T: ?Sized> MappedRwLockReadGuard<'a, T> {
        /// Makes a guard of `value` for a read lock of `raw` the caller holds and hands over;
        /// `value` points into the locked value, and `reader` says who took the lock.
        pub(super) fn new(raw: &'a RawRwLock, value: NonNull<T>, reader: diag::Reader) -> Self {
            MappedRwLockReadGuard {
                raw,
                value,
                reader,
                _marker: PhantomData,
            }
        }

        /// Narrows the guard further.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
        ///
        /// let lock = RwLock::new(((1, 2), 3));
        /// let inner = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.0);
        /// assert_eq!(*MappedRwLockReadGuard::map(inner, |v| &v.1), 2);
        /// ```
        pub fn map<U: ?Sized, F>(guard: Self, f: F) -> MappedRwLockReadGuard<'a, U>
        where
            F: FnOnce(&T) -> &U,
        {
            let value = NonNull::from(f(&*guard));
            let (raw, reader) = (guard.raw, guard.reader);
            core::mem::forget(guard);
            MappedRwLockReadGuard::new(raw, value, reader)
        }

        /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
        /// unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
        ///
        /// let lock = RwLock::new((vec![1], 0));
        /// let list = RwLockReadGuard::map(lock.try_read().unwrap(), |v| &v.0);
        /// assert!(MappedRwLockReadGuard::try_map(list, |l| l.get(3)).is_err());
        /// ```
        pub fn try_map<U: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<MappedRwLockReadGuard<'a, U>, Self>
        where
            F: FnOnce(&T) -> Option<&U>,
        {
            let Some(value) = f(&*guard).map(NonNull::from) else {
                return Err(guard);
            };
            let (raw, reader) = (guard.raw, guard.reader);
            core::mem::forget(guard);
            Ok(MappedRwLockReadGuard::new(raw, value, reader))
        }
    }

    impl<T: ?Sized> Drop for MappedRwLockReadGuard<'_, T> {
        fn drop(&mut self) {
            diag::read_released(self.reader);
            // SAFETY: a mapped read guard exists only while its read lock is held.
            unsafe { self.raw.read_unlock() }
        }
    }

    impl<T: ?Sized> Deref for MappedRwLockReadGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            // SAFETY: the read lock is held and the pointer points into the locked value.
            unsafe { self.value.as_ref() }
        }
    }

    /// A write guard for part of a locked value, made by [`RwLockWriteGuard::map`] (and by
    /// mapping it again).
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new([1, 2, 3]);
    /// let mut last: MappedRwLockWriteGuard<'_, i32> =
    ///     RwLockWriteGuard::map(lock.try_write().unwrap(), |a| &mut a[2]);
    /// *last = 30;
    /// drop(last);
    /// assert_eq!(*lock.try_read().unwrap(), [1, 2, 30]);
    /// ```
    #[must_use = "if unused the RwLock will immediately unlock"]
    #[clippy::has_significant_drop]
    pub struct MappedRwLockWriteGuard<'a, T: ?Sized> {
        raw: &'a RawRwLock,
        // Zero-sized without the `diagnostics` feature.
        holder: diag::HolderRef<'a>,
        value: NonNull<T>,
        _marker: PhantomData<&'a mut T>,
    }

    // SAFETY: the guard is an exclusive borrow of `T` with no way back to its lock: sending it
    // sends `&mut T`, and releasing the write lock from another thread is fine. But
    // `downgrade` turns it into a read guard on the receiving thread while readers on other
    // threads share the same `T`, so that needs `T: Sync` as well.
    unsafe impl<T: ?Sized + Send + Sync> Send for MappedRwLockWriteGuard<'_, T> {}
    // SAFETY: sharing the guard shares `&T`.
    unsafe impl<T: ?Sized + Sync> Sync for MappedRwLockWriteGuard<'_, T> {}

    impl<'a, T: ?Sized> MappedRwLockWriteGuard<'a, T> {
        fn new(raw: &'a RawRwLock, holder: diag::HolderRef<'a>, value: NonNull<T>) -> Self {
            MappedRwLockWriteGuard {
                raw,
                holder,
                value,
                _marker: PhantomData,
            }
        }

        /// Narrows the guard further.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new(((1, 2), 3));
        /// let inner = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.0);
        /// *MappedRwLockWriteGuard::map(inner, |v| &mut v.1) = 20;
        /// assert_eq!(*lock.try_read().unwrap(), ((1, 20), 3));
        /// ```
        pub fn map<U: ?Sized, F>(mut guard: Self, f: F) -> MappedRwLockWriteGuard<'a, U>
        where
            F: FnOnce(&mut T) -> &mut U,
        {
            let value = NonNull::from(f(&mut *guard));
            let (raw, holder) = (guard.raw, guard.holder);
            core::mem::forget(guard);
            MappedRwLockWriteGuard::new(raw, holder, value)
        }

        /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
        /// unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new((vec![1], 0));
        /// let list = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.0);
        /// let mut first = MappedRwLockWriteGuard::try_map(list, |l| l.first_mut()).unwrap();
        /// *first = 5;
        /// ```
        pub fn try_map<U: ?Sized, F>(
            mut guard: Self,
            f: F,
        ) -> Result<MappedRwLockWriteGuard<'a, U>, Self>
        where
            F: FnOnce(&mut T) -> Option<&mut U>,
        {
            let Some(value) = f(&mut *guard).map(NonNull::from) else {
                return Err(guard);
            };
            let (raw, holder) = (guard.raw, guard.holder);
            core::mem::forget(guard);
            Ok(MappedRwLockWriteGuard::new(raw, holder, value))
        }

        /// Turns the write lock into a read lock of the same part of the value, without
        /// letting any writer in between (see [`RwLockWriteGuard::downgrade`]).
        ///
        /// # Examples
        ///
        /// ```
        /// use unisync::{MappedRwLockWriteGuard, RwLock, RwLockWriteGuard};
        ///
        /// let lock = RwLock::new((1, 2));
        /// let mut second = RwLockWriteGuard::map(lock.try_write().unwrap(), |v| &mut v.1);
        /// *second = 20;
        /// let second = MappedRwLockWriteGuard::downgrade(second);
        /// assert_eq!(*lock.try_read().unwrap(), (1, 20));
        /// assert_eq!(*second, 20);
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn downgrade(guard: Self) -> MappedRwLockReadGuard<'a, T> {
            // Panics, changing nothing, if the read lock would not fit: the guard still owns
            // the write lock then. The read guard owns the read lock before the downgrade
            // takes it (waking a reader can panic: the guard then gives it up).
            guard.raw.check_downgrade();
            let guard = core::mem::ManuallyDrop::new(guard);
            // The read lock is the write lock's taker's: a task's, if a task took it.
            let by_task = guard.holder.by_task();
            guard.holder.clear();
            let who = diag::read_acquired(guard.holder, diag::caller(), by_task);
            let reader = MappedRwLockReadGuard::new(guard.raw, guard.value, who);
            // SAFETY: we held the write lock and give it up for that read lock.
            unsafe { guard.raw.downgrade_write() };
            reader
        }
    }

    impl<T: ?Sized> Drop for MappedRwLockWriteGuard<'_, T> {
        fn drop(&mut self) {
            self.holder.clear();
            // SAFETY: a mapped write guard exists only while its write lock is held.
            unsafe { self.raw.write_unlock() }
        }
    }

    impl<T: ?Sized> Deref for MappedRwLockWriteGuard<'_, T> {
        type Target = T;

        fn deref(&self) -> &T {
            // SAFETY: the write lock is held and the pointer points into the locked value (it
            // came from a `&mut T`, or from a `&T` for the guard `downgrade_map` makes).
            unsafe { self.value.as_ref() }
        }
    }

    impl<T: ?Sized> DerefMut for MappedRwLockWriteGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as above, and `&mut self` makes this borrow unique. The pointer may be
            // written through: only `downgrade_map` makes one from a shared reference, and it
            // downgrades that guard at once, never calling this.
            unsafe { self.value.as_mut() }
        }
    }

    /// A read guard for part of a value locked through an `Arc`, made by
    /// [`OwnedRwLockReadGuard::map`]; it keeps the lock alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedMappedRwLockReadGuard, OwnedRwLockReadGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new([1, 2]));
    /// let second: OwnedMappedRwLockReadGuard<[i32; 2], i32> =
    ///     OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |a| &a[1]);
    /// assert_eq!(*second, 2);
    /// ```
    #[must_use = "if unused the RwLock will immediately unlock"]
    #[clippy::has_significant_drop]
    pub struct OwnedMappedRwLockReadGuard<T: ?Sized, U: ?Sized> {
        lock: Arc<RwLock<T>>,
        value: NonNull<U>,
        // Zero-sized without the `diagnostics` feature.
        reader: diag::Reader,
    }

    // SAFETY: sending the guard shares `&U` with the other thread (needs `U: Sync`) and sends
    // the `Arc`, whose last clone may drop the lock and `T` there (needs what sending an
    // `Arc<RwLock<T>>` needs: `T: Send + Sync`).
    unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Send for OwnedMappedRwLockReadGuard<T, U> {}
    // SAFETY: sharing the guard shares `&U` and the `Arc`.
    unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedRwLockReadGuard<T, U> {}

    impl<T: ?Sized, U: ?Sized> OwnedMappedRwLockReadGuard<T, U> {
        fn new(lock: Arc<RwLock<T>>, value: NonNull<U>, reader: diag::Reader) -> Self {
            OwnedMappedRwLockReadGuard {
                lock,
                value,
                reader,
            }
        }

        /// Narrows the guard further.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockReadGuard, OwnedRwLockReadGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(((1, 2), 3)));
        /// let inner = OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.0);
        /// assert_eq!(*OwnedMappedRwLockReadGuard::map(inner, |v| &v.0), 1);
        /// ```
        pub fn map<V: ?Sized, F>(guard: Self, f: F) -> OwnedMappedRwLockReadGuard<T, V>
        where
            F: FnOnce(&U) -> &V,
        {
            let value = NonNull::from(f(&*guard));
            let reader = guard.reader;
            OwnedMappedRwLockReadGuard::new(Self::into_lock(guard), value, reader)
        }

        /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
        /// unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and its read lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockReadGuard, OwnedRwLockReadGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new((vec![4], 0)));
        /// let list = OwnedRwLockReadGuard::map(lock.try_read_owned().unwrap(), |v| &v.0);
        /// assert_eq!(*OwnedMappedRwLockReadGuard::try_map(list, |l| l.first()).unwrap(), 4);
        /// ```
        pub fn try_map<V: ?Sized, F>(
            guard: Self,
            f: F,
        ) -> Result<OwnedMappedRwLockReadGuard<T, V>, Self>
        where
            F: FnOnce(&U) -> Option<&V>,
        {
            let Some(value) = f(&*guard).map(NonNull::from) else {
                return Err(guard);
            };
            let reader = guard.reader;
            Ok(OwnedMappedRwLockReadGuard::new(
                Self::into_lock(guard),
                value,
                reader,
            ))
        }

        fn into_lock(guard: Self) -> Arc<RwLock<T>> {
            let guard = core::mem::ManuallyDrop::new(guard);
            // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
            unsafe { core::ptr::read(&guard.lock) }
        }
    }

    impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedRwLockReadGuard<T, U> {
        fn drop(&mut self) {
            diag::read_released(self.reader);
            // SAFETY: a mapped read guard exists only while its read lock is held.
            unsafe { self.lock.raw.read_unlock() }
        }
    }

    impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedRwLockReadGuard<T, U> {
        type Target = U;

        fn deref(&self) -> &U {
            // SAFETY: the read lock is held, the `Arc` keeps the value alive, and the pointer
            // came from a live `&U` into it.
            unsafe { self.value.as_ref() }
        }
    }

    /// A write guard for part of a value locked through an `Arc`, made by
    /// [`OwnedRwLockWriteGuard::map`]; it keeps the lock alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{OwnedMappedRwLockWriteGuard, OwnedRwLockWriteGuard, RwLock};
    ///
    /// let lock = Arc::new(RwLock::new([1, 2]));
    /// let mut second: OwnedMappedRwLockWriteGuard<[i32; 2], i32> =
    ///     OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |a| &mut a[1]);
    /// *second = 20;
    /// drop(second);
    /// assert_eq!(*lock.try_read().unwrap(), [1, 20]);
    /// ```
    #[must_use = "if unused the RwLock will immediately unlock"]
    #[clippy::has_significant_drop]
    pub struct OwnedMappedRwLockWriteGuard<T: ?Sized, U: ?Sized> {
        lock: Arc<RwLock<T>>,
        value: NonNull<U>,
        /// Invariant in `U`, as `&mut U` is: the guard hands out `&mut U`.
        _invariant: PhantomData<*mut U>,
    }

    // SAFETY: sending the guard sends exclusive access to `U` (needs `U: Send`) and the `Arc`
    // (needs `T: Send + Sync`, as for any `Arc<RwLock<T>>`); `downgrade` then shares `&U` on
    // the receiving thread with readers elsewhere (needs `U: Sync`).
    unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Send + Sync> Send
        for OwnedMappedRwLockWriteGuard<T, U>
    {
    }
    // SAFETY: sharing the guard shares `&U` (needs `U: Sync`) and the `Arc`.
    unsafe impl<T: ?Sized + Send + Sync, U: ?Sized + Sync> Sync for OwnedMappedRwLockWriteGuard<T, U> {}

    impl<T: ?Sized, U: ?Sized> OwnedMappedRwLockWriteGuard<T, U> {
        fn new(lock: Arc<RwLock<T>>, value: NonNull<U>) -> Self {
            OwnedMappedRwLockWriteGuard {
                lock,
                value,
                _invariant: PhantomData,
            }
        }

        /// Narrows the guard further.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockWriteGuard, OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new(((1, 2), 3)));
        /// let inner = OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.0);
        /// *OwnedMappedRwLockWriteGuard::map(inner, |v| &mut v.0) = 10;
        /// assert_eq!(*lock.try_read().unwrap(), ((10, 2), 3));
        /// ```
        pub fn map<V: ?Sized, F>(mut guard: Self, f: F) -> OwnedMappedRwLockWriteGuard<T, V>
        where
            F: FnOnce(&mut U) -> &mut V,
        {
            let value = NonNull::from(f(&mut *guard));
            OwnedMappedRwLockWriteGuard::new(Self::into_lock(guard), value)
        }

        /// Narrows the guard further, to a part `f` may or may not find; gives the guard back
        /// unchanged when `f` returns `None`.
        ///
        /// If `f` panics, the guard is dropped and the write lock released.
        ///
        /// # Errors
        ///
        /// Returns the original guard when `f` returns `None`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockWriteGuard, OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new((vec![4], 0)));
        /// let list = OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |v| &mut v.0);
        /// *OwnedMappedRwLockWriteGuard::try_map(list, |l| l.first_mut()).unwrap() = 40;
        /// assert_eq!(lock.try_read().unwrap().0, [40]);
        /// ```
        pub fn try_map<V: ?Sized, F>(
            mut guard: Self,
            f: F,
        ) -> Result<OwnedMappedRwLockWriteGuard<T, V>, Self>
        where
            F: FnOnce(&mut U) -> Option<&mut V>,
        {
            let Some(value) = f(&mut *guard).map(NonNull::from) else {
                return Err(guard);
            };
            Ok(OwnedMappedRwLockWriteGuard::new(
                Self::into_lock(guard),
                value,
            ))
        }

        /// Turns the write lock into a read lock of the same part of the value, without
        /// letting any writer in between (see [`RwLockWriteGuard::downgrade`]).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::Arc;
        /// use unisync::{OwnedMappedRwLockWriteGuard, OwnedRwLockWriteGuard, RwLock};
        ///
        /// let lock = Arc::new(RwLock::new([1, 2]));
        /// let mut first = OwnedRwLockWriteGuard::map(lock.try_write_owned().unwrap(), |a| &mut a[0]);
        /// *first = 10;
        /// let first = OwnedMappedRwLockWriteGuard::downgrade(first);
        /// assert_eq!(*lock.try_read().unwrap(), [10, 2]);
        /// assert_eq!(*first, 10);
        /// ```
        #[cfg_attr(feature = "diagnostics", track_caller)]
        pub fn downgrade(guard: Self) -> OwnedMappedRwLockReadGuard<T, U> {
            // As in `MappedRwLockWriteGuard::downgrade`.
            guard.lock.raw.check_downgrade();
            let value = guard.value;
            let lock = Self::into_lock(guard);
            // As in `MappedRwLockWriteGuard::downgrade`.
            let by_task = lock.readers().by_task();
            lock.writer.clear();
            let who = diag::read_acquired(lock.readers(), diag::caller(), by_task);
            let reader = OwnedMappedRwLockReadGuard::new(lock, value, who);
            // SAFETY: we held the write lock and give it up for that read lock.
            unsafe { reader.lock.raw.downgrade_write() };
            reader
        }

        fn into_lock(guard: Self) -> Arc<RwLock<T>> {
            let guard = core::mem::ManuallyDrop::new(guard);
            // SAFETY: `guard` is never used or dropped again, so the field is moved out once.
            unsafe { core::ptr::read(&guard.lock) }
        }
    }

    impl<T: ?Sized, U: ?Sized> Drop for OwnedMappedRwLockWriteGuard<T, U> {
        fn drop(&mut self) {
            self.lock.writer.clear();
            // SAFETY: a mapped write guard exists only while its write lock is held.
            unsafe { self.lock.raw.write_unlock() }
        }
    }

    impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedRwLockWriteGuard<T, U> {
        type Target = U;

        fn deref(&self) -> &U {
            // SAFETY: the write lock is held, the `Arc` keeps the value alive, and the pointer
            // points into it (from a `&mut U`, or a `&U` for the guard `downgrade_map` makes).
            unsafe { self.value.as_ref() }
        }
    }

    impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedRwLockWriteGuard<T, U> {
        fn deref_mut(&mut self) -> &mut U {
            // SAFETY: as above, and `&mut self` makes this borrow unique. The pointer may be
            // written through: only `downgrade_map` makes one from a shared reference, and it
            // downgrades that guard at once, never calling this.
            unsafe { self.value.as_mut() }
        }
    }
}

pub use mapped::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, OwnedMappedRwLockReadGuard,
    OwnedMappedRwLockWriteGuard,
};

forward_fmt! {
    RwLockReadGuard ['a, T: ?Sized] ['a, T];
    RwLockWriteGuard ['a, T: ?Sized] ['a, T];
    RwLockUpgradableReadGuard ['a, T: ?Sized] ['a, T];
    OwnedRwLockReadGuard [T: ?Sized] [T];
    OwnedRwLockWriteGuard [T: ?Sized] [T];
    OwnedRwLockUpgradableReadGuard [T: ?Sized] [T];
    MappedRwLockReadGuard ['a, T: ?Sized] ['a, T];
    MappedRwLockWriteGuard ['a, T: ?Sized] ['a, T];
    OwnedMappedRwLockReadGuard [T: ?Sized, U: ?Sized] [T, U];
    OwnedMappedRwLockWriteGuard [T: ?Sized, U: ?Sized] [T, U];
}

//! The guards of [`RwLock`](super::RwLock), and the ways to turn one into another.

use alloc::sync::Arc;
use core::fmt;
use core::ops::{Deref, DerefMut};

use super::futures::{Upgrade, UpgradeOwned};
use super::RwLock;

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`RwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
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
#[must_use = "if unused the RwLock will immediately unlock"]
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // `Send` and `Sync` follow from this field: only when `RwLock<T>` is `Sync`, that is when
    // `T: Send + Sync`. A read guard hands out `&T` (needs `T: Sync`), and also the lock itself
    // through `source`, with which another thread could later write-lock it and move or drop
    // `T` there (needs `T: Send`).
    lock: &'a RwLock<T>,
}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: &'a RwLock<T>) -> Self {
        RwLockReadGuard { lock }
    }

    /// Returns the lock this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = unisync::RwLock::new(0);
    /// let guard = lock.try_read().unwrap();
    /// assert!(std::ptr::eq(unisync::RwLockReadGuard::source(&guard), &lock));
    /// ```
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockReadGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns this kind of lock.
        unsafe { self.lock.raw.read_unlock() }
    }
}

impl<'a, T: ?Sized> Deref for RwLockReadGuard<'a, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds a lock, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
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
    pub fn source(guard: &Self) -> &'a RwLock<T> {
        guard.lock
    }
}

impl<'a, T: ?Sized> Drop for RwLockWriteGuard<'a, T> {
    #[inline]
    fn drop(&mut self) {
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

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
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

impl<'a, T: ?Sized + fmt::Debug> fmt::Debug for RwLockUpgradableReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized + fmt::Display> fmt::Display for RwLockUpgradableReadGuard<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// A guard that releases a read lock of the [`RwLock`] when dropped; it derefs to `&T`.
///
/// Guard helpers are associated functions (`OwnedRwLockReadGuard::f(guard)`), so they never shadow methods
/// of `T`.
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
}

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    /// Makes a guard for a lock the caller already holds.
    ///
    /// # Safety
    ///
    /// The caller must hold this kind of lock and hand its ownership to the new guard.
    pub(super) unsafe fn new(lock: Arc<RwLock<T>>) -> Self {
        OwnedRwLockReadGuard { lock }
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
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockReadGuard<T> {
    #[inline]
    fn drop(&mut self) {
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

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
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
    pub fn source(guard: &Self) -> &Arc<RwLock<T>> {
        &guard.lock
    }
}

impl<T: ?Sized> Drop for OwnedRwLockWriteGuard<T> {
    #[inline]
    fn drop(&mut self) {
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

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockWriteGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
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

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedRwLockUpgradableReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedRwLockUpgradableReadGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
    ///
    /// New readers queue as soon as the returned future is first polled, so a stream of
    /// readers cannot hold the upgrade off; no other writer can get in between, since the
    /// upgradable lock excludes writers.
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
    pub fn upgrade(guard: Self) -> Upgrade<'a, T> {
        Upgrade::new(Self::into_lock(guard))
    }

    /// Turns the guard into the write lock if no reader is inside; otherwise gives it back.
    ///
    /// # Errors
    ///
    /// Returns the guard unchanged while some read guard exists.
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
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
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
    #[doc(alias = "blocking_upgrade")]
    pub fn upgrade_blocking(guard: Self) -> RwLockWriteGuard<'a, T> {
        crate::raw::wait::block_on(Self::upgrade(guard), None)
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
    #[doc(alias = "try_upgrade_for")]
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
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        // SAFETY: the guard holds the upgradable lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_upgradable() };
        let lock = Self::into_lock(guard);
        // SAFETY: we now hold a read lock.
        unsafe { RwLockReadGuard::new(lock) }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
    ///
    /// Readers that queued behind this writer get in at the same time.
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
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, T> {
        // SAFETY: the guard holds the write lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_write() };
        let lock = Self::into_lock(guard);
        // SAFETY: we now hold a read lock.
        unsafe { RwLockReadGuard::new(lock) }
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
        // SAFETY: we held the write lock and give it up for the upgradable lock.
        unsafe {
            lock.raw.downgrade_write_to_upgradable();
            RwLockUpgradableReadGuard::new(lock)
        }
    }
}

impl<T: ?Sized> OwnedRwLockUpgradableReadGuard<T> {
    /// Turns the guard into the write lock, waiting for the readers inside to leave.
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
    pub fn upgrade(guard: Self) -> UpgradeOwned<T> {
        UpgradeOwned::new(Self::into_lock(guard))
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
    #[doc(alias = "blocking_upgrade")]
    pub fn upgrade_blocking(guard: Self) -> OwnedRwLockWriteGuard<T> {
        crate::raw::wait::block_on(Self::upgrade(guard), None)
            .expect("a wait without deadline completes")
    }

    /// Turns the guard into the write lock, parking the current thread for at most `timeout`
    /// while the readers inside leave.
    ///
    /// # Errors
    ///
    /// If the readers did not leave in time, gives the upgradable guard back.
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
    /// Returns the guard unchanged while some read guard exists.
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
    pub fn try_upgrade(guard: Self) -> Result<OwnedRwLockWriteGuard<T>, Self> {
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            // SAFETY: the upgradable lock became the write lock.
            Ok(unsafe { OwnedRwLockWriteGuard::new(Self::into_lock(guard)) })
        } else {
            Err(guard)
        }
    }

    /// Turns the guard into a read guard, letting writers and upgradable readers in again.
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
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        // SAFETY: the guard holds the upgradable lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_upgradable() };
        let lock = Self::into_lock(guard);
        // SAFETY: we now hold a read lock.
        unsafe { OwnedRwLockReadGuard::new(lock) }
    }
}

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    /// Turns the write lock into a read lock, without letting any writer in between.
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
    pub fn downgrade(guard: Self) -> OwnedRwLockReadGuard<T> {
        // SAFETY: the guard holds the write lock and gives it up for a read lock. If that
        // panics (too many readers), nothing changed and the guard still releases its lock.
        unsafe { guard.lock.raw.downgrade_write() };
        let lock = Self::into_lock(guard);
        // SAFETY: we now hold a read lock.
        unsafe { OwnedRwLockReadGuard::new(lock) }
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
        // SAFETY: we held the write lock and give it up for the upgradable lock.
        unsafe {
            lock.raw.downgrade_write_to_upgradable();
            OwnedRwLockUpgradableReadGuard::new(lock)
        }
    }
}

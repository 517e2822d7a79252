//! The futures of [`RwLock`]: one wait kind per lock kind, shared by the
//! borrowed and the `Arc` forms.

use alloc::sync::Arc;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Poll;

use pin_project_lite::pin_project;

use super::guards::{
    OwnedRwLockReadGuard, OwnedRwLockUpgradableReadGuard, OwnedRwLockWriteGuard, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard,
};
use super::RwLock;
use crate::diag;
use crate::future::{wait_future, Shell, WaitKind};
use crate::raw::mutex::LockWaiter;
use crate::raw::queue::Node;
use crate::raw::rwlock::{
    cancel_read, cancel_upgradable, poll_read, poll_upgradable, release_gate, DrainWaiter,
    RawRwLock, WriteWaiter,
};
use crate::raw::wait::{Finally, Strategy};

/// A reference to a [`RwLock`] that a future holds: borrowed or an `Arc`.
pub(crate) trait RwLockRef: Sized {
    type Read;
    type Write;
    type Upgradable;

    fn raw(&self) -> &RawRwLock;

    /// The write side of the lock as a diagnosed wait sees it.
    fn writer_target(&self, kind: diag::LockKind) -> diag::Target<'_>;

    /// # Safety
    ///
    /// The caller must hold a read lock and hand it to the guard; `reader` says who took it.
    unsafe fn read_guard(self, reader: diag::Reader) -> Self::Read;

    /// # Safety
    ///
    /// The caller must hold the write lock and hand it to the guard.
    unsafe fn write_guard(self) -> Self::Write;

    /// # Safety
    ///
    /// The caller must hold the upgradable lock and hand it to the guard.
    unsafe fn upgradable_guard(self) -> Self::Upgradable;
}

impl<'a, T: ?Sized> RwLockRef for &'a RwLock<T> {
    type Read = RwLockReadGuard<'a, T>;
    type Write = RwLockWriteGuard<'a, T>;
    type Upgradable = RwLockUpgradableReadGuard<'a, T>;

    #[inline]
    fn raw(&self) -> &RawRwLock {
        &self.raw
    }

    #[inline]
    fn writer_target(&self, kind: diag::LockKind) -> diag::Target<'_> {
        RwLock::writer_target(self, kind)
    }

    #[inline]
    unsafe fn read_guard(self, reader: diag::Reader) -> Self::Read {
        // SAFETY: forwarded from the caller.
        unsafe { RwLockReadGuard::new(self, reader) }
    }

    #[inline]
    unsafe fn write_guard(self) -> Self::Write {
        // SAFETY: forwarded from the caller.
        unsafe { RwLockWriteGuard::new(self) }
    }

    #[inline]
    unsafe fn upgradable_guard(self) -> Self::Upgradable {
        // SAFETY: forwarded from the caller.
        unsafe { RwLockUpgradableReadGuard::new(self) }
    }
}

impl<T: ?Sized> RwLockRef for Arc<RwLock<T>> {
    type Read = OwnedRwLockReadGuard<T>;
    type Write = OwnedRwLockWriteGuard<T>;
    type Upgradable = OwnedRwLockUpgradableReadGuard<T>;

    #[inline]
    fn raw(&self) -> &RawRwLock {
        &self.raw
    }

    #[inline]
    fn writer_target(&self, kind: diag::LockKind) -> diag::Target<'_> {
        RwLock::writer_target(self, kind)
    }

    #[inline]
    unsafe fn read_guard(self, reader: diag::Reader) -> Self::Read {
        // SAFETY: forwarded from the caller.
        unsafe { OwnedRwLockReadGuard::new(self, reader) }
    }

    #[inline]
    unsafe fn write_guard(self) -> Self::Write {
        // SAFETY: forwarded from the caller.
        unsafe { OwnedRwLockWriteGuard::new(self) }
    }

    #[inline]
    unsafe fn upgradable_guard(self) -> Self::Upgradable {
        // SAFETY: forwarded from the caller.
        unsafe { OwnedRwLockUpgradableReadGuard::new(self) }
    }
}

/// The read wait: whether it has been in its slow path (one word, see `Shell`); and the
/// wait's site and registry entry (zero-sized without the `diagnostics` feature).
pub(crate) struct ReadKind<R> {
    slow: usize,
    diag: diag::WaitRecord,
    _source: PhantomData<fn() -> R>,
}

impl<R> ReadKind<R> {
    #[inline]
    fn new(site: diag::Site) -> Self {
        ReadKind {
            slow: 0,
            diag: diag::WaitRecord::new(site),
            _source: PhantomData,
        }
    }
}

impl<R: RwLockRef> WaitKind for ReadKind<R> {
    type Source = R;
    type Ready = ();
    type Output = R::Read;

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, lock: &R, strategy: &mut S) -> Poll<()> {
        let slow = &mut self.slow;
        let target = lock.writer_target(diag::LockKind::RwLockRead);
        diag::watch(&mut self.diag, target, strategy, |strategy| {
            if *slow == 0 {
                // No writer, inlined into the caller: a new wait is not queued.
                if lock.raw().try_read_or_panic() {
                    return Poll::Ready(());
                }
                *slow = 1;
            }
            poll_read(node, lock.raw(), strategy)
        })
    }

    #[inline(always)]
    fn finish(&mut self, (): (), lock: R) -> R::Read {
        let reader = self
            .diag
            .record_reader(lock.writer_target(diag::LockKind::RwLockRead));
        // SAFETY: the wait completed, so we hold a read lock.
        unsafe { lock.read_guard(reader) }
    }

    fn cancel(&mut self, node: Pin<&Node>, lock: &R) {
        let record = &mut self.diag;
        let _then = Finally::new(|| record.cancel(lock.writer_target(diag::LockKind::RwLockRead)));
        cancel_read(node, lock.raw());
    }
}

/// The write wait: `gate`, then the readers' drain; and the wait's site and registry entry
/// (zero-sized without the `diagnostics` feature).
pub(crate) struct WriteKind<R>(WriteWaiter, diag::WaitRecord, PhantomData<fn() -> R>);

impl<R: RwLockRef> WaitKind for WriteKind<R> {
    type Source = R;
    type Ready = ();
    type Output = R::Write;

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, lock: &R, strategy: &mut S) -> Poll<()> {
        let waiter = &mut self.0;
        let target = lock.writer_target(diag::LockKind::RwLockWrite);
        diag::watch(&mut self.1, target, strategy, |strategy| {
            waiter.poll_write(node, lock.raw(), strategy)
        })
    }

    #[inline(always)]
    fn finish(&mut self, (): (), lock: R) -> R::Write {
        self.1
            .record_holder(lock.writer_target(diag::LockKind::RwLockWrite));
        // SAFETY: the wait completed, so we hold the write lock.
        unsafe { lock.write_guard() }
    }

    fn cancel(&mut self, node: Pin<&Node>, lock: &R) {
        let record = &mut self.1;
        let _then = Finally::new(|| record.cancel(lock.writer_target(diag::LockKind::RwLockWrite)));
        self.0.cancel(node, lock.raw());
    }
}

/// The upgradable-read wait: `gate` alone.
pub(crate) struct UpgradableKind<R>(LockWaiter, PhantomData<fn() -> R>);

impl<R: RwLockRef> WaitKind for UpgradableKind<R> {
    type Source = R;
    type Ready = ();
    type Output = R::Upgradable;

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, lock: &R, strategy: &mut S) -> Poll<()> {
        poll_upgradable(&mut self.0, node, lock.raw(), strategy)
    }

    #[inline(always)]
    fn finish(&mut self, (): (), lock: R) -> R::Upgradable {
        // SAFETY: the wait completed, so we hold the upgradable lock.
        unsafe { lock.upgradable_guard() }
    }

    fn cancel(&mut self, node: Pin<&Node>, lock: &R) {
        cancel_upgradable(&mut self.0, node, lock.raw());
    }
}

/// The upgrade wait: the drain, on behalf of the upgradable lock the future owns; and the
/// wait's site and registry entry (zero-sized without the `diagnostics` feature).
pub(crate) struct UpgradeKind<R>(DrainWaiter, diag::WaitRecord, PhantomData<fn() -> R>);

impl<R: RwLockRef> WaitKind for UpgradeKind<R> {
    type Source = R;
    type Ready = ();
    type Output = R::Write;

    #[inline(always)]
    fn poll<S: Strategy>(&mut self, node: Pin<&Node>, lock: &R, strategy: &mut S) -> Poll<()> {
        let waiter = &mut self.0;
        let target = lock.writer_target(diag::LockKind::RwLockUpgrade);
        diag::watch(&mut self.1, target, strategy, |strategy| {
            waiter.poll_drain(node, lock.raw(), strategy)
        })
    }

    #[inline(always)]
    fn finish(&mut self, (): (), lock: R) -> R::Write {
        self.1
            .record_holder(lock.writer_target(diag::LockKind::RwLockUpgrade));
        // SAFETY: the upgrade completed, so the upgradable lock is now the write lock.
        unsafe { lock.write_guard() }
    }

    fn cancel(&mut self, node: Pin<&Node>, lock: &R) {
        // SAFETY: an unfinished upgrade owns the upgradable lock; it goes with the future,
        // whatever happens below (dropping a user's waker can panic).
        let _release = Finally::new(|| unsafe { release_gate(lock.raw()) });
        let record = &mut self.1;
        let _then =
            Finally::new(|| record.cancel(lock.writer_target(diag::LockKind::RwLockUpgrade)));
        self.0.cancel(node, lock.raw());
    }
}

macro_rules! rwlock_future {
    (
        $(#[$attr:meta])*
        $name:ident [$($decl:tt)*] [$($used:tt)*] = $kind:ident<$source:ty> -> $out:ty,
        |$site:ident| $make:expr
    ) => {
        pin_project! {
            $(#[$attr])*
            #[must_use = "futures do nothing unless awaited or polled"]
            #[project(!Unpin)]
            pub struct $name<$($decl)*> {
                #[pin]
                shell: Shell<$kind<$source>>,
            }
        }

        impl<$($decl)*> $name<$($used)*> {
            /// A new wait on `lock`, called at `site`.
            #[inline]
            pub(super) fn new(lock: $source, $site: diag::Site) -> Self {
                $name { shell: Shell::new(lock, $make) }
            }
        }

        wait_future!($name [$($decl)*] [$($used)*] -> $out);
    };
}

rwlock_future! {
    /// The future returned by [`RwLock::read`]; resolves to a [`RwLockReadGuard`].
    ///
    /// The future holds the waiter's place in the lock's queue, so it is `!Unpin`: `.await`
    /// pins it for you; to keep one in a struct or poll it by hand, pin it with
    /// [`core::pin::pin!`] or [`Box::pin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::Read, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let fut: Read<'_, i32> = lock.read();
    /// assert_eq!(*fut.await, 0);
    /// # });
    /// ```
    Read ['a, T: ?Sized] ['a, T] = ReadKind<&'a RwLock<T>> -> RwLockReadGuard<'a, T>,
    |site| ReadKind::new(site)
}

rwlock_future! {
    /// The future returned by [`RwLock::read_owned`]; resolves to an [`OwnedRwLockReadGuard`].
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::ReadOwned, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(0));
    /// let fut: ReadOwned<i32> = lock.read_owned();
    /// assert_eq!(*fut.await, 0);
    /// # });
    /// ```
    ReadOwned [T: ?Sized] [T] = ReadKind<Arc<RwLock<T>>> -> OwnedRwLockReadGuard<T>,
    |site| ReadKind::new(site)
}

rwlock_future! {
    /// The future returned by [`RwLock::write`]; resolves to a [`RwLockWriteGuard`].
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::Write, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let fut: Write<'_, i32> = lock.write();
    /// *fut.await += 1;
    /// assert_eq!(*lock.read().await, 1);
    /// # });
    /// ```
    Write ['a, T: ?Sized] ['a, T] = WriteKind<&'a RwLock<T>> -> RwLockWriteGuard<'a, T>,
    |site| WriteKind(WriteWaiter::new(), diag::WaitRecord::new(site), PhantomData)
}

rwlock_future! {
    /// The future returned by [`RwLock::write_owned`]; resolves to an
    /// [`OwnedRwLockWriteGuard`].
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::WriteOwned, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(0));
    /// let fut: WriteOwned<i32> = lock.write_owned();
    /// *fut.await += 1;
    /// # });
    /// ```
    WriteOwned [T: ?Sized] [T] = WriteKind<Arc<RwLock<T>>> -> OwnedRwLockWriteGuard<T>,
    |site| WriteKind(WriteWaiter::new(), diag::WaitRecord::new(site), PhantomData)
}

rwlock_future! {
    /// The future returned by [`RwLock::upgradable_read`]; resolves to a
    /// [`RwLockUpgradableReadGuard`].
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::UpgradableRead, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let fut: UpgradableRead<'_, i32> = lock.upgradable_read();
    /// assert_eq!(*fut.await, 0);
    /// # });
    /// ```
    UpgradableRead ['a, T: ?Sized] ['a, T] = UpgradableKind<&'a RwLock<T>>
        -> RwLockUpgradableReadGuard<'a, T>,
    |_site| UpgradableKind(LockWaiter::new(), PhantomData)
}

rwlock_future! {
    /// The future returned by [`RwLock::upgradable_read_owned`]; resolves to an
    /// [`OwnedRwLockUpgradableReadGuard`].
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::UpgradableReadOwned, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(0));
    /// let fut: UpgradableReadOwned<i32> = lock.upgradable_read_owned();
    /// assert_eq!(*fut.await, 0);
    /// # });
    /// ```
    UpgradableReadOwned [T: ?Sized] [T] = UpgradableKind<Arc<RwLock<T>>>
        -> OwnedRwLockUpgradableReadGuard<T>,
    |_site| UpgradableKind(LockWaiter::new(), PhantomData)
}

rwlock_future! {
    /// The future returned by [`RwLockUpgradableReadGuard::upgrade`]; resolves to a
    /// [`RwLockWriteGuard`]. It owns the upgradable lock until it completes.
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use unisync::{futures::Upgrade, RwLock, RwLockUpgradableReadGuard};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = RwLock::new(0);
    /// let guard = lock.upgradable_read().await;
    /// let fut: Upgrade<'_, i32> = RwLockUpgradableReadGuard::upgrade(guard);
    /// *fut.await += 1;
    /// # });
    /// ```
    Upgrade ['a, T: ?Sized] ['a, T] = UpgradeKind<&'a RwLock<T>> -> RwLockWriteGuard<'a, T>,
    |site| UpgradeKind(DrainWaiter::new(), diag::WaitRecord::new(site), PhantomData)
}

rwlock_future! {
    /// The future returned by [`OwnedRwLockUpgradableReadGuard::upgrade`]; resolves to an
    /// [`OwnedRwLockWriteGuard`]. It owns the upgradable lock until it completes.
    ///
    /// `!Unpin`, like [`Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use unisync::{futures::UpgradeOwned, OwnedRwLockUpgradableReadGuard, RwLock};
    ///
    /// # futures::executor::block_on(async {
    /// let lock = Arc::new(RwLock::new(0));
    /// let guard = lock.upgradable_read_owned().await;
    /// let fut: UpgradeOwned<i32> = OwnedRwLockUpgradableReadGuard::upgrade(guard);
    /// *fut.await += 1;
    /// # });
    /// ```
    UpgradeOwned [T: ?Sized] [T] = UpgradeKind<Arc<RwLock<T>>> -> OwnedRwLockWriteGuard<T>,
    |site| UpgradeKind(DrainWaiter::new(), diag::WaitRecord::new(site), PhantomData)
}

/// Gives up an unfinished upgrade at a deadline, keeping the upgradable lock: returns the
/// lock's source for a new upgradable guard.
#[cfg(feature = "std")]
fn withdraw_upgrade<R: RwLockRef>(shell: Pin<&mut Shell<UpgradeKind<R>>>) -> R {
    let (node, source, kind) = shell.parts();
    let lock = source.take().expect("an unfinished upgrade owns its lock");
    {
        // Leaves the registry however the withdrawal ends: the record lives in the future.
        let record = &mut kind.1;
        let lock = &lock;
        let _forget =
            Finally::new(|| record.cancel(lock.writer_target(diag::LockKind::RwLockUpgrade)));
        // SAFETY: we own the upgradable lock. If withdrawing panics (dropping a user's waker
        // can), nobody gets a guard for it: it is released.
        let release = Finally::new(|| unsafe { release_gate(lock.raw()) });
        kind.0.cancel(node, lock.raw());
        release.disarm();
    }
    lock
}

#[cfg(feature = "std")]
impl<'a, T: ?Sized> Upgrade<'a, T> {
    /// Gives up at a deadline, keeping the upgradable lock (which the caller now holds).
    pub(super) fn withdraw(self: Pin<&mut Self>) -> &'a RwLock<T> {
        withdraw_upgrade(self.project().shell)
    }
}

#[cfg(feature = "std")]
impl<T: ?Sized> UpgradeOwned<T> {
    /// Gives up at a deadline, keeping the upgradable lock (which the caller now holds).
    pub(super) fn withdraw(self: Pin<&mut Self>) -> Arc<RwLock<T>> {
        withdraw_upgrade(self.project().shell)
    }
}

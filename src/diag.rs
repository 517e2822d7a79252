//! The hooks the locks call for the diagnostics: the real ones from
//! `crate::diagnostics` with the `diagnostics` feature, and empty stand-ins without it.
//!
//! The stand-ins that are stored are zero-sized and every call to them is an inlined no-op, so with the
//! feature off a lock, its guards and its futures have the layout and the code they have
//! without any diagnostics, and no caller location is captured. The locks call the same
//! names either way, which keeps `cfg` out of their code:
//!
//! | item          | what it is with the feature                                         |
//! |---------------|---------------------------------------------------------------------|
//! | `Site`        | `&'static Location`: where a lock was taken or waited for           |
//! | `caller()`    | the site of the caller of the (`#[track_caller]`) public method     |
//! | `HolderCell`  | a lock's holder record, a field of the lock                         |
//! | `HolderRef`   | a reference to it, for mapped guards                                |
//! | `Target`      | a lock as a wait sees it: its record, address and kind; type-erased |
//! | `WaitRecord`  | a wait's site and registry entry, a field of the wait's kind        |
//! | `watch`       | drives a wait so that it registers when it first parks              |
//! | `Reader`      | which thread took a read lock, a field of the read guards           |
//! | `read_acquired`, `read_released` | count a read lock in the readers' table  |
//!
//! How a lock uses them: it records its holder wherever it is taken (`HolderCell::record` in
//! the `try` forms, `WaitRecord::record_holder` when a wait completes) and clears the record
//! just before every release (`HolderCell::clear`, `HolderRef::clear`); a wait polls through
//! `watch`, and its cancellation calls `WaitRecord::cancel`.

#[cfg(feature = "diagnostics")]
pub(crate) use crate::diagnostics::{
    caller, read_acquired, read_released, watch, HolderCell, HolderRef, LockKind, Reader, Site,
    Target, WaitRecord,
};

#[cfg(not(feature = "diagnostics"))]
pub(crate) use off::*;

#[cfg(not(feature = "diagnostics"))]
mod off {
    use core::marker::PhantomData;
    use core::task::Poll;

    /// No site is captured (a unit struct rather than `()`, so passing it along reads as
    /// what it is).
    #[derive(Clone, Copy)]
    pub(crate) struct Site;

    #[inline(always)]
    pub(crate) fn caller() -> Site {
        Site
    }

    /// Named by the locks when they make a [`Target`].
    #[derive(Clone, Copy)]
    pub(crate) enum LockKind {
        Mutex,
        RwLockWrite,
        RwLockUpgrade,
        #[cfg(feature = "std")]
        ReentrantMutex,
        RwLockRead,
    }

    pub(crate) struct HolderCell;

    impl HolderCell {
        #[inline(always)]
        pub(crate) const fn new() -> HolderCell {
            HolderCell
        }

        #[inline(always)]
        pub(crate) fn record(&self, _site: Site, _by_task: bool) {}

        #[inline(always)]
        pub(crate) fn clear(&self) {}
    }

    #[derive(Clone, Copy)]
    pub(crate) struct HolderRef<'a>(PhantomData<&'a HolderCell>);

    impl<'a> HolderRef<'a> {
        #[inline(always)]
        pub(crate) fn new(_cell: &'a HolderCell) -> Self {
            HolderRef(PhantomData)
        }

        #[inline(always)]
        pub(crate) fn clear(self) {}

        #[inline(always)]
        pub(crate) fn by_task(self) -> bool {
            false
        }
    }

    #[derive(Clone, Copy)]
    pub(crate) struct Target<'a>(PhantomData<&'a HolderCell>);

    impl<'a> Target<'a> {
        #[inline(always)]
        pub(crate) fn new<L: ?Sized>(_cell: &'a HolderCell, _lock: &L, _kind: LockKind) -> Self {
            Target(PhantomData)
        }

        #[inline(always)]
        pub(crate) fn with_readers(self) -> Self {
            self
        }

        #[inline(always)]
        pub(crate) fn record(self, _site: Site, _by_task: bool) {}

        #[inline(always)]
        pub(crate) fn clear(self) {}
    }

    pub(crate) struct WaitRecord;

    impl WaitRecord {
        #[inline(always)]
        pub(crate) fn new(_site: Site) -> Self {
            WaitRecord
        }

        #[inline(always)]
        pub(crate) fn record_holder(&self, _target: Target<'_>) {}

        #[inline(always)]
        pub(crate) fn record_reader(&self, _target: Target<'_>) -> Reader {
            Reader
        }

        #[inline(always)]
        pub(crate) fn cancel(&mut self, _target: Target<'_>) {}
    }

    /// Which thread took a read lock (nothing is recorded).
    #[derive(Clone, Copy)]
    pub(crate) struct Reader;

    #[inline(always)]
    pub(crate) fn read_acquired(_cell: HolderRef<'_>, _site: Site, _by_task: bool) -> Reader {
        Reader
    }

    #[inline(always)]
    pub(crate) fn read_released(_reader: Reader) {}

    #[inline(always)]
    pub(crate) fn watch<S, R>(
        _rec: &mut WaitRecord,
        _target: Target<'_>,
        strategy: &mut S,
        f: impl FnOnce(&mut S) -> Poll<R>,
    ) -> Poll<R> {
        f(strategy)
    }
}

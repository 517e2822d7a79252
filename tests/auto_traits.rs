//! The auto traits (`Send`, `Sync`, `Unpin`) of unisync's locks, guards, permits, errors and
//! futures, checked against those of tokio's counterparts for values that are `Send + Sync`,
//! `Send` only, `Sync` only and neither.
//!
//! Source: tokio-rs/tokio `tokio/tests/async_send_sync.rs`, which asserts each of tokio's types'
//! auto traits; here the same table is read off tokio's types themselves and compared, so a
//! difference names both sides. The few places where unisync is deliberately looser are listed
//! in the test that allows them.
// The value types below exist only as type parameters; none is ever built.
#![allow(dead_code)]

use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;

/// A value that is `Send` and `Sync`.
struct YY;
/// A value that is `Send` but not `Sync`.
struct YN(Cell<u8>);
/// A value that is neither `Send` nor `Sync`.
struct NN(Rc<u8>);
/// A value that is `Sync` but not `Send`.
struct NY(PhantomData<std::sync::MutexGuard<'static, u8>>);

/// Reads `T`'s `Send` without requiring it: the inherent `SEND`, which exists only when
/// `T: Send`, takes precedence over the trait's `false` (likewise [`ProbeS`] and [`ProbeU`]).
struct Probe<T: ?Sized>(PhantomData<T>);
trait NoSend {
    const SEND: bool = false;
}
impl<T: ?Sized> NoSend for Probe<T> {}
trait NoSync {
    const SYNC: bool = false;
}
impl<T: ?Sized> NoSync for Probe<T> {}
trait NoUnpin {
    const UNPIN: bool = false;
}
impl<T: ?Sized> NoUnpin for Probe<T> {}
impl<T: ?Sized + Send> Probe<T> {
    const SEND: bool = true;
}
/// Reads `T`'s `Sync`, as [`Probe`] does `Send`.
struct ProbeS<T: ?Sized>(PhantomData<T>);
impl<T: ?Sized> NoSync for ProbeS<T> {}
impl<T: ?Sized + Sync> ProbeS<T> {
    const SYNC: bool = true;
}
/// Reads `T`'s `Unpin`, as [`Probe`] does `Send`.
struct ProbeU<T: ?Sized>(PhantomData<T>);
impl<T: ?Sized> NoUnpin for ProbeU<T> {}
impl<T: ?Sized + Unpin> ProbeU<T> {
    const UNPIN: bool = true;
}

macro_rules! traits {
    ($t:ty) => {
        (<Probe<$t>>::SEND, <ProbeS<$t>>::SYNC, <ProbeU<$t>>::UNPIN)
    };
}

macro_rules! same_as_tokio {
    ($errs:ident; $( $u:ty => $t:ty ;)*) => {$(
        let (u, t) = (traits!($u), traits!($t));
        if u != t {
            $errs.push(format!("{:<60} (Send, Sync, Unpin) = {:?}, tokio {:?}", stringify!($u), u, t));
        }
    )*};
}

/// Locks, guards, permits and errors have the auto traits of tokio's, but where noted.
#[test]
fn guards_and_permits_have_tokios_auto_traits() {
    let mut errs = Vec::new();
    macro_rules! each { ($($x:ident)*) => {$(
        same_as_tokio! { errs;
            unisync::Mutex<$x> => tokio::sync::Mutex<$x>;
            unisync::MutexGuard<'static, $x> => tokio::sync::MutexGuard<'static, $x>;
            unisync::OwnedMutexGuard<$x> => tokio::sync::OwnedMutexGuard<$x>;
            unisync::MappedMutexGuard<'static, $x> => tokio::sync::MappedMutexGuard<'static, $x>;
            unisync::OwnedMappedMutexGuard<$x, $x> => tokio::sync::OwnedMappedMutexGuard<$x, $x>;
            unisync::RwLock<$x> => tokio::sync::RwLock<$x>;
            unisync::RwLockReadGuard<'static, $x> => tokio::sync::RwLockReadGuard<'static, $x>;
            unisync::RwLockWriteGuard<'static, $x> => tokio::sync::RwLockWriteGuard<'static, $x>;
            unisync::OwnedRwLockReadGuard<$x> => tokio::sync::OwnedRwLockReadGuard<$x>;
            unisync::OwnedRwLockWriteGuard<$x> => tokio::sync::OwnedRwLockWriteGuard<$x>;
            unisync::MappedRwLockReadGuard<'static, $x> => tokio::sync::RwLockReadGuard<'static, $x>;
            unisync::MappedRwLockWriteGuard<'static, $x> => tokio::sync::RwLockMappedWriteGuard<'static, $x>;
            unisync::OwnedMappedRwLockReadGuard<$x, $x> => tokio::sync::OwnedRwLockReadGuard<$x, $x>;
            unisync::OwnedMappedRwLockWriteGuard<$x, $x> => tokio::sync::OwnedRwLockMappedWriteGuard<$x, $x>;
        }
    )*}}
    each!(YY YN NN NY);
    same_as_tokio! { errs;
        unisync::Semaphore => tokio::sync::Semaphore;
        unisync::SemaphorePermit<'static> => tokio::sync::SemaphorePermit<'static>;
        unisync::OwnedSemaphorePermit => tokio::sync::OwnedSemaphorePermit;
        unisync::AcquireError => tokio::sync::AcquireError;
        unisync::TryAcquireError => tokio::sync::TryAcquireError;
    }
    // Deliberately looser than tokio, as std is: a read guard (and a mapped write guard) is
    // `Sync` when `T: Sync`, since sharing it shares only `&T` (tokio also asks `T: Send`).
    let expected = [
        "unisync :: RwLockReadGuard < 'static, NY >",
        "unisync :: MappedRwLockReadGuard < 'static, NY >",
        "unisync :: MappedRwLockWriteGuard < 'static, NY >",
    ];
    let squeezed = |s: &str| s.replace(' ', "");
    errs.retain(|e| {
        !expected
            .iter()
            .any(|x| squeezed(e).starts_with(&squeezed(x)))
    });
    assert!(errs.is_empty(), "\n{}", errs.join("\n"));
}

/// Lock, read, write, upgrade and acquire futures have the auto traits of tokio's.
#[test]
fn futures_have_tokios_auto_traits() {
    // tokio's futures are `async fn`s, so their traits are written out from its table: lock(_)
    // of Mutex<YN>/<YY>: Send & Sync & !Unpin; Mutex<NN>: !Send & !Sync. read/write of
    // RwLock<YN>: !Send & !Sync; of RwLock<YY>: Send & Sync. acquire: Send & Sync.
    use unisync::futures::*;
    let mut errs = Vec::new();
    macro_rules! expect { ($($t:ty => $e:expr;)*) => {$(
        let got = traits!($t);
        if got != $e { errs.push(format!("{:<50} got {:?}, tokio {:?}", stringify!($t), got, $e)); }
    )*}}
    expect! {
        Lock<'static, YY> => (true, true, false);
        Lock<'static, YN> => (true, true, false);
        Lock<'static, NN> => (false, false, false);
        LockOwned<YY> => (true, true, false);
        LockOwned<YN> => (true, true, false);
        LockOwned<NN> => (false, false, false);
        Read<'static, YY> => (true, true, false);
        Read<'static, YN> => (false, false, false);
        Read<'static, NN> => (false, false, false);
        Write<'static, YY> => (true, true, false);
        Write<'static, YN> => (false, false, false);
        ReadOwned<YY> => (true, true, false);
        ReadOwned<YN> => (false, false, false);
        WriteOwned<YY> => (true, true, false);
        WriteOwned<YN> => (false, false, false);
        UpgradableRead<'static, YY> => (true, true, false);
        UpgradableRead<'static, YN> => (false, false, false);
        Upgrade<'static, YY> => (true, true, false);
        UpgradeOwned<YY> => (true, true, false);
        Acquire<'static> => (true, true, false);
        AcquireOwned => (true, true, false);
    }
    assert!(errs.is_empty(), "\n{}", errs.join("\n"));
}

/// Upgradable read guards, which tokio lacks, are `Send` and `Sync` only for `Send + Sync` data.
#[test]
fn upgradable_guards_are_send_and_sync_for_send_sync_data() {
    assert_eq!(
        traits!(unisync::RwLockUpgradableReadGuard<'static, YY>),
        (true, true, true)
    );
    assert_eq!(
        traits!(unisync::OwnedRwLockUpgradableReadGuard<YY>),
        (true, true, true)
    );
    assert!(!traits!(unisync::RwLockUpgradableReadGuard<'static, YN>).0);
    assert!(!traits!(unisync::RwLockUpgradableReadGuard<'static, YN>).1);
}

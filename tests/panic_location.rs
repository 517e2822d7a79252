//! Every documented panic of a public function is reported at the caller's line, not inside
//! the crate (the functions carry `#[track_caller]`, and so does whatever they delegate to).
// The blocking forms' cases need the `std` feature.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex as StdMutex};

use futures::FutureExt as _;
use unisync::{lock_all, Barrier, Condvar, Mutex, RwLock, Semaphore};

/// Runs `f`, which must panic, and returns the file its panic was reported in.
fn panic_file(hook_file: &StdMutex<Option<String>>, f: impl FnOnce()) -> String {
    *hook_file.lock().unwrap() = None;
    let res = panic::catch_unwind(AssertUnwindSafe(f));
    assert!(res.is_err(), "expected a panic");
    hook_file
        .lock()
        .unwrap()
        .take()
        .expect("the panic hook saw the panic")
}

// One test, so that no other test's panic runs under this file's hook.
#[test]
fn documented_panics_point_at_the_caller() {
    let hook_file = Arc::new(StdMutex::new(None::<String>));
    let previous = panic::take_hook();
    {
        let hook_file = hook_file.clone();
        panic::set_hook(Box::new(move |info| {
            let file = info.location().map(|l| l.file().to_owned());
            *hook_file.lock().unwrap() = file;
        }));
    }

    let sem = Semaphore::new(1);
    let other = Semaphore::new(1);
    let cv = Condvar::new();
    let (m1, m2) = (Mutex::new(()), Mutex::new(()));
    // Bind the condvar to `m1`: a wait polled once, then dropped.
    assert!(cv.wait(m1.try_lock().unwrap()).now_or_never().is_none());

    type Case<'a> = (&'static str, Box<dyn FnOnce() + 'a>);
    #[cfg_attr(not(feature = "std"), allow(unused_mut))]
    let mut cases: Vec<Case<'_>> = vec![
        (
            "Semaphore::new",
            Box::new(|| drop(Semaphore::new(Semaphore::MAX_PERMITS + 1))),
        ),
        ("Barrier::new(0)", Box::new(|| drop(Barrier::new(0)))),
        (
            "Barrier::new(too many)",
            Box::new(|| drop(Barrier::new(Barrier::MAX_PARTIES + 1))),
        ),
        (
            "add_permits",
            Box::new(|| sem.add_permits(Semaphore::MAX_PERMITS)),
        ),
        (
            "acquire_many",
            Box::new(|| drop(sem.acquire_many(Semaphore::MAX_PERMITS + 1))),
        ),
        (
            "try_acquire_many",
            Box::new(|| drop(sem.try_acquire_many(Semaphore::MAX_PERMITS + 1))),
        ),
        (
            "SemaphorePermit::merge",
            Box::new(|| {
                let mut a = sem.try_acquire().unwrap();
                a.merge(other.try_acquire().unwrap());
            }),
        ),
        (
            "Condvar::wait with another mutex",
            Box::new(|| drop(cv.wait(m2.try_lock().unwrap()))),
        ),
        (
            "RwLock::with_max_readers(0)",
            Box::new(|| drop(RwLock::with_max_readers((), 0))),
        ),
        (
            "RwLock::with_max_readers(too many)",
            Box::new(|| drop(RwLock::with_max_readers((), RwLock::<()>::MAX_READERS + 1))),
        ),
        (
            "lock_all with a mutex twice",
            Box::new(|| drop(lock_all((&m1, &m1)))),
        ),
    ];
    #[cfg(feature = "std")]
    cases.extend::<[Case<'_>; 2]>([
        (
            "acquire_many_blocking",
            Box::new(|| drop(sem.acquire_many_blocking(Semaphore::MAX_PERMITS + 1))),
        ),
        (
            "lock_all_blocking with a mutex twice",
            Box::new(|| drop(unisync::lock_all_blocking((&m1, &m1)))),
        ),
    ]);
    let mut wrong = Vec::new();
    for (what, f) in cases {
        let file = panic_file(&hook_file, f);
        if !file.ends_with("panic_location.rs") {
            wrong.push(format!("{what}: reported at {file}"));
        }
    }
    panic::set_hook(previous);
    assert!(
        wrong.is_empty(),
        "panics reported inside the crate: {wrong:#?}"
    );
}

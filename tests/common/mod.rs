//! Helpers shared by the integration tests: a waker that counts its wake-ups, poll helpers, a
//! hand-polled task, thread helpers with a deadlock guard, a few checks that several files run, a
//! macro that writes a test for two API variants and one that writes a table of one-line tests,
//! a counting global allocator, a seeded random generator, a poll limit and the stress tests'
//! scale.
//!
//! Each test file includes it with `mod common;`; whatever a file does not use is allowed to go
//! unused. It needs nothing from loom, and from tokio only in [`runtime`], which the loom
//! builds (`--cfg loom`, without tokio) leave out; so the loom models include it too.
#![allow(dead_code, unused_macros)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use futures::executor::block_on;

/// How long a test waits for something that should happen before calling it a hang: a deadlock
/// guard only, never a performance bound.
pub const HANG: Duration = Duration::from_secs(60);

/// A waker that counts how many times it was woken.
#[derive(Default)]
pub struct CountingWaker {
    wakes: AtomicUsize,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that, the first time it is woken, stops inside `wake` until the test lets it go on:
/// it holds the waking thread between two wake-up batches of a release, as a preempted thread
/// would.
pub struct Stall {
    entered: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    entered_rx: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    go: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
    go_tx: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
}

impl Stall {
    pub fn new() -> Arc<Stall> {
        let (entered, entered_rx) = std::sync::mpsc::channel();
        let (go_tx, go) = std::sync::mpsc::channel();
        Arc::new(Stall {
            entered: std::sync::Mutex::new(Some(entered)),
            entered_rx: std::sync::Mutex::new(entered_rx),
            go: std::sync::Mutex::new(Some(go)),
            go_tx: std::sync::Mutex::new(go_tx),
        })
    }

    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    /// Returns once a thread stopped inside the waker.
    pub fn wait_until_entered(&self) {
        self.entered_rx
            .lock()
            .unwrap()
            .recv_timeout(HANG)
            .expect("the stalling waker was woken in time");
    }

    /// Lets the stopped thread go on.
    pub fn go_on(&self) {
        let _ = self.go_tx.lock().unwrap().send(());
    }
}

impl Wake for Stall {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let Some(entered) = self.entered.lock().unwrap().take() else {
            return;
        };
        let _ = entered.send(());
        let go = self.go.lock().unwrap().take().unwrap();
        go.recv_timeout(HANG)
            .expect("the test let the stalled waker go on");
    }
}

/// A counting waker and the `Waker` built from it.
pub struct Counter {
    inner: Arc<CountingWaker>,
    waker: Waker,
}

impl Counter {
    pub fn new() -> Self {
        let inner = Arc::new(CountingWaker::default());
        let waker = Waker::from(inner.clone());
        Counter { inner, waker }
    }

    /// How many times the waker has been woken so far.
    pub fn count(&self) -> usize {
        self.inner.wakes.load(Ordering::SeqCst)
    }

    pub fn waker(&self) -> &Waker {
        &self.waker
    }

    /// Polls `fut` once with this waker.
    pub fn poll<F: Future + Unpin>(&self, fut: &mut F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(&self.waker);
        Pin::new(fut).poll(&mut cx)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_with(fut, futures::task::noop_waker_ref())
}

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// A future pinned on the heap and polled by hand with a [`Counter`]'s waker, which tells whether
/// it was woken since its last [`poll`](Task::poll): a stand-in for `tokio_test::task::spawn`.
pub struct Task<F: Future> {
    fut: Pin<Box<F>>,
    counter: Counter,
    /// The counter's count when `poll` last ran.
    polled_at: usize,
}

/// Wraps `fut` in a [`Task`]; nothing runs it but the task's polls.
pub fn spawn<F: Future>(fut: F) -> Task<F> {
    Task {
        fut: Box::pin(fut),
        counter: Counter::new(),
        polled_at: 0,
    }
}

impl<F: Future> Task<F> {
    /// Polls once with this task's waker; [`is_woken`](Task::is_woken) then counts from here.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.polled_at = self.counter.count();
        self.counter.poll(&mut self.fut)
    }

    /// Polls once with another waker (this task's wake-ups are not reset).
    pub fn poll_with(&mut self, waker: &Waker) -> Poll<F::Output> {
        poll_with(&mut self.fut, waker)
    }

    /// Whether this task's waker was woken since the last [`poll`](Task::poll).
    pub fn is_woken(&self) -> bool {
        self.counter.count() > self.polled_at
    }

    /// Polls once with this task's waker and returns the output; panics if it is `Pending`.
    #[track_caller]
    pub fn assert_ready(&mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("expected Ready, got Pending"),
        }
    }

    /// Polls once with this task's waker; panics if it is `Ready`.
    #[track_caller]
    pub fn assert_pending(&mut self) {
        if self.poll().is_ready() {
            panic!("expected Pending, got Ready");
        }
    }
}

/// Asserts that polling the future once (with the given `Counter`, or a no-op waker) is
/// `Pending`.
macro_rules! assert_pending {
    ($counter:expr, $fut:expr) => {{
        match $counter.poll(&mut $fut) {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(_) => panic!("expected Pending, got Ready"),
        }
    }};
    ($fut:expr) => {{
        match $crate::common::poll_once(&mut $fut) {
            ::std::task::Poll::Pending => {}
            ::std::task::Poll::Ready(_) => panic!("expected Pending, got Ready"),
        }
    }};
}

/// Asserts that polling the future once is `Ready` and yields the output.
macro_rules! assert_ready {
    ($counter:expr, $fut:expr) => {{
        match $counter.poll(&mut $fut) {
            ::std::task::Poll::Ready(out) => out,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending"),
        }
    }};
    ($fut:expr) => {{
        match $crate::common::poll_once(&mut $fut) {
            ::std::task::Poll::Ready(out) => out,
            ::std::task::Poll::Pending => panic!("expected Ready, got Pending"),
        }
    }};
}

#[allow(unused_imports)]
pub(crate) use {assert_pending, assert_ready};

/// Checks the basic wait protocol: `fut` is `Pending` while the primitive is contended, is woken
/// when `release` runs, and is `Ready` on the next poll. Returns the output.
pub fn pending_until_released<F, R>(mut fut: F, release: R) -> F::Output
where
    F: Future + Unpin,
    R: FnOnce(),
{
    let counter = Counter::new();
    assert!(
        counter.poll(&mut fut).is_pending(),
        "Pending while contended"
    );
    // A second poll without a release must still be pending and not lose registration.
    assert!(counter.poll(&mut fut).is_pending(), "still Pending");
    let before = counter.count();
    release();
    assert!(counter.count() > before, "the release woke the waiter");
    match counter.poll(&mut fut) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("woken waiter was not Ready"),
    }
}

/// Checks a blocking wait against a holder: runs `wait` (a blocking call that cannot return
/// while the primitive is held) on another thread, then `release` here, and returns what
/// `wait` returned, after checking that it returned only once `release` had started.
///
/// No timing is asserted: the short sleep only makes it likely that `wait` has parked before
/// the release; a `wait` that does not wait for the release fails the check.
pub fn blocked_until_released<R, W, F>(wait: W, release: F) -> R
where
    W: FnOnce() -> R + Send,
    R: Send,
    F: FnOnce(),
{
    let started = AtomicBool::new(false);
    let released = AtomicBool::new(false);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            started.store(true, Ordering::SeqCst);
            let out = wait();
            (released.load(Ordering::SeqCst), out)
        });
        while !started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        thread::sleep(Duration::from_millis(10));
        released.store(true, Ordering::SeqCst);
        release();
        let (after_release, out) = waiter.join().expect("the waiting thread panicked");
        assert!(
            after_release,
            "the blocking wait returned before the holder released"
        );
        out
    })
}

/// Waits until `done` holds, checking every millisecond; panics, naming `what`, after [`HANG`].
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    // A progress nobody steps: the guard of `Progress::watch`, counted from the start.
    Progress::default().watch(what, done);
}

/// Runs `f` on a thread of its own and fails if it has not finished within [`HANG`] (a deadlock
/// guard only, never a performance bound); a panic in `f` is passed on.
pub fn no_deadlock(f: impl FnOnce() + Send + 'static) {
    no_stall(move |_| f());
}

/// Steps that a long test has finished, shared by its threads and tasks: the deadlock guard of
/// [`no_stall`] and [`Progress::wait_for`] measure [`HANG`] from the last step, so the work may
/// grow with the stress scale without growing the time a hang takes to show.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<AtomicUsize>);

impl Progress {
    /// Records one finished step.
    pub fn step(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The steps finished so far.
    pub fn steps(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Waits until `target` steps are done; panics, naming `what`, if none is made for
    /// [`HANG`].
    pub fn wait_for(&self, what: &str, target: usize) {
        self.watch(what, || self.steps() >= target);
    }

    /// Waits until `done` holds, checking every millisecond; panics, naming `what`, once no
    /// step has been made for [`HANG`].
    fn watch(&self, what: &str, mut done: impl FnMut() -> bool) {
        let mut seen = self.steps();
        let mut since = Instant::now();
        while !done() {
            let now = self.steps();
            if now != seen {
                (seen, since) = (now, Instant::now());
            }
            assert!(
                since.elapsed() < HANG,
                "hung waiting for {what}: no step for {HANG:?} ({seen} steps done)"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// [`no_deadlock`] for work that grows with the stress scale: `f` is handed a [`Progress`] to
/// step as it goes, and fails only if it makes no step for [`HANG`], however long the whole
/// takes.
pub fn no_stall(f: impl FnOnce(Progress) + Send + 'static) {
    let progress = Progress::default();
    let worker = {
        let progress = progress.clone();
        thread::spawn(move || f(progress))
    };
    progress.watch("the guarded work to finish (deadlock?)", || {
        worker.is_finished()
    });
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Checks a semaphore of two free permits: `take` gets both, after which `try_acquire` fails,
/// and it succeeds again once the first permit is dropped.
pub fn takes_both_permits<P, E: Debug>(sem: &unisync::Semaphore, take: impl Fn() -> Result<P, E>) {
    let first = take().unwrap();
    let _second = take().unwrap();
    assert!(sem.try_acquire().is_err());
    drop(first);
    assert!(sem.try_acquire().is_ok());
}

/// Runs `f` on `n` threads of their own while `meanwhile` runs on this one, joins them, and
/// returns what `meanwhile` returned; a panic on any of the threads is passed on.
pub fn on_threads<R>(n: usize, f: impl Fn() + Sync, meanwhile: impl FnOnce() -> R) -> R {
    thread::scope(|s| {
        for _ in 0..n {
            s.spawn(&f);
        }
        meanwhile()
    })
}

/// Checks, `runs` times over, that three threads sharing a semaphore of two permits, each
/// acquiring and releasing a permit `rounds` times in a row, never hold more than two at once,
/// and that both permits are back after.
pub fn sem_holders_never_exceed_permits(runs: usize, rounds: usize) {
    const PERMITS: usize = 2;
    for _ in 0..runs {
        let sem = unisync::Semaphore::new(PERMITS);
        let holding = AtomicUsize::new(0);
        let task = || {
            for _ in 0..rounds {
                let permit = block_on(sem.acquire()).unwrap();
                assert!(holding.fetch_add(1, Ordering::SeqCst) < PERMITS);
                assert!(holding.fetch_sub(1, Ordering::SeqCst) <= PERMITS);
                drop(permit);
            }
        };
        on_threads(PERMITS, task, task);
        assert_eq!(sem.available_permits(), PERMITS);
    }
}

/// Checks, `runs` times over, that the permit of a one-permit semaphore passes between two
/// threads that each acquire it and drop it, and is back after.
pub fn sem_permit_passes_between_threads(runs: usize) {
    for _ in 0..runs {
        let sem = unisync::Semaphore::new(1);
        let acquire_release = || drop(block_on(sem.acquire()).unwrap());
        on_threads(1, acquire_release, acquire_release);
        assert_eq!(sem.available_permits(), 1);
    }
}

/// Checks, `runs` times over, that two threads acquiring a one-permit semaphore twice in a row
/// (stopping at the first error) both finish when it is closed meanwhile, and that an acquire
/// on the closed semaphore fails.
pub fn sem_close_ends_acquiring_threads(runs: usize) {
    for _ in 0..runs {
        let sem = unisync::Semaphore::new(1);
        let acquire_twice = || {
            for _ in 0..2 {
                if block_on(sem.acquire()).is_err() {
                    return;
                }
            }
        };
        on_threads(2, acquire_twice, || sem.close());
        assert!(sem.is_closed());
        assert!(block_on(sem.acquire()).is_err());
    }
}

/// Checks, `runs` times over, that three threads that each acquire a one-permit semaphore,
/// release it and close the semaphore all finish, and that it ends closed.
pub fn sem_acquire_release_close_on_threads(runs: usize) {
    for _ in 0..runs {
        let sem = unisync::Semaphore::new(1);
        let acquire_then_close = || {
            if let Ok(permit) = block_on(sem.acquire()) {
                drop(permit);
                sem.close();
            }
        };
        on_threads(3, acquire_then_close, || {});
        assert!(sem.is_closed());
    }
}

/// Checks, `runs` times over, that acquires polled once and then dropped lose no permits: three
/// threads each poll one acquire of an empty semaphore and drop it (keeping what the poll
/// returned), then a second, while this one adds ten permits; all ten are free after.
pub fn sem_cancelled_acquires_lose_no_permits(runs: usize) {
    fn poll_twice_and_cancel(sem: &unisync::Semaphore) {
        let _permit1 = poll_once(&mut Box::pin(sem.acquire()));
        let _permit2 = poll_once(&mut Box::pin(sem.acquire()));
    }
    for _ in 0..runs {
        let sem = unisync::Semaphore::new(0);
        thread::scope(|s| {
            let start = || s.spawn(|| poll_twice_and_cancel(&sem));
            let (t1, t2, t3) = (start(), start(), start());
            t1.join().unwrap();
            sem.add_permits(10);
            t2.join().unwrap();
            t3.join().unwrap();
        });
        assert_eq!(sem.available_permits(), 10);
    }
}

/// Takes the guard that `first` gives on its first poll, then polls `second` once while that
/// guard is held; returns whether `second` was ready.
pub fn ready_while_held<A: Future, B: Future>(first: A, second: B) -> bool {
    let _held = spawn(first).assert_ready();
    spawn(second).poll().is_ready()
}

/// Checks that once a write waits for the `readers` holding a new `RwLock`, a new read queues
/// behind it too (both are pending on their first poll); and, where `cancel_write`, that
/// dropping the waiting write wakes that read, which then gets in.
pub fn reads_queue_behind_a_waiting_write(readers: usize, cancel_write: bool) {
    let rwlock = unisync::RwLock::new(100);
    let _readers: Vec<_> = (0..readers)
        .map(|_| spawn(rwlock.read()).assert_ready())
        .collect();
    let mut write = spawn(rwlock.write());
    write.assert_pending();
    let mut read = spawn(rwlock.read());
    read.assert_pending();
    if cancel_write {
        drop(write);
        assert!(read.is_woken());
        let _read = read.assert_ready();
    }
}

/// Writes each test body as two tests that differ only in some values they use, typically a
/// borrowed API and its owned (`*_owned`) twin, so that a failure still names the variant.
///
/// Each `name = [a, b]` binds `name` to `a` in the first test and to `b` in the second; a method
/// named by its path (`Semaphore::try_acquire`) is then called as `name(&receiver)`. Bindings in
/// a `where ...;` that opens the invocation serve every test in it (each must still infer its
/// types there: name a generic type in full, as `RwLock::<i32>::read`); a test's own follow its
/// names. Attributes (`#[test]`, `#[tokio::test]`, `#[should_panic]`) go to both tests, and
/// `async fn` works as `fn` does:
///
/// ```ignore
/// common::twin_tests! {
///     where try_acquire = [Semaphore::try_acquire, Semaphore::try_acquire_owned];
///
///     // try_acquire (borrowed or owned) fails while the only permit is held.
///     #[test]
///     fn [try_acquire_fails_while_held, try_acquire_owned_fails_while_held] {
///         let sem = Arc::new(Semaphore::new(1));
///         let _held = try_acquire(&sem).unwrap();
///         assert!(try_acquire(&sem).is_err());
///     }
///
///     // acquire (borrowed or owned) is ready at once on a free semaphore.
///     #[tokio::test]
///     async fn [acquire_free, acquire_owned_free]
///     where acquire = [Semaphore::acquire, Semaphore::acquire_owned]
///     {
///         let sem = Arc::new(Semaphore::new(1));
///         drop(acquire(&sem).await.unwrap());
///     }
/// }
/// ```
macro_rules! twin_tests {
    // The bindings shared by every test of the invocation, as `let` statements per variant.
    (where $($name:ident = [$va:expr, $vb:expr $(,)?]),+ $(,)?; $($rest:tt)*) => {
        $crate::common::twin_tests! {
            @tests
            [$(#[allow(unused_variables)] let $name = $va;)+]
            [$(#[allow(unused_variables)] let $name = $vb;)+]
            $($rest)*
        }
    };
    (@tests $shared_a:tt $shared_b:tt) => {};
    (@tests $shared_a:tt $shared_b:tt $(#[$attr:meta])* async fn $($rest:tt)*) => {
        $crate::common::twin_tests! { @emit [async] $shared_a $shared_b $(#[$attr])* fn $($rest)* }
    };
    (@tests $shared_a:tt $shared_b:tt $(#[$attr:meta])* fn $($rest:tt)*) => {
        $crate::common::twin_tests! { @emit [] $shared_a $shared_b $(#[$attr])* fn $($rest)* }
    };
    (
        @emit [$($kw:tt)*] [$($shared_a:tt)*] [$($shared_b:tt)*]
        $(#[$attr:meta])*
        fn [$a:ident, $b:ident $(,)?]
        $(where $($name:ident = [$va:expr, $vb:expr $(,)?]),+ $(,)?)?
        $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        $($kw)* fn $a() {
            $($shared_a)*
            $($(let $name = $va;)+)?
            $body
        }

        $(#[$attr])*
        $($kw)* fn $b() {
            $($shared_b)*
            $($(let $name = $vb;)+)?
            $body
        }

        $crate::common::twin_tests! { @tests [$($shared_a)*] [$($shared_b)*] $($rest)* }
    };
    (@$($unexpected:tt)*) => {
        compile_error!(
            "twin_tests!: expected `#[attr]* [async] fn [name_a, name_b] \
             [where x = [a, b], ...] { body }`"
        );
    };
    // No shared bindings.
    ($($rest:tt)*) => {
        $crate::common::twin_tests! { @tests [] [] $($rest)* }
    };
}

#[allow(unused_imports)]
pub(crate) use twin_tests;

/// Writes a table of one-line tests: each row `name => expression;` becomes a `#[test] fn name()`
/// that evaluates the expression, so that a failure still names its row. For tests that each
/// run a shared check with other arguments; a row may carry attributes (`#[should_panic]`), and
/// a `//` comment above it says what it checks:
///
/// ```ignore
/// common::table_tests! {
///     // Two permits are free on a new semaphore of two.
///     two_free => assert_eq!(Semaphore::new(2).available_permits(), 2);
///     // A semaphore of no permits has none to try.
///     none_free => assert!(Semaphore::new(0).try_acquire().is_err());
/// }
/// ```
macro_rules! table_tests {
    ($($(#[$attr:meta])* $name:ident => $check:expr;)+) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                $check;
            }
        )+
    };
}

#[allow(unused_imports)]
pub(crate) use table_tests;

/// A global allocator that forwards every call to [`System`] and counts:
///
/// - per thread, the allocations the current thread made (`alloc`, `alloc_zeroed` and
///   `realloc` each count one), so that [`allocs`] is not disturbed by other test threads;
/// - for the whole process, the allocations live right now ([`live_allocs`]), to catch leaks.
///
/// A `#[global_allocator]` must be declared in each test binary: invoke
/// [`counting_allocator!`] once in the test file.
pub struct CountingAlloc;

thread_local! {
    /// Allocations made by this thread so far.
    static THREAD_ALLOCS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated by this thread minus bytes freed by it, so far.
    static THREAD_BYTES: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` to this thread's net byte count (not counted during thread teardown).
fn count_bytes(delta: isize) {
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + delta));
}

/// Allocations live in the whole process right now.
static LIVE_ALLOCS: AtomicIsize = AtomicIsize::new(0);

impl CountingAlloc {
    fn counted(ptr: *mut u8, size: usize) -> *mut u8 {
        // `try_with`, so that an allocation during thread teardown is simply not counted. The
        // cell is const-initialised: touching it neither allocates nor re-enters the allocator.
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        if !ptr.is_null() {
            LIVE_ALLOCS.fetch_add(1, Ordering::SeqCst);
            count_bytes(size as isize);
        }
        ptr
    }
}

// SAFETY: every call is forwarded to `System` unchanged, with the caller's arguments; we only
// count, without allocating.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        Self::counted(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        Self::counted(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        // One allocation for this thread; the number of live blocks does not change (on
        // failure the old block stays live).
        let _ = THREAD_ALLOCS.try_with(|c| c.set(c.get() + 1));
        if !new.is_null() {
            count_bytes(new_size as isize - layout.size() as isize);
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_ALLOCS.fetch_sub(1, Ordering::SeqCst);
        count_bytes(-(layout.size() as isize));
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Declares [`CountingAlloc`] as this test binary's global allocator. Invoke it once, at the
/// top level of a test file that uses [`allocs`] or [`live_allocs`]:
///
/// ```ignore
/// mod common;
/// common::counting_allocator!();
/// ```
macro_rules! counting_allocator {
    () => {
        #[global_allocator]
        static COUNTING_ALLOC: $crate::common::CountingAlloc = $crate::common::CountingAlloc;
    };
}

#[allow(unused_imports)]
pub(crate) use counting_allocator;

/// Panics unless [`counting_allocator!`] installed [`CountingAlloc`] in this binary: without
/// it nothing is counted, and a test that expects no allocation would pass for nothing.
fn assert_counting() {
    // The test harness itself holds allocations while any test runs.
    assert!(
        LIVE_ALLOCS.load(Ordering::SeqCst) > 0,
        "`common::counting_allocator!()` is not invoked in this test binary"
    );
}

/// Runs `f` and returns how many allocations this thread made meanwhile, with `f`'s result.
pub fn allocs<R>(f: impl FnOnce() -> R) -> (usize, R) {
    assert_counting();
    let before = THREAD_ALLOCS.with(Cell::get);
    let r = f();
    (THREAD_ALLOCS.with(Cell::get) - before, r)
}

/// Runs `f` and returns the bytes this thread allocated meanwhile minus those it freed, with
/// `f`'s result: zero when `f` retained nothing (as long as what `f` allocates is freed on this
/// thread, and `f` frees nothing that was allocated before it).
pub fn net_bytes<R>(f: impl FnOnce() -> R) -> (isize, R) {
    assert_counting();
    let before = THREAD_BYTES.with(Cell::get);
    let r = f();
    (THREAD_BYTES.with(Cell::get) - before, r)
}

/// How many heap blocks are allocated in the whole process right now.
pub fn live_allocs() -> isize {
    assert_counting();
    LIVE_ALLOCS.load(Ordering::SeqCst)
}

/// Polls a queued wait on a count (a wait group, a drain) while the release that takes the
/// count to zero is still waking earlier waits, and returns whether that poll saw the zero.
///
/// `make` builds a wait; 40 of them are polled once. The first wait's waker stops the release
/// (`release`, run on another thread) inside its first batch of wake-ups; the last wait is
/// polled with `starts_work_on_drop`, a waker that starts new work when it is dropped, which
/// happens as that wait leaves the queue. While the release is held, the count must read zero
/// (`is_zero`) and the last wait is polled again. Then the release finishes, `end_late_work`
/// ends the work the waker started, and every other wait must be ready.
pub fn last_wait_polled_as_new_work_starts<F: Future>(
    make: impl Fn() -> F,
    starts_work_on_drop: Waker,
    release: impl FnOnce() + Send + 'static,
    is_zero: impl Fn() -> bool,
    end_late_work: impl FnOnce(),
) -> bool {
    let stall = Stall::new();
    let mut waits: Vec<_> = (0..40).map(|_| Box::pin(make())).collect();
    assert!(poll_with(&mut waits[0], &stall.waker()).is_pending());
    for wait in &mut waits[1..39] {
        assert!(poll_once(wait).is_pending());
    }
    assert!(poll_with(&mut waits[39], &starts_work_on_drop).is_pending());
    drop(starts_work_on_drop);
    let releaser = thread::spawn(release);
    stall.wait_until_entered();
    assert!(is_zero(), "the count is zero once the release has begun");
    let seen_zero = poll_once(&mut waits[39]).is_ready();
    stall.go_on();
    releaser.join().unwrap();
    end_late_work();
    for wait in &mut waits[..39] {
        assert!(poll_once(wait).is_ready());
    }
    seen_zero
}

/// Checks that a release that ends many waits at once (an event's `set`, a shutdown trigger)
/// ends them in one step as seen by whoever polls them. `make` builds a wait; 42 of them are
/// polled once (more than one batch of wake-ups), then `release` runs, and the first wait's
/// waker, which the release calls before it has reached the last wait, polls the last one:
/// that poll must be ready. Every other wait must be ready afterwards.
pub fn one_release_ends_every_wait_at_once<F>(make: impl Fn() -> F, release: impl FnOnce())
where
    F: Future + Send + 'static,
{
    use std::sync::Mutex;

    struct PollsLast<F: Future> {
        last: Mutex<Option<Pin<Box<F>>>>,
        seen: Mutex<Option<bool>>,
    }

    impl<F: Future + Send> Wake for PollsLast<F> {
        fn wake(self: Arc<Self>) {
            let mut last = self.last.lock().unwrap();
            let wait = last.as_mut().expect("the last wait is in place");
            let ready = poll_once(wait).is_ready();
            *self.seen.lock().unwrap() = Some(ready);
        }
    }

    let mut first = Box::pin(make());
    let mut others: Vec<_> = (0..40).map(|_| Box::pin(make())).collect();
    let mut last = Box::pin(make());
    let probe = Arc::new(PollsLast {
        last: Mutex::new(None),
        seen: Mutex::new(None),
    });
    assert!(poll_with(&mut first, &Waker::from(probe.clone())).is_pending());
    for wait in &mut others {
        assert!(poll_once(wait).is_pending());
    }
    assert!(poll_once(&mut last).is_pending());
    *probe.last.lock().unwrap() = Some(last);

    release();

    assert_eq!(
        *probe.seen.lock().unwrap(),
        Some(true),
        "a wait polled after another had seen the release missed it"
    );
    assert!(poll_once(&mut first).is_ready());
    for wait in &mut others {
        assert!(poll_once(wait).is_ready());
    }
}

/// A task's wait, boxed so that waits of different primitives fill one list.
pub type TaskWait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// As many task waits made by `make`, not polled yet, as a release wakes in one batch (32).
pub fn full_batch<F: Future<Output = ()> + Send + 'static>(
    mut make: impl FnMut() -> F,
) -> Vec<TaskWait> {
    (0..32).map(|_| Box::pin(make()) as TaskWait).collect()
}

/// What [`timed_wait_counts_a_release_before_its_deadline`] runs once: task waits that are not
/// polled yet (a full wake-up batch, see [`full_batch`]), a thread's timed wait (`true` if it
/// was released) and the release that ends them all.
pub struct BehindABatch {
    pub waits: Vec<TaskWait>,
    pub timed: Box<dyn FnOnce(Duration) -> bool + Send>,
    pub release: Box<dyn FnOnce() + Send>,
}

/// A thread's timed wait queued behind a full batch of task waits must count a release that
/// came before its deadline, even while the releaser is held in the first task's waker and
/// has not reached the thread's node yet: a task polled then would see the release. Passes
/// trivially when the machine is too slow to queue the thread before the release; slowness can
/// never make it fail. It orders the release and the deadline by the clock, which is how a
/// machine's caches behave but not something miri's weak-memory emulation follows.
pub fn timed_wait_counts_a_release_before_its_deadline(mut setup: impl FnMut() -> BehindABatch) {
    timed_wait_counts_a_release_then(|| (setup(), Box::new(|| Box::new(()))));
}

/// What [`timed_wait_counts_a_release_then`] does right after the release, while the releaser
/// is held in the first batch: new work, say, that the state word then shows instead of the
/// release. What it returns is dropped once the timed wait has ended.
pub type AfterRelease = Box<dyn FnOnce() -> Box<dyn std::any::Any>>;

/// [`timed_wait_counts_a_release_before_its_deadline`], with something done right after the
/// release: the release must count though the state word may no longer show it.
pub fn timed_wait_counts_a_release_then(mut setup: impl FnMut() -> (BehindABatch, AfterRelease)) {
    for timeout_ms in [200u64, 800, 3200, 12800] {
        let (
            BehindABatch {
                mut waits,
                timed,
                release,
            },
            after_release,
        ) = setup();
        let stall = Stall::new();
        assert!(poll_with(&mut waits[0], &stall.waker()).is_pending());
        for wait in &mut waits[1..] {
            assert!(poll_once(wait).is_pending());
        }
        let timeout = Duration::from_millis(timeout_ms);
        let waiter = thread::spawn(move || (Instant::now() + timeout, timed(timeout)));
        // Makes it likely that the thread queues behind the batch before the release; if it
        // does not, it sees the release at once.
        thread::sleep(Duration::from_millis(20));
        let releaser = thread::spawn(release);
        // The release has changed the state word before it wakes the first batch.
        stall.wait_until_entered();
        let released_by = Instant::now();
        let after = after_release();
        let (deadline, released) = waiter.join().unwrap();
        stall.go_on();
        releaser.join().unwrap();
        drop(after);
        drop(waits);
        if released_by < deadline {
            assert!(
                released,
                "released before the deadline, yet the timed wait timed out"
            );
            return;
        }
    }
    panic!("inconclusive: the machine was too slow for every timeout tried");
}

/// Pending once (waking itself at once), then ready: yields to whatever executor polls it, as
/// futures-test's `pending_once` does.
pub fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// A semaphore permit of either kind, for tests that mix borrowed and owned acquires.
pub enum Permit<'a> {
    Borrowed(unisync::SemaphorePermit<'a>),
    Owned(unisync::OwnedSemaphorePermit),
}

impl Permit<'_> {
    pub fn num_permits(&self) -> usize {
        match self {
            Permit::Borrowed(p) => p.num_permits(),
            Permit::Owned(p) => p.num_permits(),
        }
    }

    pub fn forget(self) {
        match self {
            Permit::Borrowed(p) => p.forget(),
            Permit::Owned(p) => p.forget(),
        }
    }
}

/// How many times over the stress tests (`tests/stress_*.rs`) run their rounds: the
/// `UNISYNC_STRESS_SCALE` environment variable, 1 when it is unset or not a number.
pub fn stress_scale() -> usize {
    std::env::var("UNISYNC_STRESS_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// A small xorshift generator: the same seed gives the same run, with no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Xorshift stays at zero forever.
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A wait polled at most `polls + 1` times (waking itself in between) and then dropped: a
/// cancellation at a chosen point, whatever the executor. `None` when it was dropped.
pub struct PollLimit<F> {
    fut: Pin<Box<F>>,
    left: u32,
}

impl<F: Future> Future for PollLimit<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = self.fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// `fut`, given up after `polls + 1` polls (see [`PollLimit`]).
pub fn limit<F: Future>(fut: F, polls: u32) -> PollLimit<F> {
    PollLimit {
        fut: Box::pin(fut),
        left: polls,
    }
}

/// A tokio runtime with two workers and its timers, for tests that mix tasks with threads.
#[cfg(not(loom))]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

//! The long-wait watchdog survives a replaced hook whose captures panic when dropped.
//!
//! A file of its own, so a process of its own: if the watchdog thread died here, it would
//! take every later report in the process with it, and other tests' hooks would time out.

#![cfg(feature = "diagnostics")]

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use unisync::diagnostics;
use unisync::Mutex;

/// How long an "eventually" may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Panics when dropped: what a hook may capture.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a hook's capture that panics when dropped");
    }
}

fn lock_addr(m: &Mutex<()>) -> usize {
    m as *const Mutex<()> as usize
}

/// Blocks a thread on `m` until the report about `m` arrives on `reports`, then lets it go.
fn report_a_long_wait(m: &Arc<Mutex<()>>, reports: &Receiver<usize>) {
    let held = m.lock_blocking();
    let waiter = {
        let m = m.clone();
        thread::spawn(move || drop(m.lock_blocking()))
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let reported = reports
            .recv_timeout(left)
            .expect("the long wait was reported in time: the watchdog is alive");
        if reported == lock_addr(m) {
            break;
        }
    }
    drop(held);
    waiter.join().unwrap();
}

#[test]
fn the_watchdog_goes_on_when_dropping_a_replaced_hook_panics() {
    let threshold = Duration::from_millis(10);
    let (in_hook_tx, in_hook) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let capture = PanicsOnDrop;
    // The first hook stops inside its first report until told to go on, so that the
    // watchdog, not the caller that replaces it, holds the last reference to it.
    diagnostics::set_long_wait_hook(threshold, move |_| {
        let _keep = &capture;
        let _ = in_hook_tx.send(());
        let _ = release_rx.lock().unwrap().recv_timeout(PATIENCE);
    });
    let first = Arc::new(Mutex::new(()));
    let held = first.lock_blocking();
    let waiter = {
        let first = first.clone();
        thread::spawn(move || drop(first.lock_blocking()))
    };
    in_hook
        .recv_timeout(PATIENCE)
        .expect("the first hook was called in time");

    let (reports_tx, reports): (Sender<usize>, Receiver<usize>) = mpsc::channel();
    diagnostics::set_long_wait_hook(threshold, move |wait| {
        let _ = reports_tx.send(wait.lock_addr());
    });
    // The watchdog now drops the first hook, and its capture panics.
    release.send(()).unwrap();
    drop(held);
    waiter.join().unwrap();

    // Later long waits are still reported, to the new hook.
    let second = Arc::new(Mutex::new(()));
    report_a_long_wait(&second, &reports);
    diagnostics::clear_long_wait_hook();
}

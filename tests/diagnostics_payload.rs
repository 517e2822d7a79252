//! The watchdog survives a hook whose panic payload panics when dropped.
//!
//! A file of its own (a process of its own): if the watchdog died here, every later report in
//! the process would be lost.

#![cfg(feature = "diagnostics")]

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use unisync::diagnostics;
use unisync::Mutex;

/// A panic payload that panics again when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a panic payload that panics when dropped");
    }
}

fn lock_addr(m: &Mutex<()>) -> usize {
    m as *const Mutex<()> as usize
}

#[test]
fn the_watchdog_goes_on_when_a_hooks_panic_payload_panics_on_drop() {
    let (tx, rx) = mpsc::channel::<usize>();
    diagnostics::set_long_wait_hook(Duration::from_millis(10), move |wait| {
        let _ = tx.send(wait.lock_addr());
        std::panic::panic_any(PanicsOnDrop);
    });
    for _ in 0..2 {
        let m = Arc::new(Mutex::new(()));
        let held = m.lock_blocking();
        let waiter = {
            let m = m.clone();
            thread::spawn(move || drop(m.lock_blocking()))
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reported = rx
                .recv_timeout(left)
                .expect("the long wait was reported in time: the watchdog is alive");
            if reported == lock_addr(&m) {
                break;
            }
        }
        drop(held);
        waiter.join().unwrap();
    }
    diagnostics::clear_long_wait_hook();
}

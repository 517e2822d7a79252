//! Two workers that would deadlock, the same workers made safe with the ordered multi-lock,
//! and what the diagnostics say about a lock held too long.
//!
//! Run it with `cargo run --example deadlock --features diagnostics`. It ends by itself in
//! about two seconds:
//!
//! 1. **The bug.** Two workers move money between two accounts. Each locks the account it
//!    takes from, then the one it pays into, so when they pay each other at the same time
//!    each holds the lock the other waits for. [`diagnostics::check_deadlock`] finds the
//!    cycle and prints where each lock was taken and where each worker waits. (One worker
//!    gave its second lock a timeout, so here it backs off and the program goes on; in
//!    real code both would hang for ever.)
//! 2. **The fix.** The same workers lock both accounts at once with [`lock_all_blocking`],
//!    which takes any set of mutexes in one global order, whatever order the caller names
//!    them in: a thousand transfers each way, no deadlock.
//! 3. **A lock held too long.** An auditor holds the ledger while it does slow work; the
//!    long-wait hook reports the worker kept waiting, with the site where the auditor took
//!    the ledger and how long it has held it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use unisync::{diagnostics, lock_all_blocking, Mutex};

type Account = Arc<Mutex<i64>>;

fn main() {
    let a: Account = Arc::new(Mutex::new(1_000));
    let b: Account = Arc::new(Mutex::new(1_000));
    the_bug(&a, &b);
    the_fix(&a, &b);
    a_lock_held_too_long();
}

/// Locks the payer, then the payee: two of these paying each other deadlock.
fn the_bug(a: &Account, b: &Account) {
    println!("1. locking in opposite orders");
    let both_hold_one = Arc::new(Barrier::new(2));
    let done = Arc::new(AtomicBool::new(false));

    let first = {
        let (a, b, both, done) = (a.clone(), b.clone(), both_hold_one.clone(), done.clone());
        thread::Builder::new()
            .name("pays-a-to-b".into())
            .spawn(move || {
                let mut from = a.lock_blocking();
                both.wait();
                let mut to = b.lock_blocking(); // waits for the other worker's `b`
                *from -= 10;
                *to += 10;
                done.store(true, Ordering::SeqCst);
            })
            .unwrap()
    };
    let second = {
        let (a, b, both) = (a.clone(), b.clone(), both_hold_one);
        thread::Builder::new()
            .name("pays-b-to-a".into())
            .spawn(move || {
                let from = b.lock_blocking();
                both.wait();
                // Waits for `a`, held by the first worker: a cycle. The timeout is what
                // lets this example go on.
                let to = a.lock_blocking_timeout(Duration::from_secs(1));
                let paid = to.is_some();
                drop((from, to));
                paid
            })
            .unwrap()
    };

    // Look for the cycle while it lasts.
    let mut reported = false;
    while !done.load(Ordering::SeqCst) {
        if let Some(cycle) = diagnostics::check_deadlock().into_iter().next() {
            if !reported {
                println!("   deadlock found:");
                for line in cycle.to_string().lines() {
                    println!("     {line}");
                }
                reported = true;
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
    if !reported {
        println!("   (the workers were not both blocked when we looked)");
    }
    first.join().unwrap();
    let paid = second.join().unwrap();
    println!("   the second worker gave up after its timeout (paid: {paid})");
}

/// Locks both accounts at once, in the multi-lock's global order: never deadlocks.
fn the_fix(a: &Account, b: &Account) {
    println!("2. locking both at once with lock_all_blocking");
    let started = Instant::now();
    let workers: Vec<_> = [(a.clone(), b.clone()), (b.clone(), a.clone())]
        .into_iter()
        .map(|(payer, payee)| {
            thread::spawn(move || {
                for _ in 0..1_000 {
                    // Named in opposite orders by the two workers; taken in the same one.
                    let (mut from, mut to) = lock_all_blocking((&*payer, &*payee));
                    *from -= 1;
                    *to += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let (a, b) = (*a.lock_blocking(), *b.lock_blocking());
    println!(
        "   2,000 transfers in {:?}; balances {a} + {b} = {}",
        started.elapsed(),
        a + b
    );
    assert_eq!(a + b, 2_000);
}

/// A ledger held while slow work runs: the long-wait hook reports who waits, and who holds.
fn a_lock_held_too_long() {
    println!("3. a lock held too long");
    let (tx, rx) = mpsc::channel();
    diagnostics::set_long_wait_hook(Duration::from_millis(100), move |wait| {
        let _ = tx.send(wait.clone());
    });

    let ledger = Arc::new(Mutex::new(Vec::<String>::new()));
    let auditor = ledger.lock_blocking(); // held through the slow work below
    let clerk = {
        let ledger = ledger.clone();
        thread::Builder::new()
            .name("clerk".into())
            .spawn(move || ledger.lock_blocking().push("entry".into()))
            .unwrap()
    };

    // The slow work: here, waiting for the report about the clerk.
    let wait = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the clerk's wait is reported");
    println!("   long wait: {wait}");
    if let Some(holder) = wait.holder() {
        println!(
            "   the ledger was taken at {} and has been held for {:?}",
            holder.site(),
            holder.held_for()
        );
    }
    println!("   the ledger now: {ledger:?}");
    drop(auditor);
    clerk.join().unwrap();
    diagnostics::clear_long_wait_hook();
    println!(
        "   done: {} entry in the ledger",
        ledger.lock_blocking().len()
    );
}

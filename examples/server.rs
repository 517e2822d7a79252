//! A TCP echo server that caps concurrent connections with a `unisync::Semaphore`, keeps
//! shared statistics in a `unisync::Mutex`, and shuts down gracefully with a
//! `unisync::ShutdownSignal`: one child signal per connection, one process-wide trigger, and a
//! drain with a deadline.
//!
//! The program starts the server on an ephemeral port of 127.0.0.1 and runs its own clients
//! against it (async tasks and plain threads). Two clients stay idle on purpose. The first is
//! closed alone, by triggering its connection's child signal (as an admin "kick" would); the
//! other connections, the second idle one included, carry on. Then the process-wide signal
//! fires: the accept loop stops, the second idle connection is closed, and the server drains
//! (waits until every connection task has finished, within a deadline) before it prints what
//! happened and checks it:
//!
//! ```text
//! cargo run --example server
//! ```

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use unisync::{Mutex, OwnedSemaphorePermit, Semaphore, ShutdownSignal};

/// At most this many connections are served at once; later ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 4;
/// Clients that run as async tasks on the runtime.
const TASK_CLIENTS: usize = 32;
/// Clients that run on plain OS threads with `std::net` and the blocking API.
const THREAD_CLIENTS: usize = 2;
/// Messages each client sends over its connection.
const MESSAGES: usize = 5;
/// How long the server gives its connections to finish once shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(5);
/// The whole run must finish within this time, or the program fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Shared by the server's connection tasks and by every client, task or thread.
#[derive(Debug, Default)]
struct Stats {
    /// Connections the server accepted.
    accepted: usize,
    /// Connections being served right now.
    active: usize,
    /// The largest `active` ever seen.
    max_active: usize,
    /// Bytes the server wrote back.
    bytes_echoed: u64,
    /// Bytes the clients got back and checked against what they sent.
    bytes_verified: u64,
    /// Clients that ran on plain threads and finished.
    thread_clients_done: usize,
    /// Connections closed because their own child signal fired, while the server ran on.
    kicked: usize,
    /// Connections closed because the process-wide signal fired.
    closed_by_shutdown: usize,
}

/// The child signal of every open connection, by connection number: what an admin command
/// would use to close one connection.
type Registry = Arc<Mutex<HashMap<usize, ShutdownSignal>>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> io::Result<()> {
    let started = Instant::now();
    let report = tokio::time::timeout(RUN_LIMIT, run())
        .await
        .unwrap_or_else(|_| panic!("the run did not finish within {RUN_LIMIT:?}"))?;
    report.print_and_check(started.elapsed());
    Ok(())
}

struct Report {
    addr: SocketAddr,
    stats: Stats,
    bytes_sent: u64,
    permits_left: usize,
    /// Connection tasks still running when the process-wide signal fired.
    to_drain: usize,
    /// How long the drain took.
    drain_time: Duration,
}

/// Connects a client that is answered once and then stays idle until the server closes it.
/// Its echo proves the connection was accepted, so connection numbers follow connect order.
async fn idle_client(
    addr: SocketAddr,
    id: usize,
    stats: &Mutex<Stats>,
) -> io::Result<(TcpStream, u64)> {
    let mut idle = TcpStream::connect(addr).await?;
    let hello = message(id, 0);
    idle.write_all(&hello).await?;
    let mut back = vec![0; hello.len()];
    idle.read_exact(&mut back).await?;
    assert_eq!(back, hello, "idle client {id} got a wrong echo");
    stats.lock().await.bytes_verified += hello.len() as u64;
    Ok((idle, hello.len() as u64))
}

async fn run() -> io::Result<Report> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let shutdown = ShutdownSignal::new();
    let registry = Registry::default();

    let server = tokio::spawn(serve(
        listener,
        limit.clone(),
        stats.clone(),
        shutdown.clone(),
        registry.clone(),
    ));

    // Connections 0 and 1: the two idle clients.
    let first_id = TASK_CLIENTS + THREAD_CLIENTS;
    let (mut kicked, sent) = idle_client(addr, first_id, &stats).await?;
    let mut bytes_sent = sent;
    let (mut idle, sent) = idle_client(addr, first_id + 1, &stats).await?;
    bytes_sent += sent;

    // Clients on plain threads: blocking sockets and `lock_blocking` on the same mutex.
    let threads: Vec<_> = (0..THREAD_CLIENTS)
        .map(|id| {
            let stats = stats.clone();
            std::thread::spawn(move || thread_client(addr, TASK_CLIENTS + id, &stats))
        })
        .collect();

    // Clients as async tasks.
    let mut clients = tokio::task::JoinSet::new();
    for id in 0..TASK_CLIENTS {
        clients.spawn(task_client(addr, id, stats.clone()));
    }
    while let Some(sent) = clients.join_next().await {
        bytes_sent += sent.expect("client task panicked")?;
    }
    for thread in threads {
        // Joining parks a thread, so do it off the runtime's workers.
        let sent = tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("join task panicked")
            .expect("client thread panicked")?;
        bytes_sent += sent;
    }

    // Close connection 0 alone, through its own child signal.
    let conn = registry.lock().await.get(&0).cloned();
    conn.expect("connection 0 is open").trigger();
    assert_eq!(
        kicked.read(&mut [0; 1]).await?,
        0,
        "server sent extra bytes"
    );
    // Its sibling, connection 1, is still served.
    let (still_open, sent) = {
        let msg = message(first_id + 1, 1);
        idle.write_all(&msg).await?;
        let mut back = vec![0; msg.len()];
        idle.read_exact(&mut back).await?;
        (back == msg, msg.len() as u64)
    };
    assert!(still_open, "the kick closed another connection too");
    bytes_sent += sent;
    stats.lock().await.bytes_verified += sent;

    // Process-wide shutdown: one trigger reaches the accept loop and every connection.
    let to_drain = shutdown.tracked();
    let drain_started = Instant::now();
    shutdown.trigger();
    tokio::time::timeout(DRAIN_DEADLINE, shutdown.drained())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} connection tasks still running after {DRAIN_DEADLINE:?}",
                shutdown.tracked()
            )
        });
    let drain_time = drain_started.elapsed();
    // The server closed the idle connection: the client reads end-of-stream.
    assert_eq!(idle.read(&mut [0; 1]).await?, 0, "server sent extra bytes");
    server.await.expect("accept loop panicked")?;

    assert!(
        registry.lock().await.is_empty(),
        "a connection left its signal behind"
    );
    // The drain says every guard is gone; a task that dropped its guard may still hold its
    // clone of `stats` for a moment, so take the numbers through the lock.
    let stats = std::mem::take(&mut *stats.lock().await);
    Ok(Report {
        addr,
        stats,
        bytes_sent,
        permits_left: limit.available_permits(),
        to_drain,
        drain_time,
    })
}

/// Accepts connections until `shutdown` fires, at most `MAX_CONNECTIONS` served at once. Each
/// connection gets a child of `shutdown` and is tracked under it.
async fn serve(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    stats: Arc<Mutex<Stats>>,
    shutdown: ShutdownSignal,
    registry: Registry,
) -> io::Result<()> {
    for id in 0.. {
        // Take a permit before accepting, so that excess clients wait in the backlog. Dropping
        // the `acquire_owned` future when shutdown wins is fine: it is cancel-safe.
        let permit = tokio::select! {
            permit = limit.acquire_owned() => permit.expect("the semaphore is never closed"),
            () = shutdown.wait() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            () = shutdown.wait() => break,
        };
        stats.lock().await.accepted += 1;
        // Tracked from here, before the task runs: a drain that starts now waits for it.
        let conn = shutdown.child();
        let guard = conn.track();
        registry.lock().await.insert(id, conn);
        let (stats, registry, server) = (stats.clone(), registry.clone(), shutdown.clone());
        tokio::spawn(async move {
            let served = connection(stream, permit, &stats, guard.signal(), &server).await;
            // Dropping the connection's signal unregisters it from the server's.
            registry.lock().await.remove(&id);
            if let Err(err) = served {
                eprintln!("connection {id}: {err}");
            }
            // The drain counts this task until here: drop what it shares first.
            drop((stats, registry, server));
            drop(guard);
        });
    }
    Ok(())
}

/// Serves one connection until the client closes it or the connection's signal `conn` fires
/// (alone, or with the `server`'s); `permit` is held for as long as it is open.
async fn connection(
    mut stream: TcpStream,
    permit: OwnedSemaphorePermit,
    stats: &Mutex<Stats>,
    conn: &ShutdownSignal,
    server: &ShutdownSignal,
) -> io::Result<()> {
    {
        let mut stats = stats.lock().await;
        stats.active += 1;
        stats.max_active = stats.max_active.max(stats.active);
    }
    let mut echoed = 0;
    // The count lives outside the echo future, so bytes echoed before shutdown are not lost.
    let stopped = tokio::select! {
        done = echo(&mut stream, &mut echoed) => done.map(|()| false),
        () = conn.wait() => Ok(true),
    };
    {
        let mut stats = stats.lock().await;
        stats.active -= 1;
        stats.bytes_echoed += echoed;
        if let Ok(true) = stopped {
            // The server's signal fires its children; a kicked connection's fires alone.
            if server.is_triggered() {
                stats.closed_by_shutdown += 1;
            } else {
                stats.kicked += 1;
            }
        }
    }
    // Only now may another connection be accepted.
    drop(permit);
    stopped.map(drop)
}

/// Writes back everything it reads until the client closes its side, counting the bytes.
async fn echo(stream: &mut TcpStream, echoed: &mut u64) -> io::Result<()> {
    let mut buf = [0; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
        *echoed += n as u64;
    }
}

/// What client `id` sends as message `i`: distinct per client and message, of varying length.
fn message(id: usize, i: usize) -> Vec<u8> {
    let mut msg = format!("client {id:02} message {i}:").into_bytes();
    msg.extend((0..(id * 7 + i * 13) % 200).map(|k| b'a' + (k % 26) as u8));
    msg
}

/// Sends `MESSAGES` messages, checks each echo byte for byte, returns the bytes sent.
async fn task_client(addr: SocketAddr, id: usize, stats: Arc<Mutex<Stats>>) -> io::Result<u64> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut sent = 0;
    for i in 0..MESSAGES {
        let msg = message(id, i);
        stream.write_all(&msg).await?;
        let mut back = vec![0; msg.len()];
        stream.read_exact(&mut back).await?;
        assert_eq!(back, msg, "client {id} got a wrong echo");
        sent += msg.len() as u64;
        // Keep the connection open a moment so that connections overlap.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stream.shutdown().await?;
    assert_eq!(
        stream.read(&mut [0; 1]).await?,
        0,
        "server sent extra bytes"
    );
    stats.lock().await.bytes_verified += sent;
    Ok(sent)
}

/// The same client on a plain thread, with `std::net` and `Mutex::lock_blocking`.
fn thread_client(addr: SocketAddr, id: usize, stats: &Mutex<Stats>) -> io::Result<u64> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    // A lost echo fails the run instead of hanging it.
    stream.set_read_timeout(Some(RUN_LIMIT))?;
    let mut sent = 0;
    for i in 0..MESSAGES {
        let msg = message(id, i);
        stream.write_all(&msg)?;
        let mut back = vec![0; msg.len()];
        stream.read_exact(&mut back)?;
        assert_eq!(back, msg, "client {id} got a wrong echo");
        sent += msg.len() as u64;
    }
    stream.shutdown(std::net::Shutdown::Write)?;
    assert_eq!(stream.read(&mut [0; 1])?, 0, "server sent extra bytes");
    // The same mutex the async tasks lock, locked from a thread.
    let mut stats = stats.lock_blocking();
    stats.bytes_verified += sent;
    stats.thread_clients_done += 1;
    Ok(sent)
}

impl Report {
    fn print_and_check(&self, elapsed: Duration) {
        let s = &self.stats;
        println!("echo server on {}", self.addr);
        println!(
            "clients:            {} ({TASK_CLIENTS} tasks and {THREAD_CLIENTS} threads with {MESSAGES} messages each, 2 idle)",
            TASK_CLIENTS + THREAD_CLIENTS + 2
        );
        println!("connections:        {} accepted", s.accepted);
        println!(
            "served at once:     at most {} (cap {MAX_CONNECTIONS})",
            s.max_active
        );
        println!(
            "bytes echoed:       {} (clients sent {}, verified {})",
            s.bytes_echoed, self.bytes_sent, s.bytes_verified
        );
        println!(
            "closed alone:       {} (its own child signal; the others ran on)",
            s.kicked
        );
        println!(
            "shutdown:           drained {} connection task(s) in {:.2?} (deadline {DRAIN_DEADLINE:?}), {} closed by the signal",
            self.to_drain, self.drain_time, s.closed_by_shutdown
        );
        println!("elapsed:            {elapsed:.2?}");

        assert_eq!(s.accepted, TASK_CLIENTS + THREAD_CLIENTS + 2);
        assert_eq!(s.thread_clients_done, THREAD_CLIENTS);
        assert!(s.max_active >= 1 && s.max_active <= MAX_CONNECTIONS);
        assert_eq!(s.active, 0);
        assert_eq!(s.bytes_echoed, self.bytes_sent);
        assert_eq!(s.bytes_verified, self.bytes_sent);
        assert_eq!(self.permits_left, MAX_CONNECTIONS);
        // One connection was kicked alone; the other idle one was open until shutdown.
        assert_eq!(s.kicked, 1);
        assert_eq!(s.closed_by_shutdown, 1);
        assert!(self.to_drain >= 1);
        println!(
            "ok: every echo matched, never more than {MAX_CONNECTIONS} connections at once, \
             one connection closed alone, every connection task drained after shutdown"
        );
    }
}

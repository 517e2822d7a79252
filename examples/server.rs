//! A TCP echo server that caps concurrent connections with a `unisync::Semaphore`, keeps
//! shared statistics in a `unisync::Mutex` and shuts down gracefully on a `unisync::Event`.
//!
//! The program starts the server on an ephemeral port of 127.0.0.1, runs its own clients
//! against it (async tasks and plain threads), then sets the shutdown event: the accept loop
//! stops, every open connection (one client is left idle on purpose) is closed, and the server
//! waits for all its connection tasks before it prints what happened and checks it:
//!
//! ```text
//! cargo run --example server
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use unisync::{Event, Mutex, OwnedSemaphorePermit, Semaphore};

/// At most this many connections are served at once; later ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 4;
/// Clients that run as async tasks on the runtime.
const TASK_CLIENTS: usize = 32;
/// Clients that run on plain OS threads with `std::net` and the blocking API.
const THREAD_CLIENTS: usize = 2;
/// Messages each client sends over its connection.
const MESSAGES: usize = 5;
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
    /// Connections that were still open when shutdown began, closed by the server.
    closed_by_shutdown: usize,
}

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
    /// Connection tasks the server joined after shutdown.
    connections_finished: usize,
}

async fn run() -> io::Result<Report> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let shutdown = Arc::new(Event::new());

    let server = tokio::spawn(serve(
        listener,
        limit.clone(),
        stats.clone(),
        shutdown.clone(),
    ));

    // One client that is answered once and then stays idle until the server closes it. Its
    // echo proves the connection was accepted before the other clients start.
    let mut idle = TcpStream::connect(addr).await?;
    let hello = message(TASK_CLIENTS + THREAD_CLIENTS, 0);
    idle.write_all(&hello).await?;
    let mut back = vec![0; hello.len()];
    idle.read_exact(&mut back).await?;
    assert_eq!(back, hello, "the idle client got a wrong echo");
    let mut bytes_sent = hello.len() as u64;
    stats.lock().await.bytes_verified += bytes_sent;

    // Clients on plain threads: blocking sockets and `lock_blocking` on the same mutex.
    let threads: Vec<_> = (0..THREAD_CLIENTS)
        .map(|id| {
            let stats = stats.clone();
            std::thread::spawn(move || thread_client(addr, TASK_CLIENTS + id, &stats))
        })
        .collect();

    // Clients as async tasks.
    let mut clients = JoinSet::new();
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

    // Every client but the idle one has been answered: one `set` stops the accept loop and
    // every connection task, and wakes them all at once.
    shutdown.set();
    // The server closes the idle connection: the client reads end-of-stream.
    assert_eq!(idle.read(&mut [0; 1]).await?, 0, "server sent extra bytes");
    let connections_finished = server.await.expect("accept loop panicked")?;

    let stats = Arc::try_unwrap(stats)
        .expect("every connection task has finished")
        .into_inner();
    Ok(Report {
        addr,
        stats,
        bytes_sent,
        permits_left: limit.available_permits(),
        connections_finished,
    })
}

/// Accepts connections until `shutdown` is set, at most `MAX_CONNECTIONS` served at once, then
/// waits for every connection task; returns how many there were.
async fn serve(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    stats: Arc<Mutex<Stats>>,
    shutdown: Arc<Event>,
) -> io::Result<usize> {
    let mut connections = JoinSet::new();
    loop {
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
        connections.spawn(connection(stream, permit, stats.clone(), shutdown.clone()));
    }
    // The event stays set, so a connection task that has not polled its wait yet still sees it.
    let mut finished = 0;
    while let Some(served) = connections.join_next().await {
        served.expect("connection task panicked")?;
        finished += 1;
    }
    Ok(finished)
}

/// Serves one connection until the client closes it or `shutdown` is set; `permit` is held for
/// as long as it is open.
async fn connection(
    mut stream: TcpStream,
    permit: OwnedSemaphorePermit,
    stats: Arc<Mutex<Stats>>,
    shutdown: Arc<Event>,
) -> io::Result<()> {
    {
        let mut stats = stats.lock().await;
        stats.active += 1;
        stats.max_active = stats.max_active.max(stats.active);
    }
    let mut echoed = 0;
    // The count lives outside the echo future, so bytes echoed before shutdown are not lost.
    let served = tokio::select! {
        done = echo(&mut stream, &mut echoed) => done.map(|()| false),
        () = shutdown.wait() => Ok(true),
    };
    {
        let mut stats = stats.lock().await;
        stats.active -= 1;
        stats.bytes_echoed += echoed;
        stats.closed_by_shutdown += usize::from(*served.as_ref().unwrap_or(&false));
    }
    // Only now may another connection be accepted.
    drop(permit);
    served.map(drop)
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
            "clients:            {} ({TASK_CLIENTS} tasks and {THREAD_CLIENTS} threads with {MESSAGES} messages each, 1 idle)",
            TASK_CLIENTS + THREAD_CLIENTS + 1
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
            "shutdown:           {} connection tasks joined, {} closed by the event",
            self.connections_finished, s.closed_by_shutdown
        );
        println!("elapsed:            {elapsed:.2?}");

        assert_eq!(s.accepted, TASK_CLIENTS + THREAD_CLIENTS + 1);
        assert_eq!(s.thread_clients_done, THREAD_CLIENTS);
        assert!(s.max_active >= 1 && s.max_active <= MAX_CONNECTIONS);
        assert_eq!(s.active, 0);
        assert_eq!(s.bytes_echoed, self.bytes_sent);
        assert_eq!(s.bytes_verified, self.bytes_sent);
        assert_eq!(self.permits_left, MAX_CONNECTIONS);
        // Every connection task finished after shutdown; only the idle one needed the event.
        assert_eq!(self.connections_finished, s.accepted);
        assert_eq!(s.closed_by_shutdown, 1);
        println!(
            "ok: every echo matched, never more than {MAX_CONNECTIONS} connections at once, \
             every connection task finished after shutdown"
        );
    }
}

//! Z (issue 4): idle authenticated WebSockets with heartbeats, and what
//! they cost the server in resident memory.
//!
//! The server runs in a child process (`qiye-bench idle-serve`) so that its
//! `VmRSS` is the server's alone; this process opens the connections, each
//! with a member's session token, past the server's `hello`, spread over
//! several loopback source addresses (the gateway admits at most 20,000
//! connections per IP, and one source address has about 28,000 ephemeral
//! ports). Every connection then stays open and answers the server's
//! heartbeat pings (tungstenite answers a ping with a pong on the next
//! read); the run waits until every connection has seen a ping, so the
//! memory is read after a whole heartbeat round, and counts any
//! connection the server closed.
//!
//! The number of connections one run can hold is bounded by the process's
//! open-file limit (`RLIMIT_NOFILE`), on both sides: see [`fd_budget`].

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::memory::ProcessMemory;
use crate::messaging::client_config;

/// Loopback source addresses the connections are spread over.
pub const SOURCE_ADDRESSES: u8 = 8;
/// Connections being opened at once.
const OPENING_AT_ONCE: usize = 256;

/// The connections one process can hold open: its open-file limit less a
/// margin for the database, the listener and the runtime.
pub fn fd_budget() -> anyhow::Result<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits")
        .context("cannot read /proc/self/limits (Linux only)")?;
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .context("no 'Max open files' line in /proc/self/limits")?;
    let soft: usize = if soft == "unlimited" {
        usize::MAX
    } else {
        soft.parse()?
    };
    Ok(soft.saturating_sub(500))
}

/// What holding idle connections cost the server.
#[derive(Debug, Clone)]
pub struct IdleRun {
    /// Connections opened (each past `hello`).
    pub connections: usize,
    /// Distinct members they belong to.
    pub members: usize,
    /// Time to open them all.
    pub opening: Duration,
    /// The server before any connection.
    pub before: ProcessMemory,
    /// The server holding them, right after the last opened.
    pub connected: ProcessMemory,
    /// The server holding them after every one has seen a heartbeat.
    pub after_heartbeat: ProcessMemory,
    /// How long until every connection had seen a heartbeat ping.
    pub heartbeat_round: Duration,
    /// Connections the server closed during the run.
    pub closed: usize,
}

impl IdleRun {
    /// Resident memory the connections added, per connection, in KiB.
    pub fn kib_per_connection(&self) -> f64 {
        let added = self
            .after_heartbeat
            .rss_kib
            .saturating_sub(self.before.rss_kib);
        added as f64 / self.connections.max(1) as f64
    }

    /// The server's resident memory extrapolated to `connections` idle
    /// connections, in MiB: the base plus the measured cost per connection.
    pub fn projected_mib(&self, connections: usize) -> f64 {
        (self.before.rss_kib as f64 + self.kib_per_connection() * connections as f64) / 1024.0
    }
}

/// Counters the connections share.
#[derive(Default)]
struct Tally {
    saw_heartbeat: AtomicUsize,
    closed: AtomicUsize,
}

/// Opens `tokens.len() * per_member` connections to the server at `addr`
/// (process `server_pid`), holds them through a heartbeat round (waiting at
/// most `heartbeat_wait`) and reads the server's memory along the way.
pub async fn hold_idle(
    addr: SocketAddr,
    server_pid: u32,
    tokens: &[String],
    per_member: usize,
    heartbeat_wait: Duration,
) -> anyhow::Result<IdleRun> {
    let before = ProcessMemory::of(server_pid)?;
    let tally = Arc::new(Tally::default());
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let started = Instant::now();
    let mut openers = Vec::with_capacity(tokens.len() * per_member);
    for (i, token) in (0..per_member).flat_map(|_| tokens.iter()).enumerate() {
        let permit = Arc::clone(&opening).acquire_owned().await?;
        let source = Ipv4Addr::new(127, 0, 0, 1 + (i % usize::from(SOURCE_ADDRESSES)) as u8);
        let url = format!("ws://{addr}/api/v1/ws?token={token}");
        openers.push(tokio::spawn(async move {
            let socket = open(addr, source, &url).await;
            drop(permit);
            socket
        }));
    }
    let mut sockets = Vec::with_capacity(openers.len());
    for opener in openers {
        sockets.push(opener.await??);
    }
    let opening = started.elapsed();
    let connections = sockets.len();
    let connected = ProcessMemory::of(server_pid)?;

    let holders: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(hold(socket, Arc::clone(&tally))))
        .collect();
    let waiting = Instant::now();
    while tally.saw_heartbeat.load(Ordering::Relaxed) + tally.closed.load(Ordering::Relaxed)
        < connections
    {
        anyhow::ensure!(
            waiting.elapsed() < heartbeat_wait,
            "only {} of {connections} connections saw a heartbeat within {heartbeat_wait:?}",
            tally.saw_heartbeat.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let heartbeat_round = waiting.elapsed();
    let after_heartbeat = ProcessMemory::of(server_pid)?;
    for holder in &holders {
        holder.abort();
    }
    Ok(IdleRun {
        connections,
        members: tokens.len(),
        opening,
        before,
        connected,
        after_heartbeat,
        heartbeat_round,
        closed: tally.closed.load(Ordering::Relaxed),
    })
}

/// A WebSocket from `source`, past the server's `hello`.
async fn open(
    addr: SocketAddr,
    source: Ipv4Addr,
    url: &str,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let tcp = tokio::net::TcpSocket::new_v4()?;
    tcp.bind(SocketAddr::new(source.into(), 0))
        .with_context(|| format!("cannot bind {source}"))?;
    let stream = tcp.connect(addr).await.context("connect")?;
    // Small buffers: a default 128 KiB read buffer per socket would dwarf
    // the server.
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(client_config()))
            .await
            .context("websocket handshake")?;
    let first = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .context("no hello within 30 s")?
        .context("closed before hello")??;
    anyhow::ensure!(
        matches!(&first, Message::Text(t) if t.contains("\"hello\"")),
        "expected hello, got {first:?}"
    );
    Ok(socket)
}

/// Reads until the socket ends; the first ping is counted.
async fn hold(mut socket: WebSocketStream<TcpStream>, tally: Arc<Tally>) {
    let mut counted = false;
    while let Some(frame) = socket.next().await {
        match frame {
            Ok(Message::Ping(_)) if !counted => {
                counted = true;
                tally.saw_heartbeat.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    tally.closed.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_file_budget() {
        assert!(fd_budget().unwrap() > 0);
    }

    #[test]
    fn cost_per_connection_is_what_the_connections_added() {
        let memory = |rss_kib| ProcessMemory {
            rss_kib,
            peak_rss_kib: rss_kib,
        };
        let run = IdleRun {
            connections: 1000,
            members: 100,
            opening: Duration::ZERO,
            before: memory(100 * 1024),
            connected: memory(110 * 1024),
            after_heartbeat: memory(120 * 1024),
            heartbeat_round: Duration::ZERO,
            closed: 0,
        };
        assert!((run.kib_per_connection() - 20.48).abs() < 1e-9);
        assert!((run.projected_mib(100_000) - 2100.0).abs() < 1e-6);
    }
}

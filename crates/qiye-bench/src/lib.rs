//! Load generation against a real qiye server on loopback.
//!
//! [`BenchServer::start`] runs the server in-process on a fresh SQLite file
//! with one corp and one app; [`drive`] sends a fixed number of keep-alive
//! HTTP/1.1 requests over a fixed number of connections and reports the
//! throughput and each request's latency. Every loop is bounded by its
//! request count. [`directory`] holds the directory benchmarks (bulk import,
//! `user/simplelist` over a large directory, memory), [`memory`] reads the
//! process's resident memory.

pub mod directory;
pub mod idle;
pub mod memory;
pub mod messaging;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use qiye_domain::audit::Actor;
use qiye_domain::plan::Plan;
use qiye_server::Config;
use qiye_server::serve::LocalServer;
use tokio::net::TcpStream;

/// A running server with an app token to call it with.
pub struct BenchServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `/cgi-bin/agent/get?...` with a valid token: the authenticated read.
    pub auth_read_path: String,
    /// The bare static route.
    pub bare_path: &'static str,
    _server: LocalServer,
    _data: tempfile::TempDir,
}

impl BenchServer {
    /// Starts a server on a fresh SQLite file, with the default configuration
    /// except rate limits raised out of the way (the benchmark measures the
    /// request path, not the limiter's refusals).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with_cache(Config::default().token_cache_ms).await
    }

    /// Like [`BenchServer::start`] with a given `token_cache_ms` (0: every
    /// request reads the database).
    pub async fn start_with_cache(token_cache_ms: u64) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        let config = Config {
            token_cache_ms,
            ..bench_config(data.path())
        };
        let store = qiye_server::open_store(&config).await?;
        let services = qiye_server::services(&config, store)?;
        let corp = services
            .create_corp("Bench", Plan::Flagship, Actor::System)
            .await?;
        let (app, secret) = services
            .create_app(&corp.corp.id, "Bench", true, Actor::System)
            .await?;
        let token = services
            .get_token(
                Some(corp.corp.id.as_str()),
                Some(secret.expose()),
                "127.0.0.1".parse()?,
            )
            .await?;
        let server = LocalServer::spawn(services).await?;
        Ok(Self {
            addr: server.addr,
            auth_read_path: format!(
                "/cgi-bin/agent/get?access_token={}&agentid={}",
                token.token.as_str(),
                app.agentid
            ),
            bare_path: "/healthz",
            _server: server,
            _data: data,
        })
    }
}

/// The benchmarks' server configuration: SQLite in `data_dir` (unless a
/// `database_url` is set over it), defaults otherwise, except rate limits
/// raised out of the way (the benchmarks measure the request path, not the
/// limiter's refusals).
pub fn bench_config(data_dir: &Path) -> Config {
    Config {
        data_dir: data_dir.to_path_buf(),
        rate_corp_per_minute: u32::MAX / 60,
        rate_corp_per_hour: u32::MAX,
        rate_app_per_minute: u32::MAX / 60,
        rate_app_per_hour: u32::MAX,
        rate_ip_per_minute: u32::MAX / 60,
        rate_ip_per_hour: u32::MAX,
        ..Config::default()
    }
}

/// The outcome of one load run.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Requests completed.
    pub requests: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Each request's time from sending to its whole body received, sorted
    /// ascending.
    pub latencies: Vec<Duration>,
}

impl LoadResult {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `percent` (nearest rank: the smallest latency that at
    /// least `percent`% of the requests did not exceed); zero for no requests.
    pub fn percentile(&self, percent: f64) -> Duration {
        let n = self.latencies.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }
}

/// Sends one GET on an open connection and returns the whole body, refusing
/// a non-2xx status or a WeCom error envelope (the benchmark must not
/// measure an error path). Like the usual HTTP clients (Python's
/// `requests`, which wechatpy uses), it accepts gzip; a gzipped body is
/// returned as received (see [`decoded`]).
pub async fn get_ok(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
) -> anyhow::Result<Bytes> {
    get_ok_as(sender, path, None).await
}

/// [`get_ok`] with an `Authorization: Bearer` token (the native API).
pub async fn get_ok_as(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
    bearer: Option<&str>,
) -> anyhow::Result<Bytes> {
    let mut request = Request::get(path)
        .header("host", "127.0.0.1")
        .header("accept-encoding", "gzip, deflate");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request.body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "status {}",
        response.status()
    );
    let gzipped = response
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = response.into_body().collect().await?.to_bytes();
    // Only whole listings are gzipped, and only successful ones.
    anyhow::ensure!(
        gzipped || !body.starts_with(b"{\"errcode\":") || body.starts_with(b"{\"errcode\":0"),
        "error reply: {}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
    Ok(body)
}

/// A body as a client reads it: gunzipped if it was gzipped.
pub fn decoded(body: &[u8]) -> anyhow::Result<Vec<u8>> {
    if body.starts_with(&[0x1f, 0x8b]) {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body).read_to_end(&mut out)?;
        Ok(out)
    } else {
        Ok(body.to_vec())
    }
}

/// Opens a keep-alive HTTP/1.1 connection to `addr`.
pub async fn connect(
    addr: SocketAddr,
) -> anyhow::Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn connection_loop(
    addr: SocketAddr,
    path: String,
    bearer: Option<String>,
    requests: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut sender = connect(addr).await?;
    let mut latencies = Vec::with_capacity(usize::try_from(requests).unwrap_or(0));
    for _ in 0..requests {
        let sent = Instant::now();
        get_ok_as(&mut sender, &path, bearer.as_deref()).await?;
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}

/// Sends `total` GET requests for `path` over `connections` keep-alive
/// connections, each sending its share one after another.
pub async fn drive(
    addr: SocketAddr,
    path: &str,
    connections: u64,
    total: u64,
) -> anyhow::Result<LoadResult> {
    drive_as(addr, path, None, connections, total).await
}

/// [`drive`] with an `Authorization: Bearer` token on every request.
pub async fn drive_as(
    addr: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    connections: u64,
    total: u64,
) -> anyhow::Result<LoadResult> {
    let per_connection = total / connections;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::spawn(connection_loop(
                addr,
                path.to_owned(),
                bearer.map(str::to_owned),
                per_connection,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("load task")??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(LoadResult {
        requests: latencies.len() as u64,
        elapsed,
        latencies,
    })
}

//! Load generation against a real qiye server on loopback.
//!
//! [`BenchServer::start`] runs the server in-process on a fresh SQLite file
//! with one corp and one app; [`drive`] sends a fixed number of keep-alive
//! HTTP/1.1 requests over a fixed number of connections and reports the
//! throughput. Every loop is bounded by its request count.

use std::net::SocketAddr;
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
            data_dir: data.path().to_path_buf(),
            rate_corp_per_minute: u32::MAX / 60,
            rate_corp_per_hour: u32::MAX,
            rate_app_per_minute: u32::MAX / 60,
            rate_app_per_hour: u32::MAX,
            rate_ip_per_minute: u32::MAX / 60,
            rate_ip_per_hour: u32::MAX,
            token_cache_ms,
            ..Config::default()
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

/// The outcome of one load run.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    /// Requests completed.
    pub requests: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

async fn connection_loop(addr: SocketAddr, path: String, requests: u64) -> anyhow::Result<u64> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut ok = 0;
    for _ in 0..requests {
        let request = Request::get(path.as_str())
            .header("host", "127.0.0.1")
            .body(Empty::<Bytes>::new())?;
        let response = sender.send_request(request).await?;
        anyhow::ensure!(
            response.status().is_success(),
            "status {}",
            response.status()
        );
        let body = response.into_body().collect().await?.to_bytes();
        // An errcode other than 0 would mean the benchmark measures an error path.
        anyhow::ensure!(
            !body.starts_with(b"{\"errcode\":") || body.starts_with(b"{\"errcode\":0"),
            "error reply"
        );
        ok += 1;
    }
    Ok(ok)
}

/// Sends `total` GET requests for `path` over `connections` keep-alive
/// connections, each sending its share one after another.
pub async fn drive(
    addr: SocketAddr,
    path: &str,
    connections: u64,
    total: u64,
) -> anyhow::Result<LoadResult> {
    let per_connection = total / connections;
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection_loop(addr, path.to_owned(), per_connection)))
        .collect();
    let mut requests = 0;
    for task in tasks {
        requests += task.await.context("load task")??;
    }
    Ok(LoadResult {
        requests,
        elapsed: started.elapsed(),
    })
}

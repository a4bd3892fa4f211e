//! A real `qiye serve` process for the suites that kill and restart it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `qiye serve` child process, killed with SIGKILL when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub first_start: Vec<String>,
}

impl Server {
    pub fn start(data_dir: &Path, port: u16) -> Self {
        Self::start_with(data_dir, port, &[])
    }

    /// Starts with extra arguments after `serve` (e.g. `--database-url`).
    pub fn start_with(data_dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qiye"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--no-metrics",
            ])
            .args(extra)
            .env("QIYE_DATA_DIR", data_dir)
            .env_remove("QIYE_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .current_dir(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn qiye serve");
        // Read stdout until the server says it is serving.
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout).lines();
        for line in reader.by_ref() {
            let line = line.expect("line");
            let serving = line.starts_with("qiye: serving");
            lines.push(line);
            if serving {
                break;
            }
        }
        // Keep draining stdout so the server never writes into a closed pipe.
        std::thread::spawn(move || reader.for_each(drop));
        let base = format!("http://127.0.0.1:{port}");
        // The listener is bound before "serving" is printed; wait until it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not come up: {lines:?}"
            );
            std::thread::yield_now();
        }
        Self {
            child,
            base,
            first_start: lines,
        }
    }

    pub fn value_after(&self, label: &str) -> String {
        self.first_start
            .iter()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(label)
                    .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
            })
            .unwrap_or_else(|| panic!("no '{label}' in {:?}", self.first_start))
    }

    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON reply.
pub async fn json_reply(r: reqwest::RequestBuilder) -> serde_json::Value {
    r.send().await.expect("request").json().await.expect("JSON")
}

/// Signs a member in on `base` with a one-time password, changes it to
/// `new_password`, answers the session token.
pub async fn member_session(
    client: &reqwest::Client,
    base: &str,
    corpid: &str,
    (userid, one_time): (&str, &str),
    new_password: &str,
) -> String {
    let signed = json_reply(client.post(format!("{base}/api/v1/session")).json(
        &serde_json::json!({
            "corpid": corpid, "login": userid, "password": one_time
        }),
    ))
    .await;
    let token = signed["token"].as_str().expect("token").to_owned();
    let changed = client
        .post(format!("{base}/api/v1/me/password"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"old": one_time, "new": new_password}))
        .send()
        .await
        .expect("change password");
    assert_eq!(changed.status(), 204);
    token
}

/// A WebSocket client.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A member's WebSocket on `base` (`http://...`).
pub async fn listen(base: &str, token: &str) -> Socket {
    let url = format!("{}/api/v1/ws?token={token}", base.replacen("http", "ws", 1));
    tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket")
        .0
}

/// Creates members (in the root department) through `user/create` with
/// the contacts secret printed at first start.
pub async fn create_members(
    client: &reqwest::Client,
    base: &str,
    (corpid, secret): (&str, &str),
    userids: &[&str],
) {
    let token = json_reply(client.get(format!(
        "{base}/cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}"
    )))
    .await["access_token"]
        .as_str()
        .expect("contacts token")
        .to_owned();
    for userid in userids {
        let made = json_reply(
            client
                .post(format!("{base}/cgi-bin/user/create?access_token={token}"))
                .json(&serde_json::json!({"userid": userid, "name": userid, "department": [1]})),
        )
        .await;
        assert_eq!(made["errcode"], 0, "{made}");
    }
}

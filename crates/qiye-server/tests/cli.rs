//! The `qiye` binary as an operator uses it: bootstrap commands with JSON
//! output, the audit trail of CLI mutations, first start, and a token that
//! survives `kill -9` and restart.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn qiye(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qiye"))
        .args(args)
        .env("QIYE_DATA_DIR", data_dir)
        .env_remove("QIYE_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .output()
        .expect("run qiye")
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "qiye failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON value on stdout")
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON reply")
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn bootstrap_commands_print_json_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let corp = json_of(&qiye(
        dir.path(),
        &[
            "corp",
            "create",
            "--name",
            "Acme 公司",
            "--plan",
            "professional",
            "--json",
        ],
    ));
    let corpid = corp["corpid"].as_str().unwrap();
    assert!(qiye_domain::ids::CorpId::parse(corpid).is_ok());
    assert_eq!(corp["plan"], "professional");
    assert_eq!(corp["admin_userid"], "admin");
    assert_eq!(corp["contact_secret"].as_str().unwrap().len(), 43);
    assert_eq!(corp["admin_password"].as_str().unwrap().len(), 16);

    let app = json_of(&qiye(
        dir.path(),
        &[
            "app",
            "create",
            "--corpid",
            corpid,
            "--name",
            "OA",
            "--all-visible",
            "--json",
        ],
    ));
    assert_eq!(app["agentid"], 1_000_002);
    assert_eq!(app["all_visible"], true);
    assert!(app["secret"].as_str().unwrap().len() >= 32);
    let apps = json_of(&qiye(
        dir.path(),
        &["app", "list", "--corpid", corpid, "--json"],
    ));
    assert_eq!(apps[0]["name"], "OA");
    let corps = json_of(&qiye(dir.path(), &["corp", "list", "--json"]));
    assert_eq!(corps.as_array().unwrap().len(), 1);
    assert_eq!(corps[0]["name"], "Acme 公司");

    let plan = qiye(
        dir.path(),
        &[
            "corp", "set-plan", "--corpid", corpid, "--plan", "basic", "--json",
        ],
    );
    assert_eq!(json_of(&plan)["plan"], "basic");
    let limits = json_of(&qiye(
        dir.path(),
        &[
            "corp",
            "set-limits",
            "--corpid",
            corpid,
            "--corp-per-minute",
            "50000",
            "--corp-per-hour",
            "900000",
            "--json",
        ],
    ));
    assert_eq!(limits["rate_limits"]["corp_per_api"]["per_minute"], 50000);
    let rotated = json_of(&qiye(
        dir.path(),
        &[
            "app",
            "rotate-secret",
            "--corpid",
            corpid,
            "--agentid",
            "1000002",
            "--json",
        ],
    ));
    assert_ne!(rotated["secret"], app["secret"]);

    let tail = qiye(dir.path(), &["audit", "tail", "--corpid", corpid, "--json"]);
    assert!(tail.status.success());
    let records: Vec<Value> = String::from_utf8(tail.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "corp.create",
            "app.create",
            "corp.set_plan",
            "corp.set_limits",
            "secret.rotate"
        ]
    );
    assert!(
        records
            .iter()
            .all(|r| r["actor"].as_str().unwrap().starts_with("cli:") && r["result"] == "ok")
    );
    assert_eq!(records[1]["target"], "agent:1000002");
}

#[test]
fn operator_mistakes_fail_clearly_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let corp = json_of(&qiye(
        dir.path(),
        &["corp", "create", "--name", "Acme", "--json"],
    ));
    let corpid = corp["corpid"].as_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "app",
                "create",
                "--corpid",
                "ww0000000000000000",
                "--name",
                "OA",
            ],
            "corp not found",
        ),
        (
            &["app", "create", "--corpid", "nonsense", "--name", "OA"],
            "invalid --corpid",
        ),
        (
            &["app", "create", "--corpid", corpid, "--name", ""],
            "app name",
        ),
        (
            &["corp", "create", "--name", "X", "--plan", "gold"],
            "unknown plan",
        ),
        (
            &[
                "corp",
                "set-limits",
                "--corpid",
                corpid,
                "--corp-per-minute",
                "10",
                "--corp-per-hour",
                "5",
            ],
            "per-hour",
        ),
        (
            &[
                "app",
                "rotate-secret",
                "--corpid",
                corpid,
                "--agentid",
                "1000009",
            ],
            "invalid agentid",
        ),
    ];
    for (args, message) in cases {
        let out = qiye(dir.path(), args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let apps = json_of(&qiye(
        dir.path(),
        &["app", "list", "--corpid", corpid, "--json"],
    ));
    assert_eq!(apps, serde_json::json!([]));
    let corps = json_of(&qiye(dir.path(), &["corp", "list", "--json"]));
    assert_eq!(corps.as_array().unwrap().len(), 1);
}

#[test]
fn data_dir_may_contain_url_characters() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("we#ird?dir 100%");
    let out = qiye(
        dir.path(),
        &[
            "--data-dir",
            odd.to_str().unwrap(),
            "corp",
            "create",
            "--name",
            "Odd",
            "--json",
        ],
    );
    json_of(&out);
    assert!(
        odd.join("qiye.db").exists(),
        "the database is where the data dir says"
    );
}

#[test]
fn config_example_prints_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = qiye(dir.path(), &["config", "example"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: qiye_server::Config = toml::from_str(&text).unwrap();
    assert_eq!(parsed, qiye_server::Config::default());
    for field in qiye_server::config::FIELDS {
        assert!(
            text.contains(&format!("\n{} = ", field.key)),
            "{}",
            field.key
        );
    }
}

#[test]
fn errcode_reference_is_fresh() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/ERRCODES.md"
    ))
    .unwrap();
    assert_eq!(
        doc,
        qiye_wecom::ErrCode::markdown_table(),
        "docs/ERRCODES.md is stale: cargo run -p qiye-server -- errcodes > docs/ERRCODES.md"
    );
}

/// A `qiye serve` child process, killed with SIGKILL when dropped.
struct Server {
    child: Child,
    base: String,
    first_start: Vec<String>,
}

impl Server {
    fn start(data_dir: &Path, port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_qiye"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--no-metrics",
            ])
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

    fn value_after(&self, label: &str) -> String {
        self.first_start
            .iter()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(label)
                    .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
            })
            .unwrap_or_else(|| panic!("no '{label}' in {:?}", self.first_start))
    }

    fn kill9(mut self) {
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

#[tokio::test]
async fn first_start_prints_credentials_and_tokens_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(dir.path(), port);
    let corpid = server.value_after("corpid");
    let secret = server.value_after("contacts secret");
    assert_eq!(server.value_after("admin userid"), "admin");
    assert_eq!(server.value_after("admin password").len(), 16);
    assert!(
        server
            .first_start
            .iter()
            .any(|l| l.contains(&format!("web address      http://127.0.0.1:{port}/")))
    );
    let client = reqwest::Client::new();
    let url = format!(
        "{}/cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}",
        server.base
    );
    let first: Value = get_json(&client, &url).await;
    assert_eq!(first["errcode"], 0, "{first}");
    server.kill9();

    let restarted = Server::start(dir.path(), port);
    assert!(
        restarted
            .first_start
            .iter()
            .all(|l| !l.contains("contacts secret")),
        "credentials are printed only once: {:?}",
        restarted.first_start
    );
    // A new client: the old one's pooled connection died with the killed server.
    let client = reqwest::Client::new();
    let again: Value = get_json(&client, &url).await;
    assert_eq!(
        again["access_token"], first["access_token"],
        "the acknowledged token survived kill -9"
    );
    let token = first["access_token"].as_str().unwrap();
    let reply: Value = get_json(
        &client,
        &format!("{}/cgi-bin/agent/list?access_token={token}", restarted.base),
    )
    .await;
    assert_eq!(
        reply["errcode"], 48002,
        "the token is accepted (and a contacts token may not list apps): {reply}"
    );
}

#[tokio::test]
async fn cli_rotation_reaches_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let corp = json_of(&qiye(
        dir.path(),
        &["corp", "create", "--name", "Acme", "--json"],
    ));
    let corpid = corp["corpid"].as_str().unwrap().to_owned();
    let app = json_of(&qiye(
        dir.path(),
        &[
            "app", "create", "--corpid", &corpid, "--name", "OA", "--json",
        ],
    ));
    let server = Server::start(dir.path(), free_port());
    let client = reqwest::Client::new();
    let url = format!(
        "{}/cgi-bin/gettoken?corpid={corpid}&corpsecret={}",
        server.base,
        app["secret"].as_str().unwrap()
    );
    let token: Value = get_json(&client, &url).await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    let list = format!("{}/cgi-bin/agent/list?access_token={token}", server.base);
    let ok: Value = get_json(&client, &list).await;
    assert_eq!(ok["errcode"], 0);
    // Rotate from another process while the server runs on the same SQLite file.
    json_of(&qiye(
        dir.path(),
        &[
            "app",
            "rotate-secret",
            "--corpid",
            &corpid,
            "--agentid",
            "1000002",
            "--json",
        ],
    ));
    // The server remembers checked tokens for token_cache_ms (1 s by default); poll until it sees the rotation.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply: Value = get_json(&client, &list).await;
        if reply["errcode"] == 40014 {
            break;
        }
        assert_eq!(reply["errcode"], 0, "{reply}");
        assert!(
            Instant::now() < deadline,
            "rotation never reached the running server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let old: Value = get_json(&client, &url).await;
    assert_eq!(old["errcode"], 40001);
}

#[test]
fn cli_runs_on_postgres_with_one_flag() {
    let Some(server) = qiye_store::testing::pg_url_from_env() else {
        eprintln!("QIYE_TEST_PG_URL not set (and not CI): PostgreSQL variant not run");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime
        .block_on(qiye_store::testing::TestDatabase::create(&server))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let corp = json_of(&qiye(
        dir.path(),
        &[
            "--database-url",
            &db.url,
            "corp",
            "create",
            "--name",
            "PG corp",
            "--json",
        ],
    ));
    let corps = json_of(&qiye(
        dir.path(),
        &["--database-url", &db.url, "corp", "list", "--json"],
    ));
    assert_eq!(corps[0]["corpid"], corp["corpid"]);
    assert!(
        !dir.path().join("qiye.db").exists(),
        "nothing was written to SQLite"
    );
    drop(db);
}

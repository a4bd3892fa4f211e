//! The `qiye` binary as an operator uses it: bootstrap commands with JSON
//! output, the audit trail of CLI mutations, first start, a token that
//! survives `kill -9` and restart, administrators, directory import and
//! export, and callbacks set from the CLI and delivered by the server.

mod common;

use common::process::{Server, free_port};

use std::io::{BufRead, BufReader};
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Command, Output};
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

#[test]
fn openapi_prints_the_served_document_with_unique_operation_ids() {
    let dir = tempfile::tempdir().unwrap();
    let doc: Value = serde_json::from_str(&stdout_of(dir.path(), &["openapi"])).expect("JSON");
    assert_eq!(doc["info"]["title"], "qiye native API");
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                id.starts_with(&format!("{method}_")),
                "{method} {path}: {id}"
            );
            ids.push(id.to_owned());
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
    assert!(ids.contains(&"post_media".to_owned()), "{ids:?}");
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
    // The printed administrator login works against the native API.
    let signed_in: Value = client
        .post(format!("{}/api/v1/session", server.base))
        .json(&serde_json::json!({
            "corpid": corpid,
            "login": server.value_after("admin userid"),
            "password": server.value_after("admin password"),
        }))
        .send()
        .await
        .expect("sign in")
        .json()
        .await
        .expect("JSON reply");
    assert_eq!(signed_in["must_change_password"], true, "{signed_in}");
    // The banner says where to sign in, and that address serves the web app.
    let password = server.value_after("admin password");
    assert!(
        server.first_start.iter().any(|l| l.contains(&format!(
            "Open http://127.0.0.1:{port}/ in a browser and sign in to corp {corpid} as admin with the one-time password {password}"
        ))),
        "{:?}",
        server.first_start
    );
    let page = client
        .get(format!("{}/admin/members", server.base))
        .header("accept", "text/html")
        .send()
        .await
        .expect("web app");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<div id=\"app\">"));
    assert!(
        server
            .first_start
            .iter()
            .any(|l| l.contains("/api/v1/session")),
        "the sign-in is shown"
    );
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

// ---- administrators, directory files, callbacks ----------------------------

/// Runs qiye and returns its stdout, failing the test on a non-zero exit.
fn stdout_of(data_dir: &Path, args: &[&str]) -> String {
    let out = qiye(data_dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 stdout")
}

/// Runs qiye, expects it to fail, and returns its stderr.
fn failure_of(data_dir: &Path, args: &[&str]) -> String {
    let out = qiye(data_dir, args);
    assert!(
        !out.status.success(),
        "{args:?} should fail but printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Creates a professional-plan corp (export is not in the basic plan).
fn professional_corp(data_dir: &Path) -> String {
    let corp = json_of(&qiye(
        data_dir,
        &[
            "corp",
            "create",
            "--name",
            "Acme",
            "--plan",
            "professional",
            "--json",
        ],
    ));
    corp["corpid"].as_str().unwrap().to_owned()
}

/// The member file as CSV on stdout.
fn export_csv(data_dir: &Path, corpid: &str) -> Vec<u8> {
    let out = qiye(
        data_dir,
        &["directory", "export", "--corpid", corpid, "--out", "-"],
    );
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn audit_actions(data_dir: &Path, corpid: &str) -> Vec<Value> {
    stdout_of(
        data_dir,
        &["audit", "tail", "--corpid", corpid, "-n", "500", "--json"],
    )
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn admins_are_granted_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let corpid = professional_corp(dir.path());
    let d = dir.path();
    std::fs::write(
        d.join("depts.csv"),
        "部门名称,部门ID,父部门ID\nSales,2,1\nEast,3,2\n",
    )
    .unwrap();
    stdout_of(
        d,
        &[
            "directory",
            "import-departments",
            "depts.csv",
            "--corpid",
            &corpid,
        ],
    );
    std::fs::write(
        d.join("alice.csv"),
        "姓名,帐号,部门\nAlice,alice,Sales/East\n",
    )
    .unwrap();
    stdout_of(
        d,
        &["directory", "import", "alice.csv", "--corpid", &corpid],
    );

    let admins = |d: &Path| json_of(&qiye(d, &["admin", "list", "--corpid", &corpid, "--json"]));
    let role_of = |list: &Value, userid: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["userid"] == userid)
            .cloned()
    };
    assert_eq!(role_of(&admins(d), "alice"), None);

    let granted = json_of(&qiye(
        d,
        &[
            "admin", "grant", "--corpid", &corpid, "--userid", "alice", "--super", "--json",
        ],
    ));
    assert_eq!(granted["role"], "super");
    assert_eq!(role_of(&admins(d), "alice").unwrap()["role"], "super");

    // A new grant replaces the role.
    stdout_of(
        d,
        &[
            "admin",
            "grant",
            "--corpid",
            &corpid,
            "--userid",
            "alice",
            "--scope",
            "dept:3,dept:2",
        ],
    );
    let alice = role_of(&admins(d), "alice").unwrap();
    assert_eq!(alice["role"], "scoped");
    assert_eq!(alice["departments"], serde_json::json!([2, 3]));
    let text = stdout_of(d, &["admin", "list", "--corpid", &corpid]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("alice") && l.contains("scoped dept:2,dept:3")),
        "{text}"
    );

    stdout_of(
        d,
        &["admin", "revoke", "--corpid", &corpid, "--userid", "alice"],
    );
    assert_eq!(role_of(&admins(d), "alice"), None);

    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "admin", "grant", "--corpid", &corpid, "--userid", "nobody", "--super",
            ],
            "has no member with userid 'nobody'",
        ),
        (
            &[
                "admin", "grant", "--corpid", &corpid, "--userid", "alice", "--scope", "dept:99",
            ],
            "department 99 not found",
        ),
        (
            &[
                "admin", "grant", "--corpid", &corpid, "--userid", "alice", "--scope", "sales",
            ],
            "invalid --scope 'sales'",
        ),
        (
            &["admin", "revoke", "--corpid", &corpid, "--userid", "alice"],
            "alice is not an administrator",
        ),
        (
            &["admin", "grant", "--corpid", &corpid, "--userid", "alice"],
            "--super",
        ),
    ];
    for (args, message) in cases {
        let stderr = failure_of(d, args);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert_eq!(
        role_of(&admins(d), "alice"),
        None,
        "failures changed nothing"
    );

    let records = audit_actions(d, &corpid);
    let admin_records: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("admin."))
        .map(|r| (r["action"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        admin_records,
        [
            ("admin.grant", "ok"),
            ("admin.grant", "ok"),
            ("admin.revoke", "ok")
        ]
    );
    assert!(
        records
            .iter()
            .filter(|r| r["action"] == "admin.grant")
            .all(|r| r["actor"].as_str().unwrap().starts_with("cli:")
                && r["target"] == "member:alice")
    );
}

/// A member file of `n` rows (departments two levels deep, unique mobiles)
/// in which three rows are bad. Returns the file and the bad rows' lines.
fn member_file(n: usize) -> (String, [usize; 3]) {
    let mut csv = String::from("姓名,帐号,部门,手机,职务\n");
    // The header is line 1, so row `i` is on line `i + 2`.
    let (bad_mobile, duplicate, no_name) = (10, 500, 998);
    for i in 0..n {
        let userid = if i == duplicate {
            "user0001".to_owned()
        } else {
            format!("user{i:04}")
        };
        let name = if i == no_name {
            String::new()
        } else {
            format!("成员 {i}")
        };
        let mobile = if i == bad_mobile {
            "not-a-phone".to_owned()
        } else {
            format!("138{i:08}")
        };
        csv.push_str(&format!(
            "{name},{userid},Dept{}/Team{},{mobile},Engineer\n",
            i % 7,
            i % 3
        ));
    }
    (csv, [bad_mobile + 2, duplicate + 2, no_name + 2])
}

#[test]
fn directory_import_reports_bad_rows_and_round_trips_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpid = professional_corp(d);
    let (csv, bad_lines) = member_file(1000);
    std::fs::write(d.join("members.csv"), csv).unwrap();
    let empty = export_csv(d, &corpid);

    // A dry run reports what would happen and changes nothing.
    let dry = json_of(&qiye(
        d,
        &[
            "directory",
            "import",
            "members.csv",
            "--corpid",
            &corpid,
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(dry["committed"], false);
    assert_eq!(dry["created"], 997);
    assert_eq!(dry["failed"], 3);
    assert_eq!(export_csv(d, &corpid), empty, "a dry run changes nothing");

    let out = qiye(
        d,
        &[
            "directory",
            "import",
            "members.csv",
            "--corpid",
            &corpid,
            "--report",
            "report.csv",
        ],
    );
    assert!(
        out.status.success(),
        "bad rows do not fail the import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("997 created, 0 updated, 0 unchanged, 0 deleted, 3 failed"),
        "{text}"
    );
    assert!(text.contains("departments created: 28"), "{text}");
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("line "))
        .collect();
    assert_eq!(failed.len(), 3, "{text}");
    assert!(
        failed[0].contains(&format!(
            "line {} (user0010): invalid mobile [60103]",
            bad_lines[0]
        )),
        "{text}"
    );
    assert!(
        failed[1].contains(&format!(
            "line {} (user0001): userid: appears twice",
            bad_lines[1]
        )),
        "{text}"
    );
    assert!(
        failed[2].contains(&format!("line {}: 姓名 is empty [40092]", bad_lines[2])),
        "{text}"
    );

    let report = std::fs::read_to_string(d.join("report.csv")).unwrap();
    let report_lines: Vec<&str> = report.lines().collect();
    assert_eq!(report_lines.len(), 1001, "a header and one line per row");
    assert!(
        report_lines[0]
            .trim_start_matches('\u{feff}')
            .starts_with("line,key,result,reason")
    );
    assert!(
        report_lines[1].starts_with("2,user0000,created"),
        "{}",
        report_lines[1]
    );
    assert!(
        report_lines.iter().any(|l| l.starts_with(&format!(
            "{},user0010,failed,invalid mobile [60103]",
            bad_lines[0]
        ))),
        "{report}"
    );

    // The export lists the admin and the 997; importing it again changes nothing.
    let exported = export_csv(d, &corpid);
    assert_ne!(exported, empty);
    std::fs::write(d.join("export.csv"), &exported).unwrap();
    let again = json_of(&qiye(
        d,
        &[
            "directory",
            "import",
            "export.csv",
            "--corpid",
            &corpid,
            "--mode",
            "sync",
            "--json",
        ],
    ));
    assert_eq!(again["unchanged"], 998, "{again}");
    for key in ["created", "updated", "deleted", "failed"] {
        assert_eq!(again[key], 0, "{key}: {again}");
    }
    assert_eq!(export_csv(d, &corpid), exported);

    // XLSX: a workbook that reads back the same.
    stdout_of(
        d,
        &[
            "directory",
            "export",
            "--corpid",
            &corpid,
            "--format",
            "xlsx",
            "--lang",
            "en",
            "--out",
            "export.xlsx",
        ],
    );
    let xlsx = std::fs::read(d.join("export.xlsx")).unwrap();
    assert!(xlsx.starts_with(b"PK"), "an XLSX file is a ZIP archive");
    let from_xlsx = json_of(&qiye(
        d,
        &[
            "directory",
            "import",
            "export.xlsx",
            "--corpid",
            &corpid,
            "--dry-run",
            "--json",
        ],
    ));
    assert_eq!(from_xlsx["unchanged"], 998, "{from_xlsx}");

    // The default file name.
    let said = stdout_of(d, &["directory", "export", "--corpid", &corpid]);
    assert!(said.contains("exported 998 members"), "{said}");
    assert_eq!(
        std::fs::read(d.join(format!("directory-{corpid}.csv"))).unwrap(),
        exported
    );

    // Replace with a file that lacks most members: delete protection refuses
    // the whole import, and nothing changes.
    let few: Vec<&str> = std::str::from_utf8(&exported)
        .unwrap()
        .lines()
        .take(6)
        .collect();
    std::fs::write(d.join("few.csv"), few.join("\n")).unwrap();
    let stderr = failure_of(
        d,
        &[
            "directory",
            "import",
            "few.csv",
            "--corpid",
            &corpid,
            "--mode",
            "replace",
        ],
    );
    assert!(stderr.contains("refused, nothing was changed"), "{stderr}");
    assert!(stderr.contains("delete protection"), "{stderr}");
    assert_eq!(export_csv(d, &corpid), exported);
    let records = audit_actions(d, &corpid);
    let imports: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| {
            r["action"]
                .as_str()
                .unwrap()
                .starts_with("directory.import")
        })
        .map(|r| (r["action"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(imports.len(), 2, "{imports:?}");
    assert_eq!(imports[0], ("directory.import.sync", "ok"));
    assert_eq!(imports[1].0, "directory.import.replace");
    assert!(imports[1].1.contains("delete protection"), "{imports:?}");
}

#[test]
fn directory_mistakes_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let basic = json_of(&qiye(d, &["corp", "create", "--name", "Small", "--json"]));
    let basic = basic["corpid"].as_str().unwrap();
    std::fs::write(d.join("no-userid.csv"), "姓名,部门\nAlice,Sales\n").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["directory", "export", "--corpid", basic],
            "the basic plan does not include export",
        ),
        (
            &["directory", "import", "missing.csv", "--corpid", basic],
            "cannot read missing.csv",
        ),
        (
            &["directory", "import", "no-userid.csv", "--corpid", basic],
            "has no userid column",
        ),
    ];
    for (args, message) in cases {
        let stderr = failure_of(d, args);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    assert!(!d.join(format!("directory-{basic}.csv")).exists());
}

/// A callback receiver on a loopback port, as an app would run one: it
/// answers the echostr handshake and passes on each event it is sent,
/// after checking the signature and decrypting it.
fn spawn_receiver(
    corpid: &str,
    token: &str,
    aes_key: &str,
) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};

    let crypto = qiye_wecom::crypto::CallbackCrypto::new(token, aes_key, corpid).unwrap();
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let (events, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let target = request_line.split_whitespace().nth(1).unwrap();
            let url = reqwest::Url::parse(&format!("http://receiver{target}")).unwrap();
            let query = |key: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let encrypt = if request_line.starts_with("GET") {
                query("echostr")
            } else {
                let body = String::from_utf8(body).unwrap();
                let start = body.find("<Encrypt><![CDATA[").unwrap() + "<Encrypt><![CDATA[".len();
                let end = body.find("]]></Encrypt>").unwrap();
                body[start..end].to_owned()
            };
            let plain = crypto
                .verify_and_decrypt(
                    &query("msg_signature"),
                    &query("timestamp"),
                    &query("nonce"),
                    &encrypt,
                )
                .expect("signed and sealed for this app");
            let reply = if request_line.starts_with("GET") {
                plain
            } else {
                let _ = events.send(plain);
                "success".to_owned()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, received)
}

#[test]
fn callbacks_set_from_the_cli_are_delivered_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let corpid = professional_corp(d);
    let app = json_of(&qiye(
        d,
        &[
            "app", "create", "--corpid", &corpid, "--name", "HR", "--json",
        ],
    ));
    let agentid = app["agentid"].to_string();
    let (token, key) = ("qiyeToken1", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR");
    let (url, events) = spawn_receiver(&corpid, token, key);
    let closed = format!("http://127.0.0.1:{}/cb", free_port());
    let set_callback = |url: &str, key: &str| -> Vec<String> {
        [
            "app",
            "set-callback",
            "--corpid",
            &corpid,
            "--agentid",
            &agentid,
            "--url",
            url,
            "--token",
            token,
            "--aes-key",
            key,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let failures: [(Vec<String>, &str); 4] = [
        (set_callback(&url, "short"), "EncodingAESKey must be 43"),
        (
            set_callback(&closed, key),
            "callback URL verification failed",
        ),
        (
            vec![
                "app".into(),
                "set-range".into(),
                "--corpid".into(),
                corpid.clone(),
                "--agentid".into(),
                agentid.clone(),
                "--depts".into(),
                "42".into(),
            ],
            "department 42 not found",
        ),
        (
            vec![
                "app".into(),
                "deliveries".into(),
                "--corpid".into(),
                corpid.clone(),
                "--agentid".into(),
                "1000009".into(),
            ],
            "invalid agentid",
        ),
    ];
    for (args, message) in &failures {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = failure_of(d, &args);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }

    // The handshake passes against the receiver; the app sees everyone.
    let args = set_callback(&url, key);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--json");
    let set = json_of(&qiye(d, &args));
    assert_eq!(set["callback_url"], url.as_str());
    stdout_of(
        d,
        &[
            "app",
            "set-range",
            "--corpid",
            &corpid,
            "--agentid",
            &agentid,
            "--all",
        ],
    );

    // A change made by the CLI is queued; the running server delivers it.
    let server = Server::start(d, free_port());
    std::fs::write(d.join("alice.csv"), "姓名,帐号,部门\nAlice,alice,Sales\n").unwrap();
    stdout_of(
        d,
        &["directory", "import", "alice.csv", "--corpid", &corpid],
    );
    let mut received: Vec<String> = (0..2)
        .map(|_| {
            events
                .recv_timeout(Duration::from_secs(30))
                .expect("the server delivers the queued events")
        })
        .collect();
    received.sort_by_key(|xml| !xml.contains("create_party"));
    assert!(
        received[0].contains("<ChangeType><![CDATA[create_party]]></ChangeType>"),
        "{received:?}"
    );
    assert!(
        received[1].contains("<ChangeType><![CDATA[create_user]]></ChangeType>")
            && received[1].contains("<UserID><![CDATA[alice]]></UserID>"),
        "{received:?}"
    );

    // The delivery log shows both as delivered once the server recorded it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = json_of(&qiye(
            d,
            &[
                "app",
                "deliveries",
                "--corpid",
                &corpid,
                "--agentid",
                &agentid,
                "--json",
            ],
        ));
        let rows = log.as_array().unwrap();
        if rows.len() == 2 && rows.iter().all(|r| !r["delivered_at"].is_null()) {
            break log;
        }
        assert!(Instant::now() < deadline, "deliveries not recorded: {log}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut names: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["change_contact/create_party", "change_contact/create_user"]
    );
    let text = stdout_of(
        d,
        &[
            "app",
            "deliveries",
            "--corpid",
            &corpid,
            "--agentid",
            &agentid,
        ],
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("delivered at")).count(),
        2,
        "{text}"
    );
    drop(server);

    // Removing the settings is audited like setting them.
    stdout_of(
        d,
        &[
            "app",
            "set-callback",
            "--corpid",
            &corpid,
            "--agentid",
            &agentid,
            "--remove",
        ],
    );
    let actions: Vec<String> = audit_actions(d, &corpid)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .filter(|a| a.starts_with("app."))
        .collect();
    assert_eq!(
        actions,
        [
            "app.create",
            "app.callback.set",
            "app.range",
            "app.callback.remove"
        ]
    );
}

#[test]
fn passwords_reset_and_member_facing_rules_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let corp = json_of(&qiye(
        dir.path(),
        &["corp", "create", "--name", "Acme", "--json"],
    ));
    let corpid = corp["corpid"].as_str().unwrap();
    let reset = json_of(&qiye(
        dir.path(),
        &[
            "member",
            "reset-password",
            "--corpid",
            corpid,
            "--userid",
            "admin",
            "--json",
        ],
    ));
    let password = reset["password"].as_str().unwrap();
    assert_eq!(password.len(), 16);
    assert_ne!(password, corp["admin_password"].as_str().unwrap());

    let hidden = json_of(&qiye(
        dir.path(),
        &[
            "directory",
            "hide",
            "--corpid",
            corpid,
            "--dept",
            "1",
            "--visible-to",
            "user:admin,dept:1",
            "--json",
        ],
    ));
    assert_eq!(hidden["visible_to"]["users"], serde_json::json!(["admin"]));
    let protected = json_of(&qiye(
        dir.path(),
        &[
            "directory",
            "protect-field",
            "--corpid",
            corpid,
            "--field",
            "mobile",
            "--readers",
            "role:admin,user:admin",
            "--json",
        ],
    ));
    assert_eq!(protected["admins"], true);
    let rules = json_of(&qiye(
        dir.path(),
        &["directory", "rules", "--corpid", corpid, "--json"],
    ));
    assert_eq!(rules["visibility"][0]["dept"], 1);
    assert_eq!(rules["fields"][0]["field"], "mobile");
    let text = stdout_of(dir.path(), &["directory", "rules", "--corpid", corpid]);
    assert!(text.contains("role:admin,user:admin"), "{text}");

    for (args, message) in [
        (
            vec![
                "member",
                "reset-password",
                "--corpid",
                corpid,
                "--userid",
                "ghost",
            ],
            "no member with userid 'ghost'",
        ),
        (
            vec!["directory", "hide", "--corpid", corpid, "--dept", "99"],
            "department 99 not found",
        ),
        (
            vec![
                "directory",
                "hide",
                "--corpid",
                corpid,
                "--dept",
                "1",
                "--visible-to",
                "group:1",
            ],
            "invalid --visible-to item 'group:1'",
        ),
        (
            vec![
                "directory",
                "hide",
                "--corpid",
                corpid,
                "--dept",
                "1",
                "--visible-to",
                "role:admin",
            ],
            "invalid --visible-to item",
        ),
        (
            vec![
                "directory",
                "hide",
                "--corpid",
                corpid,
                "--dept",
                "1",
                "--visible-to",
                "user:ghost",
            ],
            "not found",
        ),
        (
            vec![
                "directory",
                "protect-field",
                "--corpid",
                corpid,
                "--field",
                "salary",
            ],
            "invalid --field 'salary'",
        ),
    ] {
        let out = qiye(dir.path(), &args);
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }

    for args in [
        vec![
            "directory",
            "hide",
            "--corpid",
            corpid,
            "--dept",
            "1",
            "--remove",
            "--json",
        ],
        vec![
            "directory",
            "protect-field",
            "--corpid",
            corpid,
            "--field",
            "mobile",
            "--remove",
            "--json",
        ],
    ] {
        assert_eq!(json_of(&qiye(dir.path(), &args))["removed"], true);
    }
    let rules = json_of(&qiye(
        dir.path(),
        &["directory", "rules", "--corpid", corpid, "--json"],
    ));
    assert_eq!(rules, serde_json::json!({"visibility": [], "fields": []}));
    let actions: Vec<String> = audit_actions(dir.path(), corpid)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    for action in [
        "member.password.reset",
        "directory.hide",
        "directory.protect_field",
        "directory.unhide",
        "directory.unprotect_field",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[test]
fn escalation_policy_is_shown_changed_validated_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let corp = professional_corp(dir.path());
    let shown = json_of(&qiye(
        dir.path(),
        &["corp", "escalation", "--corpid", &corp, "--json"],
    ));
    assert_eq!(
        shown,
        serde_json::json!({"corpid": corp, "first_after_secs": 300, "repeat_every_secs": 1800,
                           "max_attempts": 3, "email": true, "sms": false})
    );
    let changed = json_of(&qiye(
        dir.path(),
        &[
            "corp",
            "escalation",
            "--corpid",
            &corp,
            "--first-after",
            "120",
            "--attempts",
            "5",
            "--sms",
            "on",
            "--json",
        ],
    ));
    assert_eq!(changed["first_after_secs"], 120);
    assert_eq!(changed["repeat_every_secs"], 1800, "not given: kept");
    assert_eq!(changed["max_attempts"], 5);
    assert_eq!(
        (changed["email"].clone(), changed["sms"].clone()),
        (true.into(), true.into())
    );
    let err = failure_of(
        dir.path(),
        &["corp", "escalation", "--corpid", &corp, "--attempts", "11"],
    );
    assert!(err.contains("attempts"), "{err}");
    let err = failure_of(
        dir.path(),
        &[
            "corp",
            "escalation",
            "--corpid",
            &corp,
            "--email",
            "off",
            "--sms",
            "off",
        ],
    );
    assert!(err.contains("channel"), "{err}");
    let again = json_of(&qiye(
        dir.path(),
        &["corp", "escalation", "--corpid", &corp, "--json"],
    ));
    assert_eq!(again, changed, "refused changes changed nothing");
    let text = stdout_of(dir.path(), &["corp", "escalation", "--corpid", &corp]);
    assert!(text.contains("after 120s"), "{text}");
    let actions: Vec<String> = audit_actions(dir.path(), &corp)
        .iter()
        .map(|a| a["action"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "escalation.set_policy")
            .count(),
        1,
        "{actions:?}"
    );
    let err = failure_of(
        dir.path(),
        &["corp", "escalation", "--corpid", "ww0000000000000000"],
    );
    assert!(err.contains("corp"), "{err}");
}

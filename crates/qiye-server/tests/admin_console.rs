//! The admin console's endpoints over real HTTP, on SQLite and on
//! PostgreSQL: tags, apps (visible range, secret rotation, callback
//! settings verified against real loopback receivers, the delivery log),
//! import jobs (per-row reports, dry runs, the size limit) and exports, the
//! member list's filters; scoped administrators refused where only super
//! administrators act, tenants isolated, bad input answered with errcodes,
//! and every change and refusal audited as `admin:<userid>`.

mod common;

use std::time::Duration;

use common::{
    Backend, CallbackReceiver, TestApp, V1Reply, call, corp_with_admin, dept, member, session_of,
};
use qiye_domain::audit::{Actor, Outcome};
use qiye_domain::directory::AdminRole;
use qiye_domain::ids::{CorpId, DeptId, UserId};
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    tags_are_managed_by_super_admins_and_read_within_scope,
    apps_ranges_secrets_and_verified_callbacks,
    imports_report_every_row_and_exports_read_back,
    oversized_and_unusable_uploads_store_nothing,
    member_list_filters,
    tenants_cannot_reach_each_others_console,
    bad_input_gets_an_errcode_and_changes_nothing,
);

/// Sales(2) > East(3); Finance(4). seller in 2, easty in 3, cfo in 4, and
/// `sam`, an administrator scoped to Sales.
async fn org(app: &TestApp, corp: &CorpId) -> String {
    dept(app, corp, 2, 1, "Sales").await;
    dept(app, corp, 3, 2, "East").await;
    dept(app, corp, 4, 1, "Finance").await;
    member(app, corp, "seller", &[2], "13800000002").await;
    member(app, corp, "easty", &[3], "13800000003").await;
    member(app, corp, "cfo", &[4], "13800000004").await;
    member(app, corp, "sam", &[2], "").await;
    app.services
        .grant_admin(
            Actor::System,
            corp,
            &UserId::parse("sam").unwrap(),
            AdminRole::Scoped(vec![DeptId::new(2).unwrap()]),
        )
        .await
        .unwrap();
    session_of(app, corp, "sam").await
}

async fn get(app: &TestApp, token: &str, path: &str) -> V1Reply {
    call(app, Method::GET, path, token, None).await
}

fn ok(reply: &V1Reply) -> &Value {
    assert!(reply.status < 300, "HTTP {}: {}", reply.status, reply.body);
    &reply.body
}

fn refused(reply: &V1Reply, status: u16, errcode: i64) {
    assert_eq!(
        (reply.status, reply.errcode()),
        (status, errcode),
        "{}",
        reply.body
    );
}

/// (actor, action, outcome) of the corp's audit log, oldest first.
async fn audit(app: &TestApp, corp: &CorpId) -> Vec<(String, String, Outcome)> {
    app.services
        .tail_audit(corp, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.record.actor.to_string(),
                e.record.action,
                e.record.outcome,
            )
        })
        .collect()
}

fn audited(log: &[(String, String, Outcome)], actor: &str, action: &str, succeeded: bool) -> bool {
    log.iter().any(|(a, act, outcome)| {
        a == actor && act == action && matches!(outcome, Outcome::Succeeded) == succeeded
    })
}

async fn tags_are_managed_by_super_admins_and_read_within_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let sam = org(&app, &acme.id).await;
    let admin = &acme.admin;

    let created = call(
        &app,
        Method::POST,
        "/admin/tags",
        admin,
        Some(json!({"tagname": "Oncall"})),
    )
    .await;
    let tagid = ok(&created)["tagid"].as_u64().unwrap();
    let chosen = call(
        &app,
        Method::POST,
        "/admin/tags",
        admin,
        Some(json!({"tagname": "VIP", "tagid": 77})),
    )
    .await;
    assert_eq!(ok(&chosen)["tagid"], 77);
    refused(
        &call(
            &app,
            Method::POST,
            "/admin/tags",
            admin,
            Some(json!({"tagname": "VIP"})),
        )
        .await,
        409,
        40071,
    );
    let listed = get(&app, admin, "/admin/tags").await;
    assert_eq!(
        ok(&listed)["tags"],
        json!([{"tagid": tagid, "tagname": "Oncall"}, {"tagid": 77, "tagname": "VIP"}])
    );
    let renamed = call(
        &app,
        Method::PATCH,
        &format!("/admin/tags/{tagid}"),
        admin,
        Some(json!({"tagname": "On call"})),
    )
    .await;
    assert_eq!(renamed.status, 204, "{}", renamed.body);

    let added = call(
        &app,
        Method::POST,
        &format!("/admin/tags/{tagid}/members"),
        admin,
        Some(json!({"users": ["seller", "cfo", "ghost"], "departments": [3, 99]})),
    )
    .await;
    assert_eq!(
        ok(&added),
        &json!({"invalid_users": ["ghost"], "invalid_departments": [99]})
    );
    let members = get(&app, admin, &format!("/admin/tags/{tagid}/members")).await;
    assert_eq!(
        ok(&members),
        &json!({"users": [{"userid": "seller", "name": "seller name"}, {"userid": "cfo", "name": "cfo name"}], "departments": [3]})
    );
    // A scoped administrator reads the tag, but only what is in their scope.
    let scoped = get(&app, &sam, &format!("/admin/tags/{tagid}/members")).await;
    assert_eq!(
        ok(&scoped),
        &json!({"users": [{"userid": "seller", "name": "seller name"}], "departments": [3]})
    );
    assert_eq!(
        ok(&get(&app, &sam, "/admin/tags").await)["tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let removed = call(
        &app,
        Method::DELETE,
        &format!("/admin/tags/{tagid}/members"),
        admin,
        Some(json!({"users": ["cfo"]})),
    )
    .await;
    assert_eq!(ok(&removed)["invalid_users"], json!([]));
    let members = get(&app, admin, &format!("/admin/tags/{tagid}/members")).await;
    assert_eq!(ok(&members)["users"].as_array().unwrap().len(), 1);

    // Scoped administrators change no tag; nothing changes.
    for (method, path, body) in [
        (
            Method::POST,
            "/admin/tags".to_owned(),
            Some(json!({"tagname": "Mine"})),
        ),
        (
            Method::PATCH,
            format!("/admin/tags/{tagid}"),
            Some(json!({"tagname": "Mine"})),
        ),
        (Method::DELETE, format!("/admin/tags/{tagid}"), None),
        (
            Method::POST,
            format!("/admin/tags/{tagid}/members"),
            Some(json!({"users": ["seller"]})),
        ),
        (
            Method::DELETE,
            format!("/admin/tags/{tagid}/members"),
            Some(json!({"users": ["seller"]})),
        ),
    ] {
        refused(
            &call(&app, method.clone(), &path, &sam, body).await,
            403,
            60011,
        );
    }
    let listed = get(&app, admin, "/admin/tags").await;
    assert_eq!(ok(&listed)["tags"][0]["tagname"], "On call");

    // Unknown tags.
    refused(
        &get(&app, admin, "/admin/tags/4242/members").await,
        404,
        40068,
    );
    refused(
        &call(
            &app,
            Method::PATCH,
            "/admin/tags/4242",
            admin,
            Some(json!({"tagname": "x"})),
        )
        .await,
        404,
        40068,
    );
    refused(
        &call(&app, Method::DELETE, "/admin/tags/abc", admin, None).await,
        404,
        40068,
    );

    let deleted = call(
        &app,
        Method::DELETE,
        &format!("/admin/tags/{tagid}"),
        admin,
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    refused(
        &get(&app, admin, &format!("/admin/tags/{tagid}/members")).await,
        404,
        40068,
    );

    let log = audit(&app, &acme.id).await;
    for action in ["tag.create", "tag.update", "tag.members", "tag.delete"] {
        assert!(
            audited(&log, "admin:admin", action, true),
            "{action}: {log:?}"
        );
        assert!(
            audited(&log, "admin:sam", action, false),
            "{action} refused: {log:?}"
        );
    }
}

/// A loopback receiver that answers the echostr handshake with the wrong text.
async fn wrong_receiver() -> String {
    let router =
        axum::Router::new().route("/cb", axum::routing::get(|| async { "not-the-echostr" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/cb")
}

async fn apps_ranges_secrets_and_verified_callbacks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let sam = org(&app, &acme.id).await;
    let admin = &acme.admin;

    let created = call(
        &app,
        Method::POST,
        "/admin/apps",
        admin,
        Some(json!({"name": "HR", "description": "People things", "visible": {"depts": [2], "users": ["cfo"]}})),
    )
    .await;
    let body = ok(&created).clone();
    let agentid = body["agentid"].as_i64().unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert_eq!(body["name"], "HR");
    assert_eq!(body["description"], "People things");
    assert_eq!(
        body["visible"],
        json!({"depts": [2], "users": ["cfo"], "tags": []})
    );
    assert_eq!(body["callback"], Value::Null);
    assert!(body["created_at"].as_i64().unwrap() > 0);
    // The secret works for gettoken; the app sees its range only.
    let token = app.token(&acme.id, &secret).await;
    let visible = common::get(&app, &token, "user/get", "userid=easty").await;
    assert_eq!(common::errcode(&visible), 0, "{visible}");
    let hidden = common::get(&app, &token, "user/get", "userid=sam").await;
    assert_eq!(common::errcode(&hidden), 0, "sam is in Sales: {hidden}");

    let whole = call(
        &app,
        Method::POST,
        "/admin/apps",
        admin,
        Some(json!({"name": "OA"})),
    )
    .await;
    assert_eq!(
        ok(&whole)["visible"],
        json!({"depts": [1], "users": [], "tags": []})
    );
    let listed = get(&app, admin, "/admin/apps").await;
    let names: Vec<&str> = ok(&listed)["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HR", "OA"]);
    assert!(ok(&listed)["apps"][0].get("secret").is_none());

    let path = format!("/admin/apps/{agentid}");
    let patched = call(
        &app,
        Method::PATCH,
        &path,
        admin,
        Some(json!({"name": "People", "visible": {"depts": [4]}})),
    )
    .await;
    assert_eq!(ok(&patched)["name"], "People");
    assert_eq!(ok(&patched)["visible"]["depts"], json!([4]));
    assert_eq!(
        ok(&get(&app, admin, &path).await)["description"],
        "People things"
    );

    // Rotation: the old secret stops working.
    let rotated = call(
        &app,
        Method::POST,
        &format!("{path}/rotate-secret"),
        admin,
        None,
    )
    .await;
    let new_secret = ok(&rotated)["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(
        common::errcode(&app.gettoken(&acme.id, &secret).await),
        40001
    );
    app.token(&acme.id, &new_secret).await;

    // Callback verification against a receiver that answers the echostr and
    // one that does not.
    let good = CallbackReceiver::spawn(&acme.id).await;
    let wrong = wrong_receiver().await;
    let settings = |url: &str| json!({"url": url, "token": CallbackReceiver::TOKEN, "encoding_aes_key": CallbackReceiver::KEY});
    let verified = call(
        &app,
        Method::POST,
        &format!("{path}/callback/verify"),
        admin,
        Some(settings(&good.url)),
    )
    .await;
    assert_eq!(ok(&verified)["ok"], true, "{}", verified.body);
    let failed = call(
        &app,
        Method::POST,
        &format!("{path}/callback/verify"),
        admin,
        Some(settings(&wrong)),
    )
    .await;
    assert_eq!(ok(&failed)["ok"], false);
    assert!(
        failed.body["detail"].as_str().unwrap().contains("echostr"),
        "{}",
        failed.body
    );
    assert_eq!(
        ok(&get(&app, admin, &path).await)["callback"],
        Value::Null,
        "verify saves nothing"
    );

    // Saving verifies first: the wrong receiver is refused and nothing changes.
    let refused_save = call(
        &app,
        Method::PATCH,
        &path,
        admin,
        Some(json!({"name": "Renamed", "callback": settings(&wrong)})),
    )
    .await;
    refused(&refused_save, 400, 40057);
    let unchanged = get(&app, admin, &path).await;
    assert_eq!(ok(&unchanged)["name"], "People");
    assert_eq!(unchanged.body["callback"], Value::Null);
    let saved = call(
        &app,
        Method::PATCH,
        &path,
        admin,
        Some(json!({"callback": settings(&good.url)})),
    )
    .await;
    assert_eq!(ok(&saved)["callback"], settings(&good.url));

    // A change in the app's range is delivered and shows in the log.
    member(&app, &acme.id, "newcomer", &[4], "").await;
    good.wait_for(&app, 1).await;
    let log = get(&app, admin, &format!("{path}/deliveries?limit=1")).await;
    let first = ok(&log)["deliveries"][0].clone();
    assert_eq!(first["event"], "change_contact/create_user");
    assert_eq!(first["status"], "delivered");
    assert_eq!(first["attempts"], 1);
    assert!(first.get("last_error").is_none());
    member(&app, &acme.id, "another", &[4], "").await;
    good.wait_for(&app, 2).await;
    let page1 = get(&app, admin, &format!("{path}/deliveries?limit=1")).await;
    let cursor = ok(&page1)["next_cursor"].as_str().unwrap().to_owned();
    let page2 = get(
        &app,
        admin,
        &format!("{path}/deliveries?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(ok(&page2)["deliveries"][0]["id"], first["id"]);
    assert_ne!(page1.body["deliveries"][0]["id"], first["id"]);
    // Removing the callback.
    let removed = call(
        &app,
        Method::PATCH,
        &path,
        admin,
        Some(json!({"callback": null})),
    )
    .await;
    assert_eq!(ok(&removed)["callback"], Value::Null);

    // Unknown apps; scoped administrators are refused everything.
    refused(&get(&app, admin, "/admin/apps/999999").await, 404, 40056);
    refused(
        &get(&app, admin, "/admin/apps/xyz/deliveries").await,
        404,
        40056,
    );
    refused(
        &call(
            &app,
            Method::POST,
            "/admin/apps/999999/rotate-secret",
            admin,
            None,
        )
        .await,
        404,
        40056,
    );
    for (method, p, body) in [
        (Method::GET, "/admin/apps".to_owned(), None),
        (
            Method::POST,
            "/admin/apps".to_owned(),
            Some(json!({"name": "Mine"})),
        ),
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"name": "Mine"}))),
        (Method::POST, format!("{path}/rotate-secret"), None),
        (
            Method::POST,
            format!("{path}/callback/verify"),
            Some(settings(&good.url)),
        ),
        (Method::GET, format!("{path}/deliveries"), None),
    ] {
        refused(
            &call(&app, method.clone(), &p, &sam, body).await,
            403,
            60011,
        );
    }
    app.token(&acme.id, &new_secret).await;

    let log = audit(&app, &acme.id).await;
    for action in [
        "app.create",
        "agent.set",
        "app.range",
        "secret.rotate",
        "app.callback.set",
        "app.callback.remove",
    ] {
        assert!(
            audited(&log, "admin:admin", action, true),
            "{action}: {log:?}"
        );
    }
    assert!(
        audited(&log, "admin:admin", "app.update", false),
        "the refused save: {log:?}"
    );
    for action in [
        "app.create",
        "app.update",
        "secret.rotate",
        "app.callback.verify",
    ] {
        assert!(
            audited(&log, "admin:sam", action, false),
            "{action}: {log:?}"
        );
    }
}

/// Posts a file to `/admin/imports`.
async fn import(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> V1Reply {
    let response = app
        .client
        .post(format!("{}/api/v1/admin/imports?{query}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    common::v1_reply(response).await
}

/// Polls an import until it is done or failed.
async fn finished(app: &TestApp, token: &str, job_id: &str) -> Value {
    let mut body = Value::Null;
    for _ in 0..600 {
        let reply = get(app, token, &format!("/admin/imports/{job_id}")).await;
        body = ok(&reply).clone();
        if body["status"] == "done" || body["status"] == "failed" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {job_id} did not finish: {body}");
}

async fn exported(app: &TestApp, token: &str, path: &str) -> (String, Vec<u8>) {
    let response = app
        .client
        .get(format!("{}/api/v1{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (kind, response.bytes().await.unwrap().to_vec())
}

const MEMBERS_CSV: &str = "userid,name,department,mobile\n\
    seller,Seller Renamed,Sales,13800000002\n\
    newbie,New Person,Sales/West,13900000001\n\
    bad id!,Broken,Sales,\n\
    easty,easty name,Sales/East,13800000003\n\
    dup,Dup,Sales,13800000002\n";

async fn imports_report_every_row_and_exports_read_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let sam = org(&app, &acme.id).await;
    let admin = &acme.admin;

    // A dry run reports the rows and changes nothing.
    let dry = import(
        &app,
        admin,
        "kind=members&mode=sync&dry_run=1",
        "text/csv",
        MEMBERS_CSV.into(),
    )
    .await;
    let job = finished(&app, admin, ok(&dry)["job_id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["dry_run"], true);
    assert_eq!(
        (job["created"].clone(), job["failed"].clone()),
        (json!(1), json!(2)),
        "{job}"
    );
    refused(&get(&app, admin, "/admin/members/newbie").await, 404, 60111);

    let real = import(
        &app,
        admin,
        "kind=members&mode=sync",
        "text/csv; charset=utf-8",
        MEMBERS_CSV.into(),
    )
    .await;
    let job_id = ok(&real)["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, admin, &job_id).await;
    assert_eq!(job["kind"], "members");
    assert_eq!(job["mode"], "sync");
    assert_eq!(job["status"], "done");
    assert_eq!(
        (job["total"].clone(), job["done"].clone()),
        (json!(5), json!(5))
    );
    assert_eq!(
        [
            &job["created"],
            &job["updated"],
            &job["unchanged"],
            &job["deleted"],
            &job["failed"]
        ],
        [&json!(1), &json!(1), &json!(1), &json!(0), &json!(2)],
        "{job}"
    );
    let rows = job["rows"].as_array().unwrap();
    let row = |line: u64| {
        rows.iter()
            .find(|r| r["row"] == line)
            .unwrap_or_else(|| panic!("{job}"))
    };
    assert_eq!(
        (row(2)["outcome"].clone(), row(2)["userid"].clone()),
        (json!("updated"), json!("seller"))
    );
    assert_eq!(row(3)["outcome"], "created");
    assert_eq!(row(4)["outcome"], "error");
    assert_eq!(row(4)["errcode"], 40003, "{job}");
    assert_eq!(row(5)["outcome"], "unchanged");
    assert_eq!(row(6)["outcome"], "error");
    assert_eq!(row(6)["errcode"], 60104, "mobile taken: {job}");
    let newbie = get(&app, admin, "/admin/members/newbie").await;
    assert_eq!(ok(&newbie)["name"], "New Person");

    // Departments: sync keeps unlisted ones, replace would not; row report.
    let depts = "部门名称,部门ID,父部门ID\nSales,2,1\nNorth,20,2\nOrphan,21,999\n";
    let reply = import(
        &app,
        admin,
        "kind=departments&mode=sync",
        "text/csv",
        depts.into(),
    )
    .await;
    let job = finished(&app, admin, ok(&reply)["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (job["kind"].clone(), job["mode"].clone()),
        (json!("departments"), json!("sync"))
    );
    assert_eq!(
        [
            &job["created"],
            &job["unchanged"],
            &job["failed"],
            &job["deleted"]
        ],
        [&json!(1), &json!(1), &json!(1), &json!(0)],
        "{job}"
    );
    assert_eq!(job["rows"][1]["department"], "20");
    let tree = get(&app, admin, "/admin/departments").await;
    assert!(
        ok(&tree)["departments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == 4),
        "Finance kept"
    );

    // Export: members and departments as import files, in the scope.
    let (kind, csv) = exported(&app, admin, "/admin/export/members?format=csv&lang=en").await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains("newbie") && text.contains("cfo"), "{text}");
    let (_, scoped_csv) = exported(&app, &sam, "/admin/export/members").await;
    let scoped_text = String::from_utf8(scoped_csv.clone()).unwrap();
    assert!(
        scoped_text.contains("seller") && !scoped_text.contains("cfo"),
        "{scoped_text}"
    );
    let (kind, xlsx) = exported(&app, admin, "/admin/export/departments?format=xlsx").await;
    assert!(kind.contains("spreadsheetml"), "{kind}");
    let (_, dept_csv) = exported(&app, &sam, "/admin/export/departments").await;
    let dept_text = String::from_utf8(dept_csv).unwrap();
    assert!(
        dept_text.contains("North") && !dept_text.contains("Finance"),
        "{dept_text}"
    );
    // The exported file imports back unchanged.
    let again = import(
        &app,
        admin,
        "kind=departments&mode=replace",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        xlsx,
    )
    .await;
    let job = finished(&app, admin, ok(&again)["job_id"].as_str().unwrap()).await;
    assert_eq!(
        (
            job["failed"].clone(),
            job["deleted"].clone(),
            job["created"].clone()
        ),
        (json!(0), json!(0), json!(0)),
        "{job}"
    );

    // Only super administrators import; a scoped one is refused and audited.
    refused(
        &import(&app, &sam, "kind=members", "text/csv", MEMBERS_CSV.into()).await,
        403,
        60011,
    );
    refused(
        &get(&app, &sam, &format!("/admin/imports/{job_id}")).await,
        403,
        60011,
    );
    refused(
        &get(&app, admin, "/admin/imports/nonexistent").await,
        404,
        40088,
    );
    let log = audit(&app, &acme.id).await;
    assert!(
        audited(&log, "admin:admin", "directory.import.sync", true),
        "{log:?}"
    );
    assert!(
        audited(&log, "admin:sam", "directory.import.members", false),
        "{log:?}"
    );
}

async fn oversized_and_unusable_uploads_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let admin = &acme.admin;
    let media_dir = app.config.data_dir.join("media").join(acme.id.as_str());
    let stored = || {
        std::fs::read_dir(&media_dir)
            .map(|d| d.count())
            .unwrap_or(0)
    };

    let mut big = b"userid,name\n".to_vec();
    big.resize(20 * 1024 * 1024 + 1, b'a');
    refused(
        &import(&app, admin, "kind=members", "text/csv", big).await,
        413,
        40006,
    );
    refused(
        &import(
            &app,
            admin,
            "kind=members",
            "text/csv",
            b"no,header,here\n1,2,3\n".to_vec(),
        )
        .await,
        400,
        40092,
    );
    refused(
        &import(&app, admin, "kind=members", "image/png", MEMBERS_CSV.into()).await,
        400,
        40005,
    );
    assert_eq!(stored(), 0, "nothing stored for refused uploads");
    let log = audit(&app, &acme.id).await;
    let refusals = log
        .iter()
        .filter(|(a, act, o)| {
            a == "admin:admin"
                && act == "directory.import.members"
                && !matches!(o, Outcome::Succeeded)
        })
        .count();
    assert_eq!(refusals, 3, "{log:?}");
}

async fn member_list_filters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let sam = org(&app, &acme.id).await;
    let admin = &acme.admin;
    let disable = call(
        &app,
        Method::PATCH,
        "/admin/members/easty",
        admin,
        Some(json!({"enable": false})),
    )
    .await;
    assert_eq!(disable.status, 204);
    let userids = |reply: &V1Reply| -> Vec<String> {
        ok(reply)["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["userid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?department_id=2").await),
        ["sam", "seller"]
    );
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?department_id=2&recursive=1").await),
        ["easty", "sam", "seller"]
    );
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?q=SELL").await),
        ["seller"]
    );
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?q=13800000004").await),
        ["cfo"]
    );
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?status=disabled").await),
        ["easty"]
    );
    assert_eq!(
        userids(&get(&app, admin, "/admin/members?status=2").await),
        ["easty"]
    );
    assert_eq!(
        userids(
            &get(
                &app,
                admin,
                "/admin/members?department_id=2&recursive=1&status=not_activated&limit=1"
            )
            .await
        ),
        ["sam"]
    );
    // Scoped: their reach only; a department outside is refused.
    assert_eq!(
        userids(&get(&app, &sam, "/admin/members?q=name").await),
        ["easty", "sam", "seller"]
    );
    refused(
        &get(&app, &sam, "/admin/members?department_id=4").await,
        403,
        60011,
    );
    refused(
        &get(&app, admin, "/admin/members?department_id=999").await,
        404,
        60003,
    );
    refused(
        &get(&app, admin, "/admin/members?department_id=x").await,
        400,
        60123,
    );
    refused(
        &get(&app, admin, "/admin/members?status=sleepy").await,
        400,
        40058,
    );
}

async fn tenants_cannot_reach_each_others_console(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let globex = corp_with_admin(&app, "Globex").await;
    org(&app, &acme.id).await;
    let tag = call(
        &app,
        Method::POST,
        "/admin/tags",
        &acme.admin,
        Some(json!({"tagname": "Secret"})),
    )
    .await;
    let tagid = ok(&tag)["tagid"].as_u64().unwrap();
    let created = call(
        &app,
        Method::POST,
        "/admin/apps",
        &acme.admin,
        Some(json!({"name": "HR"})),
    )
    .await;
    let agentid = ok(&created)["agentid"].as_i64().unwrap();
    let receiver = CallbackReceiver::spawn(&acme.id).await;
    app.services
        .set_callback(
            Actor::System,
            &acme.id,
            qiye_domain::ids::AgentId::new(agentid).unwrap(),
            Some(receiver.config()),
        )
        .await
        .unwrap();
    member(&app, &acme.id, "hire", &[2], "").await;
    receiver.wait_for(&app, 1).await;
    let imported = import(
        &app,
        &acme.admin,
        "kind=members",
        "text/csv",
        MEMBERS_CSV.into(),
    )
    .await;
    let job_id = ok(&imported)["job_id"].as_str().unwrap().to_owned();
    finished(&app, &acme.admin, &job_id).await;

    let g = &globex.admin;
    assert_eq!(ok(&get(&app, g, "/admin/tags").await)["tags"], json!([]));
    assert!(
        ok(&get(&app, g, "/admin/apps").await)["apps"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    refused(
        &get(&app, g, &format!("/admin/tags/{tagid}/members")).await,
        404,
        40068,
    );
    refused(
        &call(
            &app,
            Method::PATCH,
            &format!("/admin/tags/{tagid}"),
            g,
            Some(json!({"tagname": "Mine"})),
        )
        .await,
        404,
        40068,
    );
    refused(
        &call(
            &app,
            Method::DELETE,
            &format!("/admin/tags/{tagid}"),
            g,
            None,
        )
        .await,
        404,
        40068,
    );
    refused(
        &call(
            &app,
            Method::POST,
            &format!("/admin/tags/{tagid}/members"),
            g,
            Some(json!({"users": ["admin"]})),
        )
        .await,
        404,
        40068,
    );
    let app_path = format!("/admin/apps/{agentid}");
    refused(&get(&app, g, &app_path).await, 404, 40056);
    refused(
        &call(
            &app,
            Method::PATCH,
            &app_path,
            g,
            Some(json!({"name": "Mine"})),
        )
        .await,
        404,
        40056,
    );
    refused(
        &call(
            &app,
            Method::POST,
            &format!("{app_path}/rotate-secret"),
            g,
            None,
        )
        .await,
        404,
        40056,
    );
    refused(
        &get(&app, g, &format!("{app_path}/deliveries")).await,
        404,
        40056,
    );
    refused(
        &get(&app, g, &format!("/admin/imports/{job_id}")).await,
        404,
        40088,
    );
    let (_, theirs) = exported(&app, g, "/admin/export/members").await;
    assert!(!String::from_utf8(theirs).unwrap().contains("seller"));

    // Nothing of Acme's changed.
    let tags = get(&app, &acme.admin, "/admin/tags").await;
    assert_eq!(ok(&tags)["tags"][0]["tagname"], "Secret");
    assert_eq!(ok(&get(&app, &acme.admin, &app_path).await)["name"], "HR");
}

async fn bad_input_gets_an_errcode_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    org(&app, &acme.id).await;
    let admin = &acme.admin;
    let created = call(
        &app,
        Method::POST,
        "/admin/apps",
        admin,
        Some(json!({"name": "HR"})),
    )
    .await;
    let agentid = ok(&created)["agentid"].as_i64().unwrap();
    let app_path = format!("/admin/apps/{agentid}");
    let raw = |method: Method, path: String, body: &'static str| {
        let request = app
            .client
            .request(method, format!("{}/api/v1{path}", app.base))
            .bearer_auth(admin)
            .body(body);
        async move { common::v1_reply(request.send().await.unwrap()).await }
    };
    let cases: Vec<(Method, String, &'static str, u16, i64)> = vec![
        (Method::POST, "/admin/tags".into(), "{not json", 400, 47001),
        (
            Method::POST,
            "/admin/tags".into(),
            r#"{"tagname": 5}"#,
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/tags".into(),
            r#"{"tagname": ""}"#,
            400,
            40072,
        ),
        (
            Method::POST,
            "/admin/tags".into(),
            r#"{"tagname": "x", "tagid": 0}"#,
            404,
            40068,
        ),
        (
            Method::POST,
            "/admin/tags".into(),
            r#"{"tagname": "x", "tagid": "seven"}"#,
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/tags/1/members".into(),
            r#"{"users": "seller"}"#,
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/apps".into(),
            r#"{"name": ""}"#,
            400,
            45022,
        ),
        (
            Method::POST,
            "/admin/apps".into(),
            r#"{"name": "X", "description": "no"}"#,
            400,
            45004,
        ),
        (
            Method::POST,
            "/admin/apps".into(),
            r#"{"name": "X", "visible": {"depts": [999]}}"#,
            404,
            60003,
        ),
        (
            Method::POST,
            "/admin/apps".into(),
            r#"{"name": "X", "visible": {"users": ["ghost"]}}"#,
            404,
            60111,
        ),
        (
            Method::PATCH,
            app_path.clone(),
            r#"{"callback": {"url": "ftp://x", "token": "t", "encoding_aes_key": "k"}}"#,
            400,
            40057,
        ),
        (
            Method::PATCH,
            app_path.clone(),
            r#"{"visible": {"tags": [4242]}}"#,
            404,
            40068,
        ),
        (
            Method::PATCH,
            app_path.clone(),
            r#"{"name": ["x"]}"#,
            400,
            40058,
        ),
        (
            Method::POST,
            format!("{app_path}/callback/verify"),
            r#"{"url": "http://127.0.0.1:1/cb", "token": "bad token", "encoding_aes_key": "k"}"#,
            400,
            40035,
        ),
        (
            Method::POST,
            format!("{app_path}/callback/verify"),
            "{}",
            400,
            40058,
        ),
        (
            Method::GET,
            format!("{app_path}/deliveries?cursor=abc"),
            "",
            400,
            40058,
        ),
        (
            Method::GET,
            "/admin/export/members?format=pdf".into(),
            "",
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/imports?kind=people".into(),
            "userid,name\n",
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/imports?kind=members&mode=merge".into(),
            "userid,name\n",
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/imports?kind=members&dry_run=2".into(),
            "userid,name\n",
            400,
            40058,
        ),
        (
            Method::POST,
            "/admin/imports".into(),
            "userid,name\n",
            400,
            40058,
        ),
    ];
    for (method, path, body, status, code) in cases {
        let reply = raw(method.clone(), path.clone(), body).await;
        assert_eq!(
            (reply.status, reply.errcode()),
            (status, code),
            "{method} {path} {body}: {}",
            reply.body
        );
    }
    // Nothing changed.
    assert_eq!(
        ok(&get(&app, admin, "/admin/tags").await)["tags"],
        json!([])
    );
    let apps = get(&app, admin, "/admin/apps").await;
    assert_eq!(ok(&apps)["apps"].as_array().unwrap().len(), 1);
    assert_eq!(apps.body["apps"][0]["visible"]["depts"], json!([1]));
    assert_eq!(apps.body["apps"][0]["callback"], Value::Null);

    let doc = get(&app, admin, "/openapi.json").await;
    for path in [
        "/api/v1/admin/tags/{tagid}/members",
        "/api/v1/admin/apps/{agentid}/callback/verify",
        "/api/v1/admin/apps/{agentid}/deliveries",
        "/api/v1/admin/imports",
        "/api/v1/admin/export/departments",
    ] {
        assert!(ok(&doc)["paths"].get(path).is_some(), "{path} documented");
    }
}

//! The directory API over real HTTP, on SQLite and on PostgreSQL: the tree
//! and its errcodes, members, tags, paging, app visible ranges (60011),
//! tenant isolation, history of deleted members, changes made by another
//! process, and encrypted change callbacks.

mod common;

use std::sync::Arc;

use common::{Backend, TestApp, errcode, get, post};
use qiye_app::directory::DirCaller;
use qiye_domain::audit::Actor;
use qiye_domain::directory::{MemberFields, Range};
use qiye_domain::ids::{AgentId, DeptId, UserId};
use serde_json::json;

on_both_backends!(
    tree_members_and_their_errcodes,
    app_range_confines_reads_and_writes,
    tenants_cannot_see_each_others_directory,
    tags_round_trip_with_partial_failures,
    list_id_pages_every_membership_once,
    renamed_and_deleted_members_stay_attributable,
    changes_by_another_process_are_seen,
    change_callbacks_arrive_encrypted_in_order,
    listings_follow_every_change_and_every_caller,
);

async fn contact_token(app: &TestApp) -> (common::CorpCreds, String) {
    common::corp_token(app, "Acme").await
}

async fn tree_members_and_their_errcodes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, t) = contact_token(&app).await;
    let sales = post(
        &app,
        &t,
        "department/create",
        json!({"name": "Sales", "parentid": 1, "order": 5}),
    )
    .await;
    assert_eq!(sales["errmsg"], "created", "{sales}");
    let sales_id = sales["id"].as_i64().unwrap();
    let east = post(
        &app,
        &t,
        "department/create",
        json!({"name": "East", "parentid": sales_id.to_string(), "id": 20}),
    )
    .await;
    assert_eq!(east["id"], 20, "explicit id, parentid as a string");
    for (body, code) in [
        (json!({"name": "Sales", "parentid": 1}), 60008),
        (json!({"name": "X", "parentid": 999}), 60004),
        (json!({"name": "a:b", "parentid": 1}), 60009),
        (json!({"name": "", "parentid": 1}), 60001),
        (json!({"name": "Dup", "parentid": 1, "id": 20}), 60008),
    ] {
        assert_eq!(
            errcode(&post(&app, &t, "department/create", body.clone()).await),
            code,
            "{body}"
        );
    }
    assert_eq!(
        errcode(
            &post(
                &app,
                &t,
                "department/update",
                json!({"id": sales_id, "parentid": 20})
            )
            .await
        ),
        60010
    );
    assert_eq!(
        errcode(&get(&app, &t, "department/delete", "id=1").await),
        60007
    );
    assert_eq!(
        errcode(&get(&app, &t, "department/delete", &format!("id={sales_id}")).await),
        60006
    );

    let created = post(
        &app,
        &t,
        "user/create",
        json!({"userid": "ZhangSan", "name": "张三", "department": [20], "gender": "1",
               "mobile": "13800000001", "email": "zs@example.com", "is_leader_in_dept": [1], "tel": "010-1"}),
    )
    .await;
    assert_eq!(created["errmsg"], "created", "{created}");
    let lisi = json!({"userid": "lisi", "name": "李四", "department": 20, "gender": 2, "direct_leader": ["zhangsan"]});
    assert_eq!(errcode(&post(&app, &t, "user/create", lisi).await), 0);
    for (body, code) in [
        (json!({"userid": "zhangsan", "name": "again"}), 60102),
        (
            json!({"userid": "x1", "name": "n", "department": [999]}),
            60003,
        ),
        (json!({"userid": "x2", "name": "n", "mobile": "abc"}), 60103),
        (
            json!({"userid": "x3", "name": "n", "mobile": "13800000001"}),
            60104,
        ),
        (json!({"userid": "x4", "name": ""}), 60112),
        (json!({"userid": "bad id!", "name": "n"}), 40003),
        (json!({"userid": "x5", "name": "n", "gender": "x"}), 40058),
        (
            json!({"userid": "x6", "name": "n", "department": (1..=21).collect::<Vec<_>>()}),
            60110,
        ),
        (
            json!({"userid": "x7", "name": "n", "direct_leader": ["ghost"]}),
            40031,
        ),
    ] {
        assert_eq!(
            errcode(&post(&app, &t, "user/create", body.clone()).await),
            code,
            "{body}"
        );
    }
    let user = get(&app, &t, "user/get", "userid=zhangsan").await;
    assert_eq!(user["name"], "张三");
    assert_eq!(user["gender"], "1");
    assert_eq!(user["telephone"], "010-1", "legacy tel maps to telephone");
    assert_eq!(user["department"], json!([20]));
    assert_eq!(user["is_leader_in_dept"], json!([1]));
    assert_eq!(user["status"], 4, "not activated until first sign-in");
    assert_eq!(
        errcode(&get(&app, &t, "user/get", "userid=nobody").await),
        60111
    );
    assert_eq!(
        errcode(&get(&app, &t, "department/delete", "id=20").await),
        60005
    );

    let dept = get(&app, &t, "department/get", "id=20").await;
    assert_eq!(dept["department"]["department_leader"], json!(["zhangsan"]));
    let all = get(&app, &t, "department/list", "").await;
    let ids: Vec<i64> = all["department"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, sales_id, 20]);
    let flat = get(
        &app,
        &t,
        "user/simplelist",
        &format!("department_id={sales_id}"),
    )
    .await;
    assert_eq!(flat["userlist"], json!([]));
    let deep = get(
        &app,
        &t,
        "user/list",
        &format!("department_id={sales_id}&fetch_child=1"),
    )
    .await;
    let names: Vec<&str> = deep["userlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userid"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert_eq!(
        errcode(&get(&app, &t, "user/simplelist", "department_id=999").await),
        60003
    );

    assert_eq!(
        get(&app, &t, "user/authsucc", "userid=zhangsan").await["errcode"],
        0
    );
    assert_eq!(
        get(&app, &t, "user/get", "userid=zhangsan").await["status"],
        1
    );
    let by_mobile = post(&app, &t, "user/getuserid", json!({"mobile": "13800000001"})).await;
    assert_eq!(by_mobile["userid"], "zhangsan");
    let by_mail = post(
        &app,
        &t,
        "user/get_userid_by_email",
        json!({"email": "ZS@example.com", "email_type": 2}),
    )
    .await;
    assert_eq!(by_mail["userid"], "zhangsan");
    let openid = post(
        &app,
        &t,
        "user/convert_to_openid",
        json!({"userid": "zhangsan"}),
    )
    .await;
    assert!(openid["openid"].as_str().unwrap().starts_with('o'));
    assert_eq!(
        errcode(
            &post(
                &app,
                &t,
                "user/batchdelete",
                json!({"useridlist": ["lisi", "ghost"]})
            )
            .await
        ),
        60111
    );
    assert_eq!(
        get(&app, &t, "user/get", "userid=lisi").await["errcode"],
        0,
        "all or nothing"
    );
    assert_eq!(
        errcode(
            &app.post_raw(
                &format!("/cgi-bin/user/create?access_token={t}"),
                "{not json"
            )
            .await
        ),
        47001
    );
}

async fn app_range_confines_reads_and_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = contact_token(&app).await;
    common::post_all(
        &app,
        &t,
        &[
            (
                "department/create",
                json!({"name": "Sales", "parentid": 1, "id": 2}),
            ),
            (
                "department/create",
                json!({"name": "East", "parentid": 2, "id": 3}),
            ),
            (
                "department/create",
                json!({"name": "Finance", "parentid": 1, "id": 4}),
            ),
            (
                "user/create",
                json!({"userid": "seller", "name": "S", "department": [3]}),
            ),
        ],
    )
    .await;
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "cfo", "name": "C", "department": [4]}),
    )
    .await;
    let (agentid, secret) = app.app(&corp.corpid, "CRM").await;
    let range = Range {
        depts: vec![DeptId::new(2).unwrap()],
        ..Default::default()
    };
    app.services
        .set_app_range(
            Actor::System,
            &corp.corpid,
            AgentId::new(agentid).unwrap(),
            Some(range),
        )
        .await
        .unwrap();
    let a = app.token(&corp.corpid, &secret).await;
    let agent = get(&app, &a, "agent/get", &format!("agentid={agentid}")).await;
    assert_eq!(agent["allow_partys"]["partyid"], json!([2]), "{agent}");
    assert_eq!(agent["allow_userinfos"]["user"], json!([]), "{agent}");
    assert_eq!(
        get(&app, &a, "user/get", "userid=seller").await["errcode"],
        0
    );
    assert_eq!(
        errcode(&get(&app, &a, "user/get", "userid=cfo").await),
        60011
    );
    assert_eq!(
        errcode(&get(&app, &a, "department/get", "id=4").await),
        60011
    );
    assert_eq!(
        errcode(
            &post(
                &app,
                &a,
                "department/create",
                json!({"name": "X", "parentid": 4})
            )
            .await
        ),
        60011
    );
    assert_eq!(
        errcode(
            &post(
                &app,
                &a,
                "user/update",
                json!({"userid": "seller", "department": [4]})
            )
            .await
        ),
        60011
    );
    assert_eq!(
        errcode(&get(&app, &a, "user/simplelist", "department_id=4").await),
        60011
    );
    let ok = post(
        &app,
        &a,
        "department/create",
        json!({"name": "West", "parentid": 2}),
    )
    .await;
    assert_eq!(ok["errcode"], 0, "inside the range: {ok}");
    let visible = get(&app, &a, "department/list", "").await;
    let ids: Vec<i64> = visible["department"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.contains(&2) && ids.contains(&3) && !ids.contains(&4) && !ids.contains(&1),
        "{ids:?}"
    );
    // Tags: an app changes only its own.
    let contact_tag = post(&app, &t, "tag/create", json!({"tagname": "corp"})).await["tagid"]
        .as_i64()
        .unwrap();
    assert_eq!(
        errcode(
            &post(
                &app,
                &a,
                "tag/update",
                json!({"tagid": contact_tag, "tagname": "x"})
            )
            .await
        ),
        60011
    );
    let own = post(&app, &a, "tag/create", json!({"tagname": "mine"})).await["tagid"]
        .as_i64()
        .unwrap();
    let added = post(
        &app,
        &a,
        "tag/addtagusers",
        json!({"tagid": own, "userlist": ["seller", "cfo"]}),
    )
    .await;
    assert_eq!(
        added["invalidlist"], "cfo",
        "outside the range counts as invalid: {added}"
    );
}

async fn tenants_cannot_see_each_others_directory(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, a) = contact_token(&app).await;
    let other = app.corp("Other").await;
    let b = app.token(&other.corpid, &other.secret).await;
    post(
        &app,
        &a,
        "department/create",
        json!({"name": "Secret", "parentid": 1, "id": 7}),
    )
    .await;
    post(
        &app,
        &a,
        "user/create",
        json!({"userid": "spy-target", "name": "T", "mobile": "13900000000"}),
    )
    .await;
    let tag = post(&app, &a, "tag/create", json!({"tagname": "vip"})).await["tagid"]
        .as_i64()
        .unwrap();
    assert_eq!(
        errcode(&get(&app, &b, "user/get", "userid=spy-target").await),
        60111
    );
    assert_eq!(
        errcode(&get(&app, &b, "department/get", "id=7").await),
        60003
    );
    assert_eq!(
        errcode(&get(&app, &b, "department/delete", "id=7").await),
        60003
    );
    assert_eq!(
        errcode(
            &post(
                &app,
                &b,
                "user/update",
                json!({"userid": "spy-target", "name": "pwned"})
            )
            .await
        ),
        60111
    );
    assert_eq!(
        errcode(&get(&app, &b, "tag/get", &format!("tagid={tag}")).await),
        40068
    );
    assert_eq!(
        errcode(&post(&app, &b, "user/getuserid", json!({"mobile": "13900000000"})).await),
        60111
    );
    // The same ids are free in the other corp.
    assert_eq!(
        post(
            &app,
            &b,
            "user/create",
            json!({"userid": "spy-target", "name": "Mine", "mobile": "13900000000"})
        )
        .await["errcode"],
        0
    );
    assert_eq!(
        get(&app, &a, "user/get", "userid=spy-target").await["name"],
        "T"
    );
}

async fn tags_round_trip_with_partial_failures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, t) = contact_token(&app).await;
    post(&app, &t, "user/create", json!({"userid": "a", "name": "A"})).await;
    let created = post(
        &app,
        &t,
        "tag/create",
        json!({"tagname": "Leads", "tagid": "12"}),
    )
    .await;
    assert_eq!(created["tagid"], 12);
    assert_eq!(
        errcode(&post(&app, &t, "tag/create", json!({"tagname": "Leads"})).await),
        40071
    );
    assert_eq!(
        errcode(&post(&app, &t, "tag/create", json!({"tagname": "x".repeat(33)})).await),
        40072
    );
    let partial = post(
        &app,
        &t,
        "tag/addtagusers",
        json!({"tagid": 12, "userlist": ["a", "ghost"], "partylist": [1, 99]}),
    )
    .await;
    assert_eq!(partial["errcode"], 0);
    assert_eq!(partial["invalidlist"], "ghost");
    assert_eq!(partial["invalidparty"], json!([99]));
    assert_eq!(
        errcode(
            &post(
                &app,
                &t,
                "tag/addtagusers",
                json!({"tagid": 12, "userlist": ["ghost"]})
            )
            .await
        ),
        40070
    );
    let got = get(&app, &t, "tag/get", "tagid=12").await;
    assert_eq!(got["tagname"], "Leads");
    assert_eq!(got["userlist"], json!([{"userid": "a", "name": "A"}]));
    assert_eq!(got["partylist"], json!([1]));
    assert_eq!(
        post(
            &app,
            &t,
            "tag/deltagusers",
            json!({"tagid": 12, "userlist": ["a"]})
        )
        .await["errcode"],
        0
    );
    assert_eq!(
        post(
            &app,
            &t,
            "tag/update",
            json!({"tagid": 12, "tagname": "Heads"})
        )
        .await["errcode"],
        0
    );
    let list = get(&app, &t, "tag/list", "").await;
    assert_eq!(list["taglist"], json!([{"tagid": 12, "tagname": "Heads"}]));
    assert_eq!(get(&app, &t, "tag/delete", "tagid=12").await["errcode"], 0);
    assert_eq!(errcode(&get(&app, &t, "tag/get", "tagid=12").await), 40068);
}

async fn list_id_pages_every_membership_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, t) = contact_token(&app).await;
    post(
        &app,
        &t,
        "department/create",
        json!({"name": "D", "parentid": 1, "id": 2}),
    )
    .await;
    for i in 0..7 {
        let depts = if i % 2 == 0 {
            json!([1, 2])
        } else {
            json!([2])
        };
        post(
            &app,
            &t,
            "user/create",
            json!({"userid": format!("u{i}"), "name": "n", "department": depts}),
        )
        .await;
    }
    let mut cursor = String::new();
    let mut rows = Vec::new();
    for _ in 0..20 {
        let page = post(
            &app,
            &t,
            "user/list_id",
            json!({"cursor": cursor, "limit": 2}),
        )
        .await;
        assert_eq!(page["errcode"], 0, "{page}");
        for r in page["dept_user"].as_array().unwrap() {
            rows.push((
                r["userid"].as_str().unwrap().to_owned(),
                r["department"].as_i64().unwrap(),
            ));
        }
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    let admin_rows = rows.iter().filter(|(u, _)| u == "admin").count();
    assert_eq!(rows.len(), 4 * 2 + 3 + admin_rows, "{rows:?}");
    let mut dedup = rows.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), rows.len(), "no membership twice");
    assert_eq!(
        errcode(&post(&app, &t, "user/list_id", json!({"limit": 0})).await),
        40058
    );
}

async fn renamed_and_deleted_members_stay_attributable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = contact_token(&app).await;
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "boss", "name": "Boss"}),
    )
    .await;
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "worker", "name": "W", "direct_leader": ["boss"]}),
    )
    .await;
    let renamed = post(
        &app,
        &t,
        "user/update",
        json!({"userid": "boss", "new_userid": "chief", "position": "CEO"}),
    )
    .await;
    assert_eq!(renamed["errmsg"], "updated");
    assert_eq!(
        get(&app, &t, "user/get", "userid=worker").await["direct_leader"],
        json!(["chief"])
    );
    assert_eq!(
        get(&app, &t, "user/delete", "userid=chief").await["errmsg"],
        "deleted"
    );
    assert_eq!(
        errcode(&get(&app, &t, "user/get", "userid=chief").await),
        60111
    );
    assert_eq!(
        get(&app, &t, "user/get", "userid=worker").await["direct_leader"],
        json!([])
    );
    let chief = UserId::parse("chief").unwrap();
    assert_eq!(
        app.services
            .member_name(&corp.corpid, &chief)
            .await
            .unwrap()
            .as_deref(),
        Some("Boss")
    );
    let audit = app.services.tail_audit(&corp.corpid, 50).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.record.action == "member.delete" && e.record.target == "member:chief")
    );
    assert!(
        audit
            .iter()
            .any(|e| e.record.action == "member.update" && e.record.target == "member:boss->chief")
    );
}

async fn changes_by_another_process_are_seen(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = contact_token(&app).await;
    assert_eq!(
        errcode(&get(&app, &t, "user/get", "userid=late").await),
        60111
    );
    // A second set of services over the same database stands for the CLI.
    let store = qiye_server::open_store(&app.config).await.unwrap();
    let other =
        qiye_server::services_with_clock(&app.config, store, Arc::new(app.clock.clone())).unwrap();
    let caller = DirCaller::operator(corp.corpid.clone(), Actor::Cli("test".into()));
    other
        .create_member(
            &caller,
            UserId::parse("late").unwrap(),
            MemberFields {
                name: Some("Late".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        get(&app, &t, "user/get", "userid=late").await["name"],
        "Late"
    );
    // And a write through the server after it still commits (version moved on).
    assert_eq!(
        post(
            &app,
            &t,
            "user/update",
            json!({"userid": "late", "name": "Later"})
        )
        .await["errcode"],
        0
    );
    let seen = other
        .dir_read(&caller, |v| {
            v.dir
                .member(&UserId::parse("late").unwrap())
                .map(|m| m.name.clone())
        })
        .await
        .unwrap();
    assert_eq!(seen.as_deref(), Some("Later"));
}

async fn change_callbacks_arrive_encrypted_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = contact_token(&app).await;
    let receiver = common::CallbackReceiver::spawn(&corp.corpid).await;
    let (agentid, _) = app.app(&corp.corpid, "HR").await;
    let config = receiver.config();
    app.services
        .set_callback(
            Actor::System,
            &corp.corpid,
            AgentId::new(agentid).unwrap(),
            Some(config),
        )
        .await
        .expect("handshake with the receiver");
    post(
        &app,
        &t,
        "department/create",
        json!({"name": "Ops", "parentid": 1, "id": 5}),
    )
    .await;
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "ann", "name": "Ann", "department": [5]}),
    )
    .await;
    post(
        &app,
        &t,
        "user/update",
        json!({"userid": "ann", "position": "Lead"}),
    )
    .await;
    get(&app, &t, "user/delete", "userid=ann").await;
    // The server's own delivery loop runs too; wait (bounded) until all four
    // events have arrived, whoever delivered them.
    let got = receiver.wait_for(&app, 4).await;
    let kinds: Vec<&str> = got
        .iter()
        .map(|x| common::xml_field(x, "ChangeType"))
        .collect();
    assert_eq!(
        kinds,
        ["create_party", "create_user", "update_user", "delete_user"],
        "{got:?}"
    );
    assert!(got[2].contains("<Position><![CDATA[Lead]]></Position>"));
    let log = app
        .services
        .delivery_log(&corp.corpid, AgentId::new(agentid).unwrap(), None, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|i| i.delivered_at.is_some()));
}

/// Listings are served from rendered bytes: they must still follow every
/// change (from this process or another) and never cross callers' reach.
async fn listings_follow_every_change_and_every_caller(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = contact_token(&app).await;
    common::post_all(
        &app,
        &t,
        &[
            (
                "department/create",
                json!({"name": "A", "parentid": 1, "id": 2}),
            ),
            (
                "department/create",
                json!({"name": "B", "parentid": 1, "id": 3}),
            ),
            (
                "user/create",
                json!({"userid": "a1", "name": "A1", "department": [2]}),
            ),
        ],
    )
    .await;
    let listed = |reply: serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = reply["userlist"]
            .as_array()
            .expect("userlist")
            .iter()
            .map(|u| u["userid"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let all = "department_id=1&fetch_child=1";
    assert_eq!(
        listed(get(&app, &t, "user/simplelist", all).await),
        ["a1", "admin"]
    );
    // A client that accepts gzip gets the same listing, compressed.
    let response = app
        .client
        .get(format!(
            "{}/cgi-bin/user/simplelist?access_token={t}&{all}",
            app.base
        ))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let packed = response.bytes().await.unwrap();
    let mut unpacked = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&packed[..]),
        &mut unpacked,
    )
    .unwrap();
    let unpacked: serde_json::Value = serde_json::from_str(&unpacked).unwrap();
    assert_eq!(unpacked["errcode"], 0);
    assert_eq!(listed(unpacked), ["a1", "admin"]);
    // A write through the API shows at once.
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "b1", "name": "B1", "department": [3]}),
    )
    .await;
    assert_eq!(
        listed(get(&app, &t, "user/simplelist", all).await),
        ["a1", "admin", "b1"]
    );
    // So does one by another process (the store directly, as the CLI does).
    let store = qiye_server::open_store(&app.config).await.unwrap();
    let other =
        qiye_server::services_with_clock(&app.config, store, Arc::new(app.clock.clone())).unwrap();
    other
        .create_member(
            &DirCaller::operator(corp.corpid.clone(), Actor::System),
            UserId::parse("c1").unwrap(),
            MemberFields {
                name: Some("C1".into()),
                departments: Some(vec![DeptId::new(3).unwrap()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        listed(get(&app, &t, "user/list", all).await),
        ["a1", "admin", "b1", "c1"]
    );
    // An app sees its range only, though the corp-wide listing is cached.
    let (agentid, secret) = app.app(&corp.corpid, "A only").await;
    app.services
        .set_app_range(
            Actor::System,
            &corp.corpid,
            AgentId::new(agentid).unwrap(),
            Some(Range {
                depts: vec![DeptId::new(2).unwrap()],
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let a = app.token(&corp.corpid, &secret).await;
    assert_eq!(
        listed(get(&app, &a, "user/simplelist", "department_id=2&fetch_child=1").await),
        ["a1"]
    );
    // The whole tree from the root: only what the range reaches, never the
    // cached corp-wide listing.
    assert_eq!(listed(get(&app, &a, "user/simplelist", all).await), ["a1"]);
    assert_eq!(
        errcode(&get(&app, &a, "user/simplelist", "department_id=3").await),
        60011
    );
    // Widening its range changes what it gets, without a directory change.
    app.services
        .set_app_range(
            Actor::System,
            &corp.corpid,
            AgentId::new(agentid).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        listed(get(&app, &a, "user/simplelist", all).await),
        ["a1", "admin", "b1", "c1"]
    );
}

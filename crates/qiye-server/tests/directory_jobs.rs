//! Uploads and directory jobs over real HTTP, on SQLite and PostgreSQL:
//! `media/upload` limits and isolation, `batch/*` imports with per-row
//! results and the `batch_job_result` event, delete protection, app ranges,
//! `export/*` files decrypted and checked, and a job picked up by another
//! node after its runner died.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    Backend, CallbackReceiver, TestApp, corp_token, errcode, get, post, upload, xml_field,
};
use md5::{Digest, Md5};
use qiye_domain::clock::ManualClock;
use qiye_domain::directory::Range;
use qiye_domain::ids::{AgentId, DeptId};
use qiye_domain::job::JobStatus;
use qiye_wecom::crypto::FileCipher;
use serde_json::{Value, json};

on_both_backends!(
    uploads_are_limited_typed_and_per_corp,
    sync_import_reports_every_row_and_tells_the_callback,
    replace_import_honours_delete_protection,
    import_gives_new_members_their_leaders_in_one_event,
    app_jobs_stay_inside_the_app_range,
    exports_decrypt_to_the_directory,
    a_job_whose_runner_died_is_finished_by_another_node,
);

const EXPORT_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

async fn upload_csv(app: &TestApp, token: &str, csv: &str) -> String {
    let reply = upload(app, token, "file", "members.csv", csv.as_bytes().to_vec()).await;
    assert_eq!(errcode(&reply), 0, "{reply}");
    reply["media_id"].as_str().unwrap().to_owned()
}

/// Polls `api` until the job's status is `done` (bounded: one minute, for a
/// loaded CI machine); returns the last reply.
async fn poll(app: &TestApp, token: &str, api: &str, jobid: &str, done: i64) -> Value {
    let mut reply = Value::Null;
    for _ in 0..1200 {
        reply = get(app, token, api, &format!("jobid={jobid}")).await;
        assert_eq!(errcode(&reply), 0, "{reply}");
        if reply["status"] == done {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {jobid} did not finish: {reply}");
}

/// Uploads a member file, runs `batch/syncuser` on it and waits for the end.
async fn sync_and_wait(app: &TestApp, token: &str, csv: &str) -> Value {
    let media_id = upload_csv(app, token, csv).await;
    let job = post(app, token, "batch/syncuser", json!({"media_id": media_id})).await;
    let jobid = job["jobid"].as_str().expect("jobid").to_owned();
    poll(app, token, "batch/getresult", &jobid, 3).await
}

async fn member_count(app: &TestApp, token: &str) -> usize {
    let list = get(
        app,
        token,
        "user/simplelist",
        "department_id=1&fetch_child=1",
    )
    .await;
    list["userlist"].as_array().unwrap().len()
}

async fn uploads_are_limited_typed_and_per_corp(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    let (_, other) = corp_token(&app, "Other").await;
    let content = "姓名,帐号\n张三,zhangsan\n".as_bytes().to_vec();
    let ok = upload(&app, &t, "file", "../../成员.csv", content.clone()).await;
    assert_eq!(ok["type"], "file", "{ok}");
    assert!(ok["created_at"].is_string(), "created_at is a string: {ok}");
    let media_id = ok["media_id"].as_str().unwrap();

    // The bytes come back with the cleaned file name.
    let response = app
        .client
        .get(format!(
            "{}/cgi-bin/media/get?access_token={t}&media_id={media_id}",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%E6%88%90%E5%91%98.csv"),
        "{disposition}"
    );
    assert!(!disposition.contains(".."), "{disposition}");
    assert_eq!(response.bytes().await.unwrap().to_vec(), content);

    for (kind, bytes, code) in [
        ("exe", content.clone(), 40005),
        ("file", Vec::new(), 44001),
        ("file", b"12345".to_vec(), 40006),
        ("voice", vec![b'x'; 2 * 1024 * 1024 + 1], 40006),
        ("file", vec![b'x'; 20 * 1024 * 1024 + 1], 40006),
    ] {
        let reply = upload(&app, &t, kind, "f.bin", bytes).await;
        assert_eq!(errcode(&reply), code, "{kind}: {reply}");
    }
    // No `media` part at all.
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = app
        .client
        .post(format!(
            "{}/cgi-bin/media/upload?access_token={t}&type=file",
            app.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&common::check_envelope(response).await), 44001);
    // A bad token is refused before anything is stored.
    assert_eq!(
        errcode(&upload(&app, "nonsense", "file", "f.csv", content.clone()).await),
        40014
    );

    // Another corp cannot read it; unknown and malformed ids are the same error.
    for (token, id) in [(&other, media_id), (&t, "3unknown"), (&t, "../../qiye.db")] {
        assert_eq!(
            errcode(&get(&app, token, "media/get", &format!("media_id={id}")).await),
            40007
        );
    }
    // Media expire after three days.
    app.clock.advance_secs(3 * 24 * 3600 + 1);
    let t = app.token(&corp.corpid, &corp.secret).await;
    assert_eq!(
        errcode(&get(&app, &t, "media/get", &format!("media_id={media_id}")).await),
        40007
    );
    app.services.housekeeping().await.unwrap();
    let files = std::fs::read_dir(app.config.data_dir.join("media"))
        .unwrap()
        .flat_map(|corp| std::fs::read_dir(corp.unwrap().path()).unwrap())
        .count();
    assert_eq!(files, 0, "expired media and refused uploads leave no files");
}

/// 1,000 member rows, three of them bad (rows 11, 501 and 1000 of the data).
fn thousand_rows_three_bad() -> String {
    let mut csv = String::from("姓名,帐号,部门,手机,性别\n");
    for i in 1..=1000 {
        let line = match i {
            11 => format!("Bad{i},bad id {i},Sales/East,,男\n"),
            501 => format!(",noname{i},Sales/East,,男\n"),
            1000 => format!("Bad{i},u{i},Sales/East,not-a-mobile,女\n"),
            _ => format!("成员{i},u{i},Sales/East,138{i:08},男\n"),
        };
        csv.push_str(&line);
    }
    csv
}

async fn sync_import_reports_every_row_and_tells_the_callback(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    let (_, other) = corp_token(&app, "Other").await;
    let receiver = CallbackReceiver::spawn(&corp.corpid).await;
    let media_id = upload_csv(&app, &t, &thousand_rows_three_bad()).await;
    let job = post(
        &app,
        &t,
        "batch/syncuser",
        json!({"media_id": media_id, "to_invite": false,
               "callback": {"url": receiver.url, "token": receiver.token,
                            "encodingaeskey": receiver.key}}),
    )
    .await;
    let jobid = job["jobid"].as_str().expect("jobid").to_owned();
    let result = poll(&app, &t, "batch/getresult", &jobid, 3).await;
    assert_eq!(result["type"], "sync_user");
    assert_eq!(result["total"], 1000);
    assert_eq!(result["percentage"], 100);
    let rows = result["result"].as_array().unwrap();
    assert_eq!(rows.len(), 1000);
    let failed: Vec<&Value> = rows.iter().filter(|r| r["errcode"] != 0).collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|r| r["userid"] == "u1000" && r["errcode"] == 60103)
    );
    // 997 imported, plus the corp's first admin.
    assert_eq!(member_count(&app, &t).await, 998);
    let u2 = get(&app, &t, "user/get", "userid=u2").await;
    assert_eq!(u2["name"], "成员2");
    assert_eq!(u2["mobile"], "13800000002");

    // The job's own callback hears of the result, encrypted.
    let events = receiver.wait_for(&app, 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(xml_field(&events[0], "Event"), "batch_job_result");
    assert_eq!(xml_field(&events[0], "JobId"), jobid);
    assert_eq!(xml_field(&events[0], "JobType"), "sync_user");
    assert_eq!(xml_field(&events[0], "ErrCode"), "0");

    // Another corp cannot read the job; unknown ids are refused.
    assert_eq!(
        errcode(&get(&app, &other, "batch/getresult", &format!("jobid={jobid}")).await),
        40088
    );
    assert_eq!(
        errcode(&get(&app, &t, "batch/getresult", "jobid=nope").await),
        40088
    );
    // Nor can it import the corp's file.
    assert_eq!(
        errcode(
            &post(
                &app,
                &other,
                "batch/syncuser",
                json!({"media_id": media_id})
            )
            .await
        ),
        40007
    );

    // Refused at once, nothing queued: unreadable file, missing media, an
    // image, a bad callback URL, malformed JSON.
    let no_header = upload_csv(&app, &t, "a,b,c\n1,2,3\n").await;
    let image = upload(&app, &t, "image", "x.png", vec![7; 64]).await;
    for (body, code) in [
        (json!({"media_id": no_header}), 40092),
        (json!({}), 40007),
        (json!({"media_id": image["media_id"]}), 40004),
        (
            json!({"media_id": media_id, "callback": {"url": "ftp://x", "token": "t",
                                                   "encodingaeskey": receiver.key}}),
            40057,
        ),
    ] {
        assert_eq!(
            errcode(&post(&app, &t, "batch/replaceuser", body.clone()).await),
            code,
            "{body}"
        );
    }
    let malformed = app
        .post_raw(
            &format!("/cgi-bin/batch/syncuser?access_token={t}"),
            "{not json",
        )
        .await;
    assert_eq!(errcode(&malformed), 47001, "{malformed}");
    assert_eq!(member_count(&app, &t).await, 998);
}

async fn replace_import_honours_delete_protection(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    let (_, secret, receiver) = common::app_with_receiver(&app, &corp.corpid).await;
    let app_token = app.token(&corp.corpid, &secret).await;
    let mut csv = String::from("name,userid,department\n");
    for i in 0..100 {
        csv.push_str(&format!("M{i},m{i},Ops\n"));
    }
    sync_and_wait(&app, &t, &csv).await;
    let before = member_count(&app, &t).await;
    assert_eq!(before, 101, "100 imported + the bootstrap admin");

    // Replacing with 10 rows would delete 91 members: refused, nothing changes,
    // and the app (whose token started the job) hears the errcode.
    let few = upload_csv(&app, &app_token, &csv[..csv.find("M10,").unwrap()]).await;
    let job = post(
        &app,
        &app_token,
        "batch/replaceuser",
        json!({"media_id": few}),
    )
    .await;
    let jobid = job["jobid"].as_str().unwrap().to_owned();
    let result = poll(&app, &app_token, "batch/getresult", &jobid, 3).await;
    assert_eq!(result["type"], "replace_user");
    assert_eq!(member_count(&app, &t).await, before);
    let events = receiver
        .wait_until(&app, |got| {
            got.iter().any(|e| xml_field(e, "JobId") == jobid)
        })
        .await;
    let event = events
        .iter()
        .find(|e| xml_field(e, "JobId") == jobid)
        .expect("batch_job_result to the app's callback");
    assert_eq!(xml_field(event, "ErrCode"), "45026");

    // replaceparty makes the tree exactly the file's.
    let parties = upload_csv(
        &app,
        &t,
        "部门名称,部门ID,父部门ID,排序\nOps,2,1,10\nLab,30,1,5\n",
    )
    .await;
    let job = post(&app, &t, "batch/replaceparty", json!({"media_id": parties})).await;
    let result = poll(
        &app,
        &t,
        "batch/getresult",
        job["jobid"].as_str().unwrap(),
        3,
    )
    .await;
    assert_eq!(result["type"], "replace_party");
    let rows = result["result"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["partyid"] == 30 && r["action"] == 1 && r["errcode"] == 0),
        "{rows:?}"
    );
    let list = get(&app, &t, "department/simplelist", "").await;
    let ids: Vec<i64> = list["department_id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&30), "{list}");
}

/// Leaders named in the file are part of a new member's creation: a leader
/// created further down the file counts, an unknown leader fails the row
/// with 40031 (as `user/create` does) while the rest import, and each new
/// member is one `create_user` event that already names their leaders.
async fn import_gives_new_members_their_leaders_in_one_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    let (_, other) = corp_token(&app, "Other").await;
    let (agentid, _, receiver) = common::app_with_receiver(&app, &corp.corpid).await;
    let csv = "姓名,帐号,部门,直属上级\n\
               甲,early,Ops/East,late\n\
               乙,late,Ops/East,\n\
               丙,orphan,Ops,ghost\n\
               丁,both,Ops/West,early;late\n";
    let result = sync_and_wait(&app, &t, csv).await;
    let rows = result["result"].as_array().unwrap();
    let code_of = |userid: &str| {
        rows.iter()
            .find(|r| r["userid"] == userid)
            .unwrap_or_else(|| panic!("no row for {userid}: {rows:?}"))["errcode"]
            .clone()
    };
    assert_eq!(code_of("early"), 0, "{rows:?}");
    assert_eq!(code_of("both"), 0, "{rows:?}");
    assert_eq!(code_of("orphan"), 40031, "{rows:?}");
    let leaders_of = |reply: Value| reply["direct_leader"].clone();
    assert_eq!(
        leaders_of(get(&app, &t, "user/get", "userid=early").await),
        json!(["late"])
    );
    assert_eq!(
        leaders_of(get(&app, &t, "user/get", "userid=both").await),
        json!(["early", "late"])
    );
    // The failed leader leaves the member as created without one.
    assert_eq!(
        leaders_of(get(&app, &t, "user/get", "userid=orphan").await),
        json!([])
    );
    // Another corp sees none of it.
    assert_eq!(
        errcode(&get(&app, &other, "user/get", "userid=early").await),
        60111
    );

    // Three departments and one create_user per member, never an update:
    // seven events queued by the import's commit, all delivered.
    let queued = app
        .services
        .delivery_log(&corp.corpid, AgentId::new(agentid).unwrap(), None, 100)
        .await
        .unwrap();
    assert_eq!(queued.len(), 7, "{queued:?}");
    let events = receiver.wait_for(&app, 7).await;
    assert_eq!(events.len(), 7, "{events:?}");
    let kinds: Vec<&str> = events.iter().map(|e| xml_field(e, "ChangeType")).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "create_party").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "create_user").count(),
        4,
        "{kinds:?}"
    );
    let created_early = events
        .iter()
        .find(|e| xml_field(e, "ChangeType") == "create_user" && xml_field(e, "UserID") == "early")
        .expect("early's creation");
    assert_eq!(xml_field(created_early, "DirectLeader"), "late");
}

async fn app_jobs_stay_inside_the_app_range(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    for (id, name) in [(2, "Inside"), (3, "Outside")] {
        post(
            &app,
            &t,
            "department/create",
            json!({"name": name, "parentid": 1, "id": id}),
        )
        .await;
    }
    post(
        &app,
        &t,
        "user/create",
        json!({"userid": "out1", "name": "Out", "department": [3]}),
    )
    .await;
    let (agentid, secret) = app.app(&corp.corpid, "Branch").await;
    let (_, other_secret) = app.app(&corp.corpid, "Other").await;
    app.services
        .set_app_range(
            qiye_domain::audit::Actor::System,
            &corp.corpid,
            AgentId::new(agentid).unwrap(),
            Some(Range {
                depts: vec![DeptId::new(2).unwrap()],
                ..Range::default()
            }),
        )
        .await
        .unwrap();
    let branch = app.token(&corp.corpid, &secret).await;
    let other = app.token(&corp.corpid, &other_secret).await;
    let media_id = upload_csv(
        &app,
        &branch,
        "name,userid,department\nIn,in1,Inside\nSneaky,out1,Inside\n",
    )
    .await;
    let job = post(
        &app,
        &branch,
        "batch/syncuser",
        json!({"media_id": media_id}),
    )
    .await;
    let jobid = job["jobid"].as_str().unwrap().to_owned();
    let result = poll(&app, &branch, "batch/getresult", &jobid, 3).await;
    let rows = result["result"].as_array().unwrap();
    let outcome = |userid: &str| {
        rows.iter()
            .find(|r| r["userid"] == userid)
            .map(|r| r["errcode"].as_i64().unwrap())
    };
    assert_eq!(outcome("in1"), Some(0), "{rows:?}");
    assert_eq!(outcome("out1"), Some(60011), "{rows:?}");
    let out1 = get(&app, &t, "user/get", "userid=out1").await;
    assert_eq!(out1["department"], json!([3]), "untouched: {out1}");
    // Another app of the same corp does not see the job.
    assert_eq!(
        errcode(&get(&app, &other, "batch/getresult", &format!("jobid={jobid}")).await),
        40088
    );

    // The app's export holds only its range.
    let job = post(
        &app,
        &branch,
        "export/simple_user",
        json!({"encoding_aeskey": EXPORT_KEY}),
    )
    .await;
    let files = exported(&app, &branch, job["jobid"].as_str().unwrap()).await;
    let userids: Vec<&str> = files[0]["userlist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userid"].as_str().unwrap())
        .collect();
    assert_eq!(userids, ["in1"]);
}

/// Waits for an export, downloads every file without a token, checks its
/// size and MD5 and returns the decrypted JSON documents.
async fn exported(app: &TestApp, token: &str, jobid: &str) -> Vec<Value> {
    let result = poll(app, token, "export/get_result", jobid, 2).await;
    let mut docs = Vec::new();
    for data in result["data_list"].as_array().unwrap() {
        let url = data["url"].as_str().unwrap();
        assert!(url.starts_with(&app.base), "{url}");
        let bytes = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(data["size"], bytes.len());
        assert_eq!(data["md5"], hex_md5(&bytes));
        let plain = FileCipher::new(EXPORT_KEY).unwrap().open(&bytes).unwrap();
        docs.push(serde_json::from_slice(&plain).unwrap());
    }
    docs
}

fn hex_md5(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn exports_decrypt_to_the_directory(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, t) = corp_token(&app, "Acme").await;
    let (_, other) = corp_token(&app, "Other").await;
    post(
        &app,
        &t,
        "department/create",
        json!({"name": "Ops", "parentid": 1, "id": 2}),
    )
    .await;
    let mut csv = String::from("name,userid,department,mobile\n");
    for i in 0..30 {
        csv.push_str(&format!("M{i},m{i},Ops,1390000{i:04}\n"));
    }
    sync_and_wait(&app, &t, &csv).await;
    let tag = post(&app, &t, "tag/create", json!({"tagname": "Oncall"})).await;
    let tagid = tag["tagid"].as_i64().unwrap();
    post(
        &app,
        &t,
        "tag/addtagusers",
        json!({"tagid": tagid, "userlist": ["m1", "m2"], "partylist": [2]}),
    )
    .await;

    let start = |api: &'static str, body: Value| {
        let app = &app;
        let t = t.clone();
        async move { post(app, &t, api, body).await }
    };
    let users = start("export/user", json!({"encoding_aeskey": EXPORT_KEY})).await;
    let docs = exported(&app, &t, users["jobid"].as_str().unwrap()).await;
    assert_eq!(docs.len(), 1);
    let list = docs[0]["userlist"].as_array().unwrap();
    assert_eq!(list.len(), 31, "30 imported + the admin");
    let m3 = list.iter().find(|u| u["userid"] == "m3").unwrap();
    assert_eq!(m3["mobile"], "13900000003");
    assert_eq!(m3["department"], json!([2]));

    let depts = start("export/department", json!({"encoding_aeskey": EXPORT_KEY})).await;
    let docs = exported(&app, &t, depts["jobid"].as_str().unwrap()).await;
    let names: Vec<&str> = docs[0]["department"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Ops"), "{names:?}");

    let tagged = start(
        "export/taguser",
        json!({"encoding_aeskey": EXPORT_KEY, "tagid": tagid}),
    )
    .await;
    let docs = exported(&app, &t, tagged["jobid"].as_str().unwrap()).await;
    assert_eq!(docs[0]["partylist"], json!([2]));
    assert_eq!(docs[0]["userlist"].as_array().unwrap().len(), 2);

    // Several files when a block is smaller than the corp.
    let mut many = String::from("name,userid,department\n");
    for i in 0..10_001 {
        many.push_str(&format!("B{i},b{i},Ops\n"));
    }
    sync_and_wait(&app, &t, &many).await;
    let blocks = start(
        "export/simple_user",
        json!({"encoding_aeskey": EXPORT_KEY, "block_size": 10_000}),
    )
    .await;
    let docs = exported(&app, &t, blocks["jobid"].as_str().unwrap()).await;
    let sizes: Vec<usize> = docs
        .iter()
        .map(|d| d["userlist"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [10_000, 32]);

    // Bad requests are refused; another corp cannot read the job.
    for (api, body, code) in [
        ("export/user", json!({"encoding_aeskey": "short"}), 40058),
        ("export/user", json!({}), 40058),
        (
            "export/user",
            json!({"encoding_aeskey": EXPORT_KEY, "block_size": 5}),
            40058,
        ),
        (
            "export/taguser",
            json!({"encoding_aeskey": EXPORT_KEY, "tagid": 999}),
            40068,
        ),
    ] {
        assert_eq!(errcode(&start(api, body.clone()).await), code, "{body}");
    }
    assert_eq!(
        errcode(
            &get(
                &app,
                &other,
                "export/get_result",
                &format!("jobid={}", users["jobid"].as_str().unwrap())
            )
            .await
        ),
        40088
    );
    // The basic plan imports but does not export.
    let basic = app
        .services
        .create_corp(
            "Basic",
            qiye_domain::plan::Plan::Basic,
            qiye_domain::audit::Actor::System,
        )
        .await
        .unwrap();
    let basic_token = app
        .token(&basic.corp.id, basic.contact_secret.expose())
        .await;
    assert_eq!(
        errcode(
            &post(
                &app,
                &basic_token,
                "export/user",
                json!({"encoding_aeskey": EXPORT_KEY})
            )
            .await
        ),
        45024
    );
    // A download link of another corp's id leads nowhere.
    let bogus = app
        .client
        .get(format!(
            "{}/cgi-bin/export/download/wwnosuchcorp00000/3abc",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&common::check_envelope(bogus).await), 40007);
}

async fn a_job_whose_runner_died_is_finished_by_another_node(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (corp, t) = corp_token(&app, "Acme").await;
    // A second node on the same database and data directory, without a job
    // runner: it accepts the job and then dies while running it.
    let store = qiye_server::open_store(&app.config).await.unwrap();
    let clock = ManualClock::starting_now();
    let node_b =
        qiye_server::services_with_clock(&app.config, Arc::clone(&store), Arc::new(clock)).unwrap();
    let media_id = upload_csv(&app, &t, "name,userid,department\nAnn,ann,Ops\n").await;
    let caller = qiye_app::directory::DirCaller::operator(
        corp.corpid.clone(),
        qiye_domain::audit::Actor::ContactSync,
    );
    let claimed = {
        let jobid = node_b
            .submit_import(
                &caller,
                qiye_app::jobs::ImportJobRequest {
                    job_type: qiye_domain::job::JobType::SyncUser,
                    media_id,
                    callback: None,
                },
            )
            .await
            .unwrap();
        // Node A may already have claimed it through its poll; then it simply
        // finishes it, which is what this test wants to see anyway.
        let now = app.services.clock().now_millis();
        let claimed = store.claim_job(now, 60_000).await.unwrap();
        (jobid, claimed.is_some())
    };
    let (jobid, b_claimed) = claimed;
    if b_claimed {
        // Node B "dies" holding the lease: node A does not touch the job...
        assert_eq!(app.services.run_due_jobs().await.unwrap(), 0);
        let job = store.get_job(&corp.corpid, &jobid).await.unwrap();
        assert!(!job.status.is_finished());
        // ...until the lease lapses.
        app.clock.advance_secs(61);
    }
    let result = poll(&app, &t, "batch/getresult", &jobid, 3).await;
    assert_eq!(result["result"][0]["userid"], "ann");
    assert_eq!(result["result"][0]["errcode"], 0);
    let job = store.get_job(&corp.corpid, &jobid).await.unwrap();
    assert_eq!(job.status, JobStatus::Done);
    assert_eq!(get(&app, &t, "user/get", "userid=ann").await["name"], "Ann");
}

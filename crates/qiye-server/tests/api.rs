//! The WeCom-compatible API over real HTTP, on SQLite and on PostgreSQL:
//! tokens, every errcode of the foundation, tenant isolation, rate limits
//! and the audit trail of API mutations.

mod common;

use common::{Backend, TestApp, errcode};
use qiye_domain::audit::{Actor, Outcome};
use qiye_domain::credential::CredentialKind;
use qiye_domain::rate::{CorpRateOverride, RateQuota};
use serde_json::json;

on_both_backends!(
    gettoken_issues_one_token_per_secret,
    gettoken_refuses_bad_credentials,
    token_check_errors,
    rotation_revokes_tokens_and_secret,
    agent_reads_are_confined_to_the_token,
    agent_set_validates_and_audits,
    tenants_cannot_touch_each_other,
    envelope_for_bad_requests,
    rate_limits_per_corp_app_and_ip,
    cached_reads_see_writes_through_the_server,
    strangers_cannot_spend_a_corps_budget,
    housekeeping_prunes_long_expired_tokens,
);

async fn gettoken_issues_one_token_per_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let first = app.gettoken(&corp.corpid, &corp.secret).await;
    assert_eq!(first["errmsg"], "ok");
    assert_eq!(first["expires_in"], 7200);
    let token = first["access_token"].as_str().unwrap();
    assert!(!token.is_empty() && token.len() <= 512);
    app.clock.advance_secs(100);
    let again = app.gettoken(&corp.corpid, &corp.secret).await;
    assert_eq!(
        again["access_token"], first["access_token"],
        "same token while valid"
    );
    assert_eq!(again["expires_in"], 7100, "expires_in counts down");
    let (_, app_secret) = app.app(&corp.corpid, "OA").await;
    assert_ne!(
        app.token(&corp.corpid, &app_secret).await,
        token,
        "each secret has its own token"
    );
    // Upper-case corpid is the same corp (WeCom ids are case-insensitive).
    let upper = corp.corpid.as_str().to_uppercase();
    assert_eq!(
        app.token(
            &qiye_domain::ids::CorpId::parse(&upper).unwrap(),
            &corp.secret
        )
        .await,
        token
    );
}

async fn gettoken_refuses_bad_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let other = app.corp("Beta").await;
    let cases = [
        (format!("corpid={}&corpsecret=wrong", corp.corpid), 40001),
        (
            format!("corpid={}&corpsecret={}", corp.corpid, other.secret),
            40001,
        ),
        (
            format!("corpid=ww0000000000000000&corpsecret={}", corp.secret),
            40013,
        ),
        (
            format!("corpid=not-a-corp&corpsecret={}", corp.secret),
            40013,
        ),
        (format!("corpsecret={}", corp.secret), 41002),
        (format!("corpid=&corpsecret={}", corp.secret), 41002),
        (format!("corpid={}", corp.corpid), 41004),
        (format!("corpid={}&corpsecret=", corp.corpid), 41004),
    ];
    for (query, expected) in cases {
        let reply = app.get(&format!("/cgi-bin/gettoken?{query}")).await;
        assert_eq!(errcode(&reply), expected, "{query}: {reply}");
        assert!(reply.get("access_token").is_none());
        let errmsg = reply["errmsg"].as_str().unwrap();
        assert!(
            errmsg.contains("hint: [") && errmsg.contains("from ip: 127.0.0.1"),
            "{errmsg}"
        );
    }
}

async fn token_check_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let (agentid, secret) = app.app(&corp.corpid, "OA").await;
    assert_eq!(errcode(&app.get("/cgi-bin/agent/list").await), 41001);
    assert_eq!(
        errcode(&app.get("/cgi-bin/agent/list?access_token=").await),
        41001
    );
    assert_eq!(
        errcode(&app.get("/cgi-bin/agent/list?access_token=nonsense").await),
        40014
    );
    assert_eq!(
        errcode(
            &app.get("/cgi-bin/agent/list?access_token=has%20space")
                .await
        ),
        40014
    );
    let long = "x".repeat(600);
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/list?access_token={long}"))
                .await
        ),
        40014
    );
    let token = app.token(&corp.corpid, &secret).await;
    let ok = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={agentid}"
        ))
        .await;
    assert_eq!(errcode(&ok), 0, "{ok}");
    app.clock.advance_secs(7200);
    let expired = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={agentid}"
        ))
        .await;
    assert_eq!(errcode(&expired), 42001);
    let fresh = app.token(&corp.corpid, &secret).await;
    assert_ne!(fresh, token, "a new token after expiry");
    assert_eq!(
        errcode(
            &app.get(&format!(
                "/cgi-bin/agent/get?access_token={fresh}&agentid={agentid}"
            ))
            .await
        ),
        0
    );
}

async fn rotation_revokes_tokens_and_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let (agentid, secret) = app.app(&corp.corpid, "OA").await;
    let token = app.token(&corp.corpid, &secret).await;
    let agent = qiye_domain::ids::AgentId::new(agentid).unwrap();
    let new_secret = app
        .services
        .rotate_app_secret(&corp.corpid, agent, Actor::System)
        .await
        .unwrap();
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/list?access_token={token}"))
                .await
        ),
        40014
    );
    let old = app.gettoken(&corp.corpid, &secret).await;
    assert_eq!(errcode(&old), 40001);
    let new_token = app.token(&corp.corpid, new_secret.expose()).await;
    assert_ne!(new_token, token);
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/list?access_token={new_token}"))
                .await
        ),
        0
    );
    // The contacts secret was not touched.
    app.token(&corp.corpid, &corp.secret).await;
    app.services
        .rotate_secret(&corp.corpid, CredentialKind::ContactSync, Actor::System)
        .await
        .unwrap();
    let old_contact = app.gettoken(&corp.corpid, &corp.secret).await;
    assert_eq!(errcode(&old_contact), 40001);
}

async fn agent_reads_are_confined_to_the_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let (oa, oa_secret) = app.app(&corp.corpid, "OA").await;
    let (crm, _) = app.app(&corp.corpid, "CRM").await;
    let token = app.token(&corp.corpid, &oa_secret).await;
    let got = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={oa}"
        ))
        .await;
    assert_eq!(got["agentid"], oa);
    assert_eq!(got["name"], "OA");
    assert_eq!(got["allow_partys"]["partyid"], json!([1]));
    assert_eq!(got["allow_userinfos"]["user"], json!([]));
    assert_eq!(got["close"], 0);
    let list = app
        .get(&format!("/cgi-bin/agent/list?access_token={token}"))
        .await;
    assert_eq!(
        list["agentlist"],
        json!([{"agentid": oa, "name": "OA", "square_logo_url": ""}])
    );
    let other = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={crm}"
        ))
        .await;
    assert_eq!(errcode(&other), 301002);
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/get?access_token={token}"))
                .await
        ),
        41011
    );
    assert_eq!(
        errcode(
            &app.get(&format!(
                "/cgi-bin/agent/get?access_token={token}&agentid=abc"
            ))
            .await
        ),
        40056
    );
    assert_eq!(
        errcode(
            &app.get(&format!(
                "/cgi-bin/agent/get?access_token={token}&agentid=-1"
            ))
            .await
        ),
        40056
    );
    let contact = app.token(&corp.corpid, &corp.secret).await;
    let forbidden = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={contact}&agentid={oa}"
        ))
        .await;
    assert_eq!(errcode(&forbidden), 48002);
}

async fn agent_set_validates_and_audits(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let (oa, secret) = app.app(&corp.corpid, "OA").await;
    let token = app.token(&corp.corpid, &secret).await;
    let path = format!("/cgi-bin/agent/set?access_token={token}");
    let body = json!({
        "agentid": oa, "name": "OA 审批", "description": "Approvals for everyone",
        "home_url": "https://oa.example.com/", "redirect_domain": "oa.example.com",
        "report_location_flag": 1, "isreportenter": "1", "isreportuser": 0, "logo_mediaid": "m1",
    });
    let reply = app.post(&path, &body).await;
    assert_eq!(reply, json!({"errcode": 0, "errmsg": "updated"}));
    let got = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={oa}"
        ))
        .await;
    assert_eq!(got["name"], "OA 审批");
    assert_eq!(got["description"], "Approvals for everyone");
    assert_eq!(got["report_location_flag"], 1);
    assert_eq!(got["isreportenter"], 1);
    assert_eq!(got["home_url"], "https://oa.example.com/");
    let invalid = [
        (json!({"agentid": oa, "name": ""}), 45022),
        (json!({"agentid": oa, "name": "x".repeat(33)}), 45022),
        (json!({"agentid": oa, "description": "abc"}), 45004),
        (json!({"agentid": oa, "report_location_flag": 2}), 40059),
        (json!({"agentid": oa, "home_url": "ftp://x"}), 40094),
        (
            json!({"agentid": oa, "redirect_domain": "https://x/"}),
            40094,
        ),
        (json!({"name": "no id"}), 41011),
        (json!({"agentid": "abc"}), 40058),
        (json!({"agentid": oa, "name": 5}), 40058),
    ];
    for (body, expected) in invalid {
        let reply = app.post(&path, &body).await;
        assert_eq!(errcode(&reply), expected, "{body}: {reply}");
    }
    let unchanged = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={token}&agentid={oa}"
        ))
        .await;
    assert_eq!(unchanged, got, "refused requests change nothing");
    let tail = app.services.tail_audit(&corp.corpid, 100).await.unwrap();
    let sets: Vec<_> = tail
        .iter()
        .filter(|e| e.record.action == "agent.set")
        .collect();
    assert_eq!(sets.len(), 10, "one record per call, failed ones too");
    assert_eq!(sets[0].record.outcome, Outcome::Succeeded);
    assert_eq!(
        sets[0].record.actor,
        Actor::App(qiye_domain::ids::AgentId::new(oa).unwrap())
    );
    assert_eq!(sets[0].record.client_ip, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(sets[0].record.target, format!("agent:{oa}"));
    assert_eq!(
        sets[1].record.outcome,
        Outcome::Failed("errcode 45022".into())
    );
}

async fn tenants_cannot_touch_each_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.corp("Alpha").await;
    let b = app.corp("Beta").await;
    let (a_app, a_secret) = app.app(&a.corpid, "Alpha OA").await;
    let (b_app, _) = app.app(&b.corpid, "Beta OA").await;
    assert_eq!(a_app, b_app, "both corps number their first app 1000002");
    let a_token = app.token(&a.corpid, &a_secret).await;
    // A's token reading "1000002" sees A's app, never B's.
    let got = app
        .get(&format!(
            "/cgi-bin/agent/get?access_token={a_token}&agentid={b_app}"
        ))
        .await;
    assert_eq!(got["name"], "Alpha OA");
    let list = app
        .get(&format!("/cgi-bin/agent/list?access_token={a_token}"))
        .await;
    assert_eq!(list["agentlist"].as_array().unwrap().len(), 1);
    assert_eq!(list["agentlist"][0]["name"], "Alpha OA");
    // A's token changing "1000002" changes A's app, never B's.
    let reply = app
        .post(
            &format!("/cgi-bin/agent/set?access_token={a_token}"),
            &json!({"agentid": b_app, "name": "Hijack"}),
        )
        .await;
    assert_eq!(errcode(&reply), 0);
    let b_apps = app.services.list_apps(&b.corpid).await.unwrap();
    assert_eq!(b_apps[0].name.as_str(), "Beta OA");
    // B's secret does not open A, and A's token is not B's.
    let cross = app.gettoken(&a.corpid, &b.secret).await;
    assert_eq!(errcode(&cross), 40001);
    assert!(
        app.services
            .tail_audit(&b.corpid, 100)
            .await
            .unwrap()
            .iter()
            .all(|e| e.record.action != "agent.set")
    );
}

async fn envelope_for_bad_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let (oa, secret) = app.app(&corp.corpid, "OA").await;
    let token = app.token(&corp.corpid, &secret).await;
    assert_eq!(errcode(&app.get("/cgi-bin/no/such/api").await), 48005);
    assert_eq!(errcode(&app.get("/cgi-bin").await), 48005);
    assert_eq!(errcode(&app.post_raw("/cgi-bin/gettoken", "").await), 43001);
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/set?access_token={token}"))
                .await
        ),
        43002
    );
    let set = format!("/cgi-bin/agent/set?access_token={token}");
    let malformed = app.post_raw(&set, "{\"agentid\": ").await;
    assert_eq!(errcode(&malformed), 47001);
    assert!(
        malformed["errmsg"]
            .as_str()
            .unwrap()
            .contains("Warning: wrong json format.")
    );
    assert_eq!(errcode(&app.post_raw(&set, "[1, 2]").await), 40058);
    assert_eq!(
        errcode(&app.post_raw(&set, "").await),
        41011,
        "an empty body is {{}}"
    );
    assert_eq!(
        errcode(&app.post_raw(&set, vec![0xff, 0xfe, 0x00]).await),
        47001
    );
    let huge = format!(
        "{{\"agentid\": {oa}, \"description\": \"{}\"}}",
        "x".repeat(3 * 1024 * 1024)
    );
    assert_eq!(errcode(&app.post_raw(&set, huge).await), 40058);
    // A token is checked before the body: a bad token with a bad body is 40014.
    assert_eq!(
        errcode(
            &app.post_raw("/cgi-bin/agent/set?access_token=bogus", "{")
                .await
        ),
        40014
    );
    // JSON with a Content-Type works as well as without.
    let typed = app
        .client
        .post(format!("{}{set}", app.base))
        .json(&json!({"agentid": oa}))
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&common::check_envelope(typed).await), 0);
    // Outside /cgi-bin: plain HTTP.
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    assert_eq!(
        app.client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(format!("{}/nothing", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn rate_limits_per_corp_app_and_ip(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.rate_ip_per_minute = 6;
        c.rate_ip_per_hour = 100;
    })
    .await;
    let corp = app.corp("Alpha").await;
    let (oa, secret) = app.app(&corp.corpid, "OA").await;
    let token = app.token(&corp.corpid, &secret).await;
    // Corp override: 2 agent/get per minute for this corp.
    let limits = CorpRateOverride {
        corp_per_api: Some(RateQuota::new(2, 100).unwrap()),
        app_per_api: None,
    };
    app.services
        .set_rate_limits(&corp.corpid, limits, Actor::System)
        .await
        .unwrap();
    let get = format!("/cgi-bin/agent/get?access_token={token}&agentid={oa}");
    assert_eq!(errcode(&app.get(&get).await), 0);
    assert_eq!(errcode(&app.get(&get).await), 0);
    let limited = app.get(&get).await;
    assert_eq!(errcode(&limited), 45009);
    assert!(
        limited["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("api freq out of limit")
    );
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/list?access_token={token}"))
                .await
        ),
        0,
        "per API"
    );
    // Per-app override on top.
    let limits = CorpRateOverride {
        corp_per_api: None,
        app_per_api: Some(RateQuota::new(1, 100).unwrap()),
    };
    app.services
        .set_rate_limits(&corp.corpid, limits, Actor::System)
        .await
        .unwrap();
    assert_eq!(errcode(&app.get(&get).await), 0);
    assert_eq!(errcode(&app.get(&get).await), 45009);
    // IP: 6 gettoken calls per minute from 127.0.0.1 (one was spent above).
    let gettoken = format!(
        "/cgi-bin/gettoken?corpid={}&corpsecret={}",
        corp.corpid, corp.secret
    );
    for _ in 0..5 {
        assert_eq!(errcode(&app.get(&gettoken).await), 0);
    }
    assert_eq!(errcode(&app.get(&gettoken).await), 45009);
}

async fn cached_reads_see_writes_through_the_server(backend: Backend) {
    // The production default: checked tokens and app reads are cached.
    let app = TestApp::spawn_with(backend, |c| c.token_cache_ms = 60_000).await;
    let corp = app.corp("Alpha").await;
    let (oa, secret) = app.app(&corp.corpid, "OA").await;
    let token = app.token(&corp.corpid, &secret).await;
    let get = format!("/cgi-bin/agent/get?access_token={token}&agentid={oa}");
    assert_eq!(app.get(&get).await["name"], "OA");
    let set = format!("/cgi-bin/agent/set?access_token={token}");
    assert_eq!(
        errcode(
            &app.post(&set, &json!({"agentid": oa, "name": "OA 2"}))
                .await
        ),
        0
    );
    assert_eq!(
        app.get(&get).await["name"],
        "OA 2",
        "a write through the server is seen at once"
    );
    // Expiry is checked on every call, cached or not.
    app.clock.advance_secs(7200);
    assert_eq!(errcode(&app.get(&get).await), 42001);
    // Rotation through the server revokes cached tokens at once.
    let fresh = app.token(&corp.corpid, &secret).await;
    let agent = qiye_domain::ids::AgentId::new(oa).unwrap();
    app.services
        .rotate_app_secret(&corp.corpid, agent, Actor::System)
        .await
        .unwrap();
    assert_eq!(
        errcode(
            &app.get(&format!("/cgi-bin/agent/list?access_token={fresh}"))
                .await
        ),
        40014
    );
}

async fn strangers_cannot_spend_a_corps_budget(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let limits = CorpRateOverride {
        corp_per_api: Some(RateQuota::new(2, 100).unwrap()),
        app_per_api: None,
    };
    app.services
        .set_rate_limits(&corp.corpid, limits, Actor::System)
        .await
        .unwrap();
    let wrong = format!("/cgi-bin/gettoken?corpid={}&corpsecret=guess", corp.corpid);
    for _ in 0..5 {
        assert_eq!(errcode(&app.get(&wrong).await), 40001);
    }
    // Failed guesses counted only against the guesser's IP, not the corp.
    app.token(&corp.corpid, &corp.secret).await;
    app.token(&corp.corpid, &corp.secret).await;
    let over = app.gettoken(&corp.corpid, &corp.secret).await;
    assert_eq!(
        errcode(&over),
        45009,
        "the corp's own calls are still limited"
    );
}

async fn housekeeping_prunes_long_expired_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let corp = app.corp("Alpha").await;
    let token = app.token(&corp.corpid, &corp.secret).await;
    let list = format!("/cgi-bin/agent/list?access_token={token}");
    app.clock.advance_secs(7200);
    assert_eq!(
        app.services.housekeeping().await.unwrap(),
        0,
        "just expired: kept"
    );
    assert_eq!(errcode(&app.get(&list).await), 42001);
    app.clock
        .advance_secs(qiye_app::EXPIRED_TOKEN_RETENTION_SECS + 1);
    assert_eq!(app.services.housekeeping().await.unwrap(), 1);
    assert_eq!(
        errcode(&app.get(&list).await),
        40014,
        "pruned tokens are unknown"
    );
}

//! Member identity over real HTTP, on SQLite and on PostgreSQL: CSRF for
//! the cookie (and the WebSocket origin), lockout after failed sign-ins
//! and per-IP throttling, TOTP enrolment and the second factor at sign-in,
//! recovery codes, the corp's mandatory 2FA, devices (own and an
//! administrator's view within scope), corp settings, the audit listing and
//! its CSV export, bad input, and tenant isolation.

mod common;

use common::{
    Backend, NEW_PASSWORD, TestApp, V1Reply, call, corp_with_admin, dept, first_sign_in, member,
    session_of, sign_in,
};
use qiye_domain::audit::Actor;
use qiye_domain::clock::Clock;
use qiye_domain::directory::AdminRole;
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_domain::session::LOCKOUT_MS;
use qiye_domain::totp::TotpSecret;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

on_both_backends!(
    csrf_guards_cookie_requests_not_bearer_ones,
    websocket_by_cookie_needs_the_servers_own_origin,
    five_failures_lock_a_login_and_fifty_block_an_ip,
    totp_enrolment_second_factor_and_recovery_codes,
    corp_can_require_two_factor_sign_in,
    devices_list_and_sign_out,
    administrators_see_and_end_sessions_within_scope,
    corp_settings_read_by_admins_changed_by_super_admins,
    audit_listing_filters_pages_and_exports,
    tenants_cannot_reach_each_others_identity_data,
);

/// Corp(1) > Finance(2); Sales(3). cfo in 2, seller in 3; scoped admin
/// `fin_admin` over Finance.
async fn org(app: &TestApp, corp: &CorpId) -> String {
    dept(app, corp, 2, 1, "Finance").await;
    dept(app, corp, 3, 1, "Sales").await;
    member(app, corp, "cfo", &[2], "13800000002").await;
    member(app, corp, "seller", &[3], "13800000003").await;
    member(app, corp, "fin_admin", &[2], "13800000004").await;
    app.services
        .grant_admin(
            Actor::System,
            corp,
            &UserId::parse("fin_admin").unwrap(),
            AdminRole::Scoped(vec![DeptId::new(2).unwrap()]),
        )
        .await
        .unwrap();
    session_of(app, corp, "fin_admin").await
}

fn expect(reply: &V1Reply, status: u16, errcode: i64) {
    assert_eq!(
        (reply.status, reply.errcode()),
        (status, errcode),
        "{}",
        reply.body
    );
}

/// The TOTP code of the server's clock now.
fn code_now(app: &TestApp, secret: &str) -> String {
    let secret = TotpSecret::from_base32(secret).expect("base32 secret");
    secret.code_for_step(TotpSecret::step_of(app.clock.now_secs()))
}

/// A code that matches none of the accepted steps now.
fn wrong_code(app: &TestApp, secret: &str) -> String {
    let secret = TotpSecret::from_base32(secret).expect("base32 secret");
    let step = TotpSecret::step_of(app.clock.now_secs());
    let accepted: Vec<String> = (step - 1..=step + 1)
        .map(|s| secret.code_for_step(s))
        .collect();
    ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| !accepted.iter().any(|a| a == c))
        .unwrap()
        .to_owned()
}

/// Moves past the current 30-second step, so a new code can be used.
fn next_step(app: &TestApp) {
    app.clock.advance_secs(30);
}

/// Enrols and confirms TOTP for a session; answers (secret, recovery codes).
async fn enrol_totp(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let enrolled = call(app, Method::POST, "/me/totp/enroll", token, None).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    let confirmed = call(
        app,
        Method::POST,
        "/me/totp/confirm",
        token,
        Some(json!({"code": code_now(app, &secret)})),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

fn token_of(reply: &V1Reply) -> String {
    reply.body["token"].as_str().unwrap().to_owned()
}

async fn audited(app: &TestApp, corp: &CorpId, action: &str, outcome_ok: bool) -> bool {
    app.services
        .tail_audit(corp, 1000)
        .await
        .unwrap()
        .iter()
        .any(|e| {
            e.record.action == action
                && (e.record.outcome == qiye_domain::audit::Outcome::Succeeded) == outcome_ok
        })
}

/// A request authenticated by the cookie alone, with an optional CSRF header.
async fn by_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> V1Reply {
    let mut request = app
        .client
        .request(method, format!("{}/api/v1{path}", app.base))
        .header("cookie", format!("qiye_session={token}"));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.body(serde_json::to_vec(&body).unwrap());
    }
    common::v1_reply(request.send().await.unwrap()).await
}

async fn csrf_guards_cookie_requests_not_bearer_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    member(&app, &acme.id, "alice", &[1], "").await;
    let _ = session_of(&app, &acme.id, "alice").await;

    let signed_in = sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let token = token_of(&signed_in);
    let csrf = signed_in.body["csrf_token"].as_str().unwrap().to_owned();
    let cookies: Vec<&str> = signed_in
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("qiye_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/;"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("qiye_csrf="))
        .unwrap();
    assert!(csrf_cookie.starts_with(&format!("qiye_csrf={csrf};")));
    assert!(csrf_cookie.contains("SameSite=Strict") && !csrf_cookie.contains("HttpOnly"));

    // A safe request by cookie needs nothing more; /me gives the token back.
    let me = by_cookie(&app, Method::GET, "/me", &token, None, None).await;
    assert_eq!(me.body["csrf_token"], csrf.as_str());

    // Unsafe by cookie: refused without or with a wrong header, nothing changes.
    let change = json!({"old": NEW_PASSWORD, "new": "another-long-password"});
    for header in [None, Some("wrong"), Some(&csrf[..63])] {
        let refused = by_cookie(
            &app,
            Method::POST,
            "/me/password",
            &token,
            header,
            Some(change.clone()),
        )
        .await;
        expect(&refused, 403, 870005);
    }
    assert_eq!(
        sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await.status,
        200
    );
    let accepted = by_cookie(
        &app,
        Method::POST,
        "/me/password",
        &token,
        Some(&csrf),
        Some(change),
    )
    .await;
    assert_eq!(accepted.status, 204, "{}", accepted.body);

    // Another session's CSRF token is not this one's.
    let other = sign_in(&app, &acme.id, "alice", "another-long-password").await;
    let other_csrf = other.body["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(other_csrf, csrf);
    let crossed = by_cookie(
        &app,
        Method::DELETE,
        "/session",
        &token,
        Some(&other_csrf),
        None,
    )
    .await;
    expect(&crossed, 403, 870005);

    // Bearer requests need no header.
    let bearer = call(&app, Method::DELETE, "/session", &token_of(&other), None).await;
    assert_eq!(bearer.status, 204);
    // Sign-out by cookie with the header clears both cookies (and the old path).
    let out = by_cookie(&app, Method::DELETE, "/session", &token, Some(&csrf), None).await;
    assert_eq!(out.status, 204);
    let cleared: Vec<&str> = out
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("qiye_session=;") && c.contains("Path=/;"))
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("qiye_session=;") && c.contains("Path=/api/v1"))
    );
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("qiye_csrf=;") && c.contains("Max-Age=0"))
    );
}

async fn websocket_by_cookie_needs_the_servers_own_origin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let ws_url = format!("ws://{host}/api/v1/ws");
    let upgrade = |origin: Option<&str>, cookie: bool| {
        let mut request = ws_url.as_str().into_client_request().unwrap();
        if cookie {
            request.headers_mut().insert(
                "cookie",
                format!("qiye_session={}", acme.admin).parse().unwrap(),
            );
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        request
    };
    for origin in [
        None,
        Some("http://evil.example"),
        Some("http://127.0.0.1:1"),
    ] {
        let refused = tokio_tungstenite::connect_async(upgrade(origin, true)).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin:?}");
                let body: Value =
                    serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
                assert_eq!(body["errcode"], 870005);
            }
            other => panic!("{origin:?}: expected a 403, got {:?}", other.map(|_| ())),
        }
    }
    let own = format!("http://{host}");
    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade(Some(&own), true))
        .await
        .expect("same-origin upgrade by cookie");
    socket.close(None).await.ok();
    // A token in the query needs no origin.
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("{ws_url}?token={}", acme.admin))
            .await
            .expect("upgrade by token");
    socket.close(None).await.ok();
}

async fn five_failures_lock_a_login_and_fifty_block_an_ip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    member(&app, &acme.id, "alice", &[1], "13900000001").await;
    let _ = session_of(&app, &acme.id, "alice").await;

    for _ in 0..4 {
        expect(
            &sign_in(&app, &acme.id, "alice", "wrong-password").await,
            401,
            870001,
        );
    }
    // A success before the fifth failure forgets the earlier ones.
    assert_eq!(
        sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await.status,
        200
    );
    for _ in 0..4 {
        expect(
            &sign_in(&app, &acme.id, "alice", "wrong-password").await,
            401,
            870001,
        );
    }
    // The fifth failure, typed as the member's mobile: the same login.
    expect(
        &sign_in(&app, &acme.id, "13900000001", "wrong-password").await,
        401,
        870001,
    );
    let locked = sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await;
    expect(&locked, 429, 870006);
    let retry = locked.body["retry_after_secs"].as_i64().unwrap();
    assert!((1..=LOCKOUT_MS / 1000).contains(&retry), "{retry}");
    assert!(audited(&app, &acme.id, "session.create", false).await);
    // Another member is not locked.
    assert_eq!(
        sign_in(&app, &acme.id, "admin", NEW_PASSWORD).await.status,
        200
    );
    // An unknown login locks like a known one (a lock says nothing of who exists).
    for _ in 0..5 {
        expect(
            &sign_in(&app, &acme.id, "ghost", "whatever-password").await,
            401,
            870001,
        );
    }
    expect(
        &sign_in(&app, &acme.id, "ghost", "whatever-password").await,
        429,
        870006,
    );

    // After the lock, the right password works again.
    app.clock.advance_secs(LOCKOUT_MS / 1000 - 1);
    expect(
        &sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await,
        429,
        870006,
    );
    app.clock.advance_secs(1);
    assert_eq!(
        sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await.status,
        200
    );
    app.services.housekeeping().await.unwrap();

    // 50 failures from one address (different logins) within 15 minutes
    // block the address (the window of the failures above has ended).
    for i in 0..50 {
        let reply = sign_in(&app, &acme.id, &format!("nobody{i}"), "wrong-password").await;
        expect(&reply, 401, 870001);
    }
    expect(
        &sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await,
        429,
        45009,
    );
}

async fn totp_enrolment_second_factor_and_recovery_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    member(&app, &acme.id, "alice", &[1], "").await;
    let token = session_of(&app, &acme.id, "alice").await;

    let enrolled = call(&app, Method::POST, "/me/totp/enroll", &token, None).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let uri = enrolled.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Acme:alice?secret="),
        "{uri}"
    );
    assert!(enrolled.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = enrolled.body["secret"].as_str().unwrap().to_owned();
    // Pending: signing in still needs no second factor.
    let plain = sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await;
    assert_eq!(plain.body["second_factor_required"], false);
    // A wrong code does not confirm; bad input is refused.
    let wrong = call(
        &app,
        Method::POST,
        "/me/totp/confirm",
        &token,
        Some(json!({"code": wrong_code(&app, &secret)})),
    )
    .await;
    expect(&wrong, 401, 870008);
    expect(
        &call(
            &app,
            Method::POST,
            "/me/totp/confirm",
            &token,
            Some(json!({})),
        )
        .await,
        400,
        40058,
    );
    let confirmed = call(
        &app,
        Method::POST,
        "/me/totp/confirm",
        &token,
        Some(json!({"code": code_now(&app, &secret)})),
    )
    .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes: Vec<String> = confirmed.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 9 && &c[4..5] == "-"));
    expect(
        &call(&app, Method::POST, "/me/totp/enroll", &token, None).await,
        400,
        40035,
    );
    assert_eq!(
        call(&app, Method::GET, "/me", &token, None).await.body["totp_enabled"],
        true
    );

    // Sign-in now owes the second factor.
    let first = sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await;
    assert_eq!(first.body["second_factor_required"], true, "{}", first.body);
    let pending = token_of(&first);
    expect(
        &call(&app, Method::GET, "/directory/departments", &pending, None).await,
        403,
        870007,
    );
    expect(
        &call(&app, Method::POST, "/me/totp/enroll", &pending, None).await,
        403,
        870007,
    );
    expect(
        &call(
            &app,
            Method::POST,
            "/me/password",
            &pending,
            Some(json!({"old": NEW_PASSWORD, "new": "x-long-password"})),
        )
        .await,
        403,
        870007,
    );
    let me = call(&app, Method::GET, "/me", &pending, None).await;
    assert_eq!(me.body["second_factor_required"], true);
    // The code used to confirm cannot be replayed.
    let replay = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &pending,
        Some(json!({"code": code_now(&app, &secret)})),
    )
    .await;
    expect(&replay, 401, 870008);
    expect(
        &call(
            &app,
            Method::POST,
            "/session/second-factor",
            &pending,
            Some(json!({"code": "1", "recovery_code": "x"})),
        )
        .await,
        400,
        40058,
    );
    expect(
        &call(
            &app,
            Method::POST,
            "/session/second-factor",
            &pending,
            Some(json!({})),
        )
        .await,
        400,
        40058,
    );
    next_step(&app);
    let given = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &pending,
        Some(json!({"code": code_now(&app, &secret)})),
    )
    .await;
    assert_eq!(given.status, 204, "{}", given.body);
    assert_eq!(
        call(&app, Method::GET, "/directory/departments", &pending, None)
            .await
            .status,
        200
    );
    expect(
        &call(
            &app,
            Method::POST,
            "/session/second-factor",
            &pending,
            Some(json!({"code": "123456"})),
        )
        .await,
        400,
        40035,
    );

    // A recovery code works once (typed in capitals, without the dash).
    let second = token_of(&sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await);
    let typed = codes[0].to_uppercase().replace('-', "");
    let used = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &second,
        Some(json!({"recovery_code": typed})),
    )
    .await;
    assert_eq!(used.status, 204, "{}", used.body);
    let third = token_of(&sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await);
    let again = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &third,
        Some(json!({"recovery_code": codes[0]})),
    )
    .await;
    expect(&again, 401, 870008);
    assert!(audited(&app, &acme.id, "session.recovery_code", true).await);
    assert!(audited(&app, &acme.id, "session.second_factor", false).await);

    // New recovery codes (password confirms) replace the old set.
    expect(
        &call(
            &app,
            Method::POST,
            "/me/recovery-codes",
            &token,
            Some(json!({"password": "wrong-password"})),
        )
        .await,
        401,
        870001,
    );
    let fresh = call(
        &app,
        Method::POST,
        "/me/recovery-codes",
        &token,
        Some(json!({"password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let old = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &third,
        Some(json!({"recovery_code": codes[1]})),
    )
    .await;
    expect(&old, 401, 870008);
    let new_code = fresh.body["recovery_codes"][0].as_str().unwrap();
    let ok = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &third,
        Some(json!({"recovery_code": new_code})),
    )
    .await;
    assert_eq!(ok.status, 204, "{}", ok.body);

    // Wrong second factors count toward the lock.
    let fourth = token_of(&sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await);
    for _ in 0..5 {
        let bad = call(
            &app,
            Method::POST,
            "/session/second-factor",
            &fourth,
            Some(json!({"recovery_code": "zzzz-zzzz"})),
        )
        .await;
        expect(&bad, 401, 870008);
    }
    next_step(&app);
    let locked = call(
        &app,
        Method::POST,
        "/session/second-factor",
        &fourth,
        Some(json!({"code": code_now(&app, &secret)})),
    )
    .await;
    expect(&locked, 429, 870006);
    expect(
        &sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await,
        429,
        870006,
    );
    app.clock.advance_secs(LOCKOUT_MS / 1000);

    // Turning it off takes the password; then sign-in owes nothing.
    expect(
        &call(
            &app,
            Method::DELETE,
            "/me/totp",
            &token,
            Some(json!({"password": "wrong-password"})),
        )
        .await,
        401,
        870001,
    );
    let off = call(
        &app,
        Method::DELETE,
        "/me/totp",
        &token,
        Some(json!({"password": NEW_PASSWORD})),
    )
    .await;
    assert_eq!(off.status, 204, "{}", off.body);
    expect(
        &call(
            &app,
            Method::DELETE,
            "/me/totp",
            &token,
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await,
        400,
        40035,
    );
    assert_eq!(
        sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await.body["second_factor_required"],
        false
    );
    for action in [
        "member.totp.enroll",
        "member.totp.confirm",
        "member.totp.disable",
        "member.recovery_codes.regenerate",
    ] {
        assert!(audited(&app, &acme.id, action, true).await, "{action}");
    }
}

async fn corp_can_require_two_factor_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    member(&app, &acme.id, "alice", &[1], "").await;
    let alice = session_of(&app, &acme.id, "alice").await;
    let on = call(
        &app,
        Method::PATCH,
        "/admin/corp",
        &acme.admin,
        Some(json!({"require_2fa": true})),
    )
    .await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(on.body["require_2fa"], true);

    // Existing sessions are held at the enrolment gate at once.
    expect(
        &call(&app, Method::GET, "/directory/departments", &alice, None).await,
        403,
        870009,
    );
    expect(
        &call(&app, Method::GET, "/admin/corp", &acme.admin, None).await,
        403,
        870009,
    );
    let me = call(&app, Method::GET, "/me", &alice, None).await;
    assert_eq!(me.body["must_enroll_totp"], true);
    assert_eq!(me.body["corp"]["require_2fa"], true);
    assert_eq!(me.body["corp"]["name"], "Acme");
    let fresh = sign_in(&app, &acme.id, "alice", NEW_PASSWORD).await;
    assert_eq!(fresh.body["must_enroll_totp"], true);
    // The password may still change.
    let changed = call(
        &app,
        Method::POST,
        "/me/password",
        &alice,
        Some(json!({"old": NEW_PASSWORD, "new": "a-second-long-password"})),
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.body);

    // Order of the gates: a one-time password first.
    let one_time = app
        .services
        .reset_password(
            &common::operator(&acme.id),
            &UserId::parse("alice").unwrap(),
        )
        .await
        .unwrap();
    let reset = token_of(&sign_in(&app, &acme.id, "alice", one_time.expose()).await);
    expect(
        &call(&app, Method::GET, "/directory/departments", &reset, None).await,
        403,
        870002,
    );
    expect(
        &call(&app, Method::POST, "/me/totp/enroll", &reset, None).await,
        403,
        870002,
    );
    let alice = first_sign_in(&app, &acme.id, "alice", one_time.expose()).await;
    expect(
        &call(&app, Method::GET, "/directory/departments", &alice, None).await,
        403,
        870009,
    );

    // Enrolling opens the session; turning it off is refused.
    enrol_totp(&app, &alice).await;
    assert_eq!(
        call(&app, Method::GET, "/directory/departments", &alice, None)
            .await
            .status,
        200
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            "/me/totp",
            &alice,
            Some(json!({"password": NEW_PASSWORD})),
        )
        .await,
        403,
        870009,
    );
    assert!(audited(&app, &acme.id, "member.totp.disable", false).await);
}

async fn devices_list_and_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    member(&app, &acme.id, "alice", &[1], "").await;
    let _ = session_of(&app, &acme.id, "alice").await;
    let sign_in_as = |ua: &'static str| {
        let app = &app;
        let corp = acme.id.clone();
        async move {
            let reply = common::v1_reply(
                app.client
                    .post(format!("{}/api/v1/session", app.base))
                    .header("user-agent", ua)
                    .json(&json!({"corpid": corp.as_str(), "login": "alice", "password": NEW_PASSWORD}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            token_of(&reply)
        }
    };
    let laptop = sign_in_as("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36").await;
    let phone = sign_in_as("Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1").await;

    let list = call(&app, Method::GET, "/me/sessions", &laptop, None).await;
    let sessions = list.body["sessions"].as_array().unwrap().clone();
    let find = |device: &str| {
        sessions
            .iter()
            .find(|s| s["device"] == device)
            .cloned()
            .unwrap_or_else(|| panic!("{device}: {sessions:?}"))
    };
    let mine = find("Chrome 156 on Linux");
    let other = find("Safari 17 on iOS");
    assert_eq!(mine["current"], true);
    assert_eq!(other["current"], false);
    assert_eq!(mine["ip"], "127.0.0.1");
    assert!(mine["user_agent"].as_str().unwrap().contains("Chrome/156"));
    assert!(mine["signed_in_at"].as_i64().unwrap() > 0 && mine["last_seen"].as_i64().unwrap() > 0);
    let id = other["id"].as_str().unwrap();
    assert!(!id.contains(&phone) && !phone.contains(id));

    // Signing the phone out: its next request is refused.
    expect(
        &call(
            &app,
            Method::DELETE,
            "/me/sessions/not-an-id",
            &laptop,
            None,
        )
        .await,
        400,
        40035,
    );
    let out = call(
        &app,
        Method::DELETE,
        &format!("/me/sessions/{id}"),
        &laptop,
        None,
    )
    .await;
    assert_eq!(out.status, 204, "{}", out.body);
    expect(
        &call(&app, Method::GET, "/me", &phone, None).await,
        401,
        40014,
    );
    assert_eq!(
        call(&app, Method::GET, "/me", &laptop, None).await.status,
        200
    );
    assert!(audited(&app, &acme.id, "session.revoke", true).await);

    // Everywhere: this one too.
    let tablet = sign_in_as(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    )
    .await;
    let all = call(&app, Method::DELETE, "/me/sessions", &laptop, None).await;
    assert_eq!(all.status, 204);
    for token in [&laptop, &tablet] {
        expect(
            &call(&app, Method::GET, "/me", token, None).await,
            401,
            40014,
        );
    }
    assert!(audited(&app, &acme.id, "session.revoke_all", true).await);
}

async fn administrators_see_and_end_sessions_within_scope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let fin_admin = org(&app, &acme.id).await;
    let cfo = session_of(&app, &acme.id, "cfo").await;
    let seller = session_of(&app, &acme.id, "seller").await;

    let listed = call(
        &app,
        Method::GET,
        "/admin/members/cfo/sessions",
        &fin_admin,
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["sessions"][0]["ip"], "127.0.0.1");
    // Outside the scoped admin's subtree: refused (and audited), nothing ends.
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/members/seller/sessions",
            &fin_admin,
            None,
        )
        .await,
        403,
        60011,
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            "/admin/members/seller/sessions",
            &fin_admin,
            None,
        )
        .await,
        403,
        60011,
    );
    assert_eq!(
        call(&app, Method::GET, "/me", &seller, None).await.status,
        200
    );
    assert!(audited(&app, &acme.id, "session.revoke_all", false).await);
    // Not an admin at all.
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/members/cfo/sessions",
            &seller,
            None,
        )
        .await,
        403,
        60011,
    );
    // Unknown and malformed userids.
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/members/nobody/sessions",
            &acme.admin,
            None,
        )
        .await,
        404,
        60111,
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            "/admin/members/bad%20id!/sessions",
            &acme.admin,
            None,
        )
        .await,
        400,
        40003,
    );

    // Within scope: every device of the member ends.
    let ended = call(
        &app,
        Method::DELETE,
        "/admin/members/cfo/sessions",
        &fin_admin,
        None,
    )
    .await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    expect(
        &call(&app, Method::GET, "/me", &cfo, None).await,
        401,
        40014,
    );
    // The super admin reaches everyone.
    let ended = call(
        &app,
        Method::DELETE,
        "/admin/members/seller/sessions",
        &acme.admin,
        None,
    )
    .await;
    assert_eq!(ended.status, 204);
    expect(
        &call(&app, Method::GET, "/me", &seller, None).await,
        401,
        40014,
    );
    let audit = app.services.tail_audit(&acme.id, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.record.action == "session.revoke_all"
        && e.record.actor.to_string() == "admin:fin_admin"
        && e.record.target == "member:cfo"));
}

async fn corp_settings_read_by_admins_changed_by_super_admins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let fin_admin = org(&app, &acme.id).await;
    let seller = session_of(&app, &acme.id, "seller").await;

    let read = call(&app, Method::GET, "/admin/corp", &fin_admin, None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["corpid"], acme.id.as_str());
    assert_eq!(read.body["name"], "Acme");
    assert_eq!(read.body["plan"], "professional");
    assert_eq!(read.body["require_2fa"], false);
    assert_eq!(read.body["watermark"], false);
    assert_eq!(
        read.body["rate_limits"],
        json!({"api_per_minute": null, "sends_per_minute": null})
    );
    expect(
        &call(&app, Method::GET, "/admin/corp", &seller, None).await,
        403,
        60011,
    );
    expect(
        &call(
            &app,
            Method::PATCH,
            "/admin/corp",
            &fin_admin,
            Some(json!({"watermark": true})),
        )
        .await,
        403,
        60011,
    );

    let changed = call(
        &app,
        Method::PATCH,
        "/admin/corp",
        &acme.admin,
        Some(json!({"name": "Acme 公司", "watermark": true, "rate_limits": {"api_per_minute": 600, "sends_per_minute": null}})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["name"], "Acme 公司");
    assert_eq!(changed.body["watermark"], true);
    assert_eq!(changed.body["rate_limits"]["api_per_minute"], 600);
    assert_eq!(
        call(&app, Method::GET, "/me", &seller, None).await.body["corp"]["watermark"],
        true
    );
    let corp = app.services.get_corp(&acme.id).await.unwrap();
    assert_eq!(corp.rate_override.corp_per_api.unwrap().per_minute, 600);
    assert!(corp.rate_override.app_per_api.is_none());

    // Bad input changes nothing.
    for (body, status, code) in [
        (json!({"name": "  "}), 400, 40035),
        (
            json!({"rate_limits": {"api_per_minute": 0, "sends_per_minute": null}}),
            400,
            40035,
        ),
        (
            json!({"rate_limits": {"api_per_minute": 10_000_000, "sends_per_minute": null}}),
            400,
            40035,
        ),
        (json!({"watermark": "yes please"}), 400, 40058),
        (
            json!({"plan": "flagship", "watermark": false, "require_2fa": [1]}),
            400,
            40058,
        ),
    ] {
        let reply = call(
            &app,
            Method::PATCH,
            "/admin/corp",
            &acme.admin,
            Some(body.clone()),
        )
        .await;
        expect(&reply, status, code);
    }
    let malformed = common::v1_reply(
        app.client
            .patch(format!("{}/api/v1/admin/corp", app.base))
            .bearer_auth(&acme.admin)
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect(&malformed, 400, 47001);
    let after = call(&app, Method::GET, "/admin/corp", &acme.admin, None).await;
    assert_eq!(after.body["name"], "Acme 公司");
    assert_eq!(after.body["watermark"], true);
    assert_eq!(after.body["plan"], "professional");
    assert_eq!(after.body["rate_limits"]["api_per_minute"], 600);
    assert!(audited(&app, &acme.id, "corp.settings", true).await);
    assert!(audited(&app, &acme.id, "corp.settings", false).await);
}

async fn audit_listing_filters_pages_and_exports(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let fin_admin = org(&app, &acme.id).await;
    let start = app.clock.now_millis();
    for _ in 0..3 {
        expect(
            &sign_in(&app, &acme.id, "cfo", "wrong-password").await,
            401,
            870001,
        );
    }
    app.clock.advance_secs(10);
    let _cfo = session_of(&app, &acme.id, "cfo").await;

    let failed = call(
        &app,
        Method::GET,
        "/admin/audit?action=session.create&outcome=failed",
        &acme.admin,
        None,
    )
    .await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    let entries = failed.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{}", failed.body);
    for e in entries {
        assert_eq!(e["actor"], "member:cfo");
        assert_eq!(e["outcome"], "failed");
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(
            e["detail"]
                .as_str()
                .unwrap()
                .contains("wrong login or password")
        );
        assert!(e["at"].as_i64().unwrap() >= start);
    }
    // Newest first, and a prefix filter on action with an actor filter.
    let by_actor = call(
        &app,
        Method::GET,
        "/admin/audit?actor=member:cfo&action=session.*",
        &acme.admin,
        None,
    )
    .await;
    let ids: Vec<i64> = by_actor.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 4, "{}", by_actor.body);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    let ok_only = call(
        &app,
        Method::GET,
        "/admin/audit?actor=cfo&outcome=ok&action=session.create",
        &acme.admin,
        None,
    )
    .await;
    assert_eq!(ok_only.body["entries"].as_array().unwrap().len(), 1);
    // Time window.
    let window = call(
        &app,
        Method::GET,
        &format!(
            "/admin/audit?actor=member:cfo&from={start}&to={}",
            start + 5_000
        ),
        &acme.admin,
        None,
    )
    .await;
    assert_eq!(window.body["entries"].as_array().unwrap().len(), 3);

    // Paging with the cursor reaches every record once.
    let all = call(
        &app,
        Method::GET,
        "/admin/audit?limit=500",
        &acme.admin,
        None,
    )
    .await;
    let total = all.body["entries"].as_array().unwrap().len();
    assert!(all.body.get("next_cursor").is_none());
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = call(
            &app,
            Method::GET,
            &format!("/admin/audit?limit=4&cursor={cursor}"),
            &acme.admin,
            None,
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    // CSV export with the same filters.
    let response = app
        .client
        .get(format!(
            "{}/api/v1/admin/audit/export?action=session.create&outcome=failed",
            app.base
        ))
        .bearer_auth(&acme.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,at,actor,action,target,outcome,ip,detail");
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[1].contains(",member:cfo,session.create,member:cfo,failed,127.0.0.1,"));

    // Scoped admins and members: refused. Bad filters: 40058.
    expect(
        &call(&app, Method::GET, "/admin/audit", &fin_admin, None).await,
        403,
        60011,
    );
    expect(
        &call(&app, Method::GET, "/admin/audit/export", &fin_admin, None).await,
        403,
        60011,
    );
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/audit?outcome=maybe",
            &acme.admin,
            None,
        )
        .await,
        400,
        40058,
    );
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/audit?cursor=abc",
            &acme.admin,
            None,
        )
        .await,
        400,
        40058,
    );
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/audit?from=yesterday",
            &acme.admin,
            None,
        )
        .await,
        400,
        40058,
    );
}

async fn tenants_cannot_reach_each_others_identity_data(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp_with_admin(&app, "Acme").await;
    let globex = corp_with_admin(&app, "Globex").await;
    member(&app, &globex.id, "bob", &[1], "").await;
    let bob = session_of(&app, &globex.id, "bob").await;
    member(&app, &acme.id, "alice", &[1], "").await;
    let alice = session_of(&app, &acme.id, "alice").await;
    let bob_id = call(&app, Method::GET, "/me/sessions", &bob, None)
        .await
        .body["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Acme's admin cannot list or end Globex's sessions, by userid or by id.
    expect(
        &call(
            &app,
            Method::GET,
            "/admin/members/bob/sessions",
            &acme.admin,
            None,
        )
        .await,
        404,
        60111,
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            "/admin/members/bob/sessions",
            &acme.admin,
            None,
        )
        .await,
        404,
        60111,
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            &format!("/me/sessions/{bob_id}"),
            &alice,
            None,
        )
        .await,
        400,
        40035,
    );
    expect(
        &call(
            &app,
            Method::DELETE,
            &format!("/me/sessions/{bob_id}"),
            &acme.admin,
            None,
        )
        .await,
        400,
        40035,
    );
    assert_eq!(call(&app, Method::GET, "/me", &bob, None).await.status, 200);
    // Acme's admin of the same userid ("admin") sees only Acme's admin sessions.
    let own = call(
        &app,
        Method::GET,
        "/admin/members/admin/sessions",
        &acme.admin,
        None,
    )
    .await;
    assert_eq!(
        own.body["sessions"].as_array().unwrap().len(),
        1,
        "{}",
        own.body
    );

    // Acme's audit has nothing of Globex; settings are Acme's own.
    let audit = call(
        &app,
        Method::GET,
        "/admin/audit?limit=500",
        &acme.admin,
        None,
    )
    .await;
    // (Acme's own refused attempt on "member:bob" is Acme's record.)
    let entries = audit.body["entries"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e["actor"] != "member:bob"),
        "{}",
        audit.body
    );
    assert!(!audit.body.to_string().contains(globex.id.as_str()));
    let csv = app
        .client
        .get(format!("{}/api/v1/admin/audit/export", app.base))
        .bearer_auth(&acme.admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!csv.contains(",member:bob,session.create,") && !csv.contains(globex.id.as_str()));
    assert!(csv.contains(",admin:admin,session.revoke_all,member:bob,failed,"));
    let changed = call(
        &app,
        Method::PATCH,
        "/admin/corp",
        &acme.admin,
        Some(json!({"require_2fa": true})),
    )
    .await;
    assert_eq!(changed.body["corpid"], acme.id.as_str());
    assert_eq!(
        call(&app, Method::GET, "/directory/departments", &bob, None)
            .await
            .status,
        200
    );
    let globex_settings = call(&app, Method::GET, "/admin/corp", &globex.admin, None).await;
    assert_eq!(globex_settings.body["require_2fa"], false);
    // A lock in one corp does not lock the same login in another.
    for _ in 0..5 {
        expect(
            &sign_in(&app, &acme.id, "admin", "wrong-password").await,
            401,
            870001,
        );
    }
    expect(
        &sign_in(&app, &acme.id, "admin", NEW_PASSWORD).await,
        429,
        870006,
    );
    assert_eq!(
        sign_in(&app, &globex.id, "admin", NEW_PASSWORD)
            .await
            .status,
        200
    );
}

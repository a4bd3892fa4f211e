//! The native `/api/v1` over real HTTP, on SQLite and on PostgreSQL: member
//! sign-in and sessions (one-time passwords, wrong passwords, disabled and
//! deleted members, expiry, sign-out), the member-facing directory under
//! visibility and field rules, scoped administrators confined to their
//! subtrees, tenant isolation for every endpoint, and bad input.

mod common;

use common::{
    Backend, NEW_PASSWORD, TestApp, V1Reply, dept, first_sign_in, member, operator, session_of,
    sign_in,
};
use qiye_app::directory::admin::RuleEditor;
use qiye_domain::audit::{Actor, Outcome};
use qiye_domain::directory::{AdminRole, MemberFields};
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_domain::plan::Plan;
use qiye_domain::session::SESSION_IDLE_MS;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends!(
    sign_in_one_time_password_and_sign_out,
    disabled_deleted_and_idle_members_lose_their_sessions,
    hidden_department_is_invisible_outside_its_audience,
    protected_fields_are_omitted_and_never_searched,
    member_pages_walk_the_visible_subtree_once,
    scoped_admin_is_confined_to_their_subtree,
    tenants_cannot_reach_each_other,
    bad_input_gets_an_errcode_never_a_500,
);

fn d(id: i64) -> DeptId {
    DeptId::new(id).unwrap()
}

fn u(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

/// A corp with its bootstrap super admin (`admin`) signed in and past the
/// one-time password.
struct Corp {
    id: CorpId,
    admin_token: String,
}

async fn corp(app: &TestApp, name: &str) -> Corp {
    let created = app
        .services
        .create_corp(name, Plan::Professional, Actor::System)
        .await
        .unwrap();
    let id = created.corp.id.clone();
    let admin_token = first_sign_in(app, &id, "admin", created.admin_password.expose()).await;
    Corp { id, admin_token }
}

/// Corp(1) > Finance(2) > Payroll(3); Sales(4); Management(5).
/// cfo in 2, clerk in 3, seller in 4, ceo in 5.
async fn org(app: &TestApp, corp: &CorpId) {
    dept(app, corp, 2, 1, "Finance").await;
    dept(app, corp, 3, 2, "Payroll").await;
    dept(app, corp, 4, 1, "Sales").await;
    dept(app, corp, 5, 1, "Management").await;
    for (userid, dept, mobile) in [
        ("cfo", 2, "13800000002"),
        ("clerk", 3, "13800000003"),
        ("seller", 4, "13800000004"),
        ("ceo", 5, "13800000005"),
    ] {
        member(app, corp, userid, &[dept], mobile).await;
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> V1Reply {
    app.v1(Method::GET, path, Some(token), None).await
}

fn ids(reply: &V1Reply, list: &str, key: &str) -> Vec<Value> {
    reply.body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{}", reply.body))
        .iter()
        .map(|x| x[key].clone())
        .collect()
}

async fn audit_actions(app: &TestApp, corp: &CorpId) -> Vec<(String, String, Outcome)> {
    app.services
        .tail_audit(corp, 500)
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

async fn sign_in_one_time_password_and_sign_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .services
        .create_corp("Acme", Plan::Professional, Actor::System)
        .await
        .unwrap();
    let corp = created.corp.id.clone();
    let one_time = created.admin_password.expose().to_owned();

    // Wrong password, unknown login, unknown corp: one answer.
    let wrong = sign_in(&app, &corp, "admin", "not-the-password").await;
    let unknown = sign_in(&app, &corp, "nobody", &one_time).await;
    let other_corp = sign_in(&app, &CorpId::generate(), "admin", &one_time).await;
    let garbage_corp = app
        .v1(
            Method::POST,
            "/session",
            None,
            Some(&json!({"corpid": "x", "login": "admin", "password": one_time})),
        )
        .await;
    for reply in [&wrong, &unknown, &other_corp, &garbage_corp] {
        assert_eq!(
            (reply.status, reply.errcode()),
            (401, 870001),
            "{}",
            reply.body
        );
    }

    // The one-time password signs in, but only /me and /me/password work.
    let first = sign_in(&app, &corp, "admin", &one_time).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["must_change_password"], true);
    let cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("qiye_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = first.body["token"].as_str().unwrap().to_owned();
    let blocked = get(&app, &token, "/directory/departments").await;
    assert_eq!((blocked.status, blocked.errcode()), (403, 870002));
    let me = get(&app, &token, "/me").await;
    assert_eq!(me.body["userid"], "admin");
    assert_eq!(me.body["must_change_password"], true);
    assert_eq!(me.body["admin"]["role"], "super");

    for (body, status, code) in [
        (
            json!({"old": "wrong-password", "new": NEW_PASSWORD}),
            401,
            870001,
        ),
        (json!({"old": one_time, "new": "short"}), 400, 870003),
        (json!({"old": one_time, "new": one_time}), 400, 870003),
        (json!({"old": one_time}), 400, 40058),
    ] {
        let reply = app
            .v1(Method::POST, "/me/password", Some(&token), Some(&body))
            .await;
        assert_eq!((reply.status, reply.errcode()), (status, code), "{body}");
    }
    let changed = app
        .v1(
            Method::POST,
            "/me/password",
            Some(&token),
            Some(&json!({"old": one_time, "new": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, 204);
    assert_eq!(
        get(&app, &token, "/directory/departments").await.status,
        200
    );
    assert_eq!(sign_in(&app, &corp, "admin", &one_time).await.status, 401);

    // The cookie works as well as the bearer header.
    let by_cookie = common::v1_reply(
        app.client
            .get(format!("{}/api/v1/me", app.base))
            .header("cookie", format!("theme=dark; qiye_session={token}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_cookie.body["must_change_password"], false);

    // No token, a made-up token, then signing out.
    let none = app.v1(Method::GET, "/me", None, None).await;
    assert_eq!((none.status, none.errcode()), (401, 41001));
    let made_up = get(&app, "x".repeat(43).as_str(), "/me").await;
    assert_eq!((made_up.status, made_up.errcode()), (401, 40014));
    let out = app.v1(Method::DELETE, "/session", Some(&token), None).await;
    assert_eq!(out.status, 204);
    let after = get(&app, &token, "/me").await;
    assert_eq!((after.status, after.errcode()), (401, 40014));

    let actions = audit_actions(&app, &corp).await;
    for action in ["session.create", "member.password.change", "session.delete"] {
        assert!(
            actions.iter().any(|(actor, a, o)| actor == "member:admin"
                && a == action
                && *o == Outcome::Succeeded),
            "{action} audited: {actions:?}"
        );
    }
    assert!(
        actions
            .iter()
            .any(|(_, a, o)| a == "session.create" && matches!(o, Outcome::Failed(_))),
        "a wrong password is audited"
    );
}

async fn disabled_deleted_and_idle_members_lose_their_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    org(&app, &acme.id).await;
    let seller = session_of(&app, &acme.id, "seller").await;
    let clerk = session_of(&app, &acme.id, "clerk").await;
    // Sign in by mobile works too.
    let by_mobile = sign_in(&app, &acme.id, "13800000004", NEW_PASSWORD).await;
    assert_eq!(by_mobile.body["userid"], "seller", "{}", by_mobile.body);

    // Disabled: the session stops working, signing in says why.
    let disable = app
        .v1(
            Method::PATCH,
            "/admin/members/seller",
            Some(&acme.admin_token),
            Some(&json!({"enable": false})),
        )
        .await;
    assert_eq!(disable.status, 204, "{}", disable.body);
    assert_eq!(get(&app, &seller, "/me").await.status, 401);
    let refused = sign_in(&app, &acme.id, "seller", NEW_PASSWORD).await;
    assert_eq!((refused.status, refused.errcode()), (403, 870004));
    let wrong = sign_in(&app, &acme.id, "seller", "wrong-password").await;
    assert_eq!(
        wrong.errcode(),
        870001,
        "no status leak without the password"
    );

    // Deleted: the session ends with the member.
    let deleted = app
        .v1(
            Method::DELETE,
            "/admin/members/clerk",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(get(&app, &clerk, "/me").await.status, 401);

    // A password reset by an admin ends the member's sessions.
    let ceo = session_of(&app, &acme.id, "ceo").await;
    let reset = app
        .v1(
            Method::POST,
            "/admin/members/ceo/reset-password",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(reset.body["password"].as_str().unwrap().len(), 16);
    assert_eq!(get(&app, &ceo, "/me").await.status, 401);
    let again = sign_in(
        &app,
        &acme.id,
        "ceo",
        reset.body["password"].as_str().unwrap(),
    )
    .await;
    assert_eq!(again.body["must_change_password"], true);

    // Idle for 7 days: over.
    assert_eq!(get(&app, &acme.admin_token, "/me").await.status, 200);
    app.clock.advance_secs(SESSION_IDLE_MS / 1000);
    let idle = get(&app, &acme.admin_token, "/me").await;
    assert_eq!((idle.status, idle.errcode()), (401, 40014));
    app.services.housekeeping().await.unwrap();
}

/// Hides Finance (2, with Payroll 3) from all but Management (5).
async fn hide_finance(app: &TestApp, acme: &Corp) {
    let put = app
        .v1(
            Method::PUT,
            "/admin/visibility-rules/2",
            Some(&acme.admin_token),
            Some(&json!({"visible_to": {"depts": [5]}})),
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.body);
}

async fn hidden_department_is_invisible_outside_its_audience(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    org(&app, &acme.id).await;
    let seller = session_of(&app, &acme.id, "seller").await;
    let ceo = session_of(&app, &acme.id, "ceo").await;
    let clerk = session_of(&app, &acme.id, "clerk").await;
    // Before the rule, the seller sees Finance.
    let tree = get(&app, &seller, "/directory/departments").await;
    assert!(ids(&tree, "departments", "id").contains(&json!(2)));
    hide_finance(&app, &acme).await;
    let rule = get(&app, &acme.admin_token, "/admin/visibility-rules/2").await;
    assert_eq!(rule.body["visible_to"]["depts"], json!([5]));

    // The outsider: not in the tree, not found (like an unknown id), not in search.
    let tree = get(&app, &seller, "/directory/departments").await;
    assert_eq!(
        ids(&tree, "departments", "id"),
        [json!(1), json!(4), json!(5)]
    );
    let unknown = get(&app, &seller, "/directory/departments/99/members").await;
    for hidden in [
        "/directory/departments/2/members",
        "/directory/departments/3/members?fetch_child=1",
    ] {
        let reply = get(&app, &seller, hidden).await;
        assert_eq!(
            (reply.status, reply.errcode()),
            (unknown.status, unknown.errcode())
        );
        assert_eq!(reply.status, 404);
    }
    let profile = get(&app, &seller, "/directory/members/clerk").await;
    let nobody = get(&app, &seller, "/directory/members/nobody").await;
    assert_eq!((profile.status, profile.errcode()), (404, 60111));
    assert_eq!(nobody.errcode(), 60111);
    let everyone = get(
        &app,
        &seller,
        "/directory/departments/1/members?fetch_child=1",
    )
    .await;
    assert_eq!(
        ids(&everyone, "members", "userid"),
        [json!("admin"), json!("seller"), json!("ceo")]
    );
    let listed = ids(&everyone, "members", "userid");
    assert!(
        !listed.contains(&json!("clerk")) && !listed.contains(&json!("cfo")),
        "{listed:?}"
    );
    for q in ["clerk", "Finance", "Payroll", "13800000003"] {
        let hits = get(&app, &seller, &format!("/directory/search?q={q}")).await;
        assert_eq!(hits.body["members"], json!([]), "{q}");
        assert_eq!(hits.body["departments"], json!([]), "{q}");
    }

    // The audience and the insiders see it.
    for token in [&ceo, &clerk, &acme.admin_token] {
        let tree = get(&app, token, "/directory/departments").await;
        assert!(ids(&tree, "departments", "id").contains(&json!(3)));
        let page = get(
            &app,
            token,
            "/directory/departments/2/members?fetch_child=1",
        )
        .await;
        assert_eq!(
            ids(&page, "members", "userid"),
            [json!("cfo"), json!("clerk")]
        );
        assert_eq!(
            get(&app, token, "/directory/members/clerk").await.status,
            200
        );
        let hits = get(&app, token, "/directory/search?q=payroll").await;
        assert_eq!(ids(&hits, "departments", "id"), [json!(3)]);
    }

    // Removing the rule shows it again (the cached policy follows).
    let removed = app
        .v1(
            Method::DELETE,
            "/admin/visibility-rules/2",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        get(&app, &seller, "/directory/members/clerk").await.status,
        200
    );
    assert_eq!(
        get(&app, &acme.admin_token, "/admin/visibility-rules/2")
            .await
            .status,
        404
    );
}

async fn protected_fields_are_omitted_and_never_searched(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    org(&app, &acme.id).await;
    let seller = session_of(&app, &acme.id, "seller").await;
    let ceo = session_of(&app, &acme.id, "ceo").await;
    let put = app
        .v1(
            Method::PUT,
            "/admin/field-rules/mobile",
            Some(&acme.admin_token),
            Some(&json!({"admins": true, "readers": {"depts": [5]}})),
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.body);

    let seen_by_seller = get(&app, &seller, "/directory/members/cfo").await;
    assert_eq!(seen_by_seller.status, 200);
    assert!(
        seen_by_seller.body.get("mobile").is_none(),
        "{}",
        seen_by_seller.body
    );
    assert_eq!(seen_by_seller.body["name"], "cfo name");
    let own = get(&app, &seller, "/directory/members/seller").await;
    assert_eq!(
        own.body["mobile"], "13800000004",
        "a member reads their own"
    );
    let seen_by_ceo = get(&app, &ceo, "/directory/members/cfo").await;
    assert_eq!(seen_by_ceo.body["mobile"], "13800000002");
    let seen_by_admin = get(&app, &acme.admin_token, "/directory/members/cfo").await;
    assert_eq!(seen_by_admin.body["mobile"], "13800000002", "admins: true");
    // In pages too.
    let page = get(&app, &seller, "/directory/departments/2/members").await;
    assert!(page.body["members"][0].get("mobile").is_none());

    // Searching a hidden mobile finds nobody; a reader finds them.
    let hidden = get(&app, &seller, "/directory/search?q=13800000002").await;
    assert_eq!(hidden.body["members"], json!([]));
    let found = get(&app, &ceo, "/directory/search?q=13800000002").await;
    assert_eq!(ids(&found, "members", "userid"), [json!("cfo")]);

    let rules = get(&app, &acme.admin_token, "/admin/rules").await;
    assert_eq!(rules.body["fields"][0]["field"], "mobile");
    assert_eq!(rules.body["fields"][0]["admins"], true);
    let removed = app
        .v1(
            Method::DELETE,
            "/admin/field-rules/mobile",
            Some(&acme.admin_token),
            None,
        )
        .await;
    assert_eq!(removed.status, 204);
    let again = get(&app, &seller, "/directory/members/cfo").await;
    assert_eq!(again.body["mobile"], "13800000002");
}

async fn member_pages_walk_the_visible_subtree_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    org(&app, &acme.id).await;
    // m0..m6 in Sales, m3 also in Management: listed once.
    for i in 0..7 {
        member(&app, &acme.id, &format!("m{i}"), &[4], "").await;
    }
    app.services
        .update_member(
            &operator(&acme.id),
            &u("m3"),
            None,
            MemberFields {
                departments: Some(vec![d(5), d(4)]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    hide_finance(&app, &acme).await;
    let seller = session_of(&app, &acme.id, "seller").await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = get(
            &app,
            &seller,
            &format!("/directory/departments/1/members?fetch_child=1&limit=3&cursor={cursor}"),
        )
        .await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(ids(&page, "members", "userid"));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut sorted: Vec<String> = seen
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let total = sorted.len();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), total, "each member once: {seen:?}");
    let expected = [
        "admin", "ceo", "m0", "m1", "m2", "m3", "m4", "m5", "m6", "seller",
    ];
    assert_eq!(sorted, expected, "everyone visible, no Finance");
    assert_eq!(pages, 4);
    let bad = get(
        &app,
        &seller,
        "/directory/departments/1/members?cursor=garbage",
    )
    .await;
    assert_eq!((bad.status, bad.errcode()), (400, 40058));
}

async fn scoped_admin_is_confined_to_their_subtree(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    org(&app, &acme.id).await;
    member(&app, &acme.id, "sam", &[4], "").await;
    app.services
        .grant_admin(
            Actor::System,
            &acme.id,
            &u("sam"),
            AdminRole::Scoped(vec![d(4)]),
        )
        .await
        .unwrap();
    let sam = session_of(&app, &acme.id, "sam").await;
    let seller = session_of(&app, &acme.id, "seller").await;

    let inside = app
        .v1(
            Method::POST,
            "/admin/departments",
            Some(&sam),
            Some(&json!({"name": "East", "parentid": 4, "id": 40})),
        )
        .await;
    assert_eq!(inside.body["id"], 40, "{}", inside.body);
    let renamed = app
        .v1(
            Method::PATCH,
            "/admin/departments/40",
            Some(&sam),
            Some(&json!({"name": "East Sales"})),
        )
        .await;
    assert_eq!(renamed.status, 204, "{}", renamed.body);
    let hired = app
        .v1(
            Method::POST,
            "/admin/members",
            Some(&sam),
            Some(&json!({"userid": "newbie", "name": "New", "department": [40]})),
        )
        .await;
    assert_eq!(hired.status, 204, "{}", hired.body);
    let listed = get(&app, &sam, "/admin/members").await;
    assert_eq!(
        ids(&listed, "members", "userid"),
        [json!("newbie"), json!("sam"), json!("seller")]
    );
    let depts = get(&app, &sam, "/admin/departments").await;
    assert_eq!(ids(&depts, "departments", "id"), [json!(4), json!(40)]);

    let outside: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/admin/departments",
            Some(json!({"name": "Rogue", "parentid": 2})),
        ),
        (
            Method::PATCH,
            "/admin/departments/2",
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::PATCH,
            "/admin/departments/40",
            Some(json!({"parentid": 2})),
        ),
        (Method::DELETE, "/admin/departments/3", None),
        (
            Method::POST,
            "/admin/members",
            Some(json!({"userid": "rogue", "name": "R", "department": [2]})),
        ),
        (
            Method::PATCH,
            "/admin/members/clerk",
            Some(json!({"name": "Changed"})),
        ),
        (
            Method::PATCH,
            "/admin/members/seller",
            Some(json!({"department": [2]})),
        ),
        (Method::DELETE, "/admin/members/clerk", None),
        (Method::GET, "/admin/members/clerk", None),
        (Method::POST, "/admin/members/clerk/reset-password", None),
        (
            Method::PUT,
            "/admin/visibility-rules/4",
            Some(json!({"visible_to": {}})),
        ),
        (
            Method::PUT,
            "/admin/field-rules/mobile",
            Some(json!({"readers": {}})),
        ),
        (Method::DELETE, "/admin/field-rules/mobile", None),
    ];
    for (method, path, body) in &outside {
        let reply = app
            .v1(method.clone(), path, Some(&sam), body.as_ref())
            .await;
        assert_eq!(
            (reply.status, reply.errcode()),
            (403, 60011),
            "{method} {path}: {}",
            reply.body
        );
    }
    // Nothing changed.
    let unchanged = app
        .services
        .dir_read(&operator(&acme.id), |v| {
            (
                v.dir.dept(d(2)).unwrap().name.clone(),
                v.dir.dept(d(40)).unwrap().parent,
                v.dir.dept_count(),
                v.dir.member(&u("clerk")).map(|m| m.name.clone()),
                v.dir.member(&u("rogue")).is_none(),
                v.dir.member(&u("seller")).unwrap().departments.len(),
            )
        })
        .await
        .unwrap();
    assert_eq!(
        unchanged,
        (
            "Finance".to_owned(),
            Some(d(4)),
            6,
            Some("clerk name".to_owned()),
            true,
            1
        )
    );
    assert!(
        app.services
            .policy(&acme.id)
            .await
            .unwrap()
            .fields
            .is_empty()
    );
    // The clerk's password still works (no reset happened).
    let clerk = session_of(&app, &acme.id, "clerk").await;
    assert_eq!(get(&app, &clerk, "/me").await.status, 200);

    // A member who is not an admin gets nothing.
    for path in ["/admin/departments", "/admin/members", "/admin/rules"] {
        let reply = get(&app, &seller, path).await;
        assert_eq!((reply.status, reply.errcode()), (403, 60011), "{path}");
    }
    let actions = audit_actions(&app, &acme.id).await;
    assert!(actions.iter().any(|(actor, a, o)| actor == "admin:sam"
        && a == "department.create"
        && *o == Outcome::Succeeded));
    assert!(actions.iter().any(|(actor, a, o)| actor == "admin:sam"
        && a == "department.update"
        && *o == Outcome::Failed("errcode 60011".into())));
}

async fn tenants_cannot_reach_each_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    let other = corp(&app, "Other").await;
    org(&app, &acme.id).await;
    // A rule in Acme, set by the operator.
    app.services
        .set_field_rule(
            &RuleEditor::operator(acme.id.clone(), Actor::System),
            &qiye_domain::directory::ProtectedField::Email,
            Some((true, Default::default())),
        )
        .await
        .unwrap();
    let t = &other.admin_token;
    let not_found: Vec<(Method, &str, Option<Value>, i64)> = vec![
        (Method::GET, "/directory/members/cfo", None, 60111),
        (Method::GET, "/directory/departments/2/members", None, 60003),
        (Method::GET, "/admin/members/cfo", None, 60111),
        (
            Method::PATCH,
            "/admin/members/cfo",
            Some(json!({"name": "X"})),
            60111,
        ),
        (Method::DELETE, "/admin/members/cfo", None, 60111),
        (
            Method::POST,
            "/admin/members/cfo/reset-password",
            None,
            60111,
        ),
        (
            Method::PATCH,
            "/admin/departments/2",
            Some(json!({"name": "X"})),
            60003,
        ),
        (Method::DELETE, "/admin/departments/2", None, 60003),
        (
            Method::POST,
            "/admin/departments",
            Some(json!({"name": "X", "parentid": 2})),
            60004,
        ),
        (
            Method::PUT,
            "/admin/visibility-rules/2",
            Some(json!({"visible_to": {}})),
            60003,
        ),
        (
            Method::PUT,
            "/admin/visibility-rules/1",
            Some(json!({"visible_to": {"users": ["cfo"]}})),
            60111,
        ),
        (Method::GET, "/admin/visibility-rules/2", None, 48005),
        (Method::GET, "/admin/field-rules/email", None, 48005),
    ];
    for (method, path, body, code) in &not_found {
        let reply = app.v1(method.clone(), path, Some(t), body.as_ref()).await;
        assert_eq!(reply.errcode(), *code, "{method} {path}: {}", reply.body);
        assert!(
            reply.status == 404 || reply.status == 400,
            "{method} {path}"
        );
    }
    for path in ["/directory/departments", "/admin/departments"] {
        assert_eq!(
            ids(&get(&app, t, path).await, "departments", "id"),
            [json!(1)]
        );
    }
    let members = get(&app, t, "/admin/members").await;
    assert_eq!(ids(&members, "members", "userid"), [json!("admin")]);
    let hits = get(&app, t, "/directory/search?q=cfo").await;
    assert_eq!(hits.body["members"], json!([]));
    assert_eq!(get(&app, t, "/admin/rules").await.body["fields"], json!([]));
    // Acme is intact; Acme's admin still sees their own data.
    let acme_view = get(&app, &acme.admin_token, "/admin/members/cfo").await;
    assert_eq!(acme_view.body["name"], "cfo name");
    assert_eq!(
        get(&app, &acme.admin_token, "/admin/rules").await.body["fields"][0]["field"],
        "email"
    );
    // Another corp's signing in with Acme's member names gets nothing.
    assert_eq!(
        sign_in(&app, &other.id, "cfo", NEW_PASSWORD).await.status,
        401
    );
}

async fn bad_input_gets_an_errcode_never_a_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = corp(&app, "Acme").await;
    let t = acme.admin_token.as_str();
    let raw = |method: Method, path: &str, body: &'static str| {
        let request = app
            .client
            .request(method, format!("{}/api/v1{path}", app.base))
            .bearer_auth(t)
            .body(body);
        async move { common::v1_reply(request.send().await.unwrap()).await }
    };
    for (method, path, body, code) in [
        (Method::POST, "/session", "{not json", 47001),
        (Method::POST, "/session", "[1]", 40058),
        (
            Method::POST,
            "/session",
            r#"{"corpid": 1, "login": "a", "password": "b"}"#,
            40058,
        ),
        (
            Method::POST,
            "/me/password",
            r#"{"old": ["x"], "new": "y"}"#,
            40058,
        ),
        (
            Method::POST,
            "/admin/departments",
            r#"{"name": "X", "parentid": "one"}"#,
            40058,
        ),
        (
            Method::POST,
            "/admin/departments",
            r#"{"name": "X", "parentid": -1}"#,
            40058,
        ),
        (
            Method::POST,
            "/admin/departments",
            r#"{"name": "X", "parentid": 0}"#,
            60123,
        ),
        (
            Method::POST,
            "/admin/members",
            r#"{"userid": "bad user", "name": "X"}"#,
            40003,
        ),
        (
            Method::POST,
            "/admin/members",
            r#"{"userid": "ok", "name": "X", "gender": 9}"#,
            40058,
        ),
        (Method::PATCH, "/admin/departments/abc", r#"{}"#, 60123),
        (
            Method::PATCH,
            "/admin/departments/99999999999",
            r#"{}"#,
            60123,
        ),
        (Method::GET, "/admin/members/bad%20user", "", 40003),
        (Method::PUT, "/admin/field-rules/salary", r#"{}"#, 40035),
        (
            Method::PUT,
            "/admin/visibility-rules/1",
            r#"{"visible_to": {"depts": ["x"]}}"#,
            40058,
        ),
        (
            Method::PUT,
            "/admin/visibility-rules/1",
            r#"{"visible_to": {"tags": [77]}}"#,
            40068,
        ),
        (
            Method::GET,
            "/directory/departments/1/members?limit=lots",
            "",
            40058,
        ),
        (Method::GET, "/directory/search", "", 40058),
        (Method::GET, "/directory/search?q=%20", "", 40058),
        (Method::GET, "/no/such/thing", "", 48005),
        (Method::PUT, "/me", "", 48005),
    ] {
        let reply = raw(method.clone(), path, body).await;
        assert_eq!(
            reply.errcode(),
            code,
            "{method} {path} {body}: {}",
            reply.body
        );
        assert!((400..500).contains(&reply.status), "{method} {path}");
    }
    let doc = common::v1_reply(
        app.client
            .get(format!("{}/api/v1/openapi.json", app.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/session",
        "/api/v1/directory/search",
        "/api/v1/admin/field-rules/{field}",
    ] {
        assert!(doc.body["paths"].get(path).is_some(), "{path} documented");
    }
    assert!(
        doc.body["components"]["schemas"]
            .get("MemberView")
            .is_some()
    );
}

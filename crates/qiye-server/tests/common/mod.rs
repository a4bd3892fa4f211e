//! Test harness: the real server in-process on a loopback port, on SQLite
//! (a fresh file) or PostgreSQL (a fresh database), with a clock the test
//! can move. Every `/cgi-bin` reply is checked to be HTTP 200 JSON whose
//! errcode is in the documented table.

#![allow(dead_code, missing_docs)]

pub mod process;

use std::sync::Arc;

use qiye_app::Services;
use qiye_domain::audit::Actor;
use qiye_domain::clock::ManualClock;
use qiye_domain::ids::CorpId;
use qiye_domain::plan::Plan;
use qiye_server::Config;
use qiye_server::serve::LocalServer;
use qiye_store::testing::{TestDatabase, pg_url_from_env};
use qiye_wecom::ErrCode;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates a `sqlite` and a `postgres` test for an `async fn(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if qiye_store::testing::pg_url_from_env().is_none() {
                    eprintln!("QIYE_TEST_PG_URL not set (and not CI): PostgreSQL variant not run");
                    return;
                }
                super::$name($crate::common::Backend::Postgres).await;
            }
        }
    )*};
}

/// Keeps the test's data directory (media, and the SQLite file) and, on
/// PostgreSQL, its database alive.
struct Guard {
    _dir: tempfile::TempDir,
    _pg: Option<TestDatabase>,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Arc<Services>,
    pub clock: ManualClock,
    pub config: Config,
    _server: LocalServer,
    _guard: Guard,
}

pub struct CorpCreds {
    pub corpid: CorpId,
    pub secret: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            token_cache_ms: 0,
            ..Config::default()
        };
        let dir = tempfile::tempdir().expect("temp dir");
        config.data_dir = dir.path().to_path_buf();
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let server = pg_url_from_env().expect("QIYE_TEST_PG_URL");
                let db = TestDatabase::create(&server).await.expect("test database");
                config.database_url = db.url.clone();
                Some(db)
            }
        };
        let guard = Guard { _dir: dir, _pg: pg };
        adjust(&mut config);
        let store = qiye_server::open_store(&config).await.expect("open store");
        let clock = ManualClock::starting_now();
        let services = qiye_server::services_with_clock(&config, store, Arc::new(clock.clone()))
            .expect("services");
        let server = LocalServer::spawn(Arc::clone(&services))
            .await
            .expect("spawn server");
        let base = format!("http://{}", server.addr);
        Self {
            base,
            client: reqwest::Client::new(),
            services,
            clock,
            config,
            _server: server,
            _guard: guard,
        }
    }

    pub async fn corp(&self, name: &str) -> CorpCreds {
        let created = self
            .services
            .create_corp(name, Plan::Professional, Actor::System)
            .await
            .expect("create corp");
        CorpCreds {
            corpid: created.corp.id,
            secret: created.contact_secret.expose().to_owned(),
        }
    }

    /// Creates an app; returns (agentid, secret).
    pub async fn app(&self, corp: &CorpId, name: &str) -> (i64, String) {
        let (app, secret) = self
            .services
            .create_app(corp, name, true, Actor::System)
            .await
            .expect("create app");
        (app.agentid.get(), secret.expose().to_owned())
    }

    /// `gettoken` for a corp and secret (the raw reply).
    pub async fn gettoken(&self, corp: &CorpId, secret: &str) -> Value {
        self.get(&format!(
            "/cgi-bin/gettoken?corpid={corp}&corpsecret={secret}"
        ))
        .await
    }

    pub async fn token(&self, corp: &CorpId, secret: &str) -> String {
        let reply = self.gettoken(corp, secret).await;
        assert_eq!(reply["errcode"], 0, "{reply}");
        reply["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        check_envelope(response).await
    }

    /// POSTs raw bytes with no Content-Type, as wechatpy does.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .body(body)
            .send()
            .await
            .expect("request");
        check_envelope(response).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Value {
        self.post_raw(path, serde_json::to_vec(body).expect("json"))
            .await
    }
}

/// Asserts WeCom's envelope: HTTP 200, JSON, an int errcode from the table, a string errmsg.
pub async fn check_envelope(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200, "every /cgi-bin reply is HTTP 200");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content-type {content_type}"
    );
    let body: Value = response.json().await.expect("JSON body");
    let code = body["errcode"].as_i64().expect("integer errcode");
    assert!(
        ErrCode::from_code(code).is_some(),
        "errcode {code} is not in the documented table: {body}"
    );
    assert!(body["errmsg"].is_string(), "{body}");
    body
}

/// A new corp and a token of its contacts-sync secret.
pub async fn corp_token(app: &TestApp, name: &str) -> (CorpCreds, String) {
    let corp = app.corp(name).await;
    let token = app.token(&corp.corpid, &corp.secret).await;
    (corp, token)
}

/// `POST /cgi-bin/{api}` with a token and a JSON body.
pub async fn post(app: &TestApp, token: &str, api: &str, body: Value) -> Value {
    app.post(&format!("/cgi-bin/{api}?access_token={token}"), &body)
        .await
}

/// Several `POST`s in order (seeding a directory), each expected to succeed.
pub async fn post_all(app: &TestApp, token: &str, calls: &[(&str, Value)]) {
    for (api, body) in calls {
        let reply = post(app, token, api, body.clone()).await;
        assert_eq!(reply["errcode"], 0, "{api} {body}: {reply}");
    }
}

/// An app of `corp` whose callback is a fresh [`CallbackReceiver`].
pub async fn app_with_receiver(app: &TestApp, corp: &CorpId) -> (i64, String, CallbackReceiver) {
    let (agentid, secret) = app.app(corp, "HR").await;
    let receiver = CallbackReceiver::spawn(corp).await;
    app.services
        .set_callback(
            Actor::System,
            corp,
            qiye_domain::ids::AgentId::new(agentid).unwrap(),
            Some(receiver.config()),
        )
        .await
        .expect("handshake with the receiver");
    (agentid, secret, receiver)
}

/// `media/upload` with the file in the `media` part, as wechatpy sends it.
pub async fn upload(app: &TestApp, token: &str, kind: &str, name: &str, bytes: Vec<u8>) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("media", part);
    let response = app
        .client
        .post(format!(
            "{}/cgi-bin/media/upload?access_token={token}&type={kind}",
            app.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    check_envelope(response).await
}

/// `GET /cgi-bin/{api}?{query}` with a token.
pub async fn get(app: &TestApp, token: &str, api: &str, query: &str) -> Value {
    app.get(&format!("/cgi-bin/{api}?access_token={token}&{query}"))
        .await
}

pub fn errcode(reply: &Value) -> i64 {
    reply["errcode"].as_i64().expect("errcode")
}

/// The text of `<name><![CDATA[...]]></name>` (or `<name>...</name>`) in a
/// callback's plaintext XML; empty when absent.
pub fn xml_field<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let Some(start) = xml.find(&open).map(|i| i + open.len()) else {
        return "";
    };
    let rest = &xml[start..];
    let end = rest.find(&format!("</{name}>")).unwrap_or(rest.len());
    let text = &rest[..end];
    text.strip_prefix("<![CDATA[")
        .and_then(|t| t.strip_suffix("]]>"))
        .unwrap_or(text)
}

/// A callback receiver on loopback, as an integration would build it: it
/// answers the echostr handshake and verifies and decrypts every event.
pub struct CallbackReceiver {
    pub url: String,
    pub token: &'static str,
    pub key: &'static str,
    received: Arc<tokio::sync::Mutex<Vec<String>>>,
}

type ReceiverState = (
    Arc<qiye_wecom::crypto::CallbackCrypto>,
    Arc<tokio::sync::Mutex<Vec<String>>>,
);

async fn receiver_verify(
    axum::extract::State((crypto, _)): axum::extract::State<ReceiverState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    crypto
        .verify_and_decrypt(
            &q["msg_signature"],
            &q["timestamp"],
            &q["nonce"],
            &q["echostr"],
        )
        .unwrap_or_default()
}

async fn receiver_event(
    axum::extract::State((crypto, got)): axum::extract::State<ReceiverState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    body: String,
) -> &'static str {
    let plain = crypto
        .verify_and_decrypt(
            &q["msg_signature"],
            &q["timestamp"],
            &q["nonce"],
            xml_field(&body, "Encrypt"),
        )
        .expect("a correctly signed and encrypted event");
    got.lock().await.push(plain);
    "success"
}

impl CallbackReceiver {
    pub const TOKEN: &'static str = "tok123";
    pub const KEY: &'static str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";

    pub async fn spawn(corp: &CorpId) -> Self {
        let crypto = Arc::new(
            qiye_wecom::crypto::CallbackCrypto::new(Self::TOKEN, Self::KEY, corp.as_str()).unwrap(),
        );
        let received: Arc<tokio::sync::Mutex<Vec<String>>> = Arc::default();
        let router = axum::Router::new()
            .route(
                "/cb",
                axum::routing::get(receiver_verify).post(receiver_event),
            )
            .with_state((crypto, Arc::clone(&received)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url: format!("http://{addr}/cb"),
            token: Self::TOKEN,
            key: Self::KEY,
            received,
        }
    }

    pub fn config(&self) -> qiye_domain::callback::CallbackConfig {
        qiye_domain::callback::CallbackConfig::new(&self.url, self.token, self.key).unwrap()
    }

    /// Drives delivery (the server's own loop runs too) until `n` events
    /// have arrived or 5 seconds have passed; returns what arrived.
    pub async fn wait_for(&self, app: &TestApp, n: usize) -> Vec<String> {
        self.wait_until(app, |got| got.len() >= n).await
    }

    /// Drives delivery until `done` holds for the events received so far,
    /// or 5 seconds have passed; returns what arrived.
    pub async fn wait_until(&self, app: &TestApp, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        for _ in 0..100 {
            app.services.deliver_callbacks().await.unwrap();
            if done(&self.received.lock().await) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.received.lock().await.clone()
    }
}

/// An `/api/v1` reply: its HTTP status, headers and JSON body (`Null` when
/// empty). Error replies must carry an errcode from the table and a
/// matching 4xx status; nothing answers 5xx.
pub struct V1Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl V1Reply {
    pub fn errcode(&self) -> i64 {
        self.body["errcode"].as_i64().unwrap_or(0)
    }
}

impl TestApp {
    /// Calls `/api/v1` with an optional bearer token and JSON body.
    pub async fn v1(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> V1Reply {
        let mut request = self
            .client
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.body(serde_json::to_vec(body).expect("json"));
        }
        v1_reply(request.send().await.expect("request")).await
    }
}

/// Reads and checks an `/api/v1` reply.
pub async fn v1_reply(response: reqwest::Response) -> V1Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    assert!(status < 500, "HTTP {status}: {body}");
    if status >= 400 {
        let code = body["errcode"].as_i64().expect("integer errcode");
        assert!(
            ErrCode::from_code(code).is_some(),
            "errcode {code} is not in the documented table: {body}"
        );
        assert!(body["errmsg"].is_string(), "{body}");
    }
    V1Reply {
        status,
        headers,
        body,
    }
}

// ---- members and their sessions (the /api/v1 suites) ----

use qiye_app::directory::DirCaller;
use qiye_domain::directory::{MemberFields, NewDept};
use qiye_domain::ids::{DeptId, UserId};
use reqwest::Method;
use serde_json::json;

fn d(id: i64) -> DeptId {
    DeptId::new(id).unwrap()
}

fn u(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub const NEW_PASSWORD: &str = "a-long-new-password";

pub async fn sign_in(app: &TestApp, corp: &CorpId, login: &str, password: &str) -> V1Reply {
    app.v1(
        Method::POST,
        "/session",
        None,
        Some(&json!({"corpid": corp.as_str(), "login": login, "password": password})),
    )
    .await
}

/// Signs in with a one-time password and changes it; returns the token.
pub async fn first_sign_in(app: &TestApp, corp: &CorpId, userid: &str, one_time: &str) -> String {
    let reply = sign_in(app, corp, userid, one_time).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["must_change_password"], true);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let changed = app
        .v1(
            Method::POST,
            "/me/password",
            Some(&token),
            Some(&json!({"old": one_time, "new": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    token
}

pub fn operator(corp: &CorpId) -> DirCaller {
    DirCaller::operator(corp.clone(), Actor::System)
}

pub async fn dept(app: &TestApp, corp: &CorpId, id: i64, parent: i64, name: &str) {
    app.services
        .create_department(
            &operator(corp),
            NewDept {
                id: Some(d(id)),
                name: name.into(),
                name_en: None,
                parent: d(parent),
                order: None,
            },
        )
        .await
        .unwrap();
}

pub async fn member(app: &TestApp, corp: &CorpId, userid: &str, depts: &[i64], mobile: &str) {
    app.services
        .create_member(
            &operator(corp),
            u(userid),
            MemberFields {
                name: Some(format!("{userid} name")),
                mobile: (!mobile.is_empty()).then(|| mobile.to_owned()),
                departments: Some(depts.iter().map(|x| d(*x)).collect()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// A member's session, through an operator password reset and first sign-in.
pub async fn session_of(app: &TestApp, corp: &CorpId, userid: &str) -> String {
    let one_time = app
        .services
        .reset_password(&operator(corp), &u(userid))
        .await
        .unwrap();
    first_sign_in(app, corp, userid, one_time.expose()).await
}

/// A corp with its bootstrap super administrator (`admin`) signed in.
pub struct AdminCorp {
    /// The corp.
    pub id: CorpId,
    /// The administrator's session token.
    pub admin: String,
}

/// Creates a Professional corp named `name` and signs its bootstrap
/// administrator in (changing the one-time password).
pub async fn corp_with_admin(app: &TestApp, name: &str) -> AdminCorp {
    let created = app
        .services
        .create_corp(name, Plan::Professional, Actor::System)
        .await
        .unwrap();
    let id = created.corp.id.clone();
    let admin = first_sign_in(app, &id, "admin", created.admin_password.expose()).await;
    AdminCorp { id, admin }
}

/// `/api/v1` call `method path` with a bearer `token` and an optional JSON
/// body.
pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> V1Reply {
    app.v1(method, path, Some(token), body.as_ref()).await
}

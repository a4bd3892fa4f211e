//! Test harness: the real server in-process on a loopback port, on SQLite
//! (a fresh file) or PostgreSQL (a fresh database), with a clock the test
//! can move. Every `/cgi-bin` reply is checked to be HTTP 200 JSON whose
//! errcode is in the documented table.

#![allow(dead_code, missing_docs)]

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

enum Guard {
    Dir(tempfile::TempDir),
    Pg(TestDatabase),
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
        let guard = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                config.data_dir = dir.path().to_path_buf();
                Guard::Dir(dir)
            }
            Backend::Postgres => {
                let server = pg_url_from_env().expect("QIYE_TEST_PG_URL");
                let db = TestDatabase::create(&server).await.expect("test database");
                config.database_url = db.url.clone();
                Guard::Pg(db)
            }
        };
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

pub fn errcode(reply: &Value) -> i64 {
    reply["errcode"].as_i64().expect("errcode")
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

//! Operational endpoints: liveness, readiness and the landing page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};

use crate::AppState;

/// `GET /healthz`: the process is up (a static reply; also the benchmark's bare route).
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the database answers.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.services.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// `GET /`: says what this is and where the API lives.
pub async fn landing() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>qiye</title></head>\
         <body><h1>qiye is running</h1>\
         <p>The WeCom-compatible API is served under <code>/cgi-bin/</code>: \
         start with <code>GET /cgi-bin/gettoken?corpid=…&amp;corpsecret=…</code>.</p>\
         <p>Health: <a href=\"/healthz\">/healthz</a>, readiness: <a href=\"/readyz\">/readyz</a>.</p>\
         </body></html>",
    )
}

/// Any other path outside `/cgi-bin`.
pub async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, "not found")
}

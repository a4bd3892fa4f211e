//! qiye's HTTP surface: the WeCom-compatible `/cgi-bin` API, the native
//! `/api/v1` API ([`api`]), liveness and readiness, the browser app
//! ([`web`]), and the metrics router served on its own listener.
//!
//! Handlers parse their input with the extractors in [`extract`] (which
//! answer bad input with an errcode), call one use case on
//! [`qiye_app::Services`], and reply with [`envelope::Reply`] or
//! [`error::ApiError`]. The [`envelope`] middleware renders every error the
//! WeCom way and counts every request; nothing under `/cgi-bin` ever answers
//! with HTML or a non-200 status.

pub mod api;
pub mod bus;
pub mod callback;
pub mod cgi;
pub mod content;
pub mod envelope;
pub mod error;
pub mod export;
pub mod extract;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use qiye_app::Services;
use qiye_wecom::ErrCode;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The state every handler gets.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Arc<Services>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The WebSocket gateway's limits and per-address counts.
    pub gateway: Arc<api::ws::Gateway>,
}

fn panic_reply(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("handler panicked");
    ApiError::new(ErrCode::SystemBusy).into_response()
}

async fn fallback(req: Request) -> axum::response::Response {
    if req.uri().path().starts_with("/api/v1") {
        api::not_found(req).await
    } else if req.uri().path().starts_with("/cgi-bin") {
        ApiError::with_detail(ErrCode::ApiNotFound, req.uri().path().to_owned()).into_response()
    } else if web::claims(&req) {
        match web::serve(&req) {
            Some(response) => response,
            None => ops::not_found().await.into_response(),
        }
    } else {
        ops::not_found().await.into_response()
    }
}

/// The main router, with its middleware.
pub fn router(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path only: the query carries access tokens and secrets.
        tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %request_id,
            corp = tracing::field::Empty,
        )
    });
    Router::new()
        .nest("/cgi-bin", cgi::routes())
        .nest("/api/v1", api::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/", get(web::index))
        .route_layer(from_fn(envelope::tag_route))
        .fallback(fallback)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(trace)
                .layer(from_fn_with_state(
                    Arc::clone(&state.metrics),
                    envelope::envelope,
                ))
                .layer(CatchPanicLayer::custom(panic_reply))
                .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY)),
        )
        .with_state(state)
}

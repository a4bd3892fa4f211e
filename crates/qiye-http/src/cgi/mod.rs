//! The WeCom-compatible API under `/cgi-bin`: a folder per resource, a file
//! per verb. Every handler checks the token first (as WeCom does), then its
//! input, then calls one use case.

mod agent;
mod token;

use std::future::Future;
use std::net::IpAddr;

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, get, post};
use qiye_app::AuthContext;
use qiye_domain::audit::Actor;
use qiye_wecom::ErrCode;

use crate::AppState;
use crate::error::ApiError;

/// A GET endpoint; any other method is answered with 43001.
fn cgi_get<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(|| async { ApiError::new(ErrCode::RequireGet) })
}

/// A POST endpoint; any other method is answered with 43002.
fn cgi_post<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(|| async { ApiError::new(ErrCode::RequirePost) })
}

/// The `/cgi-bin` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/gettoken", cgi_get(token::get_token))
        .route("/agent/get", cgi_get(agent::get::get_agent))
        .route("/agent/list", cgi_get(agent::list::list_agents))
        .route("/agent/set", cgi_post(agent::set::set_agent))
}

/// Runs a mutation and, when it fails, appends the failure to the audit log
/// (a success is recorded by the store in the mutation's own transaction).
async fn audited<T>(
    state: &AppState,
    context: &AuthContext,
    ip: IpAddr,
    action: &str,
    target: &str,
    mutation: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let result = mutation.await;
    if let Err(error) = &result {
        let actor = Actor::for_credential(context.principal.credential);
        let reason = format!("errcode {}", error.code.code());
        state
            .services
            .record_failure(actor, context.corp_id(), Some(ip), action, target, reason)
            .await;
    }
    result
}

/// Marks the request's span with the corp it acts for.
fn trace_corp(context: &AuthContext) {
    tracing::Span::current().record("corp", context.corp_id().as_str());
}

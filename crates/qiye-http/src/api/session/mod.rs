//! `POST /api/v1/session` (sign in) and `DELETE /api/v1/session` (sign out).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qiye_app::session::SignIn;
use qiye_domain::session::SESSION_ABSOLUTE_MS;

use super::error::V1Result;
use super::extract::ClientIp;
use super::extract::{AnySession, SESSION_COOKIE, V1Json};
use super::wire::{CreateSessionRequest, SessionResponse};
use crate::AppState;

fn session_cookie(value: &str, max_age_secs: i64) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/api/v1; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}"
    )
}

/// Signs in with a password.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = CreateSessionRequest,
    responses((status = 200, body = SessionResponse), (status = 401, description = "870001 wrong login or password"),
              (status = 403, description = "870004 member disabled")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    V1Json(body): V1Json<CreateSessionRequest>,
) -> V1Result<Response> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let signed_in = state
        .services
        .sign_in(SignIn {
            corpid: &body.corpid,
            login: &body.login,
            password: &body.password,
            ip: Some(ip),
            user_agent,
        })
        .await?;
    let cookie = session_cookie(signed_in.token.expose(), SESSION_ABSOLUTE_MS / 1000);
    let reply = SessionResponse {
        token: signed_in.token.expose().to_owned(),
        corpid: signed_in.corp.as_str().to_owned(),
        userid: signed_in.userid.as_str().to_owned(),
        must_change_password: signed_in.must_change_password,
        expires_at: signed_in.expires_at,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(reply)).into_response())
}

/// Signs out (ends this session and clears the cookie).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, description = "40014 not signed in")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> V1Result<Response> {
    state.services.sign_out(&session).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie("", 0))],
    )
        .into_response())
}

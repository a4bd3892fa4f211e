//! `POST /api/v1/session` (sign in), `POST /api/v1/session/second-factor`
//! (the TOTP or recovery code a sign-in owes) and `DELETE /api/v1/session`
//! (sign out).
//!
//! Cookies: `qiye_session` (`HttpOnly; SameSite=Strict; Path=/`) carries the
//! token, `qiye_csrf` (readable by the page, `SameSite=Strict; Path=/`) the
//! CSRF token the page echoes in `X-CSRF-Token`. Sign-out clears both, and
//! the session cookie of the older `Path=/api/v1` too.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use qiye_app::identity::SecondFactor;
use qiye_app::session::SignIn;
use qiye_domain::session::SESSION_ABSOLUTE_MS;
use qiye_wecom::ErrCode;

use super::error::{V1Error, V1Result};
use super::extract::ClientIp;
use super::extract::{AnySession, CSRF_COOKIE, SESSION_COOKIE, V1Json};
use super::wire::{CreateSessionRequest, SecondFactorRequest, SessionResponse};
use crate::AppState;

/// The `Set-Cookie` values of a session (empty values with `Max-Age=0`
/// clear them).
fn session_cookies(token: &str, csrf: &str, max_age_secs: i64) -> Vec<String> {
    let mut cookies = vec![
        format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
        ),
        format!("{CSRF_COOKIE}={csrf}; Path=/; SameSite=Strict; Max-Age={max_age_secs}"),
    ];
    if max_age_secs == 0 {
        // A cookie set before the move to `Path=/`.
        cookies.push(format!(
            "{SESSION_COOKIE}=; Path=/api/v1; HttpOnly; SameSite=Strict; Max-Age=0"
        ));
    }
    cookies
}

fn with_cookies(mut response: Response, cookies: Vec<String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Signs in with a password.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = CreateSessionRequest,
    responses((status = 200, body = SessionResponse, description = "signed in; with `second_factor_required` only the second-factor step works yet"),
              (status = 401, description = "870001 wrong login or password"),
              (status = 403, description = "870004 member disabled"),
              (status = 429, description = "870006 login locked after failed sign-ins (`retry_after_secs`); 45009 too many failures from this address")))]
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
    let csrf_token = signed_in.token.csrf_token();
    let cookies = session_cookies(
        signed_in.token.expose(),
        &csrf_token,
        SESSION_ABSOLUTE_MS / 1000,
    );
    let reply = SessionResponse {
        token: signed_in.token.expose().to_owned(),
        csrf_token,
        corpid: signed_in.corp.as_str().to_owned(),
        userid: signed_in.userid.as_str().to_owned(),
        must_change_password: signed_in.must_change_password,
        second_factor_required: signed_in.second_factor_required,
        must_enroll_totp: signed_in.must_enroll_totp,
        expires_at: signed_in.expires_at,
    };
    Ok(with_cookies(Json(reply).into_response(), cookies))
}

/// Gives the second factor a sign-in owes: `{"code"}` or `{"recovery_code"}`.
#[utoipa::path(post, path = "/api/v1/session/second-factor", tag = "session",
    request_body = SecondFactorRequest,
    responses((status = 204, description = "the session is complete"),
              (status = 400, description = "40058 neither or both of code and recovery_code; 40035 no second factor pending"),
              (status = 401, description = "870008 wrong or reused code"),
              (status = 429, description = "870006 login locked")))]
#[tracing::instrument(skip_all)]
pub async fn second_factor(
    State(state): State<AppState>,
    AnySession(session): AnySession,
    V1Json(body): V1Json<SecondFactorRequest>,
) -> V1Result<StatusCode> {
    let factor = match (&body.code, &body.recovery_code) {
        (Some(code), None) => SecondFactor::Code(code),
        (None, Some(code)) => SecondFactor::RecoveryCode(code),
        _ => {
            return Err(V1Error::new(
                ErrCode::InvalidRequestParameter,
                "give exactly one of code and recovery_code",
            ));
        }
    };
    state.services.give_second_factor(&session, factor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs out (ends this session and clears the cookies).
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, description = "40014 not signed in"),
              (status = 403, description = "870005 cookie without X-CSRF-Token")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> V1Result<Response> {
    state.services.sign_out(&session).await?;
    Ok(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        session_cookies("", "", 0),
    ))
}

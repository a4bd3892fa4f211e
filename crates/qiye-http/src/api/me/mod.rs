//! The signed-in member's own account: `GET /api/v1/me` and
//! `POST /api/v1/me/password` (the only calls a session signed in with a
//! one-time password may make), TOTP (`/me/totp/*`, `/me/recovery-codes`:
//! open to a session that must still enrol) and devices (`/me/sessions`).

pub mod devices;
pub mod totp;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use qiye_domain::directory::AdminRole;

use super::error::{V1Error, V1Result};
use super::extract::{AnySession, V1Json, VerifiedSession};
use super::wire::{AdminRoleView, ChangePasswordRequest, MeCorpView, MeResponse};
use crate::AppState;

/// Who is signed in, what the session still owes, and the corp's settings.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses((status = 200, body = MeResponse), (status = 401, description = "not signed in")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> V1Result<Json<MeResponse>> {
    let name = state
        .services
        .member_name(session.corp(), session.userid())
        .await?
        .unwrap_or_default();
    let admin = state
        .services
        .admin_role_of(session.corp(), session.userid())
        .await
        .map_err(V1Error::from)?
        .map(|role| match role {
            AdminRole::Super => AdminRoleView {
                role: "super".into(),
                departments: Vec::new(),
            },
            AdminRole::Scoped(depts) => AdminRoleView {
                role: "scoped".into(),
                departments: depts.iter().map(|d| d.get()).collect(),
            },
        });
    let corp = state.services.get_corp(session.corp()).await?;
    Ok(Json(MeResponse {
        corpid: session.corp().as_str().to_owned(),
        userid: session.userid().as_str().to_owned(),
        name,
        must_change_password: session.must_change_password(),
        csrf_token: session.csrf_token().to_owned(),
        second_factor_required: session.second_factor_pending(),
        must_enroll_totp: session.must_enroll_totp(),
        totp_enabled: session.totp_enabled(),
        corp: MeCorpView {
            corpid: corp.id.as_str().to_owned(),
            name: corp.name.as_str().to_owned(),
            require_2fa: corp.require_2fa,
            watermark: corp.watermark,
        },
        admin,
    }))
}

/// Changes the member's password (ends their other sessions).
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me",
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, description = "870001 current password wrong"),
              (status = 400, description = "870003 new password not accepted"),
              (status = 403, description = "870007 second factor owed")))]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    State(state): State<AppState>,
    VerifiedSession(session): VerifiedSession,
    V1Json(body): V1Json<ChangePasswordRequest>,
) -> V1Result<StatusCode> {
    state
        .services
        .change_password(&session, &body.old, &body.new)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

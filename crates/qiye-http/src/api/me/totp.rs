//! The member's TOTP second factor: `POST /api/v1/me/totp/enroll`,
//! `POST /api/v1/me/totp/confirm`, `DELETE /api/v1/me/totp` and
//! `POST /api/v1/me/recovery-codes`. A session that must still enrol
//! (the corp requires TOTP) may call them; one owing a one-time password
//! change or a second factor may not.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use qiye_domain::totp::RecoveryCode;
use qiye_wecom::ErrCode;
use qrcode::QrCode;
use qrcode::render::svg;

use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{AnySession, V1Json};
use crate::api::wire::{
    PasswordConfirmation, RecoveryCodesResponse, TotpCodeRequest, TotpEnrollResponse,
};

/// The URI as an SVG QR code.
fn qr_svg(uri: &str) -> Result<String, V1Error> {
    let code = QrCode::new(uri.as_bytes()).map_err(|err| {
        tracing::error!(%err, "otpauth URI does not fit a QR code");
        V1Error::new(ErrCode::SystemBusy, "")
    })?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

fn codes_reply(codes: Vec<RecoveryCode>) -> Json<RecoveryCodesResponse> {
    Json(RecoveryCodesResponse {
        recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
    })
}

/// Starts a TOTP enrolment (pending until confirmed; a new call replaces a
/// pending secret).
#[utoipa::path(post, path = "/api/v1/me/totp/enroll", tag = "me",
    responses((status = 200, body = TotpEnrollResponse),
              (status = 400, description = "40035 TOTP already enabled"),
              (status = 403, description = "870002 / 870007 an earlier gate")))]
#[tracing::instrument(skip_all)]
pub async fn enroll(
    State(state): State<AppState>,
    AnySession(session): AnySession,
) -> V1Result<Json<TotpEnrollResponse>> {
    let enrollment = state.services.enroll_totp(&session).await?;
    Ok(Json(TotpEnrollResponse {
        qr_svg: qr_svg(&enrollment.otpauth_uri)?,
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
    }))
}

/// Confirms the pending enrolment with a code; answers ten recovery codes,
/// shown once.
#[utoipa::path(post, path = "/api/v1/me/totp/confirm", tag = "me",
    request_body = TotpCodeRequest,
    responses((status = 200, body = RecoveryCodesResponse),
              (status = 400, description = "40035 nothing pending"),
              (status = 401, description = "870008 wrong code")))]
#[tracing::instrument(skip_all)]
pub async fn confirm(
    State(state): State<AppState>,
    AnySession(session): AnySession,
    V1Json(body): V1Json<TotpCodeRequest>,
) -> V1Result<Json<RecoveryCodesResponse>> {
    let codes = state.services.confirm_totp(&session, &body.code).await?;
    Ok(codes_reply(codes))
}

/// Turns TOTP off; the password confirms it.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "me",
    request_body = PasswordConfirmation,
    responses((status = 204),
              (status = 400, description = "40035 TOTP not enabled"),
              (status = 401, description = "870001 wrong password"),
              (status = 403, description = "870009 the corp requires TOTP")))]
#[tracing::instrument(skip_all)]
pub async fn disable(
    State(state): State<AppState>,
    AnySession(session): AnySession,
    V1Json(body): V1Json<PasswordConfirmation>,
) -> V1Result<StatusCode> {
    state
        .services
        .disable_totp(&session, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new set of recovery codes (the old ones stop working).
#[utoipa::path(post, path = "/api/v1/me/recovery-codes", tag = "me",
    request_body = PasswordConfirmation,
    responses((status = 200, body = RecoveryCodesResponse),
              (status = 400, description = "40035 TOTP not enabled"),
              (status = 401, description = "870001 wrong password")))]
#[tracing::instrument(skip_all)]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    AnySession(session): AnySession,
    V1Json(body): V1Json<PasswordConfirmation>,
) -> V1Result<Json<RecoveryCodesResponse>> {
    let codes = state
        .services
        .regenerate_recovery_codes(&session, &body.password)
        .await?;
    Ok(codes_reply(codes))
}

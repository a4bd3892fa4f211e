//! The member's signed-in devices (their sessions):
//! `GET /api/v1/me/sessions`, `DELETE /api/v1/me/sessions/{id}` (that
//! device's next request is refused) and `DELETE /api/v1/me/sessions`
//! (every device, this one included).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::AppState;
use crate::api::error::V1Result;
use crate::api::extract::Member;
use crate::api::wire::{DeviceView, DevicesResponse};

/// The member's devices, oldest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 200, body = DevicesResponse)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Member(member): Member,
) -> V1Result<Json<DevicesResponse>> {
    let devices = state.services.my_devices(member.session()).await?;
    Ok(Json(DevicesResponse {
        sessions: devices.into_iter().map(DeviceView::from).collect(),
    }))
}

/// Signs one device out.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me",
    params(("id" = String, Path, description = "the device's id from the list")),
    responses((status = 204), (status = 400, description = "40035 no such session of yours")))]
#[tracing::instrument(skip_all)]
pub async fn sign_out_one(
    State(state): State<AppState>,
    Member(member): Member,
    Path(id): Path<String>,
) -> V1Result<StatusCode> {
    state
        .services
        .sign_out_device(member.session(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs every device out, this one included.
#[utoipa::path(delete, path = "/api/v1/me/sessions", tag = "me",
    responses((status = 204)))]
#[tracing::instrument(skip_all)]
pub async fn sign_out_all(
    State(state): State<AppState>,
    Member(member): Member,
) -> V1Result<StatusCode> {
    state.services.sign_out_everywhere(member.session()).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! A member's devices for administrators:
//! `GET /api/v1/admin/members/{userid}/sessions` and
//! `DELETE /api/v1/admin/members/{userid}/sessions` (signs every device of
//! the member out). A scoped administrator reaches only the members of
//! their subtrees (60011 outside, audited).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::audited;
use crate::AppState;
use crate::api::error::V1Result;
use crate::api::extract::{Admin, user_param};
use crate::api::wire::{DeviceView, DevicesResponse};

/// The member's signed-in devices.
#[utoipa::path(get, path = "/api/v1/admin/members/{userid}/sessions", tag = "admin",
    params(("userid" = String, Path)),
    responses((status = 200, body = DevicesResponse),
              (status = 403, description = "60011 outside the administrator's scope"),
              (status = 404, description = "60111 no such member")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(userid): Path<String>,
) -> V1Result<Json<DevicesResponse>> {
    let userid = user_param(&userid)?;
    let devices = state.services.member_devices(&admin, &userid).await?;
    Ok(Json(DevicesResponse {
        sessions: devices.into_iter().map(DeviceView::from).collect(),
    }))
}

/// Signs every device of the member out.
#[utoipa::path(delete, path = "/api/v1/admin/members/{userid}/sessions", tag = "admin",
    params(("userid" = String, Path)),
    responses((status = 204),
              (status = 403, description = "60011 outside the administrator's scope"),
              (status = 404, description = "60111 no such member")))]
#[tracing::instrument(skip_all)]
pub async fn revoke_all(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(raw): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("member:{raw}");
    audited(&state, &admin, "session.revoke_all", &target, async {
        let userid = user_param(&raw)?;
        state
            .services
            .revoke_member_sessions(&admin, &userid)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

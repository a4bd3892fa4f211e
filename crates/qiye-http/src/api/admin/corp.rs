//! The corp's settings: `GET /api/v1/admin/corp` (any administrator) and
//! `PATCH /api/v1/admin/corp` (super administrators; 60011 otherwise):
//! `name`, `require_2fa`, `watermark` and `rate_limits` (per minute, at
//! most the server defaults: higher limits and the plan are the
//! operator's).

use axum::Json;
use axum::extract::State;
use qiye_app::identity::{CorpSettingsRequest, RateLimitsChange};
use qiye_domain::corp::Corp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audited;
use crate::AppState;
use crate::api::error::V1Result;
use crate::api::extract::{Admin, V1Json};

/// Per-minute limits; `null` means the server default.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct RateLimitsView {
    /// Calls per minute per API for the whole corp.
    pub api_per_minute: Option<u32>,
    /// Calls per minute per API for each app (`message/send` included).
    pub sends_per_minute: Option<u32>,
}

/// The corp's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorpSettingsView {
    /// The corp.
    pub corpid: String,
    /// Its name.
    pub name: String,
    /// `basic`, `professional` or `flagship` (the operator's to change).
    pub plan: String,
    /// Every member must sign in with TOTP.
    pub require_2fa: bool,
    /// The web app shows a watermark.
    pub watermark: bool,
    /// The corp's own rate limits.
    pub rate_limits: RateLimitsView,
}

impl From<Corp> for CorpSettingsView {
    fn from(corp: Corp) -> Self {
        Self {
            corpid: corp.id.as_str().to_owned(),
            name: corp.name.as_str().to_owned(),
            plan: corp.plan.to_string(),
            require_2fa: corp.require_2fa,
            watermark: corp.watermark,
            rate_limits: RateLimitsView {
                api_per_minute: corp.rate_override.corp_per_api.map(|q| q.per_minute),
                sends_per_minute: corp.rate_override.app_per_api.map(|q| q.per_minute),
            },
        }
    }
}

/// `PATCH /api/v1/admin/corp`: what is absent stays.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchCorpRequest {
    /// New name (1-64 characters).
    pub name: Option<String>,
    /// Require TOTP of every member.
    pub require_2fa: Option<bool>,
    /// Show the watermark.
    pub watermark: Option<bool>,
    /// New limits (both; `null` returns one to the default).
    pub rate_limits: Option<RateLimitsView>,
}

/// The corp's settings.
#[utoipa::path(get, path = "/api/v1/admin/corp", tag = "admin",
    responses((status = 200, body = CorpSettingsView), (status = 403, description = "60011 not an administrator")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<CorpSettingsView>> {
    Ok(Json(state.services.corp_settings(&admin).await?.into()))
}

/// Changes the corp's settings.
#[utoipa::path(patch, path = "/api/v1/admin/corp", tag = "admin",
    request_body = PatchCorpRequest,
    responses((status = 200, body = CorpSettingsView),
        (status = 400, description = "40035 a name or limit out of range"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn patch(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<PatchCorpRequest>,
) -> V1Result<Json<CorpSettingsView>> {
    let target = format!("corp:{}", admin.dir().corp);
    audited(&state, &admin, "corp.settings", &target, async {
        let editor = admin.rule_editor()?;
        let request = CorpSettingsRequest {
            name: body.name,
            require_2fa: body.require_2fa,
            watermark: body.watermark,
            rate_limits: body.rate_limits.map(|r| RateLimitsChange {
                api_per_minute: r.api_per_minute,
                sends_per_minute: r.sends_per_minute,
            }),
        };
        let corp = state.services.set_corp_settings(&editor, request).await?;
        Ok(Json(corp.into()))
    })
    .await
}

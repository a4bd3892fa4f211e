//! The corp's escalation policy for unread urgent messages:
//! `GET /api/v1/admin/escalation` (any administrator) and
//! `PUT /api/v1/admin/escalation` (super administrators; 60011 / 403
//! otherwise). Out-of-range values are 40035 and change nothing.

use axum::Json;
use axum::extract::State;
use qiye_domain::escalation::EscalationPolicy;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audited;
use crate::AppState;
use crate::api::error::V1Result;
use crate::api::extract::{Admin, V1Json};

/// When an unread urgent message is re-sent by e-mail and/or SMS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicyView {
    /// Seconds after sending before the first notice (60-86400).
    pub first_after_secs: u32,
    /// Seconds between two notices (300-86400).
    pub repeat_every_secs: u32,
    /// Notices at most (1-10).
    pub max_attempts: u32,
    /// By e-mail.
    pub email: bool,
    /// By SMS.
    pub sms: bool,
}

impl From<EscalationPolicy> for EscalationPolicyView {
    fn from(p: EscalationPolicy) -> Self {
        Self {
            first_after_secs: p.first_after_secs,
            repeat_every_secs: p.repeat_every_secs,
            max_attempts: p.max_attempts,
            email: p.email,
            sms: p.sms,
        }
    }
}

impl From<EscalationPolicyView> for EscalationPolicy {
    fn from(v: EscalationPolicyView) -> Self {
        Self {
            first_after_secs: v.first_after_secs,
            repeat_every_secs: v.repeat_every_secs,
            max_attempts: v.max_attempts,
            email: v.email,
            sms: v.sms,
        }
    }
}

/// The corp's policy (the default when it never set one).
#[utoipa::path(get, path = "/api/v1/admin/escalation", tag = "admin",
    responses((status = 200, body = EscalationPolicyView)))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<EscalationPolicyView>> {
    let policy = state.services.escalation_policy(&admin.dir().corp).await?;
    Ok(Json(policy.into()))
}

/// Replaces the corp's policy.
#[utoipa::path(put, path = "/api/v1/admin/escalation", tag = "admin",
    request_body = EscalationPolicyView,
    responses((status = 200, body = EscalationPolicyView),
        (status = 400, description = "40035 out of range"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn put(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<EscalationPolicyView>,
) -> V1Result<Json<EscalationPolicyView>> {
    let target = format!("corp:{}", admin.dir().corp);
    audited(&state, &admin, "escalation.set_policy", &target, async {
        let editor = admin.rule_editor()?;
        let policy = EscalationPolicy::from(body.clone());
        state
            .services
            .set_escalation_policy(&editor, policy)
            .await?;
        Ok(Json(body))
    })
    .await
}

//! The member-facing rules: `GET /api/v1/admin/rules`,
//! `GET/PUT/DELETE /api/v1/admin/visibility-rules/{dept}` and
//! `GET/PUT/DELETE /api/v1/admin/field-rules/{field}`. Any administrator
//! reads them; only super administrators change them (60011 / 403).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use qiye_domain::directory::ProtectedField;
use qiye_wecom::ErrCode;

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Json, dept_param};
use crate::api::wire::{
    FieldRuleView, PutFieldRuleRequest, PutVisibilityRuleRequest, RulesResponse, VisibilityRuleView,
};

fn field_param(raw: &str) -> Result<ProtectedField, V1Error> {
    ProtectedField::from_config(raw).ok_or_else(|| {
        V1Error::new(
            ErrCode::InvalidParameter,
            format!("unknown field '{raw}': mobile, email, biz_mail, telephone, address, position or extattr:NAME"),
        )
    })
}

fn no_rule() -> V1Error {
    V1Error::new(ErrCode::ApiNotFound, "no such rule")
}

/// Every rule of the corp.
#[utoipa::path(get, path = "/api/v1/admin/rules", tag = "admin",
    responses((status = 200, body = RulesResponse)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<RulesResponse>> {
    let policy = state.services.policy(&admin.dir().corp).await?;
    Ok(Json(RulesResponse {
        visibility: policy
            .visibility
            .iter()
            .map(VisibilityRuleView::from)
            .collect(),
        fields: policy.fields.iter().map(FieldRuleView::from).collect(),
    }))
}

/// One department's visibility rule.
#[utoipa::path(get, path = "/api/v1/admin/visibility-rules/{dept}", tag = "admin",
    params(("dept" = u32, Path)),
    responses((status = 200, body = VisibilityRuleView), (status = 404, description = "48005 no rule")))]
#[tracing::instrument(skip_all)]
pub async fn get_visibility(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(dept): Path<String>,
) -> V1Result<Json<VisibilityRuleView>> {
    let dept = dept_param(&dept)?;
    let rule = state
        .services
        .visibility_rule(&admin.dir().corp, dept)
        .await?
        .ok_or_else(no_rule)?;
    Ok(Json(VisibilityRuleView::from(&rule)))
}

/// Hides a department (with its subtree) from all but `visible_to`.
#[utoipa::path(put, path = "/api/v1/admin/visibility-rules/{dept}", tag = "admin",
    params(("dept" = u32, Path)), request_body = PutVisibilityRuleRequest,
    responses((status = 204), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn put_visibility(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(dept): Path<String>,
    V1Json(body): V1Json<PutVisibilityRuleRequest>,
) -> V1Result<StatusCode> {
    let target = format!("department:{dept}");
    audited(&state, &admin, "directory.hide", &target, async {
        let editor = admin.rule_editor()?;
        let dept = dept_param(&dept)?;
        let audience = body.visible_to.into_range()?;
        state
            .services
            .set_visibility_rule(&editor, dept, Some(audience))
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Removes a department's visibility rule.
#[utoipa::path(delete, path = "/api/v1/admin/visibility-rules/{dept}", tag = "admin",
    params(("dept" = u32, Path)),
    responses((status = 204), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn delete_visibility(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(dept): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("department:{dept}");
    audited(&state, &admin, "directory.unhide", &target, async {
        let editor = admin.rule_editor()?;
        let dept = dept_param(&dept)?;
        state
            .services
            .set_visibility_rule(&editor, dept, None)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// One field's rule.
#[utoipa::path(get, path = "/api/v1/admin/field-rules/{field}", tag = "admin",
    params(("field" = String, Path)),
    responses((status = 200, body = FieldRuleView), (status = 404, description = "48005 no rule")))]
#[tracing::instrument(skip_all)]
pub async fn get_field(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(field): Path<String>,
) -> V1Result<Json<FieldRuleView>> {
    let field = field_param(&field)?;
    let rule = state
        .services
        .field_rule(&admin.dir().corp, &field)
        .await?
        .ok_or_else(no_rule)?;
    Ok(Json(FieldRuleView::from(&rule)))
}

/// Restricts who reads a field.
#[utoipa::path(put, path = "/api/v1/admin/field-rules/{field}", tag = "admin",
    params(("field" = String, Path)), request_body = PutFieldRuleRequest,
    responses((status = 204), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn put_field(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(field): Path<String>,
    V1Json(body): V1Json<PutFieldRuleRequest>,
) -> V1Result<StatusCode> {
    let target = format!("field:{field}");
    audited(&state, &admin, "directory.protect_field", &target, async {
        let editor = admin.rule_editor()?;
        let field = field_param(&field)?;
        let readers = body.readers.into_range()?;
        state
            .services
            .set_field_rule(&editor, &field, Some((body.admins, readers)))
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Removes a field's rule.
#[utoipa::path(delete, path = "/api/v1/admin/field-rules/{field}", tag = "admin",
    params(("field" = String, Path)),
    responses((status = 204), (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn delete_field(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(field): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("field:{field}");
    audited(
        &state,
        &admin,
        "directory.unprotect_field",
        &target,
        async {
            let editor = admin.rule_editor()?;
            let field = field_param(&field)?;
            state.services.set_field_rule(&editor, &field, None).await?;
            Ok(StatusCode::NO_CONTENT)
        },
    )
    .await
}

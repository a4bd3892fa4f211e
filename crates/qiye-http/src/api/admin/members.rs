//! `GET/POST /api/v1/admin/members` (filters: `department_id`, `q`, `status`), `GET/PATCH/DELETE
//! /api/v1/admin/members/{userid}`, `POST .../{userid}/reset-password`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Json, V1Query, dept_param, user_param};
use crate::api::wire::{
    AdminMembersResponse, CreateMemberRequest, MemberFieldsRequest, MemberView,
    ResetPasswordResponse,
};
use qiye_app::directory::member_view::{DEFAULT_PAGE, MAX_PAGE};
use qiye_domain::directory::{Member, MemberStatus};
use qiye_domain::ids::DeptId;
use qiye_wecom::ErrCode;
use std::collections::HashSet;

/// Paging and filters of the members in reach.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AdminMembersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1-1000, default 100).
    pub limit: Option<usize>,
    /// Only members of this department (60011 outside the scope).
    pub department_id: Option<String>,
    /// With `department_id`: `1` also members of its subdepartments.
    pub recursive: Option<u8>,
    /// Only members whose userid, name, alias, English name, mobile or
    /// e-mail contains this text (case-insensitive).
    pub q: Option<String>,
    /// Only members in this status: `active` (1), `disabled` (2),
    /// `not_activated` (4) or `left` (5), by name or number.
    pub status: Option<String>,
}

fn status_param(raw: &str) -> Result<MemberStatus, V1Error> {
    let by_name = match raw {
        "active" => Some(MemberStatus::Active),
        "disabled" => Some(MemberStatus::Disabled),
        "not_activated" | "inactive" => Some(MemberStatus::NotActivated),
        "left" => Some(MemberStatus::Left),
        _ => raw.parse().ok().and_then(MemberStatus::from_code),
    };
    by_name.ok_or_else(|| {
        V1Error::new(
            ErrCode::InvalidRequestParameter,
            format!("status '{raw}': active, disabled, not_activated or left"),
        )
    })
}

/// Whether a member's searchable fields contain `needle` (lowercase).
fn matches_text(m: &Member, needle: &str) -> bool {
    [
        m.userid.as_str(),
        &m.name,
        &m.alias,
        &m.english_name,
        &m.mobile,
        &m.email,
    ]
    .iter()
    .any(|field| field.to_lowercase().contains(needle))
}

/// Members in the administrator's reach, by userid, every field,
/// optionally filtered by department, text and status.
#[utoipa::path(get, path = "/api/v1/admin/members", tag = "admin", params(AdminMembersQuery),
    responses((status = 200, body = AdminMembersResponse)))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Query(query): V1Query<AdminMembersQuery>,
) -> V1Result<Json<AdminMembersResponse>> {
    let after = query
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(user_param)
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let department = query
        .department_id
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(dept_param)
        .transpose()?;
    let recursive = query.recursive.unwrap_or(0) == 1;
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(status_param)
        .transpose()?;
    let needle = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    let reply = state
        .services
        .dir_read(admin.dir(), |view| {
            let depts: Option<HashSet<DeptId>> = match department {
                None => None,
                Some(id) => {
                    view.dept(id)?;
                    Some(if recursive {
                        view.dir.subtree(id).into_iter().collect()
                    } else {
                        HashSet::from([id])
                    })
                }
            };
            let keep = |m: &Member| {
                depts
                    .as_ref()
                    .is_none_or(|set| m.departments.iter().any(|ms| set.contains(&ms.dept)))
                    && status.is_none_or(|s| m.status == s)
                    && needle.as_deref().is_none_or(|n| matches_text(m, n))
            };
            let (members, more) = view.member_page(after.as_ref(), limit, keep);
            Ok::<_, qiye_domain::directory::DirError>(AdminMembersResponse {
                next_cursor: more
                    .then(|| members.last().map(|m| m.userid.as_str().to_owned()))
                    .flatten(),
                members: members.into_iter().map(MemberView::from).collect(),
            })
        })
        .await??;
    Ok(Json(reply))
}

/// A member in reach, every field.
#[utoipa::path(get, path = "/api/v1/admin/members/{userid}", tag = "admin",
    params(("userid" = String, Path)),
    responses((status = 200, body = MemberView), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn get(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(userid): Path<String>,
) -> V1Result<Json<MemberView>> {
    let userid = user_param(&userid)?;
    let member = state
        .services
        .dir_read(admin.dir(), |view| {
            view.member(&userid).map(MemberView::from)
        })
        .await??;
    Ok(Json(member))
}

/// Creates a member in departments in reach.
#[utoipa::path(post, path = "/api/v1/admin/members", tag = "admin",
    request_body = CreateMemberRequest,
    responses((status = 204), (status = 403, description = "60011 a department outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<CreateMemberRequest>,
) -> V1Result<StatusCode> {
    let target = format!("member:{}", body.userid);
    audited(&state, &admin, "member.create", &target, async {
        let userid = user_param(&body.userid)?;
        let fields = body.fields.into_fields()?;
        state
            .services
            .create_member(admin.dir(), userid, fields)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Changes a member in reach (departments it names must be in reach too).
#[utoipa::path(patch, path = "/api/v1/admin/members/{userid}", tag = "admin",
    params(("userid" = String, Path)), request_body = MemberFieldsRequest,
    responses((status = 204), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(userid): Path<String>,
    V1Json(body): V1Json<MemberFieldsRequest>,
) -> V1Result<StatusCode> {
    let target = format!("member:{userid}");
    audited(&state, &admin, "member.update", &target, async {
        let userid = user_param(&userid)?;
        let fields = body.into_fields()?;
        state
            .services
            .update_member(admin.dir(), &userid, None, fields)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Deletes a member in reach (their sessions end).
#[utoipa::path(delete, path = "/api/v1/admin/members/{userid}", tag = "admin",
    params(("userid" = String, Path)),
    responses((status = 204), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(userid): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("member:{userid}");
    audited(&state, &admin, "member.delete", &target, async {
        let userid = user_param(&userid)?;
        state
            .services
            .delete_members(admin.dir(), std::slice::from_ref(&userid))
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Gives a member in reach a new one-time password (their sessions end).
#[utoipa::path(post, path = "/api/v1/admin/members/{userid}/reset-password", tag = "admin",
    params(("userid" = String, Path)),
    responses((status = 200, body = ResetPasswordResponse), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(userid): Path<String>,
) -> V1Result<Json<ResetPasswordResponse>> {
    let target = format!("member:{userid}");
    audited(&state, &admin, "member.password.reset", &target, async {
        let userid = user_param(&userid)?;
        let password = state
            .services
            .reset_password(admin.dir(), &userid)
            .await
            .map_err(V1Error::from)?;
        Ok(Json(ResetPasswordResponse {
            password: password.expose().to_owned(),
        }))
    })
    .await
}

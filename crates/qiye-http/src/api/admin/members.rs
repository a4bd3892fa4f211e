//! `GET/POST /api/v1/admin/members`, `GET/PATCH/DELETE
//! /api/v1/admin/members/{userid}`, `POST .../{userid}/reset-password`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Json, V1Query, user_param};
use crate::api::wire::{
    AdminMembersResponse, CreateMemberRequest, MemberFieldsRequest, MemberView,
    ResetPasswordResponse,
};
use qiye_app::directory::member_view::{DEFAULT_PAGE, MAX_PAGE};

/// Paging of the members in reach.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AdminMembersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1-1000, default 100).
    pub limit: Option<usize>,
}

/// Members in the administrator's reach, by userid, every field.
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
    let reply = state
        .services
        .dir_read(admin.dir(), |view| {
            let (members, more) = view.member_page(after.as_ref(), limit);
            AdminMembersResponse {
                next_cursor: more
                    .then(|| members.last().map(|m| m.userid.as_str().to_owned()))
                    .flatten(),
                members: members.into_iter().map(MemberView::from).collect(),
            }
        })
        .await?;
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

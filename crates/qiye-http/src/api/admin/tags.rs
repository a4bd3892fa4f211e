//! Tags: `GET/POST /api/v1/admin/tags`, `PATCH/DELETE
//! /api/v1/admin/tags/{tagid}` and `GET/POST/DELETE
//! /api/v1/admin/tags/{tagid}/members`. Any administrator reads tags (a
//! scoped administrator sees only the members and departments in their
//! reach); only super administrators change them (60011 / 403). The use
//! cases are those of `/cgi-bin/tag/*`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use qiye_domain::directory::{DirError, TagId};
use qiye_wecom::ErrCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audited;
use crate::AppState;
use crate::api::error::{V1Error, V1Result};
use crate::api::extract::{Admin, V1Json};

/// A tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    /// Its id.
    pub tagid: u32,
    /// Its name.
    pub tagname: String,
}

/// `GET /api/v1/admin/tags`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagsResponse {
    /// Every tag of the corp, by id.
    pub tags: Vec<TagView>,
}

/// `POST /api/v1/admin/tags`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTagRequest {
    /// 1-32 characters, unique in the corp.
    pub tagname: String,
    /// The id to use (assigned when absent).
    pub tagid: Option<u32>,
}

/// A created tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTagResponse {
    /// Its id.
    pub tagid: u32,
}

/// `PATCH /api/v1/admin/tags/{tagid}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RenameTagRequest {
    /// The new name.
    pub tagname: String,
}

/// A member of a tag.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagMemberView {
    /// userid.
    pub userid: String,
    /// Name.
    pub name: String,
}

/// `GET /api/v1/admin/tags/{tagid}/members`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagMembersResponse {
    /// Members tagged directly (those in the administrator's reach).
    pub users: Vec<TagMemberView>,
    /// Departments tagged (those in the administrator's reach).
    pub departments: Vec<u32>,
}

/// `POST` (add) and `DELETE` (remove) `/api/v1/admin/tags/{tagid}/members`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TagMembersRequest {
    /// userids (at most 1000).
    #[serde(default)]
    pub users: Vec<String>,
    /// Department ids (at most 100).
    #[serde(default)]
    pub departments: Vec<i64>,
}

/// What was not added or removed; the rest was.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagMembersOutcome {
    /// userids that are malformed or name no member.
    pub invalid_users: Vec<String>,
    /// Department ids that name no department.
    pub invalid_departments: Vec<i64>,
}

fn tag_param(raw: &str) -> Result<TagId, V1Error> {
    raw.parse::<u32>()
        .ok()
        .filter(|t| *t > 0)
        .map(TagId)
        .ok_or_else(|| V1Error::new(ErrCode::InvalidTagId, raw.to_owned()))
}

/// Every tag of the corp.
#[utoipa::path(get, path = "/api/v1/admin/tags", tag = "admin",
    responses((status = 200, body = TagsResponse), (status = 403, description = "60011 not an administrator")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<TagsResponse>> {
    let mut tags: Vec<TagView> = state
        .services
        .dir_read(admin.dir(), |view| {
            view.dir
                .tags()
                .map(|t| TagView {
                    tagid: t.id.0,
                    tagname: t.name.clone(),
                })
                .collect()
        })
        .await?;
    tags.sort_by_key(|t| t.tagid);
    Ok(Json(TagsResponse { tags }))
}

/// Creates a tag (super administrators).
#[utoipa::path(post, path = "/api/v1/admin/tags", tag = "admin",
    request_body = CreateTagRequest,
    responses((status = 200, body = CreatedTagResponse),
        (status = 400, description = "40072 name length, 40068 bad tagid"),
        (status = 409, description = "40071 name or id taken"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<CreateTagRequest>,
) -> V1Result<Json<CreatedTagResponse>> {
    let target = format!("tag:{}", body.tagname);
    audited(&state, &admin, "tag.create", &target, async {
        let editor = admin.as_super()?;
        let id = match body.tagid {
            Some(0) => return Err(V1Error::new(ErrCode::InvalidTagId, "0")),
            other => other.map(TagId),
        };
        let id = state
            .services
            .create_tag(editor.dir(), id, body.tagname.clone())
            .await?;
        Ok(Json(CreatedTagResponse { tagid: id.0 }))
    })
    .await
}

/// Renames a tag (super administrators).
#[utoipa::path(patch, path = "/api/v1/admin/tags/{tagid}", tag = "admin",
    params(("tagid" = u32, Path)), request_body = RenameTagRequest,
    responses((status = 204), (status = 404, description = "40068 no such tag"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(tagid): Path<String>,
    V1Json(body): V1Json<RenameTagRequest>,
) -> V1Result<StatusCode> {
    let target = format!("tag:{tagid}");
    audited(&state, &admin, "tag.update", &target, async {
        let editor = admin.as_super()?;
        let id = tag_param(&tagid)?;
        state
            .services
            .rename_tag(editor.dir(), id, body.tagname)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Deletes a tag (super administrators).
#[utoipa::path(delete, path = "/api/v1/admin/tags/{tagid}", tag = "admin",
    params(("tagid" = u32, Path)),
    responses((status = 204), (status = 404, description = "40068 no such tag"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(tagid): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("tag:{tagid}");
    audited(&state, &admin, "tag.delete", &target, async {
        let editor = admin.as_super()?;
        let id = tag_param(&tagid)?;
        state.services.delete_tag(editor.dir(), id).await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// A tag's members and departments (those in the administrator's reach).
#[utoipa::path(get, path = "/api/v1/admin/tags/{tagid}/members", tag = "admin",
    params(("tagid" = u32, Path)),
    responses((status = 200, body = TagMembersResponse), (status = 404, description = "40068 no such tag")))]
#[tracing::instrument(skip_all)]
pub async fn members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(tagid): Path<String>,
) -> V1Result<Json<TagMembersResponse>> {
    let id = tag_param(&tagid)?;
    let reply = state
        .services
        .dir_read(admin.dir(), |view| {
            let tag = view.dir.tag(id).ok_or(DirError::TagNotFound)?;
            let reach = &view.caller.reach;
            Ok::<_, DirError>(TagMembersResponse {
                users: tag
                    .users
                    .iter()
                    .filter_map(|u| view.dir.member(u))
                    .filter(|m| reach.member(view.dir, m))
                    .map(|m| TagMemberView {
                        userid: m.userid.as_str().to_owned(),
                        name: m.name.clone(),
                    })
                    .collect(),
                departments: tag
                    .parties
                    .iter()
                    .filter(|d| reach.dept(view.dir, **d))
                    .map(|d| d.get())
                    .collect(),
            })
        })
        .await??;
    Ok(Json(reply))
}

async fn change_members(
    state: &AppState,
    admin: &qiye_app::directory::admin::AdminCaller,
    tagid: &str,
    body: TagMembersRequest,
    add: bool,
) -> V1Result<Json<TagMembersOutcome>> {
    let target = format!("tag:{tagid}");
    audited(state, admin, "tag.members", &target, async {
        let editor = admin.as_super()?;
        let id = tag_param(tagid)?;
        if body.users.is_empty() && body.departments.is_empty() {
            return Err(V1Error::new(
                ErrCode::InvalidRequestParameter,
                "users and departments are both empty",
            ));
        }
        let outcome = state
            .services
            .tag_targets(editor.dir(), id, &body.users, &body.departments, add)
            .await?;
        Ok(Json(TagMembersOutcome {
            invalid_users: outcome.invalid_users,
            invalid_departments: outcome.invalid_parties,
        }))
    })
    .await
}

/// Tags members and departments (super administrators).
#[utoipa::path(post, path = "/api/v1/admin/tags/{tagid}/members", tag = "admin",
    params(("tagid" = u32, Path)), request_body = TagMembersRequest,
    responses((status = 200, body = TagMembersOutcome), (status = 404, description = "40068 no such tag"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn add_members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(tagid): Path<String>,
    V1Json(body): V1Json<TagMembersRequest>,
) -> V1Result<Json<TagMembersOutcome>> {
    change_members(&state, &admin, &tagid, body, true).await
}

/// Untags members and departments (super administrators).
#[utoipa::path(delete, path = "/api/v1/admin/tags/{tagid}/members", tag = "admin",
    params(("tagid" = u32, Path)), request_body = TagMembersRequest,
    responses((status = 200, body = TagMembersOutcome), (status = 404, description = "40068 no such tag"),
        (status = 403, description = "60011 not a super administrator")))]
#[tracing::instrument(skip_all)]
pub async fn remove_members(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(tagid): Path<String>,
    V1Json(body): V1Json<TagMembersRequest>,
) -> V1Result<Json<TagMembersOutcome>> {
    change_members(&state, &admin, &tagid, body, false).await
}

//! The member-facing directory: `/api/v1/directory/...`. Every answer is
//! filtered by the corp's visibility and field rules for the signed-in
//! member (see `qiye_app::directory::member_view`).

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::V1Result;
use super::extract::{Member, V1Query, dept_param, user_param};
use super::wire::{
    DepartmentView, DepartmentsResponse, MemberPageResponse, MemberView, SearchResponse,
};
use crate::AppState;
use qiye_app::directory::member_view::DEFAULT_PAGE;

/// Paging of a department's members.
#[derive(Debug, Deserialize, IntoParams)]
pub struct MembersQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (1-1000, default 100).
    pub limit: Option<usize>,
    /// 1: the whole visible subtree, each member once.
    pub fetch_child: Option<u8>,
}

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Text to find.
    pub q: String,
    /// Most hits of each kind (1-1000, default 100).
    pub limit: Option<usize>,
}

/// The departments the member may see, in tree order.
#[utoipa::path(get, path = "/api/v1/directory/departments", tag = "directory",
    responses((status = 200, body = DepartmentsResponse)))]
#[tracing::instrument(skip_all)]
pub async fn departments(
    State(state): State<AppState>,
    Member(member): Member,
) -> V1Result<Json<DepartmentsResponse>> {
    let departments = state
        .services
        .member_read(&member, |view| {
            view.departments()
                .into_iter()
                .map(DepartmentView::from)
                .collect()
        })
        .await?;
    Ok(Json(DepartmentsResponse { departments }))
}

/// Members of a department the member may see.
#[utoipa::path(get, path = "/api/v1/directory/departments/{id}/members", tag = "directory",
    params(("id" = u32, Path, description = "department id"), MembersQuery),
    responses((status = 200, body = MemberPageResponse), (status = 404, description = "60003 unknown or hidden department")))]
#[tracing::instrument(skip_all)]
pub async fn members(
    State(state): State<AppState>,
    Member(member): Member,
    Path(id): Path<String>,
    V1Query(query): V1Query<MembersQuery>,
) -> V1Result<Json<MemberPageResponse>> {
    let dept = dept_param(&id)?;
    let page = state
        .services
        .member_read(&member, |view| {
            view.members_page(
                dept,
                query.fetch_child == Some(1),
                query.cursor.as_deref(),
                query.limit.unwrap_or(DEFAULT_PAGE),
            )
        })
        .await??;
    Ok(Json(page.into()))
}

/// A colleague's profile, with the fields the member may not read omitted.
#[utoipa::path(get, path = "/api/v1/directory/members/{userid}", tag = "directory",
    params(("userid" = String, Path)),
    responses((status = 200, body = MemberView), (status = 404, description = "60111 unknown or hidden member")))]
#[tracing::instrument(skip_all)]
pub async fn profile(
    State(state): State<AppState>,
    Member(member): Member,
    Path(userid): Path<String>,
) -> V1Result<Json<MemberView>> {
    let userid = user_param(&userid)?;
    let card = state
        .services
        .member_read(&member, |view| view.profile(&userid))
        .await??;
    Ok(Json(card.into()))
}

/// Finds departments and members the member may see.
#[utoipa::path(get, path = "/api/v1/directory/search", tag = "directory",
    params(SearchQuery), responses((status = 200, body = SearchResponse)))]
#[tracing::instrument(skip_all)]
pub async fn search(
    State(state): State<AppState>,
    Member(member): Member,
    V1Query(query): V1Query<SearchQuery>,
) -> V1Result<Json<SearchResponse>> {
    let hits = state
        .services
        .member_read(&member, |view| {
            view.search(&query.q, query.limit.unwrap_or(DEFAULT_PAGE))
        })
        .await??;
    Ok(Json(hits.into()))
}

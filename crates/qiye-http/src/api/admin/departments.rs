//! `GET/POST /api/v1/admin/departments`, `PATCH/DELETE /api/v1/admin/departments/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use qiye_domain::directory::{DeptPatch, NewDept};

use super::audited;
use crate::AppState;
use crate::api::error::V1Result;
use crate::api::extract::{Admin, V1Json, dept_param};
use crate::api::wire::{
    CreateDeptRequest, CreatedDeptResponse, DepartmentView, DepartmentsResponse, UpdateDeptRequest,
    depts_of,
};

/// The departments in the administrator's reach, in tree order.
#[utoipa::path(get, path = "/api/v1/admin/departments", tag = "admin",
    responses((status = 200, body = DepartmentsResponse), (status = 403, description = "60011 not an administrator")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    Admin(admin): Admin,
) -> V1Result<Json<DepartmentsResponse>> {
    let departments = state
        .services
        .dir_read(admin.dir(), |view| {
            view.depts(None)
                .map(|ds| ds.into_iter().map(DepartmentView::from).collect())
        })
        .await??;
    Ok(Json(DepartmentsResponse { departments }))
}

/// Creates a department under a parent in reach.
#[utoipa::path(post, path = "/api/v1/admin/departments", tag = "admin",
    request_body = CreateDeptRequest,
    responses((status = 200, body = CreatedDeptResponse), (status = 403, description = "60011 parent outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    V1Json(body): V1Json<CreateDeptRequest>,
) -> V1Result<Json<CreatedDeptResponse>> {
    let target = format!("department:{}", body.name);
    audited(&state, &admin, "department.create", &target, async {
        let parent = depts_of(&[body.parentid])?[0];
        let id = body.id.map(|id| depts_of(&[id])).transpose()?.map(|v| v[0]);
        let new = NewDept {
            id,
            name: body.name.clone(),
            name_en: body.name_en.clone(),
            parent,
            order: body.order,
        };
        let id = state.services.create_department(admin.dir(), new).await?;
        Ok(Json(CreatedDeptResponse { id: id.get() }))
    })
    .await
}

/// Changes a department in reach (and moves it only under a parent in reach).
#[utoipa::path(patch, path = "/api/v1/admin/departments/{id}", tag = "admin",
    params(("id" = u32, Path)), request_body = UpdateDeptRequest,
    responses((status = 204), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn update(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    V1Json(body): V1Json<UpdateDeptRequest>,
) -> V1Result<StatusCode> {
    let target = format!("department:{id}");
    audited(&state, &admin, "department.update", &target, async {
        let id = dept_param(&id)?;
        let patch = DeptPatch {
            name: body.name,
            name_en: body.name_en,
            parent: body
                .parentid
                .map(|p| depts_of(&[p]))
                .transpose()?
                .map(|v| v[0]),
            order: body.order,
        };
        state
            .services
            .update_department(admin.dir(), id, patch)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

/// Deletes an empty department in reach.
#[utoipa::path(delete, path = "/api/v1/admin/departments/{id}", tag = "admin",
    params(("id" = u32, Path)),
    responses((status = 204), (status = 403, description = "60011 outside the scope")))]
#[tracing::instrument(skip_all)]
pub async fn delete(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> V1Result<StatusCode> {
    let target = format!("department:{id}");
    audited(&state, &admin, "department.delete", &target, async {
        let id = dept_param(&id)?;
        state.services.delete_department(admin.dir(), id).await?;
        Ok(StatusCode::NO_CONTENT)
    })
    .await
}

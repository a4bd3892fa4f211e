//! `department/create|update|delete|list|simplelist|get`.

use axum::extract::State;
use qiye_domain::directory::{Department, DeptPatch, Directory, NewDept};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::directory::{
    DepartmentCreated, DepartmentGet, DepartmentIdOut, DepartmentList, DepartmentOut,
    DepartmentRequest, DepartmentSimpleList, DirQuery,
};
use qiye_wecom::wire::{Empty, Envelope};

use super::{dept_id, dir_caller, query_int};
use crate::AppState;
use crate::cgi::audited;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody, WecomQuery};

fn order(raw: Option<i64>) -> Result<Option<u32>, ApiError> {
    raw.map(|o| {
        u32::try_from(o).map_err(|_| {
            ApiError::with_detail(
                ErrCode::InvalidRequestParameter,
                "order must be 0..=4294967295",
            )
        })
    })
    .transpose()
}

pub(crate) fn dept_out(dir: &Directory, d: &Department) -> DepartmentOut {
    DepartmentOut {
        id: i64::from(d.id.get()),
        name: d.name.clone(),
        name_en: d.name_en.clone(),
        department_leader: dir
            .leaders_of(d.id)
            .into_iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        parentid: d.parent.map_or(0, |p| i64::from(p.get())),
        order: i64::from(d.order),
    }
}

/// `POST department/create`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<DepartmentRequest>,
) -> Result<Reply<DepartmentCreated>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "department/create").await?;
    let target = format!("department:{}", body.id.unwrap_or(0));
    audited(
        &state,
        &context,
        caller.ip,
        "department.create",
        &target,
        async {
            let name = body.name.ok_or_else(|| {
                ApiError::with_detail(ErrCode::InvalidDeptNameLength, "name missing")
            })?;
            let new = NewDept {
                id: body.id.map(|id| dept_id(Some(id), "id")).transpose()?,
                name,
                name_en: body.name_en,
                parent: dept_id(body.parentid, "parentid")?,
                order: order(body.order)?,
            };
            let id = state.services.create_department(&dir, new).await?;
            Ok(Reply(Envelope::ok_with(
                "created",
                DepartmentCreated {
                    id: i64::from(id.get()),
                },
            )))
        },
    )
    .await
}

/// `POST department/update`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<DepartmentRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "department/update").await?;
    let target = format!("department:{}", body.id.unwrap_or(0));
    audited(
        &state,
        &context,
        caller.ip,
        "department.update",
        &target,
        async {
            let id = dept_id(body.id, "id")?;
            let patch = DeptPatch {
                name: body.name,
                name_en: body.name_en,
                parent: body
                    .parentid
                    .map(|p| dept_id(Some(p), "parentid"))
                    .transpose()?,
                order: order(body.order)?,
            };
            state.services.update_department(&dir, id, patch).await?;
            Ok(Reply(Envelope::ok_with("updated", Empty {})))
        },
    )
    .await
}

/// `GET department/delete?id=`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "department/delete").await?;
    let target = format!("department:{}", query.id.as_deref().unwrap_or(""));
    audited(
        &state,
        &context,
        caller.ip,
        "department.delete",
        &target,
        async {
            let id = dept_id(
                query_int(query.id.as_deref(), ErrCode::InvalidDepartmentId)?,
                "id",
            )?;
            state.services.delete_department(&dir, id).await?;
            Ok(Reply(Envelope::ok_with("deleted", Empty {})))
        },
    )
    .await
}

fn optional_dept(query: &DirQuery) -> Result<Option<qiye_domain::ids::DeptId>, ApiError> {
    query_int(query.id.as_deref(), ErrCode::InvalidDepartmentId)?
        .map(|id| dept_id(Some(id), "id"))
        .transpose()
}

/// `GET department/list[?id=]`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<DepartmentList>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "department/list").await?;
    let root = optional_dept(&query)?;
    let department = state
        .services
        .dir_read(&dir, |view| {
            view.depts(root).map(|depts| {
                depts
                    .into_iter()
                    .map(|d| dept_out(view.dir, d))
                    .collect::<Vec<_>>()
            })
        })
        .await??;
    Ok(Reply(Envelope::ok(DepartmentList { department })))
}

/// `GET department/simplelist[?id=]`.
pub async fn simplelist(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<DepartmentSimpleList>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "department/simplelist").await?;
    let root = optional_dept(&query)?;
    let department_id = state
        .services
        .dir_read(&dir, |view| {
            view.depts(root).map(|depts| {
                depts
                    .into_iter()
                    .map(|d| DepartmentIdOut {
                        id: i64::from(d.id.get()),
                        parentid: d.parent.map_or(0, |p| i64::from(p.get())),
                        order: i64::from(d.order),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await??;
    Ok(Reply(Envelope::ok(DepartmentSimpleList { department_id })))
}

/// `GET department/get?id=`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<DepartmentGet>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "department/get").await?;
    let id = dept_id(
        query_int(query.id.as_deref(), ErrCode::InvalidDepartmentId)?,
        "id",
    )?;
    let department = state
        .services
        .dir_read(&dir, |view| view.dept(id).map(|d| dept_out(view.dir, d)))
        .await??;
    Ok(Reply(Envelope::ok(DepartmentGet { department })))
}

//! `user/*`: members.

use axum::extract::State;
use qiye_app::directory::openid_of;
use qiye_domain::directory::{
    DirError, ExtAttr, ExtAttrValue, Gender, Member, MemberFields, MemberStatus,
};
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_wecom::ErrCode;
use qiye_wecom::wire::directory::{
    AttrWire, BatchDeleteRequest, DeptUser, DirQuery, ExtAttrWire, ListIdRequest, ListIdResponse,
    LookupRequest, MiniProgramAttr, OpenIdReply, SimpleUser, SimpleUserList, TextAttr, UserIdReply,
    UserList, UserOut, UserRequest, WebAttr,
};
use qiye_wecom::wire::{Empty, Envelope};

use super::{dept_id, dir_caller, query_int, user_id};
use crate::AppState;
use crate::cgi::audited;
use crate::envelope::{RenderedReply, Reply, accepts_gzip, render_ok};
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody, WecomQuery};
use axum::http::HeaderMap;

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::with_detail(ErrCode::InvalidRequestParameter, detail)
}

fn attr_in(a: AttrWire) -> Result<ExtAttr, ApiError> {
    let kind = a.kind.unwrap_or(if a.web.is_some() {
        1
    } else if a.miniprogram.is_some() {
        2
    } else {
        0
    });
    let value = match kind {
        0 => ExtAttrValue::Text {
            value: a.text.unwrap_or_default().value,
        },
        1 => {
            let w = a.web.unwrap_or_default();
            ExtAttrValue::Web {
                url: w.url,
                title: w.title,
            }
        }
        2 => {
            let m = a.miniprogram.unwrap_or_default();
            ExtAttrValue::MiniProgram {
                appid: m.appid,
                pagepath: m.pagepath,
                title: m.title,
            }
        }
        other => return Err(invalid(format!("extattr.attrs.type: unknown type {other}"))),
    };
    Ok(ExtAttr {
        name: a.name,
        value,
    })
}

fn attr_out(a: &ExtAttr) -> AttrWire {
    let mut out = AttrWire {
        name: a.name.clone(),
        ..Default::default()
    };
    match &a.value {
        ExtAttrValue::Text { value } => {
            out.kind = Some(0);
            out.text = Some(TextAttr {
                value: value.clone(),
            });
        }
        ExtAttrValue::Web { url, title } => {
            out.kind = Some(1);
            out.web = Some(WebAttr {
                url: url.clone(),
                title: title.clone(),
            });
        }
        ExtAttrValue::MiniProgram {
            appid,
            pagepath,
            title,
        } => {
            out.kind = Some(2);
            out.miniprogram = Some(MiniProgramAttr {
                appid: appid.clone(),
                pagepath: pagepath.clone(),
                title: title.clone(),
            });
        }
    }
    out
}

/// The domain fields of a create or update request.
fn fields_of(body: UserRequest) -> Result<(MemberFields, Option<UserId>), ApiError> {
    let departments = body
        .department
        .map(|ds| {
            ds.into_iter()
                .map(|d| dept_id(Some(d), "department"))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let order = body
        .order
        .map(|os| {
            os.into_iter()
                .map(|o| u32::try_from(o).map_err(|_| invalid("order: must be 0..=4294967295")))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let gender = body
        .gender
        .map(|g| Gender::from_code(g).ok_or_else(|| invalid("gender: must be 0, 1 or 2")))
        .transpose()?;
    let is_leader = body
        .is_leader_in_dept
        .map(|ls| {
            ls.into_iter()
                .map(|l| match l {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err(invalid("is_leader_in_dept: must be 0 or 1")),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let direct_leader = body
        .direct_leader
        .map(|ls| {
            ls.iter()
                .map(|l| UserId::parse(l).map_err(|_| ApiError::from(DirError::UserListInvalid)))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let enable = match body.enable {
        None => None,
        Some(1) => Some(true),
        Some(0) => Some(false),
        Some(_) => return Err(invalid("enable: must be 0 or 1")),
    };
    let main_department = body
        .main_department
        .filter(|m| *m != 0)
        .map(|m| dept_id(Some(m), "main_department"))
        .transpose()?;
    let extattr = body
        .extattr
        .map(|e| {
            e.attrs
                .into_iter()
                .map(attr_in)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let new_userid = match body.new_userid.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(UserId::parse(raw).map_err(|_| ApiError::from(DirError::UserIdInvalid))?),
    };
    Ok((
        MemberFields {
            name: body.name,
            alias: body.alias,
            mobile: body.mobile,
            position: body.position,
            gender,
            email: body.email,
            biz_mail: body.biz_mail,
            telephone: body.telephone.or(body.tel),
            address: body.address,
            english_name: body.english_name,
            avatar_mediaid: body.avatar_mediaid,
            departments,
            order,
            is_leader_in_dept: is_leader,
            main_department,
            direct_leader,
            enable,
            extattr,
            external_position: body.external_position,
            external_profile: body.external_profile.map(|v| v.to_string()),
        },
        new_userid,
    ))
}

fn depts_of(m: &Member) -> Vec<i64> {
    m.departments
        .iter()
        .map(|d| i64::from(d.dept.get()))
        .collect()
}

pub(crate) fn user_out(corp: &CorpId, m: &Member) -> UserOut {
    UserOut {
        userid: m.userid.as_str().to_owned(),
        name: m.name.clone(),
        department: depts_of(m),
        order: m.departments.iter().map(|d| i64::from(d.order)).collect(),
        position: m.position.clone(),
        mobile: m.mobile.clone(),
        gender: m.gender.code().to_string(),
        email: m.email.clone(),
        biz_mail: m.biz_mail.clone(),
        is_leader_in_dept: m
            .departments
            .iter()
            .map(|d| i64::from(d.is_leader))
            .collect(),
        direct_leader: m
            .direct_leader
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        avatar: String::new(),
        thumb_avatar: String::new(),
        telephone: m.telephone.clone(),
        alias: m.alias.clone(),
        address: m.address.clone(),
        open_userid: openid_of(corp, &m.userid),
        main_department: i64::from(m.main_department.get()),
        extattr: ExtAttrWire {
            attrs: m.extattr.iter().map(attr_out).collect(),
        },
        status: m.status.code(),
        enable: i64::from(m.status != MemberStatus::Disabled),
        qr_code: String::new(),
        external_position: m.external_position.clone(),
        external_profile: serde_json::from_str(&m.external_profile).ok(),
        english_name: m.english_name.clone(),
        hide_mobile: 0,
    }
}

pub(crate) fn simple_user_out(corp: &CorpId, m: &Member) -> SimpleUser {
    SimpleUser {
        userid: m.userid.as_str().to_owned(),
        name: m.name.clone(),
        department: depts_of(m),
        open_userid: openid_of(corp, &m.userid),
    }
}

/// `POST user/create`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<UserRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/create").await?;
    let target = format!("member:{}", body.userid.as_deref().unwrap_or(""));
    audited(
        &state,
        &context,
        caller.ip,
        "member.create",
        &target,
        async {
            let userid = user_id(body.userid.as_deref())?;
            if body.name.is_none() {
                return Err(ApiError::with_detail(
                    ErrCode::InvalidMemberName,
                    "name missing",
                ));
            }
            let (fields, _) = fields_of(body)?;
            state.services.create_member(&dir, userid, fields).await?;
            Ok(Reply(Envelope::ok_with("created", Empty {})))
        },
    )
    .await
}

/// `POST user/update`.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<UserRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/update").await?;
    let target = format!("member:{}", body.userid.as_deref().unwrap_or(""));
    audited(
        &state,
        &context,
        caller.ip,
        "member.update",
        &target,
        async {
            let userid = user_id(body.userid.as_deref())?;
            let (fields, new_userid) = fields_of(body)?;
            state
                .services
                .update_member(&dir, &userid, new_userid, fields)
                .await?;
            Ok(Reply(Envelope::ok_with("updated", Empty {})))
        },
    )
    .await
}

/// `GET user/delete?userid=`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/delete").await?;
    let target = format!("member:{}", query.userid.as_deref().unwrap_or(""));
    audited(
        &state,
        &context,
        caller.ip,
        "member.delete",
        &target,
        async {
            let userid = user_id(query.userid.as_deref())?;
            state.services.delete_members(&dir, &[userid]).await?;
            Ok(Reply(Envelope::ok_with("deleted", Empty {})))
        },
    )
    .await
}

/// `POST user/batchdelete`.
pub async fn batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<BatchDeleteRequest>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/batchdelete").await?;
    audited(
        &state,
        &context,
        caller.ip,
        "member.delete",
        "members",
        async {
            let list = body.useridlist.unwrap_or_default();
            let userids = list
                .iter()
                .map(|u| user_id(Some(u)))
                .collect::<Result<Vec<_>, _>>()?;
            state.services.delete_members(&dir, &userids).await?;
            Ok(Reply(Envelope::ok_with("deleted", Empty {})))
        },
    )
    .await
}

/// `GET user/get?userid=`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<UserOut>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/get").await?;
    let userid = user_id(query.userid.as_deref())?;
    let corp = context.corp_id().clone();
    let user = state
        .services
        .dir_read(&dir, |view| {
            view.member(&userid).map(|m| user_out(&corp, m))
        })
        .await??;
    Ok(Reply(Envelope::ok(user)))
}

/// The department, recursion and status filter of the list endpoints.
fn list_params(query: &DirQuery) -> Result<(DeptId, bool, i64), ApiError> {
    let dept = dept_id(
        query_int(query.department_id.as_deref(), ErrCode::InvalidDepartmentId)?,
        "department_id",
    )?;
    let fetch_child = query_int(
        query.fetch_child.as_deref(),
        ErrCode::InvalidRequestParameter,
    )?
    .unwrap_or(0)
        == 1;
    let status = query_int(query.status.as_deref(), ErrCode::InvalidRequestParameter)?.unwrap_or(0);
    Ok((dept, fetch_child, status))
}

/// A member listing (`user/simplelist`, `user/list`): rendered once per
/// directory version, caller's reach and parameters, then served from the
/// rendered bytes (see `Services::dir_read_rendered`).
async fn member_listing<T: serde::Serialize>(
    state: &AppState,
    caller: &Caller,
    request: (&DirQuery, &HeaderMap),
    api: &'static str,
    render: impl Fn(&CorpId, Vec<&Member>) -> T,
) -> Result<RenderedReply, ApiError> {
    let (query, headers) = request;
    let (context, dir) = dir_caller(state, caller, api).await?;
    let (dept, fetch_child, status) = list_params(query)?;
    let corp = context.corp_id().clone();
    let gzip = accepts_gzip(headers);
    let key = format!("{api}?{}&{fetch_child}&{status}&{gzip}", dept.get());
    let body = state
        .services
        .dir_read_rendered(&dir, &key, |view| {
            view.members_of(dept, fetch_child, status)
                .map(|members| render_ok(render(&corp, members), gzip))
        })
        .await??;
    Ok(RenderedReply { body, gzip })
}

/// `GET user/simplelist?department_id=&fetch_child=`.
pub async fn simplelist(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<RenderedReply, ApiError> {
    member_listing(
        &state,
        &caller,
        (&query, &headers),
        "user/simplelist",
        |corp, members| SimpleUserList {
            userlist: members
                .into_iter()
                .map(|m| simple_user_out(corp, m))
                .collect(),
        },
    )
    .await
}

/// `GET user/list?department_id=&fetch_child=`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<RenderedReply, ApiError> {
    member_listing(
        &state,
        &caller,
        (&query, &headers),
        "user/list",
        |corp, members| UserList {
            userlist: members.into_iter().map(|m| user_out(corp, m)).collect(),
        },
    )
    .await
}

/// `POST user/list_id`: pages of `(userid, department)` by userid; the
/// cursor is the last userid of the previous page, hex-encoded.
pub async fn list_id(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<ListIdRequest>,
) -> Result<Reply<ListIdResponse>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "user/list_id").await?;
    let limit = body.limit.unwrap_or(10_000);
    if !(1..=10_000).contains(&limit) {
        return Err(invalid("limit: must be 1..=10000"));
    }
    let after = match body.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => {
            let bytes = hex::decode(c).map_err(|_| invalid("cursor: invalid"))?;
            let text = String::from_utf8(bytes).map_err(|_| invalid("cursor: invalid"))?;
            Some(UserId::parse(&text).map_err(|_| invalid("cursor: invalid"))?)
        }
    };
    let reply = state
        .services
        .dir_read(&dir, |view| {
            let (page, more) = view.member_page(after.as_ref(), limit as usize, |_| true);
            let next_cursor = match (more, page.last()) {
                (true, Some(last)) => hex::encode(last.userid.as_str()),
                _ => String::new(),
            };
            let dept_user = page
                .iter()
                .flat_map(|m| {
                    m.departments.iter().map(|d| DeptUser {
                        userid: m.userid.as_str().to_owned(),
                        department: i64::from(d.dept.get()),
                    })
                })
                .collect();
            ListIdResponse {
                next_cursor,
                dept_user,
            }
        })
        .await?;
    Ok(Reply(Envelope::ok(reply)))
}

/// `POST user/getuserid {mobile}`.
pub async fn by_mobile(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<LookupRequest>,
) -> Result<Reply<UserIdReply>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "user/getuserid").await?;
    let mobile = body
        .mobile
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ApiError::from(DirError::MobileInvalid))?;
    let userid = state
        .services
        .dir_read(&dir, |view| {
            view.member_by_mobile(mobile.trim())
                .map(|m| m.userid.as_str().to_owned())
        })
        .await??;
    Ok(Reply(Envelope::ok(UserIdReply { userid })))
}

/// `POST user/get_userid_by_email {email, email_type}`.
pub async fn by_email(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<LookupRequest>,
) -> Result<Reply<UserIdReply>, ApiError> {
    let (_, dir) = dir_caller(&state, &caller, "user/get_userid_by_email").await?;
    let email = body
        .email
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ApiError::from(DirError::EmailInvalid))?;
    let email_type = body.email_type.unwrap_or(1);
    if !(1..=2).contains(&email_type) {
        return Err(invalid("email_type: must be 1 or 2"));
    }
    let userid = state
        .services
        .dir_read(&dir, |view| {
            let m = view.member_by_email(email.trim())?;
            let matches = if email_type == 1 {
                &m.biz_mail
            } else {
                &m.email
            };
            if matches.eq_ignore_ascii_case(email.trim()) {
                Ok(m.userid.as_str().to_owned())
            } else {
                Err(DirError::UserNotFound)
            }
        })
        .await??;
    Ok(Reply(Envelope::ok(UserIdReply { userid })))
}

/// `POST user/convert_to_openid {userid}`.
pub async fn convert_to_openid(
    State(state): State<AppState>,
    caller: Caller,
    WecomBody(body): WecomBody<LookupRequest>,
) -> Result<Reply<OpenIdReply>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/convert_to_openid").await?;
    let userid = user_id(body.userid.as_deref())?;
    let corp = context.corp_id().clone();
    let openid = state
        .services
        .dir_read(&dir, |view| {
            view.member(&userid).map(|m| openid_of(&corp, &m.userid))
        })
        .await??;
    Ok(Reply(Envelope::ok(OpenIdReply { openid })))
}

/// `GET user/authsucc?userid=`: second-factor verification passed.
pub async fn authsucc(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<DirQuery>,
) -> Result<Reply<Empty>, ApiError> {
    let (context, dir) = dir_caller(&state, &caller, "user/authsucc").await?;
    let target = format!("member:{}", query.userid.as_deref().unwrap_or(""));
    audited(
        &state,
        &context,
        caller.ip,
        "member.verified",
        &target,
        async {
            let userid = user_id(query.userid.as_deref())?;
            state.services.member_verified(&dir, &userid).await?;
            Ok(Reply(Envelope::ok(Empty {})))
        },
    )
    .await
}

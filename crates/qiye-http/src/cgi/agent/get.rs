//! `GET /cgi-bin/agent/get?agentid=ID`.

use axum::extract::State;
use qiye_app::AppError;
use qiye_domain::app::App;
use qiye_domain::directory::Range;
use qiye_domain::ids::DeptId;
use qiye_wecom::wire::Envelope;
use qiye_wecom::wire::agent::{
    AllowPartys, AllowTags, AllowUser, AllowUserInfos, GetAgentQuery, GetAgentResponse,
};

use super::parse_agentid;
use crate::AppState;
use crate::cgi::trace_corp;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomQuery};

/// The wire shape of an app and its visible range (`None`: the whole corp,
/// shown as the root department, as WeCom does).
fn agent_reply(app: App, range: Option<Range>) -> GetAgentResponse {
    let range = range.unwrap_or_else(|| Range {
        depts: vec![DeptId::ROOT],
        ..Range::default()
    });
    GetAgentResponse {
        agentid: app.agentid.get(),
        name: app.name.as_str().to_owned(),
        square_logo_url: String::new(),
        description: app.description,
        allow_userinfos: AllowUserInfos {
            user: range
                .users
                .iter()
                .map(|u| AllowUser {
                    userid: u.as_str().to_owned(),
                })
                .collect(),
        },
        allow_partys: AllowPartys {
            partyid: range.depts.iter().map(|d| i64::from(d.get())).collect(),
        },
        allow_tags: AllowTags {
            tagid: range.tags.iter().map(|t| i64::from(t.0)).collect(),
        },
        close: i64::from(app.closed),
        redirect_domain: app.redirect_domain,
        report_location_flag: i64::from(app.report_location),
        isreportenter: i64::from(app.report_enter),
        home_url: app.home_url,
        customized_publish_status: 0,
    }
}

/// The caller's own app.
pub async fn get_agent(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<GetAgentQuery>,
) -> Result<Reply<GetAgentResponse>, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "agent/get", caller.ip)
        .await?;
    trace_corp(&context);
    let app_caller = context.as_app()?;
    let raw = match query.agentid.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| AppError::UnknownAgent)?),
    };
    let app = state
        .services
        .get_agent(&app_caller, parse_agentid(raw)?)
        .await?;
    let range = state.services.own_range(&app_caller).await?;
    Ok(Reply(Envelope::ok(agent_reply(app, range))))
}

//! `POST /cgi-bin/agent/set`.

use axum::extract::State;
use qiye_app::AppError;
use qiye_domain::app::{
    AppName, AppSettingsChange, parse_flag, validate_description, validate_home_url,
    validate_redirect_domain,
};
use qiye_domain::ids::AgentId;
use qiye_wecom::wire::agent::SetAgentRequest;
use qiye_wecom::wire::{Empty, Envelope};

use super::parse_agentid;
use crate::AppState;
use crate::cgi::{audited, trace_corp};
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomBody};

/// The domain change a request asks for.
fn settings_change(req: SetAgentRequest) -> Result<(AgentId, AppSettingsChange), AppError> {
    let agentid = parse_agentid(req.agentid)?;
    let change = AppSettingsChange {
        name: req.name.as_deref().map(AppName::parse).transpose()?,
        description: req
            .description
            .as_deref()
            .map(validate_description)
            .transpose()?,
        home_url: req.home_url.as_deref().map(validate_home_url).transpose()?,
        redirect_domain: req
            .redirect_domain
            .as_deref()
            .map(validate_redirect_domain)
            .transpose()?,
        report_location: req
            .report_location_flag
            .map(|f| parse_flag("report_location_flag", f))
            .transpose()?,
        report_enter: req
            .isreportenter
            .map(|f| parse_flag("isreportenter", f))
            .transpose()?,
    };
    Ok((agentid, change))
}

/// Changes the caller's own app.
pub async fn set_agent(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<WecomBody<SetAgentRequest>, ApiError>,
) -> Result<Reply<Empty>, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "agent/set", caller.ip)
        .await?;
    trace_corp(&context);
    let target = match &body {
        Ok(WecomBody(req)) => req
            .agentid
            .map_or_else(|| "agent:?".to_owned(), |id| format!("agent:{id}")),
        Err(_) => "agent:?".to_owned(),
    };
    audited(&state, &context, caller.ip, "agent.set", &target, async {
        let app_caller = context.as_app()?;
        let WecomBody(request) = body?;
        let (agentid, change) = settings_change(request)?;
        state
            .services
            .set_agent(&app_caller, caller.ip, agentid, &change)
            .await?;
        Ok(Reply(Envelope::ok_with("updated", Empty {})))
    })
    .await
}

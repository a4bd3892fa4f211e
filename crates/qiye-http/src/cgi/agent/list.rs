//! `GET /cgi-bin/agent/list`.

use axum::extract::State;
use qiye_wecom::wire::Envelope;
use qiye_wecom::wire::agent::{AgentListItem, ListAgentsResponse};

use crate::AppState;
use crate::cgi::trace_corp;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::Caller;

/// The apps the caller's token can see.
pub async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Reply<ListAgentsResponse>, ApiError> {
    let context = state
        .services
        .authenticate(caller.access_token.as_deref(), "agent/list", caller.ip)
        .await?;
    trace_corp(&context);
    let apps = state.services.list_agents(&context.as_app()?).await?;
    let agentlist = apps
        .into_iter()
        .map(|app| AgentListItem {
            agentid: app.agentid.get(),
            name: app.name.as_str().to_owned(),
            square_logo_url: String::new(),
        })
        .collect();
    Ok(Reply(Envelope::ok(ListAgentsResponse { agentlist })))
}

//! `agent/get`, `agent/list`, `agent/set` (§10.2 of the wire reference).

use serde::{Deserialize, Serialize};

use super::lenient;

/// `GET agent/get?agentid=..`
#[derive(Debug, Default, Deserialize)]
pub struct GetAgentQuery {
    /// The app (may arrive as text; validated at the edge).
    pub agentid: Option<String>,
}

/// Members who can see the app.
#[derive(Debug, Serialize)]
pub struct AllowUserInfos {
    /// `[{userid}]`.
    pub user: Vec<AllowUser>,
}

/// One member in `allow_userinfos`.
#[derive(Debug, Serialize)]
pub struct AllowUser {
    /// The member.
    pub userid: String,
}

/// Departments that can see the app.
#[derive(Debug, Serialize)]
pub struct AllowPartys {
    /// Department ids.
    pub partyid: Vec<i64>,
}

/// Tags that can see the app.
#[derive(Debug, Serialize)]
pub struct AllowTags {
    /// Tag ids.
    pub tagid: Vec<i64>,
}

/// `agent/get` payload.
#[derive(Debug, Serialize)]
pub struct GetAgentResponse {
    /// The app.
    pub agentid: i64,
    /// Its name.
    pub name: String,
    /// Its logo.
    pub square_logo_url: String,
    /// Its description.
    pub description: String,
    /// Members in its visible range.
    pub allow_userinfos: AllowUserInfos,
    /// Departments in its visible range (`[1]` when the whole corp sees it).
    pub allow_partys: AllowPartys,
    /// Tags in its visible range.
    pub allow_tags: AllowTags,
    /// 1 when disabled.
    pub close: i64,
    /// Trusted redirect domain.
    pub redirect_domain: String,
    /// 1 when it receives members' locations.
    pub report_location_flag: i64,
    /// 1 when told of members entering it.
    pub isreportenter: i64,
    /// Its home page.
    pub home_url: String,
    /// Publish status (self-built apps: 0 = never published via the app store).
    pub customized_publish_status: i64,
}

/// One row of `agent/list`.
#[derive(Debug, Serialize)]
pub struct AgentListItem {
    /// The app.
    pub agentid: i64,
    /// Its name.
    pub name: String,
    /// Its logo.
    pub square_logo_url: String,
}

/// `agent/list` payload.
#[derive(Debug, Serialize)]
pub struct ListAgentsResponse {
    /// The apps.
    pub agentlist: Vec<AgentListItem>,
}

/// `POST agent/set` body. Every field optional on the wire; the edge
/// enforces that `agentid` is present (41011).
#[derive(Debug, Default, Deserialize)]
pub struct SetAgentRequest {
    /// The app to change.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub agentid: Option<i64>,
    /// 0/1.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub report_location_flag: Option<i64>,
    /// Logo media id (accepted, not yet stored: media arrives with messaging).
    #[serde(default)]
    pub logo_mediaid: Option<String>,
    /// New name (≤ 32 characters).
    #[serde(default)]
    pub name: Option<String>,
    /// New description (4-120 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// Trusted redirect domain.
    #[serde(default)]
    pub redirect_domain: Option<String>,
    /// 0/1.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub isreportenter: Option<i64>,
    /// Home page.
    #[serde(default)]
    pub home_url: Option<String>,
}

//! `agent/*`: an app reads and configures itself.

pub mod get;
pub mod list;
pub mod set;

use qiye_app::AppError;
use qiye_domain::ids::AgentId;

/// Reads an `agentid` given as text or number: missing → 41011, not a
/// positive integer → 40056.
fn parse_agentid(raw: Option<i64>) -> Result<AgentId, AppError> {
    let raw = raw.ok_or(AppError::AgentIdMissing)?;
    AgentId::new(raw).map_err(|_| AppError::UnknownAgent)
}

//! `qiye audit tail`

use qiye_app::Services;
use qiye_domain::audit::Outcome;
use serde_json::json;

use super::{corp_arg, print_json};
use crate::cli::AuditCommand;

pub(super) async fn run(command: AuditCommand, services: &Services) -> anyhow::Result<()> {
    let AuditCommand::Tail {
        corpid,
        lines,
        json,
    } = command;
    let corp = corp_arg(&corpid)?;
    let entries = services
        .tail_audit(&corp, lines)
        .await
        .map_err(|e| anyhow::anyhow!("corp {corp}: {e}"))?;
    for entry in entries {
        let r = &entry.record;
        let ip = r.client_ip.map(|ip| ip.to_string());
        if json {
            print_json(&json!({
                "seq": entry.seq,
                "at": r.at,
                "corpid": r.corp_id.as_str(),
                "actor": r.actor.to_string(),
                "client_ip": ip,
                "action": r.action,
                "target": r.target,
                "result": r.outcome.storage_text(),
            }))?;
        } else {
            let result = match &r.outcome {
                Outcome::Succeeded => "ok".to_owned(),
                Outcome::Failed(reason) => format!("FAILED ({reason})"),
            };
            println!(
                "{:>6}  {}  {:<16}  {:<15}  {:<16}  {:<20}  {result}",
                entry.seq,
                r.at,
                r.actor.to_string(),
                ip.as_deref().unwrap_or("-"),
                r.action,
                r.target
            );
        }
    }
    Ok(())
}

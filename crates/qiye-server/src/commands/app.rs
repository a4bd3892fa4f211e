//! `qiye app ...`

use anyhow::Context;
use qiye_app::Services;
use qiye_domain::ids::AgentId;
use serde_json::json;

use super::{corp_arg, operator, print_json};
use crate::cli::AppCommand;

pub(super) async fn run(command: AppCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        AppCommand::Create {
            corpid,
            name,
            all_visible,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let (app, secret) = services
                .create_app(&corp, &name, all_visible, operator())
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                print_json(&json!({
                    "corpid": corp.as_str(),
                    "agentid": app.agentid.get(),
                    "name": app.name.as_str(),
                    "secret": secret.expose(),
                    "all_visible": app.all_visible,
                }))
            } else {
                println!(
                    "created app \"{}\"\n  agentid  {}\n  secret   {}",
                    app.name.as_str(),
                    app.agentid,
                    secret.expose()
                );
                Ok(())
            }
        }
        AppCommand::List { corpid, json } => {
            let corp = corp_arg(&corpid)?;
            let apps = services
                .list_apps(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                let rows = apps
                    .iter()
                    .map(|a| json!({"agentid": a.agentid.get(), "name": a.name.as_str(), "all_visible": a.all_visible, "created_at": a.created_at}))
                    .collect();
                print_json(&serde_json::Value::Array(rows))
            } else {
                for app in &apps {
                    println!(
                        "{}  {}{}",
                        app.agentid,
                        app.name.as_str(),
                        if app.all_visible {
                            "  (all visible)"
                        } else {
                            ""
                        }
                    );
                }
                Ok(())
            }
        }
        AppCommand::RotateSecret {
            corpid,
            agentid,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let agentid = AgentId::new(agentid).context("invalid --agentid")?;
            let secret = services
                .rotate_app_secret(&corp, agentid, operator())
                .await
                .with_context(|| format!("app {agentid} of corp {corp}"))?;
            if json {
                print_json(
                    &json!({"corpid": corp.as_str(), "agentid": agentid.get(), "secret": secret.expose()}),
                )
            } else {
                println!(
                    "new secret for app {agentid}: {}\n(tokens of the old secret no longer work)",
                    secret.expose()
                );
                Ok(())
            }
        }
    }
}

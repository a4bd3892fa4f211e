//! `qiye app ...`

use anyhow::Context;
use qiye_app::Services;
use qiye_app::directory::DirCaller;
use qiye_domain::callback::{CallbackConfig, OutboxItem};
use qiye_domain::directory::{DirError, Range, TagId};
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use serde_json::json;

use super::{agent_arg, corp_arg, operator, print_json};
use crate::cli::AppCommand;

/// The range the `set-range` flags name, each entry checked to exist.
async fn range_arg(
    services: &Services,
    corp: &CorpId,
    depts: &[i64],
    users: &[String],
    tags: &[u32],
) -> anyhow::Result<Range> {
    let depts = depts
        .iter()
        .map(|d| DeptId::new(*d).with_context(|| format!("invalid department id {d} in --depts")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let users = users
        .iter()
        .map(|u| UserId::parse(u).with_context(|| format!("invalid userid '{u}' in --users")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let tags: Vec<TagId> = tags.iter().map(|t| TagId(*t)).collect();
    let caller = DirCaller::operator(corp.clone(), operator());
    services
        .dir_read(&caller, |view| -> Result<(), String> {
            if let Some(d) = depts.iter().find(|d| view.dir.dept(**d).is_none()) {
                return Err(DirError::DeptNotFound(d.get()).to_string());
            }
            if let Some(u) = users.iter().find(|u| view.dir.member(u).is_none()) {
                return Err(format!("userid '{u}' not found"));
            }
            if let Some(t) = tags.iter().find(|t| view.dir.tag(**t).is_none()) {
                return Err(format!("tag {} not found", t.0));
            }
            Ok(())
        })
        .await?
        .map_err(|reason| anyhow::anyhow!("invalid range: {reason}"))?;
    Ok(Range { depts, users, tags })
}

fn range_json(range: Option<&Range>) -> serde_json::Value {
    match range {
        None => json!("all"),
        Some(r) => json!({
            "depts": r.depts.iter().map(|d| d.get()).collect::<Vec<_>>(),
            "users": r.users.iter().map(UserId::as_str).collect::<Vec<_>>(),
            "tags": r.tags.iter().map(|t| t.0).collect::<Vec<_>>(),
        }),
    }
}

fn delivery_json(item: &OutboxItem) -> serde_json::Value {
    json!({
        "seq": item.seq,
        "event": item.event,
        "created_at": item.created_at,
        "attempts": item.attempts,
        "delivered_at": item.delivered_at,
        "last_error": item.last_error,
    })
}

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
        AppCommand::SetCallback {
            corpid,
            agentid,
            url,
            token,
            aes_key,
            remove,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let agentid = agent_arg(agentid)?;
            let config = if remove {
                None
            } else {
                let (Some(url), Some(token), Some(aes_key)) = (url, token, aes_key) else {
                    anyhow::bail!("--url, --token and --aes-key are required (or --remove)");
                };
                Some(
                    CallbackConfig::new(&url, &token, &aes_key)
                        .context("invalid callback settings")?,
                )
            };
            services
                .get_corp(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            services
                .set_callback(operator(), &corp, agentid, config.clone())
                .await
                .with_context(|| format!("app {agentid} of corp {corp}"))?;
            if json {
                print_json(&json!({
                    "corpid": corp.as_str(),
                    "agentid": agentid.get(),
                    "callback_url": config.as_ref().map(|c| c.url.as_str()),
                }))
            } else {
                match &config {
                    Some(c) => println!(
                        "app {agentid}: callbacks go to {} (the URL answered the echostr handshake)",
                        c.url
                    ),
                    None => println!("app {agentid}: callback settings removed"),
                }
                Ok(())
            }
        }
        AppCommand::SetRange {
            corpid,
            agentid,
            all,
            depts,
            users,
            tags,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let agentid = agent_arg(agentid)?;
            services
                .get_corp(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            let range = if all {
                None
            } else {
                Some(range_arg(services, &corp, &depts, &users, &tags).await?)
            };
            services
                .set_app_range(operator(), &corp, agentid, range.clone())
                .await
                .with_context(|| format!("app {agentid} of corp {corp}"))?;
            if json {
                print_json(&json!({
                    "corpid": corp.as_str(),
                    "agentid": agentid.get(),
                    "range": range_json(range.as_ref()),
                }))
            } else {
                match &range {
                    None => println!("app {agentid} now sees the whole corp"),
                    Some(r) => println!(
                        "app {agentid} now sees {} department(s) with their subtrees, {} member(s) and {} tag(s)",
                        r.depts.len(),
                        r.users.len(),
                        r.tags.len()
                    ),
                }
                Ok(())
            }
        }
        AppCommand::Deliveries {
            corpid,
            agentid,
            limit,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let agentid = agent_arg(agentid)?;
            let apps = services
                .list_apps(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            if !apps.iter().any(|a| a.agentid == agentid) {
                anyhow::bail!("corp {corp} has no app {agentid}: invalid agentid");
            }
            let items = services
                .delivery_log(&corp, agentid, None, limit)
                .await
                .with_context(|| format!("app {agentid} of corp {corp}"))?;
            if json {
                print_json(&serde_json::Value::Array(
                    items.iter().map(delivery_json).collect(),
                ))
            } else {
                if items.is_empty() {
                    println!("app {agentid}: no callback events");
                }
                for item in &items {
                    let state = match (item.delivered_at, &item.last_error) {
                        (Some(at), _) => format!("delivered at {at}"),
                        (None, Some(err)) => format!("pending, last error: {err}"),
                        (None, None) => "pending".to_owned(),
                    };
                    println!(
                        "{:>8}  {}  {:<36}  attempts {:<3}  {state}",
                        item.seq, item.created_at, item.event, item.attempts
                    );
                }
                Ok(())
            }
        }
    }
}

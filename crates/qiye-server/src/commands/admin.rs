//! `qiye admin ...`

use anyhow::Context;
use qiye_app::{AppError, Services};
use qiye_domain::directory::{AdminRole, DirError};
use qiye_domain::ids::DeptId;
use serde_json::json;

use super::{corp_arg, operator, print_json, user_arg};
use crate::cli::AdminCommand;

/// Parses `--scope` items: `dept:ID` (a bare `ID` is accepted too).
fn scope_arg(items: &[String]) -> anyhow::Result<Vec<DeptId>> {
    let mut depts = Vec::with_capacity(items.len());
    for item in items {
        let raw = item.trim();
        let id = raw.strip_prefix("dept:").unwrap_or(raw).trim();
        let dept = id
            .parse::<i64>()
            .ok()
            .and_then(|n| DeptId::new(n).ok())
            .with_context(|| format!("invalid --scope '{item}': expected dept:ID"))?;
        if !depts.contains(&dept) {
            depts.push(dept);
        }
    }
    if depts.is_empty() {
        anyhow::bail!("--scope names no department: expected dept:ID[,dept:ID...]");
    }
    Ok(depts)
}

/// A scoped role's departments by id (the store keeps no order).
fn sorted(depts: &[DeptId]) -> impl Iterator<Item = DeptId> {
    let mut depts = depts.to_vec();
    depts.sort_unstable_by_key(|d| d.get());
    depts.into_iter()
}

fn role_text(role: &AdminRole) -> String {
    match role {
        AdminRole::Super => "super".to_owned(),
        AdminRole::Scoped(depts) => {
            let depts: Vec<String> = sorted(depts).map(|d| format!("dept:{d}")).collect();
            format!("scoped {}", depts.join(","))
        }
    }
}

fn role_json(role: &AdminRole) -> serde_json::Value {
    match role {
        AdminRole::Super => json!({"role": "super", "departments": []}),
        AdminRole::Scoped(depts) => json!({
            "role": "scoped",
            "departments": sorted(depts).map(DeptId::get).collect::<Vec<_>>(),
        }),
    }
}

pub(super) async fn run(command: AdminCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        AdminCommand::Grant {
            corpid,
            userid,
            super_admin,
            scope,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let user = user_arg(&userid)?;
            let role = if super_admin {
                AdminRole::Super
            } else {
                AdminRole::Scoped(scope_arg(&scope)?)
            };
            services
                .get_corp(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            match services
                .grant_admin(operator(), &corp, &user, role.clone())
                .await
            {
                Err(AppError::Dir(DirError::UserNotFound)) => {
                    anyhow::bail!("corp {corp} has no member with userid '{user}'")
                }
                other => other.with_context(|| {
                    format!("cannot make {user} an administrator of corp {corp}")
                })?,
            }
            if json {
                let mut out = role_json(&role);
                out["corpid"] = json!(corp.as_str());
                out["userid"] = json!(user.as_str());
                print_json(&out)
            } else {
                println!(
                    "{user} is now an administrator of {corp} ({})",
                    role_text(&role)
                );
                Ok(())
            }
        }
        AdminCommand::Revoke {
            corpid,
            userid,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let user = user_arg(&userid)?;
            services
                .get_corp(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            match services.revoke_admin(operator(), &corp, &user).await {
                Err(AppError::Dir(DirError::UserNotFound)) => {
                    anyhow::bail!("{user} is not an administrator of corp {corp}")
                }
                other => other.with_context(|| {
                    format!("cannot revoke the administrator role of {user} in corp {corp}")
                })?,
            }
            if json {
                print_json(
                    &json!({"corpid": corp.as_str(), "userid": user.as_str(), "revoked": true}),
                )
            } else {
                println!("{user} is no longer an administrator of {corp}");
                Ok(())
            }
        }
        AdminCommand::List { corpid, json } => {
            let corp = corp_arg(&corpid)?;
            let admins = services
                .list_admins(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                let rows = admins
                    .iter()
                    .map(|(user, role)| {
                        let mut row = role_json(role);
                        row["userid"] = json!(user.as_str());
                        row
                    })
                    .collect();
                print_json(&serde_json::Value::Array(rows))
            } else {
                for (user, role) in &admins {
                    println!("{:<24}  {}", user.as_str(), role_text(role));
                }
                Ok(())
            }
        }
    }
}

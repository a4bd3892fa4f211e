//! `qiye corp ...`

use anyhow::Context;
use qiye_app::Services;
use qiye_app::directory::admin::RuleEditor;
use qiye_domain::corp::Corp;
use qiye_domain::credential::CredentialKind;
use qiye_domain::escalation::EscalationPolicy;
use qiye_domain::plan::Plan;
use qiye_domain::rate::{CorpRateOverride, RateQuota};
use serde_json::json;

use super::{corp_arg, operator, print_json};
use crate::cli::CorpCommand;

fn plan_arg(raw: &str) -> anyhow::Result<Plan> {
    raw.parse::<Plan>().map_err(|e| anyhow::anyhow!("{e}"))
}

fn quota_arg(
    per_minute: Option<u32>,
    per_hour: Option<u32>,
    what: &str,
) -> anyhow::Result<Option<RateQuota>> {
    match (per_minute, per_hour) {
        (Some(m), Some(h)) => Ok(Some(
            RateQuota::new(m, h).with_context(|| format!("--{what}-per-minute/hour"))?,
        )),
        _ => Ok(None),
    }
}

fn quota_json(quota: Option<RateQuota>) -> serde_json::Value {
    quota.map_or(
        serde_json::Value::Null,
        |q| json!({"per_minute": q.per_minute, "per_hour": q.per_hour}),
    )
}

fn corp_json(corp: &Corp) -> serde_json::Value {
    json!({
        "corpid": corp.id.as_str(),
        "name": corp.name.as_str(),
        "plan": corp.plan.as_str(),
        "created_at": corp.created_at,
        "rate_limits": {
            "corp_per_api": quota_json(corp.rate_override.corp_per_api),
            "app_per_api": quota_json(corp.rate_override.app_per_api),
        },
    })
}

fn policy_json(corp: &qiye_domain::ids::CorpId, p: &EscalationPolicy) -> serde_json::Value {
    json!({
        "corpid": corp.as_str(),
        "first_after_secs": p.first_after_secs,
        "repeat_every_secs": p.repeat_every_secs,
        "max_attempts": p.max_attempts,
        "email": p.email,
        "sms": p.sms,
    })
}

pub(super) async fn run(command: CorpCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        CorpCommand::Escalation {
            corpid,
            first_after,
            repeat_every,
            attempts,
            email,
            sms,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let mut policy = services
                .escalation_policy(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            let changes = first_after.is_some()
                || repeat_every.is_some()
                || attempts.is_some()
                || email.is_some()
                || sms.is_some();
            if changes {
                policy.first_after_secs = first_after.unwrap_or(policy.first_after_secs);
                policy.repeat_every_secs = repeat_every.unwrap_or(policy.repeat_every_secs);
                policy.max_attempts = attempts.unwrap_or(policy.max_attempts);
                policy.email = email.map_or(policy.email, |v| v == "on");
                policy.sms = sms.map_or(policy.sms, |v| v == "on");
                let editor = RuleEditor::operator(corp.clone(), operator());
                services
                    .set_escalation_policy(&editor, policy)
                    .await
                    .with_context(|| format!("corp {corp}"))?;
            }
            if json {
                print_json(&policy_json(&corp, &policy))
            } else {
                let on = |b: bool| if b { "on" } else { "off" };
                println!(
                    "corp {corp}: unread urgent messages are re-sent after {}s, then every {}s, {} time(s) at most (e-mail {}, SMS {})",
                    policy.first_after_secs,
                    policy.repeat_every_secs,
                    policy.max_attempts,
                    on(policy.email),
                    on(policy.sms)
                );
                Ok(())
            }
        }
        CorpCommand::Create { name, plan, json } => {
            let created = services
                .create_corp(&name, plan_arg(&plan)?, operator())
                .await
                .context("cannot create corp")?;
            if json {
                print_json(&json!({
                    "corpid": created.corp.id.as_str(),
                    "name": created.corp.name.as_str(),
                    "plan": created.corp.plan.as_str(),
                    "contact_secret": created.contact_secret.expose(),
                    "admin_userid": created.admin_userid.as_str(),
                    "admin_password": created.admin_password.expose(),
                }))
            } else {
                println!(
                    "created corp \"{}\" (plan {})\n  corpid           {}\n  contacts secret  {}\n  admin userid     {}\n  admin password   {}   (one-time)",
                    created.corp.name.as_str(),
                    created.corp.plan,
                    created.corp.id,
                    created.contact_secret.expose(),
                    created.admin_userid,
                    created.admin_password.expose()
                );
                Ok(())
            }
        }
        CorpCommand::List { json } => {
            let corps = services.list_corps().await?;
            if json {
                print_json(&serde_json::Value::Array(
                    corps.iter().map(corp_json).collect(),
                ))
            } else {
                for corp in &corps {
                    println!(
                        "{}  {:<12}  {}",
                        corp.id,
                        corp.plan.as_str(),
                        corp.name.as_str()
                    );
                }
                Ok(())
            }
        }
        CorpCommand::SetPlan { corpid, plan, json } => {
            let corp = corp_arg(&corpid)?;
            let plan = plan_arg(&plan)?;
            let size = services
                .set_plan(&corp, plan, operator())
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                print_json(
                    &json!({"corpid": corp.as_str(), "plan": plan.as_str(), "members": size.members}),
                )
            } else {
                println!(
                    "corp {corp} is now on the {plan} plan ({} members)",
                    size.members
                );
                Ok(())
            }
        }
        CorpCommand::SetLimits {
            corpid,
            corp_per_minute,
            corp_per_hour,
            app_per_minute,
            app_per_hour,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let limits = CorpRateOverride {
                corp_per_api: quota_arg(corp_per_minute, corp_per_hour, "corp")?,
                app_per_api: quota_arg(app_per_minute, app_per_hour, "app")?,
            };
            services
                .set_rate_limits(&corp, limits, operator())
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                print_json(&corp_json(&services.get_corp(&corp).await?))
            } else {
                println!("corp {corp}: rate limits updated (unset limits use the server defaults)");
                Ok(())
            }
        }
        CorpCommand::RotateSecret { corpid, json } => {
            let corp = corp_arg(&corpid)?;
            let secret = services
                .rotate_secret(&corp, CredentialKind::ContactSync, operator())
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                print_json(&json!({"corpid": corp.as_str(), "contact_secret": secret.expose()}))
            } else {
                println!(
                    "new contacts secret for {corp}: {}\n(tokens of the old secret no longer work)",
                    secret.expose()
                );
                Ok(())
            }
        }
    }
}

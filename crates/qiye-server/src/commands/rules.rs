//! `qiye directory hide / protect-field / rules`: the member-facing
//! visibility and field rules, changed as the operator.

use anyhow::Context;
use qiye_app::Services;
use qiye_app::directory::admin::RuleEditor;
use qiye_domain::directory::{FieldRule, ProtectedField, Range, TagId, VisibilityRule};
use qiye_domain::ids::{DeptId, UserId};
use serde_json::json;

use super::{corp_arg, operator, print_json};
use crate::cli::DirectoryCommand;

/// The parsed `--visible-to` / `--readers` list.
#[derive(Debug, Default, PartialEq, Eq)]
struct Audience {
    range: Range,
    admins: bool,
}

/// Parses `dept:ID`, `user:USERID`, `tag:ID` (and, if `allow_role`,
/// `role:admin`) items.
fn audience_arg(items: &[String], flag: &str, allow_role: bool) -> anyhow::Result<Audience> {
    let mut out = Audience::default();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        let bad = || format!("invalid {flag} item '{item}'");
        let (kind, id) = item
            .split_once(':')
            .with_context(|| format!("{}: expected KIND:ID", bad()))?;
        match kind {
            "dept" => out.range.depts.push(
                id.parse::<i64>()
                    .ok()
                    .and_then(|n| DeptId::new(n).ok())
                    .with_context(|| format!("{}: not a department id", bad()))?,
            ),
            "user" => out
                .range
                .users
                .push(UserId::parse(id).with_context(|| format!("{}: not a userid", bad()))?),
            "tag" => out.range.tags.push(TagId(
                id.parse()
                    .with_context(|| format!("{}: not a tag id", bad()))?,
            )),
            "role" if allow_role && id == "admin" => out.admins = true,
            _ => anyhow::bail!(
                "{}: kinds are dept, user, tag{}",
                bad(),
                if allow_role { ", role:admin" } else { "" }
            ),
        }
    }
    Ok(out)
}

/// `dept:1,user:alice,tag:3` (and `role:admin` first when set).
fn range_text(range: &Range, admins: bool) -> String {
    let items: Vec<String> = admins
        .then(|| "role:admin".to_owned())
        .into_iter()
        .chain(range.depts.iter().map(|d| format!("dept:{d}")))
        .chain(range.users.iter().map(|u| format!("user:{u}")))
        .chain(range.tags.iter().map(|t| format!("tag:{}", t.0)))
        .collect();
    if items.is_empty() {
        "(nobody else)".to_owned()
    } else {
        items.join(",")
    }
}

fn range_json(range: &Range) -> serde_json::Value {
    json!({
        "depts": range.depts.iter().map(|d| d.get()).collect::<Vec<_>>(),
        "users": range.users.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "tags": range.tags.iter().map(|t| t.0).collect::<Vec<_>>(),
    })
}

fn visibility_json(rule: &VisibilityRule) -> serde_json::Value {
    json!({"dept": rule.dept.get(), "visible_to": range_json(&rule.audience)})
}

fn field_json(rule: &FieldRule) -> serde_json::Value {
    json!({"field": rule.field.as_config(), "admins": rule.admins, "readers": range_json(&rule.readers)})
}

pub(super) async fn run(command: DirectoryCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        DirectoryCommand::Hide {
            corpid,
            dept,
            visible_to,
            remove,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let dept = DeptId::new(dept).with_context(|| format!("invalid --dept {dept}"))?;
            let audience = (!remove)
                .then(|| audience_arg(&visible_to, "--visible-to", false))
                .transpose()?
                .map(|a| a.range);
            let editor = RuleEditor::operator(corp.clone(), operator());
            services
                .set_visibility_rule(&editor, dept, audience.clone())
                .await
                .with_context(|| {
                    format!("cannot change the visibility of department {dept} in {corp}")
                })?;
            match (json, &audience) {
                (true, Some(range)) => print_json(
                    &json!({"corpid": corp.as_str(), "dept": dept.get(), "visible_to": range_json(range)}),
                ),
                (true, None) => print_json(
                    &json!({"corpid": corp.as_str(), "dept": dept.get(), "removed": true}),
                ),
                (false, Some(range)) => {
                    println!(
                        "department {dept} is now visible only to {} (and its own members and administrators)",
                        range_text(range, false)
                    );
                    Ok(())
                }
                (false, None) => {
                    println!("department {dept} is visible to everyone again");
                    Ok(())
                }
            }
        }
        DirectoryCommand::ProtectField {
            corpid,
            field,
            readers,
            remove,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let protected = ProtectedField::from_config(&field).with_context(|| {
                format!("invalid --field '{field}': mobile, email, biz_mail, telephone, address, position or extattr:NAME")
            })?;
            let readers = (!remove)
                .then(|| audience_arg(&readers, "--readers", true))
                .transpose()?;
            let editor = RuleEditor::operator(corp.clone(), operator());
            services
                .set_field_rule(
                    &editor,
                    &protected,
                    readers.as_ref().map(|a| (a.admins, a.range.clone())),
                )
                .await
                .with_context(|| format!("cannot change the rule of field {field} in {corp}"))?;
            match (json, &readers) {
                (true, Some(a)) => print_json(
                    &json!({"corpid": corp.as_str(), "field": protected.as_config(), "admins": a.admins, "readers": range_json(&a.range)}),
                ),
                (true, None) => print_json(
                    &json!({"corpid": corp.as_str(), "field": protected.as_config(), "removed": true}),
                ),
                (false, Some(a)) => {
                    println!(
                        "field {} is now readable only by {} (and each member for themselves)",
                        protected.as_config(),
                        range_text(&a.range, a.admins)
                    );
                    Ok(())
                }
                (false, None) => {
                    println!(
                        "field {} is readable by everyone again",
                        protected.as_config()
                    );
                    Ok(())
                }
            }
        }
        DirectoryCommand::Rules { corpid, json } => {
            let corp = corp_arg(&corpid)?;
            let policy = services
                .policy(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            if json {
                print_json(&json!({
                    "visibility": policy.visibility.iter().map(visibility_json).collect::<Vec<_>>(),
                    "fields": policy.fields.iter().map(field_json).collect::<Vec<_>>(),
                }))
            } else {
                for rule in &policy.visibility {
                    println!(
                        "hide   dept:{:<10} visible to {}",
                        rule.dept,
                        range_text(&rule.audience, false)
                    );
                }
                for rule in &policy.fields {
                    println!(
                        "field  {:<15} readable by {}",
                        rule.field.as_config(),
                        range_text(&rule.readers, rule.admins)
                    );
                }
                Ok(())
            }
        }
        other => unreachable!("not a rules command: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audience_items_parse_and_refuse_garbage() {
        let items: Vec<String> = ["dept:2", " user:alice", "tag:3", "role:admin"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = audience_arg(&items, "--readers", true).unwrap();
        assert!(a.admins);
        assert_eq!(
            range_text(&a.range, a.admins),
            "role:admin,dept:2,user:alice,tag:3"
        );
        for bad in [
            "role:admin",
            "dept:x",
            "user:bad user",
            "tag:-1",
            "group:1",
            "alice",
        ] {
            assert!(
                audience_arg(&[bad.to_string()], "--visible-to", false).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            audience_arg(&[], "--x", false).unwrap(),
            Audience::default()
        );
    }
}

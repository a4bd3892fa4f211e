//! Templates: a draft is edited freely; publishing checks it and freezes it
//! as an immutable, numbered version. An instance keeps the version it
//! started with.

use super::check::{Plan, TemplateIssue, check_template, plan_of};
use super::flow::Flow;
use super::form::FormSpec;
use super::model::{LangText, TemplateId, TemplateVersion, display_text};
use super::org::Org;
use crate::ids::UserId;

/// Longest template name, in characters (WeCom).
pub const MAX_TEMPLATE_NAME_CHARS: usize = 40;

/// When the applicant may withdraw a running instance (→ 4 已撤销).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawRule {
    /// While it runs.
    Anytime,
    /// Only before anyone approved by hand.
    BeforeFirstApproval,
    /// Never.
    Never,
}

/// A template being designed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateDraft {
    /// Its id (the same for every version).
    pub id: TemplateId,
    /// Name per language, 1 to 40 characters.
    pub name: Vec<LangText>,
    /// The form.
    pub form: FormSpec,
    /// The flow.
    pub flow: Flow,
    /// Process administrators (asked when a node finds nobody).
    pub admins: Vec<UserId>,
    /// Withdrawal rule.
    pub withdraw: WithdrawRule,
}

/// Publishing refused, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the template cannot be published: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PublishError(pub Vec<TemplateIssue>);

/// A published template version. Only [`TemplateDraft::publish`] makes one,
/// so the engine can rely on its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    draft: TemplateDraft,
    version: TemplateVersion,
    plan: Plan,
}

impl TemplateDraft {
    /// Runs every static check and, when none fails, freezes the draft as
    /// `version`.
    pub fn publish(
        self,
        version: TemplateVersion,
        org: &dyn Org,
    ) -> Result<Template, PublishError> {
        let mut issues = Vec::new();
        let name = display_text(&self.name);
        if name.trim().is_empty()
            || self
                .name
                .iter()
                .any(|n| n.text.chars().count() > MAX_TEMPLATE_NAME_CHARS)
        {
            issues.push(TemplateIssue::Name("1 to 40 characters".into()));
        }
        for a in &self.admins {
            if !org.is_active(a) {
                issues.push(TemplateIssue::Name(format!(
                    "administrator {a} does not exist or is not active"
                )));
            }
        }
        match check_template(&self.form, &self.flow, !self.admins.is_empty(), org) {
            Ok(plan) if issues.is_empty() => Ok(Template {
                draft: self,
                version,
                plan,
            }),
            Ok(_) => Err(PublishError(issues)),
            Err(more) => {
                issues.extend(more);
                Err(PublishError(issues))
            }
        }
    }
}

impl Template {
    /// A version published earlier, read back from storage. The static
    /// checks ran when it was published; the organisation may have changed
    /// since (a named approver left), which the engine handles when it
    /// resolves approvers, so only the flow's shape is worked out again.
    pub fn restore(draft: TemplateDraft, version: TemplateVersion) -> Template {
        let plan = plan_of(&draft.flow);
        Template {
            draft,
            version,
            plan,
        }
    }

    /// Its id.
    pub fn id(&self) -> &TemplateId {
        &self.draft.id
    }

    /// Its version.
    pub fn version(&self) -> TemplateVersion {
        self.version
    }

    /// Its name per language.
    pub fn name(&self) -> &[LangText] {
        &self.draft.name
    }

    /// The form.
    pub fn form(&self) -> &FormSpec {
        &self.draft.form
    }

    /// The flow.
    pub fn flow(&self) -> &Flow {
        &self.draft.flow
    }

    /// Process administrators.
    pub fn admins(&self) -> &[UserId] {
        &self.draft.admins
    }

    /// Withdrawal rule.
    pub fn withdraw(&self) -> WithdrawRule {
        self.draft.withdraw
    }

    /// What publishing learned about the flow's shape.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The draft this version was published from (to edit a next version).
    pub fn to_draft(&self) -> TemplateDraft {
        self.draft.clone()
    }
}

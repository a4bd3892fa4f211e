//! Template drafts and their publication.

use qiye_domain::approval::{TemplateDraft, TemplateId, TemplateVersion};
use qiye_domain::audit::Actor;
use qiye_domain::ids::CorpId;
use qiye_domain::ports::{StoreError, StoredTemplate};

use super::ApprovalUseError;
use crate::Services;
use crate::error::{AppError, AppResult};

impl Services {
    /// Stores a new template draft. Nothing is checked beyond the types:
    /// a draft may be incomplete until it is published.
    pub async fn create_approval_template(
        &self,
        corp: &CorpId,
        draft: &TemplateDraft,
        actor: Actor,
    ) -> AppResult<()> {
        let record = self.audit_record(
            actor,
            corp,
            None,
            "approval.template.create",
            &format!("template:{}", draft.id),
        );
        match self
            .store
            .create_template(corp, draft, self.clock.now_millis(), &record)
            .await
        {
            Err(StoreError::Conflict(_)) => Err(ApprovalUseError::TemplateExists.into()),
            other => Ok(other?),
        }
    }

    /// Replaces a template's draft; published versions do not change.
    pub async fn update_approval_template(
        &self,
        corp: &CorpId,
        draft: &TemplateDraft,
        actor: Actor,
    ) -> AppResult<()> {
        let record = self.audit_record(
            actor,
            corp,
            None,
            "approval.template.update",
            &format!("template:{}", draft.id),
        );
        match self
            .store
            .update_template(corp, draft, self.clock.now_millis(), &record)
            .await
        {
            Err(StoreError::NotFound) => Err(ApprovalUseError::UnknownTemplate.into()),
            other => Ok(other?),
        }
    }

    /// Publishes the template's draft as its next version, after the static
    /// checks against the corp's directory; refuses with every reason.
    pub async fn publish_approval_template(
        &self,
        corp: &CorpId,
        id: &TemplateId,
        actor: Actor,
    ) -> AppResult<TemplateVersion> {
        for _ in 0..super::MAX_DECIDE_ATTEMPTS {
            let stored = self.approval_template(corp, id).await?;
            let version = TemplateVersion(stored.published.map_or(1, |v| v.0 + 1));
            let template = self
                .with_org(corp, |org| stored.draft.publish(version, org))
                .await?
                .map_err(ApprovalUseError::NotPublishable)?;
            let record = self.audit_record(
                actor.clone(),
                corp,
                None,
                "approval.template.publish",
                &format!("template:{id} version:{}", version.0),
            );
            match self
                .store
                .publish_template(corp, &template, self.clock.now_millis(), &record)
                .await
            {
                // Another publisher took this number: publish the next one.
                Err(StoreError::Conflict(_)) => continue,
                Err(StoreError::NotFound) => return Err(ApprovalUseError::UnknownTemplate.into()),
                other => {
                    other?;
                    return Ok(version);
                }
            }
        }
        Err(ApprovalUseError::Busy.into())
    }

    /// A template's draft and latest version.
    pub async fn approval_template(
        &self,
        corp: &CorpId,
        id: &TemplateId,
    ) -> AppResult<StoredTemplate> {
        self.store.template(corp, id).await.map_err(|e| match e {
            StoreError::NotFound => AppError::from(ApprovalUseError::UnknownTemplate),
            other => other.into(),
        })
    }

    /// The corp's templates.
    pub async fn approval_templates(&self, corp: &CorpId) -> AppResult<Vec<StoredTemplate>> {
        Ok(self.store.list_templates(corp).await?)
    }
}

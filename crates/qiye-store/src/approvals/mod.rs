//! Approvals (`ApprovalStore`): templates and their immutable versions,
//! instances with an append-only event log each, the task projection behind
//! the members' lists, and durable timers.
//!
//! One writer per instance: [`ApprovalStore::commit_approval`] first moves
//! `approval_instances.last_seq` from the number before its events to their
//! last one with a conditional `UPDATE`. On PostgreSQL a second writer
//! queues on the row lock and then finds `last_seq` moved (0 rows:
//! `Conflict`); on SQLite the write transaction is exclusive. The primary
//! key `(corp, sp_no, seq)` of the events refuses a repeat regardless.
//! Timers fire once: the commit that consumes one deletes it and is refused
//! when the row is gone.

mod codec;

use async_trait::async_trait;
use qiye_domain::approval::{
    ActivationId, InstanceStatus, SpNo, Template, TemplateDraft, TemplateId, TemplateVersion,
};
use qiye_domain::audit::AuditRecord;
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::ports::{
    ApprovalCommit, ApprovalList, ApprovalStore, DueTimer, InstanceQuery, InstanceSummary,
    ListCursor, StoreError, StoreResult, StoredInstance, StoredTemplate, TaskState, TimerRow,
};
use sqlx::AnyConnection;

use crate::binds::{self, Bind, seq_bind, seq_of};
use crate::rows::corrupt;
use crate::{Dialect, SqlStore, audit, callbacks};

/// Events per multi-row insert (7 parameters each).
const EVENT_INSERT_CHUNK: usize = 200;

fn task_state_str(s: TaskState) -> &'static str {
    match s {
        TaskState::Todo => "todo",
        TaskState::Closed => "closed",
        TaskState::Done => "done",
        TaskState::Cc => "cc",
    }
}

fn text(s: &str) -> Bind {
    Bind::Text(s.to_owned())
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    draft: String,
    latest_version: i64,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<TemplateRow> for StoredTemplate {
    type Error = StoreError;

    fn try_from(r: TemplateRow) -> StoreResult<Self> {
        let version = u32::try_from(r.latest_version).map_err(|e| corrupt("template", e))?;
        Ok(StoredTemplate {
            draft: codec::decode_template(&r.draft).map_err(|e| corrupt("template", e))?,
            published: (version > 0).then_some(TemplateVersion(version)),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    sp_no: String,
    template_id: String,
    version: i64,
    applicant: String,
    status: String,
    submitted_at: i64,
    finished_at: Option<i64>,
    at: i64,
    record: i64,
}

impl TryFrom<SummaryRow> for InstanceSummary {
    type Error = StoreError;

    fn try_from(r: SummaryRow) -> StoreResult<Self> {
        let bad = |e: String| corrupt("approval instance", e);
        Ok(InstanceSummary {
            sp_no: SpNo::parse(&r.sp_no).map_err(|e| bad(e.to_string()))?,
            template: TemplateId::parse(&r.template_id).map_err(|e| bad(e.to_string()))?,
            version: TemplateVersion(u32::try_from(r.version).map_err(|e| bad(e.to_string()))?),
            applicant: UserId::parse(&r.applicant).map_err(|e| bad(e.to_string()))?,
            status: codec::status_of(&r.status).map_err(bad)?,
            submitted_at: r.submitted_at,
            finished_at: r.finished_at,
            at: r.at,
            record: u32::try_from(r.record).map_err(|e| bad(e.to_string()))?,
        })
    }
}

const SUMMARY_COLUMNS: &str = "i.sp_no, i.template_id, i.version, i.applicant, i.status, \
     i.submitted_at, i.finished_at";

/// Runs a query with run-time binds and decodes its rows.
async fn fetch_rows<T>(
    dialect: Dialect,
    conn: &mut AnyConnection,
    sql: &str,
    params: Vec<Bind>,
) -> StoreResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = dialect.sql(sql);
    let mut q = sqlx::query_as::<_, T>(&sql);
    for b in params {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::OptText(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
            Bind::OptInt(i) => q.bind(i),
        };
    }
    q.fetch_all(conn).await.map_err(|e| dialect.map_err(e))
}

fn timer_row(activation: i64, kind: &str, due_at: i64) -> StoreResult<TimerRow> {
    Ok(TimerRow {
        activation: ActivationId(u32::try_from(activation).map_err(|e| corrupt("timer", e))?),
        kind: codec::timer_of(kind).map_err(|e| corrupt("timer", e))?,
        due_at,
    })
}

impl SqlStore {
    async fn write_events(
        &self,
        conn: &mut AnyConnection,
        c: &ApprovalCommit<'_>,
    ) -> StoreResult<()> {
        let (Some(first), Some(last)) = (c.events.first(), c.events.last()) else {
            return Ok(());
        };
        let corp = c.corp.as_str();
        let sp_no = c.sp_no.as_str();
        let moved = binds::exec(
            self.dialect,
            conn,
            "UPDATE approval_instances SET last_seq = $1, status = $2, finished_at = $3, \
               updated_at = $4 \
             WHERE corp_id = $5 AND sp_no = $6 AND last_seq = $7",
            vec![
                seq_bind(last.seq),
                Bind::Text(codec::status_str(c.status)),
                Bind::OptInt(c.finished_at),
                Bind::Int(c.at),
                text(corp),
                text(sp_no),
                seq_bind(first.seq.saturating_sub(1)),
            ],
        )
        .await?;
        if moved == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar(&self.dialect.sql(
                    "SELECT last_seq FROM approval_instances WHERE corp_id = $1 AND sp_no = $2",
                ))
                .bind(corp)
                .bind(sp_no)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| self.map_err(e))?;
            return Err(match exists {
                None => StoreError::NotFound,
                Some(_) => StoreError::Conflict("approval_events.seq".into()),
            });
        }
        for chunk in c.events.chunks(EVENT_INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO approval_events (corp_id, sp_no, seq, at, idem_key, actor, body) \
                 VALUES {}",
                self.dialect.values_list(chunk.len(), 7)
            );
            let mut params = Vec::with_capacity(chunk.len() * 7);
            for e in chunk {
                params.extend([
                    text(corp),
                    text(sp_no),
                    seq_bind(e.seq),
                    Bind::Int(e.at),
                    text(e.key.as_str()),
                    Bind::OptText(codec::actor_column(&e.actor)),
                    Bind::Text(codec::encode_event_body(&e.body)),
                ]);
            }
            binds::exec(self.dialect, conn, &sql, params).await?;
        }
        binds::exec(
            self.dialect,
            conn,
            "INSERT INTO approval_keys (corp_id, sp_no, idem_key, first_seq, last_seq) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                text(corp),
                text(sp_no),
                text(c.key.as_str()),
                seq_bind(first.seq),
                seq_bind(last.seq),
            ],
        )
        .await?;
        Ok(())
    }

    async fn write_timers_and_tasks(
        &self,
        conn: &mut AnyConnection,
        c: &ApprovalCommit<'_>,
    ) -> StoreResult<()> {
        let corp = c.corp.as_str();
        let sp_no = c.sp_no.as_str();
        if let Some(t) = &c.fired {
            let gone = binds::exec(
                self.dialect,
                conn,
                "DELETE FROM approval_timers \
                 WHERE corp_id = $1 AND sp_no = $2 AND activation = $3 AND kind = $4",
                vec![
                    text(corp),
                    text(sp_no),
                    Bind::Int(i64::from(t.activation.0)),
                    Bind::Text(codec::timer_str(t.kind)),
                ],
            )
            .await?;
            if gone == 0 {
                return Err(StoreError::Conflict(
                    "approval_timers: fired already".into(),
                ));
            }
        }
        for a in &c.cancelled {
            binds::exec(
                self.dialect,
                conn,
                "DELETE FROM approval_timers WHERE corp_id = $1 AND sp_no = $2 AND activation = $3",
                vec![text(corp), text(sp_no), Bind::Int(i64::from(a.0))],
            )
            .await?;
        }
        for t in &c.timers {
            binds::exec(
                self.dialect,
                conn,
                "INSERT INTO approval_timers (corp_id, sp_no, activation, kind, due_at, lease_until) \
                 VALUES ($1, $2, $3, $4, $5, 0) \
                 ON CONFLICT (corp_id, sp_no, activation, kind) DO NOTHING",
                vec![
                    text(corp),
                    text(sp_no),
                    Bind::Int(i64::from(t.activation.0)),
                    Bind::Text(codec::timer_str(t.kind)),
                    Bind::Int(t.due_at),
                ],
            )
            .await?;
        }
        for t in &c.tasks {
            binds::exec(
                self.dialect,
                conn,
                "INSERT INTO approval_tasks (corp_id, sp_no, record_id, userid, state, at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (corp_id, sp_no, record_id, userid) \
                 DO UPDATE SET state = excluded.state, at = excluded.at",
                vec![
                    text(corp),
                    text(sp_no),
                    Bind::Int(i64::from(t.record)),
                    text(t.user.as_str()),
                    text(task_state_str(t.state)),
                    Bind::Int(t.at),
                ],
            )
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ApprovalStore for SqlStore {
    async fn create_template(
        &self,
        corp: &CorpId,
        draft: &TemplateDraft,
        at: i64,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        binds::exec(
            self.dialect,
            &mut tx,
            "INSERT INTO approval_templates (corp_id, template_id, draft, latest_version, \
               created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4)",
            vec![
                text(corp.as_str()),
                text(draft.id.as_str()),
                Bind::Text(codec::encode_template(draft)),
                Bind::Int(at),
            ],
        )
        .await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn update_template(
        &self,
        corp: &CorpId,
        draft: &TemplateDraft,
        at: i64,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let n = binds::exec(
            self.dialect,
            &mut tx,
            "UPDATE approval_templates SET draft = $1, updated_at = $2 \
             WHERE corp_id = $3 AND template_id = $4",
            vec![
                Bind::Text(codec::encode_template(draft)),
                Bind::Int(at),
                text(corp.as_str()),
                text(draft.id.as_str()),
            ],
        )
        .await?;
        self.commit_audited_update(tx, n, record).await
    }

    async fn publish_template(
        &self,
        corp: &CorpId,
        template: &Template,
        at: i64,
        record: &AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let latest: Option<i64> = sqlx::query_scalar(&self.dialect.sql(&format!(
            "SELECT latest_version FROM approval_templates \
             WHERE corp_id = $1 AND template_id = $2{}",
            self.dialect.for_update()
        )))
        .bind(corp.as_str())
        .bind(template.id().as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let latest = latest.ok_or(StoreError::NotFound)?;
        let version = i64::from(template.version().0);
        if version != latest + 1 {
            return Err(StoreError::Conflict(format!(
                "approval_template_versions: version {version} after {latest}"
            )));
        }
        let definition = codec::encode_template(&template.to_draft());
        binds::exec(
            self.dialect,
            &mut tx,
            "INSERT INTO approval_template_versions (corp_id, template_id, version, definition, \
               published_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                text(corp.as_str()),
                text(template.id().as_str()),
                Bind::Int(version),
                Bind::Text(definition.clone()),
                Bind::Int(at),
            ],
        )
        .await?;
        binds::exec(
            self.dialect,
            &mut tx,
            "UPDATE approval_templates SET latest_version = $1, draft = $2, updated_at = $3 \
             WHERE corp_id = $4 AND template_id = $5",
            vec![
                Bind::Int(version),
                Bind::Text(definition),
                Bind::Int(at),
                text(corp.as_str()),
                text(template.id().as_str()),
            ],
        )
        .await?;
        audit::append(self.dialect, &mut tx, record).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn template(&self, corp: &CorpId, id: &TemplateId) -> StoreResult<StoredTemplate> {
        let row: Option<TemplateRow> = sqlx::query_as(&self.dialect.sql(
            "SELECT draft, latest_version, created_at, updated_at FROM approval_templates \
             WHERE corp_id = $1 AND template_id = $2",
        ))
        .bind(corp.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    async fn template_version(
        &self,
        corp: &CorpId,
        id: &TemplateId,
        version: Option<TemplateVersion>,
    ) -> StoreResult<Template> {
        let row: Option<(String, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT v.definition, v.version FROM approval_template_versions v \
             JOIN approval_templates t ON t.corp_id = v.corp_id AND t.template_id = v.template_id \
             WHERE v.corp_id = $1 AND v.template_id = $2 \
               AND v.version = COALESCE($3, t.latest_version)",
        ))
        .bind(corp.as_str())
        .bind(id.as_str())
        .bind(version.map(|v| i64::from(v.0)))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let (definition, version) = row.ok_or(StoreError::NotFound)?;
        let draft =
            codec::decode_template(&definition).map_err(|e| corrupt("template version", e))?;
        let version = u32::try_from(version).map_err(|e| corrupt("template version", e))?;
        Ok(Template::restore(draft, TemplateVersion(version)))
    }

    async fn list_templates(&self, corp: &CorpId) -> StoreResult<Vec<StoredTemplate>> {
        let rows: Vec<TemplateRow> = sqlx::query_as(&self.dialect.sql(
            "SELECT draft, latest_version, created_at, updated_at FROM approval_templates \
             WHERE corp_id = $1 ORDER BY template_id",
        ))
        .bind(corp.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(StoredTemplate::try_from).collect()
    }

    async fn next_sp_no(&self, corp: &CorpId, day: u32) -> StoreResult<SpNo> {
        let mut tx = self.begin_write().await?;
        let last: i64 = sqlx::query_scalar(&self.dialect.sql(
            "INSERT INTO approval_counters (corp_id, day, last) VALUES ($1, $2, 1) \
             ON CONFLICT (corp_id, day) DO UPDATE SET last = approval_counters.last + 1 \
             RETURNING last",
        ))
        .bind(corp.as_str())
        .bind(i64::from(day))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        let seq = u32::try_from(last).map_err(|e| corrupt("approval counter", e))?;
        Ok(SpNo::for_day(day, seq))
    }

    async fn commit_approval(&self, c: ApprovalCommit<'_>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        if let Some(new) = &c.new {
            binds::exec(
                self.dialect,
                &mut tx,
                "INSERT INTO approval_instances (corp_id, sp_no, template_id, version, applicant, \
                   status, submitted_at, finished_at, last_seq, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8)",
                vec![
                    text(c.corp.as_str()),
                    text(c.sp_no.as_str()),
                    text(new.template.as_str()),
                    Bind::Int(i64::from(new.version.0)),
                    text(new.applicant.as_str()),
                    Bind::Text(codec::status_str(InstanceStatus::NotStarted)),
                    Bind::Int(new.submitted_at),
                    Bind::Int(c.at),
                ],
            )
            .await?;
        }
        self.write_events(&mut tx, &c).await?;
        self.write_timers_and_tasks(&mut tx, &c).await?;
        callbacks::enqueue_in(self.dialect, &mut tx, c.corp, &c.outbox, c.at).await?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn instance(&self, corp: &CorpId, sp_no: &SpNo) -> StoreResult<StoredInstance> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let head: Option<(String, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT template_id, version FROM approval_instances \
             WHERE corp_id = $1 AND sp_no = $2",
        ))
        .bind(corp.as_str())
        .bind(sp_no.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.map_err(e))?;
        let (template, version) = head.ok_or(StoreError::NotFound)?;
        let rows: Vec<(i64, i64, String, Option<String>, String)> =
            sqlx::query_as(&self.dialect.sql(
                "SELECT seq, at, idem_key, actor, body FROM approval_events \
                 WHERE corp_id = $1 AND sp_no = $2 ORDER BY seq",
            ))
            .bind(corp.as_str())
            .bind(sp_no.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.map_err(e))?;
        let events = rows
            .into_iter()
            .map(|(seq, at, key, actor, body)| {
                codec::decode_event(seq_of(seq), at, &key, actor.as_deref(), &body)
                    .map_err(|e| corrupt("approval event", e))
            })
            .collect::<StoreResult<_>>()?;
        Ok(StoredInstance {
            template: TemplateId::parse(&template).map_err(|e| corrupt("approval instance", e))?,
            version: TemplateVersion(
                u32::try_from(version).map_err(|e| corrupt("approval instance", e))?,
            ),
            events,
        })
    }

    async fn approval_list(
        &self,
        corp: &CorpId,
        user: &UserId,
        list: ApprovalList,
        after: Option<&ListCursor>,
        limit: u32,
    ) -> StoreResult<Vec<InstanceSummary>> {
        let mut params = vec![text(corp.as_str()), text(user.as_str())];
        let sql = match list {
            ApprovalList::Applied => {
                let mut sql = format!(
                    "SELECT {SUMMARY_COLUMNS}, i.submitted_at AS at, CAST(0 AS BIGINT) AS record \
                     FROM approval_instances i WHERE i.corp_id = $1 AND i.applicant = $2"
                );
                if let Some(c) = after {
                    sql.push_str(" AND (i.submitted_at, i.sp_no) < ($3, $4)");
                    params.extend([Bind::Int(c.at), text(&c.sp_no)]);
                }
                sql.push_str(&format!(
                    " ORDER BY i.submitted_at DESC, i.sp_no DESC LIMIT {limit}"
                ));
                sql
            }
            ApprovalList::Todo | ApprovalList::Done | ApprovalList::Cc => {
                let state = match list {
                    ApprovalList::Todo => TaskState::Todo,
                    ApprovalList::Done => TaskState::Done,
                    _ => TaskState::Cc,
                };
                params.push(text(task_state_str(state)));
                let mut sql = format!(
                    "SELECT {SUMMARY_COLUMNS}, t.at AS at, t.record_id AS record \
                     FROM approval_tasks t JOIN approval_instances i \
                       ON i.corp_id = t.corp_id AND i.sp_no = t.sp_no \
                     WHERE t.corp_id = $1 AND t.userid = $2 AND t.state = $3"
                );
                if let Some(c) = after {
                    sql.push_str(" AND (t.at, t.sp_no, t.record_id) < ($4, $5, $6)");
                    params.extend([
                        Bind::Int(c.at),
                        text(&c.sp_no),
                        Bind::Int(i64::from(c.record)),
                    ]);
                }
                sql.push_str(&format!(
                    " ORDER BY t.at DESC, t.sp_no DESC, t.record_id DESC LIMIT {limit}"
                ));
                sql
            }
        };
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let rows: Vec<SummaryRow> = fetch_rows(self.dialect, &mut conn, &sql, params).await?;
        rows.into_iter().map(InstanceSummary::try_from).collect()
    }

    async fn query_instances(
        &self,
        corp: &CorpId,
        q: &InstanceQuery,
    ) -> StoreResult<Vec<InstanceSummary>> {
        let mut sql = format!(
            "SELECT {SUMMARY_COLUMNS}, i.submitted_at AS at, CAST(0 AS BIGINT) AS record \
             FROM approval_instances i \
             WHERE i.corp_id = $1 AND i.submitted_at >= $2 AND i.submitted_at <= $3"
        );
        let mut params = vec![text(corp.as_str()), Bind::Int(q.start), Bind::Int(q.end)];
        let next = |sql: &mut String, clause: &str, b: Bind, params: &mut Vec<Bind>| {
            params.push(b);
            sql.push_str(&clause.replace('#', &format!("${}", params.len())));
        };
        if let Some(t) = &q.template {
            next(
                &mut sql,
                " AND i.template_id = #",
                text(t.as_str()),
                &mut params,
            );
        }
        if let Some(u) = &q.applicant {
            next(
                &mut sql,
                " AND i.applicant = #",
                text(u.as_str()),
                &mut params,
            );
        }
        if let Some(s) = q.status {
            next(
                &mut sql,
                " AND i.status = #",
                Bind::Text(codec::status_str(s)),
                &mut params,
            );
        }
        if let Some((at, sp_no)) = &q.after {
            next(
                &mut sql,
                " AND (i.submitted_at > # OR ",
                Bind::Int(*at),
                &mut params,
            );
            next(
                &mut sql,
                "(i.submitted_at = # AND ",
                Bind::Int(*at),
                &mut params,
            );
            next(&mut sql, "i.sp_no > #))", text(sp_no), &mut params);
        }
        sql.push_str(&format!(
            " ORDER BY i.submitted_at, i.sp_no LIMIT {}",
            q.limit
        ));
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let rows: Vec<SummaryRow> = fetch_rows(self.dialect, &mut conn, &sql, params).await?;
        rows.into_iter().map(InstanceSummary::try_from).collect()
    }

    async fn claim_timers(
        &self,
        now: i64,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueTimer>> {
        let mut tx = self.begin_write().await?;
        let rows: Vec<(String, String, i64, String, i64)> =
            sqlx::query_as(&self.dialect.sql(&format!(
                "SELECT corp_id, sp_no, activation, kind, due_at FROM approval_timers \
                 WHERE due_at <= $1 AND lease_until <= $2 \
                 ORDER BY due_at, corp_id, sp_no, activation, kind LIMIT {limit}{}",
                self.dialect.for_update()
            )))
            .bind(now)
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for (corp, sp_no, activation, kind, due_at) in rows {
            binds::exec(
                self.dialect,
                &mut tx,
                "UPDATE approval_timers SET lease_until = $1 \
                 WHERE corp_id = $2 AND sp_no = $3 AND activation = $4 AND kind = $5",
                vec![
                    Bind::Int(now_ms.saturating_add(lease_ms)),
                    text(&corp),
                    text(&sp_no),
                    Bind::Int(activation),
                    text(&kind),
                ],
            )
            .await?;
            out.push(DueTimer {
                corp: CorpId::parse(&corp).map_err(|e| corrupt("timer", e))?,
                sp_no: SpNo::parse(&sp_no).map_err(|e| corrupt("timer", e))?,
                timer: timer_row(activation, &kind, due_at)?,
            });
        }
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(out)
    }

    async fn timers_of(&self, corp: &CorpId, sp_no: &SpNo) -> StoreResult<Vec<TimerRow>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT activation, kind, due_at FROM approval_timers \
             WHERE corp_id = $1 AND sp_no = $2 ORDER BY due_at, activation, kind",
        ))
        .bind(corp.as_str())
        .bind(sp_no.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|(a, k, d)| timer_row(a, &k, d))
            .collect()
    }
}

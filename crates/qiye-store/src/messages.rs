//! Conversations, entries and cursors (`MessageStore`).
//!
//! Sequences: `append` bumps `conversations.last_seq` by the number of
//! entries it adds to each conversation (`UPDATE ... RETURNING`) inside the
//! transaction that inserts them. On PostgreSQL the update locks the
//! conversation's row until commit, so two nodes appending to one
//! conversation queue there; on SQLite the write transaction is exclusive.
//! Either way a sequence is given once and none is skipped.

use std::collections::HashMap;

use async_trait::async_trait;
use qiye_domain::ids::{AgentId, CorpId, UserId};
use qiye_domain::message::{
    CardFacts, Content, ConvId, ConvKind, ConvSummary, Conversation, Cursor, Draft, Entry,
    EntryBody, MsgId, MsgKind, NewConversation, PairKey, Priority, Sender, Seq,
};
use qiye_domain::ports::{AppDelivery, MessageStore, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::binds::{self, Bind, seq_bind, seq_of};
use crate::rows::corrupt;
use crate::{Dialect, SqlStore};

/// Columns of an entry insert.
const ENTRY_COLUMNS: usize = 15;
/// Rows per multi-row entry insert.
const ENTRY_INSERT_CHUNK: usize = 200;
/// Rows per multi-row member insert.
const MEMBER_INSERT_CHUNK: usize = 400;

const MSGTYPE_RECALL: &str = "qiye.recall";
const MSGTYPE_CARD_UPDATE: &str = "qiye.card_update";
const MSGTYPE_ROSTER: &str = "qiye.roster";
const MSGTYPE_UPDATE: &str = "qiye.update";

fn user_of(raw: &str) -> StoreResult<UserId> {
    UserId::parse(raw).map_err(|e| corrupt("userid", e))
}

/// What an entry keeps besides its body, as one JSON column.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Extra {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    media: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    card: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

/// An entry body as its stored columns: msgtype, body, preview, target,
/// extra.
struct StoredBody {
    msgtype: String,
    body: String,
    preview: String,
    target: Option<Seq>,
    extra: Extra,
    /// A card's live `response_code` (its own column, looked up by it).
    response_code: Option<String>,
}

impl StoredBody {
    fn of(body: &EntryBody) -> Self {
        let names = |us: &[UserId]| us.iter().map(|u| u.as_str().to_owned()).collect();
        match body {
            EntryBody::Message(c) => Self {
                msgtype: c.msgtype.clone(),
                body: c.body.clone(),
                preview: c.preview.clone(),
                target: None,
                extra: Extra {
                    media: c.media.clone(),
                    mentions: names(&c.mentions),
                    task_id: c.card.as_ref().and_then(|f| f.task_id.clone()),
                    card: c.card.is_some(),
                    ..Extra::default()
                },
                response_code: c.card.as_ref().and_then(|f| f.response_code.clone()),
            },
            EntryBody::Recall { target } => Self::control(MSGTYPE_RECALL, "", Some(*target)),
            EntryBody::CardUpdate { target, body } => {
                Self::control(MSGTYPE_CARD_UPDATE, body, Some(*target))
            }
            EntryBody::RosterChanged { added, removed } => Self {
                extra: Extra {
                    added: names(added),
                    removed: names(removed),
                    ..Extra::default()
                },
                ..Self::control(MSGTYPE_ROSTER, "", None)
            },
            EntryBody::Updated { name, owner } => Self {
                extra: Extra {
                    name: name.clone(),
                    owner: owner.as_ref().map(|o| o.as_str().to_owned()),
                    ..Extra::default()
                },
                ..Self::control(MSGTYPE_UPDATE, "", None)
            },
        }
    }

    fn control(msgtype: &str, body: &str, target: Option<Seq>) -> Self {
        Self {
            msgtype: msgtype.to_owned(),
            body: body.to_owned(),
            preview: String::new(),
            target,
            extra: Extra::default(),
            response_code: None,
        }
    }

    fn into_body(self) -> StoreResult<EntryBody> {
        let target = || {
            self.target
                .ok_or_else(|| corrupt("entry", "control entry without target"))
        };
        let users = |names: &[String]| names.iter().map(|u| user_of(u)).collect::<StoreResult<_>>();
        Ok(match self.msgtype.as_str() {
            MSGTYPE_RECALL => EntryBody::Recall { target: target()? },
            MSGTYPE_CARD_UPDATE => EntryBody::CardUpdate {
                target: target()?,
                body: self.body,
            },
            MSGTYPE_ROSTER => EntryBody::RosterChanged {
                added: users(&self.extra.added)?,
                removed: users(&self.extra.removed)?,
            },
            MSGTYPE_UPDATE => EntryBody::Updated {
                name: self.extra.name,
                owner: self.extra.owner.as_deref().map(user_of).transpose()?,
            },
            _ => {
                let card = self.extra.card.then(|| CardFacts {
                    task_id: self.extra.task_id.clone(),
                    response_code: self.response_code.clone(),
                });
                EntryBody::Message(Content {
                    mentions: users(&self.extra.mentions)?,
                    msgtype: self.msgtype,
                    body: self.body,
                    preview: self.preview,
                    media: self.extra.media,
                    card,
                })
            }
        })
    }
}

fn sender_columns(sender: &Sender) -> (&'static str, String) {
    match sender {
        Sender::Member(u) => ("member", u.as_str().to_owned()),
        Sender::App(a) => ("app", a.to_string()),
        Sender::System => ("system", String::new()),
    }
}

fn sender_of(kind: &str, id: &str) -> StoreResult<Sender> {
    match kind {
        "member" => Ok(Sender::Member(user_of(id)?)),
        "app" => {
            let raw: i64 = id.parse().map_err(|e| corrupt("sender", e))?;
            Ok(Sender::App(
                AgentId::new(raw).map_err(|e| corrupt("sender", e))?,
            ))
        }
        "system" => Ok(Sender::System),
        other => Err(corrupt("sender kind", other)),
    }
}

fn kind_of(name: &str, agentid: Option<i64>) -> StoreResult<ConvKind> {
    let agent = agentid
        .map(AgentId::new)
        .transpose()
        .map_err(|e| corrupt("conversation agentid", e))?;
    ConvKind::from_parts(name, agent).ok_or_else(|| corrupt("conversation kind", name))
}

const ENTRY_SELECT: &str = "SELECT conv_id, seq, msgid, sender_kind, sender, kind, priority, \
     msgtype, body, preview, target_seq, extra, at, recalled_at, response_code FROM entries";

#[derive(sqlx::FromRow)]
struct EntryRow {
    conv_id: String,
    seq: i64,
    msgid: String,
    sender_kind: String,
    sender: String,
    kind: String,
    priority: String,
    msgtype: String,
    body: String,
    preview: String,
    target_seq: Option<i64>,
    extra: String,
    at: i64,
    recalled_at: Option<i64>,
    response_code: Option<String>,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;

    fn try_from(r: EntryRow) -> StoreResult<Self> {
        let extra: Extra = serde_json::from_str(&r.extra).map_err(|e| corrupt("entry extra", e))?;
        let body = StoredBody {
            msgtype: r.msgtype,
            body: r.body,
            preview: r.preview,
            target: r.target_seq.map(seq_of),
            extra,
            response_code: r.response_code,
        }
        .into_body()?;
        Ok(Entry {
            conv: ConvId::parse(&r.conv_id).map_err(|e| corrupt("conversation id", e))?,
            seq: seq_of(r.seq),
            msgid: MsgId::parse(&r.msgid).ok_or_else(|| corrupt("msgid", &r.msgid))?,
            sender: sender_of(&r.sender_kind, &r.sender)?,
            kind: MsgKind::parse(&r.kind).ok_or_else(|| corrupt("message kind", &r.kind))?,
            priority: Priority::parse(&r.priority)
                .ok_or_else(|| corrupt("priority", &r.priority))?,
            body,
            at: r.at,
            recalled_at: r.recalled_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ConvRow {
    conv_id: String,
    kind: String,
    agentid: Option<i64>,
    name: String,
    owner: Option<String>,
    last_seq: i64,
    created_at: i64,
}

const CONV_SELECT: &str =
    "SELECT conv_id, kind, agentid, name, owner, last_seq, created_at FROM conversations";

async fn load_conversation(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
    row: ConvRow,
) -> StoreResult<Conversation> {
    let members: Vec<String> = sqlx::query_scalar(&dialect.sql(
        "SELECT userid FROM conversation_members WHERE corp_id = $1 AND conv_id = $2 \
         ORDER BY position",
    ))
    .bind(corp.as_str())
    .bind(&row.conv_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    Ok(Conversation {
        id: ConvId::parse(&row.conv_id).map_err(|e| corrupt("conversation id", e))?,
        kind: kind_of(&row.kind, row.agentid)?,
        name: row.name,
        owner: row.owner.as_deref().map(user_of).transpose()?,
        members: members
            .iter()
            .map(|m| user_of(m))
            .collect::<StoreResult<_>>()?,
        last_seq: seq_of(row.last_seq),
        created_at: row.created_at,
    })
}

/// Inserts members after the conversation's last position, joined at
/// `seq` (their cursor starts there); members already in are left alone.
async fn insert_members(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &str,
    conv: &str,
    members: &[UserId],
    seq: Seq,
    at: i64,
) -> StoreResult<()> {
    let first: i64 = sqlx::query_scalar(&dialect.sql(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM conversation_members \
         WHERE corp_id = $1 AND conv_id = $2",
    ))
    .bind(corp)
    .bind(conv)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| dialect.map_err(e))?;
    let mut position = first;
    for chunk in members.chunks(MEMBER_INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO conversation_members (corp_id, conv_id, userid, position, read_seq, \
             delivered_seq, joined_at) VALUES {} ON CONFLICT DO NOTHING",
            dialect.values_list(chunk.len(), 7)
        );
        let mut b = Vec::with_capacity(chunk.len() * 7);
        for m in chunk {
            b.extend([
                Bind::Text(corp.to_owned()),
                Bind::Text(conv.to_owned()),
                Bind::Text(m.as_str().to_owned()),
                Bind::Int(position),
                seq_bind(seq),
                seq_bind(seq),
                Bind::Int(at),
            ]);
            position += 1;
        }
        binds::exec(dialect, conn, &sql, b).await?;
    }
    Ok(())
}

/// Inserts a conversation's row; answers whether it was new (a pair
/// conversation that exists already is left alone).
async fn insert_conversation(
    dialect: Dialect,
    conn: &mut AnyConnection,
    corp: &CorpId,
    conv: &NewConversation,
    at: i64,
    if_new: bool,
) -> StoreResult<bool> {
    let sql = format!(
        "INSERT INTO conversations (corp_id, conv_id, kind, agentid, name, owner, pair_key, \
         last_seq, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8){}",
        if if_new {
            " ON CONFLICT DO NOTHING"
        } else {
            ""
        }
    );
    let inserted = binds::exec(
        dialect,
        conn,
        &sql,
        vec![
            Bind::Text(corp.as_str().to_owned()),
            Bind::Text(conv.id.as_str().to_owned()),
            Bind::Text(conv.kind.name().to_owned()),
            Bind::OptInt(conv.kind.agentid().map(AgentId::get)),
            Bind::Text(conv.name.clone()),
            Bind::OptText(conv.owner.as_ref().map(|o| o.as_str().to_owned())),
            Bind::OptText(conv.pair.as_ref().map(PairKey::key)),
            Bind::Int(at),
        ],
    )
    .await?;
    if inserted == 1 {
        insert_members(
            dialect,
            conn,
            corp.as_str(),
            conv.id.as_str(),
            &conv.members,
            0,
            at,
        )
        .await?;
    }
    Ok(inserted == 1)
}

/// Conversations whose sequences one statement bumps.
const SEQ_UPDATE_CHUNK: usize = 300;

/// Gives each draft its sequence: the batch's conversations are bumped by
/// their entry counts in one `UPDATE ... RETURNING` per 300 conversations
/// (in key order, so that two nodes' batches lock shared rows in the same
/// order), not one round trip each.
async fn assign_seqs(
    dialect: Dialect,
    conn: &mut AnyConnection,
    drafts: &[Draft],
) -> StoreResult<Vec<Seq>> {
    let mut counts: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for d in drafts {
        *counts
            .entry((d.corp.as_str(), d.conv.as_str()))
            .or_insert(0) += 1;
    }
    let keys: Vec<((&str, &str), u64)> = counts.into_iter().collect();
    let mut next: HashMap<(&str, &str), Seq> = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(SEQ_UPDATE_CHUNK) {
        let mut values = String::new();
        let mut binds = Vec::with_capacity(chunk.len() * 3);
        for (i, ((corp, conv), n)) in chunk.iter().enumerate() {
            let p = |k: usize| match dialect {
                Dialect::Sqlite => "?".to_owned(),
                Dialect::Postgres => format!("${}", i * 3 + k),
            };
            if i > 0 {
                values.push_str(", ");
            }
            values.push_str(&format!("({}, {}, CAST({} AS BIGINT))", p(1), p(2), p(3)));
            binds.push(Bind::Text((*corp).to_owned()));
            binds.push(Bind::Text((*conv).to_owned()));
            binds.push(Bind::Int(i64::try_from(*n).unwrap_or(i64::MAX)));
        }
        let sql = format!(
            "WITH v (corp_id, conv_id, n) AS (VALUES {values}) \
             UPDATE conversations SET last_seq = last_seq + \
               (SELECT v.n FROM v WHERE v.corp_id = conversations.corp_id \
                  AND v.conv_id = conversations.conv_id) \
             WHERE (corp_id, conv_id) IN (SELECT corp_id, conv_id FROM v) \
             RETURNING corp_id, conv_id, last_seq"
        );
        let mut q = sqlx::query_as::<_, (String, String, i64)>(&sql);
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
                Bind::OptText(t) => q.bind(t),
                Bind::OptInt(i) => q.bind(i),
            };
        }
        let rows = q
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| dialect.map_err(e))?;
        if rows.len() != chunk.len() {
            // A conversation of the batch does not exist (in its corp).
            return Err(StoreError::NotFound);
        }
        for (corp, conv, last) in rows {
            let key = chunk
                .iter()
                .find(|((c, v), _)| *c == corp && *v == conv)
                .ok_or_else(|| corrupt("sequence update", "a row that was not asked for"))?;
            next.insert(key.0, seq_of(last) + 1 - key.1);
        }
    }
    Ok(drafts
        .iter()
        .map(|d| {
            let slot = next
                .get_mut(&(d.corp.as_str(), d.conv.as_str()))
                .expect("every conversation of the batch was bumped");
            let seq = *slot;
            *slot += 1;
            seq
        })
        .collect())
}

async fn insert_entries(
    dialect: Dialect,
    conn: &mut AnyConnection,
    drafts: &[Draft],
    seqs: &[Seq],
) -> StoreResult<()> {
    let rows: Vec<(&Draft, Seq)> = drafts.iter().zip(seqs.iter().copied()).collect();
    for chunk in rows.chunks(ENTRY_INSERT_CHUNK) {
        let sql = format!(
            "INSERT INTO entries (corp_id, conv_id, seq, msgid, sender_kind, sender, kind, \
             priority, msgtype, body, preview, target_seq, extra, at, response_code) VALUES {}",
            dialect.values_list(chunk.len(), ENTRY_COLUMNS)
        );
        let mut b = Vec::with_capacity(chunk.len() * ENTRY_COLUMNS);
        for (d, seq) in chunk {
            let stored = StoredBody::of(&d.body);
            let (sender_kind, sender) = sender_columns(&d.sender);
            let extra = serde_json::to_string(&stored.extra)
                .map_err(|e| StoreError::Other(e.to_string()))?;
            b.extend([
                Bind::Text(d.corp.as_str().to_owned()),
                Bind::Text(d.conv.as_str().to_owned()),
                seq_bind(*seq),
                Bind::Text(d.msgid.as_str().to_owned()),
                Bind::Text(sender_kind.to_owned()),
                Bind::Text(sender),
                Bind::Text(d.kind.name().to_owned()),
                Bind::Text(d.priority.name().to_owned()),
                Bind::Text(stored.msgtype),
                Bind::Text(stored.body),
                Bind::Text(stored.preview),
                Bind::OptInt(stored.target.map(|t| i64::try_from(t).unwrap_or(i64::MAX))),
                Bind::Text(extra),
                Bind::Int(d.at),
                Bind::OptText(stored.response_code),
            ]);
        }
        binds::exec(dialect, conn, &sql, b).await?;
    }
    Ok(())
}

/// What a control entry does to what came before it.
async fn apply_effect(
    dialect: Dialect,
    conn: &mut AnyConnection,
    draft: &Draft,
    seq: Seq,
) -> StoreResult<()> {
    let corp = || Bind::Text(draft.corp.as_str().to_owned());
    let conv = || Bind::Text(draft.conv.as_str().to_owned());
    match &draft.body {
        EntryBody::Message(_) => {}
        EntryBody::Recall { target } => {
            binds::exec(
                dialect,
                conn,
                "UPDATE entries SET recalled_at = $1 \
                 WHERE corp_id = $2 AND conv_id = $3 AND seq = $4 AND recalled_at IS NULL",
                vec![Bind::Int(draft.at), corp(), conv(), seq_bind(*target)],
            )
            .await?;
        }
        EntryBody::CardUpdate { target, body } => {
            binds::exec(
                dialect,
                conn,
                "UPDATE entries SET body = $1 WHERE corp_id = $2 AND conv_id = $3 AND seq = $4",
                vec![Bind::Text(body.clone()), corp(), conv(), seq_bind(*target)],
            )
            .await?;
        }
        EntryBody::RosterChanged { added, removed } => {
            for r in removed {
                binds::exec(
                    dialect,
                    conn,
                    "DELETE FROM conversation_members \
                     WHERE corp_id = $1 AND conv_id = $2 AND userid = $3",
                    vec![corp(), conv(), Bind::Text(r.as_str().to_owned())],
                )
                .await?;
            }
            insert_members(
                dialect,
                conn,
                draft.corp.as_str(),
                draft.conv.as_str(),
                added,
                seq,
                draft.at,
            )
            .await?;
        }
        EntryBody::Updated { name, owner } => {
            binds::exec(
                dialect,
                conn,
                "UPDATE conversations SET name = COALESCE($1, name), owner = COALESCE($2, owner) \
                 WHERE corp_id = $3 AND conv_id = $4",
                vec![
                    Bind::OptText(name.clone()),
                    Bind::OptText(owner.as_ref().map(|o| o.as_str().to_owned())),
                    corp(),
                    conv(),
                ],
            )
            .await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    conv_id: String,
    kind: String,
    agentid: Option<i64>,
    name: String,
    owner: Option<String>,
    last_seq: i64,
    read_seq: i64,
    member_count: i64,
    peer: Option<String>,
    unread: i64,
}

#[async_trait]
impl MessageStore for SqlStore {
    async fn create_conversation(
        &self,
        corp: &CorpId,
        conv: &NewConversation,
        at: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        insert_conversation(self.dialect, &mut tx, corp, conv, at, false)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict(conv.id.to_string()),
                other => other,
            })?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn open_pair(&self, corp: &CorpId, key: &PairKey, at: i64) -> StoreResult<Conversation> {
        let select = format!("{CONV_SELECT} WHERE corp_id = $1 AND pair_key = $2");
        let sql = self.dialect.sql(&select);
        let pair = key.key();
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let found: Option<ConvRow> = sqlx::query_as(&sql)
            .bind(corp.as_str())
            .bind(&pair)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| self.map_err(e))?;
        if let Some(row) = found {
            return load_conversation(self.dialect, &mut conn, corp, row).await;
        }
        drop(conn);
        let mut tx = self.begin_write().await?;
        let new = NewConversation::pair(ConvId::generate(), key.clone());
        insert_conversation(self.dialect, &mut tx, corp, &new, at, true).await?;
        let row: ConvRow = sqlx::query_as(&sql)
            .bind(corp.as_str())
            .bind(&pair)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        let conv = load_conversation(self.dialect, &mut tx, corp, row).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(conv)
    }

    async fn conversation(&self, corp: &CorpId, conv: &ConvId) -> StoreResult<Conversation> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        let row: ConvRow = sqlx::query_as(&self.dialect.sql(&format!(
            "{CONV_SELECT} WHERE corp_id = $1 AND conv_id = $2"
        )))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| self.map_err(e))?
        .ok_or(StoreError::NotFound)?;
        load_conversation(self.dialect, &mut conn, corp, row).await
    }

    async fn append(&self, drafts: &[Draft]) -> StoreResult<Vec<Seq>> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let seqs = assign_seqs(self.dialect, &mut tx, drafts).await?;
        insert_entries(self.dialect, &mut tx, drafts, &seqs).await?;
        for (d, seq) in drafts.iter().zip(&seqs) {
            apply_effect(self.dialect, &mut tx, d, *seq).await?;
        }
        crate::escalations::create_for(self.dialect, &mut tx, drafts, &seqs).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(seqs)
    }

    async fn entries(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        after: Seq,
        limit: u32,
    ) -> StoreResult<Vec<Entry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "{ENTRY_SELECT} WHERE corp_id = $1 AND conv_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
        )))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    async fn entry(&self, corp: &CorpId, conv: &ConvId, seq: Seq) -> StoreResult<Entry> {
        let row: EntryRow = sqlx::query_as(&self.dialect.sql(&format!(
            "{ENTRY_SELECT} WHERE corp_id = $1 AND conv_id = $2 AND seq = $3"
        )))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?
        .ok_or(StoreError::NotFound)?;
        Entry::try_from(row)
    }

    async fn entries_by_msgid(&self, corp: &CorpId, msgid: &MsgId) -> StoreResult<Vec<Entry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "{ENTRY_SELECT} WHERE corp_id = $1 AND msgid = $2 ORDER BY conv_id, seq"
        )))
        .bind(corp.as_str())
        .bind(msgid.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    async fn entries_by_response_code(&self, corp: &CorpId, code: &str) -> StoreResult<Vec<Entry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(&self.dialect.sql(&format!(
            "{ENTRY_SELECT} WHERE corp_id = $1 AND response_code = $2 ORDER BY conv_id, seq"
        )))
        .bind(corp.as_str())
        .bind(code)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter().map(Entry::try_from).collect()
    }

    async fn set_response_code(
        &self,
        corp: &CorpId,
        entries: &[(ConvId, Seq)],
        code: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for (conv, seq) in entries {
            binds::exec(
                self.dialect,
                &mut tx,
                "UPDATE entries SET response_code = $1 WHERE corp_id = $2 AND conv_id = $3 AND seq = $4",
                vec![
                    Bind::OptText(code.map(str::to_owned)),
                    Bind::Text(corp.as_str().to_owned()),
                    Bind::Text(conv.as_str().to_owned()),
                    seq_bind(*seq),
                ],
            )
            .await?;
        }
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn member_conversations(
        &self,
        corp: &CorpId,
        user: &UserId,
    ) -> StoreResult<Vec<ConvSummary>> {
        let rows: Vec<SummaryRow> = sqlx::query_as(&self.dialect.sql(
            "SELECT c.conv_id, c.kind, c.agentid, c.name, c.owner, c.last_seq, m.read_seq, \
               (SELECT COUNT(*) FROM conversation_members a \
                 WHERE a.corp_id = c.corp_id AND a.conv_id = c.conv_id) AS member_count, \
               (SELECT p.userid FROM conversation_members p \
                 WHERE c.kind = 'direct' AND p.corp_id = c.corp_id AND p.conv_id = c.conv_id \
                   AND p.userid <> m.userid LIMIT 1) AS peer, \
               (SELECT COUNT(*) FROM entries e \
                 WHERE e.corp_id = c.corp_id AND e.conv_id = c.conv_id AND e.seq > m.read_seq \
                   AND e.recalled_at IS NULL AND e.msgtype NOT LIKE 'qiye.%' \
                   AND NOT (e.sender_kind = 'member' AND e.sender = m.userid)) AS unread \
             FROM conversation_members m \
             JOIN conversations c ON c.corp_id = m.corp_id AND c.conv_id = m.conv_id \
             WHERE m.corp_id = $1 AND m.userid = $2 \
             ORDER BY c.conv_id",
        ))
        .bind(corp.as_str())
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(ConvSummary {
                    id: ConvId::parse(&r.conv_id).map_err(|e| corrupt("conversation id", e))?,
                    kind: kind_of(&r.kind, r.agentid)?,
                    name: r.name,
                    owner: r.owner.as_deref().map(user_of).transpose()?,
                    last_seq: seq_of(r.last_seq),
                    member_count: u32::try_from(r.member_count).unwrap_or(u32::MAX),
                    peer: r.peer.as_deref().map(user_of).transpose()?,
                    read_seq: seq_of(r.read_seq),
                    unread: seq_of(r.unread),
                })
            })
            .collect()
    }

    async fn advance_cursor(
        &self,
        corp: &CorpId,
        conv: &ConvId,
        user: &UserId,
        seq: Seq,
        at: i64,
    ) -> StoreResult<Seq> {
        let mut tx = self.begin_write().await?;
        let found: Option<(i64, i64, String)> = sqlx::query_as(&self.dialect.sql(&format!(
            "SELECT m.read_seq, c.last_seq, c.kind FROM conversation_members m \
             JOIN conversations c ON c.corp_id = m.corp_id AND c.conv_id = m.conv_id \
             WHERE m.corp_id = $1 AND m.conv_id = $2 AND m.userid = $3{}",
            self.dialect.for_update()
        )))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .bind(user.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let (read, last, kind) = found.ok_or(StoreError::NotFound)?;
        let (read, last) = (seq_of(read), seq_of(last));
        let to = seq.min(last);
        if to <= read {
            return Ok(read);
        }
        let c = || Bind::Text(corp.as_str().to_owned());
        let v = || Bind::Text(conv.as_str().to_owned());
        binds::exec(
            self.dialect,
            &mut tx,
            "UPDATE conversation_members SET read_seq = $1, \
               delivered_seq = CASE WHEN delivered_seq < $1 THEN $1 ELSE delivered_seq END \
             WHERE corp_id = $2 AND conv_id = $3 AND userid = $4",
            vec![seq_bind(to), c(), v(), Bind::Text(user.as_str().to_owned())],
        )
        .await?;
        if kind == "app" {
            binds::exec(
                self.dialect,
                &mut tx,
                "UPDATE entries SET read_at = $1, delivered_at = COALESCE(delivered_at, $1) \
                 WHERE corp_id = $2 AND conv_id = $3 AND seq > $4 AND seq <= $5 \
                   AND read_at IS NULL AND sender_kind = 'app'",
                vec![Bind::Int(at), c(), v(), seq_bind(read), seq_bind(to)],
            )
            .await?;
        }
        crate::escalations::acknowledge_upto(self.dialect, &mut tx, corp, conv, user, to, at)
            .await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(to)
    }

    async fn mark_delivered(
        &self,
        corp: &CorpId,
        user: &UserId,
        upto: &[(ConvId, Seq)],
        at: i64,
    ) -> StoreResult<()> {
        if upto.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (conv, seq) in upto {
            let c = || Bind::Text(corp.as_str().to_owned());
            let v = || Bind::Text(conv.as_str().to_owned());
            let moved = binds::exec(
                self.dialect,
                &mut tx,
                "UPDATE conversation_members SET delivered_seq = $1 \
                 WHERE corp_id = $2 AND conv_id = $3 AND userid = $4 AND delivered_seq < $1",
                vec![
                    seq_bind(*seq),
                    c(),
                    v(),
                    Bind::Text(user.as_str().to_owned()),
                ],
            )
            .await?;
            if moved == 1 {
                binds::exec(
                    self.dialect,
                    &mut tx,
                    "UPDATE entries SET delivered_at = $1 \
                     WHERE corp_id = $2 AND conv_id = $3 AND seq <= $4 \
                       AND delivered_at IS NULL AND sender_kind = 'app' \
                       AND EXISTS (SELECT 1 FROM conversations k WHERE k.corp_id = entries.corp_id \
                                   AND k.conv_id = entries.conv_id AND k.kind = 'app')",
                    vec![Bind::Int(at), c(), v(), seq_bind(*seq)],
                )
                .await?;
            }
        }
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    async fn cursors(&self, corp: &CorpId, conv: &ConvId) -> StoreResult<Vec<Cursor>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(&self.dialect.sql(
            "SELECT userid, read_seq FROM conversation_members \
             WHERE corp_id = $1 AND conv_id = $2 ORDER BY position",
        ))
        .bind(corp.as_str())
        .bind(conv.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|(u, s)| {
                Ok(Cursor {
                    userid: user_of(&u)?,
                    read_seq: seq_of(s),
                })
            })
            .collect()
    }

    async fn remember_send(
        &self,
        corp: &CorpId,
        agentid: AgentId,
        digest: &str,
        msgid: &MsgId,
        now: i64,
        until: i64,
    ) -> StoreResult<Option<MsgId>> {
        let mut tx = self.begin_write().await?;
        let key = || {
            vec![
                Bind::Text(corp.as_str().to_owned()),
                Bind::Int(agentid.get()),
                Bind::Text(digest.to_owned()),
            ]
        };
        let mut expired = key();
        expired.push(Bind::Int(now));
        binds::exec(
            self.dialect,
            &mut tx,
            "DELETE FROM send_digests WHERE corp_id = $1 AND agentid = $2 AND digest = $3 \
             AND until <= $4",
            expired,
        )
        .await?;
        let mut row = key();
        row.extend([Bind::Text(msgid.as_str().to_owned()), Bind::Int(until)]);
        let inserted = binds::exec(
            self.dialect,
            &mut tx,
            "INSERT INTO send_digests (corp_id, agentid, digest, msgid, until) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            row,
        )
        .await?;
        let earlier = if inserted == 1 {
            None
        } else {
            let id: String = sqlx::query_scalar(&self.dialect.sql(
                "SELECT msgid FROM send_digests WHERE corp_id = $1 AND agentid = $2 AND digest = $3",
            ))
            .bind(corp.as_str())
            .bind(agentid.get())
            .bind(digest)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
            Some(MsgId::parse(&id).ok_or_else(|| corrupt("msgid", &id))?)
        };
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(earlier)
    }

    async fn app_deliveries(
        &self,
        corp: &CorpId,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<AppDelivery>> {
        let rows: Vec<(i64, String, i64, Option<i64>, Option<i64>)> =
            sqlx::query_as(&self.dialect.sql(
                "SELECT c.agentid, e.kind, e.at, e.delivered_at, e.read_at FROM entries e \
                 JOIN conversations c ON c.corp_id = e.corp_id AND c.conv_id = e.conv_id \
                 WHERE e.corp_id = $1 AND e.sender_kind = 'app' AND c.kind = 'app' \
                   AND e.at >= $2 AND e.at < $3 AND e.msgtype NOT LIKE 'qiye.%' \
                 ORDER BY e.at",
            ))
            .bind(corp.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        rows.into_iter()
            .map(|(agent, kind, at, delivered_at, read_at)| {
                Ok(AppDelivery {
                    agentid: AgentId::new(agent).map_err(|e| corrupt("agentid", e))?,
                    kind: MsgKind::parse(&kind).ok_or_else(|| corrupt("message kind", &kind))?,
                    sent_at: at,
                    delivered_at,
                    read_at,
                })
            })
            .collect()
    }
}

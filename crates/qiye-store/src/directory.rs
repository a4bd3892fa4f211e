//! The directory: loading a corp's whole directory and committing validated
//! changes under optimistic concurrency (`corps.dir_version`).
//!
//! Members' scalar fields used for lookups and uniqueness (mobile, e-mail)
//! are columns; the rest of a member is one JSON `profile` column, written
//! and read whole. Runs of member creations (imports) are written with
//! multi-row inserts.

use async_trait::async_trait;
use qiye_domain::directory::{
    Department, DirChange, Directory, ExtAttr, ExtAttrValue, Gender, Member, MemberStatus,
    Membership, Tag, TagId,
};
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use qiye_domain::ports::{DirectoryCommit, DirectoryStore, StoreError, StoreResult};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use crate::binds::{self, Bind};
use crate::rows::corrupt;
use crate::{Dialect, SqlStore, audit, callbacks};

/// One extended attribute as stored in `profile`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredAttr {
    name: String,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<String>,
}

/// The JSON `profile` column.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Profile {
    alias: String,
    position: String,
    gender: i64,
    telephone: String,
    address: String,
    english_name: String,
    avatar_mediaid: String,
    direct_leader: Vec<String>,
    extattr: Vec<StoredAttr>,
    external_position: String,
    external_profile: String,
}

impl Profile {
    fn of(m: &Member) -> Self {
        Profile {
            alias: m.alias.clone(),
            position: m.position.clone(),
            gender: m.gender.code(),
            telephone: m.telephone.clone(),
            address: m.address.clone(),
            english_name: m.english_name.clone(),
            avatar_mediaid: m.avatar_mediaid.clone(),
            direct_leader: m
                .direct_leader
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            extattr: m
                .extattr
                .iter()
                .map(|a| match &a.value {
                    ExtAttrValue::Text { value } => StoredAttr {
                        name: a.name.clone(),
                        kind: 0,
                        values: vec![value.clone()],
                    },
                    ExtAttrValue::Web { url, title } => StoredAttr {
                        name: a.name.clone(),
                        kind: 1,
                        values: vec![url.clone(), title.clone()],
                    },
                    ExtAttrValue::MiniProgram {
                        appid,
                        pagepath,
                        title,
                    } => StoredAttr {
                        name: a.name.clone(),
                        kind: 2,
                        values: vec![appid.clone(), pagepath.clone(), title.clone()],
                    },
                })
                .collect(),
            external_position: m.external_position.clone(),
            external_profile: m.external_profile.clone(),
        }
    }

    fn json(m: &Member) -> String {
        serde_json::to_string(&Profile::of(m)).unwrap_or_else(|_| "{}".into())
    }
}

fn attr_of(stored: StoredAttr) -> ExtAttr {
    let mut v = stored.values.into_iter();
    let mut next = || v.next().unwrap_or_default();
    let value = match stored.kind {
        1 => ExtAttrValue::Web {
            url: next(),
            title: next(),
        },
        2 => ExtAttrValue::MiniProgram {
            appid: next(),
            pagepath: next(),
            title: next(),
        },
        _ => ExtAttrValue::Text { value: next() },
    };
    ExtAttr {
        name: stored.name,
        value,
    }
}

#[derive(sqlx::FromRow)]
struct DeptRow {
    dept_id: i64,
    name: String,
    name_en: String,
    parent_id: Option<i64>,
    sort_order: i64,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    userid: String,
    name: String,
    status: i64,
    mobile: String,
    email: String,
    biz_mail: String,
    main_department: i64,
    profile: String,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    userid: String,
    dept_id: i64,
    sort_order: i64,
    is_leader: i64,
}

#[derive(sqlx::FromRow)]
struct TagRow {
    tag_id: i64,
    name: String,
    owner_agentid: Option<i64>,
}

fn dept_id(raw: i64) -> StoreResult<DeptId> {
    DeptId::new(raw).map_err(|e| corrupt("department id", e))
}

fn user_id(raw: &str) -> StoreResult<UserId> {
    UserId::parse(raw).map_err(|e| corrupt("userid", e))
}

fn order(raw: i64) -> u32 {
    u32::try_from(raw).unwrap_or(0)
}

async fn load(dialect: Dialect, conn: &mut AnyConnection, corp: &CorpId) -> StoreResult<Directory> {
    let map = |e| dialect.map_err(e);
    let depts: Vec<DeptRow> = sqlx::query_as(&dialect.sql(
        "SELECT dept_id, name, name_en, parent_id, sort_order FROM departments WHERE corp_id = $1",
    ))
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    let depts = depts
        .into_iter()
        .map(|r| {
            Ok(Department {
                id: dept_id(r.dept_id)?,
                name: r.name,
                name_en: r.name_en,
                parent: r.parent_id.map(dept_id).transpose()?,
                order: order(r.sort_order),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;

    let memberships: Vec<MembershipRow> = sqlx::query_as(&dialect.sql(
        "SELECT userid, dept_id, sort_order, is_leader FROM member_departments \
         WHERE corp_id = $1 ORDER BY userid, position",
    ))
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    // Memberships carry no foreign keys on PostgreSQL (the directory writer
    // keeps them whole); a row that names no department or member is
    // refused here rather than silently dropped.
    let known_depts: std::collections::HashSet<DeptId> = depts.iter().map(|d| d.id).collect();
    let mut by_user: std::collections::HashMap<String, Vec<Membership>> = Default::default();
    for r in memberships {
        let dept = dept_id(r.dept_id)?;
        if !known_depts.contains(&dept) {
            return Err(corrupt(
                "membership",
                format!("{} is in no department {}", r.userid, r.dept_id),
            ));
        }
        by_user.entry(r.userid).or_default().push(Membership {
            dept,
            order: order(r.sort_order),
            is_leader: r.is_leader != 0,
        });
    }

    let rows: Vec<MemberRow> = sqlx::query_as(&dialect.sql(
        "SELECT userid, name, status, mobile, email, biz_mail, main_department, profile \
         FROM members WHERE corp_id = $1",
    ))
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    let mut members = Vec::with_capacity(rows.len());
    for r in rows {
        let p: Profile = serde_json::from_str(&r.profile).map_err(|e| corrupt("profile", e))?;
        let departments = by_user.remove(&r.userid).unwrap_or_else(|| {
            vec![Membership {
                dept: DeptId::ROOT,
                order: 0,
                is_leader: false,
            }]
        });
        members.push(Member {
            userid: user_id(&r.userid)?,
            name: r.name,
            alias: p.alias,
            mobile: r.mobile,
            position: p.position,
            gender: Gender::from_code(p.gender).unwrap_or_default(),
            email: r.email,
            biz_mail: r.biz_mail,
            telephone: p.telephone,
            address: p.address,
            english_name: p.english_name,
            avatar_mediaid: p.avatar_mediaid,
            departments,
            main_department: dept_id(r.main_department)?,
            direct_leader: p
                .direct_leader
                .iter()
                .map(|u| user_id(u))
                .collect::<StoreResult<_>>()?,
            status: MemberStatus::from_code(r.status)
                .ok_or_else(|| corrupt("member status", r.status))?,
            extattr: p.extattr.into_iter().map(attr_of).collect(),
            external_position: p.external_position,
            external_profile: p.external_profile,
        });
    }
    if let Some(orphan) = by_user.keys().next() {
        return Err(corrupt("membership", format!("{orphan} is no member")));
    }

    let tag_rows: Vec<TagRow> = sqlx::query_as(
        &dialect.sql("SELECT tag_id, name, owner_agentid FROM tags WHERE corp_id = $1"),
    )
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    let tag_users: Vec<(i64, String)> = sqlx::query_as(&dialect.sql(
        "SELECT tag_id, userid FROM tag_members WHERE corp_id = $1 ORDER BY tag_id, position",
    ))
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    let tag_depts: Vec<(i64, i64)> = sqlx::query_as(&dialect.sql(
        "SELECT tag_id, dept_id FROM tag_departments WHERE corp_id = $1 ORDER BY tag_id, position",
    ))
    .bind(corp.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(map)?;
    let mut tags = Vec::with_capacity(tag_rows.len());
    for r in tag_rows {
        tags.push(Tag {
            id: TagId(u32::try_from(r.tag_id).map_err(|e| corrupt("tag id", e))?),
            name: r.name,
            owner: r
                .owner_agentid
                .map(AgentId::new)
                .transpose()
                .map_err(|e| corrupt("tag owner", e))?,
            users: tag_users
                .iter()
                .filter(|(t, _)| *t == r.tag_id)
                .map(|(_, u)| user_id(u))
                .collect::<StoreResult<_>>()?,
            parties: tag_depts
                .iter()
                .filter(|(t, _)| *t == r.tag_id)
                .map(|(_, d)| dept_id(*d))
                .collect::<StoreResult<_>>()?,
        });
    }
    Ok(Directory::from_parts(depts, members, tags))
}

/// Rows per multi-row member insert (11 parameters each).
const MEMBER_INSERT_CHUNK: usize = 400;
/// Rows per multi-row membership insert (6 parameters each).
const MEMBERSHIP_INSERT_CHUNK: usize = 800;
/// Rows per multi-row department insert (6 parameters each).
const DEPT_INSERT_CHUNK: usize = 800;

struct Writer<'a> {
    dialect: Dialect,
    conn: &'a mut AnyConnection,
    corp: &'a str,
    at: i64,
}

impl Writer<'_> {
    async fn exec(&mut self, sql: &str, binds: Vec<Bind>) -> StoreResult<u64> {
        binds::exec(self.dialect, self.conn, sql, binds).await
    }

    /// The change rewrote visibility or field rule rows: cached policies
    /// must reload.
    async fn bump_policy_version(&mut self) -> StoreResult<()> {
        crate::sessions::bump_policy_version(self.dialect, self.conn, &self.corp_id()?).await
    }

    fn corp_id(&self) -> StoreResult<CorpId> {
        CorpId::parse(self.corp).map_err(|e| StoreError::Other(format!("corp id: {e}")))
    }

    /// Writes a run of creations (departments and members, in any mix) as
    /// multi-row inserts: the departments first, in the given order (a
    /// department is planned after its parent), then the members, who may
    /// join any of them. Departments never refer to members, so this order
    /// always holds.
    async fn insert_creations(&mut self, run: &[DirChange]) -> StoreResult<()> {
        let mut depts = Vec::new();
        let mut members = Vec::new();
        for change in run {
            match change {
                DirChange::CreateDept(d) => depts.push(d),
                DirChange::CreateMember(m) => members.push(&**m),
                other => {
                    return Err(StoreError::Other(format!(
                        "not a creation in a run of creations: {}",
                        other.action()
                    )));
                }
            }
        }
        self.insert_depts(&depts).await?;
        self.insert_members(&members).await
    }

    async fn insert_depts(&mut self, depts: &[&Department]) -> StoreResult<()> {
        for chunk in depts.chunks(DEPT_INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO departments (corp_id, dept_id, name, name_en, parent_id, sort_order) VALUES {}",
                self.dialect.values_list(chunk.len(), 6)
            );
            let mut binds = Vec::with_capacity(chunk.len() * 6);
            for d in chunk {
                binds.extend([
                    Bind::Text(self.corp.to_owned()),
                    Bind::Int(i64::from(d.id.get())),
                    Bind::Text(d.name.clone()),
                    Bind::Text(d.name_en.clone()),
                    Bind::OptInt(d.parent.map(|p| i64::from(p.get()))),
                    Bind::Int(i64::from(d.order)),
                ]);
            }
            self.exec(&sql, binds).await?;
        }
        Ok(())
    }

    async fn insert_members(&mut self, members: &[&Member]) -> StoreResult<()> {
        for chunk in members.chunks(MEMBER_INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO members (corp_id, userid, name, status, created_at, mobile, email, \
                 biz_mail, main_department, profile, updated_at) VALUES {}",
                self.dialect.values_list(chunk.len(), 11)
            );
            let mut binds = Vec::with_capacity(chunk.len() * 11);
            for m in chunk {
                binds.extend([
                    Bind::Text(self.corp.to_owned()),
                    Bind::Text(m.userid.as_str().to_owned()),
                    Bind::Text(m.name.clone()),
                    Bind::Int(m.status.code()),
                    Bind::Int(self.at),
                    Bind::Text(m.mobile.clone()),
                    Bind::Text(m.email.clone()),
                    Bind::Text(m.biz_mail.clone()),
                    Bind::Int(i64::from(m.main_department.get())),
                    Bind::Text(Profile::json(m)),
                    Bind::Int(self.at),
                ]);
            }
            self.exec(&sql, binds).await?;
        }
        let rows: Vec<(&Member, usize, &Membership)> = members
            .iter()
            .flat_map(|m| {
                m.departments
                    .iter()
                    .enumerate()
                    .map(move |(i, ms)| (*m, i, ms))
            })
            .collect();
        for chunk in rows.chunks(MEMBERSHIP_INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO member_departments (corp_id, userid, dept_id, sort_order, is_leader, position) VALUES {}",
                self.dialect.values_list(chunk.len(), 6)
            );
            let mut binds = Vec::with_capacity(chunk.len() * 6);
            for (m, i, ms) in chunk {
                binds.extend([
                    Bind::Text(self.corp.to_owned()),
                    Bind::Text(m.userid.as_str().to_owned()),
                    Bind::Int(i64::from(ms.dept.get())),
                    Bind::Int(i64::from(ms.order)),
                    Bind::Int(i64::from(ms.is_leader)),
                    Bind::Int(*i as i64),
                ]);
            }
            self.exec(&sql, binds).await?;
        }
        Ok(())
    }

    async fn delete_member_rows(&mut self, userid: &str, keep_admin: bool) -> StoreResult<()> {
        let c = self.corp.to_owned();
        let u = || vec![Bind::Text(c.clone()), Bind::Text(userid.to_owned())];
        self.exec(
            "DELETE FROM member_departments WHERE corp_id = $1 AND userid = $2",
            u(),
        )
        .await?;
        self.exec(
            "DELETE FROM tag_members WHERE corp_id = $1 AND userid = $2",
            u(),
        )
        .await?;
        // A deleted member's sessions and second factor end with them (a
        // later member with the same userid starts without them).
        for table in ["sessions", "member_totp", "recovery_codes"] {
            self.exec(
                &format!("DELETE FROM {table} WHERE corp_id = $1 AND userid = $2"),
                u(),
            )
            .await?;
        }
        if !keep_admin {
            self.exec(
                "DELETE FROM admin_scopes WHERE corp_id = $1 AND userid = $2",
                u(),
            )
            .await?;
            self.exec("DELETE FROM admins WHERE corp_id = $1 AND userid = $2", u())
                .await?;
        }
        self.exec(
            "DELETE FROM members WHERE corp_id = $1 AND userid = $2",
            u(),
        )
        .await?;
        Ok(())
    }

    async fn update_member(&mut self, before: &Member, after: &Member) -> StoreResult<()> {
        let c = self.corp.to_owned();
        let old = before.userid.as_str().to_owned();
        let new = after.userid.as_str().to_owned();
        if old == new {
            self.exec(
                "UPDATE members SET name = $3, status = $4, mobile = $5, email = $6, biz_mail = $7, \
                 main_department = $8, profile = $9, updated_at = $10 WHERE corp_id = $1 AND userid = $2",
                vec![
                    Bind::Text(c.clone()),
                    Bind::Text(new.clone()),
                    Bind::Text(after.name.clone()),
                    Bind::Int(after.status.code()),
                    Bind::Text(after.mobile.clone()),
                    Bind::Text(after.email.clone()),
                    Bind::Text(after.biz_mail.clone()),
                    Bind::Int(i64::from(after.main_department.get())),
                    Bind::Text(Profile::json(after)),
                    Bind::Int(self.at),
                ],
            )
            .await?;
            self.exec(
                "DELETE FROM member_departments WHERE corp_id = $1 AND userid = $2",
                vec![Bind::Text(c), Bind::Text(new)],
            )
            .await?;
            return self.insert_memberships(after).await;
        }
        // A rename: the new row first (keeping sign-in data), then every
        // reference moves, then the old row goes.
        let pair = || {
            vec![
                Bind::Text(c.clone()),
                Bind::Text(old.clone()),
                Bind::Text(new.clone()),
            ]
        };
        self.insert_members(&[after]).await?;
        self.exec(
            "UPDATE members SET password_hash = (SELECT password_hash FROM members WHERE corp_id = $1 AND userid = $2), \
             must_change_password = (SELECT must_change_password FROM members WHERE corp_id = $1 AND userid = $2), \
             created_at = (SELECT created_at FROM members WHERE corp_id = $1 AND userid = $2) \
             WHERE corp_id = $1 AND userid = $3",
            pair(),
        )
        .await?;
        self.exec(
            "INSERT INTO admins (corp_id, userid, role) SELECT corp_id, $3, role FROM admins WHERE corp_id = $1 AND userid = $2",
            pair(),
        )
        .await?;
        for sql in [
            "UPDATE admin_scopes SET userid = $3 WHERE corp_id = $1 AND userid = $2",
            "UPDATE tag_members SET userid = $3 WHERE corp_id = $1 AND userid = $2",
            "UPDATE app_ranges SET target = $3 WHERE corp_id = $1 AND kind = 'user' AND target = $2",
            "UPDATE hidden_department_audience SET target = $3 WHERE corp_id = $1 AND kind = 'user' AND target = $2",
            "UPDATE field_rule_readers SET target = $3 WHERE corp_id = $1 AND kind = 'user' AND target = $2",
            "UPDATE sessions SET userid = $3 WHERE corp_id = $1 AND userid = $2",
        ] {
            self.exec(sql, pair()).await?;
        }
        self.replace_leader(&old, Some(&new)).await?;
        self.bump_policy_version().await?;
        self.delete_member_rows(&old, false).await?;
        // History naming the old userid stays attributable.
        self.record_former_member(before).await
    }

    /// Records who a userid that no longer exists belonged to.
    async fn record_former_member(&mut self, member: &Member) -> StoreResult<()> {
        self.exec(
            "INSERT INTO former_members (corp_id, userid, name, left_at) VALUES ($1, $2, $3, $4)",
            vec![
                Bind::Text(self.corp.to_owned()),
                Bind::Text(member.userid.as_str().to_owned()),
                Bind::Text(member.name.clone()),
                Bind::Int(self.at),
            ],
        )
        .await?;
        Ok(())
    }

    /// Rewrites the direct-leader lists (in other members' profiles) that
    /// name `from`: to `to` on a rename, without it on a deletion. The
    /// `LIKE` only narrows the scan; the parsed list decides.
    async fn replace_leader(&mut self, from: &str, to: Option<&str>) -> StoreResult<()> {
        let sql = self
            .dialect
            .sql("SELECT userid, profile FROM members WHERE corp_id = $1 AND profile LIKE $2");
        let candidates: Vec<(String, String)> = sqlx::query_as(&sql)
            .bind(self.corp)
            .bind(format!("%\"{from}\"%"))
            .fetch_all(&mut *self.conn)
            .await
            .map_err(|e| self.dialect.map_err(e))?;
        for (userid, profile) in candidates {
            let mut p: Profile =
                serde_json::from_str(&profile).map_err(|e| corrupt("profile", e))?;
            if !p.direct_leader.iter().any(|l| l == from) {
                continue;
            }
            p.direct_leader = p
                .direct_leader
                .into_iter()
                .filter_map(|l| {
                    if l == from {
                        to.map(str::to_owned)
                    } else {
                        Some(l)
                    }
                })
                .collect();
            let json = serde_json::to_string(&p).map_err(|e| corrupt("profile", e))?;
            self.exec(
                "UPDATE members SET profile = $3 WHERE corp_id = $1 AND userid = $2",
                vec![
                    Bind::Text(self.corp.to_owned()),
                    Bind::Text(userid),
                    Bind::Text(json),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn insert_memberships(&mut self, m: &Member) -> StoreResult<()> {
        for (i, ms) in m.departments.iter().enumerate() {
            self.exec(
                "INSERT INTO member_departments (corp_id, userid, dept_id, sort_order, is_leader, position) VALUES ($1, $2, $3, $4, $5, $6)",
                vec![
                    Bind::Text(self.corp.to_owned()),
                    Bind::Text(m.userid.as_str().to_owned()),
                    Bind::Int(i64::from(ms.dept.get())),
                    Bind::Int(i64::from(ms.order)),
                    Bind::Int(i64::from(ms.is_leader)),
                    Bind::Int(i as i64),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn apply(&mut self, change: &DirChange) -> StoreResult<()> {
        let c = self.corp.to_owned();
        match change {
            DirChange::CreateDept(d) => self.insert_depts(&[d]).await?,
            DirChange::UpdateDept { after: d, .. } => {
                self.exec(
                    "UPDATE departments SET name = $3, name_en = $4, parent_id = $5, sort_order = $6 WHERE corp_id = $1 AND dept_id = $2",
                    vec![
                        Bind::Text(c),
                        Bind::Int(i64::from(d.id.get())),
                        Bind::Text(d.name.clone()),
                        Bind::Text(d.name_en.clone()),
                        Bind::OptInt(d.parent.map(|p| i64::from(p.get()))),
                        Bind::Int(i64::from(d.order)),
                    ],
                )
                .await?;
            }
            DirChange::DeleteDept(d) => {
                let id = i64::from(d.id.get());
                for sql in [
                    "DELETE FROM tag_departments WHERE corp_id = $1 AND dept_id = $2",
                    "DELETE FROM hidden_department_audience WHERE corp_id = $1 AND dept_id = $2",
                    "DELETE FROM hidden_departments WHERE corp_id = $1 AND dept_id = $2",
                    "DELETE FROM departments WHERE corp_id = $1 AND dept_id = $2",
                ] {
                    self.exec(sql, vec![Bind::Text(c.clone()), Bind::Int(id)])
                        .await?;
                }
                self.bump_policy_version().await?;
            }
            DirChange::CreateMember(m) => self.insert_members(&[m]).await?,
            DirChange::UpdateMember { before, after } => self.update_member(before, after).await?,
            DirChange::DeleteMember(m) => {
                self.delete_member_rows(m.userid.as_str(), false).await?;
                self.replace_leader(m.userid.as_str(), None).await?;
                self.record_former_member(m).await?;
            }
            DirChange::CreateTag(t) => {
                self.exec(
                    "INSERT INTO tags (corp_id, tag_id, name, owner_agentid) VALUES ($1, $2, $3, $4)",
                    vec![
                        Bind::Text(c),
                        Bind::Int(i64::from(t.id.0)),
                        Bind::Text(t.name.clone()),
                        Bind::OptInt(t.owner.map(AgentId::get)),
                    ],
                )
                .await?;
            }
            DirChange::RenameTag { id, name } => {
                self.exec(
                    "UPDATE tags SET name = $3 WHERE corp_id = $1 AND tag_id = $2",
                    vec![
                        Bind::Text(c),
                        Bind::Int(i64::from(id.0)),
                        Bind::Text(name.clone()),
                    ],
                )
                .await?;
            }
            DirChange::DeleteTag(t) => {
                for sql in [
                    "DELETE FROM tag_members WHERE corp_id = $1 AND tag_id = $2",
                    "DELETE FROM tag_departments WHERE corp_id = $1 AND tag_id = $2",
                    "DELETE FROM app_ranges WHERE corp_id = $1 AND kind = 'tag' AND target = CAST($2 AS TEXT)",
                    "DELETE FROM tags WHERE corp_id = $1 AND tag_id = $2",
                ] {
                    self.exec(
                        sql,
                        vec![Bind::Text(c.clone()), Bind::Int(i64::from(t.id.0))],
                    )
                    .await?;
                }
            }
            DirChange::TagTargets {
                id,
                add_users,
                del_users,
                add_parties,
                del_parties,
            } => {
                let tag = i64::from(id.0);
                for u in del_users {
                    self.exec(
                        "DELETE FROM tag_members WHERE corp_id = $1 AND tag_id = $2 AND userid = $3",
                        vec![Bind::Text(c.clone()), Bind::Int(tag), Bind::Text(u.as_str().to_owned())],
                    )
                    .await?;
                }
                for d in del_parties {
                    self.exec(
                        "DELETE FROM tag_departments WHERE corp_id = $1 AND tag_id = $2 AND dept_id = $3",
                        vec![Bind::Text(c.clone()), Bind::Int(tag), Bind::Int(i64::from(d.get()))],
                    )
                    .await?;
                }
                // Each addition goes after the tag's last one, so the order
                // of additions holds even within one commit or millisecond.
                for u in add_users {
                    self.exec(
                        "INSERT INTO tag_members (corp_id, tag_id, userid, position) \
                         SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1 FROM tag_members \
                         WHERE corp_id = $1 AND tag_id = $2",
                        vec![
                            Bind::Text(c.clone()),
                            Bind::Int(tag),
                            Bind::Text(u.as_str().to_owned()),
                        ],
                    )
                    .await?;
                }
                for d in add_parties {
                    self.exec(
                        "INSERT INTO tag_departments (corp_id, tag_id, dept_id, position) \
                         SELECT $1, $2, $3, COALESCE(MAX(position), 0) + 1 FROM tag_departments \
                         WHERE corp_id = $1 AND tag_id = $2",
                        vec![
                            Bind::Text(c.clone()),
                            Bind::Int(tag),
                            Bind::Int(i64::from(d.get())),
                        ],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn directory_version(&self, corp: &CorpId) -> StoreResult<i64> {
        sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT dir_version FROM corps WHERE corp_id = $1"),
        )
        .bind(corp.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }

    async fn load_directory(&self, corp: &CorpId) -> StoreResult<(i64, Directory)> {
        // One read transaction, so the version matches the rows.
        let mut tx = self.pool.begin().await.map_err(|e| self.map_err(e))?;
        let version: i64 = sqlx::query_scalar(
            &self
                .dialect
                .sql("SELECT dir_version FROM corps WHERE corp_id = $1"),
        )
        .bind(corp.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        let dir = load(self.dialect, &mut tx, corp).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok((version, dir))
    }

    async fn commit_directory(&self, commit: DirectoryCommit<'_>) -> StoreResult<i64> {
        let mut tx = self.begin_write().await?;
        let bumped = sqlx::query(&self.dialect.sql(
            "UPDATE corps SET dir_version = dir_version + 1 WHERE corp_id = $1 AND dir_version = $2",
        ))
        .bind(commit.corp.as_str())
        .bind(commit.expected_version)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if bumped.rows_affected() != 1 {
            let exists: Option<i64> =
                sqlx::query_scalar(&self.dialect.sql("SELECT 1 FROM corps WHERE corp_id = $1"))
                    .bind(commit.corp.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| self.map_err(e))?;
            return Err(match exists {
                Some(_) => StoreError::Conflict("directory version".into()),
                None => StoreError::NotFound,
            });
        }
        {
            let mut writer = Writer {
                dialect: self.dialect,
                conn: &mut tx,
                corp: commit.corp.as_str(),
                at: commit.at,
            };
            let mut i = 0;
            while i < commit.changes.len() {
                // Runs of creations become multi-row inserts.
                let run = commit.changes[i..]
                    .iter()
                    .take_while(|c| {
                        matches!(c, DirChange::CreateDept(_) | DirChange::CreateMember(_))
                    })
                    .count();
                if run > 1 {
                    writer.insert_creations(&commit.changes[i..i + run]).await?;
                    i += run;
                } else {
                    writer.apply(&commit.changes[i]).await?;
                    i += 1;
                }
            }
        }
        for record in commit.audit {
            audit::append(self.dialect, &mut tx, record).await?;
        }
        callbacks::enqueue_in(self.dialect, &mut tx, commit.corp, commit.outbox, commit.at).await?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(commit.expected_version + 1)
    }

    async fn former_member_name(
        &self,
        corp: &CorpId,
        userid: &UserId,
    ) -> StoreResult<Option<String>> {
        sqlx::query_scalar(&self.dialect.sql(
            "SELECT name FROM former_members WHERE corp_id = $1 AND userid = $2 ORDER BY left_at DESC LIMIT 1",
        ))
        .bind(corp.as_str())
        .bind(userid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }
}

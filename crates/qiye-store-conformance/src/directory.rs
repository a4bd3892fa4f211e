//! Stories for the [`DirectoryStore`] port: optimistic versioning, exact
//! round-trips of departments, members and tags, userid renames and
//! deletions that keep history attributable, races between writers, corp
//! isolation and large commits.
//!
//! Expected directories are built by applying the same changes to the
//! domain's in-memory [`Directory`], so a story states "what the store loads
//! is what the domain applied", plus explicit checks of the values that
//! matter, so that a store and the domain cannot be wrong together unseen.

use std::sync::Arc;

use qiye_domain::audit::AuditRecord;
use qiye_domain::callback::OutboxEntry;
use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::directory::{
    AdminRole, Department, DirChange, Directory, ExtAttr, ExtAttrValue, Gender, Member,
    MemberStatus, Membership, ProtectedField, Range, Tag, TagId,
};
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use qiye_domain::ports::{DirectoryCommit, Store, StoreError, StoreResult};

use crate::{create, new_app, record};

/// A userid from a literal.
pub(crate) fn uid(raw: &str) -> UserId {
    UserId::parse(raw).expect("valid userid")
}

/// A department id from a literal.
pub(crate) fn dept_id(raw: i64) -> DeptId {
    DeptId::new(raw).expect("valid department id")
}

/// A department under `parent`.
pub(crate) fn dept(id: i64, parent: i64, name: &str, order: u32) -> Department {
    Department {
        id: dept_id(id),
        name: name.into(),
        name_en: format!("{name} (en)"),
        parent: Some(dept_id(parent)),
        order,
    }
}

/// A member with every field set, belonging to `depts` as
/// `(department, order, is_leader)`; the first department is the main one.
pub(crate) fn member(userid: &str, name: &str, depts: &[(i64, u32, bool)]) -> Member {
    Member {
        userid: uid(userid),
        name: name.into(),
        alias: format!("{name}-alias"),
        mobile: String::new(),
        position: format!("{name} position"),
        gender: Gender::Female,
        email: format!("{userid}@example.com"),
        biz_mail: format!("{userid}@corp.example.com"),
        telephone: "0571-8888".into(),
        address: "西湖区 1 号".into(),
        english_name: format!("{name} EN"),
        avatar_mediaid: format!("media-{userid}"),
        departments: depts
            .iter()
            .map(|&(dept, order, is_leader)| Membership {
                dept: dept_id(dept),
                order,
                is_leader,
            })
            .collect(),
        main_department: dept_id(depts[0].0),
        direct_leader: Vec::new(),
        status: MemberStatus::Active,
        extattr: vec![
            ExtAttr {
                name: "工号".into(),
                value: ExtAttrValue::Text {
                    value: format!("E-{userid}"),
                },
            },
            ExtAttr {
                name: "主页".into(),
                value: ExtAttrValue::Web {
                    url: format!("https://example.com/{userid}"),
                    title: "Home".into(),
                },
            },
            ExtAttr {
                name: "小程序".into(),
                value: ExtAttrValue::MiniProgram {
                    appid: "wx0123456789abcdef".into(),
                    pagepath: "/pages/index".into(),
                    title: "Card".into(),
                },
            },
        ],
        external_position: "Lead".into(),
        external_profile: r#"{"external_corp_name":"企业","external_attr":[]}"#.into(),
    }
}

/// A tag with no targets yet.
pub(crate) fn tag(id: u32, name: &str) -> Tag {
    Tag {
        id: TagId(id),
        name: name.into(),
        owner: None,
        users: Vec::new(),
        parties: Vec::new(),
    }
}

/// Members and departments added to a tag.
pub(crate) fn tag_add(id: u32, users: &[&str], parties: &[i64]) -> DirChange {
    DirChange::TagTargets {
        id: TagId(id),
        add_users: users.iter().map(|u| uid(u)).collect(),
        del_users: Vec::new(),
        add_parties: parties.iter().map(|&d| dept_id(d)).collect(),
        del_parties: Vec::new(),
    }
}

/// The audit records a commit of `changes` carries: one per change.
fn audit_of(corp: &CorpId, changes: &[DirChange]) -> Vec<AuditRecord> {
    changes
        .iter()
        .map(|c| {
            let mut r = record(corp, c.action());
            r.target = c.target();
            r
        })
        .collect()
}

/// Commits `changes` at `expected_version` with their audit records and the
/// given callback events.
pub(crate) async fn commit_with_outbox(
    store: &dyn Store,
    corp: &CorpId,
    expected_version: i64,
    changes: &[DirChange],
    outbox: &[OutboxEntry],
) -> StoreResult<i64> {
    let audit = audit_of(corp, changes);
    store
        .commit_directory(DirectoryCommit {
            corp,
            expected_version,
            changes,
            at: SystemClock.now_millis(),
            audit: &audit,
            outbox,
        })
        .await
}

/// Commits `changes` at the corp's current version, asserting that it
/// succeeds and bumps the version by one.
pub(crate) async fn commit_now(store: &dyn Store, corp: &CorpId, changes: &[DirChange]) {
    let version = store.directory_version(corp).await.expect("version");
    let new = commit_with_outbox(store, corp, version, changes, &[])
        .await
        .expect("commit");
    assert_eq!(new, version + 1, "a commit bumps the version by one");
}

/// Everything a directory holds, in a canonical order, for comparisons.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    depts: Vec<Department>,
    members: Vec<Member>,
    tags: Vec<Tag>,
}

/// The canonical contents of a directory.
pub(crate) fn snapshot(dir: &Directory) -> Snapshot {
    let mut depts: Vec<Department> = dir
        .all_depts()
        .into_iter()
        .filter_map(|id| dir.dept(id).cloned())
        .collect();
    depts.sort_by_key(|d| d.id);
    let mut members: Vec<Member> = dir.members().cloned().collect();
    members.sort_by(|a, b| a.userid.cmp(&b.userid));
    let mut tags: Vec<Tag> = dir.tags().cloned().collect();
    tags.sort_by_key(|t| t.id);
    Snapshot {
        depts,
        members,
        tags,
    }
}

/// Applies `changes` to a copy of `dir`, as the cache would after a commit.
pub(crate) fn applied(dir: &Directory, changes: &[DirChange]) -> Directory {
    let mut dir = dir.clone();
    for change in changes {
        dir.apply(change);
    }
    dir
}

/// Loads a corp's directory and asserts it equals `expected`, part by
/// part so that a failure names what differs.
async fn assert_loads(store: &dyn Store, corp: &CorpId, expected: &Directory) -> Directory {
    let (_, loaded) = store.load_directory(corp).await.expect("load");
    let (got, want) = (snapshot(&loaded), snapshot(expected));
    assert_eq!(
        got.depts, want.depts,
        "departments differ from what was committed"
    );
    let userids = |s: &Snapshot| {
        s.members
            .iter()
            .map(|m| m.userid.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        userids(&got),
        userids(&want),
        "members differ from what was committed"
    );
    for (got, want) in got.members.iter().zip(&want.members) {
        assert_eq!(
            got, want,
            "member {} differs from what was committed",
            want.userid
        );
    }
    assert_eq!(got.tags, want.tags, "tags differ from what was committed");
    loaded
}

/// How many callback events are queued for an app (any state).
async fn queued_events(store: &dyn Store, corp: &CorpId, agentid: AgentId) -> usize {
    store
        .delivery_log(corp, agentid, None, 10_000)
        .await
        .expect("delivery log")
        .len()
}

fn event(agentid: AgentId, name: &str) -> OutboxEntry {
    OutboxEntry {
        agentid: Some(agentid),
        event: format!("change_contact/{name}"),
        payload: format!("<xml><ChangeType>{name}</ChangeType></xml>"),
        destination: None,
    }
}

/// A commit at the expected version succeeds, bumps the version, writes its
/// audit records and queues its events; a commit at a stale version is
/// refused with `Conflict` and writes nothing at all.
pub async fn directory_commit_is_versioned(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let (v0, base) = store.load_directory(&a.id).await.unwrap();
    assert_eq!(store.directory_version(&a.id).await.unwrap(), v0);

    let first = [DirChange::CreateDept(dept(2, 1, "研发", 10))];
    let audit_before = store.tail_audit(&a.id, 1000).await.unwrap().len();
    let v1 = commit_with_outbox(
        store.as_ref(),
        &a.id,
        v0,
        &first,
        &[event(agentid, "create_party")],
    )
    .await
    .unwrap();
    assert_eq!(v1, v0 + 1);
    assert_eq!(store.directory_version(&a.id).await.unwrap(), v1);
    let tail = store.tail_audit(&a.id, 1000).await.unwrap();
    assert_eq!(tail.len(), audit_before + 1);
    assert_eq!(tail.last().unwrap().record.action, "department.create");
    assert_eq!(tail.last().unwrap().record.target, "department:2");
    assert_eq!(queued_events(store.as_ref(), &a.id, agentid).await, 1);
    let after_first = applied(&base, &first);

    // Someone validated against v0, but v1 is current.
    let stale = [
        DirChange::CreateDept(dept(3, 1, "Stale", 1)),
        DirChange::CreateMember(Box::new(member("stale", "Stale", &[(1, 0, false)]))),
    ];
    let err = commit_with_outbox(
        store.as_ref(),
        &a.id,
        v0,
        &stale,
        &[
            event(agentid, "create_party"),
            event(agentid, "create_user"),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.directory_version(&a.id).await.unwrap(), v1);
    assert_eq!(
        store.tail_audit(&a.id, 1000).await.unwrap().len(),
        audit_before + 1,
        "a refused commit wrote audit records"
    );
    assert_eq!(
        queued_events(store.as_ref(), &a.id, agentid).await,
        1,
        "a refused commit queued events"
    );
    assert_loads(store.as_ref(), &a.id, &after_first).await;

    // A version from the future is as stale as one from the past.
    let err = commit_with_outbox(store.as_ref(), &a.id, v1 + 5, &stale, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // A corp that does not exist is not a conflict.
    let ghost = CorpId::generate();
    assert_eq!(
        commit_with_outbox(store.as_ref(), &ghost, 0, &stale, &[]).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.load_directory(&ghost).await.map(|(v, _)| v),
        Err(StoreError::NotFound)
    );
}

/// Departments (order, parent, English name), members (every field,
/// profile and extended attributes included), memberships (order, leader,
/// position in the list) and tags (members and departments, in the order
/// they were added) load back exactly as committed, through updates too.
pub async fn directory_round_trips_every_field(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    assert!(base.dept(DeptId::ROOT).is_some(), "a new corp has its root");
    assert!(
        base.member(&uid("admin")).is_some(),
        "and its administrator"
    );

    let mut lead = member("lead", "负责人", &[(2, 100, true), (3, 7, false)]);
    lead.gender = Gender::Male;
    lead.mobile = "+86 13800000001".into();
    let mut report = member("report", "Report", &[(3, 5, false), (1, 0, false)]);
    report.direct_leader = vec![uid("lead")];
    report.status = MemberStatus::NotActivated;
    report.main_department = dept_id(1);
    let mut owned = tag(7, "VIP");
    owned.owner = Some(AgentId::FIRST);
    let changes = vec![
        DirChange::CreateDept(dept(2, 1, "研发中心", 300)),
        DirChange::CreateDept(dept(3, 2, "Backend", 0)),
        DirChange::CreateMember(Box::new(lead.clone())),
        DirChange::CreateMember(Box::new(report.clone())),
        DirChange::CreateTag(owned),
        DirChange::CreateTag(tag(8, "Plain")),
        tag_add(7, &["report", "lead"], &[3, 2]),
    ];
    commit_now(store.as_ref(), &a.id, &changes).await;
    let plain = applied(&base, &changes);
    let loaded = assert_loads(store.as_ref(), &a.id, &plain).await;
    assert_eq!(loaded.dept(dept_id(3)).unwrap(), &dept(3, 2, "Backend", 0));
    assert_eq!(loaded.member(&uid("lead")).unwrap(), &lead);
    assert_eq!(loaded.member(&uid("report")).unwrap(), &report);
    let vip = loaded.tag(TagId(7)).unwrap();
    assert_eq!(vip.owner, Some(AgentId::FIRST));
    assert_eq!(vip.users, [uid("report"), uid("lead")]);
    assert_eq!(vip.parties, [dept_id(3), dept_id(2)]);

    // Updates of every kind, in one commit.
    let mut moved = dept(3, 1, "Backend 后端", 42);
    moved.name_en = String::new();
    let mut lead2 = lead.clone();
    lead2.name = "New Name".into();
    lead2.departments.reverse();
    lead2.departments[0].is_leader = true;
    lead2.main_department = dept_id(3);
    lead2.extattr.truncate(1);
    lead2.status = MemberStatus::Disabled;
    lead2.mobile.clear();
    let updates = vec![
        DirChange::UpdateDept {
            before: dept(3, 2, "Backend", 0),
            after: moved.clone(),
        },
        DirChange::UpdateMember {
            before: Box::new(lead),
            after: Box::new(lead2.clone()),
        },
        DirChange::RenameTag {
            id: TagId(8),
            name: "Renamed".into(),
        },
        DirChange::TagTargets {
            id: TagId(7),
            add_users: vec![uid("admin")],
            del_users: vec![uid("report")],
            add_parties: vec![DeptId::ROOT],
            del_parties: vec![dept_id(3)],
        },
    ];
    commit_now(store.as_ref(), &a.id, &updates).await;
    let expected = applied(&plain, &updates);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert_eq!(loaded.dept(dept_id(3)).unwrap(), &moved);
    assert_eq!(loaded.member(&uid("lead")).unwrap(), &lead2);
    assert_eq!(loaded.tag(TagId(8)).unwrap().name, "Renamed");
    let vip = loaded.tag(TagId(7)).unwrap();
    assert_eq!(vip.users, [uid("lead"), uid("admin")]);
    assert_eq!(vip.parties, [dept_id(2), DeptId::ROOT]);

    // Removals: a tag, then a department emptied of members.
    let report = loaded.member(&uid("report")).unwrap().clone();
    let removals = vec![
        DirChange::DeleteTag(loaded.tag(TagId(8)).unwrap().clone()),
        DirChange::DeleteMember(Box::new(report)),
        DirChange::UpdateMember {
            before: Box::new(lead2.clone()),
            after: Box::new(Member {
                departments: vec![Membership {
                    dept: dept_id(2),
                    order: 1,
                    is_leader: false,
                }],
                main_department: dept_id(2),
                ..lead2
            }),
        },
        DirChange::DeleteDept(moved),
    ];
    commit_now(store.as_ref(), &a.id, &removals).await;
    let expected = applied(&expected, &removals);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert!(loaded.dept(dept_id(3)).is_none() && loaded.tag(TagId(8)).is_none());
}

/// Tag members keep the order they were added in, even when several
/// additions fall in the same millisecond or the same commit.
pub async fn tag_members_keep_their_order(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    let users = ["u1", "u2", "u3", "u4", "u5", "u6"];
    let mut setup: Vec<DirChange> = users
        .iter()
        .map(|u| DirChange::CreateMember(Box::new(member(u, u, &[(1, 0, false)]))))
        .collect();
    setup.push(DirChange::CreateTag(tag(1, "Ordered")));
    commit_now(store.as_ref(), &a.id, &setup).await;
    // Later additions in the same commit (same timestamp) go after earlier
    // ones, whatever their userids sort like.
    let additions = vec![
        tag_add(1, &["u5", "u2"], &[]),
        tag_add(1, &["u1"], &[]),
        tag_add(1, &["u6", "u3"], &[]),
    ];
    commit_now(store.as_ref(), &a.id, &additions).await;
    let expected = applied(&applied(&base, &setup), &additions);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert_eq!(
        loaded.tag(TagId(1)).unwrap().users,
        [uid("u5"), uid("u2"), uid("u1"), uid("u6"), uid("u3")]
    );
}

/// Renaming a member's userid moves every reference to them (memberships,
/// tags, reports' direct leader, administrator scopes, app ranges,
/// visibility and field rules), and the old userid stays attributable.
pub async fn renaming_a_member_moves_every_reference(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    let bob = member("bob", "Bob", &[(2, 3, true)]);
    let mut carol = member("carol", "Carol", &[(2, 1, false)]);
    carol.direct_leader = vec![uid("bob")];
    let setup = vec![
        DirChange::CreateDept(dept(2, 1, "Sales", 0)),
        DirChange::CreateMember(Box::new(bob.clone())),
        DirChange::CreateMember(Box::new(carol)),
        DirChange::CreateTag(tag(1, "Team")),
        tag_add(1, &["carol", "bob"], &[]),
    ];
    commit_now(store.as_ref(), &a.id, &setup).await;
    let by_bob = Range {
        depts: vec![dept_id(2)],
        users: vec![uid("bob"), uid("carol")],
        tags: vec![],
    };
    let scoped = AdminRole::Scoped(vec![dept_id(2)]);
    let audit = |action: &str| record(&a.id, action);
    store
        .grant_admin(&a.id, &uid("bob"), &scoped, &audit("admin.grant"))
        .await
        .unwrap();
    store
        .set_app_range(&a.id, agentid, Some(&by_bob), &audit("app.range"))
        .await
        .unwrap();
    store
        .set_visibility_rule(&a.id, dept_id(2), Some(&by_bob), &audit("rule.visibility"))
        .await
        .unwrap();
    store
        .set_field_rule(
            &a.id,
            &ProtectedField::Mobile,
            Some((false, &by_bob)),
            &audit("rule.field"),
        )
        .await
        .unwrap();

    let robert = Member {
        userid: uid("robert"),
        name: "Robert".into(),
        ..bob.clone()
    };
    let rename = vec![DirChange::UpdateMember {
        before: Box::new(bob),
        after: Box::new(robert.clone()),
    }];
    commit_now(store.as_ref(), &a.id, &rename).await;

    let expected = applied(&applied(&base, &setup), &rename);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert!(loaded.member(&uid("bob")).is_none());
    assert_eq!(loaded.member(&uid("robert")).unwrap(), &robert);
    assert_eq!(
        loaded.member(&uid("carol")).unwrap().direct_leader,
        [uid("robert")],
        "a report's direct leader follows the rename"
    );
    assert_eq!(
        loaded.tag(TagId(1)).unwrap().users,
        [uid("carol"), uid("robert")],
        "the tag keeps its members' order"
    );
    assert_eq!(
        store.admin_role(&a.id, &uid("robert")).await.unwrap(),
        Some(scoped)
    );
    assert_eq!(store.admin_role(&a.id, &uid("bob")).await.unwrap(), None);
    let moved = Range {
        users: vec![uid("carol"), uid("robert")],
        ..by_bob
    };
    let range = store.app_range(&a.id, agentid).await.unwrap().unwrap();
    assert_eq!(normalized(range), moved);
    let policy = store.load_policy(&a.id).await.unwrap();
    assert_eq!(policy.visibility.len(), 1);
    assert_eq!(normalized(policy.visibility[0].audience.clone()), moved);
    assert_eq!(policy.fields.len(), 1);
    assert_eq!(normalized(policy.fields[0].readers.clone()), moved);
    assert_eq!(
        store
            .former_member_name(&a.id, &uid("bob"))
            .await
            .unwrap()
            .as_deref(),
        Some("Bob"),
        "history naming the old userid stays attributable"
    );
    assert_eq!(
        store.former_member_name(&a.id, &uid("robert")).await,
        Ok(None)
    );
}

/// A deleted member is gone from the directory, every tag and every
/// report's leaders, but their name stays on record; deleting an
/// administrator also ends their role.
pub async fn deleted_members_stay_attributable(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    let leaver = member("leaver", "离职员工", &[(1, 0, false)]);
    let mut stayer = member("stayer", "Stayer", &[(1, 0, false)]);
    stayer.direct_leader = vec![uid("leaver")];
    let setup = vec![
        DirChange::CreateMember(Box::new(leaver.clone())),
        DirChange::CreateMember(Box::new(stayer)),
        DirChange::CreateTag(tag(1, "Team")),
        tag_add(1, &["leaver", "stayer"], &[]),
    ];
    commit_now(store.as_ref(), &a.id, &setup).await;
    store
        .grant_admin(
            &a.id,
            &uid("leaver"),
            &AdminRole::Super,
            &record(&a.id, "admin.grant"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.former_member_name(&a.id, &uid("leaver")).await,
        Ok(None)
    );
    let delete = vec![DirChange::DeleteMember(Box::new(leaver))];
    commit_now(store.as_ref(), &a.id, &delete).await;
    let expected = applied(&applied(&base, &setup), &delete);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert!(loaded.member(&uid("leaver")).is_none());
    assert_eq!(loaded.tag(TagId(1)).unwrap().users, [uid("stayer")]);
    assert_leaver_gone_but_named(store.as_ref(), &a.id, &loaded).await;
    assert_eq!(store.admin_role(&a.id, &uid("leaver")).await.unwrap(), None);

    // A newcomer reusing the userid is a new person: they are nobody's
    // leader, and the former name stays on record.
    let newcomer = vec![DirChange::CreateMember(Box::new(member(
        "leaver",
        "Newcomer",
        &[(1, 0, false)],
    )))];
    commit_now(store.as_ref(), &a.id, &newcomer).await;
    let expected = applied(&expected, &newcomer);
    let loaded = assert_loads(store.as_ref(), &a.id, &expected).await;
    assert_leaver_gone_but_named(store.as_ref(), &a.id, &loaded).await;
}

/// Two writers committing on the same version: exactly one wins, the
/// other gets `Conflict` and leaves no trace.
pub async fn concurrent_commits_have_one_winner(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let (_, mut expected) = store.load_directory(&a.id).await.unwrap();
    for round in 0..8u32 {
        let version = store.directory_version(&a.id).await.unwrap();
        let audit_before = store.tail_audit(&a.id, 10_000).await.unwrap().len();
        let events_before = queued_events(store.as_ref(), &a.id, agentid).await;
        let contenders: Vec<Vec<DirChange>> = (0..2)
            .map(|side| {
                let id = i64::from(round * 2 + side + 2);
                vec![
                    DirChange::CreateDept(dept(id, 1, &format!("D{id}"), 0)),
                    DirChange::CreateMember(Box::new(member(
                        &format!("m{id}"),
                        "M",
                        &[(id, 0, false)],
                    ))),
                ]
            })
            .collect();
        let tasks: Vec<_> = contenders
            .iter()
            .cloned()
            .map(|changes| {
                let (store, corp) = (store.clone(), a.id.clone());
                tokio::spawn(async move {
                    commit_with_outbox(
                        store.as_ref(),
                        &corp,
                        version,
                        &changes,
                        &[event(agentid, "create_party")],
                    )
                    .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (side, task) in tasks.into_iter().enumerate() {
            match task.await.expect("task") {
                Ok(v) => {
                    assert_eq!(v, version + 1);
                    winners.push(side);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        expected = applied(&expected, &contenders[winners[0]]);
        assert_eq!(store.directory_version(&a.id).await.unwrap(), version + 1);
        assert_eq!(
            store.tail_audit(&a.id, 10_000).await.unwrap().len(),
            audit_before + 2,
            "round {round}: only the winner's audit records"
        );
        assert_eq!(
            queued_events(store.as_ref(), &a.id, agentid).await,
            events_before + 1,
            "round {round}: only the winner's event"
        );
        assert_loads(store.as_ref(), &a.id, &expected).await;
    }
}

/// One corp's directory never shows another's rows, and a commit for one
/// corp changes nothing of another, even with equal ids and userids.
pub async fn directories_are_isolated_per_corp(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let (_, base_a) = store.load_directory(&a.id).await.unwrap();
    let (vb, base_b) = store.load_directory(&b.id).await.unwrap();
    let in_a = vec![
        DirChange::CreateDept(dept(2, 1, "Alpha Dept", 1)),
        DirChange::CreateMember(Box::new(member("same", "In Alpha", &[(2, 0, false)]))),
        DirChange::CreateTag(tag(1, "Alpha Tag")),
        tag_add(1, &["same"], &[2]),
    ];
    commit_now(store.as_ref(), &a.id, &in_a).await;
    assert_eq!(
        store.directory_version(&b.id).await.unwrap(),
        vb,
        "a commit for A bumped B's version"
    );
    assert_loads(store.as_ref(), &b.id, &base_b).await;

    let in_b = vec![
        DirChange::CreateDept(dept(2, 1, "Beta Dept", 9)),
        DirChange::CreateMember(Box::new(member("same", "In Beta", &[(1, 0, false)]))),
        DirChange::CreateTag(tag(1, "Beta Tag")),
    ];
    commit_now(store.as_ref(), &b.id, &in_b).await;
    let expected_a = applied(&base_a, &in_a);
    let expected_b = applied(&base_b, &in_b);
    assert_loads(store.as_ref(), &a.id, &expected_a).await;
    assert_loads(store.as_ref(), &b.id, &expected_b).await;

    // Deleting and renaming in A leaves B's namesakes alone.
    let same_in_a = expected_a.member(&uid("same")).unwrap().clone();
    let admin_in_a = expected_a.member(&uid("admin")).unwrap().clone();
    let in_a_again = vec![
        DirChange::DeleteMember(Box::new(same_in_a)),
        DirChange::UpdateMember {
            before: Box::new(admin_in_a.clone()),
            after: Box::new(Member {
                userid: uid("boss"),
                ..admin_in_a
            }),
        },
        DirChange::DeleteTag(expected_a.tag(TagId(1)).unwrap().clone()),
        DirChange::DeleteDept(expected_a.dept(dept_id(2)).unwrap().clone()),
    ];
    commit_now(store.as_ref(), &a.id, &in_a_again).await;
    assert_loads(store.as_ref(), &b.id, &expected_b).await;
    assert_loads(store.as_ref(), &a.id, &applied(&expected_a, &in_a_again)).await;
    assert_eq!(
        store.admin_role(&b.id, &uid("admin")).await.unwrap(),
        Some(AdminRole::Super),
        "B's administrator is untouched by A's rename"
    );
    assert_eq!(
        store.former_member_name(&b.id, &uid("same")).await,
        Ok(None),
        "A's former member is not B's"
    );
    assert_eq!(
        store
            .former_member_name(&a.id, &uid("same"))
            .await
            .unwrap()
            .as_deref(),
        Some("In Alpha")
    );
}

/// A commit creating 5,000 members (two memberships each) at once loads
/// back whole.
pub async fn large_commit_round_trips(store: Arc<dyn Store>) {
    const MEMBERS: usize = 5_000;
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    let mut changes = vec![DirChange::CreateDept(dept(2, 1, "Bulk", 0))];
    changes.extend((0..MEMBERS).map(|i| {
        let order = u32::try_from(i).expect("small");
        DirChange::CreateMember(Box::new(member(
            &format!("bulk{i:05}"),
            &format!("成员 {i}"),
            &[(2, order, i % 100 == 0), (1, order, false)],
        )))
    }));
    changes.push(DirChange::CreateTag(tag(1, "Everyone")));
    changes.push(tag_add(1, &["bulk00000", "bulk04999"], &[2]));
    commit_now(store.as_ref(), &a.id, &changes).await;
    let loaded = assert_loads(store.as_ref(), &a.id, &applied(&base, &changes)).await;
    assert_eq!(loaded.member_count(), MEMBERS + 1);
    assert_eq!(loaded.members_of(dept_id(2), false).len(), MEMBERS);
    assert_eq!(
        loaded.member(&uid("bulk04321")).unwrap().departments[0].order,
        4321
    );
    assert_eq!(
        store.corp_size(&a.id).await.unwrap().members,
        u64::try_from(MEMBERS + 1).expect("small")
    );
}

/// Sorts a range's lists: a range is a set, stores may return it in any
/// order.
pub(crate) fn normalized(mut range: Range) -> Range {
    range.depts.sort();
    range.users.sort();
    range.tags.sort();
    range
}

/// The stayer no longer reports to the deleted "leaver", whose name stays on
/// record as a former member.
async fn assert_leaver_gone_but_named(store: &dyn Store, corp: &CorpId, loaded: &Directory) {
    assert!(
        loaded
            .member(&uid("stayer"))
            .unwrap()
            .direct_leader
            .is_empty()
    );
    assert_eq!(
        store
            .former_member_name(corp, &uid("leaver"))
            .await
            .unwrap()
            .as_deref(),
        Some("离职员工")
    );
}

/// What an import commits: department creations interleaved with member
/// creations (each new path's first member creates it), more of each than
/// one multi-row insert holds, a member whose direct leader is created
/// further on, a non-creation splitting the runs, and an event per change
/// whose order survives the batching.
pub async fn interleaved_creations_round_trip(store: Arc<dyn Store>) {
    const TEAMS: i64 = 1_000;
    const EVENTS: u32 = 600;
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (app, _) = new_app(store.as_ref(), &a.id, "HR").await;
    let (_, base) = store.load_directory(&a.id).await.unwrap();
    let mut changes = vec![DirChange::CreateDept(dept(2, 1, "Division", 0))];
    for team in 0..TEAMS {
        let id = 3 + team;
        changes.push(DirChange::CreateDept(dept(
            id,
            2,
            &format!("Team {team}"),
            0,
        )));
        let mut first = member(&format!("m{team:04}"), "成员", &[(id, 0, true)]);
        // Each team's first member reports to the next team's, created later.
        if team + 1 < TEAMS {
            first.direct_leader = vec![uid(&format!("m{:04}", team + 1))];
        }
        changes.push(DirChange::CreateMember(Box::new(first)));
        if team == TEAMS / 2 {
            // Not a creation: the runs before and after are written apart.
            let mut renamed = dept(2, 1, "Division (renamed)", 3);
            renamed.name_en.clear();
            changes.push(DirChange::UpdateDept {
                before: dept(2, 1, "Division", 0),
                after: renamed,
            });
        }
    }
    let outbox: Vec<OutboxEntry> = (0..EVENTS)
        .map(|n| OutboxEntry {
            agentid: Some(app),
            event: format!("event/{n}"),
            payload: format!("<xml>{n}</xml>"),
            destination: None,
        })
        .collect();
    let version = store.directory_version(&a.id).await.unwrap();
    commit_with_outbox(store.as_ref(), &a.id, version, &changes, &outbox)
        .await
        .expect("commit");
    let loaded = assert_loads(store.as_ref(), &a.id, &applied(&base, &changes)).await;
    assert_eq!(loaded.dept(dept_id(2)).unwrap().name, "Division (renamed)");
    assert_eq!(
        loaded.member(&uid("m0007")).unwrap().direct_leader,
        [uid("m0008")]
    );
    assert_eq!(
        loaded.members_of(dept_id(2), true).len(),
        usize::try_from(TEAMS).expect("small")
    );
    // The app's queue hands its events out in the order they were queued.
    let now = SystemClock.now_millis();
    for n in 0..EVENTS {
        let head = store.claim_due(now, 30_000, 10).await.expect("claim");
        assert_eq!(head.len(), 1, "one head per queue");
        assert_eq!(head[0].event, format!("event/{n}"));
        store
            .finish_delivery(head[0].seq, now, Ok(()))
            .await
            .expect("finish");
    }
    assert!(store.claim_due(now, 30_000, 10).await.unwrap().is_empty());
}

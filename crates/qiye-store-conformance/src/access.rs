//! Stories for the [`AccessStore`] port: app visible ranges, administrator
//! roles, visibility and field rules round-trip, can be replaced and
//! removed, write their audit records, and stay inside their corp.
//!
//! [`AccessStore`]: qiye_domain::ports::AccessStore

use std::sync::Arc;

use qiye_domain::directory::{
    AdminRole, DirChange, FieldRule, Policy, ProtectedField, Range, TagId, VisibilityRule,
};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::ports::{Store, StoreError};

use crate::directory::{commit_now, dept, dept_id, member, normalized, tag, uid};
use crate::{create, new_app, record};

/// A range naming a bit of everything; department ids chosen so that text
/// and number order differ.
fn wide_range() -> Range {
    Range {
        depts: vec![dept_id(10), dept_id(2)],
        users: vec![uid("zhangsan"), uid("lisi")],
        tags: vec![TagId(12), TagId(3)],
    }
}

/// The departments, members and tags that [`wide_range`] names.
async fn seed_targets(store: &dyn Store, corp: &CorpId) {
    commit_now(
        store,
        corp,
        &[
            DirChange::CreateDept(dept(2, 1, "Two", 0)),
            DirChange::CreateDept(dept(10, 2, "Ten", 0)),
            DirChange::CreateMember(Box::new(member("zhangsan", "张三", &[(2, 0, false)]))),
            DirChange::CreateMember(Box::new(member("lisi", "李四", &[(10, 0, true)]))),
            DirChange::CreateTag(tag(3, "Three")),
            DirChange::CreateTag(tag(12, "Twelve")),
        ],
    )
    .await;
}

/// How many audit records a corp has.
async fn audit_count(store: &dyn Store, corp: &CorpId) -> usize {
    store.tail_audit(corp, 10_000).await.expect("audit").len()
}

/// A policy with its rules and ranges in a canonical order.
fn normalized_policy(mut policy: Policy) -> Policy {
    for rule in &mut policy.visibility {
        rule.audience = normalized(std::mem::take(&mut rule.audience));
    }
    for rule in &mut policy.fields {
        rule.readers = normalized(std::mem::take(&mut rule.readers));
    }
    policy.visibility.sort_by_key(|r| r.dept);
    policy.fields.sort_by_key(|r| r.field.as_config());
    policy
}

/// An app's visible range round-trips, is replaced whole, can be emptied
/// and removed (visible to all again); every change is audited; an unknown
/// app is `NotFound`.
pub async fn app_ranges_round_trip(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    seed_targets(store.as_ref(), &a.id).await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    assert_eq!(store.app_range(&a.id, agentid).await, Ok(None));
    let audits = audit_count(store.as_ref(), &a.id).await;

    store
        .set_app_range(
            &a.id,
            agentid,
            Some(&wide_range()),
            &record(&a.id, "app.range"),
        )
        .await
        .unwrap();
    let back = store.app_range(&a.id, agentid).await.unwrap().unwrap();
    assert_eq!(normalized(back), normalized(wide_range()));

    let narrow = Range {
        depts: vec![dept_id(10)],
        users: vec![],
        tags: vec![TagId(3)],
    };
    store
        .set_app_range(&a.id, agentid, Some(&narrow), &record(&a.id, "app.range"))
        .await
        .unwrap();
    assert_eq!(
        store.app_range(&a.id, agentid).await,
        Ok(Some(narrow)),
        "a new range replaces the old one whole"
    );
    store
        .set_app_range(
            &a.id,
            agentid,
            Some(&Range::default()),
            &record(&a.id, "app.range"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.app_range(&a.id, agentid).await,
        Ok(Some(Range::default())),
        "an empty range is not the whole corp"
    );
    store
        .set_app_range(&a.id, agentid, None, &record(&a.id, "app.range"))
        .await
        .unwrap();
    assert_eq!(store.app_range(&a.id, agentid).await, Ok(None));
    assert_eq!(audit_count(store.as_ref(), &a.id).await, audits + 4);

    let ghost = AgentId::new(1_000_999).unwrap();
    assert_eq!(
        store.app_range(&a.id, ghost).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .set_app_range(
                &a.id,
                ghost,
                Some(&wide_range()),
                &record(&a.id, "app.range")
            )
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        audit_count(store.as_ref(), &a.id).await,
        audits + 4,
        "a refused change is not audited as done"
    );
}

/// Administrators: the bootstrap super admin is listed; a scoped grant
/// round-trips and a later grant replaces it; revoking removes the role and
/// revoking again is `NotFound`; only members can be granted.
pub async fn admin_roles_grant_list_revoke(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    seed_targets(store.as_ref(), &a.id).await;
    assert_eq!(
        store.list_admins(&a.id).await.unwrap(),
        [(uid("admin"), AdminRole::Super)]
    );
    let audits = audit_count(store.as_ref(), &a.id).await;
    let grant = |userid: &str, role: AdminRole| {
        let (store, corp, userid) = (store.clone(), a.id.clone(), uid(userid));
        async move {
            store
                .grant_admin(&corp, &userid, &role, &record(&corp, "admin.grant"))
                .await
        }
    };

    grant("zhangsan", AdminRole::Scoped(vec![dept_id(10), dept_id(2)]))
        .await
        .unwrap();
    grant("lisi", AdminRole::Super).await.unwrap();
    let scoped = store.admin_role(&a.id, &uid("zhangsan")).await.unwrap();
    let Some(AdminRole::Scoped(mut depts)) = scoped else {
        panic!("zhangsan should be a scoped admin: {scoped:?}");
    };
    depts.sort();
    assert_eq!(depts, [dept_id(2), dept_id(10)]);
    let mut listed = store.list_admins(&a.id).await.unwrap();
    listed.sort_by(|x, y| x.0.cmp(&y.0));
    let listed: Vec<(String, bool)> = listed
        .into_iter()
        .map(|(u, r)| (u.as_str().to_owned(), r == AdminRole::Super))
        .collect();
    assert_eq!(
        listed,
        [
            ("admin".to_owned(), true),
            ("lisi".to_owned(), true),
            ("zhangsan".to_owned(), false)
        ]
    );

    // A new grant replaces the old role, scopes included.
    grant("zhangsan", AdminRole::Super).await.unwrap();
    assert_eq!(
        store.admin_role(&a.id, &uid("zhangsan")).await,
        Ok(Some(AdminRole::Super))
    );
    grant("lisi", AdminRole::Scoped(vec![dept_id(10)]))
        .await
        .unwrap();
    assert_eq!(
        store.admin_role(&a.id, &uid("lisi")).await,
        Ok(Some(AdminRole::Scoped(vec![dept_id(10)])))
    );

    store
        .revoke_admin(&a.id, &uid("lisi"), &record(&a.id, "admin.revoke"))
        .await
        .unwrap();
    assert_eq!(store.admin_role(&a.id, &uid("lisi")).await, Ok(None));
    assert_eq!(
        store
            .revoke_admin(&a.id, &uid("lisi"), &record(&a.id, "admin.revoke"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(audit_count(store.as_ref(), &a.id).await, audits + 5);

    assert_eq!(
        grant("nobody", AdminRole::Super).await,
        Err(StoreError::NotFound),
        "only members can be administrators"
    );
    assert_eq!(store.admin_role(&a.id, &uid("nobody")).await, Ok(None));
    assert_eq!(audit_count(store.as_ref(), &a.id).await, audits + 5);
    let admins: Vec<String> = store
        .list_admins(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|(u, _)| u.as_str().to_owned())
        .collect();
    assert_eq!(admins.len(), 2);
    assert!(admins.contains(&"admin".to_owned()) && admins.contains(&"zhangsan".to_owned()));
}

/// Visibility rules (with an audience, or an empty one) and field rules
/// (admins or not, with readers) round-trip, are replaced whole and can be
/// removed; deleting a hidden department drops its rule.
pub async fn policy_rules_round_trip(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    seed_targets(store.as_ref(), &a.id).await;
    assert_eq!(store.load_policy(&a.id).await, Ok(Policy::default()));
    let audits = audit_count(store.as_ref(), &a.id).await;
    let staff = ProtectedField::ExtAttr("工号".into());
    let set_visibility = |dept: i64, audience: Option<Range>| {
        let (store, corp) = (store.clone(), a.id.clone());
        async move {
            store
                .set_visibility_rule(
                    &corp,
                    dept_id(dept),
                    audience.as_ref(),
                    &record(&corp, "rule.visibility"),
                )
                .await
                .unwrap();
        }
    };
    let set_field = |field: ProtectedField, readers: Option<(bool, Range)>| {
        let (store, corp) = (store.clone(), a.id.clone());
        async move {
            store
                .set_field_rule(
                    &corp,
                    &field,
                    readers.as_ref().map(|(admins, range)| (*admins, range)),
                    &record(&corp, "rule.field"),
                )
                .await
                .unwrap();
        }
    };

    set_visibility(10, Some(wide_range())).await;
    set_visibility(2, Some(Range::default())).await;
    set_field(ProtectedField::Mobile, Some((true, wide_range()))).await;
    set_field(staff.clone(), Some((false, Range::default()))).await;
    let expected = Policy {
        visibility: vec![
            VisibilityRule {
                dept: dept_id(2),
                audience: Range::default(),
            },
            VisibilityRule {
                dept: dept_id(10),
                audience: normalized(wide_range()),
            },
        ],
        fields: vec![
            FieldRule {
                field: staff.clone(),
                admins: false,
                readers: Range::default(),
            },
            FieldRule {
                field: ProtectedField::Mobile,
                admins: true,
                readers: normalized(wide_range()),
            },
        ],
    };
    let loaded = normalized_policy(store.load_policy(&a.id).await.unwrap());
    assert_eq!(loaded, normalized_policy(expected.clone()));

    // Replacing a rule replaces its whole audience.
    let only_lisi = Range {
        users: vec![uid("lisi")],
        ..Range::default()
    };
    set_visibility(10, Some(only_lisi.clone())).await;
    set_field(ProtectedField::Mobile, Some((false, only_lisi.clone()))).await;
    let policy = store.load_policy(&a.id).await.unwrap();
    let ten = policy.visibility.iter().find(|r| r.dept == dept_id(10));
    assert_eq!(ten.map(|r| &r.audience), Some(&only_lisi));
    let mobile = policy
        .fields
        .iter()
        .find(|r| r.field == ProtectedField::Mobile);
    assert_eq!(
        mobile.map(|r| (r.admins, &r.readers)),
        Some((false, &only_lisi))
    );

    // Removal, explicitly or with the department.
    set_field(ProtectedField::Mobile, None).await;
    set_field(staff, None).await;
    set_visibility(2, None).await;
    let (_, dir) = store.load_directory(&a.id).await.unwrap();
    let ten = dir.dept(dept_id(10)).unwrap().clone();
    let lisi = dir.member(&uid("lisi")).unwrap().clone();
    commit_now(
        store.as_ref(),
        &a.id,
        &[
            DirChange::DeleteMember(Box::new(lisi)),
            DirChange::DeleteDept(ten),
        ],
    )
    .await;
    assert_eq!(store.load_policy(&a.id).await, Ok(Policy::default()));
    // Nine rule changes and the two directory changes.
    assert_eq!(audit_count(store.as_ref(), &a.id).await, audits + 11);
}

/// Ranges, roles and rules of one corp are invisible to and untouched by
/// another, even for the same agent ids, userids and department ids.
pub async fn access_rules_are_isolated_per_corp(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    seed_targets(store.as_ref(), &a.id).await;
    seed_targets(store.as_ref(), &b.id).await;
    let (app_a, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let (app_b, _) = new_app(store.as_ref(), &b.id, "OA").await;
    assert_eq!(app_a, app_b, "agent ids are numbered per corp");
    let in_a = |action: &str| record(&a.id, action);

    store
        .set_app_range(&a.id, app_a, Some(&wide_range()), &in_a("app.range"))
        .await
        .unwrap();
    store
        .grant_admin(
            &a.id,
            &uid("zhangsan"),
            &AdminRole::Scoped(vec![dept_id(2)]),
            &in_a("admin.grant"),
        )
        .await
        .unwrap();
    store
        .set_visibility_rule(&a.id, dept_id(2), Some(&wide_range()), &in_a("rule"))
        .await
        .unwrap();
    store
        .set_field_rule(
            &a.id,
            &ProtectedField::Email,
            Some((true, &wide_range())),
            &in_a("rule"),
        )
        .await
        .unwrap();

    assert_eq!(store.app_range(&b.id, app_b).await, Ok(None));
    assert_eq!(store.admin_role(&b.id, &uid("zhangsan")).await, Ok(None));
    assert_eq!(
        store.list_admins(&b.id).await,
        Ok(vec![(uid("admin"), AdminRole::Super)])
    );
    assert_eq!(store.load_policy(&b.id).await, Ok(Policy::default()));
    // Revoking or clearing in B does not reach A's rows.
    assert_eq!(
        store
            .revoke_admin(&b.id, &uid("zhangsan"), &record(&b.id, "admin.revoke"))
            .await,
        Err(StoreError::NotFound)
    );
    store
        .set_visibility_rule(&b.id, dept_id(2), None, &record(&b.id, "rule"))
        .await
        .unwrap();
    store
        .set_field_rule(&b.id, &ProtectedField::Email, None, &record(&b.id, "rule"))
        .await
        .unwrap();
    store
        .set_app_range(&b.id, app_b, None, &record(&b.id, "app.range"))
        .await
        .unwrap();
    assert_eq!(
        store.admin_role(&a.id, &uid("zhangsan")).await,
        Ok(Some(AdminRole::Scoped(vec![dept_id(2)])))
    );
    let policy = store.load_policy(&a.id).await.unwrap();
    assert_eq!(
        (policy.visibility.len(), policy.fields.len()),
        (1, 1),
        "B's removals reached A's rules"
    );
    let range = store.app_range(&a.id, app_a).await.unwrap().unwrap();
    assert_eq!(normalized(range), normalized(wide_range()));

    // An unknown corp has no apps to range.
    let ghost = CorpId::generate();
    assert_eq!(
        store.app_range(&ghost, app_a).await,
        Err(StoreError::NotFound)
    );
}

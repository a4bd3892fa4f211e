//! The storage conformance suite: stories that any [`Store`] must pass, run
//! against SQLite always and against PostgreSQL when `QIYE_TEST_PG_URL` is
//! set (each run in a fresh database). A store crate runs them with
//! [`conformance_tests!`], giving an expression that evaluates to a fresh
//! store and a guard that cleans it up when dropped.

use std::sync::Arc;

mod access;
mod approvals;
mod directory;
mod escalations;
mod jobs;
mod messages;

pub use access::*;
pub use approvals::*;
pub use directory::*;
pub use escalations::*;
pub use jobs::*;
pub use messages::*;

use qiye_domain::app::{AppName, AppSettingsChange, NewApp};
use qiye_domain::audit::{Actor, AuditRecord, Outcome};
use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::corp::{Corp, CorpName, CorpSize};
use qiye_domain::credential::{CredentialKind, Principal};
use qiye_domain::directory::NewAdminMember;
use qiye_domain::ids::{AgentId, CorpId, UserId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::{CorpBootstrap, Store, StoreError};
use qiye_domain::rate::{CorpRateOverride, RateQuota};
use qiye_domain::secret::{PasswordHash, Secret, TokenString};
use qiye_domain::token::{IssuedToken, TOKEN_LIFETIME_SECS};

/// Generates one `#[tokio::test]` per story, each on a fresh store: `$open`
/// is an expression yielding `Option<(Arc<dyn Store>, guard)>`, `None` when
/// the backend is not available outside CI.
#[macro_export]
macro_rules! conformance_tests {
    ($open:expr) => {
        $crate::conformance_tests!(@each $open;
            corps_are_created_listed_and_unique,
            corp_creation_is_atomic,
            only_one_first_corp_is_created,
            corp_size_counts_the_bootstrap,
            plan_and_rate_override_round_trip,
            apps_are_numbered_per_corp_and_isolated,
            app_settings_update_persists,
            concurrent_app_updates_keep_both_changes,
            credentials_are_found_only_in_their_corp,
            tokens_are_reused_until_expiry,
            concurrent_issuers_get_one_token,
            rotation_revokes_tokens,
            audit_is_ordered_and_per_corp,
            mutations_write_their_audit_record,
            directory_commit_is_versioned,
            directory_round_trips_every_field,
            tag_members_keep_their_order,
            renaming_a_member_moves_every_reference,
            deleted_members_stay_attributable,
            concurrent_commits_have_one_winner,
            directories_are_isolated_per_corp,
            large_commit_round_trips,
            interleaved_creations_round_trip,
            app_ranges_round_trip,
            admin_roles_grant_list_revoke,
            policy_rules_round_trip,
            access_rules_are_isolated_per_corp,
            outbox_delivers_each_queue_in_order,
            jobs_are_claimed_once_per_lease,
            media_expire_and_stay_in_their_corp,
            sequences_are_gap_free_under_concurrency,
            pair_conversations_open_once,
            cursors_move_forward_and_count_unread,
            control_entries_take_effect,
            conversations_are_isolated_per_corp,
            duplicate_check_and_delivery_statistics,
            urgent_messages_escalate_until_read,
            escalations_are_claimed_once_per_lease,
            escalations_are_isolated_per_corp,
            approval_templates_are_versioned,
            approval_numbers_never_repeat,
            approval_events_have_one_writer,
            approval_timers_fire_once,
            approval_lists_page_and_stay_in_their_corp
        );
    };
    (@each $open:expr; $($story:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                // `None`: the backend is not configured here (only allowed outside CI).
                let Some((store, _guard)) = $open else { return };
                $crate::$story(store).await;
            }
        )*
    };
}

/// A fresh corp, as `qiye corp create` would build it.
pub fn sample_corp(name: &str, plan: Plan) -> (CorpBootstrap, Secret) {
    let secret = Secret::generate();
    let bootstrap = CorpBootstrap {
        corp: Corp {
            id: CorpId::generate(),
            name: CorpName::parse(name).expect("valid name"),
            plan,
            rate_override: CorpRateOverride::default(),
            created_at: SystemClock.now_millis(),
            require_2fa: false,
            watermark: false,
        },
        contact_secret: secret.digest(),
        admin: NewAdminMember {
            userid: UserId::parse("admin").expect("valid userid"),
            name: "Administrator".into(),
            password_hash: PasswordHash(
                "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            ),
        },
    };
    (bootstrap, secret)
}

/// An audit record for a test action.
pub fn record(corp: &CorpId, action: &str) -> AuditRecord {
    AuditRecord {
        at: SystemClock.now_millis(),
        corp_id: corp.clone(),
        actor: Actor::Cli("tester".into()),
        client_ip: Some("127.0.0.1".parse().expect("ip")),
        action: action.into(),
        target: format!("corp:{corp}"),
        outcome: Outcome::Succeeded,
    }
}

/// Creates one corp (with its audit record) and returns its id: the setup of
/// store-specific tests.
pub async fn seed_corp(store: &dyn Store) -> CorpId {
    create(store, "Seed").await.0.id
}

pub(crate) async fn create(store: &dyn Store, name: &str) -> (Corp, Secret) {
    let (b, secret) = sample_corp(name, Plan::Professional);
    store
        .create_corp(&b, &record(&b.corp.id, "corp.create"))
        .await
        .expect("create corp");
    (b.corp, secret)
}

pub(crate) async fn new_app(store: &dyn Store, corp: &CorpId, name: &str) -> (AgentId, Secret) {
    let secret = Secret::generate();
    let app = NewApp {
        corp_id: corp.clone(),
        name: AppName::parse(name).expect("name"),
        all_visible: true,
        created_at: SystemClock.now_millis(),
    };
    let created = store
        .create_app(&app, &secret.digest(), &record(corp, "app.create"))
        .await
        .expect("create app");
    (created.agentid, secret)
}

/// Corps can be created, read back, listed and counted; ids are unique.
pub async fn corps_are_created_listed_and_unique(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta 公司").await;
    assert_eq!(store.get_corp(&a.id).await.unwrap(), a);
    assert_eq!(
        store.get_corp(&b.id).await.unwrap().name.as_str(),
        "Beta 公司"
    );
    let ids: Vec<CorpId> = store
        .list_corps()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(ids.contains(&a.id) && ids.contains(&b.id));
    assert_eq!(store.count_corps().await.unwrap(), 2);
    assert_eq!(
        store.get_corp(&CorpId::generate()).await,
        Err(StoreError::NotFound)
    );
}

/// A corp whose id is taken is refused as a whole: nothing of it is written.
pub async fn corp_creation_is_atomic(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let audit_before = store.tail_audit(&a.id, 100).await.unwrap().len();
    let (mut again, _) = sample_corp("Impostor", Plan::Basic);
    again.corp.id = a.id.clone();
    let err = store
        .create_corp(&again, &record(&a.id, "corp.create"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_corp(&a.id).await.unwrap().name.as_str(), "Alpha");
    assert_eq!(
        store.tail_audit(&a.id, 100).await.unwrap().len(),
        audit_before
    );
    assert_eq!(store.count_corps().await.unwrap(), 1);
}

/// Servers starting together on an empty database create one first corp.
pub async fn only_one_first_corp_is_created(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (b, _) = sample_corp(&format!("First {i}"), Plan::Flagship);
            store
                .create_first_corp(&b, &record(&b.corp.id, "corp.create"))
                .await
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += usize::from(t.await.expect("task").expect("bootstrap"));
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_corps().await.unwrap(), 1);
    let (later, _) = sample_corp("Later", Plan::Basic);
    assert!(
        !store
            .create_first_corp(&later, &record(&later.corp.id, "corp.create"))
            .await
            .unwrap()
    );
}

/// A new corp has its administrator and its root department.
pub async fn corp_size_counts_the_bootstrap(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    assert_eq!(
        store.corp_size(&a.id).await.unwrap(),
        CorpSize {
            members: 1,
            deepest_department: 1
        }
    );
    assert_eq!(
        store.corp_size(&CorpId::generate()).await,
        Err(StoreError::NotFound)
    );
}

/// Plan and rate-limit override changes persist; unknown corps are `NotFound`.
pub async fn plan_and_rate_override_round_trip(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    store
        .set_plan(&a.id, Plan::Flagship, &record(&a.id, "corp.set_plan"))
        .await
        .unwrap();
    let limits = CorpRateOverride {
        corp_per_api: Some(RateQuota::new(50_000, 900_000).unwrap()),
        app_per_api: Some(RateQuota::new(5, 100).unwrap()),
    };
    store
        .set_rate_override(&a.id, &limits, &record(&a.id, "corp.set_limits"))
        .await
        .unwrap();
    let back = store.get_corp(&a.id).await.unwrap();
    assert_eq!(back.plan, Plan::Flagship);
    assert_eq!(back.rate_override, limits);
    store
        .set_rate_override(
            &a.id,
            &CorpRateOverride::default(),
            &record(&a.id, "corp.set_limits"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_corp(&a.id).await.unwrap().rate_override,
        CorpRateOverride::default()
    );
    let ghost = CorpId::generate();
    assert_eq!(
        store
            .set_plan(&ghost, Plan::Basic, &record(&ghost, "corp.set_plan"))
            .await,
        Err(StoreError::NotFound)
    );
}

/// Agent ids count from 1000002 in each corp; one corp never sees another's apps.
pub async fn apps_are_numbered_per_corp_and_isolated(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let (a1, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let (a2, _) = new_app(store.as_ref(), &a.id, "CRM").await;
    let (b1, _) = new_app(store.as_ref(), &b.id, "HR").await;
    assert_eq!(
        (a1.get(), a2.get(), b1.get()),
        (1_000_002, 1_000_003, 1_000_002)
    );
    assert_eq!(store.get_app(&a.id, a2).await.unwrap().name.as_str(), "CRM");
    assert_eq!(store.get_app(&b.id, b1).await.unwrap().name.as_str(), "HR");
    assert_eq!(store.get_app(&b.id, a2).await, Err(StoreError::NotFound));
    let names: Vec<String> = store
        .list_apps(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["OA", "CRM"]);
    let ghost = CorpId::generate();
    let app = NewApp {
        corp_id: ghost.clone(),
        name: AppName::parse("X").unwrap(),
        all_visible: false,
        created_at: 0,
    };
    let err = store
        .create_app(
            &app,
            &Secret::generate().digest(),
            &record(&ghost, "app.create"),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);
}

/// `agent/set` changes persist, and only in the app's own corp.
pub async fn app_settings_update_persists(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    let change = AppSettingsChange {
        name: Some(AppName::parse("OA 2").unwrap()),
        description: Some("Approvals and more".into()),
        report_enter: Some(true),
        ..Default::default()
    };
    let updated = store
        .update_app(&a.id, agentid, &change, &record(&a.id, "agent.set"))
        .await
        .unwrap();
    assert_eq!(updated.name.as_str(), "OA 2");
    let back = store.get_app(&a.id, agentid).await.unwrap();
    assert_eq!(back, updated);
    assert!(back.report_enter && !back.report_location);
    let err = store
        .update_app(&b.id, agentid, &change, &record(&b.id, "agent.set"))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);
}

/// Two simultaneous `agent/set` calls changing different fields both stick
/// (each update locks the row it read).
pub async fn concurrent_app_updates_keep_both_changes(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    for round in 0..10 {
        let description = format!("round {round} text");
        let location = round % 2 == 0;
        let by_description = AppSettingsChange {
            description: Some(description.clone()),
            ..Default::default()
        };
        let by_flag = AppSettingsChange {
            report_location: Some(location),
            ..Default::default()
        };
        let (s1, s2) = (store.clone(), store.clone());
        let (c1, c2) = (a.id.clone(), a.id.clone());
        let t1 = tokio::spawn(async move {
            s1.update_app(&c1, agentid, &by_description, &record(&c1, "agent.set"))
                .await
        });
        let t2 = tokio::spawn(async move {
            s2.update_app(&c2, agentid, &by_flag, &record(&c2, "agent.set"))
                .await
        });
        t1.await.expect("task").expect("update");
        t2.await.expect("task").expect("update");
        let back = store.get_app(&a.id, agentid).await.unwrap();
        assert_eq!(
            back.description, description,
            "round {round}: a concurrent update was lost"
        );
        assert_eq!(
            back.report_location, location,
            "round {round}: a concurrent update was lost"
        );
    }
}

/// A secret identifies its credential only within its own corp.
pub async fn credentials_are_found_only_in_their_corp(store: Arc<dyn Store>) {
    let (a, a_secret) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let (agentid, app_secret) = new_app(store.as_ref(), &a.id, "OA").await;
    assert_eq!(
        store
            .find_credential(&a.id, &a_secret.digest())
            .await
            .unwrap(),
        Some(CredentialKind::ContactSync)
    );
    assert_eq!(
        store
            .find_credential(&a.id, &app_secret.digest())
            .await
            .unwrap(),
        Some(CredentialKind::App(agentid))
    );
    assert_eq!(
        store
            .find_credential(&b.id, &a_secret.digest())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_credential(&a.id, &Secret::generate().digest())
            .await
            .unwrap(),
        None
    );
}

/// The same token comes back while valid; a new one after expiry; expired
/// tokens are still found (so they can be told apart from unknown ones).
pub async fn tokens_are_reused_until_expiry(store: Arc<dyn Store>) {
    let (a, secret) = create(store.as_ref(), "Alpha").await;
    let digest = secret.digest();
    let principal = Principal {
        corp_id: a.id.clone(),
        credential: CredentialKind::ContactSync,
    };
    let now = SystemClock.now_secs();
    let first = store
        .issue_token(&IssuedToken::fresh(principal.clone(), now), &digest, now)
        .await
        .unwrap();
    let again = store
        .issue_token(
            &IssuedToken::fresh(principal.clone(), now + 10),
            &digest,
            now + 10,
        )
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        store.find_token(&first.token).await.unwrap(),
        Some(first.clone())
    );
    let later = now + TOKEN_LIFETIME_SECS;
    let second = store
        .issue_token(
            &IssuedToken::fresh(principal.clone(), later),
            &digest,
            later,
        )
        .await
        .unwrap();
    assert_ne!(second.token, first.token);
    assert_eq!(
        store.find_token(&first.token).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.find_token(&TokenString::generate()).await.unwrap(),
        None
    );
    assert_eq!(store.prune_tokens(first.expires_at + 1).await.unwrap(), 1);
    assert_eq!(store.find_token(&first.token).await.unwrap(), None);
    assert_eq!(store.tokens_of(&principal).await.unwrap(), vec![second]);
}

/// Many simultaneous `gettoken` calls all get one and the same token.
pub async fn concurrent_issuers_get_one_token(store: Arc<dyn Store>) {
    let (a, secret) = create(store.as_ref(), "Alpha").await;
    let digest = secret.digest();
    let principal = Principal {
        corp_id: a.id.clone(),
        credential: CredentialKind::ContactSync,
    };
    let now = SystemClock.now_secs();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        let principal = principal.clone();
        let digest = digest.clone();
        tasks.push(tokio::spawn(async move {
            store
                .issue_token(&IssuedToken::fresh(principal, now), &digest, now)
                .await
        }));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.expect("task").expect("issue").token);
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "concurrent issuers got different tokens");
    assert_eq!(store.tokens_of(&principal).await.unwrap().len(), 1);
}

/// Rotating a secret replaces it and revokes its tokens, and only its own.
pub async fn rotation_revokes_tokens(store: Arc<dyn Store>) {
    let (a, old) = create(store.as_ref(), "Alpha").await;
    let (agentid, app_secret) = new_app(store.as_ref(), &a.id, "OA").await;
    let now = SystemClock.now_secs();
    let contact = Principal {
        corp_id: a.id.clone(),
        credential: CredentialKind::ContactSync,
    };
    let app = Principal {
        corp_id: a.id.clone(),
        credential: CredentialKind::App(agentid),
    };
    let contact_token = store
        .issue_token(
            &IssuedToken::fresh(contact.clone(), now),
            &old.digest(),
            now,
        )
        .await
        .unwrap();
    let app_token = store
        .issue_token(&IssuedToken::fresh(app, now), &app_secret.digest(), now)
        .await
        .unwrap();
    let new = Secret::generate();
    store
        .rotate_secret(
            &a.id,
            CredentialKind::ContactSync,
            &new.digest(),
            &record(&a.id, "secret.rotate"),
        )
        .await
        .unwrap();
    // A caller that checked the old secret just before the rotation cannot
    // obtain a token with it afterwards.
    let stale = store
        .issue_token(
            &IssuedToken::fresh(contact.clone(), now),
            &old.digest(),
            now,
        )
        .await;
    assert_eq!(stale, Err(StoreError::NotFound));
    assert_eq!(
        store.find_credential(&a.id, &old.digest()).await.unwrap(),
        None
    );
    assert_eq!(
        store.find_credential(&a.id, &new.digest()).await.unwrap(),
        Some(CredentialKind::ContactSync)
    );
    assert_eq!(store.find_token(&contact_token.token).await.unwrap(), None);
    assert_eq!(
        store.find_token(&app_token.token).await.unwrap(),
        Some(app_token)
    );
    assert_eq!(
        store
            .find_credential(&a.id, &app_secret.digest())
            .await
            .unwrap(),
        Some(CredentialKind::App(agentid))
    );
    let err = store
        .rotate_secret(
            &a.id,
            CredentialKind::App(AgentId::new(42).unwrap()),
            &new.digest(),
            &record(&a.id, "x"),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);
}

/// The audit tail is in append order, limited, and per corp.
pub async fn audit_is_ordered_and_per_corp(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    for i in 0..5 {
        let mut r = record(&a.id, &format!("test.step{i}"));
        r.outcome = if i % 2 == 0 {
            Outcome::Succeeded
        } else {
            Outcome::Failed("errcode 40058".into())
        };
        r.client_ip = if i == 4 { None } else { r.client_ip };
        store.append_audit(&r).await.unwrap();
    }
    let tail = store.tail_audit(&a.id, 3).await.unwrap();
    let actions: Vec<&str> = tail.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["test.step2", "test.step3", "test.step4"]);
    assert!(tail.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        tail[1].record.outcome,
        Outcome::Failed("errcode 40058".into())
    );
    assert_eq!(tail[2].record.client_ip, None);
    let b_actions: Vec<String> = store
        .tail_audit(&b.id, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.action)
        .collect();
    assert_eq!(b_actions, ["corp.create"]);
}

/// Every mutation leaves its audit record.
pub async fn mutations_write_their_audit_record(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (agentid, _) = new_app(store.as_ref(), &a.id, "OA").await;
    store
        .set_plan(&a.id, Plan::Basic, &record(&a.id, "corp.set_plan"))
        .await
        .unwrap();
    store
        .update_app(
            &a.id,
            agentid,
            &AppSettingsChange {
                report_location: Some(true),
                ..Default::default()
            },
            &record(&a.id, "agent.set"),
        )
        .await
        .unwrap();
    store
        .rotate_secret(
            &a.id,
            CredentialKind::App(agentid),
            &Secret::generate().digest(),
            &record(&a.id, "secret.rotate"),
        )
        .await
        .unwrap();
    let tail = store.tail_audit(&a.id, 100).await.unwrap();
    let actions: Vec<&str> = tail.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "corp.create",
            "app.create",
            "corp.set_plan",
            "agent.set",
            "secret.rotate"
        ]
    );
    assert_eq!(tail[1].record.target, format!("agent:{agentid}"));
    assert_eq!(tail[0].record.actor, Actor::Cli("tester".into()));
}

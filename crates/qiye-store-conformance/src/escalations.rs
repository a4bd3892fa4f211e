//! Stories for the [`EscalationStore`]: urgent messages get one row per
//! recipient in the transaction that commits them, reading acknowledges,
//! due rows are claimed once per lease (also by concurrent claimers), a
//! finished row keeps a concurrent acknowledgement, and corps are isolated.
//!
//! [`EscalationStore`]: qiye_domain::ports::EscalationStore

use std::sync::Arc;

use qiye_domain::escalation::{EscalationPolicy, EscalationState, EscalationUpdate};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::message::{
    Content, ConvId, ConvKind, Draft, EntryBody, MsgId, MsgKind, NewConversation, Priority, Sender,
};
use qiye_domain::ports::{Store, StoreError};

use crate::{create, record};

const T0: i64 = 1_800_000_000_000;

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("userid")
}

fn urgent(corp: &CorpId, conv: &ConvId, from: &str, priority: Priority, at: i64) -> Draft {
    Draft {
        corp: corp.clone(),
        conv: conv.clone(),
        msgid: MsgId::generate(),
        sender: Sender::Member(user(from)),
        kind: MsgKind::Chat,
        priority,
        body: EntryBody::Message(Content {
            msgtype: "text".into(),
            body: r#"{"content":"fire"}"#.into(),
            preview: "fire".into(),
            media: vec![],
            mentions: vec![],
            card: None,
        }),
        at,
    }
}

async fn group(store: &dyn Store, corp: &CorpId) -> ConvId {
    let id = ConvId::generate();
    let conv = NewConversation::group(
        id.clone(),
        ConvKind::Group,
        "ops",
        user("alice"),
        vec![user("bob"), user("carol")],
    )
    .expect("group");
    store
        .create_conversation(corp, &conv, T0)
        .await
        .expect("create group");
    id
}

/// An urgent message gets a pending row for every member but its sender,
/// first due after the corp's first delay; a normal one gets none; reading
/// past it acknowledges the reader's row only; the policy round-trips.
pub async fn urgent_messages_escalate_until_read(store: Arc<dyn Store>) {
    let corp = create(&*store, "Urgent").await.0.id;
    let conv = group(&*store, &corp).await;
    assert_eq!(store.escalation_policy(&corp).await.expect("policy"), None);
    let seqs = store
        .append(&[
            urgent(&corp, &conv, "alice", Priority::Normal, T0),
            urgent(&corp, &conv, "alice", Priority::Urgent, T0),
        ])
        .await
        .expect("append");
    assert!(
        store
            .escalations_of(&corp, &conv, seqs[0])
            .await
            .expect("rows")
            .is_empty()
    );
    let rows = store
        .escalations_of(&corp, &conv, seqs[1])
        .await
        .expect("rows");
    let who: Vec<&str> = rows.iter().map(|r| r.userid.as_str()).collect();
    assert_eq!(who, ["bob", "carol"]);
    for r in &rows {
        assert_eq!(r.state, EscalationState::Pending);
        assert_eq!(r.next_at, T0 + 300_000);
        assert_eq!((r.attempts, r.sent_at, r.read_seq), (0, T0, Some(0)));
    }
    store
        .advance_cursor(&corp, &conv, &user("bob"), seqs[1], T0 + 1)
        .await
        .expect("read");
    let rows = store
        .escalations_of(&corp, &conv, seqs[1])
        .await
        .expect("rows");
    assert_eq!(rows[0].state, EscalationState::Acknowledged);
    assert_eq!(rows[0].read_seq, Some(seqs[1]));
    assert_eq!(rows[1].state, EscalationState::Pending);

    let policy = EscalationPolicy {
        first_after_secs: 60,
        repeat_every_secs: 600,
        max_attempts: 2,
        email: false,
        sms: true,
    };
    store
        .set_escalation_policy(&corp, &policy, T0, &record(&corp, "escalation.set_policy"))
        .await
        .expect("set policy");
    assert_eq!(
        store.escalation_policy(&corp).await.expect("policy"),
        Some(policy)
    );
    let later = store
        .append(&[urgent(&corp, &conv, "bob", Priority::Urgent, T0 + 5)])
        .await
        .expect("append");
    let rows = store
        .escalations_of(&corp, &conv, later[0])
        .await
        .expect("rows");
    let who: Vec<&str> = rows.iter().map(|r| r.userid.as_str()).collect();
    assert_eq!(who, ["alice", "carol"], "the sender is left out");
    assert!(rows.iter().all(|r| r.next_at == T0 + 5 + 60_000));
    let audit = store.tail_audit(&corp, 1).await.expect("audit");
    assert_eq!(audit[0].record.action, "escalation.set_policy");
}

/// Due rows are claimed once per lease, also by concurrent claimers; a
/// finished row is written back, but an acknowledgement that came in
/// meanwhile stays.
pub async fn escalations_are_claimed_once_per_lease(store: Arc<dyn Store>) {
    let corp = create(&*store, "Claims").await.0.id;
    let conv = group(&*store, &corp).await;
    let drafts: Vec<Draft> = (0..5)
        .map(|i| urgent(&corp, &conv, "alice", Priority::Urgent, T0 + i))
        .collect();
    let seqs = store.append(&drafts).await.expect("append");
    let due = T0 + 300_000 + 10;
    assert!(
        store
            .claim_escalations(due - 11, 60_000, 100)
            .await
            .expect("early")
            .is_empty(),
        "nothing is due before the first delay"
    );
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                match store.claim_escalations(due, 60_000, 3).await {
                    Ok(rows) => break rows,
                    Err(StoreError::Unavailable(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("claim: {e}"),
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.expect("claimer"));
    }
    let mut keys: Vec<(u64, String)> = claimed
        .iter()
        .map(|r| (r.seq, r.userid.as_str().to_owned()))
        .collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "no row is claimed twice");
    let mut rest = store
        .claim_escalations(due, 60_000, 100)
        .await
        .expect("rest");
    assert_eq!(keys.len() + rest.len(), 10, "every row once");
    claimed.append(&mut rest);
    assert!(
        store
            .claim_escalations(due, 60_000, 100)
            .await
            .expect("leased")
            .is_empty()
    );
    let first = claimed
        .iter()
        .find(|r| r.seq == seqs[0] && r.userid.as_str() == "bob")
        .expect("bob's first")
        .clone();
    let update = EscalationUpdate {
        attempts: 1,
        failures: 0,
        next_at: due + 1_800_000,
        state: EscalationState::Pending,
        last_error: Some("smtp down".into()),
    };
    assert!(
        store
            .finish_escalation(&first, &update, due)
            .await
            .expect("finish")
    );
    let again = store
        .claim_escalations(due + 60_001, 60_000, 100)
        .await
        .expect("after the lease");
    assert_eq!(
        again.len(),
        9,
        "the others' leases lapsed; bob's first is not due"
    );
    let row = store
        .escalations_of(&corp, &conv, seqs[0])
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.userid.as_str() == "bob")
        .expect("bob");
    assert_eq!((row.attempts, row.next_at), (1, due + 1_800_000));
    assert_eq!(row.last_error.as_deref(), Some("smtp down"));
    let carol = again
        .iter()
        .find(|r| r.seq == seqs[1] && r.userid.as_str() == "carol")
        .expect("carol's second")
        .clone();
    assert_eq!(
        store
            .acknowledge_escalation(&corp, &conv, seqs[1], &user("carol"), due)
            .await
            .expect("ack"),
        1
    );
    assert!(
        !store
            .finish_escalation(&carol, &update, due)
            .await
            .expect("finish"),
        "an acknowledged row stays acknowledged"
    );
    let row = store
        .escalations_of(&corp, &conv, seqs[1])
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.userid.as_str() == "carol")
        .expect("carol");
    assert_eq!(row.state, EscalationState::Acknowledged);
}

/// Another corp reads no rows, acknowledges none and its policy is its own;
/// a policy for a corp that does not exist is `NotFound`.
pub async fn escalations_are_isolated_per_corp(store: Arc<dyn Store>) {
    let a = create(&*store, "Alpha").await.0.id;
    let b = create(&*store, "Beta").await.0.id;
    let conv = group(&*store, &a).await;
    let seqs = store
        .append(&[urgent(&a, &conv, "alice", Priority::Urgent, T0)])
        .await
        .expect("append");
    assert!(
        store
            .escalations_of(&b, &conv, seqs[0])
            .await
            .expect("rows")
            .is_empty()
    );
    assert_eq!(
        store
            .acknowledge_escalation(&b, &conv, seqs[0], &user("bob"), T0)
            .await
            .expect("ack"),
        0
    );
    let policy = EscalationPolicy {
        max_attempts: 5,
        ..EscalationPolicy::default()
    };
    store
        .set_escalation_policy(&b, &policy, T0, &record(&b, "escalation.set_policy"))
        .await
        .expect("set");
    assert_eq!(store.escalation_policy(&a).await.expect("a"), None);
    let ghost = CorpId::generate();
    assert_eq!(
        store
            .set_escalation_policy(&ghost, &policy, T0, &record(&ghost, "x"))
            .await,
        Err(StoreError::NotFound)
    );
    let rows = store
        .escalations_of(&a, &conv, seqs[0])
        .await
        .expect("rows");
    assert!(
        rows.iter()
            .all(|r| r.state == EscalationState::Pending && r.corp == a)
    );
}

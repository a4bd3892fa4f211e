//! Stories for the [`CallbackStore`] outbox and the [`JobStore`]: events are
//! claimed head-first per queue under a lease, keep their own destination,
//! and are retried after a failure; jobs are claimed by one caller at a time
//! and again once their lease lapses; media expire.
//!
//! [`CallbackStore`]: qiye_domain::ports::CallbackStore
//! [`JobStore`]: qiye_domain::ports::JobStore

use std::sync::Arc;

use qiye_domain::callback::{CallbackConfig, OutboxEntry};
use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::ids::{AgentId, CorpId};
use qiye_domain::job::{ImportJob, JobStatus, JobType};
use qiye_domain::media::{MediaKind, MediaRecord};
use qiye_domain::ports::{Store, StoreError};

use crate::{create, new_app};

fn entry(agentid: Option<AgentId>, n: u32, destination: Option<CallbackConfig>) -> OutboxEntry {
    OutboxEntry {
        agentid,
        event: format!("event/{n}"),
        payload: format!("<xml>{n}</xml>"),
        destination,
    }
}

fn job_destination() -> CallbackConfig {
    CallbackConfig::new(
        "http://127.0.0.1:9/job",
        "tok",
        "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    )
    .expect("valid config")
}

/// Each queue (an app, or the contacts-sync credential) hands out its head
/// only; a failed head blocks its own queue until retried, not the others;
/// a job's destination comes back as queued.
pub async fn outbox_delivers_each_queue_in_order(store: Arc<dyn Store>) {
    let corp = create(&*store, "Outbox").await.0.id;
    let (app, _) = new_app(&*store, &corp, "HR").await;
    let now = SystemClock.now_millis();
    store
        .enqueue(
            &corp,
            &[
                entry(Some(app), 1, None),
                entry(Some(app), 2, None),
                entry(None, 3, Some(job_destination())),
            ],
            now,
        )
        .await
        .expect("enqueue");
    let first = store.claim_due(now, 30_000, 10).await.expect("claim");
    let mut events: Vec<&str> = first.iter().map(|i| i.event.as_str()).collect();
    events.sort_unstable();
    assert_eq!(events, ["event/1", "event/3"], "one head per queue");
    let contacts = first.iter().find(|i| i.agentid.is_none()).expect("queue");
    assert_eq!(contacts.destination, Some(job_destination()));
    let app_head = first.iter().find(|i| i.agentid == Some(app)).expect("app");
    assert_eq!(app_head.destination, None);
    // Leased: nothing more is handed out meanwhile.
    assert!(store.claim_due(now, 30_000, 10).await.unwrap().is_empty());
    // The app's head fails and is retried later; the next event waits.
    store
        .finish_delivery(app_head.seq, now, Err(("HTTP 500".into(), now + 1_000)))
        .await
        .unwrap();
    store
        .finish_delivery(contacts.seq, now, Ok(()))
        .await
        .unwrap();
    assert!(
        store
            .claim_due(now + 10, 30_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retry = store.claim_due(now + 1_000, 30_000, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].event, "event/1");
    assert_eq!(retry[0].attempts, 1);
    store
        .finish_delivery(retry[0].seq, now + 1_000, Ok(()))
        .await
        .unwrap();
    let next = store.claim_due(now + 1_000, 30_000, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event, "event/2");
    let log = store.delivery_log(&corp, app, None, 10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].last_error, None, "a later success clears the error");
    let older = store
        .delivery_log(&corp, app, Some(log[0].seq), 10)
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|i| i.seq).collect::<Vec<_>>(),
        [log[1].seq],
        "a page before a position holds only older rows"
    );
}

fn job(corp: &CorpId, jobid: &str, created_at: i64) -> ImportJob {
    ImportJob {
        corp_id: corp.clone(),
        jobid: jobid.to_owned(),
        job_type: JobType::SyncUser,
        status: JobStatus::Started,
        total: 3,
        processed: 0,
        request: r#"{"media_id":"m"}"#.to_owned(),
        result: "[]".to_owned(),
        agentid: None,
        created_at,
        finished_at: None,
    }
}

/// Jobs are claimed oldest first, by one caller under a lease, again once
/// the lease lapses, and never once finished; a job is read only in its
/// corp.
pub async fn jobs_are_claimed_once_per_lease(store: Arc<dyn Store>) {
    let corp = create(&*store, "Jobs").await.0.id;
    let other = create(&*store, "Other").await.0.id;
    let now = SystemClock.now_millis();
    store.insert_job(&job(&corp, "older", now)).await.unwrap();
    store
        .insert_job(&job(&corp, "newer", now + 1))
        .await
        .unwrap();
    let (a, b) = tokio::join!(store.claim_job(now, 60_000), store.claim_job(now, 60_000));
    let mut claimed: Vec<String> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .flatten()
        .map(|j| j.jobid)
        .collect();
    claimed.sort_unstable();
    // Two concurrent claimers never get the same job.
    assert!(
        claimed == ["newer", "older"] || claimed == ["older"] || claimed == ["newer"],
        "{claimed:?}"
    );
    while store.claim_job(now, 60_000).await.unwrap().is_some() {}
    assert!(
        store
            .claim_job(now + 59_999, 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // The runner of "older" died: after the lease it is handed out again.
    let again = store.claim_job(now + 60_000, 60_000).await.unwrap();
    assert_eq!(again.as_ref().map(|j| j.jobid.as_str()), Some("older"));
    let mut done = again.unwrap();
    done.status = JobStatus::Done;
    done.processed = 3;
    done.result = r#"[{"key":"a"}]"#.to_owned();
    done.finished_at = Some(now + 60_001);
    store.update_job(&done, 0).await.unwrap();
    let read = store.get_job(&corp, "older").await.unwrap();
    assert_eq!(read, done);
    let left = store.claim_job(now + 200_000, 60_000).await.unwrap();
    assert_eq!(left.map(|j| j.jobid), Some("newer".to_owned()));
    assert!(matches!(
        store.get_job(&other, "older").await,
        Err(StoreError::NotFound)
    ));
}

fn media(corp: &CorpId, id: &str, expires_at: i64) -> MediaRecord {
    MediaRecord {
        corp_id: corp.clone(),
        media_id: id.to_owned(),
        kind: MediaKind::File,
        filename: "成员.csv".to_owned(),
        content_type: "text/csv".to_owned(),
        size: 42,
        sha256: "ab".repeat(32),
        created_at: expires_at - 1_000,
        expires_at,
    }
}

/// Media round-trip in their corp only, and expired ones are deleted and
/// reported so their bytes can go too.
pub async fn media_expire_and_stay_in_their_corp(store: Arc<dyn Store>) {
    let corp = create(&*store, "Media").await.0.id;
    let other = create(&*store, "Other").await.0.id;
    let now = SystemClock.now_millis();
    store.insert_media(&media(&corp, "old", now)).await.unwrap();
    store
        .insert_media(&media(&corp, "fresh", now + 10_000))
        .await
        .unwrap();
    assert_eq!(
        store.get_media(&corp, "fresh").await.unwrap(),
        media(&corp, "fresh", now + 10_000)
    );
    assert!(matches!(
        store.get_media(&other, "fresh").await,
        Err(StoreError::NotFound)
    ));
    let expired = store.delete_expired_media(now).await.unwrap();
    assert_eq!(expired, vec![(corp.clone(), "old".to_owned())]);
    assert!(matches!(
        store.get_media(&corp, "old").await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get_media(&corp, "fresh").await.is_ok());
}

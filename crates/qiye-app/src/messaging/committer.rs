//! Group commit: every send on this node goes through one writer task that
//! takes whatever is queued (up to [`MAX_BATCH`] entries), commits it in one
//! transaction, then hands each committed entry to the fan-out in commit
//! order and answers each sender. Under load one `COMMIT` (one fsync on
//! SQLite) carries hundreds of messages; alone, a message is committed at
//! once.
//!
//! Invariant: a sender is answered `Ok` only after its entries' transaction
//! committed, so an acknowledged message survives a crash. A batch that
//! fails is retried unit by unit, so one bad unit (a conversation deleted
//! meanwhile, a replayed client id) fails alone.

use std::sync::Arc;
use std::time::Duration;

use qiye_domain::ids::UserId;
use qiye_domain::message::{Draft, Entry};
use qiye_domain::ports::{Store, StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot};

use super::FanOutBus;
use super::hub::{Hub, Push, PushEvent};

/// Most entries in one transaction.
const MAX_BATCH: usize = 1024;
/// Sends waiting for the writer before senders wait to queue.
const QUEUE_DEPTH: usize = 4096;
/// Attempts at a batch while the database reports itself busy.
const BUSY_ATTEMPTS: u32 = 5;

/// Entries to commit together, with who receives each, and where to answer.
struct Unit {
    drafts: Vec<Draft>,
    recipients: Vec<Arc<[UserId]>>,
    reply: oneshot::Sender<StoreResult<Vec<Entry>>>,
}

/// The handle senders use; the writer task runs while one exists.
#[derive(Clone)]
pub(crate) struct Committer {
    tx: mpsc::Sender<Unit>,
}

impl Committer {
    /// Starts the writer task (on the current Tokio runtime).
    pub(crate) fn start(
        store: Arc<dyn Store>,
        hub: Arc<Hub>,
        bus: Option<Arc<dyn FanOutBus>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(store, hub, bus, rx));
        Self { tx }
    }

    /// Commits `drafts` (atomically, together), delivers each to its
    /// recipients (`recipients[i]` for `drafts[i]`) and answers the
    /// committed entries.
    pub(crate) async fn commit(
        &self,
        drafts: Vec<Draft>,
        recipients: Vec<Arc<[UserId]>>,
    ) -> StoreResult<Vec<Entry>> {
        debug_assert_eq!(drafts.len(), recipients.len());
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Unit {
                drafts,
                recipients,
                reply,
            })
            .await
            .map_err(|_| StoreError::Unavailable("the message writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the message writer stopped".into()))?
    }
}

async fn run(
    store: Arc<dyn Store>,
    hub: Arc<Hub>,
    bus: Option<Arc<dyn FanOutBus>>,
    mut rx: mpsc::Receiver<Unit>,
) {
    while let Some(first) = rx.recv().await {
        let mut size = first.drafts.len();
        let mut units = vec![first];
        while size < MAX_BATCH {
            match rx.try_recv() {
                Ok(unit) => {
                    size += unit.drafts.len();
                    units.push(unit);
                }
                Err(_) => break,
            }
        }
        let fan_out = FanOut {
            hub: &hub,
            bus: bus.as_deref(),
        };
        if units.len() == 1 {
            commit_alone(&*store, &fan_out, units.pop().expect("one unit")).await;
        } else {
            commit_batch(&*store, &fan_out, units).await;
        }
    }
}

/// Where committed entries go.
struct FanOut<'a> {
    hub: &'a Arc<Hub>,
    bus: Option<&'a dyn FanOutBus>,
}

impl FanOut<'_> {
    fn publish(&self, entry: &Entry, recipients: Arc<[UserId]>, corp: &qiye_domain::ids::CorpId) {
        let push = Arc::new(Push::new(
            corp.clone(),
            recipients,
            PushEvent::Entry(entry.clone()),
        ));
        self.hub.deliver(&push);
        if let Some(bus) = self.bus {
            bus.publish(&push);
        }
    }

    /// Turns a unit's drafts into committed entries, publishes them and
    /// answers the sender.
    fn finish(&self, unit: Unit, seqs: impl Iterator<Item = u64>) {
        let Unit {
            drafts,
            recipients,
            reply,
        } = unit;
        let mut entries = Vec::with_capacity(drafts.len());
        for ((draft, to), seq) in drafts.into_iter().zip(recipients).zip(seqs) {
            let corp = draft.corp.clone();
            let entry = Entry::committed(draft, seq);
            self.publish(&entry, to, &corp);
            entries.push(entry);
        }
        // The sender may have gone (a dropped request); the entries stand.
        let _ = reply.send(Ok(entries));
    }
}

async fn append_retrying(store: &dyn Store, drafts: &[Draft]) -> StoreResult<Vec<u64>> {
    let mut attempt = 0;
    loop {
        match store.append(drafts).await {
            Err(StoreError::Unavailable(reason)) if attempt + 1 < BUSY_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(%reason, attempt, "message batch: database busy, retrying");
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
            other => return other,
        }
    }
}

async fn commit_alone(store: &dyn Store, fan_out: &FanOut<'_>, unit: Unit) {
    match append_retrying(store, &unit.drafts).await {
        Ok(seqs) => fan_out.finish(unit, seqs.into_iter()),
        Err(e) => {
            let _ = unit.reply.send(Err(e));
        }
    }
}

async fn commit_batch(store: &dyn Store, fan_out: &FanOut<'_>, mut units: Vec<Unit>) {
    let counts: Vec<usize> = units.iter().map(|u| u.drafts.len()).collect();
    let all: Vec<Draft> = units
        .iter_mut()
        .flat_map(|u| std::mem::take(&mut u.drafts))
        .collect();
    match append_retrying(store, &all).await {
        Ok(seqs) => {
            let mut drafts = all.into_iter();
            let mut seqs = seqs.into_iter();
            for (mut unit, n) in units.into_iter().zip(counts) {
                unit.drafts = drafts.by_ref().take(n).collect();
                fan_out.finish(unit, seqs.by_ref().take(n));
            }
        }
        Err(e) => {
            tracing::debug!(%e, units = units.len(), "message batch failed; committing its units one by one");
            let mut drafts = all.into_iter();
            for (mut unit, n) in units.into_iter().zip(counts) {
                unit.drafts = drafts.by_ref().take(n).collect();
                commit_alone(store, fan_out, unit).await;
            }
        }
    }
}

//! The fan-out between nodes over NATS: the [`FanOutBus`] port of
//! `qiye-app` implemented with `async-nats`.
//!
//! Every node publishes the events it committed (entries, read receipts,
//! presence) on one subject, [`SUBJECT`], and subscribes to it; a node skips
//! its own events (it delivered them locally already) and hands the others
//! to [`Services::deliver_remote`].
//!
//! - **Pushes are a fast path; the database is the truth.** A push lost on
//!   the way (NATS down, a full queue, a node restarting) costs latency,
//!   never data: clients resync by sequence.
//! - [`NatsBus::publish`] never blocks or awaits: it is called by the
//!   message writer task. It queues the event on a bounded channel
//!   ([`PUBLISH_QUEUE`]) drained by a publisher task; when the queue is full
//!   the event is dropped and counted ([`NatsBus::dropped`]).
//! - The wire form is this module's own JSON ([`SUBJECT`] carries one
//!   object per message, see `Frame`): the corp, the recipients, the event
//!   with every field needed to rebuild it exactly, and the origin node.
//!   A message that does not decode is logged and skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use qiye_app::Services;
use qiye_app::messaging::{FanOutBus, Push, PushEvent};
use qiye_domain::ids::{AgentId, CorpId, UserId};
use qiye_domain::message::{
    CardFacts, Content, ConvId, Entry, EntryBody, MsgId, MsgKind, Priority, Sender,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The one NATS subject every node publishes its events on and listens to.
pub const SUBJECT: &str = "qiye.fanout";

/// Events waiting for the publisher task before new ones are dropped.
pub const PUBLISH_QUEUE: usize = 8192;

/// Version of the wire form; a frame of another version is skipped.
const WIRE_VERSION: u32 = 1;

/// How long [`NatsBus::subscribe`] waits for its subscription to be live.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting may take before start-up fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The server's address.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Subscribing to [`SUBJECT`] failed.
    #[error("cannot subscribe to {SUBJECT}: {0}")]
    Subscribe(String),
}

/// The fan-out over NATS of one node.
pub struct NatsBus {
    node: String,
    client: async_nats::Client,
    outbox: Outbox,
}

/// The bounded queue between [`FanOutBus::publish`] and the publisher task.
#[derive(Debug)]
struct Outbox {
    tx: mpsc::Sender<Arc<Push>>,
    dropped: AtomicU64,
}

impl Outbox {
    fn new(capacity: usize) -> (Self, mpsc::Receiver<Arc<Push>>) {
        let (tx, rx) = mpsc::channel(capacity);
        let outbox = Self {
            tx,
            dropped: AtomicU64::new(0),
        };
        (outbox, rx)
    }

    /// Queues `push` without waiting; a full queue (or a stopped
    /// publisher) drops it, counted. Answers whether it was queued.
    fn offer(&self, push: &Arc<Push>) -> bool {
        let Err(e) = self.tx.try_send(push.clone()) else {
            return true;
        };
        let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // One warning per power of two: visible, but never a flood.
        if total.is_power_of_two() {
            let why = match e {
                mpsc::error::TrySendError::Full(_) => "publish queue full",
                mpsc::error::TrySendError::Closed(_) => "publisher stopped",
            };
            tracing::warn!(
                dropped_total = total,
                "NATS fan-out: {why}, event dropped (clients resync from the database)"
            );
        }
        false
    }
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("node", &self.node)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects to the NATS server at `url` (`nats://host:4222`) as the node
    /// `node_id` and starts the publisher task (on the current runtime).
    /// Fails if the server cannot be reached now; once connected, the client
    /// reconnects by itself.
    pub async fn connect(url: &str, node_id: &str) -> Result<Arc<Self>, BusError> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("qiye {node_id}"))
            .connection_timeout(CONNECT_TIMEOUT)
            .event_callback(|event| async move {
                tracing::info!(%event, "NATS connection");
            })
            .connect(url)
            .await
            .map_err(|e| BusError::Connect {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let (outbox, rx) = Outbox::new(PUBLISH_QUEUE);
        tokio::spawn(publisher(client.clone(), node_id.to_owned(), rx));
        Ok(Arc::new(Self {
            node: node_id.to_owned(),
            client,
            outbox,
        }))
    }

    /// A fresh id for this process on the bus (`node-` and 16 hex digits).
    pub fn random_node_id() -> String {
        format!("node-{:016x}", rand::random::<u64>())
    }

    /// This node's id on the bus.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Events dropped because the publish queue was full (or the
    /// publisher stopped).
    pub fn dropped(&self) -> u64 {
        self.outbox.dropped.load(Ordering::Relaxed)
    }

    /// Subscribes to [`SUBJECT`] and, once the subscription is live (this
    /// node has heard its own greeting through the server), spawns the task
    /// that delivers other nodes' events to `services`. Events published
    /// after this returns reach this node.
    pub async fn subscribe(&self, services: Arc<Services>) -> Result<JoinHandle<()>, BusError> {
        let mut subscriber = self
            .client
            .subscribe(SUBJECT)
            .await
            .map_err(|e| BusError::Subscribe(e.to_string()))?;
        let nonce: u64 = rand::random();
        let hello = encode_frame(&Frame {
            v: WIRE_VERSION,
            origin: self.node.clone(),
            corp: String::new(),
            recipients: Vec::new(),
            event: WireEvent::Hello { nonce },
        });
        self.client
            .publish(SUBJECT, hello)
            .await
            .map_err(|e| BusError::Subscribe(e.to_string()))?;
        self.client
            .flush()
            .await
            .map_err(|e| BusError::Subscribe(e.to_string()))?;
        let node = self.node.clone();
        let ready = async {
            while let Some(message) = subscriber.next().await {
                if handle(&node, &message.payload, &services) == Some(nonce) {
                    return true;
                }
            }
            false
        };
        match tokio::time::timeout(READY_TIMEOUT, ready).await {
            Ok(true) => {}
            Ok(false) => return Err(BusError::Subscribe("the subscription closed".into())),
            Err(_) => {
                return Err(BusError::Subscribe(format!(
                    "no echo of this node's greeting within {}s",
                    READY_TIMEOUT.as_secs()
                )));
            }
        }
        Ok(tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                handle(&node, &message.payload, &services);
            }
            tracing::warn!("NATS subscription ended; this node no longer hears other nodes");
        }))
    }
}

impl FanOutBus for NatsBus {
    fn publish(&self, push: &Arc<Push>) {
        self.outbox.offer(push);
    }
}

/// Drains the publish queue onto [`SUBJECT`], in order.
async fn publisher(client: async_nats::Client, node: String, mut rx: mpsc::Receiver<Arc<Push>>) {
    while let Some(push) = rx.recv().await {
        let payload = encode(&node, &push);
        if let Err(err) = client.publish(SUBJECT, payload).await {
            tracing::warn!(%err, "NATS fan-out: publish failed, event dropped");
        }
    }
}

/// Decodes one message and delivers it unless it is this node's own.
/// Answers the nonce of this node's own greeting.
fn handle(node: &str, payload: &[u8], services: &Services) -> Option<u64> {
    match decode(payload) {
        Ok(Decoded::Push { origin, push }) => {
            if origin != node {
                services.deliver_remote(*push);
            }
            None
        }
        Ok(Decoded::Hello { origin, nonce }) => (origin == node).then_some(nonce),
        Err(err) => {
            tracing::warn!(%err, bytes = payload.len(), "NATS fan-out: bad message skipped");
            None
        }
    }
}

/// One message on [`SUBJECT`].
#[derive(Debug, Serialize, Deserialize)]
struct Frame {
    /// [`WIRE_VERSION`].
    v: u32,
    /// The node that published it.
    origin: String,
    /// The corp (empty for a greeting).
    corp: String,
    /// Who receives it.
    recipients: Vec<String>,
    /// What happened.
    event: WireEvent,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    Entry(Box<WireEntry>),
    Read {
        conv: String,
        userid: String,
        seq: u64,
    },
    Presence {
        online: Vec<String>,
        offline: Vec<String>,
    },
    /// A node's greeting to itself, proving its subscription is live.
    Hello {
        nonce: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireEntry {
    conv: String,
    seq: u64,
    msgid: String,
    sender: WireSender,
    kind: String,
    priority: String,
    at: i64,
    recalled_at: Option<i64>,
    body: WireBody,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireSender {
    Member { id: String },
    App { id: i64 },
    System,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBody {
    Message {
        msgtype: String,
        body: String,
        preview: String,
        media: Vec<String>,
        mentions: Vec<String>,
        card: Option<WireCard>,
    },
    Recall {
        target: u64,
    },
    CardUpdate {
        target: u64,
        body: String,
    },
    Roster {
        added: Vec<String>,
        removed: Vec<String>,
    },
    Updated {
        name: Option<String>,
        owner: Option<String>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireCard {
    task_id: Option<String>,
    response_code: Option<String>,
}

/// Why a message did not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct WireError(String);

fn bad(what: &str, value: impl std::fmt::Display) -> WireError {
    WireError(format!("bad {what}: {value}"))
}

/// A decoded message.
#[derive(Debug)]
enum Decoded {
    Push { origin: String, push: Box<Push> },
    Hello { origin: String, nonce: u64 },
}

fn names(users: &[UserId]) -> Vec<String> {
    users.iter().map(|u| u.as_str().to_owned()).collect()
}

fn users(raw: Vec<String>) -> Result<Vec<UserId>, WireError> {
    raw.iter()
        .map(|u| UserId::parse(u).map_err(|_| bad("userid", u)))
        .collect()
}

fn encode_frame(frame: &Frame) -> Bytes {
    // Serialising plain strings and numbers cannot fail.
    Bytes::from(serde_json::to_vec(frame).unwrap_or_default())
}

/// The wire form of `push`, published by `origin`.
fn encode(origin: &str, push: &Push) -> Bytes {
    encode_frame(&Frame {
        v: WIRE_VERSION,
        origin: origin.to_owned(),
        corp: push.corp.as_str().to_owned(),
        recipients: names(&push.recipients),
        event: wire_event(&push.event),
    })
}

fn wire_event(event: &PushEvent) -> WireEvent {
    match event {
        PushEvent::Entry(e) => WireEvent::Entry(Box::new(wire_entry(e))),
        PushEvent::Read { conv, userid, seq } => WireEvent::Read {
            conv: conv.as_str().to_owned(),
            userid: userid.as_str().to_owned(),
            seq: *seq,
        },
        PushEvent::Presence { online, offline } => WireEvent::Presence {
            online: names(online),
            offline: names(offline),
        },
    }
}

fn wire_entry(e: &Entry) -> WireEntry {
    WireEntry {
        conv: e.conv.as_str().to_owned(),
        seq: e.seq,
        msgid: e.msgid.as_str().to_owned(),
        sender: match &e.sender {
            Sender::Member(u) => WireSender::Member {
                id: u.as_str().to_owned(),
            },
            Sender::App(a) => WireSender::App { id: a.get() },
            Sender::System => WireSender::System,
        },
        kind: e.kind.name().to_owned(),
        priority: e.priority.name().to_owned(),
        at: e.at,
        recalled_at: e.recalled_at,
        body: match &e.body {
            EntryBody::Message(c) => WireBody::Message {
                msgtype: c.msgtype.clone(),
                body: c.body.clone(),
                preview: c.preview.clone(),
                media: c.media.clone(),
                mentions: names(&c.mentions),
                card: c.card.as_ref().map(|f| WireCard {
                    task_id: f.task_id.clone(),
                    response_code: f.response_code.clone(),
                }),
            },
            EntryBody::Recall { target } => WireBody::Recall { target: *target },
            EntryBody::CardUpdate { target, body } => WireBody::CardUpdate {
                target: *target,
                body: body.clone(),
            },
            EntryBody::RosterChanged { added, removed } => WireBody::Roster {
                added: names(added),
                removed: names(removed),
            },
            EntryBody::Updated { name, owner } => WireBody::Updated {
                name: name.clone(),
                owner: owner.as_ref().map(|o| o.as_str().to_owned()),
            },
        },
    }
}

fn decode(payload: &[u8]) -> Result<Decoded, WireError> {
    let frame: Frame =
        serde_json::from_slice(payload).map_err(|e| WireError(format!("not a frame: {e}")))?;
    if frame.v != WIRE_VERSION {
        return Err(bad("version", frame.v));
    }
    let event = match frame.event {
        WireEvent::Hello { nonce } => {
            return Ok(Decoded::Hello {
                origin: frame.origin,
                nonce,
            });
        }
        WireEvent::Entry(e) => PushEvent::Entry(domain_entry(*e)?),
        WireEvent::Read { conv, userid, seq } => PushEvent::Read {
            conv: ConvId::parse(&conv).map_err(|_| bad("conversation id", &conv))?,
            userid: UserId::parse(&userid).map_err(|_| bad("userid", &userid))?,
            seq,
        },
        WireEvent::Presence { online, offline } => PushEvent::Presence {
            online: users(online)?,
            offline: users(offline)?,
        },
    };
    let corp = CorpId::parse(&frame.corp).map_err(|_| bad("corpid", &frame.corp))?;
    let recipients: Arc<[UserId]> = users(frame.recipients)?.into();
    Ok(Decoded::Push {
        origin: frame.origin,
        push: Box::new(Push::new(corp, recipients, event)),
    })
}

fn domain_entry(e: WireEntry) -> Result<Entry, WireError> {
    let sender = match e.sender {
        WireSender::Member { id } => {
            Sender::Member(UserId::parse(&id).map_err(|_| bad("sender", &id))?)
        }
        WireSender::App { id } => Sender::App(AgentId::new(id).map_err(|_| bad("agentid", id))?),
        WireSender::System => Sender::System,
    };
    let body = match e.body {
        WireBody::Message {
            msgtype,
            body,
            preview,
            media,
            mentions,
            card,
        } => EntryBody::Message(Content {
            msgtype,
            body,
            preview,
            media,
            mentions: users(mentions)?,
            card: card.map(|c| CardFacts {
                task_id: c.task_id,
                response_code: c.response_code,
            }),
        }),
        WireBody::Recall { target } => EntryBody::Recall { target },
        WireBody::CardUpdate { target, body } => EntryBody::CardUpdate { target, body },
        WireBody::Roster { added, removed } => EntryBody::RosterChanged {
            added: users(added)?,
            removed: users(removed)?,
        },
        WireBody::Updated { name, owner } => EntryBody::Updated {
            name,
            owner: owner
                .map(|o| UserId::parse(&o).map_err(|_| bad("owner", &o)))
                .transpose()?,
        },
    };
    Ok(Entry {
        conv: ConvId::parse(&e.conv).map_err(|_| bad("conversation id", &e.conv))?,
        seq: e.seq,
        msgid: MsgId::parse(&e.msgid).ok_or_else(|| bad("msgid", &e.msgid))?,
        sender,
        kind: MsgKind::parse(&e.kind).ok_or_else(|| bad("kind", &e.kind))?,
        priority: Priority::parse(&e.priority).ok_or_else(|| bad("priority", &e.priority))?,
        body,
        at: e.at,
        recalled_at: e.recalled_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corp() -> CorpId {
        CorpId::parse("ww0123456789abcdef").unwrap()
    }

    fn user(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn entry(sender: Sender, body: EntryBody) -> Entry {
        Entry {
            conv: ConvId::parse("conv42").unwrap(),
            seq: 7,
            msgid: MsgId::generate(),
            sender,
            kind: MsgKind::Approval,
            priority: Priority::Urgent,
            body,
            at: 1_700_000_000_123,
            recalled_at: Some(1_700_000_100_000),
        }
    }

    fn every_body() -> Vec<EntryBody> {
        vec![
            EntryBody::Message(Content {
                msgtype: "template_card".into(),
                body: r#"{"card_type":"text_notice","main_title":{"title":"引号 \" and \\"}}"#
                    .into(),
                preview: "预览 preview".into(),
                media: vec!["m1".into(), "m2".into()],
                mentions: vec![user("alice"), user("bob")],
                card: Some(CardFacts {
                    task_id: Some("t-1".into()),
                    response_code: None,
                }),
            }),
            EntryBody::Message(Content {
                msgtype: "text".into(),
                body: r#"{"content":"hi"}"#.into(),
                preview: "hi".into(),
                media: vec![],
                mentions: vec![],
                card: None,
            }),
            EntryBody::Recall { target: 3 },
            EntryBody::CardUpdate {
                target: 5,
                body: r#"{"card_type":"button_interaction"}"#.into(),
            },
            EntryBody::RosterChanged {
                added: vec![user("carol")],
                removed: vec![user("dave"), user("erin")],
            },
            EntryBody::Updated {
                name: Some("新名字".into()),
                owner: Some(user("frank")),
            },
            EntryBody::Updated {
                name: None,
                owner: None,
            },
        ]
    }

    fn every_event() -> Vec<PushEvent> {
        let senders = [
            Sender::Member(user("alice")),
            Sender::App(AgentId::new(1_000_002).unwrap()),
            Sender::System,
        ];
        let mut events: Vec<PushEvent> = every_body()
            .into_iter()
            .zip(senders.iter().cycle())
            .map(|(body, sender)| PushEvent::Entry(entry(sender.clone(), body)))
            .collect();
        let mut plain = entry(Sender::Member(user("bob")), EntryBody::Recall { target: 1 });
        plain.recalled_at = None;
        plain.kind = MsgKind::Chat;
        plain.priority = Priority::Normal;
        events.push(PushEvent::Entry(plain));
        events.push(PushEvent::Read {
            conv: ConvId::parse("conv42").unwrap(),
            userid: user("bob"),
            seq: 9,
        });
        events.push(PushEvent::Presence {
            online: vec![user("alice")],
            offline: vec![user("bob"), user("carol")],
        });
        events.push(PushEvent::Presence {
            online: vec![],
            offline: vec![],
        });
        events
    }

    #[test]
    fn every_event_round_trips_exactly() {
        for event in every_event() {
            let recipients: Arc<[UserId]> = vec![user("alice"), user("bob")].into();
            let push = Push::new(corp(), recipients.clone(), event.clone());
            let bytes = encode("node-a", &push);
            let Decoded::Push { origin, push: back } = decode(&bytes).unwrap() else {
                panic!("decoded a greeting");
            };
            assert_eq!(origin, "node-a");
            assert_eq!(back.corp, corp());
            assert_eq!(back.recipients, recipients);
            assert_eq!(back.event, event);
        }
    }

    #[test]
    fn every_sender_kind_round_trips() {
        for sender in [
            Sender::Member(user("alice")),
            Sender::App(AgentId::new(1_000_002).unwrap()),
            Sender::System,
        ] {
            let event = PushEvent::Entry(entry(sender, EntryBody::Recall { target: 2 }));
            let push = Push::new(corp(), vec![user("x")].into(), event.clone());
            let Decoded::Push { push: back, .. } = decode(&encode("n", &push)).unwrap() else {
                panic!("decoded a greeting");
            };
            assert_eq!(back.event, event);
        }
    }

    #[test]
    fn a_full_outbox_drops_and_counts_without_waiting() {
        let (outbox, mut rx) = Outbox::new(2);
        let push = Arc::new(Push::new(
            corp(),
            vec![user("a")].into(),
            PushEvent::Presence {
                online: vec![],
                offline: vec![],
            },
        ));
        assert!(outbox.offer(&push));
        assert!(outbox.offer(&push));
        assert!(!outbox.offer(&push));
        assert_eq!(outbox.dropped.load(Ordering::Relaxed), 1);
        assert!(rx.try_recv().is_ok());
        assert!(
            outbox.offer(&push),
            "room again once the publisher took one"
        );
        drop(rx);
        assert!(!outbox.offer(&push), "a stopped publisher drops too");
        assert_eq!(outbox.dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn greetings_decode_as_such() {
        let bytes = encode_frame(&Frame {
            v: WIRE_VERSION,
            origin: "node-b".into(),
            corp: String::new(),
            recipients: vec![],
            event: WireEvent::Hello { nonce: 42 },
        });
        match decode(&bytes).unwrap() {
            Decoded::Hello { origin, nonce } => {
                assert_eq!(origin, "node-b");
                assert_eq!(nonce, 42);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_messages_are_refused_without_panicking() {
        let good = encode(
            "n",
            &Push::new(
                corp(),
                vec![user("alice")].into(),
                PushEvent::Entry(entry(
                    Sender::Member(user("alice")),
                    EntryBody::Recall { target: 1 },
                )),
            ),
        );
        let text = std::str::from_utf8(&good).unwrap().to_owned();
        let mangled = [
            String::new(),
            "not json".into(),
            "{}".into(),
            "[1,2]".into(),
            text.replace("\"v\":1", "\"v\":2"),
            text.replace("ww0123456789abcdef", "nope"),
            text.replace("\"alice\"", "\"bad user!\""),
            text.replace("\"approval\"", "\"gossip\""),
            text.replace("\"urgent\"", "\"whenever\""),
            text.replace("\"conv42\"", "\"conv-42\""),
            text.replace("\"recall\"", "\"explode\""),
            text.replace("\"seq\":7", "\"seq\":-7"),
        ];
        for m in &mangled {
            assert!(decode(m.as_bytes()).is_err(), "accepted {m}");
        }
        // Cut anywhere, it never panics.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
    }

    #[test]
    fn the_wire_form_names_its_parts() {
        let push = Push::new(
            corp(),
            vec![user("bob")].into(),
            PushEvent::Read {
                conv: ConvId::parse("c1").unwrap(),
                userid: user("alice"),
                seq: 3,
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&encode("node-a", &push)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "v": 1, "origin": "node-a", "corp": "ww0123456789abcdef",
                "recipients": ["bob"],
                "event": {"type": "read", "conv": "c1", "userid": "alice", "seq": 3}
            })
        );
    }
}

//! Messaging benchmarks (issue 4), over real WebSockets to a real server
//! on loopback, on SQLite or PostgreSQL:
//!
//! - [`one_to_one`] (X1, Y1): pairs of members; each sender sends over its
//!   WebSocket with a window of unacknowledged sends, its peer counts the
//!   pushed entries. Unpaced it gives the sustained rate (send, commit,
//!   ack, deliver); paced it gives the send-to-receiver latency.
//! - [`group`] (X2, Y2): every member of a group online; one sender; how
//!   many deliveries per second reach the members, and how long until every
//!   member has a message.
//! - [`resync`] (R): a member misses messages in many conversations,
//!   reconnects and syncs with one frame; how long the server takes.
//!
//! Members get their sessions straight from the store (a benchmark of
//! messaging should not spend its set-up in Argon2). Every loop is bounded
//! by a message count; the clients run in the same process as the server
//! and share its two cores.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use qiye_app::Services;
use qiye_app::directory::DirCaller;
use qiye_app::session::SignedInMember;
use qiye_domain::audit::{Actor, AuditRecord, Outcome};
use qiye_domain::directory::MemberFields;
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_domain::message::ConvId;
use qiye_domain::session::{Session, SessionToken};
use qiye_server::serve::LocalServer;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::directory::{BenchDatabase, create_bench_corp};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server with members who hold sessions.
pub struct ChatBench {
    /// The use cases (to set conversations up).
    pub services: Arc<Services>,
    /// The corp.
    pub corp: CorpId,
    /// Members and their session tokens, `m000001` on.
    pub members: Vec<(UserId, String)>,
    server: LocalServer,
}

impl ChatBench {
    /// A server on `db` with `members` members, each with a session.
    pub async fn start(db: &BenchDatabase, members: usize) -> anyhow::Result<Self> {
        let services = db.services().await?;
        let corp = create_bench_corp(&services).await?;
        let made = members_with_sessions(&services, &corp, members).await?;
        let server = LocalServer::spawn(services.clone()).await?;
        Ok(Self {
            services,
            corp,
            members: made,
            server,
        })
    }

    /// The signed-in handle of member `i`.
    pub async fn member(&self, i: usize) -> anyhow::Result<SignedInMember> {
        Ok(self
            .services
            .authenticate_session(Some(&self.members[i].1), None)
            .await?
            .active()?)
    }

    /// A WebSocket of member `i`, past its `hello`.
    pub async fn connect(&self, i: usize) -> anyhow::Result<Socket> {
        let url = format!(
            "ws://{}/api/v1/ws?token={}",
            self.server.addr, self.members[i].1
        );
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false)
                .await
                .context("websocket")?;
        let hello = next_json(&mut socket).await?;
        anyhow::ensure!(hello["type"] == "hello", "no hello: {hello}");
        Ok(socket)
    }
}

/// The load generator's socket settings: tungstenite zeroes its whole read
/// buffer (128 KiB by default) on every read, which at 100,000 deliveries
/// a second costs the shared cores more than the server's work.
pub fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER)
}

/// Bytes of each client socket's read buffer.
const CLIENT_READ_BUFFER: usize = 8 * 1024;

/// Creates `count` members (`m000001` on) in the root department, each
/// with a session straight from the store; answers their userids and
/// session tokens.
pub async fn members_with_sessions(
    services: &Services,
    corp: &CorpId,
    count: usize,
) -> anyhow::Result<Vec<(UserId, String)>> {
    let operator = DirCaller::operator(corp.clone(), Actor::System);
    let now = services.clock().now_millis();
    let mut made = Vec::with_capacity(count);
    for i in 1..=count {
        let userid = UserId::parse(&format!("m{i:06}"))?;
        services
            .create_member(
                &operator,
                userid.clone(),
                MemberFields {
                    name: Some(format!("成员{i}")),
                    departments: Some(vec![DeptId::ROOT]),
                    ..Default::default()
                },
            )
            .await?;
        let token = SessionToken::generate();
        let session = Session::start(corp.clone(), userid.clone(), now, None, Some("qiye-bench"));
        let record = AuditRecord {
            at: now,
            corp_id: corp.clone(),
            actor: Actor::System,
            client_ip: None,
            action: "session.create".into(),
            target: format!("member:{userid}"),
            outcome: Outcome::Succeeded,
        };
        services
            .store()
            .create_session(&session, &token.digest(), &record)
            .await?;
        made.push((userid, token.expose().to_owned()));
    }
    Ok(made)
}

async fn next_text(socket: &mut Socket) -> anyhow::Result<Utf8Bytes> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .context("no frame within 30 s")?
            .context("socket closed")??;
        if let Message::Text(text) = frame {
            return Ok(text);
        }
    }
}

async fn next_json(socket: &mut Socket) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&next_text(socket).await?)?)
}

/// The parts of a pushed `entry` frame a receiver measures, read without
/// building a JSON tree: at 100,000 deliveries a second the load generator
/// shares the server's cores, so its parsing must stay cheap.
#[derive(Deserialize)]
struct PushedEntry<'a> {
    #[serde(borrow)]
    sender: PushedSender<'a>,
    #[serde(borrow, default)]
    content: Option<PushedContent<'a>>,
}

#[derive(Deserialize)]
struct PushedSender<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct PushedContent<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PushedFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    entry: Option<PushedEntry<'a>>,
}

impl<'a> PushedEntry<'a> {
    /// The entry of an `entry` push; `None` for any other frame.
    fn from_frame(text: &'a str) -> anyhow::Result<Option<Self>> {
        let frame: PushedFrame<'a> = serde_json::from_str(text)?;
        Ok(if frame.kind == "entry" {
            frame.entry
        } else {
            None
        })
    }

    /// The send time the sender wrote into the text (µs since the epoch).
    fn stamp(&self) -> u128 {
        self.content
            .as_ref()
            .and_then(|c| c.content.as_deref())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// From the stamp until now.
    fn latency(&self, epoch: Instant) -> Duration {
        let now = epoch.elapsed().as_micros();
        Duration::from_micros(now.saturating_sub(self.stamp()) as u64)
    }
}

/// Client ids are unique per send (a repeated id is a retry, answered with
/// the first message and not sent again).
fn send_frame(conv: &str, id: u64, content: &str) -> Message {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(|| format!("{:x}", std::process::id()));
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Message::Text(
        json!({"type": "send", "id": format!("b{run}-{unique}-{id}"), "conv": conv, "msgtype": "text",
               "text": {"content": content}})
        .to_string()
        .into(),
    )
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunFigures {
    /// Messages sent (acknowledged).
    pub messages: u64,
    /// Deliveries counted at the receivers.
    pub deliveries: u64,
    /// From the first send to the last delivery.
    pub elapsed: Duration,
    /// Per delivery: from sending to receiving (sorted).
    pub latencies: Vec<Duration>,
}

impl RunFigures {
    /// Messages per second.
    pub fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    /// Deliveries per second.
    pub fn deliveries_per_sec(&self) -> f64 {
        self.deliveries as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

/// Sends `count` messages on `socket` into `conv`, keeping at most `window`
/// unacknowledged; paced to one per `interval` when given. Each message
/// carries its send time (µs since `epoch`).
async fn sender(
    mut socket: Socket,
    conv: String,
    count: u64,
    window: u64,
    interval: Option<Duration>,
    epoch: Instant,
) -> anyhow::Result<u64> {
    let (mut sink, mut stream) = socket.split();
    let mut acked = 0;
    let mut sent = 0;
    let mut pace = interval.map(tokio::time::interval);
    while acked < count {
        let can_send = sent < count && sent - acked < window;
        tokio::select! {
            biased;
            frame = tokio::time::timeout(Duration::from_secs(30), stream.next()) => {
                let frame = frame.context("no frame within 30 s")?.context("socket closed")??;
                if let Message::Text(text) = frame {
                    let v: Value = serde_json::from_str(&text)?;
                    match v["type"].as_str() {
                        Some("ack") => acked += 1,
                        Some("error") => anyhow::bail!("send refused: {v}"),
                        _ => {}
                    }
                }
            }
            () = async {
                if let Some(p) = pace.as_mut() {
                    p.tick().await;
                }
            }, if can_send => {
                let stamp = epoch.elapsed().as_micros().to_string();
                sink.send(send_frame(&conv, sent, &stamp)).await?;
                sent += 1;
            }
        }
    }
    socket = sink
        .reunite(stream)
        .map_err(|_| anyhow::anyhow!("reunite"))?;
    let _ = socket.close(None).await;
    Ok(acked)
}

/// Counts `expected` pushed entries sent by others; answers each one's
/// latency (from the stamp in its content).
async fn receiver(
    mut socket: Socket,
    expected: u64,
    epoch: Instant,
    me: String,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(expected as usize);
    while (latencies.len() as u64) < expected {
        let text = next_text(&mut socket).await?;
        if let Some(pushed) = PushedEntry::from_frame(&text)? {
            if pushed.sender.id != me.as_str() {
                latencies.push(pushed.latency(epoch));
            }
        }
    }
    let _ = socket.close(None).await;
    Ok(latencies)
}

/// X1 / Y1: `pairs` one-to-one conversations, `per_sender` messages each
/// way from the first member of each pair; unpaced with `window`
/// outstanding sends per sender, or paced at `rate` messages per second
/// in all.
pub async fn one_to_one(
    bench: &ChatBench,
    pairs: usize,
    per_sender: u64,
    window: u64,
    rate: Option<f64>,
) -> anyhow::Result<RunFigures> {
    anyhow::ensure!(bench.members.len() >= pairs * 2, "not enough members");
    let mut convs = Vec::with_capacity(pairs);
    for p in 0..pairs {
        let a = bench.member(2 * p).await?;
        let conv = bench
            .services
            .open_direct(&a, &bench.members[2 * p + 1].0)
            .await?;
        convs.push(conv.id.to_string());
    }
    let interval = rate.map(|r| Duration::from_secs_f64(pairs as f64 / r));
    let epoch = Instant::now();
    let mut receivers = Vec::with_capacity(pairs);
    let mut senders = Vec::with_capacity(pairs);
    let mut sockets = Vec::with_capacity(pairs);
    for p in 0..pairs {
        let rx = bench.connect(2 * p + 1).await?;
        let tx = bench.connect(2 * p).await?;
        sockets.push((tx, rx));
    }
    let start = Instant::now();
    for (p, (tx, rx)) in sockets.into_iter().enumerate() {
        let me = bench.members[2 * p + 1].0.to_string();
        receivers.push(tokio::spawn(receiver(rx, per_sender, epoch, me)));
        senders.push(tokio::spawn(sender(
            tx,
            convs[p].clone(),
            per_sender,
            window,
            interval,
            epoch,
        )));
    }
    let mut messages = 0;
    for s in senders {
        messages += s.await??;
    }
    let mut latencies = Vec::new();
    for r in receivers {
        latencies.extend(r.await??);
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Ok(RunFigures {
        messages,
        deliveries: latencies.len() as u64,
        elapsed,
        latencies,
    })
}

/// X2 / Y2: a group of every member (up to 2,000), all online; member 0
/// sends `count` messages (window `window`, or paced at `rate` per
/// second). Latencies are per delivery; [`group_completion`] gives, per
/// message, the time until the last member had it.
pub async fn group(
    bench: &ChatBench,
    count: u64,
    window: u64,
    rate: Option<f64>,
) -> anyhow::Result<(RunFigures, Vec<Duration>)> {
    let n = bench.members.len();
    let owner = bench.member(0).await?;
    let others: Vec<UserId> = bench.members[1..].iter().map(|(u, _)| u.clone()).collect();
    let conv = bench
        .services
        .create_group(&owner, "基准群", others)
        .await?;
    let conv_id = conv.id.to_string();
    let epoch = Instant::now();
    let mut sockets = Vec::with_capacity(n - 1);
    for i in 1..n {
        sockets.push(bench.connect(i).await?);
    }
    let tx = bench.connect(0).await?;
    let start = Instant::now();
    let owner_id = bench.members[0].0.to_string();
    let receivers: Vec<_> = sockets
        .into_iter()
        .map(|s| tokio::spawn(receiver_by_stamp(s, count, epoch, owner_id.clone())))
        .collect();
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let messages = sender(tx, conv_id, count, window, interval, epoch).await?;
    let mut latencies = Vec::new();
    let mut last_per_message: HashMap<u128, Duration> = HashMap::new();
    for r in receivers {
        for (stamp, latency) in r.await?? {
            latencies.push(latency);
            let slot = last_per_message.entry(stamp).or_default();
            *slot = (*slot).max(latency);
        }
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let mut completion: Vec<Duration> = last_per_message.into_values().collect();
    completion.sort_unstable();
    Ok((
        RunFigures {
            messages,
            deliveries: latencies.len() as u64,
            elapsed,
            latencies,
        },
        completion,
    ))
}

/// Like [`receiver`], keeping each message's stamp.
async fn receiver_by_stamp(
    mut socket: Socket,
    expected: u64,
    epoch: Instant,
    sender_id: String,
) -> anyhow::Result<Vec<(u128, Duration)>> {
    let mut got = Vec::with_capacity(expected as usize);
    while (got.len() as u64) < expected {
        let text = next_text(&mut socket).await?;
        if let Some(pushed) = PushedEntry::from_frame(&text)? {
            if pushed.sender.id == sender_id.as_str() {
                got.push((pushed.stamp(), pushed.latency(epoch)));
            }
        }
    }
    let _ = socket.close(None).await;
    Ok(got)
}

/// What a resync measured.
#[derive(Debug, Clone)]
pub struct ResyncFigures {
    /// Conversations with missed messages.
    pub conversations: usize,
    /// Entries the sync returned.
    pub entries: usize,
    /// From sending the `sync` frame to having the whole answer.
    pub sync_time: Duration,
    /// Round trips: the `sync` frame and its answer (after `hello`).
    pub round_trips: usize,
}

/// R: member 0 is in `conversations` one-to-one conversations; while they
/// are offline the peers send `missed` messages in all (spread evenly);
/// they reconnect, report what they had, and sync.
pub async fn resync(
    bench: &ChatBench,
    conversations: usize,
    missed: usize,
) -> anyhow::Result<ResyncFigures> {
    anyhow::ensure!(bench.members.len() > conversations, "not enough members");
    let me = bench.member(0).await?;
    let mut convs: Vec<ConvId> = Vec::with_capacity(conversations);
    let mut peers = Vec::with_capacity(conversations);
    for c in 0..conversations {
        let peer = bench.member(c + 1).await?;
        let conv = bench.services.open_direct(&me, peer.userid()).await?;
        convs.push(conv.id.clone());
        peers.push(peer);
    }
    // What the member's client holds before going offline: everything so far.
    let known: serde_json::Map<String, Value> = bench
        .services
        .conversations(&me)
        .await?
        .iter()
        .map(|c| (c.id.to_string(), json!(c.last_seq)))
        .collect();
    for i in 0..missed {
        let c = i % conversations;
        let content = qiye_domain::message::Content {
            msgtype: "text".into(),
            body: format!(r#"{{"content":"missed {i}"}}"#),
            preview: format!("missed {i}"),
            media: vec![],
            mentions: vec![],
            card: None,
        };
        bench
            .services
            .send_chat(&peers[c], &convs[c], content, Default::default(), None)
            .await?;
    }
    let mut socket = bench.connect(0).await?;
    let started = Instant::now();
    socket
        .send(Message::Text(
            json!({"type": "sync", "id": "r", "known": known, "limit": 500})
                .to_string()
                .into(),
        ))
        .await?;
    let reply = loop {
        let v = next_json(&mut socket).await?;
        if v["type"] == "sync" {
            break v;
        }
    };
    let sync_time = started.elapsed();
    let synced = reply["conversations"].as_array().context("conversations")?;
    let entries = synced
        .iter()
        .map(|c| c["entries"].as_array().map_or(0, Vec::len))
        .sum();
    anyhow::ensure!(
        synced.iter().all(|c| c["more"] == false),
        "a conversation needed another round trip"
    );
    Ok(ResyncFigures {
        conversations: synced.len(),
        entries,
        sync_time,
        round_trips: 1,
    })
}

//! The WebSocket gateway, `GET /api/v1/ws` (protocol: `docs/protocol.md`).
//!
//! One task per connection. It forwards the events the hub queued for the
//! member (rendered once per event, shared by every recipient), answers
//! the client's frames (send, read, acknowledge, sync, ping) with the same use cases as
//! the REST API, and keeps the connection honest:
//! - small explicit socket buffers (4 KiB read and write; a client's frame
//!   is at most 64 KiB; the write backlog may hold one large `sync` answer,
//!   up to 16 MiB);
//! - a bounded event queue per connection: a reader that falls behind is
//!   dropped (close code 4008), never waited for;
//! - a ping every 30 s; a connection silent for 90 s is closed;
//! - app messages pushed are recorded as delivered every 2 s (statistics);
//! - caps on connections per member and per IP address, and a frame-rate
//!   budget per connection.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use qiye_app::messaging::{Push, PushEvent, Subscription};
use qiye_app::session::SignedInMember;
use qiye_domain::message::{ConvId, Seq};
use qiye_wecom::ErrCode;
use serde::{Deserialize, Serialize};

use super::chat::wire::{EntryView, SendRequest, SyncRequest, SyncedView};
use super::chat::{run_sync, send_message};
use super::error::V1Error;
use super::extract::{TokenSource, presented_token_with_source};
use crate::AppState;
use crate::extract::client_ip;

/// The gateway's limits.
#[derive(Debug, Clone)]
pub struct GatewayLimits {
    /// Live connections one member may have on a node.
    pub per_member: usize,
    /// Live connections one IP address may have on a node.
    pub per_ip: usize,
    /// Frames a connection may send per second, sustained.
    pub frames_per_sec: u32,
    /// Frames a connection may send at once.
    pub frame_burst: u32,
    /// How often the server pings.
    pub heartbeat: Duration,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for GatewayLimits {
    fn default() -> Self {
        Self {
            per_member: 10,
            per_ip: 20_000,
            frames_per_sec: 200,
            frame_burst: 400,
            heartbeat: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
        }
    }
}

/// Bytes of the socket's read and write buffers.
const SOCKET_BUFFER: usize = 4 * 1024;
/// Largest frame and message a client may send.
const MAX_FRAME: usize = 64 * 1024;
/// Largest unsent backlog: a `sync` answer can be a few MB (500 entries in
/// each of many conversations); it is built and sent whole.
const MAX_WRITE_BACKLOG: usize = 16 * 1024 * 1024;
/// Close code for a connection dropped as a slow reader.
const CLOSE_SLOW_READER: u16 = 4008;
/// Close code for a connection closed for silence.
const CLOSE_IDLE: u16 = 4000;
/// How often pushed entries are recorded as delivered.
const DELIVERY_FLUSH: Duration = Duration::from_secs(2);
/// At most this many queued pushes share one flush.
const PUSH_BATCH: usize = 64;

/// The gateway's state on a node: its limits and the connections per IP.
#[derive(Debug, Default)]
pub struct Gateway {
    /// The limits.
    pub limits: GatewayLimits,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Gateway {
    /// A gateway with these limits.
    pub fn new(limits: GatewayLimits) -> Self {
        Self {
            limits,
            per_ip: Mutex::default(),
        }
    }

    /// Counts a connection from `ip`, unless the IP is at its cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= self.limits.per_ip {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            gateway: self.clone(),
            ip,
        })
    }
}

/// A connection counted against its IP; uncounted when dropped.
struct IpSlot {
    gateway: Arc<Gateway>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut per_ip = self
            .gateway
            .per_ip
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// A WebSocket upgrade authenticated by the cookie must come from a page of
/// this server: its `Origin`'s host (and port) equal to the `Host` it was
/// sent to (870005 otherwise). Browsers send cookies with cross-site
/// WebSocket upgrades, and the WebSocket has no CSRF header.
fn check_same_origin(parts: &Parts) -> Result<(), V1Error> {
    let header_text = |name: axum::http::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    let host = header_text(axum::http::header::HOST);
    let origin_host = header_text(axum::http::header::ORIGIN).and_then(|origin| {
        origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/').to_owned())
    });
    match (host, origin_host) {
        (Some(host), Some(origin)) if host == origin => Ok(()),
        _ => Err(V1Error::new(
            ErrCode::CsrfRejected,
            "a WebSocket signed in by cookie must come from this server's own origin",
        )),
    }
}

/// The member of a WebSocket request: the session from the `Authorization`
/// header or the cookie (browsers send it; then the `Origin` must be this
/// server's), else from `?token=` (clients that cannot set headers on a
/// WebSocket).
pub struct WsMember(pub SignedInMember, pub IpAddr);

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for WsMember {
    type Rejection = V1Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, V1Error> {
        let ip = client_ip(parts);
        let presented = presented_token_with_source(parts);
        if let Some((_, TokenSource::Cookie)) = &presented {
            check_same_origin(parts)?;
        }
        let token = presented.map(|(token, _)| token).or_else(|| {
            Query::<TokenQuery>::try_from_uri(&parts.uri)
                .ok()
                .and_then(|q| q.0.token)
        });
        let session = state
            .services
            .authenticate_session(token.as_deref(), Some(ip))
            .await?;
        Ok(WsMember(session.active()?, ip))
    }
}

/// Frames a client sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientFrame {
    Send {
        id: String,
        conv: String,
        #[serde(flatten)]
        message: SendRequest,
    },
    Read {
        #[serde(default)]
        id: Option<String>,
        conv: String,
        seq: Seq,
    },
    Sync {
        #[serde(default)]
        id: Option<String>,
        #[serde(flatten)]
        request: SyncRequest,
    },
    /// Acknowledges an urgent message (stops its e-mail/SMS escalation and
    /// moves the read cursor to it).
    Acknowledge {
        #[serde(default)]
        id: Option<String>,
        conv: String,
        seq: Seq,
    },
    Ping,
    Watch {
        users: Vec<String>,
    },
}

/// Frames the server sends in answer to a client's frame.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ReplyFrame {
    Ack {
        id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        entry: Option<Box<EntryView>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        read_seq: Option<Seq>,
    },
    Sync {
        id: Option<String>,
        conversations: Vec<SyncedView>,
    },
    Pong,
    Presence {
        online: Vec<String>,
        offline: Vec<String>,
    },
    Error {
        id: Option<String>,
        errcode: i64,
        errmsg: String,
    },
}

/// Frames the server pushes.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum PushFrame<'a> {
    Entry {
        entry: Box<EntryView>,
    },
    Read {
        conv: &'a str,
        userid: &'a str,
        seq: Seq,
    },
    Presence {
        online: Vec<String>,
        offline: Vec<String>,
    },
}

/// Renders a pushed event (once per event; every recipient gets the bytes).
fn render_push(event: &PushEvent) -> String {
    let frame = match event {
        PushEvent::Entry(e) => PushFrame::Entry {
            entry: Box::new(EntryView::from(e)),
        },
        PushEvent::Read { conv, userid, seq } => PushFrame::Read {
            conv: conv.as_str(),
            userid: userid.as_str(),
            seq: *seq,
        },
        PushEvent::Presence { online, offline } => PushFrame::Presence {
            online: online.iter().map(ToString::to_string).collect(),
            offline: offline.iter().map(ToString::to_string).collect(),
        },
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

fn to_text<T: Serialize>(frame: &T) -> Message {
    Message::Text(serde_json::to_string(frame).unwrap_or_default().into())
}

fn error_frame(id: Option<String>, err: V1Error) -> ReplyFrame {
    ReplyFrame::Error {
        id,
        errcode: err.0.code.code(),
        errmsg: err.0.message(),
    }
}

/// `GET /api/v1/ws`: upgrades a signed-in member's request.
#[utoipa::path(get, path = "/api/v1/ws", tag = "chat",
    params(("token" = Option<String>, Query, description = "the session token, when no header or cookie carries it")),
    responses((status = 101, description = "WebSocket; frames in docs/protocol.md"),
              (status = 429, description = "45009 too many connections for the member or address")))]
pub async fn connect(
    State(state): State<AppState>,
    WsMember(who, ip): WsMember,
    upgrade: WebSocketUpgrade,
) -> Response {
    let limits = &state.gateway.limits;
    if state
        .services
        .hub()
        .connections_of(who.corp(), who.userid())
        >= limits.per_member
    {
        return V1Error::new(
            ErrCode::ApiFreqOutOfLimit,
            "too many connections for this member",
        )
        .into_response();
    }
    let Some(slot) = state.gateway.admit(ip) else {
        return V1Error::new(
            ErrCode::ApiFreqOutOfLimit,
            "too many connections from this address",
        )
        .into_response();
    };
    upgrade
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BACKLOG)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            let subscription = state.services.subscribe(who.corp(), who.userid());
            Connection {
                state,
                who,
                socket,
                subscription,
                delivered: HashMap::new(),
                _slot: slot,
            }
            .run()
            .await;
        })
}

/// A frame-rate budget: `burst` frames at once, refilled at `rate` per
/// second.
struct Budget {
    tokens: f64,
    rate: f64,
    burst: f64,
    at: Instant,
}

impl Budget {
    fn new(rate: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Connection {
    state: AppState,
    who: SignedInMember,
    socket: WebSocket,
    subscription: Subscription,
    /// The last sequence pushed per conversation since the last flush.
    delivered: HashMap<ConvId, Seq>,
    _slot: IpSlot,
}

/// Why a connection ended.
enum End {
    Closed,
    SlowReader,
    Idle,
}

impl Connection {
    async fn run(mut self) {
        let limits = self.state.gateway.limits.clone();
        let mut heartbeat = tokio::time::interval(limits.heartbeat);
        heartbeat.tick().await;
        let mut flush = tokio::time::interval(DELIVERY_FLUSH);
        let mut last_heard = Instant::now();
        let mut budget = Budget::new(limits.frames_per_sec, limits.frame_burst);
        let hello = serde_json::json!({
            "type": "hello",
            "userid": self.who.userid().as_str(),
            "heartbeat_secs": limits.heartbeat.as_secs(),
        });
        let end = if self.socket.send(to_text(&hello)).await.is_err() {
            End::Closed
        } else {
            loop {
                tokio::select! {
                    biased;
                    () = self.subscription.state.dropped() => break End::SlowReader,
                    event = self.subscription.events.recv() => {
                        let Some(push) = event else { break End::Closed };
                        if self.push_queued(push).await.is_err() {
                            break End::Closed;
                        }
                    }
                    frame = self.socket.recv() => {
                        let Some(Ok(frame)) = frame else { break End::Closed };
                        last_heard = Instant::now();
                        match frame {
                            Message::Text(text) => {
                                let reply = if budget.take() {
                                    match qiye_wecom::wire::parse_body::<ClientFrame>(text.as_bytes()) {
                                        Err(e) => error_frame(None, V1Error(e.into())),
                                        Ok(ClientFrame::Watch { users }) => self.watch(&users),
                                        Ok(frame) => answer(&self.state, &self.who, frame).await,
                                    }
                                } else {
                                    error_frame(None, V1Error::new(ErrCode::ApiFreqOutOfLimit, "too many frames"))
                                };
                                if self.socket.send(to_text(&reply)).await.is_err() {
                                    break End::Closed;
                                }
                            }
                            Message::Binary(_) => {
                                let reply = error_frame(None, V1Error::new(ErrCode::InvalidJson, "frames are JSON text"));
                                if self.socket.send(to_text(&reply)).await.is_err() {
                                    break End::Closed;
                                }
                            }
                            Message::Close(_) => break End::Closed,
                            Message::Ping(_) | Message::Pong(_) => {}
                        }
                    }
                    _ = heartbeat.tick() => {
                        if last_heard.elapsed() > limits.idle_timeout {
                            break End::Idle;
                        }
                        if self.socket.send(Message::Ping(Default::default())).await.is_err() {
                            break End::Closed;
                        }
                    }
                    _ = flush.tick() => self.flush_delivered().await,
                }
            }
        };
        self.flush_delivered().await;
        let close = match end {
            End::Closed => None,
            End::SlowReader => Some((CLOSE_SLOW_READER, "slow reader: reconnect and sync")),
            End::Idle => Some((CLOSE_IDLE, "idle")),
        };
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = self.socket.send(Message::Close(Some(frame))).await;
        }
    }

    /// Writes `first` and whatever else is already queued (up to
    /// [`PUSH_BATCH`]) with one flush: under load a connection's frames
    /// share write calls instead of costing one each.
    async fn push_queued(&mut self, first: Arc<Push>) -> Result<(), axum::Error> {
        let mut next = Some(first);
        let mut batched = 0;
        while let Some(push) = next.take() {
            self.note_delivery(&push);
            let text = Utf8Bytes::try_from(push.encoded(render_push)).unwrap_or_default();
            self.socket.feed(Message::Text(text)).await?;
            batched += 1;
            if batched < PUSH_BATCH {
                next = self.subscription.events.try_recv().ok();
            }
        }
        self.socket.flush().await
    }

    /// Deliveries feed the statistics, which count app messages: only
    /// those are noted (a write per connection and flush, so chat traffic
    /// adds none).
    fn note_delivery(&mut self, push: &Push) {
        if let PushEvent::Entry(e) = &push.event {
            if matches!(e.sender, qiye_domain::message::Sender::App(_)) {
                let seq = self.delivered.entry(e.conv.clone()).or_insert(0);
                *seq = (*seq).max(e.seq);
            }
        }
    }

    /// Watches members' presence: answers who is online now; changes follow
    /// as `presence` pushes.
    fn watch(&self, users: &[String]) -> ReplyFrame {
        let ids: Vec<qiye_domain::ids::UserId> = users
            .iter()
            .filter_map(|u| qiye_domain::ids::UserId::parse(u).ok())
            .collect();
        let (online, offline) = self.subscription.watch(&ids);
        let names = |v: Vec<qiye_domain::ids::UserId>| v.iter().map(ToString::to_string).collect();
        ReplyFrame::Presence {
            online: names(online),
            offline: names(offline),
        }
    }

    async fn flush_delivered(&mut self) {
        if self.delivered.is_empty() {
            return;
        }
        let upto: Vec<(ConvId, Seq)> = self.delivered.drain().collect();
        if let Err(err) = self.state.services.record_delivery(&self.who, &upto).await {
            tracing::warn!(%err, "could not record deliveries");
        }
    }
}

/// Answers a frame that moves a read cursor (`read`, `acknowledge`) with
/// where the cursor is now.
async fn cursor_reply<F, Fut>(id: Option<String>, conv: &str, op: F) -> ReplyFrame
where
    F: FnOnce(ConvId) -> Fut,
    Fut: std::future::Future<Output = qiye_app::AppResult<Seq>>,
{
    let result = match ConvId::parse(conv) {
        Ok(conv) => op(conv).await.map_err(V1Error::from),
        Err(_) => Err(V1Error::new(ErrCode::ChatNotFound, conv.to_owned())),
    };
    match result {
        Ok(read_seq) => ReplyFrame::Ack {
            id,
            entry: None,
            read_seq: Some(read_seq),
        },
        Err(e) => error_frame(id, e),
    }
}

/// Answers one client frame.
async fn answer(state: &AppState, who: &SignedInMember, frame: ClientFrame) -> ReplyFrame {
    match frame {
        ClientFrame::Ping => ReplyFrame::Pong,
        // The connection answers `watch` itself (it holds the subscription).
        ClientFrame::Watch { .. } => error_frame(
            None,
            V1Error::new(
                ErrCode::InvalidRequestParameter,
                "watch is answered by the connection",
            ),
        ),
        ClientFrame::Send { id, conv, message } => {
            let mut message = message;
            message.client_id.get_or_insert_with(|| id.clone());
            let result = match ConvId::parse(&conv) {
                Ok(conv) => send_message(state, who, &conv, message).await,
                Err(_) => Err(V1Error::new(ErrCode::ChatNotFound, conv)),
            };
            match result {
                Ok(entry) => ReplyFrame::Ack {
                    id: Some(id),
                    entry: Some(Box::new(EntryView::from(&entry))),
                    read_seq: None,
                },
                Err(e) => error_frame(Some(id), e),
            }
        }
        ClientFrame::Acknowledge { id, conv, seq } => {
            cursor_reply(id, &conv, |conv| async move {
                state.services.acknowledge_urgent(who, &conv, seq).await
            })
            .await
        }
        ClientFrame::Read { id, conv, seq } => {
            cursor_reply(id, &conv, |conv| async move {
                state.services.mark_read(who, &conv, seq).await
            })
            .await
        }
        ClientFrame::Sync { id, request } => match run_sync(state, who, request).await {
            Ok(reply) => ReplyFrame::Sync {
                id,
                conversations: reply.conversations,
            },
            Err(e) => error_frame(id, e),
        },
    }
}

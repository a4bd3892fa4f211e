//! The in-process fan-out: which member has which live connections on this
//! node, and handing each committed event to them without ever waiting.
//!
//! Every connection has a bounded queue. Delivery is `try_send`: a
//! connection whose queue is full is a slow reader; it is marked dropped
//! and woken so the gateway closes it (the client reconnects and pulls what
//! it missed from the database by sequence). A sender never blocks on a
//! reader, and memory per connection is bounded by its queue.
//!
//! Events are shared (`Arc<Push>`), and their wire form is rendered once
//! per event, not once per recipient ([`Push::encoded`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::message::{ConvId, Entry, Seq};
use tokio::sync::{Notify, mpsc};

/// What is pushed to members' connections.
// Events travel inside an `Arc<Push>`, allocated once per event: boxing the
// large variant would add a second allocation and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// A committed entry of a conversation.
    Entry(Entry),
    /// A member's read cursor moved (read receipts).
    Read {
        /// The conversation.
        conv: ConvId,
        /// Who read.
        userid: UserId,
        /// Up to where.
        seq: Seq,
    },
    /// Members came online or went offline (coalesced per flush).
    Presence {
        /// Who is online now.
        online: Vec<UserId>,
        /// Who went offline.
        offline: Vec<UserId>,
    },
}

/// One event for a set of members of a corp.
#[derive(Debug)]
pub struct Push {
    /// The corp.
    pub corp: CorpId,
    /// Who receives it.
    pub recipients: Arc<[UserId]>,
    /// What happened.
    pub event: PushEvent,
    /// The event's wire form, rendered by the first connection that sends
    /// it and shared by the others.
    encoded: OnceLock<Bytes>,
}

impl Push {
    /// An event for these members.
    pub fn new(corp: CorpId, recipients: Arc<[UserId]>, event: PushEvent) -> Self {
        Self {
            corp,
            recipients,
            event,
            encoded: OnceLock::new(),
        }
    }

    /// The wire form, rendered once by `render` (cloning it is cheap).
    pub fn encoded(&self, render: impl FnOnce(&PushEvent) -> String) -> Bytes {
        self.encoded
            .get_or_init(|| Bytes::from(render(&self.event)))
            .clone()
    }
}

/// One live connection, as the hub sees it.
#[derive(Debug)]
struct Slot {
    id: u64,
    tx: mpsc::Sender<Arc<Push>>,
    shared: Arc<ConnectionState>,
}

/// State shared between the hub and the gateway's connection task.
#[derive(Debug, Default)]
pub struct ConnectionState {
    dropped: AtomicBool,
    kick: Notify,
}

impl ConnectionState {
    /// Whether the hub dropped the connection (its queue overflowed).
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Resolves when the hub drops the connection.
    pub async fn dropped(&self) {
        loop {
            let notified = self.kick.notified();
            if self.is_dropped() {
                return;
            }
            notified.await;
        }
    }

    fn drop_now(&self) {
        self.dropped.store(true, Ordering::Release);
        self.kick.notify_waiters();
    }
}

/// A registered connection: its queue's receiving end and its state. It is
/// unregistered when dropped.
pub struct Subscription {
    hub: Arc<Hub>,
    corp: CorpId,
    userid: UserId,
    id: u64,
    /// The connection's own queue, for the presence pushes it watches.
    own: mpsc::Sender<Arc<Push>>,
    /// Events for this connection.
    pub events: mpsc::Receiver<Arc<Push>>,
    /// Whether the hub dropped it.
    pub state: Arc<ConnectionState>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("userid", &self.userid)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Watches these members' presence (replacing the previous list);
    /// answers who of them is online and offline now.
    pub fn watch(&self, users: &[UserId]) -> (Vec<UserId>, Vec<UserId>) {
        self.hub.watch(self, users)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(&self.corp, &self.userid, self.id);
    }
}

/// What one delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Connections that got the event queued.
    pub queued: usize,
    /// Connections dropped because their queue was full.
    pub dropped: usize,
}

/// Presence changes since the last flush.
#[derive(Debug, Default)]
struct PresenceChanges {
    online: Vec<(CorpId, UserId)>,
    offline: Vec<(CorpId, UserId)>,
}

/// Most members one connection may watch.
pub const MAX_WATCHED: usize = 500;

/// A connection that watches a member's presence.
#[derive(Debug, Clone)]
struct Watcher {
    conn: u64,
    owner: UserId,
    tx: mpsc::Sender<Arc<Push>>,
    shared: Arc<ConnectionState>,
}

/// Live connections per member on this node, and who watches whose
/// presence.
#[derive(Debug, Default)]
pub struct Hub {
    members: RwLock<HashMap<CorpId, HashMap<UserId, Vec<Slot>>>>,
    next_id: AtomicU64,
    connections: AtomicU64,
    presence: std::sync::Mutex<PresenceChanges>,
    /// Per watched member, the connections watching them.
    watchers: RwLock<HashMap<(CorpId, UserId), Vec<Watcher>>>,
    /// Per connection, whom it watches (to undo on a new list or at close).
    watching: std::sync::Mutex<HashMap<u64, Vec<(CorpId, UserId)>>>,
}

impl Hub {
    /// Registers a connection of a member with a queue of `capacity`
    /// events.
    pub fn register(
        self: &Arc<Self>,
        corp: &CorpId,
        userid: &UserId,
        capacity: usize,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let tx_for_watch = tx.clone();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState::default());
        let came_online = {
            let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
            let slots = members
                .entry(corp.clone())
                .or_default()
                .entry(userid.clone())
                .or_default();
            slots.push(Slot {
                id,
                tx,
                shared: state.clone(),
            });
            slots.len() == 1
        };
        self.connections.fetch_add(1, Ordering::Relaxed);
        if came_online {
            let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            p.online.push((corp.clone(), userid.clone()));
        }
        Subscription {
            hub: self.clone(),
            corp: corp.clone(),
            userid: userid.clone(),
            id,
            own: tx_for_watch,
            events: rx,
            state,
        }
    }

    /// Replaces whom a connection watches (at most [`MAX_WATCHED`] of its
    /// corp's members; more are ignored) and answers who of them is online
    /// and offline now. Later changes come as coalesced presence pushes.
    fn watch(&self, sub: &Subscription, users: &[UserId]) -> (Vec<UserId>, Vec<UserId>) {
        self.unwatch(sub.id);
        let users: Vec<UserId> = users.iter().take(MAX_WATCHED).cloned().collect();
        {
            let mut watchers = self.watchers.write().unwrap_or_else(|e| e.into_inner());
            for u in &users {
                watchers
                    .entry((sub.corp.clone(), u.clone()))
                    .or_default()
                    .push(Watcher {
                        conn: sub.id,
                        owner: sub.userid.clone(),
                        tx: sub.own.clone(),
                        shared: sub.state.clone(),
                    });
            }
        }
        let keys = users
            .iter()
            .map(|u| (sub.corp.clone(), u.clone()))
            .collect();
        self.watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sub.id, keys);
        users
            .into_iter()
            .partition(|u| self.is_online(&sub.corp, u))
    }

    fn unwatch(&self, conn: u64) {
        let keys = self
            .watching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn)
            .unwrap_or_default();
        if keys.is_empty() {
            return;
        }
        let mut watchers = self.watchers.write().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            if let Some(list) = watchers.get_mut(&key) {
                list.retain(|w| w.conn != conn);
                if list.is_empty() {
                    watchers.remove(&key);
                }
            }
        }
    }

    /// Pushes the presence changes since the last flush to the connections
    /// watching those members, one push per connection with all its
    /// changes (a member who came and went in between is reported by
    /// where they are now). Answers how many pushes were queued.
    pub fn flush_presence(&self) -> usize {
        let changes = self.take_presence();
        if changes.is_empty() {
            return 0;
        }
        let mut per_conn: HashMap<u64, (CorpId, Watcher, Vec<UserId>, Vec<UserId>)> =
            HashMap::new();
        {
            let watchers = self.watchers.read().unwrap_or_else(|e| e.into_inner());
            for (corp, online, offline) in changes {
                let both = online
                    .into_iter()
                    .map(|u| (u, true))
                    .chain(offline.into_iter().map(|u| (u, false)));
                for (user, is_online) in both {
                    let Some(list) = watchers.get(&(corp.clone(), user.clone())) else {
                        continue;
                    };
                    for w in list {
                        let entry = per_conn
                            .entry(w.conn)
                            .or_insert_with(|| (corp.clone(), w.clone(), Vec::new(), Vec::new()));
                        if is_online {
                            entry.2.push(user.clone());
                        } else {
                            entry.3.push(user.clone());
                        }
                    }
                }
            }
        }
        let mut queued = 0;
        for (_, (corp, w, online, offline)) in per_conn {
            if w.shared.is_dropped() {
                continue;
            }
            let push = Arc::new(Push::new(
                corp,
                Arc::from(vec![w.owner.clone()]),
                PushEvent::Presence { online, offline },
            ));
            match w.tx.try_send(push) {
                Ok(()) => queued += 1,
                Err(mpsc::error::TrySendError::Full(_)) => w.shared.drop_now(),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        queued
    }

    fn unregister(&self, corp: &CorpId, userid: &UserId, id: u64) {
        self.unwatch(id);
        let went_offline = {
            let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
            let Some(users) = members.get_mut(corp) else {
                return;
            };
            let Some(slots) = users.get_mut(userid) else {
                return;
            };
            slots.retain(|s| s.id != id);
            let empty = slots.is_empty();
            if empty {
                users.remove(userid);
                if users.is_empty() {
                    members.remove(corp);
                }
            }
            empty
        };
        self.connections.fetch_sub(1, Ordering::Relaxed);
        if went_offline {
            let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            p.offline.push((corp.clone(), userid.clone()));
        }
    }

    /// Queues an event on every connection of its recipients on this node.
    /// Never waits: a full queue drops that connection.
    pub fn deliver(&self, push: &Arc<Push>) -> Delivered {
        let mut done = Delivered::default();
        let members = self.members.read().unwrap_or_else(|e| e.into_inner());
        let Some(users) = members.get(&push.corp) else {
            return done;
        };
        for userid in push.recipients.iter() {
            let Some(slots) = users.get(userid) else {
                continue;
            };
            for slot in slots {
                if slot.shared.is_dropped() {
                    continue;
                }
                match slot.tx.try_send(push.clone()) {
                    Ok(()) => done.queued += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        slot.shared.drop_now();
                        done.dropped += 1;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        done
    }

    /// A member's live connections on this node.
    pub fn connections_of(&self, corp: &CorpId, userid: &UserId) -> usize {
        let members = self.members.read().unwrap_or_else(|e| e.into_inner());
        members
            .get(corp)
            .and_then(|users| users.get(userid))
            .map_or(0, Vec::len)
    }

    /// Whether a member has a live connection on this node.
    pub fn is_online(&self, corp: &CorpId, userid: &UserId) -> bool {
        let members = self.members.read().unwrap_or_else(|e| e.into_inner());
        members
            .get(corp)
            .is_some_and(|users| users.contains_key(userid))
    }

    /// Live connections on this node.
    pub fn connection_count(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Takes the presence changes since the last call, per corp, with a
    /// member who came and went (or went and came) in between reported by
    /// where they are now.
    pub fn take_presence(&self) -> Vec<(CorpId, Vec<UserId>, Vec<UserId>)> {
        let changes = {
            let mut p = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *p)
        };
        let mut per_corp: HashMap<CorpId, (Vec<UserId>, Vec<UserId>)> = HashMap::new();
        let touched = changes.online.into_iter().chain(changes.offline);
        for (corp, userid) in touched {
            let now_online = self.is_online(&corp, &userid);
            let (on, off) = per_corp.entry(corp).or_default();
            let list = if now_online { on } else { off };
            if !list.contains(&userid) {
                list.push(userid);
            }
        }
        per_corp
            .into_iter()
            .map(|(corp, (on, off))| (corp, on, off))
            .collect()
    }
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

    fn push(to: &[&str]) -> Arc<Push> {
        let recipients: Arc<[UserId]> = to.iter().map(|u| user(u)).collect();
        Arc::new(Push::new(
            corp(),
            recipients,
            PushEvent::Presence {
                online: vec![],
                offline: vec![],
            },
        ))
    }

    #[tokio::test]
    async fn events_reach_every_connection_of_each_recipient() {
        let hub = Arc::new(Hub::default());
        let mut a1 = hub.register(&corp(), &user("alice"), 4);
        let mut a2 = hub.register(&corp(), &user("alice"), 4);
        let mut b = hub.register(&corp(), &user("bob"), 4);
        let done = hub.deliver(&push(&["alice", "carol"]));
        assert_eq!(
            done,
            Delivered {
                queued: 2,
                dropped: 0
            }
        );
        assert!(a1.events.try_recv().is_ok());
        assert!(a2.events.try_recv().is_ok());
        assert!(b.events.try_recv().is_err());
        assert_eq!(hub.connection_count(), 3);
        assert_eq!(hub.connections_of(&corp(), &user("alice")), 2);
        drop(b);
        assert_eq!(hub.connection_count(), 2);
        assert!(!hub.is_online(&corp(), &user("bob")));
    }

    #[tokio::test]
    async fn a_slow_reader_is_dropped_and_never_blocks_the_sender() {
        let hub = Arc::new(Hub::default());
        let slow = hub.register(&corp(), &user("slow"), 2);
        let mut fast = hub.register(&corp(), &user("fast"), 100);
        for _ in 0..2 {
            hub.deliver(&push(&["slow", "fast"]));
        }
        assert!(!slow.state.is_dropped());
        let third = hub.deliver(&push(&["slow", "fast"]));
        assert_eq!(
            third,
            Delivered {
                queued: 1,
                dropped: 1
            }
        );
        assert!(slow.state.is_dropped());
        slow.state.dropped().await;
        let fourth = hub.deliver(&push(&["slow", "fast"]));
        assert_eq!(
            fourth,
            Delivered {
                queued: 1,
                dropped: 0
            },
            "a dropped reader gets nothing more"
        );
        let mut got = 0;
        while fast.events.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 4);
    }

    #[tokio::test]
    async fn presence_is_coalesced_per_flush() {
        let hub = Arc::new(Hub::default());
        let a = hub.register(&corp(), &user("alice"), 1);
        let b = hub.register(&corp(), &user("bob"), 1);
        let b2 = hub.register(&corp(), &user("bob"), 1);
        drop(b);
        let changes = hub.take_presence();
        assert_eq!(changes.len(), 1);
        let (_, mut online, offline) = changes.into_iter().next().unwrap();
        online.sort();
        assert_eq!(online, vec![user("alice"), user("bob")]);
        assert!(offline.is_empty());
        drop(a);
        drop(b2);
        let (_, online, mut offline) = hub.take_presence().into_iter().next().unwrap();
        offline.sort();
        assert!(online.is_empty());
        assert_eq!(offline, vec![user("alice"), user("bob")]);
        assert!(hub.take_presence().is_empty());
    }

    #[tokio::test]
    async fn watchers_get_one_coalesced_push_per_flush() {
        let hub = Arc::new(Hub::default());
        let mut watcher = hub.register(&corp(), &user("w"), 8);
        let bob = hub.register(&corp(), &user("bob"), 8);
        let (online, offline) = watcher.watch(&[user("bob"), user("carol")]);
        assert_eq!((online, offline), (vec![user("bob")], vec![user("carol")]));
        hub.take_presence();
        let carol = hub.register(&corp(), &user("carol"), 8);
        drop(bob);
        let _dave = hub.register(&corp(), &user("dave"), 8);
        assert_eq!(
            hub.flush_presence(),
            1,
            "one push for the one watching connection"
        );
        let push = watcher.events.try_recv().expect("presence push");
        assert_eq!(
            push.event,
            PushEvent::Presence {
                online: vec![user("carol")],
                offline: vec![user("bob")],
            }
        );
        assert!(watcher.events.try_recv().is_err(), "dave is not watched");
        assert_eq!(hub.flush_presence(), 0, "nothing new");
        watcher.watch(&[]);
        drop(carol);
        assert_eq!(hub.flush_presence(), 0, "no longer watching");
        drop(watcher);
        assert!(hub.watchers.read().unwrap().is_empty());
    }

    #[test]
    fn the_wire_form_is_rendered_once() {
        let p = push(&["alice"]);
        let mut renders = 0;
        for _ in 0..3 {
            let s = p.encoded(|_| {
                renders += 1;
                "x".to_owned()
            });
            assert_eq!(&s[..], b"x");
        }
        assert_eq!(renders, 1);
    }
}

//! The audit log: one append-only record for every mutating call, whether it
//! came through the API or the CLI, and whether it succeeded or not.

use std::fmt;
use std::net::IpAddr;

use crate::clock::UnixMillis;
use crate::credential::CredentialKind;
use crate::ids::{AgentId, CorpId, UserId};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A token obtained with an app's secret.
    App(AgentId),
    /// A token obtained with the contacts-sync secret.
    ContactSync,
    /// An administrator signed in to the console.
    Admin(UserId),
    /// A member acting for themselves.
    Member(UserId),
    /// The `qiye` command line, run by this operating-system user.
    Cli(String),
    /// The server itself (first-start bootstrap, background jobs).
    System,
}

/// An actor text that storage could not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown actor '{kind}:{id}'")]
pub struct UnknownActor {
    /// Stored kind.
    pub kind: String,
    /// Stored id.
    pub id: String,
}

impl Actor {
    /// The actor behind a token.
    pub fn for_credential(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::ContactSync => Actor::ContactSync,
            CredentialKind::App(agentid) => Actor::App(agentid),
        }
    }

    /// Stable (kind, id) pair for storage.
    pub fn storage_parts(&self) -> (&'static str, String) {
        match self {
            Actor::App(agentid) => ("app", agentid.to_string()),
            Actor::ContactSync => ("contact_sync", String::new()),
            Actor::Admin(userid) => ("admin", userid.to_string()),
            Actor::Member(userid) => ("member", userid.to_string()),
            Actor::Cli(os_user) => ("cli", os_user.clone()),
            Actor::System => ("system", String::new()),
        }
    }

    /// Rebuilds an actor from [`Actor::storage_parts`].
    pub fn from_storage_parts(kind: &str, id: &str) -> Result<Self, UnknownActor> {
        let unknown = || UnknownActor {
            kind: kind.to_owned(),
            id: id.to_owned(),
        };
        Ok(match kind {
            "app" => Actor::App(
                id.parse::<i64>()
                    .ok()
                    .and_then(|n| AgentId::new(n).ok())
                    .ok_or_else(unknown)?,
            ),
            "contact_sync" => Actor::ContactSync,
            "admin" => Actor::Admin(UserId::parse(id).map_err(|_| unknown())?),
            "member" => Actor::Member(UserId::parse(id).map_err(|_| unknown())?),
            "cli" => Actor::Cli(id.to_owned()),
            "system" => Actor::System,
            _ => return Err(unknown()),
        })
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.storage_parts() {
            (kind, id) if id.is_empty() => f.write_str(kind),
            (kind, id) => write!(f, "{kind}:{id}"),
        }
    }
}

/// How the call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It changed what it meant to change.
    Succeeded,
    /// It was refused or failed and changed nothing; the reason is a short
    /// machine-readable text such as `errcode 60011`.
    Failed(String),
}

impl Outcome {
    /// Storage text: `ok` or the failure reason.
    pub fn storage_text(&self) -> &str {
        match self {
            Outcome::Succeeded => "ok",
            Outcome::Failed(reason) => reason,
        }
    }

    /// Rebuilds from [`Outcome::storage_text`].
    pub fn from_storage_text(text: &str) -> Self {
        if text == "ok" {
            Outcome::Succeeded
        } else {
            Outcome::Failed(text.to_owned())
        }
    }
}

/// One audit record before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When.
    pub at: UnixMillis,
    /// In which corp.
    pub corp_id: CorpId,
    /// Who.
    pub actor: Actor,
    /// From where, when it came over the network.
    pub client_ip: Option<IpAddr>,
    /// What, as `area.verb` (`corp.create`, `agent.set`, ...).
    pub action: String,
    /// On what (`agent:1000002`, `corp:ww...`).
    pub target: String,
    /// With what result.
    pub outcome: Outcome,
}

/// A stored audit record with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub seq: i64,
    /// The record.
    pub record: AuditRecord,
}

/// Whether a listing wants successes or failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    /// Only `ok` records.
    Succeeded,
    /// Only refused or failed records.
    Failed,
}

/// A page of a corp's audit log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Actor kind and id (`member:alice`), or with no kind any actor with
    /// this id (`alice`).
    pub actor: Option<String>,
    /// An action (`session.create`), or a prefix ending in `*` (`session.*`).
    pub action: Option<String>,
    /// Successes or failures only.
    pub outcome: Option<OutcomeFilter>,
    /// At or after (ms).
    pub from: Option<UnixMillis>,
    /// Before (ms).
    pub to: Option<UnixMillis>,
    /// Only records older than this position (the previous page's last).
    pub before_seq: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// The most records one page of the audit log answers.
pub const AUDIT_PAGE_MAX: u32 = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_storage() {
        let actors = [
            Actor::App(AgentId::FIRST),
            Actor::ContactSync,
            Actor::Admin(UserId::parse("boss").unwrap()),
            Actor::Member(UserId::parse("zhangsan").unwrap()),
            Actor::Cli("root".into()),
            Actor::System,
        ];
        for actor in actors {
            let (kind, id) = actor.storage_parts();
            assert_eq!(Actor::from_storage_parts(kind, &id).unwrap(), actor);
        }
        assert!(Actor::from_storage_parts("robot", "").is_err());
        assert_eq!(Actor::App(AgentId::FIRST).to_string(), "app:1000002");
        assert_eq!(Actor::System.to_string(), "system");
    }

    #[test]
    fn outcomes_round_trip() {
        for o in [Outcome::Succeeded, Outcome::Failed("errcode 60011".into())] {
            assert_eq!(Outcome::from_storage_text(o.storage_text()), o);
        }
    }
}

//! The qiye domain: what a corp, an app, a credential, an access token, a plan
//! and an audit record *are*, and the rules that hold for them.
//!
//! Architecture invariant: this crate does no I/O. It knows nothing of SQL,
//! HTTP, async runtimes or the WeCom wire format; `cargo tree -p qiye-domain
//! -i sqlx` (and `-i axum`, `-i tokio`) must find nothing. Storage is reached
//! only through the port traits in [`ports`], which the store crates
//! implement.
//!
//! Domain types are deliberately not `Serialize`: the wire shapes live in
//! `qiye-wecom` and `qiye-http` and convert at the edge.

pub mod app;
pub mod approval;
pub mod audit;
pub mod callback;
pub mod clock;
pub mod corp;
pub mod credential;
pub mod device;
pub mod directory;
pub mod escalation;
pub mod ids;
pub mod job;
pub mod media;
pub mod message;
pub mod plan;
pub mod ports;
pub mod rate;
pub mod secret;
pub mod session;
pub mod token;
pub mod totp;

pub use ids::{AgentId, CorpId, DeptId, UserId};

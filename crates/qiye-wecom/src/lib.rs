//! The WeCom wire contract, which is not ours to change: the errcodes a
//! compatible server answers with ([`errcode`]) and the JSON shapes of
//! requests and responses ([`wire`]).
//!
//! Architecture invariant: nothing here knows about qiye's domain types or
//! about HTTP frameworks. Conversions between wire and domain happen in
//! `qiye-http`, at the edge.

pub mod errcode;
pub mod wire;

pub use errcode::ErrCode;

//! The WeCom wire contract, which is not ours to change: the errcodes a
//! compatible server answers with ([`errcode`]), the JSON shapes of
//! requests and responses ([`wire`]), the callback crypto ([`crypto`],
//! WXBizMsgCrypt) and the plaintext event documents pushed to callback URLs
//! ([`callback_xml`]).
//!
//! Architecture invariant: nothing here knows about qiye's domain types or
//! about HTTP frameworks. Conversions between wire and domain happen in
//! `qiye-http`, at the edge.

pub mod callback_xml;
pub mod crypto;
pub mod errcode;
pub mod wire;

pub use errcode::ErrCode;

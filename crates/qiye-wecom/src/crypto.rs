//! The WeCom callback crypto, "WXBizMsgCrypt".
//!
//! Every callback configuration has three secrets: a **token** (only used
//! in signatures), an **EncodingAESKey** (43 base64 characters; with a `=`
//! appended they decode to a 32-byte AES-256 key whose first 16 bytes are
//! also the IV) and a **receive id** (the CorpID for a corp's own apps).
//!
//! * Sealing: `random(16) ‖ len(msg) as u32 big-endian ‖ msg ‖ receive_id`
//!   is padded PKCS#7-style to a multiple of **32** bytes (1..=32 pad bytes
//!   of the pad length), encrypted with AES-256-CBC without further padding
//!   and base64-encoded (standard alphabet, with `=`).
//! * Opening reverses this and rejects anything out of shape, including a
//!   receive id other than ours.
//! * Signature: `hex(sha1(concat(sort([token, timestamp, nonce, encrypt]))))`
//!   in lower case, sorting the four strings byte-wise.
//!
//! The same scheme serves the URL verification (`echostr` is a sealed
//! random text that the receiver must answer with), every event POST (the
//! [`SealedMessage::post_body_xml`] envelope) and the receiver's passive
//! replies ([`SealedMessage::reply_xml`], read back by
//! [`CallbackCrypto::open_reply`]).

use std::fmt;
use std::fmt::Write as _;

use aes::Aes256;
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::generic_array::GenericArray;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::Rng as _;
use rand::distr::Alphanumeric;
use sha1::{Digest, Sha1};

use crate::callback_xml::{push_cdata, push_escaped};

/// The padding block size of the scheme (not AES's 16).
const PAD_BLOCK: usize = 32;
/// AES block size.
const AES_BLOCK: usize = 16;
/// Length of the random prefix.
const RANDOM_LEN: usize = 16;

/// Decodes the EncodingAESKey like Tencent's and wechatpy's Python code
/// does: unused trailing bits of the last character are ignored.
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The 32-byte AES key of an EncodingAESKey (43 characters of the standard
/// base64 alphabet).
fn decode_aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    let key_chars_ok = encoding_aes_key.len() == 43
        && encoding_aes_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    if !key_chars_ok {
        return Err(CryptoError::IllegalAesKey);
    }
    let decoded = KEY_ENGINE
        .decode(format!("{encoding_aes_key}="))
        .map_err(|_| CryptoError::IllegalAesKey)?;
    decoded.try_into().map_err(|_| CryptoError::IllegalAesKey)
}

/// Encryption of export files (`export/*`): AES-256-CBC under the
/// request's EncodingAESKey, IV = the key's first 16 bytes, PKCS#7 padding
/// to 32-byte blocks, as callbacks use, but with no random prefix, length
/// or receive id: the file is the ciphertext of the JSON document, raw.
#[derive(Clone)]
pub struct FileCipher {
    key: [u8; 32],
}

impl fmt::Debug for FileCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileCipher(<redacted>)")
    }
}

impl FileCipher {
    /// The cipher of an EncodingAESKey.
    pub fn new(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        Ok(Self {
            key: decode_aes_key(encoding_aes_key)?,
        })
    }

    fn iv(&self) -> GenericArray<u8, aes::cipher::consts::U16> {
        GenericArray::clone_from_slice(&self.key[..AES_BLOCK])
    }

    /// Encrypts a file.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let pad = PAD_BLOCK - plaintext.len() % PAD_BLOCK;
        let mut buf = Vec::with_capacity(plaintext.len() + pad);
        buf.extend_from_slice(plaintext);
        // `pad` is 1..=32, so it fits a byte.
        buf.resize(plaintext.len() + pad, pad as u8);
        let mut cipher = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv());
        for block in buf.chunks_exact_mut(AES_BLOCK) {
            cipher.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        buf
    }

    /// Decrypts a file sealed with the same key.
    pub fn open(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 {
            return Err(CryptoError::CiphertextLength(ciphertext.len()));
        }
        let mut buf = ciphertext.to_vec();
        let mut cipher = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv());
        for block in buf.chunks_exact_mut(AES_BLOCK) {
            cipher.decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        let pad_byte = buf[buf.len() - 1];
        let pad = usize::from(pad_byte);
        if !(1..=PAD_BLOCK).contains(&pad)
            || pad > buf.len()
            || buf[buf.len() - pad..].iter().any(|&b| b != pad_byte)
        {
            return Err(CryptoError::BadPadding);
        }
        buf.truncate(buf.len() - pad);
        Ok(buf)
    }
}

/// Why a callback could not be sealed, verified or opened. Each variant maps
/// to the error code of Tencent's reference implementation (`ierror`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The signature does not match (-40001).
    #[error("signature mismatch")]
    InvalidSignature,
    /// An envelope lacks an element or is malformed (-40002).
    #[error("cannot read <{0}> from the XML envelope")]
    ParseXml(&'static str),
    /// The token is not 1 to 32 ASCII letters and digits (-40003, Tencent's
    /// "compute signature" error: the token is an input of every signature).
    #[error("token must be 1 to 32 ASCII letters or digits")]
    InvalidToken,
    /// The EncodingAESKey is not 43 base64 characters decoding to 32 bytes
    /// (-40004).
    #[error("EncodingAESKey must be 43 base64 characters")]
    IllegalAesKey,
    /// The message was sealed for another receive id (-40005).
    #[error("receive id mismatch")]
    ReceiveIdMismatch,
    /// The ciphertext is not a whole number of AES blocks or too short to
    /// hold a message (-40007).
    #[error("ciphertext length {0} is invalid")]
    CiphertextLength(usize),
    /// The decrypted padding is not 1..=32 bytes of the pad length, which
    /// usually means a wrong key (-40007).
    #[error("invalid padding")]
    BadPadding,
    /// The length field points past the end of the plaintext (-40008).
    #[error("message length field overflows the buffer")]
    LengthOverflow,
    /// The message is not UTF-8 (-40008).
    #[error("message is not UTF-8")]
    NotUtf8,
    /// The ciphertext is not valid base64 (-40010).
    #[error("ciphertext is not valid base64")]
    Base64,
}

impl CryptoError {
    /// The error code Tencent's reference implementation uses for this error.
    pub fn code(&self) -> i32 {
        match self {
            Self::InvalidSignature => -40001,
            Self::ParseXml(_) => -40002,
            Self::InvalidToken => -40003,
            Self::IllegalAesKey => -40004,
            Self::ReceiveIdMismatch => -40005,
            Self::CiphertextLength(_) | Self::BadPadding => -40007,
            Self::LengthOverflow | Self::NotUtf8 => -40008,
            Self::Base64 => -40010,
        }
    }
}

/// The signature of a callback: lower-case hex SHA-1 over the byte-wise
/// sorted concatenation of `token`, `timestamp`, `nonce` and `encrypt`.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let mut hex = String::with_capacity(40);
    for byte in hasher.finalize() {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The crypto of one callback configuration: token, AES key and receive id.
///
/// `Debug` shows the receive id only; the token and key are secrets.
#[derive(Clone)]
pub struct CallbackCrypto {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

impl fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackCrypto")
            .field("token", &"<redacted>")
            .field("key", &"<redacted>")
            .field("receive_id", &self.receive_id)
            .finish()
    }
}

/// A sealed message with its signature inputs: what goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMessage {
    /// The base64 ciphertext (`Encrypt`, or the `echostr` of a URL check).
    pub encrypt: String,
    /// The signature over token, timestamp, nonce and `encrypt`.
    pub msg_signature: String,
    /// The timestamp that was signed.
    pub timestamp: String,
    /// The nonce that was signed.
    pub nonce: String,
}

impl SealedMessage {
    /// The body of an event POST to a callback URL (one line):
    /// `<xml><ToUserName>…</ToUserName><AgentID>…</AgentID><Encrypt>…</Encrypt></xml>`,
    /// all three as CDATA; `AgentID` is empty when `agent_id` is `None`
    /// (contact-sync and other system callbacks).
    pub fn post_body_xml(&self, to_user_name: &str, agent_id: Option<i64>) -> String {
        let mut out = String::with_capacity(self.encrypt.len() + 128);
        out.push_str("<xml><ToUserName>");
        push_cdata(&mut out, to_user_name);
        out.push_str("</ToUserName><AgentID>");
        push_cdata(
            &mut out,
            &agent_id.map(|id| id.to_string()).unwrap_or_default(),
        );
        out.push_str("</AgentID><Encrypt>");
        push_cdata(&mut out, &self.encrypt);
        out.push_str("</Encrypt></xml>");
        out
    }

    /// The passive-reply envelope, exactly as Tencent's sample and wechatpy
    /// write it: four elements on their own lines, `TimeStamp` not CDATA, no
    /// trailing newline.
    pub fn reply_xml(&self) -> String {
        let mut out = String::with_capacity(self.encrypt.len() + 160);
        out.push_str("<xml>\n<Encrypt>");
        push_cdata(&mut out, &self.encrypt);
        out.push_str("</Encrypt>\n<MsgSignature>");
        push_cdata(&mut out, &self.msg_signature);
        out.push_str("</MsgSignature>\n<TimeStamp>");
        push_escaped(&mut out, &self.timestamp);
        out.push_str("</TimeStamp>\n<Nonce>");
        push_cdata(&mut out, &self.nonce);
        out.push_str("</Nonce>\n</xml>");
        out
    }
}

impl CallbackCrypto {
    /// Checks and decodes a callback configuration.
    ///
    /// `token` must be 1 to 32 ASCII letters or digits and
    /// `encoding_aes_key` exactly 43 characters of the standard base64
    /// alphabet. `receive_id` is the CorpID (or SuiteID) that sealed
    /// messages carry.
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        if token.is_empty() || token.len() > 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(CryptoError::InvalidToken);
        }
        let key = decode_aes_key(encoding_aes_key)?;
        Ok(Self {
            token: token.to_owned(),
            key,
            receive_id: receive_id.to_owned(),
        })
    }

    /// The receive id sealed messages must carry.
    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// The signature of `encrypt` under this configuration's token.
    pub fn sign(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    fn iv(&self) -> GenericArray<u8, aes::cipher::consts::U16> {
        GenericArray::clone_from_slice(&self.key[..AES_BLOCK])
    }

    /// Encrypts `plaintext` with a fixed 16-byte random prefix (for tests
    /// and reproducible vectors) and returns the base64 ciphertext.
    ///
    /// # Panics
    ///
    /// If `plaintext` is 4 GiB or longer (its length must fit the 32-bit
    /// length field).
    pub fn encrypt_with_random(&self, plaintext: &str, random: [u8; 16]) -> String {
        let msg = plaintext.as_bytes();
        let msg_len = u32::try_from(msg.len()).expect("callback message shorter than 4 GiB");
        let receive_id = self.receive_id.as_bytes();
        let body_len = RANDOM_LEN + 4 + msg.len() + receive_id.len();
        let pad = PAD_BLOCK - body_len % PAD_BLOCK;
        let mut buf = Vec::with_capacity(body_len + pad);
        buf.extend_from_slice(&random);
        buf.extend_from_slice(&msg_len.to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(receive_id);
        // `pad` is 1..=32, so it fits a byte.
        buf.resize(body_len + pad, pad as u8);
        self.aes_encrypt(&mut buf);
        STANDARD.encode(buf)
    }

    /// AES-256-CBC in place; `buf.len()` must be a multiple of 16.
    fn aes_encrypt(&self, buf: &mut [u8]) {
        debug_assert_eq!(buf.len() % AES_BLOCK, 0);
        let mut cipher = cbc::Encryptor::<Aes256>::new(&self.key.into(), &self.iv());
        for block in buf.chunks_exact_mut(AES_BLOCK) {
            cipher.encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
    }

    /// Encrypts `plaintext` with a fresh random prefix of 16 ASCII letters
    /// and digits (as wechatpy does) and returns the base64 ciphertext.
    ///
    /// # Panics
    ///
    /// As [`Self::encrypt_with_random`].
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut rng = rand::rng();
        let random: [u8; 16] = std::array::from_fn(|_| rng.sample(Alphanumeric));
        self.encrypt_with_random(plaintext, random)
    }

    /// Decrypts a base64 ciphertext sealed for this configuration and
    /// returns the message. Does not check any signature.
    pub fn decrypt(&self, encrypt_b64: &str) -> Result<String, CryptoError> {
        let mut buf = STANDARD
            .decode(encrypt_b64)
            .map_err(|_| CryptoError::Base64)?;
        // At least one padding block: random, length field and pad.
        if buf.len() < PAD_BLOCK || buf.len() % AES_BLOCK != 0 {
            return Err(CryptoError::CiphertextLength(buf.len()));
        }
        let mut cipher = cbc::Decryptor::<Aes256>::new(&self.key.into(), &self.iv());
        for block in buf.chunks_exact_mut(AES_BLOCK) {
            cipher.decrypt_block_mut(GenericArray::from_mut_slice(block));
        }

        let pad_byte = buf[buf.len() - 1];
        let pad = usize::from(pad_byte);
        if !(1..=PAD_BLOCK).contains(&pad) || buf[buf.len() - pad..].iter().any(|&b| b != pad_byte)
        {
            return Err(CryptoError::BadPadding);
        }
        let content = &buf[RANDOM_LEN..buf.len() - pad];
        let Some((len_field, rest)) = content.split_first_chunk::<4>() else {
            return Err(CryptoError::LengthOverflow);
        };
        let msg_len = usize::try_from(u32::from_be_bytes(*len_field))
            .map_err(|_| CryptoError::LengthOverflow)?;
        if msg_len > rest.len() {
            return Err(CryptoError::LengthOverflow);
        }
        let (msg, receive_id) = rest.split_at(msg_len);
        if receive_id != self.receive_id.as_bytes() {
            return Err(CryptoError::ReceiveIdMismatch);
        }
        String::from_utf8(msg.to_vec()).map_err(|_| CryptoError::NotUtf8)
    }

    /// Checks `msg_signature` over `timestamp`, `nonce` and `encrypt`, then
    /// decrypts `encrypt`. This is what a receiver does with a URL check
    /// (`encrypt` = `echostr`) or an event POST (`encrypt` = `<Encrypt>`).
    pub fn verify_and_decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String, CryptoError> {
        let expected = self.sign(timestamp, nonce, encrypt);
        if !constant_time_eq(
            expected.as_bytes(),
            msg_signature.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(CryptoError::InvalidSignature);
        }
        self.decrypt(encrypt)
    }

    /// Encrypts `plaintext` with a random prefix and signs it with
    /// `timestamp` and `nonce` (decimal strings chosen by the sender).
    ///
    /// For a URL check, send `encrypt` as `echostr` with `msg_signature`,
    /// `timestamp` and `nonce`, and expect `plaintext` back verbatim.
    pub fn seal(&self, plaintext: &str, timestamp: &str, nonce: &str) -> SealedMessage {
        self.sign_sealed(self.encrypt(plaintext), timestamp, nonce)
    }

    /// As [`Self::seal`], with a fixed random prefix.
    pub fn seal_with_random(
        &self,
        plaintext: &str,
        timestamp: &str,
        nonce: &str,
        random: [u8; 16],
    ) -> SealedMessage {
        self.sign_sealed(
            self.encrypt_with_random(plaintext, random),
            timestamp,
            nonce,
        )
    }

    fn sign_sealed(&self, encrypt: String, timestamp: &str, nonce: &str) -> SealedMessage {
        SealedMessage {
            msg_signature: self.sign(timestamp, nonce, &encrypt),
            encrypt,
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
        }
    }

    /// Reads a receiver's passive reply (the envelope of
    /// [`SealedMessage::reply_xml`]): checks `MsgSignature` over
    /// `TimeStamp`, `Nonce` and `Encrypt`, and returns the decrypted
    /// message.
    pub fn open_reply(&self, reply_xml: &str) -> Result<String, CryptoError> {
        let encrypt = element_text(reply_xml, "Encrypt")?;
        let msg_signature = element_text(reply_xml, "MsgSignature")?;
        let timestamp = element_text(reply_xml, "TimeStamp")?;
        let nonce = element_text(reply_xml, "Nonce")?;
        self.verify_and_decrypt(&msg_signature, &timestamp, &nonce, &encrypt)
    }
}

/// Reads the text of the first `<name>` element of a flat envelope: CDATA
/// sections are taken verbatim, other text has its entity references
/// resolved, surrounding whitespace is dropped.
fn element_text(xml: &str, name: &'static str) -> Result<String, CryptoError> {
    let err = CryptoError::ParseXml(name);
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open).ok_or(err.clone())? + open.len();
    let mut rest = &xml[start..];
    let mut text = String::new();
    loop {
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or(err.clone())?;
            text.push_str(&after[..end]);
            rest = &after[end + 3..];
        } else if rest.starts_with(&close) {
            return Ok(text.trim().to_owned());
        } else if rest.starts_with('<') || rest.is_empty() {
            return Err(err);
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            unescape_into(&mut text, &rest[..end]).ok_or(err.clone())?;
            rest = &rest[end..];
        }
    }
}

/// Resolves the five predefined entities and character references.
fn unescape_into(out: &mut String, text: &str) -> Option<()> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';')? + amp;
        let entity = &rest[amp + 1..semi];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()?
                } else {
                    entity.strip_prefix('#')?.parse().ok()?
                };
                char::from_u32(code)?
            }
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    // §4.4: wechatpy's enterprise test vectors.
    const TOKEN: &str = "123456";
    const KEY: &str = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR";
    const CORP_ID: &str = "wx49f0ab532d5d035a";

    const ECHO_TIMESTAMP: &str = "1411443780";
    const ECHO_NONCE: &str = "437374425";
    const ECHOSTR: &str =
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
    const ECHO_SIGNATURE: &str = "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96";

    const MSG_TIMESTAMP: &str = "1411525903";
    const MSG_NONCE: &str = "461056294";
    const MSG_SIGNATURE: &str = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d";
    const MSG_ENCRYPT: &str = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";

    const REPLY_PLAINTEXT: &str = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
    const REPLY_ENCRYPT: &str = "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3";
    const REPLY_SIGNATURE: &str = "407518b7649e86ef23978113f92d27afa9296533";

    fn crypto() -> CallbackCrypto {
        CallbackCrypto::new(TOKEN, KEY, CORP_ID).unwrap()
    }

    /// Decrypts without unpadding or parsing, to inspect the raw layout.
    fn raw_plaintext(crypto: &CallbackCrypto, encrypt: &str) -> Vec<u8> {
        let mut buf = STANDARD.decode(encrypt).unwrap();
        let mut cipher = cbc::Decryptor::<Aes256>::new(&crypto.key.into(), &crypto.iv());
        for block in buf.chunks_exact_mut(AES_BLOCK) {
            cipher.decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        buf
    }

    /// Encrypts an arbitrary (already padded) buffer.
    fn raw_seal(crypto: &CallbackCrypto, mut plain: Vec<u8>) -> String {
        crypto.aes_encrypt(&mut plain);
        STANDARD.encode(plain)
    }

    /// A well-formed plaintext layout with a chosen pad.
    fn layout(msg: &[u8], length_field: u32, receive_id: &[u8], pad: &[u8]) -> Vec<u8> {
        let mut plain = b"0123456789abcdef".to_vec();
        plain.extend_from_slice(&length_field.to_be_bytes());
        plain.extend_from_slice(msg);
        plain.extend_from_slice(receive_id);
        plain.extend_from_slice(pad);
        plain
    }

    fn pad_for(len: usize) -> Vec<u8> {
        let n = PAD_BLOCK - len % PAD_BLOCK;
        vec![n as u8; n]
    }

    #[test]
    fn vector_url_verification() {
        let crypto = crypto();
        assert_eq!(
            signature(TOKEN, ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR),
            ECHO_SIGNATURE
        );
        assert_eq!(
            crypto
                .verify_and_decrypt(ECHO_SIGNATURE, ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR)
                .unwrap(),
            "5927782489442352469"
        );
        let raw = raw_plaintext(&crypto, ECHOSTR);
        assert_eq!(raw.len(), 64);
        assert_eq!(&raw[..16], b"2304fc2fe146f1f8");
        assert_eq!(raw[63], 7);
    }

    #[test]
    fn vector_message_decrypt() {
        let crypto = crypto();
        assert_eq!(
            signature(TOKEN, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT),
            MSG_SIGNATURE
        );
        let msg = crypto
            .verify_and_decrypt(MSG_SIGNATURE, MSG_TIMESTAMP, MSG_NONCE, MSG_ENCRYPT)
            .unwrap();
        assert_eq!(msg.len(), 281);
        assert!(msg.starts_with("<xml>"), "{msg}");
        for part in [
            "<ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>",
            "<FromUserName><![CDATA[messense]]></FromUserName>",
            "<CreateTime>1411525903</CreateTime>",
            "<MsgType><![CDATA[text]]></MsgType>",
            "<Content><![CDATA[test]]></Content>",
            "<MsgId>4363689963896700987</MsgId>",
            "<AgentID>1</AgentID>",
        ] {
            assert!(msg.contains(part), "missing {part} in {msg}");
        }
        let raw = raw_plaintext(&crypto, MSG_ENCRYPT);
        assert_eq!(raw.len(), 320);
        assert_eq!(&raw[..16], b"ec90b1530358d4d3");
        assert_eq!(raw[319], 1);
    }

    #[test]
    fn vector_reply_encrypt() {
        let crypto = crypto();
        let sealed = crypto.seal_with_random(
            REPLY_PLAINTEXT,
            MSG_TIMESTAMP,
            MSG_NONCE,
            *b"1234567890123456",
        );
        assert_eq!(sealed.encrypt, REPLY_ENCRYPT);
        assert_eq!(sealed.msg_signature, REPLY_SIGNATURE);
        assert_eq!(
            sealed.reply_xml(),
            format!(
                "<xml>\n<Encrypt><![CDATA[{REPLY_ENCRYPT}]]></Encrypt>\n\
                 <MsgSignature><![CDATA[{REPLY_SIGNATURE}]]></MsgSignature>\n\
                 <TimeStamp>1411525903</TimeStamp>\n\
                 <Nonce><![CDATA[461056294]]></Nonce>\n</xml>"
            )
        );
        assert_eq!(
            crypto.open_reply(&sealed.reply_xml()).unwrap(),
            REPLY_PLAINTEXT
        );
    }

    #[test]
    fn post_body_envelope() {
        let sealed = SealedMessage {
            encrypt: "abc+/=".into(),
            msg_signature: "sig".into(),
            timestamp: "1".into(),
            nonce: "2".into(),
        };
        assert_eq!(
            sealed.post_body_xml("wwcorp", Some(1000002)),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <AgentID><![CDATA[1000002]]></AgentID>\
             <Encrypt><![CDATA[abc+/=]]></Encrypt></xml>"
        );
        assert_eq!(
            sealed.post_body_xml("wwcorp", None),
            "<xml><ToUserName><![CDATA[wwcorp]]></ToUserName>\
             <AgentID><![CDATA[]]></AgentID>\
             <Encrypt><![CDATA[abc+/=]]></Encrypt></xml>"
        );
    }

    #[test]
    fn seal_opens_with_post_body_fields() {
        let crypto = crypto();
        let sealed = crypto.seal("<xml><A>é</A></xml>", "1700000000", "42");
        let body = sealed.post_body_xml(CORP_ID, None);
        let encrypt = element_text(&body, "Encrypt").unwrap();
        assert_eq!(encrypt, sealed.encrypt);
        assert_eq!(
            crypto
                .verify_and_decrypt(&sealed.msg_signature, "1700000000", "42", &encrypt)
                .unwrap(),
            "<xml><A>é</A></xml>"
        );
    }

    #[test]
    fn random_prefix_is_alphanumeric_and_fresh() {
        let crypto = crypto();
        let a = crypto.encrypt("x");
        let b = crypto.encrypt("x");
        assert_ne!(a, b);
        let raw = raw_plaintext(&crypto, &a);
        assert!(raw[..16].iter().all(u8::is_ascii_alphanumeric));
    }

    #[test]
    fn uppercase_signature_is_accepted() {
        let upper = ECHO_SIGNATURE.to_ascii_uppercase();
        assert!(
            crypto()
                .verify_and_decrypt(&upper, ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR)
                .is_ok()
        );
    }

    #[test]
    fn rejects_tampered_signature() {
        let crypto = crypto();
        let mut bad = ECHO_SIGNATURE.to_owned();
        bad.replace_range(0..1, "e");
        let err = crypto
            .verify_and_decrypt(&bad, ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR)
            .unwrap_err();
        assert_eq!(err, CryptoError::InvalidSignature);
        assert_eq!(err.code(), -40001);
        // A different nonce, timestamp or ciphertext breaks it as well.
        for (ts, nonce, enc) in [
            ("1411443781", ECHO_NONCE, ECHOSTR),
            (ECHO_TIMESTAMP, "437374426", ECHOSTR),
            (ECHO_TIMESTAMP, ECHO_NONCE, MSG_ENCRYPT),
        ] {
            assert_eq!(
                crypto.verify_and_decrypt(ECHO_SIGNATURE, ts, nonce, enc),
                Err(CryptoError::InvalidSignature)
            );
        }
        assert_eq!(
            crypto.verify_and_decrypt("", ECHO_TIMESTAMP, ECHO_NONCE, ECHOSTR),
            Err(CryptoError::InvalidSignature)
        );
    }

    #[test]
    fn rejects_wrong_receive_id() {
        let other = CallbackCrypto::new(TOKEN, KEY, "wwsomeoneelse").unwrap();
        let err = other.decrypt(ECHOSTR).unwrap_err();
        assert_eq!(err, CryptoError::ReceiveIdMismatch);
        assert_eq!(err.code(), -40005);
        // A receive id that is a prefix of the real one is no match either.
        let prefix = CallbackCrypto::new(TOKEN, KEY, "wx49f0ab532d5d035").unwrap();
        assert_eq!(prefix.decrypt(ECHOSTR), Err(CryptoError::ReceiveIdMismatch));
    }

    #[test]
    fn rejects_wrong_key() {
        let wrong = CallbackCrypto::new(
            TOKEN,
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            CORP_ID,
        )
        .unwrap();
        let err = wrong.decrypt(MSG_ENCRYPT).unwrap_err();
        assert!(matches!(err.code(), -40007 | -40008 | -40005), "{err:?}");
        assert!(wrong.decrypt(ECHOSTR).is_err());
    }

    #[test]
    fn rejects_bad_padding() {
        let crypto = crypto();
        let body = layout(b"hello", 5, CORP_ID.as_bytes(), &[]);
        let len = body.len();
        let good_pad = pad_for(len);
        let good = raw_seal(&crypto, [body.clone(), good_pad.clone()].concat());
        assert_eq!(crypto.decrypt(&good).unwrap(), "hello");

        // Pad byte 0, pad byte 33 (beyond the 32-byte block), and
        // inconsistent pad bytes.
        let mut zero = good_pad.clone();
        *zero.last_mut().unwrap() = 0;
        let mut inconsistent = good_pad.clone();
        inconsistent[0] ^= 1;
        let mut over = [body.clone(), good_pad.clone()].concat();
        over.extend_from_slice(&[33; 32]);
        for plain in [
            [body.clone(), zero].concat(),
            [body.clone(), inconsistent].concat(),
            over,
        ] {
            let err = crypto.decrypt(&raw_seal(&crypto, plain)).unwrap_err();
            assert_eq!(err, CryptoError::BadPadding);
            assert_eq!(err.code(), -40007);
        }
    }

    #[test]
    fn rejects_length_overflow() {
        let crypto = crypto();
        for length_field in [u32::MAX, 5 + CORP_ID.len() as u32 + 1] {
            let body = layout(b"hello", length_field, CORP_ID.as_bytes(), &[]);
            let pad = pad_for(body.len());
            let err = crypto
                .decrypt(&raw_seal(&crypto, [body, pad].concat()))
                .unwrap_err();
            assert_eq!(err, CryptoError::LengthOverflow, "length {length_field}");
            assert_eq!(err.code(), -40008);
        }
        // Padding that eats into the length field.
        let plain = [b"0123456789abcdef".as_slice(), &[0, 0], &[14; 14]].concat();
        assert_eq!(
            crypto.decrypt(&raw_seal(&crypto, plain)),
            Err(CryptoError::LengthOverflow)
        );
    }

    #[test]
    fn rejects_non_utf8() {
        let crypto = crypto();
        let body = layout(&[0xff, 0xfe], 2, CORP_ID.as_bytes(), &[]);
        let pad = pad_for(body.len());
        let err = crypto
            .decrypt(&raw_seal(&crypto, [body, pad].concat()))
            .unwrap_err();
        assert_eq!(err, CryptoError::NotUtf8);
        assert_eq!(err.code(), -40008);
    }

    #[test]
    fn rejects_bad_base64_and_lengths() {
        let crypto = crypto();
        for bad in ["not base64!", "abc", "ECHOSTR with spaces =="] {
            assert_eq!(crypto.decrypt(bad), Err(CryptoError::Base64), "{bad}");
        }
        assert_eq!(CryptoError::Base64.code(), -40010);
        for len in [0, 16, 33, 48 + 1] {
            let encrypt = STANDARD.encode(vec![0u8; len]);
            let err = crypto.decrypt(&encrypt).unwrap_err();
            assert_eq!(err, CryptoError::CiphertextLength(len));
            assert_eq!(err.code(), -40007);
        }
    }

    #[test]
    fn validates_token() {
        for bad in ["", "has space", "ünicode", &"a".repeat(33), "tok-en"] {
            let err = CallbackCrypto::new(bad, KEY, CORP_ID).unwrap_err();
            assert_eq!(err, CryptoError::InvalidToken, "{bad:?}");
        }
        assert_eq!(CryptoError::InvalidToken.code(), -40003);
        assert!(CallbackCrypto::new(&"Z9".repeat(16), KEY, CORP_ID).is_ok());
    }

    #[test]
    fn validates_key() {
        let too_short = &KEY[..42];
        let too_long = format!("{KEY}A");
        let bad_char = format!("{}-", &KEY[..42]);
        let padded = format!("{}=", &KEY[..42]);
        for bad in [
            too_short,
            too_long.as_str(),
            bad_char.as_str(),
            padded.as_str(),
            "",
        ] {
            let err = CallbackCrypto::new(TOKEN, bad, CORP_ID).unwrap_err();
            assert_eq!(err, CryptoError::IllegalAesKey, "{bad:?}");
            assert_eq!(err.code(), -40004);
        }
        // Trailing bits of the last character are ignored, as in Python.
        let sloppy = format!("{}S", &KEY[..42]);
        assert_eq!(
            CallbackCrypto::new(TOKEN, &sloppy, CORP_ID).unwrap().key,
            crypto().key
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!("{:?}", crypto());
        assert!(!shown.contains("\"123456\""), "{shown}");
        assert!(shown.contains(CORP_ID));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn open_reply_rejects_bad_envelopes() {
        let crypto = crypto();
        let sealed = crypto.seal("hi", "1", "2");
        let reply = sealed.reply_xml();
        assert_eq!(
            crypto.open_reply(
                &reply
                    .replace("<Nonce>", "<Nonse>")
                    .replace("</Nonce>", "</Nonse>")
            ),
            Err(CryptoError::ParseXml("Nonce"))
        );
        assert_eq!(CryptoError::ParseXml("Nonce").code(), -40002);
        assert_eq!(
            crypto.open_reply(&reply.replace("<TimeStamp>1<", "<TimeStamp>3<")),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(crypto.open_reply("").unwrap_err().code(), -40002);
    }

    #[test]
    fn element_text_reads_cdata_and_escaped_text() {
        let xml =
            "<xml><A><![CDATA[x]]]]><![CDATA[>y]]></A><B> 1 &lt;2&#x41;&#66; </B><C></C></xml>";
        assert_eq!(element_text(xml, "A").unwrap(), "x]]>y");
        assert_eq!(element_text(xml, "B").unwrap(), "1 <2AB");
        assert_eq!(element_text(xml, "C").unwrap(), "");
        assert!(element_text("<xml><D>&bogus;</D></xml>", "D").is_err());
        assert!(element_text("<xml><E><![CDATA[open</E></xml>", "E").is_err());
    }

    proptest! {
        #[test]
        fn seal_round_trips(
            msg in ".*",
            random in any::<[u8; 16]>(),
            receive_id in "[a-zA-Z0-9]{0,40}",
            timestamp in "[0-9]{1,12}",
            nonce in "[0-9a-zA-Z]{1,16}",
        ) {
            let crypto = CallbackCrypto::new(TOKEN, KEY, &receive_id).unwrap();
            let sealed = crypto.seal_with_random(&msg, &timestamp, &nonce, random);
            let raw = STANDARD.decode(&sealed.encrypt).unwrap();
            prop_assert_eq!(raw.len() % PAD_BLOCK, 0);
            prop_assert_eq!(
                crypto.verify_and_decrypt(&sealed.msg_signature, &timestamp, &nonce, &sealed.encrypt),
                Ok(msg.clone())
            );
            prop_assert_eq!(crypto.open_reply(&sealed.reply_xml()), Ok(msg));
        }

        #[test]
        fn random_encrypt_round_trips(msg in ".*") {
            let crypto = crypto();
            prop_assert_eq!(crypto.decrypt(&crypto.encrypt(&msg)), Ok(msg));
        }

        #[test]
        fn signature_ignores_argument_order(
            a in "[ -~]{0,12}", b in "[ -~]{0,12}", c in "[ -~]{0,12}", d in "[ -~]{0,12}",
        ) {
            let s = signature(&a, &b, &c, &d);
            prop_assert_eq!(s.len(), 40);
            prop_assert_eq!(&s, &signature(&d, &c, &b, &a));
            prop_assert_eq!(&s, &signature(&c, &a, &d, &b));
        }

        #[test]
        fn decrypt_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = crypto().decrypt(&STANDARD.encode(&bytes));
        }

        #[test]
        fn tampered_ciphertext_fails_the_signature_check(
            msg in "[a-z]{0,64}", byte in 0usize..1000, bit in 0u8..8,
        ) {
            let crypto = crypto();
            let sealed = crypto.seal(&msg, "1", "2");
            let mut raw = STANDARD.decode(&sealed.encrypt).unwrap();
            let at = byte % raw.len();
            raw[at] ^= 1 << bit;
            let tampered = STANDARD.encode(&raw);
            prop_assert_eq!(
                crypto.verify_and_decrypt(&sealed.msg_signature, "1", "2", &tampered),
                Err(CryptoError::InvalidSignature)
            );
        }
    }

    #[test]
    fn export_files_round_trip_and_refuse_a_wrong_key() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let cipher = FileCipher::new(key).unwrap();
        for len in [0usize, 1, 31, 32, 33, 1000] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = cipher.seal(&plain);
            assert_eq!(sealed.len() % 32, 0);
            assert!(sealed.len() > plain.len());
            assert_eq!(cipher.open(&sealed).unwrap(), plain);
        }
        let other = FileCipher::new("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg").unwrap();
        let sealed = cipher.seal(b"{\"userlist\":[]}");
        assert_ne!(
            other.open(&sealed).ok().as_deref(),
            Some(&b"{\"userlist\":[]}"[..])
        );
        assert!(FileCipher::new("short").is_err());
        assert!(cipher.open(&[]).is_err());
    }
}

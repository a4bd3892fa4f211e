//! A small but real SMTP receiver (RFC 5321) for tests, on 127.0.0.1:0.
//!
//! It speaks EHLO/HELO, optional AUTH PLAIN, MAIL FROM, RCPT TO, DATA (with
//! dot-unstuffing), RSET, NOOP, VRFY and QUIT with proper reply codes, and
//! hands every accepted message to the test ([`SmtpTestServer::next_mail`]).
//! It offers neither STARTTLS nor PIPELINING. [`ReceivedMail`] decodes what
//! a test needs of the MIME message: headers (RFC 2047 encoded words) and a
//! single-part body (base64, quoted-printable, 7bit/8bit).
//!
//! Other test crates include it with
//! `#[path = "../../qiye-http/tests/support/smtp.rs"] mod smtp;`
//! (it needs `tokio` and `base64`).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// The longest command line accepted (RFC 5321 4.5.3.1.4: 512 octets).
const MAX_COMMAND_LINE: usize = 512;
/// The longest text line accepted in DATA (RFC 5321 4.5.3.1.6: 1000 octets).
const MAX_TEXT_LINE: usize = 1000;
/// The largest message accepted.
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
/// How long [`SmtpTestServer::next_mail`] waits before failing the test.
const WAIT: Duration = Duration::from_secs(10);

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct SmtpTestConfig {
    /// Require `AUTH PLAIN` with this user and password before MAIL.
    pub credentials: Option<(String, String)>,
    /// Answer every RCPT TO with `550 5.1.1` (a permanent refusal).
    pub reject_recipients: bool,
    /// Answer every MAIL FROM with `451 4.3.0` (a transient refusal).
    pub defer_senders: bool,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The domain given in EHLO or HELO.
    pub client_name: String,
    /// The user that authenticated, if any.
    pub authenticated_as: Option<String>,
    /// The reverse path of MAIL FROM, without angle brackets.
    pub mail_from: String,
    /// The forward paths of RCPT TO, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message as received, dot-unstuffed, lines ending in CRLF.
    pub data: Vec<u8>,
}

/// A running SMTP receiver; it stops when dropped.
pub struct SmtpTestServer {
    addr: SocketAddr,
    mails: Mutex<mpsc::UnboundedReceiver<ReceivedMail>>,
    task: JoinHandle<()>,
}

impl Drop for SmtpTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpTestServer {
    /// Starts an accepting server without AUTH.
    pub async fn start() -> Self {
        Self::start_with(SmtpTestConfig::default()).await
    }

    /// Starts a server that behaves as `config` says.
    pub async fn start_with(config: SmtpTestConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP test server");
        let addr = listener.local_addr().expect("its address");
        let (sender, mails) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let sender = sender.clone();
                let config = config.clone();
                sessions.spawn(async move {
                    // A session that fails (the client went away) only ends
                    // itself.
                    let _ = session(stream, &config, &sender).await;
                });
            }
        });
        Self {
            addr,
            mails: Mutex::new(mails),
            task,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The next accepted message; panics if none arrives within 10 s.
    pub async fn next_mail(&self) -> ReceivedMail {
        let mut mails = self.mails.lock().await;
        tokio::time::timeout(WAIT, mails.recv())
            .await
            .expect("a message reached the SMTP test server in time")
            .expect("the SMTP test server is running")
    }

    /// A message accepted and not yet taken, if any (does not wait).
    pub async fn try_next_mail(&self) -> Option<ReceivedMail> {
        self.mails.lock().await.try_recv().ok()
    }
}

/// The state of one SMTP session (RFC 5321 4.1.4 order of commands).
#[derive(Default)]
struct Transaction {
    client_name: Option<String>,
    authenticated_as: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

async fn session(
    stream: TcpStream,
    config: &SmtpTestConfig,
    mails: &mpsc::UnboundedSender<ReceivedMail>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut state = Transaction::default();
    write.write_all(b"220 qiye-test ESMTP ready\r\n").await?;
    loop {
        let Some(line) = read_line(&mut read, MAX_COMMAND_LINE).await? else {
            return Ok(());
        };
        let Ok(line) = String::from_utf8(line) else {
            write.write_all(b"500 5.5.2 not UTF-8\r\n").await?;
            continue;
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb.to_ascii_uppercase(), arg.trim().to_owned()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        let reply: String = match verb.as_str() {
            "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 a domain is required".into(),
            "EHLO" => {
                state = Transaction {
                    client_name: Some(arg.clone()),
                    ..Transaction::default()
                };
                let mut lines = vec![format!("qiye-test greets {arg}"), "8BITMIME".into()];
                lines.push(format!("SIZE {MAX_MESSAGE}"));
                if config.credentials.is_some() {
                    lines.push("AUTH PLAIN".into());
                }
                multiline(250, &lines)
            }
            "HELO" => {
                state = Transaction {
                    client_name: Some(arg.clone()),
                    ..Transaction::default()
                };
                "250 qiye-test".into()
            }
            "AUTH" => auth(&arg, config, &mut state, &mut read, &mut write).await?,
            "MAIL" => {
                if state.client_name.is_none() {
                    "503 5.5.1 EHLO first".into()
                } else if config.credentials.is_some() && state.authenticated_as.is_none() {
                    "530 5.7.0 authentication required".into()
                } else if state.mail_from.is_some() {
                    "503 5.5.1 nested MAIL".into()
                } else if config.defer_senders {
                    "451 4.3.0 try again later".into()
                } else {
                    match path_after(&arg, "FROM:") {
                        Some(path) => {
                            state.mail_from = Some(path);
                            "250 2.1.0 sender ok".into()
                        }
                        None => "501 5.5.4 syntax: MAIL FROM:<address>".into(),
                    }
                }
            }
            "RCPT" => {
                if state.mail_from.is_none() {
                    "503 5.5.1 MAIL first".into()
                } else if config.reject_recipients {
                    "550 5.1.1 no such mailbox".into()
                } else {
                    match path_after(&arg, "TO:").filter(|path| !path.is_empty()) {
                        Some(path) => {
                            state.rcpt_to.push(path);
                            "250 2.1.5 recipient ok".into()
                        }
                        None => "501 5.5.4 syntax: RCPT TO:<address>".into(),
                    }
                }
            }
            "DATA" => {
                if state.rcpt_to.is_empty() {
                    "503 5.5.1 RCPT first".into()
                } else {
                    write
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    match read_data(&mut read).await? {
                        Some(data) => {
                            let mail = ReceivedMail {
                                client_name: state.client_name.clone().unwrap_or_default(),
                                authenticated_as: state.authenticated_as.clone(),
                                mail_from: state.mail_from.take().unwrap_or_default(),
                                rcpt_to: std::mem::take(&mut state.rcpt_to),
                                data,
                            };
                            let _ = mails.send(mail);
                            "250 2.0.0 queued".into()
                        }
                        None => {
                            state.mail_from = None;
                            state.rcpt_to.clear();
                            "552 5.3.4 message too big or lines too long".into()
                        }
                    }
                }
            }
            "RSET" => {
                state.mail_from = None;
                state.rcpt_to.clear();
                "250 2.0.0 reset".into()
            }
            "NOOP" => "250 2.0.0 ok".into(),
            "VRFY" => "252 2.1.5 cannot verify, will try".into(),
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "500 5.5.2 command not recognised".into(),
        };
        write.write_all(reply.as_bytes()).await?;
        if !reply.ends_with("\r\n") {
            write.write_all(b"\r\n").await?;
        }
    }
}

/// `250-first`, `250-…`, `250 last`.
fn multiline(code: u16, lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{sep}{line}\r\n"));
    }
    out
}

/// AUTH PLAIN, with the initial response or after a `334` challenge.
async fn auth<R: AsyncRead + Unpin, W: tokio::io::AsyncWrite + Unpin>(
    arg: &str,
    config: &SmtpTestConfig,
    state: &mut Transaction,
    read: &mut BufReader<R>,
    write: &mut W,
) -> std::io::Result<String> {
    let Some((user, password)) = &config.credentials else {
        return Ok("502 5.5.1 AUTH not offered".into());
    };
    if state.client_name.is_none() || state.authenticated_as.is_some() {
        return Ok("503 5.5.1 bad sequence of commands".into());
    }
    let (mechanism, initial) = match arg.split_once(' ') {
        Some((mechanism, initial)) => (mechanism.to_ascii_uppercase(), Some(initial.to_owned())),
        None => (arg.to_ascii_uppercase(), None),
    };
    if mechanism != "PLAIN" {
        return Ok("504 5.5.4 mechanism not supported".into());
    }
    let response = match initial {
        Some(initial) => initial,
        None => {
            write.write_all(b"334 \r\n").await?;
            match read_line(read, MAX_COMMAND_LINE).await? {
                Some(line) => String::from_utf8_lossy(&line).trim().to_owned(),
                None => return Ok("501 5.5.2 no response".into()),
            }
        }
    };
    let Ok(decoded) = BASE64.decode(response.as_bytes()) else {
        return Ok("501 5.5.2 not base64".into());
    };
    // authzid NUL authcid NUL passwd
    let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
    if parts.len() == 3 && parts[1] == user.as_bytes() && parts[2] == password.as_bytes() {
        state.authenticated_as = Some(user.clone());
        Ok("235 2.7.0 authenticated".into())
    } else {
        Ok("535 5.7.8 authentication credentials invalid".into())
    }
}

/// `FROM:<a@b> PARAMS` → `a@b`.
fn path_after(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

/// One line without its CRLF (a bare LF is tolerated); `None` at EOF. A
/// line longer than `max` is an error that ends the session.
async fn read_line<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = (&mut *read)
        .take(max as u64 + 2)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long or cut off",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// The message text up to the lone `.` line, dot-unstuffed (RFC 5321
/// 4.5.2), lines ending in CRLF; `None` if it broke a limit (the rest is
/// still read up to the end marker).
async fn read_data<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let n = read.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.ends_with(b"\n") {
            line.pop();
        }
        if line.ends_with(b"\r") {
            line.pop();
        }
        if line == b"." {
            return Ok((!too_big).then_some(data));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if line.len() > MAX_TEXT_LINE - 2 || data.len() + line.len() > MAX_MESSAGE {
            too_big = true;
            continue;
        }
        data.extend_from_slice(line);
        data.extend_from_slice(b"\r\n");
    }
}

impl ReceivedMail {
    /// The header block and body, split at the first empty line.
    fn parts(&self) -> (String, &[u8]) {
        let split = self
            .data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, i + 4))
            .unwrap_or((self.data.len(), self.data.len()));
        (
            String::from_utf8_lossy(&self.data[..split.0]).into_owned(),
            &self.data[split.1..],
        )
    }

    /// The unfolded, undecoded value of the first header called `name`.
    pub fn raw_header(&self, name: &str) -> Option<String> {
        let (headers, _) = self.parts();
        let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", "\t");
        unfolded.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    /// The first header called `name`, with RFC 2047 encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.raw_header(name).map(|value| decode_words(&value))
    }

    /// The body of a single-part message, decoded by its
    /// Content-Transfer-Encoding and read as UTF-8.
    pub fn text_body(&self) -> String {
        let (_, body) = self.parts();
        let encoding = self
            .raw_header("Content-Transfer-Encoding")
            .unwrap_or_else(|| "7bit".to_owned())
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => {
                let compact: Vec<u8> = body
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                BASE64.decode(compact).expect("a base64 body")
            }
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.to_vec(),
        };
        String::from_utf8(bytes).expect("a UTF-8 body")
    }
}

/// RFC 2045 6.7: `=XX` octets and `=` soft line breaks.
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'=' {
            if body[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if let Some(byte) = body
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// RFC 2047: `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words decoded; white space
/// between two adjacent encoded words dropped. Bytes of adjacent words are
/// joined before UTF-8 decoding (a character may be split between words).
fn decode_words(value: &str) -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((bytes, after)) = encoded_word(rest) {
            if !last_was_word {
                out.extend_from_slice(pending_space.as_bytes());
            }
            pending_space.clear();
            out.extend_from_slice(&bytes);
            rest = after;
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        rest = &rest[c.len_utf8()..];
        if c == ' ' || c == '\t' {
            pending_space.push(c);
        } else {
            out.extend_from_slice(pending_space.as_bytes());
            pending_space.clear();
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            last_was_word = false;
        }
    }
    out.extend_from_slice(pending_space.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

/// One encoded word at the start of `text`: its bytes and what follows.
fn encoded_word(text: &str) -> Option<(Vec<u8>, &str)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let (payload, after) = (&inner[..end], &inner[end + 2..]);
    if !charset.eq_ignore_ascii_case("utf-8") || payload.contains(' ') {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => BASE64.decode(payload).ok()?,
        "Q" | "q" => decode_quoted_printable(payload.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((bytes, after))
}

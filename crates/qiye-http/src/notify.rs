//! The wire side of the second channel for urgent messages: e-mail over
//! SMTP (lettre, rustls) and SMS through an HTTP gateway (reqwest).
//!
//! [`ChannelAdapter`] implements [`SecondChannel`], the port through which
//! `qiye-app` escalates an unread urgent message; the app decides when and
//! what, this module only delivers.
//!
//! * E-mail: one plain-text UTF-8 message per notice, `From` the configured
//!   address, through the configured relay ([`SmtpSettings`]): plain SMTP
//!   (for a relay on loopback or a trusted network), STARTTLS (required:
//!   the connection is never downgraded, nothing is sent if the server does
//!   not offer it) or implicit TLS. Certificates are checked against the
//!   webpki (Mozilla) roots. Connections are pooled.
//! * SMS: the gateway contract ([`SmsGatewaySettings`]) is
//!   `POST <url>` with `Content-Type: application/json` and the body
//!   `{"mobile": "<number>", "text": "<text>"}`, plus
//!   `Authorization: Bearer <token>` when a token is configured. Any 2xx
//!   answer within the timeout is success; the answer's body is ignored.
//!   Redirects are not followed. An operator puts a small relay in front of
//!   their SMS provider that speaks this contract.
//!
//! Errors: a server that cannot be reached, times out or refuses for now
//! (SMTP 4xx) is [`NotifyError::Unavailable`]; a permanent refusal (SMTP
//! 5xx, a non-2xx HTTP answer, an address that is not one) is
//! [`NotifyError::Rejected`]; a channel without settings is
//! [`NotifyError::NotConfigured`]. Passwords and tokens never appear in
//! `Debug` output or error texts.

use std::error::Error as _;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use qiye_app::notify::{NotifyError, OutgoingMail, OutgoingSms, SecondChannel};
use reqwest::Url;

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain SMTP, no encryption: only for a relay on loopback or a trusted
    /// network (usual port 25).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (usual
    /// port 587).
    #[default]
    StartTls,
    /// TLS from the first byte, "SMTPS" (usual port 465).
    Tls,
}

impl SmtpSecurity {
    /// The usual port for this kind of connection: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

impl FromStr for SmtpSecurity {
    type Err = String;

    /// `none`, `starttls` or `tls` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            _ => Err(format!(
                "unknown SMTP security {s:?} (expected none, starttls or tls)"
            )),
        }
    }
}

/// Where and how e-mail is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The relay's host name (checked against its TLS certificate).
    pub host: String,
    /// The relay's port (see [`SmtpSecurity::default_port`]).
    pub port: u16,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// The user to authenticate as (AUTH PLAIN or LOGIN); none: no AUTH.
    pub username: Option<String>,
    /// The password; never printed by `Debug`.
    pub password: Option<String>,
    /// The sender, `notice@example.com` or `qiye <notice@example.com>`.
    pub from: String,
    /// How long connecting and each SMTP command may take, in seconds.
    pub timeout_secs: u64,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// Where SMS are handed over: an HTTP gateway speaking the contract in the
/// module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct SmsGatewaySettings {
    /// The gateway's URL (`http` or `https`).
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; never printed by `Debug`.
    pub bearer_token: Option<String>,
    /// How long one request may take, from connecting to the end of the
    /// answer, in seconds.
    pub timeout_secs: u64,
}

impl fmt::Debug for SmsGatewaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsGatewaySettings")
            .field("url", &self.url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// Why the second channel cannot be set up from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelSetupError {
    /// `smtp.from` is not a mailbox.
    #[error("smtp.from {0:?} is not an e-mail address")]
    InvalidFrom(String),
    /// `smtp.host` is empty or the TLS parameters cannot be built for it.
    #[error("smtp.host {host:?} cannot be used: {reason}")]
    InvalidHost {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// A timeout of zero seconds.
    #[error("{0} must be at least 1 second")]
    ZeroTimeout(&'static str),
    /// `sms.url` is not an http(s) URL.
    #[error("sms.url {0:?} is not an http or https URL")]
    InvalidUrl(String),
    /// The bearer token cannot be sent in a header.
    #[error("sms.bearer_token contains characters not allowed in an HTTP header")]
    InvalidToken,
    /// The HTTP client cannot be built.
    #[error("the HTTP client for SMS cannot be built: {0}")]
    HttpClient(String),
    /// Not called inside a Tokio runtime (the SMTP pool runs a task).
    #[error("the second channel must be set up inside a Tokio runtime")]
    NoRuntime,
}

/// Delivers urgent notices by e-mail and SMS. Cheap to share behind an
/// `Arc`; holds one pooled SMTP transport and one HTTP client.
pub struct ChannelAdapter {
    smtp: Option<SmtpChannel>,
    sms: Option<SmsChannel>,
}

struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for error texts.
    relay: String,
}

struct SmsChannel {
    client: reqwest::Client,
    url: Url,
    bearer: Option<reqwest::header::HeaderValue>,
}

impl fmt::Debug for ChannelAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelAdapter")
            .field("smtp", &self.smtp.as_ref().map(|s| &s.relay))
            .field("sms", &self.sms.as_ref().map(|s| authority(&s.url)))
            .finish()
    }
}

impl ChannelAdapter {
    /// An adapter for the configured channels; a channel given `None` answers
    /// [`NotifyError::NotConfigured`]. Must be called inside a Tokio runtime.
    pub fn new(
        smtp: Option<SmtpSettings>,
        sms: Option<SmsGatewaySettings>,
    ) -> Result<Self, ChannelSetupError> {
        let smtp = smtp.map(smtp_channel).transpose()?;
        let sms = sms.map(sms_channel).transpose()?;
        Ok(Self { smtp, sms })
    }
}

fn smtp_channel(settings: SmtpSettings) -> Result<SmtpChannel, ChannelSetupError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(ChannelSetupError::NoRuntime);
    }
    if settings.timeout_secs == 0 {
        return Err(ChannelSetupError::ZeroTimeout("smtp.timeout_secs"));
    }
    let host = settings.host.trim().to_owned();
    if host.is_empty() {
        return Err(ChannelSetupError::InvalidHost {
            host,
            reason: "it is empty".to_owned(),
        });
    }
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|_| ChannelSetupError::InvalidFrom(settings.from.clone()))?;
    let tls_parameters = || {
        TlsParameters::new(host.clone()).map_err(|err| ChannelSetupError::InvalidHost {
            host: host.clone(),
            reason: err.to_string(),
        })
    };
    let tls = match settings.security {
        SmtpSecurity::None => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut builder: AsyncSmtpTransportBuilder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)))
            .pool_config(
                PoolConfig::new()
                    .max_size(4)
                    .idle_timeout(Duration::from_secs(60)),
            );
    if let Some(user) = settings.username {
        builder = builder.credentials(Credentials::new(
            user,
            settings.password.unwrap_or_default(),
        ));
    }
    Ok(SmtpChannel {
        transport: builder.build(),
        from,
        relay: format!("{host}:{}", settings.port),
    })
}

fn sms_channel(settings: SmsGatewaySettings) -> Result<SmsChannel, ChannelSetupError> {
    if settings.timeout_secs == 0 {
        return Err(ChannelSetupError::ZeroTimeout("sms.timeout_secs"));
    }
    let url = Url::parse(&settings.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| ChannelSetupError::InvalidUrl(settings.url.clone()))?;
    let bearer = settings
        .bearer_token
        .map(|token| {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ChannelSetupError::InvalidToken)?;
            value.set_sensitive(true);
            Ok(value)
        })
        .transpose()?;
    let timeout = Duration::from_secs(settings.timeout_secs);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|err| ChannelSetupError::HttpClient(err.to_string()))?;
    Ok(SmsChannel {
        client,
        url,
        bearer,
    })
}

/// The JSON body the SMS gateway receives.
#[derive(serde::Serialize)]
struct SmsRequest<'a> {
    mobile: &'a str,
    text: &'a str,
}

#[async_trait]
impl SecondChannel for ChannelAdapter {
    async fn send_email(&self, mail: &OutgoingMail) -> Result<(), NotifyError> {
        let smtp = self.smtp.as_ref().ok_or(NotifyError::NotConfigured)?;
        let address: Address = mail.to_address.trim().parse().map_err(|_| {
            NotifyError::Rejected(format!("{:?} is not an e-mail address", mail.to_address))
        })?;
        let name = mail.to_name.trim();
        let to = Mailbox::new((!name.is_empty()).then(|| name.to_owned()), address);
        let message = Message::builder()
            .from(smtp.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text_body.clone())
            .map_err(|err| NotifyError::Rejected(format!("cannot build the e-mail: {err}")))?;
        match smtp.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) => Err(smtp_error(&smtp.relay, &err)),
        }
    }

    async fn send_sms(&self, sms: &OutgoingSms) -> Result<(), NotifyError> {
        let gateway = self.sms.as_ref().ok_or(NotifyError::NotConfigured)?;
        let mut request = gateway.client.post(gateway.url.clone()).json(&SmsRequest {
            mobile: &sms.mobile,
            text: &sms.text,
        });
        if let Some(bearer) = &gateway.bearer {
            request = request.header(reqwest::header::AUTHORIZATION, bearer.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|err| NotifyError::Unavailable(http_error(&err, &gateway.url)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(NotifyError::Rejected(format!(
                "SMS gateway {} answered {status}",
                authority(&gateway.url)
            )))
        }
    }

    fn email_enabled(&self) -> bool {
        self.smtp.is_some()
    }

    fn sms_enabled(&self) -> bool {
        self.sms.is_some()
    }
}

/// SMTP 5xx is permanent; 4xx, connection, TLS and timeout failures may
/// pass.
fn smtp_error(relay: &str, err: &lettre::transport::smtp::Error) -> NotifyError {
    let text = format!("SMTP {relay}: {}", innermost(err));
    if err.is_permanent() {
        NotifyError::Rejected(text)
    } else {
        NotifyError::Unavailable(text)
    }
}

/// The error and its causes on one line.
fn innermost(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A send failure, without the URL's path or query (which may hold a key).
fn http_error(err: &reqwest::Error, url: &Url) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let cause = err.source().map(innermost).unwrap_or_default();
    format!("SMS gateway {}: {kind}: {cause}", authority(url))
}

/// `host:port` of a URL.
fn authority(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        let smtp = SmtpSettings {
            host: "smtp.example.com".to_owned(),
            port: 587,
            security: SmtpSecurity::StartTls,
            username: Some("notice".to_owned()),
            password: Some("hunter2-smtp".to_owned()),
            from: "notice@example.com".to_owned(),
            timeout_secs: 10,
        };
        let sms = SmsGatewaySettings {
            url: "https://sms.example.com/send".to_owned(),
            bearer_token: Some("tok-very-secret".to_owned()),
            timeout_secs: 5,
        };
        let shown = format!("{smtp:?} {sms:?}");
        assert!(!shown.contains("hunter2-smtp"), "{shown}");
        assert!(!shown.contains("tok-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert!(shown.contains("smtp.example.com"));
    }

    #[test]
    fn security_names_and_ports() {
        assert_eq!("STARTTLS".parse(), Ok(SmtpSecurity::StartTls));
        assert_eq!("none".parse(), Ok(SmtpSecurity::None));
        assert_eq!("tls".parse(), Ok(SmtpSecurity::Tls));
        assert!("ssl".parse::<SmtpSecurity>().is_err());
        assert_eq!(SmtpSecurity::None.default_port(), 25);
        assert_eq!(SmtpSecurity::StartTls.default_port(), 587);
        assert_eq!(SmtpSecurity::Tls.default_port(), 465);
    }
}

//! The second channel over real sockets: e-mail to an SMTP server on
//! loopback, SMS to an HTTP gateway on loopback.

#[path = "support/smtp.rs"]
mod smtp;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use qiye_app::notify::{NotifyError, OutgoingMail, OutgoingSms, SecondChannel, urgent_notice};
use qiye_http::notify::{
    ChannelAdapter, ChannelSetupError, SmsGatewaySettings, SmtpSecurity, SmtpSettings,
};
use smtp::{SmtpTestConfig, SmtpTestServer};
use tokio::sync::mpsc;

const PREVIEW: &str = "服务器宕机，请立即处理 server down, act now";

fn smtp_settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "qiye 通知 <notice@qiye.example>".to_owned(),
        timeout_secs: 5,
    }
}

fn urgent_mail() -> OutgoingMail {
    let (subject, text_body, _) = urgent_notice(
        "示例科技",
        "张三",
        PREVIEW,
        1,
        "https://im.example.com/m/42",
    );
    OutgoingMail {
        to_address: "lisi@corp.example".to_owned(),
        to_name: "李四".to_owned(),
        subject,
        text_body,
    }
}

/// A port nothing listens on (bound, then released).
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn an_urgent_email_reaches_a_real_smtp_server_and_decodes_to_the_notice() {
    let server = SmtpTestServer::start().await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(server.port())), None).unwrap();
    assert!(adapter.email_enabled());
    assert!(!adapter.sms_enabled());
    let mail = urgent_mail();

    adapter.send_email(&mail).await.unwrap();

    let got = server.next_mail().await;
    assert_eq!(got.rcpt_to, vec!["lisi@corp.example".to_owned()]);
    assert_eq!(got.mail_from, "notice@qiye.example");
    assert_eq!(got.authenticated_as, None);
    let subject = got.header("Subject").unwrap();
    assert_eq!(subject, mail.subject);
    assert!(subject.starts_with("【加急】张三: "), "{subject}");
    assert!(subject.contains(PREVIEW), "{subject}");
    let to = got.header("To").unwrap();
    assert!(
        to.contains("李四") && to.contains("<lisi@corp.example>"),
        "{to}"
    );
    let from = got.header("From").unwrap();
    assert!(from.contains("notice@qiye.example"), "{from}");
    assert!(
        got.raw_header("Content-Type")
            .unwrap()
            .to_ascii_lowercase()
            .starts_with("text/plain; charset=utf-8")
    );
    let body = got.text_body();
    assert!(body.contains(PREVIEW), "{body}");
    assert!(body.contains("https://im.example.com/m/42"));
    assert_eq!(
        body.trim_end(),
        mail.text_body.trim_end().replace('\n', "\r\n")
    );
}

#[tokio::test]
async fn a_body_line_starting_with_a_dot_survives_the_smtp_dot_stuffing() {
    let server = SmtpTestServer::start().await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(server.port())), None).unwrap();
    let mail = OutgoingMail {
        to_address: "wangwu@corp.example".to_owned(),
        to_name: String::new(),
        subject: "plain ascii".to_owned(),
        text_body: "first\n.\n.hidden line\nlast\n".to_owned(),
    };

    adapter.send_email(&mail).await.unwrap();

    let got = server.next_mail().await;
    assert_eq!(got.rcpt_to, vec!["wangwu@corp.example".to_owned()]);
    assert_eq!(got.header("Subject").unwrap(), "plain ascii");
    // The line before the end marker belongs to the transport, not the text.
    assert_eq!(
        got.text_body().trim_end_matches("\r\n"),
        "first\r\n.\r\n.hidden line\r\nlast"
    );
}

#[tokio::test]
async fn credentials_are_used_when_the_server_requires_them() {
    let server = SmtpTestServer::start_with(SmtpTestConfig {
        credentials: Some(("notice".to_owned(), "s3cret pass".to_owned())),
        ..SmtpTestConfig::default()
    })
    .await;
    let settings = SmtpSettings {
        username: Some("notice".to_owned()),
        password: Some("s3cret pass".to_owned()),
        ..smtp_settings(server.port())
    };
    let adapter = ChannelAdapter::new(Some(settings.clone()), None).unwrap();
    adapter.send_email(&urgent_mail()).await.unwrap();
    assert_eq!(
        server.next_mail().await.authenticated_as.as_deref(),
        Some("notice")
    );

    let wrong = SmtpSettings {
        password: Some("wrong".to_owned()),
        ..settings
    };
    let adapter = ChannelAdapter::new(Some(wrong), None).unwrap();
    let err = adapter.send_email(&urgent_mail()).await.unwrap_err();
    assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
    assert!(!format!("{err}").contains("wrong"), "{err}");
    assert!(server.try_next_mail().await.is_none());
}

#[tokio::test]
async fn a_refused_recipient_is_rejected_and_a_deferral_is_unavailable() {
    let refusing = SmtpTestServer::start_with(SmtpTestConfig {
        reject_recipients: true,
        ..SmtpTestConfig::default()
    })
    .await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(refusing.port())), None).unwrap();
    let err = adapter.send_email(&urgent_mail()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Rejected(ref m) if m.contains("550")),
        "{err:?}"
    );
    assert!(refusing.try_next_mail().await.is_none());

    let deferring = SmtpTestServer::start_with(SmtpTestConfig {
        defer_senders: true,
        ..SmtpTestConfig::default()
    })
    .await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(deferring.port())), None).unwrap();
    let err = adapter.send_email(&urgent_mail()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Unavailable(ref m) if m.contains("451")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_smtp_server_that_is_down_is_unavailable() {
    let port = closed_port().await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(port)), None).unwrap();
    let err = adapter.send_email(&urgent_mail()).await.unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn required_starttls_sends_nothing_to_a_server_without_it() {
    let server = SmtpTestServer::start().await;
    let settings = SmtpSettings {
        host: "localhost".to_owned(),
        security: SmtpSecurity::StartTls,
        ..smtp_settings(server.port())
    };
    let adapter = ChannelAdapter::new(Some(settings), None).unwrap();
    let err = adapter.send_email(&urgent_mail()).await.unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
    assert!(server.try_next_mail().await.is_none());
}

#[tokio::test]
async fn a_bad_address_is_rejected_without_a_connection() {
    let port = closed_port().await;
    let adapter = ChannelAdapter::new(Some(smtp_settings(port)), None).unwrap();
    let mail = OutgoingMail {
        to_address: "not an address".to_owned(),
        ..urgent_mail()
    };
    let err = adapter.send_email(&mail).await.unwrap_err();
    assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn unconfigured_channels_say_so() {
    let adapter = ChannelAdapter::new(None, None).unwrap();
    assert!(!adapter.email_enabled());
    assert!(!adapter.sms_enabled());
    assert_eq!(
        adapter.send_email(&urgent_mail()).await,
        Err(NotifyError::NotConfigured)
    );
    let sms = OutgoingSms {
        mobile: "13800000000".to_owned(),
        text: "x".to_owned(),
    };
    assert_eq!(
        adapter.send_sms(&sms).await,
        Err(NotifyError::NotConfigured)
    );
}

#[tokio::test]
async fn bad_settings_are_refused_at_setup() {
    let bad_from = SmtpSettings {
        from: "nobody".to_owned(),
        ..smtp_settings(25)
    };
    assert!(matches!(
        ChannelAdapter::new(Some(bad_from), None),
        Err(ChannelSetupError::InvalidFrom(_))
    ));
    let zero = SmtpSettings {
        timeout_secs: 0,
        ..smtp_settings(25)
    };
    assert!(matches!(
        ChannelAdapter::new(Some(zero), None),
        Err(ChannelSetupError::ZeroTimeout(_))
    ));
    for url in ["ftp://sms.example/send", "not a url", "http://"] {
        let sms = SmsGatewaySettings {
            url: url.to_owned(),
            bearer_token: None,
            timeout_secs: 5,
        };
        assert!(
            matches!(
                ChannelAdapter::new(None, Some(sms)),
                Err(ChannelSetupError::InvalidUrl(_))
            ),
            "{url}"
        );
    }
    let sms = SmsGatewaySettings {
        url: "http://127.0.0.1:1/sms".to_owned(),
        bearer_token: Some("line\nbreak".to_owned()),
        timeout_secs: 5,
    };
    assert!(matches!(
        ChannelAdapter::new(None, Some(sms)),
        Err(ChannelSetupError::InvalidToken)
    ));
}

/// What the fake gateway saw: the JSON body and the Authorization header.
type Seen = (serde_json::Value, Option<String>);

/// An SMS gateway on 127.0.0.1:0 that answers `status` and reports what
/// it received.
async fn gateway(status: StatusCode) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let (sender, seen) = mpsc::unbounded_channel::<Seen>();
    let app = axum::Router::new()
        .route(
            "/sms/send",
            post(
                |State((sender, status)): State<(Arc<mpsc::UnboundedSender<Seen>>, StatusCode)>,
                 headers: HeaderMap,
                 Json(body): Json<serde_json::Value>| async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let _ = sender.send((body, auth));
                    status
                },
            ),
        )
        .with_state((Arc::new(sender), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/sms/send"), seen)
}

fn sms_settings(url: String) -> SmsGatewaySettings {
    SmsGatewaySettings {
        url,
        bearer_token: Some("gw-token".to_owned()),
        timeout_secs: 5,
    }
}

#[tokio::test]
async fn an_sms_is_posted_as_json_with_the_bearer_token() {
    let (url, mut seen) = gateway(StatusCode::ACCEPTED).await;
    let adapter = ChannelAdapter::new(None, Some(sms_settings(url))).unwrap();
    assert!(adapter.sms_enabled());
    let (_, _, text) = urgent_notice(
        "示例科技",
        "张三",
        PREVIEW,
        1,
        "https://im.example.com/m/42",
    );
    let sms = OutgoingSms {
        mobile: "+86 13800000000".to_owned(),
        text: text.clone(),
    };

    adapter.send_sms(&sms).await.unwrap();

    let (body, auth) = seen.try_recv().unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "mobile": "+86 13800000000", "text": text })
    );
    assert_eq!(auth.as_deref(), Some("Bearer gw-token"));
}

#[tokio::test]
async fn a_non_2xx_answer_is_rejected() {
    for status in [StatusCode::BAD_REQUEST, StatusCode::INTERNAL_SERVER_ERROR] {
        let (url, mut seen) = gateway(status).await;
        let adapter = ChannelAdapter::new(None, Some(sms_settings(url))).unwrap();
        let sms = OutgoingSms {
            mobile: "13800000000".to_owned(),
            text: "加急".to_owned(),
        };
        let err = adapter.send_sms(&sms).await.unwrap_err();
        assert!(
            matches!(err, NotifyError::Rejected(ref m) if m.contains(status.as_str())),
            "{err:?}"
        );
        assert!(seen.try_recv().is_ok(), "the gateway was asked");
    }
}

#[tokio::test]
async fn a_gateway_that_is_down_is_unavailable() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/sms/send?key=very-secret");
    let adapter = ChannelAdapter::new(None, Some(sms_settings(url))).unwrap();
    let sms = OutgoingSms {
        mobile: "13800000000".to_owned(),
        text: "加急".to_owned(),
    };
    let err = adapter.send_sms(&sms).await.unwrap_err();
    assert!(matches!(err, NotifyError::Unavailable(_)), "{err:?}");
    assert!(!format!("{err}").contains("very-secret"), "{err}");
}

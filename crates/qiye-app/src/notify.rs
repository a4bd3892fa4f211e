//! The second channel for urgent messages: e-mail and SMS.
//!
//! An urgent message left unread is re-sent outside qiye, by policy
//! ([`qiye_domain::escalation::EscalationPolicy`]). This module holds the
//! port through which that happens ([`SecondChannel`], implemented over
//! SMTP and an HTTP SMS gateway in `qiye-http/src/notify.rs`), the shapes it
//! sends and the one renderer of the notice ([`urgent_notice`]), so the
//! wording is the same whichever adapter delivers it.

use async_trait::async_trait;

/// The longest SMS text [`urgent_notice`] renders, in characters: one
/// segment of a UCS-2 (Chinese) SMS.
pub const SMS_MAX_CHARS: usize = 70;
/// The longest preview carried in an e-mail subject, in characters.
pub const SUBJECT_PREVIEW_MAX_CHARS: usize = 60;
/// The longest preview carried in an e-mail body, in characters.
pub const BODY_PREVIEW_MAX_CHARS: usize = 500;
/// The longest corp name in an SMS, in characters.
const SMS_CORP_MAX_CHARS: usize = 12;
/// The longest sender name in an SMS, in characters.
const SMS_SENDER_MAX_CHARS: usize = 10;
/// Below this many characters of room for the preview, an SMS leaves out
/// the link rather than the message.
const SMS_MIN_PREVIEW_CHARS: usize = 12;

/// An e-mail to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The member's address (`name@example.com`).
    pub to_address: String,
    /// The member's display name, shown beside the address.
    pub to_name: String,
    /// The subject line (one line).
    pub subject: String,
    /// The plain-text body.
    pub text_body: String,
}

/// An SMS to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The member's mobile number, as stored in the directory.
    pub mobile: String,
    /// The text (at most [`SMS_MAX_CHARS`] characters from [`urgent_notice`]).
    pub text: String,
}

/// Why a notice could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The server or gateway could not be reached or did not answer in
    /// time, or refused for now (SMTP 4xx); trying later may succeed.
    #[error("second channel unavailable: {0}")]
    Unavailable(String),
    /// The server or gateway refused this notice (SMTP 5xx, a non-2xx
    /// HTTP answer, an unusable address); the same notice will fail again.
    #[error("second channel refused the notice: {0}")]
    Rejected(String),
    /// This channel is not configured on this server.
    #[error("second channel not configured")]
    NotConfigured,
}

/// Sends notices outside qiye. Implemented at the edge (SMTP, HTTP), so the
/// use cases stay free of wire protocols.
#[async_trait]
pub trait SecondChannel: Send + Sync + 'static {
    /// Sends one e-mail; [`NotifyError::NotConfigured`] without SMTP
    /// settings.
    async fn send_email(&self, mail: &OutgoingMail) -> Result<(), NotifyError>;
    /// Sends one SMS; [`NotifyError::NotConfigured`] without a gateway.
    async fn send_sms(&self, sms: &OutgoingSms) -> Result<(), NotifyError>;
    /// Whether e-mail is configured.
    fn email_enabled(&self) -> bool;
    /// Whether SMS is configured.
    fn sms_enabled(&self) -> bool;
}

/// The notice of an unread urgent message: `(subject, text body, SMS text)`.
///
/// * `corp_name`, `sender_name`: who sent it, and in which corp.
/// * `preview`: the start of the message (any length; cut here).
/// * `attempt`: which escalation this is, 1 for the first.
/// * `open_url`: where the member reads and acknowledges it.
///
/// The subject is one line, `【加急】{sender}: {preview}`, with the preview
/// cut to [`SUBJECT_PREVIEW_MAX_CHARS`]. The body says the same in Chinese
/// and then in English, with the preview (up to
/// [`BODY_PREVIEW_MAX_CHARS`]) and the link. The SMS is Chinese only and at
/// most [`SMS_MAX_CHARS`] characters: corp, sender and as much of the
/// preview as fits, then the link if enough room is left for the preview.
/// Line breaks and control characters in names and preview become spaces.
pub fn urgent_notice(
    corp_name: &str,
    sender_name: &str,
    preview: &str,
    attempt: u32,
    open_url: &str,
) -> (String, String, String) {
    let corp = one_line(corp_name);
    let sender = one_line(sender_name);
    let line = one_line(preview);
    let url = one_line(open_url);

    let subject = format!(
        "【加急】{sender}: {}",
        cut(&line, SUBJECT_PREVIEW_MAX_CHARS)
    );

    let body_preview = cut(&line, BODY_PREVIEW_MAX_CHARS);
    let mut body = String::new();
    body.push_str(&format!("{corp}\n\n"));
    body.push_str(&format!(
        "{sender} 给你发送了一条加急消息，你还没有阅读（第 {attempt} 次提醒）：\n\n"
    ));
    body.push_str(&format!("    {body_preview}\n\n"));
    body.push_str(&format!("请打开查看并确认：{url}\n\n"));
    body.push_str("----\n\n");
    body.push_str(&format!(
        "{sender} sent you an urgent message in {corp} that you have not read yet \
         (reminder {attempt}):\n\n"
    ));
    body.push_str(&format!("    {body_preview}\n\n"));
    body.push_str(&format!("Open and acknowledge it: {url}\n"));

    let sms = sms_text(&corp, &sender, &line, &url);
    (subject, body, sms)
}

/// The SMS: `【corp】加急 sender：preview url`, within [`SMS_MAX_CHARS`].
fn sms_text(corp: &str, sender: &str, preview: &str, url: &str) -> String {
    let head = format!(
        "【{}】加急 {}：",
        cut(corp, SMS_CORP_MAX_CHARS),
        cut(sender, SMS_SENDER_MAX_CHARS)
    );
    let head_len = head.chars().count();
    let tail = if url.is_empty() {
        String::new()
    } else {
        format!(" {url}")
    };
    let with_link = SMS_MAX_CHARS.saturating_sub(head_len + tail.chars().count());
    let (room, tail) = if tail.is_empty() || with_link >= SMS_MIN_PREVIEW_CHARS {
        (with_link, tail)
    } else {
        (SMS_MAX_CHARS.saturating_sub(head_len), String::new())
    };
    format!("{head}{}{tail}", cut(preview, room))
}

/// The text on one line: line breaks, tabs and other control characters
/// become single spaces, and leading and trailing spaces are dropped.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `text`; a cut text ends with `…` (which
/// counts towards `max`).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://im.example.com/m/42";

    #[test]
    fn a_short_notice_carries_everything_in_both_languages() {
        let (subject, body, sms) = urgent_notice("示例科技", "张三", "服务器宕机，速回", 2, URL);
        assert_eq!(subject, "【加急】张三: 服务器宕机，速回");
        assert!(body.contains("示例科技"));
        assert!(body.contains("张三 给你发送了一条加急消息"));
        assert!(body.contains("第 2 次提醒"));
        assert!(body.contains("reminder 2"));
        assert!(body.contains("sent you an urgent message in 示例科技"));
        assert_eq!(body.matches("服务器宕机，速回").count(), 2);
        assert_eq!(body.matches(URL).count(), 2);
        assert_eq!(
            sms,
            format!("【示例科技】加急 张三：服务器宕机，速回 {URL}")
        );
        assert!(sms.chars().count() <= SMS_MAX_CHARS);
    }

    #[test]
    fn a_long_preview_is_cut_in_subject_and_sms_but_the_link_stays() {
        let preview = "这是一条非常长的消息。".repeat(100);
        let (subject, body, sms) = urgent_notice("示例科技", "张三", &preview, 1, URL);
        assert!(subject.ends_with('…'));
        assert_eq!(
            subject.chars().count(),
            "【加急】张三: ".chars().count() + SUBJECT_PREVIEW_MAX_CHARS
        );
        assert!(body.contains(&cut(&preview, BODY_PREVIEW_MAX_CHARS)));
        assert!(!body.contains(&preview));
        assert_eq!(sms.chars().count(), SMS_MAX_CHARS);
        assert!(sms.ends_with(URL));
        assert!(sms.contains("…"));
    }

    #[test]
    fn an_sms_leaves_out_a_link_too_long_to_leave_room_for_the_message() {
        let url = format!("https://im.example.com/{}", "x".repeat(60));
        let (_, body, sms) = urgent_notice("示例科技", "张三", "请立即回电话", 1, &url);
        assert_eq!(sms, "【示例科技】加急 张三：请立即回电话");
        assert!(body.contains(&url));
    }

    #[test]
    fn long_names_are_cut_so_the_sms_still_fits_and_says_something() {
        let (_, _, sms) =
            urgent_notice(&"很长的公司名".repeat(20), &"名".repeat(50), "开会", 1, URL);
        assert!(sms.chars().count() <= SMS_MAX_CHARS, "{sms}");
        assert!(sms.contains("开会"));
        assert!(sms.contains("加急"));
    }

    #[test]
    fn line_breaks_cannot_reach_the_subject() {
        let (subject, _, sms) = urgent_notice(
            "Acme\r\nBcc: evil@example.com",
            "Li\nSi",
            "first line\r\n\tsecond line",
            1,
            URL,
        );
        assert_eq!(subject, "【加急】Li Si: first line second line");
        assert!(!sms.contains('\n'));
        assert!(!subject.contains('\r'));
    }

    #[test]
    fn every_cut_respects_its_limit_for_any_length() {
        for n in 0..200 {
            let preview = "a".repeat(n);
            let (subject, _, sms) = urgent_notice("c", "s", &preview, 1, URL);
            assert!(sms.chars().count() <= SMS_MAX_CHARS, "{n}: {sms}");
            assert!(subject.chars().count() <= "【加急】s: ".chars().count() + 60);
        }
    }

    #[test]
    fn cut_counts_characters_not_bytes() {
        assert_eq!(cut("加急消息", 4), "加急消息");
        assert_eq!(cut("加急消息", 3), "加急…");
        assert_eq!(cut("加急消息", 0), "");
        assert_eq!(one_line("  a \n\n b  "), "a b");
    }
}

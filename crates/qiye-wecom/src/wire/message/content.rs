//! The payload of each `msgtype` (§3.2): required fields, limits, `safe`
//! rules, and the canonical form qiye stores and delivers.

use serde_json::Value;

use super::card::{self, CardSpec};
use super::fields::{Fields, invalid, is_userid, max_bytes, max_chars};
use crate::ErrCode;
use crate::wire::WireError;

/// Where a message is sent, which decides the msgtypes it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentPlace {
    /// `message/send`: every msgtype.
    AppMessage,
    /// `appchat/send`: text, image, voice, video, file, textcard, news,
    /// mpnews, markdown.
    AppChat,
    /// qiye's native member chat: text, image, voice, video, file, markdown.
    MemberChat,
}

impl ContentPlace {
    fn name(self) -> &'static str {
        match self {
            Self::AppMessage => "message/send",
            Self::AppChat => "appchat/send",
            Self::MemberChat => "member chat",
        }
    }

    fn accepts(self, kind: Kind) -> bool {
        use Kind::*;
        match self {
            Self::AppMessage => true,
            Self::AppChat => matches!(
                kind,
                Text | Image | Voice | Video | File | Textcard | News | Mpnews | Markdown
            ),
            Self::MemberChat => matches!(kind, Text | Image | Voice | Video | File | Markdown),
        }
    }
}

/// A payload that passed [`validate_content`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedContent {
    /// The msgtype.
    pub msgtype: String,
    /// The canonical payload: compact JSON with keys sorted, only the
    /// fields WeCom defines (legacy ones such as mpnews `show_cover_pic`
    /// are dropped), numbers and flags in their JSON types, defaults filled
    /// (textcard `btntxt` "详情", taskcard `color` "blue").
    pub body: String,
    /// A plain-text summary of at most 120 characters for notifications
    /// and e-mails: the text, the title, or `[image]`, `[voice]`, `[file]`.
    pub preview: String,
    /// Every media_id the message references, in order, without repeats.
    pub media_ids: Vec<String>,
    /// Userids mentioned: markdown `<@userid>` and, in chats, text
    /// `mentioned_list` (`@all` kept as given), in order, without repeats.
    pub mentions: Vec<String>,
    /// For `template_card` and `interactive_taskcard`: what a click may carry.
    pub card: Option<CardSpec>,
}

/// Longest preview, in characters.
pub const PREVIEW_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Image,
    Voice,
    Video,
    File,
    Textcard,
    News,
    Mpnews,
    Markdown,
    MiniprogramNotice,
    TemplateCard,
    InteractiveTaskcard,
}

impl Kind {
    fn parse(msgtype: &str) -> Option<Kind> {
        Some(match msgtype {
            "text" => Kind::Text,
            "image" => Kind::Image,
            "voice" => Kind::Voice,
            "video" => Kind::Video,
            "file" => Kind::File,
            "textcard" => Kind::Textcard,
            "news" => Kind::News,
            "mpnews" => Kind::Mpnews,
            "markdown" => Kind::Markdown,
            "miniprogram_notice" => Kind::MiniprogramNotice,
            "template_card" => Kind::TemplateCard,
            "interactive_taskcard" => Kind::InteractiveTaskcard,
            _ => return None,
        })
    }
}

/// The collected side results of a payload.
#[derive(Default)]
struct Found {
    preview: String,
    media_ids: Vec<String>,
    mentions: Vec<String>,
    card: Option<CardSpec>,
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|i| i == item) {
        list.push(item.to_owned());
    }
}

/// Checks the payload of a message of type `msgtype` sent to `place` with
/// `safe`, and answers its canonical form.
///
/// - unknown msgtype, or one `place` does not take: 40008;
/// - `safe` not 0-2, or 2 for anything but mpnews: 40058; `news` and
///   `miniprogram_notice` with `safe` 1 or 2: 40074;
/// - the payload (`null` counts as `{}`) not an object, a field of the
///   wrong type, or a rule without a more specific code: 40058;
/// - missing required fields and texts over their limits: the specific
///   codes listed in the module documentation.
///
/// Every error's detail names the field (`textcard.url is required`).
pub fn validate_content(
    msgtype: &str,
    payload: &Value,
    safe: i64,
    place: ContentPlace,
) -> Result<ValidatedContent, WireError> {
    let kind = Kind::parse(msgtype).ok_or_else(|| {
        WireError::new(
            ErrCode::InvalidMsgType,
            format!("unknown msgtype \"{msgtype}\""),
        )
    })?;
    if !place.accepts(kind) {
        return Err(WireError::new(
            ErrCode::InvalidMsgType,
            format!("msgtype {msgtype} cannot be sent by {}", place.name()),
        ));
    }
    if !(0..=2).contains(&safe) {
        return Err(invalid(format!("safe must be 0, 1 or 2, got {safe}")));
    }
    if safe != 0 && matches!(kind, Kind::News | Kind::MiniprogramNotice) {
        return Err(WireError::new(
            ErrCode::SafeNotSupported,
            format!("{msgtype} cannot be safe; use mpnews"),
        ));
    }
    if safe == 2 && kind != Kind::Mpnews {
        return Err(invalid(format!("safe=2 is only for mpnews, not {msgtype}")));
    }

    let mut f = Fields::root(msgtype, payload)?;
    let mut found = Found::default();
    match kind {
        Kind::Text => text(&mut f, place, &mut found)?,
        Kind::Image => media(&mut f, "[image]", &mut found)?,
        Kind::Voice => media(&mut f, "[voice]", &mut found)?,
        Kind::File => media(&mut f, "[file]", &mut found)?,
        Kind::Video => video(&mut f, &mut found)?,
        Kind::Textcard => textcard(&mut f, &mut found)?,
        Kind::News => news(&mut f, &mut found)?,
        Kind::Mpnews => mpnews(&mut f, &mut found)?,
        Kind::Markdown => markdown(&mut f, &mut found)?,
        Kind::MiniprogramNotice => miniprogram_notice(&mut f, &mut found)?,
        Kind::TemplateCard => {
            let (spec, preview) = card::template_card(&mut f, &mut found.media_ids)?;
            found.preview = preview;
            found.card = Some(spec);
        }
        Kind::InteractiveTaskcard => {
            let (spec, preview) = card::interactive_taskcard(&mut f)?;
            found.preview = preview;
            found.card = Some(spec);
        }
    }
    let body =
        serde_json::to_string(&f.finish()).map_err(|e| invalid(format!("{msgtype}: {e}")))?;
    Ok(ValidatedContent {
        msgtype: msgtype.to_owned(),
        body,
        preview: preview(&found.preview),
        media_ids: found.media_ids,
        mentions: found.mentions,
        card: found.card,
    })
}

/// Longest text / markdown content, in bytes.
pub const MAX_CONTENT_BYTES: usize = 2048;
/// Longest title (video, textcard, articles), in bytes.
pub const MAX_TITLE_BYTES: usize = 128;
/// Longest description (video, textcard, articles, digest), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 512;
/// Longest URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Most articles in news / mpnews.
pub const MAX_ARTICLES: usize = 8;
/// Longest mpnews article body, in bytes.
pub const MAX_MPNEWS_CONTENT_BYTES: usize = 666 * 1024;
/// Longest mpnews author, in bytes.
pub const MAX_AUTHOR_BYTES: usize = 64;

fn content(f: &mut Fields<'_>) -> Result<String, WireError> {
    let text = f.required_text("content", ErrCode::EmptyContent)?;
    max_bytes(&f.name("content"), &text, MAX_CONTENT_BYTES)?;
    Ok(text)
}

fn text(f: &mut Fields<'_>, place: ContentPlace, found: &mut Found) -> Result<(), WireError> {
    let text = content(f)?;
    // `mentioned_list` is a chat feature; message/send has no such field.
    if place != ContentPlace::AppMessage {
        for user in f.text_list("mentioned_list")?.unwrap_or_default() {
            let user = user.trim();
            if user.is_empty() {
                continue;
            }
            if user != "@all" && !is_userid(user) {
                return Err(invalid(format!(
                    "{} has an invalid userid \"{user}\"",
                    f.name("mentioned_list")
                )));
            }
            push_unique(&mut found.mentions, user);
        }
    }
    found.preview = plain(&text);
    Ok(())
}

fn media_id(f: &mut Fields<'_>, key: &str, found: &mut Found) -> Result<(), WireError> {
    let id = f.required_text(key, ErrCode::MediaIdMissing)?;
    push_unique(&mut found.media_ids, id.trim());
    Ok(())
}

fn media(f: &mut Fields<'_>, label: &str, found: &mut Found) -> Result<(), WireError> {
    media_id(f, "media_id", found)?;
    found.preview = label.to_owned();
    Ok(())
}

fn video(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    media_id(f, "media_id", found)?;
    let title = f.text("title")?.unwrap_or_default();
    max_bytes(&f.name("title"), &title, MAX_TITLE_BYTES)?;
    let description = f.text("description")?.unwrap_or_default();
    max_bytes(&f.name("description"), &description, MAX_DESCRIPTION_BYTES)?;
    found.preview = if title.trim().is_empty() {
        "[video]".to_owned()
    } else {
        format!("[video] {title}")
    };
    Ok(())
}

fn textcard(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    let title = f.required_text("title", ErrCode::TitleMissing)?;
    max_bytes(&f.name("title"), &title, MAX_TITLE_BYTES)?;
    let description = f.required_text("description", ErrCode::DescriptionMissing)?;
    max_bytes(&f.name("description"), &description, MAX_DESCRIPTION_BYTES)?;
    let url = f.required_text("url", ErrCode::UrlMissing)?;
    max_bytes(&f.name("url"), &url, MAX_URL_BYTES)?;
    let btntxt = f.text_or("btntxt", "详情")?;
    max_chars(&f.name("btntxt"), &btntxt, 4)?;
    found.preview = title;
    Ok(())
}

fn news(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    let mut articles = articles(f)?;
    for a in &mut articles {
        let title = a.required_text("title", ErrCode::TitleMissing)?;
        max_bytes(&a.name("title"), &title, MAX_TITLE_BYTES)?;
        let description = a.text("description")?.unwrap_or_default();
        max_bytes(&a.name("description"), &description, MAX_DESCRIPTION_BYTES)?;
        let url = a.text("url")?.unwrap_or_default();
        max_bytes(&a.name("url"), &url, MAX_URL_BYTES)?;
        let picurl = a.text("picurl")?.unwrap_or_default();
        max_bytes(&a.name("picurl"), &picurl, MAX_URL_BYTES)?;
        let appid = a.text("appid")?.unwrap_or_default();
        a.text("pagepath")?;
        if url.trim().is_empty() && appid.trim().is_empty() {
            return Err(WireError::new(
                ErrCode::UrlMissing,
                format!("{} or appid is required", a.name("url")),
            ));
        }
        if found.preview.is_empty() {
            found.preview = title;
        }
    }
    f.put_objects("articles", articles);
    Ok(())
}

fn articles<'a>(f: &Fields<'a>) -> Result<Vec<Fields<'a>>, WireError> {
    let articles = f.objects("articles")?.unwrap_or_default();
    if articles.is_empty() {
        return Err(invalid(format!("{} is required", f.name("articles"))));
    }
    if articles.len() > MAX_ARTICLES {
        return Err(WireError::new(
            ErrCode::TooManyArticles,
            format!(
                "{} has {} articles, at most {MAX_ARTICLES} allowed",
                f.name("articles"),
                articles.len()
            ),
        ));
    }
    Ok(articles)
}

fn mpnews(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    let mut articles = articles(f)?;
    for a in &mut articles {
        let title = a.required_text("title", ErrCode::TitleMissing)?;
        max_bytes(&a.name("title"), &title, MAX_TITLE_BYTES)?;
        media_id(a, "thumb_media_id", found)?;
        let author = a.text("author")?.unwrap_or_default();
        if author.len() > MAX_AUTHOR_BYTES {
            return Err(WireError::new(
                ErrCode::AuthorTooLong,
                format!(
                    "{} is longer than {MAX_AUTHOR_BYTES} bytes",
                    a.name("author")
                ),
            ));
        }
        let source = a.text("content_source_url")?.unwrap_or_default();
        max_bytes(&a.name("content_source_url"), &source, MAX_URL_BYTES)?;
        let body = a.required_text("content", ErrCode::EmptyContent)?;
        max_bytes(&a.name("content"), &body, MAX_MPNEWS_CONTENT_BYTES)?;
        let digest = a.text("digest")?.unwrap_or_default();
        max_bytes(&a.name("digest"), &digest, MAX_DESCRIPTION_BYTES)?;
        if found.preview.is_empty() {
            found.preview = title;
        }
    }
    f.put_objects("articles", articles);
    Ok(())
}

fn markdown(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    let text = content(f)?;
    for user in markdown_mentions(&text) {
        push_unique(&mut found.mentions, user);
    }
    found.preview = plain_markdown(&text);
    Ok(())
}

/// The userids of `<@userid>` mentions in markdown text, in order.
fn markdown_mentions(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("<@") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find('>') {
            let user = &rest[..end];
            if is_userid(user) {
                out.push(user);
                rest = &rest[end + 1..];
            }
        }
    }
    out
}

fn miniprogram_notice(f: &mut Fields<'_>, found: &mut Found) -> Result<(), WireError> {
    f.required_text("appid", ErrCode::InvalidRequestParameter)?;
    f.text("page")?;
    let title = f.required_text("title", ErrCode::TitleMissing)?;
    chars_between(&f.name("title"), &title, 4, 12)?;
    if let Some(description) = f.text("description")? {
        chars_between(&f.name("description"), &description, 4, 12)?;
    }
    f.flag("emphasis_first_item")?;
    let mut items = f.objects("content_item")?.unwrap_or_default();
    if items.len() > 10 {
        return Err(invalid(format!(
            "{} has {} items, at most 10 allowed",
            f.name("content_item"),
            items.len()
        )));
    }
    for item in &mut items {
        let key = item.required_text("key", ErrCode::InvalidRequestParameter)?;
        max_chars(&item.name("key"), &key, 10)?;
        let value = item.required_text("value", ErrCode::InvalidRequestParameter)?;
        max_chars(&item.name("value"), &value, 30)?;
    }
    if f.has("content_item") {
        f.put_objects("content_item", items);
    }
    found.preview = title;
    Ok(())
}

fn chars_between(name: &str, text: &str, min: usize, max: usize) -> Result<(), WireError> {
    let n = text.chars().count();
    if n < min {
        return Err(invalid(format!(
            "{name} must have {min}-{max} characters, got {n}"
        )));
    }
    max_chars(name, text, max)
}

/// Text without markup (`<a href>`, `<div class>`, `<font>` tags) and with
/// runs of whitespace collapsed; a `<@userid>` mention becomes `@userid`.
pub(super) fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        // Only `<x`, `</x` and `<@x` start markup; `a < b` is text.
        let starts_tag = rest[open + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '@');
        if !starts_tag {
            out.push('<');
            rest = &rest[open + 1..];
            continue;
        }
        match rest[open..].find('>') {
            Some(close) => {
                let tag = &rest[open + 1..open + close];
                if let Some(user) = tag.strip_prefix('@') {
                    out.push('@');
                    out.push_str(user);
                }
                rest = &rest[open + close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Markdown as plain text: headers, quotes, emphasis and code marks
/// removed, links reduced to their text.
fn plain_markdown(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = line.trim_start();
            let line = line.trim_start_matches('#').trim_start_matches('>');
            links_to_text(line).replace(['*', '`'], "")
        })
        .collect();
    plain(&lines.join("\n"))
}

/// `[text](url)` → `text`.
fn links_to_text(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let target = after
            .find("](")
            .and_then(|mid| after[mid + 2..].find(')').map(|c| (mid, mid + 2 + c)));
        match target {
            Some((mid, close)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..mid]);
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// At most [`PREVIEW_CHARS`] characters, `…` marking a cut.
pub(super) fn preview(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= PREVIEW_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(PREVIEW_CHARS - 1).collect();
    out.push('…');
    out
}

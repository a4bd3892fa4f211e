//! `template_card` (§3.3: the five card types and their limits), the legacy
//! `interactive_taskcard`, what a member's click on them may carry
//! ([`CardSpec`]), and the card after `button{replace_name}`.

use serde_json::Value;

use super::content::{MAX_DESCRIPTION_BYTES, MAX_TITLE_BYTES, MAX_URL_BYTES};
use super::fields::{Fields, invalid, is_userid, max_bytes};
use crate::ErrCode;
use crate::wire::WireError;

/// A question of an interactive card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Its `question_key`.
    pub key: String,
    /// The `id` of each option.
    pub option_ids: Vec<String>,
    /// Whether several options may be chosen (vote `checkbox` with mode 1).
    pub multi: bool,
}

/// What a member's click on a card may carry, so the server can check a
/// `template_card_event` without parsing the card again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSpec {
    /// `text_notice`, `news_notice`, `button_interaction`,
    /// `vote_interaction`, `multiple_interaction`, or `interactive_taskcard`.
    pub card_type: String,
    /// The card's `task_id`.
    pub task_id: Option<String>,
    /// Whether the card takes answers (the three `*_interaction` types and
    /// `interactive_taskcard`); such cards get a `response_code`.
    pub interactive: bool,
    /// Keys of the callback buttons (`button_list` with type 0; taskcard `btn`).
    pub buttons: Vec<String>,
    /// The questions (button_selection, checkbox, select_list).
    pub questions: Vec<Question>,
    /// `submit_button.key`.
    pub submit_key: Option<String>,
    /// `action_menu.action_list[].key`.
    pub menu_keys: Vec<String>,
}

impl CardSpec {
    /// Whether `key` is one a click may carry: a callback button, the
    /// submit button or a menu item.
    pub fn knows_key(&self, key: &str) -> bool {
        self.buttons.iter().any(|b| b == key)
            || self.submit_key.as_deref() == Some(key)
            || self.menu_keys.iter().any(|m| m == key)
    }

    /// Checks the answers of a click (`question_key`, chosen option ids):
    /// each question known and answered once, each option one of its own,
    /// and a single choice unless the question is `multi`.
    pub fn check_selection(&self, selected: &[(String, Vec<String>)]) -> Result<(), WireError> {
        for (i, (key, options)) in selected.iter().enumerate() {
            let q = self
                .questions
                .iter()
                .find(|q| &q.key == key)
                .ok_or_else(|| invalid(format!("unknown question_key \"{key}\"")))?;
            if selected[..i].iter().any(|(k, _)| k == key) {
                return Err(invalid(format!("question_key \"{key}\" answered twice")));
            }
            if options.is_empty() || (!q.multi && options.len() > 1) {
                return Err(invalid(format!(
                    "question_key \"{key}\" takes {} option",
                    if q.multi {
                        "at least one"
                    } else {
                        "exactly one"
                    }
                )));
            }
            if let Some(bad) = options.iter().find(|o| !q.option_ids.contains(o)) {
                return Err(invalid(format!(
                    "option \"{bad}\" is not one of question_key \"{key}\""
                )));
            }
        }
        Ok(())
    }
}

/// Longest `task_id`, in bytes.
pub const MAX_TASK_ID_BYTES: usize = 128;
/// Longest button / menu / question key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

const CARD_TYPES: [&str; 5] = [
    "text_notice",
    "news_notice",
    "button_interaction",
    "vote_interaction",
    "multiple_interaction",
];

fn check_task_id(name: &str, id: &str) -> Result<(), WireError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_TASK_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} must be 1-{MAX_TASK_ID_BYTES} of [0-9a-zA-Z_-@]"
        )))
    }
}

fn key(f: &mut Fields<'_>, field: &str) -> Result<String, WireError> {
    let k = f.required_text(field, ErrCode::InvalidRequestParameter)?;
    max_bytes(&f.name(field), &k, MAX_KEY_BYTES)?;
    Ok(k)
}

fn unique(name: &str, seen: &mut Vec<String>, k: &str) -> Result<(), WireError> {
    if seen.iter().any(|s| s == k) {
        return Err(invalid(format!("{name} \"{k}\" is used twice")));
    }
    seen.push(k.to_owned());
    Ok(())
}

/// A link target: `type` 1 needs `url` (41010), 2 needs `appid`.
fn target(f: &mut Fields<'_>, kind: Option<i64>) -> Result<(), WireError> {
    let url = f.text("url")?.unwrap_or_default();
    max_bytes(&f.name("url"), &url, MAX_URL_BYTES)?;
    let appid = f.text("appid")?.unwrap_or_default();
    f.text("pagepath")?;
    match kind {
        Some(1) if url.trim().is_empty() => Err(WireError::new(
            ErrCode::UrlMissing,
            format!("{} is required", f.name("url")),
        )),
        Some(2) if appid.trim().is_empty() => {
            Err(invalid(format!("{} is required", f.name("appid"))))
        }
        _ => Ok(()),
    }
}

/// Checks a `template_card` payload; answers what a click may carry and
/// the preview (main title, else sub-title, else `[card]`).
pub(super) fn template_card(
    f: &mut Fields<'_>,
    media_ids: &mut Vec<String>,
) -> Result<(CardSpec, String), WireError> {
    let card_type = f.required_text("card_type", ErrCode::InvalidRequestParameter)?;
    if !CARD_TYPES.contains(&card_type.as_str()) {
        return Err(invalid(format!(
            "{} must be one of {}, got \"{card_type}\"",
            f.name("card_type"),
            CARD_TYPES.join(", ")
        )));
    }
    let interactive = card_type.ends_with("_interaction");
    let mut spec = CardSpec {
        card_type: card_type.clone(),
        task_id: None,
        interactive,
        buttons: Vec::new(),
        questions: Vec::new(),
        submit_key: None,
        menu_keys: Vec::new(),
    };

    if let Some(mut source) = f.object("source")? {
        source.text("icon_url")?;
        source.text("desc")?;
        source.int_in("desc_color", 0..=3)?;
        f.put_object("source", source);
    }
    if let Some(mut menu) = f.object("action_menu")? {
        menu.text("desc")?;
        let mut actions = menu.objects_in("action_list", 1..=3)?;
        for a in &mut actions {
            a.required_text("text", ErrCode::InvalidRequestParameter)?;
            let k = key(a, "key")?;
            unique(&a.name("key"), &mut spec.menu_keys, &k)?;
        }
        menu.put_objects("action_list", actions);
        f.put_object("action_menu", menu);
    }
    match f.text("task_id")? {
        Some(id) => {
            check_task_id(&f.name("task_id"), &id)?;
            spec.task_id = Some(id);
        }
        None if interactive || !spec.menu_keys.is_empty() => {
            return Err(invalid(format!(
                "{} is required for {card_type} and with action_menu",
                f.name("task_id")
            )));
        }
        None => {}
    }

    let mut main = f.object_or_empty("main_title")?;
    let title = main.text("title")?.unwrap_or_default();
    main.text("desc")?;
    if f.has("main_title") {
        f.put_object("main_title", main);
    }
    let sub_title = f.text("sub_title_text")?.unwrap_or_default();
    if card_type == "text_notice" {
        if title.trim().is_empty() && sub_title.trim().is_empty() {
            return Err(invalid(format!(
                "{}.main_title.title or sub_title_text is required",
                f.path()
            )));
        }
    } else if title.trim().is_empty() {
        return Err(invalid(format!(
            "{}.main_title.title is required",
            f.path()
        )));
    }

    if let Some(mut quote) = f.object("quote_area")? {
        let kind = quote.int_in("type", 0..=2)?;
        target(&mut quote, kind)?;
        quote.text("title")?;
        quote.text("quote_text")?;
        f.put_object("quote_area", quote);
    }

    let mut rows = f.objects("horizontal_content_list")?.unwrap_or_default();
    if rows.len() > 6 {
        return Err(too_many(f, "horizontal_content_list", rows.len(), 6));
    }
    for row in &mut rows {
        let kind = row.int_in("type", 0..=3)?;
        row.required_text("keyname", ErrCode::InvalidRequestParameter)?;
        row.text("value")?;
        match kind {
            Some(1) => target(row, Some(1))?,
            Some(2) => {
                let id = row.required_text("media_id", ErrCode::MediaIdMissing)?;
                if !media_ids.contains(&id) {
                    media_ids.push(id);
                }
            }
            Some(3) => {
                let user = row.required_text("userid", ErrCode::InvalidRequestParameter)?;
                if !is_userid(user.trim()) {
                    return Err(WireError::new(
                        ErrCode::InvalidUserId,
                        format!("{} \"{user}\" is not a userid", row.name("userid")),
                    ));
                }
            }
            _ => {}
        }
    }
    if f.has("horizontal_content_list") {
        f.put_objects("horizontal_content_list", rows);
    }

    let mut jumps = f.objects("jump_list")?.unwrap_or_default();
    if jumps.len() > 3 {
        return Err(too_many(f, "jump_list", jumps.len(), 3));
    }
    for j in &mut jumps {
        let kind = j.int_in("type", 0..=2)?;
        j.required_text("title", ErrCode::TitleMissing)?;
        target(j, kind)?;
    }
    if f.has("jump_list") {
        f.put_objects("jump_list", jumps);
    }

    let notice = !interactive;
    match f.object("card_action")? {
        Some(mut action) => {
            let kind = action.int_in("type", 0..=2)?;
            if notice && !matches!(kind, Some(1 | 2)) {
                return Err(invalid(format!(
                    "{} must be 1 (url) or 2 (mini program) for {card_type}",
                    action.name("type")
                )));
            }
            target(&mut action, kind)?;
            f.put_object("card_action", action);
        }
        None if notice => {
            return Err(invalid(format!(
                "{} is required for {card_type}",
                f.name("card_action")
            )));
        }
        None => {}
    }

    match card_type.as_str() {
        "text_notice" => {
            if let Some(mut emphasis) = f.object("emphasis_content")? {
                emphasis.text("title")?;
                emphasis.text("desc")?;
                f.put_object("emphasis_content", emphasis);
            }
        }
        "news_notice" => news_notice(f)?,
        "button_interaction" => button_interaction(f, &mut spec)?,
        "vote_interaction" => vote_interaction(f, &mut spec)?,
        _ => multiple_interaction(f, &mut spec)?,
    }

    let preview = if !title.trim().is_empty() {
        title
    } else if !sub_title.trim().is_empty() {
        sub_title
    } else {
        "[card]".to_owned()
    };
    Ok((spec, preview))
}

fn too_many(f: &Fields<'_>, field: &str, len: usize, max: usize) -> WireError {
    invalid(format!(
        "{} has {len} items, at most {max} allowed",
        f.name(field)
    ))
}

fn news_notice(f: &mut Fields<'_>) -> Result<(), WireError> {
    if let Some(mut area) = f.object("image_text_area")? {
        let kind = area.int_in("type", 0..=2)?;
        target(&mut area, kind)?;
        area.text("title")?;
        area.text("desc")?;
        area.required_text("image_url", ErrCode::UrlMissing)?;
        f.put_object("image_text_area", area);
    }
    if let Some(mut image) = f.object("card_image")? {
        image.required_text("url", ErrCode::UrlMissing)?;
        if let Some(ratio) = image.float("aspect_ratio")? {
            if !(1.3..=2.25).contains(&ratio) {
                return Err(invalid(format!(
                    "{} must be 1.3-2.25, got {ratio}",
                    image.name("aspect_ratio")
                )));
            }
        }
        f.put_object("card_image", image);
    }
    let mut rows = f.objects("vertical_content_list")?.unwrap_or_default();
    if rows.len() > 4 {
        return Err(too_many(f, "vertical_content_list", rows.len(), 4));
    }
    for row in &mut rows {
        row.required_text("title", ErrCode::TitleMissing)?;
        row.text("desc")?;
    }
    if f.has("vertical_content_list") {
        f.put_objects("vertical_content_list", rows);
    }
    Ok(())
}

/// Reads `option_list` (`range` items, unique ids, each with a text);
/// answers the ids.
fn options(
    q: &mut Fields<'_>,
    range: std::ops::RangeInclusive<usize>,
    checked: bool,
) -> Result<Vec<String>, WireError> {
    let mut opts = q.objects_in("option_list", range)?;
    let mut ids = Vec::new();
    for o in &mut opts {
        let id = o.required_text("id", ErrCode::InvalidRequestParameter)?;
        max_bytes(&o.name("id"), &id, MAX_TASK_ID_BYTES)?;
        unique(&o.name("id"), &mut ids, &id)?;
        o.required_text("text", ErrCode::InvalidRequestParameter)?;
        if checked {
            o.flag("is_checked")?;
        }
    }
    q.put_objects("option_list", opts);
    Ok(ids)
}

fn question(
    q: &mut Fields<'_>,
    spec: &mut CardSpec,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(String, Vec<String>), WireError> {
    let k = key(q, "question_key")?;
    if spec.questions.iter().any(|x| x.key == k) {
        return Err(invalid(format!(
            "{} \"{k}\" is used twice",
            q.name("question_key")
        )));
    }
    q.text("title")?;
    let ids = options(q, range, false)?;
    if let Some(selected) = q.text("selected_id")? {
        if !selected.is_empty() && !ids.contains(&selected) {
            return Err(invalid(format!(
                "{} \"{selected}\" is not one of the options",
                q.name("selected_id")
            )));
        }
    }
    Ok((k, ids))
}

fn button_interaction(f: &mut Fields<'_>, spec: &mut CardSpec) -> Result<(), WireError> {
    if let Some(mut q) = f.object("button_selection")? {
        let (k, ids) = question(&mut q, spec, 1..=10)?;
        spec.questions.push(Question {
            key: k,
            option_ids: ids,
            multi: false,
        });
        f.put_object("button_selection", q);
    }
    let mut buttons = f.objects_in("button_list", 1..=6)?;
    for b in &mut buttons {
        let kind = b.int_in("type", 0..=1)?.unwrap_or(0);
        b.required_text("text", ErrCode::InvalidRequestParameter)?;
        b.int_in("style", 1..=4)?;
        if kind == 1 {
            target(b, Some(1))?;
            b.text("key")?;
        } else {
            let k = key(b, "key")?;
            unique(&b.name("key"), &mut spec.buttons, &k)?;
        }
    }
    f.put_objects("button_list", buttons);
    Ok(())
}

fn submit_button(f: &mut Fields<'_>, spec: &mut CardSpec) -> Result<(), WireError> {
    let mut submit = f.object("submit_button")?.ok_or_else(|| {
        invalid(format!(
            "{} is required for {}",
            f.name("submit_button"),
            spec.card_type
        ))
    })?;
    submit.required_text("text", ErrCode::InvalidRequestParameter)?;
    spec.submit_key = Some(key(&mut submit, "key")?);
    f.put_object("submit_button", submit);
    Ok(())
}

fn vote_interaction(f: &mut Fields<'_>, spec: &mut CardSpec) -> Result<(), WireError> {
    let mut checkbox = f.object("checkbox")?.ok_or_else(|| {
        invalid(format!(
            "{} is required for vote_interaction",
            f.name("checkbox")
        ))
    })?;
    let k = key(&mut checkbox, "question_key")?;
    let ids = options(&mut checkbox, 1..=20, true)?;
    let mode = checkbox.int_in("mode", 0..=1)?.unwrap_or(0);
    spec.questions.push(Question {
        key: k,
        option_ids: ids,
        multi: mode == 1,
    });
    f.put_object("checkbox", checkbox);
    submit_button(f, spec)
}

fn multiple_interaction(f: &mut Fields<'_>, spec: &mut CardSpec) -> Result<(), WireError> {
    let mut selects = f.objects_in("select_list", 1..=3)?;
    for s in &mut selects {
        let (k, ids) = question(s, spec, 1..=10)?;
        spec.questions.push(Question {
            key: k,
            option_ids: ids,
            multi: false,
        });
    }
    f.put_objects("select_list", selects);
    submit_button(f, spec)
}

/// Longest taskcard button name / replace_name, in bytes.
pub const MAX_TASKCARD_BUTTON_BYTES: usize = 18;

/// Checks a legacy `interactive_taskcard`: title (≤128 bytes), description
/// (≤512 bytes), optional url, required task_id, 1-2 buttons `btn[]{key,
/// name, replace_name, color (red|blue, default blue), is_bold}`.
pub(super) fn interactive_taskcard(f: &mut Fields<'_>) -> Result<(CardSpec, String), WireError> {
    let title = f.required_text("title", ErrCode::TitleMissing)?;
    max_bytes(&f.name("title"), &title, MAX_TITLE_BYTES)?;
    let description = f.required_text("description", ErrCode::DescriptionMissing)?;
    max_bytes(&f.name("description"), &description, MAX_DESCRIPTION_BYTES)?;
    let url = f.text("url")?.unwrap_or_default();
    max_bytes(&f.name("url"), &url, MAX_URL_BYTES)?;
    let task_id = f
        .text("task_id")?
        .ok_or_else(|| invalid(format!("{} is required", f.name("task_id"))))?;
    check_task_id(&f.name("task_id"), &task_id)?;
    let mut buttons = f.objects_in("btn", 1..=2)?;
    let mut keys = Vec::new();
    for b in &mut buttons {
        let k = b.required_text("key", ErrCode::InvalidRequestParameter)?;
        max_bytes(&b.name("key"), &k, MAX_TASK_ID_BYTES)?;
        unique(&b.name("key"), &mut keys, &k)?;
        let name = b.required_text("name", ErrCode::InvalidRequestParameter)?;
        max_bytes(&b.name("name"), &name, MAX_TASKCARD_BUTTON_BYTES)?;
        if let Some(replace) = b.text("replace_name")? {
            max_bytes(&b.name("replace_name"), &replace, MAX_TASKCARD_BUTTON_BYTES)?;
        }
        let color = b.text_or("color", "blue")?;
        if color != "red" && color != "blue" {
            return Err(invalid(format!(
                "{} must be red or blue, got \"{color}\"",
                b.name("color")
            )));
        }
        b.flag("is_bold")?;
    }
    f.put_objects("btn", buttons);
    let spec = CardSpec {
        card_type: "interactive_taskcard".to_owned(),
        task_id: Some(task_id),
        interactive: true,
        buttons: keys,
        questions: Vec::new(),
        submit_key: None,
        menu_keys: Vec::new(),
    };
    Ok((spec, title))
}

/// The stored card body (`ValidatedContent::body` of a `template_card`)
/// after `message/update_template_card` with `button{replace_name}`.
///
/// WeCom shows the card with its buttons replaced by one disabled button
/// carrying `replace_name`. qiye represents that as the card without
/// `button_list` and `submit_button` and with a field
/// `"replace_text": replace_name` (a qiye field; clients render it as the
/// disabled button). The result is compact JSON with sorted keys, like
/// the body. 40058 when the body is not a JSON object or `replace_name` is
/// empty, 45002 when it is over 128 bytes.
pub fn card_replace_button(body: &str, replace_name: &str) -> Result<String, WireError> {
    let replace_name = replace_name.trim();
    super::check_replace_name(replace_name)?;
    let value: Value = serde_json::from_str(body)
        .map_err(|e| invalid(format!("the card body is not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(invalid("the card body must be a JSON object"));
    };
    let mut sorted: std::collections::BTreeMap<String, Value> = map.into_iter().collect();
    sorted.remove("button_list");
    sorted.remove("submit_button");
    sorted.insert(
        "replace_text".to_owned(),
        Value::String(replace_name.to_owned()),
    );
    let out = Value::Object(sorted.into_iter().collect());
    serde_json::to_string(&out).map_err(|e| invalid(format!("the card body: {e}")))
}

//! From a validated WeCom payload (`qiye-wecom`) to the domain's message
//! [`Content`], for `/cgi-bin` and `/api/v1` alike.

use qiye_domain::ids::UserId;
use qiye_domain::message::{CardFacts, Content};
use qiye_wecom::wire::message::ValidatedContent;

/// The domain's content of a validated payload. Mentions that are no
/// userid (`@all`) are left out of the list (the payload keeps them); an
/// interactive card gets `response_code`.
pub fn content_of(v: ValidatedContent, response_code: Option<String>) -> Content {
    let card = v.card.as_ref().map(|spec| CardFacts {
        task_id: spec.task_id.clone(),
        response_code: if spec.interactive {
            response_code
        } else {
            None
        },
    });
    Content {
        msgtype: v.msgtype,
        body: v.body,
        preview: v.preview,
        media: v.media_ids,
        mentions: v
            .mentions
            .iter()
            .filter_map(|m| UserId::parse(m).ok())
            .collect(),
        card,
    }
}

//! Tests of the message wire shapes: recipients, every msgtype with each
//! rule broken, template cards, app chats, and wechatpy's exact payloads.

use serde_json::{Value, json};

use super::*;
use crate::wire::parse_body;

fn send(body: Value) -> SendMessageRequest {
    parse_body(body.to_string().as_bytes()).expect("parses")
}

fn ok(msgtype: &str, payload: Value) -> ValidatedContent {
    validate_content(msgtype, &payload, 0, ContentPlace::AppMessage)
        .unwrap_or_else(|e| panic!("{msgtype} {payload}: {e:?}"))
}

fn err(msgtype: &str, payload: Value) -> WireError {
    validate_content(msgtype, &payload, 0, ContentPlace::AppMessage).expect_err("should be refused")
}

/// Asserts the error's code and that its detail is exactly `detail`.
fn refused(msgtype: &str, payload: Value, code: ErrCode, detail: &str) {
    let e = err(msgtype, payload);
    assert_eq!((e.code, e.detail.as_str()), (code, detail));
}

fn body(c: &ValidatedContent) -> Value {
    serde_json::from_str(&c.body).expect("body is JSON")
}

// ---- recipients -------------------------------------------------------

#[test]
fn targets_are_trimmed_deduplicated_and_empty_means_none() {
    let r = send(json!({
        "touser": " u1 | u2|u1||", "toparty": "PartyID1 | PartyID2", "totag": "",
        "agentid": 1, "msgtype": "text", "text": {"content": "hi"}
    }));
    assert_eq!(
        r.targets().unwrap(),
        Targets {
            all: false,
            users: vec!["u1".into(), "u2".into()],
            parties: vec!["PartyID1".into(), "PartyID2".into()],
            tags: vec![],
        }
    );
}

#[test]
fn at_all_ignores_parties_and_tags() {
    let r = send(json!({"touser": "@all", "toparty": "1|2", "totag": "x", "agentid": 1}));
    let t = r.targets().unwrap();
    assert!(t.all);
    assert!(t.users.is_empty() && t.parties.is_empty() && t.tags.is_empty());
    let r = send(json!({"touser": "u1| @all ", "agentid": 1}));
    assert!(r.targets().unwrap().all);
}

#[test]
fn arrays_and_numbers_are_accepted_as_recipient_lists() {
    let r = send(json!({"touser": ["a", "b"], "toparty": 1, "totag": [3, "4"], "agentid": "7"}));
    let t = r.targets().unwrap();
    assert_eq!(t.users, ["a", "b"]);
    assert_eq!(t.parties, ["1"]);
    assert_eq!(t.tags, ["3", "4"]);
    assert_eq!(r.agentid().unwrap(), 7);
}

#[test]
fn no_recipient_is_81013() {
    for body in [
        json!({"touser": "", "toparty": "", "totag": "", "agentid": 1}),
        json!({"touser": " | ", "agentid": 1}),
        json!({"agentid": 1}),
    ] {
        let e = send(body).targets().unwrap_err();
        assert_eq!(e.code, ErrCode::NoRecipient);
        assert_eq!(e.detail, "touser, toparty and totag are all empty");
    }
}

fn ids(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}{i}"))
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn recipient_limits() {
    assert_eq!(
        send(json!({"touser": ids("u", 1000)}))
            .targets()
            .unwrap()
            .users
            .len(),
        1000
    );
    let e = send(json!({"touser": ids("u", 1001)}))
        .targets()
        .unwrap_err();
    assert_eq!(e.code, ErrCode::ListTooLong);
    assert!(e.detail.starts_with("touser names 1001"), "{}", e.detail);

    assert!(send(json!({"toparty": ids("", 100)})).targets().is_ok());
    let e = send(json!({"toparty": ids("", 101)}))
        .targets()
        .unwrap_err();
    assert_eq!(e.code, ErrCode::PartyListTooLong);

    assert!(send(json!({"totag": ids("", 100)})).targets().is_ok());
    let e = send(json!({"totag": ids("", 101)})).targets().unwrap_err();
    assert_eq!(e.code, ErrCode::TagListTooLong);

    // Repeats count once.
    let many_same = vec!["u"; 1500].join("|");
    assert_eq!(
        send(json!({"touser": many_same})).targets().unwrap().users,
        ["u"]
    );
}

// ---- common fields ----------------------------------------------------

#[test]
fn agentid_is_required_41011() {
    let e = send(json!({"touser": "u"})).agentid().unwrap_err();
    assert_eq!(e.code, ErrCode::AgentIdMissing);
    assert_eq!(
        send(json!({"agentid": "1000002"})).agentid().unwrap(),
        1000002
    );
}

#[test]
fn wrong_types_name_the_field() {
    let e = parse_body::<SendMessageRequest>(br#"{"agentid": "abc"}"#).unwrap_err();
    assert_eq!(e.code, ErrCode::InvalidRequestParameter);
    assert!(e.detail.starts_with("agentid:"), "{}", e.detail);
    let e = parse_body::<SendMessageRequest>(br#"{"touser": {"a": 1}}"#).unwrap_err();
    assert!(e.detail.starts_with("touser:"), "{}", e.detail);
}

#[test]
fn safe_flags_and_duplicate_check() {
    let r = send(json!({}));
    assert_eq!(r.safe().unwrap(), 0);
    assert!(!r.enable_id_trans().unwrap());
    assert!(!r.enable_duplicate_check().unwrap());
    assert_eq!(r.duplicate_check_interval().unwrap(), 1800);

    let r = send(json!({
        "safe": "1", "enable_id_trans": 1, "enable_duplicate_check": true,
        "duplicate_check_interval": 14400
    }));
    assert_eq!(r.safe().unwrap(), 1);
    assert!(r.enable_id_trans().unwrap());
    assert!(r.enable_duplicate_check().unwrap());
    assert_eq!(r.duplicate_check_interval().unwrap(), 14400);

    let r = send(json!({"safe": 3, "enable_id_trans": 2, "duplicate_check_interval": 14401}));
    assert_eq!(r.safe().unwrap_err().code, ErrCode::InvalidRequestParameter);
    let e = r.enable_id_trans().unwrap_err();
    assert_eq!(e.detail, "enable_id_trans must be 0 or 1, got 2");
    let e = r.duplicate_check_interval().unwrap_err();
    assert_eq!(e.code, ErrCode::InvalidRequestParameter);
    assert!(e.detail.starts_with("duplicate_check_interval"));
    assert!(
        send(json!({"duplicate_check_interval": 0}))
            .duplicate_check_interval()
            .is_err()
    );
}

#[test]
fn qiye_kind_and_priority() {
    let r = send(json!({}));
    assert_eq!(r.kind().unwrap(), MessageKind::Notice);
    assert_eq!(r.priority().unwrap(), MessagePriority::Normal);
    for k in MessageKind::ALL {
        assert_eq!(send(json!({"kind": k.as_str()})).kind().unwrap(), k);
    }
    for p in MessagePriority::ALL {
        assert_eq!(send(json!({"priority": p.as_str()})).priority().unwrap(), p);
    }
    let e = send(json!({"kind": "memo"})).kind().unwrap_err();
    assert_eq!(e.code, ErrCode::InvalidRequestParameter);
    assert_eq!(
        e.detail,
        "kind must be one of notice, announcement, approval, survey, task, got \"memo\""
    );
    assert!(send(json!({"priority": "high"})).priority().is_err());
}

#[test]
fn msgtype_and_payload() {
    let r = send(json!({"msgtype": "text", "text": {"content": "hi"}}));
    assert_eq!(r.msgtype().unwrap(), "text");
    assert_eq!(r.payload(), Some(&json!({"content": "hi"})));
    assert_eq!(r.content(ContentPlace::AppMessage).unwrap().preview, "hi");

    let e = send(json!({"text": {"content": "hi"}}))
        .msgtype()
        .unwrap_err();
    assert_eq!(e.code, ErrCode::InvalidMsgType);
    // A missing payload is `{}`: the field-level error names what is missing.
    let e = send(json!({"msgtype": "image"}))
        .content(ContentPlace::AppMessage)
        .unwrap_err();
    assert_eq!(
        (e.code, e.detail.as_str()),
        (ErrCode::MediaIdMissing, "image.media_id is required")
    );
    // safe travels from the request.
    let e = send(
        json!({"msgtype": "news", "safe": 1, "news": {"articles": [{"title": "t", "url": "u"}]}}),
    )
    .content(ContentPlace::AppMessage)
    .unwrap_err();
    assert_eq!(e.code, ErrCode::SafeNotSupported);
}

// ---- msgtypes and places ------------------------------------------------

#[test]
fn unknown_msgtype_is_40008() {
    refused(
        "sticker",
        json!({}),
        ErrCode::InvalidMsgType,
        "unknown msgtype \"sticker\"",
    );
    refused(
        "taskcard",
        json!({}),
        ErrCode::InvalidMsgType,
        "unknown msgtype \"taskcard\"",
    );
}

#[test]
fn places_accept_their_msgtypes_only() {
    let samples = [
        ("text", json!({"content": "hi"})),
        ("image", json!({"media_id": "m"})),
        ("voice", json!({"media_id": "m"})),
        ("video", json!({"media_id": "m"})),
        ("file", json!({"media_id": "m"})),
        (
            "textcard",
            json!({"title": "t", "description": "d", "url": "https://x"}),
        ),
        (
            "news",
            json!({"articles": [{"title": "t", "url": "https://x"}]}),
        ),
        (
            "mpnews",
            json!({"articles": [{"title": "t", "thumb_media_id": "m", "content": "c"}]}),
        ),
        ("markdown", json!({"content": "**hi**"})),
        (
            "miniprogram_notice",
            json!({"appid": "wx1", "title": "会议室预订成功"}),
        ),
        ("template_card", text_notice()),
        ("interactive_taskcard", taskcard()),
    ];
    let chat = [
        "text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown",
    ];
    let member = ["text", "image", "voice", "video", "file", "markdown"];
    for (msgtype, payload) in &samples {
        for (place, allowed) in [
            (ContentPlace::AppMessage, true),
            (ContentPlace::AppChat, chat.contains(msgtype)),
            (ContentPlace::MemberChat, member.contains(msgtype)),
        ] {
            let got = validate_content(msgtype, payload, 0, place);
            if allowed {
                assert!(got.is_ok(), "{msgtype} in {place:?}: {got:?}");
            } else {
                assert_eq!(
                    got.unwrap_err().code,
                    ErrCode::InvalidMsgType,
                    "{msgtype} in {place:?}"
                );
            }
        }
    }
}

#[test]
fn safe_rules() {
    let text = json!({"content": "hi"});
    let p = ContentPlace::AppMessage;
    assert!(validate_content("text", &text, 1, p).is_ok());
    let e = validate_content("text", &text, 2, p).unwrap_err();
    assert_eq!(
        (e.code, e.detail.as_str()),
        (
            ErrCode::InvalidRequestParameter,
            "safe=2 is only for mpnews, not text"
        )
    );
    assert_eq!(
        validate_content("text", &text, -1, p).unwrap_err().code,
        ErrCode::InvalidRequestParameter
    );
    let news = json!({"articles": [{"title": "t", "url": "u"}]});
    for safe in [1, 2] {
        let e = validate_content("news", &news, safe, p).unwrap_err();
        assert_eq!(e.code, ErrCode::SafeNotSupported);
    }
    let mini = json!({"appid": "wx1", "title": "会议室预订"});
    assert_eq!(
        validate_content("miniprogram_notice", &mini, 1, p)
            .unwrap_err()
            .code,
        ErrCode::SafeNotSupported
    );
    let mp = json!({"articles": [{"title": "t", "thumb_media_id": "m", "content": "c"}]});
    assert!(validate_content("mpnews", &mp, 2, p).is_ok());
}

#[test]
fn payload_must_be_an_object() {
    refused(
        "text",
        json!("hi"),
        ErrCode::InvalidRequestParameter,
        "text must be an object",
    );
    refused(
        "text",
        json!({"content": ["a"]}),
        ErrCode::InvalidRequestParameter,
        "text.content must be a string",
    );
}

#[test]
fn text() {
    let c = ok(
        "text",
        json!({"content": "你的快递已到，请携带工卡前往邮件中心领取。\n出发前可查看<a href=\"http://work.weixin.qq.com\">邮件中心视频实况</a>", "extra": 1}),
    );
    assert_eq!(c.msgtype, "text");
    assert_eq!(
        c.preview,
        "你的快递已到，请携带工卡前往邮件中心领取。 出发前可查看邮件中心视频实况"
    );
    assert_eq!(body(&c).as_object().unwrap().len(), 1, "extra dropped");
    assert!(c.media_ids.is_empty() && c.mentions.is_empty() && c.card.is_none());

    refused(
        "text",
        json!({}),
        ErrCode::EmptyContent,
        "text.content is required",
    );
    refused(
        "text",
        json!({"content": "  "}),
        ErrCode::EmptyContent,
        "text.content is required",
    );
    // 2048 bytes is the limit, counted in bytes (3 per CJK character).
    ok("text", json!({"content": "a".repeat(2048)}));
    refused(
        "text",
        json!({"content": "a".repeat(2049)}),
        ErrCode::MessageTooLong,
        "text.content is longer than 2048 bytes",
    );
    assert_eq!(
        err("text", json!({"content": "字".repeat(683)})).code,
        ErrCode::MessageTooLong
    );
    ok("text", json!({"content": "字".repeat(682)}));
    // A number is taken as text.
    assert_eq!(
        ok("text", json!({"content": 42})).body,
        r#"{"content":"42"}"#
    );
}

#[test]
fn text_mentions_in_chats_only() {
    let payload =
        json!({"content": "hi", "mentioned_list": ["wangqing", " lisi ", "@all", "wangqing"]});
    let c = validate_content("text", &payload, 0, ContentPlace::AppChat).unwrap();
    assert_eq!(c.mentions, ["wangqing", "lisi", "@all"]);
    assert!(body(&c).get("mentioned_list").is_some());
    let c = ok("text", payload);
    assert!(c.mentions.is_empty());
    assert_eq!(c.body, r#"{"content":"hi"}"#);
    let e = validate_content(
        "text",
        &json!({"content": "hi", "mentioned_list": ["bad user"]}),
        0,
        ContentPlace::MemberChat,
    )
    .unwrap_err();
    assert_eq!(e.code, ErrCode::InvalidRequestParameter);
    assert!(e.detail.starts_with("text.mentioned_list"), "{}", e.detail);
}

#[test]
fn media_messages() {
    for (msgtype, label) in [
        ("image", "[image]"),
        ("voice", "[voice]"),
        ("file", "[file]"),
    ] {
        let c = ok(msgtype, json!({"media_id": "MEDIA_1", "title": "dropped"}));
        assert_eq!(c.preview, label);
        assert_eq!(c.media_ids, ["MEDIA_1"]);
        assert_eq!(c.body, r#"{"media_id":"MEDIA_1"}"#);
        refused(
            msgtype,
            json!({}),
            ErrCode::MediaIdMissing,
            &format!("{msgtype}.media_id is required"),
        );
        refused(
            msgtype,
            json!({"media_id": ""}),
            ErrCode::MediaIdMissing,
            &format!("{msgtype}.media_id is required"),
        );
    }
}

#[test]
fn video() {
    let c = ok(
        "video",
        json!({"media_id": "M", "title": "Title", "description": "Description"}),
    );
    assert_eq!(c.preview, "[video] Title");
    assert_eq!(c.media_ids, ["M"]);
    assert_eq!(ok("video", json!({"media_id": "M"})).preview, "[video]");
    refused(
        "video",
        json!({"title": "t"}),
        ErrCode::MediaIdMissing,
        "video.media_id is required",
    );
    refused(
        "video",
        json!({"media_id": "M", "title": "t".repeat(129)}),
        ErrCode::MessageTooLong,
        "video.title is longer than 128 bytes",
    );
    refused(
        "video",
        json!({"media_id": "M", "description": "d".repeat(513)}),
        ErrCode::MessageTooLong,
        "video.description is longer than 512 bytes",
    );
}

#[test]
fn textcard() {
    let full = json!({
        "title": "领奖通知",
        "description": "<div class=\"gray\">2016年9月26日</div> <div class=\"normal\">恭喜你抽中iPhone 7一台</div>",
        "url": "URL", "btntxt": "更多"
    });
    let c = ok("textcard", full.clone());
    assert_eq!(c.preview, "领奖通知");
    assert_eq!(body(&c)["btntxt"], "更多");
    let mut no_btn = full.clone();
    no_btn.as_object_mut().unwrap().remove("btntxt");
    assert_eq!(body(&ok("textcard", no_btn))["btntxt"], "详情");

    let without = |key: &str| {
        let mut v = full.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    refused(
        "textcard",
        without("title"),
        ErrCode::TitleMissing,
        "textcard.title is required",
    );
    refused(
        "textcard",
        without("description"),
        ErrCode::DescriptionMissing,
        "textcard.description is required",
    );
    refused(
        "textcard",
        without("url"),
        ErrCode::UrlMissing,
        "textcard.url is required",
    );
    let with = |key: &str, value: Value| {
        let mut v = full.clone();
        v[key] = value;
        v
    };
    refused(
        "textcard",
        with("btntxt", json!("五个字按钮")),
        ErrCode::MessageTooLong,
        "textcard.btntxt is longer than 4 characters",
    );
    refused(
        "textcard",
        with("title", json!("x".repeat(129))),
        ErrCode::MessageTooLong,
        "textcard.title is longer than 128 bytes",
    );
    refused(
        "textcard",
        with("description", json!("x".repeat(513))),
        ErrCode::MessageTooLong,
        "textcard.description is longer than 512 bytes",
    );
    refused(
        "textcard",
        with("url", json!("x".repeat(2049))),
        ErrCode::MessageTooLong,
        "textcard.url is longer than 2048 bytes",
    );
}

fn article(i: usize) -> Value {
    json!({"title": format!("t{i}"), "url": "https://x"})
}

#[test]
fn news() {
    let c = ok(
        "news",
        json!({"articles": [
            {"title": "中秋节礼品领取", "description": "今年中秋节公司有豪礼相送", "url": "URL",
             "picurl": "http://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png"},
            {"title": "mini", "appid": "wx123", "pagepath": "pages/index"}
        ]}),
    );
    assert_eq!(c.preview, "中秋节礼品领取");
    assert_eq!(body(&c)["articles"][1]["appid"], "wx123");

    ok(
        "news",
        json!({"articles": (0..8).map(article).collect::<Vec<_>>()}),
    );
    refused(
        "news",
        json!({"articles": (0..9).map(article).collect::<Vec<_>>()}),
        ErrCode::TooManyArticles,
        "news.articles has 9 articles, at most 8 allowed",
    );
    refused(
        "news",
        json!({"articles": []}),
        ErrCode::InvalidRequestParameter,
        "news.articles is required",
    );
    refused(
        "news",
        json!({}),
        ErrCode::InvalidRequestParameter,
        "news.articles is required",
    );
    refused(
        "news",
        json!({"articles": [{"url": "u"}]}),
        ErrCode::TitleMissing,
        "news.articles[0].title is required",
    );
    refused(
        "news",
        json!({"articles": [article(0), {"title": "t"}]}),
        ErrCode::UrlMissing,
        "news.articles[1].url or appid is required",
    );
    refused(
        "news",
        json!({"articles": [{"title": "t", "url": "u", "description": "d".repeat(513)}]}),
        ErrCode::MessageTooLong,
        "news.articles[0].description is longer than 512 bytes",
    );
    refused(
        "news",
        json!({"articles": {"title": "t"}}),
        ErrCode::InvalidRequestParameter,
        "news.articles must be a list",
    );
}

fn mp_article() -> Value {
    json!({"title": "Title", "thumb_media_id": "MEDIA_ID", "author": "Author",
           "content_source_url": "URL", "content": "Content", "digest": "Digest description"})
}

#[test]
fn mpnews() {
    let mut second = mp_article();
    second["thumb_media_id"] = json!("MEDIA_2");
    let c = ok(
        "mpnews",
        json!({"articles": [mp_article(), second, mp_article()]}),
    );
    assert_eq!(c.media_ids, ["MEDIA_ID", "MEDIA_2"]);
    assert_eq!(c.preview, "Title");

    let with = |key: &str, value: Value| {
        let mut a = mp_article();
        a[key] = value;
        json!({ "articles": [a] })
    };
    refused(
        "mpnews",
        with("thumb_media_id", json!("")),
        ErrCode::MediaIdMissing,
        "mpnews.articles[0].thumb_media_id is required",
    );
    refused(
        "mpnews",
        with("title", Value::Null),
        ErrCode::TitleMissing,
        "mpnews.articles[0].title is required",
    );
    refused(
        "mpnews",
        with("content", json!("")),
        ErrCode::EmptyContent,
        "mpnews.articles[0].content is required",
    );
    refused(
        "mpnews",
        with("author", json!("a".repeat(65))),
        ErrCode::AuthorTooLong,
        "mpnews.articles[0].author is longer than 64 bytes",
    );
    ok("mpnews", with("author", json!("a".repeat(64))));
    refused(
        "mpnews",
        with("digest", json!("a".repeat(513))),
        ErrCode::MessageTooLong,
        "mpnews.articles[0].digest is longer than 512 bytes",
    );
    refused(
        "mpnews",
        with("content", json!("a".repeat(666 * 1024 + 1))),
        ErrCode::MessageTooLong,
        "mpnews.articles[0].content is longer than 681984 bytes",
    );
    refused(
        "mpnews",
        json!({"articles": (0..9).map(|_| mp_article()).collect::<Vec<_>>()}),
        ErrCode::TooManyArticles,
        "mpnews.articles has 9 articles, at most 8 allowed",
    );
}

#[test]
fn markdown() {
    let content = "您的会议室已经预定，稍后会同步到`邮箱`\n>**事项详情**\n>事　项：<font color=\"info\">开会</font>\n>组织者：<@miglioguan>\n>参与者：<@miglioguan>、<@kunliu>、<@jamdeezhou>\n>\n>如需修改会议信息，请点击：[修改会议信息](https://work.weixin.qq.com)";
    let c = ok("markdown", json!({ "content": content }));
    assert_eq!(c.mentions, ["miglioguan", "kunliu", "jamdeezhou"]);
    assert_eq!(
        c.preview,
        "您的会议室已经预定，稍后会同步到邮箱 事项详情 事 项：开会 组织者：@miglioguan 参与者：@miglioguan、@kunliu、@jamdeezhou 如需修改会议信息，请点击：修改会议信息"
    );
    assert_eq!(
        ok(
            "markdown",
            json!({"content": "# Title\n<@a> <@not valid> <@b"})
        )
        .mentions,
        ["a"]
    );
    refused(
        "markdown",
        json!({"content": ""}),
        ErrCode::EmptyContent,
        "markdown.content is required",
    );
    refused(
        "markdown",
        json!({"content": "a".repeat(2049)}),
        ErrCode::MessageTooLong,
        "markdown.content is longer than 2048 bytes",
    );
}

#[test]
fn miniprogram_notice() {
    let full = json!({
        "appid": "wx123123123123123", "page": "pages/index?userid=zhangsan&orderid=123123123",
        "title": "会议室预订成功通知", "description": "4月27日 16:16",
        "emphasis_first_item": true,
        "content_item": [{"key": "会议室", "value": "402"}, {"key": "会议地点", "value": "广州TIT-402会议室"}]
    });
    let c = ok("miniprogram_notice", full.clone());
    assert_eq!(c.preview, "会议室预订成功通知");
    assert_eq!(body(&c)["emphasis_first_item"], true);

    let with = |key: &str, value: Value| {
        let mut v = full.clone();
        v[key] = value;
        v
    };
    refused(
        "miniprogram_notice",
        with("appid", Value::Null),
        ErrCode::InvalidRequestParameter,
        "miniprogram_notice.appid is required",
    );
    refused(
        "miniprogram_notice",
        with("title", Value::Null),
        ErrCode::TitleMissing,
        "miniprogram_notice.title is required",
    );
    refused(
        "miniprogram_notice",
        with("title", json!("短")),
        ErrCode::InvalidRequestParameter,
        "miniprogram_notice.title must have 4-12 characters, got 1",
    );
    refused(
        "miniprogram_notice",
        with("title", json!("一二三四五六七八九十一二三")),
        ErrCode::MessageTooLong,
        "miniprogram_notice.title is longer than 12 characters",
    );
    refused(
        "miniprogram_notice",
        with("description", json!("abc")),
        ErrCode::InvalidRequestParameter,
        "miniprogram_notice.description must have 4-12 characters, got 3",
    );
    refused(
        "miniprogram_notice",
        with("emphasis_first_item", json!("maybe")),
        ErrCode::InvalidRequestParameter,
        "miniprogram_notice.emphasis_first_item must be true or false",
    );
    let items: Vec<Value> = (0..11).map(|i| json!({"key": "k", "value": i})).collect();
    refused(
        "miniprogram_notice",
        with("content_item", json!(items)),
        ErrCode::InvalidRequestParameter,
        "miniprogram_notice.content_item has 11 items, at most 10 allowed",
    );
    refused(
        "miniprogram_notice",
        with(
            "content_item",
            json!([{"key": "一二三四五六七八九十一", "value": "v"}]),
        ),
        ErrCode::MessageTooLong,
        "miniprogram_notice.content_item[0].key is longer than 10 characters",
    );
    refused(
        "miniprogram_notice",
        with(
            "content_item",
            json!([{"key": "k", "value": "v".repeat(31)}]),
        ),
        ErrCode::MessageTooLong,
        "miniprogram_notice.content_item[0].value is longer than 30 characters",
    );
}

// ---- template cards ---------------------------------------------------

fn text_notice() -> Value {
    json!({
        "card_type": "text_notice",
        "source": {"icon_url": "https://x/icon.png", "desc": "企业微信", "desc_color": "0"},
        "main_title": {"title": "欢迎使用企业微信", "desc": "您的好友正在邀请您加入企业微信"},
        "emphasis_content": {"title": "100", "desc": "数据含义"},
        "quote_area": {"type": 1, "url": "https://work.weixin.qq.com", "title": "引用文本标题", "quote_text": "Jack：企业微信真的很好用~"},
        "sub_title_text": "下载企业微信还能抢红包！",
        "horizontal_content_list": [
            {"keyname": "邀请人", "value": "张三"},
            {"keyname": "官网", "value": "点击访问", "type": 1, "url": "https://work.weixin.qq.com"},
            {"keyname": "企业微信下载", "value": "企业微信.apk", "type": 2, "media_id": "MEDIAID"},
            {"keyname": "员工信息", "value": "点击查看", "type": 3, "userid": "zhangsan"}
        ],
        "jump_list": [
            {"type": 1, "title": "企业微信官网", "url": "https://work.weixin.qq.com"},
            {"type": 2, "title": "跳转小程序", "appid": "APPID", "pagepath": "PAGEPATH"}
        ],
        "card_action": {"type": 1, "url": "https://work.weixin.qq.com"}
    })
}

fn news_notice() -> Value {
    json!({
        "card_type": "news_notice",
        "main_title": {"title": "欢迎使用企业微信"},
        "image_text_area": {"type": 1, "url": "https://work.weixin.qq.com", "title": "t", "desc": "d", "image_url": "https://x/p.png"},
        "card_image": {"url": "https://x/p.png", "aspect_ratio": 2.25},
        "vertical_content_list": [{"title": "惊喜红包等你来拿", "desc": "下载企业微信还能抢红包！"}],
        "card_action": {"type": 2, "appid": "APPID", "pagepath": "PAGEPATH"}
    })
}

fn button_card() -> Value {
    json!({
        "card_type": "button_interaction",
        "main_title": {"title": "欢迎使用企业微信"},
        "task_id": "task_id-1@x",
        "action_menu": {"desc": "卡片副交互辅助文本说明", "action_list": [
            {"text": "接收推送", "key": "A"}, {"text": "不再推送", "key": "B"}]},
        "button_selection": {"question_key": "btn_question_key1", "title": "您的职位",
            "option_list": [{"id": "btn_selection_id1", "text": "100"}, {"id": "btn_selection_id2", "text": "101"}],
            "selected_id": "btn_selection_id1"},
        "button_list": [
            {"text": "按钮1", "style": 4, "key": "BUTTONKEYONE"},
            {"text": "按钮2", "style": 1, "key": "BUTTONKEYTWO"},
            {"type": 1, "text": "官网", "url": "https://work.weixin.qq.com"}
        ]
    })
}

fn vote_card() -> Value {
    json!({
        "card_type": "vote_interaction",
        "main_title": {"title": "投票"},
        "task_id": "vote1",
        "checkbox": {"question_key": "question_key1",
            "option_list": [{"id": "option_id1", "text": "选择题选项1", "is_checked": true},
                            {"id": "option_id2", "text": "选择题选项2", "is_checked": 0}],
            "mode": 1},
        "submit_button": {"text": "提交", "key": "key"}
    })
}

fn multiple_card() -> Value {
    json!({
        "card_type": "multiple_interaction",
        "main_title": {"title": "多项选择"},
        "task_id": "multi1",
        "select_list": [
            {"question_key": "question_key1", "title": "选择器标签1", "selected_id": "selection_id1",
             "option_list": [{"id": "selection_id1", "text": "选择器选项1"}, {"id": "selection_id2", "text": "选择器选项2"}]},
            {"question_key": "question_key2", "title": "选择器标签2",
             "option_list": [{"id": "selection_id3", "text": "选择器选项3"}]}
        ],
        "submit_button": {"text": "提交", "key": "submit_key"}
    })
}

fn card_err(card: Value) -> WireError {
    err("template_card", card)
}

fn changed(mut card: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut card;
    for key in &path[..path.len() - 1] {
        at = match key.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*key],
        };
    }
    let last = path[path.len() - 1];
    if value.is_null() {
        at.as_object_mut().unwrap().remove(last);
    } else {
        at[last] = value;
    }
    card
}

#[test]
fn text_notice_card() {
    let c = ok("template_card", text_notice());
    assert_eq!(c.preview, "欢迎使用企业微信");
    assert_eq!(c.media_ids, ["MEDIAID"]);
    let spec = c.card.unwrap();
    assert_eq!(spec.card_type, "text_notice");
    assert!(!spec.interactive && spec.task_id.is_none());
    assert!(spec.buttons.is_empty() && spec.questions.is_empty());
    let b = body(&ok("template_card", text_notice()));
    assert_eq!(b["source"]["desc_color"], 0, "numbers are normalised");
    assert_eq!(b["emphasis_content"]["title"], "100");

    // main_title or sub_title_text.
    let only_sub = changed(text_notice(), &["main_title"], Value::Null);
    assert_eq!(
        ok("template_card", only_sub.clone()).preview,
        "下载企业微信还能抢红包！"
    );
    let e = card_err(changed(only_sub, &["sub_title_text"], Value::Null));
    assert_eq!(
        e.detail,
        "template_card.main_title.title or sub_title_text is required"
    );
    // card_action is required for notices, with type 1 or 2.
    let e = card_err(changed(text_notice(), &["card_action"], Value::Null));
    assert_eq!(
        e.detail,
        "template_card.card_action is required for text_notice"
    );
    let e = card_err(changed(text_notice(), &["card_action", "type"], json!(0)));
    assert_eq!(
        e.detail,
        "template_card.card_action.type must be 1 (url) or 2 (mini program) for text_notice"
    );
    let e = card_err(changed(text_notice(), &["card_action", "url"], Value::Null));
    assert_eq!(
        (e.code, e.detail.as_str()),
        (
            ErrCode::UrlMissing,
            "template_card.card_action.url is required"
        )
    );
    let e = card_err(changed(text_notice(), &["source", "desc_color"], json!(4)));
    assert_eq!(
        e.detail,
        "template_card.source.desc_color must be 0-3, got 4"
    );
    let e = card_err(changed(text_notice(), &["quote_area", "type"], json!(2)));
    assert_eq!(e.detail, "template_card.quote_area.appid is required");
}

#[test]
fn card_lists_and_their_rules() {
    let rows: Vec<Value> = (0..7).map(|i| json!({"keyname": i})).collect();
    let e = card_err(changed(
        text_notice(),
        &["horizontal_content_list"],
        json!(rows),
    ));
    assert_eq!(
        e.detail,
        "template_card.horizontal_content_list has 7 items, at most 6 allowed"
    );
    let e = card_err(changed(
        text_notice(),
        &["horizontal_content_list", "2", "media_id"],
        Value::Null,
    ));
    assert_eq!(
        (e.code, e.detail.as_str()),
        (
            ErrCode::MediaIdMissing,
            "template_card.horizontal_content_list[2].media_id is required"
        )
    );
    let e = card_err(changed(
        text_notice(),
        &["horizontal_content_list", "3", "userid"],
        json!("no spaces"),
    ));
    assert_eq!(e.code, ErrCode::InvalidUserId);
    let e = card_err(changed(
        text_notice(),
        &["horizontal_content_list", "0", "keyname"],
        Value::Null,
    ));
    assert_eq!(
        e.detail,
        "template_card.horizontal_content_list[0].keyname is required"
    );
    let e = card_err(changed(
        text_notice(),
        &["horizontal_content_list", "0", "type"],
        json!(4),
    ));
    assert_eq!(e.code, ErrCode::InvalidRequestParameter);
    let jumps: Vec<Value> = (0..4)
        .map(|i| json!({"title": i, "type": 1, "url": "u"}))
        .collect();
    let e = card_err(changed(text_notice(), &["jump_list"], json!(jumps)));
    assert_eq!(
        e.detail,
        "template_card.jump_list has 4 items, at most 3 allowed"
    );
    let e = card_err(changed(
        text_notice(),
        &["jump_list", "1", "appid"],
        Value::Null,
    ));
    assert_eq!(e.detail, "template_card.jump_list[1].appid is required");
}

#[test]
fn card_type_and_task_id() {
    let e = card_err(changed(text_notice(), &["card_type"], Value::Null));
    assert_eq!(e.detail, "template_card.card_type is required");
    let e = card_err(changed(text_notice(), &["card_type"], json!("big_card")));
    assert!(
        e.detail
            .starts_with("template_card.card_type must be one of text_notice,"),
        "{}",
        e.detail
    );
    for (card, ty) in [
        (button_card(), "button_interaction"),
        (vote_card(), "vote_interaction"),
        (multiple_card(), "multiple_interaction"),
    ] {
        let e = card_err(changed(card, &["task_id"], Value::Null));
        assert_eq!(
            e.detail,
            format!("template_card.task_id is required for {ty} and with action_menu")
        );
    }
    // action_menu needs a task_id even on a notice.
    let with_menu = changed(
        text_notice(),
        &["action_menu"],
        json!({"desc": "d", "action_list": [{"text": "t", "key": "k"}]}),
    );
    assert!(
        card_err(with_menu.clone())
            .detail
            .contains("task_id is required")
    );
    let c = ok(
        "template_card",
        changed(with_menu, &["task_id"], json!("t1")),
    );
    assert_eq!(c.card.unwrap().menu_keys, ["k"]);

    for bad in ["", "has space", "中文", &"a".repeat(129), "a.b"] {
        let e = card_err(changed(button_card(), &["task_id"], json!(bad)));
        assert_eq!(
            e.detail, "template_card.task_id must be 1-128 of [0-9a-zA-Z_-@]",
            "{bad:?}"
        );
    }
    ok(
        "template_card",
        changed(button_card(), &["task_id"], json!("a".repeat(128))),
    );
    let four: Vec<Value> = (0..4).map(|i| json!({"text": "t", "key": i})).collect();
    let e = card_err(changed(
        button_card(),
        &["action_menu", "action_list"],
        json!(four),
    ));
    assert_eq!(
        e.detail,
        "template_card.action_menu.action_list must have 1-3 items, got 4"
    );
}

#[test]
fn news_notice_card() {
    let c = ok("template_card", news_notice());
    assert_eq!(c.preview, "欢迎使用企业微信");
    assert!(!c.card.unwrap().interactive);
    let e = card_err(changed(news_notice(), &["main_title"], Value::Null));
    assert_eq!(e.detail, "template_card.main_title.title is required");
    let e = card_err(changed(
        news_notice(),
        &["card_image", "aspect_ratio"],
        json!(2.3),
    ));
    assert_eq!(
        e.detail,
        "template_card.card_image.aspect_ratio must be 1.3-2.25, got 2.3"
    );
    ok(
        "template_card",
        changed(news_notice(), &["card_image", "aspect_ratio"], json!("1.3")),
    );
    let e = card_err(changed(
        news_notice(),
        &["image_text_area", "image_url"],
        Value::Null,
    ));
    assert_eq!(
        e.detail,
        "template_card.image_text_area.image_url is required"
    );
    let rows: Vec<Value> = (0..5).map(|i| json!({"title": i})).collect();
    let e = card_err(changed(
        news_notice(),
        &["vertical_content_list"],
        json!(rows),
    ));
    assert_eq!(
        e.detail,
        "template_card.vertical_content_list has 5 items, at most 4 allowed"
    );
}

#[test]
fn button_interaction_card() {
    let c = ok("template_card", button_card());
    let spec = c.card.unwrap();
    assert_eq!(
        spec,
        CardSpec {
            card_type: "button_interaction".into(),
            task_id: Some("task_id-1@x".into()),
            interactive: true,
            buttons: vec!["BUTTONKEYONE".into(), "BUTTONKEYTWO".into()],
            questions: vec![Question {
                key: "btn_question_key1".into(),
                option_ids: vec!["btn_selection_id1".into(), "btn_selection_id2".into()],
                multi: false,
            }],
            submit_key: None,
            menu_keys: vec!["A".into(), "B".into()],
        }
    );
    assert!(spec.knows_key("BUTTONKEYONE") && spec.knows_key("A"));
    assert!(!spec.knows_key("nope"));

    let seven: Vec<Value> = (0..7).map(|i| json!({"text": "t", "key": i})).collect();
    let e = card_err(changed(button_card(), &["button_list"], json!(seven)));
    assert_eq!(
        e.detail,
        "template_card.button_list must have 1-6 items, got 7"
    );
    let e = card_err(changed(button_card(), &["button_list"], json!([])));
    assert_eq!(e.detail, "template_card.button_list is required");
    let e = card_err(changed(
        button_card(),
        &["button_list", "1", "key"],
        json!("BUTTONKEYONE"),
    ));
    assert_eq!(
        e.detail,
        "template_card.button_list[1].key \"BUTTONKEYONE\" is used twice"
    );
    let e = card_err(changed(
        button_card(),
        &["button_list", "0", "key"],
        Value::Null,
    ));
    assert_eq!(e.detail, "template_card.button_list[0].key is required");
    let e = card_err(changed(
        button_card(),
        &["button_list", "2", "url"],
        Value::Null,
    ));
    assert_eq!(e.code, ErrCode::UrlMissing);
    let e = card_err(changed(
        button_card(),
        &["button_list", "0", "style"],
        json!(5),
    ));
    assert_eq!(
        e.detail,
        "template_card.button_list[0].style must be 1-4, got 5"
    );
    let e = card_err(changed(
        button_card(),
        &["button_selection", "selected_id"],
        json!("other"),
    ));
    assert_eq!(
        e.detail,
        "template_card.button_selection.selected_id \"other\" is not one of the options"
    );
    let e = card_err(changed(
        button_card(),
        &["button_selection", "option_list", "1", "id"],
        json!("btn_selection_id1"),
    ));
    assert!(e.detail.ends_with("is used twice"), "{}", e.detail);
}

#[test]
fn vote_interaction_card() {
    let c = ok("template_card", vote_card());
    let spec = c.card.unwrap();
    assert_eq!(spec.submit_key.as_deref(), Some("key"));
    assert_eq!(
        spec.questions,
        [Question {
            key: "question_key1".into(),
            option_ids: vec!["option_id1".into(), "option_id2".into()],
            multi: true,
        }]
    );
    assert!(spec.knows_key("key"));
    assert_eq!(
        body(&ok("template_card", vote_card()))["checkbox"]["option_list"][1]["is_checked"],
        false
    );
    let e = card_err(changed(vote_card(), &["checkbox"], Value::Null));
    assert_eq!(
        e.detail,
        "template_card.checkbox is required for vote_interaction"
    );
    let e = card_err(changed(vote_card(), &["submit_button"], Value::Null));
    assert_eq!(
        e.detail,
        "template_card.submit_button is required for vote_interaction"
    );
    let e = card_err(changed(vote_card(), &["checkbox", "mode"], json!(2)));
    assert_eq!(e.detail, "template_card.checkbox.mode must be 0-1, got 2");
    let opts: Vec<Value> = (0..21).map(|i| json!({"id": i, "text": "t"})).collect();
    let e = card_err(changed(
        vote_card(),
        &["checkbox", "option_list"],
        json!(opts),
    ));
    assert_eq!(
        e.detail,
        "template_card.checkbox.option_list must have 1-20 items, got 21"
    );
    let single = changed(vote_card(), &["checkbox", "mode"], Value::Null);
    assert!(
        !ok("template_card", single).card.unwrap().questions[0].multi,
        "mode 0 by default"
    );
}

#[test]
fn multiple_interaction_card() {
    let spec = ok("template_card", multiple_card()).card.unwrap();
    assert_eq!(spec.questions.len(), 2);
    assert_eq!(spec.questions[1].option_ids, ["selection_id3"]);
    assert_eq!(spec.submit_key.as_deref(), Some("submit_key"));

    let selects: Vec<Value> = (0..4)
        .map(|i| json!({"question_key": i, "option_list": [{"id": "a", "text": "a"}]}))
        .collect();
    let e = card_err(changed(multiple_card(), &["select_list"], json!(selects)));
    assert_eq!(
        e.detail,
        "template_card.select_list must have 1-3 items, got 4"
    );
    let e = card_err(changed(
        multiple_card(),
        &["select_list", "1", "question_key"],
        json!("question_key1"),
    ));
    assert_eq!(
        e.detail,
        "template_card.select_list[1].question_key \"question_key1\" is used twice"
    );
    let e = card_err(changed(
        multiple_card(),
        &["select_list", "0", "option_list"],
        json!([]),
    ));
    assert_eq!(
        e.detail,
        "template_card.select_list[0].option_list is required"
    );
    let e = card_err(changed(
        multiple_card(),
        &["submit_button", "key"],
        Value::Null,
    ));
    assert_eq!(e.detail, "template_card.submit_button.key is required");
}

#[test]
fn click_selection_checks() {
    let multi = ok("template_card", multiple_card()).card.unwrap();
    let answer = |k: &str, ids: &[&str]| {
        (
            k.to_owned(),
            ids.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    assert!(
        multi
            .check_selection(&[
                answer("question_key1", &["selection_id2"]),
                answer("question_key2", &["selection_id3"])
            ])
            .is_ok()
    );
    assert!(multi.check_selection(&[answer("nope", &["a"])]).is_err());
    assert!(
        multi
            .check_selection(&[answer("question_key1", &["selection_id1", "selection_id2"])])
            .is_err()
    );
    assert!(
        multi
            .check_selection(&[answer("question_key1", &["selection_id3"])])
            .is_err()
    );
    assert!(
        multi
            .check_selection(&[
                answer("question_key1", &["selection_id1"]),
                answer("question_key1", &["selection_id1"])
            ])
            .is_err()
    );
    let vote = ok("template_card", vote_card()).card.unwrap();
    assert!(
        vote.check_selection(&[answer("question_key1", &["option_id1", "option_id2"])])
            .is_ok()
    );
    assert!(
        vote.check_selection(&[answer("question_key1", &[])])
            .is_err()
    );
}

fn taskcard() -> Value {
    json!({
        "title": "赵明登的礼物申请", "description": "礼品：A31茶具套装<br>用途：赠与小黑科技张总经理",
        "url": "URL", "task_id": "taskid123",
        "btn": [
            {"key": "key111", "name": "批准", "replace_name": "已批准", "color": "red", "is_bold": true},
            {"key": "key222", "name": "驳回", "replace_name": "已驳回"}
        ]
    })
}

#[test]
fn interactive_taskcard() {
    let c = ok("interactive_taskcard", taskcard());
    assert_eq!(c.preview, "赵明登的礼物申请");
    let spec = c.card.clone().unwrap();
    assert_eq!(spec.card_type, "interactive_taskcard");
    assert_eq!(spec.task_id.as_deref(), Some("taskid123"));
    assert_eq!(spec.buttons, ["key111", "key222"]);
    assert!(spec.interactive);
    assert_eq!(body(&c)["btn"][1]["color"], "blue", "default colour");

    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["task_id"], Value::Null),
    );
    assert_eq!(e.detail, "interactive_taskcard.task_id is required");
    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["title"], Value::Null),
    );
    assert_eq!(e.code, ErrCode::TitleMissing);
    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["description"], Value::Null),
    );
    assert_eq!(e.code, ErrCode::DescriptionMissing);
    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["btn", "0", "color"], json!("green")),
    );
    assert_eq!(
        e.detail,
        "interactive_taskcard.btn[0].color must be red or blue, got \"green\""
    );
    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["btn", "1", "key"], json!("key111")),
    );
    assert!(e.detail.ends_with("is used twice"));
    let three =
        json!([{"key": "a", "name": "a"}, {"key": "b", "name": "b"}, {"key": "c", "name": "c"}]);
    let e = err("interactive_taskcard", changed(taskcard(), &["btn"], three));
    assert_eq!(
        e.detail,
        "interactive_taskcard.btn must have 1-2 items, got 3"
    );
    let e = err(
        "interactive_taskcard",
        changed(taskcard(), &["btn", "0", "name"], json!("a".repeat(19))),
    );
    assert_eq!(e.code, ErrCode::MessageTooLong);
}

#[test]
fn replace_button() {
    let c = ok("template_card", button_card());
    let out = card_replace_button(&c.body, " 已处理 ").unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("button_list").is_none());
    assert_eq!(v["replace_text"], "已处理");
    assert_eq!(v["main_title"]["title"], "欢迎使用企业微信");
    assert!(!out.contains(": ") && !out.contains('\n'), "compact");

    let vote = ok("template_card", vote_card());
    let v: Value =
        serde_json::from_str(&card_replace_button(&vote.body, "已投票").unwrap()).unwrap();
    assert!(v.get("submit_button").is_none());
    assert_eq!(v["checkbox"]["question_key"], "question_key1");

    assert_eq!(
        card_replace_button(&c.body, " ").unwrap_err().code,
        ErrCode::InvalidRequestParameter
    );
    assert_eq!(
        card_replace_button(&c.body, &"x".repeat(129))
            .unwrap_err()
            .code,
        ErrCode::MessageTooLong
    );
    assert!(card_replace_button("[1]", "x").is_err());
    assert!(card_replace_button("{", "x").is_err());
}

// ---- canonical body and preview ------------------------------------------

#[test]
fn body_is_compact_sorted_and_known_fields_only() {
    let c = ok(
        "video",
        json!({"title": "T", "media_id": "M", "description": "D", "unknown": {"x": 1}}),
    );
    assert_eq!(c.body, r#"{"description":"D","media_id":"M","title":"T"}"#);
}

#[test]
fn preview_keeps_comparisons_and_drops_tags() {
    assert_eq!(
        ok(
            "text",
            json!({"content": "1 < 2 and 3 > 2, <b>bold</b>\n\n end <"})
        )
        .preview,
        "1 < 2 and 3 > 2, bold end <"
    );
}

#[test]
fn preview_is_at_most_120_characters() {
    let c = ok("text", json!({"content": "字".repeat(300)}));
    assert_eq!(c.preview.chars().count(), 120);
    assert!(c.preview.ends_with('…'));
    let c = ok("text", json!({"content": "字".repeat(120)}));
    assert_eq!(c.preview, "字".repeat(120));
}

// ---- wechatpy's exact payloads (1.8.18, `WeChatMessage`) ------------------

#[test]
fn wechatpy_send_text() {
    let r = send(json!({
        "touser": "zhangsan|lisi", "toparty": "", "totag": "", "agentid": 1000002,
        "msgtype": "text", "text": {"content": "hello 你好"}, "safe": 0
    }));
    assert_eq!(r.targets().unwrap().users, ["zhangsan", "lisi"]);
    let c = r.content(ContentPlace::AppMessage).unwrap();
    assert_eq!(c.body, r#"{"content":"hello 你好"}"#);
}

#[test]
fn wechatpy_send_markdown() {
    let r = send(json!({
        "touser": "@all", "toparty": "", "totag": "", "agentid": "1000002",
        "msgtype": "markdown", "markdown": {"content": "**加粗** <@zhangsan>"}
    }));
    assert!(r.targets().unwrap().all);
    let c = r.content(ContentPlace::AppMessage).unwrap();
    assert_eq!(c.mentions, ["zhangsan"]);
    assert_eq!(c.preview, "加粗 @zhangsan");
}

#[test]
fn wechatpy_send_text_card() {
    let r = send(json!({
        "touser": "zhangsan", "toparty": "", "totag": "", "agentid": 1000002,
        "msgtype": "textcard",
        "textcard": {"title": "领奖通知", "description": "恭喜", "url": "https://example.com", "btntxt": "详情"}
    }));
    let c = r.content(ContentPlace::AppMessage).unwrap();
    assert_eq!(
        c.body,
        r#"{"btntxt":"详情","description":"恭喜","title":"领奖通知","url":"https://example.com"}"#
    );
}

#[test]
fn wechatpy_send_articles() {
    let r = send(json!({
        "touser": "zhangsan", "toparty": "2", "totag": "", "agentid": 1000002,
        "msgtype": "news",
        "news": {"articles": [
            {"title": "a", "description": "b", "url": "https://example.com/1", "picurl": "https://example.com/1.png"},
            {"title": "c", "description": "d", "url": "https://example.com/2", "picurl": "https://example.com/2.png"}
        ]}
    }));
    let c = r.content(ContentPlace::AppMessage).unwrap();
    assert_eq!(
        body(&c)["articles"][0]["picurl"],
        "https://example.com/1.png"
    );
    assert_eq!(c.preview, "a");
    assert_eq!(r.targets().unwrap().parties, ["2"]);
}

#[test]
fn wechatpy_send_mp_articles() {
    let r = send(json!({
        "touser": "zhangsan", "toparty": "", "totag": "", "agentid": 1000002,
        "msgtype": "mpnews", "safe": 0,
        "mpnews": {"articles": [{
            "thumb_media_id": "MEDIA", "author": "me", "title": "T", "content": "<p>C</p>",
            "content_source_url": "https://example.com", "digest": "D", "show_cover_pic": 1
        }]}
    }));
    let c = r.content(ContentPlace::AppMessage).unwrap();
    assert_eq!(c.media_ids, ["MEDIA"]);
    assert!(!c.body.contains("show_cover_pic"), "{}", c.body);
    assert_eq!(
        c.body,
        r#"{"articles":[{"author":"me","content":"<p>C</p>","content_source_url":"https://example.com","digest":"D","thumb_media_id":"MEDIA","title":"T"}]}"#
    );
}

// ---- responses and the other requests --------------------------------------

#[test]
fn send_response_shape() {
    let r = SendMessageResponse {
        invaliduser: vec!["u1".into(), "u2".into()],
        msgid: "m1".into(),
        ..SendMessageResponse::default()
    };
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"invaliduser": "u1|u2", "invalidparty": "", "invalidtag": "", "msgid": "m1"})
    );
    let r = SendMessageResponse {
        unlicenseduser: vec!["u3".into()],
        response_code: Some("rc".into()),
        ..SendMessageResponse::default()
    };
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["unlicenseduser"], "u3");
    assert_eq!(v["response_code"], "rc");
}

#[test]
fn recall_and_statistics() {
    let r: RecallRequest = parse_body(br#"{"msgid": "abc"}"#).unwrap();
    assert_eq!(r.msgid().unwrap(), "abc");
    let r: RecallRequest = parse_body(b"").unwrap();
    assert_eq!(r.msgid().unwrap_err().detail, "msgid is required");

    let s: GetStatisticsRequest = parse_body(br#"{"time_type": "1"}"#).unwrap();
    assert_eq!(s.time_type().unwrap(), 1);
    let s: GetStatisticsRequest = parse_body(b"{}").unwrap();
    assert_eq!(s.time_type().unwrap(), 0);
    let s: GetStatisticsRequest = parse_body(br#"{"time_type": 2}"#).unwrap();
    assert!(s.time_type().is_err());
    let out = StatisticsResponse {
        statistics: vec![AppStatistics {
            agentid: 1000002,
            app_name: "应用1".into(),
            count: 101,
        }],
    };
    assert_eq!(
        serde_json::to_value(out).unwrap(),
        json!({"statistics": [{"agentid": 1000002, "app_name": "应用1", "count": 101}]})
    );
}

#[test]
fn update_template_card() {
    let r: UpdateTemplateCardRequest = parse_body(
        json!({"userids": ["a", "b"], "partyids": [1], "agentid": 1, "response_code": "rc",
               "button": {"replace_name": "已处理"}})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.agentid().unwrap(), 1);
    assert_eq!(r.response_code().unwrap(), "rc");
    let t = r.targets().unwrap();
    assert_eq!(
        (t.users.len(), t.parties.as_slice()),
        (2, ["1".to_owned()].as_slice())
    );
    assert_eq!(
        r.update().unwrap(),
        CardUpdate::ReplaceButton("已处理".into())
    );

    let r: UpdateTemplateCardRequest = parse_body(
        json!({"atall": 1, "template_card": button_card()})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(r.targets().unwrap().all);
    match r.update().unwrap() {
        CardUpdate::Replace(c) => assert_eq!(c.msgtype, "template_card"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.agentid().unwrap_err().code, ErrCode::AgentIdMissing);
    assert!(r.response_code().is_err());

    let r: UpdateTemplateCardRequest = parse_body(b"{}").unwrap();
    assert_eq!(
        r.update().unwrap_err().detail,
        "button or template_card is required"
    );
    assert_eq!(r.targets().unwrap_err().code, ErrCode::NoRecipient);
    let r: UpdateTemplateCardRequest = parse_body(
        json!({"button": {"replace_name": "x"}, "template_card": {}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(r.update().is_err());
    let r: UpdateTemplateCardRequest =
        parse_body(json!({"button": {}}).to_string().as_bytes()).unwrap();
    assert_eq!(
        r.update().unwrap_err().detail,
        "button.replace_name is required"
    );
    let r: UpdateTemplateCardRequest = parse_body(
        json!({"template_card": {"card_type": "button_interaction"}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert!(r.update().is_err(), "the new card is validated");

    assert_eq!(
        serde_json::to_value(InvalidUsersResponse {
            invaliduser: vec!["x".into()]
        })
        .unwrap(),
        json!({"invaliduser": ["x"]})
    );
}

// ---- app chats ---------------------------------------------------------------

fn create(body: Value) -> Result<NewAppChat, WireError> {
    parse_body::<CreateAppChatRequest>(body.to_string().as_bytes())?.validate()
}

#[test]
fn appchat_create() {
    let chat = create(json!({
        "name": format!("{}尾", "名".repeat(50)), "owner": "userid2",
        "userlist": ["userid1", "userid2", " userid3 ", "userid1"], "chatid": "CHATID1"
    }))
    .unwrap();
    assert_eq!(chat.name, "名".repeat(50), "cut to 50 characters");
    assert_eq!(chat.owner, "userid2");
    assert_eq!(chat.userlist, ["userid1", "userid2", "userid3"]);
    assert_eq!(chat.chatid.as_deref(), Some("CHATID1"));

    let chat = create(json!({"userlist": ["a", "b"]})).unwrap();
    assert_eq!((chat.owner.as_str(), chat.chatid), ("a", None));
    assert_eq!(chat.name, "");

    let code = |body| create(body).unwrap_err().code;
    assert_eq!(
        code(json!({"userlist": ["a"]})),
        ErrCode::InvalidChatMemberCount
    );
    assert_eq!(
        code(json!({"userlist": ["a", "a"]})),
        ErrCode::InvalidChatMemberCount
    );
    assert_eq!(code(json!({})), ErrCode::InvalidChatMemberCount);
    let many: Vec<String> = (0..2001).map(|i| format!("u{i}")).collect();
    assert_eq!(
        code(json!({ "userlist": many })),
        ErrCode::InvalidChatMemberCount
    );
    let most: Vec<String> = (0..2000).map(|i| format!("u{i}")).collect();
    assert!(create(json!({ "userlist": most })).is_ok());
    assert_eq!(
        code(json!({"userlist": ["a", "b c"]})),
        ErrCode::InvalidChatMember
    );
    assert_eq!(
        code(json!({"userlist": ["a", "b"], "owner": "c"})),
        ErrCode::InvalidChatOwner
    );
    assert_eq!(
        code(json!({"userlist": ["a", "b"], "owner": "c d"})),
        ErrCode::InvalidChatOwner
    );
    for bad in ["chat-1", "中文", &"a".repeat(33)] {
        assert_eq!(
            code(json!({"userlist": ["a", "b"], "chatid": bad})),
            ErrCode::InvalidChatId,
            "{bad}"
        );
    }
    assert!(create(json!({"userlist": ["a", "b"], "chatid": "a".repeat(32)})).is_ok());
    assert_eq!(
        serde_json::to_value(CreateAppChatResponse {
            chatid: "C1".into()
        })
        .unwrap(),
        json!({"chatid": "C1"})
    );
}

#[test]
fn appchat_update() {
    let current = AppChatInfo {
        chatid: "C1".into(),
        name: "old".into(),
        owner: "a".into(),
        userlist: vec!["a".into(), "b".into(), "c".into()],
        chat_type: 0,
    };
    let update = |body: Value| -> Result<AppChatInfo, WireError> {
        let r: UpdateAppChatRequest = parse_body(body.to_string().as_bytes())?;
        r.chatid()?;
        r.apply(&current)
    };
    let out = update(
        json!({"chatid": "C1", "name": "new", "add_user_list": ["d", "a"], "del_user_list": ["b"]}),
    )
    .unwrap();
    assert_eq!(out.name, "new");
    assert_eq!(out.userlist, ["a", "c", "d"]);
    assert_eq!(out.owner, "a");
    // Removing the owner hands the chat to the first remaining member.
    let out = update(json!({"chatid": "C1", "del_user_list": ["a"]})).unwrap();
    assert_eq!((out.owner.as_str(), out.name.as_str()), ("b", "old"));
    assert_eq!(
        update(json!({"chatid": "C1", "del_user_list": ["a", "b"]}))
            .unwrap_err()
            .code,
        ErrCode::InvalidChatMemberCount
    );
    assert_eq!(
        update(json!({"chatid": "C1", "owner": "z"}))
            .unwrap_err()
            .code,
        ErrCode::InvalidChatOwner
    );
    assert_eq!(
        update(json!({"chatid": "C1", "add_user_list": ["x y"]}))
            .unwrap_err()
            .code,
        ErrCode::InvalidChatMember
    );
    assert_eq!(
        update(json!({"name": "x"})).unwrap_err().code,
        ErrCode::InvalidChatId
    );
    assert_eq!(
        serde_json::to_value(GetAppChatResponse { chat_info: current }).unwrap(),
        json!({"chat_info": {"chatid": "C1", "name": "old", "owner": "a", "userlist": ["a", "b", "c"], "chat_type": 0}})
    );
}

#[test]
fn appchat_send() {
    let r: AppChatSendRequest = parse_body(
        json!({"chatid": "CHATID", "msgtype": "text", "text": {"content": "你的快递已到"}, "safe": 0})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.chatid().unwrap(), "CHATID");
    assert_eq!(r.content().unwrap().preview, "你的快递已到");
    let r: AppChatSendRequest = parse_body(
        json!({"chatid": "CHATID", "msgtype": "template_card", "template_card": text_notice()})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.content().unwrap_err().code, ErrCode::InvalidMsgType);
    let r: AppChatSendRequest = parse_body(b"{}").unwrap();
    assert_eq!(r.chatid().unwrap_err().code, ErrCode::InvalidChatId);
    assert_eq!(r.content().unwrap_err().code, ErrCode::InvalidMsgType);
}

// ---- properties ----------------------------------------------------------------

fn valid_samples() -> Vec<(&'static str, Value)> {
    vec![
        ("text", json!({"content": "hi <a href=\"x\">link</a>"})),
        ("image", json!({"media_id": "m"})),
        ("video", json!({"media_id": "m", "title": "t"})),
        (
            "textcard",
            json!({"title": "t", "description": "d", "url": "u"}),
        ),
        ("news", json!({"articles": [article(1), article(2)]})),
        ("mpnews", json!({"articles": [mp_article()]})),
        ("markdown", json!({"content": "**x** <@a>"})),
        (
            "miniprogram_notice",
            json!({"appid": "wx", "title": "一二三四", "content_item": [{"key": "k", "value": 1}]}),
        ),
        ("template_card", text_notice()),
        ("template_card", news_notice()),
        ("template_card", button_card()),
        ("template_card", vote_card()),
        ("template_card", multiple_card()),
        ("interactive_taskcard", taskcard()),
    ]
}

#[test]
fn the_canonical_body_is_a_fixed_point() {
    for (msgtype, payload) in valid_samples() {
        let first = ok(msgtype, payload);
        let again = ok(msgtype, body(&first));
        assert_eq!(first, again, "{msgtype}");
    }
}

mod props {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    const KEYS: &[&str] = &[
        "content",
        "media_id",
        "title",
        "description",
        "url",
        "btntxt",
        "articles",
        "thumb_media_id",
        "author",
        "appid",
        "card_type",
        "task_id",
        "main_title",
        "button_list",
        "key",
        "type",
        "option_list",
        "id",
        "checkbox",
        "select_list",
        "question_key",
        "submit_button",
        "horizontal_content_list",
        "card_action",
        "btn",
        "content_item",
        "mode",
        "aspect_ratio",
        "card_image",
        "action_menu",
        "action_list",
    ];

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just(String::new()),
                Just("button_interaction".to_owned()),
                Just("vote_interaction".to_owned()),
                Just("1".to_owned()),
                ".{0,12}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                    |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                ),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_payload_is_answered_without_panic(payload in json_value(), safe in -1i64..4) {
            for msgtype in [
                "text", "image", "voice", "video", "file", "textcard", "news", "mpnews",
                "markdown", "miniprogram_notice", "template_card", "interactive_taskcard",
            ] {
                for place in [ContentPlace::AppMessage, ContentPlace::AppChat, ContentPlace::MemberChat] {
                    if let Ok(c) = validate_content(msgtype, &payload, safe, place) {
                        prop_assert!(c.preview.chars().count() <= PREVIEW_CHARS);
                        let again = validate_content(msgtype, &body(&c), safe, place);
                        prop_assert_eq!(again.as_ref().ok(), Some(&c));
                    }
                }
            }
        }

        #[test]
        fn replace_button_accepts_any_object(payload in json_value(), name in "[a-z]{1,8}") {
            let text = payload.to_string();
            let out = card_replace_button(&text, &name);
            prop_assert_eq!(out.is_ok(), payload.is_object());
        }
    }
}

//! The wire side of callbacks: directory changes and job results rendered as
//! WeCom's plaintext XML events, sealed with WXBizMsgCrypt and sent to an
//! app's callback URL over HTTP.
//!
//! [`WecomCallbackWire`] implements [`CallbackWire`], the port through which
//! `qiye-app` queues and delivers events; the app decides who hears of what,
//! this module only decides how it looks on the wire.
//!
//! * Rendering: a [`DirChange`] becomes at most one `change_contact` event
//!   ([`contact_change`]); an update carries only what changed, as WeCom's
//!   does. Tag creation, renaming and removal have no WeCom event.
//! * Delivery: `POST URL?msg_signature=…&timestamp=…&nonce=…` with the
//!   `<xml><ToUserName/><AgentID/><Encrypt/></xml>` envelope; any 2xx status
//!   within [`REQUEST_TIMEOUT`] is success. Redirects are not followed.
//! * Verification: the echostr handshake WeCom performs when an admin saves
//!   callback settings: `GET URL?…&echostr=…` must answer with the decrypted
//!   echostr, byte for byte (one trailing `\n` is tolerated).

use std::error::Error as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use qiye_app::callbacks::CallbackWire;
use qiye_domain::approval::model::display_text;
use qiye_domain::approval::{Instance, status};
use qiye_domain::callback::CallbackConfig;
use qiye_domain::directory::{
    Department, DirChange, ExtAttr, ExtAttrValue as DomainExtAttrValue, Member,
};
use qiye_domain::ids::{AgentId, CorpId, DeptId};
use qiye_domain::job::JobType;
use qiye_wecom::callback_xml::{
    ApprovalChange, ApprovalComment, ApprovalDetail, ApprovalNodeRecord, BatchJobResult,
    BatchJobType, CallbackEvent, ContactChange, ExtAttrItem, ExtAttrValue as WireExtAttrValue,
    UserChange, approval_change_xml, event_xml,
};
use qiye_wecom::crypto::{CallbackCrypto, SealedMessage};
use rand::Rng as _;
use reqwest::Url;

/// How long a receiver has to answer a delivery or a verification, from
/// the start of the connection to the end of the response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long establishing the connection (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest verification answer that is read; the echostr plaintext is
/// far shorter, so anything longer is wrong anyway.
const MAX_ECHO_BODY: usize = 1024;

/// Renders, seals and sends callback events the way WeCom does.
///
/// Holds one HTTP client (with its connection pool) for all receivers;
/// cloning is cheap and shares it.
#[derive(Debug, Clone)]
pub struct WecomCallbackWire {
    client: reqwest::Client,
}

impl Default for WecomCallbackWire {
    fn default() -> Self {
        Self::new()
    }
}

impl WecomCallbackWire {
    /// A wire with WeCom's timeouts ([`REQUEST_TIMEOUT`],
    /// [`CONNECT_TIMEOUT`]) that follows no redirects and speaks http and
    /// https (rustls with the webpki roots).
    ///
    /// # Panics
    ///
    /// If the TLS backend cannot be initialised, which does not depend on
    /// any input.
    pub fn new() -> Self {
        Self::with_timeouts(REQUEST_TIMEOUT, CONNECT_TIMEOUT)
    }

    fn with_timeouts(request: Duration, connect: Duration) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(request)
            .connect_timeout(connect)
            .build()
            .expect("the HTTP client for callbacks can be built");
        Self { client }
    }
}

/// The `change_contact` event of a directory change, or `None` for changes
/// WeCom has no event for (tag creation, renaming and removal, and tag
/// membership changes that add and remove nothing).
///
/// Updates carry only what differs between before and after:
/// * `update_party`: `Name` and `ParentId` when they changed; a change of
///   only the order or the English name still yields an event with `Id`
///   alone.
/// * `update_user`: `UserID` (the old userid), `NewUserID` on a rename, and
///   each changed field. `Department` and `IsLeaderInDept` are parallel
///   lists and are sent together when either changed. Fields WeCom's event
///   does not have (English name, avatar, external profile, per-department
///   order) are never sent, so an update of only those has `UserID` alone.
pub fn contact_change(change: &DirChange) -> Option<ContactChange> {
    Some(match change {
        DirChange::CreateDept(dept) => ContactChange::CreateParty {
            id: dept_id(dept.id),
            name: dept.name.clone(),
            parent_id: parent_id(dept),
            order: i64::from(dept.order),
        },
        DirChange::UpdateDept { before, after } => ContactChange::UpdateParty {
            id: dept_id(after.id),
            name: (before.name != after.name).then(|| after.name.clone()),
            parent_id: (before.parent != after.parent).then(|| parent_id(after)),
        },
        DirChange::DeleteDept(dept) => ContactChange::DeleteParty {
            id: dept_id(dept.id),
        },
        DirChange::CreateMember(member) => {
            ContactChange::CreateUser(Box::new(created_user(member)))
        }
        DirChange::UpdateMember { before, after } => {
            ContactChange::UpdateUser(Box::new(updated_user(before, after)))
        }
        DirChange::DeleteMember(member) => ContactChange::DeleteUser {
            userid: member.userid.as_str().to_owned(),
        },
        DirChange::TagTargets {
            id,
            add_users,
            del_users,
            add_parties,
            del_parties,
        } => {
            if add_users.is_empty()
                && del_users.is_empty()
                && add_parties.is_empty()
                && del_parties.is_empty()
            {
                return None;
            }
            ContactChange::UpdateTag {
                tag_id: i64::from(id.0),
                add_users: add_users.iter().map(|u| u.as_str().to_owned()).collect(),
                del_users: del_users.iter().map(|u| u.as_str().to_owned()).collect(),
                add_parties: add_parties.iter().copied().map(dept_id).collect(),
                del_parties: del_parties.iter().copied().map(dept_id).collect(),
            }
        }
        DirChange::CreateTag(_) | DirChange::RenameTag { .. } | DirChange::DeleteTag(_) => {
            return None;
        }
    })
}

/// WeCom's wire name of a job type.
pub fn batch_job_type(job_type: JobType) -> Option<BatchJobType> {
    match job_type {
        JobType::SyncUser => Some(BatchJobType::SyncUser),
        JobType::ReplaceUser => Some(BatchJobType::ReplaceUser),
        JobType::ReplaceParty => Some(BatchJobType::ReplaceParty),
        JobType::ExportSimpleUser
        | JobType::ExportUser
        | JobType::ExportDepartment
        | JobType::ExportTagUser => None,
    }
}

fn dept_id(id: DeptId) -> i64 {
    i64::from(id.get())
}

/// WeCom gives the root department parent 0.
fn parent_id(dept: &Department) -> i64 {
    dept.parent.map_or(0, dept_id)
}

fn departments(member: &Member) -> Vec<i64> {
    member.departments.iter().map(|m| dept_id(m.dept)).collect()
}

fn leader_flags(member: &Member) -> Vec<i64> {
    member
        .departments
        .iter()
        .map(|m| i64::from(m.is_leader))
        .collect()
}

fn direct_leaders(member: &Member) -> Vec<String> {
    member
        .direct_leader
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect()
}

/// The text and web attributes; WeCom's event has no form for mini
/// program attributes.
fn ext_items(attrs: &[ExtAttr]) -> Vec<ExtAttrItem> {
    attrs
        .iter()
        .filter_map(|attr| {
            let value = match &attr.value {
                DomainExtAttrValue::Text { value } => WireExtAttrValue::Text {
                    value: value.clone(),
                },
                DomainExtAttrValue::Web { url, title } => WireExtAttrValue::Web {
                    title: title.clone(),
                    url: url.clone(),
                },
                DomainExtAttrValue::MiniProgram { .. } => return None,
            };
            Some(ExtAttrItem {
                name: attr.name.clone(),
                value,
            })
        })
        .collect()
}

/// Empty text means "not set": left out of a `create_user` event.
fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

fn non_empty_list<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// Every field of a new member that WeCom's event has and that is set.
fn created_user(member: &Member) -> UserChange {
    UserChange {
        userid: member.userid.as_str().to_owned(),
        new_userid: None,
        name: Some(member.name.clone()),
        department: Some(departments(member)),
        main_department: Some(dept_id(member.main_department)),
        is_leader_in_dept: Some(leader_flags(member)),
        direct_leader: non_empty_list(direct_leaders(member)),
        position: non_empty(&member.position),
        mobile: non_empty(&member.mobile),
        gender: Some(member.gender.code()),
        email: non_empty(&member.email),
        biz_mail: non_empty(&member.biz_mail),
        status: Some(member.status.code()),
        // We keep an avatar media id, not the URL WeCom sends.
        avatar: None,
        alias: non_empty(&member.alias),
        telephone: non_empty(&member.telephone),
        address: non_empty(&member.address),
        extattr: non_empty_list(ext_items(&member.extattr)),
    }
}

/// `after`'s value when it differs from `before`'s.
fn changed<T: PartialEq>(before: T, after: T) -> Option<T> {
    (before != after).then_some(after)
}

fn changed_text(before: &str, after: &str) -> Option<String> {
    changed(before, after).map(str::to_owned)
}

/// Only what differs between `before` and `after`.
fn updated_user(before: &Member, after: &Member) -> UserChange {
    let depts_changed =
        departments(before) != departments(after) || leader_flags(before) != leader_flags(after);
    UserChange {
        userid: before.userid.as_str().to_owned(),
        new_userid: changed(&before.userid, &after.userid).map(|u| u.as_str().to_owned()),
        name: changed_text(&before.name, &after.name),
        department: depts_changed.then(|| departments(after)),
        main_department: changed(before.main_department, after.main_department).map(dept_id),
        is_leader_in_dept: depts_changed.then(|| leader_flags(after)),
        direct_leader: changed(direct_leaders(before), direct_leaders(after)),
        position: changed_text(&before.position, &after.position),
        mobile: changed_text(&before.mobile, &after.mobile),
        gender: changed(before.gender, after.gender).map(|g| g.code()),
        email: changed_text(&before.email, &after.email),
        biz_mail: changed_text(&before.biz_mail, &after.biz_mail),
        status: changed(before.status, after.status).map(|s| s.code()),
        avatar: None,
        alias: changed_text(&before.alias, &after.alias),
        telephone: changed_text(&before.telephone, &after.telephone),
        address: changed_text(&before.address, &after.address),
        extattr: changed(ext_items(&before.extattr), ext_items(&after.extattr)),
    }
}

fn unix_now_secs() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string()
}

/// Ten random decimal digits, the first not zero.
fn random_nonce() -> String {
    rand::rng()
        .random_range(1_000_000_000u64..10_000_000_000)
        .to_string()
}

/// A random echostr plaintext: 19 decimal digits, like WeCom's.
fn random_echo() -> String {
    rand::rng()
        .random_range(1_000_000_000_000_000_000u64..10_000_000_000_000_000_000)
        .to_string()
}

fn crypto_for(corp: &CorpId, config: &CallbackConfig) -> Result<CallbackCrypto, String> {
    CallbackCrypto::new(&config.token, &config.aes_key, corp.as_str())
        .map_err(|err| format!("invalid callback settings: {err}"))
}

/// `base` with the signature parameters (and `echostr`, if given) appended
/// to its query, percent-encoded.
fn signed_url(base: &str, sealed: &SealedMessage, echostr: Option<&str>) -> Result<Url, String> {
    let mut url = Url::parse(base).map_err(|err| format!("invalid callback URL: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("invalid callback URL: not http or https".to_owned());
    }
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("msg_signature", &sealed.msg_signature)
            .append_pair("timestamp", &sealed.timestamp)
            .append_pair("nonce", &sealed.nonce);
        if let Some(echostr) = echostr {
            query.append_pair("echostr", echostr);
        }
    }
    Ok(url)
}

/// `host:port` of a URL, for error messages (the query holds signatures).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A short human description of a failed request.
fn describe(err: reqwest::Error, url: &Url) -> String {
    if err.is_timeout() {
        return "timeout".to_owned();
    }
    let mut io_kind = None;
    let mut innermost = None;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    let is_connect = err.is_connect();
    // The URL's query holds the signature: keep it out of the message.
    let cause = innermost.unwrap_or_else(|| err.without_url().to_string());
    match io_kind {
        Some(std::io::ErrorKind::TimedOut) => "timeout".to_owned(),
        Some(std::io::ErrorKind::ConnectionRefused) => {
            format!("connection refused: {}", authority(url))
        }
        _ if is_connect => format!("cannot connect to {}: {cause}", authority(url)),
        _ => format!("request failed: {cause}"),
    }
}

/// Reads at most `limit` bytes of the body; `None` if it is longer.
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// An instance as `sys_approval_change` tells it: one `SpRecord` per node
/// reached that asks people, in order, with each record's code.
fn approval_change(agentid: AgentId, instance: &Instance, change: u8) -> ApprovalChange {
    let template = instance.template();
    let records = instance
        .activations()
        .iter()
        .filter_map(|act| {
            let task = template.flow().node(&act.node)?.task()?;
            let details = instance
                .records()
                .iter()
                .filter(|r| r.activation == act.id)
                .map(|r| ApprovalDetail {
                    userid: r.user.as_str().to_owned(),
                    speech: r.speech.clone(),
                    sp_status: status::record_code(&r.status, act.status),
                    sp_time: r.acted_at.unwrap_or(0),
                })
                .collect();
            Some(ApprovalNodeRecord {
                sp_status: status::node_code(act.status),
                approver_attr: status::approver_attr(task.mode),
                details,
            })
        })
        .collect();
    ApprovalChange {
        agent_id: agentid.get(),
        sp_no: instance.sp_no().as_str().to_owned(),
        sp_name: display_text(template.name()).to_owned(),
        sp_status: status::SpStatus::of(instance.status()).map_or(0, status::SpStatus::code),
        template_id: template.id().as_str().to_owned(),
        apply_time: instance.times().0.unwrap_or(0),
        applyer: instance
            .applicant()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default(),
        applyer_party: instance.dept().map_or(0, |d| i64::from(d.get())),
        records,
        notifyer: instance
            .cc()
            .iter()
            .map(|(u, _, _)| u.as_str().to_owned())
            .collect(),
        comments: instance
            .comments()
            .iter()
            .map(|c| ApprovalComment {
                userid: c.by.as_str().to_owned(),
                time: c.at,
                content: c.text.clone(),
                id: c.id.to_string(),
            })
            .collect(),
        change,
    }
}

/// Whether a verification answer is the echostr plaintext: exactly, or
/// with one trailing newline.
fn echo_matches(body: &[u8], plaintext: &str) -> bool {
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    body == plaintext.as_bytes()
}

#[async_trait]
impl CallbackWire for WecomCallbackWire {
    fn contact_events(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        change: &DirChange,
    ) -> Vec<(String, String)> {
        let Some(change) = contact_change(change) else {
            return Vec::new();
        };
        let name = format!("change_contact/{}", change.change_type());
        let xml = event_xml(
            corp.as_str(),
            create_time_secs,
            &CallbackEvent::Contact(change),
        );
        vec![(name, xml)]
    }

    fn approval_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        agentid: AgentId,
        instance: &Instance,
        change: u8,
    ) -> (String, String) {
        let event = approval_change(agentid, instance, change);
        (
            "sys_approval_change".to_owned(),
            approval_change_xml(corp.as_str(), create_time_secs, &event),
        )
    }

    fn batch_job_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        jobid: &str,
        job_type: JobType,
        errcode: i64,
        errmsg: &str,
    ) -> Option<(String, String)> {
        let event = CallbackEvent::BatchJobResult(BatchJobResult {
            job_id: jobid.to_owned(),
            job_type: batch_job_type(job_type)?,
            errcode,
            errmsg: errmsg.to_owned(),
        });
        Some((
            event.event().to_owned(),
            event_xml(corp.as_str(), create_time_secs, &event),
        ))
    }

    fn card_event(
        &self,
        corp: &CorpId,
        create_time_secs: i64,
        click: &qiye_app::callbacks::CardEvent<'_>,
    ) -> (String, String) {
        let event = qiye_wecom::callback_xml::TemplateCardEvent {
            userid: click.userid.to_owned(),
            agent_id: click.agentid.get(),
            event_key: click.key.to_owned(),
            task_id: click.task_id.to_owned(),
            card_type: click.card_type.to_owned(),
            response_code: click.response_code.to_owned(),
            selected: click
                .selected
                .iter()
                .map(|(key, options)| qiye_wecom::callback_xml::SelectedItem {
                    question_key: key.clone(),
                    option_ids: options.clone(),
                })
                .collect(),
        };
        (
            "template_card_event".to_owned(),
            qiye_wecom::callback_xml::template_card_event_xml(
                corp.as_str(),
                create_time_secs,
                &event,
            ),
        )
    }

    async fn deliver(
        &self,
        corp: &CorpId,
        agentid: Option<AgentId>,
        config: &CallbackConfig,
        payload: &str,
    ) -> Result<(), String> {
        let crypto = crypto_for(corp, config)?;
        let sealed = crypto.seal(payload, &unix_now_secs(), &random_nonce());
        let url = signed_url(&config.url, &sealed, None)?;
        let body = sealed.post_body_xml(corp.as_str(), agentid.map(AgentId::get));
        let response = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml")
            .body(body)
            .send()
            .await
            .map_err(|err| describe(err, &url))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }

    async fn verify(&self, corp: &CorpId, config: &CallbackConfig) -> Result<(), String> {
        let crypto = crypto_for(corp, config)?;
        let plaintext = random_echo();
        let sealed = crypto.seal(&plaintext, &unix_now_secs(), &random_nonce());
        let url = signed_url(&config.url, &sealed, Some(&sealed.encrypt))?;
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|err| describe(err, &url))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = read_limited(response, MAX_ECHO_BODY)
            .await
            .map_err(|err| describe(err, &url))?;
        match body {
            Some(body) if echo_matches(&body, &plaintext) => Ok(()),
            _ => Err("the URL did not answer with the decrypted echostr".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::get;
    use qiye_domain::directory::{Gender, MemberStatus, Membership, Tag, TagId};
    use qiye_domain::ids::UserId;

    use super::*;

    const TOKEN: &str = "QDG6eK";
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    const CORP: &str = "ww0123456789abcdef";
    const AGENT: i64 = 1_000_002;

    fn corp() -> CorpId {
        CorpId::parse(CORP).unwrap()
    }

    fn agent() -> AgentId {
        AgentId::new(AGENT).unwrap()
    }

    fn config(url: &str) -> CallbackConfig {
        CallbackConfig::new(url, TOKEN, KEY).unwrap()
    }

    fn uid(raw: &str) -> UserId {
        UserId::parse(raw).unwrap()
    }

    fn did(raw: i64) -> DeptId {
        DeptId::new(raw).unwrap()
    }

    // ---- a receiver, as an app developer would write it ----

    /// What the receiver does with a verification request.
    #[derive(Clone, Copy)]
    enum Echo {
        /// Answers with the decrypted echostr.
        Plaintext,
        /// Answers with the decrypted echostr and a newline.
        PlaintextNewline,
        /// Answers with something else.
        Wrong,
    }

    struct Receiver {
        crypto: CallbackCrypto,
        echo: Echo,
        /// Decrypted event documents, in arrival order.
        events: Mutex<Vec<String>>,
        /// The query of every request, decoded.
        queries: Mutex<Vec<HashMap<String, String>>>,
    }

    fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> &'a str {
        query.get(name).map_or("", String::as_str)
    }

    fn cdata<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
        let open = format!("<{name}><![CDATA[");
        let start = xml.find(&open)? + open.len();
        let len = xml[start..].find("]]>")?;
        Some(&xml[start..start + len])
    }

    async fn receiver_get(
        State(rx): State<Arc<Receiver>>,
        Query(query): Query<HashMap<String, String>>,
    ) -> Response {
        rx.queries.lock().unwrap().push(query.clone());
        let opened = rx.crypto.verify_and_decrypt(
            param(&query, "msg_signature"),
            param(&query, "timestamp"),
            param(&query, "nonce"),
            param(&query, "echostr"),
        );
        match (opened, rx.echo) {
            (Err(err), _) => (StatusCode::FORBIDDEN, err.to_string()).into_response(),
            (Ok(plain), Echo::Plaintext) => plain.into_response(),
            (Ok(plain), Echo::PlaintextNewline) => format!("{plain}\n").into_response(),
            (Ok(plain), Echo::Wrong) => format!("\"{plain}\"").into_response(),
        }
    }

    async fn receiver_post(
        State(rx): State<Arc<Receiver>>,
        Query(query): Query<HashMap<String, String>>,
        headers: axum::http::HeaderMap,
        body: String,
    ) -> Response {
        rx.queries.lock().unwrap().push(query.clone());
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if content_type != Some("text/xml")
            || cdata(&body, "ToUserName") != Some(CORP)
            || cdata(&body, "AgentID") != Some(AGENT.to_string().as_str())
        {
            return (StatusCode::BAD_REQUEST, "bad envelope").into_response();
        }
        let Some(encrypt) = cdata(&body, "Encrypt") else {
            return (StatusCode::BAD_REQUEST, "no Encrypt").into_response();
        };
        match rx.crypto.verify_and_decrypt(
            param(&query, "msg_signature"),
            param(&query, "timestamp"),
            param(&query, "nonce"),
            encrypt,
        ) {
            Ok(plain) => {
                rx.events.lock().unwrap().push(plain);
                "success".into_response()
            }
            Err(err) => (StatusCode::FORBIDDEN, err.to_string()).into_response(),
        }
    }

    /// Serves `router` on 127.0.0.1 and returns its base URL.
    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }

    async fn spawn_receiver(echo: Echo) -> (String, Arc<Receiver>) {
        let rx = Arc::new(Receiver {
            crypto: CallbackCrypto::new(TOKEN, KEY, CORP).unwrap(),
            echo,
            events: Mutex::default(),
            queries: Mutex::default(),
        });
        let router = Router::new()
            .route("/cb", get(receiver_get).post(receiver_post))
            .with_state(Arc::clone(&rx));
        (format!("{}/cb", serve(router).await), rx)
    }

    /// A URL nothing listens on.
    async fn closed_port_url() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/cb")
    }

    fn sample_event() -> String {
        let wire = WecomCallbackWire::new();
        let change = DirChange::DeleteMember(Box::new(member("zhangsan")));
        let mut events = wire.contact_events(&corp(), 1_700_000_000, &change);
        assert_eq!(events.len(), 1);
        events.remove(0).1
    }

    // ---- verify ----

    #[tokio::test]
    async fn verify_succeeds_when_the_receiver_echoes_the_plaintext() {
        let (url, rx) = spawn_receiver(Echo::Plaintext).await;
        let wire = WecomCallbackWire::new();
        assert_eq!(wire.verify(&corp(), &config(&url)).await, Ok(()));
        // The parameters arrive percent-decoded: the signature only checks
        // out if `+`, `/` and `=` of the echostr survived the trip.
        let queries = rx.queries.lock().unwrap();
        assert_eq!(queries.len(), 1);
        let nonce = param(&queries[0], "nonce");
        assert_eq!(nonce.len(), 10);
        assert!(nonce.bytes().all(|b| b.is_ascii_digit()));
        assert!(param(&queries[0], "timestamp").parse::<u64>().is_ok());
    }

    #[tokio::test]
    async fn verify_tolerates_one_trailing_newline() {
        let (url, _rx) = spawn_receiver(Echo::PlaintextNewline).await;
        let wire = WecomCallbackWire::new();
        assert_eq!(wire.verify(&corp(), &config(&url)).await, Ok(()));
    }

    #[tokio::test]
    async fn verify_fails_on_the_wrong_echo() {
        let (url, rx) = spawn_receiver(Echo::Wrong).await;
        let wire = WecomCallbackWire::new();
        let err = wire.verify(&corp(), &config(&url)).await.unwrap_err();
        assert!(err.contains("echostr"), "{err}");
        assert_eq!(rx.queries.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn verify_fails_when_the_receiver_has_another_key() {
        let (url, _rx) = spawn_receiver(Echo::Plaintext).await;
        let wire = WecomCallbackWire::new();
        let other = CallbackConfig::new(&url, TOKEN, "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR")
            .unwrap();
        assert_eq!(
            wire.verify(&corp(), &other).await,
            Err("HTTP 403".to_owned())
        );
    }

    #[tokio::test]
    async fn verify_fails_fast_against_a_closed_port() {
        let url = closed_port_url().await;
        let wire = WecomCallbackWire::new();
        let err = wire.verify(&corp(), &config(&url)).await.unwrap_err();
        // Refused, not timed out: the failure did not wait for a timeout.
        assert!(err.starts_with("connection refused: 127.0.0.1:"), "{err}");
    }

    #[tokio::test]
    async fn verify_keeps_an_existing_query() {
        let (url, rx) = spawn_receiver(Echo::Plaintext).await;
        let wire = WecomCallbackWire::new();
        let url = format!("{url}?app=hr&x=a%2Bb");
        assert_eq!(wire.verify(&corp(), &config(&url)).await, Ok(()));
        let queries = rx.queries.lock().unwrap();
        assert_eq!(param(&queries[0], "app"), "hr");
        assert_eq!(param(&queries[0], "x"), "a+b");
    }

    // ---- deliver ----

    #[tokio::test]
    async fn deliver_reaches_the_receiver_decryptably() {
        let (url, rx) = spawn_receiver(Echo::Plaintext).await;
        let wire = WecomCallbackWire::new();
        let payload = sample_event();
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &payload)
                .await,
            Ok(())
        );
        let events = rx.events.lock().unwrap();
        assert_eq!(events.as_slice(), [payload]);
        assert!(events[0].contains("<ChangeType><![CDATA[delete_user]]></ChangeType>"));
        assert!(events[0].contains("<UserID><![CDATA[zhangsan]]></UserID>"));
    }

    #[tokio::test]
    async fn deliver_appends_to_an_existing_query() {
        let (url, rx) = spawn_receiver(Echo::Plaintext).await;
        let wire = WecomCallbackWire::new();
        let url = format!("{url}?app=hr");
        let payload = sample_event();
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &payload)
                .await,
            Ok(())
        );
        assert_eq!(rx.events.lock().unwrap().len(), 1);
        assert_eq!(param(&rx.queries.lock().unwrap()[0], "app"), "hr");
    }

    async fn fixed_status(status: StatusCode) -> String {
        let router = Router::new().route(
            "/cb",
            get(move || async move { status }).post(move || async move { status }),
        );
        format!("{}/cb", serve(router).await)
    }

    #[tokio::test]
    async fn deliver_fails_on_a_server_error() {
        let url = fixed_status(StatusCode::INTERNAL_SERVER_ERROR).await;
        let wire = WecomCallbackWire::new();
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &sample_event())
                .await,
            Err("HTTP 500".to_owned())
        );
        assert_eq!(
            wire.verify(&corp(), &config(&url)).await,
            Err("HTTP 500".to_owned())
        );
    }

    #[tokio::test]
    async fn deliver_accepts_any_2xx() {
        let url = fixed_status(StatusCode::NO_CONTENT).await;
        let wire = WecomCallbackWire::new();
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &sample_event())
                .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (target, rx) = spawn_receiver(Echo::Plaintext).await;
        let router = Router::new().route(
            "/cb",
            get({
                let target = target.clone();
                move || {
                    let target = target.clone();
                    async move { Redirect::temporary(&target) }
                }
            })
            .post(move || {
                let target = target.clone();
                async move { Redirect::temporary(&target) }
            }),
        );
        let url = format!("{}/cb", serve(router).await);
        let wire = WecomCallbackWire::new();
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &sample_event())
                .await,
            Err("HTTP 307".to_owned())
        );
        assert_eq!(
            wire.verify(&corp(), &config(&url)).await,
            Err("HTTP 307".to_owned())
        );
        assert!(rx.queries.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn deliver_fails_against_a_closed_port() {
        let url = closed_port_url().await;
        let wire = WecomCallbackWire::new();
        let err = wire
            .deliver(&corp(), Some(agent()), &config(&url), &sample_event())
            .await
            .unwrap_err();
        assert!(err.starts_with("connection refused: "), "{err}");
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_times_out() {
        let router = Router::new().route(
            "/cb",
            get(std::future::pending::<()>).post(std::future::pending::<()>),
        );
        let url = format!("{}/cb", serve(router).await);
        // Short timeouts so that the test does not wait five seconds.
        let wire = WecomCallbackWire::with_timeouts(Duration::from_millis(200), CONNECT_TIMEOUT);
        assert_eq!(
            wire.deliver(&corp(), Some(agent()), &config(&url), &sample_event())
                .await,
            Err("timeout".to_owned())
        );
        assert_eq!(
            wire.verify(&corp(), &config(&url)).await,
            Err("timeout".to_owned())
        );
    }

    #[test]
    fn unusable_urls_are_refused_without_a_request() {
        let crypto = CallbackCrypto::new(TOKEN, KEY, CORP).unwrap();
        let sealed = crypto.seal("x", "1", "2");
        assert!(signed_url("not a url", &sealed, None).is_err());
        assert!(signed_url("ftp://example.com/cb", &sealed, None).is_err());
    }

    #[test]
    fn signed_url_percent_encodes_and_appends() {
        let sealed = SealedMessage {
            encrypt: "a+b/c==".into(),
            msg_signature: "sig".into(),
            timestamp: "1700000000".into(),
            nonce: "1234567890".into(),
        };
        let url = signed_url("https://example.com/cb", &sealed, Some(&sealed.encrypt)).unwrap();
        assert_eq!(
            url.as_str(),
            "https://example.com/cb?msg_signature=sig&timestamp=1700000000\
             &nonce=1234567890&echostr=a%2Bb%2Fc%3D%3D"
        );
        let url = signed_url("http://example.com/cb?k=v", &sealed, None).unwrap();
        assert_eq!(
            url.as_str(),
            "http://example.com/cb?k=v&msg_signature=sig&timestamp=1700000000&nonce=1234567890"
        );
    }

    #[test]
    fn echo_comparison_is_exact() {
        assert!(echo_matches(b"123", "123"));
        assert!(echo_matches(b"123\n", "123"));
        assert!(!echo_matches(b"123\n\n", "123"));
        assert!(!echo_matches(b" 123", "123"));
        assert!(!echo_matches(b"123 ", "123"));
        assert!(!echo_matches(b"123\r\n", "123"));
        assert!(!echo_matches(b"\"123\"", "123"));
        assert!(!echo_matches(b"", "123"));
    }

    #[test]
    fn nonces_and_echoes_are_digits() {
        for _ in 0..100 {
            let nonce = random_nonce();
            assert_eq!(nonce.len(), 10);
            assert!(nonce.bytes().all(|b| b.is_ascii_digit()));
            let echo = random_echo();
            assert_eq!(echo.len(), 19);
            assert!(echo.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    // ---- rendering ----

    fn dept(id: i64, name: &str, parent: Option<i64>, order: u32) -> Department {
        Department {
            id: did(id),
            name: name.into(),
            name_en: String::new(),
            parent: parent.map(did),
            order,
        }
    }

    fn member(userid: &str) -> Member {
        Member {
            userid: uid(userid),
            name: "张三".into(),
            alias: "san".into(),
            mobile: "13800000000".into(),
            position: "工程师".into(),
            gender: Gender::Male,
            email: "zs@example.com".into(),
            biz_mail: String::new(),
            telephone: String::new(),
            address: "广州".into(),
            english_name: "San".into(),
            avatar_mediaid: "media1".into(),
            departments: vec![
                Membership {
                    dept: did(2),
                    order: 10,
                    is_leader: true,
                },
                Membership {
                    dept: did(3),
                    order: 0,
                    is_leader: false,
                },
            ],
            main_department: did(2),
            direct_leader: vec![uid("lisi")],
            status: MemberStatus::Active,
            extattr: vec![
                ExtAttr {
                    name: "爱好".into(),
                    value: DomainExtAttrValue::Text {
                        value: "旅游".into(),
                    },
                },
                ExtAttr {
                    name: "主页".into(),
                    value: DomainExtAttrValue::Web {
                        url: "https://example.com".into(),
                        title: "home".into(),
                    },
                },
                ExtAttr {
                    name: "小程序".into(),
                    value: DomainExtAttrValue::MiniProgram {
                        appid: "wx1".into(),
                        pagepath: "/p".into(),
                        title: "mp".into(),
                    },
                },
            ],
            external_position: String::new(),
            external_profile: String::new(),
        }
    }

    fn update_user(before: Member, after: Member) -> UserChange {
        let change = DirChange::UpdateMember {
            before: Box::new(before),
            after: Box::new(after),
        };
        match contact_change(&change) {
            Some(ContactChange::UpdateUser(user)) => *user,
            other => panic!("expected update_user, got {other:?}"),
        }
    }

    #[test]
    fn update_user_carries_only_changed_fields() {
        let before = member("zhangsan");
        let mut after = before.clone();
        after.mobile = "13900000000".into();
        after.status = MemberStatus::Disabled;
        after.english_name = "Sam".into();
        assert_eq!(
            update_user(before, after),
            UserChange {
                mobile: Some("13900000000".into()),
                status: Some(2),
                ..UserChange::new("zhangsan")
            }
        );
    }

    #[test]
    fn update_user_on_rename_has_new_userid() {
        let before = member("zhangsan");
        let mut after = before.clone();
        after.userid = uid("zhangsan2");
        after.position = String::new();
        assert_eq!(
            update_user(before, after),
            UserChange {
                new_userid: Some("zhangsan2".into()),
                position: Some(String::new()),
                ..UserChange::new("zhangsan")
            }
        );
    }

    #[test]
    fn update_user_sends_departments_with_leader_flags() {
        let before = member("zhangsan");
        let mut after = before.clone();
        after.departments[1].is_leader = true;
        assert_eq!(
            update_user(before.clone(), after),
            UserChange {
                department: Some(vec![2, 3]),
                is_leader_in_dept: Some(vec![1, 1]),
                ..UserChange::new("zhangsan")
            }
        );

        let mut after = before.clone();
        after.departments.remove(1);
        after.main_department = did(2);
        after.direct_leader.clear();
        after.gender = Gender::Female;
        assert_eq!(
            update_user(before.clone(), after),
            UserChange {
                department: Some(vec![2]),
                is_leader_in_dept: Some(vec![1]),
                direct_leader: Some(vec![]),
                gender: Some(2),
                ..UserChange::new("zhangsan")
            }
        );

        // A new order inside a department is not part of the event.
        let mut after = before.clone();
        after.departments[0].order = 99;
        assert_eq!(update_user(before, after), UserChange::new("zhangsan"));
    }

    #[test]
    fn update_user_extattr_ignores_mini_programs() {
        let before = member("zhangsan");
        let mut after = before.clone();
        after.extattr[2].value = DomainExtAttrValue::MiniProgram {
            appid: "wx2".into(),
            pagepath: "/q".into(),
            title: "mp2".into(),
        };
        assert_eq!(
            update_user(before.clone(), after),
            UserChange::new("zhangsan")
        );

        let mut after = before.clone();
        after.extattr.remove(0);
        let user = update_user(before, after);
        assert_eq!(
            user.extattr,
            Some(vec![ExtAttrItem {
                name: "主页".into(),
                value: WireExtAttrValue::Web {
                    title: "home".into(),
                    url: "https://example.com".into(),
                },
            }])
        );
    }

    #[test]
    fn create_user_has_every_set_field() {
        let change = DirChange::CreateMember(Box::new(member("zhangsan")));
        let Some(ContactChange::CreateUser(user)) = contact_change(&change) else {
            panic!("expected create_user");
        };
        assert_eq!(
            *user,
            UserChange {
                userid: "zhangsan".into(),
                new_userid: None,
                name: Some("张三".into()),
                department: Some(vec![2, 3]),
                main_department: Some(2),
                is_leader_in_dept: Some(vec![1, 0]),
                direct_leader: Some(vec!["lisi".into()]),
                position: Some("工程师".into()),
                mobile: Some("13800000000".into()),
                gender: Some(1),
                email: Some("zs@example.com".into()),
                biz_mail: None,
                status: Some(1),
                avatar: None,
                alias: Some("san".into()),
                telephone: None,
                address: Some("广州".into()),
                extattr: Some(vec![
                    ExtAttrItem {
                        name: "爱好".into(),
                        value: WireExtAttrValue::Text {
                            value: "旅游".into(),
                        },
                    },
                    ExtAttrItem {
                        name: "主页".into(),
                        value: WireExtAttrValue::Web {
                            title: "home".into(),
                            url: "https://example.com".into(),
                        },
                    },
                ]),
            }
        );
    }

    #[test]
    fn update_party_carries_only_changed_fields() {
        let before = dept(5, "研发", Some(1), 10);
        let cases = [
            (dept(5, "研发中心", Some(1), 10), Some("研发中心"), None),
            (dept(5, "研发", Some(2), 10), None, Some(2)),
            (dept(5, "研发部", Some(2), 3), Some("研发部"), Some(2)),
            (dept(5, "研发", Some(1), 99), None, None),
            (
                Department {
                    name_en: "R&D".into(),
                    ..before.clone()
                },
                None,
                None,
            ),
        ];
        for (after, name, parent_id) in cases {
            let change = DirChange::UpdateDept {
                before: before.clone(),
                after,
            };
            assert_eq!(
                contact_change(&change),
                Some(ContactChange::UpdateParty {
                    id: 5,
                    name: name.map(str::to_owned),
                    parent_id,
                })
            );
        }
    }

    #[test]
    fn departments_create_and_delete() {
        assert_eq!(
            contact_change(&DirChange::CreateDept(dept(5, "研发", Some(2), 7))),
            Some(ContactChange::CreateParty {
                id: 5,
                name: "研发".into(),
                parent_id: 2,
                order: 7,
            })
        );
        assert_eq!(
            contact_change(&DirChange::DeleteDept(dept(5, "研发", Some(2), 7))),
            Some(ContactChange::DeleteParty { id: 5 })
        );
    }

    #[test]
    fn tags_only_report_their_targets() {
        let tag = Tag {
            id: TagId(3),
            name: "t".into(),
            owner: None,
            users: vec![],
            parties: vec![],
        };
        for change in [
            DirChange::CreateTag(tag.clone()),
            DirChange::RenameTag {
                id: TagId(3),
                name: "u".into(),
            },
            DirChange::DeleteTag(tag),
        ] {
            assert_eq!(contact_change(&change), None, "{change:?}");
            let wire = WecomCallbackWire::new();
            assert!(wire.contact_events(&corp(), 1, &change).is_empty());
        }
        let targets = DirChange::TagTargets {
            id: TagId(3),
            add_users: vec![uid("a"), uid("b")],
            del_users: vec![],
            add_parties: vec![],
            del_parties: vec![did(4)],
        };
        assert_eq!(
            contact_change(&targets),
            Some(ContactChange::UpdateTag {
                tag_id: 3,
                add_users: vec!["a".into(), "b".into()],
                del_users: vec![],
                add_parties: vec![],
                del_parties: vec![4],
            })
        );
        let nothing = DirChange::TagTargets {
            id: TagId(3),
            add_users: vec![],
            del_users: vec![],
            add_parties: vec![],
            del_parties: vec![],
        };
        assert_eq!(contact_change(&nothing), None);
    }

    #[test]
    fn events_are_named_and_rendered() {
        let wire = WecomCallbackWire::new();
        let change = DirChange::CreateMember(Box::new(member("zhangsan")));
        let events = wire.contact_events(&corp(), 1_700_000_000, &change);
        assert_eq!(events.len(), 1);
        let (name, xml) = &events[0];
        assert_eq!(name, "change_contact/create_user");
        for part in [
            "<ToUserName><![CDATA[ww0123456789abcdef]]></ToUserName>",
            "<FromUserName><![CDATA[sys]]></FromUserName>",
            "<CreateTime>1700000000</CreateTime>",
            "<Event><![CDATA[change_contact]]></Event>",
            "<ChangeType><![CDATA[create_user]]></ChangeType>",
            "<Department><![CDATA[2,3]]></Department>",
            "<IsLeaderInDept><![CDATA[1,0]]></IsLeaderInDept>",
        ] {
            assert!(xml.contains(part), "missing {part} in {xml}");
        }
        assert!(!xml.contains("小程序"));
        assert!(!xml.contains("<Avatar>"));

        let (name, xml) = wire
            .batch_job_event(&corp(), 5, "job1", JobType::ReplaceUser, 0, "ok")
            .unwrap();
        assert!(
            wire.batch_job_event(&corp(), 5, "job2", JobType::ExportUser, 0, "ok")
                .is_none()
        );
        assert_eq!(name, "batch_job_result");
        assert!(xml.contains("<JobId><![CDATA[job1]]></JobId>"), "{xml}");
        assert!(
            xml.contains("<JobType><![CDATA[replace_user]]></JobType>"),
            "{xml}"
        );
        assert!(xml.contains("<ErrCode>0</ErrCode>"), "{xml}");
    }

    #[test]
    fn bad_settings_are_reported_not_panicked() {
        let config = CallbackConfig {
            url: "http://127.0.0.1:1/cb".into(),
            token: "bad token".into(),
            aes_key: KEY.into(),
        };
        let err = crypto_for(&corp(), &config).unwrap_err();
        assert!(err.starts_with("invalid callback settings"), "{err}");
    }
}

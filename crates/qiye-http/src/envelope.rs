//! The `/cgi-bin` envelope, applied to every response in one place: error
//! replies become WeCom JSON (HTTP 200, `errcode`, `errmsg` with the request
//! id and client IP as WeCom's "hint"), and every request is counted in the
//! metrics by route template and errcode.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use qiye_wecom::wire::Envelope;
use serde::Serialize;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// The errcode a response carried, for metrics and tests.
#[derive(Debug, Clone, Copy)]
pub struct ErrCodeTag(pub i64);

/// The route template that matched, carried out of the router.
#[derive(Debug, Clone)]
struct RouteTemplate(String);

/// A success reply: the payload in WeCom's flat envelope.
#[derive(Debug)]
pub struct Reply<T: Serialize>(pub Envelope<T>);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let code = self.0.errcode;
        let mut response = Json(self.0).into_response();
        response.extensions_mut().insert(ErrCodeTag(code));
        response
    }
}

/// A success reply already rendered to JSON bytes (a cached listing),
/// gzip-compressed when the client said it accepts gzip.
#[derive(Debug)]
pub struct RenderedReply {
    /// The bytes.
    pub body: bytes::Bytes,
    /// Whether `body` is gzip-compressed.
    pub gzip: bool,
}

impl IntoResponse for RenderedReply {
    fn into_response(self) -> Response {
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        if self.gzip {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response.extensions_mut().insert(ErrCodeTag(0));
        response
    }
}

/// Whether a request's `Accept-Encoding` admits gzip (with a non-zero
/// quality).
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Renders a success envelope to bytes (for [`RenderedReply`]), gzipped
/// when asked (the fast level: a listing is compressed once per directory
/// version and then served many times).
pub fn render_ok<T: Serialize>(body: T, gzip: bool) -> Vec<u8> {
    // Plain data with string keys: serializing cannot fail.
    let json = serde_json::to_vec(&Envelope::ok(body)).unwrap_or_default();
    if !gzip {
        return json;
    }
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(&json);
    encoder.finish().unwrap_or_default()
}

/// Copies the matched route template into the response (inside the router,
/// where it is known).
pub async fn tag_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if let Some(path) = matched {
        response
            .extensions_mut()
            .insert(RouteTemplate(path.as_str().to_owned()));
    }
    response
}

/// Renders error replies and records metrics (outside the router).
pub async fn envelope(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // A fixed label set: clients choose method names, and must not grow the metrics.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    };
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let client_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "-".to_owned(), |ConnectInfo(a)| a.ip().to_string());

    let mut response = next.run(req).await;

    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        let errmsg = format!(
            "{}, hint: [{request_id}], from ip: {client_ip}",
            error.message()
        );
        let code = error.code.code();
        let body = serde_json::json!({ "errcode": code, "errmsg": errmsg });
        let route = response.extensions_mut().remove::<RouteTemplate>();
        response = (StatusCode::OK, Json(body)).into_response();
        response.extensions_mut().insert(ErrCodeTag(code));
        if let Some(route) = route {
            response.extensions_mut().insert(route);
        }
    }
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |r| r.0.as_str());
    let errcode = response.extensions().get::<ErrCodeTag>().map(|t| t.0);
    metrics.observe(method, route, errcode, started.elapsed().as_secs_f64());
    if errcode.is_some() {
        // WeCom replies are never cached.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_used_only_when_accepted() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("deflate, br"));
        assert!(!with("gzip;q=0"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn gzipped_renderings_decompress_to_the_plain_one() {
        use std::io::Read as _;
        let body = serde_json::json!({"userlist": [{"userid": "张三"}]});
        let plain = render_ok(&body, false);
        let packed = render_ok(&body, true);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain);
        assert!(plain.starts_with(b"{\"errcode\":0,\"errmsg\":\"ok\""));
    }
}

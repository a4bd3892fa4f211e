//! The browser app (`web/dist`, built from `web/` and committed), embedded
//! in the binary and served at `/`.
//!
//! - A file that exists is served with its content type; Vite's hashed
//!   bundles under `assets/` are `immutable` for a year, everything else
//!   (`index.html` above all) is `no-cache` with an `ETag`, so a new build is
//!   picked up on the next load.
//! - A `GET` for any other path that accepts `text/html` gets `index.html`
//!   (history-mode routes such as `/chat/abc` or `/admin/members`); the
//!   server's own prefixes (`/api`, `/cgi-bin`, `/healthz`, `/readyz`,
//!   `/metrics`) never do.
//! - Where the build left a gzip twin (`x.js.gz`) and the client accepts
//!   gzip, the twin is sent with `Content-Encoding: gzip`.
//!
//! In debug builds `rust-embed` reads the files from `web/dist` on disk, so
//! `npm run build` is picked up without recompiling; release builds carry
//! them inside the binary.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};

/// The built app.
#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

/// Paths the app never answers for: they belong to the server.
const SERVER_PREFIXES: [&str; 5] = ["/api", "/cgi-bin", "/healthz", "/readyz", "/metrics"];

/// The page's security policy: only this origin's scripts, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/// Whether the app answers this request (a `GET` or `HEAD` outside the
/// server's own prefixes).
pub fn claims(req: &Request) -> bool {
    let path = req.uri().path();
    (req.method() == Method::GET || req.method() == Method::HEAD)
        && !SERVER_PREFIXES
            .iter()
            .any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
}

/// Serves a file of the app, or `index.html` for a page route; `None` when
/// neither applies (the caller answers 404).
pub fn serve(req: &Request) -> Option<Response> {
    let path = req.uri().path().trim_start_matches('/');
    let headers = req.headers();
    if !path.is_empty() && !path.ends_with(".gz") {
        if let Some(file) = Dist::get(path) {
            return Some(file_response(path, file, headers));
        }
    }
    let is_asset = path.starts_with("assets/");
    if is_asset || !accepts_html(headers) {
        return None;
    }
    Dist::get("index.html").map(|file| file_response("index.html", file, headers))
}

/// `GET /`: the app's page (a short note when the binary was built without it).
pub async fn index(req: Request) -> Response {
    match Dist::get("index.html") {
        Some(file) => file_response("index.html", file, req.headers()),
        None => crate::ops::landing().await.into_response(),
    }
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|coding| coding.split(';').next().is_some_and(|c| c.trim() == "gzip"))
        })
}

fn file_response(path: &str, file: EmbeddedFile, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let immutable = path.starts_with("assets/");
    if !immutable
        && request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag))
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let content_type = file.metadata.mimetype().to_owned();
    let gzipped = accepts_gzip(request)
        .then(|| Dist::get(&format!("{path}.gz")))
        .flatten();
    let mut response = match gzipped {
        Some(twin) => {
            let mut response = Response::new(Body::from(twin.data.into_owned()));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response
        }
        None => Response::new(Body::from(file.data.into_owned())),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if immutable {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
    }
    if content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, accept: &str) -> Request {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .expect("request")
    }

    #[test]
    fn server_prefixes_are_not_claimed() {
        for path in [
            "/api/v1/me",
            "/api",
            "/cgi-bin/gettoken",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(!claims(&request(Method::GET, path, "text/html")), "{path}");
        }
        for path in [
            "/",
            "/chat/abc",
            "/admin/members",
            "/apiary",
            "/assets/x.js",
        ] {
            assert!(claims(&request(Method::GET, path, "text/html")), "{path}");
        }
        assert!(!claims(&request(Method::POST, "/chat", "text/html")));
    }

    #[test]
    fn page_routes_fall_back_to_index_only_for_html() {
        let page = serve(&request(Method::GET, "/admin/members", "text/html,*/*"))
            .expect("index.html for a page route");
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(
            page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(serve(&request(Method::GET, "/admin/members", "application/json")).is_none());
        assert!(serve(&request(Method::GET, "/assets/missing-abc.js", "text/html")).is_none());
    }

    #[test]
    fn hashed_assets_are_immutable_and_typed() {
        let asset = Dist::iter()
            .find(|p| p.starts_with("assets/") && p.ends_with(".js"))
            .expect("the build has a script bundle");
        let response = serve(&request(Method::GET, &format!("/{asset}"), "*/*")).expect("asset");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript");
    }

    #[test]
    fn gzip_twin_is_sent_when_accepted() {
        let Some(twin) = Dist::iter().find(|p| p.ends_with(".js.gz")) else {
            panic!("the build leaves gzip twins of its scripts");
        };
        let original = twin.trim_end_matches(".gz").to_owned();
        let mut req = request(Method::GET, &format!("/{original}"), "*/*");
        req.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.9"),
        );
        let response = serve(&req).expect("asset");
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = serve(&request(Method::GET, &format!("/{original}"), "*/*")).expect("asset");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn unchanged_index_answers_304() {
        let first = serve(&request(Method::GET, "/", "text/html")).expect("index");
        let etag = first.headers()[header::ETAG].clone();
        let mut again = request(Method::GET, "/", "text/html");
        again.headers_mut().insert(header::IF_NONE_MATCH, etag);
        let second = serve(&again).expect("index");
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
    }
}

//! Prometheus metrics, served on their own listener: request counts by
//! method, route template and errcode, and latency by method and route.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route template (`/cgi-bin/agent/get`), or `unmatched`.
    pub route: String,
    /// WeCom errcode of the reply, or `none` outside `/cgi-bin`.
    pub errcode: String,
}

/// Labels of a latency observation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LatencyLabels {
    /// HTTP method.
    pub method: String,
    /// Route template, or `unmatched`.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~6.5 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("qiye");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests by route template and WeCom errcode",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route template",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            latency,
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, errcode: Option<i64>, seconds: f64) {
        let errcode = errcode.map_or_else(|| "none".to_owned(), |c| c.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                errcode,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%err, "could not encode metrics");
        }
        out
    }
}

async fn serve_metrics(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

/// The router of the metrics listener: `GET /metrics`.
pub fn metrics_router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .with_state(metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_errcode() {
        let metrics = Metrics::default();
        metrics.observe("GET", "/cgi-bin/agent/get", Some(0), 0.001);
        metrics.observe("GET", "/cgi-bin/agent/get", Some(0), 0.002);
        metrics.observe("GET", "/cgi-bin/agent/get", Some(40014), 0.001);
        metrics.observe("GET", "/healthz", None, 0.0001);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"qiye_http_requests_total{method="GET",route="/cgi-bin/agent/get",errcode="0"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"qiye_http_requests_total{method="GET",route="/cgi-bin/agent/get",errcode="40014"} 1"#
        ));
        assert!(text.contains(
            r#"qiye_http_requests_total{method="GET",route="/healthz",errcode="none"} 1"#
        ));
        assert!(text.contains(
            r#"qiye_http_request_duration_seconds_count{method="GET",route="/cgi-bin/agent/get"} 3"#
        ));
    }
}

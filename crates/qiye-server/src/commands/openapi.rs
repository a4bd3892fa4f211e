//! `qiye openapi`: the OpenAPI document of `/api/v1`, the same one
//! `GET /api/v1/openapi.json` serves (pretty-printed for diffs). `web/`
//! generates its API types from it (`npm run gen:api`).

use anyhow::Context;

/// The document as pretty JSON.
pub fn document() -> anyhow::Result<String> {
    qiye_http::api::openapi_document()
        .to_pretty_json()
        .context("the OpenAPI document does not serialise")
}

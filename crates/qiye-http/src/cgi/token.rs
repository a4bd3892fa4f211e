//! `GET /cgi-bin/gettoken`.

use axum::extract::State;
use qiye_wecom::wire::Envelope;
use qiye_wecom::wire::token::{GetTokenQuery, GetTokenResponse};

use crate::AppState;
use crate::envelope::Reply;
use crate::error::ApiError;
use crate::extract::{Caller, WecomQuery};

/// Issues (or returns again) the access token of a corp's secret.
pub async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    WecomQuery(query): WecomQuery<GetTokenQuery>,
) -> Result<Reply<GetTokenResponse>, ApiError> {
    let issued = state
        .services
        .get_token(
            query.corpid.as_deref(),
            query.corpsecret.as_deref(),
            caller.ip,
        )
        .await?;
    let now = state.services.clock().now_secs();
    Ok(Reply(Envelope::ok(GetTokenResponse {
        access_token: issued.token.as_str().to_owned(),
        expires_in: issued.expires_in(now),
    })))
}

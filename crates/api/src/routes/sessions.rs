//! Log-out: `POST /auth/logout` ends the session (refresh-token family) a refresh token belongs
//! to, `POST /auth/logout-all` every session of the caller. Access tokens already issued stay
//! valid until their expiry (`ACCESS_TOKEN_TTL_SECONDS`, 15 minutes by default): they are not
//! tied to a session.

use crate::auth::{AuthUser, token_hash};
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use upcheck_store::sessions::{self, Revoked};
use utoipa::ToSchema;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(logout).service(logout_all);
}

/// The session to end, named by a refresh token of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogoutRequest {
    /// Any refresh token of the session (the latest, or an earlier, spent one).
    refresh_token: String,
}

/// How many sessions were ended.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoggedOut {
    /// Sessions (refresh-token families) revoked by this request.
    revoked_sessions: u64,
}

/// Ends the session a refresh token belongs to: none of its refresh tokens works any more.
/// Needs no access token (the refresh token is the proof); ending an ended session again is
/// 204 too.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204, description = "the session is ended"), (status = 401, description = "unknown refresh token")))]
#[post("/auth/logout")]
pub(crate) async fn logout(
    state: web::Data<AppState>,
    body: ValidJson<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.0.refresh_token;
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::invalid("refresh_token", "must be a refresh token from a login or refresh"));
    }
    let (user, family) = sessions::logout(&state.pool, &token_hash(&token))
        .await?
        .ok_or(ApiError::Unauthorized("unknown refresh token"))?;
    tracing::info!(%user, %family, "logged out");
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller (on every device). With an API key it needs the `write`
/// scope; API keys themselves stay valid (delete them at `/api-keys/{id}`).
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = LoggedOut), (status = 401, description = "no valid credential")))]
#[post("/auth/logout-all")]
pub(crate) async fn logout_all(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let revoked_sessions = sessions::revoke_all(&state.pool, caller.id, Revoked::LogoutAll).await?;
    tracing::info!(user = %caller.id, revoked_sessions, "logged out everywhere");
    Ok(HttpResponse::Ok().json(LoggedOut { revoked_sessions }))
}

//! Sign-up, log-in, refresh-token rotation and `/me`.

use crate::auth::{
    AuthUser, hash_password, new_refresh_token, start_session, token_hash, token_pair, verify_password,
};
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::routes::rfc3339;
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(signup).service(login).service(refresh).service(me);
}

/// E-mail and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credentials {
    /// E-mail address (case-insensitive, unique).
    email: String,
    /// At least 8 characters.
    password: String,
}

/// A refresh token to spend.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// From a previous login or refresh; each is valid once.
    refresh_token: String,
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    id: Uuid,
    email: String,
    /// `admin` or `member`.
    role: String,
    /// RFC 3339.
    created_at: String,
}

impl From<upcheck_store::users::User> for UserView {
    fn from(u: upcheck_store::users::User) -> Self {
        Self { id: u.id, email: u.email, role: u.role.as_str().into(), created_at: rfc3339(u.created_at) }
    }
}

/// An access/refresh pair.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenPair {
    /// HS256 JWT for `Authorization: Bearer`.
    access_token: String,
    /// Spend once at `/auth/refresh` for a new pair.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: String,
    /// Access token lifetime, seconds.
    expires_in: i64,
}

/// Creates an account. The user whose e-mail is `ADMIN_EMAIL`, or else the first to sign up, is `admin`.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = Credentials,
    responses((status = 201, body = UserView), (status = 409, description = "e-mail taken"), (status = 422, description = "invalid field")))]
#[post("/auth/signup")]
pub(crate) async fn signup(
    state: web::Data<AppState>,
    body: ValidJson<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials { email, password } = body.0;
    let email = email.trim().to_string();
    if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::invalid("email", "must be an e-mail address"));
    }
    if password.chars().count() < 8 || password.len() > 1024 {
        return Err(ApiError::invalid("password", "must be 8 to 1024 characters"));
    }
    let hash = hash_password(password).await?;
    let user =
        upcheck_store::users::create(&state.pool, &email, &hash, state.settings.admin_email.as_deref())
            .await
            .map_err(|e| {
                if e.is_unique_violation() {
                    ApiError::Conflict("e-mail already registered")
                } else {
                    e.into()
                }
            })?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// Exchanges credentials for tokens.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Credentials,
    responses((status = 200, body = TokenPair), (status = 401, description = "wrong credentials")))]
#[post("/auth/login")]
pub(crate) async fn login(
    state: web::Data<AppState>,
    body: ValidJson<Credentials>,
) -> Result<HttpResponse, ApiError> {
    let Credentials { email, password } = body.0;
    let found = upcheck_store::users::find_by_email(&state.pool, email.trim()).await?;
    let (user, hash) = match found {
        Some((u, h)) => (Some(u), Some(h)),
        None => (None, None),
    };
    if !verify_password(password, hash).await {
        return Err(ApiError::Unauthorized("wrong e-mail or password"));
    }
    let user = user.ok_or(ApiError::Unauthorized("wrong e-mail or password"))?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Unauthorized("account disabled"));
    }
    Ok(HttpResponse::Ok().json(start_session(&state, &user).await?))
}

/// Spends a refresh token for a new pair in the same session (refresh-token family); the old
/// one stops working. The session's expiry was fixed at login: refreshing never extends it.
/// Presenting a spent token again revokes the whole session (every token of it, the newest
/// included), since one of the two presenters is not its owner.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "spent (the session is revoked), expired, revoked or unknown")))]
#[post("/auth/refresh")]
pub(crate) async fn refresh(
    state: web::Data<AppState>,
    body: ValidJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    use upcheck_store::sessions::Rotation;
    let (token, hash) = new_refresh_token();
    match upcheck_store::sessions::rotate(&state.pool, &token_hash(&body.0.refresh_token), &hash).await? {
        Rotation::Rotated { user_id, .. } => {
            let user = upcheck_store::users::find(&state.pool, user_id)
                .await?
                .ok_or(ApiError::Unauthorized("user no longer exists"))?;
            Ok(HttpResponse::Ok().json(token_pair(&state, &user, token)?))
        }
        Rotation::Replayed { user_id, family_id } => {
            tracing::warn!(user = %user_id, family = %family_id, "spent refresh token replayed: session revoked");
            Err(ApiError::Unauthorized("refresh token spent; its session is revoked, log in again"))
        }
        Rotation::Refused => Err(ApiError::Unauthorized("refresh token expired, revoked or unknown")),
    }
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, description = "no valid token")))]
#[get("/me")]
pub(crate) async fn me(state: web::Data<AppState>, caller: AuthUser) -> Result<HttpResponse, ApiError> {
    let user = upcheck_store::users::find(&state.pool, caller.id)
        .await?
        .ok_or(ApiError::Unauthorized("user no longer exists"))?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

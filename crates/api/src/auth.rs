//! Authentication: argon2id password hashes, short-lived HS256 access tokens, random refresh
//! tokens stored as SHA-256 hashes and spent on use (rotation within a login's family, see
//! `upcheck_store::sessions`), and the [`AuthUser`] extractor that takes an access token or an
//! API key (`upk_…`, see [`crate::api_key`]).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

/// The access token's claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// `admin` or `member`.
    pub role: upcheck_domain::Role,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
}

/// The authenticated caller, extracted from `Authorization: Bearer <access token or API key>`.
///
/// Every extraction reads the user's row (one primary-key read, or the key's indexed row joined
/// to its user): a disabled or deleted user is refused at once (401) and `role` is the current
/// one, not the one the token was signed with. An API key is refused when unknown, deleted or
/// expired (401) and when it lacks the scope the request needs (403, see
/// [`crate::api_key::required_scope`]).
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user id.
    pub id: Uuid,
    /// `admin` or `member`, as stored now.
    pub role: upcheck_domain::Role,
    /// The API key the request came with, if it came with one rather than an access token.
    pub api_key: Option<crate::api_key::KeyCredential>,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = bearer(req).map(|(state, token)| {
            let required = crate::api_key::required_scope(req.method(), req.path());
            (state, token, required)
        });
        Box::pin(async move {
            let (state, token, required) = parsed?;
            if token.starts_with(crate::api_key::PREFIX) {
                crate::api_key::authenticate(&state, &token, required).await
            } else {
                authenticate_jwt(&state, &token).await
            }
        })
    }
}

/// The state and the bearer credential of `req`.
fn bearer(req: &HttpRequest) -> Result<(web::Data<AppState>, String), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no state")))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or(ApiError::Unauthorized("missing bearer token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or(ApiError::Unauthorized("expected an Authorization: Bearer token"))?;
    Ok((state, token.trim().to_string()))
}

async fn authenticate_jwt(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0; // jsonwebtoken's default accepts a token for 60 s after `exp`
    let data = jsonwebtoken::decode::<Claims>(token, &state.decoding, &validation)
        .map_err(|_| ApiError::Unauthorized("invalid or expired token"))?;
    let (role, disabled) = upcheck_store::users::standing(&state.pool, data.claims.sub)
        .await?
        .ok_or(ApiError::Unauthorized("user no longer exists"))?;
    if disabled {
        return Err(ApiError::Unauthorized("account disabled"));
    }
    Ok(AuthUser { id: data.claims.sub, role, api_key: None })
}

/// Hashes a password with argon2id (default parameters, random salt), off the async threads.
///
/// # Errors
/// [`ApiError::Internal`] if hashing fails.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes(), &salt())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
}

/// Checks a password against a stored hash, off the async threads. With no hash (an unknown
/// e-mail) it verifies against a dummy hash made once per process, so both cases cost one
/// argon2 verification and take as long.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let stored = match &hash {
            Some(h) => h.as_str(),
            None => DUMMY.get_or_init(|| {
                Argon2::default()
                    .hash_password(b"dummy-password", &salt())
                    .map(|h| h.to_string())
                    .unwrap_or_default()
            }),
        };
        let ok = PasswordHash::new(stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// A new access/refresh pair for `user`, starting a refresh-token family (a login session)
/// that lasts `REFRESH_TOKEN_TTL_SECONDS` from now, however often it is refreshed.
///
/// # Errors
/// [`ApiError`] when signing or storing fails.
pub async fn start_session(
    state: &AppState,
    user: &upcheck_store::users::User,
) -> Result<serde_json::Value, ApiError> {
    let (refresh, hash) = new_refresh_token();
    let expires =
        OffsetDateTime::now_utc() + time::Duration::seconds(state.settings.refresh_token_ttl_seconds as i64);
    upcheck_store::sessions::start(&state.pool, user.id, &hash, expires).await?;
    token_pair(state, user, refresh)
}

/// A fresh refresh token and its SHA-256 hash (as stored): 32 random bytes, base64url.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let raw: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

/// The response body of a login or refresh: a new access token for `user` and `refresh`.
///
/// # Errors
/// [`ApiError::Internal`] when signing fails.
pub fn token_pair(
    state: &AppState,
    user: &upcheck_store::users::User,
    refresh: String,
) -> Result<serde_json::Value, ApiError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let ttl = state.settings.access_token_ttl_seconds as i64;
    let claims = Claims { sub: user.id, role: user.role, exp: now + ttl, iat: now };
    let access = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &state.encoding)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(serde_json::json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
    }))
}

/// A random 16-byte salt.
fn salt() -> SaltString {
    let bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&bytes).expect("16 bytes is a valid salt length")
}

/// SHA-256 of a refresh token or API key, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

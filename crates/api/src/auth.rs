//! Authentication: argon2id password hashes, short-lived HS256 access tokens, and random
//! refresh tokens stored as SHA-256 hashes and spent on use (rotation).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::{Ready, ready};
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

/// The authenticated caller, extracted from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user id.
    pub id: Uuid,
    /// `admin` or `member`.
    pub role: upcheck_domain::Role,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
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
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0; // jsonwebtoken's default accepts a token for 60 s after `exp`
    let data = jsonwebtoken::decode::<Claims>(token, &state.decoding, &validation)
        .map_err(|_| ApiError::Unauthorized("invalid or expired token"))?;
    Ok(AuthUser { id: data.claims.sub, role: data.claims.role })
}

/// Hashes a password with argon2id (default parameters, random salt), off the async threads,
/// within the [`PasswordGate`](crate::password_gate::PasswordGate)'s bound.
///
/// # Errors
/// [`ApiError::Busy`] when no hashing slot frees in time; [`ApiError::Internal`] if hashing fails.
pub async fn hash_password(state: &AppState, password: String) -> Result<String, ApiError> {
    state
        .password_gate
        .run(move || {
            Argon2::default()
                .hash_password(password.as_bytes(), &salt())
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing: {e}")))
        })
        .await?
}

/// Checks a password against a stored hash, off the async threads and within the
/// [`PasswordGate`](crate::password_gate::PasswordGate)'s bound. With no hash (an unknown
/// e-mail) it verifies against a dummy hash made once per process, so both cases cost one
/// argon2 verification and take as long.
///
/// # Errors
/// [`ApiError::Busy`] when no hashing slot frees in time.
pub async fn verify_password(
    state: &AppState,
    password: String,
    hash: Option<String>,
) -> Result<bool, ApiError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    state
        .password_gate
        .run(move || {
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
}

/// A new access/refresh pair for `user`; the refresh token's hash is stored.
///
/// # Errors
/// [`ApiError`] when signing or storing fails.
pub async fn issue_tokens(
    state: &AppState,
    user: &upcheck_store::users::User,
) -> Result<serde_json::Value, ApiError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let ttl = state.settings.access_token_ttl_seconds as i64;
    let claims = Claims { sub: user.id, role: user.role, exp: now + ttl, iat: now };
    let access = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &state.encoding)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let raw: [u8; 32] = rand::random();
    let refresh = URL_SAFE_NO_PAD.encode(raw);
    let expires =
        OffsetDateTime::now_utc() + time::Duration::seconds(state.settings.refresh_token_ttl_seconds as i64);
    upcheck_store::users::store_refresh_token(&state.pool, &token_hash(&refresh), user.id, expires).await?;
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

/// SHA-256 of a refresh token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

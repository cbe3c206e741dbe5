//! API keys: `upk_` followed by 43 base64url characters of 32 random bytes, shown once at
//! creation; stored as a SHA-256 hash (256 random bits need no slow hash) and looked up by it.
//! A key carries scopes: `read` (GET and HEAD), `write` (every method on the owner's own
//! resources, `read` included) and `admin` (the `/api/v1/admin` routes, while the owner is an
//! admin).

use crate::auth::{AuthUser, token_hash};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// What every API key starts with, so it is recognisable (in logs, secret scanners).
pub const PREFIX: &str = "upk_";

/// Characters of a key kept in clear to tell keys apart: `upk_` and six more.
const SHOWN_CHARS: usize = PREFIX.len() + 6;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// GET and HEAD on the owner's resources.
    Read,
    /// Every method on the owner's resources (implies `read`).
    Write,
    /// The `/api/v1/admin` routes, while the owner is an admin.
    Admin,
}

impl Scope {
    /// The name used in requests and responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Parses `read`, `write` or `admin`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Whether a key holding `self` may make a request needing `required`.
    pub fn grants(self, required: Scope) -> bool {
        self == required || (self == Self::Write && required == Self::Read)
    }
}

/// The API key a request authenticated with.
#[derive(Debug, Clone)]
pub struct KeyCredential {
    /// The key's id.
    pub id: Uuid,
    /// Its scopes.
    pub scopes: Vec<Scope>,
}

impl KeyCredential {
    /// Whether the key holds a scope that grants `required`.
    pub fn grants(&self, required: Scope) -> bool {
        self.scopes.iter().any(|s| s.grants(required))
    }
}

/// The scope a request needs when it comes with an API key: `admin` under `/api/v1/admin`,
/// else `read` for GET, HEAD and OPTIONS, else `write`.
pub fn required_scope(method: &Method, path: &str) -> Scope {
    if path == "/api/v1/admin" || path.starts_with("/api/v1/admin/") {
        Scope::Admin
    } else if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// A new key: the secret (shown once), its SHA-256 hash (stored) and its shown prefix.
pub fn generate() -> (String, Vec<u8>, String) {
    let raw: [u8; 32] = rand::random();
    let key = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = token_hash(&key);
    let shown = key[..SHOWN_CHARS].to_string();
    (key, hash, shown)
}

/// Authenticates a request carrying API key `key` that needs `required`.
///
/// # Errors
/// 401 when the key is unknown, deleted or expired, or its owner is disabled; 403 naming the
/// missing scope; 503 when Postgres does not answer.
pub async fn authenticate(state: &AppState, key: &str, required: Scope) -> Result<AuthUser, ApiError> {
    let found = upcheck_store::api_keys::find_by_hash(&state.pool, &token_hash(key))
        .await?
        .ok_or(ApiError::Unauthorized("unknown or deleted API key"))?;
    if found.expired {
        return Err(ApiError::Unauthorized("API key expired"));
    }
    if found.disabled {
        return Err(ApiError::Unauthorized("account disabled"));
    }
    let credential = KeyCredential {
        id: found.key_id,
        scopes: found.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
    };
    if !credential.grants(required) {
        return Err(ApiError::Forbidden(match required {
            Scope::Read => "this API key lacks the read scope",
            Scope::Write => "this API key lacks the write scope",
            Scope::Admin => "this API key lacks the admin scope",
        }));
    }
    if found.stale_use
        && let Err(e) = upcheck_store::api_keys::touch(&state.pool, found.key_id).await
    {
        tracing::warn!(error = %e, api_key = %found.key_id, "recording an API key's use failed");
    }
    Ok(AuthUser { id: found.user_id, role: found.role, api_key: Some(credential) })
}

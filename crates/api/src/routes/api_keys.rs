//! `POST/GET /api-keys`, `GET/DELETE /api-keys/{id}`: the caller's API keys. The secret is in
//! the creation's answer only; lists show its first characters (`prefix`).

use crate::api_key::{self, Scope};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::json::ValidJson;
use crate::pagination::{PageQuery, next_cursor, uuid_cursor};
use crate::routes::{rfc3339, validate_name};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use upcheck_store::api_keys::{ApiKey, NewApiKey};
use utoipa::ToSchema;
use uuid::Uuid;

pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(create).service(list).service(get_one).service(remove);
}

/// Most keys one user may hold.
const MAX_KEYS_PER_USER: i64 = 100;

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateApiKey {
    /// What it is for (1 to 200 characters).
    name: String,
    /// One or more of `read` (GET and HEAD), `write` (every method on your resources, `read`
    /// included) and `admin` (the `/admin` routes; admins only).
    scopes: Vec<String>,
    /// RFC 3339; in the future. Absent or null: the key never expires.
    #[serde(default)]
    expires_at: Option<String>,
}

/// An API key (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    id: Uuid,
    name: String,
    /// The key's first characters (`upk_AbC1x2`), to tell keys apart.
    prefix: String,
    /// `read`, `write`, `admin`.
    scopes: Vec<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339; null: never.
    expires_at: Option<String>,
    /// RFC 3339, to within a minute; null: never used.
    last_used_at: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
        }
    }
}

/// A created API key, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedApiKey {
    /// The secret, `upk_` and 43 more characters: send it as `Authorization: Bearer upk_…`.
    key: String,
    id: Uuid,
    name: String,
    /// The key's first characters, as lists show them.
    prefix: String,
    /// `read`, `write`, `admin`.
    scopes: Vec<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339; null: never.
    expires_at: Option<String>,
}

/// A page of API keys.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyPage {
    items: Vec<ApiKeyView>,
    next_cursor: Option<String>,
}

/// The scopes asked for, checked: known, not empty, `admin` only for admins, and when the
/// request itself comes with a key, none that key does not hold.
fn scopes(caller: &AuthUser, asked: &[String]) -> Result<Vec<String>, ApiError> {
    if asked.is_empty() {
        return Err(ApiError::invalid("scopes", "must name at least one of read, write, admin"));
    }
    let mut scopes = Vec::new();
    for (i, s) in asked.iter().enumerate() {
        let scope = Scope::parse(s)
            .ok_or_else(|| ApiError::invalid(format!("scopes[{i}]"), "must be read, write or admin"))?;
        if scope == Scope::Admin && caller.role != upcheck_domain::Role::Admin {
            return Err(ApiError::invalid(format!("scopes[{i}]"), "admin is for admin users only"));
        }
        if let Some(key) = &caller.api_key
            && !key.grants(scope)
        {
            return Err(ApiError::invalid(
                format!("scopes[{i}]"),
                "an API key cannot make a key with a scope it does not hold",
            ));
        }
        scopes.push(scope);
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes.into_iter().map(|s| s.as_str().to_string()).collect())
}

fn expiry(v: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let at = OffsetDateTime::parse(v.trim(), &Rfc3339)
        .map_err(|_| ApiError::invalid("expires_at", "must be an RFC 3339 time"))?;
    if at <= OffsetDateTime::now_utc() {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    Ok(Some(at))
}

/// Creates an API key; the answer holds its secret, shown this once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateApiKey, security(("bearer" = [])),
    responses((status = 201, body = CreatedApiKey), (status = 409, description = "100 keys already"), (status = 422, description = "invalid field")))]
#[post("/api-keys")]
pub(crate) async fn create(
    state: web::Data<AppState>,
    caller: AuthUser,
    body: ValidJson<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let name = validate_name(&body.name)?;
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid("name", "must not contain control characters"));
    }
    let scopes = scopes(&caller, &body.scopes)?;
    let expires_at = expiry(body.expires_at.as_deref())?;
    let (secret, hash, prefix) = api_key::generate();
    let new = NewApiKey {
        user_id: caller.id,
        name: &name,
        key_hash: &hash,
        prefix: &prefix,
        scopes: &scopes,
        expires_at,
    };
    let k = upcheck_store::api_keys::create(&state.pool, &new, MAX_KEYS_PER_USER)
        .await?
        .ok_or(ApiError::Conflict("at most 100 API keys per user; delete one first"))?;
    tracing::info!(user = %caller.id, api_key = %k.id, scopes = ?k.scopes, "API key created");
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key: secret,
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        scopes: k.scopes,
        created_at: rfc3339(k.created_at),
        expires_at: k.expires_at.map(rfc3339),
    }))
}

/// The caller's API keys, oldest first.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(PageQuery), security(("bearer" = [])),
    responses((status = 200, body = ApiKeyPage)))]
#[get("/api-keys")]
pub(crate) async fn list(
    state: web::Data<AppState>,
    caller: AuthUser,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after = uuid_cursor(page.cursor()?)?;
    let mut items = upcheck_store::api_keys::list(&state.read_pool, caller.id, after, limit + 1).await?;
    let next_cursor = next_cursor(&mut items, limit, |k| k.id.to_string());
    Ok(HttpResponse::Ok()
        .json(ApiKeyPage { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// One API key.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = ApiKeyView), (status = 404, description = "no such API key")))]
#[get("/api-keys/{id}")]
pub(crate) async fn get_one(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let k = upcheck_store::api_keys::get(&state.pool, caller.id, *id)
        .await?
        .ok_or(ApiError::NotFound("API key"))?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(k)))
}

/// Deletes an API key: requests with it are refused (401) from now on.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such API key")))]
#[delete("/api-keys/{id}")]
pub(crate) async fn remove(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    if !upcheck_store::api_keys::delete(&state.pool, caller.id, *id).await? {
        return Err(ApiError::NotFound("API key"));
    }
    tracing::info!(user = %caller.id, api_key = %id, "API key deleted");
    Ok(HttpResponse::NoContent().finish())
}

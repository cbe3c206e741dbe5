//! API keys: named, scoped, optionally expiring credentials for scripts. Only the SHA-256 of
//! a key is stored (the key is 256 random bits, so a fast hash is enough) with its first
//! characters for display; a request's key is looked up by its hash.

use crate::error::stored;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::Role;
use uuid::Uuid;

/// An API key as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: Uuid,
    /// The owner's name for it.
    pub name: String,
    /// Its first characters (`upk_AbC1x2`), to tell keys apart.
    pub prefix: String,
    /// `read`, `write`, `admin`.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// After this it is refused; `None`: never.
    pub expires_at: Option<OffsetDateTime>,
    /// Last time a request used it, to within a minute; `None`: never used.
    pub last_used_at: Option<OffsetDateTime>,
}

/// A new key's stored parts.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    /// The owner.
    pub user_id: Uuid,
    /// The owner's name for it.
    pub name: &'a str,
    /// SHA-256 of the whole key.
    pub key_hash: &'a [u8],
    /// Its first characters, shown in lists.
    pub prefix: &'a str,
    /// `read`, `write`, `admin` (checked by the caller and by the table).
    pub scopes: &'a [String],
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
}

/// A presented key with what authenticating a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    /// The key's id.
    pub key_id: Uuid,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Whether `expires_at` has passed.
    pub expired: bool,
    /// Whether `last_used_at` is unset or over a minute old (so the use should be recorded).
    pub stale_use: bool,
    /// The owner.
    pub user_id: Uuid,
    /// The owner's current role.
    pub role: Role,
    /// Whether the owner is disabled.
    pub disabled: bool,
}

const COLUMNS: &str = "id, name, prefix, scopes, created_at, expires_at, last_used_at";

fn api_key(r: &tokio_postgres::Row) -> ApiKey {
    ApiKey {
        id: r.get(0),
        name: r.get(1),
        prefix: r.get(2),
        scopes: r.get(3),
        created_at: r.get(4),
        expires_at: r.get(5),
        last_used_at: r.get(6),
    }
}

/// Stores a key, unless the owner has `max_per_user` keys already (`None` then).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn create(
    pool: &Pool,
    key: &NewApiKey<'_>,
    max_per_user: i64,
) -> Result<Option<ApiKey>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, scopes, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE (SELECT count(*) FROM api_keys WHERE user_id = $2) < $8 \
             RETURNING {COLUMNS}"
        ))
        .await?;
    let row = client
        .query_opt(
            &stmt,
            &[
                &Uuid::now_v7(),
                &key.user_id,
                &key.name,
                &key.key_hash,
                &key.prefix,
                &key.scopes,
                &key.expires_at,
                &max_per_user,
            ],
        )
        .await?;
    Ok(row.as_ref().map(api_key))
}

/// `user_id`'s keys by id (creation order), after `after`: at most `limit`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn list(
    pool: &Pool,
    user_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKey>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&user_id, &after.unwrap_or(Uuid::nil()), &limit])
        .await?
        .iter()
        .map(api_key)
        .collect())
}

/// One of `user_id`'s keys.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn get(pool: &Pool, user_id: Uuid, id: Uuid) -> Result<Option<ApiKey>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 AND id = $2"))
        .await?;
    Ok(client.query_opt(&stmt, &[&user_id, &id]).await?.as_ref().map(api_key))
}

/// Deletes one of `user_id`'s keys; `false` when there was none.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn delete(pool: &Pool, user_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("DELETE FROM api_keys WHERE user_id = $1 AND id = $2").await?;
    Ok(client.execute(&stmt, &[&user_id, &id]).await? == 1)
}

/// The key whose SHA-256 is `key_hash`, with its owner's standing; `None` for an unknown (or
/// deleted) key. One indexed read.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when the owner's role
/// does not decode.
pub async fn find_by_hash(pool: &Pool, key_hash: &[u8]) -> Result<Option<KeyOwner>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT k.id, k.scopes, coalesce(k.expires_at <= now(), false), \
                    coalesce(k.last_used_at < now() - interval '1 minute', true), \
                    u.id, u.role, u.disabled_at IS NOT NULL \
             FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1",
        )
        .await?;
    client
        .query_opt(&stmt, &[&key_hash])
        .await?
        .map(|r| {
            Ok(KeyOwner {
                key_id: r.get(0),
                scopes: r.get(1),
                expired: r.get(2),
                stale_use: r.get(3),
                user_id: r.get(4),
                role: stored(r.get(5), Role::parse, "role")?,
                disabled: r.get(6),
            })
        })
        .transpose()
}

/// Records a use of key `id` now, unless one was recorded within the last minute (so a busy
/// key costs at most one write a minute, whatever the number of API replicas).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn touch(pool: &Pool, id: Uuid) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE api_keys SET last_used_at = now() \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        )
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

//! Notification channels of a user.

use crate::error::stored;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::ChannelKind;
use upcheck_secrets::{Aad, Keyring, Sealed};
use uuid::Uuid;

/// A channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Id.
    pub id: Uuid,
    /// `webhook` (more kinds later).
    pub kind: ChannelKind,
    /// Display name.
    pub name: String,
    /// Kind-specific settings, in clear (opened from `config_sealed`); for a webhook
    /// `{url, secret}`.
    pub config: serde_json::Value,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, kind, name, config, created_at, updated_at, config_sealed";

fn channel(r: &tokio_postgres::Row, keys: &Keyring) -> Result<Channel, StoreError> {
    let id = r.get(0);
    Ok(Channel {
        id,
        kind: stored(r.get(1), ChannelKind::parse, "channel kind")?,
        name: r.get(2),
        config: open_config(keys, id, r.get(3), r.get(6))?,
        created_at: r.get(4),
        updated_at: r.get(5),
    })
}

/// A channel's config in clear: `sealed` opened (bound to channel `id`), or `clear` for a row
/// written before configs were sealed.
///
/// # Errors
/// [`StoreError::Secret`] when `sealed` does not open; [`StoreError::Corrupt`] when it is no
/// envelope.
pub(crate) fn open_config(
    keys: &Keyring,
    id: Uuid,
    clear: serde_json::Value,
    sealed: Option<serde_json::Value>,
) -> Result<serde_json::Value, StoreError> {
    let Some(sealed) = sealed else { return Ok(clear) };
    let what = || format!("channel {id} config");
    let sealed = Sealed::from_json(&sealed).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
    keys.open_json(&sealed, &Aad::channel_config(id))
        .map_err(|cause| StoreError::Secret { what: what(), cause })
}

/// `config` sealed under the current key for channel `id`, as stored in `config_sealed`.
pub(crate) fn seal_config(keys: &Keyring, id: Uuid, config: &serde_json::Value) -> serde_json::Value {
    keys.seal_json(config, &Aad::channel_config(id)).to_json()
}

/// The clear `config` column of a sealed row: nothing.
pub(crate) fn sealed_clear() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

/// Creates a channel for `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn create(
    pool: &Pool,
    keys: &Keyring,
    owner: Uuid,
    kind: ChannelKind,
    name: &str,
    config: &serde_json::Value,
) -> Result<Channel, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO channels (id, owner_id, kind, name, config, config_sealed) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .await?;
    let id = Uuid::now_v7();
    let sealed = seal_config(keys, id, config);
    let row =
        client.query_one(&stmt, &[&id, &owner, &kind.as_str(), &name, &sealed_clear(), &sealed]).await?;
    channel(&row, keys)
}

/// One channel of `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode, [`StoreError::Secret`]
/// when its sealed config does not open under `keys`.
pub async fn get(pool: &Pool, keys: &Keyring, owner: Uuid, id: Uuid) -> Result<Option<Channel>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1 AND owner_id = $2"))
        .await?;
    client.query_opt(&stmt, &[&id, &owner]).await?.map(|r| channel(&r, keys)).transpose()
}

/// Up to `limit` channels of `owner` with ids after `after`, in id order.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode, [`StoreError::Secret`]
/// when its sealed config does not open under `keys`.
pub async fn list(
    pool: &Pool,
    keys: &Keyring,
    owner: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Channel>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM channels WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .await?;
    client
        .query(&stmt, &[&owner, &after.unwrap_or(Uuid::nil()), &limit])
        .await?
        .iter()
        .map(|r| channel(r, keys))
        .collect()
}

/// Replaces a channel's name and config. `None` when `owner` has no such channel.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode, [`StoreError::Secret`]
/// when its sealed config does not open under `keys`.
pub async fn update(
    pool: &Pool,
    keys: &Keyring,
    owner: Uuid,
    id: Uuid,
    name: &str,
    config: &serde_json::Value,
) -> Result<Option<Channel>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE channels SET name = $3, config = $4, config_sealed = $5, updated_at = now() \
             WHERE id = $1 AND owner_id = $2 RETURNING {COLUMNS}"
        ))
        .await?;
    let sealed = seal_config(keys, id, config);
    client
        .query_opt(&stmt, &[&id, &owner, &name, &sealed_clear(), &sealed])
        .await?
        .map(|r| channel(&r, keys))
        .transpose()
}

/// Deletes a channel (its links go with it; its delivery log stays). Whether `owner` had it.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn delete(pool: &Pool, owner: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("DELETE FROM channels WHERE id = $1 AND owner_id = $2").await?;
    Ok(client.execute(&stmt, &[&id, &owner]).await? == 1)
}

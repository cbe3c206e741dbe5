//! Notification channels of a user.

use crate::error::stored;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::ChannelKind;
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
    /// Kind-specific settings; for a webhook `{url, secret}`.
    pub config: serde_json::Value,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, kind, name, config, created_at, updated_at";

fn channel(r: &tokio_postgres::Row) -> Result<Channel, StoreError> {
    Ok(Channel {
        id: r.get(0),
        kind: stored(r.get(1), ChannelKind::parse, "channel kind")?,
        name: r.get(2),
        config: r.get(3),
        created_at: r.get(4),
        updated_at: r.get(5),
    })
}

/// Creates a channel for `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn create(
    pool: &Pool,
    owner: Uuid,
    kind: ChannelKind,
    name: &str,
    config: &serde_json::Value,
) -> Result<Channel, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "INSERT INTO channels (id, owner_id, kind, name, config) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .await?;
    channel(&client.query_one(&stmt, &[&Uuid::now_v7(), &owner, &kind.as_str(), &name, &config]).await?)
}

/// One channel of `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn get(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<Channel>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1 AND owner_id = $2"))
        .await?;
    client.query_opt(&stmt, &[&id, &owner]).await?.as_ref().map(channel).transpose()
}

/// Up to `limit` channels of `owner` with ids after `after`, in id order.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn list(
    pool: &Pool,
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
    client.query(&stmt, &[&owner, &after.unwrap_or(Uuid::nil()), &limit]).await?.iter().map(channel).collect()
}

/// Replaces a channel's name and config. `None` when `owner` has no such channel.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn update(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    name: &str,
    config: &serde_json::Value,
) -> Result<Option<Channel>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "UPDATE channels SET name = $3, config = $4, updated_at = now() \
             WHERE id = $1 AND owner_id = $2 RETURNING {COLUMNS}"
        ))
        .await?;
    client.query_opt(&stmt, &[&id, &owner, &name, &config]).await?.as_ref().map(channel).transpose()
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

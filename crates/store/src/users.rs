//! Users and their refresh tokens.

use crate::error::stored;
use crate::{Pool, StoreError};
use time::OffsetDateTime;
use upcheck_domain::Role;
use uuid::Uuid;

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// E-mail, as given at sign-up.
    pub email: String,
    /// `admin` or `member`.
    pub role: Role,
    /// Sign-up time.
    pub created_at: OffsetDateTime,
}

fn user(r: &tokio_postgres::Row) -> Result<User, StoreError> {
    let role = stored(r.get(2), Role::parse, "role")?;
    Ok(User { id: r.get(0), email: r.get(1), role, created_at: r.get(3) })
}

/// Creates a user. The role is `admin` when `email` equals `admin_email` (case-insensitive), or
/// when there is no `admin_email` and no user yet (the first sign-up); else `member`. Sign-ups
/// are serialised by a transaction-level advisory lock so two first users cannot both be admin.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement fails
/// (a taken e-mail is a unique violation: [`StoreError::is_unique_violation`]).
pub async fn create(
    pool: &Pool,
    email: &str,
    password_hash: &str,
    admin_email: Option<&str>,
) -> Result<User, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7571)", &[]).await?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO users (id, email, password_hash, role) \
             VALUES ($1, $2, $3, CASE \
               WHEN $4::text IS NOT NULL THEN CASE WHEN lower($2) = lower($4::text) THEN 'admin' ELSE 'member' END \
               WHEN NOT EXISTS (SELECT 1 FROM users) THEN 'admin' ELSE 'member' END) \
             RETURNING id, email, role, created_at",
        )
        .await?;
    let row = tx.query_one(&stmt, &[&Uuid::now_v7(), &email, &password_hash, &admin_email]).await?;
    tx.commit().await?;
    user(&row)
}

/// A user and their password hash, by e-mail (case-insensitive).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn find_by_email(pool: &Pool, email: &str) -> Result<Option<(User, String)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT id, email, role, created_at, password_hash FROM users WHERE lower(email) = lower($1)",
        )
        .await?;
    client.query_opt(&stmt, &[&email]).await?.map(|r| Ok((user(&r)?, r.get(4)))).transpose()
}

/// A user by id.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn find(pool: &Pool, id: Uuid) -> Result<Option<User>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT id, email, role, created_at FROM users WHERE id = $1").await?;
    client.query_opt(&stmt, &[&id]).await?.as_ref().map(user).transpose()
}

/// Stores a refresh token's SHA-256 hash.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn store_refresh_token(
    pool: &Pool,
    token_hash: &[u8],
    user_id: Uuid,
    expires_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached("INSERT INTO refresh_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
        .await?;
    client.execute(&stmt, &[&token_hash, &user_id, &expires_at]).await?;
    Ok(())
}

/// Spends a refresh token: marks it used and returns its user, once. A spent, expired or
/// unknown token returns `None`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying).
pub async fn spend_refresh_token(pool: &Pool, token_hash: &[u8]) -> Result<Option<Uuid>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "UPDATE refresh_tokens SET spent_at = now() \
             WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > now() RETURNING user_id",
        )
        .await?;
    Ok(client.query_opt(&stmt, &[&token_hash]).await?.map(|r| r.get(0)))
}

//! Users: sign-up, look-ups, the admin's list, and disabling (which ends every session).

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
    /// When an admin disabled the account (its logins, tokens and API keys are refused), if so.
    pub disabled_at: Option<OffsetDateTime>,
}

/// The columns [`user`] reads, in order.
const COLUMNS: &str = "id, email, role, created_at, disabled_at";

fn user(r: &tokio_postgres::Row) -> Result<User, StoreError> {
    let role = stored(r.get(2), Role::parse, "role")?;
    Ok(User { id: r.get(0), email: r.get(1), role, created_at: r.get(3), disabled_at: r.get(4) })
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
             RETURNING id, email, role, created_at, disabled_at",
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
        .prepare_cached(&format!("SELECT {COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)"))
        .await?;
    client.query_opt(&stmt, &[&email]).await?.map(|r| Ok((user(&r)?, r.get(5)))).transpose()
}

/// A user by id.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails ([`StoreError::is_permanent`] tells which are worth
/// retrying); [`StoreError::Corrupt`] when a stored row does not decode.
pub async fn find(pool: &Pool, id: Uuid) -> Result<Option<User>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = $1")).await?;
    client.query_opt(&stmt, &[&id]).await?.as_ref().map(user).transpose()
}

/// Every user, by id (sign-up order), after `after`: at most `limit`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a stored row does not
/// decode.
pub async fn list(pool: &Pool, after: Option<Uuid>, limit: i64) -> Result<Vec<User>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2"))
        .await?;
    client.query(&stmt, &[&after.unwrap_or(Uuid::nil()), &limit]).await?.iter().map(user).collect()
}

/// Disables (`disabled = true`: sets `disabled_at`, kept if already set, and revokes every
/// refresh-token family of the user, reason `disabled`, in one transaction) or enables a user.
/// `None` when there is no such user.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a stored row does not
/// decode.
pub async fn set_disabled(pool: &Pool, id: Uuid, disabled: bool) -> Result<Option<User>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(&format!(
            "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END \
             WHERE id = $1 RETURNING {COLUMNS}"
        ))
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&id, &disabled]).await? else { return Ok(None) };
    if disabled {
        crate::sessions::revoke_all_in(&tx, id, crate::sessions::Revoked::Disabled).await?;
    }
    tx.commit().await?;
    user(&row).map(Some)
}

/// What authenticating a request needs of its user: the current role, and whether the account
/// is disabled. `None` when the user no longer exists. One primary-key read.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails; [`StoreError::Corrupt`] when a stored row does not
/// decode.
pub async fn standing(pool: &Pool, id: Uuid) -> Result<Option<(Role, bool)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT role, disabled_at IS NOT NULL FROM users WHERE id = $1").await?;
    client
        .query_opt(&stmt, &[&id])
        .await?
        .map(|r| Ok((stored(r.get(0), Role::parse, "role")?, r.get(1))))
        .transpose()
}

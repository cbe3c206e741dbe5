//! Refresh-token families: one per login. Tokens are stored as SHA-256 hashes and spent on use;
//! a refresh rotates within the family, whose expiry is fixed at login. Replaying a spent
//! token, a logout or disabling the user revokes the family, and with it every token of it
//! (the OAuth 2.0 Security BCP's refresh-token rotation with reuse detection, RFC 9700 §4.14.2).

use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why a family was revoked (stored as `refresh_families.revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// A spent refresh token of it was presented again.
    Replay,
    /// `POST /auth/logout` with one of its tokens.
    Logout,
    /// `POST /auth/logout-all` by its user.
    LogoutAll,
    /// An admin disabled its user.
    Disabled,
}

impl Revoked {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Logout => "logout",
            Self::LogoutAll => "logout-all",
            Self::Disabled => "disabled",
        }
    }
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live: it is spent, and the new one stored in the same family.
    Rotated {
        /// The family's user.
        user_id: Uuid,
        /// The family.
        family_id: Uuid,
        /// The family's (and so the new token's) expiry, fixed at login.
        expires_at: OffsetDateTime,
    },
    /// The token was spent already: its family is revoked now (or was before).
    Replayed {
        /// The family's user.
        user_id: Uuid,
        /// The family.
        family_id: Uuid,
    },
    /// Unknown, expired, of a revoked family, or of a disabled user: nothing changed.
    Refused,
}

/// Starts a family for `user_id` lasting until `expires_at` (fixed for its life) with its
/// first refresh token; returns the family id.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn start(
    pool: &Pool,
    user_id: Uuid,
    token_hash: &[u8],
    expires_at: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH family AS (INSERT INTO refresh_families (id, user_id, expires_at) VALUES ($1, $2, $3) RETURNING id) \
             INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) \
             SELECT $4, $2, id, $3 FROM family",
        )
        .await?;
    let family_id = Uuid::now_v7();
    client.execute(&stmt, &[&family_id, &user_id, &expires_at, &token_hash]).await?;
    Ok(family_id)
}

/// Presents the refresh token hashed `old_hash`: when live it is spent and `new_hash` stored in
/// its family, expiring with the family; when spent already the family is revoked (reason
/// `replay`). One transaction, the token and family rows locked, so two concurrent uses of one
/// token rotate once and revoke the family on the second.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn rotate(pool: &Pool, old_hash: &[u8], new_hash: &[u8]) -> Result<Rotation, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let stmt = tx
        .prepare_cached(
            "SELECT t.user_id, t.family_id, t.spent_at IS NOT NULL, \
                    f.revoked_at IS NULL AND f.expires_at > now() AND t.expires_at > now() \
                      AND u.disabled_at IS NULL, \
                    f.expires_at \
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id \
             JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 FOR UPDATE OF t, f",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&old_hash]).await? else { return Ok(Rotation::Refused) };
    let (user_id, family_id, spent, live): (Uuid, Uuid, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if spent {
        revoke_family(&tx, family_id, Revoked::Replay).await?;
        tx.commit().await?;
        return Ok(Rotation::Replayed { user_id, family_id });
    }
    if !live {
        return Ok(Rotation::Refused);
    }
    let expires_at: OffsetDateTime = row.get(4);
    let spend = tx.prepare_cached("UPDATE refresh_tokens SET spent_at = now() WHERE token_hash = $1").await?;
    tx.execute(&spend, &[&old_hash]).await?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    tx.execute(&insert, &[&new_hash, &user_id, &family_id, &expires_at]).await?;
    tx.commit().await?;
    Ok(Rotation::Rotated { user_id, family_id, expires_at })
}

/// Revokes the family of the refresh token hashed `token_hash` (spent or not), reason `logout`;
/// returns its user and id, or `None` for an unknown token. A family revoked already stays as
/// it was.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn logout(pool: &Pool, token_hash: &[u8]) -> Result<Option<(Uuid, Uuid)>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "WITH target AS (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) \
             UPDATE refresh_families f SET revoked_at = coalesce(f.revoked_at, now()), \
                    revoked_reason = coalesce(f.revoked_reason, $2) \
             FROM target WHERE f.id = target.family_id RETURNING f.user_id, f.id",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&token_hash, &Revoked::Logout.as_str()])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Revokes every live family of `user_id` with `reason`; returns how many.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had (Postgres down, pool exhausted),
/// [`StoreError::Db`] when a statement fails.
pub async fn revoke_all(pool: &Pool, user_id: Uuid, reason: Revoked) -> Result<u64, StoreError> {
    let client = pool.get().await?;
    revoke_all_in(&client, user_id, reason).await
}

/// [`revoke_all`] on a given connection or transaction.
pub(crate) async fn revoke_all_in(
    client: &impl GenericClient,
    user_id: Uuid,
    reason: Revoked,
) -> Result<u64, StoreError> {
    let stmt = client
        .prepare_cached(
            "UPDATE refresh_families SET revoked_at = now(), revoked_reason = $2 \
             WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .await?;
    Ok(client.execute(&stmt, &[&user_id, &reason.as_str()]).await?)
}

async fn revoke_family(
    client: &impl GenericClient,
    family_id: Uuid,
    reason: Revoked,
) -> Result<(), StoreError> {
    let stmt = client
        .prepare_cached(
            "UPDATE refresh_families SET revoked_at = now(), revoked_reason = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .await?;
    client.execute(&stmt, &[&family_id, &reason.as_str()]).await?;
    Ok(())
}

//! `upcheck-api rotate-secrets`: seals every channel config and monitor header set under the
//! keyring's current key, in batches: rows in clear (written before secrets were sealed) and
//! rows sealed under an old key. Idempotent: a row already under the current key is not read.

use crate::{Pool, StoreError};
use std::collections::BTreeMap;
use upcheck_secrets::{Aad, Keyring, Sealed};
use uuid::Uuid;

/// What one pass over a table did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Rows sealed under the current key by this pass.
    pub resealed: u64,
    /// Rows changed by someone else between this pass's read and its write (the writer sealed
    /// them under the current key itself).
    pub skipped: u64,
    /// Rows whose sealed value did not open, with why (their key is not in the keyring, or the
    /// value was altered): left as they are.
    pub failed: Vec<String>,
}

/// Seals every channel config not yet under `keys`' current key, `batch` rows at a time.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`] when Postgres fails; a row that does not open is
/// counted in [`Resealed::failed`], not an error.
pub async fn reseal_channels(pool: &Pool, keys: &Keyring, batch: i64) -> Result<Resealed, StoreError> {
    let select = "SELECT id, config, config_sealed FROM channels \
         WHERE id > $1 AND (config_sealed IS NULL OR config_sealed->>'kid' IS DISTINCT FROM $2) \
         ORDER BY id LIMIT $3";
    let update = "UPDATE channels SET config = '{}', config_sealed = $2 \
         WHERE id = $1 AND config = $3 AND config_sealed IS NOT DISTINCT FROM $4";
    reseal_rows(pool, keys, batch, (select, update), |id, clear, sealed| {
        let config = crate::channels::open_config(keys, id, clear.clone(), sealed.cloned())
            .map_err(|e| e.to_string())?;
        Ok(crate::channels::seal_config(keys, id, &config))
    })
    .await
}

/// Seals every monitor's request headers not yet under `keys`' current key (monitors with no
/// header are left alone), `batch` rows at a time. The Redis specs follow at the monitoring
/// workers' next reconcile, which rewrites every active monitor's spec from Postgres.
///
/// # Errors
/// [`StoreError::Pool`] or [`StoreError::Db`] when Postgres fails; a row that does not open is
/// counted in [`Resealed::failed`], not an error.
pub async fn reseal_monitor_headers(pool: &Pool, keys: &Keyring, batch: i64) -> Result<Resealed, StoreError> {
    let select = "SELECT id, headers, headers_sealed FROM monitors \
         WHERE id > $1 AND ((headers_sealed IS NULL AND headers <> '{}') \
                            OR headers_sealed->>'kid' IS DISTINCT FROM $2 AND headers_sealed IS NOT NULL) \
         ORDER BY id LIMIT $3";
    let update = "UPDATE monitors SET headers = '{}', headers_sealed = $2 \
         WHERE id = $1 AND headers = $3 AND headers_sealed IS NOT DISTINCT FROM $4";
    reseal_rows(pool, keys, batch, (select, update), |id, clear, sealed| {
        let headers =
            open_headers(keys, id, clear, sealed).map_err(|why| format!("monitor {id} headers: {why}"))?;
        Ok(keys.seal_json(&headers, &Aad::monitor_headers(id)).to_json())
    })
    .await
}

/// The batch loop both passes share: `select` (`$1` the last id seen, `$2` the current key id,
/// `$3` the batch size) reads `id, clear, sealed` rows in id order; `reseal` turns one into its
/// value sealed under the current key; `update` (`$1` id, `$2` the new sealed value, `$3`/`$4`
/// the clear and sealed values read) writes it only if the row is unchanged since.
async fn reseal_rows(
    pool: &Pool,
    keys: &Keyring,
    batch: i64,
    (select, update): (&str, &str),
    reseal: impl Fn(Uuid, &serde_json::Value, Option<&serde_json::Value>) -> Result<serde_json::Value, String>,
) -> Result<Resealed, StoreError> {
    let client = pool.get().await?;
    let select = client.prepare_cached(select).await?;
    let update = client.prepare_cached(update).await?;
    let mut done = Resealed::default();
    let mut after = Uuid::nil();
    loop {
        let rows = client.query(&select, &[&after, &keys.current_id(), &batch]).await?;
        for r in &rows {
            let (id, clear, sealed): (Uuid, serde_json::Value, Option<serde_json::Value>) =
                (r.get(0), r.get(1), r.get(2));
            after = id;
            match reseal(id, &clear, sealed.as_ref()) {
                Ok(new) => count(&mut done, client.execute(&update, &[&id, &new, &clear, &sealed]).await?),
                Err(why) => done.failed.push(why),
            }
        }
        if rows.len() < usize::try_from(batch).unwrap_or(usize::MAX) {
            return Ok(done);
        }
    }
}

fn open_headers(
    keys: &Keyring,
    id: Uuid,
    clear: &serde_json::Value,
    sealed: Option<&serde_json::Value>,
) -> Result<BTreeMap<String, String>, String> {
    match sealed {
        Some(v) => {
            let sealed = Sealed::from_json(v).map_err(|e| e.to_string())?;
            keys.open_json(&sealed, &Aad::monitor_headers(id)).map_err(|e| e.to_string())
        }
        None => serde_json::from_value(clear.clone()).map_err(|e| format!("not a header map: {e}")),
    }
}

fn count(done: &mut Resealed, updated: u64) {
    if updated == 1 {
        done.resealed += 1;
    } else {
        done.skipped += 1;
    }
}

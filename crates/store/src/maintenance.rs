//! Maintenance windows: CRUD for their owners, and which windows cover a monitor when.

use crate::{Pool, StoreError};
use deadpool_postgres::GenericClient;
use time::{OffsetDateTime, PrimitiveDateTime};
use upcheck_domain::maintenance::{self, Occurrence, Recurrence, WindowSchedule};
use uuid::Uuid;

/// A stored window.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// When it applies.
    pub schedule: WindowSchedule,
    /// The monitors it covers, in id order.
    pub monitor_ids: Vec<Uuid>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// A window to create, or what an update replaces.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Display name.
    pub name: String,
    /// When it applies.
    pub schedule: WindowSchedule,
    /// The monitors it covers (the owner's own: see [`foreign_monitors`]).
    pub monitor_ids: Vec<Uuid>,
}

const COLUMNS: &str = "w.id, w.name, w.starts_at, w.ends_at, w.rrule, w.dtstart, w.duration_minutes, w.timezone, \
     w.created_at, w.updated_at, (SELECT coalesce(array_agg(wm.monitor_id ORDER BY wm.monitor_id), '{}') \
       FROM maintenance_window_monitors wm WHERE wm.window_id = w.id)";

/// The schedule stored in columns 2..=7 of `r`.
fn schedule(r: &tokio_postgres::Row, id: Uuid) -> Result<WindowSchedule, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("maintenance window {id}: {what}"));
    match (r.get::<_, Option<OffsetDateTime>>(2), r.get::<_, Option<OffsetDateTime>>(3)) {
        (Some(starts_at), Some(ends_at)) => Ok(WindowSchedule::OneOff(Occurrence { starts_at, ends_at })),
        _ => {
            let rule: Option<&str> = r.get(4);
            let dtstart: Option<PrimitiveDateTime> = r.get(5);
            let minutes: Option<i32> = r.get(6);
            let tz: Option<&str> = r.get(7);
            let (Some(rule), Some(dtstart), Some(minutes), Some(tz)) = (rule, dtstart, minutes, tz) else {
                return Err(corrupt("neither one-off nor recurring".into()));
            };
            Recurrence::new(rule, dtstart, i64::from(minutes), tz)
                .map(|r| WindowSchedule::Recurring(Box::new(r)))
                .map_err(|e| corrupt(format!("{}: {}", e.field, e.message)))
        }
    }
}

fn window(r: &tokio_postgres::Row) -> Result<MaintenanceWindow, StoreError> {
    let id: Uuid = r.get(0);
    Ok(MaintenanceWindow {
        id,
        name: r.get(1),
        schedule: schedule(r, id)?,
        created_at: r.get(8),
        updated_at: r.get(9),
        monitor_ids: r.get(10),
    })
}

/// The columns a schedule is stored in: `(starts_at, ends_at, rrule, dtstart, minutes, timezone)`.
type Stored<'a> = (
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<&'a str>,
    Option<PrimitiveDateTime>,
    Option<i32>,
    Option<&'a str>,
);

fn stored(s: &WindowSchedule) -> Stored<'_> {
    match s {
        WindowSchedule::OneOff(o) => (Some(o.starts_at), Some(o.ends_at), None, None, None, None),
        WindowSchedule::Recurring(r) => (
            None,
            None,
            Some(r.rrule()),
            Some(r.dtstart()),
            Some(i32::try_from(r.duration_minutes()).unwrap_or(i32::MAX)),
            Some(r.timezone()),
        ),
    }
}

/// Which of `ids` are not monitors of `owner`, by their index in `ids`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the query fails.
pub async fn foreign_monitors(pool: &Pool, owner: Uuid, ids: &[Uuid]) -> Result<Vec<usize>, StoreError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached("SELECT id FROM monitors WHERE owner_id = $1 AND id = ANY($2)").await?;
    let owned: std::collections::HashSet<Uuid> =
        client.query(&stmt, &[&owner, &ids]).await?.iter().map(|r| r.get(0)).collect();
    Ok(ids.iter().enumerate().filter(|(_, id)| !owned.contains(id)).map(|(i, _)| i).collect())
}

/// Creates a window for `owner`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when a statement
/// fails (nothing is then written), [`StoreError::Corrupt`] when the stored row does not decode.
pub async fn create(pool: &Pool, owner: Uuid, spec: &WindowSpec) -> Result<MaintenanceWindow, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let id = Uuid::now_v7();
    let s = stored(&spec.schedule);
    tx.execute(
        "INSERT INTO maintenance_windows (id, owner_id, name, starts_at, ends_at, rrule, dtstart, duration_minutes, timezone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[&id, &owner, &spec.name, &s.0, &s.1, &s.2, &s.3, &s.4, &s.5],
    )
    .await?;
    link(&tx, id, &spec.monitor_ids).await?;
    let w = get_in(&tx, owner, id).await?.ok_or_else(|| StoreError::Corrupt("window vanished".into()))?;
    tx.commit().await?;
    Ok(w)
}

async fn link(
    tx: &deadpool_postgres::Transaction<'_>,
    id: Uuid,
    monitors: &[Uuid],
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM maintenance_window_monitors WHERE window_id = $1", &[&id]).await?;
    tx.execute(
        "INSERT INTO maintenance_window_monitors (window_id, monitor_id) SELECT $1, unnest($2::uuid[]) \
         ON CONFLICT DO NOTHING",
        &[&id, &monitors],
    )
    .await?;
    Ok(())
}

async fn get_in(
    client: &impl GenericClient,
    owner: Uuid,
    id: Uuid,
) -> Result<Option<MaintenanceWindow>, StoreError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM maintenance_windows w WHERE w.id = $1 AND w.owner_id = $2"
        ))
        .await?;
    client.query_opt(&stmt, &[&id, &owner]).await?.as_ref().map(window).transpose()
}

/// One window of `owner`; `None` when there is none (or it is another user's).
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`] or [`StoreError::Corrupt`], as for [`create`].
pub async fn get(pool: &Pool, owner: Uuid, id: Uuid) -> Result<Option<MaintenanceWindow>, StoreError> {
    let client = pool.get().await?;
    get_in(&client, owner, id).await
}

/// `owner`'s windows in id (creation) order, after `after` when given.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`] or [`StoreError::Corrupt`], as for [`create`].
pub async fn list(
    pool: &Pool,
    owner: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MaintenanceWindow>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM maintenance_windows w \
             WHERE w.owner_id = $1 AND ($2::uuid IS NULL OR w.id > $2) ORDER BY w.id LIMIT $3"
        ))
        .await?;
    client.query(&stmt, &[&owner, &after, &limit]).await?.iter().map(window).collect()
}

/// Replaces a window's name, schedule and monitors; `None` when `owner` has no such window.
///
/// # Errors
/// [`StoreError::Pool`], [`StoreError::Db`] or [`StoreError::Corrupt`], as for [`create`].
pub async fn update(
    pool: &Pool,
    owner: Uuid,
    id: Uuid,
    spec: &WindowSpec,
) -> Result<Option<MaintenanceWindow>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let s = stored(&spec.schedule);
    let n = tx
        .execute(
            "UPDATE maintenance_windows SET name = $3, starts_at = $4, ends_at = $5, rrule = $6, dtstart = $7, \
               duration_minutes = $8, timezone = $9, updated_at = now() WHERE id = $1 AND owner_id = $2",
            &[&id, &owner, &spec.name, &s.0, &s.1, &s.2, &s.3, &s.4, &s.5],
        )
        .await?;
    if n == 0 {
        return Ok(None);
    }
    link(&tx, id, &spec.monitor_ids).await?;
    let w = get_in(&tx, owner, id).await?;
    tx.commit().await?;
    Ok(w)
}

/// Deletes a window; whether `owner` had it.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when it fails.
pub async fn delete(pool: &Pool, owner: Uuid, id: Uuid) -> Result<bool, StoreError> {
    let client = pool.get().await?;
    let stmt =
        client.prepare_cached("DELETE FROM maintenance_windows WHERE id = $1 AND owner_id = $2").await?;
    Ok(client.execute(&stmt, &[&id, &owner]).await? > 0)
}

/// The schedules of every window covering `monitor_id`.
///
/// # Errors
/// [`StoreError::Db`] when the query fails, [`StoreError::Corrupt`] when a row does not decode.
pub async fn schedules_of(
    client: &impl GenericClient,
    monitor_id: Uuid,
) -> Result<Vec<WindowSchedule>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT w.id, w.name, w.starts_at, w.ends_at, w.rrule, w.dtstart, w.duration_minutes, w.timezone \
             FROM maintenance_windows w JOIN maintenance_window_monitors wm ON wm.window_id = w.id \
             WHERE wm.monitor_id = $1",
        )
        .await?;
    client.query(&stmt, &[&monitor_id]).await?.iter().map(|r| schedule(r, r.get(0))).collect()
}

/// Whether a window covers `monitor_id` at `at`.
///
/// # Errors
/// As [`schedules_of`].
pub async fn covered_at(
    client: &impl GenericClient,
    monitor_id: Uuid,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    Ok(schedules_of(client, monitor_id).await?.iter().any(|s| s.active_at(at).is_some()))
}

/// The time within `[from, until)` that windows covered `monitor_id`, as disjoint intervals:
/// what `/stats` leaves out of uptime.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had; otherwise as [`schedules_of`].
pub async fn covered_between(
    pool: &Pool,
    monitor_id: Uuid,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Vec<Occurrence>, StoreError> {
    let client = pool.get().await?;
    let all = schedules_of(&client, monitor_id).await?.iter().flat_map(|s| s.between(from, until)).collect();
    Ok(maintenance::merge(all))
}

/// [`covered_between`] of a monitor `owner` owns, with the ownership checked in the same
/// query: `None` when `owner` has no monitor `monitor_id`.
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had; otherwise as
/// [`owned_covered_between_on`].
pub async fn owned_covered_between(
    pool: &Pool,
    owner: Uuid,
    monitor_id: Uuid,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<Vec<Occurrence>>, StoreError> {
    owned_covered_between_on(&pool.get().await?, owner, monitor_id, from, until).await
}

/// [`owned_covered_between`] on `client`, for a caller that sends it along with other
/// statements on one connection.
///
/// # Errors
/// [`StoreError::Db`] when the query fails, [`StoreError::Corrupt`] when a window does not
/// decode.
pub async fn owned_covered_between_on(
    client: &impl GenericClient,
    owner: Uuid,
    monitor_id: Uuid,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<Vec<Occurrence>>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT w.id, w.name, w.starts_at, w.ends_at, w.rrule, w.dtstart, w.duration_minutes, w.timezone \
             FROM monitors m LEFT JOIN maintenance_window_monitors wm ON wm.monitor_id = m.id \
             LEFT JOIN maintenance_windows w ON w.id = wm.window_id \
             WHERE m.id = $1 AND m.owner_id = $2",
        )
        .await?;
    let rows = client.query(&stmt, &[&monitor_id, &owner]).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut all = Vec::new();
    for r in rows.iter().filter(|r| r.get::<_, Option<Uuid>>(0).is_some()) {
        all.extend(schedule(r, r.get(0))?.between(from, until));
    }
    Ok(Some(maintenance::merge(all)))
}

/// [`covered_between`] for several monitors at once (one query): each monitor's covered time
/// within `[from, until)` as disjoint intervals (monitors without windows are absent).
///
/// # Errors
/// [`StoreError::Pool`] when no connection can be had, [`StoreError::Db`] when the query fails,
/// [`StoreError::Corrupt`] when a window does not decode.
pub async fn covered_between_many(
    pool: &Pool,
    monitors: &[Uuid],
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<std::collections::HashMap<Uuid, Vec<Occurrence>>, StoreError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT w.id, w.name, w.starts_at, w.ends_at, w.rrule, w.dtstart, w.duration_minutes, w.timezone, \
               wm.monitor_id \
             FROM maintenance_windows w JOIN maintenance_window_monitors wm ON wm.window_id = w.id \
             WHERE wm.monitor_id = ANY($1)",
        )
        .await?;
    let mut out: std::collections::HashMap<Uuid, Vec<Occurrence>> = std::collections::HashMap::new();
    for r in client.query(&stmt, &[&monitors]).await? {
        let s = schedule(&r, r.get(0))?;
        out.entry(r.get(8)).or_default().extend(s.between(from, until));
    }
    Ok(out.into_iter().map(|(k, v)| (k, maintenance::merge(v))).collect())
}

//! What storing a batch of raw checks costs Postgres, two ways: the multi-row statement
//! `record_checks` uses (`INSERT … SELECT FROM unnest($1, …) … ON CONFLICT DO NOTHING
//! RETURNING`) and `COPY … FROM STDIN (FORMAT binary)` into a session's staging table followed
//! by `INSERT … SELECT FROM staging … ON CONFLICT DO NOTHING RETURNING`. The figure is the
//! backend's CPU (utime + stime of its process, from `/proc`), so Postgres must run on this
//! machine. A measurement, not a check: ignored by default; run it with
//!
//! ```text
//! cargo nextest run -p upcheck-store --run-ignored only write_cost --no-capture
//! ```
//!
//! `write_cost_record_checks_worker_batches` calls `record_checks` as the monitoring worker
//! does (`WRITE_COST_MONITORS` monitors, default 10,000, at 1 s; batches of `CHECK_BATCH_SIZE`
//! in the order probes finish; a simulated minute, so each monitor's minute is closed once).
//! Against a Postgres started with `shared_preload_libraries = 'pg_stat_statements'` and the
//! extension created in `template1` (`DATABASE_URL` pointing at it), it also prints each
//! statement's time, buffers and WAL per 1,000 checks; buffers and WAL do not move with the
//! machine's load. `WRITE_COST_SQL` is run on the fresh database before the monitors are made:
//! a schema variant to try (e.g. another index).

use crate::helpers::*;
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use upcheck_domain::CheckOutcome::{Down, Up};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

const MONITORS: usize = 1_000;
const BATCH: usize = 1_000;
const BATCHES: usize = 60;

/// CPU seconds the backend process `pid` has used.
fn backend_cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ is 100 on Linux
}

struct Rows {
    ids: Vec<Uuid>,
    jobs: Vec<String>,
    regions: Vec<String>,
    dues: Vec<OffsetDateTime>,
    checked: Vec<OffsetDateTime>,
    statuses: Vec<String>,
    latencies: Vec<Option<i32>>,
    codes: Vec<Option<i16>>,
    errors: Vec<Option<String>>,
}

fn batch(monitors: &[Uuid], n: usize, salt: &str) -> Rows {
    // Past the legacy partition: rows land in a daily one, as they will once it has expired.
    let base = OffsetDateTime::now_utc() + time::Duration::days(5);
    let mut r = Rows {
        ids: vec![],
        jobs: vec![],
        regions: vec![],
        dues: vec![],
        checked: vec![],
        statuses: vec![],
        latencies: vec![],
        codes: vec![],
        errors: vec![],
    };
    for i in 0..BATCH {
        let down = i % 100 == 7;
        let due = base + time::Duration::milliseconds((n * BATCH + i) as i64);
        r.ids.push(monitors[(n * BATCH + i) % monitors.len()]);
        r.jobs.push(format!("{}-{salt}{i}", upcheck_domain::clock::unix_ms(due)));
        r.regions.push("local".into());
        r.dues.push(due);
        r.checked.push(due + time::Duration::milliseconds(40));
        r.statuses.push(if down { "down" } else { "up" }.into());
        r.latencies.push(Some(5 + (i as i32 * 7919) % 300));
        r.codes.push(Some(if down { 503 } else { 200 }));
        r.errors.push(down.then(|| "expected 2xx, got 503".to_string()));
    }
    r
}

const UNNEST: &str = "INSERT INTO check_results \
      (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error) \
    SELECT u.monitor_id, u.job_id, u.region, u.due_at, u.checked_at, u.status, u.latency_ms, u.http_status, u.error \
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], \
                $7::int4[], $8::int2[], $9::text[]) \
         AS u(monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error) \
    WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = u.monitor_id) \
    ON CONFLICT DO NOTHING RETURNING monitor_id, job_id, region";

const FROM_STAGING: &str = "INSERT INTO check_results \
      (monitor_id, job_id, region, due_at, checked_at, status, latency_ms, http_status, error) \
    SELECT u.monitor_id, u.job_id, u.region, u.due_at, u.checked_at, u.status, u.latency_ms, u.http_status, u.error \
    FROM staging_checks u WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = u.monitor_id) \
    ON CONFLICT DO NOTHING RETURNING monitor_id, job_id, region";

#[tokio::test]
#[ignore = "a measurement: run with --run-ignored only write_cost --no-capture"]
async fn write_cost_unnest_against_binary_copy() {
    let env = TestEnv::new().await;
    let owner = user(&env).await;
    let mut monitors = Vec::new();
    for _ in 0..MONITORS {
        monitors.push(monitor(&env, owner).await);
    }
    // Every day the batches fall on has its partition already.
    let day = upcheck_store::partitions::day_of(OffsetDateTime::now_utc() + time::Duration::days(5));
    upcheck_store::partitions::ensure_days(
        &env.pool,
        &upcheck_store::partitions::CHECK_RESULTS,
        &[day, day + time::Duration::days(1)],
    )
    .await
    .unwrap();

    // unnest: one statement per batch.
    let mut client = env.pool.get().await.unwrap();
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    let stmt = client.prepare_cached(UNNEST).await.unwrap();
    let Some(cpu0) = backend_cpu_seconds(pid) else {
        eprintln!("Postgres's backend is not a process of this machine: nothing measured");
        return;
    };
    for n in 0..BATCHES {
        let r = batch(&monitors, n, "u");
        let tx = client.transaction().await.unwrap();
        let params: [&(dyn ToSql + Sync); 9] = [
            &r.ids,
            &r.jobs,
            &r.regions,
            &r.dues,
            &r.checked,
            &r.statuses,
            &r.latencies,
            &r.codes,
            &r.errors,
        ];
        assert_eq!(tx.query(&stmt, &params).await.unwrap().len(), BATCH);
        tx.commit().await.unwrap();
    }
    let unnest = backend_cpu_seconds(pid).unwrap() - cpu0;
    drop(client);

    // COPY (FORMAT binary) into a staging table, then INSERT … SELECT.
    let mut client = env.pool.get().await.unwrap();
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    client
        .batch_execute(
            "CREATE TEMP TABLE staging_checks (monitor_id uuid, job_id text, region text, due_at timestamptz, \
               checked_at timestamptz, status text, latency_ms int4, http_status int2, error text) \
             ON COMMIT DELETE ROWS",
        )
        .await
        .unwrap();
    let insert = client.prepare_cached(FROM_STAGING).await.unwrap();
    let types = [
        Type::UUID,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::INT4,
        Type::INT2,
        Type::TEXT,
    ];
    let cpu0 = backend_cpu_seconds(pid).unwrap();
    for n in 0..BATCHES {
        let r = batch(&monitors, n, "c");
        let tx = client.transaction().await.unwrap();
        let sink = tx.copy_in("COPY staging_checks FROM STDIN (FORMAT binary)").await.unwrap();
        let writer = BinaryCopyInWriter::new(sink, &types);
        futures::pin_mut!(writer);
        for i in 0..BATCH {
            writer
                .as_mut()
                .write(&[
                    &r.ids[i],
                    &r.jobs[i],
                    &r.regions[i],
                    &r.dues[i],
                    &r.checked[i],
                    &r.statuses[i],
                    &r.latencies[i],
                    &r.codes[i],
                    &r.errors[i],
                ])
                .await
                .unwrap();
        }
        writer.finish().await.unwrap();
        assert_eq!(tx.query(&insert, &[]).await.unwrap().len(), BATCH);
        tx.commit().await.unwrap();
    }
    let copy = backend_cpu_seconds(pid).unwrap() - cpu0;

    let per_k = |s: f64| s * 1_000_000.0 / (BATCHES * BATCH) as f64;
    eprintln!(
        "Postgres backend CPU per 1,000 stored checks ({BATCHES} batches of {BATCH}, {MONITORS} monitors): \
         unnest {:.1} ms, COPY binary + INSERT … SELECT {:.1} ms",
        per_k(unnest),
        per_k(copy)
    );
}

/// The shape of a worker's traffic: `monitors` monitors at a 1 s interval with random phases,
/// probed by one region, their results written in batches of `batch` (the worker's
/// `CHECK_BATCH_SIZE`, which its batches reach from about 1,000 checks/s on a busy replica, since
/// it writes one batch at a time) in the order the probes finish.
struct WorkerShape {
    monitors: usize,
    batch: usize,
    /// Simulated seconds measured (each monitor's minute is closed once a minute, so a
    /// multiple of 60 s includes the rollups' closing at its share).
    seconds: usize,
}

/// One statement's figures from `pg_stat_statements`: its text, calls, total execution time
/// (ms), shared buffers touched (hit or read), buffers dirtied, WAL records and WAL bytes.
struct StatementFigures {
    query: String,
    calls: i64,
    ms: f64,
    buffers: i64,
    dirtied: i64,
    wal_records: i64,
    wal_bytes: f64,
}

/// The statements of the current database, the slowest first; empty when `pg_stat_statements`
/// is not there. Buffers and WAL do not depend on the machine's load, unlike times.
async fn statement_figures(db: &tokio_postgres::Client) -> Vec<StatementFigures> {
    let Ok(rows) = db
        .query(
            "SELECT query, calls, total_exec_time, shared_blks_hit + shared_blks_read, shared_blks_dirtied, \
               wal_records, wal_bytes::float8 FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY total_exec_time DESC LIMIT 12",
            &[],
        )
        .await
    else {
        return Vec::new();
    };
    rows.iter()
        .map(|r| StatementFigures {
            query: r.get(0),
            calls: r.get(1),
            ms: r.get(2),
            buffers: r.get(3),
            dirtied: r.get(4),
            wal_records: r.get(5),
            wal_bytes: r.get(6),
        })
        .collect()
}

/// `record_checks` as the monitoring worker calls it ([`WorkerShape`]) on a fully migrated
/// database: the backend's CPU seconds and the checks stored over `shape.seconds` simulated
/// seconds, after two seconds of warm-up (every monitor's first checks make its state rows).
/// With `pg_stat_statements` in the database (a Postgres started with it preloaded and the
/// extension in `template1`), each statement's share is printed too.
async fn worker_shape_cost(env: &TestEnv, shape: &WorkerShape) -> Option<(f64, usize)> {
    let name = format!("upcheck_cost_{}", &Uuid::new_v4().simple().to_string()[..16]);
    env.db().await.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let mut settings = env.settings.database.clone().with_dbname(&name);
    upcheck_store::migrate(&settings).await.unwrap();
    settings.pool_size = 1;
    let pool = upcheck_store::connect_pool(&settings).unwrap();
    let owner = Uuid::now_v7();
    let db = pool.get().await.unwrap();
    if let Ok(sql) = std::env::var("WRITE_COST_SQL") {
        db.batch_execute(&sql).await.unwrap();
    }
    db.execute(
        "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, 'x', 'member')",
        &[&owner, &format!("{owner}@example.com")],
    )
    .await
    .unwrap();
    let monitors: Vec<Uuid> = (0..shape.monitors).map(|_| Uuid::now_v7()).collect();
    insert_monitors(&db, owner, &monitors, 1).await;
    let pid: i32 = db.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    drop(db);
    // Past the legacy partition, on a minute's start: rows land in a daily partition.
    let start_at = upcheck_store::rollups::floor_minute(OffsetDateTime::now_utc() + time::Duration::days(5));
    let day = upcheck_store::partitions::day_of(start_at);
    upcheck_store::partitions::ensure_days(
        &pool,
        &upcheck_store::partitions::CHECK_RESULTS,
        &[day, day + time::Duration::days(1)],
    )
    .await
    .unwrap();
    let start = upcheck_domain::clock::unix_ms(start_at);
    // Fixed pseudo-random phases and latencies (no rand dependency: a multiplicative hash).
    let spread = |i: usize, salt: u64, range: u64| {
        ((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ salt) >> 20) % range
    };
    let second = |s: usize| -> Vec<upcheck_store::checks::CheckRecord> {
        let mut list: Vec<_> = monitors
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let due = start + (s * 1_000) as i64 + spread(i, 1, 1_000) as i64;
                let latency = 5 + spread(i * 31 + s, 2, 300) as i64;
                let mut c = check(*m, due, if i % 100 == 7 { Down } else { Up });
                // A stream entry id: the scheduler adds the job about one tick before it is due.
                c.job_id = format!("{}-{}", due - 100, i % 7);
                c.checked_at =
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(due + latency) * 1_000_000).unwrap();
                c.latency_ms = Some(latency as i32);
                c
            })
            .collect();
        list.sort_by_key(|c| c.checked_at);
        list
    };
    let write = |list: Vec<upcheck_store::checks::CheckRecord>| {
        let pool = pool.clone();
        async move {
            for chunk in list.chunks(shape.batch) {
                upcheck_store::checks::record_checks(&pool, chunk).await.unwrap();
            }
        }
    };
    for s in 0..2 {
        write(second(s)).await;
    }
    let admin = env.db().await;
    let _ = admin.batch_execute("SELECT pg_stat_statements_reset()").await;
    let wal = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8";
    let wal0: f64 = admin.query_one(wal, &[]).await.unwrap().get(0);
    let cpu0 = backend_cpu_seconds(pid)?;
    let mut stored = 0;
    for s in 2..2 + shape.seconds {
        let list = second(s);
        stored += list.len();
        write(list).await;
    }
    let cpu = backend_cpu_seconds(pid)? - cpu0;
    let wal1: f64 = admin.query_one(wal, &[]).await.unwrap().get(0);
    let db = pool.get().await.unwrap();
    let k = stored as f64 / 1_000.0;
    let lsn: String = admin.query_one("SELECT pg_current_wal_lsn()::text", &[]).await.unwrap().get(0);
    eprintln!(
        "  WAL written by the server meanwhile (any database): {:.0} bytes per 1,000 checks, up to {lsn}",
        (wal1 - wal0) / k
    );
    for f in statement_figures(&db).await {
        let head: String =
            f.query.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(90).collect();
        eprintln!(
            "  per 1,000 checks: {:6.2} ms, {:6.0} buffers, {:5.0} dirtied, {:5.0} WAL records, {:7.0} WAL bytes; {:6} calls: {head}",
            f.ms / k,
            f.buffers as f64 / k,
            f.dirtied as f64 / k,
            f.wal_records as f64 / k,
            f.wal_bytes / k,
            f.calls,
        );
    }
    drop(db);
    pool.close();
    env.db().await.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    Some((cpu, stored))
}

#[tokio::test]
#[ignore = "a measurement: run with --run-ignored only write_cost --no-capture"]
async fn write_cost_record_checks_worker_batches() {
    let env = TestEnv::new().await;
    let monitors = std::env::var("WRITE_COST_MONITORS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let shape =
        WorkerShape { monitors, batch: upcheck_config::Tunables::default().check_batch_size, seconds: 60 };
    let Some((cpu, stored)) = worker_shape_cost(&env, &shape).await else {
        eprintln!("Postgres's backend is not a process of this machine: nothing measured");
        return;
    };
    eprintln!(
        "record_checks as the worker calls it ({} monitors at 1 s, batches of {}, {} s simulated, {stored} checks): \
         Postgres backend CPU {:.1} ms per 1,000 stored checks",
        shape.monitors,
        shape.batch,
        shape.seconds,
        cpu * 1_000_000.0 / stored as f64
    );
}

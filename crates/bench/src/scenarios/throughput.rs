//! `throughput`: `--monitors` monitors at a 1 s interval on `--replicas` monitoring workers;
//! checks stored per second, schedule lag, each component's CPU and peak RSS, Redis memory per
//! monitor; with `--flip N`, alert latency of N more monitors flipped under that load.

use crate::cli::{Mix, ThroughputArgs};
use crate::procs;
use crate::report::{Rows, thousands};
use crate::stack::{Stack, insert_monitors, schedule_random_phases};
use crate::stats::{now_ms, p50_p99_max, postgres_cpu, redis_info};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use upcheck_domain::ProbeSpec;
use upcheck_testkit::fixtures::{monitor, spec, user, webhook_channel};
use upcheck_testkit::{FlipTarget, TestEnv, WebhookReceiver};
use uuid::Uuid;

/// What a throughput run measured, for the ratios against Vigil.
pub(crate) struct Throughput {
    pub(crate) rows: Rows,
    pub(crate) checks_per_second: f64,
    /// CPU ms per 1,000 checks of the monitoring worker(s) together.
    pub(crate) worker_cpu_ms: f64,
    /// CPU ms per 1,000 checks of every component, Redis and Postgres (not the target).
    pub(crate) pipeline_cpu_ms: f64,
    /// Peak RSS of the largest monitoring worker, MiB.
    pub(crate) worker_rss_mib: f64,
}

/// Sustained checks per second and schedule lag with `a.monitors` monitors at a 1 s interval, and
/// each component's cost; with `a.flip`, alert latency under that load.
pub(crate) async fn run(a: &ThroughputArgs) -> anyhow::Result<Throughput> {
    let (monitors, replicas, flip) = (a.monitors, usize::from(a.replicas), a.flip);
    let servers = if a.mix == Mix::Kinds { Some(KindServers::start().await?) } else { None };
    let extra = servers.as_ref().map(KindServers::vars).unwrap_or_default();
    let mut vars = a.overrides.vars();
    vars.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    let cluster = if a.redis_cluster {
        Some(tokio::task::spawn_blocking(|| upcheck_testkit::LocalRedisCluster::start(3)).await??)
    } else {
        None
    };
    let cluster_urls = cluster.as_ref().map(upcheck_testkit::LocalRedisCluster::urls);
    if let Some(urls) = &cluster_urls {
        vars.push(("REDIS_CLUSTER_URLS", urls));
    }
    let shards = a.shards.to_string();
    vars.push(("SCHEDULE_SHARDS", &shards));
    let env = TestEnv::with_env(&vars).await;
    let target = FlipTarget::start().await;
    let owner = user(&env).await;
    let mut redis = env.redis.clone();
    let (mem_empty, _) = redis_info(&mut redis).await?;
    let specs: Vec<ProbeSpec> =
        (0..monitors).map(|i| mixed_spec(a.mix, i, &target.url, servers.as_ref())).collect();
    insert_monitors(&env, owner, &specs).await?;
    let flip_target = FlipTarget::start().await;
    let receiver = WebhookReceiver::start().await;
    let mut flip_specs = Vec::new();
    for _ in 0..flip {
        let s = spec(&flip_target.url);
        monitor(&env, owner, &s).await;
        webhook_channel(&env, owner, s.monitor_id, &receiver.url).await;
        flip_specs.push(s);
    }
    let all: Vec<ProbeSpec> = specs.iter().chain(&flip_specs).cloned().collect();
    schedule_random_phases(&env, &all, now_ms() + 1_000 + (monitors / 20) as i64).await?;
    let (mem_scheduled, _) = redis_info(&mut redis).await?;
    let mut stack = Stack::start(&env, replicas).await?;

    let settled =
        first_transitions_applied(&env, all.len() as i64, Duration::from_secs(a.window.warmup)).await?;
    for c in &mut stack.components {
        c.ensure_running()?;
        c.mark();
    }
    let (_, redis_cpu0) = redis_info(&mut redis).await?;
    let pg_cpu0 = postgres_cpu(&env).await?;
    let own0 = procs::own_cpu_seconds();
    let from = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_secs(a.window.seconds)).await;
    let until = OffsetDateTime::now_utc();
    let cpu: Vec<(String, f64, f64)> =
        stack.components.iter().map(|c| (c.label.clone(), c.cpu_since_mark(), c.peak_rss_mib())).collect();
    let (mem_running, redis_cpu1) = redis_info(&mut redis).await?;
    let pg_cpu = match (pg_cpu0, postgres_cpu(&env).await?) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let own = procs::own_cpu_seconds() - own0;

    // Alert latency under the same load: flip every flip monitor's target at once.
    let mut alert_rows = Vec::new();
    if flip > 0 {
        let wanted: HashSet<String> = flip_specs.iter().map(|s| s.monitor_id.to_string()).collect();
        let up_deadline = Instant::now() + Duration::from_secs(30);
        let flip_ids: Vec<Uuid> = flip_specs.iter().map(|s| s.monitor_id).collect();
        let db = env.db().await;
        while db
            .query_one(
                "SELECT count(*) FROM monitor_state WHERE status = 'up' AND monitor_id = ANY($1)",
                &[&flip_ids],
            )
            .await?
            .get::<_, i64>(0)
            < flip as i64
            && Instant::now() < up_deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = receiver.received().len();
        let flipped = Instant::now();
        flip_target.set_status(500);
        let mut first: HashMap<String, Instant> = HashMap::new();
        while first.len() < wanted.len() && flipped.elapsed() < Duration::from_secs(60) {
            for h in &receiver.received()[seen..] {
                let body = h.json();
                if body["type"] == "monitor.down"
                    && let Some(id) = body["monitor"]["id"].as_str()
                    && wanted.contains(id)
                {
                    first.entry(id.to_string()).or_insert(h.at);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut lat: Vec<f64> = first.values().map(|at| (*at - flipped).as_secs_f64() * 1000.0).collect();
        lat.sort_by(f64::total_cmp);
        alert_rows.push((
            format!("alert under load: {flip} targets flipped, webhooks received"),
            format!("{} of {flip}", lat.len()),
        ));
        alert_rows.push((
            "alert under load: flip → webhook p50 / p99 / max".into(),
            format!("{} ms (bound 2,500 ms)", p50_p99_max(&lat)),
        ));
    }
    for c in &mut stack.components {
        c.ensure_running()?;
    }
    stack.stop().await;

    let db = env.db().await;
    let row = db
        .query_one(
            "SELECT count(*), \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
               percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM checked_at - due_at) * 1000), \
               max(extract(epoch FROM checked_at - due_at) * 1000)::float8, \
               count(*) FILTER (WHERE status = 'down') \
             FROM check_results WHERE checked_at >= $1 AND checked_at < $2",
            &[&from, &until],
        )
        .await?;
    let checks: i64 = row.get(0);
    let secs = (until - from).as_seconds_f64();
    let rate = checks as f64 / secs;
    let per_k = |cpu_s: f64| cpu_s * 1_000_000.0 / checks.max(1) as f64;
    let lag = |i: usize| row.get::<_, Option<f64>>(i).unwrap_or(f64::NAN);
    let mut label = format!(
        "{} monitors, {replicas} monitoring replica{}",
        thousands(monitors as f64),
        if replicas == 1 { "" } else { "s" }
    );
    match a.mix {
        Mix::Http => {}
        Mix::HttpAssert => label.push_str(", http with one assertion"),
        Mix::Kinds => label.push_str(", mix 70 % http + assertion / 10 % tcp / 10 % dns / 10 % tls"),
    }
    if a.redis_cluster {
        label.push_str(", Redis Cluster of 3 masters");
    }
    if a.shards > 1 {
        label.push_str(&format!(", {} schedule shards", a.shards));
    }
    for (k, v) in &a.overrides.sets {
        label.push_str(&format!(", {k}={v}"));
    }
    let mut rows: Rows = vec![
        (
            format!("{label}: checks stored per second"),
            format!(
                "{} (offered {}; {} failed)",
                thousands(rate),
                thousands((monitors + flip) as f64),
                row.get::<_, i64>(4)
            ),
        ),
        (
            format!("{label}: schedule lag p50 / p99 / max"),
            format!("{} / {} / {} ms", thousands(lag(1)), thousands(lag(2)), thousands(lag(3))),
        ),
    ];
    let worker_cpu: f64 =
        cpu.iter().filter(|(l, ..)| l.starts_with("worker-monitoring")).map(|(_, c, _)| c).sum();
    let worker_rss =
        cpu.iter().filter(|(l, ..)| l.starts_with("worker-monitoring")).map(|(.., r)| *r).fold(0.0, f64::max);
    let mut pipeline = 0.0;
    let mut split = Vec::new();
    for (l, c, r) in &cpu {
        pipeline += c;
        split.push(format!("{l} {:.1} ms / {r:.1} MiB", per_k(*c)));
    }
    let redis_cpu = redis_cpu1 - redis_cpu0;
    pipeline += redis_cpu;
    split.push(format!("Redis {:.1} ms", per_k(redis_cpu)));
    if let Some(pg) = pg_cpu {
        pipeline += pg;
        split.push(format!("Postgres {:.1} ms", per_k(pg)));
    }
    rows.push((format!("{label}: CPU ms per 1,000 checks / peak RSS"), split.join("; ")));
    rows.push((
        format!("{label}: CPU ms per 1,000 checks, whole pipeline (target excluded)"),
        format!("{:.1} ms (bench + target {:.1} ms)", per_k(pipeline), per_k(own)),
    ));
    rows.push((
        format!("{label}: Redis used memory per monitor"),
        format!(
            "{:.0} B scheduled, {:.0} B running (streams included)",
            (mem_scheduled - mem_empty) / all.len() as f64,
            (mem_running - mem_empty) / all.len() as f64
        ),
    ));
    let (heap, indexes) = check_bytes(&env).await?;
    let stored: i64 = db.query_one("SELECT count(*) FROM check_results", &[]).await?.get(0);
    let per_check = |b: i64| b as f64 / stored.max(1) as f64;
    rows.push((
        format!("{label}: bytes per stored check, table + indexes"),
        format!(
            "{:.0} B ({:.0} B table, {:.0} B indexes; {} checks)",
            per_check(heap + indexes),
            per_check(heap),
            per_check(indexes),
            thousands(stored as f64)
        ),
    ));
    rows.push((
        format!("{label}: new monitors' first transitions (pending → up) all applied"),
        match settled {
            Ok(after) => {
                format!("{:.0} s after the start (warm-up {} s)", after.as_secs_f64(), a.window.warmup)
            }
            Err(applied) => format!(
                "not within the {} s warm-up: {} of {} applied",
                a.window.warmup,
                thousands(applied as f64),
                thousands(all.len() as f64)
            ),
        },
    ));
    rows.extend(alert_rows);
    drop(env); // its keys are deleted while the cluster still runs
    drop(cluster);
    Ok(Throughput {
        rows,
        checks_per_second: rate,
        worker_cpu_ms: per_k(worker_cpu),
        pipeline_cpu_ms: per_k(pipeline),
        worker_rss_mib: worker_rss,
    })
}

/// Waits out the warm-up of `warmup`, meanwhile counting every 2 s the monitors whose first
/// transition (`pending → …`, one status event each) the status-change worker has applied: the
/// time from now until all `monitors` had (`Ok`), or how many had by the warm-up's end (`Err`).
/// Every new monitor's first check is a transition, so a burst of new monitors is a burst of
/// status events, which competes with the check writes until it is applied.
async fn first_transitions_applied(
    env: &TestEnv,
    monitors: i64,
    warmup: Duration,
) -> anyhow::Result<Result<Duration, i64>> {
    let started = Instant::now();
    let db = env.db().await;
    let mut applied = 0;
    while started.elapsed() < warmup {
        applied = db
            .query_one(
                "SELECT count(*) FROM status_events WHERE from_status = 'pending' AND applied_at IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        if applied >= monitors {
            let after = started.elapsed();
            tokio::time::sleep(warmup.saturating_sub(after)).await;
            return Ok(Ok(after));
        }
        tokio::time::sleep(Duration::from_secs(2).min(warmup.saturating_sub(started.elapsed()))).await;
    }
    Ok(Err(applied))
}

/// Bytes `check_results` takes on disk: its table(s) with their TOAST, and its indexes. For a
/// partitioned `check_results`, the sum over its partitions; for the unpartitioned table of
/// older schemas (before V24), the table itself.
pub(crate) async fn check_bytes(env: &TestEnv) -> anyhow::Result<(i64, i64)> {
    let row = env
        .db()
        .await
        .query_one(
            "WITH r AS (SELECT inhrelid AS oid FROM pg_inherits WHERE inhparent = 'check_results'::regclass \
                        UNION ALL SELECT 'check_results'::regclass::oid \
                        WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'check_results'::regclass)) \
             SELECT coalesce(sum(pg_table_size(oid)), 0)::int8, coalesce(sum(pg_indexes_size(oid)), 0)::int8 FROM r",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The DNS and TLS servers a `kinds` mix probes, inside the bench.
pub(crate) struct KindServers {
    dns: upcheck_testkit::dns::DnsServer,
    tls: upcheck_testkit::tls_target::TlsTarget,
    _dir: tempfile::TempDir,
    ca_path: String,
}

impl KindServers {
    async fn start() -> anyhow::Result<Self> {
        let dns = upcheck_testkit::dns::DnsServer::start().await;
        dns.set_a("target.bench", &[std::net::Ipv4Addr::LOCALHOST]);
        let ca = upcheck_testkit::tls_target::TestCa::new();
        let dir = tempfile::tempdir()?;
        let ca_path = ca.write_pem(dir.path()).to_string_lossy().into_owned();
        let now = OffsetDateTime::now_utc();
        let (chain, key) =
            ca.leaf(&["localhost"], now - time::Duration::days(1), now + time::Duration::days(365));
        let tls = upcheck_testkit::tls_target::TlsTarget::start(chain, key).await;
        Ok(Self { dns, tls, _dir: dir, ca_path })
    }

    /// The settings the components need to resolve through the bench's DNS server and trust
    /// its CA.
    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![("PROBE_DNS_SERVERS", self.dns.addr.to_string()), ("PROBE_CA_CERT", self.ca_path.clone())]
    }
}

/// Monitor `i` of a run: plain http, http with one assertion, or by the kinds mix (of ten
/// monitors: seven http with an assertion, one tcp, one dns, one tls).
fn mixed_spec(mix: Mix, i: usize, url: &str, servers: Option<&KindServers>) -> ProbeSpec {
    use upcheck_domain::MonitorKind;
    use upcheck_domain::probe_config::KindConfig;
    let mut s = spec(url);
    let config = |kind, v: serde_json::Value| KindConfig::from_json(kind, &v).expect("a bench config");
    let assertion = || {
        config(
            MonitorKind::Http,
            serde_json::json!({"assertions": [{"type": "body_not_contains", "value": "error"}]}),
        )
    };
    let port = url::Url::parse(url).ok().and_then(|u| u.port()).unwrap_or(80);
    match (mix, servers, i % 10) {
        (Mix::Http, ..) => {}
        (Mix::HttpAssert, ..) | (Mix::Kinds, None, _) | (Mix::Kinds, Some(_), 0..=6) => {
            s.config = assertion()
        }
        (Mix::Kinds, Some(_), 7) => {
            s.kind = MonitorKind::Tcp;
            s.config = config(MonitorKind::Tcp, serde_json::json!({"host": "127.0.0.1", "port": port}));
        }
        (Mix::Kinds, Some(_), 8) => {
            s.kind = MonitorKind::Dns;
            s.config = config(
                MonitorKind::Dns,
                serde_json::json!({"name": "target.bench", "expected": ["127.0.0.1"]}),
            );
        }
        (Mix::Kinds, Some(k), _) => {
            s.kind = MonitorKind::Tls;
            s.config =
                config(MonitorKind::Tls, serde_json::json!({"host": "localhost", "port": k.tls.addr.port()}));
        }
    }
    if let Some(target) = s.config.target() {
        s.url = target;
    }
    s
}

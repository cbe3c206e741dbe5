//! Fair probing through the whole worker: one user's 600 monitors against a server that never
//! answers cannot starve another user's monitor.

use crate::worker::{now_ms, schedule, start};
use std::time::Duration;
use upcheck_testkit::fixtures::{monitor, spec, user};
use upcheck_testkit::http_target::{HttpTarget, Reply};
use upcheck_testkit::{SilentTarget, TestEnv};

#[tokio::test]
async fn a_users_600_hung_monitors_leave_another_users_monitor_on_schedule() {
    // 64 probe slots: user A may hold 32 (half), and A's 600 one-second monitors against a
    // hung server would take all 64, for ever, without the per-user limit.
    let env = TestEnv::with_env(&[("MONITORING_CONCURRENCY", "64"), ("PROBE_MAX_PER_HOST", "1000")]).await;
    let hung = SilentTarget::start().await;
    let healthy = HttpTarget::start_on(std::net::Ipv4Addr::new(127, 0, 0, 2), |_| Reply::ok("ok")).await;
    let (a, b) = (user(&env).await, user(&env).await);
    let mut specs = Vec::new();
    for _ in 0..600 {
        let mut s = spec(&hung.url);
        s.timeout_ms = 900;
        s.owner_id = Some(a);
        monitor(&env, a, &s).await;
        specs.push(s);
    }
    let mut mine = spec(&format!("{}/", healthy.base));
    mine.owner_id = Some(b);
    monitor(&env, b, &mine).await;
    specs.push(mine.clone());
    schedule(&env).await.upsert_many(&specs, now_ms(), false).await.unwrap();
    let worker = start(&env).await;

    tokio::time::sleep(Duration::from_secs(8)).await;
    let from_ms = now_ms() - 6_000; // the last six seconds, once the first burst has passed
    worker.stop().await;

    let db = env.db().await;
    let rows = db
        .query(
            "SELECT (extract(epoch FROM due_at) * 1000)::int8, \
                    (extract(epoch FROM checked_at - due_at) * 1000)::int8 \
             FROM check_results WHERE monitor_id = $1 ORDER BY due_at",
            &[&mine.monitor_id],
        )
        .await
        .unwrap();
    let window: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .filter(|(due, _)| *due >= from_ms)
        .collect();
    let mut lags: Vec<i64> = window.iter().map(|(_, lag)| *lag).collect();
    lags.sort_unstable();
    let a_checks: i64 = db
        .query_one("SELECT count(*) FROM check_results WHERE monitor_id <> $1", &[&mine.monitor_id])
        .await
        .unwrap()
        .get(0);

    // Starved, B's monitor would get no check at all once A's probes hold every slot. The
    // bounds leave a loaded two-core machine (this worker handles 600 jobs a second) one late
    // tick: at most one missed second, one check up to 2.5 s late, the middle one on time.
    assert!(window.len() >= 4, "one check a second, saw {} in 6 s: {window:?}", window.len());
    for pair in window.windows(2) {
        assert!(pair[1].0 - pair[0].0 <= 2_100, "two missed checks between {:?} and {:?}", pair[0], pair[1]);
    }
    let (median, most) = (lags[lags.len() / 2], lags[lags.len() - 1]);
    assert!(median < 500 && most < 2_500, "schedule lag median {median} ms, most {most} ms: {lags:?}");
    assert!(a_checks > 0, "user A's monitors were probed too (and timed out)");
}

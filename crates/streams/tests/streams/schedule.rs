//! The leaderless schedule against real Redis.

use crate::helpers::*;
use std::collections::{BTreeMap, HashSet};
use upcheck_domain::{CheckJob, ExpectedStatus, HttpMethod, MonitorKind, ProbeSpec};
use upcheck_streams::{Keys, Schedule};
use upcheck_testkit::TestEnv;
use uuid::Uuid;

fn spec(interval_seconds: u32) -> ProbeSpec {
    ProbeSpec {
        monitor_id: Uuid::now_v7(),
        kind: MonitorKind::Http,
        url: "http://127.0.0.1:1/".into(),
        method: HttpMethod::Get,
        headers: BTreeMap::new(),
        sealed_headers: None,
        body: None,
        interval_seconds,
        timeout_ms: 500,
        expected_status: ExpectedStatus::default_rules(),
        failure_threshold: 2,
        recovery_threshold: 1,
        config: Default::default(),
        owner_id: None,
        regions: Vec::new(),
        min_failed_regions: None,
    }
}

async fn schedule(env: &TestEnv) -> Schedule {
    let conns = conns(env).await;
    Schedule::new(conns.commands, Keys::new(&env.settings), 100_000)
}

fn jobs(entries: Vec<std::collections::HashMap<String, String>>) -> Vec<CheckJob> {
    entries.into_iter().map(|e| serde_json::from_str(&e["m"]).expect("a check job")).collect()
}

#[tokio::test]
async fn a_due_monitor_is_claimed_once_and_rescheduled_one_interval_later() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let s = spec(10);
    schedule.upsert(&s, 1_000_000).await.unwrap();

    let added = schedule.claim_due(0, 1_000_500, 100).await.unwrap();
    let again = schedule.claim_due(0, 1_000_600, 100).await.unwrap();

    assert_eq!((added, again), (1, 0));
    assert_eq!(schedule.due_at(s.monitor_id).await.unwrap(), Some(1_010_000));
    let jobs = jobs(entries(&env, &schedule.keys().monitoring_stream(0)).await);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].due_at_ms, 1_000_000);
    assert_eq!(jobs[0].spec, s, "the job carries the whole spec");
}

#[tokio::test]
async fn a_monitor_not_yet_due_is_not_claimed() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    schedule.upsert(&spec(10), 2_000_000).await.unwrap();

    assert_eq!(schedule.claim_due(0, 1_999_999, 100).await.unwrap(), 0);
}

#[tokio::test]
async fn missed_slots_are_skipped_and_the_phase_is_kept() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let s = spec(10);
    schedule.upsert(&s, 1_000_000).await.unwrap();

    // 35 s late: one job (not four), next due at the next slot of the original phase.
    assert_eq!(schedule.claim_due(0, 1_035_000, 100).await.unwrap(), 1);
    assert_eq!(schedule.due_at(s.monitor_id).await.unwrap(), Some(1_040_000));
}

#[tokio::test]
async fn concurrent_claimers_never_schedule_one_check_twice() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let specs: Vec<ProbeSpec> = (0..500).map(|_| spec(60)).collect();
    schedule.upsert_many(&specs, 1_000_000, false).await.unwrap();

    let claimers = (0..4).map(|_| {
        let s = schedule.clone();
        tokio::spawn(async move {
            let mut total = 0;
            loop {
                let n = s.claim_due(0, 1_000_000, 37).await.unwrap();
                total += n;
                if n == 0 {
                    return total;
                }
            }
        })
    });
    let mut total = 0;
    for c in claimers {
        total += c.await.unwrap();
    }

    assert_eq!(total, 500);
    let jobs = jobs(entries(&env, &schedule.keys().monitoring_stream(0)).await);
    let distinct: HashSet<Uuid> = jobs.iter().map(|j| j.spec.monitor_id).collect();
    assert_eq!((jobs.len(), distinct.len()), (500, 500));
}

#[tokio::test]
async fn a_removed_monitor_is_never_claimed_again() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let s = spec(10);
    schedule.upsert(&s, 1_000_000).await.unwrap();

    schedule.remove(s.monitor_id).await.unwrap();

    assert_eq!(schedule.claim_due(0, 2_000_000, 100).await.unwrap(), 0);
    assert_eq!(schedule.due_at(s.monitor_id).await.unwrap(), None);
}

#[tokio::test]
async fn a_scheduled_member_without_a_spec_is_dropped_on_claim() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let s = spec(10);
    schedule.upsert(&s, 1_000_000).await.unwrap();
    redis::cmd("HDEL")
        .arg(schedule.keys().specs(0))
        .arg(s.monitor_id.to_string())
        .query_async::<()>(&mut env.redis.clone())
        .await
        .unwrap();

    assert_eq!(schedule.claim_due(0, 2_000_000, 100).await.unwrap(), 0);
    assert_eq!(schedule.due_at(s.monitor_id).await.unwrap(), None);
}

#[tokio::test]
async fn keep_due_upserts_leave_existing_due_times_alone() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let (a, b) = (spec(10), spec(10));
    schedule.upsert(&a, 5_000).await.unwrap();

    schedule.upsert_many(&[a.clone(), b.clone()], 9_000, true).await.unwrap();

    assert_eq!(schedule.due_at(a.monitor_id).await.unwrap(), Some(5_000));
    let b_due = schedule.due_at(b.monitor_id).await.unwrap().unwrap();
    assert!((9_000..19_000).contains(&b_due), "an unscheduled monitor is due within one interval: {b_due}");
    assert_eq!(schedule.scheduled_ids().await.unwrap(), HashSet::from([a.monitor_id, b.monitor_id]));
}

#[tokio::test]
async fn monitors_rescheduled_together_are_spread_over_their_interval_not_due_at_once() {
    let env = TestEnv::new().await;
    let schedule = schedule(&env).await;
    let specs: Vec<ProbeSpec> = (0..200).map(|_| spec(10)).collect();

    // What the reconcile does after Redis lost its data.
    schedule.upsert_many(&specs, 100_000, true).await.unwrap();

    let mut dues = Vec::new();
    for s in &specs {
        dues.push(schedule.due_at(s.monitor_id).await.unwrap().unwrap());
    }
    assert!(dues.iter().all(|d| (100_000..110_000).contains(d)), "within one 10 s interval");
    // 200 monitors over ten seconds: every second of it gets some, none gets most.
    for second in 0..10 {
        let n = dues.iter().filter(|d| (*d - 100_000) / 1_000 == second).count();
        assert!((1..=60).contains(&n), "{n} of 200 due in second {second}");
    }
    // Stable: the reconcile running again keeps them where they are.
    schedule.upsert_many(&specs, 200_000, true).await.unwrap();
    assert_eq!(schedule.due_at(specs[0].monitor_id).await.unwrap(), Some(dues[0]));
}

#[tokio::test]
async fn shards_split_monitors_across_sorted_sets_and_streams() {
    let env = TestEnv::with_env(&[("SCHEDULE_SHARDS", "4")]).await;
    let schedule = schedule(&env).await;
    let specs: Vec<ProbeSpec> = (0..100).map(|_| spec(10)).collect();
    schedule.upsert_many(&specs, 1_000, false).await.unwrap();

    let mut total = 0;
    for shard in 0..4 {
        let n = schedule.claim_due(shard, 1_000, 1_000).await.unwrap();
        assert!(n > 0, "shard {shard} got monitors");
        let stream = schedule.keys().monitoring_stream(shard);
        let tag = schedule.keys().shard_tag(shard);
        assert!(stream.ends_with(&format!(":{{{tag}}}")), "{stream} carries the shard's hash tag");
        let slot = upcheck_streams::keys::slot(&stream);
        assert_eq!(u32::from(slot) * 4 / 16_384, shard, "shard {shard} in its quarter of the slots");
        for job in jobs(entries(&env, &stream).await) {
            assert_eq!(schedule.keys().shard_of(job.spec.monitor_id), shard);
        }
        total += n;
    }
    assert_eq!(total, 100);
    assert_eq!(schedule.scheduled_ids().await.unwrap().len(), 100);
}

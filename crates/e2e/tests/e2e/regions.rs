//! Regions with quorum: three monitoring replicas in regions eu, us and ap probe the same
//! monitors; a monitor is down only when a majority of its regions see it down, and the
//! incident names them. The target fails for the regions the test picks (each region's probes
//! name it in their User-Agent).

use crate::helpers::{Stack, WAIT};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_testkit::http_target::{HttpTarget, Reply};
use upcheck_testkit::{TestEnv, WebhookReceiver, wait_for};

async fn monitoring_replica(
    env: &TestEnv,
    region: &str,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut settings = env.settings.clone();
    settings.region = region.to_string();
    settings.streams.monitoring_group = format!("monitoring:{region}");
    settings.streams.consumer = format!("{region}-replica");
    let worker =
        upcheck_worker_monitoring::start(settings, cancel.clone()).await.expect("monitoring replica");
    tokio::spawn(worker.wait())
}

fn region_status(m: &Value, region: &str) -> Option<String> {
    m["region_status"]
        .as_array()?
        .iter()
        .find(|r| r["region"] == region)
        .map(|r| r["status"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_majority_of_regions_must_see_a_monitor_down_and_the_incident_names_them() {
    let env = TestEnv::with_env(&[("REGION", "eu")]).await;
    let stack = Stack::start_in(env).await;
    let cancel = CancellationToken::new();
    let others = [
        monitoring_replica(&stack.env, "us", &cancel).await,
        monitoring_replica(&stack.env, "ap", &cancel).await,
    ];
    let failing: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = failing.clone();
    let target = HttpTarget::start(move |s| {
        let agent = s.header("user-agent").unwrap_or("");
        let failing = seen.lock().unwrap();
        if failing.iter().any(|r| agent.contains(&format!("(region {r})"))) {
            Reply { status: 500, ..Reply::default() }
        } else {
            Reply::ok("ok")
        }
    })
    .await;
    let receiver = WebhookReceiver::start().await;
    let channel = stack
        .post("/channels", json!({"kind": "webhook", "name": "ops", "config": {"url": receiver.url}}))
        .await;
    let monitor = |name: &str, regions: Value| {
        json!({"name": name, "url": format!("{}/{name}", target.base), "interval_seconds": 1, "timeout_ms": 500,
               "failure_threshold": 1, "recovery_threshold": 1, "regions": regions, "channel_ids": [channel["id"]]})
    };
    let two = stack.post("/monitors", monitor("two", json!(["eu", "us"]))).await;
    let three = stack.post("/monitors", monitor("three", json!([]))).await;
    let (two, three) = (two["id"].as_str().unwrap().to_string(), three["id"].as_str().unwrap().to_string());
    let get = |id: &str| {
        let path = format!("/monitors/{id}");
        let stack = &stack;
        async move { stack.get(&path).await }
    };
    wait_for("every region up on both monitors", WAIT, || async {
        let (a, b) = (get(&two).await, get(&three).await);
        let all = ["eu", "us", "ap"].iter().all(|r| region_status(&b, r).as_deref() == Some("up"));
        let listed = ["eu", "us"].iter().all(|r| region_status(&a, r).as_deref() == Some("up"));
        (a["status"] == "up" && b["status"] == "up" && all && listed).then_some(())
    })
    .await;
    assert_eq!(
        region_status(&get(&two).await, "ap"),
        None,
        "a region the monitor does not list never probes it"
    );
    let regions = stack.get("/regions").await;
    let names: Vec<&str> =
        regions["items"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ap", "eu", "us"]);

    // One region sees it down: one of two and one of three are no majority.
    failing.lock().unwrap().insert("eu".into());
    wait_for("eu sees both down", WAIT, || async {
        let (a, b) = (get(&two).await, get(&three).await);
        (region_status(&a, "eu").as_deref() == Some("down")
            && region_status(&b, "eu").as_deref() == Some("down"))
        .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.received().is_empty(), "no incident while only eu sees it down");
    assert_eq!(
        (get(&two).await["status"].clone(), get(&three).await["status"].clone()),
        (json!("up"), json!("up"))
    );

    // Two regions see it down: two of two, and two of three.
    failing.lock().unwrap().insert("us".into());
    let hooks = wait_for("both down webhooks", WAIT, || async {
        let hooks: Vec<Value> = receiver.received().iter().map(|h| h.json()).collect();
        (hooks.len() >= 2).then_some(hooks)
    })
    .await;
    for hook in &hooks[..2] {
        assert_eq!(hook["type"], "monitor.down");
        assert_eq!(hook["cause"], "down in eu, us: expected 2xx, got 500");
    }
    let incidents = stack.get("/incidents?state=open").await;
    assert_eq!(incidents["items"].as_array().unwrap().len(), 2);

    // eu recovers: three has two of three up again, two has one of two down (no majority).
    failing.lock().unwrap().remove("eu");
    let ups = wait_for("both up webhooks", WAIT, || async {
        let ups: Vec<Value> =
            receiver.received().iter().map(|h| h.json()).filter(|h| h["type"] == "monitor.up").collect();
        (ups.len() >= 2).then_some(ups)
    })
    .await;
    assert_eq!(ups.len(), 2);
    cancel.cancel();
    for t in others {
        tokio::time::timeout(WAIT, t).await.expect("replica stops").expect("no panic");
    }
    stack.stop().await;
}

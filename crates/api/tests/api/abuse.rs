//! Abuse: password hashing is bounded (a burst of sign-ups gets 503s with `Retry-After`, never
//! a 500, and the API keeps answering), and rate limits hold across replicas.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn a_burst_of_signups_past_the_hashing_bound_gets_503_with_retry_after_and_health_answers() {
    let app = spawn_app_with(|s| {
        s.abuse.password_hash.concurrency = 1;
        s.abuse.password_hash.wait_ms = 1;
        s.abuse.rate_limits.enabled = false;
    })
    .await;
    let url = format!("{}/api/v1/auth/signup", app.address);

    let burst = (0..24).map(|i| {
        let (client, url) = (app.client.clone(), url.clone());
        tokio::spawn(async move {
            let body = json!({"email": format!("u{i}@example.com"), "password": "long enough password"});
            client.post(url).json(&body).send().await.unwrap()
        })
    });
    let health = async {
        let started = std::time::Instant::now();
        let r = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
        (r.status().as_u16(), started.elapsed())
    };
    let (responses, (health_status, health_took)) = tokio::join!(futures::future::join_all(burst), health);

    let mut statuses = Vec::new();
    for r in responses {
        let r = r.unwrap();
        let status = r.status().as_u16();
        if status == 503 {
            assert_eq!(r.headers()["retry-after"], "1");
            let body = assert_problem(r, 503, None).await;
            assert_eq!(body["type"], "urn:upcheck:problem:busy");
        }
        statuses.push(status);
    }
    assert!(statuses.iter().all(|s| [201, 202, 503].contains(s)), "{statuses:?}");
    assert!(statuses.contains(&503), "no sign-up was turned away: {statuses:?}");
    assert!(statuses.iter().any(|s| *s != 503), "every sign-up was turned away: {statuses:?}");
    assert_eq!(health_status, 200);
    assert!(health_took < std::time::Duration::from_secs(2), "healthz took {health_took:?}");
}

#[tokio::test]
async fn signups_that_wait_for_a_hashing_slot_all_succeed_within_the_wait() {
    let app = spawn_app_with(|s| {
        s.abuse.password_hash.concurrency = 1;
        s.abuse.password_hash.wait_ms = 20_000;
        s.abuse.rate_limits.enabled = false;
    })
    .await;

    let burst = (0..6).map(|i| {
        let app = &app;
        async move { app.signup(&format!("w{i}@example.com")).await.status().as_u16() }
    });
    let statuses = futures::future::join_all(burst).await;

    assert!(statuses.iter().all(|s| *s == 201 || *s == 202), "{statuses:?}");
}

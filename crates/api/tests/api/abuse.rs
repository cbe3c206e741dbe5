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

/// A log-in of `email` with a wrong password, through `base` with `forwarded_for`.
async fn failed_login(
    app: &TestApp,
    base: &str,
    email: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": "not the password"}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

/// Asserts a 429 rate-limited problem naming `setting`, with `Retry-After` in 1..=60 s.
async fn assert_limited(r: reqwest::Response, setting: &str) {
    let retry_after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(r.headers().contains_key("ratelimit-policy"));
    let body = assert_problem(r, 429, None).await;
    assert_eq!(body["type"], "urn:upcheck:problem:rate-limited");
    assert_eq!(body["limit"], setting);
}

#[tokio::test]
async fn logins_on_one_account_past_the_limit_are_429_and_another_account_is_unaffected() {
    let app = spawn_app_with(|s| s.abuse.rate_limits.login_per_minute = 3).await;
    app.signup("victim@example.com").await;
    app.signup("other@example.com").await;

    for _ in 0..3 {
        assert_eq!(failed_login(&app, &app.address, "victim@example.com", None).await.status(), 401);
    }
    // The account is the e-mail whatever its case and spaces.
    let over = failed_login(&app, &app.address, " Victim@Example.com", None).await;

    assert_limited(over, "RATE_LIMIT_LOGIN_PER_MINUTE").await;
    let pair = app.login("other@example.com").await;
    assert!(pair["access_token"].is_string());
}

#[tokio::test]
async fn two_replicas_on_one_redis_share_the_limit() {
    let app = spawn_app_with(|s| s.abuse.rate_limits.login_per_minute = 4).await;
    let (replica, _stop) = spawn_replica(&app).await;

    for base in [&app.address, &replica, &app.address, &replica] {
        assert_eq!(failed_login(&app, base, "a@example.com", None).await.status(), 401);
    }

    assert_limited(failed_login(&app, &replica, "a@example.com", None).await, "RATE_LIMIT_LOGIN_PER_MINUTE")
        .await;
    assert_limited(
        failed_login(&app, &app.address, "a@example.com", None).await,
        "RATE_LIMIT_LOGIN_PER_MINUTE",
    )
    .await;
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_with(|s| s.abuse.rate_limits.login_by_address_per_minute = 2).await;

    // Each request claims another address; the peer (127.0.0.1) is what counts.
    for (i, email) in ["a@example.com", "b@example.com"].iter().enumerate() {
        let r = failed_login(&app, &app.address, email, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(r.status(), 401);
    }
    let over = failed_login(&app, &app.address, "c@example.com", Some("203.0.113.99")).await;

    assert_limited(over, "RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE").await;
}

#[tokio::test]
async fn x_forwarded_for_from_a_trusted_proxy_names_the_client() {
    let app = spawn_app_with(|s| {
        s.abuse.rate_limits.login_by_address_per_minute = 2;
        s.abuse.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    })
    .await;

    // The client is the rightmost untrusted address: what it wrote itself (the left) is ignored.
    for spoofed in ["1.1.1.1", "2.2.2.2"] {
        let xff = format!("{spoofed}, 198.51.100.7, 10.0.0.5");
        assert_eq!(failed_login(&app, &app.address, "a@example.com", Some(&xff)).await.status(), 401);
    }
    let over = failed_login(&app, &app.address, "b@example.com", Some("9.9.9.9, 198.51.100.7")).await;
    let elsewhere = failed_login(&app, &app.address, "c@example.com", Some("198.51.100.8")).await;

    assert_limited(over, "RATE_LIMIT_LOGIN_BY_ADDRESS_PER_MINUTE").await;
    assert_eq!(elsewhere.status(), 401, "another client behind the proxy has its own limit");
}

#[tokio::test]
async fn signups_by_address_and_other_requests_by_user_are_limited() {
    let app = spawn_app_with(|s| {
        s.abuse.rate_limits.signup_per_minute = 2;
        s.abuse.rate_limits.api_per_minute = 3;
    })
    .await;
    let token = app.user("a@example.com").await;
    assert!([201, 202].contains(&app.signup("b@example.com").await.status().as_u16()));
    assert_limited(app.signup("c@example.com").await, "RATE_LIMIT_SIGNUP_PER_MINUTE").await;

    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
    }
    assert_limited(app.get("/api/v1/me", &token).await, "RATE_LIMIT_API_PER_MINUTE").await;
    // Unauthenticated requests count against the address, not the user.
    let anonymous = app.client.get(format!("{}/api/v1/openapi.json", app.address)).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);
    // Health checks are never limited.
    assert_eq!(app.client.get(format!("{}/healthz", app.address)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn heartbeat_pings_past_the_limit_are_429() {
    let app = spawn_app_with(|s| s.abuse.rate_limits.heartbeat_per_minute = 2).await;
    let token = app.user("a@example.com").await;
    let m: serde_json::Value = app
        .create_monitor(
            &token,
            json!({"name": "cron", "kind": "heartbeat", "config": {"period_seconds": 60, "grace_seconds": 60}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let url = m["heartbeat_url"].as_str().unwrap();
    let path = &url[url.find("/api/v1/heartbeat/").unwrap()..];

    for _ in 0..2 {
        let r = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = app.client.get(format!("{}{path}", app.address)).send().await.unwrap();
    assert_limited(r, "RATE_LIMIT_HEARTBEAT_PER_MINUTE").await;
}

#[tokio::test]
async fn with_redis_down_requests_are_let_through() {
    let app = spawn_app_with(|s| {
        s.abuse.rate_limits.login_per_minute = 1;
        s.redis.url = "redis://127.0.0.1:1".to_string().into();
    })
    .await;

    for _ in 0..3 {
        let r = failed_login(&app, &app.address, "a@example.com", None).await;
        assert_ne!(r.status(), 429);
        assert_ne!(r.status(), 500);
    }
}

#[tokio::test]
async fn rate_limits_can_be_turned_off() {
    let app = spawn_app_with(|s| {
        s.abuse.rate_limits.login_per_minute = 1;
        s.abuse.rate_limits.enabled = false;
    })
    .await;

    for _ in 0..3 {
        assert_eq!(failed_login(&app, &app.address, "a@example.com", None).await.status(), 401);
    }
}

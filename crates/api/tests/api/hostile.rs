//! Hostile input: a NUL character anywhere is a 422 naming where it is (never a 500: Postgres
//! refuses NUL in text), and what the document promises is what the API returns.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_nul_character_in_any_body_string_is_422_naming_its_path() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let monitor = |key: &str, value: Value| {
        let mut b = json!({"name": "api", "url": "http://127.0.0.1:1/health"});
        b[key] = value;
        b
    };
    let cases = [
        ("/api/v1/monitors", monitor("name", json!("a\u{0}b")), "name"),
        ("/api/v1/monitors", monitor("url", json!("http://127.0.0.1:1/\u{0}")), "url"),
        ("/api/v1/monitors", monitor("body", json!("\u{0}")), "body"),
        ("/api/v1/monitors", monitor("headers", json!({"X-A": "v\u{0}"})), "headers.X-A"),
        ("/api/v1/monitors", monitor("headers", json!({"X\u{0}": "v"})), "headers.X\\u0000"),
        ("/api/v1/monitors", monitor("regions", json!(["local", "e\u{0}"])), "regions[1]"),
        (
            "/api/v1/channels",
            json!({"kind": "webhook", "name": "n", "config": {"url": "http://127.0.0.1:1/\u{0}"}}),
            "config.url",
        ),
        ("/api/v1/channels", json!({"kind": "webhook", "name": "\u{0}", "config": {}}), "name"),
    ];
    for (path, body, field) in cases {
        let r = app.call(Method::POST, path, Some(&token), Some(body.clone())).await;
        let problem = assert_problem(r, 422, Some(field)).await;
        assert!(problem["detail"].as_str().unwrap().contains("NUL"), "{body}: {problem}");
    }
}

#[tokio::test]
async fn a_nul_character_at_login_or_signup_is_422_not_500() {
    let app = spawn_app().await;
    for path in ["/api/v1/auth/login", "/api/v1/auth/signup"] {
        let body = json!({"email": "a\u{0}@example.com", "password": "long enough password"});
        let r = app.call(Method::POST, path, None, Some(body)).await;
        assert_problem(r, 422, Some("email")).await;
    }
    let r =
        app.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": "\u{0}"}))).await;
    assert_problem(r, 422, Some("refresh_token")).await;
}

#[tokio::test]
async fn an_escaped_backslash_before_u0000_is_plain_text_and_accepted() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let r = app
        .raw_post(
            "/api/v1/monitors",
            &token,
            br#"{"name": "a\\u0000b", "url": "http://127.0.0.1:1/health"}"#.to_vec(),
        )
        .await;

    assert_eq!(r.status(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["name"], "a\\u0000b");
}

#[tokio::test]
async fn a_nul_character_in_a_query_parameter_or_path_is_422() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;

    let r = app.get("/api/v1/incidents?state=open%00", &token).await;
    assert_problem(r, 422, Some("state")).await;
    let r = app.get("/api/v1/monitors?cursor=%00", &token).await;
    assert_problem(r, 422, Some("cursor")).await;
    let r = app.call(Method::GET, "/api/v1/heartbeat/abc%00def", None, None).await;
    assert_problem(r, 422, Some("path")).await;
}

#[tokio::test]
async fn expected_status_is_documented_as_the_strings_and_integers_it_is() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];

    let r = app
        .create_monitor(
            &token,
            json!({"name": "api", "url": "http://127.0.0.1:1/", "expected_status": ["2XX", "301", 418]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let returned: Value = r.json().await.unwrap();

    assert_eq!(returned["expected_status"], json!(["2xx", 301, 418]));
    for view in ["MonitorView", "CreateMonitor", "UpdateMonitor"] {
        let property = schemas[view]["properties"]["expected_status"].to_string();
        assert!(property.contains("#/components/schemas/ExpectedStatus"), "{view}: {property}");
    }
    let one_of = schemas["ExpectedStatus"]["oneOf"].as_array().expect("ExpectedStatus is a oneOf");
    let types: Vec<&str> = one_of.iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["string", "integer"]);
    let pattern = regex::Regex::new(one_of[0]["pattern"].as_str().unwrap()).unwrap();
    for item in returned["expected_status"].as_array().unwrap() {
        match item {
            Value::String(s) => assert!(pattern.is_match(s), "{s} does not match the documented pattern"),
            Value::Number(n) => {
                let n = n.as_u64().unwrap();
                assert!(
                    one_of[1]["minimum"].as_u64().unwrap() <= n
                        && n <= one_of[1]["maximum"].as_u64().unwrap()
                );
            }
            other => panic!("expected_status item {other} is neither a string nor an integer"),
        }
    }
}

#[tokio::test]
async fn names_with_control_or_bidi_characters_are_422_naming_the_field() {
    let app = spawn_app().await;
    let token = app.user("a@example.com").await;
    let m = app.monitor(&token).await;
    let window = |name: &str| {
        json!({"name": name, "monitor_ids": [m["id"]], "rrule": "FREQ=DAILY",
            "dtstart": "2026-03-01T02:00:00", "duration_minutes": 60, "timezone": "Europe/Berlin"})
    };
    for name in ["pay\u{202E}lanoitan", "a\u{2066}b", "a\u{200F}b", "a\u{061C}b", "line\nbreak", "bell\u{7}"]
    {
        let cases = [
            (
                Method::POST,
                "/api/v1/monitors".to_string(),
                json!({"name": name, "url": "http://127.0.0.1:1/"}),
            ),
            (Method::PATCH, format!("/api/v1/monitors/{}", m["id"].as_str().unwrap()), json!({"name": name})),
            (
                Method::POST,
                "/api/v1/channels".to_string(),
                json!({"kind": "webhook", "name": name, "config": {"url": "http://127.0.0.1:1/"}}),
            ),
            (Method::POST, "/api/v1/maintenance-windows".to_string(), window(name)),
        ];
        for (method, path, body) in cases {
            let r = app.call(method.clone(), &path, Some(&token), Some(body)).await;
            let problem = assert_problem(r, 422, Some("name")).await;
            assert!(problem["detail"].as_str().unwrap().contains("U+"), "{method} {path}: {problem}");
        }
    }
    let fine =
        app.create_monitor(&token, json!({"name": "واجهة API — 東京", "url": "http://127.0.0.1:1/"})).await;
    assert_eq!(fine.status(), 201);
}

#[tokio::test]
async fn a_dead_letter_cursor_that_is_no_stream_id_is_400_not_503() {
    let app = spawn_app().await;
    let admin = app.user("admin@example.com").await;

    for cursor in ["null", "1-x", "99999999999999999999999-0"] {
        let r = app.get(&format!("/api/v1/admin/dead-letters?cursor={cursor}"), &admin).await;
        assert_problem(r, 400, Some("cursor")).await;
    }
    let r = app.get("/api/v1/admin/dead-letters?cursor=1700000000000-0", &admin).await;
    assert_eq!(r.status(), 200);
}

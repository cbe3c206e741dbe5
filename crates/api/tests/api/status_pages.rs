//! Status pages through the REST API (validation by field, ownership, CRUD) and what visitors
//! get without authentication: the page as JSON and HTML, 404 for unpublished pages, ETag/304,
//! badges, and the per-process cache serving one build per interval.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use upcheck_testkit::fixtures;
use uuid::Uuid;

const PATH: &str = "/api/v1/status-pages";

async fn post(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(Method::POST, PATH, Some(token), Some(body)).await
}

/// A published page `slug` showing `monitor` as "API" in section "Core"; returns its JSON.
async fn page(app: &TestApp, token: &str, slug: &str, monitor: &Value) -> Value {
    let r = post(
        app,
        token,
        json!({"slug": slug, "title": "Acme status", "published": true,
            "sections": [{"name": "Core", "monitors": [{"monitor_id": monitor, "display_name": "API"}]}]}),
    )
    .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn public(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.address)).send().await.unwrap()
}

/// Writes `checks` (status, latency) for `monitor`, one second apart, ending now. First it
/// sleeps past an hour boundary less than 5 s ahead or less than 4 s behind, so that the checks,
/// and the page read just after them, fall in one clock hour and one UTC day.
async fn checks(app: &TestApp, monitor: &str, outcomes: &[(&str, i32)]) {
    let now = time::OffsetDateTime::now_utc();
    let into_hour =
        f64::from(u32::from(now.minute()) * 60 + u32::from(now.second())) + f64::from(now.nanosecond()) / 1e9;
    let wait = if into_hour < 4.0 {
        4.0 - into_hour
    } else if into_hour > 3_595.0 {
        3_604.0 - into_hour
    } else {
        0.0
    };
    tokio::time::sleep(std::time::Duration::from_secs_f64(wait)).await;
    let id: Uuid = monitor.parse().unwrap();
    let db = app.env.db().await;
    for (k, (status, latency)) in outcomes.iter().enumerate() {
        db.execute(
            "INSERT INTO check_results (monitor_id, job_id, region, due_at, checked_at, status, latency_ms) \
             VALUES ($1, $2, 'local', now(), now() - make_interval(secs => $3), $4, $5)",
            &[&id, &format!("{k}-0"), &(k as f64), status, latency],
        )
        .await
        .unwrap();
    }
}

async fn set_status(app: &TestApp, monitor: &str, status: &str) {
    let id: Uuid = monitor.parse().unwrap();
    app.env
        .db()
        .await
        .execute("UPDATE monitor_state SET status = $2 WHERE monitor_id = $1", &[&id, &status])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_status_page_is_created_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let (a, b) = (app.monitor(&token).await["id"].clone(), app.monitor(&token).await["id"].clone());
    let r = post(
        &app,
        &token,
        json!({"slug": "acme-prod", "title": "  Acme  ", "description": "Line one\nline two",
            "logo_url": "https://acme.example/logo.png",
            "sections": [{"name": "Core", "monitors": [{"monitor_id": a, "display_name": "API"},
                                                      {"monitor_id": b, "display_name": "Web"}]},
                         {"name": "Empty", "monitors": []}]}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["slug"], "acme-prod");
    assert_eq!(created["title"], "Acme");
    assert_eq!(created["published"], false);
    assert_eq!(created["url"], "/status/acme-prod");
    let core = &created["sections"][0];
    assert_eq!(core["monitors"][0]["display_name"], "API");
    assert_eq!(core["monitors"][1]["monitor_id"], b);
    let public_id = core["monitors"][0]["public_id"].as_str().unwrap();
    assert_eq!(public_id.len(), 32);
    assert!(
        !public_id.contains(&a.as_str().unwrap().replace('-', "")[..8]),
        "public id reveals the monitor id"
    );
    assert_eq!(core["monitors"][0]["status_badge"], format!("/badge/{public_id}/status.svg"));
    assert_eq!(created["sections"][1]["monitors"], json!([]));
    let id = created["id"].as_str().unwrap();

    let list: Value = app.get(PATH, &token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // A PATCH replaces the fields it gives: the order of the monitors, published, no logo.
    let r = app
        .call(
            Method::PATCH,
            &format!("{PATH}/{id}"),
            Some(&token),
            Some(json!({"published": true, "logo_url": null,
                "sections": [{"name": "All", "monitors": [{"monitor_id": b, "display_name": "Web"},
                                                         {"monitor_id": a, "display_name": "API"}]}]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["published"], true);
    assert_eq!(changed["logo_url"], Value::Null);
    assert_eq!(changed["title"], "Acme");
    assert_eq!(changed["sections"].as_array().unwrap().len(), 1);
    assert_eq!(changed["sections"][0]["monitors"][0]["monitor_id"], b);
    let got: Value = app.get(&format!("{PATH}/{id}"), &token).await.json().await.unwrap();
    assert_eq!(got, changed);

    // Another user sees none of it.
    let other = app.user("other@example.com").await;
    assert_eq!(app.get(&format!("{PATH}/{id}"), &other).await.status(), 404);
    assert_eq!(app.call(Method::DELETE, &format!("{PATH}/{id}"), Some(&other), None).await.status(), 404);

    assert_eq!(app.call(Method::DELETE, &format!("{PATH}/{id}"), Some(&token), None).await.status(), 204);
    assert_eq!(app.get(&format!("{PATH}/{id}"), &token).await.status(), 404);
    assert_eq!(public(&app, "/status/acme-prod").await.status(), 404);
}

#[tokio::test]
async fn each_bad_field_is_a_422_naming_it() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let good = json!({"slug": "acme", "title": "Acme",
        "sections": [{"name": "Core", "monitors": [{"monitor_id": m, "display_name": "API"}]}]});
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let entry = |name: &str| json!([{"name": "Core", "monitors": [{"monitor_id": m, "display_name": name}]}]);
    let cases = [
        ("slug", with("slug", json!("Acme"))),
        ("slug", with("slug", json!("-acme"))),
        ("slug", with("slug", json!("acme-"))),
        ("slug", with("slug", json!("a".repeat(65)))),
        ("slug", with("slug", json!("ac me"))),
        ("slug", with("slug", json!("../admin"))),
        ("title", with("title", json!(" "))),
        ("title", with("title", json!("a\u{0}b"))),
        ("title", with("title", json!("evil\u{202E}gnp.exe"))),
        ("title", with("title", json!("x".repeat(201)))),
        ("description", with("description", json!("tab\u{7}bell"))),
        ("description", with("description", json!("d".repeat(2_001)))),
        ("logo_url", with("logo_url", json!("javascript:alert(1)"))),
        ("logo_url", with("logo_url", json!("data:image/png;base64,AAAA"))),
        ("logo_url", with("logo_url", json!("https://user:pw@acme.example/logo.png"))),
        ("logo_url", with("logo_url", json!("https://acme.example/a b.png"))),
        ("sections[0].name", with("sections", json!([{"name": "", "monitors": []}]))),
        ("sections[0].monitors[0].display_name", with("sections", entry("\u{2066}API"))),
        ("sections[0].monitors[0].display_name", with("sections", entry("line\nbreak"))),
        (
            "sections[1].monitors[0].monitor_id",
            with(
                "sections",
                json!([{"name": "A", "monitors": [{"monitor_id": m, "display_name": "API"}]},
                       {"name": "B", "monitors": [{"monitor_id": m, "display_name": "Again"}]}]),
            ),
        ),
        (
            "sections[0].monitors[0].monitor_id",
            with(
                "sections",
                json!([{"name": "A", "monitors": [{"monitor_id": "nope", "display_name": "x"}]}]),
            ),
        ),
        ("sections", with("sections", json!(vec![json!({"name": "s", "monitors": []}); 21]))),
        ("title", json!({"slug": "acme"})),
        ("slug", json!({"title": "Acme"})),
        ("colour", with("colour", json!("red"))),
    ];
    for (field, body) in cases {
        assert_problem(post(&app, &token, body).await, 422, Some(field)).await;
    }
    assert_eq!(post(&app, &token, good.clone()).await.status(), 201);
    // A slug is unique over every user.
    let other = app.user("other@example.com").await;
    let theirs = app.monitor(&other).await["id"].clone();
    let taken = json!({"slug": "acme", "title": "Theirs",
        "sections": [{"name": "Core", "monitors": [{"monitor_id": theirs, "display_name": "API"}]}]});
    assert_problem(post(&app, &other, taken).await, 422, Some("slug")).await;
}

#[tokio::test]
async fn another_users_monitor_is_refused_naming_its_place() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let mine = app.monitor(&token).await["id"].clone();
    let other = app.user("other@example.com").await;
    let theirs = app.monitor(&other).await["id"].clone();
    let body = json!({"slug": "acme", "title": "Acme",
        "sections": [{"name": "A", "monitors": [{"monitor_id": mine, "display_name": "Mine"}]},
                     {"name": "B", "monitors": [{"monitor_id": mine.clone(), "display_name": "x"}]}]});
    let mut body = body;
    body["sections"][1]["monitors"][0]["monitor_id"] = theirs.clone();
    let problem =
        assert_problem(post(&app, &token, body).await, 422, Some("sections[1].monitors[0].monitor_id")).await;
    assert!(problem["detail"].as_str().unwrap().contains(theirs.as_str().unwrap()));
    assert_eq!(app.get(PATH, &token).await.json::<Value>().await.unwrap()["items"], json!([]));
}

#[tokio::test]
async fn an_unpublished_or_unknown_page_and_its_badges_are_404() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let r = post(
        &app,
        &token,
        json!({"slug": "draft", "title": "Draft",
        "sections": [{"name": "Core", "monitors": [{"monitor_id": m, "display_name": "API"}]}]}),
    )
    .await;
    let created: Value = r.json().await.unwrap();
    let public_id = created["sections"][0]["monitors"][0]["public_id"].as_str().unwrap().to_string();
    for path in ["/status/draft", "/status/nothing-here", "/status/Bad%20Slug"] {
        let r = public(&app, path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("Status page not found"));
    }
    assert_problem(public(&app, "/status/draft.json").await, 404, None).await;
    assert_eq!(public(&app, &format!("/badge/{public_id}/status.svg")).await.status(), 404);
    assert_eq!(public(&app, &format!("/badge/{public_id}/uptime.svg")).await.status(), 404);
    assert_eq!(public(&app, "/badge/not-a-public-id/status.svg").await.status(), 404);
}

#[tokio::test]
async fn a_published_page_shows_its_monitors_state_uptime_and_incidents() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let (a, b) = (app.monitor(&token).await["id"].clone(), app.monitor(&token).await["id"].clone());
    let r = post(
        &app,
        &token,
        json!({"slug": "acme", "title": "Acme <b>status</b>", "description": "\"quoted\" & <i>x</i>",
            "logo_url": "https://acme.example/logo.png?a=1&b=\"x\"", "published": true,
            "sections": [{"name": "Core", "monitors": [{"monitor_id": a, "display_name": "API <script>"},
                                                      {"monitor_id": b, "display_name": "Web"}]}]}),
    )
    .await;
    assert_eq!(r.status(), 201);
    checks(&app, a.as_str().unwrap(), &[("up", 100), ("up", 200), ("up", 300), ("down", 0)]).await;
    set_status(&app, a.as_str().unwrap(), "down").await;
    set_status(&app, b.as_str().unwrap(), "up").await;
    fixtures::apply_down(&app.env, a.as_str().unwrap().parse().unwrap()).await;

    let r = public(&app, "/status/acme.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=30");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["state"], "partial_outage");
    let api = &p["sections"][0]["monitors"][0];
    assert_eq!(api["name"], "API <script>");
    assert_eq!(api["status"], "down");
    assert_eq!(p["sections"][0]["monitors"][1]["status"], "up");
    let days = api["days"].as_array().unwrap();
    assert_eq!(days.len(), 90);
    assert_eq!(days[89]["checks"], 4);
    assert_eq!(days[89]["failures"], 1);
    assert_eq!(days[89]["uptime_percent"], 75.0);
    assert_eq!(days[0]["uptime_percent"], Value::Null);
    // Exact uptime: the only status change on record is the down just now, so all of the
    // monitored time is down (the day's bar still counts checks: 75 %).
    assert_eq!(api["uptime_percent"]["24h"], 0.0);
    assert_eq!(api["uptime_percent"]["90d"], 0.0);
    assert_eq!(
        p["sections"][0]["monitors"][1]["uptime_percent"]["24h"],
        Value::Null,
        "no status change: no data"
    );
    let hours = api["response_time_ms"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[23]["mean_ms"], 150.0); // (100 + 200 + 300 + 0) / 4
    assert!(api.get("monitor_id").is_none() && api.get("url").is_none(), "private fields: {api}");
    let incident = &p["incidents"][0];
    assert_eq!(incident["monitor"], "API <script>");
    assert_eq!(incident["state"], "open");
    assert_eq!(incident["timeline"][0]["type"], "incident.opened");
    assert!(incident.get("cause").is_none(), "the cause stays private: {incident}");

    let r = public(&app, "/status/acme").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'sha256-"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Acme &lt;b&gt;status&lt;/b&gt;</h1>"), "title escaped");
    assert!(html.contains("API &lt;script&gt;") && !html.contains("API <script>"), "display name escaped");
    assert!(
        html.contains(r#"src="https://acme.example/logo.png?a=1&amp;b=%22x%22""#),
        "logo is a quoted src: {html}"
    );
    assert!(html.contains("Partial outage") && html.contains("Outage") && html.contains("Operational"));
    assert!(html.contains("75% uptime, 1 of 4 checks failed"), "a day's tooltip");
    assert!(html.contains("ongoing outage"));
    assert!(!html.contains("connection refused"), "the cause stays private");
    assert!(!html.contains("http://127.0.0.1:1/health"), "the monitor's URL stays private");
    for external in ["<link", "src=\"http://", "cdn", "@import", "fonts.g"] {
        assert!(!html.contains(external), "external asset {external}");
    }
}

#[tokio::test]
async fn a_page_answers_304_to_its_current_etag() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    page(&app, &token, "acme", &m).await;
    for path in ["/status/acme", "/status/acme.json"] {
        let r = public(&app, path).await;
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        assert!(tag.starts_with('"') && tag.len() == 34, "strong etag {tag}");
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{path}");
        assert_eq!(r.headers()["etag"].to_str().unwrap(), tag);
        assert_eq!(r.headers()["cache-control"], "public, max-age=30");
        assert!(r.bytes().await.unwrap().is_empty());
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .header("if-none-match", "\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn badges_are_svg_for_monitors_on_published_pages_only() {
    let app = spawn_app().await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let off_page = app.monitor(&token).await["id"].clone();
    let p = page(&app, &token, "acme", &m).await;
    let public_id = p["sections"][0]["monitors"][0]["public_id"].as_str().unwrap().to_string();
    checks(&app, m.as_str().unwrap(), &[("up", 10), ("up", 10)]).await;
    set_status(&app, m.as_str().unwrap(), "up").await;
    // Up since an hour ago, as its status machine would have recorded it.
    app.env
        .db()
        .await
        .execute(
            "INSERT INTO status_events (id, monitor_id, from_status, to_status, notify, occurred_at) \
             VALUES ($1, $2, 'pending', 'up', false, now() - interval '1 hour')",
            &[&Uuid::now_v7(), &m.as_str().unwrap().parse::<Uuid>().unwrap()],
        )
        .await
        .unwrap();

    let r = public(&app, &format!("/badge/{public_id}/status.svg")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert_eq!(r.headers()["cache-control"], "public, max-age=30");
    assert!(r.headers().contains_key("etag"));
    let svg = r.text().await.unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("aria-label=\"status: up\""), "{svg}");
    for window in ["24h", "7d", "30d", "90d"] {
        let r = public(&app, &format!("/badge/{public_id}/uptime.svg?window={window}")).await;
        assert_eq!(r.status(), 200, "{window}");
        assert_eq!(r.headers()["content-type"], "image/svg+xml");
        assert!(r.text().await.unwrap().contains(&format!("uptime {window}: 100%")));
    }
    assert_problem(
        public(&app, &format!("/badge/{public_id}/uptime.svg?window=1y")).await,
        400,
        Some("window"),
    )
    .await;

    let id: Uuid = off_page.as_str().unwrap().parse().unwrap();
    let row =
        app.env.db().await.query_one("SELECT public_id FROM monitors WHERE id = $1", &[&id]).await.unwrap();
    let hidden: String = row.get(0);
    assert_eq!(public(&app, &format!("/badge/{hidden}/status.svg")).await.status(), 404);
    assert_eq!(public(&app, &format!("/badge/{hidden}/uptime.svg?window=7d")).await.status(), 404);
}

#[tokio::test]
async fn a_page_is_read_once_per_cache_interval_and_afresh_after_its_owner_changes_it() {
    let app = spawn_app_with(|s| s.tunables.status_page_cache_seconds = 3).await;
    let token = app.user("ops@example.com").await;
    let m = app.monitor(&token).await["id"].clone();
    let p = page(&app, &token, "acme", &m).await;
    let json = |r: reqwest::Response| async move { r.json::<Value>().await.unwrap() };
    let first = json(public(&app, "/status/acme.json").await).await;
    assert_eq!(first["sections"][0]["monitors"][0]["status"], "pending");

    // Within the interval, a change in Postgres is not read: the cached build is served.
    set_status(&app, m.as_str().unwrap(), "down").await;
    let cached = json(public(&app, "/status/acme.json").await).await;
    assert_eq!(cached, first, "served from the cache");

    // After it, the page is built again.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    let fresh = json(public(&app, "/status/acme.json").await).await;
    assert_eq!(fresh["sections"][0]["monitors"][0]["status"], "down");
    assert_ne!(fresh["generated_at"], first["generated_at"]);

    // The owner's own change is seen at once (this process forgets the page).
    let id = p["id"].as_str().unwrap();
    let r = app
        .call(Method::PATCH, &format!("{PATH}/{id}"), Some(&token), Some(json!({"title": "Renamed"})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(public(&app, "/status/acme.json").await).await["title"], "Renamed");
    let r = app
        .call(Method::PATCH, &format!("{PATH}/{id}"), Some(&token), Some(json!({"published": false})))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(public(&app, "/status/acme.json").await.status(), 404);
}

#[tokio::test]
async fn the_openapi_document_lists_status_pages_and_their_public_urls() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    for path in [
        "/api/v1/status-pages",
        "/api/v1/status-pages/{id}",
        "/status/{slug}",
        "/status/{slug}.json",
        "/status/{slug}/events",
        "/badge/{public_id}/status.svg",
        "/badge/{public_id}/uptime.svg",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["schemas"].get("PublicPage").is_some());
}

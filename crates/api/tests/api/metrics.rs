//! `/metrics` is served only on its own listener (`METRICS_PORT`), never on the public port.

use crate::helpers::*;

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port() {
    let app = spawn_app().await;

    let r = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();

    assert_eq!(r.status(), 404);
    let body = r.text().await.unwrap();
    assert!(!body.contains("upcheck_"), "metrics leaked on the public port: {body}");
}

#[tokio::test]
async fn metrics_are_prometheus_text_on_the_metrics_port() {
    let app = spawn_app().await;
    assert_ne!(app.metrics_address, app.address);
    // One counted request, so the exposition is not empty.
    let r = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let r = app.client.get(format!("{}/metrics", app.metrics_address)).send().await.unwrap();

    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = r.text().await.unwrap();
    assert!(text.contains("# TYPE upcheck_http_requests_total counter"), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
    assert!(text.contains("upcheck_db_pool_max_connections"), "{text}");
}

#[tokio::test]
async fn the_metrics_listener_serves_nothing_but_metrics() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
        let r = app.client.get(format!("{}{path}", app.metrics_address)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

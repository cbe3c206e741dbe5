//! Every route is in the OpenAPI document, and every documented route is served.

use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;

/// Every route of DESIGN.md's API table that this release serves.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/logout-all"),
    ("post", "/api/v1/api-keys"),
    ("get", "/api/v1/api-keys"),
    ("get", "/api/v1/api-keys/{id}"),
    ("delete", "/api/v1/api-keys/{id}"),
    ("post", "/api/v1/monitors"),
    ("get", "/api/v1/monitors"),
    ("get", "/api/v1/monitors/{id}"),
    ("patch", "/api/v1/monitors/{id}"),
    ("delete", "/api/v1/monitors/{id}"),
    ("post", "/api/v1/monitors/{id}/pause"),
    ("post", "/api/v1/monitors/{id}/resume"),
    ("get", "/api/v1/monitors/{id}/checks"),
    ("get", "/api/v1/monitors/{id}/stats"),
    ("get", "/api/v1/monitors/{id}/incidents"),
    ("get", "/api/v1/monitors/{id}/notifications"),
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/{id}"),
    ("post", "/api/v1/incidents/{id}/acknowledge"),
    ("get", "/api/v1/incidents/{id}/timeline"),
    ("post", "/api/v1/channels"),
    ("get", "/api/v1/channels"),
    ("get", "/api/v1/channels/{id}"),
    ("patch", "/api/v1/channels/{id}"),
    ("delete", "/api/v1/channels/{id}"),
    ("post", "/api/v1/channels/{id}/test"),
    ("post", "/api/v1/maintenance-windows"),
    ("get", "/api/v1/maintenance-windows"),
    ("get", "/api/v1/maintenance-windows/{id}"),
    ("patch", "/api/v1/maintenance-windows/{id}"),
    ("delete", "/api/v1/maintenance-windows/{id}"),
    ("post", "/api/v1/status-pages"),
    ("get", "/api/v1/status-pages"),
    ("get", "/api/v1/status-pages/{id}"),
    ("patch", "/api/v1/status-pages/{id}"),
    ("delete", "/api/v1/status-pages/{id}"),
    ("get", "/status/{slug}"),
    ("get", "/status/{slug}.json"),
    ("get", "/status/{slug}/events"),
    ("get", "/badge/{public_id}/status.svg"),
    ("get", "/badge/{public_id}/uptime.svg"),
    ("post", "/api/v1/channels/{id}/secret/rotate"),
    ("get", "/api/v1/heartbeat/{token}"),
    ("post", "/api/v1/heartbeat/{token}"),
    ("post", "/api/v1/heartbeat/{token}/{action}"),
    ("get", "/api/v1/regions"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/admin/dead-letters"),
    ("post", "/api/v1/admin/dead-letters/{id}/replay"),
    ("post", "/api/v1/admin/dead-letters/replay"),
    ("delete", "/api/v1/admin/dead-letters/{id}"),
    ("get", "/api/v1/admin/users"),
    ("post", "/api/v1/admin/users/{id}/disable"),
    ("post", "/api/v1/admin/users/{id}/enable"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
];

#[tokio::test]
async fn every_route_is_documented_in_openapi_3_1_and_served() {
    let app = spawn_app().await;
    let doc = app.openapi().await;

    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let bearer = doc["components"]["securitySchemes"]["bearer"]["description"].as_str().unwrap_or_default();
    assert!(
        bearer.contains("upk_") && bearer.contains("scope"),
        "the bearer scheme tells of API keys: {bearer}"
    );
    let mut documented = 0;
    for (method, path) in ROUTES {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} missing from openapi.json");
        let url = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        let r =
            app.call(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), &url, None, None).await;
        if r.status() == 404 {
            let body: Value = r.json().await.unwrap_or_default();
            assert_ne!(body["type"], "urn:upcheck:problem:no-such-route", "{method} {path} is not served");
        }
        documented += 1;
    }
    let total: usize =
        doc["paths"].as_object().unwrap().values().map(|ops| ops.as_object().unwrap().len()).sum();
    assert_eq!(total, documented, "the document has exactly the served routes");
}

#[tokio::test]
async fn every_monitor_kind_config_and_assertion_is_in_the_document() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];

    let config = &schemas["MonitorConfig"]["oneOf"];
    let kinds: Vec<&str> = config
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(kinds, ["HttpConfig", "TcpConfig", "DnsConfig", "TlsConfig", "HeartbeatConfig"]);
    for schema in ["HttpConfig", "TcpConfig", "DnsConfig", "TlsConfig", "HeartbeatConfig"] {
        assert!(schemas[schema]["example"].is_object(), "{schema} has no example");
    }
    for schema in ["Assertion", "CertificateCheck"] {
        assert!(schemas[schema].is_object(), "{schema} missing");
    }
    let assertion = serde_json::to_string(&schemas["Assertion"]).unwrap();
    for kind in ["body_contains", "body_not_contains", "json", "header", "latency_below"] {
        assert!(assertion.contains(kind), "assertion {kind} missing");
    }
}

#[tokio::test]
async fn every_channel_kind_config_is_in_the_document_with_an_example() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];

    let kinds: Vec<&str> = schemas["ChannelConfigDoc"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["$ref"].as_str())
        .map(|r| r.rsplit('/').next().unwrap())
        .collect();
    let expected = [
        "WebhookConfig",
        "SlackConfig",
        "DiscordConfig",
        "TeamsConfig",
        "TelegramConfig",
        "PagerDutyConfig",
        "NtfyConfig",
        "EmailConfig",
    ];
    assert_eq!(kinds, expected);
    for schema in expected {
        assert!(schemas[schema]["example"].is_object(), "{schema} has no example");
    }
    let create = &schemas["CreateChannel"]["properties"]["config"];
    assert!(create.to_string().contains("ChannelConfigDoc"), "{create}");
}

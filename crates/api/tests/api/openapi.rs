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
async fn every_rate_limited_route_documents_its_429_problem_with_retry_after() {
    let app = spawn_app().await;
    let doc = app.openapi().await;
    let mut limited = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let response = &op["responses"]["429"];
            if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                assert!(response.is_object(), "{method} {path} does not document its 429");
                if response["headers"].is_object() {
                    assert!(response["headers"]["Retry-After"].is_object(), "{method} {path}");
                    assert!(response["content"]["application/problem+json"].is_object(), "{method} {path}");
                }
                limited += 1;
            }
        }
    }
    assert!(limited > 40, "only {limited} routes documented a 429");
    let create = &doc["paths"]["/api/v1/monitors"]["post"]["responses"]["429"];
    assert!(create["headers"]["Retry-After"].is_object(), "{create}");
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

#[tokio::test]
async fn interactive_docs_are_served_with_every_asset_from_the_api_itself() {
    let app = spawn_app().await;
    let get = |path: String| {
        let (client, url) = (app.client.clone(), format!("{}{path}", app.address));
        async move { client.get(url).send().await.unwrap() }
    };

    let bare = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = bare.get(format!("{}/api/v1/docs", app.address)).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/api/v1/docs/");
    let page = get("/api/v1/docs/".into()).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();

    // Every script and stylesheet is a relative path served here, none from another host.
    let assets: Vec<&str> =
        html.split(['"', '\'']).filter(|s| s.ends_with(".js") || s.ends_with(".css")).collect();
    assert!(assets.iter().any(|a| a.contains("swagger-ui-bundle.js")), "{html}");
    for asset in &assets {
        assert!(!asset.contains("//"), "{asset} is loaded from elsewhere");
        let r = get(format!("/api/v1/docs/{}", asset.trim_start_matches("./"))).await;
        assert_eq!(r.status(), 200, "{asset}");
        let body = r.text().await.unwrap();
        assert!(body.len() > 100, "{asset} is empty");
        if asset.contains("initializer") {
            assert!(body.contains("/api/v1/openapi.json"), "{body}");
            assert!(body.replace(' ', "").contains(r#""validatorUrl":"none""#), "{body}");
        }
    }
    assert!(assets.iter().any(|a| a.contains("initializer")), "{assets:?}");
}

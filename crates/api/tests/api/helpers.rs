//! `spawn_app()`: the API on port 0 over a fresh database and Redis prefix, with one helper per
//! endpoint the tests use.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use upcheck_testkit::TestEnv;

pub(crate) struct TestApp {
    pub(crate) address: String,
    /// The separate `/metrics` listener's base URL.
    pub(crate) metrics_address: String,
    pub(crate) env: TestEnv,
    pub(crate) client: reqwest::Client,
    cancel: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the settings changed by `tweak` first.
pub(crate) async fn spawn_app_with(tweak: impl FnOnce(&mut upcheck_config::Settings)) -> TestApp {
    upcheck_config::install_crypto_provider();
    let env = TestEnv::new().await;
    let mut settings = env.settings.clone();
    tweak(&mut settings);
    let app = upcheck_api::Application::build(settings).await.expect("api builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port());
    let cancel = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(cancel.clone()));
    TestApp { address, metrics_address, env, client: reqwest::Client::new(), cancel }
}

impl TestApp {
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request sent")
    }

    pub(crate) async fn raw_post(&self, path: &str, token: &str, body: Vec<u8>) -> Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub(crate) async fn signup(&self, email: &str) -> Response {
        self.call(
            Method::POST,
            "/api/v1/auth/signup",
            None,
            Some(json!({"email": email, "password": "long enough password"})),
        )
        .await
    }

    pub(crate) async fn login(&self, email: &str) -> Value {
        let r = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": "long enough password"})),
            )
            .await;
        assert_eq!(r.status(), 200, "login");
        r.json().await.unwrap()
    }

    /// Signs up `email` and returns an access token.
    pub(crate) async fn user(&self, email: &str) -> String {
        assert_eq!(self.signup(email).await.status(), 201);
        self.login(email).await["access_token"].as_str().unwrap().to_string()
    }

    pub(crate) async fn create_monitor(&self, token: &str, body: Value) -> Response {
        self.call(Method::POST, "/api/v1/monitors", Some(token), Some(body)).await
    }

    /// Creates a valid monitor and returns its JSON.
    pub(crate) async fn monitor(&self, token: &str) -> Value {
        let r = self.create_monitor(token, json!({"name": "api", "url": "http://127.0.0.1:1/health"})).await;
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// A webhook channel to `url`, then a test send through it: the test send's answer.
    pub(crate) async fn test_send_to(&self, token: &str, url: &str) -> Value {
        let c: Value = self
            .call(
                Method::POST,
                "/api/v1/channels",
                Some(token),
                Some(serde_json::json!({"kind": "webhook", "name": "n", "config": {"url": url}})),
            )
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/api/v1/channels/{}/test", c["id"].as_str().unwrap());
        self.call(Method::POST, &path, Some(token), None).await.json().await.unwrap()
    }

    /// The served OpenAPI document.
    pub(crate) async fn openapi(&self) -> Value {
        self.client
            .get(format!("{}/api/v1/openapi.json", self.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }
}

/// Asserts an RFC 9457 problem with `status` naming `field`; returns the body.
pub(crate) async fn assert_problem(r: Response, status: u16, field: Option<&str>) -> Value {
    assert_eq!(r.status(), status, "status");
    assert_eq!(
        r.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(), "{body}");
    if let Some(f) = field {
        assert_eq!(body["errors"][0]["field"], f, "{body}");
    }
    body
}

impl TestApp {
    /// Creates an API key named `name` with `scopes` (and `expires_at`, if given) as `token`'s
    /// user; returns the creation's answer (with the secret in `key`).
    pub(crate) async fn api_key(&self, token: &str, scopes: &[&str], expires_at: Option<&str>) -> Value {
        let r = self
            .call(
                Method::POST,
                "/api/v1/api-keys",
                Some(token),
                Some(json!({"name": "ci script", "scopes": scopes, "expires_at": expires_at})),
            )
            .await;
        assert_eq!(r.status(), 201, "api key created");
        r.json().await.unwrap()
    }

    /// Spends a refresh token: the response.
    pub(crate) async fn refresh(&self, refresh_token: &Value) -> Response {
        self.call(Method::POST, "/api/v1/auth/refresh", None, Some(json!({"refresh_token": refresh_token})))
            .await
    }
}

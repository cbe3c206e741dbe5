//! The whole stack in-process: the API on port 0 and the three workers, sharing one test
//! environment, plus a REST client.

use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upcheck_testkit::TestEnv;

pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) struct Stack {
    pub(crate) env: TestEnv,
    pub(crate) api: String,
    /// The API's `/metrics` URL (its own listener, not `api`).
    pub(crate) api_metrics: String,
    pub(crate) http: reqwest::Client,
    pub(crate) token: String,
    /// The health/metrics ports of the monitoring, status-change and notification workers.
    pub(crate) health_ports: [u16; 3],
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::start_in(TestEnv::new().await).await
    }

    /// The stack on `env`'s servers and settings.
    pub(crate) async fn start_in(env: TestEnv) -> Self {
        upcheck_config::install_crypto_provider();
        let cancel = CancellationToken::new();
        let app = upcheck_api::Application::build(env.settings.clone()).await.expect("api");
        let api = format!("http://127.0.0.1:{}", app.port());
        let api_metrics = format!("http://127.0.0.1:{}/metrics", app.metrics_port());
        let mut tasks = Vec::new();
        let c = cancel.clone();
        tasks.push(tokio::spawn(async move {
            app.run_until_stopped(c).await.expect("api runs");
        }));
        let m =
            upcheck_worker_monitoring::start(env.settings.clone(), cancel.clone()).await.expect("monitoring");
        let mut health_ports = [m.health_port(), 0, 0];
        tasks.push(tokio::spawn(m.wait()));
        let s = upcheck_worker_status_change::start(env.settings.clone(), cancel.clone())
            .await
            .expect("status-change");
        health_ports[1] = s.health_port();
        tasks.push(tokio::spawn(s.wait()));
        let n = upcheck_worker_notification::start(env.settings.clone(), cancel.clone())
            .await
            .expect("notification");
        health_ports[2] = n.health_port();
        tasks.push(tokio::spawn(n.wait()));
        let http = reqwest::Client::new();
        let token = sign_up(&http, &api, "owner@example.com").await;
        Self { env, api, api_metrics, http, token, health_ports, cancel, tasks }
    }

    /// Signs up `email` (a member, after the owner) and returns its access token.
    pub(crate) async fn user_token(&self, email: &str) -> String {
        sign_up(&self.http, &self.api, email).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1{path}", self.api))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or_default();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// Creates a webhook channel named `name` delivering to `receiver`; returns its id.
    pub(crate) async fn webhook_channel(
        &self,
        receiver: &upcheck_testkit::WebhookReceiver,
        name: &str,
    ) -> String {
        let secret = upcheck_domain::webhook::generate_secret();
        let c = self
            .post(
                "/channels",
                serde_json::json!({"kind": "webhook", "name": name, "config": {"url": receiver.url, "secret": secret}}),
            )
            .await;
        c["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/api/v1{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A webhook channel to `receiver_url` and a 1 s monitor of `target_url` (timeout 500 ms,
    /// recovery threshold 1) linked to it, waited for until `up`. Returns the monitor's id and
    /// the channel's signing secret.
    pub(crate) async fn watched(
        &self,
        target_url: &str,
        receiver_url: &str,
        failure_threshold: u32,
    ) -> (String, String) {
        let secret = upcheck_domain::webhook::generate_secret();
        let channel = self
            .post(
                "/channels",
                json!({"kind": "webhook", "name": "ops", "config": {"url": receiver_url, "secret": secret}}),
            )
            .await;
        let monitor = self
            .post(
                "/monitors",
                json!({
                    "name": "target", "url": target_url, "interval_seconds": 1, "timeout_ms": 500,
                    "failure_threshold": failure_threshold, "recovery_threshold": 1,
                    "channel_ids": [channel["id"]],
                }),
            )
            .await;
        let id = monitor["id"].as_str().expect("monitor id").to_string();
        upcheck_testkit::wait_for("the monitor up", WAIT, || async {
            (self.get(&format!("/monitors/{id}")).await["status"] == "up").then_some(())
        })
        .await;
        (id, secret)
    }

    /// Stops everything and waits for a clean shutdown.
    pub(crate) async fn stop(self) {
        self.cancel.cancel();
        for t in self.tasks {
            tokio::time::timeout(WAIT, t).await.expect("component stops").expect("component did not panic");
        }
    }
}

/// Signs up `email` on the API at `api` and logs in: its access token.
async fn sign_up(http: &reqwest::Client, api: &str, email: &str) -> String {
    let creds = json!({"email": email, "password": "correct horse battery"});
    let r = http.post(format!("{api}/api/v1/auth/signup")).json(&creds).send().await.unwrap();
    assert_eq!(r.status(), 201, "signup");
    let r: Value = http
        .post(format!("{api}/api/v1/auth/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"].as_str().expect("access token").to_string()
}

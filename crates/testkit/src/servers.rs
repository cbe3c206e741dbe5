//! Real local HTTP servers for tests: a probe target that flips between healthy and failing,
//! and a webhook receiver that records every request.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A local HTTP target answering every request with a status code the test sets.
pub struct FlipTarget {
    /// Base URL, e.g. `http://127.0.0.1:40123/`.
    pub url: String,
    status: Arc<AtomicU16>,
    hits: Arc<AtomicU64>,
    server: ServerTask,
}

/// A running actix server and its task, for targets that stop as a dying process does.
pub(crate) struct ServerTask {
    handle: actix_web::dev::ServerHandle,
    running: Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    /// Yields `None` once every [`AppToken`] of the server is dropped.
    apps: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>,
}

/// Held in every app a server builds (`App::app_data`). An app's data lives as long as its
/// worker and every connection the worker serves: when the last token is dropped, no
/// connection of the server is left to answer a request.
#[derive(Clone)]
pub(crate) struct AppToken(#[allow(dead_code)] tokio::sync::mpsc::Sender<()>);

impl AppToken {
    /// A token to put in the server's apps, and the receiver [`ServerTask::spawn`] waits on.
    pub(crate) fn new() -> (Self, tokio::sync::mpsc::Receiver<()>) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        (Self(tx), rx)
    }
}

impl ServerTask {
    /// Spawns `server`, whose apps hold the tokens of `apps` ([`AppToken::new`]).
    pub(crate) fn spawn(server: actix_web::dev::Server, apps: tokio::sync::mpsc::Receiver<()>) -> Self {
        let handle = server.handle();
        Self { handle, running: Mutex::new(Some(tokio::spawn(server))), apps: tokio::sync::Mutex::new(apps) }
    }

    /// Stops the server and waits until its task has ended and its workers have dropped their
    /// apps and connections: its port refuses connections and no connection it had open can
    /// answer another request.
    ///
    /// A forced stop does not wait for the workers (actix-server 2.9 sends them the stop and
    /// returns), so a keep-alive connection could still be served for a moment after the
    /// server's task ended; the apps' tokens close that gap.
    ///
    /// # Panics
    /// When the workers still hold their apps 10 s later.
    pub(crate) async fn stop(&self) {
        self.handle.stop(false).await;
        let running = self.running.lock().expect("lock").take();
        if let Some(running) = running {
            let _ = running.await;
        }
        let mut apps = self.apps.lock().await;
        tokio::time::timeout(std::time::Duration::from_secs(10), apps.recv())
            .await
            .expect("the server's workers drop their apps within 10 s of its stop");
    }
}

impl FlipTarget {
    /// Starts a target answering 200.
    pub async fn start() -> Self {
        let status = Arc::new(AtomicU16::new(200));
        let hits = Arc::new(AtomicU64::new(0));
        let (counter, code) = (hits.clone(), status.clone());
        let (url, server) = serve("/", move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            code.load(Ordering::Relaxed)
        });
        Self { url, status, hits, server }
    }

    /// Makes every following request answer `code`.
    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::Relaxed);
    }

    /// Requests served so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stops the server and waits until it is gone: its port refuses connections and every
    /// connection it had open is closed, as when a target process dies.
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

/// A local HTTP target whose answer depends on the request's path: `status_of(path)` gives each
/// request's status code, so monitors probing paths of their own can each fail on a schedule of
/// their own (the function may read the clock).
pub struct ScriptedTarget {
    /// Base URL, e.g. `http://127.0.0.1:40123/`: append a path per monitor.
    pub url: String,
    hits: Arc<AtomicU64>,
    server: ServerTask,
}

impl ScriptedTarget {
    /// Starts a target answering `status_of(path)` to every request.
    pub async fn start<F>(status_of: F) -> Self
    where
        F: Fn(&str) -> u16 + Clone + Send + 'static,
    {
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let (url, server) = serve("/", move |req, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            status_of(req.path())
        });
        Self { url, hits, server }
    }

    /// Requests served so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stops the server and waits until it is gone, as [`FlipTarget::stop`] does.
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

/// A local target that accepts connections and never answers (a hung server): every probe
/// against it times out. Dropping it closes the listener and every accepted connection.
pub struct SilentTarget {
    /// Base URL, e.g. `http://127.0.0.1:40123/`.
    pub url: String,
    accepted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl SilentTarget {
    /// Starts listening on a fresh loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                open.push(socket); // accept and never answer
            }
        });
        Self { url, accepted, task }
    }

    /// Connections accepted so far (each one a request left hanging).
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentTarget {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request a [`WebhookReceiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names (lower case) to values.
    pub headers: BTreeMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// A local webhook receiver recording every request and answering a status the test sets.
pub struct WebhookReceiver {
    /// The URL to configure on a channel.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    server: ServerTask,
}

impl WebhookReceiver {
    /// Starts a receiver answering 200.
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (log, code) = (received.clone(), status.clone());
        let (url, server) = serve("/hook", move |req, body| {
            let headers = req
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            log.lock().expect("lock").push(Received {
                headers,
                body: body.to_vec(),
                at: std::time::Instant::now(),
            });
            code.load(Ordering::Relaxed)
        });
        Self { url, received, status, server }
    }

    /// Makes every following request answer `code`.
    pub fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::Relaxed);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Stops the server and waits until it is gone, as [`FlipTarget::stop`] does.
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

/// Serves every request on a fresh loopback port with the status code `on_request` returns for
/// it. Returns the URL (`http://127.0.0.1:<port><path>`) and the running server.
fn serve<F>(path: &str, on_request: F) -> (String, ServerTask)
where
    F: Fn(&HttpRequest, &[u8]) -> u16 + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}{path}", listener.local_addr().expect("addr"));
    let (token, apps) = AppToken::new();
    let server = HttpServer::new(move || {
        let on_request = on_request.clone();
        App::new().app_data(token.clone()).default_service(web::to(
            move |req: HttpRequest, body: web::Bytes| {
                let on_request = on_request.clone();
                async move {
                    let code = actix_web::http::StatusCode::from_u16(on_request(&req, &body))
                        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
                    HttpResponse::build(code).finish()
                }
            },
        ))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    (url, ServerTask::spawn(server, apps))
}

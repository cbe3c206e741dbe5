//! A scripted HTTP target for probe tests: every answer (status, headers, body, delay) is what
//! the test's function returns for the request, on a loopback address the test chooses
//! (`127.0.0.2`, `127.0.0.3`, … all reach this machine), so redirects between "hosts" and
//! blocked loopback addresses can be tested without leaving it. It records every request, so
//! it also serves as a fake channel provider whose received payloads a test checks.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Status code (0 means 200).
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection after this answer (no keep-alive).
    pub close: bool,
}

impl Reply {
    /// A 200 with `body`.
    pub fn ok(body: impl Into<String>) -> Self {
        Self { status: 200, body: body.into(), ..Self::default() }
    }

    /// A redirect (`status`, e.g. 302) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self { status, headers: vec![("location".into(), location.into())], ..Self::default() }
    }

    /// Closes the connection after answering, so the next request connects (and resolves) anew.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the target saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Request headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Seen {
    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A running scripted target.
pub struct HttpTarget {
    /// `http://<ip>:<port>` (no trailing slash): append a path.
    pub base: String,
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: crate::servers::ServerTask,
}

impl HttpTarget {
    /// Starts on `127.0.0.1`.
    pub async fn start<F>(reply: F) -> Self
    where
        F: Fn(&Seen) -> Reply + Clone + Send + Sync + 'static,
    {
        Self::start_on(Ipv4Addr::LOCALHOST, reply).await
    }

    /// Starts on `ip` (a loopback address), a fresh port.
    pub async fn start_on<F>(ip: Ipv4Addr, reply: F) -> Self
    where
        F: Fn(&Seen) -> Reply + Clone + Send + Sync + 'static,
    {
        Self::start_at(SocketAddr::from((ip, 0)), reply).await
    }

    /// Starts on `addr` (a loopback address; port 0 picks a free one).
    pub async fn start_at<F>(addr: SocketAddr, reply: F) -> Self
    where
        F: Fn(&Seen) -> Reply + Clone + Send + Sync + 'static,
    {
        assert!(addr.ip().is_loopback(), "test targets listen on loopback addresses only");
        let listener = TcpListener::bind(addr).expect("bind a loopback port");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU64::new(0));
        let counter = hits.clone();
        let seen_log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen_log.clone();
        let (token, apps) = crate::servers::AppToken::new();
        let server = HttpServer::new(move || {
            let (reply, counter, log) = (reply.clone(), counter.clone(), log.clone());
            App::new().app_data(token.clone()).default_service(web::to(
                move |req: HttpRequest, body: web::Bytes| {
                    let (reply, counter, log) = (reply.clone(), counter.clone(), log.clone());
                    async move {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let seen = Seen {
                            method: req.method().to_string(),
                            path: req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                            headers: req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect(),
                            body: body.to_vec(),
                        };
                        let r = reply(&seen);
                        log.lock().expect("lock").push(seen);
                        if !r.delay.is_zero() {
                            tokio::time::sleep(r.delay).await;
                        }
                        let code =
                            actix_web::http::StatusCode::from_u16(if r.status == 0 { 200 } else { r.status })
                                .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
                        let mut out = HttpResponse::build(code);
                        for (k, v) in &r.headers {
                            out.insert_header((k.as_str(), v.as_str()));
                        }
                        if r.close {
                            out.force_close();
                        }
                        out.body(r.body)
                    }
                },
            ))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        Self {
            base: format!("http://{addr}"),
            addr,
            hits,
            seen: seen_log,
            server: crate::servers::ServerTask::spawn(server, apps),
        }
    }

    /// Requests served so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Every request served so far, in arrival order: what a fake provider received.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Stops the server and waits until it is gone: its port refuses connections and every
    /// connection it had open is closed, as when a target process dies.
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

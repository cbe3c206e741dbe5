//! The fake providers of the `alerting` scenario, all on 127.0.0.1: one HTTP server answering
//! every kind's path with that provider's success, and the testkit SMTP server in plain mode;
//! every reception is recorded with its arrival instant under the unique number of the channel
//! it was meant for (a path segment, bot token, routing key, topic or recipient), with the
//! identifier a provider could deduplicate it by (`webhook-id`, `dedup_key`, `Message-ID`).

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use upcheck_testkit::smtp::{SmtpServer, SmtpTls};

/// The channel kinds, in the order channels are made for each monitor.
pub(crate) const KINDS: [&str; 8] =
    ["webhook", "slack", "discord", "teams", "telegram", "pagerduty", "ntfy", "email"];

/// The secret half of every bench bot token (`<channel number>:<this>`).
const BOT_SECRET: &str = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// How often the SMTP server's new messages are read: an e-mail's arrival instant is late by
/// up to this much.
pub(crate) const SMTP_POLL: Duration = Duration::from_millis(2);

/// One reception of a notification at its provider.
#[derive(Debug, Clone)]
pub(crate) struct Reception {
    /// When it arrived (for e-mail: when the poller saw it, within [`SMTP_POLL`]).
    pub(crate) at: Instant,
    /// What the provider could deduplicate it by (webhook, PagerDuty and e-mail only).
    pub(crate) dedup: Option<String>,
}

/// Every reception so far, by channel number.
#[derive(Clone, Default)]
pub(crate) struct Receptions {
    by_channel: Arc<Mutex<HashMap<u64, Vec<Reception>>>>,
    unrecognised: Arc<AtomicU64>,
}

impl Receptions {
    fn record(&self, n: Option<u64>, dedup: Option<String>) {
        let at = Instant::now();
        match n {
            Some(n) => self.lock().entry(n).or_default().push(Reception { at, dedup }),
            None => {
                self.unrecognised.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Vec<Reception>>> {
        self.by_channel.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The first arrival for channel `n`, if any.
    pub(crate) fn first(&self, n: u64) -> Option<Instant> {
        self.lock().get(&n).and_then(|r| r.first()).map(|r| r.at)
    }

    /// A copy of every reception, by channel number.
    pub(crate) fn snapshot(&self) -> HashMap<u64, Vec<Reception>> {
        self.lock().clone()
    }

    /// Requests no channel could be told from (must stay 0).
    pub(crate) fn unrecognised(&self) -> u64 {
        self.unrecognised.load(Ordering::Relaxed)
    }
}

/// The running fake providers.
pub(crate) struct Providers {
    /// `http://127.0.0.1:<port>`: the HTTP providers' base.
    pub(crate) base: String,
    /// What arrived.
    pub(crate) receptions: Receptions,
    smtp_port: u16,
    handle: actix_web::dev::ServerHandle,
    poller: tokio::task::JoinHandle<()>,
}

impl Providers {
    /// Starts the HTTP server (two threads), answering each request after `delay`, and the SMTP
    /// server with its poller.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub(crate) async fn start(delay: Duration) -> anyhow::Result<Self> {
        let receptions = Receptions::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let data = web::Data::new(receptions.clone());
        let pause = web::Data::new(delay);
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).app_data(pause.clone()).default_service(web::to(answer))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        let smtp = SmtpServer::start(SmtpTls::Plain, None).await;
        let smtp_port = smtp.addr.port();
        let log = receptions.clone();
        let poller = tokio::spawn(async move {
            let mut seen = 0;
            loop {
                for m in smtp.messages_from(seen) {
                    seen += 1;
                    let n = m
                        .rcpt_to
                        .first()
                        .and_then(|r| number(r.strip_prefix('c')?.strip_suffix("@example.com")?));
                    log.record(n, message_id(&m.data));
                }
                tokio::time::sleep(SMTP_POLL).await;
            }
        });
        Ok(Self { base, receptions, smtp_port, handle, poller })
    }

    /// The settings pointing every kind's provider here.
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        let b = &self.base;
        [
            ("TELEGRAM_API_URL", format!("{b}/telegram")),
            ("PAGERDUTY_EVENTS_URL", format!("{b}/pagerduty")),
            ("NTFY_DEFAULT_SERVER", format!("{b}/ntfy")),
            ("SMTP_HOST", "127.0.0.1".into()),
            ("SMTP_PORT", self.smtp_port.to_string()),
            ("SMTP_SECURITY", "none".into()),
            ("SMTP_FROM", "Upcheck <alerts@upcheck.test>".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The config of channel number `n` of kind `KINDS[kind]`, pointing here.
    pub(crate) fn config(&self, kind: usize, n: u64) -> serde_json::Value {
        let b = &self.base;
        match KINDS[kind] {
            "webhook" => serde_json::json!({
                "url": format!("{b}/hook/webhook/{n}"),
                "secret": upcheck_domain::webhook::generate_secret(),
            }),
            "telegram" => serde_json::json!({"bot_token": format!("{n}:{BOT_SECRET}"), "chat_id": 4242}),
            "pagerduty" => serde_json::json!({"routing_key": format!("R{n:031}")}),
            "ntfy" => serde_json::json!({"topic": format!("t{n}")}),
            "email" => serde_json::json!({"to": [format!("c{n}@example.com")]}),
            k => serde_json::json!({"url": format!("{b}/hook/{k}/{n}")}),
        }
    }

    /// Stops both servers.
    pub(crate) async fn stop(self) {
        self.poller.abort();
        self.handle.stop(false).await;
    }
}

fn number(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// The `Message-ID` header of a raw message.
fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let headers = text.split("\r\n\r\n").next()?;
    headers.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_string())
    })
}

/// Records the request under its channel (on arrival) and answers as the provider would on
/// success, after the configured delay.
async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    log: web::Data<Receptions>,
    delay: web::Data<Duration>,
) -> HttpResponse {
    let reply = reply(&req, &body, &log);
    if !delay.is_zero() {
        tokio::time::sleep(**delay).await;
    }
    reply
}

fn reply(req: &HttpRequest, body: &[u8], log: &Receptions) -> HttpResponse {
    let path = req.path();
    let json = || serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/hook/") {
        let (kind, n) = rest.split_once('/').unwrap_or((rest, ""));
        let dedup = (kind == "webhook")
            .then(|| req.headers().get("webhook-id").and_then(|v| v.to_str().ok()).map(str::to_string))
            .flatten();
        log.record(number(n), dedup);
        return match kind {
            // https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks: 200 "ok".
            "slack" => HttpResponse::Ok().body("ok"),
            // https://discord.com/developers/docs/resources/webhook#execute-webhook: 204 without ?wait.
            "discord" => HttpResponse::NoContent().finish(),
            // Power Automate's "When a Teams webhook request is received" trigger answers 202.
            "teams" => HttpResponse::Accepted().finish(),
            _ => HttpResponse::NoContent().finish(),
        };
    }
    if let Some(rest) = path.strip_prefix("/telegram/bot") {
        log.record(rest.split_once(':').and_then(|(n, _)| number(n)), None);
        // https://core.telegram.org/bots/api#making-requests
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"ok":true,"result":{"message_id":1,"date":0,"chat":{"id":4242,"type":"group"}}}"#);
    }
    if path.starts_with("/pagerduty") {
        let body = json();
        let n = body["routing_key"].as_str().and_then(|k| number(k.strip_prefix('R')?));
        let dedup = body["dedup_key"].as_str().map(str::to_string);
        log.record(n, dedup.clone());
        // https://developer.pagerduty.com/api-reference/368ae3d938c9e-send-an-event-to-pager-duty
        return HttpResponse::Accepted().content_type("application/json").body(
            serde_json::json!({"status": "success", "message": "Event processed", "dedup_key": dedup})
                .to_string(),
        );
    }
    if path.starts_with("/ntfy") {
        let n = json()["topic"].as_str().and_then(|t| number(t.strip_prefix('t')?));
        log.record(n, None);
        // https://docs.ntfy.sh/publish/#publish-as-json: the message back, as JSON.
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"id":"bench","time":0,"event":"message","topic":"bench"}"#);
    }
    log.record(None, None);
    HttpResponse::NotFound().finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_read_from_the_header_block_only() {
        let raw = b"From: a@b\r\nMessage-ID: <x@upcheck>\r\nSubject: s\r\n\r\nMessage-ID: <body@x>\r\n";
        assert_eq!(message_id(raw).as_deref(), Some("<x@upcheck>"));
        assert_eq!(message_id(b"Subject: s\r\n\r\nbody"), None);
    }
}

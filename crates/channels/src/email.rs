//! E-mail over SMTP (lettre, tokio + rustls): one message per notification, sent through the
//! operator's server or, where `SMTP_ALLOW_USER_SERVERS` permits, the channel's own.
//!
//! Each message is `multipart/alternative` (plain text and HTML), with `Message-ID:
//! <{notification id}@upcheck>`, so a redelivery carries the same Message-ID and mail systems
//! can deduplicate it. Answers are classified per RFC 5321 §4.2.1: 5xx is final, 4xx and
//! connection or TLS failures are worth retrying. One connection per delivery (alerts are rare
//! and go to many servers; a pool would hold connections to users' servers open for nothing):
//! Upcheck opens the TCP connection itself (a user's server through [`Outbound::connect_tcp`],
//! so the address connected to is the address the network policy judged) and hands it to
//! lettre, which speaks SMTP over it and upgrades it on STARTTLS.

use crate::email_render::render;
use crate::email_tls::ImplicitTls;
use crate::{AttemptResult, Channel};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use upcheck_config::SmtpSettings;
use upcheck_domain::channel::{EmailConfig, EmailRules, SmtpSecurity};
use upcheck_domain::netpolicy::NetworkPolicy;
use upcheck_net::{ConnectError, Outbound};
use uuid::Uuid;

/// Why an [`EmailChannel`] cannot be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    /// `SMTP_CA_CERT` cannot be read or holds no PEM certificate.
    #[error("SMTP_CA_CERT: {0}")]
    CaCert(String),
    /// `SMTP_FROM` is not a mailbox.
    #[error("SMTP_FROM: {0}")]
    From(String),
    /// The TLS client cannot be built.
    #[error("SMTP TLS: {0}")]
    Tls(String),
}

/// Where one delivery goes: the server, its security, the credentials and the `From`.
struct Route {
    host: String,
    port: u16,
    security: SmtpSecurity,
    credentials: Option<Credentials>,
    from: Mailbox,
    /// A user's server: its addresses are judged by the network policy.
    judged: bool,
}

/// The `email` channel. Cheap to clone.
#[derive(Clone)]
pub struct EmailChannel {
    settings: SmtpSettings,
    outbound: Outbound,
    from: Option<Mailbox>,
    /// `SMTP_CA_CERT`, for lettre's STARTTLS upgrade.
    extra_roots: Option<Certificate>,
    /// Implicit TLS: webpki roots plus `SMTP_CA_CERT`, the same trust as STARTTLS.
    tls: tokio_rustls::TlsConnector,
}

impl EmailChannel {
    /// A channel sending through the operator's server in `settings` (`SMTP_*`), and through
    /// users' own servers, when `settings.allow_user_servers`, connecting under `outbound`'s
    /// network policy.
    ///
    /// # Errors
    /// [`EmailSetupError::CaCert`] when `SMTP_CA_CERT` is unreadable or not PEM,
    /// [`EmailSetupError::From`] when `SMTP_FROM` is not a mailbox.
    pub fn new(settings: &SmtpSettings, outbound: Outbound) -> Result<Self, EmailSetupError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let extra_roots = match &settings.ca_cert {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| EmailSetupError::CaCert(format!("{}: {e}", path.display())))?;
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| EmailSetupError::CaCert(format!("{}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(EmailSetupError::CaCert(format!("{}: no PEM certificate", path.display())));
                }
                for c in certs {
                    roots.add(c).map_err(|e| EmailSetupError::CaCert(e.to_string()))?;
                }
                Some(Certificate::from_pem(&pem).map_err(|e| EmailSetupError::CaCert(e.to_string()))?)
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| EmailSetupError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let from = match &settings.from {
            None => None,
            Some(f) => Some(f.parse::<Mailbox>().map_err(|e| EmailSetupError::From(e.to_string()))?),
        };
        Ok(Self {
            settings: settings.clone(),
            outbound,
            from,
            extra_roots,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }

    /// Where a delivery with `config` goes, or why it cannot go anywhere (permanent).
    fn route(&self, config: &EmailConfig) -> Result<Route, String> {
        let Some(own) = &config.smtp else {
            let host = self.settings.host.clone().ok_or("no SMTP server: SMTP_HOST is not set")?;
            let from = self.from.clone().ok_or("SMTP_FROM is not set")?;
            let credentials = match (&self.settings.username, &self.settings.password) {
                (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.expose_secret().to_string())),
                _ => None,
            };
            return Ok(Route {
                host,
                port: self.settings.port,
                security: self.settings.security,
                credentials,
                from,
                judged: false,
            });
        };
        if !self.settings.allow_user_servers {
            return Err("own SMTP servers are not allowed (SMTP_ALLOW_USER_SERVERS)".into());
        }
        let from = match &own.from {
            Some(f) => f.parse::<Mailbox>().map_err(|e| format!("config.smtp.from: {e}"))?,
            None => self.from.clone().ok_or("config.smtp.from is required: SMTP_FROM is not set")?,
        };
        let credentials = match (&own.username, &own.password) {
            (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
            _ => None,
        };
        Ok(Route {
            host: own.host.clone(),
            port: own.port,
            security: own.security,
            credentials,
            from,
            judged: true,
        })
    }

    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let mut builder =
            TlsParameters::builder(host.to_string()).certificate_store(CertificateStore::WebpkiRoots);
        if let Some(roots) = &self.extra_roots {
            builder = builder.add_root_certificate(roots.clone());
        }
        builder.build_rustls()
    }

    /// A TCP connection to the route's server (Nagle off: lettre writes a message's end
    /// separately): a user's server through the network policy, which resolves and judges its
    /// addresses, the operator's as it is.
    async fn connect(&self, route: &Route) -> Result<TcpStream, Failure> {
        let bare = route.host.trim_start_matches('[').trim_end_matches(']');
        if route.judged {
            return match self.outbound.connect_tcp(bare, route.port).await {
                Ok(stream) => Ok(stream),
                Err(e @ ConnectError::Blocked(_)) => Err(Failure::permanent(e.to_string())),
                Err(e) => Err(Failure::retry(e.to_string())),
            };
        }
        let stream = TcpStream::connect((bare, route.port))
            .await
            .map_err(|e| Failure::retry(upcheck_net::describe_io(&e)))?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// One SMTP exchange: connect, secure, authenticate, send, quit.
    async fn exchange(&self, route: &Route, message: &Message) -> Result<(), Failure> {
        let tcp = self.connect(route).await?;
        let bare = route.host.trim_start_matches('[').trim_end_matches(']');
        let hello = ClientId::Domain(route.from.email.domain().to_string());
        let stream: Box<dyn AsyncTokioStream> = if route.security == SmtpSecurity::Tls {
            let name = ServerName::try_from(bare.to_string())
                .map_err(|_| Failure::permanent(format!("{bare} is not a TLS server name")))?;
            let tls = self.tls.connect(name, tcp).await.map_err(|e| Failure::from_io(&e))?;
            Box::new(ImplicitTls(tls))
        } else {
            Box::new(tcp)
        };
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(stream, &hello).await.map_err(Failure::from_smtp)?;
        if route.security == SmtpSecurity::Starttls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(Failure::retry("the server does not offer STARTTLS".into()));
            }
            let tls = self.tls_parameters(bare).map_err(Failure::from_smtp)?;
            conn.starttls(tls, &hello).await.map_err(Failure::from_smtp)?;
        }
        if let Some(credentials) = &route.credentials {
            let auth = conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await;
            if let Err(e) = auth {
                conn.abort().await;
                return Err(Failure::from_smtp(e).context("authentication"));
            }
        }
        let sent = conn.send(message.envelope(), &message.formatted()).await;
        match sent {
            Ok(_) => {
                let _ = conn.quit().await;
                Ok(())
            }
            Err(e) => {
                conn.abort().await;
                Err(Failure::from_smtp(e))
            }
        }
    }
}

/// Why an attempt failed: whether retrying can help, and what to tell the user (never a password).
struct Failure {
    permanent: bool,
    message: String,
}

impl Failure {
    fn permanent(message: String) -> Self {
        Self { permanent: true, message }
    }

    fn retry(message: String) -> Self {
        Self { permanent: false, message }
    }

    /// A failed connection or TLS handshake (tokio-rustls reports an untrusted certificate
    /// as invalid data).
    fn from_io(e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::InvalidData {
            Self::retry(format!("TLS failed: {e}"))
        } else {
            Self::retry(upcheck_net::describe_io(e))
        }
    }

    /// 5xx answers are final; 4xx, connection, TLS and protocol failures are retried.
    fn from_smtp(e: lettre::transport::smtp::Error) -> Self {
        let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
        let message = match (e.status(), io_error_in(&e)) {
            (Some(code), _) => format!("SMTP server answered {code}: {detail}"),
            _ if e.is_timeout() => "timed out".into(),
            (None, Some(io)) => Self::from_io(io).message,
            (None, None) if e.is_tls() => format!("TLS failed: {}", crate::root_cause(&e)),
            (None, None) => crate::root_cause(&e),
        };
        Self { permanent: e.is_permanent(), message }
    }

    fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

/// The I/O error inside a lettre error, if a connection failure is why it failed.
fn io_error_in(e: &lettre::transport::smtp::Error) -> Option<&std::io::Error> {
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

/// Builds the message for notification `id`.
fn message(id: Uuid, route: &Route, to: &[String], payload: &serde_json::Value) -> Result<Message, String> {
    let rendered = render(id, payload);
    let mut builder = Message::builder()
        .from(route.from.clone())
        .subject(rendered.subject)
        .message_id(Some(format!("<{id}@upcheck>")))
        .date_now()
        // RFC 3834 §5: automatic; vacation responders must not answer it.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    if let Some(kind) = payload.get("type").and_then(|t| t.as_str())
        && kind.len() <= 64
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Upcheck-Event"),
            kind.to_string(),
        ));
    }
    for address in to {
        builder = builder.to(address.parse::<Mailbox>().map_err(|e| format!("config.to: {address}: {e}"))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
        .map_err(|e| format!("message does not build: {e}"))
}

impl Channel for EmailChannel {
    fn kind(&self) -> &'static str {
        "email"
    }

    /// The span records the kind, the notification, the outcome and the latency; never the
    /// server's credentials or the recipients.
    #[tracing::instrument(
        name = "channel_deliver",
        skip_all,
        fields(kind = "email", notification_id = %id, latency_ms, delivered, otel.kind = "client")
    )]
    async fn deliver(
        &self,
        id: Uuid,
        config: &serde_json::Value,
        payload: &serde_json::Value,
    ) -> AttemptResult {
        let config = match EmailConfig::from_value(config) {
            Ok(c) => c,
            Err(e) => return AttemptResult::failure(true, e.to_string()),
        };
        let route = match self.route(&config) {
            Ok(r) => r,
            Err(why) => return AttemptResult::failure(true, why),
        };
        let message = match message(id, &route, &config.to, payload) {
            Ok(m) => m,
            Err(why) => return AttemptResult::failure(true, why),
        };
        let timeout = Duration::from_millis(self.settings.timeout_ms);
        let start = Instant::now();
        let outcome = match tokio::time::timeout(timeout, self.exchange(&route, &message)).await {
            Ok(r) => r,
            Err(_) => Err(Failure::retry("timed out".into())),
        };
        let latency_ms = Some(i32::try_from(start.elapsed().as_millis()).unwrap_or(i32::MAX));
        let span = tracing::Span::current();
        span.record("latency_ms", latency_ms);
        span.record("delivered", outcome.is_ok());
        let (delivered, permanent, error) = match outcome {
            Ok(()) => (true, false, None),
            Err(f) => (false, f.permanent, Some(crate::truncate_error(f.message))),
        };
        AttemptResult { delivered, permanent, http_status: None, latency_ms, error, retry_after_ms: None }
    }
}

/// Checks an `email` config a user sent (POST or PATCH /channels) against the operator's
/// settings and network policy, and returns it normalised, ready to store. `previous` is the
/// channel's stored config on an update (a server given without its password keeps it).
///
/// # Errors
/// `(field, message)`, the field as the request names it (`config.to[1]`, `config.smtp.host`),
/// for `ApiError::invalid(field, message)`.
pub fn validate(
    config: &serde_json::Value,
    settings: &SmtpSettings,
    policy: &NetworkPolicy,
    previous: Option<&serde_json::Value>,
) -> Result<serde_json::Value, (String, String)> {
    let previous = previous.and_then(|p| EmailConfig::from_value(p).ok());
    let rules = EmailRules {
        allow_user_servers: settings.allow_user_servers,
        operator_server: settings.host.is_some(),
        operator_from: settings.from.is_some(),
        policy,
    };
    EmailConfig::validate(config, &rules, previous.as_ref())
        .map(|c| c.to_value())
        .map_err(|e| (e.field, e.message))
}

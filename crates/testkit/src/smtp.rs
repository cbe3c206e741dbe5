//! A real SMTP server for e-mail tests, on a loopback port: EHLO, STARTTLS (or TLS from the
//! first byte), AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT (RFC 5321, RFC 3207, RFC 4954),
//! recording each message raw as it arrived, and able to answer the test's chosen 4xx or 5xx
//! at RCPT or DATA so tests can tell final refusals from retryable ones.

use base64::Engine;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;

/// Longest command line or message accepted, bytes.
const MAX_LINE_BYTES: usize = 4_096;
const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// How the server secures its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text; `STARTTLS` offered and required before `AUTH` and `MAIL`.
    Starttls,
    /// TLS from the first byte (port 465 style).
    Implicit,
    /// No TLS at all; `STARTTLS` not offered.
    Plain,
}

/// The step at which a configured refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpStep {
    /// Each `RCPT TO`.
    Rcpt,
    /// The end of `DATA` (the message was received, then refused).
    Data,
}

/// One message the server accepted (or refused at the end of DATA), as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpMessage {
    /// The `EHLO`/`HELO` name the client gave (the last one, after STARTTLS).
    pub helo: String,
    /// The `MAIL FROM` address, without the angle brackets.
    pub mail_from: String,
    /// The `RCPT TO` addresses, in order.
    pub rcpt_to: Vec<String>,
    /// The message, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
    /// `(user, password)` of a successful `AUTH PLAIN` on this connection.
    pub auth: Option<(String, String)>,
    /// Whether the connection was encrypted when the message arrived.
    pub tls: bool,
}

#[derive(Default)]
struct Shared {
    messages: Vec<SmtpMessage>,
    refusal: Option<(SmtpStep, String)>,
    credentials: Option<(String, String)>,
}

/// A running SMTP server on `127.0.0.1:<port>`; stopped when dropped.
pub struct SmtpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpServer {
    /// Starts a server securing connections as `tls` says, presenting `identity` (a chain and
    /// its key, from [`crate::tls_target::TestCa::leaf`]); `identity` may be `None` only for
    /// [`SmtpTls::Plain`].
    ///
    /// # Panics
    /// When TLS is asked for without an identity, or no loopback port can be bound.
    pub async fn start(
        tls: SmtpTls,
        identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    ) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let acceptor = identity.map(|(chain, key)| {
            let config = rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server certificate");
            TlsAcceptor::from(Arc::new(config))
        });
        assert!(tls == SmtpTls::Plain || acceptor.is_some(), "TLS needs a certificate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                let (acceptor, state) = (acceptor.clone(), state.clone());
                tokio::spawn(async move {
                    let _ = match (tls, acceptor) {
                        (SmtpTls::Implicit, Some(a)) => match a.accept(socket).await {
                            Ok(stream) => Session::new(Box::new(stream), true, None, state).run().await,
                            Err(_) => Ok(()),
                        },
                        (SmtpTls::Starttls, a) => Session::new(Box::new(socket), false, a, state).run().await,
                        (_, _) => Session::new(Box::new(socket), false, None, state).run().await,
                    };
                });
            }
        });
        Self { addr, shared, task }
    }

    /// Answers `reply` (a whole reply line such as `550 5.1.1 no such user`) at `step` from
    /// now on.
    pub fn refuse(&self, step: SmtpStep, reply: &str) {
        self.lock().refusal = Some((step, reply.to_string()));
    }

    /// Requires `AUTH PLAIN` with these credentials before `MAIL` (and advertises AUTH).
    pub fn require_auth(&self, user: &str, password: &str) {
        self.lock().credentials = Some((user.to_string(), password.to_string()));
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> Vec<SmtpMessage> {
        self.lock().messages.clone()
    }

    /// The messages received after the first `start`, in order (none when `start` is past the
    /// end): pollers read only what is new.
    pub fn messages_from(&self, start: usize) -> Vec<SmtpMessage> {
        self.lock().messages.get(start..).map(<[SmtpMessage]>::to_vec).unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Session {
    stream: BufReader<Box<dyn Io>>,
    tls: bool,
    starttls: Option<TlsAcceptor>,
    state: Arc<Mutex<Shared>>,
    helo: String,
    auth: Option<(String, String)>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

impl Session {
    fn new(stream: Box<dyn Io>, tls: bool, starttls: Option<TlsAcceptor>, state: Arc<Mutex<Shared>>) -> Self {
        Self {
            stream: BufReader::new(stream),
            tls,
            starttls,
            state,
            helo: String::new(),
            auth: None,
            mail_from: None,
            rcpt_to: Vec::new(),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.stream.get_mut().write_all(format!("{line}\r\n").as_bytes()).await?;
        self.stream.get_mut().flush().await
    }

    async fn line(&mut self) -> std::io::Result<Option<String>> {
        let mut buf = Vec::new();
        let n = (&mut self.stream).take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string()))
    }

    async fn run(mut self) -> std::io::Result<()> {
        self.reply("220 upcheck-test ESMTP ready").await?;
        while let Some(line) = self.line().await? {
            let upper = line.to_ascii_uppercase();
            let verb = upper.split(' ').next().unwrap_or("");
            let needs_tls = self.starttls.is_some() && !self.tls;
            match verb {
                "EHLO" | "HELO" => {
                    self.helo = line[4..].trim().to_string();
                    self.reset();
                    let mut lines = vec!["250-upcheck-test".to_string()];
                    if needs_tls {
                        lines.push("250-STARTTLS".into());
                    }
                    if self.shared().credentials.is_some() && !needs_tls {
                        lines.push("250-AUTH PLAIN".into());
                    }
                    lines.push("250 8BITMIME".into());
                    let reply = lines.join("\r\n");
                    self.reply(&reply).await?;
                }
                "STARTTLS" if needs_tls => {
                    self.reply("220 2.0.0 go ahead").await?;
                    let acceptor = self.starttls.take().expect("checked above");
                    let plain = std::mem::replace(
                        &mut self.stream,
                        BufReader::new(Box::new(tokio::io::join(tokio::io::empty(), tokio::io::sink()))),
                    );
                    let tls = acceptor.accept(plain.into_inner()).await?;
                    self.stream = BufReader::new(Box::new(tls));
                    self.tls = true;
                    self.helo.clear();
                    self.auth = None;
                    self.reset();
                }
                "AUTH" if !needs_tls => self.auth(&line).await?,
                _ if needs_tls && matches!(verb, "AUTH" | "MAIL" | "RCPT" | "DATA") => {
                    self.reply("530 5.7.0 must issue a STARTTLS command first").await?;
                }
                "MAIL" => {
                    if self.shared().credentials.is_some() && self.auth.is_none() {
                        self.reply("530 5.7.0 authentication required").await?;
                    } else {
                        self.mail_from = Some(address(&line));
                        self.reply("250 2.1.0 ok").await?;
                    }
                }
                "RCPT" if self.mail_from.is_some() => {
                    let refusal = self.refusal(SmtpStep::Rcpt);
                    if let Some(r) = refusal {
                        self.reply(&r).await?;
                    } else {
                        self.rcpt_to.push(address(&line));
                        self.reply("250 2.1.5 ok").await?;
                    }
                }
                "DATA" if !self.rcpt_to.is_empty() => self.data().await?,
                "RSET" => {
                    self.reset();
                    self.reply("250 2.0.0 ok").await?;
                }
                "NOOP" => self.reply("250 2.0.0 ok").await?,
                "QUIT" => {
                    self.reply("221 2.0.0 bye").await?;
                    return Ok(());
                }
                "RCPT" | "DATA" => self.reply("503 5.5.1 bad sequence of commands").await?,
                _ => self.reply("502 5.5.2 command not recognised").await?,
            }
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    fn refusal(&self, step: SmtpStep) -> Option<String> {
        self.shared().refusal.as_ref().filter(|(s, _)| *s == step).map(|(_, r)| r.clone())
    }

    /// `AUTH PLAIN <base64>` or `AUTH PLAIN` then the base64 on its own line (RFC 4616).
    async fn auth(&mut self, line: &str) -> std::io::Result<()> {
        let mut parts = line.split_whitespace().skip(1);
        if !parts.next().is_some_and(|m| m.eq_ignore_ascii_case("PLAIN")) {
            return self.reply("504 5.5.4 only PLAIN").await;
        }
        let encoded = match parts.next() {
            Some(e) => e.to_string(),
            None => {
                self.reply("334 ").await?;
                self.line().await?.unwrap_or_default()
            }
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).unwrap_or_default();
        let fields: Vec<String> =
            decoded.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        let given = match fields.as_slice() {
            [_authzid, user, pass] => (user.clone(), pass.clone()),
            _ => return self.reply("501 5.5.2 malformed PLAIN response").await,
        };
        if self.shared().credentials.as_ref() == Some(&given) {
            self.auth = Some(given);
            self.reply("235 2.7.0 authenticated").await
        } else {
            self.reply("535 5.7.8 authentication credentials invalid").await
        }
    }

    async fn data(&mut self) -> std::io::Result<()> {
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        loop {
            let mut line = Vec::new();
            if (&mut self.stream).take(MAX_LINE_BYTES as u64 * 4).read_until(b'\n', &mut line).await? == 0 {
                return Ok(());
            }
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            let unstuffed = if line.starts_with(b"..") { &line[1..] } else { &line[..] };
            if data.len() + unstuffed.len() <= MAX_MESSAGE_BYTES {
                data.extend_from_slice(unstuffed);
            }
        }
        let message = SmtpMessage {
            helo: self.helo.clone(),
            mail_from: self.mail_from.clone().unwrap_or_default(),
            rcpt_to: std::mem::take(&mut self.rcpt_to),
            data,
            auth: self.auth.clone(),
            tls: self.tls,
        };
        self.mail_from = None;
        let refusal = self.refusal(SmtpStep::Data);
        self.shared().messages.push(message);
        match refusal {
            Some(r) => self.reply(&r).await,
            None => self.reply("250 2.0.0 queued").await,
        }
    }
}

/// The address in `MAIL FROM:<a> …` or `RCPT TO:<a>`, without brackets or parameters.
fn address(line: &str) -> String {
    let after = line.split_once(':').map_or("", |(_, rest)| rest).trim();
    let inside = after.strip_prefix('<').and_then(|r| r.split_once('>')).map(|(a, _)| a);
    inside.unwrap_or_else(|| after.split_whitespace().next().unwrap_or("")).to_string()
}

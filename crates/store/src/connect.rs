//! Opening Postgres connections so that a dead one fails instead of hanging: TCP keepalives and
//! `TCP_USER_TIMEOUT` on the socket (the kernel closes a connection whose peer vanished), and a
//! response watchdog on the byte stream (a connection that sent a request and hears nothing
//! for `DATABASE_RESPONSE_TIMEOUT_MS` is closed, which also catches a middlebox that keeps TCP
//! alive but forwards nothing). A closed connection fails its pending statements at once and
//! is dropped by the pool's recycle check (`is_closed`), so the next checkout opens a new one.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;
use upcheck_config::DatabaseNet;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// deadpool-postgres' way in: opens each pooled connection with [`open`].
pub(crate) struct WatchedConnect {
    pub(crate) tls: MakeRustlsConnect,
    pub(crate) net: DatabaseNet,
}

impl deadpool_postgres::Connect for WatchedConnect {
    fn connect(
        &self,
        pg: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>> {
        let pg = pg.clone();
        Box::pin(async move {
            let (client, driver) = open(&pg, &self.tls, &self.net).await?;
            Ok((client, driver))
        })
    }
}

/// Opens one connection to the first of `pg`'s hosts that answers (TCP hosts with keepalives,
/// `TCP_USER_TIMEOUT` and the response watchdog; a Unix-socket host through tokio-postgres' own
/// path) and spawns the task driving it.
///
/// # Errors
/// The last host's error: an I/O error (no SQLSTATE) when nothing answers within
/// `net.connect_timeout_ms`, or Postgres' refusal (authentication, unknown database).
pub(crate) async fn open(
    pg: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    net: &DatabaseNet,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    let connect_timeout = Duration::from_millis(net.connect_timeout_ms);
    let ports = pg.get_ports();
    let mut last = None;
    for (i, host) in pg.get_hosts().iter().enumerate() {
        let port = ports.get(i).or_else(|| ports.first()).copied().unwrap_or(5432);
        let attempt = match host {
            Host::Tcp(name) => {
                let addr = pg.get_hostaddrs().get(i).map(ToString::to_string).unwrap_or_else(|| name.clone());
                tokio::time::timeout(connect_timeout, open_tcp(pg, tls, net, name, &addr, port)).await
            }
            Host::Unix(_) => tokio::time::timeout(connect_timeout, open_unix(pg, tls)).await,
        };
        match attempt {
            Ok(Ok(opened)) => return Ok(opened),
            Ok(Err(e)) => last = Some(e),
            Err(_) => {
                last = Some(
                    io_error(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no connection to Postgres within {} ms", net.connect_timeout_ms),
                    ))
                    .await,
                )
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => {
            Err(io_error(io::Error::new(io::ErrorKind::InvalidInput, "DATABASE_URL names no host")).await)
        }
    }
}

async fn open_tcp(
    pg: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    net: &DatabaseNet,
    name: &str,
    addr: &str,
    port: u16,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    let socket = match TcpStream::connect((addr, port)).await {
        Ok(s) => s,
        Err(e) => return Err(io_error(e).await),
    };
    if let Err(e) = tune(&socket, net) {
        return Err(io_error(e).await);
    }
    let stream = Watched::new(socket, net.response_timeout_ms);
    let connector = match <MakeRustlsConnect as MakeTlsConnect<Watched<TcpStream>>>::make_tls_connect(
        &mut tls.clone(),
        name,
    ) {
        Ok(c) => c,
        Err(e) => return Err(io_error(io::Error::new(io::ErrorKind::InvalidInput, e)).await),
    };
    let (client, connection) = pg.connect_raw(stream, connector).await?;
    Ok((client, spawn_driver(connection)))
}

async fn open_unix(
    pg: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
) -> Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error> {
    let (client, connection) = pg.connect(tls.clone()).await?;
    Ok((client, spawn_driver(connection)))
}

fn spawn_driver<F>(connection: F) -> JoinHandle<()>
where
    F: Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "postgres connection closed");
        }
    })
}

/// No delay, keepalives after `keepalives_idle_seconds` every `keepalives_interval_seconds`,
/// `keepalives_retries` times, and `TCP_USER_TIMEOUT` (Linux) when set.
fn tune(socket: &TcpStream, net: &DatabaseNet) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let sock = socket2::SockRef::from(socket);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(net.keepalives_idle_seconds))
        .with_interval(Duration::from_secs(net.keepalives_interval_seconds))
        .with_retries(net.keepalives_retries);
    sock.set_tcp_keepalive(&keepalive)?;
    #[cfg(target_os = "linux")]
    if net.tcp_user_timeout_ms > 0 {
        sock.set_tcp_user_timeout(Some(Duration::from_millis(net.tcp_user_timeout_ms)))?;
    }
    Ok(())
}

/// A `tokio_postgres::Error` carrying `e` (its constructors are private): the error a start-up
/// on a stream failing with `e` gives, an I/O error without SQLSTATE, so transient.
async fn io_error(e: io::Error) -> tokio_postgres::Error {
    let failing = Failing(Some(e));
    match tokio_postgres::Config::new().user("upcheck").connect_raw(failing, tokio_postgres::NoTls).await {
        Err(e) => e,
        Ok(_) => unreachable!("a stream failing every write cannot start a session"),
    }
}

/// A stream whose every read and write fails with the error it holds.
struct Failing(Option<io::Error>);

impl Failing {
    fn error(&mut self) -> io::Error {
        self.0.take().unwrap_or_else(|| io::Error::other("connection failed"))
    }
}

impl AsyncRead for Failing {
    fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(self.get_mut().error()))
    }
}

impl AsyncWrite for Failing {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(self.get_mut().error()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(self.get_mut().error()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A byte stream with a response watchdog: after the last byte written, unless a byte is read
/// since, the peer has `timeout` to send something; if it does not, reads fail with `TimedOut`
/// and tokio-postgres closes the connection. An idle connection (everything sent was answered)
/// is never timed out, nor is one still sending (a long `COPY … FROM STDIN` whose writes keep
/// going through). Postgres sends nothing while a statement runs, so the timeout must exceed
/// `statement_timeout` (the settings enforce it). A response that stops half-way is left to
/// the keepalives.
pub(crate) struct Watched<S> {
    inner: S,
    timeout: Option<Duration>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    awaiting: bool,
}

impl<S> Watched<S> {
    /// `inner` watched with `timeout_ms` (0: never times out).
    pub(crate) fn new(inner: S, timeout_ms: u64) -> Self {
        Self {
            inner,
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
            deadline: Box::pin(tokio::time::sleep(Duration::ZERO)),
            awaiting: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.awaiting = false;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if this.awaiting && this.deadline.as_mut().poll(cx).is_ready() {
                    let ms = this.timeout.map_or(0, |t| t.as_millis());
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "Postgres sent nothing for {ms} ms after a request (DATABASE_RESPONSE_TIMEOUT_MS)"
                        ),
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some(timeout)) = (&written, this.timeout)
            && *n > 0
        {
            this.awaiting = true;
            this.deadline.as_mut().reset(tokio::time::Instant::now() + timeout);
            // Register the timer with this task now: tokio-postgres polls its read half before
            // its write half, so the read that would register it may already be parked.
            // Each write moves the deadline: a peer taking our bytes is not dead yet.
            let _ = this.deadline.as_mut().poll(cx);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

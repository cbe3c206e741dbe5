//! Tracing for the binaries: the log subscriber as always (`RUST_LOG`, `LOG_FORMAT`), plus, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, an OpenTelemetry layer exporting spans over OTLP/HTTP
//! (protobuf, reqwest with rustls: no gRPC stack, no second TLS library), flushed on shutdown.
//!
//! The OpenTelemetry variables are read from the environment only, as every OpenTelemetry SDK
//! reads them (not from the `UPCHECK_CONFIG` file). Besides the endpoint, the SDK itself honours
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_BSP_*`. Which spans are exported is
//! `TRACES_FILTER` (`RUST_LOG` syntax, default [`DEFAULT_TRACES_FILTER`]), separate from the
//! logs' filter, so the per-check spans (`debug`) can be exported without logging every check.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use upcheck_config::{LogFormat, Settings};

/// The spans exported unless `TRACES_FILTER` says otherwise: everything at `info`, and
/// Upcheck's own `debug` spans, among them one per check (so an alert's trace starts at the
/// probe that decided it).
pub const DEFAULT_TRACES_FILTER: &str = "info,upcheck=debug";

/// A setting that stops start-up: the variable and what is wrong with it.
#[derive(Debug)]
pub struct TelemetryError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong.
    pub why: String,
}

impl std::fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.why)
    }
}

impl std::error::Error for TelemetryError {}

/// The installed tracing, to be shut down when the process ends.
#[must_use = "call `shutdown` before exiting, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (bounded by the exporter's
    /// timeout). Nothing to do when not exporting.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = done {
                eprintln!("flushing traces failed: {e}");
            }
        }
    }
}

/// Installs the global subscriber for `binary`: the logs as [`crate::init_tracing`] makes them
/// and, when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set
/// and `OTEL_SDK_DISABLED` is not `true`, the OpenTelemetry layer. The service name is
/// `OTEL_SERVICE_NAME`, else `binary`.
///
/// # Errors
/// [`TelemetryError`] naming the variable when an endpoint is not an `http(s)://` URL or
/// `TRACES_FILTER` does not parse.
pub fn init_telemetry(binary: &str, settings: &Settings) -> Result<Telemetry, TelemetryError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let endpoints = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"];
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if disabled || endpoints.iter().all(|name| var(name).is_none()) {
        crate::init_tracing(settings);
        return Ok(Telemetry { provider: None });
    }
    for name in endpoints {
        if let Some(value) = var(name) {
            check_endpoint(&value).map_err(|why| TelemetryError { variable: name, why })?;
        }
    }
    let filter = var("TRACES_FILTER").unwrap_or_else(|| DEFAULT_TRACES_FILTER.to_string());
    let filter = EnvFilter::try_new(&filter)
        .map_err(|e| TelemetryError { variable: "TRACES_FILTER", why: e.to_string() })?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| TelemetryError { variable: "OTEL_EXPORTER_OTLP_ENDPOINT", why: e.to_string() })?;
    let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| binary.to_string());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("upcheck")).with_filter(filter);
    let logs = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(otel);
    let _ = match settings.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_filter(logs),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().with_filter(logs)).try_init(),
    };
    Ok(Telemetry { provider: Some(provider) })
}

/// An OTLP endpoint must be an absolute `http://` or `https://` URL with a host (the SDK would
/// quietly fall back to `localhost:4318` otherwise).
fn check_endpoint(value: &str) -> Result<(), String> {
    let url = url::Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("must be an http:// or https:// URL with a host, got {:?}", url.scheme()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_endpoint;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        assert!(check_endpoint("http://collector:4318").is_ok());
        assert!(check_endpoint("https://otlp.example.com/").is_ok());
        assert!(check_endpoint("collector:4318").is_err(), "no scheme: parsed as scheme `collector`");
        assert!(check_endpoint("grpc://collector:4317").is_err());
        assert!(check_endpoint("not a url").is_err());
    }
}

//! Logs and traces. Log lines go to stderr as text or JSON (`LOG_FORMAT`);
//! with `OTEL_EXPORTER_OTLP_ENDPOINT` set, the same spans (one per GraphQL
//! request, named `graphql`, with its request id and operation name) are
//! also sent as OpenTelemetry traces over OTLP/HTTP, continuing the trace
//! of a caller's `traceparent` header. Unset: no exporter, no thread.
//! Resolvers slower than `OTEL_RESOLVER_SPAN_THRESHOLD` get spans of their
//! own ([`resolver_spans`]).
//!
//! The exporter batches spans on its own thread; [`Telemetry::shutdown`]
//! sends what is left, so a SIGTERM loses no trace. An `https://` collector
//! is checked against the public roots compiled in (webpki-roots: no system
//! store is read, nothing is fetched) plus `OTEL_EXPORTER_OTLP_CERTIFICATE`.

pub mod resolver_spans;

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Config, LogFormat};

/// How long one export may take (the OTLP default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer of the exporter, once [`init`] has installed one: the
/// resolver spans are made with it directly (see [`resolver_spans`]).
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// What was set up; keep it until the process ends.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

/// Install the global subscriber: the log filter (`RUST_LOG`), the log
/// lines, and the trace exporter when one is configured. A bad endpoint is
/// reported and traces stay off; logging still works.
#[must_use]
pub fn init(config: &Config) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("usergraph=info,tower_http=warn"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match config.log_format {
        LogFormat::Text => lines.boxed(),
        // One object per line; the fields of the spans a line is in (the
        // request's id above all) are in `span`.
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let (traces, trace_error) = match config.otel_endpoint.as_deref() {
        None => (None, None),
        Some(endpoint) => match exporter(endpoint, config.otel_certificate.as_deref()) {
            Ok(provider) => (Some(provider), None),
            Err(error) => (None, Some(error)),
        },
    };
    let trace_layer = traces.as_ref().map(|provider| {
        let tracer = provider.tracer("usergraph");
        let _ = TRACER.set(tracer.clone());
        tracing_opentelemetry::layer().with_tracer(tracer)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(trace_layer)
        .init();
    if let Some(error) = trace_error {
        tracing::error!(%error, "OTEL_EXPORTER_OTLP_ENDPOINT: traces are off");
    }
    Telemetry { traces }
}

/// The OTLP/HTTP exporter for `endpoint`, the collector's base URL (as the
/// OpenTelemetry specification has it, `/v1/traces` is added), trusting
/// the authorities in `certificate` too.
fn exporter(endpoint: &str, certificate: Option<&Path>) -> Result<SdkTracerProvider, String> {
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(http_client(certificate)?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .map_err(|error| error.to_string())?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("usergraph").build())
        .build())
}

/// The exporter's HTTP client: rustls with the built-in roots and those of
/// `certificate` (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
fn http_client(certificate: Option<&Path>) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder().timeout(EXPORT_TIMEOUT);
    if let Some(path) = certificate {
        let unreadable = |error: &dyn std::fmt::Display| {
            format!("OTEL_EXPORTER_OTLP_CERTIFICATE {}: {error}", path.display())
        };
        let pem = std::fs::read(path).map_err(|error| unreadable(&error))?;
        let authorities =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| unreadable(&error))?;
        if authorities.is_empty() {
            return Err(unreadable(&"no PEM certificate in the file"));
        }
        for authority in authorities {
            builder = builder.add_root_certificate(authority);
        }
    }
    // The blocking client owns a runtime, which cannot be made inside
    // tokio's: build it on a thread of its own (as the exporter itself does).
    std::thread::spawn(move || builder.build())
        .join()
        .map_err(|_| "the HTTP client could not be built".to_owned())?
        .map_err(|error| error.to_string())
}

impl Telemetry {
    /// Send the spans still waiting, then stop the exporter.
    pub async fn shutdown(self) {
        let Some(provider) = self.traces else {
            return;
        };
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        if let Ok(Err(error)) = flushed {
            eprintln!("traces: the last spans could not be sent: {error}");
        }
    }
}

/// Make `span` continue the trace named by the request's `traceparent`
/// header, when there is one (a no-op when traces are off).
pub fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

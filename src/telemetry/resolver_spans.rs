//! A span for each field resolver slower than `OTEL_RESOLVER_SPAN_THRESHOLD`,
//! a child of its request's `graphql` span, named `Parent.field` with the
//! field's path: where a slow request spent its time.
//!
//! An async-graphql extension that wraps `resolve` moves every field of
//! every response onto a slower path, so the schema gets this one only
//! while traces are exported ([`ResolverSpans::when_tracing`]). And it does
//! the least it can per field: two clock reads. Only a field over the
//! threshold pays for a span, made after the fact with the OpenTelemetry
//! tracer itself, since a `tracing` span cannot be given a start time in
//! the past. Every such span's parent is the request span (a slow field
//! inside a slow field is not nested under it: the outer span does not
//! exist yet when the inner one ends); the path shows the nesting.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
use opentelemetry_sdk::trace::SdkTracer;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::Config;

/// The extension factory; see the module doc.
pub struct ResolverSpans {
    tracer: SdkTracer,
    threshold: Duration,
}

impl ResolverSpans {
    /// `Some` only when [`super::init`] installed a trace exporter.
    #[must_use]
    pub fn when_tracing(config: &Config) -> Option<Self> {
        Some(Self {
            tracer: super::TRACER.get()?.clone(),
            threshold: config.otel_resolver_span_threshold,
        })
    }
}

impl ExtensionFactory for ResolverSpans {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResolverSpansExtension {
            tracer: self.tracer.clone(),
            threshold: self.threshold,
        })
    }
}

struct ResolverSpansExtension {
    tracer: SdkTracer,
    threshold: Duration,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ResolverSpansExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let (path, parent_type, field) = (info.path_node, info.parent_type, info.name);
        let started = Instant::now();
        let resolved = next.run(ctx, info).await;
        let took = started.elapsed();
        if took >= self.threshold {
            let end = SystemTime::now();
            let parent = tracing::Span::current().context();
            let mut span = self
                .tracer
                .span_builder(format!("{parent_type}.{field}"))
                .with_kind(SpanKind::Internal)
                .with_start_time(end.checked_sub(took).unwrap_or(end))
                .with_attributes([
                    KeyValue::new("graphql.field.path", path.to_string()),
                    KeyValue::new("graphql.field.parent_type", parent_type.to_owned()),
                    KeyValue::new("graphql.field.name", field.to_owned()),
                ])
                .start_with_context(&self.tracer, &parent);
            if let Err(error) = &resolved {
                span.set_status(Status::error(error.message.clone()));
            }
            span.end_with_timestamp(end);
        }
        resolved
    }
}

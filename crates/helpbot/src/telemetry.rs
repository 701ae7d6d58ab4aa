//! OpenTelemetry traces with OpenInference semantics, exported over OTLP/HTTP
//! (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT`, or to the configured Charter, or
//! nowhere. Export runs in the background (a batch processor on the tokio runtime):
//! a collector that is down or slow never delays or breaks a chat; the SDK drops
//! spans it cannot send and says so in the log.

use std::collections::HashMap;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// OpenInference attribute names used by HelpBot.
pub mod oi {
    pub const SPAN_KIND: &str = "openinference.span.kind";
    pub const INPUT_VALUE: &str = "input.value";
    pub const INPUT_MIME: &str = "input.mime_type";
    pub const OUTPUT_VALUE: &str = "output.value";
    pub const OUTPUT_MIME: &str = "output.mime_type";
    pub const SESSION_ID: &str = "session.id";
    pub const USER_ID: &str = "user.id";
    pub const METADATA: &str = "metadata";
    pub const TAGS: &str = "tag.tags";
    pub const LLM_MODEL: &str = "llm.model_name";
    pub const LLM_PROVIDER: &str = "llm.provider";
    pub const LLM_SYSTEM: &str = "llm.system";
    pub const LLM_PARAMS: &str = "llm.invocation_parameters";
    pub const TOKENS_PROMPT: &str = "llm.token_count.prompt";
    pub const TOKENS_COMPLETION: &str = "llm.token_count.completion";
    pub const TOKENS_TOTAL: &str = "llm.token_count.total";
    pub const PROJECT: &str = "openinference.project.name";
}

/// Where and how to export.
#[derive(Clone, Default)]
pub struct TelemetrySettings {
    /// Base OTLP/HTTP endpoint (`http://collector:4318`); `/v1/traces` is appended
    /// unless the URL already ends with it. `None` exports nothing.
    pub endpoint: Option<String>,
    /// Extra headers (`Authorization`, Arize's `space_id`/`api_key`, Phoenix's
    /// `x-project-name`, …).
    pub headers: HashMap<String, String>,
    /// `openinference.project.name` (the Charter/Phoenix project).
    pub project: String,
    /// `service.version` (the serving model version).
    pub service_version: String,
    /// `deployment.environment`.
    pub environment: String,
}

impl std::fmt::Debug for TelemetrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetrySettings")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("project", &self.project)
            .finish()
    }
}

/// Parse `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded).
pub fn parse_headers(s: &str) -> HashMap<String, String> {
    s.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The traces URL for a base endpoint.
pub fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim_end_matches('/');
    if e.ends_with("/v1/traces") {
        e.to_owned()
    } else {
        format!("{e}/v1/traces")
    }
}

/// The tracer provider and HelpBot's tracer.
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    /// The URL spans go to, if any.
    pub traces_url: Option<String>,
    pub project: String,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("traces_url", &self.traces_url)
            .finish()
    }
}

impl Telemetry {
    /// Set up export. Must run inside a tokio runtime when an endpoint is set.
    pub fn init(settings: &TelemetrySettings) -> anyhow::Result<Self> {
        let resource = Resource::builder()
            .with_service_name("helpbot")
            .with_attributes([
                KeyValue::new(oi::PROJECT, settings.project.clone()),
                KeyValue::new("service.version", settings.service_version.clone()),
                KeyValue::new("deployment.environment", settings.environment.clone()),
                // Arize reads the model's name from `model_id`.
                KeyValue::new("model_id", settings.project.clone()),
            ])
            .build();
        let mut builder = SdkTracerProvider::builder().with_resource(resource);
        let mut url = None;
        if let Some(endpoint) = settings.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            let u = traces_url(endpoint.trim());
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(u.clone())
                .with_headers(settings.headers.clone())
                .with_timeout(std::time::Duration::from_secs(10))
                .build()?;
            let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                exporter,
                opentelemetry_sdk::runtime::Tokio,
            )
            .build();
            builder = builder.with_span_processor(processor);
            url = Some(u);
        }
        let provider = builder.build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "helpbot");
        Ok(Self {
            provider,
            tracer,
            traces_url: url,
            project: settings.project.clone(),
        })
    }

    /// A telemetry that exports nothing (span ids are still made).
    pub fn disabled() -> Self {
        let provider = SdkTracerProvider::builder().build();
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "helpbot");
        Self {
            provider,
            tracer,
            traces_url: None,
            project: "helpbot".into(),
        }
    }

    /// Start a span of an OpenInference kind, as a child of `parent` (or a root).
    pub fn start(&self, name: &str, kind: &'static str, parent: Option<&Context>, attrs: Vec<KeyValue>) -> Context {
        let mut attributes = vec![KeyValue::new(oi::SPAN_KIND, kind)];
        attributes.extend(attrs);
        let builder = self
            .tracer
            .span_builder(name.to_owned())
            .with_kind(if parent.is_none() {
                SpanKind::Server
            } else {
                SpanKind::Internal
            })
            .with_attributes(attributes);
        let span = match parent {
            Some(cx) => builder.start_with_context(&self.tracer, cx),
            None => builder.start_with_context(&self.tracer, &Context::new()),
        };
        Context::new().with_span(span)
    }

    /// Export what is buffered (blocking; call from `spawn_blocking`).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "telemetry flush failed");
        }
    }

    /// Flush and stop the exporter.
    pub fn shutdown(&self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::debug!(error = %e, "telemetry shutdown");
        }
    }
}

/// Add attributes to a context's span.
pub fn set(cx: &Context, attrs: Vec<KeyValue>) {
    let span = cx.span();
    for a in attrs {
        span.set_attribute(a);
    }
}

/// End a context's span, with an error status when `error` is set.
pub fn end(cx: &Context, error: Option<&str>) {
    let span = cx.span();
    if let Some(e) = error {
        span.set_status(Status::error(e.to_owned()));
    } else {
        span.set_status(Status::Ok);
    }
    span.end();
}

/// The span and trace ids of a context, as hex.
pub fn ids(cx: &Context) -> (String, String) {
    let sc = cx.span().span_context().clone();
    (sc.trace_id().to_string(), sc.span_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_like_the_otel_spec() {
        let h = parse_headers("space_id=abc, api_key=k%3Dv ,x-project-name=helpbot,broken");
        assert_eq!(h["space_id"], "abc");
        assert_eq!(h["api_key"], "k=v");
        assert_eq!(h["x-project-name"], "helpbot");
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn traces_url_appends_the_path_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(
            traces_url("https://otlp.arize.com/v1/traces"),
            "https://otlp.arize.com/v1/traces"
        );
    }
}

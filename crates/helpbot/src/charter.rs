//! HelpBot's calls to Charter's public HTTP APIs (and their Phoenix equivalents):
//! the start-up gate check (`POST /api/v1/gates/check`) and feedback annotations
//! (`POST /v1/span_annotations`, the Phoenix-compatible shape).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

/// A thumbs up or down on an answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Feedback {
    /// The answer's CHAIN span.
    pub span_id: String,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    /// `up` or `down`.
    pub label: String,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Where feedback goes.
#[derive(Clone)]
pub struct FeedbackSink {
    /// Base URL of the annotation API (Charter or Phoenix); `None` keeps feedback local.
    pub url: Option<String>,
    pub token: Option<String>,
    /// `feedback.jsonl` in the data directory: every feedback is written here first.
    pub journal: PathBuf,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for FeedbackSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedbackSink")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What happened to a feedback.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackOutcome {
    /// Saved to the local journal.
    pub saved: bool,
    /// Posted to the annotation API.
    pub forwarded: bool,
    /// Why it was not forwarded, if it was not.
    pub note: Option<String>,
    /// The annotation ids the API returned.
    pub annotation_ids: Vec<String>,
    /// A sentence for the person who gave it.
    pub message: String,
}

/// Tries after a `404` (the span not ingested yet): the first after flushing the
/// exporter, the others after 250 and 500 ms.
const FEEDBACK_RETRIES: u32 = 3;

/// What the annotation API did with one post.
enum Posted {
    Stored(Vec<String>),
    /// 404: the span is unknown there (yet).
    SpanUnknown(String),
    Refused(reqwest::StatusCode, String),
    Unreachable(String),
}

/// A feedback that is not valid.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFeedback(pub String);

/// The annotation body, in the shape Charter and Phoenix accept.
pub fn annotation_body(f: &Feedback) -> serde_json::Value {
    let (label, score) = if f.label == "up" {
        ("thumbs_up", 1.0)
    } else {
        ("thumbs_down", 0.0)
    };
    json!({"data": [{
        "span_id": f.span_id,
        "name": "user_feedback",
        "annotator_kind": "HUMAN",
        "result": {"label": label, "score": score, "explanation": f.comment.clone().unwrap_or_default()},
        "metadata": {"session_id": f.session_id, "trace_id": f.trace_id, "source": "helpbot"},
        "identifier": "",
    }]})
}

impl FeedbackSink {
    /// Validate, journal, and forward one feedback. A forwarding failure is reported,
    /// not an error: the feedback is safe in the journal.
    ///
    /// Annotation APIs (Charter's, Phoenix's) only know spans they have ingested, and
    /// the answer's span may still sit in the exporter's batch when someone clicks a
    /// thumb: on `404` HelpBot calls `flush` (export what is buffered) and tries
    /// again, then a few more times with a short backoff.
    pub async fn record<F, Fut>(&self, f: &Feedback, flush: F) -> Result<FeedbackOutcome, InvalidFeedback>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        if f.label != "up" && f.label != "down" {
            return Err(InvalidFeedback(format!(
                "label: `{}` is neither `up` nor `down`",
                f.label
            )));
        }
        if f.span_id.len() != 16 || !f.span_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(InvalidFeedback(format!(
                "span_id: `{}` is not a 16-hex-digit span id (use the span_id of the answer)",
                f.span_id
            )));
        }
        if f.comment.as_deref().is_some_and(|c| c.chars().count() > 2000) {
            return Err(InvalidFeedback("comment: at most 2000 characters".into()));
        }
        // Comments are free text: redact personal data like questions.
        let mut f = f.clone();
        f.comment = f.comment.map(|c| crate::guardrail::redact(&c).text);
        let body = annotation_body(&f);
        let saved = self.journal_line(&body).is_ok();
        let mut out = FeedbackOutcome {
            saved,
            forwarded: false,
            note: None,
            annotation_ids: vec![],
            message: String::new(),
        };
        match &self.url {
            None => out.note = Some("no annotation API configured (CHARTER_URL)".into()),
            Some(base) => {
                let url = format!("{}/v1/span_annotations", base.trim_end_matches('/'));
                let mut flush = Some(flush);
                let mut attempt = 0u32;
                loop {
                    match self.post(&url, &body).await {
                        Posted::Stored(ids) => {
                            out.forwarded = true;
                            out.annotation_ids = ids;
                            break;
                        }
                        Posted::SpanUnknown(_) if attempt < FEEDBACK_RETRIES => {
                            match flush.take() {
                                Some(flush) => flush().await,
                                None => tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await,
                            }
                            attempt += 1;
                        }
                        Posted::SpanUnknown(text) => {
                            out.note = Some(format!(
                                "{url} does not know span {} (the answer's trace has not reached it: is the trace \
                                 export to it working? see /health): {}",
                                f.span_id,
                                text.chars().take(300).collect::<String>()
                            ));
                            break;
                        }
                        Posted::Refused(status, text) => {
                            out.note = Some(format!(
                                "{url} answered HTTP {status}: {}",
                                text.chars().take(300).collect::<String>()
                            ));
                            break;
                        }
                        Posted::Unreachable(e) => {
                            out.note = Some(format!("{url} unreachable: {e}"));
                            break;
                        }
                    }
                }
            }
        }
        if let Some(n) = &out.note {
            tracing::warn!(note = %n, "feedback kept locally, not forwarded");
        }
        out.message = match (out.forwarded, out.saved) {
            (true, _) => "Thanks for your feedback.".into(),
            (false, true) => "Thanks: your feedback was saved (the monitoring service did not take it).".into(),
            (false, false) => "Your feedback could not be saved.".into(),
        };
        Ok(out)
    }

    async fn post(&self, url: &str, body: &serde_json::Value) -> Posted {
        let mut rb = self.http.post(url).json(body).timeout(Duration::from_secs(10));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        match rb.send().await {
            Ok(r) if r.status().is_success() => {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                Posted::Stored(
                    v["data"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x["id"].as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                )
            }
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
                Posted::SpanUnknown(r.text().await.unwrap_or_default())
            }
            Ok(r) => {
                let status = r.status();
                Posted::Refused(status, r.text().await.unwrap_or_default())
            }
            Err(e) => Posted::Unreachable(e.to_string()),
        }
    }

    fn journal_line(&self, body: &serde_json::Value) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.journal.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)?;
        let line = json!({"time": time::OffsetDateTime::now_utc().unix_timestamp(), "annotation": body["data"][0]});
        writeln!(file, "{line}")?;
        file.sync_data()
    }
}

/// A gate decision as HelpBot reads it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct GateDecision {
    pub allowed: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub missing: Vec<MissingApproval>,
    #[serde(default)]
    pub gates: Vec<String>,
}

/// An approval the gate still waits for.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MissingApproval {
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub policy: String,
    #[serde(default)]
    pub approval: String,
    #[serde(default)]
    pub status: String,
}

/// Ask Charter whether `start_app` may happen for `project` (target: the served model).
pub async fn check_gate(
    client: &charter_client::Client,
    project: &str,
    target: &str,
) -> Result<GateDecision, charter_client::ClientError> {
    client
        .post(
            "/gates/check",
            &json!({"action": "start_app", "project": project, "target": target}),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_has_the_phoenix_shape() {
        let b = annotation_body(&Feedback {
            span_id: "00f067aa0ba902b7".into(),
            trace_id: None,
            session_id: Some("s".into()),
            label: "up".into(),
            comment: Some("great".into()),
        });
        let a = &b["data"][0];
        assert_eq!(a["span_id"], "00f067aa0ba902b7");
        assert_eq!(a["name"], "user_feedback");
        assert_eq!(a["annotator_kind"], "HUMAN");
        assert_eq!(a["result"]["label"], "thumbs_up");
        assert_eq!(a["result"]["score"], 1.0);
        assert_eq!(a["result"]["explanation"], "great");
        assert_eq!(a["identifier"], "");
    }

    #[tokio::test]
    async fn bad_feedback_is_refused_and_good_is_journalled() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FeedbackSink {
            url: None,
            token: None,
            journal: dir.path().join("feedback.jsonl"),
            http: reqwest::Client::new(),
        };
        let mut f = Feedback {
            span_id: "xyz".into(),
            trace_id: None,
            session_id: None,
            label: "up".into(),
            comment: None,
        };
        let no_flush = || async {};
        assert!(sink.record(&f, no_flush).await.unwrap_err().0.contains("span_id"));
        f.span_id = "00f067aa0ba902b7".into();
        f.label = "meh".into();
        assert!(sink.record(&f, no_flush).await.unwrap_err().0.contains("label"));
        f.label = "down".into();
        f.comment = Some("mail me at a.b@example.com".into());
        let out = sink.record(&f, no_flush).await.unwrap();
        assert!(out.saved && !out.forwarded);
        let journal = std::fs::read_to_string(dir.path().join("feedback.jsonl")).unwrap();
        assert!(journal.contains("thumbs_down") && journal.contains("[EMAIL]") && !journal.contains("a.b@"));
    }
}

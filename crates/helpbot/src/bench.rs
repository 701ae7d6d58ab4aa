//! `helpbot bench`: answer latency of the extractive generator on the shipped KB and
//! on generated 1k- and 10k-document KBs (the shipped articles plus generated filler
//! articles made of the KB's own vocabulary, so the golden questions still have
//! their answers among many distractors), index build time and peak memory for 10k
//! documents, and chat requests per second over HTTP under 32 concurrent sessions.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::chat::{ChatRequest, Engine};
use crate::kb::{ChunkParams, KnowledgeBase};
use crate::model::{ModelConfig, Serving};
use crate::retrieval::Retriever;
use crate::telemetry::Telemetry;

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let pick = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
    Latency {
        n: ms.len(),
        p50_ms: pick(50.0),
        p99_ms: pick(99.0),
        mean_ms: ms.iter().sum::<f64>() / ms.len() as f64,
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Current resident memory (Linux `VmRSS`), in MiB.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// A deterministic pseudo-random sequence (no seed from the clock: runs compare).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, v: &'a [String]) -> &'a str {
        &v[(self.next() as usize) % v.len()]
    }
}

/// The shipped articles plus generated ones, `total` documents in all.
pub fn generated_kb(shipped: &Path, total: usize) -> anyhow::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    let mut vocab = Vec::new();
    collect_texts(shipped, shipped, &mut files)?;
    for (_, t) in &files {
        for w in t.split_whitespace() {
            let w: String = w.chars().filter(|c| c.is_alphanumeric()).collect();
            if w.len() > 2 {
                vocab.push(w.to_lowercase());
            }
        }
    }
    let mut rng = Lcg(7);
    let mut i = 0;
    while files.len() < total {
        let mut text = format!("# {} {} {}\n\n", rng.pick(&vocab), rng.pick(&vocab), rng.pick(&vocab));
        for _ in 0..3 {
            text.push_str(&format!("## {} {}\n\n", rng.pick(&vocab), rng.pick(&vocab)));
            for _ in 0..2 {
                let mut sentence = Vec::new();
                for _ in 0..14 {
                    sentence.push(rng.pick(&vocab).to_owned());
                }
                text.push_str(&sentence.join(" "));
                text.push_str(". ");
                let mut sentence = Vec::new();
                for _ in 0..12 {
                    sentence.push(rng.pick(&vocab).to_owned());
                }
                text.push_str(&sentence.join(" "));
                text.push_str(".\n\n");
            }
        }
        files.push((format!("generated/{:05}.md", i), text));
        i += 1;
    }
    Ok(files)
}

fn collect_texts(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect_texts(root, &p, out)?;
        } else if p.extension().is_some_and(|x| x == "md")
            && !p.file_name().is_some_and(|n| n.eq_ignore_ascii_case("readme.md"))
        {
            let rel = p.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p)?));
        }
    }
    Ok(())
}

/// Build an engine over in-memory articles (no telemetry, extractive).
pub fn engine_for(files: &[(String, String)], config: &ModelConfig, dir: &Path) -> anyhow::Result<(Engine, f64)> {
    let started = Instant::now();
    let kb = KnowledgeBase::from_texts(Path::new("generated"), files, &config.chunking);
    let (retriever, _, _) = Retriever::cached(Arc::new(kb), config.retrieval.clone(), dir, &mut |_| {})?;
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let sha = retriever.kb().manifest.sha256.clone();
    let serving = Serving {
        source: "local",
        name: config.name.clone(),
        version: None,
        alias: None,
        label: config.label.clone(),
        uri: "local:bench".into(),
        fingerprint: config.fingerprint(&sha)[..12].to_owned(),
        note: None,
        kb_manifest_sha256: sha,
        generator: "extractive".into(),
    };
    let engine = Engine::new(
        config.clone(),
        serving,
        retriever,
        crate::model::GeneratorKind::Extractive,
        None,
        Telemetry::disabled(),
    );
    Ok((engine, build_ms))
}

/// Answer each question `rounds` times; latency of each answer.
pub async fn answer_latency(engine: &Engine, questions: &[String], rounds: usize) -> Latency {
    let mut ms = Vec::with_capacity(questions.len() * rounds);
    for _ in 0..rounds {
        for q in questions {
            let started = Instant::now();
            let _ = engine
                .chat(
                    ChatRequest {
                        message: q.clone(),
                        session_id: Some("bench".into()),
                        user_id: None,
                    },
                    None,
                )
                .await;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    latency(ms)
}

/// Throughput over HTTP: `sessions` concurrent clients, `per_session` requests each.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub sessions: usize,
    pub requests: usize,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub latency: Latency,
}

/// Serve `state` on a loopback port and load it.
pub async fn http_throughput(
    state: Arc<crate::server::AppState>,
    questions: &[String],
    sessions: usize,
    per_session: usize,
) -> anyhow::Result<Throughput> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::server::router(state);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/api/chat");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let url = url.clone();
        let questions = questions.to_vec();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut ms = Vec::with_capacity(per_session);
            for i in 0..per_session {
                let q = &questions[(s * 7 + i) % questions.len()];
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .json(&serde_json::json!({"message": q, "session_id": format!("bench-{s}")}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "HTTP {}", r.status());
                let _ = r.bytes().await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(ms)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    Ok(Throughput {
        sessions,
        requests: all.len(),
        seconds,
        requests_per_sec: all.len() as f64 / seconds,
        latency: latency(all),
    })
}

/// Chunking used by the generated KBs (the model's).
pub fn chunking(config: &ModelConfig) -> ChunkParams {
    config.chunking.clone()
}

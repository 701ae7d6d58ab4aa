use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use charter_domain::audit::{ChainBreak, Checkpoint, verifying_key_from_hex};
use charter_domain::time::rfc3339;
use charter_server::api::audit::{AuditQuery, render_export};
use charter_store::StoreError;
use charter_store::audit::AuditFilter;
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

use super::open_state;
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain and check every checkpoint; exit 1 on any break.
    Verify {
        /// Verify checkpoints with this public key (hex) instead of the local key.
        #[arg(long)]
        public_key: Option<String>,
        /// Also check checkpoints exported earlier (`charter audit checkpoints --output`),
        /// which reveal events removed since they were exported.
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Export events as CSV or JSON, oldest first.
    Export(ExportArgs),
    /// Sign the chain's head now.
    Checkpoint,
    /// List (or save) the signed checkpoints, to publish or keep elsewhere.
    Checkpoints {
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the public key that verifies checkpoints.
    Key,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Events at or after this time (RFC 3339, date or epoch ms).
    #[arg(long)]
    since: Option<String>,
    /// Events before this time.
    #[arg(long)]
    until: Option<String>,
    /// Actor username or id.
    #[arg(long)]
    actor: Option<String>,
    /// Action, or a prefix ending in `*` (`user.*`).
    #[arg(long)]
    action: Option<String>,
    /// Target type (`user`) or `type:id`.
    #[arg(long)]
    target: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// A checkpoint as exported: the signed statement, readable and checkable elsewhere.
#[derive(Debug, Serialize, Deserialize)]
struct ExportedCheckpoint {
    seq: i64,
    head_hash: String,
    created_at_ms: i64,
    created_at: String,
    public_key: String,
    signature: String,
}

impl AuditCommand {
    pub async fn run(self, file: Option<&Path>) -> anyhow::Result<ExitCode> {
        let state = open_state(file).await?;
        match self {
            AuditCommand::Verify {
                public_key,
                checkpoints,
            } => {
                let key = match public_key {
                    Some(hex) => verifying_key_from_hex(&hex).context("--public-key")?,
                    None => state.audit_key.verifying_key(),
                };
                let total = state.store.audit_count().await? as u64;
                let mut progress = Progress::new("verifying the audit chain", Some(total));
                let result = state.store.verify_audit(&key, |n| progress.set(n)).await;
                progress.finish();
                let report = match result {
                    Ok(r) => r,
                    Err(StoreError::Chain(b)) => return Ok(report_break(&b)),
                    Err(e) => return Err(e.into()),
                };
                if let Some(path) = checkpoints {
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    let external: Vec<ExportedCheckpoint> = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a checkpoint export", path.display()))?;
                    for cp in &external {
                        let cp = Checkpoint {
                            seq: cp.seq,
                            head_hash: cp.head_hash.clone(),
                            created_at: cp.created_at_ms,
                            public_key: cp.public_key.clone(),
                            signature: cp.signature.clone(),
                        };
                        if let Err(b) = check_external(&state, &key, &cp, report.head.seq).await? {
                            return Ok(report_break(&b));
                        }
                    }
                    println!(
                        "{} exported checkpoint(s) from {} match the chain",
                        external.len(),
                        path.display()
                    );
                }
                println!(
                    "audit chain OK: {} events, head #{} {}, {} checkpoint(s), newest at #{} ({} event(s) after it are vouched for by the chain alone)",
                    report.events,
                    report.head.seq,
                    report.head.hash,
                    report.checkpoints,
                    report.last_checkpoint_seq,
                    report.unsigned_tail()
                );
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Export(args) => {
                let query = AuditQuery {
                    since: args.since,
                    until: args.until,
                    actor: args.actor,
                    action: args.action,
                    target: args.target,
                    order: Some("asc".into()),
                    ..Default::default()
                };
                let filter = query.to_filter().map_err(super::api_err)?;
                let events = state
                    .store
                    .audit_events(&AuditFilter {
                        ascending: true,
                        ..filter
                    })
                    .await?;
                let text = render_export(&events, matches!(args.format, Format::Csv));
                match args.output {
                    Some(path) => {
                        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                        eprintln!("wrote {} event(s) to {}", events.len(), path.display());
                    }
                    None => print!("{text}"),
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint => {
                match state.store.checkpoint(&state.audit_key).await? {
                    Some(cp) => println!("signed checkpoint at #{} ({})", cp.seq, cp.head_hash),
                    None => println!("the head is already signed (or the log is empty); nothing to do"),
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoints { output } => {
                let cps: Vec<ExportedCheckpoint> = state
                    .store
                    .checkpoints()
                    .await?
                    .into_iter()
                    .map(|c| ExportedCheckpoint {
                        seq: c.seq,
                        head_hash: c.head_hash,
                        created_at_ms: c.created_at,
                        created_at: rfc3339(c.created_at),
                        public_key: c.public_key,
                        signature: c.signature,
                    })
                    .collect();
                let text = serde_json::to_string_pretty(&cps)?;
                match output {
                    Some(path) => {
                        std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
                        eprintln!("wrote {} checkpoint(s) to {}", cps.len(), path.display());
                    }
                    None => println!("{text}"),
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Key => {
                println!("{}", state.audit_key.public_hex());
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

fn report_break(b: &ChainBreak) -> ExitCode {
    eprintln!("AUDIT CHAIN BROKEN: {b}");
    match b.event_id() {
        Some(id) => eprintln!("first broken event: #{} {id}", b.seq()),
        None => eprintln!("first broken point: #{}", b.seq()),
    }
    ExitCode::FAILURE
}

async fn check_external(
    state: &charter_server::AppState,
    key: &charter_domain::audit::VerifyingKey,
    cp: &Checkpoint,
    head_seq: i64,
) -> anyhow::Result<Result<(), ChainBreak>> {
    if let Err(b) = cp.verify_signature(key) {
        return Ok(Err(b));
    }
    if cp.seq > head_seq {
        return Ok(Err(ChainBreak::Truncated {
            seq: cp.seq,
            last: head_seq,
        }));
    }
    let filter = AuditFilter {
        after_seq: Some(cp.seq - 1),
        ascending: true,
        limit: Some(1),
        ..Default::default()
    };
    let found = state.store.audit_events(&filter).await?;
    match found.first() {
        Some(e) if e.seq == cp.seq && e.hash == cp.head_hash => Ok(Ok(())),
        Some(e) if e.seq == cp.seq => Ok(Err(ChainBreak::CheckpointMismatch {
            seq: cp.seq,
            signed: cp.head_hash.clone(),
            found: e.hash.clone(),
        })),
        _ => bail!(
            "event #{} is missing although the chain verified; the database changed during verification",
            cp.seq
        ),
    }
}

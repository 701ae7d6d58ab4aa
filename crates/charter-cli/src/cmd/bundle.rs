//! `charter bundle`, `charter finding`, `charter task`, `charter gate`: the
//! governance journey from a shell, against a running server.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::remote::{client, seg, show};

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Create a bundle in a project, following one or more published policies.
    Create {
        #[arg(long)]
        project: String,
        #[arg(long)]
        name: String,
        /// A policy to follow (name or id); repeat for several.
        #[arg(long = "policy", required = true)]
        policies: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a bundle: policies, classification, stages, answers, approvals.
    Show {
        bundle: String,
        #[arg(long)]
        json: bool,
    },
    /// Answer a question. VALUE is JSON when it parses as JSON (numbers, lists), else text.
    Answer {
        bundle: String,
        #[arg(long)]
        policy: String,
        /// The question's id (or its classification alias).
        input: String,
        value: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a new bundle from this one, carrying its evidence over.
    Copy {
        bundle: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// Move the bundle to another published version of one of its policies
    /// (prints what changes: approvals added, removed, reset; answers no longer asked).
    Migrate {
        bundle: String,
        #[arg(long)]
        policy: String,
        /// `published` (the newest published version) or a version number.
        #[arg(long, default_value = "published")]
        to: String,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Assign someone to work on a stage (no USER: unassign). They get a task.
    Assign {
        bundle: String,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        stage: String,
        user: Option<String>,
    },
    /// Ask the approvers of a stage to review it.
    RequestReview {
        bundle: String,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        stage: String,
    },
    /// Approve an approval (by its id, or by name with --bundle).
    Approve(Decision),
    /// Approve with conditions: findings with due dates that must be resolved.
    ApproveWithConditions(Decision),
    /// Reject: the stage opens for evidence again.
    Reject(Decision),
    /// Revoke a granted approval.
    Revoke(Decision),
    /// Mark a compliant bundle complete (freezes its evidence).
    Complete { bundle: String },
    /// Archive a bundle (freezes its evidence).
    Archive { bundle: String },
    /// Attach a registered model version (Charter's MLflow registry) to a bundle; its
    /// metrics are checked against the thresholds of the bundle's policies.
    AttachModel {
        /// The registered model's name.
        name: String,
        /// The version number.
        version: i64,
        #[arg(long)]
        bundle: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct Decision {
    /// The approval's id (`apr_…`), or its name together with --bundle.
    approval: String,
    #[arg(long)]
    bundle: Option<String>,
    #[arg(long, default_value = "")]
    comment: String,
    /// Sign-off answers as `input=value` (repeat).
    #[arg(long = "signoff")]
    signoff: Vec<String>,
    /// A condition: `name|severity|due-date` (repeat; for approve-with-conditions).
    #[arg(long = "finding")]
    findings: Vec<String>,
    /// An existing finding id to link as a condition (repeat).
    #[arg(long = "finding-id")]
    finding_ids: Vec<String>,
}

fn value_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The approval a decision names, as the server has it now (with its `version`).
async fn resolve_approval(c: &charter_client::Client, d: &Decision) -> anyhow::Result<Value> {
    let id = match &d.bundle {
        None => {
            anyhow::ensure!(
                d.approval.starts_with("apr_"),
                "name the approval by id (apr_…) or pass --bundle with its name"
            );
            d.approval.clone()
        }
        Some(bundle) => {
            let notebook: Value = c.get(&format!("/bundles/{}", seg(bundle))).await?;
            let found: Vec<&Value> = notebook["policies"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|p| p["stages"].as_array().into_iter().flatten())
                .flat_map(|s| s["approvals"].as_array().into_iter().flatten())
                .filter(|a| a["id"] == d.approval.as_str() || a["name"] == d.approval.as_str())
                .collect();
            match found.as_slice() {
                [one] => one["id"].as_str().unwrap_or_default().to_owned(),
                [] => anyhow::bail!("bundle {bundle} has no approval `{}`", d.approval),
                _ => anyhow::bail!(
                    "bundle {bundle} has several approvals named `{}`; use its id (apr_…)",
                    d.approval
                ),
            }
        }
    };
    let detail: Value = c.get(&format!("/approvals/{}", seg(&id))).await?;
    // The detail carries the approval's fields at the top level, with its `version`.
    Ok(detail)
}

async fn decide(d: Decision, outcome: &str) -> anyhow::Result<ExitCode> {
    let c = client()?;
    let approval = resolve_approval(&c, &d).await?;
    let signoff: serde_json::Map<String, Value> = d
        .signoff
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.to_owned(), value_of(v))),
            None => Err(anyhow::anyhow!("--signoff takes input=value, not `{kv}`")),
        })
        .collect::<anyhow::Result<_>>()?;
    let findings: Vec<Value> = d
        .findings
        .iter()
        .map(|f| {
            let parts: Vec<&str> = f.split('|').collect();
            json!({ "name": parts[0], "severity": parts.get(1).copied().unwrap_or("medium"),
                    "due_date": parts.get(2).copied(), "description": "" })
        })
        .collect();
    let id = approval["id"].as_str().unwrap_or(&d.approval).to_owned();
    let mut body = json!({ "outcome": outcome, "comment": d.comment, "signoff": signoff,
                           "findings": findings, "finding_ids": d.finding_ids });
    if let Some(v) = approval["version"].as_i64() {
        body["version"] = json!(v);
    }
    let v: Value = c.post(&format!("/approvals/{}/decision", seg(&id)), &body).await?;
    println!(
        "approval `{}` is now {}",
        v["name"].as_str().unwrap_or(&id),
        v["status"].as_str().unwrap_or("?")
    );
    Ok(ExitCode::SUCCESS)
}

impl BundleCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let c = client()?;
        match self {
            BundleCommand::Create {
                project,
                name,
                policies,
                description,
                json: as_json,
            } => {
                let v: Value = c
                    .post(
                        "/bundles",
                        &json!({ "project": project, "name": name, "description": description, "policies": policies }),
                    )
                    .await?;
                show(as_json, &v, |v| {
                    format!(
                        "created bundle `{}` ({})",
                        v["name"].as_str().unwrap_or(""),
                        v["id"].as_str().unwrap_or("")
                    )
                });
            }
            BundleCommand::Show { bundle, json: as_json } => {
                let v: Value = c.get(&format!("/bundles/{}", seg(&bundle))).await?;
                show(as_json, &v, describe_bundle);
            }
            BundleCommand::Answer {
                bundle,
                policy,
                input,
                value,
                json: as_json,
            } => {
                let v: Value = c
                    .put(
                        &format!("/bundles/{}/answers", seg(&bundle)),
                        &json!({ "policy": policy, "input": input, "value": value_of(&value) }),
                    )
                    .await?;
                show(as_json, &v, |v| {
                    format!(
                        "answered {} (revision {}); classification: {}; still missing: {}",
                        v["input_id"].as_str().unwrap_or(""),
                        v["revision"],
                        v["classification"].as_str().unwrap_or("none"),
                        v["missing_required"].as_array().map_or(0, Vec::len)
                    )
                });
            }
            BundleCommand::Copy {
                bundle,
                name,
                description,
                json: as_json,
            } => {
                let v: Value = c
                    .post(
                        &format!("/bundles/{}/copy", seg(&bundle)),
                        &json!({ "name": name, "description": description }),
                    )
                    .await?;
                show(as_json, &v, |v| {
                    format!(
                        "created bundle `{}` ({}) carrying over {} answer(s) and {} attachment(s); {} left behind",
                        v["bundle"]["name"].as_str().unwrap_or(""),
                        v["bundle"]["id"].as_str().unwrap_or(""),
                        v["plan"]["answers"].as_array().map_or(0, Vec::len),
                        v["plan"]["attachments"].as_array().map_or(0, Vec::len),
                        v["plan"]["skipped"].as_array().map_or(0, Vec::len)
                    )
                });
            }
            BundleCommand::Migrate {
                bundle,
                policy,
                to,
                dry_run,
                json: as_json,
            } => {
                let v: Value = c
                    .post(
                        &format!("/bundles/{}/migrate", seg(&bundle)),
                        &json!({ "policy": policy, "to_version": to, "dry_run": dry_run }),
                    )
                    .await?;
                show(as_json, &v, |v| {
                    let list = |k: &str| {
                        v[k].as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "none".into())
                    };
                    let mut out = format!(
                        "{} `{}` from version {} to {}\n",
                        if v["applied"].as_bool() == Some(true) {
                            "moved"
                        } else {
                            "would move"
                        },
                        v["policy"].as_str().unwrap_or(""),
                        v["from_version"],
                        v["to_version"]
                    );
                    for line in v["changes"].as_array().into_iter().flatten() {
                        out.push_str(&format!("  {}\n", line.as_str().unwrap_or("")));
                    }
                    out.push_str(&format!(
                        "approvals added: {}\napprovals removed: {}\napprovals reset: {}\napprovals kept: {}\nanswers no longer asked: {}",
                        list("approvals_added"),
                        list("approvals_removed"),
                        list("approvals_reset"),
                        list("approvals_kept"),
                        list("answers_orphaned")
                    ));
                    out
                });
            }
            BundleCommand::Assign {
                bundle,
                policy,
                stage,
                user,
            } => {
                let v: Value = c
                    .put(
                        &format!("/bundles/{}/stages/{}/assignee", seg(&bundle), seg(&stage)),
                        &json!({ "policy": policy, "user": user }),
                    )
                    .await?;
                match v["assignee"].as_str() {
                    Some(u) => println!("stage `{}` is assigned to {u}", v["stage"].as_str().unwrap_or("")),
                    None => println!("stage `{}` has no assignee", v["stage"].as_str().unwrap_or("")),
                }
            }
            BundleCommand::RequestReview { bundle, policy, stage } => {
                let v: Value = c
                    .post(
                        &format!("/bundles/{}/stages/{}/request-review", seg(&bundle), seg(&stage)),
                        &json!({ "policy": policy }),
                    )
                    .await?;
                let names: Vec<&str> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a["name"].as_str())
                    .collect();
                println!("review requested for stage `{stage}`: {}", names.join(", "));
            }
            BundleCommand::Approve(d) => return decide(d, "approve").await,
            BundleCommand::ApproveWithConditions(d) => return decide(d, "conditional").await,
            BundleCommand::Reject(d) => return decide(d, "reject").await,
            BundleCommand::Revoke(d) => return decide(d, "revoke").await,
            BundleCommand::AttachModel {
                name,
                version,
                bundle,
                json: as_json,
            } => {
                let att: Value = c
                    .post(
                        &format!("/bundles/{}/attachments", seg(&bundle)),
                        &json!({ "kind": "model_version", "name": format!("{name} v{version}"),
                                 "reference": { "model": name, "version": version } }),
                    )
                    .await?;
                let checks: Value = c.get(&format!("/bundles/{}/metric-checks", seg(&bundle))).await?;
                let mine: Vec<&Value> = checks
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["model"] == name.as_str() && c["version"] == version)
                    .collect();
                if as_json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json!({ "attachment": att, "metric_checks": mine }))?
                    );
                } else {
                    let linked = att["reference"]["registry"] == "charter";
                    println!(
                        "attached {name} version {version} to bundle {bundle}{}",
                        if linked {
                            ""
                        } else {
                            " (not in Charter's registry: kept as a reference only)"
                        }
                    );
                    for c in &mine {
                        let value = c["value"].as_f64().map_or("-".to_owned(), |v| v.to_string());
                        let rule = match (c["operator"].as_str(), c["threshold"].as_f64()) {
                            (Some(op), Some(t)) => format!(" (needs {op} {t})"),
                            _ => String::new(),
                        };
                        println!(
                            "  {:8} {} = {value}{rule}{}",
                            c["outcome"].as_str().unwrap_or("?"),
                            c["metric"].as_str().unwrap_or("?"),
                            c["finding_id"]
                                .as_str()
                                .map(|f| format!(" → finding {f}"))
                                .unwrap_or_default()
                        );
                    }
                    if linked && mine.is_empty() {
                        println!("  no metrics checks apply at the bundle's current stages");
                    }
                }
            }
            BundleCommand::Complete { bundle } => {
                let v: Value = c
                    .post(&format!("/bundles/{}/complete", seg(&bundle)), &json!({}))
                    .await?;
                println!(
                    "bundle `{}` is {}",
                    v["name"].as_str().unwrap_or(&bundle),
                    v["state"].as_str().unwrap_or("?")
                );
            }
            BundleCommand::Archive { bundle } => {
                let v: Value = c
                    .post(&format!("/bundles/{}/archive", seg(&bundle)), &json!({}))
                    .await?;
                println!(
                    "bundle `{}` is {}",
                    v["name"].as_str().unwrap_or(&bundle),
                    v["state"].as_str().unwrap_or("?")
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn describe_bundle(v: &Value) -> String {
    let mut out = format!(
        "{} ({}) — {}{}\n",
        v["name"].as_str().unwrap_or(""),
        v["id"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        if v["compliant"].as_bool() == Some(true) {
            ", compliant"
        } else {
            ""
        }
    );
    for p in v["policies"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  policy {} v{}: stage {}, classification {}\n",
            p["name"].as_str().unwrap_or(""),
            p["version"],
            p["current_stage"].as_str().unwrap_or(""),
            p["classification"].as_str().unwrap_or("none")
        ));
        for s in p["stages"].as_array().into_iter().flatten() {
            for a in s["approvals"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "    [{}] {} — {}\n",
                    s["name"].as_str().unwrap_or(""),
                    a["name"].as_str().unwrap_or(""),
                    a["status"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out.trim_end().to_owned()
}

#[derive(Debug, Subcommand)]
pub enum FindingCommand {
    /// Log a finding on a bundle.
    Create {
        #[arg(long)]
        bundle: String,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        stage: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "medium")]
        severity: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        approver: Option<String>,
        #[arg(long)]
        due_date: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List findings (optionally of one bundle).
    List {
        #[arg(long)]
        bundle: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Resolve a finding with a resolution note.
    Resolve {
        finding: String,
        #[arg(long)]
        note: String,
    },
    /// Change a finding's status (open, in_progress, resolved, wont_do, closed).
    Status {
        finding: String,
        status: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Comment on a finding (Markdown; @username mentions create tasks).
    Comment { finding: String, body: String },
}

impl FindingCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let c = client()?;
        match self {
            FindingCommand::Create {
                bundle,
                policy,
                stage,
                name,
                severity,
                description,
                assignee,
                approver,
                due_date,
                json: as_json,
            } => {
                let v: Value = c
                    .post(
                        &format!("/bundles/{}/findings", seg(&bundle)),
                        &json!({ "policy": policy, "stage": stage, "name": name, "severity": severity, "description": description,
                                 "assignee": assignee, "approver": approver, "due_date": due_date }),
                    )
                    .await?;
                show(as_json, &v, |v| {
                    format!(
                        "logged finding `{}` ({})",
                        v["name"].as_str().unwrap_or(""),
                        v["id"].as_str().unwrap_or("")
                    )
                });
            }
            FindingCommand::List { bundle, json: as_json } => {
                let path = match bundle {
                    Some(b) => format!("/findings?bundle={}", seg(&b)),
                    None => "/findings".to_owned(),
                };
                let v: Value = c.get(&path).await?;
                show(as_json, &v, |v| {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| {
                            format!(
                                "{}  {:<8}  {:<11}  {}",
                                f["id"].as_str().unwrap_or(""),
                                f["severity"].as_str().unwrap_or(""),
                                f["status"].as_str().unwrap_or(""),
                                f["name"].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            FindingCommand::Resolve { finding, note } => {
                let v: Value = c
                    .patch(
                        &format!("/findings/{}", seg(&finding)),
                        &json!({ "status": "resolved", "resolution": note }),
                    )
                    .await?;
                println!(
                    "finding `{}` is {}",
                    v["name"].as_str().unwrap_or(&finding),
                    v["status"].as_str().unwrap_or("?")
                );
            }
            FindingCommand::Status { finding, status, note } => {
                let mut body = json!({ "status": status });
                if let Some(n) = note {
                    body["resolution"] = json!(n);
                }
                let v: Value = c.patch(&format!("/findings/{}", seg(&finding)), &body).await?;
                println!(
                    "finding `{}` is {}",
                    v["name"].as_str().unwrap_or(&finding),
                    v["status"].as_str().unwrap_or("?")
                );
            }
            FindingCommand::Comment { finding, body } => {
                let _: Value = c
                    .post(
                        &format!("/findings/{}/comments", seg(&finding)),
                        &json!({ "body": body }),
                    )
                    .await?;
                println!("commented on {finding}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `charter task list`.
pub async fn tasks(as_json: bool) -> anyhow::Result<ExitCode> {
    let v: Value = client()?.get("/tasks").await?;
    show(as_json, &v, |v| {
        let lines: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "{:<15}  {}  {}",
                    t["kind"].as_str().unwrap_or(""),
                    t["status"].as_str().unwrap_or(""),
                    t["title"].as_str().unwrap_or("")
                )
            })
            .collect();
        if lines.is_empty() {
            "no tasks".to_owned()
        } else {
            lines.join("\n")
        }
    });
    Ok(ExitCode::SUCCESS)
}

/// `charter gate check`.
pub async fn gate_check(project: &str, action: &str, target: Option<&str>) -> anyhow::Result<ExitCode> {
    let v: Value = client()?
        .post(
            "/gates/check",
            &json!({ "project": project, "action": action, "target": target }),
        )
        .await?;
    println!("{}", v["message"].as_str().unwrap_or(""));
    Ok(if v["allowed"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

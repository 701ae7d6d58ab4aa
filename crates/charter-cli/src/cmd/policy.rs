//! `charter policy`: lint, test and diff policy files locally; apply, publish,
//! retire and list them on a server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use charter_domain::policy::{LintReport, diff, lint, run_policy_tests};
use clap::Subcommand;
use serde_json::{Value, json};

use super::remote::{client, print_diagnostics, report, seg, show};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file: every YAML and semantic error with line and column.
    /// With --server, also check that its approvers exist on the server.
    Lint {
        file: PathBuf,
        #[arg(long)]
        server: bool,
    },
    /// Run the example answer sets in a policy's `tests:` block.
    Test { file: PathBuf },
    /// What changes between two policy files (questions, approvals, stages, rules).
    Diff { old: PathBuf, new: PathBuf },
    /// Create a policy on the server from a file, or save the file as its draft.
    Apply {
        file: PathBuf,
        /// The policy's name (default: the file name without extension).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a policy's draft (or a given version).
    Publish {
        policy: String,
        #[arg(long, default_value = "latest")]
        version: String,
    },
    /// Retire a published version.
    Retire {
        policy: String,
        #[arg(long)]
        version: String,
    },
    /// List the server's policies and their versions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Turn a questionnaire spreadsheet (.xlsx, .ods, .csv) into a draft policy YAML.
    ImportSheet {
        file: PathBuf,
        /// Write the YAML here (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
    },
}

fn read(file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn print_report(report: &LintReport, file: &str) -> bool {
    for d in &report.diagnostics {
        eprintln!(
            "{file}:{}:{}: {}[{}]: {}",
            d.line,
            d.column,
            if d.is_error() { "error" } else { "warning" },
            d.code,
            d.message
        );
    }
    let errors = report.errors().count();
    let warnings = report.warnings().count();
    if errors == 0 {
        println!("{file}: ok ({warnings} warning(s))");
    } else {
        println!("{file}: {errors} error(s), {warnings} warning(s)");
    }
    errors == 0
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "policy".into())
}

impl PolicyCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PolicyCommand::Lint { file, server } => {
                let yaml = read(&file)?;
                let name = file.display().to_string();
                if server {
                    let reply: Value = client()?.post("/policies/lint", &json!({ "yaml": yaml })).await?;
                    print_diagnostics(&reply["diagnostics"], Some(&name));
                    let ok = reply["ok"].as_bool().unwrap_or(false);
                    println!(
                        "{name}: {} error(s), {} warning(s) (checked by {})",
                        reply["errors"],
                        reply["warnings"],
                        client()?.base()
                    );
                    return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
                }
                let ok = print_report(&lint(&yaml), &name);
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }
            PolicyCommand::Test { file } => {
                let yaml = read(&file)?;
                let name = file.display().to_string();
                let report = lint(&yaml);
                let Some(policy) = report.policy.as_ref() else {
                    print_report(&report, &name);
                    return Ok(ExitCode::FAILURE);
                };
                let results = run_policy_tests(policy);
                if results.is_empty() {
                    println!("{name}: no tests (add a `tests:` block with example answers and expectations)");
                    return Ok(ExitCode::SUCCESS);
                }
                for r in &results {
                    println!("{r}");
                }
                let failed = results.iter().filter(|r| !r.passed()).count();
                println!("{} passed, {failed} failed", results.len() - failed);
                Ok(if failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            PolicyCommand::Diff { old, new } => {
                let parse = |f: &Path| -> anyhow::Result<charter_domain::policy::Policy> {
                    let report = lint(&read(f)?);
                    match report.policy {
                        Some(p) => Ok(p),
                        None => {
                            print_report(&report, &f.display().to_string());
                            anyhow::bail!("{} does not lint; fix it first", f.display())
                        }
                    }
                };
                let d = diff(&parse(&old)?, &parse(&new)?);
                if d.is_empty() {
                    println!("no differences in questions, approvals, stages or rules");
                }
                for line in d.lines() {
                    println!("{line}");
                }
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::Apply {
                file,
                name,
                description,
                json: as_json,
            } => {
                let yaml = read(&file)?;
                let name = name.unwrap_or_else(|| stem(&file));
                let c = client()?;
                let existing: Result<Value, _> = c.get(&format!("/policies/{}", seg(&name))).await;
                let result: Result<Value, _> = match existing {
                    Ok(_) => {
                        c.put(&format!("/policies/{}/draft", seg(&name)), &json!({ "yaml": yaml }))
                            .await
                    }
                    Err(charter_client::ClientError::Api { status: 404, .. }) => {
                        c.post(
                            "/policies",
                            &json!({ "name": name, "description": description, "yaml": yaml }),
                        )
                        .await
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(v) => {
                        show(as_json, &v, |v| {
                            let version = &v["version"];
                            let mut out = format!(
                                "policy `{name}`: version {} is a {} ({})",
                                version["version"],
                                version["status"].as_str().unwrap_or("draft"),
                                version["id"].as_str().unwrap_or("")
                            );
                            for line in v["changes"].as_array().into_iter().flatten() {
                                out.push_str(&format!("\n  {}", line.as_str().unwrap_or("")));
                            }
                            out
                        });
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(e) => {
                        report(&e, Some(&file.display().to_string()));
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
            PolicyCommand::Publish { policy, version } => {
                let v: Value = client()?
                    .post(
                        &format!("/policies/{}/versions/{}/publish", seg(&policy), seg(&version)),
                        &json!({}),
                    )
                    .await?;
                println!("published `{policy}` version {}", v["version"]);
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::Retire { policy, version } => {
                let v: Value = client()?
                    .post(
                        &format!("/policies/{}/versions/{}/retire", seg(&policy), seg(&version)),
                        &json!({}),
                    )
                    .await?;
                println!("retired `{policy}` version {}", v["version"]);
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::List { json: as_json } => {
                let v: Value = client()?.get("/policies").await?;
                show(as_json, &v, |v| {
                    let mut out = String::new();
                    for p in v.as_array().into_iter().flatten() {
                        let versions: Vec<String> = p["versions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|x| format!("v{} {}", x["version"], x["status"].as_str().unwrap_or("")))
                            .collect();
                        out.push_str(&format!(
                            "{}  {}  [{}]\n",
                            p["name"].as_str().unwrap_or(""),
                            p["id"].as_str().unwrap_or(""),
                            versions.join(", ")
                        ));
                    }
                    out.trim_end().to_owned()
                });
                Ok(ExitCode::SUCCESS)
            }
            PolicyCommand::ImportSheet { file, output, name } => import_sheet(&file, output.as_deref(), name),
        }
    }
}

fn import_sheet(file: &Path, output: Option<&Path>, name: Option<String>) -> anyhow::Result<ExitCode> {
    use charter_domain::sheet::{SheetFormat, import_sheet};
    let ext = file
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = SheetFormat::from_extension(&ext)
        .ok_or_else(|| anyhow::anyhow!("{}: use a .xlsx, .ods or .csv file", file.display()))?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let imported = import_sheet(&bytes, format, &name.unwrap_or_else(|| stem(file)));
    for p in &imported.problems {
        if p.row == 0 {
            eprintln!("{}: {}", file.display(), p.message);
        } else {
            eprintln!("{}: row {}: {}", file.display(), p.row, p.message);
        }
    }
    if imported.yaml.is_empty() {
        anyhow::bail!("no question could be imported from {}", file.display());
    }
    match output {
        Some(path) => {
            std::fs::write(path, &imported.yaml).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote a draft policy to {} ({} row(s) left out); lint it with `charter policy lint {}`",
                path.display(),
                imported.problems.iter().filter(|p| p.row > 0).count(),
                path.display()
            );
        }
        None => print!("{}", imported.yaml),
    }
    Ok(ExitCode::SUCCESS)
}

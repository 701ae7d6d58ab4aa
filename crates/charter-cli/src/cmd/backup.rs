use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use charter_store::{Backend, Store, StoreOptions};
use clap::Args;

use super::load_config;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist).
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `charter backup`.
    input: PathBuf,
    /// Replace an existing database.
    #[arg(long)]
    force: bool,
}

pub async fn backup(file: Option<&Path>, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(file)?;
    let options = config.store_options();
    match Backend::of_url(&options.url)? {
        Backend::Sqlite => {
            let store = Store::connect(&options).await?;
            store.backup_sqlite_to(&args.output).await?;
            let size = std::fs::metadata(&args.output).map(|m| m.len()).unwrap_or(0);
            println!(
                "wrote a consistent SQLite backup to {} ({size} bytes)",
                args.output.display()
            );
        }
        Backend::Postgres => {
            if args.output.exists() {
                bail!("{} already exists; choose a new backup file", args.output.display());
            }
            let status = std::process::Command::new("pg_dump")
                .arg("--format=custom")
                .arg("--file")
                .arg(&args.output)
                .arg(&options.url)
                .status()
                .context("running pg_dump (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
            println!(
                "wrote a PostgreSQL backup (pg_dump custom format) to {}",
                args.output.display()
            );
        }
    }
    eprintln!(
        "Keep the audit signing key ({}) and blob storage with your backups: the database does not contain them.",
        config.signing_key_path().display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(file: Option<&Path>, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(file)?;
    let options = config.store_options();
    if !args.input.exists() {
        bail!("{} does not exist", args.input.display());
    }
    match Backend::of_url(&options.url)? {
        Backend::Sqlite => {
            let target = config.data_dir.join("charter.db");
            if target.exists() && !args.force {
                bail!(
                    "{} exists; stop the server and pass --force to replace it",
                    target.display()
                );
            }
            std::fs::create_dir_all(&config.data_dir)?;
            // Copy first, then check the copy is a Charter database before it replaces anything.
            let tmp = config.data_dir.join("charter.db.restoring");
            std::fs::copy(&args.input, &tmp).with_context(|| format!("copying {}", args.input.display()))?;
            let checked = async {
                let probe = Store::connect(&StoreOptions::sqlite_file(&tmp)).await?;
                let counts = async { anyhow::Ok((probe.user_count().await?, probe.audit_count().await?)) }.await;
                probe.close().await;
                counts
            }
            .await;
            let (users, events) = match checked {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.context(format!("{} is not a Charter backup", args.input.display())));
                }
            };
            for suffix in ["-wal", "-shm"] {
                for base in [&target, &tmp] {
                    let side = PathBuf::from(format!("{}{suffix}", base.display()));
                    if side.exists() {
                        std::fs::remove_file(&side).with_context(|| format!("removing {}", side.display()))?;
                    }
                }
            }
            std::fs::rename(&tmp, &target)?;
            println!(
                "restored {} ({users} users, {events} audit events) into {}",
                args.input.display(),
                target.display()
            );
        }
        Backend::Postgres => {
            if !args.force {
                bail!("restoring into PostgreSQL replaces its Charter tables; stop every replica and pass --force");
            }
            let status = std::process::Command::new("pg_restore")
                .args(["--clean", "--if-exists", "--no-owner", "--dbname"])
                .arg(&options.url)
                .arg(&args.input)
                .status()
                .context("running pg_restore (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_restore failed ({status})");
            }
            println!("restored {} into PostgreSQL", args.input.display());
        }
    }
    println!("Run `charter audit verify` to check the restored audit trail.");
    Ok(ExitCode::SUCCESS)
}

//! `charter`: runs the server and administers it.
//!
//! Administration and bootstrap commands (`user`, `group`, `token`, `audit`,
//! `backup`, `restore`, `migrate`) open the database directly with the same
//! configuration as the server; remote commands talk to a running server over HTTP
//! (`CHARTER_URL`, `CHARTER_TOKEN`).
#![forbid(unsafe_code)]

mod cmd;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "charter", version, about = "Charter: model governance you can run yourself")]
struct Cli {
    /// Configuration file (default: ./charter.toml when it exists).
    #[arg(long, global = true, env = "CHARTER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Configuration.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Users.
    #[command(subcommand)]
    User(cmd::user::UserCommand),
    /// Groups of users.
    #[command(subcommand)]
    Group(cmd::group::GroupCommand),
    /// Personal API tokens.
    #[command(subcommand)]
    Token(cmd::token::TokenCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCommand),
    /// Write a consistent backup while the server runs.
    Backup(cmd::backup::BackupArgs),
    /// Restore a backup made with `charter backup` (server stopped).
    Restore(cmd::backup::RestoreArgs),
    /// Ask a running server who you are (uses CHARTER_URL and CHARTER_TOKEN).
    Whoami,
    /// Policies: lint, test and diff files; apply, publish, retire on a server.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Projects on a server.
    #[command(subcommand)]
    Project(cmd::project::ProjectCommand),
    /// Governed bundles on a server: create, answer, copy, review, approve, complete.
    #[command(subcommand)]
    Bundle(cmd::bundle::BundleCommand),
    /// Findings on a server.
    #[command(subcommand)]
    Finding(cmd::bundle::FindingCommand),
    /// Your tasks on a server.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Gates on a server.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Measure Charter's speed and print figures.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Approvals to give, findings assigned, answers to confirm.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GateCommand {
    /// May this action happen now? Exit 0 when allowed, 3 when blocked.
    Check {
        #[arg(long)]
        project: String,
        /// `start_app`, `promote_model`, …
        #[arg(long)]
        action: String,
        #[arg(long)]
        target: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve => cmd::serve::serve(config).await,
        Command::Migrate => cmd::serve::migrate(config).await,
        Command::Config(c) => c.run(config),
        Command::User(c) => c.run(config).await,
        Command::Group(c) => c.run(config).await,
        Command::Token(c) => c.run(config).await,
        Command::Audit(c) => c.run(config).await,
        Command::Backup(a) => cmd::backup::backup(config, a).await,
        Command::Restore(a) => cmd::backup::restore(config, a).await,
        Command::Whoami => cmd::remote::whoami().await,
        Command::Policy(c) => c.run().await,
        Command::Project(c) => c.run().await,
        Command::Bundle(c) => c.run().await,
        Command::Finding(c) => c.run().await,
        Command::Task(TaskCommand::List { json }) => cmd::bundle::tasks(json).await,
        Command::Gate(GateCommand::Check {
            project,
            action,
            target,
        }) => cmd::bundle::gate_check(&project, &action, target.as_deref()).await,
        Command::Bench(c) => c.run(config).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}

//! One module per command group.

pub mod audit;
pub mod backup;
pub mod bench;
pub mod bundle;
pub mod config;
pub mod group;
pub mod policy;
pub mod project;
pub mod remote;
pub mod serve;
pub mod token;
pub mod user;

use std::path::Path;

use anyhow::Context;
use charter_server::{AppState, Config};
use charter_store::{Actor, AuditContext};

/// Load the configuration, naming the problem when it is bad.
pub fn load_config(file: Option<&Path>) -> anyhow::Result<Config> {
    Ok(Config::load(file)?)
}

/// Open the database, blob storage and audit key directly, as the server does.
pub async fn open_state(file: Option<&Path>) -> anyhow::Result<AppState> {
    let config = load_config(file)?;
    charter_server::open(config).await.context("opening Charter's data")
}

/// Audit context for changes made at the command line: recorded as the system
/// actor `cli`, with the operating-system user who ran it.
pub fn cli_context() -> AuditContext {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let mut ctx = AuditContext::system("cli");
    ctx.actor = Actor {
        name: format!("cli ({os_user})"),
        ..Actor::system("cli")
    };
    ctx
}

/// Turn an API error from a shared handler function into a CLI error.
pub fn api_err(e: charter_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.message)
}

/// Print rows as aligned columns.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

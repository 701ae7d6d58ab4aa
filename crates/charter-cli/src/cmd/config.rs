use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a charter.toml with every key, its default and what it does.
    Example,
    /// Check the configuration and print it (secrets redacted).
    Show,
}

impl ConfigCommand {
    pub fn run(self, file: Option<&Path>) -> anyhow::Result<ExitCode> {
        match self {
            ConfigCommand::Example => print!("{}", charter_server::config::EXAMPLE),
            ConfigCommand::Show => {
                let config = super::load_config(file)?;
                println!("{}", serde_json::to_string_pretty(&config)?);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

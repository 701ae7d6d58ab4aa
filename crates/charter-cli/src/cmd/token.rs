use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use charter_domain::time::rfc3339;
use charter_server::api::token::CreateTokenRequest;
use clap::Subcommand;

use super::{api_err, cli_context, open_state, print_table};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (once).
    Create {
        /// Whose token it is.
        #[arg(long)]
        user: String,
        /// What it is for.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Expire after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Print only the secret (for scripts: `export CHARTER_TOKEN=$(charter token create …)`).
        #[arg(long)]
        quiet: bool,
    },
    /// List a user's tokens.
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by id (`tok_…`).
    Revoke { id: String },
}

impl TokenCommand {
    pub async fn run(self, file: Option<&Path>) -> anyhow::Result<ExitCode> {
        let state = open_state(file).await?;
        let ctx = cli_context();
        match self {
            TokenCommand::Create {
                user,
                name,
                expires_in_days,
                quiet,
            } => {
                let owner = state.store.user_by_username(&user).await?;
                let (token, secret) = charter_server::api::token::create(
                    &state,
                    &ctx,
                    &owner,
                    CreateTokenRequest {
                        name,
                        expires_in_days,
                        expires_at: None,
                    },
                )
                .await
                .map_err(api_err)?;
                if quiet {
                    println!("{}", secret.expose());
                } else {
                    println!("created token `{}` ({}) for `{}`", token.name, token.id, owner.username);
                    println!("{}", secret.expose());
                    eprintln!("This is the only time the token is shown. Send it as `Authorization: Bearer <token>`.");
                }
            }
            TokenCommand::List { user } => {
                let owner = state.store.user_by_username(&user).await?;
                let now = charter_domain::time::now_ms();
                let rows: Vec<Vec<String>> = state
                    .store
                    .tokens_of(owner.id)
                    .await?
                    .iter()
                    .map(|t| {
                        let status = if t.revoked_at.is_some() {
                            "revoked"
                        } else if t.is_active(now) {
                            "active"
                        } else {
                            "expired"
                        };
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            format!("{}…", t.prefix),
                            status.to_owned(),
                            rfc3339(t.created_at),
                            t.expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                            t.last_used_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "NAME", "PREFIX", "STATUS", "CREATED", "EXPIRES", "LAST USED"],
                    &rows,
                );
            }
            TokenCommand::Revoke { id } => {
                let Ok(token_id) = id.parse() else {
                    bail!("`{id}` is not a token id (tok_…)")
                };
                let token = state.store.token(token_id).await?;
                charter_server::api::token::revoke(&state, &ctx, &token)
                    .await
                    .map_err(api_err)?;
                println!("revoked token `{}` ({id})", token.name);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use charter_domain::time::rfc3339;
use charter_server::api::user::{CreateUserRequest, UpdateUserRequest};
use clap::Subcommand;

use super::{api_err, cli_context, open_state, print_table};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (prompts for the password on a terminal).
    Create {
        username: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Role: admin, governance_admin, practitioner (default) or viewer.
        #[arg(long, conflicts_with = "admin")]
        role: Option<String>,
        /// E-mail address (default: <username>@localhost.localdomain).
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Create the account without a password (it signs in with API tokens only).
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
    },
    /// List users.
    List,
    /// Disable a user: their sessions end and their tokens stop working.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Set a user's password (prompts on a terminal).
    Password {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from standard input")?;
        return Ok(s.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password: pass --password-stdin and pipe the password in");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if first != again {
        bail!("the passwords do not match");
    }
    Ok(first)
}

impl UserCommand {
    pub async fn run(self, file: Option<&Path>) -> anyhow::Result<ExitCode> {
        let state = open_state(file).await?;
        let ctx = cli_context();
        match self {
            UserCommand::Create {
                username,
                admin,
                role,
                email,
                display_name,
                password_stdin,
                no_password,
            } => {
                let password = if no_password {
                    None
                } else {
                    Some(read_password(password_stdin)?)
                };
                let role = if admin { Some("admin".to_owned()) } else { role };
                let req = CreateUserRequest {
                    email: email.unwrap_or_else(|| format!("{username}@localhost.localdomain")),
                    username,
                    display_name,
                    role,
                    password,
                };
                let user = charter_server::api::user::create(&state, &ctx, req)
                    .await
                    .map_err(api_err)?;
                println!("created user `{}` ({}) with role {}", user.username, user.id, user.role);
            }
            UserCommand::List => {
                let rows: Vec<Vec<String>> = state
                    .store
                    .users()
                    .await?
                    .iter()
                    .map(|u| {
                        vec![
                            u.username.clone(),
                            u.role.to_string(),
                            if u.disabled { "disabled".into() } else { "active".into() },
                            u.email.clone(),
                            u.id.to_string(),
                            rfc3339(u.created_at),
                        ]
                    })
                    .collect();
                print_table(&["USERNAME", "ROLE", "STATE", "EMAIL", "ID", "CREATED"], &rows);
            }
            UserCommand::Disable { username } | UserCommand::Enable { username } if username.is_empty() => {
                bail!("name the user")
            }
            UserCommand::Disable { username } => {
                set_disabled(&state, &ctx, &username, true).await?;
                println!("disabled `{username}`: their sessions ended and their tokens no longer work");
            }
            UserCommand::Enable { username } => {
                set_disabled(&state, &ctx, &username, false).await?;
                println!("enabled `{username}`");
            }
            UserCommand::Password {
                username,
                password_stdin,
            } => {
                let user = state.store.user_by_username(&username).await?;
                let req = UpdateUserRequest {
                    display_name: None,
                    email: None,
                    role: None,
                    disabled: None,
                    password: Some(read_password(password_stdin)?),
                };
                charter_server::api::user::update(&state, &ctx, &user, req)
                    .await
                    .map_err(api_err)?;
                println!("set the password of `{username}`; their sessions ended");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

async fn set_disabled(
    state: &charter_server::AppState,
    ctx: &charter_store::AuditContext,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let user = state.store.user_by_username(username).await?;
    if user.disabled == disabled {
        bail!(
            "`{username}` is already {}",
            if disabled { "disabled" } else { "enabled" }
        );
    }
    let req = UpdateUserRequest {
        display_name: None,
        email: None,
        role: None,
        disabled: Some(disabled),
        password: None,
    };
    charter_server::api::user::update(state, ctx, &user, req)
        .await
        .map_err(api_err)?;
    Ok(())
}

use std::path::Path;
use std::process::ExitCode;

use charter_server::api::group::CreateGroupRequest;
use clap::Subcommand;

use super::{api_err, cli_context, open_state, print_table};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List groups.
    List,
    /// List a group's members.
    Members { group: String },
    /// Add a user to a group.
    AddMember { group: String, username: String },
    /// Remove a user from a group.
    RemoveMember { group: String, username: String },
}

impl GroupCommand {
    pub async fn run(self, file: Option<&Path>) -> anyhow::Result<ExitCode> {
        let state = open_state(file).await?;
        let ctx = cli_context();
        match self {
            GroupCommand::Create { name, description } => {
                let g = charter_server::api::group::create(&state, &ctx, CreateGroupRequest { name, description })
                    .await
                    .map_err(api_err)?;
                println!("created group `{}` ({})", g.name, g.id);
            }
            GroupCommand::List => {
                let rows: Vec<Vec<String>> = state
                    .store
                    .groups()
                    .await?
                    .iter()
                    .map(|g| {
                        vec![
                            g.name.clone(),
                            g.member_count.to_string(),
                            g.description.clone(),
                            g.id.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "MEMBERS", "DESCRIPTION", "ID"], &rows);
            }
            GroupCommand::Members { group } => {
                let g = state.store.group_by_name(&group).await?;
                let rows: Vec<Vec<String>> = state
                    .store
                    .group_members(g.id)
                    .await?
                    .iter()
                    .map(|u| vec![u.username.clone(), u.display_name.clone(), u.role.to_string()])
                    .collect();
                print_table(&["USERNAME", "NAME", "ROLE"], &rows);
            }
            GroupCommand::AddMember { group, username } => {
                let g = state.store.group_by_name(&group).await?;
                charter_server::api::group::add(&state, &ctx, &g, &username)
                    .await
                    .map_err(api_err)?;
                println!("added `{username}` to `{group}`");
            }
            GroupCommand::RemoveMember { group, username } => {
                let g = state.store.group_by_name(&group).await?;
                let u = state.store.user_by_username(&username).await?;
                let mut tx = state.store.begin().await?;
                charter_store::group::remove_member(&mut tx, &ctx, &g, &u).await?;
                tx.commit().await?;
                println!("removed `{username}` from `{group}`");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

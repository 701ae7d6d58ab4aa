//! `charter project`: projects on a server.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Value, json};

use super::remote::{client, seg, show};

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project (you become its owner).
    Create {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        json: bool,
    },
    /// List your projects.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a member or change their role (owner, member, viewer).
    AddMember {
        project: String,
        user: String,
        #[arg(long, default_value = "member")]
        role: String,
    },
}

impl ProjectCommand {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let c = client()?;
        match self {
            ProjectCommand::Create {
                name,
                description,
                json: as_json,
            } => {
                let v: Value = c
                    .post("/projects", &json!({ "name": name, "description": description }))
                    .await?;
                show(as_json, &v, |v| {
                    format!(
                        "created project `{}` ({})",
                        v["name"].as_str().unwrap_or(""),
                        v["id"].as_str().unwrap_or("")
                    )
                });
            }
            ProjectCommand::List { json: as_json } => {
                let v: Value = c.get("/projects").await?;
                show(as_json, &v, |v| {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            format!(
                                "{}  {}  {}",
                                p["name"].as_str().unwrap_or(""),
                                p["id"].as_str().unwrap_or(""),
                                p["description"].as_str().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            ProjectCommand::AddMember { project, user, role } => {
                let _: Value = c
                    .post(
                        &format!("/projects/{}/members", seg(&project)),
                        &json!({ "user": user, "role": role }),
                    )
                    .await?;
                println!("`{user}` is a {role} of `{project}`");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

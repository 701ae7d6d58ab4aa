//! Commands that talk to a running server over HTTP (`CHARTER_URL`, `CHARTER_TOKEN`).

use std::process::ExitCode;

use charter_client::Client;

pub async fn whoami() -> anyhow::Result<ExitCode> {
    let client = Client::from_env();
    let version = client.version().await?;
    let me = client.me().await?;
    println!(
        "{} ({}) on {} — Charter {} with {}",
        me["user"]["username"].as_str().unwrap_or("?"),
        me["user"]["role"].as_str().unwrap_or("?"),
        client.base(),
        version["version"].as_str().unwrap_or("?"),
        version["database"].as_str().unwrap_or("?"),
    );
    Ok(ExitCode::SUCCESS)
}

//! Commands that talk to a running server over HTTP (`CHARTER_URL`, `CHARTER_TOKEN`),
//! as any other API client would.

use std::process::ExitCode;

use charter_client::{Client, ClientError};
use serde_json::Value;

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

/// The client for remote commands; says how to configure it when no token is set.
pub fn client() -> anyhow::Result<Client> {
    if std::env::var("CHARTER_TOKEN").map(|t| t.is_empty()).unwrap_or(true) {
        anyhow::bail!(
            "set CHARTER_TOKEN to an API token (create one on the Account page or with `charter token create`) \
             and CHARTER_URL to the server (default http://127.0.0.1:8080)"
        );
    }
    Ok(Client::from_env())
}

/// Print an API error the way a person wants to read it: the message, then any
/// structured details (every lint diagnostic of a policy, with line and column).
pub fn report(err: &ClientError, file: Option<&str>) {
    eprintln!("error: {err}");
    if let ClientError::Api {
        details: Some(details), ..
    } = err
    {
        print_diagnostics(&details["diagnostics"], file);
    }
}

/// Print lint diagnostics as `file:line:col: severity[code]: message`.
pub fn print_diagnostics(diagnostics: &Value, file: Option<&str>) {
    let file = file.unwrap_or("<policy>");
    for d in diagnostics.as_array().into_iter().flatten() {
        eprintln!(
            "{file}:{}:{}: {}[{}]: {}",
            d["line"],
            d["column"],
            d["severity"].as_str().unwrap_or("error"),
            d["code"].as_str().unwrap_or(""),
            d["message"].as_str().unwrap_or("")
        );
    }
}

/// Percent-encode a path segment (names may hold spaces).
pub fn seg(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Print JSON for scripts, or a short line for people.
pub fn show(json: bool, value: &Value, line: impl FnOnce(&Value) -> String) {
    if json {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        println!("{}", line(value));
    }
}

//! `charter bench ui`: the governance pages over HTTP at many bundles — the
//! dashboard, my tasks, the policy list, the policy editor, the live check and the
//! audit trail — on the data `charter bench governance` makes, through the real
//! server on a local port.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use charter_server::governance::bundle;
use charter_store::AuditContext;

use super::governance::seed;
use super::print_latency;
use crate::progress::Progress;

pub async fn run(bundles: u64, answers_per_bundle: u64, requests: usize, copies: usize) -> anyhow::Result<()> {
    let seeded = seed(bundles, answers_per_bundle).await?;
    let ctx = AuditContext::system("bench");
    let state = seeded.state.clone();

    // Copies carry answers over: the admin's task list gets answers to confirm.
    let mut progress = Progress::new("copying bundles", Some(copies as u64));
    for (i, source) in seeded.bundles.iter().step_by(10).take(copies).enumerate() {
        bundle::copy(&state, &ctx, &seeded.admin, source, &format!("copy-{i}"), "")
            .await
            .map_err(super::super::api_err)?;
        progress.set(i as u64 + 1);
    }
    progress.finish();

    let token = |username: &str| {
        let state = state.clone();
        let username = username.to_owned();
        async move {
            let user = state.store.user_by_username(&username).await?;
            let (_, secret) = charter_server::api::token::create(
                &state,
                &AuditContext::system("bench"),
                &user,
                charter_server::api::token::CreateTokenRequest {
                    name: "bench".into(),
                    expires_in_days: None,
                    expires_at: None,
                },
            )
            .await
            .map_err(super::super::api_err)?;
            anyhow::Ok(secret.expose().to_owned())
        }
    };
    let admin_token = token("bench").await?;
    let reviewer_token = token("reviewer").await?;
    let policy = state
        .store
        .policy_by_name("General Intake")
        .await
        .context("the seeded policy")?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(charter_server::serve_on(state.clone(), listener));
    let client = reqwest::Client::builder().no_proxy().build()?;
    let yaml = include_str!("../../../../../policies/general-intake.yaml");

    let pages: [(&str, String, &str); 7] = [
        (
            "dashboard `/`, governance admin (every project)",
            "/".into(),
            &admin_token,
        ),
        (
            "dashboard filtered by project and policy",
            "/?project=bench&policy=General+Intake".into(),
            &admin_token,
        ),
        ("my tasks `/tasks`, reviewer", "/tasks".into(), &reviewer_token),
        (
            "my tasks `/tasks`, bundle owner (answers to confirm)",
            "/tasks".into(),
            &admin_token,
        ),
        ("policies `/policies`", "/policies".into(), &admin_token),
        (
            "policy editor `/policies/{id}/edit` (lint, preview, graph)",
            format!("/policies/{}/edit", policy.id),
            &admin_token,
        ),
        ("audit trail `/audit`", "/audit".into(), &admin_token),
    ];
    println!(
        "pages over HTTP: {} bundles, {} answers, {requests} sequential requests each",
        seeded.bundles.len() + copies,
        seeded.answers
    );
    for (label, path, token) in &pages {
        let mut lat: Vec<Duration> = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let response = client.get(format!("{base}{path}")).bearer_auth(token).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            lat.push(t.elapsed());
            if !status.is_success() {
                bail!("GET {path} answered {status}: {}", String::from_utf8_lossy(&body));
            }
            bytes = body.len();
        }
        lat.sort();
        print_latency(&format!("{label} ({} KiB)", bytes / 1024), &lat);
    }
    // The live check the editor makes as one types.
    let form = serde_urlencoded::to_string([("yaml", yaml), ("title", "General Intake")])?;
    let mut lat = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let response = client
            .post(format!("{base}/policies/check"))
            .bearer_auth(&admin_token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await?;
        let status = response.status();
        response.bytes().await?;
        lat.push(t.elapsed());
        if !status.is_success() {
            bail!("POST /policies/check answered {status}");
        }
    }
    lat.sort();
    print_latency(
        &format!(
            "live check `POST /policies/check`, General Intake ({} lines)",
            yaml.lines().count()
        ),
        &lat,
    );
    Ok(())
}

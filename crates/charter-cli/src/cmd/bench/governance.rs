//! `charter bench governance`: policy lint of a large policy, evidence saves with
//! classification recompute, and the dashboard over many bundles — measured
//! in-process through the same service functions the API calls.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use charter_server::Config;
use charter_server::api::group::CreateGroupRequest;
use charter_server::api::user::CreateUserRequest;
use charter_server::governance::{bundle, finding, policy, project, review};
use charter_store::AuditContext;
use charter_store::bundle::NewAnswer;
use serde_json::json;

use super::print_latency;
use crate::progress::Progress;

/// The General Intake policy from the shipped pack: realistic rules and stages.
const GENERAL_INTAKE: &str = include_str!("../../../../../policies/general-intake.yaml");

/// Questions of the first evidence sets of General Intake, answered in bulk.
const INPUTS: [&str; 5] = [
    "use-case-name",
    "use-case-description",
    "business-owner",
    "business-unit",
    "target-go-live",
];

/// The rest of General Intake's required Intake questions, answered so that no
/// conditional section opens (a Low-risk, in-house statistical model).
const INTAKE_REQUIRED: [(&str, &str); 9] = [
    ("use-case-description", "Forecasts ticket volumes."),
    ("business-owner", "Ops lead"),
    ("decision-impact", "informational"),
    ("human-review", "all"),
    ("data-sources", "Ticket counts"),
    ("personal-data", "No"),
    ("model-type", "statistical"),
    ("proposed-tier", "Low"),
    ("proposed-tier-reason", "Internal only."),
];

/// A generated policy with `questions` inputs: stages of evidence sets of ten
/// inputs of every type, a classification over three aliases and a visibility
/// condition on every other evidence set.
pub fn large_policy(questions: usize) -> String {
    let mut y = String::from(
        "classification:\n  artifacts: [risk_a, risk_b, risk_c]\n  rule: >-\n    \
         (has(inputs.risk_a) && inputs.risk_a == \"high\") ? \"High\" : \
         ((has(inputs.risk_b) && inputs.risk_b > 50.0) ? \"Medium\" : \"Low\")\nstages:\n",
    );
    let sets = questions.div_ceil(10);
    let stages = sets.div_ceil(10);
    let mut n = 0;
    for s in 0..stages {
        y.push_str(&format!("  - name: Stage {s}\n    evidenceSet:\n"));
        for e in 0..10 {
            if n >= questions {
                break;
            }
            y.push_str(&format!(
                "      - id: Local.s{s}-e{e}\n        name: Evidence {s}.{e}\n        description: Generated evidence set.\n"
            ));
            if e % 2 == 1 {
                y.push_str(
                    "        visibility:\n          conditions:\n            - when: 'classification != \"Low\"'\n",
                );
            }
            y.push_str("        definition:\n");
            for i in 0..10 {
                if n >= questions {
                    break;
                }
                let alias = match n {
                    0 => "\n            aliasForClassification: risk_a",
                    1 => "\n            aliasForClassification: risk_b",
                    2 => "\n            aliasForClassification: risk_c",
                    _ => "",
                };
                let details = match i % 6 {
                    0 => "{type: radio, label: Q, options: [{label: High, value: high}, {label: Low, value: low}]}",
                    1 => "{type: numeric, label: Q, min: 0, max: 100}",
                    2 => "{type: textinput, label: Q}",
                    3 => "{type: select, label: Q, options: [{label: A, value: a}, {label: B, value: b}]}",
                    4 => "{type: date, label: Q, format: ISO8601}",
                    _ => "{type: textarea, label: Q}",
                };
                let details = if n == 1 {
                    "{type: numeric, label: Q, min: 0, max: 100}"
                } else {
                    details
                };
                y.push_str(&format!(
                    "          - artifactType: input\n            id: q{n}{alias}\n            details: {details}\n"
                ));
                n += 1;
            }
        }
        y.push_str(&format!(
            "    approvals:\n      - name: Approval {s}\n        approvers: [bench-approvers]\n"
        ));
    }
    y
}

pub async fn run(bundles: u64, answers_per_bundle: u64, saves: usize) -> anyhow::Result<()> {
    // 1. Lint a 500-question policy.
    let yaml = large_policy(500);
    let report = charter_domain::policy::lint(&yaml);
    if report.has_errors() {
        let first = report
            .errors()
            .next()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message));
        bail!("the generated policy does not lint clean: {first:?}");
    }
    let mut lint = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        std::hint::black_box(charter_domain::policy::lint(&yaml));
        lint.push(t.elapsed());
    }
    lint.sort();
    print_latency(
        &format!(
            "policy lint, 500 questions ({} lines of YAML), 21 runs",
            yaml.lines().count()
        ),
        &lint,
    );

    let seeded = seed(bundles, answers_per_bundle).await?;
    let (state, ctx, admin) = (&seeded.state, AuditContext::system("bench"), &seeded.admin);

    // 2. Evidence saves that flip the classification.
    let b = bundle::create(state, &ctx, admin, &seeded.project, "saves", "", &seeded.policies)
        .await
        .map_err(super::super::api_err)?;
    let mut lat = Vec::with_capacity(saves);
    let values = ["staff", "clients", "public"];
    for i in 0..saves {
        let t = Instant::now();
        bundle::answer(
            state,
            &ctx,
            admin,
            &b,
            "General Intake",
            "affected-users",
            &json!(values[i % 3]),
        )
        .await
        .map_err(super::super::api_err)?;
        lat.push(t.elapsed());
    }
    lat.sort();
    print_latency(
        &format!("evidence save + classification recompute, {saves} saves (SQLite)"),
        &lat,
    );
    let total_answers = seeded.answers;

    let mut lat: Vec<Duration> = Vec::new();
    let mut last = None;
    for _ in 0..30 {
        let t = Instant::now();
        let d = bundle::dashboard::dashboard(state, admin, None, None)
            .await
            .map_err(super::super::api_err)?;
        lat.push(t.elapsed());
        last = Some(d);
    }
    let d = last.context("no dashboard")?;
    if d.bundles.total as u64 != bundles + 1 {
        bail!("the dashboard counted {} bundles, not {}", d.bundles.total, bundles + 1);
    }
    lat.sort();
    print_latency(
        &format!(
            "dashboard, {} bundles / {} answers, 30 runs (SQLite; {} pending approvals, {} open findings)",
            d.bundles.total, total_answers, d.approvals.pending, d.findings.open
        ),
        &lat,
    );
    Ok(())
}

/// A fresh SQLite-backed server state with General Intake published, groups
/// `ai-governance` and `model-risk` (with the member `reviewer`), one project
/// `bench` and `bundles` bundles with `answers_per_bundle` answers each; every
/// tenth bundle answered to the end of Intake with review requested, every
/// twentieth with a finding.
pub struct Seeded {
    pub state: charter_server::AppState,
    pub admin: charter_store::user::User,
    pub project: charter_store::project::Project,
    pub policies: Vec<String>,
    pub bundles: Vec<charter_store::bundle::Bundle>,
    pub answers: u64,
    /// Keeps the database's directory alive.
    pub _dir: tempfile::TempDir,
}

/// See [`Seeded`].
pub async fn seed(bundles: u64, answers_per_bundle: u64) -> anyhow::Result<Seeded> {
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let state = charter_server::open(config).await?;
    let ctx = AuditContext::system("bench");
    let admin = charter_server::api::user::create(
        &state,
        &ctx,
        CreateUserRequest {
            username: "bench".into(),
            display_name: None,
            email: "bench@example.com".into(),
            role: Some("admin".into()),
            password: Some("bench-password-123".into()),
        },
    )
    .await
    .map_err(super::super::api_err)?;
    charter_server::api::user::create(
        &state,
        &ctx,
        CreateUserRequest {
            username: "reviewer".into(),
            display_name: None,
            email: "reviewer@example.com".into(),
            role: Some("practitioner".into()),
            password: Some("bench-password-123".into()),
        },
    )
    .await
    .map_err(super::super::api_err)?;
    for g in ["ai-governance", "model-risk"] {
        let group = charter_server::api::group::create(
            &state,
            &ctx,
            CreateGroupRequest {
                name: g.into(),
                description: String::new(),
            },
        )
        .await
        .map_err(super::super::api_err)?;
        charter_server::api::group::add(&state, &ctx, &group, "reviewer")
            .await
            .map_err(super::super::api_err)?;
    }
    let (_, version) = policy::create(&state, &ctx, &admin, "General Intake", "", GENERAL_INTAKE)
        .await
        .map_err(super::super::api_err)?;
    policy::publish(&state, &ctx, &admin, &version)
        .await
        .map_err(super::super::api_err)?;
    let proj = project::create(&state, &ctx, &admin, "bench", "benchmark project")
        .await
        .map_err(super::super::api_err)?;
    let policies = vec!["General Intake".to_owned()];

    let values = ["staff", "clients", "public"];
    // 3. The dashboard over many bundles and answers.
    let mut progress = Progress::new("creating bundles", Some(bundles));
    let mut created = Vec::with_capacity(bundles as usize);
    for i in 0..bundles {
        let b = bundle::create(&state, &ctx, &admin, &proj, &format!("bundle-{i}"), "", &policies)
            .await
            .map_err(super::super::api_err)?;
        created.push(b);
        progress.set(i + 1);
    }
    progress.finish();
    let standing = state.store.bundle_policies(created[0].id).await?;
    let policy_id = standing[0].policy_id;
    let total_answers = bundles * answers_per_bundle;
    let mut progress = Progress::new("saving answers", Some(total_answers));
    let mut done = 0;
    for chunk in created.chunks(100) {
        let mut tx = state.store.begin().await?;
        for b in chunk {
            for a in 0..answers_per_bundle {
                charter_store::bundle::save_answer(
                    &mut tx,
                    &ctx,
                    NewAnswer {
                        bundle_id: b.id,
                        policy_id,
                        input_id: INPUTS[(a % 5) as usize].to_owned(),
                        stage: "Intake".into(),
                        value: if a % 5 == 4 {
                            json!("2027-01-15")
                        } else {
                            json!(format!("answer {a}"))
                        },
                        carried_from: None,
                        carried_over: false,
                    },
                    &admin,
                )
                .await?;
                done += 1;
            }
        }
        tx.commit().await?;
        progress.set(done);
    }
    progress.finish();
    // Some classified, reviewed and with findings, so every panel has work.
    let mut progress = Progress::new("reviews and findings", Some(bundles / 10));
    for (i, b) in created.iter().step_by(10).enumerate() {
        let mut answers = vec![("affected-users", json!(values[i % 3]))];
        answers.extend(INTAKE_REQUIRED.iter().map(|(k, v)| (*k, json!(v))));
        for (input, value) in answers {
            bundle::answer(&state, &ctx, &admin, b, "General Intake", input, &value)
                .await
                .map_err(super::super::api_err)?;
        }
        review::request_review(&state, &ctx, &admin, b, None, "Intake")
            .await
            .map_err(super::super::api_err)?;
        if i % 2 == 0 {
            finding::create(
                &state,
                &ctx,
                &admin,
                b,
                finding::FindingInput {
                    policy: None,
                    stage: None,
                    name: format!("finding {i}"),
                    description: "benchmark finding".into(),
                    severity: ["low", "medium", "high", "critical"][i % 4].into(),
                    assignee: None,
                    approver: None,
                    due_date: None,
                    approval: None,
                },
            )
            .await
            .map_err(super::super::api_err)?;
        }
        progress.set(i as u64 + 1);
    }
    progress.finish();

    Ok(Seeded {
        state,
        admin,
        project: proj,
        policies,
        bundles: created,
        answers: total_answers,
        _dir: dir,
    })
}

//! Governance operations: the rules of policies, bundles, evidence, approvals,
//! findings and gates, over the store. The JSON API, the web pages and the CLI all
//! call these functions, so a rule holds whichever door a user comes in by.
//!
//! Each operation takes the acting [`Caller`](crate::auth::Caller)'s audit context,
//! checks what the caller may do, does its work in one [`WriteTx`] and commits it
//! with the audit events the store functions queued.

pub mod bundle;
pub mod finding;
pub mod gate;
pub mod jobs;
pub mod model_link;
pub mod policy;
pub mod project;
pub mod review;
pub mod task;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use charter_domain::policy::{Answers, Policy};
use charter_store::bundle::Answer;
use charter_store::policy::PolicyVersion;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Parsed policy versions, keyed by version id and content hash (drafts change;
/// published versions never do). Parsing a large policy takes milliseconds; every
/// evidence save needs it.
#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<(String, String), Arc<Policy>>>,
}

impl PolicyCache {
    fn get(&self, version: &PolicyVersion) -> Option<Arc<Policy>> {
        let key = (version.id.to_string(), version.yaml_sha256.clone());
        self.entries.lock().expect("policy cache lock").get(&key).cloned()
    }

    fn put(&self, version: &PolicyVersion, policy: Arc<Policy>) {
        let mut entries = self.entries.lock().expect("policy cache lock");
        if entries.len() > 1_000 {
            entries.clear();
        }
        entries.insert((version.id.to_string(), version.yaml_sha256.clone()), policy);
    }
}

/// The typed policy of a stored version. Stored versions were lint-clean when saved;
/// one that no longer parses (a newer Charter reads YAML more strictly) is an error
/// that names the version.
pub fn parsed(state: &AppState, version: &PolicyVersion) -> ApiResult<Arc<Policy>> {
    if let Some(p) = state.policies.get(version) {
        return Ok(p);
    }
    let report = charter_domain::policy::lint(&version.yaml);
    let policy = report.policy.ok_or_else(|| {
        ApiError::conflict(format!(
            "policy version {} no longer passes lint; fix it in a new version ({} errors)",
            version.id,
            report.diagnostics.iter().filter(|d| d.is_error()).count()
        ))
    })?;
    let policy = Arc::new(policy);
    state.policies.put(version, policy.clone());
    Ok(policy)
}

/// Stored answers as the domain's validated [`Answers`], by input id. Answers to
/// inputs the policy no longer has, or that no longer validate, are left out.
pub fn domain_answers(policy: &Policy, stored: &std::collections::BTreeMap<String, Answer>) -> Answers {
    let mut answers = Answers::new();
    for (input_id, answer) in stored {
        if let Some(input) = policy.input(input_id)
            && let Ok(value) = charter_domain::policy::validate_answer(input, &answer.value)
        {
            answers.insert(input_id.clone(), value);
        }
    }
    answers
}

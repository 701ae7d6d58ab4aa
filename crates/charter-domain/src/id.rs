//! Identifiers: UUIDv7 newtypes shown with a short prefix (`usr_…`, `grp_…`).
//!
//! The prefixed form is what is stored and sent, so an id pasted from a log, an API
//! response or the database always says what kind of thing it names.

use std::fmt;
use std::str::FromStr;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by 32 hex digits)")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// The prefix this kind of id is written with.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// The underlying UUID.
            pub fn uuid(&self) -> uuid::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = || IdError { kind: $kind, prefix: $prefix, value: s.to_owned() };
                let rest = s.strip_prefix($prefix).ok_or_else(err)?;
                if rest.len() != 32 {
                    return Err(err());
                }
                uuid::Uuid::try_parse(rest).map(Self).map_err(|_| err())
            }
        }
    };
}

prefixed_id!(
    /// A user account.
    UserId, "usr_", "user"
);
prefixed_id!(
    /// A group of users ("organization" in Domino's words).
    GroupId, "grp_", "group"
);
prefixed_id!(
    /// A personal API token (the id, never the secret).
    TokenId, "tok_", "token"
);
prefixed_id!(
    /// One audit event.
    AuditEventId, "evt_", "audit event"
);
prefixed_id!(
    /// A project: a namespace with members, where bundles live.
    ProjectId, "prj_", "project"
);
prefixed_id!(
    /// A policy (all its versions).
    PolicyId, "pol_", "policy"
);
prefixed_id!(
    /// One version of a policy.
    PolicyVersionId, "pov_", "policy version"
);
prefixed_id!(
    /// A governed bundle.
    BundleId, "bdl_", "bundle"
);
prefixed_id!(
    /// One revision of one answer in an evidence notebook.
    AnswerId, "ans_", "answer"
);
prefixed_id!(
    /// Something attached to a bundle: a model version, a file, an app, a check result.
    AttachmentId, "att_", "attachment"
);
prefixed_id!(
    /// One approval of one stage of one policy on one bundle.
    ApprovalId, "apr_", "approval"
);
prefixed_id!(
    /// A finding: an issue standing in the way of compliance.
    FindingId, "fnd_", "finding"
);
prefixed_id!(
    /// A comment on a finding.
    CommentId, "cmt_", "comment"
);
prefixed_id!(
    /// A waiver: an accepted deviation with an expiry.
    WaiverId, "wvr_", "waiver"
);
prefixed_id!(
    /// A task on someone's list.
    TaskId, "tsk_", "task"
);
prefixed_id!(
    /// A feedback annotation on a span or trace (telemetry).
    AnnotationId, "ann_", "annotation"
);
prefixed_id!(
    /// A telemetry monitor: a condition over a project's windowed trace statistics.
    MonitorId, "mon_", "monitor"
);
prefixed_id!(
    /// A project ingest token (the id, never the secret).
    IngestTokenId, "itk_", "ingest token"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = UserId::new();
        let text = id.to_string();
        assert!(text.starts_with("usr_"));
        assert_eq!(text.parse::<UserId>().unwrap(), id);
    }

    #[test]
    fn an_id_of_another_kind_is_refused_with_its_kind_named() {
        let group = GroupId::new().to_string();
        let err = group.parse::<UserId>().unwrap_err();
        assert!(err.to_string().contains("user id"), "{err}");
        assert!("usr_xyz".parse::<UserId>().is_err());
    }
}

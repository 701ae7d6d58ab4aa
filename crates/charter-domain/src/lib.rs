//! Charter's domain: the rules that do not touch a disk or a socket.
//!
//! This crate owns identifiers, roles, user-facing value types (usernames, e-mail
//! addresses, passwords), API-token formats and the audit log's hash chain and
//! signed checkpoints. Storage (`charter-store`) and HTTP (`charter-server`) build on
//! it; it depends on neither.
#![forbid(unsafe_code)]

pub mod audit;
pub mod id;
pub mod mlflow;
pub mod policy;
pub mod role;
pub mod sheet;
pub mod telemetry;
pub mod time;
pub mod token;
pub mod user;

pub use id::{
    AnnotationId, AnswerId, ApprovalId, AttachmentId, AuditEventId, BundleId, CommentId, FindingId, GroupId,
    IngestTokenId, MonitorId, PolicyId, PolicyVersionId, ProjectId, TaskId, TokenId, UserId, WaiverId,
};
pub use role::Role;

//! The audit log's hash chain and its signed checkpoints.
//!
//! Every event stores `prev_hash` and `hash = BLAKE3(prev_hash ‖ canonical(event))`,
//! where `canonical` is a length-prefixed encoding of the event's fields in a fixed
//! order (see [`canonical_bytes`]). The first event's `prev_hash` is 32 zero bytes.
//! Sequence numbers start at 1 and have no gaps, so a deleted row shows as a gap and
//! a moved row as a broken link.
//!
//! A hash chain alone cannot reveal that its newest events were cut off, or that
//! forged events were appended by someone who can compute BLAKE3. Checkpoints close
//! that gap: a checkpoint signs (with Ed25519) the sequence number and hash of the
//! head at some moment; anything up to a checkpoint that is changed, removed or
//! re-forged no longer matches the signature.

pub use ed25519_dalek::VerifyingKey;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::time::Millis;

/// 32 zero bytes, hex: the `prev_hash` of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person signed in through the browser or with a password.
    User,
    /// A person acting through one of their API tokens.
    Token,
    /// Charter itself (start-up, background jobs) or an operator at the CLI.
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Token => "token",
            ActorKind::System => "system",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(ActorKind::User),
            "token" => Some(ActorKind::Token),
            "system" => Some(ActorKind::System),
            _ => None,
        }
    }
}

/// An audit event exactly as stored: every field the hash covers, plus the hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// Stable id (`evt_…`).
    pub id: String,
    pub occurred_at: Millis,
    /// `user`, `token` or `system`.
    pub actor_kind: String,
    /// The user id for user and token actors; a label such as `cli` for the system.
    pub actor_id: String,
    /// The username (or system label) at the time, for people reading the log.
    pub actor_name: String,
    /// The token id when a token acted, else empty.
    pub actor_token: String,
    /// `noun.verb`, past tense: `user.created`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// JSON text of what changed (before/after where it applies), exactly as hashed.
    pub payload: String,
    pub request_id: String,
    pub client_addr: String,
    /// Hex BLAKE3 of the previous event ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// Hex BLAKE3 of `prev_hash ‖ canonical(this event)`.
    pub hash: String,
}

impl AuditEvent {
    /// The bytes the hash covers, after `prev_hash`: each field as an 8-byte
    /// little-endian length followed by its UTF-8 bytes, in declaration order.
    /// Integers are written in decimal. The encoding is unambiguous: no field can
    /// bleed into the next.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canonical_bytes(&[
            &self.seq.to_string(),
            &self.id,
            &self.occurred_at.to_string(),
            &self.actor_kind,
            &self.actor_id,
            &self.actor_name,
            &self.actor_token,
            &self.action,
            &self.target_type,
            &self.target_id,
            &self.payload,
            &self.request_id,
            &self.client_addr,
        ])
    }

    /// The hash this event should carry, given its `prev_hash`.
    pub fn compute_hash(&self) -> String {
        chain_hash(&self.prev_hash, &self.canonical_bytes())
    }

    /// Fill in `prev_hash` and `hash` to link this event after `prev_hash`.
    pub fn seal(&mut self, prev_hash: &str) {
        self.prev_hash = prev_hash.to_owned();
        self.hash = self.compute_hash();
    }

    /// The same event, borrowed.
    pub fn as_ref(&self) -> AuditEventRef<'_> {
        AuditEventRef {
            seq: self.seq,
            id: &self.id,
            occurred_at: self.occurred_at,
            actor_kind: &self.actor_kind,
            actor_id: &self.actor_id,
            actor_name: &self.actor_name,
            actor_token: &self.actor_token,
            action: &self.action,
            target_type: &self.target_type,
            target_id: &self.target_id,
            payload: &self.payload,
            request_id: &self.request_id,
            client_addr: &self.client_addr,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// An audit event borrowed from where it was read (a database row), so that a
/// whole log can be verified without copying each field into a `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditEventRef<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub occurred_at: Millis,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub actor_name: &'a str,
    pub actor_token: &'a str,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub payload: &'a str,
    pub request_id: &'a str,
    pub client_addr: &'a str,
    pub prev_hash: &'a str,
    pub hash: &'a str,
}

impl AuditEventRef<'_> {
    /// The hash this event should carry, computed as [`AuditEvent::compute_hash`]
    /// does but streamed into the hasher field by field, without allocating.
    pub fn compute_hash(&self) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new();
        let mut prev = [0u8; 32];
        match hex::decode_to_slice(self.prev_hash, &mut prev) {
            Ok(()) => hasher.update(&prev),
            Err(_) => hasher.update(self.prev_hash.as_bytes()),
        };
        let mut seq = itoa_buf();
        let mut at = itoa_buf();
        for field in [
            decimal(self.seq, &mut seq),
            self.id,
            decimal(self.occurred_at, &mut at),
            self.actor_kind,
            self.actor_id,
            self.actor_name,
            self.actor_token,
            self.action,
            self.target_type,
            self.target_id,
            self.payload,
            self.request_id,
            self.client_addr,
        ] {
            hasher.update(&(field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        hasher.finalize()
    }
}

const fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// `n` in decimal, written into `buf` (an i64 needs at most 20 bytes with its sign).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and '-' were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

/// Length-prefixed concatenation of fields.
pub fn canonical_bytes(fields: &[&str]) -> Vec<u8> {
    let len: usize = fields.iter().map(|f| f.len() + 8).sum();
    let mut out = Vec::with_capacity(len);
    for field in fields {
        out.extend_from_slice(&(field.len() as u64).to_le_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// `BLAKE3(prev ‖ canonical)` as hex, where `prev` is decoded from hex (a malformed
/// `prev` is hashed as its text, which can never match an honest chain).
pub fn chain_hash(prev_hash_hex: &str, canonical: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    match hex::decode(prev_hash_hex) {
        Ok(raw) if raw.len() == 32 => hasher.update(&raw),
        _ => hasher.update(prev_hash_hex.as_bytes()),
    };
    hasher.update(canonical);
    hasher.finalize().to_hex().to_string()
}

/// The first thing wrong in a chain, with the event it was found at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("event #{seq} ({id}): its contents do not match its hash (the row was edited)")]
    HashMismatch { seq: i64, id: String },
    #[error(
        "event #{seq} ({id}): its prev_hash does not match event #{prev_seq} (rows were reordered, removed or inserted)"
    )]
    BrokenLink { seq: i64, id: String, prev_seq: i64 },
    #[error("event #{seq} ({id}) follows #{prev_seq}: sequence numbers {missing} are missing (rows were deleted)")]
    Gap {
        seq: i64,
        id: String,
        prev_seq: i64,
        missing: String,
    },
    #[error("event #{seq} ({id}): the first event must be #1 and link to the genesis hash")]
    BadStart { seq: i64, id: String },
    #[error(
        "checkpoint at #{seq}: the signature does not verify with the audit key (the checkpoint was forged or altered)"
    )]
    BadSignature { seq: i64 },
    #[error("checkpoint at #{seq}: it was signed by key {found}, but the audit key is {expected}")]
    UnknownKey { seq: i64, found: String, expected: String },
    #[error(
        "checkpoint at #{seq}: it signed head hash {signed}, but event #{seq} now hashes to {found} (events up to #{seq} were changed)"
    )]
    CheckpointMismatch { seq: i64, signed: String, found: String },
    #[error(
        "checkpoint at #{seq}: event #{seq} is missing; the log ends at #{last} (signed events were deleted or truncated)"
    )]
    Truncated { seq: i64, last: i64 },
    #[error(
        "the chain's head row counts {head} events but the log ends at #{last} (the newest events were deleted or truncated)"
    )]
    HeadAhead { head: i64, last: i64 },
}

impl ChainBreak {
    /// The sequence number the break was found at.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::HashMismatch { seq, .. }
            | ChainBreak::BrokenLink { seq, .. }
            | ChainBreak::Gap { seq, .. }
            | ChainBreak::BadStart { seq, .. }
            | ChainBreak::BadSignature { seq }
            | ChainBreak::UnknownKey { seq, .. }
            | ChainBreak::CheckpointMismatch { seq, .. }
            | ChainBreak::Truncated { seq, .. } => *seq,
            ChainBreak::HeadAhead { last, .. } => *last + 1,
        }
    }

    /// The id of the first broken event, where the break is at an event.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            ChainBreak::HashMismatch { id, .. }
            | ChainBreak::BrokenLink { id, .. }
            | ChainBreak::Gap { id, .. }
            | ChainBreak::BadStart { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Walks a chain event by event, in `seq` order, remembering the last good link.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: String,
    checked: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            checked: 0,
        }
    }
}

impl ChainVerifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Check the next event. Events must be fed in ascending `seq` order.
    pub fn push(&mut self, event: &AuditEvent) -> Result<(), ChainBreak> {
        self.push_ref(event.as_ref())
    }

    /// [`ChainVerifier::push`] for a borrowed event.
    pub fn push_ref(&mut self, event: AuditEventRef<'_>) -> Result<(), ChainBreak> {
        let expected_seq = self.last_seq + 1;
        if self.last_seq == 0 && event.seq == 1 && event.prev_hash != GENESIS_HASH {
            return Err(ChainBreak::BadStart {
                seq: event.seq,
                id: event.id.to_owned(),
            });
        }
        if event.seq != expected_seq {
            let missing = if event.seq == expected_seq + 1 {
                expected_seq.to_string()
            } else {
                format!("{expected_seq}–{}", event.seq - 1)
            };
            return Err(ChainBreak::Gap {
                seq: event.seq,
                id: event.id.to_owned(),
                prev_seq: self.last_seq,
                missing,
            });
        }
        if event.prev_hash != self.last_hash {
            return Err(ChainBreak::BrokenLink {
                seq: event.seq,
                id: event.id.to_owned(),
                prev_seq: self.last_seq,
            });
        }
        if event.compute_hash().to_hex().as_str() != event.hash {
            return Err(ChainBreak::HashMismatch {
                seq: event.seq,
                id: event.id.to_owned(),
            });
        }
        self.last_seq = event.seq;
        self.last_hash.clear();
        self.last_hash.push_str(event.hash);
        self.checked += 1;
        Ok(())
    }

    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    pub fn last_hash(&self) -> &str {
        &self.last_hash
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }
}

/// A signed statement that the chain's head was `head_hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: i64,
    pub head_hash: String,
    pub created_at: Millis,
    /// Hex Ed25519 public key that signed it.
    pub public_key: String,
    /// Hex Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// What is signed: a domain-separated, length-prefixed encoding.
    pub fn message(seq: i64, head_hash: &str, created_at: Millis) -> Vec<u8> {
        let mut out = b"charter-audit-checkpoint/v1".to_vec();
        out.extend(canonical_bytes(&[&seq.to_string(), head_hash, &created_at.to_string()]));
        out
    }

    /// Sign the head of the chain.
    pub fn sign(key: &AuditKey, seq: i64, head_hash: &str, created_at: Millis) -> Self {
        let sig = key.signing.sign(&Self::message(seq, head_hash, created_at));
        Self {
            seq,
            head_hash: head_hash.to_owned(),
            created_at,
            public_key: key.public_hex(),
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Check the signature against the trusted public key.
    pub fn verify_signature(&self, trusted: &VerifyingKey) -> Result<(), ChainBreak> {
        let trusted_hex = hex::encode(trusted.to_bytes());
        if self.public_key != trusted_hex {
            return Err(ChainBreak::UnknownKey {
                seq: self.seq,
                found: self.public_key.clone(),
                expected: trusted_hex,
            });
        }
        let bad = || ChainBreak::BadSignature { seq: self.seq };
        let raw: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(bad)?;
        trusted
            .verify(
                &Self::message(self.seq, &self.head_hash, self.created_at),
                &Signature::from_bytes(&raw),
            )
            .map_err(|_| bad())
    }
}

/// The Ed25519 key that signs checkpoints. `Debug` shows only the public half.
#[derive(Clone)]
pub struct AuditKey {
    signing: SigningKey,
}

/// A key file that does not hold a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit signing key must be 64 hex digits (a 32-byte Ed25519 seed)")]
pub struct BadKey;

impl AuditKey {
    /// A key from a 32-byte seed supplied by the caller (who owns the randomness).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// A key from the hex text of its seed (the key file's content).
    pub fn from_hex(text: &str) -> Result<Self, BadKey> {
        let raw: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(BadKey)?;
        Ok(Self::from_seed(raw))
    }

    /// The seed as hex, for writing the key file.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.signing.to_bytes())
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.verifying_key().to_bytes())
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey(public={})", self.public_hex())
    }
}

/// Parse a hex public key (as printed by `charter audit key`) to verify checkpoints with.
pub fn verifying_key_from_hex(text: &str) -> Result<VerifyingKey, BadKey> {
    let raw: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(BadKey)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, payload: &str) -> AuditEvent {
        AuditEvent {
            seq,
            id: format!("evt_{seq}"),
            occurred_at: 1_000 + seq,
            actor_kind: "user".into(),
            actor_id: "usr_1".into(),
            actor_name: "ann".into(),
            actor_token: String::new(),
            action: "user.created".into(),
            target_type: "user".into(),
            target_id: "usr_2".into(),
            payload: payload.into(),
            request_id: "req".into(),
            client_addr: "127.0.0.1".into(),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = event(seq, &format!("{{\"n\":{seq}}}"));
                e.seal(&prev);
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent]) -> Result<(), ChainBreak> {
        let mut v = ChainVerifier::new();
        events.iter().try_for_each(|e| v.push(e))
    }

    #[test]
    fn an_honest_chain_verifies() {
        assert_eq!(verify(&chain(50)), Ok(()));
    }

    #[test]
    fn an_edited_payload_is_found_at_its_event() {
        let mut c = chain(10);
        c[4].payload = "{\"n\":999}".into();
        assert_eq!(
            verify(&c).unwrap_err(),
            ChainBreak::HashMismatch {
                seq: 5,
                id: "evt_5".into()
            }
        );
    }

    #[test]
    fn a_deleted_event_shows_as_a_gap() {
        let mut c = chain(10);
        c.remove(6);
        assert!(matches!(verify(&c).unwrap_err(), ChainBreak::Gap { seq: 8, .. }));
    }

    #[test]
    fn reordered_events_break_the_links() {
        let mut c = chain(10);
        let (a, b) = (c[2].clone(), c[3].clone());
        c[2] = AuditEvent { seq: 3, ..b };
        c[3] = AuditEvent { seq: 4, ..a };
        assert!(matches!(verify(&c).unwrap_err(), ChainBreak::BrokenLink { seq: 3, .. }));
    }

    #[test]
    fn the_streamed_hash_equals_the_stored_one() {
        for e in chain(20) {
            assert_eq!(e.as_ref().compute_hash().to_hex().as_str(), e.hash);
        }
        // Odd values take the same path as in `compute_hash`: negative numbers,
        // extremes, and a prev_hash that is not 32 bytes of hex.
        for (seq, at, prev) in [(-5, i64::MIN, "zz"), (i64::MAX - 1_000, 0, ""), (7, -1, GENESIS_HASH)] {
            let mut e = event(seq, "{}");
            e.occurred_at = at;
            e.seal(prev);
            assert_eq!(e.as_ref().compute_hash().to_hex().as_str(), e.hash, "seq {seq}");
        }
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let mut a = event(1, "x");
        a.actor_name = "ab".into();
        a.actor_token = "c".into();
        let mut b = event(1, "x");
        b.actor_name = "a".into();
        b.actor_token = "bc".into();
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn checkpoints_verify_only_with_the_signing_key_and_unaltered() {
        let key = AuditKey::from_seed([3; 32]);
        let cp = Checkpoint::sign(&key, 10, &"ab".repeat(32), 5);
        assert_eq!(cp.verify_signature(&key.verifying_key()), Ok(()));
        let other = AuditKey::from_seed([4; 32]);
        assert!(matches!(
            cp.verify_signature(&other.verifying_key()),
            Err(ChainBreak::UnknownKey { .. })
        ));
        let forged = Checkpoint { seq: 11, ..cp.clone() };
        assert_eq!(
            forged.verify_signature(&key.verifying_key()),
            Err(ChainBreak::BadSignature { seq: 11 })
        );
        assert!(!format!("{key:?}").contains(&key.seed_hex()));
        assert_eq!(
            AuditKey::from_hex(&key.seed_hex()).unwrap().public_hex(),
            key.public_hex()
        );
    }
}

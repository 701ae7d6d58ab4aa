//! The audit log: append (inside a write transaction), query, verify, checkpoint.

use charter_domain::audit::VerifyingKey;
use charter_domain::audit::{AuditEvent, AuditEventRef, AuditKey, ChainBreak, ChainVerifier, Checkpoint};
use charter_domain::id::AuditEventId;
use charter_domain::time::{Millis, now_ms};
use futures::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, ConnectOptions, Row};

use crate::{Store, StoreError};

/// Who acted, as the audit log records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: charter_domain::audit::ActorKind,
    /// User id, or a system label such as `cli`.
    pub id: String,
    /// Username or system label.
    pub name: String,
    /// Token id when a token acted.
    pub token: Option<String>,
}

impl Actor {
    /// Charter itself or an operator at the CLI; `label` says which (`cli`, `scheduler`).
    pub fn system(label: &str) -> Self {
        Self {
            kind: charter_domain::audit::ActorKind::System,
            id: label.to_owned(),
            name: label.to_owned(),
            token: None,
        }
    }
}

/// Who acted, from where, in which request: everything an event needs besides
/// what happened.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    pub request_id: String,
    pub client_addr: String,
}

impl AuditContext {
    /// A context for work done by Charter or the CLI outside any HTTP request.
    pub fn system(label: &str) -> Self {
        Self {
            actor: Actor::system(label),
            request_id: String::new(),
            client_addr: String::new(),
        }
    }

    /// An event of this context.
    pub fn event(
        &self,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        payload: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            actor: self.actor.clone(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            payload,
            request_id: self.request_id.clone(),
            client_addr: self.client_addr.clone(),
        }
    }
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub actor: Actor,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub payload: serde_json::Value,
    pub request_id: String,
    pub client_addr: String,
}

/// Append events to the chain on `conn` (inside the caller's transaction).
///
/// The first statement moves the head row forward; on PostgreSQL its row lock is
/// held until the transaction ends, so appends from every connection and every
/// replica queue up behind one another and the chain stays linear and gap-free.
pub(crate) async fn append(
    conn: &mut AnyConnection,
    events: Vec<NewAuditEvent>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let n = events.len() as i64;
    let row = sqlx::query("UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash")
        .bind(n)
        .fetch_one(&mut *conn)
        .await?;
    let last_seq: i64 = row.try_get(0)?;
    let mut prev: String = row.try_get(1)?;
    let first_seq = last_seq - n + 1;
    let now = now_ms();
    let mut out = Vec::with_capacity(events.len());
    for (i, ev) in events.into_iter().enumerate() {
        let mut event = AuditEvent {
            seq: first_seq + i as i64,
            id: AuditEventId::new().to_string(),
            occurred_at: now,
            actor_kind: ev.actor.kind.as_str().to_owned(),
            actor_id: ev.actor.id,
            actor_name: ev.actor.name,
            actor_token: ev.actor.token.unwrap_or_default(),
            action: ev.action,
            target_type: ev.target_type,
            target_id: ev.target_id,
            payload: ev.payload.to_string(),
            request_id: ev.request_id,
            client_addr: ev.client_addr,
            prev_hash: String::new(),
            hash: String::new(),
        };
        event.seal(&prev);
        sqlx::query(
            "INSERT INTO audit_events (seq, id, occurred_at, actor_kind, actor_id, actor_name, actor_token, action, \
             target_type, target_id, payload, request_id, client_addr, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(event.seq)
        .bind(&event.id)
        .bind(event.occurred_at)
        .bind(&event.actor_kind)
        .bind(&event.actor_id)
        .bind(&event.actor_name)
        .bind(&event.actor_token)
        .bind(&event.action)
        .bind(&event.target_type)
        .bind(&event.target_id)
        .bind(&event.payload)
        .bind(&event.request_id)
        .bind(&event.client_addr)
        .bind(&event.prev_hash)
        .bind(&event.hash)
        .execute(&mut *conn)
        .await?;
        prev.clone_from(&event.hash);
        out.push(event);
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&mut *conn)
        .await?;
    Ok(out)
}

const EVENT_COLUMNS: &str = "seq, id, occurred_at, actor_kind, actor_id, actor_name, actor_token, action, \
                             target_type, target_id, payload, request_id, client_addr, prev_hash, hash";

fn event_from_row(row: &AnyRow) -> Result<AuditEvent, sqlx::Error> {
    Ok(AuditEvent {
        seq: row.try_get(0)?,
        id: row.try_get(1)?,
        occurred_at: row.try_get(2)?,
        actor_kind: row.try_get(3)?,
        actor_id: row.try_get(4)?,
        actor_name: row.try_get(5)?,
        actor_token: row.try_get(6)?,
        action: row.try_get(7)?,
        target_type: row.try_get(8)?,
        target_id: row.try_get(9)?,
        payload: row.try_get(10)?,
        request_id: row.try_get(11)?,
        client_addr: row.try_get(12)?,
        prev_hash: row.try_get(13)?,
        hash: row.try_get(14)?,
    })
}

const VERIFY_BATCH: usize = 4096;

/// Feed rows to the checker in batches; stop early when the checker has stopped
/// (it found a break, and its result says which).
async fn pump<R>(
    mut rows: impl futures::Stream<Item = Result<R, sqlx::Error>> + Unpin,
    tx: tokio::sync::mpsc::Sender<Vec<R>>,
    progress: &mut impl FnMut(u64),
) -> Result<(), StoreError> {
    let mut batch = Vec::with_capacity(VERIFY_BATCH);
    let mut read = 0u64;
    while let Some(row) = rows.try_next().await? {
        batch.push(row);
        if batch.len() == VERIFY_BATCH {
            read += VERIFY_BATCH as u64;
            if tx
                .send(std::mem::replace(&mut batch, Vec::with_capacity(VERIFY_BATCH)))
                .await
                .is_err()
            {
                return Ok(());
            }
            if read.is_multiple_of(65_536) {
                progress(read);
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch).await;
    }
    Ok(())
}

/// Walk the chain on a blocking thread, matching each signed checkpoint on the way.
fn spawn_checker<R: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<Vec<R>>,
    checkpoints: Vec<Checkpoint>,
    decode: for<'r> fn(&'r R) -> Result<AuditEventRef<'r>, sqlx::Error>,
) -> tokio::task::JoinHandle<Result<ChainVerifier, StoreError>> {
    tokio::task::spawn_blocking(move || {
        let mut pending = checkpoints.iter().peekable();
        let mut verifier = ChainVerifier::new();
        while let Some(batch) = rx.blocking_recv() {
            for row in &batch {
                let event = decode(row)?;
                verifier.push_ref(event)?;
                while let Some(cp) = pending.peek() {
                    if cp.seq > event.seq {
                        break;
                    }
                    if cp.seq == event.seq && cp.head_hash != event.hash {
                        return Err(ChainBreak::CheckpointMismatch {
                            seq: cp.seq,
                            signed: cp.head_hash.clone(),
                            found: event.hash.to_owned(),
                        }
                        .into());
                    }
                    pending.next();
                }
            }
        }
        if let Some(cp) = pending.next() {
            return Err(ChainBreak::Truncated {
                seq: cp.seq,
                last: verifier.last_seq(),
            }
            .into());
        }
        Ok(verifier)
    })
}

macro_rules! borrowed_event {
    ($name:ident, $row:ty) => {
        fn $name(row: &$row) -> Result<AuditEventRef<'_>, sqlx::Error> {
            Ok(AuditEventRef {
                seq: row.try_get(0)?,
                id: row.try_get(1)?,
                occurred_at: row.try_get(2)?,
                actor_kind: row.try_get(3)?,
                actor_id: row.try_get(4)?,
                actor_name: row.try_get(5)?,
                actor_token: row.try_get(6)?,
                action: row.try_get(7)?,
                target_type: row.try_get(8)?,
                target_id: row.try_get(9)?,
                payload: row.try_get(10)?,
                request_id: row.try_get(11)?,
                client_addr: row.try_get(12)?,
                prev_hash: row.try_get(13)?,
                hash: row.try_get(14)?,
            })
        }
    };
}

borrowed_event!(sqlite_event, sqlx::sqlite::SqliteRow);
borrowed_event!(postgres_event, sqlx::postgres::PgRow);

/// Which events to list. Every field narrows the result; empty means "any".
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events at or after this time.
    pub since: Option<Millis>,
    /// Events before this time.
    pub until: Option<Millis>,
    /// Actor username or id.
    pub actor: Option<String>,
    /// An action (`user.created`) or a prefix ending in `*` (`user.*`).
    pub action: Option<String>,
    /// A target type (`user`) or `type:id`.
    pub target: Option<String>,
    /// Newest first (the default) or oldest first.
    pub ascending: bool,
    /// Resume after this sequence number (exclusive), in the listing's direction.
    pub after_seq: Option<i64>,
    /// At most this many events; `None` means all.
    pub limit: Option<i64>,
}

impl AuditFilter {
    fn to_sql(&self) -> (String, Vec<FilterValue>) {
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        let next = |v: FilterValue, binds: &mut Vec<FilterValue>| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(t) = self.since {
            clauses.push(format!("occurred_at >= {}", next(FilterValue::Int(t), &mut binds)));
        }
        if let Some(t) = self.until {
            clauses.push(format!("occurred_at < {}", next(FilterValue::Int(t), &mut binds)));
        }
        if let Some(actor) = self.actor.as_deref().filter(|s| !s.is_empty()) {
            let a = next(FilterValue::Text(actor.to_owned()), &mut binds);
            clauses.push(format!("(actor_name = {a} OR actor_id = {a})"));
        }
        if let Some(action) = self.action.as_deref().filter(|s| !s.is_empty()) {
            if let Some(prefix) = action.strip_suffix('*') {
                let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                clauses.push(format!(
                    "action LIKE {} ESCAPE '\\'",
                    next(FilterValue::Text(format!("{escaped}%")), &mut binds)
                ));
            } else {
                clauses.push(format!(
                    "action = {}",
                    next(FilterValue::Text(action.to_owned()), &mut binds)
                ));
            }
        }
        if let Some(target) = self.target.as_deref().filter(|s| !s.is_empty()) {
            match target.split_once(':') {
                Some((ty, id)) => {
                    clauses.push(format!(
                        "target_type = {}",
                        next(FilterValue::Text(ty.to_owned()), &mut binds)
                    ));
                    clauses.push(format!(
                        "target_id = {}",
                        next(FilterValue::Text(id.to_owned()), &mut binds)
                    ));
                }
                None => clauses.push(format!(
                    "target_type = {}",
                    next(FilterValue::Text(target.to_owned()), &mut binds)
                )),
            }
        }
        if let Some(after) = self.after_seq {
            let op = if self.ascending { ">" } else { "<" };
            clauses.push(format!("seq {op} {}", next(FilterValue::Int(after), &mut binds)));
        }
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(if self.ascending {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {}", next(FilterValue::Int(limit), &mut binds)));
        }
        (sql, binds)
    }
}

enum FilterValue {
    Int(i64),
    Text(String),
}

/// The chain's head: the last sequence number and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// What `verify` found when nothing was broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub head: Head,
    pub checkpoints: u64,
    /// The newest checkpoint's sequence number (0 when there is none).
    pub last_checkpoint_seq: i64,
}

impl VerifyReport {
    /// Events after the newest checkpoint: the chain alone vouches for them.
    pub fn unsigned_tail(&self) -> i64 {
        self.head.seq - self.last_checkpoint_seq
    }
}

impl Store {
    /// List events matching `filter`.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError> {
        let (sql, binds) = filter.to_sql();
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = match b {
                FilterValue::Int(i) => q.bind(i),
                FilterValue::Text(t) => q.bind(t),
            };
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| event_from_row(r).map_err(StoreError::from))
            .collect()
    }

    /// One event by id.
    pub async fn audit_event(&self, id: &str) -> Result<AuditEvent, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("audit event {id}")))?;
        Ok(event_from_row(&row)?)
    }

    /// The chain's head as the head row records it.
    pub async fn audit_head(&self) -> Result<Head, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(Head {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
        })
    }

    /// How many events the log holds.
    pub async fn audit_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Recompute the whole chain and check every checkpoint against it and against
    /// the trusted key. `progress` is called now and then with the events checked.
    pub async fn verify_audit(
        &self,
        trusted: &VerifyingKey,
        mut progress: impl FnMut(u64),
    ) -> Result<VerifyReport, StoreError> {
        let checkpoints = self.checkpoints().await?;
        for cp in &checkpoints {
            cp.verify_signature(trusted)?;
        }
        // Read the head row before the events: every event it counts is visible to
        // the scan that follows, so a head ahead of the scan means events were cut off.
        let head_row = self.audit_head().await?;
        // The scan reads through the backend's own driver rather than `Any` (which
        // copies every value twice), and hands batches of rows to a blocking thread
        // that borrows each field straight from the row and streams it into BLAKE3:
        // the driver steps rows on one core while the other hashes.
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq ASC");
        let checker;
        match self.backend {
            crate::Backend::Sqlite => {
                let options: sqlx::sqlite::SqliteConnectOptions = self.url.parse()?;
                let mut conn = options.read_only(true).connect().await?;
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                checker = spawn_checker(rx, checkpoints.clone(), sqlite_event);
                pump(
                    sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut conn),
                    tx,
                    &mut progress,
                )
                .await?;
            }
            crate::Backend::Postgres => {
                let options: sqlx::postgres::PgConnectOptions = self.url.parse()?;
                let mut conn = options.connect().await?;
                let (tx, rx) = tokio::sync::mpsc::channel(4);
                checker = spawn_checker(rx, checkpoints.clone(), postgres_event);
                pump(
                    sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut conn),
                    tx,
                    &mut progress,
                )
                .await?;
            }
        }
        let verifier = checker
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(format!("the verification thread failed: {e}"))))??;
        progress(verifier.checked());
        if head_row.seq > verifier.last_seq() {
            return Err(ChainBreak::HeadAhead {
                head: head_row.seq,
                last: verifier.last_seq(),
            }
            .into());
        }
        Ok(VerifyReport {
            events: verifier.checked(),
            head: Head {
                seq: verifier.last_seq(),
                hash: verifier.last_hash().to_owned(),
            },
            checkpoints: checkpoints.len() as u64,
            last_checkpoint_seq: checkpoints.last().map_or(0, |c| c.seq),
        })
    }

    /// Every checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, head_hash, created_at, public_key, signature FROM audit_checkpoints ORDER BY seq ASC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Checkpoint {
                    seq: r.try_get(0)?,
                    head_hash: r.try_get(1)?,
                    created_at: r.try_get(2)?,
                    public_key: r.try_get(3)?,
                    signature: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Sign the current head, unless it is already signed. Returns the new
    /// checkpoint, or `None` when there was nothing new to sign.
    ///
    /// The head is read from the newest event itself (not the head row), so a
    /// checkpoint always vouches for what is really in the table.
    pub async fn checkpoint(&self, key: &AuditKey) -> Result<Option<Checkpoint>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq DESC LIMIT 1");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_optional(tx.conn()).await? else {
            return Ok(None);
        };
        let head = event_from_row(&row)?;
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit_checkpoints")
            .fetch_one(tx.conn())
            .await?;
        if last.is_some_and(|s| s >= head.seq) {
            return Ok(None);
        }
        let cp = Checkpoint::sign(key, head.seq, &head.hash, now_ms());
        // Another replica may be signing the same head right now (PostgreSQL runs these
        // transactions side by side); then its checkpoint stands and this one is moot.
        let inserted = sqlx::query(
            "INSERT INTO audit_checkpoints (seq, head_hash, created_at, public_key, signature) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(cp.seq)
        .bind(&cp.head_hash)
        .bind(cp.created_at)
        .bind(&cp.public_key)
        .bind(&cp.signature)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        // A checkpoint records the chain; it is not itself a governed change.
        tx.commit_unaudited("checkpoints sign the chain and live beside it")
            .await?;
        Ok(Some(cp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_bind_every_value_and_escape_prefixes() {
        let f = AuditFilter {
            actor: Some("ann".into()),
            action: Some("user_x.*".into()),
            target: Some("user:usr_1".into()),
            limit: Some(10),
            ..Default::default()
        };
        let (sql, binds) = f.to_sql();
        assert_eq!(binds.len(), 5);
        assert!(sql.contains("action LIKE $2"), "{sql}");
        assert!(sql.ends_with("ORDER BY seq DESC LIMIT $5"), "{sql}");
        assert!(!sql.contains("ann"));
        match &binds[1] {
            FilterValue::Text(t) => assert_eq!(t, "user\\_x.%"),
            FilterValue::Int(_) => panic!("expected text"),
        }
    }
}

use charter_domain::audit::AuditEvent;
use sqlx::{Any, AnyConnection, Transaction};

use crate::StoreError;
use crate::audit::{self, NewAuditEvent};

/// A write transaction that commits only together with its audit events.
///
/// Queue events with [`WriteTx::audit`]; [`WriteTx::commit`] appends them to the
/// hash chain inside the same transaction and then commits, so the change and its
/// record land together or not at all. Dropping a `WriteTx` rolls it back.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    pending: Vec<NewAuditEvent>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) fn new(tx: Transaction<'static, Any>, guard: Option<tokio::sync::OwnedMutexGuard<()>>) -> Self {
        Self {
            tx,
            pending: Vec::new(),
            _guard: guard,
        }
    }

    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Queue an audit event for this change.
    pub fn audit(&mut self, event: NewAuditEvent) {
        self.pending.push(event);
    }

    /// Append the queued events to the chain and commit. Refuses (and rolls back)
    /// when no event was queued.
    pub async fn commit(mut self) -> Result<Vec<AuditEvent>, StoreError> {
        if self.pending.is_empty() {
            return Err(StoreError::Unaudited("no audit event was queued"));
        }
        let pending = std::mem::take(&mut self.pending);
        let events = audit::append(&mut self.tx, pending).await?;
        self.tx.commit().await?;
        Ok(events)
    }

    /// Commit bookkeeping that is not a governed change (a token's last-used time,
    /// a session's expiry). `why` documents the exemption at the call site.
    pub async fn commit_unaudited(self, why: &'static str) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            return Err(StoreError::Unaudited(why));
        }
        self.tx.commit().await?;
        Ok(())
    }
}

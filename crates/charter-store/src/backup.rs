//! Online, consistent backups of the SQLite database.
//!
//! PostgreSQL is backed up with `pg_dump` by the CLI; this module handles the
//! embedded default, where `VACUUM INTO` writes a consistent copy while the server
//! keeps running.

use std::path::Path;

use crate::{Backend, Store, StoreError};

impl Store {
    /// Write a consistent copy of the SQLite database to `dest` (which must not exist).
    pub async fn backup_sqlite_to(&self, dest: &Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Config(
                "VACUUM INTO backups are for SQLite; use pg_dump for PostgreSQL".into(),
            ));
        }
        if dest.exists() {
            return Err(StoreError::Conflict(format!(
                "{} already exists; choose a new backup file",
                dest.display()
            )));
        }
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Config("the backup path must be valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1").bind(dest).execute(&self.pool).await?;
        Ok(())
    }
}

use charter_domain::audit::ChainBreak;

/// What went wrong in storage. `charter-server` decides what HTTP status each means.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique name or key is already taken.
    #[error("{0}")]
    Conflict(String),
    /// The request breaks a rule of the data (a param changed to a new value).
    #[error("{0}")]
    Invalid(String),
    /// The configuration names a database or store that cannot be used.
    #[error("{0}")]
    Config(String),
    /// The database cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A write transaction was committed without its audit event.
    #[error("refusing to commit a change without its audit event ({0})")]
    Unaudited(&'static str),
    /// The audit chain is broken.
    #[error("audit chain broken: {0}")]
    Chain(#[from] ChainBreak),
    #[error("blob storage: {0}")]
    Blob(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Database(other),
        }
    }
}

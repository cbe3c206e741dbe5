//! The store's error type.

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had from the pool (Postgres down, or the pool exhausted).
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),
    /// The migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    /// A stored value could not be decoded (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the cause is the database being unreachable or overloaded (retry later), as
    /// opposed to a rejected statement.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Db(e) => {
                e.is_closed()
                    || e.code().is_none()
                    || e.code().is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
            }
            Self::Migration(_) | Self::Corrupt(_) => false,
        }
    }

    /// The SQLSTATE when the database rejected a statement.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Db(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }

    /// Whether a unique constraint rejected the statement (SQLSTATE 23505).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate() == Some("23505")
    }
}

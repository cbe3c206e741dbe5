//! The store's error type.

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had from the pool (Postgres down, or the pool exhausted).
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed. Shown with Postgres's message and SQLSTATE, or the I/O cause; the
    /// display holds the whole cause, so it is not also reported as a `source`.
    #[error("database error: {}", describe(.0))]
    Db(tokio_postgres::Error),
    /// The migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    /// A stored value could not be decoded (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A sealed value did not open (its key is not in the keyring, the key differs, or it
    /// was copied from another row): `what` names the row.
    #[error("{what}: {cause}")]
    Secret {
        /// The row and column, e.g. `channel 0190… config`.
        what: String,
        /// Why it did not open.
        cause: upcheck_secrets::SecretsError,
    },
}

/// Parses a stored name with `parse` (an enum's `parse`); any other text is a corrupt `what`.
pub(crate) fn stored<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{what} {text:?}")))
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
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
            Self::Migration(_) | Self::Corrupt(_) | Self::Secret { .. } => false,
        }
    }

    /// Whether no retry can make the same statement succeed: Postgres rejected its data
    /// (SQLSTATE class 22, data exception: a NUL byte in text, a number out of range), a
    /// constraint (class 23, integrity violation) or the statement itself (class 42, syntax
    /// error or access rule violation), or a stored row could not be decoded. Everything else
    /// is transient: connection loss (class 08, or no SQLSTATE at all), serialization failures
    /// and deadlocks (class 40), insufficient resources (53), lock and prerequisite-state
    /// errors (55), operator intervention such as admin shutdown or a statement time-out (57),
    /// system errors (58), pool time-outs. SQLSTATE classes: PostgreSQL documentation,
    /// Appendix A, "PostgreSQL Error Codes".
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Pool(_) => false,
            Self::Db(_) => {
                self.sqlstate().is_some_and(|c| matches!(&c[..2.min(c.len())], "22" | "23" | "42"))
            }
            Self::Migration(_) | Self::Corrupt(_) | Self::Secret { .. } => true,
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

/// `message (SQLSTATE)` for an error Postgres raised; otherwise the error and its causes
/// (tokio-postgres shows only "db error" or "error communicating with the server" by itself).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

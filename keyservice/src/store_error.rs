//! The error of every storage operation, the [`crate::store::Store`]'s and the
//! [`crate::limits::Limiter`]'s alike: below both, so that the rate limits (which the
//! SQL stores implement) and the stores need not name each other for it.

use std::fmt;

/// A storage failure. Messages never carry stored values.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreError {
    /// A unique constraint refused the write (duplicate token, alias, id, …).
    Conflict,
    /// The database could not be reached (connection refused, pool timed out, …).
    Unavailable(String),
    /// Anything else.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("unique constraint violated"),
            StoreError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreError::Other(m) => write!(f, "database error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            // Only the database's own message (no DETAIL, which may quote values).
            sqlx::Error::Database(db) => StoreError::Other(db.message().to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

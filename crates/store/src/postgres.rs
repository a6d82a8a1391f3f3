//! PostgreSQL backend (placeholder until the implementation lands).

use crate::error::{Result, StoreError};

pub(crate) fn is_postgres_url(url: &str) -> bool {
  let lower = url.trim().to_ascii_lowercase();
  lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Options for [`PostgresStore`].
#[derive(Debug, Clone, Default)]
pub struct PostgresOptions {}

/// PostgreSQL store.
pub struct PostgresStore {}

impl PostgresStore {
  /// Connects and migrates.
  pub async fn connect(_url: &str, _options: PostgresOptions) -> Result<Self> {
    Err(StoreError::UnsupportedUrl("PostgreSQL is not implemented yet".into()))
  }
}

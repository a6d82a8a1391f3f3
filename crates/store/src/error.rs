//! `StoreError`: every storage failure, with a stable `code()` for the JS side.

/// A storage failure. `code()` is stable (it becomes the JS `Error.code`); the message says
/// what went wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
  /// A thread, message or resource the call needs does not exist.
  #[error("{0}")]
  NotFound(String),
  /// The arguments are malformed (empty id, metadata that is not an object, …).
  #[error("{0}")]
  InvalidInput(String),
  /// The storage URL names something this build cannot open (remote libsql, unknown scheme).
  #[error("{0}")]
  UnsupportedUrl(String),
  /// The database file or its directory could not be opened or written.
  #[error("{0}")]
  Io(String),
  /// The database refused or failed a statement.
  #[error("{0}")]
  Db(String),
  /// The schema could not be brought to this version of Lumos.
  #[error("{0}")]
  Migration(String),
}

impl StoreError {
  /// Stable error code: `STORE_NOT_FOUND`, `STORE_INVALID_INPUT`, `STORE_UNSUPPORTED_URL`,
  /// `STORE_IO`, `STORE_DB` or `STORE_MIGRATION`.
  pub fn code(&self) -> &'static str {
    match self {
      StoreError::NotFound(_) => "STORE_NOT_FOUND",
      StoreError::InvalidInput(_) => "STORE_INVALID_INPUT",
      StoreError::UnsupportedUrl(_) => "STORE_UNSUPPORTED_URL",
      StoreError::Io(_) => "STORE_IO",
      StoreError::Db(_) => "STORE_DB",
      StoreError::Migration(_) => "STORE_MIGRATION",
    }
  }

  pub(crate) fn invalid(msg: impl Into<String>) -> Self {
    StoreError::InvalidInput(msg.into())
  }

  pub(crate) fn thread_not_found(id: &str) -> Self {
    StoreError::NotFound(format!(
      "thread '{id}' not found: create it (createThread / saveThread) before using it"
    ))
  }
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, StoreError>;

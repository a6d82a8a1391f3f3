//! The one error type of the crate, with stable codes.

/// Every failure of the vector store. `code()` gives a stable string for JS (`err.code`).
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
  /// The named index does not exist.
  #[error(
    "vector index \"{0}\" does not exist: create it with createIndex({{ indexName, dimension }}) first, or check the name (listIndexes() shows the existing ones)"
  )]
  IndexNotFound(String),
  /// `create_index` on an existing name with another dimension or metric.
  #[error(
    "vector index \"{name}\" already exists with dimension {existing_dimension} and metric {existing_metric}, but dimension {dimension} and metric {metric} were requested: use another index name, or deleteIndex it first"
  )]
  IndexExists {
    /// Index name.
    name: String,
    /// Dimension of the existing index.
    existing_dimension: usize,
    /// Metric of the existing index.
    existing_metric: &'static str,
    /// Requested dimension.
    dimension: usize,
    /// Requested metric.
    metric: &'static str,
  },
  /// A vector's length does not match the index dimension.
  #[error("{0}")]
  DimensionMismatch(String),
  /// NaN or infinite component.
  #[error("{0}")]
  InvalidValue(String),
  /// Malformed filter or unknown operator.
  #[error("{0}")]
  InvalidFilter(String),
  /// Any other bad argument (name, lengths, metadata type, top_k…).
  #[error("{0}")]
  InvalidInput(String),
  /// Disk I/O failed or a persisted file is unreadable.
  #[error(
    "vector store I/O error ({context}): {source}. Check that the directory is writable and the disk is not full"
  )]
  Io {
    /// What was being done.
    context: String,
    /// The OS error.
    #[source]
    source: std::io::Error,
  },
}

impl VectorError {
  /// Stable machine-readable code.
  pub fn code(&self) -> &'static str {
    match self {
      VectorError::IndexNotFound(_) => "VECTOR_INDEX_NOT_FOUND",
      VectorError::IndexExists { .. } => "VECTOR_INDEX_EXISTS",
      VectorError::DimensionMismatch(_) => "VECTOR_DIMENSION_MISMATCH",
      VectorError::InvalidValue(_) => "VECTOR_INVALID_VALUE",
      VectorError::InvalidFilter(_) => "VECTOR_INVALID_FILTER",
      VectorError::InvalidInput(_) => "VECTOR_INVALID_INPUT",
      VectorError::Io { .. } => "VECTOR_IO",
    }
  }

  pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
    VectorError::Io {
      context: context.into(),
      source,
    }
  }

  pub(crate) fn corrupt(context: impl Into<String>) -> Self {
    VectorError::Io {
      context: context.into(),
      source: std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "corrupt or unreadable file",
      ),
    }
  }
}

/// Crate result alias.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

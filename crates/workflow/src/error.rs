//! `WorkflowError`: every engine failure, with a stable code for the JS side.

use lumos_store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct WorkflowError {
  /// Stable: WORKFLOW_INVALID_DEFINITION, WORKFLOW_SCHEMA_MISMATCH, WORKFLOW_RUN_NOT_FOUND,
  /// WORKFLOW_RUN_ACTIVE, WORKFLOW_RUN_NOT_SUSPENDED, WORKFLOW_RUN_NOT_ACTIVE,
  /// WORKFLOW_RUN_TAKEN_OVER, WORKFLOW_RESUME_STEP_REQUIRED, WORKFLOW_RESUME_STEP_NOT_SUSPENDED,
  /// WORKFLOW_HOST_FAILED, or a STORE_* code from lumos-store.
  pub code: &'static str,
  pub message: String,
}

impl WorkflowError {
  pub fn new(code: &'static str, message: impl Into<String>) -> Self {
    WorkflowError {
      code,
      message: message.into(),
    }
  }

  pub(crate) fn definition(message: impl Into<String>) -> Self {
    Self::new("WORKFLOW_INVALID_DEFINITION", message)
  }
}

impl From<StoreError> for WorkflowError {
  fn from(e: StoreError) -> Self {
    WorkflowError::new(e.code(), e.to_string())
  }
}

pub type Result<T> = std::result::Result<T, WorkflowError>;

//! Errors that leave the core, each with a stable code the JS facade maps to an `Error` subclass.

use serde::Serialize;

/// Stable error codes. JS callers branch on these strings; never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum ErrorCode {
  #[serde(rename = "PROVIDER_HTTP_ERROR")]
  ProviderHttp,
  #[serde(rename = "PROVIDER_TIMEOUT")]
  ProviderTimeout,
  #[serde(rename = "PROVIDER_CONNECTION_FAILED")]
  ProviderConnection,
  #[serde(rename = "PROVIDER_STREAM_TRUNCATED")]
  ProviderStreamTruncated,
  #[serde(rename = "PROVIDER_MALFORMED_RESPONSE")]
  ProviderMalformed,
  #[serde(rename = "MODEL_CONFIG_INVALID")]
  ModelConfig,
  #[serde(rename = "MODEL_BRIDGE_FAILED")]
  ModelBridge,
  #[serde(rename = "INVALID_INPUT")]
  InvalidInput,
  #[serde(rename = "ABORTED")]
  Aborted,
  #[serde(rename = "HOOK_FAILED")]
  HookFailed,
  #[serde(rename = "MEMORY_FAILED")]
  Memory,
  #[serde(rename = "INTERNAL")]
  Internal,
}

impl ErrorCode {
  pub fn as_str(self) -> &'static str {
    match self {
      ErrorCode::ProviderHttp => "PROVIDER_HTTP_ERROR",
      ErrorCode::ProviderTimeout => "PROVIDER_TIMEOUT",
      ErrorCode::ProviderConnection => "PROVIDER_CONNECTION_FAILED",
      ErrorCode::ProviderStreamTruncated => "PROVIDER_STREAM_TRUNCATED",
      ErrorCode::ProviderMalformed => "PROVIDER_MALFORMED_RESPONSE",
      ErrorCode::ModelConfig => "MODEL_CONFIG_INVALID",
      ErrorCode::ModelBridge => "MODEL_BRIDGE_FAILED",
      ErrorCode::InvalidInput => "INVALID_INPUT",
      ErrorCode::Aborted => "ABORTED",
      ErrorCode::HookFailed => "HOOK_FAILED",
      ErrorCode::Memory => "MEMORY_FAILED",
      ErrorCode::Internal => "INTERNAL",
    }
  }
}

/// An error as data: serialized to JS, where the facade builds the matching `Error` subclass.
#[derive(Clone, Debug, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct LumosError {
  pub code: ErrorCode,
  pub message: String,
  /// HTTP status for provider errors.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub status: Option<u16>,
  /// First bytes of the provider's error body.
  #[serde(skip_serializing_if = "Option::is_none")]
  pub body: Option<String>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub provider: Option<String>,
  /// Whether retrying the same request could succeed.
  #[serde(skip_serializing_if = "std::ops::Not::not")]
  pub retryable: bool,
}

impl LumosError {
  pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
    LumosError {
      code,
      message: message.into(),
      status: None,
      body: None,
      provider: None,
      retryable: false,
    }
  }

  pub fn aborted() -> Self {
    LumosError::new(
      ErrorCode::Aborted,
      "The run was aborted (abortSignal fired).",
    )
  }

  pub fn invalid_input(message: impl Into<String>) -> Self {
    LumosError::new(ErrorCode::InvalidInput, message)
  }
}

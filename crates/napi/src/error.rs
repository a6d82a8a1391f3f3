//! Errors to JS as data: the reason is the JSON of a `LumosError`, which the facade turns into
//! the matching `Error` subclass (`reviveNativeError` in ts/errors.ts).

use lumos_core::{ErrorCode, LumosError};

pub fn to_napi(error: LumosError) -> napi::Error {
  let reason = serde_json::to_string(&error).unwrap_or_else(|_| error.message.clone());
  napi::Error::new(napi::Status::GenericFailure, reason)
}

/// An error from a crate with its own stable code strings (vector, store).
pub fn coded(code: &str, message: impl Into<String>) -> napi::Error {
  let reason = serde_json::json!({ "code": code, "message": message.into() }).to_string();
  napi::Error::new(napi::Status::GenericFailure, reason)
}

pub fn internal(message: impl Into<String>) -> napi::Error {
  to_napi(LumosError::new(ErrorCode::Internal, message))
}

//! The `Tool` trait. JS tools, native tools and MCP tools all implement it.

use futures::future::BoxFuture;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::model::ToolSpec;

#[derive(Clone, Debug)]
pub struct ToolCallRequest {
  pub run_id: String,
  pub tool_call_id: String,
  pub tool_name: String,
  pub input: Value,
}

/// How a tool call ended. Only `Ok` and `InvalidInput` count as results (Mastra puts both in
/// `toolResults`); `Failed` becomes a `tool-error`. The model sees all three and the run goes on.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolOutcome {
  Ok(Value),
  /// Arguments did not match the input schema; the tool did not run.
  InvalidInput {
    message: String,
    errors: Value,
  },
  /// The tool threw. `error` is the serialised error for the `tool-error` chunk.
  Failed {
    message: String,
    error: Value,
  },
}

pub trait Tool: Send + Sync {
  fn spec(&self) -> &ToolSpec;
  /// Whether the core should validate arguments against `spec().parameters` before `call`
  /// (plain JSON Schema tools). Tools with their own validator (zod) return `false`.
  fn validate_in_core(&self) -> bool {
    false
  }
  fn call(
    &self,
    request: ToolCallRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'static, ToolOutcome>;
}

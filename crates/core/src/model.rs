//! The `Model` trait: one model call in, a stream of normalised events out.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{ErrorCode, LumosError};
use crate::message::Message;

/// A tool as the model sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
  pub name: String,
  #[serde(default)]
  pub description: String,
  /// JSON Schema of the arguments object.
  pub parameters: Value,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ToolChoice {
  #[default]
  Auto,
  None,
  Required,
  Tool {
    #[serde(rename = "toolName")]
    tool_name: String,
  },
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSettings {
  pub temperature: Option<f64>,
  pub top_p: Option<f64>,
  pub top_k: Option<u32>,
  pub max_output_tokens: Option<u32>,
  pub presence_penalty: Option<f64>,
  pub frequency_penalty: Option<f64>,
  #[serde(default)]
  pub stop_sequences: Vec<String>,
  pub seed: Option<i64>,
}

/// Structured output: the model is asked for JSON matching `schema`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseFormat {
  pub schema: Value,
  #[serde(default = "default_format_name")]
  pub name: String,
}

fn default_format_name() -> String {
  "response".to_string()
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRequest {
  pub messages: Vec<Message>,
  pub tools: Vec<ToolSpec>,
  pub tool_choice: ToolChoice,
  pub settings: ModelSettings,
  pub response_format: Option<ResponseFormat>,
  /// Ask the provider to stream (SSE). `false` sends one JSON request/response.
  pub stream: bool,
  /// Passed through to the provider's request body as-is (`providerOptions.<provider>`).
  pub provider_options: Value,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
  Stop,
  Length,
  ContentFilter,
  ToolCalls,
  Error,
  Other,
  #[default]
  Unknown,
}

impl FinishReason {
  /// Maps OpenAI `finish_reason` and Anthropic `stop_reason` values.
  pub fn from_provider(s: &str) -> FinishReason {
    match s {
      "stop" | "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
      "length" | "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
      "content_filter" | "refusal" | "content-filter" => FinishReason::ContentFilter,
      "tool_calls" | "tool_use" | "function_call" | "tool-calls" => FinishReason::ToolCalls,
      "error" => FinishReason::Error,
      "other" => FinishReason::Other,
      _ => FinishReason::Unknown,
    }
  }
}

/// Token usage in AI SDK v5 names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
  pub input_tokens: u64,
  pub output_tokens: u64,
  pub total_tokens: u64,
  pub reasoning_tokens: u64,
  pub cached_input_tokens: u64,
}

impl Usage {
  pub fn add(&mut self, other: &Usage) {
    self.input_tokens += other.input_tokens;
    self.output_tokens += other.output_tokens;
    self.total_tokens += other.total_tokens;
    self.reasoning_tokens += other.reasoning_tokens;
    self.cached_input_tokens += other.cached_input_tokens;
  }
}

/// What a model call yields, in order. Providers assemble tool-call arguments themselves and
/// emit `ToolCall` once a call is complete; `ToolInputStart`/`ToolInputDelta` are for streaming UIs.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelEvent {
  Metadata {
    id: Option<String>,
    model_id: Option<String>,
  },
  TextDelta(String),
  ReasoningDelta(String),
  ToolInputStart {
    id: String,
    name: String,
  },
  ToolInputDelta {
    id: String,
    delta: String,
  },
  /// A complete tool call; `arguments` is the raw JSON text the model produced.
  ToolCall {
    id: String,
    name: String,
    arguments: String,
  },
  Finish {
    reason: FinishReason,
    usage: Usage,
  },
}

/// Why a model call failed. `Http` before any body byte was read is retried by the agent loop
/// when `retryable`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelError {
  #[error("{provider} answered HTTP {status}: {body}")]
  Http {
    provider: String,
    status: u16,
    body: String,
    retry_after: Option<Duration>,
  },
  #[error("{0}")]
  Timeout(String),
  #[error("{0}")]
  Connect(String),
  #[error("{0}")]
  Truncated(String),
  #[error("{0}")]
  Malformed(String),
  #[error("{0}")]
  Config(String),
  #[error("{0}")]
  Bridge(String),
  #[error("aborted")]
  Aborted,
}

impl ModelError {
  /// 408, 409, 429 and 5xx, and failed connections, are worth another try.
  pub fn is_retryable(&self) -> bool {
    match self {
      ModelError::Http { status, .. } => matches!(status, 408 | 409 | 429) || *status >= 500,
      ModelError::Connect(_) => true,
      _ => false,
    }
  }

  pub fn into_lumos(self) -> LumosError {
    let retryable = self.is_retryable();
    let (code, message, status, body, provider) = match self {
      ModelError::Http {
        provider,
        status,
        body,
        ..
      } => {
        let excerpt: String = body.chars().take(1000).collect();
        (
          ErrorCode::ProviderHttp,
          format!("{provider} answered HTTP {status}: {excerpt}"),
          Some(status),
          Some(excerpt),
          Some(provider),
        )
      }
      ModelError::Timeout(m) => (ErrorCode::ProviderTimeout, m, None, None, None),
      ModelError::Connect(m) => (ErrorCode::ProviderConnection, m, None, None, None),
      ModelError::Truncated(m) => (ErrorCode::ProviderStreamTruncated, m, None, None, None),
      ModelError::Malformed(m) => (ErrorCode::ProviderMalformed, m, None, None, None),
      ModelError::Config(m) => (ErrorCode::ModelConfig, m, None, None, None),
      ModelError::Bridge(m) => (ErrorCode::ModelBridge, m, None, None, None),
      ModelError::Aborted => return LumosError::aborted(),
    };
    LumosError {
      code,
      message,
      status,
      body,
      provider,
      retryable,
    }
  }
}

pub type ModelStream = BoxStream<'static, Result<ModelEvent, ModelError>>;

/// A language model. `call` resolves once the response has started (headers read, status ok);
/// errors found later arrive in the stream.
pub trait Model: Send + Sync {
  fn provider(&self) -> &str;
  fn model_id(&self) -> &str;
  fn call(
    &self,
    request: ModelRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<ModelStream, ModelError>>;
}

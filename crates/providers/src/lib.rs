//! Lumos model providers: HTTP clients that implement `lumos_core::Model`.
//!
//! - [`OpenAiCompatibleModel`]: OpenAI Chat Completions (`POST {base}/chat/completions`), used for
//!   OpenAI and every OpenAI-compatible server (DeepSeek, Groq, Ollama, OpenRouter, …).
//! - [`AnthropicModel`]: Anthropic Messages (`POST {base}/messages`).
//! - [`resolve_model`]: turns a `provider/model` id plus options into one of the above.
//! - [`OpenAiEmbeddingModel`]: OpenAI Embeddings (`POST {base}/embeddings`), a
//!   `lumos_core::Embedder`; [`resolve_embedder`] is its router.
//!
//! Chat models do not retry: the agent loop retries `ModelError::Http` using `retry_after`.
//! Embeddings have no loop around them, so [`OpenAiEmbeddingModel`] retries each request itself.

mod anthropic;
mod embed;
mod http;
mod openai;
mod router;
pub mod sse;

use std::time::Duration;

pub use anthropic::AnthropicModel;
pub use embed::{
  DEFAULT_MAX_PARALLEL, EmbeddingOptions, OPENAI_MAX_BATCH, OpenAiEmbeddingModel, decode_base64_f32,
};
pub use http::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, parse_http_date, parse_retry_after};
pub use openai::OpenAiCompatibleModel;
pub use router::{
  ModelConfig, ProviderInfo, ProviderKind, find_provider, provider_table, resolve_config,
  resolve_embedder, resolve_embedder_with, resolve_model,
};

/// How to reach one model over HTTP. `Debug` leaves the API key out.
#[derive(Clone)]
pub struct ProviderConfig {
  /// Provider name used in errors and for wire quirks (`"openai"` sends `max_completion_tokens`).
  pub provider: String,
  /// The model id sent in the request body.
  pub model_id: String,
  /// API base, e.g. `https://api.openai.com/v1` (the endpoint path is appended).
  pub base_url: String,
  pub api_key: Option<String>,
  /// Extra headers, sent last (they override the defaults).
  pub headers: Vec<(String, String)>,
  pub connect_timeout: Duration,
  /// Idle timeout: the longest wait for any byte of the response.
  pub read_timeout: Duration,
}

/// Header names only: values may carry secrets and stay out of `Debug` output.
pub(crate) fn header_names(headers: &[(String, String)]) -> Vec<&str> {
  headers.iter().map(|(k, _)| k.as_str()).collect()
}

impl std::fmt::Debug for ProviderConfig {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("ProviderConfig")
      .field("provider", &self.provider)
      .field("model_id", &self.model_id)
      .field("base_url", &self.base_url)
      .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
      .field("headers", &header_names(&self.headers))
      .field("connect_timeout", &self.connect_timeout)
      .field("read_timeout", &self.read_timeout)
      .finish()
  }
}

impl ProviderConfig {
  pub fn new(
    provider: impl Into<String>,
    model_id: impl Into<String>,
    base_url: impl Into<String>,
  ) -> Self {
    ProviderConfig {
      provider: provider.into(),
      model_id: model_id.into(),
      base_url: base_url.into(),
      api_key: None,
      headers: Vec::new(),
      connect_timeout: DEFAULT_CONNECT_TIMEOUT,
      read_timeout: DEFAULT_READ_TIMEOUT,
    }
  }

  pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
    self.api_key = Some(key.into());
    self
  }

  /// `{base_url}/{path}` with exactly one slash between them.
  pub(crate) fn endpoint_url(&self, path: &str) -> String {
    format!(
      "{}/{}",
      self.base_url.trim().trim_end_matches('/'),
      path.trim_start_matches('/')
    )
  }
}

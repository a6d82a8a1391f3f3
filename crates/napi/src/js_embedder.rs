//! An AI SDK embedding model (spec v2/v3, `doEmbed`) bridged through JS as a native `Embedder`.
//! Batching (`maxEmbeddingsPerCall`), parallelism and retries run here, as `embedMany` does them
//! in the AI SDK; JS only calls `doEmbed` for one batch at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use lumos_core::embed::{Embedder, Embeddings, embed_in_batches};
use lumos_core::model::ModelError;
use lumos_core::retry::{RetryPolicy, with_retries};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub type EmbedBridgeFn =
  ThreadsafeFunction<String, Promise<String>, String, napi::Status, false, true>;

pub struct JsEmbedder {
  provider: String,
  model_id: String,
  max_batch: usize,
  max_parallel: usize,
  retry: RetryPolicy,
  bridge: Arc<EmbedBridgeFn>,
  next_id: AtomicU64,
}

impl JsEmbedder {
  pub fn new(
    provider: String,
    model_id: String,
    max_batch: usize,
    max_parallel: usize,
    max_retries: u32,
    bridge: EmbedBridgeFn,
  ) -> Self {
    JsEmbedder {
      provider,
      model_id,
      max_batch: max_batch.max(1),
      max_parallel: max_parallel.max(1),
      retry: RetryPolicy {
        max_retries,
        ..RetryPolicy::default()
      },
      bridge: Arc::new(bridge),
      next_id: AtomicU64::new(1),
    }
  }

  /// One `doEmbed` call for `texts`.
  async fn embed_once(&self, texts: &[String]) -> Result<Embeddings, ModelError> {
    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
    let op = json!({ "op": "embed", "id": id, "values": texts }).to_string();
    // Dropped before JS answered (abort, or a sibling batch failed): JS aborts `doEmbed`.
    let mut guard = CancelOnDrop {
      bridge: &self.bridge,
      id,
      armed: true,
    };
    let text = async { self.bridge.call_async_catch(op).await?.await }
      .await
      .map_err(|e| ModelError::Bridge(format!("the JS embedding bridge failed: {}", e.reason)));
    guard.armed = false;
    let answer: Answer = serde_json::from_str(&text?).map_err(|e| {
      ModelError::Bridge(format!(
        "the JS embedding bridge answered malformed JSON: {e}"
      ))
    })?;
    if let Some(e) = answer.error {
      return Err(match e.status {
        Some(status) => ModelError::Http {
          provider: self.provider.clone(),
          status,
          body: e.body.unwrap_or(e.message),
          retry_after: e.retry_after_ms.map(Duration::from_millis),
        },
        None => ModelError::Bridge(e.message),
      });
    }
    let vectors = answer.embeddings.unwrap_or_default();
    if vectors.len() != texts.len() {
      return Err(ModelError::Malformed(format!(
        "{} doEmbed returned {} embeddings for {} values",
        self.provider,
        vectors.len(),
        texts.len()
      )));
    }
    Ok(Embeddings {
      vectors,
      tokens: answer.tokens.unwrap_or(0),
    })
  }
}

struct CancelOnDrop<'a> {
  bridge: &'a EmbedBridgeFn,
  id: u64,
  armed: bool,
}

impl Drop for CancelOnDrop<'_> {
  fn drop(&mut self) {
    if self.armed {
      let op = json!({ "op": "cancel", "id": self.id }).to_string();
      let _ = self
        .bridge
        .call(op, ThreadsafeFunctionCallMode::NonBlocking);
    }
  }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerError {
  message: String,
  status: Option<u16>,
  body: Option<String>,
  retry_after_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Answer {
  embeddings: Option<Vec<Vec<f32>>>,
  tokens: Option<u64>,
  error: Option<AnswerError>,
}

impl Embedder for JsEmbedder {
  fn provider(&self) -> &str {
    &self.provider
  }

  fn model_id(&self) -> &str {
    &self.model_id
  }

  fn max_batch(&self) -> usize {
    self.max_batch
  }

  fn embed(
    &self,
    texts: Vec<String>,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<Embeddings, ModelError>> {
    Box::pin(async move {
      if cancel.is_cancelled() {
        return Err(ModelError::Aborted);
      }
      let (texts, cancel) = (&texts, &cancel);
      embed_in_batches(
        &self.provider,
        texts.len(),
        self.max_batch,
        self.max_parallel,
        |range| async move {
          with_retries(&self.retry, cancel, || {
            self.embed_once(&texts[range.clone()])
          })
          .await
        },
      )
      .await
    })
  }
}

//! The `Embedder` trait: texts in, one vector per text out. Providers implement it natively
//! (OpenAI-compatible `/embeddings`); the binding bridges AI SDK embedding models.

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::model::ModelError;

/// Vectors for a batch of texts, in input order, plus the tokens the provider billed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embeddings {
  pub vectors: Vec<Vec<f32>>,
  pub tokens: u64,
}

pub trait Embedder: Send + Sync {
  fn provider(&self) -> &str;
  fn model_id(&self) -> &str;
  /// Largest number of texts one call may carry; callers split bigger batches.
  fn max_batch(&self) -> usize {
    2048
  }
  fn embed(
    &self,
    texts: Vec<String>,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<Embeddings, ModelError>>;
}

//! `BindingSemanticRecall`: one Memory's semantic recall (its vector index, its embedder with an
//! embedding cache, and Mastra's `semanticRecall` options), handed to runs with memory.

use std::sync::Arc;

use lumos_memory::recall::{
  CachedEmbedder, RecallOptions, RecallScope, RecallVectors, SemanticRecall,
};
use napi_derive::napi;

use crate::embedder::BindingEmbedder;
use crate::error::{coded, to_napi};
use crate::pgvector::BindingPgVector;
use crate::storage::BindingStorage;
use crate::vector::BindingVectorStore;

#[napi(object)]
pub struct BindingRecallOptions {
  pub top_k: u32,
  pub before: u32,
  pub after: u32,
  /// `'resource'` (Mastra's default) or `'thread'`.
  pub scope: String,
  pub index_prefix: Option<String>,
}

#[napi]
pub struct BindingSemanticRecall {
  pub(crate) inner: Arc<SemanticRecall>,
  storage: Arc<dyn lumos_store::Storage>,
}

#[napi]
impl BindingSemanticRecall {
  #[napi(constructor)]
  pub fn new(
    vectors: &BindingVectorStore,
    embedder: &BindingEmbedder,
    storage: &BindingStorage,
    options: BindingRecallOptions,
  ) -> napi::Result<Self> {
    Self::build(vectors.inner.clone().into(), embedder, storage, options)
  }

  /// Recall whose vectors live in PostgreSQL (`vector: new PgVector(...)`).
  #[napi(factory)]
  pub fn with_pg_vector(
    vectors: &BindingPgVector,
    embedder: &BindingEmbedder,
    storage: &BindingStorage,
    options: BindingRecallOptions,
  ) -> napi::Result<Self> {
    Self::build(
      RecallVectors::Postgres(vectors.inner.clone()),
      embedder,
      storage,
      options,
    )
  }

  fn build(
    vectors: RecallVectors,
    embedder: &BindingEmbedder,
    storage: &BindingStorage,
    options: BindingRecallOptions,
  ) -> napi::Result<Self> {
    let scope = match options.scope.as_str() {
      "resource" => RecallScope::Resource,
      "thread" => RecallScope::Thread,
      other => {
        return Err(coded(
          "INVALID_INPUT",
          format!("semanticRecall.scope '{other}' is not valid: use 'resource' or 'thread'"),
        ));
      }
    };
    let defaults = RecallOptions::default();
    let options = RecallOptions {
      top_k: options.top_k,
      before: options.before,
      after: options.after,
      scope,
      index_prefix: options.index_prefix.unwrap_or(defaults.index_prefix),
    };
    let inner = SemanticRecall {
      vectors,
      embedder: Arc::new(CachedEmbedder::new(embedder.inner.clone())),
      options,
    };
    Ok(BindingSemanticRecall {
      inner: Arc::new(inner),
      storage: storage.inner.clone(),
    })
  }

  /// Embeds and indexes saved messages (stored-message JSON): `Memory.saveMessages` with
  /// semantic recall on, as Mastra does. The texts go to the embedder in batched requests.
  #[napi]
  pub async fn index(&self, messages_json: String) -> napi::Result<()> {
    let messages: Vec<lumos_store::StoredMessage> = serde_json::from_str(&messages_json)
      .map_err(|e| coded("INVALID_INPUT", format!("invalid messages: {e}")))?;
    self.inner.index(&messages).await.map_err(to_napi)
  }

  /// Messages similar to `query` (with their neighbours), oldest first, as stored-message JSON:
  /// `Memory.recall({ vectorSearchString })`.
  #[napi]
  pub async fn search(
    &self,
    query: String,
    thread_id: String,
    resource_id: String,
  ) -> napi::Result<String> {
    let found = self
      .inner
      .recall(&*self.storage, &query, &thread_id, &resource_id)
      .await
      .map_err(to_napi)?;
    serde_json::to_string(&found).map_err(|e| coded("INTERNAL", e.to_string()))
  }
}

//! Semantic recall: messages are embedded as they are saved and indexed in the native vector
//! store; a run's new user message is embedded and the nearest earlier messages (plus their
//! neighbours, Mastra's `messageRange`) are brought back into the prompt.
//!
//! Embeddings are cached by text, so the same text is never sent to the provider twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use lumos_core::message::Message;
use lumos_core::{CancellationToken, Embedder, Embeddings, ErrorCode, LumosError};
use lumos_store::PgVectorStore;
use lumos_store::{IncludeMessage, ListMessagesQuery, Storage, StoredMessage};
use lumos_vector::{Metric, Quantization, QueryResult, VectorStore};
use serde_json::{Value, json};

/// Where recall searches: the current thread, or every thread of the resource (Mastra's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecallScope {
  Thread,
  Resource,
}

#[derive(Clone, Debug)]
pub struct RecallOptions {
  pub top_k: u32,
  /// Messages to bring back before and after each hit.
  pub before: u32,
  pub after: u32,
  pub scope: RecallScope,
  /// Index name prefix; the dimension is appended (`memory_messages_1536`).
  pub index_prefix: String,
}

impl Default for RecallOptions {
  /// Mastra's `semanticRecall: true`: topK 4, messageRange 1 each side, resource scope.
  fn default() -> Self {
    RecallOptions {
      top_k: 4,
      before: 1,
      after: 1,
      scope: RecallScope::Resource,
      index_prefix: "memory_messages".into(),
    }
  }
}

/// Bound on cached embeddings; past it the cache starts over (texts are cheap to re-embed once).
const CACHE_LIMIT: usize = 50_000;

/// An embedder that never embeds the same text twice.
pub struct CachedEmbedder {
  inner: Arc<dyn Embedder>,
  cache: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

impl CachedEmbedder {
  pub fn new(inner: Arc<dyn Embedder>) -> Self {
    CachedEmbedder {
      inner,
      cache: Mutex::new(HashMap::new()),
    }
  }

  fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<f32>>>> {
    self.cache.lock().unwrap_or_else(|e| e.into_inner())
  }

  /// One vector per text, in order; only texts not seen before reach the provider (once each).
  pub async fn embed(&self, texts: &[String]) -> Result<Vec<Arc<Vec<f32>>>, LumosError> {
    let missing: Vec<String> = {
      let cache = self.lock();
      let mut seen = HashSet::new();
      texts
        .iter()
        .filter(|t| !cache.contains_key(*t) && seen.insert((*t).clone()))
        .cloned()
        .collect()
    };
    if !missing.is_empty() {
      let Embeddings { vectors, .. } = self
        .inner
        .embed(missing.clone(), CancellationToken::new())
        .await
        .map_err(|e| e.into_lumos())?;
      if vectors.len() != missing.len() {
        return Err(LumosError::new(
          ErrorCode::Memory,
          "the embedder returned a different number of vectors than texts",
        ));
      }
      let mut cache = self.lock();
      if cache.len() + missing.len() > CACHE_LIMIT {
        cache.clear();
      }
      for (text, v) in missing.into_iter().zip(vectors) {
        cache.insert(text, Arc::new(v));
      }
    }
    let cache = self.lock();
    texts
      .iter()
      .map(|t| {
        cache
          .get(t)
          .cloned()
          .ok_or_else(|| LumosError::new(ErrorCode::Memory, "embedding cache lost a vector"))
      })
      .collect()
  }
}

/// Where recall keeps its vectors: the in-process store, or PgVector (shared through PostgreSQL).
#[derive(Clone)]
pub enum RecallVectors {
  Local(Arc<VectorStore>),
  Postgres(PgVectorStore),
}

impl From<Arc<VectorStore>> for RecallVectors {
  fn from(v: Arc<VectorStore>) -> Self {
    RecallVectors::Local(v)
  }
}

fn task_error(e: tokio::task::JoinError) -> LumosError {
  LumosError::new(ErrorCode::Memory, format!("memory vector task failed: {e}"))
}

fn pg_vector_error(e: lumos_store::PgVectorError) -> LumosError {
  LumosError::new(
    ErrorCode::Memory,
    format!("memory vector index: {e} ({})", e.code()),
  )
}

impl RecallVectors {
  /// Creates the index when missing, then upserts.
  async fn upsert(
    &self,
    name: String,
    dimension: usize,
    ids: Vec<String>,
    flat: Vec<f32>,
    metadata: Vec<Value>,
  ) -> Result<(), LumosError> {
    match self {
      RecallVectors::Local(store) => {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
          store.create_index(&name, dimension, Metric::Cosine, Quantization::F32)?;
          store.upsert(&name, Some(ids), &flat, metadata).map(|_| ())
        })
        .await
        .map_err(task_error)?
        .map_err(vector_error)
      }
      RecallVectors::Postgres(pg) => {
        // Created on first use only: createIndex is a database round trip.
        let first = pg
          .upsert(&name, Some(ids.clone()), &flat, metadata.clone())
          .await;
        match first {
          Err(lumos_store::PgVectorError::Vector(lumos_vector::VectorError::IndexNotFound(_))) => {
            pg.create_index(&name, dimension, Metric::Cosine)
              .await
              .map_err(pg_vector_error)?;
            pg.upsert(&name, Some(ids), &flat, metadata)
              .await
              .map(|_| ())
              .map_err(pg_vector_error)
          }
          other => other.map(|_| ()).map_err(pg_vector_error),
        }
      }
    }
  }

  /// Nearest neighbours; none when the index does not exist yet.
  async fn query(
    &self,
    name: String,
    q: Vec<f32>,
    top_k: usize,
    filter: Value,
  ) -> Result<Vec<QueryResult>, LumosError> {
    match self {
      RecallVectors::Local(store) => {
        let store = store.clone();
        tokio::task::spawn_blocking(move || {
          if !store.list_indexes().contains(&name) {
            return Ok(Vec::new());
          }
          store.query(&name, &q, top_k, Some(&filter), false)
        })
        .await
        .map_err(task_error)?
        .map_err(vector_error)
      }
      RecallVectors::Postgres(pg) => match pg.query(&name, q, top_k, Some(filter), false).await {
        Err(lumos_store::PgVectorError::Vector(lumos_vector::VectorError::IndexNotFound(_))) => {
          Ok(Vec::new())
        }
        other => other.map_err(pg_vector_error),
      },
    }
  }
}

pub struct SemanticRecall {
  pub vectors: RecallVectors,
  pub embedder: Arc<CachedEmbedder>,
  pub options: RecallOptions,
}

fn vector_error(e: lumos_vector::VectorError) -> LumosError {
  LumosError::new(
    ErrorCode::Memory,
    format!("memory vector index: {e} ({})", e.code()),
  )
}

fn store_error(e: lumos_store::StoreError) -> LumosError {
  LumosError::new(ErrorCode::Memory, format!("memory: {e} ({})", e.code()))
}

/// The text a message contributes to search (its text parts).
pub fn message_text(m: &StoredMessage) -> String {
  let parts = m.content.get("parts").and_then(Value::as_array);
  let from_parts: Vec<&str> = parts
    .map(|ps| {
      ps.iter()
        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
    })
    .unwrap_or_default();
  if from_parts.is_empty() {
    m.content
      .get("content")
      .and_then(Value::as_str)
      .or_else(|| m.content.as_str())
      .unwrap_or_default()
      .to_string()
  } else {
    from_parts.join(" ")
  }
}

impl SemanticRecall {
  fn index_name(&self, dimension: usize) -> String {
    format!("{}_{dimension}", self.options.index_prefix)
  }

  /// Embeds and indexes saved messages (those with text).
  pub async fn index(&self, messages: &[StoredMessage]) -> Result<(), LumosError> {
    let with_text: Vec<(&StoredMessage, String)> = messages
      .iter()
      .map(|m| (m, message_text(m)))
      .filter(|(_, t)| !t.trim().is_empty())
      .collect();
    if with_text.is_empty() {
      return Ok(());
    }
    let texts: Vec<String> = with_text.iter().map(|(_, t)| t.clone()).collect();
    let vectors = self.embedder.embed(&texts).await?;
    let dimension = vectors.first().map(|v| v.len()).unwrap_or(0);
    let ids: Vec<String> = with_text.iter().map(|(m, _)| m.id.clone()).collect();
    let metadata: Vec<Value> = with_text
      .iter()
      .map(|(m, _)| json!({ "message_id": m.id, "thread_id": m.thread_id, "resource_id": m.resource_id }))
      .collect();
    let flat: Vec<f32> = vectors.iter().flat_map(|v| v.iter().copied()).collect();
    let name = self.index_name(dimension);
    self
      .vectors
      .upsert(name, dimension, ids, flat, metadata)
      .await
  }

  /// Earlier messages similar to `query` (with their neighbours), oldest first.
  pub async fn recall(
    &self,
    storage: &dyn Storage,
    query: &str,
    thread_id: &str,
    resource_id: &str,
  ) -> Result<Vec<StoredMessage>, LumosError> {
    if query.trim().is_empty() || self.options.top_k == 0 {
      return Ok(Vec::new());
    }
    let vector = self.embedder.embed(&[query.to_string()]).await?;
    let Some(q) = vector.first().cloned() else {
      return Ok(Vec::new());
    };
    let name = self.index_name(q.len());
    let filter = match self.options.scope {
      RecallScope::Thread => json!({ "thread_id": thread_id }),
      RecallScope::Resource => json!({ "resource_id": resource_id }),
    };
    let hits = self
      .vectors
      .query(name, q.to_vec(), self.options.top_k as usize, filter)
      .await?;

    // Group hits by thread (in a fixed order): each thread's context windows come from one query.
    let mut by_thread: std::collections::BTreeMap<String, Vec<String>> =
      std::collections::BTreeMap::new();
    for h in &hits {
      let t = h
        .metadata
        .get("thread_id")
        .and_then(Value::as_str)
        .unwrap_or(thread_id)
        .to_string();
      by_thread.entry(t).or_default().push(h.id.clone());
    }
    // Keep the store's order (it breaks equal timestamps by insertion order); a stable sort by
    // time then only interleaves threads.
    let mut seen: HashSet<String> = HashSet::new();
    let mut out: Vec<StoredMessage> = Vec::new();
    for (thread, ids) in by_thread {
      let include = ids
        .into_iter()
        .map(|id| IncludeMessage {
          id,
          before: self.options.before,
          after: self.options.after,
        })
        .collect();
      let query = ListMessagesQuery {
        thread_id: thread,
        per_page: Some(0),
        include,
        ..ListMessagesQuery::default()
      };
      for m in storage
        .list_messages(query)
        .await
        .map_err(store_error)?
        .messages
      {
        if seen.insert(m.id.clone()) {
          out.push(m);
        }
      }
    }
    out.sort_by_key(|m| m.created_at);
    Ok(out)
  }
}

/// The text of the last user message of a run's new input (the recall query).
pub fn query_text(input: &[Message]) -> String {
  input
    .iter()
    .rev()
    .find(|m| matches!(m, Message::User { .. }))
    .map(Message::text)
    .unwrap_or_default()
}

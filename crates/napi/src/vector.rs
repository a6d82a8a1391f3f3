//! `BindingVectorStore`: the native vector index behind `LibSQLVector`. Vectors cross as one flat
//! `Float32Array`; metadata and results as JSON. Searches run on the blocking pool, never on the
//! JS thread or the async worker.

use std::path::PathBuf;
use std::sync::Arc;

use lumos_vector::{IndexStats, Metric, Quantization, QueryResult, VectorError, VectorStore};
use napi::bindgen_prelude::{AsyncTask, Float32Array};
use napi::{Env, Task};
use napi_derive::napi;
use serde_json::{Value, json};

use crate::error::{coded, internal};

pub(crate) fn vector_err(e: VectorError) -> napi::Error {
  coded(e.code(), e.to_string())
}

pub(crate) fn parse_json(text: Option<String>, what: &str) -> napi::Result<Option<Value>> {
  match text {
    None => Ok(None),
    Some(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
      coded(
        "VECTOR_INVALID_INPUT",
        format!("{what} is not valid JSON: {e}"),
      )
    }),
  }
}

/// `upsert`'s metadata: a JSON array (one object per vector), or none.
pub(crate) fn metadata_list(json: Option<String>) -> napi::Result<Vec<Value>> {
  match parse_json(json, "metadata")? {
    None => Ok(Vec::new()),
    Some(Value::Array(items)) => Ok(items),
    Some(_) => Err(coded(
      "VECTOR_INVALID_INPUT",
      "metadata must be an array (one object per vector)",
    )),
  }
}

/// `describeIndex`'s `{ dimension, count, metric }`, plus `pending`: vectors the background
/// builders have not linked into the HNSW graph yet (searched exactly meanwhile, so slower).
pub(crate) fn stats_json(s: &IndexStats) -> String {
  json!({ "dimension": s.dimension, "count": s.count, "metric": s.metric.as_str(), "pending": s.pending })
    .to_string()
}

/// Query hits as a JSON array of `{ id, score, metadata, vector? }`.
pub(crate) fn hits_json(hits: Vec<QueryResult>) -> String {
  let out: Vec<Value> = hits
    .into_iter()
    .map(|h| match h.vector {
      Some(v) => json!({ "id": h.id, "score": h.score, "metadata": h.metadata, "vector": v }),
      None => json!({ "id": h.id, "score": h.score, "metadata": h.metadata }),
    })
    .collect();
  Value::Array(out).to_string()
}

async fn blocking<T: Send + 'static>(
  f: impl FnOnce() -> napi::Result<T> + Send + 'static,
) -> napi::Result<T> {
  napi::bindgen_prelude::spawn_blocking(f)
    .await
    .map_err(|e| internal(format!("vector task failed: {e}")))?
}

pub struct QueryTask {
  store: Arc<VectorStore>,
  name: String,
  query: Vec<f32>,
  top_k: usize,
  filter: Option<Value>,
  include_vector: bool,
}

impl Task for QueryTask {
  type Output = String;
  type JsValue = String;

  fn compute(&mut self) -> napi::Result<String> {
    let hits = self
      .store
      .query(
        &self.name,
        &self.query,
        self.top_k,
        self.filter.as_ref(),
        self.include_vector,
      )
      .map_err(vector_err)?;
    Ok(hits_json(hits))
  }

  fn resolve(&mut self, _env: Env, output: String) -> napi::Result<String> {
    Ok(output)
  }
}

#[napi]
pub struct BindingVectorStore {
  pub(crate) inner: Arc<VectorStore>,
}

#[napi]
impl BindingVectorStore {
  /// Opens (or creates) a store in `dir`; no `dir` keeps everything in memory.
  #[napi(factory)]
  pub async fn open(dir: Option<String>) -> napi::Result<BindingVectorStore> {
    let inner = blocking(move || {
      VectorStore::open(dir.as_deref().map(PathBuf::from).as_deref()).map_err(vector_err)
    })
    .await?;
    Ok(BindingVectorStore {
      inner: Arc::new(inner),
    })
  }

  #[napi]
  pub async fn create_index(
    &self,
    name: String,
    dimension: u32,
    metric: String,
    quantization: Option<String>,
  ) -> napi::Result<()> {
    let store = self.inner.clone();
    blocking(move || {
      let metric = Metric::parse(&metric).map_err(vector_err)?;
      let quant = match quantization.as_deref() {
        None | Some("f32") => Quantization::F32,
        Some("int8") | Some("i8") => Quantization::I8,
        Some(other) => {
          return Err(coded(
            "VECTOR_INVALID_INPUT",
            format!("unknown quantization \"{other}\": use \"f32\" or \"int8\""),
          ));
        }
      };
      store
        .create_index(&name, dimension as usize, metric, quant)
        .map_err(vector_err)
    })
    .await
  }

  #[napi]
  pub fn list_indexes(&self) -> Vec<String> {
    self.inner.list_indexes()
  }

  /// `{ dimension, count, metric, pending }` as JSON.
  #[napi]
  pub fn describe_index(&self, name: String) -> napi::Result<String> {
    let s = self.inner.describe_index(&name).map_err(vector_err)?;
    Ok(stats_json(&s))
  }

  #[napi]
  pub async fn delete_index(&self, name: String) -> napi::Result<()> {
    let store = self.inner.clone();
    blocking(move || store.delete_index(&name).map_err(vector_err)).await
  }

  /// Upserts `vectors` (flat, the index's dimension each) with optional ids and metadata (a JSON
  /// array). Returns the ids. The batch is validated whole first: a bad batch writes nothing.
  #[napi]
  pub async fn upsert(
    &self,
    name: String,
    vectors: Float32Array,
    ids: Option<Vec<String>>,
    metadata_json: Option<String>,
  ) -> napi::Result<Vec<String>> {
    // Copy before leaving the JS thread: JS may reuse the buffer.
    let flat = vectors.to_vec();
    let metadata = metadata_list(metadata_json)?;
    let store = self.inner.clone();
    blocking(move || {
      store
        .upsert(&name, ids, &flat, metadata)
        .map_err(vector_err)
    })
    .await
  }

  /// Nearest neighbours as a JSON array of `{ id, score, metadata, vector? }`.
  /// Runs on libuv's thread pool as one napi async work item: a query is often tens of µs of
  /// search, and the extra thread hops of an async fn + blocking task cost more than that.
  #[napi(ts_return_type = "Promise<string>")]
  pub fn query(
    &self,
    name: String,
    query: Float32Array,
    top_k: u32,
    filter_json: Option<String>,
    include_vector: bool,
  ) -> napi::Result<AsyncTask<QueryTask>> {
    Ok(AsyncTask::new(QueryTask {
      store: self.inner.clone(),
      name,
      query: query.to_vec(),
      top_k: top_k as usize,
      filter: parse_json(filter_json, "filter")?,
      include_vector,
    }))
  }

  #[napi]
  pub async fn update_vector(
    &self,
    name: String,
    id: String,
    vector: Option<Float32Array>,
    metadata_json: Option<String>,
  ) -> napi::Result<bool> {
    let v = vector.map(|v| v.to_vec());
    let metadata = parse_json(metadata_json, "metadata")?;
    let store = self.inner.clone();
    blocking(move || {
      store
        .update_vector(&name, &id, v.as_deref(), metadata.as_ref())
        .map_err(vector_err)
    })
    .await
  }

  #[napi]
  pub async fn delete_vector(&self, name: String, id: String) -> napi::Result<bool> {
    let store = self.inner.clone();
    blocking(move || store.delete_vector(&name, &id).map_err(vector_err)).await
  }
}

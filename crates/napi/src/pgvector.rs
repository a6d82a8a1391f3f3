//! `BindingPgVector`: `PgVectorStore` (vectors in PostgreSQL, searched in process) behind
//! `PgVector`. Same conversions as `BindingVectorStore`: flat `Float32Array`s in, JSON out.

use std::time::Duration;

use lumos_store::{PgVectorError, PgVectorOptions, PgVectorStore};
use lumos_vector::Metric;
use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;

use crate::error::coded;
use crate::storage::{BindingTlsOptions, tls_options};
use crate::vector::{hits_json, metadata_list, parse_json, stats_json, vector_err};

fn pg_err(e: PgVectorError) -> napi::Error {
  coded(e.code(), e.to_string())
}

#[napi(object)]
pub struct BindingPgVectorOptions {
  /// Pool size (default 4; one more connection listens for changes).
  pub max_connections: Option<u32>,
  /// Fallback poll of other processes' writes, in ms (default 200; 0 turns syncing off).
  pub poll_interval_ms: Option<u32>,
  /// Wake on `NOTIFY` from other processes' writes (default true).
  pub listen: Option<bool>,
  pub tls: Option<BindingTlsOptions>,
}

#[napi]
pub struct BindingPgVector {
  pub(crate) inner: PgVectorStore,
}

#[napi]
impl BindingPgVector {
  /// Connects, creates the tables when missing, starts syncing.
  #[napi(factory)]
  pub async fn connect(
    url: String,
    options: Option<BindingPgVectorOptions>,
  ) -> napi::Result<BindingPgVector> {
    let mut o = PgVectorOptions::default();
    if let Some(b) = options {
      if let Some(n) = b.max_connections {
        o.postgres.max_connections = n as usize;
      }
      if let Some(ms) = b.poll_interval_ms {
        o.poll_interval = Duration::from_millis(ms.into());
      }
      if let Some(l) = b.listen {
        o.listen = l;
      }
      o.postgres.tls = tls_options(b.tls)?;
    }
    let inner = PgVectorStore::connect(&url, o).await.map_err(pg_err)?;
    Ok(BindingPgVector { inner })
  }

  #[napi]
  pub async fn create_index(
    &self,
    name: String,
    dimension: u32,
    metric: String,
  ) -> napi::Result<()> {
    let metric = Metric::parse(&metric).map_err(vector_err)?;
    self
      .inner
      .create_index(&name, dimension as usize, metric)
      .await
      .map_err(pg_err)
  }

  #[napi]
  pub async fn list_indexes(&self) -> napi::Result<Vec<String>> {
    self.inner.list_indexes().await.map_err(pg_err)
  }

  /// `{ dimension, count, metric }` as JSON.
  #[napi]
  pub async fn describe_index(&self, name: String) -> napi::Result<String> {
    let s = self.inner.describe_index(&name).await.map_err(pg_err)?;
    Ok(stats_json(&s))
  }

  #[napi]
  pub async fn delete_index(&self, name: String) -> napi::Result<()> {
    self.inner.delete_index(&name).await.map_err(pg_err)
  }

  /// Upserts `vectors` (flat) with optional ids and metadata (a JSON array); returns the ids.
  /// Validated whole first, committed in one transaction.
  #[napi]
  pub async fn upsert(
    &self,
    name: String,
    vectors: Float32Array,
    ids: Option<Vec<String>>,
    metadata_json: Option<String>,
  ) -> napi::Result<Vec<String>> {
    // Copy before the first await: JS may reuse the buffer.
    let flat = vectors.to_vec();
    let metadata = metadata_list(metadata_json)?;
    self
      .inner
      .upsert(&name, ids, &flat, metadata)
      .await
      .map_err(pg_err)
  }

  /// Nearest neighbours as a JSON array of `{ id, score, metadata, vector? }`.
  #[napi]
  pub async fn query(
    &self,
    name: String,
    query: Float32Array,
    top_k: u32,
    filter_json: Option<String>,
    include_vector: bool,
  ) -> napi::Result<String> {
    let q = query.to_vec();
    let filter = parse_json(filter_json, "filter")?;
    let hits = self
      .inner
      .query(&name, q, top_k as usize, filter, include_vector)
      .await
      .map_err(pg_err)?;
    Ok(hits_json(hits))
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
    self
      .inner
      .update_vector(&name, &id, v.as_deref(), metadata.as_ref())
      .await
      .map_err(pg_err)
  }

  #[napi]
  pub async fn delete_vector(&self, name: String, id: String) -> napi::Result<bool> {
    self.inner.delete_vector(&name, &id).await.map_err(pg_err)
  }

  /// Stops syncing and closes the connections; later calls fail with `STORE_IO`.
  #[napi]
  pub fn disconnect(&self) {
    self.inner.close();
  }
}

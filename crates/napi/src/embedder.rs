//! `BindingEmbedder`: a native embedding model (OpenAI-compatible `/embeddings`) or an AI SDK
//! embedding model bridged from JS, batched and retried in Rust. Vectors come back as one flat
//! `Float32Array` plus the dimension.

use std::sync::Arc;

use lumos_core::{CancellationToken, Embedder};
use lumos_providers::{EmbeddingOptions, ModelConfig, resolve_embedder_with};
use napi::bindgen_prelude::{Float32Array, Function, Promise};
use napi_derive::napi;

use crate::error::to_napi;
use crate::js_embedder::{EmbedBridgeFn, JsEmbedder};
use crate::model::BindingModelConfig;

#[napi(object)]
pub struct BindingEmbeddings {
  /// All vectors, one after another (`count × dimension` values).
  pub vectors: Float32Array,
  pub dimension: u32,
  pub count: u32,
  pub tokens: i64,
}

#[napi]
pub struct BindingEmbedder {
  pub(crate) inner: Arc<dyn Embedder>,
}

#[napi]
impl BindingEmbedder {
  #[napi(factory)]
  pub fn from_config(
    config: BindingModelConfig,
    dimensions: Option<u32>,
  ) -> napi::Result<BindingEmbedder> {
    let cfg = ModelConfig::from(config);
    let options = EmbeddingOptions {
      dimensions,
      ..EmbeddingOptions::default()
    };
    let inner = resolve_embedder_with(&cfg, &|name| std::env::var(name).ok(), &options)
      .map_err(|e| to_napi(e.into_lumos()))?;
    Ok(BindingEmbedder { inner })
  }

  /// Bridges an AI SDK embedding model: `bridge(opJson)` runs one `doEmbed` per batch
  /// (`{ op: 'embed', id, values }`) or aborts one (`{ op: 'cancel', id }`), answering JSON.
  /// Held weakly, so a registered embedder never keeps the process alive.
  #[napi(factory)]
  pub fn bridge(
    provider: String,
    model_id: String,
    max_batch: u32,
    max_parallel: u32,
    max_retries: u32,
    #[napi(ts_arg_type = "(op: string) => Promise<string>")] bridge: Function<
      String,
      Promise<String>,
    >,
  ) -> napi::Result<BindingEmbedder> {
    let tsfn: EmbedBridgeFn = bridge
      .build_threadsafe_function()
      .weak::<true>()
      .callee_handled::<false>()
      .build()?;
    let inner = JsEmbedder::new(
      provider,
      model_id,
      max_batch as usize,
      max_parallel as usize,
      max_retries,
      tsfn,
    );
    Ok(BindingEmbedder {
      inner: Arc::new(inner),
    })
  }

  #[napi(getter)]
  pub fn provider(&self) -> String {
    self.inner.provider().to_string()
  }

  #[napi(getter)]
  pub fn model_id(&self) -> String {
    self.inner.model_id().to_string()
  }

  #[napi(getter)]
  pub fn max_batch(&self) -> u32 {
    u32::try_from(self.inner.max_batch()).unwrap_or(u32::MAX)
  }

  /// Embeds `texts` (split into batches and sent in parallel natively), in input order.
  #[napi]
  pub async fn embed(&self, texts: Vec<String>) -> napi::Result<BindingEmbeddings> {
    let count = texts.len();
    let out = self
      .inner
      .embed(texts, CancellationToken::new())
      .await
      .map_err(|e| to_napi(e.into_lumos()))?;
    let dimension = out.vectors.first().map(Vec::len).unwrap_or(0);
    let flat: Vec<f32> = out.vectors.into_iter().flatten().collect();
    Ok(BindingEmbeddings {
      vectors: Float32Array::new(flat),
      dimension: u32::try_from(dimension).unwrap_or(u32::MAX),
      count: u32::try_from(count).unwrap_or(u32::MAX),
      tokens: i64::try_from(out.tokens).unwrap_or(i64::MAX),
    })
  }
}

//! `BindingModel`: a resolved model, native (router string / config object) or bridged to an
//! AI SDK `LanguageModel` living in JS.

use std::sync::Arc;

use lumos_core::Model;
use lumos_providers::{ModelConfig, resolve_model};
use napi::bindgen_prelude::{Function, Promise};
use napi_derive::napi;

use crate::error::to_napi;
use crate::js_model::{JsModel, ModelBridgeFn};

#[napi(object)]
pub struct BindingModelConfig {
  /// `provider/model`, e.g. `openai/gpt-4o-mini`.
  pub id: String,
  pub url: Option<String>,
  pub api_key: Option<String>,
  pub headers: Option<std::collections::HashMap<String, String>>,
  pub connect_timeout_ms: Option<u32>,
  pub read_timeout_ms: Option<u32>,
}

impl From<BindingModelConfig> for ModelConfig {
  fn from(config: BindingModelConfig) -> Self {
    ModelConfig {
      id: config.id,
      url: config.url,
      api_key: config.api_key,
      headers: config
        .headers
        .map(|h| h.into_iter().collect())
        .unwrap_or_default(),
      connect_timeout_ms: config.connect_timeout_ms.map(u64::from),
      read_timeout_ms: config.read_timeout_ms.map(u64::from),
    }
  }
}

#[napi]
pub struct BindingModel {
  pub(crate) inner: Arc<dyn Model>,
}

#[napi]
impl BindingModel {
  /// Resolves a native provider model. Missing API keys and malformed ids throw here.
  #[napi(factory)]
  pub fn from_config(config: BindingModelConfig) -> napi::Result<BindingModel> {
    let cfg = ModelConfig::from(config);
    let inner =
      resolve_model(&cfg, &|name| std::env::var(name).ok()).map_err(|e| to_napi(e.into_lumos()))?;
    Ok(BindingModel { inner })
  }

  /// Bridges a JS model: `bridge(opJson)` answers each operation (start / next / cancel) with
  /// a JSON string. Held weakly, so a registered model never keeps the process alive.
  #[napi(factory)]
  pub fn bridge(
    provider: String,
    model_id: String,
    #[napi(ts_arg_type = "(op: string) => Promise<string>")] bridge: Function<
      String,
      Promise<String>,
    >,
  ) -> napi::Result<BindingModel> {
    let tsfn: ModelBridgeFn = bridge
      .build_threadsafe_function()
      .weak::<true>()
      .callee_handled::<false>()
      .build()?;
    Ok(BindingModel {
      inner: Arc::new(JsModel::new(provider, model_id, tsfn)),
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
}

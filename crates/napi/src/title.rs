//! `generateThreadTitle`: Mastra's `generateTitle` for one thread (logic in `lumos_memory::title`).

use lumos_core::CancellationToken;
use lumos_memory::title::{TitleRequest, generate_title};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::error::to_napi;
use crate::model::BindingModel;
use crate::storage::BindingStorage;

#[napi(object)]
pub struct BindingTitleOptions {
  /// Empty or absent: Mastra's default title instructions.
  pub instructions: Option<String>,
  pub min_messages: Option<u32>,
  pub last_messages: Option<u32>,
}

/// Titles `threadId` with `model` when it has no title yet; resolves to the new title or null.
#[napi(ts_return_type = "Promise<string | null>")]
pub fn generate_thread_title<'env>(
  env: &'env Env,
  model: &BindingModel,
  storage: &BindingStorage,
  thread_id: String,
  options: BindingTitleOptions,
) -> napi::Result<PromiseRaw<'env, Option<String>>> {
  let (model, storage) = (model.inner.clone(), storage.inner.clone());
  env.spawn_future(async move {
    let instructions = options.instructions.unwrap_or_default();
    let request = TitleRequest {
      thread_id: &thread_id,
      instructions: &instructions,
      min_messages: options.min_messages.unwrap_or(1),
      last_messages: options.last_messages.unwrap_or(10),
    };
    generate_title(&*storage, model, request, CancellationToken::new())
      .await
      .map_err(to_napi)
  })
}

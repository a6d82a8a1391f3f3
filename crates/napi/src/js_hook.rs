//! `stopWhen` functions: called after each step with the steps so far; answer `"true"`/`"false"`.

use std::sync::Arc;

use futures::future::BoxFuture;
use lumos_core::{ErrorCode, LumosError, StopHook};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use serde_json::Value;

pub type StopHookFn = ThreadsafeFunction<String, Promise<bool>, String, napi::Status, false, true>;

pub struct JsStopHook(pub Arc<StopHookFn>);

impl StopHook for JsStopHook {
  fn should_stop(&self, steps: Value) -> BoxFuture<'static, Result<bool, LumosError>> {
    let f = self.0.clone();
    Box::pin(async move {
      let run = async { f.call_async_catch(steps.to_string()).await?.await };
      run.await.map_err(|e| {
        LumosError::new(
          ErrorCode::HookFailed,
          format!("stopWhen threw: {}", e.reason),
        )
      })
    })
  }
}

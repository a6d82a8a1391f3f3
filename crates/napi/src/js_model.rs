//! An AI SDK `LanguageModel` (v2/v3 spec) bridged through JS. The facade maps AI SDK stream parts
//! to the small event vocabulary parsed here; Rust pulls batches with `next` until `done`.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use lumos_core::{FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelStream, Usage};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub type ModelBridgeFn =
  ThreadsafeFunction<String, Promise<String>, String, napi::Status, false, true>;

pub struct JsModel {
  provider: String,
  model_id: String,
  bridge: Arc<ModelBridgeFn>,
}

impl JsModel {
  pub fn new(provider: String, model_id: String, bridge: ModelBridgeFn) -> Self {
    JsModel {
      provider,
      model_id,
      bridge: Arc::new(bridge),
    }
  }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BridgeError {
  message: String,
  status: Option<u16>,
  body: Option<String>,
  retry_after_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BridgeAnswer {
  id: Option<u64>,
  #[serde(default)]
  events: Vec<BridgeEvent>,
  #[serde(default)]
  done: bool,
  error: Option<BridgeError>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum BridgeEvent {
  #[serde(rename_all = "camelCase")]
  Metadata {
    id: Option<String>,
    model_id: Option<String>,
  },
  Text {
    delta: String,
  },
  Reasoning {
    delta: String,
  },
  ToolInputStart {
    id: String,
    name: String,
  },
  ToolInputDelta {
    id: String,
    delta: String,
  },
  ToolCall {
    id: String,
    name: String,
    input: String,
  },
  Finish {
    reason: String,
    usage: Usage,
  },
}

impl From<BridgeEvent> for ModelEvent {
  fn from(e: BridgeEvent) -> Self {
    match e {
      BridgeEvent::Metadata { id, model_id } => ModelEvent::Metadata { id, model_id },
      BridgeEvent::Text { delta } => ModelEvent::TextDelta(delta),
      BridgeEvent::Reasoning { delta } => ModelEvent::ReasoningDelta(delta),
      BridgeEvent::ToolInputStart { id, name } => ModelEvent::ToolInputStart { id, name },
      BridgeEvent::ToolInputDelta { id, delta } => ModelEvent::ToolInputDelta { id, delta },
      BridgeEvent::ToolCall { id, name, input } => ModelEvent::ToolCall {
        id,
        name,
        arguments: input,
      },
      BridgeEvent::Finish { reason, usage } => ModelEvent::Finish {
        reason: FinishReason::from_provider(&reason),
        usage,
      },
    }
  }
}

fn to_model_error(provider: &str, e: BridgeError) -> ModelError {
  match e.status {
    Some(status) => ModelError::Http {
      provider: provider.to_string(),
      status,
      body: e.body.unwrap_or(e.message),
      retry_after: e.retry_after_ms.map(Duration::from_millis),
    },
    None => ModelError::Bridge(e.message),
  }
}

async fn ask(bridge: &ModelBridgeFn, op: String) -> Result<BridgeAnswer, ModelError> {
  let text = async { bridge.call_async_catch(op).await?.await }
    .await
    .map_err(|e| ModelError::Bridge(format!("the JS model bridge failed: {}", e.reason)))?;
  serde_json::from_str(&text)
    .map_err(|e| ModelError::Bridge(format!("the JS model bridge answered malformed JSON: {e}")))
}

struct PullState {
  bridge: Arc<ModelBridgeFn>,
  provider: String,
  id: u64,
  buffered: std::collections::VecDeque<ModelEvent>,
  done: bool,
  cancel: CancellationToken,
}

impl Model for JsModel {
  fn provider(&self) -> &str {
    &self.provider
  }

  fn model_id(&self) -> &str {
    &self.model_id
  }

  fn call(
    &self,
    request: ModelRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<ModelStream, ModelError>> {
    Box::pin(async move {
      let op = json!({ "op": "start", "request": request }).to_string();
      let first = ask(&self.bridge, op).await?;
      if let Some(e) = first.error {
        return Err(to_model_error(&self.provider, e));
      }
      let id = first.id.ok_or_else(|| {
        ModelError::Bridge("the JS model bridge did not return a stream id".into())
      })?;
      let state = PullState {
        bridge: self.bridge.clone(),
        provider: self.provider.clone(),
        id,
        buffered: first.events.into_iter().map(ModelEvent::from).collect(),
        done: first.done,
        cancel,
      };
      let stream = futures::stream::unfold(state, |mut s| async move {
        loop {
          if let Some(e) = s.buffered.pop_front() {
            return Some((Ok(e), s));
          }
          if s.done {
            return None;
          }
          let op = json!({ "op": "next", "id": s.id }).to_string();
          let answer = tokio::select! {
            biased;
            _ = s.cancel.cancelled() => {
              let cancel_op = json!({ "op": "cancel", "id": s.id }).to_string();
              let _ = s.bridge.call(cancel_op, napi::threadsafe_function::ThreadsafeFunctionCallMode::NonBlocking);
              s.done = true;
              return Some((Err(ModelError::Aborted), s));
            }
            a = ask(&s.bridge, op) => a,
          };
          match answer {
            Ok(a) => {
              if let Some(e) = a.error {
                s.done = true;
                return Some((Err(to_model_error(&s.provider, e)), s));
              }
              s.done = a.done;
              s.buffered
                .extend(a.events.into_iter().map(ModelEvent::from));
            }
            Err(e) => {
              s.done = true;
              return Some((Err(e), s));
            }
          }
        }
      });
      Ok(Box::pin(stream) as ModelStream)
    })
  }
}

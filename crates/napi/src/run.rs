//! `startRun` and the `BindingRun` handle: the agent loop runs on tokio; JS pulls chunk batches
//! with `next()` and the final output with `result()`, both as JSON strings (one boundary
//! crossing per batch, parsed once in JS).

use std::sync::Arc;

use lumos_core::{Emitter, LumosError, RunRequest, Tool, run_agent};
use napi::bindgen_prelude::{Function, Promise};
use napi_derive::napi;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::batch::{next_batch, wait_result};
use crate::js_hook::{JsStopHook, StopHookFn};
use crate::js_tool::{JsTool, ToolDispatchFn};
use crate::model::BindingModel;
use crate::recall::BindingSemanticRecall;
use crate::storage::BindingStorage;

/// The JS side of an agent's tools: `dispatch(callJson)` runs one call and answers JSON.
#[napi]
pub struct BindingToolHost {
  dispatch: Arc<ToolDispatchFn>,
}

#[napi]
impl BindingToolHost {
  #[napi(constructor)]
  pub fn new(
    #[napi(ts_arg_type = "(call: string) => Promise<string>")] dispatch: Function<
      String,
      Promise<String>,
    >,
  ) -> napi::Result<Self> {
    let tsfn: ToolDispatchFn = dispatch
      .build_threadsafe_function()
      .weak::<true>()
      .callee_handled::<false>()
      .build()?;
    Ok(BindingToolHost {
      dispatch: Arc::new(tsfn),
    })
  }
}

#[napi]
pub struct BindingRun {
  cancel: CancellationToken,
  chunks: Option<Arc<Mutex<mpsc::UnboundedReceiver<String>>>>,
  result: watch::Receiver<Option<Arc<String>>>,
}

/// Starts one agent run. Invalid options do not throw: the run ends at once with the error in
/// its result, so `generate` and `stream` report it the same way.
#[napi]
pub fn start_run(
  model: &BindingModel,
  tools: Option<&BindingToolHost>,
  storage: Option<&BindingStorage>,
  recall: Option<&BindingSemanticRecall>,
  request_json: String,
  #[napi(ts_arg_type = "((steps: string) => Promise<boolean>) | undefined | null")]
  stop_hook: Option<Function<String, Promise<bool>>>,
) -> napi::Result<BindingRun> {
  let hook: Option<Arc<dyn lumos_core::StopHook>> = match stop_hook {
    Some(f) => {
      let tsfn: StopHookFn = f
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
      Some(Arc::new(JsStopHook(Arc::new(tsfn))))
    }
    None => None,
  };
  let dispatch = tools.map(|t| t.dispatch.clone());
  let cancel = CancellationToken::new();
  let (result_tx, result_rx) = watch::channel(None);

  let dispatch = dispatch.clone();
  let make_tool = move |decl: &lumos_core::ToolDecl| -> Arc<dyn Tool> {
    match &dispatch {
      Some(d) => Arc::new(JsTool {
        spec: decl.spec(),
        validate: decl.validate,
        dispatch: d.clone(),
      }),
      None => Arc::new(MissingTool(decl.spec())),
    }
  };
  let storage = storage.map(|s| s.inner.clone());
  let recall = recall.map(|r| r.inner.clone());
  let prepared = RunRequest::parse(&request_json).and_then(|req| {
    let run_id = req.run_id.clone();
    let emit = req.emit_chunks;
    let memory = req.memory.clone();
    if memory.is_some() && storage.is_none() {
      return Err(LumosError::invalid_input(
        "memory was requested but no storage was given",
      ));
    }
    req
      .into_config(make_tool, hook)
      .map(|c| (run_id, emit, c, memory))
  });
  let emit = prepared.as_ref().map(|p| p.1).unwrap_or(false);
  let (chunk_tx, chunk_rx) = if emit {
    let (tx, rx) = mpsc::unbounded_channel();
    (Some(tx), Some(Arc::new(Mutex::new(rx))))
  } else {
    (None, None)
  };

  let model = model.inner.clone();
  let run_cancel = cancel.clone();
  napi::bindgen_prelude::spawn(async move {
    let text = match prepared {
      Ok((run_id, _, mut config, memory)) => {
        let emitter = Emitter::new(run_id, chunk_tx);
        // Loading memory may embed the query (a JS embedding model too): abort ends it.
        if let (Some(decl), Some(storage)) = (memory, storage)
          && let Err(e) = tokio::select! {
            biased;
            _ = run_cancel.cancelled() => Err(LumosError::aborted()),
            r = attach_memory(&mut config, &decl, storage, recall) => r,
          }
        {
          let _ = result_tx.send(Some(Arc::new(error_output(&e))));
          return;
        }
        let output = run_agent(config, model, emitter, run_cancel).await;
        serde_json::to_string(&output).unwrap_or_else(|e| {
          error_output(&LumosError::new(
            lumos_core::ErrorCode::Internal,
            e.to_string(),
          ))
        })
      }
      Err(e) => error_output(&e),
    };
    let _ = result_tx.send(Some(Arc::new(text)));
  });
  Ok(BindingRun {
    cancel,
    chunks: chunk_rx,
    result: result_rx,
  })
}

/// Loads the thread's history into the run and records the run into the thread as it goes.
async fn attach_memory(
  config: &mut lumos_core::RunConfig,
  decl: &lumos_core::MemoryDecl,
  storage: Arc<dyn lumos_store::Storage>,
  recall: Option<Arc<lumos_memory::recall::SemanticRecall>>,
) -> Result<(), LumosError> {
  let system_len = config
    .messages
    .iter()
    .take_while(|m| matches!(m, lumos_core::Message::System { .. }))
    .count();
  let input = config
    .messages
    .get(system_len..)
    .unwrap_or_default()
    .to_vec();
  // Creating a missing thread and reading its context do not depend on each other.
  let ((), history) = tokio::try_join!(
    lumos_memory::ensure_thread(&*storage, &decl.thread_id, &decl.resource_id),
    lumos_memory::load_context(
      &*storage,
      recall.as_deref(),
      &decl.thread_id,
      &decl.resource_id,
      decl.last_messages,
      &input,
    )
  )?;
  config.history = history;
  if !decl.read_only {
    config.recorder = Some(Arc::new(lumos_memory::ThreadRecorder {
      storage,
      thread_id: decl.thread_id.clone(),
      resource_id: decl.resource_id.clone(),
      recall,
    }));
  }
  Ok(())
}

fn error_output(e: &LumosError) -> String {
  serde_json::json!({ "error": e }).to_string()
}

/// Stands in for tools declared without a host (cannot happen through the facade).
struct MissingTool(lumos_core::ToolSpec);

impl Tool for MissingTool {
  fn spec(&self) -> &lumos_core::ToolSpec {
    &self.0
  }
  fn call(
    &self,
    _request: lumos_core::ToolCallRequest,
    _cancel: CancellationToken,
  ) -> futures::future::BoxFuture<'static, lumos_core::ToolOutcome> {
    let message = format!("tool '{}' has no executor", self.0.name);
    Box::pin(async move {
      lumos_core::ToolOutcome::Failed {
        error: serde_json::json!({ "message": message }),
        message,
      }
    })
  }
}

#[napi]
impl BindingRun {
  /// The next batch of chunks as a JSON array, or `null` when the run has ended.
  #[napi]
  pub async fn next(&self) -> napi::Result<Option<String>> {
    let Some(rx) = &self.chunks else {
      return Ok(None);
    };
    Ok(next_batch(rx, |batch, chunk| batch.push_str(&chunk)).await)
  }

  /// The run's output as JSON (`RunOutput`), once it has finished.
  #[napi]
  pub async fn result(&self) -> napi::Result<String> {
    wait_result(&self.result, "run").await
  }

  /// Cancels the run: in-flight HTTP is dropped and tool calls are abandoned.
  #[napi]
  pub fn abort(&self) {
    self.cancel.cancel();
  }
}

//! Workflows: `BindingWorkflow` (a committed graph), `BindingWorkflowHost` (the facade's
//! dispatcher that runs step bodies), `executeWorkflow` (one start/resume/restart, polled on
//! the JS thread while JS answers its steps and on tokio otherwise — see `js_driven` — with a
//! `BindingWorkflowRun` handle for its events and result) and the stored-run queries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use futures::future::BoxFuture;
use lumos_store::{ListWorkflowRunsQuery, StoreError};
use lumos_workflow::{Engine, Execution, Host, LiveRun, Mode, WorkflowDef, WorkflowError, view};
use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::batch::next_batch;
use crate::error::coded;
use crate::js_driven::{self, JsDriven};
use crate::storage::BindingStorage;

fn wf_err(e: WorkflowError) -> napi::Error {
  coded(e.code, e.message)
}

fn store_err(e: StoreError) -> napi::Error {
  coded(e.code(), e.to_string())
}

/// The facade's JSON arguments of `what`.
fn parse_args<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> napi::Result<T> {
  serde_json::from_str(json).map_err(|e| {
    coded(
      "WORKFLOW_INVALID_INPUT",
      format!("invalid {what} arguments: {e}"),
    )
  })
}

type WorkflowDispatchFn = ThreadsafeFunction<String, (), String, napi::Status, false, true>;

/// Calls the facade's dispatcher with `{ callId, call }`; the facade answers through
/// `BindingWorkflowHost.answer(callId, json)`, which polls the run on the JS thread (see
/// `js_driven`) and returns the calls that made, so a step costs no thread hop. Calls made on
/// tokio go through the threadsafe function.
struct JsWorkflowHost {
  dispatch: WorkflowDispatchFn,
  pending: StdMutex<HashMap<i64, oneshot::Sender<String>>>,
  next_id: AtomicI64,
}

impl JsWorkflowHost {
  /// Through the threadsafe function (from tokio, or outside a drive scope).
  fn send(&self, call: String) -> napi::Status {
    self
      .dispatch
      .call(call, ThreadsafeFunctionCallMode::NonBlocking)
  }

  fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<i64, oneshot::Sender<String>>> {
    self.pending.lock().unwrap_or_else(PoisonError::into_inner)
  }
}

impl Host for JsWorkflowHost {
  fn call(&self, payload: String) -> BoxFuture<'static, Result<String, String>> {
    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    self.pending().insert(id, tx);
    let status = match js_driven::post(format!("{{\"callId\":{id},\"call\":{payload}}}")) {
      Ok(()) => napi::Status::Ok,
      Err(call) => self.send(call),
    };
    if status != napi::Status::Ok {
      self.pending().remove(&id);
      return Box::pin(
        async move { Err(format!("the JS dispatcher could not be called ({status})")) },
      );
    }
    Box::pin(async move {
      rx.await
        .map_err(|_| "the JS dispatcher dropped the call".to_string())
    })
  }
}

/// The JS side of every workflow's functions: `dispatch('{ callId, call }')` runs the function
/// and answers with `answer(callId, json)`.
#[napi]
pub struct BindingWorkflowHost {
  host: Arc<JsWorkflowHost>,
}

#[napi]
impl BindingWorkflowHost {
  #[napi(constructor)]
  pub fn new(
    #[napi(ts_arg_type = "(call: string) => void")] dispatch: Function<String, ()>,
  ) -> napi::Result<Self> {
    let dispatch: WorkflowDispatchFn = dispatch
      .build_threadsafe_function()
      .weak::<true>()
      .callee_handled::<false>()
      .build()?;
    Ok(BindingWorkflowHost {
      host: Arc::new(JsWorkflowHost {
        dispatch,
        pending: StdMutex::new(HashMap::new()),
        next_id: AtomicI64::new(1),
      }),
    })
  }

  /// The answers (JSON) to calls `call_ids` (in the same order); unknown ids (the run was
  /// canceled) are ignored. Returns what the answered runs did next — a JSON array of step calls
  /// `{ callId, call }` and ends `{ done }` — which the facade takes as if dispatched, or `null`.
  /// Answers that arrive together are given together, so runs they wake are polled once.
  #[napi]
  pub fn answer(&self, call_ids: Vec<i64>, answers: Vec<String>) -> Option<String> {
    let ((), calls) = js_driven::drive(|| {
      let mut pending = self.host.pending();
      let senders: Vec<_> = call_ids.iter().map(|id| pending.remove(id)).collect();
      drop(pending);
      for (tx, answer) in senders.into_iter().zip(answers) {
        if let Some(tx) = tx {
          let _ = tx.send(answer);
        }
      }
    });
    js_driven::call_batch(calls)
  }
}

/// A committed workflow graph (checked when built: ids, functions, schemas).
#[napi]
pub struct BindingWorkflow {
  def: Arc<WorkflowDef>,
}

#[napi]
impl BindingWorkflow {
  #[napi(constructor)]
  pub fn new(definition_json: String) -> napi::Result<Self> {
    Ok(BindingWorkflow {
      def: WorkflowDef::parse(&definition_json).map_err(wf_err)?,
    })
  }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecuteArgs {
  run_id: String,
  #[serde(default)]
  resource_id: Option<String>,
  mode: String,
  #[serde(default)]
  input_data: Value,
  #[serde(default)]
  initial_state: Option<Value>,
  #[serde(default)]
  request_context: Option<Value>,
  #[serde(default)]
  steps: Vec<String>,
  #[serde(default)]
  resume_data: Value,
  #[serde(default)]
  for_each_index: Option<u64>,
  #[serde(default)]
  stream: bool,
  /// The facade generated `run_id` for this start.
  #[serde(default)]
  new_run_id: bool,
}

/// One execution in progress.
#[napi]
pub struct BindingWorkflowRun {
  id: u32,
  cancel: CancellationToken,
  events: Option<Arc<Mutex<mpsc::UnboundedReceiver<Value>>>>,
  result: Arc<StdMutex<Option<String>>>,
  live: Arc<LiveRun>,
  first_calls: StdMutex<Option<String>>,
}

static NEXT_RUN_ID: AtomicU32 = AtomicU32::new(1);

/// What a run handed over for JS to take, taken once.
fn take_once(slot: &StdMutex<Option<String>>) -> Option<String> {
  slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Tells the facade that run `id` has ended (its result is ready for `takeResult()`), as
/// `{ "done": id }` among the calls: from the drive scope it ended in, else through the
/// threadsafe function. Sent when the run's future is dropped, so also when it panicked.
struct DoneNotice {
  id: u32,
  host: Arc<JsWorkflowHost>,
}

impl Drop for DoneNotice {
  fn drop(&mut self) {
    if let Err(notice) = js_driven::post(format!("{{\"done\":{}}}", self.id)) {
      let _ = self.host.send(notice);
    }
  }
}

/// Starts, resumes or restarts a run. When it ends, the host's dispatcher gets `{ done: id }`
/// and the handle's `takeResult()` gives `{ ok: WorkflowResult }` or `{ error: { code, message } }`.
#[napi]
pub fn execute_workflow(
  workflow: &BindingWorkflow,
  host: &BindingWorkflowHost,
  storage: &BindingStorage,
  args_json: String,
) -> napi::Result<BindingWorkflowRun> {
  let args: ExecuteArgs = parse_args(&args_json, "run")?;
  let mode = match args.mode.as_str() {
    "start" => Mode::Start {
      input: args.input_data,
      initial_state: args.initial_state.unwrap_or_else(|| json!({})),
      request_context: args.request_context,
      id_is_new: args.new_run_id,
    },
    "resume" => Mode::Resume {
      steps: args.steps,
      resume_data: args.resume_data,
      for_each_index: args.for_each_index,
    },
    "restart" => Mode::Restart,
    other => {
      return Err(coded(
        "WORKFLOW_INVALID_INPUT",
        format!("unknown run mode '{other}'"),
      ));
    }
  };
  let (events_tx, events_rx) = if args.stream {
    let (tx, rx) = mpsc::unbounded_channel();
    (Some(tx), Some(Arc::new(Mutex::new(rx))))
  } else {
    (None, None)
  };
  let cancel = CancellationToken::new();
  let live = Arc::new(LiveRun::default());
  let id = NEXT_RUN_ID.fetch_add(1, Ordering::Relaxed);
  let result = Arc::new(StdMutex::new(None));
  let done = DoneNotice {
    id,
    host: host.host.clone(),
  };
  let result_slot = result.clone();
  let engine = Engine {
    store: storage.inner.clone(),
    host: host.host.clone(),
  };
  let execution = Execution {
    workflow: workflow.def.clone(),
    run_id: args.run_id,
    resource_id: args.resource_id,
    mode,
    events: events_tx,
    cancel: cancel.clone(),
    live: live.clone(),
  };
  let run = async move {
    let _done = done;
    let text = match engine.execute(execution).await {
      // Formatted, not `json!`: that would copy the whole result once more.
      Ok(result) => format!("{{\"ok\":{result}}}"),
      Err(e) => json!({ "error": { "code": e.code, "message": e.message } }).to_string(),
    };
    *result_slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(text);
  };
  // The run's first stretch (its start, its first step calls) happens here, on the JS thread;
  // the facade takes the calls with `takeCalls()`.
  let ((), calls) = js_driven::drive(|| JsDriven::spawn(tokio::runtime::Handle::current(), run));
  Ok(BindingWorkflowRun {
    id,
    cancel,
    events: events_rx,
    result,
    live,
    first_calls: StdMutex::new(js_driven::call_batch(calls)),
  })
}

#[napi]
impl BindingWorkflowRun {
  /// The step calls the run made while it was started (a JSON array of `{ callId, call }`, as
  /// `BindingWorkflowHost.answer` returns them), once; then `null`.
  #[napi]
  pub fn take_calls(&self) -> Option<String> {
    take_once(&self.first_calls)
  }

  /// The next batch of events as a JSON array, or `null` when the run has ended.
  #[napi]
  pub async fn next(&self) -> napi::Result<Option<String>> {
    let Some(rx) = &self.events else {
      return Ok(None);
    };
    Ok(next_batch(rx, |batch, event: Value| batch.push_str(&event.to_string())).await)
  }

  /// The number `{ done: id }` names this run by.
  #[napi(getter)]
  pub fn id(&self) -> u32 {
    self.id
  }

  /// The run's result once it has ended (see `execute_workflow`), once; else `null`.
  #[napi]
  pub fn take_result(&self) -> Option<String> {
    take_once(&self.result)
  }

  /// Stops waiting on in-flight steps (their abort signals fire in JS) and ends the run.
  #[napi]
  pub fn abort(&self) {
    self.cancel.cancel();
  }

  /// `getStepResult(stepId)`: the output of a completed step as JSON, or `null`.
  #[napi]
  pub fn step_result(&self, step_id: String) -> Option<String> {
    self.live.step_output(&step_id).map(|v| v.to_string())
  }

  /// The request context stored when the run started, as JSON (`null`: none was given).
  #[napi]
  pub fn request_context(&self) -> Option<String> {
    self.live.request_context().map(|v| v.to_string())
  }

  /// `getInitData()`: the run's input as JSON.
  #[napi]
  pub fn init_data(&self) -> String {
    self.live.input().to_string()
  }
}

/// Marks a running or suspended run canceled (false: it had already ended).
#[napi]
pub async fn cancel_workflow_run(
  storage: &BindingStorage,
  workflow_name: String,
  run_id: String,
) -> napi::Result<bool> {
  lumos_workflow::cancel_run(&*storage.inner, &workflow_name, &run_id)
    .await
    .map_err(wf_err)
}

/// `getWorkflowRunById`: Mastra's `WorkflowState` as JSON, or `null`.
#[napi]
pub async fn get_workflow_run(
  storage: &BindingStorage,
  workflow_name: String,
  run_id: String,
) -> napi::Result<Option<String>> {
  let found = storage
    .inner
    .load_workflow_run(&workflow_name, &run_id)
    .await
    .map_err(store_err)?;
  Ok(found.map(|(run, records)| view::stored_run(&run, &records).to_string()))
}

/// `listWorkflowRuns`: `{ runs: [{ workflowName, runId, snapshot, … }], total }` as JSON.
#[napi]
pub async fn list_workflow_runs(
  storage: &BindingStorage,
  query_json: String,
) -> napi::Result<String> {
  let query: ListWorkflowRunsQuery = parse_args(&query_json, "listWorkflowRuns")?;
  let page = storage
    .inner
    .list_workflow_runs(query)
    .await
    .map_err(store_err)?;
  Ok(view::listed_page(&page).to_string())
}

/// Deletes a stored run and its step records.
#[napi]
pub async fn delete_workflow_run(
  storage: &BindingStorage,
  workflow_name: String,
  run_id: String,
) -> napi::Result<bool> {
  storage
    .inner
    .delete_workflow_run(&workflow_name, &run_id)
    .await
    .map_err(store_err)
}

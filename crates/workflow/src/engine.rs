//! Running a workflow: the graph is walked on tokio, step bodies are host calls, and every
//! step transition is one storage transaction (under the run's epoch) before the next starts.
//!
//! Resume, restart after a crash, and resume in another process are the same thing: the graph
//! is walked again from the top with the stored records. A step with a `success` record is not
//! called again (its output is reused); a suspended step runs again only when the resume
//! targets it; branch and loop decisions are recorded too, so a replay takes the same path.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use lumos_store::{Claim, NewWorkflowRun, Storage, WorkflowRunUpdate, WorkflowStepRecord};

use crate::error::{Result, WorkflowError};
use crate::graph::{Node, RetryConfig, StepKind, StepNode, WorkflowDef};
use crate::view::{self, Outcome};

/// Runs the user's functions (step bodies, conditions, map and sleep functions). Payload and
/// answer are JSON text; see [`CallPayload`] and [`Answer`].
pub trait Host: Send + Sync {
  fn call(&self, payload: String) -> BoxFuture<'static, std::result::Result<String, String>>;
}

/// Events for `run.stream()`, in Mastra's `WorkflowStreamEvent` shape.
pub type EventSink = mpsc::UnboundedSender<Value>;

/// One host call.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallPayload<'a> {
  pub handle: u32,
  pub func: u32,
  /// `step`, `map`, `condition` or `sleep`.
  pub kind: &'static str,
  pub run_id: &'a str,
  pub workflow_id: &'a str,
  pub step_id: &'a str,
  pub input_data: &'a Value,
  pub state: &'a Value,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub resume_data: Option<&'a Value>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub suspend_data: Option<&'a Value>,
  pub retry_count: u32,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub iteration_count: Option<u64>,
}

/// The host's answer. `state` is present when the function called `setState`.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Answer {
  Success {
    #[serde(default)]
    output: Value,
    #[serde(default)]
    state: Option<Value>,
  },
  Suspended {
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    state: Option<Value>,
  },
  Bailed {
    #[serde(default)]
    output: Value,
    #[serde(default)]
    state: Option<Value>,
  },
  Failed {
    error: Value,
    #[serde(default)]
    state: Option<Value>,
  },
}

/// How a run is entered.
pub enum Mode {
  Start {
    input: Value,
    initial_state: Value,
    request_context: Option<Value>,
    /// The run id was generated for this start (see `NewWorkflowRun::id_is_new`).
    id_is_new: bool,
  },
  /// `steps`: step ids to resume (empty: the one suspended step). `for_each_index`: only
  /// that item of a suspended foreach.
  Resume {
    steps: Vec<String>,
    resume_data: Value,
    for_each_index: Option<u64>,
  },
  /// Continue a run left `running` (its process died).
  Restart,
}

/// What a live run shares with the binding while it executes (for `getStepResult`).
#[derive(Default)]
pub struct LiveRun {
  inner: Mutex<LiveInner>,
}

#[derive(Default)]
struct LiveInner {
  records: Map<String, Value>,
  /// Step id → key of its latest record (top level only).
  latest: HashMap<String, String>,
  state: Value,
  input: Value,
  /// The request context stored when the run started (what a resume without one sees).
  request_context: Option<Value>,
}

impl LiveRun {
  fn lock(&self) -> std::sync::MutexGuard<'_, LiveInner> {
    self.inner.lock().unwrap_or_else(PoisonError::into_inner)
  }

  /// The output of a step that has succeeded, by id.
  pub fn step_output(&self, step_id: &str) -> Option<Value> {
    let g = self.lock();
    let r = g.records.get(g.latest.get(step_id)?)?;
    if r.get("status").and_then(Value::as_str) == Some("success") {
      r.get("output").cloned()
    } else {
      None
    }
  }

  pub fn input(&self) -> Value {
    self.lock().input.clone()
  }

  pub fn request_context(&self) -> Option<Value> {
    self.lock().request_context.clone()
  }

  fn record(&self, key: &str) -> Option<Value> {
    self.lock().records.get(key).cloned()
  }

  fn put(&self, key: &str, record: Value) {
    let mut g = self.lock();
    if record.get("nested").is_none() && record.get("kind").is_none() {
      let id = view::step_id(key, &record).to_string();
      g.latest.insert(id, key.to_string());
    }
    g.records.insert(key.to_string(), record);
  }

  fn load(
    &self,
    records: Vec<WorkflowStepRecord>,
    input: Value,
    state: Value,
    request_context: Option<Value>,
  ) {
    let mut g = self.lock();
    *g = LiveInner {
      input,
      state,
      request_context,
      ..LiveInner::default()
    };
    drop(g);
    for r in records {
      self.put(&r.key, r.record);
    }
  }

  fn state(&self) -> Value {
    self.lock().state.clone()
  }

  fn set_state(&self, state: Value) {
    self.lock().state = state;
  }
}

/// Where a step runs: key prefix, host table, and how its records are shown.
#[derive(Clone)]
struct Scope {
  prefix: String,
  handle: u32,
  workflow_id: Arc<str>,
  retry: RetryConfig,
  /// Inside a nested workflow: records are kept but not shown in the parent's `steps`.
  nested: bool,
  /// Inside `.parallel` / `.branch`: left out of `stepExecutionPath`.
  group: bool,
  for_each: Option<usize>,
  /// Step ids of the nested-workflow steps above (the `suspended` path).
  path: Vec<String>,
}

enum Flow {
  Done(Value),
  Suspended,
  Failed(Value),
  Bailed(Value),
  Stop(Stop),
}

enum Stop {
  Canceled,
  TakenOver,
  Error(WorkflowError),
}

/// Where a record's input came from, so it is not stored twice.
#[derive(Clone)]
struct From {
  key: String,
  index: Option<usize>,
}

struct Ctx {
  store: Arc<dyn Storage>,
  host: Arc<dyn Host>,
  workflow_name: String,
  run_id: String,
  epoch: i64,
  live: Arc<LiveRun>,
  /// Keys of the suspended records this resume continues.
  resume_keys: HashSet<String>,
  resume_data: Value,
  cancel: CancellationToken,
  events: Option<EventSink>,
}

fn now() -> i64 {
  lumos_core::time::now_millis() as i64
}

fn error_value(code: &str, message: &str) -> Value {
  json!({ "name": "Error", "message": message, "code": code })
}

impl Ctx {
  fn emit(&self, kind: &str, payload: Value) {
    if let Some(tx) = &self.events {
      let _ = tx.send(
        json!({ "type": kind, "runId": self.run_id, "from": "WORKFLOW", "payload": payload }),
      );
    }
  }

  async fn commit(
    &self,
    key: &str,
    record: Value,
    state: Option<Value>,
  ) -> std::result::Result<(), Stop> {
    let stored = WorkflowStepRecord {
      key: key.to_string(),
      record,
    };
    match self
      .store
      .commit_workflow_step(
        &self.workflow_name,
        &self.run_id,
        self.epoch,
        stored.clone(),
        state.clone(),
      )
      .await
    {
      Ok(true) => {
        if let Some(s) = state {
          self.live.set_state(s);
        }
        self.live.put(key, stored.record);
        Ok(())
      }
      Ok(false) => Err(Stop::TakenOver),
      Err(e) => Err(Stop::Error(e.into())),
    }
  }

  async fn call(&self, payload: &CallPayload<'_>) -> std::result::Result<Answer, Stop> {
    let text = serde_json::to_string(payload).map_err(|e| {
      Stop::Error(WorkflowError::new(
        "WORKFLOW_HOST_FAILED",
        format!("could not encode a step call: {e}"),
      ))
    })?;
    let call = self.host.call(text);
    let answer = tokio::select! {
      biased;
      _ = self.cancel.cancelled() => return Err(Stop::Canceled),
      a = call => a,
    };
    Ok(match answer {
      Ok(text) => serde_json::from_str::<Answer>(&text).unwrap_or_else(|e| Answer::Failed {
        error: error_value(
          "WORKFLOW_HOST_FAILED",
          &format!("the step host answered malformed JSON: {e}"),
        ),
        state: None,
      }),
      Err(reason) => Answer::Failed {
        error: error_value(
          "WORKFLOW_HOST_FAILED",
          &format!("could not call the step in JavaScript: {reason}"),
        ),
        state: None,
      },
    })
  }

  /// The fields every record of step `id` (stored under `key`) starts with.
  fn base_record(
    &self,
    scope: &Scope,
    key: &str,
    id: &str,
    input: &Value,
    from: &Option<From>,
  ) -> Map<String, Value> {
    let mut r = Map::new();
    if key != id {
      r.insert("stepId".into(), json!(id));
    }
    match from {
      Some(f) => {
        let from = match f.index {
          Some(i) => json!([f.key, i]),
          None => json!(f.key),
        };
        r.insert("from".into(), from);
      }
      None => {
        r.insert("payload".into(), input.clone());
      }
    }
    if scope.nested {
      r.insert("nested".into(), json!(true));
    }
    if scope.group {
      r.insert("group".into(), json!(true));
    }
    if let Some(i) = scope.for_each {
      r.insert("forEachIndex".into(), json!(i));
    }
    r
  }

  fn seq<'a>(
    &'a self,
    scope: Scope,
    nodes: &'a [Node],
    input: Value,
    from: Option<From>,
  ) -> BoxFuture<'a, Flow> {
    Box::pin(async move {
      let mut cur = input;
      let mut from = from;
      for (i, node) in nodes.iter().enumerate() {
        match self.node(&scope, i, node, cur, from).await {
          (Flow::Done(v), key) => {
            cur = v;
            from = key.map(|key| From { key, index: None });
          }
          (other, _) => return other,
        }
      }
      Flow::Done(cur)
    })
  }

  /// Runs one node; the key is the record holding its output, when there is one.
  fn node<'a>(
    &'a self,
    scope: &'a Scope,
    index: usize,
    node: &'a Node,
    input: Value,
    from: Option<From>,
  ) -> BoxFuture<'a, (Flow, Option<String>)> {
    Box::pin(async move {
      match node {
        Node::Step(s) => self.step(scope, s, input, from).await,
        Node::Parallel { steps } => {
          let group = Scope {
            group: true,
            ..scope.clone()
          };
          let runs = steps
            .iter()
            .enumerate()
            .map(|(j, n)| self.node(&group, j, n, input.clone(), from.clone()));
          let flows: Vec<Flow> = join_all(runs).await.into_iter().map(|(f, _)| f).collect();
          (gather(steps.iter().collect(), flows), None)
        }
        Node::Branch { branches } => {
          let key = format!("{}#{index}", scope.prefix);
          let taken: Vec<usize> = match self.live.record(&key) {
            Some(r) => r
              .get("taken")
              .and_then(Value::as_array)
              .map(|a| {
                a.iter()
                  .filter_map(Value::as_u64)
                  .map(|i| i as usize)
                  .collect()
              })
              .unwrap_or_default(),
            None => {
              let state = self.live.state();
              let checks = branches.iter().map(|b| {
                let payload = CallPayload {
                  handle: scope.handle,
                  func: b.cond,
                  kind: "condition",
                  run_id: &self.run_id,
                  workflow_id: &scope.workflow_id,
                  step_id: b.step.output_id().unwrap_or(""),
                  input_data: &input,
                  state: &state,
                  resume_data: None,
                  suspend_data: None,
                  retry_count: 0,
                  iteration_count: None,
                };
                async move { self.call(&payload).await }
              });
              let mut taken = Vec::new();
              for (i, answer) in join_all(checks).await.into_iter().enumerate() {
                match answer {
                  Err(stop) => return (Flow::Stop(stop), None),
                  Ok(Answer::Success { output, .. }) => {
                    if truthy(&output) {
                      taken.push(i);
                    }
                  }
                  Ok(Answer::Failed { error, .. }) => return (Flow::Failed(error), None),
                  Ok(_) => {}
                }
              }
              let record = json!({ "kind": "decision", "taken": taken });
              if let Err(stop) = self.commit(&key, record, None).await {
                return (Flow::Stop(stop), None);
              }
              taken
            }
          };
          let group = Scope {
            group: true,
            ..scope.clone()
          };
          let arms: Vec<&Node> = taken
            .iter()
            .filter_map(|i| branches.get(*i))
            .map(|b| &b.step)
            .collect();
          let runs = arms
            .iter()
            .enumerate()
            .map(|(j, n)| self.node(&group, j, n, input.clone(), from.clone()));
          let flows: Vec<Flow> = join_all(runs).await.into_iter().map(|(f, _)| f).collect();
          (gather(arms, flows), None)
        }
        Node::Loop { step, cond, until } => {
          let mut cur = input;
          let mut from = from;
          let mut n: u64 = 0;
          loop {
            let body = Scope {
              prefix: format!("{}{index}@{n}.", scope.prefix),
              ..scope.clone()
            };
            let key = match self.node(&body, 0, step, cur, from).await {
              (Flow::Done(v), key) => {
                cur = v;
                key
              }
              (other, _) => return (other, None),
            };
            from = key.clone().map(|key| From { key, index: None });
            n += 1;
            let decision = format!("{}{index}@{}?", scope.prefix, n - 1);
            let holds = match self.live.record(&decision) {
              Some(r) => r.get("value").is_some_and(truthy),
              None => {
                let state = self.live.state();
                let payload = CallPayload {
                  handle: scope.handle,
                  func: *cond,
                  kind: "condition",
                  run_id: &self.run_id,
                  workflow_id: &scope.workflow_id,
                  step_id: step.output_id().unwrap_or(""),
                  input_data: &cur,
                  state: &state,
                  resume_data: None,
                  suspend_data: None,
                  retry_count: 0,
                  iteration_count: Some(n),
                };
                let v = match self.call(&payload).await {
                  Err(stop) => return (Flow::Stop(stop), None),
                  Ok(Answer::Success { output, .. }) => truthy(&output),
                  Ok(Answer::Failed { error, .. }) => return (Flow::Failed(error), None),
                  Ok(_) => false,
                };
                if let Err(stop) = self
                  .commit(&decision, json!({ "kind": "decision", "value": v }), None)
                  .await
                {
                  return (Flow::Stop(stop), None);
                }
                v
              }
            };
            if holds == *until {
              return (Flow::Done(cur), key);
            }
          }
        }
        Node::Foreach { step, concurrency } => {
          let Value::Array(items) = input else {
            let id = step.output_id().unwrap_or("foreach");
            return (
              Flow::Failed(error_value(
                "WORKFLOW_FOREACH_INPUT",
                &format!(
                  "foreach step '{id}' needs an array as input, got {}",
                  lumos_core::message::json_type_name(&input)
                ),
              )),
              None,
            );
          };
          let runs = items.into_iter().enumerate().map(|(i, item)| {
            let body = Scope {
              prefix: format!("{}{index}[{i}].", scope.prefix),
              for_each: Some(i),
              ..scope.clone()
            };
            let from = from.as_ref().map(|f| From {
              key: f.key.clone(),
              index: Some(i),
            });
            async move { self.node(&body, 0, step, item, from).await.0 }
          });
          let flows: Vec<Flow> = stream::iter(runs).buffered(*concurrency).collect().await;
          let mut outputs = Vec::with_capacity(flows.len());
          let mut suspended = false;
          for f in flows {
            match f {
              Flow::Done(v) => outputs.push(v),
              Flow::Suspended => suspended = true,
              other => return (other, None),
            }
          }
          if suspended {
            return (Flow::Suspended, None);
          }
          (Flow::Done(Value::Array(outputs)), None)
        }
        Node::Sleep { id, ms, func } => {
          let fixed = ms.map(|ms| ms as i64);
          self
            .sleep(scope, id, false, fixed, *func, input, from)
            .await
        }
        Node::SleepUntil { id, at, func } => {
          self.sleep(scope, id, true, *at, *func, input, from).await
        }
      }
    })
  }

  #[allow(clippy::too_many_arguments)]
  async fn sleep(
    &self,
    scope: &Scope,
    id: &str,
    until: bool,
    fixed: Option<i64>,
    func: Option<u32>,
    input: Value,
    from: Option<From>,
  ) -> (Flow, Option<String>) {
    let key = format!("{}{id}", scope.prefix);
    let existing = self.live.record(&key);
    let wake_at = match existing.as_ref() {
      Some(r) if r.get("status").and_then(Value::as_str) == Some("success") => {
        return (Flow::Done(input), from.map(|f| f.key));
      }
      Some(r) => r.get("wakeAt").and_then(Value::as_i64).unwrap_or_else(now),
      None => {
        let started = now();
        let computed = match func {
          Some(func) => {
            let state = self.live.state();
            let payload = CallPayload {
              handle: scope.handle,
              func,
              kind: "sleep",
              run_id: &self.run_id,
              workflow_id: &scope.workflow_id,
              step_id: id,
              input_data: &input,
              state: &state,
              resume_data: None,
              suspend_data: None,
              retry_count: 0,
              iteration_count: None,
            };
            match self.call(&payload).await {
              Err(stop) => return (Flow::Stop(stop), None),
              Ok(Answer::Success { output, .. }) => output.as_f64().map(|v| v as i64),
              Ok(Answer::Failed { error, .. }) => return (Flow::Failed(error), None),
              Ok(_) => None,
            }
          }
          None => None,
        };
        // `.sleep` takes (or its function returns) ms; `.sleepUntil` a date in epoch ms.
        let amount = fixed.or(computed);
        let wake = if until {
          amount.unwrap_or(started)
        } else {
          started + amount.unwrap_or(0).max(0)
        };
        let mut r = self.base_record(scope, &key, id, &input, &from);
        r.insert("status".into(), json!("waiting"));
        r.insert("wakeAt".into(), json!(wake));
        r.insert("startedAt".into(), json!(started));
        if let Err(stop) = self.commit(&key, Value::Object(r), None).await {
          return (Flow::Stop(stop), None);
        }
        wake
      }
    };
    let wait = (wake_at - now()).max(0) as u64;
    tokio::select! {
      biased;
      _ = self.cancel.cancelled() => return (Flow::Stop(Stop::Canceled), None),
      _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
    }
    let mut r = existing
      .and_then(|r| r.as_object().cloned())
      .unwrap_or_else(|| self.base_record(scope, &key, id, &input, &from));
    r.insert("status".into(), json!("success"));
    r.insert("endedAt".into(), json!(now()));
    r.remove("wakeAt");
    if let Err(stop) = self.commit(&key, Value::Object(r), None).await {
      return (Flow::Stop(stop), None);
    }
    (Flow::Done(input), from.map(|f| f.key))
  }

  async fn step(
    &self,
    scope: &Scope,
    s: &StepNode,
    input: Value,
    from: Option<From>,
  ) -> (Flow, Option<String>) {
    let key = format!("{}{}", scope.prefix, s.id);
    let existing = self.live.record(&key);
    let status = existing
      .as_ref()
      .and_then(|r| r.get("status"))
      .and_then(Value::as_str)
      .map(str::to_string);
    if status.as_deref() == Some("success") {
      let out = existing
        .as_ref()
        .and_then(|r| r.get("output"))
        .cloned()
        .unwrap_or(Value::Null);
      return (Flow::Done(out), Some(key));
    }
    if let Some(child) = &s.workflow {
      return self
        .nested(scope, s, child, key, existing, input, from)
        .await;
    }
    let Some(func) = s.func else {
      return (
        Flow::Failed(error_value(
          "WORKFLOW_INVALID_DEFINITION",
          "step has no function",
        )),
        None,
      );
    };
    let resuming = status.as_deref() == Some("suspended") && self.resume_keys.contains(&key);
    if status.as_deref() == Some("suspended") && !resuming {
      return (Flow::Suspended, None);
    }
    let suspend_data = existing
      .as_ref()
      .and_then(|r| r.get("suspendPayload"))
      .cloned();
    let started = existing
      .as_ref()
      .and_then(|r| r.get("startedAt"))
      .and_then(Value::as_i64)
      .unwrap_or_else(now);
    let mut record = self.base_record(scope, &key, &s.id, &input, &from);
    record.insert("startedAt".into(), json!(started));
    let event_base = || {
      let mut p = json!({ "stepName": s.id, "id": s.id, "payload": input, "startedAt": started });
      if scope.nested {
        p["path"] = json!(scope.path);
      }
      p
    };
    if self.events.is_some() {
      let mut p = event_base();
      p["status"] = json!("running");
      self.emit("workflow-step-start", p);
    }
    let attempts = s.retries.unwrap_or(scope.retry.attempts);
    let kind = if s.kind == StepKind::Map {
      "map"
    } else {
      "step"
    };
    let mut retry_count = 0;
    loop {
      let state = self.live.state();
      let payload = CallPayload {
        handle: scope.handle,
        func,
        kind,
        run_id: &self.run_id,
        workflow_id: &scope.workflow_id,
        step_id: &s.id,
        input_data: &input,
        state: &state,
        resume_data: resuming.then_some(&self.resume_data),
        suspend_data: if resuming {
          suspend_data.as_ref()
        } else {
          None
        },
        retry_count,
        iteration_count: None,
      };
      let answer = match self.call(&payload).await {
        Ok(a) => a,
        Err(stop) => return (Flow::Stop(stop), None),
      };
      let ended = now();
      if resuming {
        record.insert("resumePayload".into(), self.resume_data.clone());
        record.insert("resumedAt".into(), json!(ended));
        if let Some(d) = &suspend_data {
          record.insert("suspendPayload".into(), d.clone());
        }
      }
      let (flow, state, event) = match answer {
        Answer::Success { output, state } => {
          record.insert("status".into(), json!("success"));
          record.insert("output".into(), output.clone());
          record.insert("endedAt".into(), json!(ended));
          (Flow::Done(output), state, "workflow-step-result")
        }
        Answer::Bailed { output, state } => {
          record.insert("status".into(), json!("success"));
          record.insert("output".into(), output.clone());
          record.insert("endedAt".into(), json!(ended));
          (Flow::Bailed(output), state, "workflow-step-result")
        }
        Answer::Suspended { payload, state } => {
          record.insert("status".into(), json!("suspended"));
          record.insert("suspendPayload".into(), payload);
          record.insert("suspendedAt".into(), json!(ended));
          record.remove("resumePayload");
          record.remove("resumedAt");
          if scope.nested {
            let mut path = scope.path.clone();
            path.push(s.id.clone());
            record.insert("path".into(), json!(path));
          }
          (Flow::Suspended, state, "workflow-step-suspended")
        }
        Answer::Failed { error, state } => {
          if retry_count < attempts {
            retry_count += 1;
            let delay = scope.retry.delay;
            tokio::select! {
              biased;
              _ = self.cancel.cancelled() => return (Flow::Stop(Stop::Canceled), None),
              _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
            }
            continue;
          }
          record.insert("status".into(), json!("failed"));
          record.insert("error".into(), error.clone());
          record.insert("endedAt".into(), json!(ended));
          let mut error = error;
          if let Some(o) = error.as_object_mut() {
            o.entry("stepId").or_insert_with(|| json!(s.id));
          }
          (Flow::Failed(error), state, "workflow-step-result")
        }
      };
      let record = Value::Object(record);
      if self.events.is_some() {
        let mut p = event_base();
        if let Some(o) = p.as_object_mut()
          && let Some(r) = record.as_object()
        {
          for (k, v) in r {
            if !view::INTERNAL.contains(&k.as_str()) {
              o.insert(k.clone(), v.clone());
            }
          }
        }
        self.emit(event, p);
      }
      if let Err(stop) = self.commit(&key, record, state).await {
        return (Flow::Stop(stop), None);
      }
      return (flow, Some(key));
    }
  }

  #[allow(clippy::too_many_arguments)]
  async fn nested(
    &self,
    scope: &Scope,
    s: &StepNode,
    child: &WorkflowDef,
    key: String,
    existing: Option<Value>,
    input: Value,
    from: Option<From>,
  ) -> (Flow, Option<String>) {
    let started = existing
      .as_ref()
      .and_then(|r| r.get("startedAt"))
      .and_then(Value::as_i64)
      .unwrap_or_else(now);
    let mut path = scope.path.clone();
    path.push(s.id.clone());
    let inner = Scope {
      prefix: format!("{key}/"),
      handle: child.handle,
      workflow_id: Arc::from(child.id.as_str()),
      retry: child.retry_config,
      nested: true,
      group: false,
      for_each: None,
      path,
    };
    if existing.is_none() {
      self.emit(
        "workflow-step-start",
        json!({ "stepName": s.id, "id": s.id, "payload": input, "startedAt": started, "status": "running" }),
      );
    }
    let flow = self
      .seq(inner, &child.steps, input.clone(), from.clone())
      .await;
    let mut record = self.base_record(scope, &key, &s.id, &input, &from);
    record.insert("startedAt".into(), json!(started));
    record.insert("container".into(), json!(true));
    let (flow, event) = match flow {
      Flow::Done(v) | Flow::Bailed(v) => {
        record.insert("status".into(), json!("success"));
        record.insert("output".into(), v.clone());
        record.insert("endedAt".into(), json!(now()));
        (Flow::Done(v), "workflow-step-result")
      }
      Flow::Suspended => {
        record.insert("status".into(), json!("suspended"));
        record.insert("suspendedAt".into(), json!(now()));
        (Flow::Suspended, "workflow-step-suspended")
      }
      Flow::Failed(e) => {
        record.insert("status".into(), json!("failed"));
        record.insert("error".into(), e.clone());
        record.insert("endedAt".into(), json!(now()));
        (Flow::Failed(e), "workflow-step-result")
      }
      stop @ Flow::Stop(_) => return (stop, None),
    };
    let record = Value::Object(record);
    if self.events.is_some() {
      let mut p = record.clone();
      p["stepName"] = json!(s.id);
      p["id"] = json!(s.id);
      self.emit(event, p);
    }
    if let Err(stop) = self.commit(&key, record, None).await {
      return (Flow::Stop(stop), None);
    }
    (flow, Some(key))
  }
}

/// Combines concurrent members: a failure wins, then a stop, then a bail, then a suspension;
/// otherwise `{ [id]: output }`.
fn gather(nodes: Vec<&Node>, flows: Vec<Flow>) -> Flow {
  let mut out = Map::new();
  let mut suspended = false;
  let mut stop = None;
  let mut bailed = None;
  for (node, flow) in nodes.into_iter().zip(flows) {
    match flow {
      Flow::Failed(e) => return Flow::Failed(e),
      Flow::Stop(s) => stop = stop.or(Some(s)),
      Flow::Bailed(v) => bailed = bailed.or(Some(v)),
      Flow::Suspended => suspended = true,
      Flow::Done(v) => {
        if let Some(id) = node.output_id() {
          out.insert(id.to_string(), v);
        }
      }
    }
  }
  if let Some(s) = stop {
    return Flow::Stop(s);
  }
  if let Some(v) = bailed {
    return Flow::Bailed(v);
  }
  if suspended {
    return Flow::Suspended;
  }
  Flow::Done(Value::Object(out))
}

fn truthy(v: &Value) -> bool {
  match v {
    Value::Null => false,
    Value::Bool(b) => *b,
    Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
    Value::String(s) => !s.is_empty(),
    _ => true,
  }
}

/// The storage and host a workflow runs on.
#[derive(Clone)]
pub struct Engine {
  pub store: Arc<dyn Storage>,
  pub host: Arc<dyn Host>,
}

/// One execution request.
pub struct Execution {
  pub workflow: Arc<WorkflowDef>,
  pub run_id: String,
  pub resource_id: Option<String>,
  pub mode: Mode,
  pub events: Option<EventSink>,
  pub cancel: CancellationToken,
  pub live: Arc<LiveRun>,
}

fn refused(run_id: &str, status: Option<String>, wanted: &str) -> WorkflowError {
  match status {
    None => WorkflowError::new(
      "WORKFLOW_RUN_NOT_FOUND",
      format!(
        "no workflow run '{run_id}' in storage: start it first, or check the runId and the storage it was started with"
      ),
    ),
    Some(s) if wanted == "suspended" && s == "running" => WorkflowError::new(
      "WORKFLOW_RUN_NOT_SUSPENDED",
      format!(
        "workflow run '{run_id}' is running (another resume or process has it); wait for it to finish or suspend"
      ),
    ),
    Some(s) if wanted == "suspended" => WorkflowError::new(
      "WORKFLOW_RUN_NOT_SUSPENDED",
      format!("workflow run '{run_id}' is {s}, not suspended: only a suspended run can be resumed"),
    ),
    Some(s) if wanted == "new" => WorkflowError::new(
      "WORKFLOW_RUN_ACTIVE",
      format!(
        "workflow run '{run_id}' is already {s}: resume it, cancel it, or start a run with another runId"
      ),
    ),
    Some(s) => WorkflowError::new(
      "WORKFLOW_RUN_NOT_ACTIVE",
      format!(
        "workflow run '{run_id}' is {s}, not running: only a run left running (its process died) can be restarted"
      ),
    ),
  }
}

impl Engine {
  /// Runs (or continues) a run to its end or next suspension and returns Mastra's result.
  pub async fn execute(&self, ex: Execution) -> Result<Value> {
    let wf = ex.workflow.clone();
    let name = wf.id.clone();
    let run_id = ex.run_id.clone();
    let mut resume_keys = HashSet::new();
    let mut resume_data = Value::Null;
    let (epoch, input) = match ex.mode {
      Mode::Start {
        input,
        initial_state,
        request_context,
        id_is_new,
      } => {
        let claim = self
          .store
          .begin_workflow_run(NewWorkflowRun {
            workflow_name: name.clone(),
            run_id: run_id.clone(),
            resource_id: ex.resource_id.clone(),
            input: input.clone(),
            state: initial_state.clone(),
            request_context: request_context.clone(),
            id_is_new,
          })
          .await?;
        let epoch = match claim {
          Claim::Claimed { epoch } => epoch,
          Claim::Refused { status } => return Err(refused(&run_id, status, "new")),
        };
        ex.live
          .load(Vec::new(), input.clone(), initial_state, request_context);
        (epoch, input)
      }
      Mode::Resume {
        steps,
        resume_data: data,
        for_each_index,
      } => {
        let Some((_, records)) = self.store.load_workflow_run(&name, &run_id).await? else {
          return Err(refused(&run_id, None, "suspended"));
        };
        let map: Map<String, Value> = records
          .iter()
          .map(|r| (r.key.clone(), r.record.clone()))
          .collect();
        resume_keys = resume_targets(&run_id, &map, &steps, for_each_index)?;
        let epoch = match self
          .store
          .claim_workflow_run(&name, &run_id, &["suspended"], "running")
          .await?
        {
          Claim::Claimed { epoch } => epoch,
          Claim::Refused { status } => return Err(refused(&run_id, status, "suspended")),
        };
        let Some((run, records)) = self.store.load_workflow_run(&name, &run_id).await? else {
          return Err(refused(&run_id, None, "suspended"));
        };
        ex.live
          .load(records, run.input.clone(), run.state, run.request_context);
        resume_data = data;
        (epoch, run.input)
      }
      Mode::Restart => {
        let epoch = match self
          .store
          .claim_workflow_run(&name, &run_id, &["running"], "running")
          .await?
        {
          Claim::Claimed { epoch } => epoch,
          Claim::Refused { status } => return Err(refused(&run_id, status, "running")),
        };
        let Some((run, records)) = self.store.load_workflow_run(&name, &run_id).await? else {
          return Err(refused(&run_id, None, "running"));
        };
        ex.live
          .load(records, run.input.clone(), run.state, run.request_context);
        (epoch, run.input)
      }
    };
    let ctx = Ctx {
      store: self.store.clone(),
      host: self.host.clone(),
      workflow_name: name.clone(),
      run_id: run_id.clone(),
      epoch,
      live: ex.live.clone(),
      resume_keys,
      resume_data,
      cancel: ex.cancel.clone(),
      events: ex.events,
    };
    ctx.emit("workflow-start", json!({ "workflowId": name }));
    let scope = Scope {
      prefix: String::new(),
      handle: wf.handle,
      workflow_id: Arc::from(name.as_str()),
      retry: wf.retry_config,
      nested: false,
      group: false,
      for_each: None,
      path: Vec::new(),
    };
    let flow = ctx
      .seq(
        scope,
        &wf.steps,
        input.clone(),
        Some(From {
          key: "input".into(),
          index: None,
        }),
      )
      .await;
    let (status, result, error) = match flow {
      Flow::Done(v) | Flow::Bailed(v) => ("success", Some(v), None),
      Flow::Suspended => ("suspended", None, None),
      Flow::Failed(e) => ("failed", None, Some(e)),
      Flow::Stop(Stop::Canceled) => ("canceled", None, None),
      Flow::Stop(Stop::TakenOver) => {
        return Err(taken_over(&run_id));
      }
      Flow::Stop(Stop::Error(e)) => return Err(e),
    };
    let state = ctx.live.state();
    if status != "canceled" {
      let written = self
        .store
        .update_workflow_run(
          &name,
          &run_id,
          epoch,
          WorkflowRunUpdate {
            status: status.to_string(),
            result: result.clone(),
            error: error.clone(),
            state: Some(state.clone()),
          },
        )
        .await?;
      if !written {
        return Err(taken_over(&run_id));
      }
    }
    ctx.emit(
      "workflow-finish",
      json!({ "workflowStatus": status, "metadata": {}, "output": { "usage": { "inputTokens": 0, "outputTokens": 0, "totalTokens": 0 } } }),
    );
    // The run is over: nothing reads its live records any more.
    let records = std::mem::take(&mut ctx.live.lock().records);
    Ok(view::run_result(
      Outcome {
        run_id: &run_id,
        status,
        input,
        state,
        result,
        error,
      },
      &records,
    ))
  }
}

fn taken_over(run_id: &str) -> WorkflowError {
  WorkflowError::new(
    "WORKFLOW_RUN_TAKEN_OVER",
    format!(
      "workflow run '{run_id}' was cancelled or taken over by another process (restart or resume) while this one ran it; its results from here on were not written"
    ),
  )
}

/// The suspended records a resume continues.
fn resume_targets(
  run_id: &str,
  records: &Map<String, Value>,
  steps: &[String],
  for_each_index: Option<u64>,
) -> Result<HashSet<String>> {
  let leaves = view::suspended_leaves(records);
  if leaves.is_empty() {
    return Err(WorkflowError::new(
      "WORKFLOW_RUN_NOT_SUSPENDED",
      format!("workflow run '{run_id}' has no suspended step to resume"),
    ));
  }
  let matches_index = |r: &Value| {
    for_each_index.is_none_or(|i| r.get("forEachIndex").and_then(Value::as_u64) == Some(i))
  };
  let id_of = |key: &str, r: &Value| view::step_id(key, r).to_string();
  let chosen: Vec<&str> = if steps.is_empty() {
    let ids: HashSet<String> = leaves.iter().map(|(k, r)| id_of(k, r)).collect();
    if ids.len() > 1 {
      let mut ids: Vec<String> = ids.into_iter().collect();
      ids.sort();
      return Err(WorkflowError::new(
        "WORKFLOW_RESUME_STEP_REQUIRED",
        format!(
          "workflow run '{run_id}' has several suspended steps ({}): pass `step` to resume()",
          ids.join(", ")
        ),
      ));
    }
    leaves
      .iter()
      .filter(|(_, r)| matches_index(r))
      .map(|(k, _)| *k)
      .collect()
  } else {
    leaves
      .iter()
      .filter(|(k, r)| steps.contains(&id_of(k, r)) && matches_index(r))
      .map(|(k, _)| *k)
      .collect()
  };
  if chosen.is_empty() {
    let ids: Vec<String> = leaves.iter().map(|(k, r)| id_of(k, r)).collect();
    return Err(WorkflowError::new(
      "WORKFLOW_RESUME_STEP_NOT_SUSPENDED",
      format!(
        "step {} of workflow run '{run_id}' is not suspended; suspended: {}",
        if steps.is_empty() {
          "(none given)".to_string()
        } else {
          steps.join(", ")
        },
        ids.join(", ")
      ),
    ));
  }
  Ok(chosen.into_iter().map(str::to_string).collect())
}

/// `run.cancel()`: marks a running or suspended run `canceled` and takes it from whoever runs
/// it (their next commit is refused). Returns false when the run had already ended.
pub async fn cancel_run(store: &dyn Storage, workflow_name: &str, run_id: &str) -> Result<bool> {
  match store
    .claim_workflow_run(
      workflow_name,
      run_id,
      lumos_store::ACTIVE_RUN_STATUSES,
      "canceled",
    )
    .await?
  {
    Claim::Claimed { .. } => Ok(true),
    Claim::Refused { status: None } => Err(refused(run_id, None, "running")),
    Claim::Refused { .. } => Ok(false),
  }
}

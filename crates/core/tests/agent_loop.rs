//! The agent loop against a scripted model and native tools: tool loops, concurrency, errors the
//! model sees, retries, abort, max steps and stop conditions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lumos_core::agent::{RunConfig, StopCondition};
use lumos_core::retry::RetryPolicy;
use lumos_core::{
  CancellationToken, Emitter, ErrorCode, FinishReason, Message, Model, ModelError, ModelEvent,
  ModelRequest, ModelSettings, ModelStream, Tool, ToolCallRequest, ToolChoice, ToolOutcome,
  ToolSpec, Usage, run_agent,
};
use serde_json::{Value, json};

/// One scripted model turn: either events to stream or an error from `call`.
enum Turn {
  Events(Vec<ModelEvent>),
  Fail(ModelError),
  /// Never answers (until cancelled).
  Hang,
}

struct ScriptedModel {
  turns: Mutex<VecDeque<Turn>>,
  requests: Mutex<Vec<ModelRequest>>,
}

impl ScriptedModel {
  fn new(turns: Vec<Turn>) -> Arc<Self> {
    Arc::new(ScriptedModel {
      turns: Mutex::new(turns.into()),
      requests: Mutex::new(Vec::new()),
    })
  }
}

impl Model for ScriptedModel {
  fn provider(&self) -> &str {
    "scripted"
  }
  fn model_id(&self) -> &str {
    "scripted-1"
  }
  fn call(
    &self,
    request: ModelRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<ModelStream, ModelError>> {
    self.requests.lock().unwrap().push(request);
    let turn = self.turns.lock().unwrap().pop_front();
    Box::pin(async move {
      match turn {
        Some(Turn::Events(events)) => {
          Ok(Box::pin(futures::stream::iter(events.into_iter().map(Ok))) as ModelStream)
        }
        Some(Turn::Fail(e)) => Err(e),
        Some(Turn::Hang) => {
          cancel.cancelled().await;
          Err(ModelError::Aborted)
        }
        None => Err(ModelError::Malformed("script exhausted".into())),
      }
    })
  }
}

fn usage(i: u64, o: u64) -> Usage {
  Usage {
    input_tokens: i,
    output_tokens: o,
    total_tokens: i + o,
    ..Usage::default()
  }
}

fn text_turn(text: &str) -> Turn {
  Turn::Events(vec![
    ModelEvent::Metadata {
      id: Some("resp-1".into()),
      model_id: Some("scripted-1".into()),
    },
    ModelEvent::TextDelta(text.into()),
    ModelEvent::Finish {
      reason: FinishReason::Stop,
      usage: usage(10, 5),
    },
  ])
}

fn calls_turn(calls: &[(&str, &str, &str)]) -> Turn {
  let mut events: Vec<ModelEvent> = calls
    .iter()
    .map(|(id, name, args)| ModelEvent::ToolCall {
      id: (*id).into(),
      name: (*name).into(),
      arguments: (*args).into(),
    })
    .collect();
  events.push(ModelEvent::Finish {
    reason: FinishReason::ToolCalls,
    usage: usage(20, 8),
  });
  Turn::Events(events)
}

/// A native tool that sleeps, records when it started, and adds `a + b`.
struct AddTool {
  spec: ToolSpec,
  delay: Duration,
  starts: Arc<Mutex<Vec<Instant>>>,
  validate: bool,
}

fn add_tool(delay_ms: u64, validate: bool) -> (Arc<AddTool>, Arc<Mutex<Vec<Instant>>>) {
  let starts = Arc::new(Mutex::new(Vec::new()));
  let spec = ToolSpec {
    name: "add".into(),
    description: "adds".into(),
    parameters: json!({ "type": "object", "properties": { "a": { "type": "number" }, "b": { "type": "number" } }, "required": ["a", "b"] }),
  };
  (
    Arc::new(AddTool {
      spec,
      delay: Duration::from_millis(delay_ms),
      starts: starts.clone(),
      validate,
    }),
    starts,
  )
}

impl Tool for AddTool {
  fn spec(&self) -> &ToolSpec {
    &self.spec
  }
  fn validate_in_core(&self) -> bool {
    self.validate
  }
  fn call(
    &self,
    req: ToolCallRequest,
    _cancel: CancellationToken,
  ) -> BoxFuture<'static, ToolOutcome> {
    self.starts.lock().unwrap().push(Instant::now());
    let delay = self.delay;
    Box::pin(async move {
      tokio::time::sleep(delay).await;
      let a = req.input["a"].as_f64().unwrap_or(0.0);
      let b = req.input["b"].as_f64().unwrap_or(0.0);
      ToolOutcome::Ok(json!({ "sum": a + b }))
    })
  }
}

struct FailingTool(ToolSpec);

impl Tool for FailingTool {
  fn spec(&self) -> &ToolSpec {
    &self.0
  }
  fn call(
    &self,
    _req: ToolCallRequest,
    _cancel: CancellationToken,
  ) -> BoxFuture<'static, ToolOutcome> {
    Box::pin(async {
      ToolOutcome::Failed {
        message: "boom".into(),
        error: json!({ "message": "boom" }),
      }
    })
  }
}

fn config(tools: Vec<Arc<dyn Tool>>) -> RunConfig {
  RunConfig {
    run_id: "run-1".into(),
    agent_id: "agent-1".into(),
    messages: vec![
      Message::System {
        content: "be brief".into(),
      },
      Message::user_text("what is 1+2?"),
    ],
    history: Vec::new(),
    recorder: None,
    tools,
    tool_choice: ToolChoice::Auto,
    settings: ModelSettings::default(),
    response_format: None,
    stream: true,
    max_steps: 5,
    stop_when: Vec::new(),
    retry: RetryPolicy {
      initial_delay: Duration::from_millis(1),
      ..RetryPolicy::default()
    },
    tool_concurrency: 10,
    provider_options: json!({}),
  }
}

fn collect_chunks() -> (Emitter, tokio::sync::mpsc::UnboundedReceiver<String>) {
  let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
  (Emitter::new("run-1".into(), Some(tx)), rx)
}

fn chunk_types(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Vec<String> {
  let mut out = Vec::new();
  while let Ok(c) = rx.try_recv() {
    let v: Value = serde_json::from_str(&c).unwrap();
    out.push(v["type"].as_str().unwrap().to_string());
  }
  out
}

#[tokio::test]
async fn text_only_run_emits_chunks_in_order() {
  let model = ScriptedModel::new(vec![text_turn("hello")]);
  let (emitter, mut rx) = collect_chunks();
  let out = run_agent(config(vec![]), model, emitter, CancellationToken::new()).await;
  assert!(out.error.is_none());
  assert_eq!(out.text, "hello");
  assert_eq!(out.finish_reason, FinishReason::Stop);
  assert_eq!(out.usage, usage(10, 5));
  assert_eq!(
    chunk_types(&mut rx),
    [
      "start",
      "step-start",
      "response-metadata",
      "text-start",
      "text-delta",
      "text-end",
      "step-finish",
      "finish"
    ]
  );
  // The response messages hold the assistant turn; `messages` drops the system prompt.
  assert_eq!(out.response.messages.len(), 1);
  assert_eq!(out.messages.len(), 2);
}

#[tokio::test]
async fn tool_loop_runs_parallel_calls_concurrently_and_feeds_results_back() {
  let (tool, starts) = add_tool(150, true);
  let model = ScriptedModel::new(vec![
    calls_turn(&[
      ("c1", "add", r#"{"a":1,"b":2}"#),
      ("c2", "add", r#"{"a":3,"b":4}"#),
    ]),
    text_turn("3 and 7"),
  ]);
  let started = Instant::now();
  let out = run_agent(
    config(vec![tool]),
    model.clone(),
    Emitter::new("run-1".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert!(out.error.is_none(), "{:?}", out.error);
  assert_eq!(out.steps.len(), 2);
  assert_eq!(out.tool_calls.len(), 2);
  assert_eq!(
    out.tool_results[0]["payload"]["result"],
    json!({ "sum": 3.0 })
  );
  assert_eq!(
    out.tool_results[1]["payload"]["result"],
    json!({ "sum": 7.0 })
  );
  assert_eq!(
    out.total_usage,
    Usage {
      input_tokens: 30,
      output_tokens: 13,
      total_tokens: 43,
      ..Usage::default()
    }
  );
  let s = starts.lock().unwrap();
  assert!(
    s[1].duration_since(s[0]) < Duration::from_millis(100),
    "calls did not overlap"
  );
  assert!(started.elapsed() < Duration::from_millis(290));
  // Second request carries the assistant tool calls and both results, in call order.
  let requests = model.requests.lock().unwrap();
  let second = serde_json::to_value(&requests[1].messages).unwrap();
  assert_eq!(second[2]["role"], "assistant");
  assert_eq!(second[3]["content"][0]["toolCallId"], "c1");
  assert_eq!(second[3]["content"][1]["toolCallId"], "c2");
}

#[tokio::test]
async fn invalid_arguments_and_failures_become_results_the_model_sees() {
  let (tool, starts) = add_tool(0, true);
  let failing = Arc::new(FailingTool(ToolSpec {
    name: "explode".into(),
    description: String::new(),
    parameters: json!({}),
  }));
  let model = ScriptedModel::new(vec![
    calls_turn(&[
      ("c1", "add", r#"{"a":"x"}"#),
      ("c2", "add", "{not json"),
      ("c3", "explode", "{}"),
      ("c4", "nope", "{}"),
    ]),
    text_turn("done"),
  ]);
  let out = run_agent(
    config(vec![tool, failing]),
    model.clone(),
    Emitter::new("run-1".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert!(out.error.is_none());
  assert!(
    starts.lock().unwrap().is_empty(),
    "an invalid call must not run the tool"
  );
  // Validation failures are results (Mastra puts them in toolResults); failures are not.
  assert_eq!(out.tool_results.len(), 2);
  assert_eq!(out.tool_results[0]["payload"]["result"]["error"], true);
  let msg = out.tool_results[1]["payload"]["result"]["message"]
    .as_str()
    .unwrap();
  assert!(msg.contains("not valid JSON"), "{msg}");
  let requests = model.requests.lock().unwrap();
  let tool_msg = serde_json::to_value(&requests[1].messages[3]).unwrap();
  assert_eq!(
    tool_msg["content"][2]["output"],
    json!({ "type": "error-text", "value": "boom" })
  );
  let unknown = tool_msg["content"][3]["output"]["value"].as_str().unwrap();
  assert!(
    unknown.starts_with("Tool \"nope\" not found. Available tools: add, explode"),
    "{unknown}"
  );
}

#[tokio::test]
async fn retries_retryable_errors_then_succeeds_and_gives_up_on_400() {
  let http = |status| ModelError::Http {
    provider: "p".into(),
    status,
    body: "x".into(),
    retry_after: None,
  };
  let model = ScriptedModel::new(vec![
    Turn::Fail(http(500)),
    Turn::Fail(http(429)),
    text_turn("ok"),
  ]);
  let out = run_agent(
    config(vec![]),
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.text, "ok");

  let model = ScriptedModel::new(vec![Turn::Fail(http(400)), text_turn("never")]);
  let out = run_agent(
    config(vec![]),
    model.clone(),
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  let err = out.error.unwrap();
  assert_eq!(err.code, ErrorCode::ProviderHttp);
  assert_eq!(err.status, Some(400));
  assert_eq!(model.requests.lock().unwrap().len(), 1);

  let model = ScriptedModel::new(vec![
    Turn::Fail(http(503)),
    Turn::Fail(http(503)),
    Turn::Fail(http(503)),
    text_turn("late"),
  ]);
  let out = run_agent(
    config(vec![]),
    model.clone(),
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.error.map(|e| e.status), Some(Some(503)));
  assert_eq!(
    model.requests.lock().unwrap().len(),
    3,
    "1 try + maxRetries (2)"
  );
}

#[tokio::test]
async fn retry_after_is_honoured() {
  let model = ScriptedModel::new(vec![
    Turn::Fail(ModelError::Http {
      provider: "p".into(),
      status: 429,
      body: String::new(),
      retry_after: Some(Duration::from_millis(300)),
    }),
    text_turn("ok"),
  ]);
  let started = Instant::now();
  let out = run_agent(
    config(vec![]),
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.text, "ok");
  assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn abort_mid_request_ends_with_aborted_and_an_abort_chunk() {
  let model = ScriptedModel::new(vec![Turn::Hang]);
  let cancel = CancellationToken::new();
  let (emitter, mut rx) = collect_chunks();
  let c = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.cancel();
  });
  let out = tokio::time::timeout(
    Duration::from_secs(2),
    run_agent(config(vec![]), model, emitter, cancel),
  )
  .await
  .unwrap();
  assert_eq!(out.error.map(|e| e.code), Some(ErrorCode::Aborted));
  assert_eq!(
    chunk_types(&mut rx).last().map(String::as_str),
    Some("abort")
  );
}

#[tokio::test]
async fn max_steps_executes_the_last_calls_and_ends_with_tool_calls() {
  let (tool, starts) = add_tool(0, false);
  let turn = || calls_turn(&[("c", "add", r#"{"a":1,"b":1}"#)]);
  let model = ScriptedModel::new(vec![turn(), turn(), turn()]);
  let mut cfg = config(vec![tool]);
  cfg.max_steps = 2;
  let out = run_agent(
    cfg,
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert!(out.error.is_none());
  assert_eq!(out.steps.len(), 2);
  assert_eq!(starts.lock().unwrap().len(), 2);
  assert_eq!(out.finish_reason, FinishReason::ToolCalls);
  assert_eq!(out.text, "");
}

#[tokio::test]
async fn stop_conditions_end_the_loop_early() {
  let (tool, _) = add_tool(0, false);
  let turn = || calls_turn(&[("c", "add", r#"{"a":1,"b":1}"#)]);
  let model = ScriptedModel::new(vec![turn(), turn(), turn()]);
  let mut cfg = config(vec![tool.clone()]);
  cfg.stop_when = vec![StopCondition::HasToolCall("add".into())];
  let out = run_agent(
    cfg,
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.steps.len(), 1);
  assert!(!out.steps[0].is_continued);

  let model = ScriptedModel::new(vec![turn(), turn(), turn()]);
  let mut cfg = config(vec![tool]);
  cfg.stop_when = vec![StopCondition::StepCount(2)];
  let out = run_agent(
    cfg,
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.steps.len(), 2);
  assert!(out.steps[0].is_continued);
}

#[tokio::test]
async fn truncated_stream_fails_with_partial_text_kept() {
  let model = ScriptedModel::new(vec![Turn::Events(vec![ModelEvent::TextDelta(
    "par".into(),
  )])]);
  // A stream ending without Finish is accepted (providers report truncation themselves)...
  let out = run_agent(
    config(vec![]),
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.text, "par");
  // ...while a provider error mid-stream fails the run and keeps what arrived.
  struct Broken;
  impl Model for Broken {
    fn provider(&self) -> &str {
      "b"
    }
    fn model_id(&self) -> &str {
      "b"
    }
    fn call(
      &self,
      _r: ModelRequest,
      _c: CancellationToken,
    ) -> BoxFuture<'_, Result<ModelStream, ModelError>> {
      Box::pin(async {
        let events = vec![
          Ok(ModelEvent::TextDelta("half".into())),
          Err(ModelError::Truncated("cut".into())),
        ];
        Ok(Box::pin(futures::stream::iter(events)) as ModelStream)
      })
    }
  }
  let (emitter, mut rx) = collect_chunks();
  let out = run_agent(
    config(vec![]),
    Arc::new(Broken),
    emitter,
    CancellationToken::new(),
  )
  .await;
  assert_eq!(
    out.error.map(|e| e.code),
    Some(ErrorCode::ProviderStreamTruncated)
  );
  assert_eq!(out.text, "half");
  assert_eq!(out.finish_reason, FinishReason::Error);
  let types = chunk_types(&mut rx);
  assert_eq!(types.last().map(String::as_str), Some("error"));
  assert!(types.contains(&"text-end".to_string()));
}

#[tokio::test]
async fn run_future_is_send_and_static() {
  // The binding spawns runs on tokio; this fails to compile if the loop stops being Send.
  let model = ScriptedModel::new(vec![text_turn("x")]);
  let calls = Arc::new(AtomicUsize::new(0));
  let c = calls.clone();
  let handle = tokio::spawn(async move {
    let out = run_agent(
      config(vec![]),
      model,
      Emitter::new("r".into(), None),
      CancellationToken::new(),
    )
    .await;
    c.fetch_add(1, Ordering::SeqCst);
    out.text
  });
  assert_eq!(handle.await.unwrap(), "x");
  assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[derive(Default)]
struct Recorder {
  calls: Mutex<Vec<(String, usize)>>,
  fail_step: bool,
  /// The input save takes this long, then fails when `fail_input`; `input_saved` is set when
  /// it has finished.
  input_delay_ms: u64,
  fail_input: bool,
  input_saved: Arc<AtomicBool>,
}

impl lumos_core::RunRecorder for Recorder {
  fn record_input(
    &self,
    messages: Vec<Message>,
  ) -> BoxFuture<'static, Result<(), lumos_core::LumosError>> {
    self
      .calls
      .lock()
      .unwrap()
      .push(("input".into(), messages.len()));
    let (delay, fail, saved) = (
      self.input_delay_ms,
      self.fail_input,
      self.input_saved.clone(),
    );
    Box::pin(async move {
      tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
      saved.store(true, Ordering::SeqCst);
      if fail {
        Err(lumos_core::LumosError::new(
          ErrorCode::Memory,
          "input not saved",
        ))
      } else {
        Ok(())
      }
    })
  }
  fn record_step(
    &self,
    messages: Vec<Message>,
  ) -> BoxFuture<'static, Result<(), lumos_core::LumosError>> {
    self
      .calls
      .lock()
      .unwrap()
      .push(("step".into(), messages.len()));
    let fail = self.fail_step;
    Box::pin(async move {
      if fail {
        Err(lumos_core::LumosError::new(ErrorCode::Memory, "disk full"))
      } else {
        Ok(())
      }
    })
  }
}

#[tokio::test]
async fn history_goes_after_the_system_prompt_and_the_recorder_sees_input_then_each_step() {
  let (tool, _) = add_tool(0, false);
  let model = ScriptedModel::new(vec![
    calls_turn(&[("c", "add", r#"{"a":1,"b":1}"#)]),
    text_turn("2"),
  ]);
  let recorder = Arc::new(Recorder::default());
  let mut cfg = config(vec![tool]);
  cfg.history = vec![
    Message::user_text("earlier"),
    Message::Assistant {
      content: vec![lumos_core::Part::Text { text: "ok".into() }],
    },
  ];
  cfg.recorder = Some(recorder.clone());
  let out = run_agent(
    cfg,
    model.clone(),
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert!(out.error.is_none());
  let first = serde_json::to_value(&model.requests.lock().unwrap()[0].messages).unwrap();
  let roles: Vec<_> = first
    .as_array()
    .unwrap()
    .iter()
    .map(|m| m["role"].as_str().unwrap().to_string())
    .collect();
  assert_eq!(roles, ["system", "user", "assistant", "user"]);
  // Only the new input is recorded, then the tool step (assistant + tool) and the answer step.
  assert_eq!(
    *recorder.calls.lock().unwrap(),
    [
      ("input".to_string(), 1),
      ("step".to_string(), 2),
      ("step".to_string(), 1)
    ]
  );
}

#[tokio::test]
async fn a_recorder_failure_fails_the_run_instead_of_losing_messages() {
  let model = ScriptedModel::new(vec![text_turn("x")]);
  let mut cfg = config(vec![]);
  cfg.recorder = Some(Arc::new(Recorder {
    fail_step: true,
    ..Recorder::default()
  }));
  let out = run_agent(
    cfg,
    model,
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await;
  assert_eq!(out.error.map(|e| e.code), Some(ErrorCode::Memory));
}

/// One text turn (or none: the model fails) through `run_agent` with `recorder`.
async fn run_recorded(turns: Vec<Turn>, recorder: Arc<Recorder>) -> lumos_core::RunOutput {
  let mut cfg = config(vec![]);
  cfg.recorder = Some(recorder);
  run_agent(
    cfg,
    ScriptedModel::new(turns),
    Emitter::new("r".into(), None),
    CancellationToken::new(),
  )
  .await
}

#[tokio::test]
async fn the_input_is_saved_while_the_model_answers_and_its_failure_fails_the_run() {
  // A slow input save overlaps the model request; the answer is recorded only after it.
  let recorder = Arc::new(Recorder {
    input_delay_ms: 30,
    ..Recorder::default()
  });
  let out = run_recorded(vec![text_turn("x")], recorder.clone()).await;
  assert!(out.error.is_none());
  assert!(recorder.input_saved.load(Ordering::SeqCst));
  assert_eq!(
    *recorder.calls.lock().unwrap(),
    [("input".to_string(), 1), ("step".to_string(), 1)]
  );

  // The input save fails: the run fails with that error and the answer is not recorded.
  let recorder = Arc::new(Recorder {
    input_delay_ms: 10,
    fail_input: true,
    ..Recorder::default()
  });
  let out = run_recorded(vec![text_turn("x")], recorder.clone()).await;
  assert_eq!(out.error.map(|e| e.code), Some(ErrorCode::Memory));
  assert_eq!(*recorder.calls.lock().unwrap(), [("input".to_string(), 1)]);

  // The model fails first: the run still resolves only once the input is saved.
  let recorder = Arc::new(Recorder {
    input_delay_ms: 50,
    ..Recorder::default()
  });
  let out = run_recorded(vec![], recorder.clone()).await;
  assert!(out.error.is_some());
  assert!(recorder.input_saved.load(Ordering::SeqCst));
}

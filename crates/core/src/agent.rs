//! The agent loop: call the model, run the tool calls it asks for (concurrently), feed the
//! results back, and stop on a plain answer, `maxSteps`, a stop condition or an abort.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::chunk::{Emitter, envelope};
use crate::error::{ErrorCode, LumosError};
use crate::json_repair::parse_lenient;
use crate::message::{Message, Part, ToolOutput};
use crate::model::{
  FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelSettings, ModelStream,
  ResponseFormat, ToolChoice, Usage,
};
use crate::retry::{RetryPolicy, with_retries};
use crate::schema;
use crate::time::{iso8601, now_millis};
use crate::tool::{Tool, ToolCallRequest, ToolOutcome};

/// A user-supplied stop check run after each step (AI SDK `stopWhen` functions, bridged to JS).
pub trait StopHook: Send + Sync {
  fn should_stop(&self, steps: Value) -> BoxFuture<'static, Result<bool, LumosError>>;
}

/// Persists a run as it happens (memory): the new input before the first model call, then each
/// completed step, so an aborted or failed run keeps everything finished before it stopped.
pub trait RunRecorder: Send + Sync {
  fn record_input(&self, messages: Vec<Message>) -> BoxFuture<'static, Result<(), LumosError>>;
  fn record_step(&self, messages: Vec<Message>) -> BoxFuture<'static, Result<(), LumosError>>;
}

#[derive(Clone)]
pub enum StopCondition {
  StepCount(u32),
  HasToolCall(String),
  Hook(Arc<dyn StopHook>),
}

pub struct RunConfig {
  pub run_id: String,
  pub agent_id: String,
  /// The whole prompt: system messages first, then the conversation.
  pub messages: Vec<Message>,
  /// Earlier conversation loaded from memory, placed after the system messages.
  pub history: Vec<Message>,
  pub recorder: Option<Arc<dyn RunRecorder>>,
  pub tools: Vec<Arc<dyn Tool>>,
  pub tool_choice: ToolChoice,
  pub settings: ModelSettings,
  pub response_format: Option<ResponseFormat>,
  pub stream: bool,
  pub max_steps: u32,
  pub stop_when: Vec<StopCondition>,
  pub retry: RetryPolicy,
  pub tool_concurrency: usize,
  pub provider_options: Value,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseInfo {
  pub id: String,
  pub model_id: String,
  pub timestamp: String,
  pub messages: Vec<Message>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
  pub step_type: &'static str,
  pub text: String,
  pub reasoning_text: Option<String>,
  pub tool_calls: Vec<Value>,
  pub tool_results: Vec<Value>,
  pub finish_reason: FinishReason,
  pub usage: Usage,
  pub warnings: Vec<Value>,
  pub is_continued: bool,
  pub response: ResponseInfo,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutput {
  pub run_id: String,
  /// Text of every step joined (Mastra's `generate().text`).
  pub text: String,
  pub reasoning_text: Option<String>,
  /// The last step's text parsed as JSON (leniently) when structured output was requested.
  pub object: Option<Value>,
  pub tool_calls: Vec<Value>,
  pub tool_results: Vec<Value>,
  pub steps: Vec<StepResult>,
  /// Whole-run usage (Mastra reports the run's total here, not the last step's).
  pub usage: Usage,
  pub total_usage: Usage,
  pub finish_reason: FinishReason,
  pub response: ResponseInfo,
  /// Input conversation (without system messages) followed by the response messages.
  pub messages: Vec<Message>,
  pub error: Option<LumosError>,
}

#[derive(Clone)]
struct ToolCallInfo {
  id: String,
  name: String,
  args: Value,
  /// Set when the argument text was not valid JSON.
  parse_error: Option<String>,
}

/// Runs an agent to completion. Chunks go to `emitter` as they happen; the returned output holds
/// everything `generate()` returns. Failures are reported in `RunOutput::error` (with the partial
/// output kept), never as a panic.
pub async fn run_agent(
  config: RunConfig,
  model: Arc<dyn Model>,
  emitter: Emitter,
  cancel: CancellationToken,
) -> RunOutput {
  let mut input_save = PendingSave(None);
  let mut out = run_steps(config, model, emitter.clone(), cancel, &mut input_save).await;
  // A run that stopped early (model error, abort) still waits for its input to be saved: the
  // user's message is in the thread once the run has resolved.
  if let Err(e) = input_save.settle().await
    && out.error.is_none()
  {
    out.finish_reason = FinishReason::Error;
    emitter.emit("error", || json!({ "error": e }));
    out.error = Some(e);
  }
  out
}

/// The run's input being saved while the first model request is under way (it only has to be
/// stored before the first step's messages, which come after it in the thread).
struct PendingSave(Option<tokio::task::JoinHandle<Result<(), LumosError>>>);

impl PendingSave {
  async fn settle(&mut self) -> Result<(), LumosError> {
    match self.0.take() {
      None => Ok(()),
      Some(handle) => handle.await.unwrap_or_else(|e| {
        Err(LumosError::new(
          ErrorCode::Internal,
          format!("saving the run's input stopped unexpectedly: {e}"),
        ))
      }),
    }
  }
}

async fn run_steps(
  config: RunConfig,
  model: Arc<dyn Model>,
  emitter: Emitter,
  cancel: CancellationToken,
  input_save: &mut PendingSave,
) -> RunOutput {
  let started = now_millis();
  let message_id = uuid::Uuid::new_v4().to_string();
  let system_len = config
    .messages
    .iter()
    .take_while(|m| matches!(m, Message::System { .. }))
    .count();
  let mut history = config.messages;
  let new_input: Vec<Message> = history[system_len..].to_vec();
  let loaded = config.history;
  history.splice(system_len..system_len, loaded);
  let input_len = history.len();
  let recorder = config.recorder;
  let specs: Vec<_> = config.tools.iter().map(|t| t.spec().clone()).collect();

  let mut out = RunOutput {
    run_id: config.run_id.clone(),
    text: String::new(),
    reasoning_text: None,
    object: None,
    tool_calls: Vec::new(),
    tool_results: Vec::new(),
    steps: Vec::new(),
    usage: Usage::default(),
    total_usage: Usage::default(),
    finish_reason: FinishReason::Unknown,
    response: ResponseInfo {
      id: String::new(),
      model_id: model.model_id().to_string(),
      timestamp: iso8601(started),
      messages: Vec::new(),
    },
    messages: Vec::new(),
    error: None,
  };

  emitter.emit(
    "start",
    || json!({ "id": config.agent_id, "messageId": message_id }),
  );
  if let Some(r) = &recorder {
    input_save.0 = Some(tokio::spawn(r.record_input(new_input)));
  }

  let max_steps = config.max_steps.max(1);
  for step_index in 0..max_steps {
    emitter.emit(
      "step-start",
      || json!({ "messageId": message_id, "request": {}, "warnings": [] }),
    );
    let request = ModelRequest {
      messages: history.clone(),
      tools: specs.clone(),
      tool_choice: if specs.is_empty() {
        ToolChoice::Auto
      } else {
        config.tool_choice.clone()
      },
      settings: config.settings.clone(),
      response_format: config.response_format.clone(),
      stream: config.stream,
      provider_options: config.provider_options.clone(),
    };
    let step_started = now_millis();
    let stream = match call_with_retries(&*model, request, &config.retry, &cancel).await {
      Ok(s) => s,
      Err(e) => return fail(out, &emitter, e, &history, input_len),
    };
    let step = match consume_step(stream, &emitter, &config.run_id, &cancel).await {
      Ok(s) => s,
      Err((partial, e)) => {
        out.text.push_str(&partial);
        return fail(out, &emitter, e, &history, input_len);
      }
    };

    // The assistant turn as the model will see it next step.
    let mut assistant_parts = Vec::new();
    if let Some(r) = step.reasoning.as_ref().filter(|r| !r.is_empty()) {
      assistant_parts.push(Part::Reasoning { text: r.clone() });
    }
    if !step.text.is_empty() {
      assistant_parts.push(Part::Text {
        text: step.text.clone(),
      });
    }
    for call in &step.tool_calls {
      assistant_parts.push(Part::ToolCall {
        tool_call_id: call.id.clone(),
        tool_name: call.name.clone(),
        input: call.args.clone(),
      });
    }
    let mut step_messages = vec![Message::Assistant {
      content: assistant_parts,
    }];

    let call_chunks: Vec<Value> = step
      .tool_calls
      .iter()
      .map(|c| {
        envelope(
          &config.run_id,
          "tool-call",
          json!({ "toolCallId": c.id, "toolName": c.name, "args": c.args }),
        )
      })
      .collect();
    for chunk in &call_chunks {
      emitter.emit_value(chunk);
    }

    let mut step_results = Vec::new();
    if !step.tool_calls.is_empty() {
      let executed = tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        r = execute_tools(&config.tools, &step.tool_calls, &config.run_id, config.tool_concurrency, &cancel) => Some(r),
      };
      let Some(executed) = executed else {
        return fail(out, &emitter, ModelError::Aborted, &history, input_len);
      };
      let mut result_parts = Vec::new();
      for (call, (output, result_chunk, error_chunk)) in step.tool_calls.iter().zip(executed) {
        if let Some(chunk) = result_chunk {
          emitter.emit_value(&chunk);
          step_results.push(chunk);
        }
        if let Some(chunk) = error_chunk {
          emitter.emit_value(&chunk);
        }
        result_parts.push(Part::ToolResult {
          tool_call_id: call.id.clone(),
          tool_name: call.name.clone(),
          output,
        });
      }
      step_messages.push(Message::Tool {
        content: result_parts,
      });
    }

    let has_calls = !step.tool_calls.is_empty();
    out.total_usage.add(&step.usage);
    out.text.push_str(&step.text);
    if let Some(r) = &step.reasoning {
      out
        .reasoning_text
        .get_or_insert_with(String::new)
        .push_str(r);
    }
    out.tool_calls.extend(call_chunks.iter().cloned());
    out.tool_results.extend(step_results.iter().cloned());
    out.finish_reason = step.finish_reason;
    out.response.id = step
      .response_id
      .clone()
      .unwrap_or_else(|| out.response.id.clone());
    if let Some(m) = &step.model_id {
      out.response.model_id = m.clone();
    }
    history.extend(step_messages.iter().cloned());
    if let Some(r) = &recorder
      && let Err(e) = match input_save.settle().await {
        Ok(()) => r.record_step(step_messages.clone()).await,
        Err(e) => Err(e),
      }
    {
      return fail_with(out, &emitter, e, &history, input_len);
    }

    let mut step_result = StepResult {
      step_type: if step_index == 0 {
        "initial"
      } else {
        "tool-result"
      },
      text: step.text,
      reasoning_text: step.reasoning,
      tool_calls: call_chunks,
      tool_results: step_results,
      finish_reason: step.finish_reason,
      usage: step.usage,
      warnings: Vec::new(),
      is_continued: false,
      response: ResponseInfo {
        id: out.response.id.clone(),
        model_id: out.response.model_id.clone(),
        timestamp: iso8601(step_started),
        messages: step_messages,
      },
    };

    // Decide whether another step follows before reporting this one.
    let mut stop = !has_calls || step_index + 1 >= max_steps;
    if !stop {
      out.steps.push(step_result.clone());
      match should_stop(&config.stop_when, &out.steps).await {
        Ok(s) => stop = s,
        Err(e) => {
          out.steps.pop();
          out.error = Some(e);
          stop = true;
        }
      }
      out.steps.pop();
    }
    step_result.is_continued = !stop;
    let usage = step_result.usage;
    let reason = step_result.finish_reason;
    let step_text = step_result.text.clone();
    let response_meta = (
      step_result.response.id.clone(),
      step_result.response.model_id.clone(),
      step_result.response.timestamp.clone(),
    );
    out.steps.push(step_result);
    emitter.emit("step-finish", || {
      json!({
        "messageId": message_id,
        "stepResult": { "reason": reason, "warnings": [], "isContinued": !stop },
        "output": { "text": step_text, "usage": usage },
        "metadata": { "id": response_meta.0, "modelId": response_meta.1, "timestamp": response_meta.2 },
      })
    });
    if out.error.is_some() {
      let e = out
        .error
        .take()
        .unwrap_or_else(|| LumosError::new(ErrorCode::Internal, "unknown"));
      return fail_with(out, &emitter, e, &history, input_len);
    }
    if stop {
      break;
    }
  }

  if config.response_format.is_some() {
    let last_text = out
      .steps
      .last()
      .map(|s| s.text.as_str())
      .unwrap_or_default();
    out.object = parse_lenient(last_text);
  }
  finish(&mut out, &history, input_len);
  let (reason, usage, text) = (out.finish_reason, out.total_usage, out.text.clone());
  let (id, model_id, ts) = (
    out.response.id.clone(),
    out.response.model_id.clone(),
    out.response.timestamp.clone(),
  );
  emitter.emit("finish", || {
    json!({
      "messageId": message_id,
      "stepResult": { "reason": reason, "warnings": [], "isContinued": false },
      "output": { "text": text, "usage": usage },
      "totalUsage": usage,
      "metadata": { "id": id, "modelId": model_id, "timestamp": ts },
    })
  });
  out
}

fn finish(out: &mut RunOutput, history: &[Message], input_len: usize) {
  out.usage = out.total_usage;
  out.response.messages = history
    .get(input_len..)
    .map(<[Message]>::to_vec)
    .unwrap_or_default();
  out.messages = history
    .iter()
    .filter(|m| !matches!(m, Message::System { .. }))
    .cloned()
    .collect();
}

fn fail(
  out: RunOutput,
  emitter: &Emitter,
  error: ModelError,
  history: &[Message],
  input_len: usize,
) -> RunOutput {
  fail_with(out, emitter, error.into_lumos(), history, input_len)
}

fn fail_with(
  mut out: RunOutput,
  emitter: &Emitter,
  error: LumosError,
  history: &[Message],
  input_len: usize,
) -> RunOutput {
  finish(&mut out, history, input_len);
  if error.code == ErrorCode::Aborted {
    emitter.emit("abort", || json!({}));
  } else {
    out.finish_reason = FinishReason::Error;
    emitter.emit("error", || json!({ "error": error }));
  }
  out.error = Some(error);
  out
}

async fn call_with_retries(
  model: &dyn Model,
  request: ModelRequest,
  policy: &RetryPolicy,
  cancel: &CancellationToken,
) -> Result<ModelStream, ModelError> {
  with_retries(policy, cancel, || {
    model.call(request.clone(), cancel.clone())
  })
  .await
}

struct StepOutput {
  text: String,
  reasoning: Option<String>,
  tool_calls: Vec<ToolCallInfo>,
  finish_reason: FinishReason,
  usage: Usage,
  response_id: Option<String>,
  model_id: Option<String>,
}

/// Reads one model response, emitting text/reasoning/tool-input chunks as they arrive. On error
/// returns the text received so far with it.
async fn consume_step(
  mut stream: ModelStream,
  emitter: &Emitter,
  run_id: &str,
  cancel: &CancellationToken,
) -> Result<StepOutput, (String, ModelError)> {
  let mut out = StepOutput {
    text: String::new(),
    reasoning: None,
    tool_calls: Vec::new(),
    finish_reason: FinishReason::Unknown,
    usage: Usage::default(),
    response_id: None,
    model_id: None,
  };
  let text_id = uuid::Uuid::new_v4().to_string();
  let mut text_open = false;
  let mut reasoning_open = false;
  let mut finished = false;
  loop {
    let next = tokio::select! {
      biased;
      _ = cancel.cancelled() => Some(Err(ModelError::Aborted)),
      n = stream.next() => n,
    };
    let event = match next {
      None => break,
      Some(Ok(e)) => e,
      Some(Err(e)) => {
        close_blocks(emitter, &text_id, text_open, reasoning_open);
        return Err((out.text, e));
      }
    };
    match event {
      ModelEvent::Metadata { id, model_id } => {
        if id.is_some() {
          out.response_id = id;
        }
        if model_id.is_some() {
          out.model_id = model_id;
        }
        emitter.emit("response-metadata", || {
          json!({ "id": out.response_id, "modelId": out.model_id, "timestamp": iso8601(now_millis()) })
        });
      }
      ModelEvent::ReasoningDelta(delta) => {
        if !reasoning_open {
          reasoning_open = true;
          emitter.emit("reasoning-start", || json!({ "id": text_id }));
        }
        emitter.emit(
          "reasoning-delta",
          || json!({ "id": text_id, "text": delta }),
        );
        out
          .reasoning
          .get_or_insert_with(String::new)
          .push_str(&delta);
      }
      ModelEvent::TextDelta(delta) => {
        if delta.is_empty() {
          continue;
        }
        if reasoning_open {
          reasoning_open = false;
          emitter.emit("reasoning-end", || json!({ "id": text_id }));
        }
        if !text_open {
          text_open = true;
          emitter.emit("text-start", || json!({ "id": text_id }));
        }
        emitter.emit("text-delta", || json!({ "id": text_id, "text": delta }));
        out.text.push_str(&delta);
      }
      ModelEvent::ToolInputStart { id, name } => {
        emitter.emit(
          "tool-call-input-streaming-start",
          || json!({ "toolCallId": id, "toolName": name }),
        );
      }
      ModelEvent::ToolInputDelta { id, delta } => {
        emitter.emit(
          "tool-call-delta",
          || json!({ "toolCallId": id, "argsTextDelta": delta }),
        );
      }
      ModelEvent::ToolCall {
        id,
        name,
        arguments,
      } => {
        if emitter.is_active() {
          emitter.emit(
            "tool-call-input-streaming-end",
            || json!({ "toolCallId": id }),
          );
        }
        let id = if id.is_empty() {
          format!("call_{}", uuid::Uuid::new_v4().simple())
        } else {
          id
        };
        let (args, parse_error) = parse_arguments(&arguments);
        out.tool_calls.push(ToolCallInfo {
          id,
          name,
          args,
          parse_error,
        });
      }
      ModelEvent::Finish { reason, usage } => {
        out.finish_reason = reason;
        out.usage = usage;
        finished = true;
      }
    }
  }
  close_blocks(emitter, &text_id, text_open, reasoning_open);
  if !finished {
    out.finish_reason = if out.tool_calls.is_empty() {
      FinishReason::Stop
    } else {
      FinishReason::ToolCalls
    };
  }
  let _ = run_id;
  Ok(out)
}

fn close_blocks(emitter: &Emitter, text_id: &str, text_open: bool, reasoning_open: bool) {
  if reasoning_open {
    emitter.emit("reasoning-end", || json!({ "id": text_id }));
  }
  if text_open {
    emitter.emit("text-end", || json!({ "type": "text-end", "id": text_id }));
  }
}

/// Tool-call argument text → JSON. Empty text means no arguments (`{}`), as providers send for
/// parameterless tools.
fn parse_arguments(text: &str) -> (Value, Option<String>) {
  if text.trim().is_empty() {
    return (json!({}), None);
  }
  match serde_json::from_str::<Value>(text) {
    Ok(v) => (v, None),
    Err(e) => (
      json!({}),
      Some(format!(
        "the arguments are not valid JSON ({e}): {}",
        excerpt(text, 200)
      )),
    ),
  }
}

fn excerpt(text: &str, max: usize) -> String {
  if text.chars().count() <= max {
    text.to_string()
  } else {
    format!("{}…", text.chars().take(max).collect::<String>())
  }
}

type Executed = (ToolOutput, Option<Value>, Option<Value>);

/// Runs every call of a step, at most `concurrency` at once, results in call order.
async fn execute_tools(
  tools: &[Arc<dyn Tool>],
  calls: &[ToolCallInfo],
  run_id: &str,
  concurrency: usize,
  cancel: &CancellationToken,
) -> Vec<Executed> {
  let available = tools
    .iter()
    .map(|t| t.spec().name.as_str())
    .collect::<Vec<_>>()
    .join(", ");
  // Owned futures: borrowed ones trip the compiler's Send inference under `buffered`.
  let futures: Vec<_> = calls
    .iter()
    .map(|call| {
      let tool = tools.iter().find(|t| t.spec().name == call.name).cloned();
      execute_one(
        tool,
        available.clone(),
        call.clone(),
        run_id.to_string(),
        cancel.clone(),
      )
    })
    .collect();
  futures::stream::iter(futures)
    .buffered(concurrency.max(1))
    .collect()
    .await
}

async fn execute_one(
  tool: Option<Arc<dyn Tool>>,
  available: String,
  call: ToolCallInfo,
  run_id: String,
  cancel: CancellationToken,
) -> Executed {
  let run_id = run_id.as_str();
  let call = &call;
  let result_chunk = |result: &Value| {
    envelope(
      run_id,
      "tool-result",
      json!({ "args": call.args, "toolCallId": call.id, "toolName": call.name, "result": result }),
    )
  };
  let error_chunk = |error: Value| {
    envelope(
      run_id,
      "tool-error",
      json!({ "args": call.args, "toolCallId": call.id, "toolName": call.name, "error": error }),
    )
  };

  let Some(tool) = tool else {
    let message = format!(
      "Tool \"{}\" not found. Available tools: {available}",
      call.name
    );
    let error =
      json!({ "name": "ToolNotFoundError", "code": "TOOL_NOT_FOUND", "message": message });
    return (
      ToolOutput::ErrorText(message),
      None,
      Some(error_chunk(error)),
    );
  };

  let invalid = |detail: String, errors: Value| {
    let message = format!(
      "Tool input validation failed for {}. Please fix the following errors and try again:\n{detail}",
      call.name
    );
    let result = json!({ "error": true, "message": message, "validationErrors": errors });
    let chunk = result_chunk(&result);
    (ToolOutput::Json(result), Some(chunk), None)
  };
  if let Some(parse_error) = &call.parse_error {
    return invalid(
      format!("- {parse_error}"),
      json!({ "formErrors": [parse_error] }),
    );
  }
  if tool.validate_in_core() {
    let issues = schema::validate(&tool.spec().parameters, &call.args);
    if !issues.is_empty() {
      return invalid(
        schema::issues_to_text(&issues),
        schema::issues_to_json(&issues),
      );
    }
  }

  let request = ToolCallRequest {
    run_id: run_id.to_string(),
    tool_call_id: call.id.clone(),
    tool_name: call.name.clone(),
    input: call.args.clone(),
  };
  match tool.call(request, cancel).await {
    ToolOutcome::Ok(value) => {
      let chunk = result_chunk(&value);
      (ToolOutput::Json(value), Some(chunk), None)
    }
    ToolOutcome::InvalidInput { message, errors } => {
      let result = json!({ "error": true, "message": message, "validationErrors": errors });
      let chunk = result_chunk(&result);
      (ToolOutput::Json(result), Some(chunk), None)
    }
    ToolOutcome::Failed { message, error } => (
      ToolOutput::ErrorText(message),
      None,
      Some(error_chunk(error)),
    ),
  }
}

async fn should_stop(
  conditions: &[StopCondition],
  steps: &[StepResult],
) -> Result<bool, LumosError> {
  for condition in conditions {
    let stop = match condition {
      StopCondition::StepCount(n) => steps.len() as u32 >= *n,
      StopCondition::HasToolCall(name) => steps.last().is_some_and(|s| {
        s.tool_calls
          .iter()
          .any(|c| c.pointer("/payload/toolName").and_then(Value::as_str) == Some(name))
      }),
      StopCondition::Hook(hook) => {
        let steps_json = serde_json::to_value(steps).unwrap_or(Value::Null);
        hook.should_stop(steps_json).await?
      }
    };
    if stop {
      return Ok(true);
    }
  }
  Ok(false)
}

/// Waits up to `limit` for `fut`; used by tests and hosts that bound a run.
pub async fn with_deadline<T>(
  limit: Duration,
  fut: impl std::future::Future<Output = T>,
) -> Option<T> {
  tokio::time::timeout(limit, fut).await.ok()
}

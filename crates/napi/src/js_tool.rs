//! Tools whose `execute` is a JS function. One dispatcher per agent: Rust sends the call as
//! JSON, the facade validates (zod), runs `execute` and answers with JSON. The dispatcher never
//! rejects: every JS failure is already an answer.

use std::sync::Arc;

use futures::future::BoxFuture;
use lumos_core::{Tool, ToolCallRequest, ToolOutcome, ToolSpec};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub type ToolDispatchFn =
  ThreadsafeFunction<String, Promise<String>, String, napi::Status, false, true>;

pub struct JsTool {
  pub spec: ToolSpec,
  pub validate: bool,
  pub dispatch: Arc<ToolDispatchFn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Answer {
  Ok(Value),
  Invalid { message: String, errors: Value },
  Error { message: String, error: Value },
}

impl Tool for JsTool {
  fn spec(&self) -> &ToolSpec {
    &self.spec
  }

  fn validate_in_core(&self) -> bool {
    self.validate
  }

  fn call(
    &self,
    request: ToolCallRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'static, ToolOutcome> {
    let dispatch = self.dispatch.clone();
    Box::pin(async move {
      let payload = json!({
        "runId": request.run_id,
        "toolCallId": request.tool_call_id,
        "toolName": request.tool_name,
        "input": request.input,
      })
      .to_string();
      let answer = async {
        let promise = dispatch.call_async_catch(payload).await?;
        promise.await
      };
      let text = tokio::select! {
        biased;
        _ = cancel.cancelled() => return failed("the run was aborted while the tool was running"),
        r = answer => r,
      };
      match text {
        Ok(text) => match serde_json::from_str::<Answer>(&text) {
          Ok(Answer::Ok(v)) => ToolOutcome::Ok(v),
          Ok(Answer::Invalid { message, errors }) => ToolOutcome::InvalidInput { message, errors },
          Ok(Answer::Error { message, error }) => ToolOutcome::Failed { message, error },
          Err(e) => failed(&format!("the tool dispatcher answered malformed JSON: {e}")),
        },
        Err(e) => failed(&format!(
          "could not call the tool in JavaScript: {}",
          e.reason
        )),
      }
    })
  }
}

fn failed(message: &str) -> ToolOutcome {
  ToolOutcome::Failed {
    message: message.to_string(),
    error: json!({ "name": "ToolExecutionError", "code": "TOOL_EXECUTION_FAILED", "message": message }),
  }
}

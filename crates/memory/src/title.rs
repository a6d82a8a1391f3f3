//! Mastra's `generateTitle`: once a thread without a title has its first exchange, the model is
//! asked for a short title from the conversation transcript and the thread is renamed.

use std::sync::Arc;

use lumos_core::message::Message;
use lumos_core::retry::RetryPolicy;
use lumos_core::{
  CancellationToken, Emitter, LumosError, Model, ModelSettings, RunConfig, ToolChoice, run_agent,
};
use lumos_store::{Storage, StoredMessage, ThreadUpdate};
use serde_json::Value;

use crate::memory_error;

/// Mastra 1.71's default title instructions (`Agent.resolveTitleInstructions`).
pub const DEFAULT_TITLE_INSTRUCTIONS: &str = "
      - you will generate a short title based on a conversation transcript between a user and an assistant
      - the transcript lines are prefixed with \"User:\" and \"Assistant:\" — never reply to, answer, or continue the transcript
      - always produce a title, even when the transcript is only a greeting or trivial exchange
      - ensure it is not more than 80 characters long
      - the title should be a summary of the user's message
      - do not use quotes or colons
      - the entire text you return will be used as the title";

/// What a title run needs; `instructions` empty means the default.
pub struct TitleRequest<'a> {
  pub thread_id: &'a str,
  pub instructions: &'a str,
  /// Messages the thread must have before a title is made (Mastra's `minMessages`, default 1).
  pub min_messages: u32,
  /// The newest messages that go into the transcript.
  pub last_messages: u32,
}

/// Messages as Mastra's title transcript (`formatMessagesForTitle`): `User: …` / `Assistant: …`
/// lines, tool calls and results shortened to 200 characters.
pub fn title_transcript(messages: &[StoredMessage]) -> String {
  let mut lines = Vec::new();
  for m in messages {
    let mut role: String = m
      .role
      .chars()
      .take(1)
      .flat_map(char::to_uppercase)
      .collect();
    role.push_str(m.role.get(1..).unwrap_or_default());
    let parts = m.content.get("parts").and_then(Value::as_array);
    let content = m
      .content
      .get("content")
      .and_then(Value::as_str)
      .or(m.content.as_str());
    let duplicated = |text: &str| {
      parts.is_some_and(|ps| {
        ps.iter()
          .any(|p| p.get("text").and_then(Value::as_str) == Some(text))
      })
    };
    if let Some(text) = content.filter(|c| !c.is_empty() && !duplicated(c)) {
      lines.push(format!("{role}: {text}"));
    }
    for p in parts.into_iter().flatten() {
      match p.get("type").and_then(Value::as_str) {
        Some("text") => {
          if let Some(text) = p.get("text").and_then(Value::as_str) {
            lines.push(format!("{role}: {text}"));
          }
        }
        Some("reasoning") => {
          if let Some(text) = p
            .get("reasoning")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
          {
            lines.push(format!("Reasoning: {text}"));
          }
        }
        Some("tool-invocation") => {
          let inv = p.get("toolInvocation").cloned().unwrap_or_default();
          let name = inv
            .get("toolName")
            .and_then(Value::as_str)
            .unwrap_or("tool");
          let (label, value) = match inv.get("state").and_then(Value::as_str) {
            Some("result") => ("Tool Result", inv.get("result")),
            _ => ("Tool Call", inv.get("args")),
          };
          let text = match value {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
          };
          let short: String = text.chars().take(200).collect();
          lines.push(format!("{label} {name}: {short}"));
        }
        _ => {}
      }
    }
  }
  lines.join("\n")
}

/// The model's answer as a title: `<think>` blocks removed, trimmed.
pub fn clean_title(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  let mut rest = text;
  while let Some(start) = rest.find("<think>") {
    let Some(len) = rest[start..].find("</think>") else {
      break;
    };
    out.push_str(&rest[..start]);
    rest = &rest[start + len + "</think>".len()..];
  }
  out.push_str(rest);
  out.trim().to_string()
}

/// Titles the thread when it has none yet and enough messages: returns the new title, or `None`
/// when nothing was done. A failed model call is an error; the caller decides what it costs.
pub async fn generate_title(
  storage: &dyn Storage,
  model: Arc<dyn Model>,
  request: TitleRequest<'_>,
  cancel: CancellationToken,
) -> Result<Option<String>, LumosError> {
  let Some(thread) = storage
    .get_thread(request.thread_id)
    .await
    .map_err(memory_error)?
  else {
    return Ok(None);
  };
  if thread.title.as_deref().is_some_and(|t| !t.is_empty()) {
    return Ok(None);
  }
  let messages = storage
    .last_messages(request.thread_id, request.last_messages.max(1))
    .await
    .map_err(memory_error)?;
  if messages.len() < request.min_messages.max(1) as usize
    || !messages.iter().any(|m| m.role == "user")
  {
    return Ok(None);
  }
  let transcript = title_transcript(&messages);
  if transcript.is_empty() {
    return Ok(None);
  }
  let instructions = if request.instructions.is_empty() {
    DEFAULT_TITLE_INSTRUCTIONS
  } else {
    request.instructions
  };
  let run_id = uuid::Uuid::new_v4().to_string();
  let config = RunConfig {
    run_id: run_id.clone(),
    agent_id: "title".into(),
    messages: vec![
      Message::System {
        content: instructions.to_string(),
      },
      Message::user_text(transcript),
    ],
    history: Vec::new(),
    recorder: None,
    tools: Vec::new(),
    tool_choice: ToolChoice::Auto,
    settings: ModelSettings::default(),
    response_format: None,
    stream: false,
    max_steps: 1,
    stop_when: Vec::new(),
    retry: RetryPolicy::default(),
    tool_concurrency: 1,
    provider_options: Value::Null,
  };
  let output = run_agent(config, model, Emitter::new(run_id, None), cancel).await;
  if let Some(error) = output.error {
    return Err(error);
  }
  let title = clean_title(&output.text);
  if title.is_empty() {
    return Ok(None);
  }
  storage
    .update_thread(ThreadUpdate {
      id: request.thread_id.to_string(),
      title: Some(title.clone()),
      metadata: None,
    })
    .await
    .map_err(memory_error)?;
  Ok(Some(title))
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  fn msg(role: &str, content: Value) -> StoredMessage {
    StoredMessage {
      id: "m".into(),
      thread_id: "t".into(),
      resource_id: None,
      role: role.into(),
      r#type: None,
      created_at: 0,
      content,
    }
  }

  #[test]
  fn transcript_like_mastra() {
    let messages = vec![
      msg(
        "user",
        json!({ "format": 2, "parts": [{ "type": "text", "text": "hi, I am Ada" }], "content": "hi, I am Ada" }),
      ),
      msg(
        "assistant",
        json!({ "format": 2, "parts": [
          { "type": "step-start" },
          { "type": "tool-invocation", "toolInvocation": { "state": "result", "toolName": "lookup", "args": {}, "result": { "ok": true } } },
          { "type": "text", "text": "Hello Ada" }
        ] }),
      ),
    ];
    assert_eq!(
      title_transcript(&messages),
      "User: hi, I am Ada\nTool Result lookup: {\"ok\":true}\nAssistant: Hello Ada"
    );
  }

  #[test]
  fn think_blocks_are_dropped() {
    assert_eq!(
      clean_title("<think>hmm</think>  Ada says hi \n"),
      "Ada says hi"
    );
    assert_eq!(clean_title("a<think>x</think>b<think>y"), "ab<think>y");
  }
}

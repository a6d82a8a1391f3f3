//! Mastra's conversation memory on `lumos-store`: loads a thread's recent history into a run,
//! and records the run as it happens (input first, then each completed step), so an aborted or
//! failed run keeps everything finished before it stopped.
//!
//! Messages are stored in Mastra's `MastraDBMessage` shape (`content: { format: 2, parts }`):
//! an assistant turn is one message whose `tool-invocation` parts carry each call and, once it
//! ran, its result — the way Mastra stores them.

pub mod recall;
pub mod title;

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use lumos_core::message::{Message, Part, ToolOutput};
use lumos_core::{ErrorCode, LumosError, RunRecorder};
use lumos_store::{Storage, StoreError, StoredMessage, Thread};
use serde_json::{Value, json};

fn memory_error(e: StoreError) -> LumosError {
  let mut err = LumosError::new(ErrorCode::Memory, format!("memory: {e} ({})", e.code()));
  err.retryable = false;
  err
}

fn now_millis() -> i64 {
  lumos_core::time::now_millis() as i64
}

/// Model messages (one run's input or one step) → stored messages. Tool results are folded into
/// the preceding assistant message's `tool-invocation` parts; `created_at` counts up from `base`
/// so order survives equal clocks.
pub fn to_db_messages(
  messages: &[Message],
  thread_id: &str,
  resource_id: &str,
  base: i64,
) -> Vec<StoredMessage> {
  let mut out: Vec<StoredMessage> = Vec::new();
  for message in messages {
    let (role, parts): (&str, Vec<Value>) = match message {
      Message::System { .. } => continue,
      Message::User { content } => ("user", content.iter().filter_map(user_part).collect()),
      Message::Assistant { content } => {
        let mut parts = vec![json!({ "type": "step-start" })];
        parts.extend(content.iter().filter_map(assistant_part));
        ("assistant", parts)
      }
      Message::Tool { content } => {
        // Attach each result to its call in the assistant message just stored.
        if let Some(last) = out.last_mut().filter(|m| m.role == "assistant") {
          for part in content {
            if let Part::ToolResult {
              tool_call_id,
              output,
              ..
            } = part
            {
              attach_result(&mut last.content, tool_call_id, output);
            }
          }
        }
        continue;
      }
    };
    let text: String = parts
      .iter()
      .filter_map(|p| p.get("text").and_then(Value::as_str))
      .collect::<Vec<_>>()
      .join("");
    let index = out.len() as i64;
    out.push(StoredMessage {
      id: uuid::Uuid::new_v4().to_string(),
      thread_id: thread_id.to_string(),
      resource_id: Some(resource_id.to_string()),
      role: role.to_string(),
      r#type: Some("text".to_string()),
      created_at: base + index,
      content: json!({ "format": 2, "parts": parts, "content": text }),
    });
  }
  out
}

fn user_part(p: &Part) -> Option<Value> {
  match p {
    Part::Text { text } => Some(json!({ "type": "text", "text": text })),
    Part::Image { image, media_type } => {
      Some(json!({ "type": "file", "data": image, "mimeType": media_type }))
    }
    _ => None,
  }
}

fn assistant_part(p: &Part) -> Option<Value> {
  match p {
    Part::Text { text } => Some(json!({ "type": "text", "text": text })),
    Part::Reasoning { text } => Some(
      json!({ "type": "reasoning", "reasoning": text, "details": [{ "type": "text", "text": text }] }),
    ),
    Part::ToolCall {
      tool_call_id,
      tool_name,
      input,
    } => Some(json!({
      "type": "tool-invocation",
      "toolInvocation": { "state": "call", "toolCallId": tool_call_id, "toolName": tool_name, "args": input },
    })),
    _ => None,
  }
}

fn attach_result(content: &mut Value, call_id: &str, output: &ToolOutput) {
  let Some(parts) = content.get_mut("parts").and_then(Value::as_array_mut) else {
    return;
  };
  for part in parts {
    let Some(inv) = part.get_mut("toolInvocation") else {
      continue;
    };
    if inv.get("toolCallId").and_then(Value::as_str) == Some(call_id) {
      let result = match output {
        ToolOutput::Json(v) | ToolOutput::ErrorJson(v) => v.clone(),
        ToolOutput::Text(s) | ToolOutput::ErrorText(s) => Value::String(s.clone()),
      };
      inv["state"] = json!("result");
      inv["result"] = result;
      if output.is_error() {
        inv["isError"] = json!(true);
      }
    }
  }
}

/// Stored messages → model messages for the next run. Calls that never got a result are dropped
/// (Mastra's `filterIncompleteToolCalls`), as are parts a model cannot take.
pub fn from_db_messages(stored: &[StoredMessage]) -> Vec<Message> {
  let mut out = Vec::with_capacity(stored.len());
  for m in stored {
    let parts = db_parts(&m.content);
    match m.role.as_str() {
      "user" => {
        let content: Vec<Part> = parts
          .iter()
          .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => Some(Part::Text {
              text: str_of(p, "text"),
            }),
            _ => None,
          })
          .collect();
        if !content.is_empty() {
          out.push(Message::User { content });
        }
      }
      "assistant" => {
        let mut content = Vec::new();
        let mut results = Vec::new();
        for p in &parts {
          match p.get("type").and_then(Value::as_str) {
            Some("text") => content.push(Part::Text {
              text: str_of(p, "text"),
            }),
            Some("tool-invocation") => {
              let Some(inv) = p.get("toolInvocation") else {
                continue;
              };
              if inv.get("state").and_then(Value::as_str) != Some("result") {
                continue;
              }
              let id = str_of(inv, "toolCallId");
              let name = str_of(inv, "toolName");
              content.push(Part::ToolCall {
                tool_call_id: id.clone(),
                tool_name: name.clone(),
                input: inv.get("args").cloned().unwrap_or_else(|| json!({})),
              });
              let result = inv.get("result").cloned().unwrap_or(Value::Null);
              let output = match (inv.get("isError").and_then(Value::as_bool), result) {
                (Some(true), Value::String(s)) => ToolOutput::ErrorText(s),
                (_, v) => ToolOutput::Json(v),
              };
              results.push(Part::ToolResult {
                tool_call_id: id,
                tool_name: name,
                output,
              });
            }
            _ => {}
          }
        }
        if !content.is_empty() {
          out.push(Message::Assistant { content });
        }
        if !results.is_empty() {
          out.push(Message::Tool { content: results });
        }
      }
      _ => {}
    }
  }
  out
}

fn db_parts(content: &Value) -> Vec<Value> {
  match content {
    Value::String(s) => vec![json!({ "type": "text", "text": s })],
    Value::Object(o) => match o.get("parts").and_then(Value::as_array) {
      Some(parts) if !parts.is_empty() => parts.clone(),
      _ => o
        .get("content")
        .and_then(Value::as_str)
        .map(|s| vec![json!({ "type": "text", "text": s })])
        .unwrap_or_default(),
    },
    _ => Vec::new(),
  }
}

fn str_of(v: &Value, key: &str) -> String {
  v.get(key)
    .and_then(Value::as_str)
    .unwrap_or_default()
    .to_string()
}

/// Creates the thread when it does not exist yet (Mastra does this on the first generate).
pub async fn ensure_thread(
  storage: &dyn Storage,
  thread_id: &str,
  resource_id: &str,
) -> Result<(), LumosError> {
  if storage
    .get_thread(thread_id)
    .await
    .map_err(memory_error)?
    .is_some()
  {
    return Ok(());
  }
  let now = now_millis();
  let thread = Thread {
    id: thread_id.to_string(),
    resource_id: resource_id.to_string(),
    title: None,
    metadata: None,
    created_at: now,
    updated_at: now,
  };
  storage.create_thread(thread).await.map_err(memory_error)?;
  Ok(())
}

/// The thread's recent history plus, with semantic recall, earlier messages similar to the new
/// input (recalled ones first, oldest first), as model messages.
pub async fn load_context(
  storage: &dyn Storage,
  recall: Option<&recall::SemanticRecall>,
  thread_id: &str,
  resource_id: &str,
  last: Option<u32>,
  input: &[Message],
) -> Result<Vec<Message>, LumosError> {
  // The history read and the recall (an embedding request, then the index) run side by side.
  let history = async {
    match last {
      Some(0) => Ok(Vec::new()),
      Some(n) => storage.last_messages(thread_id, n).await,
      None => storage.last_messages(thread_id, u32::MAX).await,
    }
    .map_err(memory_error)
  };
  let recalled = async {
    match recall {
      Some(r) => {
        r.recall(storage, &recall::query_text(input), thread_id, resource_id)
          .await
      }
      None => Ok(Vec::new()),
    }
  };
  let (recent, recalled) = tokio::try_join!(history, recalled)?;
  // Messages already in the recent history are not repeated.
  let in_history: HashSet<&str> = recent.iter().map(|m| m.id.as_str()).collect();
  let mut stored: Vec<StoredMessage> = recalled
    .into_iter()
    .filter(|m| !in_history.contains(m.id.as_str()))
    .collect();
  stored.extend(recent);
  Ok(from_db_messages(&stored))
}

/// Records a run into a thread as it happens (and indexes it for semantic recall).
pub struct ThreadRecorder {
  pub storage: Arc<dyn Storage>,
  pub thread_id: String,
  pub resource_id: String,
  pub recall: Option<Arc<recall::SemanticRecall>>,
}

impl ThreadRecorder {
  fn save(&self, messages: Vec<Message>) -> BoxFuture<'static, Result<(), LumosError>> {
    let storage = self.storage.clone();
    let recall = self.recall.clone();
    let stored = to_db_messages(&messages, &self.thread_id, &self.resource_id, now_millis());
    Box::pin(async move {
      if stored.is_empty() {
        return Ok(());
      }
      storage
        .save_messages(stored.clone())
        .await
        .map_err(memory_error)?;
      // Saved first: a failed embedding call never costs a message.
      match recall {
        Some(r) => r.index(&stored).await,
        None => Ok(()),
      }
    })
  }
}

impl RunRecorder for ThreadRecorder {
  fn record_input(&self, messages: Vec<Message>) -> BoxFuture<'static, Result<(), LumosError>> {
    self.save(messages)
  }
  fn record_step(&self, messages: Vec<Message>) -> BoxFuture<'static, Result<(), LumosError>> {
    self.save(messages)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_tool_step_round_trips_through_the_db_shape() {
    let step = vec![
      Message::Assistant {
        content: vec![
          Part::Text {
            text: "checking".into(),
          },
          Part::ToolCall {
            tool_call_id: "c1".into(),
            tool_name: "weather".into(),
            input: json!({ "city": "Paris" }),
          },
          Part::ToolCall {
            tool_call_id: "c2".into(),
            tool_name: "boom".into(),
            input: json!({}),
          },
        ],
      },
      Message::Tool {
        content: vec![
          Part::ToolResult {
            tool_call_id: "c1".into(),
            tool_name: "weather".into(),
            output: ToolOutput::Json(json!({ "t": 18 })),
          },
          Part::ToolResult {
            tool_call_id: "c2".into(),
            tool_name: "boom".into(),
            output: ToolOutput::ErrorText("failed".into()),
          },
        ],
      },
    ];
    let stored = to_db_messages(&step, "t", "r", 1000);
    assert_eq!(
      stored.len(),
      1,
      "tool results fold into the assistant message"
    );
    let parts = stored[0].content["parts"]
      .as_array()
      .cloned()
      .unwrap_or_default();
    assert_eq!(parts[0]["type"], "step-start");
    assert_eq!(parts[2]["toolInvocation"]["state"], "result");
    assert_eq!(parts[2]["toolInvocation"]["result"], json!({ "t": 18 }));
    assert_eq!(parts[3]["toolInvocation"]["isError"], true);
    let back = from_db_messages(&stored);
    assert_eq!(back, step);
  }

  #[test]
  fn user_text_and_incomplete_calls() {
    let input = vec![Message::user_text("hello")];
    let stored = to_db_messages(&input, "t", "r", 5);
    assert_eq!(stored[0].role, "user");
    assert_eq!(stored[0].content["content"], "hello");
    assert_eq!(from_db_messages(&stored), input);
    // A call without a result (the run stopped mid-tool) is not replayed.
    let pending = to_db_messages(
      &[Message::Assistant {
        content: vec![Part::ToolCall {
          tool_call_id: "x".into(),
          tool_name: "t".into(),
          input: json!({}),
        }],
      }],
      "t",
      "r",
      9,
    );
    assert!(from_db_messages(&pending).is_empty());
  }

  #[test]
  fn mastra_written_messages_are_read() {
    let m = StoredMessage {
      id: "m".into(),
      thread_id: "t".into(),
      resource_id: None,
      role: "user".into(),
      r#type: None,
      created_at: 1,
      content: json!({ "format": 2, "parts": [], "content": "plain" }),
    };
    assert_eq!(from_db_messages(&[m]), vec![Message::user_text("plain")]);
  }
}

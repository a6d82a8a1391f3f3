//! Conversation messages in the AI SDK `ModelMessage` shape (what `response.messages` holds),
//! and the normaliser for every input form `generate`/`stream` accept.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LumosError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Message {
  System { content: String },
  User { content: Vec<Part> },
  Assistant { content: Vec<Part> },
  Tool { content: Vec<Part> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Part {
  Text {
    text: String,
  },
  Reasoning {
    text: String,
  },
  #[serde(rename_all = "camelCase")]
  Image {
    image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
  },
  #[serde(rename_all = "camelCase")]
  ToolCall {
    tool_call_id: String,
    tool_name: String,
    input: Value,
  },
  #[serde(rename_all = "camelCase")]
  ToolResult {
    tool_call_id: String,
    tool_name: String,
    output: ToolOutput,
  },
}

/// AI SDK v5 tool-result output: what the model is shown for one tool call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum ToolOutput {
  Text(String),
  Json(Value),
  ErrorText(String),
  ErrorJson(Value),
}

impl ToolOutput {
  /// The text a provider sends as the tool message content.
  pub fn to_model_text(&self) -> String {
    match self {
      ToolOutput::Text(s) | ToolOutput::ErrorText(s) => s.clone(),
      ToolOutput::Json(v) | ToolOutput::ErrorJson(v) => match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
      },
    }
  }

  pub fn is_error(&self) -> bool {
    matches!(self, ToolOutput::ErrorText(_) | ToolOutput::ErrorJson(_))
  }
}

impl Message {
  pub fn user_text(text: impl Into<String>) -> Message {
    Message::User {
      content: vec![Part::Text { text: text.into() }],
    }
  }

  /// Concatenated text parts (used for system messages given as parts and for tests).
  pub fn text(&self) -> String {
    match self {
      Message::System { content } => content.clone(),
      Message::User { content } | Message::Assistant { content } | Message::Tool { content } => {
        content
          .iter()
          .filter_map(|p| match p {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
          })
          .collect()
      }
    }
  }
}

/// Normalises Mastra's `MessageListInput`: a string, a string[], a message object or an array of
/// them. Message content may be a string or an array of parts; UI messages carry `parts`.
pub fn parse_messages(input: &Value) -> Result<Vec<Message>, LumosError> {
  match input {
    Value::String(s) => Ok(vec![Message::user_text(s.clone())]),
    Value::Array(items) => {
      let mut out = Vec::with_capacity(items.len());
      for (i, item) in items.iter().enumerate() {
        match item {
          Value::String(s) => out.push(Message::user_text(s.clone())),
          Value::Object(_) => out.push(parse_message(item).map_err(|e| at_index(e, i))?),
          other => {
            return Err(LumosError::invalid_input(format!(
              "messages[{i}] must be a string or a message object like {{ role: 'user', content: 'hi' }}, got {}",
              json_type_name(other)
            )));
          }
        }
      }
      Ok(out)
    }
    Value::Object(_) => Ok(vec![parse_message(input)?]),
    other => Err(LumosError::invalid_input(format!(
      "messages must be a string, a string[] or message objects, got {}",
      json_type_name(other)
    ))),
  }
}

fn at_index(mut e: LumosError, i: usize) -> LumosError {
  e.message = format!("messages[{i}]: {}", e.message);
  e
}

/// "a string", "an object", …: what a JSON value is, for error messages.
pub fn json_type_name(v: &Value) -> &'static str {
  match v {
    Value::Null => "null",
    Value::Bool(_) => "a boolean",
    Value::Number(_) => "a number",
    Value::String(_) => "a string",
    Value::Array(_) => "an array",
    Value::Object(_) => "an object",
  }
}

fn parse_message(v: &Value) -> Result<Message, LumosError> {
  let role = v.get("role").and_then(Value::as_str).ok_or_else(|| {
    LumosError::invalid_input(
      "a message object needs a `role` ('system' | 'user' | 'assistant' | 'tool')",
    )
  })?;
  // UI messages (AI SDK v5) keep their content in `parts`; v4 UI messages have a string `content`.
  let content = match (v.get("content"), v.get("parts")) {
    // An empty `content` next to `parts` (v5 UI messages) defers to the parts.
    (Some(c), parts) if !(c.is_null() || c.as_str() == Some("") && parts.is_some()) => c,
    (_, Some(p)) => p,
    (Some(c), None) => c,
    (None, None) => {
      return Err(LumosError::invalid_input(format!(
        "a '{role}' message needs `content`"
      )));
    }
  };
  let parts = parse_parts(content)?;
  match role {
    "system" => Ok(Message::System {
      content: parts_text(&parts),
    }),
    "user" => Ok(Message::User { content: parts }),
    "assistant" => Ok(Message::Assistant { content: parts }),
    "tool" => Ok(Message::Tool { content: parts }),
    other => Err(LumosError::invalid_input(format!(
      "unknown message role '{other}': use 'system', 'user', 'assistant' or 'tool'"
    ))),
  }
}

fn parts_text(parts: &[Part]) -> String {
  parts
    .iter()
    .filter_map(|p| match p {
      Part::Text { text } => Some(text.as_str()),
      _ => None,
    })
    .collect::<Vec<_>>()
    .join("\n")
}

fn parse_parts(content: &Value) -> Result<Vec<Part>, LumosError> {
  match content {
    Value::String(s) => Ok(vec![Part::Text { text: s.clone() }]),
    Value::Array(items) => {
      let mut parts = Vec::with_capacity(items.len());
      for item in items {
        if let Some(part) = parse_part(item)? {
          parts.push(part);
        }
      }
      Ok(parts)
    }
    other => Err(LumosError::invalid_input(format!(
      "message content must be a string or an array of parts, got {}",
      json_type_name(other)
    ))),
  }
}

fn str_field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
  keys.iter().find_map(|k| v.get(*k).and_then(Value::as_str))
}

/// One content part. Unknown part kinds (step-start markers, sources…) are skipped, as the AI SDK does.
fn parse_part(v: &Value) -> Result<Option<Part>, LumosError> {
  if let Value::String(s) = v {
    return Ok(Some(Part::Text { text: s.clone() }));
  }
  let kind = v.get("type").and_then(Value::as_str).unwrap_or("text");
  Ok(match kind {
    "text" => Some(Part::Text {
      text: str_field(v, &["text"]).unwrap_or_default().to_string(),
    }),
    "reasoning" => Some(Part::Reasoning {
      text: str_field(v, &["text", "reasoning"])
        .unwrap_or_default()
        .to_string(),
    }),
    "image" | "file" => {
      let image = str_field(v, &["image", "data", "url"])
        .unwrap_or_default()
        .to_string();
      let media_type = str_field(v, &["mediaType", "mimeType"]).map(str::to_string);
      Some(Part::Image { image, media_type })
    }
    "tool-call" => Some(Part::ToolCall {
      tool_call_id: str_field(v, &["toolCallId"])
        .unwrap_or_default()
        .to_string(),
      tool_name: str_field(v, &["toolName"]).unwrap_or_default().to_string(),
      input: v
        .get("input")
        .or_else(|| v.get("args"))
        .cloned()
        .unwrap_or(Value::Object(Default::default())),
    }),
    "tool-result" => {
      let output = match v.get("output") {
        Some(o) if o.get("type").is_some() => serde_json::from_value(o.clone())
          .map_err(|e| LumosError::invalid_input(format!("invalid tool-result output: {e}")))?,
        Some(o) => ToolOutput::Json(o.clone()),
        None => ToolOutput::Json(v.get("result").cloned().unwrap_or(Value::Null)),
      };
      Some(Part::ToolResult {
        tool_call_id: str_field(v, &["toolCallId"])
          .unwrap_or_default()
          .to_string(),
        tool_name: str_field(v, &["toolName"]).unwrap_or_default().to_string(),
        output,
      })
    }
    _ => None,
  })
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn accepts_every_input_form() {
    assert_eq!(
      parse_messages(&json!("hi")).ok(),
      Some(vec![Message::user_text("hi")])
    );
    let two = parse_messages(&json!(["a", "b"])).ok().unwrap_or_default();
    assert_eq!(two.len(), 2);
    let objs = parse_messages(&json!([
      { "role": "system", "content": "be brief" },
      { "role": "user", "content": [{ "type": "text", "text": "x" }, { "type": "text", "text": "y" }] },
      { "role": "assistant", "parts": [{ "type": "step-start" }, { "type": "text", "text": "z" }] }
    ]))
    .ok()
    .unwrap_or_default();
    assert_eq!(objs.len(), 3);
    assert_eq!(
      objs[0],
      Message::System {
        content: "be brief".into()
      }
    );
    assert_eq!(objs[1].text(), "xy");
    assert_eq!(objs[2].text(), "z");
  }

  #[test]
  fn rejects_bad_input_with_a_path() {
    let err = parse_messages(&json!(["ok", 3]))
      .err()
      .map(|e| e.message)
      .unwrap_or_default();
    assert!(err.contains("messages[1]"), "{err}");
    let err = parse_messages(&json!({ "role": "robot", "content": "x" }))
      .err()
      .map(|e| e.message)
      .unwrap_or_default();
    assert!(err.contains("unknown message role"), "{err}");
    assert!(parse_messages(&json!(42)).is_err());
  }

  #[test]
  fn tool_output_round_trips_in_ai_sdk_shape() {
    let out = ToolOutput::Json(json!({ "a": 1 }));
    assert_eq!(
      serde_json::to_value(&out).ok(),
      Some(json!({ "type": "json", "value": { "a": 1 } }))
    );
    assert_eq!(ToolOutput::ErrorText("boom".into()).to_model_text(), "boom");
  }
}

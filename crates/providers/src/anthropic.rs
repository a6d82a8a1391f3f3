//! Anthropic Messages (`POST {base}/messages`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use futures::future::BoxFuture;
use lumos_core::message::{Message, Part};
use lumos_core::model::{
  FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelStream, ToolChoice, Usage,
};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::ProviderConfig;
use crate::http::{
  Endpoint, SseDecoder, call_endpoint, excerpt, fresh_call_id, header_map, merge_provider_options,
  parse_json, secret_header, shared_client,
};
use crate::sse::SseEvent;

pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is sent when the settings have none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A Claude model behind the Anthropic Messages API.
pub struct AnthropicModel {
  endpoint: Arc<Endpoint>,
  model_id: String,
}

impl AnthropicModel {
  pub fn new(config: ProviderConfig) -> Result<Self, ModelError> {
    let client = shared_client(config.connect_timeout, config.read_timeout)?;
    let mut headers = HeaderMap::new();
    if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
      headers.insert("x-api-key", secret_header(key, "API key")?);
    }
    headers.insert(
      "anthropic-version",
      HeaderValue::from_static(ANTHROPIC_VERSION),
    );
    headers.extend(header_map(&config.headers)?);
    let endpoint = Endpoint {
      url: config.endpoint_url("messages"),
      provider: config.provider.clone(),
      headers,
      client,
      connect_timeout: config.connect_timeout,
      read_timeout: config.read_timeout,
    };
    Ok(AnthropicModel {
      endpoint: Arc::new(endpoint),
      model_id: config.model_id,
    })
  }

  /// The URL requests go to.
  pub fn url(&self) -> &str {
    &self.endpoint.url
  }

  /// The JSON body sent for `request`.
  pub fn request_body(&self, request: &ModelRequest) -> Value {
    let s = &request.settings;
    let mut body = Map::new();
    body.insert("model".into(), Value::String(self.model_id.clone()));
    body.insert(
      "max_tokens".into(),
      Value::from(s.max_output_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    let (system, messages) = wire_messages(&request.messages);
    if let Some(system) = system {
      body.insert("system".into(), Value::String(system));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
      let tools = request
        .tools
        .iter()
        .map(|t| {
          let schema = if t.parameters.is_null() {
            json!({ "type": "object", "properties": {} })
          } else {
            t.parameters.clone()
          };
          let mut tool = Map::new();
          tool.insert("name".into(), Value::String(t.name.clone()));
          if !t.description.is_empty() {
            tool.insert("description".into(), Value::String(t.description.clone()));
          }
          tool.insert("input_schema".into(), schema);
          Value::Object(tool)
        })
        .collect();
      body.insert("tools".into(), Value::Array(tools));
      // `auto` is the API default and is left out, as the official SDKs do.
      let choice = match &request.tool_choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some(json!({ "type": "none" })),
        ToolChoice::Required => Some(json!({ "type": "any" })),
        ToolChoice::Tool { tool_name } => Some(json!({ "type": "tool", "name": tool_name })),
      };
      if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
      }
    }
    if let Some(format) = &request.response_format {
      body.insert(
        "output_config".into(),
        json!({ "format": { "type": "json_schema", "schema": format.schema } }),
      );
    }
    let mut put = |key: &str, value: Option<Value>| {
      if let Some(v) = value {
        body.insert(key.into(), v);
      }
    };
    put("temperature", s.temperature.map(Value::from));
    put("top_p", s.top_p.map(Value::from));
    put("top_k", s.top_k.map(Value::from));
    if !s.stop_sequences.is_empty() {
      body.insert("stop_sequences".into(), json!(s.stop_sequences));
    }
    if request.stream {
      body.insert("stream".into(), Value::Bool(true));
    }
    merge_provider_options(&mut body, &request.provider_options);
    Value::Object(body)
  }
}

impl Model for AnthropicModel {
  fn provider(&self) -> &str {
    &self.endpoint.provider
  }

  fn model_id(&self) -> &str {
    &self.model_id
  }

  fn call(
    &self,
    request: ModelRequest,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<ModelStream, ModelError>> {
    let provider = self.endpoint.provider.clone();
    let decoder = MessagesDecoder::new(provider.clone());
    let body = self.request_body(&request);
    Box::pin(call_endpoint(
      &self.endpoint,
      body,
      request.stream,
      cancel,
      decoder,
      move |text| parse_message(&provider, text),
    ))
  }
}

// ---------------------------------------------------------------------------------------------
// Request mapping

/// System text (all system messages, joined) and the alternating user/assistant messages.
fn wire_messages(messages: &[Message]) -> (Option<String>, Vec<Value>) {
  let mut system: Vec<&str> = Vec::new();
  let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::with_capacity(messages.len());
  let mut push = |role: &'static str, block: Value| match turns.last_mut() {
    Some((last, blocks)) if *last == role => blocks.push(block),
    _ => turns.push((role, vec![block])),
  };
  for message in messages {
    match message {
      Message::System { content } => {
        if !content.is_empty() {
          system.push(content);
        }
      }
      Message::User { content } => {
        for part in content {
          match part {
            Part::Text { text } if !text.is_empty() => {
              push("user", json!({ "type": "text", "text": text }))
            }
            Part::Image { image, media_type } => {
              push("user", media_block(image, media_type.as_deref()))
            }
            Part::ToolResult {
              tool_call_id,
              output,
              ..
            } => push("user", tool_result(tool_call_id, output)),
            _ => {}
          }
        }
      }
      Message::Assistant { content } => {
        for part in content {
          match part {
            Part::Text { text } if !text.is_empty() => {
              push("assistant", json!({ "type": "text", "text": text }))
            }
            Part::ToolCall {
              tool_call_id,
              tool_name,
              input,
            } => push(
              "assistant",
              json!({ "type": "tool_use", "id": tool_call_id, "name": tool_name, "input": tool_input(input) }),
            ),
            _ => {}
          }
        }
      }
      Message::Tool { content } => {
        for part in content {
          if let Part::ToolResult {
            tool_call_id,
            output,
            ..
          } = part
          {
            push("user", tool_result(tool_call_id, output));
          }
        }
      }
    }
  }
  let messages = turns
    .into_iter()
    .map(|(role, mut blocks)| {
      // A lone text block goes as a plain string, as the official SDKs send it.
      let content = match blocks.as_mut_slice() {
        [block] if block.get("type").and_then(Value::as_str) == Some("text") => {
          block.get_mut("text").map(Value::take).unwrap_or_default()
        }
        _ => Value::Array(blocks),
      };
      json!({ "role": role, "content": content })
    })
    .collect();
  let system = (!system.is_empty()).then(|| system.join("\n\n"));
  (system, messages)
}

fn tool_result(id: &str, output: &lumos_core::message::ToolOutput) -> Value {
  let mut block = Map::new();
  block.insert("type".into(), json!("tool_result"));
  block.insert("tool_use_id".into(), json!(id));
  block.insert("content".into(), Value::String(output.to_model_text()));
  if output.is_error() {
    block.insert("is_error".into(), Value::Bool(true));
  }
  Value::Object(block)
}

/// `tool_use.input` must be an object.
fn tool_input(input: &Value) -> Value {
  match input {
    Value::Object(_) => input.clone(),
    Value::String(s) => match serde_json::from_str::<Value>(s) {
      Ok(v @ Value::Object(_)) => v,
      _ => json!({}),
    },
    _ => json!({}),
  }
}

fn media_block(data: &str, media_type: Option<&str>) -> Value {
  if data.starts_with("http://") || data.starts_with("https://") {
    let kind = if media_type == Some("application/pdf") {
      "document"
    } else {
      "image"
    };
    return json!({ "type": kind, "source": { "type": "url", "url": data } });
  }
  let (media_type, payload) = match data.strip_prefix("data:").and_then(|d| d.split_once(',')) {
    Some((meta, payload)) => (
      meta
        .split(';')
        .next()
        .filter(|m| !m.is_empty())
        .or(media_type),
      payload,
    ),
    None => (media_type, data),
  };
  let media_type = media_type.unwrap_or("image/jpeg");
  let kind = if media_type == "application/pdf" {
    "document"
  } else {
    "image"
  };
  json!({ "type": kind, "source": { "type": "base64", "media_type": media_type, "data": payload } })
}

// ---------------------------------------------------------------------------------------------
// Wire types

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
  input_tokens: Option<u64>,
  output_tokens: Option<u64>,
  cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ApiError {
  #[serde(rename = "type")]
  kind: Option<String>,
}

#[derive(Deserialize)]
struct ContentBlock {
  #[serde(rename = "type")]
  kind: String,
  text: Option<String>,
  thinking: Option<String>,
  id: Option<String>,
  name: Option<String>,
  input: Option<Value>,
}

#[derive(Deserialize)]
struct WireMessage {
  #[serde(rename = "type")]
  kind: Option<String>,
  id: Option<String>,
  model: Option<String>,
  content: Option<Vec<ContentBlock>>,
  stop_reason: Option<String>,
  usage: Option<WireUsage>,
  error: Option<ApiError>,
}

/// Every stream event in one flat shape (no buffering through serde's tagged-enum path).
#[derive(Deserialize)]
struct StreamEvent<'a> {
  #[serde(rename = "type", borrow)]
  kind: Cow<'a, str>,
  index: Option<u64>,
  message: Option<WireMessage>,
  content_block: Option<ContentBlock>,
  delta: Option<Delta>,
  usage: Option<WireUsage>,
  error: Option<ApiError>,
}

#[derive(Deserialize)]
struct Delta {
  #[serde(rename = "type")]
  kind: Option<String>,
  text: Option<String>,
  partial_json: Option<String>,
  thinking: Option<String>,
  stop_reason: Option<String>,
}

/// HTTP status Anthropic documents for each error type (used for errors sent inside a stream
/// or a 200 body, so the agent loop can judge them like any HTTP error).
fn error_status(kind: &str) -> u16 {
  match kind {
    "invalid_request_error" => 400,
    "authentication_error" => 401,
    "billing_error" => 402,
    "permission_error" => 403,
    "not_found_error" => 404,
    "request_too_large" => 413,
    "rate_limit_error" => 429,
    "timeout_error" => 504,
    "overloaded_error" => 529,
    _ => 500,
  }
}

fn api_error(provider: &str, error: Option<&ApiError>, raw: &str) -> ModelError {
  let kind = error.and_then(|e| e.kind.as_deref()).unwrap_or("api_error");
  ModelError::Http {
    provider: provider.to_string(),
    status: error_status(kind),
    body: raw.to_string(),
    retry_after: None,
  }
}

impl WireUsage {
  fn merge(&mut self, newer: &WireUsage) {
    self.input_tokens = newer.input_tokens.or(self.input_tokens);
    self.output_tokens = newer.output_tokens.or(self.output_tokens);
    self.cache_read_input_tokens = newer
      .cache_read_input_tokens
      .or(self.cache_read_input_tokens);
  }

  fn to_usage(self) -> Usage {
    let input = self.input_tokens.unwrap_or(0);
    let output = self.output_tokens.unwrap_or(0);
    Usage {
      input_tokens: input,
      output_tokens: output,
      total_tokens: input + output,
      reasoning_tokens: 0,
      cached_input_tokens: self.cache_read_input_tokens.unwrap_or(0),
    }
  }
}

fn input_text(input: Option<&Value>) -> Option<String> {
  match input {
    Some(Value::Object(map)) if !map.is_empty() => Some(Value::Object(map.clone()).to_string()),
    _ => None,
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streaming response

fn parse_message(provider: &str, text: &str) -> Result<Vec<ModelEvent>, ModelError> {
  let message: WireMessage = parse_json(provider, "a response", text)?;
  if message.kind.as_deref() == Some("error") || message.error.is_some() {
    return Err(api_error(provider, message.error.as_ref(), text));
  }
  let Some(content) = message.content else {
    return Err(ModelError::Malformed(format!(
      "{provider} sent a response without content: {}",
      excerpt(text)
    )));
  };
  let mut events = Vec::with_capacity(content.len() + 2);
  events.push(ModelEvent::Metadata {
    id: message.id,
    model_id: message.model,
  });
  for block in content {
    match block.kind.as_str() {
      "text" => {
        if let Some(t) = block.text.filter(|t| !t.is_empty()) {
          events.push(ModelEvent::TextDelta(t));
        }
      }
      "thinking" => {
        if let Some(t) = block.thinking.filter(|t| !t.is_empty()) {
          events.push(ModelEvent::ReasoningDelta(t));
        }
      }
      "tool_use" => events.push(ModelEvent::ToolCall {
        id: block
          .id
          .filter(|id| !id.is_empty())
          .unwrap_or_else(fresh_call_id),
        name: block.name.unwrap_or_default(),
        arguments: input_text(block.input.as_ref()).unwrap_or_else(|| "{}".to_string()),
      }),
      _ => {}
    }
  }
  let reason = message
    .stop_reason
    .as_deref()
    .map_or(FinishReason::Unknown, FinishReason::from_provider);
  events.push(ModelEvent::Finish {
    reason,
    usage: message.usage.unwrap_or_default().to_usage(),
  });
  Ok(events)
}

// ---------------------------------------------------------------------------------------------
// Streaming response

enum BlockState {
  Tool {
    id: String,
    name: String,
    arguments: String,
    initial: Option<String>,
  },
  Other,
}

struct MessagesDecoder {
  provider: String,
  usage: WireUsage,
  stop_reason: Option<String>,
  /// Open content blocks by index.
  blocks: Vec<(u64, BlockState)>,
  done: bool,
}

impl MessagesDecoder {
  fn new(provider: String) -> Self {
    MessagesDecoder {
      provider,
      usage: WireUsage::default(),
      stop_reason: None,
      blocks: Vec::new(),
      done: false,
    }
  }

  fn close_block(&mut self, index: u64, out: &mut VecDeque<ModelEvent>) {
    let Some(pos) = self.blocks.iter().position(|(i, _)| *i == index) else {
      return;
    };
    let (_, block) = self.blocks.remove(pos);
    if let BlockState::Tool {
      id,
      name,
      arguments,
      initial,
    } = block
    {
      let arguments = if arguments.trim().is_empty() {
        initial.unwrap_or_else(|| "{}".to_string())
      } else {
        arguments
      };
      out.push_back(ModelEvent::ToolCall {
        id,
        name,
        arguments,
      });
    }
  }
}

impl SseDecoder for MessagesDecoder {
  fn on_event(
    &mut self,
    event: &SseEvent,
    out: &mut VecDeque<ModelEvent>,
  ) -> Result<(), ModelError> {
    let data = event.data.trim();
    if data.is_empty() {
      return Ok(());
    }
    let ev: StreamEvent<'_> = parse_json(&self.provider, "a stream event", data)?;
    match ev.kind.as_ref() {
      "message_start" => {
        let (id, model) = match ev.message {
          Some(m) => {
            if let Some(u) = &m.usage {
              self.usage.merge(u);
            }
            (m.id, m.model)
          }
          None => (None, None),
        };
        out.push_back(ModelEvent::Metadata {
          id,
          model_id: model,
        });
      }
      "content_block_start" => {
        let index = ev.index.unwrap_or(0);
        let Some(block) = ev.content_block else {
          return Ok(());
        };
        let state = match block.kind.as_str() {
          "text" => {
            if let Some(t) = block.text.filter(|t| !t.is_empty()) {
              out.push_back(ModelEvent::TextDelta(t));
            }
            BlockState::Other
          }
          "thinking" => {
            if let Some(t) = block.thinking.filter(|t| !t.is_empty()) {
              out.push_back(ModelEvent::ReasoningDelta(t));
            }
            BlockState::Other
          }
          "tool_use" => {
            let id = block
              .id
              .filter(|id| !id.is_empty())
              .unwrap_or_else(fresh_call_id);
            let name = block.name.unwrap_or_default();
            out.push_back(ModelEvent::ToolInputStart {
              id: id.clone(),
              name: name.clone(),
            });
            BlockState::Tool {
              id,
              name,
              arguments: String::new(),
              initial: input_text(block.input.as_ref()),
            }
          }
          _ => BlockState::Other,
        };
        self.close_block(index, out);
        self.blocks.push((index, state));
      }
      "content_block_delta" => {
        let index = ev.index.unwrap_or(0);
        let Some(delta) = ev.delta else { return Ok(()) };
        match delta.kind.as_deref() {
          Some("text_delta") => {
            if let Some(t) = delta.text.filter(|t| !t.is_empty()) {
              out.push_back(ModelEvent::TextDelta(t));
            }
          }
          Some("thinking_delta") => {
            if let Some(t) = delta.thinking.filter(|t| !t.is_empty()) {
              out.push_back(ModelEvent::ReasoningDelta(t));
            }
          }
          Some("input_json_delta") => {
            let fragment = delta.partial_json.unwrap_or_default();
            if fragment.is_empty() {
              return Ok(());
            }
            if let Some((_, BlockState::Tool { id, arguments, .. })) =
              self.blocks.iter_mut().find(|(i, _)| *i == index)
            {
              arguments.push_str(&fragment);
              out.push_back(ModelEvent::ToolInputDelta {
                id: id.clone(),
                delta: fragment,
              });
            }
          }
          _ => {}
        }
      }
      "content_block_stop" => self.close_block(ev.index.unwrap_or(0), out),
      "message_delta" => {
        if let Some(reason) = ev.delta.and_then(|d| d.stop_reason) {
          self.stop_reason = Some(reason);
        }
        if let Some(u) = &ev.usage {
          self.usage.merge(u);
        }
      }
      "message_stop" => {
        let open: Vec<u64> = self.blocks.iter().map(|(i, _)| *i).collect();
        for index in open {
          self.close_block(index, out);
        }
        self.done = true;
        let reason = self
          .stop_reason
          .as_deref()
          .map_or(FinishReason::Unknown, FinishReason::from_provider);
        out.push_back(ModelEvent::Finish {
          reason,
          usage: self.usage.to_usage(),
        });
      }
      "error" => return Err(api_error(&self.provider, ev.error.as_ref(), data)),
      _ => {}
    }
    Ok(())
  }

  fn is_done(&self) -> bool {
    self.done
  }

  fn on_eof(&mut self, _out: &mut VecDeque<ModelEvent>) -> Result<(), ModelError> {
    if self.done {
      return Ok(());
    }
    Err(ModelError::Truncated(format!(
      "{} stream ended early: the response closed before message_stop arrived",
      self.provider
    )))
  }
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;
  use lumos_core::message::ToolOutput;

  #[test]
  fn merges_turns_and_maps_tool_results() {
    let messages = vec![
      Message::System {
        content: "a".into(),
      },
      Message::user_text("q"),
      Message::Assistant {
        content: vec![
          Part::Text {
            text: "let me look".into(),
          },
          Part::ToolCall {
            tool_call_id: "t1".into(),
            tool_name: "f".into(),
            input: json!({ "x": 1 }),
          },
          Part::ToolCall {
            tool_call_id: "t2".into(),
            tool_name: "g".into(),
            input: json!("{\"y\":2}"),
          },
        ],
      },
      Message::Tool {
        content: vec![Part::ToolResult {
          tool_call_id: "t1".into(),
          tool_name: "f".into(),
          output: ToolOutput::Json(json!({ "ok": true })),
        }],
      },
      Message::Tool {
        content: vec![Part::ToolResult {
          tool_call_id: "t2".into(),
          tool_name: "g".into(),
          output: ToolOutput::ErrorText("boom".into()),
        }],
      },
      Message::System {
        content: "b".into(),
      },
      Message::user_text("next"),
    ];
    let (system, wire) = wire_messages(&messages);
    assert_eq!(system.as_deref(), Some("a\n\nb"));
    assert_eq!(wire.len(), 3, "{wire:#?}");
    assert_eq!(wire[0], json!({ "role": "user", "content": "q" }));
    assert_eq!(
      wire[1]["content"][2],
      json!({ "type": "tool_use", "id": "t2", "name": "g", "input": { "y": 2 } })
    );
    assert_eq!(
      wire[2]["content"],
      json!([
        { "type": "tool_result", "tool_use_id": "t1", "content": "{\"ok\":true}" },
        { "type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": true },
        { "type": "text", "text": "next" },
      ])
    );
  }

  #[test]
  fn media_blocks() {
    assert_eq!(
      media_block("data:image/png;base64,AAAA", None),
      json!({ "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "AAAA" } })
    );
    assert_eq!(
      media_block("https://x/y.jpg", None)["source"]["type"],
      "url"
    );
    assert_eq!(
      media_block("JVBE", Some("application/pdf"))["type"],
      "document"
    );
  }

  #[test]
  fn error_event_maps_to_http_status() {
    let mut d = MessagesDecoder::new("anthropic".into());
    let mut out = VecDeque::new();
    let data = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let r = d.on_event(
      &SseEvent {
        event: Some("error".into()),
        data: data.into(),
      },
      &mut out,
    );
    match r {
      Err(ModelError::Http { status, body, .. }) => {
        assert_eq!(status, 529);
        assert!(body.contains("Overloaded"));
      }
      other => panic!("{other:?}"),
    }
  }
}

//! OpenAI Chat Completions (`POST {base}/chat/completions`) and compatible servers.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use futures::future::BoxFuture;
use lumos_core::message::{Message, Part};
use lumos_core::model::{
  FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelStream, ToolChoice, Usage,
};
use reqwest::header::{AUTHORIZATION, HeaderMap};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::ProviderConfig;
use crate::http::{
  Endpoint, SseDecoder, call_endpoint, excerpt, fresh_call_id, header_map, merge_provider_options,
  parse_json, secret_header, shared_client,
};
use crate::sse::SseEvent;

/// A chat model behind an OpenAI Chat Completions endpoint.
pub struct OpenAiCompatibleModel {
  endpoint: Arc<Endpoint>,
  model_id: String,
  /// api.openai.com wants `max_completion_tokens` (reasoning models reject `max_tokens`);
  /// compatible servers mostly know only `max_tokens`.
  max_completion_tokens: bool,
}

impl OpenAiCompatibleModel {
  pub fn new(config: ProviderConfig) -> Result<Self, ModelError> {
    let endpoint = bearer_endpoint(&config, "chat/completions")?;
    Ok(OpenAiCompatibleModel {
      max_completion_tokens: config.provider == "openai",
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
    let mut body = Map::new();
    body.insert("model".into(), Value::String(self.model_id.clone()));
    body.insert(
      "messages".into(),
      Value::Array(wire_messages(&request.messages)),
    );
    if !request.tools.is_empty() {
      let tools = request
        .tools
        .iter()
        .map(|t| {
          let parameters = if t.parameters.is_null() {
            json!({ "type": "object", "properties": {} })
          } else {
            t.parameters.clone()
          };
          let mut function = Map::new();
          function.insert("name".into(), Value::String(t.name.clone()));
          if !t.description.is_empty() {
            function.insert("description".into(), Value::String(t.description.clone()));
          }
          function.insert("parameters".into(), parameters);
          json!({ "type": "function", "function": function })
        })
        .collect();
      body.insert("tools".into(), Value::Array(tools));
      let choice = match &request.tool_choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool { tool_name } => {
          json!({ "type": "function", "function": { "name": tool_name } })
        }
      };
      body.insert("tool_choice".into(), choice);
    }
    if let Some(format) = &request.response_format {
      body.insert(
        "response_format".into(),
        json!({ "type": "json_schema", "json_schema": { "name": format.name, "schema": format.schema, "strict": true } }),
      );
    }
    let s = &request.settings;
    let mut put = |key: &str, value: Option<Value>| {
      if let Some(v) = value {
        body.insert(key.into(), v);
      }
    };
    put("temperature", s.temperature.map(Value::from));
    put("top_p", s.top_p.map(Value::from));
    put("presence_penalty", s.presence_penalty.map(Value::from));
    put("frequency_penalty", s.frequency_penalty.map(Value::from));
    put("seed", s.seed.map(Value::from));
    let max_key = if self.max_completion_tokens {
      "max_completion_tokens"
    } else {
      "max_tokens"
    };
    put(max_key, s.max_output_tokens.map(Value::from));
    if !s.stop_sequences.is_empty() {
      body.insert("stop".into(), json!(s.stop_sequences));
    }
    if request.stream {
      body.insert("stream".into(), Value::Bool(true));
      body.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    merge_provider_options(&mut body, &request.provider_options);
    Value::Object(body)
  }
}

/// An endpoint of an OpenAI-style API (`Authorization: Bearer <key>`, then the user's headers).
pub(crate) fn bearer_endpoint(config: &ProviderConfig, path: &str) -> Result<Endpoint, ModelError> {
  let client = shared_client(config.connect_timeout, config.read_timeout)?;
  let mut headers = HeaderMap::new();
  if let Some(key) = config.api_key.as_deref().filter(|k| !k.is_empty()) {
    headers.insert(
      AUTHORIZATION,
      secret_header(&format!("Bearer {key}"), "API key")?,
    );
  }
  headers.extend(header_map(&config.headers)?);
  Ok(Endpoint {
    url: config.endpoint_url(path),
    provider: config.provider.clone(),
    headers,
    client,
    connect_timeout: config.connect_timeout,
    read_timeout: config.read_timeout,
  })
}

impl Model for OpenAiCompatibleModel {
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
    let decoder = ChatDecoder::new(provider.clone());
    let body = self.request_body(&request);
    Box::pin(call_endpoint(
      &self.endpoint,
      body,
      request.stream,
      cancel,
      decoder,
      move |text| parse_completion(&provider, text),
    ))
  }
}

// ---------------------------------------------------------------------------------------------
// Request mapping

fn wire_messages(messages: &[Message]) -> Vec<Value> {
  let mut out = Vec::with_capacity(messages.len());
  for message in messages {
    match message {
      Message::System { content } => out.push(json!({ "role": "system", "content": content })),
      Message::User { content } => {
        out.push(json!({ "role": "user", "content": user_content(content) }))
      }
      Message::Assistant { content } => {
        let mut text = String::new();
        let mut calls = Vec::new();
        for part in content {
          match part {
            Part::Text { text: t } => text.push_str(t),
            Part::ToolCall {
              tool_call_id,
              tool_name,
              input,
            } => calls.push(json!({
              "id": tool_call_id,
              "type": "function",
              "function": { "name": tool_name, "arguments": arguments_text(input) },
            })),
            _ => {}
          }
        }
        let mut msg = Map::new();
        msg.insert("role".into(), json!("assistant"));
        let content = if text.is_empty() && !calls.is_empty() {
          Value::Null
        } else {
          Value::String(text)
        };
        msg.insert("content".into(), content);
        if !calls.is_empty() {
          msg.insert("tool_calls".into(), Value::Array(calls));
        }
        out.push(Value::Object(msg));
      }
      Message::Tool { content } => {
        for part in content {
          if let Part::ToolResult {
            tool_call_id,
            output,
            ..
          } = part
          {
            out.push(json!({ "role": "tool", "tool_call_id": tool_call_id, "content": output.to_model_text() }));
          }
        }
      }
    }
  }
  out
}

/// A string when the message is only text, else an array of parts.
fn user_content(parts: &[Part]) -> Value {
  let only_text = parts
    .iter()
    .all(|p| matches!(p, Part::Text { .. } | Part::Reasoning { .. }));
  if only_text {
    let text: String = parts
      .iter()
      .filter_map(|p| match p {
        Part::Text { text } => Some(text.as_str()),
        _ => None,
      })
      .collect();
    return Value::String(text);
  }
  let items = parts
    .iter()
    .filter_map(|p| match p {
      Part::Text { text } => Some(json!({ "type": "text", "text": text })),
      Part::Image { image, media_type } => Some(media_part(image, media_type.as_deref())),
      _ => None,
    })
    .collect();
  Value::Array(items)
}

fn media_part(data: &str, media_type: Option<&str>) -> Value {
  let is_url =
    data.starts_with("http://") || data.starts_with("https://") || data.starts_with("data:");
  let url = if is_url {
    data.to_string()
  } else {
    format!("data:{};base64,{data}", media_type.unwrap_or("image/jpeg"))
  };
  let media_type = media_type.or_else(|| {
    data
      .strip_prefix("data:")
      .and_then(|d| d.split([';', ',']).next())
  });
  if media_type == Some("application/pdf") && !data.starts_with("http") {
    return json!({ "type": "file", "file": { "filename": "document.pdf", "file_data": url } });
  }
  json!({ "type": "image_url", "image_url": { "url": url } })
}

/// Tool-call arguments as the JSON text the model produced.
fn arguments_text(input: &Value) -> String {
  match input {
    Value::String(s) => s.clone(),
    other => other.to_string(),
  }
}

// ---------------------------------------------------------------------------------------------
// Wire types (only the fields we read; unknown fields are ignored)

#[derive(Deserialize, Default)]
struct WireUsage {
  prompt_tokens: Option<u64>,
  completion_tokens: Option<u64>,
  total_tokens: Option<u64>,
  prompt_tokens_details: Option<PromptDetails>,
  completion_tokens_details: Option<CompletionDetails>,
  /// DeepSeek's name for cached prompt tokens.
  prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct PromptDetails {
  cached_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct CompletionDetails {
  reasoning_tokens: Option<u64>,
}

impl WireUsage {
  fn to_usage(&self) -> Usage {
    let input = self.prompt_tokens.unwrap_or(0);
    let output = self.completion_tokens.unwrap_or(0);
    Usage {
      input_tokens: input,
      output_tokens: output,
      total_tokens: self.total_tokens.unwrap_or(input + output),
      reasoning_tokens: self
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
        .unwrap_or(0),
      cached_input_tokens: self
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens)
        .or(self.prompt_cache_hit_tokens)
        .unwrap_or(0),
    }
  }
}

#[derive(Deserialize)]
struct Completion {
  id: Option<String>,
  model: Option<String>,
  choices: Option<Vec<CompletionChoice>>,
  usage: Option<WireUsage>,
  error: Option<Value>,
}

#[derive(Deserialize)]
struct CompletionChoice {
  index: Option<u64>,
  message: Option<WireMessage>,
  finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
  content: Option<Value>,
  reasoning_content: Option<String>,
  reasoning: Option<String>,
  refusal: Option<String>,
  tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
  index: Option<u64>,
  id: Option<String>,
  function: Option<WireFunction>,
}

#[derive(Deserialize)]
struct WireFunction {
  name: Option<String>,
  /// A string per the spec; a few servers send an object.
  arguments: Option<Value>,
}

#[derive(Deserialize)]
struct Chunk<'a> {
  /// Borrowed: only the first chunk's id and model are used.
  #[serde(borrow)]
  id: Option<Cow<'a, str>>,
  #[serde(borrow)]
  model: Option<Cow<'a, str>>,
  choices: Option<Vec<ChunkChoice>>,
  usage: Option<WireUsage>,
  /// Groq puts the streamed usage here.
  x_groq: Option<XGroq>,
  error: Option<Value>,
}

#[derive(Deserialize)]
struct XGroq {
  usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct ChunkChoice {
  index: Option<u64>,
  delta: Option<WireMessage>,
  finish_reason: Option<String>,
}

fn first_choice<T>(choices: Option<Vec<T>>, index: impl Fn(&T) -> Option<u64>) -> Option<T> {
  choices?.into_iter().find(|c| index(c).unwrap_or(0) == 0)
}

/// Calls `emit(is_reasoning, text)` for the text in a `content` value: a string, or (Mistral)
/// an array of `{type:'text', text}` / `{type:'thinking', thinking:[…]}` parts.
fn content_texts(content: &Value, emit: &mut dyn FnMut(bool, &str)) {
  match content {
    Value::String(s) => emit(false, s),
    Value::Array(items) => {
      for item in items {
        match item.get("type").and_then(Value::as_str) {
          Some("thinking") => match item.get("thinking") {
            Some(Value::String(s)) => emit(true, s),
            Some(Value::Array(inner)) => {
              for t in inner {
                if let Some(s) = t.get("text").and_then(Value::as_str) {
                  emit(true, s);
                }
              }
            }
            _ => {}
          },
          _ => {
            if let Some(s) = item.get("text").and_then(Value::as_str) {
              emit(false, s);
            } else if let Value::String(s) = item {
              emit(false, s);
            }
          }
        }
      }
    }
    _ => {}
  }
}

/// An `error` object inside a 200 response or a stream.
pub(crate) fn reported_error(provider: &str, error: &Value) -> ModelError {
  let message = error
    .get("message")
    .and_then(Value::as_str)
    .map(str::to_string)
    .or_else(|| error.as_str().map(str::to_string))
    .unwrap_or_else(|| error.to_string());
  let status = error
    .get("code")
    .and_then(|c| {
      c.as_u64()
        .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
    })
    .filter(|c| (400..600).contains(c));
  match status {
    Some(status) => ModelError::Http {
      provider: provider.to_string(),
      status: status as u16,
      body: json!({ "error": error }).to_string(),
      retry_after: None,
    },
    None => ModelError::Malformed(format!(
      "{provider} reported an error in its response: {}",
      excerpt(&message)
    )),
  }
}

// ---------------------------------------------------------------------------------------------
// Non-streaming response

fn parse_completion(provider: &str, text: &str) -> Result<Vec<ModelEvent>, ModelError> {
  let completion: Completion = parse_json(provider, "a response", text)?;
  if let Some(error) = &completion.error {
    return Err(reported_error(provider, error));
  }
  let Some(choice) = first_choice(completion.choices, |c| c.index) else {
    return Err(ModelError::Malformed(format!(
      "{provider} sent a response without choices: {}",
      excerpt(text)
    )));
  };
  let mut events = vec![ModelEvent::Metadata {
    id: completion.id,
    model_id: completion.model,
  }];
  let mut calls = Vec::new();
  if let Some(message) = choice.message {
    if let Some(r) = message
      .reasoning_content
      .or(message.reasoning)
      .filter(|r| !r.is_empty())
    {
      events.push(ModelEvent::ReasoningDelta(r));
    }
    let mut text = String::new();
    if let Some(content) = &message.content {
      content_texts(content, &mut |reasoning, s| {
        if reasoning {
          events.push(ModelEvent::ReasoningDelta(s.to_string()));
        } else {
          text.push_str(s);
        }
      });
    }
    if text.is_empty() {
      text = message.refusal.unwrap_or_default();
    }
    if !text.is_empty() {
      events.push(ModelEvent::TextDelta(text));
    }
    for call in message.tool_calls.unwrap_or_default() {
      let function = call.function;
      calls.push(ModelEvent::ToolCall {
        id: call
          .id
          .filter(|id| !id.is_empty())
          .unwrap_or_else(fresh_call_id),
        name: function
          .as_ref()
          .and_then(|f| f.name.clone())
          .unwrap_or_default(),
        arguments: normalise_arguments(
          function
            .and_then(|f| f.arguments)
            .map(|a| arguments_value_text(&a)),
        ),
      });
    }
  }
  let reason = finish_reason(choice.finish_reason.as_deref(), !calls.is_empty());
  events.extend(calls);
  events.push(ModelEvent::Finish {
    reason,
    usage: completion.usage.map(|u| u.to_usage()).unwrap_or_default(),
  });
  Ok(events)
}

fn arguments_value_text(v: &Value) -> String {
  match v {
    Value::String(s) => s.clone(),
    Value::Null => String::new(),
    other => other.to_string(),
  }
}

/// Empty arguments (a tool without parameters, on some servers) become `{}`.
fn normalise_arguments(args: Option<String>) -> String {
  match args {
    Some(a) if !a.trim().is_empty() => a,
    _ => "{}".to_string(),
  }
}

fn finish_reason(raw: Option<&str>, has_calls: bool) -> FinishReason {
  match raw {
    Some(r) => FinishReason::from_provider(r),
    None if has_calls => FinishReason::ToolCalls,
    None => FinishReason::Unknown,
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming response

struct PendingCall {
  /// `tool_calls[].index` (or the position in the delta when a server omits it).
  key: u64,
  id: String,
  name: String,
  arguments: String,
  started: bool,
  emitted: bool,
}

struct ChatDecoder {
  provider: String,
  started: bool,
  finish_reason: Option<String>,
  usage: Option<Usage>,
  calls: Vec<PendingCall>,
  done: bool,
}

impl ChatDecoder {
  fn new(provider: String) -> Self {
    ChatDecoder {
      provider,
      started: false,
      finish_reason: None,
      usage: None,
      calls: Vec::new(),
      done: false,
    }
  }

  fn tool_delta(&mut self, position: usize, call: WireToolCall, out: &mut VecDeque<ModelEvent>) {
    let key = call.index.unwrap_or(position as u64);
    let id = call.id.filter(|id| !id.is_empty());
    let (name, arguments) = match call.function {
      Some(f) => (
        f.name.filter(|n| !n.is_empty()),
        f.arguments.map(|a| arguments_value_text(&a)),
      ),
      None => (None, None),
    };
    // The newest call under this key, unless the delta names a different call (servers that
    // send every call complete under index 0).
    let slot = match self.calls.iter().rposition(|c| c.key == key) {
      Some(i) if id.as_ref().is_none_or(|id| *id == self.calls[i].id) => i,
      _ => {
        self.calls.push(PendingCall {
          key,
          id: id.unwrap_or_else(fresh_call_id),
          name: String::new(),
          arguments: String::new(),
          started: false,
          emitted: false,
        });
        self.calls.len() - 1
      }
    };
    let pending = &mut self.calls[slot];
    if pending.emitted {
      return;
    }
    if let Some(name) = name
      && pending.name.is_empty()
    {
      pending.name = name;
    }
    let fragment = arguments.unwrap_or_default();
    if !pending.started && !pending.name.is_empty() {
      pending.started = true;
      out.push_back(ModelEvent::ToolInputStart {
        id: pending.id.clone(),
        name: pending.name.clone(),
      });
      if !pending.arguments.is_empty() {
        out.push_back(ModelEvent::ToolInputDelta {
          id: pending.id.clone(),
          delta: pending.arguments.clone(),
        });
      }
    }
    if !fragment.is_empty() {
      if pending.started {
        out.push_back(ModelEvent::ToolInputDelta {
          id: pending.id.clone(),
          delta: fragment.clone(),
        });
      }
      pending.arguments.push_str(&fragment);
    }
  }

  fn flush_calls(&mut self, out: &mut VecDeque<ModelEvent>) {
    for call in self.calls.iter_mut().filter(|c| !c.emitted) {
      call.emitted = true;
      if !call.started {
        out.push_back(ModelEvent::ToolInputStart {
          id: call.id.clone(),
          name: call.name.clone(),
        });
      }
      out.push_back(ModelEvent::ToolCall {
        id: call.id.clone(),
        name: call.name.clone(),
        arguments: normalise_arguments(Some(std::mem::take(&mut call.arguments))),
      });
    }
  }

  fn finish(&mut self, out: &mut VecDeque<ModelEvent>) {
    self.flush_calls(out);
    self.done = true;
    let reason = finish_reason(self.finish_reason.as_deref(), !self.calls.is_empty());
    out.push_back(ModelEvent::Finish {
      reason,
      usage: self.usage.unwrap_or_default(),
    });
  }
}

impl SseDecoder for ChatDecoder {
  fn on_event(
    &mut self,
    event: &SseEvent,
    out: &mut VecDeque<ModelEvent>,
  ) -> Result<(), ModelError> {
    let data = event.data.trim();
    if data.is_empty() {
      return Ok(());
    }
    if data == "[DONE]" {
      self.finish(out);
      return Ok(());
    }
    let chunk: Chunk<'_> = parse_json(&self.provider, "a stream event", data)?;
    if let Some(error) = &chunk.error {
      return Err(reported_error(&self.provider, error));
    }
    if !self.started {
      self.started = true;
      out.push_back(ModelEvent::Metadata {
        id: chunk.id.map(Cow::into_owned),
        model_id: chunk.model.map(Cow::into_owned),
      });
    }
    if let Some(usage) = chunk.usage.or_else(|| chunk.x_groq.and_then(|x| x.usage)) {
      self.usage = Some(usage.to_usage());
    }
    let Some(choice) = first_choice(chunk.choices, |c| c.index) else {
      return Ok(());
    };
    if let Some(delta) = choice.delta {
      if let Some(r) = delta
        .reasoning_content
        .or(delta.reasoning)
        .filter(|r| !r.is_empty())
      {
        out.push_back(ModelEvent::ReasoningDelta(r));
      }
      match delta.content {
        Some(Value::String(s)) if !s.is_empty() => out.push_back(ModelEvent::TextDelta(s)),
        Some(content) => content_texts(&content, &mut |reasoning, s| {
          if !s.is_empty() {
            let s = s.to_string();
            out.push_back(if reasoning {
              ModelEvent::ReasoningDelta(s)
            } else {
              ModelEvent::TextDelta(s)
            });
          }
        }),
        None => {}
      }
      if let Some(refusal) = delta.refusal.filter(|r| !r.is_empty()) {
        out.push_back(ModelEvent::TextDelta(refusal));
      }
      for (position, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
        self.tool_delta(position, call, out);
      }
    }
    if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
      self.finish_reason = Some(reason);
      self.flush_calls(out);
    }
    Ok(())
  }

  fn is_done(&self) -> bool {
    self.done
  }

  fn on_eof(&mut self, out: &mut VecDeque<ModelEvent>) -> Result<(), ModelError> {
    if self.done {
      return Ok(());
    }
    if self.finish_reason.is_some() {
      self.finish(out);
      return Ok(());
    }
    Err(ModelError::Truncated(format!(
      "{} stream ended early: the response closed before a finish_reason or [DONE] arrived",
      self.provider
    )))
  }
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;

  fn decode(data: &[&str]) -> (Vec<ModelEvent>, Result<(), ModelError>) {
    let mut d = ChatDecoder::new("test".into());
    let mut out = VecDeque::new();
    for line in data {
      if let Err(e) = d.on_event(
        &SseEvent {
          event: None,
          data: line.to_string(),
        },
        &mut out,
      ) {
        return (out.into(), Err(e));
      }
    }
    let r = d.on_eof(&mut out);
    (out.into(), r)
  }

  #[test]
  fn calls_under_one_index_with_distinct_ids_stay_apart() {
    let (events, r) = decode(&[
      r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\":1}"}}]}}]}"#,
      r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}"#,
      r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#,
    ]);
    r.unwrap();
    let calls: Vec<_> = events
      .iter()
      .filter(|e| matches!(e, ModelEvent::ToolCall { .. }))
      .collect();
    assert_eq!(calls.len(), 2, "{events:?}");
    assert!(matches!(
      events.last(),
      Some(ModelEvent::Finish {
        reason: FinishReason::ToolCalls,
        ..
      })
    ));
  }

  #[test]
  fn deepseek_reasoning_and_mistral_content_arrays() {
    let (events, r) = decode(&[
      r#"{"id":"x","choices":[{"delta":{"reasoning_content":"think"}}]}"#,
      r#"{"choices":[{"delta":{"content":[{"type":"thinking","thinking":[{"type":"text","text":"more"}]},{"type":"text","text":"hi"}]}}]}"#,
      r#"{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_cache_hit_tokens":2}}"#,
      "[DONE]",
    ]);
    r.unwrap();
    assert_eq!(events[1], ModelEvent::ReasoningDelta("think".into()));
    assert_eq!(events[2], ModelEvent::ReasoningDelta("more".into()));
    assert_eq!(events[3], ModelEvent::TextDelta("hi".into()));
    let usage = Usage {
      input_tokens: 3,
      output_tokens: 4,
      total_tokens: 7,
      reasoning_tokens: 0,
      cached_input_tokens: 2,
    };
    assert_eq!(
      events[4],
      ModelEvent::Finish {
        reason: FinishReason::Stop,
        usage
      }
    );
  }

  #[test]
  fn error_object_in_stream() {
    let (_, r) = decode(&[r#"{"error":{"message":"upstream overloaded","code":502}}"#]);
    assert!(
      matches!(r, Err(ModelError::Http { status: 502, .. })),
      "{r:?}"
    );
    let (_, r) = decode(&[r#"{"error":{"message":"bad thing","code":"oops"}}"#]);
    assert!(
      matches!(&r, Err(ModelError::Malformed(m)) if m.contains("bad thing")),
      "{r:?}"
    );
  }

  #[test]
  fn finish_reason_without_done_is_complete_and_nothing_is_truncated() {
    let (events, r) =
      decode(&[r#"{"choices":[{"delta":{"content":"a"},"finish_reason":"length"}]}"#]);
    r.unwrap();
    assert!(matches!(
      events.last(),
      Some(ModelEvent::Finish {
        reason: FinishReason::Length,
        ..
      })
    ));
    let (_, r) = decode(&[r#"{"choices":[{"delta":{"content":"a"}}]}"#]);
    assert!(
      matches!(&r, Err(ModelError::Truncated(m)) if m.contains("ended early")),
      "{r:?}"
    );
  }
}

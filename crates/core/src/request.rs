//! The run request the JS facade sends for one `generate`/`stream` call, and its translation
//! into a `RunConfig`. Validation of user input happens here, with messages that say what to fix.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::agent::{RunConfig, StopCondition, StopHook};
use crate::error::LumosError;
use crate::message::{Message, parse_messages};
use crate::model::{ModelSettings, ResponseFormat, ToolChoice, ToolSpec};
use crate::retry::RetryPolicy;
use crate::tool::Tool;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRequest {
  pub run_id: String,
  #[serde(default)]
  pub agent_id: String,
  /// `MessageListInput` as the user passed it.
  pub messages: Value,
  /// System messages, in order: the agent's (or per-call) instructions, then per-call `system`.
  #[serde(default)]
  pub system: Vec<String>,
  #[serde(default)]
  pub tools: Vec<ToolDecl>,
  #[serde(default)]
  pub tool_choice: Option<Value>,
  #[serde(default)]
  pub settings: ModelSettings,
  #[serde(default)]
  pub response_format: Option<ResponseFormat>,
  #[serde(default)]
  pub stream: bool,
  #[serde(default)]
  pub max_steps: Option<u32>,
  #[serde(default)]
  pub stop_when: Vec<StopDecl>,
  #[serde(default)]
  pub max_retries: Option<u32>,
  #[serde(default)]
  pub tool_concurrency: Option<usize>,
  #[serde(default)]
  pub provider_options: Value,
  /// Whether chunks are wanted (stream, or generate with callbacks).
  #[serde(default)]
  pub emit_chunks: bool,
  /// Conversation memory for this run (`memory: { thread, resource }`).
  #[serde(default)]
  pub memory: Option<MemoryDecl>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryDecl {
  pub thread_id: String,
  pub resource_id: String,
  /// How many earlier messages to load (`None`: all; Mastra's `lastMessages: false` loads none).
  #[serde(default)]
  pub last_messages: Option<u32>,
  #[serde(default)]
  pub read_only: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDecl {
  pub name: String,
  #[serde(default)]
  pub description: String,
  pub parameters: Value,
  /// Validate arguments against `parameters` in the core (plain JSON Schema tools).
  #[serde(default)]
  pub validate: bool,
}

impl ToolDecl {
  pub fn spec(&self) -> ToolSpec {
    ToolSpec {
      name: self.name.clone(),
      description: self.description.clone(),
      parameters: self.parameters.clone(),
    }
  }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum StopDecl {
  StepCount {
    n: u32,
  },
  HasToolCall {
    name: String,
  },
  /// A JS function, run through the host's hook.
  Hook,
}

pub const DEFAULT_MAX_STEPS: u32 = 5;
pub const DEFAULT_TOOL_CONCURRENCY: usize = 10;

impl RunRequest {
  pub fn parse(json: &str) -> Result<RunRequest, LumosError> {
    serde_json::from_str(json)
      .map_err(|e| LumosError::invalid_input(format!("invalid run options: {e}")))
  }

  /// Builds the run. `make_tool` turns each declared tool into its implementation; `hook` backs
  /// `StopDecl::Hook` entries.
  pub fn into_config(
    self,
    make_tool: impl Fn(&ToolDecl) -> Arc<dyn Tool>,
    hook: Option<Arc<dyn StopHook>>,
  ) -> Result<RunConfig, LumosError> {
    let input = parse_messages(&self.messages)?;
    // Instructions first, then system messages found in the input (Mastra moves them up), then
    // the conversation.
    let mut messages: Vec<Message> = self
      .system
      .iter()
      .filter(|s| !s.is_empty())
      .map(|s| Message::System { content: s.clone() })
      .collect();
    let (system_in_input, rest): (Vec<_>, Vec<_>) = input
      .into_iter()
      .partition(|m| matches!(m, Message::System { .. }));
    messages.extend(system_in_input);
    if rest.is_empty() {
      return Err(LumosError::invalid_input(
        "no user message to answer: pass a string, a string[] or at least one non-system message",
      ));
    }
    messages.extend(rest);

    let mut seen = std::collections::HashSet::new();
    for t in &self.tools {
      if t.name.is_empty() || !seen.insert(t.name.as_str()) {
        return Err(LumosError::invalid_input(format!(
          "tool names must be unique and non-empty (got '{}')",
          t.name
        )));
      }
    }
    let tool_choice = parse_tool_choice(self.tool_choice.as_ref())?;
    if let ToolChoice::Tool { tool_name } = &tool_choice
      && !self.tools.iter().any(|t| &t.name == tool_name)
    {
      return Err(LumosError::invalid_input(format!(
        "toolChoice names '{tool_name}', which is not one of the agent's tools"
      )));
    }
    let stop_when = self
      .stop_when
      .iter()
      .map(|s| match s {
        StopDecl::StepCount { n } => Ok(StopCondition::StepCount(*n)),
        StopDecl::HasToolCall { name } => Ok(StopCondition::HasToolCall(name.clone())),
        StopDecl::Hook => hook.clone().map(StopCondition::Hook).ok_or_else(|| {
          LumosError::invalid_input("a stopWhen function was declared but no hook was given")
        }),
      })
      .collect::<Result<Vec<_>, _>>()?;
    let retry = RetryPolicy {
      max_retries: self
        .max_retries
        .unwrap_or(RetryPolicy::default().max_retries),
      ..RetryPolicy::default()
    };
    Ok(RunConfig {
      run_id: self.run_id,
      agent_id: self.agent_id,
      messages,
      history: Vec::new(),
      recorder: None,
      tools: self.tools.iter().map(make_tool).collect(),
      tool_choice,
      settings: self.settings,
      response_format: self.response_format,
      stream: self.stream,
      max_steps: self.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
      stop_when,
      retry,
      tool_concurrency: self.tool_concurrency.unwrap_or(DEFAULT_TOOL_CONCURRENCY),
      provider_options: if self.provider_options.is_null() {
        Value::Object(Default::default())
      } else {
        self.provider_options
      },
    })
  }
}

fn parse_tool_choice(v: Option<&Value>) -> Result<ToolChoice, LumosError> {
  let Some(v) = v else {
    return Ok(ToolChoice::Auto);
  };
  match v {
    Value::Null => Ok(ToolChoice::Auto),
    Value::String(s) => match s.as_str() {
      "auto" => Ok(ToolChoice::Auto),
      "none" => Ok(ToolChoice::None),
      "required" => Ok(ToolChoice::Required),
      other => Err(LumosError::invalid_input(format!(
        "toolChoice '{other}' is not valid: use 'auto', 'none', 'required' or {{ type: 'tool', toolName }}"
      ))),
    },
    Value::Object(o) => match o.get("toolName").and_then(Value::as_str) {
      Some(name) => Ok(ToolChoice::Tool {
        tool_name: name.to_string(),
      }),
      None => Err(LumosError::invalid_input(
        "toolChoice object needs { type: 'tool', toolName }",
      )),
    },
    _ => Err(LumosError::invalid_input(
      "toolChoice must be a string or { type: 'tool', toolName }",
    )),
  }
}

//! Lumos core: the agent loop and the types it speaks.
//!
//! Nothing here knows about napi or HTTP. Models and tools are traits; the
//! binding crate and the providers crate implement them.

pub mod agent;
pub mod chunk;
pub mod embed;
pub mod error;
pub mod json_repair;
pub mod message;
pub mod model;
pub mod request;
pub mod retry;
pub mod schema;
pub mod time;
pub mod tool;

pub use agent::{
  RunConfig, RunOutput, RunRecorder, StepResult, StopCondition, StopHook, run_agent,
};
pub use chunk::Emitter;
pub use embed::{Embedder, Embeddings};
pub use error::{ErrorCode, LumosError};
pub use message::{Message, Part, ToolOutput, parse_messages};
pub use model::{
  FinishReason, Model, ModelError, ModelEvent, ModelRequest, ModelSettings, ModelStream,
  ResponseFormat, ToolChoice, ToolSpec, Usage,
};
pub use request::{MemoryDecl, RunRequest, StopDecl, ToolDecl};
pub use tokio_util::sync::CancellationToken;
pub use tool::{Tool, ToolCallRequest, ToolOutcome};

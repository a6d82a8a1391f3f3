//! Lumos durable workflows: Mastra's `createWorkflow` graph on tokio, persisted step by step
//! in lumos-store. See [`engine`] for how runs are resumed and recovered.

pub mod compat;
pub mod engine;
pub mod error;
pub mod graph;
pub mod view;

pub use engine::{
  Answer, CallPayload, Engine, EventSink, Execution, Host, LiveRun, Mode, cancel_run,
};
pub use error::{Result, WorkflowError};
pub use graph::{Node, RetryConfig, StepKind, StepNode, WorkflowDef};

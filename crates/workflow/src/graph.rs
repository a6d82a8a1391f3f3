//! The workflow graph as the facade sends it (JSON), checked once when a workflow is committed:
//! ids, function references, and whether each step's input schema can take what the step
//! before it outputs (see [`compat`](crate::compat)).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::compat;
use crate::error::{Result, WorkflowError};

/// A committed workflow: its id, the host handle its functions are called under, and its
/// top-level sequence.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDef {
  pub id: String,
  /// Which function table of the host this workflow's `func` indices refer to.
  pub handle: u32,
  pub steps: Vec<Node>,
  #[serde(default)]
  pub retry_config: RetryConfig,
  #[serde(default)]
  pub input_schema: Option<Value>,
  #[serde(default)]
  pub output_schema: Option<Value>,
}

/// Mastra's `retryConfig` (workflow default) and a step's `retries`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryConfig {
  #[serde(default)]
  pub attempts: u32,
  /// Milliseconds between attempts.
  #[serde(default)]
  pub delay: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Node {
  Step(StepNode),
  Parallel {
    steps: Vec<Node>,
  },
  Branch {
    branches: Vec<BranchArm>,
  },
  /// `.dowhile` (`until: false`: repeat while the condition holds) and `.dountil`.
  Loop {
    step: Box<Node>,
    cond: u32,
    until: bool,
  },
  Foreach {
    step: Box<Node>,
    #[serde(default = "one")]
    concurrency: usize,
  },
  /// `.sleep(ms | fn)`; the output is the input.
  Sleep {
    id: String,
    #[serde(default)]
    ms: Option<u64>,
    #[serde(default)]
    func: Option<u32>,
  },
  /// `.sleepUntil(date | fn)`, `at` in epoch ms; the output is the input.
  SleepUntil {
    id: String,
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    func: Option<u32>,
  },
}

fn one() -> usize {
  1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchArm {
  pub cond: u32,
  pub step: Node,
}

/// A step: a host function (`func`), or a nested workflow. `.map()` steps are steps too
/// (`kind: "map"`), so they are recorded and replayed like any other.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepNode {
  pub id: String,
  #[serde(default)]
  pub func: Option<u32>,
  #[serde(default)]
  pub workflow: Option<Box<WorkflowDef>>,
  #[serde(default)]
  pub kind: StepKind,
  /// Overrides the workflow's `retryConfig.attempts`.
  #[serde(default)]
  pub retries: Option<u32>,
  #[serde(default)]
  pub input_schema: Option<Value>,
  #[serde(default)]
  pub output_schema: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepKind {
  #[default]
  Step,
  Map,
}

impl WorkflowDef {
  /// Parses and checks a committed workflow.
  pub fn parse(json: &str) -> Result<Arc<WorkflowDef>> {
    let def: WorkflowDef = serde_json::from_str(json)
      .map_err(|e| WorkflowError::definition(format!("invalid workflow definition: {e}")))?;
    def.check()?;
    Ok(Arc::new(def))
  }

  fn check(&self) -> Result<()> {
    if self.id.is_empty() {
      return Err(WorkflowError::definition(
        "createWorkflow needs an `id` (a non-empty string)",
      ));
    }
    if self.steps.is_empty() {
      return Err(WorkflowError::definition(format!(
        "workflow '{}' has no steps: add one with .then(step) before .commit()",
        self.id
      )));
    }
    let mut seen = HashSet::new();
    for node in &self.steps {
      check_node(&self.id, node, &mut seen)?;
    }
    compat::check_sequence(&self.id, &self.steps, self.input_schema.clone())
  }
}

fn check_node<'a>(wf: &str, node: &'a Node, seen: &mut HashSet<&'a str>) -> Result<()> {
  match node {
    Node::Step(s) => {
      if s.id.is_empty() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': a step has an empty id"
        )));
      }
      if s.func.is_none() && s.workflow.is_none() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': step '{}' has neither an execute function nor a workflow",
          s.id
        )));
      }
      // Loops and foreach bodies repeat an id on purpose; the same step placed twice in one
      // sequence would overwrite its own result, as in Mastra, so it is allowed too.
      seen.insert(&s.id);
      Ok(())
    }
    Node::Parallel { steps } => {
      if steps.is_empty() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': .parallel([]) needs at least one step"
        )));
      }
      steps.iter().try_for_each(|n| check_node(wf, n, seen))
    }
    Node::Branch { branches } => {
      if branches.is_empty() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': .branch([]) needs at least one [condition, step] pair"
        )));
      }
      branches
        .iter()
        .try_for_each(|b| check_node(wf, &b.step, seen))
    }
    Node::Loop { step, .. } => check_node(wf, step, seen),
    Node::Foreach { step, concurrency } => {
      if *concurrency == 0 {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': .foreach concurrency must be at least 1"
        )));
      }
      check_node(wf, step, seen)
    }
    Node::Sleep { id, ms, func } => {
      if ms.is_none() && func.is_none() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': sleep '{id}' needs a duration in ms or a function"
        )));
      }
      Ok(())
    }
    Node::SleepUntil { id, at, func } => {
      if at.is_none() && func.is_none() {
        return Err(WorkflowError::definition(format!(
          "workflow '{wf}': sleepUntil '{id}' needs a date or a function"
        )));
      }
      Ok(())
    }
  }
}

impl Node {
  /// The id a node's output is keyed by after `.parallel` / `.branch` (Mastra's
  /// `{ [stepId]: output }`).
  pub fn output_id(&self) -> Option<&str> {
    match self {
      Node::Step(s) => Some(&s.id),
      Node::Sleep { id, .. } | Node::SleepUntil { id, .. } => Some(id),
      Node::Loop { step, .. } | Node::Foreach { step, .. } => step.output_id(),
      Node::Parallel { .. } | Node::Branch { .. } => None,
    }
  }
}

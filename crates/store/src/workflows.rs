//! Workflow runs: one row per run plus one row per step record, so a run's stored size grows
//! with the steps it ran (each step's output is written once) instead of a whole snapshot
//! being rewritten after every step.
//!
//! Ownership is fenced by an `epoch`: every transition that hands the run to an executor
//! (start, resume, restart) bumps it, and step commits only land while the epoch they were
//! started under is still current. Two concurrent resumes race on one conditional UPDATE:
//! exactly one wins; a process that lost the run (it was restarted elsewhere, or cancelled)
//! finds out on its next commit.

use futures::future::BoxFuture;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::Result;

/// `Option<Value>` that keeps a JSON `null` as `Some(Value::Null)`, so a run whose result is
/// `null` reads back the same after a round trip through the journal.
pub(crate) fn present<'de, D: Deserializer<'de>>(
  d: D,
) -> std::result::Result<Option<Value>, D::Error> {
  Value::deserialize(d).map(Some)
}

/// A stored run (without its step records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
  pub workflow_name: String,
  pub run_id: String,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub resource_id: Option<String>,
  /// Mastra's `WorkflowRunStatus` spelling: running, success, failed, suspended, canceled, …
  pub status: String,
  pub input: Value,
  pub state: Value,
  #[serde(
    default,
    deserialize_with = "present",
    skip_serializing_if = "Option::is_none"
  )]
  pub result: Option<Value>,
  #[serde(
    default,
    deserialize_with = "present",
    skip_serializing_if = "Option::is_none"
  )]
  pub error: Option<Value>,
  #[serde(
    default,
    deserialize_with = "present",
    skip_serializing_if = "Option::is_none"
  )]
  pub request_context: Option<Value>,
  /// Bumped by every claim; commits under an older epoch are refused.
  pub epoch: i64,
  pub created_at: i64,
  /// Last change of status (claim, suspension, end); step commits leave the run row alone.
  pub updated_at: i64,
}

/// One step record of a run, keyed by its path in the graph (see lumos-workflow). `record` is
/// the engine's JSON; the store does not look inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStepRecord {
  pub key: String,
  pub record: Value,
}

/// What `begin_workflow_run` writes: a fresh run, status `running`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflowRun {
  pub workflow_name: String,
  pub run_id: String,
  pub resource_id: Option<String>,
  pub input: Value,
  pub state: Value,
  pub request_context: Option<Value>,
  /// The caller generated `run_id` just now (a random UUID), so no stored run has it and the
  /// store need not look it up.
  pub id_is_new: bool,
}

/// The outcome of a claim: the run is now the caller's under `epoch`, or it was not in one of
/// the expected statuses (`status` is what it is; `None` = no such run).
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
  Claimed { epoch: i64 },
  Refused { status: Option<String> },
}

/// A run's final (or suspended) state, written under its epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRunUpdate {
  pub status: String,
  pub result: Option<Value>,
  pub error: Option<Value>,
  /// `Some` replaces the stored state.
  pub state: Option<Value>,
}

/// `listWorkflowRuns` filters (Mastra's names); newest first.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListWorkflowRunsQuery {
  #[serde(default)]
  pub workflow_name: Option<String>,
  #[serde(default)]
  pub status: Option<String>,
  #[serde(default)]
  pub resource_id: Option<String>,
  /// Epoch ms, inclusive.
  #[serde(default)]
  pub from_date: Option<i64>,
  #[serde(default)]
  pub to_date: Option<i64>,
  #[serde(default)]
  pub page: u32,
  /// `None`: every run.
  #[serde(default)]
  pub per_page: Option<u32>,
}

/// A value a `listWorkflowRuns` filter compares a column with.
pub(crate) enum FilterValue<'a> {
  Text(&'a str),
  Int(i64),
}

impl ListWorkflowRunsQuery {
  /// The query's filters as `" WHERE col = <p1> AND …"` (empty without filters), `placeholder(n)`
  /// writing the n-th (1-based) parameter in the backend's syntax, and their values in order.
  pub(crate) fn where_clause(
    &self,
    placeholder: impl Fn(usize) -> String,
  ) -> (String, Vec<FilterValue<'_>>) {
    let candidates = [
      (
        "workflow_name =",
        self.workflow_name.as_deref().map(FilterValue::Text),
      ),
      ("status =", self.status.as_deref().map(FilterValue::Text)),
      (
        "resource_id =",
        self.resource_id.as_deref().map(FilterValue::Text),
      ),
      ("created_at >=", self.from_date.map(FilterValue::Int)),
      ("created_at <=", self.to_date.map(FilterValue::Int)),
    ];
    let mut conds = Vec::new();
    let mut values = Vec::new();
    for (cond, value) in candidates {
      if let Some(v) = value {
        values.push(v);
        conds.push(format!("{cond} {}", placeholder(values.len())));
      }
    }
    let sql = if conds.is_empty() {
      String::new()
    } else {
      format!(" WHERE {}", conds.join(" AND "))
    };
    (sql, values)
  }
}

/// A run with its step records, in the order they were first written.
pub type StoredWorkflowRun = (WorkflowRun, Vec<WorkflowStepRecord>);

/// One page of `list_workflow_runs`: the runs with their records (read with them, in the same
/// snapshot), and how many runs match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRunPage {
  pub runs: Vec<StoredWorkflowRun>,
  pub total: u64,
}

/// Workflow run persistence; both backends implement it with the same semantics.
pub trait WorkflowStore: Send + Sync {
  /// Writes a new run as `running` (epoch 1). A stored run with the same name and id is replaced
  /// (with its step records) when it has ended; one that is `running` or `suspended` is left
  /// alone and the claim is refused with its status.
  fn begin_workflow_run(&self, run: NewWorkflowRun) -> BoxFuture<'_, Result<Claim>>;

  /// Moves the run from one of `from` to `to` and bumps its epoch, in one conditional UPDATE.
  fn claim_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    from: &'a [&'a str],
    to: &'a str,
  ) -> BoxFuture<'a, Result<Claim>>;

  /// Upserts one step record (and replaces the state, when given) in one transaction, if the
  /// run is still at `epoch`. `false`: the run was claimed by someone else; nothing written.
  fn commit_workflow_step<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    record: WorkflowStepRecord,
    state: Option<Value>,
  ) -> BoxFuture<'a, Result<bool>>;

  /// Writes the run's status (and result, error, state) if it is still at `epoch`.
  fn update_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    update: WorkflowRunUpdate,
  ) -> BoxFuture<'a, Result<bool>>;

  /// The run and its step records in the order they were first written.
  fn load_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<Option<StoredWorkflowRun>>>;

  /// Runs, newest first, each with its step records, and the total matching count.
  fn list_workflow_runs(
    &self,
    query: ListWorkflowRunsQuery,
  ) -> BoxFuture<'_, Result<WorkflowRunPage>>;

  /// Deletes the run and its records; `false` when it did not exist.
  fn delete_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<bool>>;
}

/// Statuses in which a run still belongs to an executor or waits for one.
pub const ACTIVE_RUN_STATUSES: &[&str] = &["running", "suspended"];

//! Mastra's result shapes, built from step records: `steps` (one entry per step id, the last
//! iteration winning, foreach items gathered into arrays), `stepExecutionPath`, `suspended`.
//! The same code serves a live run and one read back from storage.

use serde_json::{Map, Value, json};

use lumos_store::{WorkflowRun, WorkflowRunPage, WorkflowStepRecord};

/// Keys of a record the engine keeps for itself (`payloadFrom` is what records stored before
/// `from` used).
pub(crate) const INTERNAL: &[&str] = &[
  "stepId",
  "kind",
  "nested",
  "group",
  "forEachIndex",
  "from",
  "payloadFrom",
  "path",
  "wakeAt",
  "container",
];

/// The step id a record belongs to: its `stepId`, or its key when the two are the same (the
/// engine leaves `stepId` out then, to keep records small).
pub(crate) fn step_id<'a>(key: &'a str, r: &'a Value) -> &'a str {
  r.get("stepId").and_then(Value::as_str).unwrap_or(key)
}

fn is_shown(r: &Value) -> bool {
  r.get("kind").is_none() && r.get("nested").is_none()
}

/// The `payload` a record shows: inline, or the output (or one item of it) of the record its
/// input came from — `from` is that record's key, or `[key, index]` for a foreach item (older
/// records have `payloadFrom: { key, index? }`). `input` is the run's input.
fn payload_of(r: &Value, records: &Map<String, Value>, input: &Value) -> Option<Value> {
  if let Some(p) = r.get("payload") {
    return Some(p.clone());
  }
  let (key, index) = match r.get("from") {
    Some(Value::String(key)) => (key.as_str(), None),
    Some(Value::Array(pair)) => (pair.first()?.as_str()?, pair.get(1)?.as_u64()),
    _ => {
      let from = r.get("payloadFrom")?;
      (
        from.get("key")?.as_str()?,
        from.get("index").and_then(Value::as_u64),
      )
    }
  };
  let whole = if key == "input" {
    input
  } else {
    records.get(key)?.get("output")?
  };
  match index {
    Some(i) => whole.get(i as usize).cloned(),
    None => Some(whole.clone()),
  }
}

fn public(r: &Value, records: &Map<String, Value>, input: &Value) -> Value {
  let mut out = Map::new();
  if let Some(p) = payload_of(r, records, input) {
    out.insert("payload".into(), p);
  }
  if let Some(o) = r.as_object() {
    for (k, v) in o {
      if !INTERNAL.contains(&k.as_str()) && k != "payload" {
        out.insert(k.clone(), v.clone());
      }
    }
  }
  Value::Object(out)
}

/// `steps` keyed by step id (without the `input` entry).
pub fn steps(records: &Map<String, Value>, input: &Value) -> Map<String, Value> {
  let mut out = Map::new();
  for (key, r) in records.iter().filter(|(_, r)| is_shown(r)) {
    let id = step_id(key, r);
    match r.get("forEachIndex").and_then(Value::as_u64) {
      None => {
        out.insert(id.to_string(), public(r, records, input));
      }
      Some(i) => {
        let entry = out
          .entry(id.to_string())
          .or_insert_with(|| json!({ "status": "success", "output": [], "payload": [] }));
        let i = i as usize;
        let put = |slot: &mut Value, v: Value| {
          if let Some(a) = slot.as_array_mut() {
            if a.len() <= i {
              a.resize(i + 1, Value::Null);
            }
            a[i] = v;
          }
        };
        if let Some(o) = r.get("output")
          && let Some(slot) = entry.get_mut("output")
        {
          put(slot, o.clone());
        }
        if let Some(p) = payload_of(r, records, input)
          && let Some(slot) = entry.get_mut("payload")
        {
          put(slot, p);
        }
        let status = r.get("status").and_then(Value::as_str).unwrap_or("success");
        let rank = |s: &str| match s {
          "failed" => 3,
          "suspended" => 2,
          "running" => 1,
          _ => 0,
        };
        let current = entry
          .get("status")
          .and_then(Value::as_str)
          .unwrap_or("success");
        if rank(status) > rank(current) {
          entry["status"] = Value::String(status.to_string());
          for k in ["error", "suspendPayload"] {
            if let Some(v) = r.get(k) {
              entry[k] = v.clone();
            }
          }
        }
        for (k, pick_min) in [("startedAt", true), ("endedAt", false)] {
          if let Some(t) = r.get(k).and_then(Value::as_i64) {
            let cur = entry.get(k).and_then(Value::as_i64);
            let better = cur.is_none_or(|c| if pick_min { t < c } else { t > c });
            if better {
              entry[k] = json!(t);
            }
          }
        }
      }
    }
  }
  out
}

/// Top-level step ids in the order they first ran (parallel and branch members left out, as
/// Mastra does).
pub fn execution_path(records: &Map<String, Value>) -> Vec<String> {
  let mut path: Vec<String> = Vec::new();
  for (key, r) in records
    .iter()
    .filter(|(_, r)| is_shown(r) && r.get("group").is_none())
  {
    let id = step_id(key, r);
    if !path.iter().any(|p| p == id) {
      path.push(id.to_string());
    }
  }
  path
}

/// Records of steps that are suspended now (leaves only: a nested workflow's own step record
/// is not one), with their keys.
pub fn suspended_leaves(records: &Map<String, Value>) -> Vec<(&str, &Value)> {
  records
    .iter()
    .filter(|(_, r)| {
      r.get("status").and_then(Value::as_str) == Some("suspended")
        && r.get("kind").is_none()
        && r.get("container").is_none()
    })
    .map(|(k, r)| (k.as_str(), r))
    .collect()
}

fn suspended_parts(records: &Map<String, Value>) -> (Vec<Value>, Map<String, Value>) {
  let mut paths = Vec::new();
  let mut payloads = Map::new();
  for (key, r) in suspended_leaves(records) {
    let id = step_id(key, r);
    let path = r.get("path").cloned().unwrap_or_else(|| json!([id]));
    if !paths.contains(&path) {
      paths.push(path);
    }
    payloads.insert(
      id.to_string(),
      r.get("suspendPayload").cloned().unwrap_or(Value::Null),
    );
  }
  (paths, payloads)
}

/// What `run.start()` / `resume()` resolve to (Mastra's `WorkflowResult`).
pub struct Outcome<'a> {
  pub run_id: &'a str,
  pub status: &'a str,
  pub input: Value,
  pub state: Value,
  pub result: Option<Value>,
  pub error: Option<Value>,
}

pub fn run_result(o: Outcome<'_>, records: &Map<String, Value>) -> Value {
  // Built field by field (not with `json!`, which would copy every value once more).
  let mut steps_map = Map::new();
  steps_map.insert("input".into(), o.input.clone());
  steps_map.extend(steps(records, &o.input));
  let path = execution_path(records)
    .into_iter()
    .map(Value::String)
    .collect();
  let mut out = Map::new();
  out.insert("status".into(), Value::String(o.status.to_string()));
  out.insert("steps".into(), Value::Object(steps_map));
  out.insert("input".into(), o.input);
  out.insert("stepExecutionPath".into(), Value::Array(path));
  out.insert("state".into(), o.state);
  out.insert("runId".into(), Value::String(o.run_id.to_string()));
  if let Some(r) = o.result {
    out.insert("result".into(), r);
  }
  if let Some(e) = o.error {
    out.insert("error".into(), e);
  }
  if o.status == "suspended" {
    let (paths, payloads) = suspended_parts(records);
    out.insert("suspended".into(), Value::Array(paths));
    out.insert("suspendPayload".into(), Value::Object(payloads));
  }
  Value::Object(out)
}

fn records_map(records: &[WorkflowStepRecord]) -> Map<String, Value> {
  records
    .iter()
    .map(|r| (r.key.clone(), r.record.clone()))
    .collect()
}

fn iso(ms: i64) -> Value {
  Value::String(lumos_core::time::iso8601(ms.max(0) as u64))
}

/// `workflow.getWorkflowRunById(runId)`: Mastra's `WorkflowState`.
pub fn stored_run(run: &WorkflowRun, records: &[WorkflowStepRecord]) -> Value {
  let map = records_map(records);
  let mut out = json!({
    "runId": run.run_id,
    "workflowName": run.workflow_name,
    "resourceId": run.resource_id,
    "createdAt": iso(run.created_at),
    "updatedAt": iso(run.updated_at),
    "status": run.status,
    "state": run.state,
    "payload": run.input,
    "steps": steps(&map, &run.input),
    "stepExecutionPath": execution_path(&map),
    "activeStepsPath": {},
  });
  if let Some(r) = &run.result {
    out["result"] = r.clone();
  }
  if let Some(e) = &run.error {
    out["error"] = e.clone();
  }
  if run.status == "suspended" {
    let (paths, payloads) = suspended_parts(&map);
    out["suspended"] = Value::Array(paths);
    out["suspendPayload"] = Value::Object(payloads);
  }
  out
}

/// One entry of `listWorkflowRuns().runs`: `{ workflowName, runId, snapshot, createdAt, updatedAt, resourceId }`.
pub fn listed_run(run: &WorkflowRun, records: &[WorkflowStepRecord]) -> Value {
  let map = records_map(records);
  let mut context = Map::new();
  context.insert("input".into(), run.input.clone());
  context.extend(steps(&map, &run.input));
  let mut snapshot = json!({
    "runId": run.run_id,
    "status": run.status,
    "value": run.state,
    "context": context,
    "timestamp": run.updated_at,
  });
  if let Some(r) = &run.result {
    snapshot["result"] = r.clone();
  }
  if let Some(e) = &run.error {
    snapshot["error"] = e.clone();
  }
  json!({
    "workflowName": run.workflow_name,
    "runId": run.run_id,
    "resourceId": run.resource_id,
    "snapshot": snapshot,
    "createdAt": iso(run.created_at),
    "updatedAt": iso(run.updated_at),
  })
}

/// `listWorkflowRuns()`: `{ runs: [listed_run…], total }`.
pub fn listed_page(page: &WorkflowRunPage) -> Value {
  let runs: Vec<Value> = page
    .runs
    .iter()
    .map(|(run, records)| listed_run(run, records))
    .collect();
  json!({ "runs": runs, "total": page.total })
}

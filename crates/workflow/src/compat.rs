//! Commit-time schema checks: does each step's input schema accept what the step before it
//! outputs? Decided on the JSON Schemas the facade sends (zod → JSON Schema). Only certain
//! mismatches are errors — a missing required property, or incompatible types; anything the
//! schemas leave open (no schema, `any`, unions, refs) passes and is checked at run time.

use serde_json::{Map, Value, json};

use crate::error::{Result, WorkflowError};
use crate::graph::{Node, StepKind};

fn types(s: &Value) -> Option<Vec<&str>> {
  match s.get("type")? {
    Value::String(t) => Some(vec![t.as_str()]),
    Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
    _ => None,
  }
}

fn is_open(s: &Value) -> bool {
  match s {
    Value::Bool(true) => true,
    Value::Object(o) => {
      o.is_empty()
        || ["anyOf", "oneOf", "allOf", "$ref", "not"]
          .iter()
          .any(|k| o.contains_key(*k))
        || !o.contains_key("type")
    }
    _ => true,
  }
}

/// Why `out` cannot fit `inp`, or `None` when it can (or it cannot be decided).
fn misfit(out: &Value, inp: &Value, path: &str) -> Option<String> {
  if is_open(out) || is_open(inp) {
    return None;
  }
  let (Some(ot), Some(it)) = (types(out), types(inp)) else {
    return None;
  };
  let accepts = |o: &str| {
    it.iter()
      .any(|i| *i == o || (*i == "number" && o == "integer") || (*i == "integer" && o == "number"))
  };
  if !ot.iter().any(|o| accepts(o)) {
    let at = if path.is_empty() {
      String::new()
    } else {
      format!(" at `{path}`")
    };
    return Some(format!(
      "expects {}{at} but receives {}",
      it.join(" | "),
      ot.join(" | ")
    ));
  }
  if ot == ["object"] && it == ["object"] {
    let empty = Map::new();
    let out_props = out.get("properties").and_then(Value::as_object);
    let in_props = inp
      .get("properties")
      .and_then(Value::as_object)
      .unwrap_or(&empty);
    let required = inp.get("required").and_then(Value::as_array);
    if let Some(out_props) = out_props {
      for key in required.into_iter().flatten().filter_map(Value::as_str) {
        let sub = if path.is_empty() {
          key.to_string()
        } else {
          format!("{path}.{key}")
        };
        match out_props.get(key) {
          None => {
            // An output that declares its properties and allows no others cannot carry it.
            if out.get("additionalProperties") == Some(&Value::Bool(false))
              || !out
                .as_object()
                .is_some_and(|o| o.contains_key("additionalProperties"))
            {
              return Some(format!(
                "needs `{sub}`, which the previous step does not output"
              ));
            }
          }
          Some(o) => {
            if let Some(i) = in_props.get(key)
              && let Some(why) = misfit(o, i, &sub)
            {
              return Some(why);
            }
          }
        }
      }
    }
  }
  if ot == ["array"]
    && it == ["array"]
    && let (Some(o), Some(i)) = (out.get("items"), inp.get("items"))
  {
    return misfit(o, i, &format!("{path}[]"));
  }
  None
}

fn mismatch(wf: &str, step: &str, from: &str, why: String) -> WorkflowError {
  WorkflowError::new(
    "WORKFLOW_SCHEMA_MISMATCH",
    format!(
      "workflow '{wf}': step '{step}' {why} ({from}); make its inputSchema match, or put a .map() between them"
    ),
  )
}

/// The schema a node outputs given its input schema (`None`: unknown), checking the node's
/// input on the way.
fn node_output(wf: &str, node: &Node, input: Option<&Value>, from: &str) -> Result<Option<Value>> {
  match node {
    Node::Step(s) => {
      if s.kind == StepKind::Step
        && let (Some(prev), Some(inp)) = (input, &s.input_schema)
        && let Some(why) = misfit(prev, inp, "")
      {
        return Err(mismatch(wf, &s.id, from, why));
      }
      Ok(s.output_schema.clone())
    }
    Node::Parallel { steps } => group_output(wf, steps.iter(), input, from, true),
    Node::Branch { branches } => {
      group_output(wf, branches.iter().map(|b| &b.step), input, from, false)
    }
    Node::Loop { step, .. } => {
      let out = node_output(wf, step, input, from)?;
      // Every later iteration gets the previous iteration's output.
      if let Some(o) = &out {
        node_output(wf, step, Some(o), "its own output in the next iteration")?;
      }
      Ok(out)
    }
    Node::Foreach { step, .. } => {
      let item = match input {
        Some(prev) if !is_open(prev) => {
          if types(prev).is_some_and(|t| !t.contains(&"array")) {
            let id = step.output_id().unwrap_or("foreach");
            return Err(mismatch(
              wf,
              id,
              from,
              "is a .foreach() body, which needs an array".into(),
            ));
          }
          prev.get("items")
        }
        _ => None,
      };
      let out = node_output(wf, step, item, from)?;
      Ok(out.map(|o| json!({ "type": "array", "items": o })))
    }
    Node::Sleep { .. } | Node::SleepUntil { .. } => Ok(input.cloned()),
  }
}

fn group_output<'a>(
  wf: &str,
  nodes: impl Iterator<Item = &'a Node>,
  input: Option<&Value>,
  from: &str,
  all_required: bool,
) -> Result<Option<Value>> {
  let mut props = Map::new();
  for n in nodes {
    let out = node_output(wf, n, input, from)?;
    if let Some(id) = n.output_id() {
      props.insert(id.to_string(), out.unwrap_or_else(|| json!({})));
    }
  }
  let required: Vec<Value> = if all_required {
    props.keys().map(|k| Value::String(k.clone())).collect()
  } else {
    Vec::new()
  };
  Ok(Some(
    json!({ "type": "object", "properties": props, "required": required }),
  ))
}

/// Checks a sequence from the workflow's input schema on.
pub fn check_sequence(wf: &str, nodes: &[Node], input: Option<Value>) -> Result<()> {
  let mut prev = input;
  let mut from = "the workflow's inputSchema".to_string();
  for node in nodes {
    prev = node_output(wf, node, prev.as_ref(), &from)?;
    from = match node.output_id() {
      Some(id) => format!("the output of '{id}'"),
      None => "the previous group's output".into(),
    };
  }
  Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn decides_only_certain_mismatches() {
    let n = json!({"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"], "additionalProperties": false});
    let s = json!({"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]});
    assert!(misfit(&n, &n, "").is_none());
    assert!(misfit(&n, &s, "").unwrap().contains("needs `s`"));
    let ns = json!({"type": "object", "properties": {"n": {"type": "string"}}, "required": ["n"]});
    assert!(misfit(&n, &ns, "").unwrap().contains("at `n`"));
    assert!(misfit(&json!({}), &s, "").is_none());
    assert!(misfit(&n, &json!({"anyOf": []}), "").is_none());
    let int = json!({"type": "integer"});
    assert!(misfit(&int, &json!({"type": "number"}), "").is_none());
    assert!(misfit(&json!({"type": "string"}), &int, "").is_some());
  }
}

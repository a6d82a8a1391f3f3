//! A small JSON Schema validator for tool arguments given as plain JSON Schema (and, later, MCP
//! tools). It covers the keywords tool schemas use: type, properties, required,
//! additionalProperties, items, enum, const, numeric and length bounds, anyOf/oneOf/allOf, and
//! local `$ref`s. Unknown keywords are ignored, as the spec says.

use serde_json::{Map, Value, json};

#[derive(Clone, Debug, PartialEq)]
pub struct SchemaIssue {
  pub path: String,
  pub message: String,
}

/// Validates `value` against `schema`; returns every issue found (empty = valid).
pub fn validate(schema: &Value, value: &Value) -> Vec<SchemaIssue> {
  let mut issues = Vec::new();
  check(schema, schema, value, "", &mut issues, 0);
  issues
}

/// Issues as the `validationErrors` object Mastra hands the model: `{ path: [message…] }`.
pub fn issues_to_json(issues: &[SchemaIssue]) -> Value {
  let mut map = Map::new();
  for issue in issues {
    let key = if issue.path.is_empty() {
      "(root)".to_string()
    } else {
      issue.path.clone()
    };
    let entry = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = entry {
      list.push(Value::String(issue.message.clone()));
    }
  }
  json!({ "fieldErrors": Value::Object(map) })
}

/// One line per issue, for the human-readable message.
pub fn issues_to_text(issues: &[SchemaIssue]) -> String {
  issues
    .iter()
    .map(|i| {
      if i.path.is_empty() {
        format!("- {}", i.message)
      } else {
        format!("- {}: {}", i.path, i.message)
      }
    })
    .collect::<Vec<_>>()
    .join("\n")
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
  let pointer = reference.strip_prefix('#')?;
  if pointer.is_empty() {
    Some(root)
  } else {
    root.pointer(pointer)
  }
}

fn type_matches(ty: &str, value: &Value) -> bool {
  match ty {
    "object" => value.is_object(),
    "array" => value.is_array(),
    "string" => value.is_string(),
    "boolean" => value.is_boolean(),
    "null" => value.is_null(),
    "number" => value.is_number(),
    "integer" => value.as_f64().is_some_and(|f| f.fract() == 0.0),
    _ => true,
  }
}

fn describe(value: &Value) -> &'static str {
  match value {
    Value::Null => "null",
    Value::Bool(_) => "boolean",
    Value::Number(_) => "number",
    Value::String(_) => "string",
    Value::Array(_) => "array",
    Value::Object(_) => "object",
  }
}

fn join_path(path: &str, key: &str) -> String {
  if path.is_empty() {
    key.to_string()
  } else {
    format!("{path}.{key}")
  }
}

fn check(
  root: &Value,
  schema: &Value,
  value: &Value,
  path: &str,
  issues: &mut Vec<SchemaIssue>,
  depth: u32,
) {
  // Schemas from users may be cyclic through $ref; a depth bound keeps that from overflowing.
  if depth > 64 {
    return;
  }
  let obj = match schema {
    Value::Bool(false) => {
      issues.push(SchemaIssue {
        path: path.to_string(),
        message: "no value is allowed here".into(),
      });
      return;
    }
    Value::Object(o) => o,
    _ => return,
  };
  macro_rules! push {
    ($m:expr) => {
      issues.push(SchemaIssue {
        path: path.to_string(),
        message: $m,
      })
    };
  }

  if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
    match resolve(root, reference) {
      Some(target) => check(root, target, value, path, issues, depth + 1),
      None => issues.push(SchemaIssue {
        path: path.to_string(),
        message: format!("unresolvable $ref {reference}"),
      }),
    }
  }

  if let Some(ty) = obj.get("type") {
    let ok = match ty {
      Value::String(t) => type_matches(t, value),
      Value::Array(ts) => ts
        .iter()
        .filter_map(Value::as_str)
        .any(|t| type_matches(t, value)),
      _ => true,
    };
    // OpenAPI-style `nullable: true` (zod v3 targets emit it).
    let nullable = obj
      .get("nullable")
      .and_then(Value::as_bool)
      .unwrap_or(false)
      && value.is_null();
    if !ok && !nullable {
      let expected = match ty {
        Value::String(t) => t.clone(),
        other => other.to_string(),
      };
      push!(format!("expected {expected}, received {}", describe(value)));
      return;
    }
  }

  if let Some(allowed) = obj.get("enum").and_then(Value::as_array)
    && !allowed.contains(value)
  {
    let list = allowed
      .iter()
      .map(Value::to_string)
      .collect::<Vec<_>>()
      .join(", ");
    push!(format!("must be one of {list}"));
  }
  if let Some(constant) = obj.get("const")
    && constant != value
  {
    push!(format!("must equal {constant}"));
  }

  if let Some(n) = value.as_f64() {
    let bound = |k: &str| obj.get(k).and_then(Value::as_f64);
    if let Some(min) = bound("minimum")
      && n < min
    {
      push!(format!("must be >= {min}"));
    }
    if let Some(max) = bound("maximum")
      && n > max
    {
      push!(format!("must be <= {max}"));
    }
    // Draft-4 style booleans (zod-to-json-schema's openApi3 target) and draft-6+ numbers.
    match obj.get("exclusiveMinimum") {
      Some(Value::Number(m)) if m.as_f64().is_some_and(|m| n <= m) => {
        push!(format!("must be > {m}"))
      }
      Some(Value::Bool(true)) if bound("minimum").is_some_and(|m| n <= m) => {
        push!("must be greater than the minimum".into())
      }
      _ => {}
    }
    match obj.get("exclusiveMaximum") {
      Some(Value::Number(m)) if m.as_f64().is_some_and(|m| n >= m) => {
        push!(format!("must be < {m}"))
      }
      Some(Value::Bool(true)) if bound("maximum").is_some_and(|m| n >= m) => {
        push!("must be less than the maximum".into())
      }
      _ => {}
    }
    if let Some(step) = bound("multipleOf")
      && step > 0.0
      && ((n / step).round() * step - n).abs() > 1e-9 * n.abs().max(1.0)
    {
      push!(format!("must be a multiple of {step}"));
    }
  }

  if let Some(s) = value.as_str() {
    let len = s.chars().count() as u64;
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
      && len < min
    {
      push!(format!("must have at least {min} characters"));
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
      && len > max
    {
      push!(format!("must have at most {max} characters"));
    }
  }

  if let Some(items) = value.as_array() {
    if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
      && (items.len() as u64) < min
    {
      push!(format!("must have at least {min} items"));
    }
    if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
      && (items.len() as u64) > max
    {
      push!(format!("must have at most {max} items"));
    }
    match obj.get("items") {
      Some(Value::Array(tuple)) => {
        for (i, (item, s)) in items.iter().zip(tuple).enumerate() {
          check(
            root,
            s,
            item,
            &join_path(path, &i.to_string()),
            issues,
            depth + 1,
          );
        }
      }
      Some(item_schema) => {
        for (i, item) in items.iter().enumerate() {
          check(
            root,
            item_schema,
            item,
            &join_path(path, &i.to_string()),
            issues,
            depth + 1,
          );
        }
      }
      None => {}
    }
  }

  if let Some(map) = value.as_object() {
    let props = obj.get("properties").and_then(Value::as_object);
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
      for key in required.iter().filter_map(Value::as_str) {
        if !map.contains_key(key) {
          issues.push(SchemaIssue {
            path: join_path(path, key),
            message: "required".into(),
          });
        }
      }
    }
    for (key, v) in map {
      let child = join_path(path, key);
      match props.and_then(|p| p.get(key)) {
        Some(s) => check(root, s, v, &child, issues, depth + 1),
        None => match obj.get("additionalProperties") {
          Some(Value::Bool(false)) => {
            issues.push(SchemaIssue {
              path: child,
              message: "unrecognized key".into(),
            });
          }
          Some(s @ Value::Object(_)) => check(root, s, v, &child, issues, depth + 1),
          _ => {}
        },
      }
    }
  }

  for (keyword, need_all, exactly_one) in [
    ("allOf", true, false),
    ("anyOf", false, false),
    ("oneOf", false, true),
  ] {
    let Some(options) = obj.get(keyword).and_then(Value::as_array) else {
      continue;
    };
    let results: Vec<Vec<SchemaIssue>> = options
      .iter()
      .map(|s| {
        let mut sub = Vec::new();
        check(root, s, value, path, &mut sub, depth + 1);
        sub
      })
      .collect();
    let passing = results.iter().filter(|r| r.is_empty()).count();
    if need_all {
      issues.extend(results.into_iter().flatten());
    } else if passing == 0 {
      issues.push(SchemaIssue {
        path: path.to_string(),
        message: "does not match any allowed schema".into(),
      });
    } else if exactly_one && passing > 1 {
      issues.push(SchemaIssue {
        path: path.to_string(),
        message: "matches more than one schema in oneOf".into(),
      });
    }
  }
  if let Some(not) = obj.get("not") {
    let mut sub = Vec::new();
    check(root, not, value, path, &mut sub, depth + 1);
    if sub.is_empty() {
      issues.push(SchemaIssue {
        path: path.to_string(),
        message: "must not match the `not` schema".into(),
      });
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn ok(schema: Value, value: Value) -> bool {
    validate(&schema, &value).is_empty()
  }

  #[test]
  fn objects_required_and_types() {
    let s = json!({ "type": "object", "properties": { "a": { "type": "number" }, "b": { "type": "string" } }, "required": ["a"], "additionalProperties": false });
    assert!(ok(s.clone(), json!({ "a": 1 })));
    assert!(ok(s.clone(), json!({ "a": 1.5, "b": "x" })));
    let issues = validate(&s, &json!({ "a": "1", "c": true }));
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(
      issues
        .iter()
        .any(|i| i.path == "a" && i.message.contains("expected number"))
    );
    assert!(issues.iter().any(|i| i.path == "c"));
    assert!(!ok(s, json!({})));
  }

  #[test]
  fn integers_bounds_enums_arrays() {
    assert!(ok(json!({ "type": "integer" }), json!(3)));
    assert!(!ok(json!({ "type": "integer" }), json!(3.5)));
    assert!(!ok(
      json!({ "type": "number", "minimum": 1, "maximum": 5 }),
      json!(9)
    ));
    assert!(!ok(
      json!({ "type": "number", "exclusiveMinimum": 0 }),
      json!(0)
    ));
    assert!(ok(json!({ "enum": ["c", "f"] }), json!("c")));
    assert!(!ok(json!({ "enum": ["c", "f"] }), json!("k")));
    assert!(!ok(
      json!({ "type": "array", "items": { "type": "string" }, "minItems": 1 }),
      json!([1])
    ));
    assert!(!ok(json!({ "type": "string", "minLength": 2 }), json!("a")));
  }

  #[test]
  fn combinators_refs_and_nullable() {
    assert!(ok(
      json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] }),
      json!(null)
    ));
    assert!(!ok(
      json!({ "anyOf": [{ "type": "string" }, { "type": "null" }] }),
      json!(1)
    ));
    assert!(!ok(
      json!({ "oneOf": [{ "type": "number" }, { "type": "integer" }] }),
      json!(1)
    ));
    let s = json!({ "type": "object", "properties": { "p": { "$ref": "#/definitions/P" } }, "definitions": { "P": { "type": "boolean" } } });
    assert!(ok(s.clone(), json!({ "p": true })));
    assert!(!ok(s, json!({ "p": 1 })));
    assert!(ok(
      json!({ "type": "string", "nullable": true }),
      json!(null)
    ));
  }

  #[test]
  fn self_referencing_schema_terminates() {
    let s = json!({ "$ref": "#" });
    let _ = validate(&s, &json!(1));
  }

  #[test]
  fn issue_rendering() {
    let issues = validate(&json!({ "type": "object", "required": ["x"] }), &json!({}));
    assert_eq!(issues_to_text(&issues), "- x: required");
    assert_eq!(
      issues_to_json(&issues),
      json!({ "fieldErrors": { "x": ["required"] } })
    );
  }
}

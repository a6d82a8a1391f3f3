//! Mongo-style metadata filters, compiled once per query and evaluated in Rust.
//!
//! Supported: implicit equality `{ field: value }`, `$eq $ne $gt $gte $lt $lte $in $nin $all
//! $exists $not` on fields, logical `$and $or $nor $not` at any level, dot paths (`a.b`).
//! Array fields: `$eq`, `$in`, and the comparisons match when any element matches (or, for
//! `$eq`, when the whole array equals the value); `$ne`/`$nin` are their negations (so they
//! also match a missing field, like MongoDB). `{ field: null }` matches null or missing.

use crate::error::{Result, VectorError};
use serde_json::{Map, Value};
use std::cmp::Ordering;

const FIELD_OPS: &str = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $all, $exists, $not";
const LOGICAL_OPS: &str = "$and, $or, $nor, $not";

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Filter {
  /// Matches everything (empty filter).
  True,
  /// All must match.
  And(Vec<Filter>),
  /// Any must match.
  Or(Vec<Filter>),
  /// Negation.
  Not(Box<Filter>),
  /// A condition on one field.
  Field(Vec<String>, Cond),
}

/// A condition on a field value.
#[derive(Debug, Clone)]
pub enum Cond {
  /// `$eq`
  Eq(Value),
  /// `$gt`/`$gte`/`$lt`/`$lte`: the orderings accepted and the operand
  Cmp(CmpOp, Value),
  /// `$in`
  In(Vec<Value>),
  /// `$all`
  All(Vec<Value>),
  /// `$exists`
  Exists(bool),
  /// Several conditions, all must hold.
  And(Vec<Cond>),
  /// `$not`, `$ne`, `$nin`
  Not(Box<Cond>),
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
  /// `$gt`
  Gt,
  /// `$gte`
  Gte,
  /// `$lt`
  Lt,
  /// `$lte`
  Lte,
}

fn bad(msg: String) -> VectorError {
  VectorError::InvalidFilter(msg)
}

impl Filter {
  /// Compile a JSON filter; any malformed part is a `VECTOR_INVALID_FILTER` error.
  pub fn compile(v: &Value) -> Result<Filter> {
    match v {
      Value::Null => Ok(Filter::True),
      Value::Object(m) => compile_object(m),
      other => Err(bad(format!(
        "invalid filter: expected an object like {{ \"field\": value }} or {{ \"field\": {{ \"$gt\": 1 }} }}, got {}",
        type_name(other)
      ))),
    }
  }

  /// Evaluate against a metadata object.
  pub fn matches(&self, doc: &Value) -> bool {
    match self {
      Filter::True => true,
      Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
      Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
      Filter::Not(f) => !f.matches(doc),
      Filter::Field(path, cond) => cond.eval(lookup(doc, path)),
    }
  }
}

fn type_name(v: &Value) -> &'static str {
  match v {
    Value::Null => "null",
    Value::Bool(_) => "a boolean",
    Value::Number(_) => "a number",
    Value::String(_) => "a string",
    Value::Array(_) => "an array",
    Value::Object(_) => "an object",
  }
}

fn compile_object(m: &Map<String, Value>) -> Result<Filter> {
  let mut parts = Vec::with_capacity(m.len());
  for (k, v) in m {
    parts.push(compile_entry(k, v)?);
  }
  Ok(match parts.len() {
    0 => Filter::True,
    1 => parts.pop().unwrap_or(Filter::True),
    _ => Filter::And(parts),
  })
}

fn compile_list(op: &str, v: &Value) -> Result<Vec<Filter>> {
  match v {
    Value::Array(items) => items
      .iter()
      .map(|it| match it {
        Value::Object(m) => compile_object(m),
        other => Err(bad(format!(
          "invalid filter: every element of {op} must be a filter object, got {}",
          type_name(other)
        ))),
      })
      .collect(),
    other => Err(bad(format!(
      "invalid filter: {op} takes an array of filter objects, got {}",
      type_name(other)
    ))),
  }
}

fn compile_entry(k: &str, v: &Value) -> Result<Filter> {
  if let Some(op) = k.strip_prefix('$') {
    return match op {
      "and" => Ok(Filter::And(compile_list(k, v)?)),
      "or" => Ok(Filter::Or(compile_list(k, v)?)),
      "nor" => Ok(Filter::Not(Box::new(Filter::Or(compile_list(k, v)?)))),
      "not" => match v {
        Value::Object(m) => Ok(Filter::Not(Box::new(compile_object(m)?))),
        other => Err(bad(format!(
          "invalid filter: $not at the top level takes a filter object, got {}",
          type_name(other)
        ))),
      },
      _ if is_field_op(k) => Err(bad(format!(
        "invalid filter: {k} must be applied to a field, e.g. {{ \"price\": {{ \"{k}\": ... }} }}; at the top level only the logical operators {LOGICAL_OPS} are allowed"
      ))),
      _ => Err(bad(format!(
        "invalid filter: unknown operator {k}; valid field operators are {FIELD_OPS}, logical operators {LOGICAL_OPS}"
      ))),
    };
  }
  if k.is_empty() || k.split('.').any(str::is_empty) {
    return Err(bad(format!(
      "invalid filter: bad field path \"{k}\" (use dot paths like \"a.b\")"
    )));
  }
  let path: Vec<String> = k.split('.').map(str::to_owned).collect();
  Ok(Filter::Field(path, compile_cond(v)?))
}

fn is_field_op(k: &str) -> bool {
  matches!(
    k,
    "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$in" | "$nin" | "$all" | "$exists"
  )
}

fn compile_cond(v: &Value) -> Result<Cond> {
  let Value::Object(m) = v else {
    return Ok(Cond::Eq(v.clone()));
  };
  let has_ops = m.keys().any(|k| k.starts_with('$'));
  if !has_ops {
    return Ok(Cond::Eq(v.clone()));
  }
  if m.keys().any(|k| !k.starts_with('$')) {
    return Err(bad(format!(
      "invalid filter: an object mixing operators and plain keys ({}); use either {{ \"$op\": value }} or a plain value",
      m.keys().cloned().collect::<Vec<_>>().join(", ")
    )));
  }
  let mut conds = Vec::with_capacity(m.len());
  for (op, arg) in m {
    conds.push(compile_op(op, arg)?);
  }
  Ok(if conds.len() == 1 {
    conds.pop().unwrap_or(Cond::And(Vec::new()))
  } else {
    Cond::And(conds)
  })
}

fn array_arg<'a>(op: &str, arg: &'a Value) -> Result<&'a Vec<Value>> {
  match arg {
    Value::Array(a) => Ok(a),
    other => Err(bad(format!(
      "invalid filter: {op} takes an array, got {}",
      type_name(other)
    ))),
  }
}

fn compile_op(op: &str, arg: &Value) -> Result<Cond> {
  let cmp = |c: CmpOp| -> Result<Cond> {
    match arg {
      Value::Number(_) | Value::String(_) | Value::Bool(_) => Ok(Cond::Cmp(c, arg.clone())),
      other => Err(bad(format!(
        "invalid filter: {op} compares with a number, string or boolean, got {}",
        type_name(other)
      ))),
    }
  };
  match op {
        "$eq" => Ok(Cond::Eq(arg.clone())),
        "$ne" => Ok(Cond::Not(Box::new(Cond::Eq(arg.clone())))),
        "$gt" => cmp(CmpOp::Gt),
        "$gte" => cmp(CmpOp::Gte),
        "$lt" => cmp(CmpOp::Lt),
        "$lte" => cmp(CmpOp::Lte),
        "$in" => Ok(Cond::In(array_arg(op, arg)?.clone())),
        "$nin" => Ok(Cond::Not(Box::new(Cond::In(array_arg(op, arg)?.clone())))),
        "$all" => Ok(Cond::All(array_arg(op, arg)?.clone())),
        "$exists" => match arg {
            Value::Bool(b) => Ok(Cond::Exists(*b)),
            other => Err(bad(format!("invalid filter: $exists takes true or false, got {}", type_name(other)))),
        },
        "$not" => match arg {
            Value::Object(m) if !m.is_empty() && m.keys().all(|k| k.starts_with('$')) => {
                Ok(Cond::Not(Box::new(compile_cond(arg)?)))
            }
            _ => Err(bad(
                "invalid filter: $not on a field takes an operator object, e.g. { \"price\": { \"$not\": { \"$gt\": 10 } } }".into(),
            )),
        },
        "$and" | "$or" | "$nor" => Err(bad(format!(
            "invalid filter: {op} is a logical operator: use it at the top level, e.g. {{ \"{op}\": [{{ \"a\": 1 }}, {{ \"b\": 2 }}] }}"
        ))),
        _ => Err(bad(format!(
            "invalid filter: unknown operator {op}; valid field operators are {FIELD_OPS}, logical operators {LOGICAL_OPS}"
        ))),
    }
}

fn lookup<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
  let mut cur = doc;
  for seg in path {
    cur = match cur {
      Value::Object(m) => m.get(seg)?,
      Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
      _ => return None,
    };
  }
  Some(cur)
}

/// Equality with numbers compared by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
  match (a, b) {
    (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
      (Some(x), Some(y)) => x == y,
      _ => x == y,
    },
    (Value::Array(x), Value::Array(y)) => {
      x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
    }
    (Value::Object(x), Value::Object(y)) => {
      x.len() == y.len()
        && x
          .iter()
          .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
    }
    _ => a == b,
  }
}

fn json_cmp(a: &Value, b: &Value) -> Option<Ordering> {
  match (a, b) {
    (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
    (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
    (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
    _ => None,
  }
}

fn eq_matches(field: Option<&Value>, v: &Value) -> bool {
  match field {
    None => v.is_null(),
    Some(f) => {
      if json_eq(f, v) {
        return true;
      }
      match f {
        Value::Array(items) => items.iter().any(|it| json_eq(it, v)),
        _ => false,
      }
    }
  }
}

impl Cond {
  fn eval(&self, field: Option<&Value>) -> bool {
    match self {
      Cond::Eq(v) => eq_matches(field, v),
      Cond::Cmp(op, v) => {
        let test = |x: &Value| {
          json_cmp(x, v).is_some_and(|o| match op {
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Gte => o != Ordering::Less,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Lte => o != Ordering::Greater,
          })
        };
        match field {
          None => false,
          Some(Value::Array(items)) => items.iter().any(test),
          Some(x) => test(x),
        }
      }
      Cond::In(list) => list.iter().any(|v| eq_matches(field, v)),
      Cond::All(list) => match field {
        Some(Value::Array(items)) => {
          !list.is_empty() && list.iter().all(|v| items.iter().any(|it| json_eq(it, v)))
        }
        Some(x) => !list.is_empty() && list.iter().all(|v| json_eq(x, v)),
        None => false,
      },
      Cond::Exists(b) => field.is_some() == *b,
      Cond::And(cs) => cs.iter().all(|c| c.eval(field)),
      Cond::Not(c) => !c.eval(field),
    }
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
  use super::*;
  use serde_json::json;

  fn m(f: Value, d: Value) -> bool {
    match Filter::compile(&f) {
      Ok(c) => c.matches(&d),
      Err(e) => panic!("{e}"),
    }
  }

  #[test]
  fn basics() {
    let d = json!({"a": 1, "s": "x", "tags": ["red", "blue"], "n": {"b": 2.0}, "z": null});
    assert!(m(json!({}), d.clone()));
    assert!(m(json!({"a": 1}), d.clone()));
    assert!(m(json!({"a": 1.0}), d.clone()));
    assert!(!m(json!({"a": 2}), d.clone()));
    assert!(m(json!({"n.b": {"$gte": 2}}), d.clone()));
    assert!(m(json!({"tags": "red"}), d.clone()));
    assert!(m(json!({"tags": {"$in": ["green", "blue"]}}), d.clone()));
    assert!(!m(json!({"tags": {"$nin": ["green", "blue"]}}), d.clone()));
    assert!(m(json!({"tags": {"$all": ["blue", "red"]}}), d.clone()));
    assert!(m(json!({"missing": {"$ne": 3}}), d.clone()));
    assert!(m(json!({"missing": null}), d.clone()));
    assert!(m(json!({"z": {"$exists": true}}), d.clone()));
    assert!(!m(json!({"missing": {"$exists": true}}), d.clone()));
    assert!(m(json!({"$or": [{"a": 5}, {"s": "x"}]}), d.clone()));
    assert!(!m(json!({"$and": [{"a": 1}, {"s": "y"}]}), d.clone()));
    assert!(m(json!({"$not": {"a": 5}}), d.clone()));
    assert!(m(json!({"a": {"$not": {"$gt": 5}}}), d.clone()));
    assert!(!m(json!({"s": {"$gt": 1}}), d.clone()));
    assert!(m(json!({"a": {"$gt": 0, "$lt": 2}}), d.clone()));
  }

  #[test]
  fn errors_name_the_operator() {
    for f in [
      json!({"a": {"$regexx": 1}}),
      json!({"$foo": []}),
      json!({"$gt": 1}),
      json!({"a": {"$in": 3}}),
      json!({"$and": {"a": 1}}),
      json!({"a": {"$exists": 1}}),
      json!({"a": {"$gt": 1, "b": 2}}),
      json!([1]),
    ] {
      match Filter::compile(&f) {
        Ok(_) => panic!("accepted {f}"),
        Err(e) => assert_eq!(e.code(), "VECTOR_INVALID_FILTER", "{f}"),
      }
    }
    let e = Filter::compile(&json!({"a": {"$regexx": 1}}))
      .err()
      .map(|e| e.to_string())
      .unwrap_or_default();
    assert!(
      e.contains("$regexx") && e.contains("$gte") && e.contains("$or"),
      "{e}"
    );
  }
}

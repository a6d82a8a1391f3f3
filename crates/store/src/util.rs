//! Validation, metadata merging, paging and clone planning shared by both backends.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{Result, StoreError};
use crate::types::{CloneThreadOptions, CloneThreadResult, StoredMessage, Thread};

pub(crate) fn now_ms() -> i64 {
  lumos_core::time::now_millis() as i64
}

/// `None` / JSON `null` → `None`; an object → itself; anything else → `STORE_INVALID_INPUT`.
pub(crate) fn check_metadata(
  what: &str,
  metadata: Option<Value>,
) -> Result<Option<Map<String, Value>>> {
  match metadata {
    None | Some(Value::Null) => Ok(None),
    Some(Value::Object(map)) => Ok(Some(map)),
    Some(other) => Err(StoreError::invalid(format!(
      "{what} metadata must be a JSON object (got {}); pass an object such as {{ \"key\": \"value\" }} or leave it out",
      lumos_core::message::json_type_name(&other)
    ))),
  }
}

pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
  if id.is_empty() {
    return Err(StoreError::invalid(format!(
      "{what} must be a non-empty string"
    )));
  }
  Ok(())
}

pub(crate) fn check_thread(thread: &Thread) -> Result<Option<Map<String, Value>>> {
  check_id("thread id", &thread.id)?;
  check_id("thread resourceId", &thread.resource_id)?;
  check_metadata("thread", thread.metadata.clone())
}

/// Mastra's `{ ...old, ...patch }`: top-level keys of `patch` replace those of `old`.
/// `None` when both are empty of an object.
pub(crate) fn merge_metadata(
  old: Option<Value>,
  patch: Option<Map<String, Value>>,
) -> Option<Value> {
  let Some(patch) = patch else { return old };
  let mut base = match old {
    Some(Value::Object(map)) => map,
    _ => Map::new(),
  };
  for (k, v) in patch {
    base.insert(k, v);
  }
  Some(Value::Object(base))
}

/// Validates a batch and folds repeated ids into one entry: the first occurrence's position
/// with the last occurrence's values (what a row-by-row upsert would leave).
pub(crate) fn prepare_messages(messages: Vec<StoredMessage>) -> Result<Vec<StoredMessage>> {
  let mut out: Vec<StoredMessage> = Vec::with_capacity(messages.len());
  let mut pos: HashMap<String, usize> = HashMap::with_capacity(messages.len());
  for (i, m) in messages.into_iter().enumerate() {
    if m.id.is_empty() {
      return Err(StoreError::invalid(format!(
        "message #{i} has an empty id; every message needs a unique id"
      )));
    }
    if m.thread_id.is_empty() {
      return Err(StoreError::invalid(format!(
        "message '{}' has no threadId; every saved message belongs to a thread",
        m.id
      )));
    }
    if m.role.is_empty() {
      return Err(StoreError::invalid(format!(
        "message '{}' has an empty role; use 'user', 'assistant', 'system' or 'signal'",
        m.id
      )));
    }
    match pos.get(&m.id) {
      Some(&at) => out[at] = m,
      None => {
        pos.insert(m.id.clone(), out.len());
        out.push(m);
      }
    }
  }
  Ok(out)
}

/// Distinct thread ids of a batch, in first-seen order.
pub(crate) fn thread_ids(messages: &[StoredMessage]) -> Vec<String> {
  let mut seen = std::collections::HashSet::new();
  let mut out = Vec::new();
  for m in messages {
    if seen.insert(m.thread_id.as_str()) {
      out.push(m.thread_id.clone());
    }
  }
  out
}

/// Metadata filter keys become JSON paths; keep them simple enough to quote.
pub(crate) fn check_filter_key(key: &str) -> Result<()> {
  if key.is_empty() || key.contains('"') || key.contains('\\') {
    return Err(StoreError::invalid(format!(
      "metadata filter key {key:?} is not supported: use a non-empty key without quotes or backslashes"
    )));
  }
  Ok(())
}

/// `(offset, limit)` for a page; `None` limit = everything.
pub(crate) fn page_window(page: u32, per_page: Option<u32>) -> (i64, Option<i64>) {
  match per_page {
    None => (0, None),
    Some(pp) => (i64::from(page) * i64::from(pp), Some(i64::from(pp))),
  }
}

pub(crate) fn has_more(page: u32, per_page: Option<u32>, total: u64) -> bool {
  match per_page {
    None | Some(0) => false,
    Some(pp) => (u64::from(page) + 1) * u64::from(pp) < total,
  }
}

/// Builds the clone from the source thread and its messages (oldest first). Checks nothing in
/// the database: the caller runs this inside its transaction.
pub(crate) fn plan_clone(
  source: &Thread,
  source_messages: Vec<StoredMessage>,
  options: &CloneThreadOptions,
  now: i64,
) -> Result<CloneThreadResult> {
  let extra = check_metadata("clone", options.metadata.clone())?;
  let new_id = match &options.new_thread_id {
    Some(id) => {
      check_id("newThreadId", id)?;
      id.clone()
    }
    None => uuid::Uuid::new_v4().to_string(),
  };
  let mut selected = source_messages;
  if let Some(filter) = &options.message_filter {
    if let Some(start) = filter.start_date {
      selected.retain(|m| m.created_at >= start);
    }
    if let Some(end) = filter.end_date {
      selected.retain(|m| m.created_at <= end);
    }
    if let Some(ids) = &filter.message_ids {
      let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
      selected.retain(|m| wanted.contains(m.id.as_str()));
    }
  }
  if let Some(limit) = options.message_limit {
    let limit = limit as usize;
    if selected.len() > limit {
      selected.drain(..selected.len() - limit);
    }
  }
  let mut clone_info = Map::new();
  clone_info.insert("sourceThreadId".into(), Value::String(source.id.clone()));
  clone_info.insert(
    "clonedAt".into(),
    Value::String(lumos_core::time::iso8601(now.max(0) as u64)),
  );
  if let Some(last) = selected.last() {
    clone_info.insert("lastMessageId".into(), Value::String(last.id.clone()));
  }
  let mut metadata = extra.unwrap_or_default();
  metadata.insert("clone".into(), Value::Object(clone_info));
  let resource_id = options
    .resource_id
    .clone()
    .unwrap_or_else(|| source.resource_id.clone());
  let title = match &options.title {
    Some(t) => Some(t.clone()),
    None => source.title.as_ref().map(|t| format!("Clone of {t}")),
  };
  let thread = Thread {
    id: new_id.clone(),
    resource_id,
    title,
    metadata: Some(Value::Object(metadata)),
    created_at: now,
    updated_at: now,
  };
  let mut map = Vec::with_capacity(selected.len());
  let cloned: Vec<StoredMessage> = selected
    .into_iter()
    .map(|m| {
      let id = uuid::Uuid::new_v4().to_string();
      map.push((m.id.clone(), id.clone()));
      StoredMessage {
        id,
        thread_id: new_id.clone(),
        resource_id: options.resource_id.clone().or(m.resource_id),
        role: m.role,
        r#type: m.r#type,
        created_at: m.created_at,
        content: m.content,
      }
    })
    .collect();
  Ok(CloneThreadResult {
    thread,
    cloned_messages: cloned,
    message_id_map: map,
  })
}

/// Sorts rows carrying their sequence number by `(created_at, seq)` in the asked direction and
/// drops duplicates (same id).
pub(crate) fn merge_sorted(rows: Vec<(i64, StoredMessage)>, desc: bool) -> Vec<StoredMessage> {
  let mut seen = std::collections::HashSet::new();
  let mut rows: Vec<(i64, StoredMessage)> = rows
    .into_iter()
    .filter(|(_, m)| seen.insert(m.id.clone()))
    .collect();
  rows.sort_by(|(sa, a), (sb, b)| {
    let o = a.created_at.cmp(&b.created_at).then(sa.cmp(sb));
    if desc { o.reverse() } else { o }
  });
  rows.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;
  use serde_json::json;

  fn msg(id: &str, t: i64) -> StoredMessage {
    StoredMessage {
      id: id.into(),
      thread_id: "t".into(),
      resource_id: None,
      role: "user".into(),
      r#type: None,
      created_at: t,
      content: json!({ "format": 2, "parts": [] }),
    }
  }

  #[test]
  fn merge_is_shallow_and_keeps_absent() {
    let old = Some(json!({ "a": 1, "b": { "x": 1 } }));
    let patch = json!({ "b": { "y": 2 }, "c": 3 }).as_object().cloned();
    assert_eq!(
      merge_metadata(old.clone(), patch),
      Some(json!({ "a": 1, "b": { "y": 2 }, "c": 3 }))
    );
    assert_eq!(merge_metadata(old.clone(), None), old);
    assert_eq!(merge_metadata(None, None), None);
  }

  #[test]
  fn duplicate_ids_fold_into_first_position() {
    let mut b = msg("a", 2);
    b.role = "assistant".into();
    let out = prepare_messages(vec![msg("a", 1), msg("b", 1), b]).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].id, "a");
    assert_eq!(out[0].role, "assistant");
  }

  #[test]
  fn rejects_bad_messages_and_metadata() {
    assert_eq!(
      prepare_messages(vec![msg("", 1)]).unwrap_err().code(),
      "STORE_INVALID_INPUT"
    );
    assert_eq!(
      check_metadata("x", Some(json!([1]))).unwrap_err().code(),
      "STORE_INVALID_INPUT"
    );
    assert_eq!(check_metadata("x", Some(Value::Null)).unwrap(), None);
  }

  #[test]
  fn paging() {
    assert!(has_more(0, Some(10), 11));
    assert!(!has_more(1, Some(10), 20));
    assert!(!has_more(0, None, 5));
    assert_eq!(page_window(2, Some(10)), (20, Some(10)));
  }
}

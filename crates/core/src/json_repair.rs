//! Parses model JSON output, repairing the truncation a length-limited answer leaves
//! (`{"a":1,"b":"x` → `{"a":1,"b":"x"}`), as Mastra does for structured output.

use serde_json::Value;

/// Parses `text` as JSON; if that fails, strips a Markdown code fence and closes any open
/// strings, arrays and objects. `None` when even the repaired text is not JSON.
pub fn parse_lenient(text: &str) -> Option<Value> {
  let trimmed = text.trim();
  if let Ok(v) = serde_json::from_str(trimmed) {
    return Some(v);
  }
  let unfenced = strip_fence(trimmed);
  if let Ok(v) = serde_json::from_str(unfenced) {
    return Some(v);
  }
  serde_json::from_str(&close_open(unfenced)).ok()
}

fn strip_fence(s: &str) -> &str {
  let Some(rest) = s.strip_prefix("```") else {
    return s;
  };
  let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
  rest.strip_suffix("```").unwrap_or(rest).trim()
}

fn close_open(s: &str) -> String {
  let mut stack = Vec::new();
  let mut in_string = false;
  let mut escaped = false;
  for c in s.chars() {
    if in_string {
      match (escaped, c) {
        (true, _) => escaped = false,
        (false, '\\') => escaped = true,
        (false, '"') => in_string = false,
        _ => {}
      }
      continue;
    }
    match c {
      '"' => in_string = true,
      '{' => stack.push('}'),
      '[' => stack.push(']'),
      '}' | ']' => {
        stack.pop();
      }
      _ => {}
    }
  }
  let mut out = s.to_string();
  if escaped {
    out.pop();
  }
  if in_string {
    out.push('"');
  }
  // A dangling `,` or `:` cannot be closed into valid JSON; drop it (and a key left without value).
  loop {
    let t = out.trim_end();
    if let Some(stripped) = t.strip_suffix(',') {
      out = stripped.to_string();
    } else if t.ends_with(':') {
      if let Some(pos) = t.rfind(['{', ',']) {
        out = t[..=pos].trim_end_matches(',').to_string();
        if out.ends_with('{') {
          continue;
        }
      } else {
        break;
      }
    } else {
      break;
    }
  }
  while let Some(c) = stack.pop() {
    out.push(c);
  }
  out
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  #[test]
  fn repairs_truncation() {
    assert_eq!(parse_lenient(r#"{"a":1"#), Some(json!({ "a": 1 })));
    assert_eq!(parse_lenient(r#"{"a":"x"#), Some(json!({ "a": "x" })));
    assert_eq!(parse_lenient(r#"{"a":[1,2,"#), Some(json!({ "a": [1, 2] })));
    assert_eq!(parse_lenient(r#"{"a":1,"b":"#), Some(json!({ "a": 1 })));
    assert_eq!(
      parse_lenient("```json\n{\"a\":1}\n```"),
      Some(json!({ "a": 1 }))
    );
    assert_eq!(parse_lenient("not json"), None);
  }
}

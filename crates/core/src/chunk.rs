//! Run events in Mastra's chunk envelope: `{ type, runId, from: 'AGENT', payload }`.

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

/// Sends serialised chunks to whoever consumes the run (the JS stream), or nothing at all when
/// nobody listens: `generate()` without callbacks builds no chunk.
#[derive(Clone)]
pub struct Emitter {
  run_id: String,
  tx: Option<UnboundedSender<String>>,
}

impl Emitter {
  pub fn new(run_id: String, tx: Option<UnboundedSender<String>>) -> Self {
    Emitter { run_id, tx }
  }

  pub fn is_active(&self) -> bool {
    self.tx.is_some()
  }

  /// Emits a chunk; `payload` is only built when someone listens.
  pub fn emit(&self, kind: &str, payload: impl FnOnce() -> Value) {
    if let Some(tx) = &self.tx {
      let chunk = envelope(&self.run_id, kind, payload());
      // A closed receiver means the consumer went away; the run still completes for `result()`.
      let _ = tx.send(chunk.to_string());
    }
  }

  /// Emits an already-built chunk (tool-call / tool-result chunks are also kept in the output).
  pub fn emit_value(&self, chunk: &Value) {
    if let Some(tx) = &self.tx {
      let _ = tx.send(chunk.to_string());
    }
  }
}

pub fn envelope(run_id: &str, kind: &str, payload: Value) -> Value {
  json!({ "type": kind, "runId": run_id, "from": "AGENT", "payload": payload })
}

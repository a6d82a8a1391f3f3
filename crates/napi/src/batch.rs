//! Handing a native run's output to JS: queued items as one JSON array per `next()` call (fewer
//! crossings than one per item), and the final result once it is set.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, watch};

use crate::error::internal;

/// Largest batch handed to JS at once, in bytes of JSON.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Waits for one item, then takes whatever else is queued (up to `MAX_BATCH_BYTES`), as a JSON
/// array written by `write`; `None` once the channel is closed and empty.
pub(crate) async fn next_batch<T>(
  rx: &Mutex<mpsc::UnboundedReceiver<T>>,
  write: impl Fn(&mut String, T),
) -> Option<String> {
  let mut rx = rx.lock().await;
  let first = rx.recv().await?;
  let mut batch = String::from("[");
  write(&mut batch, first);
  while batch.len() < MAX_BATCH_BYTES {
    match rx.try_recv() {
      Ok(more) => {
        batch.push(',');
        write(&mut batch, more);
      }
      Err(_) => break,
    }
  }
  batch.push(']');
  Some(batch)
}

/// The result text once the producer has set it; `what` names the run in the error when the
/// producer went away without one.
pub(crate) async fn wait_result(
  rx: &watch::Receiver<Option<Arc<String>>>,
  what: &str,
) -> napi::Result<String> {
  let mut rx = rx.clone();
  let value = rx
    .wait_for(Option::is_some)
    .await
    .map_err(|_| internal(format!("the {what} ended without a result")))?;
  Ok(value.as_deref().map(|s| s.to_string()).unwrap_or_default())
}

//! The storage reads of a memory-on generate, timed alone:
//! `cargo run --release -p lumos-store --example recall_reads [messages]`.
//! Fills one thread of a fresh SQLite file with `messages` (default 100,000), then times the
//! history read (`last_messages` 20) and the include-windows read semantic recall makes
//! (`list_messages` perPage 0, 5 ids ±2) — µs per call over 2,000 calls each, each call after a
//! one-message write (not timed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use lumos_store::{
  IncludeMessage, ListMessagesQuery, SqliteOptions, SqliteStore, Storage, StoredMessage, Thread,
};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
  let n: usize = std::env::args()
    .nth(1)
    .and_then(|a| a.parse().ok())
    .unwrap_or(100_000);
  let dir = std::env::temp_dir().join(format!("lumos-recall-reads-{}", std::process::id()));
  std::fs::create_dir_all(&dir).unwrap();
  let path = dir.join("reads.db");
  let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
    .await
    .unwrap();
  store
    .create_thread(Thread {
      id: "t".into(),
      resource_id: "u".into(),
      title: None,
      metadata: None,
      created_at: 0,
      updated_at: 0,
    })
    .await
    .unwrap();
  let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
  for chunk in ids.chunks(1000) {
    let batch: Vec<StoredMessage> = chunk
      .iter()
      .enumerate()
      .map(|(k, id)| StoredMessage {
        id: id.clone(),
        thread_id: "t".into(),
        resource_id: Some("u".into()),
        role: if k % 2 == 0 { "user" } else { "assistant" }.into(),
        r#type: Some("v2".into()),
        created_at: 1_770_000_000_000 + id[1..].parse::<i64>().unwrap() * 1000,
        content: serde_json::json!({ "format": 2, "parts": [{ "type": "text", "text": format!("message {id} with some ordinary chat text in it") }] }),
      })
      .collect();
    store.save_messages(batch).await.unwrap();
  }
  let calls = 2000;
  // Each read follows a write (as a chat saves its turns between reads): in WAL mode a write
  // empties the readers' page caches.
  let mut written = 0usize;
  let mut write_one = || {
    written += 1;
    vec![StoredMessage {
      id: format!("w{written}"),
      thread_id: "t".into(),
      resource_id: Some("u".into()),
      role: "user".into(),
      r#type: Some("v2".into()),
      created_at: 1_770_000_000_000 + (n + written) as i64 * 1000,
      content: serde_json::json!({ "format": 2, "parts": [{ "type": "text", "text": "a new turn" }] }),
    }]
  };
  let mut read_secs = 0.0;
  for _ in 0..calls {
    store.save_messages(write_one()).await.unwrap();
    let start = Instant::now();
    assert_eq!(store.last_messages("t", 20).await.unwrap().len(), 20.min(n));
    read_secs += start.elapsed().as_secs_f64();
  }
  let last_us = read_secs * 1e6 / calls as f64;
  let mut read_secs = 0.0;
  for c in 0..calls {
    store.save_messages(write_one()).await.unwrap();
    let start = Instant::now();
    let include = (0..5)
      .map(|k| IncludeMessage {
        id: ids[(c * 7919 + k * 104_729) % n].clone(),
        before: 2,
        after: 2,
      })
      .collect();
    let page = store
      .list_messages(ListMessagesQuery {
        thread_id: "t".into(),
        per_page: Some(0),
        include,
        ..ListMessagesQuery::default()
      })
      .await
      .unwrap();
    assert!(!page.messages.is_empty());
    read_secs += start.elapsed().as_secs_f64();
  }
  let include_us = read_secs * 1e6 / calls as f64;
  println!(
    "{n} messages: last_messages(20) {last_us:.1} µs/call; list_messages(perPage 0, 5 includes ±2) {include_us:.1} µs/call"
  );
  let _ = std::fs::remove_dir_all(&dir);
}

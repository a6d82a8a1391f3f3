//! saveMessages fill rate: `cargo run --release -p lumos-store --example save_rate [total]`.
//! Saves `total` messages (default 200,000; random UUID ids; ~330-byte MastraDBMessage-like
//! content each) into
//! one thread of a fresh SQLite file in batches of 100 and of 1,000 and prints messages/s.
//! With LUMOS_PG_URL=postgres://… set it measures that database too (its tables must be free
//! to write: the example creates one thread per run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use lumos_store::{SqliteOptions, SqliteStore, Storage, StoredMessage, Thread};

fn message(thread: &str, i: usize) -> StoredMessage {
  StoredMessage {
    // Random (v4) ids, as real message ids are: they land all over the id index.
    id: uuid::Uuid::new_v4().to_string(),
    thread_id: thread.into(),
    resource_id: Some("user-1".into()),
    role: if i.is_multiple_of(2) {
      "user"
    } else {
      "assistant"
    }
    .into(),
    r#type: Some("v2".into()),
    created_at: 1_770_000_000_000 + i as i64,
    content: serde_json::json!({
      "format": 2,
      "parts": [{ "type": "text", "text": format!("message {i}: the quick brown fox jumps over the lazy dog, again and again, to fill a realistic chat turn of text.") }],
      "content": "",
      "metadata": { "traceId": format!("trace-{i}") }
    }),
  }
}

async fn run(label: &str, store: Arc<dyn Storage>, total: usize) {
  for batch in [100usize, 1000] {
    let thread = format!("{label}-b{batch}-{}", std::process::id());
    store
      .create_thread(Thread {
        id: thread.clone(),
        resource_id: "user-1".into(),
        title: None,
        metadata: None,
        created_at: 0,
        updated_at: 0,
      })
      .await
      .unwrap();
    // Batches are built before the clock starts: only save_messages is timed.
    let all: Vec<StoredMessage> = (0..total).map(|i| message(&thread, i)).collect();
    let batches: Vec<Vec<StoredMessage>> = all.chunks(batch).map(|c| c.to_vec()).collect();
    drop(all);
    let start = Instant::now();
    for b in batches {
      store.save_messages(b).await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
      "{label}: {total} messages in batches of {batch}: {:.2} s, {:.0} messages/s",
      secs,
      total as f64 / secs
    );
  }
}

fn main() {
  let total: usize = std::env::args()
    .nth(1)
    .and_then(|a| a.parse().ok())
    .unwrap_or(200_000);
  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(2)
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let sqlite = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
      .await
      .unwrap();
    run("sqlite (synchronous=NORMAL)", Arc::new(sqlite), total).await;
    let full = SqliteOptions {
      synchronous: lumos_store::Synchronous::Full,
      ..Default::default()
    };
    let path = dir.path().join("bench-full.db");
    let sqlite = SqliteStore::open(path.to_str().unwrap(), full)
      .await
      .unwrap();
    run("sqlite (synchronous=FULL)", Arc::new(sqlite), total).await;
    if let Ok(url) = std::env::var("LUMOS_PG_URL") {
      let pg = lumos_store::PostgresStore::connect(&url, Default::default())
        .await
        .unwrap();
      run("postgres", Arc::new(pg), total).await;
    }
  });
}

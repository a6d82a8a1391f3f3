//! Nothing acknowledged is lost: a child process saves messages in a loop and prints each id
//! once `save_messages` has resolved; it is killed with SIGKILL mid-loop; the database must
//! reopen cleanly (`PRAGMA integrity_check` = ok) with every acknowledged message in it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lumos_store::{SqliteOptions, SqliteStore, Storage, StoredMessage, Thread};

const CHILD_DB: &str = "LUMOS_STORE_DURABILITY_CHILD_DB";
const CHILD_ROUND: &str = "LUMOS_STORE_DURABILITY_CHILD_ROUND";

/// The writer: only does something when the parent starts it with the env var set.
#[test]
#[ignore = "child process of sigkill_loses_no_acknowledged_message"]
fn durability_writer_child() {
  let Some(db) = std::env::var_os(CHILD_DB) else {
    return;
  };
  let round = std::env::var(CHILD_ROUND).unwrap_or_default();
  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(2)
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async move {
    let store = SqliteStore::open(db.to_str().unwrap(), SqliteOptions::default()).await.unwrap();
    let thread = Thread {
      id: "t".into(),
      resource_id: "r".into(),
      title: None,
      metadata: None,
      created_at: 1,
      updated_at: 1,
    };
    if store.get_thread("t").await.unwrap().is_none() {
      store.create_thread(thread).await.unwrap();
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    for batch in 0u64.. {
      // Alternate small and large batches so the kill lands in all kinds of commits.
      let n = if batch % 2 == 0 { 1 } else { 50 };
      let msgs: Vec<StoredMessage> = (0..n)
        .map(|i| StoredMessage {
          id: format!("{round}-{batch}-{i}"),
          thread_id: "t".into(),
          resource_id: Some("r".into()),
          role: "user".into(),
          r#type: None,
          created_at: batch as i64,
          content: serde_json::json!({ "format": 2, "parts": [{ "type": "text", "text": "x".repeat(200) }] }),
        })
        .collect();
      let ids: Vec<String> = msgs.iter().map(|m| m.id.clone()).collect();
      store.save_messages(msgs).await.unwrap();
      for id in ids {
        writeln!(out, "ACK {id}").unwrap();
      }
      out.flush().unwrap();
    }
  });
}

#[test]
fn sigkill_loses_no_acknowledged_message() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("kill.db");
  let exe = std::env::current_exe().unwrap();
  let mut acked: Vec<String> = Vec::new();
  for round in 0..3 {
    let mut child = Command::new(&exe)
      .args([
        "durability_writer_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
      ])
      .env(CHILD_DB, &db)
      .env(CHILD_ROUND, round.to_string())
      .stdout(Stdio::piped())
      .stderr(Stdio::inherit())
      .spawn()
      .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
      for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if tx.send(line).is_err() {
          break;
        }
      }
    });
    let start = Instant::now();
    let mut round_acks = 0usize;
    // Let it write for a while: 2,000 acknowledged messages, or 1.5 s once it has acknowledged some.
    while round_acks < 2_000 && !(round_acks > 0 && start.elapsed() > Duration::from_millis(1500)) {
      match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => {
          if let Some(id) = line.strip_prefix("ACK ") {
            acked.push(id.to_string());
            round_acks += 1;
          }
        }
        Err(e) => panic!("writer child stopped talking ({e}) after {round_acks} acks"),
      }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed");
    reader.join().unwrap();
    // Lines already in the pipe were printed before the kill: acknowledged too.
    for line in rx.try_iter() {
      if let Some(id) = line.strip_prefix("ACK ") {
        acked.push(id.to_string());
      }
    }
    eprintln!(
      "round {round}: killed after {} acknowledged messages in total",
      acked.len()
    );
  }

  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async {
    let store = SqliteStore::open(db.to_str().unwrap(), SqliteOptions::default())
      .await
      .unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let store: Arc<dyn Storage> = Arc::new(store);
    let found = store.get_messages_by_ids(&acked).await.unwrap();
    let found: std::collections::HashSet<String> = found.into_iter().map(|m| m.id).collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !found.contains(*id)).collect();
    assert!(
      missing.is_empty(),
      "{} acknowledged messages lost, e.g. {:?}",
      missing.len(),
      &missing[..missing.len().min(5)]
    );
    assert!(acked.len() >= 3, "the writer acknowledged something");
  });
}

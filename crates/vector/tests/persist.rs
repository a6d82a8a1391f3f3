#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::*;
use lumos_vector::{Metric, Quantization, StoreOptions, VectorStore};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIM: usize = 8;

fn tempdir(tag: &str) -> PathBuf {
  let d = std::env::temp_dir().join(format!(
    "lumos-vector-{tag}-{}-{}",
    std::process::id(),
    uuid::Uuid::new_v4().simple()
  ));
  std::fs::create_dir_all(&d).unwrap();
  d
}

fn small_log() -> StoreOptions {
  // Tiny compaction threshold so snapshots + log rotation happen all the time.
  StoreOptions {
    compact_log_bytes: 32 << 10,
    exact_threshold: 200,
    ..Default::default()
  }
}

fn vec_for(b: u64, i: u64) -> Vec<f32> {
  let mut r = Rng(b * 1000 + i + 1);
  (0..DIM).map(|_| r.gauss()).collect()
}

#[test]
fn restart_keeps_everything_for_all_kinds() {
  let dir = tempdir("restart");
  let mut expect = Vec::new();
  {
    let s = VectorStore::open_with(Some(&dir), small_log()).unwrap();
    for (name, metric, q) in [
      ("cos", Metric::Cosine, Quantization::F32),
      ("dot8", Metric::DotProduct, Quantization::I8),
      ("l2", Metric::Euclidean, Quantization::F32),
    ] {
      s.create_index(name, DIM, metric, q).unwrap();
      for b in 0..30 {
        let ids: Vec<String> = (0..20).map(|i| format!("{b}-{i}")).collect();
        let v: Vec<f32> = (0..20).flat_map(|i| vec_for(b, i)).collect();
        let m: Vec<_> = (0..20).map(|i| json!({"b": b, "i": i})).collect();
        s.upsert(name, Some(ids), &v, m).unwrap();
      }
      s.delete_vector(name, "3-3").unwrap();
      s.update_vector(name, "4-4", None, Some(&json!({"changed": true})))
        .unwrap();
      s.update_vector(name, "5-5", Some(&vec_for(99, 99)), None)
        .unwrap();
    }
    s.create_index("gone", 2, Metric::Cosine, Quantization::F32)
      .unwrap();
    s.delete_index("gone").unwrap();
    for name in ["cos", "dot8", "l2"] {
      let q = vec_for(7, 7);
      expect.push((
        name,
        s.query(name, &q, 10, Some(&json!({"b": {"$lt": 20}})), true)
          .unwrap(),
      ));
    }
  }
  let s = VectorStore::open_with(Some(&dir), small_log()).unwrap();
  assert_eq!(s.list_indexes(), ["cos", "dot8", "l2"]);
  for (name, before) in expect {
    let st = s.describe_index(name).unwrap();
    assert_eq!(st.count, 599, "{name}");
    assert!(s.get(name, "3-3").unwrap().is_none());
    assert_eq!(
      s.get(name, "4-4").unwrap().unwrap().metadata,
      json!({"changed": true})
    );
    let v = s.get(name, "5-5").unwrap().unwrap().vector.unwrap();
    let want = vec_for(99, 99);
    assert!(
      v.iter().zip(&want).all(|(a, b)| (a - b).abs() < 0.05),
      "{name}: {v:?}"
    );
    let q = vec_for(7, 7);
    let after = s
      .query(name, &q, 10, Some(&json!({"b": {"$lt": 20}})), true)
      .unwrap();
    assert_eq!(after, before, "{name}");
  }
  // Creating again with another dimension still conflicts after a restart.
  assert_eq!(
    s.create_index("cos", 3, Metric::Cosine, Quantization::F32)
      .unwrap_err()
      .code(),
    "VECTOR_INDEX_EXISTS"
  );
  drop(s);
  let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torn_log_tail_is_ignored_and_later_writes_survive() {
  let dir = tempdir("torn");
  {
    let s = VectorStore::open(Some(&dir)).unwrap();
    s.create_index("t", DIM, Metric::Cosine, Quantization::F32)
      .unwrap();
    s.upsert(
      "t",
      Some(vec!["a".into(), "b".into()]),
      &[vec_for(1, 1), vec_for(1, 2)].concat(),
      vec![],
    )
    .unwrap();
  }
  let log = dir.join("t").join("log.0");
  let len = std::fs::metadata(&log).unwrap().len();
  // A torn record: a frame header promising more bytes than follow.
  {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
  }
  {
    let s = VectorStore::open(Some(&dir)).unwrap();
    assert_eq!(s.describe_index("t").unwrap().count, 2);
    assert_eq!(
      std::fs::metadata(&log).unwrap().len(),
      len,
      "torn tail truncated"
    );
    s.upsert("t", Some(vec!["c".into()]), &vec_for(1, 3), vec![])
      .unwrap();
  }
  // A corrupted (bad CRC) last record is dropped too, earlier ones are kept.
  let s = VectorStore::open(Some(&dir)).unwrap();
  assert_eq!(s.describe_index("t").unwrap().count, 3);
  drop(s);
  let mut bytes = std::fs::read(&log).unwrap();
  let n = bytes.len();
  bytes[n - 1] ^= 0xFF;
  std::fs::write(&log, bytes).unwrap();
  let s = VectorStore::open(Some(&dir)).unwrap();
  assert_eq!(s.describe_index("t").unwrap().count, 2);
  assert!(s.get("t", "c").unwrap().is_none());
  drop(s);
  let _ = std::fs::remove_dir_all(&dir);
}

/// Child mode: upsert batches forever, print "ACK <batch>" after each acknowledged upsert.
#[test]
fn writer_child() {
  let Ok(dir) = std::env::var("LUMOS_VECTOR_WRITER_DIR") else {
    return;
  };
  use std::io::Write;
  let s = VectorStore::open_with(Some(std::path::Path::new(&dir)), small_log()).unwrap();
  s.create_index("k", DIM, Metric::Cosine, Quantization::F32)
    .unwrap();
  s.create_index("k8", DIM, Metric::Euclidean, Quantization::I8)
    .unwrap();
  let mut out = std::io::stdout();
  for b in 0u64.. {
    let ids: Vec<String> = (0..10).map(|i| format!("{b}-{i}")).collect();
    let v: Vec<f32> = (0..10).flat_map(|i| vec_for(b, i)).collect();
    let m: Vec<_> = (0..10).map(|i| json!({"b": b, "i": i})).collect();
    s.upsert("k", Some(ids.clone()), &v, m.clone()).unwrap();
    s.upsert("k8", Some(ids), &v, m).unwrap();
    writeln!(out, "ACK {b}").unwrap();
    out.flush().unwrap();
  }
}

#[test]
fn sigkill_during_writes_loses_no_acknowledged_upsert() {
  let dir = tempdir("kill");
  let exe = std::env::current_exe().unwrap();
  for round in 0..3 {
    let mut child = Command::new(&exe)
      .args(["--exact", "writer_child", "--nocapture", "--test-threads=1"])
      .env("LUMOS_VECTOR_WRITER_DIR", &dir)
      .stdout(Stdio::piped())
      .stderr(Stdio::null())
      .spawn()
      .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
      for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if let Some(b) = line.strip_prefix("ACK ") {
          let _ = tx.send(b.parse::<u64>().unwrap());
        }
      }
    });
    // Let it write for a while (a varying amount per round, and at least 21 batches: a loaded
    // machine can take most of a second just to start the child and replay), then SIGKILL.
    let start = Instant::now();
    let mut acked = Vec::new();
    while (start.elapsed() < Duration::from_millis(700 + 400 * round) || acked.len() <= 20)
      && start.elapsed() < Duration::from_secs(60)
    {
      if let Ok(b) = rx.recv_timeout(Duration::from_millis(20)) {
        acked.push(b);
      }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let _ = child.wait();
    reader.join().unwrap();
    acked.extend(rx.try_iter());
    assert!(
      acked.len() > 20,
      "round {round}: child acknowledged only {} batches",
      acked.len()
    );

    let s = VectorStore::open_with(Some(&dir), small_log()).unwrap();
    for name in ["k", "k8"] {
      for &b in &acked {
        for i in 0..10 {
          let id = format!("{b}-{i}");
          let r = s
            .get(name, &id)
            .unwrap()
            .unwrap_or_else(|| panic!("round {round}: {name}/{id} acknowledged but lost"));
          assert_eq!(r.metadata, json!({"b": b, "i": i}));
        }
      }
      let count = s.describe_index(name).unwrap().count;
      assert!(count >= acked.len() * 10, "{name}: {count}");
      let last = *acked.last().unwrap();
      let q = vec_for(last, 3);
      let top = s.query(name, &q, 1, None, false).unwrap();
      assert_eq!(
        top[0].id,
        format!("{last}-3"),
        "{name}: nearest neighbour of a stored vector is itself"
      );
      let f = s
        .query(name, &q, 5, Some(&json!({"b": last})), false)
        .unwrap();
      assert_eq!(f.len(), 5);
    }
    drop(s);
    // The next round's writer reopens the same directory and keeps appending.
  }
  let _ = std::fs::remove_dir_all(&dir);
}

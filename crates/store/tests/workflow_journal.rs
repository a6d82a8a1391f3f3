//! The SQLite store's workflow journal: changes made by one store instance (or process) are
//! seen by the others, survive folds into the tables, a torn last entry, a SIGKILL mid-run, and
//! a database written by the schema before the journal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lumos_store::{
  Claim, ListWorkflowRunsQuery, NewWorkflowRun, SqliteOptions, SqliteStore, WorkflowRunUpdate,
  WorkflowStepRecord, WorkflowStore,
};
use serde_json::{Value, json};

fn journal_of(db: &Path) -> PathBuf {
  let mut name = db.as_os_str().to_owned();
  name.push("-workflow-journal");
  PathBuf::from(name)
}

async fn open(db: &Path) -> SqliteStore {
  SqliteStore::open(db.to_str().unwrap(), SqliteOptions::default())
    .await
    .unwrap()
}

fn new_run(id: &str) -> NewWorkflowRun {
  NewWorkflowRun {
    workflow_name: "wf".into(),
    run_id: id.into(),
    resource_id: None,
    input: json!({ "n": 0 }),
    state: json!({}),
    request_context: None,
    id_is_new: false,
  }
}

fn rec(key: &str, v: Value) -> WorkflowStepRecord {
  WorkflowStepRecord {
    key: key.into(),
    record: json!({ "status": "success", "output": v }),
  }
}

async fn keys(store: &SqliteStore, id: &str) -> Vec<String> {
  let (_, records) = store.load_workflow_run("wf", id).await.unwrap().unwrap();
  records.into_iter().map(|r| r.key).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_see_each_others_changes_across_folds() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("wf.db");
  let (a, b) = (open(&db).await, open(&db).await);
  assert_eq!(
    a.begin_workflow_run(new_run("r1")).await.unwrap(),
    Claim::Claimed { epoch: 1 }
  );
  // b sees the run as active: a second begin is refused.
  assert_eq!(
    b.begin_workflow_run(new_run("r1")).await.unwrap(),
    Claim::Refused {
      status: Some("running".into())
    }
  );
  for k in ["s0", "s1", "s2"] {
    assert!(
      a.commit_workflow_step("wf", "r1", 1, rec(k, json!(k)), None)
        .await
        .unwrap()
    );
  }
  assert_eq!(keys(&b, "r1").await, ["s0", "s1", "s2"]);
  // b takes the run over (a restart elsewhere): a's next commit under epoch 1 is refused.
  assert_eq!(
    b.claim_workflow_run("wf", "r1", &["running"], "running")
      .await
      .unwrap(),
    Claim::Claimed { epoch: 2 }
  );
  assert!(
    !a.commit_workflow_step("wf", "r1", 1, rec("s3", json!(3)), None)
      .await
      .unwrap()
  );
  // A listing folds the journal into the tables and empties it.
  let page = b
    .list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  assert_eq!(page.total, 1);
  assert_eq!(page.runs[0].1.len(), 3);
  assert_eq!(std::fs::metadata(journal_of(&db)).unwrap().len(), 16);
  // a's view was of the emptied journal; it now reads the tables, and its epoch-2 commit
  // brings the run back into the journal, merged with the folded records on read.
  assert_eq!(keys(&a, "r1").await, ["s0", "s1", "s2"]);
  assert!(
    b.commit_workflow_step(
      "wf",
      "r1",
      2,
      rec("s1", json!("again")),
      Some(json!({ "k": 1 }))
    )
    .await
    .unwrap()
  );
  assert!(
    b.commit_workflow_step("wf", "r1", 2, rec("s3", json!(3)), None)
      .await
      .unwrap()
  );
  let (run, records) = a.load_workflow_run("wf", "r1").await.unwrap().unwrap();
  assert_eq!(
    records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
    ["s0", "s1", "s2", "s3"]
  );
  assert_eq!(records[1].record["output"], "again");
  assert_eq!(run.state, json!({ "k": 1 }));
  assert_eq!(run.epoch, 2);
  // A null result stays null (not missing) through the journal and through a fold.
  assert!(
    b.update_workflow_run(
      "wf",
      "r1",
      2,
      WorkflowRunUpdate {
        status: "success".into(),
        result: Some(Value::Null),
        error: None,
        state: None
      }
    )
    .await
    .unwrap()
  );
  let (run, _) = a.load_workflow_run("wf", "r1").await.unwrap().unwrap();
  assert_eq!(
    (run.status.as_str(), run.result),
    ("success", Some(Value::Null))
  );
  a.list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  let (run, records) = b.load_workflow_run("wf", "r1").await.unwrap().unwrap();
  assert_eq!(
    (run.status.as_str(), run.result, records.len()),
    ("success", Some(Value::Null), 4)
  );
  // An ended run can be begun again: its old records are gone, in the journal and after a fold.
  assert_eq!(
    a.begin_workflow_run(new_run("r1")).await.unwrap(),
    Claim::Claimed { epoch: 1 }
  );
  assert!(keys(&b, "r1").await.is_empty());
  assert!(
    a.commit_workflow_step("wf", "r1", 1, rec("x", json!(1)), None)
      .await
      .unwrap()
  );
  b.list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  assert_eq!(keys(&a, "r1").await, ["x"]);
  assert!(a.delete_workflow_run("wf", "r1").await.unwrap());
  assert!(b.load_workflow_run("wf", "r1").await.unwrap().is_none());
  assert_eq!(a.integrity_check().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_from_two_instances_let_exactly_one_win() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("race.db");
  let (a, b) = (open(&db).await, open(&db).await);
  for round in 0..20 {
    let id = format!("r{round}");
    a.begin_workflow_run(new_run(&id)).await.unwrap();
    assert!(
      a.update_workflow_run(
        "wf",
        &id,
        1,
        WorkflowRunUpdate {
          status: "suspended".into(),
          result: None,
          error: None,
          state: None
        }
      )
      .await
      .unwrap()
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
      let s = if i % 2 == 0 { a.clone() } else { b.clone() };
      let id = id.clone();
      tasks.push(tokio::spawn(async move {
        s.claim_workflow_run("wf", &id, &["suspended"], "running")
          .await
          .unwrap()
      }));
    }
    let mut won = 0;
    for t in tasks {
      match t.await.unwrap() {
        Claim::Claimed { epoch } => {
          assert_eq!(epoch, 2);
          won += 1;
        }
        Claim::Refused { status } => assert_eq!(status.as_deref(), Some("running")),
      }
    }
    assert_eq!(won, 1, "round {round}");
  }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_entry_is_cut_off_and_the_rest_kept() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("torn.db");
  let a = open(&db).await;
  a.begin_workflow_run(new_run("r")).await.unwrap();
  assert!(
    a.commit_workflow_step("wf", "r", 1, rec("s0", json!(0)), None)
      .await
      .unwrap()
  );
  drop(a);
  let journal = journal_of(&db);
  let good = std::fs::metadata(&journal).unwrap().len();
  // A writer that died mid-append: a frame announcing 200 bytes, of which 5 arrived.
  let mut f = std::fs::OpenOptions::new()
    .append(true)
    .open(&journal)
    .unwrap();
  f.write_all(&200u32.to_le_bytes()).unwrap();
  f.write_all(&[0, 0, 0, 0, b'{', b'"', b't', b'"', b':'])
    .unwrap();
  drop(f);
  let b = open(&db).await;
  assert_eq!(keys(&b, "r").await, ["s0"]);
  assert_eq!(std::fs::metadata(&journal).unwrap().len(), good);
  assert!(
    b.commit_workflow_step("wf", "r", 1, rec("s1", json!(1)), None)
      .await
      .unwrap()
  );
  // A frame whose CRC does not match is torn too.
  let mut f = std::fs::OpenOptions::new()
    .append(true)
    .open(&journal)
    .unwrap();
  let payload = br#"{"t":"claim","n":0,"status":"x","epoch":9,"at":0}"#;
  f.write_all(&(payload.len() as u32).to_le_bytes()).unwrap();
  f.write_all(&0xdead_beefu32.to_le_bytes()).unwrap();
  f.write_all(payload).unwrap();
  drop(f);
  let c = open(&db).await;
  let (run, records) = c.load_workflow_run("wf", "r").await.unwrap().unwrap();
  assert_eq!((run.epoch, records.len()), (1, 2));
  // Not a journal at all: a coded error, nothing overwritten.
  drop((b, c));
  std::fs::write(&journal, b"something else entirely").unwrap();
  let d = open(&db).await;
  let err = d.load_workflow_run("wf", "r").await.unwrap_err();
  assert_eq!(err.code(), "STORE_IO");
  assert!(
    err.to_string().contains("not a Lumos workflow journal"),
    "{err}"
  );
  assert_eq!(std::fs::read(&journal).unwrap(), b"something else entirely");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_journal_folds_itself_into_the_tables() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("fold.db");
  let a = open(&db).await;
  let b = open(&db).await;
  a.begin_workflow_run(new_run("big")).await.unwrap();
  let blob = "x".repeat(64 * 1024);
  let journal = journal_of(&db);
  let mut largest = 0;
  for i in 0..300 {
    assert!(
      a.commit_workflow_step("wf", "big", 1, rec(&format!("s{i}"), json!(blob)), None)
        .await
        .unwrap()
    );
    largest = largest.max(std::fs::metadata(&journal).unwrap().len());
  }
  // 19.7 MB of records went through a journal folded at 4 MiB (in the background, so a few
  // more records may land before the fold runs).
  assert!(largest < 5_000_000, "journal reached {largest} bytes");
  let (_, records) = b.load_workflow_run("wf", "big").await.unwrap().unwrap();
  assert_eq!(records.len(), 300);
  assert_eq!(records[299].key, "s299");
  assert_eq!(
    records[0].record["output"].as_str().map(str::len),
    Some(blob.len())
  );
}

#[tokio::test]
async fn an_in_memory_database_keeps_runs_without_a_journal_file() {
  let s = SqliteStore::open(":memory:", SqliteOptions::default())
    .await
    .unwrap();
  s.begin_workflow_run(new_run("m")).await.unwrap();
  assert!(
    s.commit_workflow_step("wf", "m", 1, rec("s0", json!(0)), None)
      .await
      .unwrap()
  );
  assert_eq!(keys(&s, "m").await, ["s0"]);
  let page = s
    .list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  assert_eq!(page.runs[0].1.len(), 1);
  assert!(
    s.commit_workflow_step("wf", "m", 1, rec("s1", json!(1)), None)
      .await
      .unwrap()
  );
  assert_eq!(keys(&s, "m").await, ["s0", "s1"]);
}

/// Whether another open file description can take the journal's `flock` right now.
fn journal_lock_is_free(db: &Path) -> bool {
  let f = std::fs::File::open(journal_of(db)).unwrap();
  match f.try_lock() {
    Ok(()) => {
      f.unlock().unwrap();
      true
    }
    Err(std::fs::TryLockError::WouldBlock) => false,
    Err(e) => panic!("{e:?}"),
  }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_keeps_the_journal_lock_between_changes_and_gives_it_back_when_idle() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("lease.db");
  let s = open(&db).await;
  s.begin_workflow_run(new_run("l")).await.unwrap();
  assert!(
    s.commit_workflow_step("wf", "l", 1, rec("a", json!(1)), None)
      .await
      .unwrap()
  );
  // Right after a change the instance still holds the lock (its lease)…
  assert!(!journal_lock_is_free(&db));
  // …and gives it back within a few ms of no change.
  let t0 = Instant::now();
  while !journal_lock_is_free(&db) {
    assert!(
      t0.elapsed() < Duration::from_secs(2),
      "the lease was not given back"
    );
    std::thread::sleep(Duration::from_millis(1));
  }
  assert_eq!(keys(&s, "l").await, ["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_busy_instances_both_get_through() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("busy.db");
  let (a, b) = (open(&db).await, open(&db).await);
  a.begin_workflow_run(new_run("a")).await.unwrap();
  b.begin_workflow_run(new_run("b")).await.unwrap();
  // Both append without pause for 400 ms: each gets its turn (the other's lease ends within
  // LEASE_MAX), so both make progress and no change waits long.
  let busy = |s: SqliteStore, id: &'static str| {
    tokio::spawn(async move {
      let t0 = Instant::now();
      let (mut n, mut slowest) = (0u64, Duration::ZERO);
      while t0.elapsed() < Duration::from_millis(400) {
        let t = Instant::now();
        let r = rec(&format!("k{}", n % 64), json!(n));
        assert!(s.commit_workflow_step("wf", id, 1, r, None).await.unwrap());
        slowest = slowest.max(t.elapsed());
        n += 1;
      }
      (n, slowest)
    })
  };
  let (ta, tb) = (busy(a.clone(), "a"), busy(b.clone(), "b"));
  let ((na, slow_a), (nb, slow_b)) = (ta.await.unwrap(), tb.await.unwrap());
  assert!(na >= 20 && nb >= 20, "changes: a {na}, b {nb}");
  assert!(
    slow_a.max(slow_b) < Duration::from_millis(300),
    "slowest change: a {slow_a:?}, b {slow_b:?}"
  );
  assert_eq!(keys(&b, "a").await.len(), 64);
  assert_eq!(keys(&a, "b").await.len(), 64);
}

#[tokio::test]
async fn a_database_from_schema_2_keeps_its_runs() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("v2.db");
  {
    // The workflow tables as schema version 2 wrote them, with one run of two records.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn
      .execute_batch(
        "CREATE TABLE lumos_schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);
         INSERT INTO lumos_schema_version VALUES (2, 0);
         CREATE TABLE lumos_workflow_runs (workflow_name TEXT NOT NULL, run_id TEXT NOT NULL, resource_id TEXT,
           status TEXT NOT NULL, input TEXT NOT NULL, state TEXT NOT NULL, result TEXT, error TEXT, request_context TEXT,
           epoch INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (workflow_name, run_id));
         CREATE INDEX lumos_workflow_runs_created ON lumos_workflow_runs (workflow_name, created_at);
         CREATE INDEX lumos_workflow_runs_status ON lumos_workflow_runs (status, workflow_name);
         CREATE TABLE lumos_workflow_steps (seq INTEGER PRIMARY KEY, workflow_name TEXT NOT NULL, run_id TEXT NOT NULL,
           key TEXT NOT NULL, record TEXT NOT NULL, UNIQUE (workflow_name, run_id, key));
         INSERT INTO lumos_workflow_runs VALUES ('wf', 'old', NULL, 'suspended', '{\"n\":0}', '{}', NULL, NULL, NULL, 3, 5, 6);
         INSERT INTO lumos_workflow_steps (workflow_name, run_id, key, record) VALUES ('wf', 'old', 'b', '{\"i\":1}');
         INSERT INTO lumos_workflow_steps (workflow_name, run_id, key, record) VALUES ('wf', 'old', 'a', '{\"i\":2}');",
      )
      .unwrap();
  }
  let s = open(&db).await;
  assert_eq!(
    s.schema_version().await.unwrap(),
    lumos_store::SCHEMA_VERSION
  );
  let (run, records) = s.load_workflow_run("wf", "old").await.unwrap().unwrap();
  assert_eq!(
    (run.status.as_str(), run.epoch, run.created_at),
    ("suspended", 3, 5)
  );
  assert_eq!(
    records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
    ["b", "a"]
  );
  assert_eq!(
    s.claim_workflow_run("wf", "old", &["suspended"], "running")
      .await
      .unwrap(),
    Claim::Claimed { epoch: 4 }
  );
  assert!(
    s.commit_workflow_step("wf", "old", 4, rec("c", json!(3)), None)
      .await
      .unwrap()
  );
  s.list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  assert_eq!(keys(&s, "old").await, ["b", "a", "c"]);
  assert_eq!(s.integrity_check().await.unwrap(), "ok");
}

#[tokio::test]
async fn a_folded_run_keeps_its_records_packed_in_its_row() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("packed.db");
  let s = open(&db).await;
  s.begin_workflow_run(new_run("p")).await.unwrap();
  // 50 records that repeat each other, as a run's records do.
  for i in 0..50 {
    let r = WorkflowStepRecord {
      key: format!("s{i}"),
      record: json!({ "from": format!("s{}", i.max(1) - 1), "startedAt": 1_796_352_408_647_i64 + i, "status": "success", "output": { "n": i } }),
    };
    assert!(s.commit_workflow_step("wf", "p", 1, r, None).await.unwrap());
  }
  s.list_workflow_runs(ListWorkflowRunsQuery::default())
    .await
    .unwrap();
  let (_, records) = s.load_workflow_run("wf", "p").await.unwrap().unwrap();
  assert_eq!(records.len(), 50);
  assert_eq!(records[49].key, "s49");
  assert_eq!(records[49].record["output"], json!({ "n": 49 }));
  let text: usize = records
    .iter()
    .map(|r| r.key.len() + r.record.to_string().len())
    .sum();
  let conn = rusqlite::Connection::open(&db).unwrap();
  let packed: i64 = conn
    .query_row(
      "SELECT length(steps) FROM lumos_workflow_runs WHERE run_id = 'p'",
      [],
      |r| r.get(0),
    )
    .unwrap();
  let packed = packed as usize;
  assert!(
    packed * 4 < text,
    "packed records take {packed} bytes for {text} bytes of JSON"
  );

  // A row whose packed records were damaged is an error, not a panic or an empty run.
  conn
    .execute(
      "UPDATE lumos_workflow_runs SET steps = x'00ff13' WHERE run_id = 'p'",
      [],
    )
    .unwrap();
  let err = s.load_workflow_run("wf", "p").await.unwrap_err();
  assert_eq!(err.code(), "STORE_DB");
  assert!(
    err.to_string().contains("step records of workflow run 'p'"),
    "{err}"
  );
}

const CHILD_DB: &str = "LUMOS_JOURNAL_CHILD_DB";

/// The writer of `sigkill_mid_run_loses_no_acknowledged_step`: runs only with the env var set.
#[test]
#[ignore = "child process of sigkill_mid_run_loses_no_acknowledged_step"]
fn journal_writer_child() {
  let Some(db) = std::env::var_os(CHILD_DB) else {
    return;
  };
  let rt = tokio::runtime::Builder::new_multi_thread()
    .worker_threads(2)
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async move {
    let store = open(Path::new(&db)).await;
    let mut out = std::io::stdout().lock();
    for run in 0u64.. {
      let id = format!("r{run}");
      store.begin_workflow_run(new_run(&id)).await.unwrap();
      for step in 0..50 {
        let key = format!("s{step}");
        assert!(
          store
            .commit_workflow_step("wf", &id, 1, rec(&key, json!("y".repeat(300))), None)
            .await
            .unwrap()
        );
        writeln!(out, "ACK {id} {key}").unwrap();
        out.flush().unwrap();
      }
    }
  });
}

#[test]
fn sigkill_mid_run_loses_no_acknowledged_step() {
  let dir = tempfile::tempdir().unwrap();
  let db = dir.path().join("kill.db");
  let mut child = Command::new(std::env::current_exe().unwrap())
    .args([
      "journal_writer_child",
      "--exact",
      "--ignored",
      "--nocapture",
      "--test-threads=1",
    ])
    .env(CHILD_DB, &db)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
  let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
  let mut acked: Vec<(String, String)> = Vec::new();
  let start = Instant::now();
  // Past several folds (4 MiB of ~370-byte entries is ~11,000 steps).
  while acked.len() < 60_000 && start.elapsed() < Duration::from_secs(60) {
    let Some(Ok(line)) = lines.next() else { break };
    if let Some(rest) = line.strip_prefix("ACK ") {
      let (id, key) = rest.split_once(' ').unwrap();
      acked.push((id.into(), key.into()));
    }
  }
  child.kill().unwrap(); // SIGKILL, mid-run
  child.wait().unwrap();
  for line in lines.map_while(|l| l.ok()) {
    if let Some(rest) = line.strip_prefix("ACK ") {
      let (id, key) = rest.split_once(' ').unwrap();
      acked.push((id.into(), key.into()));
    }
  }
  assert!(
    acked.len() > 1000,
    "the child acknowledged only {} steps",
    acked.len()
  );
  eprintln!("killed after {} acknowledged steps", acked.len());
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_all()
    .build()
    .unwrap();
  rt.block_on(async {
    let store = open(&db).await;
    let last = acked.last().unwrap().0.clone();
    // Each run's highest acknowledged step: the run must have at least that many records.
    let mut highest: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (id, key) in &acked {
      let n: usize = key[1..].parse().unwrap();
      let e = highest.entry(id.as_str()).or_default();
      *e = (*e).max(n);
    }
    for (id, n) in highest {
      let (run, records) = store.load_workflow_run("wf", id).await.unwrap().unwrap();
      assert_eq!(run.status, "running");
      assert!(
        records.len() > n,
        "run {id}: {} records, step s{n} was acknowledged",
        records.len()
      );
    }
    // The interrupted run can be taken over and finished.
    assert!(matches!(
      store
        .claim_workflow_run("wf", &last, &["running"], "running")
        .await
        .unwrap(),
      Claim::Claimed { .. }
    ));
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
  });
}

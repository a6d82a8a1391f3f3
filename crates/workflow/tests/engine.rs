//! The engine against real stores (SQLite file; PostgreSQL when its binaries are installed)
//! with a host of Rust closures standing in for the JS step bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../store/tests/common/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lumos_store::{SqliteOptions, SqliteStore, Storage};
use lumos_workflow::{Engine, Execution, Host, LiveRun, Mode, WorkflowDef};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

type Func = Arc<dyn Fn(Value) -> BoxFuture<'static, Value> + Send + Sync>;

/// Functions by (handle, index); counts calls per step id.
#[derive(Default)]
struct TestHost {
  funcs: Mutex<HashMap<(u32, u32), Func>>,
  calls: Mutex<HashMap<String, usize>>,
}

impl TestHost {
  fn add(
    &self,
    handle: u32,
    index: u32,
    f: impl Fn(Value) -> BoxFuture<'static, Value> + Send + Sync + 'static,
  ) {
    self
      .funcs
      .lock()
      .unwrap()
      .insert((handle, index), Arc::new(f));
  }
  fn calls(&self, step: &str) -> usize {
    self.calls.lock().unwrap().get(step).copied().unwrap_or(0)
  }
}

struct HostRef(Arc<TestHost>);

impl Host for HostRef {
  fn call(&self, payload: String) -> BoxFuture<'static, Result<String, String>> {
    let call: Value = serde_json::from_str(&payload).unwrap();
    let key = (
      call["handle"].as_u64().unwrap() as u32,
      call["func"].as_u64().unwrap() as u32,
    );
    if call["kind"] == "step" || call["kind"] == "map" {
      *self
        .0
        .calls
        .lock()
        .unwrap()
        .entry(call["stepId"].as_str().unwrap().to_string())
        .or_default() += 1;
    }
    let f = self.0.funcs.lock().unwrap().get(&key).cloned();
    Box::pin(async move {
      let f = f.ok_or_else(|| format!("no function {key:?}"))?;
      Ok(f(call).await.to_string())
    })
  }
}

fn ok(v: Value) -> BoxFuture<'static, Value> {
  Box::pin(async move { json!({ "status": "success", "output": v }) })
}

/// A step adding `by` to `inputData.n`.
fn add(by: i64) -> impl Fn(Value) -> BoxFuture<'static, Value> + Send + Sync {
  move |c| ok(json!({ "n": c["inputData"]["n"].as_i64().unwrap() + by }))
}

struct Rig {
  store: Arc<dyn Storage>,
  host: Arc<TestHost>,
}

impl Rig {
  fn engine(&self) -> Engine {
    Engine {
      store: self.store.clone(),
      host: Arc::new(HostRef(self.host.clone())),
    }
  }
  async fn run(
    &self,
    wf: &Arc<WorkflowDef>,
    run_id: &str,
    mode: Mode,
  ) -> lumos_workflow::Result<Value> {
    self
      .run_with(wf, run_id, mode, CancellationToken::new())
      .await
  }
  async fn run_with(
    &self,
    wf: &Arc<WorkflowDef>,
    run_id: &str,
    mode: Mode,
    cancel: CancellationToken,
  ) -> lumos_workflow::Result<Value> {
    self
      .engine()
      .execute(Execution {
        workflow: wf.clone(),
        run_id: run_id.into(),
        resource_id: None,
        mode,
        events: None,
        cancel,
        live: Arc::new(LiveRun::default()),
      })
      .await
  }
}

fn start(input: Value) -> Mode {
  Mode::Start {
    input,
    initial_state: json!({}),
    request_context: None,
    id_is_new: false,
  }
}

fn resume(steps: &[&str], data: Value) -> Mode {
  Mode::Resume {
    steps: steps.iter().map(|s| s.to_string()).collect(),
    resume_data: data,
    for_each_index: None,
  }
}

fn def(v: Value) -> Arc<WorkflowDef> {
  WorkflowDef::parse(&v.to_string()).unwrap()
}

fn step(id: &str, func: u32) -> Value {
  json!({ "type": "step", "id": id, "func": func })
}

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Storage>) {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("wf.db");
  let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
    .await
    .unwrap();
  (dir, Arc::new(store))
}

async fn control_flow(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  host.add(1, 0, add(1));
  host.add(1, 1, |c| {
    ok(json!({ "m": c["inputData"]["n"].as_i64().unwrap() * 2 }))
  });
  host.add(1, 2, |c| {
    ok(json!({ "k": c["inputData"]["n"].as_i64().unwrap() * 3 }))
  });
  // branch conditions: n > 2, n <= 2
  host.add(1, 3, |c| {
    ok(json!(c["inputData"]["n"].as_i64().unwrap() > 2))
  });
  host.add(1, 4, |c| {
    ok(json!(c["inputData"]["n"].as_i64().unwrap() <= 2))
  });
  let rig = Rig {
    store,
    host: host.clone(),
  };
  let wf = def(json!({
    "id": "flow", "handle": 1,
    "steps": [
      step("a", 0),
      { "type": "parallel", "steps": [step("b", 1), step("c", 2)] },
      { "type": "branch", "branches": [
        { "cond": 3, "step": step("big", 0) },
        { "cond": 4, "step": step("small", 0) }
      ] }
    ]
  }));
  // a: 2 → parallel {b:{m:4}, c:{k:6}} → branch input is that object: conditions see n undefined.
  host.add(1, 3, |c| {
    ok(json!(c["inputData"]["b"]["m"].as_i64().unwrap() > 2))
  });
  host.add(1, 4, |c| {
    ok(json!(c["inputData"]["b"]["m"].as_i64().unwrap() <= 2))
  });
  host.add(1, 0, |c| {
    let n = c["inputData"]["n"]
      .as_i64()
      .unwrap_or_else(|| c["inputData"]["b"]["m"].as_i64().unwrap());
    ok(json!({ "n": n + 1 }))
  });
  let r = rig.run(&wf, "r1", start(json!({ "n": 1 }))).await.unwrap();
  assert_eq!(r["status"], "success", "{r}");
  assert_eq!(r["steps"]["a"]["output"], json!({ "n": 2 }));
  assert_eq!(r["steps"]["a"]["payload"], json!({ "n": 1 }));
  assert_eq!(r["steps"]["b"]["output"], json!({ "m": 4 }));
  assert_eq!(r["steps"]["b"]["payload"], json!({ "n": 2 }));
  assert_eq!(r["steps"]["c"]["output"], json!({ "k": 6 }));
  assert_eq!(r["result"], json!({ "big": { "n": 5 } }));
  assert!(r["steps"].get("small").is_none());
  assert_eq!(r["stepExecutionPath"], json!(["a"]));
  assert_eq!(r["steps"]["input"], json!({ "n": 1 }));

  // loops, foreach with a concurrency limit, map
  let live = Arc::new(AtomicUsize::new(0));
  let peak = Arc::new(AtomicUsize::new(0));
  let (l2, p2) = (live.clone(), peak.clone());
  host.add(2, 0, add(1));
  host.add(2, 1, |c| {
    ok(json!(c["inputData"]["n"].as_i64().unwrap() < 5))
  }); // while n < 5
  host.add(2, 2, |c| {
    ok(json!(c["inputData"]["n"].as_i64().unwrap() >= 8))
  }); // until n >= 8
  host.add(2, 3, |c| {
    ok(json!([1, 2, 3, 4, 5].map(
      |i| json!({ "n": i * c["inputData"]["n"].as_i64().unwrap() })
    )))
  });
  host.add(2, 4, move |c| {
    let (l, p) = (l2.clone(), p2.clone());
    Box::pin(async move {
      let now = l.fetch_add(1, Ordering::SeqCst) + 1;
      p.fetch_max(now, Ordering::SeqCst);
      tokio::time::sleep(Duration::from_millis(20)).await;
      l.fetch_sub(1, Ordering::SeqCst);
      json!({ "status": "success", "output": { "n": c["inputData"]["n"].as_i64().unwrap() + 1 } })
    })
  });
  let wf = def(json!({
    "id": "loops", "handle": 2,
    "steps": [
      { "type": "loop", "step": step("inc", 0), "cond": 1, "until": false },
      { "type": "loop", "step": step("inc2", 0), "cond": 2, "until": true },
      { "type": "step", "id": "mapping_1", "func": 3, "kind": "map" },
      { "type": "foreach", "step": step("each", 4), "concurrency": 2 }
    ]
  }));
  let r = rig.run(&wf, "r2", start(json!({ "n": 0 }))).await.unwrap();
  assert_eq!(r["status"], "success", "{r}");
  assert_eq!(r["steps"]["inc"]["output"], json!({ "n": 5 }));
  assert_eq!(host.calls("inc"), 5);
  assert_eq!(r["steps"]["inc2"]["output"], json!({ "n": 8 }));
  assert_eq!(host.calls("inc2"), 3);
  assert_eq!(
    r["result"],
    json!([{ "n": 9 }, { "n": 17 }, { "n": 25 }, { "n": 33 }, { "n": 41 }])
  );
  assert_eq!(r["steps"]["each"]["output"].as_array().unwrap().len(), 5);
  assert_eq!(r["steps"]["each"]["payload"][1], json!({ "n": 16 }));
  assert_eq!(peak.load(Ordering::SeqCst), 2, "foreach concurrency 2");
  assert_eq!(
    r["stepExecutionPath"],
    json!(["inc", "inc2", "mapping_1", "each"])
  );
}

async fn suspend_resume_across_engines(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  host.add(3, 0, add(1));
  host.add(3, 1, |c| {
    Box::pin(async move {
      if c.get("resumeData").is_none() {
        json!({ "status": "suspended", "payload": { "why": "approve" } })
      } else {
        json!({ "status": "success", "output": { "ok": c["resumeData"]["ok"], "was": c["suspendData"]["why"], "n": c["inputData"]["n"] } })
      }
    })
  });
  let wf = def(
    json!({ "id": "hitl", "handle": 3, "steps": [step("a", 0), step("approve", 1), step("after", 0)] }),
  );
  let first = Rig {
    store: store.clone(),
    host: host.clone(),
  };
  let r = first
    .run(&wf, "s1", start(json!({ "n": 1 })))
    .await
    .unwrap();
  assert_eq!(r["status"], "suspended", "{r}");
  assert_eq!(r["suspended"], json!([["approve"]]));
  assert_eq!(
    r["suspendPayload"],
    json!({ "approve": { "why": "approve" } })
  );
  // "another process": a new engine over the same database, no shared memory.
  let host2 = Arc::new(TestHost::default());
  host2.add(3, 0, add(1));
  host2.add(3, 1, |c| ok(json!({ "ok": c["resumeData"]["ok"], "was": c["suspendData"]["why"], "n": c["inputData"]["n"].as_i64().unwrap() })));
  let second = Rig {
    store: store.clone(),
    host: host2.clone(),
  };
  // two resumes at once: exactly one proceeds.
  let (x, y) = tokio::join!(
    second.run(&wf, "s1", resume(&[], json!({ "ok": true }))),
    second.run(&wf, "s1", resume(&["approve"], json!({ "ok": true })))
  );
  let (won, lost) = match (x, y) {
    (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
    (a, b) => panic!("exactly one resume should win: {a:?} {b:?}"),
  };
  assert_eq!(lost.code, "WORKFLOW_RUN_NOT_SUSPENDED", "{lost:?}");
  assert_eq!(won["status"], "success", "{won}");
  assert_eq!(won["result"], json!({ "n": 3 }));
  assert_eq!(
    won["steps"]["approve"]["output"],
    json!({ "ok": true, "was": "approve", "n": 2 })
  );
  assert_eq!(
    won["steps"]["approve"]["resumePayload"],
    json!({ "ok": true })
  );
  assert_eq!(host2.calls("a"), 0, "a completed step is not run again");
  assert_eq!(host2.calls("approve"), 1);
  assert_eq!(host2.calls("after"), 1);
  let again = second
    .run(&wf, "s1", resume(&[], json!({})))
    .await
    .unwrap_err();
  assert_eq!(again.code, "WORKFLOW_RUN_NOT_SUSPENDED");
  let (run, records) = store
    .load_workflow_run("hitl", "s1")
    .await
    .unwrap()
    .unwrap();
  assert_eq!(run.status, "success");
  assert_eq!(records.len(), 3);
  // start on an active id is refused; on an ended one it starts afresh.
  let r = first
    .run(&wf, "s1", start(json!({ "n": 10 })))
    .await
    .unwrap();
  assert_eq!(r["status"], "suspended");
  let e = first
    .run(&wf, "s1", start(json!({ "n": 10 })))
    .await
    .unwrap_err();
  assert_eq!(e.code, "WORKFLOW_RUN_ACTIVE");
  let e = first
    .run(&wf, "nope", resume(&[], json!({})))
    .await
    .unwrap_err();
  assert_eq!(e.code, "WORKFLOW_RUN_NOT_FOUND");
  let e = first
    .run(&wf, "s1", resume(&["a"], json!({})))
    .await
    .unwrap_err();
  assert_eq!(e.code, "WORKFLOW_RESUME_STEP_NOT_SUSPENDED");
}

async fn crash_and_restart(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  host.add(4, 0, add(1));
  // The third step never answers: the "process" dies while it runs.
  host.add(4, 1, |_| Box::pin(futures::future::pending()));
  let wf = def(
    json!({ "id": "crash", "handle": 4, "steps": [step("one", 0), step("two", 0), step("hang", 1), step("four", 0)] }),
  );
  let rig = Rig {
    store: store.clone(),
    host: host.clone(),
  };
  let task = {
    let (rig_store, rig_host, wf) = (store.clone(), host.clone(), wf.clone());
    tokio::spawn(async move {
      Rig {
        store: rig_store,
        host: rig_host,
      }
      .run(&wf, "c1", start(json!({ "n": 0 })))
      .await
    })
  };
  while host.calls("hang") == 0 {
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
  task.abort();
  let _ = task.await;
  let (run, records) = store
    .load_workflow_run("crash", "c1")
    .await
    .unwrap()
    .unwrap();
  assert_eq!(run.status, "running");
  assert_eq!(records.len(), 2);
  // Restart in a "new process" whose hang step now answers.
  let host2 = Arc::new(TestHost::default());
  host2.add(4, 0, add(1));
  host2.add(4, 1, add(10));
  let rig2 = Rig {
    store: store.clone(),
    host: host2.clone(),
  };
  let r = rig2.run(&wf, "c1", Mode::Restart).await.unwrap();
  assert_eq!(r["status"], "success", "{r}");
  assert_eq!(r["result"], json!({ "n": 13 }));
  assert_eq!(
    host2.calls("one") + host2.calls("two"),
    0,
    "completed steps are not run again"
  );
  assert_eq!(host2.calls("hang"), 1);
  let e = rig.run(&wf, "c1", Mode::Restart).await.unwrap_err();
  assert_eq!(e.code, "WORKFLOW_RUN_NOT_ACTIVE");
}

async fn failures_retries_cancel(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  let tries = Arc::new(AtomicUsize::new(0));
  let t = tries.clone();
  host.add(5, 0, move |c| {
    let n = t.fetch_add(1, Ordering::SeqCst);
    Box::pin(async move {
      if n < 2 {
        json!({ "status": "failed", "error": { "name": "Error", "message": format!("flaky {}", c["retryCount"]) } })
      } else {
        json!({ "status": "success", "output": { "tries": n + 1 } })
      }
    })
  });
  host.add(5, 1, |_| {
    Box::pin(async {
      json!({ "status": "failed", "error": { "name": "Error", "message": "boom" } })
    })
  });
  let rig = Rig {
    store: store.clone(),
    host: host.clone(),
  };
  let wf = def(
    json!({ "id": "flaky", "handle": 5, "retryConfig": { "attempts": 2, "delay": 1 }, "steps": [step("flaky", 0)] }),
  );
  let r = rig.run(&wf, "f1", start(json!({}))).await.unwrap();
  assert_eq!(r["status"], "success", "{r}");
  assert_eq!(r["result"], json!({ "tries": 3 }));
  let wf = def(json!({ "id": "boom", "handle": 5, "steps": [step("boom", 1), step("never", 0)] }));
  let r = rig.run(&wf, "f2", start(json!({}))).await.unwrap();
  assert_eq!(r["status"], "failed");
  assert_eq!(r["error"]["message"], "boom");
  assert_eq!(r["error"]["stepId"], "boom");
  assert_eq!(r["steps"]["boom"]["status"], "failed");
  assert_eq!(host.calls("never"), 0);
  let wf = def(
    json!({ "id": "boom2", "handle": 5, "steps": [{ "type": "step", "id": "boom", "func": 1, "retries": 3 }] }),
  );
  let before = host.calls("boom");
  rig.run(&wf, "f3", start(json!({}))).await.unwrap();
  assert_eq!(host.calls("boom") - before, 4, "retries: 3 → four attempts");

  // cancel while a step runs: the run ends canceled and the in-flight step is abandoned.
  host.add(5, 2, |_| Box::pin(futures::future::pending()));
  let wf = def(json!({ "id": "slow", "handle": 5, "steps": [step("slow", 2)] }));
  let cancel = CancellationToken::new();
  let run = rig.run_with(&wf, "k1", start(json!({})), cancel.clone());
  let canceller = async {
    while host.calls("slow") == 0 {
      tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
      lumos_workflow::cancel_run(&*store, "slow", "k1")
        .await
        .unwrap()
    );
    cancel.cancel();
  };
  let (r, ()) = tokio::join!(run, canceller);
  assert_eq!(r.unwrap()["status"], "canceled");
  let (run, _) = store
    .load_workflow_run("slow", "k1")
    .await
    .unwrap()
    .unwrap();
  assert_eq!(run.status, "canceled");
  assert!(
    !lumos_workflow::cancel_run(&*store, "slow", "k1")
      .await
      .unwrap(),
    "an ended run is not cancelled again"
  );
}

async fn nested_and_sleep(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  host.add(7, 0, add(1));
  host.add(8, 0, add(100));
  host.add(8, 1, |c| {
    Box::pin(async move {
      match c.get("resumeData") {
        None => json!({ "status": "suspended", "payload": { "inner": true } }),
        Some(d) => json!({ "status": "success", "output": { "n": c["inputData"]["n"].as_i64().unwrap() + d["add"].as_i64().unwrap() } }),
      }
    })
  });
  let child = json!({ "id": "child", "handle": 8, "steps": [step("c1", 0), step("gate", 1)] });
  let wf = def(json!({
    "id": "parent", "handle": 7,
    "steps": [step("p1", 0), { "type": "step", "id": "child", "workflow": child }, { "type": "sleep", "id": "sleep_1", "ms": 30 }, step("p2", 0)]
  }));
  let rig = Rig {
    store: store.clone(),
    host: host.clone(),
  };
  let r = rig.run(&wf, "n1", start(json!({ "n": 0 }))).await.unwrap();
  assert_eq!(r["status"], "suspended", "{r}");
  assert_eq!(r["suspended"], json!([["child", "gate"]]));
  assert_eq!(r["steps"]["child"]["status"], "suspended");
  assert!(
    r["steps"].get("c1").is_none(),
    "nested steps stay inside the nested step"
  );
  let t0 = std::time::Instant::now();
  let r = rig
    .run(&wf, "n1", resume(&["gate"], json!({ "add": 1000 })))
    .await
    .unwrap();
  assert_eq!(r["status"], "success", "{r}");
  assert_eq!(r["steps"]["child"]["output"], json!({ "n": 1101 }));
  assert_eq!(r["result"], json!({ "n": 1102 }));
  assert!(t0.elapsed() >= Duration::from_millis(30));
  assert_eq!(host.calls("c1"), 1);
}

async fn snapshot_grows_linearly(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  // Each step outputs ~1 KB.
  host.add(9, 0, |c| {
    let n = c["inputData"]["n"].as_i64().unwrap_or(0);
    ok(json!({ "n": n + 1, "blob": "x".repeat(1000) }))
  });
  let steps: Vec<Value> = (0..200).map(|i| step(&format!("s{i}"), 0)).collect();
  let wf = def(json!({ "id": "long", "handle": 9, "steps": steps }));
  let rig = Rig {
    store: store.clone(),
    host,
  };
  let r = rig.run(&wf, "l1", start(json!({ "n": 0 }))).await.unwrap();
  assert_eq!(r["status"], "success");
  let (run, records) = store
    .load_workflow_run("long", "l1")
    .await
    .unwrap()
    .unwrap();
  let outputs: usize = records
    .iter()
    .map(|r| r.record["output"].to_string().len())
    .sum();
  let stored: usize = records
    .iter()
    .map(|r| r.key.len() + r.record.to_string().len())
    .sum::<usize>()
    + run.result.map(|v| v.to_string().len()).unwrap_or(0);
  assert_eq!(records.len(), 200);
  assert!(
    (stored as f64) < 1.3 * outputs as f64,
    "stored {stored} bytes for {outputs} bytes of step outputs"
  );
}

async fn listing(store: Arc<dyn Storage>) {
  let host = Arc::new(TestHost::default());
  host.add(10, 0, add(1));
  let wf = def(json!({ "id": "listed", "handle": 10, "steps": [step("a", 0)] }));
  let rig = Rig {
    store: store.clone(),
    host,
  };
  for i in 0..3 {
    rig
      .run(&wf, &format!("L{i}"), start(json!({ "n": i })))
      .await
      .unwrap();
  }
  let page = store
    .list_workflow_runs(lumos_store::ListWorkflowRunsQuery {
      workflow_name: Some("listed".into()),
      status: Some("success".into()),
      per_page: Some(2),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(page.total, 3);
  assert_eq!(page.runs.len(), 2);
  assert!(store.delete_workflow_run("listed", "L0").await.unwrap());
  assert!(
    store
      .load_workflow_run("listed", "L0")
      .await
      .unwrap()
      .is_none()
  );
}

macro_rules! suite {
  ($store:expr, $($case:ident),* $(,)?) => {
    $( $case($store).await; println!("{} ok", stringify!($case)); )*
  };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_engine() {
  let (_dir, store) = sqlite().await;
  suite!(
    store.clone(),
    control_flow,
    suspend_resume_across_engines,
    crash_and_restart,
    failures_retries_cancel,
    nested_and_sleep,
    snapshot_grows_linearly,
    listing
  );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_engine() {
  let Some(server) = pg::PgServer::start() else {
    return;
  };
  let url = server.create_db("workflows").await;
  let store: Arc<dyn Storage> = Arc::new(
    lumos_store::PostgresStore::connect(&url, Default::default())
      .await
      .unwrap(),
  );
  suite!(
    store.clone(),
    control_flow,
    suspend_resume_across_engines,
    crash_and_restart,
    failures_retries_cancel,
    nested_and_sleep,
    snapshot_grows_linearly,
    listing
  );
}

#[test]
fn commit_rejects_mismatched_schemas() {
  let num = json!({ "type": "object", "properties": { "n": { "type": "number" } }, "required": ["n"], "additionalProperties": false });
  let txt = json!({ "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"] });
  let bad = json!({ "id": "w", "handle": 1, "inputSchema": num, "steps": [
    { "type": "step", "id": "a", "func": 0, "inputSchema": num, "outputSchema": num },
    { "type": "step", "id": "b", "func": 0, "inputSchema": txt, "outputSchema": txt }
  ] });
  let e = WorkflowDef::parse(&bad.to_string()).unwrap_err();
  assert_eq!(e.code, "WORKFLOW_SCHEMA_MISMATCH");
  assert!(e.message.contains("'b' needs `text`"), "{}", e.message);
  let foreach = json!({ "id": "w", "handle": 1, "steps": [
    { "type": "step", "id": "a", "func": 0, "outputSchema": num },
    { "type": "foreach", "step": { "type": "step", "id": "b", "func": 0 } }
  ] });
  assert_eq!(
    WorkflowDef::parse(&foreach.to_string()).unwrap_err().code,
    "WORKFLOW_SCHEMA_MISMATCH"
  );
  let fine = json!({ "id": "w", "handle": 1, "steps": [
    { "type": "step", "id": "a", "func": 0, "outputSchema": num },
    { "type": "parallel", "steps": [{ "type": "step", "id": "b", "func": 0, "inputSchema": num }] },
    { "type": "step", "id": "c", "func": 0, "inputSchema": { "type": "object", "properties": { "b": {} }, "required": ["b"] } }
  ] });
  WorkflowDef::parse(&fine.to_string()).unwrap();
  assert_eq!(
    WorkflowDef::parse("{\"id\":\"w\",\"handle\":1,\"steps\":[]}")
      .unwrap_err()
      .code,
    "WORKFLOW_INVALID_DEFINITION"
  );
  assert_eq!(
    WorkflowDef::parse("not json").unwrap_err().code,
    "WORKFLOW_INVALID_DEFINITION"
  );
}

//! PgVectorStore on a throwaway PostgreSQL server (skipped, saying so, without the binaries):
//! the vector interface, bad input writing nothing, and several stores (each with its own
//! in-process index, as separate processes have) seeing each other's writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use lumos_store::{PgVectorOptions, PgVectorStore};
use lumos_vector::Metric;
use serde_json::{Value, json};

async fn open(url: &str) -> PgVectorStore {
  PgVectorStore::connect(url, PgVectorOptions::default())
    .await
    .unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, lumos_store::PgVectorError>) -> &'static str {
  r.unwrap_err().code()
}

/// Polls `cond` every 2 ms for up to 5 s; returns how long it took to hold.
async fn within<F, Fut>(what: &str, mut cond: F) -> Duration
where
  F: FnMut() -> Fut,
  Fut: std::future::Future<Output = bool>,
{
  let t = Instant::now();
  while !cond().await {
    assert!(
      t.elapsed() < Duration::from_secs(5),
      "{what}: not seen after 5 s"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
  }
  t.elapsed()
}

async fn ids_of(s: &PgVectorStore, name: &str, q: &[f32], k: usize) -> Vec<String> {
  s.query(name, q.to_vec(), k, None, false)
    .await
    .map(|hits| hits.into_iter().map(|h| h.id).collect())
    .unwrap_or_default()
}

async fn interface(url: &str) {
  let s = open(url).await;
  s.create_index("docs", 3, Metric::Cosine).await.unwrap();
  s.create_index("docs", 3, Metric::Cosine).await.unwrap();
  assert_eq!(
    code(s.create_index("docs", 4, Metric::Cosine).await),
    "VECTOR_INDEX_EXISTS"
  );
  let ids = s
    .upsert(
      "docs",
      Some(vec!["a".into(), "b".into()]),
      &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
      vec![json!({ "k": "a", "n": 1 }), json!({ "k": "b", "n": 2 })],
    )
    .await
    .unwrap();
  assert_eq!(ids, ["a", "b"]);
  let generated = s
    .upsert("docs", None, &[0.0, 0.0, 1.0], Vec::new())
    .await
    .unwrap();
  assert_eq!(generated[0].len(), 36);
  let hits = s
    .query("docs", vec![1.0, 0.0, 0.0], 2, None, true)
    .await
    .unwrap();
  assert_eq!(hits[0].id, "a");
  assert!((hits[0].score - 1.0).abs() < 1e-6);
  assert_eq!(hits[0].metadata, json!({ "k": "a", "n": 1 }));
  assert_eq!(hits[0].vector.as_deref(), Some(&[1.0f32, 0.0, 0.0][..]));
  let filtered = s
    .query(
      "docs",
      vec![1.0, 0.0, 0.0],
      5,
      Some(json!({ "n": { "$gte": 2 } })),
      false,
    )
    .await
    .unwrap();
  assert_eq!(filtered.len(), 1);
  assert_eq!(filtered[0].id, "b");
  let d = s.describe_index("docs").await.unwrap();
  assert_eq!((d.dimension, d.count, d.metric), (3, 3, Metric::Cosine));
  s.create_index("other", 2, Metric::Euclidean).await.unwrap();
  assert_eq!(s.list_indexes().await.unwrap(), ["docs", "other"]);
  // Update the vector and the metadata, then only the metadata.
  assert!(
    s.update_vector(
      "docs",
      "a",
      Some(&[0.0, 1.0, 0.0]),
      Some(&json!({ "k": "a2" }))
    )
    .await
    .unwrap()
  );
  assert!(
    s.update_vector("docs", "b", None, Some(&json!({ "k": "b2" })))
      .await
      .unwrap()
  );
  assert!(
    !s.update_vector("docs", "zz", None, Some(&json!({})))
      .await
      .unwrap()
  );
  let hits = s
    .query("docs", vec![0.0, 1.0, 0.0], 2, None, false)
    .await
    .unwrap();
  let metas: Vec<&Value> = hits.iter().map(|h| &h.metadata).collect();
  assert_eq!(metas, [&json!({ "k": "a2" }), &json!({ "k": "b2" })]);
  assert!(s.delete_vector("docs", "a").await.unwrap());
  assert!(!s.delete_vector("docs", "a").await.unwrap());
  assert_eq!(s.describe_index("docs").await.unwrap().count, 2);
  // Duplicate ids in one batch: the last one wins (as in the local store).
  s.upsert(
    "docs",
    Some(vec!["d".into(), "d".into()]),
    &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    vec![json!({ "v": 1 }), json!({ "v": 2 })],
  )
  .await
  .unwrap();
  let hits = s
    .query(
      "docs",
      vec![0.0, 0.0, 1.0],
      1,
      Some(json!({ "v": 2 })),
      true,
    )
    .await
    .unwrap();
  assert_eq!(hits[0].vector.as_deref(), Some(&[0.0f32, 0.0, 1.0][..]));
  s.delete_index("other").await.unwrap();
  assert_eq!(
    code(s.delete_index("other").await),
    "VECTOR_INDEX_NOT_FOUND"
  );
  assert_eq!(s.list_indexes().await.unwrap(), ["docs"]);
  // A new store (a restarted process) loads what is in the database.
  let fresh = open(url).await;
  let d = fresh.describe_index("docs").await.unwrap();
  assert_eq!(d.count, 3);
  let hits = fresh
    .query("docs", vec![0.0, 1.0, 0.0], 1, None, false)
    .await
    .unwrap();
  assert_eq!(hits[0].metadata, json!({ "k": "b2" }));
  fresh.close();
  assert_eq!(code(fresh.list_indexes().await), "STORE_IO");
}

async fn bad_input_writes_nothing(url: &str) {
  let s = open(url).await;
  s.create_index("b", 3, Metric::Cosine).await.unwrap();
  s.upsert("b", Some(vec!["keep".into()]), &[1.0, 2.0, 3.0], Vec::new())
    .await
    .unwrap();
  let cases: Vec<(&str, Result<Vec<String>, lumos_store::PgVectorError>)> = vec![
    (
      "VECTOR_DIMENSION_MISMATCH",
      s.upsert("b", None, &[1.0, 2.0, 3.0, 1.0, 2.0], Vec::new())
        .await,
    ),
    (
      "VECTOR_INVALID_VALUE",
      s.upsert("b", None, &[1.0, 2.0, 3.0, f32::NAN, 0.0, 0.0], Vec::new())
        .await,
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("b", None, &[1.0, 2.0, 3.0], vec![json!("not an object")])
        .await,
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert(
        "b",
        Some(vec!["x".into(), "y".into()]),
        &[1.0, 2.0, 3.0],
        Vec::new(),
      )
      .await,
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("b", Some(vec![String::new()]), &[1.0, 2.0, 3.0], Vec::new())
        .await,
    ),
    (
      "VECTOR_INDEX_NOT_FOUND",
      s.upsert("nope", None, &[1.0, 2.0, 3.0], Vec::new()).await,
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("bad name!", None, &[1.0, 2.0, 3.0], Vec::new())
        .await,
    ),
  ];
  for (want, got) in cases {
    assert_eq!(code(got), want);
  }
  assert_eq!(
    code(
      s.query(
        "b",
        vec![1.0, 2.0, 3.0],
        1,
        Some(json!({ "a": { "$regexp": "x" } })),
        false
      )
      .await
    ),
    "VECTOR_INVALID_FILTER"
  );
  assert_eq!(
    code(s.query("b", vec![1.0, 2.0], 1, None, false).await),
    "VECTOR_DIMENSION_MISMATCH"
  );
  assert_eq!(
    code(s.query("nope", vec![1.0, 2.0, 3.0], 1, None, false).await),
    "VECTOR_INDEX_NOT_FOUND"
  );
  assert_eq!(
    code(
      s.update_vector("b", "keep", Some(&[f32::INFINITY, 0.0, 0.0]), None)
        .await
    ),
    "VECTOR_INVALID_VALUE"
  );
  assert_eq!(
    code(s.update_vector("b", "keep", Some(&[1.0]), None).await),
    "VECTOR_DIMENSION_MISMATCH"
  );
  assert_eq!(
    code(s.update_vector("b", "keep", None, None).await),
    "VECTOR_INVALID_INPUT"
  );
  assert_eq!(
    code(s.create_index("c", 0, Metric::Cosine).await),
    "VECTOR_INVALID_INPUT"
  );
  assert_eq!(
    code(s.create_index("", 3, Metric::Cosine).await),
    "VECTOR_INVALID_INPUT"
  );
  assert_eq!(s.list_indexes().await.unwrap(), ["b"]);
  // Nothing reached the table either: a fresh store sees the one good vector, unchanged.
  let fresh = open(url).await;
  assert_eq!(fresh.describe_index("b").await.unwrap().count, 1);
  let hits = fresh
    .query("b", vec![1.0, 2.0, 3.0], 5, None, true)
    .await
    .unwrap();
  assert_eq!(hits[0].vector.as_deref(), Some(&[1.0f32, 2.0, 3.0][..]));
}

/// Two stores with their own in-process indexes, as two processes have.
async fn sharing(url: &str, options: PgVectorOptions, label: &str) {
  let a = PgVectorStore::connect(url, options.clone()).await.unwrap();
  let b = PgVectorStore::connect(url, options).await.unwrap();
  a.create_index("s", 2, Metric::Euclidean).await.unwrap();
  // b loads an index a created, lazily.
  assert!(ids_of(&b, "s", &[0.0, 0.0], 5).await.is_empty());
  let mut worst = Duration::ZERO;
  let mut total = Duration::ZERO;
  let rounds = 20;
  for i in 0..rounds {
    let id = format!("v{i}");
    a.upsert(
      "s",
      Some(vec![id.clone()]),
      &[i as f32, 0.0],
      vec![json!({ "i": i })],
    )
    .await
    .unwrap();
    let took = within("upsert by a seen by b", || async {
      ids_of(&b, "s", &[i as f32, 0.0], 1).await == [id.clone()]
    })
    .await;
    worst = worst.max(took);
    total += took;
  }
  println!(
    "{label}: upsert → other store's query: mean {:?}, worst {:?} over {rounds}",
    total / rounds,
    worst
  );
  assert!(worst < Duration::from_secs(1), "{label}: worst {worst:?}");
  // Delete, update in b → a.
  b.delete_vector("s", "v3").await.unwrap();
  let took = within("delete by b seen by a", || async {
    !ids_of(&a, "s", &[3.0, 0.0], 1)
      .await
      .contains(&"v3".to_string())
  })
  .await;
  println!("{label}: delete → other store: {took:?}");
  b.update_vector("s", "v5", Some(&[100.0, 0.0]), None)
    .await
    .unwrap();
  within("update by b seen by a", || async {
    ids_of(&a, "s", &[100.0, 0.0], 1).await == ["v5"]
  })
  .await;
  // Concurrent writers in both: both converge on the same contents.
  let writer = |s: PgVectorStore, tag: &'static str| async move {
    for k in 0..30 {
      let ids: Vec<String> = (0..5).map(|j| format!("{tag}-{k}-{j}")).collect();
      let flat: Vec<f32> = (0..5).flat_map(|j| [k as f32, j as f32]).collect();
      s.upsert("s", Some(ids), &flat, Vec::new()).await.unwrap();
      // Both also rewrite one shared id.
      s.upsert(
        "s",
        Some(vec!["shared".into()]),
        &[k as f32, 1.0],
        vec![json!({ "by": tag })],
      )
      .await
      .unwrap();
    }
  };
  tokio::join!(writer(a.clone(), "a"), writer(b.clone(), "b"));
  let expect = 19 + 300 + 1;
  for s in [&a, &b] {
    within("concurrent writes converge", || async {
      s.local().describe_index("s").map(|d| d.count).unwrap_or(0) == expect
    })
    .await;
  }
  // The count can settle before the last rewrite of "shared" arrives: wait for that too.
  within("the shared id converges", || async {
    let (x, y) = (
      a.local().get("s", "shared").unwrap().unwrap(),
      b.local().get("s", "shared").unwrap().unwrap(),
    );
    x.metadata == y.metadata
      && x.vector == y.vector
      && x.vector.as_deref() == Some(&[29.0f32, 1.0][..])
  })
  .await;
  // deleteIndex in a: b drops it; recreated with another dimension: b reloads it.
  a.delete_index("s").await.unwrap();
  within("deleteIndex seen by b", || async {
    b.local().list_indexes().is_empty()
  })
  .await;
  assert_eq!(
    code(b.query("s", vec![0.0, 0.0], 1, None, false).await),
    "VECTOR_INDEX_NOT_FOUND"
  );
  a.create_index("s", 3, Metric::Cosine).await.unwrap();
  a.upsert("s", Some(vec!["new".into()]), &[1.0, 0.0, 0.0], Vec::new())
    .await
    .unwrap();
  assert_eq!(ids_of(&b, "s", &[1.0, 0.0, 0.0], 5).await, ["new"]);
  // Deleted and recreated (same dimension) while b has it loaded: b reloads the new generation.
  a.delete_index("s").await.unwrap();
  a.create_index("s", 3, Metric::Cosine).await.unwrap();
  a.upsert(
    "s",
    Some(vec!["newer".into()]),
    &[1.0, 0.0, 0.0],
    Vec::new(),
  )
  .await
  .unwrap();
  within("recreated index reloaded by b", || async {
    ids_of(&b, "s", &[1.0, 0.0, 0.0], 5).await == ["newer"]
  })
  .await;
}

/// Old tombstones are pruned; a store that fell behind the pruning reloads and still sees every
/// delete.
async fn tombstones_pruned(url: &str) {
  let a = PgVectorStore::connect(
    url,
    PgVectorOptions {
      tombstone_horizon: 5,
      ..PgVectorOptions::default()
    },
  )
  .await
  .unwrap();
  // No background sync: b only catches up when told.
  let b = PgVectorStore::connect(
    url,
    PgVectorOptions {
      poll_interval: Duration::ZERO,
      ..PgVectorOptions::default()
    },
  )
  .await
  .unwrap();
  a.create_index("p", 2, Metric::Euclidean).await.unwrap();
  let ids: Vec<String> = (0..30).map(|i| format!("p{i}")).collect();
  let flat: Vec<f32> = (0..30).flat_map(|i| [i as f32, 0.0]).collect();
  a.upsert("p", Some(ids), &flat, Vec::new()).await.unwrap();
  assert_eq!(ids_of(&b, "p", &[0.0, 0.0], 50).await.len(), 30);
  for i in 0..20 {
    assert!(a.delete_vector("p", &format!("p{i}")).await.unwrap());
  }
  let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
    .await
    .unwrap();
  tokio::spawn(conn);
  let row = client
    .query_one(
      "SELECT COUNT(*) FILTER (WHERE vector IS NULL), MAX(pruned_seq) FROM lumos_vectors, lumos_vector_indexes WHERE index_name = 'p' AND name = 'p'",
      &[],
    )
    .await
    .unwrap();
  let (tombstones, pruned): (i64, i64) = (row.get(0), row.get(1));
  assert!(
    tombstones < 20,
    "tombstones were pruned ({tombstones} left)"
  );
  assert!(pruned > 30, "pruned past b's position ({pruned})");
  b.sync().await.unwrap();
  let left = ids_of(&b, "p", &[0.0, 0.0], 50).await;
  assert_eq!(left.len(), 10, "b sees every delete: {left:?}");
  assert!(left.iter().all(|id| id[1..].parse::<u32>().unwrap() >= 20));
  // Within the horizon b catches up by delta.
  a.delete_vector("p", "p29").await.unwrap();
  b.sync().await.unwrap();
  assert_eq!(ids_of(&b, "p", &[0.0, 0.0], 50).await.len(), 9);
}

/// A larger batch: one transaction in chunks, read back whole by a new store (timings printed).
async fn bulk(url: &str) {
  let (n, dim) = (20_000usize, 128usize);
  let a = open(url).await;
  a.create_index("bulk", dim, Metric::Cosine).await.unwrap();
  let flat: Vec<f32> = (0..n * dim)
    .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 + 0.001)
    .collect();
  let t = Instant::now();
  let ids = a.upsert("bulk", None, &flat, Vec::new()).await.unwrap();
  let upsert = t.elapsed();
  let b = open(url).await;
  let t = Instant::now();
  assert_eq!(b.describe_index("bulk").await.unwrap().count, n);
  let load = t.elapsed();
  let probe = flat[123 * dim..124 * dim].to_vec();
  let hits = b.query("bulk", probe, 1, None, false).await.unwrap();
  assert!(
    (hits[0].score - 1.0).abs() < 1e-5,
    "{:?} vs {}",
    hits[0],
    ids[123]
  );
  println!("bulk {n} × {dim}: upsert {upsert:?}, load in a new store {load:?}");
}

/// Many concurrent writers and readers on a 2-connection pool: no stall waiting for a
/// connection while another task holds the sync state (the acquire timeout is 5 s).
async fn small_pool(url: &str) {
  let options = PgVectorOptions {
    postgres: lumos_store::PostgresOptions {
      max_connections: 2,
      acquire_timeout: Duration::from_secs(5),
      ..lumos_store::PostgresOptions::default()
    },
    ..PgVectorOptions::default()
  };
  let a = PgVectorStore::connect(url, options.clone()).await.unwrap();
  let other = PgVectorStore::connect(url, options).await.unwrap();
  a.create_index("c", 2, Metric::Euclidean).await.unwrap();
  let t = Instant::now();
  let mut tasks = Vec::new();
  for w in 0..16 {
    for s in [a.clone(), other.clone()] {
      tasks.push(tokio::spawn(async move {
        for k in 0..5 {
          s.upsert("c", None, &[w as f32, k as f32], Vec::new())
            .await
            .unwrap();
          s.query("c", vec![0.0, 0.0], 3, None, false).await.unwrap();
          s.describe_index("c").await.unwrap();
        }
      }));
    }
  }
  for task in tasks {
    task.await.unwrap();
  }
  println!(
    "small pool: 160 upserts + queries + describes in {:?}",
    t.elapsed()
  );
  assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
  for s in [&a, &other] {
    assert_eq!(s.describe_index("c").await.unwrap().count, 160);
  }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgvector_suite() {
  let Some(server) = common::pg::PgServer::start() else {
    return;
  };
  interface(&server.create_db("pgv_interface").await).await;
  println!("pgvector: interface ok");
  bad_input_writes_nothing(&server.create_db("pgv_bad").await).await;
  println!("pgvector: bad input ok");
  tombstones_pruned(&server.create_db("pgv_prune").await).await;
  println!("pgvector: tombstone pruning ok");
  bulk(&server.create_db("pgv_bulk").await).await;
  small_pool(&server.create_db("pgv_pool").await).await;
  println!("pgvector: small pool ok");
  sharing(
    &server.create_db("pgv_share_listen").await,
    PgVectorOptions::default(),
    "LISTEN/NOTIFY + 200 ms poll",
  )
  .await;
  sharing(
    &server.create_db("pgv_share_poll").await,
    PgVectorOptions {
      listen: false,
      ..PgVectorOptions::default()
    },
    "200 ms poll only",
  )
  .await;
  println!("pgvector: sharing ok");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use common::*;
use lumos_vector::{Metric, Quantization, StoreOptions, VectorStore};
use serde_json::{Value, json};
use std::collections::HashSet;

fn mem() -> VectorStore {
  VectorStore::open(None).unwrap()
}

fn exact_store() -> VectorStore {
  VectorStore::open_with(
    None,
    StoreOptions {
      exact_threshold: usize::MAX,
      builder_threads: 0,
      ..Default::default()
    },
  )
  .unwrap()
}

fn hnsw_store() -> VectorStore {
  VectorStore::open_with(
    None,
    StoreOptions {
      exact_threshold: 0,
      builder_threads: 1,
      ..Default::default()
    },
  )
  .unwrap()
}

fn ids_of(r: &[lumos_vector::QueryResult]) -> Vec<String> {
  r.iter().map(|x| x.id.clone()).collect()
}

#[test]
fn metrics_and_scores() {
  let s = mem();
  s.create_index("c", 3, Metric::Cosine, Quantization::F32)
    .unwrap();
  s.upsert(
    "c",
    Some(vec!["x".into(), "y".into(), "xy".into()]),
    &[1., 0., 0., 0., 2., 0., 1., 1., 0.],
    vec![],
  )
  .unwrap();
  let r = s.query("c", &[3., 0., 0.], 3, None, true).unwrap();
  assert_eq!(ids_of(&r), ["x", "xy", "y"]);
  assert_eq!(r[0].score, 1.0);
  assert!((r[1].score - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
  assert_eq!(r[2].score, 0.0, "orthogonal vectors score exactly 0");
  assert_eq!(r[0].vector.as_deref(), Some(&[1f32, 0., 0.][..]));
  assert_eq!(r[0].metadata, json!({}));

  s.create_index("d", 2, Metric::DotProduct, Quantization::F32)
    .unwrap();
  s.upsert(
    "d",
    Some(vec!["a".into(), "b".into()]),
    &[1., 2., 3., -1.],
    vec![],
  )
  .unwrap();
  let r = s.query("d", &[2., 1.], 2, None, false).unwrap();
  assert_eq!(ids_of(&r), ["b", "a"]);
  assert_eq!((r[0].score, r[1].score), (5.0, 4.0));
  let r = s.query("d", &[1., 0.], 2, None, false).unwrap();
  assert_eq!(ids_of(&r), ["b", "a"]);
  assert_eq!((r[0].score, r[1].score), (3.0, 1.0));

  s.create_index("e", 2, Metric::Euclidean, Quantization::F32)
    .unwrap();
  s.upsert(
    "e",
    Some(vec!["o".into(), "far".into()]),
    &[0., 0., 3., 4.],
    vec![],
  )
  .unwrap();
  let r = s.query("e", &[0., 0.], 2, None, false).unwrap();
  assert_eq!(ids_of(&r), ["o", "far"]);
  assert_eq!(r[0].score, 1.0);
  assert!((r[1].score - 1.0 / 6.0).abs() < 1e-9, "1/(1+5)");
}

#[test]
fn ties_keep_insertion_order_and_replace_keeps_position() {
  let s = mem();
  s.create_index("t", 2, Metric::Cosine, Quantization::F32)
    .unwrap();
  let ids: Vec<String> = (0..6).map(|i| format!("v{i}")).collect();
  let v: Vec<f32> = (0..6).flat_map(|_| [1.0f32, 1.0]).collect();
  s.upsert("t", Some(ids.clone()), &v, vec![]).unwrap();
  assert_eq!(
    ids_of(&s.query("t", &[1., 1.], 10, None, false).unwrap()),
    ids
  );
  // Replacing v2 with the same vector keeps its place; metadata changes.
  s.upsert(
    "t",
    Some(vec!["v2".into()]),
    &[2., 2.],
    vec![json!({"k": 1})],
  )
  .unwrap();
  let r = s.query("t", &[1., 1.], 10, None, false).unwrap();
  assert_eq!(ids_of(&r), ids);
  assert_eq!(r[2].metadata, json!({"k": 1}));
  assert_eq!(s.describe_index("t").unwrap().count, 6);
}

#[test]
fn index_lifecycle_and_generated_ids() {
  let s = mem();
  s.create_index("a", 4, Metric::Cosine, Quantization::F32)
    .unwrap();
  s.create_index("a", 4, Metric::Cosine, Quantization::F32)
    .unwrap(); // idempotent
  let e = s
    .create_index("a", 5, Metric::Cosine, Quantization::F32)
    .unwrap_err();
  assert_eq!(e.code(), "VECTOR_INDEX_EXISTS");
  assert!(e.to_string().contains("dimension 4"), "{e}");
  assert_eq!(
    s.create_index("a", 4, Metric::Euclidean, Quantization::F32)
      .unwrap_err()
      .code(),
    "VECTOR_INDEX_EXISTS"
  );
  s.create_index("b", 2, Metric::Euclidean, Quantization::I8)
    .unwrap();
  assert_eq!(s.list_indexes(), ["a", "b"]);
  let ids = s
    .upsert(
      "a",
      None,
      &[1., 2., 3., 4., 4., 3., 2., 1.],
      vec![json!({"x": 1}), Value::Null],
    )
    .unwrap();
  assert_eq!(ids.len(), 2);
  for id in &ids {
    assert!(
      uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 4),
      "{id}"
    );
  }
  let st = s.describe_index("a").unwrap();
  assert_eq!((st.dimension, st.count, st.metric), (4, 2, Metric::Cosine));
  assert!(
    s.update_vector("a", &ids[0], None, Some(&json!({"x": 2})))
      .unwrap()
  );
  assert_eq!(
    s.get("a", &ids[0]).unwrap().unwrap().metadata,
    json!({"x": 2})
  );
  assert!(
    s.update_vector("a", &ids[1], Some(&[0., 0., 0., 1.]), None)
      .unwrap()
  );
  assert_eq!(
    s.query("a", &[0., 0., 0., 1.], 1, None, false).unwrap()[0].id,
    ids[1]
  );
  assert!(
    !s.update_vector("a", "nope", None, Some(&json!({})))
      .unwrap()
  );
  assert!(s.delete_vector("a", &ids[0]).unwrap());
  assert!(!s.delete_vector("a", &ids[0]).unwrap());
  assert_eq!(s.describe_index("a").unwrap().count, 1);
  s.delete_index("a").unwrap();
  assert_eq!(s.list_indexes(), ["b"]);
  assert_eq!(
    s.query("a", &[0.; 4], 1, None, false).unwrap_err().code(),
    "VECTOR_INDEX_NOT_FOUND"
  );
  assert_eq!(
    s.delete_index("a").unwrap_err().code(),
    "VECTOR_INDEX_NOT_FOUND"
  );
}

#[test]
fn bad_input_is_rejected_and_nothing_is_written() {
  let dir = tempdir("bad");
  let s = VectorStore::open(Some(&dir)).unwrap();
  s.create_index("i", 3, Metric::Cosine, Quantization::F32)
    .unwrap();
  s.upsert("i", Some(vec!["keep".into()]), &[1., 1., 1.], vec![])
    .unwrap();
  let cases: Vec<(&str, lumos_vector::Result<Vec<String>>)> = vec![
    (
      "VECTOR_DIMENSION_MISMATCH",
      s.upsert("i", None, &[1., 2., 3., 4.], vec![]),
    ),
    (
      "VECTOR_INVALID_VALUE",
      s.upsert(
        "i",
        Some(vec!["a".into(), "keep".into()]),
        &[1., 2., 3., 1., f32::NAN, 3.],
        vec![],
      ),
    ),
    (
      "VECTOR_INVALID_VALUE",
      s.upsert("i", None, &[1., f32::INFINITY, 3.], vec![]),
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert(
        "i",
        Some(vec!["a".into()]),
        &[1., 2., 3., 1., 2., 3.],
        vec![],
      ),
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("i", None, &[1., 2., 3., 1., 2., 3.], vec![json!({})]),
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("i", None, &[1., 2., 3.], vec![json!("str")]),
    ),
    (
      "VECTOR_INVALID_INPUT",
      s.upsert("i", Some(vec!["".into()]), &[1., 2., 3.], vec![]),
    ),
    (
      "VECTOR_INDEX_NOT_FOUND",
      s.upsert("nope", None, &[1., 2., 3.], vec![]),
    ),
  ];
  for (code, r) in cases {
    assert_eq!(r.unwrap_err().code(), code);
  }
  assert_eq!(
    s.query("i", &[1., 2.], 1, None, false).unwrap_err().code(),
    "VECTOR_DIMENSION_MISMATCH"
  );
  assert_eq!(
    s.query("i", &[1., 2., f32::NAN], 1, None, false)
      .unwrap_err()
      .code(),
    "VECTOR_INVALID_VALUE"
  );
  let e = s
    .query(
      "i",
      &[1., 2., 3.],
      1,
      Some(&json!({"a": {"$regex": "x"}})),
      false,
    )
    .unwrap_err();
  assert_eq!(e.code(), "VECTOR_INVALID_FILTER");
  assert!(
    e.to_string().contains("$regex") && e.to_string().contains("$in"),
    "{e}"
  );
  assert_eq!(
    s.update_vector("i", "keep", Some(&[1., 2.]), None)
      .unwrap_err()
      .code(),
    "VECTOR_DIMENSION_MISMATCH"
  );
  assert_eq!(
    s.create_index("bad name", 3, Metric::Cosine, Quantization::F32)
      .unwrap_err()
      .code(),
    "VECTOR_INVALID_INPUT"
  );
  assert_eq!(
    s.create_index("z", 0, Metric::Cosine, Quantization::F32)
      .unwrap_err()
      .code(),
    "VECTOR_INVALID_INPUT"
  );
  let check = |s: &VectorStore| {
    assert_eq!(s.describe_index("i").unwrap().count, 1);
    assert_eq!(
      s.get("i", "keep").unwrap().unwrap().vector.unwrap(),
      vec![1., 1., 1.]
    );
    assert!(s.get("i", "a").unwrap().is_none());
  };
  check(&s);
  drop(s);
  check(&VectorStore::open(Some(&dir)).unwrap());
  let _ = std::fs::remove_dir_all(&dir);
}

pub fn tempdir(tag: &str) -> std::path::PathBuf {
  let d = std::env::temp_dir().join(format!(
    "lumos-vector-{tag}-{}-{}",
    std::process::id(),
    uuid::Uuid::new_v4().simple()
  ));
  std::fs::create_dir_all(&d).unwrap();
  d
}

// ---- random filters vs an independent oracle ----

type Pred = Box<dyn Fn(&Value) -> bool>;

fn field<'a>(m: &'a Value, path: &str) -> Option<&'a Value> {
  path.split('.').try_fold(m, |v, k| v.get(k))
}

fn random_meta(rng: &mut Rng) -> Value {
  let cats = ["a", "b", "c", "d"];
  let mut m = serde_json::Map::new();
  if rng.below(10) > 0 {
    m.insert("cat".into(), json!(cats[rng.below(4) as usize]));
  }
  m.insert("n".into(), json!(rng.below(100)));
  if rng.below(3) > 0 {
    m.insert("f".into(), json!(rng.f() as f64));
  }
  let tags: Vec<&str> = ["x", "y", "z"]
    .into_iter()
    .filter(|_| rng.below(2) == 0)
    .collect();
  m.insert("tags".into(), json!(tags));
  m.insert("flag".into(), json!(rng.below(2) == 0));
  if rng.below(2) == 0 {
    m.insert("nested".into(), json!({"k": rng.below(10)}));
  }
  Value::Object(m)
}

fn random_filter(rng: &mut Rng, depth: u32) -> (Value, Pred) {
  let cats = ["a", "b", "c", "d", "e"];
  let kind = if depth >= 2 {
    rng.below(10)
  } else {
    rng.below(14)
  };
  match kind {
    0 => {
      let c = cats[rng.below(5) as usize];
      (
        json!({"cat": c}),
        Box::new(move |m| field(m, "cat") == Some(&json!(c))),
      )
    }
    1 => {
      let c = cats[rng.below(5) as usize];
      (
        json!({"cat": {"$ne": c}}),
        Box::new(move |m| field(m, "cat") != Some(&json!(c))),
      )
    }
    2 => {
      let t = rng.below(100);
      let op = ["$gt", "$gte", "$lt", "$lte"][rng.below(4) as usize];
      (
        json!({"n": {op: t}}),
        Box::new(move |m| {
          let n = field(m, "n").and_then(Value::as_u64).unwrap_or(0);
          match op {
            "$gt" => n > t,
            "$gte" => n >= t,
            "$lt" => n < t,
            _ => n <= t,
          }
        }),
      )
    }
    3 => {
      let a = cats[rng.below(5) as usize];
      let b = cats[rng.below(5) as usize];
      (
        json!({"cat": {"$in": [a, b]}}),
        Box::new(move |m| field(m, "cat").is_some_and(|v| v == &json!(a) || v == &json!(b))),
      )
    }
    4 => {
      let a = cats[rng.below(5) as usize];
      (
        json!({"cat": {"$nin": [a]}}),
        Box::new(move |m| field(m, "cat") != Some(&json!(a))),
      )
    }
    5 => {
      let t = ["x", "y", "z"][rng.below(3) as usize];
      (
        json!({"tags": {"$in": [t]}}),
        Box::new(move |m| {
          field(m, "tags")
            .and_then(Value::as_array)
            .is_some_and(|a| a.contains(&json!(t)))
        }),
      )
    }
    6 => {
      let e = rng.below(2) == 0;
      (
        json!({"f": {"$exists": e}}),
        Box::new(move |m| field(m, "f").is_some() == e),
      )
    }
    7 => {
      let k = rng.below(10);
      (
        json!({"nested.k": {"$lte": k}}),
        Box::new(move |m| {
          field(m, "nested.k")
            .and_then(Value::as_u64)
            .is_some_and(|v| v <= k)
        }),
      )
    }
    8 => {
      let b = rng.below(2) == 0;
      (
        json!({"flag": b}),
        Box::new(move |m| field(m, "flag") == Some(&json!(b))),
      )
    }
    9 => {
      let t = rng.f() as f64;
      (
        json!({"f": {"$gt": t}}),
        Box::new(move |m| field(m, "f").and_then(Value::as_f64).is_some_and(|v| v > t)),
      )
    }
    10 | 11 => {
      let n = 2 + rng.below(2) as usize;
      let parts: Vec<(Value, Pred)> = (0..n).map(|_| random_filter(rng, depth + 1)).collect();
      let (js, ps): (Vec<Value>, Vec<Pred>) = parts.into_iter().unzip();
      if kind == 10 {
        (
          json!({"$and": js}),
          Box::new(move |m| ps.iter().all(|p| p(m))),
        )
      } else {
        (
          json!({"$or": js}),
          Box::new(move |m| ps.iter().any(|p| p(m))),
        )
      }
    }
    12 => {
      let (j, p) = random_filter(rng, depth + 1);
      (json!({"$not": j}), Box::new(move |m| !p(m)))
    }
    _ => {
      // implicit AND of two field conditions in one object
      let c = cats[rng.below(5) as usize];
      let t = rng.below(100);
      (
        json!({"cat": c, "n": {"$lt": t}}),
        Box::new(move |m| {
          field(m, "cat") == Some(&json!(c))
            && field(m, "n").and_then(Value::as_u64).is_some_and(|v| v < t)
        }),
      )
    }
  }
}

#[test]
fn random_filters_match_the_oracle() {
  let mut rng = Rng(0x1234_5678);
  let (n, dim) = (3000, 16);
  let data = mixture(&mut rng, n, dim, 10, 0.3);
  let metas: Vec<Value> = (0..n).map(|_| random_meta(&mut rng)).collect();
  let ids: Vec<String> = (0..n).map(|i| format!("id{i}")).collect();
  let ex = exact_store();
  let hn = hnsw_store();
  for s in [&ex, &hn] {
    s.create_index("f", dim, Metric::Cosine, Quantization::F32)
      .unwrap();
    s.upsert("f", Some(ids.clone()), &data, metas.clone())
      .unwrap();
  }
  hn.wait_indexed("f").unwrap();
  let (mut found, mut wanted) = (0usize, 0usize);
  for round in 0..300 {
    let (fj, pred) = random_filter(&mut rng, 0);
    let q: Vec<f32> = (0..dim).map(|_| rng.gauss()).collect();
    let k = 1 + rng.below(20) as usize;
    let expect: Vec<String> = exact_topk(&data, dim, &q, k, &|i| pred(&metas[i]))
      .into_iter()
      .map(|i| ids[i].clone())
      .collect();
    let got = ids_of(&ex.query("f", &q, k, Some(&fj), false).unwrap());
    assert_eq!(got, expect, "round {round} filter {fj}");
    let got: HashSet<String> = ids_of(&hn.query("f", &q, k, Some(&fj), false).unwrap())
      .into_iter()
      .collect();
    assert_eq!(
      got.len(),
      expect.len(),
      "hnsw must return top_k when that many match: {fj}"
    );
    found += expect.iter().filter(|id| got.contains(*id)).count();
    wanted += expect.len();
  }
  let recall = found as f64 / wanted.max(1) as f64;
  assert!(recall >= 0.95, "filtered HNSW recall {recall}");
}

/// 32-d clusters of 200 near-isotropic points: a hard case for a graph (low relative contrast
/// inside a cluster). The default beam must give ≥ 0.9; a wider one must find nearly all. (With
/// builders racing, the default beam measures 0.94–0.96 here, so it is not held to 0.95.)
#[test]
fn hnsw_recall_on_gaussian_mixture() {
  let mut rng = Rng(42);
  let (n, dim, k) = (4000, 32, 10);
  let data = mixture(&mut rng, n, dim, 20, 0.35);
  let s = hnsw_store();
  s.create_index("r", dim, Metric::Cosine, Quantization::F32)
    .unwrap();
  s.upsert("r", None, &data[..n / 2 * dim], vec![]).unwrap();
  s.upsert("r", None, &data[n / 2 * dim..], vec![]).unwrap();
  s.wait_indexed("r").unwrap();
  assert_eq!(s.describe_index("r").unwrap().pending, 0);
  let qs = mixture(&mut Rng(7), 100, dim, 20, 0.35);
  let recall = || {
    let (mut hit, mut total) = (0, 0);
    for q in qs.chunks_exact(dim) {
      let expect = exact_topk(&data, dim, q, k, &|_| true);
      let got = s.query("r", q, k, None, true).unwrap();
      let got_vecs: Vec<Vec<f32>> = got.iter().map(|r| r.vector.clone().unwrap()).collect();
      for i in expect {
        total += 1;
        if got_vecs
          .iter()
          .any(|v| v.as_slice() == &data[i * dim..(i + 1) * dim])
        {
          hit += 1;
        }
      }
    }
    hit as f64 / total as f64
  };
  let default_beam = recall();
  assert!(
    default_beam >= 0.9,
    "recall@10 = {default_beam} at the default beam"
  );
  s.set_ef_search(200);
  let wide = recall();
  assert!(wide >= 0.98, "recall@10 = {wide} at ef 200");
}

/// Several builder threads insert into one graph at once (plus the caller in `wait_indexed`),
/// while batches keep arriving and some ids are deleted: the graph finds the neighbours as well
/// as one built by a single thread.
#[test]
fn parallel_graph_build_keeps_recall() {
  let (n, dim, k) = (6000, 32, 10);
  let data = mixture(&mut Rng(4242), n, dim, 30, 0.35);
  let qs = mixture(&mut Rng(99), 200, dim, 30, 0.35);
  let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
  let recall = |quant: Quantization, builders: usize| -> f64 {
    let s = VectorStore::open_with(
      None,
      StoreOptions {
        exact_threshold: 0,
        builder_threads: builders,
        ..Default::default()
      },
    )
    .unwrap();
    s.set_ef_search(128);
    s.create_index("p", dim, Metric::Cosine, quant).unwrap();
    for (b, chunk) in data.chunks(500 * dim).enumerate() {
      let part = ids[b * 500..b * 500 + chunk.len() / dim].to_vec();
      s.upsert("p", Some(part), chunk, vec![]).unwrap();
    }
    // Every 10th vector is deleted (some before, some after the builders reach them).
    for i in (0..n).step_by(10) {
      assert!(s.delete_vector("p", &ids[i]).unwrap());
    }
    s.wait_indexed("p").unwrap();
    let st = s.describe_index("p").unwrap();
    assert_eq!((st.count, st.pending), (n - n / 10, 0));
    let (mut hit, mut total) = (0, 0);
    for q in qs.chunks_exact(dim) {
      let want = exact_topk(&data, dim, q, k, &|i| i % 10 != 0);
      let got: HashSet<String> = ids_of(&s.query("p", q, k, None, false).unwrap())
        .into_iter()
        .collect();
      assert!(
        !got.iter().any(|id| id.parse::<usize>().unwrap() % 10 == 0),
        "deleted id returned"
      );
      hit += want.iter().filter(|i| got.contains(&i.to_string())).count();
      total += k;
    }
    hit as f64 / total as f64
  };
  for quant in [Quantization::F32, Quantization::I8] {
    let (serial, parallel) = (recall(quant, 0), recall(quant, 3));
    assert!(serial >= 0.9, "{quant:?}: serial recall@10 {serial}");
    assert!(
      parallel >= serial - 0.02,
      "{quant:?}: recall@10 {parallel} with 3 builders, {serial} with one"
    );
  }
}

#[test]
fn int8_indexes_rank_like_f32() {
  let mut rng = Rng(99);
  let (n, dim) = (2000, 24);
  // Scaled up so values are well outside [-1, 1] (int8 must not saturate).
  let data: Vec<f32> = mixture(&mut rng, n, dim, 8, 0.5)
    .into_iter()
    .map(|x| x * 10.0)
    .collect();
  for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
    let s = exact_store();
    s.create_index("f", dim, metric, Quantization::F32).unwrap();
    s.create_index("q", dim, metric, Quantization::I8).unwrap();
    let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    s.upsert("f", Some(ids.clone()), &data, vec![]).unwrap();
    s.upsert("q", Some(ids.clone()), &data, vec![]).unwrap();
    let (mut hit, mut total) = (0, 0);
    for i in 0..50 {
      let q = &data[i * 37 * dim..(i * 37 + 1) * dim];
      let a = s.query("f", q, 10, None, false).unwrap();
      let b = s.query("q", q, 10, None, true).unwrap();
      let sa: HashSet<_> = ids_of(&a).into_iter().collect();
      hit += ids_of(&b).iter().filter(|x| sa.contains(*x)).count();
      total += 10;
      let qn = q.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
      let rel = match metric {
        // compare L2 distances (score = 1/(1+d)) relative to the query's length
        Metric::Euclidean => ((1.0 / a[0].score - 1.0) - (1.0 / b[0].score - 1.0)).abs() / qn,
        Metric::DotProduct => (a[0].score - b[0].score).abs() / (qn * qn),
        Metric::Cosine => (a[0].score - b[0].score).abs(),
      };
      assert!(
        rel < 0.02,
        "{metric:?}: top score {} vs {}",
        a[0].score,
        b[0].score
      );
      let back = b[0].vector.as_ref().unwrap();
      let orig = s.get("f", &b[0].id).unwrap().unwrap().vector.unwrap();
      let err: f32 = back
        .iter()
        .zip(&orig)
        .map(|(x, y)| (x - y).abs())
        .fold(0., f32::max);
      let maxabs = orig.iter().fold(0f32, |m, x| m.max(x.abs()));
      assert!(
        err <= maxabs / 100.0,
        "{metric:?}: dequantized error {err} (max {maxabs})"
      );
    }
    let recall = hit as f64 / total as f64;
    assert!(recall >= 0.9, "{metric:?}: int8 recall vs f32 {recall}");
  }
}

#[test]
fn concurrent_queries_and_writes() {
  let s = std::sync::Arc::new(
    VectorStore::open_with(
      None,
      StoreOptions {
        exact_threshold: 500,
        ..Default::default()
      },
    )
    .unwrap(),
  );
  let dim = 16;
  s.create_index("c", dim, Metric::Cosine, Quantization::F32)
    .unwrap();
  let base = mixture(&mut Rng(5), 2000, dim, 10, 0.3);
  s.upsert("c", None, &base, vec![json!({"g": 0}); 2000])
    .unwrap();
  std::thread::scope(|sc| {
    let w = s.clone();
    sc.spawn(move || {
      let mut rng = Rng(77);
      for b in 0..40 {
        let v = mixture(&mut rng, 50, dim, 10, 0.3);
        w.upsert("c", None, &v, vec![json!({"g": b}); 50]).unwrap();
        if b % 7 == 0 {
          w.create_index(&format!("side{b}"), 4, Metric::Euclidean, Quantization::I8)
            .unwrap();
        }
      }
    });
    for t in 0..4 {
      let r = s.clone();
      sc.spawn(move || {
        let mut rng = Rng(1000 + t);
        for i in 0..200 {
          let q: Vec<f32> = (0..dim).map(|_| rng.gauss()).collect();
          let f = if i % 3 == 0 {
            Some(json!({"g": {"$lt": 5}}))
          } else {
            None
          };
          let res = r.query("c", &q, 10, f.as_ref(), false).unwrap();
          assert_eq!(res.len(), 10);
          assert!(res.windows(2).all(|w| w[0].score >= w[1].score));
        }
      });
    }
  });
  s.wait_indexed("c").unwrap();
  assert_eq!(s.describe_index("c").unwrap().count, 4000);
  fn assert_send_sync<T: Send + Sync>() {}
  assert_send_sync::<VectorStore>();
}

/// Filters the equality index answers (alone or with a residual), plus the random mix.
fn indexable_filter(rng: &mut Rng) -> (Value, Pred) {
  match rng.below(6) {
    0 => {
      let t = rng.below(100);
      (
        json!({"n": t}),
        Box::new(move |m| field(m, "n").and_then(Value::as_u64) == Some(t)),
      )
    }
    1 => {
      let (a, b) = (rng.below(100), rng.below(100));
      // 1.0-style floats must match integer-valued metadata, like the matcher does.
      (
        json!({"n": {"$in": [a as f64, b]}}),
        Box::new(move |m| {
          field(m, "n")
            .and_then(Value::as_u64)
            .is_some_and(|v| v == a || v == b)
        }),
      )
    }
    2 => {
      let c = ["a", "b", "c", "d", "e"][rng.below(5) as usize];
      let fl = rng.below(2) == 0;
      (
        json!({"$and": [{"cat": c}, {"flag": {"$ne": fl}}]}),
        Box::new(move |m| {
          field(m, "cat") == Some(&json!(c)) && field(m, "flag") != Some(&json!(fl))
        }),
      )
    }
    3 => {
      let t = ["x", "y", "z"][rng.below(3) as usize];
      let k = rng.below(10);
      (
        json!({"tags": t, "nested.k": {"$gte": k}}),
        Box::new(move |m| {
          field(m, "tags")
            .and_then(Value::as_array)
            .is_some_and(|a| a.contains(&json!(t)))
            && field(m, "nested.k")
              .and_then(Value::as_u64)
              .is_some_and(|v| v >= k)
        }),
      )
    }
    _ => random_filter(rng, 0),
  }
}

#[test]
fn indexed_filters_match_the_oracle_after_updates_deletes_and_restart() {
  let dir = tempdir("eqindex");
  let opts = |exact| StoreOptions {
    exact_threshold: if exact { usize::MAX } else { 0 },
    builder_threads: 1,
    ..Default::default()
  };
  let mut rng = Rng(0xfeed_beef);
  let dim = 16;
  let mut data = mixture(&mut rng, 2500, dim, 10, 0.3);
  // The model holds metadata as the store returns it (serde_json's float parsing may move the
  // last digit).
  let rt = |m: Value| serde_json::from_slice::<Value>(&serde_json::to_vec(&m).unwrap()).unwrap();
  let mut metas: Vec<Value> = (0..2500).map(|_| rt(random_meta(&mut rng))).collect();
  let mut alive = vec![true; 2500];
  let ids = |i: usize| format!("id{i}");
  let ex = VectorStore::open_with(None, opts(true)).unwrap();
  let mut hn = VectorStore::open_with(Some(&dir), opts(false)).unwrap();
  let kinds = [("f", Quantization::F32), ("q", Quantization::I8)];
  let all = |f: &dyn Fn(&VectorStore, &str)| {
    f(&ex, "f");
    for (name, _) in kinds {
      f(&hn, name);
    }
  };
  ex.create_index("f", dim, Metric::Cosine, Quantization::F32)
    .unwrap();
  for (name, q) in kinds {
    hn.create_index(name, dim, Metric::Cosine, q).unwrap();
  }
  let first: Vec<String> = (0..2500).map(ids).collect();
  all(&|s, name| {
    s.upsert(name, Some(first.clone()), &data, metas.clone())
      .unwrap();
  });
  let check = |hn: &VectorStore, data: &[f32], metas: &[Value], alive: &[bool], rng: &mut Rng| {
    for round in 0..120 {
      let (fj, pred) = indexable_filter(rng);
      let q: Vec<f32> = (0..dim).map(|_| rng.gauss()).collect();
      let k = 1 + rng.below(20) as usize;
      let ok = |i: usize| alive[i] && pred(&metas[i]);
      let expect: Vec<String> = exact_topk(data, dim, &q, k, &ok)
        .into_iter()
        .map(ids)
        .collect();
      let got = ids_of(&ex.query("f", &q, k, Some(&fj), false).unwrap());
      assert_eq!(got, expect, "exact, round {round}, filter {fj}");
      for (name, _) in kinds {
        let got = hn.query(name, &q, k, Some(&fj), false).unwrap();
        assert_eq!(
          got.len(),
          expect.len(),
          "{name}: top_k when that many match: {fj}"
        );
        for h in &got {
          let i: usize = h.id[2..].parse().unwrap();
          assert!(ok(i), "{name}: {} does not match {fj}", h.id);
          assert_eq!(h.metadata, metas[i], "{name}: stale metadata for {}", h.id);
        }
      }
    }
  };
  check(&hn, &data, &metas, &alive, &mut rng);
  // Metadata-only updates, vector+metadata updates, re-upserts, deletes and new ids, while
  // the builder runs (slots both in place and moved).
  for op in 0..1000 {
    let i = rng.below((data.len() / dim) as u64) as usize;
    let new_meta = rt(random_meta(&mut rng));
    let new_vec: Vec<f32> = (0..dim).map(|_| rng.gauss()).collect();
    match op % 5 {
      _ if !alive[i] => continue,
      0 => {
        all(&|s, name| {
          assert!(
            s.update_vector(name, &ids(i), None, Some(&new_meta))
              .unwrap()
          );
        });
        metas[i] = new_meta;
      }
      1 => {
        all(&|s, name| {
          assert!(
            s.update_vector(name, &ids(i), Some(&new_vec), Some(&new_meta))
              .unwrap()
          );
        });
        metas[i] = new_meta;
        data[i * dim..(i + 1) * dim].copy_from_slice(&new_vec);
      }
      2 => {
        all(&|s, name| {
          s.upsert(name, Some(vec![ids(i)]), &new_vec, vec![new_meta.clone()])
            .unwrap();
        });
        metas[i] = new_meta;
        data[i * dim..(i + 1) * dim].copy_from_slice(&new_vec);
      }
      3 => {
        all(&|s, name| {
          assert!(s.delete_vector(name, &ids(i)).unwrap());
        });
        alive[i] = false;
      }
      _ => {
        let j = data.len() / dim;
        all(&|s, name| {
          s.upsert(name, Some(vec![ids(j)]), &new_vec, vec![new_meta.clone()])
            .unwrap();
        });
        data.extend_from_slice(&new_vec);
        metas.push(new_meta);
        alive.push(true);
      }
    }
    if op == 500 {
      check(&hn, &data, &metas, &alive, &mut rng);
    }
  }
  check(&hn, &data, &metas, &alive, &mut rng);
  // Log replay, then snapshot load.
  drop(hn);
  hn = VectorStore::open_with(Some(&dir), opts(false)).unwrap();
  check(&hn, &data, &metas, &alive, &mut rng);
  for (name, _) in kinds {
    hn.compact(name).unwrap();
  }
  drop(hn);
  hn = VectorStore::open_with(Some(&dir), opts(false)).unwrap();
  for (name, _) in kinds {
    hn.wait_indexed(name).unwrap();
  }
  check(&hn, &data, &metas, &alive, &mut rng);
  drop(hn);
  let _ = std::fs::remove_dir_all(&dir);
}

//! Filtered-query latency: the memory-recall shapes (`{ resource_id }` matching everything,
//! and many small tenants), 384-dim f32, builders done before timing.
//! Run: `cargo run --release -p lumos-vector --example filterbench` (`FB_N=100000`,
//! `FB_CASES=one,tenants,pairs,one-int8`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lumos_vector::{Metric, Quantization, VectorStore};
use serde_json::json;
use std::time::Instant;

fn rng(s: &mut u64) -> f32 {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  (*s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

fn run(label: &str, n: usize, per_resource: usize, quant: Quantization) {
  let dim = 384;
  let s = VectorStore::open(None).unwrap();
  s.create_index("m", dim, Metric::Cosine, quant).unwrap();
  let mut seed = 0x9e37_79b9_7f4a_7c15u64;
  let batch = 1000;
  for b in (0..n).step_by(batch) {
    let m = batch.min(n - b);
    let v: Vec<f32> = (0..m * dim).map(|_| rng(&mut seed)).collect();
    let ids: Vec<String> = (b..b + m).map(|i| format!("msg-{i}")).collect();
    let metas = (b..b + m)
      .map(|i| {
        let r = i / per_resource;
        json!({"thread_id": format!("thread-{r}"), "resource_id": format!("res-{r}"), "message_id": format!("msg-{i}")})
      })
      .collect();
    s.upsert("m", Some(ids), &v, metas).unwrap();
  }
  s.wait_indexed("m").unwrap();
  let resources = n.div_ceil(per_resource);
  let queries = 200;
  let qs: Vec<Vec<f32>> = (0..queries)
    .map(|_| (0..dim).map(|_| rng(&mut seed)).collect())
    .collect();
  for (what, f) in [("unfiltered", false), ("filtered", true)] {
    let t = Instant::now();
    let mut got = 0;
    for (i, q) in qs.iter().enumerate() {
      let r = (i * 7919) % resources;
      let filter = json!({"resource_id": format!("res-{r}")});
      got += s
        .query("m", q, 10, f.then_some(&filter), false)
        .unwrap()
        .len();
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / queries as f64;
    println!(
      "{label} {} n={n} per_resource={per_resource} {what}: {ms:.3} ms/query (avg hits {:.1})",
      quant.as_str(),
      got as f64 / queries as f64
    );
  }
}

fn main() {
  let n: usize = std::env::var("FB_N")
    .ok()
    .and_then(|v| v.parse().ok())
    .unwrap_or(100_000);
  let cases = std::env::var("FB_CASES").unwrap_or_else(|_| "one,tenants,one-int8".into());
  for c in cases.split(',') {
    match c {
      "one" => run("one-resource", n, n, Quantization::F32),
      "tenants" => run("tenants", n, 10, Quantization::F32),
      // Two messages per resource: the field is near-unique (a hash column, not value lists).
      "pairs" => run("pairs", n, 2, Quantization::F32),
      "one-int8" => run("one-resource", n, n, Quantization::I8),
      _ => eprintln!("unknown case {c}: use one, tenants, pairs, one-int8"),
    }
  }
}

//! `cargo run --release -p lumos-vector --example vecbench -- [n=100000] [dim=384] [f32|int8] [queries=1000] [mem|disk]`
//!
//! Data: a Gaussian mixture — 200 centres ~ N(0, 1) per component, points = centre + N(0, 0.5²)
//! per component — cosine metric. Queries are fresh draws from the same mixture. Ground truth is
//! an exact f64 scan. Prints upsert rate (acknowledged, fsync'd when on disk), graph build time,
//! then QPS and recall@10 for several ef_search values, at concurrency 1 and 2, and RSS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lumos_vector::{Metric, Quantization, StoreOptions, VectorStore};
use std::time::Instant;

struct Rng(u64);
impl Rng {
  fn next_u64(&mut self) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0
  }
  fn f(&mut self) -> f32 {
    (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
  }
  fn gauss(&mut self) -> f32 {
    let u1 = self.f().max(1e-7);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * self.f()).cos()
  }
}

fn rss_mb() -> f64 {
  std::fs::read_to_string("/proc/self/status")
    .ok()
    .and_then(|s| {
      s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
    })
    .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
  let a: Vec<String> = std::env::args().skip(1).collect();
  let n: usize = a.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
  let dim: usize = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(384);
  let quant = if a.get(2).map(String::as_str) == Some("int8") {
    Quantization::I8
  } else {
    Quantization::F32
  };
  let nq: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
  let on_disk = a.get(4).map(String::as_str) != Some("mem");
  let clusters = 200;
  println!(
    "vecbench: n={n} dim={dim} {quant:?} queries={nq} storage={}",
    if on_disk {
      "disk (fsync per upsert call)"
    } else {
      "memory"
    }
  );

  let mut rng = Rng(0x9E37_79B9);
  let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.gauss()).collect();
  let draw = |rng: &mut Rng| -> Vec<f32> {
    let c = (rng.next_u64() % clusters as u64) as usize;
    (0..dim)
      .map(|j| centres[c * dim + j] + 0.5 * rng.gauss())
      .collect()
  };
  let batch = 1000;
  let dir = std::env::temp_dir().join(format!("lumos-vecbench-{}", std::process::id()));
  let store = VectorStore::open_with(
    on_disk.then_some(dir.as_path()),
    StoreOptions {
      ..Default::default()
    },
  )
  .unwrap();
  store
    .create_index("bench", dim, Metric::Cosine, quant)
    .unwrap();
  let rss0 = rss_mb();

  // Generate all data first so the timing covers only upserts. Keep normalized copies for truth.
  let mut data: Vec<f32> = Vec::with_capacity(n * dim);
  for _ in 0..n {
    data.extend(draw(&mut rng));
  }
  let t = Instant::now();
  for (b, chunk) in data.chunks(batch * dim).enumerate() {
    let ids: Vec<String> = (0..chunk.len() / dim)
      .map(|i| (b * batch + i).to_string())
      .collect();
    store.upsert("bench", Some(ids), chunk, vec![]).unwrap();
  }
  let up = t.elapsed().as_secs_f64();
  println!(
    "upsert: {:.0} vectors/s ({n} in {up:.2}s, batches of {batch}; graph building runs in the background meanwhile)",
    n as f64 / up
  );
  store.wait_indexed("bench").unwrap();
  let built = t.elapsed().as_secs_f64();
  println!(
    "graph: all {n} indexed {built:.2}s after the first upsert ({:.0} vectors/s end to end)",
    n as f64 / built
  );
  println!(
    "memory after build: RSS {:.0} MB (includes the bench's own copy of the data, {:.0} MB); index heap ≈ {:.0} MB",
    rss_mb(),
    (n * dim * 4) as f64 / 1e6,
    store.memory_bytes("bench").unwrap() as f64 / 1e6
  );

  // Ground truth (exact, f64) for fresh queries.
  let queries: Vec<Vec<f32>> = (0..nq).map(|_| draw(&mut rng)).collect();
  let norms: Vec<f32> = data
    .chunks_exact(dim)
    .map(|v| v.iter().map(|x| x * x).sum::<f32>().sqrt())
    .collect();
  let tg = Instant::now();
  let truth: Vec<Vec<usize>> = std::thread::scope(|sc| {
    let parts: Vec<_> = queries
      .chunks(nq.div_ceil(2))
      .map(|qs| {
        let (data, norms) = (&data, &norms);
        sc.spawn(move || {
          qs.iter()
            .map(|q| {
              let mut s: Vec<(f32, usize)> = data
                .chunks_exact(dim)
                .enumerate()
                .map(|(i, v)| {
                  (
                    q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>() / norms[i].max(1e-30),
                    i,
                  )
                })
                .collect();
              s.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
              s[..10].iter().map(|x| x.1).collect::<Vec<usize>>()
            })
            .collect::<Vec<_>>()
        })
      })
      .collect();
    parts.into_iter().flat_map(|p| p.join().unwrap()).collect()
  });
  println!(
    "(ground truth by exact scan in {:.1}s)",
    tg.elapsed().as_secs_f64()
  );

  let exact_t = Instant::now();
  let k = nq.min(20);
  for q in &queries[..k] {
    store.query("bench", q, 10, None, false).unwrap();
  }
  let _ = exact_t;
  for ef in [32, 64, 96, 128, 200] {
    store.set_ef_search(ef);
    for conc in [1usize, 2] {
      let t = Instant::now();
      let results: Vec<Vec<String>> = std::thread::scope(|sc| {
        let parts: Vec<_> = queries
          .chunks(nq.div_ceil(conc))
          .map(|qs| {
            let store = &store;
            sc.spawn(move || {
              qs.iter()
                .map(|q| {
                  store
                    .query("bench", q, 10, None, false)
                    .unwrap()
                    .into_iter()
                    .map(|r| r.id)
                    .collect()
                })
                .collect::<Vec<_>>()
            })
          })
          .collect();
        parts.into_iter().flat_map(|p| p.join().unwrap()).collect()
      });
      let secs = t.elapsed().as_secs_f64();
      let mut hit = 0;
      for (got, want) in results.iter().zip(&truth) {
        hit += want.iter().filter(|i| got.contains(&i.to_string())).count();
      }
      println!(
        "ef_search={ef:<4} concurrency={conc}: {:>7.0} QPS  recall@10={:.4}",
        nq as f64 / secs,
        hit as f64 / (nq * 10) as f64
      );
    }
  }
  // A filtered query mix: 10% selectivity on a metadata field is not set here (no metadata);
  // see the tests for filtered recall.
  println!(
    "memory: RSS {:.0} MB total, {:.0} MB after creating the store; index heap ≈ {:.0} MB; raw data copy held by the bench ≈ {:.0} MB",
    rss_mb(),
    rss0,
    store.memory_bytes("bench").unwrap() as f64 / 1e6,
    (n * dim * 4) as f64 / 1e6
  );
  drop(store);
  let _ = std::fs::remove_dir_all(&dir);
}

//! `cargo run --release -p lumos-vector --example vecbench -- [n=100000] [dim=384] [f32|int8] [queries=1000] [mem|disk]`
//!
//! Data: a Gaussian mixture — 200 centres ~ N(0, 1) per component, points = centre + N(0, 0.5²)
//! per component — cosine metric. Queries are fresh draws from the same mixture. Ground truth is
//! an exact f64 scan. Prints upsert rate (acknowledged, fsync'd when on disk), graph build time,
//! then QPS and recall@10 for several ef_search values, at concurrency 1 and 2, and RSS.
//!
//! Environment knobs: `VB_EFS=32,64` (ef_search values), `VB_CONC=1,2` (concurrencies),
//! `VB_EXACT=1` (no graph: exact scan only — the quantization ceiling of recall),
//! `VB_BUILDERS=n` (background builder threads; the main thread also helps in `wait_indexed`).
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

/// Process CPU time (user + system, all threads) in seconds; clock ticks are 1/100 s.
fn cpu_s() -> f64 {
  std::fs::read_to_string("/proc/self/stat")
    .ok()
    .and_then(|s| {
      let rest = s.rsplit_once(')')?.1;
      let f: Vec<&str> = rest.split_whitespace().collect();
      Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
    })
    .unwrap_or(0.0)
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
  let list = |k: &str, d: &[usize]| -> Vec<usize> {
    std::env::var(k).map_or(d.to_vec(), |v| {
      v.split(',').filter_map(|x| x.trim().parse().ok()).collect()
    })
  };
  let exact_only = std::env::var("VB_EXACT").is_ok_and(|v| v == "1");
  let mut opts = StoreOptions::default();
  if let Some(b) = list("VB_BUILDERS", &[]).first() {
    opts.builder_threads = *b;
  }
  if exact_only {
    opts.exact_threshold = usize::MAX;
    opts.builder_threads = 0;
  }
  let store = VectorStore::open_with(on_disk.then_some(dir.as_path()), opts).unwrap();
  store
    .create_index("bench", dim, Metric::Cosine, quant)
    .unwrap();
  let rss0 = rss_mb();

  // The data are drawn batch by batch and dropped after their upsert (so RSS is the index's);
  // the ground truth regenerates them from a copy of the RNG. Only upsert calls are timed.
  let data_rng = Rng(rng.0);
  let (t, cpu0) = (Instant::now(), cpu_s());
  let mut up = 0.0;
  let mut done = 0;
  while done < n {
    let m = batch.min(n - done);
    let mut chunk = Vec::with_capacity(m * dim);
    for _ in 0..m {
      chunk.extend(draw(&mut rng));
    }
    let ids: Vec<String> = (done..done + m).map(|i| i.to_string()).collect();
    let tu = Instant::now();
    store.upsert("bench", Some(ids), &chunk, vec![]).unwrap();
    up += tu.elapsed().as_secs_f64();
    done += m;
  }
  println!(
    "upsert: {:.0} vectors/s ({n} in {up:.2}s of upsert calls, batches of {batch}; graph building runs in the background meanwhile)",
    n as f64 / up
  );
  if !exact_only {
    store.wait_indexed("bench").unwrap();
  }
  let built = t.elapsed().as_secs_f64();
  println!(
    "graph: all {n} indexed {built:.2}s after the first upsert ({:.0} vectors/s end to end; process CPU {:.1}s)",
    n as f64 / built,
    cpu_s() - cpu0
  );
  let rss_index = rss_mb();
  println!(
    "memory after build: RSS {rss_index:.0} MB (the bench holds no copy of the data); index heap ≈ {:.0} MB",
    store.memory_bytes("bench").unwrap() as f64 / 1e6
  );

  // Ground truth (exact, f32 cosine) for fresh queries, over the regenerated data in chunks.
  let queries: Vec<Vec<f32>> = (0..nq).map(|_| draw(&mut rng)).collect();
  let tg = Instant::now();
  let mut tops: Vec<Vec<(f32, usize)>> = vec![Vec::with_capacity(11); nq];
  let mut rng2 = data_rng;
  let chunk_rows = 20_000;
  let mut base = 0;
  while base < n {
    let m = chunk_rows.min(n - base);
    let mut chunk = Vec::with_capacity(m * dim);
    for _ in 0..m {
      chunk.extend(draw(&mut rng2));
    }
    let norms: Vec<f32> = chunk
      .chunks_exact(dim)
      .map(|v| v.iter().map(|x| x * x).sum::<f32>().sqrt())
      .collect();
    std::thread::scope(|sc| {
      let half = nq.div_ceil(2).max(1);
      for (qs, ts) in queries.chunks(half).zip(tops.chunks_mut(half)) {
        let (chunk, norms) = (&chunk, &norms);
        sc.spawn(move || {
          for (q, top) in qs.iter().zip(ts) {
            for (i, v) in chunk.chunks_exact(dim).enumerate() {
              let s = q.iter().zip(v).map(|(a, b)| a * b).sum::<f32>() / norms[i].max(1e-30);
              if top.len() < 10 || s > top[top.len() - 1].0 {
                let at = top.partition_point(|x| x.0 >= s);
                top.insert(at, (s, base + i));
                top.truncate(10);
              }
            }
          }
        });
      }
    });
    base += m;
  }
  let truth: Vec<Vec<usize>> = tops
    .into_iter()
    .map(|t| t.into_iter().map(|x| x.1).collect())
    .collect();
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
  let efs = if exact_only {
    vec![0]
  } else {
    list("VB_EFS", &[32, 64, 96, 128, 200])
  };
  for ef in efs {
    store.set_ef_search(ef);
    for conc in list("VB_CONC", &[1, 2]) {
      let (t, c0) = (Instant::now(), cpu_s());
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
      let cpu_ms = (cpu_s() - c0) * 1e3 / nq as f64;
      let mut hit = 0;
      for (got, want) in results.iter().zip(&truth) {
        hit += want.iter().filter(|i| got.contains(&i.to_string())).count();
      }
      println!(
        "ef_search={ef:<4} concurrency={conc}: {:>7.0} QPS  recall@10={:.4}  CPU/query {cpu_ms:.3} ms",
        nq as f64 / secs,
        hit as f64 / (nq * 10) as f64
      );
    }
  }
  // A filtered query mix: 10% selectivity on a metadata field is not set here (no metadata);
  // see the tests for filtered recall.
  println!(
    "memory: RSS {rss_index:.0} MB after the build, {:.0} MB at the end, {rss0:.0} MB after creating the store; index heap ≈ {:.0} MB",
    rss_mb(),
    store.memory_bytes("bench").unwrap() as f64 / 1e6
  );
  drop(store);
  let _ = std::fs::remove_dir_all(&dir);
}

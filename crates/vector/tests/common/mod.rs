#![allow(dead_code)]
//! Test helpers: a tiny deterministic RNG and synthetic data.

pub struct Rng(pub u64);
impl Rng {
  pub fn next_u64(&mut self) -> u64 {
    self.0 ^= self.0 << 13;
    self.0 ^= self.0 >> 7;
    self.0 ^= self.0 << 17;
    self.0
  }
  pub fn f(&mut self) -> f32 {
    (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
  }
  pub fn below(&mut self, n: u64) -> u64 {
    self.next_u64() % n
  }
  pub fn gauss(&mut self) -> f32 {
    let u1 = self.f().max(1e-7);
    let u2 = self.f();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
  }
}

/// Gaussian mixture: `clusters` centres ~ N(0,1), points = centre + N(0, spread²).
pub fn mixture(rng: &mut Rng, n: usize, dim: usize, clusters: usize, spread: f32) -> Vec<f32> {
  let centres: Vec<f32> = (0..clusters * dim).map(|_| rng.gauss()).collect();
  let mut out = Vec::with_capacity(n * dim);
  for _ in 0..n {
    let c = rng.below(clusters as u64) as usize;
    for j in 0..dim {
      out.push(centres[c * dim + j] + spread * rng.gauss());
    }
  }
  out
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
  let (mut d, mut na, mut nb) = (0f64, 0f64, 0f64);
  for (x, y) in a.iter().zip(b) {
    d += *x as f64 * *y as f64;
    na += *x as f64 * *x as f64;
    nb += *y as f64 * *y as f64;
  }
  if na == 0.0 || nb == 0.0 {
    0.0
  } else {
    d / (na * nb).sqrt()
  }
}

/// Exact top-k indices by cosine among `allowed`, ties by index.
pub fn exact_topk(
  data: &[f32],
  dim: usize,
  q: &[f32],
  k: usize,
  allowed: &dyn Fn(usize) -> bool,
) -> Vec<usize> {
  let n = data.len() / dim;
  let mut s: Vec<(f64, usize)> = (0..n)
    .filter(|&i| allowed(i))
    .map(|i| (cosine(q, &data[i * dim..(i + 1) * dim]), i))
    .collect();
  s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
  s.into_iter().take(k).map(|x| x.1).collect()
}

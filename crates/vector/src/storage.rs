//! Flat vector storage (f32 or int8 with a per-vector scale) and the metric maths.

use crate::distance::{dot_f32, dot_f32_i8, dot_i8, l2sq_f32};
use crate::{Metric, Quantization};

/// Vectors of one index, one slot each, in insertion order.
pub(crate) struct Storage {
  pub dim: usize,
  pub metric: Metric,
  data: Data,
  /// Per slot: f32 → |v| (cosine only); i8 → cosine: |v| of the original; euclidean: |v̂|² of
  /// the dequantized vector; dot: unused.
  aux: Vec<f32>,
}

enum Data {
  F32(Vec<f32>),
  I8 { codes: Vec<i8>, scale: Vec<f32> },
}

/// A query prepared for one metric (normalized for cosine).
pub(crate) struct Prepared {
  pub q: Vec<f32>,
  /// |q|² (euclidean over int8)
  pub norm2: f32,
}

impl Storage {
  pub fn new(dim: usize, metric: Metric, quant: Quantization) -> Self {
    let data = match quant {
      Quantization::F32 => Data::F32(Vec::new()),
      Quantization::I8 => Data::I8 {
        codes: Vec::new(),
        scale: Vec::new(),
      },
    };
    Storage {
      dim,
      metric,
      data,
      aux: Vec::new(),
    }
  }

  pub fn len(&self) -> usize {
    self.aux.len()
  }

  fn encode(&self, v: &[f32]) -> (Vec<i8>, f32, f32) {
    let norm = dot_f32(v, v).sqrt();
    let src: Vec<f32> = if self.metric == Metric::Cosine && norm > 0.0 {
      v.iter().map(|x| x / norm).collect()
    } else {
      v.to_vec()
    };
    let maxabs = src.iter().fold(0f32, |m, x| m.max(x.abs()));
    let step = if maxabs > 0.0 { maxabs / 127.0 } else { 1.0 };
    let codes: Vec<i8> = src
      .iter()
      .map(|x| (x / step).round().clamp(-127.0, 127.0) as i8)
      .collect();
    // Scale the codes so the reconstruction's projection on the vector is exact
    // (v·(scale·codes) = |v|²): the rounding error is then orthogonal to v, and a query close to
    // v (the ones whose ranking matters) barely sees it — at cosine 0.8 that is 0.6× the score
    // error of scale = step.
    let vc = dot_f32_i8(&src, &codes);
    let scale = if vc > 0.0 {
      dot_f32(&src, &src) / vc
    } else {
      step
    };
    let aux = match self.metric {
      Metric::Cosine => norm,
      Metric::Euclidean => {
        let n2 = dot_i8(&codes, &codes) as f32;
        n2 * scale * scale
      }
      Metric::DotProduct => 0.0,
    };
    (codes, scale, aux)
  }

  /// Append a vector (length already validated); returns its slot.
  pub fn push(&mut self, v: &[f32]) -> u32 {
    let slot = self.len() as u32;
    match &mut self.data {
      Data::F32(d) => {
        d.extend_from_slice(v);
        let aux = if self.metric == Metric::Cosine {
          dot_f32(v, v).sqrt()
        } else {
          0.0
        };
        self.aux.push(aux);
      }
      Data::I8 { .. } => {
        let (c, s, aux) = self.encode(v);
        if let Data::I8 { codes, scale } = &mut self.data {
          codes.extend_from_slice(&c);
          scale.push(s);
        }
        self.aux.push(aux);
      }
    }
    slot
  }

  /// Overwrite a slot in place (only for slots not yet in the graph).
  pub fn set(&mut self, slot: u32, v: &[f32]) {
    let (s, d) = (slot as usize, self.dim);
    match &mut self.data {
      Data::F32(data) => {
        data[s * d..(s + 1) * d].copy_from_slice(v);
        self.aux[s] = if self.metric == Metric::Cosine {
          dot_f32(v, v).sqrt()
        } else {
          0.0
        };
      }
      Data::I8 { .. } => {
        let (c, sc, aux) = self.encode(v);
        if let Data::I8 { codes, scale } = &mut self.data {
          codes[s * d..(s + 1) * d].copy_from_slice(&c);
          scale[s] = sc;
        }
        self.aux[s] = aux;
      }
    }
  }

  /// Raw int8 form of a slot (for snapshots): codes, scale, aux.
  pub fn raw_i8(&self, slot: u32) -> Option<(&[i8], f32, f32)> {
    let (s, d) = (slot as usize, self.dim);
    match &self.data {
      Data::I8 { codes, scale } => Some((&codes[s * d..(s + 1) * d], scale[s], self.aux[s])),
      Data::F32(_) => None,
    }
  }

  /// Append a raw int8 slot (snapshot load).
  pub fn push_raw_i8(&mut self, c: &[i8], s: f32, aux: f32) {
    if let Data::I8 { codes, scale } = &mut self.data {
      codes.extend_from_slice(c);
      scale.push(s);
      self.aux.push(aux);
    }
  }

  /// The stored vector as f32 (dequantized for int8: approximate).
  pub fn get(&self, slot: u32) -> Vec<f32> {
    let (s, d) = (slot as usize, self.dim);
    match &self.data {
      Data::F32(data) => data[s * d..(s + 1) * d].to_vec(),
      Data::I8 { codes, scale } => {
        let mul = if self.metric == Metric::Cosine {
          scale[s] * self.aux[s]
        } else {
          scale[s]
        };
        codes[s * d..(s + 1) * d]
          .iter()
          .map(|c| *c as f32 * mul)
          .collect()
      }
    }
  }

  pub fn prepare(&self, q: &[f32]) -> Prepared {
    let norm2 = dot_f32(q, q);
    let q = if self.metric == Metric::Cosine && norm2 > 0.0 {
      let n = norm2.sqrt();
      q.iter().map(|x| x / n).collect()
    } else {
      q.to_vec()
    };
    Prepared { q, norm2 }
  }

  /// Prepare a stored vector as a query (graph construction).
  pub fn prepare_slot(&self, slot: u32) -> Prepared {
    self.prepare(&self.get(slot))
  }

  /// Hint the CPU to start loading a slot's vector (a search computes several distances in a
  /// row; overlapping their cache misses is most of what prefetching buys).
  #[inline]
  pub fn prefetch(&self, slot: u32) {
    #[cfg(target_arch = "x86_64")]
    {
      use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
      let (s, d) = (slot as usize, self.dim);
      let (ptr, bytes) = match &self.data {
        Data::F32(v) => (v.as_ptr().wrapping_add(s * d) as *const i8, d * 4),
        Data::I8 { codes, scale } => {
          // The per-vector scale and aux live in their own arrays: two more misses otherwise.
          for p in [scale.as_ptr(), self.aux.as_ptr()] {
            // SAFETY: as below.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(s) as *const i8) };
          }
          (codes.as_ptr().wrapping_add(s * d), d)
        }
      };
      // The first lines only: the hardware prefetcher follows a sequential scan.
      for off in (0..bytes.min(256)).step_by(64) {
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults, whatever
        // the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(off)) };
      }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
  }

  /// Distance (lower is closer) from a prepared query to a slot.
  #[inline]
  pub fn dist(&self, p: &Prepared, slot: u32) -> f32 {
    let (s, d) = (slot as usize, self.dim);
    match &self.data {
      Data::F32(data) => {
        let v = &data[s * d..(s + 1) * d];
        match self.metric {
          Metric::Cosine => {
            let n = self.aux[s];
            if n > 0.0 {
              1.0 - dot_f32(&p.q, v) / n
            } else {
              1.0
            }
          }
          Metric::DotProduct => -dot_f32(&p.q, v),
          Metric::Euclidean => l2sq_f32(&p.q, v),
        }
      }
      Data::I8 { codes, scale } => {
        let v = &codes[s * d..(s + 1) * d];
        let dp = dot_f32_i8(&p.q, v) * scale[s];
        match self.metric {
          Metric::Cosine => {
            if self.aux[s] > 0.0 {
              1.0 - dp
            } else {
              1.0
            }
          }
          Metric::DotProduct => -dp,
          Metric::Euclidean => (p.norm2 + self.aux[s] - 2.0 * dp).max(0.0),
        }
      }
    }
  }

  /// Distance between two stored slots.
  #[inline]
  pub fn node_dist(&self, a: u32, b: u32) -> f32 {
    let (a, b, d) = (a as usize, b as usize, self.dim);
    match &self.data {
      Data::F32(data) => {
        let (va, vb) = (&data[a * d..(a + 1) * d], &data[b * d..(b + 1) * d]);
        match self.metric {
          Metric::Cosine => {
            let n = self.aux[a] * self.aux[b];
            if n > 0.0 {
              1.0 - dot_f32(va, vb) / n
            } else {
              1.0
            }
          }
          Metric::DotProduct => -dot_f32(va, vb),
          Metric::Euclidean => l2sq_f32(va, vb),
        }
      }
      Data::I8 { codes, scale } => {
        let (va, vb) = (&codes[a * d..(a + 1) * d], &codes[b * d..(b + 1) * d]);
        let dp = dot_i8(va, vb) as f32 * scale[a] * scale[b];
        match self.metric {
          Metric::Cosine => 1.0 - dp,
          Metric::DotProduct => -dp,
          Metric::Euclidean => (self.aux[a] + self.aux[b] - 2.0 * dp).max(0.0),
        }
      }
    }
  }

  /// Public score for a distance: cosine similarity, dot product, or 1 / (1 + L2 distance).
  pub fn score_of(&self, dist: f32) -> f64 {
    match self.metric {
      Metric::Cosine => 1.0 - dist as f64,
      Metric::DotProduct => -dist as f64,
      Metric::Euclidean => 1.0 / (1.0 + (dist.max(0.0) as f64).sqrt()),
    }
  }

  /// Exact score in f64 for the final results (f32 storage), so orthogonal is exactly 0.
  pub fn exact_score(&self, query: &[f32], slot: u32) -> f64 {
    let (s, d) = (slot as usize, self.dim);
    match &self.data {
      Data::F32(data) => {
        let v = &data[s * d..(s + 1) * d];
        let (mut dp, mut qq, mut vv, mut l2) = (0f64, 0f64, 0f64, 0f64);
        for (x, y) in query.iter().zip(v) {
          let (x, y) = (*x as f64, *y as f64);
          dp += x * y;
          qq += x * x;
          vv += y * y;
          l2 += (x - y) * (x - y);
        }
        match self.metric {
          Metric::Cosine => {
            let n = (qq * vv).sqrt();
            if n > 0.0 { dp / n } else { 0.0 }
          }
          Metric::DotProduct => dp,
          Metric::Euclidean => 1.0 / (1.0 + l2.sqrt()),
        }
      }
      Data::I8 { .. } => {
        let p = self.prepare(query);
        self.score_of(self.dist(&p, slot))
      }
    }
  }

  /// Approximate heap bytes.
  pub fn heap_bytes(&self) -> usize {
    let data = match &self.data {
      Data::F32(d) => d.capacity() * 4,
      Data::I8 { codes, scale } => codes.capacity() + scale.capacity() * 4,
    };
    data + self.aux.capacity() * 4
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
  use super::*;

  fn vecs(n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n)
      .map(|i| {
        (0..dim)
          .map(|j| ((i * 31 + j * 7) as f32 * 0.173).sin() * (1.0 + i as f32 * 0.1))
          .collect()
      })
      .collect()
  }

  /// The int8 scale makes the reconstruction's projection on the (normalized) vector exact.
  #[test]
  fn int8_reconstruction_projects_exactly() {
    for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
      for dim in [1, 3, 17, 384] {
        let mut st = Storage::new(dim, metric, Quantization::I8);
        for v in vecs(5, dim) {
          let slot = st.push(&v);
          let back = st.get(slot);
          let vv: f64 = v.iter().map(|x| *x as f64 * *x as f64).sum();
          let vb: f64 = v
            .iter()
            .zip(&back)
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum();
          assert!(
            (vb - vv).abs() <= 1e-4 * vv,
            "{metric:?} dim {dim}: {vb} vs {vv}"
          );
          let maxabs = v.iter().fold(0f32, |m, x| m.max(x.abs()));
          let err = v
            .iter()
            .zip(&back)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
          assert!(err <= maxabs / 100.0, "{metric:?} dim {dim}: error {err}");
        }
      }
    }
  }

  #[test]
  fn int8_zero_vector_is_stable() {
    for metric in [Metric::Cosine, Metric::DotProduct, Metric::Euclidean] {
      let mut st = Storage::new(5, metric, Quantization::I8);
      let z = st.push(&[0.0; 5]);
      let o = st.push(&[1.0, 0.0, 0.0, 0.0, 0.0]);
      assert_eq!(st.get(z), vec![0.0; 5]);
      let p = st.prepare(&[1.0, 0.0, 0.0, 0.0, 0.0]);
      assert!(st.dist(&p, z).is_finite() && st.dist(&p, o).is_finite());
      assert!(st.node_dist(z, o).is_finite());
    }
  }
}

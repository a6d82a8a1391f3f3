//! Distance kernels: plain loops shaped for auto-vectorization (the baseline, SSE2 on x86_64),
//! and AVX2+FMA intrinsics picked at run time when the CPU has them (we ship generic binaries).

#[inline(always)]
fn dot_f32_generic(a: &[f32], b: &[f32]) -> f32 {
  let n = a.len().min(b.len());
  let (a, b) = (&a[..n], &b[..n]);
  let mut acc = [0f32; 16];
  let ca = a.chunks_exact(16);
  let cb = b.chunks_exact(16);
  let (ra, rb) = (ca.remainder(), cb.remainder());
  for (x, y) in ca.zip(cb) {
    for i in 0..16 {
      acc[i] += x[i] * y[i];
    }
  }
  let mut s: f32 = acc.iter().sum();
  for (x, y) in ra.iter().zip(rb) {
    s += x * y;
  }
  s
}

#[inline(always)]
fn l2sq_f32_generic(a: &[f32], b: &[f32]) -> f32 {
  let n = a.len().min(b.len());
  let (a, b) = (&a[..n], &b[..n]);
  let mut acc = [0f32; 16];
  let ca = a.chunks_exact(16);
  let cb = b.chunks_exact(16);
  let (ra, rb) = (ca.remainder(), cb.remainder());
  for (x, y) in ca.zip(cb) {
    for i in 0..16 {
      let d = x[i] - y[i];
      acc[i] += d * d;
    }
  }
  let mut s: f32 = acc.iter().sum();
  for (x, y) in ra.iter().zip(rb) {
    let d = x - y;
    s += d * d;
  }
  s
}

#[inline(always)]
fn dot_f32_i8_generic(a: &[f32], b: &[i8]) -> f32 {
  let n = a.len().min(b.len());
  let (a, b) = (&a[..n], &b[..n]);
  let mut acc = [0f32; 16];
  let ca = a.chunks_exact(16);
  let cb = b.chunks_exact(16);
  let (ra, rb) = (ca.remainder(), cb.remainder());
  for (x, y) in ca.zip(cb) {
    for i in 0..16 {
      acc[i] += x[i] * y[i] as f32;
    }
  }
  let mut s: f32 = acc.iter().sum();
  for (x, y) in ra.iter().zip(rb) {
    s += x * *y as f32;
  }
  s
}

#[inline(always)]
fn dot_i8_generic(a: &[i8], b: &[i8]) -> i32 {
  let n = a.len().min(b.len());
  let (a, b) = (&a[..n], &b[..n]);
  let mut acc = [0i32; 16];
  let ca = a.chunks_exact(16);
  let cb = b.chunks_exact(16);
  let (ra, rb) = (ca.remainder(), cb.remainder());
  for (x, y) in ca.zip(cb) {
    for i in 0..16 {
      acc[i] += x[i] as i16 as i32 * y[i] as i16 as i32;
    }
  }
  let mut s: i32 = acc.iter().sum();
  for (x, y) in ra.iter().zip(rb) {
    s += *x as i32 * *y as i32;
  }
  s
}

/// Hand-written AVX2+FMA kernels: four independent accumulators (the add latency, not the
/// multiplies, bounds a 384-d dot product) and fused multiply-adds, which LLVM may not form from
/// the plain loops because fusing changes rounding.
#[cfg(target_arch = "x86_64")]
mod avx2 {
  use std::arch::x86_64::*;

  #[target_feature(enable = "avx2,fma")]
  fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
    _mm_cvtss_f32(s)
  }

  #[target_feature(enable = "avx2,fma")]
  fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
  }

  /// 8 int8 at `p` as 8 f32.
  #[target_feature(enable = "avx2,fma")]
  unsafe fn i8x8(p: *const i8) -> __m256 {
    // SAFETY: the caller guarantees 8 readable bytes at `p`.
    _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(unsafe {
      _mm_loadl_epi64(p as *const __m128i)
    }))
  }

  #[target_feature(enable = "avx2,fma")]
  pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): every index read is below n, and both slices have n elements.
    while i + 32 <= n {
      for (j, acc) in acc.iter_mut().enumerate() {
        let (x, y) = unsafe {
          (
            _mm256_loadu_ps(pa.add(i + 8 * j)),
            _mm256_loadu_ps(pb.add(i + 8 * j)),
          )
        };
        *acc = _mm256_fmadd_ps(x, y, *acc);
      }
      i += 32;
    }
    while i + 8 <= n {
      let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
      acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
      i += 8;
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut s = hsum(v);
    for k in i..n {
      s += a[k] * b[k];
    }
    s
  }

  #[target_feature(enable = "avx2,fma")]
  pub(super) fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): every index read is below n, and both slices have n elements.
    while i + 32 <= n {
      for (j, acc) in acc.iter_mut().enumerate() {
        let (x, y) = unsafe {
          (
            _mm256_loadu_ps(pa.add(i + 8 * j)),
            _mm256_loadu_ps(pb.add(i + 8 * j)),
          )
        };
        let d = _mm256_sub_ps(x, y);
        *acc = _mm256_fmadd_ps(d, d, *acc);
      }
      i += 32;
    }
    while i + 8 <= n {
      let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
      let d = _mm256_sub_ps(x, y);
      acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
      i += 8;
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut s = hsum(v);
    for k in i..n {
      let d = a[k] - b[k];
      s += d * d;
    }
    s
  }

  #[target_feature(enable = "avx2,fma")]
  pub(super) fn dot_f32_i8(a: &[f32], b: &[i8]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY (all loads): every index read is below n, and both slices have n elements.
    while i + 32 <= n {
      for (j, acc) in acc.iter_mut().enumerate() {
        let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i + 8 * j)), i8x8(pb.add(i + 8 * j))) };
        *acc = _mm256_fmadd_ps(x, y, *acc);
      }
      i += 32;
    }
    while i + 8 <= n {
      let (x, y) = unsafe { (_mm256_loadu_ps(pa.add(i)), i8x8(pb.add(i))) };
      acc[0] = _mm256_fmadd_ps(x, y, acc[0]);
      i += 8;
    }
    let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut s = hsum(v);
    for k in i..n {
      s += a[k] * b[k] as f32;
    }
    s
  }

  #[target_feature(enable = "avx2,fma")]
  pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [_mm256_setzero_si256(); 2];
    let mut i = 0;
    // Sign-extend to i16 and multiply-add pairs into i32 lanes: |pair| ≤ 2·128² fits, and
    // a lane sums n/16 pairs, below 2³¹ for any dimension the store accepts (≤ 65,536).
    // SAFETY (all loads): every index read is below n, and both slices have n elements.
    while i + 32 <= n {
      for (j, acc) in acc.iter_mut().enumerate() {
        let (x, y) = unsafe {
          (
            _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16 * j) as *const __m128i)),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16 * j) as *const __m128i)),
          )
        };
        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(x, y));
      }
      i += 32;
    }
    let mut s = hsum_i32(_mm256_add_epi32(acc[0], acc[1]));
    for k in i..n {
      s += a[k] as i32 * b[k] as i32;
    }
    s
  }
}

fn has_avx2() -> bool {
  #[cfg(target_arch = "x86_64")]
  {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
  }
  #[cfg(not(target_arch = "x86_64"))]
  false
}

macro_rules! dispatch {
    ($name:ident, $generic:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        #[inline]
        pub(crate) fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                if has_avx2() {
                    // SAFETY: the CPU supports the features the function was compiled for.
                    return unsafe { avx2::$name($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

dispatch!(dot_f32, dot_f32_generic, (a: &[f32], b: &[f32]) -> f32);
dispatch!(l2sq_f32, l2sq_f32_generic, (a: &[f32], b: &[f32]) -> f32);
dispatch!(dot_f32_i8, dot_f32_i8_generic, (a: &[f32], b: &[i8]) -> f32);
dispatch!(dot_i8, dot_i8_generic, (a: &[i8], b: &[i8]) -> i32);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
  use super::*;

  fn f32s(n: usize, seed: f32) -> Vec<f32> {
    (0..n)
      .map(|i| ((i as f32 + 1.0) * seed).sin() * 3.0)
      .collect()
  }
  fn i8s(n: usize, mul: usize) -> Vec<i8> {
    // Covers the whole range, including -128 (never stored, but the kernel must not overflow).
    (0..n).map(|i| ((i * mul) % 256) as u8 as i8).collect()
  }

  /// Every kernel against a scalar f64 reference, for lengths around the 16-lane chunking
  /// (remainders 0..15), odd lengths, the empty slice and zero vectors.
  #[test]
  fn kernels_match_scalar_reference() {
    let lens: Vec<usize> = (0..=40)
      .chain([63, 64, 65, 127, 383, 384, 385, 1536])
      .collect();
    for n in lens {
      let (a, b) = (f32s(n, 0.37), f32s(n, 0.11));
      let (qa, qb) = (i8s(n, 7), i8s(n, 13));
      let z = vec![0f32; n];
      let zi = vec![0i8; n];
      let r_dot: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
      let r_l2: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
        .sum();
      let r_fi: f64 = a.iter().zip(&qb).map(|(x, y)| *x as f64 * *y as f64).sum();
      let r_ii: i64 = qa.iter().zip(&qb).map(|(x, y)| *x as i64 * *y as i64).sum();
      let tol = |r: f64| 1e-4 * (1.0 + r.abs() + n as f64);
      assert!(
        (dot_f32(&a, &b) as f64 - r_dot).abs() < tol(r_dot),
        "dot n={n}"
      );
      assert!(
        (dot_f32_generic(&a, &b) as f64 - r_dot).abs() < tol(r_dot),
        "dot n={n}"
      );
      assert!(
        (l2sq_f32_generic(&a, &b) as f64 - r_l2).abs() < tol(r_l2),
        "l2 n={n}"
      );
      assert!(
        (dot_f32_i8_generic(&a, &qb) as f64 - r_fi).abs() < tol(r_fi) * 100.0,
        "n={n}"
      );
      assert_eq!(dot_i8_generic(&qa, &qb) as i64, r_ii, "i8·i8 generic n={n}");
      assert!(
        (l2sq_f32(&a, &b) as f64 - r_l2).abs() < tol(r_l2),
        "l2 n={n}"
      );
      assert!(
        (dot_f32_i8(&a, &qb) as f64 - r_fi).abs() < tol(r_fi) * 100.0,
        "f32·i8 n={n}"
      );
      assert_eq!(dot_i8(&qa, &qb) as i64, r_ii, "i8·i8 n={n}");
      assert_eq!(dot_f32(&a, &z), 0.0);
      assert_eq!(dot_f32(&z, &z), 0.0);
      assert!(
        (l2sq_f32(&a, &z) as f64 - a.iter().map(|x| *x as f64 * *x as f64).sum::<f64>()).abs()
          < tol(r_l2)
      );
      assert_eq!(dot_f32_i8(&a, &zi), 0.0);
      assert_eq!(dot_i8(&qa, &zi), 0);
    }
  }

  #[test]
  fn kernels_use_the_shorter_length() {
    let (a, b) = (f32s(20, 0.3), f32s(17, 0.7));
    let r: f32 = a[..17].iter().zip(&b).map(|(x, y)| x * y).sum();
    assert!((dot_f32(&a, &b) - r).abs() < 1e-3);
    assert_eq!(
      dot_i8(&i8s(5, 3), &i8s(9, 5)),
      dot_i8(&i8s(5, 3), &i8s(5, 5))
    );
  }

  #[test]
  fn i8_dot_does_not_overflow_at_the_extremes() {
    let a = vec![-128i8; 4096];
    let b = vec![-128i8; 4096];
    assert_eq!(dot_i8(&a, &b), 4096 * 16384);
    let c = vec![127i8; 4096];
    assert_eq!(dot_i8(&a, &c), -4096 * 128 * 127);
  }
}

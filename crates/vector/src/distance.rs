//! Distance kernels. Plain loops shaped for auto-vectorization, compiled twice: baseline and
//! AVX2+FMA (picked at run time on x86_64).

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

macro_rules! dispatch {
    ($name:ident, $generic:ident, $avx:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx($($arg: $ty),*) -> $ret {
            $generic($($arg),*)
        }

        #[inline]
        pub(crate) fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features the function was compiled for.
                    return unsafe { $avx($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

dispatch!(dot_f32, dot_f32_generic, dot_f32_avx2, (a: &[f32], b: &[f32]) -> f32);
dispatch!(l2sq_f32, l2sq_f32_generic, l2sq_f32_avx2, (a: &[f32], b: &[f32]) -> f32);
dispatch!(dot_f32_i8, dot_f32_i8_generic, dot_f32_i8_avx2, (a: &[f32], b: &[i8]) -> f32);
dispatch!(dot_i8, dot_i8_generic, dot_i8_avx2, (a: &[i8], b: &[i8]) -> i32);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
  use super::*;

  #[test]
  fn kernels_match_naive() {
    let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
    let qa: Vec<i8> = (0..37).map(|i| ((i * 7) % 255) as i8).collect();
    let qb: Vec<i8> = (0..37).map(|i| ((i * 13) % 251) as i8).collect();
    let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
    let naive_l2: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    let naive_fi: f32 = a.iter().zip(&qb).map(|(x, y)| x * *y as f32).sum();
    let naive_ii: i32 = qa.iter().zip(&qb).map(|(x, y)| *x as i32 * *y as i32).sum();
    assert!((dot_f32(&a, &b) - naive_dot).abs() < 1e-4);
    assert!((l2sq_f32(&a, &b) - naive_l2).abs() < 1e-4);
    assert!((dot_f32_i8(&a, &qb) - naive_fi).abs() < 1e-2);
    assert_eq!(dot_i8(&qa, &qb), naive_ii);
  }
}

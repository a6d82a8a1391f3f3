//! Backoff for retried model calls: exponential with jitter, honouring the provider's Retry-After.

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
  pub max_retries: u32,
  pub initial_delay: Duration,
  pub max_delay: Duration,
  /// A Retry-After longer than this is not waited for; the error is returned instead.
  pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
  fn default() -> Self {
    RetryPolicy {
      max_retries: 2,
      initial_delay: Duration::from_millis(500),
      max_delay: Duration::from_secs(20),
      max_retry_after: Duration::from_secs(60),
    }
  }
}

impl RetryPolicy {
  /// Delay before retry number `attempt` (0-based), or `None` when the provider asked for a
  /// wait longer than `max_retry_after`.
  pub fn delay(
    &self,
    attempt: u32,
    retry_after: Option<Duration>,
    unit_random: f64,
  ) -> Option<Duration> {
    if let Some(wait) = retry_after {
      return (wait <= self.max_retry_after).then_some(wait);
    }
    let exp = self
      .initial_delay
      .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX));
    let capped = exp.min(self.max_delay);
    // "Equal jitter": half fixed, half random, so concurrent clients spread out but still back off.
    let jitter = 0.5 + 0.5 * unit_random.clamp(0.0, 1.0);
    Some(capped.mul_f64(jitter))
  }
}

/// A uniform number in [0, 1) from the OS random source (via uuid's v4 generator).
pub fn unit_random() -> f64 {
  let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
  bits as f64 / (1u64 << 53) as f64
}

/// Calls `call` until it succeeds, fails with an error that is not retryable, or `policy` runs
/// out; waits between attempts as `policy` says (a provider's Retry-After first). Cancellation
/// ends the wait and the call in flight with `ModelError::Aborted`.
pub async fn with_retries<T, F, Fut>(
  policy: &RetryPolicy,
  cancel: &tokio_util::sync::CancellationToken,
  mut call: F,
) -> Result<T, crate::model::ModelError>
where
  F: FnMut() -> Fut,
  Fut: std::future::Future<Output = Result<T, crate::model::ModelError>>,
{
  use crate::model::ModelError;
  let mut attempt = 0;
  loop {
    let error = tokio::select! {
      biased;
      _ = cancel.cancelled() => return Err(ModelError::Aborted),
      r = call() => match r {
        Ok(value) => return Ok(value),
        Err(e) => e,
      },
    };
    if !error.is_retryable() || attempt >= policy.max_retries {
      return Err(error);
    }
    let retry_after = match &error {
      ModelError::Http { retry_after, .. } => *retry_after,
      _ => None,
    };
    let Some(wait) = policy.delay(attempt, retry_after, unit_random()) else {
      return Err(error);
    };
    tokio::select! {
      biased;
      _ = cancel.cancelled() => return Err(ModelError::Aborted),
      _ = tokio::time::sleep(wait) => {}
    }
    attempt += 1;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn exponential_with_jitter_and_retry_after() {
    let p = RetryPolicy::default();
    assert_eq!(p.delay(0, None, 1.0), Some(Duration::from_millis(500)));
    assert_eq!(p.delay(0, None, 0.0), Some(Duration::from_millis(250)));
    assert_eq!(p.delay(2, None, 1.0), Some(Duration::from_secs(2)));
    assert_eq!(p.delay(30, None, 1.0), Some(Duration::from_secs(20)));
    assert_eq!(
      p.delay(0, Some(Duration::from_secs(3)), 0.3),
      Some(Duration::from_secs(3))
    );
    assert_eq!(p.delay(0, Some(Duration::from_secs(600)), 0.3), None);
    let r = unit_random();
    assert!((0.0..1.0).contains(&r));
  }
}

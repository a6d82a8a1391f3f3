//! The `Embedder` trait: texts in, one vector per text out. Providers implement it natively
//! (OpenAI-compatible `/embeddings`); the binding bridges AI SDK embedding models.

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::model::ModelError;

/// Vectors for a batch of texts, in input order, plus the tokens the provider billed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embeddings {
  pub vectors: Vec<Vec<f32>>,
  pub tokens: u64,
}

pub trait Embedder: Send + Sync {
  fn provider(&self) -> &str;
  fn model_id(&self) -> &str;
  /// Largest number of texts one call may carry; callers split bigger batches.
  fn max_batch(&self) -> usize {
    2048
  }
  fn embed(
    &self,
    texts: Vec<String>,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<Embeddings, ModelError>>;
}

/// Embeds `count` texts in batches of `max_batch`, at most `max_parallel` batches in flight, and
/// joins the answers in input order. `embed_batch` gets the index range of one batch (a range,
/// not a borrowed slice, keeps the futures `Send`). The first failure ends the call and drops
/// the batches still running; mismatched counts or vector lengths are malformed answers.
pub async fn embed_in_batches<F, Fut>(
  provider: &str,
  count: usize,
  max_batch: usize,
  max_parallel: usize,
  embed_batch: F,
) -> Result<Embeddings, ModelError>
where
  F: Fn(std::ops::Range<usize>) -> Fut,
  Fut: std::future::Future<Output = Result<Embeddings, ModelError>>,
{
  use futures::StreamExt;

  if count == 0 {
    return Ok(Embeddings::default());
  }
  let size = max_batch.max(1);
  let batches = count.div_ceil(size);
  let mut done: Vec<Option<Embeddings>> = vec![None; batches];
  {
    let embed_batch = &embed_batch;
    let mut in_flight = futures::stream::iter(0..batches)
      .map(|i| async move { (i, embed_batch(i * size..((i + 1) * size).min(count)).await) })
      .buffer_unordered(max_parallel.max(1));
    while let Some((i, result)) = in_flight.next().await {
      done[i] = Some(result?);
    }
  }
  let mut out = Embeddings {
    vectors: Vec::with_capacity(count),
    tokens: 0,
  };
  for (i, batch) in done.into_iter().flatten().enumerate() {
    let expected = ((i + 1) * size).min(count) - i * size;
    if batch.vectors.len() != expected {
      return Err(ModelError::Malformed(format!(
        "{provider} returned {} vectors for {expected} texts",
        batch.vectors.len()
      )));
    }
    if let (Some(first), Some(next)) = (out.vectors.first(), batch.vectors.first())
      && first.len() != next.len()
    {
      return Err(ModelError::Malformed(format!(
        "{provider} returned vectors of different lengths ({} and {}) within one call",
        first.len(),
        next.len()
      )));
    }
    out.vectors.extend(batch.vectors);
    out.tokens += batch.tokens;
  }
  Ok(out)
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::Mutex;

  fn fake(range: std::ops::Range<usize>) -> Embeddings {
    Embeddings {
      vectors: range.map(|i| vec![i as f32, 1.0]).collect(),
      tokens: 1,
    }
  }

  #[tokio::test]
  async fn batches_in_order_and_sums_tokens() {
    let seen = Mutex::new(Vec::new());
    let out = embed_in_batches("p", 7, 3, 2, |r| {
      seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(r.clone());
      async move { Ok(fake(r)) }
    })
    .await;
    let out = out.unwrap_or_default();
    assert_eq!(out.vectors.len(), 7);
    assert_eq!(out.vectors[6], vec![6.0, 1.0]);
    assert_eq!(out.tokens, 3);
    let mut ranges = seen.into_inner().unwrap_or_default();
    ranges.sort_by_key(|r| r.start);
    assert_eq!(ranges, vec![0..3, 3..6, 6..7]);
  }

  #[tokio::test]
  async fn short_or_uneven_answers_are_malformed() {
    let short = embed_in_batches(
      "p",
      4,
      2,
      1,
      |r| async move { Ok(fake(r.start..r.end - 1)) },
    )
    .await;
    assert!(matches!(short, Err(ModelError::Malformed(_))));
    let uneven = embed_in_batches("p", 4, 2, 1, |r| async move {
      let mut e = fake(r.clone());
      if r.start > 0 {
        e.vectors = vec![vec![0.0; 3]; r.len()];
      }
      Ok(e)
    })
    .await;
    assert!(matches!(uneven, Err(ModelError::Malformed(_))));
  }
}

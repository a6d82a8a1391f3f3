//! OpenAI Embeddings (`POST {base}/embeddings`) and compatible servers, as a
//! `lumos_core::Embedder`.
//!
//! Vectors are asked for as base64 (little-endian float32: about a quarter of the bytes of the
//! JSON float form and no float parsing); a server that ignores `encoding_format` and answers
//! with number arrays is understood too, and one that rejects it is asked for floats from then
//! on. Inputs larger than one request are split into batches sent a few at a time, and each
//! batch is retried on 429/5xx (honouring `Retry-After`), since an embedding call has no agent
//! loop around it to do that.

use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use lumos_core::embed::{Embedder, Embeddings, embed_in_batches};
use lumos_core::model::ModelError;
use lumos_core::retry::{RetryPolicy, unit_random};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::ProviderConfig;
use crate::http::{Endpoint, excerpt, parse_json};
use crate::openai::{bearer_endpoint, reported_error};

/// Most inputs OpenAI accepts in one embeddings request.
pub const OPENAI_MAX_BATCH: usize = 2048;
/// Batches of one `embed` call in flight at once, by default.
pub const DEFAULT_MAX_PARALLEL: usize = 4;
/// Largest embeddings response accepted (2048 inputs × 3072 floats as JSON text is ~80 MB).
const EMBEDDINGS_BODY_CAP: usize = 256 * 1024 * 1024;

/// Tuning for an embedding model; every field falls back to a default.
#[derive(Clone, Debug, Default)]
pub struct EmbeddingOptions {
  /// Sent as `dimensions` (text-embedding-3 models can shorten their vectors); vectors of any
  /// other length are then rejected as malformed.
  pub dimensions: Option<u32>,
  /// Texts per request (default [`OPENAI_MAX_BATCH`]).
  pub max_batch: Option<usize>,
  /// Requests of one `embed` call in flight at once (default [`DEFAULT_MAX_PARALLEL`]).
  pub max_parallel: Option<usize>,
  /// Retries of one request on 429, 5xx and failed connections (default `RetryPolicy::default()`).
  pub retry: Option<RetryPolicy>,
  /// Ask for JSON number arrays instead of base64 (for servers that mishandle base64).
  pub float_encoding: bool,
}

/// An embedding model behind an OpenAI Embeddings endpoint.
pub struct OpenAiEmbeddingModel {
  endpoint: Endpoint,
  model_id: String,
  dimensions: Option<u32>,
  max_batch: usize,
  max_parallel: usize,
  retry: RetryPolicy,
  /// Cleared once the server rejects `encoding_format: "base64"`; floats are asked for after.
  base64: AtomicBool,
}

impl std::fmt::Debug for OpenAiEmbeddingModel {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("OpenAiEmbeddingModel")
      .field("provider", &self.endpoint.provider)
      .field("model_id", &self.model_id)
      .field("url", &self.endpoint.url)
      .field("dimensions", &self.dimensions)
      .field("max_batch", &self.max_batch)
      .field("max_parallel", &self.max_parallel)
      .finish()
  }
}

impl OpenAiEmbeddingModel {
  pub fn new(config: ProviderConfig) -> Result<Self, ModelError> {
    Self::with_options(config, &EmbeddingOptions::default())
  }

  pub fn with_options(
    config: ProviderConfig,
    options: &EmbeddingOptions,
  ) -> Result<Self, ModelError> {
    if options.dimensions == Some(0) {
      return Err(ModelError::Config(format!(
        "dimensions for embedding model '{}' must be at least 1",
        config.model_id
      )));
    }
    let endpoint = bearer_endpoint(&config, "embeddings")?;
    Ok(OpenAiEmbeddingModel {
      endpoint,
      model_id: config.model_id,
      dimensions: options.dimensions,
      max_batch: options.max_batch.unwrap_or(OPENAI_MAX_BATCH).max(1),
      max_parallel: options.max_parallel.unwrap_or(DEFAULT_MAX_PARALLEL).max(1),
      retry: options.retry.unwrap_or_default(),
      base64: AtomicBool::new(!options.float_encoding),
    })
  }

  /// The URL requests go to.
  pub fn url(&self) -> &str {
    &self.endpoint.url
  }

  /// The configured output dimensions, if any.
  pub fn dimensions(&self) -> Option<u32> {
    self.dimensions
  }

  /// The JSON body sent for one batch of `texts`.
  pub fn request_body(&self, texts: &[String]) -> Value {
    serde_json::to_value(self.wire_request(texts, self.base64.load(Ordering::Relaxed)))
      .unwrap_or(Value::Null)
  }

  fn wire_request<'a>(&'a self, texts: &'a [String], base64: bool) -> WireRequest<'a> {
    WireRequest {
      model: &self.model_id,
      input: texts,
      encoding_format: if base64 { "base64" } else { "float" },
      dimensions: self.dimensions,
    }
  }

  async fn embed_all(
    &self,
    texts: Vec<String>,
    cancel: CancellationToken,
  ) -> Result<Embeddings, ModelError> {
    if cancel.is_cancelled() {
      return Err(ModelError::Aborted);
    }
    let (texts, cancel) = (&texts, &cancel);
    embed_in_batches(
      &self.endpoint.provider,
      texts.len(),
      self.max_batch,
      self.max_parallel,
      |range| async move { self.embed_batch(&texts[range], cancel).await },
    )
    .await
  }

  /// One request, retried on 429/5xx/connection failures with backoff (Retry-After first).
  async fn embed_batch(
    &self,
    texts: &[String],
    cancel: &CancellationToken,
  ) -> Result<Embeddings, ModelError> {
    let mut attempt = 0u32;
    loop {
      let base64 = self.base64.load(Ordering::Relaxed);
      let error = match self.send(texts, cancel, base64).await {
        Ok(embeddings) => return Ok(embeddings),
        Err(e) => e,
      };
      match &error {
        ModelError::Http {
          status: 400 | 422,
          body,
          ..
        } if base64 && body.contains("encoding_format") => {
          // The server does not do base64: ask for floats (this and every later request).
          self.base64.store(false, Ordering::Relaxed);
          continue;
        }
        _ if error.is_retryable() && attempt < self.retry.max_retries => {
          let retry_after = match &error {
            ModelError::Http { retry_after, .. } => *retry_after,
            _ => None,
          };
          let Some(delay) = self.retry.delay(attempt, retry_after, unit_random()) else {
            return Err(error);
          };
          attempt += 1;
          tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(ModelError::Aborted),
            _ = tokio::time::sleep(delay) => {}
          }
        }
        _ => return Err(error),
      }
    }
  }

  async fn send(
    &self,
    texts: &[String],
    cancel: &CancellationToken,
    base64: bool,
  ) -> Result<Embeddings, ModelError> {
    let body = serde_json::to_vec(&self.wire_request(texts, base64))
      .map_err(|e| ModelError::Config(format!("could not encode the request: {e}")))?;
    let mut response = self.endpoint.post_json(body, cancel).await?;
    let bytes = self
      .endpoint
      .read_body(&mut response, cancel, EMBEDDINGS_BODY_CAP)
      .await?;
    parse_embeddings(
      &self.endpoint.provider,
      &String::from_utf8_lossy(&bytes),
      texts.len(),
      self.dimensions,
    )
  }
}

impl Embedder for OpenAiEmbeddingModel {
  fn provider(&self) -> &str {
    &self.endpoint.provider
  }

  fn model_id(&self) -> &str {
    &self.model_id
  }

  fn max_batch(&self) -> usize {
    self.max_batch
  }

  fn embed(
    &self,
    texts: Vec<String>,
    cancel: CancellationToken,
  ) -> BoxFuture<'_, Result<Embeddings, ModelError>> {
    Box::pin(self.embed_all(texts, cancel))
  }
}

// ---------------------------------------------------------------------------------------------
// Wire format

#[derive(Serialize)]
struct WireRequest<'a> {
  model: &'a str,
  input: &'a [String],
  encoding_format: &'static str,
  #[serde(skip_serializing_if = "Option::is_none")]
  dimensions: Option<u32>,
}

#[derive(Deserialize)]
struct WireResponse {
  data: Option<Vec<WireItem>>,
  usage: Option<WireUsage>,
  error: Option<Value>,
}

#[derive(Deserialize)]
struct WireItem {
  index: Option<usize>,
  embedding: Vector,
}

#[derive(Deserialize)]
struct WireUsage {
  prompt_tokens: Option<u64>,
  total_tokens: Option<u64>,
}

/// One embedding, given either as an array of numbers or as base64 of little-endian float32s;
/// decoded while the JSON is parsed.
struct Vector(Vec<f32>);

impl<'de> Deserialize<'de> for Vector {
  fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
    deserializer.deserialize_any(VectorVisitor)
  }
}

struct VectorVisitor;

impl<'de> Visitor<'de> for VectorVisitor {
  type Value = Vector;

  fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("an array of numbers or a base64 string of little-endian float32 values")
  }

  fn visit_str<E: de::Error>(self, s: &str) -> Result<Vector, E> {
    decode_base64_f32(s).map(Vector).map_err(E::custom)
  }

  fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vector, A::Error> {
    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
    while let Some(x) = seq.next_element::<f32>()? {
      out.push(x);
    }
    Ok(Vector(out))
  }
}

/// Decodes standard base64 (padding optional, whitespace not allowed) straight into
/// little-endian float32 values.
pub fn decode_base64_f32(s: &str) -> Result<Vec<f32>, String> {
  const INVALID: u8 = 0xff;
  const TABLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
      t[alphabet[i] as usize] = i as u8;
      i += 1;
    }
    t
  };
  let input = s.trim_end_matches('=').as_bytes();
  if s.len() - input.len() > 2 || input.len() % 4 == 1 {
    return Err(format!(
      "the base64 embedding has an invalid length ({} characters)",
      s.len()
    ));
  }
  let mut bytes = Vec::with_capacity(input.len() / 4 * 3 + 2);
  let mut quads = input.chunks_exact(4);
  let bad = |c: u8| {
    format!(
      "the base64 embedding contains an invalid character {:?}",
      c as char
    )
  };
  for quad in &mut quads {
    let mut n = 0u32;
    for &c in quad {
      let v = TABLE[c as usize];
      if v == INVALID {
        return Err(bad(c));
      }
      n = n << 6 | u32::from(v);
    }
    bytes.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
  }
  let rest = quads.remainder();
  if !rest.is_empty() {
    let mut n = 0u32;
    for &c in rest {
      let v = TABLE[c as usize];
      if v == INVALID {
        return Err(bad(c));
      }
      n = n << 6 | u32::from(v);
    }
    n <<= 6 * (4 - rest.len() as u32);
    bytes.push((n >> 16) as u8);
    if rest.len() == 3 {
      bytes.push((n >> 8) as u8);
    }
  }
  if bytes.len() % 4 != 0 {
    return Err(format!(
      "the base64 embedding decodes to {} bytes, not a whole number of float32 values",
      bytes.len()
    ));
  }
  Ok(
    bytes
      .chunks_exact(4)
      .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
      .collect(),
  )
}

/// Parses an embeddings response for `expected` inputs into vectors in input order.
fn parse_embeddings(
  provider: &str,
  text: &str,
  expected: usize,
  dimensions: Option<u32>,
) -> Result<Embeddings, ModelError> {
  let response: WireResponse = parse_json(provider, "an embeddings response", text)?;
  if let Some(error) = &response.error {
    return Err(reported_error(provider, error));
  }
  let Some(data) = response.data else {
    return Err(ModelError::Malformed(format!(
      "{provider} sent an embeddings response without data: {}",
      excerpt(text)
    )));
  };
  if data.len() != expected {
    return Err(ModelError::Malformed(format!(
      "{provider} returned {} embeddings for {expected} inputs",
      data.len()
    )));
  }
  let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
  for (position, item) in data.into_iter().enumerate() {
    let index = item.index.unwrap_or(position);
    match slots.get_mut(index) {
      Some(slot @ None) => *slot = Some(item.embedding.0),
      Some(Some(_)) => {
        return Err(ModelError::Malformed(format!(
          "{provider} returned two embeddings with index {index}"
        )));
      }
      None => {
        return Err(ModelError::Malformed(format!(
          "{provider} returned an embedding with index {index} for {expected} inputs"
        )));
      }
    }
  }
  let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
  let want = dimensions.map(|d| d as usize);
  let len = want.or_else(|| vectors.first().map(Vec::len)).unwrap_or(0);
  if let Some(v) = vectors.iter().find(|v| v.len() != len || v.is_empty()) {
    let asked = match want {
      Some(d) => format!("{d} dimensions were asked for"),
      None => format!("the first has {len}"),
    };
    return Err(ModelError::Malformed(format!(
      "{provider} returned an embedding of {} values ({asked})",
      v.len()
    )));
  }
  let tokens = response
    .usage
    .and_then(|u| u.prompt_tokens.or(u.total_tokens))
    .unwrap_or(0);
  Ok(Embeddings { vectors, tokens })
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;

  fn b64(values: &[f32]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
      let n = chunk
        .iter()
        .enumerate()
        .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
      for i in 0..=chunk.len() {
        out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
      }
      for _ in chunk.len()..3 {
        out.push('=');
      }
    }
    out
  }

  #[test]
  fn base64_round_trips_every_remainder() {
    for n in 0..7 {
      let values: Vec<f32> = (0..n).map(|i| i as f32 * -1.25 + 0.1).collect();
      let text = b64(&values);
      assert_eq!(decode_base64_f32(&text).unwrap(), values);
      assert_eq!(
        decode_base64_f32(text.trim_end_matches('=')).unwrap(),
        values
      );
    }
    assert_eq!(
      decode_base64_f32("AACAPw==").unwrap(),
      vec![1.0],
      "1.0f32 little-endian"
    );
  }

  #[test]
  fn base64_errors() {
    assert!(
      decode_base64_f32("AACAPw=").is_ok(),
      "short padding is accepted"
    );
    assert!(
      decode_base64_f32("AACA")
        .unwrap_err()
        .contains("whole number"),
      "3 bytes is not a float"
    );
    assert!(decode_base64_f32("AAC*Pw==").unwrap_err().contains("'*'"));
    assert!(decode_base64_f32("AACAP").unwrap_err().contains("length"));
    assert!(
      decode_base64_f32("AACAPw===")
        .unwrap_err()
        .contains("length")
    );
    assert!(decode_base64_f32("AAC Pw==").is_err());
  }

  #[test]
  fn parses_both_forms_in_index_order() {
    let text = format!(
      r#"{{"data":[{{"index":1,"embedding":"{}"}},{{"index":0,"embedding":[1,2.5]}}],"usage":{{"prompt_tokens":7}}}}"#,
      b64(&[3.0, 4.0])
    );
    let e = parse_embeddings("p", &text, 2, None).unwrap();
    assert_eq!(e.vectors, vec![vec![1.0, 2.5], vec![3.0, 4.0]]);
    assert_eq!(e.tokens, 7);
    // No index: array order; no usage: 0 tokens.
    let e = parse_embeddings(
      "p",
      r#"{"data":[{"embedding":[1]},{"embedding":[2]}]}"#,
      2,
      None,
    )
    .unwrap();
    assert_eq!((e.vectors, e.tokens), (vec![vec![1.0], vec![2.0]], 0));
  }

  #[test]
  fn rejects_inconsistent_responses() {
    let malformed =
      |text: &str, n: usize, dims: Option<u32>| match parse_embeddings("p", text, n, dims) {
        Err(ModelError::Malformed(m)) => m,
        other => panic!("expected Malformed, got {other:?}"),
      };
    let m = malformed(r#"{"data":[{"index":0,"embedding":[1]}]}"#, 2, None);
    assert!(m.contains("1 embeddings for 2 inputs"), "{m}");
    let m = malformed(
      r#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[1]}]}"#,
      2,
      None,
    );
    assert!(m.contains("two embeddings with index 0"), "{m}");
    let m = malformed(r#"{"data":[{"index":5,"embedding":[1]}]}"#, 1, None);
    assert!(m.contains("index 5"), "{m}");
    let m = malformed(
      r#"{"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1]}]}"#,
      2,
      None,
    );
    assert!(m.contains("1 values"), "{m}");
    let m = malformed(r#"{"data":[{"index":0,"embedding":[1,2]}]}"#, 1, Some(3));
    assert!(m.contains("3 dimensions were asked for"), "{m}");
    let m = malformed(r#"{"data":[{"embedding":"A*AA"}]}"#, 1, None);
    assert!(m.contains("invalid character"), "{m}");
    let m = malformed(r#"{"data":[{"embedding":[1,null]}]}"#, 1, None);
    assert!(m.contains("not valid JSON"), "{m}");
    let m = malformed(r#"{"object":"list"}"#, 1, None);
    assert!(m.contains("without data"), "{m}");
  }

  #[test]
  fn error_object_in_a_200_is_reported() {
    let e = parse_embeddings(
      "p",
      r#"{"error":{"message":"overloaded","code":503}}"#,
      1,
      None,
    )
    .unwrap_err();
    assert!(matches!(e, ModelError::Http { status: 503, .. }), "{e:?}");
  }
}

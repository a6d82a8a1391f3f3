use std::time::{Duration, Instant};

use lumos_core::embed::Embedder;
use lumos_core::model::ModelError;
use lumos_core::retry::RetryPolicy;
use lumos_providers::{
  EmbeddingOptions, ModelConfig, OpenAiEmbeddingModel, ProviderConfig, resolve_embedder,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::mock::*;

fn config(server: &MockServer) -> ProviderConfig {
  ProviderConfig::new("openai", "text-embedding-3-small", server.url()).with_api_key("k")
}

fn model(server: &MockServer, options: EmbeddingOptions) -> OpenAiEmbeddingModel {
  OpenAiEmbeddingModel::with_options(config(server), &options).unwrap()
}

fn fast_retry() -> EmbeddingOptions {
  EmbeddingOptions {
    retry: Some(RetryPolicy {
      max_retries: 2,
      initial_delay: Duration::from_millis(10),
      max_delay: Duration::from_millis(50),
      max_retry_after: Duration::from_secs(60),
    }),
    ..Default::default()
  }
}

fn texts(items: &[&str]) -> Vec<String> {
  items.iter().map(|s| s.to_string()).collect()
}

async fn embed_err(m: &dyn Embedder, input: Vec<String>) -> ModelError {
  match m.embed(input, CancellationToken::new()).await {
    Err(e) => e,
    Ok(e) => panic!("expected the call to fail, got {} vectors", e.vectors.len()),
  }
}

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

/// Answers `t<n>` inputs with `[n, 0.5]`, data in reverse order, base64 or floats as asked.
fn echo(request: &Recorded) -> Reply {
  let body = request.json();
  let base64 = body["encoding_format"] == "base64";
  let inputs = body["input"].as_array().unwrap();
  let data: Vec<Value> = inputs
    .iter()
    .enumerate()
    .rev()
    .map(|(i, text)| {
      let n: f32 = text.as_str().unwrap()[1..].parse().unwrap();
      let embedding = if base64 {
        json!(b64(&[n, 0.5]))
      } else {
        json!([n, 0.5])
      };
      json!({ "object": "embedding", "index": i, "embedding": embedding })
    })
    .collect();
  let reply = json!({
    "object": "list",
    "data": data,
    "model": "text-embedding-3-small",
    "usage": { "prompt_tokens": inputs.len(), "total_tokens": inputs.len() },
  });
  Reply::json(200, reply.to_string())
}

fn numbered(n: usize) -> Vec<String> {
  (0..n).map(|i| format!("t{i}")).collect()
}

fn assert_numbered(vectors: &[Vec<f32>], n: usize) {
  assert_eq!(vectors.len(), n);
  for (i, v) in vectors.iter().enumerate() {
    assert_eq!(v, &vec![i as f32, 0.5], "vector {i}");
  }
}

#[tokio::test]
async fn base64_fixture_decodes_to_a_unit_vector() {
  let server = MockServer::start(vec![Reply::json(
    200,
    fixture("openai-embedding-base64.json"),
  )])
  .await;
  let m = model(&server, EmbeddingOptions::default());
  assert_eq!(m.url(), format!("{}/embeddings", server.url()));
  let out = m
    .embed(texts(&["Hello, world!"]), CancellationToken::new())
    .await
    .unwrap();
  assert_eq!(out.tokens, 4);
  assert_eq!(out.vectors.len(), 1);
  let v = &out.vectors[0];
  assert_eq!(v.len(), 1536);
  assert!(v.iter().all(|x| x.is_finite() && x.abs() < 1.0));
  let norm = v
    .iter()
    .map(|x| f64::from(*x) * f64::from(*x))
    .sum::<f64>()
    .sqrt();
  assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
  // The first value, decoded by hand from the fixture's first 8 base64 characters "sDqdvHJA".
  assert_eq!(v[0], f32::from_le_bytes([0xb0, 0x3a, 0x9d, 0xbc]));

  let requests = server.requests();
  assert_eq!(requests.len(), 1);
  let r = &requests[0];
  assert_eq!(
    (r.method.as_str(), r.path.as_str()),
    ("POST", "/v1/embeddings")
  );
  assert_eq!(r.header("authorization"), Some("Bearer k"));
  assert_eq!(r.header("content-type"), Some("application/json"));
  // Exactly the body the fixture was recorded with.
  assert_eq!(
    r.json(),
    json!({"input":["Hello, world!"],"model":"text-embedding-3-small","encoding_format":"base64"})
  );
  assert_eq!(m.request_body(&texts(&["a"]))["input"], json!(["a"]));
}

#[tokio::test]
async fn float_fixture_and_dimensions() {
  let server = MockServer::start(vec![Reply::json(200, fixture("openai-embedding.json"))]).await;
  let m = model(
    &server,
    EmbeddingOptions {
      dimensions: Some(5),
      ..Default::default()
    },
  );
  let out = m
    .embed(
      texts(&["sunny day at the beach", "rainy day in the city"]),
      CancellationToken::new(),
    )
    .await
    .unwrap();
  let fixture = fixture_json("openai-embedding.json");
  let want: Vec<Vec<f32>> = fixture["data"]
    .as_array()
    .unwrap()
    .iter()
    .map(|d| {
      d["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
    })
    .collect();
  assert_eq!(out.vectors, want);
  assert_eq!(out.vectors[0][0], 0.0057293195);
  assert_eq!(out.tokens, 12);
  let body = server.requests()[0].json();
  assert_eq!(body["dimensions"], 5);
  assert_eq!(body["encoding_format"], "base64");
  assert_eq!(
    body["input"],
    json!(["sunny day at the beach", "rainy day in the city"])
  );
}

#[tokio::test]
async fn results_follow_data_index_not_array_order() {
  let reply = json!({
    "data": [
      { "index": 2, "embedding": b64(&[2.0, 0.5]) },
      { "index": 0, "embedding": [0.0, 0.5] },
      { "index": 1, "embedding": b64(&[1.0, 0.5]) },
    ],
    "usage": { "prompt_tokens": 3 },
  });
  let server = MockServer::start(vec![Reply::json(200, reply.to_string())]).await;
  let out = model(&server, EmbeddingOptions::default())
    .embed(numbered(3), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 3);
  assert_eq!(out.tokens, 3);
}

#[tokio::test]
async fn large_inputs_are_batched_in_parallel_and_stitched_in_order() {
  // The first batch answers last, so the results arrive out of order.
  let server = MockServer::start_with(|r| {
    let stall = if r.json()["input"][0] == "t0" {
      300
    } else {
      50
    };
    echo(r).stall_before_body(Duration::from_millis(stall))
  })
  .await;
  let m = model(&server, EmbeddingOptions::default());
  assert_eq!(m.max_batch(), 2048);
  let out = m
    .embed(numbered(5000), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 5000);
  assert_eq!(out.tokens, 5000);
  let mut sizes: Vec<(String, usize)> = server
    .requests()
    .iter()
    .map(|r| {
      let body = r.json();
      let input = body["input"].as_array().unwrap().clone();
      (input[0].as_str().unwrap().to_string(), input.len())
    })
    .collect();
  sizes.sort_by_key(|(first, _)| first[1..].parse::<usize>().unwrap());
  assert_eq!(
    sizes,
    vec![
      ("t0".to_string(), 2048),
      ("t2048".to_string(), 2048),
      ("t4096".to_string(), 904)
    ]
  );
  // All three were in flight together (one connection each).
  assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn parallelism_is_bounded() {
  let server =
    MockServer::start_with(|r| echo(r).stall_before_body(Duration::from_millis(40))).await;
  let m = model(
    &server,
    EmbeddingOptions {
      max_batch: Some(3),
      max_parallel: Some(2),
      ..Default::default()
    },
  );
  let out = m
    .embed(numbered(20), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 20);
  assert_eq!(server.requests().len(), 7);
  assert!(
    server.connections() <= 2,
    "{} connections",
    server.connections()
  );
}

#[tokio::test]
async fn retries_429_honouring_retry_after_then_succeeds() {
  let server = MockServer::start(vec![
    Reply::json(
      429,
      r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
    )
    .header("retry-after-ms", "150"),
    Reply::json(503, r#"{"error":"busy"}"#),
    Reply::json(200, fixture("openai-embedding-base64.json")),
  ])
  .await;
  let m = model(&server, fast_retry());
  let started = Instant::now();
  let out = m
    .embed(texts(&["Hello, world!"]), CancellationToken::new())
    .await
    .unwrap();
  assert!(started.elapsed() >= Duration::from_millis(150));
  assert_eq!(out.vectors[0].len(), 1536);
  let requests = server.requests();
  assert_eq!(requests.len(), 3);
  assert!(requests.iter().all(|r| r.json() == requests[0].json()));
}

#[tokio::test]
async fn retries_give_up_after_the_policy_and_on_long_retry_after() {
  let server = MockServer::start(vec![
    Reply::json(500, "e1"),
    Reply::json(500, "e2"),
    Reply::json(502, "e3"),
  ])
  .await;
  let e = embed_err(&model(&server, fast_retry()), texts(&["x"])).await;
  assert_eq!(
    e,
    ModelError::Http {
      provider: "openai".into(),
      status: 502,
      body: "e3".into(),
      retry_after: None
    }
  );
  assert_eq!(server.requests().len(), 3);

  let server = MockServer::start(vec![
    Reply::json(429, "quota").header("retry-after", "3600"),
  ])
  .await;
  let e = embed_err(&model(&server, fast_retry()), texts(&["x"])).await;
  assert!(
    matches!(e, ModelError::Http { status: 429, retry_after: Some(d), .. } if d.as_secs() == 3600),
    "{e:?}"
  );
  assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn status_400_is_not_retried() {
  let body = r#"{"error":{"message":"'$.input' is invalid.","type":"invalid_request_error","param":null,"code":null}}"#;
  let server = MockServer::start(vec![Reply::json(400, body)]).await;
  let e = embed_err(&model(&server, fast_retry()), texts(&[""])).await;
  assert_eq!(
    e,
    ModelError::Http {
      provider: "openai".into(),
      status: 400,
      body: body.into(),
      retry_after: None
    }
  );
  assert!(!e.is_retryable());
  assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_server_rejecting_base64_is_asked_for_floats() {
  let server = MockServer::start_with(|r| {
    if r.json()["encoding_format"] == "base64" {
      Reply::json(
        400,
        r#"{"error":{"message":"unsupported encoding_format: base64"}}"#,
      )
    } else {
      echo(r)
    }
  })
  .await;
  let m = model(&server, EmbeddingOptions::default());
  let out = m
    .embed(numbered(2), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 2);
  let out = m
    .embed(numbered(3), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 3);
  let formats: Vec<Value> = server
    .requests()
    .iter()
    .map(|r| r.json()["encoding_format"].clone())
    .collect();
  assert_eq!(
    formats,
    vec![json!("base64"), json!("float"), json!("float")]
  );

  let server = MockServer::start_with(echo).await;
  let floats = EmbeddingOptions {
    float_encoding: true,
    ..Default::default()
  };
  let out = model(&server, floats)
    .embed(numbered(1), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 1);
  assert_eq!(server.requests()[0].json()["encoding_format"], "float");
}

#[tokio::test]
async fn malformed_bodies_are_reported_not_retried() {
  let server = MockServer::start(vec![
    Reply::json(200, "<html>gateway</html>"),
    Reply::json(200, r#"{"data":[{"index":0,"embedding":[1,2]}]}"#),
    Reply::json(200, r#"{"data":[{"index":0,"embedding":"not base64!"}]}"#),
    Reply::json(200, fixture("openai-embedding-base64.json")).cut_after(100),
  ])
  .await;
  let m = model(&server, fast_retry());
  let e = embed_err(&m, texts(&["x"])).await;
  assert!(
    matches!(&e, ModelError::Malformed(msg) if msg.contains("not valid JSON") && msg.contains("<html>")),
    "{e:?}"
  );
  let e = embed_err(&m, texts(&["x", "y"])).await;
  assert!(
    matches!(&e, ModelError::Malformed(msg) if msg.contains("1 embeddings for 2 inputs")),
    "{e:?}"
  );
  let e = embed_err(&m, texts(&["x"])).await;
  assert!(
    matches!(&e, ModelError::Malformed(msg) if msg.contains("invalid character")),
    "{e:?}"
  );
  let e = embed_err(&m, texts(&["x"])).await;
  assert!(matches!(&e, ModelError::Truncated(_)), "{e:?}");
  assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_failed_batch_fails_the_call() {
  let server = MockServer::start_with(|r| {
    if r.json()["input"][0] == "t4" {
      Reply::json(400, "bad batch")
    } else {
      echo(r)
    }
  })
  .await;
  let m = model(
    &server,
    EmbeddingOptions {
      max_batch: Some(2),
      ..Default::default()
    },
  );
  let e = embed_err(&m, numbered(10)).await;
  assert!(matches!(e, ModelError::Http { status: 400, .. }), "{e:?}");
}

#[tokio::test]
async fn cancellation_stops_waiting_requests_and_backoff() {
  // Pre-cancelled: nothing is sent.
  let server = MockServer::start(vec![]).await;
  let cancel = CancellationToken::new();
  cancel.cancel();
  let m = model(&server, fast_retry());
  assert_eq!(
    m.embed(numbered(1), cancel).await.unwrap_err(),
    ModelError::Aborted
  );
  assert_eq!(server.requests().len(), 0);

  // A server that never answers.
  let server = MockServer::start(vec![
    Reply::json(200, "{}").no_answer(Duration::from_secs(10)),
  ])
  .await;
  let m = model(&server, fast_retry());
  let cancel = CancellationToken::new();
  let c2 = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(100)).await;
    c2.cancel();
  });
  let started = Instant::now();
  assert_eq!(
    m.embed(numbered(1), cancel).await.unwrap_err(),
    ModelError::Aborted
  );
  assert!(started.elapsed() < Duration::from_secs(2));

  // Waiting out a 30 s Retry-After.
  let server = MockServer::start(vec![Reply::json(429, "later").header("retry-after", "30")]).await;
  let m = model(&server, fast_retry());
  let cancel = CancellationToken::new();
  let c2 = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(150)).await;
    c2.cancel();
  });
  let started = Instant::now();
  assert_eq!(
    m.embed(numbered(1), cancel).await.unwrap_err(),
    ModelError::Aborted
  );
  assert!(started.elapsed() < Duration::from_secs(2));
  assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_stalled_body_times_out() {
  let server = MockServer::start(vec![
    Reply::json(200, fixture("openai-embedding-base64.json"))
      .stall_before_body(Duration::from_secs(3)),
  ])
  .await;
  let mut cfg = config(&server);
  cfg.read_timeout = Duration::from_millis(200);
  let m = OpenAiEmbeddingModel::new(cfg).unwrap();
  let e = embed_err(&m, texts(&["x"])).await;
  assert!(
    matches!(&e, ModelError::Timeout(msg) if msg.contains("openai")),
    "{e:?}"
  );
}

#[tokio::test]
async fn empty_input_sends_nothing() {
  let server = MockServer::start(vec![]).await;
  let out = model(&server, EmbeddingOptions::default())
    .embed(Vec::new(), CancellationToken::new())
    .await
    .unwrap();
  assert_eq!((out.vectors.len(), out.tokens), (0, 0));
  assert_eq!(server.requests().len(), 0);
}

#[tokio::test]
async fn router_embedder_talks_to_the_server() {
  let server = MockServer::start_with(echo).await;
  let cfg = ModelConfig {
    id: "local/nomic-embed-text".into(),
    url: Some(server.url()),
    ..Default::default()
  };
  let e = resolve_embedder(&cfg, &|_| None).unwrap();
  let out = e
    .embed(numbered(4), CancellationToken::new())
    .await
    .unwrap();
  assert_numbered(&out.vectors, 4);
  let r = &server.requests()[0];
  assert_eq!(r.json()["model"], "nomic-embed-text");
  assert_eq!(r.header("authorization"), None);
}

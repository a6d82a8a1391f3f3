use std::time::{Duration, Instant};

use futures::StreamExt;
use lumos_core::message::Message;
use lumos_core::model::{Model, ModelError, ModelEvent, ModelStream};
use lumos_providers::{AnthropicModel, OpenAiCompatibleModel, ProviderConfig};
use tokio_util::sync::CancellationToken;

use crate::mock::*;

fn openai(server: &MockServer) -> OpenAiCompatibleModel {
  OpenAiCompatibleModel::new(
    ProviderConfig::new("openai", "gpt-4o", server.url()).with_api_key("k"),
  )
  .unwrap()
}

fn anthropic(server: &MockServer) -> AnthropicModel {
  AnthropicModel::new(ProviderConfig::new("anthropic", "claude", server.url()).with_api_key("k"))
    .unwrap()
}

async fn call_err(m: &dyn Model, stream: bool) -> ModelError {
  match m
    .call(
      request(vec![Message::user_text("x")], stream),
      CancellationToken::new(),
    )
    .await
  {
    Err(e) => e,
    Ok(_) => panic!("expected the call to fail"),
  }
}

async fn stream_err(m: &dyn Model, stream: bool) -> (Vec<ModelEvent>, ModelError) {
  let s = m
    .call(
      request(vec![Message::user_text("x")], stream),
      CancellationToken::new(),
    )
    .await
    .unwrap();
  match drain(s).await {
    (events, Some(e)) => (events, e),
    (events, None) => panic!("expected the stream to fail, got {events:?}"),
  }
}

#[tokio::test]
async fn status_500_is_a_retryable_http_error() {
  let server = MockServer::start(vec![Reply::json(500, r#"{"error":{"message":"boom"}}"#)]).await;
  let e = call_err(&openai(&server), true).await;
  assert!(e.is_retryable());
  assert_eq!(
    e,
    ModelError::Http {
      provider: "openai".into(),
      status: 500,
      body: r#"{"error":{"message":"boom"}}"#.into(),
      retry_after: None
    }
  );
  assert_eq!(
    e.to_string(),
    r#"openai answered HTTP 500: {"error":{"message":"boom"}}"#
  );
}

#[tokio::test]
async fn status_429_retry_after_forms() {
  let in_3s = {
    // An HTTP date a few seconds ahead, formatted by hand (IMF-fixdate).
    let secs = std::time::SystemTime::now()
      .duration_since(std::time::UNIX_EPOCH)
      .unwrap()
      .as_secs()
      + 30;
    http_date(secs)
  };
  let server = MockServer::start(vec![
    Reply::json(429, "{}").header("retry-after", "3"),
    Reply::json(429, "{}").header("retry-after-ms", "250"),
    Reply::json(429, "{}").header("retry-after", &in_3s),
    Reply::json(429, "{}"),
  ])
  .await;
  let m = openai(&server);
  let retry = |e: ModelError| match e {
    ModelError::Http {
      status: 429,
      retry_after,
      ..
    } => retry_after,
    other => panic!("expected HTTP 429, got {other:?}"),
  };
  assert_eq!(
    retry(call_err(&m, false).await),
    Some(Duration::from_secs(3))
  );
  assert_eq!(
    retry(call_err(&m, false).await),
    Some(Duration::from_millis(250))
  );
  let from_date = retry(call_err(&m, false).await).unwrap();
  assert!(
    from_date > Duration::from_secs(25) && from_date <= Duration::from_secs(30),
    "{from_date:?}"
  );
  assert_eq!(retry(call_err(&m, false).await), None);
}

fn http_date(unix: u64) -> String {
  const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
  const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
  ];
  let days = (unix / 86_400) as i64;
  let rem = unix % 86_400;
  // civil_from_days (H. Hinnant)
  let z = days + 719_468;
  let era = z.div_euclid(146_097);
  let doe = z - era * 146_097;
  let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
  let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  let mp = (5 * doy + 2) / 153;
  let d = doy - (153 * mp + 2) / 5 + 1;
  let m = if mp < 10 { mp + 3 } else { mp - 9 };
  let y = yoe + era * 400 + i64::from(m <= 2);
  format!(
    "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
    DAYS[(days % 7) as usize],
    MONTHS[(m - 1) as usize],
    rem / 3600,
    rem / 60 % 60,
    rem % 60
  )
}

#[tokio::test]
async fn reasoning_model_400_body_is_kept() {
  let body = fixture("reasoning-model-legacy-parameter-error.json");
  let server = MockServer::start(vec![Reply::json(400, body.clone())]).await;
  let e = call_err(&openai(&server), false).await;
  assert!(!e.is_retryable());
  match e {
    ModelError::Http {
      status: 400,
      body: got,
      ..
    } => {
      assert_eq!(got, body);
      assert!(got.contains("Use 'max_completion_tokens' instead."));
    }
    other => panic!("{other:?}"),
  }
}

#[tokio::test]
async fn long_error_bodies_are_capped() {
  let server = MockServer::start(vec![Reply::json(502, "é".repeat(20_000)).pieces(&[1000])]).await;
  match call_err(&openai(&server), false).await {
    ModelError::Http {
      status: 502, body, ..
    } => {
      assert!(body.len() <= 8192 && body.len() > 8000, "{}", body.len());
      assert!(body.chars().all(|c| c == 'é'));
    }
    other => panic!("{other:?}"),
  }
}

#[tokio::test]
async fn openai_stream_cut_mid_event_is_truncated() {
  let sse = fixture("openai-chat-parallel-tool-calls.sse");
  let cut = sse.len() / 2 + 17;
  for framing in [Framing::Chunked, Framing::Close] {
    let server = MockServer::start(vec![
      Reply::sse(sse.clone())
        .framing(framing)
        .cut_after(cut)
        .pieces(&[100]),
    ])
    .await;
    let (events, e) = stream_err(&openai(&server), true).await;
    assert!(
      matches!(&e, ModelError::Truncated(m) if m.starts_with("openai ") && m.contains("ended early")),
      "{framing:?}: {e:?}"
    );
    assert!(matches!(events[0], ModelEvent::Metadata { .. }));
    assert!(tool_calls(&events).len() <= 1);
    assert!(
      !events
        .iter()
        .any(|e| matches!(e, ModelEvent::Finish { .. }))
    );
  }
}

#[tokio::test]
async fn openai_stream_cut_on_an_event_boundary_is_truncated() {
  let sse = fixture("openai-text.chunks.txt");
  let body = openai_sse_from_lines(&sse);
  // Everything up to (not including) the finish_reason chunk.
  let cut = body.find(r#""finish_reason":"stop""#).unwrap();
  let cut = body[..cut].rfind("data: ").unwrap();
  let server = MockServer::start(vec![
    Reply::sse(body).framing(Framing::Close).cut_after(cut),
  ])
  .await;
  let (events, e) = stream_err(&openai(&server), true).await;
  assert!(
    matches!(&e, ModelError::Truncated(m) if m.contains("ended early")),
    "{e:?}"
  );
  let mut want = String::new();
  for line in sse.lines() {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    want.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
  }
  assert_eq!(
    text_of(&events),
    want,
    "every text delta before the cut is delivered"
  );
}

#[tokio::test]
async fn anthropic_stream_without_message_stop_is_truncated() {
  let sse = fixture("anthropic-tool-use.sse");
  let cut = sse.find("event: message_stop").unwrap();
  for framing in [Framing::Chunked, Framing::Close] {
    let server = MockServer::start(vec![
      Reply::sse(sse.clone()).framing(framing).cut_after(cut),
    ])
    .await;
    let (events, e) = stream_err(&anthropic(&server), true).await;
    assert!(
      matches!(&e, ModelError::Truncated(m) if m.starts_with("anthropic ") && m.contains("ended early")),
      "{e:?}"
    );
    // The tool call was complete (content_block_stop came), so it was already delivered.
    assert_eq!(tool_calls(&events).len(), 1);
  }
  // Cut in the middle of a JSON payload, with the connection closed cleanly.
  let cut = sse.find("partial_json").unwrap();
  let server = MockServer::start(vec![
    Reply::sse(sse.clone())
      .framing(Framing::Close)
      .cut_after(cut),
  ])
  .await;
  let (_, e) = stream_err(&anthropic(&server), true).await;
  assert!(
    matches!(&e, ModelError::Truncated(m) if m.contains("ended early")),
    "{e:?}"
  );
}

#[tokio::test]
async fn non_streaming_body_cut_is_truncated() {
  let body = fixture("openai-text.json");
  let server = MockServer::start(vec![
    Reply::json(200, body.clone()).cut_after(body.len() / 2),
  ])
  .await;
  let (_, e) = stream_err(&openai(&server), false).await;
  assert!(
    matches!(&e, ModelError::Truncated(m) if m.contains("ended early")),
    "{e:?}"
  );
}

#[tokio::test]
async fn malformed_data_line() {
  let sse = "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"id\": nope}\n\ndata: [DONE]\n\n";
  let server = MockServer::start(vec![Reply::sse(sse)]).await;
  let (events, e) = stream_err(&openai(&server), true).await;
  assert_eq!(text_of(&events), "hi");
  match e {
    ModelError::Malformed(m) => assert!(
      m.contains("not valid JSON") && m.contains("{\"id\": nope}"),
      "{m}"
    ),
    other => panic!("{other:?}"),
  }
  let server = MockServer::start(vec![Reply::sse(
    "event: message_start\ndata: {\"type\":\"message_start\"\n\n",
  )])
  .await;
  let (_, e) = stream_err(&anthropic(&server), true).await;
  assert!(matches!(e, ModelError::Malformed(_)), "{e:?}");
}

#[tokio::test]
async fn oversized_stream_event_is_rejected_not_buffered() {
  // One `data:` line of 17 MiB with no end: the client must give up, not grow without bound.
  let mut sse = String::from("data: {\"x\":\"");
  sse.push_str(&"a".repeat(17 * 1024 * 1024));
  let server = MockServer::start(vec![Reply::sse(sse).pieces(&[1 << 20])]).await;
  let (events, e) = stream_err(&openai(&server), true).await;
  assert!(events.is_empty());
  match e {
    ModelError::Malformed(m) => assert!(m.contains("larger than 16 MiB"), "{m}"),
    other => panic!("{other:?}"),
  }
}

#[tokio::test]
async fn malformed_json_body() {
  let server = MockServer::start(vec![
    Reply::json(200, "<html>gateway says hi</html>"),
    Reply::json(200, r#"{"object":"list","data":[]}"#),
    Reply::json(200, "not json either"),
  ])
  .await;
  let (_, e) = stream_err(&openai(&server), false).await;
  assert!(
    matches!(&e, ModelError::Malformed(m) if m.contains("<html>gateway says hi</html>")),
    "{e:?}"
  );
  let (_, e) = stream_err(&openai(&server), false).await;
  assert!(
    matches!(&e, ModelError::Malformed(m) if m.contains("without choices")),
    "{e:?}"
  );
  let (_, e) = stream_err(&anthropic(&server), false).await;
  assert!(
    matches!(&e, ModelError::Malformed(m) if m.contains("not json either")),
    "{e:?}"
  );
}

#[tokio::test]
async fn anthropic_error_event_mid_stream() {
  let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n\
             event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
  let server = MockServer::start(vec![Reply::sse(sse)]).await;
  let (events, e) = stream_err(&anthropic(&server), true).await;
  assert_eq!(events.len(), 1);
  match e {
    ModelError::Http {
      status: 529, body, ..
    } => assert!(body.contains("Overloaded")),
    other => panic!("{other:?}"),
  }
}

async fn next_within(
  stream: &mut ModelStream,
  limit: Duration,
) -> Option<Result<ModelEvent, ModelError>> {
  tokio::time::timeout(limit, stream.next())
    .await
    .expect("the stream should answer promptly")
}

async fn assert_cancel_aborts(model: &dyn Model) {
  let cancel = CancellationToken::new();
  let mut stream = model
    .call(request(vec![Message::user_text("x")], true), cancel.clone())
    .await
    .unwrap();
  assert!(matches!(
    next_within(&mut stream, Duration::from_secs(5)).await,
    Some(Ok(ModelEvent::Metadata { .. }))
  ));
  let canceller = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(50)).await;
    canceller.cancel();
  });
  let started = Instant::now();
  loop {
    match next_within(&mut stream, Duration::from_secs(2)).await {
      Some(Ok(_)) => continue,
      Some(Err(ModelError::Aborted)) => break,
      other => panic!("expected Aborted, got {other:?}"),
    }
  }
  assert!(
    started.elapsed() < Duration::from_secs(1),
    "{:?}",
    started.elapsed()
  );
  assert!(
    next_within(&mut stream, Duration::from_secs(1))
      .await
      .is_none()
  );
}

#[tokio::test]
async fn cancel_mid_stream_aborts_promptly() {
  // The server sends the first events, then goes quiet with the connection open.
  let sse = fixture("openai-chat-parallel-tool-calls.sse");
  let first_two = sse.match_indices("\n\n").nth(1).unwrap().0 + 2;
  let server = MockServer::start(vec![
    Reply::sse(sse)
      .cut_after(first_two)
      .hang(Duration::from_secs(30)),
  ])
  .await;
  assert_cancel_aborts(&openai(&server)).await;

  let sse = fixture("anthropic-tool-use.sse");
  let server = MockServer::start(vec![
    Reply::sse(sse).cut_after(700).hang(Duration::from_secs(30)),
  ])
  .await;
  assert_cancel_aborts(&anthropic(&server)).await;
}

#[tokio::test]
async fn cancel_while_waiting_for_headers() {
  let server = MockServer::start(vec![
    Reply::json(200, "{}").no_answer(Duration::from_secs(30)),
  ])
  .await;
  let m = openai(&server);
  let cancel = CancellationToken::new();
  let c2 = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(100)).await;
    c2.cancel();
  });
  let started = Instant::now();
  let r = m
    .call(request(vec![Message::user_text("x")], true), cancel)
    .await;
  assert!(matches!(r, Err(ModelError::Aborted)));
  assert!(started.elapsed() < Duration::from_secs(2));
  // Already cancelled: nothing is sent.
  let cancel = CancellationToken::new();
  cancel.cancel();
  assert!(matches!(
    m.call(request(vec![], false), cancel).await,
    Err(ModelError::Aborted)
  ));
}

#[tokio::test]
async fn cancel_while_reading_a_json_body() {
  let body = fixture("openai-text.json");
  let server = MockServer::start(vec![
    Reply::json(200, body)
      .cut_after(100)
      .hang(Duration::from_secs(30)),
  ])
  .await;
  let m = openai(&server);
  let cancel = CancellationToken::new();
  let mut stream = m
    .call(
      request(vec![Message::user_text("x")], false),
      cancel.clone(),
    )
    .await
    .unwrap();
  let c2 = cancel.clone();
  tokio::spawn(async move {
    tokio::time::sleep(Duration::from_millis(50)).await;
    c2.cancel();
  });
  assert!(matches!(
    next_within(&mut stream, Duration::from_secs(1)).await,
    Some(Err(ModelError::Aborted))
  ));
  assert!(
    next_within(&mut stream, Duration::from_secs(1))
      .await
      .is_none()
  );
}

#[tokio::test]
async fn idle_stream_times_out() {
  let sse = fixture("openai-chat-parallel-tool-calls.sse");
  let server = MockServer::start(vec![
    Reply::sse(sse).cut_after(400).hang(Duration::from_secs(30)),
    Reply::json(200, "{}").no_answer(Duration::from_secs(30)),
  ])
  .await;
  let m = OpenAiCompatibleModel::new(ProviderConfig {
    read_timeout: Duration::from_millis(300),
    ..ProviderConfig::new("groq", "llama", server.url()).with_api_key("k")
  })
  .unwrap();
  let started = Instant::now();
  let (_, e) = stream_err(&m, true).await;
  assert!(started.elapsed() < Duration::from_secs(5));
  assert_eq!(
    e,
    ModelError::Timeout(
      "no response from groq within 0.3s; raise the timeout or check the server".into()
    )
  );
  // No headers at all within the read timeout.
  let e = call_err(&m, true).await;
  assert!(
    matches!(&e, ModelError::Timeout(msg) if msg.contains("no response from groq")),
    "{e:?}"
  );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
  let port = {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
  };
  let m = OpenAiCompatibleModel::new(ProviderConfig::new(
    "ollama",
    "llama3",
    format!("http://127.0.0.1:{port}/v1"),
  ))
  .unwrap();
  let e = call_err(&m, true).await;
  assert!(e.is_retryable());
  assert!(
    matches!(&e, ModelError::Connect(msg) if msg.contains("could not connect to ollama at http://127.0.0.1")),
    "{e:?}"
  );
}

#[tokio::test]
async fn body_stall_after_headers_times_out() {
  let server = MockServer::start(vec![
    Reply::json(200, fixture("openai-text.json")).stall_before_body(Duration::from_secs(5)),
  ])
  .await;
  let m = OpenAiCompatibleModel::new(ProviderConfig {
    read_timeout: Duration::from_millis(300),
    ..ProviderConfig::new("openai", "gpt", server.url()).with_api_key("k")
  })
  .unwrap();
  let (_, e) = stream_err(&m, false).await;
  assert!(
    matches!(&e, ModelError::Timeout(msg) if msg.contains("within 0.3s")),
    "{e:?}"
  );
}

#[tokio::test]
async fn events_arrive_while_the_body_is_still_streaming() {
  let sse = fixture("openai-chat-structured-output.sse");
  let pieces = sse.len() / 250 + 1;
  let server = MockServer::start(vec![
    Reply::sse(sse)
      .pieces(&[250])
      .pause(Duration::from_millis(50)),
  ])
  .await;
  let m = openai(&server);
  let started = Instant::now();
  let mut stream = m
    .call(
      request(vec![Message::user_text("x")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap();
  let mut first_text = None;
  while let Some(item) = stream.next().await {
    if matches!(item.unwrap(), ModelEvent::TextDelta(_)) && first_text.is_none() {
      first_text = Some(started.elapsed());
    }
  }
  let total = started.elapsed();
  assert!(total >= Duration::from_millis(50 * (pieces as u64 - 1)));
  assert!(
    first_text.unwrap() < total / 2,
    "first text at {first_text:?}, end at {total:?}"
  );
}

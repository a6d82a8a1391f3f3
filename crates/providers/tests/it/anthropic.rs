use lumos_core::message::{Message, Part, ToolOutput};
use lumos_core::model::{
  FinishReason, Model, ModelError, ModelEvent, ResponseFormat, ToolChoice, ToolSpec, Usage,
};
use lumos_providers::{AnthropicModel, ProviderConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::mock::*;

fn model(server: &MockServer, model_id: &str) -> AnthropicModel {
  AnthropicModel::new(
    ProviderConfig::new("anthropic", model_id, server.url()).with_api_key("ak-test"),
  )
  .unwrap()
}

fn exchanges(name: &str) -> Vec<Value> {
  fixture_json(name).as_array().unwrap().clone()
}

/// A recorded exchange's response as a mock reply (SSE bodies are strings, JSON bodies objects).
fn reply_of(exchange: &Value) -> Reply {
  let response = &exchange["response"];
  let status = response["status_code"].as_u64().unwrap() as u16;
  let mut reply = match &response["body"] {
    Value::String(sse) => Reply::sse(sse.clone()),
    json_body => Reply::json(status, json_body.to_string()),
  };
  reply.status = status;
  reply
}

fn strip_caller(v: &mut Value) {
  match v {
    Value::Object(map) => {
      map.remove("caller");
      map.values_mut().for_each(strip_caller);
    }
    Value::Array(items) => items.iter_mut().for_each(strip_caller),
    _ => {}
  }
}

fn weather_tool(recorded_body: &Value) -> ToolSpec {
  let tool = &recorded_body["tools"][0];
  ToolSpec {
    name: tool["name"].as_str().unwrap().into(),
    description: tool["description"].as_str().unwrap().into(),
    parameters: tool["input_schema"].clone(),
  }
}

#[tokio::test]
async fn text_json() {
  let server = MockServer::start(vec![Reply::json(200, fixture("anthropic-text.json"))]).await;
  let m = model(&server, "claude-sonnet-4-5");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("hi")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(
    events[0],
    ModelEvent::Metadata {
      id: Some("msg_01VdEjxAP5ahtHKrrRdNBteQ".into()),
      model_id: Some("claude-sonnet-4-5-20250929".into())
    }
  );
  assert_eq!(
    text_of(&events),
    "Hello! I'm doing well, thanks for asking. How are you doing today? Is there anything I can help you with?"
  );
  assert_eq!(finish(&events), (FinishReason::Stop, usage(12, 29, 41)));

  let req = &server.requests()[0];
  assert_eq!(req.path, "/v1/messages");
  assert_eq!(req.header("x-api-key"), Some("ak-test"));
  assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
  assert_eq!(req.header("authorization"), None);
  let body = req.json();
  assert_eq!(
    body,
    json!({ "model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [{ "role": "user", "content": "hi" }] })
  );
}

#[tokio::test]
async fn text_stream_from_chunks() {
  let body = anthropic_sse_from_lines(&fixture("anthropic-text.chunks.txt"));
  let server = MockServer::start(vec![Reply::sse(body).pieces(&[5, 1, 33])]).await;
  let m = model(&server, "claude-sonnet-4-5");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("hi")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert!(
    matches!(&events[0], ModelEvent::Metadata { id: Some(id), .. } if id == "msg_01QC4g3HwBThD4BaNtBckFDJ")
  );
  assert_eq!(
    text_of(&events),
    "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"
  );
  assert_eq!(finish(&events), (FinishReason::Stop, usage(12, 30, 42)));
  assert_eq!(server.requests()[0].json()["stream"], true);
}

#[tokio::test]
async fn tool_use_stream() {
  // The recording has no trailing newline after the final `data:` line.
  let server = MockServer::start(vec![
    Reply::sse(fixture("anthropic-tool-use.sse")).pieces(&[9]),
  ])
  .await;
  let m = model(&server, "claude-sonnet-4-20250514");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("weather?")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(
    text_of(&events),
    "I'll check the current weather in Paris for you."
  );
  let calls = tool_calls(&events);
  assert_eq!(
    calls,
    vec![(
      "toolu_01NRLabsLyVHZPKxbKvkfSMn".into(),
      "get_weather".into(),
      r#"{"location": "Paris"}"#.into()
    )]
  );
  assert_eq!(streamed_input(&events, &calls[0].0), calls[0].2);
  assert!(events.contains(&ModelEvent::ToolInputStart {
    id: calls[0].0.clone(),
    name: "get_weather".into()
  }));
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(377, 65, 442))
  );
}

#[tokio::test]
async fn parallel_tool_use_json() {
  let server = MockServer::start(vec![Reply::json(
    200,
    fixture("anthropic-parallel-tool-use.json"),
  )])
  .await;
  let m = model(&server, "claude-haiku-4-5");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("who is youngest?")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  let calls = tool_calls(&events);
  let want: Vec<(String, String, String)> = [
    ("toolu_0167cfEnoQaPviGdVXA95zcu", "Alice"),
    ("toolu_01EEe2V5HD1Ac4rKiUR4HD2T", "Bob"),
    ("toolu_01XFyAjstT3966qvRynZyVPo", "Charlie"),
    ("toolu_013mnQZbgtK2oe3Mo3XKJsx3", "Daisy"),
  ]
  .iter()
  .map(|(id, who)| {
    (
      id.to_string(),
      "retrieve_entity_info".to_string(),
      format!(r#"{{"name":"{who}"}}"#),
    )
  })
  .collect();
  assert_eq!(calls, want);
  assert!(text_of(&events).starts_with("I'll help you find out who is the youngest"));
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(423, 202, 625))
  );
}

#[tokio::test]
async fn thinking_json_and_stream() {
  let server = MockServer::start(vec![
    Reply::json(200, fixture("anthropic-clear-thinking.1.json")),
    Reply::sse(anthropic_sse_from_lines(&fixture(
      "anthropic-clear-thinking.1.chunks.txt",
    )))
    .pieces(&[2, 3]),
  ])
  .await;
  let m = model(&server, "claude-sonnet-4-5");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("925/5")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(reasoning_of(&events), "925 divided by 5 = 185");
  assert_eq!(text_of(&events), "925 ÷ 5 = 185");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("925/5")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(
    reasoning_of(&events),
    "The previous result was 925. Now I need to divide that by 5.\n\n925 ÷ 5 = 185"
  );
  assert_eq!(text_of(&events), "925 ÷ 5 = 185");
  assert_eq!(finish(&events), (FinishReason::Stop, usage(69, 53, 122)));
}

/// Both exchanges of a recorded streaming tool loop: our requests match what the official SDK
/// sent (apart from its `caller` field), and the padded SSE responses decode.
#[tokio::test]
async fn tool_loop_stream_exchanges() {
  let ex = exchanges("anthropic-tool-loop-stream.exchanges.json");
  let server = MockServer::start(ex.iter().map(reply_of).collect()).await;
  let m = model(&server, "claude-haiku-4-5");
  let first_body = &ex[0]["request"]["body"];

  let mut req = request(vec![Message::user_text("What is the weather in SF?")], true);
  req.tools = vec![weather_tool(first_body)];
  req.settings.max_output_tokens = Some(1024);
  let events = drain_ok(m.call(req.clone(), CancellationToken::new()).await.unwrap()).await;
  let calls = tool_calls(&events);
  assert_eq!(
    calls,
    vec![(
      "toolu_01TJoxvFknVdnV9XpWFPaRmY".into(),
      "get_weather".into(),
      r#"{"location": "San Francisco, CA", "units": "f"}"#.into()
    )]
  );
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(656, 74, 730))
  );

  let (id, name, args) = calls[0].clone();
  req.messages.push(Message::Assistant {
    content: vec![Part::ToolCall {
      tool_call_id: id.clone(),
      tool_name: name.clone(),
      input: serde_json::from_str(&args).unwrap(),
    }],
  });
  let result = ex[1]["request"]["body"]["messages"][2]["content"][0]["content"]
    .as_str()
    .unwrap()
    .to_string();
  req.messages.push(Message::Tool {
    content: vec![Part::ToolResult {
      tool_call_id: id,
      tool_name: name,
      output: ToolOutput::Text(result),
    }],
  });
  let events = drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;
  assert_eq!(
    text_of(&events),
    "The weather in San Francisco, CA is currently **68°F and Sunny**. It's a nice day!"
  );
  assert_eq!(finish(&events), (FinishReason::Stop, usage(770, 27, 797)));

  let sent = server.requests();
  for (i, exchange) in ex.iter().enumerate() {
    let mut recorded = exchange["request"]["body"].clone();
    strip_caller(&mut recorded);
    assert_eq!(sent[i].json(), recorded, "request {i}");
  }
}

/// The retry transcript: two 429s (the agent loop retries; here each is one call) then a stream
/// with structured output. Our request body matches the recorded one.
#[tokio::test]
async fn rate_limited_then_structured_stream() {
  let ex = exchanges("anthropic-429-retry-then-stream.exchanges.json");
  let mut replies: Vec<Reply> = ex.iter().map(reply_of).collect();
  replies[0] = replies[0].clone().header("retry-after", "2");
  replies[1] = replies[1].clone().header("retry-after-ms", "1500");
  let server = MockServer::start(replies).await;
  let m = model(&server, "claude-sonnet-4-5");
  let recorded = &ex[0]["request"]["body"];
  let mut req = request(
    vec![Message::user_text(
      recorded["messages"][0]["content"].as_str().unwrap(),
    )],
    true,
  );
  req.settings.max_output_tokens = Some(1024);
  req.response_format = Some(ResponseFormat {
    schema: json!({ "type": "array", "items": { "type": "integer" } }),
    name: "response".into(),
  });

  let expected_retry = [
    std::time::Duration::from_secs(2),
    std::time::Duration::from_millis(1500),
  ];
  for retry in expected_retry {
    match m.call(req.clone(), CancellationToken::new()).await {
      Err(e @ ModelError::Http { .. }) => {
        assert!(e.is_retryable());
        let ModelError::Http {
          provider,
          status,
          body,
          retry_after,
        } = e
        else {
          unreachable!()
        };
        assert_eq!(
          (provider.as_str(), status, retry_after),
          ("anthropic", 429, Some(retry))
        );
        assert!(body.contains("rate_limit_error"), "{body}");
      }
      Err(other) => panic!("expected an HTTP error, got {other:?}"),
      Ok(_) => panic!("expected an HTTP error"),
    }
  }
  let events = drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;
  assert_eq!(text_of(&events), "[12345,67890]");
  let parsed: Value = serde_json::from_str(&text_of(&events)).unwrap();
  assert_eq!(parsed, json!([12345, 67890]));
  assert_eq!(finish(&events), (FinishReason::Stop, usage(135, 10, 145)));
  for r in server.requests() {
    assert_eq!(&r.json(), recorded);
  }
}

#[tokio::test]
async fn tool_use_then_400() {
  let ex = exchanges("anthropic-tool-use-then-400.exchanges.json");
  let server = MockServer::start(ex.iter().map(reply_of).collect()).await;
  let m = model(&server, "claude-haiku-4-5");
  let first_body = &ex[0]["request"]["body"];
  let mut req = request(
    vec![Message::user_text("What's the weather in SF in Celsius?")],
    false,
  );
  req.tools = vec![weather_tool(first_body)];
  req.settings.max_output_tokens = Some(1024);
  let events = drain_ok(m.call(req.clone(), CancellationToken::new()).await.unwrap()).await;
  assert_eq!(
    tool_calls(&events),
    vec![(
      "toolu_01GHndag5wQmbzNihYmV2UBj".into(),
      "get_weather".into(),
      r#"{"location":"San Francisco, CA","units":"c"}"#.into()
    )]
  );
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(659, 74, 733))
  );
  assert_eq!(server.requests()[0].json(), *first_body);

  match m.call(req, CancellationToken::new()).await {
    Err(e @ ModelError::Http { .. }) => {
      assert!(!e.is_retryable());
      let ModelError::Http {
        status,
        body,
        retry_after,
        ..
      } = e
      else {
        unreachable!()
      };
      assert_eq!((status, retry_after), (400, None));
      assert!(body.contains("unexpected `tool_use_id`"), "{body}");
    }
    Err(other) => panic!("expected an HTTP error, got {other:?}"),
    Ok(_) => panic!("expected an HTTP error"),
  }
}

#[tokio::test]
async fn request_mapping() {
  let server = MockServer::start(vec![Reply::json(200, fixture("anthropic-text.json"))]).await;
  let m = model(&server, "claude-sonnet-4-5");
  let mut req = request(
    vec![
      Message::System {
        content: "You are terse.".into(),
      },
      Message::System {
        content: "Use metric units.".into(),
      },
      Message::User {
        content: vec![
          Part::Text {
            text: "look".into(),
          },
          Part::Image {
            image: "data:image/png;base64,iVBORw0KGgo=".into(),
            media_type: None,
          },
        ],
      },
      Message::user_text("and tell me the weather"),
      Message::Assistant {
        content: vec![
          Part::Reasoning {
            text: "thinking".into(),
          },
          Part::Text {
            text: "Checking.".into(),
          },
          Part::ToolCall {
            tool_call_id: "toolu_1".into(),
            tool_name: "weather".into(),
            input: json!({ "city": "Oslo" }),
          },
          Part::ToolCall {
            tool_call_id: "toolu_2".into(),
            tool_name: "weather".into(),
            input: json!({ "city": "Rome" }),
          },
        ],
      },
      Message::Tool {
        content: vec![Part::ToolResult {
          tool_call_id: "toolu_1".into(),
          tool_name: "weather".into(),
          output: ToolOutput::Json(json!({ "c": 3 })),
        }],
      },
      Message::Tool {
        content: vec![Part::ToolResult {
          tool_call_id: "toolu_2".into(),
          tool_name: "weather".into(),
          output: ToolOutput::ErrorJson(json!({ "error": "down" })),
        }],
      },
    ],
    false,
  );
  req.tools = vec![ToolSpec {
    name: "weather".into(),
    description: "Weather".into(),
    parameters: json!({ "type": "object" }),
  }];
  req.tool_choice = ToolChoice::Required;
  req.settings.temperature = Some(0.2);
  req.settings.top_p = Some(0.8);
  req.settings.top_k = Some(40);
  req.settings.max_output_tokens = Some(512);
  req.settings.stop_sequences = vec!["###".into()];
  req.provider_options = json!({ "thinking": { "type": "enabled", "budget_tokens": 1024 } });
  drain_ok(m.call(req.clone(), CancellationToken::new()).await.unwrap()).await;
  let body = server.requests()[0].json();
  assert_eq!(
    body,
    json!({
      "model": "claude-sonnet-4-5",
      "max_tokens": 512,
      "system": "You are terse.\n\nUse metric units.",
      "messages": [
        { "role": "user", "content": [
          { "type": "text", "text": "look" },
          { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } },
          { "type": "text", "text": "and tell me the weather" },
        ] },
        { "role": "assistant", "content": [
          { "type": "text", "text": "Checking." },
          { "type": "tool_use", "id": "toolu_1", "name": "weather", "input": { "city": "Oslo" } },
          { "type": "tool_use", "id": "toolu_2", "name": "weather", "input": { "city": "Rome" } },
        ] },
        { "role": "user", "content": [
          { "type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"c\":3}" },
          { "type": "tool_result", "tool_use_id": "toolu_2", "content": "{\"error\":\"down\"}", "is_error": true },
        ] },
      ],
      "tools": [{ "name": "weather", "description": "Weather", "input_schema": { "type": "object" } }],
      "tool_choice": { "type": "any" },
      "temperature": 0.2,
      "top_p": 0.8,
      "top_k": 40,
      "stop_sequences": ["###"],
      "thinking": { "type": "enabled", "budget_tokens": 1024 },
    })
  );
}

#[tokio::test]
async fn tool_choice_forms() {
  let server = MockServer::start(vec![Reply::json(200, fixture("anthropic-text.json")); 3]).await;
  let m = model(&server, "claude");
  for choice in [
    ToolChoice::Auto,
    ToolChoice::None,
    ToolChoice::Tool {
      tool_name: "t".into(),
    },
  ] {
    let mut req = request(vec![Message::user_text("x")], false);
    req.tools = vec![ToolSpec {
      name: "t".into(),
      description: String::new(),
      parameters: Value::Null,
    }];
    req.tool_choice = choice;
    drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;
  }
  let bodies: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
  assert!(bodies[0].get("tool_choice").is_none());
  assert_eq!(bodies[1]["tool_choice"], json!({ "type": "none" }));
  assert_eq!(
    bodies[2]["tool_choice"],
    json!({ "type": "tool", "name": "t" })
  );
  assert_eq!(
    bodies[0]["tools"],
    json!([{ "name": "t", "input_schema": { "type": "object", "properties": {} } }])
  );
}

#[tokio::test]
async fn cache_read_tokens_are_reported() {
  let mut body = fixture_json("anthropic-text.json");
  body["usage"]["cache_read_input_tokens"] = json!(100);
  body["usage"]["cache_creation_input_tokens"] = json!(7);
  let server = MockServer::start(vec![Reply::json(200, body.to_string())]).await;
  let m = model(&server, "claude");
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  let want = Usage {
    input_tokens: 12,
    output_tokens: 29,
    total_tokens: 41,
    reasoning_tokens: 0,
    cached_input_tokens: 100,
  };
  assert_eq!(finish(&events).1, want);
}

use lumos_core::message::{Message, Part, ToolOutput};
use lumos_core::model::{
  FinishReason, Model, ModelEvent, ResponseFormat, ToolChoice, ToolSpec, Usage,
};
use lumos_providers::{OpenAiCompatibleModel, ProviderConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::mock::*;

fn model(provider: &str, server: &MockServer) -> OpenAiCompatibleModel {
  OpenAiCompatibleModel::new(
    ProviderConfig::new(provider, "gpt-4.1-nano", server.url()).with_api_key("sk-test"),
  )
  .unwrap()
}

#[tokio::test]
async fn text_json() {
  let server = MockServer::start(vec![Reply::json(200, fixture("openai-text.json"))]).await;
  let m = model("openai", &server);
  let stream = m
    .call(
      request(vec![Message::user_text("Invent a holiday")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap();
  let events = drain_ok(stream).await;
  assert_eq!(
    events[0],
    ModelEvent::Metadata {
      id: Some("chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU".into()),
      model_id: Some("gpt-4.1-nano-2025-04-14".into())
    }
  );
  let want = fixture_json("openai-text.json")["choices"][0]["message"]["content"]
    .as_str()
    .unwrap()
    .to_string();
  assert_eq!(text_of(&events), want);
  assert_eq!(finish(&events), (FinishReason::Stop, usage(16, 363, 379)));

  let req = &server.requests()[0];
  assert_eq!(
    (req.method.as_str(), req.path.as_str()),
    ("POST", "/v1/chat/completions")
  );
  assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
  assert_eq!(req.header("content-type"), Some("application/json"));
  let body = req.json();
  assert_eq!(body["model"], "gpt-4.1-nano");
  assert_eq!(
    body["messages"],
    json!([{ "role": "user", "content": "Invent a holiday" }])
  );
  assert!(
    body.get("stream").is_none()
      && body.get("stream_options").is_none()
      && body.get("tools").is_none()
  );
}

#[tokio::test]
async fn text_stream_from_chunks_with_odd_split_points() {
  let lines = fixture("openai-text.chunks.txt");
  let mut want = String::new();
  for line in lines.lines() {
    let v: Value = serde_json::from_str(line).unwrap();
    if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
      want.push_str(t);
    }
  }
  assert!(want.len() > 1000);
  let body = openai_sse_from_lines(&lines);
  // Pieces of 1, 7, 13 and 500 bytes: boundaries land inside lines, JSON and `\n\n`.
  let server = MockServer::start(vec![Reply::sse(body).pieces(&[1, 7, 13, 500])]).await;
  let m = model("openai", &server);
  let stream = m
    .call(
      request(vec![Message::user_text("hi")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap();
  let events = drain_ok(stream).await;
  assert!(
    matches!(&events[0], ModelEvent::Metadata { id: Some(id), .. } if id == "chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0")
  );
  assert_eq!(text_of(&events), want);
  assert_eq!(finish(&events), (FinishReason::Stop, usage(16, 300, 316)));
  assert_eq!(
    events
      .iter()
      .filter(|e| matches!(e, ModelEvent::Finish { .. }))
      .count(),
    1
  );

  let body = server.requests()[0].json();
  assert_eq!(body["stream"], true);
  assert_eq!(body["stream_options"], json!({ "include_usage": true }));
}

#[tokio::test]
async fn parallel_tool_calls_json() {
  let server = MockServer::start(vec![Reply::json(
    200,
    fixture("openai-chat-parallel-tool-calls.json"),
  )])
  .await;
  let m = model("openai", &server);
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(
    tool_calls(&events),
    vec![
      (
        "call_fdNz3vOBKYgOIpMdWotB9MjY".into(),
        "GetWeatherArgs".into(),
        r#"{"city": "Edinburgh", "country": "GB", "units": "c"}"#.into()
      ),
      (
        "call_h1DWI1POMJLb0KwIyQHWXD4p".into(),
        "get_stock_price".into(),
        r#"{"ticker": "AAPL", "exchange": "NASDAQ"}"#.into()
      ),
    ]
  );
  assert_eq!(text_of(&events), "");
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(149, 60, 209))
  );
}

#[tokio::test]
async fn parallel_tool_calls_stream() {
  let server = MockServer::start(vec![
    Reply::sse(fixture("openai-chat-parallel-tool-calls.sse")).pieces(&[3, 11, 64]),
  ])
  .await;
  let m = model("openai", &server);
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  let calls = tool_calls(&events);
  assert_eq!(
    calls,
    vec![
      (
        "call_JMW1whyEaYG438VE1OIflxA2".into(),
        "GetWeatherArgs".into(),
        r#"{"city": "Edinburgh", "country": "GB", "units": "c"}"#.into()
      ),
      (
        "call_DNYTawLBoN8fj3KN6qU9N1Ou".into(),
        "get_stock_price".into(),
        r#"{"ticker": "AAPL", "exchange": "NASDAQ"}"#.into()
      ),
    ]
  );
  for (id, name, args) in &calls {
    assert_eq!(&streamed_input(&events, id), args);
    let start = events.iter().position(
      |e| matches!(e, ModelEvent::ToolInputStart { id: i, name: n } if i == id && n == name),
    );
    let end = events
      .iter()
      .position(|e| matches!(e, ModelEvent::ToolCall { id: i, .. } if i == id));
    assert!(start.unwrap() < end.unwrap());
  }
  assert_eq!(
    finish(&events),
    (FinishReason::ToolCalls, usage(149, 60, 209))
  );
}

#[tokio::test]
async fn structured_output_stream_and_request() {
  let server = MockServer::start(vec![
    Reply::sse(fixture("openai-chat-structured-output.sse")),
    Reply::json(200, fixture("openai-chat-structured-output.json")),
  ])
  .await;
  let m = model("openai", &server);
  let schema = json!({
    "type": "object",
    "properties": { "city": { "type": "string" }, "temperature": { "type": "number" }, "units": { "enum": ["c", "f"] } },
    "required": ["city", "temperature", "units"],
    "additionalProperties": false
  });
  let mut req = request(vec![Message::user_text("weather in SF?")], true);
  req.response_format = Some(ResponseFormat {
    schema: schema.clone(),
    name: "Location".into(),
  });
  let events = drain_ok(m.call(req.clone(), CancellationToken::new()).await.unwrap()).await;
  assert_eq!(
    text_of(&events),
    r#"{"city":"San Francisco","temperature":61,"units":"f"}"#
  );
  assert_eq!(finish(&events), (FinishReason::Stop, usage(79, 14, 93)));
  let body = server.requests()[0].json();
  assert_eq!(
    body["response_format"],
    json!({ "type": "json_schema", "json_schema": { "name": "Location", "schema": schema, "strict": true } })
  );

  req.stream = false;
  let events = drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;
  let parsed: Value = serde_json::from_str(&text_of(&events)).unwrap();
  assert_eq!(
    parsed,
    json!({ "city": "San Francisco", "temperature": 65, "units": "f" })
  );
}

#[tokio::test]
async fn refusal_is_text() {
  let server = MockServer::start(vec![Reply::sse(fixture(
    "openai-chat-structured-output-refusal.sse",
  ))])
  .await;
  let m = model("openai", &server);
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(
    text_of(&events),
    "I'm sorry, I can't assist with that request."
  );
  assert_eq!(finish(&events), (FinishReason::Stop, usage(79, 11, 90)));
}

#[tokio::test]
async fn request_mapping() {
  let server = MockServer::start(vec![Reply::json(200, fixture("openai-text.json"))]).await;
  let m = OpenAiCompatibleModel::new(ProviderConfig {
    headers: vec![("x-extra".into(), "1".into())],
    ..ProviderConfig::new("deepseek", "deepseek-chat", format!("{}/", server.url()))
  })
  .unwrap();
  let mut req = request(
    vec![
      Message::System {
        content: "be brief".into(),
      },
      Message::User {
        content: vec![
          Part::Text {
            text: "what is this?".into(),
          },
          Part::Image {
            image: "iVBORw0KGgo=".into(),
            media_type: Some("image/png".into()),
          },
          Part::Image {
            image: "https://example.com/cat.jpg".into(),
            media_type: None,
          },
        ],
      },
      Message::Assistant {
        content: vec![
          Part::Reasoning {
            text: "hidden".into(),
          },
          Part::ToolCall {
            tool_call_id: "c1".into(),
            tool_name: "weather".into(),
            input: json!({ "city": "Paris" }),
          },
          Part::ToolCall {
            tool_call_id: "c2".into(),
            tool_name: "time".into(),
            input: json!({}),
          },
        ],
      },
      Message::Tool {
        content: vec![
          Part::ToolResult {
            tool_call_id: "c1".into(),
            tool_name: "weather".into(),
            output: ToolOutput::Json(json!({ "t": 20 })),
          },
          Part::ToolResult {
            tool_call_id: "c2".into(),
            tool_name: "time".into(),
            output: ToolOutput::ErrorText("no clock".into()),
          },
        ],
      },
      Message::Assistant {
        content: vec![Part::Text {
          text: "It is 20°C.".into(),
        }],
      },
      Message::user_text("thanks"),
    ],
    false,
  );
  req.tools = vec![
    ToolSpec {
      name: "weather".into(),
      description: "Get the weather".into(),
      parameters: json!({ "type": "object", "properties": { "city": { "type": "string" } } }),
    },
    ToolSpec {
      name: "time".into(),
      description: String::new(),
      parameters: Value::Null,
    },
  ];
  req.tool_choice = ToolChoice::Tool {
    tool_name: "weather".into(),
  };
  req.settings.temperature = Some(0.5);
  req.settings.top_p = Some(0.9);
  req.settings.seed = Some(42);
  req.settings.max_output_tokens = Some(100);
  req.settings.presence_penalty = Some(0.1);
  req.settings.frequency_penalty = Some(0.2);
  req.settings.stop_sequences = vec!["END".into()];
  req.provider_options = json!({ "user": "u-1", "temperature": 0.7 });
  drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;

  let recorded = &server.requests()[0];
  assert_eq!(recorded.path, "/v1/chat/completions");
  assert_eq!(recorded.header("authorization"), None);
  assert_eq!(recorded.header("x-extra"), Some("1"));
  let body = recorded.json();
  assert_eq!(
    body["messages"],
    json!([
      { "role": "system", "content": "be brief" },
      { "role": "user", "content": [
        { "type": "text", "text": "what is this?" },
        { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
        { "type": "image_url", "image_url": { "url": "https://example.com/cat.jpg" } },
      ] },
      { "role": "assistant", "content": null, "tool_calls": [
        { "id": "c1", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" } },
        { "id": "c2", "type": "function", "function": { "name": "time", "arguments": "{}" } },
      ] },
      { "role": "tool", "tool_call_id": "c1", "content": "{\"t\":20}" },
      { "role": "tool", "tool_call_id": "c2", "content": "no clock" },
      { "role": "assistant", "content": "It is 20°C." },
      { "role": "user", "content": "thanks" },
    ])
  );
  assert_eq!(
    body["tools"],
    json!([
      { "type": "function", "function": { "name": "weather", "description": "Get the weather", "parameters": { "type": "object", "properties": { "city": { "type": "string" } } } } },
      { "type": "function", "function": { "name": "time", "parameters": { "type": "object", "properties": {} } } },
    ])
  );
  assert_eq!(
    body["tool_choice"],
    json!({ "type": "function", "function": { "name": "weather" } })
  );
  assert_eq!(body["model"], "deepseek-chat");
  // provider options win over settings
  assert_eq!(body["temperature"], 0.7);
  assert_eq!(body["user"], "u-1");
  assert_eq!(body["top_p"], 0.9);
  assert_eq!(body["seed"], 42);
  assert_eq!(body["presence_penalty"], 0.1);
  assert_eq!(body["frequency_penalty"], 0.2);
  assert_eq!(body["stop"], json!(["END"]));
  assert_eq!(body["max_tokens"], 100);
  assert!(body.get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn openai_sends_max_completion_tokens_and_tool_choice_strings() {
  let server = MockServer::start(vec![Reply::json(200, fixture("openai-text.json")); 3]).await;
  let m = model("openai", &server);
  for choice in [ToolChoice::Auto, ToolChoice::None, ToolChoice::Required] {
    let mut req = request(vec![Message::user_text("x")], false);
    req.settings.max_output_tokens = Some(64);
    req.tools = vec![ToolSpec {
      name: "t".into(),
      description: "d".into(),
      parameters: json!({ "type": "object" }),
    }];
    req.tool_choice = choice;
    drain_ok(m.call(req, CancellationToken::new()).await.unwrap()).await;
  }
  let bodies: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
  assert_eq!(bodies[0]["max_completion_tokens"], 64);
  assert!(bodies[0].get("max_tokens").is_none());
  let choices: Vec<&Value> = bodies.iter().map(|b| &b["tool_choice"]).collect();
  assert_eq!(
    choices,
    vec![&json!("auto"), &json!("none"), &json!("required")]
  );
}

#[tokio::test]
async fn connections_are_reused_across_calls() {
  let sse = fixture("openai-chat-parallel-tool-calls.sse");
  let server = MockServer::start(vec![
    Reply::sse(sse.clone()),
    Reply::json(200, fixture("openai-text.json")),
    Reply::sse(sse),
  ])
  .await;
  let m = model("openai", &server);
  for stream in [true, false, true] {
    let events = drain_ok(
      m.call(
        request(vec![Message::user_text("x")], stream),
        CancellationToken::new(),
      )
      .await
      .unwrap(),
    )
    .await;
    assert!(matches!(events.last(), Some(ModelEvent::Finish { .. })));
  }
  // A second model on the same timeouts shares the pool too.
  let server2 = MockServer::start(vec![Reply::json(200, fixture("openai-text.json")); 2]).await;
  let a = model("openai", &server2);
  let b = model("openai", &server2);
  drain_ok(
    a.call(
      request(vec![Message::user_text("x")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  drain_ok(
    b.call(
      request(vec![Message::user_text("x")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(server.requests().len(), 3);
  assert_eq!(
    server.connections(),
    1,
    "the keep-alive connection should be reused"
  );
  assert_eq!(server2.connections(), 1);
}

#[tokio::test]
async fn server_that_ignores_stream_true_is_still_understood() {
  let server = MockServer::start(vec![Reply::json(200, fixture("openai-text.json"))]).await;
  let m = model("openai", &server);
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], true),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert!(text_of(&events).starts_with("**Holiday Name:**"));
}

#[tokio::test]
async fn deepseek_reasoning_content_non_streaming() {
  let body = json!({
    "id": "r1", "model": "deepseek-reasoner",
    "choices": [{ "index": 0, "message": { "role": "assistant", "content": "42", "reasoning_content": "6*7" }, "finish_reason": "stop" }],
    "usage": { "prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14,
      "completion_tokens_details": { "reasoning_tokens": 4 }, "prompt_tokens_details": { "cached_tokens": 3 } }
  });
  let server = MockServer::start(vec![Reply::json(200, body.to_string())]).await;
  let m = model("deepseek", &server);
  let events = drain_ok(
    m.call(
      request(vec![Message::user_text("x")], false),
      CancellationToken::new(),
    )
    .await
    .unwrap(),
  )
  .await;
  assert_eq!(reasoning_of(&events), "6*7");
  assert_eq!(text_of(&events), "42");
  let want = Usage {
    input_tokens: 5,
    output_tokens: 9,
    total_tokens: 14,
    reasoning_tokens: 4,
    cached_input_tokens: 3,
  };
  assert_eq!(finish(&events), (FinishReason::Stop, want));
}

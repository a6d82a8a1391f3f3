//! A tiny loopback HTTP/1.1 server that replays scripted responses, plus test helpers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use lumos_core::message::Message;
use lumos_core::model::{
  FinishReason, ModelError, ModelEvent, ModelRequest, ModelSettings, ModelStream, ToolChoice, Usage,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub const FIXTURES: &str = concat!(
  env!("CARGO_MANIFEST_DIR"),
  "/../../../shared/fixtures/providers"
);

pub fn fixture(name: &str) -> String {
  std::fs::read_to_string(format!("{FIXTURES}/{name}"))
    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn fixture_json(name: &str) -> Value {
  serde_json::from_str(&fixture(name)).unwrap()
}

/// A `*.chunks.txt` file (one JSON payload per line) as an OpenAI SSE body ending in `[DONE]`.
pub fn openai_sse_from_lines(lines: &str) -> String {
  let mut out = String::new();
  for line in lines.lines().filter(|l| !l.trim().is_empty()) {
    out.push_str("data: ");
    out.push_str(line);
    out.push_str("\n\n");
  }
  out.push_str("data: [DONE]\n\n");
  out
}

/// A `*.chunks.txt` file as an Anthropic SSE body (`event:` from each payload's `type`).
pub fn anthropic_sse_from_lines(lines: &str) -> String {
  let mut out = String::new();
  for line in lines.lines().filter(|l| !l.trim().is_empty()) {
    let v: Value = serde_json::from_str(line).unwrap();
    out.push_str(&format!(
      "event: {}\ndata: {line}\n\n",
      v["type"].as_str().unwrap()
    ));
  }
  out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
  ContentLength,
  Chunked,
  /// No length: the body ends when the connection closes.
  Close,
}

#[derive(Clone, Debug)]
pub struct Reply {
  pub status: u16,
  pub headers: Vec<(String, String)>,
  pub body: Vec<u8>,
  pub framing: Framing,
  /// Body piece sizes, cycled (each piece is one write, one chunk when chunked). Empty: one write.
  pub pieces: Vec<usize>,
  pub pause: Duration,
  /// Close the connection after this many body bytes.
  pub cut_after: Option<usize>,
  /// Before the body (after the headers), wait this long.
  pub stall_before_body: Option<Duration>,
  /// After the body (or the cut), keep the connection open this long without writing.
  pub hang: Option<Duration>,
  /// Do not answer at all for this long (then close).
  pub no_answer: Option<Duration>,
}

impl Reply {
  pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>, framing: Framing) -> Self {
    Reply {
      status,
      headers: vec![("content-type".into(), content_type.into())],
      body: body.into(),
      framing,
      pieces: Vec::new(),
      pause: Duration::ZERO,
      cut_after: None,
      stall_before_body: None,
      hang: None,
      no_answer: None,
    }
  }

  pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
    Reply::new(status, "application/json", body, Framing::ContentLength)
  }

  pub fn sse(body: impl Into<Vec<u8>>) -> Self {
    Reply::new(
      200,
      "text/event-stream; charset=utf-8",
      body,
      Framing::Chunked,
    )
  }

  pub fn header(mut self, name: &str, value: &str) -> Self {
    self.headers.push((name.into(), value.into()));
    self
  }

  pub fn pieces(mut self, sizes: &[usize]) -> Self {
    self.pieces = sizes.to_vec();
    self
  }

  pub fn pause(mut self, pause: Duration) -> Self {
    self.pause = pause;
    self
  }

  pub fn framing(mut self, framing: Framing) -> Self {
    self.framing = framing;
    self
  }

  pub fn cut_after(mut self, bytes: usize) -> Self {
    self.cut_after = Some(bytes);
    self
  }

  pub fn hang(mut self, d: Duration) -> Self {
    self.hang = Some(d);
    self
  }

  pub fn stall_before_body(mut self, d: Duration) -> Self {
    self.stall_before_body = Some(d);
    self
  }

  pub fn no_answer(mut self, d: Duration) -> Self {
    self.no_answer = Some(d);
    self
  }
}

#[derive(Clone, Debug)]
pub struct Recorded {
  pub method: String,
  pub path: String,
  pub headers: Vec<(String, String)>,
  pub body: Vec<u8>,
}

impl Recorded {
  pub fn json(&self) -> Value {
    serde_json::from_slice(&self.body).unwrap()
  }

  pub fn header(&self, name: &str) -> Option<&str> {
    self
      .headers
      .iter()
      .find(|(k, _)| k.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
  }
}

/// Answers one recorded request (for replies that depend on what was asked).
pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct MockServer {
  base: String,
  requests: Arc<Mutex<Vec<Recorded>>>,
  connections: Arc<AtomicUsize>,
  task: JoinHandle<()>,
}

impl Drop for MockServer {
  fn drop(&mut self) {
    self.task.abort();
  }
}

impl MockServer {
  /// Serves `replies` in order, one per request, on 127.0.0.1 (keep-alive connections).
  pub async fn start(replies: Vec<Reply>) -> MockServer {
    let queue = Mutex::new(VecDeque::from(replies));
    MockServer::start_with(move |_| {
      queue
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Reply::json(500, r#"{"error":"the mock server has no reply left"}"#))
    })
    .await
  }

  /// Answers every request with `handler(request)`.
  pub async fn start_with(
    handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
  ) -> MockServer {
    let handler: Handler = Arc::new(handler);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (req2, conn2) = (requests.clone(), connections.clone());
    let task = tokio::spawn(async move {
      let mut handlers = Vec::new();
      while let Ok((socket, _)) = listener.accept().await {
        conn2.fetch_add(1, Ordering::SeqCst);
        handlers.push(tokio::spawn(serve(socket, handler.clone(), req2.clone())));
      }
    });
    MockServer {
      base: format!("http://{addr}/v1"),
      requests,
      connections,
      task,
    }
  }

  pub fn url(&self) -> String {
    self.base.clone()
  }

  pub fn requests(&self) -> Vec<Recorded> {
    self.requests.lock().unwrap().clone()
  }

  pub fn connections(&self) -> usize {
    self.connections.load(Ordering::SeqCst)
  }
}

async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
  let head_end = loop {
    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
      break i + 4;
    }
    let mut tmp = [0u8; 8192];
    let n = socket.read(&mut tmp).await.ok()?;
    if n == 0 {
      return None;
    }
    buf.extend_from_slice(&tmp[..n]);
  };
  let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
  let mut lines = head.split("\r\n");
  let mut first = lines.next()?.split(' ');
  let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
  let headers: Vec<(String, String)> = lines
    .filter_map(|l| l.split_once(':'))
    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
    .collect();
  let len: usize = headers
    .iter()
    .find(|(k, _)| k == "content-length")
    .and_then(|(_, v)| v.parse().ok())
    .unwrap_or(0);
  while buf.len() < head_end + len {
    let mut tmp = [0u8; 8192];
    let n = socket.read(&mut tmp).await.ok()?;
    if n == 0 {
      return None;
    }
    buf.extend_from_slice(&tmp[..n]);
  }
  let body = buf[head_end..head_end + len].to_vec();
  buf.drain(..head_end + len);
  Some(Recorded {
    method,
    path,
    headers,
    body,
  })
}

async fn serve(mut socket: TcpStream, handler: Handler, requests: Arc<Mutex<Vec<Recorded>>>) {
  let _ = socket.set_nodelay(true);
  let mut buf = Vec::new();
  while let Some(request) = read_request(&mut socket, &mut buf).await {
    let reply = handler(&request);
    requests.lock().unwrap().push(request);
    if !write_reply(&mut socket, &reply).await {
      return;
    }
  }
}

/// Writes one response; returns whether the connection stays usable.
async fn write_reply(socket: &mut TcpStream, reply: &Reply) -> bool {
  if let Some(d) = reply.no_answer {
    tokio::time::sleep(d).await;
    return false;
  }
  let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
  for (k, v) in &reply.headers {
    head.push_str(&format!("{k}: {v}\r\n"));
  }
  match reply.framing {
    Framing::ContentLength => head.push_str(&format!("content-length: {}\r\n", reply.body.len())),
    Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    Framing::Close => head.push_str("connection: close\r\n"),
  }
  head.push_str("\r\n");
  if socket.write_all(head.as_bytes()).await.is_err() {
    return false;
  }
  let _ = socket.flush().await;
  if let Some(d) = reply.stall_before_body {
    tokio::time::sleep(d).await;
  }
  let limit = reply
    .cut_after
    .unwrap_or(reply.body.len())
    .min(reply.body.len());
  let body = &reply.body[..limit];
  let mut sizes = reply.pieces.iter().copied().filter(|&n| n > 0).cycle();
  let mut at = 0;
  while at < body.len() {
    let n = sizes.next().unwrap_or(body.len());
    let end = (at + n).min(body.len());
    let piece = &body[at..end];
    let ok = match reply.framing {
      Framing::Chunked => {
        let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
        framed.extend_from_slice(piece);
        framed.extend_from_slice(b"\r\n");
        socket.write_all(&framed).await.is_ok()
      }
      _ => socket.write_all(piece).await.is_ok(),
    };
    if !ok {
      return false;
    }
    let _ = socket.flush().await;
    at = end;
    if !reply.pause.is_zero() && at < body.len() {
      tokio::time::sleep(reply.pause).await;
    }
  }
  if let Some(d) = reply.hang {
    tokio::time::sleep(d).await;
  }
  if reply.cut_after.is_some() {
    let _ = socket.shutdown().await;
    return false;
  }
  match reply.framing {
    Framing::Chunked => socket.write_all(b"0\r\n\r\n").await.is_ok(),
    Framing::Close => {
      let _ = socket.shutdown().await;
      false
    }
    Framing::ContentLength => true,
  }
}

// ---------------------------------------------------------------------------------------------
// Model helpers

pub fn request(messages: Vec<Message>, stream: bool) -> ModelRequest {
  ModelRequest {
    messages,
    tools: Vec::new(),
    tool_choice: ToolChoice::Auto,
    settings: ModelSettings::default(),
    response_format: None,
    stream,
    provider_options: Value::Null,
  }
}

/// Every item of the stream: the events, and the error that ended it (if any).
pub async fn drain(mut stream: ModelStream) -> (Vec<ModelEvent>, Option<ModelError>) {
  let mut events = Vec::new();
  while let Some(item) = stream.next().await {
    match item {
      Ok(e) => events.push(e),
      Err(e) => {
        assert!(
          stream.next().await.is_none(),
          "the stream must end after an error"
        );
        return (events, Some(e));
      }
    }
  }
  (events, None)
}

pub async fn drain_ok(stream: ModelStream) -> Vec<ModelEvent> {
  let (events, error) = drain(stream).await;
  if let Some(e) = error {
    panic!("stream failed: {e:?}");
  }
  events
}

pub fn text_of(events: &[ModelEvent]) -> String {
  events
    .iter()
    .filter_map(|e| match e {
      ModelEvent::TextDelta(t) => Some(t.as_str()),
      _ => None,
    })
    .collect()
}

pub fn reasoning_of(events: &[ModelEvent]) -> String {
  events
    .iter()
    .filter_map(|e| match e {
      ModelEvent::ReasoningDelta(t) => Some(t.as_str()),
      _ => None,
    })
    .collect()
}

pub fn tool_calls(events: &[ModelEvent]) -> Vec<(String, String, String)> {
  events
    .iter()
    .filter_map(|e| match e {
      ModelEvent::ToolCall {
        id,
        name,
        arguments,
      } => Some((id.clone(), name.clone(), arguments.clone())),
      _ => None,
    })
    .collect()
}

/// The concatenated `ToolInputDelta`s of one call.
pub fn streamed_input(events: &[ModelEvent], call_id: &str) -> String {
  events
    .iter()
    .filter_map(|e| match e {
      ModelEvent::ToolInputDelta { id, delta } if id == call_id => Some(delta.as_str()),
      _ => None,
    })
    .collect()
}

pub fn finish(events: &[ModelEvent]) -> (FinishReason, Usage) {
  match events.last() {
    Some(ModelEvent::Finish { reason, usage }) => (*reason, *usage),
    other => panic!("the last event should be Finish, got {other:?}"),
  }
}

pub fn usage(input: u64, output: u64, total: u64) -> Usage {
  Usage {
    input_tokens: input,
    output_tokens: output,
    total_tokens: total,
    reasoning_tokens: 0,
    cached_input_tokens: 0,
  }
}

//! HTTP plumbing shared by the providers: the pooled client, sending with cancellation, error
//! mapping, `Retry-After`, and the drivers that turn a response body into a `ModelStream`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lumos_core::model::{ModelError, ModelEvent, ModelStream};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::sse::{SseEvent, SseParser};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(300);

/// How much of an error body is kept.
const ERROR_BODY_CAP: usize = 8 * 1024;
/// Largest non-streaming body accepted.
const JSON_BODY_CAP: usize = 64 * 1024 * 1024;
/// Largest single SSE event held in memory; a server streaming one endless event is cut off.
const SSE_EVENT_CAP: usize = 16 * 1024 * 1024;
/// After the provider's end marker, how long the rest of the body (the chunked terminator) may
/// take to arrive; reading it lets the connection go back to the pool.
const DRAIN_LIMIT: Duration = Duration::from_millis(200);
const DRAIN_BYTES: usize = 64 * 1024;

type ClientKey = (Duration, Duration);

static CLIENTS: OnceLock<Mutex<Vec<(ClientKey, reqwest::Client)>>> = OnceLock::new();

/// One `reqwest::Client` (one connection pool) per timeout pair, for the whole process.
pub(crate) fn shared_client(
  connect: Duration,
  read: Duration,
) -> Result<reqwest::Client, ModelError> {
  let cache = CLIENTS.get_or_init(|| Mutex::new(Vec::new()));
  let mut cache = cache
    .lock()
    .unwrap_or_else(|poisoned| poisoned.into_inner());
  if let Some((_, client)) = cache.iter().find(|(key, _)| *key == (connect, read)) {
    return Ok(client.clone());
  }
  let client = reqwest::Client::builder()
    .connect_timeout(connect)
    .read_timeout(read)
    .pool_idle_timeout(Duration::from_secs(90))
    .tcp_nodelay(true)
    .user_agent(concat!("lumos/", env!("CARGO_PKG_VERSION")))
    .build()
    .map_err(|e| {
      ModelError::Config(format!(
        "could not create the HTTP client: {}",
        error_chain(&e)
      ))
    })?;
  cache.push(((connect, read), client.clone()));
  Ok(client)
}

/// Builds a header map from user-given pairs, naming the bad one on error.
pub(crate) fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, ModelError> {
  let mut map = HeaderMap::with_capacity(pairs.len());
  for (name, value) in pairs {
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
      ModelError::Config(format!(
        "invalid HTTP header name '{name}' in the model's headers"
      ))
    })?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
      ModelError::Config(format!(
        "invalid value for HTTP header '{name}' in the model's headers"
      ))
    })?;
    map.insert(name, value);
  }
  Ok(map)
}

pub(crate) fn secret_header(value: &str, what: &str) -> Result<HeaderValue, ModelError> {
  let mut v = HeaderValue::from_str(value).map_err(|_| {
    ModelError::Config(format!(
      "the {what} contains characters that cannot be sent in an HTTP header"
    ))
  })?;
  v.set_sensitive(true);
  Ok(v)
}

/// Everything a call needs to reach one endpoint.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
  pub provider: String,
  pub url: String,
  pub headers: HeaderMap,
  pub client: reqwest::Client,
  pub connect_timeout: Duration,
  pub read_timeout: Duration,
}

impl Endpoint {
  /// POSTs a JSON body; resolves once the status line and headers are in and the status is < 400.
  pub async fn post_json(
    &self,
    body: Vec<u8>,
    cancel: &CancellationToken,
  ) -> Result<reqwest::Response, ModelError> {
    if cancel.is_cancelled() {
      return Err(ModelError::Aborted);
    }
    let request = self
      .client
      .post(&self.url)
      .headers(self.headers.clone())
      .header(reqwest::header::CONTENT_TYPE, "application/json")
      .body(body);
    let response = tokio::select! {
      biased;
      _ = cancel.cancelled() => return Err(ModelError::Aborted),
      r = request.send() => r.map_err(|e| self.send_error(&e))?,
    };
    let status = response.status().as_u16();
    if status >= 400 {
      return Err(self.http_error(response, cancel).await);
    }
    Ok(response)
  }

  fn send_error(&self, e: &reqwest::Error) -> ModelError {
    if e.is_connect() {
      let within = if e.is_timeout() {
        format!(" within {}s", secs(self.connect_timeout))
      } else {
        String::new()
      };
      return ModelError::Connect(format!(
        "could not connect to {} at {}{within}: {}",
        self.provider,
        origin(&self.url),
        error_chain(e)
      ));
    }
    if e.is_timeout() {
      return self.timeout_error();
    }
    if e.is_builder() {
      return ModelError::Config(format!(
        "invalid request to {} ({}): {}",
        self.provider,
        self.url,
        error_chain(e)
      ));
    }
    // The connection broke before a response arrived (reset, closed by the server).
    ModelError::Connect(format!(
      "request to {} at {} failed: {}",
      self.provider,
      origin(&self.url),
      error_chain(e)
    ))
  }

  pub fn timeout_error(&self) -> ModelError {
    ModelError::Timeout(format!(
      "no response from {} within {}s; raise the timeout or check the server",
      self.provider,
      secs(self.read_timeout)
    ))
  }

  /// Maps an error met while reading the body.
  pub fn body_error(&self, e: &reqwest::Error) -> ModelError {
    if e.is_timeout() {
      return self.timeout_error();
    }
    ModelError::Truncated(format!(
      "{} response ended early (the connection closed mid-body): {}",
      self.provider,
      error_chain(e)
    ))
  }

  /// Reads a whole (non-streaming) body of at most `cap` bytes, honouring cancellation.
  pub async fn read_body(
    &self,
    response: &mut reqwest::Response,
    cancel: &CancellationToken,
    cap: usize,
  ) -> Result<Vec<u8>, ModelError> {
    let mut body = Vec::new();
    loop {
      let chunk = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(ModelError::Aborted),
        c = response.chunk() => c,
      };
      match chunk {
        Ok(Some(bytes)) => {
          body.extend_from_slice(&bytes);
          if body.len() > cap {
            return Err(ModelError::Malformed(format!(
              "{} sent a response body larger than {} MiB",
              self.provider,
              cap >> 20
            )));
          }
        }
        Ok(None) => return Ok(body),
        Err(e) => return Err(self.body_error(&e)),
      }
    }
  }

  async fn http_error(
    &self,
    mut response: reqwest::Response,
    cancel: &CancellationToken,
  ) -> ModelError {
    let status = response.status().as_u16();
    let retry_after = parse_retry_after(response.headers(), SystemTime::now());
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_CAP {
      let chunk = tokio::select! {
        biased;
        _ = cancel.cancelled() => return ModelError::Aborted,
        c = response.chunk() => c,
      };
      match chunk {
        Ok(Some(bytes)) => body.extend_from_slice(&bytes),
        _ => break,
      }
    }
    ModelError::Http {
      provider: self.provider.clone(),
      status,
      body: capped_text(&body, ERROR_BODY_CAP),
      retry_after,
    }
  }
}

fn secs(d: Duration) -> String {
  let s = d.as_secs_f64();
  if s.fract() == 0.0 {
    format!("{}", d.as_secs())
  } else {
    format!("{s:.1}")
  }
}

fn origin(url: &str) -> &str {
  let after_scheme = url.find("://").map_or(0, |i| i + 3);
  match url[after_scheme..].find('/') {
    Some(i) => &url[..after_scheme + i],
    None => url,
  }
}

/// `e` and its sources, joined by ": " (reqwest's own message alone rarely says what happened).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
  let mut out = e.to_string();
  let mut source = e.source();
  while let Some(s) = source {
    let text = s.to_string();
    if !out.contains(&text) {
      out.push_str(": ");
      out.push_str(&text);
    }
    source = s.source();
  }
  out
}

/// Lossy UTF-8 text of at most `cap` bytes, cut on a character boundary.
fn capped_text(bytes: &[u8], cap: usize) -> String {
  let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(cap + 4)]).into_owned();
  if text.len() > cap {
    let mut end = cap;
    while !text.is_char_boundary(end) {
      end -= 1;
    }
    text.truncate(end);
  }
  text
}

/// A short, single-line excerpt of a payload for error messages.
pub(crate) fn excerpt(text: &str) -> String {
  const MAX: usize = 200;
  let mut end = text.len().min(MAX);
  while !text.is_char_boundary(end) {
    end -= 1;
  }
  let mut out: String = text[..end]
    .chars()
    .map(|c| if c.is_control() { ' ' } else { c })
    .collect();
  if end < text.len() {
    out.push('…');
  }
  out
}

/// Parses a JSON payload; a failure becomes `Malformed` with an excerpt of the payload.
pub(crate) fn parse_json<'a, T: serde::Deserialize<'a>>(
  provider: &str,
  what: &str,
  text: &'a str,
) -> Result<T, ModelError> {
  serde_json::from_str(text).map_err(|e| {
    ModelError::Malformed(format!(
      "{provider} sent {what} that is not valid JSON ({e}): {}",
      excerpt(text)
    ))
  })
}

/// Merges `providerOptions` (a JSON object) into the request body's top level.
pub(crate) fn merge_provider_options(
  body: &mut serde_json::Map<String, serde_json::Value>,
  options: &serde_json::Value,
) {
  if let serde_json::Value::Object(options) = options {
    for (key, value) in options {
      body.insert(key.clone(), value.clone());
    }
  }
}

/// A tool-call id for providers that send none (unique within the process).
pub(crate) fn fresh_call_id() -> String {
  static NEXT: AtomicU64 = AtomicU64::new(1);
  format!("call_lumos_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether the response is an event stream (decided by its content type, not by what was asked:
/// some servers ignore `stream: true`, a few stream when not asked to).
pub(crate) fn is_event_stream(response: &reqwest::Response, asked: bool) -> bool {
  match response
    .headers()
    .get(reqwest::header::CONTENT_TYPE)
    .and_then(|v| v.to_str().ok())
  {
    Some(ct) if ct.contains("text/event-stream") => true,
    Some(ct) if ct.contains("json") => false,
    _ => asked,
  }
}

/// `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date).
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
  let get = |name: &str| {
    headers
      .get(name)
      .and_then(|v| v.to_str().ok())
      .map(str::trim)
  };
  if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
    && let Ok(d) = Duration::try_from_secs_f64(ms / 1000.0)
  {
    return Some(d);
  }
  let value = get("retry-after")?;
  if let Ok(s) = value.parse::<f64>() {
    return Duration::try_from_secs_f64(s).ok();
  }
  let at = parse_http_date(value)?;
  let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
  Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

/// Unix seconds of an HTTP date: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) or asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(s: &str) -> Option<i64> {
  const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
  ];
  let mut month = None;
  let mut time = None;
  let mut numbers = Vec::with_capacity(2);
  for token in s.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
    if token.contains(':') {
      let mut parts = token.split(':').map(|p| p.parse::<i64>().ok());
      let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
      if h > 23 || m > 59 || sec > 60 {
        return None;
      }
      time = Some(h * 3600 + m * 60 + sec);
    } else if let Ok(n) = token.parse::<i64>() {
      numbers.push((n, token.len()));
    } else if let Some(i) = MONTHS
      .iter()
      .position(|m| token.len() == 3 && token.eq_ignore_ascii_case(m))
      && month.is_none()
    {
      month = Some(i as i64 + 1);
    }
  }
  let (month, time) = (month?, time?);
  let [(day, _), (year, year_len)] = numbers.as_slice() else {
    return None;
  };
  let year = match (*year, *year_len) {
    (y, 2) if y >= 70 => 1900 + y,
    (y, 2) => 2000 + y,
    (y, _) => y,
  };
  if !(1..=31).contains(day) || !(1..=9999).contains(&year) {
    return None;
  }
  Some(days_from_civil(year, month, *day) * 86_400 + time)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
  let y = if m <= 2 { y - 1 } else { y };
  let era = if y >= 0 { y } else { y - 399 } / 400;
  let yoe = y - era * 400;
  let mp = (m + 9) % 12;
  let doy = (153 * mp + 2) / 5 + d - 1;
  let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  era * 146_097 + doe - 719_468
}

/// Turns SSE events of one provider into model events.
pub(crate) trait SseDecoder: Send + 'static {
  fn on_event(
    &mut self,
    event: &SseEvent,
    out: &mut VecDeque<ModelEvent>,
  ) -> Result<(), ModelError>;
  /// The provider sent its end marker; nothing after it matters.
  fn is_done(&self) -> bool;
  /// The body ended without the end marker: finish up, or report the truncation.
  fn on_eof(&mut self, out: &mut VecDeque<ModelEvent>) -> Result<(), ModelError>;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
  Reading,
  /// The end marker arrived: read what is left of the body (briefly) so the connection is reused.
  Draining,
  Closed,
}

struct SseDriver<D> {
  endpoint: Arc<Endpoint>,
  response: reqwest::Response,
  cancel: CancellationToken,
  parser: SseParser,
  decoder: D,
  queue: VecDeque<ModelEvent>,
  error: Option<ModelError>,
  phase: Phase,
  ended: bool,
}

impl<D: SseDecoder> SseDriver<D> {
  async fn next_item(&mut self) -> Option<Result<ModelEvent, ModelError>> {
    loop {
      if self.ended {
        return None;
      }
      if self.queue.is_empty() && self.error.is_none() {
        match self.phase {
          Phase::Closed => {
            self.ended = true;
            return None;
          }
          Phase::Draining => {
            self.drain().await;
            self.ended = true;
            return None;
          }
          Phase::Reading => {}
        }
      }
      if self.cancel.is_cancelled() {
        self.ended = true;
        return Some(Err(ModelError::Aborted));
      }
      if let Some(event) = self.queue.pop_front() {
        return Some(Ok(event));
      }
      if let Some(error) = self.error.take() {
        self.ended = true;
        return Some(Err(error));
      }
      let chunk = tokio::select! {
        biased;
        _ = self.cancel.cancelled() => {
          self.ended = true;
          return Some(Err(ModelError::Aborted));
        }
        c = self.response.chunk() => c,
      };
      match chunk {
        Ok(Some(bytes)) => {
          self.parser.push(&bytes);
          self.pump(false);
          if self.phase == Phase::Reading && self.parser.pending_len() > SSE_EVENT_CAP {
            self.error = Some(ModelError::Malformed(format!(
              "{} sent a stream event larger than {} MiB; the stream was closed",
              self.endpoint.provider,
              SSE_EVENT_CAP >> 20
            )));
            self.phase = Phase::Closed;
          }
        }
        Ok(None) => {
          self.parser.finish();
          self.pump(true);
          if self.phase == Phase::Reading
            && let Err(e) = self.decoder.on_eof(&mut self.queue)
          {
            self.error = Some(e);
          }
          self.phase = Phase::Closed;
        }
        Err(e) => {
          self.error = Some(self.endpoint.body_error(&e));
          self.phase = Phase::Closed;
        }
      }
    }
  }

  fn pump(&mut self, at_eof: bool) {
    while self.phase == Phase::Reading {
      let Some(event) = self.parser.next_event() else {
        break;
      };
      match self.decoder.on_event(&event, &mut self.queue) {
        Ok(()) if self.decoder.is_done() => {
          self.phase = if at_eof {
            Phase::Closed
          } else {
            Phase::Draining
          }
        }
        Ok(()) => {}
        Err(ModelError::Malformed(m)) if at_eof => {
          self.error = Some(ModelError::Truncated(format!(
            "{} stream ended early, in the middle of an event ({m})",
            self.endpoint.provider
          )));
          self.phase = Phase::Closed;
        }
        Err(e) => {
          self.error = Some(e);
          self.phase = Phase::Closed;
        }
      }
    }
  }

  async fn drain(&mut self) {
    let response = &mut self.response;
    let cancel = &self.cancel;
    let drain = async {
      let mut read = 0usize;
      while read < DRAIN_BYTES {
        match response.chunk().await {
          Ok(Some(bytes)) => read += bytes.len(),
          _ => break,
        }
      }
    };
    tokio::select! {
      biased;
      _ = cancel.cancelled() => {}
      _ = tokio::time::timeout(DRAIN_LIMIT, drain) => {}
    }
  }
}

/// A streaming (SSE) response as model events.
/// One model call: POST the body, then decode the answer as SSE or as one JSON document,
/// whichever the provider sent (a server may ignore `stream: true`).
pub(crate) async fn call_endpoint<D, F>(
  endpoint: &Arc<Endpoint>,
  body: Value,
  asked_stream: bool,
  cancel: CancellationToken,
  decoder: D,
  parse: F,
) -> Result<ModelStream, ModelError>
where
  D: SseDecoder,
  F: FnOnce(&str) -> Result<Vec<ModelEvent>, ModelError> + Send + 'static,
{
  let bytes = serde_json::to_vec(&body)
    .map_err(|e| ModelError::Config(format!("could not encode the request: {e}")))?;
  let response = endpoint.post_json(bytes, &cancel).await?;
  if is_event_stream(&response, asked_stream) {
    Ok(sse_stream(endpoint.clone(), response, cancel, decoder))
  } else {
    Ok(json_stream(endpoint.clone(), response, cancel, parse))
  }
}

pub(crate) fn sse_stream<D: SseDecoder>(
  endpoint: Arc<Endpoint>,
  response: reqwest::Response,
  cancel: CancellationToken,
  decoder: D,
) -> ModelStream {
  let driver = SseDriver {
    endpoint,
    response,
    cancel,
    parser: SseParser::new(),
    decoder,
    queue: VecDeque::new(),
    error: None,
    phase: Phase::Reading,
    ended: false,
  };
  futures::stream::unfold(driver, |mut d| async move {
    d.next_item().await.map(|item| (item, d))
  })
  .boxed()
}

/// A non-streaming (JSON) response as model events: the body is read whole, then parsed.
pub(crate) fn json_stream<F>(
  endpoint: Arc<Endpoint>,
  mut response: reqwest::Response,
  cancel: CancellationToken,
  parse: F,
) -> ModelStream
where
  F: FnOnce(&str) -> Result<Vec<ModelEvent>, ModelError> + Send + 'static,
{
  let check = cancel.clone();
  let events = async move {
    let body = match endpoint
      .read_body(&mut response, &cancel, JSON_BODY_CAP)
      .await
    {
      Ok(body) => body,
      Err(e) => return vec![Err(e)],
    };
    let text = String::from_utf8_lossy(&body);
    match parse(&text) {
      Ok(events) => events.into_iter().map(Ok).collect(),
      Err(e) => vec![Err(e)],
    }
  };
  futures::stream::once(events)
    .flat_map(futures::stream::iter)
    .scan(false, move |ended, item| {
      let out = if *ended {
        None
      } else if check.is_cancelled() {
        *ended = true;
        Some(Err(ModelError::Aborted))
      } else {
        *ended = item.is_err();
        Some(item)
      };
      futures::future::ready(out)
    })
    .boxed()
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;

  #[test]
  fn http_dates() {
    let want = Some(784_111_777);
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
    assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
    assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), want);
    assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
    assert_eq!(
      parse_http_date("Sat, 29 Feb 2020 23:59:59 GMT"),
      Some(1_583_020_799)
    );
    assert_eq!(parse_http_date("soon"), None);
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
  }

  #[test]
  fn retry_after_forms() {
    let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
    let mut h = HeaderMap::new();
    assert_eq!(parse_retry_after(&h, now), None);
    h.insert("retry-after", HeaderValue::from_static("7"));
    assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
    h.insert(
      "retry-after",
      HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
    h.insert(
      "retry-after",
      HeaderValue::from_static("Sun, 06 Nov 1994 08:00:00 GMT"),
    );
    assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
    h.insert("retry-after-ms", HeaderValue::from_static("1500.5"));
    assert_eq!(
      parse_retry_after(&h, now),
      Some(Duration::from_secs_f64(1.5005))
    );
    h.insert("retry-after-ms", HeaderValue::from_static("-3"));
    h.insert("retry-after", HeaderValue::from_static("garbage"));
    assert_eq!(parse_retry_after(&h, now), None);
    h.insert("retry-after", HeaderValue::from_static("1e300"));
    assert_eq!(parse_retry_after(&h, now), None);
    h.insert("retry-after", HeaderValue::from_static("NaN"));
    assert_eq!(parse_retry_after(&h, now), None);
    h.insert(
      "retry-after",
      HeaderValue::from_static("Sun, 06 Nov 99999999999999999 08:49:37 GMT"),
    );
    assert_eq!(parse_retry_after(&h, now), None);
    h.insert(
      "retry-after",
      HeaderValue::from_bytes("Sün, 06 Növ 1994 08:49:37 GMT".as_bytes()).unwrap(),
    );
    assert_eq!(parse_retry_after(&h, now), None);
  }

  #[test]
  fn capped_text_cuts_on_char_boundary() {
    let s = "é".repeat(10);
    assert_eq!(capped_text(s.as_bytes(), 5), "éé");
    assert_eq!(capped_text(b"abc", 10), "abc");
    assert_eq!(excerpt("a\nb"), "a b");
    assert!(excerpt(&"x".repeat(500)).ends_with('…'));
  }

  #[test]
  fn origin_strips_the_path() {
    assert_eq!(
      origin("https://api.openai.com/v1/chat/completions"),
      "https://api.openai.com"
    );
    assert_eq!(origin("http://localhost:11434"), "http://localhost:11434");
  }

  #[test]
  fn clients_are_shared_per_timeouts() {
    let count = |key: ClientKey| {
      let cache = CLIENTS.get().unwrap().lock().unwrap();
      cache.iter().filter(|(k, _)| *k == key).count()
    };
    let key = (Duration::from_millis(1234), Duration::from_millis(5678));
    shared_client(key.0, key.1).unwrap();
    shared_client(key.0, key.1).unwrap();
    assert_eq!(count(key), 1);
    shared_client(key.0, Duration::from_millis(5679)).unwrap();
    assert_eq!(count(key), 1);
    assert_eq!(count((key.0, Duration::from_millis(5679))), 1);
  }
}

//! A byte-level Server-Sent Events parser (the `text/event-stream` format).
//!
//! Bytes are pushed in whatever pieces the network delivers; events come out once their blank
//! line has arrived. Lines end in `\n`, `\r\n` or `\r`; a chunk boundary may fall anywhere,
//! including inside a `\r\n` pair or a multi-byte UTF-8 character, because lines are only
//! decoded once they are complete. Comments (`:` lines), `id:` and `retry:` are skipped.

/// One dispatched event: the `event:` name (if any) and its `data:` lines joined by `\n`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
  pub event: Option<String>,
  pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
  /// Unconsumed bytes; `buf[start..]` is the part not yet split into lines.
  buf: Vec<u8>,
  start: usize,
  /// Bytes before this index (and after `start`) are known to hold no line terminator.
  scanned: usize,
  /// The previous line ended in `\r` at the very end of the buffer; a `\n` that follows belongs to it.
  skip_lf: bool,
  /// The event being built.
  data: String,
  has_data: bool,
  event: Option<String>,
  finished: bool,
}

impl SseParser {
  pub fn new() -> Self {
    Self::default()
  }

  /// Appends bytes from the network.
  pub fn push(&mut self, bytes: &[u8]) {
    if self.start > 0 && (self.start == self.buf.len() || self.start >= 4096) {
      self.buf.drain(..self.start);
      self.scanned = self.scanned.saturating_sub(self.start);
      self.start = 0;
    }
    self.buf.extend_from_slice(bytes);
  }

  /// Marks the end of the body: a last line without a terminator is taken as complete, and a
  /// pending event without its blank line is dispatched by the next `next_event`.
  pub fn finish(&mut self) {
    self.finished = true;
  }

  /// Bytes held for the event being built (unsplit input plus assembled data), to cap memory.
  pub fn pending_len(&self) -> usize {
    self.buf.len() - self.start + self.data.len()
  }

  /// Whether bytes or a partly built event are still held (for truncation reports).
  pub fn has_pending(&self) -> bool {
    self.start < self.buf.len() || self.has_data
  }

  /// The next complete event, if one is buffered.
  pub fn next_event(&mut self) -> Option<SseEvent> {
    loop {
      let rest = &self.buf[self.start..];
      if self.skip_lf && !rest.is_empty() {
        self.skip_lf = false;
        if rest[0] == b'\n' {
          self.start += 1;
          continue;
        }
      }
      let from = self.scanned.max(self.start);
      let found = memchr::memchr2(b'\n', b'\r', &self.buf[from..]);
      let Some(pos) = found.map(|p| p + from - self.start) else {
        self.scanned = self.buf.len();
        if self.finished {
          if !rest.is_empty() {
            let end = self.buf.len();
            let line_start = self.start;
            self.start = end;
            self.take_line(line_start, end);
          }
          return self.dispatch();
        }
        return None;
      };
      let rest = &self.buf[self.start..];
      let line_start = self.start;
      let line_end = self.start + pos;
      let term = rest[pos];
      self.start = line_end + 1;
      if term == b'\r' {
        match self.buf.get(self.start) {
          Some(b'\n') => self.start += 1,
          Some(_) => {}
          None => self.skip_lf = true,
        }
      }
      if line_start == line_end {
        if let Some(ev) = self.dispatch() {
          return Some(ev);
        }
        continue;
      }
      self.take_line(line_start, line_end);
    }
  }

  fn dispatch(&mut self) -> Option<SseEvent> {
    let event = self.event.take();
    if !self.has_data {
      return None;
    }
    self.has_data = false;
    let mut data = std::mem::take(&mut self.data);
    if data.ends_with('\n') {
      data.pop();
    }
    Some(SseEvent { event, data })
  }

  fn take_line(&mut self, from: usize, to: usize) {
    let line = &self.buf[from..to];
    if line.first() == Some(&b':') {
      return;
    }
    let (field, value) = match line.iter().position(|&b| b == b':') {
      Some(i) => {
        let v = &line[i + 1..];
        (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
      }
      None => (line, &line[line.len()..]),
    };
    match field {
      b"data" => {
        self.data.push_str(&String::from_utf8_lossy(value));
        self.data.push('\n');
        self.has_data = true;
      }
      b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
      _ => {}
    }
  }
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;

  fn parse_all(pieces: &[&[u8]]) -> Vec<SseEvent> {
    let mut p = SseParser::new();
    let mut out = Vec::new();
    for piece in pieces {
      p.push(piece);
      while let Some(ev) = p.next_event() {
        out.push(ev);
      }
    }
    p.finish();
    while let Some(ev) = p.next_event() {
      out.push(ev);
    }
    out
  }

  fn ev(event: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
      event: event.map(str::to_string),
      data: data.to_string(),
    }
  }

  struct Rng(u64);
  impl Rng {
    fn next(&mut self) -> u64 {
      self.0 ^= self.0 << 13;
      self.0 ^= self.0 >> 7;
      self.0 ^= self.0 << 17;
      self.0
    }
  }

  fn split_randomly<'a>(bytes: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
      let n = 1 + (rng.next() % 17) as usize;
      let end = (i + n).min(bytes.len());
      pieces.push(&bytes[i..end]);
      i = end;
    }
    pieces
  }

  #[test]
  fn lf_crlf_and_cr_separators() {
    let lf = parse_all(&[b"data: a\n\nevent: x\ndata: b\n\n"]);
    let crlf = parse_all(&[b"data: a\r\n\r\nevent: x\r\ndata: b\r\n\r\n"]);
    let cr = parse_all(&[b"data: a\r\revent: x\rdata: b\r\r"]);
    let want = vec![ev(None, "a"), ev(Some("x"), "b")];
    assert_eq!(lf, want);
    assert_eq!(crlf, want);
    assert_eq!(cr, want);
  }

  #[test]
  fn multi_line_data_comments_and_fields() {
    let got = parse_all(&[
      b": keep-alive\nid: 7\nretry: 100\ndata: one\ndata:two\ndata\n\n: only a comment\n\n",
    ]);
    assert_eq!(got, vec![ev(None, "one\ntwo\n")]);
  }

  #[test]
  fn event_without_data_is_not_dispatched_and_name_resets() {
    let got = parse_all(&[b"event: ping\n\ndata: x\n\n"]);
    assert_eq!(got, vec![ev(None, "x")]);
  }

  #[test]
  fn crlf_split_between_cr_and_lf() {
    let got = parse_all(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\r\n\r\n"]);
    assert_eq!(got, vec![ev(None, "a"), ev(None, "b")]);
  }

  #[test]
  fn utf8_split_inside_a_character() {
    let text = "data: 68°F ÷ 5 — 日本語 🎉\n\n".as_bytes();
    for cut in 0..text.len() {
      let got = parse_all(&[&text[..cut], &text[cut..]]);
      assert_eq!(got, vec![ev(None, "68°F ÷ 5 — 日本語 🎉")], "cut at {cut}");
    }
  }

  #[test]
  fn last_event_without_blank_line_is_flushed_at_finish() {
    let got = parse_all(&[b"event: message_stop\ndata: {\"type\":\"message_stop\"}"]);
    assert_eq!(
      got,
      vec![ev(Some("message_stop"), "{\"type\":\"message_stop\"}")]
    );
  }

  #[test]
  fn random_split_points_give_the_same_events() {
    let fixtures = concat!(
      env!("CARGO_MANIFEST_DIR"),
      "/../../../shared/fixtures/providers"
    );
    for name in [
      "openai-chat-parallel-tool-calls.sse",
      "anthropic-tool-use.sse",
      "openai-chat-structured-output.sse",
    ] {
      let raw = std::fs::read(format!("{fixtures}/{name}")).unwrap();
      let crlf: Vec<u8> = String::from_utf8(raw.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
      for body in [raw, crlf] {
        let whole = parse_all(&[&body]);
        assert!(whole.len() > 5, "{name}");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200 {
          let pieces = split_randomly(&body, &mut rng);
          assert_eq!(parse_all(&pieces), whole, "{name}");
        }
      }
    }
  }

  #[test]
  fn byte_at_a_time() {
    let body = b"event: a\r\ndata: 1\r\n\r\ndata: 2\n\n";
    let pieces: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(parse_all(&pieces), vec![ev(Some("a"), "1"), ev(None, "2")]);
  }

  #[test]
  fn buffer_is_compacted() {
    let mut p = SseParser::new();
    for i in 0..10_000 {
      p.push(format!("data: {i}\n\n").as_bytes());
      assert_eq!(p.next_event().map(|e| e.data), Some(i.to_string()));
    }
    assert!(p.buf.len() < 8192, "{}", p.buf.len());
  }
}

//! Lumos vector store: named indexes of fixed-dimension vectors with JSON metadata.
//!
//! - Search: an HNSW graph (built by background threads) plus an exact scan, used for small
//!   indexes (below `StoreOptions::exact_threshold` live vectors), for vectors the graph has not
//!   reached yet, and for very selective filters. Filters run *during* the graph search.
//! - Scores (higher is better): cosine similarity (1 = same direction, 0 = orthogonal), the dot
//!   product, and for euclidean `1 / (1 + L2 distance)` (1 = identical). Ties keep insertion order.
//! - Storage: f32, or int8 with one scale per vector (cosine vectors are normalized first);
//!   `include_vector` on an int8 index returns the dequantized (approximate) vector.
//! - Persistence (when opened on a directory): an append-only log per index (survives SIGKILL; not fsync'd per write) plus
//!   snapshots written by compaction; see `persist`. The graph is rebuilt after a restart
//!   (queries are exact until it catches up).

#![warn(missing_docs)]

mod distance;
mod eqindex;
pub mod error;
pub mod filter;
mod hnsw;
mod ids;
mod persist;
mod storage;

pub use error::{Result, VectorError};
pub use filter::Filter;
pub use hnsw::HnswParams;

use hashbrown::HashTable;
use hnsw::Graph;
use persist::{Cursor, Log, SnapVec, TAG_DELETE, TAG_UPSERT};
use serde_json::Value;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use storage::Storage;

/// Similarity metric of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
  /// Cosine similarity.
  Cosine,
  /// Inner product.
  DotProduct,
  /// L2 distance, scored as `1 / (1 + distance)`.
  Euclidean,
}

impl Metric {
  /// Mastra's spelling: `cosine`, `dotproduct`, `euclidean`.
  pub fn as_str(&self) -> &'static str {
    match self {
      Metric::Cosine => "cosine",
      Metric::DotProduct => "dotproduct",
      Metric::Euclidean => "euclidean",
    }
  }
  /// Parse Mastra's spelling.
  pub fn parse(s: &str) -> Result<Metric> {
    match s {
      "cosine" => Ok(Metric::Cosine),
      "dotproduct" | "dot" | "dot_product" => Ok(Metric::DotProduct),
      "euclidean" => Ok(Metric::Euclidean),
      _ => Err(VectorError::InvalidInput(format!(
        "unknown metric \"{s}\": use \"cosine\", \"dotproduct\" or \"euclidean\""
      ))),
    }
  }
}

/// How vectors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantization {
  /// 4 bytes per component, exact.
  #[default]
  F32,
  /// 1 byte per component plus a per-vector scale (about 4x smaller, approximate scores).
  I8,
}

impl Quantization {
  /// `f32` or `int8`.
  pub fn as_str(&self) -> &'static str {
    match self {
      Quantization::F32 => "f32",
      Quantization::I8 => "int8",
    }
  }
  fn parse(s: &str) -> Option<Quantization> {
    match s {
      "f32" => Some(Quantization::F32),
      "int8" | "i8" => Some(Quantization::I8),
      _ => None,
    }
  }
}

/// Tuning of a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
  /// HNSW parameters (all indexes).
  pub hnsw: HnswParams,
  /// At or below this many live vectors, queries use the exact scan only.
  pub exact_threshold: usize,
  /// Background graph-building threads (0: the graph is built only by `wait_indexed`).
  pub builder_threads: usize,
  /// Compact an index's log into a snapshot once it exceeds this many bytes (and the size of
  /// the last snapshot).
  pub compact_log_bytes: u64,
}

impl Default for StoreOptions {
  fn default() -> Self {
    StoreOptions {
      hnsw: HnswParams::default(),
      // Past a couple of thousand 384-d vectors a scan reads megabytes per query (memory-bound,
      // ~0.4 ms at 3,000) while the graph touches a few hundred vectors.
      exact_threshold: 2_000,
      // One per core (up to 4): builders insert in parallel under the read lock, so on 2 cores
      // a second builder halves the time during which queries also scan the pending vectors.
      builder_threads: std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4),
      compact_log_bytes: 256 << 20,
    }
  }
}

/// `describe_index` result.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStats {
  /// Vector length.
  pub dimension: usize,
  /// Live vectors.
  pub count: usize,
  /// Metric.
  pub metric: Metric,
  /// Storage kind.
  pub quantization: Quantization,
  /// Live vectors not yet in the HNSW graph (searched exactly meanwhile).
  pub pending: usize,
}

/// One query hit.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
  /// Vector id.
  pub id: String,
  /// Similarity (higher is better; see the crate docs).
  pub score: f64,
  /// Metadata object (`{}` when none was given).
  pub metadata: Value,
  /// The stored vector, when asked for.
  pub vector: Option<Vec<f32>>,
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
  l.read().unwrap_or_else(|e| e.into_inner())
}
fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
  l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
  l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Checks an index name (1-200 of `A-Z a-z 0-9 _ -`, not starting with `-`); public so stores
/// that mirror this one (PgVector) reject a bad name before writing anywhere.
pub fn validate_name(name: &str) -> Result<()> {
  let ok = !name.is_empty()
    && name.len() <= 200
    && !name.starts_with('-')
    && name
      .chars()
      .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
  if ok {
    Ok(())
  } else {
    Err(VectorError::InvalidInput(format!(
      "invalid index name \"{name}\": use 1-200 characters from A-Z a-z 0-9 _ - (not starting with -)"
    )))
  }
}

/// Checks one vector's length and that every component is finite (`what` names it in the error).
pub fn check_vector(v: &[f32], dim: usize, what: &str) -> Result<()> {
  if v.len() != dim {
    return Err(VectorError::DimensionMismatch(format!(
      "{what} has {} dimensions but the index has {dim}: embed with the model the index was created for, or create an index with dimension {}",
      v.len(),
      v.len()
    )));
  }
  if let Some(j) = v.iter().position(|x| !x.is_finite()) {
    return Err(VectorError::InvalidValue(format!(
      "{what} has a non-finite value ({}) at position {j}: vectors must contain only finite numbers",
      v[j]
    )));
  }
  Ok(())
}

/// Metadata `i` as stored: JSON bytes of an object, empty for `null` or `{}`; anything else is
/// `VECTOR_INVALID_INPUT`.
pub fn encode_metadata(m: &Value, i: usize) -> Result<Box<[u8]>> {
  match m {
    Value::Null => Ok(Box::default()),
    Value::Object(o) if o.is_empty() => Ok(Box::default()),
    Value::Object(_) => serde_json::to_vec(m)
      .map(Vec::into_boxed_slice)
      .map_err(|e| VectorError::InvalidInput(format!("metadata[{i}] cannot be serialized: {e}"))),
    _ => Err(VectorError::InvalidInput(format!(
      "metadata[{i}] must be an object (or null), got {}",
      match m {
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        _ => "an array",
      }
    ))),
  }
}

fn decode_metadata(b: &[u8]) -> Value {
  #[cfg(test)]
  tests::DECODES.with(|c| c.set(c.get() + 1));
  if b.is_empty() {
    return Value::Object(Default::default());
  }
  serde_json::from_slice(b).unwrap_or_else(|_| Value::Object(Default::default()))
}

#[derive(Clone, Copy, PartialEq)]
struct Hit {
  d: f32,
  seq: u32,
  slot: u32,
}
impl Eq for Hit {}
impl PartialOrd for Hit {
  fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
    Some(self.cmp(o))
  }
}
impl Ord for Hit {
  fn cmp(&self, o: &Self) -> std::cmp::Ordering {
    self.d.total_cmp(&o.d).then(self.seq.cmp(&o.seq))
  }
}

/// In-memory state of one index.
struct Data {
  st: Storage,
  ids: ids::SlotIds,
  meta: Vec<Box<[u8]>>,
  seq: Vec<u32>,
  next_seq: u32,
  table: HashTable<u32>,
  hasher: RandomState,
  live: usize,
  graph: Graph,
  /// Slots below `claim` were taken by a builder.
  claim: u32,
  /// Equality index of top-level scalar metadata (filter fast path).
  eq: eqindex::EqIndex,
  /// Slots below `prefix` are all processed by builders (linked or skipped). Advanced by
  /// builders under the read lock.
  prefix: AtomicU32,
}

impl Data {
  fn new(dim: usize, metric: Metric, quant: Quantization, params: HnswParams) -> Self {
    Data {
      st: Storage::new(dim, metric, quant),
      ids: ids::SlotIds::default(),
      meta: Vec::new(),
      seq: Vec::new(),
      next_seq: 0,
      table: HashTable::new(),
      hasher: RandomState::new(),
      live: 0,
      graph: Graph::new(params),
      claim: 0,
      eq: eqindex::EqIndex::default(),
      prefix: AtomicU32::new(0),
    }
  }

  fn find(&self, id: &str) -> Option<u32> {
    let h = self.hasher.hash_one(id);
    self
      .table
      .find(h, |&s| self.ids.get(s) == Some(id))
      .copied()
  }

  fn new_slot(&mut self, id: &str, meta: Box<[u8]>, seq: u32) -> u32 {
    let slot = (self.ids.len()) as u32;
    if !meta.is_empty() {
      self.eq.add(slot, &decode_metadata(&meta), self.live);
    }
    self.ids.push(id);
    self.meta.push(meta);
    self.seq.push(seq);
    slot
  }

  fn insert_key(&mut self, id: &str, slot: u32) {
    let Data {
      table, ids, hasher, ..
    } = self;
    let h = hasher.hash_one(id);
    table.insert_unique(h, slot, |&s| hasher.hash_one(ids.get(s).unwrap_or("")));
  }

  fn kill(&mut self, slot: u32) {
    self.ids.kill(slot);
    self.meta[slot as usize] = Box::default();
    self.live -= 1;
    // The slot stays listed in the equality index (queries skip dead slots) until enough
    // kills pile up to be worth a purge.
    if !self.eq.killed(self.live) {
      return;
    }
    let ids = &self.ids;
    self.eq.purge(|s| ids.is_live(s));
  }

  /// Replace a live slot's metadata in place, keeping the equality index exact.
  fn set_meta(&mut self, slot: u32, meta: Box<[u8]>) {
    let old = &self.meta[slot as usize];
    if *old == meta {
      return;
    }
    if !old.is_empty() {
      self.eq.remove(slot, &decode_metadata(old));
    }
    if !meta.is_empty() {
      self.eq.add(slot, &decode_metadata(&meta), self.live);
    }
    self.meta[slot as usize] = meta;
  }

  fn upsert(&mut self, id: &str, v: &[f32], meta: Box<[u8]>) {
    match self.find(id) {
      Some(slot) if slot >= self.claim => {
        // Not yet seen by a graph builder: overwrite in place.
        self.st.set(slot, v);
        self.set_meta(slot, meta);
      }
      Some(old) => {
        let seq = self.seq[old as usize];
        self.kill(old);
        self.st.push(v);
        let slot = self.new_slot(id, meta, seq);
        let h = self.hasher.hash_one(id);
        if let Some(s) = self.table.find_mut(h, |&s| s == old) {
          *s = slot;
        }
        self.live += 1;
      }
      None => {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.st.push(v);
        let slot = self.new_slot(id, meta, seq);
        self.insert_key(id, slot);
        self.live += 1;
      }
    }
  }

  fn delete(&mut self, id: &str) -> bool {
    let Some(slot) = self.find(id) else {
      return false;
    };
    let h = self.hasher.hash_one(id);
    if let Ok(e) = self.table.find_entry(h, |&s| s == slot) {
      e.remove();
    }
    self.kill(slot);
    true
  }

  fn advance_prefix(&self) {
    let mut p = self.prefix.load(Ordering::Acquire);
    while p < self.claim && self.graph.is_done(p) {
      p += 1;
    }
    self.prefix.fetch_max(p, Ordering::AcqRel);
  }

  fn pending(&self) -> usize {
    (self.prefix.load(Ordering::Acquire) as usize..self.ids.len())
      .filter(|&s| self.ids.is_live(s as u32))
      .count()
  }

  fn apply_record(&mut self, rec: &[u8], dim: usize) -> Option<()> {
    let mut c = Cursor::new(rec);
    match c.u8()? {
      TAG_UPSERT => {
        let n = c.u32()?;
        if c.u32()? as usize != dim {
          return None;
        }
        let mut v = Vec::with_capacity(dim);
        for _ in 0..n {
          let id = std::str::from_utf8(c.bytes()?).ok()?.to_owned();
          let meta: Box<[u8]> = c.bytes()?.into();
          c.f32s(dim, &mut v)?;
          self.upsert(&id, &v, meta);
        }
        Some(())
      }
      TAG_DELETE => {
        let id = std::str::from_utf8(c.bytes()?).ok()?;
        self.delete(id);
        Some(())
      }
      _ => None,
    }
  }

  /// Live slots in insertion (seq) order.
  fn live_in_order(&self) -> Vec<u32> {
    let mut slots: Vec<u32> = (0..self.ids.len() as u32)
      .filter(|&s| self.ids.is_live(s))
      .collect();
    slots.sort_by_key(|&s| self.seq[s as usize]);
    slots
  }
}

struct LogState {
  log: Option<Log>,
  generation: u64,
  snapshot_bytes: u64,
}

struct Index {
  name: String,
  dim: usize,
  metric: Metric,
  quant: Quantization,
  dir: Option<PathBuf>,
  data: RwLock<Data>,
  log: Mutex<LogState>,
  deleted: AtomicBool,
  /// When vectors were last written (`clock_nanos`): the builder lets a small tail wait for
  /// writes to go quiet.
  last_write: AtomicU64,
}

/// The builder takes a pending tail at once when it is this long, or once no write came for
/// `QUIET_BEFORE_BUILD`. A few vectors written one at a time (a chat saving its turns) are then
/// linked in one burst instead of competing with every request for the CPU; queries scan the
/// tail exactly meanwhile, which costs microseconds at this length.
const TAIL_BUILD_AT: usize = 256;
const QUIET_BEFORE_BUILD: Duration = Duration::from_millis(100);

/// Monotonic nanoseconds since the first call (for `Index::last_write`).
fn clock_nanos() -> u64 {
  static BASE: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
  BASE
    .get_or_init(std::time::Instant::now)
    .elapsed()
    .as_nanos()
    .min(u128::from(u64::MAX)) as u64
}

fn log_name(generation: u64) -> String {
  format!("log.{generation}")
}

impl Index {
  fn write_config(dir: &Path, dim: usize, metric: Metric, quant: Quantization) -> Result<()> {
    let cfg = serde_json::json!({
        "version": 1, "dimension": dim, "metric": metric.as_str(), "quantization": quant.as_str()
    });
    persist::write_atomic(dir, "config.json", |w| {
      use std::io::Write;
      w.write_all(cfg.to_string().as_bytes())
    })
  }

  fn load(dir: &Path, name: &str, opts: &StoreOptions) -> Result<Option<Index>> {
    let cfg_path = dir.join("config.json");
    let cfg = match std::fs::read(&cfg_path) {
      Ok(b) => b,
      Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
      Err(e) => return Err(VectorError::io(format!("read {}", cfg_path.display()), e)),
    };
    let bad = || VectorError::corrupt(format!("index config {}", cfg_path.display()));
    let cfg: Value = serde_json::from_slice(&cfg).map_err(|_| bad())?;
    let dim = cfg
      .get("dimension")
      .and_then(Value::as_u64)
      .ok_or_else(bad)? as usize;
    let metric = Metric::parse(cfg.get("metric").and_then(Value::as_str).ok_or_else(bad)?)
      .map_err(|_| bad())?;
    let quant = Quantization::parse(
      cfg
        .get("quantization")
        .and_then(Value::as_str)
        .unwrap_or("f32"),
    )
    .ok_or_else(bad)?;
    let mut data = Data::new(dim, metric, quant, opts.hnsw);
    let snap_path = dir.join("snapshot.bin");
    let mut generation = 0;
    let mut snapshot_bytes = 0;
    if let Some(snap) = persist::read_snapshot(&snap_path)? {
      generation = snap.generation;
      snapshot_bytes = snap.body.len() as u64;
      let bad = || VectorError::corrupt(format!("snapshot {}", snap_path.display()));
      let mut c = Cursor::new(&snap.body);
      c.pos = snap.start;
      let mut v = Vec::with_capacity(dim);
      for _ in 0..snap.count {
        let id = std::str::from_utf8(c.bytes().ok_or_else(bad)?)
          .map_err(|_| bad())?
          .to_owned();
        let meta: Box<[u8]> = c.bytes().ok_or_else(bad)?.into();
        match quant {
          Quantization::F32 => {
            c.f32s(dim, &mut v).ok_or_else(bad)?;
            data.upsert(&id, &v, meta);
          }
          Quantization::I8 => {
            let scale = c.f32().ok_or_else(bad)?;
            let aux = c.f32().ok_or_else(bad)?;
            let codes: Vec<i8> = c
              .take(dim)
              .ok_or_else(bad)?
              .iter()
              .map(|b| *b as i8)
              .collect();
            if data.find(&id).is_some() {
              return Err(bad());
            }
            data.st.push_raw_i8(&codes, scale, aux);
            let seq = data.next_seq;
            data.next_seq += 1;
            let slot = data.new_slot(&id, meta, seq);
            data.insert_key(&id, slot);
            data.live += 1;
          }
        }
      }
    }
    let (log, records) = Log::open(&dir.join(log_name(generation)))?;
    for rec in &records {
      data
        .apply_record(rec, dim)
        .ok_or_else(|| VectorError::corrupt(format!("log record in {}", dir.display())))?;
    }
    // Logs of other generations are leftovers of a finished or abandoned compaction.
    if let Ok(rd) = std::fs::read_dir(dir) {
      for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if (n.starts_with("log.") && n != log_name(generation)) || n.ends_with(".tmp") {
          let _ = std::fs::remove_file(e.path());
        }
      }
    }
    Ok(Some(Index {
      name: name.to_owned(),
      dim,
      metric,
      quant,
      dir: Some(dir.to_path_buf()),
      data: RwLock::new(data),
      log: Mutex::new(LogState {
        log: Some(log),
        generation,
        snapshot_bytes,
      }),
      deleted: AtomicBool::new(false),
      last_write: AtomicU64::new(0),
    }))
  }

  fn check_alive(&self) -> Result<()> {
    if self.deleted.load(Ordering::Acquire) {
      return Err(VectorError::IndexNotFound(self.name.clone()));
    }
    Ok(())
  }

  /// Append records (already validated) to the log.
  fn log_write(&self, ls: &mut LogState, payloads: &[Vec<u8>]) -> Result<()> {
    if let Some(log) = ls.log.as_mut() {
      for p in payloads {
        log.append(p)?;
      }
    }
    Ok(())
  }

  fn maybe_compact(&self, ls: &mut LogState, threshold: u64) -> Result<()> {
    let len = ls.log.as_ref().map_or(0, |l| l.len);
    if len > threshold.max(ls.snapshot_bytes) {
      self.compact_locked(ls)?;
    }
    Ok(())
  }

  /// Write a snapshot of the current state and start a fresh log. Caller holds the log lock,
  /// so no write can happen meanwhile.
  fn compact_locked(&self, ls: &mut LogState) -> Result<()> {
    let Some(dir) = self.dir.as_ref() else {
      return Ok(());
    };
    let next = ls.generation + 1;
    {
      let d = read(&self.data);
      let slots = d.live_in_order();
      persist::write_atomic(dir, "snapshot.bin", |w| {
        let mut sw = persist::SnapshotWriter::begin(w, next, slots.len() as u64)?;
        for &s in &slots {
          let id = d.ids.get(s).unwrap_or("");
          let v = match d.st.raw_i8(s) {
            Some((c, sc, aux)) => SnapVec::I8(c, sc, aux),
            None => SnapVec::F32(d.st.get(s)),
          };
          sw.record(id, &d.meta[s as usize], v)?;
        }
        sw.finish()
      })?;
    }
    let snap_len = std::fs::metadata(dir.join("snapshot.bin"))
      .map(|m| m.len())
      .unwrap_or(0);
    let (log, _) = Log::open(&dir.join(log_name(next)))?;
    persist::fsync_dir(dir)?;
    let _ = std::fs::remove_file(dir.join(log_name(ls.generation)));
    ls.log = Some(log);
    ls.generation = next;
    ls.snapshot_bytes = snap_len;
    Ok(())
  }

  /// Insert up to `max` pending slots into the graph. Returns how many were processed.
  /// Slots are claimed a few at a time under the write lock; inserting runs under the read lock,
  /// so builder threads work in parallel and queries go on meanwhile.
  /// Whether the builder should link the pending vectors now; else how long to wait for that.
  fn build_due(&self) -> Result<(), Option<Duration>> {
    let pending = {
      let d = read(&self.data);
      (d.st.len() as u32).saturating_sub(d.claim) as usize
    };
    if pending == 0 {
      return Err(None);
    }
    let quiet =
      Duration::from_nanos(clock_nanos().saturating_sub(self.last_write.load(Ordering::Relaxed)));
    if pending >= TAIL_BUILD_AT || quiet >= QUIET_BEFORE_BUILD {
      Ok(())
    } else {
      Err(Some(QUIET_BEFORE_BUILD - quiet))
    }
  }

  fn build_step(&self, max: usize) -> usize {
    const BATCH: u32 = 16;
    let mut done = 0;
    while done < max {
      let (start, end) = {
        let mut g = write(&self.data);
        let d = &mut *g;
        let len = d.st.len() as u32;
        if d.claim >= len {
          break;
        }
        let (start, end) = (d.claim, len.min(d.claim + BATCH));
        d.claim = end;
        for s in start..end {
          if !d.ids.is_live(s) {
            d.graph.mark_skipped(s);
          } else {
            d.graph.claim(s);
          }
        }
        (start, end)
      };
      for slot in start..end {
        // The read lock is taken per insert so a waiting upsert (write lock) is not held back
        // by a whole batch.
        let d = read(&self.data);
        if d.graph.is_done(slot) {
          continue;
        }
        while !d.graph.link(&d.st, d.graph.plan(&d.st, slot)) {}
      }
      read(&self.data).advance_prefix();
      done += (end - start) as usize;
    }
    done
  }

  fn exact(
    &self,
    d: &Data,
    dist: &impl Fn(u32) -> f32,
    ok: &impl Fn(u32) -> bool,
    range: impl IntoIterator<Item = u32>,
    k: usize,
    heap: &mut BinaryHeap<Hit>,
  ) {
    for s in range {
      if !d.ids.is_live(s) || !ok(s) {
        continue;
      }
      let h = Hit {
        d: dist(s),
        seq: d.seq[s as usize],
        slot: s,
      };
      if heap.len() < k {
        heap.push(h);
      } else if heap.peek().is_some_and(|w| h < *w) {
        heap.pop();
        heap.push(h);
      }
    }
  }

  /// `fixed_ef`: the beam `set_ef_search` set; 0 = `auto_ef` for this index's size.
  fn query(
    &self,
    opts: &StoreOptions,
    fixed_ef: usize,
    q: &[f32],
    top_k: usize,
    filter: Option<&Filter>,
    include_vector: bool,
  ) -> Result<Vec<QueryResult>> {
    check_vector(q, self.dim, "the query vector")?;
    if top_k == 0 {
      return Ok(Vec::new());
    }
    let d = read(&self.data);
    let ef_search = match fixed_ef {
      0 => auto_ef(opts.hnsw.ef_search, d.live),
      fixed => fixed,
    };
    let p = d.st.prepare(q);
    let dist = |s: u32| d.st.dist(&p, s);
    let matches = |s: u32| match filter {
      None => true,
      Some(f) => f.matches(&decode_metadata(&d.meta[s as usize])),
    };
    let n = d.ids.len() as u32;
    let mut heap: BinaryHeap<Hit> = BinaryHeap::with_capacity(top_k + 1);
    let prefix = d.prefix.load(Ordering::Acquire);
    let mut use_exact = d.live <= opts.exact_threshold || prefix == 0;
    let mut done = false;
    if let Some(plan) = filter.and_then(|f| d.eq.plan(f)) {
      // Equality fast path: only the index's candidates are considered, and the filter is
      // evaluated on them only when the index does not decide it alone.
      let residual = if plan.exact { None } else { filter };
      let ok = |s: u32| match residual {
        None => true,
        Some(f) => f.matches(&decode_metadata(&d.meta[s as usize])),
      };
      // Killed slots may still be listed; `exact` and `accept` skip them.
      let cands: &[u32] = &plan.slots;
      // A list holding every slot ever made holds every live one: no need to count.
      let live_cands = if cands.len() == d.ids.len() {
        d.live
      } else {
        cands.iter().filter(|&&s| d.ids.is_live(s)).count()
      };
      // A scan costs one distance per candidate; the graph wins once candidates are many.
      if use_exact || live_cands <= 2048 || live_cands * 50 <= d.live {
        self.exact(&d, &dist, &ok, cands.iter().copied(), top_k, &mut heap);
      } else {
        // When every live vector matches (one resource owning the index), a liveness check
        // replaces the bitset.
        let every = plan.exact && live_cands == d.live;
        let mut bits = vec![0u64; if every { 0 } else { (n as usize).div_ceil(64) }];
        if !every {
          for &s in cands {
            bits[(s / 64) as usize] |= 1 << (s % 64);
          }
        }
        let accept = |s: u32| {
          s < prefix
            && d.ids.is_live(s)
            && (every || (bits[(s / 64) as usize] >> (s % 64)) & 1 == 1)
            && ok(s)
        };
        let ef = ef_search.max(top_k);
        let (found, exhausted) = d
          .graph
          .search(&d.st, &dist, &accept, ef, (ef * 64).max(20_000));
        for c in found {
          heap.push(Hit {
            d: c.0,
            seq: d.seq[c.1 as usize],
            slot: c.1,
          });
          if heap.len() > top_k {
            heap.pop();
          }
        }
        let split = cands.partition_point(|&s| s < prefix);
        self.exact(
          &d,
          &dist,
          &ok,
          cands[split..].iter().copied(),
          top_k,
          &mut heap,
        );
        if heap.len() < top_k && (exhausted || heap.len() < live_cands) {
          heap.clear();
          self.exact(&d, &dist, &ok, cands.iter().copied(), top_k, &mut heap);
        }
      }
      done = true;
    } else if !use_exact && filter.is_some() {
      // Estimate selectivity on a sample; very selective filters go straight to a scan.
      let step = (n as usize / 512).max(1);
      let (mut seen, mut hit) = (0usize, 0usize);
      for s in (0..n).step_by(step) {
        if d.ids.is_live(s) {
          seen += 1;
          hit += matches(s) as usize;
        }
      }
      use_exact = seen > 0 && (hit as f64) < 0.02 * seen as f64;
    }
    if done {
    } else if use_exact {
      self.exact(&d, &dist, &matches, 0..n, top_k, &mut heap);
    } else {
      let ef = ef_search.max(top_k);
      let accept = |s: u32| s < prefix && d.ids.is_live(s) && matches(s);
      let budget = if filter.is_some() {
        (ef * 64).max(20_000)
      } else {
        0
      };
      let (found, exhausted) = d.graph.search(&d.st, &dist, &accept, ef, budget);
      for c in found {
        let h = Hit {
          d: c.0,
          seq: d.seq[c.1 as usize],
          slot: c.1,
        };
        heap.push(h);
        if heap.len() > top_k {
          heap.pop();
        }
      }
      // Vectors the graph has not reached yet are scanned exactly.
      self.exact(&d, &dist, &matches, prefix..n, top_k, &mut heap);
      if filter.is_some() && heap.len() < top_k && (exhausted || heap.len() < d.live) {
        heap.clear();
        self.exact(&d, &dist, &matches, 0..n, top_k, &mut heap);
      }
    }
    let mut hits: Vec<(f64, Hit)> = heap
      .into_vec()
      .into_iter()
      .map(|h| (d.st.exact_score(q, h.slot), h))
      .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.seq.cmp(&b.1.seq)));
    Ok(
      hits
        .into_iter()
        .map(|(score, h)| QueryResult {
          id: d.ids.get(h.slot).unwrap_or("").to_owned(),
          score,
          metadata: decode_metadata(&d.meta[h.slot as usize]),
          vector: include_vector.then(|| d.st.get(h.slot)),
        })
        .collect(),
    )
  }
}

struct Shared {
  dir: Option<PathBuf>,
  opts: StoreOptions,
  indexes: RwLock<HashMap<String, Arc<Index>>>,
  work: Mutex<u64>,
  cv: Condvar,
  stop: AtomicBool,
  /// The beam set by `set_ef_search`; 0 = `auto_ef`.
  ef_search: std::sync::atomic::AtomicUsize,
}

/// The search beam for an index of `live` vectors: `base` up to 100,000, then growing as
/// (live / 100,000)^0.8 (up to 512). A fixed beam loses recall as the graph grows: at 1M int8
/// vectors ef 96 found 0.83 of the true top 10 and ef 400 0.95.
fn auto_ef(base: usize, live: usize) -> usize {
  if live <= 100_000 {
    return base;
  }
  let scaled = base as f64 * (live as f64 / 100_000.0).powf(0.8);
  (scaled.round() as usize).clamp(base, 512.max(base))
}

impl Shared {
  fn index(&self, name: &str) -> Result<Arc<Index>> {
    read(&self.indexes)
      .get(name)
      .cloned()
      .ok_or_else(|| VectorError::IndexNotFound(name.to_owned()))
  }
  fn notify(&self) {
    *lock(&self.work) += 1;
    self.cv.notify_all();
  }
}

/// Graph building is background work: on a busy machine it yields the CPU to the threads that
/// answer requests (queries scan the not-yet-linked tail exactly meanwhile, so nothing waits
/// for it). With 2 cores, a builder at normal priority took a core from the request path for
/// ~100 ms in every 256 saved messages. Best effort: an unsupported platform keeps the default.
fn lower_thread_priority() {
  #[cfg(target_os = "linux")]
  // SAFETY: plain syscalls on the calling thread; on Linux a thread id names one thread for
  // PRIO_PROCESS, so only this builder thread is reniced.
  unsafe {
    let tid = libc::gettid();
    let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, BUILDER_NICE);
  }
  #[cfg(target_vendor = "apple")]
  // SAFETY: sets the QoS class of the calling thread only.
  unsafe {
    let _ = libc::pthread_set_qos_class_self_np(libc::qos_class_t::QOS_CLASS_UTILITY, 0);
  }
}

/// CPU share against a normal thread under contention: weight 110 vs 1024 (about 10 %), so the
/// graph still catches up on a machine that is never idle.
#[cfg(target_os = "linux")]
const BUILDER_NICE: libc::c_int = 10;

fn builder_loop(sh: Arc<Shared>) {
  lower_thread_priority();
  loop {
    if sh.stop.load(Ordering::Acquire) {
      return;
    }
    let seen = *lock(&sh.work);
    let list: Vec<Arc<Index>> = read(&sh.indexes).values().cloned().collect();
    let mut did = 0;
    let mut wait = Duration::from_millis(200);
    for ix in list {
      if ix.deleted.load(Ordering::Acquire) {
        continue;
      }
      match ix.build_due() {
        Ok(()) => did += ix.build_step(256),
        Err(Some(later)) => wait = wait.min(later),
        Err(None) => {}
      }
      if sh.stop.load(Ordering::Acquire) {
        return;
      }
    }
    if did == 0 {
      let g = lock(&sh.work);
      if *g == seen {
        let _ = sh.cv.wait_timeout(g, wait);
      }
    }
  }
}

/// A set of named vector indexes, in memory or persisted under a directory.
/// All methods take `&self`; the store is `Send + Sync` and queries run in parallel.
pub struct VectorStore {
  shared: Arc<Shared>,
  builders: Vec<JoinHandle<()>>,
}

impl Drop for VectorStore {
  fn drop(&mut self) {
    self.shared.stop.store(true, Ordering::Release);
    self.shared.notify();
    for h in self.builders.drain(..) {
      let _ = h.join();
    }
  }
}

impl VectorStore {
  /// Open a store: `None` keeps everything in memory, `Some(dir)` persists under `dir`
  /// (created if missing) and loads the indexes already there.
  pub fn open(dir: Option<&Path>) -> Result<VectorStore> {
    Self::open_with(dir, StoreOptions::default())
  }

  /// `open` with explicit options.
  pub fn open_with(dir: Option<&Path>, opts: StoreOptions) -> Result<VectorStore> {
    let mut indexes = HashMap::new();
    if let Some(dir) = dir {
      std::fs::create_dir_all(dir)
        .map_err(|e| VectorError::io(format!("create {}", dir.display()), e))?;
      let rd = std::fs::read_dir(dir)
        .map_err(|e| VectorError::io(format!("list {}", dir.display()), e))?;
      for e in rd {
        let e = e.map_err(|e| VectorError::io(format!("list {}", dir.display()), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !path.is_dir() {
          continue;
        }
        if name.starts_with(".trash-") {
          let _ = std::fs::remove_dir_all(&path);
          continue;
        }
        if validate_name(&name).is_err() {
          continue;
        }
        match Index::load(&path, &name, &opts)? {
          Some(ix) => {
            indexes.insert(name, Arc::new(ix));
          }
          // A directory without config.json is an interrupted create_index.
          None => {
            let _ = std::fs::remove_dir_all(&path);
          }
        }
      }
    }
    let shared = Arc::new(Shared {
      dir: dir.map(Path::to_path_buf),
      opts,
      indexes: RwLock::new(indexes),
      work: Mutex::new(0),
      cv: Condvar::new(),
      stop: AtomicBool::new(false),
      ef_search: std::sync::atomic::AtomicUsize::new(0),
    });
    let mut builders = Vec::new();
    for i in 0..shared.opts.builder_threads {
      let sh = shared.clone();
      let h = std::thread::Builder::new()
        .name(format!("lumos-vector-build-{i}"))
        .spawn(move || builder_loop(sh))
        .map_err(|e| VectorError::io("spawn index builder thread", e))?;
      builders.push(h);
    }
    Ok(VectorStore { shared, builders })
  }

  /// Create an index. Idempotent for the same dimension and metric (the quantization of an
  /// existing index is kept); another dimension or metric is `VECTOR_INDEX_EXISTS`.
  pub fn create_index(
    &self,
    name: &str,
    dimension: usize,
    metric: Metric,
    quantization: Quantization,
  ) -> Result<()> {
    validate_name(name)?;
    if dimension == 0 || dimension > 65_536 {
      return Err(VectorError::InvalidInput(format!(
        "invalid dimension {dimension} for index \"{name}\": use 1..=65536 (the length of your embeddings)"
      )));
    }
    let mut map = write(&self.shared.indexes);
    if let Some(ix) = map.get(name) {
      if ix.dim == dimension && ix.metric == metric {
        return Ok(());
      }
      return Err(VectorError::IndexExists {
        name: name.to_owned(),
        existing_dimension: ix.dim,
        existing_metric: ix.metric.as_str(),
        dimension,
        metric: metric.as_str(),
      });
    }
    let dir = match &self.shared.dir {
      Some(root) => {
        let d = root.join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d)
          .map_err(|e| VectorError::io(format!("create {}", d.display()), e))?;
        Index::write_config(&d, dimension, metric, quantization)?;
        persist::fsync_dir(root)?;
        Some(d)
      }
      None => None,
    };
    let log = match &dir {
      Some(d) => Some(Log::open(&d.join(log_name(0)))?.0),
      None => None,
    };
    let ix = Index {
      name: name.to_owned(),
      dim: dimension,
      metric,
      quant: quantization,
      dir,
      data: RwLock::new(Data::new(
        dimension,
        metric,
        quantization,
        self.shared.opts.hnsw,
      )),
      log: Mutex::new(LogState {
        log,
        generation: 0,
        snapshot_bytes: 0,
      }),
      deleted: AtomicBool::new(false),
      last_write: AtomicU64::new(0),
    };
    map.insert(name.to_owned(), Arc::new(ix));
    Ok(())
  }

  /// Names of all indexes, sorted.
  pub fn list_indexes(&self) -> Vec<String> {
    let mut v: Vec<String> = read(&self.shared.indexes).keys().cloned().collect();
    v.sort();
    v
  }

  /// Dimension, live count and metric of an index.
  pub fn describe_index(&self, name: &str) -> Result<IndexStats> {
    let ix = self.shared.index(name)?;
    let d = read(&ix.data);
    Ok(IndexStats {
      dimension: ix.dim,
      count: d.live,
      metric: ix.metric,
      quantization: ix.quant,
      pending: d.pending(),
    })
  }

  /// Delete an index and its files.
  pub fn delete_index(&self, name: &str) -> Result<()> {
    let ix = {
      let mut map = write(&self.shared.indexes);
      map
        .remove(name)
        .ok_or_else(|| VectorError::IndexNotFound(name.to_owned()))?
    };
    let mut ls = lock(&ix.log);
    ix.deleted.store(true, Ordering::Release);
    ls.log = None;
    if let (Some(root), Some(dir)) = (&self.shared.dir, &ix.dir) {
      let trash = root.join(format!(".trash-{name}-{}", uuid::Uuid::new_v4().simple()));
      std::fs::rename(dir, &trash)
        .map_err(|e| VectorError::io(format!("remove {}", dir.display()), e))?;
      persist::fsync_dir(root)?;
      let _ = std::fs::remove_dir_all(&trash);
    }
    Ok(())
  }

  /// Insert or replace vectors. `vectors` is flat (`n × dimension`); `metadata` has `n`
  /// objects or is empty; `ids` (when given) has `n` non-empty strings, else UUID v4s are made.
  /// The whole batch is validated before anything is written; on return it is durable.
  pub fn upsert(
    &self,
    name: &str,
    ids: Option<Vec<String>>,
    vectors: &[f32],
    metadata: Vec<Value>,
  ) -> Result<Vec<String>> {
    let ix = self.shared.index(name)?;
    let dim = ix.dim;
    if !vectors.len().is_multiple_of(dim) {
      return Err(VectorError::DimensionMismatch(format!(
        "upsert into \"{name}\" got {} numbers, which is not a whole number of {dim}-dimension vectors: every vector must have exactly {dim} values",
        vectors.len()
      )));
    }
    let n = vectors.len() / dim;
    if !metadata.is_empty() && metadata.len() != n {
      return Err(VectorError::InvalidInput(format!(
        "upsert into \"{name}\" got {n} vectors but {} metadata entries: pass one metadata object per vector, or none",
        metadata.len()
      )));
    }
    let ids = match ids {
      Some(ids) => {
        if ids.len() != n {
          return Err(VectorError::InvalidInput(format!(
            "upsert into \"{name}\" got {n} vectors but {} ids: pass one id per vector, or none to generate them",
            ids.len()
          )));
        }
        if let Some(i) = ids.iter().position(String::is_empty) {
          return Err(VectorError::InvalidInput(format!(
            "ids[{i}] is empty: ids must be non-empty strings"
          )));
        }
        ids
      }
      None => (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect(),
    };
    for (i, v) in vectors.chunks_exact(dim).enumerate() {
      check_vector(v, dim, &format!("vectors[{i}]"))?;
    }
    let metas: Vec<Box<[u8]>> = if metadata.is_empty() {
      vec![Box::default(); n]
    } else {
      metadata
        .iter()
        .enumerate()
        .map(|(i, m)| encode_metadata(m, i))
        .collect::<Result<_>>()?
    };
    if n == 0 {
      return Ok(ids);
    }
    // Log records of at most ~64 MiB each.
    let mut payloads = Vec::new();
    if ix.dir.is_some() {
      let mut i = 0;
      while i < n {
        // Sized up front: growing it vector by vector was most of an upsert's allocations.
        let row = |j: usize| 8 + ids[j].len() + metas[j].len() + 4 * dim;
        let want = (i..n).map(row).sum::<usize>().min((64 << 20) + row(i));
        let mut b = Vec::with_capacity(9 + want);
        b.push(TAG_UPSERT);
        persist::put_u32(&mut b, 0);
        persist::put_u32(&mut b, dim as u32);
        let mut count = 0u32;
        while i < n && (count == 0 || b.len() < (64 << 20)) {
          persist::put_bytes(&mut b, ids[i].as_bytes());
          persist::put_bytes(&mut b, &metas[i]);
          persist::put_f32s(&mut b, &vectors[i * dim..(i + 1) * dim]);
          count += 1;
          i += 1;
        }
        b[1..5].copy_from_slice(&count.to_le_bytes());
        payloads.push(b);
      }
    }
    {
      let mut ls = lock(&ix.log);
      ix.check_alive()?;
      ix.log_write(&mut ls, &payloads)?;
      drop(payloads);
      {
        let mut d = write(&ix.data);
        for (i, meta) in metas.into_iter().enumerate() {
          d.upsert(&ids[i], &vectors[i * dim..(i + 1) * dim], meta);
        }
      }
      ix.last_write.store(clock_nanos(), Ordering::Relaxed);
      ix.maybe_compact(&mut ls, self.shared.opts.compact_log_bytes)?;
    }
    self.shared.notify();
    Ok(ids)
  }

  /// Nearest neighbours of `query`, best first, at most `top_k`, restricted by `filter`.
  pub fn query(
    &self,
    name: &str,
    query: &[f32],
    top_k: usize,
    filter: Option<&Value>,
    include_vector: bool,
  ) -> Result<Vec<QueryResult>> {
    let ix = self.shared.index(name)?;
    let compiled = match filter {
      Some(f) => match Filter::compile(f)? {
        Filter::True => None,
        c => Some(c),
      },
      None => None,
    };
    ix.query(
      &self.shared.opts,
      self.shared.ef_search.load(Ordering::Relaxed),
      query,
      top_k,
      compiled.as_ref(),
      include_vector,
    )
  }

  /// Replace the vector and/or the metadata of one id. Returns false when the id is absent.
  pub fn update_vector(
    &self,
    name: &str,
    id: &str,
    vector: Option<&[f32]>,
    metadata: Option<&Value>,
  ) -> Result<bool> {
    let ix = self.shared.index(name)?;
    if vector.is_none() && metadata.is_none() {
      return Err(VectorError::InvalidInput(
        "updateVector needs update.vector and/or update.metadata".into(),
      ));
    }
    if let Some(v) = vector {
      check_vector(v, ix.dim, "update.vector")?;
    }
    let new_meta = metadata.map(|m| encode_metadata(m, 0)).transpose()?;
    let mut ls = lock(&ix.log);
    ix.check_alive()?;
    let (vec_now, meta_now) = {
      let d = read(&ix.data);
      let Some(slot) = d.find(id) else {
        return Ok(false);
      };
      let v = match vector {
        Some(v) => v.to_vec(),
        None => d.st.get(slot),
      };
      let m = new_meta
        .clone()
        .unwrap_or_else(|| d.meta[slot as usize].clone());
      (v, m)
    };
    if ix.dir.is_some() {
      let mut b = vec![TAG_UPSERT];
      persist::put_u32(&mut b, 1);
      persist::put_u32(&mut b, ix.dim as u32);
      persist::put_bytes(&mut b, id.as_bytes());
      persist::put_bytes(&mut b, &meta_now);
      persist::put_f32s(&mut b, &vec_now);
      ix.log_write(&mut ls, &[b])?;
    }
    {
      let mut d = write(&ix.data);
      if vector.is_some() {
        d.upsert(id, &vec_now, meta_now);
        ix.last_write.store(clock_nanos(), Ordering::Relaxed);
      } else if let Some(slot) = d.find(id) {
        d.set_meta(slot, meta_now);
      }
    }
    ix.maybe_compact(&mut ls, self.shared.opts.compact_log_bytes)?;
    drop(ls);
    self.shared.notify();
    Ok(true)
  }

  /// Delete one vector. Returns false when the id is absent.
  pub fn delete_vector(&self, name: &str, id: &str) -> Result<bool> {
    let ix = self.shared.index(name)?;
    let mut ls = lock(&ix.log);
    ix.check_alive()?;
    if read(&ix.data).find(id).is_none() {
      return Ok(false);
    }
    if ix.dir.is_some() {
      let mut b = vec![TAG_DELETE];
      persist::put_bytes(&mut b, id.as_bytes());
      ix.log_write(&mut ls, &[b])?;
    }
    write(&ix.data).delete(id);
    ix.maybe_compact(&mut ls, self.shared.opts.compact_log_bytes)?;
    Ok(true)
  }

  /// The record stored under `id`, if any (score 1.0, vector included).
  pub fn get(&self, name: &str, id: &str) -> Result<Option<QueryResult>> {
    let ix = self.shared.index(name)?;
    let d = read(&ix.data);
    Ok(d.find(id).map(|s| QueryResult {
      id: id.to_owned(),
      score: 1.0,
      metadata: decode_metadata(&d.meta[s as usize]),
      vector: Some(d.st.get(s)),
    }))
  }

  /// Compact an index's log into a snapshot now.
  pub fn compact(&self, name: &str) -> Result<()> {
    let ix = self.shared.index(name)?;
    let mut ls = lock(&ix.log);
    ix.check_alive()?;
    ix.compact_locked(&mut ls)
  }

  /// Block until every vector of the index is in the HNSW graph (the calling thread helps).
  pub fn wait_indexed(&self, name: &str) -> Result<()> {
    let ix = self.shared.index(name)?;
    loop {
      ix.build_step(1024);
      {
        let d = read(&ix.data);
        if d.prefix.load(Ordering::Acquire) as usize >= d.st.len() {
          return Ok(());
        }
      }
      std::thread::sleep(Duration::from_millis(1));
    }
  }

  /// Fix the search beam width (recall/speed trade-off) for later queries, whatever the index
  /// size (by default it widens with the size, see `auto_ef`).
  pub fn set_ef_search(&self, ef: usize) {
    self.shared.ef_search.store(ef.max(1), Ordering::Relaxed);
  }

  /// Approximate heap bytes used by an index (vectors, graph, ids, metadata).
  pub fn memory_bytes(&self, name: &str) -> Result<usize> {
    let ix = self.shared.index(name)?;
    let d = read(&ix.data);
    let ids = d.ids.heap_bytes();
    let meta: usize = d.meta.iter().map(|m| 16 + m.len()).sum();
    Ok(
      d.st.heap_bytes()
        + d.graph.heap_bytes()
        + ids
        + meta
        + d.seq.capacity() * 4
        + d.table.capacity() * 5
        + d.eq.heap_bytes(),
    )
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
  use super::*;
  use serde_json::json;
  use std::cell::Cell;

  thread_local! {
    /// Metadata decodes on this thread (queries run on the caller's thread).
    pub(crate) static DECODES: Cell<u64> = const { Cell::new(0) };
  }

  fn decodes() -> u64 {
    DECODES.with(Cell::get)
  }

  #[test]
  fn the_search_beam_widens_past_100k_vectors() {
    assert_eq!(auto_ef(96, 3_000), 96);
    assert_eq!(auto_ef(96, 100_000), 96);
    let at_1m = auto_ef(96, 1_000_000);
    assert!((500..=512).contains(&at_1m), "{at_1m}");
    assert_eq!(auto_ef(96, 50_000_000), 512);
    assert_eq!(auto_ef(600, 1_000_000), 600);
  }

  #[test]
  fn equality_filters_skip_decoding_non_candidates() {
    let s = VectorStore::open_with(
      None,
      StoreOptions {
        exact_threshold: 0,
        builder_threads: 0,
        ..Default::default()
      },
    )
    .unwrap();
    s.create_index("m", 4, Metric::Cosine, Quantization::F32)
      .unwrap();
    let n = 6000;
    let v: Vec<f32> = (0..n * 4)
      .map(|i| ((i * 7919) % 101) as f32 - 50.0)
      .collect();
    let metas = (0..n)
      .map(|i| json!({"resource_id": format!("r{}", i % 600), "all": "x", "k": i % 3, "msg": format!("m{i}")}))
      .collect();
    s.upsert("m", None, &v, metas).unwrap();
    s.wait_indexed("m").unwrap();
    let q = [1.0, 0.5, -0.2, 0.1];
    for f in [
      json!({"resource_id": "r7"}),
      json!({"all": "x"}),
      json!({"resource_id": {"$in": ["r1", "r2"]}}),
    ] {
      let before = decodes();
      let r = s.query("m", &q, 5, Some(&f), false).unwrap();
      // Only the returned hits' metadata is decoded.
      assert_eq!(decodes() - before, r.len() as u64, "{f}");
      assert_eq!(r.len(), 5);
    }
    // A residual condition is checked on the candidates only (10 of them), not on all 6000.
    let before = decodes();
    let f = json!({"resource_id": "r7", "k": {"$gte": 1}});
    let r = s.query("m", &q, 5, Some(&f), false).unwrap();
    assert!(decodes() - before <= 10 + r.len() as u64);
    assert!(r.iter().all(|h| h.metadata["k"].as_u64().unwrap() >= 1));
    // The near-unique field is a hash column: its one candidate is checked, nothing else decoded.
    let ix = s.shared.index("m").unwrap();
    {
      let d = read(&ix.data);
      let plan = d
        .eq
        .plan(&Filter::compile(&json!({"msg": "m1"})).unwrap())
        .unwrap();
      assert_eq!((&plan.slots[..], plan.exact), (&[1u32][..], false));
      assert!(
        d.eq
          .plan(&Filter::compile(&json!({"k": 1.0})).unwrap())
          .is_some_and(|p| p.exact)
      );
    }
    let before = decodes();
    let r = s
      .query(
        "m",
        &q,
        5,
        Some(&json!({"msg": {"$in": ["m1", "m5999", "nope"]}})),
        false,
      )
      .unwrap();
    let mut got: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
    got.sort();
    assert_eq!(got.len(), 2);
    assert!(
      r.iter()
        .all(|h| ["m1", "m5999"].contains(&h.metadata["msg"].as_str().unwrap()))
    );
    // Two candidates checked, two hits returned.
    assert_eq!(decodes() - before, 4);
  }

  /// Near-unique fields (hash columns) against a brute-force oracle through in-place metadata
  /// changes, re-upserts, deletes, arrays and values shared by two slots.
  #[test]
  fn hash_column_filters_match_the_oracle() {
    let s = VectorStore::open_with(
      None,
      StoreOptions {
        builder_threads: 1,
        ..Default::default()
      },
    )
    .unwrap();
    s.create_index("u", 4, Metric::Cosine, Quantization::F32)
      .unwrap();
    let n = 10_000usize;
    let vec_of = |i: usize| -> Vec<f32> {
      (0..4)
        .map(|j| (((i * 31 + j * 7) % 17) as f32) - 8.5)
        .collect()
    };
    let mut metas: Vec<Value> = (0..n)
      .map(|i| json!({ "u": format!("u{i}"), "p": (i * 2 / 3) as u64, "t": i % 7 }))
      .collect();
    let mut alive = vec![true; n];
    let flat: Vec<f32> = (0..n).flat_map(vec_of).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    s.upsert("u", Some(ids.clone()), &flat, metas.clone())
      .unwrap();
    let check = |metas: &[Value], alive: &[bool]| {
      let ix = s.shared.index("u").unwrap();
      {
        let d = read(&ix.data);
        for f in ["u", "p"] {
          assert!(d.eq.is_column(f), "{f} should be a column");
        }
      }
      let cases = [
        json!({"u": "u17"}),
        json!({"u": {"$in": ["u3", "u9000", "u9999", "missing"]}}),
        json!({"p": 4000}),
        json!({"p": {"$in": [1, 2.0, 6000]}}),
        json!({"u": "u42", "t": {"$ne": 0}}),
        json!({"$and": [{"p": 10}, {"t": {"$gte": 0}}]}),
        json!({"u": "shared"}),
        json!({"u": "tagged"}),
      ];
      for f in cases {
        let c = Filter::compile(&f).unwrap();
        let mut want: Vec<String> = (0..metas.len())
          .filter(|&i| alive[i] && c.matches(&metas[i]))
          .map(|i| format!("v{i}"))
          .collect();
        want.sort();
        let mut got: Vec<String> = s
          .query("u", &[1.0, 0.2, 0.3, 0.4], 50, Some(&f), false)
          .unwrap()
          .into_iter()
          .map(|h| h.id)
          .collect();
        got.sort();
        assert_eq!(got, want, "{f}");
      }
    };
    check(&metas, &alive);
    // In-place metadata changes (one value shared by two slots, an array), re-upserts, deletes.
    for (i, m) in [
      (5, json!({"u": "shared", "p": 1})),
      (6, json!({"u": "shared"})),
      (7, json!({"u": ["tagged", "other"], "p": 4000})),
      (8, json!({"t": 3})),
    ] {
      assert!(s.update_vector("u", &ids[i], None, Some(&m)).unwrap());
      metas[i] = m;
    }
    s.upsert(
      "u",
      Some(vec![ids[17].clone()]),
      &vec_of(1),
      vec![json!({"u": "u9999"})],
    )
    .unwrap();
    metas[17] = json!({"u": "u9999"});
    for i in [3, 4000, 6001] {
      assert!(s.delete_vector("u", &ids[i]).unwrap());
      alive[i] = false;
    }
    check(&metas, &alive);
  }

  #[test]
  fn mass_deletes_purge_the_equality_index() {
    let s = VectorStore::open_with(
      None,
      StoreOptions {
        builder_threads: 0,
        ..Default::default()
      },
    )
    .unwrap();
    s.create_index("m", 2, Metric::Euclidean, Quantization::F32)
      .unwrap();
    let n = 12_000;
    let v: Vec<f32> = (0..n * 2).map(|i| i as f32).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    let metas = (0..n).map(|i| json!({"r": i % 100})).collect();
    s.upsert("m", Some(ids.clone()), &v, metas).unwrap();
    for id in &ids[..10_000] {
      assert!(s.delete_vector("m", id).unwrap());
    }
    let ix = s.shared.index("m").unwrap();
    // Purges ran (after 4097 and 8194 kills): r=7 lists 38 slots, not all 120 ever listed.
    let d = read(&ix.data);
    let plan = d
      .eq
      .plan(&Filter::compile(&json!({"r": 7})).unwrap())
      .unwrap();
    assert_eq!(plan.slots.len(), 38);
    drop(plan);
    drop(d);
    let r = s
      .query("m", &[0.0, 0.0], 100, Some(&json!({"r": 7})), false)
      .unwrap();
    let got: Vec<&str> = r.iter().map(|h| h.id.as_str()).collect();
    let want: Vec<String> = (10_000..n)
      .filter(|i| i % 100 == 7)
      .map(|i| format!("v{i}"))
      .collect();
    assert_eq!(got, want);
  }
}

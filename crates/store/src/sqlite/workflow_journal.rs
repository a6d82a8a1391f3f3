//! The workflow journal: how the SQLite store makes a workflow step durable without a SQLite
//! commit per step.
//!
//! A SQLite commit writes every page it touches (4 KiB each) to the WAL, and a checkpoint writes
//! them again: at one commit per step that is ~10 KB of I/O for a step whose record is 150
//! bytes. Instead, every change to a workflow run (begin, claim, step, end) is one framed
//! entry appended to `<database>-workflow-journal` with a single write, and the journal's runs
//! are folded into the SQLite tables in one transaction once it holds `FOLD_AT` bytes (4 MiB) (or when
//! runs are listed or deleted, which read the tables). Durability is the database's: a written
//! entry survives the process being killed; with `Synchronous::Full` each entry is also
//! fsynced.
//!
//! Every process and every store instance on the database takes an exclusive `flock` on the
//! journal for each change, first applies what others appended since it last looked (its
//! in-memory view of the journal's runs), then decides (an epoch check, a claim) and appends.
//! So checks and writes from different processes never interleave, as with `BEGIN IMMEDIATE`.
//!
//! File layout: a 16-byte header (`LUMOSWJ1`, then the generation as u64 LE), then entries, each
//! `[payload length u32 LE][CRC-32 of the payload u32 LE][payload: JSON]`. A fold commits the
//! tables (fsynced), bumps the generation in the header, then truncates the file to its header;
//! a process whose generation is older knows the entries it had applied are in the tables now.
//! A fold that dies before the truncation leaves entries that fold again to the same rows.
//! An entry cut short by a crash (short, or failing its CRC) is cut off by the next writer.
//!
//! Lease: taking the `flock` and catching up costs four system calls, more than the append.
//! So an instance keeps the `flock` after a change (while it holds it, no one else can append,
//! and its view stays current without looking), and its keeper thread gives it back once no
//! change came for `LEASE_IDLE`, or `LEASE_MAX` after it was taken; then the instance takes no
//! lease for `LEASE_GAP`, so a process waiting for the lock gets it between two changes.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError, Weak};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{db_err, immediate, parse_json, to_json};
use crate::error::{Result, StoreError};
use crate::workflows::{StoredWorkflowRun, WorkflowRun, WorkflowStepRecord};

const MAGIC: &[u8; 8] = b"LUMOSWJ1";
const HEADER_LEN: u64 = 16;
const FRAME_LEN: usize = 8;
/// Journal bytes (since the last fold) at which its runs are folded into the tables. Large
/// enough that the pages a fold touches at random (the run id index) are shared by ~1,500
/// runs; small enough that a fold is ~100 ms (changes made meanwhile wait for it: at 16 MiB a
/// run waited 750 ms) and replaying the journal on open is quick. The view holds the records
/// as JSON text, so it costs about the journal's size.
const FOLD_AT: u64 = 4 << 20;
/// Largest entry accepted (the length field is 32-bit).
const MAX_ENTRY: usize = (u32::MAX as usize) >> 1;
/// A lease (see the module's doc) ends when no change came for this long…
const LEASE_IDLE: Duration = Duration::from_millis(1);
/// …or this long after it was taken, at the latest: the longest another process waits for the
/// journal while this one is busy.
const LEASE_MAX: Duration = Duration::from_millis(4);
/// After a lease ended at `LEASE_MAX`, changes take and release the `flock` each for this long.
const LEASE_GAP: Duration = Duration::from_micros(500);

/// One change to a run. Runs are named by their number `n`: the position of their latest
/// `Row` entry since the last fold, so step entries do not repeat the names.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub(super) enum Entry {
  /// A run's whole row: a new run (`fresh`: step records stored under the same id are gone) or
  /// a stored run brought into the journal by its first change since the last fold.
  Row { row: Box<WorkflowRun>, fresh: bool },
  Claim {
    n: u32,
    status: String,
    epoch: i64,
    at: i64,
  },
  Step {
    n: u32,
    key: String,
    record: Value,
    #[serde(
      default,
      deserialize_with = "crate::workflows::present",
      skip_serializing_if = "Option::is_none"
    )]
    state: Option<Value>,
  },
  End {
    n: u32,
    status: String,
    #[serde(
      default,
      deserialize_with = "crate::workflows::present",
      skip_serializing_if = "Option::is_none"
    )]
    result: Option<Value>,
    #[serde(
      default,
      deserialize_with = "crate::workflows::present",
      skip_serializing_if = "Option::is_none"
    )]
    error: Option<Value>,
    #[serde(
      default,
      deserialize_with = "crate::workflows::present",
      skip_serializing_if = "Option::is_none"
    )]
    state: Option<Value>,
    at: i64,
  },
}

/// A run as the journal has it: its whole row and the step records written since the last fold.
#[derive(Debug)]
pub(super) struct JournalRun {
  pub n: u32,
  pub row: WorkflowRun,
  /// Started afresh in the journal: records in the tables under the same id are not its own.
  pub fresh: bool,
  /// `(key, record as JSON)`, in the order first written; `positions` maps a key to its index.
  records: Vec<(String, String)>,
  positions: HashMap<String, usize>,
}

type RunKey = (String, String);

/// This instance holds the journal's `flock` between changes (see the module's doc).
#[derive(Debug, Clone, Copy)]
struct Lease {
  since: Instant,
  last_use: Instant,
}

#[derive(Debug, Default)]
struct View {
  /// Held: nothing was appended since the view last looked, so changes skip the catch-up.
  lease: Option<Lease>,
  /// No lease is taken before this (a lease just ended at `LEASE_MAX`).
  no_lease_until: Option<Instant>,
  /// Generation of the file this view was read from (0: not read yet).
  generation: u64,
  /// End of the last entry applied.
  offset: u64,
  /// Entry bytes applied since the last fold.
  bytes: u64,
  /// Run number → run.
  names: Vec<RunKey>,
  runs: HashMap<RunKey, JournalRun>,
}

impl View {
  fn reset(&mut self, generation: u64) {
    *self = View {
      lease: self.lease,
      no_lease_until: self.no_lease_until,
      generation,
      offset: HEADER_LEN,
      ..View::default()
    };
  }

  fn run_mut(&mut self, n: u32) -> Option<&mut JournalRun> {
    let key = self.names.get(n as usize)?;
    self.runs.get_mut(key).filter(|r| r.n == n)
  }

  fn apply(&mut self, entry: Entry) {
    match entry {
      Entry::Row { row, fresh } => {
        let n = self.names.len() as u32;
        let key = (row.workflow_name.clone(), row.run_id.clone());
        self.names.push(key.clone());
        self.runs.insert(
          key,
          JournalRun {
            n,
            row: *row,
            fresh,
            records: Vec::new(),
            positions: HashMap::new(),
          },
        );
      }
      Entry::Claim {
        n,
        status,
        epoch,
        at,
      } => {
        if let Some(run) = self.run_mut(n) {
          run.row.status = status;
          run.row.epoch = epoch;
          run.row.updated_at = at;
        }
      }
      Entry::Step {
        n,
        key,
        record,
        state,
      } => {
        if let Some(run) = self.run_mut(n) {
          if let Some(state) = state {
            run.row.state = state;
          }
          let json = record.to_string();
          match run.positions.get(&key) {
            Some(&i) => run.records[i].1 = json,
            None => {
              run.positions.insert(key.clone(), run.records.len());
              run.records.push((key, json));
            }
          }
        }
      }
      Entry::End {
        n,
        status,
        result,
        error,
        state,
        at,
      } => {
        if let Some(run) = self.run_mut(n) {
          run.row.status = status;
          run.row.result = result;
          run.row.error = error;
          if let Some(state) = state {
            run.row.state = state;
          }
          run.row.updated_at = at;
        }
      }
    }
  }
}

/// The journal of one store instance (`None` path: an in-memory database, where the view alone
/// holds the changes until they are folded).
pub(super) struct WorkflowJournal {
  shared: Arc<Shared>,
}

/// What the instance shares with its lease keeper thread.
pub(super) struct Shared {
  path: Option<PathBuf>,
  /// Opened (created) on first use, so a database without workflows gets no journal file.
  file: OnceLock<File>,
  sync_each: bool,
  view: Mutex<View>,
  /// A fold is queued on the blocking pool.
  folding: AtomicBool,
  /// The thread that ends leases, started with the first one (`None`: it could not be
  /// started, so there are no leases).
  keeper: OnceLock<Option<std::thread::Thread>>,
  /// The instance is gone: the keeper exits.
  closed: AtomicBool,
}

impl std::ops::Deref for WorkflowJournal {
  type Target = Shared;

  fn deref(&self) -> &Shared {
    &self.shared
  }
}

impl Drop for WorkflowJournal {
  fn drop(&mut self) {
    self.shared.closed.store(true, Ordering::Release);
    if let Some(Some(keeper)) = self.shared.keeper.get() {
      keeper.unpark();
    }
  }
}

impl Shared {
  /// Wakes the keeper for a lease just taken, starting it the first time.
  fn watch_lease(self: &Arc<Self>) {
    if let Some(keeper) = self.keeper.get() {
      if let Some(k) = keeper {
        k.unpark();
      }
      return;
    }
    let weak = Arc::downgrade(self);
    let spawned = std::thread::Builder::new()
      .name("lumos-journal-lease".into())
      .spawn(move || keep_leases(weak));
    match spawned {
      Ok(handle) => {
        let _ = self.keeper.set(Some(handle.thread().clone()));
      }
      // No keeper, no leases: changes take and release the lock each (see `Locked::drop`).
      Err(_) => {
        let _ = self.keeper.set(None);
      }
    }
  }

  /// Ends the lease if it is due; how long until it may be due next, or `None` when there is
  /// no lease.
  fn end_lease_if_due(&self) -> Option<Duration> {
    let mut view = match self.view.try_lock() {
      Ok(v) => v,
      Err(TryLockError::Poisoned(p)) => p.into_inner(),
      // A change is under way: look again shortly.
      Err(TryLockError::WouldBlock) => return Some(Duration::from_micros(100)),
    };
    let lease = view.lease?;
    let now = Instant::now();
    let idle = now.saturating_duration_since(lease.last_use);
    let held = now.saturating_duration_since(lease.since);
    if idle < LEASE_IDLE && held < LEASE_MAX {
      return Some((LEASE_IDLE - idle).min(LEASE_MAX - held));
    }
    if held >= LEASE_MAX {
      view.no_lease_until = Some(now + LEASE_GAP);
    }
    view.lease = None;
    if let Some(f) = self.file.get() {
      let _ = f.unlock();
    }
    None
  }
}

/// The keeper thread: ends the instance's leases when due; exits when the instance is gone.
fn keep_leases(shared: Weak<Shared>) {
  loop {
    let next = match shared.upgrade() {
      Some(s) if !s.closed.load(Ordering::Acquire) => s.end_lease_if_due(),
      _ => return,
    };
    match next {
      Some(wait) => std::thread::sleep(wait),
      None => std::thread::park(),
    }
  }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> StoreError {
  StoreError::Io(format!(
    "workflow journal '{}': cannot {what} ({e}); check that the database's directory is writable and the disk has space",
    path.display()
  ))
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
  std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
  std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
  while !buf.is_empty() {
    let n = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
    if n == 0 {
      return Err(std::io::ErrorKind::WriteZero.into());
    }
    buf = &buf[n..];
    offset += n as u64;
  }
  Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
  while !buf.is_empty() {
    let n = std::os::windows::fs::FileExt::seek_read(file, buf, offset)?;
    if n == 0 {
      return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    buf = &mut buf[n..];
    offset += n as u64;
  }
  Ok(())
}

/// The entry framed at the start of `buf` and its framed length, or `None` when the frame is
/// incomplete or fails its CRC (the torn tail of a crashed writer).
fn frame_at(buf: &[u8]) -> Option<(&[u8], usize)> {
  let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
  let crc = u32::from_le_bytes(buf.get(4..8)?.try_into().ok()?);
  let payload = buf.get(FRAME_LEN..FRAME_LEN.checked_add(len)?)?;
  (crc32fast::hash(payload) == crc).then_some((payload, FRAME_LEN + len))
}

impl WorkflowJournal {
  pub fn new(database: Option<&Path>, sync_each: bool) -> Self {
    let path = database.map(|db| {
      let mut name = db.as_os_str().to_owned();
      name.push("-workflow-journal");
      PathBuf::from(name)
    });
    WorkflowJournal {
      shared: Arc::new(Shared {
        path,
        file: OnceLock::new(),
        sync_each,
        view: Mutex::new(View::default()),
        folding: AtomicBool::new(false),
        keeper: OnceLock::new(),
        closed: AtomicBool::new(false),
      }),
    }
  }

  /// The journal file, opened (created) on first use; `None` for an in-memory database.
  /// Called with the view's lock held, so no other thread of this instance is here.
  fn file(&self) -> Result<Option<&File>> {
    let Some(path) = &self.path else {
      return Ok(None);
    };
    if self.file.get().is_none() {
      let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| io_err(path, "open the file", e))?;
      let _ = self.file.set(opened);
    }
    Ok(self.file.get())
  }

  /// Takes the journal (this instance's lock, then the file's `flock`), waiting for either, and
  /// brings the view up to date with the file. Released when the returned guard drops.
  pub fn lock(&self) -> Result<Locked<'_>> {
    let view = self.view.lock().unwrap_or_else(PoisonError::into_inner);
    let file = self.file()?;
    if view.lease.is_some() {
      return Ok(self.leased(file, view));
    }
    if let (Some(f), Some(path)) = (file, &self.path) {
      f.lock().map_err(|e| io_err(path, "lock the file", e))?;
    }
    self.locked(file, view)
  }

  /// [`WorkflowJournal::lock`] without waiting: `None` when another thread or process holds it.
  pub fn try_lock(&self) -> Result<Option<Locked<'_>>> {
    let view = match self.view.try_lock() {
      Ok(v) => v,
      Err(TryLockError::Poisoned(p)) => p.into_inner(),
      Err(TryLockError::WouldBlock) => return Ok(None),
    };
    let file = self.file()?;
    if view.lease.is_some() {
      return Ok(Some(self.leased(file, view)));
    }
    if let (Some(f), Some(path)) = (file, &self.path) {
      match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(path, "lock the file", e)),
      }
    }
    self.locked(file, view).map(Some)
  }

  fn locked<'a>(
    &'a self,
    file: Option<&'a File>,
    view: MutexGuard<'a, View>,
  ) -> Result<Locked<'a>> {
    let mut locked = Locked {
      journal: self,
      file,
      view,
      current: false,
    };
    locked.catch_up()?;
    locked.current = true;
    Ok(locked)
  }

  /// The journal under this instance's lease: the view is current already.
  fn leased<'a>(&'a self, file: Option<&'a File>, view: MutexGuard<'a, View>) -> Locked<'a> {
    Locked {
      journal: self,
      file,
      view,
      current: true,
    }
  }

  /// Marks a background fold as started; `false` when one already is.
  pub fn begin_background_fold(&self) -> bool {
    !self.folding.swap(true, Ordering::AcqRel)
  }

  pub fn end_background_fold(&self) {
    self.folding.store(false, Ordering::Release);
  }
}

/// The journal, held: the view is current and no one else appends until this drops.
pub(super) struct Locked<'a> {
  journal: &'a WorkflowJournal,
  file: Option<&'a File>,
  view: MutexGuard<'a, View>,
  /// The view matches the file: false while an append or fold is under way, and after one
  /// failed (the `flock` is then given back, so the next change catches up).
  current: bool,
}

impl Drop for Locked<'_> {
  /// Keeps the `flock` as (or extends) the instance's lease when it may, else releases it.
  fn drop(&mut self) {
    let Some(f) = self.file else {
      return;
    };
    let now = Instant::now();
    let may_lease = self.current
      && !matches!(self.journal.keeper.get(), Some(None))
      && self.view.no_lease_until.is_none_or(|t| now >= t);
    if may_lease {
      match &mut self.view.lease {
        Some(lease) => lease.last_use = now,
        None => {
          self.view.lease = Some(Lease {
            since: now,
            last_use: now,
          });
          self.view.no_lease_until = None;
          self.journal.shared.watch_lease();
        }
      }
      return;
    }
    self.view.lease = None;
    let _ = f.unlock();
  }
}

impl Locked<'_> {
  fn path(&self) -> &Path {
    self
      .journal
      .path
      .as_deref()
      .unwrap_or(Path::new(":memory:"))
  }

  fn write_header(&self, file: &File, generation: u64) -> Result<()> {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&generation.to_le_bytes());
    write_at(file, &header, 0).map_err(|e| io_err(self.path(), "write its header", e))
  }

  /// Applies what was appended since this view last looked; cuts off a torn last entry.
  fn catch_up(&mut self) -> Result<()> {
    let Some(file) = self.file else {
      return Ok(());
    };
    let journal = self.journal;
    let path = journal.path.as_deref().unwrap_or(Path::new(":memory:"));
    let io = |what: &str, e| io_err(path, what, e);
    let size = file.metadata().map_err(|e| io("read its size", e))?.len();
    if size < HEADER_LEN {
      // New, or its creator died before the header was written.
      let generation = self.view.generation + 1;
      self.write_header(file, generation)?;
      file.set_len(HEADER_LEN).map_err(|e| io("truncate it", e))?;
      self.view.reset(generation);
      return Ok(());
    }
    let mut header = [0u8; HEADER_LEN as usize];
    read_at(file, &mut header, 0).map_err(|e| io("read its header", e))?;
    if &header[..8] != MAGIC {
      return Err(StoreError::Io(format!(
        "'{}' is not a Lumos workflow journal (or was written by a newer Lumos); move it away only if the database beside it is not one Lumos uses",
        path.display()
      )));
    }
    let mut gen_bytes = [0u8; 8];
    gen_bytes.copy_from_slice(&header[8..]);
    let generation = u64::from_le_bytes(gen_bytes);
    if generation != self.view.generation || size < self.view.offset {
      // Folded (and emptied) by someone else: what this view held is in the tables now.
      self.view.reset(generation);
    }
    let start = self.view.offset;
    if size == start {
      return Ok(());
    }
    let mut buf = vec![0u8; (size - start) as usize];
    read_at(file, &mut buf, start).map_err(|e| io("read it", e))?;
    let mut pos = 0;
    while let Some((payload, len)) = frame_at(&buf[pos..]) {
      let entry: Entry = serde_json::from_slice(payload).map_err(|e| {
        StoreError::Db(format!(
          "workflow journal '{}': the entry at byte {} is unreadable ({e}); it was written by another program or a newer Lumos",
          path.display(),
          start + pos as u64
        ))
      })?;
      self.view.apply(entry);
      pos += len;
    }
    let end = start + pos as u64;
    if end < size {
      file
        .set_len(end)
        .map_err(|e| io("cut off a torn entry", e))?;
    }
    self.view.offset = end;
    self.view.bytes += pos as u64;
    Ok(())
  }

  /// The run, if the journal has it (changed since the last fold).
  pub fn run(&self, workflow_name: &str, run_id: &str) -> Option<&JournalRun> {
    self
      .view
      .runs
      .get(&(workflow_name.to_string(), run_id.to_string()))
  }

  /// Appends one entry (one write) and applies it. Returns the run number a `Row` entry got.
  pub fn append(&mut self, entry: Entry) -> Result<u32> {
    let payload = serde_json::to_vec(&entry).map_err(|e| {
      StoreError::invalid(format!(
        "workflow run change cannot be written as JSON: {e}"
      ))
    })?;
    if payload.len() > MAX_ENTRY {
      return Err(StoreError::invalid(format!(
        "a workflow run change of {} bytes is larger than the journal takes ({MAX_ENTRY} bytes); keep step outputs and state smaller",
        payload.len()
      )));
    }
    let framed = (FRAME_LEN + payload.len()) as u64;
    if let Some(file) = self.file {
      let mut frame = Vec::with_capacity(FRAME_LEN + payload.len());
      frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
      frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
      frame.extend_from_slice(&payload);
      let offset = self.view.offset;
      self.current = false;
      write_at(file, &frame, offset).map_err(|e| io_err(self.path(), "append to it", e))?;
      if self.journal.sync_each {
        file
          .sync_data()
          .map_err(|e| io_err(self.path(), "fsync it", e))?;
      }
      self.view.offset = offset + framed;
      self.current = true;
    }
    self.view.bytes += framed;
    let n = self.view.names.len() as u32;
    self.view.apply(entry);
    Ok(n)
  }

  /// Whether the journal has grown to `FOLD_AT` since the last fold.
  pub fn fold_due(&self) -> bool {
    self.view.bytes >= FOLD_AT
  }

  /// Writes every run of the journal into the tables in one transaction (fsynced), then empties
  /// the journal.
  pub fn fold(&mut self, conn: &mut Connection) -> Result<()> {
    if self.view.bytes == 0 {
      return Ok(());
    }
    let mut runs: Vec<&JournalRun> = self.view.runs.values().collect();
    runs.sort_by_key(|r| r.n);
    // The journal is emptied right after: the fold must be on disk first even when commits are
    // not fsynced (`synchronous=NORMAL`).
    let fsync_fold = self.file.is_some() && !self.journal.sync_each;
    if fsync_fold {
      conn
        .execute_batch("PRAGMA synchronous=FULL")
        .map_err(db_err)?;
    }
    let folded = (|| {
      let tx = immediate(conn)?;
      for run in runs {
        write_run(&tx, run)?;
      }
      tx.commit().map_err(db_err)
    })();
    if fsync_fold {
      conn
        .execute_batch("PRAGMA synchronous=NORMAL")
        .map_err(db_err)?;
    }
    folded?;
    let generation = self.view.generation + 1;
    if let Some(file) = self.file {
      self.current = false;
      self.write_header(file, generation)?;
      file
        .set_len(HEADER_LEN)
        .map_err(|e| io_err(self.path(), "truncate it", e))?;
    }
    self.view.reset(generation);
    self.current = true;
    Ok(())
  }
}

const RUN_COLS: &str = "workflow_name, run_id, resource_id, status, input, state, result, error, request_context, epoch, created_at, updated_at";

/// Deflate level for packed step records: level 1 packs a run's records as small as level 6
/// does (they repeat each other's field names and timestamps) in less time.
const STEPS_DEFLATE_LEVEL: u8 = 1;
/// A packed `steps` column that inflates to more than this is treated as corrupt.
const MAX_STEPS_TEXT: usize = 1 << 30;

/// A run's step records as its row's `steps` column holds them: the JSON object
/// `{ key: record, … }` in first-written order, deflated (~1/8 of the text).
fn pack_steps<'a>(records: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
  let mut text = String::from("{");
  for (i, (key, record)) in records.enumerate() {
    if i > 0 {
      text.push(',');
    }
    text.push_str(&Value::String(key.to_owned()).to_string());
    text.push(':');
    text.push_str(record);
  }
  text.push('}');
  miniz_oxide::deflate::compress_to_vec(text.as_bytes(), STEPS_DEFLATE_LEVEL)
}

/// Reads a `steps` column: deflated JSON as written by `pack_steps`, JSON text as the
/// schema-4 migration left it, or NULL (no records).
fn unpack_steps(column: ValueRef<'_>, run_id: &str) -> Result<Vec<WorkflowStepRecord>> {
  let unreadable = |why: String| {
    StoreError::Db(format!(
      "stored step records of workflow run '{run_id}' are unreadable ({why}); the row was written by something else"
    ))
  };
  let inflated;
  let text: &[u8] = match column {
    ValueRef::Null => return Ok(Vec::new()),
    ValueRef::Text(t) => t,
    ValueRef::Blob(b) => {
      inflated = miniz_oxide::inflate::decompress_to_vec_with_limit(b, MAX_STEPS_TEXT)
        .map_err(|e| unreadable(format!("inflate: {e}")))?;
      &inflated
    }
    other => return Err(unreadable(format!("a {:?} column", other.data_type()))),
  };
  let map: serde_json::Map<String, Value> =
    serde_json::from_slice(text).map_err(|e| unreadable(e.to_string()))?;
  Ok(
    map
      .into_iter()
      .map(|(key, record)| WorkflowStepRecord { key, record })
      .collect(),
  )
}

/// Upserts a journal run's row with its step records packed in (those already in the tables
/// too, unless the journal started the run afresh).
fn write_run(conn: &Connection, run: &JournalRun) -> Result<()> {
  let r = &run.row;
  let opt = |v: &Option<Value>| v.as_ref().map(to_json).transpose();
  let steps = if run.fresh {
    pack_steps(run.records.iter().map(|(k, j)| (k.as_str(), j.as_str())))
  } else {
    let merged = merged_records(conn, run)?
      .into_iter()
      .map(|r| Ok((r.key, to_json(&r.record)?)))
      .collect::<Result<Vec<_>>>()?;
    pack_steps(merged.iter().map(|(k, j)| (k.as_str(), j.as_str())))
  };
  conn
    .prepare_cached(&format!(
      "INSERT INTO lumos_workflow_runs ({RUN_COLS}, steps) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
       ON CONFLICT (workflow_name, run_id) DO UPDATE SET resource_id = excluded.resource_id,
         status = excluded.status, input = excluded.input, state = excluded.state,
         result = excluded.result, error = excluded.error, request_context = excluded.request_context,
         epoch = excluded.epoch, created_at = excluded.created_at, updated_at = excluded.updated_at,
         steps = excluded.steps"
    ))
    .map_err(db_err)?
    .execute(params![
      r.workflow_name,
      r.run_id,
      r.resource_id,
      r.status,
      to_json(&r.input)?,
      to_json(&r.state)?,
      opt(&r.result)?,
      opt(&r.error)?,
      opt(&r.request_context)?,
      r.epoch,
      r.created_at,
      r.updated_at,
      steps
    ])
    .map_err(db_err)?;
  Ok(())
}

type RawRun = (
  String,
  String,
  Option<String>,
  String,
  String,
  String,
  Option<String>,
  Option<String>,
  Option<String>,
  i64,
  i64,
  i64,
);

fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
  Ok((
    r.get(0)?,
    r.get(1)?,
    r.get(2)?,
    r.get(3)?,
    r.get(4)?,
    r.get(5)?,
    r.get(6)?,
    r.get(7)?,
    r.get(8)?,
    r.get(9)?,
    r.get(10)?,
    r.get(11)?,
  ))
}

fn run_from(raw: RawRun) -> Result<WorkflowRun> {
  let (workflow_name, run_id, resource_id, status, input, state, result, error, rc, epoch, c, u) =
    raw;
  let what = |col: &str| format!("workflow run '{run_id}' ({col})");
  let opt = |text: Option<String>, col: &str| -> Result<Option<Value>> {
    text.map(|t| parse_json(&t, || what(col))).transpose()
  };
  Ok(WorkflowRun {
    input: parse_json(&input, || what("input"))?,
    state: parse_json(&state, || what("state"))?,
    result: opt(result, "result")?,
    error: opt(error, "error")?,
    request_context: opt(rc, "request_context")?,
    workflow_name,
    run_id: run_id.clone(),
    resource_id,
    status,
    epoch,
    created_at: c,
    updated_at: u,
  })
}

/// A run's row as the tables have it.
pub(super) fn stored_run(
  conn: &Connection,
  name: &str,
  run_id: &str,
) -> Result<Option<WorkflowRun>> {
  conn
    .prepare_cached(&format!(
      "SELECT {RUN_COLS} FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2"
    ))
    .map_err(db_err)?
    .query_row(params![name, run_id], raw_run)
    .optional()
    .map_err(db_err)?
    .map(run_from)
    .transpose()
}

/// A run's row with its step records, as the tables have them (one read).
pub(super) fn stored_run_with_records(
  conn: &Connection,
  name: &str,
  run_id: &str,
) -> Result<Option<StoredWorkflowRun>> {
  let mut stmt = conn
    .prepare_cached(&format!(
      "SELECT {RUN_COLS}, steps FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2"
    ))
    .map_err(db_err)?;
  let mut rows = stmt.query(params![name, run_id]).map_err(db_err)?;
  match rows.next().map_err(db_err)? {
    Some(row) => run_with_records(row).map(Some),
    None => Ok(None),
  }
}

/// Runs matching a listing's WHERE clause, newest first, with their step records.
pub(super) fn stored_runs_with_records(
  conn: &Connection,
  sql_tail: &str,
  args: &[rusqlite::types::Value],
) -> Result<Vec<StoredWorkflowRun>> {
  let mut stmt = conn
    .prepare(&format!(
      "SELECT {RUN_COLS}, steps FROM lumos_workflow_runs{sql_tail}"
    ))
    .map_err(db_err)?;
  let mut rows = stmt
    .query(rusqlite::params_from_iter(args.iter()))
    .map_err(db_err)?;
  let mut runs = Vec::new();
  while let Some(row) = rows.next().map_err(db_err)? {
    runs.push(run_with_records(row)?);
  }
  Ok(runs)
}

/// A row selected as `{RUN_COLS}, steps`.
fn run_with_records(row: &rusqlite::Row<'_>) -> Result<StoredWorkflowRun> {
  let run = run_from(raw_run(row).map_err(db_err)?)?;
  let records = unpack_steps(row.get_ref(12).map_err(db_err)?, &run.run_id)?;
  Ok((run, records))
}

/// A run's step records as the tables have them, in the order they were first written.
pub(super) fn stored_records(
  conn: &Connection,
  name: &str,
  run_id: &str,
) -> Result<Vec<WorkflowStepRecord>> {
  let mut stmt = conn
    .prepare_cached(
      "SELECT steps FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2",
    )
    .map_err(db_err)?;
  let mut rows = stmt.query(params![name, run_id]).map_err(db_err)?;
  match rows.next().map_err(db_err)? {
    Some(row) => unpack_steps(row.get_ref(0).map_err(db_err)?, run_id),
    None => Ok(Vec::new()),
  }
}

/// The run's records: those in the tables (unless the journal started it afresh), updated and
/// extended by the journal's, in first-written order.
pub(super) fn merged_records(
  conn: &Connection,
  run: &JournalRun,
) -> Result<Vec<WorkflowStepRecord>> {
  let mut records = if run.fresh {
    Vec::with_capacity(run.records.len())
  } else {
    stored_records(conn, &run.row.workflow_name, &run.row.run_id)?
  };
  let mut at: HashMap<String, usize> = records
    .iter()
    .enumerate()
    .map(|(i, r)| (r.key.clone(), i))
    .collect();
  for (key, json) in &run.records {
    let record = parse_json(json, || {
      format!("step record '{key}' of run '{}'", run.row.run_id)
    })?;
    match at.get(key) {
      Some(&i) => records[i].record = record,
      None => {
        at.insert(key.clone(), records.len());
        records.push(WorkflowStepRecord {
          key: key.clone(),
          record,
        });
      }
    }
  }
  Ok(records)
}

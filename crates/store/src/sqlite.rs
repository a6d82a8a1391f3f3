//! Embedded SQLite backend (bundled SQLite through rusqlite).
//!
//! Concurrency: one writer connection behind a mutex (every write is serialized and runs as a
//! `BEGIN IMMEDIATE` transaction, so other processes on the same file wait on `busy_timeout`
//! instead of failing on a lock upgrade), and up to `max_readers` reader connections that read
//! WAL snapshots in parallel with the writer. All SQLite calls run on tokio's blocking pool.
//!
//! Durability: the database is in WAL mode. With `synchronous=NORMAL` (the default) a commit is
//! in the WAL file (written, not yet fsynced) when `save_messages` resolves: it survives the
//! process being killed (SIGKILL, panic, OOM kill) but the last commits may be lost if the
//! machine itself loses power. [`Synchronous::Full`] fsyncs the WAL on every commit and also
//! survives power loss, at the cost of one fsync per write.
//!
//! Write speed: messages go in as cached single-row INSERTs (no statement journal, see
//! `insert_messages_tx`), one transaction per batch; the writer keeps a
//! 32 MiB page cache and checkpoints the WAL every 8,192 pages (~32 MiB) instead of SQLite's
//! 1,000, so index pages touched by many batches (random message ids) are copied back to the
//! database file once per checkpoint rather than once per batch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use futures::future::BoxFuture;
use rusqlite::types::Value as SqlValue;
use rusqlite::{
  Connection, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter,
};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::error::{Result, StoreError};
use crate::types::*;
use crate::util::{self, now_ms};
use crate::{SCHEMA_VERSION, Storage};

mod workflow_journal;
mod workflows;

/// `PRAGMA synchronous` for the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
  /// Commits survive a killed process; the newest ones may be lost on power loss. Fast.
  #[default]
  Normal,
  /// Every commit is fsynced: also survives power loss. One fsync per write.
  Full,
}

/// Options for [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
  pub synchronous: Synchronous,
  /// How long a statement waits for another connection's lock before failing.
  pub busy_timeout: Duration,
  /// Reader connections used in parallel (file databases only; `:memory:` uses one connection).
  pub max_readers: usize,
}

impl Default for SqliteOptions {
  fn default() -> Self {
    SqliteOptions {
      synchronous: Synchronous::Normal,
      busy_timeout: Duration::from_secs(5),
      max_readers: 4,
    }
  }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
  Memory,
  File(PathBuf),
}

/// Turns a path, `:memory:` or Mastra-style `file:` URL into a location. Remote libsql and
/// other schemes are refused with `STORE_UNSUPPORTED_URL`.
fn parse_url(url: &str) -> Result<Location> {
  let url = url.trim();
  if url.is_empty() {
    return Err(StoreError::invalid(
      "storage url is empty: pass a file path, 'file:./lumos.db' or ':memory:'",
    ));
  }
  let lower = url.to_ascii_lowercase();
  for scheme in ["libsql:", "http:", "https:", "ws:", "wss:"] {
    if lower.starts_with(scheme) {
      return Err(StoreError::UnsupportedUrl(format!(
        "remote libsql URL '{url}' is not supported: Lumos keeps embedded storage in a local SQLite file. \
         Use a file: URL (e.g. 'file:./lumos.db'), or PostgresStore to share storage between processes"
      )));
    }
  }
  if lower.starts_with("postgres:") || lower.starts_with("postgresql:") {
    return Err(StoreError::UnsupportedUrl(format!(
      "'{url}' is a PostgreSQL URL: use PostgresStore (connectionString) for it, not the SQLite store"
    )));
  }
  let path = if let Some(rest) = url.strip_prefix("file://") {
    rest
  } else if let Some(rest) = url.strip_prefix("file:") {
    rest
  } else if let Some(i) = url.find("://") {
    return Err(StoreError::UnsupportedUrl(format!(
      "unsupported storage URL scheme '{}': use a file path, a file: URL or a postgres:// connection string",
      &url[..i]
    )));
  } else {
    url
  };
  // libsql URLs may carry options after '?'; the path is what comes before.
  let path = path.split('?').next().unwrap_or(path);
  if path == ":memory:" {
    return Ok(Location::Memory);
  }
  if path.is_empty() {
    return Err(StoreError::invalid(format!(
      "storage url '{url}' names no file: use e.g. 'file:./lumos.db'"
    )));
  }
  Ok(Location::File(PathBuf::from(path)))
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
  use rusqlite::ErrorCode as C;
  if let rusqlite::Error::SqliteFailure(f, _) = &e {
    match f.code {
      C::DatabaseBusy | C::DatabaseLocked => {
        return StoreError::Db(format!(
          "SQLite database is locked ({e}): another connection or process held the write lock longer than busy_timeout; retry, or raise busyTimeout"
        ));
      }
      C::CannotOpen | C::SystemIoFailure | C::DiskFull | C::ReadOnly | C::PermissionDenied => {
        return StoreError::Io(format!(
          "SQLite I/O error ({e}): check that the database file and its directory are writable and the disk has space"
        ));
      }
      C::NotADatabase | C::DatabaseCorrupt => {
        return StoreError::Io(format!(
          "SQLite error ({e}): the file is not a SQLite database or is damaged; point storage at another file or restore a backup"
        ));
      }
      _ => {}
    }
  }
  StoreError::Db(format!("SQLite error: {e}"))
}

fn join_err(e: tokio::task::JoinError) -> StoreError {
  StoreError::Db(format!("storage task did not finish: {e}"))
}

fn parse_json(text: &str, what: impl FnOnce() -> String) -> Result<Value> {
  serde_json::from_str(text).map_err(|e| {
    StoreError::Db(format!(
      "stored JSON of {} is unreadable ({e}); the row was written by something else",
      what()
    ))
  })
}

fn to_json(v: &Value) -> Result<String> {
  serde_json::to_string(v)
    .map_err(|e| StoreError::invalid(format!("value cannot be written as JSON: {e}")))
}

fn open_conn(location: &Location, options: &SqliteOptions, writer: bool) -> Result<Connection> {
  let conn = match location {
    Location::Memory => Connection::open_in_memory(),
    Location::File(path) => {
      if writer
        && let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
      {
        std::fs::create_dir_all(dir).map_err(|e| {
          StoreError::Io(format!(
            "cannot create the directory '{}' for the database: {e}",
            dir.display()
          ))
        })?;
      }
      Connection::open(path)
    }
  }
  .map_err(|e| match location {
    Location::File(p) => StoreError::Io(format!(
      "cannot open SQLite database '{}': {e}; check the path and its permissions",
      p.display()
    )),
    Location::Memory => db_err(e),
  })?;
  conn.busy_timeout(options.busy_timeout).map_err(db_err)?;
  conn.set_prepared_statement_cache_capacity(64);
  // The bundled SQLite has STAT4: without the planner stability guarantee, binding new values
  // to a cached statement (row-value bounds, OFFSET) re-prepares it on every run, which was
  // ~11 % of a memory-on generate's CPU. Our queries have one right plan; keep it.
  conn
    .set_db_config(
      rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
      true,
    )
    .map_err(db_err)?;
  if writer && matches!(location, Location::File(_)) {
    // Returns the mode actually in force; a filesystem without shared memory keeps the old one,
    // which is still correct, only slower for concurrent readers.
    let _mode: String = conn
      .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
      .map_err(db_err)?;
  }
  let sync = match options.synchronous {
    Synchronous::Normal => "NORMAL",
    Synchronous::Full => "FULL",
  };
  conn
    .execute_batch(&format!(
      "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=8192;"
    ))
    .map_err(db_err)?;
  if !writer {
    conn.execute_batch("PRAGMA query_only=ON").map_err(db_err)?;
  }
  Ok(conn)
}

/// The schema, one entry per version. Never edit an entry once released: add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
  (
    1,
    "CREATE TABLE lumos_threads (
     id TEXT PRIMARY KEY NOT NULL,
     resource_id TEXT NOT NULL,
     title TEXT,
     metadata TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE INDEX lumos_threads_resource ON lumos_threads (resource_id, created_at);
   CREATE TABLE lumos_messages (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     thread_id TEXT NOT NULL REFERENCES lumos_threads (id) ON DELETE CASCADE,
     resource_id TEXT,
     role TEXT NOT NULL,
     type TEXT,
     created_at INTEGER NOT NULL,
     content TEXT NOT NULL
   );
   CREATE INDEX lumos_messages_thread_order ON lumos_messages (thread_id, created_at, seq);
   CREATE TABLE lumos_resources (
     id TEXT PRIMARY KEY NOT NULL,
     working_memory TEXT,
     metadata TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );",
  ),
  (
    2,
    "CREATE TABLE lumos_workflow_runs (
     workflow_name TEXT NOT NULL,
     run_id TEXT NOT NULL,
     resource_id TEXT,
     status TEXT NOT NULL,
     input TEXT NOT NULL,
     state TEXT NOT NULL,
     result TEXT,
     error TEXT,
     request_context TEXT,
     epoch INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (workflow_name, run_id)
   );
   CREATE INDEX lumos_workflow_runs_created ON lumos_workflow_runs (workflow_name, created_at);
   CREATE INDEX lumos_workflow_runs_status ON lumos_workflow_runs (status, workflow_name);
   CREATE TABLE lumos_workflow_steps (
     seq INTEGER PRIMARY KEY,
     workflow_name TEXT NOT NULL,
     run_id TEXT NOT NULL,
     key TEXT NOT NULL,
     record TEXT NOT NULL,
     UNIQUE (workflow_name, run_id, key)
   );",
  ),
  (
    3,
    // Workflow step records point at their run's integer id, so runs folded in from the
    // workflow journal append to the end of both B-trees instead of landing on random pages
    // of a (workflow_name, run_id, key) index.
    "CREATE TABLE lumos_workflow_runs_v3 (
     id INTEGER PRIMARY KEY,
     workflow_name TEXT NOT NULL,
     run_id TEXT NOT NULL,
     resource_id TEXT,
     status TEXT NOT NULL,
     input TEXT NOT NULL,
     state TEXT NOT NULL,
     result TEXT,
     error TEXT,
     request_context TEXT,
     epoch INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     UNIQUE (workflow_name, run_id)
   );
   INSERT INTO lumos_workflow_runs_v3 (id, workflow_name, run_id, resource_id, status, input, state, result, error, request_context, epoch, created_at, updated_at)
     SELECT rowid, workflow_name, run_id, resource_id, status, input, state, result, error, request_context, epoch, created_at, updated_at
     FROM lumos_workflow_runs;
   CREATE TABLE lumos_workflow_step_records (
     seq INTEGER PRIMARY KEY,
     run INTEGER NOT NULL,
     key TEXT NOT NULL,
     record TEXT NOT NULL,
     UNIQUE (run, key)
   );
   INSERT INTO lumos_workflow_step_records (seq, run, key, record)
     SELECT s.seq, r.rowid, s.key, s.record FROM lumos_workflow_steps s
     JOIN lumos_workflow_runs r ON r.workflow_name = s.workflow_name AND r.run_id = s.run_id;
   DROP TABLE lumos_workflow_steps;
   DROP TABLE lumos_workflow_runs;
   ALTER TABLE lumos_workflow_runs_v3 RENAME TO lumos_workflow_runs;
   CREATE INDEX lumos_workflow_runs_created ON lumos_workflow_runs (workflow_name, created_at);
   CREATE INDEX lumos_workflow_runs_status ON lumos_workflow_runs (status, workflow_name);",
  ),
  (
    4,
    // A run's step records move into its row (`steps`: one JSON object, deflated when Lumos
    // writes it; the migration leaves JSON text, which reads the same): a fold writes one row
    // per run instead of a row and an index entry per step.
    "ALTER TABLE lumos_workflow_runs ADD COLUMN steps BLOB;
   UPDATE lumos_workflow_runs SET steps = (
     SELECT json_group_object(key, json(record)) FROM (
       SELECT key, record FROM lumos_workflow_step_records s
       WHERE s.run = lumos_workflow_runs.id ORDER BY s.seq))
   WHERE id IN (SELECT run FROM lumos_workflow_step_records);
   DROP TABLE lumos_workflow_step_records;",
  ),
];

fn migrate(conn: &mut Connection) -> Result<()> {
  let mig =
    |e: rusqlite::Error| StoreError::Migration(format!("SQLite schema migration failed: {e}"));
  conn
    .execute_batch(
      "CREATE TABLE IF NOT EXISTS lumos_schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .map_err(mig)?;
  for (version, sql) in MIGRATIONS {
    let tx = conn
      .transaction_with_behavior(TransactionBehavior::Immediate)
      .map_err(mig)?;
    let current: i64 = tx
      .query_row(
        "SELECT COALESCE(MAX(version), 0) FROM lumos_schema_version",
        [],
        |r| r.get(0),
      )
      .map_err(mig)?;
    if current > SCHEMA_VERSION {
      return Err(StoreError::Migration(format!(
        "the database has schema version {current}, newer than this Lumos build knows ({SCHEMA_VERSION}): upgrade Lumos, or use another database file"
      )));
    }
    if current >= *version {
      continue;
    }
    tx.execute_batch(sql).map_err(mig)?;
    tx.execute(
      "INSERT INTO lumos_schema_version (version, applied_at) VALUES (?1, ?2)",
      params![version, now_ms()],
    )
    .map_err(mig)?;
    tx.commit().map_err(mig)?;
  }
  Ok(())
}

struct Inner {
  writer: Mutex<Connection>,
  readers: Mutex<Vec<Connection>>,
  read_slots: Semaphore,
  location: Location,
  options: SqliteOptions,
  workflow_journal: workflow_journal::WorkflowJournal,
}

/// The embedded SQLite store. Cheap to clone (shared connections).
#[derive(Clone)]
pub struct SqliteStore {
  inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("SqliteStore")
      .field("location", &self.inner.location)
      .finish()
  }
}

impl SqliteStore {
  /// Opens (creating when missing) and migrates a database: a file path, `:memory:`, or a
  /// `file:` URL (`file:./lumos.db`, `file:///abs/x.db`). Remote libsql URLs
  /// (`libsql://`, `http(s)://`) → `STORE_UNSUPPORTED_URL`.
  pub async fn open(url: &str, options: SqliteOptions) -> Result<Self> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || Self::open_blocking(&url, options))
      .await
      .map_err(join_err)?
  }

  /// [`SqliteStore::open`] for callers outside an async context.
  pub fn open_blocking(url: &str, options: SqliteOptions) -> Result<Self> {
    let location = parse_url(url)?;
    let mut conn = open_conn(&location, &options, true)?;
    migrate(&mut conn)?;
    let readers = options.max_readers.max(1);
    let workflow_journal = workflow_journal::WorkflowJournal::new(
      match &location {
        Location::File(p) => Some(p.as_path()),
        Location::Memory => None,
      },
      options.synchronous == Synchronous::Full,
    );
    Ok(SqliteStore {
      inner: Arc::new(Inner {
        writer: Mutex::new(conn),
        readers: Mutex::new(Vec::new()),
        read_slots: Semaphore::new(readers),
        location,
        options,
        workflow_journal,
      }),
    })
  }

  /// The database file, or `None` for `:memory:`.
  pub fn path(&self) -> Option<&Path> {
    match &self.inner.location {
      Location::File(p) => Some(p),
      Location::Memory => None,
    }
  }

  /// `PRAGMA integrity_check`: `"ok"` for a sound database.
  pub async fn integrity_check(&self) -> Result<String> {
    self
      .read(|c| {
        let mut stmt = c.prepare("PRAGMA integrity_check").map_err(db_err)?;
        let rows = stmt
          .query_map([], |r| r.get::<_, String>(0))
          .map_err(db_err)?;
        let mut out = Vec::new();
        for r in rows {
          out.push(r.map_err(db_err)?);
        }
        Ok(out.join("\n"))
      })
      .await
  }

  /// The schema version recorded in `lumos_schema_version`.
  pub async fn schema_version(&self) -> Result<i64> {
    self
      .read(|c| {
        c.query_row(
          "SELECT COALESCE(MAX(version), 0) FROM lumos_schema_version",
          [],
          |r| r.get(0),
        )
        .map_err(db_err)
      })
      .await
  }

  async fn write<T, F>(&self, f: F) -> Result<T>
  where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
  {
    let inner = self.inner.clone();
    tokio::task::spawn_blocking(move || {
      let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
      f(&mut conn)
    })
    .await
    .map_err(join_err)?
  }

  async fn read<T, F>(&self, f: F) -> Result<T>
  where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
  {
    if self.inner.location == Location::Memory {
      return self.write(f).await;
    }
    let _permit = self
      .inner
      .read_slots
      .acquire()
      .await
      .map_err(|_| StoreError::Db("the store is closed".into()))?;
    let inner = self.inner.clone();
    tokio::task::spawn_blocking(move || {
      let pooled = inner
        .readers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop();
      let mut conn = match pooled {
        Some(c) => c,
        None => open_conn(&inner.location, &inner.options, false)?,
      };
      let out = f(&mut conn);
      inner
        .readers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(conn);
      out
    })
    .await
    .map_err(join_err)?
  }
}

const THREAD_COLS: &str = "id, resource_id, title, metadata, created_at, updated_at";
const MSG_COLS: &str = "seq, id, thread_id, resource_id, role, type, created_at, content";

type RawThread = (String, String, Option<String>, Option<String>, i64, i64);
type RawMessage = (
  i64,
  String,
  String,
  Option<String>,
  String,
  Option<String>,
  i64,
  String,
);

fn raw_thread(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawThread> {
  Ok((
    r.get(0)?,
    r.get(1)?,
    r.get(2)?,
    r.get(3)?,
    r.get(4)?,
    r.get(5)?,
  ))
}

fn thread_from(raw: RawThread) -> Result<Thread> {
  let (id, resource_id, title, metadata, created_at, updated_at) = raw;
  let metadata = match metadata {
    Some(text) => Some(parse_json(&text, || format!("thread '{id}' metadata"))?),
    None => None,
  };
  Ok(Thread {
    id,
    resource_id,
    title,
    metadata,
    created_at,
    updated_at,
  })
}

fn raw_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawMessage> {
  Ok((
    r.get(0)?,
    r.get(1)?,
    r.get(2)?,
    r.get(3)?,
    r.get(4)?,
    r.get(5)?,
    r.get(6)?,
    r.get(7)?,
  ))
}

fn message_from(raw: RawMessage) -> Result<(i64, StoredMessage)> {
  let (seq, id, thread_id, resource_id, role, r#type, created_at, content) = raw;
  let content = parse_json(&content, || format!("message '{id}' content"))?;
  Ok((
    seq,
    StoredMessage {
      id,
      thread_id,
      resource_id,
      role,
      r#type,
      created_at,
      content,
    },
  ))
}

fn query_messages(
  conn: &Connection,
  sql: &str,
  args: &[SqlValue],
) -> Result<Vec<(i64, StoredMessage)>> {
  let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
  let rows = stmt
    .query_map(params_from_iter(args.iter()), raw_message)
    .map_err(db_err)?;
  let mut out = Vec::new();
  for r in rows {
    out.push(message_from(r.map_err(db_err)?)?);
  }
  Ok(out)
}

fn get_thread_tx(conn: &Connection, id: &str) -> Result<Option<Thread>> {
  let mut stmt = conn
    .prepare_cached(&format!(
      "SELECT {THREAD_COLS} FROM lumos_threads WHERE id = ?1"
    ))
    .map_err(db_err)?;
  match stmt
    .query_row([id], raw_thread)
    .optional()
    .map_err(db_err)?
  {
    Some(raw) => Ok(Some(thread_from(raw)?)),
    None => Ok(None),
  }
}

fn thread_exists(conn: &Connection, id: &str) -> Result<bool> {
  let mut stmt = conn
    .prepare_cached("SELECT 1 FROM lumos_threads WHERE id = ?1")
    .map_err(db_err)?;
  stmt.exists([id]).map_err(db_err)
}

fn upsert_thread_tx(conn: &Connection, t: &Thread) -> Result<()> {
  let metadata = t.metadata.as_ref().map(to_json).transpose()?;
  let mut stmt = conn
    .prepare_cached(
      "INSERT INTO lumos_threads (id, resource_id, title, metadata, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (id) DO UPDATE SET resource_id = excluded.resource_id, title = excluded.title,
         metadata = excluded.metadata, created_at = excluded.created_at, updated_at = excluded.updated_at",
    )
    .map_err(db_err)?;
  stmt
    .execute(params![
      t.id,
      t.resource_id,
      t.title,
      metadata,
      t.created_at,
      t.updated_at
    ])
    .map_err(db_err)?;
  Ok(())
}

const INSERT_MESSAGE: &str =
  "INSERT INTO lumos_messages (id, thread_id, resource_id, role, type, created_at, content)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const UPDATE_MESSAGE: &str =
  "UPDATE lumos_messages SET thread_id = ?2, resource_id = ?3, role = ?4, type = ?5,
  created_at = ?6, content = ?7 WHERE id = ?1";

/// `SQLITE_CONSTRAINT_UNIQUE`: the message id is taken (the only UNIQUE constraint of the table).
fn is_duplicate_id(e: &rusqlite::Error) -> bool {
  matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// Saves messages in order (the sequence column follows it); a message whose id exists is
/// updated in place, keeping its position, as an upsert would.
///
/// One single-row INSERT per message, not multi-row upserts: a statement that may write several
/// rows and may fail half-way (multi-row VALUES, or an upsert whose UPDATE touches the foreign
/// key) makes SQLite copy every page it modifies into a statement journal first, so it can undo
/// that statement alone. A single-row INSERT checks every constraint before writing anything and
/// needs no journal; that copy was ~15 % of save time. A taken id fails the INSERT before it
/// writes, and the row is then updated instead.
fn insert_messages_tx(conn: &Connection, messages: &[StoredMessage]) -> Result<()> {
  let mut insert = conn.prepare_cached(INSERT_MESSAGE).map_err(db_err)?;
  let mut content = Vec::with_capacity(512);
  for m in messages {
    content.clear();
    serde_json::to_writer(&mut content, &m.content)
      .map_err(|e| StoreError::invalid(format!("value cannot be written as JSON: {e}")))?;
    // serde_json writes UTF-8; the check keeps this free of unsafe code.
    let content = std::str::from_utf8(&content)
      .map_err(|e| StoreError::invalid(format!("value cannot be written as JSON: {e}")))?;
    let row = params![
      m.id,
      m.thread_id,
      m.resource_id,
      m.role,
      m.r#type,
      m.created_at,
      content
    ];
    match insert.execute(row) {
      Ok(_) => {}
      Err(e) if is_duplicate_id(&e) => {
        let mut update = conn.prepare_cached(UPDATE_MESSAGE).map_err(db_err)?;
        update.execute(row).map_err(db_err)?;
      }
      Err(e) => return Err(db_err(e)),
    }
  }
  Ok(())
}

fn touch_threads(conn: &Connection, ids: &[String], now: i64) -> Result<()> {
  let mut stmt = conn
    .prepare_cached("UPDATE lumos_threads SET updated_at = ?2 WHERE id = ?1")
    .map_err(db_err)?;
  for id in ids {
    stmt.execute(params![id, now]).map_err(db_err)?;
  }
  Ok(())
}

fn immediate(conn: &mut Connection) -> Result<Transaction<'_>> {
  conn
    .transaction_with_behavior(TransactionBehavior::Immediate)
    .map_err(db_err)
}

fn placeholders(n: usize) -> String {
  let mut s = String::with_capacity(n * 2);
  for i in 0..n {
    if i > 0 {
      s.push(',');
    }
    s.push('?');
  }
  s
}

/// Statements take at most this many ids at once (SQLite's parameter limit is far above).
const ID_CHUNK: usize = 500;

fn messages_by_ids(conn: &Connection, ids: &[String]) -> Result<Vec<(i64, StoredMessage)>> {
  let mut out = Vec::new();
  for chunk in ids.chunks(ID_CHUNK) {
    let sql = format!(
      "SELECT {MSG_COLS} FROM lumos_messages WHERE id IN ({})",
      placeholders(chunk.len())
    );
    let args: Vec<SqlValue> = chunk.iter().map(|s| SqlValue::Text(s.clone())).collect();
    out.extend(query_messages(conn, &sql, &args)?);
  }
  Ok(out)
}

/// `LIMIT n` written into the SQL rather than bound: SQLite marks a bound LIMIT "re-prepare on
/// bind", so a cached statement with `LIMIT ?` was parsed and planned again on every call (~6 %
/// of a memory-on generate's CPU in perf). Limits are integers we produce, and the few distinct
/// ones (page sizes, context windows) each get their own cached statement. `None` = no limit.
fn limit_sql(limit: Option<i64>) -> String {
  format!("LIMIT {}", limit.unwrap_or(-1))
}

fn list_threads_tx(conn: &mut Connection, q: ListThreadsQuery) -> Result<ThreadPage> {
  let tx = conn.transaction().map_err(db_err)?;
  let mut conds: Vec<String> = Vec::new();
  let mut args: Vec<SqlValue> = Vec::new();
  if let Some(r) = &q.resource_id {
    conds.push("resource_id = ?".into());
    args.push(SqlValue::Text(r.clone()));
  }
  if let Some(filter) = &q.metadata {
    for (k, v) in filter {
      util::check_filter_key(k)?;
      conds.push("(metadata -> ?) = ?".into());
      args.push(SqlValue::Text(format!("$.\"{k}\"")));
      args.push(SqlValue::Text(to_json(v)?));
    }
  }
  let where_sql = if conds.is_empty() {
    String::new()
  } else {
    format!(" WHERE {}", conds.join(" AND "))
  };
  let total: i64 = tx
    .prepare_cached(&format!("SELECT COUNT(*) FROM lumos_threads{where_sql}"))
    .map_err(db_err)?
    .query_row(params_from_iter(args.iter()), |r| r.get(0))
    .map_err(db_err)?;
  let (offset, limit) = util::page_window(q.page, q.per_page);
  let dir = q.direction.sql();
  let sql = format!(
    "SELECT {THREAD_COLS} FROM lumos_threads{where_sql} ORDER BY {col} {dir}, rowid {dir} {limit} OFFSET ?",
    col = q.order_by.column(),
    limit = limit_sql(limit)
  );
  args.push(SqlValue::Integer(offset));
  let mut threads = Vec::new();
  {
    let mut stmt = tx.prepare_cached(&sql).map_err(db_err)?;
    let rows = stmt
      .query_map(params_from_iter(args.iter()), raw_thread)
      .map_err(db_err)?;
    for r in rows {
      threads.push(thread_from(r.map_err(db_err)?)?);
    }
  }
  let total = total.max(0) as u64;
  Ok(ThreadPage {
    threads,
    total,
    page: q.page,
    per_page: q.per_page,
    has_more: util::has_more(q.page, q.per_page, total),
  })
}

fn list_messages_tx(conn: &mut Connection, q: ListMessagesQuery) -> Result<MessagePage> {
  let tx = conn.transaction().map_err(db_err)?;
  let mut conds = vec!["thread_id = ?".to_string()];
  let mut args = vec![SqlValue::Text(q.thread_id.clone())];
  if let Some(r) = &q.resource_id {
    conds.push("resource_id = ?".into());
    args.push(SqlValue::Text(r.clone()));
  }
  if let Some(range) = q.date_range {
    if let Some(start) = range.start {
      conds.push("created_at >= ?".into());
      args.push(SqlValue::Integer(start));
    }
    if let Some(end) = range.end {
      conds.push("created_at <= ?".into());
      args.push(SqlValue::Integer(end));
    }
  }
  let where_sql = conds.join(" AND ");
  // perPage 0 asks only for the includes: no count (Mastra reports total 0 there too), which
  // would otherwise scan every message of a long thread on each recall.
  let total: i64 = if q.per_page == Some(0) {
    0
  } else {
    tx.prepare_cached(&format!(
      "SELECT COUNT(*) FROM lumos_messages WHERE {where_sql}"
    ))
    .map_err(db_err)?
    .query_row(params_from_iter(args.iter()), |r| r.get(0))
    .map_err(db_err)?
  };
  let desc = q.direction == Direction::Desc;
  let dir = q.direction.sql();
  let mut rows = Vec::new();
  if q.per_page != Some(0) {
    let (offset, limit) = util::page_window(q.page, q.per_page);
    let sql = format!(
      "SELECT {MSG_COLS} FROM lumos_messages WHERE {where_sql} ORDER BY created_at {dir}, seq {dir} {limit} OFFSET ?",
      limit = limit_sql(limit)
    );
    args.push(SqlValue::Integer(offset));
    rows = query_messages(&tx, &sql, &args)?;
  }
  for inc in &q.include {
    rows.extend(include_window(&tx, inc)?);
  }
  let total = total.max(0) as u64;
  Ok(MessagePage {
    messages: util::merge_sorted(rows, desc),
    total,
    page: q.page,
    per_page: q.per_page,
    has_more: util::has_more(q.page, q.per_page, total),
  })
}

/// A message and its neighbours in its thread (`before` earlier, `after` later), in one statement:
/// recall asks for several of these on every memory-on generate, so the text is built once.
static INCLUDE_WINDOW_SQL: LazyLock<String> = LazyLock::new(|| {
  const TARGET_THREAD: &str = "(SELECT thread_id FROM lumos_messages WHERE id = ?1)";
  const TARGET_KEY: &str = "(SELECT created_at, seq FROM lumos_messages WHERE id = ?1)";
  format!(
    "SELECT * FROM (SELECT {MSG_COLS} FROM lumos_messages
       WHERE thread_id = {TARGET_THREAD} AND (created_at, seq) < {TARGET_KEY}
       ORDER BY created_at DESC, seq DESC LIMIT ?2)
     UNION ALL
     SELECT * FROM (SELECT {MSG_COLS} FROM lumos_messages
       WHERE thread_id = {TARGET_THREAD} AND (created_at, seq) >= {TARGET_KEY}
       ORDER BY created_at ASC, seq ASC LIMIT ?3)"
  )
});

fn include_window(conn: &Connection, inc: &IncludeMessage) -> Result<Vec<(i64, StoredMessage)>> {
  query_messages(
    conn,
    &INCLUDE_WINDOW_SQL,
    &[
      SqlValue::Text(inc.id.clone()),
      SqlValue::Integer(i64::from(inc.before)),
      // The target itself is the first row of the later side.
      SqlValue::Integer(i64::from(inc.after) + 1),
    ],
  )
}

fn clone_tx(conn: &mut Connection, options: CloneThreadOptions) -> Result<CloneThreadResult> {
  util::check_id("sourceThreadId", &options.source_thread_id)?;
  let tx = immediate(conn)?;
  let source = get_thread_tx(&tx, &options.source_thread_id)?
    .ok_or_else(|| StoreError::thread_not_found(&options.source_thread_id))?;
  let messages = query_messages(
    &tx,
    &format!(
      "SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = ? ORDER BY created_at ASC, seq ASC"
    ),
    &[SqlValue::Text(source.id.clone())],
  )?;
  let plan = util::plan_clone(
    &source,
    messages.into_iter().map(|(_, m)| m).collect(),
    &options,
    now_ms(),
  )?;
  if thread_exists(&tx, &plan.thread.id)? {
    return Err(StoreError::invalid(format!(
      "thread '{}' already exists: pass another newThreadId, or leave it out to get a new one",
      plan.thread.id
    )));
  }
  upsert_thread_tx(&tx, &plan.thread)?;
  insert_messages_tx(&tx, &plan.cloned_messages)?;
  tx.commit().map_err(db_err)?;
  Ok(plan)
}

fn get_resource_tx(conn: &Connection, id: &str) -> Result<Option<Resource>> {
  let mut stmt = conn
    .prepare_cached("SELECT id, working_memory, metadata, created_at, updated_at FROM lumos_resources WHERE id = ?1")
    .map_err(db_err)?;
  let raw = stmt
    .query_row([id], |r| {
      Ok((
        r.get::<_, String>(0)?,
        r.get::<_, Option<String>>(1)?,
        r.get::<_, Option<String>>(2)?,
        r.get::<_, i64>(3)?,
        r.get::<_, i64>(4)?,
      ))
    })
    .optional()
    .map_err(db_err)?;
  let Some((id, working_memory, metadata, created_at, updated_at)) = raw else {
    return Ok(None);
  };
  let metadata = match metadata {
    Some(text) => Some(parse_json(&text, || format!("resource '{id}' metadata"))?),
    None => None,
  };
  Ok(Some(Resource {
    id,
    working_memory,
    metadata,
    created_at,
    updated_at,
  }))
}

fn upsert_resource_tx(conn: &mut Connection, up: ResourceUpsert) -> Result<Resource> {
  util::check_id("resource id", &up.id)?;
  let patch = util::check_metadata("resource", up.metadata)?;
  let tx = immediate(conn)?;
  let now = now_ms();
  let existing = get_resource_tx(&tx, &up.id)?;
  let resource = match existing {
    Some(old) => Resource {
      id: old.id,
      working_memory: up.working_memory.or(old.working_memory),
      metadata: util::merge_metadata(old.metadata, patch),
      created_at: old.created_at,
      updated_at: now,
    },
    None => Resource {
      id: up.id,
      working_memory: up.working_memory,
      metadata: util::merge_metadata(None, patch),
      created_at: now,
      updated_at: now,
    },
  };
  let metadata = resource.metadata.as_ref().map(to_json).transpose()?;
  tx.execute(
    "INSERT INTO lumos_resources (id, working_memory, metadata, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (id) DO UPDATE SET working_memory = excluded.working_memory, metadata = excluded.metadata,
       updated_at = excluded.updated_at",
    params![resource.id, resource.working_memory, metadata, resource.created_at, resource.updated_at],
  )
  .map_err(db_err)?;
  tx.commit().map_err(db_err)?;
  Ok(resource)
}

impl Storage for SqliteStore {
  fn backend(&self) -> &'static str {
    "sqlite"
  }

  fn create_thread(&self, thread: Thread) -> BoxFuture<'_, Result<Thread>> {
    Box::pin(async move {
      let metadata = util::check_thread(&thread)?;
      let thread = Thread {
        metadata: metadata.map(Value::Object),
        ..thread
      };
      self
        .write(move |c| {
          let tx = immediate(c)?;
          upsert_thread_tx(&tx, &thread)?;
          tx.commit().map_err(db_err)?;
          Ok(thread)
        })
        .await
    })
  }

  fn get_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Thread>>> {
    let id = id.to_string();
    Box::pin(async move { self.read(move |c| get_thread_tx(c, &id)).await })
  }

  fn list_threads(&self, query: ListThreadsQuery) -> BoxFuture<'_, Result<ThreadPage>> {
    Box::pin(async move { self.read(move |c| list_threads_tx(c, query)).await })
  }

  fn update_thread(&self, update: ThreadUpdate) -> BoxFuture<'_, Result<Thread>> {
    Box::pin(async move {
      util::check_id("thread id", &update.id)?;
      let patch = util::check_metadata("thread", update.metadata)?;
      let (id, title) = (update.id, update.title);
      self
        .write(move |c| {
          let tx = immediate(c)?;
          let old = get_thread_tx(&tx, &id)?.ok_or_else(|| StoreError::thread_not_found(&id))?;
          let thread = Thread {
            title: title.or(old.title),
            metadata: util::merge_metadata(old.metadata, patch),
            updated_at: now_ms(),
            ..old
          };
          upsert_thread_tx(&tx, &thread)?;
          tx.commit().map_err(db_err)?;
          Ok(thread)
        })
        .await
    })
  }

  fn delete_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
    let id = id.to_string();
    Box::pin(async move {
      self
        .write(move |c| {
          let tx = immediate(c)?;
          tx.execute("DELETE FROM lumos_messages WHERE thread_id = ?1", [&id])
            .map_err(db_err)?;
          tx.execute("DELETE FROM lumos_threads WHERE id = ?1", [&id])
            .map_err(db_err)?;
          tx.commit().map_err(db_err)
        })
        .await
    })
  }

  fn save_messages(&self, messages: Vec<StoredMessage>) -> BoxFuture<'_, Result<()>> {
    Box::pin(async move {
      let messages = util::prepare_messages(messages)?;
      if messages.is_empty() {
        return Ok(());
      }
      let threads = util::thread_ids(&messages);
      self
        .write(move |c| {
          let tx = immediate(c)?;
          for t in &threads {
            if !thread_exists(&tx, t)? {
              return Err(StoreError::thread_not_found(t));
            }
          }
          insert_messages_tx(&tx, &messages)?;
          touch_threads(&tx, &threads, now_ms())?;
          tx.commit().map_err(db_err)
        })
        .await
    })
  }

  fn list_messages(&self, query: ListMessagesQuery) -> BoxFuture<'_, Result<MessagePage>> {
    Box::pin(async move { self.read(move |c| list_messages_tx(c, query)).await })
  }

  fn last_messages<'a>(
    &'a self,
    thread_id: &'a str,
    n: u32,
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>> {
    let thread_id = thread_id.to_string();
    Box::pin(async move {
      if n == 0 {
        return Ok(Vec::new());
      }
      self
        .read(move |c| {
          let rows = query_messages(
            c,
            &format!(
              "SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = ? ORDER BY created_at DESC, seq DESC {limit}",
              limit = limit_sql(Some(i64::from(n)))
            ),
            &[SqlValue::Text(thread_id)],
          )?;
          Ok(rows.into_iter().rev().map(|(_, m)| m).collect())
        })
        .await
    })
  }

  fn get_messages_by_ids<'a>(
    &'a self,
    ids: &'a [String],
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>> {
    let ids = ids.to_vec();
    Box::pin(async move {
      if ids.is_empty() {
        return Ok(Vec::new());
      }
      self
        .read(move |c| {
          let tx = c.transaction().map_err(db_err)?;
          let rows = messages_by_ids(&tx, &ids)?;
          Ok(util::merge_sorted(rows, false))
        })
        .await
    })
  }

  fn delete_messages<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<u64>> {
    let ids = ids.to_vec();
    Box::pin(async move {
      if ids.is_empty() {
        return Ok(0);
      }
      self
        .write(move |c| {
          let tx = immediate(c)?;
          let found = messages_by_ids(&tx, &ids)?;
          let msgs: Vec<StoredMessage> = found.into_iter().map(|(_, m)| m).collect();
          let threads = util::thread_ids(&msgs);
          let mut deleted = 0u64;
          {
            let mut stmt = tx
              .prepare_cached("DELETE FROM lumos_messages WHERE id = ?1")
              .map_err(db_err)?;
            for m in &msgs {
              deleted += stmt.execute([&m.id]).map_err(db_err)? as u64;
            }
          }
          touch_threads(&tx, &threads, now_ms())?;
          tx.commit().map_err(db_err)?;
          Ok(deleted)
        })
        .await
    })
  }

  fn clone_thread(&self, options: CloneThreadOptions) -> BoxFuture<'_, Result<CloneThreadResult>> {
    Box::pin(async move { self.write(move |c| clone_tx(c, options)).await })
  }

  fn get_resource<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Resource>>> {
    let id = id.to_string();
    Box::pin(async move { self.read(move |c| get_resource_tx(c, &id)).await })
  }

  fn upsert_resource(&self, upsert: ResourceUpsert) -> BoxFuture<'_, Result<Resource>> {
    Box::pin(async move { self.write(move |c| upsert_resource_tx(c, upsert)).await })
  }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
  use super::*;

  #[test]
  fn urls() {
    assert_eq!(parse_url(":memory:").unwrap(), Location::Memory);
    assert_eq!(parse_url("file::memory:").unwrap(), Location::Memory);
    assert_eq!(
      parse_url("file:./x.db").unwrap(),
      Location::File("./x.db".into())
    );
    assert_eq!(
      parse_url("file:///tmp/x.db").unwrap(),
      Location::File("/tmp/x.db".into())
    );
    assert_eq!(
      parse_url("/tmp/y.db").unwrap(),
      Location::File("/tmp/y.db".into())
    );
    for remote in [
      "libsql://db.turso.io",
      "https://x.example",
      "http://127.0.0.1:8080",
      "wss://x",
    ] {
      let e = parse_url(remote).unwrap_err();
      assert_eq!(e.code(), "STORE_UNSUPPORTED_URL");
      assert!(e.to_string().contains("file:"), "{e}");
    }
    assert_eq!(
      parse_url("postgres://u@h/db").unwrap_err().code(),
      "STORE_UNSUPPORTED_URL"
    );
    assert_eq!(
      parse_url("redis://x").unwrap_err().code(),
      "STORE_UNSUPPORTED_URL"
    );
    assert_eq!(parse_url("").unwrap_err().code(), "STORE_INVALID_INPUT");
  }
}

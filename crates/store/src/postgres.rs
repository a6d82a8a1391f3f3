//! PostgreSQL backend: many processes share one database.
//!
//! tokio-postgres behind a deadpool pool. Every multi-row write is one transaction; upserts use
//! `ON CONFLICT`; `update_thread` and `upsert_resource` merge metadata inside the statement
//! (`jsonb ||`), so concurrent writers in other processes never lose each other's keys.
//! `save_messages` row-locks its threads (in id order) before inserting, so concurrent batches
//! into one thread do not interleave and each batch keeps its order.
//!
//! Types: timestamps are `BIGINT` epoch ms (as in SQLite); thread and resource metadata are
//! `JSONB` (filterable); message content is `JSON`, which keeps the exact text, key order
//! included, that the message came with (`JSONB` would reorder keys of tool arguments).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Transaction};
use futures::future::BoxFuture;
use serde_json::Value;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use crate::pgtls::{MakeRustls, TlsOptions, make_tls, split_tls_params};

use crate::error::{Result, StoreError};
use crate::types::*;
use crate::util::{self, now_ms};
use crate::{SCHEMA_VERSION, Storage};

mod workflows;

pub(crate) fn is_postgres_url(url: &str) -> bool {
  let lower = url.trim().to_ascii_lowercase();
  lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Options for [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
  /// Most connections this process opens (Mastra #5711 / #8953: keep it well under the
  /// server's `max_connections` divided by the number of app processes).
  pub max_connections: usize,
  /// How long a call waits for a free pooled connection before failing.
  pub acquire_timeout: Duration,
  /// TLS settings replacing the connection string's `sslmode` / `sslrootcert` (JS `ssl`).
  pub tls: Option<TlsOptions>,
}

impl Default for PostgresOptions {
  fn default() -> Self {
    PostgresOptions {
      max_connections: 10,
      acquire_timeout: Duration::from_secs(30),
      tls: None,
    }
  }
}

/// The PostgreSQL store. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct PostgresStore {
  pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("PostgresStore").finish_non_exhaustive()
  }
}

pub(crate) fn chain(e: &dyn std::error::Error) -> String {
  let mut s = e.to_string();
  let mut src = e.source();
  while let Some(inner) = src {
    let text = inner.to_string();
    if !s.contains(&text) {
      s.push_str(": ");
      s.push_str(&text);
    }
    src = inner.source();
  }
  s
}

pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
  if let Some(db) = e.as_db_error() {
    let code = db.code();
    if *code == SqlState::FOREIGN_KEY_VIOLATION {
      return StoreError::NotFound(format!(
        "PostgreSQL: {} (a message refers to a thread that does not exist: create the thread first)",
        db.message()
      ));
    }
    let detail = db.detail().map(|d| format!(" ({d})")).unwrap_or_default();
    return StoreError::Db(format!(
      "PostgreSQL error {}: {}{detail}",
      code.code(),
      db.message()
    ));
  }
  if e.is_closed() || e.code().is_none() {
    let text = chain(&e);
    let hint = if text.contains("not valid for name") {
      "the server's TLS certificate was issued for another host name: connect with that name, or use sslmode=verify-ca to check only the chain"
    } else if text.contains("invalid peer certificate") {
      "the server's TLS certificate is not trusted: give its CA with sslrootcert=/path/to/ca.pem (JS: ssl: { ca }), or use sslmode=require to encrypt without checking it"
    } else {
      "check the connection string and that the server is reachable"
    };
    return StoreError::Io(format!("PostgreSQL connection failed: {text}; {hint}"));
  }
  StoreError::Db(format!("PostgreSQL error: {}", chain(&e)))
}

pub(crate) fn pool_err(e: PoolError) -> StoreError {
  match e {
    PoolError::Backend(e) => pg_err(e),
    PoolError::Timeout(_) => StoreError::Io(
      "timed out waiting for a PostgreSQL connection from the pool: raise maxConnections or check the server".into(),
    ),
    other => StoreError::Io(format!("cannot get a PostgreSQL connection: {other}")),
  }
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

pub(crate) fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
  row
    .try_get(i)
    .map_err(|e| StoreError::Db(format!("unexpected PostgreSQL column {i}: {}", chain(&e))))
}

/// The schema, one entry per version. Never edit an entry once released: add a new one.
const MIGRATIONS: &[(i64, &str)] = &[
  (
    1,
    "CREATE TABLE lumos_threads (
     seq BIGINT GENERATED ALWAYS AS IDENTITY,
     id TEXT PRIMARY KEY,
     resource_id TEXT NOT NULL,
     title TEXT,
     metadata JSONB,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE INDEX lumos_threads_resource ON lumos_threads (resource_id, created_at);
   CREATE TABLE lumos_messages (
     seq BIGINT GENERATED ALWAYS AS IDENTITY,
     id TEXT PRIMARY KEY,
     thread_id TEXT NOT NULL REFERENCES lumos_threads (id) ON DELETE CASCADE,
     resource_id TEXT,
     role TEXT NOT NULL,
     type TEXT,
     created_at BIGINT NOT NULL,
     content JSON NOT NULL
   );
   CREATE INDEX lumos_messages_thread_order ON lumos_messages (thread_id, created_at, seq);
   CREATE TABLE lumos_resources (
     id TEXT PRIMARY KEY,
     working_memory TEXT,
     metadata JSONB,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL
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
     epoch BIGINT NOT NULL,
     created_at BIGINT NOT NULL,
     updated_at BIGINT NOT NULL,
     PRIMARY KEY (workflow_name, run_id)
   );
   CREATE INDEX lumos_workflow_runs_created ON lumos_workflow_runs (workflow_name, created_at);
   CREATE INDEX lumos_workflow_runs_status ON lumos_workflow_runs (status, workflow_name);
   CREATE TABLE lumos_workflow_steps (
     seq BIGINT GENERATED ALWAYS AS IDENTITY,
     workflow_name TEXT NOT NULL,
     run_id TEXT NOT NULL,
     key TEXT NOT NULL,
     record TEXT NOT NULL,
     PRIMARY KEY (workflow_name, run_id, key)
   );",
  ),
  // Version 3 reshaped SQLite's workflow tables for its workflow journal; PostgreSQL's are
  // unchanged (the number is shared by both backends).
  (3, "SELECT 1"),
  // SQLite packs a run's step records into its row at version 4; PostgreSQL keeps a row per
  // record (it commits each step on its own).
  (4, "SELECT 1"),
];

/// Parses `postgres://user:pass@host:port/db` (or the key=value form), with libpq's `sslmode`
/// and `sslrootcert` (see `pgtls`); `options.tls`, when set, replaces the string's TLS settings.
/// Returns the tokio-postgres config and the TLS connector every connection of a store shares.
pub(crate) fn parse_url(
  url: &str,
  options: &PostgresOptions,
) -> Result<(tokio_postgres::Config, MakeRustls)> {
  let (rest, from_url) = split_tls_params(url)?;
  let mut config: tokio_postgres::Config = rest.parse().map_err(|e: tokio_postgres::Error| {
    StoreError::invalid(format!(
      "invalid PostgreSQL connection string: {}; expected postgres://user:password@host:5432/database",
      chain(&e)
    ))
  })?;
  let tls = options.tls.clone().unwrap_or(from_url);
  config.ssl_mode(tls.mode.ssl_mode());
  Ok((config, make_tls(&tls)?))
}

pub(crate) fn build_pool(
  config: &tokio_postgres::Config,
  tls: MakeRustls,
  options: &PostgresOptions,
) -> Result<Pool> {
  let manager = Manager::from_config(
    config.clone(),
    tls,
    ManagerConfig {
      recycling_method: RecyclingMethod::Fast,
    },
  );
  Pool::builder(manager)
    .max_size(options.max_connections.max(1))
    .wait_timeout(Some(options.acquire_timeout))
    .runtime(deadpool_postgres::Runtime::Tokio1)
    .build()
    .map_err(|e| StoreError::invalid(format!("cannot build the PostgreSQL pool: {e}")))
}

/// Applies the `migrations` not yet recorded in `version_table`, each in its own transaction
/// under an advisory lock, so processes starting together migrate once.
pub(crate) async fn run_migrations(
  client: &mut deadpool_postgres::Object,
  version_table: &str,
  migrations: &[(i64, &str)],
  latest: i64,
) -> Result<()> {
  let mig = |e: tokio_postgres::Error| {
    StoreError::Migration(format!("PostgreSQL schema migration failed: {}", chain(&e)))
  };
  for (version, sql) in migrations {
    let tx = client.transaction().await.map_err(mig)?;
    // Another process migrating at the same time waits here, then sees the new version.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
      .await
      .map_err(mig)?;
    tx.batch_execute(&format!(
      "CREATE TABLE IF NOT EXISTS {version_table} (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
    ))
    .await
    .map_err(mig)?;
    let row = tx
      .query_one(
        &format!("SELECT COALESCE(MAX(version), 0)::int8 FROM {version_table}"),
        &[],
      )
      .await
      .map_err(mig)?;
    let current: i64 = col(&row, 0)?;
    if current > latest {
      return Err(StoreError::Migration(format!(
        "the database has schema version {current} ({version_table}), newer than this Lumos build knows ({latest}): upgrade Lumos in every process that shares it"
      )));
    }
    if current >= *version {
      tx.commit().await.map_err(mig)?;
      continue;
    }
    tx.batch_execute(sql).await.map_err(mig)?;
    tx.execute(
      &format!("INSERT INTO {version_table} (version, applied_at) VALUES ($1, $2)"),
      &[version, &now_ms()],
    )
    .await
    .map_err(mig)?;
    tx.commit().await.map_err(mig)?;
  }
  Ok(())
}

/// Advisory lock key serializing migrations across processes ("lumos" in ASCII).
const MIGRATION_LOCK: i64 = 0x006c_756d_6f73;

const THREAD_COLS: &str = "id, resource_id, title, metadata::text, created_at, updated_at";
const MSG_COLS: &str = "seq, id, thread_id, resource_id, role, type, created_at, content::text";

fn thread_from(row: &Row) -> Result<Thread> {
  let id: String = col(row, 0)?;
  let metadata: Option<String> = col(row, 3)?;
  let metadata = match metadata {
    Some(text) => Some(parse_json(&text, || format!("thread '{id}' metadata"))?),
    None => None,
  };
  Ok(Thread {
    resource_id: col(row, 1)?,
    title: col(row, 2)?,
    metadata,
    created_at: col(row, 4)?,
    updated_at: col(row, 5)?,
    id,
  })
}

fn message_from(row: &Row) -> Result<(i64, StoredMessage)> {
  let id: String = col(row, 1)?;
  let content: String = col(row, 7)?;
  let content = parse_json(&content, || format!("message '{id}' content"))?;
  Ok((
    col(row, 0)?,
    StoredMessage {
      thread_id: col(row, 2)?,
      resource_id: col(row, 3)?,
      role: col(row, 4)?,
      r#type: col(row, 5)?,
      created_at: col(row, 6)?,
      content,
      id,
    },
  ))
}

fn messages_from(rows: &[Row]) -> Result<Vec<(i64, StoredMessage)>> {
  rows.iter().map(message_from).collect()
}

fn resource_from(row: &Row) -> Result<Resource> {
  let id: String = col(row, 0)?;
  let metadata: Option<String> = col(row, 2)?;
  let metadata = match metadata {
    Some(text) => Some(parse_json(&text, || format!("resource '{id}' metadata"))?),
    None => None,
  };
  Ok(Resource {
    working_memory: col(row, 1)?,
    metadata,
    created_at: col(row, 3)?,
    updated_at: col(row, 4)?,
    id,
  })
}

type Param = Box<dyn ToSql + Sync + Send>;

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
  params
    .iter()
    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
    .collect()
}

async fn insert_messages(tx: &Transaction<'_>, messages: &[StoredMessage]) -> Result<()> {
  if messages.is_empty() {
    return Ok(());
  }
  let n = messages.len();
  let (mut ids, mut threads, mut resources, mut roles, mut types, mut times, mut contents) = (
    Vec::with_capacity(n),
    Vec::with_capacity(n),
    Vec::with_capacity(n),
    Vec::with_capacity(n),
    Vec::with_capacity(n),
    Vec::with_capacity(n),
    Vec::with_capacity(n),
  );
  for m in messages {
    ids.push(m.id.as_str());
    threads.push(m.thread_id.as_str());
    resources.push(m.resource_id.as_deref());
    roles.push(m.role.as_str());
    types.push(m.r#type.as_deref());
    times.push(m.created_at);
    contents.push(to_json(&m.content)?);
  }
  let stmt = tx
    .prepare_cached(
      "INSERT INTO lumos_messages (id, thread_id, resource_id, role, type, created_at, content)
       SELECT id, thread_id, resource_id, role, type, created_at, content::json
       FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], $7::text[])
         WITH ORDINALITY AS u (id, thread_id, resource_id, role, type, created_at, content, ord)
       ORDER BY ord
       ON CONFLICT (id) DO UPDATE SET thread_id = EXCLUDED.thread_id, resource_id = EXCLUDED.resource_id,
         role = EXCLUDED.role, type = EXCLUDED.type, created_at = EXCLUDED.created_at, content = EXCLUDED.content",
    )
    .await
    .map_err(pg_err)?;
  tx.execute(
    &stmt,
    &[
      &ids, &threads, &resources, &roles, &types, &times, &contents,
    ],
  )
  .await
  .map_err(pg_err)?;
  Ok(())
}

/// Row-locks the threads (sorted, so concurrent batches cannot deadlock) and fails with
/// `STORE_NOT_FOUND` naming the first one missing.
async fn lock_threads(tx: &Transaction<'_>, ids: &[String]) -> Result<()> {
  let mut sorted = ids.to_vec();
  sorted.sort();
  let stmt = tx
    .prepare_cached("SELECT id FROM lumos_threads WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
    .await
    .map_err(pg_err)?;
  let rows = tx.query(&stmt, &[&sorted]).await.map_err(pg_err)?;
  let found: std::collections::HashSet<String> = rows
    .iter()
    .map(|r| col::<String>(r, 0))
    .collect::<Result<_>>()?;
  if let Some(missing) = ids.iter().find(|id| !found.contains(*id)) {
    return Err(StoreError::thread_not_found(missing));
  }
  Ok(())
}

async fn touch_threads(tx: &Transaction<'_>, ids: &[String], now: i64) -> Result<()> {
  if ids.is_empty() {
    return Ok(());
  }
  let stmt = tx
    .prepare_cached("UPDATE lumos_threads SET updated_at = $2 WHERE id = ANY($1)")
    .await
    .map_err(pg_err)?;
  tx.execute(&stmt, &[&ids, &now]).await.map_err(pg_err)?;
  Ok(())
}

async fn include_window(
  tx: &Transaction<'_>,
  inc: &IncludeMessage,
) -> Result<Vec<(i64, StoredMessage)>> {
  let rows = tx
    .query(
      &format!("SELECT {MSG_COLS} FROM lumos_messages WHERE id = $1"),
      &[&inc.id],
    )
    .await
    .map_err(pg_err)?;
  let Some(row) = rows.first() else {
    return Ok(Vec::new());
  };
  let (seq, msg) = message_from(row)?;
  let mut out = Vec::new();
  if inc.before > 0 {
    let rows = tx
      .query(
        &format!(
          "SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = $1 AND (created_at, seq) < ($2, $3)
           ORDER BY created_at DESC, seq DESC LIMIT $4"
        ),
        &[&msg.thread_id, &msg.created_at, &seq, &i64::from(inc.before)],
      )
      .await
      .map_err(pg_err)?;
    out.extend(messages_from(&rows)?);
  }
  if inc.after > 0 {
    let rows = tx
      .query(
        &format!(
          "SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = $1 AND (created_at, seq) > ($2, $3)
           ORDER BY created_at ASC, seq ASC LIMIT $4"
        ),
        &[&msg.thread_id, &msg.created_at, &seq, &i64::from(inc.after)],
      )
      .await
      .map_err(pg_err)?;
    out.extend(messages_from(&rows)?);
  }
  out.push((seq, msg));
  Ok(out)
}

impl PostgresStore {
  /// Connects (`postgres://user:pass@host:port/db`, or key=value form; TLS per `sslmode`, see
  /// `pgtls`) and migrates.
  pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self> {
    let (config, tls) = parse_url(url, &options)?;
    let store = PostgresStore {
      pool: build_pool(&config, tls, &options)?,
    };
    store.migrate().await?;
    Ok(store)
  }

  async fn client(&self) -> Result<deadpool_postgres::Object> {
    self.pool.get().await.map_err(pool_err)
  }

  /// The schema version recorded in `lumos_schema_version`.
  pub async fn schema_version(&self) -> Result<i64> {
    let client = self.client().await?;
    let row = client
      .query_one(
        "SELECT COALESCE(MAX(version), 0)::int8 FROM lumos_schema_version",
        &[],
      )
      .await
      .map_err(pg_err)?;
    col(&row, 0)
  }

  async fn migrate(&self) -> Result<()> {
    let mut client = self.client().await?;
    run_migrations(
      &mut client,
      "lumos_schema_version",
      MIGRATIONS,
      SCHEMA_VERSION,
    )
    .await
  }

  async fn get_thread_owned(&self, id: String) -> Result<Option<Thread>> {
    let client = self.client().await?;
    let stmt = client
      .prepare_cached(&format!(
        "SELECT {THREAD_COLS} FROM lumos_threads WHERE id = $1"
      ))
      .await
      .map_err(pg_err)?;
    let rows = client.query(&stmt, &[&id]).await.map_err(pg_err)?;
    rows.first().map(thread_from).transpose()
  }
}

impl Storage for PostgresStore {
  fn backend(&self) -> &'static str {
    "postgres"
  }

  fn create_thread(&self, thread: Thread) -> BoxFuture<'_, Result<Thread>> {
    Box::pin(async move {
      let metadata = util::check_thread(&thread)?;
      let thread = Thread {
        metadata: metadata.map(Value::Object),
        ..thread
      };
      let meta_text = thread.metadata.as_ref().map(to_json).transpose()?;
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(
          "INSERT INTO lumos_threads (id, resource_id, title, metadata, created_at, updated_at)
           VALUES ($1, $2, $3, $4::text::jsonb, $5, $6)
           ON CONFLICT (id) DO UPDATE SET resource_id = EXCLUDED.resource_id, title = EXCLUDED.title,
             metadata = EXCLUDED.metadata, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at",
        )
        .await
        .map_err(pg_err)?;
      client
        .execute(
          &stmt,
          &[
            &thread.id,
            &thread.resource_id,
            &thread.title,
            &meta_text,
            &thread.created_at,
            &thread.updated_at,
          ],
        )
        .await
        .map_err(pg_err)?;
      Ok(thread)
    })
  }

  fn get_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Thread>>> {
    Box::pin(self.get_thread_owned(id.to_string()))
  }

  fn list_threads(&self, q: ListThreadsQuery) -> BoxFuture<'_, Result<ThreadPage>> {
    Box::pin(async move {
      let mut conds: Vec<String> = Vec::new();
      let mut params: Vec<Param> = Vec::new();
      if let Some(r) = &q.resource_id {
        params.push(Box::new(r.clone()));
        conds.push(format!("resource_id = ${}", params.len()));
      }
      if let Some(filter) = &q.metadata {
        for (k, v) in filter {
          util::check_filter_key(k)?;
          params.push(Box::new(k.clone()));
          params.push(Box::new(to_json(v)?));
          conds.push(format!(
            "(metadata -> ${}::text) = ${}::text::jsonb",
            params.len() - 1,
            params.len()
          ));
        }
      }
      let where_sql = if conds.is_empty() {
        String::new()
      } else {
        format!(" WHERE {}", conds.join(" AND "))
      };
      let mut client = self.client().await?;
      let tx = snapshot_tx(&mut client).await?;
      let row = tx
        .query_one(
          &format!("SELECT COUNT(*) FROM lumos_threads{where_sql}"),
          &refs(&params),
        )
        .await
        .map_err(pg_err)?;
      let total: i64 = col(&row, 0)?;
      let (offset, limit) = util::page_window(q.page, q.per_page);
      params.push(Box::new(limit));
      params.push(Box::new(offset));
      let dir = q.direction.sql();
      let sql = format!(
        "SELECT {THREAD_COLS} FROM lumos_threads{where_sql} ORDER BY {c} {dir}, seq {dir} LIMIT ${} OFFSET ${}",
        params.len() - 1,
        params.len(),
        c = q.order_by.column()
      );
      let rows = tx.query(&sql, &refs(&params)).await.map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)?;
      let threads = rows.iter().map(thread_from).collect::<Result<Vec<_>>>()?;
      let total = total.max(0) as u64;
      Ok(ThreadPage {
        threads,
        total,
        page: q.page,
        per_page: q.per_page,
        has_more: util::has_more(q.page, q.per_page, total),
      })
    })
  }

  fn update_thread(&self, update: ThreadUpdate) -> BoxFuture<'_, Result<Thread>> {
    Box::pin(async move {
      util::check_id("thread id", &update.id)?;
      let patch = util::check_metadata("thread", update.metadata)?;
      let patch = patch.map(|m| to_json(&Value::Object(m))).transpose()?;
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(&format!(
          "UPDATE lumos_threads SET title = COALESCE($2, title),
             metadata = CASE WHEN $3::text IS NULL THEN metadata
                             ELSE COALESCE(metadata, '{{}}'::jsonb) || $3::text::jsonb END,
             updated_at = $4
           WHERE id = $1 RETURNING {THREAD_COLS}"
        ))
        .await
        .map_err(pg_err)?;
      let rows = client
        .query(&stmt, &[&update.id, &update.title, &patch, &now_ms()])
        .await
        .map_err(pg_err)?;
      match rows.first() {
        Some(row) => thread_from(row),
        None => Err(StoreError::thread_not_found(&update.id)),
      }
    })
  }

  fn delete_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      tx.execute("DELETE FROM lumos_messages WHERE thread_id = $1", &[&id])
        .await
        .map_err(pg_err)?;
      tx.execute("DELETE FROM lumos_threads WHERE id = $1", &[&id])
        .await
        .map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)
    })
  }

  fn save_messages(&self, messages: Vec<StoredMessage>) -> BoxFuture<'_, Result<()>> {
    Box::pin(async move {
      let messages = util::prepare_messages(messages)?;
      if messages.is_empty() {
        return Ok(());
      }
      let threads = util::thread_ids(&messages);
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      lock_threads(&tx, &threads).await?;
      insert_messages(&tx, &messages).await?;
      touch_threads(&tx, &threads, now_ms()).await?;
      tx.commit().await.map_err(pg_err)
    })
  }

  fn list_messages(&self, q: ListMessagesQuery) -> BoxFuture<'_, Result<MessagePage>> {
    Box::pin(async move {
      let mut conds = vec!["thread_id = $1".to_string()];
      let mut params: Vec<Param> = vec![Box::new(q.thread_id.clone())];
      if let Some(r) = &q.resource_id {
        params.push(Box::new(r.clone()));
        conds.push(format!("resource_id = ${}", params.len()));
      }
      if let Some(range) = q.date_range {
        if let Some(start) = range.start {
          params.push(Box::new(start));
          conds.push(format!("created_at >= ${}", params.len()));
        }
        if let Some(end) = range.end {
          params.push(Box::new(end));
          conds.push(format!("created_at <= ${}", params.len()));
        }
      }
      let where_sql = conds.join(" AND ");
      let mut client = self.client().await?;
      let tx = snapshot_tx(&mut client).await?;
      // perPage 0: includes only, no count (as the SQLite store and Mastra).
      let total: i64 = if q.per_page == Some(0) {
        0
      } else {
        let row = tx
          .query_one(
            &format!("SELECT COUNT(*) FROM lumos_messages WHERE {where_sql}"),
            &refs(&params),
          )
          .await
          .map_err(pg_err)?;
        col(&row, 0)?
      };
      let dir = q.direction.sql();
      let mut rows = Vec::new();
      if q.per_page != Some(0) {
        let (offset, limit) = util::page_window(q.page, q.per_page);
        params.push(Box::new(limit));
        params.push(Box::new(offset));
        let sql = format!(
          "SELECT {MSG_COLS} FROM lumos_messages WHERE {where_sql} ORDER BY created_at {dir}, seq {dir} LIMIT ${} OFFSET ${}",
          params.len() - 1,
          params.len()
        );
        rows = messages_from(&tx.query(&sql, &refs(&params)).await.map_err(pg_err)?)?;
      }
      for inc in &q.include {
        rows.extend(include_window(&tx, inc).await?);
      }
      tx.commit().await.map_err(pg_err)?;
      let total = total.max(0) as u64;
      Ok(MessagePage {
        messages: util::merge_sorted(rows, q.direction == Direction::Desc),
        total,
        page: q.page,
        per_page: q.per_page,
        has_more: util::has_more(q.page, q.per_page, total),
      })
    })
  }

  fn last_messages<'a>(
    &'a self,
    thread_id: &'a str,
    n: u32,
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>> {
    Box::pin(async move {
      if n == 0 {
        return Ok(Vec::new());
      }
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(&format!(
          "SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2"
        ))
        .await
        .map_err(pg_err)?;
      let rows = client
        .query(&stmt, &[&thread_id, &i64::from(n)])
        .await
        .map_err(pg_err)?;
      Ok(
        messages_from(&rows)?
          .into_iter()
          .rev()
          .map(|(_, m)| m)
          .collect(),
      )
    })
  }

  fn get_messages_by_ids<'a>(
    &'a self,
    ids: &'a [String],
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>> {
    Box::pin(async move {
      if ids.is_empty() {
        return Ok(Vec::new());
      }
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(&format!(
          "SELECT {MSG_COLS} FROM lumos_messages WHERE id = ANY($1)"
        ))
        .await
        .map_err(pg_err)?;
      let rows = client.query(&stmt, &[&ids]).await.map_err(pg_err)?;
      Ok(util::merge_sorted(messages_from(&rows)?, false))
    })
  }

  fn delete_messages<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<u64>> {
    Box::pin(async move {
      if ids.is_empty() {
        return Ok(0);
      }
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      let rows = tx
        .query(
          "DELETE FROM lumos_messages WHERE id = ANY($1) RETURNING thread_id",
          &[&ids],
        )
        .await
        .map_err(pg_err)?;
      let mut threads: Vec<String> = rows
        .iter()
        .map(|r| col::<String>(r, 0))
        .collect::<Result<_>>()?;
      threads.sort();
      threads.dedup();
      touch_threads(&tx, &threads, now_ms()).await?;
      tx.commit().await.map_err(pg_err)?;
      Ok(rows.len() as u64)
    })
  }

  fn clone_thread(&self, options: CloneThreadOptions) -> BoxFuture<'_, Result<CloneThreadResult>> {
    Box::pin(async move {
      util::check_id("sourceThreadId", &options.source_thread_id)?;
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      let rows = tx
        .query(
          &format!("SELECT {THREAD_COLS} FROM lumos_threads WHERE id = $1"),
          &[&options.source_thread_id],
        )
        .await
        .map_err(pg_err)?;
      let source = match rows.first() {
        Some(row) => thread_from(row)?,
        None => return Err(StoreError::thread_not_found(&options.source_thread_id)),
      };
      let rows = tx
        .query(
          &format!("SELECT {MSG_COLS} FROM lumos_messages WHERE thread_id = $1 ORDER BY created_at ASC, seq ASC"),
          &[&source.id],
        )
        .await
        .map_err(pg_err)?;
      let messages = messages_from(&rows)?.into_iter().map(|(_, m)| m).collect();
      let plan = util::plan_clone(&source, messages, &options, now_ms())?;
      let meta_text = plan.thread.metadata.as_ref().map(to_json).transpose()?;
      let inserted = tx
        .execute(
          "INSERT INTO lumos_threads (id, resource_id, title, metadata, created_at, updated_at)
           VALUES ($1, $2, $3, $4::text::jsonb, $5, $6) ON CONFLICT (id) DO NOTHING",
          &[
            &plan.thread.id,
            &plan.thread.resource_id,
            &plan.thread.title,
            &meta_text,
            &plan.thread.created_at,
            &plan.thread.updated_at,
          ],
        )
        .await
        .map_err(pg_err)?;
      if inserted == 0 {
        return Err(StoreError::invalid(format!(
          "thread '{}' already exists: pass another newThreadId, or leave it out to get a new one",
          plan.thread.id
        )));
      }
      insert_messages(&tx, &plan.cloned_messages).await?;
      tx.commit().await.map_err(pg_err)?;
      Ok(plan)
    })
  }

  fn get_resource<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Resource>>> {
    Box::pin(async move {
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(
          "SELECT id, working_memory, metadata::text, created_at, updated_at FROM lumos_resources WHERE id = $1",
        )
        .await
        .map_err(pg_err)?;
      let rows = client.query(&stmt, &[&id]).await.map_err(pg_err)?;
      rows.first().map(resource_from).transpose()
    })
  }

  fn upsert_resource(&self, up: ResourceUpsert) -> BoxFuture<'_, Result<Resource>> {
    Box::pin(async move {
      util::check_id("resource id", &up.id)?;
      let patch = util::check_metadata("resource", up.metadata)?;
      let patch = patch.map(|m| to_json(&Value::Object(m))).transpose()?;
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(
          "INSERT INTO lumos_resources (id, working_memory, metadata, created_at, updated_at)
           VALUES ($1, $2, $3::text::jsonb, $4, $4)
           ON CONFLICT (id) DO UPDATE SET
             working_memory = COALESCE(EXCLUDED.working_memory, lumos_resources.working_memory),
             metadata = CASE WHEN EXCLUDED.metadata IS NULL THEN lumos_resources.metadata
                             ELSE COALESCE(lumos_resources.metadata, '{}'::jsonb) || EXCLUDED.metadata END,
             updated_at = EXCLUDED.updated_at
           RETURNING id, working_memory, metadata::text, created_at, updated_at",
        )
        .await
        .map_err(pg_err)?;
      let row = client
        .query_one(&stmt, &[&up.id, &up.working_memory, &patch, &now_ms()])
        .await
        .map_err(pg_err)?;
      resource_from(&row)
    })
  }
}

/// A read-only repeatable-read transaction: a count and the page it counts see one snapshot.
async fn snapshot_tx(
  client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>> {
  client
    .build_transaction()
    .isolation_level(IsolationLevel::RepeatableRead)
    .read_only(true)
    .start()
    .await
    .map_err(pg_err)
}

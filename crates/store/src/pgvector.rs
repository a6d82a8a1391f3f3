//! PgVector: vector indexes whose rows live in PostgreSQL, so every process using the database
//! shares them, and whose searches run on a native in-process [`VectorStore`] kept in sync.
//!
//! Tables: `lumos_vector_indexes` (name, dimension, metric, a `generation` that changes when an
//! index is deleted and created again, and `last_seq`) and `lumos_vectors` (one row per vector:
//! `seq`, `vector` as little-endian f32 `BYTEA`, `metadata` as `JSON`; a deleted vector stays as a
//! tombstone with `vector` NULL so other processes see the delete). Tombstones more than
//! `tombstone_horizon` numbers behind `last_seq` are pruned (recorded in `pruned_seq`); a process
//! further behind than that reloads the index instead of catching up.
//!
//! Every write is one transaction that row-locks the index's catalogue row and takes the next
//! `seq` numbers from its `last_seq`. Writers of one index are therefore serialized and commit in
//! `seq` order, so a reader that has applied everything up to `seq = n` catches up exactly with
//! `WHERE seq > n` (no commit can later appear below a number it has seen). Writes go to
//! PostgreSQL first; once committed they are applied to the local index. Other processes pick
//! them up from a background task woken by `LISTEN/NOTIFY` (the write transaction notifies on
//! commit) and, as a fallback, by polling the catalogue every `poll_interval`.
//!
//! A process loads an index lazily, on first use, and drops it when another process deletes it
//! (a new generation under the same name is reloaded from scratch).

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::{StreamExt, TryStreamExt};
use lumos_vector::{IndexStats, Metric, Quantization, QueryResult, VectorError, VectorStore};
use serde_json::Value;
use tokio::sync::{Mutex, Notify};
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, IsolationLevel};

use crate::error::StoreError;
use crate::pgtls::MakeRustls;
use crate::postgres::{
  PostgresOptions, build_pool, col, parse_url, pg_err, pool_err, run_migrations,
};
use crate::util::now_ms;

/// Every PgVector failure: the vector store's own errors (bad input, unknown index…) or a
/// PostgreSQL one. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum PgVectorError {
  /// Bad input, unknown or conflicting index (`VECTOR_*` codes).
  #[error(transparent)]
  Vector(#[from] VectorError),
  /// The database failed or is unreachable (`STORE_*` codes).
  #[error(transparent)]
  Store(#[from] StoreError),
}

impl PgVectorError {
  /// `VECTOR_…` or `STORE_…`.
  pub fn code(&self) -> &'static str {
    match self {
      PgVectorError::Vector(e) => e.code(),
      PgVectorError::Store(e) => e.code(),
    }
  }
}

impl From<tokio_postgres::Error> for PgVectorError {
  fn from(e: tokio_postgres::Error) -> Self {
    PgVectorError::Store(pg_err(e))
  }
}

type Result<T> = std::result::Result<T, PgVectorError>;

/// Options for [`PgVectorStore`].
#[derive(Debug, Clone)]
pub struct PgVectorOptions {
  /// Pool size and acquire timeout (one more connection is used for `LISTEN`).
  pub postgres: PostgresOptions,
  /// How often the catalogue is polled for other processes' writes when no notification came
  /// (notifications make it sooner). Zero turns background sync off.
  pub poll_interval: Duration,
  /// Listen for change notifications (lower latency than polling alone).
  pub listen: bool,
  /// Deleted vectors are remembered (as tombstones) for this many sequence numbers; a process
  /// that falls further behind reloads the index.
  pub tombstone_horizon: i64,
}

impl Default for PgVectorOptions {
  fn default() -> Self {
    PgVectorOptions {
      postgres: PostgresOptions {
        max_connections: 4,
        ..PostgresOptions::default()
      },
      poll_interval: Duration::from_millis(200),
      listen: true,
      tombstone_horizon: 100_000,
    }
  }
}

const MIGRATIONS: &[(i64, &str)] = &[(
  1,
  "CREATE TABLE lumos_vector_indexes (
     name TEXT PRIMARY KEY,
     dimension INT NOT NULL,
     metric TEXT NOT NULL,
     generation TEXT NOT NULL,
     last_seq BIGINT NOT NULL DEFAULT 0,
     pruned_seq BIGINT NOT NULL DEFAULT 0,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE lumos_vectors (
     index_name TEXT NOT NULL,
     id TEXT NOT NULL,
     seq BIGINT NOT NULL,
     vector BYTEA,
     metadata JSON,
     PRIMARY KEY (index_name, id)
   );
   CREATE INDEX lumos_vectors_changes ON lumos_vectors (index_name, seq);",
)];
const SCHEMA_VERSION: i64 = 1;
const CHANNEL: &str = "lumos_vector_changes";
/// Rows per INSERT statement and per local apply batch.
const BATCH: usize = 2000;

/// What this process has applied of one index.
#[derive(Clone, Debug, PartialEq)]
struct Synced {
  generation: String,
  seq: i64,
}

/// A catalogue row.
struct Catalogue {
  dimension: usize,
  metric: Metric,
  generation: String,
  last_seq: i64,
  /// Tombstones up to here are gone: a delta from below it would miss deletes.
  pruned_seq: i64,
}

struct Inner {
  pool: Pool,
  tombstone_horizon: i64,
  local: Arc<VectorStore>,
  /// Applied state per locally loaded index. Held while the local index is changed, so pulls
  /// and this process's own writes apply in `seq` order. Lock order: a pooled connection, then
  /// an index's row lock (writers), then this; whoever holds this never waits for a pooled
  /// connection or a row lock (pulls run on the caller's connection or the sync task's own).
  synced: Mutex<HashMap<String, Synced>>,
  signals: Arc<Signals>,
}

/// Wake-ups of the sync task, apart from `Inner` so a waiting task does not keep the store alive.
#[derive(Default)]
struct Signals {
  stop: Notify,
  wake: Notify,
}

/// Vector indexes in PostgreSQL, searched in process. Cheap to clone.
#[derive(Clone)]
pub struct PgVectorStore {
  inner: Arc<Inner>,
}

impl std::fmt::Debug for PgVectorStore {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("PgVectorStore").finish_non_exhaustive()
  }
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
  v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_vector(b: &[u8], dim: usize, out: &mut Vec<f32>) -> Result<()> {
  if b.len() != dim * 4 {
    return Err(
      StoreError::Db(format!(
        "a stored vector has {} bytes but the index has dimension {dim}; the row was written by something else",
        b.len()
      ))
      .into(),
    );
  }
  out.extend(
    b.chunks_exact(4)
      .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
  );
  Ok(())
}

fn parse_metadata(text: Option<String>) -> Result<Value> {
  match text {
    None => Ok(Value::Null),
    Some(t) => serde_json::from_str(&t).map_err(|e| {
      StoreError::Db(format!(
        "stored vector metadata is unreadable ({e}); the row was written by something else"
      ))
      .into()
    }),
  }
}

fn check_dimension(name: &str, dimension: usize) -> Result<()> {
  if dimension == 0 || dimension > 65_536 {
    return Err(
      VectorError::InvalidInput(format!(
        "invalid dimension {dimension} for index \"{name}\": use 1..=65536 (the length of your embeddings)"
      ))
      .into(),
    );
  }
  Ok(())
}

/// Rows pulled from the table, applied to the local index in order in batches.
#[derive(Default)]
struct Pending {
  ids: Vec<String>,
  flat: Vec<f32>,
  meta: Vec<Value>,
}

impl Inner {
  async fn client(&self) -> Result<deadpool_postgres::Object> {
    Ok(self.pool.get().await.map_err(pool_err)?)
  }

  /// Runs `f` on the local index on the blocking pool: a large batch takes milliseconds, and
  /// the binding's runtime has a single worker by default.
  async fn on_local<T: Send + 'static>(
    &self,
    f: impl FnOnce(&VectorStore) -> std::result::Result<T, VectorError> + Send + 'static,
  ) -> Result<T> {
    let local = self.local.clone();
    Ok(
      tokio::task::spawn_blocking(move || f(&local))
        .await
        .map_err(|e| StoreError::Io(format!("vector index task failed: {e}")))??,
    )
  }

  async fn flush(&self, name: &str, p: &mut Pending) -> Result<()> {
    if p.ids.is_empty() {
      return Ok(());
    }
    let p = std::mem::take(p);
    let name = name.to_owned();
    self
      .on_local(move |l| l.upsert(&name, Some(p.ids), &p.flat, p.meta).map(|_| ()))
      .await
  }

  /// Brings the local copy of `name` up to date (loading it when absent or of an older
  /// generation; dropping it when the index is gone). `IndexNotFound` when it does not exist.
  async fn pull(
    &self,
    client: &mut tokio_postgres::Client,
    synced: &mut HashMap<String, Synced>,
    name: &str,
  ) -> Result<()> {
    // One snapshot: the catalogue row and the rows it counts agree.
    let tx = client
      .build_transaction()
      .isolation_level(IsolationLevel::RepeatableRead)
      .read_only(true)
      .start()
      .await?;
    let Some(cat) = catalogue(&tx, name, false).await? else {
      tx.commit().await?;
      self.forget(synced, name);
      return Err(VectorError::IndexNotFound(name.to_owned()).into());
    };
    let from = match synced.get(name) {
      Some(s) if s.generation == cat.generation && s.seq >= cat.pruned_seq => {
        if s.seq >= cat.last_seq {
          tx.commit().await?;
          return Ok(());
        }
        Some(s.seq)
      }
      _ => None,
    };
    let rows = match from {
      Some(seq) => {
        tx.query_raw(
          "SELECT id, vector, metadata::text FROM lumos_vectors WHERE index_name = $1 AND seq > $2 ORDER BY seq",
          [&name as &(dyn ToSql + Sync), &seq],
        )
        .await?
      }
      None => {
        self.forget(synced, name);
        self
          .local
          .create_index(name, cat.dimension, cat.metric, Quantization::F32)?;
        tx.query_raw(
          "SELECT id, vector, metadata::text FROM lumos_vectors WHERE index_name = $1 AND vector IS NOT NULL ORDER BY seq",
          [&name as &(dyn ToSql + Sync)],
        )
        .await?
      }
    };
    // From here the local index is being changed: record the generation now so a failure
    // half-way is retried as a full reload rather than a delta from a wrong seq.
    synced.insert(
      name.to_owned(),
      Synced {
        generation: String::new(),
        seq: 0,
      },
    );
    let mut rows = std::pin::pin!(rows);
    let mut pending = Pending::default();
    while let Some(row) = rows.try_next().await? {
      let id: String = col(&row, 0)?;
      let vector: Option<Vec<u8>> = col(&row, 1)?;
      match vector {
        Some(bytes) => {
          bytes_vector(&bytes, cat.dimension, &mut pending.flat)?;
          pending.ids.push(id);
          pending.meta.push(parse_metadata(col(&row, 2)?)?);
          if pending.ids.len() >= BATCH {
            self.flush(name, &mut pending).await?;
          }
        }
        None => {
          self.flush(name, &mut pending).await?;
          self.local.delete_vector(name, &id)?;
        }
      }
    }
    self.flush(name, &mut pending).await?;
    tx.commit().await?;
    synced.insert(
      name.to_owned(),
      Synced {
        generation: cat.generation,
        seq: cat.last_seq,
      },
    );
    Ok(())
  }

  fn forget(&self, synced: &mut HashMap<String, Synced>, name: &str) {
    synced.remove(name);
    // Absent locally is the state we want.
    let _ = self.local.delete_index(name);
  }

  /// Catches up every locally loaded index with other processes' writes.
  async fn sync_all(&self, client: &mut tokio_postgres::Client) -> Result<()> {
    let mut synced = self.synced.lock().await;
    if synced.is_empty() {
      return Ok(());
    }
    let rows = client
      .query(
        "SELECT name, generation, last_seq FROM lumos_vector_indexes",
        &[],
      )
      .await?;
    let mut current = HashMap::new();
    for row in &rows {
      let name: String = col(row, 0)?;
      current.insert(
        name,
        Synced {
          generation: col(row, 1)?,
          seq: col(row, 2)?,
        },
      );
    }
    let names: Vec<String> = synced.keys().cloned().collect();
    for name in names {
      match current.get(&name) {
        None => self.forget(&mut synced, &name),
        Some(c) if synced.get(&name) == Some(c) => {}
        Some(_) => match self.pull(client, &mut synced, &name).await {
          Ok(()) | Err(PgVectorError::Vector(VectorError::IndexNotFound(_))) => {}
          Err(e) => return Err(e),
        },
      }
    }
    Ok(())
  }

  /// After this process committed `cat.last_seq+1 ..= last` of `name` (`cat` as read, locked,
  /// by the write): run `apply` (the same change) on the local index when it is exactly at
  /// `cat.last_seq`; when other processes' writes are missing in between, pull instead (which
  /// brings this write too); when a pull already brought it, skip.
  async fn apply_own(
    &self,
    client: &mut tokio_postgres::Client,
    synced: &mut HashMap<String, Synced>,
    name: &str,
    cat: &Catalogue,
    last: i64,
    apply: impl FnOnce(&VectorStore) -> std::result::Result<(), VectorError> + Send + 'static,
  ) -> Result<()> {
    let (generation, prev) = (cat.generation.as_str(), cat.last_seq);
    match synced.get(name) {
      Some(s) if s.generation == generation && s.seq >= last => Ok(()),
      Some(s) if s.generation == generation && s.seq == prev => {
        self.on_local(apply).await?;
        if let Some(s) = synced.get_mut(name) {
          s.seq = last;
        }
        Ok(())
      }
      _ => match self.pull(client, synced, name).await {
        // Deleted by another process right after our commit: nothing to apply.
        Err(PgVectorError::Vector(VectorError::IndexNotFound(_))) => Ok(()),
        other => other,
      },
    }
  }

  /// Loads `name` when this process has not yet.
  async fn ensure(&self, name: &str) -> Result<()> {
    let mut client = self.client().await?;
    let mut synced = self.synced.lock().await;
    if synced.contains_key(name) {
      return Ok(());
    }
    self.pull(&mut client, &mut synced, name).await
  }
}

/// The catalogue row of `name` (`FOR UPDATE` when writing: serializes the index's writers).
async fn catalogue(tx: &Transaction<'_>, name: &str, lock: bool) -> Result<Option<Catalogue>> {
  let sql = if lock {
    "SELECT dimension, metric, generation, last_seq, pruned_seq FROM lumos_vector_indexes WHERE name = $1 FOR UPDATE"
  } else {
    "SELECT dimension, metric, generation, last_seq, pruned_seq FROM lumos_vector_indexes WHERE name = $1"
  };
  let Some(row) = tx.query_opt(sql, &[&name]).await? else {
    return Ok(None);
  };
  let dimension: i32 = col(&row, 0)?;
  let metric: String = col(&row, 1)?;
  Ok(Some(Catalogue {
    dimension: dimension.max(0) as usize,
    metric: Metric::parse(&metric).map_err(|_| {
      StoreError::Db(format!(
        "index \"{name}\" has an unknown metric \"{metric}\" in lumos_vector_indexes"
      ))
    })?,
    generation: col(&row, 2)?,
    last_seq: col(&row, 3)?,
    pruned_seq: col(&row, 4)?,
  }))
}

/// Bumps `last_seq` by `n` and notifies listeners (delivered on commit).
async fn advance(tx: &Transaction<'_>, name: &str, last: i64) -> Result<()> {
  tx.execute(
    "UPDATE lumos_vector_indexes SET last_seq = $2 WHERE name = $1",
    &[&name, &last],
  )
  .await?;
  tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &name])
    .await?;
  Ok(())
}

impl PgVectorStore {
  /// Connects, creates the tables when missing, and starts the background sync.
  pub async fn connect(url: &str, options: PgVectorOptions) -> Result<PgVectorStore> {
    let (mut config, tls) = parse_url(url, &options.postgres)?;
    // An unreachable host fails a call (and a sync round) instead of hanging on the OS timeout.
    if config.get_connect_timeout().is_none() {
      config.connect_timeout(Duration::from_secs(10));
    }
    let pool = build_pool(&config, tls.clone(), &options.postgres)?;
    {
      let mut client = pool.get().await.map_err(pool_err)?;
      run_migrations(
        &mut client,
        "lumos_vector_schema_version",
        MIGRATIONS,
        SCHEMA_VERSION,
      )
      .await?;
    }
    let local = Arc::new(VectorStore::open(None)?);
    let inner = Arc::new(Inner {
      pool,
      tombstone_horizon: options.tombstone_horizon.max(1),
      local,
      synced: Mutex::new(HashMap::new()),
      signals: Arc::default(),
    });
    if !options.poll_interval.is_zero() {
      tokio::spawn(sync_loop(
        Arc::downgrade(&inner),
        inner.signals.clone(),
        options.poll_interval,
        (config, tls),
        options.listen,
      ));
    }
    Ok(PgVectorStore { inner })
  }

  /// Stops the background sync and closes the pool; later calls fail with `STORE_IO`.
  pub fn close(&self) {
    self.inner.signals.stop.notify_one();
    self.inner.pool.close();
  }

  /// Creates an index (idempotent for the same dimension and metric; another dimension or
  /// metric is `VECTOR_INDEX_EXISTS`).
  pub async fn create_index(&self, name: &str, dimension: usize, metric: Metric) -> Result<()> {
    lumos_vector::validate_name(name)?;
    check_dimension(name, dimension)?;
    let mut client = self.inner.client().await?;
    let generation = uuid::Uuid::new_v4().simple().to_string();
    // DO NOTHING: an existing index is read back without writing (or waiting for) its row. A
    // delete by another process between the two statements is retried.
    let mut found = None;
    for _ in 0..3 {
      found = client
        .query_opt(
          "INSERT INTO lumos_vector_indexes (name, dimension, metric, generation, created_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (name) DO NOTHING
           RETURNING dimension, metric",
          &[
            &name,
            &(dimension as i32),
            &metric.as_str(),
            &generation,
            &now_ms(),
          ],
        )
        .await?;
      if found.is_none() {
        found = client
          .query_opt(
            "SELECT dimension, metric FROM lumos_vector_indexes WHERE name = $1",
            &[&name],
          )
          .await?;
      }
      if found.is_some() {
        break;
      }
    }
    let row = found.ok_or_else(|| {
      StoreError::Db(format!(
        "index \"{name}\" is being created and deleted concurrently by other processes; retry createIndex"
      ))
    })?;
    let existing_dimension: i32 = col(&row, 0)?;
    let existing_metric: String = col(&row, 1)?;
    if existing_dimension as usize != dimension || existing_metric != metric.as_str() {
      return Err(
        VectorError::IndexExists {
          name: name.to_owned(),
          existing_dimension: existing_dimension.max(0) as usize,
          existing_metric: Metric::parse(&existing_metric)
            .map(|m| m.as_str())
            .unwrap_or("unknown"),
          dimension,
          metric: metric.as_str(),
        }
        .into(),
      );
    }
    let mut synced = self.inner.synced.lock().await;
    self.inner.pull(&mut client, &mut synced, name).await
  }

  /// Index names, sorted (from the database: includes indexes other processes created).
  pub async fn list_indexes(&self) -> Result<Vec<String>> {
    let client = self.inner.client().await?;
    let rows = client
      .query(
        "SELECT name FROM lumos_vector_indexes ORDER BY name COLLATE \"C\"",
        &[],
      )
      .await?;
    rows
      .iter()
      .map(|r| col::<String>(r, 0).map_err(Into::into))
      .collect()
  }

  /// Dimension, metric and live count, after catching up with other processes.
  pub async fn describe_index(&self, name: &str) -> Result<IndexStats> {
    {
      let mut client = self.inner.client().await?;
      let mut synced = self.inner.synced.lock().await;
      self.inner.pull(&mut client, &mut synced, name).await?;
    }
    Ok(self.inner.local.describe_index(name)?)
  }

  /// Deletes the index and its vectors in every process (others drop it on their next sync).
  pub async fn delete_index(&self, name: &str) -> Result<()> {
    let mut client = self.inner.client().await?;
    let tx = client.transaction().await?;
    let found = tx
      .execute("DELETE FROM lumos_vector_indexes WHERE name = $1", &[&name])
      .await?;
    tx.execute("DELETE FROM lumos_vectors WHERE index_name = $1", &[&name])
      .await?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &name])
      .await?;
    tx.commit().await?;
    let mut synced = self.inner.synced.lock().await;
    self.inner.forget(&mut synced, name);
    if found == 0 {
      return Err(VectorError::IndexNotFound(name.to_owned()).into());
    }
    Ok(())
  }

  /// Inserts or replaces vectors (flat, `n × dimension`), with `n` metadata objects or none and
  /// `n` ids or none (UUID v4s are made). The batch is validated whole before anything is
  /// written, then committed in one transaction. Returns the ids.
  pub async fn upsert(
    &self,
    name: &str,
    ids: Option<Vec<String>>,
    vectors: &[f32],
    metadata: Vec<Value>,
  ) -> Result<Vec<String>> {
    lumos_vector::validate_name(name)?;
    let mut client = self.inner.client().await?;
    let tx = client.transaction().await?;
    let Some(cat) = catalogue(&tx, name, true).await? else {
      return Err(VectorError::IndexNotFound(name.to_owned()).into());
    };
    let dim = cat.dimension;
    if !vectors.len().is_multiple_of(dim) {
      return Err(VectorError::DimensionMismatch(format!(
        "upsert into \"{name}\" got {} numbers, which is not a whole number of {dim}-dimension vectors: every vector must have exactly {dim} values",
        vectors.len()
      )).into());
    }
    let n = vectors.len() / dim;
    if !metadata.is_empty() && metadata.len() != n {
      return Err(VectorError::InvalidInput(format!(
        "upsert into \"{name}\" got {n} vectors but {} metadata entries: pass one metadata object per vector, or none",
        metadata.len()
      )).into());
    }
    let ids = match ids {
      Some(ids) => {
        if ids.len() != n {
          return Err(VectorError::InvalidInput(format!(
            "upsert into \"{name}\" got {n} vectors but {} ids: pass one id per vector, or none to generate them",
            ids.len()
          )).into());
        }
        if let Some(i) = ids.iter().position(String::is_empty) {
          return Err(
            VectorError::InvalidInput(format!("ids[{i}] is empty: ids must be non-empty strings"))
              .into(),
          );
        }
        ids
      }
      None => (0..n).map(|_| uuid::Uuid::new_v4().to_string()).collect(),
    };
    for (i, v) in vectors.chunks_exact(dim).enumerate() {
      lumos_vector::check_vector(v, dim, &format!("vectors[{i}]"))?;
    }
    let mut metas: Vec<Option<String>> = Vec::with_capacity(n);
    for i in 0..n {
      let bytes = match metadata.get(i) {
        Some(m) => lumos_vector::encode_metadata(m, i)?,
        None => Box::default(),
      };
      metas.push(if bytes.is_empty() {
        None
      } else {
        Some(String::from_utf8_lossy(&bytes).into_owned())
      });
    }
    // One row per id (the last occurrence wins, as in the local store): ON CONFLICT cannot
    // touch a row twice in one statement.
    let mut last_of: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
      last_of.insert(id.as_str(), i);
    }
    let keep: Vec<usize> = (0..n)
      .filter(|&i| last_of.get(ids[i].as_str()) == Some(&i))
      .collect();
    let prev = cat.last_seq;
    let last = prev + keep.len() as i64;
    let stmt = tx
      .prepare_cached(
        "INSERT INTO lumos_vectors (index_name, id, seq, vector, metadata)
         SELECT $1, id, $2 + ord, vector, metadata::json
         FROM UNNEST($3::text[], $4::bytea[], $5::text[]) WITH ORDINALITY AS u (id, vector, metadata, ord)
         ON CONFLICT (index_name, id) DO UPDATE SET
           seq = EXCLUDED.seq, vector = EXCLUDED.vector, metadata = EXCLUDED.metadata",
      )
      .await?;
    for (c, chunk) in keep.chunks(BATCH).enumerate() {
      let base = prev + (c * BATCH) as i64;
      let chunk_ids: Vec<&str> = chunk.iter().map(|&i| ids[i].as_str()).collect();
      let chunk_vecs: Vec<Vec<u8>> = chunk
        .iter()
        .map(|&i| vector_bytes(&vectors[i * dim..(i + 1) * dim]))
        .collect();
      let chunk_meta: Vec<Option<&str>> = chunk.iter().map(|&i| metas[i].as_deref()).collect();
      tx.execute(&stmt, &[&name, &base, &chunk_ids, &chunk_vecs, &chunk_meta])
        .await?;
    }
    advance(&tx, name, last).await?;
    // Locked before the commit: the sync task must not pull this write back from the table
    // between the commit and applying it here (a waste for a big batch). See `Inner::synced`
    // for the lock order.
    let mut synced = self.inner.synced.lock().await;
    tx.commit().await?;
    let kept_ids: Vec<String> = keep.iter().map(|&i| ids[i].clone()).collect();
    let kept_flat: Vec<f32> = keep
      .iter()
      .flat_map(|&i| vectors[i * dim..(i + 1) * dim].iter().copied())
      .collect();
    let kept_meta: Vec<Value> = if metadata.is_empty() {
      Vec::new()
    } else {
      keep.iter().map(|&i| metadata[i].clone()).collect()
    };
    self
      .inner
      .apply_own(&mut client, &mut synced, name, &cat, last, {
        let name = name.to_owned();
        move |local| {
          local
            .upsert(&name, Some(kept_ids), &kept_flat, kept_meta)
            .map(|_| ())
        }
      })
      .await?;
    Ok(ids)
  }

  /// Nearest neighbours from the local index (loaded on first use), best first.
  pub async fn query(
    &self,
    name: &str,
    query: Vec<f32>,
    top_k: usize,
    filter: Option<Value>,
    include_vector: bool,
  ) -> Result<Vec<QueryResult>> {
    let query = Arc::new(query);
    let filter = Arc::new(filter);
    let search = || {
      let (inner, name, query, filter) = (
        self.inner.clone(),
        name.to_owned(),
        query.clone(),
        filter.clone(),
      );
      // Off the async workers: a large exact scan takes milliseconds.
      async move {
        tokio::task::spawn_blocking(move || {
          inner.local.query(
            &name,
            &query,
            top_k,
            filter.as_ref().as_ref(),
            include_vector,
          )
        })
        .await
        .map_err(|e| PgVectorError::Store(StoreError::Io(format!("vector query task failed: {e}"))))
      }
    };
    match search().await? {
      Err(VectorError::IndexNotFound(_)) => {
        self.inner.ensure(name).await?;
        Ok(search().await??)
      }
      other => Ok(other?),
    }
  }

  /// Replaces the vector and/or the metadata of one id. False when the id is absent.
  pub async fn update_vector(
    &self,
    name: &str,
    id: &str,
    vector: Option<&[f32]>,
    metadata: Option<&Value>,
  ) -> Result<bool> {
    if vector.is_none() && metadata.is_none() {
      return Err(
        VectorError::InvalidInput("updateVector needs update.vector and/or update.metadata".into())
          .into(),
      );
    }
    let mut client = self.inner.client().await?;
    let tx = client.transaction().await?;
    let Some(cat) = catalogue(&tx, name, true).await? else {
      return Err(VectorError::IndexNotFound(name.to_owned()).into());
    };
    if let Some(v) = vector {
      lumos_vector::check_vector(v, cat.dimension, "update.vector")?;
    }
    let meta_text = match metadata {
      Some(m) => {
        let b = lumos_vector::encode_metadata(m, 0)?;
        (!b.is_empty()).then(|| String::from_utf8_lossy(&b).into_owned())
      }
      None => None,
    };
    let last = cat.last_seq + 1;
    let row = tx
      .query_opt(
        "UPDATE lumos_vectors SET vector = COALESCE($3, vector),
           metadata = CASE WHEN $4 THEN $5::text::json ELSE metadata END, seq = $6
         WHERE index_name = $1 AND id = $2 AND vector IS NOT NULL
         RETURNING vector, metadata::text",
        &[
          &name,
          &id,
          &vector.map(vector_bytes),
          &metadata.is_some(),
          &meta_text,
          &last,
        ],
      )
      .await?;
    let Some(row) = row else {
      return Ok(false);
    };
    let bytes: Vec<u8> = col(&row, 0)?;
    let mut v = Vec::with_capacity(cat.dimension);
    bytes_vector(&bytes, cat.dimension, &mut v)?;
    let meta = parse_metadata(col(&row, 1)?)?;
    advance(&tx, name, last).await?;
    // Locked before the commit: the sync task must not pull this write back from the table
    // between the commit and applying it here (a waste for a big batch). See `Inner::synced`
    // for the lock order.
    let mut synced = self.inner.synced.lock().await;
    tx.commit().await?;
    self
      .inner
      .apply_own(&mut client, &mut synced, name, &cat, last, {
        let (name, id) = (name.to_owned(), id.to_owned());
        move |local| {
          local
            .upsert(&name, Some(vec![id]), &v, vec![meta])
            .map(|_| ())
        }
      })
      .await?;
    Ok(true)
  }

  /// Deletes one vector (a tombstone row tells other processes). False when the id is absent.
  pub async fn delete_vector(&self, name: &str, id: &str) -> Result<bool> {
    let mut client = self.inner.client().await?;
    let tx = client.transaction().await?;
    let Some(cat) = catalogue(&tx, name, true).await? else {
      return Err(VectorError::IndexNotFound(name.to_owned()).into());
    };
    let last = cat.last_seq + 1;
    let n = tx
      .execute(
        "UPDATE lumos_vectors SET vector = NULL, metadata = NULL, seq = $3
         WHERE index_name = $1 AND id = $2 AND vector IS NOT NULL",
        &[&name, &id, &last],
      )
      .await?;
    if n == 0 {
      return Ok(false);
    }
    // At most once per horizon: forget tombstones every process has had a horizon to see.
    let horizon = self.inner.tombstone_horizon;
    if last - cat.pruned_seq >= 2 * horizon {
      let upto = last - horizon;
      tx.execute(
        "DELETE FROM lumos_vectors WHERE index_name = $1 AND vector IS NULL AND seq <= $2",
        &[&name, &upto],
      )
      .await?;
      tx.execute(
        "UPDATE lumos_vector_indexes SET pruned_seq = $2 WHERE name = $1",
        &[&name, &upto],
      )
      .await?;
    }
    advance(&tx, name, last).await?;
    // Locked before the commit: the sync task must not pull this write back from the table
    // between the commit and applying it here (a waste for a big batch). See `Inner::synced`
    // for the lock order.
    let mut synced = self.inner.synced.lock().await;
    tx.commit().await?;
    self
      .inner
      .apply_own(&mut client, &mut synced, name, &cat, last, {
        let (name, id) = (name.to_owned(), id.to_owned());
        move |local| local.delete_vector(&name, &id).map(|_| ())
      })
      .await?;
    Ok(true)
  }

  /// Catches up every loaded index now (the background task does this on its own).
  pub async fn sync(&self) -> Result<()> {
    let mut client = self.inner.client().await?;
    self.inner.sync_all(&mut client).await
  }

  /// The in-process index (read-only use: its contents are managed by this store).
  pub fn local(&self) -> &VectorStore {
    &self.inner.local
  }
}

/// The sync task's own connection (so it never waits for the pool while holding `synced`),
/// listening for change notifications when `listen`. Its driver task ends when the connection
/// drops; the client then reports closed and the loop reconnects.
async fn sync_connection(
  (config, tls): &(tokio_postgres::Config, MakeRustls),
  listen: bool,
  signals: Arc<Signals>,
) -> Option<tokio_postgres::Client> {
  let (client, mut conn) = config.connect(tls.clone()).await.ok()?;
  tokio::spawn(async move {
    let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
    while let Some(Ok(m)) = messages.next().await {
      if let AsyncMessage::Notification(_) = m {
        signals.wake.notify_one();
      }
    }
  });
  if listen {
    client
      .batch_execute(&format!("LISTEN {CHANNEL}"))
      .await
      .ok()?;
  }
  Some(client)
}

async fn sync_loop(
  inner: Weak<Inner>,
  signals: Arc<Signals>,
  every: Duration,
  config: (tokio_postgres::Config, MakeRustls),
  listen: bool,
) {
  let mut conn: Option<tokio_postgres::Client> = None;
  loop {
    if conn.as_ref().is_none_or(|c| c.is_closed()) {
      conn = sync_connection(&config, listen, signals.clone()).await;
    }
    let Some(strong) = inner.upgrade() else {
      return;
    };
    // Errors (a database restart…) are retried on the next tick; callers see their own.
    if let Some(c) = conn.as_mut() {
      let _ = strong.sync_all(c).await;
    }
    drop(strong);
    tokio::select! {
      _ = signals.stop.notified() => return,
      _ = signals.wake.notified() => {}
      _ = tokio::time::sleep(every) => {}
    }
  }
}

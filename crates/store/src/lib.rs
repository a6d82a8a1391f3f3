//! Lumos storage: threads, messages, resources (working memory) and workflow runs behind one async
//! [`Storage`] trait, with two backends that keep the same semantics:
//!
//! - [`SqliteStore`]: the embedded default. Bundled SQLite (no system library), WAL, cached
//!   prepared statements, one writer connection (writes are serialized) plus a small pool of
//!   reader connections, all on tokio's blocking pool. Opened from a path, `:memory:`, or a
//!   Mastra-style `file:./x.db` URL.
//! - [`PostgresStore`]: for many processes sharing one state. tokio-postgres with a deadpool
//!   pool; upserts use `ON CONFLICT`, every multi-row write is one transaction.
//! - [`PgVectorStore`]: vector indexes kept in PostgreSQL and searched in an in-process
//!   `lumos_vector` index that follows the table (see its module docs).
//!
//! Both create and upgrade their schema through the migrations listed in code, recorded in a
//! `lumos_schema_version` table. [`open_store`] picks the backend from a URL.
//!
//! Messages keep their content as the JSON they came with (Mastra's `MastraDBMessage.content`,
//! `{ format: 2, parts, … }`). Messages with the same `created_at` keep insertion order: each
//! table row has a monotonic sequence number used as the tie-breaker.

mod error;
mod pgtls;
mod pgvector;
mod postgres;
mod sqlite;
mod types;
mod util;
mod workflows;

use std::sync::Arc;

use futures::future::BoxFuture;

pub use error::{Result, StoreError};
pub use pgtls::{TlsMode, TlsOptions, TlsRoots};
pub use pgvector::{PgVectorError, PgVectorOptions, PgVectorStore};
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};
pub use types::*;
pub use workflows::*;

/// Latest schema version this build writes (both backends).
pub const SCHEMA_VERSION: i64 = 4;

/// The storage interface Lumos memory runs on. All methods are safe to call concurrently from
/// any tokio task.
pub trait Storage: WorkflowStore + Send + Sync {
  /// `"sqlite"` or `"postgres"`.
  fn backend(&self) -> &'static str;

  /// Saves a thread (insert, or replace the stored one with the same id: Mastra's `saveThread`).
  /// `metadata`, when given, must be a JSON object.
  fn create_thread(&self, thread: Thread) -> BoxFuture<'_, Result<Thread>>;

  /// The thread, or `None` when the id is unknown.
  fn get_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Thread>>>;

  /// Threads filtered by resource and metadata, sorted and paginated.
  fn list_threads(&self, query: ListThreadsQuery) -> BoxFuture<'_, Result<ThreadPage>>;

  /// Sets the title (when given) and merges `metadata` into the stored metadata; bumps
  /// `updated_at`. Unknown thread → `STORE_NOT_FOUND`.
  fn update_thread(&self, update: ThreadUpdate) -> BoxFuture<'_, Result<Thread>>;

  /// Deletes the thread and all its messages. An unknown id is not an error.
  fn delete_thread<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<()>>;

  /// Inserts or updates (by id) every message in one transaction and bumps `updated_at` of
  /// their threads. Every thread must exist (`STORE_NOT_FOUND` otherwise, nothing written).
  /// When this resolves, the messages are durable (see [`Synchronous`] for SQLite).
  fn save_messages(&self, messages: Vec<StoredMessage>) -> BoxFuture<'_, Result<()>>;

  /// A page of a thread's messages plus the `include`d ones with their context windows.
  fn list_messages(&self, query: ListMessagesQuery) -> BoxFuture<'_, Result<MessagePage>>;

  /// The newest `n` messages of a thread, oldest first.
  fn last_messages<'a>(
    &'a self,
    thread_id: &'a str,
    n: u32,
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>>;

  /// The messages with these ids (unknown ids are skipped), sorted by `created_at` ascending.
  fn get_messages_by_ids<'a>(
    &'a self,
    ids: &'a [String],
  ) -> BoxFuture<'a, Result<Vec<StoredMessage>>>;

  /// Deletes these messages (unknown ids are skipped) and bumps `updated_at` of their threads.
  /// Returns how many were deleted.
  fn delete_messages<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Result<u64>>;

  /// Copies a thread and (a selection of) its messages under new ids, in one transaction.
  fn clone_thread(&self, options: CloneThreadOptions) -> BoxFuture<'_, Result<CloneThreadResult>>;

  /// The resource (working memory), or `None`.
  fn get_resource<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Resource>>>;

  /// Creates or updates a resource: `working_memory` replaces the stored text when given,
  /// `metadata` is merged.
  fn upsert_resource(&self, upsert: ResourceUpsert) -> BoxFuture<'_, Result<Resource>>;
}

/// Opens the backend a URL names: `postgres://` / `postgresql://` → [`PostgresStore`];
/// a path, `:memory:` or `file:` URL → [`SqliteStore`]; a remote libsql URL → a
/// `STORE_UNSUPPORTED_URL` error.
/// `postgres` applies to a PostgreSQL URL only.
pub async fn open_store(url: &str, postgres: PostgresOptions) -> Result<Arc<dyn Storage>> {
  if postgres::is_postgres_url(url) {
    Ok(Arc::new(PostgresStore::connect(url, postgres).await?))
  } else {
    Ok(Arc::new(
      SqliteStore::open(url, SqliteOptions::default()).await?,
    ))
  }
}

//! `BindingStorage`: threads, messages and working-memory resources on SQLite or PostgreSQL,
//! for `LibSQLStore` / `PostgresStore` and `Memory`. Records cross as JSON in Mastra's shapes.

use std::sync::Arc;

use lumos_store::{
  CloneThreadOptions, DateRange, Direction, IncludeMessage, ListMessagesQuery, ListThreadsQuery,
  PostgresOptions, ResourceUpsert, Storage, StoreError, StoredMessage, Thread, ThreadOrderBy,
  ThreadUpdate, TlsMode, TlsOptions, TlsRoots, open_store,
};
use napi_derive::napi;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::coded;

fn store_err(e: StoreError) -> napi::Error {
  coded(e.code(), e.to_string())
}

fn parse<T: DeserializeOwned>(json: &str, what: &str) -> napi::Result<T> {
  serde_json::from_str(json)
    .map_err(|e| coded("STORE_INVALID_INPUT", format!("invalid {what}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> napi::Result<String> {
  serde_json::to_string(v).map_err(|e| {
    coded(
      "STORE_INVALID_INPUT",
      format!("could not encode the result: {e}"),
    )
  })
}

/// `listThreads` arguments as the facade sends them (Mastra's names).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListThreadsArgs {
  resource_id: Option<String>,
  metadata: Option<Map<String, Value>>,
  #[serde(default)]
  page: u32,
  /// `null` = every thread (Mastra's `perPage: false`).
  #[serde(default = "default_threads_per_page")]
  per_page: Option<u32>,
  #[serde(default)]
  order_by: ThreadOrderBy,
  #[serde(default = "desc")]
  direction: Direction,
}

fn default_threads_per_page() -> Option<u32> {
  Some(100)
}

fn desc() -> Direction {
  Direction::Desc
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListMessagesArgs {
  thread_id: String,
  resource_id: Option<String>,
  #[serde(default)]
  page: u32,
  per_page: Option<u32>,
  #[serde(default)]
  direction: Direction,
  #[serde(default)]
  include: Vec<IncludeMessage>,
  date_range: Option<DateRange>,
}

/// TLS settings for a PostgreSQL connection (the facade's reading of Mastra's `ssl`); they
/// replace the connection string's `sslmode` / `sslrootcert`.
#[napi(object)]
pub struct BindingTlsOptions {
  /// libpq's sslmode: disable, prefer, require, verify-ca, verify-full.
  pub mode: String,
  /// PEM of the CA certificate(s) to trust; default: the bundled Mozilla roots.
  pub ca: Option<String>,
}

pub(crate) fn tls_options(b: Option<BindingTlsOptions>) -> napi::Result<Option<TlsOptions>> {
  b.map(|b| {
    Ok(TlsOptions {
      mode: TlsMode::parse(&b.mode).map_err(store_err)?,
      roots: b.ca.map_or(TlsRoots::Bundled, TlsRoots::Pem),
    })
  })
  .transpose()
}

#[napi]
pub struct BindingStorage {
  pub(crate) inner: Arc<dyn Storage>,
}

#[napi]
impl BindingStorage {
  /// `file:./x.db`, a path or `:memory:` → SQLite; `postgres://…` → PostgreSQL.
  #[napi(factory)]
  pub async fn open(url: String, tls: Option<BindingTlsOptions>) -> napi::Result<BindingStorage> {
    let postgres = PostgresOptions {
      tls: tls_options(tls)?,
      ..PostgresOptions::default()
    };
    let inner = open_store(&url, postgres).await.map_err(store_err)?;
    Ok(BindingStorage { inner })
  }

  #[napi(getter)]
  pub fn backend(&self) -> String {
    self.inner.backend().to_string()
  }

  #[napi]
  pub async fn create_thread(&self, thread_json: String) -> napi::Result<String> {
    let thread: Thread = parse(&thread_json, "thread")?;
    to_json(&self.inner.create_thread(thread).await.map_err(store_err)?)
  }

  #[napi]
  pub async fn get_thread(&self, id: String) -> napi::Result<Option<String>> {
    match self.inner.get_thread(&id).await.map_err(store_err)? {
      Some(t) => Ok(Some(to_json(&t)?)),
      None => Ok(None),
    }
  }

  #[napi]
  pub async fn list_threads(&self, query_json: String) -> napi::Result<String> {
    let a: ListThreadsArgs = parse(&query_json, "listThreads arguments")?;
    let query = ListThreadsQuery {
      resource_id: a.resource_id,
      metadata: a.metadata,
      page: a.page,
      per_page: a.per_page,
      order_by: a.order_by,
      direction: a.direction,
    };
    to_json(&self.inner.list_threads(query).await.map_err(store_err)?)
  }

  #[napi]
  pub async fn update_thread(&self, update_json: String) -> napi::Result<String> {
    let update: ThreadUpdate = parse(&update_json, "thread update")?;
    to_json(&self.inner.update_thread(update).await.map_err(store_err)?)
  }

  #[napi]
  pub async fn delete_thread(&self, id: String) -> napi::Result<()> {
    self.inner.delete_thread(&id).await.map_err(store_err)
  }

  /// Resolves once the messages are durable.
  #[napi]
  pub async fn save_messages(&self, messages_json: String) -> napi::Result<()> {
    let messages: Vec<StoredMessage> = parse(&messages_json, "messages")?;
    self.inner.save_messages(messages).await.map_err(store_err)
  }

  #[napi]
  pub async fn list_messages(&self, query_json: String) -> napi::Result<String> {
    let a: ListMessagesArgs = parse(&query_json, "listMessages arguments")?;
    let query = ListMessagesQuery {
      thread_id: a.thread_id,
      resource_id: a.resource_id,
      page: a.page,
      per_page: a.per_page,
      direction: a.direction,
      include: a.include,
      date_range: a.date_range,
    };
    to_json(&self.inner.list_messages(query).await.map_err(store_err)?)
  }

  /// The newest `n` messages of a thread, oldest first.
  #[napi]
  pub async fn last_messages(&self, thread_id: String, n: u32) -> napi::Result<String> {
    to_json(
      &self
        .inner
        .last_messages(&thread_id, n)
        .await
        .map_err(store_err)?,
    )
  }

  #[napi]
  pub async fn get_messages_by_ids(&self, ids: Vec<String>) -> napi::Result<String> {
    to_json(
      &self
        .inner
        .get_messages_by_ids(&ids)
        .await
        .map_err(store_err)?,
    )
  }

  #[napi]
  pub async fn delete_messages(&self, ids: Vec<String>) -> napi::Result<u32> {
    let n = self.inner.delete_messages(&ids).await.map_err(store_err)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
  }

  #[napi]
  pub async fn clone_thread(&self, options_json: String) -> napi::Result<String> {
    let options: CloneThreadOptions = parse(&options_json, "cloneThread options")?;
    to_json(&self.inner.clone_thread(options).await.map_err(store_err)?)
  }

  #[napi]
  pub async fn get_resource(&self, id: String) -> napi::Result<Option<String>> {
    match self.inner.get_resource(&id).await.map_err(store_err)? {
      Some(r) => Ok(Some(to_json(&r)?)),
      None => Ok(None),
    }
  }

  #[napi]
  pub async fn upsert_resource(&self, upsert_json: String) -> napi::Result<String> {
    let upsert: ResourceUpsert = parse(&upsert_json, "resource")?;
    to_json(
      &self
        .inner
        .upsert_resource(upsert)
        .await
        .map_err(store_err)?,
    )
  }
}

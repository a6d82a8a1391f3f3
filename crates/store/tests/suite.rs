//! The shared behaviour suite on every backend: SQLite in memory, SQLite on a file (reader pool
//! + writer), and PostgreSQL on a throwaway server (skipped, saying so, without the binaries).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use lumos_store::{SqliteOptions, SqliteStore};

macro_rules! sqlite_memory_tests {
  ($($name:ident),* $(,)?) => {
    mod sqlite_memory {
      $(
        #[tokio::test]
        async fn $name() {
          let s = lumos_store::SqliteStore::open(":memory:", lumos_store::SqliteOptions::default()).await.unwrap();
          crate::common::$name(std::sync::Arc::new(s)).await;
        }
      )*
    }
  };
}
for_each_case!(sqlite_memory_tests);

macro_rules! sqlite_file_tests {
  ($($name:ident),* $(,)?) => {
    mod sqlite_file {
      $(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
          let dir = tempfile::tempdir().unwrap();
          let url = format!("file:{}", dir.path().join("sub/dir/lumos.db").display());
          let s = lumos_store::SqliteStore::open(&url, lumos_store::SqliteOptions::default()).await.unwrap();
          crate::common::$name(std::sync::Arc::new(s)).await;
        }
      )*
    }
  };
}
for_each_case!(sqlite_file_tests);

/// PostgreSQL: one server for the whole suite (started here, stopped when this test ends), a
/// fresh database per case.
#[cfg(any())] // PG_PENDING
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_suite() {
  let Some(server) = common::pg::PgServer::start() else {
    return;
  };
  let mut ran = Vec::new();
  macro_rules! run_pg {
    ($($name:ident),* $(,)?) => {
      $(
        let url = server.create_db(stringify!($name)).await;
        let s = lumos_store::PostgresStore::connect(&url, Default::default()).await.unwrap();
        common::$name(Arc::new(s)).await;
        println!("postgres: {} ok", stringify!($name));
        ran.push(stringify!($name));
      )*
    };
  }
  for_each_case!(run_pg);
  println!("postgres: {} cases passed", ran.len());
}

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_schema_version() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("keep.db");
  let url = path.to_str().unwrap().to_string();
  {
    let s = SqliteStore::open(&url, SqliteOptions::default())
      .await
      .unwrap();
    assert_eq!(
      s.schema_version().await.unwrap(),
      lumos_store::SCHEMA_VERSION
    );
    let s: common::Store = Arc::new(s);
    s.create_thread(common::thread("t", "r", 1)).await.unwrap();
    s.save_messages(vec![common::msg("m", "t", 1)])
      .await
      .unwrap();
  }
  let s = SqliteStore::open(&format!("file:{url}"), SqliteOptions::default())
    .await
    .unwrap();
  assert_eq!(s.integrity_check().await.unwrap(), "ok");
  assert_eq!(
    s.schema_version().await.unwrap(),
    lumos_store::SCHEMA_VERSION
  );
  let s: common::Store = Arc::new(s);
  assert_eq!(s.last_messages("t", 5).await.unwrap().len(), 1);
  // WAL is on for file databases.
  let conn = rusqlite::Connection::open(&path).unwrap();
  let mode: String = conn
    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
    .unwrap();
  assert_eq!(mode, "wal");
  let versions: i64 = conn
    .query_row("SELECT COUNT(*) FROM lumos_schema_version", [], |r| {
      r.get(0)
    })
    .unwrap();
  assert_eq!(versions, lumos_store::SCHEMA_VERSION);
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
  let dir = tempfile::tempdir().unwrap();
  let path = dir.path().join("future.db");
  drop(
    SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
      .await
      .unwrap(),
  );
  let conn = rusqlite::Connection::open(&path).unwrap();
  conn
    .execute(
      "INSERT INTO lumos_schema_version (version, applied_at) VALUES (999, 0)",
      [],
    )
    .unwrap();
  drop(conn);
  let e = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_MIGRATION");
  assert!(e.to_string().contains("upgrade"), "{e}");
}

#[tokio::test]
async fn open_store_routes_urls() {
  let s = lumos_store::open_store(":memory:").await.unwrap();
  assert_eq!(s.backend(), "sqlite");
  for remote in ["libsql://my-db.turso.io", "https://my-db.turso.io"] {
    let e = lumos_store::open_store(remote).await.err().unwrap();
    assert_eq!(e.code(), "STORE_UNSUPPORTED_URL");
    assert!(e.to_string().contains("PostgresStore"), "{e}");
  }
  let e = SqliteStore::open("/proc/definitely/not/here.db", SqliteOptions::default())
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_IO", "{e}");
}

#[tokio::test]
async fn sqlite_full_sync_option_works() {
  let dir = tempfile::tempdir().unwrap();
  let opts = SqliteOptions {
    synchronous: lumos_store::Synchronous::Full,
    ..Default::default()
  };
  let s: common::Store = Arc::new(
    SqliteStore::open(dir.path().join("f.db").to_str().unwrap(), opts)
      .await
      .unwrap(),
  );
  s.create_thread(common::thread("t", "r", 1)).await.unwrap();
  s.save_messages(vec![common::msg("m", "t", 1)])
    .await
    .unwrap();
  assert_eq!(s.last_messages("t", 1).await.unwrap().len(), 1);
}

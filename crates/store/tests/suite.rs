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
  postgres_sharing(&server).await;
  println!("postgres: sharing between processes ok");
}

const PG_CHILD_URL: &str = "LUMOS_STORE_PG_CHILD_URL";

fn batch(prefix: &str, b: usize, n: usize) -> Vec<lumos_store::StoredMessage> {
  (0..n)
    .map(|i| common::msg(&format!("{prefix}-{b}-{i}"), "shared", 1))
    .collect()
}

/// Another process writing into the same thread as the parent (started by `postgres_sharing`).
#[tokio::test]
#[ignore = "child process of postgres_suite"]
async fn postgres_writer_child() {
  let Ok(url) = std::env::var(PG_CHILD_URL) else {
    return;
  };
  let s = lumos_store::PostgresStore::connect(&url, Default::default())
    .await
    .unwrap();
  let s: common::Store = Arc::new(s);
  for b in 0..20 {
    s.save_messages(batch("child", b, 50)).await.unwrap();
  }
}

async fn postgres_sharing(server: &common::pg::PgServer) {
  use lumos_store::{PostgresStore, Storage};
  // Several stores (as several processes would) migrating one fresh database at once.
  let url = server.create_db("shared").await;
  let stores =
    futures::future::join_all((0..4).map(|_| PostgresStore::connect(&url, Default::default())))
      .await;
  let stores: Vec<PostgresStore> = stores.into_iter().map(|s| s.unwrap()).collect();
  for s in &stores {
    assert_eq!(
      s.schema_version().await.unwrap(),
      lumos_store::SCHEMA_VERSION
    );
  }
  // A write through one is seen through another.
  stores[0]
    .create_thread(common::thread("shared", "r1", 1))
    .await
    .unwrap();
  assert!(stores[1].get_thread("shared").await.unwrap().is_some());
  // Working memory merges from two stores do not lose keys.
  let ups = (0..8).map(|i| {
    stores[i % 4].upsert_resource(lumos_store::ResourceUpsert {
      id: "u".into(),
      working_memory: None,
      metadata: Some(serde_json::json!({ format!("k{i}"): i })),
    })
  });
  for r in futures::future::join_all(ups).await {
    r.unwrap();
  }
  let meta = stores[2]
    .get_resource("u")
    .await
    .unwrap()
    .unwrap()
    .metadata
    .unwrap();
  assert_eq!(meta.as_object().unwrap().len(), 8, "{meta}");

  // A second process and this one save into the same thread at the same time.
  let exe = std::env::current_exe().unwrap();
  let mut child = tokio::process::Command::new(exe)
    .args([
      "postgres_writer_child",
      "--exact",
      "--ignored",
      "--test-threads=1",
    ])
    .env(PG_CHILD_URL, &url)
    .stdout(std::process::Stdio::null())
    .spawn()
    .unwrap();
  for b in 0..20 {
    stores[b % 4]
      .save_messages(batch("parent", b, 50))
      .await
      .unwrap();
  }
  assert!(child.wait().await.unwrap().success(), "child writer failed");
  let all = stores[3].last_messages("shared", 10_000).await.unwrap();
  assert_eq!(all.len(), 2000);
  // Equal timestamps: each batch is contiguous and in order (threads are row-locked per save).
  for chunk in all.chunks(50) {
    let prefix = chunk[0].id.rsplit_once('-').unwrap().0;
    for (i, m) in chunk.iter().enumerate() {
      assert_eq!(m.id, format!("{prefix}-{i}"));
    }
  }

  // A database migrated by a newer Lumos is refused.
  let client = tokio_postgres::connect(&url, tokio_postgres::NoTls)
    .await
    .unwrap();
  let task = tokio::spawn(client.1);
  client
    .0
    .execute(
      "INSERT INTO lumos_schema_version (version, applied_at) VALUES (999, 0)",
      &[],
    )
    .await
    .unwrap();
  drop(client.0);
  let _ = task.await;
  let e = PostgresStore::connect(&url, Default::default())
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_MIGRATION");

  // Bad connection strings and unreachable servers are coded.
  let e = PostgresStore::connect("postgres://u@127.0.0.1:notaport/db", Default::default())
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT", "{e}");
  let closed = std::net::TcpListener::bind("127.0.0.1:0")
    .unwrap()
    .local_addr()
    .unwrap()
    .port();
  let e = PostgresStore::connect(
    &format!("postgres://postgres@127.0.0.1:{closed}/x"),
    Default::default(),
  )
  .await
  .unwrap_err();
  assert_eq!(e.code(), "STORE_IO", "{e}");
  assert!(e.to_string().contains("reachable"), "{e}");
  // open_store routes postgres:// URLs.
  let s = lumos_store::open_store(&server.url("shared_open"), Default::default())
    .await
    .err();
  assert!(s.is_some(), "database shared_open does not exist");
  let url2 = server.create_db("shared_open").await;
  assert_eq!(
    lumos_store::open_store(&url2, Default::default())
      .await
      .unwrap()
      .backend(),
    "postgres"
  );
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
  let s = lumos_store::open_store(":memory:", Default::default())
    .await
    .unwrap();
  assert_eq!(s.backend(), "sqlite");
  for remote in ["libsql://my-db.turso.io", "https://my-db.turso.io"] {
    let e = lumos_store::open_store(remote, Default::default())
      .await
      .err()
      .unwrap();
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

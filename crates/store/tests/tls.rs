//! PostgresStore and PgVectorStore over TLS, against a throwaway server that refuses plain TCP
//! (skipped, saying so, without PostgreSQL or openssl): each sslmode, a CA given by file or
//! explicitly, a certificate for another name, an untrusted CA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use lumos_store::{
  PgVectorOptions, PgVectorStore, PostgresOptions, PostgresStore, Storage, StoreError, Thread,
  TlsMode, TlsOptions, TlsRoots,
};
use lumos_vector::Metric;
use serde_json::json;

fn thread(id: &str) -> Thread {
  Thread {
    id: id.into(),
    resource_id: "r".into(),
    title: None,
    metadata: None,
    created_at: 1,
    updated_at: 1,
  }
}

async fn round_trip(url: &str, options: PostgresOptions, id: &str) -> Result<(), StoreError> {
  let store = PostgresStore::connect(url, options).await?;
  store.create_thread(thread(id)).await?;
  assert_eq!(
    store.get_thread(id).await?.map(|t| t.id),
    Some(id.to_string())
  );
  Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_in_every_sslmode() {
  let Some(server) = common::pg::PgServer::start_tls() else {
    return;
  };
  let base = server.create_db("tls_store").await;
  let ca = server.ca_pem();
  let ca = ca.to_str().unwrap();
  let other = server.other_ca_pem();
  let other = other.to_str().unwrap();
  let localhost = base.replace("127.0.0.1", "localhost");
  let o = PostgresOptions::default;

  // Plain TCP is refused by this server: every success below went over TLS.
  let e = round_trip(&format!("{base}?sslmode=disable"), o(), "x")
    .await
    .unwrap_err();
  assert!(e.to_string().contains("no encryption"), "{e}");

  // Encrypted, certificate not checked: the default (prefer), require, node-postgres' no-verify.
  round_trip(&base, o(), "t-prefer").await.unwrap();
  round_trip(&format!("{base}?sslmode=require"), o(), "t-require")
    .await
    .unwrap();
  round_trip(&format!("{base}?sslmode=no-verify"), o(), "t-noverify")
    .await
    .unwrap();

  // Checked against the test CA: the certificate names localhost, not 127.0.0.1.
  round_trip(
    &format!("{localhost}?sslmode=verify-full&sslrootcert={ca}"),
    o(),
    "t-full",
  )
  .await
  .unwrap();
  round_trip(
    &format!("{base}?sslmode=verify-ca&sslrootcert={ca}"),
    o(),
    "t-ca",
  )
  .await
  .unwrap();
  let e = round_trip(
    &format!("{base}?sslmode=verify-full&sslrootcert={ca}"),
    o(),
    "x",
  )
  .await
  .unwrap_err();
  assert!(e.to_string().contains("certificate"), "{e}");
  // `require` with a root file checks the chain (libpq): an unrelated CA fails.
  let e = round_trip(
    &format!("{localhost}?sslmode=require&sslrootcert={other}"),
    o(),
    "x",
  )
  .await
  .unwrap_err();
  assert!(e.to_string().contains("not trusted"), "{e}");
  // The bundled public roots do not know the test CA.
  let e = round_trip(&format!("{localhost}?sslmode=verify-full"), o(), "x")
    .await
    .unwrap_err();
  assert!(e.to_string().contains("sslrootcert"), "{e}");

  // Explicit settings (JS `ssl`) replace the string's.
  let pem = std::fs::read_to_string(ca).unwrap();
  let explicit = PostgresOptions {
    tls: Some(TlsOptions {
      mode: TlsMode::VerifyFull,
      roots: TlsRoots::Pem(pem),
    }),
    ..o()
  };
  round_trip(
    &format!("{localhost}?sslmode=disable"),
    explicit,
    "t-explicit",
  )
  .await
  .unwrap();

  let store = PostgresStore::connect(&format!("{base}?sslmode=require"), o())
    .await
    .unwrap();
  for id in [
    "t-prefer",
    "t-require",
    "t-noverify",
    "t-full",
    "t-ca",
    "t-explicit",
  ] {
    assert!(store.get_thread(id).await.unwrap().is_some(), "{id}");
  }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgvector_syncs_over_tls() {
  let Some(server) = common::pg::PgServer::start_tls() else {
    return;
  };
  let base = server.create_db("tls_vectors").await;
  let url = format!(
    "{}?sslmode=verify-full&sslrootcert={}",
    base.replace("127.0.0.1", "localhost"),
    server.ca_pem().display()
  );
  let a = PgVectorStore::connect(&url, PgVectorOptions::default())
    .await
    .unwrap();
  let b = PgVectorStore::connect(&url, PgVectorOptions::default())
    .await
    .unwrap();
  a.create_index("docs", 3, Metric::Cosine).await.unwrap();
  a.upsert(
    "docs",
    Some(vec!["v1".into()]),
    &[1.0, 0.0, 0.0],
    vec![json!({ "k": 1 })],
  )
  .await
  .unwrap();
  // The other store's sync connection (LISTEN, also over TLS) brings the vector over.
  let t = std::time::Instant::now();
  loop {
    let hits = b.query("docs", vec![1.0, 0.0, 0.0], 1, None, false).await;
    if let Ok(h) = &hits
      && h.first().map(|h| h.id.as_str()) == Some("v1")
    {
      break;
    }
    assert!(t.elapsed().as_secs() < 5, "not synced over TLS: {hits:?}");
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
  }
}

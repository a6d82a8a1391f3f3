//! Semantic recall end to end on an in-memory SQLite store, an in-memory vector index and a
//! bag-of-words embedder: indexing on save, recall with context windows, scopes, the cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use lumos_core::message::Message;
use lumos_core::{CancellationToken, Embedder, Embeddings, ModelError, RunRecorder};
use lumos_memory::recall::{CachedEmbedder, RecallOptions, RecallScope, SemanticRecall};
use lumos_memory::{ThreadRecorder, ensure_thread, load_context};
use lumos_store::{SqliteOptions, SqliteStore, Storage};
use lumos_vector::VectorStore;

/// Words hashed into 64 buckets, normalised: texts sharing words are close.
struct BagOfWords {
  texts_embedded: AtomicUsize,
}

impl Embedder for BagOfWords {
  fn provider(&self) -> &str {
    "test"
  }
  fn model_id(&self) -> &str {
    "bow"
  }
  fn embed(
    &self,
    texts: Vec<String>,
    _c: CancellationToken,
  ) -> BoxFuture<'_, Result<Embeddings, ModelError>> {
    self.texts_embedded.fetch_add(texts.len(), Ordering::SeqCst);
    let vectors = texts
      .iter()
      .map(|t| {
        let mut v = vec![0f32; 64];
        for w in t
          .to_lowercase()
          .split(|c: char| !c.is_alphanumeric())
          .filter(|w| w.len() > 2)
        {
          let h = w
            .bytes()
            .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
          v[(h % 64) as usize] += 1.0;
        }
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        v.iter().map(|x| x / n).collect()
      })
      .collect();
    Box::pin(async move { Ok(Embeddings { vectors, tokens: 0 }) })
  }
}

async fn setup(scope: RecallScope) -> (Arc<dyn Storage>, Arc<SemanticRecall>, Arc<BagOfWords>) {
  let storage: Arc<dyn Storage> = Arc::new(
    SqliteStore::open(":memory:", SqliteOptions::default())
      .await
      .unwrap(),
  );
  let bow = Arc::new(BagOfWords {
    texts_embedded: AtomicUsize::new(0),
  });
  let recall = Arc::new(SemanticRecall {
    vectors: Arc::new(VectorStore::open(None).unwrap()).into(),
    embedder: Arc::new(CachedEmbedder::new(bow.clone())),
    options: RecallOptions {
      top_k: 1,
      before: 1,
      after: 1,
      scope,
      ..RecallOptions::default()
    },
  });
  (storage, recall, bow)
}

async fn say(
  storage: &Arc<dyn Storage>,
  recall: &Arc<SemanticRecall>,
  thread: &str,
  texts: &[&str],
) {
  ensure_thread(&**storage, thread, "user-1").await.unwrap();
  let recorder = ThreadRecorder {
    storage: storage.clone(),
    thread_id: thread.into(),
    resource_id: "user-1".into(),
    recall: Some(recall.clone()),
  };
  for t in texts {
    recorder
      .record_input(vec![Message::user_text(*t)])
      .await
      .unwrap();
  }
}

fn texts(messages: &[Message]) -> Vec<String> {
  messages.iter().map(Message::text).collect()
}

#[tokio::test]
async fn recalls_the_similar_message_with_its_neighbours_outside_recent_history() {
  let (storage, recall, _) = setup(RecallScope::Thread).await;
  say(
    &storage,
    &recall,
    "t",
    &[
      "I live in Lisbon",
      "my favourite colour is green",
      "tell me a joke",
      "what about the weather",
      "ok thanks",
      "bye now",
    ],
  )
  .await;
  let input = vec![Message::user_text("which colour is my favourite?")];
  let ctx = load_context(&*storage, Some(&recall), "t", "user-1", Some(2), &input)
    .await
    .unwrap();
  // The hit with one message each side, then the 2 recent ones.
  assert_eq!(
    texts(&ctx),
    [
      "I live in Lisbon",
      "my favourite colour is green",
      "tell me a joke",
      "ok thanks",
      "bye now"
    ]
  );
}

#[tokio::test]
async fn resource_scope_searches_other_threads_and_thread_scope_does_not() {
  let (storage, recall, _) = setup(RecallScope::Resource).await;
  say(&storage, &recall, "old", &["my dog is called Rex"]).await;
  say(&storage, &recall, "new", &["hello again"]).await;
  let input = vec![Message::user_text("what is my dog called?")];
  let ctx = load_context(&*storage, Some(&recall), "new", "user-1", Some(10), &input)
    .await
    .unwrap();
  assert_eq!(texts(&ctx), ["my dog is called Rex", "hello again"]);

  let (storage, recall, _) = setup(RecallScope::Thread).await;
  say(&storage, &recall, "old", &["my dog is called Rex"]).await;
  say(&storage, &recall, "new", &["hello again"]).await;
  let ctx = load_context(&*storage, Some(&recall), "new", "user-1", Some(10), &input)
    .await
    .unwrap();
  assert_eq!(texts(&ctx), ["hello again"]);
}

#[tokio::test]
async fn the_same_text_is_never_embedded_twice() {
  let (_, recall, bow) = setup(RecallScope::Thread).await;
  let texts = vec![
    "alpha beta".to_string(),
    "gamma delta".to_string(),
    "alpha beta".to_string(),
  ];
  recall.embedder.embed(&texts).await.unwrap();
  recall.embedder.embed(&texts[..2]).await.unwrap();
  assert_eq!(bow.texts_embedded.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_index_yet_recalls_nothing() {
  let (storage, recall, _) = setup(RecallScope::Thread).await;
  ensure_thread(&*storage, "t", "user-1").await.unwrap();
  let ctx = load_context(
    &*storage,
    Some(&recall),
    "t",
    "user-1",
    Some(5),
    &[Message::user_text("anything")],
  )
  .await
  .unwrap();
  assert!(ctx.is_empty());
}

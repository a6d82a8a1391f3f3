//! The behaviour suite every backend runs, plus helpers (a throwaway PostgreSQL server).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod pg;

use std::sync::Arc;

use lumos_store::*;
use serde_json::{Value, json};

pub type Store = Arc<dyn Storage>;

/// Every case of the suite, by name. `suite!` turns each into one test per backend.
#[macro_export]
macro_rules! for_each_case {
  ($m:ident) => {
    $m!(
      thread_roundtrip,
      update_thread_merges_metadata,
      list_threads_filters_sorts_pages,
      delete_thread_removes_messages,
      save_and_list_messages,
      equal_timestamps_keep_insertion_order,
      upsert_messages_by_id,
      save_messages_unknown_thread_writes_nothing,
      save_messages_touches_thread,
      include_context_windows,
      list_messages_filters,
      last_messages_newest_oldest_first,
      get_and_delete_messages_by_ids,
      clone_thread_copies,
      resources_working_memory,
      concurrent_writers,
      invalid_input_is_coded
    );
  };
}

pub fn thread(id: &str, resource: &str, created_at: i64) -> Thread {
  Thread {
    id: id.into(),
    resource_id: resource.into(),
    title: None,
    metadata: None,
    created_at,
    updated_at: created_at,
  }
}

pub fn msg(id: &str, thread_id: &str, created_at: i64) -> StoredMessage {
  StoredMessage {
    id: id.into(),
    thread_id: thread_id.into(),
    resource_id: Some("r1".into()),
    role: "user".into(),
    r#type: Some("v2".into()),
    created_at,
    content: json!({ "format": 2, "parts": [{ "type": "text", "text": format!("text of {id}") }] }),
  }
}

fn ids(messages: &[StoredMessage]) -> Vec<&str> {
  messages.iter().map(|m| m.id.as_str()).collect()
}

fn tids(threads: &[Thread]) -> Vec<&str> {
  threads.iter().map(|t| t.id.as_str()).collect()
}

async fn seed(s: &Store, thread_id: &str, n: usize) -> Vec<StoredMessage> {
  s.create_thread(thread(thread_id, "r1", 1)).await.unwrap();
  let msgs: Vec<StoredMessage> = (0..n)
    .map(|i| msg(&format!("{thread_id}-m{i}"), thread_id, 1000 + i as i64))
    .collect();
  s.save_messages(msgs.clone()).await.unwrap();
  msgs
}

pub async fn thread_roundtrip(s: Store) {
  assert_eq!(s.get_thread("nope").await.unwrap(), None);
  let created = s.create_thread(thread("t1", "r1", 100)).await.unwrap();
  let got = s.get_thread("t1").await.unwrap().unwrap();
  assert_eq!(got, created);
  assert_eq!(
    got.metadata, None,
    "a thread created without metadata has none"
  );
  let as_json = serde_json::to_value(&got).unwrap();
  assert!(as_json.get("metadata").is_none());
  assert_eq!(as_json["resourceId"], "r1");

  // Saving the same id replaces it (Mastra's saveThread).
  let mut t = thread("t1", "r1", 100);
  t.title = Some("hello".into());
  t.metadata = Some(json!({ "a": 1, "nested": { "k": [1, 2] } }));
  t.updated_at = 200;
  s.create_thread(t.clone()).await.unwrap();
  assert_eq!(s.get_thread("t1").await.unwrap().unwrap(), t);
  // JSON null metadata means none.
  let mut n = thread("t2", "r1", 1);
  n.metadata = Some(Value::Null);
  assert_eq!(s.create_thread(n).await.unwrap().metadata, None);
  assert_eq!(s.get_thread("t2").await.unwrap().unwrap().metadata, None);
}

pub async fn update_thread_merges_metadata(s: Store) {
  let mut t = thread("t1", "r1", 100);
  t.title = Some("first".into());
  t.metadata = Some(json!({ "a": 1, "b": { "x": 1 } }));
  s.create_thread(t).await.unwrap();
  let u = s
    .update_thread(ThreadUpdate {
      id: "t1".into(),
      title: None,
      metadata: Some(json!({ "b": { "y": 2 }, "c": "z" })),
    })
    .await
    .unwrap();
  assert_eq!(
    u.metadata,
    Some(json!({ "a": 1, "b": { "y": 2 }, "c": "z" }))
  );
  assert_eq!(u.title.as_deref(), Some("first"));
  assert_eq!(u.created_at, 100);
  assert!(u.updated_at > 100);
  let u2 = s
    .update_thread(ThreadUpdate {
      id: "t1".into(),
      title: Some("second".into()),
      metadata: None,
    })
    .await
    .unwrap();
  assert_eq!(u2.title.as_deref(), Some("second"));
  assert_eq!(u2.metadata, u.metadata);
  assert_eq!(s.get_thread("t1").await.unwrap().unwrap(), u2);

  // Metadata added to a thread that had none.
  s.create_thread(thread("t2", "r1", 1)).await.unwrap();
  let u3 = s
    .update_thread(ThreadUpdate {
      id: "t2".into(),
      title: None,
      metadata: Some(json!({ "k": true })),
    })
    .await
    .unwrap();
  assert_eq!(u3.metadata, Some(json!({ "k": true })));

  let e = s
    .update_thread(ThreadUpdate {
      id: "missing".into(),
      ..Default::default()
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_NOT_FOUND");
  let e = s
    .update_thread(ThreadUpdate {
      id: "t1".into(),
      title: None,
      metadata: Some(json!([1])),
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
}

pub async fn list_threads_filters_sorts_pages(s: Store) {
  for i in 1..=5 {
    let mut t = thread(&format!("a{i}"), "r1", i * 10);
    t.updated_at = 100 - i; // reverse order on updatedAt
    t.metadata = Some(
      json!({ "n": i, "even": i % 2 == 0, "tag": if i <= 2 { "low" } else { "high" }, "o": { "k": i } }),
    );
    s.create_thread(t).await.unwrap();
  }
  s.create_thread(thread("b1", "r2", 1)).await.unwrap();
  s.create_thread(thread("b2", "r2", 2)).await.unwrap();

  let all = s.list_threads(ListThreadsQuery::default()).await.unwrap();
  assert_eq!(all.total, 7);
  assert_eq!(all.per_page, Some(100));
  assert!(!all.has_more);
  assert_eq!(
    tids(&all.threads),
    ["a5", "a4", "a3", "a2", "a1", "b2", "b1"],
    "default createdAt DESC"
  );

  let q = |f: &dyn Fn(&mut ListThreadsQuery)| {
    let mut q = ListThreadsQuery {
      resource_id: Some("r1".into()),
      ..Default::default()
    };
    f(&mut q);
    q
  };
  let p = s
    .list_threads(q(&|q| {
      q.per_page = Some(2);
      q.page = 1;
    }))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a3", "a2"]);
  assert_eq!(
    (p.total, p.page, p.per_page, p.has_more),
    (5, 1, Some(2), true)
  );
  let p = s
    .list_threads(q(&|q| {
      q.per_page = Some(2);
      q.page = 2;
    }))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a1"]);
  assert!(!p.has_more);
  let p = s.list_threads(q(&|q| q.per_page = None)).await.unwrap();
  assert_eq!(p.threads.len(), 5);
  assert_eq!(p.per_page, None);
  let p = s
    .list_threads(q(&|q| {
      q.order_by = ThreadOrderBy::UpdatedAt;
      q.direction = Direction::Asc;
    }))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a5", "a4", "a3", "a2", "a1"]);
  let p = s
    .list_threads(q(&|q| {
      q.order_by = ThreadOrderBy::CreatedAt;
      q.direction = Direction::Asc;
    }))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a1", "a2", "a3", "a4", "a5"]);

  let meta = |v: Value| v.as_object().cloned();
  let p = s
    .list_threads(q(&|q| {
      q.metadata = meta(json!({ "tag": "high", "even": true }))
    }))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a4"]);
  assert_eq!(p.total, 1);
  let p = s
    .list_threads(q(&|q| q.metadata = meta(json!({ "n": 3 }))))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a3"]);
  let p = s
    .list_threads(q(&|q| q.metadata = meta(json!({ "o": { "k": 2 } }))))
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a2"]);
  let p = s
    .list_threads(q(&|q| q.metadata = meta(json!({ "missing": 1 }))))
    .await
    .unwrap();
  assert_eq!(p.total, 0);
  // Metadata filter without a resource: across resources.
  let p = s
    .list_threads(ListThreadsQuery {
      metadata: meta(json!({ "tag": "low" })),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(tids(&p.threads), ["a2", "a1"]);
  let p = s
    .list_threads(ListThreadsQuery {
      resource_id: Some("nobody".into()),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!((p.total, p.threads.len(), p.has_more), (0, 0, false));
}

pub async fn delete_thread_removes_messages(s: Store) {
  seed(&s, "t1", 5).await;
  seed(&s, "t2", 3).await;
  s.delete_thread("t1").await.unwrap();
  assert_eq!(s.get_thread("t1").await.unwrap(), None);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(p.total, 0);
  assert!(
    s.get_messages_by_ids(&["t1-m0".to_string()])
      .await
      .unwrap()
      .is_empty()
  );
  assert_eq!(
    s.last_messages("t2", 10).await.unwrap().len(),
    3,
    "other threads untouched"
  );
  s.delete_thread("t1").await.unwrap(); // unknown: fine
}

pub async fn save_and_list_messages(s: Store) {
  s.create_thread(thread("t1", "r1", 1)).await.unwrap();
  let mut msgs: Vec<StoredMessage> = (0..10)
    .map(|i| msg(&format!("m{i}"), "t1", 1000 + i))
    .collect();
  // Content keeps its exact JSON (key order too) and fields.
  msgs[3].content =
    json!({ "format": 2, "z": 1, "a": { "y": [1, "two", null, 3.5], "b": false }, "parts": [] });
  msgs[3].r#type = None;
  msgs[3].resource_id = None;
  msgs[3].role = "assistant".into();
  // Saved out of order: returned by createdAt.
  let mut shuffled = msgs.clone();
  shuffled.reverse();
  s.save_messages(shuffled).await.unwrap();

  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(p.total, 10);
  assert_eq!(p.messages, msgs);
  assert_eq!(
    serde_json::to_string(&p.messages[3].content).unwrap(),
    r#"{"format":2,"z":1,"a":{"y":[1,"two",null,3.5],"b":false},"parts":[]}"#
  );
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(4),
      page: 1,
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m4", "m5", "m6", "m7"]);
  assert_eq!(
    (p.total, p.page, p.per_page, p.has_more),
    (10, 1, Some(4), true)
  );
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(4),
      page: 2,
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m8", "m9"]);
  assert!(!p.has_more);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(3),
      direction: Direction::Desc,
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m9", "m8", "m7"]);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "unknown".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!((p.total, p.messages.len()), (0, 0));
  // Empty batch is a no-op.
  s.save_messages(Vec::new()).await.unwrap();
}

pub async fn equal_timestamps_keep_insertion_order(s: Store) {
  s.create_thread(thread("t1", "r1", 1)).await.unwrap();
  let names = ["zeta", "alpha", "mid", "beta", "omega", "aa"];
  s.save_messages(names[..3].iter().map(|n| msg(n, "t1", 500)).collect())
    .await
    .unwrap();
  s.save_messages(names[3..].iter().map(|n| msg(n, "t1", 500)).collect())
    .await
    .unwrap();
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), names);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      direction: Direction::Desc,
      ..Default::default()
    })
    .await
    .unwrap();
  let mut rev = names.to_vec();
  rev.reverse();
  assert_eq!(ids(&p.messages), rev);
  assert_eq!(
    ids(&s.last_messages("t1", 2).await.unwrap()),
    ["omega", "aa"]
  );
  let ids_in: Vec<String> = names.iter().rev().map(|s| s.to_string()).collect();
  assert_eq!(ids(&s.get_messages_by_ids(&ids_in).await.unwrap()), names);
}

pub async fn upsert_messages_by_id(s: Store) {
  seed(&s, "t1", 4).await;
  let mut changed = msg("t1-m1", "t1", 1001);
  changed.content = json!({ "format": 2, "parts": [{ "type": "text", "text": "edited" }] });
  changed.role = "assistant".into();
  s.save_messages(vec![changed.clone()]).await.unwrap();
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(p.total, 4);
  assert_eq!(ids(&p.messages), ["t1-m0", "t1-m1", "t1-m2", "t1-m3"]);
  assert_eq!(p.messages[1], changed);
  // The same id twice in one batch: last values win, one row.
  let mut a = msg("dup", "t1", 2000);
  a.content = json!({ "format": 2, "parts": [], "v": 1 });
  let mut b = a.clone();
  b.content = json!({ "format": 2, "parts": [], "v": 2 });
  s.save_messages(vec![a, msg("after", "t1", 2000), b.clone()])
    .await
    .unwrap();
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(p.total, 6);
  assert_eq!(ids(&p.messages)[4..], ["dup", "after"]);
  assert_eq!(p.messages[4], b);
  // Moving a message to another thread by saving it there.
  s.create_thread(thread("t2", "r1", 1)).await.unwrap();
  s.save_messages(vec![msg("t1-m0", "t2", 1000)])
    .await
    .unwrap();
  assert_eq!(ids(&s.last_messages("t2", 10).await.unwrap()), ["t1-m0"]);
  assert_eq!(s.last_messages("t1", 10).await.unwrap().len(), 5);
}

pub async fn save_messages_unknown_thread_writes_nothing(s: Store) {
  s.create_thread(thread("t1", "r1", 1)).await.unwrap();
  let e = s
    .save_messages(vec![msg("ok", "t1", 1), msg("bad", "ghost", 2)])
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_NOT_FOUND");
  assert!(e.to_string().contains("ghost"), "{e}");
  assert!(
    s.get_messages_by_ids(&["ok".to_string()])
      .await
      .unwrap()
      .is_empty(),
    "nothing written"
  );
  assert_eq!(s.get_thread("t1").await.unwrap().unwrap().updated_at, 1);
}

pub async fn save_messages_touches_thread(s: Store) {
  s.create_thread(thread("t1", "r1", 5)).await.unwrap();
  s.save_messages(vec![msg("m", "t1", 6)]).await.unwrap();
  let t = s.get_thread("t1").await.unwrap().unwrap();
  assert!(
    t.updated_at > 1_600_000_000_000,
    "updatedAt set to now: {}",
    t.updated_at
  );
  assert_eq!(t.created_at, 5);
}

pub async fn include_context_windows(s: Store) {
  seed(&s, "t1", 10).await;
  seed(&s, "t2", 5).await;
  let inc = |id: &str, before, after| IncludeMessage {
    id: id.into(),
    before,
    after,
  };
  // Only includes (perPage 0): the window around m5.
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(0),
      include: vec![inc("t1-m5", 2, 1)],
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["t1-m3", "t1-m4", "t1-m5", "t1-m6"]);
  // Mastra's total for perPage 0 is 0: nothing is counted.
  assert_eq!((p.total, p.has_more), (0, false));
  // Page + includes, overlapping, deduplicated and sorted; includes from another thread stay in theirs.
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(2),
      direction: Direction::Desc,
      include: vec![
        inc("t1-m8", 1, 5),
        inc("t1-m0", 0, 1),
        inc("t2-m0", 3, 1),
        inc("missing", 1, 1),
      ],
      ..Default::default()
    })
    .await
    .unwrap();
  // t2's messages share timestamps with t1's (saved later: higher sequence), so they interleave.
  assert_eq!(
    ids(&p.messages),
    [
      "t1-m9", "t1-m8", "t1-m7", "t2-m1", "t1-m1", "t2-m0", "t1-m0"
    ]
  );
  // Windows at the edges.
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(0),
      include: vec![inc("t1-m0", 3, 0), inc("t1-m9", 0, 3)],
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["t1-m0", "t1-m9"]);
}

pub async fn list_messages_filters(s: Store) {
  s.create_thread(thread("t1", "r1", 1)).await.unwrap();
  let mut msgs: Vec<StoredMessage> = (0..6)
    .map(|i| msg(&format!("m{i}"), "t1", 100 * i))
    .collect();
  msgs[1].resource_id = Some("other".into());
  s.save_messages(msgs).await.unwrap();
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      date_range: Some(DateRange {
        start: Some(100),
        end: Some(300),
      }),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m1", "m2", "m3"]);
  assert_eq!(p.total, 3);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      date_range: Some(DateRange {
        start: Some(250),
        end: None,
      }),
      resource_id: Some("r1".into()),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m3", "m4", "m5"]);
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      resource_id: Some("other".into()),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(ids(&p.messages), ["m1"]);
}

pub async fn last_messages_newest_oldest_first(s: Store) {
  seed(&s, "t1", 30).await;
  assert_eq!(
    ids(&s.last_messages("t1", 3).await.unwrap()),
    ["t1-m27", "t1-m28", "t1-m29"]
  );
  assert_eq!(s.last_messages("t1", 100).await.unwrap().len(), 30);
  assert!(s.last_messages("t1", 0).await.unwrap().is_empty());
  assert!(s.last_messages("nothing", 5).await.unwrap().is_empty());
}

pub async fn get_and_delete_messages_by_ids(s: Store) {
  seed(&s, "t1", 5).await;
  seed(&s, "t2", 2).await;
  let want: Vec<String> = ["t2-m1", "t1-m3", "nope", "t1-m0"]
    .iter()
    .map(|s| s.to_string())
    .collect();
  assert_eq!(
    ids(&s.get_messages_by_ids(&want).await.unwrap()),
    ["t1-m0", "t2-m1", "t1-m3"]
  );
  assert!(s.get_messages_by_ids(&[]).await.unwrap().is_empty());
  let before = s.get_thread("t2").await.unwrap().unwrap().updated_at;
  let n = s.delete_messages(&want).await.unwrap();
  assert_eq!(n, 3);
  assert_eq!(
    ids(&s.last_messages("t1", 10).await.unwrap()),
    ["t1-m1", "t1-m2", "t1-m4"]
  );
  assert_eq!(ids(&s.last_messages("t2", 10).await.unwrap()), ["t2-m0"]);
  assert!(s.get_thread("t2").await.unwrap().unwrap().updated_at >= before);
  assert_eq!(s.delete_messages(&want).await.unwrap(), 0);
  // Many ids at once (past one statement's chunk).
  let many: Vec<StoredMessage> = (0..1200)
    .map(|i| msg(&format!("x{i}"), "t1", 5000 + i))
    .collect();
  s.save_messages(many.clone()).await.unwrap();
  let all: Vec<String> = many.iter().map(|m| m.id.clone()).collect();
  assert_eq!(s.get_messages_by_ids(&all).await.unwrap().len(), 1200);
  assert_eq!(s.delete_messages(&all).await.unwrap(), 1200);
}

pub async fn clone_thread_copies(s: Store) {
  let mut src = thread("src", "r1", 1);
  src.title = Some("Trip".into());
  src.metadata = Some(json!({ "keep": 1 }));
  s.create_thread(src).await.unwrap();
  let msgs: Vec<StoredMessage> = (0..6)
    .map(|i| msg(&format!("s{i}"), "src", 100 * i))
    .collect();
  s.save_messages(msgs.clone()).await.unwrap();

  let r = s
    .clone_thread(CloneThreadOptions {
      source_thread_id: "src".into(),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(r.thread.title.as_deref(), Some("Clone of Trip"));
  assert_eq!(r.thread.resource_id, "r1");
  let meta = r.thread.metadata.clone().unwrap();
  assert_eq!(meta["clone"]["sourceThreadId"], "src");
  assert_eq!(meta["clone"]["lastMessageId"], "s5");
  assert!(meta["clone"]["clonedAt"].as_str().unwrap().ends_with('Z'));
  assert!(meta.get("keep").is_none(), "source metadata is not copied");
  assert_eq!(r.cloned_messages.len(), 6);
  assert_eq!(s.get_thread(&r.thread.id).await.unwrap().unwrap(), r.thread);
  let stored = s.last_messages(&r.thread.id, 100).await.unwrap();
  assert_eq!(stored, r.cloned_messages);
  for (i, m) in stored.iter().enumerate() {
    assert_ne!(m.id, msgs[i].id);
    assert_eq!(m.content, msgs[i].content);
    assert_eq!(m.created_at, msgs[i].created_at);
    assert_eq!(r.message_id_map[i], (msgs[i].id.clone(), m.id.clone()));
  }
  assert_eq!(
    s.last_messages("src", 100).await.unwrap(),
    msgs,
    "source untouched"
  );

  let r = s
    .clone_thread(CloneThreadOptions {
      source_thread_id: "src".into(),
      new_thread_id: Some("copy".into()),
      resource_id: Some("r9".into()),
      title: Some("Mine".into()),
      metadata: Some(json!({ "x": 1 })),
      message_limit: Some(2),
      message_filter: Some(CloneMessageFilter {
        start_date: Some(100),
        end_date: Some(400),
        message_ids: None,
      }),
    })
    .await
    .unwrap();
  assert_eq!(r.thread.id, "copy");
  assert_eq!(r.thread.resource_id, "r9");
  assert_eq!(r.thread.title.as_deref(), Some("Mine"));
  assert_eq!(r.thread.metadata.as_ref().unwrap()["x"], 1);
  let copied: Vec<&str> = r.message_id_map.iter().map(|(a, _)| a.as_str()).collect();
  assert_eq!(copied, ["s3", "s4"]);
  assert!(
    r.cloned_messages
      .iter()
      .all(|m| m.resource_id.as_deref() == Some("r9") && m.thread_id == "copy")
  );

  let r = s
    .clone_thread(CloneThreadOptions {
      source_thread_id: "src".into(),
      message_filter: Some(CloneMessageFilter {
        message_ids: Some(vec!["s1".into(), "s4".into()]),
        ..Default::default()
      }),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(r.cloned_messages.len(), 2);

  let e = s
    .clone_thread(CloneThreadOptions {
      source_thread_id: "src".into(),
      new_thread_id: Some("copy".into()),
      ..Default::default()
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
  let e = s
    .clone_thread(CloneThreadOptions {
      source_thread_id: "ghost".into(),
      ..Default::default()
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_NOT_FOUND");
}

pub async fn resources_working_memory(s: Store) {
  assert_eq!(s.get_resource("u1").await.unwrap(), None);
  let r = s
    .upsert_resource(ResourceUpsert {
      id: "u1".into(),
      working_memory: Some("# Name\nAda".into()),
      metadata: None,
    })
    .await
    .unwrap();
  assert_eq!(r.working_memory.as_deref(), Some("# Name\nAda"));
  assert_eq!(r.metadata, None);
  assert_eq!(s.get_resource("u1").await.unwrap().unwrap(), r);
  let r2 = s
    .upsert_resource(ResourceUpsert {
      id: "u1".into(),
      working_memory: None,
      metadata: Some(json!({ "a": 1 })),
    })
    .await
    .unwrap();
  assert_eq!(
    r2.working_memory.as_deref(),
    Some("# Name\nAda"),
    "None keeps working memory"
  );
  assert_eq!(r2.created_at, r.created_at);
  let r3 = s
    .upsert_resource(ResourceUpsert {
      id: "u1".into(),
      working_memory: Some("# Name\nGrace".into()),
      metadata: Some(json!({ "b": 2 })),
    })
    .await
    .unwrap();
  assert_eq!(r3.metadata, Some(json!({ "a": 1, "b": 2 })));
  assert_eq!(s.get_resource("u1").await.unwrap().unwrap(), r3);
  let e = s
    .upsert_resource(ResourceUpsert {
      id: String::new(),
      ..Default::default()
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
}

pub async fn concurrent_writers(s: Store) {
  s.create_thread(thread("t1", "r1", 1)).await.unwrap();
  let mut tasks = Vec::new();
  for w in 0..8 {
    let s = s.clone();
    tasks.push(tokio::spawn(async move {
      for b in 0..5 {
        let batch: Vec<StoredMessage> = (0..20)
          .map(|i| msg(&format!("w{w}-b{b}-{i}"), "t1", 1000))
          .collect();
        s.save_messages(batch).await.unwrap();
        // Readers run alongside writers.
        s.list_messages(ListMessagesQuery {
          thread_id: "t1".into(),
          per_page: Some(5),
          ..Default::default()
        })
        .await
        .unwrap();
      }
    }));
  }
  for t in tasks {
    t.await.unwrap();
  }
  let p = s
    .list_messages(ListMessagesQuery {
      thread_id: "t1".into(),
      per_page: Some(1),
      ..Default::default()
    })
    .await
    .unwrap();
  assert_eq!(p.total, 800);
  // Each batch stays contiguous and in order (one transaction each).
  let all = s.last_messages("t1", 1000).await.unwrap();
  for chunk in all.chunks(20) {
    let prefix = chunk[0].id.rsplit_once('-').unwrap().0;
    for (i, m) in chunk.iter().enumerate() {
      assert_eq!(m.id, format!("{prefix}-{i}"));
    }
  }
}

pub async fn invalid_input_is_coded(s: Store) {
  let e = s.create_thread(thread("", "r1", 1)).await.unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
  let e = s.create_thread(thread("t", "", 1)).await.unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
  let mut t = thread("t", "r", 1);
  t.metadata = Some(json!("not an object"));
  let e = s.create_thread(t).await.unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
  assert!(e.to_string().contains("object"), "{e}");
  s.create_thread(thread("t", "r", 1)).await.unwrap();
  let e = s.save_messages(vec![msg("", "t", 1)]).await.unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
  let mut m = msg("m", "t", 1);
  m.role = String::new();
  assert_eq!(
    s.save_messages(vec![m]).await.unwrap_err().code(),
    "STORE_INVALID_INPUT"
  );
  let e = s
    .list_threads(ListThreadsQuery {
      metadata: json!({ "bad\"key": 1 }).as_object().cloned(),
      ..Default::default()
    })
    .await
    .unwrap_err();
  assert_eq!(e.code(), "STORE_INVALID_INPUT");
}

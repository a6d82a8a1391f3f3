//! Records and query shapes shared by every backend. Timestamps are epoch milliseconds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A conversation thread (Mastra's `StorageThreadType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thread {
  pub id: String,
  pub resource_id: String,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub title: Option<String>,
  /// A JSON object, or `None` when the thread was created without metadata.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub metadata: Option<Value>,
  pub created_at: i64,
  pub updated_at: i64,
}

/// One stored message (Mastra's `MastraDBMessage`); `content` is kept as the JSON it came as
/// (`{ format: 2, parts, … }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredMessage {
  pub id: String,
  pub thread_id: String,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub resource_id: Option<String>,
  pub role: String,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub r#type: Option<String>,
  pub created_at: i64,
  pub content: Value,
}

/// A resource row: resource-scoped working memory (Mastra's `StorageResourceType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
  pub id: String,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub working_memory: Option<String>,
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub metadata: Option<Value>,
  pub created_at: i64,
  pub updated_at: i64,
}

/// `upsert_resource` input: creates the resource or updates it. `working_memory: None` keeps the
/// stored text; `metadata` is merged (top-level keys) into the stored object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceUpsert {
  pub id: String,
  #[serde(default)]
  pub working_memory: Option<String>,
  #[serde(default)]
  pub metadata: Option<Value>,
}

/// `update_thread` input: `title: None` keeps the title; `metadata` is merged (top-level keys,
/// like Mastra's `{ ...old, ...new }`) into the stored object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadUpdate {
  pub id: String,
  #[serde(default)]
  pub title: Option<String>,
  #[serde(default)]
  pub metadata: Option<Value>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
  #[default]
  Asc,
  Desc,
}

impl Direction {
  pub(crate) fn sql(self) -> &'static str {
    match self {
      Direction::Asc => "ASC",
      Direction::Desc => "DESC",
    }
  }
}

/// Which timestamp `list_threads` sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ThreadOrderBy {
  #[default]
  CreatedAt,
  UpdatedAt,
}

impl ThreadOrderBy {
  pub(crate) fn column(self) -> &'static str {
    match self {
      ThreadOrderBy::CreatedAt => "created_at",
      ThreadOrderBy::UpdatedAt => "updated_at",
    }
  }
}

/// `list_threads` query. Default: every resource, page 0, 100 per page, `createdAt` DESC.
#[derive(Debug, Clone, PartialEq)]
pub struct ListThreadsQuery {
  pub resource_id: Option<String>,
  /// Every key must equal (JSON equality) the thread's metadata value at that key.
  pub metadata: Option<Map<String, Value>>,
  pub page: u32,
  /// `None` = all threads on one page.
  pub per_page: Option<u32>,
  pub order_by: ThreadOrderBy,
  pub direction: Direction,
}

impl Default for ListThreadsQuery {
  fn default() -> Self {
    ListThreadsQuery {
      resource_id: None,
      metadata: None,
      page: 0,
      per_page: Some(100),
      order_by: ThreadOrderBy::CreatedAt,
      direction: Direction::Desc,
    }
  }
}

/// One page of threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadPage {
  pub threads: Vec<Thread>,
  pub total: u64,
  pub page: u32,
  pub per_page: Option<u32>,
  pub has_more: bool,
}

/// Ask for a message plus `before` messages before it and `after` after it, in its own thread
/// (Mastra's `include: [{ id, withPreviousMessages, withNextMessages }]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncludeMessage {
  pub id: String,
  #[serde(default)]
  pub before: u32,
  #[serde(default)]
  pub after: u32,
}

/// Inclusive `created_at` bounds (epoch ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
  pub start: Option<i64>,
  pub end: Option<i64>,
}

/// `list_messages` query. Default: page 0, all messages, `createdAt` ASC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListMessagesQuery {
  pub thread_id: String,
  pub resource_id: Option<String>,
  pub page: u32,
  /// `None` = all; `Some(0)` = only the `include`d messages.
  pub per_page: Option<u32>,
  pub direction: Direction,
  /// Extra messages (with context windows) merged into the page, deduplicated.
  pub include: Vec<IncludeMessage>,
  pub date_range: Option<DateRange>,
}

/// One page of messages (plus any `include`d ones), sorted by `created_at` in the asked direction;
/// equal timestamps keep insertion order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
  pub messages: Vec<StoredMessage>,
  /// Messages matching the thread/resource/date filter (includes not counted).
  pub total: u64,
  pub page: u32,
  pub per_page: Option<u32>,
  pub has_more: bool,
}

/// Which source messages `clone_thread` copies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneMessageFilter {
  pub start_date: Option<i64>,
  pub end_date: Option<i64>,
  pub message_ids: Option<Vec<String>>,
}

/// `clone_thread` input (Mastra's `StorageCloneThreadInput`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneThreadOptions {
  pub source_thread_id: String,
  /// A new UUID when `None`; an id that already exists is an error.
  pub new_thread_id: Option<String>,
  /// Default: the source thread's resource.
  pub resource_id: Option<String>,
  /// Default: `"Clone of <source title>"` (none when the source has none).
  pub title: Option<String>,
  /// Stored with a `clone: { sourceThreadId, clonedAt, lastMessageId? }` key added.
  pub metadata: Option<Value>,
  /// Copy only the newest N (after the filter).
  pub message_limit: Option<u32>,
  pub message_filter: Option<CloneMessageFilter>,
}

/// `clone_thread` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloneThreadResult {
  pub thread: Thread,
  pub cloned_messages: Vec<StoredMessage>,
  /// (source message id, new message id), in message order.
  pub message_id_map: Vec<(String, String)>,
}

//! [`WorkflowStore`] on SQLite: every call is one `BEGIN IMMEDIATE` transaction on the writer
//! (or a read on a reader), so a claim's check and update cannot interleave with another's.

use futures::future::BoxFuture;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;

use super::{SqliteStore, db_err, immediate, limit_sql, parse_json, to_json};
use crate::error::Result;
use crate::util::{self, now_ms};
use crate::workflows::*;

const RUN_COLS: &str = "workflow_name, run_id, resource_id, status, input, state, result, error, request_context, epoch, created_at, updated_at";

type RawRun = (
  String,
  String,
  Option<String>,
  String,
  String,
  String,
  Option<String>,
  Option<String>,
  Option<String>,
  i64,
  i64,
  i64,
);

fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
  Ok((
    r.get(0)?,
    r.get(1)?,
    r.get(2)?,
    r.get(3)?,
    r.get(4)?,
    r.get(5)?,
    r.get(6)?,
    r.get(7)?,
    r.get(8)?,
    r.get(9)?,
    r.get(10)?,
    r.get(11)?,
  ))
}

fn run_from(raw: RawRun) -> Result<WorkflowRun> {
  let (workflow_name, run_id, resource_id, status, input, state, result, error, rc, epoch, c, u) =
    raw;
  let what = |col: &str| format!("workflow run '{run_id}' ({col})");
  let opt = |text: Option<String>, col: &str| -> Result<Option<Value>> {
    text.map(|t| parse_json(&t, || what(col))).transpose()
  };
  Ok(WorkflowRun {
    input: parse_json(&input, || what("input"))?,
    state: parse_json(&state, || what("state"))?,
    result: opt(result, "result")?,
    error: opt(error, "error")?,
    request_context: opt(rc, "request_context")?,
    workflow_name,
    run_id: run_id.clone(),
    resource_id,
    status,
    epoch,
    created_at: c,
    updated_at: u,
  })
}

fn status_of(conn: &Connection, name: &str, run_id: &str) -> Result<Option<String>> {
  conn
    .prepare_cached(
      "SELECT status FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2",
    )
    .map_err(db_err)?
    .query_row(params![name, run_id], |r| r.get(0))
    .optional()
    .map_err(db_err)
}

/// Whether `epoch` still owns the run. A read: the writer lock held by the caller's `BEGIN
/// IMMEDIATE` keeps a claim from slipping in before its commit, and leaving the run row alone
/// keeps a step commit to the pages of its one record.
fn owns(conn: &Connection, name: &str, run_id: &str, epoch: i64) -> Result<bool> {
  Ok(
    conn
      .prepare_cached(
        "SELECT 1 FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2 AND epoch = ?3",
      )
      .map_err(db_err)?
      .query_row(params![name, run_id, epoch], |_| Ok(()))
      .optional()
      .map_err(db_err)?
      .is_some(),
  )
}

/// A run's step records, in the order they were first written.
fn records_of(conn: &Connection, name: &str, run_id: &str) -> Result<Vec<WorkflowStepRecord>> {
  let mut stmt = conn
    .prepare_cached(
      "SELECT key, record FROM lumos_workflow_steps WHERE workflow_name = ?1 AND run_id = ?2 ORDER BY seq",
    )
    .map_err(db_err)?;
  let rows = stmt
    .query_map(params![name, run_id], |r| {
      Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })
    .map_err(db_err)?;
  let mut records = Vec::new();
  for row in rows {
    let (key, text) = row.map_err(db_err)?;
    let record = parse_json(&text, || format!("step record '{key}' of run '{run_id}'"))?;
    records.push(WorkflowStepRecord { key, record });
  }
  Ok(records)
}

impl WorkflowStore for SqliteStore {
  fn begin_workflow_run(&self, run: NewWorkflowRun) -> BoxFuture<'_, Result<Claim>> {
    Box::pin(async move {
      util::check_id("workflow name", &run.workflow_name)?;
      util::check_id("run id", &run.run_id)?;
      let input = to_json(&run.input)?;
      let state = to_json(&run.state)?;
      let rc = run.request_context.as_ref().map(to_json).transpose()?;
      self
        .write_small(move |conn| {
          let tx = immediate(conn)?;
          let (name, id) = (&run.workflow_name, &run.run_id);
          if let Some(status) = status_of(&tx, name, id)? {
            if ACTIVE_RUN_STATUSES.contains(&status.as_str()) {
              return Ok(Claim::Refused {
                status: Some(status),
              });
            }
            tx.execute(
              "DELETE FROM lumos_workflow_steps WHERE workflow_name = ?1 AND run_id = ?2",
              params![name, id],
            )
            .map_err(db_err)?;
            tx.execute(
              "DELETE FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2",
              params![name, id],
            )
            .map_err(db_err)?;
          }
          let now = now_ms();
          tx.prepare_cached(&format!(
            "INSERT INTO lumos_workflow_runs ({RUN_COLS}) VALUES (?1, ?2, ?3, 'running', ?4, ?5, NULL, NULL, ?6, 1, ?7, ?7)"
          ))
          .map_err(db_err)?
          .execute(params![name, id, run.resource_id, input, state, rc, now])
          .map_err(db_err)?;
          tx.commit().map_err(db_err)?;
          Ok(Claim::Claimed { epoch: 1 })
        })
        .await
    })
  }

  fn claim_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    from: &'a [&'a str],
    to: &'a str,
  ) -> BoxFuture<'a, Result<Claim>> {
    let (name, id, to) = (
      workflow_name.to_string(),
      run_id.to_string(),
      to.to_string(),
    );
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    Box::pin(self.write_small(move |conn| {
      let tx = immediate(conn)?;
      let status = status_of(&tx, &name, &id)?;
      match status {
        Some(s) if from.contains(&s) => {
          let epoch: i64 = tx
            .prepare_cached(
              "UPDATE lumos_workflow_runs SET status = ?3, epoch = epoch + 1, updated_at = ?4
               WHERE workflow_name = ?1 AND run_id = ?2 RETURNING epoch",
            )
            .map_err(db_err)?
            .query_row(params![name, id, to, now_ms()], |r| r.get(0))
            .map_err(db_err)?;
          tx.commit().map_err(db_err)?;
          Ok(Claim::Claimed { epoch })
        }
        status => Ok(Claim::Refused { status }),
      }
    }))
  }

  fn commit_workflow_step<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    record: WorkflowStepRecord,
    state: Option<Value>,
  ) -> BoxFuture<'a, Result<bool>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    Box::pin(async move {
      let text = to_json(&record.record)?;
      let state = state.as_ref().map(to_json).transpose()?;
      self
        .write_small(move |conn| {
          let tx = immediate(conn)?;
          if !owns(&tx, &name, &id, epoch)? {
            return Ok(false);
          }
          if let Some(state) = state {
            tx.prepare_cached(
              "UPDATE lumos_workflow_runs SET state = ?3 WHERE workflow_name = ?1 AND run_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![name, id, state])
            .map_err(db_err)?;
          }
          tx.prepare_cached(
            "INSERT INTO lumos_workflow_steps (workflow_name, run_id, key, record) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workflow_name, run_id, key) DO UPDATE SET record = excluded.record",
          )
          .map_err(db_err)?
          .execute(params![name, id, record.key, text])
          .map_err(db_err)?;
          tx.commit().map_err(db_err)?;
          Ok(true)
        })
        .await
    })
  }

  fn update_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    update: WorkflowRunUpdate,
  ) -> BoxFuture<'a, Result<bool>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    Box::pin(async move {
      let result = update.result.as_ref().map(to_json).transpose()?;
      let error = update.error.as_ref().map(to_json).transpose()?;
      let state = update.state.as_ref().map(to_json).transpose()?;
      self
        .write_small(move |conn| {
          let n = conn
            .prepare_cached(
              "UPDATE lumos_workflow_runs SET status = ?4, result = ?5, error = ?6, state = COALESCE(?7, state), updated_at = ?8
               WHERE workflow_name = ?1 AND run_id = ?2 AND epoch = ?3",
            )
            .map_err(db_err)?
            .execute(params![name, id, epoch, update.status, result, error, state, now_ms()])
            .map_err(db_err)?;
          Ok(n == 1)
        })
        .await
    })
  }

  fn load_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<Option<StoredWorkflowRun>>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    Box::pin(self.read(move |conn| {
      // One read transaction: the run and its records are from the same snapshot.
      let tx = conn.transaction().map_err(db_err)?;
      let raw = tx
        .prepare_cached(&format!(
          "SELECT {RUN_COLS} FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2"
        ))
        .map_err(db_err)?
        .query_row(params![name, id], raw_run)
        .optional()
        .map_err(db_err)?;
      let Some(raw) = raw else { return Ok(None) };
      let run = run_from(raw)?;
      let records = records_of(&tx, &name, &id)?;
      tx.commit().map_err(db_err)?;
      Ok(Some((run, records)))
    }))
  }

  fn list_workflow_runs(&self, q: ListWorkflowRunsQuery) -> BoxFuture<'_, Result<WorkflowRunPage>> {
    Box::pin(self.read(move |conn| {
      let (where_sql, values) = q.where_clause(|n| format!("?{n}"));
      let args: Vec<SqlValue> = values
        .into_iter()
        .map(|v| match v {
          FilterValue::Text(t) => SqlValue::Text(t.to_string()),
          FilterValue::Int(n) => SqlValue::Integer(n),
        })
        .collect();
      let tx = conn.transaction().map_err(db_err)?;
      let total: i64 = tx
        .query_row(
          &format!("SELECT COUNT(*) FROM lumos_workflow_runs{where_sql}"),
          params_from_iter(args.iter()),
          |r| r.get(0),
        )
        .map_err(db_err)?;
      let (offset, limit) = util::page_window(q.page, q.per_page);
      let sql = format!(
        "SELECT {RUN_COLS} FROM lumos_workflow_runs{where_sql} ORDER BY created_at DESC, rowid DESC {} OFFSET {offset}",
        limit_sql(limit)
      );
      let mut stmt = tx.prepare(&sql).map_err(db_err)?;
      let rows = stmt
        .query_map(params_from_iter(args.iter()), raw_run)
        .map_err(db_err)?;
      let mut found = Vec::new();
      for row in rows {
        found.push(run_from(row.map_err(db_err)?)?);
      }
      drop(stmt);
      // Same transaction, so each run and its records are from one snapshot.
      let mut runs = Vec::with_capacity(found.len());
      for run in found {
        let records = records_of(&tx, &run.workflow_name, &run.run_id)?;
        runs.push((run, records));
      }
      tx.commit().map_err(db_err)?;
      Ok(WorkflowRunPage {
        runs,
        total: total.max(0) as u64,
      })
    }))
  }

  fn delete_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<bool>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    Box::pin(self.write(move |conn| {
      let tx = immediate(conn)?;
      tx.execute(
        "DELETE FROM lumos_workflow_steps WHERE workflow_name = ?1 AND run_id = ?2",
        params![name, id],
      )
      .map_err(db_err)?;
      let n = tx
        .execute(
          "DELETE FROM lumos_workflow_runs WHERE workflow_name = ?1 AND run_id = ?2",
          params![name, id],
        )
        .map_err(db_err)?;
      tx.commit().map_err(db_err)?;
      Ok(n == 1)
    }))
  }
}

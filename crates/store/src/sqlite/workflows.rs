//! [`WorkflowStore`] on SQLite. Changes go through the workflow journal (see
//! `workflow_journal`): each is one appended entry, decided under the journal's lock with the
//! journal's view of the run (or, for a run it has not seen since the last fold, the tables').
//! Reads of one run merge the journal into the tables' rows; listings and deletes fold the
//! journal into the tables first and read them.

use futures::future::BoxFuture;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params};
use serde_json::Value;

use super::workflow_journal::{
  Entry, Locked, merged_records, stored_run, stored_run_with_records, stored_runs_with_records,
};
use super::{SqliteStore, db_err, immediate, limit_sql};
use std::sync::PoisonError;

use crate::error::Result;
use crate::util::{self, now_ms};
use crate::workflows::*;

/// The journal's number for a run owned by `epoch`, bringing a run that only the tables have
/// into the journal first. `None`: no such run, or another epoch owns it.
fn owned_run(
  j: &mut Locked<'_>,
  conn: &Connection,
  name: &str,
  run_id: &str,
  epoch: i64,
) -> Result<Option<u32>> {
  if let Some(run) = j.run(name, run_id) {
    return Ok((run.row.epoch == epoch).then_some(run.n));
  }
  match stored_run(conn, name, run_id)? {
    Some(row) if row.epoch == epoch => Ok(Some(j.append(Entry::Row {
      row: Box::new(row),
      fresh: false,
    })?)),
    _ => Ok(None),
  }
}

/// Appends the entry `change(n)` for a run owned by `epoch`; `false` (nothing written) when
/// another epoch owns it or it does not exist.
fn append_owned(
  j: &mut Locked<'_>,
  conn: &Connection,
  name: &str,
  run_id: &str,
  epoch: i64,
  change: impl FnOnce(u32) -> Entry,
) -> Result<bool> {
  let Some(n) = owned_run(j, conn, name, run_id, epoch)? else {
    return Ok(false);
  };
  j.append(change(n))?;
  Ok(true)
}

impl SqliteStore {
  /// One change through the journal: on the calling thread when the writer connection and the
  /// journal are free (no thread hop; this may be the JS thread, see lumos-node's js_driven),
  /// else on the blocking pool, waiting for them. A journal grown to its fold size is folded on
  /// the blocking pool, not on the calling thread.
  async fn journal_change<T, F>(&self, f: F) -> Result<T>
  where
    T: Send + 'static,
    F: FnOnce(&mut Locked<'_>, &mut Connection) -> Result<T> + Send + 'static,
  {
    let f = match self.change_inline(f) {
      Ok(out) => return out,
      Err(f) => f,
    };
    let inner = self.inner.clone();
    self
      .write(move |conn| {
        let mut j = inner.workflow_journal.lock()?;
        let out = f(&mut j, conn)?;
        if j.fold_due() {
          j.fold(conn)?;
        }
        Ok(out)
      })
      .await
  }

  /// `f` run on this thread if the writer and the journal are free; else `f` back, untouched.
  fn change_inline<T, F>(&self, f: F) -> std::result::Result<Result<T>, F>
  where
    F: FnOnce(&mut Locked<'_>, &mut Connection) -> Result<T>,
  {
    let mut conn = match self.inner.writer.try_lock() {
      Ok(conn) => conn,
      Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
      Err(std::sync::TryLockError::WouldBlock) => return Err(f),
    };
    let mut j = match self.inner.workflow_journal.try_lock() {
      Ok(Some(j)) => j,
      Ok(None) => return Err(f),
      Err(e) => return Ok(Err(e)),
    };
    let out = f(&mut j, &mut conn);
    let due = j.fold_due();
    drop(j);
    drop(conn);
    if due {
      self.fold_in_background();
    }
    Ok(out)
  }

  fn fold_in_background(&self) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
      return; // folded by the next change that runs on the blocking pool, or a listing
    };
    if !self.inner.workflow_journal.begin_background_fold() {
      return;
    }
    let inner = self.inner.clone();
    rt.spawn_blocking(move || {
      let journal = &inner.workflow_journal;
      let folded = (|| {
        let mut conn = inner.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut j = journal.lock()?;
        if j.fold_due() {
          j.fold(&mut conn)?;
        }
        Ok::<_, crate::StoreError>(())
      })();
      journal.end_background_fold();
      // A failed fold leaves the entries in the journal (nothing is lost); the next fold,
      // by a listing or a change on the blocking pool, tries again and reports the error.
      drop(folded);
    });
  }
}

impl WorkflowStore for SqliteStore {
  fn begin_workflow_run(&self, run: NewWorkflowRun) -> BoxFuture<'_, Result<Claim>> {
    Box::pin(async move {
      util::check_id("workflow name", &run.workflow_name)?;
      util::check_id("run id", &run.run_id)?;
      self
        .journal_change(move |j, conn| {
          let status = match j.run(&run.workflow_name, &run.run_id) {
            Some(r) => Some(r.row.status.clone()),
            None if run.id_is_new => None,
            None => stored_run(conn, &run.workflow_name, &run.run_id)?.map(|r| r.status),
          };
          if let Some(status) = status
            && ACTIVE_RUN_STATUSES.contains(&status.as_str())
          {
            return Ok(Claim::Refused {
              status: Some(status),
            });
          }
          let now = now_ms();
          let row = WorkflowRun {
            workflow_name: run.workflow_name,
            run_id: run.run_id,
            resource_id: run.resource_id,
            status: "running".into(),
            input: run.input,
            state: run.state,
            result: None,
            error: None,
            request_context: run.request_context,
            epoch: 1,
            created_at: now,
            updated_at: now,
          };
          j.append(Entry::Row {
            row: Box::new(row),
            fresh: true,
          })?;
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
    Box::pin(self.journal_change(move |j, conn| {
      let now = now_ms();
      let claim = if let Some(run) = j.run(&name, &id) {
        if !from.contains(&run.row.status) {
          return Ok(Claim::Refused {
            status: Some(run.row.status.clone()),
          });
        }
        let epoch = run.row.epoch + 1;
        let n = run.n;
        j.append(Entry::Claim {
          n,
          status: to,
          epoch,
          at: now,
        })?;
        Claim::Claimed { epoch }
      } else {
        match stored_run(conn, &name, &id)? {
          Some(mut row) if from.contains(&row.status) => {
            row.status = to;
            row.epoch += 1;
            row.updated_at = now;
            let epoch = row.epoch;
            j.append(Entry::Row {
              row: Box::new(row),
              fresh: false,
            })?;
            Claim::Claimed { epoch }
          }
          other => {
            return Ok(Claim::Refused {
              status: other.map(|r| r.status),
            });
          }
        }
      };
      Ok(claim)
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
    Box::pin(self.journal_change(move |j, conn| {
      append_owned(j, conn, &name, &id, epoch, |n| Entry::Step {
        n,
        key: record.key,
        record: record.record,
        state,
      })
    }))
  }

  fn update_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    update: WorkflowRunUpdate,
  ) -> BoxFuture<'a, Result<bool>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    Box::pin(self.journal_change(move |j, conn| {
      append_owned(j, conn, &name, &id, epoch, |n| Entry::End {
        n,
        status: update.status,
        result: update.result,
        error: update.error,
        state: update.state,
        at: now_ms(),
      })
    }))
  }

  fn load_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<Option<StoredWorkflowRun>>> {
    let (name, id) = (workflow_name.to_string(), run_id.to_string());
    let journal = self.inner.clone();
    Box::pin(self.read(move |conn| {
      let j = journal.workflow_journal.lock()?;
      // One read transaction: the run and its records are from the same snapshot (folds take
      // the journal's lock, which is held here).
      let tx = conn.transaction().map_err(db_err)?;
      let found = match j.run(&name, &id) {
        Some(run) => Some((run.row.clone(), merged_records(&tx, run)?)),
        None => stored_run_with_records(&tx, &name, &id)?,
      };
      tx.commit().map_err(db_err)?;
      Ok(found)
    }))
  }

  fn list_workflow_runs(&self, q: ListWorkflowRunsQuery) -> BoxFuture<'_, Result<WorkflowRunPage>> {
    let journal = self.inner.clone();
    Box::pin(self.write(move |conn| {
      let mut j = journal.workflow_journal.lock()?;
      j.fold(conn)?;
      let (where_sql, values) = q.where_clause(|n| format!("?{n}"));
      let args: Vec<SqlValue> = values
        .into_iter()
        .map(|v| match v {
          FilterValue::Text(t) => SqlValue::Text(t.to_string()),
          FilterValue::Int(n) => SqlValue::Integer(n),
        })
        .collect();
      let total: i64 = conn
        .query_row(
          &format!("SELECT COUNT(*) FROM lumos_workflow_runs{where_sql}"),
          rusqlite::params_from_iter(args.iter()),
          |r| r.get(0),
        )
        .map_err(db_err)?;
      let (offset, limit) = util::page_window(q.page, q.per_page);
      let tail = format!(
        "{where_sql} ORDER BY created_at DESC, id DESC {} OFFSET {offset}",
        limit_sql(limit)
      );
      let runs = stored_runs_with_records(conn, &tail, &args)?;
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
    let journal = self.inner.clone();
    Box::pin(self.write(move |conn| {
      let mut j = journal.workflow_journal.lock()?;
      j.fold(conn)?;
      let tx = immediate(conn)?;
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

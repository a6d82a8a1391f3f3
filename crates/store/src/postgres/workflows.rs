//! [`WorkflowStore`] on PostgreSQL. Claims are one conditional `UPDATE … RETURNING` (the row
//! lock makes a second claimer re-check the status after the first commits); step commits
//! update the run row under its epoch first, which holds that lock until the record is in.

use std::collections::HashMap;

use futures::future::BoxFuture;
use serde_json::Value;
use tokio_postgres::Row;

use super::{Param, PostgresStore, col, pg_err, refs, snapshot_tx, to_json};
use crate::error::{Result, StoreError};
use crate::util::{self, now_ms};
use crate::workflows::*;

const RUN_COLS: &str = "workflow_name, run_id, resource_id, status, input, state, result, error, request_context, epoch, created_at, updated_at";

fn json_col(row: &Row, i: usize, run_id: &str) -> Result<Option<Value>> {
  let text: Option<String> = col(row, i)?;
  text
    .map(|t| {
      serde_json::from_str(&t).map_err(|e| {
        StoreError::Db(format!(
          "stored JSON of workflow run '{run_id}' (column {i}) is unreadable ({e}); the row was written by something else"
        ))
      })
    })
    .transpose()
}

fn run_from(row: &Row) -> Result<WorkflowRun> {
  let run_id: String = col(row, 1)?;
  Ok(WorkflowRun {
    workflow_name: col(row, 0)?,
    resource_id: col(row, 2)?,
    status: col(row, 3)?,
    input: json_col(row, 4, &run_id)?.unwrap_or(Value::Null),
    state: json_col(row, 5, &run_id)?.unwrap_or(Value::Null),
    result: json_col(row, 6, &run_id)?,
    error: json_col(row, 7, &run_id)?,
    request_context: json_col(row, 8, &run_id)?,
    epoch: col(row, 9)?,
    created_at: col(row, 10)?,
    updated_at: col(row, 11)?,
    run_id,
  })
}

/// A `(key, record, …)` row as a step record of `run_id`.
fn record_from(row: &Row, run_id: &str) -> Result<WorkflowStepRecord> {
  let key: String = col(row, 0)?;
  let text: String = col(row, 1)?;
  let record = serde_json::from_str(&text).map_err(|e| {
    StoreError::Db(format!(
      "stored step record '{key}' of run '{run_id}' is unreadable ({e})"
    ))
  })?;
  Ok(WorkflowStepRecord { key, record })
}

impl WorkflowStore for PostgresStore {
  fn begin_workflow_run(&self, run: NewWorkflowRun) -> BoxFuture<'_, Result<Claim>> {
    Box::pin(async move {
      util::check_id("workflow name", &run.workflow_name)?;
      util::check_id("run id", &run.run_id)?;
      let input = to_json(&run.input)?;
      let state = to_json(&run.state)?;
      let rc = run.request_context.as_ref().map(to_json).transpose()?;
      let (name, id) = (&run.workflow_name, &run.run_id);
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      let existing = tx
        .query_opt(
          "SELECT status FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2 FOR UPDATE",
          &[name, id],
        )
        .await
        .map_err(pg_err)?;
      if let Some(row) = existing {
        let status: String = col(&row, 0)?;
        if ACTIVE_RUN_STATUSES.contains(&status.as_str()) {
          return Ok(Claim::Refused {
            status: Some(status),
          });
        }
        tx.execute(
          "DELETE FROM lumos_workflow_steps WHERE workflow_name = $1 AND run_id = $2",
          &[name, id],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
          "DELETE FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2",
          &[name, id],
        )
        .await
        .map_err(pg_err)?;
      }
      let now = now_ms();
      // Two first starts of one new id: the loser's INSERT waits on the winner's key, then does
      // nothing, and is refused like any start of an active run.
      let inserted = tx
        .execute(
          &format!(
            "INSERT INTO lumos_workflow_runs ({RUN_COLS}) VALUES ($1, $2, $3, 'running', $4, $5, NULL, NULL, $6, 1, $7, $7)
             ON CONFLICT (workflow_name, run_id) DO NOTHING"
          ),
          &[name, id, &run.resource_id, &input, &state, &rc, &now],
        )
        .await
        .map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)?;
      if inserted == 1 {
        Ok(Claim::Claimed { epoch: 1 })
      } else {
        Ok(Claim::Refused {
          status: Some("running".into()),
        })
      }
    })
  }

  fn claim_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    from: &'a [&'a str],
    to: &'a str,
  ) -> BoxFuture<'a, Result<Claim>> {
    Box::pin(async move {
      let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(
          "UPDATE lumos_workflow_runs SET status = $4, epoch = epoch + 1, updated_at = $5
           WHERE workflow_name = $1 AND run_id = $2 AND status = ANY($3) RETURNING epoch",
        )
        .await
        .map_err(pg_err)?;
      let rows = client
        .query(&stmt, &[&workflow_name, &run_id, &from, &to, &now_ms()])
        .await
        .map_err(pg_err)?;
      if let Some(row) = rows.first() {
        return Ok(Claim::Claimed {
          epoch: col(row, 0)?,
        });
      }
      let row = client
        .query_opt(
          "SELECT status FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2",
          &[&workflow_name, &run_id],
        )
        .await
        .map_err(pg_err)?;
      Ok(Claim::Refused {
        status: row.map(|r| col(&r, 0)).transpose()?,
      })
    })
  }

  fn commit_workflow_step<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    record: WorkflowStepRecord,
    state: Option<Value>,
  ) -> BoxFuture<'a, Result<bool>> {
    Box::pin(async move {
      let text = to_json(&record.record)?;
      let state = state.as_ref().map(to_json).transpose()?;
      let mut client = self.client().await?;
      // FOR SHARE holds off a claim (an UPDATE of the row) until this commit, without writing a
      // new version of the run row for every step.
      let own = client
        .prepare_cached(
          "SELECT 1 FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2 AND epoch = $3 FOR SHARE",
        )
        .await
        .map_err(pg_err)?;
      let set_state = client
        .prepare_cached(
          "UPDATE lumos_workflow_runs SET state = $3 WHERE workflow_name = $1 AND run_id = $2",
        )
        .await
        .map_err(pg_err)?;
      let put = client
        .prepare_cached(
          "INSERT INTO lumos_workflow_steps (workflow_name, run_id, key, record) VALUES ($1, $2, $3, $4)
           ON CONFLICT (workflow_name, run_id, key) DO UPDATE SET record = EXCLUDED.record",
        )
        .await
        .map_err(pg_err)?;
      let tx = client.transaction().await.map_err(pg_err)?;
      let owned = tx
        .query_opt(&own, &[&workflow_name, &run_id, &epoch])
        .await
        .map_err(pg_err)?;
      if owned.is_none() {
        return Ok(false);
      }
      if let Some(state) = &state {
        tx.execute(&set_state, &[&workflow_name, &run_id, state])
          .await
          .map_err(pg_err)?;
      }
      tx.execute(&put, &[&workflow_name, &run_id, &record.key, &text])
        .await
        .map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)?;
      Ok(true)
    })
  }

  fn update_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
    epoch: i64,
    update: WorkflowRunUpdate,
  ) -> BoxFuture<'a, Result<bool>> {
    Box::pin(async move {
      let result = update.result.as_ref().map(to_json).transpose()?;
      let error = update.error.as_ref().map(to_json).transpose()?;
      let state = update.state.as_ref().map(to_json).transpose()?;
      let client = self.client().await?;
      let stmt = client
        .prepare_cached(
          "UPDATE lumos_workflow_runs SET status = $4, result = $5, error = $6, state = COALESCE($7, state), updated_at = $8
           WHERE workflow_name = $1 AND run_id = $2 AND epoch = $3",
        )
        .await
        .map_err(pg_err)?;
      let n = client
        .execute(
          &stmt,
          &[
            &workflow_name,
            &run_id,
            &epoch,
            &update.status,
            &result,
            &error,
            &state,
            &now_ms(),
          ],
        )
        .await
        .map_err(pg_err)?;
      Ok(n == 1)
    })
  }

  fn load_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<Option<StoredWorkflowRun>>> {
    Box::pin(async move {
      let mut client = self.client().await?;
      let tx = snapshot_tx(&mut client).await?;
      let row = tx
        .query_opt(
          &format!(
            "SELECT {RUN_COLS} FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2"
          ),
          &[&workflow_name, &run_id],
        )
        .await
        .map_err(pg_err)?;
      let Some(row) = row else {
        return Ok(None);
      };
      let run = run_from(&row)?;
      let rows = tx
        .query(
          "SELECT key, record FROM lumos_workflow_steps WHERE workflow_name = $1 AND run_id = $2 ORDER BY seq",
          &[&workflow_name, &run_id],
        )
        .await
        .map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)?;
      let records = rows
        .iter()
        .map(|row| record_from(row, run_id))
        .collect::<Result<Vec<_>>>()?;
      Ok(Some((run, records)))
    })
  }

  fn list_workflow_runs(&self, q: ListWorkflowRunsQuery) -> BoxFuture<'_, Result<WorkflowRunPage>> {
    Box::pin(async move {
      let (where_sql, values) = q.where_clause(|n| format!("${n}"));
      let mut params: Vec<Param> = values
        .into_iter()
        .map(|v| -> Param {
          match v {
            FilterValue::Text(t) => Box::new(t.to_string()),
            FilterValue::Int(n) => Box::new(n),
          }
        })
        .collect();
      let mut client = self.client().await?;
      let tx = snapshot_tx(&mut client).await?;
      let row = tx
        .query_one(
          &format!("SELECT COUNT(*) FROM lumos_workflow_runs{where_sql}"),
          &refs(&params),
        )
        .await
        .map_err(pg_err)?;
      let total: i64 = col(&row, 0)?;
      let (offset, limit) = util::page_window(q.page, q.per_page);
      params.push(Box::new(limit));
      params.push(Box::new(offset));
      let sql = format!(
        "SELECT {RUN_COLS} FROM lumos_workflow_runs{where_sql} ORDER BY created_at DESC, run_id DESC LIMIT ${} OFFSET ${}",
        params.len() - 1,
        params.len()
      );
      let rows = tx.query(&sql, &refs(&params)).await.map_err(pg_err)?;
      let found = rows.iter().map(run_from).collect::<Result<Vec<_>>>()?;
      // The page's records in one query, in the same snapshot as the runs.
      let mut records: HashMap<(String, String), Vec<WorkflowStepRecord>> = HashMap::new();
      let (names, ids): (Vec<&str>, Vec<&str>) = found
        .iter()
        .map(|r| (r.workflow_name.as_str(), r.run_id.as_str()))
        .unzip();
      if !found.is_empty() {
        let rows = tx
          .query(
            "SELECT s.key, s.record, s.workflow_name, s.run_id FROM lumos_workflow_steps s
             JOIN UNNEST($1::text[], $2::text[]) AS p(workflow_name, run_id)
               ON s.workflow_name = p.workflow_name AND s.run_id = p.run_id
             ORDER BY s.seq",
            &[&names, &ids],
          )
          .await
          .map_err(pg_err)?;
        for row in &rows {
          let (name, run_id): (String, String) = (col(row, 2)?, col(row, 3)?);
          let record = record_from(row, &run_id)?;
          records.entry((name, run_id)).or_default().push(record);
        }
      }
      tx.commit().await.map_err(pg_err)?;
      let runs = found
        .into_iter()
        .map(|run| {
          let key = (run.workflow_name.clone(), run.run_id.clone());
          let r = records.remove(&key).unwrap_or_default();
          (run, r)
        })
        .collect();
      Ok(WorkflowRunPage {
        runs,
        total: total.max(0) as u64,
      })
    })
  }

  fn delete_workflow_run<'a>(
    &'a self,
    workflow_name: &'a str,
    run_id: &'a str,
  ) -> BoxFuture<'a, Result<bool>> {
    Box::pin(async move {
      let mut client = self.client().await?;
      let tx = client.transaction().await.map_err(pg_err)?;
      tx.execute(
        "DELETE FROM lumos_workflow_steps WHERE workflow_name = $1 AND run_id = $2",
        &[&workflow_name, &run_id],
      )
      .await
      .map_err(pg_err)?;
      let n = tx
        .execute(
          "DELETE FROM lumos_workflow_runs WHERE workflow_name = $1 AND run_id = $2",
          &[&workflow_name, &run_id],
        )
        .await
        .map_err(pg_err)?;
      tx.commit().await.map_err(pg_err)?;
      Ok(n == 1)
    })
  }
}

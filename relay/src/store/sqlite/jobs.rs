//! The jobs queue on SQLite ([`JobStore`] for [`SqliteStore`]).
//!
//! SQLite has one writer at a time, so a claim (`UPDATE … WHERE id IN (SELECT …) RETURNING`)
//! is atomic across every connection and process on the file: two workers never lease the
//! same job. A lease that runs out (its worker died) makes the job claimable again.

use async_trait::async_trait;
use natter_protocol::UnixMillis;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::SqliteStore;
use crate::store::{JobRecord, JobState, JobStatus, JobStore, NewJob, StoreError};

/// Also run by the writer (`append.rs`), inside a message's savepoint.
pub(super) const INSERT_JOB: &str = "INSERT INTO jobs
        (id, kind, payload, dedupe_key, run_at, max_attempts, created_at, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
    ON CONFLICT (dedupe_key) DO NOTHING";

fn bind_job<'q>(
    job: &'q NewJob,
    now: UnixMillis,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    sqlx::query(INSERT_JOB)
        .bind(Uuid::new_v4().to_string())
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(&job.dedupe_key)
        .bind(job.run_at)
        .bind(i64::from(job.max_attempts))
        .bind(now)
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn job_from_row(row: &SqliteRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        attempt: count(row.try_get("attempts")?),
        max_attempts: count(row.try_get("max_attempts")?),
        locked_until: row.try_get("locked_until")?,
    })
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn enqueue_job(&self, job: NewJob, now: UnixMillis) -> Result<bool, StoreError> {
        let inserted = bind_job(&job, now)
            .execute(&self.writes)
            .await?
            .rows_affected();
        Ok(inserted == 1)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        // A job whose last allowed attempt lost its lease (its node died every time) is given
        // up, not claimed forever.
        sqlx::query(
            "UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL,
                 last_error = COALESCE(last_error, 'the last attempt did not finish'),
                 updated_at = ?1
             WHERE state = 'pending' AND attempts >= max_attempts AND locked_until <= ?1",
        )
        .bind(now)
        .execute(&self.writes)
        .await?;
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // Numbered after ?1–?4: SQLite gives a bare `?` the number after the highest one
        // seen so far in the text, which here would collide with ?4.
        let placeholders = (5..5 + kinds.len())
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE jobs SET locked_by = ?1, locked_until = ?2 + ?3, attempts = attempts + 1,
                 updated_at = ?2
             WHERE id IN (SELECT id FROM jobs
                          WHERE state = 'pending' AND run_at <= ?2
                            AND (locked_until IS NULL OR locked_until <= ?2)
                            AND kind IN ({placeholders})
                          ORDER BY run_at, created_at LIMIT ?4)
             RETURNING id, kind, payload, attempts, max_attempts, locked_until"
        );
        let mut query = sqlx::query(&sql)
            .bind(worker)
            .bind(now)
            .bind(lease_ms)
            .bind(i64::from(limit));
        for kind in kinds {
            query = query.bind(*kind);
        }
        let rows = query.fetch_all(&self.writes).await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn complete_job(
        &self,
        id: &str,
        worker: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL,
                 last_error = NULL, updated_at = ?3
             WHERE id = ?1 AND locked_by = ?2 AND state = 'pending'",
        )
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(&self.writes)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        run_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let (state, run_at) = match run_at {
            Some(run_at) => ("pending", Some(run_at)),
            None => ("failed", None),
        };
        let changed = sqlx::query(
            "UPDATE jobs SET state = ?4, run_at = COALESCE(?5, run_at), last_error = ?3,
                 locked_by = NULL, locked_until = NULL, updated_at = ?6
             WHERE id = ?1 AND locked_by = ?2 AND state = 'pending'",
        )
        .bind(id)
        .bind(worker)
        .bind(error)
        .bind(state)
        .bind(run_at)
        .bind(now)
        .execute(&self.writes)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn cancel_jobs(&self, dedupe_key: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM jobs WHERE dedupe_key = ?1 AND state = 'pending'")
                .bind(dedupe_key)
                .execute(&self.writes)
                .await?
                .rows_affected(),
        )
    }

    async fn job_status(&self, id: &str) -> Result<Option<JobStatus>, StoreError> {
        let row = sqlx::query("SELECT state, attempts, run_at, last_error FROM jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let state: String = row.try_get("state")?;
            Ok(JobStatus {
                state: match state.as_str() {
                    "pending" => JobState::Pending,
                    "done" => JobState::Done,
                    "failed" => JobState::Failed,
                    other => return Err(StoreError::Corrupt(format!("job state {other:?}"))),
                },
                attempts: count(row.try_get("attempts")?),
                run_at: row.try_get("run_at")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .transpose()
    }

    async fn jobs_with_key(&self, dedupe_key: &str) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT id FROM jobs WHERE dedupe_key = ?1 ORDER BY created_at")
                .bind(dedupe_key)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

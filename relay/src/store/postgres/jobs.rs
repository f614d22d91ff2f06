//! The jobs queue on PostgreSQL ([`JobStore`] for [`PostgresStore`]).
//!
//! Several nodes claim from one table: the claim locks the due rows it picks with
//! `FOR UPDATE SKIP LOCKED`, so two workers never wait for, nor take, the same job, and leases
//! it (`locked_until`). A lease that runs out (its worker died) makes the job claimable again.

use async_trait::async_trait;
use natter_protocol::UnixMillis;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::error::{run, Outcome};
use super::PostgresStore;
use crate::store::{JobRecord, JobState, JobStatus, JobStore, NewJob, StoreError};

const INSERT_JOB: &str = "INSERT INTO jobs
        (id, kind, payload, dedupe_key, run_at, max_attempts, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
    ON CONFLICT (dedupe_key) DO NOTHING";

/// Enqueues a job (inside a message's transaction, or on its own). Returns whether it was new:
/// a job whose dedupe key is taken is skipped, never an error.
pub(super) async fn insert(
    connection: &mut PgConnection,
    job: &NewJob,
    now: UnixMillis,
) -> Outcome<bool> {
    let inserted = sqlx::query(INSERT_JOB)
        .bind(Uuid::new_v4().to_string())
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(&job.dedupe_key)
        .bind(job.run_at)
        .bind(i64::from(job.max_attempts))
        .bind(now)
        .execute(connection)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

fn count(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn job_from_row(row: &PgRow) -> Outcome<JobRecord> {
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        attempt: count(row.try_get("attempts")?),
        max_attempts: count(row.try_get("max_attempts")?),
        locked_until: row.try_get("locked_until")?,
    })
}

fn state_from(name: &str) -> Outcome<JobState> {
    match name {
        "pending" => Ok(JobState::Pending),
        "done" => Ok(JobState::Done),
        "failed" => Ok(JobState::Failed),
        other => Err(StoreError::Corrupt(format!("job state {other:?}")).into()),
    }
}

impl PostgresStore {
    /// A job whose last allowed attempt lost its lease (its node died every time) is given up,
    /// not claimed forever.
    async fn give_up_abandoned_jobs(&self, now: UnixMillis) -> Outcome<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'failed', locked_by = NULL, locked_until = NULL,
                 last_error = COALESCE(last_error, 'the last attempt did not finish'),
                 updated_at = $1
             WHERE state = 'pending' AND attempts >= max_attempts AND locked_until <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn enqueue_job(&self, job: NewJob, now: UnixMillis) -> Result<bool, StoreError> {
        run(async {
            let mut connection = self.pool.acquire().await?;
            insert(&mut connection, &job, now).await
        })
        .await
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        run(async {
            self.give_up_abandoned_jobs(now).await?;
            if kinds.is_empty() {
                return Ok(Vec::new());
            }
            // SKIP LOCKED: a row another node is claiming right now is left to it. The row
            // lock is taken before the lease is checked again, so a job claimed and committed
            // meanwhile is seen as leased and skipped. The outer SELECT puts the claimed jobs
            // oldest first (RETURNING has no order).
            let rows = sqlx::query(
                "WITH due AS (
                     SELECT id FROM jobs
                     WHERE state = 'pending' AND run_at <= $2
                       AND (locked_until IS NULL OR locked_until <= $2)
                       AND kind = ANY($5)
                     ORDER BY run_at, created_at
                     LIMIT $4
                     FOR UPDATE SKIP LOCKED
                 ), claimed AS (
                     UPDATE jobs SET locked_by = $1, locked_until = $2 + $3,
                         attempts = attempts + 1, updated_at = $2
                     FROM due WHERE jobs.id = due.id
                     RETURNING jobs.id, jobs.kind, jobs.payload, jobs.attempts,
                         jobs.max_attempts, jobs.locked_until, jobs.run_at, jobs.created_at
                 )
                 SELECT * FROM claimed ORDER BY run_at, created_at, id",
            )
            .bind(worker)
            .bind(now)
            .bind(lease_ms)
            .bind(i64::from(limit))
            .bind(kinds)
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(job_from_row).collect()
        })
        .await
    }

    async fn complete_job(
        &self,
        id: &str,
        worker: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        run(async {
            let done = sqlx::query(
                "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL,
                     last_error = NULL, updated_at = $3
                 WHERE id = $1 AND locked_by = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(worker)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            Ok(done == 1)
        })
        .await
    }

    async fn fail_job(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        run_at: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let state = if run_at.is_some() {
            "pending"
        } else {
            "failed"
        };
        run(async {
            let changed = sqlx::query(
                "UPDATE jobs SET state = $4, run_at = COALESCE($5, run_at), last_error = $3,
                     locked_by = NULL, locked_until = NULL, updated_at = $6
                 WHERE id = $1 AND locked_by = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(worker)
            .bind(error)
            .bind(state)
            .bind(run_at)
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
            Ok(changed == 1)
        })
        .await
    }

    async fn cancel_jobs(&self, dedupe_key: &str) -> Result<u64, StoreError> {
        run(async {
            Ok(
                sqlx::query("DELETE FROM jobs WHERE dedupe_key = $1 AND state = 'pending'")
                    .bind(dedupe_key)
                    .execute(&self.pool)
                    .await?
                    .rows_affected(),
            )
        })
        .await
    }

    async fn job_status(&self, id: &str) -> Result<Option<JobStatus>, StoreError> {
        run(async {
            let row =
                sqlx::query("SELECT state, attempts, run_at, last_error FROM jobs WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
            row.map(|row| {
                Ok(JobStatus {
                    state: state_from(&row.try_get::<String, _>("state")?)?,
                    attempts: count(row.try_get("attempts")?),
                    run_at: row.try_get("run_at")?,
                    last_error: row.try_get("last_error")?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn jobs_with_key(&self, dedupe_key: &str) -> Result<Vec<String>, StoreError> {
        run(async {
            Ok(sqlx::query_scalar(
                "SELECT id FROM jobs WHERE dedupe_key = $1 ORDER BY created_at, id",
            )
            .bind(dedupe_key)
            .fetch_all(&self.pool)
            .await?)
        })
        .await
    }
}

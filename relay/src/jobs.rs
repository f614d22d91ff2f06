//! The jobs runner: what must happen after a message (an email, a webhook delivery, a
//! Messenger send) runs here, from the persisted queue in the store — never from the hub,
//! which may drop events.
//!
//! Jobs are enqueued by `conversations::append` in the message's own transaction (or on their
//! own with [`crate::store::JobStore::enqueue_job`]). Each node runs one [`JobRunner`]: it
//! claims due jobs with a lease (safe when several nodes share the database), runs the
//! handler registered for the job's kind, and marks the job done, or retries it with
//! exponential backoff, or gives it up after `max_attempts` (kept as failed, for operators).
//! A job still leased when its node dies runs again once the lease has passed: handlers must
//! be idempotent (a delivery id, a derived key).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::UnixMillis;
use tokio::sync::{watch, Notify};

use crate::clock::Clock;
use crate::config::JobsConfig;
use crate::store::{JobRecord, Store, StoreError};

/// Why a job's attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (a timeout, a refused connection, a rate limit).
    #[error("{0}")]
    Retry(String),
    /// Will never work (a malformed payload, an address that does not exist).
    #[error("{0}")]
    Permanent(String),
}

/// Runs the jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, job: &JobRecord) -> Result<(), JobError>;
}

/// The wait before retry number `attempt` (1 = after the first failure): `base · 2^(attempt-1)`,
/// at most `max`.
pub fn backoff_ms(attempt: u32, config: &JobsConfig) -> i64 {
    let factor = 1_u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    let wait = config
        .backoff_base_ms
        .saturating_mul(factor)
        .min(config.backoff_max_ms);
    i64::try_from(wait).unwrap_or(i64::MAX)
}

/// What one pass over the due jobs did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub done: usize,
    pub retried: usize,
    pub failed: usize,
}

pub struct JobRunner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: JobsConfig,
    /// This runner's name in leases: the node id.
    worker: String,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    /// Woken when this node enqueued a job, so it need not wait for the next poll.
    wake: Notify,
}

impl JobRunner {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: JobsConfig,
        worker: String,
    ) -> Self {
        Self {
            store,
            clock,
            config,
            worker,
            handlers: HashMap::new(),
            wake: Notify::new(),
        }
    }

    /// Registers the handler for a job kind (before the runner starts).
    pub fn register(&mut self, kind: &str, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// Tells the runner a job may be due now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Claims the due jobs (one batch) and runs them.
    pub async fn run_due(&self) -> Result<PassReport, StoreError> {
        let lease = i64::try_from(self.config.lease_ms).unwrap_or(i64::MAX);
        let kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        let jobs = self
            .store
            .claim_jobs(
                &self.worker,
                &kinds,
                self.clock.now(),
                lease,
                self.config.batch,
            )
            .await?;
        let mut report = PassReport::default();
        for job in jobs {
            self.run_one(&job, &mut report).await?;
        }
        Ok(report)
    }

    async fn run_one(&self, job: &JobRecord, report: &mut PassReport) -> Result<(), StoreError> {
        let outcome = match self.handlers.get(&job.kind) {
            Some(handler) => handler.run(job).await,
            // Only kinds with a handler are claimed; should one slip through, retry it.
            None => Err(JobError::Retry(format!(
                "no handler for job kind {:?}",
                job.kind
            ))),
        };
        let now = self.clock.now();
        match outcome {
            Ok(()) => {
                self.store.complete_job(&job.id, &self.worker, now).await?;
                report.done += 1;
            }
            Err(JobError::Retry(error)) if job.attempt < job.max_attempts => {
                let run_at = now + backoff_ms(job.attempt, &self.config);
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, %error, "job failed; will retry");
                self.retry(job, &error, run_at, now).await?;
                report.retried += 1;
            }
            Err(error) => {
                tracing::error!(job = %job.id, kind = %job.kind, attempt = job.attempt, %error, "job failed for good");
                self.store
                    .fail_job(&job.id, &self.worker, &error.to_string(), None, now)
                    .await?;
                report.failed += 1;
            }
        }
        Ok(())
    }

    async fn retry(
        &self,
        job: &JobRecord,
        error: &str,
        run_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.store
            .fail_job(&job.id, &self.worker, error, Some(run_at), now)
            .await
            .map(|_| ())
    }

    /// Runs due jobs until `shutdown` flips: after each pass that found work at once, else
    /// after `poll_ms` or a [`JobRunner::wake`]. A store error is logged and retried at the
    /// next poll.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_ms);
        loop {
            let busy = match self.run_due().await {
                Ok(report) => report != PassReport::default(),
                Err(error) => {
                    tracing::error!(%error, "could not run jobs");
                    false
                }
            };
            if busy {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let config = JobsConfig {
            backoff_base_ms: 1_000,
            backoff_max_ms: 10_000,
            ..JobsConfig::default()
        };
        let waits: Vec<i64> = (1..=6).map(|n| backoff_ms(n, &config)).collect();
        assert_eq!(waits, vec![1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(
            backoff_ms(200, &config),
            10_000,
            "no overflow far past the cap"
        );
    }
}

//! Agent accounts, their sessions and uploaded files on PostgreSQL ([`AccountStore`] and
//! [`AttachmentStore`] for [`PostgresStore`]).

use async_trait::async_trait;
use natter_protocol::agent::AgentProfile;
use natter_protocol::{AgentId, AttachmentId, UnixMillis};
use sqlx::Row;
use uuid::Uuid;

use super::error::run;
use super::rows::{agent_from_row, role_name, AGENT_COLUMNS};
use super::PostgresStore;
use crate::store::{
    AccountStore, AgentRecord, AttachmentRecord, AttachmentStore, NewAgent, NewAttachment,
    SessionRecord, StoreError,
};

/// A session is extended at most this often, so reads do not turn every request into a write.
const EXTEND_EVERY_MS: i64 = 60_000;

#[async_trait]
impl AccountStore for PostgresStore {
    async fn agent_count(&self) -> Result<u64, StoreError> {
        run(async {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents")
                .fetch_one(&self.pool)
                .await?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    async fn create_agent(&self, agent: NewAgent) -> Result<AgentRecord, StoreError> {
        run(async {
            let id = AgentId(Uuid::new_v4());
            // The unique index on lower(email) turns a second account for the same address,
            // in any case, into `Duplicate`.
            sqlx::query(
                "INSERT INTO agents (id, email, name, password_hash, role, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.0.to_string())
            .bind(&agent.email)
            .bind(&agent.name)
            .bind(&agent.password_hash)
            .bind(role_name(agent.role))
            .bind(agent.now)
            .execute(&self.pool)
            .await?;
            Ok(AgentRecord {
                profile: AgentProfile {
                    id,
                    email: agent.email,
                    name: agent.name,
                    role: agent.role,
                },
                password_hash: agent.password_hash,
                disabled: false,
            })
        })
        .await
    }

    async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>, StoreError> {
        run(async {
            let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE lower(email) = lower($1)");
            let row = sqlx::query(&sql)
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(agent_from_row).transpose()
        })
        .await
    }

    async fn create_session(
        &self,
        token_hash: &str,
        agent: &AgentProfile,
        csrf_token: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<(), StoreError> {
        run(async {
            sqlx::query(
                "INSERT INTO agent_sessions (token_hash, agent_id, csrf_token, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(agent.id.0.to_string())
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        token_hash: &str,
        now: UnixMillis,
        extend_to: UnixMillis,
    ) -> Result<Option<SessionRecord>, StoreError> {
        run(async {
            let agent_columns = AGENT_COLUMNS
                .split(", ")
                .map(|column| format!("a.{column}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {agent_columns}, s.csrf_token, s.expires_at FROM agent_sessions s
                 JOIN agents a ON a.id = s.agent_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT a.disabled"
            );
            let Some(row) = sqlx::query(&sql)
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?
            else {
                return Ok(None);
            };
            let expires_at: i64 = row.try_get("expires_at")?;
            if extend_to - expires_at > EXTEND_EVERY_MS {
                sqlx::query("UPDATE agent_sessions SET expires_at = $2 WHERE token_hash = $1")
                    .bind(token_hash)
                    .bind(extend_to)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(Some(SessionRecord {
                agent: agent_from_row(&row)?,
                csrf_token: row.try_get("csrf_token")?,
            }))
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        run(async {
            sqlx::query("DELETE FROM agent_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AttachmentStore for PostgresStore {
    async fn create_attachment(&self, attachment: NewAttachment) -> Result<(), StoreError> {
        run(async {
            sqlx::query(
                "INSERT INTO attachments
                     (id, conversation_id, access_token, name, content_type, size, uploaded_by,
                      created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(attachment.id.0.to_string())
            .bind(attachment.conversation_id.0.to_string())
            .bind(&attachment.access_token)
            .bind(&attachment.name)
            .bind(&attachment.content_type)
            .bind(i64::try_from(attachment.size).unwrap_or(i64::MAX))
            .bind(attachment.uploaded_by.as_str())
            .bind(attachment.now)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn attachment(&self, id: AttachmentId) -> Result<Option<AttachmentRecord>, StoreError> {
        run(async {
            let row = sqlx::query(
                "SELECT access_token, name, content_type FROM attachments WHERE id = $1",
            )
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
            row.map(|row| {
                Ok(AttachmentRecord {
                    access_token: row.try_get("access_token")?,
                    name: row.try_get("name")?,
                    content_type: row.try_get("content_type")?,
                })
            })
            .transpose()
        })
        .await
    }
}

//! The inbox's SQLite queries ([`InboxStore`] for [`SqliteStore`]).

use async_trait::async_trait;
use natter_protocol::agent::{
    AgentMessage, AuditEntry, ContactBrief, ContactId, ContactInfo, ConversationStatus, Delivery,
    Group, GroupId, SavedResponse, SavedResponseId, SavedResponseInput,
};
use natter_protocol::{AgentId, ConversationId, UnixMillis};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::search::fts_query;
use super::{
    agent_from_row, channel_name, conversation_from_row, message_from_row, parse_channel,
    parse_uuid, role_name, SqliteStore, AGENT_COLUMNS, MESSAGE_COLUMNS,
};
use crate::store::mail::delivery_state_from_name;
use crate::store::{
    AgentChanges, AgentRecord, AssigneeScope, ContactChanges, ConversationRecord, InboxStore,
    ListQuery, NewAuditEntry, StoreError,
};

/// A conversation with its inbox state and its contact.
const INBOX_SELECT: &str =
    "SELECT c.id, c.site, c.visitor_id, c.external_thread_id, c.last_seq, c.last_activity_at,
        c.last_message_preview, c.created_at, c.status, c.assigned_agent_id, c.assigned_group_id,
        c.unread, c.awaiting_reply_since, c.blocked, c.channel,
        k.id AS contact_id, k.email AS contact_email, k.name AS contact_name,
        k.email_verified AS contact_verified
    FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id";

/// Above this many full-text hits, a search walks the list in activity order instead of
/// sorting every hit (measured with `cargo xtask bench inbox`: the break-even at 100 000
/// conversations is near 1 000 hits).
const SEARCH_WALK_ABOVE_HITS: i64 = 1_000;

const CONTACT_COLUMNS: &str =
    "k.id, k.email, k.email_verified, k.name, k.phone, k.company, k.blocked_at, \
     k.email_bouncing_since";

fn optional_uuid(row: &SqliteRow, column: &str) -> Result<Option<Uuid>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        Uuid::parse_str(&text).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
    })
    .transpose()
}

fn inbox_from_row(row: &SqliteRow) -> Result<ConversationRecord, StoreError> {
    let mut record = conversation_from_row(row)?;
    let state = &mut record.summary.state;
    let status: String = row.try_get("status")?;
    state.status = match status.as_str() {
        "complete" => ConversationStatus::Complete,
        _ => ConversationStatus::Open,
    };
    state.assigned_agent = optional_uuid(row, "assigned_agent_id")?.map(AgentId);
    state.assigned_group = optional_uuid(row, "assigned_group_id")?.map(GroupId);
    state.unread = row.try_get::<i64, _>("unread")? != 0;
    state.awaiting_reply_since = row.try_get("awaiting_reply_since")?;
    state.blocked = row.try_get::<i64, _>("blocked")? != 0;
    state.channel = parse_channel(&row.try_get::<String, _>("channel")?)?;
    state.contact = match optional_uuid(row, "contact_id")? {
        Some(id) => Some(ContactBrief {
            id: ContactId(id),
            email: row.try_get("contact_email")?,
            name: row.try_get("contact_name")?,
            email_verified: row.try_get::<Option<i64>, _>("contact_verified")? == Some(1),
        }),
        None => None,
    };
    Ok(record)
}

pub(super) fn contact_from_row(row: &SqliteRow) -> Result<ContactInfo, StoreError> {
    Ok(ContactInfo {
        id: ContactId(parse_uuid(row, "id")?),
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        company: row.try_get("company")?,
        blocked: row.try_get::<Option<i64>, _>("blocked_at")?.is_some(),
        email_bouncing: row
            .try_get::<Option<i64>, _>("email_bouncing_since")?
            .is_some(),
    })
}

/// The `delivery_*` columns of a message joined with `message_deliveries`.
fn delivery_from_row(row: &SqliteRow) -> Result<Option<Delivery>, StoreError> {
    let Some(state) = row.try_get::<Option<String>, _>("delivery_state")? else {
        return Ok(None);
    };
    let state = delivery_state_from_name(&state)?;
    Ok(Some(Delivery {
        state,
        detail: row.try_get("delivery_detail")?,
        updated_at: row.try_get("delivery_updated_at")?,
    }))
}

fn status_name(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Complete => "complete",
    }
}

/// A value bound to a dynamically built query.
enum Bind {
    Text(String),
    Int(i64),
}

impl SqliteStore {
    async fn group_members(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT group_id, agent_id FROM agent_group_members")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn inbox_conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        let sql = format!("{INBOX_SELECT} WHERE c.id = ?1");
        let row = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(inbox_from_row).transpose()
    }

    async fn inbox_list(&self, query: &ListQuery) -> Result<Vec<ConversationRecord>, StoreError> {
        let mut sql = format!("{INBOX_SELECT} WHERE c.last_seq > 0 AND c.blocked = ?");
        let mut binds = vec![Bind::Int(i64::from(query.blocked))];
        if let Some(status) = query.status {
            sql.push_str(" AND c.status = ?");
            binds.push(Bind::Text(status_name(status).into()));
        }
        if let Some(channel) = query.channel {
            sql.push_str(" AND c.channel = ?");
            binds.push(Bind::Text(channel_name(channel).into()));
        }
        match query.assignee {
            AssigneeScope::All => {}
            AssigneeScope::Unassigned => {
                sql.push_str(" AND c.assigned_agent_id IS NULL AND c.assigned_group_id IS NULL")
            }
            AssigneeScope::Mine(agent) => {
                sql.push_str(
                    " AND (c.assigned_agent_id = ? OR (c.assigned_agent_id IS NULL AND
                     c.assigned_group_id IN (SELECT group_id FROM agent_group_members
                                             WHERE agent_id = ?)))",
                );
                binds.push(Bind::Text(agent.0.to_string()));
                binds.push(Bind::Text(agent.0.to_string()));
            }
        }
        if let Some(typed) = &query.search {
            // Only punctuation: nothing can match.
            let Some(search) = fts_query(typed) else {
                return Ok(Vec::new());
            };
            // Few hits: look them up by id and sort them. Many hits: walk the list in activity
            // order and stop at the page's end (`+` keeps SQLite off the id index).
            let hits: i64 = sqlx::query_scalar(
                "SELECT (SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1)
                      + (SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH ?1)",
            )
            .bind(&search)
            .fetch_one(&self.pool)
            .await?;
            let walk = if hits > SEARCH_WALK_ABOVE_HITS {
                "+"
            } else {
                ""
            };
            sql.push_str(&format!(
                " AND ({walk}c.id IN (SELECT m.conversation_id FROM messages m WHERE m.rowid IN
                                (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?))
                       OR {walk}c.contact_id IN (SELECT k2.id FROM contacts k2 WHERE k2.rowid IN
                                (SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?)))"
            ));
            binds.push(Bind::Text(search.clone()));
            binds.push(Bind::Text(search.clone()));
        }
        if let Some((at, id)) = &query.after {
            sql.push_str(" AND (c.last_activity_at < ? OR (c.last_activity_at = ? AND c.id > ?))");
            binds.push(Bind::Int(*at));
            binds.push(Bind::Int(*at));
            binds.push(Bind::Text(id.clone()));
        }
        sql.push_str(" ORDER BY c.last_activity_at DESC, c.id LIMIT ?");
        binds.push(Bind::Int(i64::from(query.limit) + 1));
        let mut statement = sqlx::query(&sql);
        for bind in binds {
            statement = match bind {
                Bind::Text(text) => statement.bind(text),
                Bind::Int(int) => statement.bind(int),
            };
        }
        let rows = statement.fetch_all(&self.pool).await?;
        rows.iter().map(inbox_from_row).collect()
    }

    async fn inbox_thread(&self, id: ConversationId) -> Result<Vec<AgentMessage>, StoreError> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS}, internal, unverified_sender,
                    d.state AS delivery_state, d.detail AS delivery_detail,
                    d.updated_at AS delivery_updated_at
             FROM messages LEFT JOIN message_deliveries d ON d.message_id = messages.id
             WHERE conversation_id = ?1
             ORDER BY seq ASC"
        );
        let rows = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.fill_attachments(&mut messages).await?;
        rows.iter()
            .zip(messages)
            .map(|(row, message)| {
                Ok(AgentMessage {
                    message,
                    internal: row.try_get::<i64, _>("internal")? != 0,
                    delivery: delivery_from_row(row)?,
                    unverified_sender: row.try_get("unverified_sender")?,
                })
            })
            .collect()
    }

    async fn inbox_mark_read(&self, id: ConversationId) -> Result<bool, StoreError> {
        let changed =
            sqlx::query("UPDATE conversations SET unread = 0 WHERE id = ?1 AND unread = 1")
                .bind(id.0.to_string())
                .execute(&self.writes)
                .await?
                .rows_affected();
        Ok(changed > 0)
    }

    async fn inbox_set_status(
        &self,
        id: ConversationId,
        status: ConversationStatus,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE conversations SET status = ?2 WHERE id = ?1")
            .bind(id.0.to_string())
            .bind(status_name(status))
            .execute(&self.writes)
            .await?
            .rows_affected();
        Ok(changed > 0)
    }

    async fn inbox_assign(
        &self,
        id: ConversationId,
        agent: Option<AgentId>,
        group: Option<GroupId>,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE conversations SET assigned_agent_id = ?2, assigned_group_id = ?3 WHERE id = ?1",
        )
        .bind(id.0.to_string())
        .bind(agent.map(|a| a.0.to_string()))
        .bind(group.map(|g| g.0.to_string()))
        .execute(&self.writes)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    async fn inbox_delete_conversation(&self, id: ConversationId) -> Result<bool, StoreError> {
        let mut transaction = self.writes.begin().await?;
        // Explicitly, so the search index's delete trigger runs for every message.
        sqlx::query("DELETE FROM messages WHERE conversation_id = ?1")
            .bind(id.0.to_string())
            .execute(&mut *transaction)
            .await?;
        let deleted = sqlx::query("DELETE FROM conversations WHERE id = ?1")
            .bind(id.0.to_string())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
        transaction.commit().await?;
        Ok(deleted > 0)
    }

    async fn inbox_set_blocked(
        &self,
        id: ConversationId,
        blocked: bool,
        now: UnixMillis,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let mut transaction = self.writes.begin().await?;
        let Some((visitor_id, contact_id)): Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT visitor_id, contact_id FROM conversations WHERE id = ?1")
                .bind(id.0.to_string())
                .fetch_optional(&mut *transaction)
                .await?
        else {
            return Err(StoreError::NotFound);
        };
        let at = blocked.then_some(now);
        sqlx::query("UPDATE visitors SET blocked_at = ?2 WHERE id = ?1")
            .bind(&visitor_id)
            .bind(at)
            .execute(&mut *transaction)
            .await?;
        if let Some(contact_id) = &contact_id {
            sqlx::query("UPDATE contacts SET blocked_at = ?2 WHERE id = ?1")
                .bind(contact_id)
                .bind(at)
                .execute(&mut *transaction)
                .await?;
            // Every device of the contact.
            sqlx::query("UPDATE visitors SET blocked_at = ?2 WHERE contact_id = ?1")
                .bind(contact_id)
                .bind(at)
                .execute(&mut *transaction)
                .await?;
        }
        // Every conversation of the visitor or the contact; one with neither (an external
        // thread) is blocked on its own.
        let changed: Vec<String> = sqlx::query_scalar(
            "UPDATE conversations SET blocked = ?3
             WHERE (visitor_id = ?1 OR contact_id = ?2 OR id = ?4) AND blocked != ?3 RETURNING id",
        )
        .bind(&visitor_id)
        .bind(&contact_id)
        .bind(i64::from(blocked))
        .bind(id.0.to_string())
        .fetch_all(&mut *transaction)
        .await?;
        transaction.commit().await?;
        changed
            .iter()
            .map(|id| {
                Uuid::parse_str(id)
                    .map(ConversationId)
                    .map_err(|error| StoreError::Corrupt(format!("id: {error}")))
            })
            .collect()
    }

    async fn inbox_contact(&self, id: ConversationId) -> Result<Option<ContactInfo>, StoreError> {
        let sql = format!(
            "SELECT {CONTACT_COLUMNS} FROM conversations c JOIN contacts k ON k.id = c.contact_id
             WHERE c.id = ?1"
        );
        let row = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(contact_from_row).transpose()
    }

    async fn inbox_contact_conversations(
        &self,
        contact: ContactId,
        limit: u32,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        let sql = format!(
            "{INBOX_SELECT} WHERE c.contact_id = ?1 ORDER BY c.last_activity_at DESC LIMIT ?2"
        );
        let rows = sqlx::query(&sql)
            .bind(contact.0.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(inbox_from_row).collect()
    }

    async fn inbox_update_contact(
        &self,
        id: ConversationId,
        changes: &ContactChanges,
        now: UnixMillis,
    ) -> Result<ContactInfo, StoreError> {
        let mut transaction = self.writes.begin().await?;
        let Some((site, visitor_id, contact_id)): Option<(String, String, Option<String>)> =
            sqlx::query_as("SELECT site, visitor_id, contact_id FROM conversations WHERE id = ?1")
                .bind(id.0.to_string())
                .fetch_optional(&mut *transaction)
                .await?
        else {
            return Err(StoreError::NotFound);
        };
        let contact_id = match contact_id {
            Some(contact_id) => {
                sqlx::query(
                    "UPDATE contacts SET
                         email_bouncing_since = CASE WHEN ?2 IS NOT NULL AND ?2 != email
                                                     THEN NULL ELSE email_bouncing_since END,
                         email = COALESCE(?2, email),
                         name = CASE WHEN ?3 THEN ?4 ELSE name END,
                         phone = CASE WHEN ?5 THEN ?6 ELSE phone END,
                         company = CASE WHEN ?7 THEN ?8 ELSE company END,
                         updated_at = ?9
                     WHERE id = ?1",
                )
                .bind(&contact_id)
                .bind(&changes.email)
                .bind(changes.name.is_some())
                .bind(changes.name.clone().flatten())
                .bind(changes.phone.is_some())
                .bind(changes.phone.clone().flatten())
                .bind(changes.company.is_some())
                .bind(changes.company.clone().flatten())
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                contact_id
            }
            None => {
                let Some(email) = &changes.email else {
                    return Err(StoreError::NotFound);
                };
                let contact_id = Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO contacts (id, site, email, email_verified, name, phone, company,
                                           created_at, updated_at)
                     VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?7)",
                )
                .bind(&contact_id)
                .bind(&site)
                .bind(email)
                .bind(changes.name.clone().flatten())
                .bind(changes.phone.clone().flatten())
                .bind(changes.company.clone().flatten())
                .bind(now)
                .execute(&mut *transaction)
                .await?;
                sqlx::query("UPDATE conversations SET contact_id = ?2 WHERE id = ?1")
                    .bind(id.0.to_string())
                    .bind(&contact_id)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query(
                    "UPDATE visitors SET contact_id = ?2 WHERE id = ?1 AND contact_id IS NULL",
                )
                .bind(&visitor_id)
                .bind(&contact_id)
                .execute(&mut *transaction)
                .await?;
                contact_id
            }
        };
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts k WHERE k.id = ?1");
        let row = sqlx::query(&sql)
            .bind(&contact_id)
            .fetch_one(&mut *transaction)
            .await?;
        transaction.commit().await?;
        contact_from_row(&row)
    }

    async fn inbox_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY name COLLATE NOCASE, email");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(agent_from_row).collect()
    }

    async fn inbox_agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1");
        let row = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn inbox_update_agent(
        &self,
        id: AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let mut transaction = self.writes.begin().await?;
        let changed = sqlx::query(
            "UPDATE agents SET name = COALESCE(?2, name), role = COALESCE(?3, role),
                 disabled = COALESCE(?4, disabled), password_hash = COALESCE(?5, password_hash)
             WHERE id = ?1",
        )
        .bind(id.0.to_string())
        .bind(&changes.name)
        .bind(changes.role.map(role_name))
        .bind(changes.disabled.map(i64::from))
        .bind(&changes.password_hash)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if changes.disabled == Some(true) || changes.password_hash.is_some() {
            sqlx::query("DELETE FROM agent_sessions WHERE agent_id = ?1")
                .bind(id.0.to_string())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        if changed == 0 {
            return Ok(None);
        }
        self.inbox_agent(id).await
    }

    async fn inbox_groups(&self) -> Result<Vec<Group>, StoreError> {
        let groups: Vec<(String, String)> =
            sqlx::query_as("SELECT id, name FROM agent_groups ORDER BY name COLLATE NOCASE")
                .fetch_all(&self.pool)
                .await?;
        let members = self.group_members().await?;
        groups
            .into_iter()
            .map(|(id, name)| {
                let parse = |text: &str| {
                    Uuid::parse_str(text).map_err(|error| StoreError::Corrupt(error.to_string()))
                };
                let agents = members
                    .iter()
                    .filter(|(group, _)| *group == id)
                    .map(|(_, agent)| parse(agent).map(AgentId))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Group {
                    id: GroupId(parse(&id)?),
                    name,
                    members: agents,
                })
            })
            .collect()
    }

    async fn inbox_save_group(
        &self,
        id: Option<GroupId>,
        name: &str,
        members: &[AgentId],
        now: UnixMillis,
    ) -> Result<Option<Group>, StoreError> {
        let mut transaction = self.writes.begin().await?;
        let id = match id {
            Some(id) => {
                let changed = sqlx::query("UPDATE agent_groups SET name = ?2 WHERE id = ?1")
                    .bind(id.0.to_string())
                    .bind(name)
                    .execute(&mut *transaction)
                    .await?
                    .rows_affected();
                if changed == 0 {
                    return Ok(None);
                }
                sqlx::query("DELETE FROM agent_group_members WHERE group_id = ?1")
                    .bind(id.0.to_string())
                    .execute(&mut *transaction)
                    .await?;
                id
            }
            None => {
                let id = GroupId(Uuid::new_v4());
                sqlx::query("INSERT INTO agent_groups (id, name, created_at) VALUES (?1, ?2, ?3)")
                    .bind(id.0.to_string())
                    .bind(name)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await?;
                id
            }
        };
        for member in members {
            sqlx::query(
                "INSERT OR IGNORE INTO agent_group_members (group_id, agent_id) VALUES (?1, ?2)",
            )
            .bind(id.0.to_string())
            .bind(member.0.to_string())
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(self.inbox_groups().await?.into_iter().find(|g| g.id == id))
    }

    async fn inbox_waiting_count(&self, agent: AgentId) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM conversations c
             WHERE c.status = 'open' AND c.blocked = 0 AND c.awaiting_reply_since IS NOT NULL
               AND (c.assigned_agent_id = ?1
                    OR (c.assigned_agent_id IS NULL AND (c.assigned_group_id IS NULL
                        OR c.assigned_group_id IN (SELECT group_id FROM agent_group_members
                                                   WHERE agent_id = ?1))))",
        )
        .bind(agent.0.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(count.max(0) as u64)
    }

    async fn saved_responses(&self) -> Result<Vec<SavedResponse>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, category, title, body, subject, updated_at FROM saved_responses
             ORDER BY category COLLATE NOCASE, title COLLATE NOCASE",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SavedResponse {
                    id: SavedResponseId(parse_uuid(row, "id")?),
                    category: row.try_get("category")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    subject: row.try_get("subject")?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }

    async fn save_saved_response(
        &self,
        id: Option<SavedResponseId>,
        input: &SavedResponseInput,
        now: UnixMillis,
    ) -> Result<Option<SavedResponse>, StoreError> {
        let id = match id {
            Some(id) => {
                let changed = sqlx::query(
                    "UPDATE saved_responses
                     SET category = ?2, title = ?3, body = ?4, updated_at = ?5, subject = ?6
                     WHERE id = ?1",
                )
                .bind(id.0.to_string())
                .bind(&input.category)
                .bind(&input.title)
                .bind(&input.body)
                .bind(now)
                .bind(&input.subject)
                .execute(&self.writes)
                .await?
                .rows_affected();
                if changed == 0 {
                    return Ok(None);
                }
                id
            }
            None => {
                let id = SavedResponseId(Uuid::new_v4());
                sqlx::query(
                    "INSERT INTO saved_responses
                         (id, category, title, body, created_at, updated_at, subject)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                )
                .bind(id.0.to_string())
                .bind(&input.category)
                .bind(&input.title)
                .bind(&input.body)
                .bind(now)
                .bind(&input.subject)
                .execute(&self.writes)
                .await?;
                id
            }
        };
        Ok(Some(SavedResponse {
            id,
            category: input.category.clone(),
            title: input.title.clone(),
            body: input.body.clone(),
            subject: input.subject.clone(),
            updated_at: now,
        }))
    }

    async fn delete_saved_response(&self, id: SavedResponseId) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM saved_responses WHERE id = ?1")
            .bind(id.0.to_string())
            .execute(&self.writes)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor_id, actor_name, action, subject, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(entry.at)
        .bind(entry.actor.0.to_string())
        .bind(&entry.actor_name)
        .bind(entry.action)
        .bind(&entry.subject)
        .bind(&entry.details)
        .execute(&self.writes)
        .await?;
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_id, actor_name, action, subject, details FROM audit_log
             ORDER BY id DESC LIMIT ?1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: AgentId(parse_uuid(row, "actor_id")?),
                    actor_name: row.try_get("actor_name")?,
                    action: row.try_get("action")?,
                    subject: row.try_get("subject")?,
                    details: row.try_get("details")?,
                })
            })
            .collect()
    }

    async fn inbox_is_blocked(&self, id: ConversationId) -> Result<bool, StoreError> {
        let blocked: Option<i64> =
            sqlx::query_scalar("SELECT blocked FROM conversations WHERE id = ?1")
                .bind(id.0.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(blocked == Some(1))
    }
}

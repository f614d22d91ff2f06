//! The inbox's PostgreSQL queries ([`InboxStore`] for [`PostgresStore`]).
//!
//! Names sort as SQLite's `NOCASE` does: `lower(…)` compared byte by byte (`COLLATE "C"`),
//! so the order does not depend on the database's locale.

use async_trait::async_trait;
use natter_protocol::agent::{
    AgentMessage, AuditEntry, ContactId, ContactInfo, ConversationStatus, Group, GroupId,
    SavedResponse, SavedResponseId, SavedResponseInput,
};
use natter_protocol::{AgentId, ConversationId, UnixMillis};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use super::error::{run, Outcome};
use super::mail::delivery_from_row;
use super::rows::{
    agent_from_row, channel_name, contact_from_row, inbox_from_row, message_from_row, parse_uuid,
    role_name, status_name, uuid_from, AGENT_COLUMNS, CONTACT_COLUMNS, INBOX_SELECT,
    MESSAGE_COLUMNS,
};
use super::search::ts_query;
use super::PostgresStore;
use crate::store::{
    AgentChanges, AgentRecord, AssigneeScope, ContactChanges, ConversationRecord, InboxStore,
    ListQuery, NewAuditEntry, StoreError,
};

/// Adds the list's filters to `sql`. Returns `false` when the search has no word (only
/// punctuation), so nothing can match.
fn push_list_filters(sql: &mut QueryBuilder<'_, Postgres>, query: &ListQuery) -> bool {
    sql.push(" WHERE c.last_seq > 0 AND c.blocked = ")
        .push_bind(query.blocked);
    if let Some(status) = query.status {
        sql.push(" AND c.status = ").push_bind(status_name(status));
    }
    if let Some(channel) = query.channel {
        sql.push(" AND c.channel = ")
            .push_bind(channel_name(channel));
    }
    match query.assignee {
        AssigneeScope::All => {}
        AssigneeScope::Unassigned => {
            sql.push(" AND c.assigned_agent_id IS NULL AND c.assigned_group_id IS NULL");
        }
        AssigneeScope::Mine(agent) => {
            let agent = agent.0.to_string();
            sql.push(" AND (c.assigned_agent_id = ")
                .push_bind(agent.clone())
                .push(
                    " OR (c.assigned_agent_id IS NULL AND c.assigned_group_id IN
                         (SELECT group_id FROM agent_group_members WHERE agent_id = ",
                )
                .push_bind(agent)
                .push(")))");
        }
    }
    if let Some(typed) = &query.search {
        let Some(search) = ts_query(typed) else {
            return false;
        };
        // A message of the conversation (internal comments included: agents search), or its
        // contact's details, has every word.
        sql.push(
            " AND (c.id IN (SELECT m.conversation_id FROM messages m
                            WHERE m.search @@ to_tsquery('simple', ",
        )
        .push_bind(search.clone())
        .push(
            "))
                   OR c.contact_id IN (SELECT k2.id FROM contacts k2
                                       WHERE k2.search @@ to_tsquery('simple', ",
        )
        .push_bind(search)
        .push(")))");
    }
    if let Some((at, id)) = &query.after {
        sql.push(" AND (c.last_activity_at < ")
            .push_bind(*at)
            .push(" OR (c.last_activity_at = ")
            .push_bind(*at)
            .push(" AND c.id > ")
            .push_bind(id.clone())
            .push("))");
    }
    true
}

impl PostgresStore {
    async fn group_members(&self) -> Outcome<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT group_id, agent_id FROM agent_group_members")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn find_inbox_conversation(
        &self,
        id: ConversationId,
    ) -> Outcome<Option<ConversationRecord>> {
        let sql = format!("{INBOX_SELECT} WHERE c.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(inbox_from_row).transpose()
    }

    async fn find_agent(&self, id: AgentId) -> Outcome<Option<AgentRecord>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    async fn all_groups(&self) -> Outcome<Vec<Group>> {
        let groups: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM agent_groups ORDER BY lower(name) COLLATE \"C\", id",
        )
        .fetch_all(&self.pool)
        .await?;
        let members = self.group_members().await?;
        groups
            .into_iter()
            .map(|(id, name)| {
                let agents = members
                    .iter()
                    .filter(|(group, _)| *group == id)
                    .map(|(_, agent)| uuid_from(agent, "agent_id").map(AgentId))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Group {
                    id: GroupId(uuid_from(&id, "group id")?),
                    name,
                    members: agents,
                })
            })
            .collect()
    }
}

#[async_trait]
impl InboxStore for PostgresStore {
    async fn inbox_conversation(
        &self,
        id: ConversationId,
    ) -> Result<Option<ConversationRecord>, StoreError> {
        run(self.find_inbox_conversation(id)).await
    }

    async fn inbox_list(&self, query: &ListQuery) -> Result<Vec<ConversationRecord>, StoreError> {
        run(async {
            let mut sql = QueryBuilder::<Postgres>::new(INBOX_SELECT);
            if !push_list_filters(&mut sql, query) {
                return Ok(Vec::new());
            }
            sql.push(" ORDER BY c.last_activity_at DESC, c.id LIMIT ")
                .push_bind(i64::from(query.limit) + 1);
            let rows = sql.build().fetch_all(&self.pool).await?;
            rows.iter().map(inbox_from_row).collect()
        })
        .await
    }

    async fn inbox_thread(&self, id: ConversationId) -> Result<Vec<AgentMessage>, StoreError> {
        run(async {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS}, internal, unverified_sender,
                        d.state AS delivery_state, d.detail AS delivery_detail,
                        d.updated_at AS delivery_updated_at
                 FROM messages LEFT JOIN message_deliveries d ON d.message_id = messages.id
                 WHERE conversation_id = $1
                 ORDER BY seq ASC"
            );
            let rows = sqlx::query(&sql)
                .bind(id.0.to_string())
                .fetch_all(&self.pool)
                .await?;
            let mut messages = rows
                .iter()
                .map(message_from_row)
                .collect::<Outcome<Vec<_>>>()?;
            self.fill_attachments(&mut messages).await?;
            rows.iter()
                .zip(messages)
                .map(|(row, message)| {
                    Ok(AgentMessage {
                        message,
                        internal: row.try_get("internal")?,
                        delivery: delivery_from_row(row)?,
                        unverified_sender: row.try_get("unverified_sender")?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn inbox_mark_read(&self, id: ConversationId) -> Result<bool, StoreError> {
        run(async {
            let changed =
                sqlx::query("UPDATE conversations SET unread = FALSE WHERE id = $1 AND unread")
                    .bind(id.0.to_string())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
            Ok(changed > 0)
        })
        .await
    }

    async fn inbox_set_status(
        &self,
        id: ConversationId,
        status: ConversationStatus,
    ) -> Result<bool, StoreError> {
        run(async {
            let changed = sqlx::query("UPDATE conversations SET status = $2 WHERE id = $1")
                .bind(id.0.to_string())
                .bind(status_name(status))
                .execute(&self.pool)
                .await?
                .rows_affected();
            Ok(changed > 0)
        })
        .await
    }

    async fn inbox_assign(
        &self,
        id: ConversationId,
        agent: Option<AgentId>,
        group: Option<GroupId>,
    ) -> Result<bool, StoreError> {
        run(async {
            let changed = sqlx::query(
                "UPDATE conversations SET assigned_agent_id = $2, assigned_group_id = $3
                 WHERE id = $1",
            )
            .bind(id.0.to_string())
            .bind(agent.map(|a| a.0.to_string()))
            .bind(group.map(|g| g.0.to_string()))
            .execute(&self.pool)
            .await?
            .rows_affected();
            Ok(changed > 0)
        })
        .await
    }

    async fn inbox_delete_conversation(&self, id: ConversationId) -> Result<bool, StoreError> {
        run(async {
            // Messages (with their search entries) and files go with it (ON DELETE CASCADE).
            let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1")
                .bind(id.0.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected();
            Ok(deleted > 0)
        })
        .await
    }

    async fn inbox_set_blocked(
        &self,
        id: ConversationId,
        blocked: bool,
        now: UnixMillis,
    ) -> Result<Vec<ConversationId>, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let changed = set_blocked(&mut transaction, id, blocked, now).await?;
            transaction.commit().await?;
            changed
                .iter()
                .map(|id| Ok(ConversationId(uuid_from(id, "id")?)))
                .collect()
        })
        .await
    }

    async fn inbox_contact(&self, id: ConversationId) -> Result<Option<ContactInfo>, StoreError> {
        run(async {
            let sql = format!(
                "SELECT {CONTACT_COLUMNS} FROM conversations c
                 JOIN contacts k ON k.id = c.contact_id WHERE c.id = $1"
            );
            let row = sqlx::query(&sql)
                .bind(id.0.to_string())
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(contact_from_row).transpose()
        })
        .await
    }

    async fn inbox_contact_conversations(
        &self,
        contact: ContactId,
        limit: u32,
    ) -> Result<Vec<ConversationRecord>, StoreError> {
        run(async {
            let sql = format!(
                "{INBOX_SELECT} WHERE c.contact_id = $1
                 ORDER BY c.last_activity_at DESC LIMIT $2"
            );
            let rows = sqlx::query(&sql)
                .bind(contact.0.to_string())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(inbox_from_row).collect()
        })
        .await
    }

    async fn inbox_update_contact(
        &self,
        id: ConversationId,
        changes: &ContactChanges,
        now: UnixMillis,
    ) -> Result<ContactInfo, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let contact = update_contact(&mut transaction, id, changes, now).await?;
            transaction.commit().await?;
            Ok(contact)
        })
        .await
    }

    async fn inbox_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        run(async {
            let sql = format!(
                "SELECT {AGENT_COLUMNS} FROM agents ORDER BY lower(name) COLLATE \"C\", email"
            );
            let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
            rows.iter().map(agent_from_row).collect()
        })
        .await
    }

    async fn inbox_agent(&self, id: AgentId) -> Result<Option<AgentRecord>, StoreError> {
        run(self.find_agent(id)).await
    }

    async fn inbox_update_agent(
        &self,
        id: AgentId,
        changes: &AgentChanges,
    ) -> Result<Option<AgentRecord>, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE agents SET name = COALESCE($2, name), role = COALESCE($3, role),
                     disabled = COALESCE($4, disabled),
                     password_hash = COALESCE($5, password_hash)
                 WHERE id = $1",
            )
            .bind(id.0.to_string())
            .bind(&changes.name)
            .bind(changes.role.map(role_name))
            .bind(changes.disabled)
            .bind(&changes.password_hash)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            // A disabled account, or a new password, ends every session of the account.
            if changes.disabled == Some(true) || changes.password_hash.is_some() {
                sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1")
                    .bind(id.0.to_string())
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            if changed == 0 {
                return Ok(None);
            }
            self.find_agent(id).await
        })
        .await
    }

    async fn inbox_groups(&self) -> Result<Vec<Group>, StoreError> {
        run(self.all_groups()).await
    }

    async fn inbox_save_group(
        &self,
        id: Option<GroupId>,
        name: &str,
        members: &[AgentId],
        now: UnixMillis,
    ) -> Result<Option<Group>, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let Some(id) = save_group(&mut transaction, id, name, members, now).await? else {
                return Ok(None);
            };
            transaction.commit().await?;
            Ok(self.all_groups().await?.into_iter().find(|g| g.id == id))
        })
        .await
    }

    async fn inbox_waiting_count(&self, agent: AgentId) -> Result<u64, StoreError> {
        run(async {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM conversations c
                 WHERE c.status = 'open' AND NOT c.blocked AND c.awaiting_reply_since IS NOT NULL
                   AND (c.assigned_agent_id = $1
                        OR (c.assigned_agent_id IS NULL AND (c.assigned_group_id IS NULL
                            OR c.assigned_group_id IN (SELECT group_id FROM agent_group_members
                                                       WHERE agent_id = $1))))",
            )
            .bind(agent.0.to_string())
            .fetch_one(&self.pool)
            .await?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    async fn saved_responses(&self) -> Result<Vec<SavedResponse>, StoreError> {
        run(async {
            let rows = sqlx::query(
                "SELECT id, category, title, body, subject, updated_at FROM saved_responses
                 ORDER BY lower(category) COLLATE \"C\", lower(title) COLLATE \"C\", id",
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
        })
        .await
    }

    async fn save_saved_response(
        &self,
        id: Option<SavedResponseId>,
        input: &SavedResponseInput,
        now: UnixMillis,
    ) -> Result<Option<SavedResponse>, StoreError> {
        run(async {
            let id = match id {
                Some(id) => {
                    let changed = sqlx::query(
                        "UPDATE saved_responses SET category = $2, title = $3, body = $4,
                             updated_at = $5, subject = $6
                         WHERE id = $1",
                    )
                    .bind(id.0.to_string())
                    .bind(&input.category)
                    .bind(&input.title)
                    .bind(&input.body)
                    .bind(now)
                    .bind(&input.subject)
                    .execute(&self.pool)
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
                         VALUES ($1, $2, $3, $4, $5, $5, $6)",
                    )
                    .bind(id.0.to_string())
                    .bind(&input.category)
                    .bind(&input.title)
                    .bind(&input.body)
                    .bind(now)
                    .bind(&input.subject)
                    .execute(&self.pool)
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
        })
        .await
    }

    async fn delete_saved_response(&self, id: SavedResponseId) -> Result<bool, StoreError> {
        run(async {
            let deleted = sqlx::query("DELETE FROM saved_responses WHERE id = $1")
                .bind(id.0.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected();
            Ok(deleted > 0)
        })
        .await
    }

    async fn audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        run(async {
            sqlx::query(
                "INSERT INTO audit_log (at, actor_id, actor_name, action, subject, details)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(entry.at)
            .bind(entry.actor.0.to_string())
            .bind(&entry.actor_name)
            .bind(entry.action)
            .bind(&entry.subject)
            .bind(&entry.details)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        run(async {
            let rows = sqlx::query(
                "SELECT id, at, actor_id, actor_name, action, subject, details FROM audit_log
                 ORDER BY id DESC LIMIT $1",
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
        })
        .await
    }

    async fn inbox_is_blocked(&self, id: ConversationId) -> Result<bool, StoreError> {
        run(async {
            let blocked: Option<bool> =
                sqlx::query_scalar("SELECT blocked FROM conversations WHERE id = $1")
                    .bind(id.0.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(blocked == Some(true))
        })
        .await
    }
}

/// Blocks or unblocks the conversation's visitor and contact (every device of the contact)
/// and every conversation of theirs; one with neither (an external thread) on its own.
/// Returns the ids of the conversations that changed.
async fn set_blocked(
    connection: &mut PgConnection,
    id: ConversationId,
    blocked: bool,
    now: UnixMillis,
) -> Outcome<Vec<String>> {
    let owner: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT visitor_id, contact_id FROM conversations WHERE id = $1")
            .bind(id.0.to_string())
            .fetch_optional(&mut *connection)
            .await?;
    let (visitor_id, contact_id) = owner.ok_or(StoreError::NotFound)?;
    let at = blocked.then_some(now);
    sqlx::query("UPDATE visitors SET blocked_at = $2 WHERE id = $1")
        .bind(&visitor_id)
        .bind(at)
        .execute(&mut *connection)
        .await?;
    if let Some(contact_id) = &contact_id {
        sqlx::query("UPDATE contacts SET blocked_at = $2 WHERE id = $1")
            .bind(contact_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
        sqlx::query("UPDATE visitors SET blocked_at = $2 WHERE contact_id = $1")
            .bind(contact_id)
            .bind(at)
            .execute(&mut *connection)
            .await?;
    }
    Ok(sqlx::query_scalar(
        "UPDATE conversations SET blocked = $3
         WHERE (visitor_id = $1 OR contact_id = $2 OR id = $4) AND blocked <> $3
         RETURNING id",
    )
    .bind(&visitor_id)
    .bind(&contact_id)
    .bind(blocked)
    .bind(id.0.to_string())
    .fetch_all(connection)
    .await?)
}

/// Edits the conversation's contact, or creates an unverified one (then `email` is required)
/// and links the conversation and its visitor, if it has one, to it.
async fn update_contact(
    connection: &mut PgConnection,
    id: ConversationId,
    changes: &ContactChanges,
    now: UnixMillis,
) -> Outcome<ContactInfo> {
    let owner: Option<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT site, visitor_id, contact_id FROM conversations WHERE id = $1")
            .bind(id.0.to_string())
            .fetch_optional(&mut *connection)
            .await?;
    let (site, visitor_id, contact_id) = owner.ok_or(StoreError::NotFound)?;
    let contact_id = match contact_id {
        Some(contact_id) => {
            edit_contact(&mut *connection, &contact_id, changes, now).await?;
            contact_id
        }
        None => {
            let email = changes.email.as_ref().ok_or(StoreError::NotFound)?;
            let contact_id = create_contact(&mut *connection, &site, email, changes, now).await?;
            sqlx::query("UPDATE conversations SET contact_id = $2 WHERE id = $1")
                .bind(id.0.to_string())
                .bind(&contact_id)
                .execute(&mut *connection)
                .await?;
            sqlx::query("UPDATE visitors SET contact_id = $2 WHERE id = $1 AND contact_id IS NULL")
                .bind(&visitor_id)
                .bind(&contact_id)
                .execute(&mut *connection)
                .await?;
            contact_id
        }
    };
    let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts k WHERE k.id = $1");
    let row = sqlx::query(&sql)
        .bind(&contact_id)
        .fetch_one(connection)
        .await?;
    contact_from_row(&row)
}

/// Applies the changes field by field: unchanged, cleared or set.
async fn edit_contact(
    connection: &mut PgConnection,
    contact_id: &str,
    changes: &ContactChanges,
    now: UnixMillis,
) -> Outcome<()> {
    sqlx::query(
        "UPDATE contacts SET
             -- A new address is no longer known to bounce (the old one did).
             email_bouncing_since = CASE WHEN $2 IS NOT NULL AND lower($2) <> lower(email)
                                         THEN NULL ELSE email_bouncing_since END,
             email = COALESCE($2, email),
             name = CASE WHEN $3 THEN $4 ELSE name END,
             phone = CASE WHEN $5 THEN $6 ELSE phone END,
             company = CASE WHEN $7 THEN $8 ELSE company END,
             updated_at = $9
         WHERE id = $1",
    )
    .bind(contact_id)
    .bind(&changes.email)
    .bind(changes.name.is_some())
    .bind(changes.name.clone().flatten())
    .bind(changes.phone.is_some())
    .bind(changes.phone.clone().flatten())
    .bind(changes.company.is_some())
    .bind(changes.company.clone().flatten())
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// A new unverified contact from an agent's edit. Returns its id.
async fn create_contact(
    connection: &mut PgConnection,
    site: &str,
    email: &str,
    changes: &ContactChanges,
    now: UnixMillis,
) -> Outcome<String> {
    let contact_id = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO contacts
             (id, site, email, email_verified, name, phone, company, created_at, updated_at)
         VALUES ($1, $2, $3, FALSE, $4, $5, $6, $7, $7)",
    )
    .bind(&contact_id)
    .bind(site)
    .bind(email)
    .bind(changes.name.clone().flatten())
    .bind(changes.phone.clone().flatten())
    .bind(changes.company.clone().flatten())
    .bind(now)
    .execute(connection)
    .await?;
    Ok(contact_id)
}

/// Renames a group and replaces its members, or creates it. Returns its id, or `None` when
/// there is no group with `id`.
async fn save_group(
    connection: &mut PgConnection,
    id: Option<GroupId>,
    name: &str,
    members: &[AgentId],
    now: UnixMillis,
) -> Outcome<Option<GroupId>> {
    let id = match id {
        Some(id) => {
            let changed = sqlx::query("UPDATE agent_groups SET name = $2 WHERE id = $1")
                .bind(id.0.to_string())
                .bind(name)
                .execute(&mut *connection)
                .await?
                .rows_affected();
            if changed == 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM agent_group_members WHERE group_id = $1")
                .bind(id.0.to_string())
                .execute(&mut *connection)
                .await?;
            id
        }
        None => {
            let id = GroupId(Uuid::new_v4());
            sqlx::query("INSERT INTO agent_groups (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id.0.to_string())
                .bind(name)
                .bind(now)
                .execute(&mut *connection)
                .await?;
            id
        }
    };
    let members: Vec<String> = members.iter().map(|agent| agent.0.to_string()).collect();
    sqlx::query(
        "INSERT INTO agent_group_members (group_id, agent_id)
         SELECT $1, agent_id FROM UNNEST($2::text[]) AS agent_id
         ON CONFLICT DO NOTHING",
    )
    .bind(id.0.to_string())
    .bind(&members)
    .execute(connection)
    .await?;
    Ok(Some(id))
}

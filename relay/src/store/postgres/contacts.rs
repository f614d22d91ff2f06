//! Visitors and the contacts they are known as, on PostgreSQL ([`ContactStore`] for
//! [`PostgresStore`]). Emails compare in any case (`lower(email)`), as SQLite's `NOCASE` does.

use async_trait::async_trait;
use natter_protocol::UnixMillis;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::error::{run, Outcome};
use super::PostgresStore;
use crate::identity::VisitorId;
use crate::store::{ContactDetails, ContactRecord, ContactStore, StoreError};

/// How stale a visitor's `last_seen_at` may be before a hello writes it again.
const LAST_SEEN_RESOLUTION_MS: i64 = 15 * 60 * 1000;

#[async_trait]
impl ContactStore for PostgresStore {
    async fn touch_visitor(
        &self,
        site: &str,
        visitor: &VisitorId,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        run(async {
            // Every hello touches the visitor, and a reconnect storm is many hellos: a known,
            // recently seen visitor costs a read, not a commit and its WAL flush.
            let known: Option<(Option<i64>, i64)> =
                sqlx::query_as("SELECT forgotten_at, last_seen_at FROM visitors WHERE id = $1")
                    .bind(&visitor.0)
                    .fetch_optional(&self.pool)
                    .await?;
            match known {
                Some((Some(_forgotten), _)) => return Ok(false),
                Some((None, last_seen)) if now - last_seen < LAST_SEEN_RESOLUTION_MS => {
                    return Ok(true)
                }
                _ => {}
            }
            let forgotten: Option<Option<i64>> = sqlx::query_scalar(
                "INSERT INTO visitors (id, site, created_at, last_seen_at) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at
                 RETURNING forgotten_at",
            )
            .bind(&visitor.0)
            .bind(site)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            Ok(!matches!(forgotten, Some(Some(_))))
        })
        .await
    }

    async fn link_verified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let contact_id = upsert_verified(&mut transaction, site, details, now).await?;
            sqlx::query("UPDATE visitors SET contact_id = $2 WHERE id = $1")
                .bind(&visitor.0)
                .bind(&contact_id)
                .execute(&mut *transaction)
                .await?;
            // The conversation this device started before logging in becomes the contact's,
            // unless the contact already has one (then this device switches to that one).
            sqlx::query(
                "UPDATE conversations SET contact_id = $3
                 WHERE site = $1 AND visitor_id = $2
                   AND (contact_id IS NULL
                        OR contact_id IN (SELECT id FROM contacts WHERE NOT email_verified))
                   AND NOT EXISTS (SELECT 1 FROM conversations WHERE contact_id = $3)",
            )
            .bind(site)
            .bind(&visitor.0)
            .bind(&contact_id)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            self.linked_contact(visitor).await
        })
        .await
    }

    async fn set_unverified_contact(
        &self,
        site: &str,
        visitor: &VisitorId,
        details: &ContactDetails,
        now: UnixMillis,
    ) -> Result<ContactRecord, StoreError> {
        run(async {
            let mut transaction = self.pool.begin().await?;
            let existing: Option<(String, bool)> = sqlx::query_as(
                "SELECT k.id, k.email_verified FROM visitors v
                 JOIN contacts k ON k.id = v.contact_id WHERE v.id = $1",
            )
            .bind(&visitor.0)
            .fetch_optional(&mut *transaction)
            .await?;
            let same_email: Option<String> = sqlx::query_scalar(
                "SELECT id FROM contacts
                 WHERE site = $1 AND lower(email) = lower($2) AND NOT email_verified
                 ORDER BY updated_at DESC LIMIT 1",
            )
            .bind(site)
            .bind(&details.email)
            .fetch_optional(&mut *transaction)
            .await?;
            match (existing, same_email) {
                // Logged in: an unsigned identify must not change who they verifiably are.
                (Some((_, true)), _) => {}
                // Someone already known (unverified) by this email, e.g. from another device
                // or an inbound email: link to them rather than duplicate. This grants no
                // history: only verified contacts carry history across visitors.
                (_, Some(contact_id)) => {
                    refresh_details(&mut transaction, &contact_id, details, now).await?;
                    link_unverified(&mut transaction, site, visitor, &contact_id).await?;
                }
                (Some((contact_id, false)), None) => {
                    sqlx::query(
                        "UPDATE contacts SET email = $2, name = COALESCE($3, name),
                             phone = COALESCE($4, phone), company = COALESCE($5, company),
                             updated_at = $6
                         WHERE id = $1",
                    )
                    .bind(&contact_id)
                    .bind(&details.email)
                    .bind(&details.name)
                    .bind(&details.phone)
                    .bind(&details.company)
                    .bind(now)
                    .execute(&mut *transaction)
                    .await?;
                }
                (None, None) => {
                    let contact_id =
                        insert_unverified(&mut transaction, site, details, now).await?;
                    link_unverified(&mut transaction, site, visitor, &contact_id).await?;
                }
            }
            transaction.commit().await?;
            self.linked_contact(visitor).await
        })
        .await
    }

    async fn visitor_contact(
        &self,
        visitor: &VisitorId,
    ) -> Result<Option<ContactRecord>, StoreError> {
        run(self.find_visitor_contact(visitor)).await
    }

    async fn forget_visitor(&self, visitor: &VisitorId, now: UnixMillis) -> Result<(), StoreError> {
        run(async {
            sqlx::query("UPDATE visitors SET contact_id = NULL, forgotten_at = $2 WHERE id = $1")
                .bind(&visitor.0)
                .bind(now)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }
}

impl PostgresStore {
    async fn find_visitor_contact(&self, visitor: &VisitorId) -> Outcome<Option<ContactRecord>> {
        let row = sqlx::query(
            "SELECT k.id, k.email, k.email_verified, k.name, k.phone, k.company
             FROM visitors v JOIN contacts k ON k.id = v.contact_id WHERE v.id = $1",
        )
        .bind(&visitor.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ContactRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                verified: row.try_get("email_verified")?,
                name: row.try_get("name")?,
                phone: row.try_get("phone")?,
                company: row.try_get("company")?,
            })
        })
        .transpose()
    }

    /// The contact a visitor was just linked to.
    async fn linked_contact(&self, visitor: &VisitorId) -> Outcome<ContactRecord> {
        let contact = self.find_visitor_contact(visitor).await?;
        Ok(contact.ok_or(StoreError::NotFound)?)
    }
}

/// Creates or refreshes the verified contact with this email on this site (unique in any
/// case); details the token or the host gave replace the stored ones, missing ones keep what
/// is known. Returns its id.
async fn upsert_verified(
    connection: &mut PgConnection,
    site: &str,
    details: &ContactDetails,
    now: UnixMillis,
) -> Outcome<String> {
    Ok(sqlx::query_scalar(
        "INSERT INTO contacts
             (id, site, email, email_verified, name, phone, company, created_at, updated_at)
         VALUES ($1, $2, $3, TRUE, $4, $5, $6, $7, $7)
         ON CONFLICT (site, lower(email)) WHERE email_verified DO UPDATE SET
             name = COALESCE(excluded.name, contacts.name),
             phone = COALESCE(excluded.phone, contacts.phone),
             company = COALESCE(excluded.company, contacts.company),
             updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(site)
    .bind(&details.email)
    .bind(&details.name)
    .bind(&details.phone)
    .bind(&details.company)
    .bind(now)
    .fetch_one(connection)
    .await?)
}

/// A new unverified contact with these details. Returns its id.
async fn insert_unverified(
    connection: &mut PgConnection,
    site: &str,
    details: &ContactDetails,
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
    .bind(&details.email)
    .bind(&details.name)
    .bind(&details.phone)
    .bind(&details.company)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(contact_id)
}

/// Fills in the details given, keeping the known ones that were left out.
async fn refresh_details(
    connection: &mut PgConnection,
    contact_id: &str,
    details: &ContactDetails,
    now: UnixMillis,
) -> Outcome<()> {
    sqlx::query(
        "UPDATE contacts SET name = COALESCE($2, name), phone = COALESCE($3, phone),
             company = COALESCE($4, company), updated_at = $5
         WHERE id = $1",
    )
    .bind(contact_id)
    .bind(&details.name)
    .bind(&details.phone)
    .bind(&details.company)
    .bind(now)
    .execute(connection)
    .await?;
    Ok(())
}

/// Links a visitor, and the conversation they started (unless a verified contact owns it), to
/// an unverified contact.
async fn link_unverified(
    connection: &mut PgConnection,
    site: &str,
    visitor: &VisitorId,
    contact_id: &str,
) -> Outcome<()> {
    sqlx::query("UPDATE visitors SET contact_id = $2 WHERE id = $1")
        .bind(&visitor.0)
        .bind(contact_id)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "UPDATE conversations SET contact_id = $3
         WHERE site = $1 AND visitor_id = $2
           AND (contact_id IS NULL
                OR contact_id IN (SELECT id FROM contacts WHERE NOT email_verified))",
    )
    .bind(site)
    .bind(&visitor.0)
    .bind(contact_id)
    .execute(connection)
    .await?;
    Ok(())
}

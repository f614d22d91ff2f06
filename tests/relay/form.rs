//! The email-capture form (W5): per-site fields, server-side validation with per-field errors,
//! and contacts that are created or linked, never opted in to marketing.

use anyhow::{bail, Result};
use natter_protocol::visitor::{ClientFrame, FieldRule, FormField, FormTrigger, ServerFrame};
use natter_relay::testing::{self, TestRelay};

use crate::support::{send_frame, VisitorClient};

fn form(email: &str, name: Option<&str>, phone: Option<&str>) -> ClientFrame {
    ClientFrame::SubmitForm {
        email: email.into(),
        name: name.map(Into::into),
        phone: phone.map(Into::into),
        company: Some("Lumen Coffee".into()),
    }
}

async fn relay_with_strict_form() -> TestRelay {
    testing::spawn_with(|config| {
        let form = &mut config.sites[0].form;
        form.when = FormTrigger::BeforeFirstMessage;
        form.name = FieldRule::Required;
        form.phone = FieldRule::Optional;
        form.company = FieldRule::Off;
    })
    .await
}

#[tokio::test]
async fn the_welcome_carries_the_sites_form_and_look() -> Result<()> {
    let relay = relay_with_strict_form().await;
    let mut socket = crate::support::open_socket(&relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: natter_protocol::PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: None,
            after_seq: None,
            lang: None,
            link: None,
        },
    )
    .await?;
    match crate::support::next_frame(&mut socket).await? {
        ServerFrame::Welcome { settings, .. } => {
            assert_eq!(settings.form.when, FormTrigger::BeforeFirstMessage);
            assert_eq!(settings.form.name, FieldRule::Required);
            assert_eq!(settings.theme.color, "#1d4ed8");
            assert!(settings.away_message.is_some());
        }
        other => bail!("expected welcome, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn every_refused_field_is_named_and_nothing_is_stored() -> Result<()> {
    let relay = relay_with_strict_form().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    send_frame(
        &mut visitor.socket,
        &form("ada(at)example", None, Some("ring me")),
    )
    .await?;
    match visitor.next().await? {
        ServerFrame::FormRejected { errors } => {
            let fields: Vec<_> = errors.iter().map(|error| error.field).collect();
            assert_eq!(
                fields,
                vec![FormField::Email, FormField::Name, FormField::Phone]
            );
            assert!(errors.iter().all(|error| !error.message.is_empty()));
        }
        other => bail!("expected form_rejected, got {other:?}"),
    }
    assert_eq!(
        relay
            .state
            .store
            .visitor_contact(&visitor_id(&relay, &visitor))
            .await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn an_accepted_form_creates_an_unverified_contact_not_opted_in() -> Result<()> {
    let relay = relay_with_strict_form().await;
    let mut visitor = VisitorClient::connect(&relay, None).await?;
    send_frame(
        &mut visitor.socket,
        &form("ada@example.com", Some("Ada"), Some("+44 20 7946 0958")),
    )
    .await?;
    assert_eq!(
        visitor.next().await?,
        ServerFrame::FormAccepted {
            email: "ada@example.com".into()
        }
    );
    let contact = relay
        .state
        .store
        .visitor_contact(&visitor_id(&relay, &visitor))
        .await?
        .expect("contact");
    assert!(!contact.verified);
    assert_eq!(contact.name.as_deref(), Some("Ada"));
    assert_eq!(
        contact.company, None,
        "the company field is off for this site"
    );
    assert!(
        !marketing_opt_in(&relay, &contact.id).await?,
        "capture is not consent"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_device_with_the_same_email_links_to_the_same_contact_without_history(
) -> Result<()> {
    let relay = relay_with_strict_form().await;
    let mut laptop = VisitorClient::connect(&relay, None).await?;
    laptop.send_text("a question from the laptop").await?;
    send_frame(
        &mut laptop.socket,
        &form("ada@example.com", Some("Ada"), None),
    )
    .await?;
    assert!(matches!(
        laptop.next().await?,
        ServerFrame::FormAccepted { .. }
    ));

    let mut phone = VisitorClient::connect(&relay, None).await?;
    send_frame(
        &mut phone.socket,
        &form("ADA@example.com", Some("Ada L."), None),
    )
    .await?;
    assert!(matches!(
        phone.next().await?,
        ServerFrame::FormAccepted { .. }
    ));
    let laptop_contact = relay
        .state
        .store
        .visitor_contact(&visitor_id(&relay, &laptop))
        .await?
        .expect("contact");
    let phone_contact = relay
        .state
        .store
        .visitor_contact(&visitor_id(&relay, &phone))
        .await?
        .expect("contact");
    assert_eq!(
        laptop_contact.id, phone_contact.id,
        "linked, not duplicated"
    );
    assert_eq!(phone_contact.name.as_deref(), Some("Ada L."));
    let reconnected = VisitorClient::connect(&relay, Some(&phone.token.clone())).await?;
    assert!(
        reconnected.history.is_empty(),
        "an unverified email opens no history"
    );
    Ok(())
}

fn visitor_id(relay: &TestRelay, visitor: &VisitorClient) -> natter_relay::identity::VisitorId {
    relay
        .state
        .visitor_signer
        .verify("demo", &visitor.token)
        .expect("a valid visitor token")
}

async fn marketing_opt_in(relay: &TestRelay, contact_id: &str) -> Result<bool> {
    let url = relay.state.config.database_url();
    let pool = sqlx_pool(&url).await?;
    let opted_in: i64 = sqlx::query_scalar("SELECT marketing_opt_in FROM contacts WHERE id = ?1")
        .bind(contact_id)
        .fetch_one(&pool)
        .await?;
    Ok(opted_in != 0)
}

async fn sqlx_pool(url: &str) -> Result<sqlx::SqlitePool> {
    Ok(sqlx::SqlitePool::connect(url).await?)
}

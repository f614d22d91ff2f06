//! The inbox's REST rules (I1, I2, I5–I12), enforced by the relay whatever the client.

use anyhow::Result;
use natter_protocol::agent::{
    AgentInfo, AgentUpdate, Assign, AuditLog, ContactPanel, ContactUpdate, ConversationStatus,
    ConversationSummary, Group, GroupInput, Role, SavedResponse, SavedResponseInput, SendReply,
    SetBlocked, SetStatus,
};
use natter_protocol::visitor::ServerFrame;
use natter_protocol::{Channel, ClientMessageId, ConversationId, ErrorCode};
use std::sync::Arc;

use natter_relay::clock::ManualClock;
use natter_relay::testing;
use natter_relay::Parts;
use reqwest::StatusCode;

use crate::inbox_support::{ok_json, refused, AGENT_PASSWORD};
use crate::support::{AgentClient, VisitorClient};

fn reply(text: &str) -> SendReply {
    SendReply {
        client_id: ClientMessageId::new_random(),
        text: text.into(),
        internal: false,
        channel: None,
        attachments: vec![],
        subject: None,
    }
}

fn comment(text: &str) -> SendReply {
    SendReply {
        internal: true,
        ..reply(text)
    }
}

fn messages_path(id: ConversationId) -> String {
    format!("/v1/agent/conversations/{}/messages", id.0)
}

#[tokio::test]
async fn internal_comments_never_reach_the_visitor() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let question = tab.send_text("Is the blue one in stock?").await?;
    let id = question.conversation_id;

    let note: natter_protocol::agent::AgentMessage = admin
        .post_json(&messages_path(id), &comment("VIP customer, be quick"))
        .await?;
    assert!(note.internal);
    let answer: natter_protocol::agent::AgentMessage = admin
        .post_json(&messages_path(id), &reply("Yes, it is."))
        .await?;
    assert!(!answer.internal);

    // Live: the visitor's socket gets the reply, never the comment.
    match tab.next().await? {
        ServerFrame::Message { message } => assert_eq!(message.text, "Yes, it is."),
        other => panic!("expected the reply, got {other:?}"),
    }
    // Replying marks the visitor's messages read (W4); the comment did not.
    assert_eq!(
        tab.next().await?,
        ServerFrame::Read {
            up_to_seq: answer.message.seq
        }
    );
    tab.expect_silence(std::time::Duration::from_millis(300))
        .await?;
    // History: neither a fresh welcome nor a resume after a gap carries it.
    let again = VisitorClient::connect(&relay, Some(&tab.token)).await?;
    let texts: Vec<_> = again.history.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["Is the blue one in stock?", "Yes, it is."]);
    let resumed = VisitorClient::connect_with(&relay, "demo", Some(&tab.token), Some(1)).await?;
    assert!(resumed.history.iter().all(|m| !m.text.contains("VIP")));
    // Agents see it, marked.
    let detail = admin.detail(id).await?;
    let marked: Vec<_> = detail
        .messages
        .iter()
        .map(|m| (m.message.text.as_str(), m.internal))
        .collect();
    assert_eq!(
        marked,
        [
            ("Is the blue one in stock?", false),
            ("VIP customer, be quick", true),
            ("Yes, it is.", false)
        ]
    );
    Ok(())
}

#[tokio::test]
async fn complete_then_a_visitor_message_reopens() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hello").await?.conversation_id;
    let row = admin.row(id).await?;
    assert!(row.state.unread);
    assert!(row.state.awaiting_reply_since.is_some());

    let done: ConversationSummary = admin
        .post_json(
            &format!("/v1/agent/conversations/{}/status", id.0),
            &SetStatus {
                status: ConversationStatus::Complete,
            },
        )
        .await?;
    assert_eq!(done.state.status, ConversationStatus::Complete);
    let complete = admin.list("?status=complete").await?;
    assert_eq!(complete.conversations.len(), 1);
    assert!(admin.list("?status=open").await?.conversations.is_empty());

    tab.send_text("one more thing").await?;
    let row = admin.row(id).await?;
    assert_eq!(row.state.status, ConversationStatus::Open, "reopened");
    Ok(())
}

#[tokio::test]
async fn opening_marks_read_and_a_reply_marks_answered() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("anyone?").await?.conversation_id;
    let read: ConversationSummary = admin
        .post_json(&format!("/v1/agent/conversations/{}/read", id.0), &())
        .await?;
    assert!(!read.state.unread);
    assert!(
        read.state.awaiting_reply_since.is_some(),
        "read is not answered"
    );
    admin
        .post_json::<_, serde_json::Value>(&messages_path(id), &comment("checking"))
        .await?;
    assert!(
        admin.row(id).await?.state.awaiting_reply_since.is_some(),
        "a comment is no answer"
    );
    admin
        .post_json::<_, serde_json::Value>(&messages_path(id), &reply("yes!"))
        .await?;
    assert_eq!(admin.row(id).await?.state.awaiting_reply_since, None);
    Ok(())
}

#[tokio::test]
async fn assignment_drives_the_mine_and_unassigned_filters() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (bea, bea_client) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("help").await?.conversation_id;
    let assign_path = format!("/v1/agent/conversations/{}/assign", id.0);
    assert_eq!(
        admin
            .list("?assignee=unassigned")
            .await?
            .conversations
            .len(),
        1
    );

    let assigned: ConversationSummary = admin
        .post_json(
            &assign_path,
            &Assign {
                agent: Some(bea.profile.id),
                group: None,
            },
        )
        .await?;
    assert_eq!(assigned.state.assigned_agent, Some(bea.profile.id));
    assert_eq!(
        bea_client.list("?assignee=mine").await?.conversations.len(),
        1
    );
    assert!(admin.list("?assignee=mine").await?.conversations.is_empty());
    assert!(admin
        .list("?assignee=unassigned")
        .await?
        .conversations
        .is_empty());

    // To a group: "mine" for its members.
    let group: Group = admin
        .post_json(
            "/v1/agent/groups",
            &GroupInput {
                name: "Support".into(),
                members: vec![admin.session.agent.id],
            },
        )
        .await?;
    admin
        .post_json::<_, ConversationSummary>(
            &assign_path,
            &Assign {
                agent: None,
                group: Some(group.id),
            },
        )
        .await?;
    assert_eq!(admin.list("?assignee=mine").await?.conversations.len(), 1);
    assert!(bea_client
        .list("?assignee=mine")
        .await?
        .conversations
        .is_empty());

    // Unassign.
    admin
        .post_json::<_, ConversationSummary>(&assign_path, &Assign::default())
        .await?;
    assert_eq!(
        admin
            .list("?assignee=unassigned")
            .await?
            .conversations
            .len(),
        1
    );

    // A disabled agent cannot be assigned.
    admin
        .patch(&format!("/v1/agent/agents/{}", bea.profile.id.0))
        .json(&AgentUpdate {
            disabled: Some(true),
            ..AgentUpdate::default()
        })
        .send()
        .await?;
    let response = admin
        .post(&assign_path)
        .json(&Assign {
            agent: Some(bea.profile.id),
            group: None,
        })
        .send()
        .await?;
    assert_eq!(
        refused(response).await?,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "this agent's account is disabled".into()
        )
    );
    Ok(())
}

#[tokio::test]
async fn admins_manage_agents_and_agents_cannot() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (bea, bea_client) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;

    // An agent may list, not create.
    let list: natter_protocol::agent::AgentList = bea_client.get_json("/v1/agent/agents").await?;
    assert_eq!(list.agents.len(), 2);
    let response = bea_client
        .post("/v1/agent/agents")
        .json(&natter_protocol::agent::NewAgentRequest {
            email: "eve@example.com".into(),
            name: "Eve".into(),
            password: AGENT_PASSWORD.into(),
            role: Role::Admin,
        })
        .send()
        .await?;
    assert_eq!(
        refused(response).await?,
        (
            StatusCode::FORBIDDEN,
            "only admins can create agents".into()
        )
    );

    // Duplicate email and short password: clear 422s. The password limit at and past its edge.
    let create = |email: &str, password: &str| natter_protocol::agent::NewAgentRequest {
        email: email.into(),
        name: "X".into(),
        password: password.into(),
        role: Role::Agent,
    };
    let response = admin
        .post("/v1/agent/agents")
        .json(&create("BEA@example.com", AGENT_PASSWORD))
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "email: an agent with this email already exists"
    );
    let response = admin
        .post("/v1/agent/agents")
        .json(&create("x@example.com", "1234567"))
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "password: at least 8 characters"
    );
    let created = admin
        .post("/v1/agent/agents")
        .json(&create("x@example.com", "12345678"))
        .send()
        .await?;
    ok_json::<AgentInfo>(created).await?;

    // Disabling ends the session at once and refuses logins.
    let disabled: AgentInfo = ok_json(
        admin
            .patch(&format!("/v1/agent/agents/{}", bea.profile.id.0))
            .json(&AgentUpdate {
                disabled: Some(true),
                ..AgentUpdate::default()
            })
            .send()
            .await?,
    )
    .await?;
    assert!(disabled.disabled);
    assert_eq!(
        bea_client.get("/v1/agent/me").send().await?.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        AgentClient::login(&relay, "bea@example.com", AGENT_PASSWORD)
            .await
            .is_err()
    );
    // Nobody disables themselves.
    let response = admin
        .patch(&format!("/v1/agent/agents/{}", admin.session.agent.id.0))
        .json(&AgentUpdate {
            disabled: Some(true),
            ..AgentUpdate::default()
        })
        .send()
        .await?;
    assert_eq!(refused(response).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

#[tokio::test]
async fn only_admins_delete_and_every_delete_is_audited() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (_, bea) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("delete me").await?.conversation_id;
    let path = format!("/v1/agent/conversations/{}", id.0);

    let response = bea.delete(&path).send().await?;
    assert_eq!(
        refused(response).await?,
        (
            StatusCode::FORBIDDEN,
            "only admins can delete conversations; ask an admin".into()
        )
    );
    assert_eq!(
        bea.get("/v1/agent/audit").send().await?.status(),
        StatusCode::FORBIDDEN
    );

    assert_eq!(
        admin.delete(&path).send().await?.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.get(&path).send().await?.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        admin.list("?q=delete").await?.conversations.is_empty(),
        "gone from search too"
    );
    let audit: AuditLog = admin.get_json("/v1/agent/audit").await?;
    let entry = audit
        .entries
        .iter()
        .find(|e| e.action == "conversation.delete")
        .expect("an audit entry");
    assert_eq!(entry.subject, id.0.to_string());
    assert_eq!(entry.actor, admin.session.agent.id);
    assert!(entry.details.contains("1 messages"), "{}", entry.details);
    Ok(())
}

#[tokio::test]
async fn the_list_pages_by_cursor_and_searches_messages_and_contacts() -> Result<()> {
    let clock = Arc::new(ManualClock::starting_now());
    let parts = Parts {
        clock: clock.clone(),
        ..Parts::default()
    };
    let relay =
        testing::spawn_with_parts(|config| config.limits.max_inbox_page_size = 3, parts).await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut tab = VisitorClient::connect(&relay, None).await?;
        let text = if n == 2 {
            "Do you ship to Lyon?".to_owned()
        } else {
            format!("question {n}")
        };
        ids.push(tab.send_text(&text).await?.conversation_id);
        clock.advance(3);
    }
    // Paging: the limit at its edge works, past it is refused.
    let first = admin.list("?limit=3").await?;
    assert_eq!(first.conversations.len(), 3);
    let next = first.next.clone().expect("a next cursor");
    let second = admin.list(&format!("?limit=3&after={next}")).await?;
    assert_eq!(second.conversations.len(), 2);
    assert_eq!(second.next, None);
    let mut all: Vec<_> = first
        .conversations
        .iter()
        .chain(&second.conversations)
        .map(|c| c.id)
        .collect();
    all.reverse();
    assert_eq!(all, ids, "newest first, nothing twice, nothing missed");
    let response = admin.get("/v1/agent/conversations?limit=4").send().await?;
    assert_eq!(
        refused(response).await?,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit must be between 1 and 3".into()
        )
    );
    let response = admin
        .get("/v1/agent/conversations?after=garbage")
        .send()
        .await?;
    assert_eq!(refused(response).await?.0, StatusCode::UNPROCESSABLE_ENTITY);

    // Search over messages (prefix words, operators are plain text) …
    let found = admin.list("?q=lyo").await?;
    assert_eq!(
        found.conversations.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[2]]
    );
    assert_eq!(
        admin
            .list("?q=ship%20OR%20NEAR(")
            .await?
            .conversations
            .len(),
        0
    );
    // … and contacts.
    admin
        .put(&format!("/v1/agent/conversations/{}/contact", ids[4].0))
        .json(&ContactUpdate {
            email: Some("ada@lovelace.example".into()),
            name: Some("Ada Lovelace".into()),
            ..ContactUpdate::default()
        })
        .send()
        .await?;
    let found = admin.list("?q=lovelace").await?;
    assert_eq!(
        found.conversations.iter().map(|c| c.id).collect::<Vec<_>>(),
        [ids[4]]
    );
    assert_eq!(found.conversations[0].display_name(), "Ada Lovelace");
    // The search length limit at and past its edge.
    let at_limit = "a".repeat(200);
    assert_eq!(
        admin
            .get(&format!("/v1/agent/conversations?q={at_limit}"))
            .send()
            .await?
            .status(),
        StatusCode::OK
    );
    let response = admin
        .get(&format!("/v1/agent/conversations?q={at_limit}a"))
        .send()
        .await?;
    assert_eq!(refused(response).await?.0, StatusCode::UNPROCESSABLE_ENTITY);
    Ok(())
}

#[tokio::test]
async fn blocked_visitors_are_stored_but_kept_out_of_the_list() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("spam").await?.conversation_id;
    let blocked: ConversationSummary = admin
        .post_json(
            &format!("/v1/agent/conversations/{}/block", id.0),
            &SetBlocked { blocked: true },
        )
        .await?;
    assert!(blocked.state.blocked);
    assert!(admin.list("").await?.conversations.is_empty());

    // The visitor's message is stored and acknowledged; the widget gets a neutral notice.
    let stored = tab.send_text("more spam").await?;
    match tab.next().await? {
        ServerFrame::Error {
            code,
            client_id,
            message,
        } => {
            assert_eq!(code, ErrorCode::Blocked);
            assert_eq!(client_id, Some(stored.client_id));
            assert_eq!(message, "Thanks, your message has been received.");
        }
        other => panic!("expected the notice, got {other:?}"),
    }
    let in_blocked = admin.list("?blocked=true").await?;
    assert_eq!(in_blocked.conversations.len(), 1);
    assert_eq!(
        in_blocked.conversations[0].message_count, 2,
        "nothing is lost"
    );

    let unblocked: ConversationSummary = admin
        .post_json(
            &format!("/v1/agent/conversations/{}/block", id.0),
            &SetBlocked { blocked: false },
        )
        .await?;
    assert!(!unblocked.state.blocked);
    assert_eq!(admin.list("").await?.conversations.len(), 1);
    tab.send_text("sorry").await?;
    tab.expect_silence(std::time::Duration::from_millis(300))
        .await?;
    let audit: AuditLog = admin.get_json("/v1/agent/audit").await?;
    let actions: Vec<_> = audit.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["contact.unblock", "contact.block"]);
    Ok(())
}

#[tokio::test]
async fn agents_add_and_edit_contact_fields_with_clear_errors() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    let path = format!("/v1/agent/conversations/{}/contact", id.0);
    let panel: ContactPanel = admin.get_json(&path).await?;
    assert_eq!(panel.contact, None);

    let response = admin
        .put(&path)
        .json(&ContactUpdate {
            phone: Some("+33 1 23".into()),
            ..Default::default()
        })
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "email: add an email address first to create the contact"
    );
    let response = admin
        .put(&path)
        .json(&ContactUpdate {
            email: Some("nope".into()),
            ..Default::default()
        })
        .send()
        .await?;
    assert!(refused(response).await?.1.starts_with("email:"));

    let panel: ContactPanel = ok_json(
        admin
            .put(&path)
            .json(&ContactUpdate {
                email: Some("lin@example.com".into()),
                phone: Some("+33 1 23 45".into()),
                company: Some("Acme".into()),
                ..Default::default()
            })
            .send()
            .await?,
    )
    .await?;
    let contact = panel.contact.expect("a contact");
    assert_eq!(contact.email, "lin@example.com");
    assert!(!contact.email_verified);
    assert_eq!(contact.company.as_deref(), Some("Acme"));
    let response = admin
        .put(&path)
        .json(&ContactUpdate {
            phone: Some("call me maybe".into()),
            ..Default::default()
        })
        .send()
        .await?;
    assert!(refused(response).await?.1.starts_with("phone:"));
    // The known email makes the email channel usable.
    let row = admin.row(id).await?;
    assert_eq!(
        row.state.contact.map(|c| c.email),
        Some("lin@example.com".into())
    );
    Ok(())
}

#[tokio::test]
async fn saved_responses_refuse_unknown_tags_and_replies_refuse_raw_tags() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let (_, bea) = admin
        .create_agent(&relay, "bea@example.com", "Bea", Role::Agent)
        .await?;
    let input = |body: &str| SavedResponseInput {
        category: "Greetings".into(),
        title: "Hello".into(),
        body: body.into(),
        subject: None,
    };
    let response = admin
        .post("/v1/agent/saved-responses")
        .json(&input("Hi {{contact.shoe_size}}"))
        .send()
        .await?;
    let (status, message) = refused(response).await?;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        message.contains("unknown tag {{contact.shoe_size}}"),
        "{message}"
    );
    let saved: SavedResponse = admin
        .post_json(
            "/v1/agent/saved-responses",
            &input("Hi {{contact.first_name | \"there\"}}!"),
        )
        .await?;
    let response = bea
        .post("/v1/agent/saved-responses")
        .json(&input("x"))
        .send()
        .await?;
    assert_eq!(refused(response).await?.0, StatusCode::FORBIDDEN);
    let list: natter_protocol::agent::SavedResponseList =
        bea.get_json("/v1/agent/saved-responses").await?;
    assert_eq!(list.responses, std::slice::from_ref(&saved));
    let response = admin
        .post("/v1/agent/saved-responses")
        .json(&input("again"))
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "a saved response with this title already exists in this category"
    );

    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    let response = bea
        .post(&messages_path(id))
        .json(&reply("Hi {{contact.first_name}}"))
        .send()
        .await?;
    assert!(refused(response).await?.1.contains("personalization tag"));
    assert_eq!(
        admin
            .delete(&format!("/v1/agent/saved-responses/{}", saved.id.0))
            .send()
            .await?
            .status(),
        StatusCode::NO_CONTENT
    );
    Ok(())
}

#[tokio::test]
async fn email_replies_need_a_known_email_and_a_mail_server() -> Result<()> {
    let by_email = SendReply {
        channel: Some(Channel::Email),
        ..reply("by mail")
    };
    // No mail server: email is off, and the console is told why.
    let off = testing::spawn().await;
    let admin = AgentClient::login_admin(&off).await?;
    let mut tab = VisitorClient::connect(&off, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    let response = admin
        .post(&messages_path(id))
        .json(&by_email)
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "cannot reply by email: this relay has no mail server configured"
    );

    let port = crate::mail_support::free_port()?;
    let relay = testing::spawn_with(|config| crate::mail_support::configure(config, port)).await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    let response = admin
        .post(&messages_path(id))
        .json(&by_email)
        .send()
        .await?;
    assert_eq!(
        refused(response).await?.1,
        "cannot reply by email: no email address is known for this contact"
    );
    let response = admin
        .post(&messages_path(id))
        .json(&SendReply {
            channel: Some(Channel::Messenger),
            ..reply("fb")
        })
        .send()
        .await?;
    assert!(refused(response).await?.1.contains("Messenger"));
    admin
        .put(&format!("/v1/agent/conversations/{}/contact", id.0))
        .json(&ContactUpdate {
            email: Some("kim@example.com".into()),
            ..Default::default()
        })
        .send()
        .await?;
    let sent: natter_protocol::agent::AgentMessage =
        admin.post_json(&messages_path(id), &by_email).await?;
    assert_eq!(sent.message.channel, Channel::Email);
    Ok(())
}

#[tokio::test]
async fn the_channel_filter_and_the_audit_page_size() -> Result<()> {
    let relay = testing::spawn_with(|config| config.limits.audit_page_size = 2).await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let id = tab.send_text("hi").await?.conversation_id;
    assert_eq!(admin.list("?channel=chat").await?.conversations.len(), 1);
    assert!(admin.list("?channel=email").await?.conversations.is_empty());
    // Three audited actions; the log returns the newest two (the limit), never more.
    for blocked in [true, false, true] {
        admin
            .post_json::<_, ConversationSummary>(
                &format!("/v1/agent/conversations/{}/block", id.0),
                &SetBlocked { blocked },
            )
            .await?;
    }
    let audit: AuditLog = admin.get_json("/v1/agent/audit").await?;
    let actions: Vec<_> = audit.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["contact.block", "contact.unblock"]);
    Ok(())
}

#[tokio::test]
async fn the_contact_panel_shows_other_conversations_up_to_the_limit() -> Result<()> {
    let relay = testing::spawn_with(|config| config.limits.contact_conversations_shown = 2).await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut ids = Vec::new();
    for n in 0..4 {
        let mut tab = VisitorClient::connect(&relay, None).await?;
        ids.push(
            tab.send_text(&format!("conversation {n}"))
                .await?
                .conversation_id,
        );
    }
    let path = format!("/v1/agent/conversations/{}/contact", ids[0].0);
    let panel: ContactPanel = ok_json(
        admin
            .put(&path)
            .json(&ContactUpdate {
                email: Some("sam@example.com".into()),
                ..Default::default()
            })
            .send()
            .await?,
    )
    .await?;
    let contact = panel.contact.expect("created").id;
    // The same person wrote three more times (as inbound email will record it).
    let pool = sqlx::SqlitePool::connect(&relay.state.config.database_url()).await?;
    let link = |id: ConversationId, contact: Option<String>| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE conversations SET contact_id = ?2 WHERE id = ?1")
                .bind(id.0.to_string())
                .bind(contact)
                .execute(&pool)
                .await
        }
    };
    for id in &ids[1..] {
        link(*id, Some(contact.0.to_string())).await?;
    }
    let shown = |panel: ContactPanel| panel.other_conversations.len();
    assert_eq!(
        shown(admin.get_json(&path).await?),
        2,
        "three others, past the limit"
    );
    link(ids[3], None).await?;
    assert_eq!(
        shown(admin.get_json(&path).await?),
        2,
        "two others, at the limit"
    );
    link(ids[2], None).await?;
    let panel: ContactPanel = admin.get_json(&path).await?;
    assert_eq!(
        panel
            .other_conversations
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        [ids[1]]
    );
    Ok(())
}

#[tokio::test]
async fn a_visitor_still_connected_after_a_delete_starts_a_new_conversation() -> Result<()> {
    let relay = testing::spawn().await;
    let admin = AgentClient::login_admin(&relay).await?;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let deleted = tab.send_text("first thread").await?.conversation_id;
    let path = format!("/v1/agent/conversations/{}", deleted.0);
    assert_eq!(
        admin.delete(&path).send().await?.status(),
        StatusCode::NO_CONTENT
    );

    // Nothing the visitor writes next is refused or lost.
    let next = tab.send_text("are you still there?").await?;
    assert_ne!(next.conversation_id, deleted);
    assert_eq!(next.seq, 1);
    Ok(())
}

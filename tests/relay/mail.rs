//! Email continuity from outside (E1–E6, I14): a real SMTP server process receives what the
//! relay sends; raw emails go in through the authenticated inbound endpoint; the unread-reply
//! rule runs on a manual clock, in milliseconds, at its edges.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use natter_protocol::agent::{
    AgentMessage, AgentServerFrame, DeliveryState, InboundMailLog, InboundMailOutcome, SendReply,
};
use natter_protocol::visitor::{ClientFrame, LinkOutcome, ServerFrame};
use natter_protocol::{Author, Channel, ClientMessageId, ConversationId, PROTOCOL_VERSION};
use natter_relay::clock::ManualClock;
use natter_relay::mail::http::IngestReply;
use natter_relay::store::JobState;
use natter_relay::testing::{self, TestRelay};
use natter_relay::Parts;

use crate::inbox_support::next_agent_frame;
use crate::mail_support::{
    configure, free_port, header, parts, SmtpSink, FROM, INBOUND_DOMAIN, INGEST_SECRET, SITE_URL,
};
use crate::support::{next_frame, open_socket, send_frame, AgentClient, Socket};

/// The demo site's unread-reply delay in these tests.
const UNREAD_AFTER_MS: i64 = 600_000;

/// A visitor who chatted and gave their email in the form.
struct Visitor {
    socket: Socket,
    token: String,
    conversation: ConversationId,
}

async fn hello(
    relay: &TestRelay,
    token: Option<&str>,
    lang: &str,
    link: Option<&str>,
) -> Result<(Socket, ServerFrame)> {
    let mut socket = open_socket(relay).await?;
    send_frame(
        &mut socket,
        &ClientFrame::Hello {
            v: PROTOCOL_VERSION,
            site: "demo".into(),
            visitor: token.map(str::to_owned),
            after_seq: None,
            lang: Some(lang.into()),
            link: link.map(str::to_owned),
        },
    )
    .await?;
    let welcome = next_frame(&mut socket).await?;
    Ok((socket, welcome))
}

async fn visitor_with_email(relay: &TestRelay, email: &str, lang: &str) -> Result<Visitor> {
    let (mut socket, welcome) = hello(relay, None, lang, None).await?;
    let ServerFrame::Welcome { visitor: token, .. } = welcome else {
        bail!("expected welcome, got {welcome:?}");
    };
    let client_id = ClientMessageId::new_random();
    send_frame(
        &mut socket,
        &ClientFrame::Send {
            client_id,
            text: "Do you ship to Vienna?".into(),
            attachments: vec![],
        },
    )
    .await?;
    let conversation = loop {
        if let ServerFrame::Ack { message, .. } = next_frame(&mut socket).await? {
            break message.conversation_id;
        }
    };
    send_frame(
        &mut socket,
        &ClientFrame::SubmitForm {
            email: email.into(),
            name: Some("Ada".into()),
            phone: None,
            company: None,
        },
    )
    .await?;
    loop {
        match next_frame(&mut socket).await? {
            ServerFrame::FormAccepted { .. } => break,
            ServerFrame::FormRejected { errors } => bail!("form rejected: {errors:?}"),
            _ => {}
        }
    }
    Ok(Visitor {
        socket,
        token,
        conversation,
    })
}

/// The next `message` frame, skipping read marks, typing and the like.
async fn next_message(socket: &mut Socket) -> Result<natter_protocol::Message> {
    loop {
        if let ServerFrame::Message { message } = next_frame(socket).await? {
            return Ok(message);
        }
    }
}

fn reply(text: &str, channel: Channel) -> SendReply {
    SendReply {
        client_id: ClientMessageId::new_random(),
        text: text.into(),
        attachments: vec![],
        internal: false,
        channel: Some(channel),
        subject: None,
    }
}

async fn send_reply(
    agent: &AgentClient,
    conversation: ConversationId,
    body: &SendReply,
) -> Result<AgentMessage> {
    agent
        .post_json(
            &format!("/v1/agent/conversations/{}/messages", conversation.0),
            body,
        )
        .await
}

async fn post_mail(relay: &TestRelay, secret: &str, raw: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .post(relay.http_url("/v1/mail/inbound"))
        .bearer_auth(secret)
        .body(raw.to_owned())
        .send()
        .await?)
}

async fn ingest(relay: &TestRelay, raw: &str) -> Result<IngestReply> {
    let response = post_mail(relay, INGEST_SECRET, raw).await?;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("inbound endpoint answered {status}: {body}");
    }
    Ok(serde_json::from_str(&body)?)
}

/// The relay with mail through `sink`, on a manual clock.
async fn mail_relay(smtp_port: u16, clock: Arc<ManualClock>) -> TestRelay {
    testing::spawn_with_parts(
        |config| {
            configure(config, smtp_port);
            config.sites[0].unread_email_after_ms = UNREAD_AFTER_MS;
        },
        Parts {
            clock,
            ..Parts::default()
        },
    )
    .await
}

fn reply_address_of(raw: &[u8]) -> Result<String> {
    let reply_to = header(raw, "Reply-To").context("a Reply-To header")?;
    let start = reply_to.find("reply+").context("a reply+ address")?;
    let end = reply_to[start..]
        .find('>')
        .map_or(reply_to.len(), |end| start + end);
    Ok(reply_to[start..end].to_owned())
}

#[tokio::test]
async fn an_email_reply_is_threaded_carries_the_transcript_and_is_marked_sent() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock.clone()).await;
    let mut visitor = visitor_with_email(&relay, "ada@example.com", "de").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let chat = send_reply(
        &agent,
        visitor.conversation,
        &reply("Yes, we do.", Channel::Chat),
    )
    .await?;
    assert_eq!(chat.delivery, None, "a chat message is not emailed at once");
    let first = send_reply(
        &agent,
        visitor.conversation,
        &reply("**Shipping** takes 2 days.", Channel::Email),
    )
    .await?;
    assert_eq!(
        first.delivery.map(|d| d.state),
        Some(DeliveryState::Pending)
    );

    let emails = sink.wait_for(1).await?;
    let raw = &emails[0];
    let from = header(raw, "From").unwrap_or_default();
    assert!(
        from.contains("Demo site") && from.contains(&format!("<{FROM}>")),
        "{from}"
    );
    assert!(header(raw, "To")
        .unwrap_or_default()
        .contains("ada@example.com"));
    assert_eq!(
        header(raw, "Subject").as_deref(),
        Some("Ihre Unterhaltung mit Demo site")
    );
    let address = reply_address_of(raw)?;
    assert!(
        address.ends_with(&format!("@{INBOUND_DOMAIN}")),
        "{address}"
    );
    let first_id = header(raw, "Message-ID").context("Message-ID")?;
    assert_eq!(
        header(raw, "In-Reply-To"),
        None,
        "the first email of the thread"
    );
    let (text, html) = parts(raw);
    assert!(text.contains("**Shipping** takes 2 days."), "{text}");
    assert!(
        text.contains("Chatverlauf"),
        "the chat transcript (I14): {text}"
    );
    assert!(text.contains("Do you ship to Vienna?") && text.contains("Yes, we do."));
    assert!(
        text.contains(&format!("{SITE_URL}#natter-link=")),
        "the magic link: {text}"
    );
    assert!(html.contains("<strong>Shipping</strong>"), "{html}");

    // Sent: recorded on the message once the server accepted it (just after it arrives).
    let mut socket = agent.socket(&relay).await?;
    let mut state = None;
    for _ in 0..200 {
        let detail = agent.detail(visitor.conversation).await?;
        state = detail
            .messages
            .iter()
            .find(|m| m.message.id == first.message.id)
            .and_then(|m| m.delivery.clone())
            .map(|d| d.state);
        if state == Some(DeliveryState::Sent) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(state, Some(DeliveryState::Sent));

    // The second email threads on the first and carries only what came since.
    let second = send_reply(
        &agent,
        visitor.conversation,
        &reply("It shipped.", Channel::Email),
    )
    .await?;
    let delivered = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::DeliveryChanged {
            message_id,
            delivery,
            ..
        } if message_id == second.message.id && delivery.state == DeliveryState::Sent => Some(()),
        _ => None,
    });
    delivered.await?;
    let emails = sink.wait_for(2).await?;
    let raw = &emails[1];
    assert_eq!(
        header(raw, "In-Reply-To").as_deref(),
        Some(first_id.as_str())
    );
    assert!(header(raw, "References")
        .unwrap_or_default()
        .contains(&first_id));
    assert_eq!(
        header(raw, "Subject").as_deref(),
        Some("Re: Ihre Unterhaltung mit Demo site")
    );
    let (text, _) = parts(raw);
    assert!(
        !text.contains("Do you ship to Vienna?"),
        "no transcript of what was emailed: {text}"
    );

    // The visitor's widget shows the replies, each with its channel.
    let channels = [
        next_message(&mut visitor.socket).await?.channel,
        next_message(&mut visitor.socket).await?.channel,
    ];
    assert_eq!(channels, [Channel::Chat, Channel::Email]);
    Ok(())
}

#[tokio::test]
async fn an_unseen_agent_message_is_emailed_once_after_the_delay_and_not_when_seen() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock.clone()).await;
    let visitor = visitor_with_email(&relay, "ada@example.com", "fr").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let store = relay.state.store.clone();
    let key = |message: &AgentMessage| {
        format!(
            "email.unread:{}:{}",
            visitor.conversation.0, message.message.client_id.0
        )
    };
    let status = |key: String| {
        let store = store.clone();
        async move {
            let ids = store.jobs_with_key(&key).await?;
            let id = ids.first().context("the unread job exists")?.clone();
            store.job_status(&id).await?.context("job status")
        }
    };

    let first = send_reply(
        &agent,
        visitor.conversation,
        &reply("First answer", Channel::Chat),
    )
    .await?;
    clock.advance(60_000);
    let second = send_reply(
        &agent,
        visitor.conversation,
        &reply("Second answer", Channel::Chat),
    )
    .await?;

    // One millisecond before the edge: not due, nothing sent.
    clock.advance(UNREAD_AFTER_MS - 60_000 - 1);
    relay.state.jobs.run_due().await?;
    let before = status(key(&first)).await?;
    assert_eq!((before.state, before.attempts), (JobState::Pending, 0));
    assert!(sink.received()?.is_empty());

    // At the edge: one email with both unseen messages, in French.
    clock.advance(1);
    relay.state.jobs.run_due().await?;
    let emails = sink.wait_for(1).await?;
    let (text, _) = parts(&emails[0]);
    assert!(
        text.contains("First answer") && text.contains("Second answer"),
        "{text}"
    );
    assert!(text.contains("Vous avez de nouveaux messages"), "{text}");
    assert_eq!(
        header(&emails[0], "Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    // The second message's own job finds it emailed already: never twice.
    clock.advance(60_000);
    relay.state.jobs.run_due().await?;
    wait_done(&status, key(&second)).await?;
    assert_eq!(sink.received()?.len(), 1);

    // A message the visitor sees in time is never emailed.
    let mut socket = visitor.socket;
    let third = send_reply(
        &agent,
        visitor.conversation,
        &reply("Third answer", Channel::Chat),
    )
    .await?;
    send_frame(
        &mut socket,
        &ClientFrame::Seen {
            up_to_seq: third.message.seq,
        },
    )
    .await?;
    wait_seen(&relay, visitor.conversation, third.message.seq).await?;
    clock.advance(UNREAD_AFTER_MS);
    relay.state.jobs.run_due().await?;
    wait_done(&status, key(&third)).await?;
    assert_eq!(sink.received()?.len(), 1, "seen in time: no email");
    Ok(())
}

async fn wait_done<F, Fut>(status: &F, key: String) -> Result<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<natter_relay::store::JobStatus>>,
{
    for _ in 0..200 {
        if status(key.clone()).await?.state == JobState::Done {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    bail!("job {key} did not finish")
}

async fn wait_seen(relay: &TestRelay, conversation: ConversationId, seq: u64) -> Result<()> {
    for _ in 0..200 {
        if relay
            .state
            .store
            .read_marks(conversation)
            .await?
            .seen_by_visitor
            >= seq
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    bail!("the seen mark did not reach {seq}")
}

#[tokio::test]
async fn the_unread_email_still_goes_out_after_a_restart() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let data = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::starting_now());
    let start = |clock: Arc<ManualClock>| {
        let dir = data.path().to_path_buf();
        testing::spawn_with_parts(
            move |config| {
                configure(config, sink.port);
                config.data_dir = dir;
            },
            Parts {
                clock,
                ..Parts::default()
            },
        )
    };
    let relay = start(clock.clone()).await;
    let visitor = visitor_with_email(&relay, "ada@example.com", "en").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    send_reply(
        &agent,
        visitor.conversation,
        &reply("Before the restart", Channel::Chat),
    )
    .await?;
    drop(visitor);
    relay.stop().await;

    clock.advance(600_000);
    let relay = start(clock.clone()).await;
    relay.state.jobs.run_due().await?;
    let emails = sink.wait_for(1).await?;
    assert!(parts(&emails[0]).0.contains("Before the restart"));
    assert_eq!(
        header(&emails[0], "Subject").as_deref(),
        Some("Your conversation with Demo site")
    );
    Ok(())
}

#[tokio::test]
async fn a_mail_server_that_is_down_gets_the_email_once_when_it_is_back() -> Result<()> {
    let port = free_port()?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(port, clock.clone()).await;
    let visitor = visitor_with_email(&relay, "ada@example.com", "en").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let sent = send_reply(
        &agent,
        visitor.conversation,
        &reply("Are you there?", Channel::Email),
    )
    .await?;
    let key = format!(
        "email.reply:{}:{}",
        visitor.conversation.0, sent.message.client_id.0
    );
    let store = relay.state.store.clone();
    let job = store
        .jobs_with_key(&key)
        .await?
        .pop()
        .context("the reply job")?;
    // The first attempt fails (connection refused) and is scheduled again.
    let mut retried = None;
    for _ in 0..200 {
        relay.state.jobs.run_due().await?;
        let status = store.job_status(&job).await?.context("job")?;
        if status.last_error.is_some() && status.state == JobState::Pending {
            retried = Some(status);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let retried = retried.context("the first attempt failed and was rescheduled")?;
    assert!(retried.last_error.is_some());
    let detail = agent.detail(visitor.conversation).await?;
    let delivery = detail
        .messages
        .last()
        .and_then(|m| m.delivery.clone())
        .context("delivery")?;
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert!(delivery.detail.is_some(), "the transient error is shown");

    let sink = SmtpSink::start_on(port).await?;
    clock.advance(retried.run_at - clock_now(&clock));
    relay.state.jobs.run_due().await?;
    sink.wait_for(1).await?;
    clock.advance(3_600_000);
    relay.state.jobs.run_due().await?;
    assert_eq!(
        store.job_status(&job).await?.map(|s| s.state),
        Some(JobState::Done)
    );
    assert_eq!(sink.received()?.len(), 1, "delivered once");
    Ok(())
}

fn clock_now(clock: &ManualClock) -> i64 {
    use natter_relay::clock::Clock;
    clock.now()
}

#[tokio::test]
async fn a_permanent_refusal_is_recorded_on_the_message() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock).await;
    let visitor = visitor_with_email(&relay, "reject-me@example.com", "en").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut socket = agent.socket(&relay).await?;
    let sent = send_reply(
        &agent,
        visitor.conversation,
        &reply("Hello?", Channel::Email),
    )
    .await?;
    let delivery = next_agent_frame(&mut socket, |frame| match frame {
        AgentServerFrame::DeliveryChanged {
            message_id,
            delivery,
            ..
        } if message_id == sent.message.id && delivery.state != DeliveryState::Pending => {
            Some(delivery)
        }
        _ => None,
    })
    .await?;
    assert_eq!(delivery.state, DeliveryState::Failed);
    let detail = delivery.detail.unwrap_or_default();
    assert!(detail.starts_with("550 5.1.1 No such user"), "{detail}");
    Ok(())
}

fn reply_email(from: &str, to: &str, message_id: &str, body: &str) -> String {
    format!(
        "From: Ada <{from}>\r\nTo: {to}\r\nSubject: Re: Your conversation\r\n\
         Message-ID: <{message_id}>\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

#[tokio::test]
async fn an_email_reply_lands_in_its_conversation_once_and_a_stranger_is_flagged() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock).await;
    let mut visitor = visitor_with_email(&relay, "ada@example.com", "en").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let mut agents = agent.socket(&relay).await?;
    send_reply(
        &agent,
        visitor.conversation,
        &reply("Which size?", Channel::Email),
    )
    .await?;
    let emails = sink.wait_for(1).await?;
    let address = reply_address_of(&emails[0])?;
    next_message(&mut visitor.socket).await?;

    let body = "Size M, please.\r\n\r\nOn Thu, Dec 3, 2026 at 12:00 PM Demo site <support@shop.test> wrote:\r\n> Which size?\r\n";
    let raw = reply_email("Ada@Example.com", &address, "r1@mail.example", body);
    let taken = ingest(&relay, &raw).await?;
    assert_eq!(taken.outcome, "appended");
    assert_eq!(
        taken.conversation_id,
        Some(visitor.conversation.0.to_string())
    );
    // Live in the console and the widget, labelled email, quote stripped.
    let added = next_agent_frame(&mut agents, |frame| match frame {
        AgentServerFrame::MessageAdded { message }
            if message.message.channel == Channel::Email
                && matches!(message.message.author, Author::Contact { .. }) =>
        {
            Some(message)
        }
        _ => None,
    })
    .await?;
    assert_eq!(added.message.text, "Size M, please.");
    assert_eq!(
        added.unverified_sender, None,
        "the contact's own address, in any case"
    );
    let message = next_message(&mut visitor.socket).await?;
    assert_eq!(
        (message.channel, message.text.as_str()),
        (Channel::Email, "Size M, please.")
    );

    // The same email again: stored once.
    assert_eq!(ingest(&relay, &raw).await?.outcome, "duplicate");
    // From someone else: shown, flagged, never merged.
    let raw = reply_email(
        "eve@evil.example",
        &address,
        "r2@mail.example",
        "Send it to me",
    );
    ingest(&relay, &raw).await?;
    // Flagged live too, not only on a refetch.
    let live = next_agent_frame(&mut agents, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.text == "Send it to me" => {
            Some(message)
        }
        _ => None,
    })
    .await?;
    assert_eq!(live.unverified_sender.as_deref(), Some("eve@evil.example"));
    let detail = agent.detail(visitor.conversation).await?;
    let last = detail.messages.last().context("a message")?;
    assert_eq!(last.unverified_sender.as_deref(), Some("eve@evil.example"));
    let from_email = detail
        .messages
        .iter()
        .filter(|m| {
            m.message.channel == Channel::Email
                && matches!(m.message.author, Author::Contact { .. })
        })
        .count();
    assert_eq!(from_email, 2);
    let contact: natter_protocol::agent::ContactPanel = agent
        .get_json(&format!(
            "/v1/agent/conversations/{}/contact",
            visitor.conversation.0
        ))
        .await?;
    assert_eq!(contact.contact.context("contact")?.email, "ada@example.com");

    // An altered token is kept for admins, not guessed.
    let forged = address.replacen("reply+", "reply+0", 1);
    let kept = ingest(
        &relay,
        &reply_email("ada@example.com", &forged, "r3@mail.example", "x"),
    )
    .await?;
    assert_eq!(kept.outcome, "kept");
    Ok(())
}

#[tokio::test]
async fn inbound_mail_is_refused_without_the_secret_and_past_the_size_limit() -> Result<()> {
    let relay = testing::spawn_with(|config| {
        configure(config, 9);
        config.mail.max_inbound_bytes = 2_000;
    })
    .await;
    let raw = reply_email("ada@example.com", "support@shop.test", "a@b", "hi");
    assert_eq!(post_mail(&relay, "wrong", &raw).await?.status(), 401);
    let at_limit = format!("{raw}{}", "x".repeat(2_000 - raw.len()));
    assert_eq!(
        post_mail(&relay, INGEST_SECRET, &at_limit).await?.status(),
        200
    );
    let past = format!("{at_limit}x");
    assert_eq!(post_mail(&relay, INGEST_SECRET, &past).await?.status(), 413);
    let off = testing::spawn().await;
    assert_eq!(post_mail(&off, INGEST_SECRET, &raw).await?.status(), 404);
    Ok(())
}

#[tokio::test]
async fn a_stranger_becomes_a_contact_and_bounces_and_auto_replies_are_not_messages() -> Result<()>
{
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock.clone()).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let raw = reply_email(
        "grace@example.org",
        "support@shop.test",
        "new-1@mail.example",
        "Do you have gift cards?",
    );
    let taken = ingest(&relay, &raw).await?;
    assert_eq!(taken.outcome, "appended");
    let id = ConversationId(taken.conversation_id.context("id")?.parse()?);
    let row = agent.row(id).await?;
    assert_eq!(row.state.channel, Channel::Email);
    let contact = row.state.contact.context("a contact was created")?;
    assert_eq!(
        (contact.email.as_str(), contact.email_verified),
        ("grace@example.org", false)
    );
    let marketing: Option<i64> = None;
    assert_eq!(marketing, None);
    // Her next email without a token joins the same open conversation.
    let again = reply_email(
        "grace@example.org",
        "support@shop.test",
        "new-2@mail.example",
        "And vouchers?",
    );
    assert_eq!(
        ingest(&relay, &again).await?.conversation_id,
        Some(id.0.to_string())
    );

    let auto = "From: grace@example.org\r\nTo: support@shop.test\r\nSubject: Out of office\r\n\
                Auto-Submitted: auto-replied\r\nMessage-ID: <oof@mail.example>\r\n\r\nI am away.";
    assert_eq!(ingest(&relay, auto).await?.outcome, "ignored");
    clock.advance(1);
    let bounce = "From: MAILER-DAEMON@mail.example\r\nTo: support@shop.test\r\nSubject: Undelivered Mail\r\n\
        Message-ID: <dsn@mail.example>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
        --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example\r\n\r\n\
        Final-Recipient: rfc822; grace@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n";
    assert_eq!(ingest(&relay, bounce).await?.outcome, "ignored");
    clock.advance(1);
    let panel: natter_protocol::agent::ContactPanel = agent
        .get_json(&format!("/v1/agent/conversations/{}/contact", id.0))
        .await?;
    assert!(panel.contact.context("contact")?.email_bouncing);
    let thread = agent.detail(id).await?;
    assert_eq!(
        thread.messages.len(),
        2,
        "neither the auto-reply nor the bounce is a message"
    );

    let garbage = ingest(&relay, "this is not an email at all").await?;
    assert_eq!(garbage.outcome, "kept");
    let log: InboundMailLog = agent.get_json("/v1/agent/mail/inbound").await?;
    let outcomes: Vec<_> = log.entries.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            InboundMailOutcome::Kept,
            InboundMailOutcome::Ignored,
            InboundMailOutcome::Ignored
        ]
    );
    let raw_back = agent
        .get(&format!("/v1/agent/mail/inbound/{}/raw", log.entries[0].id))
        .send()
        .await?
        .bytes()
        .await?;
    assert_eq!(&raw_back[..], b"this is not an email at all");
    Ok(())
}

#[tokio::test]
async fn no_unread_reply_email_goes_to_a_bouncing_address() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock.clone()).await;
    let visitor = visitor_with_email(&relay, "gone@example.org", "en").await?;
    let bounce = "From: MAILER-DAEMON@mail.example\r\nTo: support@shop.test\r\nSubject: Undelivered\r\n\
        Message-ID: <dsn2@mail.example>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
        --b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
        --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example\r\n\r\n\
        Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n";
    let agent = AgentClient::login_admin(&relay).await?;
    let mut agents = agent.socket(&relay).await?;
    assert_eq!(ingest(&relay, bounce).await?.outcome, "ignored");
    // Open contact panels hear of it at once.
    let bounced = next_agent_frame(&mut agents, |frame| match frame {
        AgentServerFrame::ContactUpdated { contact } if contact.email == "gone@example.org" => {
            Some(contact)
        }
        _ => None,
    })
    .await?;
    assert!(bounced.email_bouncing);
    let sent = send_reply(
        &agent,
        visitor.conversation,
        &reply("We do!", Channel::Chat),
    )
    .await?;
    clock.advance(UNREAD_AFTER_MS);
    relay.state.jobs.run_due().await?;
    let key = format!(
        "email.unread:{}:{}",
        visitor.conversation.0, sent.message.client_id.0
    );
    let store = relay.state.store.clone();
    let status = |key: String| {
        let store = store.clone();
        async move {
            let id = store.jobs_with_key(&key).await?.pop().context("the job")?;
            store.job_status(&id).await?.context("status")
        }
    };
    wait_done(&status, key).await?;
    assert!(
        sink.received()?.is_empty(),
        "no email to a bouncing address"
    );
    Ok(())
}

#[tokio::test]
async fn the_magic_link_opens_the_thread_on_another_device_until_it_expires() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let clock = Arc::new(ManualClock::starting_now());
    let relay = mail_relay(sink.port, clock.clone()).await;
    let visitor = visitor_with_email(&relay, "ada@example.com", "en").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    send_reply(
        &agent,
        visitor.conversation,
        &reply("See you", Channel::Email),
    )
    .await?;
    let emails = sink.wait_for(1).await?;
    let (text, _) = parts(&emails[0]);
    let start = text.find("#natter-link=").context("a magic link")? + "#natter-link=".len();
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    // A new device: no cookie, the link.
    let (_phone, welcome) = hello(&relay, None, "en", Some(&link)).await?;
    let ServerFrame::Welcome {
        conversation_id,
        messages,
        link: outcome,
        visitor: phone_token,
        known_email,
        ..
    } = welcome
    else {
        bail!("expected welcome");
    };
    assert_eq!(outcome, Some(LinkOutcome::Opened));
    assert_eq!(
        known_email.as_deref(),
        Some("ada@example.com"),
        "not asked again"
    );
    assert_eq!(conversation_id, Some(visitor.conversation));
    assert!(messages.iter().any(|m| m.text == "See you"));
    assert_ne!(phone_token, visitor.token);
    // The binding stays: the phone's cookie alone opens the thread now.
    let (_again, welcome) = hello(&relay, Some(&phone_token), "en", None).await?;
    assert!(
        matches!(welcome, ServerFrame::Welcome { conversation_id: Some(id), link: None, .. } if id == visitor.conversation)
    );

    let tampered = format!("{}x", &link[..link.len() - 1]);
    let (_t, welcome) = hello(&relay, None, "en", Some(&tampered)).await?;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            link: Some(LinkOutcome::Invalid),
            conversation_id: None,
            ..
        }
    ));
    clock.advance(7 * 24 * 3_600_000 + 1);
    let (_e, welcome) = hello(&relay, None, "en", Some(&link)).await?;
    assert!(matches!(
        welcome,
        ServerFrame::Welcome {
            link: Some(LinkOutcome::Expired),
            conversation_id: None,
            ..
        }
    ));
    Ok(())
}

#[tokio::test]
async fn an_emailed_file_is_kept_under_the_upload_rules() -> Result<()> {
    let relay = testing::spawn_with(|config| configure(config, 9)).await;
    let agent = AgentClient::login_admin(&relay).await?;
    let pdf = "JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==";
    let exe = "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=";
    let raw = format!(
        "From: Ada <ada@example.com>\r\nTo: support@shop.test\r\nSubject: Invoice\r\n\
         Message-ID: <files@mail.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHere it is.\r\n\
         --m\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n\
         --m\r\nContent-Type: application/x-msdownload; name=\"setup.exe\"\r\n\
         Content-Disposition: attachment; filename=\"setup.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{exe}\r\n--m--\r\n"
    );
    let taken = ingest(&relay, &raw).await?;
    let id = ConversationId(taken.conversation_id.context("appended")?.parse()?);
    let detail = agent.detail(id).await?;
    let message = &detail.messages.last().context("the message")?.message;
    let names: Vec<_> = message
        .attachments
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, vec!["invoice.pdf"], "an .exe is not an allowed type");
    assert!(message.text.starts_with("Here it is."), "{}", message.text);
    assert!(
        message.text.contains("[attachment not kept: setup.exe"),
        "{}",
        message.text
    );
    let file = reqwest::get(relay.http_url(&message.attachments[0].url)).await?;
    assert_eq!(file.status(), 200);
    assert!(file.bytes().await?.starts_with(b"%PDF-"));
    Ok(())
}

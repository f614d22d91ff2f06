//! The core every door shares, from outside: resume after many missed messages, no ack without
//! a commit when the disk fills up, channel-neutral conversations, and the jobs queue.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{Author, Channel, ClientMessageId, ConversationId, ErrorCode};
use natter_relay::clock::{Clock, ManualClock};
use natter_relay::config::JobsConfig;
use natter_relay::conversations::{self, derived_client_id, Incoming};
use natter_relay::jobs::{JobError, JobHandler, JobRunner, PassReport};
use natter_relay::store::{ConversationKey, JobRecord, JobState, NewJob};
use natter_relay::testing;

use natter_protocol::agent::AgentServerFrame;

use crate::inbox_support::next_agent_frame;
use crate::support::{send_frame, AgentClient, VisitorClient};

#[tokio::test]
async fn a_resume_after_more_than_a_page_delivers_every_missed_message_in_order() -> Result<()> {
    const PAGE: u32 = 5;
    let relay = testing::spawn_with(|config| config.limits.history_page_size = PAGE).await;
    let mut tab = VisitorClient::connect(&relay, None).await?;
    let token = tab.token.clone();
    for n in 1..=23 {
        tab.send_text(&format!("m{n}")).await?;
    }
    drop(tab);
    // The widget saw up to seq 2 and missed 21 messages: more than four pages.
    let mut resumed = VisitorClient::connect_with(&relay, "demo", Some(&token), Some(2)).await?;
    let mut seqs: Vec<u64> = resumed.history.iter().map(|m| m.seq).collect();
    assert_eq!(
        seqs,
        (3..=7).collect::<Vec<_>>(),
        "the welcome: the first page"
    );
    while seqs.len() < 21 {
        match resumed.next().await? {
            ServerFrame::Message { message } => seqs.push(message.seq),
            ServerFrame::Availability { .. } => {}
            other => bail!("expected the missed messages, got {other:?}"),
        }
    }
    assert_eq!(
        seqs,
        (3..=23).collect::<Vec<_>>(),
        "every one, once, in order"
    );
    Ok(())
}

/// A small filesystem mounted for one test (tmpfs; the tests run as root), unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .context("run mount")?;
        if !status.success() {
            bail!("could not mount a small tmpfs (this test needs root to fill a real disk)");
        }
        Ok(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk up with a file; returns its path (delete it to free the space).
    fn fill(&self) -> Result<PathBuf> {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path)?;
        let chunk = vec![0_u8; 16 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // The last bytes that fit.
        while file.write_all(&[0]).is_ok() {}
        Ok(path)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Sends `count` messages on one socket without waiting, then reads every answer: the
/// acknowledged messages (conversation, client id) and how many were refused.
async fn send_burst(
    tab: &mut VisitorClient,
    prefix: &str,
    count: usize,
) -> Result<(Vec<(ConversationId, ClientMessageId)>, usize)> {
    let mut sent = HashSet::new();
    for n in 0..count {
        let client_id = ClientMessageId::new_random();
        sent.insert(client_id);
        let frame = ClientFrame::Send {
            client_id,
            text: format!("{prefix} {n} {}", "x".repeat(2000)),
            attachments: vec![],
        };
        send_frame(&mut tab.socket, &frame).await?;
    }
    let (mut acked, mut refused) = (Vec::new(), 0);
    while acked.len() + refused < count {
        match tab.next().await? {
            ServerFrame::Ack { client_id, message } if sent.contains(&client_id) => {
                acked.push((message.conversation_id, client_id));
            }
            ServerFrame::Error {
                code: ErrorCode::Internal,
                client_id: Some(client_id),
                ..
            } if sent.contains(&client_id) => refused += 1,
            ServerFrame::Availability { .. } => {}
            other => bail!("unexpected frame {other:?}"),
        }
    }
    Ok((acked, refused))
}

/// Sends one message, and again with the same client id each time it is refused (at most
/// [`PROBE_TRIES`] times, a tenth of a second apart), as the widget's outbox does.
async fn resend_until_acked(
    tab: &mut VisitorClient,
    text: &str,
) -> Result<(ConversationId, ClientMessageId)> {
    let client_id = ClientMessageId::new_random();
    for _ in 0..PROBE_TRIES {
        let frame = ClientFrame::Send {
            client_id,
            text: text.into(),
            attachments: vec![],
        };
        send_frame(&mut tab.socket, &frame).await?;
        loop {
            match tab.next().await? {
                ServerFrame::Ack {
                    client_id: id,
                    message,
                } if id == client_id => {
                    return Ok((message.conversation_id, client_id));
                }
                ServerFrame::Error {
                    code: ErrorCode::Internal,
                    client_id: Some(id),
                    ..
                } if id == client_id => break,
                ServerFrame::Availability { .. } => {}
                other => bail!("unexpected frame {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the store did not recover within {PROBE_TRIES} tries")
}

/// How often a message is resent after the disk was freed before the test gives up.
const PROBE_TRIES: usize = 30;

#[tokio::test]
async fn after_the_disk_fills_up_every_ack_was_committed_and_the_store_recovers() -> Result<()> {
    let disk = SmallDisk::mount(8)?;
    let data_dir = disk.path().join("data");
    let relay = testing::spawn_with(|config| config.data_dir = data_dir.clone()).await;
    let database_url = relay.state.config.database_url();
    let mut tabs = Vec::new();
    for _ in 0..4 {
        tabs.push(VisitorClient::connect(&relay, None).await?);
    }
    let mut acked = Vec::new();
    for tab in &mut tabs {
        acked.extend(send_burst(tab, "before", 5).await?.0);
    }
    let filler = disk.fill()?;
    let mut refused_while_full = 0;
    for tab in &mut tabs {
        let (ok, refused) = send_burst(tab, "while full", 40).await?;
        acked.extend(ok);
        refused_while_full += refused;
    }
    assert!(
        refused_while_full > 0,
        "a full disk refuses writes with an error frame"
    );
    std::fs::remove_file(filler)?;
    // Space is back. Like the widget's outbox, resend one message until it is acknowledged
    // (bounded): the condition has cleared once one write went through.
    let probe = resend_until_acked(&mut tabs[0], "after the disk was freed").await?;
    acked.push(probe);
    // From then on the same relay process stores every message again, by itself.
    for tab in &mut tabs {
        let (ok, refused) = send_burst(tab, "after", 20).await?;
        assert_eq!(refused, 0, "the store recovered once space was freed");
        acked.extend(ok);
    }
    drop(tabs);
    relay.stop().await;

    // Every acknowledged message is in the database a fresh process opens.
    let store = natter_relay::store::open(&database_url).await?;
    let conversations: HashSet<ConversationId> = acked.iter().map(|(c, _)| *c).collect();
    let mut stored = HashSet::new();
    for conversation in conversations {
        let messages = store.messages_after(conversation, 0, 10_000).await?;
        assert!(!messages.is_empty(), "conversation {conversation:?} exists");
        stored.extend(messages.iter().map(|m| m.client_id));
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(_, client_id)| !stored.contains(client_id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages were lost",
        lost.len()
    );
    Ok(())
}

#[tokio::test]
async fn a_contact_on_another_channel_and_an_external_thread_land_in_the_inbox() -> Result<()> {
    let relay = testing::spawn().await;
    let state = &relay.state;
    let agent = AgentClient::login_admin(&relay).await?;
    // An email from an unknown sender: a contact and a conversation of its own.
    let by_email = ConversationKey::ContactAddress {
        address: "Ada@Example.com".into(),
        channel: Channel::Email,
    };
    let email_thread = conversations::open(state, "demo", &by_email).await?;
    let again = ConversationKey::ContactAddress {
        address: "ada@example.com ".into(),
        channel: Channel::Email,
    };
    assert_eq!(
        conversations::open(state, "demo", &again).await?.summary.id,
        email_thread.summary.id,
        "the same address finds the same conversation"
    );
    let reply = Incoming::text(
        email_thread.summary.id,
        derived_client_id("email", "<m1@example.com>"),
        Author::Contact {
            name: Some("Ada".into()),
        },
        Channel::Email,
        "Hello by email".into(),
    );
    let stored = conversations::append(state, reply.clone()).await?;
    // A repeated delivery of the same email is stored once.
    assert_eq!(conversations::append(state, reply).await?.id, stored.id);
    // A Messenger user: one conversation per thread, no contact.
    let by_psid = ConversationKey::ExternalThread {
        channel: Channel::Messenger,
        thread_id: "psid-42".into(),
    };
    let messenger = conversations::open(state, "demo", &by_psid).await?;
    assert_eq!(
        conversations::open(state, "demo", &by_psid)
            .await?
            .summary
            .id,
        messenger.summary.id
    );
    assert_eq!(messenger.visitor_id, None);
    conversations::append(
        state,
        Incoming::text(
            messenger.summary.id,
            derived_client_id("messenger", "mid.1"),
            Author::Contact { name: None },
            Channel::Messenger,
            "Hi from Messenger".into(),
        ),
    )
    .await?;

    let list = agent.list("").await?;
    let channels: Vec<_> = list
        .conversations
        .iter()
        .map(|c| (c.id, c.state.channel, c.state.unread))
        .collect();
    assert!(channels.contains(&(email_thread.summary.id, Channel::Email, true)));
    assert!(channels.contains(&(messenger.summary.id, Channel::Messenger, true)));
    let detail = agent.detail(email_thread.summary.id).await?;
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(
        detail.messages[0].message.author,
        Author::Contact {
            name: Some("Ada".into())
        }
    );
    let contact = state
        .store
        .inbox_contact(email_thread.summary.id)
        .await?
        .context("the email's sender became a contact")?;
    assert_eq!(contact.email, "ada@example.com");
    assert_eq!(state.store.inbox_contact(messenger.summary.id).await?, None);
    Ok(())
}

/// Fails its first `failures` runs, then succeeds; counts runs.
struct Flaky {
    failures: usize,
    runs: AtomicUsize,
}

#[async_trait::async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _job: &JobRecord) -> Result<(), JobError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        if run < self.failures {
            Err(JobError::Retry(format!("refused (run {run})")))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_job_enqueued_with_a_message_runs_once_retrying_with_backoff_on_the_clock() -> Result<()>
{
    let relay = testing::spawn().await;
    let state = &relay.state;
    let clock = Arc::new(ManualClock::starting_now());
    let config = JobsConfig {
        backoff_base_ms: 1_000,
        backoff_max_ms: 60_000,
        ..JobsConfig::default()
    };
    let mut runner = JobRunner::new(state.store.clone(), clock.clone(), config, "test".into());
    let handler = Arc::new(Flaky {
        failures: 2,
        runs: AtomicUsize::new(0),
    });
    runner.register("test.deliver", handler.clone());

    let conversation = conversations::open(
        state,
        "demo",
        &ConversationKey::ExternalThread {
            channel: Channel::Messenger,
            thread_id: "jobs".into(),
        },
    )
    .await?;
    let job = NewJob {
        kind: "test.deliver".into(),
        payload: "{}".into(),
        run_at: clock.now(),
        dedupe_key: Some("deliver:1".into()),
        max_attempts: 5,
    };
    let message = Incoming {
        jobs: vec![job],
        ..Incoming::text(
            conversation.summary.id,
            ClientMessageId::new_random(),
            Author::Contact { name: None },
            Channel::Messenger,
            "with a job".into(),
        )
    };
    conversations::append(state, message.clone()).await?;
    // A resend of the message enqueues nothing more.
    conversations::append(state, message).await?;
    let ids = state.store.jobs_with_key("deliver:1").await?;
    assert_eq!(ids.len(), 1);

    let retried = PassReport {
        retried: 1,
        ..PassReport::default()
    };
    assert_eq!(runner.run_due().await?, retried, "first attempt fails");
    assert_eq!(
        runner.run_due().await?,
        PassReport::default(),
        "not due yet"
    );
    clock.advance(999);
    assert_eq!(
        runner.run_due().await?,
        PassReport::default(),
        "1 s backoff"
    );
    clock.advance(1);
    assert_eq!(runner.run_due().await?, retried, "second attempt fails");
    clock.advance(1_999);
    assert_eq!(
        runner.run_due().await?,
        PassReport::default(),
        "2 s backoff"
    );
    clock.advance(1);
    let done = PassReport {
        done: 1,
        ..PassReport::default()
    };
    assert_eq!(runner.run_due().await?, done);
    clock.advance(3_600_000);
    assert_eq!(
        runner.run_due().await?,
        PassReport::default(),
        "done for good"
    );
    assert_eq!(handler.runs.load(Ordering::SeqCst), 3);
    let status = state.store.job_status(&ids[0]).await?.context("job kept")?;
    assert_eq!((status.state, status.attempts), (JobState::Done, 3));
    Ok(())
}

#[tokio::test]
async fn two_nodes_on_one_store_and_one_broker_show_each_others_messages_live() -> Result<()> {
    let broker: Arc<dyn natter_relay::broker::Broker> =
        Arc::new(natter_relay::broker::MemoryBroker::default());
    let parts = || natter_relay::Parts {
        broker: broker.clone(),
        ..natter_relay::Parts::default()
    };
    let node_a = testing::spawn_with_parts(|_| {}, parts()).await;
    let database = node_a.state.config.database_url();
    let node_b =
        testing::spawn_with_parts(|config| config.database_url = Some(database), parts()).await;
    assert_ne!(node_a.state.hub.node(), node_b.state.hub.node());

    // The visitor is on node A, the agent on node B.
    let mut visitor = VisitorClient::connect(&node_a, None).await?;
    let agent = AgentClient::login_admin(&node_b).await?;
    let mut console = agent.socket(&node_b).await?;
    let sent = visitor.send_text("hello from node A").await?;
    let seen_by_agent = next_agent_frame(&mut console, |frame| match frame {
        AgentServerFrame::MessageAdded { message } if message.message.id == sent.id => {
            Some(message.message)
        }
        _ => None,
    })
    .await
    .context("the agent on node B hears the visitor on node A")?;
    assert_eq!(seen_by_agent.text, "hello from node A");

    let reply = agent
        .post(&format!(
            "/v1/agent/conversations/{}/messages",
            sent.conversation_id.0
        ))
        .json(&natter_protocol::agent::SendReply {
            client_id: ClientMessageId::new_random(),
            text: "hello from node B".into(),
            internal: false,
            channel: None,
            attachments: vec![],
            subject: None,
        })
        .send()
        .await?;
    assert!(reply.status().is_success());
    loop {
        match visitor.next().await? {
            ServerFrame::Message { message } => {
                assert_eq!(message.text, "hello from node B");
                break;
            }
            ServerFrame::Availability { .. } | ServerFrame::Read { .. } => {}
            other => bail!("expected the reply, got {other:?}"),
        }
    }
    Ok(())
}

/// Tells the test each time it runs.
struct Signal(tokio::sync::mpsc::UnboundedSender<String>);

#[async_trait::async_trait]
impl JobHandler for Signal {
    async fn run(&self, job: &JobRecord) -> Result<(), JobError> {
        let _ = self.0.send(job.payload.clone());
        Ok(())
    }
}

#[tokio::test]
async fn the_relays_own_runner_runs_a_job_as_soon_as_its_message_is_stored() -> Result<()> {
    let (sender, mut ran) = tokio::sync::mpsc::unbounded_channel();
    let parts = natter_relay::Parts {
        job_handlers: vec![("test.signal".into(), Arc::new(Signal(sender)))],
        ..natter_relay::Parts::default()
    };
    // Polling once a minute: only the wake-up after the append can make it run in time.
    let relay = testing::spawn_with_parts(|config| config.jobs.poll_ms = 60_000, parts).await;
    let state = &relay.state;
    let key = ConversationKey::ExternalThread {
        channel: Channel::Messenger,
        thread_id: "runner".into(),
    };
    let conversation = conversations::open(state, "demo", &key).await?;
    let job = NewJob {
        kind: "test.signal".into(),
        payload: "payload-1".into(),
        run_at: state.clock.now(),
        dedupe_key: None,
        max_attempts: 3,
    };
    conversations::append(
        state,
        Incoming {
            jobs: vec![job],
            ..Incoming::text(
                conversation.summary.id,
                ClientMessageId::new_random(),
                Author::Contact { name: None },
                Channel::Messenger,
                "wake the runner".into(),
            )
        },
    )
    .await?;
    let payload = tokio::time::timeout(crate::support::FRAME_TIMEOUT, ran.recv())
        .await
        .context("the job ran")?;
    assert_eq!(payload.as_deref(), Some("payload-1"));
    Ok(())
}

//! Email continuity through a real MTA (E3, E5): the relay emails a visitor, the visitor's mail
//! client answers to the `Reply-To` address, Debian's postfix (a private instance on a loopback
//! port, configured here in a directory of its own) accepts it over SMTP and pipes it to
//! `natter-relay ingest-mail`, and the answer shows up in the same conversation.
//!
//! The postfix wiring is the one README.md documents for production. Starting postfix needs
//! root (its `master` drops privileges itself); `cargo xtask test` installs postfix and builds
//! the relay binary before the tests run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lettre::message::header::ContentType;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use natter_protocol::agent::{AgentMessage, SendReply};
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{Author, Channel, ClientMessageId, ConversationId};
use natter_relay::testing::{self, TestRelay};
use natter_relay::Parts;

use crate::mail_support::{
    configure, free_port, header, parts, SmtpSink, INBOUND_DOMAIN, INGEST_SECRET,
};
use crate::support::{send_frame, AgentClient, VisitorClient};

/// How long the test waits for postfix to deliver the reply (it queues, then pipes).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// The user postfix runs `natter-relay ingest-mail` as (`pipe` refuses root).
const PIPE_USER: &str = "nobody";
const POSTFIX: &str = "/usr/sbin/postfix";
const POSTCONF: &str = "/usr/sbin/postconf";

/// A private postfix instance: its own configuration, queue and data directories in a
/// temporary directory, one SMTP listener on a loopback port, mail for the reply domain piped
/// to `natter-relay ingest-mail`. Stopped on drop.
struct Postfix {
    port: u16,
    dir: tempfile::TempDir,
}

impl Postfix {
    /// Configures and starts an instance that hands mail for [`INBOUND_DOMAIN`] to the relay
    /// listening at `relay_url`.
    fn start(relay_url: &str) -> Result<Self> {
        if !Path::new(POSTFIX).exists() {
            bail!("{POSTFIX} is missing: `cargo xtask test` installs postfix (apt-get install postfix)");
        }
        if output(Command::new("id").arg("-u"))?.trim() != "0" {
            bail!("postfix can only be started by root: run this test as root");
        }
        let dir = tempfile::tempdir()?;
        // The pipe runs as PIPE_USER: it must reach the binary copy and the (empty)
        // configuration path below.
        set_mode(dir.path(), 0o755)?;
        let root = dir.path();
        let config_dir = root.join("conf");
        let queue_dir = root.join("queue");
        let data_dir = root.join("data");
        for path in [&config_dir, &queue_dir, &data_dir] {
            std::fs::create_dir(path)?;
        }
        let mail_owner = output(Command::new(POSTCONF).args(["-d", "-h", "mail_owner"]))?;
        run(Command::new("chown").arg(mail_owner.trim()).arg(&data_dir))?;
        let binary = reachable_relay_binary(root)?;
        let port = free_port()?;
        let maillog = root.join("maillog");
        let main_cf = format!(
            "# A throw-away postfix for the Natter email tests: loopback only, no DNS, no\n\
             # outbound mail; the reply domain goes to natter-relay ingest-mail.\n\
             compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             maillog_file = {maillog}\n\
             maillog_file_prefixes = {root}\n\
             myhostname = natter-test.localdomain\n\
             mydomain = localdomain\n\
             myorigin = $myhostname\n\
             inet_interfaces = loopback-only\n\
             inet_protocols = ipv4\n\
             mydestination =\n\
             mynetworks = 127.0.0.0/8\n\
             relay_domains = {INBOUND_DOMAIN}\n\
             transport_maps = inline:{{ {INBOUND_DOMAIN}=natter: }}\n\
             natter_destination_recipient_limit = 1\n\
             smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n\
             smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n\
             smtpd_peername_lookup = no\n\
             smtp_dns_support_level = disabled\n\
             disable_dns_lookups = yes\n\
             default_transport = error:this test instance only delivers to the relay\n\
             local_transport = error:this test instance only delivers to the relay\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             biff = no\n\
             queue_run_delay = 1s\n\
             minimal_backoff_time = 1s\n\
             maximal_backoff_time = 2s\n",
            queue = queue_dir.display(),
            data = data_dir.display(),
            maillog = maillog.display(),
            root = root.display(),
        );
        let master_cf = format!(
            "# service type  private unpriv  chroot  wakeup  maxproc command + args\n\
             127.0.0.1:{port} inet n - n - - smtpd\n\
             pickup    unix  n - n 60 1 pickup\n\
             cleanup   unix  n - n - 0 cleanup\n\
             qmgr      unix  n - n 300 1 qmgr\n\
             rewrite   unix  - - n - - trivial-rewrite\n\
             bounce    unix  - - n - 0 bounce\n\
             defer     unix  - - n - 0 bounce\n\
             trace     unix  - - n - 0 bounce\n\
             verify    unix  - - n - 1 verify\n\
             flush     unix  n - n 1000? 0 flush\n\
             proxymap  unix  - - n - - proxymap\n\
             showq     unix  n - n - - showq\n\
             error     unix  - - n - - error\n\
             retry     unix  - - n - - error\n\
             discard   unix  - - n - - discard\n\
             anvil     unix  - - n - 1 anvil\n\
             scache    unix  - - n - 1 scache\n\
             postlog   unix-dgram n - n - 1 postlogd\n\
             natter    unix  - n n - - pipe\n  \
               flags=DRX user={PIPE_USER} argv=/usr/bin/env\n  \
               NATTER_CONFIG={no_config}\n  \
               NATTER_MAIL__INGEST_URL={relay_url}\n  \
               NATTER_MAIL__INGEST_SECRET={INGEST_SECRET}\n  \
               {binary} ingest-mail\n",
            no_config = root.join("no-natter.toml").display(),
            binary = binary.display(),
        );
        std::fs::write(config_dir.join("main.cf"), main_cf)?;
        std::fs::write(config_dir.join("master.cf"), master_cf)?;
        let postfix = Self { port, dir };
        let started = Command::new(POSTFIX)
            .arg("-c")
            .arg(&config_dir)
            .arg("start")
            .output()
            .context("running postfix start")?;
        if !started.status.success() {
            bail!(
                "postfix did not start ({}): {}{}\n--- maillog ---\n{}",
                started.status,
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr),
                postfix.maillog()
            );
        }
        Ok(postfix)
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// What postfix logged so far (for assertions and failure messages).
    fn maillog(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog"))
            .unwrap_or_else(|error| format!("(no maillog: {error})"))
    }

    /// Waits until the maillog has a line containing every one of `parts`.
    async fn wait_for_log(&self, parts: &[&str]) -> Result<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.maillog();
            if let Some(line) = log
                .lines()
                .find(|line| parts.iter().all(|p| line.contains(p)))
            {
                return Ok(line.to_owned());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no maillog line with {parts:?}:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid_file = self.dir.path().join("queue/pid/master.pid");
        let pid = std::fs::read_to_string(pid_file).ok();
        let _ = Command::new(POSTFIX)
            .arg("-c")
            .arg(self.config_dir())
            .arg("stop")
            .output();
        // `postfix stop` only signals the master; let it and its children leave before the
        // directory goes away.
        if let Some(pid) = pid.as_deref().map(str::trim).filter(|pid| !pid.is_empty()) {
            let proc_dir = Path::new("/proc").join(pid);
            for _ in 0..100 {
                if !proc_dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The relay binary: `NATTER_RELAY_BIN`, else `natter-relay` beside this test binary's
/// directory (`target/debug/`).
pub(crate) fn relay_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("NATTER_RELAY_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe()?;
            // target/debug/deps/relay-… → target/debug/natter-relay
            exe.parent()
                .and_then(Path::parent)
                .map(|debug| debug.join("natter-relay"))
                .context("the test binary's directory")?
        }
    };
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo build -p natter-relay` first (cargo xtask test does), \
             or point NATTER_RELAY_BIN at the binary",
            path.display()
        );
    }
    Ok(path)
}

/// The relay binary as a path [`PIPE_USER`] can execute: the built one when every directory
/// above it is traversable by others, else a copy in `dir` with mode 0755.
fn reachable_relay_binary(dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let binary = relay_binary()?.canonicalize()?;
    let others_may = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0)
    };
    if binary.ancestors().all(others_may) {
        return Ok(binary);
    }
    let copy = dir.join("natter-relay");
    std::fs::copy(&binary, &copy).context("copying natter-relay for the pipe user")?;
    set_mode(&copy, 0o755)?;
    Ok(copy)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(command: &mut Command) -> Result<()> {
    output(command).map(drop)
}

/// A visitor who wrote in the widget and gave their email in the form.
async fn visitor_with_email(relay: &TestRelay, email: &str) -> Result<ConversationId> {
    let mut visitor = VisitorClient::connect(relay, None).await?;
    let conversation = visitor
        .send_text("Do you ship to Vienna?")
        .await?
        .conversation_id;
    send_frame(
        &mut visitor.socket,
        &ClientFrame::SubmitForm {
            email: email.into(),
            name: Some("Ada".into()),
            phone: None,
            company: None,
        },
    )
    .await?;
    loop {
        match visitor.next().await? {
            ServerFrame::FormAccepted { .. } => return Ok(conversation),
            ServerFrame::FormRejected { errors } => bail!("form rejected: {errors:?}"),
            _ => {}
        }
    }
}

/// The `reply+TOKEN@domain` address of the relay's email.
fn reply_address_of(raw: &[u8]) -> Result<String> {
    let reply_to = header(raw, "Reply-To").context("a Reply-To header")?;
    let start = reply_to.find("reply+").context("a reply+ address")?;
    let end = reply_to[start..]
        .find('>')
        .map_or(reply_to.len(), |end| start + end);
    Ok(reply_to[start..end].to_owned())
}

/// The visitor's email, from the contact's own address: an answer, a signature, an
/// attribution line and the relay's email quoted below, threaded on `in_reply_to`.
fn visitor_reply(
    to: &str,
    subject: &str,
    in_reply_to: &str,
    quoted: &str,
    answer: &str,
) -> Result<lettre::Message> {
    let mut body = format!(
        "{answer}\n\n-- \nAda Lovelace\n\n\
         On Thu, Dec 3, 2026 at 12:00 PM Demo site <support@shop.test> wrote:\n"
    );
    for line in quoted.lines() {
        body.push_str(if line.is_empty() { ">" } else { "> " });
        body.push_str(line);
        body.push('\n');
    }
    Ok(lettre::Message::builder()
        .from("Ada <ada@example.com>".parse()?)
        .to(to.parse()?)
        .subject(format!("Re: {subject}"))
        .message_id(Some(format!("<{}@mail.example.com>", uuid::Uuid::new_v4())))
        .in_reply_to(in_reply_to.to_owned())
        .references(in_reply_to.to_owned())
        .header(ContentType::TEXT_PLAIN)
        .body(body)?)
}

/// The contact's first email message in the conversation, once there is one.
async fn wait_for_email_from_contact(
    agent: &AgentClient,
    conversation: ConversationId,
    postfix: &Postfix,
) -> Result<AgentMessage> {
    let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let detail = agent.detail(conversation).await?;
        let found = detail.messages.into_iter().find(|m| {
            m.message.channel == Channel::Email
                && matches!(m.message.author, Author::Contact { .. })
        });
        if let Some(message) = found {
            return Ok(message);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the reply did not reach the conversation within {DELIVERY_TIMEOUT:?}\n\
                 --- postfix maillog ---\n{}",
                postfix.maillog()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_visitors_email_reply_travels_through_postfix_into_the_conversation() -> Result<()> {
    let sink = SmtpSink::start().await?;
    let relay =
        testing::spawn_with_parts(|config| configure(config, sink.port), Parts::default()).await;
    let conversation = visitor_with_email(&relay, "ada@example.com").await?;
    let agent = AgentClient::login_admin(&relay).await?;
    let question = SendReply {
        client_id: ClientMessageId::new_random(),
        text: "Which size would you like?".into(),
        attachments: vec![],
        internal: false,
        channel: Some(Channel::Email),
        subject: None,
    };
    let _: AgentMessage = agent
        .post_json(
            &format!("/v1/agent/conversations/{}/messages", conversation.0),
            &question,
        )
        .await?;
    let emails = sink.wait_for(1).await?;
    let sent = &emails[0];
    let address = reply_address_of(sent)?;
    assert!(
        address.ends_with(&format!("@{INBOUND_DOMAIN}")),
        "{address}"
    );
    let message_id = header(sent, "Message-ID").context("the relay's Message-ID")?;
    let subject = mail_parser::MessageParser::default()
        .parse(sent)
        .and_then(|m| m.subject().map(str::to_owned))
        .context("the relay's Subject")?;
    let (text, _) = parts(sent);

    let relay_url = relay.http_url("");
    let postfix = tokio::task::spawn_blocking(move || Postfix::start(&relay_url)).await??;
    let answer = "Size M, please. I am at home on Friday.";
    let reply = visitor_reply(&address, &subject, &message_id, &text, answer)?;
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(postfix.port)
        .hello_name(ClientId::Domain("mail.example.com".into()))
        .timeout(Some(Duration::from_secs(10)))
        .build();
    let accepted = mailer.send(reply).await;
    let accepted = accepted.with_context(|| {
        format!(
            "postfix did not accept the reply\n--- maillog ---\n{}",
            postfix.maillog()
        )
    })?;
    assert!(accepted.is_positive(), "{accepted:?}");

    let message = wait_for_email_from_contact(&agent, conversation, &postfix).await?;
    assert_eq!(
        message.message.text, answer,
        "the quoted history and signature are cut"
    );
    assert_eq!(message.message.channel, Channel::Email);
    assert_eq!(
        message.unverified_sender, None,
        "sent from the contact's own address"
    );
    // It went through postfix's pipe to natter-relay ingest-mail, which exited 0.
    let line = postfix
        .wait_for_log(&[&format!("to=<{address}>"), "relay=natter", "status=sent"])
        .await?;
    assert!(!postfix.maillog().contains("status=deferred"), "{line}");
    Ok(())
}

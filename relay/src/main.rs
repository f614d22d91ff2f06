//! `natter-relay`: run with `cargo run -p natter-relay` (or `cargo xtask demo`, which builds
//! the widget and console first).
//!
//! This binary only parses flags, loads the configuration, binds the address and hands over
//! to the library; everything else lives in `natter_relay`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use natter_protocol::agent::Role;
use natter_relay::config::{Config, EXAMPLE_CONFIG};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "natter-relay", version, about = "Natter live-chat relay")]
struct Cli {
    /// Configuration file; optional (defaults work without one).
    #[arg(
        long,
        env = "NATTER_CONFIG",
        default_value = "natter.toml",
        global = true
    )]
    config: PathBuf,
    /// Listen address, e.g. 127.0.0.1:8080 (port 0 picks a free port). Overrides the config.
    #[arg(long, global = true)]
    addr: Option<SocketAddr>,
    /// Data directory (SQLite database, secret key). Overrides the config.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log lines as readable text, or as one JSON object per line for a log collector.
    #[arg(
        long,
        env = "NATTER_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (the default).
    Serve,
    /// Print the commented example configuration.
    PrintConfig,
    /// Create an agent account.
    CreateAgent {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password; read from NATTER_NEW_AGENT_PASSWORD so it stays out of shell history.
        #[arg(long, env = "NATTER_NEW_AGENT_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        admin: bool,
    },
    /// Take one raw email from standard input into the running relay (E5), for an MTA's pipe
    /// transport: posts it to `mail.ingest_url` (default: this relay's address) with
    /// `mail.ingest_secret`. Exits 75 (EX_TEMPFAIL) when the relay cannot take it now, so the
    /// MTA retries later, and 65 (EX_DATAERR) when it is refused for good (too large).
    IngestMail,
    /// Manage agents and groups (I1): `natter-relay admin create-agent …`.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write a consistent copy of the SQLite database, the local attachments and the secret
    /// key into one tar file, while the relay runs. PostgreSQL: use pg_dump instead.
    Backup {
        /// The tar file to write (replaced if it exists; readable by its owner only).
        file: PathBuf,
    },
    /// Restore a backup into a fresh data directory (with the relay stopped).
    Restore {
        /// A tar file written by `natter-relay backup`.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an agent account (password from NATTER_NEW_AGENT_PASSWORD).
    CreateAgent {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "NATTER_NEW_AGENT_PASSWORD", hide_env_values = true)]
        password: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Disable an agent: they cannot log in and their sessions end.
    DisableAgent {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled agent again.
    EnableAgent {
        #[arg(long)]
        email: String,
    },
    /// Create a group of agents (members by email, repeatable).
    CreateGroup {
        #[arg(long)]
        name: String,
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let mut config = match Config::load(&cli.config) {
        Ok(config) => config,
        // An MTA bounces a mail to its sender on any exit but 75: a configuration mistake must
        // keep visitors' mail queued until it is fixed, not bounce it.
        Err(error) if matches!(cli.command, Some(Command::IngestMail)) => {
            eprintln!("natter-relay ingest-mail: {error}");
            std::process::exit(EX_TEMPFAIL);
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(addr) = cli.addr {
        config.addr = addr;
    }
    if let Some(data_dir) = cli.data_dir {
        config.data_dir = data_dir;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::PrintConfig => {
            print!("{EXAMPLE_CONFIG}");
            Ok(())
        }
        Command::CreateAgent {
            email,
            name,
            password,
            admin,
        } => {
            let (state, _) = natter_relay::start(config).await?;
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent =
                natter_relay::inbox::auth::create_agent(&state, &email, &name, &password, role)
                    .await?;
            println!(
                "created {:?} {} <{}>",
                agent.profile.role, agent.profile.name, agent.profile.email
            );
            Ok(())
        }
        Command::Admin { command } => admin(config, command).await,
        Command::IngestMail => {
            let code = ingest_mail(&config).await;
            std::process::exit(code);
        }
        Command::Backup { file } => backup(config, file).await,
        Command::Restore { file } => restore(config, file).await,
        Command::Serve => serve(config).await,
    }
}

/// `RUST_LOG` or the default filter, as text or JSON lines. Log lines never carry message
/// bodies, passwords or tokens: request spans name the route template, not the path.
fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("natter_relay=info,tower_http=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

async fn backup(config: Config, file: PathBuf) -> anyhow::Result<()> {
    let target = file.clone();
    let report =
        tokio::task::spawn_blocking(move || natter_relay::backup::backup(&config, &target))
            .await??;
    println!(
        "backup written to {} ({} attachment files{})",
        file.display(),
        report.attachment_files,
        if report.secret_included {
            ", the secret key: keep it private"
        } else {
            ""
        }
    );
    if let Some(url) = report.attachments_elsewhere {
        println!("attachments live in {url}: back them up with that store's tools");
    }
    Ok(())
}

async fn restore(config: Config, file: PathBuf) -> anyhow::Result<()> {
    let source = file.clone();
    let report =
        tokio::task::spawn_blocking(move || natter_relay::backup::restore(&config, &source))
            .await??;
    println!(
        "restored {} into {} ({} attachment files{})",
        file.display(),
        report.database.display(),
        report.attachment_files,
        if report.secret_restored {
            ", the secret key"
        } else {
            ""
        }
    );
    Ok(())
}

/// sysexits(3): the MTA keeps the mail and tries again later.
const EX_TEMPFAIL: i32 = 75;
/// sysexits(3): the MTA bounces the mail to its sender.
const EX_DATAERR: i32 = 65;

/// Reads an email from stdin and posts it to the relay. Returns the exit code.
async fn ingest_mail(config: &Config) -> i32 {
    use std::io::Read;
    let Some(secret) = &config.mail.ingest_secret else {
        eprintln!("natter-relay ingest-mail: mail.ingest_secret is not set");
        return EX_TEMPFAIL;
    };
    let mut raw = Vec::new();
    // A pipe from the MTA: reading it blocking, once, before anything else runs, is fine.
    if let Err(error) = std::io::stdin().lock().read_to_end(&mut raw) {
        eprintln!("natter-relay ingest-mail: could not read the email: {error}");
        return EX_TEMPFAIL;
    }
    let base = config.mail.ingest_url.clone().unwrap_or_else(|| {
        let mut addr = config.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    });
    let url = format!(
        "{}{}",
        base.trim_end_matches('/'),
        natter_relay::mail::http::INBOUND_PATH
    );
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(secret.expose())
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) => {
            eprintln!("natter-relay ingest-mail: the relay at {url} cannot be reached: {error}");
            return EX_TEMPFAIL;
        }
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        println!("{body}");
        0
    } else if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
        eprintln!("natter-relay ingest-mail: refused: {body}");
        EX_DATAERR
    } else {
        eprintln!("natter-relay ingest-mail: the relay answered {status}: {body}");
        EX_TEMPFAIL
    }
}

async fn set_disabled(
    state: &natter_relay::AppState,
    email: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    if !natter_relay::inbox::agents::set_disabled_by_email(state, email, disabled).await? {
        anyhow::bail!("no agent with email {email}");
    }
    println!("{} {email}", if disabled { "disabled" } else { "enabled" });
    Ok(())
}

async fn admin(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let (state, _) = natter_relay::start(config).await?;
    match command {
        AdminCommand::CreateAgent {
            email,
            name,
            password,
            admin,
        } => {
            let min = state.config.limits.min_password_chars;
            if password.chars().count() < min {
                anyhow::bail!("the password must have at least {min} characters");
            }
            let role = if admin { Role::Admin } else { Role::Agent };
            let agent =
                natter_relay::inbox::auth::create_agent(&state, &email, &name, &password, role)
                    .await?;
            println!(
                "created {:?} {} <{}>",
                agent.profile.role, agent.profile.name, agent.profile.email
            );
        }
        AdminCommand::DisableAgent { email } => set_disabled(&state, &email, true).await?,
        AdminCommand::EnableAgent { email } => set_disabled(&state, &email, false).await?,
        AdminCommand::CreateGroup { name, members } => {
            let group =
                natter_relay::inbox::agents::create_group_by_emails(&state, &name, &members)
                    .await
                    .map_err(anyhow::Error::msg)?;
            println!(
                "created group {} ({} members)",
                group.name,
                group.members.len()
            );
        }
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("could not listen on {}", config.addr))?;
    let addr = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let metrics_listener = match config.metrics_listen {
        Some(metrics_addr) => Some(
            tokio::net::TcpListener::bind(metrics_addr)
                .await
                .with_context(|| format!("could not listen on {metrics_addr} for metrics"))?,
        ),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let metrics_on_public_port = config.metrics_token.is_some();
    let database = natter_relay::config::without_password(&config.database_url());
    let (state, report) = natter_relay::start(config).await?;

    println!("Natter relay listening on http://{addr}");
    println!("  demo site        {base}/");
    println!("  logged-in demo   {base}/logged-in");
    println!("  agent inbox      {base}/inbox/");
    println!("  widget loader    {base}/natter.js");
    println!("  health           {base}/healthz");
    println!("  database         {database}");
    match (metrics_addr, metrics_on_public_port) {
        (Some(metrics), true) => {
            println!(
                "  metrics          http://{metrics}/metrics and {base}/metrics (bearer token)"
            )
        }
        (Some(metrics), false) => println!("  metrics          http://{metrics}/metrics"),
        (None, true) => println!("  metrics          {base}/metrics (bearer token)"),
        (None, false) => {}
    }
    match report.admin_created {
        Some((email, Some(password))) => {
            println!("  first admin      {email} / {password}   (generated; shown only this once)")
        }
        Some((email, None)) => {
            println!("  first admin      {email} (password from NATTER_ADMIN_PASSWORD)")
        }
        None => {}
    }
    natter_relay::serve_with_metrics(listener, metrics_listener, state, shutdown_signal()).await?;
    tracing::info!("relay stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

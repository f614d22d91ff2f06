//! Relay socket benchmark: send → ack and visitor → agent latency against real relay
//! processes on loopback, closed loop (one message at a time) and open loop at fixed offered
//! rates, on three set-ups: SQLite; PostgreSQL; two nodes on PostgreSQL + NATS (visitors on
//! node A, the agent on node B). Then the highest rate each sustains with send → ack p99
//! under 50 ms (a bounded search), a table, and an SVG plot of p99 against rate.
//!
//! Run with `cargo xtask bench sockets [options]` (it builds the relay with the `server`
//! profile, passes its path in `NATTER_RELAY_BIN`, and starts PostgreSQL and NATS if they are
//! not running). Options: `--setups sqlite,postgres,two-nodes`, `--rates 500,2000,5000`,
//! `--seconds 5`, `--search-seconds 3`, `--no-search`, `--visitors 200`, `--closed 500`,
//! `--svg bench/sockets-p99.svg`, `--label TEXT`. Figures, not pass/fail: machines here are
//! noisy, so nothing is timed in the test suite. Every loop is bounded, and only 127.0.0.1 is
//! ever contacted.

mod closed;
mod load;
mod plot;
mod relay;
mod stats;

use std::time::Duration;

use anyhow::{bail, Context, Result};

use load::{Load, RunReport};
use relay::{Backend, BenchDatabase, Relay, NATS_URL};
use stats::{ms, Summary};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The p99 a rate must stay under to count as sustained.
const SUSTAINED_P99: Duration = Duration::from_millis(50);
/// Steps of the search for the highest sustained rate, after the fixed rates.
const SEARCH_STEPS: usize = 6;
/// No search goes above this rate.
const SEARCH_CEILING: u32 = 40_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Sqlite,
    Postgres,
    TwoNodes,
}

impl Setup {
    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "sqlite" => Self::Sqlite,
            "postgres" => Self::Postgres,
            "two-nodes" => Self::TwoNodes,
            other => bail!("unknown set-up {other:?} (sqlite, postgres, two-nodes)"),
        })
    }

    fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::TwoNodes => "2 nodes, PG + NATS",
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    setups: Vec<Setup>,
    rates: Vec<u32>,
    seconds: f64,
    search_seconds: f64,
    search: bool,
    visitors: usize,
    closed: usize,
    svg: String,
    label: String,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self> {
        let mut options = Self {
            setups: vec![Setup::Sqlite, Setup::Postgres, Setup::TwoNodes],
            rates: vec![500, 2_000, 5_000],
            seconds: 5.0,
            search_seconds: 3.0,
            search: true,
            visitors: 200,
            closed: 500,
            svg: "bench/sockets-p99.svg".into(),
            label: String::new(),
        };
        while let Some(flag) = args.next() {
            if flag == "--no-search" {
                options.search = false;
                continue;
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--setups" => {
                    options.setups = value.split(',').map(Setup::parse).collect::<Result<_>>()?
                }
                "--rates" => {
                    options.rates = value
                        .split(',')
                        .map(|rate| rate.parse().context("a rate"))
                        .collect::<Result<_>>()?
                }
                "--seconds" => options.seconds = value.parse()?,
                "--search-seconds" => options.search_seconds = value.parse()?,
                "--visitors" => options.visitors = value.parse()?,
                "--closed" => options.closed = value.parse()?,
                "--svg" => options.svg = value,
                "--label" => options.label = value,
                other => bail!("unknown option {other}"),
            }
        }
        if options.visitors == 0 || options.rates.contains(&0) {
            bail!("--visitors and every rate must be above 0");
        }
        Ok(options)
    }
}

/// Everything one set-up measured.
struct SetupReport {
    setup: Setup,
    closed: Option<(Summary, Summary)>,
    fixed: Vec<RunReport>,
    searched: Vec<RunReport>,
    highest: Option<u32>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse(std::env::args().skip(1))?;
    let bin = std::env::var("NATTER_RELAY_BIN")
        .context("NATTER_RELAY_BIN (run through cargo xtask bench sockets)")?;
    println!(
        "relay {bin}; {} visitors, {:.0} s per rate; machine: {} cores",
        options.visitors,
        options.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut reports = Vec::new();
    for setup in &options.setups {
        println!("\n== {} ==", setup.label());
        reports.push(measure(&bin, *setup, &options).await?);
    }
    print_tables(&reports);
    write_plot(&options, &reports)?;
    Ok(())
}

/// Starts the set-up's relays (and database), measures, and takes it all down again.
async fn measure(bin: &str, setup: Setup, options: &Options) -> Result<SetupReport> {
    let database = match setup {
        Setup::Sqlite => None,
        Setup::Postgres | Setup::TwoNodes => Some(BenchDatabase::create().await?),
    };
    let backend = Backend {
        database_url: database.as_ref().map(BenchDatabase::url),
        bus_url: (setup == Setup::TwoNodes).then(|| NATS_URL.to_owned()),
    };
    let report = measure_on(bin, setup, &backend, options).await;
    if let Some(database) = database {
        database.drop_now().await?;
    }
    report
}

async fn measure_on(
    bin: &str,
    setup: Setup,
    backend: &Backend,
    options: &Options,
) -> Result<SetupReport> {
    let node_a = Relay::start(bin, backend).await?;
    // Node B starts once A has migrated the database and created the admin.
    let node_b = match setup {
        Setup::TwoNodes => Some(Relay::start(bin, backend).await?),
        _ => None,
    };
    let agent_node = node_b.as_ref().unwrap_or(&node_a);
    let mut pids = vec![node_a.pid];
    pids.extend(node_b.as_ref().map(|node| node.pid));
    let mut load = Load::connect(&node_a.addr, &agent_node.addr, options.visitors, pids).await?;
    let closed = match options.closed {
        0 => None,
        n => Some(closed::run(&node_a.addr, &agent_node.addr, n).await?),
    };
    if let Some((ack, delivery)) = &closed {
        println!(
            "closed loop: send → ack p50 {} p99 {} ms; visitor → agent p50 {} p99 {} ms",
            ms(ack.p50),
            ms(ack.p99),
            ms(delivery.p50),
            ms(delivery.p99)
        );
    }
    let mut fixed = Vec::new();
    for rate in &options.rates {
        let report = load.run(*rate, secs(options.seconds)).await?;
        print_run(&report);
        fixed.push(report);
    }
    let (highest, searched) = if options.search {
        search(&mut load, &fixed, secs(options.search_seconds)).await?
    } else {
        (None, Vec::new())
    };
    Ok(SetupReport {
        setup,
        closed,
        fixed,
        searched,
        highest,
    })
}

fn secs(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.max(0.1))
}

/// The highest rate with every message acked, keeping pace, and p99 under 50 ms: bracketed
/// by the fixed rates (doubling past the highest if it held), then narrowed geometrically.
/// At most [`SEARCH_STEPS`] runs after the bracket, and never above [`SEARCH_CEILING`].
async fn search(
    load: &mut Load,
    fixed: &[RunReport],
    seconds: Duration,
) -> Result<(Option<u32>, Vec<RunReport>)> {
    let mut runs = Vec::new();
    let held = |report: &RunReport| report.sustained(SUSTAINED_P99);
    let mut low = fixed.iter().filter(|r| held(r)).map(|r| r.rate).max();
    let mut high = fixed.iter().filter(|r| !held(r)).map(|r| r.rate).min();
    if let (Some(l), Some(h)) = (low, high) {
        if h < l {
            // A lower rate failed after a higher one held (noise): search below the failure.
            low = None;
        }
    }
    if let Some(stuck) = fixed.iter().find(|report| report.backlog > 0) {
        println!(
            "no search: {} messages still outstanding {:.0} s after the {}/s run",
            stuck.backlog,
            load::QUIESCE.as_secs_f64(),
            stuck.rate
        );
        return Ok((low, runs));
    }
    while high.is_none() {
        let rate = low.unwrap_or(250).saturating_mul(2);
        if rate > SEARCH_CEILING {
            break;
        }
        let report = load.run(rate, seconds).await?;
        print_run(&report);
        let stuck = report.backlog > 0;
        if held(&report) {
            low = Some(rate);
        } else {
            high = Some(rate);
        }
        runs.push(report);
        if stuck {
            return Ok((low, runs));
        }
    }
    for _ in 0..SEARCH_STEPS {
        let Some(h) = high else {
            break;
        };
        let l = low.unwrap_or_else(|| (h / 8).max(50));
        if f64::from(h) / f64::from(l) < 1.08 {
            break;
        }
        let rate = (f64::from(l) * f64::from(h)).sqrt().round() as u32;
        let report = load.run(rate, seconds).await?;
        print_run(&report);
        let stuck = report.backlog > 0;
        if held(&report) {
            low = Some(rate);
        } else {
            high = Some(rate);
        }
        runs.push(report);
        if stuck {
            break;
        }
    }
    Ok((low, runs))
}

fn print_run(report: &RunReport) {
    println!(
        "{:>6}/s sent {:>6}: ack p50 {:>7} p99 {:>8} max {:>8} ms | agent p50 {:>7} p99 {:>8} max {:>8} ms (n={}) | {:>6.0} acked/s, relay {:.2} cores, refused {}, closed agent {} visitors {}, agent resyncs {}, send lag max {} ms, backlog after {}",
        report.rate,
        report.sent,
        ms(report.ack.p50),
        ms(report.ack.p99),
        ms(report.ack.max),
        ms(report.delivery.p50),
        ms(report.delivery.p99),
        ms(report.delivery.max),
        report.delivery.count,
        report.acked_per_second,
        report.relay_cpu,
        report.refused,
        report.agent_closes,
        report.visitor_closes,
        report.agent_resyncs,
        ms(report.send_lag_max),
        report.backlog,
    );
}

/// The summary tables, in Markdown (ready for bench/RESULTS.md).
fn print_tables(reports: &[SetupReport]) {
    println!("\n| set-up | rate (msg/s) | acked | send → ack p50 / p99 / max (ms) | visitor → agent p50 / p99 / max (ms) | delivered | acked/s | relay CPU (cores) |");
    println!("|---|---:|---:|---|---|---:|---:|---:|");
    for report in reports {
        for run in report.fixed.iter().chain(&report.searched) {
            println!(
                "| {} | {} | {}/{} | {} / {} / {} | {} / {} / {} | {} | {:.0} | {:.2} |",
                report.setup.label(),
                run.rate,
                run.ack.count,
                run.sent,
                ms(run.ack.p50),
                ms(run.ack.p99),
                ms(run.ack.max),
                ms(run.delivery.p50),
                ms(run.delivery.p99),
                ms(run.delivery.max),
                run.delivery.count,
                run.acked_per_second,
                run.relay_cpu,
            );
        }
    }
    println!("\n| set-up | closed loop send → ack p50 / p99 (ms) | closed loop visitor → agent p50 / p99 (ms) | highest sustained rate, p99 < 50 ms (msg/s) |");
    println!("|---|---|---|---:|");
    for report in reports {
        let closed = report.closed.map_or_else(
            || ("–".to_owned(), "–".to_owned()),
            |(ack, delivery)| {
                (
                    format!("{} / {}", ms(ack.p50), ms(ack.p99)),
                    format!("{} / {}", ms(delivery.p50), ms(delivery.p99)),
                )
            },
        );
        let highest = match (report.highest, report.searched.is_empty()) {
            (Some(rate), _) => rate.to_string(),
            (None, false) => "none tried held".to_owned(),
            (None, true) => "not searched".to_owned(),
        };
        println!(
            "| {} | {} | {} | {} |",
            report.setup.label(),
            closed.0,
            closed.1,
            highest
        );
    }
}

fn write_plot(options: &Options, reports: &[SetupReport]) -> Result<()> {
    let lines: Vec<plot::Line> = reports
        .iter()
        .map(|report| plot::Line {
            label: report.setup.label().to_owned(),
            points: report
                .fixed
                .iter()
                .chain(&report.searched)
                .filter(|run| run.ack.count > 0)
                .map(|run| (f64::from(run.rate), run.ack.p99.as_secs_f64() * 1e3))
                .collect(),
        })
        .collect();
    let title = format!(
        "Natter relay: send → ack p99 against offered rate{}",
        if options.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", options.label)
        }
    );
    if let Some(dir) = std::path::Path::new(&options.svg).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&options.svg, plot::svg(&title, &lines))
        .with_context(|| format!("write {}", options.svg))?;
    println!("\nplot written to {}", options.svg);
    Ok(())
}

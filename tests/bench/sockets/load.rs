//! Open-loop load: visitors send at a fixed offered rate, scheduled by the clock and never
//! waiting for acks, while one agent socket watches; every ack and every delivery to the
//! agent is timed from the moment its frame was written.
//!
//! Each message's text carries its run number and its send time (nanoseconds since the
//! bench's start), and the relay echoes the text in the ack and in the agent's
//! `message_added`, so the readers need no shared map of what was sent when.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use natter_protocol::agent::AgentServerFrame;
use natter_protocol::visitor::{ClientFrame, ServerFrame};
use natter_protocol::{ClientMessageId, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::relay::{connect_agent, cpu_seconds};
use crate::stats::{Samples, Summary};
use crate::Socket;

/// How long a run waits for the acks and deliveries still due after its last send.
const DRAIN: Duration = Duration::from_secs(15);
/// How long, after that, the bench waits for an overloaded relay to work off its backlog
/// before the next run (which would otherwise measure the last run's queue).
pub const QUIESCE: Duration = Duration::from_secs(60);
/// Agent socket reconnects allowed in one set-up (a relay that keeps closing it is a result,
/// not something to retry forever).
const MAX_AGENT_RECONNECTS: usize = 50;
/// How long connecting or one handshake step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// What one run at a fixed rate found.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub rate: u32,
    pub sent: usize,
    pub ack: Summary,
    pub delivery: Summary,
    pub refused: usize,
    pub agent_closes: usize,
    /// Times the agent socket was told it fell behind (its missed events never arrive).
    pub agent_resyncs: usize,
    pub visitor_closes: usize,
    /// How late the bench itself was at its worst in sending a message on schedule.
    pub send_lag_max: Duration,
    /// Acks per second over the run, from the first send to the last ack.
    pub acked_per_second: f64,
    /// The relays' CPU use over the run, in cores (1.0 = one core busy).
    pub relay_cpu: f64,
    /// Messages of this or earlier runs still not acknowledged (or delivered to the agent)
    /// [`QUIESCE`] after this run: later runs on this set-up would measure that backlog.
    pub backlog: usize,
}

impl RunReport {
    /// Every message acknowledged, none refused, the bench on schedule, acks keeping pace,
    /// and send → ack p99 under `p99_limit`.
    pub fn sustained(&self, p99_limit: Duration) -> bool {
        self.sent > 0
            && self.ack.count == self.sent
            && self.refused == 0
            && self.send_lag_max < Duration::from_millis(100)
            && self.acked_per_second >= f64::from(self.rate) * 0.97
            && self.ack.p99 < p99_limit
    }
}

/// Latencies per run, filled by the socket readers.
#[derive(Default)]
struct Recorder {
    runs: Mutex<HashMap<u32, (Samples, Samples)>>,
    /// Every ack so far, of any run.
    acked_total: AtomicUsize,
    /// `resync` frames: the agent socket fell behind and missed events.
    agent_resyncs: AtomicUsize,
    refused: AtomicUsize,
    agent_closes: AtomicUsize,
    visitor_closes: AtomicUsize,
    last_ack: Mutex<Option<Instant>>,
}

impl Recorder {
    fn ack(&self, run: u32, latency: Duration) {
        self.acked_total.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut runs) = self.runs.lock() {
            runs.entry(run).or_default().0.push(latency);
        }
        if let Ok(mut last) = self.last_ack.lock() {
            *last = Some(Instant::now());
        }
    }

    fn delivered(&self, run: u32, latency: Duration) {
        if let Ok(mut runs) = self.runs.lock() {
            runs.entry(run).or_default().1.push(latency);
        }
    }

    fn counts(&self, run: u32) -> (usize, usize) {
        self.runs
            .lock()
            .ok()
            .and_then(|runs| runs.get(&run).map(|(a, d)| (a.len(), d.len())))
            .unwrap_or((0, 0))
    }

    fn take(&self, run: u32) -> (Samples, Samples) {
        self.runs
            .lock()
            .ok()
            .and_then(|mut runs| runs.remove(&run))
            .unwrap_or_default()
    }
}

/// Visitors connected to one node and an agent socket on another (or the same), ready for
/// runs at any rate.
pub struct Load {
    visitors: Vec<mpsc::UnboundedSender<u32>>,
    /// Messages sent so far, in every run.
    sent_total: usize,
    recorder: Arc<Recorder>,
    pids: Vec<u32>,
    next_run: u32,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Connects `visitors` visitor sockets to `visitor_addr` and the agent to `agent_addr`,
    /// and has every visitor send one message (so every conversation exists before timing).
    pub async fn connect(
        visitor_addr: &str,
        agent_addr: &str,
        visitors: usize,
        pids: Vec<u32>,
    ) -> Result<Self> {
        let t0 = Instant::now();
        let recorder = Arc::new(Recorder::default());
        let mut tasks = Vec::new();
        let agent = connect_agent(agent_addr).await?;
        tasks.push(tokio::spawn(read_agent(
            agent,
            agent_addr.to_owned(),
            t0,
            recorder.clone(),
        )));
        let mut senders = Vec::with_capacity(visitors);
        for _ in 0..visitors {
            let socket = connect_visitor(visitor_addr).await?;
            let (sink, stream) = socket.split();
            let (sender, queue) = mpsc::unbounded_channel();
            tasks.push(tokio::spawn(write_visitor(sink, queue, t0)));
            tasks.push(tokio::spawn(read_visitor(stream, t0, recorder.clone())));
            senders.push(sender);
        }
        let mut load = Self {
            visitors: senders,
            sent_total: 0,
            recorder,
            pids,
            next_run: 0,
            tasks,
        };
        load.warm_up().await?;
        Ok(load)
    }

    /// One message per visitor, not timed: opens every conversation.
    async fn warm_up(&mut self) -> Result<()> {
        let run = self.new_run();
        for visitor in &self.visitors {
            visitor.send(run).ok();
        }
        self.sent_total += self.visitors.len();
        let expected = self.visitors.len();
        let deadline = Instant::now() + DRAIN;
        while self.recorder.counts(run).0 < expected {
            if Instant::now() > deadline {
                bail!("the warm-up messages were not all acknowledged");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the agent's deliveries of the warm-up arrive before timing starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.recorder.take(run);
        Ok(())
    }

    fn new_run(&mut self) -> u32 {
        self.next_run += 1;
        self.next_run
    }

    /// Offers `rate` messages per second for `duration`, round robin over the visitors, then
    /// waits (bounded) for what is still due.
    pub async fn run(&mut self, rate: u32, duration: Duration) -> Result<RunReport> {
        let run = self.new_run();
        let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        let before = self.relay_cpu()?;
        let refused_before = self.recorder.refused.load(Ordering::Relaxed);
        let agent_closes_before = self.recorder.agent_closes.load(Ordering::Relaxed);
        let resyncs_before = self.recorder.agent_resyncs.load(Ordering::Relaxed);
        let visitor_closes_before = self.recorder.visitor_closes.load(Ordering::Relaxed);
        let start = Instant::now();
        let send_lag_max = self.offer(run, total, interval, start).await;
        self.sent_total += total;
        self.drain(run, total).await;
        let elapsed = start.elapsed();
        let last_ack = self
            .recorder
            .last_ack
            .lock()
            .ok()
            .and_then(|last| *last)
            .unwrap_or(start);
        let cpu = (self.relay_cpu()? - before) / elapsed.as_secs_f64();
        let (mut acks, mut deliveries) = self.recorder.take(run);
        let acked = acks.len();
        let backlog = self.quiesce().await;
        Ok(RunReport {
            rate,
            sent: total,
            ack: acks.summary(),
            delivery: deliveries.summary(),
            refused: self.recorder.refused.load(Ordering::Relaxed) - refused_before,
            agent_closes: self.recorder.agent_closes.load(Ordering::Relaxed) - agent_closes_before,
            agent_resyncs: self.recorder.agent_resyncs.load(Ordering::Relaxed) - resyncs_before,
            visitor_closes: self.recorder.visitor_closes.load(Ordering::Relaxed)
                - visitor_closes_before,
            send_lag_max,
            acked_per_second: acked as f64
                / last_ack
                    .saturating_duration_since(start)
                    .as_secs_f64()
                    .max(1e-3),
            relay_cpu: cpu,
            backlog,
        })
    }

    /// Waits (bounded) until every message sent so far is acknowledged or refused; returns
    /// how many are still outstanding. (Deliveries to the agent are not waited for: a
    /// console that fell behind is told to resync, and the events it missed never come.)
    async fn quiesce(&self) -> usize {
        let deadline = Instant::now() + QUIESCE;
        loop {
            let answered = self.recorder.acked_total.load(Ordering::Relaxed)
                + self.recorder.refused.load(Ordering::Relaxed);
            let outstanding = self.sent_total.saturating_sub(answered);
            if outstanding == 0 || Instant::now() > deadline {
                return outstanding;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `total` messages on the clock; returns how late the worst one went out.
    async fn offer(&self, run: u32, total: usize, interval: Duration, start: Instant) -> Duration {
        let mut lag_max = Duration::ZERO;
        let mut next = 0;
        while next < total {
            let now = Instant::now();
            // Everything due by now goes out at once (the timer's resolution is 1 ms).
            while next < total {
                let due = start + interval.mul_f64(next as f64);
                if due > now {
                    break;
                }
                lag_max = lag_max.max(now - due);
                let visitor = &self.visitors[next % self.visitors.len()];
                visitor.send(run).ok();
                next += 1;
            }
            if next < total {
                let due = start + interval.mul_f64(next as f64);
                tokio::time::sleep_until(due.into()).await;
            }
        }
        lag_max
    }

    /// Waits until every ack and every delivery of `run` is in, or [`DRAIN`] has passed since
    /// the last send.
    async fn drain(&self, run: u32, total: usize) {
        let deadline = Instant::now() + DRAIN;
        loop {
            let (acked, delivered) = self.recorder.counts(run);
            if (acked >= total && delivered >= total) || Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn relay_cpu(&self) -> Result<f64> {
        self.pids.iter().map(|pid| cpu_seconds(*pid)).sum()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Writes the `send` frames this visitor is told to, stamping each with its send time.
async fn write_visitor(
    mut sink: SplitSink<Socket, WsMessage>,
    mut queue: mpsc::UnboundedReceiver<u32>,
    t0: Instant,
) {
    while let Some(run) = queue.recv().await {
        let sent = t0.elapsed().as_nanos();
        let frame = ClientFrame::Send {
            client_id: ClientMessageId::new_random(),
            text: format!("bench {run} {sent}"),
            attachments: vec![],
        };
        let Ok(text) = serde_json::to_string(&frame) else {
            return;
        };
        if sink.send(WsMessage::text(text)).await.is_err() {
            return;
        }
    }
}

/// Times this visitor's acks; counts refusals and a socket the relay closed.
async fn read_visitor(mut stream: SplitStream<Socket>, t0: Instant, recorder: Arc<Recorder>) {
    while let Some(Ok(frame)) = stream.next().await {
        let WsMessage::Text(text) = frame else {
            continue;
        };
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Ack { message, .. }) => {
                if let Some((run, latency)) = stamp(&message.text, t0) {
                    recorder.ack(run, latency);
                }
            }
            Ok(ServerFrame::Error {
                client_id: Some(_), ..
            }) => {
                recorder.refused.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    recorder.visitor_closes.fetch_add(1, Ordering::Relaxed);
}

/// Times every message's arrival on the agent socket; reconnects (bounded) when the relay
/// closes it.
async fn read_agent(mut socket: Socket, addr: String, t0: Instant, recorder: Arc<Recorder>) {
    for _ in 0..=MAX_AGENT_RECONNECTS {
        while let Some(Ok(frame)) = socket.next().await {
            let WsMessage::Text(text) = frame else {
                continue;
            };
            match serde_json::from_str(&text) {
                Ok(AgentServerFrame::MessageAdded { message }) => {
                    if let Some((run, latency)) = stamp(&message.message.text, t0) {
                        recorder.delivered(run, latency);
                    }
                }
                Ok(AgentServerFrame::Resync) => {
                    recorder.agent_resyncs.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
        recorder.agent_closes.fetch_add(1, Ordering::Relaxed);
        socket = match connect_agent(&addr).await {
            Ok(socket) => socket,
            Err(_) => return,
        };
    }
}

/// The run and the latency a bench message's text carries (`bench <run> <sent ns>`).
fn stamp(text: &str, t0: Instant) -> Option<(u32, Duration)> {
    let mut words = text.strip_prefix("bench ")?.split(' ');
    let run = words.next()?.parse().ok()?;
    let sent = Duration::from_nanos(words.next()?.parse().ok()?);
    Some((run, t0.elapsed().saturating_sub(sent)))
}

/// A visitor socket after hello and welcome.
pub async fn connect_visitor(addr: &str) -> Result<Socket> {
    let url = format!("ws://{addr}/v1/visitor/ws");
    let (mut socket, _) =
        tokio::time::timeout(STEP_TIMEOUT, tokio_tungstenite::connect_async(url)).await??;
    let hello = ClientFrame::Hello {
        v: PROTOCOL_VERSION,
        site: "demo".into(),
        visitor: None,
        after_seq: None,
        lang: None,
        link: None,
    };
    socket
        .send(WsMessage::text(serde_json::to_string(&hello)?))
        .await?;
    loop {
        let frame = tokio::time::timeout(STEP_TIMEOUT, socket.next()).await?;
        let Some(frame) = frame else {
            bail!("the relay closed a visitor socket before its welcome");
        };
        if let WsMessage::Text(text) = frame? {
            return match serde_json::from_str::<ServerFrame>(&text)? {
                ServerFrame::Welcome { .. } => Ok(socket),
                other => bail!("expected welcome, got {other:?}"),
            };
        }
    }
}

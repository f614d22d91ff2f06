//! Latency samples and their percentiles.

use std::time::Duration;

/// Latencies of one kind (send → ack, or visitor → agent) from one run.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    times: Vec<Duration>,
}

/// p50 / p99 / max of a set of samples, with how many there were.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Samples {
    pub fn push(&mut self, time: Duration) {
        self.times.push(time);
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn summary(&mut self) -> Summary {
        if self.times.is_empty() {
            return Summary::default();
        }
        self.times.sort_unstable();
        let at = |q: f64| self.times[((self.times.len() - 1) as f64 * q).round() as usize];
        Summary {
            count: self.times.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// Milliseconds with two decimals, for tables.
pub fn ms(time: Duration) -> String {
    format!("{:.2}", time.as_secs_f64() * 1e3)
}

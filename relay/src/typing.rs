//! Typing indicators (W7): never stored, passed on through the hub, and throttled per socket.
//!
//! The widget and the console already send "still typing" at most every few seconds; the
//! throttle is for clients that do not, so one socket cannot flood every agent's console.

use std::time::{Duration, Instant};

/// What one socket last passed on.
#[derive(Debug, Default)]
pub struct TypingThrottle {
    last: Option<(bool, Instant)>,
}

impl TypingThrottle {
    /// Whether to pass on `typing` now: always when it changes the state, and a repeat only
    /// once `repeat` has passed since the last one passed on.
    pub fn pass(&mut self, typing: bool, now: Instant, repeat: Duration) -> bool {
        let pass = match self.last {
            Some((last, at)) if last == typing => now.saturating_duration_since(at) >= repeat,
            // "Stopped" with nothing started before says nothing new.
            None if !typing => false,
            _ => true,
        };
        if pass {
            self.last = Some((typing, now));
        }
        pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_pass_and_repeats_wait_for_the_interval() {
        let repeat = Duration::from_millis(1_000);
        let start = Instant::now();
        let mut throttle = TypingThrottle::default();
        assert!(!throttle.pass(false, start, repeat), "nothing to stop yet");
        assert!(throttle.pass(true, start, repeat));
        let just_before = start + Duration::from_millis(999);
        assert!(
            !throttle.pass(true, just_before, repeat),
            "repeat inside the interval"
        );
        let at_the_edge = start + repeat;
        assert!(
            throttle.pass(true, at_the_edge, repeat),
            "repeat at the interval"
        );
        assert!(
            throttle.pass(false, at_the_edge, repeat),
            "a change always passes"
        );
        assert!(!throttle.pass(false, at_the_edge, repeat));
    }

    #[test]
    fn a_zero_interval_passes_every_repeat() {
        let now = Instant::now();
        let mut throttle = TypingThrottle::default();
        assert!(throttle.pass(true, now, Duration::ZERO));
        assert!(throttle.pass(true, now, Duration::ZERO));
    }
}

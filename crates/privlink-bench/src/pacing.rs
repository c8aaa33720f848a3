//! What the two open-loop, paced loads share (DNS over UDP in `dns::paced`, request/response
//! over TCP in `gateway::latency`): the send schedule, nanosecond clocks and histograms, and
//! how their latencies are reported.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

use crate::stats::round2;

/// Longest sleep while waiting for the last replies.
const DRAIN_TICK: Duration = Duration::from_micros(200);

pub fn ns_histogram() -> Histogram<u64> {
    // Constant bounds, valid by construction: 1 ns to 100 s at 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("constant histogram bounds are valid")
}

/// Nanoseconds since the epoch on the clock SO_TIMESTAMPNS uses (CLOCK_REALTIME).
pub fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The schedule of a paced run: message i is due at i / rate seconds whether or not earlier
/// ones were answered, so a slow server cannot slow the client down and hide its own latency.
/// Messages due in the warm-up are sent but not measured. The clock starts at [`Schedule::new`].
pub struct Schedule {
    rate: f64,
    tick: Duration,
    grace: Duration,
    total: u64,
    measured_from: u64,
    start: Instant,
    /// The next message to send.
    next: u64,
    grace_until: Option<Instant>,
    first_measured: Option<Duration>,
    last_measured: Duration,
    /// Measured messages sent.
    pub sent: u64,
    /// How far behind its schedule the sender was when it sent, in nanoseconds.
    pub lag: Histogram<u64>,
}

impl Schedule {
    /// `tick`: shortest sleep between bursts; `grace`: how long to wait for the last replies.
    pub fn new(rate: f64, warmup: Duration, duration: Duration, tick: Duration, grace: Duration) -> Self {
        Schedule {
            rate,
            tick,
            grace,
            total: (rate * (warmup + duration).as_secs_f64()).round() as u64,
            measured_from: (rate * warmup.as_secs_f64()).round() as u64,
            start: Instant::now(),
            next: 0,
            grace_until: None,
            first_measured: None,
            last_measured: Duration::ZERO,
            sent: 0,
            lag: ns_histogram(),
        }
    }

    fn due(&self, i: u64) -> Duration {
        Duration::from_nanos((i as f64 * 1e9 / self.rate) as u64)
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The next message if it is due by `now` (read once per burst, so that a burst ends).
    pub fn next_due(&mut self, now: Duration) -> Option<u64> {
        let i = self.next;
        (i < self.total && self.due(i) <= now).then(|| {
            self.next += 1;
            i
        })
    }

    /// Whether message `i` falls after the warm-up.
    pub fn measured(&self, i: u64) -> bool {
        i >= self.measured_from
    }

    /// Message `i` has just gone out: for a measured one, note when and how late.
    pub fn record_send(&mut self, i: u64) {
        if !self.measured(i) {
            return;
        }
        let at = self.start.elapsed();
        self.sent += 1;
        self.first_measured.get_or_insert(at);
        self.last_measured = at;
        self.lag.saturating_record((at.saturating_sub(self.due(i)).as_nanos() as u64).max(1));
    }

    /// Between bursts: sleep until the next message is due (but at least `tick`), or once all
    /// are sent, a little while replies are `outstanding` and the grace period lasts. False
    /// when the run is over.
    pub fn pause(&mut self, outstanding: bool) -> bool {
        if self.next < self.total {
            let next = self.due(self.next);
            let now = self.start.elapsed();
            if next > now {
                std::thread::sleep((next - now).max(self.tick));
            }
            return true;
        }
        let until = *self.grace_until.get_or_insert_with(|| Instant::now() + self.grace);
        if !outstanding || Instant::now() >= until {
            return false;
        }
        std::thread::sleep(DRAIN_TICK);
        true
    }

    /// Seconds from the first to the last measured send.
    pub fn send_secs(&self) -> f64 {
        self.first_measured.map_or(0.0, |first| (self.last_measured - first).as_secs_f64())
    }
}

/// Nanoseconds as microseconds with one decimal.
pub fn us(ns: u64) -> f64 {
    (ns as f64 / 100.0).round() / 10.0
}

/// "p50 .. us, p99 .. us, p99.9 .. us, max .. us" of a nanosecond histogram.
pub fn latency_text(h: &Histogram<u64>) -> String {
    format!(
        "p50 {} us, p99 {} us, p99.9 {} us, max {} us",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        us(h.max()),
    )
}

/// The JSON fields of a paced run's latency and sender lag (nanosecond histograms), in
/// microseconds: what `privlink-bench summary` reads for both loads.
pub fn latency_fields(latency: &Histogram<u64>, lag: &Histogram<u64>) -> Map<String, Value> {
    let h = latency;
    let fields = json!({
        "p50_us": us(h.value_at_quantile(0.5)), "p90_us": us(h.value_at_quantile(0.9)),
        "p99_us": us(h.value_at_quantile(0.99)), "p999_us": us(h.value_at_quantile(0.999)),
        "max_us": us(h.max()), "mean_us": round2(h.mean() / 1000.0),
        "sender_lag_p99_us": us(lag.value_at_quantile(0.99)), "sender_lag_max_us": us(lag.max()),
    });
    match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_spreads_messages_and_skips_the_warmup() {
        let mut s =
            Schedule::new(1000.0, Duration::from_millis(2), Duration::from_millis(3), Duration::ZERO, Duration::ZERO);
        // Messages 0..5 at 0, 1, 2, 3 and 4 ms; the first two are the warm-up.
        assert_eq!(s.next_due(Duration::from_micros(1500)), Some(0));
        assert_eq!(s.next_due(Duration::from_micros(1500)), Some(1));
        assert_eq!(s.next_due(Duration::from_micros(1500)), None);
        assert!(!s.measured(1) && s.measured(2));
        s.record_send(1);
        assert_eq!(s.sent, 0);
        assert_eq!(s.next_due(Duration::from_secs(1)), Some(2));
        s.record_send(2);
        assert_eq!((s.sent, s.lag.len()), (1, 1));
        assert_eq!(s.next_due(Duration::from_secs(1)), Some(3));
        assert_eq!(s.next_due(Duration::from_secs(1)), Some(4));
        assert_eq!(s.next_due(Duration::from_secs(1)), None);
        // All sent, nothing outstanding: over.
        assert!(!s.pause(false));
    }

    #[test]
    fn microseconds_keep_one_decimal() {
        assert_eq!(us(12_345), 12.3);
        assert_eq!(us(12_350), 12.4);
    }
}

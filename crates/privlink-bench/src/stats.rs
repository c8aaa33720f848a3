//! Latency recording (HDR histograms in microseconds) and the report every load run prints:
//! one human line and one JSON line.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// Highest latency the histograms track (60 s); slower samples are clamped to it.
const MAX_MICROS: u64 = 60_000_000;

/// How many error messages a run keeps to show (the count is always exact).
const KEPT_ERRORS: usize = 5;

pub fn histogram() -> Histogram<u64> {
    // Constant bounds, valid by construction (1 <= low, high >= 2 * low, 3 significant figures).
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid")
}

pub fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_MICROS)
}

/// What one worker (or a whole run, once merged) observed.
pub struct Recorder {
    pub all: Histogram<u64>,
    pub by_kind: BTreeMap<&'static str, Histogram<u64>>,
    pub errors: u64,
    pub requests: u64,
    /// Polls beyond the first one of each long-running operation.
    pub extra_polls: u64,
    pub first_errors: Vec<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            all: histogram(),
            by_kind: BTreeMap::new(),
            errors: 0,
            requests: 0,
            extra_polls: 0,
            first_errors: Vec::new(),
        }
    }
}

impl Recorder {
    pub fn ok(&mut self, kind: &'static str, took: Duration) {
        let us = micros(took);
        self.all.saturating_record(us);
        self.by_kind.entry(kind).or_insert_with(histogram).saturating_record(us);
    }

    /// A part of an operation: reported on its own line, not counted as an operation.
    pub fn step(&mut self, kind: &'static str, took: Duration) {
        self.by_kind.entry(kind).or_insert_with(histogram).saturating_record(micros(took));
    }

    pub fn error(&mut self, kind: &'static str, err: &anyhow::Error) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(format!("{kind}: {err:#}"));
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        // Same bounds everywhere, so adding cannot fail; a failure would only lose samples.
        let _ = self.all.add(&other.all);
        for (kind, h) in other.by_kind {
            let _ = self.by_kind.entry(kind).or_insert_with(histogram).add(&h);
        }
        self.errors += other.errors;
        self.requests += other.requests;
        self.extra_polls += other.extra_polls;
        for e in other.first_errors {
            if self.first_errors.len() < KEPT_ERRORS {
                self.first_errors.push(e);
            }
        }
    }
}

fn summary(h: &Histogram<u64>, elapsed: f64) -> Value {
    json!({
        "ops": h.len(),
        "ops_per_s": round2(h.len() as f64 / elapsed.max(1e-9)),
        "p50_us": h.value_at_quantile(0.50),
        "p99_us": h.value_at_quantile(0.99),
        "max_us": h.max(),
        "mean_us": round2(h.mean()),
    })
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A latency for people: microseconds below 1 ms, milliseconds above.
pub fn ms(us: u64) -> String {
    if us < 1000 {
        format!("{us} us")
    } else {
        format!("{:.2} ms", us as f64 / 1000.0)
    }
}

/// Print the human line (plus per-kind lines and sample errors) and the JSON line of a run.
/// `labels` become the first fields of the JSON object.
pub fn report(labels: Value, rec: &Recorder, elapsed: Duration) -> Value {
    let secs = elapsed.as_secs_f64();
    let mut doc = match labels {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let overall = summary(&rec.all, secs);
    if let Value::Object(o) = &overall {
        for (k, v) in o {
            doc.insert(k.clone(), v.clone());
        }
    }
    doc.insert("elapsed_s".into(), json!(round2(secs)));
    doc.insert("requests".into(), json!(rec.requests));
    doc.insert("requests_per_s".into(), json!(round2(rec.requests as f64 / secs.max(1e-9))));
    doc.insert("errors".into(), json!(rec.errors));
    doc.insert("extra_polls".into(), json!(rec.extra_polls));
    let kinds: serde_json::Map<String, Value> =
        rec.by_kind.iter().map(|(k, h)| (k.to_string(), summary(h, secs))).collect();
    doc.insert("by_kind".into(), Value::Object(kinds));

    let name = [doc.get("bench"), doc.get("scenario")]
        .iter()
        .filter_map(|v| v.and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let concurrency = doc.get("concurrency").and_then(Value::as_u64).unwrap_or(0);
    out!(
        "{name} c={concurrency}: {:.1} ops/s ({:.1} req/s), p50 {}, p99 {}, max {}, errors {} ({} ops in {:.1} s)",
        rec.all.len() as f64 / secs.max(1e-9),
        rec.requests as f64 / secs.max(1e-9),
        ms(rec.all.value_at_quantile(0.50)),
        ms(rec.all.value_at_quantile(0.99)),
        ms(rec.all.max()),
        rec.errors,
        rec.all.len(),
        secs,
    );
    if rec.by_kind.len() > 1 {
        for (kind, h) in &rec.by_kind {
            out!(
                "    {kind:<8} {:>8} ops  p50 {:>10}  p99 {:>10}  max {:>10}",
                h.len(),
                ms(h.value_at_quantile(0.50)),
                ms(h.value_at_quantile(0.99)),
                ms(h.max())
            );
        }
    }
    for e in &rec.first_errors {
        err!("    error: {e}");
    }
    let doc = Value::Object(doc);
    out!("{doc}");
    doc
}

//! Running Debian's `dnsperf` against one server and reading its statistics block, so that the
//! figures land in the same JSON lines as everything else.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// What dnsperf printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    /// `(rcode name, count)` as dnsperf lists them.
    pub rcodes: Vec<(String, u64)>,
    pub run_secs: f64,
    pub qps: f64,
    pub avg_latency_s: f64,
    pub min_latency_s: f64,
    pub max_latency_s: f64,
    pub stddev_latency_s: Option<f64>,
}

/// Runs `dnsperf -s ip -p port -d queries ARGS...` and parses its output.
pub fn run(server: SocketAddr, queries: &Path, args: &[String]) -> Result<(Stats, String)> {
    let output = Command::new("dnsperf")
        .arg("-s")
        .arg(server.ip().to_string())
        .arg("-p")
        .arg(server.port().to_string())
        .arg("-d")
        .arg(queries)
        .args(args)
        .output()
        .context("running dnsperf (apt-get install dnsperf)")?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("dnsperf exited with {}: {}{}", output.status, stdout, String::from_utf8_lossy(&output.stderr));
    }
    let stats = parse(&stdout).with_context(|| format!("reading dnsperf's output:\n{stdout}"))?;
    Ok((stats, stdout))
}

/// Reads the `Statistics:` block of dnsperf 2.x.
pub fn parse(text: &str) -> Result<Stats> {
    let mut s = Stats::default();
    let first_number = |v: &str| -> Result<f64> {
        let word = v.split_whitespace().next().context("no value")?;
        word.parse::<f64>().with_context(|| format!("not a number: {word}"))
    };
    let mut seen = 0;
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once(':') else { continue };
        let value = value.trim();
        match key {
            "Queries sent" => (s.sent, seen) = (first_number(value)? as u64, seen + 1),
            "Queries completed" => (s.completed, seen) = (first_number(value)? as u64, seen + 1),
            "Queries lost" => s.lost = first_number(value)? as u64,
            "Run time (s)" => s.run_secs = first_number(value)?,
            "Queries per second" => (s.qps, seen) = (first_number(value)?, seen + 1),
            "Average Latency (s)" => {
                s.avg_latency_s = first_number(value)?;
                // "0.000332 (min 0.000009, max 0.005136)"
                let inner = value.split_once('(').map(|(_, r)| r.trim_end_matches(')')).unwrap_or("");
                for part in inner.split(',') {
                    match part.split_whitespace().collect::<Vec<_>>()[..] {
                        ["min", v] => s.min_latency_s = v.parse().unwrap_or(0.0),
                        ["max", v] => s.max_latency_s = v.parse().unwrap_or(0.0),
                        _ => {}
                    }
                }
                seen += 1;
            }
            "Latency StdDev (s)" => s.stddev_latency_s = Some(first_number(value)?),
            "Response codes" => {
                // "NOERROR 129996 (50.00%), NXDOMAIN 64998 (25.00%)"
                for part in value.split(',') {
                    let mut words = part.split_whitespace();
                    if let (Some(code), Some(n)) = (words.next(), words.next().and_then(|n| n.parse().ok())) {
                        s.rcodes.push((code.to_string(), n));
                    }
                }
            }
            _ => {}
        }
    }
    if seen < 4 {
        bail!("no statistics block (sent, completed, queries per second, average latency)");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::parse;

    const OUTPUT: &str = "DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.78.0.1 -p 53531 -d q.txt -l 2 -c 2
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         259992
  Queries completed:    259990 (100.00%)
  Queries lost:         2 (0.00%)

  Response codes:       NOERROR 129996 (50.00%), NXDOMAIN 64998 (25.00%), REFUSED 64996 (25.00%)
  Average packet size:  request 42, response 54
  Run time (s):         2.000053
  Queries per second:   129992.555197

  Average Latency (s):  0.000332 (min 0.000009, max 0.005136)
  Latency StdDev (s):   0.000274
";

    #[test]
    fn reads_the_statistics_block() {
        let s = parse(OUTPUT).unwrap();
        assert_eq!((s.sent, s.completed, s.lost), (259_992, 259_990, 2));
        assert!((s.qps - 129_992.555197).abs() < 1e-6);
        assert_eq!((s.avg_latency_s, s.min_latency_s, s.max_latency_s), (0.000332, 0.000009, 0.005136));
        assert_eq!(s.stddev_latency_s, Some(0.000274));
        assert_eq!(s.rcodes[2], ("REFUSED".to_string(), 64_996));
        assert!((s.run_secs - 2.000053).abs() < 1e-9);
        assert!(parse("dnsperf: invalid option").is_err());
    }
}

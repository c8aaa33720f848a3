//! Where the CPU went during one measurement (Linux /proc): the whole machine, each named server
//! process, this client with the children it waited for (dnsperf), and the rest. The rest is
//! whatever else ran on the machine meanwhile: on a shared 2-core machine it is what tells a
//! clean measurement from a disturbed one.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::stats::round2;

/// A server process to account for: `NAME=PID`.
#[derive(Clone, Debug)]
pub struct Pid {
    pub name: String,
    pub pid: u32,
}

pub fn pid(text: &str) -> Result<Pid, String> {
    let (name, pid) = text.split_once('=').ok_or("expected NAME=PID")?;
    let pid = pid.parse().map_err(|e| format!("{pid}: {e}"))?;
    Ok(Pid { name: name.to_string(), pid })
}

pub struct Snapshot {
    at: Instant,
    /// Busy and total ticks of the machine (all CPUs).
    machine: Option<(u64, u64)>,
    servers: Vec<Option<u64>>,
    client_s: f64,
}

pub fn snapshot(pids: &[Pid]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        machine: machine_ticks(),
        servers: pids.iter().map(|p| process_ticks(p.pid)).collect(),
        client_s: client_secs(),
    }
}

/// The CPU used since `before`, as a JSON object (empty where /proc could not be read).
pub fn since(before: &Snapshot, pids: &[Pid]) -> Value {
    let after = snapshot(pids);
    let hz = ticks_per_second();
    let wall = before.at.elapsed().as_secs_f64();
    let mut doc = Map::new();
    doc.insert("wall_s".into(), json!(round2(wall)));
    let client = after.client_s - before.client_s;
    doc.insert("client_s".into(), json!(round2(client)));
    let mut servers = Map::new();
    let mut accounted = client;
    for ((p, b), a) in pids.iter().zip(&before.servers).zip(&after.servers) {
        if let (Some(b), Some(a)) = (b, a) {
            let secs = a.saturating_sub(*b) as f64 / hz;
            accounted += secs;
            servers.insert(p.name.clone(), json!(round2(secs)));
        }
    }
    doc.insert("servers".into(), Value::Object(servers));
    if let (Some((b0, t0)), Some((b1, t1))) = (before.machine, after.machine) {
        let busy = b1.saturating_sub(b0) as f64 / hz;
        let total = t1.saturating_sub(t0) as f64 / hz;
        doc.insert("machine_busy_s".into(), json!(round2(busy)));
        doc.insert("machine_busy_pct".into(), json!(round2(100.0 * busy / total.max(1e-9))));
        doc.insert("other_s".into(), json!(round2((busy - accounted).max(0.0))));
        doc.insert("other_pct".into(), json!(round2(100.0 * (busy - accounted).max(0.0) / total.max(1e-9))));
    }
    Value::Object(doc)
}

/// The `cpu` object of a measurement for people: "cpu privlink 3.1 s, client 1.2 s, other 0.0 s".
pub fn text(cpu: &Value) -> String {
    let secs = |v: &Value| v.as_f64().map_or_else(|| "?".to_string(), |x| format!("{x:.1} s"));
    let mut parts: Vec<String> = Vec::new();
    for (name, v) in cpu.get("servers").and_then(Value::as_object).into_iter().flatten() {
        parts.push(format!("{name} {}", secs(v)));
    }
    parts.push(format!("client {}", secs(&cpu["client_s"])));
    if cpu.get("other_s").is_some() {
        parts.push(format!("other {}", secs(&cpu["other_s"])));
    }
    format!("cpu {}", parts.join(", "))
}

/// On a shared machine: waits up to `limit` for the machine to be idle (under 10% busy over
/// one second) before a measurement. Gives up quietly: the measurement records what else ran.
pub fn wait_quiet(limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let Some((b0, t0)) = machine_ticks() else { return };
        std::thread::sleep(Duration::from_secs(1));
        let Some((b1, t1)) = machine_ticks() else { return };
        if 10 * b1.saturating_sub(b0) < t1.saturating_sub(t0) {
            return;
        }
    }
}

/// Busy (user, nice, system, irq, softirq) and total ticks from the first line of /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = text.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    let busy = field(0) + field(1) + field(2) + field(5) + field(6);
    Some((busy, busy + field(3) + field(4)))
}

/// User plus system ticks of a process (fields 14 and 15 of /proc/PID/stat).
fn process_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU seconds of this process and of the children it has waited for.
#[cfg(unix)]
fn client_secs() -> f64 {
    let secs = |who| {
        // SAFETY: rusage is plain data (all-zero is valid), and getrusage only fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(usage.ru_utime) + tv(usage.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

#[cfg(not(unix))]
fn client_secs() -> f64 {
    0.0
}

#[cfg(unix)]
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as f64
    } else {
        100.0
    }
}

#[cfg(not(unix))]
fn ticks_per_second() -> f64 {
    100.0
}

#[cfg(test)]
mod tests {
    use super::{pid, since, snapshot};

    #[test]
    fn accounts_for_this_process() {
        let me = pid(&format!("me={}", std::process::id())).unwrap();
        let before = snapshot(std::slice::from_ref(&me));
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed().as_millis() < 50 {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let doc = since(&before, &[me]);
        assert!(doc["client_s"].as_f64().unwrap() > 0.0, "{doc}");
        assert!(doc["servers"]["me"].as_f64().is_some(), "{doc}");
        assert!(pid("x").is_err() && pid("x=y").is_err());
        std::hint::black_box(x);
    }
}

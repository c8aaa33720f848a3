//! An open-loop, paced UDP load with every reply's latency recorded: queries leave on a fixed
//! schedule (query i at i / rate seconds) whether or not earlier ones were answered, so a slow
//! server cannot slow the client down and hide its own latency (coordinated omission).
//!
//! One thread does everything, because on a 2-core machine every client thread takes CPU from the
//! server being measured (a first version with a receiver thread per socket spent 0.7 of a core
//! at 50,000 queries/s, and its own scheduling showed up in the p99). It sends what is due,
//! spreading queries round-robin over `sockets` connected UDP sockets, drains the replies without
//! blocking, and sleeps until the next query is due, but at least `tick` (100 us by default):
//! queries due meanwhile leave together, 2 at a time at 20,000/s and 5 at 50,000/s. Timer wakeups
//! are dear in a VM (sleeping for each query alone cost 0.6 of a core at 20,000/s, mostly in
//! the kernel). Replies are matched to send times by DNS id (a table of 65,536 per socket).
//! Latency runs from just before the send call to the kernel's receive timestamp of the reply
//! (SO_TIMESTAMPNS), so a reply that waits while the thread sleeps or sends is not charged for
//! the wait. How far the sender fell behind its schedule is reported too: when the client itself
//! lags, the achieved rate is below the target.
//!
//! A query whose id comes round again (65,536 queries later on the same socket, seconds later)
//! before it was answered, or that is unanswered when the run ends, is lost.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;

use super::wire::reply_header;
use crate::os;

/// Longest sleep while waiting for the last replies.
const DRAIN_TICK: Duration = Duration::from_micros(200);

pub struct Plan {
    pub rate: f64,
    /// Sent but not recorded first (the servers' caches and the client's threads settle).
    pub warmup: Duration,
    pub duration: Duration,
    pub sockets: usize,
    /// Shortest sleep between bursts: what is due meanwhile goes out together.
    pub tick: Duration,
    /// How long to wait for the last replies after the last query.
    pub grace: Duration,
}

/// What a run observed (only queries sent after the warm-up count).
pub struct Outcome {
    pub sent: u64,
    /// Queries sent in all, the warm-up's included.
    pub sent_all: u64,
    pub answered: u64,
    pub lost: u64,
    /// Replies whose query was already counted lost (or unknown ids).
    pub late: u64,
    pub send_errors: u64,
    /// Latency in nanoseconds.
    pub latency: Histogram<u64>,
    /// Replies by response code (index = rcode, 0..=15).
    pub rcodes: [u64; 16],
    /// How far behind its schedule the sender was when it sent, in nanoseconds.
    pub lag: Histogram<u64>,
    /// Seconds from the first to the last query measured.
    pub send_secs: f64,
}

fn ns_histogram() -> Histogram<u64> {
    // Constant bounds, valid by construction: 1 ns to 100 s at 3 significant figures.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("constant histogram bounds are valid")
}

/// Nanoseconds since the epoch on the clock SO_TIMESTAMPNS uses (CLOCK_REALTIME).
fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// One client socket and its outstanding queries: by id, 0 = none, else the send time
/// (`wall_ns`) shifted left by one, with the low bit set when the query is measured.
struct Client {
    socket: UdpSocket,
    pending: Vec<u64>,
}

pub fn run(target: SocketAddr, packets: &[Vec<u8>], plan: &Plan) -> Result<Outcome> {
    if packets.is_empty() || !(plan.rate.is_finite() && plan.rate > 0.0) || plan.sockets == 0 {
        bail!("a paced run needs queries, a positive rate and at least one socket");
    }
    let local = SocketAddr::new(if target.is_ipv4() { [127, 0, 0, 1].into() } else { [0u16; 8].into() }, 0);
    let mut clients = Vec::with_capacity(plan.sockets);
    for _ in 0..plan.sockets {
        let socket = UdpSocket::bind(local).context("binding a client socket")?;
        socket.connect(target).with_context(|| format!("connecting to {target}"))?;
        socket.set_nonblocking(true).context("making a client socket non-blocking")?;
        os::enable_timestamps(&socket).context("enabling SO_TIMESTAMPNS")?;
        clients.push(Client { socket, pending: vec![0; 1 << 16] });
    }
    os::precise_sleeps();

    let total = (plan.rate * (plan.warmup + plan.duration).as_secs_f64()).round() as u64;
    let measured_from = (plan.rate * plan.warmup.as_secs_f64()).round() as u64;
    // The schedule: query i is due at i / rate seconds.
    let due = |i: u64| Duration::from_nanos((i as f64 * 1e9 / plan.rate) as u64);
    let mut o = Outcome {
        sent: 0,
        sent_all: 0,
        answered: 0,
        lost: 0,
        late: 0,
        send_errors: 0,
        latency: ns_histogram(),
        rcodes: [0; 16],
        lag: ns_histogram(),
        send_secs: 0.0,
    };
    let (mut outstanding, mut first_measured, mut last_measured) = (0u64, None, Duration::ZERO);
    let mut query = [0u8; 512];
    let mut reply = [0u8; 4096];
    let start = Instant::now();
    let mut i = 0u64;
    let mut grace_until = None;
    loop {
        let now = start.elapsed();
        // Everything due by now goes out in this burst.
        while i < total && due(i) <= now {
            let k = (i % plan.sockets as u64) as usize;
            let id = ((i / plan.sockets as u64) & 0xffff) as u16;
            let template = &packets[(i % packets.len() as u64) as usize];
            let len = template.len().min(query.len());
            query[..len].copy_from_slice(&template[..len]);
            query[..2].copy_from_slice(&id.to_be_bytes());
            let measured = i >= measured_from;
            let client = &mut clients[k];
            let sent_at = wall_ns();
            let previous = std::mem::replace(&mut client.pending[usize::from(id)], sent_at << 1 | u64::from(measured));
            if previous != 0 {
                outstanding -= 1;
                o.lost += previous & 1;
            }
            o.sent_all += 1;
            if client.socket.send(&query[..len]).is_ok() {
                outstanding += 1;
            } else {
                o.send_errors += 1;
                client.pending[usize::from(id)] = 0;
            }
            if measured {
                let at = start.elapsed();
                o.sent += 1;
                first_measured.get_or_insert(at);
                last_measured = at;
                o.lag.saturating_record((at.saturating_sub(due(i)).as_nanos() as u64).max(1));
            }
            i += 1;
        }
        for client in &mut clients {
            // Refused (no server yet) or any other error: nothing more to read now.
            while let Ok(Some((len, stamp))) = os::recv(&client.socket, &mut reply) {
                let Some((id, rcode)) = reply_header(&reply[..len]) else { continue };
                let slot = std::mem::take(&mut client.pending[usize::from(id)]);
                if slot == 0 {
                    o.late += 1;
                    continue;
                }
                outstanding -= 1;
                if slot & 1 == 1 {
                    let received = stamp.unwrap_or_else(wall_ns);
                    o.latency.saturating_record(received.saturating_sub(slot >> 1).max(1));
                    o.rcodes[usize::from(rcode)] += 1;
                    o.answered += 1;
                }
            }
        }
        if i < total {
            let next = due(i);
            let now = start.elapsed();
            if next > now {
                std::thread::sleep((next - now).max(plan.tick));
            }
            continue;
        }
        let until = *grace_until.get_or_insert_with(|| Instant::now() + plan.grace);
        if outstanding == 0 || Instant::now() >= until {
            break;
        }
        std::thread::sleep(DRAIN_TICK);
    }
    o.lost += clients.iter().flat_map(|c| &c.pending).filter(|slot| *slot & 1 == 1).count() as u64;
    o.send_secs = first_measured.map_or(0.0, |first| (last_measured - first).as_secs_f64());
    Ok(o)
}

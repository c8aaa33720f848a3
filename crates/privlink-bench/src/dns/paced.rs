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
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;

use super::wire::reply_header;
use crate::os;
use crate::pacing::{ns_histogram, wall_ns, Schedule};

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

    let (mut sent_all, mut answered, mut lost, mut late, mut send_errors) = (0, 0, 0, 0, 0);
    let (mut latency, mut rcodes) = (ns_histogram(), [0; 16]);
    let mut outstanding = 0u64;
    let mut query = [0u8; 512];
    let mut reply = [0u8; 4096];
    let mut schedule = Schedule::new(plan.rate, plan.warmup, plan.duration, plan.tick, plan.grace);
    loop {
        let now = schedule.elapsed();
        // Everything due by now goes out in this burst.
        while let Some(i) = schedule.next_due(now) {
            let k = (i % plan.sockets as u64) as usize;
            let id = ((i / plan.sockets as u64) & 0xffff) as u16;
            let template = &packets[(i % packets.len() as u64) as usize];
            let len = template.len().min(query.len());
            query[..len].copy_from_slice(&template[..len]);
            query[..2].copy_from_slice(&id.to_be_bytes());
            let measured = schedule.measured(i);
            let client = &mut clients[k];
            let sent_at = wall_ns();
            let previous = std::mem::replace(&mut client.pending[usize::from(id)], sent_at << 1 | u64::from(measured));
            if previous != 0 {
                outstanding -= 1;
                lost += previous & 1;
            }
            sent_all += 1;
            if client.socket.send(&query[..len]).is_ok() {
                outstanding += 1;
            } else {
                send_errors += 1;
                client.pending[usize::from(id)] = 0;
            }
            schedule.record_send(i);
        }
        for client in &mut clients {
            // Refused (no server yet) or any other error: nothing more to read now.
            while let Ok(Some((len, stamp))) = os::recv(&client.socket, &mut reply) {
                let Some((id, rcode)) = reply_header(&reply[..len]) else { continue };
                let slot = std::mem::take(&mut client.pending[usize::from(id)]);
                if slot == 0 {
                    late += 1;
                    continue;
                }
                outstanding -= 1;
                if slot & 1 == 1 {
                    let received = stamp.unwrap_or_else(wall_ns);
                    latency.saturating_record(received.saturating_sub(slot >> 1).max(1));
                    rcodes[usize::from(rcode)] += 1;
                    answered += 1;
                }
            }
        }
        if !schedule.pause(outstanding > 0) {
            break;
        }
    }
    lost += clients.iter().flat_map(|c| &c.pending).filter(|slot| *slot & 1 == 1).count() as u64;
    Ok(Outcome {
        sent: schedule.sent,
        sent_all,
        answered,
        lost,
        late,
        send_errors,
        latency,
        rcodes,
        send_secs: schedule.send_secs(),
        lag: schedule.lag,
    })
}

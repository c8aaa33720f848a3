//! Request/response latency on long-lived connections: an open-loop, paced load like the DNS
//! one ([`crate::dns`]'s `paced`), over TCP. Message i (`size` bytes) is due at i / rate seconds
//! and goes out on connection i mod `connections` whether or not earlier ones came back, so a
//! slow path cannot slow the client down and hide its own latency. The backend echoes; replies
//! come back in order on each connection, so each connection matches them to send times first
//! in, first out.
//!
//! One thread does everything, for the reasons the DNS client gives (every client thread takes
//! CPU from the servers measured on 2 cores; timer wakeups are dear in a VM): it sends what is
//! due, reads what has arrived without blocking, and sleeps until the next message is due, but
//! at least `tick`. Latency runs from just before the send call to the kernel's receive
//! timestamp (SO_TIMESTAMPNS) of the segment that completed the reply, so a reply that waits
//! while the thread sleeps is not charged for the wait. When one read returns two replies, both
//! get the later segment's stamp (rare at these rates: a connection mostly has one message out).

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;

use super::wire::{self, Command, Path};
use crate::os;
use crate::pacing::{ns_histogram, wall_ns, Schedule};

pub struct Plan {
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub connections: usize,
    pub size: usize,
    pub tick: Duration,
    pub grace: Duration,
}

/// What a run observed (only messages sent after the warm-up count).
pub struct Outcome {
    pub sent: u64,
    pub answered: u64,
    /// Measured messages still unanswered when the grace period ended.
    pub unanswered: u64,
    /// Nanoseconds, send to reply.
    pub latency: Histogram<u64>,
    /// How far behind its schedule the sender was when it sent, in nanoseconds.
    pub lag: Histogram<u64>,
    pub send_secs: f64,
}

/// One connection: its send times (`wall_ns` shifted left by one, the low bit set when the
/// message is measured), how much of the oldest reply has arrived, and bytes not yet written.
struct Conn {
    stream: TcpStream,
    pending: VecDeque<u64>,
    partial: usize,
    unsent: Vec<u8>,
}

impl Conn {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.unsent.is_empty() {
            match self.stream.write(bytes) {
                Ok(n) if n == bytes.len() => return Ok(()),
                Ok(n) => self.unsent.extend_from_slice(&bytes[n..]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.unsent.extend_from_slice(bytes),
                Err(e) => return Err(e),
            }
        } else {
            self.unsent.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        while !self.unsent.is_empty() {
            match self.stream.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

pub fn run(path: &Path, plan: &Plan) -> Result<Outcome> {
    if !(plan.rate.is_finite() && plan.rate > 0.0) || plan.connections == 0 || plan.size == 0 {
        bail!("a latency run needs a positive rate, connections and a message size");
    }
    let mut conns = Vec::with_capacity(plan.connections);
    for _ in 0..plan.connections {
        let mut stream = wire::connect(path).with_context(|| format!("connecting to {path}"))?;
        stream.write_all(&wire::header(Command::Echo, 0))?;
        stream.set_nonblocking(true)?;
        os::enable_timestamps(&stream).context("enabling SO_TIMESTAMPNS")?;
        conns.push(Conn { stream, pending: VecDeque::new(), partial: 0, unsent: Vec::new() });
    }
    os::precise_sleeps();

    let message: Vec<u8> = (0..plan.size).map(|i| i as u8).collect();
    let mut reply = vec![0u8; 64 * 1024];
    let (mut answered, mut latency) = (0, ns_histogram());
    let mut schedule = Schedule::new(plan.rate, plan.warmup, plan.duration, plan.tick, plan.grace);
    loop {
        let now = schedule.elapsed();
        while let Some(i) = schedule.next_due(now) {
            let conn = &mut conns[(i % plan.connections as u64) as usize];
            conn.pending.push_back(wall_ns() << 1 | u64::from(schedule.measured(i)));
            conn.write(&message).with_context(|| format!("sending on {path}"))?;
            schedule.record_send(i);
        }
        let mut outstanding = 0;
        for conn in &mut conns {
            conn.flush().with_context(|| format!("sending on {path}"))?;
            while let Some((len, stamp)) =
                os::recv(&conn.stream, &mut reply).with_context(|| format!("reading {path}"))?
            {
                if len == 0 {
                    bail!("{path} closed a connection");
                }
                let received = stamp.unwrap_or_else(wall_ns);
                let mut left = len;
                while left > 0 {
                    let take = left.min(plan.size - conn.partial);
                    conn.partial += take;
                    left -= take;
                    if conn.partial == plan.size {
                        conn.partial = 0;
                        let Some(slot) = conn.pending.pop_front() else { bail!("{path} sent more than it was sent") };
                        if slot & 1 == 1 {
                            latency.saturating_record(received.saturating_sub(slot >> 1).max(1));
                            answered += 1;
                        }
                    }
                }
            }
            outstanding += conn.pending.len();
        }
        if !schedule.pause(outstanding > 0) {
            break;
        }
    }
    Ok(Outcome {
        sent: schedule.sent,
        answered,
        unanswered: conns.iter().flat_map(|c| &c.pending).filter(|slot| *slot & 1 == 1).count() as u64,
        latency,
        send_secs: schedule.send_secs(),
        lag: schedule.lag,
    })
}

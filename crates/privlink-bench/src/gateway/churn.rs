//! Connections per second: `concurrency` blocking threads, each opening a connection along the
//! path (through a proxy: with its CONNECT), sending the header and a small message in one write,
//! reading the echo, and closing, back to back until the time is up. Each connection's time,
//! from connect to the echo, goes into a histogram (microseconds).
//!
//! The client closes first, so its side keeps the TIME_WAIT; Linux reuses those ports for new
//! connections on loopback (`net.ipv4.tcp_tw_reuse` = 2, the default), so a run is not bounded
//! by the ephemeral port range.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;

use super::wire::{self, Command, Path};
use crate::stats::{histogram, micros};

/// How many failures a run keeps to show (the count is exact).
const KEPT_ERRORS: usize = 3;

pub struct Plan {
    pub concurrency: usize,
    pub duration: Duration,
    /// Bytes sent and echoed per connection.
    pub message: usize,
}

pub struct Outcome {
    pub completed: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    /// Microseconds per connection, connect to echo.
    pub latency: Histogram<u64>,
    pub secs: f64,
}

pub fn run(path: &Path, plan: &Plan) -> Result<Outcome> {
    let began = Instant::now();
    let deadline = began + plan.duration;
    let workers: Vec<_> = (0..plan.concurrency.max(1))
        .map(|_| {
            let (path, size) = (path.clone(), plan.message);
            std::thread::spawn(move || {
                let mut request = wire::header(Command::Echo, 0).to_vec();
                request.extend((0..size).map(|i| i as u8));
                let mut echo = vec![0u8; size];
                let mut o =
                    Outcome { completed: 0, errors: 0, first_errors: Vec::new(), latency: histogram(), secs: 0.0 };
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match once(&path, &request, &mut echo) {
                        Ok(()) => {
                            o.latency.saturating_record(micros(started.elapsed()));
                            o.completed += 1;
                        }
                        Err(e) => {
                            o.errors += 1;
                            if o.first_errors.len() < KEPT_ERRORS {
                                o.first_errors.push(e.to_string());
                            }
                        }
                    }
                }
                o
            })
        })
        .collect();
    let mut total = Outcome { completed: 0, errors: 0, first_errors: Vec::new(), latency: histogram(), secs: 0.0 };
    for w in workers {
        let o = w.join().map_err(|_| anyhow!("a connection thread panicked"))?;
        total.completed += o.completed;
        total.errors += o.errors;
        // Same bounds everywhere: adding cannot fail.
        let _ = total.latency.add(&o.latency);
        for e in o.first_errors {
            if total.first_errors.len() < KEPT_ERRORS {
                total.first_errors.push(e);
            }
        }
    }
    total.secs = began.elapsed().as_secs_f64();
    Ok(total)
}

/// One connection: open, one exchange, close.
fn once(path: &Path, request: &[u8], echo: &mut [u8]) -> io::Result<()> {
    let mut stream = wire::connect(path)?;
    stream.set_read_timeout(Some(wire::CONNECT_TIMEOUT))?;
    stream.write_all(request)?;
    stream.read_exact(echo)?;
    if echo != &request[wire::HEADER_LEN..] {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the echo differs"));
    }
    Ok(())
}

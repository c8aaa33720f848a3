//! Bulk throughput: `streams` connections along one path, each moving `bytes` one way
//! (download: the backend sends; upload: the client sends) or both ways at once (the backend
//! echoes). Blocking threads, one per stream (two for both ways): on a 2-core machine the
//! cheapest client there is, with no event loop between the socket and the copy.
//!
//! The connections (and, through a proxy, their CONNECTs) are made before the clock starts; the
//! clock runs from releasing all streams together to the end of the last one.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::wire::{self, Command, Path};

/// The client's read and write size.
const CHUNK: usize = 256 * 1024;
/// A stream that moves nothing for this long has failed.
const STALL: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// The backend sends (a download).
    Down,
    /// The client sends (an upload); the backend answers with the count at the end.
    Up,
    /// Both at once: the backend echoes what the client sends.
    Both,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Down => "down",
            Direction::Up => "up",
            Direction::Both => "both",
        }
    }
}

pub struct Plan {
    pub streams: usize,
    pub bytes: u64,
    pub direction: Direction,
}

pub struct Outcome {
    /// Bytes moved in each direction the plan moves (per direction for `Both`).
    pub bytes: u64,
    pub secs: f64,
    /// Each stream's time from the start to its end.
    pub stream_secs: Vec<f64>,
}

pub fn run(path: &Path, plan: &Plan) -> Result<Outcome> {
    let mut streams = Vec::with_capacity(plan.streams);
    for _ in 0..plan.streams.max(1) {
        let stream = wire::connect(path).with_context(|| format!("connecting to {path}"))?;
        stream.set_read_timeout(Some(STALL))?;
        stream.set_write_timeout(Some(STALL))?;
        streams.push(stream);
    }
    let start = Arc::new(Barrier::new(streams.len() + 1));
    let (bytes, direction) = (plan.bytes, plan.direction);
    let handles: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let start = start.clone();
            std::thread::spawn(move || -> io::Result<Instant> {
                let mut buf = vec![0u8; CHUNK];
                start.wait();
                transfer(stream, bytes, direction, &mut buf)?;
                Ok(Instant::now())
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut stream_secs = Vec::new();
    let mut failure = None;
    for handle in handles {
        match handle.join() {
            Ok(Ok(ended)) => stream_secs.push(ended.duration_since(began).as_secs_f64()),
            Ok(Err(e)) => failure = Some(anyhow!(e)),
            Err(_) => failure = Some(anyhow!("a stream thread panicked")),
        }
    }
    if let Some(e) = failure {
        return Err(e.context(format!("bulk {} through {path}", direction.name())));
    }
    let secs = began.elapsed().as_secs_f64();
    Ok(Outcome { bytes: bytes * stream_secs.len() as u64, secs, stream_secs })
}

fn transfer(mut stream: TcpStream, bytes: u64, direction: Direction, buf: &mut [u8]) -> io::Result<()> {
    match direction {
        Direction::Down => {
            stream.write_all(&wire::header(Command::Download, bytes))?;
            read_exactly(&mut stream, bytes, buf)
        }
        Direction::Up => {
            stream.write_all(&wire::header(Command::Upload, bytes))?;
            write_zeros(&mut stream, bytes, buf)?;
            let mut ack = [0u8; 8];
            stream.read_exact(&mut ack)?;
            if u64::from_le_bytes(ack) != bytes {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "the backend counted otherwise"));
            }
            Ok(())
        }
        Direction::Both => {
            stream.write_all(&wire::header(Command::BulkEcho, 0))?;
            let mut writer = stream.try_clone()?;
            std::thread::scope(|scope| {
                let sent = scope.spawn(move || -> io::Result<()> {
                    let zeros = vec![0u8; CHUNK];
                    let mut left = bytes;
                    while left > 0 {
                        let n = left.min(zeros.len() as u64) as usize;
                        writer.write_all(&zeros[..n])?;
                        left -= n as u64;
                    }
                    writer.shutdown(Shutdown::Write)
                });
                let received = read_exactly(&mut stream, bytes, buf);
                let sent = sent.join().unwrap_or_else(|_| Err(io::Error::other("the writer panicked")));
                received.and(sent)
            })
        }
    }
}

fn read_exactly(stream: &mut TcpStream, bytes: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut left = bytes;
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{left} bytes short")));
        }
        left -= n as u64;
    }
    Ok(())
}

fn write_zeros(stream: &mut TcpStream, bytes: u64, buf: &mut [u8]) -> io::Result<()> {
    buf.fill(0);
    let mut left = bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        stream.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Checks a plan before any connection is made.
pub fn check(plan: &Plan) -> Result<()> {
    if plan.bytes == 0 || plan.streams == 0 {
        bail!("a bulk run needs at least one stream and one byte");
    }
    Ok(())
}

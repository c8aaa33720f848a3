//! The backend every path leads to (`privlink-bench gateway backend`): echo, source and sink
//! on 127.0.0.1, speaking the header of [`super::wire`].
//!
//! It is a process of its own, not tasks in the measuring client. On 2 cores the client's
//! blocking threads and its paced loop would otherwise share a process, and a runtime, with the
//! server they measure: a busy client would delay the backend's reads and inflate every path's
//! figures alike, and the backend's CPU could not be told apart from the client's in /proc.
//! As a process it is scheduled like the gateway and haproxy are, and its CPU is recorded
//! with theirs.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::wire::{parse_header, Command, HEADER_LEN};

/// Echo buffer for small exchanges: no large allocation per connection on the churn path.
const SMALL: usize = 16 * 1024;
/// Buffer for bulk transfers (echo, sink) and the chunk a download writes.
const LARGE: usize = 256 * 1024;
static ZEROS: [u8; LARGE] = [0; LARGE];

pub fn run(listen: SocketAddr, threads: usize, addr_file: Option<&Path>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_io()
        .build()
        .context("starting the backend's runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let bound = listener.local_addr()?;
        if let Some(file) = addr_file {
            // Written whole under another name, then renamed: a reader never sees half of it.
            let partial = file.with_extension("partial");
            std::fs::write(&partial, format!("{bound}\n")).with_context(|| format!("writing {}", partial.display()))?;
            std::fs::rename(&partial, file).with_context(|| format!("writing {}", file.display()))?;
        }
        out!("gateway backend on {bound} ({} threads)", threads.max(1));
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let _ = serve(stream).await;
            });
        }
    })
}

async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut head = [0u8; HEADER_LEN];
    stream.read_exact(&mut head).await?;
    let (command, count) = parse_header(&head)?;
    match command {
        Command::Echo => echo(&mut stream, SMALL).await,
        Command::BulkEcho => echo(&mut stream, LARGE).await,
        Command::Download => {
            let mut left = count;
            while left > 0 {
                let n = left.min(LARGE as u64) as usize;
                stream.write_all(&ZEROS[..n]).await?;
                left -= n as u64;
            }
            stream.shutdown().await?;
            // Until the client closes: closing first would leave it a reset, not an end.
            let mut sink = [0u8; 64];
            while stream.read(&mut sink).await? > 0 {}
            Ok(())
        }
        Command::Upload => {
            let mut buf = vec![0u8; LARGE];
            let mut seen = 0u64;
            while seen < count {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                seen += n as u64;
            }
            stream.write_all(&seen.to_le_bytes()).await
        }
    }
}

async fn echo(stream: &mut TcpStream, size: usize) -> io::Result<()> {
    let mut buf = vec![0u8; size];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}

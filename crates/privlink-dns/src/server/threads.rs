//! The threads UDP workers run on: each its own current-thread tokio runtime, so a socket's
//! readiness, the worker task it wakes and the replies it sends all stay on one thread. On the
//! shared multi-thread runtime a packet's wakeup could reach one thread while the task ran on
//! another, and the hand-off (futex wake and wait) took more of the server's CPU at 20,000
//! queries/s (16%) than building the answers did (12%): see docs/benchmarks.md, "DNS: privlink
//! vs unbound".
//!
//! The threads start with the first view served and stop when the [`Threads`] value is dropped
//! (with the server): each runtime then drops its tasks, which closes their sockets.

use std::io;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

pub(super) struct Threads {
    runtimes: Vec<Handle>,
    /// Dropping these ends each thread's `block_on`, and with it the thread and its runtime.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Threads {
    pub(super) fn start(count: usize) -> io::Result<Threads> {
        let mut runtimes = Vec::with_capacity(count);
        let mut stop = Vec::with_capacity(count);
        for index in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            runtimes.push(runtime.handle().clone());
            // If spawning fails, the senders already made are dropped and those threads end.
            std::thread::Builder::new().name(format!("privlink-dns-udp-{index}")).spawn(move || {
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
            })?;
            stop.push(stop_tx);
        }
        Ok(Threads { runtimes, _stop: stop })
    }

    pub(super) fn runtimes(&self) -> &[Handle] {
        &self.runtimes
    }
}

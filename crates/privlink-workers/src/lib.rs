//! What the data-plane servers (the DNS resolvers, the gateway) share about where their sockets
//! live: [`Workers`], threads each running a current-thread tokio runtime, so a socket's
//! readiness, the task it wakes and the replies it sends stay on one thread (on a multi-thread
//! runtime the cross-thread hand-offs cost more CPU than the work, see docs/benchmarks.md); and
//! [`TaskGroup`], the tasks serving one address, stopped together.

use std::io;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Threads with a current-thread runtime each. They stop when this value is dropped: each
/// runtime then drops its tasks, which closes their sockets.
pub struct Workers {
    runtimes: Vec<Handle>,
    /// Dropping these ends each thread's `block_on`, and with it the thread and its runtime.
    _stop: Vec<oneshot::Sender<()>>,
}

impl Workers {
    /// Starts `count` threads (at least one) named `{name}-{index}`.
    pub fn start(name: &str, count: usize) -> io::Result<Workers> {
        let mut runtimes = Vec::with_capacity(count);
        let mut stop = Vec::with_capacity(count);
        for index in 0..count.max(1) {
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel::<io::Result<Handle>>(1);
            // The runtime is built and dropped on its own thread: a runtime dropped inside async
            // code (the caller's) panics. If spawning fails, the senders already made are
            // dropped and those threads end.
            std::thread::Builder::new().name(format!("{name}-{index}")).spawn(move || {
                let runtime = match Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = handle_tx.send(Err(error));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
            })?;
            let handle = handle_rx.recv().map_err(|_| io::Error::other("a worker thread ended at start"))??;
            runtimes.push(handle);
            stop.push(stop_tx);
        }
        Ok(Workers { runtimes, _stop: stop })
    }

    pub fn runtimes(&self) -> &[Handle] {
        &self.runtimes
    }
}

/// The tasks serving one address (an accept loop per worker, say). Dropping the group aborts
/// them; [`TaskGroup::stop`] also waits until they are gone.
#[derive(Default)]
pub struct TaskGroup(Vec<JoinHandle<()>>);

impl TaskGroup {
    pub fn new(tasks: Vec<JoinHandle<()>>) -> TaskGroup {
        TaskGroup(tasks)
    }

    /// Aborts the tasks and waits until they are gone: their sockets are closed on return, even
    /// those of tasks on another thread's runtime.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.0);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_a_group_closes_the_sockets_its_workers_hold() {
        let workers = Workers::start("test-worker", 2).expect("workers");
        assert_eq!(workers.runtimes().len(), 2);
        let mut addresses = Vec::new();
        let mut tasks = Vec::new();
        for runtime in workers.runtimes() {
            let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            socket.set_nonblocking(true).expect("nonblocking");
            addresses.push(socket.local_addr().expect("address"));
            tasks.push(runtime.spawn(async move {
                let listener = tokio::net::TcpListener::from_std(socket).expect("register");
                loop {
                    let _ = listener.accept().await;
                }
            }));
        }
        for address in &addresses {
            tokio::net::TcpStream::connect(address).await.expect("listening before stop");
        }
        TaskGroup::new(tasks).stop().await;
        for address in &addresses {
            let refused = tokio::net::TcpStream::connect(address).await.expect_err("closed after stop");
            assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        }
    }
}

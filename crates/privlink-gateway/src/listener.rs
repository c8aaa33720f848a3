//! Route listeners: every connection to one is decided as `Origin::Direct` (host and port being the
//! listener's own address) and either spliced to its backend or reset at once.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tracing::debug;

use crate::gateway::{accept_loop, Shared};
use crate::policy::{ConnectRequest, Host, Origin};
use crate::stats::EntryCounters;
use crate::tunnel::{establish, reset, splice, Connection};

/// The accept task of listener `id`, bound at `bound`.
pub(crate) async fn accept(shared: Arc<Shared>, id: Arc<str>, socket: TcpListener, bound: SocketAddr, instance: u64) {
    let entry = shared.counters.listener(&id);
    let counted = entry.clone();
    let serve = move |connection, client, peer| serve(connection, client, peer, id.clone(), bound, counted.clone());
    accept_loop(shared, socket, instance, entry, serve).await;
}

async fn serve(
    connection: Connection,
    client: TcpStream,
    peer: SocketAddr,
    id: Arc<str>,
    bound: SocketAddr,
    entry: Arc<EntryCounters>,
) {
    let request = ConnectRequest {
        origin: Origin::Direct { listener: id.to_string(), peer },
        host: Host::Ip(bound.ip()),
        port: bound.port(),
        pinned: None,
    };
    match establish(&connection, &request).await {
        Ok((backend, tunnel)) => {
            let _ = client.set_nodelay(true);
            splice(&tunnel, client, backend, Vec::new()).await;
        }
        Err(refusal) => {
            debug!(listener = %id, %peer, reason = refusal.reason, "direct connection refused");
            connection.shared().counters.refusal(&entry, refusal.route.as_deref(), &refusal.reason);
            reset(client);
        }
    }
}

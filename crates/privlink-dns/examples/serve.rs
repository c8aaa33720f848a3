//! Serves one view of a synthetic catalog, for load tests with dnsperf (loopback only):
//! `cargo run --release -p privlink-dns --example serve -- 127.0.0.1:5300 60 [udp-workers]`
//! serves view `v0` (zones `privatelink{0..2000}.blob.core.windows.net`, names `sa{0..50}`, the
//! zones with numbers ending in 00 linked to `v0`) on the address for the given number of seconds,
//! then prints the server's counters and exits.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use privlink_dns::{Catalog, DnsServer, LinkInfo, RData, RecordSet, ResolutionPolicy, ServerConfig, ViewInfo};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().and_then(|a| a.parse().ok()).unwrap_or(([127, 0, 0, 1], 5300).into());
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let mut config = ServerConfig::default();
    if let Some(workers) = args.next().and_then(|w| w.parse().ok()) {
        config.udp_workers = workers;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let server = DnsServer::new(Arc::new(RwLock::new(catalog())), config);
        let bound = server.serve_view("v0", addr).await?;
        println!("serving view v0 on {bound} for {seconds}s");
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        println!("{:?}", server.stats());
        server.shutdown().await;
        Ok(())
    })
}

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for view in 0..100 {
        catalog.upsert_view(&format!("v{view}"), ViewInfo { name: format!("vnet{view}"), source: String::new() });
    }
    let set = |records| RecordSet { ttl: 10, records, source: String::new() };
    for zone in 0..2000u32 {
        let id = format!("z{zone}");
        catalog.upsert_zone(&id, &format!("privatelink{zone}.blob.core.windows.net"), "");
        let soa = RData::Soa {
            host: "azureprivatedns.net".into(),
            email: "azureprivatedns-host.microsoft.com".into(),
            serial: 1,
            refresh: 3600,
            retry: 300,
            expire: 2419200,
            minimum: 10,
        };
        catalog.upsert_record_set(&id, "@", privlink_dns::RecordType::Soa, set(vec![soa]));
        for record in 0..50u32 {
            let ip = Ipv4Addr::new(10, (zone / 256) as u8, (zone % 256) as u8, record as u8);
            catalog.upsert_record_set(
                &id,
                &format!("sa{record}"),
                privlink_dns::RecordType::A,
                set(vec![RData::A(ip)]),
            );
        }
        let view = format!("v{}", zone % 100);
        let link = LinkInfo { zone: id.clone(), view, policy: ResolutionPolicy::Default, source: String::new() };
        catalog.upsert_link(&format!("l{zone}"), link);
    }
    catalog.set_authoritative_suffixes(vec!["blob.core.windows.net".into()]);
    catalog
}

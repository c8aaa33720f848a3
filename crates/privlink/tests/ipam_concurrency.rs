//! Concurrent allocation from one subnet. In a binary of its own: hundreds of simultaneous
//! requests must not disturb other tests running beside it.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{nic_body, nic_ip, Server};

/// 200 NICs created at once in one subnet get 200 different addresses: the lowest 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nic_creations_get_distinct_addresses() {
    const N: usize = 200;
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", "10.0.0.0/24")]).await;
    let sid = s.subnet("rg", "v1", "s1");
    let work = futures::future::join_all((0..N).map(|i| {
        let (s, sid) = (&s, sid.clone());
        async move {
            let r = s.put(&s.nic("rg", &format!("nic{i:03}")), &nic_body(&sid, None)).await;
            assert_eq!(r.status, 201, "nic{i:03}: {r}");
            let ip = nic_ip(&r.json);
            let done = s.wait_op(&r).await;
            assert_eq!(done["status"], "Succeeded", "nic{i:03}: {done}");
            ip
        }
    }));
    let ips = tokio::time::timeout(Duration::from_secs(240), work).await.expect("200 NIC creations within 240s");
    let distinct: HashSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), N, "every NIC has its own address");
    let expected: HashSet<String> = (4..4 + N).map(|i| format!("10.0.0.{i}")).collect();
    assert_eq!(ips.iter().cloned().collect::<HashSet<_>>(), expected, "the lowest free addresses, each once");

    // What the NICs report now agrees, and the subnet lists all of them.
    let mut reported = HashSet::new();
    let mut next = Some(s.net("rg", "networkInterfaces"));
    while let Some(url) = next.take() {
        let page = s.get(&url).await;
        assert_eq!(page.status, 200, "{page}");
        for nic in page.json["value"].as_array().into_iter().flatten() {
            assert_eq!(nic["properties"]["provisioningState"], "Succeeded");
            reported.insert(nic_ip(nic));
        }
        next = page.json["nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(reported, expected);
    assert_eq!(config_ids(&s.get(&sid).await.json).len(), N);
}

fn config_ids(subnet: &serde_json::Value) -> Vec<String> {
    subnet["properties"]["ipConfigurations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .map(str::to_string)
        .collect()
}

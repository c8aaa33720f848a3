//! Long-running operations: the 201/202 answers and their polling URLs, manual and delayed
//! provisioning, and operations that survive `kill -9`.

mod common;

use std::time::{Duration, Instant};

use common::{expect_error, vnet_body, Server, LOCATION, NET_API};
use reqwest::Method;
use serde_json::Value;

async fn status(s: &Server, url: &str) -> Value {
    let r = s.send(Method::GET, url, None, &[]).await;
    assert_eq!(r.status, 200, "{url}: {r}");
    r.json
}

#[tokio::test]
async fn vnet_put_is_a_long_running_operation() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(r.state(), "Updating", "{r}");
    assert_eq!(r.json["properties"]["subnets"][0]["properties"]["provisioningState"], "Updating");
    assert_eq!(r.header("retry-after"), Some("1"));
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    let prefix = format!(
        "{}/subscriptions/{}/providers/Microsoft.Network/locations/{LOCATION}/operations/",
        s.url, s.subscription
    );
    assert!(op.starts_with(&prefix), "absolute operation URL under the subscription: {op}");
    assert!(op.ends_with(&format!("?api-version={NET_API}")), "{op}");

    let done = s.wait_op(&r).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(done["startTime"].is_string() && done["endTime"].is_string(), "{done}");
    let g = s.get(&path).await;
    assert_eq!(g.state(), "Succeeded");
    assert_eq!(g.json["properties"]["subnets"][0]["properties"]["provisioningState"], "Succeeded");
    // Polling a finished operation again gives the same answer.
    assert_eq!(status(&s, &op).await["status"], "Succeeded");

    // A second PUT updates: 200.
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 200, "{r}");
    assert_eq!(r.state(), "Updating");
    assert_ne!(r.header("azure-asyncoperation"), Some(op.as_str()), "a new operation");
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");

    // An operation id that does not exist.
    let missing = format!("{prefix}00000000-0000-0000-0000-000000000000?api-version={NET_API}");
    expect_error(&s.send(Method::GET, &missing, None, &[]).await, 404, "OperationNotFound");
}

#[tokio::test]
async fn delete_is_202_with_polling_urls_then_204() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let r = s.delete(&path).await;
    assert_eq!(r.status, 202, "{r}");
    assert_eq!(r.json, Value::Null, "202 has no body");
    let location = r.header("location").expect("Location").to_string();
    let async_op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    for url in [&location, &async_op] {
        assert!(
            url.starts_with(&format!(
                "{}/subscriptions/{}/providers/Microsoft.Network/locations/",
                s.url, s.subscription
            )),
            "{url}"
        );
    }
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    let result = s.send(Method::GET, &location, None, &[]).await;
    assert_eq!(result.status, 204, "Location URL after the delete: {result}");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    // Deleting again: nothing to delete.
    assert_eq!(s.delete(&path).await.status, 204);
}

#[tokio::test]
async fn delete_of_a_missing_resource_is_204() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    for path in [s.vnet("rg", "never"), s.nic("rg", "never"), s.nsg("rg", "never")] {
        let r = s.delete(&path).await;
        assert_eq!(r.status, 204, "{path}: {r}");
        assert!(r.header("location").is_none());
    }
    // A child of a VNet that does not exist is gone too.
    assert_eq!(s.delete(&s.subnet("rg", "never", "s1")).await.status, 204);
}

#[tokio::test]
async fn manual_provisioning_waits_for_a_step() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await; // synchronous, not affected
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    for _ in 0..3 {
        let st = status(&s, &op).await;
        assert_eq!(st["status"], "InProgress", "{st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.get(&path).await.state(), "Updating");
    let pending = s.send(Method::GET, "/privlink/reconciler/pending", None, &[]).await;
    assert_eq!(pending.json["value"].as_array().map(Vec::len), Some(1), "{pending}");

    // Another write to the resource while its operation runs is refused.
    let busy = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    expect_error(&busy, 409, "AnotherOperationInProgress");

    let stepped = s.step().await;
    assert_eq!(stepped["completed"], 1, "{stepped}");
    assert_eq!(status(&s, &op).await["status"], "Succeeded");
    assert_eq!(s.get(&path).await.state(), "Succeeded");
    let pending = s.send(Method::GET, "/privlink/reconciler/pending", None, &[]).await;
    assert_eq!(pending.json["value"], serde_json::json!([]), "{pending}");
}

#[tokio::test]
async fn manual_delete_location_is_202_until_stepped() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201);
    s.step().await;
    let r = s.delete(&path).await;
    assert_eq!(r.status, 202, "{r}");
    let location = r.header("location").expect("Location").to_string();
    let running = s.send(Method::GET, &location, None, &[]).await;
    assert_eq!(running.status, 202, "Location URL while the delete runs: {running}");
    assert!(running.header("location").is_some() && running.header("retry-after").is_some(), "{:?}", running.headers);
    let g = s.get(&path).await;
    assert_eq!(g.status, 200, "still there until stepped: {g}");
    assert_eq!(g.state(), "Deleting");
    // Deleting again hands out the same operation.
    let again = s.delete(&path).await;
    assert_eq!(again.status, 202, "{again}");
    assert_eq!(again.header("location"), Some(location.as_str()));

    s.step().await;
    assert_eq!(s.send(Method::GET, &location, None, &[]).await.status, 204);
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn delayed_provisioning_completes_after_the_delay() {
    let s = Server::start_with(&["--provisioning", "delay=1s"]).await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let started = Instant::now();
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    let first = s.send(Method::GET, &op, None, &[]).await;
    assert_eq!(first.json["status"], "InProgress", "{first}");
    assert_eq!(first.header("retry-after"), Some("1"));
    assert_eq!(s.get(&path).await.state(), "Updating");
    let done = s.wait_op_url(op).await;
    let elapsed = started.elapsed();
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert!(elapsed >= Duration::from_millis(900), "completed after {elapsed:?}, before the 1s delay");
    assert!(elapsed < Duration::from_secs(10), "completed only after {elapsed:?}");
    assert_eq!(s.get(&path).await.state(), "Succeeded");
}

#[tokio::test]
async fn accepted_put_survives_kill_9() {
    let mut s = Server::start_with(&["--provisioning", "delay=2s"]).await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[("s1", "10.0.1.0/24")])).await;
    assert_eq!(r.status, 201, "{r}");
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    s.kill9();
    s.restart(&[]).await;
    let g = s.get(&path).await;
    assert_eq!(g.status, 200, "the acknowledged PUT was kept: {g}");
    let done = s.wait_op_url(s.rebase(&op)).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    let g = s.get(&path).await;
    assert_eq!(g.state(), "Succeeded", "{g}");
    assert_eq!(g.json["properties"]["subnets"][0]["properties"]["provisioningState"], "Succeeded");
    let pending = s.send(Method::GET, "/privlink/reconciler/pending", None, &[]).await;
    assert_eq!(pending.json["value"], serde_json::json!([]), "{pending}");
}

#[tokio::test]
async fn put_accepted_in_manual_mode_completes_after_a_restart_with_default_timing() {
    let mut s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    s.kill9();
    s.restart(&[]).await;
    // Immediate timing: done at once, certainly within 10 seconds.
    let done = s.wait_op_url_within(s.rebase(&op), Duration::from_secs(10)).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    assert_eq!(s.get(&path).await.state(), "Succeeded");
}

#[tokio::test]
async fn accepted_delete_survives_kill_9() {
    let mut s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
    s.restart(&["--provisioning", "delay=2s"]).await;
    let r = s.delete(&path).await;
    assert_eq!(r.status, 202, "{r}");
    let op = r.header("azure-asyncoperation").expect("Azure-AsyncOperation").to_string();
    let location = r.header("location").expect("Location").to_string();
    s.kill9();
    s.restart(&[]).await;
    let done = s.wait_op_url(s.rebase(&op)).await;
    assert_eq!(done["status"], "Succeeded", "{done}");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    expect_error(&s.get(&s.subnet("rg", "v1", "s1")).await, 404, "ParentResourceNotFound");
    assert_eq!(s.send(Method::GET, &location, None, &[]).await.status, 204);
    // The name and the range are free again.
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
}

#[tokio::test]
async fn kill_9_loses_nothing_that_was_acknowledged() {
    let mut s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("s1", "10.0.1.0/24")]).await;
    let sid = s.subnet("rg", "v1", "s1");
    for i in 0..5 {
        let r = s.create_nic("rg", &format!("nic{i}"), &sid, None).await;
        assert_eq!(r.status, 201, "{r}");
    }
    s.restart(&[]).await;
    for i in 0..5 {
        let g = s.get(&s.nic("rg", &format!("nic{i}"))).await;
        assert_eq!(g.status, 200, "{g}");
        assert_eq!(common::nic_ip(&g.json), format!("10.0.1.{}", 4 + i));
    }
    // The allocations survived too: the next address is .9.
    assert_eq!(common::nic_ip(&s.create_nic("rg", "nic5", &sid, None).await.json), "10.0.1.9");
}

/// `AnotherOperationInProgress` tells the client where to watch the blocking operation; that
/// URL must answer like the operation's `Azure-AsyncOperation` URL.
#[tokio::test]
async fn another_operation_in_progress_names_a_pollable_operation_url() {
    let s = Server::start_with(&["--provisioning", "manual"]).await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    let busy = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    expect_error(&busy, 409, "AnotherOperationInProgress");
    let message = busy.json["error"]["message"].as_str().unwrap_or_default().to_string();
    let url = message
        .split_once("use uri: ")
        .map(|(_, rest)| rest.split(". Resource:").next().unwrap_or(rest).trim().to_string())
        .unwrap_or_default();
    assert!(url.starts_with(&s.url), "the message names an operation URL of this server: {message}");
    let polled = s.send(Method::GET, &url, None, &[]).await;
    assert_eq!(polled.status, 200, "GET {url}: {polled}");
    assert_eq!(polled.json["status"], "InProgress", "{polled}");
}

/// Polling URLs are absolute URLs of this server over HTTP/1.1 (`Host`) as over HTTP/2.
#[tokio::test]
async fn operation_urls_name_this_server_over_http1_and_http2() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    for (i, http1) in [false, true].into_iter().enumerate() {
        let path = Server::with_api(&s.vnet("rg", &format!("v{i}")));
        let body = Some(vnet_body(&["10.0.0.0/16"], &[]).to_string().into_bytes());
        let r = if http1 {
            s.send_http1(Method::PUT, &path, body, &[]).await
        } else {
            s.send(Method::PUT, &path, body, &[]).await
        };
        assert_eq!(r.status, 201, "{r}");
        let op = r.header("azure-asyncoperation").unwrap_or_default().to_string();
        assert!(op.starts_with(&format!("{}/subscriptions/", s.url)), "{:?}: {op}", r.version);
        assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
        let r = if http1 {
            s.send_http1(Method::DELETE, &path, None, &[]).await
        } else {
            s.send(Method::DELETE, &path, None, &[]).await
        };
        assert_eq!(r.status, 202, "{r}");
        for name in ["location", "azure-asyncoperation"] {
            let url = r.header(name).unwrap_or_default();
            assert!(url.starts_with(&format!("{}/subscriptions/", s.url)), "{:?} {name}: {url}", r.version);
        }
        assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    }
}

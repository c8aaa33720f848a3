//! The ARM contract every resource shares: case-insensitive ids, api-versions, the error
//! shape, standard headers, ETags and paging.

mod common;

use std::collections::HashSet;

use common::{expect_error, names, vnet_body, Server, LOCATION, NET_API};
use reqwest::Method;
use serde_json::json;

const VNET_TYPE: &str = "Microsoft.Network/virtualNetworks";

#[tokio::test]
async fn ids_match_case_insensitively_and_keep_the_casing_last_written() {
    let s = Server::start().await;
    s.create_rg("Rg-Case").await;
    // Written with a lower-cased namespace and type: the id and type come back canonical.
    let path = format!("{}/providers/microsoft.network/VIRTUALNETWORKS/MyVnet", s.rg("Rg-Case"));
    let created = s.put_ok(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    let canonical = format!("{}/providers/Microsoft.Network/virtualNetworks/MyVnet", s.rg("Rg-Case"));
    assert_eq!(created["id"], canonical.as_str());
    assert_eq!(created["name"], "MyVnet");
    assert_eq!(created["type"], VNET_TYPE);

    // Read with every segment in another casing.
    let shouting = format!(
        "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG-CASE/PROVIDERS/MICROSOFT.NETWORK/VIRTUALNETWORKS/MYVNET",
        s.subscription.to_uppercase()
    );
    let g = s.get(&shouting).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["id"], canonical.as_str(), "GET in another casing returns the stored casing");
    assert_eq!(g.json["name"], "MyVnet");
    assert_eq!(g.json["type"], VNET_TYPE);

    // Listed through a lower-cased collection path.
    let list = s
        .get(&format!(
            "/subscriptions/{}/resourcegroups/rg-case/providers/microsoft.network/virtualnetworks",
            s.subscription
        ))
        .await;
    assert_eq!(list.status, 200, "{list}");
    assert_eq!(names(&list.json), vec!["MyVnet".to_string()]);
    assert_eq!(list.json["value"][0]["type"], VNET_TYPE);

    // A PUT in another casing replaces the same resource (200, not a second one) and its casing wins.
    let relower = s.vnet("Rg-Case", "myvnet");
    let r = s.put(&relower, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 200, "re-PUT in another casing updates the existing resource: {r}");
    s.wait_op(&r).await;
    let g = s.get(&canonical).await;
    assert_eq!(g.json["name"], "myvnet", "{g}");
    assert_eq!(g.json["id"], s.vnet("Rg-Case", "myvnet").as_str());
    let list = s.get(&s.net("Rg-Case", "virtualNetworks")).await;
    assert_eq!(names(&list.json), vec!["myvnet".to_string()], "still one VNet");

    // Deleted through yet another casing.
    let r = s.delete(&shouting).await;
    assert_eq!(r.status, 202, "{r}");
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    expect_error(&s.get(&canonical).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn child_ids_match_case_insensitively() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "vnet1", &["10.0.0.0/16"], &[("Subnet-A", "10.0.1.0/24")]).await;
    let g = s.get(&s.subnet("RG", "VNET1", "subnet-a")).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json["name"], "Subnet-A");
    assert_eq!(g.json["type"], "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(g.json["id"], s.subnet("rg", "vnet1", "Subnet-A").as_str());
    let list = s.get(&format!("{}/SUBNETS", s.vnet("rg", "VNet1"))).await;
    assert_eq!(list.status, 200, "{list}");
    assert_eq!(names(&list.json), vec!["Subnet-A".to_string()]);
}

#[tokio::test]
async fn missing_api_version_is_rejected_and_nothing_is_stored() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let body = vnet_body(&["10.0.0.0/16"], &[]).to_string().into_bytes();
    let r = s.send(Method::PUT, &path, Some(body), &[]).await;
    expect_error(&r, 400, "MissingApiVersionParameter");
    expect_error(&s.send(Method::GET, &path, None, &[]).await, 400, "MissingApiVersionParameter");
    expect_error(
        &s.send(Method::GET, &s.net("rg", "virtualNetworks"), None, &[]).await,
        400,
        "MissingApiVersionParameter",
    );
    expect_error(&s.send(Method::GET, &s.rg("rg"), None, &[]).await, 400, "MissingApiVersionParameter");
    expect_error(&s.send(Method::GET, "/subscriptions", None, &[]).await, 400, "MissingApiVersionParameter");
    expect_error(&s.send(Method::DELETE, &s.rg("rg"), None, &[]).await, 400, "MissingApiVersionParameter");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    assert_eq!(s.get(&s.rg("rg")).await.status, 200, "the DELETE without api-version did nothing");
}

#[tokio::test]
async fn unknown_api_version_is_rejected_and_nothing_is_stored() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&format!("{path}?api-version=2099-01-01"), &vnet_body(&["10.0.0.0/16"], &[])).await;
    expect_error(&r, 400, "InvalidApiVersionParameter");
    assert!(r.json["error"]["message"].as_str().unwrap_or("").contains("2099-01-01"), "{r}");
    expect_error(&s.get(&format!("{path}?api-version=2099-01-01")).await, 400, "InvalidApiVersionParameter");
    expect_error(&s.get(&format!("{path}?api-version=not-a-version")).await, 400, "InvalidApiVersionParameter");
    expect_error(
        &s.put(&format!("{}?api-version=2099-01-01", s.rg("rg2")), &json!({"location": LOCATION})).await,
        400,
        "InvalidApiVersionParameter",
    );
    expect_error(&s.get("/subscriptions?api-version=2099-01-01").await, 400, "InvalidApiVersionParameter");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
    expect_error(&s.get(&s.rg("rg2")).await, 404, "ResourceGroupNotFound");
}

#[tokio::test]
async fn network_accepts_current_and_older_api_versions() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    for (i, version) in ["2026-03-01", "2026-01-01", "2024-07-01", "2023-09-01"].iter().enumerate() {
        let path = s.vnet("rg", &format!("v{i}"));
        let r = s.put(&format!("{path}?api-version={version}"), &vnet_body(&["10.0.0.0/16"], &[])).await;
        assert_eq!(r.status, 201, "api-version {version}: {r}");
        let op = r.header("azure-asyncoperation").unwrap_or_default().to_string();
        assert!(op.ends_with(&format!("api-version={version}")), "operation URL keeps the api-version: {op}");
        assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
        let g = s.get(&format!("{path}?api-version={version}")).await;
        assert_eq!(g.status, 200, "api-version {version}: {g}");
        let list = s.get(&format!("{}?api-version={version}", s.net("rg", "virtualNetworks"))).await;
        assert_eq!(list.status, 200, "api-version {version}: {list}");
    }
}

#[tokio::test]
async fn resource_groups_accept_2025_04_01() {
    let s = Server::start().await;
    let path = format!("{}?api-version=2025-04-01", s.rg("rg"));
    let r = s.put(&path, &json!({"location": LOCATION})).await;
    assert_eq!(r.status, 201, "{r}");
    assert_eq!(s.get(&path).await.status, 200);
    assert_eq!(s.get(&format!("{}/resourcegroups?api-version=2025-04-01", s.sub())).await.status, 200);
    // A Network-only version is not a Resources version.
    expect_error(&s.get(&format!("{}?api-version=2026-03-01", s.rg("rg"))).await, 400, "InvalidApiVersionParameter");
}

#[tokio::test]
async fn errors_have_the_arm_shape_and_request_id_headers() {
    let s = Server::start().await;
    let r = s.get(&s.vnet("nope", "v1")).await;
    expect_error(&r, 404, "ResourceGroupNotFound");
    let error = r.json["error"].as_object().cloned().unwrap_or_default();
    assert!(error["code"].is_string() && error["message"].is_string(), "{r}");
    assert!(r.header("x-ms-request-id").is_some_and(|v| !v.is_empty()), "x-ms-request-id on errors");
    assert!(r.header("x-ms-correlation-request-id").is_some_and(|v| !v.is_empty()), "correlation id on errors");
    assert!(r.header("content-type").unwrap_or_default().starts_with("application/json"), "{:?}", r.headers);

    // Every response carries its own request id.
    let a = s.get(&s.sub()).await;
    let b = s.get(&s.sub()).await;
    assert_eq!((a.status, b.status), (200, 200));
    let (ida, idb) = (a.header("x-ms-request-id").unwrap_or_default(), b.header("x-ms-request-id").unwrap_or_default());
    assert!(!ida.is_empty() && ida != idb, "distinct request ids: {ida} {idb}");
    assert!(a.header("x-ms-correlation-request-id").is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn correlation_and_client_request_ids_are_echoed() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let headers = [
        ("x-ms-correlation-request-id", "0f6c4b4e-1111-4222-8333-944445555666"),
        ("x-ms-client-request-id", "my-client-request-1"),
    ];
    let ok = s.request(Method::GET, &s.rg("rg"), None, &headers).await;
    assert_eq!(ok.status, 200, "{ok}");
    let err = s.request(Method::GET, &s.vnet("rg", "missing"), None, &headers).await;
    expect_error(&err, 404, "ResourceNotFound");
    let put = s.request(Method::PUT, &s.vnet("rg", "v1"), Some(&vnet_body(&["10.0.0.0/16"], &[])), &headers).await;
    assert_eq!(put.status, 201, "{put}");
    for r in [&ok, &err, &put] {
        assert_eq!(r.header("x-ms-correlation-request-id"), Some(headers[0].1), "{:?}", r.headers);
        assert_eq!(r.header("x-ms-client-request-id"), Some(headers[1].1), "{:?}", r.headers);
        assert!(r.header("x-ms-request-id").is_some_and(|v| !v.is_empty()));
    }
    // Without a client request id there is none to echo.
    let plain = s.get(&s.rg("rg")).await;
    assert_eq!(plain.header("x-ms-client-request-id"), None);
}

#[tokio::test]
async fn put_returns_the_etag_in_header_and_body_and_it_changes_on_update() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.put(&path, &vnet_body(&["10.0.0.0/16"], &[])).await;
    assert_eq!(r.status, 201, "{r}");
    let etag = r.etag().expect("ETag header on PUT").to_string();
    assert!(!etag.is_empty());
    assert_eq!(r.json["etag"], etag.as_str(), "body etag equals the header");
    s.wait_op(&r).await;
    let g = s.get(&path).await;
    assert_eq!(g.etag(), Some(g.json["etag"].as_str().unwrap_or("-")), "GET etag header equals the body");

    let r2 = s.put(&path, &vnet_body(&["10.0.0.0/16", "10.1.0.0/16"], &[])).await;
    assert_eq!(r2.status, 200, "{r2}");
    assert_ne!(r2.etag(), Some(etag.as_str()), "an update changes the ETag");
    assert_eq!(r2.json["etag"], r2.etag().unwrap_or_default());
}

#[tokio::test]
async fn if_match_with_another_etag_is_412_and_changes_nothing() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let before = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[("a", "10.0.1.0/24")]).await;
    let stale = "W/\"00000000-0000-0000-0000-000000000000\"";
    let r = s.request(Method::PUT, &path, Some(&vnet_body(&["10.9.0.0/16"], &[])), &[("if-match", stale)]).await;
    expect_error(&r, 412, "PreconditionFailed");
    let after = s.get(&path).await;
    assert_eq!(after.json, before, "a failed precondition changes nothing");
    assert_eq!(after.json["properties"]["addressSpace"]["addressPrefixes"], json!(["10.0.0.0/16"]));
    assert_eq!(after.json["properties"]["subnets"][0]["name"], "a", "the subnet left out was not deleted");

    // PATCH honours If-Match too.
    let r = s.request(Method::PATCH, &path, Some(&json!({"tags": {"a": "b"}})), &[("if-match", stale)]).await;
    expect_error(&r, 412, "PreconditionFailed");
    assert_eq!(s.get(&path).await.json, before);
}

#[tokio::test]
async fn if_match_with_the_current_etag_succeeds() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let before = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let etag = before["etag"].as_str().expect("etag").to_string();
    let r = s.request(Method::PUT, &path, Some(&vnet_body(&["10.5.0.0/16"], &[])), &[("if-match", &etag)]).await;
    assert_eq!(r.status, 200, "{r}");
    s.wait_op(&r).await;
    assert_eq!(s.get(&path).await.json["properties"]["addressSpace"]["addressPrefixes"], json!(["10.5.0.0/16"]));
    // If-Match: * matches any existing resource.
    let r = s.request(Method::PUT, &path, Some(&vnet_body(&["10.6.0.0/16"], &[])), &[("if-match", "*")]).await;
    assert_eq!(r.status, 200, "{r}");
    s.wait_op(&r).await;
}

#[tokio::test]
async fn if_none_match_star_on_an_existing_resource_is_412() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let before = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let r = s.request(Method::PUT, &path, Some(&vnet_body(&["10.7.0.0/16"], &[])), &[("if-none-match", "*")]).await;
    expect_error(&r, 412, "PreconditionFailed");
    assert_eq!(s.get(&path).await.json, before);
    // On a new resource If-None-Match: * creates it.
    let r = s
        .request(Method::PUT, &s.vnet("rg", "v2"), Some(&vnet_body(&["10.7.0.0/16"], &[])), &[("if-none-match", "*")])
        .await;
    assert_eq!(r.status, 201, "{r}");
}

#[tokio::test]
async fn if_match_star_on_a_missing_resource_is_412_and_creates_nothing() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let r = s.request(Method::PUT, &path, Some(&vnet_body(&["10.0.0.0/16"], &[])), &[("if-match", "*")]).await;
    expect_error(&r, 412, "PreconditionFailed");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn delete_with_a_mismatching_if_match_is_412_and_keeps_the_resource() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let path = s.vnet("rg", "v1");
    let before = s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    let r = s.request(Method::DELETE, &path, None, &[("if-match", "W/\"not-the-etag\"")]).await;
    expect_error(&r, 412, "PreconditionFailed");
    let g = s.get(&path).await;
    assert_eq!(g.status, 200, "{g}");
    assert_eq!(g.json, before);
    // With the right ETag the delete goes through.
    let etag = before["etag"].as_str().expect("etag");
    let r = s.request(Method::DELETE, &path, None, &[("if-match", etag)]).await;
    assert_eq!(r.status, 202, "{r}");
    assert_eq!(s.wait_op(&r).await["status"], "Succeeded");
    expect_error(&s.get(&path).await, 404, "ResourceNotFound");
}

#[tokio::test]
async fn paging_follows_next_links_to_the_end() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    let mut expected = HashSet::new();
    for i in 0..7 {
        let name = format!("vnet{i}");
        s.create_vnet("rg", &name, &[&format!("10.{i}.0.0/16")], &[]).await;
        expected.insert(name);
    }
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some(format!("{}?api-version={NET_API}&$top=3", s.net("rg", "virtualNetworks")));
    while let Some(url) = next.take() {
        assert!(pages.len() < 10, "paging does not end");
        let r = s.send(Method::GET, &url, None, &[]).await;
        assert_eq!(r.status, 200, "{url}: {r}");
        let page = names(&r.json);
        pages.push(page.len());
        seen.extend(page);
        if let Some(link) = r.json["nextLink"].as_str() {
            assert!(link.starts_with(&s.url), "nextLink is an absolute URL of this server: {link}");
            assert!(
                link.contains("$skipToken=") || link.contains("%24skipToken="),
                "nextLink carries a $skipToken: {link}"
            );
            assert!(link.contains(&format!("api-version={NET_API}")), "nextLink keeps the api-version: {link}");
            next = Some(link.to_string());
        }
    }
    assert_eq!(pages, vec![3, 3, 1], "pages of $top=3");
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), expected, "all seven, each once");

    // Exactly one full page: no nextLink.
    let r = s.get(&format!("{}?api-version={NET_API}&$top=7", s.net("rg", "virtualNetworks"))).await;
    assert_eq!(names(&r.json).len(), 7);
    assert!(r.json.get("nextLink").is_none_or(|v| v.is_null()), "no nextLink after the last page: {r}");
    // The subscription-wide list pages the same way.
    let r =
        s.get(&format!("{}/providers/Microsoft.Network/virtualNetworks?api-version={NET_API}&$top=5", s.sub())).await;
    assert_eq!(names(&r.json).len(), 5, "{r}");
    assert!(r.json["nextLink"].is_string(), "{r}");
}

#[tokio::test]
async fn garbage_skip_token_is_rejected() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    for token in ["garbage", "!!!", "%25%25"] {
        let r = s.get(&format!("{}?api-version={NET_API}&$skipToken={token}", s.net("rg", "virtualNetworks"))).await;
        expect_error(&r, 400, "InvalidSkipToken");
    }
    let r = s.get(&format!("{}?api-version={NET_API}&$top=0", s.net("rg", "virtualNetworks"))).await;
    expect_error(&r, 400, "InvalidTopParameter");
}

/// A token the server never issued must not silently truncate the list.
#[tokio::test]
async fn forged_skip_token_is_rejected() {
    let s = Server::start().await;
    s.create_rg("rg").await;
    s.create_vnet("rg", "v1", &["10.0.0.0/16"], &[]).await;
    // "Zm9v" is well-formed base64url for "foo": decodable, but not a token from this list.
    let r = s.get(&format!("{}?api-version={NET_API}&$skipToken=Zm9v", s.net("rg", "virtualNetworks"))).await;
    expect_error(&r, 400, "InvalidSkipToken");
}

//! What the data planes are doing, for people and for monitoring:
//! - `GET /privlink/gateway/proxies`: where each VNet's proxy (and the internet's) listens;
//! - `GET /privlink/gateway/listeners`: the private endpoints' and targets' listeners;
//! - `GET /privlink/gateway/stats`: per endpoint and public endpoint, connections, bytes and
//!   refusals with their reasons (the last one timed);
//! - `GET /metrics`: the same counters and the resolvers' in Prometheus' text format.
//!
//! The `/privlink/` endpoints show only what the caller may read; `/metrics` is anonymous, as
//! Prometheus scrapes it, and names resources by id only.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{json, Value};

use crate::arm;
use crate::dataplane::topology::Topology;
use crate::diagnostics::{caller, readable, respond};
use crate::state::AppState;

/// The resource a route stands for: `(resource id, "privateEndpoint" | "publicEndpoint")`.
pub fn route_resource(topology: &Topology, route: &str) -> Option<(String, &'static str)> {
    if let Some(target) = route.strip_prefix("public:") {
        return topology.targets.get(target).map(|t| (t.id.clone(), "publicEndpoint"));
    }
    topology.endpoints.get(route).map(|e| (e.id.clone(), "privateEndpoint"))
}

/// `GET /privlink/gateway/proxies`
pub async fn proxies(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let all = state.planes.gateway.proxies();
            let ids: Vec<String> = {
                let topology = state.planes.topology.read();
                all.iter().filter_map(|p| topology.vnets.get(&p.owner).map(|v| v.id.clone())).collect()
            };
            let visible = readable(&state, &caller, ids).await?;
            let topology = state.planes.topology.read();
            let value: Vec<Value> = all
                .iter()
                .filter_map(|p| {
                    let network = match topology.vnets.get(&p.owner) {
                        Some(v) if visible.contains(&v.id) => v.id.clone(),
                        Some(_) => return None,
                        None => "internet".to_string(),
                    };
                    Some(json!({ "virtualNetwork": network, "address": p.address.map(|a| a.to_string()), "error": p.error }))
                })
                .collect();
            Ok(json!({ "enabled": state.planes.gateway.settings.enabled, "value": value }))
        }
        .await,
    )
}

/// `GET /privlink/gateway/listeners`
pub async fn listeners(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let all = state.planes.gateway.listeners();
            let resources: Vec<Option<(String, &str)>> = {
                let topology = state.planes.topology.read();
                all.iter()
                    .map(|l| {
                        let route = if topology.targets.contains_key(&l.owner) {
                            format!("public:{}", l.owner)
                        } else {
                            l.owner.clone()
                        };
                        route_resource(&topology, &route)
                    })
                    .collect()
            };
            let ids = resources.iter().flatten().map(|(id, _)| id.clone()).collect();
            let visible = readable(&state, &caller, ids).await?;
            let value: Vec<Value> = all
                .iter()
                .zip(resources)
                .filter_map(|(l, resource)| {
                    let (id, kind) = resource.filter(|(id, _)| visible.contains(id))?;
                    Some(json!({
                        "resource": id,
                        "kind": kind,
                        "standsFor": l.stands_for,
                        "address": l.address.map(|a| a.to_string()),
                        "error": l.error,
                    }))
                })
                .collect();
            Ok(json!({ "value": value }))
        }
        .await,
    )
}

fn rfc3339(millis: u64) -> String {
    arm::rfc3339(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// `GET /privlink/gateway/stats`
pub async fn stats(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let stats = state.planes.gateway.gateway.stats();
            let routes: Vec<(String, Option<(String, &str)>)> = {
                let topology = state.planes.topology.read();
                stats.routes.keys().map(|r| (r.clone(), route_resource(&topology, r))).collect()
            };
            let ids = routes.iter().filter_map(|(_, r)| r.as_ref().map(|(id, _)| id.clone())).collect();
            let visible = readable(&state, &caller, ids).await?;
            let value: Vec<Value> = routes
                .into_iter()
                .filter_map(|(route, resource)| {
                    let (id, kind) = resource.filter(|(id, _)| visible.contains(id))?;
                    let s = stats.routes.get(&route)?;
                    Some(json!({
                        "resource": id,
                        "kind": kind,
                        "connections": s.connections_total,
                        "open": s.connections_open,
                        "cut": s.connections_cut,
                        "bytesFromClients": s.bytes_from_client,
                        "bytesToClients": s.bytes_to_client,
                        "refusals": s.refusals_total,
                        "refusalsByReason": s.refusals_by_reason,
                        "lastRefusal": s.last_refusal.as_ref().map(|l| json!({ "at": rfc3339(l.at_unix_ms), "reason": l.reason })),
                    }))
                })
                .collect();
            Ok(json!({ "value": value, "totals": stats.totals }))
        }
        .await,
    )
}

/// The last refusal on a route, as `(time, reason)`, for explanations.
pub fn last_refusal(state: &AppState, route: &str) -> Option<(String, String)> {
    let stats = state.planes.gateway.gateway.stats();
    let last = stats.routes.get(route)?.last_refusal.as_ref()?;
    Some((rfc3339(last.at_unix_ms), last.reason.clone()))
}

/// A Prometheus label value: backslashes, quotes and newlines escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Response {
    let stats = state.planes.gateway.gateway.stats();
    let dns = state.planes.dns.server.stats();
    let mut out = String::new();
    let route_families = [
        ("privlink_gateway_connections_total", "counter", "Connections forwarded to a backend, per route."),
        ("privlink_gateway_connections_open", "gauge", "Connections open now, per route."),
        (
            "privlink_gateway_connections_cut_total",
            "counter",
            "Open connections cut because the route stopped allowing them.",
        ),
        ("privlink_gateway_bytes_from_clients_total", "counter", "Bytes clients sent, per route."),
        ("privlink_gateway_bytes_to_clients_total", "counter", "Bytes sent to clients, per route."),
        ("privlink_gateway_refusals_total", "counter", "Refused connections, per route and reason."),
    ];
    let mut samples: Vec<Vec<String>> = vec![Vec::new(); route_families.len()];
    {
        let topology = state.planes.topology.read();
        for (route, s) in &stats.routes {
            let (id, kind) = route_resource(&topology, route).unwrap_or_else(|| (route.clone(), "gone"));
            let labels = format!("resource=\"{}\",kind=\"{kind}\"", label(&id));
            let values =
                [s.connections_total, s.connections_open, s.connections_cut, s.bytes_from_client, s.bytes_to_client];
            for (i, value) in values.iter().enumerate() {
                samples[i].push(format!("{}{{{labels}}} {value}", route_families[i].0));
            }
            for (reason, count) in &s.refusals_by_reason {
                samples[5]
                    .push(format!("privlink_gateway_refusals_total{{{labels},reason=\"{}\"}} {count}", label(reason)));
            }
        }
    }
    for ((name, kind, help), lines) in route_families.iter().zip(samples) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    let t = &stats.totals;
    for (name, value, help) in [
        ("privlink_gateway_accepted_total", t.connections_accepted, "Connections accepted by proxies and listeners."),
        ("privlink_gateway_refused_total", t.refusals, "Connections refused, whatever the route."),
        ("privlink_gateway_tunnels_open", t.tunnels_open, "Tunnels open now."),
        (
            "privlink_gateway_over_limit_total",
            t.over_limit_closed,
            "Connections closed at once for the connection limit.",
        ),
        (
            "privlink_gateway_handshake_timeouts_total",
            t.handshake_timeouts,
            "Proxy handshakes that did not finish in time.",
        ),
        ("privlink_gateway_malformed_handshakes_total", t.malformed_handshakes, "Proxy handshakes that made no sense."),
        (
            "privlink_dns_queries_total",
            dns.udp_queries + dns.tcp_queries,
            "DNS queries answered by the VNet resolvers.",
        ),
        ("privlink_dns_nxdomain_total", dns.responses.nx_domain, "NXDOMAIN answers."),
        ("privlink_dns_refused_total", dns.responses.refused, "REFUSED answers."),
        ("privlink_dns_forwarded_total", dns.forwarded, "Queries forwarded upstream."),
        ("privlink_dns_malformed_total", dns.malformed, "Malformed DNS packets."),
    ] {
        let kind = if name.ends_with("_open") { "gauge" } else { "counter" };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    (StatusCode::OK, [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

//! Explanations for people and tools, over HTTP under `/privlink/`:
//! - `GET /privlink/dns/resolvers`: every virtual network's resolver address;
//! - `GET /privlink/dns/query?name=&type=&vnet=`: what the VNet's resolver answers, and the chain
//!   that produced it (zone, link, record, or why the public answer was given);
//! - `GET /privlink/diagnose?name=&vnet=`: the same, plus what stands behind each address (the
//!   private endpoint and its connection state, or the target's public endpoint) and whether
//!   traffic from that VNet would get through.
//!
//! Answers come from the same in-memory resolver the DNS listeners use, so they agree with what
//! `dig` gets. `vnet` is a VNet's resource id or its name; a caller sees only VNets it may read.

use std::collections::HashSet;
use std::net::IpAddr;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, Uri};
use serde_json::{json, Value};

use crate::arm::{self, ArmError, ArmResult};
use crate::dataplane::topology::{Reach, Topology};
use crate::identity::{self, Caller};
use crate::providers::authorization::rbac;
use crate::state::AppState;

/// What Azure calls the resolver every VNet uses by default.
const AZURE_DNS: &str = "168.63.129.16";

/// The authenticated caller of one of privlink's own endpoints (any principal; what it may see
/// is filtered by RBAC afterwards).
pub(crate) fn caller(state: &AppState, headers: &HeaderMap, uri: &Uri) -> ArmResult<Caller> {
    let base = arm::base_url(headers, uri, state.defaults.insecure_http);
    let authority = format!("{base}/{}", state.defaults.tenant_id);
    state.identity.authenticate(headers).map_err(|r| identity::unauthenticated(&r, &authority))
}

pub(crate) fn respond(result: ArmResult<Value>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Of `ids` (resource ids), those the caller may read (each checked with its type's read action).
pub(crate) async fn readable(state: &AppState, caller: &Caller, ids: Vec<String>) -> ArmResult<HashSet<String>> {
    let caller = caller.clone();
    state
        .read(move |tx| {
            let mut out = HashSet::new();
            for id in &ids {
                let Some(parsed) = arm::ResourceId::parse(id) else { continue };
                let action = crate::engine::action(&parsed.type_name(), "read");
                if rbac::check(tx, &caller, &action, &parsed.key())? {
                    out.insert(id.clone());
                }
            }
            Ok(out)
        })
        .await
}

/// The VNet `wanted` names (an id, or a name unique among the VNets the caller may read).
async fn find_vnet(state: &AppState, caller: &Caller, wanted: &str) -> ArmResult<(String, String)> {
    let wanted_key = wanted.trim().to_ascii_lowercase();
    let candidates: Vec<(String, String)> = {
        let topology = state.planes.topology.read();
        topology
            .vnets
            .iter()
            .filter(|(key, vnet)| **key == wanted_key || vnet.name.eq_ignore_ascii_case(wanted.trim()))
            .map(|(key, vnet)| (key.clone(), vnet.id.clone()))
            .collect()
    };
    let visible = readable(state, caller, candidates.iter().map(|(_, id)| id.clone()).collect()).await?;
    let mut found: Vec<(String, String)> = candidates.into_iter().filter(|(_, id)| visible.contains(id)).collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ArmError::invalid(
            "VirtualNetworkNotFound",
            format!("No virtual network '{wanted}' that you may read: give its resource id or its name."),
        )),
        _ => Err(ArmError::invalid(
            "AmbiguousVirtualNetwork",
            format!(
                "Several virtual networks are named '{wanted}': give one of their resource ids ({}).",
                found.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// `GET /privlink/dns/resolvers`
pub async fn resolvers(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let all = state.planes.dns.resolvers();
            let visible = readable(&state, &caller, all.iter().map(|(_, r)| r.vnet_id.clone()).collect()).await?;
            let value: Vec<Value> = all
                .into_iter()
                .filter(|(_, r)| visible.contains(&r.vnet_id))
                .map(|(_, r)| {
                    json!({
                        "virtualNetwork": r.vnet_id,
                        "address": r.bound.map(|a| a.to_string()),
                        "error": r.error,
                        "standsFor": AZURE_DNS,
                    })
                })
                .collect();
            Ok(json!({ "enabled": state.planes.dns.settings.enabled, "value": value }))
        }
        .await,
    )
}

fn query_param(uri: &Uri, name: &str) -> ArmResult<String> {
    arm::parse_query(uri.query())
        .get(name)
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .ok_or_else(|| ArmError::invalid("MissingQueryParameter", format!("The query parameter '{name}' is required.")))
}

fn record_type(uri: &Uri) -> ArmResult<hickory_type::RecordType> {
    let text = arm::parse_query(uri.query()).get("type").cloned().unwrap_or_else(|| "A".into());
    hickory_type::parse(&text).ok_or_else(|| {
        ArmError::invalid(
            "InvalidQueryParameter",
            format!("Unknown DNS record type '{text}': use A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT or ANY."),
        )
    })
}

/// The record types people ask about.
mod hickory_type {
    pub use hickory_proto::rr::RecordType;

    pub fn parse(text: &str) -> Option<RecordType> {
        let t = text.trim().to_ascii_uppercase();
        let known = ["A", "AAAA", "CNAME", "MX", "PTR", "SOA", "SRV", "TXT", "ANY"];
        known.contains(&t.as_str()).then(|| t.parse().ok()).flatten()
    }
}

fn answer_json(a: &privlink_dns::Answer) -> Value {
    json!({ "name": a.name, "type": a.data.record_type().to_string(), "ttl": a.ttl, "data": a.data.to_string() })
}

/// Resolve in the VNet's view (asking the upstream when privlink does not answer for the name).
async fn explain(state: &AppState, vnet_key: &str, name: &str, qtype: hickory_type::RecordType) -> ArmResult<Value> {
    let resolution = state.planes.dns.server.explain(vnet_key, name, qtype).await;
    let final_addresses: Vec<String> = resolution
        .answers
        .iter()
        .filter_map(|a| match a.data {
            privlink_dns::RData::A(ip) => Some(ip.to_string()),
            privlink_dns::RData::Aaaa(ip) => Some(ip.to_string()),
            _ => None,
        })
        .collect();
    Ok(json!({
        "rcode": resolution.rcode,
        "answers": resolution.answers.iter().map(answer_json).collect::<Vec<_>>(),
        "authority": resolution.authority.iter().map(answer_json).collect::<Vec<_>>(),
        "steps": resolution.steps,
        "addresses": final_addresses,
    }))
}

/// Notes on how the VNet's clients reach this resolver at all.
fn resolver_notes(state: &AppState, topology: &Topology, vnet_key: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(vnet) = topology.vnets.get(vnet_key) else { return notes };
    match state.planes.dns.resolver(vnet_key) {
        Some(r) if r.bound.is_some() => notes.push(format!(
            "{} resolves through Azure DNS ({AZURE_DNS}), which privlink serves at {} (udp and tcp).",
            vnet.name,
            r.bound.map(|a| a.to_string()).unwrap_or_default()
        )),
        Some(r) => notes.push(format!("{}'s resolver is not listening: {}", vnet.name, r.error.unwrap_or_default())),
        None => notes.push(format!("{}'s resolver is not listening (DNS is off).", vnet.name)),
    }
    if let Some(address) = state.planes.gateway.proxy_of(vnet_key).and_then(|p| p.address) {
        notes.push(format!(
            "A client sits in {} through its proxy at {address} (HTTP CONNECT or SOCKS5: HTTPS_PROXY=http://{address}, ALL_PROXY=socks5h://{address}).",
            vnet.name
        ));
    }
    if !vnet.dns_servers.is_empty() {
        let mut note = format!(
            "{} has custom DNS servers ({}): its clients ask those, not Azure DNS; the answer above is what Azure DNS gives for {}.",
            vnet.name,
            vnet.dns_servers.join(", "),
            vnet.name
        );
        for server in &vnet.dns_servers {
            if let Some((_, other)) = server.parse::<IpAddr>().ok().and_then(|ip| topology.vnet_holding(ip, vnet_key)) {
                note.push_str(&format!(
                    " {server} is in {}: if it forwards to Azure DNS, names resolve as in {} (try --vnet {}).",
                    other.name, other.name, other.id
                ));
            }
        }
        notes.push(note);
    }
    notes
}

/// `GET /privlink/dns/query?name=&type=&vnet=`
pub async fn query(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let name = query_param(&uri, "name")?;
            let qtype = record_type(&uri)?;
            let (vnet_key, vnet_id) = find_vnet(&state, &caller, &query_param(&uri, "vnet")?).await?;
            let mut body = explain(&state, &vnet_key, &name, qtype).await?;
            let notes = resolver_notes(&state, &state.planes.topology.read(), &vnet_key);
            body["query"] = json!({ "name": name, "type": qtype.to_string(), "virtualNetwork": vnet_id });
            body["notes"] = json!(notes);
            Ok(body)
        }
        .await,
    )
}

/// What stands behind one address, seen from `vnet_key`.
fn behind(topology: &Topology, vnet_key: &str, address: IpAddr) -> Value {
    let vnet_name = topology.vnets.get(vnet_key).map(|v| v.name.clone()).unwrap_or_default();
    if let IpAddr::V4(v4) = address {
        if let Some((_, target)) = topology.target_with_public_address(v4) {
            let refused = target.public_network_access.eq_ignore_ascii_case("Disabled");
            let verdict = if refused {
                format!("{address} is the public address of {} {}; its publicNetworkAccess is Disabled: traffic will be refused.", target.kind.display_name, target.name)
            } else {
                format!("{address} is the public address of {} {}: traffic takes the public endpoint (publicNetworkAccess {}), not a private endpoint.", target.kind.display_name, target.name, target.public_network_access)
            };
            return json!({
                "address": address.to_string(),
                "kind": "publicAddress",
                "target": { "id": target.id, "publicNetworkAccess": target.public_network_access },
                "trafficAllowed": !refused,
                "verdict": verdict,
            });
        }
    }
    let keys = topology.endpoints_at(address);
    // The endpoint in the asking VNet wins, then one it can reach, then any.
    let pick = keys
        .iter()
        .filter_map(|k| topology.endpoints.get(*k).map(|e| (topology.reachable(vnet_key, &e.vnet), e)))
        .max_by_key(|(reach, _)| match reach {
            Reach::SameVnet => 3,
            Reach::Peered => 2,
            _ => 1,
        });
    let Some((reach, endpoint)) = pick else {
        return json!({
            "address": address.to_string(),
            "kind": "unknown",
            "trafficAllowed": false,
            "verdict": format!("{address} is neither a private endpoint nor a public address privlink knows."),
        });
    };
    let subnet = endpoint.subnet_id.rsplit('/').next().unwrap_or_default();
    let endpoint_vnet = topology.vnets.get(&endpoint.vnet).map(|v| v.name.clone()).unwrap_or_default();
    let place = format!("private endpoint {} in {endpoint_vnet}/{subnet}", endpoint.name);
    let approved = endpoint.status == "Approved";
    let state_text = match endpoint.status.as_str() {
        "Approved" => "connection Approved".to_string(),
        "Pending" => "connection Pending: traffic will be refused until the target's owner approves it".to_string(),
        "Rejected" => "connection Rejected: traffic will be refused".to_string(),
        "Disconnected" => "connection Disconnected (the target side is gone): traffic will be refused".to_string(),
        other => format!("connection {other}: traffic will be refused"),
    };
    let path = match reach {
        Reach::SameVnet => None,
        Reach::Peered => Some(format!("{vnet_name} reaches {endpoint_vnet} through peering")),
        Reach::PeeringBlocksAccess => Some(format!("{vnet_name} is peered with {endpoint_vnet}, but the peering does not allow virtual network access: traffic will not arrive")),
        Reach::PeeringNotConnected => Some(format!("the peering between {vnet_name} and {endpoint_vnet} is not Connected: traffic will not arrive")),
        Reach::NotPeered => Some(format!("{vnet_name} is not peered with {endpoint_vnet}: traffic will not arrive")),
    };
    let allowed = approved && reach.allows();
    let mut verdict = format!("{address} = {place}, {state_text}");
    match (&path, approved) {
        (Some(p), _) => verdict.push_str(&format!("; {p}")),
        (None, true) => verdict.push_str(": traffic is allowed"),
        (None, false) => {}
    }
    if allowed && path.is_some() {
        verdict.push_str(": traffic is allowed");
    }
    verdict.push('.');
    json!({
        "address": address.to_string(),
        "kind": "privateEndpoint",
        "privateEndpoint": {
            "id": endpoint.id,
            "subnet": endpoint.subnet_id,
            "connectionState": endpoint.status,
            "description": endpoint.description,
            "target": endpoint.target,
            "groupId": endpoint.group,
        },
        "trafficAllowed": allowed,
        "verdict": verdict,
    })
}

/// What the gateway does with `name:port` from a client in the VNet (through its proxy), and the
/// last refusal on that route.
fn gateway_verdict(state: &AppState, vnet_key: &str, name: &str, port: u16) -> Value {
    use privlink_gateway::Decision;
    if !state.planes.gateway.settings.enabled {
        return json!({
            "decision": "disabled",
            "port": port,
            "verdict": "The gateway is off (--no-gateway): no proxy or listener carries traffic.",
        });
    }
    let decision = state.planes.gateway.decide_for(vnet_key, name, port);
    let vnet_name = state.planes.topology.read().vnets.get(vnet_key).map(|v| v.name.clone()).unwrap_or_default();
    let route = match &decision {
        Decision::Forward { route, .. } => Some(route.clone()),
        Decision::Refuse { route, .. } => route.clone(),
        Decision::Passthrough { .. } => None,
    };
    let resource =
        route.as_deref().and_then(|r| crate::observability::route_resource(&state.planes.topology.read(), r));
    let last = route.as_deref().and_then(|r| crate::observability::last_refusal(state, r));
    let (outcome, verdict) = match &decision {
        Decision::Forward { backend, .. } => (
            json!({ "decision": "forward", "backend": backend.to_string() }),
            format!("A client in {vnet_name} connecting to {name}:{port} (through its proxy) reaches the backend {backend}."),
        ),
        Decision::Refuse { kind, reason, .. } => (
            json!({ "decision": "refuse", "kind": kind, "reason": reason }),
            format!("A client in {vnet_name} connecting to {name}:{port} is refused: {reason}."),
        ),
        Decision::Passthrough { addr } => (
            json!({ "decision": "passthrough", "address": addr.to_string() }),
            format!("{name}:{port} is a local address outside privlink's networks: the proxy connects straight to it."),
        ),
    };
    let mut verdict = verdict;
    if let Some((at, reason)) = &last {
        verdict.push_str(&format!(" Last refused at {at}: {reason}."));
    }
    let mut out = outcome;
    out["port"] = json!(port);
    out["resource"] = json!(resource.map(|(id, _)| id));
    out["lastRefusal"] = json!(last.map(|(at, reason)| json!({ "at": at, "reason": reason })));
    out["verdict"] = json!(verdict);
    out
}

/// `GET /privlink/diagnose?name=&vnet=[&port=443]`
pub async fn diagnose(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    respond(
        async {
            let caller = caller(&state, &headers, &uri)?;
            let name = query_param(&uri, "name")?;
            // Every parameter is checked before any work is done.
            let port = match arm::parse_query(uri.query()).get("port") {
                None => 443,
                Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    ArmError::invalid("InvalidQueryParameter", format!("port '{p}' is not a TCP port (1-65535)."))
                })?,
            };
            let (vnet_key, vnet_id) = find_vnet(&state, &caller, &query_param(&uri, "vnet")?).await?;
            let mut body = explain(&state, &vnet_key, &name, hickory_type::RecordType::A).await?;
            let addresses: Vec<IpAddr> =
                body["addresses"].as_array().into_iter().flatten().filter_map(|a| a.as_str()?.parse().ok()).collect();
            let (behind_values, notes) = {
                let topology = state.planes.topology.read();
                let values: Vec<Value> = addresses.iter().map(|a| behind(&topology, &vnet_key, *a)).collect();
                (values, resolver_notes(&state, &topology, &vnet_key))
            };
            let gateway = gateway_verdict(&state, &vnet_key, &name, port);
            let summary = if behind_values.is_empty() {
                format!(
                    "{name} does not resolve to an address in this virtual network (rcode {}).",
                    body["rcode"].as_str().unwrap_or("")
                )
            } else {
                behind_values.iter().filter_map(|b| b["verdict"].as_str()).collect::<Vec<_>>().join(" ")
            };
            body["query"] = json!({ "name": name, "type": "A", "virtualNetwork": vnet_id });
            body["behind"] = json!(behind_values);
            body["summary"] = json!(format!("{summary} {}", gateway["verdict"].as_str().unwrap_or_default()).trim());
            body["gateway"] = gateway;
            body["notes"] = json!(notes);
            Ok(body)
        }
        .await,
    )
}

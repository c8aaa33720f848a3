//! Microsoft.Network/virtualNetworks/virtualNetworkPeerings.
//!
//! A peering is one direction; traffic flows once both directions exist. The first side is
//! `Initiated`; creating the reverse side makes both `Connected`; deleting either side (or its
//! VNet) leaves the other `Disconnected`, and that side must be deleted and re-created, as in
//! Azure.

use ipnet::IpNet;
use privlink_store::{ResourceRow, Tx};
use serde_json::{json, Map, Value};

use super::address::overlaps;
use super::{children, virtual_networks};
use crate::arm::api_version::NETWORK;
use crate::arm::json::Obj;
use crate::arm::{ArmError, ArmResult, ResourceId};
use crate::providers::{properties, referenced, PutInput, ResourceType, Write};

pub const TYPE: &str = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings";
pub const TYPE_KEY: &str = "microsoft.network/virtualnetworks/virtualnetworkpeerings";

pub struct Peerings;

impl ResourceType for Peerings {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn api_versions(&self) -> &'static [&'static str] {
        NETWORK
    }
    fn tracked(&self) -> bool {
        false
    }

    fn put(&self, w: &mut Write<'_>, input: &PutInput<'_>) -> ArmResult<Map<String, Value>> {
        let vnet_id = input.id.parent().ok_or(ArmError::Internal)?;
        let vnet = w.get(&vnet_id.key())?.ok_or(ArmError::Internal)?;
        if input.existing.is_none()
            && children(w.tx, &vnet.key, TYPE_KEY)?.len() as u64 >= w.settings.limits.peerings_per_vnet
        {
            return Err(ArmError::invalid(
                "PeeringsPerVirtualNetworkLimitReached",
                format!(
                    "Virtual network {} already has the most peerings allowed ({}).",
                    vnet.id, w.settings.limits.peerings_per_vnet
                ),
            ));
        }
        let space = virtual_networks::address_space(&vnet)?;
        apply(w, &vnet, &space, input.id, input.existing, input.properties())
    }

    fn on_deleted(&self, w: &mut Write<'_>, row: &ResourceRow) -> ArmResult<()> {
        // The reverse direction loses its partner.
        let Some(remote_key) = remote_key_of(row) else { return Ok(()) };
        for reverse in children(w.tx, &remote_key, TYPE_KEY)? {
            if remote_key_of(&reverse).as_deref() == Some(row.parent_key.as_str()) {
                set_state(w.tx, reverse, "Disconnected")?;
            }
        }
        Ok(())
    }

    fn render_properties(&self, tx: &mut dyn Tx, row: &ResourceRow, props: &mut Map<String, Value>) -> ArmResult<()> {
        if let Some(remote) = remote_key_of(row) {
            if let Some(remote_row) = tx.get(&remote)? {
                let space =
                    properties(&remote_row).get("addressSpace").cloned().unwrap_or(json!({"addressPrefixes": []}));
                props.insert("remoteAddressSpace".into(), space.clone());
                props.insert("remoteVirtualNetworkAddressSpace".into(), space);
            }
        }
        Ok(())
    }
}

fn remote_key_of(row: &ResourceRow) -> Option<String> {
    properties(row)
        .get("remoteVirtualNetwork")
        .and_then(|r| r.get("id"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

fn state_of(row: &ResourceRow) -> &str {
    properties(row).get("peeringState").and_then(Value::as_str).unwrap_or("Initiated")
}

fn set_state(tx: &mut dyn Tx, mut row: ResourceRow, state: &str) -> ArmResult<()> {
    if let Some(Value::Object(props)) = row.body.get_mut("properties") {
        props.insert("peeringState".into(), json!(state));
        props.insert(
            "peeringSyncLevel".into(),
            json!(if state == "Connected" { "FullyInSync" } else { "RemoteNotInSync" }),
        );
    }
    row.etag = crate::arm::new_etag();
    tx.put(&row)?;
    Ok(())
}

/// Validate one peering of `vnet` and work out its state (updating the reverse side).
pub fn apply(
    w: &mut Write<'_>,
    vnet: &ResourceRow,
    space: &[IpNet],
    id: &ResourceId,
    existing: Option<&ResourceRow>,
    body: Obj<'_>,
) -> ArmResult<Map<String, Value>> {
    let remote_text = body.reference("remoteVirtualNetwork")?.ok_or_else(|| {
        ArmError::invalid_at(
            "InvalidRequestFormat",
            "properties.remoteVirtualNetwork.id",
            format!("Peering {} needs properties.remoteVirtualNetwork.id.", id.name()),
        )
    })?;
    let (remote_id, remote) = referenced(w, remote_text, virtual_networks::TYPE, id)?;
    if remote.key == vnet.key {
        return Err(ArmError::invalid(
            "CannotPeerVirtualNetworkWithItself",
            format!("Virtual network {} cannot be peered with itself.", vnet.id),
        ));
    }
    let remote_space = virtual_networks::address_space(&remote)?;
    for ours in space {
        if let Some(theirs) = remote_space.iter().find(|t| overlaps(ours, t)) {
            return Err(ArmError::invalid(
                "VnetAddressSpacesOverlap",
                format!("Cannot create or update peering {id}. Virtual networks {} and {} cannot be peered because their address spaces overlap ({ours} and {theirs}).", vnet.id, remote.id),
            ));
        }
    }
    // A second peering from this VNet to the same remote is refused.
    for sibling in children(w.tx, &vnet.key, TYPE_KEY)? {
        if sibling.key != id.key() && remote_key_of(&sibling).as_deref() == Some(remote.key.as_str()) {
            return Err(ArmError::Conflict {
                code: "PeeringAlreadyExists",
                message: format!(
                    "Virtual network {} is already peered with {} through {}.",
                    vnet.id, remote.id, sibling.id
                ),
            });
        }
    }
    let same_remote = existing.and_then(remote_key_of).as_deref() == Some(remote.key.as_str());
    let reverse = children(w.tx, &remote.key, TYPE_KEY)?
        .into_iter()
        .find(|r| remote_key_of(r).as_deref() == Some(vnet.key.as_str()));
    let state = match (&reverse, existing) {
        (Some(rev), _) if state_of(rev) != "Disconnected" => {
            if state_of(rev) != "Connected" {
                set_state(w.tx, rev.clone(), "Connected")?;
            }
            "Connected"
        }
        (_, Some(old)) if same_remote && state_of(old) == "Disconnected" => "Disconnected",
        _ => "Initiated",
    };
    let mut props = Map::new();
    props.insert("remoteVirtualNetwork".into(), json!({ "id": remote_id.to_string() }));
    props.insert("allowVirtualNetworkAccess".into(), json!(body.bool("allowVirtualNetworkAccess")?.unwrap_or(true)));
    props.insert("allowForwardedTraffic".into(), json!(body.bool("allowForwardedTraffic")?.unwrap_or(false)));
    props.insert("allowGatewayTransit".into(), json!(body.bool("allowGatewayTransit")?.unwrap_or(false)));
    props.insert("useRemoteGateways".into(), json!(body.bool("useRemoteGateways")?.unwrap_or(false)));
    props.insert("doNotVerifyRemoteGateways".into(), json!(body.bool("doNotVerifyRemoteGateways")?.unwrap_or(false)));
    props.insert("peeringState".into(), json!(state));
    props
        .insert("peeringSyncLevel".into(), json!(if state == "Connected" { "FullyInSync" } else { "RemoteNotInSync" }));
    Ok(props)
}

/// When a VNet goes, every peering that points at it becomes `Disconnected`.
pub fn disconnect_peerings_to(w: &mut Write<'_>, vnet_key: &str) -> ArmResult<()> {
    let mut after: Option<String> = None;
    loop {
        let page = w.tx.list(&privlink_store::ListQuery {
            scope: privlink_store::Scope::All,
            type_key: Some(TYPE_KEY),
            after: after.as_deref(),
            limit: 500,
        })?;
        let done = page.len() < 500;
        after = page.last().map(|r| r.key.clone());
        for row in page {
            if remote_key_of(&row).as_deref() == Some(vnet_key) && !row.key.starts_with(&format!("{vnet_key}/")) {
                set_state(w.tx, row, "Disconnected")?;
            }
        }
        if done {
            return Ok(());
        }
    }
}

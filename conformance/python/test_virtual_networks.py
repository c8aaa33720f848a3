"""Microsoft.Network virtual networks, subnets and peerings through azure-mgmt-network."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.models import SubResource, Subnet, VirtualNetworkPeering

from helpers import LOCATION, unique, vnet_model, wait_lro


def test_vnet_with_two_subnets(network_client, resource_group, clients, request_log):
    rg = resource_group()
    name = unique("vnet-py")
    vnet_id = (
        f"/subscriptions/{clients.subscription_id}/resourceGroups/{rg}"
        f"/providers/Microsoft.Network/virtualNetworks/{name}"
    )
    poller = network_client.virtual_networks.begin_create_or_update(
        rg,
        name,
        vnet_model(["10.10.0.0/16"], [("frontend", "10.10.1.0/24"), ("backend", "10.10.2.0/24")], {"app": "web"}),
    )
    result = wait_lro(poller)

    # The initial PUT is an ARM async operation the SDK can poll quickly.
    (put,) = request_log.find("PUT", f"/virtualNetworks/{name}")
    assert put.status == 201
    assert "/operations/" in put.headers["azure-asyncoperation"]
    assert put.headers["azure-asyncoperation"].startswith(clients.base_url + "/")
    assert put.headers["retry-after"] == "1"
    # ...then polled the operation (Succeeded) and read the VNet back.
    polls = request_log.find("GET", "/providers/Microsoft.Network/locations/")
    assert polls and all(p.status == 200 for p in polls)
    assert request_log.exchanges[-1].method == "GET"
    assert request_log.exchanges[-1].url.split("?")[0].lower().endswith(f"/virtualnetworks/{name}")

    assert result.id.lower() == vnet_id.lower()
    assert result.name == name
    assert result.type == "Microsoft.Network/virtualNetworks"
    assert result.location == LOCATION
    assert result.tags == {"app": "web"}
    assert result.provisioning_state == "Succeeded"
    assert result.etag
    assert result.resource_guid

    got = network_client.virtual_networks.get(rg, name)
    assert got.id == result.id
    assert got.address_space.address_prefixes == ["10.10.0.0/16"]
    assert got.provisioning_state == "Succeeded"
    inline = {s.name: s for s in got.subnets}
    assert set(inline) == {"frontend", "backend"}
    assert inline["frontend"].address_prefix == "10.10.1.0/24"
    assert inline["backend"].address_prefix == "10.10.2.0/24"
    assert inline["frontend"].id == f"{got.id}/subnets/frontend"

    listed = {s.name: s for s in network_client.subnets.list(rg, name)}
    assert set(listed) == {"frontend", "backend"}
    for subnet_name, prefix in (("frontend", "10.10.1.0/24"), ("backend", "10.10.2.0/24")):
        subnet = listed[subnet_name]
        assert subnet.address_prefix == prefix
        assert subnet.provisioning_state == "Succeeded"
        assert subnet.id == f"{got.id}/subnets/{subnet_name}"
        assert subnet.type == "Microsoft.Network/virtualNetworks/subnets"
        assert subnet.etag

    one = network_client.subnets.get(rg, name, "backend")
    assert one.address_prefix == "10.10.2.0/24"
    assert one.provisioning_state == "Succeeded"

    in_rg = [v.name for v in network_client.virtual_networks.list(rg)]
    assert in_rg == [name]
    # The subscription-wide list (other tests' VNets may be there too) includes it.
    assert got.id in {v.id for v in network_client.virtual_networks.list_all()}


def test_peering_both_ways_connects(network_client, resource_group):
    rg = resource_group()
    hub_name, spoke_name = unique("vnet-py-hub"), unique("vnet-py-spoke")
    hub = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, hub_name, vnet_model(["10.20.0.0/16"], [("default", "10.20.0.0/24")])
        )
    )
    spoke = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, spoke_name, vnet_model(["10.21.0.0/16", "10.22.0.0/16"], [("default", "10.21.0.0/24")])
        )
    )

    hub_to_spoke = wait_lro(
        network_client.virtual_network_peerings.begin_create_or_update(
            rg,
            hub_name,
            "hub-to-spoke",
            VirtualNetworkPeering(
                remote_virtual_network=SubResource(id=spoke.id),
                allow_virtual_network_access=True,
                allow_forwarded_traffic=True,
            ),
        )
    )
    assert hub_to_spoke.name == "hub-to-spoke"
    assert hub_to_spoke.id == f"{hub.id}/virtualNetworkPeerings/hub-to-spoke"
    assert hub_to_spoke.peering_state == "Initiated"
    assert hub_to_spoke.provisioning_state == "Succeeded"
    assert hub_to_spoke.remote_virtual_network.id.lower() == spoke.id.lower()

    spoke_to_hub = wait_lro(
        network_client.virtual_network_peerings.begin_create_or_update(
            rg,
            spoke_name,
            "spoke-to-hub",
            VirtualNetworkPeering(remote_virtual_network=SubResource(id=hub.id), allow_virtual_network_access=True),
        )
    )
    assert spoke_to_hub.peering_state == "Connected"
    assert spoke_to_hub.peering_sync_level == "FullyInSync"
    assert spoke_to_hub.remote_address_space.address_prefixes == ["10.20.0.0/16"]

    forward = network_client.virtual_network_peerings.get(rg, hub_name, "hub-to-spoke")
    assert forward.peering_state == "Connected"
    assert forward.peering_sync_level == "FullyInSync"
    assert forward.provisioning_state == "Succeeded"
    assert forward.allow_virtual_network_access is True
    assert forward.allow_forwarded_traffic is True
    assert forward.allow_gateway_transit is False
    assert forward.use_remote_gateways is False
    assert forward.remote_address_space.address_prefixes == ["10.21.0.0/16", "10.22.0.0/16"]
    assert forward.remote_virtual_network_address_space.address_prefixes == ["10.21.0.0/16", "10.22.0.0/16"]

    reverse = network_client.virtual_network_peerings.get(rg, spoke_name, "spoke-to-hub")
    assert reverse.peering_state == "Connected"
    assert reverse.remote_virtual_network.id.lower() == hub.id.lower()
    assert reverse.remote_address_space.address_prefixes == ["10.20.0.0/16"]

    assert [p.name for p in network_client.virtual_network_peerings.list(rg, hub_name)] == ["hub-to-spoke"]
    # The VNet carries its peerings inline too.
    hub_again = network_client.virtual_networks.get(rg, hub_name)
    assert [(p.name, p.peering_state) for p in hub_again.virtual_network_peerings] == [("hub-to-spoke", "Connected")]


def test_overlapping_subnet_is_rejected(network_client, resource_group):
    rg = resource_group()
    vnet_name = unique("vnet-py-overlap")
    wait_lro(network_client.virtual_networks.begin_create_or_update(rg, vnet_name, vnet_model(["10.30.0.0/16"])))

    first = wait_lro(
        network_client.subnets.begin_create_or_update(rg, vnet_name, "apps", Subnet(address_prefix="10.30.1.0/24"))
    )
    assert first.name == "apps"
    assert first.address_prefix == "10.30.1.0/24"
    assert first.provisioning_state == "Succeeded"
    assert first.id.endswith(f"/virtualNetworks/{vnet_name}/subnets/apps")

    with pytest.raises(HttpResponseError) as info:
        network_client.subnets.begin_create_or_update(
            rg, vnet_name, "apps-overlap", Subnet(address_prefix="10.30.1.128/25")
        ).result()
    err = info.value
    assert err.status_code == 400
    assert err.error.code == "NetcfgSubnetRangesOverlap"
    assert "apps" in err.error.message
    assert "(NetcfgSubnetRangesOverlap)" in str(err)

    # Nothing was created by the refused request, and the first subnet is untouched.
    with pytest.raises(ResourceNotFoundError):
        network_client.subnets.get(rg, vnet_name, "apps-overlap")
    assert [s.name for s in network_client.subnets.list(rg, vnet_name)] == ["apps"]
    assert network_client.virtual_networks.get(rg, vnet_name).subnets[0].address_prefix == "10.30.1.0/24"


def test_subnet_outside_vnet_is_rejected(network_client, resource_group):
    rg = resource_group()
    vnet_name = unique("vnet-py-outside")
    wait_lro(network_client.virtual_networks.begin_create_or_update(rg, vnet_name, vnet_model(["10.31.0.0/16"])))
    with pytest.raises(HttpResponseError) as info:
        network_client.subnets.begin_create_or_update(
            rg, vnet_name, "elsewhere", Subnet(address_prefix="10.99.0.0/24")
        ).result()
    assert info.value.status_code == 400
    assert info.value.error.code == "NetcfgSubnetRangeOutsideVnet"

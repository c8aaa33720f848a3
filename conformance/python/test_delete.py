"""Deleting: NIC, peering, VNet, then the whole resource group, each through begin_delete."""

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.models import SubResource, VirtualNetworkPeering
from azure.mgmt.resource.resources.models import ResourceGroup

from helpers import LOCATION, nic_model, unique, vnet_model, wait_lro


def test_delete_nic_peering_vnet_then_resource_group(resource_client, network_client, request_log):
    rg = unique("rg-py-delete")
    resource_client.resource_groups.create_or_update(rg, ResourceGroup(location=LOCATION))
    net = network_client
    a = wait_lro(
        net.virtual_networks.begin_create_or_update(
            rg, "vnet-a", vnet_model(["10.50.0.0/16"], [("s1", "10.50.1.0/24")])
        )
    )
    b = wait_lro(
        net.virtual_networks.begin_create_or_update(
            rg, "vnet-b", vnet_model(["10.51.0.0/16"], [("s1", "10.51.1.0/24")])
        )
    )
    wait_lro(
        net.virtual_network_peerings.begin_create_or_update(
            rg, "vnet-a", "a-to-b", VirtualNetworkPeering(remote_virtual_network=SubResource(id=b.id))
        )
    )
    wait_lro(
        net.virtual_network_peerings.begin_create_or_update(
            rg, "vnet-b", "b-to-a", VirtualNetworkPeering(remote_virtual_network=SubResource(id=a.id))
        )
    )
    nic = wait_lro(net.network_interfaces.begin_create_or_update(rg, "nic-a", nic_model(f"{a.id}/subnets/s1")))
    assert nic.ip_configurations[0].private_ip_address == "10.50.1.4"

    # A subnet in use by a NIC cannot be deleted.
    with pytest.raises(HttpResponseError) as info:
        net.subnets.begin_delete(rg, "vnet-a", "s1").result()
    assert info.value.error.code == "InUseSubnetCannotBeDeleted"
    assert net.subnets.get(rg, "vnet-a", "s1").provisioning_state == "Succeeded"

    # NIC: 202 + Location + Azure-AsyncOperation, polled to Succeeded; then 404.
    request_log.clear()
    wait_lro(net.network_interfaces.begin_delete(rg, "nic-a"))
    (delete,) = request_log.find("DELETE", "/networkInterfaces/nic-a")
    assert delete.status == 202
    assert "/operationResults/" in delete.headers["location"]
    assert "/operations/" in delete.headers["azure-asyncoperation"]
    assert delete.headers["retry-after"] == "1"
    with pytest.raises(ResourceNotFoundError) as info:
        net.network_interfaces.get(rg, "nic-a")
    assert info.value.status_code == 404
    assert info.value.error.code == "ResourceNotFound"
    assert list(net.network_interfaces.list(rg)) == []
    # The address went back to the subnet.
    assert not net.subnets.get(rg, "vnet-a", "s1").ip_configurations

    # Peering: the other direction is left Disconnected.
    wait_lro(net.virtual_network_peerings.begin_delete(rg, "vnet-a", "a-to-b"))
    with pytest.raises(ResourceNotFoundError):
        net.virtual_network_peerings.get(rg, "vnet-a", "a-to-b")
    assert net.virtual_network_peerings.get(rg, "vnet-b", "b-to-a").peering_state == "Disconnected"

    # VNet: gone with its subnets.
    wait_lro(net.virtual_networks.begin_delete(rg, "vnet-a"))
    with pytest.raises(ResourceNotFoundError):
        net.virtual_networks.get(rg, "vnet-a")
    with pytest.raises(ResourceNotFoundError):
        net.subnets.get(rg, "vnet-a", "s1")
    assert [v.name for v in net.virtual_networks.list(rg)] == ["vnet-b"]

    # Deleting something already gone is not an error (204).
    wait_lro(net.network_interfaces.begin_delete(rg, "nic-a"))

    # The resource group takes everything left in it along.
    request_log.clear()
    wait_lro(resource_client.resource_groups.begin_delete(rg))
    (delete,) = request_log.find("DELETE", f"/resourcegroups/{rg}")
    assert delete.status == 202
    with pytest.raises(ResourceNotFoundError) as info:
        resource_client.resource_groups.get(rg)
    assert info.value.error.code == "ResourceGroupNotFound"
    assert resource_client.resource_groups.check_existence(rg) is False
    assert rg not in {g.name for g in resource_client.resource_groups.list()}
    with pytest.raises(ResourceNotFoundError):
        net.virtual_networks.get(rg, "vnet-b")

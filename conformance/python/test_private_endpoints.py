"""Private endpoints to Microsoft.Storage/storageAccounts and Microsoft.Kusto/clusters, driven by
azure-mgmt-network, azure-mgmt-storage and azure-mgmt-kusto: automatic and manual connections,
the target owner's approve / reject / remove, privateLinkResources, a second subscription whose
owner may not approve, bad input, and deleting an endpoint.

Every test has its own resource group, VNet (10.70.0.0/16 with subnet `pe` = 10.70.1.0/24, so the
first private endpoint IP is always 10.70.1.4) and target resources, so tests are independent and
addresses exact.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.kusto import models as kusto_models
from azure.mgmt.network.models import PrivateEndpoint
from azure.mgmt.resource.resources.models import ResourceGroup
from azure.mgmt.storage import models as storage_models

from helpers import (
    LOCATION,
    approve_storage,
    create_pe,
    create_subscription,
    make_clients,
    pe_model,
    storage_account_name,
    target_connection_of,
    the_connection,
    unique,
    vnet_model,
    wait_lro,
)

VNET_PREFIX = "10.70.0.0/16"
SUBNET_PREFIX = "10.70.1.0/24"
FIRST_IP = "10.70.1.4"  # .0-.3 are reserved in every Azure subnet
SECOND_IP = "10.70.1.5"
KUSTO_SKU = kusto_models.AzureSku(name="Dev(No SLA)_Standard_E2a_v4", tier="Basic")
# Every sub-resource of a storage account, with the zone recommended for it.
STORAGE_GROUPS = {
    f"{service}{suffix}": f"privatelink.{service}.core.windows.net"
    for service in ("blob", "table", "queue", "file", "web", "dfs")
    for suffix in ("", "_secondary")
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def kusto_cluster_name() -> str:
    """4-22 lower-case letters and digits, starting with a letter."""
    return f"kcpy{secrets.token_hex(5)}"


@dataclass
class Landing:
    """A resource group with a VNet whose subnet `pe` takes the private endpoints."""

    rg: str
    subnet_id: str


def landing(network_client, resource_group) -> Landing:
    rg = resource_group("rg-py-pe")
    vnet = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, "vnet-pe", vnet_model([VNET_PREFIX], [("pe", SUBNET_PREFIX)])
        )
    )
    return Landing(rg, f"{vnet.id}/subnets/pe")


def create_storage_account(storage_client, rg: str, kind: str = "StorageV2"):
    name = storage_account_name()
    poller = storage_client.storage_accounts.begin_create(
        rg,
        name,
        storage_models.StorageAccountCreateParameters(
            location=LOCATION, kind=kind, sku=storage_models.Sku(name="Standard_LRS")
        ),
    )
    account = wait_lro(poller)
    assert account.name == name
    return account


def create_kusto_cluster(kusto_client, rg: str):
    name = kusto_cluster_name()
    cluster = wait_lro(
        kusto_client.clusters.begin_create_or_update(rg, name, kusto_models.Cluster(location=LOCATION, sku=KUSTO_SKU))
    )
    assert cluster.name == name
    return cluster


def pe_state(network_client, rg: str, name: str) -> tuple[str, str]:
    """(status, description) of the endpoint's connection, as a fresh GET shows it."""
    state = the_connection(network_client.private_endpoints.get(rg, name)).private_link_service_connection_state
    return state.status, state.description


def nic_name_of(pe: PrivateEndpoint) -> str:
    (nic,) = pe.network_interfaces
    return nic.id.rsplit("/", 1)[1]


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def test_storage_account_is_created_as_sent(storage_client, resource_group):
    rg = resource_group("rg-py-storage")
    account = create_storage_account(storage_client, rg)
    assert account.type == "Microsoft.Storage/storageAccounts"
    assert account.location == LOCATION
    assert account.provisioning_state == "Succeeded"
    assert account.primary_endpoints.blob == f"https://{account.name}.blob.core.windows.net/"
    assert account.primary_endpoints.file == f"https://{account.name}.file.core.windows.net/"
    assert account.private_endpoint_connections == []
    got = storage_client.storage_accounts.get_properties(rg, account.name)
    assert got.id == account.id
    # Azure returns the account's kind and sku at the top level of every GET (both are required
    # on create; clients such as Terraform and `az storage account show` read them back).
    assert got.kind == "StorageV2", f"storage account GET has no kind (top level: {sorted(got)})"
    assert got.sku is not None, f"storage account GET has no sku (top level: {sorted(got)})"
    assert (got.sku.name, got.sku.tier) == ("Standard_LRS", "Standard")


def test_kusto_cluster_is_created_as_sent(kusto_client, resource_group):
    rg = resource_group("rg-py-kusto")
    cluster = create_kusto_cluster(kusto_client, rg)
    assert cluster.type == "Microsoft.Kusto/clusters"
    assert cluster.location == LOCATION
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.state == "Running"
    assert cluster.uri == f"https://{cluster.name}.{LOCATION}.kusto.windows.net"
    assert cluster.data_ingestion_uri == f"https://ingest-{cluster.name}.{LOCATION}.kusto.windows.net"
    assert cluster.private_endpoint_connections == []
    got = kusto_client.clusters.get(rg, cluster.name)
    assert got.id == cluster.id
    # Azure returns the cluster's sku (required on create) at the top level of every GET.
    assert got.sku is not None, f"Kusto cluster GET has no sku (top level: {sorted(got)})"
    assert (got.sku.name, got.sku.tier) == ("Dev(No SLA)_Standard_E2a_v4", "Basic")


def test_storage_private_link_resources_list_every_group(storage_client, resource_group):
    rg = resource_group("rg-py-plr")
    account = create_storage_account(storage_client, rg)
    result = storage_client.private_link_resources.list_by_storage_account(rg, account.name)
    by_group = {r.group_id: r for r in result.value}
    assert set(by_group) == set(STORAGE_GROUPS)
    for group, zone in STORAGE_GROUPS.items():
        r = by_group[group]
        assert r.name == group
        assert r.id == f"{account.id}/privateLinkResources/{group}"
        assert r.type == "Microsoft.Storage/storageAccounts/privateLinkResources"
        assert r.required_members == [group]
        assert r.required_zone_names == [zone]
    assert by_group["blob"].required_zone_names == ["privatelink.blob.core.windows.net"]
    assert by_group["dfs_secondary"].required_zone_names == ["privatelink.dfs.core.windows.net"]


# --------------------------------------------------------------------------------------------
# Storage: automatic and manual connections
# --------------------------------------------------------------------------------------------


def test_automatic_endpoint_to_blob_is_approved_with_nic_and_dns(
    network_client, storage_client, resource_group, request_log
):
    net = network_client
    land = landing(net, resource_group)
    account = create_storage_account(storage_client, land.rg)

    request_log.clear()
    pe = create_pe(net, land.rg, "pe-blob", pe_model(land.subnet_id, account.id, "blob", connection="to-blob"))
    # One PUT (200/201, Azure-AsyncOperation), polled, then the final GET.
    (put,) = request_log.find("PUT", "/privateEndpoints/pe-blob")
    assert put.status == 201
    assert put.headers["retry-after"] == "1"

    assert pe.subnet.id.lower() == land.subnet_id.lower()
    assert pe.manual_private_link_service_connections == []
    (conn,) = pe.private_link_service_connections
    assert conn.name == "to-blob"
    assert conn.id == f"{pe.id}/privateLinkServiceConnections/to-blob"
    assert conn.private_link_service_id == account.id
    assert conn.group_ids == ["blob"]
    assert conn.provisioning_state == "Succeeded"
    assert conn.private_link_service_connection_state.status == "Approved"
    assert conn.private_link_service_connection_state.description == "Auto-Approved"
    assert conn.private_link_service_connection_state.actions_required == "None"

    # DNS: the blob FQDN at the first address of the subnet.
    (dns,) = pe.custom_dns_configs
    assert dns.fqdn == f"{account.name}.blob.core.windows.net"
    assert dns.ip_addresses == [FIRST_IP]

    # The NIC: read-only, named {pe}.nic.{guid}, holding that address.
    nic_name = nic_name_of(pe)
    assert nic_name.startswith("pe-blob.nic.")
    uuid.UUID(nic_name[len("pe-blob.nic.") :])
    nic = net.network_interfaces.get(land.rg, nic_name)
    assert nic.private_endpoint.id.lower() == pe.id.lower()
    (ipconfig,) = nic.ip_configurations
    assert ipconfig.private_ip_address == FIRST_IP
    assert ipconfig.private_ip_allocation_method == "Dynamic"
    assert ipconfig.subnet.id.lower() == land.subnet_id.lower()

    # The storage side: one Approved connection pointing back at the endpoint.
    (pec,) = list(storage_client.private_endpoint_connections.list(land.rg, account.name))
    assert pec.private_endpoint.id.lower() == pe.id.lower()
    assert pec.name.startswith("pe-blob.")
    assert pec.id == f"{account.id}/privateEndpointConnections/{pec.name}"
    assert pec.type == "Microsoft.Storage/storageAccounts/privateEndpointConnections"
    assert pec.private_link_service_connection_state.status == "Approved"
    assert pec.private_link_service_connection_state.description == "Auto-Approved"
    assert pec.provisioning_state == "Succeeded"
    got = storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    assert got.private_link_service_connection_state.status == "Approved"
    # ... and inline on the account.
    inline = storage_client.storage_accounts.get_properties(land.rg, account.name).private_endpoint_connections
    assert [c.name for c in inline] == [pec.name]

    # A re-PUT of what GET returned (read-only fields included), with tags added, is an update
    # (200): same NIC, same address, still Approved.
    current = net.private_endpoints.get(land.rg, "pe-blob")
    current.tags = {"env": "conformance"}
    request_log.clear()
    updated = wait_lro(net.private_endpoints.begin_create_or_update(land.rg, "pe-blob", current))
    (put,) = request_log.find("PUT", "/privateEndpoints/pe-blob")
    assert put.status == 200
    assert updated.tags == {"env": "conformance"}
    assert [n.id for n in updated.network_interfaces] == [n.id for n in pe.network_interfaces]
    assert updated.custom_dns_configs[0].ip_addresses == [FIRST_IP]
    assert the_connection(updated).private_link_service_connection_state.status == "Approved"
    assert len(list(storage_client.private_endpoint_connections.list(land.rg, account.name))) == 1

    # A second endpoint in the same subnet gets the next address.
    pe2 = create_pe(net, land.rg, "pe-queue", pe_model(land.subnet_id, account.id, "queue"))
    (dns2,) = pe2.custom_dns_configs
    assert (dns2.fqdn, dns2.ip_addresses) == (f"{account.name}.queue.core.windows.net", [SECOND_IP])
    assert {p.name for p in net.private_endpoints.list(land.rg)} == {"pe-blob", "pe-queue"}


def test_manual_endpoint_to_file_approve_reject_remove(network_client, storage_client, resource_group, request_log):
    net = network_client
    land = landing(net, resource_group)
    account = create_storage_account(storage_client, land.rg)
    message = "Please approve: conformance test of the file share endpoint."

    pe = create_pe(
        net,
        land.rg,
        "pe-file",
        pe_model(land.subnet_id, account.id, "file", manual=True, connection="to-file", message=message),
    )
    assert pe.private_link_service_connections == []
    (conn,) = pe.manual_private_link_service_connections
    assert conn.name == "to-file"
    assert conn.id == f"{pe.id}/manualPrivateLinkServiceConnections/to-file"
    assert conn.group_ids == ["file"]
    assert conn.request_message == message
    assert conn.private_link_service_connection_state.status == "Pending"
    assert conn.private_link_service_connection_state.description == "Awaiting approval"
    # A pending endpoint already has its NIC and address.
    (dns,) = pe.custom_dns_configs
    assert (dns.fqdn, dns.ip_addresses) == (f"{account.name}.file.core.windows.net", [FIRST_IP])

    # The owner sees it Pending.
    pecs = list(storage_client.private_endpoint_connections.list(land.rg, account.name))
    pec = target_connection_of(pecs, pe.id)
    assert len(pecs) == 1
    assert pec.private_link_service_connection_state.status == "Pending"
    assert pec.private_link_service_connection_state.description == "Awaiting approval"

    # Approve: a plain PUT answered 200 with the final state (the SDK does not poll).
    request_log.clear()
    approved = approve_storage(storage_client, land.rg, account.name, pec.name, "Approved", "ok")
    (put,) = request_log.find("PUT", f"/privateEndpointConnections/{pec.name}")
    assert put.status == 200
    assert len(request_log.exchanges) == 1
    assert approved.name == pec.name
    assert approved.private_link_service_connection_state.status == "Approved"
    assert approved.private_link_service_connection_state.description == "ok"
    assert approved.private_endpoint.id.lower() == pe.id.lower()
    assert pe_state(net, land.rg, "pe-file") == ("Approved", "ok")
    got = storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    assert got.private_link_service_connection_state.status == "Approved"

    # Reject the way `az network private-endpoint-connection reject` does it: GET, change the
    # state, PUT the whole body back (read-only fields included). Both sides become Rejected.
    current = storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    current.private_link_service_connection_state.status = "Rejected"
    current.private_link_service_connection_state.description = "no longer needed"
    rejected = storage_client.private_endpoint_connections.put(land.rg, account.name, pec.name, properties=current)
    assert rejected.private_link_service_connection_state.status == "Rejected"
    # Storage spells it actionRequired (singular).
    assert rejected.private_link_service_connection_state.action_required == "None"
    assert rejected.private_link_service_connection_state.description == "no longer needed"
    assert pe_state(net, land.rg, "pe-file") == ("Rejected", "no longer needed")
    got = storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    assert got.private_link_service_connection_state.status == "Rejected"

    # Remove on the storage side: gone there, Disconnected on the endpoint.
    storage_client.private_endpoint_connections.delete(land.rg, account.name, pec.name)
    with pytest.raises(ResourceNotFoundError):
        storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    assert list(storage_client.private_endpoint_connections.list(land.rg, account.name)) == []
    assert storage_client.storage_accounts.get_properties(land.rg, account.name).private_endpoint_connections == []
    status, _ = pe_state(net, land.rg, "pe-file")
    assert status == "Disconnected"
    # The endpoint itself (and its NIC) stay until deleted.
    assert net.network_interfaces.get(land.rg, nic_name_of(pe)).ip_configurations[0].private_ip_address == FIRST_IP


# --------------------------------------------------------------------------------------------
# Kusto
# --------------------------------------------------------------------------------------------


def test_kusto_manual_endpoint_approved_through_lro(network_client, kusto_client, resource_group, request_log):
    net = network_client
    land = landing(net, resource_group)
    cluster = create_kusto_cluster(kusto_client, land.rg)

    (plr,) = list(kusto_client.private_link_resources.list(land.rg, cluster.name))
    assert plr.group_id == "cluster"
    assert plr.id == f"{cluster.id}/privateLinkResources/cluster"
    assert plr.required_members == ["Engine", "DataManagement"]
    assert plr.required_zone_names == [
        f"privatelink.{LOCATION}.kusto.windows.net",
        "privatelink.blob.core.windows.net",
        "privatelink.queue.core.windows.net",
        "privatelink.table.core.windows.net",
    ]

    pe = create_pe(
        net,
        land.rg,
        "pe-kusto",
        pe_model(land.subnet_id, cluster.id, "cluster", manual=True, message="Kusto from the spoke, please"),
    )
    conn = the_connection(pe)
    assert conn.group_ids == ["cluster"]
    assert conn.private_link_service_connection_state.status == "Pending"
    assert conn.private_link_service_connection_state.description == "Awaiting approval"

    # One address per required member: the engine and the ingestion (DataManagement) endpoint,
    # the host names of the cluster's uri and dataIngestionUri.
    dns = {d.fqdn: d.ip_addresses for d in pe.custom_dns_configs}
    assert dns == {
        f"{cluster.name}.{LOCATION}.kusto.windows.net": [FIRST_IP],
        f"ingest-{cluster.name}.{LOCATION}.kusto.windows.net": [SECOND_IP],
    }
    assert cluster.uri.removeprefix("https://") in dns
    assert cluster.data_ingestion_uri.removeprefix("https://") in dns
    nic = net.network_interfaces.get(land.rg, nic_name_of(pe))
    assert sorted(c.private_ip_address for c in nic.ip_configurations) == [FIRST_IP, SECOND_IP]

    pecs = list(kusto_client.private_endpoint_connections.list(land.rg, cluster.name))
    pec = target_connection_of(pecs, pe.id)
    assert pec.type == "Microsoft.Kusto/clusters/privateEndpointConnections"
    assert pec.group_id == "cluster"
    assert pec.private_link_service_connection_state.status == "Pending"

    # Approve: Kusto's PUT is a long-running operation.
    request_log.clear()
    approved = wait_lro(
        kusto_client.private_endpoint_connections.begin_create_or_update(
            land.rg,
            cluster.name,
            pec.name,
            kusto_models.PrivateEndpointConnection(
                private_link_service_connection_state=kusto_models.PrivateLinkServiceConnectionStateProperty(
                    status="Approved", description="ok"
                )
            ),
        )
    )
    (put,) = request_log.find("PUT", f"/privateEndpointConnections/{pec.name}")
    assert put.status in (200, 201)
    assert "azure-asyncoperation" in put.headers
    assert approved.name == pec.name
    assert approved.group_id == "cluster"
    assert approved.private_link_service_connection_state.status == "Approved"
    assert approved.private_link_service_connection_state.description == "ok"
    got = kusto_client.private_endpoint_connections.get(land.rg, cluster.name, pec.name)
    assert got.private_link_service_connection_state.status == "Approved"
    assert pe_state(net, land.rg, "pe-kusto") == ("Approved", "ok")
    assert approved.provisioning_state == "Succeeded"
    inline = kusto_client.clusters.get(land.rg, cluster.name).private_endpoint_connections
    assert [c.name for c in inline] == [pec.name]

    # Removing it on the cluster is long-running too; the endpoint is left Disconnected.
    request_log.clear()
    wait_lro(kusto_client.private_endpoint_connections.begin_delete(land.rg, cluster.name, pec.name))
    (delete,) = request_log.find("DELETE", f"/privateEndpointConnections/{pec.name}")
    assert delete.status == 202
    assert "azure-asyncoperation" in delete.headers
    with pytest.raises(ResourceNotFoundError):
        kusto_client.private_endpoint_connections.get(land.rg, cluster.name, pec.name)
    assert list(kusto_client.private_endpoint_connections.list(land.rg, cluster.name)) == []
    status, _ = pe_state(net, land.rg, "pe-kusto")
    assert status == "Disconnected"


# --------------------------------------------------------------------------------------------
# Another subscription, another owner
# --------------------------------------------------------------------------------------------


@pytest.fixture
def other_subscription(server, clients):
    """A second subscription owned by a new service principal "bob" (not the storage account's
    owner, and with no role on it), with a resource group and a VNet, all created by bob himself
    through his own ClientSecretCredential; yields (Clients for it, Landing)."""
    subscription_id = str(uuid.uuid4())
    doc, bob = create_subscription(clients, subscription_id, display_name="conformance-other", owner="bob")
    assert doc["subscriptionId"] == subscription_id
    other = make_clients(server, subscription_id, credential=bob.credential(server))
    rg = unique("rg-py-other")
    other.resource.resource_groups.create_or_update(rg, ResourceGroup(location=LOCATION))
    vnet = wait_lro(
        other.network.virtual_networks.begin_create_or_update(
            rg, "vnet-other", vnet_model([VNET_PREFIX], [("pe", SUBNET_PREFIX)])
        )
    )
    try:
        yield other, Landing(rg, f"{vnet.id}/subnets/pe")
    finally:
        if other.resource.resource_groups.check_existence(rg):
            wait_lro(other.resource.resource_groups.begin_delete(rg), budget=30)
        other.close()
        other.credential.close()


def test_other_owner_cannot_auto_approve_but_can_request(
    network_client, storage_client, resource_group, other_subscription
):
    other, spoke = other_subscription
    rg = resource_group("rg-py-owner")
    account = create_storage_account(storage_client, rg)

    # Automatic: bob lacks privateEndpointConnectionsApproval/action on the account.
    with pytest.raises(HttpResponseError) as info:
        other.network.private_endpoints.begin_create_or_update(
            spoke.rg, "pe-auto", pe_model(spoke.subnet_id, account.id, "blob")
        ).result()
    assert info.value.status_code == 403
    assert info.value.error.code == "LinkedAuthorizationFailed"
    text = info.value.error.message
    assert "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action" in text
    assert account.id in text
    # Nothing was left behind: no endpoint, no NIC, no connection on the account.
    with pytest.raises(ResourceNotFoundError):
        other.network.private_endpoints.get(spoke.rg, "pe-auto")
    assert list(other.network.network_interfaces.list(spoke.rg)) == []
    assert list(storage_client.private_endpoint_connections.list(rg, account.name)) == []

    # Manual: Pending, until the account's owner approves.
    pe = create_pe(
        other.network,
        spoke.rg,
        "pe-manual",
        pe_model(spoke.subnet_id, account.id, "blob", manual=True, message="from bob's subscription"),
    )
    assert the_connection(pe).private_link_service_connection_state.status == "Pending"
    (dns,) = pe.custom_dns_configs
    assert (dns.fqdn, dns.ip_addresses) == (f"{account.name}.blob.core.windows.net", [FIRST_IP])
    pec = target_connection_of(list(storage_client.private_endpoint_connections.list(rg, account.name)), pe.id)
    assert pec.private_link_service_connection_state.status == "Pending"
    assert f"/subscriptions/{other.subscription_id}/".lower() in pec.private_endpoint.id.lower()

    approved = approve_storage(storage_client, rg, account.name, pec.name, "Approved", "welcome")
    assert approved.private_link_service_connection_state.status == "Approved"
    assert pe_state(other.network, spoke.rg, "pe-manual") == ("Approved", "welcome")
    # The account's own subscription does not see the other subscription's endpoint.
    assert pe.id not in {p.id for p in network_client.private_endpoints.list_by_subscription()}


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def assert_nothing_created(net, land: Landing, name: str) -> None:
    with pytest.raises(ResourceNotFoundError):
        net.private_endpoints.get(land.rg, name)
    assert list(net.network_interfaces.list(land.rg)) == []
    assert not net.subnets.get(land.rg, "vnet-pe", "pe").ip_configurations


def test_bad_requests_are_refused_with_400(network_client, storage_client, resource_group):
    net = network_client
    land = landing(net, resource_group)
    account = create_storage_account(storage_client, land.rg)

    # An unknown group id: the message names the valid ones.
    with pytest.raises(HttpResponseError) as info:
        net.private_endpoints.begin_create_or_update(
            land.rg, "pe-bad-group", pe_model(land.subnet_id, account.id, "blobby")
        ).result()
    assert info.value.status_code == 400
    text = info.value.error.message
    assert "blobby" in text
    for group in STORAGE_GROUPS:
        assert group in text, f"valid group id {group!r} not named in {text!r}"
    assert_nothing_created(net, land, "pe-bad-group")

    # A general-purpose v1 (kind Storage) account takes no private endpoint.
    v1 = create_storage_account(storage_client, land.rg, kind="Storage")
    with pytest.raises(HttpResponseError) as info:
        net.private_endpoints.begin_create_or_update(
            land.rg, "pe-v1", pe_model(land.subnet_id, v1.id, "blob")
        ).result()
    assert info.value.status_code == 400
    assert "StorageV2" in info.value.error.message
    assert_nothing_created(net, land, "pe-v1")
    assert list(storage_client.private_endpoint_connections.list(land.rg, v1.name)) == []

    # A request message over 140 characters; exactly 140 is fine.
    with pytest.raises(HttpResponseError) as info:
        net.private_endpoints.begin_create_or_update(
            land.rg, "pe-long", pe_model(land.subnet_id, account.id, "blob", manual=True, message="x" * 141)
        ).result()
    assert info.value.status_code == 400
    assert "140" in info.value.error.message
    assert_nothing_created(net, land, "pe-long")
    assert list(storage_client.private_endpoint_connections.list(land.rg, account.name)) == []
    pe = create_pe(
        net, land.rg, "pe-140", pe_model(land.subnet_id, account.id, "blob", manual=True, message="y" * 140)
    )
    assert the_connection(pe).request_message == "y" * 140


# --------------------------------------------------------------------------------------------
# Deleting an endpoint
# --------------------------------------------------------------------------------------------


def test_deleting_endpoint_removes_connection_and_nic(network_client, storage_client, resource_group):
    net = network_client
    land = landing(net, resource_group)
    account = create_storage_account(storage_client, land.rg)
    pe = create_pe(net, land.rg, "pe-gone", pe_model(land.subnet_id, account.id, "blob"))
    nic_name = nic_name_of(pe)
    pec = target_connection_of(list(storage_client.private_endpoint_connections.list(land.rg, account.name)), pe.id)

    wait_lro(net.private_endpoints.begin_delete(land.rg, "pe-gone"))

    with pytest.raises(ResourceNotFoundError):
        net.private_endpoints.get(land.rg, "pe-gone")
    with pytest.raises(ResourceNotFoundError) as info:
        net.network_interfaces.get(land.rg, nic_name)
    assert info.value.status_code == 404
    with pytest.raises(ResourceNotFoundError):
        storage_client.private_endpoint_connections.get(land.rg, account.name, pec.name)
    assert list(storage_client.private_endpoint_connections.list(land.rg, account.name)) == []
    assert storage_client.storage_accounts.get_properties(land.rg, account.name).private_endpoint_connections == []
    assert list(net.private_endpoints.list(land.rg)) == []
    assert not net.subnets.get(land.rg, "vnet-pe", "pe").ip_configurations

    # The address went back to the subnet: the next endpoint gets it again.
    again = create_pe(net, land.rg, "pe-again", pe_model(land.subnet_id, account.id, "blob"))
    assert again.custom_dns_configs[0].ip_addresses == [FIRST_IP]

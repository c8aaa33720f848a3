"""Private DNS with azure-mgmt-privatedns (2.0.0, api-version 2024-06-01) and azure-mgmt-network,
checked end to end with real DNS packets (dnspython, UDP and TCP) sent to privlink's per-VNet
resolvers (`GET /privlink/dns/resolvers`; each VNet has its own loopback address, the stand-in
for 168.63.129.16 inside it):

* zones (location `global`, an LRO, created with their SOA record set), virtual network links (an
  LRO), record sets of six types (`record_sets.create_or_update`: synchronous 201/200, names
  lower-cased, bare-GUID ETags), `If-None-Match: *` and `If-Match` preconditions, the ALL listing
  and the per-type listing, delete; the resolver of the linked VNet answers every record;
* a storage account with a private endpoint for `blob` and a private DNS zone group: the group
  writes the endpoint's A record set (TTL 10) into `privatelink.blob.core.windows.net`; the
  public name is a CNAME to the privatelink name, which the linked VNet resolves to the
  endpoint's IP and an unlinked VNet to a public address (198.18.0.0/15); deleting the endpoint
  takes the record away;
* `dig` against the same resolver, when dig is installed;
* ARM error shapes of the Private DNS provider, as azure-core raises them.

Every test has its own resource group and VNets, so addresses are exact.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.mgmt.network.models import PrivateDnsZoneConfig, PrivateDnsZoneGroup
from azure.mgmt.storage import models as storage_models
from azure.mgmt.privatedns.models import (
    AaaaRecord,
    ARecord,
    CnameRecord,
    MxRecord,
    PrivateZone,
    RecordSet,
    SrvRecord,
    SubResource,
    TxtRecord,
    VirtualNetworkLink,
)

from helpers import (
    LOCATION,
    TRANSPORTS,
    create_pe,
    dns_explain,
    dns_query,
    is_public_answer,
    pe_model,
    resolver_address,
    storage_account_name,
    vnet_model,
    wait_lro,
)

BLOB_ZONE = "privatelink.blob.core.windows.net"
# A zone of one's own (not a privatelink zone): only linked VNets see it at all.
OWN_ZONE = "corp.privlink.internal"
LINKED_PREFIX, LINKED_SUBNET = "10.71.0.0/16", "10.71.1.0/24"
UNLINKED_PREFIX = "10.72.0.0/16"
ENDPOINT_IP = "10.71.1.4"  # the first usable address of LINKED_SUBNET
ZONE_GROUP_TTL = 10  # what Azure gives the records a zone group writes
# Each dig is one query (+tries=1, +time=3) to a resolver on loopback.
DIG_TIMEOUT_SECONDS = 15


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@dataclass
class Network:
    """A resource group with a VNet that will be linked (subnet `pe` takes the private endpoints)
    and one that will not."""

    rg: str
    linked_vnet_id: str
    subnet_id: str
    unlinked_vnet_id: str


def two_vnets(network_client, resource_group, prefix: str) -> Network:
    rg = resource_group(prefix)
    linked = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, "vnet-linked", vnet_model([LINKED_PREFIX], [("pe", LINKED_SUBNET)])
        )
    )
    unlinked = wait_lro(
        network_client.virtual_networks.begin_create_or_update(rg, "vnet-unlinked", vnet_model([UNLINKED_PREFIX]))
    )
    return Network(rg, linked.id, f"{linked.id}/subnets/pe", unlinked.id)


def create_zone(privatedns_client, rg: str, zone: str) -> PrivateZone:
    created = wait_lro(privatedns_client.private_zones.begin_create_or_update(rg, zone, PrivateZone(location="global")))
    assert created.name == zone
    assert created.location == "global"
    assert created.provisioning_state == "Succeeded"
    return created


def link_vnet(privatedns_client, rg: str, zone: str, name: str, vnet_id: str) -> VirtualNetworkLink:
    link = wait_lro(
        privatedns_client.virtual_network_links.begin_create_or_update(
            rg,
            zone,
            name,
            VirtualNetworkLink(location="global", virtual_network=SubResource(id=vnet_id), registration_enabled=False),
        )
    )
    assert link.provisioning_state == "Succeeded"
    assert link.virtual_network_link_state == "Completed"
    return link


def etag_is_bare_guid(etag: str) -> bool:
    """Private DNS ETags are bare GUIDs (no quotes, no W/ prefix), unlike Network's."""
    try:
        return str(uuid.UUID(etag)) == etag
    except (TypeError, ValueError):
        return False


def the_error(info) -> tuple[int, str]:
    """(HTTP status, ARM error code) of the exception azure-core raised."""
    error = info.value
    assert error.error is not None, f"no ARM error body: {error}"
    return error.status_code, error.error.code


@dataclass
class BlobEndpoint:
    """A storage account whose blob endpoint has a private endpoint in the linked VNet, with a
    zone group writing its record into the linked `privatelink.blob.core.windows.net` zone."""

    net: Network
    account: str
    public_name: str  # {account}.blob.core.windows.net
    private_name: str  # {account}.privatelink.blob.core.windows.net
    group: PrivateDnsZoneGroup


def blob_endpoint_with_zone_group(network_client, storage_client, privatedns_client, resource_group, prefix):
    net = two_vnets(network_client, resource_group, prefix)
    account = wait_lro(
        storage_client.storage_accounts.begin_create(
            net.rg,
            storage_account_name(),
            storage_models.StorageAccountCreateParameters(
                location=LOCATION, kind="StorageV2", sku=storage_models.Sku(name="Standard_LRS")
            ),
        )
    )
    zone = create_zone(privatedns_client, net.rg, BLOB_ZONE)
    link_vnet(privatedns_client, net.rg, BLOB_ZONE, "link-linked", net.linked_vnet_id)
    pe = create_pe(network_client, net.rg, "pe-blob", pe_model(net.subnet_id, account.id, "blob"))
    assert pe.custom_dns_configs[0].ip_addresses == [ENDPOINT_IP]
    group = wait_lro(
        network_client.private_dns_zone_groups.begin_create_or_update(
            net.rg,
            "pe-blob",
            "default",
            PrivateDnsZoneGroup(
                private_dns_zone_configs=[PrivateDnsZoneConfig(name="blob", private_dns_zone_id=zone.id)]
            ),
        )
    )
    return BlobEndpoint(
        net,
        account.name,
        f"{account.name}.blob.core.windows.net",
        f"{account.name}.{BLOB_ZONE}",
        group,
    )


# --------------------------------------------------------------------------------------------
# Zones, links and record sets
# --------------------------------------------------------------------------------------------


def test_zone_link_and_record_sets_through_the_sdk_and_the_resolver(
    clients, network_client, privatedns_client, resource_group, request_log
):
    dns_client = privatedns_client
    net = two_vnets(network_client, resource_group, "rg-py-dns")
    rg = net.rg

    # The zone: an LRO (201 + Azure-AsyncOperation), created with its SOA record set.
    request_log.clear()
    zone = create_zone(dns_client, rg, OWN_ZONE)
    (put,) = request_log.find("PUT", f"/privateDnsZones/{OWN_ZONE}?")
    assert put.status == 201
    assert "azure-asyncoperation" in put.headers
    assert "api-version=2024-06-01" in put.url
    assert zone.type == "Microsoft.Network/privateDnsZones"
    assert zone.id.endswith(f"/resourceGroups/{rg}/providers/Microsoft.Network/privateDnsZones/{OWN_ZONE}")
    assert etag_is_bare_guid(zone.etag), zone.etag
    assert zone.number_of_record_sets == 1
    assert zone.max_number_of_record_sets >= 1
    assert zone.number_of_virtual_network_links == 0
    assert zone.max_number_of_virtual_network_links >= 1
    assert zone.number_of_virtual_network_links_with_registration == 0
    soa = dns_client.record_sets.get(rg, OWN_ZONE, "SOA", "@")
    assert soa.type == "Microsoft.Network/privateDnsZones/SOA"
    assert soa.fqdn == f"{OWN_ZONE}."
    assert soa.soa_record.host == "azureprivatedns.net"
    assert [z.name for z in dns_client.private_zones.list_by_resource_group(rg)] == [OWN_ZONE]

    # The link: an LRO; the zone counts it.
    request_log.clear()
    link = link_vnet(dns_client, rg, OWN_ZONE, "link-linked", net.linked_vnet_id)
    (put,) = request_log.find("PUT", "/virtualNetworkLinks/link-linked")
    assert put.status == 201 and "azure-asyncoperation" in put.headers
    assert link.type == "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
    assert link.location == "global"
    assert link.virtual_network.id.lower() == net.linked_vnet_id.lower()
    assert link.registration_enabled is False
    assert link.resolution_policy == "Default"
    assert [l.name for l in dns_client.virtual_network_links.list(rg, OWN_ZONE)] == ["link-linked"]
    assert dns_client.private_zones.get(rg, OWN_ZONE).number_of_virtual_network_links == 1

    # Record sets of six types: synchronous (one PUT, 201, no polling), names lower-cased.
    wanted = {
        ("A", "WWW"): RecordSet(
            ttl=300, a_records=[ARecord(ipv4_address="10.71.2.10"), ARecord(ipv4_address="10.71.2.11")]
        ),
        ("AAAA", "v6"): RecordSet(ttl=300, aaaa_records=[AaaaRecord(ipv6_address="fd00::10")]),
        ("CNAME", "alias"): RecordSet(ttl=60, cname_record=CnameRecord(cname=f"www.{OWN_ZONE}")),
        ("MX", "@"): RecordSet(ttl=3600, mx_records=[MxRecord(preference=10, exchange=f"mail.{OWN_ZONE}")]),
        ("TXT", "info"): RecordSet(
            ttl=120, txt_records=[TxtRecord(value=["hello", "world"])], metadata={"team": "net"}
        ),
        ("SRV", "_sip._tcp"): RecordSet(
            ttl=600, srv_records=[SrvRecord(priority=10, weight=5, port=5060, target=f"www.{OWN_ZONE}")]
        ),
    }
    request_log.clear()
    created = {}
    for (rtype, name), body in wanted.items():
        rs = dns_client.record_sets.create_or_update(rg, OWN_ZONE, rtype, name, body)
        created[rtype] = rs
        assert rs.name == name.lower()
        assert rs.type == f"Microsoft.Network/privateDnsZones/{rtype}"
        assert rs.id == f"{zone.id}/{rtype}/{name.lower()}"
        assert rs.ttl == body.ttl
        assert rs.fqdn == (f"{OWN_ZONE}." if name == "@" else f"{name.lower()}.{OWN_ZONE}.")
        assert rs.is_auto_registered is False
        assert etag_is_bare_guid(rs.etag), rs.etag
    puts = [e for e in request_log.exchanges if e.method == "PUT"]
    assert [e.status for e in puts] == [201] * len(wanted), [(e.url, e.status) for e in puts]
    assert not request_log.find("GET", "operation"), "record sets are not long-running"
    assert [r.ipv4_address for r in created["A"].a_records] == ["10.71.2.10", "10.71.2.11"]
    assert created["CNAME"].cname_record.cname == f"www.{OWN_ZONE}"
    assert created["TXT"].txt_records[0].value == ["hello", "world"]
    assert created["TXT"].metadata == {"team": "net"}
    assert (created["SRV"].srv_records[0].port, created["SRV"].srv_records[0].target) == (5060, f"www.{OWN_ZONE}")

    # If-None-Match: * refuses to overwrite what exists: 412, ResourceExistsError.
    with pytest.raises(ResourceExistsError) as info:
        dns_client.record_sets.create_or_update(
            rg, OWN_ZONE, "A", "www", RecordSet(ttl=5, a_records=[ARecord(ipv4_address="10.71.9.9")]),
            match_condition=MatchConditions.IfMissing,
        )  # fmt: skip
    assert the_error(info) == (412, "PreconditionFailed")
    assert dns_client.record_sets.get(rg, OWN_ZONE, "A", "www").ttl == 300
    # ... and lets a new name through.
    fresh = dns_client.record_sets.create_or_update(
        rg, OWN_ZONE, "A", "fresh", RecordSet(ttl=30, a_records=[ARecord(ipv4_address="10.71.2.20")]),
        match_condition=MatchConditions.IfMissing,
    )  # fmt: skip
    assert fresh.name == "fresh"

    # The ALL listing (the SOA included) and one type's.
    everything = {(rs.type.rsplit("/", 1)[1], rs.name) for rs in dns_client.record_sets.list(rg, OWN_ZONE)}
    assert everything == {("SOA", "@"), ("A", "www"), ("A", "fresh"), ("AAAA", "v6"), ("CNAME", "alias"),
                          ("MX", "@"), ("TXT", "info"), ("SRV", "_sip._tcp")}  # fmt: skip
    assert sorted(rs.name for rs in dns_client.record_sets.list_by_type(rg, OWN_ZONE, "A")) == ["fresh", "www"]
    assert dns_client.private_zones.get(rg, OWN_ZONE).number_of_record_sets == len(everything)

    # Update with If-Match: the current ETag wins (200, a new ETag), a stale one is 412.
    current = dns_client.record_sets.get(rg, OWN_ZONE, "A", "www")
    request_log.clear()
    updated = dns_client.record_sets.create_or_update(
        rg, OWN_ZONE, "A", "www", RecordSet(ttl=30, a_records=[ARecord(ipv4_address="10.71.2.12")]),
        etag=current.etag, match_condition=MatchConditions.IfNotModified,
    )  # fmt: skip
    (put,) = request_log.find("PUT", "/A/www")
    assert put.status == 200
    assert updated.ttl == 30
    assert [r.ipv4_address for r in updated.a_records] == ["10.71.2.12"]
    assert etag_is_bare_guid(updated.etag) and updated.etag != current.etag
    with pytest.raises(ResourceModifiedError) as info:
        dns_client.record_sets.update(
            rg, OWN_ZONE, "A", "www", RecordSet(ttl=99),
            etag=current.etag, match_condition=MatchConditions.IfNotModified,
        )  # fmt: skip
    assert the_error(info) == (412, "PreconditionFailed")
    # PATCH with the current ETag merges: the records stay, the TTL changes.
    patched = dns_client.record_sets.update(
        rg, OWN_ZONE, "A", "www", RecordSet(ttl=45), etag=updated.etag, match_condition=MatchConditions.IfNotModified
    )
    assert patched.ttl == 45
    assert [r.ipv4_address for r in patched.a_records] == ["10.71.2.12"]

    # The linked VNet's resolver answers what the API wrote, over UDP and TCP; the unlinked
    # VNet's does not know the zone at all.
    linked = resolver_address(clients, net.linked_vnet_id)
    unlinked = resolver_address(clients, net.unlinked_vnet_id)
    assert linked != unlinked, "every VNet has its own resolver"
    for transport in TRANSPORTS:
        a = dns_query(linked, f"www.{OWN_ZONE}", "A", transport)
        assert (a.rcode, a.addresses) == ("NOERROR", ["10.71.2.12"]), f"{transport}: {a}"
        assert a.message.answer[0].ttl == 45, f"{transport}: {a}"
        alias = dns_query(linked, f"alias.{OWN_ZONE}", "A", transport)
        assert (alias.cnames, alias.addresses) == ([f"www.{OWN_ZONE}"], ["10.71.2.12"]), f"{transport}: {alias}"
        v6 = dns_query(linked, f"v6.{OWN_ZONE}", "AAAA", transport)
        assert v6.addresses == ["fd00::10"], f"{transport}: {v6}"
        txt = dns_query(linked, f"info.{OWN_ZONE}", "TXT", transport)
        assert [r.strings for rrset in txt.message.answer for r in rrset] == [(b"hello", b"world")], str(txt)
        mx = dns_query(linked, OWN_ZONE, "MX", transport)
        assert [(r.preference, r.exchange.to_text()) for rrset in mx.message.answer for r in rrset] == [
            (10, f"mail.{OWN_ZONE}.")
        ], str(mx)
        srv = dns_query(linked, f"_sip._tcp.{OWN_ZONE}", "SRV", transport)
        assert [(r.port, r.target.to_text()) for rrset in srv.message.answer for r in rrset] == [
            (5060, f"www.{OWN_ZONE}.")
        ], str(srv)
        missing = dns_query(linked, f"nothing.{OWN_ZONE}", "A", transport)
        assert missing.rcode == "NXDOMAIN", f"{transport}: {missing}"
        # Not linked, the zone is invisible: the name is not privlink's to answer, and with no
        # upstream resolver configured (the suite's servers have none) it is refused.
        outside = dns_query(unlinked, f"www.{OWN_ZONE}", "A", transport)
        assert (outside.rcode, outside.addresses) == ("REFUSED", []), f"the unlinked VNet sees the zone: {outside}"
    explained = dns_explain(clients, f"www.{OWN_ZONE}", "A", net.unlinked_vnet_id)
    assert explained["rcode"] == "Refused", explained
    assert "NotLinked" in [step["kind"] for step in explained["steps"]], explained

    # Delete: gone from the API and from the resolver's next answer; deleting again is 204.
    request_log.clear()
    dns_client.record_sets.delete(rg, OWN_ZONE, "TXT", "info")
    assert request_log.find("DELETE", "/TXT/info")[0].status == 200
    with pytest.raises(ResourceNotFoundError):
        dns_client.record_sets.get(rg, OWN_ZONE, "TXT", "info")
    assert dns_query(linked, f"info.{OWN_ZONE}", "TXT").rcode == "NXDOMAIN"
    dns_client.record_sets.delete(rg, OWN_ZONE, "TXT", "info")
    assert request_log.find("DELETE", "/TXT/info")[-1].status == 204

    # A zone with a link cannot be deleted on its own; without, it can (an LRO), SOA and all.
    with pytest.raises(HttpResponseError) as info:
        wait_lro(dns_client.private_zones.begin_delete(rg, OWN_ZONE))
    assert the_error(info) == (409, "Conflict")
    wait_lro(dns_client.virtual_network_links.begin_delete(rg, OWN_ZONE, "link-linked"))
    wait_lro(dns_client.private_zones.begin_delete(rg, OWN_ZONE))
    with pytest.raises(ResourceNotFoundError):
        dns_client.private_zones.get(rg, OWN_ZONE)
    gone = dns_query(linked, f"www.{OWN_ZONE}", "A")
    assert (gone.rcode, gone.addresses) == ("REFUSED", []), str(gone)


# --------------------------------------------------------------------------------------------
# Private endpoints: the zone group's record, resolved
# --------------------------------------------------------------------------------------------


def test_zone_group_record_resolves_in_the_linked_vnet_only(
    clients, network_client, storage_client, privatedns_client, resource_group, request_log
):
    request_log.clear()
    blob = blob_endpoint_with_zone_group(
        network_client, storage_client, privatedns_client, resource_group, "rg-py-dnsgroup"
    )
    net = blob.net
    (put,) = request_log.find("PUT", "/privateDnsZoneGroups/default")
    assert put.status in (200, 201) and "azure-asyncoperation" in put.headers

    # The group shows the record set it wrote.
    assert blob.group.name == "default"
    assert blob.group.provisioning_state == "Succeeded"
    (config,) = blob.group.private_dns_zone_configs
    assert config.name == "blob"
    assert config.private_dns_zone_id.lower().endswith(f"/privatednszones/{BLOB_ZONE}")
    (written,) = config.record_sets
    assert (written.record_type, written.record_set_name, written.fqdn) == ("A", blob.account, blob.private_name)
    assert (written.ttl, written.ip_addresses) == (ZONE_GROUP_TTL, [ENDPOINT_IP])
    got = network_client.private_dns_zone_groups.get(net.rg, "pe-blob", "default")
    assert got.private_dns_zone_configs[0].record_sets[0].ip_addresses == [ENDPOINT_IP]
    assert [g.name for g in network_client.private_dns_zone_groups.list("pe-blob", net.rg)] == ["default"]

    # ... and the zone has it, as a record set like any other.
    record = privatedns_client.record_sets.get(net.rg, BLOB_ZONE, "A", blob.account)
    assert record.ttl == ZONE_GROUP_TTL
    assert [r.ipv4_address for r in record.a_records] == [ENDPOINT_IP]
    assert record.fqdn == f"{blob.private_name}."
    assert {rs.name for rs in privatedns_client.record_sets.list_by_type(net.rg, BLOB_ZONE, "A")} == {blob.account}

    # Real DNS: the public name is a CNAME to the privatelink name; the linked VNet gets the
    # endpoint's address, the unlinked one the public address.
    linked = resolver_address(clients, net.linked_vnet_id)
    unlinked = resolver_address(clients, net.unlinked_vnet_id)
    for transport in TRANSPORTS:
        inside = dns_query(linked, blob.public_name, "A", transport)
        assert inside.rcode == "NOERROR", f"{transport}: {inside}"
        assert inside.cnames == [blob.private_name], f"{transport}: {inside}"
        assert inside.addresses == [ENDPOINT_IP], f"{transport}: {inside}"
        assert inside.message.answer[-1].ttl == ZONE_GROUP_TTL, f"{transport}: {inside}"
        outside = dns_query(unlinked, blob.public_name, "A", transport)
        assert outside.rcode == "NOERROR", f"{transport}: {outside}"
        assert outside.cnames == [blob.private_name], f"{transport}: {outside}"
        assert len(outside.addresses) == 1 and is_public_answer(outside.addresses[0]), f"{transport}: {outside}"

    # Deleting the endpoint deletes its zone group, and with it the record set.
    wait_lro(network_client.private_endpoints.begin_delete(net.rg, "pe-blob"))
    with pytest.raises(ResourceNotFoundError):
        privatedns_client.record_sets.get(net.rg, BLOB_ZONE, "A", blob.account)
    assert [rs.name for rs in privatedns_client.record_sets.list_by_type(net.rg, BLOB_ZONE, "A")] == []
    for transport in TRANSPORTS:
        after = dns_query(linked, blob.public_name, "A", transport)
        assert ENDPOINT_IP not in after.addresses, f"{transport}: the record outlived its endpoint: {after}"
        assert after.cnames == [], f"{transport}: no connection left, no privatelink alias: {after}"
        assert len(after.addresses) == 1 and is_public_answer(after.addresses[0]), f"{transport}: {after}"
        private = dns_query(linked, blob.private_name, "A", transport)
        assert private.rcode == "NXDOMAIN", f"{transport}: {private}"


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig is not installed (Debian: dnsutils)")
def test_dig_resolves_the_endpoint_name(clients, network_client, storage_client, privatedns_client, resource_group):
    blob = blob_endpoint_with_zone_group(network_client, storage_client, privatedns_client, resource_group, "rg-py-dig")
    host, port = resolver_address(clients, blob.net.linked_vnet_id)
    for transport in ([], ["+tcp"]):
        args = ["dig", f"@{host}", "-p", str(port), blob.public_name, "A", "+short", "+time=3", "+tries=1", *transport]
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=DIG_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL, check=False
        )
        assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        # +short prints the chain one name or address a line: the CNAME (with its dot), then the IP.
        assert proc.stdout.split() == [f"{blob.private_name}.", ENDPOINT_IP], f"{' '.join(args)}:\n{proc.stdout}"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_private_dns_errors_are_arm_errors(network_client, privatedns_client, resource_group):
    net = two_vnets(network_client, resource_group, "rg-py-dnserr")
    rg = net.rg

    # A zone lives in `global` only.
    with pytest.raises(HttpResponseError) as info:
        privatedns_client.private_zones.begin_create_or_update(rg, "wrong.internal", PrivateZone(location="westeurope"))
    assert the_error(info) == (400, "LocationNotAvailableForResourceType")
    assert info.value.error.message == (
        "The provided location 'westeurope' is not available for resource type "
        "'Microsoft.Network/privateDnsZones'. List of available regions for the resource type is 'global'."
    )
    assert info.value.error.target == "location"
    with pytest.raises(ResourceNotFoundError):
        privatedns_client.private_zones.get(rg, "wrong.internal")

    create_zone(privatedns_client, rg, OWN_ZONE)
    # So does a link.
    with pytest.raises(HttpResponseError) as info:
        privatedns_client.virtual_network_links.begin_create_or_update(
            rg, OWN_ZONE, "link-eu",
            VirtualNetworkLink(location="westeurope", virtual_network=SubResource(id=net.linked_vnet_id)),
        )  # fmt: skip
    assert the_error(info) == (400, "BadRequest")

    # Records are validated: an IPv4 address that is not one, a CNAME at the apex, a stray type.
    bad = [
        ("A", "bad", RecordSet(ttl=60, a_records=[ARecord(ipv4_address="10.0.0.300")]), "10.0.0.300"),
        ("CNAME", "@", RecordSet(ttl=60, cname_record=CnameRecord(cname="elsewhere.example")), "apex"),
        ("A", "mixed", RecordSet(ttl=60, aaaa_records=[AaaaRecord(ipv6_address="fd00::1")]), "aaaaRecords"),
    ]
    for rtype, name, body, mentioned in bad:
        with pytest.raises(HttpResponseError) as info:
            privatedns_client.record_sets.create_or_update(rg, OWN_ZONE, rtype, name, body)
        assert the_error(info) == (400, "BadRequest"), (rtype, name, str(info.value))
        assert mentioned in info.value.error.message, info.value.error.message
    # None of them left anything behind.
    names = {(rs.type.rsplit("/", 1)[1], rs.name) for rs in privatedns_client.record_sets.list(rg, OWN_ZONE)}
    assert names == {("SOA", "@")}

    # A CNAME cannot share its name with another record set.
    privatedns_client.record_sets.create_or_update(
        rg, OWN_ZONE, "A", "host", RecordSet(ttl=60, a_records=[ARecord(ipv4_address="10.71.2.1")])
    )
    with pytest.raises(HttpResponseError) as info:
        privatedns_client.record_sets.create_or_update(
            rg, OWN_ZONE, "CNAME", "host", RecordSet(ttl=60, cname_record=CnameRecord(cname="elsewhere.example"))
        )
    assert the_error(info) == (409, "Conflict")
    # The SOA record set is the zone's: it cannot be deleted.
    with pytest.raises(HttpResponseError) as info:
        privatedns_client.record_sets.delete(rg, OWN_ZONE, "SOA", "@")
    assert the_error(info) == (400, "BadRequest")

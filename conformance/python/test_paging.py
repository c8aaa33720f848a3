"""Paging: the SDK's ItemPaged follows ARM `nextLink`s to the end.

This module runs its own privlink with a page size of 2 (privlink.toml `[limits] page-size`),
so a handful of resources spans several pages.
"""

from urllib.parse import parse_qs, urlparse

import pytest
from azure.mgmt.resource.resources.models import ResourceGroup

from helpers import LOCATION, data_dir, make_clients, start_server, stop_server, unique, vnet_model, wait_lro

PAGE_SIZE = 2


@pytest.fixture(scope="module")
def paged():
    with data_dir("privlink-py-paging-") as path:
        srv = start_server(path, config_toml=f"[limits]\npage-size = {PAGE_SIZE}\n")
        c = make_clients(srv)
        try:
            yield c
        finally:
            c.close()
            c.credential.close()
            stop_server(srv)


def test_list_all_vnets_follows_next_links(paged):
    net = paged.network
    expected = {}
    for rg_prefix, count in (("rg-py-page-a", 3), ("rg-py-page-b", 2)):
        rg = unique(rg_prefix)
        paged.resource.resource_groups.create_or_update(rg, ResourceGroup(location=LOCATION))
        for i in range(count):
            name = f"vnet-{i}"
            vnet = wait_lro(net.virtual_networks.begin_create_or_update(rg, name, vnet_model([f"10.{60 + i}.0.0/16"])))
            expected[vnet.id.lower()] = (rg, name)

    paged.log.clear()
    pages = [list(page) for page in net.virtual_networks.list_all().by_page()]
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [v.id.lower() for page in pages for v in page]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == set(expected)
    for page in pages:
        for vnet in page:
            assert vnet.type == "Microsoft.Network/virtualNetworks"
            assert vnet.provisioning_state == "Succeeded"

    # One request per page: the first to the subscription-level collection, then the nextLinks.
    gets = paged.log.find("GET", "/providers/Microsoft.Network/virtualNetworks")
    assert len(gets) == 3
    first = urlparse(gets[0].url)
    assert first.path == f"/subscriptions/{paged.subscription_id}/providers/Microsoft.Network/virtualNetworks"
    for follow in gets[1:]:
        query = {k.lower(): v for k, v in parse_qs(urlparse(follow.url).query).items()}
        assert "$skiptoken" in query
        assert "api-version" in query
    assert all(g.status == 200 for g in gets)

    # Plain iteration sees the same five, and a per-group list pages too.
    assert {v.id.lower() for v in net.virtual_networks.list_all()} == set(expected)
    rg_a = next(rg for rg, _ in expected.values() if rg.startswith("rg-py-page-a"))
    assert sorted(v.name for v in net.virtual_networks.list(rg_a)) == ["vnet-0", "vnet-1", "vnet-2"]

    # Resource groups page the same way.
    groups = {g.name for g in paged.resource.resource_groups.list()}
    assert {rg for rg, _ in expected.values()} <= groups

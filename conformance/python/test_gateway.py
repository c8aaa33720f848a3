"""The data plane with a real HTTP client: Python `requests` sits in a VNet through privlink's
proxy for that VNet (`HTTP_PROXY`-style and `socks5h://`) and fetches from a local backend bound to
a storage account's blob (`privlink:backend:blob`, set with azure-mgmt-storage's `update`, an
ordinary PATCH of the account's tags):

* through the Approved private endpoint (the linked VNet resolves the account's name to the
  endpoint's IP), the backend answers;
* once the storage account's owner rejects the connection, the proxy refuses with 403 and says
  why (`X-Privlink-Refusal`);
* from the unlinked VNet the same name takes the public path, which `publicNetworkAccess:
  Disabled` (set with `update`) closes.
"""

from __future__ import annotations

import http.server
import threading

import pytest
import requests
from azure.mgmt.storage import models as storage_models

from helpers import admin_call, approve_storage, target_connection_of
from test_private_dns import blob_endpoint_with_zone_group

BODY = b"hello from the blob backend"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the stdlib's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def backend():
    """A plain HTTP server on 127.0.0.1 (a free port): what the blob service stands for."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address
    finally:
        server.shutdown()
        server.server_close()


def proxy_of(clients, vnet_id: str) -> str:
    """`host:port` of the VNet's proxy, from `GET /privlink/gateway/proxies`."""
    doc = admin_call(clients, "GET", "/privlink/gateway/proxies", expect=(200,))
    mine = [p for p in doc["value"] if p["virtualNetwork"].lower() == vnet_id.lower()]
    assert len(mine) == 1 and mine[0]["address"], doc
    return mine[0]["address"]


def fetch(url: str, proxy: str, scheme: str = "http") -> requests.Response:
    proxies = {"http": f"{scheme}://{proxy}", "https": f"{scheme}://{proxy}"}
    return requests.get(url, proxies=proxies, timeout=10)


def test_requests_reach_the_backend_only_through_what_azure_allows(
    clients, network_client, storage_client, privatedns_client, resource_group, backend
):
    blob = blob_endpoint_with_zone_group(network_client, storage_client, privatedns_client, resource_group, "rg-py-gw")
    net = blob.net
    host, port = backend
    updated = storage_client.storage_accounts.update(
        net.rg,
        blob.account,
        storage_models.StorageAccountUpdateParameters(tags={"privlink:backend:blob": f"{host}:{port}"}),
    )
    assert updated.tags == {"privlink:backend:blob": f"{host}:{port}"}
    url = f"http://{blob.public_name}/container/blob.txt"

    # Inside the linked VNet: through the Approved private endpoint, by HTTP proxy and SOCKS5.
    inside = proxy_of(clients, net.linked_vnet_id)
    for scheme in ("http", "socks5h"):
        response = fetch(url, inside, scheme)
        assert response.status_code == 200, f"{scheme}: {response.status_code} {response.text}"
        assert response.content == BODY, scheme

    # The account's owner rejects the connection: the proxy refuses, saying why.
    connection = target_connection_of(
        storage_client.private_endpoint_connections.list(net.rg, blob.account),
        network_client.private_endpoints.get(net.rg, "pe-blob").id,
    )
    approve_storage(storage_client, net.rg, blob.account, connection.name, "Rejected", "not today")
    refused = fetch(url, inside)
    assert refused.status_code == 403, refused.text
    assert "Rejected" in refused.headers.get("X-Privlink-Refusal", ""), dict(refused.headers)
    with pytest.raises(requests.exceptions.ConnectionError):
        fetch(url, inside, "socks5h")

    # From the unlinked VNet the name leads to the public endpoint: open, until it is disabled.
    outside = proxy_of(clients, net.unlinked_vnet_id)
    public = fetch(url, outside)
    assert public.status_code == 200 and public.content == BODY, public.text
    storage_client.storage_accounts.update(
        net.rg,
        blob.account,
        storage_models.StorageAccountUpdateParameters(public_network_access="Disabled"),
    )
    closed = fetch(url, outside)
    assert closed.status_code == 403, closed.text
    assert "publicNetworkAccess Disabled" in closed.headers.get("X-Privlink-Refusal", ""), dict(closed.headers)
    # The update kept the backend tag (an update changes what it names only).
    account = storage_client.storage_accounts.get_properties(net.rg, blob.account)
    assert account.tags == {"privlink:backend:blob": f"{host}:{port}"}
    assert account.public_network_access == "Disabled"

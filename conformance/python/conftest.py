"""Fixtures for the Azure SDK for Python conformance suite.

A privlink server is started once per session on 127.0.0.1 (port chosen by the OS) with a fresh
temporary data directory. Clients are the real azure-mgmt-resource / -network / -storage / -kusto
clients pointed at it with `base_url=` and `connection_verify=<privlink CA>`, signed in as the
administrator service principal from `<data-dir>/credentials.json` with a real
`azure.identity.ClientSecretCredential` whose authority is the server itself. See helpers.py for the
environment variables.
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import pytest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.kusto import KustoManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.privatedns import PrivateDnsManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup
from azure.mgmt.storage import StorageManagementClient

from helpers import (
    LOCATION,
    Clients,
    RequestLog,
    Server,
    client_options,
    data_dir,
    make_clients,
    start_server,
    stop_server,
    unique,
    wait_lro,
)

_servers: list[Server] = []


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    with data_dir("privlink-py-") as path:
        srv = start_server(path)
        _servers.append(srv)
        try:
            yield srv
        finally:
            # The exit status on SIGTERM is checked by test_server_lifecycle.py.
            stop_server(srv)
            _servers.remove(srv)


@pytest.fixture(scope="session")
def base_url(server: Server) -> str:
    return server.base_url


@pytest.fixture(scope="session")
def subscription_id(server: Server) -> str:
    return server.subscription_id


@pytest.fixture(scope="session")
def ca_file(server: Server) -> str:
    return server.ca_file


@pytest.fixture(scope="session")
def clients(server: Server) -> Iterator[Clients]:
    c = make_clients(server)
    try:
        yield c
    finally:
        c.close()
        c.credential.close()


@pytest.fixture(scope="session")
def resource_client(clients: Clients) -> ResourceManagementClient:
    return clients.resource


@pytest.fixture(scope="session")
def network_client(clients: Clients) -> NetworkManagementClient:
    return clients.network


@pytest.fixture(scope="session")
def storage_client(server: Server, clients: Clients) -> Iterator[StorageManagementClient]:
    """azure-mgmt-storage on the session subscription (shares the session credential and log)."""
    client = StorageManagementClient(clients.credential, server.subscription_id, **client_options(server, clients.log))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def kusto_client(server: Server, clients: Clients) -> Iterator[KustoManagementClient]:
    """azure-mgmt-kusto on the session subscription (shares the session credential and log)."""
    client = KustoManagementClient(clients.credential, server.subscription_id, **client_options(server, clients.log))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def privatedns_client(server: Server, clients: Clients) -> Iterator[PrivateDnsManagementClient]:
    """azure-mgmt-privatedns (zones, virtual network links, record sets; api-version 2024-06-01)
    on the session subscription (shares the session credential and log)."""
    client = PrivateDnsManagementClient(
        clients.credential, server.subscription_id, **client_options(server, clients.log)
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def authorization_client(server: Server, clients: Clients) -> Iterator[AuthorizationManagementClient]:
    """azure-mgmt-authorization (role assignments and definitions, api-version 2022-04-01) on the
    session subscription, as the administrator."""
    client = AuthorizationManagementClient(
        clients.credential, server.subscription_id, **client_options(server, clients.log)
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def request_log(clients: Clients) -> RequestLog:
    """The session clients' request log, emptied for this test."""
    clients.log.clear()
    return clients.log


@pytest.fixture
def resource_group(resource_client: ResourceManagementClient) -> Iterator[Callable[..., str]]:
    """Factory: create a uniquely named resource group; deleted after the test if still there."""
    created: list[str] = []

    def make(prefix: str = "rg-py", location: str = LOCATION, tags: Optional[dict] = None) -> str:
        name = unique(prefix)
        rg = resource_client.resource_groups.create_or_update(name, ResourceGroup(location=location, tags=tags))
        assert rg.name == name
        created.append(name)
        return name

    yield make
    for name in created:
        if resource_client.resource_groups.check_existence(name):
            wait_lro(resource_client.resource_groups.begin_delete(name), budget=30)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the end of the session server's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _servers:
        report.sections.append(("privlink server log (tail)", _servers[-1].log_tail()))

"""Shared pieces of the Azure SDK for Python conformance suite: starting and stopping a privlink
server, real credentials (the administrator's from credentials.json, others made through the
admin API), a request log, client construction and small helpers.

Environment:
  PRIVLINK_BIN                 the privlink binary (default: <repo>/target/debug/privlink, or under
                               $CARGO_TARGET_DIR when set)
  PRIVLINK_TEST_STORE=postgres run against PostgreSQL instead of SQLite; needs
  PRIVLINK_TEST_POSTGRES_URL   a postgres:// URL; each server gets its own schema py_<random hex>
  PRIVLINK_TEST_PROVISIONING   passed as `--provisioning` (e.g. delay=1500ms, so that LROs are seen
                               InProgress and really polled); default: the server's (immediate)
  PRIVLINK_TEST_KEEP_DIR       keep the servers' data directories (and server.log) under this
                               directory instead of deleting them
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from azure.core.credentials import AccessToken
from azure.core.rest import HttpRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import ClientSecretCredential
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    AddressSpace,
    NetworkInterface,
    NetworkInterfaceIPConfiguration,
    PrivateEndpoint,
    PrivateLinkServiceConnection,
    Subnet,
    VirtualNetwork,
)
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import models as storage_models

REPO_ROOT = Path(__file__).resolve().parents[2]
# `cargo build -p privlink` output: $CARGO_TARGET_DIR (relative to the repository) or target/.
DEFAULT_BIN = str(REPO_ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "privlink")
LOCATION = "westeurope"
# An LRO against privlink in its default (immediate) provisioning mode must finish within this
# many seconds. The Python SDK falls back to a 30 s polling interval when the server sends no
# usable Retry-After, so a regression there shows up as a failed assertion, not a slow suite.
LRO_BUDGET_SECONDS = 5.0
# The first VNet's resolver address; the next VNets get 127.77.0.2, .3, ... (Linux routes all of
# 127/8 to loopback), each on a free port.
DNS_LISTEN = "127.77.0.1:0"
# The internet's proxy, on a free port (each VNet's proxy gets one too: --proxy-port 0).
INTERNET_PROXY = "127.77.255.254:0"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    subscription_id: str
    tenant_id: str
    ca_file: str
    credentials_file: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    # (postgres base url, schema) to drop when the server is stopped.
    postgres: Optional[tuple[str, str]] = None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, without backtrace frames and colour codes."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        kept = [line for line in text.splitlines() if not re.match(r"^\s+(\d+: |at )", line)]
        return "\n".join(kept[-lines:])


def _postgres_store() -> Optional[tuple[str, str]]:
    """`(base url, fresh schema name)` when PRIVLINK_TEST_STORE=postgres, else None (SQLite)."""
    kind = os.environ.get("PRIVLINK_TEST_STORE", "").strip().lower()
    if kind in ("", "sqlite"):
        return None
    if kind != "postgres":
        raise pytest.UsageError(f"PRIVLINK_TEST_STORE must be 'postgres' or 'sqlite', not {kind!r}")
    url = os.environ.get("PRIVLINK_TEST_POSTGRES_URL", "").strip()
    if not url:
        raise pytest.UsageError("PRIVLINK_TEST_STORE=postgres needs PRIVLINK_TEST_POSTGRES_URL")
    return url, f"py_{secrets.token_hex(6)}"


def _drop_schema(url: str, schema: str) -> None:
    """Best effort: drop a test schema with psql, when psql is installed."""
    psql = shutil.which("psql")
    if psql is None:
        return
    subprocess.run(
        [psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )


def privlink_bin() -> str:
    """The privlink binary under test ($PRIVLINK_BIN, else the cargo build output)."""
    binary = os.environ.get("PRIVLINK_BIN", DEFAULT_BIN)
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(
            f"privlink binary {binary!r} not found or not executable: "
            "build it with `cargo build -p privlink` or set PRIVLINK_BIN"
        )
    return binary


def run_privlink(*args: str, timeout: float = 120.0, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run a privlink CLI command (not `serve`), capturing its output; fails the test on a non-zero
    exit status."""
    proc = subprocess.run(
        [privlink_bin(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert proc.returncode == 0, f"privlink {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return proc


def start_server(directory: Path, config_toml: Optional[str] = None, timeout: float = 30.0) -> Server:
    """Start `privlink serve` with data directory `directory` and wait for its endpoint.json."""
    binary = privlink_bin()
    directory.mkdir(parents=True, exist_ok=True)
    # Port 0 everywhere: the HTTPS listener and every VNet's DNS resolver (127.77.0.1, .2, ...)
    # get OS-chosen ports, so the suite never collides with another privlink on the machine.
    args = [
        binary, "serve", "--data-dir", str(directory), "--listen", "127.0.0.1:0", "--dns-listen", DNS_LISTEN,
        "--proxy-port", "0", "--internet-proxy", INTERNET_PROXY,
    ]  # fmt: skip
    if config_toml is not None:
        config_path = directory / "privlink.toml"
        config_path.write_text(config_toml)
        args += ["--config", str(config_path)]
    postgres = _postgres_store()
    if postgres is not None:
        base, schema = postgres
        args += ["--store", f"{base}{'&' if '?' in base else '?'}schema={schema}"]
    provisioning = os.environ.get("PRIVLINK_TEST_PROVISIONING", "").strip()
    if provisioning:
        args += ["--provisioning", provisioning]
    log_path = directory / "server.log"
    env = dict(os.environ)
    env.setdefault("PRIVLINK_LOG", "info")
    # The flags above win over any PRIVLINK_* defaults in the caller's environment.
    for var in (
        "PRIVLINK_DATA_DIR",
        "PRIVLINK_LISTEN",
        "PRIVLINK_PROVISIONING",
        "PRIVLINK_DNS_LISTEN",
        "PRIVLINK_DNS_PER_VNET",
        "PRIVLINK_DNS_UPSTREAM",
        "PRIVLINK_PROXY_PORT",
        "PRIVLINK_INTERNET_PROXY",
    ):
        env.pop(var, None)
    if "--store" not in args:
        env.pop("PRIVLINK_STORE", None)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        endpoint = _wait_ready(process, directory / "endpoint.json", log_path, timeout)
    except BaseException:
        _stop(process)
        if postgres is not None:
            _drop_schema(*postgres)
        raise
    url = endpoint["url"]
    assert url.startswith("https://127.0.0.1:"), f"unexpected endpoint url {url!r}"
    ca_file = endpoint["caFile"]
    assert ca_file and Path(ca_file).is_file(), f"CA file {ca_file!r} missing"
    credentials_file = endpoint.get("credentialsFile") or str(directory / "credentials.json")
    assert Path(credentials_file).is_file(), f"credentials file {credentials_file!r} missing"
    return Server(
        base_url=url,
        subscription_id=endpoint["subscriptionId"],
        tenant_id=endpoint["tenantId"],
        ca_file=ca_file,
        credentials_file=credentials_file,
        data_dir=directory,
        process=process,
        log_path=log_path,
        postgres=postgres,
    )


def _wait_ready(process: subprocess.Popen, endpoint_path: Path, log_path: Path, timeout: float) -> dict:
    """The endpoint.json written by `process` (not a stale one from an earlier server)."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"privlink exited with status {process.returncode} before it was ready:\n"
                + log_path.read_text(errors="replace")
            )
        try:
            endpoint = json.loads(endpoint_path.read_text())
        except (OSError, ValueError):
            endpoint = None  # not there yet (it is written atomically, but be lenient)
        if endpoint and endpoint.get("pid") == process.pid:
            return endpoint
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"privlink did not write {endpoint_path} within {timeout}s:\n" + log_path.read_text(errors="replace")
            )
        time.sleep(0.05)


@contextlib.contextmanager
def data_dir(prefix: str) -> Iterator[Path]:
    """A fresh data directory: temporary, or kept under $PRIVLINK_TEST_KEEP_DIR for debugging."""
    keep = os.environ.get("PRIVLINK_TEST_KEEP_DIR", "").strip()
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix=prefix, dir=keep)) / "data"
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp) / "data"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def stop_server(server: Server) -> int:
    """Stop the server with SIGTERM (a graceful shutdown) and return its exit status."""
    _stop(server.process)
    if server.postgres is not None:
        _drop_schema(*server.postgres)
    return server.process.returncode


# --------------------------------------------------------------------------------------------
# Credentials, request log and clients
# --------------------------------------------------------------------------------------------


@dataclass
class Principal:
    """A service principal's sign-in details (privlink's credentials.json, or the admin API's
    answer when one is created), plus the subscription it owns, if any."""

    tenant_id: str
    client_id: str
    object_id: str
    client_secret: str
    display_name: str = ""
    subscription_id: Optional[str] = None

    def credential(self, srv: Server) -> "RecordingCredential":
        """A real `azure.identity.ClientSecretCredential` signing in at privlink's token issuer
        (wrapped in a RecordingCredential)."""
        return RecordingCredential(secret_credential(srv, self.tenant_id, self.client_id, self.client_secret))


def administrator(srv: Server) -> Principal:
    """The administrator service principal privlink wrote to `<data-dir>/credentials.json` on
    its first start: Owner of the default subscription, and allowed to use the admin API."""
    doc = json.loads(Path(srv.credentials_file).read_text())
    return Principal(
        tenant_id=doc["tenantId"],
        client_id=doc["clientId"],
        object_id=doc["objectId"],
        client_secret=doc["clientSecret"],
        display_name="privlink administrator",
        subscription_id=doc["subscriptionId"],
    )


def secret_credential(srv: Server, tenant_id: str, client_id: str, secret: str):
    """`ClientSecretCredential` against privlink: the authority is the server's own URL (it serves
    `/{tenant}/v2.0/.well-known/openid-configuration` and `/{tenant}/oauth2/v2.0/token`), instance
    discovery (a call to login.microsoftonline.com) is off, and the CA is trusted explicitly."""
    return ClientSecretCredential(
        tenant_id,
        client_id,
        secret,
        authority=srv.base_url,
        disable_instance_discovery=True,
        connection_verify=srv.ca_file,
    )


class RecordingCredential:
    """Wraps a real TokenCredential and remembers the scopes asked for (and the tokens handed out),
    so that tests can check what the SDK requested."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.scopes: list[tuple[str, ...]] = []
        self.tokens: list[str] = []

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        token = self.inner.get_token(*scopes, **kwargs)
        self.tokens.append(token.token)
        return token

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def jwt_claims(token: str) -> dict:
    """The payload of a JWT, decoded without checking the signature."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    headers: dict


class RequestLog(SansIOHTTPPolicy):
    """Records every request/response pair the SDK pipeline sends (after retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    def on_response(self, request, response) -> None:
        http_request = request.http_request
        http_response = response.http_response
        self.exchanges.append(
            Exchange(
                method=http_request.method,
                url=http_request.url,
                status=http_response.status_code,
                headers={k.lower(): v for k, v in http_response.headers.items()},
            )
        )

    def clear(self) -> None:
        self.exchanges.clear()

    def find(self, method: str, path_contains: str) -> list:
        needle = path_contains.lower()
        return [e for e in self.exchanges if e.method == method and needle in e.url.lower()]


@dataclass
class Clients:
    resource: ResourceManagementClient
    network: NetworkManagementClient
    credential: RecordingCredential
    log: RequestLog
    subscription_id: str
    base_url: str
    # The server's default tenant (the administrator's).
    tenant_id: str

    def close(self) -> None:
        self.resource.close()
        self.network.close()


def client_options(srv: Server, log: RequestLog) -> dict:
    """Keyword arguments that point any azure-mgmt-* client at `srv` (and record into `log`)."""
    return dict(base_url=srv.base_url, connection_verify=srv.ca_file, per_retry_policies=[log])


def make_clients(srv: Server, subscription_id: Optional[str] = None, credential=None) -> Clients:
    """Resource and network clients for `subscription_id` (default: the server's subscription),
    signed in as `credential` (default: the administrator, with a fresh ClientSecretCredential)."""
    subscription_id = subscription_id or srv.subscription_id
    if credential is None:
        credential = administrator(srv).credential(srv)
    log = RequestLog()
    common = client_options(srv, log)
    resource = ResourceManagementClient(credential, subscription_id, **common)
    network = NetworkManagementClient(credential, subscription_id, **common)
    return Clients(resource, network, credential, log, subscription_id, srv.base_url, srv.tenant_id)


def admin_call(clients: Clients, method: str, path: str, body: Optional[dict] = None, expect=(200, 201)) -> dict:
    """A call to privlink's admin API (`/privlink/admin/...`; ARM has no such operations, so no SDK
    model exists), sent through an SDK client's own pipeline (`send_request`), so TLS and the
    bearer token are the SDK's. `clients` must be signed in as the administrator."""
    request = HttpRequest(method, path, json=body) if body is not None else HttpRequest(method, path)
    response = clients.resource.send_request(request)
    assert response.status_code in expect, f"{method} {path}: {response.status_code}: {response.text()}"
    return response.json()


def create_tenant(clients: Clients, display_name: str) -> str:
    """A new tenant (directory): `POST /privlink/admin/tenants`; returns its id."""
    doc = admin_call(clients, "POST", "/privlink/admin/tenants", {"displayName": display_name}, expect=(201,))
    return doc["tenantId"]


def create_service_principal(clients: Clients, display_name: str, tenant_id: Optional[str] = None) -> Principal:
    """A service principal with a client secret in `tenant_id` (default: the server's tenant):
    `POST /privlink/admin/tenants/{tenant}/servicePrincipals`."""
    tenant_id = tenant_id or clients.tenant_id
    doc = admin_call(
        clients,
        "POST",
        f"/privlink/admin/tenants/{tenant_id}/servicePrincipals",
        {"displayName": display_name},
        expect=(201,),
    )
    assert doc["tenantId"] == tenant_id
    return Principal(
        tenant_id=tenant_id,
        client_id=doc["appId"],
        object_id=doc["objectId"],
        client_secret=doc["clientSecret"],
        display_name=display_name,
    )


def create_subscription(
    clients: Clients,
    subscription_id: str,
    display_name: str,
    owner: str = "bob",
    tenant_id: Optional[str] = None,
) -> tuple[dict, Principal]:
    """A new subscription in `tenant_id` (default: the server's tenant) owned by a new service
    principal named `owner`: the principal is created with
    `POST /privlink/admin/tenants/{tenant}/servicePrincipals`, then the subscription with
    `PUT /privlink/admin/subscriptions/{id}` {displayName, tenantId, owner: <objectId>}.
    Returns the subscription document and the owner (sign in with `owner.credential(server)`)."""
    principal = create_service_principal(clients, owner, tenant_id)
    doc = admin_call(
        clients,
        "PUT",
        f"/privlink/admin/subscriptions/{subscription_id}",
        {"displayName": display_name, "tenantId": principal.tenant_id, "owner": principal.object_id},
        expect=(201,),
    )
    principal.subscription_id = subscription_id
    return doc, principal


def identity_env(clients: Clients, resource_id: str) -> dict:
    """`{IDENTITY_ENDPOINT, IDENTITY_HEADER}` for acting as `resource_id`'s managed identity:
    `GET /privlink/admin/identity-env?resource=<id>`."""
    path = "/privlink/admin/identity-env?" + urllib.parse.urlencode({"resource": resource_id})
    return admin_call(clients, "GET", path, expect=(200,))["env"]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def wait_lro(poller, budget: float = LRO_BUDGET_SECONDS):
    """`poller.result()`, asserting it succeeded and did not sit out a long polling interval."""
    started = time.monotonic()
    result = poller.result()
    elapsed = time.monotonic() - started
    assert poller.done()
    assert poller.status() == "Succeeded", f"LRO ended {poller.status()!r}"
    assert elapsed < budget, (
        f"LRO took {elapsed:.1f}s (budget {budget}s): the server's Retry-After / operation status "
        "is making the SDK fall back to its 30 s polling interval"
    )
    return result


def vnet_model(prefixes, subnets=(), tags=None) -> VirtualNetwork:
    """A VirtualNetwork model (never a dict: the SDK sends dicts verbatim) with inline subnets."""
    return VirtualNetwork(
        location=LOCATION,
        tags=tags,
        address_space=AddressSpace(address_prefixes=list(prefixes)),
        subnets=[Subnet(name=name, address_prefix=prefix) for name, prefix in subnets],
    )


def nic_model(subnet_id: str, config: str = "ipconfig1", **ip) -> NetworkInterface:
    """A NetworkInterface with one IP configuration on `subnet_id`; `ip` sets its flattened fields."""
    return NetworkInterface(
        location=LOCATION,
        ip_configurations=[NetworkInterfaceIPConfiguration(name=config, subnet=Subnet(id=subnet_id), **ip)],
    )


# --------------------------------------------------------------------------------------------
# Private endpoints and storage accounts
# --------------------------------------------------------------------------------------------


def storage_account_name() -> str:
    """3-24 lower-case letters and digits (no dashes: `unique()` does not fit)."""
    return f"sapy{secrets.token_hex(6)}"


def pe_model(
    subnet_id: str,
    target_id: str,
    group_id: str,
    *,
    manual: bool = False,
    connection: str = "conn",
    message: str | None = None,
) -> PrivateEndpoint:
    """A PrivateEndpoint model (never a dict) with one automatic or manual connection."""
    conn = PrivateLinkServiceConnection(
        name=connection, private_link_service_id=target_id, group_ids=[group_id], request_message=message
    )
    if manual:
        return PrivateEndpoint(
            location=LOCATION, subnet=Subnet(id=subnet_id), manual_private_link_service_connections=[conn]
        )
    return PrivateEndpoint(location=LOCATION, subnet=Subnet(id=subnet_id), private_link_service_connections=[conn])


def create_pe(network_client, rg: str, name: str, model: PrivateEndpoint) -> PrivateEndpoint:
    pe = wait_lro(network_client.private_endpoints.begin_create_or_update(rg, name, model))
    assert pe.name == name
    assert pe.type == "Microsoft.Network/privateEndpoints"
    assert pe.provisioning_state == "Succeeded"
    return pe


def the_connection(pe: PrivateEndpoint):
    """The endpoint's only connection, from whichever array holds it."""
    connections = list(pe.private_link_service_connections or []) + list(
        pe.manual_private_link_service_connections or []
    )
    assert len(connections) == 1, connections
    return connections[0]


def target_connection_of(connections, pe_id: str):
    """The target-side connection whose privateEndpoint is `pe_id` (exactly one)."""
    mine = [c for c in connections if c.private_endpoint.id.lower() == pe_id.lower()]
    assert len(mine) == 1, [c.as_dict() for c in connections]
    return mine[0]


def approve_storage(storage_client, rg, account, connection_name, status, description):
    """The storage account owner's verdict (`private_endpoint_connections.put`, not an LRO)."""
    return storage_client.private_endpoint_connections.put(
        rg,
        account,
        connection_name,
        properties=storage_models.PrivateEndpointConnection(
            private_link_service_connection_state=storage_models.PrivateLinkServiceConnectionState(
                status=status, description=description
            )
        ),
    )


# --------------------------------------------------------------------------------------------
# DNS: each virtual network's resolver (what 168.63.129.16 is inside an Azure VNet)
# --------------------------------------------------------------------------------------------

# privlink's answers for Azure's public names (a storage account's blob endpoint, ...) come from
# the benchmarking range 198.18.0.0/15, never a routable address.
PUBLIC_ANSWERS = ipaddress.ip_network("198.18.0.0/15")
DNS_TIMEOUT_SECONDS = 5.0
TRANSPORTS = ("udp", "tcp")


def resolver_address(clients: Clients, vnet_id: str) -> tuple[str, int]:
    """`(host, port)` of `vnet_id`'s resolver, from `GET /privlink/dns/resolvers` (administrator)."""
    doc = admin_call(clients, "GET", "/privlink/dns/resolvers", expect=(200,))
    assert doc["enabled"] is True, doc
    mine = [r for r in doc["value"] if r["virtualNetwork"].lower() == vnet_id.lower()]
    assert len(mine) == 1, f"no resolver (or several) for {vnet_id}: {doc}"
    resolver = mine[0]
    assert resolver["error"] is None and resolver["address"], resolver
    assert resolver["standsFor"] == "168.63.129.16", resolver
    host, port = resolver["address"].rsplit(":", 1)
    assert ipaddress.ip_address(host).is_loopback, resolver
    return host, int(port)


@dataclass
class DnsAnswer:
    """What a resolver said: the rcode, the CNAME chain and the addresses of the answer section
    (names without the trailing dot), and the whole message for failure messages."""

    rcode: str
    cnames: list[str]
    addresses: list[str]
    message: dns.message.Message

    def __str__(self) -> str:
        return self.message.to_text()


def dns_query(address: tuple[str, int], name: str, rdtype: str = "A", transport: str = "udp") -> DnsAnswer:
    """Ask the resolver at `address` for `name` with dnspython, over UDP or TCP."""
    host, port = address
    query = dns.message.make_query(name, rdtype)
    if transport == "udp":
        response = dns.query.udp(query, host, port=port, timeout=DNS_TIMEOUT_SECONDS)
    elif transport == "tcp":
        response = dns.query.tcp(query, host, port=port, timeout=DNS_TIMEOUT_SECONDS)
    else:
        raise ValueError(f"transport must be udp or tcp, not {transport!r}")
    assert response.id == query.id
    cnames, addresses = [], []
    for rrset in response.answer:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.CNAME:
                cnames.append(rdata.target.to_text(omit_final_dot=True))
            elif rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addresses.append(rdata.address)
    return DnsAnswer(dns.rcode.to_text(response.rcode()), cnames, addresses, response)


def dns_explain(clients: Clients, name: str, rdtype: str, vnet: str) -> dict:
    """privlink's explanation of an answer (`GET /privlink/dns/query`: rcode, answers, steps)."""
    query = urllib.parse.urlencode({"name": name, "type": rdtype, "vnet": vnet})
    return admin_call(clients, "GET", f"/privlink/dns/query?{query}", expect=(200,))


def is_public_answer(ip: str) -> bool:
    return ipaddress.ip_address(ip) in PUBLIC_ANSWERS

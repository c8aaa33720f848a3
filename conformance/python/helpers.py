"""Shared pieces of the Azure SDK for Python conformance suite: starting and stopping a privlink
server, a fake credential, a request log, client construction and small helpers.

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

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest
from azure.core.credentials import AccessToken
from azure.core.rest import HttpRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import (
    AddressSpace,
    NetworkInterface,
    NetworkInterfaceIPConfiguration,
    Subnet,
    VirtualNetwork,
)
from azure.mgmt.resource.resources import ResourceManagementClient

REPO_ROOT = Path(__file__).resolve().parents[2]
# `cargo build -p privlink` output: $CARGO_TARGET_DIR (relative to the repository) or target/.
DEFAULT_BIN = str(REPO_ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "privlink")
LOCATION = "westeurope"
# An LRO against privlink in its default (immediate) provisioning mode must finish within this
# many seconds. The Python SDK falls back to a 30 s polling interval when the server sends no
# usable Retry-After, so a regression there shows up as a failed assertion, not a slow suite.
LRO_BUDGET_SECONDS = 5.0


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


@dataclass
class Server:
    base_url: str
    subscription_id: str
    tenant_id: str
    ca_file: str
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


def start_server(directory: Path, config_toml: Optional[str] = None, timeout: float = 30.0) -> Server:
    """Start `privlink serve` with data directory `directory` and wait for its endpoint.json."""
    binary = os.environ.get("PRIVLINK_BIN", DEFAULT_BIN)
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(
            f"privlink binary {binary!r} not found or not executable: "
            "build it with `cargo build -p privlink` or set PRIVLINK_BIN"
        )
    directory.mkdir(parents=True, exist_ok=True)
    args = [binary, "serve", "--data-dir", str(directory), "--listen", "127.0.0.1:0"]
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
    for var in ("PRIVLINK_DATA_DIR", "PRIVLINK_LISTEN", "PRIVLINK_PROVISIONING"):
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
    return Server(
        base_url=url,
        subscription_id=endpoint["subscriptionId"],
        tenant_id=endpoint["tenantId"],
        ca_file=ca_file,
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
# Credential, request log and clients
# --------------------------------------------------------------------------------------------


class FakeCredential:
    """A TokenCredential that hands out a fixed token and remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("fake", int(time.time()) + 3600)


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
    credential: FakeCredential
    log: RequestLog
    subscription_id: str
    base_url: str


def client_options(srv: Server, log: RequestLog) -> dict:
    """Keyword arguments that point any azure-mgmt-* client at `srv` (and record into `log`)."""
    return dict(base_url=srv.base_url, connection_verify=srv.ca_file, per_retry_policies=[log])


def make_clients(srv: Server, subscription_id: Optional[str] = None) -> Clients:
    """Resource and network clients for `subscription_id` (default: the server's subscription)."""
    subscription_id = subscription_id or srv.subscription_id
    credential = FakeCredential()
    log = RequestLog()
    common = client_options(srv, log)
    resource = ResourceManagementClient(credential, subscription_id, **common)
    network = NetworkManagementClient(credential, subscription_id, **common)
    return Clients(resource, network, credential, log, subscription_id, srv.base_url)


def create_subscription(clients: Clients, subscription_id: str, owner: str, display_name: str) -> dict:
    """Create a subscription owned by `owner` through privlink's admin endpoint
    (`PUT /privlink/subscriptions/{id}`; ARM has no such operation, so no SDK model exists).
    Sent through an SDK client's own pipeline (`send_request`), so TLS and auth are the SDK's."""
    request = HttpRequest(
        "PUT",
        f"/privlink/subscriptions/{subscription_id}",
        json={"displayName": display_name, "owner": owner},
    )
    response = clients.resource.send_request(request)
    assert response.status_code == 201, f"{response.status_code}: {response.text()}"
    return response.json()


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

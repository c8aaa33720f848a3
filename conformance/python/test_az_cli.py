"""The Azure CLI (`az`, in its own virtualenv) against privlink.

`privlink az-login --az <az>` registers the custom cloud `privlink`, turns instance discovery off
and signs in with the administrator service principal into an isolated AZURE_CONFIG_DIR
(`<data-dir>/azure-cli`), and prints `export AZURE_CONFIG_DIR=...` / `export REQUESTS_CA_BUNDLE=...`.
Every az command below runs with exactly that environment, and is checked by its exit status,
its JSON output and the absence of "ERROR" on stderr.

The az binary: $PRIVLINK_AZ, else ~/.cache/privlink/venv-azcli/bin/az (where conformance/run.sh
installs azure-cli), else `az` on the PATH; without one, or with PRIVLINK_SKIP_AZCLI=1, the tests
are skipped. Approve and reject
each sleep 10 s inside az (a hard-coded retry interval), so there is exactly one of each.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from azure.mgmt.storage import models as storage_models

from helpers import TRANSPORTS, dns_query, resolver_address, run_privlink, storage_account_name, wait_lro

# Each az start-up costs about a second; approve/reject about 11 s.
AZ_TIMEOUT_SECONDS = 60
# The whole flow (login included) must stay well inside this.
FLOW_BUDGET_SECONDS = 90


def find_az() -> str | None:
    if os.environ.get("PRIVLINK_SKIP_AZCLI", "0") not in ("", "0"):
        return None
    explicit = os.environ.get("PRIVLINK_AZ", "").strip()
    if explicit:
        return explicit
    cached = Path.home() / ".cache" / "privlink" / "venv-azcli" / "bin" / "az"
    if os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which("az")


AZ = find_az()
pytestmark = pytest.mark.skipif(
    AZ is None, reason="no Azure CLI (or PRIVLINK_SKIP_AZCLI set): set PRIVLINK_AZ or run conformance/run.sh"
)


def clean_env() -> dict:
    """The caller's environment without anything that would steer az or azure-identity elsewhere."""
    drop = ("AZURE_", "IDENTITY_", "MSI_", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def parse_exports(text: str) -> dict:
    """`export NAME='value'` lines (what `eval "$(privlink az-login)"` would run) as a dict."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2 and "=" in words[1], f"unexpected line {line!r}"
        name, value = words[1].split("=", 1)
        env[name] = value
    return env


class Az:
    """Runs az with the environment az-login printed; records each command's duration."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.timings: list[tuple[str, float]] = []

    def run(self, *args: str, timeout: float = AZ_TIMEOUT_SECONDS) -> tuple[subprocess.CompletedProcess, str]:
        """`az <args> --output json`: the finished process and a description for messages."""
        started = time.monotonic()
        proc = subprocess.run(
            [AZ, *args, "--output", "json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - started
        self.timings.append((" ".join(args[:3]), elapsed))
        return proc, f"az {shlex.join(args)} (exit {proc.returncode}, {elapsed:.1f}s)"

    def __call__(self, *args: str, timeout: float = AZ_TIMEOUT_SECONDS):
        """`az <args>`, which must exit 0 with no ERROR on stderr; its parsed JSON output."""
        proc, where = self.run(*args, timeout=timeout)
        assert proc.returncode == 0, f"{where}\nstderr:\n{proc.stderr}\nstdout:\n{proc.stdout}"
        assert "ERROR" not in proc.stderr, f"{where}: stderr has an ERROR:\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture(scope="module")
def az(server) -> Az:
    """az signed in to the session server as its administrator (`privlink az-login`)."""
    started = time.monotonic()
    proc = run_privlink("az-login", "--data-dir", str(server.data_dir), "--az", AZ, env=clean_env())
    exports = parse_exports(proc.stdout)
    assert set(exports) >= {"AZURE_CONFIG_DIR", "REQUESTS_CA_BUNDLE"}, proc.stdout
    assert Path(exports["AZURE_CONFIG_DIR"]) == server.data_dir / "azure-cli"
    assert Path(exports["REQUESTS_CA_BUNDLE"]).read_bytes() == Path(server.ca_file).read_bytes()
    env = clean_env()
    env.update(exports)
    env["AZURE_CORE_COLLECT_TELEMETRY"] = "false"
    env["AZURE_CORE_NO_COLOR"] = "true"
    cli = Az(env)
    cli.timings.append(("privlink az-login", time.monotonic() - started))
    return cli


def test_az_private_endpoint_flow(az, server, storage_client):
    started = time.monotonic()

    # Signed in: the default subscription is privlink's, in privlink's tenant.
    account = az("account", "show")
    assert account["id"] == server.subscription_id
    assert account["tenantId"] == server.tenant_id
    assert account["environmentName"] == "privlink"
    assert account["user"]["type"] == "servicePrincipal"

    rg = f"rg-az-{os.urandom(3).hex()}"
    group = az("group", "create", "--name", rg, "--location", "westeurope")
    assert group["name"] == rg
    assert group["properties"]["provisioningState"] == "Succeeded"

    created = az(
        "network", "vnet", "create", "-g", rg, "-n", "vnet1",
        "--address-prefix", "10.0.0.0/16", "--subnet-name", "default", "--subnet-prefix", "10.0.1.0/24",
    )  # fmt: skip
    vnet = created["newVNet"]
    assert vnet["addressSpace"]["addressPrefixes"] == ["10.0.0.0/16"]
    assert [(s["name"], s["addressPrefix"]) for s in vnet["subnets"]] == [("default", "10.0.1.0/24")]
    assert vnet["provisioningState"] == "Succeeded"

    # The storage account comes from the Python SDK: `az storage account create` first POSTs
    # .../providers/Microsoft.Storage/checkNameAvailability, which privlink does not serve yet
    # (see test_az_storage_account_create).
    sa_name = storage_account_name()
    sa = wait_lro(
        storage_client.storage_accounts.begin_create(
            rg,
            sa_name,
            storage_models.StorageAccountCreateParameters(
                location="westeurope", kind="StorageV2", sku=storage_models.Sku(name="Standard_LRS")
            ),
        )
    )

    common = ["-g", rg, "--vnet-name", "vnet1", "--subnet", "default", "--private-connection-resource-id", sa.id]
    auto = az(
        "network", "private-endpoint", "create", "-n", "pe-auto", *common, "--group-id", "blob", "--connection-name", "c1",
    )  # fmt: skip
    assert auto["provisioningState"] == "Succeeded"
    (conn,) = auto["privateLinkServiceConnections"]
    assert conn["name"] == "c1"
    assert conn["privateLinkServiceConnectionState"]["status"] == "Approved"
    assert auto["manualPrivateLinkServiceConnections"] == []
    (dns,) = auto["customDnsConfigs"]
    assert dns["fqdn"] == f"{sa_name}.blob.core.windows.net"
    assert dns["ipAddresses"] == ["10.0.1.4"]

    manual = {}
    for name, group_id in (("pe-yes", "file"), ("pe-no", "queue")):
        pe = az(
            "network", "private-endpoint", "create", "-n", name, *common, "--group-id", group_id,
            "--connection-name", f"c-{name}", "--manual-request", "true", "--request-message", "please",
        )  # fmt: skip
        assert pe["privateLinkServiceConnections"] == []
        (conn,) = pe["manualPrivateLinkServiceConnections"]
        assert conn["requestMessage"] == "please"
        assert conn["privateLinkServiceConnectionState"]["status"] == "Pending"
        manual[name] = pe

    def connections() -> dict:
        """The account's connections, by the name of the endpoint they belong to."""
        listed = az(
            "network", "private-endpoint-connection", "list", "-g", rg, "-n", sa_name,
            "--type", "Microsoft.Storage/storageAccounts",
        )  # fmt: skip
        return {c["properties"]["privateEndpoint"]["id"].rsplit("/", 1)[1]: c for c in listed}

    pecs = connections()
    assert set(pecs) == {"pe-auto", "pe-yes", "pe-no"}
    state = {pe: c["properties"]["privateLinkServiceConnectionState"]["status"] for pe, c in pecs.items()}
    assert state == {"pe-auto": "Approved", "pe-yes": "Pending", "pe-no": "Pending"}
    for c in pecs.values():
        assert c["type"] == "Microsoft.Storage/storageAccounts/privateEndpointConnections"
        assert c["id"] == f"{sa.id}/privateEndpointConnections/{c['name']}"

    # Approve by resource name and connection name, reject by id (each sleeps 10 s inside az).
    approved = az(
        "network", "private-endpoint-connection", "approve", "-g", rg, "--resource-name", sa_name,
        "--type", "Microsoft.Storage/storageAccounts", "-n", pecs["pe-yes"]["name"], "--description", "ok",
    )  # fmt: skip
    assert approved["properties"]["privateLinkServiceConnectionState"]["status"] == "Approved"
    assert approved["properties"]["privateLinkServiceConnectionState"]["description"] == "ok"
    rejected = az(
        "network", "private-endpoint-connection", "reject", "--id", pecs["pe-no"]["id"], "--description", "no",
    )  # fmt: skip
    assert rejected["properties"]["privateLinkServiceConnectionState"]["status"] == "Rejected"
    assert rejected["properties"]["privateLinkServiceConnectionState"]["description"] == "no"

    # The endpoints' side shows the verdicts.
    listed = {pe["name"]: pe for pe in az("network", "private-endpoint", "list", "-g", rg)}
    assert set(listed) == {"pe-auto", "pe-yes", "pe-no"}

    def verdict(pe: dict) -> tuple[str, str]:
        (c,) = pe["privateLinkServiceConnections"] + pe["manualPrivateLinkServiceConnections"]
        s = c["privateLinkServiceConnectionState"]
        return s["status"], s["description"]

    assert verdict(listed["pe-auto"])[0] == "Approved"
    assert verdict(listed["pe-yes"]) == ("Approved", "ok")
    assert verdict(listed["pe-no"]) == ("Rejected", "no")

    # Delete the rejected endpoint: gone from the list and from the account.
    assert az("network", "private-endpoint", "delete", "-g", rg, "-n", "pe-no") is None
    assert {pe["name"] for pe in az("network", "private-endpoint", "list", "-g", rg)} == {"pe-auto", "pe-yes"}
    assert set(connections()) == {"pe-auto", "pe-yes"}

    elapsed = time.monotonic() - started
    summary = ", ".join(f"{name} {t:.1f}s" for name, t in az.timings)
    print(f"az timings: {summary}")
    assert elapsed < FLOW_BUDGET_SECONDS, f"the az flow took {elapsed:.0f}s: {summary}"


def test_az_storage_account_create(az):
    """`az storage account create`, which first POSTs
    /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability; a second create of the
    same name elsewhere is refused by that check (storage account names are global)."""
    rg = f"rg-az-sa-{os.urandom(3).hex()}"
    az("group", "create", "--name", rg, "--location", "westeurope")
    name = storage_account_name()
    args = ("storage", "account", "create", "-g", rg, "-n", name, "--sku", "Standard_LRS", "--kind", "StorageV2")
    proc, where = az.run(*args)
    assert proc.returncode == 0, f"{where}\nstderr:\n{proc.stderr}"
    assert "ERROR" not in proc.stderr, f"{where}: stderr has an ERROR:\n{proc.stderr}"
    account = json.loads(proc.stdout)
    assert account["name"] == name
    assert account["kind"] == "StorageV2"
    assert account["provisioningState"] == "Succeeded"
    shown = az("storage", "account", "show", "-g", rg, "-n", name)
    assert shown["id"] == account["id"]
    taken = az("storage", "account", "check-name", "-n", name)
    assert (taken["nameAvailable"], taken["reason"]) == (False, "AlreadyExists"), taken
    free = az("storage", "account", "check-name", "-n", storage_account_name())
    assert free["nameAvailable"] is True, free


def test_az_private_dns_zone_group_flow(az, clients):
    """The documented way to give a private endpoint its DNS name: a private DNS zone, a link to
    the VNet, a zone group on the endpoint; then the VNet's resolver answers the account's public
    name with the endpoint's private address (dnspython, UDP and TCP)."""
    started = time.monotonic()
    az.timings.clear()
    zone = "privatelink.blob.core.windows.net"
    rg = f"rg-az-dns-{os.urandom(3).hex()}"
    az("group", "create", "--name", rg, "--location", "westeurope")
    vnet = az(
        "network", "vnet", "create", "-g", rg, "-n", "vnet1",
        "--address-prefix", "10.80.0.0/16", "--subnet-name", "default", "--subnet-prefix", "10.80.1.0/24",
    )["newVNet"]  # fmt: skip
    sa_name = storage_account_name()
    sa = az("storage", "account", "create", "-g", rg, "-n", sa_name, "--sku", "Standard_LRS", "--kind", "StorageV2")
    pe = az(
        "network", "private-endpoint", "create", "-g", rg, "-n", "pe1", "--vnet-name", "vnet1", "--subnet", "default",
        "--private-connection-resource-id", sa["id"], "--group-id", "blob", "--connection-name", "c1",
    )  # fmt: skip
    (dns,) = pe["customDnsConfigs"]
    assert dns == {"fqdn": f"{sa_name}.blob.core.windows.net", "ipAddresses": ["10.80.1.4"]}, dns

    created = az("network", "private-dns", "zone", "create", "-g", rg, "-n", zone)
    assert created["name"] == zone
    assert created["location"] == "global"
    assert created["provisioningState"] == "Succeeded"
    assert created["numberOfRecordSets"] == 1
    # az sends If-None-Match: * on create, so a second create of the zone is refused (412).
    proc, where = az.run("network", "private-dns", "zone", "create", "-g", rg, "-n", zone)
    assert proc.returncode != 0, f"{where}: a second create of the zone succeeded"
    assert "PreconditionFailed" in proc.stderr, f"{where}\nstderr:\n{proc.stderr}"
    link = az(
        "network", "private-dns", "link", "vnet", "create", "-g", rg, "-z", zone, "-n", "link1",
        "-v", "vnet1", "-e", "false",
    )  # fmt: skip
    assert link["virtualNetwork"]["id"].lower() == vnet["id"].lower()
    assert link["registrationEnabled"] is False
    assert link["virtualNetworkLinkState"] == "Completed"
    assert link["provisioningState"] == "Succeeded"
    group = az(
        "network", "private-endpoint", "dns-zone-group", "create", "-g", rg, "--endpoint-name", "pe1",
        "-n", "default", "--private-dns-zone", zone, "--zone-name", "blob",
    )  # fmt: skip
    assert group["name"] == "default"
    assert group["provisioningState"] == "Succeeded"
    (config,) = group["privateDnsZoneConfigs"]
    assert config["name"] == "blob"
    assert config["privateDnsZoneId"].lower() == created["id"].lower()
    (written,) = config["recordSets"]
    assert written["recordSetName"] == sa_name
    assert written["fqdn"] == f"{sa_name}.{zone}"
    assert written["ipAddresses"] == ["10.80.1.4"]

    (record,) = az("network", "private-dns", "record-set", "a", "list", "-g", rg, "-z", zone)
    assert record["name"] == sa_name
    assert record["fqdn"] == f"{sa_name}.{zone}."
    assert record["ttl"] == 10
    assert record["aRecords"] == [{"ipv4Address": "10.80.1.4"}]

    resolver = resolver_address(clients, vnet["id"])
    for transport in TRANSPORTS:
        answer = dns_query(resolver, f"{sa_name}.blob.core.windows.net", "A", transport)
        assert answer.rcode == "NOERROR", f"{transport}: {answer}"
        assert answer.cnames == [f"{sa_name}.{zone}"], f"{transport}: {answer}"
        assert answer.addresses == ["10.80.1.4"], f"{transport}: {answer}"

    elapsed = time.monotonic() - started
    summary = ", ".join(f"{name} {t:.1f}s" for name, t in az.timings)
    print(f"az timings: {summary}")
    assert elapsed < FLOW_BUDGET_SECONDS, f"the az DNS flow took {elapsed:.0f}s: {summary}"

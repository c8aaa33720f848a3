"""The server process itself: endpoint.json, the CA, and a graceful stop on SIGTERM."""

import json
import re
import ssl
import time
from pathlib import Path

from azure.mgmt.resource.resources.models import ResourceGroup

from helpers import LOCATION, data_dir, make_clients, start_server, stop_server, unique, vnet_model, wait_lro

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_endpoint_file_sdk_round_trip_and_graceful_sigterm():
    with data_dir("privlink-py-lifecycle-") as path:
        srv = start_server(path)
        try:
            endpoint = json.loads((path / "endpoint.json").read_text())
            assert endpoint["url"] == srv.base_url
            assert re.fullmatch(r"https://127\.0\.0\.1:\d+", endpoint["url"])
            assert GUID.match(endpoint["subscriptionId"])
            assert GUID.match(endpoint["tenantId"])
            assert endpoint["pid"] == srv.process.pid
            # The administrator's credentials, readable by the owner only.
            credentials = Path(endpoint["credentialsFile"])
            assert credentials == path / "credentials.json"
            assert credentials.stat().st_mode & 0o777 == 0o600
            assert json.loads(credentials.read_text())["tenantId"] == endpoint["tenantId"]
            # The CA is a usable trust anchor.
            ssl.create_default_context(cafile=endpoint["caFile"])

            # Some real work first, so the shutdown has open connections and pooled store
            # connections to close.
            c = make_clients(srv)
            rg = unique("rg-py-life")
            c.resource.resource_groups.create_or_update(rg, ResourceGroup(location=LOCATION))
            vnet = wait_lro(c.network.virtual_networks.begin_create_or_update(rg, "v", vnet_model(["10.70.0.0/16"])))
            assert vnet.provisioning_state == "Succeeded"
            c.close()
            c.credential.close()
        finally:
            started = time.monotonic()
            code = stop_server(srv)
            elapsed = time.monotonic() - started
        assert code == 0, f"privlink exited with status {code} on SIGTERM:\n{srv.log_tail()}"
        assert elapsed < 10, f"privlink took {elapsed:.1f}s to stop"
        assert not (path / "endpoint.json").exists(), "endpoint.json should be removed on shutdown"
        assert "privlink stopped" in srv.log_path.read_text(errors="replace")

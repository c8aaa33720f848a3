"""Identity and access: real azure-identity credentials against privlink's token issuer and its
managed-identity endpoint, and RBAC through azure-mgmt-authorization.

* ClientSecretCredential (the administrator from credentials.json): automatic and manual private
  endpoints, the manual one approved by the account owner.
* A second service principal with only Network Contributor on one resource group (assigned with
  `AuthorizationManagementClient.role_assignments.create`): 403 LinkedAuthorizationFailed for an
  automatic endpoint to someone else's storage account, Pending for a manual one.
* ManagedIdentityCredential: a storage account's system-assigned identity, Contributor on a
  resource group, signs in through IDENTITY_ENDPOINT / IDENTITY_HEADER (App Service style) and does
  the whole private endpoint flow there.
* Tenants: a principal of a second tenant gets 401 on the first tenant's subscription and lists
  only its own subscription.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup
from azure.mgmt.resource.subscriptions import SubscriptionClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage import models as storage_models

from helpers import (
    LOCATION,
    RecordingCredential,
    administrator,
    approve_storage,
    client_options,
    create_pe,
    create_service_principal,
    create_subscription,
    create_tenant,
    identity_env,
    jwt_claims,
    make_clients,
    pe_model,
    run_privlink,
    secret_credential,
    storage_account_name,
    target_connection_of,
    the_connection,
    unique,
    vnet_model,
    wait_lro,
)

ARM_SCOPE = "https://management.azure.com/.default"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
APPROVAL_ACTION = "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
VNET_PREFIX = "10.71.0.0/16"
SUBNET_PREFIX = "10.71.1.0/24"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def rg_scope(subscription_id: str, rg: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{rg}"


def assign_role(authz: AuthorizationManagementClient, scope: str, role: str, principal_id: str):
    """`role_assignments.create` (PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{guid})."""
    subscription_id = scope.split("/")[2]
    name = str(uuid.uuid4())
    assignment = authz.role_assignments.create(
        scope,
        name,
        RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            principal_id=principal_id,
            principal_type="ServicePrincipal",
        ),
    )
    assert assignment.name == name
    assert assignment.type == "Microsoft.Authorization/roleAssignments"
    assert assignment.id.lower() == f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}".lower()
    assert assignment.principal_id == principal_id
    assert assignment.role_definition_id.lower().endswith(f"/roledefinitions/{role}")
    assert assignment.scope.lower() == scope.lower()
    return assignment


def make_vnet(network_client, rg: str) -> str:
    """A VNet with subnet `pe` in `rg`; returns the subnet id."""
    vnet = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, "vnet-id", vnet_model([VNET_PREFIX], [("pe", SUBNET_PREFIX)])
        )
    )
    assert vnet.provisioning_state == "Succeeded"
    return f"{vnet.id}/subnets/pe"


def make_account(storage_client, rg: str, identity: bool = False):
    name = storage_account_name()
    account = wait_lro(
        storage_client.storage_accounts.begin_create(
            rg,
            name,
            storage_models.StorageAccountCreateParameters(
                location=LOCATION,
                kind="StorageV2",
                sku=storage_models.Sku(name="Standard_LRS"),
                identity=storage_models.Identity(type="SystemAssigned") if identity else None,
            ),
        )
    )
    assert account.name == name
    return account


def auto_then_manual(network_client, storage_client, rg: str, subnet_id: str, account, account_rg: str):
    """An automatic endpoint (Approved), then a manual one (Pending) that `storage_client` approves
    with `private_endpoint_connections.put`: Approved on the account and on the endpoint."""
    auto = create_pe(network_client, rg, "pe-auto", pe_model(subnet_id, account.id, "blob", connection="auto"))
    state = the_connection(auto).private_link_service_connection_state
    assert (state.status, state.description) == ("Approved", "Auto-Approved")

    manual = create_pe(
        network_client,
        rg,
        "pe-manual",
        pe_model(subnet_id, account.id, "file", manual=True, connection="manual", message="please"),
    )
    conn = the_connection(manual)
    assert conn.request_message == "please"
    assert conn.private_link_service_connection_state.status == "Pending"

    listed = list(storage_client.private_endpoint_connections.list(account_rg, account.name))
    assert target_connection_of(listed, auto.id).private_link_service_connection_state.status == "Approved"
    pec = target_connection_of(listed, manual.id)
    assert pec.private_link_service_connection_state.status == "Pending"

    approved = approve_storage(storage_client, account_rg, account.name, pec.name, "Approved", "granted")
    assert approved.private_link_service_connection_state.status == "Approved"
    got = storage_client.private_endpoint_connections.get(account_rg, account.name, pec.name)
    assert (
        got.private_link_service_connection_state.status,
        got.private_link_service_connection_state.description,
    ) == (
        "Approved",
        "granted",
    )
    state = the_connection(network_client.private_endpoints.get(rg, "pe-manual")).private_link_service_connection_state
    assert (state.status, state.description) == ("Approved", "granted")
    return auto, manual


def storage_for(server, clients) -> StorageManagementClient:
    return StorageManagementClient(clients.credential, clients.subscription_id, **client_options(server, clients.log))


def assert_status(info, status: int, code: str) -> None:
    error = info.value
    assert error.status_code == status, f"expected {status} {code}, got {error.status_code}: {error}"
    assert error.error is not None and error.error.code == code, str(error)


# --------------------------------------------------------------------------------------------
# ClientSecretCredential: the administrator
# --------------------------------------------------------------------------------------------


def test_client_secret_credential_endpoints_and_approval(
    server, clients, network_client, storage_client, resource_group
):
    assert isinstance(clients.credential.inner, ClientSecretCredential)
    admin = administrator(server)
    path = Path(server.credentials_file)
    assert path.stat().st_mode & 0o777 == 0o600, oct(path.stat().st_mode)
    doc = json.loads(path.read_text())
    assert set(doc) >= {"tenantId", "subscriptionId", "clientId", "objectId", "clientSecret"}
    assert (doc["tenantId"], doc["subscriptionId"]) == (server.tenant_id, server.subscription_id)

    rg = resource_group("rg-py-id-secret")
    subnet_id = make_vnet(network_client, rg)
    account = make_account(storage_client, rg)
    auto, manual = auto_then_manual(network_client, storage_client, rg, subnet_id, account, rg)
    assert {p.name for p in network_client.private_endpoints.list(rg)} == {"pe-auto", "pe-manual"}

    # The tokens the SDK used came from privlink's issuer, for the administrator.
    assert (ARM_SCOPE,) in clients.credential.scopes
    claims = jwt_claims(clients.credential.tokens[-1])
    assert claims["tid"] == server.tenant_id
    assert claims["oid"] == admin.object_id
    assert claims.get("appid", claims.get("azp")) == admin.client_id
    assert claims["aud"].rstrip("/") == "https://management.azure.com"
    assert claims["iss"].startswith(server.base_url)


def test_requests_without_a_valid_token_are_401(server, clients):
    # A wrong secret: the token endpoint refuses it.
    admin = administrator(server)
    wrong = secret_credential(server, admin.tenant_id, admin.client_id, admin.client_secret + "x")
    with pytest.raises(ClientAuthenticationError):
        wrong.get_token(ARM_SCOPE)
    wrong.close()

    # No Authorization header at all: 401 with a Bearer challenge naming the tenant's authority.
    r = requests.get(
        f"{server.base_url}/subscriptions/{server.subscription_id}/resourcegroups?api-version=2025-04-01",
        verify=server.ca_file,
        timeout=10,
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AuthenticationFailed"
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f"{server.base_url}/{server.tenant_id}" in challenge


# --------------------------------------------------------------------------------------------
# RBAC: Network Contributor on a resource group
# --------------------------------------------------------------------------------------------


def test_network_contributor_cannot_auto_approve_but_can_request(
    server, clients, authorization_client, storage_client, resource_group
):
    authz = authorization_client
    target_rg = resource_group("rg-py-id-target")
    account = make_account(storage_client, target_rg)
    net_rg = resource_group("rg-py-id-netc")
    scope = rg_scope(server.subscription_id, net_rg)

    definition = authz.role_definitions.get(scope, NETWORK_CONTRIBUTOR)
    assert definition.role_name == "Network Contributor"
    assert definition.name == NETWORK_CONTRIBUTOR

    dave = create_service_principal(clients, "dave")
    assignment = assign_role(authz, scope, NETWORK_CONTRIBUTOR, dave.object_id)
    listed = list(authz.role_assignments.list_for_scope(scope))
    assert assignment.id in {a.id for a in listed}

    as_dave = make_clients(server, credential=dave.credential(server))
    dave_storage = storage_for(server, as_dave)
    try:
        assert jwt_claims(as_dave.credential.get_token(ARM_SCOPE).token)["oid"] == dave.object_id
        # Network Contributor on net_rg: a VNet there is fine ...
        subnet_id = make_vnet(as_dave.network, net_rg)
        # ... but not in the account's resource group, where dave has no role.
        with pytest.raises(HttpResponseError) as info:
            as_dave.network.virtual_networks.begin_create_or_update(
                target_rg, "vnet-denied", vnet_model([VNET_PREFIX])
            ).result()
        assert_status(info, 403, "AuthorizationFailed")

        # Automatic: dave lacks privateEndpointConnectionsApproval/action on the account.
        with pytest.raises(HttpResponseError) as info:
            as_dave.network.private_endpoints.begin_create_or_update(
                net_rg, "pe-auto", pe_model(subnet_id, account.id, "blob")
            ).result()
        assert_status(info, 403, "LinkedAuthorizationFailed")
        assert APPROVAL_ACTION in info.value.error.message
        assert account.id in info.value.error.message
        with pytest.raises(ResourceNotFoundError):
            as_dave.network.private_endpoints.get(net_rg, "pe-auto")
        assert list(storage_client.private_endpoint_connections.list(target_rg, account.name)) == []

        # Manual: Pending on both sides; dave cannot approve it himself, the owner can.
        pe = create_pe(
            as_dave.network,
            net_rg,
            "pe-manual",
            pe_model(subnet_id, account.id, "blob", manual=True, message="dave asks"),
        )
        assert the_connection(pe).private_link_service_connection_state.status == "Pending"
        pec = target_connection_of(
            list(storage_client.private_endpoint_connections.list(target_rg, account.name)), pe.id
        )
        assert pec.private_link_service_connection_state.status == "Pending"
        with pytest.raises(HttpResponseError) as info:
            approve_storage(dave_storage, target_rg, account.name, pec.name, "Approved", "self-service")
        assert_status(info, 403, "AuthorizationFailed")
        assert "Microsoft.Storage/storageAccounts/privateEndpointConnections/write" in info.value.error.message
        approve_storage(storage_client, target_rg, account.name, pec.name, "Approved", "ok dave")
        state = the_connection(
            as_dave.network.private_endpoints.get(net_rg, "pe-manual")
        ).private_link_service_connection_state
        assert (state.status, state.description) == ("Approved", "ok dave")
    finally:
        dave_storage.close()
        as_dave.close()
        as_dave.credential.close()


# --------------------------------------------------------------------------------------------
# ManagedIdentityCredential: a storage account's system-assigned identity
# --------------------------------------------------------------------------------------------


def test_managed_identity_credential_runs_the_private_endpoint_flow(
    server, clients, authorization_client, storage_client, resource_group, monkeypatch
):
    host_rg = resource_group("rg-py-id-host")
    host = make_account(storage_client, host_rg, identity=True)
    assert host.identity.type == "SystemAssigned"
    principal_id = host.identity.principal_id
    assert GUID.match(principal_id), principal_id
    assert host.identity.tenant_id == server.tenant_id
    # The identity survives a GET.
    assert storage_client.storage_accounts.get_properties(host_rg, host.name).identity.principal_id == principal_id

    mi_rg = resource_group("rg-py-id-mi")
    assign_role(authorization_client, rg_scope(server.subscription_id, mi_rg), CONTRIBUTOR, principal_id)

    # The environment that makes ManagedIdentityCredential act as the account: from the admin
    # API and from `privlink identity env` (the same thing).
    env = identity_env(clients, host.id)
    assert set(env) == {"IDENTITY_ENDPOINT", "IDENTITY_HEADER"}
    assert env["IDENTITY_ENDPOINT"].startswith(server.base_url)
    cli = run_privlink("identity", "env", host.id, "--data-dir", str(server.data_dir), "--shell", "json")
    cli_env = json.loads(cli.stdout)
    assert cli_env["IDENTITY_ENDPOINT"] == env["IDENTITY_ENDPOINT"]
    assert cli_env["IDENTITY_HEADER"]

    for var in ("MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server.ca_file)
    msi = RecordingCredential(ManagedIdentityCredential())

    as_mi = make_clients(server, credential=msi)
    mi_storage = storage_for(server, as_mi)
    try:
        claims = jwt_claims(msi.get_token(ARM_SCOPE).token)
        assert claims["oid"] == principal_id
        assert claims["tid"] == server.tenant_id

        subnet_id = make_vnet(as_mi.network, mi_rg)
        account = make_account(mi_storage, mi_rg)
        auto_then_manual(as_mi.network, mi_storage, mi_rg, subnet_id, account, mi_rg)
        # Every ARM call above was made with the identity's token.
        assert msi.scopes and all(s == (ARM_SCOPE,) for s in msi.scopes)
        assert all(jwt_claims(t)["oid"] == principal_id for t in msi.tokens)

        # Contributor on mi_rg only: the account's own resource group is out of reach.
        with pytest.raises(HttpResponseError) as info:
            as_mi.network.virtual_networks.begin_create_or_update(
                host_rg, "vnet-denied", vnet_model([VNET_PREFIX])
            ).result()
        assert_status(info, 403, "AuthorizationFailed")
    finally:
        mi_storage.close()
        as_mi.close()


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


def test_second_tenant_principal_is_isolated(server, clients):
    tenant2 = create_tenant(clients, "conformance second tenant")
    assert GUID.match(tenant2) and tenant2 != server.tenant_id
    subscription2 = str(uuid.uuid4())
    doc, carol = create_subscription(
        clients, subscription2, display_name="conformance-tenant-2", owner="carol", tenant_id=tenant2
    )
    assert doc["subscriptionId"] == subscription2
    assert doc["tenantId"] == tenant2

    carol_credential = carol.credential(server)
    claims = jwt_claims(carol_credential.get_token(ARM_SCOPE).token)
    assert (claims["tid"], claims["oid"]) == (tenant2, carol.object_id)
    options = dict(base_url=server.base_url, connection_verify=server.ca_file)
    subs = SubscriptionClient(carol_credential, **options)
    mine = ResourceManagementClient(carol_credential, subscription2, **options)
    theirs = ResourceManagementClient(carol_credential, server.subscription_id, **options)
    try:
        # The first tenant's subscription: 401 InvalidAuthenticationTokenTenant, which azure-core
        # raises as ClientAuthenticationError (an HttpResponseError).
        with pytest.raises(ClientAuthenticationError) as info:
            list(theirs.resource_groups.list())
        assert_status(info, 401, "InvalidAuthenticationTokenTenant")
        assert server.tenant_id in info.value.error.message
        with pytest.raises(HttpResponseError) as info:
            theirs.resource_groups.create_or_update(unique("rg-py-t2"), ResourceGroup(location=LOCATION))
        assert_status(info, 401, "InvalidAuthenticationTokenTenant")

        # Only her own subscription is listed, and she owns it.
        listed = list(subs.subscriptions.list())
        assert [s.subscription_id for s in listed] == [subscription2]
        (sub,) = listed
        assert sub.tenant_id == tenant2
        assert sub.display_name == "conformance-tenant-2"
        assert sub.state == "Enabled"
        assert [t.tenant_id for t in subs.tenants.list()] == [tenant2]
        rg = unique("rg-py-t2")
        assert mine.resource_groups.create_or_update(rg, ResourceGroup(location=LOCATION)).name == rg
        wait_lro(mine.resource_groups.begin_delete(rg), budget=30)
    finally:
        subs.close()
        mine.close()
        theirs.close()
        carol_credential.close()

    # The administrator's own tenant still lists its subscription, and not carol's.
    admin_subs = SubscriptionClient(clients.credential, **options)
    try:
        ids = {s.subscription_id for s in admin_subs.subscriptions.list()}
        assert server.subscription_id in ids
        assert subscription2 not in ids
    finally:
        admin_subs.close()

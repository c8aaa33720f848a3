"""Microsoft.Resources/resourceGroups through azure-mgmt-resource's ResourceManagementClient."""

import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.mgmt.resource.resources.models import ResourceGroup, ResourceGroupPatchable

from helpers import LOCATION, unique, wait_lro


def test_resource_group_create_get_list_update_tags(resource_client, clients, request_log):
    name = unique("rg-py-crud")
    expected_id = f"/subscriptions/{clients.subscription_id}/resourceGroups/{name}"

    created = resource_client.resource_groups.create_or_update(
        name, ResourceGroup(location=LOCATION, tags={"env": "test", "owner": "conformance"})
    )
    assert created.id.lower() == expected_id.lower()
    assert created.name == name
    assert created.type == "Microsoft.Resources/resourceGroups"
    assert created.location == LOCATION
    assert created.tags == {"env": "test", "owner": "conformance"}
    assert created.properties.provisioning_state == "Succeeded"
    # A new group is 201 Created, answered synchronously (no LRO headers).
    (put,) = request_log.find("PUT", f"/resourcegroups/{name}")
    assert put.status == 201
    assert "azure-asyncoperation" not in put.headers

    # PUT again with the same body: 200, same identity.
    again = resource_client.resource_groups.create_or_update(
        name, ResourceGroup(location=LOCATION, tags={"env": "test", "owner": "conformance"})
    )
    assert again.id == created.id
    assert request_log.find("PUT", f"/resourcegroups/{name}")[-1].status == 200

    # A resource group cannot move: a PUT with another location is a 409.
    with pytest.raises(ResourceExistsError) as info:
        resource_client.resource_groups.create_or_update(name, ResourceGroup(location="eastus"))
    assert info.value.status_code == 409
    assert info.value.error.code == "InvalidResourceGroupLocation"

    got = resource_client.resource_groups.get(name)
    assert got.id == created.id
    assert got.name == name
    assert got.location == LOCATION
    assert got.tags == {"env": "test", "owner": "conformance"}
    assert got.properties.provisioning_state == "Succeeded"

    # The name is case-insensitive.
    assert resource_client.resource_groups.get(name.upper()).id == created.id
    assert resource_client.resource_groups.check_existence(name) is True
    assert resource_client.resource_groups.check_existence(unique("rg-py-missing")) is False

    listed = {rg.name: rg for rg in resource_client.resource_groups.list()}
    assert name in listed
    assert listed[name].id == created.id
    assert listed[name].tags == {"env": "test", "owner": "conformance"}

    updated = resource_client.resource_groups.update(name, ResourceGroupPatchable(tags={"env": "prod"}))
    assert updated.id == created.id
    assert updated.tags == {"env": "prod"}
    assert updated.location == LOCATION
    assert resource_client.resource_groups.get(name).tags == {"env": "prod"}

    # The SDK asked for an ARM token; base_url does not change the scope.
    assert ("https://management.azure.com/.default",) in clients.credential.scopes

    wait_lro(resource_client.resource_groups.begin_delete(name))
    with pytest.raises(ResourceNotFoundError) as info:
        resource_client.resource_groups.get(name)
    assert info.value.error.code == "ResourceGroupNotFound"


def test_resource_group_managed_by_is_top_level(resource_client, clients):
    """`managedBy` is a top-level property of a resource group, not inside `properties`."""
    name = unique("rg-py-managed")
    manager = (
        f"/subscriptions/{clients.subscription_id}/resourceGroups/other"
        "/providers/Microsoft.Solutions/applications/app1"
    )
    try:
        created = resource_client.resource_groups.create_or_update(
            name, ResourceGroup(location=LOCATION, managed_by=manager)
        )
        assert created.managed_by == manager
        assert resource_client.resource_groups.get(name).managed_by == manager
    finally:
        wait_lro(resource_client.resource_groups.begin_delete(name))

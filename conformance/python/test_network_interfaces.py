"""Microsoft.Network/networkInterfaces: dynamic private IPs from the subnet."""

from helpers import LOCATION, nic_model, unique, vnet_model, wait_lro


def test_nic_gets_first_free_private_ip(network_client, resource_group):
    rg = resource_group()
    vnet_name = unique("vnet-py-nic")
    vnet = wait_lro(
        network_client.virtual_networks.begin_create_or_update(
            rg, vnet_name, vnet_model(["10.40.0.0/16"], [("workload", "10.40.3.0/24")])
        )
    )
    subnet_id = f"{vnet.id}/subnets/workload"

    nic_name = unique("nic-py")
    nic = wait_lro(network_client.network_interfaces.begin_create_or_update(rg, nic_name, nic_model(subnet_id)))
    assert nic.name == nic_name
    assert nic.type == "Microsoft.Network/networkInterfaces"
    assert nic.location == LOCATION
    assert nic.provisioning_state == "Succeeded"
    (config,) = nic.ip_configurations
    assert config.name == "ipconfig1"
    assert config.id == f"{nic.id}/ipConfigurations/ipconfig1"
    # Azure reserves .0-.3 of every subnet: the first dynamic address is .4.
    assert config.private_ip_address == "10.40.3.4"
    assert config.private_ip_allocation_method == "Dynamic"
    assert config.private_ip_address_version == "IPv4"
    assert config.primary is True
    assert config.subnet.id.lower() == subnet_id.lower()
    assert config.provisioning_state == "Succeeded"

    # The address is stable on a re-read and the next NIC gets the next one.
    got = network_client.network_interfaces.get(rg, nic_name)
    assert got.ip_configurations[0].private_ip_address == "10.40.3.4"
    second = wait_lro(
        network_client.network_interfaces.begin_create_or_update(rg, unique("nic-py"), nic_model(subnet_id))
    )
    assert second.ip_configurations[0].private_ip_address == "10.40.3.5"

    # A static address is honoured exactly.
    static = wait_lro(
        network_client.network_interfaces.begin_create_or_update(
            rg,
            unique("nic-py-static"),
            nic_model(subnet_id, private_ip_allocation_method="Static", private_ip_address="10.40.3.50"),
        )
    )
    assert static.ip_configurations[0].private_ip_address == "10.40.3.50"
    assert static.ip_configurations[0].private_ip_allocation_method == "Static"

    # The subnet reports which IP configurations use it.
    subnet = network_client.subnets.get(rg, vnet_name, "workload")
    users = sorted(c.id.lower() for c in subnet.ip_configurations)
    assert f"{nic.id}/ipConfigurations/ipconfig1".lower() in users
    assert len(users) == 3

    names = {n.name for n in network_client.network_interfaces.list(rg)}
    assert names == {nic_name, second.name, static.name}

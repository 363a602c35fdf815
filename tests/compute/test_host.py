"""Host resources for nova and placement (pure)."""

from __future__ import annotations

import os_resource_classes as orc

from powervm_openstack.compute import host

FACTS = host.HostFacts(proc_units=20.0, proc_units_free=15.5, memory_mb=262144, memory_free_mb=200000,
                       firmware_memory_mb=10240, overhead_proc_units=2.5, overhead_memory_mb=24576,
                       disk_gb=2000.0, disk_used_gb=12.0)  # fmt: skip
RATIOS = {orc.VCPU: 4.0, orc.MEMORY_MB: 1.0, orc.DISK_GB: 1.0}


def test_inventory_reserves_the_vioses_and_novalink_on_top_of_the_configured_reserve():
    inv = host.inventory(FACTS, RATIOS, reserved_cpus=1, reserved_memory_mb=512, reserved_disk_gb=10)
    assert inv[orc.VCPU] | {} == {"total": 20, "min_unit": 1, "max_unit": 20, "step_size": 1,
                                  "allocation_ratio": 4.0, "reserved": 1 + 3}  # fmt: skip
    assert inv[orc.MEMORY_MB]["total"] == 262144 - 10240 and inv[orc.MEMORY_MB]["reserved"] == 512 + 24576
    assert inv[orc.DISK_GB]["total"] == 2000 and inv[orc.DISK_GB]["reserved"] == 10


def test_available_resource_has_what_nova_reads():
    res = host.available_resource(FACTS, "node1")
    assert res["vcpus"] == 20 and res["vcpus_used"] == 5 and res["memory_mb"] == 251904
    assert res["memory_mb_used"] == 251904 - 200000 and res["local_gb_used"] == 12
    assert res["hypervisor_type"] == "phyp" and isinstance(res["hypervisor_version"], int)
    assert res["hypervisor_hostname"] == "node1" and ("ppc64le", "phyp", "hvm") in res["supported_instances"]

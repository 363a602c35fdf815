"""``powervm_local_instances``: the client partitions of the local NovaLink host, as ceilometer resources.

Without keystone a partition carries no project, user or flavor; the resource's ``id`` is the
partition UUID in lower case (for a partition nova created, the instance UUID with its first bit
cleared: ``convert_uuid_to_pvm``), ``name`` and ``OS-EXT-SRV-ATTR:instance_name`` the partition
name, and the flavor is the partition's processors and memory. The management partition and the
VIOSes are left out. With nova credentials the stock ``local_instances`` discovery
(``[compute] instance_discovery_method = naive``) gives nova's ids and metadata instead; the
pollsters work with either (set ``discovery:`` in polling.yaml).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ceilometer.compute.discovery import NovaLikeServer
from ceilometer.polling import plugin_base
from pypowervm.wrappers import logical_partition as pvm_lpar

from powervm_openstack.telemetry.pollsters import shared_inspector


class LocalPartitionDiscovery(plugin_base.DiscoveryBase):
    """Every client partition of this host, one REST feed read per discovery."""

    def discover(self, manager: Any, param: Any = None) -> list[NovaLikeServer]:
        adapter = shared_inspector(self.conf).adapter
        return [_server(p, self.conf.host) for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition]

    @property
    def group_id(self) -> str:
        return self.conf.host


def _server(part: Any, host: str) -> NovaLikeServer:
    state = part.state.lower()
    return NovaLikeServer(
        id=part.uuid.lower(), name=part.name, image=None, metadata={}, tenant_id=None, user_id=None,
        status="active" if state == "running" else "shutoff",
        hostId=hashlib.sha224(host.encode()).hexdigest(),
        flavor={"id": None, "name": f"{part.proc_config.shared_proc_cfg.desired_virtual if not part.proc_config.has_dedicated else part.proc_config.dedicated_proc_cfg.desired}vcpu-{part.mem_config.desired}mb",
                "vcpus": part.proc_config.shared_proc_cfg.desired_virtual if not part.proc_config.has_dedicated
                else part.proc_config.dedicated_proc_cfg.desired,
                "ram": part.mem_config.desired, "disk": 0, "ephemeral": 0},
        **{"OS-EXT-SRV-ATTR:instance_name": part.name, "OS-EXT-SRV-ATTR:host": host,
           "OS-EXT-STS:vm_state": "active" if state == "running" else "stopped"},
    )  # fmt: skip

"""What is on the host: partitions, their client network adapters, virtual switches.

One full scan costs two feed GETs (partitions, VIOSes) plus one adapter-feed GET per
partition, run on a few threads; partitions that vanish during the scan are skipped quietly.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging

from pypowervm import adapter as pvm_adapter
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import base_partition as pvm_bp
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.pvm.vif_event import norm_mac

LOG = logging.getLogger(__name__)

#: Virtual switches no Shared Ethernet Adapter serves: RMC management and the NovaLink OVS bridge.
NON_SEA_SWITCHES = ("MGMTSWITCH", "NovaLinkVEABridge")


@dataclasses.dataclass(frozen=True)
class ClientAdapter:
    """One client virtual Ethernet adapter of a partition (trunk adapters are not listed)."""

    uuid: str
    href: str
    mac: str
    pvid: int
    tagged: tuple[int, ...]
    vswitch_id: int
    partition_uuid: str
    partition_name: str
    partition_type: str
    is_mgmt: bool

    @property
    def vlans(self) -> tuple[int, ...]:
        return (self.pvid, *self.tagged)


@dataclasses.dataclass(frozen=True)
class Partition:
    uuid: str
    name: str
    type: str
    is_mgmt: bool
    wrapper: pvm_bp.BasePartition


def partitions(adapter: pvm_adapter.Adapter) -> list[Partition]:
    """Every partition on the host: LPARs (management partition included) and VIOSes."""
    parts = []
    for wrapper in [*pvm_lpar.LPAR.get(adapter), *pvm_vios.VIOS.get(adapter)]:
        parts.append(Partition(wrapper.uuid, wrapper.name, wrapper.env, bool(wrapper.is_mgmt_partition), wrapper))
    return parts


def client_adapters(adapter: pvm_adapter.Adapter, workers: int = 8) -> list[ClientAdapter]:
    """Every client network adapter of every partition on the host."""
    return client_adapters_of(adapter, partitions(adapter), workers)


def client_adapters_of(adapter: pvm_adapter.Adapter, parts: list[Partition], workers: int = 8) -> list[ClientAdapter]:
    """The client network adapters of ``parts``: one adapter-feed GET per partition, on ``workers`` threads."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda part: _adapters_of(adapter, part), parts)
        return [cna for found in results for cna in found]


def adapters_of(adapter: pvm_adapter.Adapter, part: Partition) -> list[ClientAdapter]:
    return _adapters_of(adapter, part)


def _adapters_of(adapter: pvm_adapter.Adapter, part: Partition) -> list[ClientAdapter]:
    try:
        wrappers = pvm_net.CNA.get(adapter, parent=part.wrapper)
    except pvm_exc.HttpNotFound:
        LOG.debug("Partition %s (%s) vanished during the adapter scan", part.name, part.uuid)
        return []
    return [_client(part, cna) for cna in wrappers if not cna.is_trunk]


def _client(part: Partition, cna: pvm_net.CNA) -> ClientAdapter:
    return ClientAdapter(
        uuid=cna.uuid,
        href=cna.href,
        mac=norm_mac(cna.mac),
        pvid=int(cna.pvid),
        tagged=tuple(int(v) for v in (cna.tagged_vlans or [])),
        vswitch_id=int(cna.vswitch_id),
        partition_uuid=part.uuid,
        partition_name=part.name,
        partition_type=part.type,
        is_mgmt=part.is_mgmt,
    )


def vswitches(adapter: pvm_adapter.Adapter, host_uuid: str) -> dict[int, pvm_net.VSwitch]:
    """The host's virtual switches by switch id."""
    return {
        int(vs.switch_id): vs for vs in pvm_net.VSwitch.get(adapter, parent_type="ManagedSystem", parent_uuid=host_uuid)
    }

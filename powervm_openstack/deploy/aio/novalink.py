"""What the cloud's NovaLink host (the simulator) holds, read with pypowervm as any PowerVM client would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import requests
from pypowervm import adapter as pvm_adapter
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import power_opts as pvm_popts
from pypowervm.tasks import storage as pvm_stg
from pypowervm.utils import uuid as pvm_uuid
from pypowervm.wrappers import base_partition as pvm_bp
from pypowervm.wrappers import iocard as pvm_iocard
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor

from powervm_openstack.compute import pci
from powervm_openstack.deploy.processes import SIM_PASSWORD, SIM_USER
from powervm_openstack.network import sriov_ports


@contextlib.contextmanager
def session(url: str) -> Iterator[pvm_adapter.Adapter]:
    """A pypowervm adapter logged on to ``url`` (``http://host:port``), logged off afterwards."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    adapter = pvm_adapter.Adapter(pvm_adapter.Session(host=host, port=int(port), protocol="http", username=SIM_USER,
                                                      password=SIM_PASSWORD, timeout=60))  # fmt: skip
    try:
        yield adapter
    finally:
        adapter.session._logoff()


def sea_vlans(url: str) -> list[set[int]]:
    """The tagged VLANs of each SEA of the host's first network bridge (for the default host: the failover pair)."""
    with session(url) as adapter:
        bridge = pvm_net.NetBridge.get(adapter, parent_type="ManagedSystem", parent_uuid=adapter.sys_uuid)[0]
        return [{v for t in [sea.primary_adpt, *sea.addl_adpts] for v in t.tagged_vlans} for sea in bridge.seas]


def partition_state(url: str, server_id: str) -> str | None:
    """The state of nova server ``server_id``'s partition (``running`` ...), or None when there is none."""
    with session(url) as adapter:
        lpar = _lpar(adapter, server_id)
        return None if lpar is None else lpar.state


def _lpar(adapter: pvm_adapter.Adapter, server_id: str) -> pvm_lpar.LPAR | None:
    wanted = pvm_uuid.convert_uuid_to_pvm(server_id).upper()
    return next((lpar for lpar in pvm_lpar.LPAR.get(adapter) if lpar.uuid.upper() == wanted), None)


def server_leftovers(url: str) -> list[str]:
    """The host's client partitions (NovaLink's own excluded) and SSP boot disks (``boot_*``), by kind and name.

    A cloud whose servers are all deleted keeps none: each names what a delete or a move left behind.
    """
    with session(url) as adapter:
        found = [f"partition {lpar.name}" for lpar in pvm_lpar.LPAR.get(adapter) if not lpar.is_mgmt_partition]
        for ssp in pvm_stor.SSP.get(adapter):
            found += [f"logical unit {lu.name}" for lu in ssp.logical_units if lu.name.startswith("boot_")]
    return found


def sriov_physical_networks(url: str) -> list[str]:
    """The settings entries ``<physnet>:<dddd:bb>`` of every SR-IOV physical port, by its label."""
    with session(url) as adapter:
        ports = sriov_ports.read_ports(pvm_ms.System.get(adapter)[0])
    return [f"{port.physnet}:{pci.port_address(port)}" for port in ports]


def vnic_ports(url: str, server_id: str) -> list[list[str]]:
    """Per vNIC of server ``server_id``'s partition, the location codes of its backing physical ports."""
    with session(url) as adapter:
        ports = sriov_ports.read_ports(pvm_ms.System.get(adapter)[0])
        where = {(p.adapter_id, p.port_id): p.location_code for p in ports}
        lpar = _lpar(adapter, server_id)
        vnics = [] if lpar is None else _vnics(adapter, lpar)
    return [[where.get(b, f"adapter {b[0]} port {b[1]}") for b in vnic.backing] for vnic in vnics]


def _vnics(adapter: pvm_adapter.Adapter, lpar: pvm_lpar.LPAR) -> list[sriov_ports.Vnic]:
    return [sriov_ports.vnic_from_wrapper(w, lpar.uuid) for w in pvm_iocard.VNIC.get(adapter, parent=lpar)]


def sriov_logical_ports(url: str) -> dict[str, int]:
    """Logical ports (VFs) in use per SR-IOV physical port location code."""
    with session(url) as adapter:
        return {p.location_code: p.logical_ports for p in sriov_ports.read_ports(pvm_ms.System.get(adapter)[0])}


def delete_partition(url: str, server_id: str) -> bool:
    """Delete server ``server_id``'s partition behind nova's back (as an operator on the HMC would); False if none."""
    with session(url) as adapter:
        lpar = _lpar(adapter, server_id)
        if lpar is None:
            return False
        if lpar.state != pvm_bp.LPARState.NOT_ACTIVATED:
            pvm_power.PowerOp.stop(lpar, opts=pvm_popts.PowerOffOpts().vsp_hard())
        adapter.delete(pvm_lpar.LPAR.schema_type, root_id=lpar.uuid)
        return True


def boot_disk_digest(url: str, server_id: str, vg_name: str = "datavg") -> dict[str, Any] | None:
    """Size and SHA256 of the bytes of server ``server_id``'s localdisk boot disk, from the simulator's admin API."""
    name = "b_" + server_id.replace("-", "")[:13]  # powervm_openstack.compute.disk.localdisk.boot_disk_name
    with session(url) as adapter:
        _, vg = pvm_stg.find_vg(adapter, vg_name)
        udid = next((d.udid for d in vg.virtual_disks if d.name == name), None)
    if udid is None:
        return None
    reply = requests.get(f"{url}/sim/devices/{udid}", timeout=60)
    return reply.json() if reply.status_code == 200 else None


def ovs_trunks(url: str) -> dict[str, str]:
    """The NovaLink partition's trunk adapters with an OVS bridge: ``{device name: external ids}``."""
    with session(url) as adapter:
        mgmt = pvm_par.get_mgmt_partition(adapter)
        cnas = pvm_net.CNA.get(adapter, parent=mgmt)
        return {cna.dev_name: cna.ovs_ext_ids or "" for cna in cnas if cna.is_trunk and cna.ovs_bridge}


def last_move(url: str) -> dict[str, Any]:
    """The host's last partition move as its simulator records it (``GET /sim/mobility``: ``downtime_ms`` ...)."""
    reply = requests.get(f"{url}/sim/mobility", timeout=60)
    reply.raise_for_status()
    return reply.json()

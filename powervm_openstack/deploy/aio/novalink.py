"""What the cloud's NovaLink host (the simulator) holds, read with pypowervm as any PowerVM client would."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pypowervm import adapter as pvm_adapter
from pypowervm.tasks import partition as pvm_par
from pypowervm.utils import uuid as pvm_uuid
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.deploy.processes import SIM_PASSWORD, SIM_USER


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
    wanted = pvm_uuid.convert_uuid_to_pvm(server_id).upper()
    with session(url) as adapter:
        return next((lpar.state for lpar in pvm_lpar.LPAR.get(adapter) if lpar.uuid.upper() == wanted), None)


def ovs_trunks(url: str) -> dict[str, str]:
    """The NovaLink partition's trunk adapters with an OVS bridge: ``{device name: external ids}``."""
    with session(url) as adapter:
        mgmt = pvm_par.get_mgmt_partition(adapter)
        cnas = pvm_net.CNA.get(adapter, parent=mgmt)
        return {cna.dev_name: cna.ovs_ext_ids or "" for cna in cnas if cna.is_trunk and cna.ovs_bridge}

"""The RMC management adapter: VLAN 4094 on ``MGMTSWITCH``, where NovaLink's RMC reaches partitions.

RMC gives OS shutdown and DLPAR. The adapter is added once per partition when
``[powervm] use_rmc_mgmt_vif`` is set and the host has the switch; it has no neutron port.
"""

from __future__ import annotations

import logging
from typing import Any

from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import committed, evacuate

LOG = logging.getLogger(__name__)

SWITCH = "MGMTSWITCH"
VLAN = 4094


def plug(adapter: Any, host_uuid: str, lpar_uuid: str) -> str | None:
    """Add the management adapter; None when the host has no MGMTSWITCH or the partition has one."""
    switches = {s.name: s for s in pvm_net.VSwitch.get(adapter, parent_type="ManagedSystem", parent_uuid=host_uuid)}
    if SWITCH not in switches:
        LOG.info("Host has no %s virtual switch: partition %s gets no RMC management adapter", SWITCH, lpar_uuid)
        return None
    switch_id = switches[SWITCH].switch_id

    def existing() -> pvm_net.CNA | None:
        try:
            cnas = pvm_net.CNA.get(adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid)
        except pvm_exc.Error:
            return None
        return next((c for c in cnas if c.vswitch_id == switch_id), None)

    found = existing()
    if found is not None:
        return found.href
    cna = committed.apply(f"Add the RMC management adapter to partition {lpar_uuid}",
                          lambda: pvm_cna.crt_cna(adapter, None, lpar_uuid, VLAN, vswitch=SWITCH,
                                                          slot_num=evacuate.cna_slot(evacuate.MGMT)), existing)  # fmt: skip
    LOG.info("Added the RMC management adapter (%s, VLAN %d) to partition %s", SWITCH, VLAN, lpar_uuid)
    return cna.href

"""The moving parts of figure 2 (20 agents, one neutron): one simulated host with its real
``powervm-sea-agent`` process, the light plug/unplug load nova would put on it, and the count of
the agent's RPC messages from its log.

RPC messages are counted agent-side: the agents run with ``debug`` and ``oslo_messaging`` at
DEBUG, so oslo.messaging logs one line per message the agent sends ("Calling RPC method <m> on
target <topic>"), per reply it receives ("received reply msg_id") and per cast it receives, e.g.
neutron's ``port_update`` fanout ("received message with unique_id"). The broker cannot count
per client without its management plugin.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from benchmarks.common import takes_adapters
from benchmarks.scale_common import connect, logoff
from powervm_openstack.deploy.neutron_client import NeutronClient
from powervm_openstack.deploy.processes import AgentProcess, SimulatorProcess
from powervm_openstack.pvm import vif_event

AGENT_MODULE = "powervm_openstack.network.agent.sea"
#: a port not ACTIVE at its next cycle is given this long before it counts as never served
NEVER_ACTIVE_S = 60.0
_LOG_LEVELS = ("amqp=WARN,amqplib=WARN,kombu=WARN,boto=WARN,sqlalchemy=WARN,oslo.messaging=DEBUG,"
               "oslo_messaging=DEBUG,iso8601=WARN,urllib3=WARN,requests=WARN,stevedore=WARN,"
               "keystoneauth=WARN,oslo_policy=INFO,oslo.cache=INFO,pypowervm=INFO")  # fmt: skip
_SENT = re.compile(r"Calling RPC method (\S+) on target (\S+)")
_REPLY = "received reply msg_id"
_CAST_IN = "received message with unique_id"
_CALL_IN = "received message msg_id"


@dataclasses.dataclass
class RpcCount:
    """Messages one agent sent (by method) and received (replies, casts) in a log slice."""

    sent: Counter[str] = dataclasses.field(default_factory=Counter)
    replies: int = 0
    received: int = 0

    @property
    def total(self) -> int:
        return sum(self.sent.values()) + self.replies + self.received

    @classmethod
    def of(cls, text: str) -> RpcCount:
        count = cls()
        for line in text.splitlines():
            sent = _SENT.search(line)
            if sent:
                count.sent[sent.group(1)] += 1
            elif _REPLY in line:
                count.replies += 1
            elif _CAST_IN in line or _CALL_IN in line:
                count.received += 1
        return count


class SimHost:
    """A ``powervm-sim`` process, the SEA agent process on it, and a pypowervm client as nova."""

    def __init__(self, index: int, work: Path, neutron_config: list[Path], neutron: NeutronClient,
                 agent_options: dict[str, dict[str, Any]]) -> None:  # fmt: skip
        self.name = f"scale-host-{index:02d}"
        self.neutron = neutron
        self.sim = SimulatorProcess(work, "--topology", "default", name=f"sim-{index:02d}")
        options = {"DEFAULT": {"default_log_levels": _LOG_LEVELS}, **agent_options}
        self.agent = AgentProcess(AGENT_MODULE, work, neutron_config, self.name, self.sim.rest_options(),
                                  options, name=f"agent-{index:02d}")  # fmt: skip
        self.pvm: Any = None
        self.lpars: list[str] = []
        self.vswitch_href = ""
        self.live: tuple[dict, pvm_net.CNA] | None = None
        self.cycles = 0
        self.active_in_time = 0
        self.never_active = 0
        self.checked = 0

    def start_sim(self) -> None:
        self.sim.start()
        self.pvm = connect(self.sim.port, self.sim.password)
        self.lpars = [p.uuid for p in pvm_lpar.LPAR.get(self.pvm) if not p.is_mgmt_partition and takes_adapters(p)]
        switches = pvm_net.VSwitch.get(self.pvm, parent_type=pvm_ms.System, parent_uuid=self.pvm.sys_uuid)
        self.vswitch_href = next(s.related_href for s in switches if s.name == pvm_net.VSW_DEFAULT_VSWITCH)

    def log_size(self) -> int:
        return self.agent.log_path.stat().st_size if self.agent.log_path.exists() else 0

    def rpc_between(self, start: int, end: int) -> RpcCount:
        with open(self.agent.log_path, "rb") as log:
            log.seek(start)
            return RpcCount.of(log.read(end - start).decode(errors="replace"))

    def heal_done(self) -> bool:
        return self.agent.log_path.exists() and "Heal done" in self.agent.log_path.read_text(errors="replace")

    def cycle(self, network_id: str) -> None:
        """Unplug the port plugged last cycle (after checking it went ACTIVE), plug a new one."""
        if self.live:
            self._unplug(*self.live)
            self.live = None
        lpar = self.lpars[self.cycles % len(self.lpars)]
        body = {"network_id": network_id, "binding:host_id": self.name, "device_owner": "compute:nova",
                "device_id": lpar}  # fmt: skip
        port = self.neutron.post("/v2.0/ports", {"port": body})["port"]
        vlan = int(port["binding:vif_details"]["vlan"])
        cna = pvm_net.CNA.bld(self.pvm, vlan, self.vswitch_href, mac_addr=vif_event.pvm_mac(port["mac_address"]))
        cna = cna.create(parent_type=pvm_lpar.LPAR, parent_uuid=lpar)
        vif_event.post(self.pvm, cna.href, "plug", port["mac_address"], "pvm_sea")
        self.live = (port, cna)
        self.cycles += 1

    def _unplug(self, port: dict, cna: pvm_net.CNA) -> None:
        status = self.neutron.get(f"/v2.0/ports/{port['id']}")["port"]["status"]
        self.checked += 1
        self.active_in_time += status == "ACTIVE"
        # late is a figure (the table's "ACTIVE by next cycle"), never is a fault: wait before judging
        if status != "ACTIVE" and not self._goes_active(port["id"], NEVER_ACTIVE_S):
            self.never_active += 1
        cna.delete()
        vif_event.post(self.pvm, cna.href, "unplug", port["mac_address"], "pvm_sea")
        self.neutron.delete(f"/v2.0/ports/{port['id']}")

    def _goes_active(self, port_id: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.neutron.get(f"/v2.0/ports/{port_id}")["port"]["status"] == "ACTIVE":
                return True
            time.sleep(0.5)
        return False

    def close(self) -> None:
        if self.pvm is not None:
            logoff(self.pvm)
            self.pvm = None

"""A large simulated host: the default topology plus generated client partitions and adapters.

The default host (NovaLink, two VIOSes with a failover SEA pair on ETHERNET0, three client
LPARs) gets client LPARs up to ``partitions`` partitions in all (PowerVM's limit is 1,000), and
``ports`` client adapters on ETHERNET0 spread round-robin over them, each on one of ``vlans``
VLANs (from ``first_vlan``, seeded shuffle). A seeded ``managed`` fraction of the adapters are
OpenStack ports; the others belong to partitions neutron does not know.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import yaml

from powervm_openstack.pvm.vif_event import norm_mac
from powervm_openstack.simulator.topology import loader as topology


@dataclasses.dataclass(frozen=True)
class Port:
    """One generated client adapter: its MAC (neutron's form), VLAN, and whether neutron has it."""

    mac: str
    vlan: int
    managed: bool


@dataclasses.dataclass(frozen=True)
class LargeHost:
    """The parameters of the generated host; ``data()`` is the topology, ``ports()`` what it holds."""

    partitions: int = 1000
    ports_count: int = 2000
    vlans: int = 100
    managed: float = 0.75
    seed: int = 42
    first_vlan: int = 1100

    def data(self) -> dict:
        """The topology mapping (``topology.parse`` validates it)."""
        data = yaml.safe_load(topology.DEFAULT.read_text())
        existing = 1 + len(data["vioses"]) + len(data["lpars"])
        count = self.partitions - existing
        if count < 1:
            raise ValueError(f"{self.partitions} partitions leave no room beside the default host's {existing}")
        first_id = max(p["id"] for p in data["lpars"]) + 1
        lpars = [{"name": f"scale-{i:04d}", "id": first_id + i, "cnas": []} for i in range(count)]
        for index, vlan in enumerate(self._vlans()):
            lpars[index % count]["cnas"].append({"pvid": vlan})
        data["lpars"] += lpars
        return data

    def write(self, path: Path) -> Path:
        """Write the topology as YAML (for ``powervm-sim --topology``); return ``path``."""
        path.write_text(yaml.safe_dump(self.data(), sort_keys=False))
        return path

    def ports(self) -> list[Port]:
        """The generated adapters, with the MACs the simulator derives for them."""
        topo = topology.parse(self.data())
        rng = random.Random(self.seed + 1)
        found = [cna for part in topo.lpars if part.name.startswith("scale-") for cna in part.cnas]
        return [Port(norm_mac(cna.mac), cna.pvid, rng.random() < self.managed) for cna in found]

    def client_partitions(self) -> int:
        """Client LPARs on the host: all partitions but NovaLink's and the VIOSes."""
        return self.partitions - 1 - len(yaml.safe_load(topology.DEFAULT.read_text())["vioses"])

    def _vlans(self) -> list[int]:
        vlans = [self.first_vlan + i % self.vlans for i in range(self.ports_count)]
        random.Random(self.seed).shuffle(vlans)
        return vlans


def managed_ports(ports: list[Port]) -> dict[str, int]:
    """MAC -> VLAN of the OpenStack ports (what the stub neutron answers as bound here)."""
    return {p.mac: p.vlan for p in ports if p.managed}

"""The SEA agent's view of its host, kept from the PowerVM event feed instead of re-read per batch.

What is cached: the network bridges (each with its ETag), the VLANs of VIOS trunk adapters outside
any SEA ("orphans"), the virtual switches, the partitions and their client adapters.

How it stays true:
- a *cold scan* reads everything (start, ``NEW_CLIENT`` / ``MISSING_EVENTS`` / ``CACHE_CLEARED``,
  and the rare backstop); it reports what differed from the cached view, i.e. what events missed;
- events only *mark* things stale (on pypowervm's listener thread, no I/O): a partition whose
  adapter links changed, or whose adapter an event named, is re-read (one adapter-feed GET) the
  next time the agent needs adapters; a VIOS trunk change outside the bridges makes the orphans
  stale (one VIOS feed GET before the next VLAN goes on a bridge); a bridge changed by someone
  else is re-read before it is next planned on;
- the agent's own bridge update stores the document and ETag of the update's reply, and the
  MODIFY_URI that comes back for it is recognised as an echo (no re-read). An update that meets a
  concurrent change answers 412 (If-Match on the cached ETag) and only then is the bridge re-read.
Real NovaLink has no host-wide adapter feed, so a partition's adapters are read one partition at a time.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import threading
from collections import Counter

from pypowervm import adapter as pvm_adapter
from pypowervm import const as pvm_const
from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.network import bridges
from powervm_openstack.pvm import inventory

LOG = logging.getLogger(__name__)

_PARTITION = re.compile(r"/(LogicalPartition|VirtualIOServer)/([0-9A-Fa-f-]{36})(/ClientNetworkAdapter/([^/?#]+))?")
_BRIDGE = re.compile(r"/NetworkBridge/([^/?#]+)")
#: MODIFY_URI details of a partition that say its adapters may have changed ("Other": not said).
_ADAPTER_DETAILS = ("ClientNetworkAdapters", "TrunkAdapters", "Other", "")


@dataclasses.dataclass
class Stale:
    """What events said changed since the worker last looked (filled on the listener thread)."""

    partitions: dict[str, str] = dataclasses.field(default_factory=dict)  # uuid -> kind
    gone_partitions: set[str] = dataclasses.field(default_factory=set)
    gone_adapters: set[str] = dataclasses.field(default_factory=set)
    bridges: set[str] = dataclasses.field(default_factory=set)
    orphans: bool = False


@dataclasses.dataclass(frozen=True)
class Missed:
    """What a cold scan found that the cached view did not have."""

    adapters_added: tuple[str, ...] = ()
    adapters_removed: tuple[str, ...] = ()
    adapters_changed: tuple[str, ...] = ()
    bridges_changed: tuple[str, ...] = ()
    orphans_changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any(dataclasses.astuple(self))

    def describe(self) -> str:
        parts = [
            f"{name.replace('_', ' ')} {list(values)}" for name, values in dataclasses.asdict(self).items() if values
        ]
        return "; ".join(parts) or "nothing"


class HostView:
    """Bridges, orphans, switches, partitions and client adapters of one host, kept from events."""

    def __init__(self, adapter: pvm_adapter.Adapter, host_uuid: str, workers: int = 8) -> None:
        self.adapter = adapter
        self.host_uuid = host_uuid
        self.workers = workers
        self.partitions: dict[str, inventory.Partition] = {}
        self.adapters: dict[str, inventory.ClientAdapter] = {}  # adapter uuid (lower) -> adapter
        self.vswitches: dict[int, pvm_net.VSwitch] = {}
        self._bridges: dict[str, pvm_net.NetBridge] = {}  # bridge uuid (lower) -> last known document
        self._orphans: dict[str, set[int]] = {}
        self._stale = Stale()
        self._echoes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.scans = 0

    # -- cold scan ---------------------------------------------------------------------------
    def cold_scan(self) -> Missed:
        """Read everything; return what the cached view lacked (empty on the first scan)."""
        with self._lock:
            self._stale = Stale()
        old_adapters, old_bridges, old_orphans = self.adapters, dict(self._bridges), dict(self._orphans)
        self.partitions = {p.uuid.lower(): p for p in inventory.partitions(self.adapter)}
        found = inventory.client_adapters_of(self.adapter, list(self.partitions.values()), self.workers)
        self.adapters = {a.uuid.lower(): a for a in found}
        for bridge in pvm_net.NetBridge.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid):
            self._bridges[bridge.uuid.lower()] = bridge
        self._read_orphans()
        switches = pvm_net.VSwitch.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid)
        self.vswitches = {int(vswitch.switch_id): vswitch for vswitch in switches}
        self.scans += 1
        if self.scans == 1:
            return Missed()
        return _missed(old_adapters, self.adapters, old_bridges, self._bridges, old_orphans, self._orphans)

    # -- events (listener thread: no I/O) ----------------------------------------------------
    def note(self, etype: str, data: str, detail: str) -> bool:
        """Record what one ADD_URI / MODIFY_URI / DELETE_URI event means for the cached view.

        :returns: True when the event is a change of a bridge by someone else (not our update's echo).
        """
        bridge = _BRIDGE.search(data)
        part = _PARTITION.search(data)
        with self._lock:
            if bridge and not part:
                uuid = bridge.group(1).lower()
                if etype == "MODIFY_URI" and self._echoes[uuid] > 0:
                    self._echoes[uuid] -= 1  # our own update coming back: its reply is cached already
                    return False
                self._stale.bridges.add(uuid)
                return etype == "MODIFY_URI"
            if not part:
                return False
            kind, uuid, cna = part.group(1), part.group(2).lower(), part.group(4)
            if cna:
                self._adapter_event(etype, kind, uuid, cna.lower())
            elif etype == "DELETE_URI":
                self._stale.gone_partitions.add(uuid)
            elif etype == "ADD_URI" or _adapters_may_have_changed(detail):
                self._stale.partitions[uuid] = kind
                if kind == "VirtualIOServer":
                    self._stale.orphans = True
        return False

    def _adapter_event(self, etype: str, kind: str, part_uuid: str, cna_uuid: str) -> None:
        if etype == "DELETE_URI":
            self._stale.gone_adapters.add(cna_uuid)
        else:
            self._stale.partitions[part_uuid] = kind
        if kind == "VirtualIOServer":
            self._stale.orphans = True

    def adapter_named(self, uri: str) -> None:
        """A client event (the VIF plug) named this adapter: its partition is re-read when next needed."""
        part = _PARTITION.search(uri or "")
        if part:
            with self._lock:
                self._stale.partitions[part.group(2).lower()] = part.group(1)

    def expect_echo(self, bridge_uuid: str, count: int = 1) -> None:
        with self._lock:
            self._echoes[bridge_uuid.lower()] = max(0, self._echoes[bridge_uuid.lower()] + count)

    def stale_partitions(self) -> int:
        with self._lock:
            return len(self._stale.partitions) + len(self._stale.gone_partitions) + len(self._stale.gone_adapters)

    # -- catching up (worker thread) ---------------------------------------------------------
    def refresh_adapters(self) -> list[inventory.ClientAdapter]:
        """Re-read the partitions events named; drop deleted ones. Returns the adapters that went away."""
        with self._lock:
            parts, gone_parts, gone = self._stale.partitions, self._stale.gone_partitions, self._stale.gone_adapters
            self._stale.partitions, self._stale.gone_partitions, self._stale.gone_adapters = {}, set(), set()
        removed = [self.adapters.pop(u) for u in list(self.adapters) if u in gone]
        for uuid in gone_parts:
            self.partitions.pop(uuid, None)
            removed += [
                self.adapters.pop(u) for u, a in list(self.adapters.items()) if a.partition_uuid.lower() == uuid
            ]
        for uuid, kind in parts.items():
            if uuid not in gone_parts:
                removed += self._reread_partition(uuid, kind)
        return removed

    def _reread_partition(self, uuid: str, kind: str) -> list[inventory.ClientAdapter]:
        part = self.partitions.get(uuid) or self._read_partition(uuid, kind)
        before = {u: a for u, a in self.adapters.items() if a.partition_uuid.lower() == uuid}
        now = {a.uuid.lower(): a for a in inventory.adapters_of(self.adapter, part)} if part else {}
        for key in before:
            self.adapters.pop(key, None)
        self.adapters.update(now)
        return [a for u, a in before.items() if u not in now]

    def _read_partition(self, uuid: str, kind: str) -> inventory.Partition | None:
        wrapper_class = pvm_vios.VIOS if kind == "VirtualIOServer" else pvm_lpar.LPAR
        try:
            wrapper = wrapper_class.get(self.adapter, uuid=uuid)
        except pvm_exc.HttpNotFound:
            return None
        part = inventory.Partition(wrapper.uuid, wrapper.name, wrapper.env, bool(wrapper.is_mgmt_partition), wrapper)
        self.partitions[uuid] = part
        return part

    # -- bridges -----------------------------------------------------------------------------
    def bridge(self, uuid: str) -> pvm_net.NetBridge:
        """A copy of the bridge's last known document (to plan and update on); read when stale or unknown."""
        key = uuid.lower()
        with self._lock:
            stale = key in self._stale.bridges
            self._stale.bridges.discard(key)
        if stale or key not in self._bridges:
            self.reread_bridge(uuid)
        cached = self._bridges[key]
        return pvm_net.NetBridge.wrap(copy.deepcopy(cached.entry), etag=cached.etag)

    def reread_bridge(self, uuid: str) -> pvm_net.NetBridge:
        resp = self.adapter.read(pvm_ms.System.schema_type, root_id=self.host_uuid,
                                 child_type=pvm_net.NetBridge.schema_type, child_id=uuid)  # fmt: skip
        self._bridges[uuid.lower()] = bridge = pvm_net.NetBridge.wrap(resp)
        return bridge

    def store_bridge(self, bridge: pvm_net.NetBridge) -> None:
        """Keep the document an update answered with (it carries the new ETag)."""
        self._bridges[bridge.uuid.lower()] = bridge

    def forget_bridge(self, uuid: str) -> None:
        self._bridges.pop(uuid.lower(), None)

    def bridge_list(self) -> list[pvm_net.NetBridge]:
        return list(self._bridges.values())

    def vswitch(self, switch_id: int) -> pvm_net.VSwitch:
        """The virtual switch a new trunk goes on (read once; switches are made by the admin, not often)."""
        if switch_id not in self.vswitches:
            switches = pvm_net.VSwitch.get(self.adapter, parent_type=pvm_ms.System, parent_uuid=self.host_uuid)
            self.vswitches = {int(vswitch.switch_id): vswitch for vswitch in switches}
        return self.vswitches[switch_id]

    # -- orphans -----------------------------------------------------------------------------
    def orphans(self, bridge_uuid: str, fresh: bool = True) -> set[int]:
        """VLANs on VIOS trunks outside any SEA of the bridge's switch.

        :param fresh: re-read them (one VIOS feed GET) if events said they changed; False: as cached.
        """
        with self._lock:
            stale = self._stale.orphans and fresh
            self._stale.orphans = self._stale.orphans and not fresh
        if stale:
            before = dict(self._orphans)
            self._read_orphans()
            if before != self._orphans:
                LOG.info("Trunk adapters outside the bridges changed: orphan VLANs now %s",
                         {b: sorted(v) for b, v in self._orphans.items() if v})  # fmt: skip
        return self._orphans.get(bridge_uuid.lower(), set())

    def orphans_stale(self) -> None:
        with self._lock:
            self._stale.orphans = True

    def _read_orphans(self) -> None:
        vioses = pvm_vios.VIOS.get(self.adapter, xag=[pvm_const.XAG.VIO_NET])
        self._orphans = {uuid: bridges.orphan_vlans(b, vioses) for uuid, b in self._bridges.items()}


def _adapters_may_have_changed(detail: str) -> bool:
    """A partition's MODIFY_URI detail names its adapters; a bridge update's echo on a VIOS does not count."""
    names = set(detail.split(","))
    if "SharedEthernetAdapters" in names and "ClientNetworkAdapters" not in names:
        return False  # a bridge update mirrored into the VIOS document: trunks of SEAs, no client adapter
    return bool(names & set(_ADAPTER_DETAILS))


def _missed(old_adapters: dict, new_adapters: dict, old_bridges: dict, new_bridges: dict, old_orphans: dict,
            new_orphans: dict) -> Missed:  # fmt: skip
    def name(a: inventory.ClientAdapter) -> str:
        return f"{a.mac} on {a.partition_name} VLANs {list(a.vlans)}"

    changed = [name(a) for u, a in new_adapters.items() if u in old_adapters and old_adapters[u] != a]
    bridge_diff = [
        uuid for uuid, b in new_bridges.items()
        if uuid in old_bridges and set(b.list_vlans()) != set(old_bridges[uuid].list_vlans())
    ]  # fmt: skip
    return Missed(
        adapters_added=tuple(name(a) for u, a in new_adapters.items() if u not in old_adapters),
        adapters_removed=tuple(name(a) for u, a in old_adapters.items() if u not in new_adapters),
        adapters_changed=tuple(changed),
        bridges_changed=tuple(bridge_diff),
        orphans_changed=tuple(u for u in new_orphans if new_orphans[u] != old_orphans.get(u, set())),
    )

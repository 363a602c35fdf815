"""The Linux side of NovaLink's trunk adapters: a real device per trunk, plugged into Open vSwitch.

On a real host, a trunk adapter created on the NovaLink partition with ``OvsBridge`` set appears
in NovaLink's Linux as a network device named ``DeviceName``; NovaLink's REST layer adds it to
that OVS bridge with ``OvsPortExternalIds`` as the Interface's ``external_ids`` and sets
``ConfiguredMTU``. Updating the trunk re-applies all of it (and re-creates a device that a reboot
lost); deleting the trunk removes the port and the device. A NovaLink reboot loses the devices,
while the adapters themselves (hypervisor state) and the OVS database stay.

Here each trunk becomes a veth pair: the ``DeviceName`` end in the namespace where ovs-vswitchd
runs (the NovaLink side), and the peer end standing for the partition's own adapter. Once the
client adapter joined to the trunk exists (same virtual switch and PVID), the peer moves into the
namespace :meth:`OvsDeviceHost.guest_netns` names for that partition (created on demand, removed
by :meth:`close`) and takes the client adapter's MAC, so a test can send traffic as the partition.

Attach with ``OvsDeviceHost(ovs_db).attach(store)``: it runs after every committed change, in the
request's thread, so the device exists when the REST call answers, as on a real host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store

LOG = logging.getLogger(__name__)

_CNA = "ClientNetworkAdapter"


@dataclasses.dataclass
class Device:
    """One trunk's veth pair: ``name`` on the OVS side, ``peer`` on the partition side."""

    trunk_uuid: str
    name: str
    peer: str
    bridge: str
    vswitch_id: str
    pvid: str
    guest_netns: str | None = None
    client_uuid: str | None = None


def parse_ext_ids(text: str | None) -> dict[str, str]:
    """``"a=1,b=2"`` (pypowervm's ``ovs_ext_ids`` form) -> ``{"a": "1", "b": "2"}``."""
    pairs = [item.split("=", 1) for item in (text or "").split(",") if "=" in item]
    return {key.strip(): value.strip() for key, value in pairs}


def peer_name(device: str) -> str:
    """A stable 15-character name for the partition end of ``device``'s veth pair."""
    return "pvg" + hashlib.sha1(device.encode()).hexdigest()[:12]


def pvm_mac_to_linux(mac: str) -> str:
    mac = mac.lower().replace(":", "")
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


class OvsDeviceHost:
    """Makes the Linux devices of OVS trunk adapters follow the simulator's state.

    :param ovs_db: ovsdb-server's socket (``unix:/…/db.sock``) the NovaLink OVS runs on.
    :param netns_prefix: prefix of the partition namespaces (``<prefix><partition id>``).
    """

    def __init__(self, ovs_db: str, netns_prefix: str = "pvmg") -> None:
        self.ovs_db = ovs_db
        self.netns_prefix = netns_prefix
        self.devices: dict[str, Device] = {}  # trunk uuid -> device
        self._namespaces: set[str] = set()
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._seen = 0

    def attach(self, store: Store) -> OvsDeviceHost:
        """Follow ``store`` from its next change on."""
        self._store = store
        self._seen = store.last_change_id()
        store.after_commit.append(self.sync)
        return self

    def guest_netns(self, partition_id: int | str) -> str:
        return f"{self.netns_prefix}{partition_id}"

    # -- following the state ---------------------------------------------------------------
    def sync(self, store: Store) -> None:
        """Apply every ClientNetworkAdapter change since the last call."""
        with self._lock:
            changes = []
            while batch := store.changes_since(self._seen):
                self._seen = batch[-1].id
                changes += [c for c in batch if c.kind == _CNA]
            for change in changes:
                if change.event_type == "DELETE_URI":
                    self._remove(change.uuid or "")
                    continue
                with store.reading() as view:
                    rec = view.get(_CNA, change.uuid or "")
                    parent = view.get(rec.parent_kind, rec.parent_uuid or "") if rec and rec.parent_kind else None
                    if rec is None or parent is None:
                        continue
                    if _is_ovs_trunk(rec, parent):
                        self._ensure(view, rec)
                    elif xml.text(rec.element, "TrunkPriority") is None:
                        self._join_client(view, rec, parent)

    def reboot(self) -> list[str]:
        """A NovaLink reboot: every trunk device is gone (adapters and OVS database stay); their names."""
        with self._lock:
            names = [d.name for d in self.devices.values()]
            for dev in self.devices.values():
                _run(["ip", "link", "del", dev.name], check=False)
            self.devices.clear()
            LOG.info("Simulated NovaLink reboot: removed trunk devices %s", ", ".join(names) or "(none)")
            return names

    def close(self) -> None:
        """Stop following; remove the devices, their OVS ports and the partition namespaces."""
        if self._store is not None and self.sync in self._store.after_commit:
            self._store.after_commit.remove(self.sync)
        with self._lock:
            for uuid in list(self.devices):
                self._remove(uuid)
            for ns in self._namespaces:
                _run(["ip", "netns", "del", ns], check=False)
            self._namespaces.clear()

    # -- devices ---------------------------------------------------------------------------
    def _ensure(self, view: Any, rec: Record) -> None:
        elem = rec.element
        name = xml.text(elem, "DeviceName") or ""
        bridge = xml.text(elem, "OvsBridge") or ""
        dev = self.devices.get(rec.uuid)
        if dev is None or not _link_exists(dev.name):
            dev = Device(rec.uuid, name, peer_name(name), bridge,
                         xml.text(elem, "VirtualSwitchID") or "", xml.text(elem, "PortVLANID") or "")  # fmt: skip
            _run(["ip", "link", "del", dev.name], check=False)
            _run(["ip", "link", "add", dev.name, "type", "veth", "peer", "name", dev.peer])
            self.devices[rec.uuid] = dev
            LOG.info("Trunk %s: created device %s (VLAN %s)", rec.uuid, name, dev.pvid)
        mtu = xml.text(elem, "ConfiguredMTU")
        for link in (dev.name, dev.peer):
            if mtu:
                _run(["ip", *self._ns_args(dev, link), "link", "set", link, "mtu", mtu])
            _run(["ip", *self._ns_args(dev, link), "link", "set", link, "up"])
        self._plug_ovs(dev, parse_ext_ids(xml.text(elem, "OvsPortExternalIds")))
        if dev.guest_netns is None:  # re-created after a reboot: the client adapter is already there
            for client in view.find(_CNA):
                client_parent = view.get(client.parent_kind, client.parent_uuid or "") if client.parent_kind else None
                if client_parent is not None and xml.text(client.element, "TrunkPriority") is None:
                    self._join_client(view, client, client_parent)

    def _ns_args(self, dev: Device, link: str) -> Sequence[str]:
        return ["-n", dev.guest_netns] if link == dev.peer and dev.guest_netns else []

    def _plug_ovs(self, dev: Device, ext_ids: dict[str, str]) -> None:
        cmd = ["--may-exist", "add-port", dev.bridge, dev.name]
        if ext_ids:
            cmd += ["--", "set", "Interface", dev.name, *(f'external-ids:{k}="{v}"' for k, v in ext_ids.items())]
        self._vsctl(*cmd)
        LOG.info("Trunk %s: device %s on OVS bridge %s with %s", dev.trunk_uuid, dev.name, dev.bridge, ext_ids)

    def _join_client(self, view: Any, rec: Record, parent: Record) -> None:
        """Move the peer end of the trunk joined to client adapter ``rec`` into its partition's namespace.

        The trunk is the newest device on the client's switch and PVID not yet joined (pypowervm
        creates the trunk first, then the client adapter).
        """
        if any(d.client_uuid == rec.uuid for d in self.devices.values()):
            return
        vswitch, pvid = xml.text(rec.element, "VirtualSwitchID"), xml.text(rec.element, "PortVLANID")
        free = [d for d in self.devices.values() if (d.vswitch_id, d.pvid) == (vswitch, pvid) and not d.client_uuid]
        if not free:
            return
        dev = free[-1]
        ns = self.guest_netns(xml.text(parent.element, "PartitionID") or parent.uuid[:8])
        if ns not in self._namespaces:
            _run(["ip", "netns", "add", ns], check=False)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            self._namespaces.add(ns)
        _run(["ip", "link", "set", dev.peer, "netns", ns])
        dev.guest_netns, dev.client_uuid = ns, rec.uuid
        mac = xml.text(rec.element, "MACAddress")
        if mac:
            _run(["ip", "-n", ns, "link", "set", dev.peer, "address", pvm_mac_to_linux(mac)])
        _run(["ip", "-n", ns, "link", "set", dev.peer, "up"])
        LOG.info("Trunk %s: partition end %s of %s is in namespace %s", dev.trunk_uuid, dev.peer, dev.name, ns)

    def _remove(self, trunk_uuid: str) -> None:
        dev = self.devices.pop(trunk_uuid, None)
        if dev is None:
            return
        self._vsctl("--if-exists", "del-port", dev.bridge, dev.name)
        _run(["ip", "link", "del", dev.name], check=False)
        LOG.info("Trunk %s deleted: removed device %s from bridge %s", trunk_uuid, dev.name, dev.bridge)

    def _vsctl(self, *args: str) -> str:
        return _run(["ovs-vsctl", f"--db={self.ovs_db}", "--timeout=10", *args])


def _is_ovs_trunk(rec: Record, parent: Record) -> bool:
    elem = rec.element
    return (
        xml.text(parent.element, "IsManagementPartition") == "true"
        and xml.text(elem, "TrunkPriority") is not None
        and bool(xml.text(elem, "OvsBridge"))
        and bool(xml.text(elem, "DeviceName"))
    )


def _link_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True, check=False).returncode == 0


def _run(argv: list[str], check: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout

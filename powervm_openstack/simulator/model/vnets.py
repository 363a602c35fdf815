"""Virtual switches and virtual networks: the hypervisor's VLAN planes, as NovaLink reports them.

What the simulator does, and why:
- a new VirtualSwitch gets the lowest free ``SwitchID`` of its system (0-15: pypowervm's
  ``VNet.vswitch_id`` documents at most 16 switches; the 17th is refused); its name is unique on
  the system; ``SwitchMode`` is ``Veb`` (pypowervm's default) or ``Vepa``;
- NovaLink is not "VirtualNetwork aware" (pypowervm's ``traits.vnet_aware`` is False for it): a
  client never has to create VirtualNetworks. The hypervisor keeps one per (switch, VLAN) in use,
  so the simulator creates it when an adapter (client, trunk or SEA trunk) first uses a VLAN on a
  switch, named ``VLAN<id>-<switch>`` as in the captures (``fake_virtual_network_feed.txt``), and
  links it from the switch and the adapter. pypowervm's ``cna._find_free_vlan`` (the base of
  ``crt_p2p_cna``) relies on exactly this: a VLAN without a VirtualNetwork is free;
- a VirtualNetwork is kept when its last adapter goes (captures show networks no adapter uses), so
  a VLAN once used on a switch is not handed out again as "free"; it can be deleted explicitly, which
  is refused while an adapter still uses it;
- a network is tagged once any adapter carries its VLAN as a tagged (additional) VLAN;
- a switch that an adapter still uses, or switch 0 (the default ETHERNET0), cannot be deleted;
  deleting a switch removes its unused VirtualNetworks with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction, new_uuid

MAX_SWITCHES = 16
SWITCH_MODES = ("Veb", "Vepa")
VSWITCH_ORDER = ("Metadata", "SwitchID", "SwitchMode", "SwitchName", "VirtualNetworks")
VNET_ORDER = ("Metadata", "AssociatedSwitch", "NetworkName", "NetworkVLANID", "VswitchID", "TaggedNetwork")
_ADAPTER_KINDS = ("ClientNetworkAdapter",)


def install() -> None:
    kinds.register("VirtualSwitch", SwitchRules())
    kinds.register("VirtualNetwork", NetworkRules())


def _uuid_of(href: str) -> str:
    return href.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def switch_path(switch: Record) -> str:
    return f"/rest/api/uom/ManagedSystem/{switch.parent_uuid}/VirtualSwitch/{switch.uuid}"


def _vnet_path(vnet: Record) -> str:
    return f"/rest/api/uom/ManagedSystem/{vnet.parent_uuid}/VirtualNetwork/{vnet.uuid}"


def _switches(txn: Transaction, system_uuid: str | None) -> list[Record]:
    return [s for s in txn.find("VirtualSwitch") if system_uuid is None or s.parent_uuid == system_uuid]


def _switch_id(rec: Record) -> int:
    return int(xml.text(rec.element, "SwitchID", "-1") or -1)


def set_links(elem: etree._Element, tag: str, hrefs: list[str], order: Sequence[str], kb: str = "CUD") -> None:
    """Make ``tag`` (inserted at its schema position when absent) hold exactly the links ``hrefs``."""
    holder = xml.find(elem, tag)
    if holder is None:
        set_child(elem, tag, "", order, kb=kb)
        holder = xml.find(elem, tag)
    assert holder is not None
    holder.text = None
    for child in list(holder):
        holder.remove(child)
    for href in hrefs:
        etree.SubElement(holder, xml.q("link"), attrib={"href": href, "rel": "related"})


def _links(elem: etree._Element, tag: str) -> list[str]:
    holder = xml.find(elem, tag)
    return [] if holder is None else [link.get("href") or "" for link in holder]


class SwitchRules(kinds.Behaviour):
    """VirtualSwitch create (switch id, unique name), update and delete."""

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is None or parent.kind != "ManagedSystem":
            raise bad_request("A VirtualSwitch is created under its ManagedSystem.")
        elem = rec.element
        name = self._check_name(txn, elem, parent.uuid, rec.uuid)
        used = {_switch_id(s) for s in _switches(txn, parent.uuid)}
        free = [i for i in range(MAX_SWITCHES) if i not in used]
        if not free:
            raise bad_request(
                f"Virtual switch {name!r} cannot be created: the system already has its maximum of "
                f"{MAX_SWITCHES} virtual switches."
            )
        set_child(elem, "SwitchID", free[0], VSWITCH_ORDER, kb="ROR")
        self._check_mode(elem, name)
        set_links(elem, "VirtualNetworks", [], VSWITCH_ORDER)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        if xml.text(old.element, "SwitchID") != xml.text(new.element, "SwitchID"):
            raise bad_request(f"SwitchID of virtual switch {old.uuid} cannot change.")
        name = self._check_name(txn, new.element, old.parent_uuid, old.uuid)
        self._check_mode(new.element, name)
        set_links(new.element, "VirtualNetworks", _links(old.element, "VirtualNetworks"), VSWITCH_ORDER)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        name = xml.text(rec.element, "SwitchName", "?")
        if _switch_id(rec) == 0:
            raise ApiError(409, f"Virtual switch {name} (id 0) is the system's default switch; it cannot be deleted.")
        users = adapters_on(txn, rec)
        if users:
            raise ApiError(
                409, f"Virtual switch {name} is used by {len(users)} virtual Ethernet adapter(s), e.g. {users[0]}."
            )
        for vnet in _vnets_of(txn, rec):
            txn.delete(vnet, detail="SwitchDeleted")

    def _check_name(self, txn: Transaction, elem: etree._Element, system_uuid: str | None, uuid: str) -> str:
        name = (xml.text(elem, "SwitchName") or "").strip()
        if not name or len(name) > 31:
            raise bad_request(f"SwitchName {name!r} must be 1-31 characters.")
        for other in _switches(txn, system_uuid):
            if other.uuid.lower() != uuid.lower() and xml.text(other.element, "SwitchName") == name:
                raise bad_request(f"A virtual switch named {name!r} already exists ({other.uuid}).")
        return name

    def _check_mode(self, elem: etree._Element, name: str) -> None:
        mode = xml.text(elem, "SwitchMode") or "Veb"
        if mode not in SWITCH_MODES:
            raise bad_request(f"SwitchMode {mode!r} of virtual switch {name} is not one of {', '.join(SWITCH_MODES)}.")
        set_child(elem, "SwitchMode", mode, VSWITCH_ORDER)


class NetworkRules(kinds.Behaviour):
    """VirtualNetwork create (one per switch and VLAN) and delete (only when unused)."""

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is None or parent.kind != "ManagedSystem":
            raise bad_request("A VirtualNetwork is created under its ManagedSystem.")
        elem = rec.element
        link = xml.find(elem, "AssociatedSwitch")
        href = (link.get("href") if link is not None else None) or ""
        switch = txn.get("VirtualSwitch", _uuid_of(href)) if href else None
        if switch is None:
            raise bad_request(f"The VirtualNetwork's AssociatedSwitch {href or '(none)'} is not a virtual switch.")
        vlan_text = xml.text(elem, "NetworkVLANID") or ""
        if not vlan_text.isdigit() or not 1 <= int(vlan_text) <= 4094:
            raise bad_request(f"NetworkVLANID {vlan_text!r} is outside 1-4094.")
        existing = find_vnet(txn, switch, int(vlan_text))
        if existing is not None:
            raise bad_request(
                f"VLAN {vlan_text} already has a VirtualNetwork on switch "
                f"{xml.text(switch.element, 'SwitchName')} ({existing.uuid})."
            )
        set_child(elem, "VswitchID", _switch_id(switch), VNET_ORDER, kb="ROR")
        if xml.find(elem, "TaggedNetwork") is None:
            set_child(elem, "TaggedNetwork", False, VNET_ORDER, kb="COD")
        _link_switch(txn, switch, rec, add=True)

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        switch = self._switch(txn, rec)
        vlan = int(xml.text(rec.element, "NetworkVLANID", "0") or 0)
        if switch is not None:
            users = [a for a in adapters_on(txn, switch) if vlan in a[1]]
            if users:
                raise ApiError(409, f"VirtualNetwork {rec.uuid} (VLAN {vlan}) is used by adapter {users[0][0]}.")
            _link_switch(txn, switch, rec, add=False)

    def _switch(self, txn: Transaction, rec: Record) -> Record | None:
        link = xml.find(rec.element, "AssociatedSwitch")
        return txn.get("VirtualSwitch", _uuid_of(link.get("href") or "")) if link is not None else None


def _link_switch(txn: Transaction, switch: Record, vnet: Record, add: bool) -> None:
    hrefs = [h for h in _links(switch.element, "VirtualNetworks") if _uuid_of(h).lower() != vnet.uuid.lower()]
    if add:
        hrefs.append(_vnet_path(vnet))
    set_links(switch.element, "VirtualNetworks", hrefs, VSWITCH_ORDER)
    txn.put(switch, detail="VirtualNetworks")


def _vnets_of(txn: Transaction, switch: Record) -> list[Record]:
    return [v for v in txn.find("VirtualNetwork") if _vnet_switch_uuid(v) == switch.uuid.lower()]


def _vnet_switch_uuid(vnet: Record) -> str:
    link = xml.find(vnet.element, "AssociatedSwitch")
    return _uuid_of(link.get("href") or "").lower() if link is not None else ""


def find_vnet(txn: Transaction, switch: Record, vlan: int) -> Record | None:
    """The VirtualNetwork of ``vlan`` on ``switch``, or None."""
    for vnet in _vnets_of(txn, switch):
        if xml.text(vnet.element, "NetworkVLANID") == str(vlan):
            return vnet
    return None


def ensure_vnet(txn: Transaction, switch: Record, vlan: int, tagged: bool) -> str:
    """The path of the VirtualNetwork of ``vlan`` on ``switch``, created as the hypervisor does when new."""
    vnet = find_vnet(txn, switch, vlan)
    if vnet is None:
        uuid = new_uuid()
        elem = xml.root("VirtualNetwork", uuid)
        link = xml.link(elem, "AssociatedSwitch", switch_path(switch))
        link.set("kb", "COD")
        xml.leaf(elem, "NetworkName", f"VLAN{vlan}-{xml.text(switch.element, 'SwitchName')}", kb="CUR")
        xml.leaf(elem, "NetworkVLANID", vlan, kb="COD")
        xml.leaf(elem, "VswitchID", _switch_id(switch), kb="ROR")
        xml.leaf(elem, "TaggedNetwork", tagged, kb="COD")
        vnet = Record("VirtualNetwork", uuid, elem, "ManagedSystem", switch.parent_uuid, title="VirtualNetwork")
        txn.put(vnet)
        _link_switch(txn, switch, vnet, add=True)
    elif tagged and xml.text(vnet.element, "TaggedNetwork") != "true":
        xml.set_text(vnet.element, "TaggedNetwork", "true")
        txn.put(vnet, detail="TaggedNetwork")
    return _vnet_path(vnet)


def adapter_vnets(txn: Transaction, switch: Record, pvid: int, tagged: list[int]) -> list[str]:
    """The VirtualNetwork paths of an adapter's PVID and tagged VLANs (created when new)."""
    return [ensure_vnet(txn, switch, pvid, False), *(ensure_vnet(txn, switch, v, True) for v in tagged)]


def adapters_on(txn: Transaction, switch: Record) -> list[tuple[str, set[int]]]:
    """(adapter id, its VLANs) of every client or trunk adapter on ``switch``."""
    found = []
    switch_id = str(_switch_id(switch))
    for kind in _ADAPTER_KINDS:
        for rec in txn.find(kind):
            if xml.text(rec.element, "VirtualSwitchID") == switch_id:
                vlans = {int(xml.text(rec.element, "PortVLANID", "0") or 0)}
                vlans |= set(xml.vlan_list(xml.text(rec.element, "TaggedVLANIDs")))
                found.append((rec.uuid, vlans))
    return found

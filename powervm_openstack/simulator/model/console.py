"""The ManagementConsole: the NovaLink partition as the REST API describes its own console.

A NovaLink serves one ManagementConsole (``managementconsole_ssh.txt``): the system's type, model
and serial, a link to the managed system, the console's name (the NovaLink partition's), its SSH
public key and the SSH keys authorised to log on to it. pypowervm's ``tasks.management_console``
reads the public key and adds authorised keys by updating the document. The simulator's rules:

- ``PublicSSHKey`` is read-only: an update keeps the console's own key, whatever the client sent;
- every ``AuthorizedKey`` must look like an OpenSSH public key (``<type> <base64> [comment]``,
  type ``ssh-rsa``, ``ssh-ed25519``, ``ecdsa-sha2-*`` or ``ssh-dss``), else 400 naming it;
- the console can be neither created nor deleted through the API (405).
"""

from __future__ import annotations

import base64
import hashlib
import re

from powervm_openstack.simulator.build import Topology, derive_uuid
from powervm_openstack.simulator.build.system import system_href
from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

_KEY = re.compile(r"^(ssh-rsa|ssh-ed25519|ssh-dss|ecdsa-sha2-\S+) [A-Za-z0-9+/]+={0,2}( .*)?$")


def install() -> None:
    kinds.register("ManagementConsole", ConsoleRules())


def build_console(topo: Topology) -> Record:
    """The ManagementConsole record of a topology, in pypowervm's ``_CONS_EL_ORDER``."""
    system = topo.system
    uuid = derive_uuid("console", system.serial)
    elem = xml.root("ManagementConsole", uuid)
    mtms = xml.complex_el(elem, "MachineTypeModelAndSerialNumber", kb="ROR", kxe="false")
    for tag, value in (("MachineType", system.machine_type), ("Model", system.model), ("SerialNumber", system.serial)):
        xml.leaf(mtms, tag, value, kb="CUR")
    xml.leaf(elem, "ManagedFrames", None)
    xml.link(elem, "ManagedSystems", system_href(system.uuid), inline=False)
    mgmt = next((p for p in topo.partitions if p.is_mgmt), None)
    xml.leaf(elem, "ManagementConsoleName", mgmt.name if mgmt else "localhost", kb="CUR")
    xml.complex_el(elem, "NetworkInterfaces", kb="CUD", kxe="false")
    xml.leaf(elem, "PowerEnterprisePools", None)
    key = base64.b64encode(b"\x00\x00\x00\x07ssh-rsa" + hashlib.sha256(system.serial.encode()).digest()).decode()
    xml.leaf(elem, "PublicSSHKey", f"ssh-rsa {key} neo@{mgmt.name if mgmt else 'novalink'}", kb="ROO")
    xml.complex_el(elem, "AuthorizedKeys", kb="ROO", kxe="false")
    return Record("ManagementConsole", uuid, elem, title="ManagementConsole")


class ConsoleRules(kinds.Behaviour):
    """ManagementConsole updates: authorised keys only."""

    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        raise ApiError(405, "The management console is the NovaLink itself; it cannot be created.")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        own = xml.text(old.element, "PublicSSHKey")
        if own is not None:
            xml.set_text(new.element, "PublicSSHKey", own)
        for key in xml.findall(new.element, "AuthorizedKeys/AuthorizedKey"):
            text = (key.text or "").strip()
            if not _KEY.match(text):
                raise bad_request(
                    f"Authorized key {text[:40]!r} is not an OpenSSH public key "
                    "(ssh-rsa, ssh-ed25519, ecdsa-sha2-* or ssh-dss, then base64)."
                )

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        raise ApiError(405, "The management console is the NovaLink itself; it cannot be deleted.")

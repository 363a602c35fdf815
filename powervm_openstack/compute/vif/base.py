"""The interface of a VIF driver, and finding a partition's adapter by MAC."""

from __future__ import annotations

import abc
from typing import Any

from pypowervm import exceptions as pvm_exc
from pypowervm.wrappers import iocard as pvm_card
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.pvm.vif_event import pvm_mac


class VifDriver(abc.ABC):
    vif_type = ""

    def __init__(self, adapter: Any, conf: Any, instance_uuid: str | None = None) -> None:
        self.adapter = adapter
        self.conf = conf
        self.instance_uuid = instance_uuid

    @abc.abstractmethod
    def plug(self, lpar_uuid: str, vif: Any) -> str:
        """Create the partition's adapter for ``vif``; return the adapter's href."""

    @abc.abstractmethod
    def unplug(self, lpar_uuid: str, vif: Any) -> bool:
        """Remove the partition's adapter for ``vif``; False when there was none."""


def find_cna(adapter: Any, lpar_uuid: str, mac: str) -> pvm_net.CNA | None:
    """The partition's client network adapter with this MAC, or None."""
    wanted = pvm_mac(mac)
    for cna in pvm_net.CNA.get(adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid):
        if (cna.mac or "").upper() == wanted:
            return cna
    return None


def find_cna_or_none(adapter: Any, lpar_uuid: str, mac: str) -> pvm_net.CNA | None:
    """``find_cna``, with None also when PowerVM cannot be read (a check after a lost reply)."""
    try:
        return find_cna(adapter, lpar_uuid, mac)
    except pvm_exc.Error:
        return None


def find_vnic(adapter: Any, lpar_uuid: str, mac: str) -> pvm_card.VNIC | None:
    wanted = pvm_mac(mac)
    for vnic in pvm_card.VNIC.get(adapter, parent_type=pvm_lpar.LPAR, parent_uuid=lpar_uuid):
        if (vnic.mac or "").upper() == wanted:
            return vnic
    return None

"""IBM i partitions: an image with ``os_distro=ibmi`` gets an OS400 partition with its I/O tagged.

An IBM i partition does not boot from "the first disk": firmware IPLs the *load source*, a virtual
I/O slot of the partition named in the partition's tagged I/O (``PartitionIOConfiguration/TaggedIO``),
next to the alternate load source (the slot of a second path, used for D-mode IPL and as the fallback),
the console (``HMC``: the NovaLink virtual terminal) and the designated IPL source (A-D, the copy of
the Licensed Internal Code to start from). pypowervm's ``LPARBuilder`` creates the partition with
placeholders (load source ``0``, alternate ``NONE``) and restricted I/O where the host offers it;
the slots exist only once the boot disk is mapped, so :func:`tag_load_source` sets them after the
mappings and before the first power-on.

Flavor extra specs (IBM i images only; on any other image they are refused):

=============================  ==================================================================
``powervm:ibmi_ipl_source``    a | b | c | d (default b, the temporary copy of the LIC, as IBM
                               recommends for normal IPLs)
``powervm:ibmi_console``       HMC (the only console offered: the NovaLink virtual terminal; an
                               Operations Console over LAN needs an adapter nova does not create)
``powervm:ibmi_alt_load_source``  auto (the second boot path's slot, else the load source) | none
=============================  ==================================================================

Refused before anything is created, naming the reason: an IBM i image on a host that is not
IBM i capable, secure boot (``powervm:secure_boot`` other than 0: PowerVM offers it to AIX/Linux
partitions only), and any value outside the lists above. A partition whose boot disk has no client
slot (nothing mapped) is refused at tagging time rather than left to fail its IPL.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from pypowervm.wrappers import base_partition as pvm_bp
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import exception as exc

LOG = logging.getLogger(__name__)

DISTRO = "ibmi"
ENV = pvm_bp.LPARType.OS400
SPEC_PREFIX = "powervm:ibmi_"
IPL_SOURCES = ("a", "b", "c", "d")
CONSOLES = ("HMC",)
ALT_LOAD_SOURCES = ("auto", "none")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the flavor asks of an IBM i partition (defaults when it asks nothing)."""

    ipl_source: str = "b"
    console: str = "HMC"
    alt_load_source: str = "auto"


def is_ibmi(instance: Any) -> bool:
    """True when the instance's image says ``os_distro=ibmi`` (nova keeps it in the instance's image meta)."""
    props = instance.image_meta.properties
    return bool(props.obj_attr_is_set("os_distro") and str(props.os_distro).lower() == DISTRO)


def settings(extra_specs: Mapping[str, str], ibmi: bool) -> Settings:
    """The ``powervm:ibmi_*`` extra specs, checked.

    :raises InvalidExtraSpec: an unknown ``powervm:ibmi_`` key, a value outside its list, any of them on
        an image that is not IBM i, or ``powervm:secure_boot`` on an IBM i image.
    """
    found = {k[len(SPEC_PREFIX) :]: str(v).strip() for k, v in extra_specs.items() if k.startswith(SPEC_PREFIX)}
    allowed = {"ipl_source": IPL_SOURCES, "console": CONSOLES, "alt_load_source": ALT_LOAD_SOURCES}
    for key, value in sorted(found.items()):
        full = SPEC_PREFIX + key
        if not ibmi:
            raise exc.InvalidExtraSpec(key=full, value=value, reason="applies to IBM i images (os_distro=ibmi) only")
        if key not in allowed:
            known = ", ".join(SPEC_PREFIX + k for k in allowed)
            raise exc.InvalidExtraSpec(key=full, value=value, reason=f"unknown key; known IBM i keys: {known}")
        low = value if key == "console" else value.lower()
        if low not in allowed[key]:
            raise exc.InvalidExtraSpec(key=full, value=value, reason=f"allowed: {', '.join(allowed[key])}")
        found[key] = low
    secure = str(extra_specs.get("powervm:secure_boot", "0")).strip()
    if ibmi and secure != "0":
        raise exc.InvalidExtraSpec(key="powervm:secure_boot", value=secure,
                                   reason="PowerVM offers secure boot to AIX/Linux partitions only, not IBM i")  # fmt: skip
    return Settings(**found)


def check_host(host: Any, name: str, instance_uuid: str) -> None:
    """Refuse an IBM i partition on a managed system that cannot run IBM i.

    :raises PartitionCreateFailed: the host's ``IBMiCapable`` capability is false.
    """
    if not host.get_capability("ibmi_capable"):
        raise exc.PartitionCreateFailed(name=name, instance=instance_uuid,
                                        reason=f"managed system {host.system_name} is not IBM i capable "
                                        "(IBMiCapable false); the image has os_distro=ibmi")  # fmt: skip


def boot_slots(adapter: Any, lpar: pvm_lpar.LPAR, boot_names: tuple[str, ...] = ()) -> list[int]:
    """The partition's client slots (sorted) of the vSCSI or vFC mappings that carry its boot disk.

    ``boot_names`` names the boot disk (an SSP logical unit or a virtual disk); empty for boot from
    volume, where every non-optical vSCSI mapping and every vFC mapping counts. Optical media (the
    config drive) is never a load source.
    """
    xags = [pvm_vios.VIOS.xags.SCSI_MAPPING, pvm_vios.VIOS.xags.FC_MAPPING]
    slots = set()
    for vios in pvm_vios.VIOS.get(adapter, xag=xags):
        for smap in vios.scsi_mappings:
            stg, client = smap.backing_storage, smap.client_adapter
            if client is None or stg is None or int(client.lpar_id) != int(lpar.id):
                continue
            if isinstance(stg, pvm_stor.VOptMedia) or (boot_names and stg.name not in boot_names):
                continue
            slots.add(int(client.lpar_slot_num))
        if not boot_names:
            slots.update(int(m.client_adapter.lpar_slot_num) for m in vios.vfc_mappings
                         if m.client_adapter is not None and int(m.client_adapter.lpar_id) == int(lpar.id))  # fmt: skip
    return sorted(slots)


def tag_load_source(adapter: Any, lpar_uuid: str, instance: Any, wanted: Settings,
                    boot_names: tuple[str, ...] = ()) -> pvm_lpar.LPAR:  # fmt: skip
    """Tag the load source (lowest boot slot), alternate load source, console and IPL source; keylock normal.

    :raises PowerVMOperationFailed: the boot disk has no client slot on the partition (not mapped).
    """
    lpar = pvm_lpar.LPAR.get(adapter, uuid=lpar_uuid)
    slots = boot_slots(adapter, lpar, boot_names)
    if not slots:
        raise exc.PowerVMOperationFailed(action="tag the IBM i load source", instance=instance.uuid,
                                         reason=f"partition {lpar.name} has no client vSCSI or vFC slot carrying "
                                         f"its boot disk {', '.join(boot_names) or '(boot volume)'}")  # fmt: skip
    alt = "NONE" if wanted.alt_load_source == "none" else str(slots[1] if len(slots) > 1 else slots[0])
    lpar.io_config.tagged_io = pvm_bp.TaggedIO.bld(adapter, load_src=str(slots[0]), console=wanted.console,
                                                   alt_load_src=alt)  # fmt: skip
    lpar.desig_ipl_src = wanted.ipl_source
    lpar.keylock_pos = pvm_bp.KeylockPos.NORMAL
    lpar = lpar.update()
    LOG.info("Instance %s: IBM i partition %s load source slot %s, alternate %s, console %s, IPL source %s",
             instance.uuid, lpar.uuid, slots[0], alt, wanted.console, wanted.ipl_source.upper())  # fmt: skip
    return lpar

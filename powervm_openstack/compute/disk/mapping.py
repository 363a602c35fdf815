"""vSCSI mappings between VIOS storage and a partition: one GET and at most one POST per VIOS.

Changes go through pypowervm's ``WrapperTask``, which retries on an ETag conflict (412) after
re-reading the VIOS; several storage elements for one VIOS go in one update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.utils import transaction as pvm_tx
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.compute import evacuate

LOG = logging.getLogger(__name__)
SMAP_XAG = [pvm_vios.VIOS.xags.SCSI_MAPPING]


def add(adapter: Any, vios_uuid: str, lpar_uuid: str, storage: Iterable[Any]) -> None:
    """Map every element of ``storage`` from one VIOS to the partition (already-present ones are kept)."""
    elems = list(storage)
    if not elems:
        return
    task = pvm_tx.WrapperTask(f"map-{lpar_uuid}", pvm_vios.VIOS.getter(adapter, entry_uuid=vios_uuid, xag=SMAP_XAG))

    slots = [evacuate.vscsi_slot(_name(e)) for e in elems]  # once, not per retry of _add: the plan is consumed

    def _add(vios_w: Any) -> bool:
        added = [pvm_smap.add_map(vios_w, pvm_smap.build_vscsi_mapping(None, vios_w, lpar_uuid, e, lpar_slot_num=s))
                 for e, s in zip(elems, slots, strict=True)]  # fmt: skip
        return any(m is not None for m in added)

    task.add_functor_subtask(_add)
    task.execute()
    LOG.info("Mapped %s from VIOS %s to partition %s", ", ".join(_name(e) for e in elems), vios_uuid, lpar_uuid)


def remove(adapter: Any, vios_uuids: Iterable[str], match: Callable[[Any], bool], why: str) -> int:
    """Remove, on each VIOS, every mapping whose storage ``match`` accepts (any client, orphans too).

    :returns: how many mappings were removed.
    """
    removed = 0
    for vios_uuid in vios_uuids:
        task = pvm_tx.WrapperTask(f"unmap-{why}", pvm_vios.VIOS.getter(adapter, entry_uuid=vios_uuid, xag=SMAP_XAG))
        found: list[int] = []

        def _remove(vios_w: Any, found: list[int] = found) -> bool:
            doomed = [m for m in vios_w.scsi_mappings if m.backing_storage is not None and match(m.backing_storage)]
            for mapping in doomed:
                vios_w.scsi_mappings.remove(mapping)
            found.append(len(doomed))
            return bool(doomed)

        task.add_functor_subtask(_remove)
        task.execute()
        if found and found[-1]:
            LOG.info("Removed %d vSCSI mapping(s) for %s from VIOS %s", found[-1], why, vios_uuid)
            removed += found[-1]
    return removed


def remove_for_partition(adapter: Any, vios_uuids: Iterable[str], lpar_id: int) -> int:
    """Remove every mapping (and storage-less adapter pair) of the client partition ``lpar_id``."""
    removed = 0
    for vios_uuid in vios_uuids:
        task = pvm_tx.WrapperTask(f"unmap-{lpar_id}", pvm_vios.VIOS.getter(adapter, entry_uuid=vios_uuid, xag=SMAP_XAG))
        found: list[int] = []

        def _remove(vios_w: Any, found: list[int] = found) -> bool:
            doomed = pvm_smap.remove_maps(vios_w, lpar_id, include_orphans=False)
            found.append(len(doomed))
            return bool(doomed)

        task.add_functor_subtask(_remove)
        task.execute()
        if found and found[-1]:
            LOG.info("Removed %d vSCSI mapping(s) of partition id %d from VIOS %s", found[-1], lpar_id, vios_uuid)
            removed += found[-1]
    return removed


def named(*names: str) -> Callable[[Any], bool]:
    """A ``match`` for ``remove``: storage with one of these names."""
    wanted = set(names)
    return lambda stg: getattr(stg, "name", None) in wanted


def _name(elem: Any) -> str:
    return str(getattr(elem, "name", None) or getattr(elem, "udid", "?"))

"""Shared Storage Pool logical units: create (incl. linked clones), delete, and the pool's accounting.

Logical units are CHILD objects of a Tier (``PUT /rest/api/uom/Tier/<u>/LogicalUnit``, pypowervm
``crt_lu``); the SharedStoragePool document lists them too and is kept in step. The server:
- assigns a UniqueDeviceID (``27`` + 32 hex digits), InUse false, ThinDevice and type defaults;
- makes a linked clone of ``ClonedFrom`` (an image LU's UDID): the new LU starts with the image's
  bytes and is at least as large as the image;
- refuses a name outside 1-79 characters, a capacity below zero, a thick LU larger than the free
  space, an unknown clone source, deleting an LU that a vSCSI mapping uses, deleting an image LU
  that linked clones still use, and LU creation through the SharedStoragePool document;
- removes LUs a client drops from the SharedStoragePool document (pypowervm ``rm_ssp_storage``),
  linked clones before images, so a last clone and its image go in one update;
- accepts a second LU of a name already used: pypowervm tells LUs apart by UDID (``_rm_dev_by_udid``)
  and coordinates image uploads between hosts with marker LUs (``cluster_ssp.get_or_upload_image_lu``)
  rather than relying on the pool to refuse a repeated name;
- tells the simulators sharing the pool (``ssp_cluster``) about every LU created, grown or deleted.
``Cluster/do/Create`` (pypowervm ``cluster_ssp.crt_cluster_ssp``) is not modelled: building a
cluster and its pool from raw hdisks is a VIOS administrator's task that no compute driver runs
(nova-powervm never did); the job fails naming the topology's ``storage.shared_storage_pools``,
where a simulator's clusters come from.
"""

from __future__ import annotations

import copy
import secrets

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, bad_request
from powervm_openstack.simulator.model import ssp_cluster
from powervm_openstack.simulator.model.ordering import set_child
from powervm_openstack.simulator.model.storage import gb
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

MAX_LU_NAME = 79
MIN_LU_GB = 0.01
IMAGE = "VirtualIO_Image"
LU_ORDER = (
    "Metadata", "ThinDevice", "UniqueDeviceID", "UnitCapacity", "LogicalUnitType", "ClonedFrom", "InUse", "UnitName",
)  # fmt: skip


def install() -> None:
    kinds.register("LogicalUnit", LogicalUnitRules())
    kinds.register("SharedStoragePool", PoolRules())
    register_job("Cluster", "Create", _cluster_create)


def _cluster_create(txn: Transaction, target: Record | None, params: dict[str, str]) -> dict[str, str]:
    raise JobFailed("Cluster/do/Create is not modelled by the simulator: its clusters and Shared Storage Pools "
                    "come from the topology (storage.shared_storage_pools).")  # fmt: skip


def pool_of(txn: Transaction, tier: Record) -> Record:
    link = xml.find(tier.element, "AssociatedSharedStoragePool")
    href = (link.get("href") if link is not None else "") or ""
    pool = txn.get("SharedStoragePool", href.rsplit("/", 1)[-1])
    if pool is None:
        raise bad_request(f"Tier {tier.uuid} belongs to no Shared Storage Pool.")
    return pool


class LogicalUnitRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        if parent is None or parent.kind != "Tier":
            raise ApiError(405, "A LogicalUnit is created under its Tier.")
        elem = rec.element
        name = xml.text(elem, "UnitName") or ""
        if not 1 <= len(name) <= MAX_LU_NAME:
            raise bad_request(f"Logical unit name {name!r} must be 1-{MAX_LU_NAME} characters long.")
        capacity = gb(elem, "UnitCapacity")
        if capacity < 0:
            raise bad_request(f"Logical unit {name} cannot have a negative capacity ({capacity:g} GB).")
        data = _clone_source(txn, elem, name)
        capacity = max(capacity, MIN_LU_GB, gb(elem, "UnitCapacity"))
        udid = "27" + secrets.token_hex(16)
        for tag, value, kb in (
            ("ThinDevice", xml.text(elem, "ThinDevice") or "true", "CUR"), ("UniqueDeviceID", udid, "ROR"),
            ("UnitCapacity", f"{capacity:g}", "COR"), ("LogicalUnitType", xml.text(elem, "LogicalUnitType")
             or "VirtualIO_Disk", "COD"), ("InUse", False, "ROR"),
        ):  # fmt: skip
            set_child(elem, tag, value, LU_ORDER, kb=kb)
        rec.title = "LogicalUnit"
        pool = pool_of(txn, parent)
        _list_in_pool(pool, elem, add=True)
        _account(pool, name)
        txn.put(pool, detail="LogicalUnits")
        txn.put_blob(udid, data)
        ssp_cluster.push(txn, "put", elem, rec.uuid, parent.uuid)

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        for tag in ("UniqueDeviceID", "LogicalUnitType", "ClonedFrom", "InUse"):
            if xml.text(old.element, tag) != xml.text(new.element, tag):
                raise bad_request(f"{tag} of logical unit {xml.text(old.element, 'UnitName')} cannot change.")
        if gb(new.element, "UnitCapacity") < gb(old.element, "UnitCapacity"):
            raise bad_request(f"Logical unit {xml.text(old.element, 'UnitName')} cannot shrink.")
        ssp_cluster.push(txn, "put", new.element, new.uuid, new.parent_uuid or "")

    def on_delete(self, txn: Transaction, rec: Record) -> None:
        tier = txn.get("Tier", rec.parent_uuid or "")
        remove_lu(txn, rec.element, pool_of(txn, tier) if tier is not None else None)


def _clone_source(txn: Transaction, elem: etree._Element, name: str) -> bytes:
    source_udid = xml.text(elem, "ClonedFrom")
    if not source_udid:
        return b""
    for source in txn.find_containing("LogicalUnit", source_udid):
        if xml.text(source.element, "UniqueDeviceID") == source_udid:
            size = max(gb(elem, "UnitCapacity"), gb(source.element, "UnitCapacity"))
            set_child(elem, "UnitCapacity", f"{size:g}", LU_ORDER, kb="COR")
            set_child(elem, "ThinDevice", "true", LU_ORDER, kb="CUR")
            return txn.blob(source_udid) or b""
    raise bad_request(f"Logical unit {name} is to be a linked clone of {source_udid}, which does not exist.")


def remove_lu(txn: Transaction, lu: etree._Element, pool: Record | None) -> None:
    """Refuse or carry out the removal of one LU (its record, if any, is deleted by the caller)."""
    name, udid = xml.text(lu, "UnitName"), xml.text(lu, "UniqueDeviceID") or ""
    if (xml.text(lu, "InUse") or "false").lower() == "true":
        raise ApiError(409, f"Logical unit {name} ({udid}) is mapped to a partition; remove the mapping first.")
    clones = [c for c in txn.find_containing("LogicalUnit", udid) if xml.text(c.element, "ClonedFrom") == udid]
    if clones:
        raise ApiError(
            409, f"Image logical unit {name} still backs {len(clones)} linked clone(s), e.g. "
            f"{xml.text(clones[0].element, 'UnitName')}.",
        )  # fmt: skip
    ssp_cluster.push(txn, "delete", lu)  # a peer mapping the unit refuses, before anything changes here
    txn.delete_blob(udid)
    if pool is not None:
        _list_in_pool(pool, lu, add=False)
        _account(pool, name or "")
        txn.put(pool, detail="LogicalUnits")


def _list_in_pool(pool: Record, lu: etree._Element, add: bool) -> None:
    holder = xml.find(pool.element, "LogicalUnits")
    if holder is None:
        holder = xml.complex_el(pool.element, "LogicalUnits", kb="CUD", kxe="false")
        pool.element.insert(1, holder)
    udid = xml.text(lu, "UniqueDeviceID")
    for existing in xml.findall(holder, "LogicalUnit"):
        if xml.text(existing, "UniqueDeviceID") == udid:
            holder.remove(existing)
    if add:
        copy_ = etree.SubElement(holder, xml.q("LogicalUnit"), attrib={"schemaVersion": xml.SCHEMA_VERSION})
        for child in lu:
            copy_.append(copy.deepcopy(child))


def _account(pool: Record, name: str) -> None:
    """Recompute FreeSpace and TotalLogicalUnitSize; thick LUs take their whole capacity."""
    lus = xml.findall(pool.element, "LogicalUnits/LogicalUnit")
    total = sum(gb(lu, "UnitCapacity") for lu in lus)
    thick = sum(gb(lu, "UnitCapacity") for lu in lus if (xml.text(lu, "ThinDevice") or "true") == "false")
    free = round(gb(pool.element, "Capacity") - thick, 4)
    if free < 0:
        raise bad_request(f"Logical unit {name} does not fit: the pool would be over-committed by {-free:g} GB.")
    xml.set_text(pool.element, "FreeSpace", f"{free:g}")
    xml.set_text(pool.element, "TotalLogicalUnitSize", f"{total:g}")


class PoolRules(kinds.Behaviour):
    def on_create(self, txn: Transaction, rec: Record, parent: Record | None) -> None:
        raise ApiError(405, "Shared Storage Pools are created with the cluster (Cluster/do/Create).")

    def on_update(self, txn: Transaction, old: Record, new: Record) -> None:
        before = {xml.text(lu, "UniqueDeviceID"): lu for lu in xml.findall(old.element, "LogicalUnits/LogicalUnit")}
        after = {xml.text(lu, "UniqueDeviceID") for lu in xml.findall(new.element, "LogicalUnits/LogicalUnit")}
        if after - set(before):
            raise bad_request("Logical units are created under the pool's Tier (PUT Tier/<uuid>/LogicalUnit).")
        dropped = [(udid, lu) for udid, lu in before.items() if udid not in after]
        # clones first: pypowervm's rm_ssp_storage drops a last clone and its image in one update
        for udid, lu in sorted(dropped, key=lambda item: xml.text(item[1], "ClonedFrom") is None):
            remove_lu(txn, lu, None)
            for rec in txn.find_containing("LogicalUnit", udid or ""):
                if xml.text(rec.element, "UniqueDeviceID") == udid:
                    txn.delete(rec, detail="RemovedFromPool")
        holder = xml.find(new.element, "LogicalUnits")
        if holder is not None:  # the server's view of the remaining LUs, not the client's copy
            for lu in xml.findall(holder, "LogicalUnit"):
                holder.remove(lu)
            for udid in (u for u in before if u in after):
                holder.append(copy.deepcopy(before[udid]))
        _account(new, "-")

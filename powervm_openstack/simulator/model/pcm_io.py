"""PCM storage and RMC memory data of the simulated host: the vSCSI side of the samples and the LPAR files.

Storage (shapes from the captures ``phyp_pcm_data`` and ``vios_pcm_data``, matched the way pypowervm's
``tasks/monitor/lpar.LparStorage`` matches them):
- the PHYP entry of a client partition lists, under ``storage.genericVirtualAdapters``, one element
  per vSCSI client adapter: its own location code, the serving VIOS's partition id (``viosId``) and
  the VIOS's slot (``viosAdapterSlotId``); a partition without vSCSI mappings has no ``storage``;
- the VIOS file lists each of its vSCSI server adapters (``vhostN``, location ``...-V<id>-C<slot>``)
  under ``storage.genericVirtualAdapters`` with read/write request and byte counters;
- the counters of a server adapter move while its client partition runs, ``read_bytes_per_s`` /
  ``write_bytes_per_s`` of that partition's rates (``model.pcm.Rates``) in requests of
  ``REQUEST_BYTES``. Simulator choice: they count the client's current activation (a real VIOS
  counts from its own boot; a client restart therefore looks like a counter reset, which consumers
  already handle for the PHYP counters). Virtual Fibre Channel (NPIV) mappings are not modelled by
  the simulator, so no ``virtualFiberChannelAdapters`` are served.

LPAR files (capture ``lpar_pcm_data``, pypowervm ``wrappers/pcm/lpar.LparInfo``): the memory use
that the partition's RMC connection (IBM.Host resource manager) reports, in one
``LTM_<mtms>_lpar_<time>.json`` file taken every ``LPAR_EVERY`` PHYP samples (120 s with the 30 s
interval, "generally collected once every two minutes"). Every client partition has an element:
- running with RMC ``active``: ``memory`` with ``pctRealMemAvbl`` = 100 - ``memory_fraction`` * 100
  (the share the OS uses, without cache), ``pctRealMemFree`` 5 points lower (the page cache),
  ``realMemSizeBytes`` the partition's current memory, paging space of 512 MB left free;
- not running: ``errorInfo`` 6001 "Lpar is not in running state on Managed System";
- running without RMC: ``errorInfo`` 6003 "RMC is INACTIVE on lpar" (``timeStamp`` null in both).
"""

from __future__ import annotations

from collections.abc import Callable

from powervm_openstack.simulator.model import adapters
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

REQUEST_BYTES = 4096
LPAR_EVERY = 4
PAGE_BYTES = 4096
_MAPS = "VirtualSCSIMappings/VirtualSCSIMapping"
_PAGING_PAGES = 512 * 2**20 // PAGE_BYTES

#: client partition -> (seconds it has been running at the sample time, read and write bytes per second)
Traffic = Callable[[Record], tuple[float, int, int]]


def _server_adapters(vios: Record) -> list[tuple[int, str, str, str]]:
    """(client partition id, client location, server adapter name, server location) per vSCSI adapter pair."""
    seen, found = set(), []
    for mapping in xml.findall(vios.element, _MAPS):
        server, client = xml.find(mapping, "ServerAdapter"), xml.find(mapping, "ClientAdapter")
        if server is None or client is None:
            continue
        s_loc, c_loc = xml.text(server, "LocationCode", ""), xml.text(client, "LocationCode", "")
        if not s_loc or not c_loc or s_loc in seen:
            continue  # the adapters of a mapping without a client, or a second device on the same pair
        seen.add(s_loc)
        remote = adapters.int_text(server, "RemoteLogicalPartitionID")
        found.append((remote, c_loc, xml.text(server, "AdapterName", ""), s_loc))
    return found


def phyp_storage(txn: Transaction) -> dict[int, dict]:
    """Partition id -> the ``storage`` element of its PHYP entry (only partitions with vSCSI adapters)."""
    storage: dict[int, dict] = {}
    for vios in txn.find("VirtualIOServer"):
        vios_id = adapters.partition_id(vios)
        for client_id, c_loc, _, s_loc in _server_adapters(vios):
            entry = storage.setdefault(client_id, {"genericVirtualAdapters": []})
            entry["genericVirtualAdapters"].append(
                {"physicalLocation": c_loc, "viosId": vios_id, "viosAdapterSlotId": int(s_loc.rsplit("-C", 1)[1])}
            )
    return storage


def vios_storage(txn: Transaction, vios: Record, traffic: Traffic) -> dict:
    """The ``storage`` element of a VIOS file: one counter set per vSCSI server adapter."""
    by_id = {adapters.partition_id(p): p for p in txn.find("LogicalPartition")}
    virtual = []
    for client_id, _, name, s_loc in _server_adapters(vios):
        client = by_id.get(client_id)
        up, read_rate, write_rate = traffic(client) if client is not None else (0.0, 0, 0)
        read, write = int(up * read_rate), int(up * write_rate)
        virtual.append({"id": name, "type": "virtual", "physicalLocation": s_loc,
                        "numOfReads": read // REQUEST_BYTES, "numOfWrites": write // REQUEST_BYTES,
                        "readBytes": read, "writeBytes": write})  # fmt: skip
    return {"fiberChannelAdapters": [], "genericPhysicalAdapters": [], "genericVirtualAdapters": virtual}


def lpar_sample(parts: list[tuple[Record, float]], stamp: str) -> dict:
    """The LPAR file: ``parts`` is (client partition, memory_fraction) for every client partition."""
    return {"lparUtil": [_lpar_entry(p, fraction, stamp) for p, fraction in parts]}


def _lpar_entry(part: Record, fraction: float, stamp: str) -> dict:
    base = {"uuid": part.uuid.upper(), "id": xml.text(part.element, "PartitionID", "0"),
            "name": xml.text(part.element, "PartitionName", "")}  # fmt: skip
    if xml.text(part.element, "PartitionState", "").lower() not in ("running", "open firmware"):
        return {**base, "errorInfo": {"errorId": "6001", "message": "Lpar is not in running state on Managed System"},
                "timeStamp": None}  # fmt: skip
    if xml.text(part.element, "ResourceMonitoringControlState", "inactive") != "active":
        return {**base, "errorInfo": {"errorId": "6003", "message": "RMC is INACTIVE on lpar"}, "timeStamp": None}
    # the desired memory, as the PHYP entry's logicalMem (the power jobs do not fill the Current* values)
    size = int(xml.text(part.element, "PartitionMemoryConfiguration/DesiredMemory", "0") or 0) * 2**20
    available = round(100 - fraction * 100)
    return {**base, "memory": {
        "pctRealMemAvbl": available, "totalPgSpSizeCount": _PAGING_PAGES, "totalPgSpFreeCount": _PAGING_PAGES,
        "vmActivePgCount": int(size * fraction) // PAGE_BYTES, "realMemSizeBytes": size,
        "pctRealMemFree": max(available - 5, 0), "vmPgInRate": 0, "vmPgOutRate": 0, "vmPgSpInRate": 0,
        "vmPgSpOutRate": 0}, "timeStamp": stamp}  # fmt: skip

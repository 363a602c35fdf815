"""PCM (Performance and Capacity Monitoring) counters of the simulated host, as pure functions of time.

What real NovaLink does and this model copies (shapes from pypowervm 1.1.27's wrappers/pcm and the
captures ``phyp_pcm_data*``, ``vios_pcm_data*``, ``ltm_feed*``):
- the long-term monitor takes one sample every 30 s (``interval``); a sample is one PHYP JSON
  (``systemUtil.utilSample``: ``timeBasedCycles``, ``systemFirmware``, ``lparsUtil``/``viosUtil`` with
  processor cycle counters and client-adapter network counters) and one JSON per running VIOS;
- the counters of a partition count from its last activation: a power-off or restart starts them
  at zero again (the hypervisor keeps no history across activations); a partition that is off is
  listed with state ``Not Activated`` and zero counters, as in ``phyp_pcm_data2``;
- processor counters are in cycles of ``procCyclesPerSecond`` (the 512 MHz time base).
Choices of the simulator (not data from firmware):
- a running partition uses ``cpu_fraction`` (default 0.25) of its processing units, of which
  ``capped`` is the share within entitlement; every client adapter moves ``rx_bytes_per_s`` /
  ``tx_bytes_per_s`` (defaults 1000 / 500) in packets of 500 bytes, dropping none; every vSCSI
  adapter pair reads ``read_bytes_per_s`` and writes ``write_bytes_per_s`` (defaults 8192 / 4096),
  and the OS uses ``memory_fraction`` (default 0.4) of the memory (``pcm_io`` has the storage and
  the RMC memory files);
- the rates come from the topology (a client LPAR's ``pcm`` mapping, see ``topology.pcm``) or
  ``set_rates`` (the store's meta table, which wins); boot times are kept in the meta table
  likewise (``on_state``, called by the power jobs); a partition never powered on through the API
  counts from the PCM epoch, when long-term monitoring was first switched on; samples are taken
  from then on only.
"""

from __future__ import annotations

import dataclasses
import json
import time

from powervm_openstack.simulator.model import pcm_io
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

CYCLES_PER_SECOND = 512_000_000
DEFAULT_INTERVAL = 30
PACKET_BYTES = 500
_EPOCH = "pcm.epoch"
_PREFS = "pcm.prefs"
RATES_KIND = "SimulatorPcmRates"
_UP = ("running", "open firmware", "starting", "shutting down")


@dataclasses.dataclass(frozen=True)
class Rates:
    """How busy a running partition is (see the module docstring for the defaults' meaning)."""

    cpu_fraction: float = 0.25
    capped: float = 0.8
    rx_bytes_per_s: int = 1000
    tx_bytes_per_s: int = 500
    read_bytes_per_s: int = 8192
    write_bytes_per_s: int = 4096
    memory_fraction: float = 0.4


_FRACTIONS = ("cpu_fraction", "capped", "memory_fraction")


def set_rates(txn: Transaction, part_uuid: str, rates: Rates) -> None:
    """Set the rates of one partition (takes effect for every sample, past ones included)."""
    txn.set_meta(f"pcm.rates.{part_uuid.upper()}", json.dumps(dataclasses.asdict(rates)))


def rates_of(txn: Transaction, part_uuid: str) -> Rates:
    """``set_rates``' value, else the topology's ``pcm`` mapping (``topology.pcm``), else the defaults."""
    raw = txn.meta(f"pcm.rates.{part_uuid.upper()}")
    if raw:
        return Rates(**json.loads(raw))
    from powervm_openstack.simulator.topology.pcm import rates_uuid

    rec = txn.get(RATES_KIND, rates_uuid(part_uuid))
    if rec is None:
        return Rates()
    return Rates(**{k: float(v) if k in _FRACTIONS else int(v) for k, v in rec.element.attrib.items()})


def on_state(txn: Transaction, part: Record, state: str) -> None:
    """Record a (re)activation: the partition's counters restart from zero at this moment."""
    if state == "running":
        txn.set_meta(f"pcm.boot.{part.uuid.upper()}", repr(time.time()))


def epoch(txn: Transaction) -> float:
    raw = txn.meta(_EPOCH)
    if raw is None:
        now = time.time()
        txn.set_meta(_EPOCH, repr(now))
        return now
    return float(raw)


def interval(txn: Transaction) -> int:
    return int(txn.meta("pcm.interval") or DEFAULT_INTERVAL)


def sample_times(txn: Transaction, now: float, count: int = 2) -> list[int]:
    """The times of the latest ``count`` samples taken since the epoch (newest first)."""
    step, start = interval(txn), epoch(txn)
    latest = int(now // step * step)
    return [t for t in (latest - i * step for i in range(count)) if t >= start]


def preferences(txn: Transaction) -> dict[str, bool]:
    """LongTermMonitorEnabled, AggregationEnabled, ShortTermMonitorEnabled, ComputeLTMEnabled."""
    raw = txn.meta(_PREFS)
    default = dict.fromkeys(("LongTermMonitorEnabled", "AggregationEnabled", "ShortTermMonitorEnabled",
                             "ComputeLTMEnabled"), False)  # fmt: skip
    return {**default, **json.loads(raw)} if raw else default


def set_preferences(txn: Transaction, prefs: dict[str, bool]) -> None:
    """Store the preferences; switching long-term monitoring on starts the sampling (the PCM epoch)."""
    if prefs.get("LongTermMonitorEnabled"):
        epoch(txn)
    txn.set_meta(_PREFS, json.dumps(prefs))


def _up_seconds(txn: Transaction, part: Record, at: float) -> float:
    """Seconds the partition has been running at time ``at`` (0 when off or booted after ``at``)."""
    if xml.text(part.element, "PartitionState", "").lower() not in _UP:
        return 0.0
    boot = txn.meta(f"pcm.boot.{part.uuid.upper()}")
    since = float(boot) if boot else epoch(txn)
    return max(at - since, 0.0)


def traffic(txn: Transaction, at: float) -> pcm_io.Traffic:
    """The running seconds and disk rates of a client partition at ``at`` (for ``pcm_io``)."""

    def of(part: Record) -> tuple[float, int, int]:
        rates = rates_of(txn, part.uuid)
        return _up_seconds(txn, part, at), rates.read_bytes_per_s, rates.write_bytes_per_s

    return of


def partition_sample(
    txn: Transaction, part: Record, cnas: list[Record], at: float, storage: dict | None = None
) -> dict:
    """One ``lparsUtil``/``viosUtil`` element of the PHYP sample taken at ``at`` (``storage``: ``pcm_io``'s)."""
    up, rates = _up_seconds(txn, part, at), rates_of(txn, part.uuid)
    # The desired values: the simulator's power jobs do not fill the Current* ones.
    shared = "PartitionProcessorConfiguration/SharedProcessorConfiguration/"
    units = float(xml.text(part.element, shared + "DesiredProcessingUnits", "0.5") or 0.5)
    vcpus = int(xml.text(part.element, shared + "DesiredVirtualProcessors", "1") or 1)
    entitled = int(up * units * CYCLES_PER_SECOND)
    used = int(entitled * rates.cpu_fraction)
    state = "Running" if up > 0 or xml.text(part.element, "PartitionState", "") == "running" else "Not Activated"
    sample = {
        "id": int(xml.text(part.element, "PartitionID", "0")), "uuid": part.uuid.upper(),
        "type": "Virtual IO Server" if part.kind == "VirtualIOServer" else "aixlinux",
        "name": xml.text(part.element, "PartitionName", ""), "state": state, "affinityScore": 100,
        "memory": {"logicalMem": int(xml.text(part.element, "PartitionMemoryConfiguration/DesiredMemory", "0")),
                   "backedPhysicalMem": 0},
        "processor": {"poolId": 0, "mode": "uncap", "maxVirtualProcessors": vcpus, "maxProcUnits": units,
                      "weight": 128, "entitledProcCycles": entitled,
                      "utilizedCappedProcCycles": int(used * rates.capped),
                      "utilizedUnCappedProcCycles": used - int(used * rates.capped), "idleProcCycles": 0,
                      "donatedProcCycles": 0, "timeSpentWaitingForDispatch": 0, "totalInstructions": 0,
                      "totalInstructionsExecutionTime": 0},
        "network": {"virtualEthernetAdapters": [_vea(c, up, rates) for c in cnas]},
    }  # fmt: skip
    if storage is not None:
        sample["storage"] = storage
    return sample


def _vea(cna: Record, up: float, rates: Rates) -> dict:
    rx, tx = int(up * rates.rx_bytes_per_s), int(up * rates.tx_bytes_per_s)
    return {
        "vlanId": int(xml.text(cna.element, "PortVLANID", "0")), "vswitchId": 0,
        "physicalLocation": xml.text(cna.element, "LocationCode", ""), "isPortVLANID": True,
        "receivedPackets": rx // PACKET_BYTES, "sentPackets": tx // PACKET_BYTES, "droppedPackets": 0,
        "sentBytes": tx, "receivedBytes": rx, "receivedPhysicalPackets": 0, "sentPhysicalPackets": 0,
        "droppedPhysicalPackets": 0, "sentPhysicalBytes": 0, "receivedPhysicalBytes": 0,
    }  # fmt: skip


def _stamp(at: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(at))


def phyp_sample(txn: Transaction, system: Record, at: int) -> dict:
    """The PHYP JSON of the sample taken at ``at`` (every partition of the system)."""
    parts = txn.find("LogicalPartition") + txn.find("VirtualIOServer")
    storage = pcm_io.phyp_storage(txn)
    lpars, vioses = [], []
    for part in sorted(parts, key=lambda p: int(xml.text(p.element, "PartitionID", "0"))):
        cnas = [
            c for c in txn.find("ClientNetworkAdapter", part.uuid) if xml.text(c.element, "TrunkPriority", "") == ""
        ]
        stor = storage.get(int(xml.text(part.element, "PartitionID", "0"))) if part.kind != "VirtualIOServer" else None
        (vioses if part.kind == "VirtualIOServer" else lpars).append(partition_sample(txn, part, cnas, at, stor))
    units = float(xml.text(system.element, "AssociatedSystemProcessorConfiguration/ConfigurableSystemProcessorUnits",
                           "1") or 1)  # fmt: skip
    up = max(at - epoch(txn), 0.0)
    return {"systemUtil": {"utilInfo": _info(system), "utilSample": {
        "timeStamp": _stamp(at), "status": 0, "errorInfo": [], "timeBasedCycles": float(int(at * CYCLES_PER_SECOND)),
        "systemFirmware": {"utilizedProcCycles": int(up * CYCLES_PER_SECOND * 0.01), "assignedMem": 4096},
        "processor": {"totalProcUnits": units, "configurableProcUnits": units, "availableProcUnits": units,
                      "procCyclesPerSecond": CYCLES_PER_SECOND},
        "memory": {"totalMem": 0, "availableMem": 0, "configurableMem": 0},
        "sharedProcessorPool": [{"id": 0, "name": "DefaultPool"}],
        "lparsUtil": lpars, "viosUtil": vioses}}}  # fmt: skip


def vios_sample(txn: Transaction, system: Record, vios: Record, at: int) -> dict:
    """The VIOS JSON of the sample taken at ``at``: its vSCSI server adapters' counters (no network ones)."""
    return {"systemUtil": {"utilInfo": _info(system), "utilSample": {
        "timeStamp": _stamp(at), "status": 0, "errorInfo": [],
        "viosUtil": [{"id": xml.text(vios.element, "PartitionID", "0"),
                      "name": xml.text(vios.element, "PartitionName", ""),
                      "memory": {"utilizedMem": 1024}, "network": {"genericAdapters": [], "sharedAdapters": []},
                      "storage": pcm_io.vios_storage(txn, vios, traffic(txn, at))}]}}}  # fmt: skip


def lpar_times(txn: Transaction, now: float, count: int = 2) -> list[int]:
    """The times of the latest ``count`` LPAR (RMC) files since the epoch (newest first)."""
    step, start = interval(txn) * pcm_io.LPAR_EVERY, epoch(txn)
    latest = int(now // step * step)
    return [t for t in (latest - i * step for i in range(count)) if t >= start]


def lpar_sample(txn: Transaction, at: int) -> dict:
    """The LPAR (RMC memory) JSON taken at ``at``: every client partition, as its state is now."""
    parts = [p for p in txn.find("LogicalPartition") if xml.text(p.element, "IsManagementPartition") != "true"]
    parts.sort(key=lambda p: int(xml.text(p.element, "PartitionID", "0")))
    stamp = time.strftime("%Y%m%dT%H%M%S+0000", time.gmtime(at))
    return pcm_io.lpar_sample([(p, rates_of(txn, p.uuid).memory_fraction) for p in parts], stamp)


def _info(system: Record) -> dict:
    return {"version": "1.3.0", "metricType": "Raw", "monitoringType": "LTM", "mtms": mtms(system),
            "name": xml.text(system.element, "SystemName", "")}  # fmt: skip


def mtms(system: Record) -> str:
    base = "MachineTypeModelAndSerialNumber/"
    return (f"{xml.text(system.element, base + 'MachineType', '')}-{xml.text(system.element, base + 'Model', '')}"
            f"*{xml.text(system.element, base + 'SerialNumber', '')}")  # fmt: skip

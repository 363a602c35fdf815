"""The optional ``pcm`` mapping of a client LPAR in a topology file: how busy the partition is.

    lpars:
      - name: web-01
        id: 4
        pcm: {cpu_fraction: 0.5, rx_bytes_per_s: 20000, tx_bytes_per_s: 4000, read_bytes_per_s: 65536,
              write_bytes_per_s: 16384, memory_fraction: 0.6}

``cpu_fraction`` (0..1) of the processing units is used while running; every client adapter receives
``rx_bytes_per_s`` and sends ``tx_bytes_per_s``; every vSCSI adapter pair reads ``read_bytes_per_s``
and writes ``write_bytes_per_s``; the OS uses ``memory_fraction`` (0..1) of the memory (reported
through RMC, so only while RMC is active). Omitted keys keep ``model.pcm.Rates``' defaults. The
rates are stored as one simulator-private ``SimulatorPcmRates`` object per partition (never served:
no REST kind has that name), which ``model.pcm.rates_of`` reads.
"""

from __future__ import annotations

import dataclasses

from lxml import etree

from powervm_openstack.simulator.build import Partition, derive_uuid
from powervm_openstack.simulator.model.pcm import RATES_KIND, Rates
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.topology.fields import Fields

_KEYS = ("cpu_fraction", "rx_bytes_per_s", "tx_bytes_per_s", "read_bytes_per_s", "write_bytes_per_s", "memory_fraction")


def parse_rates(f: Fields) -> dict[str, float] | None:
    """The validated ``pcm`` mapping of one LPAR, or None when it has none."""
    if f.raw("pcm", None) is None:
        return None
    pcm = Fields(f.raw("pcm"), f.at("pcm"), _KEYS)
    default = Rates()
    rates = {key: pcm.number(key, getattr(default, key), lo=0.0, hi=1.0) for key in ("cpu_fraction", "memory_fraction")}
    for key in ("rx_bytes_per_s", "tx_bytes_per_s", "read_bytes_per_s", "write_bytes_per_s"):
        rates[key] = pcm.whole(key, getattr(default, key), lo=0, hi=10**11)
    return rates


def rates_record(part: Partition) -> Record:
    """The private record holding one partition's rates."""
    elem = etree.Element(RATES_KIND)
    for key, value in dataclasses.asdict(Rates(**(part.pcm or {}))).items():
        elem.set(key, repr(value))
    return Record(RATES_KIND, rates_uuid(part.uuid), elem)


def rates_uuid(part_uuid: str) -> str:
    return derive_uuid(RATES_KIND, part_uuid.lower())

"""Counter arithmetic and the inspector on the captured PCM samples (phyp_pcm_data3 -> phyp_pcm_data)."""

from __future__ import annotations

import pytest

pytest.importorskip("ceilometer")

from ceilometer.compute.virt import inspector as virt  # noqa: E402

from powervm_openstack.telemetry import counters  # noqa: E402
from powervm_openstack.telemetry.host_cpu import HostCpuCounters  # noqa: E402
from powervm_openstack.telemetry.inspector import PowerVMInspector  # noqa: E402
from tests.fixtures.pcm import sample  # noqa: E402

UBUNTU = "42ad4fd4-dc64-4935-9e29-9b7c6f35afcc"  # Ubuntu1410 in the captures, "Open Firmware"
OFF = "3b0237f9-26f1-41c7-be57-a08c9452ad9d"  # fake_npiv, "Not Activated"


class _Instance:
    def __init__(self, uuid: str) -> None:
        self.id = uuid


def test_delta_wrap_reset_and_missing() -> None:
    assert counters.delta(2**64 - 10, 5) == 15  # 64-bit wrap
    assert counters.delta(1000, 10) == 10  # restart: counts from zero again
    assert counters.delta(None, 10) is None
    assert counters.rate(100, 400, 30) == 10.0
    assert counters.rate(100, 400, 0) is None


def test_cycles_to_ns_uses_the_sample_cycle_rate() -> None:
    assert counters.cycles_to_ns(512_000_000, 512_000_000) == 1_000_000_000
    with pytest.raises(ValueError, match="procCyclesPerSecond"):
        counters.cycles_to_ns(1, 0)


def _inspector(prev, cur) -> PowerVMInspector:
    insp = PowerVMInspector(conf=None, adapter=object(), host_uuid="host")
    insp.ltm.previous, insp.ltm.current = prev, cur
    insp._macs[UBUNTU.upper()] = {"U8247.22L.2125D4A-V2-C2": "fa:16:3e:00:00:01"}
    return insp


def test_instance_cpu_in_ns_and_vcpus() -> None:
    insp = _inspector(sample("phyp_pcm_data3.txt"), sample("phyp_pcm_data.txt", seconds=30))
    stats = insp.inspect_instance(_Instance(UBUNTU))
    assert stats.cpu_time == (264619289721 + 641419282) * 10**9 // 512_000_000
    assert stats.cpu_number == 4


def test_off_partition_is_shut_off_and_unknown_is_not_found() -> None:
    insp = _inspector(None, sample("phyp_pcm_data.txt"))
    with pytest.raises(virt.InstanceShutOffException):
        insp.inspect_instance(_Instance(OFF))
    with pytest.raises(virt.InstanceNotFoundException):
        insp.inspect_instance(_Instance("00000000-0000-0000-0000-000000000001"))


def test_vnic_counters_matched_by_mac_and_rates_from_two_samples() -> None:
    insp = _inspector(sample("phyp_pcm_data3.txt"), sample("phyp_pcm_data.txt", seconds=30))
    (nic,) = insp.inspect_vnics(_Instance(UBUNTU))
    assert (nic.mac, nic.rx_bytes, nic.tx_bytes, nic.rx_packets, nic.rx_drop) == (
        "fa:16:3e:00:00:01",
        10000,
        100,
        10,
        5,
    )
    (rate,) = insp.inspect_vnic_rates(_Instance(UBUNTU))
    assert rate.rx_bytes_rate == 0.0  # same counter in both captures


def test_one_sample_partition_yields_counters_but_no_rates() -> None:
    insp = _inspector(None, sample("phyp_pcm_data.txt"))
    assert insp.inspect_instance(_Instance(UBUNTU)).cpu_time > 0
    assert len(insp.inspect_vnics(_Instance(UBUNTU))) == 1
    assert insp.inspect_vnic_rates(_Instance(UBUNTU)) == []


def test_disks_from_the_vios_sample_and_missing_vios_sample() -> None:
    (disk,) = _inspector(None, sample("phyp_pcm_data2.txt")).inspect_disks(_Instance(UBUNTU))
    assert (disk.device, disk.read_bytes, disk.read_requests, disk.write_bytes, disk.write_requests) == (
        "vhost0", 549888, 1074, 550400, 1075)  # fmt: skip
    assert _inspector(None, sample("phyp_pcm_data2.txt", vioses=())).inspect_disks(_Instance(UBUNTU)) == []


def test_host_cpu_accumulates_and_skips_migrated_partitions() -> None:
    host = HostCpuCounters(adapter=object(), host_uuid="host")
    prev, cur = sample("phyp_pcm_data3.txt"), sample("phyp_pcm_data.txt", seconds=30)
    host._add(None, prev)
    host._add(prev, cur)
    # Ubuntu1410 and the VIOS moved 10,010,000,000 busy cycles each; the partitions whose previous
    # entry was all zeros (fake_npiv) or that did not exist in the previous sample count nothing.
    busy = (264619289721 + 641419282) - (254619289721 + 631419282)
    vios = (334805782979 + 219847016046 - 260430293020) - (324805782979 + 209847016046 - 250430293020)
    others = 3 * 0  # kh4/fkh4/placeholder went from 15000 to 0 busy cycles: a restart, counted as 0
    assert host.user == busy + vios + others
    first = host.user
    host._add(cur, cur)
    assert host.user == first  # the same sample twice adds nothing


def test_memory_usage_from_the_rmc_lpar_file() -> None:
    insp = _inspector(None, sample("phyp_pcm_data.txt", lpars="lpar_pcm_data.txt"))
    # Ubuntu1410: logicalMem 20480 MB in the PHYP sample, pctRealMemAvbl 80 in the LPAR file
    assert insp.inspect_instance(_Instance(UBUNTU)).memory_usage == 4096
    assert counters.used_mib(4096, 100) == 0 and counters.used_mib(4096, 150) == 0


def test_memory_usage_is_not_available_without_rmc_data() -> None:
    assert _inspector(None, sample("phyp_pcm_data.txt")).inspect_instance(_Instance(UBUNTU)).memory_usage is None
    rmc = sample("phyp_pcm_data.txt", lpars="lpar_pcm_data.txt")
    # an error entry (here 6001, not running; 6003 is RMC inactive) carries pypowervm's guesses, no size
    assert rmc.memory(OFF).memory.pct_real_mem_free == 100 and rmc.memory(OFF).memory.real_mem_size_bytes is None

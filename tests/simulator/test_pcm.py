"""The simulator's PCM endpoints, read with pypowervm's own monitor code and wrappers."""

from __future__ import annotations

import time

import pytest
from pypowervm.tasks import power
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import storage as pvm_stg
from pypowervm.tasks.monitor import util as pcm_util
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import monitor as pvm_mon

from powervm_openstack.simulator.model import pcm as model
from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


@pytest.fixture
def sim():
    with running_simulator() as server:
        with server.app.store.transaction() as txn:
            txn.set_meta("pcm.interval", "1")
        adapter = connect(server)
        try:
            yield server, adapter, pvm_ms.System.get(adapter)[0].uuid
        finally:
            disconnect(adapter)


def _wait_sample(adapter, host, after: float) -> None:
    while time.time() < after:
        time.sleep(0.1)


def test_monitoring_off_until_switched_on(sim) -> None:
    _, adapter, host = sim
    pref = pvm_mon.PcmPref.wrap(adapter.read(pvm_ms.System.schema_type, host, pvm_mon.PREFERENCES,
                                             service=pvm_mon.PCM_SERVICE))[0]  # fmt: skip
    assert pref.ltm_enabled is False
    assert pcm_util.query_ltm_feed(adapter, host) == []
    pcm_util.ensure_ltm_monitors(adapter, host)
    time.sleep(1.1)
    feed = pcm_util.query_ltm_feed(adapter, host)
    assert {m.category for m in feed} >= {"phyp", "vios_2"}


def test_counters_move_with_rates_and_reset_on_restart(sim) -> None:
    server, adapter, host = sim
    pcm_util.ensure_ltm_monitors(adapter, host)
    lpar = next(p for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition and p.state == "running")
    with server.app.store.transaction() as txn:
        model.set_rates(txn, lpar.uuid, model.Rates(rx_bytes_per_s=10_000, tx_bytes_per_s=2_000))
    time.sleep(2.2)
    _, phyp1, vioses, _ = pcm_util.latest_stats(adapter, host)
    time.sleep(1.1)
    _, phyp2, _, _ = pcm_util.latest_stats(adapter, host)
    metrics1 = pcm_util.vm_metrics(phyp1, vioses, None)[lpar.uuid.upper()]
    metrics2 = pcm_util.vm_metrics(phyp2, vioses, None)[lpar.uuid.upper()]
    assert metrics2.processor.util_cap_proc_cycles > metrics1.processor.util_cap_proc_cycles > 0
    cna1, cna2 = metrics1.network.cnas[0], metrics2.network.cnas[0]
    seconds = (phyp2.sample.time_based_cycles - phyp1.sample.time_based_cycles) / model.CYCLES_PER_SECOND
    assert cna2.received_bytes - cna1.received_bytes == pytest.approx(10_000 * seconds, abs=1)
    assert cna2.sent_bytes - cna1.sent_bytes == pytest.approx(2_000 * seconds, abs=1)
    power.power_off(lpar, host, force_immediate=True)
    lpar = lpar.refresh()
    power.power_on(lpar, host)
    time.sleep(1.1)
    _, phyp3, _, _ = pcm_util.latest_stats(adapter, host)
    cna3 = pcm_util.vm_metrics(phyp3, vioses, None)[lpar.uuid.upper()].network.cnas[0]
    assert cna3.received_bytes < cna2.received_bytes  # counted from the new activation


def _running_lpars(adapter) -> list:
    return [p for p in pvm_lpar.LPAR.get(adapter) if not p.is_mgmt_partition and p.state == "running"]


def test_vscsi_disks_move_in_the_vios_samples(sim) -> None:
    server, adapter, host = sim
    pcm_util.ensure_ltm_monitors(adapter, host)
    lpar = _running_lpars(adapter)[0]
    vios, vg = pvm_stg.find_vg(adapter, "datavg")
    disk = pvm_stg.crt_vdisk(adapter, vios.uuid, vg.uuid, "pcm_disk", 1)
    pvm_smap.add_vscsi_mapping(None, vios.uuid, lpar.uuid, disk)
    with server.app.store.transaction() as txn:
        model.set_rates(txn, lpar.uuid, model.Rates(read_bytes_per_s=40_960, write_bytes_per_s=8192))
    time.sleep(1.1)
    _, phyp1, vioses1, _ = pcm_util.latest_stats(adapter, host)
    time.sleep(2.1)
    _, phyp2, vioses2, _ = pcm_util.latest_stats(adapter, host)
    (a1,) = pcm_util.vm_metrics(phyp1, vioses1, None)[lpar.uuid.upper()].storage.virt_adpts
    (a2,) = pcm_util.vm_metrics(phyp2, vioses2, None)[lpar.uuid.upper()].storage.virt_adpts
    seconds = (phyp2.sample.time_based_cycles - phyp1.sample.time_based_cycles) / model.CYCLES_PER_SECOND
    assert a1.name.startswith("vhost") and a1.physical_location.endswith(
        f"-V{vios.id}-C{a1.physical_location.rsplit('-C', 1)[1]}"
    )
    assert a2.read_bytes - a1.read_bytes == pytest.approx(40_960 * seconds, abs=1)
    assert a2.write_bytes - a1.write_bytes == pytest.approx(8192 * seconds, abs=1)
    assert a2.num_reads == a2.read_bytes // 4096
    other = next(p for p in _running_lpars(adapter) if p.uuid != lpar.uuid)
    assert pcm_util.vm_metrics(phyp2, vioses2, None)[other.uuid.upper()].storage is None  # no vSCSI mapping


def test_lpar_files_report_memory_only_with_active_rmc(sim) -> None:
    server, adapter, host = sim
    pcm_util.ensure_ltm_monitors(adapter, host)
    time.sleep(4.2)  # one LPAR file every 4 samples
    feed = pcm_util.query_ltm_feed(adapter, host)
    assert "lpar" in {m.category for m in feed}
    info = pcm_util.get_lpar_metrics(feed, adapter)
    for part in pvm_lpar.LPAR.get(adapter):
        entry = info.find(part.uuid.upper())
        if part.is_mgmt_partition:
            assert entry is None
        elif part.state == "running" and part.rmc_state == "active":
            assert entry.memory.real_mem_size_bytes == part.mem_config.desired * 2**20
            assert entry.memory.pct_real_mem_avbl == 60  # the default memory_fraction 0.4
        else:  # off (6001) or RMC inactive (6003): pypowervm's stand-in values, no size
            assert entry.memory.real_mem_size_bytes is None


def test_rates_from_the_topology_and_bad_values() -> None:
    import yaml

    from powervm_openstack.simulator.topology import loader as topology

    data = yaml.safe_load(topology.DEFAULT.read_text())
    data["lpars"][0]["pcm"] = {"rx_bytes_per_s": 7000, "cpu_fraction": 0.5}
    records = topology.records(topology.parse(data))
    with running_simulator(records=records) as server:
        uuid = topology.parse(data).lpars[1].uuid  # lpars[0] of the model is the management partition
        with server.app.store.transaction() as txn:
            rates = model.rates_of(txn, uuid)
        assert (rates.rx_bytes_per_s, rates.cpu_fraction, rates.tx_bytes_per_s) == (7000, 0.5, 500)
    data["lpars"][0]["pcm"] = {"rx_bytes_per_s": -1}
    with pytest.raises(topology.TopologyError, match=r"lpars\[0\]\.pcm\.rx_bytes_per_s"):
        topology.parse(data)
    data["lpars"][0]["pcm"] = {"rx_byte": 1}
    with pytest.raises(topology.TopologyError, match="unknown key 'rx_byte'"):
        topology.parse(data)


def test_admin_sets_the_interval_and_a_partition_rates(sim) -> None:
    import json
    import urllib.error
    import urllib.request

    server, adapter, _ = sim
    base = f"http://127.0.0.1:{server.port}/sim/pcm"

    def put(url: str, body: object) -> dict:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
        return json.loads(urllib.request.urlopen(req, timeout=10).read())

    assert put(base, {"interval": 5})["interval"] == 5
    lpar = _running_lpars(adapter)[0]
    assert put(f"{base}/rates/{lpar.uuid}", {"read_bytes_per_s": 123})["read_bytes_per_s"] == 123
    with server.app.store.transaction() as txn:
        assert model.rates_of(txn, lpar.uuid).read_bytes_per_s == 123
    with pytest.raises(urllib.error.HTTPError) as bad:
        put(base, {"interval": 0})
    assert bad.value.code == 400 and "interval 0" in bad.value.read().decode()


def test_lpar_metric_cache_keeps_the_latest_and_previous_sample(sim) -> None:
    """``tasks.monitor.util.LparMetricCache``, as nova-powervm's instance statistics read it."""
    server, adapter, host = sim
    pcm_util.ensure_ltm_monitors(adapter, host)
    lpar = _running_lpars(adapter)[0]
    with server.app.store.transaction() as txn:
        model.set_rates(txn, lpar.uuid, model.Rates(rx_bytes_per_s=10_000, tx_bytes_per_s=2_000))
    time.sleep(2.2)
    cache = pcm_util.LparMetricCache(adapter, host, refresh_delta=1)
    first_date, first = cache.get_latest_metric(lpar.uuid.upper())
    assert first_date is not None and first.network is not None
    time.sleep(1.2)
    second_date, second = cache.get_latest_metric(lpar.uuid.upper())
    assert second_date > first_date
    assert cache.get_previous_metric(lpar.uuid.upper())[0] == first_date
    rx = [sum(a.received_bytes for a in m.network.cnas) for m in (first, second)]
    assert rx[1] > rx[0], "the counters moved between the two samples"
    assert cache.get_latest_metric("0" * 8 + "-0000-0000-0000-" + "0" * 12)[1] is None

"""The simulator's PCM endpoints, read with pypowervm's own monitor code and wrappers."""

from __future__ import annotations

import time

import pytest
from pypowervm.tasks import power
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

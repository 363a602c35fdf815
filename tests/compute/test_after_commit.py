"""The compute driver's partition and adapter changes when PowerVM commits a change but the reply is lost.

The simulator's after-commit faults (``when: after``: a dropped connection, a 5xx or "VIOS busy"
once the change is stored) stand for a reply lost on the way back. The driver's create, delete,
plug and unplug must converge: one partition, one adapter per port, nothing left behind and
nothing lost. A fault before the commit must be retried, not taken for success.
"""

from __future__ import annotations

import types
import uuid

import pytest
import requests
from nova import objects
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net

from powervm_openstack.compute import committed, partition_spec, vm
from powervm_openstack.compute.vif import mgmt, sea
from powervm_openstack.pvm import vif_event
from tests.fixtures.simulator import new_lpar

pytestmark = pytest.mark.integration

LOST_REPLIES = [
    {"kind": "drop", "when": "after"},
    {"kind": "server_error", "status": 503, "when": "after"},
    {"kind": "vios_busy", "when": "after"},
]
REFUSED_ONCE = [{"kind": "server_error", "status": 500, "when": "before"}, {"kind": "drop", "when": "before"}]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch, sim):
    monkeypatch.setattr(committed, "DELAY_S", 0.05)
    yield
    requests.delete(f"{sim.url}/sim/faults", timeout=10).raise_for_status()


def fault(sim, method: str, path: str, rule: dict) -> None:
    body = {**rule, "method": method, "path": path, "count": 1}
    requests.post(f"{sim.url}/sim/faults", json=body, timeout=10).raise_for_status()


def fired(sim) -> int:
    return sum(r["fired"] for r in requests.get(f"{sim.url}/sim/faults", timeout=10).json()["rules"])


def _instance() -> types.SimpleNamespace:
    flavor = types.SimpleNamespace(vcpus=1, memory_mb=1024, extra_specs={})
    objects.register_all()
    image_meta = objects.ImageMeta.from_dict({"properties": {}})  # not IBM i: an AIX/Linux partition
    return types.SimpleNamespace(uuid=str(uuid.uuid4()), name=f"inst-{uuid.uuid4().hex[:6]}", flavor=flavor,
                                 image_meta=image_meta)  # fmt: skip


def _named(adapter, name: str) -> list:
    return [p for p in pvm_lpar.LPAR.get(adapter) if p.name == name]


@pytest.mark.parametrize("rule", LOST_REPLIES + REFUSED_ONCE, ids=lambda r: f"{r['kind']}-{r['when']}")
def test_create_and_delete_partition_converge(sim, adapter, rule):
    instance = _instance()
    host = pvm_ms.System.get(adapter)[0]
    fault(sim, "PUT", r"/LogicalPartition$", rule)
    lpar = vm.create(adapter, host, instance, instance.flavor, partition_spec.Defaults())
    assert fired(sim) == 1
    (only,) = _named(adapter, vm.partition_name(instance))
    assert only.uuid.upper() == lpar.uuid.upper() == vm.pvm_uuid_of(instance), "one partition, the instance's"

    fault(sim, "DELETE", r"/LogicalPartition/", rule)
    vm.delete(adapter, instance)
    assert not _named(adapter, vm.partition_name(instance)), "the partition is gone"


@pytest.mark.parametrize("rule", LOST_REPLIES + REFUSED_ONCE, ids=lambda r: f"{r['kind']}-{r['when']}")
def test_sea_plug_and_unplug_converge(sim, adapter, rule):
    lpar = new_lpar(adapter, "ac")
    vif = {"id": str(uuid.uuid4()), "address": "fa:16:3e:ac:00:01", "type": "pvm_sea", "details": {"vlan": "1700"}}
    driver = sea.SeaVifDriver(adapter, None)
    fault(sim, "PUT", r"/ClientNetworkAdapter$", rule)
    driver.plug(lpar.uuid, vif)
    assert fired(sim) == 1
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    assert vif_event.norm_mac(cna.mac) == vif["address"] and cna.pvid == 1700, "one adapter, the port's"

    fault(sim, "DELETE", r"/ClientNetworkAdapter/", rule)
    assert driver.unplug(lpar.uuid, vif)
    assert not pvm_net.CNA.get(adapter, parent=lpar), "the adapter is gone"


@pytest.mark.parametrize("rule", LOST_REPLIES, ids=lambda r: r["kind"])
def test_rmc_management_adapter_is_added_once(sim, adapter, rule):
    lpar = new_lpar(adapter, "acm")
    fault(sim, "PUT", r"/ClientNetworkAdapter$", rule)
    href = mgmt.plug(adapter, adapter.sys_uuid, lpar.uuid)
    (cna,) = pvm_net.CNA.get(adapter, parent=lpar)
    assert cna.uuid in href and cna.pvid == mgmt.VLAN


def test_a_refusal_is_not_retried(sim, adapter):
    from nova import exception as nova_exc

    lpar = new_lpar(adapter, "acr")
    since = sim.store.last_change_id()
    # web-01 already has this MAC: PowerVM refuses (400), which no retry would change
    vif = {"id": str(uuid.uuid4()), "address": "fa:1e:0b:2c:3d:04", "type": "pvm_sea", "details": {"vlan": "1701"}}
    with pytest.raises(nova_exc.VirtualInterfaceCreateException, match="already used"):
        sea.SeaVifDriver(adapter, None).plug(lpar.uuid, vif)
    assert not pvm_net.CNA.get(adapter, parent=lpar)
    assert not sim.store.changes_since(since), "nothing was changed"

"""The simulator's partition rules, driven over HTTP by the real pypowervm (what the compute driver meets)."""

from __future__ import annotations

import uuid

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import power as pvm_power
from pypowervm.utils import lpar_builder as lb
from pypowervm.utils import uuid as pvm_uuid
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms

from tests.fixtures.simulator import connect, disconnect, running_simulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def adapter():
    with running_simulator() as sim:
        adpt = connect(sim)
        yield adpt
        disconnect(adpt)


def _system(adapter):
    return pvm_ms.System.get(adapter)[0]


def _build(adapter, **attrs):
    attrs.setdefault("name", f"t-{uuid.uuid4().hex[:8]}")
    attrs.setdefault("memory", 2048)
    attrs.setdefault("vcpu", 2)
    attrs.setdefault("uuid", pvm_uuid.convert_uuid_to_pvm(str(uuid.uuid4())).upper())
    std = lb.DefaultStandardize(_system(adapter), proc_units_factor=0.1)
    return lb.LPARBuilder(adapter, attrs, std).build()


def _create(adapter, **attrs):
    return _build(adapter, **attrs).create(parent=_system(adapter))


def test_create_assigns_id_state_and_keeps_the_requested_uuid(adapter):
    wanted = pvm_uuid.convert_uuid_to_pvm(str(uuid.uuid4())).upper()
    lpar = _create(adapter, uuid=wanted)
    assert lpar.uuid == wanted
    assert lpar.state == "not activated"
    assert lpar.id >= 7  # the default topology uses partition ids 1-6
    assert lpar.mem_config.desired == 2048 and lpar.proc_config.shared_proc_cfg.desired_virtual == 2
    fetched = pvm_lpar.LPAR.get(adapter, uuid=wanted)
    assert fetched.name == lpar.name and fetched.rmc_state == "inactive"


def test_name_with_a_forbidden_character_is_refused(adapter):
    with pytest.raises(pvm_exc.HttpError) as err:
        _create(adapter, name="bad(name)")
    assert "Partition name 'bad(name)' contains '('" in err.value.her_wrap.message


def test_uuid_with_the_first_bit_set_is_refused(adapter):
    lpar = _build(adapter)
    bad = "F" + lpar.uuid[1:]
    for node in lpar.element.element.iter():
        if node.text == lpar.uuid:
            node.text = bad
    with pytest.raises(pvm_exc.HttpError) as err:
        lpar.create(parent=_system(adapter))
    assert f"PartitionUUID {bad} is not valid for PowerVM: the first bit must be 0" in err.value.her_wrap.message


def test_memory_must_be_a_region_multiple(adapter):
    lpar = _build(adapter)
    lpar.mem_config.desired = 2000
    with pytest.raises(pvm_exc.HttpError) as err:
        lpar.create(parent=_system(adapter))
    assert "DesiredMemory 2000 MB is not a positive multiple of the memory region size 256 MB" in (
        err.value.her_wrap.message
    )


def test_duplicate_name_is_refused(adapter):
    lpar = _create(adapter)
    with pytest.raises(pvm_exc.HttpError) as err:
        _create(adapter, name=lpar.name)
    assert f"Partition name {lpar.name!r} is already used" in err.value.her_wrap.message


def test_power_on_takes_memory_and_delete_needs_power_off(adapter):
    before = _system(adapter).memory_free
    lpar = _create(adapter, memory=4096)
    pvm_power.power_on(lpar, None)
    assert _system(adapter).memory_free == before - 4096
    with pytest.raises(pvm_exc.HttpError) as err:
        lpar.refresh().delete()
    assert "power it off before deleting it" in err.value.her_wrap.message
    pvm_power.PowerOp.stop(lpar, opts=None)
    assert _system(adapter).memory_free == before
    lpar.refresh().delete()
    assert not [p for p in pvm_lpar.LPAR.get(adapter) if p.uuid == lpar.uuid]


def test_power_on_refused_without_enough_memory(adapter):
    lpar = _create(adapter, memory=256 * 1024 - 256)
    with pytest.raises(pvm_exc.VMPowerOnFailure) as err:
        pvm_power.power_on(lpar, None)
    assert "HSCL0DB6" in str(err.value) and "needs 261888 MB of memory" in str(err.value)
    lpar.delete()

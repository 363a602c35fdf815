"""pypowervm 1.1.27's remaining partition jobs, live adapter adds and collection quick properties.

The third part of ``test_pypowervm_library`` (whose docstring lists everything covered and what is
left out on purpose): pypowervm called over HTTP, every outcome read back with a fresh GET.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import ibmi as pvm_ibmi
from pypowervm.tasks import master_mode as pvm_master
from pypowervm.tasks import partition as pvm_partition
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import job as pvm_job
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader as topology
from tests.fixtures.simulator import (
    connect,
    connected_simulator,
    default_topology_with,
    disconnect,
    new_lpar,
    running_simulator,
)

pytestmark = pytest.mark.integration


def _lpar(adapter, name: str) -> pvm_lpar.LPAR:
    return pvm_lpar.LPAR.search(adapter, one_result=True, name=name)


# -- crt_cna: a live add needs RMC ------------------------------------------------------------------------
def test_crt_cna_on_a_running_partition_needs_rmc(host):
    batch = _lpar(host, "aix-batch")
    assert (batch.state, batch.rmc_state) == ("running", "inactive")
    before = len(pvm_net.CNA.get(host, parent=batch))
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_cna.crt_cna(host, None, batch.uuid, 1500)
    assert err.value.response.status == 409 and "HSCL294C" in err.value.response.body
    assert "RMC connection is inactive" in err.value.response.body
    assert len(pvm_net.CNA.get(host, parent=_lpar(host, "aix-batch"))) == before, "nothing was added"

    web, db = _lpar(host, "web-01"), _lpar(host, "db-01")  # running with RMC; stopped
    for part in (web, db):
        cna = pvm_cna.crt_cna(host, None, part.uuid, 1500)
        assert pvm_net.CNA.get(host, parent=part, uuid=cna.uuid).pvid == 1500
    pvm_power.power_off(batch, None, force_immediate=pvm_power.Force.TRUE)
    cna = pvm_cna.crt_cna(host, None, batch.uuid, 1501)  # stopped now: an offline add
    assert pvm_net.CNA.get(host, parent=batch, uuid=cna.uuid).pvid == 1501


# -- CloneUUID, the IBM i panel, master mode --------------------------------------------------------------
def test_clone_uuid_gives_the_surrogate_the_original_uuid(host):
    original, surrogate = new_lpar(host, "orig"), new_lpar(host, "surr")
    pvm_cna.crt_cna(host, None, original.uuid, 1600)
    kept = pvm_cna.crt_cna(host, None, surrogate.uuid, 1601)
    pvm_partition.clone_uuid(host, original.uuid, surrogate.name)

    fresh = pvm_lpar.LPAR.get(host, uuid=original.uuid)
    assert (fresh.name, fresh.id, fresh.partition_uuid.upper()) == (surrogate.name, surrogate.id, original.uuid.upper())
    names = [p.name for p in pvm_lpar.LPAR.get(host)]
    assert original.name not in names and names.count(surrogate.name) == 1
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_lpar.LPAR.get(host, uuid=surrogate.uuid)
    assert err.value.response.status == 404
    adapters = pvm_net.CNA.get(host, parent=fresh)
    assert [(a.uuid, a.pvid) for a in adapters] == [(kept.uuid, 1601)], "the surrogate's adapters follow it"


def test_clone_uuid_refusals(host):
    web, stopped = _lpar(host, "web-01"), new_lpar(host, "surr")
    with pytest.raises(pvm_exc.JobRequestFailed, match="running; power it off"):
        pvm_partition.clone_uuid(host, web.uuid, stopped.name)
    with pytest.raises(pvm_exc.JobRequestFailed, match="no LogicalPartition is named"):
        pvm_partition.clone_uuid(host, stopped.uuid, "no-such-partition")
    assert {p.name for p in pvm_lpar.LPAR.get(host)} >= {"web-01", stopped.name}, "a refused job changes nothing"


def test_ibmi_panel_function(tmp_path):
    with connected_simulator(
        default_topology_with(
            tmp_path,
            [{"name": "ibmi-01", "id": 9, "os": "ibmi", "state": "running", "rmc_state": "active"}],
            "ibmi.yaml",
        )
    ) as (sim, adapter):
        ibmi, web = _lpar(adapter, "ibmi-01"), _lpar(adapter, "web-01")
        pvm_ibmi.start_panel_job(ibmi, pvm_ibmi.IBMiPanelOperations.DSTON)
        with pytest.raises(pvm_exc.PartitionIsNotIBMi):
            pvm_ibmi.start_panel_job(web, pvm_ibmi.IBMiPanelOperations.DSTON)  # pypowervm's own check
        job = pvm_job.Job.wrap(adapter.read(web.schema_type, web.uuid, suffix_type="do", suffix_parm="PanelFunction"))
        with pytest.raises(pvm_exc.JobRequestFailed, match="PanelFunction is for IBM i"):
            job.run_job(web.uuid, job_parms=[pvm_job.Job.create_job_parameter("operation", "dston")])


def test_master_mode(host):
    system = pvm_ms.System.get(host)[0]
    pvm_master.release_master(system)
    assert pvm_ms.System.get(host)[0].session_is_master is False
    pvm_master.request_master(system, mode=pvm_master.MasterMode.TEMP)
    assert pvm_ms.System.get(host)[0].session_is_master is True


# -- quick properties of a whole collection ---------------------------------------------------------------
def test_collection_quick_properties(host):
    def read(**kwargs):
        return host.read(pvm_lpar.LPAR.schema_type, suffix_type="quick", **kwargs)

    every = json.loads(read(suffix_parm="All").body)
    by_uuid = {p["UUID"].upper(): p for p in every}
    partitions = pvm_lpar.LPAR.get(host)
    assert set(by_uuid) == {p.uuid.upper() for p in partitions}
    web = next(p for p in partitions if p.name == "web-01")
    assert by_uuid[web.uuid.upper()]["PartitionState"] == "running"
    assert by_uuid[web.uuid.upper()]["CurrentMemory"] == 4096
    one = json.loads(
        host.read(pvm_lpar.LPAR.schema_type, root_id=web.uuid, suffix_type="quick", suffix_parm="All").body
    )
    assert one == {k: v for k, v in by_uuid[web.uuid.upper()].items() if k != "UUID"}

    system = pvm_ms.System.get(host)[0]
    under = host.read(pvm_ms.System.schema_type, root_id=system.uuid, child_type=pvm_lpar.LPAR.schema_type,
                      suffix_type="quick", suffix_parm="All")  # fmt: skip
    assert {p["UUID"].upper() for p in json.loads(under.body)} == set(by_uuid)

    with pytest.raises(pvm_exc.HttpError) as err:  # one property of one object only
        read(suffix_parm="PartitionState")
    assert err.value.response.status == 404


def test_update_ibmi_settings_tags_the_lowest_client_slots(tmp_path):
    data = yaml.safe_load((Path(topology.TOPOLOGIES) / "default.yaml").read_text())
    data["lpars"].append({"name": "ibmi-02", "id": 9, "os": "ibmi", "state": "not activated"})
    path = tmp_path / "ibmi.yaml"
    path.write_text(yaml.safe_dump(data))
    with running_simulator(topology=str(path)) as sim:
        adapter = connect(sim)
        try:
            ibmi = _lpar(adapter, "ibmi-02")
            with pytest.raises(pvm_exc.IBMiLoadSourceNotFound):
                pvm_ibmi.update_ibmi_settings(adapter, ibmi, pvm_lpar.BootStorageType.VSCSI)
            tier = pvm_stg.default_tier_for_ssp(pvm_stor.SSP.get(adapter)[0])
            _, lu = pvm_stg.crt_lu(tier, "ibmi_boot", 10, thin=True)
            vioses = sorted(pvm_vios.VIOS.get(adapter), key=lambda v: v.name)
            for vios, slot in zip(vioses, (12, 7)):
                pvm_smap.add_vscsi_mapping(None, vios.uuid, ibmi.uuid, pvm_stor.LU.bld_ref(adapter, lu.name, lu.udid),
                                           lpar_slot_num=slot)  # fmt: skip
            ibmi = _lpar(adapter, "ibmi-02")
            pvm_ibmi.update_ibmi_settings(adapter, ibmi, pvm_lpar.BootStorageType.VSCSI).update()
            fresh = _lpar(adapter, "ibmi-02")
            tagged = fresh.io_config.tagged_io
            assert (tagged.load_src, tagged.alt_load_src, tagged.console) == ("7", "12", "HMC")
            assert (fresh.desig_ipl_src, fresh.keylock_pos) == (pvm_lpar.IPLSrc.B, "normal")
            pvm_power.power_on(fresh, None)  # the load source is a mapped client slot: the IPL starts
            assert _lpar(adapter, "ibmi-02").state == "running"
        finally:
            disconnect(adapter)

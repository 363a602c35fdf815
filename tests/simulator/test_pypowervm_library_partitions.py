"""pypowervm 1.1.27's partition, job, search and transaction tasks against the simulator.

The second half of ``test_pypowervm_library`` (whose docstring lists everything covered and what is
left out on purpose): same method, pypowervm called over HTTP, every outcome read back with a
fresh GET.
"""

from __future__ import annotations

import json

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import management_console as pvm_mc_task
from pypowervm.tasks import memory as pvm_memory
from pypowervm.tasks import partition as pvm_partition
from pypowervm.tasks import power as pvm_power
from pypowervm.tasks import power_opts as pvm_popts
from pypowervm.tasks import vterm as pvm_vterm
from pypowervm.utils import transaction as pvm_tx
from pypowervm.utils import validation as pvm_vldn
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import managed_system as pvm_ms
from pypowervm.wrappers import management_console as pvm_mc
from pypowervm.wrappers import network as pvm_net
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.fixtures.simulator import new_lpar

pytestmark = pytest.mark.integration


# -- partitions: RMC follows the power state; DLPAR moves current values and the system's pools --------
_CUR_UNITS = "PartitionProcessorConfiguration/CurrentSharedProcessorConfiguration/CurrentProcessingUnits"
_CUR_VPS = "PartitionProcessorConfiguration/CurrentSharedProcessorConfiguration/AllocatedVirtualProcessors"


def _lpar(adapter, name: str) -> pvm_lpar.LPAR:
    return pvm_lpar.LPAR.search(adapter, one_result=True, name=name)


def _free(adapter) -> tuple[int, float]:
    system = pvm_ms.System.get(adapter)[0]
    return system.memory_free, system.proc_units_avail


def test_rmc_follows_os_shutdown_power_on_and_a_powered_off_vios(host):
    web = _lpar(host, "web-01")
    assert (web.state, web.rmc_state, web.capabilities.mem_dlpar) == ("running", "active", True)
    assert pvm_popts.PowerOffOpts.can_os_shutdown(web)
    pvm_power.PowerOp.stop(web, opts=pvm_popts.PowerOffOpts().os_normal())
    web = _lpar(host, "web-01")
    assert (web.state, web.rmc_state, web.capabilities.mem_dlpar, web.capabilities.proc_dlpar) == (
        "not activated", "inactive", False, False)  # fmt: skip
    assert not pvm_popts.PowerOffOpts.can_os_shutdown(web)
    pvm_power.power_on(web, None)
    web = _lpar(host, "web-01")
    assert (web.state, web.rmc_state, web.capabilities.mem_dlpar) == ("running", "active", True)

    vios = pvm_vios.VIOS.search(host, one_result=True, name="vios2")
    pvm_power.PowerOp.stop(vios, opts=pvm_popts.PowerOffOpts().vsp_hard())
    vios = pvm_vios.VIOS.search(host, one_result=True, name="vios2")
    assert (vios.state, vios.rmc_state) == ("not activated", "inactive")
    assert [v.name for v in pvm_partition.get_active_vioses(host)] == ["vios1"]
    pvm_power.PowerOp.start(vios)
    assert pvm_vios.VIOS.search(host, one_result=True, name="vios2").rmc_state == "active"


def test_power_off_without_rmc_falls_back_to_vsp_and_a_new_partition_has_no_rmc(host):
    aix = _lpar(host, "aix-batch")
    with pytest.raises(pvm_exc.OSShutdownNoRMC):
        pvm_power.PowerOp.stop(aix, opts=pvm_popts.PowerOffOpts().os_immediate())
    assert _lpar(host, "aix-batch").state == "running"
    pvm_power.power_off_progressive(aix)
    assert _lpar(host, "aix-batch").state == "not activated"
    new = new_lpar(host)
    pvm_power.power_on(new, None)
    fresh = pvm_lpar.LPAR.get(host, uuid=new.uuid)
    assert (fresh.state, fresh.rmc_state, fresh.capabilities.mem_dlpar) == ("running", "inactive", False)


def test_a_new_partition_with_an_rmc_adapter_gets_rmc_and_dlpar(host):
    lpar = new_lpar(host)
    pvm_cna.crt_cna(host, None, lpar.uuid, 4094, vswitch="MGMTSWITCH")  # nova-powervm's RMC VIF
    pvm_power.power_on(lpar, None)
    fresh = pvm_lpar.LPAR.get(host, uuid=lpar.uuid)
    assert (fresh.rmc_state, fresh.capabilities.proc_dlpar, fresh.capabilities.mem_dlpar) == ("active", True, True)
    assert fresh._get_val_float(_CUR_UNITS) == fresh.proc_config.shared_proc_cfg.desired_units


def test_dlpar_moves_current_values_and_the_systems_free_resources(host):
    mem0, units0 = _free(host)
    web = _lpar(host, "web-01")
    assert (web.mem_config.current, web.mem_config.min, web.mem_config.max) == (4096, 1024, 4096)
    web.mem_config.desired = 2048
    web.proc_config.shared_proc_cfg.desired_units = 1.5
    web.proc_config.shared_proc_cfg.desired_virtual = 2
    web.update()
    fresh = _lpar(host, "web-01")
    assert fresh.mem_config.current == 2048 and fresh._get_val_float(_CUR_UNITS) == 1.5
    assert fresh._get_val_int(_CUR_VPS) == 2
    mem1, units1 = _free(host)
    assert (mem1, round(units1, 2)) == (mem0 + 2048, round(units0 - 1.0, 2))

    fresh.mem_config.max = 8192  # a new maximum takes effect at the next start, not for DLPAR
    fresh.mem_config.desired = 8192
    with pytest.raises(pvm_exc.HttpError) as err:
        fresh.update()
    assert err.value.response.status == 409
    assert _lpar(host, "web-01").mem_config.current == 2048 and _free(host) == (mem1, units1)

    pvm_power.PowerOp.stop(_lpar(host, "web-01"), opts=pvm_popts.PowerOffOpts().vsp_hard())
    stopped = _lpar(host, "web-01")
    assert stopped.mem_config.current == 0 and stopped._get_val_float(_CUR_UNITS) == 0
    mem2, units2 = _free(host)
    assert (mem2, round(units2, 2)) == (mem1 + 2048, round(units1 + 1.5, 2))


def test_dlpar_needs_rmc_and_stopped_partitions_change_offline(host):
    aix = _lpar(host, "aix-batch")
    aix.mem_config.desired = 2048
    with pytest.raises(pvm_exc.HttpError) as err:
        aix.update()
    assert err.value.response.status == 409 and "RMC" in err.value.response.body
    assert _lpar(host, "aix-batch").mem_config.desired == 4096
    free = _free(host)
    db = _lpar(host, "db-01")
    db.mem_config.max = 16384
    db.mem_config.desired = 12288
    db.update()
    fresh = _lpar(host, "db-01")
    assert (fresh.mem_config.desired, fresh.mem_config.current) == (12288, 0) and _free(host) == free


# -- jobs and quick properties ------------------------------------------------------------------------
def test_memory_overhead_job(host):
    system = pvm_ms.System.get(host)[0]
    data = {"desired_mem": 4096, "max_mem": 32768, "num_virt_eth_adapters": 2}
    overhead, avail = pvm_memory.calculate_memory_overhead_on_host(host, system.uuid, data)
    assert overhead == 768 and avail == system.memory_free  # 32768/64 + 3 adapters, in 256 MB blocks
    bad = {"lpar_env": "Windows"}
    assert pvm_memory.calculate_memory_overhead_on_host(host, system.uuid, bad, default=999) == (999, None)


def test_close_vterm_and_ibmi_licence_jobs(host):
    web = _lpar(host, "web-01")
    pvm_vterm.close_vterm(host, web.uuid)  # a password session is remote: the CloseVterm job
    with pytest.raises(pvm_exc.JobRequestFailed):
        pvm_partition.ibmi_add_license_key(host, web.uuid, "KEY")


def test_quick_properties_nova_powervm_reads(host):
    web = _lpar(host, "web-01")

    def quick(prop=None):
        resp = host.read(pvm_lpar.LPAR.schema_type, root_id=web.uuid, suffix_type="quick", suffix_parm=prop)
        return json.loads(resp.body)

    everything = quick()
    assert everything["PartitionState"] == "running" and everything["PartitionID"] == web.id
    assert (quick("CurrentMemory"), quick("AllocatedVirtualProcessors")) == (4096, 2)
    assert quick("PartitionType") == "AIX/Linux" and quick("ResourceMonitoringControlState") == "active"
    assert pvm_vterm._get_lpar_id(host, web.uuid) == str(web.id)
    with pytest.raises(pvm_exc.HttpError) as err:
        quick("NoSuchProperty")
    assert err.value.response.status == 404
    pvm_power.PowerOp.stop(web, opts=pvm_popts.PowerOffOpts().vsp_hard())
    assert (quick("PartitionState"), quick("CurrentMemory"), quick("AllocatedVirtualProcessors")) == (
        "not activated", 0, 0)  # fmt: skip


# -- searches, transactions with ETag retries, partition helpers ------------------------------------------
def test_searches_by_name_and_id_and_negated(host):
    web = pvm_lpar.LPAR.search(host, name="web-01")
    assert [w.name for w in web] == ["web-01"]
    assert [w.name for w in pvm_lpar.LPAR.search(host, id=web[0].id)] == ["web-01"]
    others = {w.name for w in pvm_lpar.LPAR.search(host, negate=True, name="web-01")}
    assert "web-01" not in others and {"db-01", "aix-batch"} <= others
    assert pvm_lpar.LPAR.search(host, one_result=True, name="no-such-partition") is None
    assert pvm_vios.VIOS.search(host, one_result=True, name="vios1").name == "vios1"
    (eth0,) = pvm_net.VSwitch.search(host, parent_type=pvm_ms.System, parent_uuid=host.sys_uuid, name="ETHERNET0")
    assert eth0.switch_id == 0


def test_wrapper_task_reapplies_its_change_after_an_etag_conflict(host):
    stale = _lpar(host, "db-01")
    other = _lpar(host, "db-01")
    other.name = "db-renamed"
    other.update()

    def shrink(lpar):
        lpar.mem_config.desired = 2048
        return True

    task = pvm_tx.WrapperTask("shrink", stale)
    task.add_functor_subtask(shrink)
    task.execute()
    fresh = _lpar(host, "db-renamed")
    assert fresh.mem_config.desired == 2048, "the change was re-applied on the refreshed wrapper"


def test_feed_task_updates_every_partition(host):
    feed = pvm_tx.FeedTask("prio", pvm_lpar.LPAR.getter(host))

    def prioritise(lpar):
        lpar.avail_priority = 200
        return True

    feed.add_functor_subtask(prioritise)
    feed.execute()
    assert {lp.avail_priority for lp in pvm_lpar.LPAR.get(host)} == {200}


def test_feed_task_gathers_every_refusal(host):
    feed = pvm_tx.FeedTask("bad", pvm_lpar.LPAR.getter(host))

    def overcommit(lpar):
        lpar.proc_config.shared_proc_cfg.desired_units = 999.0  # beyond every partition's maximum
        return True

    feed.add_functor_subtask(overcommit)
    with pytest.raises(pvm_exc.MultipleExceptionsInFeedTask) as err:
        feed.execute()
    refusals = list(err.value.wrapped_failure)
    assert len(refusals) == len(pvm_lpar.LPAR.get(host)) and all(f.check(pvm_exc.HttpError) for f in refusals)
    assert all("999" in str(f.exception) for f in refusals), "each names the bad value"
    assert 999.0 not in {lp.proc_config.shared_proc_cfg.desired_units for lp in pvm_lpar.LPAR.get(host)}


def test_resize_validation_reads_the_simulators_limits(host):
    """``utils.validation.LPARWrapperValidator`` (a driver's resize check) on wrappers read back."""
    system = pvm_ms.System.get(host)[0]
    stopped = new_lpar(host, "vld")
    grown = pvm_lpar.LPAR.get(host, uuid=stopped.uuid)
    grown.mem_config.max = grown.mem_config.desired = system.memory_free + 1024
    with pytest.raises(pvm_vldn.ValidatorException, match="memory"):  # a deploy needs the host's free memory
        pvm_vldn.LPARWrapperValidator(grown, system).validate_all()
    pvm_vldn.LPARWrapperValidator(grown, system, cur_lpar_w=stopped).validate_all()  # a stopped one just changes

    web, batch = _lpar(host, "web-01"), _lpar(host, "aix-batch")  # running with RMC, without
    wider = pvm_lpar.LPAR.get(host, uuid=web.uuid)
    wider.mem_config.max = web.mem_config.max + 1024
    with pytest.raises(pvm_vldn.ValidatorException, match="powered off before changing the minimum or maximum"):
        pvm_vldn.LPARWrapperValidator(wider, system, cur_lpar_w=web).validate_all()
    more = pvm_lpar.LPAR.get(host, uuid=batch.uuid)
    more.mem_config.desired = min(batch.mem_config.desired + 1024, batch.mem_config.max)
    with pytest.raises(pvm_vldn.ValidatorException, match="RMC"):
        pvm_vldn.LPARWrapperValidator(more, system, cur_lpar_w=batch).validate_all()


def test_partition_helpers_follow_power_state(host):
    names = {p.name for p in pvm_partition.get_partitions(host, lpars=True, vioses=True, mgmt=True)}
    assert {"vios1", "vios2", "web-01", "db-01"} <= names and any(n.startswith("novalink") for n in names)
    pvm_partition.validate_vios_ready(host, max_wait_time=1)
    for name in ("vios1", "vios2"):
        vios = pvm_vios.VIOS.search(host, one_result=True, name=name)
        pvm_power.PowerOp.stop(vios, opts=pvm_popts.PowerOffOpts().vsp_hard())
    with pytest.raises(pvm_exc.ViosNotAvailable):
        pvm_partition.validate_vios_ready(host, max_wait_time=1)


def test_management_console_public_key_and_authorized_keys(host):
    key = pvm_mc_task.get_public_key(host)
    assert key.startswith("ssh-rsa ") and list(pvm_mc_task.get_authorized_keys(host)) == []
    new_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl op@ctl"
    pvm_mc_task.add_authorized_key(host, new_key)
    pvm_mc_task.add_authorized_key(host, new_key)  # already there: no second copy
    assert list(pvm_mc_task.get_authorized_keys(host)) == [new_key]
    console = pvm_mc.ManagementConsole.get(host)[0]
    console.ssh_authorized_keys = [*console.ssh_authorized_keys, "not a key"]
    with pytest.raises(pvm_exc.HttpError) as err:
        console.update()
    assert err.value.response.status == 400
    assert list(pvm_mc_task.get_authorized_keys(host)) == [new_key] and pvm_mc_task.get_public_key(host) == key

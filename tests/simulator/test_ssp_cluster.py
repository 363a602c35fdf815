"""One SSP cluster seen by two simulated hosts (``model.ssp_cluster``), driven by pypowervm.

Linked with ``/sim/ssp/peers``, an LU created on one host is listed on the other with the same UDID and
bytes, grows on both, and goes from both; a delete is refused while the other host maps the unit. A host
linked later is sent the units made before.
"""

from __future__ import annotations

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import scsi_mapper
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.simulator.test_mobility import SCSI_XAG, _admin, hosts  # noqa: F401 - the two-host fixture


def _tier(adapter) -> pvm_stor.Tier:
    return pvm_stor.Tier.get(adapter, parent=pvm_stor.SSP.get(adapter)[0])[0]


def _lu(adapter, name: str) -> pvm_stor.LUEnt | None:
    return next((lu for lu in pvm_stor.LUEnt.get(adapter, parent=_tier(adapter)) if lu.name == name), None)


def test_linked_hosts_share_logical_units(hosts):  # noqa: F811
    for here, there in ((hosts.src_sim, hosts.dst_sim), (hosts.dst_sim, hosts.src_sim)):
        assert _admin(here, "/sim/ssp/peers", "POST", {"url": there.url})["peers"] == [there.url]
    image = pvm_stg.crt_lu(_tier(hosts.src), "image_x", 1, typ=pvm_stor.LUType.IMAGE)[1]
    boot = pvm_stg.crt_lu(_tier(hosts.src), "boot_x", 2, thin=True, clone=image)[1]
    seen = _lu(hosts.dst, "boot_x")
    assert seen is not None and seen.udid == boot.udid and seen.capacity == 2

    seen._capacity(5.0)
    seen.update()  # grown through the other host
    assert _lu(hosts.src, "boot_x").capacity == 5

    pvm_stg.rm_tier_storage([_lu(hosts.dst, "boot_x")], tier=_tier(hosts.dst))
    assert _lu(hosts.src, "boot_x") is None and _lu(hosts.dst, "boot_x") is None


def test_delete_is_refused_while_the_other_host_maps_the_unit(hosts):  # noqa: F811
    for here, there in ((hosts.src_sim, hosts.dst_sim), (hosts.dst_sim, hosts.src_sim)):
        _admin(here, "/sim/ssp/peers", "POST", {"url": there.url})
    lu = pvm_stg.crt_lu(_tier(hosts.dst), "boot_y", 1)[1]
    lpar = hosts.lpar("web-01")  # a partition of the first host maps the unit the second host created
    vios = pvm_vios.VIOS.get(hosts.src, xag=[SCSI_XAG])[0]
    scsi_mapper.add_map(vios, scsi_mapper.build_vscsi_mapping(None, vios, lpar.uuid, _lu(hosts.src, "boot_y")))
    vios.update()
    with pytest.raises(pvm_exc.HttpError) as err:  # pypowervm's rm_tier_storage would log and ignore the 409
        _lu(hosts.dst, "boot_y").delete()
    assert "mapped to a partition on another node" in str(err.value.response.body)
    assert _lu(hosts.dst, "boot_y") is not None and _lu(hosts.src, "boot_y").udid == lu.udid

    vios = pvm_vios.VIOS.get(hosts.src, xag=[SCSI_XAG])[0]
    scsi_mapper.remove_maps(vios, lpar.id, match_func=lambda stg: stg.name == "boot_y")
    vios.update()
    pvm_stg.rm_tier_storage([_lu(hosts.dst, "boot_y")], tier=_tier(hosts.dst))
    assert _lu(hosts.dst, "boot_y") is None and _lu(hosts.src, "boot_y") is None


def test_a_host_that_joins_later_sees_the_units_made_before(hosts):  # noqa: F811
    boot = pvm_stg.crt_lu(_tier(hosts.src), "boot_early", 1)[1]  # before the hosts are linked
    assert _lu(hosts.dst, "boot_early") is None

    _admin(hosts.src_sim, "/sim/ssp/peers", "POST", {"url": hosts.dst_sim.url})

    seen = _lu(hosts.dst, "boot_early")
    assert seen is not None and seen.udid == boot.udid and seen.capacity == 1

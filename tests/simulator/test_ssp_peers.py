"""One Shared Storage Pool on two simulators (``/sim/ssp/peers``), driven by pypowervm's storage tasks.

An LU made on one host (a linked clone of an image LU) is listed by the other host's NovaLink with
the same UDID and bytes; one the other host maps is kept there when the first deletes it (the
refusal is logged), and goes once that mapping is gone and it is deleted again; bad peers are refused.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import yaml
from pypowervm.tasks import scsi_mapper
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import logical_partition as pvm_lpar
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.topology import loader
from tests.fixtures.simulator import connect, disconnect, running_simulator


def _put(url: str, body: object) -> dict:
    req = urllib.request.Request(url + "/sim/ssp/peers", data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read())


def _device(url: str, udid: str) -> dict:
    with urllib.request.urlopen(f"{url}/sim/devices/{udid}", timeout=30) as reply:
        return json.loads(reply.read())


@pytest.fixture
def hosts(tmp_path):
    data = yaml.safe_load(loader.DEFAULT.read_text())
    data["system"].update(name="Server-9009-22A-SN7830B2C", serial="7830B2C", primary_ip="192.168.10.40")
    data["management_partition"]["name"] = "novalink_7830B2C"
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(data))
    with running_simulator() as sim_a, running_simulator(topology=str(path)) as sim_b:
        for here, there in ((sim_a, sim_b), (sim_b, sim_a)):
            assert _put(here.url, {"peers": [there.url.split("//", 1)[1]]})["peers"]
        a, b = connect(sim_a), connect(sim_b)
        try:
            yield a, b, sim_a.url, sim_b.url
        finally:
            disconnect(a)
            disconnect(b)


def _tier(adapter) -> pvm_stor.Tier:
    return pvm_stor.Tier.get(adapter)[0]


def _lus(adapter) -> dict[str, str]:
    return {lu.name: lu.udid for lu in pvm_stor.LUEnt.get(adapter, parent=_tier(adapter))}


def test_lus_made_on_one_host_are_seen_on_the_other(hosts) -> None:
    a, b, url_a, url_b = hosts
    _, image = pvm_stg.crt_lu(_tier(a), "image_peer", 1, typ=pvm_stor.LUType.IMAGE)
    _, clone = pvm_stg.crt_lu(_tier(a), "boot_peer", 2, thin=True, typ=pvm_stor.LUType.DISK, clone=image)
    assert _lus(b)["boot_peer"] == clone.udid and _lus(b)["image_peer"] == image.udid
    assert _tier(a).uuid == _tier(b).uuid
    assert _device(url_a, clone.udid) == _device(url_b, clone.udid)  # the clone's bytes came along

    lpar = next(p for p in pvm_lpar.LPAR.get(b) if not p.is_mgmt_partition)
    vios = pvm_vios.VIOS.get(b)[0]
    scsi_mapper.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.LU.bld_ref(b, "boot_peer", clone.udid))
    pvm_stg.rm_tier_storage([lu for lu in pvm_stor.LUEnt.get(a, parent=_tier(a)) if lu.name == "boot_peer"],
                            tier=_tier(a), del_unused_images=False)  # fmt: skip
    assert "boot_peer" not in _lus(a)
    assert "boot_peer" in _lus(b)  # host b still maps it

    vios_w = pvm_vios.VIOS.get(b, uuid=vios.uuid, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING])
    assert scsi_mapper.remove_maps(vios_w, lpar.id, match_func=lambda stg: stg.name == "boot_peer")
    vios_w.update()
    pvm_stg.rm_tier_storage([lu for lu in pvm_stor.LUEnt.get(b, parent=_tier(b)) if lu.name == "boot_peer"],
                            tier=_tier(b), del_unused_images=False)  # fmt: skip
    assert "boot_peer" not in _lus(b) and "boot_peer" not in _lus(a)


def test_bad_peers_are_refused(hosts) -> None:
    _, _, url_a, _ = hosts
    with pytest.raises(urllib.error.HTTPError) as err:
        _put(url_a, {"peers": ["no-port"]})
    assert err.value.code == 400 and "host:port" in err.value.read().decode()

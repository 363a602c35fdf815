"""The simulator's FileIO and RBD storage on a NovaLink partition that is an I/O server.

Driven over HTTP by pypowervm's ``FileIO``/``RBD`` builders, ``scsi_mapper`` and ``hdisk.rbd_exists``,
as the driver's ``volume.filestore`` uses them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import hdisk as pvm_hdisk
from pypowervm.tasks import partition as pvm_par
from pypowervm.tasks import scsi_mapper as pvm_smap
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from powervm_openstack.simulator.model import filestore
from powervm_openstack.simulator.topology import loader
from powervm_openstack.simulator.topology.fields import TopologyError
from tests.fixtures.simulator import connect, disconnect, new_lpar, running_simulator

pytestmark = pytest.mark.integration
HOST = Path(__file__).parent / "nova_harness" / "host.yaml"
SMAP = [pvm_vios.VIOS.xags.SCSI_MAPPING]


def _topology(tmp_path: Path, io_server: bool = True) -> str:
    data = yaml.safe_load(HOST.read_text())
    data["management_partition"]["io_server"] = io_server
    data["storage"]["rbd_images"] = [{"name": "volumes/img1", "capacity_gb": 3}]
    path = tmp_path / "host.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    with running_simulator(topology=_topology(tmp_path_factory.mktemp("fs"))) as sim:
        adapter = connect(sim)
        yield sim, adapter
        disconnect(adapter)


def _map(adapter, vios, lpar, stg):
    vios = pvm_vios.VIOS.get(adapter, uuid=vios.uuid, xag=SMAP)
    pvm_smap.add_map(vios, pvm_smap.build_vscsi_mapping(None, vios, lpar.uuid, stg))
    return vios.update()


def test_novalink_is_the_io_server(host):
    _, adapter = host
    mgmt = pvm_par.get_mgmt_partition(adapter)
    assert isinstance(mgmt, pvm_vios.VIOS) and mgmt.is_mgmt_partition
    assert sorted(v.name for v in pvm_par.get_active_vioses(adapter)) == ["novalink_78AB12C", "vios1", "vios2"]


def test_file_and_rbd_mappings_and_refusals(host, tmp_path):
    sim, adapter = host
    lpar = new_lpar(adapter, "fs")
    mgmt = pvm_par.get_mgmt_partition(adapter)
    path = tmp_path / "volume-1"
    path.write_bytes(b"\0" * 2048)
    fio = pvm_stor.FileIO.bld_ref(adapter, str(path), backstore_type=pvm_stor.BackStoreType.FILE_IO, tag="v1")
    vios = _map(adapter, mgmt, lpar, fio)
    vios = _map(adapter, vios, lpar, pvm_stor.RBD.bld_ref(adapter, "volumes/img1", user="cinder"))
    stored = {m.backing_storage.name: m.backing_storage for m in vios.scsi_mappings}
    assert stored[str(path)].vdtype == "File" and stored[str(path)].backstore_type == "fileio"
    assert stored["volumes/img1"].vdtype == "RBD" and stored["volumes/img1"].capacity == 3
    assert stored[str(path)].udid == filestore.udid("File", str(path))
    assert all(m.target_dev is not None and m.client_adapter is not None for m in vios.scsi_mappings)

    other = new_lpar(adapter, "fs2")
    refusals = [
        (mgmt, lpar, pvm_stor.FileIO.bld_ref(adapter, str(tmp_path / "absent")), "is not an existing file"),
        (mgmt, lpar, pvm_stor.FileIO.bld_ref(adapter, "relative/file"), "is not absolute"),
        (mgmt, lpar, pvm_stor.RBD.bld_ref(adapter, "volumes/absent"), "RBD image volumes/absent does not exist"),
        (mgmt, other, pvm_stor.FileIO.bld_ref(adapter, str(path)), "is already mapped"),  # one partition per file
        (pvm_vios.VIOS.search(adapter, name="vios1")[0], lpar, fio, "cannot serve File storage"),
    ]
    for target, client, stg, message in refusals:
        with pytest.raises(pvm_exc.HttpError, match=message):
            _map(adapter, target, client, stg)

    assert pvm_hdisk.rbd_exists(adapter, mgmt.uuid, "volumes/img1")
    assert not pvm_hdisk.rbd_exists(adapter, mgmt.uuid, "volumes/absent")
    filestore.add_rbd(sim.store, "volumes/absent", 1)
    assert pvm_hdisk.rbd_exists(adapter, mgmt.uuid, "volumes/absent")
    vios1 = pvm_vios.VIOS.search(adapter, name="vios1")[0]
    with pytest.raises(pvm_exc.JobRequestFailed):
        pvm_hdisk.rbd_exists(adapter, vios1.uuid, "volumes/img1")

    vios = pvm_vios.VIOS.get(adapter, uuid=mgmt.uuid, xag=SMAP)
    removed = pvm_smap.remove_maps(vios, lpar.uuid, match_func=pvm_smap.gen_match_func(pvm_stor.VDisk,
                                                                                        names=[str(path)]))  # fmt: skip
    assert len(removed) == 1
    vios = vios.update()
    assert [m.backing_storage.name for m in vios.scsi_mappings] == ["volumes/img1"]
    lpar.delete()
    other.delete()


def test_topology_rbd_image_names_are_checked(tmp_path):
    data = yaml.safe_load(HOST.read_text())
    data["storage"]["rbd_images"] = [{"name": "no-pool", "capacity_gb": 1}]
    with pytest.raises(TopologyError, match=r"storage.rbd_images\[0\].name.*pool/image"):
        loader.parse(data)

"""Pure logic of the volume adapters: adapter selection, FC paths (ITLs), WWPN pairs, iSCSI targets."""

from __future__ import annotations

import hashlib

import pytest
from nova import exception as nova_exc

from powervm_openstack.compute.volume import paths, select
from powervm_openstack.compute.volume.fc_vscsi import FcVscsiVolume
from powervm_openstack.compute.volume.filestore import NovaLinkVolume, RbdVolume
from powervm_openstack.compute.volume.iscsi import IscsiVolume
from powervm_openstack.compute.volume.npiv import NpivVolume

VIOS = ["10:00:00:90:FA:1B:63:01", "10000090FA1B6302"]


@pytest.mark.parametrize(("kind", "strategy", "expected"), [
    ("fibre_channel", "vscsi", FcVscsiVolume), ("FIBRE_CHANNEL", "VSCSI", FcVscsiVolume),
    ("iscsi", "vscsi", IscsiVolume), ("iser", "npiv", IscsiVolume), ("fibre_channel", "NPIV", NpivVolume),
    ("local", "vscsi", NovaLinkVolume), ("nfs", "npiv", NovaLinkVolume), ("gpfs", "vscsi", NovaLinkVolume),
    ("rbd", "vscsi", RbdVolume),
])  # fmt: skip
def test_select(kind, strategy, expected):
    assert select.select(kind, strategy) is expected


@pytest.mark.parametrize(("kind", "strategy", "named"), [
    ("sheepdog", "vscsi", "'sheepdog'"), ("fake", "vscsi", "'fake'"),
    (None, "vscsi", "None"),
])  # fmt: skip
def test_select_refuses_naming_the_type(kind, strategy, named):
    with pytest.raises(nova_exc.VolumeDriverNotFound, match=named):
        select.select(kind, strategy)


def test_fc_paths_every_port_to_every_target():
    data = {"target_wwn": ["500507680B215660", "50:05:07:68:0B:21:56:61"], "target_lun": 3}
    assert paths.fc_paths(VIOS, data) == [
        ("10000090fa1b6301", "500507680b215660"), ("10000090fa1b6301", "500507680b215661"),
        ("10000090fa1b6302", "500507680b215660"), ("10000090fa1b6302", "500507680b215661"),
    ]  # fmt: skip
    assert paths.fc_paths([], data) == []


def test_fc_paths_follow_the_initiator_target_map():
    data = {
        "target_wwn": "500507680B215660",
        "initiator_target_map": {"10000090FA1B6302": ["500507680B215661"], "C05076079CFF0E56": ["500507680B215660"]},
    }
    assert paths.fc_paths(VIOS, data) == [("10000090fa1b6302", "500507680b215661")]


def test_fc_lun_required():
    assert paths.fc_lun({"target_lun": "7"}) == 7
    with pytest.raises(ValueError, match="target_lun None"):
        paths.fc_lun({})


def test_npiv_pairs_keep_both_wwpns():
    assert paths.npiv_pairs(["C05076079CFF0E56", "C05076079CFF0E57", "c0:50:76:07:9c:ff:0e:58", "C05076079CFF0E59"]) == [
        ("c05076079cff0e56", "c05076079cff0e57"), ("c05076079cff0e58", "c05076079cff0e59")]  # fmt: skip
    with pytest.raises(ValueError, match="pairs; got 1"):
        paths.npiv_pairs(["C05076079CFF0E56"])


def test_iscsi_targets_single_and_multipath():
    data = {"target_portal": "10.0.0.1:3260", "target_iqn": "iqn.x:1", "target_lun": "2",
            "target_portals": ["10.0.0.1:3260", "10.0.0.2:3260"], "target_iqns": ["iqn.x:1", "iqn.x:2"],
            "target_luns": [2, 3]}  # fmt: skip
    assert paths.iscsi_targets(data, multipath=False) == [("10.0.0.1:3260", "iqn.x:1", 2)]
    assert paths.iscsi_targets(data, multipath=True) == [
        ("10.0.0.1:3260", "iqn.x:1", 2),
        ("10.0.0.2:3260", "iqn.x:2", 3),
    ]
    with pytest.raises(ValueError, match="differ in length"):
        paths.iscsi_targets({**data, "target_luns": [2]}, multipath=True)
    with pytest.raises(ValueError, match="needs target_portal and target_iqn"):
        paths.iscsi_targets({"target_lun": 1}, multipath=False)


def test_chap():
    data = {"auth_method": "CHAP", "auth_username": "u", "auth_password": "p", "discovery_auth_method": "None"}
    assert paths.chap(data) == ("chap", "u", "p")
    assert paths.chap(data, "discovery_") == (None, None, None)


def test_fabric_options_follow_the_fabrics_option():
    from oslo_config import cfg

    from powervm_openstack.compute.volume import options

    conf = cfg.ConfigOpts()
    conf([])
    options.register(conf)
    conf.set_override("fabrics", "A, C", group="powervm")
    options.register(conf)
    assert options.fabrics(conf) == ["A", "C"]
    assert conf.powervm.fabric_C_port_wwpns == [] and conf.powervm.fabric_B_port_wwpns == []
    assert {o.dest for o in options.list_opts()} >= {"fabric_A_port_wwpns", "fabric_B_port_wwpns", "fc_attach_strategy"}


class _Conf:
    class powervm:  # noqa: N801 - the option group as oslo.config shows it
        nfs_mount_point_base = "/var/lib/nova/mnt"
        rbd_user = ""


def _volume(cls, kind, data):
    return cls(None, _Conf, "LPAR-UUID", 5, {"driver_volume_type": kind, "data": data, "serial": "vol-1"})


def test_file_paths_per_type():
    assert _volume(NovaLinkVolume, "local", {"device_path": "/srv/v1"}).name() == "/srv/v1"
    assert _volume(NovaLinkVolume, "gpfs", {"device_path": "/gpfs/v1"}).name() == "/gpfs/v1"
    nfs = _volume(NovaLinkVolume, "nfs", {"export": "10.1.0.7:/cinder", "name": "volume-1"})
    # os-brick's layout: the md5 of the export under the mount base
    digest = hashlib.md5(b"10.1.0.7:/cinder").hexdigest()
    assert nfs.name() == f"/var/lib/nova/mnt/{digest}/volume-1"
    assert "must be mounted at /var/lib/nova/mnt/" in nfs.hint()


@pytest.mark.parametrize(("cls", "kind", "data", "named"), [
    (NovaLinkVolume, "local", {}, "local connection data needs device_path"),
    (NovaLinkVolume, "nfs", {"export": "h:/e"}, "nfs connection data needs export and name"),
    (RbdVolume, "rbd", {"name": "no-pool"}, "rbd connection data needs name as pool/image; got 'no-pool'"),
])  # fmt: skip
def test_file_and_rbd_data_refused_naming_what_is_missing(cls, kind, data, named):
    with pytest.raises(nova_exc.VolumeAttachFailed, match=named):
        _volume(cls, kind, data).name()

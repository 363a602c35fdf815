"""The SAN part of a topology's ``storage`` section: ``fc_ports``, ``san_luns``, ``iscsi_targets``, ``rbd_images``.

```yaml
storage:
  fc_ports:                         # physical FC ports of the VIOSes (WWPN derived when omitted)
    - {vios: vios1, name: fcs0, wwpn: 10000090FA1B6301}
  san_luns:                         # LUNs of the array, zoned and masked to initiators
    - {name: vol1, lun: 1, capacity_gb: 10, targets: [500507680B215660],
       visible_to: [vios1, vios2/fcs1, C05076079CFF0E56]}   # a VIOS, one port, or a (virtual) WWPN
  iscsi_targets:
    - {iqn: "iqn.2010-10.org.openstack:vol2", portal: "10.1.0.5:3260", lun: 1, capacity_gb: 5,
       vioses: [vios1, vios2], chap: {user: u, password: p}, discovery_chap: {user: d, password: q}}
  rbd_images:                       # Ceph RBD images the NovaLink partition can reach (pool/image)
    - {name: volumes/volume-1, capacity_gb: 2}
```
``visible_to`` defaults to every FC port; ``vioses`` to every VIOS.
"""

from __future__ import annotations

from powervm_openstack.simulator.build import Partition, derive_uuid
from powervm_openstack.simulator.build.san import FcPort, IscsiTarget, Lun, RbdImage, San
from powervm_openstack.simulator.topology.fields import Fields, TopologyError, check_unique

SAN_KEYS = ("fc_ports", "san_luns", "iscsi_targets", "rbd_images")
_WWPN = r"[0-9A-Fa-f]{16}"
_WWPN_HINT = "16 hex digits, e.g. 10000090FA1B6301"


def parse_san(storage: Fields, vioses: dict[str, Partition]) -> San:
    """The FC ports, LUNs and iSCSI targets of the ``storage`` section (validated)."""
    ports = [_port(f, vioses) for f in storage.items("fc_ports", ("vios", "name", "wwpn", "npiv_ports"))]
    check_unique([((p.vios.name, p.name), f"storage.fc_ports[{i}].name") for i, p in enumerate(ports)], "FC port")
    check_unique([(p.wwpn, f"storage.fc_ports[{i}].wwpn") for i, p in enumerate(ports)], "WWPN")
    luns = [_lun(f, ports) for f in storage.items("san_luns", ("name", "lun", "capacity_gb", "targets",
                                                              "visible_to"))]  # fmt: skip
    check_unique([(lun.name, f"storage.san_luns[{i}].name") for i, lun in enumerate(luns)], "LUN name")
    keys = ("iqn", "portal", "lun", "capacity_gb", "vioses", "chap", "discovery_chap")
    targets = [_iscsi(f, vioses) for f in storage.items("iscsi_targets", keys)]
    check_unique([((t.iqn, t.lun), f"storage.iscsi_targets[{i}]") for i, t in enumerate(targets)], "iSCSI LUN")
    images = [RbdImage(f.text("name", pattern=r"[\w.-]{1,63}/[\w.-]{1,127}", hint="pool/image"),
                       f.whole("capacity_gb", lo=1, hi=65536)) for f in storage.items("rbd_images", ("name",
                                                                                                 "capacity_gb"))]  # fmt: skip
    check_unique([(r.name, f"storage.rbd_images[{i}].name") for i, r in enumerate(images)], "RBD image")
    return San(ports, luns, targets, images)


def _port(f: Fields, vioses: dict[str, Partition]) -> FcPort:
    name = f.text("vios")
    if name not in vioses:
        raise TopologyError(f"{f.at('vios')}: unknown VIOS {name!r} (known VIOSes: {', '.join(vioses) or 'none'})")
    port = f.text("name", pattern=r"fcs\d+", hint="fcs<N>")
    derived = "10000090FA" + derive_uuid("fcport", name, port).replace("-", "")[:6].upper()
    wwpn = f.text("wwpn", derived, pattern=_WWPN, hint=_WWPN_HINT).upper()
    return FcPort(vioses[name], port, wwpn, f.whole("npiv_ports", 64, lo=0, hi=255))


def _lun(f: Fields, ports: list[FcPort]) -> Lun:
    targets = f.strings("targets", [])
    if not targets:
        raise TopologyError(f"{f.at('targets')}: a LUN needs at least one target port WWPN")
    for i, wwpn in enumerate(targets):
        Fields({"wwpn": wwpn}, f"{f.at('targets')}[{i}]", ("wwpn",)).text("wwpn", pattern=_WWPN, hint=_WWPN_HINT)
    visible = f.strings("visible_to", [f"{p.vios.name}/{p.name}" for p in ports])
    initiators = [w for i, v in enumerate(visible) for w in _initiators(f"{f.at('visible_to')}[{i}]", v, ports)]
    return Lun(f.text("name", pattern=r"[\w.-]{1,63}", hint="1-63 letters, digits, _ . -"),
               f.whole("lun", lo=0, hi=16383), f.whole("capacity_gb", lo=1, hi=65536), targets, initiators)  # fmt: skip


def _initiators(where: str, value: str, ports: list[FcPort]) -> list[str]:
    """A VIOS name (all its ports), ``vios/fcsN`` (one port) or a WWPN (e.g. a client's virtual port)."""
    import re

    if re.fullmatch(_WWPN, value):
        return [value.upper()]
    found = [p.wwpn for p in ports if value in (p.vios.name, f"{p.vios.name}/{p.name}")]
    if not found:
        known = ", ".join(f"{p.vios.name}/{p.name}" for p in ports) or "none"
        raise TopologyError(f"{where}: {value!r} names no FC port (ports: {known}; or give a WWPN)")
    return found


def _chap(f: Fields, key: str) -> tuple[str, str] | None:
    if f.raw(key, None) is None:
        return None
    c = Fields(f.raw(key), f.at(key), ("user", "password"))
    return c.text("user", max_len=255), c.text("password", max_len=255)


def _iscsi(f: Fields, vioses: dict[str, Partition]) -> IscsiTarget:
    names = f.strings("vioses", list(vioses))
    for i, name in enumerate(names):
        if name not in vioses:
            raise TopologyError(f"{f.at('vioses')}[{i}]: unknown VIOS {name!r} (known VIOSes: {', '.join(vioses)})")
    return IscsiTarget(
        iqn=f.text("iqn", pattern=r"(iqn|eui)\.[\w.:-]{1,220}", hint="an IQN, e.g. iqn.2010-10.org.openstack:vol1"),
        portal=f.text("portal", pattern=r"[\w.-]+:\d{1,5}", hint="host:port, e.g. 10.1.0.5:3260"),
        lun=f.whole("lun", lo=0, hi=16383),
        capacity_gb=f.whole("capacity_gb", lo=1, hi=65536),
        vioses=[vioses[n] for n in names],
        chap=_chap(f, "chap"),
        discovery_chap=_chap(f, "discovery_chap"),
    )

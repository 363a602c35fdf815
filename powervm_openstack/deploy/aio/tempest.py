"""Tempest 47 against a running all-in-one cloud: its resources, a workspace with ``tempest.conf``, a run, counts.

:func:`prepare` creates what tempest's servers need and cannot create themselves: two small raw
images, and a shared VLAN provider network on the physical network of the host's SEAs (tempest's
isolated project networks would need routers, and neutron here has no L3 service). :func:`configure`
writes ``<run dir>/tempest/etc/tempest.conf``: the bootstrap admin, dynamic credentials, the
services that run and the features the PowerVM driver has (:data:`COMPUTE_FEATURES`; the reasons
are in docs/all-in-one.md), with live migration, cold migration and resize on when the cloud has two
or more hosts whose boot disks are in their shared SSP (:func:`migration_features`). :func:`run` runs ``tempest run`` there and counts the results from
stestr's subunit stream; :func:`cleanup` deletes what :func:`prepare` made. tempest's own code is
never changed or skipped: what the cloud lacks is switched off in tempest.conf only.
"""

from __future__ import annotations

import configparser
import dataclasses
import io
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from powervm_openstack.deploy.aio.base import ADMIN_PASSWORD, REGION, script
from powervm_openstack.deploy.neutron_config import IniValue, render_ini
from powervm_openstack.network.bridges import DEFAULT_PHYSNET

SUBSET = Path(__file__).resolve().parents[3] / "etc" / "tempest" / "powervm-subset.txt"
MIGRATION = SUBSET.with_name("powervm-migration.txt")  # the migration tests, for a multi-host shared-SSP cloud
FULL_REGEX = r"^tempest\.api\.(compute|network)\."
IMAGES = ("tempest-image", "tempest-image-alt")
IMAGE_BYTES = 1 << 20
NETWORK = "tempest-vlan"
NETWORK_VLAN = 3999
NETWORK_CIDR = "10.99.0.0/20"
FLAVOR_REF, FLAVOR_REF_ALT = "1", "2"  # the cloud's pvm.tiny and pvm.small

# [compute-feature-enabled] as the PowerVM driver has them; every False is explained in docs/all-in-one.md.
COMPUTE_FEATURES: dict[str, IniValue] = {
    "resize": False,
    "cold_migration": False,
    "live_migration": False,
    "live_migrate_back_and_forth": False,
    "block_migration_for_live_migration": False,
    "shelve": False,
    "shelve_migrate": False,
    "pause": False,
    "suspend": False,
    "rescue": False,
    "stable_rescue": False,
    "console_output": False,
    "change_password": False,
    "vnc_console": False,
    "spice_console": False,
    "serial_console": False,
    "metadata_service": False,
    "personality": False,
    "attach_encrypted_volume": False,
    "swap_volume": False,
    "volume_multiattach": False,
    "ide_bus": False,
    "snapshot": True,
    "interface_attach": True,
    "config_drive": True,
}
# switched on by migration_features for a cloud that can move servers (reasons in docs/all-in-one.md)
MIGRATION_FEATURES = ("live_migration", "live_migrate_back_and_forth", "block_migration_for_live_migration", "resize",
                      "cold_migration")  # fmt: skip
# nova 34's default [filter_scheduler] enabled_filters, for a nova.conf that does not set them
NOVA_FILTERS = ("ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
                "ServerGroupAffinityFilter")  # fmt: skip
SERVICES: dict[str, IniValue] = {"nova": True, "neutron": True, "glance": True, "cinder": False, "swift": False,
                                 "horizon": False}  # fmt: skip


@dataclasses.dataclass
class Resources:
    """What :func:`prepare` made for tempest: image ids and the shared network's id and name."""

    images: list[str]
    network_id: str
    network: str = NETWORK


@dataclasses.dataclass
class Counts:
    """Results of one run by test id (setUpClass failures count as failed tests, as stestr reports them)."""

    passed: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    passed_ids: list[str] = dataclasses.field(default_factory=list)  # without the ``[id-...]`` attributes
    returncode: int = 0

    def line(self) -> str:
        return f"tempest: {self.passed} passed, {self.skipped} skipped, {self.failed} failed"


def prepare(conn: Any) -> Resources:
    """Upload the two images and create the shared VLAN network with its subnet (names from this module)."""
    images = []
    for name in IMAGES:
        image = conn.image.create_image(name=name, data=b"\0" * IMAGE_BYTES, disk_format="raw",
                                        container_format="bare", visibility="public", allow_duplicates=True)  # fmt: skip
        images.append(image.id)
    net = conn.network.create_network(name=NETWORK, shared=True, provider_network_type="vlan",
                                      provider_physical_network=DEFAULT_PHYSNET,
                                      provider_segmentation_id=NETWORK_VLAN)  # fmt: skip
    conn.network.create_subnet(network_id=net.id, name=f"{NETWORK}-subnet", cidr=NETWORK_CIDR, ip_version=4)
    for image_id in images:
        conn.image.wait_for_status(conn.image.get_image(image_id), status="active", wait=120, interval=1)
    return Resources(images, net.id)


def cleanup(conn: Any, resources: Resources) -> list[str]:
    """Delete the images and the network (its subnet goes with it); return what could not be deleted.

    tempest deletes its servers and projects itself; a run that was killed may leave ports on the network.
    """
    problems = []
    for image_id in resources.images:
        conn.image.delete_image(image_id, ignore_missing=True)
    try:
        conn.network.delete_network(resources.network_id, ignore_missing=True)
    except Exception as exc:  # openstacksdk's ConflictException when ports are left: say so, go on
        problems.append(f"network {resources.network} ({resources.network_id}) not deleted: {exc}")
    return problems


def scheduler_filters(nova_conf: Path) -> list[str]:
    """``[filter_scheduler] enabled_filters`` of the cloud's ``nova.conf`` (nova's default when unset)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(nova_conf)
    value = parser.get("filter_scheduler", "enabled_filters", fallback="")
    return [f.strip() for f in value.split(",") if f.strip()] or list(NOVA_FILTERS)


def migration_features(compute_nodes: int, disk_driver: str) -> dict[str, IniValue]:
    """The migration flags: on with two or more hosts whose boot disks are on SSP (shared storage).

    PowerVM moves a partition whose disks both hosts see (live, or stopped for a cold migration or
    a resize, which goes to the other host: nova's ``allow_resize_to_same_host`` is off). It copies
    no disks, yet ``block_migration_for_live_migration`` is on too: tempest 47 runs its one live
    migration of an image-backed server (``test_live_block_migration``) only then, and the listed
    class ``LiveAutoBlockMigrationV225Test`` asks ``block_migration='auto'``, which lets nova and the
    driver decide (no block migration on shared storage). ``LiveMigrationTest``, which would then ask
    ``block_migration=True`` (refused by the driver), is not in etc/tempest/powervm-migration.txt.
    """
    moves = compute_nodes >= 2 and disk_driver.lower() == "ssp"
    return {name: moves for name in MIGRATION_FEATURES}


def cloud_disk_driver(run_dir: Path) -> str:
    """``[powervm] disk_driver`` of host 1's rendered ``nova-powervm.conf`` (``localdisk`` when unset)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)  # [pci] device_spec is repeated
    parser.read(run_dir / "nova" / "etc" / "nova-powervm.conf")
    return parser.get("powervm", "disk_driver", fallback="localdisk")


def tempest_conf(keystone_url: str, resources: Resources, network_extensions: Sequence[str], workspace: Path,
                 filters: Sequence[str] = NOVA_FILTERS, compute_nodes: int = 1,
                 disk_driver: str = "localdisk") -> dict[str, dict[str, IniValue]]:  # fmt: skip
    """The sections of tempest.conf for this cloud (``keystone_url`` is its ``/v3`` URL).

    ``compute_nodes`` (its hypervisors) and ``disk_driver`` decide the migration flags (:func:`migration_features`).
    """
    features = {**COMPUTE_FEATURES, **migration_features(compute_nodes, disk_driver)}
    return {
        "DEFAULT": {"log_dir": str(workspace / "logs"), "log_file": "tempest.log"},
        "oslo_concurrency": {"lock_path": str(workspace / "lock")},
        "auth": {"admin_username": "admin", "admin_password": ADMIN_PASSWORD, "admin_project_name": "admin",
                 "admin_domain_name": "Default", "use_dynamic_credentials": True,
                 # tempest's per-project networks need a router; servers use the shared VLAN network
                 "create_isolated_networks": False},
        "identity": {"uri_v3": keystone_url, "auth_version": "v3", "region": REGION},
        "identity-feature-enabled": {"api_v2": False},
        "compute": {"image_ref": resources.images[0], "image_ref_alt": resources.images[1],
                    "flavor_ref": FLAVOR_REF, "flavor_ref_alt": FLAVOR_REF_ALT,
                    "fixed_network_name": resources.network, "min_compute_nodes": compute_nodes,
                    "max_microversion": "latest", "build_timeout": 600},
        "compute-feature-enabled": {**features, "scheduler_enabled_filters": list(filters)},
        "network": {"project_networks_reachable": False, "shared_physical_network": False},
        "network-feature-enabled": {"api_extensions": list(network_extensions), "floating_ips": False,
                                    "port_security": "port-security" in network_extensions,
                                    "ipv6_subnet_attributes": True},
        "image-feature-enabled": {"api_v2": True},
        "validation": {"run_validation": False},
        "service_available": SERVICES,
    }  # fmt: skip


def configure(conn: Any, keystone_url: str, run_dir: Path, resources: Resources) -> Path:
    """Write the workspace ``run_dir/tempest`` (``etc/tempest.conf``, logs, locks); return it."""
    workspace = run_dir / "tempest"
    for sub in ("etc", "logs", "lock"):
        (workspace / sub).mkdir(parents=True, exist_ok=True)
    extensions = sorted(ext.alias for ext in conn.network.extensions())
    conf = workspace / "etc" / "tempest.conf"
    filters = scheduler_filters(run_dir / "nova" / "etc" / "nova.conf")
    nodes = len(list(conn.compute.hypervisors()))
    sections = tempest_conf(keystone_url, resources, extensions, workspace, filters, nodes, cloud_disk_driver(run_dir))
    conf.write_text(render_ini(sections))
    conf.chmod(0o600)  # the admin password
    return workspace


def run(workspace: Path, regex: str | None = None, include_list: Path | None = SUBSET, concurrency: int = 2,
        out: TextIO | None = None) -> Counts:  # fmt: skip
    """``tempest run`` in ``workspace`` (``regex`` if given, else ``include_list``); its output goes to ``out``."""
    argv = [script("tempest"), "run", "--config-file", str(workspace / "etc" / "tempest.conf"),
            "--concurrency", str(concurrency)]  # fmt: skip
    argv += ["--regex", regex] if regex else ["--include-list", str(include_list)]
    with subprocess.Popen(argv, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if out is not None:
                out.write(line)
                out.flush()
    last = subprocess.run([script("stestr"), "last", "--subunit"], cwd=workspace, capture_output=True, check=False)
    result = count(last.stdout)
    result.returncode = proc.returncode
    return result


def count(subunit_bytes: bytes) -> Counts:
    """Passed/skipped/failed by test id from a subunit v2 stream (the last status of each id wins)."""
    import subunit
    import testtools

    statuses: dict[str, str] = {}
    result = testtools.StreamToDict(lambda test: statuses.__setitem__(test["id"], test["status"]))
    result.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(subunit_bytes), non_subunit_name="stdout").run(result)
    result.stopTestRun()
    counts = Counts()
    for test_id, status in sorted(statuses.items()):
        if status in ("success", "xfail"):
            counts.passed += 1
            counts.passed_ids.append(test_id.split("[", 1)[0])
        elif status == "skip":
            counts.skipped += 1
        elif status != "exists":
            counts.failed += 1
            counts.failures.append(f"{test_id} ({status})")
    return counts

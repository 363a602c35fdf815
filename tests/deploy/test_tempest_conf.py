"""The tempest configuration and result counting of ``deploy.aio.tempest`` (pure logic, no cloud)."""

from __future__ import annotations

import configparser
import io
from pathlib import Path

import subunit

from powervm_openstack.deploy.aio import tempest
from powervm_openstack.deploy.neutron_config import render_ini

RESOURCES = tempest.Resources(images=["img-1", "img-2"], network_id="net-1")


def stream(*tests: tuple[str, str]) -> bytes:
    out = io.BytesIO()
    writer = subunit.StreamResultToBytes(out)
    for test_id, status in tests:
        writer.status(test_id=test_id, test_status="inprogress")
        writer.status(test_id=test_id, test_status=status)
    return out.getvalue()


def test_count_sorts_results_by_test_id() -> None:
    counts = tempest.count(stream(("a", "success"), ("b", "skip"), ("c", "fail"), ("d", "xfail"),
                                  ("setUpClass (x.Y)", "fail")))  # fmt: skip
    assert (counts.passed, counts.skipped, counts.failed) == (2, 1, 2)
    assert counts.failures == ["c (fail)", "setUpClass (x.Y) (fail)"]
    assert counts.line() == "tempest: 2 passed, 1 skipped, 2 failed"


def test_count_of_an_empty_stream_is_zero() -> None:
    assert tempest.count(b"") == tempest.Counts()


def test_conf_has_the_cloud_and_the_driver_features(tmp_path: Path) -> None:
    text = render_ini(tempest.tempest_conf("http://127.0.0.1:1/v3", RESOURCES, ["port-security", "binding"], tmp_path))
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(text)
    assert conf["identity"]["uri_v3"] == "http://127.0.0.1:1/v3"
    assert conf["auth"]["use_dynamic_credentials"] == "true"
    assert conf["auth"]["create_isolated_networks"] == "false"
    assert (conf["compute"]["image_ref"], conf["compute"]["image_ref_alt"]) == ("img-1", "img-2")
    assert conf["compute"]["fixed_network_name"] == tempest.NETWORK
    assert conf["validation"]["run_validation"] == "false"
    assert conf["service_available"]["cinder"] == "false"
    features = conf["compute-feature-enabled"]
    assert features["snapshot"] == features["interface_attach"] == "true"
    for flag in ("resize", "live_migration", "cold_migration", "rescue", "suspend", "pause", "shelve"):
        assert features[flag] == "false", flag
    assert conf["network-feature-enabled"]["api_extensions"] == "port-security,binding"
    assert conf["network-feature-enabled"]["port_security"] == "true"


def test_migrations_are_on_for_two_hosts_on_shared_storage(tmp_path: Path) -> None:
    def features(nodes: int, disk_driver: str) -> configparser.SectionProxy:
        sections = tempest.tempest_conf("http://127.0.0.1:1/v3", RESOURCES, [], tmp_path, compute_nodes=nodes,
                                        disk_driver=disk_driver)  # fmt: skip
        conf = configparser.ConfigParser(interpolation=None)
        conf.read_string(render_ini(sections))
        assert conf["compute"]["min_compute_nodes"] == str(nodes)
        return conf["compute-feature-enabled"]

    shared = features(2, "ssp")
    assert shared["live_migration"] == shared["live_migrate_back_and_forth"] == "true"
    assert shared["cold_migration"] == shared["resize"] == "true"  # to the other host, on the shared SSP
    # on only so that tempest 47 runs its 'auto' live migration; the list leaves out what asks for True
    assert shared["block_migration_for_live_migration"] == "true"
    for nodes, disk_driver in ((2, "localdisk"), (1, "ssp")):  # a local volume group is not shared; one host
        off = features(nodes, disk_driver)
        assert [off[f] for f in tempest.MIGRATION_FEATURES] == ["false"] * len(tempest.MIGRATION_FEATURES)


def test_the_migration_list_asks_no_block_migration() -> None:
    """LiveMigrationTest (block_migration=True with the flag on) stays out of the migration list."""
    lines = [line for line in tempest.MIGRATION.read_text().splitlines() if line and not line.startswith("#")]
    assert not [line for line in lines if "LiveMigrationTest" in line and "Negative" not in line], lines
    assert any("LiveAutoBlockMigrationV225Test" in line for line in lines), lines


def test_the_cloud_disk_driver_comes_from_nova_powervm_conf(tmp_path: Path) -> None:
    assert tempest.cloud_disk_driver(tmp_path) == "localdisk"
    (tmp_path / "nova" / "etc").mkdir(parents=True)
    (tmp_path / "nova" / "etc" / "nova-powervm.conf").write_text(
        "[powervm]\ndisk_driver = ssp\n[pci]\ndevice_spec = a\ndevice_spec = b\n"
    )
    assert tempest.cloud_disk_driver(tmp_path) == "ssp"


def test_scheduler_filters_come_from_nova_conf(tmp_path: Path) -> None:
    nova_conf = tmp_path / "nova.conf"
    assert tempest.scheduler_filters(nova_conf) == list(tempest.NOVA_FILTERS)
    nova_conf.write_text("[filter_scheduler]\nenabled_filters = ComputeFilter, PciPassthroughFilter\n")
    assert tempest.scheduler_filters(nova_conf) == ["ComputeFilter", "PciPassthroughFilter"]


def test_every_switched_off_feature_has_its_reason_in_the_docs() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "all-in-one.md").read_text()
    for flag, value in tempest.COMPUTE_FEATURES.items():
        if value is False:
            assert f"| `{flag}` | false |" in docs, flag


def test_the_subset_files_are_include_lists() -> None:
    for listed in (tempest.SUBSET, tempest.MIGRATION):
        lines = [line for line in listed.read_text().splitlines() if line and not line.startswith("#")]
        assert lines and all(line.startswith(r"^tempest\.api\.") for line in lines), listed

"""Importing captured PowerVM REST responses (pvm-data) as simulator seed state."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from powervm_openstack.simulator.capture import importer as capture
from powervm_openstack.simulator.capture.files import (
    CaptureError,
    format_response,
    parse_response,
)
from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.store import Store
from tests.fixtures.simulator import PVM_DATA

_FILES = sorted(p for p in PVM_DATA.iterdir() if p.is_file()) if PVM_DATA.is_dir() else []

needs_data = pytest.mark.skipif(not PVM_DATA.is_dir(), reason=f"captured pvm-data not found at {PVM_DATA}")

#: Files that are not seed state, and a word their skip reason must contain.
SKIPPED = {
    "cdata.xml": "JobResponse",
    "cluster_LULinkedClone_job_template.txt": "JobRequest",
    "cluster_create_job_template.txt": "JobRequest",
    "event.xml": "Event",
    "event_feed.txt": "Event",
    "fake_httperror.txt": "HTTP 500",
    "fake_httperror_service_unavail.txt": "HTTP 503",
    "fake_managedsystem.txt": "malformed XML",
    "fake_volume_group_no_vg.txt": "no entries",
    "job_request_power_off.txt": "JobRequest",
    "job_response_completed_failed.txt": "JobResponse",
    "job_response_completed_ok.txt": "JobResponse",
    "job_response_exception.txt": "JobResponse",
    "logon.xml": "LogonResponse",
    "logon_file.xml": "LogonResponse",
    "lpar_builder.txt": "SECTION",
    "lpar_sections.txt": "SECTION",
    "lpar_pcm_data.txt": "JSON",
    "phyp_pcm_data.txt": "JSON",
    "phyp_pcm_data2.txt": "JSON",
    "phyp_pcm_data3.txt": "JSON",
    "vios_pcm_data.txt": "JSON",
    "vios_pcm_data_sparse.txt": "JSON",
    "ltm_feed.txt": "content",
    "ltm_feed2.txt": "content",
    "ltm_feed_lpars.txt": "content",
    "stm_feed.txt": "content",
    "pcm_pref.txt": "not a UOM/WEB object",
    "token_file": "raw file",
    "README.md": "raw file",
    "LICENSE.pypowervm": "raw file",
}

#: file -> (kind, count, parent kind or None) for files that load.
KNOWN = {
    "lpar.txt": ("LogicalPartition", 21, "ManagedSystem"),
    "fake_lpar_feed.txt": ("LogicalPartition", 17, "ManagedSystem"),
    "fake_vios_feed.txt": ("VirtualIOServer", 2, "ManagedSystem"),
    "fake_vios.txt": ("VirtualIOServer", 1, "ManagedSystem"),
    "fake_vios_hosting_vios_feed.txt": ("VirtualIOServer", 3, "ManagedSystem"),
    "nbbr_network_bridge.txt": ("NetworkBridge", 1, "ManagedSystem"),
    "fake_network_bridge.txt": ("NetworkBridge", 2, "ManagedSystem"),
    "nbbr_virtual_network.txt": ("VirtualNetwork", 10, "ManagedSystem"),
    "vswitch_feed.txt": ("VirtualSwitch", 2, "ManagedSystem"),
    "cna_feed.txt": ("ClientNetworkAdapter", 2, "VirtualIOServer"),
    "fake_cna.txt": ("ClientNetworkAdapter", 1, "LogicalPartition"),
    "vnic_feed.txt": ("VirtualNICDedicated", 2, "LogicalPartition"),
    "sriov_lp_feed.txt": ("SRIOVEthernetLogicalPort", 4, "VirtualIOServer"),
    "managedsystem.txt": ("ManagedSystem", 3, None),
    "sys_with_sriov.txt": ("ManagedSystem", 1, None),
    "file_feed.txt": ("File", 65, None),
    "lufeed.txt": ("LogicalUnit", 22, "Tier"),
}


@needs_data
@pytest.mark.parametrize("path", _FILES, ids=[p.name for p in _FILES])
def test_every_file_loads_or_is_skipped_with_a_reason(path: Path) -> None:
    result = capture.load_file(path)
    if path.name in SKIPPED:
        assert result.records == []
        assert result.skipped_reason and SKIPPED[path.name] in result.skipped_reason
        return
    assert result.skipped_reason is None, result.skipped_reason
    assert result.records
    for rec in result.records:
        assert rec.uuid and rec.kind == xml.local(rec.element)
        assert not re.search(r'href="https?://', xml.tostring(rec.element)), "links must be base-relative"


@needs_data
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_counts_and_parents(name: str) -> None:
    kind, count, parent_kind = KNOWN[name]
    records = capture.load_file(PVM_DATA / name).records
    assert Counter(r.kind for r in records) == {kind: count}
    assert {r.parent_kind for r in records} == {parent_kind}


@needs_data
def test_network_bridge_record_details() -> None:
    (rec,) = capture.load_file(PVM_DATA / "nbbr_network_bridge.txt").records
    assert rec.uuid == "b6a027a8-5c0b-3ac0-8547-b516f5ba6151"
    assert (rec.parent_kind, rec.parent_uuid) == ("ManagedSystem", "c5d782c7-44e4-3086-ad15-b16fb039d63b")
    assert rec.etag == "-43845602"
    assert rec.title == "NetworkBridge"
    body = xml.tostring(rec.element)
    assert "https://9.1.2.3:12443" not in body and 'href="/rest/api/uom/' in body
    assert xml.text(rec.element, "PortVLANID") == "2227"


@needs_data
def test_root_partitions_take_their_system_from_the_associated_link() -> None:
    records = capture.load_file(PVM_DATA / "lpar.txt").records
    systems = Counter(r.parent_uuid for r in records)
    assert systems == {
        "a168a3ec-bb3e-3ead-86c1-7d98b9d50239": 14,
        "e955e11a-6ee0-3e04-987c-6fa319f8cb8c": 6,
        "caae9209-25e5-35cd-a71a-ed55c03f294d": 1,
    }


@needs_data
def test_single_entry_without_feed() -> None:
    (rec,) = capture.load_file(PVM_DATA / "fake_cna.txt").records
    assert rec.uuid == "6445b54b-b9dc-3bc2-b1d3-f8cc22ba95b8"
    assert (rec.parent_kind, rec.parent_uuid) == ("LogicalPartition", "0A68CFAB-F62B-46D4-A6A0-F4EBE0264AD5")


@needs_data
def test_malformed_xml_reason_names_file_and_line() -> None:
    result = capture.load_file(PVM_DATA / "fake_managedsystem.txt")
    assert "fake_managedsystem.txt:307" in result.skipped_reason


@needs_data
def test_load_many_later_file_wins_and_dir_loads_into_a_store(tmp_path: Path) -> None:
    first = PVM_DATA / "fake_vios_feed.txt"
    second = PVM_DATA / "fake_vios_feed_multi.txt"
    later = capture.load_many([first, second])
    uuids = {r.uuid for r in capture.load_file(second).records}
    by_uuid = {r.uuid: r for r in later}
    assert set(by_uuid) >= uuids
    for uuid in uuids:
        assert by_uuid[uuid].etag == next(r.etag for r in capture.load_file(second).records if r.uuid == uuid)
    everything = capture.load_dir(PVM_DATA)
    store = Store()
    assert store.load(everything) == len(everything)
    with store.reading() as view:
        assert len(view.find("LogicalPartition")) >= 21
        assert view.get("NetworkBridge", "b6a027a8-5c0b-3ac0-8547-b516f5ba6151") is not None


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("# c\nINFO{\n{'status': 200\nEND OF SECTION}\n", 3, "not a Python dict literal"),
        ("INFO{\n['status']\nEND OF SECTION}\n", 2, "not a dict"),
        ("INFO{\n{}\nEND OF SECTION}\nhello there\nBODY{\n<x/>\nEND OF SECTION}\n", 4, "outside a section"),
        ("INFO{\n{}\nEND OF SECTION}\nBODY{\n<feed/>\n", 4, "never closed"),
        ("BODY{\n<a/>\nEND OF SECTION}\nBODY{\n<b/>\nEND OF SECTION}\n", 4, "second BODY"),
        (b"INFO{\n{}\nEND OF SECTION}\nBODY{\n\xff\xfe\nEND OF SECTION}\n", 5, "not UTF-8"),
    ],
)
def test_garbage_gives_a_clear_error(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, "garbage.txt", text)
    with pytest.raises(CaptureError) as err:
        capture.load_file(path)
    assert f"garbage.txt:{line}:" in str(err.value)
    assert words in str(err.value)


def test_unusable_bodies_are_skipped_with_reasons(tmp_path: Path) -> None:
    info = {"comment": "", "path": "X", "status": 200, "reason": "OK"}
    cases = {
        "<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>1</id>": "malformed XML at ",
        "<html/>": "not an Atom feed or entry (root <html>)",
        "": "empty body",
    }
    for body, words in cases.items():
        path = _write(tmp_path, "resp.txt", format_response(info, {}, body))
        result = capture.load_file(path)
        assert result.records == [] and words in result.skipped_reason
    missing = _write(tmp_path, "nobody.txt", "INFO{\n{'status': 200}\nEND OF SECTION}\n")
    assert "no BODY" in capture.load_file(missing).skipped_reason


def test_format_and_parse_round_trip() -> None:
    info = {"comment": "c", "path": "ManagedSystem", "status": 200, "reason": "OK"}
    headers = {"etag": "12", "content-type": "application/atom+xml"}
    body = "<feed>\n  <entry/>\nEND OF\n</feed>\n"
    resp = parse_response(format_response(info, headers, body), "mem")
    assert (resp.info, resp.headers, resp.body, resp.header("ETag")) == (info, headers, body, "12")


@needs_data
def test_a_raw_atom_body_imports_as_it_is(tmp_path: Path) -> None:
    body = parse_response((PVM_DATA / "nbbr_virtual_network.txt").read_text(), "x").body
    raw = _write(tmp_path, "curl-output.xml", body.strip() + "\n")
    result = capture.load_file(raw)
    assert result.skipped_reason is None and len(result.records) == 10
    assert {r.parent_kind for r in result.records} == {"ManagedSystem"}

"""``powervm-sim`` on operator mistakes: one line on stderr naming the value, exit 2, nothing half done."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from powervm_openstack.deploy.processes import SimulatorProcess
from tests.fixtures.simulator import PVM_DATA


def _sim(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "powervm_openstack.simulator.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def _one_error(proc: subprocess.CompletedProcess, *words: str, status: int = 2) -> str:
    assert proc.returncode == status, (proc.returncode, proc.stdout, proc.stderr)
    errors = [line for line in proc.stderr.splitlines() if "ERROR" in line or line.startswith("powervm-sim:")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Eventlet" not in proc.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_a_port_out_of_range_is_refused():
    _one_error(_sim("serve", "--port", "99999"), "--port 99999", "0-65535")


def test_a_state_file_in_a_missing_folder_is_refused(tmp_path):
    _one_error(_sim("serve", "--state", str(tmp_path / "nope" / "host.sqlite")), "--state", "does not exist")


def test_a_port_in_use_is_named():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_error(_sim("serve", "--port", str(port)), f"127.0.0.1:{port}", "in use")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("empty.txt", ""),
        ("rules.json", '{"kind": "latency"}'),
        ("host.yaml", "lpars: []\n"),
        ("page.html", "<html><body>hello</body></html>"),
        (
            "truncated.txt",
            "INFO{\n{'comment': 'x', 'path': 'LogicalPartition', 'status': 200}\nEND OF SECTION}\n"
            'HEADERS{\n{}\nEND OF SECTION}\nBODY{\n<feed xmlns="http://www.w3.org/2005/Atom"><entry>\nEND OF SECTION}\n',
        ),
    ],
)
def test_files_that_are_not_captures_are_named(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    proc = _sim("serve", "--capture", str(tmp_path), "--port", "0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    named, summary = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert f"Not a capture: {tmp_path / name}" in named, named
    assert "1 of 1 capture file(s) cannot be loaded" in summary


def test_an_empty_capture_folder_is_refused(tmp_path):
    _one_error(_sim("serve", "--capture", str(tmp_path), "--port", "0"), "no objects found")


@pytest.mark.skipif(not (PVM_DATA / "cna_feed.txt").exists(), reason="needs ../shared/pvm-data")
def test_a_bad_file_beside_good_ones_stops_the_serve_unless_skipped(tmp_path):
    (tmp_path / "cna_feed.txt").write_text((PVM_DATA / "cna_feed.txt").read_text())
    (tmp_path / "notes.txt").write_text("just notes\n")
    proc = _sim("serve", "--capture", str(tmp_path), "--port", "0")
    assert proc.returncode == 2 and "notes.txt" in proc.stderr and "1 of 2 capture file(s)" in proc.stderr
    sim = SimulatorProcess(tmp_path / "run", "--capture", str(tmp_path), "--skip-bad-captures")
    try:
        sim.start()
        log = sim.log_path.read_text()
        assert "notes.txt" in log and "Loaded" in log
    finally:
        sim.stop()


def test_an_existing_state_is_resumed_and_the_topology_said_to_be_ignored(tmp_path):
    state = tmp_path / "host.sqlite"
    first = SimulatorProcess(tmp_path, state=state).start()
    first.stop()
    again = SimulatorProcess(tmp_path, "--topology", "two-bridges", state=state, name="again").start()
    try:
        log = again.log_path.read_text()
        assert "resuming it; --topology two-bridges is ignored" in log
        assert "Loaded" not in log
    finally:
        again.stop()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    sim = SimulatorProcess(tmp_path_factory.mktemp("cli")).start()
    yield sim
    sim.stop()


def test_faults_add_adds_every_rule_of_the_file(sim, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {kind: latency, latency_ms: 1, count: 0}\n- {kind: vios_busy, path: Nothing, count: 0}\n")
    assert _sim("faults", "clear", "--url", sim.url).returncode == 0
    added = _sim("faults", "add", str(rules), "--url", sim.url)
    assert added.returncode == 0, added.stderr
    assert [r["kind"] for r in json.loads(added.stdout)["rules"]] == ["latency", "vios_busy"]


def test_a_listing_shows_only_the_fields_of_each_kind(sim, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {kind: latency, latency_ms: 1, count: 0}\n- {kind: drop, when: after, count: 0}\n")
    listing = json.loads(_sim("faults", "set", str(rules), "--url", sim.url).stdout)["rules"]
    assert set(listing[0]) == {"kind", "method", "path", "rate", "count", "latency_ms", "jitter_ms", "fired"}
    assert set(listing[1]) == {"kind", "method", "path", "rate", "count", "when", "fired"}


def test_a_misspelt_field_names_the_rule_and_the_allowed_fields(sim, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {kind: latency, latency_ms: 1}\n- {kind: latency, latncy_ms: 300}\n")
    line = _one_error(_sim("faults", "set", str(rules), "--url", sim.url), "fault rule 2", "latncy_ms", "latency_ms")
    assert "__init__" not in line


def test_a_url_that_is_not_a_simulator_is_named(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    _one_error(_sim("faults", "list", "--url", f"http://127.0.0.1:{port}"), "connection refused", status=1)


def test_a_url_that_answers_but_is_not_a_simulator_is_named(sim):
    url = f"{sim.url}/rest/api/uom"  # answers, but XML errors: not the admin API
    line = _one_error(_sim("faults", "list", "--url", url), "is not a powervm-sim", "HTTP 40")
    assert "Expecting value" not in line

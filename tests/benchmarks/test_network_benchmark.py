"""The network benchmark command: it runs end to end with tiny numbers and prints its tables.

Performance is never asserted here; ``benchmarks/README.md`` records measured numbers.
"""

from __future__ import annotations

import math

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import common, network


def test_quick_run_prints_the_comparison(capsys: pytest.CaptureFixture[str]) -> None:
    status = network.main(["--quick", "--plugs", "6", "--vlans", "3", "--burst", "0.3", "--write-ms", "5",
                           "--read-ms", "1", "--batch-window", "0.05", "--lead", "0.5", "--neutron", "stand-in"])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("Scenario: 6 plugs over 3 VLANs in 0.3 s, 5 ms per write, 1 ms per read;")
    header = next(line for line in lines if "calls/bridge/batch mean" in line)
    for column in ("batches", "plug-only batch max", "p50 plug->ACTIVE s", "p95 s", "max s", "total s", "not ACTIVE",
                   "VLANs missing", "p95 plug event seen s"):  # fmt: skip
        assert column in header
    first_table = lines[lines.index(header) : lines.index("REST calls by kind (all batches):", lines.index(header))]
    rows = {line.split("  ")[0].strip(): line for line in first_table if line.startswith(("ours", "reference"))}
    assert {"ours", "reference", "ours / reference"} <= set(rows)
    # every port went ACTIVE, every VLAN is on both SEAs
    assert rows["ours"].split()[-2:] == ["0", "0"] and rows["reference"].split()[-2:] == ["0", "0"]
    assert "REST calls by kind (all batches):" in out and "POST NetworkBridge" in out
    assert "stand-in neutron, new VLANs:" in lines and "stand-in neutron, provisioned at binding:" in lines
    assert any(line.startswith("Targets: <= 2 calls per bridge per batch:") for line in lines)
    assert any(line.startswith("Targets: p95 <= 0.2x the reference's:") for line in lines)


def test_dispatcher_lists_and_refuses_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main.main(["--help"]) == 0
    assert "network" in capsys.readouterr().out
    assert bench_main.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'nope'; known: " in err and "network" in err


def test_bad_parameters_are_named() -> None:
    with pytest.raises(SystemExit):
        network.parse_args(["--plugs", "0"])


def test_helpers() -> None:
    assert common.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert common.percentile([1.0] * 3 + [10.0], 100) == 10.0
    assert math.isnan(common.percentile([], 95)) and math.isnan(common.ratio(1.0, 0.0))
    assert common.diff({"GET A": 3, "POST B": 1}, {"GET A": 1, "POST B": 1}) == {"GET A": 2}
    text = common.table(("", "n"), [("a", 1), ("bb", 2.5)])
    assert text.splitlines() == ["       n", "--  ----", "a      1", "bb  2.50"]

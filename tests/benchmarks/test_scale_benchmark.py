"""The scale benchmark command: its figures run end to end with tiny numbers and print their tables.

Performance is never asserted here; ``benchmarks/README.md`` records measured numbers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import scale, scale_memory
from benchmarks.scale_common import StubNeutron
from benchmarks.scale_fleet_load import RpcCount
from benchmarks.scale_topology import LargeHost, managed_ports

TINY = ["--quick", "--partitions", "12", "--ports", "20", "--vlans", "4", "--latency", "0/0,2/5", "--cycles", "6",
        "--sample-every", "3", "--trace-last", "3"]  # fmt: skip


def _table(out: str, header_start: str) -> list[str]:
    """The lines of the table whose header starts with ``header_start`` (header and rule included)."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = next((i for i in range(first, len(lines)) if not lines[i].strip()), len(lines))
    return lines[first:end]


def test_quick_heal_and_memory_print_their_tables(capsys: pytest.CaptureFixture[str]) -> None:
    status = scale.main([*TINY, "--only", "heal,memory"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("Figure 1, heal at scale: 12 partitions (NovaLink, 2 VIOSes, 9 client LPARs), 20 client")
    heal = _table(out, "heal ")
    for column in ("latency r/w ms", "wall s", "agent CPU s", "sim CPU s", "REST calls", "GET CNA", "neutron RPCs",
                   "marked up", "not up", "VLANs missing"):  # fmt: skip
        assert column in heal[0]
    rows = heal[2:]
    assert [r.split()[0:3] for r in rows] == [["first", "heal", "0/0"], ["next", "heal", "0/0"],
                                              ["first", "heal", "2/5"], ["next", "heal", "2/5"]]  # fmt: skip
    assert all(r.split()[-2:] == ["0", "0"] for r in rows)  # every port up, every VLAN on both SEAs
    # the cold scan: one adapter-feed GET per partition; the periodic heal from the event-fed view: none
    assert [r.split()[9] for r in rows] == ["12", "0", "12", "0"]
    assert "REST calls by kind:" in out and "GET ClientNetworkAdapter" in out

    assert "Figure 3, agent memory: 6 plug/unplug cycles" in out
    memory = _table(out, "cycle ")
    assert [r.split()[0] for r in memory[2:]] == ["3", "6"]
    assert "tracemalloc, 3 more cycles after the samples, second half vs first:" in out
    assert any(line.startswith("Verdict") for line in out.splitlines())


@pytest.mark.integration
def test_quick_fleet_prints_its_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mariadb_server: object, rabbitmq_server: object
) -> None:
    """Needs MariaDB and RabbitMQ (the fixtures skip, or fail under PVM_REQUIRE_SERVICES=1, without them)."""
    status = scale.main(["--quick", "--only", "fleet", "--agents", "1", "--window", "12", "--report-interval", "4",
                         "--cycle", "5", "--work-dir", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.startswith("Figure 2, agents on one neutron: 1 simulated hosts")
    fleet = _table(out, "agents ")
    assert "msgs/min/agent mean" in fleet[0] and "RPC server CPU %" in fleet[0]
    assert "sent report_state" in out
    assert not any(tmp_path.iterdir()), "the run's work directory was not removed"


def test_dispatcher_knows_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main.main(["--help"]) == 0
    assert "scale" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--only", "nope"], ["--partitions", "2000"], ["--latency", "fast"],
                                  ["--agents", "0"], ["--cycles", "0"]])  # fmt: skip
def test_bad_parameters_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        scale.parse_args(argv)


def test_large_host_has_the_asked_shape() -> None:
    host = LargeHost(partitions=20, ports_count=50, vlans=5, managed=0.6, seed=1)
    ports = host.ports()
    assert len(host.data()["lpars"]) == host.client_partitions() == 17
    assert len(ports) == 50 and len({p.mac for p in ports}) == 50
    assert {p.vlan for p in ports} == set(range(1100, 1105))
    assert 0 < len(managed_ports(ports)) < 50
    assert host.ports() == ports  # seeded: the same host every time


def test_stub_neutron_answers_registered_ports_only() -> None:
    stub = StubNeutron({"fa:16:3e:00:00:01": 1100})
    found = stub.device_details(["fa:16:3e:00:00:01", "fa:16:3e:00:00:02"])
    assert found[0]["segmentation_id"] == 1100 and "mac_address" not in found[1]
    stub.set_status(["fa:16:3e:00:00:01", "fa:16:3e:00:00:02"], [])
    assert stub.up() == {"fa:16:3e:00:00:01"} and stub.marked["up"] == 2
    assert stub.wait_for("fa:16:3e:00:00:01", "up", timeout=0)
    stub.forget("fa:16:3e:00:00:01")
    assert stub.status == {} and stub.ports == {}


def test_rpc_messages_are_counted_from_oslo_messaging_lines() -> None:
    log = "\n".join([
        "... DEBUG oslo_messaging._drivers.amqpdriver [-] Calling RPC method report_state on target q-reports-plugin _send",
        "... DEBUG oslo_messaging._drivers.amqpdriver [-] CALL msg_id: 8ca3 exchange 'neutron' topic 'q-reports-plugin'",
        "... DEBUG oslo_messaging._drivers.amqpdriver [-] received reply msg_id: 8ca3 __call__",
        "... DEBUG oslo_messaging._drivers.amqpdriver [-] received message with unique_id: e52f __call__",
        "... DEBUG oslo_messaging._drivers.amqpdriver [req-1] Calling RPC method update_device_list on target q-plugin",
        "... INFO powervm_openstack.network.agent.sea [-] Ports marked up: []",
    ])  # fmt: skip
    count = RpcCount.of(log)
    assert count.sent == {"report_state": 1, "update_device_list": 1}
    assert (count.replies, count.received, count.total) == (1, 1, 4)


def _result(rss: list[float], blocks: list[int], traced: int) -> scale_memory.MemoryResult:
    samples = [scale_memory.Sample(1000 * (i + 1), float(i), r, b, 100, 0, 4) for i, (r, b) in
               enumerate(zip(rss, blocks))]  # fmt: skip
    top = ["+9.0 KiB in +90 blocks: sea.py:100"]
    return scale_memory.MemoryResult(scale_memory.MemoryParams(), samples, scale_memory.Traced(1000, traced, top), 0)


def test_memory_verdict_names_the_growth() -> None:
    settles = scale_memory.verdict(_result([150.0, 152.5, 152.6], [900_000, 900_400, 899_700], 2_000))
    assert settles[0].startswith("Growth from cycle 1000 to 3000 (the first sample is the warm-up): RSS +2.60 MiB "
                                 "(from cycle 2000 on: +0.10 MiB)")  # fmt: skip
    assert settles[-1].startswith("Verdict: no growth (tolerance: RSS 1 MiB over the later half; allocated blocks")
    growing = scale_memory.verdict(_result([150.0, 155.0, 160.0], [900_000, 905_000, 910_000], 90_000))
    assert growing[-2] == ("Verdict: GROWTH (RSS +5.00 MiB over the later half > 1 MiB; allocated blocks +10000 > "
                           "1000; traced heap +90.0 B/cycle > 32); the allocation sites that grew most while traced:")  # fmt: skip
    assert growing[-1] == "  +9.0 KiB in +90 blocks: sea.py:100"

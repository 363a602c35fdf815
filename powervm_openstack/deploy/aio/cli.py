"""``powervm-openstack-aio up|down|status``: the whole PowerVM cloud on this machine.

``up`` starts a supervisor process (``serve``) that owns every service process, waits until it
reports the cloud up (or failed, with the service and log to read), prints the services and writes
``<run dir>/openrc``; ``up --hosts N`` gives the controller N simulated NovaLink hosts. ``status``
prints host, service, port, PID and log. ``down`` asks the supervisor to
stop everything and drop the run's databases and vhost, and waits for it. ``tempest`` runs tempest
against the cloud that is up (``deploy.aio.tempest``). The pointer to the current run is
``<work dir>/current.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from powervm_openstack.deploy.aio.hosts import MAX_HOSTS, check_count

DEFAULT_WORK = Path(".work/aio")


def _current(work: Path) -> dict[str, Any] | None:
    pointer = work / "current.json"
    if not pointer.exists():
        return None
    run_dir = Path(json.loads(pointer.read_text())["dir"])
    state = run_dir / "aio.json"
    return json.loads(state.read_text()) if state.exists() else {"phase": "starting", "dir": str(run_dir)}


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that died but was not reaped (PID 1 here may not reap) is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _supervisor(work: Path) -> int | None:
    pointer = work / "current.json"
    return json.loads(pointer.read_text()).get("supervisor") if pointer.exists() else None


def serve(work: Path, topology: str | None, timeout: float, hosts: int = 1, ovs: bool = False,
          shared_storage: bool = False) -> int:  # fmt: skip
    """The supervisor: bring the cloud up, then hold it until SIGTERM, then take it down."""
    from powervm_openstack.deploy.aio.cloud import Cloud

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cloud = Cloud(work, topology, hosts=hosts, ovs=ovs, shared_storage=shared_storage)
    cloud.dir.mkdir(parents=True, exist_ok=True)
    (work / "current.json").write_text(json.dumps({"dir": str(cloud.dir), "supervisor": os.getpid()}))
    cloud.write_state("starting", supervisor=os.getpid())
    try:
        cloud.up(timeout)
    except Exception as exc:
        cloud.write_state("failed")
        state = json.loads(cloud.state_path.read_text())
        state["error"] = str(exc)
        cloud.state_path.write_text(json.dumps(state, indent=1))
        print(f"powervm-openstack-aio: {exc}", file=sys.stderr)
        return 1
    write_openrc(cloud.dir, cloud.keystone_url)
    while not stop.wait(1.0):
        pass
    for problem in cloud.down():
        print(f"powervm-openstack-aio: {problem}", file=sys.stderr)
    return 0


def write_openrc(run_dir: Path, keystone_url: str) -> Path:
    from powervm_openstack.deploy.aio.catalog import admin_auth

    auth = admin_auth(keystone_url)
    lines = [f"export OS_{key.upper()}={value}" for key, value in auth.items()]
    lines += ["export OS_IDENTITY_API_VERSION=3", "export OS_REGION_NAME=RegionOne"]
    path = run_dir / "openrc"
    path.write_text("\n".join(lines) + "\n")
    return path


def up(work: Path, topology: str | None, timeout: float, hosts: int = 1, ovs: bool = False,
       shared_storage: bool = False) -> int:  # fmt: skip
    if _alive(_supervisor(work)):
        print(
            f"powervm-openstack-aio: a cloud is already up under {work} (see 'status'; 'down' first)", file=sys.stderr
        )
        return 1
    work.mkdir(parents=True, exist_ok=True)
    (work / "current.json").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "powervm_openstack.deploy.aio.cli", "--work-dir", str(work), "serve",
            "--timeout", str(timeout), "--hosts", str(hosts)] + (["--topology", topology] if topology else []) + ["--ovs"] * ovs + ["--shared-storage"] * shared_storage  # fmt: skip
    log = work / "supervisor.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
    started = time.monotonic()
    while True:
        state = _current(work) or {}
        if state.get("phase") == "up":
            break
        if state.get("phase") == "failed" or proc.poll() is not None:
            print(f"powervm-openstack-aio: up failed: {state.get('error', f'see {log}')}", file=sys.stderr)
            proc.wait(timeout=60)
            return 1
        time.sleep(1.0)
    print(f"cloud up in {time.monotonic() - started:.0f} s; run directory {state['dir']}")
    _print_status(state)
    print(f"\nsource {state['dir']}/openrc  # then: openstack server list")
    return 0


def _print_status(state: dict[str, Any]) -> None:
    print(f"{'host':<16} {'service':<22} {'port':>6} {'pid':>8}  {'state':<8} log")
    for row in state.get("services", []):
        running = "running" if _alive(row["pid"]) else "stopped"
        host = row.get("host") or "controller"
        print(f"{host:<16} {row['service']:<22} {row['port'] or '-':>6} {row['pid']:>8}  {running:<8} {row['log']}")


def status(work: Path) -> int:
    state = _current(work)
    if state is None:
        print(f"no cloud under {work}")
        return 1
    supervisor = _supervisor(work)
    print(f"run {state.get('run_id', '?')}: {state['phase']}, supervisor pid {supervisor} "
          f"({'running' if _alive(supervisor) else 'stopped'})")  # fmt: skip
    for kind, url in state.get("endpoints", {}).items():
        print(f"  {kind:<10} {url}")
    _print_status(state)
    return 0 if state["phase"] == "up" and _alive(supervisor) else 1


def down(work: Path, timeout: float = 90.0) -> int:
    supervisor = _supervisor(work)
    if supervisor is None:
        print(f"no cloud under {work}")
        return 0
    if _alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.5)
    state = _current(work) or {}
    left = [row for row in state.get("services", []) if _alive(row["pid"])]
    for row in left:  # the supervisor died or hung: stop its children by their recorded PIDs
        try:
            os.killpg(row["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    if state.get("phase") != "down":
        _drop(state)
    (work / "current.json").unlink(missing_ok=True)
    print(f"cloud down; logs kept in {state.get('dir')}")
    return 0


def _drop(state: dict[str, Any]) -> None:
    from powervm_openstack.deploy.mariadb import MariaDB
    from powervm_openstack.deploy.rabbitmq import RabbitMQ

    db, mq = MariaDB.from_env(), RabbitMQ.from_env()
    for name in state.get("databases", []):
        db.drop_database(name)
    for name in state.get("vhosts", []):
        mq.delete_vhost(name)


def tempest(work: Path, regex: str | None, concurrency: int, include_list: Path | None = None) -> int:
    """Configure tempest for the cloud that is up, run ``regex`` or ``include_list`` (default: the subset), print the counts."""
    from powervm_openstack.deploy.aio import catalog
    from powervm_openstack.deploy.aio import tempest as aio_tempest

    if concurrency < 1:
        print(f"powervm-openstack-aio: --concurrency {concurrency}: give 1 or more workers", file=sys.stderr)
        return 2
    state = _current(work)
    if state is None or state.get("phase") != "up" or not _alive(_supervisor(work)):
        print(f"powervm-openstack-aio: no cloud is up under {work} (run 'up' first)", file=sys.stderr)
        return 1
    conn = catalog.connect(state["keystone_url"])
    resources = aio_tempest.prepare(conn)
    try:
        workspace = aio_tempest.configure(conn, state["keystone_url"], Path(state["dir"]), resources)
        listed = include_list or aio_tempest.SUBSET
        print(f"tempest workspace {workspace}; running {regex or listed}", flush=True)
        counts = aio_tempest.run(workspace, regex=regex, include_list=listed, concurrency=concurrency, out=sys.stdout)
    finally:
        for problem in aio_tempest.cleanup(conn, resources):
            print(f"powervm-openstack-aio: {problem}", file=sys.stderr)
    print(counts.line())
    return 0 if counts.failed == 0 and counts.returncode == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="powervm-openstack-aio", description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK, help="where runs keep configs and logs")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        p = sub.add_parser(name, help="start the cloud" if name == "up" else argparse.SUPPRESS)
        p.add_argument("--topology", help="simulator topology YAML (default: the built-in host)")
        p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each readiness check")
        p.add_argument("--hosts", default="1", help=f"simulated NovaLink hosts, 1 to {MAX_HOSTS} (default 1)")
        p.add_argument("--ovs", action="store_true", help="add Open vSwitch and its neutron agent (root; docs/ovs.md)")
        p.add_argument("--shared-storage", action="store_true",
                       help="boot disks in the hosts' shared SSP (disk_driver ssp, simulators linked as one cluster): "
                            "servers can live-migrate, cold-migrate and resize between the hosts")  # fmt: skip
    sub.add_parser("status", help="service, port, PID and log of each process")
    sub.add_parser("down", help="stop everything, drop the databases and the vhost")
    p = sub.add_parser("tempest", help="run tempest against the cloud that is up and print the counts")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--subset", action="store_true", help="the named subset etc/tempest/powervm-subset.txt "
                       "(the default)")  # fmt: skip
    which.add_argument("--all", action="store_true", help="the whole compute and network API suites")
    which.add_argument("--migration", action="store_true", help="the migration tests etc/tempest/powervm-migration.txt "
                       "(a cloud of 2+ hosts with --shared-storage)")  # fmt: skip
    which.add_argument("--regex", help="the tests whose id matches this regex")
    p.add_argument("--concurrency", type=int, default=2, help="tempest workers (default 2)")
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    if args.command in ("up", "serve"):
        try:
            hosts = check_count(args.hosts)
        except ValueError as exc:
            print(f"powervm-openstack-aio: {exc}", file=sys.stderr)
            return 2
        start = up if args.command == "up" else serve
        return start(work, args.topology, args.timeout, hosts, args.ovs, args.shared_storage)
    if args.command == "status":
        return status(work)
    if args.command == "tempest":
        from powervm_openstack.deploy.aio.tempest import FULL_REGEX, MIGRATION

        return tempest(work, FULL_REGEX if args.all else args.regex, args.concurrency,
                       MIGRATION if args.migration else None)  # fmt: skip
    return down(work)


if __name__ == "__main__":
    sys.exit(main())

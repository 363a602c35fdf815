"""``powervm-sim``: run the NovaLink REST simulator, manage its faults, snapshot a real system.

Examples::

    powervm-sim serve                                  # the default topology on 127.0.0.1:12080
    powervm-sim serve --topology my-host.yaml --state /var/tmp/host.sqlite
    powervm-sim serve --capture ./captured-host/       # rehearse against a copy of a real system
    powervm-sim faults set rules.yaml --url http://127.0.0.1:12080
    powervm-sim snapshot --url https://novalink:12443 --user neo --out ./captured-host/

The password for ``serve`` comes from ``--password-file`` or ``$POWERVM_SIM_PASSWORD``
(default ``admin``); for ``snapshot`` from ``$POWERVM_PASSWORD``. Passwords are never logged.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import requests
import yaml

LOG = logging.getLogger("powervm-sim")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        return args.func(args)
    except (ValueError, OSError, requests.RequestException, yaml.YAMLError) as exc:
        LOG.error("%s", str(exc).replace("\n", " "))
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powervm-sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debug", action="store_true", help="log every request")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the REST API")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--topology", help="YAML topology file (default: the built-in realistic host)")
    source.add_argument("--capture", nargs="+", help="captured response files or folders to load as the system")
    serve.add_argument(
        "--skip-bad-captures", action="store_true", help="serve the good capture files, warn about the rest"
    )
    serve.add_argument(
        "--state", help="SQLite file keeping the state across restarts (default: in memory); an existing one is resumed"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=12080)
    serve.add_argument("--user", default="admin", help="user name accepted by password logon")
    serve.add_argument("--password-file", help="file holding the password (else $POWERVM_SIM_PASSWORD or admin)")
    serve.add_argument("--faults", help="YAML/JSON list of fault rules to start with")
    serve.add_argument("--fault-seed", type=int, help="seed of the fault rules' random draws (replayable runs)")
    serve.add_argument("--event-wait", type=float, default=10.0, help="seconds an empty event poll waits")
    serve.add_argument("--job-seconds", type=float, default=0.0, help="seconds a job runs before it completes")
    serve.add_argument("--session-timeout", type=float, help="idle seconds before a session expires")
    serve.add_argument("--token-dir", help="folder for local (file-based) logon tokens")
    serve.add_argument("--tls-cert", help="PEM certificate (chain): serve https instead of http")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--ovs-db", help="ovsdb socket (unix:/path): OVS trunks become real devices on it (root)")
    serve.add_argument(
        "--mgmt-device-dir", help="folder where disks mapped to NovaLink appear (disk/by-id/scsi-<udid>)"
    )
    serve.set_defaults(func=_serve)

    faults = sub.add_parser("faults", help="show, set or clear fault rules of a running simulator")
    faults.add_argument("action", choices=["list", "set", "add", "clear"])
    faults.add_argument("file", nargs="?", help="rules file for set, or one rule for add (YAML/JSON)")
    faults.add_argument("--url", default="http://127.0.0.1:12080")
    faults.set_defaults(func=_faults)

    snap = sub.add_parser("snapshot", help="save a live NovaLink's state as response files")
    snap.add_argument("--url", required=True, help="e.g. https://novalink.example:12443")
    snap.add_argument("--user", required=True)
    snap.add_argument("--out", required=True)
    snap.set_defaults(func=_snapshot)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from powervm_openstack.simulator.http.server import SimulatorServer
    from powervm_openstack.simulator.runtime.ovs_devices import OvsDeviceHost
    from powervm_openstack.simulator.state.store import Store

    _check_serve_args(args)
    store = Store(args.state)
    seed = _seed_records(args) if store.is_empty() else _resumed(args)
    try:
        server = SimulatorServer(
            store=store,
            username=args.user,
            password=_password(args.password_file),
            host=args.host,
            port=args.port,
            seed=seed,
            event_wait=args.event_wait,
            job_seconds=args.job_seconds,
            session_idle_timeout=args.session_timeout,
            token_dir=args.token_dir,
            tls=_tls(args),
            fault_seed=args.fault_seed,
        )
    except OSError as exc:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    if args.faults:
        server.app.faults.set_rules(_read_rules(args.faults))
    if args.mgmt_device_dir:
        from powervm_openstack.simulator.model import vscsi

        vscsi.set_mgmt_device_dir(server.store, str(Path(args.mgmt_device_dir).resolve()))
    devices = OvsDeviceHost(args.ovs_db).attach(server.store) if args.ovs_db else None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    if devices is not None:
        devices.close()
    server.store.close()
    LOG.info("Simulator stopped")
    return 0


def _check_serve_args(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port} is not a TCP port; allowed: 0-65535 (0: any free port).")
    if args.state and not Path(args.state).resolve().parent.is_dir():
        raise ValueError(f"--state {args.state}: folder {Path(args.state).resolve().parent} does not exist.")


def _resumed(args: argparse.Namespace) -> None:
    """A state file that already holds a host is served as it is; say what is not loaded."""
    given = "--capture" if args.capture else ("--topology " + args.topology) if args.topology else ""
    LOG.warning("State file %s already holds a host: resuming it%s", args.state,
                f"; {given} is ignored (remove the state file to load it)" if given else "")  # fmt: skip


def _seed_records(args: argparse.Namespace) -> list:
    from powervm_openstack.simulator.capture import importer as capture
    from powervm_openstack.simulator.topology import loader as topology

    if not args.capture:
        seed = topology.load(args.topology or topology.DEFAULT)
        LOG.info("Loaded %d objects from topology %s", len(seed), args.topology or "default")
        return seed
    files = _expand(args.capture)
    results, bad = [], []
    for path in files:
        try:
            result = capture.load_file(path)
        except capture.CaptureError as exc:
            bad.append(str(exc))
            continue
        if result.skipped_reason:
            bad.append(f"{path}: {result.skipped_reason}")
        results.append(result)
    for line in bad:
        (LOG.warning if args.skip_bad_captures else LOG.error)("Not a capture: %s", line)
    if bad and not args.skip_bad_captures:
        raise ValueError(f"{len(bad)} of {len(files)} capture file(s) cannot be loaded (listed above); "
                         "fix or remove them, or pass --skip-bad-captures to serve the rest.")  # fmt: skip
    seed = capture.merge(results)
    if not seed:
        raise ValueError(f"--capture {' '.join(args.capture)}: no objects found in {len(files)} file(s).")
    LOG.info("Loaded %d objects from %d capture file(s)", len(seed), len(files) - len(bad))
    return seed


def _tls(args: argparse.Namespace) -> tuple[str, str] | None:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together: give both to serve https, or neither.")
    return (args.tls_cert, args.tls_key) if args.tls_cert else None


def _interrupt(signum: int, frame: object) -> None:
    # serve_forever() runs on this thread: leave it by exception, shutdown() here would deadlock.
    raise KeyboardInterrupt


def _faults(args: argparse.Namespace) -> int:
    """Errors go to stderr: exit 2 for bad input (rules, URL), 1 when the simulator cannot be asked."""
    url = f"{args.url.rstrip('/')}/sim/faults"
    rules = None
    if args.action in ("set", "add"):
        if not args.file:
            raise ValueError(f"'faults {args.action}' needs a rules file.")
        rules = _read_rules(args.file)
    try:
        if args.action == "list":
            resp = requests.get(url, timeout=30)
        elif args.action == "clear":
            resp = requests.delete(url, timeout=30)
        elif args.action == "add":
            resp = requests.post(url, json=rules, timeout=30)
        else:
            resp = requests.put(url, json=rules if isinstance(rules, list) else [rules], timeout=30)
    except requests.RequestException as exc:
        print(f"powervm-sim: cannot reach the simulator at {args.url}: {_reason(exc)}", file=sys.stderr)
        return 1
    try:
        answer = resp.json()
    except ValueError:
        kind = resp.headers.get("Content-Type", "no content type")
        print(f"powervm-sim: {args.url} is not a powervm-sim (GET /sim/faults answered HTTP {resp.status_code}, "
              f"{kind})", file=sys.stderr)  # fmt: skip
        return 2
    if not resp.ok:
        print(f"powervm-sim: {answer.get('error', answer)}", file=sys.stderr)
        return 2 if resp.status_code == 400 else 1
    print(json.dumps(answer, indent=2))
    return 0


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    for needle, short in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                          ("Name or service not known", "host name not known")):  # fmt: skip
        if needle in text:
            return short
    return type(exc).__name__


def _snapshot(args: argparse.Namespace) -> int:
    from powervm_openstack.simulator.capture import importer as capture

    password = os.environ.get("POWERVM_PASSWORD")
    if not password:
        raise ValueError(
            "Set $POWERVM_PASSWORD to the NovaLink user's password (it is never taken on the command line)."
        )
    written = capture.snapshot(args.url, args.out, username=args.user, password=password)
    LOG.info("Wrote %d response files to %s", len(written), args.out)
    return 0


def _password(path: str | None) -> str:
    if path:
        return Path(path).read_text().strip()
    return os.environ.get("POWERVM_SIM_PASSWORD", "admin")


def _read_rules(path: str) -> Any:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, list | dict):
        raise ValueError(f"Fault rules file {path} must hold a list of rules (or one rule), got {type(data).__name__}.")
    return data


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
    return files


if __name__ == "__main__":
    sys.exit(main())

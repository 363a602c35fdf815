"""The end-to-end demo (``./run demo``): servers booted through the nova API on the whole PowerVM cloud.

1. bring the all-in-one cloud up (keystone, glance, placement, nova with the PowerVM driver, neutron
   with pvm_sea/pvm_sriov, the SEA and SR-IOV agents, the simulator as the NovaLink host);
2. create VLAN provider networks (one for the SEA, one on the SR-IOV physical network ``prod``),
   upload a small image;
3. boot a server on a ``pvm_sea`` port and one on a ``direct`` SR-IOV port, show each ACTIVE with
   its partition running, the VLAN on both SEAs of the failover pair, the vNIC on its physical ports;
4. stop, start and reboot the first, snapshot it (the glance image holds the boot disk's bytes);
5. delete both, show the partitions gone, the VLAN cleaned and the vNIC freed; take the cloud down.

The steps 2-5 are :mod:`powervm_openstack.demo_servers` (also run by the test suite on its cloud).

A table of the steps and their durations ends the output. ``--network-only`` runs the older,
smaller demo (neutron and the SEA agent only, the compute side played by the demo).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from powervm_openstack.demo_servers import ServerDemo  # noqa: E402
from powervm_openstack.deploy.aio.cloud import Cloud  # noqa: E402


class Steps:
    """Runs and times the demo's steps; :meth:`table` prints them."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float]] = []

    def __call__(self, name: str, action: Callable[[], Any]) -> Any:
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        result = action()
        self.rows.append((name, time.monotonic() - started))
        return result

    def table(self) -> None:
        width = max(len(name) for name, _ in self.rows)
        print(f"\n{'step':<{width}}  seconds")
        for name, seconds in self.rows:
            print(f"{name:<{width}}  {seconds:7.1f}")
        print(f"{'total':<{width}}  {sum(s for _, s in self.rows):7.1f}")


def run_demo(work_root: Path) -> None:
    step = Steps()
    cloud = Cloud(work_root)
    try:
        step("bring the cloud up (12 processes)", cloud.up)
        for name, seconds in cloud.steps:
            print(f"    {name:<40} {seconds:6.1f} s")
        ServerDemo(cloud, step).run()
    finally:
        step("take the cloud down (processes, databases, vhost)", cloud.down)
        step.table()
        print(f"\nlogs: {cloud.dir}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default=".work/demo", help="where logs and configuration go")
    parser.add_argument("--network-only", action="store_true", help="the neutron + SEA agent demo only")
    args, rest = parser.parse_known_args(argv)
    if args.network_only:
        from powervm_openstack import demo_network

        return demo_network.main(["--work-dir", args.work_dir, *rest])
    # The demo reads its own loopback simulator over http; pypowervm's warning for that fits a real
    # NovaLink, not this, and would repeat on every look.
    logging.getLogger("pypowervm.adapter").addFilter(lambda record: "Unencrypted" not in record.getMessage())
    try:
        run_demo(Path(args.work_dir))
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

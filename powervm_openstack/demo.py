"""The end-to-end demo (``./run demo``): a server booted through the nova API on the whole PowerVM cloud.

1. bring the all-in-one cloud up (keystone, glance, placement, nova with the PowerVM driver, neutron
   with pvm_sea/pvm_sriov, the SEA and SR-IOV agents, the simulator as the NovaLink host);
2. create a VLAN provider network and subnet, upload a tiny image;
3. boot a server on a port of that network, show it ACTIVE with its partition running on the
   host and the port ACTIVE with its VLAN on both SEAs of the failover pair;
4. delete it, show the partition gone and the VLAN cleaned from both SEAs; take the cloud down.

A table of the steps and their durations ends the output. ``--network-only`` runs the older,
smaller demo (neutron and the SEA agent only, the compute side played by the demo).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from powervm_openstack.deploy.aio import novalink  # noqa: E402
from powervm_openstack.deploy.aio.cloud import Cloud  # noqa: E402

VLAN = 1234


def _wait(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1.0)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


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


def _boot(cloud: Cloud, conn: Any, step: Steps) -> None:
    sim = cloud.sim.url
    net = conn.network.create_network(name=f"vlan{VLAN}", provider_network_type="vlan",
                                      provider_physical_network="default", provider_segmentation_id=VLAN)  # fmt: skip
    conn.network.create_subnet(network_id=net.id, cidr="10.34.0.0/24", ip_version=4)
    image = step("upload a tiny image to glance", lambda: conn.image.create_image(
        name="tiny", data=b"\0" * 65536, disk_format="raw", container_format="bare", allow_duplicates=True))  # fmt: skip
    port = conn.network.create_port(network_id=net.id)
    print(f"    network {net.id} VLAN {VLAN}; SEA VLANs before: {_vlans(sim)}")
    server = step("boot a server through the nova API (to ACTIVE)", lambda: conn.compute.wait_for_server(
        conn.compute.create_server(name="demo-vm", image_id=image.id, flavor_id="1", networks=[{"port": port.id}]),
        status="ACTIVE", wait=300, interval=1))  # fmt: skip
    port = step("port ACTIVE", lambda: _wait(lambda: (p := conn.network.get_port(port.id)).status == "ACTIVE" and p,
                                             "the port to become ACTIVE"))  # fmt: skip
    print(f"    server {server.id} ACTIVE; partition {novalink.partition_state(sim, server.id)}")
    print(f"    port {port.id} {port.status}, vif_type {port.binding_vif_type}; SEA VLANs: {_vlans(sim)}")
    step("delete the server", lambda: (conn.compute.delete_server(server),
                                       conn.compute.wait_for_delete(server, wait=180, interval=1)))  # fmt: skip
    step("VLAN cleaned from both SEAs", lambda: _wait(lambda: all(VLAN not in v for v in novalink.sea_vlans(sim)),
                                                      "the VLAN to leave both SEAs"))  # fmt: skip
    print(f"    partition: {novalink.partition_state(sim, server.id) or 'gone'}; SEA VLANs: {_vlans(sim)}")


def _vlans(url: str) -> str:
    return " | ".join(",".join(str(v) for v in sorted(vlans)) or "-" for vlans in novalink.sea_vlans(url))


def run_demo(work_root: Path) -> None:
    step = Steps()
    cloud = Cloud(work_root)
    try:
        step("bring the cloud up (12 processes)", cloud.up)
        for name, seconds in cloud.steps:
            print(f"    {name:<40} {seconds:6.1f} s")
        _boot(cloud, cloud.connection(), step)
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
    try:
        run_demo(Path(args.work_dir))
    except Exception as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

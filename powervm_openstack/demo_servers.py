"""The demo's server steps on a cloud that is up (``./run demo`` and ``tests/test_demo_servers.py`` run the same).

Through openstacksdk as any client: a VLAN provider network for the SEA and one on the SR-IOV
physical network ``prod``, a small image, one server on a ``pvm_sea`` port and one on a ``direct``
port; each ACTIVE with its partition running on the host, the VLAN on both SEAs of the failover
pair, the vNIC on the labelled physical ports; stop, start and reboot of the first; a snapshot whose
glance image holds the boot disk's bytes; both deleted, partitions gone, VLAN cleaned, vNIC freed.
Every check that fails raises :class:`DemoError` naming what was expected and what was found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from powervm_openstack import demo_network
from powervm_openstack.deploy.aio import novalink

SEA_VLAN = 1234
SRIOV_VLAN = 1235
SRIOV_PHYSNET = "prod"
IMAGE_BYTES = bytes(range(256)) * 256  # 64 KiB, not all zero: the snapshot must carry these bytes


class DemoError(RuntimeError):
    """A demo check failed."""


Step = Callable[[str, Callable[[], Any]], Any]


def wait(check: Callable[[], Any], what: str, timeout: float = 180) -> Any:
    """``check()``'s first truthy value; DemoError naming ``what`` after ``timeout`` s."""
    try:
        return demo_network.wait_for(check, what, timeout)
    except TimeoutError as exc:
        raise DemoError(str(exc)) from None


def expect(ok: bool, what: str, found: Any) -> None:
    if not ok:
        raise DemoError(f"expected {what}; found {found!r}")


class ServerDemo:
    """The steps against ``cloud`` (a :class:`~powervm_openstack.deploy.aio.cloud.Cloud` that is up)."""

    def __init__(self, cloud: Any, step: Step) -> None:
        self.cloud, self.conn, self.step, self.sim = cloud, cloud.connection(), step, cloud.sim.url
        self.created: list[tuple[str, Any]] = []  # (kind, resource) to delete, newest last
        self.facts: dict[str, Any] = {}

    def run(self) -> dict[str, Any]:
        """All the steps; whatever fails, what was created is deleted. Returns what was seen."""
        try:
            self._run()
        finally:
            self._cleanup()
        return self.facts

    def _run(self) -> None:
        sea_net = self.step("create VLAN networks (SEA and SR-IOV)", self._networks)
        image = self.step("upload a small image to glance", self._image)
        sea_port = self.conn.network.create_port(network_id=sea_net[0].id)
        sriov_port = self.conn.network.create_port(network_id=sea_net[1].id, binding_vnic_type="direct")
        self.created += [("port", sea_port), ("port", sriov_port)]
        vm1, vm2 = self.step("boot two servers (pvm_sea, direct SR-IOV) to ACTIVE",
                             lambda: self._boot([("demo-sea", sea_port), ("demo-sriov", sriov_port)], image))  # fmt: skip
        self.step("pvm_sea port ACTIVE, VLAN on both SEAs", lambda: self._sea_port(vm1, sea_port))
        self.step("direct port ACTIVE, vNIC on the labelled ports", lambda: self._sriov_port(vm2, sriov_port))
        for action, status, state in (("stop", "SHUTOFF", "not activated"), ("start", "ACTIVE", "running"),
                                      ("reboot", "ACTIVE", "running")):  # fmt: skip
            self.step(f"{action} {vm1.name}", lambda a=action, s=status, p=state: self._action(vm1, a, s, p))
        self.step(f"snapshot {vm1.name} (glance image = disk bytes)", lambda: self._snapshot(vm1))
        self.step("delete both servers", lambda: self._delete([vm1, vm2]))
        self.step("partitions gone, VLAN cleaned, vNIC freed", lambda: self._cleaned([vm1, vm2]))

    def _networks(self) -> tuple[Any, Any]:
        nets = []
        for name, physnet, vlan in (("demo-sea", "default", SEA_VLAN), ("demo-sriov", SRIOV_PHYSNET, SRIOV_VLAN)):
            net = self.conn.network.create_network(name=name, provider_network_type="vlan",
                                                   provider_physical_network=physnet, provider_segmentation_id=vlan)  # fmt: skip
            self.created.append(("network", net))
            self.conn.network.create_subnet(network_id=net.id, cidr=f"10.{vlan % 250}.0.0/24", ip_version=4)
            nets.append(net)
            print(f"    network {name}: VLAN {vlan} on physical network {physnet}")
        self.facts["vfs_before"] = novalink.sriov_logical_ports(self.sim)
        expect(all(SEA_VLAN not in v for v in novalink.sea_vlans(self.sim)), f"no VLAN {SEA_VLAN} yet",
               novalink.sea_vlans(self.sim))  # fmt: skip
        return nets[0], nets[1]

    def _image(self) -> Any:
        image = self.conn.image.create_image(name="demo-tiny", data=IMAGE_BYTES, disk_format="raw",
                                             container_format="bare", allow_duplicates=True)  # fmt: skip
        self.created.append(("image", image))
        wait(lambda: self.conn.image.get_image(image.id).status == "active", "the image to become active")
        print(f"    image {image.id}: {len(IMAGE_BYTES)} bytes")
        return image

    def _boot(self, specs: list[tuple[str, Any]], image: Any) -> list[Any]:
        servers = []
        for name, port in specs:  # created together: nova builds them at the same time
            server = self.conn.compute.create_server(name=name, image_id=image.id, flavor_id="1",
                                                     networks=[{"port": port.id}])  # fmt: skip
            self.created.append(("server", server))
            servers.append(server)
        servers = [self.conn.compute.wait_for_server(s, status="ACTIVE", wait=300, interval=1) for s in servers]
        for server in servers:
            state = novalink.partition_state(self.sim, server.id)
            expect(state == "running", f"partition of {server.name} running", state)
            print(f"    {server.name} {server.id} ACTIVE; partition {state}")
        return servers

    def _port(self, port: Any, vif_type: str) -> Any:
        port = wait(lambda: (p := self.conn.network.get_port(port.id)).status == "ACTIVE" and p, "the port ACTIVE")
        expect(port.binding_vif_type == vif_type, f"binding vif_type {vif_type}", port.binding_vif_type)
        return port

    def _sea_port(self, server: Any, port: Any) -> None:
        port = self._port(port, "pvm_sea")
        vlans = novalink.sea_vlans(self.sim)
        expect(len(vlans) == 2 and all(SEA_VLAN in v for v in vlans), f"VLAN {SEA_VLAN} on both SEAs", vlans)
        self.facts["sea_vlans"] = vlans
        print(f"    port {port.id} ACTIVE, vif_type pvm_sea; VLAN {SEA_VLAN} on SEAs: {_show(vlans)}")

    def _sriov_port(self, server: Any, port: Any) -> None:
        port = self._port(port, "pvm_sriov")
        vnics = novalink.vnic_ports(self.sim, server.id)
        wanted = sorted(port.binding_vif_details["physical_ports"])
        expect(len(vnics) == 1 and sorted(vnics[0]) == wanted, f"one vNIC on {wanted}", vnics)
        self.facts["vnic_ports"] = vnics[0]
        self.facts["pci_slot"] = port.binding_profile.get("pci_slot")
        print(f"    port {port.id} ACTIVE, vif_type pvm_sriov, pseudo-VF {self.facts['pci_slot']}; "
              f"vNIC on {', '.join(vnics[0])} (redundancy {len(vnics[0])})")  # fmt: skip

    def _action(self, server: Any, action: str, status: str, state: str) -> None:
        if action == "reboot":
            self.conn.compute.reboot_server(server, "SOFT")
            wait(lambda: self.conn.compute.get_server(server.id).task_state is None, "the reboot to end")
        else:
            getattr(self.conn.compute, f"{action}_server")(server)
        self.conn.compute.wait_for_server(server, status=status, wait=180, interval=1)
        found = novalink.partition_state(self.sim, server.id)
        expect(found == state, f"partition {state} after {action}", found)
        print(f"    {server.name} {status}; partition {found}")

    def _snapshot(self, server: Any) -> None:
        disk = novalink.boot_disk_digest(self.sim, server.id)
        expect(disk is not None, "the boot disk's bytes on the simulator", disk)
        image = self.conn.compute.create_server_image(server, name=f"{server.name}-snap", wait=True, timeout=300)
        self.created.append(("image", image))
        data = self.conn.image.download_image(image).content
        digest = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        expect(digest["sha256"] == disk["sha256"], f"the snapshot's bytes = the boot disk's {disk}", digest)
        self.facts["snapshot"] = digest
        print(f"    image {image.id}: {digest['size']} bytes, sha256 {digest['sha256'][:16]}... = the boot disk's")

    def _delete(self, servers: list[Any]) -> None:
        for server in servers:
            self.conn.compute.delete_server(server)
        for server in servers:
            self.conn.compute.wait_for_delete(server, wait=240, interval=1)

    def _cleaned(self, servers: list[Any]) -> None:
        for server in servers:
            state = novalink.partition_state(self.sim, server.id)
            expect(state is None, f"partition of {server.name} gone", state)
        vlans = wait(lambda: _without(novalink.sea_vlans(self.sim), SEA_VLAN), "the VLAN to leave both SEAs")
        vfs = wait(lambda: (f := novalink.sriov_logical_ports(self.sim)) == self.facts["vfs_before"] and f,
                   "the vNIC's VFs to be freed")  # fmt: skip
        self.facts["cleaned"] = True
        print(f"    partitions gone; SEA VLANs: {_show(vlans)}; SR-IOV logical ports in use: {vfs}")

    def _cleanup(self) -> None:
        for kind, resource in reversed(self.created):
            if kind == "server":
                self.conn.compute.delete_server(resource, ignore_missing=True)
                self.conn.compute.wait_for_delete(resource, wait=240, interval=1)
            elif kind == "port":
                self.conn.network.delete_port(resource, ignore_missing=True)
            elif kind == "network":
                self.conn.network.delete_network(resource, ignore_missing=True)
            elif kind == "image":
                self.conn.image.delete_image(resource, ignore_missing=True)


def _without(vlans: list[set[int]], vlan: int) -> list[set[int]] | None:
    return vlans if all(vlan not in s for s in vlans) else None


def _show(vlans: list[set[int]]) -> str:
    return " | ".join(",".join(str(v) for v in sorted(s)) or "-" for s in vlans)

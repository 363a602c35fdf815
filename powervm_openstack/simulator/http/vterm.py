"""Partition virtual terminals as VNC servers, and the NovaLink ``mkvterm``/``rmvterm`` commands for them.

On NovaLink, pypowervm opens a partition's console by running ``mkvterm --id <partition id> --vnc
--local``, which prints the localhost port of a VNC server for that terminal (exit code 3 when it
is already open, still printing the port); ``rmvterm --id <id>`` closes it. This module provides:
- ``VTerms``: per simulator, one VNC server (the RFB 3.8 handshake, no authentication, a blank
  640x480 desktop) per open partition terminal, on 127.0.0.1;
- ``handle``: the admin endpoint ``PUT|DELETE /sim/vterm/<partition id>`` behind the commands;
- ``main``: the commands themselves (``python -m powervm_openstack.simulator.http.vterm mkvterm --id 5
  --vnc --local``), talking to the simulator at ``$POWERVM_SIM_URL``. Tests put wrappers named
  ``mkvterm``/``rmvterm`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import struct
import sys
import threading
from typing import TYPE_CHECKING, Any

from powervm_openstack.simulator.state import xml
from powervm_openstack.simulator.state.resources import Reply

if TYPE_CHECKING:
    from powervm_openstack.simulator.http.context import AppContext

LOG = logging.getLogger(__name__)
_PIXEL_FORMAT = struct.pack(">BBBBHHHBBBxxx", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


class _VncServer(threading.Thread):
    def __init__(self, partition_id: int) -> None:
        super().__init__(name=f"vterm-{partition_id}", daemon=True)
        self.partition_id = partition_id
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()

    def run(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        name = f"partition {self.partition_id}".encode()
        try:
            with conn:
                conn.sendall(b"RFB 003.008\n")
                conn.recv(12)
                conn.sendall(b"\x01\x01")  # one security type: None
                conn.recv(1)
                conn.sendall(struct.pack(">I", 0))
                conn.recv(1)  # ClientInit
                conn.sendall(struct.pack(">HH", 640, 480) + _PIXEL_FORMAT + struct.pack(">I", len(name)) + name)
                while not self._closed.is_set() and conn.recv(4096):
                    pass
        except OSError:
            return

    def close(self) -> None:
        self._closed.set()
        self.sock.close()


class VTerms:
    """The open terminals of one simulator, by partition id."""

    def __init__(self) -> None:
        self._open: dict[int, _VncServer] = {}
        self._lock = threading.Lock()

    def open(self, partition_id: int) -> tuple[int, bool]:
        """(port, newly opened) of the partition's VNC server."""
        with self._lock:
            if partition_id in self._open:
                return self._open[partition_id].port, False
            server = _VncServer(partition_id)
            server.start()
            self._open[partition_id] = server
        LOG.info("Opened the virtual terminal of partition %d as VNC on port %d", partition_id, server.port)
        return server.port, True

    def close(self, partition_id: int) -> bool:
        with self._lock:
            server = self._open.pop(partition_id, None)
        if server is not None:
            server.close()
        return server is not None


def handle(app: AppContext, method: str, path: str) -> Reply:
    """``PUT /sim/vterm/<id>`` opens (answers the port), ``DELETE`` closes; 404 for an unknown partition."""
    terms = app.vterms
    try:
        partition_id = int(path.rsplit("/", 1)[-1])
    except ValueError:
        return Reply(
            400, json.dumps({"error": f"{path}: expected /sim/vterm/<partition id>"}), content_type="application/json"
        )
    with app.store.reading() as view:
        known = [p for kind in ("LogicalPartition", "VirtualIOServer") for p in view.find(kind)
                 if xml.text(p.element, "PartitionID") == str(partition_id)]  # fmt: skip
    if not known:
        return Reply(
            404, json.dumps({"error": f"No partition with id {partition_id}."}), content_type="application/json"
        )
    if method == "PUT":
        port, new = terms.open(partition_id)
        return Reply(200, json.dumps({"port": port, "new": new}), content_type="application/json")
    if method == "DELETE":
        return Reply(200, json.dumps({"closed": terms.close(partition_id)}), content_type="application/json")
    return Reply(405, json.dumps({"error": f"{method} is not allowed on {path}"}), content_type="application/json")


def main(argv: list[str] | None = None) -> int:
    """``mkvterm --id N [--vnc] [--local]`` / ``rmvterm --id N`` against ``$POWERVM_SIM_URL``."""
    import requests

    parser = argparse.ArgumentParser(prog="vterm")
    parser.add_argument("command", choices=["mkvterm", "rmvterm"])
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--vnc", action="store_true")
    parser.add_argument("--local", action="store_true")
    parser.add_argument("--consolesettings")
    args = parser.parse_args(argv)
    url = os.environ.get("POWERVM_SIM_URL", "http://127.0.0.1:12080").rstrip("/")
    resp = requests.request("PUT" if args.command == "mkvterm" else "DELETE", f"{url}/sim/vterm/{args.id}", timeout=30)
    if not resp.ok:
        print(resp.json().get("error", resp.text), file=sys.stderr)
        return 1
    if args.command == "rmvterm":
        return 0
    body: dict[str, Any] = resp.json()
    print(body["port"])
    return 0 if body["new"] else 3


if __name__ == "__main__":
    sys.exit(main())

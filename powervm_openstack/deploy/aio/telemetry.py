"""The optional ``ceilometer-polling`` of the all-in-one cloud's compute node (``Cloud(telemetry=True)``).

It is the stock ceilometer 27 agent with ``--polling-namespaces compute``: it loads our ``powervm.*``
pollsters and ``powervm_local_instances`` discovery from their entry points, and reads the files the
project's renderer makes for a compute node with telemetry enabled (``ceilometer-powervm.conf``,
``polling-powervm.yaml``), the same files the Ansible role installs. Samples go to the agent's own
Prometheus exporter (``prometheus_url``; no broker or keystone needed); notifications are off.
Choices of the all-in-one cloud, not defaults: polls every ``POLL_SECONDS``, and the simulator's
PCM sample interval is set to ``PCM_SECONDS`` (a real NovaLink samples every 30 s, the RMC memory
data every 120 s) so that a test sees two samples within seconds.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from powervm_openstack.deploy.aio.base import HOST, Proc, ServiceDir, script
from powervm_openstack.deploy.child import free_port

POLL_SECONDS = 5
PCM_SECONDS = 2


class Telemetry:
    """The polling agent's settings and process under ``<run dir>/ceilometer``."""

    def __init__(self, root: Path, host: str) -> None:
        self.service = ServiceDir(root, "ceilometer")
        self.host = host
        self.port = free_port(HOST)

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.port}/metrics"

    def settings(self) -> dict[str, Any]:
        """The ``telemetry`` key of the cloud's settings (the renderer turns it into the two files)."""
        return {"enabled": True, "interval": POLL_SECONDS, "ceilometer": {
            "DEFAULT": {"host": self.host},
            "polling": {"cfg_file": str(self.service.etc / "polling-powervm.yaml"), "enable_notifications": False,
                        "enable_prometheus_exporter": True, "prometheus_listen_addresses": [f"{HOST}:{self.port}"]},
        }}  # fmt: skip

    def start(self, files: dict[str, str], sim_url: str) -> Proc:
        """Write the rendered files, shorten the simulator's PCM interval, start the agent."""
        for name in ("ceilometer-powervm.conf", "polling-powervm.yaml"):
            path = self.service.etc / name
            path.write_text(files[name])
            path.chmod(0o600)
        request = urllib.request.Request(f"{sim_url}/sim/pcm", data=json.dumps({"interval": PCM_SECONDS}).encode(),
                                         method="PUT", headers={"Content-Type": "application/json"})  # fmt: skip
        urllib.request.urlopen(request, timeout=30).read()
        argv = [script("ceilometer-polling"), "--config-file", str(self.service.etc / "ceilometer-powervm.conf"),
                "--polling-namespaces", "compute"]  # fmt: skip
        return self.service.start("ceilometer-polling", argv, self.port)

"""Nova: API under gunicorn, conductor and scheduler (one worker each), and nova-compute with the PowerVM driver.

The compute process reads ``nova-compute.conf`` (no database sections: compute has no DB access)
followed by ``nova-powervm.conf`` rendered from the project's settings model, so
``compute_driver`` and ``[powervm]``/``[powervm_rest]`` come from there and nowhere else.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from powervm_openstack.deploy.aio.base import (
    HOST,
    REGION,
    Proc,
    ServiceDir,
    authtoken,
    http_ready,
    password_auth,
    script,
    venv_etc,
    wait_until,
)
from powervm_openstack.deploy.neutron_config import IniValue, render_ini

#: nova 34's default ``[filter_scheduler] enabled_filters`` plus PciPassthroughFilter.
SCHEDULER_FILTERS = ("ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,"
                     "ServerGroupAffinityFilter,PciPassthroughFilter")  # fmt: skip


@dataclasses.dataclass
class NovaDatabases:
    api: str
    cell0: str
    cell1: str


def _common(svc: ServiceDir, transport_url: str, keystone_url: str, host: str) -> dict[str, dict[str, IniValue]]:
    return {
        "DEFAULT": {"transport_url": transport_url, "state_path": str(svc.dir / "state"), "host": host,
                    "my_ip": HOST, "use_stderr": True, "enabled_apis": "osapi_compute"},
        "api": {"auth_strategy": "keystone"},
        "wsgi": {"api_paste_config": str(svc.etc / "api-paste.ini")},
        "service_user": {"send_service_user_token": True, **password_auth(keystone_url, "nova")},
        "placement": password_auth(keystone_url, "placement") | {"username": "nova"},
        "neutron": password_auth(keystone_url, "nova"),
        "glance": {"region_name": REGION},
        "vnc": {"enabled": False},
        "oslo_messaging_notifications": {"driver": "noop"},
        "oslo_concurrency": {"lock_path": str(svc.dir / "lock")},
        "conductor": {"workers": 1},
        # The compute host is mapped to cell1 by the scheduler within seconds, without nova-manage.
        "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": 2},
        # PCI requests of neutron `direct` ports are scheduled by this filter only: nova 34 keeps
        # devices tagged with a physical_network out of placement ([pci] report_in_placement).
        "filter_scheduler": {"enabled_filters": SCHEDULER_FILTERS},
        **authtoken(keystone_url, "nova"),
    }  # fmt: skip


class Nova:
    """The nova services of one cloud; :meth:`prepare` migrates, then the start methods run the processes."""

    def __init__(self, root: Path, dbs: NovaDatabases, transport_url: str, keystone_url: str, host: str) -> None:
        self.svc = ServiceDir(root, "nova")
        self.svc.env["OS_NOVA_CONFIG_DIR"] = str(self.svc.etc)
        # The simulator surfaces disks mapped to NovaLink there (network.start_simulator): snapshots read them.
        self.svc.env["POWERVM_DEVICE_ROOT"] = str((root / "novalink" / "dev").resolve())
        self.dbs = dbs
        self.transport_url, self.keystone_url = transport_url, keystone_url
        self.conf = self.svc.etc / "nova.conf"
        self.compute_conf = self.svc.etc / "nova-compute.conf"
        sections = _common(self.svc, transport_url, keystone_url, host)
        self.compute_conf.write_text(render_ini(sections))
        sections["api_database"] = {"connection": dbs.api}
        sections["database"] = {"connection": dbs.cell1}
        self.conf.write_text(render_ini(sections))
        shutil.copyfile(venv_etc("nova", "api-paste.ini"), self.svc.etc / "api-paste.ini")

    def prepare(self) -> None:
        """Migrate the API, cell0 and cell1 databases and register the cells."""
        manage = [script("nova-manage"), "--config-file", str(self.conf)]
        self.svc.run("nova-manage", [*manage, "api_db", "sync"])
        self.svc.run("nova-manage", [*manage, "cell_v2", "map_cell0", "--database_connection", self.dbs.cell0])
        self.svc.run("nova-manage", [*manage, "cell_v2", "create_cell", "--name", "cell1"])
        self.svc.run("nova-manage", [*manage, "db", "sync"])

    def start_api(self) -> tuple[Proc, str]:
        """nova-api under gunicorn; return it and the compute endpoint URL."""
        proc = self.svc.start_wsgi("nova-api", "nova.wsgi.osapi_compute:application", threads=8)
        url = f"http://{HOST}:{proc.port}/v2.1"
        wait_until(proc, http_ready(url))
        return proc, url

    def start_services(self, powervm_conf: Path) -> list[Proc]:
        """Conductor, scheduler and compute (their readiness is checked by the caller via the API)."""
        return [*self.start_controller(), self.start_compute(powervm_conf)]

    def start_controller(self) -> list[Proc]:
        """Conductor and scheduler, one process each."""
        return [self.svc.start(name, [script(name), "--config-file", str(self.conf)])
                for name in ("nova-conductor", "nova-scheduler")]  # fmt: skip

    def start_compute(self, powervm_conf: Path) -> Proc:
        """nova-compute reading ``nova-compute.conf`` (this host's name, no database) and then ``powervm_conf``."""
        argv = [script("nova-compute"), "--config-file", str(self.compute_conf), "--config-file", str(powervm_conf)]
        return self.svc.start("nova-compute", argv)

    def write_powervm_conf(self, text: str) -> Path:
        """Write the rendered ``nova-powervm.conf`` (it holds the REST password: owner only)."""
        path = self.svc.etc / "nova-powervm.conf"
        path.write_text(text)
        path.chmod(0o600)
        return path

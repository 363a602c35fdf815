"""Placement: one API with keystone auth."""

from __future__ import annotations

from pathlib import Path

from powervm_openstack.deploy.aio.base import HOST, Proc, ServiceDir, authtoken, http_ready, script, wait_until
from powervm_openstack.deploy.neutron_config import render_ini


def start(root: Path, db_url: str, keystone_url: str) -> Proc:
    """Set placement up in ``root/placement`` and serve it."""
    svc = ServiceDir(root, "placement")
    svc.env["OS_PLACEMENT_CONFIG_DIR"] = str(svc.etc)
    conf = svc.etc / "placement.conf"
    conf.write_text(render_ini({
        "DEFAULT": {"use_stderr": True},
        "placement_database": {"connection": db_url},
        "api": {"auth_strategy": "keystone"},
        **authtoken(keystone_url, "placement"),
    }))  # fmt: skip
    svc.run("db-sync", [script("placement-manage"), "--config-file", str(conf), "db", "sync"])
    proc = svc.start_wsgi("placement-api", "placement.wsgi.api:application")
    wait_until(proc, http_ready(f"http://{HOST}:{proc.port}/"))
    return proc

"""Glance: one API with the file store in the run directory, keystone auth."""

from __future__ import annotations

import shutil
from pathlib import Path

from powervm_openstack.deploy.aio.base import (
    HOST,
    Proc,
    ServiceDir,
    authtoken,
    http_ready,
    script,
    venv_etc,
    wait_until,
)
from powervm_openstack.deploy.neutron_config import render_ini


def start(root: Path, db_url: str, keystone_url: str) -> Proc:
    """Set glance up in ``root/glance`` and serve it (images under ``root/glance/images``)."""
    svc = ServiceDir(root, "glance")
    svc.env["OS_GLANCE_CONFIG_DIR"] = str(svc.etc)
    shutil.copyfile(venv_etc("glance", "glance-api-paste.ini"), svc.etc / "glance-api-paste.ini")
    conf = svc.etc / "glance-api.conf"
    conf.write_text(render_ini({
        "DEFAULT": {"use_stderr": True,
                    "enabled_backends": "fs:file"},
        "database": {"connection": db_url},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": str(svc.dir / "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": str(svc.dir / "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": str(svc.dir / "tasks")},
        "paste_deploy": {"flavor": "keystone", "config_file": str(svc.etc / "glance-api-paste.ini")},
        "oslo_concurrency": {"lock_path": str(svc.dir / "lock")},
        **authtoken(keystone_url, "glance"),
    }))  # fmt: skip
    svc.run("db-sync", [script("glance-manage"), "--config-file", str(conf), "db_sync"])
    proc = svc.start_wsgi("glance-api", "glance.wsgi.api:application")
    wait_until(proc, http_ready(f"http://{HOST}:{proc.port}/versions"))
    return proc

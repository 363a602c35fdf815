"""Keystone: fernet tokens, a migrated database, the bootstrap admin and its own catalog entry."""

from __future__ import annotations

from pathlib import Path

from powervm_openstack.deploy.aio.base import (
    ADMIN_PASSWORD,
    HOST,
    REGION,
    Proc,
    ServiceDir,
    http_ready,
    script,
    wait_until,
)
from powervm_openstack.deploy.neutron_config import render_ini


def start(root: Path, db_url: str) -> tuple[Proc, str]:
    """Set keystone up in ``root/keystone`` and serve it; return the process and its ``/v3`` URL."""
    svc = ServiceDir(root, "keystone")
    svc.env["OS_KEYSTONE_CONFIG_DIR"] = str(svc.etc)
    conf = svc.etc / "keystone.conf"
    conf.write_text(render_ini({
        "DEFAULT": {"use_stderr": True},
        "database": {"connection": db_url},
        # bcrypt's fewest rounds: this test cloud's passwords are generated; at keystone's default 12
        # every logon (each tempest user, each CLI call) costs a quarter second of a 2-core machine's CPU
        "identity": {"password_hash_rounds": 4},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": str(svc.dir / "fernet-keys")},
        "credential": {"key_repository": str(svc.dir / "credential-keys")},
        "oslo_concurrency": {"lock_path": str(svc.dir / "lock")},
    }))  # fmt: skip
    manage = [script("keystone-manage"), "--config-file", str(conf)]
    svc.run("db-sync", [*manage, "db_sync"])
    svc.run("fernet-setup", [*manage, "fernet_setup", "--keystone-user", "root", "--keystone-group", "root"])
    svc.run("credential-setup", [*manage, "credential_setup", "--keystone-user", "root", "--keystone-group", "root"])
    proc = svc.start_wsgi("keystone", "keystone.wsgi.api:application")
    url = f"http://{HOST}:{proc.port}/v3"
    svc.run("bootstrap", [*manage, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                          "--bootstrap-admin-url", url, "--bootstrap-public-url", url,
                          "--bootstrap-internal-url", url, "--bootstrap-region-id", REGION])  # fmt: skip
    wait_until(proc, http_ready(url))
    return proc, url

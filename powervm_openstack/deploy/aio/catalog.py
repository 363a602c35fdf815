"""The keystone catalog, service users and flavors of the all-in-one cloud, through one openstacksdk connection.

One process instead of ``openstack`` CLI calls (each costs seconds to start).
"""

from __future__ import annotations

from typing import Any

from powervm_openstack.deploy.aio.base import ADMIN_PASSWORD, REGION, SERVICE_PASSWORD

SERVICE_USERS = ("nova", "neutron", "glance", "placement")
FLAVORS = (("pvm.tiny", "1", 1024, 1, 1), ("pvm.small", "2", 2048, 2, 2))  # name, id, MB, vCPUs, GB


def admin_auth(keystone_url: str) -> dict[str, str]:
    """The admin credentials (``openstack`` CLI environment or clouds.yaml ``auth``)."""
    return {"auth_url": keystone_url, "username": "admin", "password": ADMIN_PASSWORD, "project_name": "admin",
            "user_domain_name": "Default", "project_domain_name": "Default"}  # fmt: skip


def connect(keystone_url: str) -> Any:
    """An openstacksdk connection as the bootstrap admin."""
    import openstack

    return openstack.connect(auth=admin_auth(keystone_url), region_name=REGION, identity_api_version="3",
                             auth_type="password")  # fmt: skip


def create_service_users(conn: Any) -> None:
    """Project ``service`` and one user per service, each admin and service there."""
    project = conn.identity.create_project(name="service", domain_id="default")
    roles = [conn.identity.find_role(name) for name in ("admin", "service")]
    for name in SERVICE_USERS:
        user = conn.identity.create_user(name=name, password=SERVICE_PASSWORD, domain_id="default",
                                         default_project_id=project.id)  # fmt: skip
        for role in roles:
            if role is not None:
                conn.identity.assign_project_role_to_user(project, user, role)


def register(conn: Any, name: str, kind: str, url: str) -> None:
    """Service ``name`` of type ``kind`` with public and internal endpoints at ``url``."""
    service = conn.identity.create_service(name=name, type=kind)
    for interface in ("public", "internal"):
        conn.identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=REGION)


def create_flavors(conn: Any) -> None:
    for name, flavor_id, ram, vcpus, disk in FLAVORS:
        conn.compute.create_flavor(name=name, id=flavor_id, ram=ram, vcpus=vcpus, disk=disk)

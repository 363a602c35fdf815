"""Firmware rules per object family; ``install()`` registers them with ``kinds`` and ``jobs``."""

from __future__ import annotations

_installed = False


def install() -> None:
    """Register every family's behaviours and jobs (idempotent)."""
    global _installed
    if _installed:
        return
    from powervm_openstack.simulator.model import network, partition

    network.install()
    partition.install()
    _installed = True

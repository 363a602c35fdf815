"""Firmware rules per object family; ``install()`` registers them with ``kinds`` and ``jobs``."""

from __future__ import annotations

_installed = False


def install() -> None:
    """Register every family's behaviours and jobs (idempotent)."""
    global _installed
    if _installed:
        return
    from powervm_openstack.simulator.http import files
    from powervm_openstack.simulator.model import (
        console,
        fc,
        filestore,
        host_jobs,
        iscsi,
        lpar_rules,
        mobility,
        network,
        partition,
        partition_jobs,
        sriov,
        ssp,
        storage,
        vfc,
        vios_dlpar,
        vnets,
        vscsi,
        vstor_jobs,
    )

    console.install()
    network.install()
    vnets.install()
    partition.install()
    lpar_rules.install()  # after partition: wraps its power jobs with the system's resource accounting
    storage.install()
    vscsi.install()
    vfc.install()  # after vscsi: wraps its VIOS rules
    vios_dlpar.install()  # after vfc: checks a VIOS's memory/processors first
    ssp.install()
    files.install()
    host_jobs.install()
    fc.install()
    vstor_jobs.install()  # after fc: extends its LUARecovery
    iscsi.install()
    filestore.install()
    partition_jobs.install()
    sriov.install()
    mobility.install()
    _installed = True

"""VNC consoles of partitions, through NovaLink's ``mkvterm`` (local REST API only).

pypowervm opens the partition's virtual terminal as a VNC server on the NovaLink partition and
puts a repeater on ``[vnc] server_proxyclient_address`` port 5901 that nova's noVNC proxy reaches
with the partition UUID as the path.
"""

from __future__ import annotations

import logging
from typing import Any

from nova import exception as nova_exc
from nova.console import type as ctype
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import vterm as pvm_vterm

from powervm_openstack.compute import vm

LOG = logging.getLogger(__name__)


def vnc(adapter: Any, instance: Any, conf: Any) -> ctype.ConsoleVNC:
    """Open (or reuse) the partition's VNC console.

    :raises nova.exception.ConsoleTypeUnavailable: the driver talks to a remote REST API, or NovaLink
        could not open the terminal.
    :raises nova.exception.InstanceNotFound: the instance has no partition.
    """
    lpar_uuid = vm.get(adapter, instance).uuid
    if not adapter.traits.local_api:
        LOG.warning("VNC console of instance %s: the REST API is remote; consoles need the local API", instance.uuid)
        raise nova_exc.ConsoleTypeUnavailable(console_type="vnc")
    pv = conf.powervm
    host = conf.vnc.server_proxyclient_address
    try:
        port = pvm_vterm.open_remotable_vnc_vterm(adapter, lpar_uuid, host, vnc_path=lpar_uuid,
                                                  use_x509_auth=pv.vnc_use_x509_auth, ca_certs=pv.vnc_ca_certs,
                                                  server_cert=pv.vnc_server_cert, server_key=pv.vnc_server_key)  # fmt: skip
    except (pvm_exc.Error, OSError) as err:
        LOG.error("VNC console of instance %s (partition %s) did not open: %s", instance.uuid, lpar_uuid, err)
        raise nova_exc.ConsoleTypeUnavailable(console_type="vnc") from err
    LOG.info("VNC console of instance %s: %s:%s path %s", instance.uuid, host, port, lpar_uuid)
    return ctype.ConsoleVNC(host=host, port=port, internal_access_path=lpar_uuid)


def stop_repeaters() -> None:
    """Stop the VNC repeaters pypowervm started in this process (its listener threads are not daemons)."""
    listeners = getattr(pvm_vterm, "_VNC_REMOTE_PORT_TO_LISTENER", {})
    for port, listener in list(listeners.items()):
        listener.stop()
        listener.join(timeout=10)
        listeners.pop(port, None)

"""The VIF plug/unplug notification the compute side posts and the network agents act on.

The compute driver creates (or deletes) a partition's adapter, then posts a
``CUSTOM_CLIENT_EVENT`` whose data is the adapter's URI and whose detail is JSON::

    {"provider": "NOVA_PVM_VIF", "action": "plug" | "unplug", "mac": "fa:16:3e:..", "type": "pvm_sea"}

(the format nova-powervm used, so mixed deployments keep working).
"""

from __future__ import annotations

import dataclasses
import json
import logging

from pypowervm import adapter as pvm_adapter
from pypowervm.wrappers import event as pvm_event

LOG = logging.getLogger(__name__)

PROVIDER = "NOVA_PVM_VIF"
ACTIONS = ("plug", "unplug")


@dataclasses.dataclass(frozen=True)
class VifEvent:
    action: str
    mac: str
    vif_type: str
    uri: str


def norm_mac(mac: str) -> str:
    """``FA163E0A0B0C`` or ``fa:16:3e:0a:0b:0c`` -> ``fa:16:3e:0a:0b:0c`` (neutron's form)."""
    raw = mac.replace(":", "").replace("-", "").lower()
    if len(raw) != 12 or any(c not in "0123456789abcdef" for c in raw):
        raise ValueError(f"MAC address {mac!r} is not 12 hexadecimal digits.")
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def pvm_mac(mac: str) -> str:
    """``fa:16:3e:0a:0b:0c`` -> ``FA163E0A0B0C`` (PowerVM's form)."""
    return norm_mac(mac).replace(":", "").upper()


def post(adapter: pvm_adapter.Adapter, adapter_href: str, action: str, mac: str, vif_type: str) -> None:
    """Post the plug/unplug notification for one adapter."""
    if action not in ACTIONS:
        raise ValueError(f"VIF event action {action!r} is not one of {', '.join(ACTIONS)}.")
    detail = json.dumps({"provider": PROVIDER, "action": action, "mac": norm_mac(mac), "type": vif_type})
    pvm_event.Event.bld(adapter, adapter_href, detail).create()
    LOG.info("Posted VIF %s event for %s (%s)", action, norm_mac(mac), vif_type)


def parse(event_type: str, data: str, detail: str) -> VifEvent | None:
    """The VIF event in a raw event, or None when it is not one (or is malformed)."""
    if event_type != "CUSTOM_CLIENT_EVENT" or not detail:
        return None
    try:
        body = json.loads(detail)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("provider") != PROVIDER or body.get("action") not in ACTIONS:
        return None
    try:
        return VifEvent(body["action"], norm_mac(str(body.get("mac", ""))), str(body.get("type", "")), data)
    except ValueError:
        LOG.warning("Ignoring VIF event with a malformed MAC: %s", detail[:200])
        return None

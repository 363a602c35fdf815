"""Pure helpers over Cinder connection data: FC ITLs per VIOS, WWPN forms, iSCSI targets.

No I/O: these take plain values (connection data, port WWPNs) and return plain values, so the
attach adapters stay thin and these are unit-tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def wwpn(value: str) -> str:
    """A WWPN in the form PowerVM and os-brick compare: 16 lowercase hex digits, no colons."""
    return value.replace(":", "").strip().lower()


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def fc_lun(data: dict[str, Any]) -> int:
    """The LUN id Cinder gave (``target_lun``); a ValueError naming it when absent or not a number."""
    lun = data.get("target_lun")
    try:
        return int(lun)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"fibre_channel connection data has target_lun {lun!r}; a LUN number is required") from None


def fc_paths(initiators: Iterable[str], data: dict[str, Any]) -> list[tuple[str, str]]:
    """(initiator, target) pairs from ``initiators`` (one VIOS's ports) to the volume's targets.

    With ``initiator_target_map`` (zoning known to Cinder) an initiator only reaches its mapped
    targets and initiators absent from the map reach nothing; without it every initiator is tried
    against every ``target_wwn``.
    """
    itmap = {wwpn(k): [wwpn(t) for t in _as_list(v)] for k, v in (data.get("initiator_target_map") or {}).items()}
    targets = [wwpn(t) for t in _as_list(data.get("target_wwn") or data.get("target_wwns"))]
    pairs = []
    for initiator in sorted({wwpn(i) for i in initiators}):
        reach = itmap.get(initiator, []) if itmap else targets
        pairs += [(initiator, t) for t in reach]
    return pairs


def npiv_pairs(wwpns: Iterable[str]) -> list[tuple[str, str]]:
    """Split a flat list of virtual WWPNs into the (primary, secondary) pairs of the client adapters.

    PowerVM gives each virtual FC client adapter two WWPNs; the second is used on the target host
    during live migration, so Cinder must be given both (IBM HSCLA319 otherwise).
    """
    flat = [wwpn(w) for w in wwpns]
    if len(flat) % 2:
        raise ValueError(f"virtual FC WWPNs come in pairs; got {len(flat)}: {', '.join(flat)}")
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def iscsi_targets(data: dict[str, Any], multipath: bool) -> list[tuple[str, str, int | None]]:
    """(portal, IQN, LUN) to log in to: all of ``target_portals`` with multipath, else ``target_portal``."""
    if multipath and data.get("target_portals"):
        portals, iqns = _as_list(data["target_portals"]), _as_list(data.get("target_iqns"))
        luns = _as_list(data.get("target_luns")) or [data.get("target_lun")] * len(portals)
        if len(iqns) != len(portals) or len(luns) != len(portals):
            raise ValueError("iscsi connection data: target_portals, target_iqns and target_luns differ in length")
        return [(p, i, _lun(n)) for p, i, n in zip(portals, iqns, luns, strict=True)]
    if not data.get("target_portal") or not data.get("target_iqn"):
        raise ValueError("iscsi connection data needs target_portal and target_iqn")
    return [(data["target_portal"], data["target_iqn"], _lun(data.get("target_lun")))]


def _lun(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def chap(data: dict[str, Any], prefix: str = "") -> tuple[str | None, str | None, str | None]:
    """(method, user, password) of CHAP (``prefix`` ``discovery_`` for discovery CHAP)."""
    method = data.get(f"{prefix}auth_method")
    if not method or str(method).lower() == "none":
        return None, None, None
    return str(method).lower(), data.get(f"{prefix}auth_username"), data.get(f"{prefix}auth_password")

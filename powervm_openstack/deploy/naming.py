"""Private, sweepable names for what one run creates: ``pvm<pid>x<hex>`` run ids."""

from __future__ import annotations

import os
import re
import secrets

RUN_ID_RE = re.compile(r"^pvm(\d+)x[0-9a-f]{6}")


def make_run_id() -> str:
    """Return a new run id, ``pvm<pid>x<6 hex digits>``, usable as a database and vhost name."""
    return f"pvm{os.getpid()}x{secrets.token_hex(3)}"


def run_id_is_stale(name: str) -> bool:
    """Tell whether ``name`` starts with a run id whose process no longer exists on this machine.

    Names that do not start with a run id are never stale.
    """
    match = RUN_ID_RE.match(name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def check_identifier(name: str) -> None:
    # Names go into SQL and URLs unquoted, so keep them to a safe alphabet.
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        raise ValueError(f"unsafe service object name {name!r}: use letters, digits and '_' (max 64)")

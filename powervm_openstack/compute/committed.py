"""Changes whose reply may be lost: try, and on a transient failure look before trying again.

A 5xx, a "VIOS busy" answer or a dropped connection does not say whether PowerVM applied the
change: the reply may have been lost after the commit. Repeating a create blindly would make a
second partition or a second client adapter (or fail on the first one's UUID or MAC); giving up
would lose a change that happened. So after each transient failure the caller's ``committed``
check reads PowerVM's state; if the change is there, it is taken as done. Any other failure (a
4xx refusal) is PowerVM's answer and is raised at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from pypowervm import exceptions as pvm_exc

LOG = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 3
DELAY_S = 1.0


def transient(err: BaseException) -> bool:
    """True for an answer that leaves the outcome open: 5xx (VIOS busy included) or no answer at all."""
    if isinstance(err, pvm_exc.HttpError):
        return err.response is not None and int(err.response.status or 0) >= 500
    return isinstance(err, pvm_exc.ConnectionError)


def apply(what: str, attempt: Callable[[], T], committed: Callable[[], T | None],
          attempts: int = ATTEMPTS, delay_s: float = DELAY_S) -> T:  # fmt: skip
    """Run ``attempt`` until it succeeds or ``committed()`` finds its change applied.

    :param what: the change, for the log ("create partition X").
    :param committed: reads PowerVM's state; the change's result if it is there, else None.
    :raises: the last failure, once ``attempts`` transient failures left nothing committed, or
        at once for a failure that is not transient.
    """
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as err:
            if not transient(err):
                raise
            found = committed()
            if found is not None:
                LOG.warning("%s: PowerVM answered %s, but the change was committed; taking it as done", what,
                            _short(err))  # fmt: skip
                return found
            if number == attempts:
                raise
            LOG.warning("%s: PowerVM answered %s and nothing was committed; trying again (%d/%d)", what,
                        _short(err), number + 1, attempts)  # fmt: skip
            time.sleep(delay_s * number)
    raise AssertionError("unreachable")


def _short(err: BaseException) -> str:
    if isinstance(err, pvm_exc.HttpError) and err.response is not None:
        return f"HTTP {err.response.status}"
    return type(err).__name__

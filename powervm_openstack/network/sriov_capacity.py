"""Pure validation of SR-IOV vNIC capacity, max capacity and redundancy.

Used by the ``pvm_sriov`` mechanism driver at bind time and meant to be reused by the SR-IOV agent
for its configuration defaults, so both sides refuse the same values with the same words.

PowerVM expresses a VF's capacity as a fraction of the physical port: ``0.02`` is 2 %. Firmware
accepts at most four decimal places, and a capacity must be a whole, positive multiple of the
port's minimum capacity granularity (``MinimumEthernetCapacityGranularity``). Values are handled as
:class:`~decimal.Decimal` so that ``0.1`` is a multiple of ``0.02`` (binary floats say it is not).
"""

import dataclasses
import decimal
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from powervm_openstack.network import constants as c
from powervm_openstack.network import exceptions as exc

MAX_DECIMALS = 4
_ONE = Decimal(1)
_UNSET_WORDS = frozenset({"", "none", "null"})


@dataclasses.dataclass(frozen=True)
class SriovPort:
    """One SR-IOV physical port as the agent reports it."""

    location_code: str
    free_capacity: Decimal
    granularity: Decimal
    free_logical_ports: int | None = None


def is_unset(value: Any) -> bool:
    """Tell whether a profile or config value means "not given" (None, empty, 'None', 'null')."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _UNSET_WORDS)


def _to_decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise exc.InvalidCapacity(f"{what} {value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise exc.InvalidCapacity(f"{what} {value!r} is not a number") from None
    if not number.is_finite():
        raise exc.InvalidCapacity(f"{what} {value!r} is not a finite number")
    return number


def parse_capacity(value: Any, what: str = "capacity") -> Decimal | None:
    """Parse a capacity (or max capacity) given as a number or a numeric string.

    :returns: the value as a Decimal, or None when the value is unset (see :func:`is_unset`).
    :raises InvalidCapacity: the value is not a number, is not greater than 0.0 and at most 1.0,
        or has more than four decimal places. The message names the value and the allowed range.
    """
    if is_unset(value):
        return None
    number = _to_decimal(value, what)
    if not Decimal(0) < number <= _ONE:
        raise exc.InvalidCapacity(
            f"{what} {value!r} is out of range: it must be greater than 0.0 and at most 1.0 (0.02 is 2 %)"
        )
    if -number.normalize().as_tuple().exponent > MAX_DECIMALS:
        raise exc.InvalidCapacity(
            f"{what} {value!r} has more than {MAX_DECIMALS} decimal places; PowerVM accepts at most "
            f"{MAX_DECIMALS} (e.g. 0.0250)"
        )
    return number


def check_multiple_of_granularity(capacity: Decimal, granularity: Decimal, location_code: str) -> None:
    """Check that ``capacity`` is a whole, positive multiple of a port's granularity.

    :raises InvalidCapacity: naming the capacity, the port and the nearest allowed values.
    """
    if granularity <= 0:
        raise exc.InvalidCapacity(f"port {location_code} reports an unusable granularity {granularity}")
    if capacity % granularity == 0:
        return
    lower = (capacity // granularity) * granularity
    allowed = [str(v) for v in (lower, lower + granularity) if Decimal(0) < v <= _ONE]
    raise exc.InvalidCapacity(
        f"capacity {capacity} is not a multiple of the granularity {granularity} of port "
        f"{location_code}; nearest allowed: {' or '.join(allowed)}"
    )


def check_maxcapacity(capacity: Decimal | None, maxcapacity: Decimal | None) -> None:
    """Check that a max capacity is not below the guaranteed capacity.

    :raises InvalidCapacity: when both are set and ``maxcapacity < capacity``.
    """
    if capacity is not None and maxcapacity is not None and maxcapacity < capacity:
        raise exc.InvalidCapacity(
            f"maxcapacity {maxcapacity} is below capacity {capacity}; it must be from {capacity} to 1.0"
        )


def parse_redundancy(value: Any, what: str = "redundancy") -> int:
    """Parse a redundancy: the number of VFs (each on its own physical port) backing one vNIC.

    :returns: an int of at least 1.
    :raises InvalidRedundancy: the value is not a whole number of at least 1.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number < 1:
        raise exc.InvalidRedundancy(f"{what} {value!r} is not allowed: it must be a whole number of 1 or more")
    return number


def port_from_report(entry: Mapping[str, Any]) -> SriovPort:
    """Build a :class:`SriovPort` from one entry of the agent's ``physnet_ports`` report.

    :raises InvalidCapacity: a key is missing or a value is not usable.
    """
    try:
        location_code = str(entry[c.PORT_LOCATION_CODE])
        free = _to_decimal(entry[c.PORT_FREE_CAPACITY], f"free capacity of {location_code}")
        granularity = _to_decimal(entry[c.PORT_GRANULARITY], f"granularity of {location_code}")
    except (KeyError, TypeError) as err:
        raise exc.InvalidCapacity(f"SR-IOV port report {entry!r} lacks {err}") from None
    free_lps = entry.get(c.PORT_FREE_LOGICAL_PORTS)
    return SriovPort(location_code, free, granularity, None if free_lps is None else int(free_lps))


def refusal_reason(port: SriovPort, capacity: Decimal | None) -> str | None:
    """Say why ``port`` cannot host one more VF of ``capacity`` (None: each port's minimum).

    :returns: None when the port can host it, otherwise a short reason naming the numbers.
    """
    if port.free_logical_ports is not None and port.free_logical_ports < 1:
        return f"{port.location_code} (no free logical port)"
    try:
        check_multiple_of_granularity(capacity or port.granularity, port.granularity, port.location_code)
    except exc.InvalidCapacity as err:
        return f"{port.location_code} ({err})"
    needed = capacity or port.granularity
    if port.free_capacity < needed:
        return f"{port.location_code} (free capacity {port.free_capacity} < {needed})"
    return None


def choose_ports(
    physnet: str, ports: Iterable[SriovPort], redundancy: int, capacity: Decimal | None
) -> list[SriovPort]:
    """Return the ports of ``physnet`` able to host a VF of ``capacity``, most free capacity first.

    :returns: at least ``redundancy`` ports (all usable ones, so the compute side may pick).
    :raises InsufficientSriovPorts: fewer than ``redundancy`` ports are usable; the message says
        how many were needed and found, and why each other labelled port was left out.
    """
    ports = list(ports)
    usable = [p for p in ports if refusal_reason(p, capacity) is None]
    if len(usable) >= redundancy:
        return sorted(usable, key=lambda p: (-p.free_capacity, p.location_code))
    wanted = "each port's minimum capacity" if capacity is None else f"capacity {capacity}"
    reasons = [r for r in (refusal_reason(p, capacity) for p in ports) if r]
    raise exc.InsufficientSriovPorts(
        f"physical network {physnet!r} needs {redundancy} SR-IOV physical port(s) able to host a VF of "
        f"{wanted}; found {len(usable)} of {len(ports)} labelled"
        + (f"; left out: {', '.join(reasons)}" if reasons else "")
    )

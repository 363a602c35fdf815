"""Flavor + ``powervm:*`` extra specs -> the attributes of a partition (pure; no REST, no nova objects).

The result is the attribute dict pypowervm's ``LPARBuilder`` takes. Each ``powervm:`` key is parsed
and range-checked here, so a bad flavor fails the build with a message naming the key, its value
and what is allowed; checks that need the managed system (memory region size, compatibility modes
the host supports) are left to ``LPARBuilder`` and the REST API, whose messages are passed on.

Extra specs (all optional):

==============================  =================================================================
``powervm:min_mem`` / max_mem   memory bounds in MB for DLPAR (default: the flavor's memory)
``powervm:min_vcpu`` / max_vcpu virtual (or dedicated) processor bounds (default: the flavor's vCPUs)
``powervm:proc_units``          shared processing units (default: vCPUs x ``proc_units_factor``)
``powervm:min_proc_units`` /    bounds of the processing units
``powervm:max_proc_units``
``powervm:dedicated_proc``      true: whole dedicated processors instead of shared units
``powervm:dedicated_sharing_mode``  share_idle_procs | keep_idle_procs | share_idle_procs_active |
                                share_idle_procs_always (dedicated only)
``powervm:uncapped``            false: capped shared processors (default true)
``powervm:shared_weight``       uncapped weight 0-255 (default ``uncapped_proc_weight``)
``powervm:processor_compatibility``  e.g. POWER8, POWER9_Base ('+' stands for '_Plus')
``powervm:shared_proc_pool_name``  shared processor pool by name (resolved by the caller)
``powervm:availability_priority``  0-255
``powervm:srr_capability``      simplified remote restart, true/false (default true)
``powervm:secure_boot``         secure boot policy 0-9
``powervm:enable_lpar_metric``  true/false
``powervm:ppt_ratio``           physical page table ratio 1:64 ... 1:4096
``powervm:enforce_affinity_check``  true/false
==============================  =================================================================

The ``powervm:ibmi_*`` keys of IBM i partitions are parsed by ``ibmi``, not here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from powervm_openstack.compute.exception import InvalidExtraSpec

PREFIX = "powervm:"
SHARING_MODES = {
    "share_idle_procs": "sre idle proces",
    "keep_idle_procs": "keep idle procs",
    "share_idle_procs_active": "sre idle procs active",
    "share_idle_procs_always": "sre idle procs always",
}
PPT_RATIOS = ("1:64", "1:128", "1:256", "1:512", "1:1024", "1:2048", "1:4096")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclasses.dataclass(frozen=True)
class Flavor:
    """What a partition is sized from: the flavor's vCPUs, memory and extra specs."""

    vcpus: int
    memory_mb: int
    extra_specs: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class Defaults:
    """Host-wide defaults from ``[powervm]``."""

    proc_units_factor: float = 0.1
    uncapped_weight: int = 64


def _bool(key: str, value: str) -> bool:
    low = str(value).strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidExtraSpec(key=key, value=value, reason="expected true or false")


def _int(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidExtraSpec(key=key, value=value, reason=f"expected a whole number {low}-{high}") from None
        if not low <= number <= high:
            raise InvalidExtraSpec(key=key, value=value, reason=f"must be {low}-{high}")
        return number

    return parse


def _units(key: str, value: str) -> float:
    try:
        number = round(float(str(value).strip()), 2)
    except ValueError:
        raise InvalidExtraSpec(key=key, value=value, reason="expected a number of processing units") from None
    if number < 0.05:
        raise InvalidExtraSpec(key=key, value=value, reason="must be at least 0.05 processing units")
    return number


def _choice(mapping: Mapping[str, str]) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in mapping:
            raise InvalidExtraSpec(key=key, value=value, reason=f"allowed: {', '.join(mapping)}")
        return mapping[value]

    return parse


def _compat(key: str, value: str) -> str:
    mode = str(value).strip().replace("+", "_Plus")
    if not mode or not mode.replace("_", "").isalnum():
        raise InvalidExtraSpec(key=key, value=value, reason="expected a mode such as POWER8 or POWER9_Base")
    return mode


def _text(key: str, value: str) -> str:
    if not str(value).strip():
        raise InvalidExtraSpec(key=key, value=value, reason="must not be empty")
    return str(value).strip()


#: extra spec (without prefix) -> (LPARBuilder attribute, parser)
_SPECS: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "min_mem": ("min_mem", _int(128, 64 * 1024 * 1024)),
    "max_mem": ("max_mem", _int(128, 64 * 1024 * 1024)),
    "min_vcpu": ("min_vcpu", _int(1, 1024)),
    "max_vcpu": ("max_vcpu", _int(1, 1024)),
    "proc_units": ("proc_units", _units),
    "min_proc_units": ("min_proc_units", _units),
    "max_proc_units": ("max_proc_units", _units),
    "dedicated_proc": ("dedicated_proc", _bool),
    "dedicated_sharing_mode": ("sharing_mode", _choice(SHARING_MODES)),
    "uncapped": ("uncapped", _bool),
    "shared_weight": ("uncapped_weight", _int(0, 255)),
    "processor_compatibility": ("processor_compatibility", _compat),
    "shared_proc_pool_name": ("proc_pool_name", _text),
    "availability_priority": ("avail_priority", _int(0, 255)),
    "srr_capability": ("srr_capability", _bool),
    "secure_boot": ("secure_boot", _int(0, 9)),
    "enable_lpar_metric": ("enable_lpar_metric", _bool),
    "ppt_ratio": ("ppt_ratio", _choice({r: r for r in PPT_RATIOS})),
    "enforce_affinity_check": ("enforce_affinity_check", _bool),
}
KNOWN_SPECS = tuple(PREFIX + k for k in _SPECS)


def parse_extra_specs(extra_specs: Mapping[str, str]) -> dict[str, Any]:
    """The ``powervm:*`` extra specs as LPARBuilder attributes; other namespaces are ignored.

    :raises InvalidExtraSpec: an unknown ``powervm:`` key, or a value out of its range.
    """
    parsed: dict[str, Any] = {}
    for key, value in sorted(extra_specs.items()):
        if not key.startswith(PREFIX) or key.startswith(PREFIX + "ibmi_"):
            continue
        spec = _SPECS.get(key[len(PREFIX) :])
        if spec is None:
            raise InvalidExtraSpec(key=key, value=value, reason=f"unknown key; known keys: {', '.join(KNOWN_SPECS)}")
        attr, parse = spec
        parsed[attr] = parse(key, value)
    return parsed


def build_attrs(name: str, uuid: str, flavor: Flavor, defaults: Defaults, env: str = "AIX/Linux") -> dict[str, Any]:
    """LPARBuilder attributes for a new partition of type ``env`` (AIX/Linux, or OS400 for IBM i).

    ``proc_pool_name`` (from ``powervm:shared_proc_pool_name``) is left in the result for the caller
    to resolve into ``proc_pool`` (a pool id), which needs the REST API.

    :raises InvalidExtraSpec: see ``parse_extra_specs``, plus combinations that cannot work
        (dedicated-only keys on shared processors and the other way round, min > desired > max).
    """
    specs = parse_extra_specs(flavor.extra_specs)
    attrs: dict[str, Any] = {"name": name, "uuid": uuid, "env": env, "memory": flavor.memory_mb,
                             "vcpu": flavor.vcpus}  # fmt: skip
    specs.setdefault("srr_capability", True)
    dedicated = specs.pop("dedicated_proc", False)
    uncapped = specs.pop("uncapped", None)
    if dedicated:
        _refuse(specs, ("proc_units", "min_proc_units", "max_proc_units", "uncapped_weight", "proc_pool_name"),
                "applies to shared processors only; unset it or powervm:dedicated_proc")  # fmt: skip
        if uncapped is not None:
            raise InvalidExtraSpec(key=PREFIX + "uncapped", value=str(uncapped),
                                   reason="applies to shared processors only")  # fmt: skip
        attrs["dedicated_proc"] = "true"
        attrs.setdefault("sharing_mode", specs.pop("sharing_mode", SHARING_MODES["share_idle_procs"]))
    else:
        _refuse(specs, ("sharing_mode",), "applies to dedicated processors only (powervm:dedicated_proc=true)")
        attrs["sharing_mode"] = "uncapped" if uncapped in (None, True) else "capped"
        attrs["proc_units"] = specs.pop("proc_units", round(max(flavor.vcpus * defaults.proc_units_factor,
                                                                0.05 * flavor.vcpus), 2))  # fmt: skip
        if attrs["sharing_mode"] == "uncapped":
            attrs["uncapped_weight"] = specs.pop("uncapped_weight", defaults.uncapped_weight)
    attrs.update({k: ("true" if v is True else "false" if v is False else v) for k, v in specs.items()})
    _check_bounds(attrs)
    return attrs


def _refuse(specs: dict[str, Any], attrs: tuple[str, ...], reason: str) -> None:
    for key, (attr, _) in _SPECS.items():
        if attr in attrs and attr in specs:
            raise InvalidExtraSpec(key=PREFIX + key, value=str(specs[attr]), reason=reason)


def _check_bounds(attrs: dict[str, Any]) -> None:
    for low, want, high, what in (("min_mem", "memory", "max_mem", "memory (MB)"),
                                  ("min_vcpu", "vcpu", "max_vcpu", "vCPUs"),
                                  ("min_proc_units", "proc_units", "max_proc_units", "processing units")):  # fmt: skip
        if want not in attrs:
            continue
        value = float(attrs[want])
        if low in attrs and float(attrs[low]) > value:
            raise InvalidExtraSpec(
                key=PREFIX + low, value=str(attrs[low]), reason=f"above the desired {what} {value:g}"
            )
        if high in attrs and float(attrs[high]) < value:
            raise InvalidExtraSpec(
                key=PREFIX + high, value=str(attrs[high]), reason=f"below the desired {what} {value:g}"
            )
    if "proc_units" in attrs and float(attrs["proc_units"]) > attrs["vcpu"]:
        raise InvalidExtraSpec(key=PREFIX + "proc_units", value=str(attrs["proc_units"]),
                               reason=f"at most 1.0 processing unit per vCPU ({attrs['vcpu']} vCPUs)")  # fmt: skip

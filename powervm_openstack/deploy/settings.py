"""The deployment settings of PowerVM on one cloud: one validated model for the renderer and the Ansible role.

A settings file (YAML) or dict has these keys, all optional::

    novalink:                  # -> [powervm_rest] of nova-compute and the agents (any option of that group)
      host: localhost
      user: admin
      password_file: /etc/powervm/rest.password   # a reference: the password is read from this file
    bridge_mappings: [default:ent5:vios1]          # -> [AGENT] bridge_mappings of the SEA agent
    sriov_physical_networks: [prod]                # labelled SR-IOV physical networks -> nova's [pci]
                                                   # several: [default:0001:00, prod:0001:01, ...] (see below)
    ml2_mechanism_drivers: [openvswitch]           # what the controller has configured already
    agents: [sea, sriov]                           # which PowerVM agents a compute node runs
    compute: {disk_driver: localdisk, volume_group_name: datavg}   # any [powervm] option
    agent: {heal_and_optimize_interval: 1800}                      # any [AGENT] option but bridge_mappings
    telemetry: {enabled: false}                    # the ceilometer pollsters' files (see telemetry_files)

Option values are checked with the types of the very ``oslo.config`` options the programs register
(``powervm_openstack.compute.conf``, ``pvm.connection``, ``network.agent.config``/``sriov_config``), so
defaults, types and limits live in one place.

``sriov_physical_networks`` entries are ``<physnet>`` or ``<physnet>:<port address>``, the address
being the ``dddd:bb`` prefix of a physical port's pseudo-VFs (adapter id, port id: see
``powervm_openstack.compute.pci``). nova tags a device with the first ``[pci] device_spec`` entry
that matches it, so at most one physical network may be given without addresses: it takes every
port the addressed entries do not select. Any bad value raises :class:`SettingsError` with one
line naming the key, the value and what is allowed. The password never appears in ``repr``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from oslo_config import cfg

from powervm_openstack.compute import conf as compute_conf
from powervm_openstack.deploy import telemetry_files
from powervm_openstack.network import bridges
from powervm_openstack.network.agent import config as agent_config
from powervm_openstack.network.agent import sriov_config
from powervm_openstack.network.exceptions import PowerVMNetworkError
from powervm_openstack.pvm import connection

AGENTS = ("sea", "sriov")
PVM_MECHANISM_DRIVERS = ("pvm_sea", "pvm_sriov")
_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")
_PORT_ADDRESS = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}$")
_KEYS = ("novalink", "bridge_mappings", "sriov_physical_networks", "ml2_mechanism_drivers", "agents", "compute",
         "agent", "telemetry")  # fmt: skip


class SettingsError(ValueError):
    """A settings key whose value is not allowed; the message names key, value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated settings. Option dicts hold values already converted by their option's type."""

    novalink: dict[str, Any] = dataclasses.field(default_factory=dict)
    password: str | None = dataclasses.field(default=None, repr=False)
    bridge_mappings: tuple[str, ...] = ()
    sriov_physical_networks: tuple[str, ...] = ()
    ml2_mechanism_drivers: tuple[str, ...] = ()
    agents: tuple[str, ...] = AGENTS
    compute: dict[str, Any] = dataclasses.field(default_factory=dict)
    agent: dict[str, Any] = dataclasses.field(default_factory=dict)
    telemetry: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"enabled": False, "interval": 300, "meters": (), "ceilometer": {}}
    )

    @property
    def telemetry_enabled(self) -> bool:
        return bool(self.telemetry["enabled"])


def _fail(key: str, value: Any, allowed: str) -> SettingsError:
    shown = "<secret>" if key.endswith("password") else repr(value)
    return SettingsError(f"settings key {key!r}: value {shown} is not allowed; allowed: {allowed}")


def allowed(opt: cfg.Opt) -> str:
    """What ``opt``'s type accepts, in words (choices, or a range, or the type name)."""
    kind = opt.type
    choices = getattr(kind, "choices", None)
    if choices:
        return "one of " + ", ".join(str(c) for c in choices)
    low, high = getattr(kind, "min", None), getattr(kind, "max", None)
    name = type(kind).__name__.lower()
    if low is not None or high is not None:
        return f"{name} from {low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
    return name


def _options(key: str, value: Any, opts: list[cfg.Opt], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check a mapping of option names to values against ``opts``; return the converted values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(key, value, "a mapping of option names to values")
    by_name = {opt.dest: opt for opt in opts if opt.dest not in skip}
    out = {}
    for name, raw in value.items():
        opt = by_name.get(name)
        if opt is None:
            raise _fail(f"{key}.{name}", raw, "option names " + ", ".join(sorted(by_name)))
        if raw is None:
            continue
        try:
            out[name] = opt.type(raw)
        except (ValueError, TypeError) as exc:
            raise _fail(f"{key}.{name}", raw, f"{allowed(opt)} ({exc})") from None
    return out


def _names(key: str, value: Any, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A list of labels (a comma-separated string is accepted too), each checked."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _fail(key, value, "a list of names")
    names = tuple(str(i).strip() for i in items if str(i).strip())
    for name in names:
        if choices is not None and name not in choices:
            raise _fail(key, name, "any of " + ", ".join(choices))
        if not _LABEL.match(name):
            raise _fail(key, name, "names of letters, digits, '_', '.', '-'")
    return names


def _sriov_networks(value: Any) -> tuple[str, ...]:
    """``<physnet>`` or ``<physnet>:<dddd:bb>`` entries; at most one physical network without an address."""
    key = "sriov_physical_networks"
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _fail(key, value, "a list of <physnet> or <physnet>:<port address dddd:bb>")
    entries = tuple(str(i).strip() for i in items if str(i).strip())
    for entry in entries:
        name, _, address = entry.partition(":")
        if not _LABEL.match(name) or (address and not _PORT_ADDRESS.match(address)):
            raise _fail(key, entry, "<physnet> (letters, digits, '_', '.', '-') or <physnet>:<dddd:bb> (hex)")
    bare = [e for e in entries if ":" not in e]
    if len(bare) > 1:
        raise _fail(key, ", ".join(bare), "at most one physical network without port addresses "
                    "(nova tags every device with the first device_spec entry that matches it)")  # fmt: skip
    return entries


def _bridge_mappings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise _fail("bridge_mappings", value, "a list of <physical network>:<SEA device>:<VIOS name>")
    text = ",".join(str(i).strip() for i in items)
    try:
        entries = bridges.parse_mappings(text)
    except PowerVMNetworkError as exc:
        raise _fail("bridge_mappings", value, f"<physical network>:<SEA device>:<VIOS name>, e.g. "
                    f"default:ent5:vios1 ({exc})") from None  # fmt: skip
    return tuple(f"{e.physnet}:{e.sea}:{e.vios}" for e in entries)


def _password(novalink: Mapping[str, Any]) -> str | None:
    ref = novalink.get("password_file")
    if ref is None:
        return novalink.get("password")
    if novalink.get("password") is not None:
        raise _fail("novalink.password_file", ref, "either password or password_file, not both")
    try:
        return Path(ref).read_text().strip()
    except OSError as exc:
        raise _fail("novalink.password_file", ref, f"a readable file ({exc.strerror})") from None


def check_compute(values: dict[str, Any]) -> None:
    """The driver's own start-up check on the ``[powervm]`` values (e.g. localdisk needs a volume group).

    :raises SettingsError: naming ``compute`` and what the driver refuses.
    """
    conf = cfg.ConfigOpts()
    compute_conf.register_opts(conf)
    conf([], project="powervm-settings", default_config_files=[], default_config_dirs=[])
    for name, value in values.items():
        conf.set_override(name, value, group=compute_conf.GROUP)
    try:
        compute_conf.validate(conf)
    except compute_conf.PowerVMConfigError as exc:
        raise SettingsError(f"settings key 'compute': {exc}") from None


def from_dict(data: Mapping[str, Any] | None) -> Settings:
    """Validate ``data`` into :class:`Settings`.

    :raises SettingsError: naming the first bad key, its value and what is allowed.
    """
    data = data or {}
    if not isinstance(data, Mapping):
        raise _fail("(top level)", data, "a mapping with keys " + ", ".join(_KEYS))
    for key in data:
        if key not in _KEYS:
            raise _fail(str(key), data[key], "top-level keys " + ", ".join(_KEYS))
    novalink_raw = dict(data.get("novalink") or {})
    password = _password(novalink_raw)
    novalink_raw.pop("password_file", None)
    novalink_raw.pop("password", None)
    compute = _options("compute", data.get("compute"), compute_conf.OPTS)
    if compute:
        check_compute(compute)
    telemetry = telemetry_files.check(data.get("telemetry") or {}, _fail, _options)
    return Settings(
        novalink=_options("novalink", novalink_raw, connection.OPTS),
        password=password,
        bridge_mappings=_bridge_mappings(data.get("bridge_mappings")),
        sriov_physical_networks=_sriov_networks(data.get("sriov_physical_networks")),
        ml2_mechanism_drivers=_names("ml2_mechanism_drivers", data.get("ml2_mechanism_drivers")),
        agents=_names("agents", data.get("agents", list(AGENTS)), AGENTS),
        compute=compute,
        agent=_options(
            "agent",
            data.get("agent"),
            agent_config.COMMON_OPTS + agent_config.SEA_OPTS + sriov_config.SRIOV_OPTS,
            skip=("bridge_mappings",),
        ),  # fmt: skip
        telemetry=telemetry,
    )


def load(path: str | Path) -> Settings:
    """Read and validate a YAML settings file.

    :raises SettingsError: the file cannot be read or parsed, or a value is not allowed.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise SettingsError(f"settings file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {str(path)!r} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return from_dict(data)

"""Warn about options an agent does not know in its own sections (a typo is otherwise silent).

oslo.config ignores what nobody registered, so ``bridge_mapping = ...`` (for ``bridge_mappings``)
would leave the default in force without a word. This reads the configuration files again and
names each unknown option of ``[AGENT]`` and ``[powervm_rest]`` with the nearest known one.
"""

from __future__ import annotations

import configparser
import difflib
import logging
from collections.abc import Iterable

from oslo_config import cfg

LOG = logging.getLogger(__name__)

SECTIONS = ("AGENT", "powervm_rest")


def unknown_options(conf: cfg.ConfigOpts, extra: Iterable[tuple[str, list[cfg.Opt]]] = ()) -> list[str]:
    """One warning line per unknown option in ``SECTIONS`` of ``conf``'s configuration files."""
    known = {group: set(conf[group]) for group in SECTIONS if group in conf}
    for group, opts in extra:
        known.setdefault(group, set()).update(opt.dest for opt in opts)
    found = []
    for path in conf.config_file or []:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path)
        except configparser.Error:
            continue  # oslo.config has already accepted or refused the file
        for group in SECTIONS:
            if not parser.has_section(group):
                continue
            names = known.get(group, set())
            for name in parser[group]:
                if name in names or name in parser.defaults():
                    continue
                near = difflib.get_close_matches(name, sorted(names), n=1)
                hint = f"; did you mean {near[0]}?" if near else ""
                found.append(f"Unknown option {name} in [{group}] of {path}: ignored{hint}")
    return found


def warn(conf: cfg.ConfigOpts, extra: Iterable[tuple[str, list[cfg.Opt]]] = ()) -> None:
    for line in unknown_options(conf, extra):
        LOG.warning("%s", line)

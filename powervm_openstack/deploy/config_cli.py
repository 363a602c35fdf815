"""``powervm-openstack-config``: render a node role's PowerVM configuration files without Ansible.

``powervm-openstack-config render --role compute --settings settings.yaml [--out DIR]`` prints the files
(each after a ``# ==> name <==`` line), or with ``--out`` writes them into DIR with mode 0640 and
names each file written or left unchanged. Bad settings: one line naming the key, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

# nova's and pypowervm's imports pull in futurist, which warns about eventlet; not the operator's concern.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from powervm_openstack.deploy import render as renderer  # noqa: E402
from powervm_openstack.deploy import settings as settings_mod  # noqa: E402

FILE_MODE = 0o640


def write(out: Path, files: dict[str, str]) -> list[tuple[str, bool]]:
    """Write each file whose content differs (atomically, mode 0640); ``[(name, changed)]``."""
    out.mkdir(parents=True, exist_ok=True)
    result = []
    for name, text in files.items():
        path = out / name
        if path.exists() and path.read_text() == text:
            result.append((name, False))
            continue
        tmp = path.with_name(f".{name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
        result.append((name, True))
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="powervm-openstack-config", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="render the configuration files of one node role")
    cmd.add_argument("--role", required=True, choices=renderer.ROLES)
    cmd.add_argument("--settings", required=True, type=Path, help="YAML settings file (see docs/deploy.md)")
    cmd.add_argument("--out", type=Path, help="directory to write the files into (default: print them)")
    # For the Ansible role: settings as JSON on stdin, files as JSON on stdout, errors naming role variables.
    js = sub.add_parser("render-json", help="settings as JSON on stdin -> {file: text} as JSON on stdout")
    js.add_argument("--role", required=True, choices=renderer.ROLES)
    js.add_argument("--existing-ml2-conf", type=Path, help="ml2_conf.ini whose mechanism_drivers to keep")
    js.add_argument("--variable-prefix", default="", help="name settings keys as variables with this prefix")
    return parser


def _configured_drivers(path: Path | None) -> list[str]:
    """``[ml2] mechanism_drivers`` of an existing ml2_conf.ini, read with neutron's own option."""
    if path is None or not path.exists():
        return []
    from neutron.conf.plugins.ml2 import config as ml2_config
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf.register_opts(ml2_config.ml2_opts, "ml2")
    conf(["--config-file", str(path)], project="powervm-render", default_config_files=[], default_config_dirs=[])
    return list(conf.ml2.mechanism_drivers)


def _render_json(args: argparse.Namespace) -> int:
    try:
        data = json.load(sys.stdin)
        if isinstance(data, dict) and args.role == "controller" and not data.get("ml2_mechanism_drivers"):
            data["ml2_mechanism_drivers"] = _configured_drivers(args.existing_ml2_conf)
        files = renderer.render(args.role, settings_mod.from_dict(data))
    except (settings_mod.SettingsError, json.JSONDecodeError) as exc:
        text = str(exc)
        if args.variable_prefix:
            text = text.replace("settings key '", f"variable '{args.variable_prefix}")
            # telemetry.<key> is the role variable <prefix>telemetry_<key>
            text = text.replace(
                f"variable '{args.variable_prefix}telemetry.", f"variable '{args.variable_prefix}telemetry_"
            )
        print(text, file=sys.stderr)
        return 2
    json.dump(files, sys.stdout)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "render-json":
        return _render_json(args)
    try:
        files = renderer.render(args.role, settings_mod.load(args.settings))
    except settings_mod.SettingsError as exc:
        print(f"powervm-openstack-config: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        for name, text in files.items():
            print(f"# ==> {name} <==\n{text}")
        return 0
    try:
        written = write(args.out, files)
    except OSError as exc:
        print(f"powervm-openstack-config: cannot write into {str(args.out)!r}: {exc.strerror}", file=sys.stderr)
        return 2
    for name, changed in written:
        print(f"{'written' if changed else 'unchanged'}: {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

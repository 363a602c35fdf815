"""``powervm-openstack-config``: render a node role's PowerVM configuration files without Ansible.

``powervm-openstack-config render --role compute --settings settings.yaml [--out DIR]`` prints the files
(each after a ``# ==> name <==`` line), or with ``--out`` writes them into DIR with mode 0640 and
names each file written or left unchanged. Bad settings: one line naming the key, exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from powervm_openstack.deploy import render as renderer
from powervm_openstack.deploy import settings as settings_mod

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # nova's option modules pull in futurist, which warns about eventlet on import; not the operator's concern.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
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

"""``python -m benchmarks <command> [options]``: run one benchmark and print its tables.

Each command is a module with ``main(argv: list[str]) -> int``; add one with a line in COMMANDS.
Modules are imported only when their command runs, so one area's dependencies never burden another.
"""

from __future__ import annotations

import importlib
import sys

#: command -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "cloud": (
        "benchmarks.cloud",
        "all-in-one cloud: a server boot's phases (API, scheduling, compute, port), 10 at once",
    ),
    "compute": (
        "benchmarks.compute",
        "compute driver: REST calls and time per spawn/destroy, 20 concurrent spawns, a live migration",
    ),
    "network": ("benchmarks.network", "burst of SEA port plugs: the agent vs pypowervm's network_bridger"),
    "telemetry": ("benchmarks.telemetry", "PCM telemetry: REST calls and time per poll for 10, 100, 1,000 partitions"),
    "scale": ("benchmarks.scale", "SEA agent at scale: heal of 1,000 partitions, 20 agents on one neutron, memory"),
}


def usage() -> str:
    lines = ["usage: python -m benchmarks <command> [options]   (<command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<10} {description}" for name, (_, description) in sorted(COMMANDS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command named first in ``argv``; 2 for an unknown command."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    if args[0] not in COMMANDS:
        print(f"unknown command {args[0]!r}; known: {', '.join(sorted(COMMANDS))}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args[0]][0])
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())

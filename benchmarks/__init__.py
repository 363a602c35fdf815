"""Benchmarks, one command per area (``python -m benchmarks <command>``); see ``README.md``."""

"""Compute tests: pytest runs the modules here; nova's own harness tests in ``nova_harness`` run under stestr."""

collect_ignore = ["nova_harness"]

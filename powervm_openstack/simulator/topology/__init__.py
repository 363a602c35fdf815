"""Topology files (YAML) describing one managed system, turned into simulator state."""

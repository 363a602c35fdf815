"""Captured REST responses imported as state, and snapshots of a live NovaLink."""

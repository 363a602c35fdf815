"""The PowerVM network agents (run on the NovaLink partition) and their common framework."""

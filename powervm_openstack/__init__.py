"""PowerVM support for current OpenStack: networking, compute, telemetry and a NovaLink simulator."""

"""PowerVM support for current OpenStack: networking, compute, telemetry and a NovaLink simulator."""

import warnings

# futurist (under oslo and neutron) imports eventlet only to find out whether it is in use, which
# prints eventlet's 8-line deprecation banner on every command; this project never uses eventlet.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

"""The PowerVM network agents (run on the NovaLink partition) and their common framework.

The agents run on threads. oslo.service picks its backend on first use and defaults to eventlet,
and importing oslo.messaging's server already uses it; so the threading backend is chosen here,
before any agent module imports oslo.messaging (neutron makes the same choice in its own package).
"""

from oslo_service import backend as _oslo_service_backend

try:
    _oslo_service_backend.init_backend(_oslo_service_backend.BackendType.THREADING)
except _oslo_service_backend.exceptions.BackendAlreadySelected:
    if _oslo_service_backend.get_backend_type() != _oslo_service_backend.BackendType.THREADING:
        raise

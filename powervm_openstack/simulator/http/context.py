"""What the request handlers (admin, files, vterm) need of the application.

The handlers are typed against this protocol rather than against ``SimulatorApp``, so that the
front (``app``) depends on the handlers and never the reverse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from powervm_openstack.simulator.http.vterm import VTerms
    from powervm_openstack.simulator.runtime.events import EventFeed
    from powervm_openstack.simulator.runtime.faults import FaultInjector
    from powervm_openstack.simulator.runtime.sessions import Sessions
    from powervm_openstack.simulator.runtime.stats import RequestStats
    from powervm_openstack.simulator.state.store import Store


class AppContext(Protocol):
    """The state and services one simulated NovaLink serves requests from."""

    store: Store
    sessions: Sessions
    events: EventFeed
    faults: FaultInjector
    stats: RequestStats
    vterms: VTerms

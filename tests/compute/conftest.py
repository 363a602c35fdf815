"""Compute tests: pytest runs the modules here; nova's own harness tests in ``nova_harness`` run under stestr.

``sim`` (one simulator per module) and ``adapter`` (a pypowervm adapter logged on to it) serve the
VIF tests; a module that needs another host defines its own.
"""

import pytest

from tests.fixtures.simulator import connect, disconnect, running_simulator

collect_ignore = ["nova_harness"]


@pytest.fixture(scope="module")
def sim():
    with running_simulator(event_wait=0.5) as server:
        yield server


@pytest.fixture
def adapter(sim):
    adpt = connect(sim)
    yield adpt
    disconnect(adpt)

"""Simulator tests: ``host`` is a pypowervm adapter logged on to a fresh default-topology simulator."""

import pytest

from tests.fixtures.simulator import connect, disconnect, running_simulator


@pytest.fixture
def host():
    with running_simulator() as sim:
        adapter = connect(sim)
        try:
            yield adapter
        finally:
            disconnect(adapter)

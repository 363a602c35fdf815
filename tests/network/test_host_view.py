"""What events mean for the SEA agent's view of the host (no I/O: events only mark things stale)."""

from __future__ import annotations

from powervm_openstack.network.agent.host_view import HostView

BRIDGE = "http://h/rest/api/uom/ManagedSystem/s1/NetworkBridge/nb1"
LPAR = "http://h/rest/api/uom/LogicalPartition/4C0C2A4E-0000-4000-8000-000000000001"
VIOS = "http://h/rest/api/uom/VirtualIOServer/3443DB77-0000-4000-8000-000000000002"


def test_own_update_echo_is_consumed_and_a_foreign_change_is_not():
    view = HostView(None, "s1")
    view.expect_echo("NB1")
    assert view.note("MODIFY_URI", BRIDGE, "Other") is False  # our update coming back
    assert view._stale.bridges == set()
    assert view.note("MODIFY_URI", BRIDGE, "Other") is True  # someone else's
    assert view._stale.bridges == {"nb1"}


def test_adapter_events_mark_only_their_partition_and_orphans():
    view = HostView(None, "s1")
    view.note("ADD_URI", f"{LPAR}/ClientNetworkAdapter/C1", "")
    view.note("MODIFY_URI", LPAR, "PartitionState")  # not about adapters
    assert list(view._stale.partitions) == ["4c0c2a4e-0000-4000-8000-000000000001"] and not view._stale.orphans
    view.note("MODIFY_URI", VIOS, "SharedEthernetAdapters,TrunkAdapters")  # a bridge update mirrored on the VIOS
    assert not view._stale.orphans and len(view._stale.partitions) == 1
    view.note("MODIFY_URI", VIOS, "ClientNetworkAdapters,TrunkAdapters")  # a trunk made outside the bridges
    assert view._stale.orphans and len(view._stale.partitions) == 2
    view.note("DELETE_URI", f"{LPAR}/ClientNetworkAdapter/C1", "")
    assert view._stale.gone_adapters == {"c1"}
    assert view.stale_partitions() == 3

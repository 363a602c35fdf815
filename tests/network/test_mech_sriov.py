"""Tests of the ``pvm_sriov`` mechanism driver: neutron's own agent-driver cases and ours."""

from unittest import mock

from neutron.tests.unit.plugins.ml2 import _test_mech_agent as base
from neutron_lib.api.definitions import portbindings

from powervm_openstack.network import constants as c
from powervm_openstack.network import mech_base, mech_sriov

PHYSNET = "fake_physical_network"
T1, T2, T3 = (f"U78C9.001.WZS094N-P1-C7-T{n}" for n in (1, 2, 3))


def _port(loc: str, free: float = 1.0, granularity: float = 0.02, **extra) -> dict:
    return {c.PORT_LOCATION_CODE: loc, c.PORT_FREE_CAPACITY: free, c.PORT_GRANULARITY: granularity, **extra}


def _agent(alive: bool = True, physnet_ports: object = None, **defaults) -> dict:
    configs = {
        c.CONF_DEFAULT_REDUNDANCY: 2,
        c.CONF_DEFAULT_CAPACITY: 0.04,
        c.CONF_DEFAULT_MAXCAPACITY: None,
        c.CONF_PHYSNET_PORTS: {PHYSNET: [_port(T1, 0.5), _port(T2, 0.9)]} if physnet_ports is None else physnet_ports,
    }
    configs.update(defaults)
    return {"alive": alive, "host": "pvm-host-1", "agent_type": c.AGENT_TYPE_SRIOV, "configurations": configs}


def _details(vlan: str) -> dict:
    return {
        portbindings.CAP_PORT_FILTER: False,
        portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
        portbindings.VIF_DETAILS_VLAN: vlan,
        c.DETAIL_PHYSICAL_NETWORK: PHYSNET,
        c.DETAIL_PHYSICAL_PORTS: [T2, T1],
        c.DETAIL_REDUNDANCY: 2,
        c.DETAIL_CAPACITY: 0.04,
        c.DETAIL_MAXCAPACITY: None,
    }


class SriovDriverTestBase(base.AgentMechanismBaseTestCase):
    VIF_TYPE = c.VIF_TYPE_SRIOV
    AGENT_TYPE = c.AGENT_TYPE_SRIOV
    VNIC_TYPE = portbindings.VNIC_DIRECT
    AGENTS = [_agent()]
    AGENTS_DEAD = [_agent(alive=False)]
    AGENTS_BAD = [_agent(alive=False), _agent(physnet_ports={"other_physnet": [_port(T1), _port(T2)]})]

    def setUp(self):
        super().setUp()
        self.driver = mech_sriov.PvmSriovMechanismDriver()
        self.driver.initialize()


class SriovGenericTestCase(SriovDriverTestBase, base.AgentMechanismGenericTestCase):
    pass


class SriovVlanTestCase(SriovDriverTestBase, base.AgentMechanismVlanTestCase):
    VIF_DETAILS = _details("1234")


class SriovFlatTestCase(SriovDriverTestBase, base.AgentMechanismFlatTestCase):
    VIF_DETAILS = _details("0")


class SriovBindingTestCase(SriovDriverTestBase):
    SEGMENTS = base.AgentMechanismVlanTestCase.VLAN_SEGMENTS

    def _bind(self, agent=None, profile=None, vnic_type=portbindings.VNIC_DIRECT):
        context = base.FakePortContext(
            self.AGENT_TYPE, [agent or _agent()], self.SEGMENTS, vnic_type=vnic_type, profile=profile
        )
        with mock.patch.object(mech_base.LOG, "warning") as warning:
            self.driver.bind_port(context)
        self.refusals = [str(call.args[1]["reason"]) for call in warning.call_args_list]
        return context._bound_vif_details

    def test_profile_overrides_agent_defaults(self):
        details = self._bind(profile={"redundancy": 1, "capacity": "0.1", "maxcapacity": 0.5})
        self.assertEqual((1, 0.1, 0.5), (details["redundancy"], details["capacity"], details["maxcapacity"]))

    def test_legacy_profile_key_and_unset_values(self):
        details = self._bind(profile={"vnic_required_vfs": "1", "capacity": "None", "maxcapacity": None})
        self.assertEqual((1, 0.04, None), (details["redundancy"], details["capacity"], details["maxcapacity"]))

    def test_conflicting_redundancy_keys_refuse(self):
        self.assertIsNone(self._bind(profile={"redundancy": 1, "vnic_required_vfs": 2}))
        self.assertIn("set only redundancy", self.refusals[0])

    def test_agent_without_defaults_asks_one_vf_of_minimum_capacity(self):
        agent = _agent(physnet_ports={PHYSNET: [_port(T1, 0.01)]})
        agent["configurations"] = {c.CONF_PHYSNET_PORTS: agent["configurations"][c.CONF_PHYSNET_PORTS]}
        details = self._bind(agent, profile={})
        self.assertIsNone(details)  # 0.01 free is below the 0.02 granularity
        agent["configurations"][c.CONF_PHYSNET_PORTS][PHYSNET].append(_port(T2, 0.02))
        details = self._bind(agent)
        self.assertEqual(([T2], 1, None), (details["physical_ports"], details["redundancy"], details["capacity"]))

    def test_redundancy_beyond_usable_ports_refuses_with_counts(self):
        ports = {PHYSNET: [_port(T1, 0.5), _port(T2, 0.02), _port(T3, 0.5, free_logical_ports=0)]}
        self.assertIsNone(self._bind(_agent(physnet_ports=ports), profile={"redundancy": 2}))
        (reason,) = self.refusals
        self.assertIn("needs 2 SR-IOV physical port(s)", reason)
        self.assertIn("found 1 of 3 labelled", reason)
        self.assertIn(f"{T2} (free capacity 0.02 < 0.04)", reason)
        self.assertIn(f"{T3} (no free logical port)", reason)

    def test_invalid_capacities_refuse_naming_the_value(self):
        cases = {
            "1.5": "out of range",
            "0": "out of range",
            "0.00001": "more than 4 decimal places",
            "0.03": "not a multiple of the granularity 0.02",
            "lots": "is not a number",
        }
        for value, words in cases.items():
            self.assertIsNone(self._bind(profile={"capacity": value, "redundancy": 1}))
            self.assertIn(value, self.refusals[-1])
            self.assertIn(words, self.refusals[-1])

    def test_maxcapacity_below_capacity_refuses(self):
        self.assertIsNone(self._bind(profile={"capacity": 0.2, "maxcapacity": 0.1}))
        self.assertIn("maxcapacity 0.1 is below capacity 0.2", self.refusals[0])

    def test_invalid_redundancy_refuses(self):
        for value in (0, "two", 1.5, True):
            self.assertIsNone(self._bind(profile={"redundancy": value}))
            self.assertIn("whole number of 1 or more", self.refusals[-1])

    def test_invalid_agent_default_names_the_agent(self):
        self.assertIsNone(self._bind(_agent(default_capacity=2)))
        self.assertIn("agent default_capacity", self.refusals[0])

    def test_malformed_port_reports_are_skipped(self):
        ports = {PHYSNET: [{"location_code": T3}, "garbage", _port(T1), _port(T2)]}
        with mock.patch.object(mech_sriov.LOG, "warning") as warning:
            details = self._bind(_agent(physnet_ports=ports))
        self.assertEqual([T1, T2], details["physical_ports"])
        self.assertEqual(2, warning.call_count)

    def test_normal_vnic_is_not_bound(self):
        self.assertIsNone(self._bind(vnic_type=portbindings.VNIC_NORMAL))

    def test_unmapped_physnet_is_not_bound(self):
        with mock.patch.object(mech_base.LOG, "info") as info:
            self.assertIsNone(self._bind(_agent(physnet_ports={"other": [_port(T1)]})))
        info.assert_called_once()

"""Tests of the ``pvm_sea`` mechanism driver: neutron's own agent-driver cases, ours, and ML2."""

from unittest import mock

from neutron.conf.plugins.ml2 import config as ml2_config
from neutron.tests.common import helpers
from neutron.tests.unit.plugins.ml2 import _test_mech_agent as base
from neutron.tests.unit.plugins.ml2 import test_plugin
from neutron_lib import constants as n_const
from neutron_lib.api.definitions import portbindings
from neutron_lib.api.definitions import provider_net as pnet
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg

from powervm_openstack.network import constants as c
from powervm_openstack.network import mech_base, mech_sea, opts

PHYSNET = "fake_physical_network"
BRIDGE_UUID = "2227deea-a6f9-3e45-8ed8-65c3d6c5a6a1"


def _agent(alive: bool, mappings: object, host: str = "pvm-host-1") -> dict:
    return {
        "alive": alive,
        "host": host,
        "agent_type": c.AGENT_TYPE_SEA,
        "configurations": {c.CONF_BRIDGE_MAPPINGS: mappings},
    }


class SeaDriverTestBase(base.AgentMechanismBaseTestCase):
    VIF_TYPE = c.VIF_TYPE_SEA
    AGENT_TYPE = c.AGENT_TYPE_SEA
    VNIC_TYPE = portbindings.VNIC_NORMAL
    VIF_DETAILS = {
        portbindings.CAP_PORT_FILTER: False,
        portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
        portbindings.VIF_DETAILS_VLAN: "1234",
        c.DETAIL_PHYSICAL_NETWORK: PHYSNET,
    }
    AGENTS = [_agent(True, {PHYSNET: BRIDGE_UUID})]
    AGENTS_DEAD = [_agent(False, {PHYSNET: BRIDGE_UUID})]
    AGENTS_BAD = [_agent(False, {PHYSNET: BRIDGE_UUID}), _agent(True, {"other_physnet": BRIDGE_UUID})]

    def setUp(self):
        super().setUp()
        self.driver = mech_sea.PvmSeaMechanismDriver()
        self.driver.initialize()


class SeaGenericTestCase(SeaDriverTestBase, base.AgentMechanismGenericTestCase):
    pass


class SeaVlanTestCase(SeaDriverTestBase, base.AgentMechanismVlanTestCase):
    pass


class SeaBindingTestCase(SeaDriverTestBase):
    def _bind(self, agents, segments, vnic_type=portbindings.VNIC_NORMAL):
        context = base.FakePortContext(self.AGENT_TYPE, agents, segments, vnic_type=vnic_type)
        self.driver.bind_port(context)
        return context

    def test_unmapped_physnet_is_not_bound_and_logged_once(self):
        segments = base.AgentMechanismVlanTestCase.VLAN_SEGMENTS
        with mock.patch.object(mech_base.LOG, "info") as log:
            context = self._bind([_agent(True, {"elsewhere": BRIDGE_UUID})], segments)
        self._check_unbound(context)
        log.assert_called_once()
        self.assertEqual(PHYSNET, log.call_args.args[1]["physnet"])
        self.assertEqual(["elsewhere"], log.call_args.args[1]["mapped"])

    def test_missing_or_malformed_mappings_do_not_crash(self):
        segments = base.AgentMechanismVlanTestCase.VLAN_SEGMENTS
        for mappings in (None, [PHYSNET], "fake_physical_network:ent5:vios1"):
            self._check_unbound(self._bind([_agent(True, mappings)], segments))
        agent = _agent(True, None)
        del agent["configurations"]
        self._check_unbound(self._bind([agent], segments))

    def test_flat_network_is_not_bound(self):
        segments = base.AgentMechanismFlatTestCase.FLAT_SEGMENTS
        self._check_unbound(self._bind(self.AGENTS, segments))

    def test_direct_vnic_is_not_bound(self):
        segments = base.AgentMechanismVlanTestCase.VLAN_SEGMENTS
        self._check_unbound(self._bind(self.AGENTS, segments, portbindings.VNIC_DIRECT))


class SeaNotificationTestCase(SeaDriverTestBase):
    SEGMENT = {
        api.ID: "seg",
        api.NETWORK_TYPE: n_const.TYPE_VLAN,
        api.PHYSICAL_NETWORK: PHYSNET,
        api.SEGMENTATION_ID: 1234,
    }

    def setUp(self):
        super().setUp()
        self.notifier = mock.Mock()
        self.driver._notifier = self.notifier

    def _context(self, vif_type=c.VIF_TYPE_SEA, original=portbindings.VIF_TYPE_UNBOUND, host="pvm-host-1"):
        return mock.Mock(
            host=host,
            vif_type=vif_type,
            original_vif_type=original,
            bottom_bound_segment=self.SEGMENT,
            current={"id": "port-1", portbindings.HOST_ID: host},
        )

    def test_committed_binding_notifies_the_agent_once(self):
        context = self._context()
        self.driver.update_port_postcommit(context)
        self.notifier.port_update.assert_called_once_with(
            context.plugin_context, context.current, n_const.TYPE_VLAN, 1234, PHYSNET
        )

    def test_other_updates_do_not_notify(self):
        for context in (
            self._context(original=c.VIF_TYPE_SEA),
            self._context(original=None),
            self._context(vif_type="ovs"),
            self._context(host=""),
        ):
            self.driver.update_port_postcommit(context)
        self.notifier.port_update.assert_not_called()

    def test_failed_notification_does_not_raise(self):
        self.notifier.port_update.side_effect = RuntimeError("amqp down")
        self.driver.update_port_postcommit(self._context())

    def test_initialize_creates_the_notifier(self):
        with mock.patch.object(mech_sea.ml2_rpc, "AgentNotifierApi") as api_cls:
            driver = mech_sea.PvmSeaMechanismDriver()
            driver.initialize()
        api_cls.assert_called_once_with("q-agent-notifier")
        self.assertIs(api_cls.return_value, driver._notifier)


def test_list_opts_gives_option_lists_per_group():
    for group, group_opts in opts.list_opts():
        assert isinstance(group, str)
        assert group_opts and all(isinstance(opt, cfg.Opt) for opt in group_opts)


def test_list_opts_merges_groups_of_option_modules():
    module = mock.Mock()
    first, second = cfg.StrOpt("bridge_mappings"), cfg.IntOpt("heal_interval")
    module.list_opts.return_value = [("AGENT", [first]), ("AGENT", [first, second])]
    with mock.patch.object(opts.importlib, "import_module", return_value=module) as imp:
        assert opts._gather(["a.config"]) == [("AGENT", [first, second])]
    imp.assert_called_once_with("a.config")


class SeaMl2PluginTestCase(test_plugin.Ml2PluginV2TestCase):
    """The driver loaded by name through its entry point and bound by the real ML2 plugin."""

    _mechanism_drivers = ["pvm_sea"]
    # The harness spreads project VLANs over physnet1-3; host 1 bridges them all, host 2 only one.
    MAPPINGS = {
        "pvm-host-1": {"physnet1": "nb-1", "physnet2": "nb-2", "physnet3": "nb-3"},
        "pvm-host-2": {"physnet1": "nb-1"},
    }

    def setUp(self):
        ml2_config.register_ml2_plugin_opts()
        cfg.CONF.set_override("project_network_types", [n_const.TYPE_VLAN], group="ml2")
        super().setUp()
        for host, mappings in self.MAPPINGS.items():
            agent = helpers._get_l2_agent_dict(host, c.AGENT_TYPE_SEA, c.AGENT_BINARY_SEA, bridge_mappings=mappings)
            helpers._register_agent(agent)

    def _port_on(self, network: dict, host: str) -> dict:
        res = self._create_port(
            self.fmt, network["id"], arg_list=(portbindings.HOST_ID,), is_admin=True, **{portbindings.HOST_ID: host}
        )
        return self.deserialize(self.fmt, res)["port"]

    def test_port_on_project_vlan_network_is_bound(self):
        # No subnet, so the port has no IP: ML2 binds it only through an 'l2' connectivity driver.
        created = self._make_network(self.fmt, "net1", True)["network"]
        network = self.driver.get_network(self.context, created["id"])  # provider attributes are admin-only
        self.assertEqual(n_const.TYPE_VLAN, network[pnet.NETWORK_TYPE])
        with mock.patch.object(mech_sea.ml2_rpc.AgentNotifierApi, "port_update") as notify:
            port = self._port_on(network, "pvm-host-1")
        self.assertEqual(c.VIF_TYPE_SEA, port[portbindings.VIF_TYPE])
        expected = {
            portbindings.CAP_PORT_FILTER: False,
            portbindings.VIF_DETAILS_CONNECTIVITY: portbindings.CONNECTIVITY_L2,
            portbindings.VIF_DETAILS_VLAN: str(network[pnet.SEGMENTATION_ID]),
            c.DETAIL_PHYSICAL_NETWORK: network[pnet.PHYSICAL_NETWORK],
            "bound_drivers": {"0": "pvm_sea"},  # added by ML2 itself
        }
        self.assertEqual(expected, port[portbindings.VIF_DETAILS])
        notify.assert_called_once()
        self.assertEqual("pvm-host-1", notify.call_args.args[1][portbindings.HOST_ID])

    def test_port_on_unmapped_physnet_fails_binding(self):
        provider = {pnet.NETWORK_TYPE: n_const.TYPE_VLAN, pnet.PHYSICAL_NETWORK: "physnet2", pnet.SEGMENTATION_ID: 250}
        network = self._make_network(self.fmt, "net2", True, as_admin=True, arg_list=tuple(provider), **provider)
        port = self._port_on(network["network"], "pvm-host-2")
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

    def test_port_on_host_without_agent_fails_binding(self):
        network = self._make_network(self.fmt, "net3", True)["network"]
        port = self._port_on(network, "x86-host")
        self.assertEqual(portbindings.VIF_TYPE_BINDING_FAILED, port[portbindings.VIF_TYPE])

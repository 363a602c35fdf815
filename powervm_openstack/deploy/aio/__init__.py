"""The whole PowerVM cloud on one machine: ``powervm-openstack-aio up|down|status``.

One module per service (``identity`` keystone, ``image`` glance, ``placement``, ``compute`` nova,
``network`` neutron and the PowerVM agents, ``ovs`` the optional Open vSwitch and its agent), ``base`` for what they share (WSGI under gunicorn,
commands with logs, readiness), ``catalog`` for the users/endpoints/flavors (one openstacksdk
process), ``cloud`` for the order of bring-up and tear-down, ``cli`` for the command.
"""

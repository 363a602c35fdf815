"""Suite-wide fixtures; the code lives in ``tests/fixtures`` and ``powervm_openstack.deploy.services``.

* ``service_run``, ``run_id``: the session's private names and work dir (``.work/<run_id>``).
* ``mariadb``: SQLAlchemy URL of a private, empty MariaDB database.
* ``rabbitmq``: ``transport_url`` of a private RabbitMQ vhost.
* ``aio_cloud``: the one shared all-in-one cloud of the process; ``aio_ovs_cloud``: one with Open vSwitch,
  per module (see ``tests/fixtures/cloud.py``).
* ``neutron_server``: factory for a running real neutron 29 server (see ``tests/fixtures/neutron.py``).
"""

from tests.fixtures.cloud import aio_cloud, aio_ovs_cloud  # noqa: F401
from tests.fixtures.neutron import neutron_server  # noqa: F401
from tests.fixtures.services import (  # noqa: F401
    mariadb,
    mariadb_server,
    rabbitmq,
    rabbitmq_server,
    run_id,
    service_run,
)
from tests.fixtures.simulator import sim_host  # noqa: F401

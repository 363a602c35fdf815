"""nova's own test harnesses run against the PowerVM driver on the simulator (stestr/testtools, not pytest).

nova's test packages monkey-patch with eventlet unless told otherwise; the driver is threads-only
(as nova-compute 34 runs by default), so the harness runs nova in native threading mode too. This
must be set before the first ``nova.tests`` import, hence here.
"""

import os

os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")

from nova import monkey_patch  # noqa: E402 - must follow the environment setting

monkey_patch.patch()

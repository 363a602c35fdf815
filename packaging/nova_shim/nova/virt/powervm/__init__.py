"""``compute_driver = powervm.PowerVMDriver``: nova imports compute drivers only from ``nova.virt``.

This one module is installed into nova's ``nova/virt`` package by the powervm-openstack
distribution (``nova`` and ``nova.virt`` stay nova's own); it only re-exports the driver. The name is
the one nova's retired in-tree PowerVM driver used, so existing configurations keep loading.
"""

from powervm_openstack.compute.driver import PowerVMDriver

__all__ = ["PowerVMDriver"]

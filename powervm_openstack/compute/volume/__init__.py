"""Cinder volumes on PowerVM: one adapter per protocol, chosen by ``driver_volume_type`` (``select``).

| ``driver_volume_type`` | adapter |
|---|---|
| ``fibre_channel`` (``[powervm] fc_attach_strategy = vscsi``) | ``fc_vscsi.FcVscsiVolume`` |
| ``fibre_channel`` (``fc_attach_strategy = npiv``) | ``npiv.NpivVolume`` |
| ``iscsi``, ``iser`` | ``iscsi.IscsiVolume`` |
| ``local``, ``nfs``, ``gpfs`` (FileIO from the NovaLink partition) | ``filestore.NovaLinkVolume`` |
| ``rbd`` (a Ceph image from the NovaLink partition) | ``filestore.RbdVolume`` |

Any other type: a clear error naming the type and the supported ones.
``select.Connector`` is what nova gives Cinder for an attach (``get_volume_connector``).
"""

"""One virtual slot space per partition: network adapters and client vSCSI adapters never share a slot."""

from __future__ import annotations

import pytest
from pypowervm import exceptions as pvm_exc
from pypowervm.tasks import cna as pvm_cna
from pypowervm.tasks import scsi_mapper
from pypowervm.tasks import storage as pvm_stg
from pypowervm.wrappers import storage as pvm_stor
from pypowervm.wrappers import virtual_io_server as pvm_vios

from tests.fixtures.simulator import new_lpar


def test_a_network_adapter_does_not_take_a_client_vscsi_slot(host) -> None:
    lpar = new_lpar(host)
    _, lu = pvm_stg.crt_lu(pvm_stor.Tier.get(host)[0], "boot_slots", 1, thin=True)
    vios = pvm_vios.VIOS.get(host)[0]
    scsi_mapper.add_vscsi_mapping(None, vios.uuid, lpar.uuid, pvm_stor.LU.bld_ref(host, lu.name, lu.udid))
    (mapping,) = [m for m in pvm_vios.VIOS.get(host, uuid=vios.uuid, xag=[pvm_vios.VIOS.xags.SCSI_MAPPING]).scsi_mappings
                  if m.backing_storage is not None and m.backing_storage.name == "boot_slots"]  # fmt: skip
    vscsi_slot = mapping.client_adapter.lpar_slot_num
    assert pvm_cna.crt_cna(host, None, lpar.uuid, 10).slot != vscsi_slot
    with pytest.raises(pvm_exc.HttpError) as err:
        pvm_cna.crt_cna(host, None, lpar.uuid, 11, slot_num=vscsi_slot)
    assert err.value.response.status == 400 and "already in use" in err.value.response.body

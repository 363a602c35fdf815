"""Partition jobs besides power: CloneUUID (remote restart's surrogate) and the IBM i panel.

- ``LogicalPartition/do/CloneUUID`` (``tasks.partition.clone_uuid``; its docstring: "deletes the
  original LPAR and changes the surrogate LPAR's UUID to be the original LPAR's UUID"). The job
  runs on the original; ``targetLparName`` names the surrogate. The simulator's choices, where
  pypowervm says no more: the original must be stopped (the same rule as deleting it: a running
  partition is refused), the surrogate must exist, be another LogicalPartition and be stopped too
  (its identity changes under it). The original is deleted as a REST DELETE would delete it (its
  adapters go with it); the surrogate keeps its name, id, configuration and adapters, now under
  the original's UUID (its adapters' links and parents follow), so a client holding the original's
  UUID finds the surrogate there. The change log shows the original's and the surrogate's old
  entry deleted and the UUID added again;
- ``LogicalPartition/do/PanelFunction`` (``tasks.ibmi.start_panel_job``): an IBM i partition only,
  ``operation`` one of pypowervm's ``IBMiPanelOperations``; the simulator records nothing (a panel
  function acts on the IBM i OS, which it does not run).
"""

from __future__ import annotations

from powervm_openstack.simulator.model.lpar_resources import DOWN_STATES
from powervm_openstack.simulator.runtime.jobs import JobFailed, register_job
from powervm_openstack.simulator.state import kinds, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Transaction

PANEL_OPERATIONS = (
    "dumprestart", "dston", "retrydump", "remotedstoff", "remotedston", "iopreset", "iopdump", "consoleservice",
)  # fmt: skip
_CHILD_KINDS = ("ClientNetworkAdapter", "VirtualNICDedicated", "SRIOVEthernetLogicalPort")


def install() -> None:
    register_job("LogicalPartition", "CloneUUID", clone_uuid)
    for group in ("LogicalPartition", "VirtualIOServer"):
        register_job(group, "PanelFunction", panel_function)


def _name(part: Record) -> str:
    return f"{xml.text(part.element, 'PartitionName')} ({part.uuid})"


def _require_stopped(part: Record, role: str) -> None:
    state = xml.text(part.element, "PartitionState", "") or ""
    if state not in DOWN_STATES:
        raise JobFailed(f"HSCL1B9D The {role} partition {_name(part)} is {state}; power it off before CloneUUID.")


def clone_uuid(txn: Transaction, original: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Delete ``original`` and give the surrogate named ``targetLparName`` its UUID."""
    assert original is not None
    target = params.get("targetLparName", "").strip()
    if not target:
        raise JobFailed("CloneUUID needs targetLparName, the name of the surrogate partition.")
    found = [p for p in txn.find("LogicalPartition") if xml.text(p.element, "PartitionName") == target]
    if not found:
        raise JobFailed(f"CloneUUID: no LogicalPartition is named {target!r}.")
    surrogate = found[0]
    if surrogate.uuid.lower() == original.uuid.lower():
        raise JobFailed(f"CloneUUID: the surrogate {target!r} is the original partition itself.")
    _require_stopped(original, "original")
    _require_stopped(surrogate, "surrogate")
    uuid = original.uuid
    kinds.behaviour("LogicalPartition").on_delete(txn, original)
    txn.delete(original, detail="CloneUUID")
    txn.delete(surrogate, detail="CloneUUID")
    _rekey(txn, surrogate, uuid)
    return {"result": f"Partition {target} now has UUID {uuid}; the original partition was deleted."}


def _rekey(txn: Transaction, surrogate: Record, uuid: str) -> None:
    """Store ``surrogate`` again under ``uuid``, its children and the links in its document following."""
    old = surrogate.uuid
    clone = surrogate.copy()
    clone.uuid = uuid
    _relink(clone, old, uuid)
    for tag in ("PartitionUUID", "Metadata/Atom/AtomID"):
        found = xml.find(clone.element, tag)
        if found is not None:
            found.text = uuid
    txn.put(clone, detail="CloneUUID")
    for kind in _CHILD_KINDS:
        for child in txn.find(kind, old):
            child.parent_uuid = uuid
            _relink(child, old, uuid)
            txn.put(child, detail="CloneUUID")


def _relink(rec: Record, old: str, new: str) -> None:
    for elem in rec.element.iter():
        href = elem.get("href")
        if href and old.lower() in href.lower():
            elem.set("href", _replace(href, old, new))


def _replace(text: str, old: str, new: str) -> str:
    start = text.lower().index(old.lower())
    return text[:start] + new + text[start + len(old) :]


def panel_function(txn: Transaction, part: Record | None, params: dict[str, str]) -> dict[str, str]:
    """Run an IBM i panel function (nothing to record: see the module docstring)."""
    assert part is not None
    ptype = xml.text(part.element, "PartitionType", "")
    if ptype != "OS400":
        raise JobFailed(f"PanelFunction is for IBM i partitions; partition {_name(part)} is {ptype}.")
    operation = params.get("operation", "")
    if operation not in PANEL_OPERATIONS:
        raise JobFailed(f"PanelFunction operation {operation!r} is not one of {', '.join(PANEL_OPERATIONS)}.")
    return {"result": f"Panel function {operation} sent to partition {_name(part)}."}

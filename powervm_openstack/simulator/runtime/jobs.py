"""Jobs under ``/do/``: templates, runs, status polling, cancel and delete.

A job operation is registered per (group, operation) by the model modules; its handler runs
in one store transaction, so a failed job changes nothing. Jobs finish after
``job_seconds`` (0 = before the submitting PUT returns), and are kept in memory: a
simulator restart forgets them, as NovaLink forgets its job history. An operation may also show
that it is queued: its ``queued`` hook runs in a transaction of its own when such a job is
submitted (``job_seconds`` > 0), and ``ended`` in another once it has run or was cancelled, so that
reads in between see what the hook wrote (a partition's ``MigrationState`` while it moves).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable

from lxml import etree

from powervm_openstack.simulator.errors import ApiError, not_found
from powervm_openstack.simulator.http.routes import Route
from powervm_openstack.simulator.state import atom, xml
from powervm_openstack.simulator.state.record import Record
from powervm_openstack.simulator.state.store import Store, Transaction

LOG = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job ran and failed; the message becomes the job's ``result`` (COMPLETED_WITH_ERROR).

    Its changes are rolled back unless ``keep_changes`` (a failure that leaves a trace, such as a
    partition marked ``Migration_Failed``). ``results`` are further job results the caller reads
    on failure (such as ``RETURN_CODE``).
    """

    def __init__(self, message: str, keep_changes: bool = False, results: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.keep_changes = keep_changes
        self.results = dict(results or {})


JobHandler = Callable[[Transaction, Record | None, dict[str, str]], dict[str, str]]
#: ``(txn, target)``: what a queued job shows while it waits, and undoes after (see the module docstring)
QueueHook = Callable[[Transaction, Record], None]
_OPERATIONS: dict[tuple[str, str], JobHandler] = {}
_CANCELS: dict[tuple[str, str], tuple[str, ...]] = {}
_QUEUE_HOOKS: dict[tuple[str, str], tuple[QueueHook, QueueHook]] = {}


def register_job(group: str, operation: str, handler: JobHandler, cancels: tuple[str, ...] = (),
                 queued: tuple[QueueHook, QueueHook] | None = None) -> None:  # fmt: skip
    """Make ``<group>[/<uuid>]/do/<operation>`` runnable.

    With ``cancels`` the job first cancels the running jobs of those operations on the same target,
    and fails when there was none (an abort with nothing to abort). ``queued`` is the pair of hooks
    ``(queued, ended)`` of a job that waits ``job_seconds``; ``ended`` is not called when the
    target is gone.
    """
    _OPERATIONS[(group, operation)] = handler
    if cancels:
        _CANCELS[(group, operation)] = cancels
    if queued:
        _QUEUE_HOOKS[(group, operation)] = queued


@dataclasses.dataclass
class Job:
    id: str
    group: str
    operation: str
    target: str | None
    params: dict[str, str]
    request_path: str
    status: str = "NOT_STARTED"
    started: str = ""
    completed: str = ""
    results: dict[str, str] = dataclasses.field(default_factory=dict)
    exception: str = ""
    queued: bool = False  # its operation's queued hook ran: its ended hook is owed


class Jobs:
    """Job templates, runs and status for one simulator."""

    def __init__(self, store: Store, job_seconds: float = 0.0) -> None:
        self.store = store
        self.job_seconds = job_seconds
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(int(time.time() * 1000))
        self._lock = threading.Lock()

    def template(self, route: Route, base: str) -> str:
        """The JobRequest template for ``route`` (GET .../do/<Op>)."""
        self._handler(route)
        elem = _job_request(route.kind, route.suffix_arg or "", {})
        rec = Record("JobRequest", str(next(self._ids)), elem)
        return atom.render_entry(rec, _route_path(route), base, None)

    def submit(self, route: Route, body: bytes, base: str) -> str:
        """Run a JobRequest (PUT .../do/<Op>); answer the JobResponse entry."""
        handler = self._handler(route)
        params = _job_params(xml.parse(body))
        job = Job(str(next(self._ids)), route.kind, route.suffix_arg or "", route.uuid, params, _route_path(route))
        with self._lock:
            self._jobs[job.id] = job
        LOG.info(
            "Job %s %s on %s %s submitted (params %s)",
            job.id,
            job.operation,
            job.group,
            job.target or "-",
            sorted(params),
        )
        cancels = _CANCELS.get((job.group, job.operation))
        if cancels and not self._cancel_running(job, cancels):
            job.status, job.started, job.completed = "COMPLETED_WITH_ERROR", xml.now_ms(), xml.now_ms()
            job.results = {"result": f"No {' or '.join(cancels)} job is running on {job.group} {job.target}.",
                           "returnCode": "1"}  # fmt: skip
        elif self.job_seconds <= 0:
            self._run(job, handler)
        else:
            job.status, job.started = "RUNNING", xml.now_ms()
            job.queued = self._queue_hook(job, 0)
            threading.Timer(self.job_seconds, self._run, (job, handler)).start()
        return self._render(job, base)

    def status(self, job_id: str, base: str) -> str:
        return self._render(self._job(job_id), base)

    def delete(self, job_id: str) -> None:
        with self._lock:
            if self._jobs.pop(job_id, None) is None:
                raise not_found(f"The job {job_id}")

    def cancel(self, job_id: str) -> None:
        job = self._job(job_id)
        if job.status in ("NOT_STARTED", "RUNNING"):
            if job.queued:
                self._queue_hook(job, 1)
            job.status, job.exception = "FAILED_BEFORE_COMPLETION", "The job was cancelled."

    def _queue_hook(self, job: Job, which: int) -> bool:
        """Run the operation's ``queued`` (0) or ``ended`` (1) hook in its own transaction; False if none."""
        hooks = _QUEUE_HOOKS.get((job.group, job.operation))
        if hooks is None or not job.target:
            return False
        with self.store.transaction() as txn:
            target = txn.get(job.group, job.target)
            if target is not None:
                hooks[which](txn, target)
        return True

    def _cancel_running(self, job: Job, operations: tuple[str, ...]) -> int:
        with self._lock:
            running = [j for j in self._jobs.values() if j.target == job.target and j.operation in operations
                       and j.status in ("NOT_STARTED", "RUNNING")]  # fmt: skip
        for other in running:
            self.cancel(other.id)
        return len(running)

    def _handler(self, route: Route) -> JobHandler:
        handler = _OPERATIONS.get((route.kind, route.suffix_arg or ""))
        if handler is None:
            known = sorted(op for grp, op in _OPERATIONS if grp == route.kind)
            raise ApiError(
                404,
                f"The operation {route.suffix_arg!r} does not exist for {route.kind}; "
                f"available: {', '.join(known) or 'none'}.",
            )
        return handler

    def _job(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found(f"The job {job_id}")
        return job

    def _run(self, job: Job, handler: JobHandler) -> None:
        if job.status == "FAILED_BEFORE_COMPLETION":
            return
        job.started = job.started or xml.now_ms()
        try:
            status, job.results, exception = self._outcome(job, handler)
        finally:
            if job.queued:  # before the status is seen: a poller's next read finds the hook's undo
                self._queue_hook(job, 1)
        job.status, job.exception = status, exception or job.exception
        job.completed = xml.now_ms()
        LOG.info(
            "Job %s %s on %s: %s %s",
            job.id,
            job.operation,
            job.target or "-",
            job.status,
            job.results.get("result", ""),
        )

    def _outcome(self, job: Job, handler: JobHandler) -> tuple[str, dict[str, str], str]:
        """Run the handler in one transaction: ``(status, results, exception)``."""
        try:
            with self.store.transaction() as txn:
                target = txn.get(job.group, job.target) if job.target else None
                if job.target and target is None:
                    raise JobFailed(f"The {job.group} {job.target} does not exist.")
                try:
                    results = handler(txn, target, job.params)
                except JobFailed as exc:
                    if not exc.keep_changes:
                        raise
                    kept = exc
                else:
                    kept = None
            if kept is not None:
                raise kept
            return "COMPLETED_OK", results, ""
        except (JobFailed, ApiError) as exc:
            extra = exc.results if isinstance(exc, JobFailed) else {}
            return "COMPLETED_WITH_ERROR", {"result": str(exc), "returnCode": "1", **extra}, ""
        except Exception as exc:  # a handler bug must not look like success to the client
            LOG.exception("Job %s %s crashed", job.id, job.operation)
            return "FAILED_BEFORE_COMPLETION", {}, f"Internal error: {exc}"

    def _render(self, job: Job, base: str) -> str:
        elem = xml.root("JobResponse", "", schema="V1_0", ns=xml.WEB_NS)
        req = xml.leaf(elem, "RequestURL", "", kb="ROR")
        req.attrib.update({"href": job.request_path, "rel": "via"})
        for tag, value in (
            ("TargetUuid", job.target or ""),
            ("JobID", job.id),
            ("TimeStarted", job.started or "0"),
            ("TimeCompleted", job.completed or "0"),
            ("Status", job.status),
        ):
            xml.leaf(elem, tag, value, kb="ROR")
        elem.append(_job_request(job.group, job.operation, job.params, tag="JobRequestInstance"))
        results = xml.complex_el(elem, "Results")
        for name, value in job.results.items():
            _param(results, name, value)
        if job.exception:
            exc = xml.complex_el(elem, "ResponseException")
            xml.leaf(exc, "Message", job.exception, kb="ROR")
        rec = Record("JobResponse", job.id, elem)
        return atom.render_entry(rec, f"/rest/api/uom/jobs/{job.id}", base, None)


def _route_path(route: Route) -> str:
    path = f"/rest/api/{route.service}/{route.kind}"
    return path + (f"/{route.uuid}" if route.uuid else "") + f"/do/{route.suffix_arg}"


def _job_request(group: str, operation: str, params: dict[str, str], tag: str = "JobRequest") -> etree._Element:
    if tag == "JobRequest":
        elem = xml.root("JobRequest", "", schema="V1_0", ns=xml.WEB_NS)
    else:
        elem = etree.Element(xml.q(tag, xml.WEB_NS), attrib={"schemaVersion": "V1_0"})
        elem.append(xml.metadata(ns=xml.WEB_NS))
    oper = xml.complex_el(elem, "RequestedOperation")
    xml.leaf(oper, "OperationName", operation, kb="ROR")
    xml.leaf(oper, "GroupName", group, kb="ROR")
    holder = xml.complex_el(elem, "JobParameters")
    for name, value in params.items():
        _param(holder, name, value)
    return elem


def _param(holder: etree._Element, name: str, value: str) -> None:
    param = etree.SubElement(holder, xml.q("JobParameter", xml.WEB_NS), attrib={"schemaVersion": "V1_0"})
    param.append(xml.metadata(ns=xml.WEB_NS))
    xml.leaf(param, "ParameterName", name, kb="ROR")
    xml.leaf(param, "ParameterValue", value, kb="CUR")


def _job_params(elem: etree._Element) -> dict[str, str]:
    if xml.local(elem) != "JobRequest":
        raise ApiError(400, f"Expected a JobRequest element, got {xml.local(elem)}.")
    params = {}
    for param in xml.findall(elem, "JobParameters/JobParameter", ns=xml.WEB_NS):
        name = xml.text(param, "ParameterName", ns=xml.WEB_NS)
        if name:
            params[name] = xml.text(param, "ParameterValue", "", ns=xml.WEB_NS) or ""
    return params

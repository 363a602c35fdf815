"""Jobs under ``/do/``: templates, runs, status polling, cancel and delete.

A job operation is registered per (group, operation) by the model modules; its handler runs
in one store transaction, so a failed job changes nothing. Jobs finish after
``job_seconds`` (0 = before the submitting PUT returns), and are kept in memory: a
simulator restart forgets them, as NovaLink forgets its job history.
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
_OPERATIONS: dict[tuple[str, str], JobHandler] = {}
_CANCELS: dict[tuple[str, str], tuple[str, ...]] = {}


def register_job(group: str, operation: str, handler: JobHandler, cancels: tuple[str, ...] = ()) -> None:
    """Make ``<group>[/<uuid>]/do/<operation>`` runnable.

    With ``cancels`` the job first cancels the running jobs of those operations on the same target,
    and fails when there was none (an abort with nothing to abort).
    """
    _OPERATIONS[(group, operation)] = handler
    if cancels:
        _CANCELS[(group, operation)] = cancels


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
            job.status, job.exception = "FAILED_BEFORE_COMPLETION", "The job was cancelled."

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
            with self.store.transaction() as txn:
                target = txn.get(job.group, job.target) if job.target else None
                if job.target and target is None:
                    raise JobFailed(f"The {job.group} {job.target} does not exist.")
                try:
                    job.results = handler(txn, target, job.params)
                except JobFailed as exc:
                    if not exc.keep_changes:
                        raise
                    kept = exc
                else:
                    kept = None
            if kept is not None:
                raise kept
            job.status = "COMPLETED_OK"
        except (JobFailed, ApiError) as exc:
            extra = exc.results if isinstance(exc, JobFailed) else {}
            job.status, job.results = "COMPLETED_WITH_ERROR", {"result": str(exc), "returnCode": "1", **extra}
        except Exception as exc:  # a handler bug must not look like success to the client
            LOG.exception("Job %s %s crashed", job.id, job.operation)
            job.status, job.exception = "FAILED_BEFORE_COMPLETION", f"Internal error: {exc}"
        job.completed = xml.now_ms()
        LOG.info(
            "Job %s %s on %s: %s %s",
            job.id,
            job.operation,
            job.target or "-",
            job.status,
            job.results.get("result", ""),
        )

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

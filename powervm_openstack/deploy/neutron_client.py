"""A tiny JSON client for a noauth neutron REST API, and the error it raises on non-2xx answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests


class NeutronHTTPError(RuntimeError):
    """A neutron REST call answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.method = method
        self.url = url
        self.status = status
        self.body = body


class NeutronClient:
    """A tiny JSON client for a noauth neutron API: every call returns the decoded body or raises.

    Paths are relative to the API root, e.g. ``client.get("/v2.0/networks")``. Non-2xx answers raise
    :class:`NeutronHTTPError` carrying the status and body.
    """

    def __init__(self, url: str, timeout: float = 60.0, project_id: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        # gunicorn closes idle keep-alive connections after 2 s; a request sent on one it just closed
        # fails with "Remote end closed connection", so every call gets a connection of its own.
        self.session.headers["Connection"] = "close"
        if project_id:
            self.session.headers["X-Project-Id"] = project_id

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.url + path
        resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if not 200 <= resp.status_code < 300:
            raise NeutronHTTPError(method, url, resp.status_code, resp.text)
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` with query ``params``; return the decoded JSON body."""
        return self._request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` as JSON to ``path``; return the decoded JSON body."""
        return self._request("POST", path, json=body)

    def put(self, path: str, body: Mapping[str, Any]) -> Any:
        """PUT ``body`` as JSON to ``path``; return the decoded JSON body."""
        return self._request("PUT", path, json=body)

    def delete(self, path: str) -> None:
        """DELETE ``path``; return None (neutron answers 204)."""
        self._request("DELETE", path)

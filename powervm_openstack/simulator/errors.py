"""Errors the simulator answers with, in the real API's terms (an HttpErrorResponse).

``ApiError`` is raised anywhere below the WSGI app; the app renders it and nothing of the
failed request is stored (the store transaction is rolled back).
"""

from __future__ import annotations

#: Message text real VIOSes return when busy; pypowervm's ``HttpError.is_vios_busy`` matches it.
VIOS_BUSY_MESSAGE = "HSCL3205 The managed system or VIOS {vios} is busy processing some other request."

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An HTTP error with the message a client (and an operator reading its log) will see."""

    def __init__(self, status: int, message: str, reason_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason_code = reason_code or reason(status)


def reason(status: int) -> str:
    return _REASONS.get(status, "Error")


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} does not exist.")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def etag_mismatch(kind: str, uuid: str, given: str, current: str) -> ApiError:
    return ApiError(
        412,
        f"The {kind} {uuid} was changed by another request: If-Match {given} does not match the "
        f"current ETag {current}. Read it again and retry.",
    )


class DropConnection(Exception):
    """Close the client's connection without any response (fault injection)."""

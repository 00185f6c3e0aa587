"""Errors the client core raises.

ClientError
├── ApiError              the server responded with an error body
│   └── TransientApiError 409 not_completed, 429, 502, 503, 504
├── ServerUnreachable     connection failed, timed out or dropped
├── IntegrityError        a download's size or SHA-256 does not match
└── BackendStartError     the bundled backend did not start
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error of the client core; `str()` is a plain sentence."""


class ApiError(ClientError):
    """The server responded with an error status and body."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """An error response that a later retry may not get."""


class ServerUnreachable(ClientError):
    """The request did not get an answer: connection failed, timed out or dropped."""


class IntegrityError(ClientError):
    """A downloaded file does not match the size or SHA-256 the server recorded."""


class BackendStartError(ClientError):
    """The bundled backend process did not start or did not become healthy."""

"""HTTP client for every endpoint of the backend API, on httpx."""

from __future__ import annotations

import email.utils
import logging
import mimetypes
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import httpx

from desktop_app import __version__
from desktop_app.client.errors import ApiError, ServerUnreachable, TransientApiError
from desktop_app.client.models import (
    ConversionOptions,
    FormatInfo,
    JobInfo,
    ProgressInfo,
)

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
TRANSIENT_STATUS_CODES = frozenset({429, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=60.0, pool=10.0)

UploadProgress = Callable[[int, int], None]


class ApiClient:
    """Blocking client for one backend; safe to share between threads.

    Every method raises ApiError (TransientApiError for responses worth
    retrying), or ServerUnreachable when no response arrived.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": f"audio-converter/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + API_PREFIX,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        """Return the health response; raise if the server is not up."""
        return self._json("GET", "/health")  # type: ignore[no-any-return]

    def formats(self) -> list[FormatInfo]:
        return [FormatInfo.from_json(item) for item in self._json("GET", "/formats")]

    def create_job(
        self,
        path: Path,
        options: ConversionOptions,
        on_upload: UploadProgress | None = None,
    ) -> JobInfo:
        """Upload `path` in chunks and queue its conversion."""
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with open(path, "rb") as handle:
            body = _ReportingReader(handle, on_upload)
            data = self._json(
                "POST",
                "/jobs",
                data=options.form_fields(),
                files={"file": (path.name, body, media_type)},
            )
        return JobInfo.from_json(data)

    def get_job(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(self._json("GET", f"/jobs/{job_id}"))

    def get_progress(self, job_id: str) -> ProgressInfo:
        return ProgressInfo.from_json(self._json("GET", f"/jobs/{job_id}/progress"))

    def cancel_job(self, job_id: str) -> JobInfo:
        return JobInfo.from_json(self._json("POST", f"/jobs/{job_id}/cancel"))

    @contextmanager
    def stream_output(
        self, job_id: str, headers: dict[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """Open the job's output as a streamed response (200 or 206)."""
        try:
            with self._http.stream(
                "GET", f"/jobs/{job_id}/output", headers=headers
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as error:
            raise _unreachable(error, self.base_url) from error

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise _unreachable(error, self.base_url) from error
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                "invalid_response",
                f"The server at {self.base_url} sent a response that is not JSON.",
            ) from None


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the ApiError for an error response, with its code and Retry-After."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or f"http_{response.status_code}")
    message = str(
        body.get("message")
        or f"The server answered {response.status_code} {response.reason_phrase}."
    )
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    transient = response.status_code in TRANSIENT_STATUS_CODES or (
        response.status_code == 409 and code == "not_completed"
    )
    kind = TransientApiError if transient else ApiError
    return kind(response.status_code, code, message, retry_after)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Return the delay in seconds a Retry-After header requests (seconds or date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)


def _unreachable(error: httpx.TransportError, base_url: str) -> ServerUnreachable:
    if isinstance(error, httpx.TimeoutException):
        reason = "timed out"
    elif isinstance(error, httpx.ConnectError):
        reason = "could not connect"
    else:
        reason = "the connection dropped"
    return ServerUnreachable(f"Request to {base_url} failed: {reason} ({error}).")


class _ReportingReader:
    """A read-only file wrapper that reports bytes read, for upload progress."""

    def __init__(self, handle: BinaryIO, on_read: UploadProgress | None) -> None:
        self._handle = handle
        self._on_read = on_read
        self._total = Path(handle.name).stat().st_size

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        if self._on_read is not None:
            self._on_read(self._handle.tell(), self._total)
        return chunk

    def fileno(self) -> int:
        return self._handle.fileno()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._handle.seek(offset, whence)

    def tell(self) -> int:
        return self._handle.tell()

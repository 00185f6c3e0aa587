"""Download a job's output safely: retries, resume, integrity check, no overwrite.

A download writes `NAME.<job>.part` beside the target, checks the size and
SHA-256 the server recorded for the job, and only then moves the file to a
name that does not exist yet (`NAME`, `NAME (1)`, ...). With the OVERWRITE
policy it replaces the target in one rename instead, so an existing file is
kept whole until a checked download takes its place. Transient faults are
retried with full-jitter exponential backoff that honours `Retry-After`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from desktop_app.client.api import ApiClient
from desktop_app.client.errors import (
    ApiError,
    ClientError,
    IntegrityError,
    ServerUnreachable,
    TransientApiError,
)
from desktop_app.client.models import JobInfo, OutputInfo
from desktop_app.client.output_rules import OverwritePolicy, TargetExists

logger = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
# Leaves room for " (9999)" and ".<job>.part" within a 255-byte file name.
MAX_NAME_BYTES = 230
MAX_NUMBERED_NAMES = 10_000

DownloadProgress = Callable[[int, int], None]


class DownloadCancelled(ClientError):
    """The caller cancelled the download; no file was left behind."""


class _CorruptTransfer(ClientError):
    """The bytes received do not match the job's size or hash; fetch again."""


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: wait uniform(0, min(cap, base * 2**n))."""

    retries: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 3.0
    max_retry_after_seconds: float = 30.0


NO_RETRIES = RetryPolicy(retries=0)


class _WaitHonouringRetryAfter:
    """Wait the jittered backoff, or longer when the server sent Retry-After."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_random_exponential(
            multiplier=policy.base_seconds, max=policy.cap_seconds
        )
        self._max_retry_after = policy.max_retry_after_seconds

    def __call__(self, state: RetryCallState) -> float:
        delay = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), self._max_retry_after))
        return delay


def is_transient(error: BaseException) -> bool:
    """True for faults a later attempt may not meet (never 404, 410 or 422)."""
    return isinstance(error, TransientApiError | ServerUnreachable | _CorruptTransfer)


class Downloader:
    """Downloads outputs with one API client; one call per file, any thread."""

    def __init__(
        self,
        api: ApiClient,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    def download(
        self,
        job: JobInfo,
        folder: Path,
        *,
        on_progress: DownloadProgress | None = None,
        cancel: threading.Event | None = None,
        name: str | None = None,
        overwrite: OverwritePolicy = OverwritePolicy.NUMBER,
    ) -> Path:
        """Save the job's output in `folder` and return the path written.

        The file is called `name`, or the name the server gives the output.
        When that file exists, `overwrite` decides: NUMBER writes `NAME (1)`
        and so on, OVERWRITE replaces it, and SKIP and ASK raise TargetExists
        before the download starts, or after it if the file appeared meanwhile
        (then the download is discarded).

        Raises ApiError for a final error response (404, 410, 422), IntegrityError
        when every attempt delivered bad bytes, ServerUnreachable or
        TransientApiError when retries ran out, DownloadCancelled on cancel.
        After ServerUnreachable or TransientApiError the part file and its ETag
        stay, so that a later call resumes; after the others nothing is left.
        """
        folder.mkdir(parents=True, exist_ok=True)
        transfer = _Transfer(
            self._api, job, folder, on_progress, cancel, name, overwrite
        )
        transfer.check_target()

        def sleep(seconds: float) -> None:
            if cancel is not None:
                if cancel.wait(seconds):
                    raise DownloadCancelled(f"Download of {transfer.name} cancelled.")
            else:
                self._sleep(seconds)

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.info(
                "Download of %s (job %s) failed on attempt %d, retrying: %s",
                transfer.name, job.id, state.attempt_number, error,
            )  # fmt: skip

        retrying = Retrying(
            stop=stop_after_attempt(self._policy.retries + 1),
            wait=_WaitHonouringRetryAfter(self._policy),
            retry=retry_if_exception(is_transient),
            sleep=sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            path = retrying(transfer.attempt)
        except _CorruptTransfer as error:
            transfer.discard()
            raise IntegrityError(str(error)) from error
        except (ServerUnreachable, TransientApiError):
            # Kept, with its ETag, so that a later call resumes it.
            raise
        except BaseException:
            transfer.discard()
            raise
        logger.info("Saved job %s output to %s", job.id, path)
        return path


class _Transfer:
    """State of one download across attempts: the part file and its ETag."""

    def __init__(
        self,
        api: ApiClient,
        job: JobInfo,
        folder: Path,
        on_progress: DownloadProgress | None,
        cancel: threading.Event | None,
        name: str | None = None,
        overwrite: OverwritePolicy = OverwritePolicy.NUMBER,
    ) -> None:
        self._api = api
        self._job = job
        self._folder = folder
        self._on_progress = on_progress
        self._cancel = cancel
        self._output = job.output
        self._chosen_name = None if name is None else safe_filename(name)
        self._overwrite = overwrite
        self.name = self._chosen_name or safe_filename(
            job.output.filename if job.output else job.filename
        )
        self.part = folder / f"{self.name}.{job.id[:8]}.part"
        # The ETag beside the part file lets a later run (after a crash or a
        # restart of the app) resume with If-Range instead of starting over.
        self._etag_file = self.part.with_name(f"{self.part.name}.etag")
        self._etag: str | None = self._load_etag()

    def attempt(self) -> Path:
        output = self._output_info()
        self.name = self._chosen_name or safe_filename(output.filename)
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {}
        if have and self._etag and have < output.size:
            headers = {"Range": f"bytes={have}-", "If-Range": self._etag}

        try:
            with self._api.stream_output(self._job.id, headers) as response:
                self._receive(response, output, have)
        except ApiError as error:
            if error.status_code != 416 or not headers:
                raise
            # The server rejected the range, so the part file does not belong
            # to this output (an earlier body was short). Start from zero.
            self.discard()
            self._save_etag(None)
            raise _CorruptTransfer(
                f"Download of {self.name} could not resume; the partial file "
                "was discarded."
            ) from error

        self._check(output)
        return self.finish()

    def _receive(self, response: httpx.Response, output: OutputInfo, have: int) -> None:
        """Write the response body to the part file, appending on a resume."""
        etag = response.headers.get("ETag")
        resumed = response.status_code == 206 and response.headers.get(
            "Content-Range", ""
        ).startswith(f"bytes {have}-")
        if not resumed:
            have = 0
        self._save_etag(etag)
        with open(self.part, "ab" if resumed else "wb") as handle:
            for chunk in response.iter_bytes(CHUNK_SIZE):
                if self._cancel is not None and self._cancel.is_set():
                    raise DownloadCancelled(f"Download of {self.name} cancelled.")
                handle.write(chunk)
                have += len(chunk)
                if have > output.size:
                    raise _CorruptTransfer(
                        f"Download of {self.name} grew past the expected "
                        f"{output.size} bytes; the file was discarded."
                    )
                if self._on_progress is not None:
                    self._on_progress(have, output.size)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self._etag_file.unlink(missing_ok=True)

    def check_target(self) -> None:
        """Raise TargetExists early when the policy keeps an existing file."""
        target = self._folder / self.name
        keeps_existing = self._overwrite in (OverwritePolicy.SKIP, OverwritePolicy.ASK)
        if keeps_existing and (target.exists() or target.is_symlink()):
            raise TargetExists(target)

    def finish(self) -> Path:
        """Move the checked part file to its final name under the overwrite policy."""
        target = self._folder / self.name
        if self._overwrite is OverwritePolicy.NUMBER:
            path = place_file(self.part, self._folder, self.name)
        elif self._overwrite is OverwritePolicy.OVERWRITE:
            # One rename on the same file system: readers see the old file or
            # the new one, never a mix, and a failed download changed nothing.
            os.replace(self.part, target)
            path = target
        else:
            path = place_new_file(self.part, target)
        self._etag_file.unlink(missing_ok=True)
        return path

    def _load_etag(self) -> str | None:
        if not self.part.exists():
            self._etag_file.unlink(missing_ok=True)
            return None
        try:
            text = self._etag_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return text or None

    def _save_etag(self, etag: str | None) -> None:
        self._etag = etag
        if etag is None:
            self._etag_file.unlink(missing_ok=True)
        else:
            self._etag_file.write_text(etag, encoding="utf-8")

    def _output_info(self) -> OutputInfo:
        if self._output is not None:
            return self._output
        job = self._api.get_job(self._job.id)
        if job.status == "failed":
            message = job.error_message or f"Conversion of {job.filename} failed."
            raise ApiError(422, "job_failed", message)
        if job.status == "cancelled":
            raise ApiError(410, "job_cancelled", f"{job.filename} was cancelled.")
        if job.output is None:
            raise TransientApiError(
                409, "not_completed", f"{self.name} has no output yet.", None
            )
        self._output = job.output
        return job.output

    def _check(self, output: OutputInfo) -> None:
        size = self.part.stat().st_size
        if size != output.size:
            # A short body: keep the bytes and resume on the next attempt.
            raise ServerUnreachable(
                f"Download of {self.name} ended after {size} of {output.size} bytes."
            )
        digest = file_sha256(self.part)
        if digest != output.sha256:
            self.discard()
            self._save_etag(None)
            raise _CorruptTransfer(
                f"Download of {self.name} does not match the server's SHA-256; "
                "the file was discarded."
            )


def discard_partial_files(folder: Path, job_id: str) -> None:
    """Delete the part and ETag files a download of `job_id` left in `folder`."""
    for path in folder.glob(f"*.{job_id[:8]}.part*"):
        path.unlink(missing_ok=True)


def safe_filename(name: str) -> str:
    """Return `name` without folders, so a server can never choose the folder.

    Long names are shortened so that the part file and numbered names stay
    within the 255-byte limit of common file systems.
    """
    base = Path(name.replace("\\", "/")).name.strip()
    if base in ("", ".", ".."):
        return "output"
    return fit_filename(base, MAX_NAME_BYTES)


def fit_filename(name: str, max_bytes: int) -> str:
    """Shorten the stem of `name` until its UTF-8 form has at most max_bytes."""
    if len(name.encode()) <= max_bytes:
        return name
    stem, suffix = os.path.splitext(name)
    budget = max_bytes - len(suffix.encode())
    shortened = stem.encode()[:budget].decode("utf-8", "ignore").rstrip()
    return f"{shortened}{suffix}"


def place_file(source: Path, folder: Path, name: str) -> Path:
    """Move `source` to `folder/name`, or `name (1)`, ... if that exists.

    Uses a hard link where possible, which fails instead of replacing an
    existing file, so a file that appears meanwhile is never overwritten.
    """
    stem, suffix = os.path.splitext(name)
    for number in range(MAX_NUMBERED_NAMES):
        candidate = folder / (name if number == 0 else f"{stem} ({number}){suffix}")
        if candidate.exists():
            continue
        try:
            os.link(source, candidate)
        except FileExistsError:
            continue
        except OSError:
            # No hard links on this file system: rename, after a fresh check.
            if candidate.exists():
                continue
            os.rename(source, candidate)
            return candidate
        with contextlib.suppress(FileNotFoundError):
            source.unlink()
        return candidate
    raise FileExistsError(f"No free file name for {name} in {folder}.")


def place_new_file(source: Path, target: Path) -> Path:
    """Move `source` to `target`; raise TargetExists if `target` exists.

    Uses a hard link where possible, which fails instead of replacing a file
    that appeared after any earlier check.
    """
    try:
        os.link(source, target)
    except FileExistsError:
        raise TargetExists(target) from None
    except OSError:
        # No hard links on this file system: rename, after a fresh check.
        if target.exists() or target.is_symlink():
            raise TargetExists(target) from None
        os.rename(source, target)
        return target
    with contextlib.suppress(FileNotFoundError):
        source.unlink()
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()

"""Start and stop the bundled backend as a child process on 127.0.0.1.

The child binds a free port itself and prints it, so no other process can
take the port in between. It gets a random token for this launch through
its environment (never its command line, which other users can read). It
stops when its standard input closes, which also happens when this process
is killed; on Linux the kernel additionally sends it SIGTERM then.

The child runs in a session (POSIX) or process group (Windows) of its own,
so Ctrl-C in a terminal reaches only this process. The CLI can then cancel
its jobs on the still running backend before it stops the child.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import platformdirs

from backend.datalock import data_folder_in_use
from desktop_app.app_logging import BACKEND_LOG_NAME, rotate_if_large
from desktop_app.client.errors import BackendStartError

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 30.0
# How much of the end of the child's log is searched for the failure reason.
LOG_TAIL_BYTES = 64 * 1024
# An exception summary line of a traceback, or an `Error: ...` line.
_REASON_LINE = re.compile(r"^(?:Error: .+|[A-Za-z_][\w.]*(?:Error|Exception): .+)$")
# A log record at ERROR or CRITICAL level, in the backend's log format.
_ERROR_RECORD = re.compile(r" (?:ERROR|CRITICAL) [\w.]+: (?P<message>.+)$")
STOP_TIMEOUT_SECONDS = 10.0
LOOPBACK = "127.0.0.1"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("audio-converter", appauthor=False))


def backend_command() -> list[str]:
    """Return the command that starts the backend, inside a bundle or not."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "serve-backend"]
    return [sys.executable, "-m", "backend"]


class BundledBackend:
    """A backend child process owned by this process.

    Use as a context manager, or call `start` and `stop`.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        log_dir: Path | None = None,
        ephemeral: bool = False,
        workers: int | None = None,
        extra_env: dict[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.data_dir = data_dir or default_data_dir()
        self.log_dir = log_dir or self.data_dir
        self._ephemeral = ephemeral
        self._backend_dir: Path | None = None
        self.token = secrets.token_urlsafe(32)
        self.url: str | None = None
        self._workers = workers
        self._extra_env = extra_env or {}
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_start = 0

    @property
    def log_path(self) -> Path:
        """The child's log: its standard error, appended across launches."""
        return self.log_dir / BACKEND_LOG_NAME

    @property
    def is_running(self) -> bool:
        """True while the child process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> str:
        """Start the child, wait until it is healthy, and return its base URL."""
        self.spawn()
        return self.wait_until_ready()

    def spawn(self) -> None:
        """Start the child process without waiting for it.

        Call this on the thread that lives as long as the app (the GUI
        thread): Linux sends the parent-death signal when the spawning
        thread ends, not the process.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        rotate_if_large(self.log_path)
        backend_dir = self._choose_backend_dir()
        command = [
            *backend_command(),
            "--host", LOOPBACK, "--port", "0",
            "--data-dir", str(backend_dir),
            "--exit-with-stdin",
        ]  # fmt: skip
        if self._workers is not None:
            command += ["--workers", str(self._workers)]
        env = {
            **os.environ,
            **self._extra_env,
            "AUDIO_CONVERTER_TOKEN": self.token,
            # Jobs outlive the launch token, so the next launch can resume them.
            "AUDIO_CONVERTER_OWNER_SCOPE": "server",
        }
        descriptor = os.open(
            self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        self._log_file = os.fdopen(descriptor, "ab")
        self._log_start = os.fstat(descriptor).st_size
        logger.info("Starting bundled backend: %s", " ".join(command))
        if sys.platform == "win32":
            # Keeps the console's Ctrl-C and Ctrl-Break events from the child.
            creation_flags = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            creation_flags = 0
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=env,
            # The terminal sends SIGINT and SIGHUP to its foreground process
            # group only; the parent-death signal and the stdin pipe still
            # end the child with this process.
            start_new_session=sys.platform != "win32",
            creationflags=creation_flags,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def wait_until_ready(self) -> str:
        """Wait for the child's port and health check; return its base URL.

        Safe to call from a worker thread. Stops the child and raises
        BackendStartError when it does not come up in time.
        """
        try:
            port = self._wait_for_port()
            self.url = f"http://{LOOPBACK}:{port}"
            self._wait_for_health()
        except BaseException:
            self.stop()
            raise
        logger.info("Bundled backend ready at %s (pid %s)", self.url, self.pid)
        return self.url

    def stop(self) -> None:
        """Stop the child: close its stdin, then terminate, then kill."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            logger.info("Stopping bundled backend (pid %d)", process.pid)
            try:
                if process.stdin is not None:
                    process.stdin.close()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("Backend did not stop in time; terminating it")
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self._ephemeral and self._backend_dir is not None:
            shutil.rmtree(self._backend_dir, ignore_errors=True)
            self._backend_dir = None

    def _choose_backend_dir(self) -> Path:
        """Return the backend's data folder: the shared one, or a private one.

        Jobs in the shared folder survive a restart. A run that does not need
        that (the CLI), or that finds another app's backend on the shared
        folder, gets a private folder that is deleted on stop.
        """
        shared = self.data_dir / "backend"
        if not self._ephemeral and data_folder_in_use(shared):
            logger.warning("%s is in use; using a private data folder", shared)
            self._ephemeral = True
        if self._ephemeral:
            self._backend_dir = Path(
                tempfile.mkdtemp(prefix="backend-", dir=self.data_dir)
            )
        else:
            self._backend_dir = shared
        return self._backend_dir

    def _wait_for_port(self) -> int:
        if self._process is None or self._process.stdout is None:
            raise BackendStartError("The converter backend was not started.")
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self._process.stdout

        def read_lines() -> None:
            for line in stdout:
                lines.put(line)
            lines.put(b"")

        threading.Thread(target=read_lines, name="backend-stdout", daemon=True).start()
        deadline = time.monotonic() + self._startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BackendStartError(
                    f"The converter backend did not start within "
                    f"{self._startup_timeout:.0f} s; see {self.log_path}."
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if not line:
                reason = self._failure_reason()
                detail = f" ({reason})" if reason else ""
                raise BackendStartError(
                    f"The converter backend exited while starting{detail}; "
                    f"see {self.log_path}."
                )
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("event") == "ready":
                return int(event["port"])

    def _failure_reason(self) -> str | None:
        """Return the line of this launch's log that best explains the failure.

        That is the last exception summary (`FileNotFoundError: ...`) or
        `Error: ...` line, else the message of the last ERROR record.
        """
        if self._log_file is not None:
            self._log_file.flush()
        try:
            with self.log_path.open("rb") as log:
                end = log.seek(0, os.SEEK_END)
                log.seek(max(end - LOG_TAIL_BYTES, self._log_start))
                lines = log.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            if _REASON_LINE.match(line):
                return line.strip()
        for line in reversed(lines):
            if record := _ERROR_RECORD.search(line):
                return record["message"].strip()
        return None

    def _wait_for_health(self) -> None:
        assert self.url is not None
        deadline = time.monotonic() + self._startup_timeout
        with httpx.Client(base_url=self.url, timeout=2.0) as http:
            while time.monotonic() < deadline:
                try:
                    if http.get("/api/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise BackendStartError(
            f"The converter backend at {self.url} did not respond to its health "
            f"check; see {self.log_path}."
        )


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when its parent dies."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

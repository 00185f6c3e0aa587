"""Keep the bundled backend running: start it, and start it again if it dies."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.ui.workers import TaskRunner

logger = logging.getLogger(__name__)

CHECK_INTERVAL_MS = 1_000
MAX_RESTARTS = 5


class BackendSupervisor(QObject):
    """Owns the bundled backend for the app's lifetime. GUI thread only.

    Spawning happens on the GUI thread (see BundledBackend.spawn), and waiting
    for the backend's health check runs on the thread pool.

    Signals:
        backend_ready(object, str): an ApiClient for the running backend, and
            a description for the status bar.
        backend_failed(str): the backend could not be started; the reason.
    """

    backend_ready = Signal(object, str)
    backend_failed = Signal(str)

    def __init__(
        self,
        backend: BundledBackend,
        runner: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._backend = backend
        self._runner = runner
        self._restarts = 0
        self._starting = False
        self._stopped = False
        self._check_timer = QTimer(self)
        self._check_timer.setObjectName("backend_check_timer")
        self._check_timer.setInterval(CHECK_INTERVAL_MS)
        self._check_timer.timeout.connect(self._on_check_timer_timeout)

    @property
    def backend(self) -> BundledBackend:
        return self._backend

    def start(self) -> None:
        self._stopped = False
        self._launch()
        self._check_timer.start()

    def stop(self) -> None:
        self._stopped = True
        self._check_timer.stop()
        self._backend.stop()

    def _launch(self) -> None:
        self._starting = True
        try:
            self._backend.spawn()
        except OSError as error:
            self._on_failed(error)
            return
        backend = self._backend
        self._runner.start(
            lambda _report: backend.wait_until_ready(),
            on_success=self._on_ready,
            on_failure=self._on_failed,
        )

    def _on_ready(self, url: str) -> None:
        self._starting = False
        if self._stopped:
            return
        api = ApiClient(url, self._backend.token)
        self.backend_ready.emit(api, "built-in converter")

    def _on_failed(self, error: Exception) -> None:
        self._starting = False
        logger.error("The converter backend did not start: %s", error)
        self.backend_failed.emit(str(error))

    @Slot()
    def _on_check_timer_timeout(self) -> None:
        if self._starting or self._stopped or self._backend.is_running:
            return
        if self._restarts >= MAX_RESTARTS:
            self._check_timer.stop()
            self.backend_failed.emit(
                f"The converter stopped {MAX_RESTARTS} times and was not started "
                f"again; see {self._backend.log_path}."
            )
            return
        self._restarts += 1
        logger.warning(
            "The converter backend exited (restart %d of %d)",
            self._restarts, MAX_RESTARTS,
        )  # fmt: skip
        self.backend_failed.emit("The converter stopped unexpectedly; restarting it.")
        self._backend.stop()
        self._launch()

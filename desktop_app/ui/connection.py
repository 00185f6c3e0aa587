"""Connects the window to the built-in backend or to a shared server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Slot

from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.ui.backend_supervisor import BackendSupervisor
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import BackendChoice, load_backend_choice
from desktop_app.ui.workers import TaskRunner

logger = logging.getLogger(__name__)


class BackendConnection(QObject):
    """Gives the window its backend and switches when the settings change.

    A server named on the command line wins over the settings for the whole
    run. Otherwise the settings decide: a shared server's address and token,
    or the built-in backend, which is started here and stopped on `close`.
    GUI thread only.
    """

    def __init__(
        self,
        window: MainWindow,
        settings: QSettings,
        runner: TaskRunner,
        *,
        forced: BackendChoice | None = None,
        make_backend: Callable[[], BundledBackend] | None = None,
        log_dir: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._window = window
        self._settings = settings
        self._runner = runner
        self._forced = forced
        self._make_backend = make_backend or (lambda: BundledBackend(log_dir=log_dir))
        self._supervisor: BackendSupervisor | None = None
        window.backend_settings_changed.connect(
            self._on_window_backend_settings_changed
        )

    @property
    def supervisor(self) -> BackendSupervisor | None:
        return self._supervisor

    def open(self) -> None:
        """Connect to the backend the command line or the settings name."""
        choice = self._forced or load_backend_choice(self._settings)
        if choice.url:
            logger.info("Using the converter server at %s", choice.url)
            self._window.set_backend(
                ApiClient(choice.url, choice.token), f"server at {choice.url}"
            )
            return
        logger.info("Starting the built-in converter")
        self._supervisor = BackendSupervisor(
            self._make_backend(), self._runner, parent=self
        )
        self._supervisor.backend_ready.connect(self._window.set_backend)
        self._supervisor.backend_failed.connect(self._window.show_backend_error)
        self._supervisor.start()

    def close(self) -> None:
        """Stop the built-in backend, if this connection started one."""
        if self._supervisor is not None:
            self._supervisor.stop()
            self._supervisor.deleteLater()
            self._supervisor = None

    @Slot()
    def _on_window_backend_settings_changed(self) -> None:
        if self._forced is not None:
            logger.info("A server given on the command line stays in use")
            return
        self.close()
        self.open()

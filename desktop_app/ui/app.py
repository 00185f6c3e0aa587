"""Start the Qt application, the bundled backend and the main window."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.ui.backend_supervisor import BackendSupervisor
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.workers import TaskRunner

logger = logging.getLogger(__name__)

ORGANIZATION = "AudioConverter"
APPLICATION = "Audio Converter"


def resources_dir() -> Path:
    """Return the folder of icons and other resources, also inside a bundle."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def run_app(server_url: str | None = None) -> int:
    """Show the window and run the event loop; return the exit status.

    Without `server_url` (or AUDIO_CONVERTER_SERVER) the app starts its own
    backend and stops it on quit.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName("audio-converter")
    icon_path = resources_dir() / "icon.svg"
    if icon_path.is_file():
        app.setWindowIcon(QIcon(str(icon_path)))

    runner = TaskRunner(parent=app)
    window = MainWindow(QSettings(), runner=runner)
    window.show()

    server_url = server_url or os.environ.get("AUDIO_CONVERTER_SERVER")
    supervisor: BackendSupervisor | None = None
    if server_url:
        token = os.environ.get("AUDIO_CONVERTER_TOKEN")
        window.set_backend(ApiClient(server_url, token), f"server at {server_url}")
    else:
        supervisor = BackendSupervisor(BundledBackend(), runner, parent=app)
        supervisor.backend_ready.connect(window.set_backend)
        supervisor.backend_failed.connect(window.show_backend_error)
        supervisor.start()

    _quit_on_signals(app)
    try:
        return app.exec()
    finally:
        if supervisor is not None:
            supervisor.stop()
        runner.wait_for_done(5_000)


def _quit_on_signals(app: QApplication) -> None:
    """Quit cleanly on SIGINT and SIGTERM, so the backend is stopped too."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.quit())
    # Python runs signal handlers only between bytecodes; wake it regularly.
    heartbeat = QTimer(app)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)

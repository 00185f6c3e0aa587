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

from desktop_app.ui.connection import BackendConnection
from desktop_app.ui.crash_dialog import CrashReporter
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import BackendChoice, load_window_preferences
from desktop_app.ui.theme import apply_theme
from desktop_app.ui.workers import TaskRunner
from desktop_app.user_settings import APPLICATION, ORGANIZATION

logger = logging.getLogger(__name__)


def resources_dir() -> Path:
    """Return the folder of icons and other resources, also inside a bundle."""
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        return Path(bundle_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def run_app(
    server_url: str | None = None,
    *,
    log_path: Path | None = None,
    log_dir: Path | None = None,
) -> int:
    """Show the window and run the event loop; return the exit status.

    Without `server_url` (or AUDIO_CONVERTER_SERVER) the app uses the backend
    chosen in its settings: by default its own, which logs into `log_dir` and
    stops on quit. An unhandled exception shows a dialog that names
    `log_path`.
    """
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    crash_reporter = CrashReporter(log_path, parent=app)
    crash_reporter.install()
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName("audio-converter")
    icon_path = resources_dir() / "icon.svg"
    if icon_path.is_file():
        app.setWindowIcon(QIcon(str(icon_path)))

    settings = QSettings()
    apply_theme(app, load_window_preferences(settings).theme)
    runner = TaskRunner(parent=app)
    window = MainWindow(settings, runner=runner)
    window.show()

    server_url = server_url or os.environ.get("AUDIO_CONVERTER_SERVER")
    forced = None
    if server_url:
        forced = BackendChoice(server_url, os.environ.get("AUDIO_CONVERTER_TOKEN"))
    connection = BackendConnection(
        window, settings, runner, forced=forced, log_dir=log_dir, parent=app
    )
    connection.open()

    _quit_on_signals(app)
    try:
        return app.exec()
    finally:
        connection.close()
        runner.wait_for_done(5_000)
        crash_reporter.uninstall()


def _quit_on_signals(app: QApplication) -> None:
    """Quit cleanly on SIGINT and SIGTERM, so the backend is stopped too."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.quit())
    # Python runs signal handlers only between bytecodes; wake it regularly.
    heartbeat = QTimer(app)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)

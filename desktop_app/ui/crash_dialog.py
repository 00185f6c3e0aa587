"""Show unhandled exceptions in a dialog that names the log file.

Without this, an exception in a slot goes to a console that desktop users
do not look at, and an exception in a worker thread ends that thread
silently. The reporter logs each one with its traceback and then tells the
user where the log is.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

logger = logging.getLogger(__name__)

# Shows the error summary and the log location; blocks until dismissed.
ShowCrashDialog = Callable[[str, Path | None], None]


def show_crash_message_box(summary: str, log_path: Path | None) -> None:
    """Show a modal error box with `summary` and where the log is."""
    if log_path is not None:
        where = f"The details are in the log file:\n{log_path}"
    else:
        where = "The log file could not be written; the details went to the console."
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "Audio Converter: unexpected error",
        "Audio Converter hit an unexpected error and may not work correctly "
        "until you restart it.",
        QMessageBox.StandardButton.Ok,
        QApplication.activeWindow(),
    )
    box.setInformativeText(f"{summary}\n\n{where}")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.exec()


class CrashReporter(QObject):
    """Logs unhandled exceptions and shows them in a dialog on the GUI thread.

    Create it on the GUI thread and call `install`. Exceptions from other
    threads reach the dialog through a queued signal. While a dialog is open,
    further exceptions are logged but get no dialog of their own.

    Signals:
        crash_reported(str): an unhandled exception was logged; its summary.
    """

    crash_reported = Signal(str)

    def __init__(
        self,
        log_path: Path | None,
        show_dialog: ShowCrashDialog = show_crash_message_box,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._log_path = log_path
        self._show_dialog = show_dialog
        self._dialog_open = False
        self._previous_excepthook = sys.excepthook
        self._previous_threading_excepthook = threading.excepthook
        self.crash_reported.connect(
            self._on_crash_reported, Qt.ConnectionType.QueuedConnection
        )

    def install(self) -> None:
        """Route unhandled exceptions of every thread to this reporter."""
        self._previous_excepthook = sys.excepthook
        self._previous_threading_excepthook = threading.excepthook
        sys.excepthook = self._on_exception
        threading.excepthook = self._on_thread_exception

    def uninstall(self) -> None:
        """Restore the hooks that `install` replaced."""
        sys.excepthook = self._previous_excepthook
        threading.excepthook = self._previous_threading_excepthook

    def _on_exception(
        self,
        kind: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._previous_excepthook(kind, error, traceback)
            return
        thread = threading.current_thread().name
        logger.critical(
            "Unhandled exception in thread %s",
            thread,
            exc_info=(kind, error, traceback),
        )
        # Emitted from any thread; the queued connection runs the slot on the
        # GUI thread, where this object lives.
        self.crash_reported.emit(f"{kind.__name__}: {error}")

    def _on_thread_exception(self, hook_args: threading.ExceptHookArgs) -> None:
        # A thread ended by SystemExit is no error, as in the default hook.
        if hook_args.exc_value is None or issubclass(hook_args.exc_type, SystemExit):
            return
        self._on_exception(
            hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback
        )

    @Slot(str)
    def _on_crash_reported(self, summary: str) -> None:
        if self._dialog_open:
            return
        self._dialog_open = True
        try:
            self._show_dialog(summary, self._log_path)
        finally:
            self._dialog_open = False

"""CrashReporter: unhandled exceptions get logged and shown with the log path."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from desktop_app.ui.crash_dialog import CrashReporter, show_crash_message_box

WAIT_MS = 5_000


class DialogRecorder:
    """Replacement for the modal dialog that records each summary and log path."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, Path | None]] = []

    def __call__(self, summary: str, log_path: Path | None) -> None:
        self.shown.append((summary, log_path))


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "log" / "app.log"


@pytest.fixture
def dialogs() -> DialogRecorder:
    return DialogRecorder()


@pytest.fixture
def reporter(
    qtbot: QtBot, log_path: Path, dialogs: DialogRecorder
) -> Iterator[CrashReporter]:
    crash_reporter = CrashReporter(log_path, show_dialog=dialogs)
    crash_reporter.install()
    yield crash_reporter
    crash_reporter.uninstall()


def test_thread_exception_shows_dialog(
    qtbot: QtBot,
    reporter: CrashReporter,
    dialogs: DialogRecorder,
    log_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail() -> None:
        raise RuntimeError("worker broke")

    worker = threading.Thread(target=fail, name="worker-under-test")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(dialogs.shown), timeout=WAIT_MS)

    assert dialogs.shown == [("RuntimeError: worker broke", log_path)]
    record = next(r for r in caplog.records if r.levelno == logging.CRITICAL)
    assert "worker-under-test" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError


@pytest.mark.qt_no_exception_capture
def test_slot_exception_shows_dialog(
    qtbot: QtBot, reporter: CrashReporter, dialogs: DialogRecorder, log_path: Path
) -> None:
    def fail() -> None:
        raise ValueError("slot broke")

    QTimer.singleShot(0, fail)
    qtbot.waitUntil(lambda: bool(dialogs.shown), timeout=WAIT_MS)

    assert dialogs.shown == [("ValueError: slot broke", log_path)]


def test_open_dialog_gets_no_second_dialog(qtbot: QtBot, log_path: Path) -> None:
    shown: list[str] = []

    def show_and_crash_again(summary: str, _log_path: Path | None) -> None:
        shown.append(summary)
        if len(shown) == 1:
            # A second failure while the first dialog is still open.
            crash_reporter.crash_reported.emit("OSError: second")
            qtbot.wait(50)

    crash_reporter = CrashReporter(log_path, show_dialog=show_and_crash_again)
    crash_reporter.crash_reported.emit("OSError: first")
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    qtbot.wait(100)

    assert shown == ["OSError: first"]


def test_keyboard_interrupt_goes_to_previous_hook(
    qtbot: QtBot, log_path: Path, dialogs: DialogRecorder
) -> None:
    seen: list[type[BaseException]] = []
    previous = sys.excepthook
    sys.excepthook = lambda kind, *_: seen.append(kind)
    reporter = CrashReporter(log_path, show_dialog=dialogs)
    reporter.install()
    try:
        sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
        qtbot.wait(50)
    finally:
        reporter.uninstall()
        sys.excepthook = previous

    assert seen == [KeyboardInterrupt]
    assert dialogs.shown == []


def test_uninstall_restores_hooks(log_path: Path, dialogs: DialogRecorder) -> None:
    before = (sys.excepthook, threading.excepthook)
    reporter = CrashReporter(log_path, show_dialog=dialogs)

    reporter.install()
    installed = (sys.excepthook, threading.excepthook)
    reporter.uninstall()

    assert installed != before
    assert (sys.excepthook, threading.excepthook) == before


def test_message_box_names_log_file(qtbot: QtBot, log_path: Path) -> None:
    seen: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        seen.append(box.informativeText())
        box.accept()

    QTimer.singleShot(100, read_and_close)
    show_crash_message_box("RuntimeError: broke", log_path)

    assert len(seen) == 1
    assert "RuntimeError: broke" in seen[0]
    assert str(log_path) in seen[0]

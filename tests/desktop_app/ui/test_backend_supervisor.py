from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop_app.backend_process import BundledBackend
from desktop_app.client.models import ConversionOptions
from desktop_app.ui.backend_supervisor import BackendSupervisor
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.workers import TaskRunner
from tests.helpers.plugin import ToneFactory

WAIT_MS = 90_000


@pytest.fixture
def supervised(
    qtbot: QtBot, tmp_path: Path
) -> Iterator[tuple[BackendSupervisor, MainWindow]]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    runner = TaskRunner()
    window = MainWindow(
        settings, runner=runner, poll_interval_ms=100, confirm=lambda *_: True
    )
    qtbot.addWidget(window)
    window.set_output_folder(tmp_path / "out")
    supervisor = BackendSupervisor(BundledBackend(tmp_path / "app-data"), runner)
    supervisor.backend_ready.connect(window.set_backend)
    supervisor.backend_failed.connect(window.show_backend_error)
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        supervisor.start()
    yield supervisor, window
    supervisor.stop()
    runner.wait_for_done(10_000)


def test_killed_backend_restarts_and_reports(
    qtbot: QtBot,
    supervised: tuple[BackendSupervisor, MainWindow],
    tone: ToneFactory,
) -> None:
    supervisor, window = supervised
    window.add_files([tone("long.wav", seconds=1200.0, rate=22_050, channels=1)])
    window.set_options(ConversionOptions("opus"))
    window.start_conversion()
    row = window.model.rows()[0]
    qtbot.waitUntil(
        lambda: row.state is not None and row.state.stage == "converting",
        timeout=WAIT_MS,
    )
    old_pid = supervisor.backend.pid
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    qtbot.waitUntil(
        lambda: row.state is not None and row.state.stage == "failed",
        timeout=WAIT_MS,
    )
    assert supervisor.backend.is_running
    assert supervisor.backend.pid != old_pid
    assert "interrupted" in row.status_text
    assert window.row_actions(row.key).retry_button.isVisibleTo(window)

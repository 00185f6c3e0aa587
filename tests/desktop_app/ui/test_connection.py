"""The window's backend follows the settings and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from desktop_app.ui.connection import BackendConnection
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import (
    BackendChoice,
    load_backend_choice,
    save_backend_choice,
)
from desktop_app.ui.workers import TaskRunner
from tests.helpers.plugin import ServerFactory
from tests.helpers.ui import RecordingInteraction

WAIT_MS = 60_000


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_settings_switch_server_live(
    qtbot: QtBot, settings: QSettings, server_factory: ServerFactory
) -> None:
    first, second = server_factory(), server_factory()
    save_backend_choice(settings, BackendChoice(first.url, first.token))
    runner = TaskRunner()
    window = MainWindow(settings, runner=runner, interaction=RecordingInteraction())
    qtbot.addWidget(window)
    connection = BackendConnection(window, settings, runner)
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        connection.open()
    assert window.backend_description() == f"server at {first.url}"
    assert connection.supervisor is None

    save_backend_choice(settings, BackendChoice(second.url, second.token))
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        window.apply_settings()
    assert window.backend_description() == f"server at {second.url}"
    runner.wait_for_done(10_000)


def test_command_line_server_wins(
    qtbot: QtBot, settings: QSettings, server_factory: ServerFactory
) -> None:
    server = server_factory()
    runner = TaskRunner()
    window = MainWindow(settings, runner=runner, interaction=RecordingInteraction())
    qtbot.addWidget(window)
    forced = BackendChoice(server.url, server.token)
    connection = BackendConnection(window, settings, runner, forced=forced)
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        connection.open()
    save_backend_choice(settings, BackendChoice("http://127.0.0.1:9", "other"))
    with qtbot.assertNotEmitted(window.backend_ready, wait=300):
        window.apply_settings()
    assert window.backend_description() == f"server at {server.url}"
    assert load_backend_choice(settings).url == "http://127.0.0.1:9"
    runner.wait_for_done(10_000)

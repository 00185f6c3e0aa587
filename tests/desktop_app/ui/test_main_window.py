from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from desktop_app.client.models import ConversionOptions
from desktop_app.ui.job_model import JobRow, Phase
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import AUTO_SAVE_KEY
from desktop_app.ui.queue_store import PendingSaves
from tests.helpers.audio import decoded_duration
from tests.helpers.faults import GatedJobService
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ServerFactory, ToneFactory
from tests.helpers.server import LiveServer

WAIT_MS = 60_000


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    """Settings in a temporary file, with saving by hand as in the first release."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue(AUTO_SAVE_KEY, False)
    return settings


@pytest.fixture
def gated(server_factory: ServerFactory) -> LiveServer:
    return server_factory(service_class=GatedJobService)


def _open_window(
    qtbot: QtBot, settings: QSettings, server: LiveServer, output: Path
) -> MainWindow:
    window = MainWindow(settings, poll_interval_ms=50, confirm=_confirm_yes)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        window.set_backend(server.client(), "test server")
    window.set_output_folder(output)
    return window


@pytest.fixture
def window(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer, tmp_path: Path
) -> Iterator[MainWindow]:
    yield _open_window(qtbot, settings, live_server, tmp_path / "out")


QUESTIONS: list[str] = []


def _confirm_yes(title: str, text: str) -> bool:
    QUESTIONS.append(text)
    return True


def _only_row(window: MainWindow) -> JobRow:
    rows = window.model.rows()
    assert len(rows) == 1
    return rows[0]


def _watch_save_rule(window: MainWindow, violations: list[str]) -> None:
    """Record any moment Save is enabled before the job is downloadable."""

    def check(key: int) -> None:
        row = window.model.row_by_key(key)
        if row is None:
            return
        enabled = window.row_actions(key).save_button.isEnabled()
        downloadable = row.state is not None and row.state.is_downloadable
        if enabled and not downloadable:
            violations.append(f"Save enabled at {row.state}")

    window.model.row_changed.connect(check)


def test_save_waits_for_completion(
    qtbot: QtBot,
    settings: QSettings,
    gated: LiveServer,
    tone: ToneFactory,
    tmp_path: Path,
) -> None:
    window = _open_window(qtbot, settings, gated, tmp_path / "out")
    violations: list[str] = []
    _watch_save_rule(window, violations)
    window.add_files([tone("song.wav", seconds=2.0)])
    window.set_options(ConversionOptions("mp3", bitrate_kbps=128))
    window.start_conversion()
    row = _only_row(window)
    qtbot.waitUntil(
        lambda: row.state is not None and row.state.stage == "converting",
        timeout=WAIT_MS,
    )
    save_button = window.row_actions(row.key).save_button
    assert not save_button.isEnabled()
    assert window.poll_timer.isActive()

    service = gated.service
    assert isinstance(service, GatedJobService)
    service.gate.set()
    qtbot.waitUntil(save_button.isEnabled, timeout=WAIT_MS)
    assert row.state is not None
    assert row.state.progress >= 100
    assert row.state.stage == "completed"

    qtbot.mouseClick(save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.saved_path is not None, timeout=WAIT_MS)
    assert row.saved_path == tmp_path / "out" / "song.mp3"
    duration = decoded_duration(row.saved_path)
    assert duration is not None
    assert abs(duration - 2.0) < 0.05
    assert violations == []
    assert "Saved as song.mp3" in row.status_text


def test_poll_timer_stops_when_idle(
    qtbot: QtBot, window: MainWindow, tone: ToneFactory
) -> None:
    window.add_files([tone("a.wav"), tone("b.wav")])
    window.start_conversion()
    qtbot.waitUntil(
        lambda: all(row.can_save for row in window.model.rows()), timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: not window.poll_timer.isActive(), timeout=WAIT_MS)


def test_failed_job_shows_reason(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"")
    window.add_files([broken])
    window.start_conversion()
    row = _only_row(window)
    qtbot.waitUntil(lambda: row.has_failed, timeout=WAIT_MS)
    assert "broken.mp3" in row.status_text
    assert "empty" in row.status_text
    actions = window.row_actions(row.key)
    assert not actions.save_button.isEnabled()
    assert not actions.cancel_button.isEnabled()


def test_cancel_stops_running_job(
    qtbot: QtBot,
    settings: QSettings,
    gated: LiveServer,
    tone: ToneFactory,
    tmp_path: Path,
) -> None:
    window = _open_window(qtbot, settings, gated, tmp_path / "out")
    window.add_files([tone("long.wav")])
    window.start_conversion()
    row = _only_row(window)
    cancel_button = window.row_actions(row.key).cancel_button
    qtbot.waitUntil(lambda: row.can_cancel, timeout=WAIT_MS)
    assert cancel_button.isEnabled()
    qtbot.mouseClick(cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: row.state is not None and row.state.stage == "cancelled",
        timeout=WAIT_MS,
    )
    assert not cancel_button.isEnabled()
    assert not window.row_actions(row.key).save_button.isEnabled()
    assert row.status_text == "Cancelled"


def test_save_keeps_existing_file(
    qtbot: QtBot, window: MainWindow, tone: ToneFactory, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "tone.flac").write_bytes(b"precious")
    window.set_options(ConversionOptions("flac"))
    window.add_files([tone("tone.wav")])
    window.start_conversion()
    row = _only_row(window)
    save_button = window.row_actions(row.key).save_button
    qtbot.waitUntil(save_button.isEnabled, timeout=WAIT_MS)
    window.save_row(row.key)
    qtbot.waitUntil(lambda: row.saved_path is not None, timeout=WAIT_MS)
    assert (output / "tone.flac").read_bytes() == b"precious"
    assert row.saved_path == output / "tone (1).flac"


def test_output_folder_is_remembered(
    qtbot: QtBot, window: MainWindow, settings: QSettings, tmp_path: Path
) -> None:
    folder = tmp_path / "elsewhere"
    window.set_output_folder(folder)
    window.close()
    again = MainWindow(settings, confirm=_confirm_yes)
    qtbot.addWidget(again)
    assert again.output_folder() == folder


def test_format_choice_is_remembered(
    qtbot: QtBot,
    window: MainWindow,
    settings: QSettings,
    live_server: LiveServer,
    tmp_path: Path,
) -> None:
    window.set_options(ConversionOptions("opus", bitrate_kbps=96))
    again = _open_window(qtbot, settings, live_server, tmp_path / "out")
    options = again.current_options()
    assert options is not None
    assert options.format == "opus"
    assert options.bitrate_kbps == 96


def test_convert_needs_ready_files(qtbot: QtBot, window: MainWindow) -> None:
    window.start_conversion()
    assert window.model.rows() == []
    window.add_files([Path("/no/such/file.wav")])
    assert window.model.rows() == []
    assert "no such file" in window.statusBar().currentMessage()


def test_backend_failure_is_shown(qtbot: QtBot, settings: QSettings) -> None:
    window = MainWindow(settings, confirm=_confirm_yes)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.backend_failed, timeout=WAIT_MS):
        window.show_backend_error("The converter backend exited while starting.")
    assert "exited while starting" in window.statusBar().currentMessage()


def test_added_file_is_ready(window: MainWindow, tone: ToneFactory) -> None:
    window.add_files([tone("x.wav")])
    row = _only_row(window)
    assert row.phase is Phase.READY
    assert row.status_text == "Ready"
    assert not window.row_actions(row.key).save_button.isEnabled()


def test_quit_warns_about_unsaved_output(
    qtbot: QtBot, window: MainWindow, tone: ToneFactory
) -> None:
    window.add_files([tone("keep.wav")])
    window.start_conversion()
    row = _only_row(window)
    qtbot.waitUntil(lambda: row.can_save, timeout=WAIT_MS)
    QUESTIONS.clear()
    window.close()
    assert len(QUESTIONS) == 1
    assert "1 converted file not saved yet" in QUESTIONS[0]


def test_retry_converts_failed_file_again(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, tone: ToneFactory
) -> None:
    flaky = tmp_path / "flaky.wav"
    flaky.write_bytes(b"")
    window.add_files([flaky])
    window.start_conversion()
    row = _only_row(window)
    actions = window.row_actions(row.key)
    qtbot.waitUntil(lambda: row.has_failed, timeout=WAIT_MS)
    assert actions.retry_button.isVisibleTo(window)
    assert not actions.cancel_button.isVisibleTo(window)

    tone("flaky.wav", seconds=1.0).replace(flaky)
    qtbot.mouseClick(actions.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.can_save, timeout=WAIT_MS)
    assert row.error is None
    assert not actions.retry_button.isVisibleTo(window)
    assert actions.save_button.isEnabled()


def test_unfinished_save_resumes_on_start(
    qtbot: QtBot,
    settings: QSettings,
    live_server: LiveServer,
    tone: ToneFactory,
    tmp_path: Path,
) -> None:
    with live_server.client() as api:
        job = api.create_job(tone("later.wav", seconds=20.0), ConversionOptions("wav"))
        done = finished_job(api, job.id)
    assert done.output is not None
    folder = tmp_path / "saved"
    folder.mkdir()
    part = folder / f"later.wav.{job.id[:8]}.part"
    part.write_bytes(b"\0" * (done.output.size // 2))
    part.with_name(part.name + ".etag").write_text(f'"{done.output.sha256}"')
    PendingSaves(settings).add(job.id, folder)

    window = _open_window(qtbot, settings, live_server, tmp_path / "elsewhere")
    qtbot.waitUntil(
        lambda: any(row.saved_path for row in window.model.rows()), timeout=WAIT_MS
    )
    row = _only_row(window)
    assert row.saved_path == folder / "later.wav"
    assert row.saved_path.stat().st_size == done.output.size
    assert PendingSaves(settings).items() == []

"""Batches in the window: limits, stop, cancel, retry, queue, output rules."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QEventLoop, QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from desktop_app.client.models import ConversionOptions
from desktop_app.client.output_rules import OutputRules, OverwritePolicy
from desktop_app.ui.interaction import OverwriteAnswer
from desktop_app.ui.job_model import JobRow, Phase
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import AUTO_SAVE_KEY
from tests.helpers.audio import FFMPEG, decoded_duration
from tests.helpers.faults import GatedJobService
from tests.helpers.plugin import ServerFactory, ToneFactory
from tests.helpers.server import LiveServer
from tests.helpers.ui import RecordingInteraction

WAIT_MS = 60_000


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def gated(server_factory: ServerFactory) -> LiveServer:
    return server_factory(service_class=GatedJobService)


def _open(
    qtbot: QtBot,
    settings: QSettings,
    server: LiveServer,
    output: Path | None,
    interaction: RecordingInteraction | None = None,
) -> tuple[MainWindow, RecordingInteraction]:
    interaction = interaction or RecordingInteraction()
    window = MainWindow(settings, poll_interval_ms=50, interaction=interaction)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.backend_ready, timeout=WAIT_MS):
        window.set_backend(server.client(), "test server")
    window.set_output_folder(output)
    window.set_options(ConversionOptions("mp3", bitrate_kbps=128))
    return window, interaction


def _gate(server: LiveServer) -> GatedJobService:
    service = server.service
    assert isinstance(service, GatedJobService)
    return service


def _run_batch(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.batch_finished, timeout=WAIT_MS):
        window.start_conversion()


def _tagged(path: Path, **tags: str) -> Path:
    metadata = [
        arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")
    ]
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=330:duration=1", *metadata, str(path)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return path


def test_batch_respects_parallel_limit(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, interaction = _open(qtbot, settings, live_server, tmp_path / "out")
    window.set_parallel_jobs(2)
    peak = []
    window.model.row_changed.connect(
        lambda _key: peak.append(sum(r.is_converting for r in window.model.rows()))
    )
    window.add_files([tone(f"t{i}.wav", seconds=0.5) for i in range(5)])
    _run_batch(qtbot, window)

    assert max(peak) == 2
    for row in window.model.rows():
        assert row.saved_path == tmp_path / "out" / f"{row.source.stem}.mp3"
    assert interaction.calls.notifications == [
        ("Audio Converter", "Converted 5 of 5 files.")
    ]
    assert interaction.calls.summaries == []
    assert not window.batch.is_running


def test_files_added_while_running_join_batch(
    qtbot: QtBot, settings: QSettings, gated: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, gated, tmp_path / "out")
    window.set_parallel_jobs(1)
    window.add_files([tone("first.wav")])
    window.start_conversion()
    window.add_files([tone("second.wav")])
    second = window.model.rows()[1]
    assert second.status_text == "Queued"
    assert window.row_actions(second.key).cancel_button.isEnabled()

    with qtbot.waitSignal(window.batch_finished, timeout=WAIT_MS):
        _gate(gated).gate.set()
    assert [row.saved_path is not None for row in window.model.rows()] == [True, True]


def test_finish_current_then_stop(
    qtbot: QtBot, settings: QSettings, gated: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, gated, tmp_path / "out")
    window.set_parallel_jobs(1)
    window.add_files([tone(f"s{i}.wav") for i in range(3)])
    window.start_conversion()
    first, second, third = window.model.rows()
    qtbot.waitUntil(lambda: first.phase is Phase.ON_SERVER, timeout=WAIT_MS)
    window.finish_current_then_stop()
    assert "stopping after the files in progress" in window.batch_status()

    with qtbot.waitSignal(window.batch_finished, timeout=WAIT_MS):
        _gate(gated).gate.set()
    assert first.saved_path is not None
    assert second.phase is Phase.READY
    assert third.phase is Phase.READY
    assert second.status_text == "Ready"


def test_cancel_all_stops_everything(
    qtbot: QtBot, settings: QSettings, gated: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, gated, tmp_path / "out")
    window.set_parallel_jobs(2)
    window.add_files([tone(f"c{i}.wav") for i in range(3)])
    window.start_conversion()
    rows = window.model.rows()
    qtbot.waitUntil(lambda: all(row.can_cancel for row in rows[:2]), timeout=WAIT_MS)
    window.cancel_all()
    qtbot.waitUntil(
        lambda: all(row.state and row.state.stage == "cancelled" for row in rows[:2]),
        timeout=WAIT_MS,
    )
    assert not window.batch.is_running
    assert rows[2].phase is Phase.READY
    assert window.action("retry_failed").isEnabled()


def test_retry_failed_converts_again(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, interaction = _open(qtbot, settings, live_server, tmp_path / "out")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF nothing here")
    window.add_files([broken, tone("fine.wav")])
    _run_batch(qtbot, window)

    failed, fine = window.model.rows()
    assert failed.has_failed
    assert fine.saved_path is not None
    title, text, details = interaction.calls.summaries[0]
    assert title == "Some files failed"
    assert text == "Converted 1 of 2 files. 1 failed."
    assert details.startswith("broken.wav ")
    assert "broken.wav" not in details[len("broken.wav") :]

    tone("broken.wav").replace(broken)
    with qtbot.waitSignal(window.batch_finished, timeout=WAIT_MS):
        window.retry_failed()
    assert failed.saved_path == tmp_path / "out" / "broken.mp3"


def test_queue_survives_restart(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    settings.setValue(AUTO_SAVE_KEY, False)
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.add_files([tone("done.wav")])
    _run_batch(qtbot, window)
    window.add_files([tone("waiting.wav")])
    window.close()

    again, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    done, waiting = again.model.rows()
    assert waiting.source.name == "waiting.wav"
    assert waiting.phase is Phase.READY
    qtbot.waitUntil(lambda: done.can_save, timeout=WAIT_MS)
    again.save_row(done.key)
    qtbot.waitUntil(lambda: done.saved_path is not None, timeout=WAIT_MS)
    assert done.saved_path == tmp_path / "out" / "done.mp3"


def test_folder_tree_is_mirrored(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    library = tmp_path / "library"
    (library / "Album" / "CD2").mkdir(parents=True)
    tone("a.wav").replace(library / "a.wav")
    tone("b.wav").replace(library / "Album" / "CD2" / "b.wav")
    (library / "notes.txt").write_text("not audio")
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.set_output_rules(OutputRules(folder=tmp_path / "out", mirror_tree=True))
    window.add_files([library])
    qtbot.waitUntil(lambda: len(window.model.rows()) == 2, timeout=WAIT_MS)
    _run_batch(qtbot, window)

    assert (tmp_path / "out" / "a.mp3").is_file()
    assert (tmp_path / "out" / "Album" / "CD2" / "b.mp3").is_file()


def test_drop_adds_folder(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    folder = tone("dropped.wav").parent
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    window.dropEvent(event)
    qtbot.waitUntil(lambda: len(window.model.rows()) == 1, timeout=WAIT_MS)
    assert window.model.rows()[0].source.name == "dropped.wav"
    assert window.model.rows()[0].root == folder


def test_name_template_uses_tags(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer, tmp_path: Path
) -> None:
    source = _tagged(
        tmp_path / "in.flac", artist="Nina", album="Blues", track="3", title="Song"
    )
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.set_output_rules(
        OutputRules(
            folder=tmp_path / "out", template="{artist}/{album}/{track} {title}"
        )
    )
    window.add_files([source])
    _run_batch(qtbot, window)

    row = window.model.rows()[0]
    assert row.saved_path == tmp_path / "out" / "Nina" / "Blues" / "03 Song.mp3"
    assert row.metadata is not None
    assert "title" in row.metadata.kept
    assert row.tags_text.startswith(f"{len(row.metadata.kept)} kept")


def test_existing_file_ask_applies_to_all(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    for name in ("x", "y"):
        (out / f"{name}.mp3").write_bytes(b"old")
    interaction = RecordingInteraction(
        overwrite_answer=OverwriteAnswer(OverwritePolicy.OVERWRITE, apply_to_all=True)
    )
    window, _ = _open(qtbot, settings, live_server, out, interaction)
    window.set_output_rules(OutputRules(folder=out, overwrite=OverwritePolicy.ASK))
    window.add_files([tone("x.wav"), tone("y.wav")])
    _run_batch(qtbot, window)

    assert len(interaction.calls.overwrite_questions) == 1
    for name in ("x", "y"):
        assert (out / f"{name}.mp3").stat().st_size > 1000
    assert sorted(path.name for path in out.iterdir()) == ["x.mp3", "y.mp3"]


def test_existing_file_is_skipped(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    source = tone("keep.wav")
    (out / "keep.mp3").write_bytes(b"mine")
    os.utime(out / "keep.mp3", (time.time() - 3600, time.time() - 3600))
    window, _ = _open(qtbot, settings, live_server, out)
    window.set_output_rules(OutputRules(folder=out, overwrite=OverwritePolicy.SKIP))
    window.add_files([source])
    _run_batch(qtbot, window)

    row = window.model.rows()[0]
    assert row.phase is Phase.SKIPPED
    assert row.status_text == "Skipped: keep.mp3 already exists"
    assert (out / "keep.mp3").read_bytes() == b"mine"


def test_source_is_never_overwritten(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer, tone: ToneFactory
) -> None:
    source = tone("same.wav")
    original = source.read_bytes()
    window, _ = _open(qtbot, settings, live_server, None)
    window.set_options(ConversionOptions("wav"))
    window.set_output_rules(
        OutputRules(folder=None, overwrite=OverwritePolicy.OVERWRITE)
    )
    window.add_files([source])
    _run_batch(qtbot, window)

    row = window.model.rows()[0]
    assert source.read_bytes() == original
    assert row.phase is Phase.SKIPPED
    assert row.state is None
    assert row.status_text == ("Skipped: its output would replace the source file")
    assert sorted(path.name for path in source.parent.iterdir()) == ["same.wav"]


def test_up_to_date_output_is_not_converted(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    source = tone("old.wav")
    (out / "old.mp3").write_bytes(b"converted before")
    window, _ = _open(qtbot, settings, live_server, out)
    window.add_files([source])
    _run_batch(qtbot, window)

    row: JobRow = window.model.rows()[0]
    assert row.phase is Phase.SKIPPED
    assert row.state is None
    assert "up to date" in row.status_text


def test_open_output_folder(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer, tmp_path: Path
) -> None:
    window, interaction = _open(qtbot, settings, live_server, tmp_path / "out")
    window.action("open_folder").trigger()
    assert interaction.calls.opened_folders == [tmp_path / "out"]


def test_remove_key_removes_selected_row(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.add_files([tone("a.wav"), tone("b.wav")])
    window.table_view.setFocus()
    window.table_view.selectRow(0)
    qtbot.keyClick(window.table_view, Qt.Key.Key_Delete)
    assert [row.source.name for row in window.model.rows()] == ["b.wav"]


def test_saved_output_decodes(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.add_files([tone("check.wav", seconds=2.0)])
    _run_batch(qtbot, window)
    saved = window.model.rows()[0].saved_path
    assert saved is not None
    duration = decoded_duration(saved)
    assert duration is not None
    assert abs(duration - 2.0) < 0.1


def test_same_names_never_overwrite_each_other(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    tone("s.wav", seconds=2.0).replace(first / "s.wav")
    tone("s.wav", seconds=0.5).replace(second / "s.wav")
    out = tmp_path / "out"
    window, _ = _open(qtbot, settings, live_server, out)
    window.set_output_rules(
        OutputRules(folder=out, overwrite=OverwritePolicy.OVERWRITE)
    )
    window.add_files([first / "s.wav", second / "s.wav"])
    _run_batch(qtbot, window)

    saved = sorted(row.saved_path for row in window.model.rows() if row.saved_path)
    assert saved == [out / "s (1).mp3", out / "s.mp3"]
    durations = sorted(decoded_duration(path) or 0.0 for path in saved)
    assert abs(durations[0] - 0.5) < 0.1
    assert abs(durations[1] - 2.0) < 0.1


def test_summary_counts_only_this_batch(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, interaction = _open(qtbot, settings, live_server, tmp_path / "out")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"")
    window.add_files([broken])
    _run_batch(qtbot, window)
    window.add_files([tone("later.wav")])
    _run_batch(qtbot, window)

    assert interaction.calls.notifications[-1] == (
        "Audio Converter",
        "Converted 1 of 1 file.",
    )
    assert len(interaction.calls.summaries) == 1


def test_retry_failed_leaves_waiting_files(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"")
    window.add_files([broken])
    _run_batch(qtbot, window)
    window.add_files([tone("waiting.wav")])
    tone("broken.wav").replace(broken)
    with qtbot.waitSignal(window.batch_finished, timeout=WAIT_MS):
        window.retry_failed()

    retried, waiting = window.model.rows()
    assert retried.saved_path is not None
    assert waiting.phase is Phase.READY
    window.clear_finished()
    assert window.model.rows() == [waiting]


def test_clear_finished_keeps_failures(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"")
    window.add_files([broken, tone("fine.wav")])
    _run_batch(qtbot, window)
    window.clear_finished()
    assert [row.source.name for row in window.model.rows()] == ["broken.wav"]


@pytest.mark.parametrize(
    "damaged",
    ['{"rows": 5}', '{"rows": "abc"}', '{"rows": [[1, 2]]}', "[" * 50_000,
     '{"rows": [{"source": "/a.wav", "phase": "ready", "options": "x"}]}',
     '{"rows": [{"source": "/a.wav", "phase": "no such phase"}]}'],
)  # fmt: skip
def test_damaged_saved_list_is_ignored(
    qtbot: QtBot, settings: QSettings, damaged: str
) -> None:
    settings.setValue("queue/rows", damaged)
    window = MainWindow(settings, interaction=RecordingInteraction())
    qtbot.addWidget(window)
    assert window.model.rows() == []


def test_saved_rows_stay_saved_after_restart(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    window, _ = _open(qtbot, settings, live_server, tmp_path / "out")
    window.add_files([tone("kept.wav")])
    _run_batch(qtbot, window)
    window.close()

    again = MainWindow(settings, interaction=RecordingInteraction())
    qtbot.addWidget(again)
    row = again.model.rows()[0]
    assert row.phase is Phase.FINISHED
    assert row.status_text == "Saved as kept.mp3"
    assert row.restored_job_id is None
    assert row.progress_percent == 100.0
    assert not row.can_retry


class NestedLoopInteraction(RecordingInteraction):
    """Returns the "file exists" choice after running the event loop, like a dialog."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.max_depth = 0

    def ask_overwrite(self, target: Path) -> OverwriteAnswer | None:
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        try:
            loop = QEventLoop()
            QTimer.singleShot(300, loop.quit)
            loop.exec()
            return super().ask_overwrite(target)
        finally:
            self.depth -= 1


def test_existing_files_are_asked_one_at_a_time(
    qtbot: QtBot, settings: QSettings, live_server: LiveServer,
    tone: ToneFactory, tmp_path: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    names = ("p", "q", "r")
    for name in names:
        (out / f"{name}.mp3").write_bytes(b"old")
    interaction = NestedLoopInteraction()
    window, _ = _open(qtbot, settings, live_server, out, interaction)
    window.set_parallel_jobs(3)
    window.set_output_rules(OutputRules(folder=out, overwrite=OverwritePolicy.ASK))
    window.add_files([tone(f"{name}.wav") for name in names])
    _run_batch(qtbot, window)

    assert interaction.max_depth == 1
    assert len(interaction.calls.overwrite_questions) == 3
    assert len(list(out.iterdir())) == 6

"""The app's log file: where it goes, what reaches it, and rotation."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app import app_logging
from desktop_app.app_logging import configure_logging, rotate_if_large


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_log_file_gets_info_records(
    root_logger: logging.Logger, tmp_path: Path
) -> None:
    path = configure_logging(console=False, log_dir=tmp_path / "log")
    logging.getLogger("desktop_app.test").info("Started job %s", "job-1")
    logging.getLogger("desktop_app.test").debug("Hidden detail")

    assert path == tmp_path / "log" / "app.log"
    text = path.read_text()
    assert "INFO" in text
    assert "Started job job-1" in text
    assert "Hidden detail" not in text


def test_log_file_rotates(
    root_logger: logging.Logger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_logging, "MAX_LOG_BYTES", 2_000)
    path = configure_logging(console=False, log_dir=tmp_path)
    assert path is not None
    for number in range(100):
        logging.getLogger("desktop_app.test").info("Line %03d of the log", number)

    assert path.stat().st_size <= 2_000
    assert (tmp_path / "app.log.1").is_file()
    assert not (tmp_path / f"app.log.{app_logging.LOG_BACKUPS + 1}").exists()


def test_unwritable_folder_falls_back_to_stderr(
    root_logger: logging.Logger,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")

    path = configure_logging(console=False, log_dir=blocker / "log")

    assert path is None
    assert "Cannot write the log file" in capsys.readouterr().err


def test_rotate_if_large_moves_big_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_logging, "MAX_LOG_BYTES", 100)
    log = tmp_path / "backend.log"
    log.write_text("x" * 150)

    rotate_if_large(log)

    assert not log.exists()
    assert (tmp_path / "backend.log.1").read_text() == "x" * 150


def test_rotate_if_large_keeps_small_log(tmp_path: Path) -> None:
    log = tmp_path / "backend.log"
    log.write_text("short")

    rotate_if_large(log)
    rotate_if_large(tmp_path / "missing.log")

    assert log.read_text() == "short"
    assert not (tmp_path / "backend.log.1").exists()

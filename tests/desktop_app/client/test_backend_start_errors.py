"""BundledBackend: the reason a failed start gives, taken from the child's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.backend_process import BundledBackend
from desktop_app.client.errors import BackendStartError


def test_reason_from_exception_summary(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ffmpeg"
    backend = BundledBackend(
        tmp_path / "data",
        log_dir=tmp_path / "log",
        extra_env={"AUDIO_CONVERTER_FFMPEG_PATH": str(missing)},
    )

    with pytest.raises(BackendStartError) as caught:
        backend.start()

    message = str(caught.value)
    assert f"(FileNotFoundError: Configured FFmpeg binary not found: {missing})" in (
        message
    )
    assert str(tmp_path / "log" / "backend.log") in message


def test_reason_from_error_record(tmp_path: Path) -> None:
    backend = BundledBackend(
        tmp_path / "data", extra_env={"AUDIO_CONVERTER_WORKERS": "0"}
    )

    with pytest.raises(BackendStartError) as caught:
        backend.start()

    assert "(Invalid settings: 1 validation error for Settings)" in str(caught.value)


def test_reason_ignores_earlier_launches(tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    (log_dir / "backend.log").write_text("OSError: left by an earlier launch\n")
    backend = BundledBackend(
        tmp_path / "data",
        log_dir=log_dir,
        extra_env={"AUDIO_CONVERTER_WORKERS": "0"},
    )

    with pytest.raises(BackendStartError) as caught:
        backend.start()

    assert "earlier launch" not in str(caught.value)
    assert "Invalid settings" in str(caught.value)

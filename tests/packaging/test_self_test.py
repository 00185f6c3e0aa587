"""`audio-converter --self-test` run unfrozen, and the checks it makes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.conversion.ffmpeg import resolve_ffmpeg
from desktop_app import self_test
from desktop_app.self_test import SelfTestFailure, check_output
from tests.helpers.plugin import ToneFactory

REPO_ROOT = Path(__file__).resolve().parents[2]
SELF_TEST_TIMEOUT_SECONDS = 120


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Return an environment whose data and log folders lie under `home`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUDIO_CONVERTER_")
    }
    env["XDG_DATA_HOME"] = str(home / "data")
    env["XDG_STATE_HOME"] = str(home / "state")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(extra)
    return env


def run_self_test(
    home: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.main", "--self-test", *args],
        cwd=REPO_ROOT,
        env=isolated_env(home, **extra_env),
        capture_output=True,
        text=True,
        timeout=SELF_TEST_TIMEOUT_SECONDS,
        check=False,
    )


def test_self_test_passes_unfrozen(tmp_path: Path) -> None:
    result = run_self_test(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("self-test passed:")
    assert "mp3 2.00 s" in lines[0]
    assert "flac 2.00 s" in lines[0]
    log_dir = tmp_path / "state" / "audio-converter" / "log"
    assert "Bundled backend ready" in (log_dir / "app.log").read_text()
    assert (log_dir / "backend.log").stat().st_size > 0
    # The run used a private data folder, not the user's.
    assert not (tmp_path / "data" / "audio-converter" / "backend").exists()


def test_self_test_fails_when_backend_cannot_start(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ffmpeg"
    result = run_self_test(tmp_path, AUDIO_CONVERTER_FFMPEG_PATH=str(missing))

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("self-test failed: the bundled backend did not")
    # The reason comes from the backend's log, and the line names that log.
    assert str(missing) in lines[0]
    backend_log = tmp_path / "state" / "audio-converter" / "log" / "backend.log"
    assert str(missing) in backend_log.read_text()


def test_self_test_rejects_server_option(tmp_path: Path) -> None:
    result = run_self_test(tmp_path, "--server", "http://127.0.0.1:9")

    assert result.returncode == 2
    assert "--self-test takes no command and no --server" in result.stderr
    assert result.stdout == ""


def test_check_output_accepts_tone(tone: ToneFactory) -> None:
    path = tone("good.flac", seconds=1.0)

    duration = check_output(resolve_ffmpeg(None), path, "flac", ".flac", 1.0)

    assert duration == pytest.approx(1.0, abs=0.01)


def test_check_output_rejects_wrong_length(tone: ToneFactory) -> None:
    path = tone("short.mp3", seconds=1.0)

    with pytest.raises(SelfTestFailure, match=r"short\.mp3 lasts 1\.0\d+ s"):
        check_output(resolve_ffmpeg(None), path, "mp3", ".mp3", 2.0)


def test_check_output_rejects_wrong_codec(tone: ToneFactory) -> None:
    path = tone("tone.mp3", seconds=1.0)
    renamed = path.rename(path.with_suffix(".flac"))

    with pytest.raises(SelfTestFailure, match=r"tone\.flac contains mp3"):
        check_output(resolve_ffmpeg(None), renamed, "flac", ".flac", 1.0)


def test_check_output_rejects_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp3"
    path.write_bytes(b"not audio at all" * 64)

    with pytest.raises(SelfTestFailure, match=r"noise\.mp3"):
        check_output(resolve_ffmpeg(None), path, "mp3", ".mp3", 1.0)


def test_unexpected_error_still_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ffmpeg(configured: Path | None) -> str:
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(self_test, "resolve_ffmpeg", no_ffmpeg)
    output = io.StringIO()

    status = self_test.run_self_test(stream=output)

    assert status == 1
    assert output.getvalue() == (
        "self-test failed: unexpected RuntimeError: No ffmpeg exe could be found. "
        "(traceback in the log)\n"
    )

"""Command line `python -m desktop_app convert`, run as a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.cli import FORMAT_NAMES
from desktop_app.client.api import ApiClient
from tests.helpers.audio import decoded_duration
from tests.helpers.plugin import TEST_TOKEN, ToneFactory
from tests.helpers.server import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI_TIMEOUT_SECONDS = 120
DURATION_TOLERANCE_SECONDS = 0.05


def run_cli(*args: str | Path, data_home: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a private data folder, so a bundled backend stays in it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUDIO_CONVERTER_")
    }
    env["XDG_DATA_HOME"] = str(data_home)
    # Without a terminal, rich wraps its error lines at 80 columns.
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )


def failure_lines(stderr: str) -> list[str]:
    """Return the final report's lines about failed files, without progress bars."""
    return [line for line in stderr.splitlines() if line.startswith("Failed:")]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def good(tone: ToneFactory) -> Path:
    return tone("good.wav", seconds=1.5)


@pytest.fixture
def mixed_inputs(good: Path, tmp_path: Path) -> list[Path]:
    """A good WAV, a 0-byte `bad.mp3` and a `missing.wav` that does not exist."""
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"")
    return [good, bad, tmp_path / "missing.wav"]


def check_mixed_run(
    result: subprocess.CompletedProcess[str], good: Path, out: Path
) -> None:
    output = out / "good.flac"
    source_seconds = decoded_duration(good)
    output_seconds = decoded_duration(output)
    assert result.returncode == 1, result.stderr
    assert output.is_file()
    assert source_seconds is not None
    assert output_seconds is not None
    assert abs(output_seconds - source_seconds) <= DURATION_TOLERANCE_SECONDS
    assert str(output) in result.stdout
    failures = failure_lines(result.stderr)
    assert len(failures) == 2, result.stderr
    assert any("bad.mp3 is empty (0 bytes)" in line for line in failures)
    assert any("missing.wav was not found" in line for line in failures)


def test_convert_with_server_reports_each_file(
    live_server: LiveServer, mixed_inputs: list[Path], good: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    result = run_cli(
        "convert", *mixed_inputs, "--to", "flac", "--out", out,
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    check_mixed_run(result, good, out)


def test_convert_with_bundled_backend(
    mixed_inputs: list[Path], good: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    data_home = tmp_path / "data-home"

    result = run_cli(
        "convert", *mixed_inputs, "--to", "flac", "--out", out, data_home=data_home
    )

    check_mixed_run(result, good, out)
    assert (data_home / "audio-converter" / "backend.log").is_file()


def test_good_files_exit_zero(
    live_server: LiveServer, tone: ToneFactory, tmp_path: Path
) -> None:
    inputs = [tone("one.wav"), tone("two.wav", seconds=0.5)]
    out = tmp_path / "out"

    result = run_cli(
        "convert", *inputs, "--to", "mp3", "--out", out,
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (out / "one.mp3").is_file()
    assert (out / "two.mp3").is_file()
    assert str(out / "one.mp3") in result.stdout
    assert str(out / "two.mp3") in result.stdout


def test_output_defaults_to_input_folder(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    source_bytes = good.read_bytes()

    result = run_cli(
        "convert", good, "--to", "wav",
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (good.parent / "good (1).wav").is_file()
    assert good.read_bytes() == source_bytes


def test_wrong_token_fails_each_file(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "convert", good, "--to", "flac", "--out", tmp_path / "out",
        "--server", live_server.url, "--token", "wrong-token",
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert failure_lines(result.stderr) == [
        "Failed: good.wav: A valid bearer token is required."
    ]
    assert not (tmp_path / "out" / "good.flac").exists()


def test_unreachable_server_exits_one(good: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = run_cli(
        "convert", good, "--to", "flac", "--out", tmp_path / "out",
        "--server", url, data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert "could not connect" in result.stderr
    assert url in result.stderr


def test_unusable_out_folder_is_reported(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("")

    result = run_cli(
        "convert", good, "--to", "flac", "--out", not_a_folder,
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "output folder" in result.stderr
    assert str(not_a_folder) in result.stderr


def test_server_before_command_is_used(good: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = run_cli(
        "--server", url, "convert", good, "--to", "flac", "--out", tmp_path / "out",
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert "could not connect" in result.stderr


def test_unknown_format_is_usage_error(good: Path, tmp_path: Path) -> None:
    result = run_cli("convert", good, "--to", "xyz", data_home=tmp_path)

    assert result.returncode == 2
    assert "invalid choice: 'xyz'" in result.stderr


def test_format_choices_match_server(api: ApiClient) -> None:
    assert set(FORMAT_NAMES) == {item.name for item in api.formats()}


def test_rejected_options_exit_2_once(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "convert", good, good, "--to", "mp3", "--quality", "15",
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("Quality 15") == 1

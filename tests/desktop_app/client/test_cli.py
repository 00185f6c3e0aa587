"""Command line `python -m desktop_app convert`, run as a real subprocess."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from rich.console import Console

from backend.jobs.model import Job, JobStatus
from desktop_app.cli import (
    FORMAT_EXTENSIONS,
    FORMAT_NAMES,
    build_options,
    check_options,
    progress_bars,
)
from desktop_app.client.api import ApiClient
from desktop_app.client.models import ConversionOptions
from desktop_app.client.output_rules import SOURCE_REPLACED
from desktop_app.client.presets import Preset, PresetLibrary
from desktop_app.main import build_parser
from desktop_app.user_settings import APPLICATION, ORGANIZATION, save_presets
from tests.helpers.audio import decoded_duration, make_tone, stream_summary
from tests.helpers.faults import GatedJobService
from tests.helpers.plugin import TEST_TOKEN, ServerFactory, ToneFactory
from tests.helpers.server import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI_TIMEOUT_SECONDS = 120
DURATION_TOLERANCE_SECONDS = 0.05
# A child started from a non-interactive shell may inherit SIGINT as ignored;
# this restores Python's handler so that the signal reaches the CLI.
SIGINT_RESTORING_MAIN = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from desktop_app.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def cli_env(data_home: Path) -> dict[str, str]:
    """The environment for a CLI run whose data and settings stay in data_home."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AUDIO_CONVERTER_")
    }
    env["XDG_DATA_HOME"] = str(data_home)
    env["XDG_CONFIG_HOME"] = str(data_home / "config")
    # Without a terminal, rich wraps its error lines at 80 columns.
    env["COLUMNS"] = "200"
    return env


def run_cli(*args: str | Path, data_home: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a private data folder, so a bundled backend stays in it."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        cwd=REPO_ROOT,
        env=cli_env(data_home),
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


def test_output_replacing_source_is_skipped(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    source_bytes = good.read_bytes()

    result = run_cli(
        "convert", good, "--to", "wav", "--overwrite", "overwrite",
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert f"Skipped: {good}: {SOURCE_REPLACED}." in result.stdout
    assert sorted(path.name for path in good.parent.iterdir()) == ["good.wav"]
    assert good.read_bytes() == source_bytes


def test_rerun_beside_sources_adds_nothing(
    live_server: LiveServer, tmp_path: Path
) -> None:
    folder = tmp_path / "expo"
    folder.mkdir()
    make_tone(folder / "a.wav", 0.3)
    make_tone(folder / "b.flac", 0.3)
    expected = ["a.wav", "b.flac", "b.wav"]

    for run in range(2):
        result = convert(live_server, folder, "--to", "wav", data_home=tmp_path)
        assert result.returncode == 0, result.stderr
        assert files_below(folder) == expected, f"after run {run + 1}"

    assert result.stdout.count(SOURCE_REPLACED) == 2
    assert f"{folder / 'b.wav'} is up to date." in result.stdout


def test_output_folder_inside_input_not_searched(
    live_server: LiveServer, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    make_tone(library / "a.wav", 0.3)
    out = library / "mp3"
    args = ("--to", "mp3", "--out", out)

    first = convert(live_server, library, *args, data_home=tmp_path)
    again = convert(live_server, library, *args, data_home=tmp_path)

    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert files_below(library) == ["a.wav", "mp3/a.mp3"]
    assert f"{out} is the output folder; it was not searched." in again.stdout
    assert "0 converted, 1 skipped, 0 failed." in again.stderr


def test_same_names_get_own_outputs(live_server: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_tone(tmp_path / "a" / "s.wav", 0.4)
    second = make_tone(tmp_path / "b" / "s.wav", 0.8)
    out = tmp_path / "out"

    result = convert(
        live_server, first, second, "--to", "flac", "--out", out,
        "--overwrite", "overwrite", data_home=tmp_path / "home",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert files_below(out) == ["s (1).flac", "s.flac"]
    assert f"{first} -> {out / 's.flac'}" in result.stdout
    assert f"{second} -> {out / 's (1).flac'}" in result.stdout
    first_seconds = decoded_duration(out / "s.flac")
    second_seconds = decoded_duration(out / "s (1).flac")
    assert first_seconds is not None
    assert second_seconds is not None
    assert abs(first_seconds - 0.4) <= DURATION_TOLERANCE_SECONDS
    assert abs(second_seconds - 0.8) <= DURATION_TOLERANCE_SECONDS


def test_wrong_token_reported_once(
    live_server: LiveServer, good: Path, tone: ToneFactory, tmp_path: Path
) -> None:
    result = run_cli(
        "convert", good, tone("other.wav"), "--to", "flac", "--out", tmp_path / "out",
        "--server", live_server.url, "--token", "wrong-token",
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.count("rejected the token") == 1, result.stderr
    assert "--token" in result.stderr
    assert "AUDIO_CONVERTER_TOKEN" in result.stderr
    assert failure_lines(result.stderr) == []
    assert not (tmp_path / "out" / "good.flac").exists()


def test_missing_token_says_how_to_pass_it(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "convert", good, "--to", "flac", "--server", live_server.url,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert (
        f"Error: The server at {live_server.url} requires a token; pass the "
        "server's token with --token or set AUDIO_CONVERTER_TOKEN."
    ) in result.stderr


def test_unreachable_server_exits_one(good: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = run_cli(
        "convert", good, "--to", "flac", "--out", tmp_path / "out",
        "--server", url, data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert (
        f"Error: The server at {url} is not reachable (connection refused). "
        "Check that it is running"
    ) in result.stderr
    assert "Errno" not in result.stderr


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


def test_output_folder_that_cannot_exist(good: Path, tmp_path: Path) -> None:
    result = run_cli(
        "convert", good, "--to", "flac", "--out", "/proc/nope", data_home=tmp_path
    )

    assert result.returncode == 2
    assert result.stderr == (
        "Error: Cannot create the output folder /proc/nope (no such file or "
        "directory); choose another folder with --out.\n"
    )


def test_server_before_command_is_used(good: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = run_cli(
        "--server", url, "convert", good, "--to", "flac", "--out", tmp_path / "out",
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 1
    assert f"The server at {url} is not reachable" in result.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:8765", "ftp://127.0.0.1", "http://"])
def test_server_address_is_checked(good: Path, tmp_path: Path, url: str) -> None:
    result = run_cli(
        "convert", good, "--to", "flac", "--server", url, data_home=tmp_path
    )

    assert result.returncode == 2
    assert f"--server {url!r} is not a server address" in result.stderr


def test_unknown_format_is_usage_error(good: Path, tmp_path: Path) -> None:
    result = run_cli("convert", good, "--to", "xyz", data_home=tmp_path)

    assert result.returncode == 2
    assert "invalid choice: 'xyz'" in result.stderr


def test_format_choices_match_server(api: ApiClient) -> None:
    formats = api.formats()

    assert set(FORMAT_NAMES) == {item.name for item in formats}
    assert {item.name: item.extension for item in formats} == FORMAT_EXTENSIONS


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--quality", "15"), "Quality 15 is invalid for MP3"),
        (("--bitrate", "9999"), "Bitrate 9999 kbit/s is invalid"),
        (("--sample-rate", "5"), "Sample rate 5 Hz is invalid"),
        (("--true-peak", "-1"), "set a loudness target too"),
    ],
)
def test_rejected_options_stop_before_upload(
    live_server: LiveServer,
    good: Path,
    tone: ToneFactory,
    tmp_path: Path,
    flags: tuple[str, ...],
    words: str,
) -> None:
    result = run_cli(
        "convert", good, tone("other.wav"), "--to", "mp3", *flags,
        "--server", live_server.url, "--token", TEST_TOKEN,
        data_home=tmp_path / "data-home",
    )  # fmt: skip

    assert result.returncode == 2
    assert result.stderr.count(words) == 1, result.stderr
    assert "uploading" not in result.stderr
    assert all_jobs(live_server) == []


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "1e9", "soon"])
def test_poll_interval_is_checked(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()

    with pytest.raises(SystemExit) as raised:
        parser.parse_args(["convert", "a.wav", "--to", "mp3", "--poll-interval", value])

    assert raised.value.code == 2
    assert (
        f"argument --poll-interval: {value} is not a number of seconds from "
        "0.05 to 60" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("preset", "flags", "expected"),
    [
        ("Music MP3 V0", ["--bitrate", "320"], ConversionOptions("mp3", 320)),
        (
            "Music MP3 V0",
            ["--bitrate-mode", "cbr"],
            ConversionOptions("mp3", bitrate_mode="cbr"),
        ),
        (
            "Music MP3 V0",
            ["--bitrate-mode", "abr", "--bitrate", "192"],
            ConversionOptions("mp3", 192, bitrate_mode="abr"),
        ),
        (
            "Music MP3 V0",
            ["--quality", "4"],
            ConversionOptions("mp3", quality=4.0, bitrate_mode="vbr"),
        ),
        ("Music AAC 256", ["--bitrate", "128"], ConversionOptions("aac", 128)),
        (
            "Podcast voice",
            ["--to", "vorbis", "--quality", "3"],
            ConversionOptions(
                "vorbis", quality=3.0, channels=1, loudness_lufs=-16.0,
                true_peak_db=-1.0,
            ),
        ),
    ],
)  # fmt: skip
def test_rate_flags_replace_preset_rate(
    preset: str, flags: list[str], expected: ConversionOptions
) -> None:
    args = build_parser().parse_args(["convert", "a.wav", "--preset", preset, *flags])

    options = build_options(args, PresetLibrary().get(preset))

    assert options == expected
    check_options(options)


def test_progress_names_fit_80_columns() -> None:
    name = "01 First Song of the Long Album.flac"
    output = io.StringIO()
    console = Console(file=output, width=80, force_terminal=True, color_system=None)

    with progress_bars(console) as bars:
        bars.add_task(
            name, total=100, completed=40,
            status="bad.mp3 is empty (0 bytes); it contains no audio to convert.",
        )  # fmt: skip
        bars.refresh()

    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue()).splitlines()
    assert len(name) == 36
    assert lines[-1].startswith(f"{name} ")
    assert "40%" in lines[-1]


def convert(
    server: LiveServer, *args: str | Path, data_home: Path
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "convert", *args, "--server", server.url, "--token", TEST_TOKEN,
        data_home=data_home,
    )  # fmt: skip


def files_below(folder: Path) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
    )


@pytest.fixture
def music(tmp_path: Path) -> Path:
    """A folder with a tagged FLAC, an untagged WAV and a cover picture."""
    root = tmp_path / "music"
    tags = {"title": "First", "artist": "Nina", "track": "1", "mood": "calm"}
    pairs = [
        arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")
    ]
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    make_tone(root / "A" / "one.flac", 0.5, extra=pairs)
    make_tone(root / "B" / "two.wav", 0.5)
    (root / "cover.jpg").write_bytes(b"not audio")
    return root


def test_folder_with_template_mirror_and_skips(
    live_server: LiveServer, music: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    home = tmp_path / "home"
    args = (
        "--to",
        "wav",
        "--out",
        out,
        "--mirror",
        "--template",
        "{artist}/{track} {title}",
    )
    expected = ["A/Nina/01 First.wav", "B/Unknown artist/two.wav"]

    first = convert(live_server, music, *args, data_home=home)

    assert first.returncode == 0, first.stderr
    assert files_below(out) == expected
    assert "tags dropped: mood" in first.stdout
    assert f"{music} without an audio extension: cover.jpg." in first.stdout
    assert "2 converted, 0 skipped, 0 failed." in first.stderr

    again = convert(live_server, music, *args, data_home=home)

    assert again.returncode == 0, again.stderr
    assert again.stdout.count("is up to date.") == 2
    assert files_below(out) == expected

    skipped = convert(
        live_server, music, *args, "--no-skip-up-to-date", "--overwrite", "skip",
        data_home=home,
    )  # fmt: skip

    assert skipped.returncode == 0, skipped.stderr
    assert f"Skipped: {music / 'B' / 'two.wav'}: {out / expected[1]} exists." in (
        skipped.stdout
    )
    assert files_below(out) == expected

    (out / expected[0]).write_bytes(b"stale")
    replaced = convert(
        live_server, music, *args, "--no-skip-up-to-date", "--overwrite", "overwrite",
        data_home=home,
    )  # fmt: skip

    assert replaced.returncode == 0, replaced.stderr
    assert files_below(out) == expected
    assert decoded_duration(out / expected[0]) is not None


def test_number_policy_after_up_to_date_off(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = (good, "--to", "flac", "--out", out, "--no-skip-up-to-date")

    for _ in range(2):
        result = convert(live_server, *args, data_home=tmp_path / "home")
        assert result.returncode == 0, result.stderr

    assert files_below(out) == ["good (1).flac", "good.flac"]


def test_preset_with_flag_override(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    result = convert(
        live_server, good, "--preset", "podcast voice", "--channels", "2",
        "--out", out, data_home=tmp_path / "home",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    summary = stream_summary(out / "good.opus")
    assert "opus" in summary
    assert "stereo" in summary


def test_user_preset_is_listed_and_used(
    live_server: LiveServer, good: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    conf = home / "config" / ORGANIZATION / f"{APPLICATION}.conf"
    conf.parent.mkdir(parents=True)
    tiny = ConversionOptions("mp3", bitrate_kbps=64, channels=1)
    settings = QSettings(str(conf), QSettings.Format.IniFormat)
    save_presets(settings, PresetLibrary([Preset("Tiny MP3", tiny, "Small.")]))

    listing = run_cli("presets", data_home=home)
    result = convert(
        live_server, good, "--preset", "tiny mp3", "--out", tmp_path / "out",
        data_home=home,
    )  # fmt: skip

    assert listing.returncode == 0, listing.stderr
    assert "Archive FLAC (built-in)" in listing.stdout
    assert (
        "Tiny MP3 (yours)\n  Small.\n  options: --to mp3 --bitrate 64 --channels 1"
        in (listing.stdout)
    )
    assert result.returncode == 0, result.stderr
    assert "mono" in stream_summary(tmp_path / "out" / "good.mp3")


def test_presets_survive_damaged_settings(tmp_path: Path) -> None:
    conf = tmp_path / "config" / ORGANIZATION / f"{APPLICATION}.conf"
    conf.parent.mkdir(parents=True)
    settings = QSettings(str(conf), QSettings.Format.IniFormat)
    settings.setValue("presets/user", "[" * 50_000)
    settings.sync()

    listing = run_cli("presets", data_home=tmp_path)

    assert listing.returncode == 0, listing.stderr
    assert "Traceback" not in listing.stderr
    assert "Music MP3 V0 (built-in)" in listing.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--preset", "Nope"), "no preset named 'Nope'. Presets: Podcast voice"),
        ((), "Name an output format with --to, or a preset with --preset"),
        (("--to", "mp3", "--template", "{bogus}"), "unknown field {bogus}"),
        (("--to", "flac", "--compression-level", "13"), "13 is not between 0 and 12"),
    ],
)
def test_usage_errors_exit_2(
    good: Path, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    result = run_cli("convert", good, *args, data_home=tmp_path)

    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_folder_fails(live_server: LiveServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = convert(live_server, empty, "--to", "mp3", data_home=tmp_path / "home")

    assert result.returncode == 1
    assert f"{empty} contains no audio files." in result.stdout
    assert "no audio files to convert" in result.stderr


def test_jobs_limit_and_ctrl_c_cancel(
    server_factory: ServerFactory, tone: ToneFactory, tmp_path: Path
) -> None:
    server = server_factory(service_class=GatedJobService)
    inputs = [tone(f"{name}.wav", seconds=0.3) for name in ("a", "b", "c")]
    command = [
        sys.executable, "-c", SIGINT_RESTORING_MAIN, "convert", *map(str, inputs),
        "--to", "mp3", "--jobs", "2", "--server", server.url, "--token", TEST_TOKEN,
        "--out", str(tmp_path / "out"),
    ]  # fmt: skip

    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_env(tmp_path / "home"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            wait_for(lambda: len(unfinished_jobs(server)) == 2)
            time.sleep(1.0)
            assert len(unfinished_jobs(server)) == 2
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 130, stderr
    assert "2 unfinished job(s) were cancelled" in stderr
    assert len(server.service.jobs.list_by_status(JobStatus.CANCELLED)) == 2
    assert unfinished_jobs(server) == []


def test_ctrl_c_with_bundled_backend(tone: ToneFactory, tmp_path: Path) -> None:
    source = tone("long.wav", seconds=200.0, rate=8_000, channels=1)
    home = tmp_path / "home"
    log = home / "audio-converter" / "backend.log"
    command = [
        sys.executable, "-c", SIGINT_RESTORING_MAIN, "convert", str(source),
        "--to", "mp3", "--loudness", "-16", "--out", str(tmp_path / "out"),
    ]  # fmt: skip

    # A session of its own, as a terminal gives a command it starts.
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=cli_env(home), start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            wait_for(lambda: log.is_file() and "started: long.wav" in log.read_text())
            time.sleep(0.5)
            # Ctrl-C: the terminal signals its whole foreground process group.
            os.killpg(process.pid, signal.SIGINT)
            _, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()

    backend_log = log.read_text()
    assert process.returncode == 130, stderr
    assert "1 unfinished job(s) were cancelled" in stderr
    assert "WARNING" not in stderr
    # The backend got no SIGINT: it stopped because the CLI closed its stdin.
    assert "KeyboardInterrupt" not in backend_log
    assert "Standard input closed; stopping" in backend_log


def all_jobs(server: LiveServer) -> list[Job]:
    jobs = server.service.jobs
    return [job for status in JobStatus for job in jobs.list_by_status(status)]


def unfinished_jobs(server: LiveServer) -> list[Job]:
    jobs = server.service.jobs
    return jobs.list_by_status(JobStatus.QUEUED) + jobs.list_by_status(
        JobStatus.RUNNING
    )


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Condition not met within {seconds} s")
        time.sleep(0.05)

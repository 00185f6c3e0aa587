"""Check an installation end to end without a display: `audio-converter --self-test`.

The check starts the bundled backend the way the window does and generates a
tone with the bundled FFmpeg. It converts the tone to MP3 and FLAC through
the client core that the window and the CLI use (ApiClient, Poller,
Downloader), and checks that each saved output decodes to the tone's length.
It prints one line and returns exit status 0 when everything passed, 1
otherwise.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from backend.conversion.converter import VerifyTolerance
from backend.conversion.ffmpeg import measure_decoded_duration, resolve_ffmpeg
from backend.conversion.probe import probe
from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.errors import ClientError
from desktop_app.client.models import ConversionOptions
from desktop_app.client.poller import Poller

logger = logging.getLogger(__name__)

TONE_SECONDS = 2.0
TONE_FREQUENCY_HZ = 440
# Output format, the codec FFmpeg must report for it, and the file suffix.
TARGETS = (("mp3", "mp3", ".mp3"), ("flac", "flac", ".flac"))
JOB_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.1
EXIT_PASSED = 0
EXIT_FAILED = 1


class SelfTestFailure(Exception):
    """One check of the self-test failed; the message names the check and reason."""


@dataclass(frozen=True)
class CheckedOutput:
    """An output that passed its checks."""

    format: str
    path: Path
    duration_seconds: float


def run_self_test(*, log_dir: Path | None = None, stream: TextIO | None = None) -> int:
    """Run the whole check, print one result line, and return the exit status.

    `log_dir` is where the bundled backend writes its log (default: the data
    folder of that backend, a temporary folder deleted at the end).
    """
    output = stream or sys.stdout
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="audio-converter-self-test-") as tmp:
            results = _check_conversions(Path(tmp), log_dir)
    except (SelfTestFailure, ClientError, OSError, subprocess.SubprocessError) as error:
        logger.error("Self-test failed: %s", error)
        print(f"self-test failed: {error}", file=output, flush=True)
        return EXIT_FAILED
    except Exception as error:  # a defect: still one line, traceback in the log
        logger.exception("Self-test failed with an unexpected error")
        print(
            f"self-test failed: unexpected {type(error).__name__}: {error} "
            f"(traceback in the log)",
            file=output,
            flush=True,
        )
        return EXIT_FAILED

    elapsed = time.monotonic() - started
    summary = ", ".join(
        f"{result.format} {result.duration_seconds:.2f} s" for result in results
    )
    print(
        f"self-test passed: converted a {TONE_SECONDS:g} s tone to {summary} "
        f"in {elapsed:.1f} s",
        file=output,
        flush=True,
    )
    return EXIT_PASSED


def _check_conversions(work_dir: Path, log_dir: Path | None) -> list[CheckedOutput]:
    ffmpeg = resolve_ffmpeg(None)
    source = _generate_tone(ffmpeg, work_dir / "self-test-tone.wav")
    backend = BundledBackend(
        work_dir / "data", log_dir=log_dir, ephemeral=True, workers=2
    )
    try:
        url = backend.start()
    except ClientError as error:
        raise SelfTestFailure(f"the bundled backend did not start: {error}") from error

    try:
        with ApiClient(url, backend.token) as api:
            return [
                _convert_and_check(api, ffmpeg, source, work_dir / "out", target)
                for target in TARGETS
            ]
    finally:
        backend.stop()


def _generate_tone(ffmpeg: str, path: Path) -> Path:
    """Write a stereo 16-bit WAV sine tone with FFmpeg's lavfi source."""
    tone = (
        f"sine=frequency={TONE_FREQUENCY_HZ}:sample_rate=44100:duration={TONE_SECONDS}"
    )
    command = [
        ffmpeg, "-hide_banner", "-v", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", tone,
        "-ac", "2", "-c:a", "pcm_s16le", str(path),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if completed.returncode != 0 or not path.is_file():
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise SelfTestFailure(
            f"FFmpeg ({ffmpeg}) could not generate the test tone {path}: "
            f"{message or f'exit status {completed.returncode}'}"
        )
    return path


def _convert_and_check(
    api: ApiClient,
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    target: tuple[str, str, str],
) -> CheckedOutput:
    """Convert `source` to one target format, save it and check the file."""
    format_name, codec, suffix = target
    job = api.create_job(source, ConversionOptions(format=format_name))
    poller = Poller(api)
    state = poller.track(job)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while not state.is_terminal:
        if time.monotonic() > deadline:
            raise SelfTestFailure(
                f"converting {source.name} to {format_name} did not finish within "
                f"{JOB_TIMEOUT_SECONDS:.0f} s (stage {state.stage})"
            )
        time.sleep(POLL_SECONDS)
        poller.poll()
        state = poller.state(job.id)
    if not state.is_downloadable or state.job is None:
        raise SelfTestFailure(
            f"converting {source.name} to {format_name} ended {state.stage}: "
            f"{state.error_message or 'no reason given'}"
        )

    path = Downloader(api).download(state.job, out_dir)
    duration = check_output(ffmpeg, path, codec, suffix, TONE_SECONDS)
    return CheckedOutput(format_name, path, duration)


def check_output(
    ffmpeg: str, path: Path, codec: str, suffix: str, expected_seconds: float
) -> float:
    """Check that `path` is `codec` audio that decodes to `expected_seconds`.

    Returns the decoded duration; raises SelfTestFailure naming the file.
    """
    if path.suffix != suffix:
        raise SelfTestFailure(f"the output {path.name} does not end in {suffix}")
    info = probe(ffmpeg, path)
    if info.codec != codec:
        raise SelfTestFailure(
            f"the output {path.name} contains {info.codec or 'no audio'}, "
            f"expected {codec}"
        )
    duration, run = measure_decoded_duration(ffmpeg, path, timeout=60)
    if duration is None or not run.succeeded:
        raise SelfTestFailure(
            f"the output {path.name} does not decode: {run.stderr_tail.strip()}"
        )
    if not VerifyTolerance().allows(expected_seconds, duration):
        raise SelfTestFailure(
            f"the output {path.name} lasts {duration:.3f} s, "
            f"expected {expected_seconds:.3f} s"
        )
    return duration

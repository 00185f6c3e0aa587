"""Headless command line: `audio-converter convert FILE... --to FORMAT`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)

from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.errors import ApiError, ClientError
from desktop_app.client.models import ConversionOptions
from desktop_app.client.poller import JobState, Poller
from desktop_app.formatting import describe_state

logger = logging.getLogger(__name__)

FORMAT_NAMES = ("mp3", "aac", "opus", "vorbis", "flac", "wav", "alac")
DEFAULT_POLL_SECONDS = 0.25
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Jobs are given up once no progress request has reached the server this long.
CONNECTION_LOSS_SECONDS = 60.0


class InvalidOptionsError(ClientError):
    """The server rejected the conversion options themselves."""


@dataclass
class FileOutcome:
    """The end of one input file: where its output went, or why it failed."""

    source: Path
    output: Path | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "convert",
        help="convert files without opening the window",
        description="Convert audio files and save the results.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument(
        "--to", required=True, type=str.lower, choices=FORMAT_NAMES, dest="format",
        help="output format",
    )  # fmt: skip
    parser.add_argument("--bitrate", type=int, metavar="KBPS", help="bitrate in kbit/s")
    parser.add_argument(
        "--quality", type=float, help="VBR quality (MP3 0-9, Vorbis -1-10)"
    )
    parser.add_argument(
        "--sample-rate", type=int, metavar="HZ", help="sample rate in Hz"
    )
    parser.add_argument("--channels", type=int, help="channel count (1 = mono)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help="folder for the outputs (default: beside each input)",
    )  # fmt: skip
    parser.add_argument(
        "--server", metavar="URL", default=argparse.SUPPRESS,
        help="use this backend instead of starting the bundled one",
    )  # fmt: skip
    parser.add_argument(
        "--token",
        default=os.environ.get("AUDIO_CONVERTER_TOKEN"),
        help="bearer token for --server (default: $AUDIO_CONVERTER_TOKEN)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=DEFAULT_POLL_SECONDS, metavar="SECONDS",
        help="seconds between progress checks (default: %(default)s)",
    )  # fmt: skip
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    """Convert every file in `args.files`; return the process exit status."""
    options = ConversionOptions(
        format=args.format,
        bitrate_kbps=args.bitrate,
        quality=args.quality,
        sample_rate=args.sample_rate,
        channels=args.channels,
    )
    console = Console(stderr=True)
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(
                f"Error: cannot use {args.out} as the output folder: {error}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    outcomes = {path: FileOutcome(path) for path in args.files}
    for path, outcome in outcomes.items():
        if path.is_dir():
            outcome.error = f"{path} is a folder; name the audio files in it."
        elif not path.is_file():
            outcome.error = f"{path} was not found."

    try:
        with _connect(args, console) as api:
            _Batch(api, options, args.out, args.poll_interval, console).run(
                [o for o in outcomes.values() if o.error is None]
            )
    except InvalidOptionsError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("Interrupted; unfinished jobs were cancelled.", file=sys.stderr)
        return EXIT_INTERRUPTED

    return _report(outcomes.values())


@contextlib.contextmanager
def _connect(args: argparse.Namespace, console: Console) -> Iterator[ApiClient]:
    server = getattr(args, "server", None)
    if server:
        with ApiClient(server, args.token) as api:
            api.health()
            yield api
        return
    backend = BundledBackend(ephemeral=True)
    try:
        with console.status("Starting the converter backend..."):
            url = backend.start()
        with ApiClient(url, backend.token) as api:
            yield api
    finally:
        backend.stop()


class _Batch:
    """Uploads, polls and downloads one batch, drawing a bar per file."""

    def __init__(
        self,
        api: ApiClient,
        options: ConversionOptions,
        out_dir: Path | None,
        poll_seconds: float,
        console: Console,
    ) -> None:
        self._api = api
        self._options = options
        self._out_dir = out_dir
        self._poll_seconds = poll_seconds
        self._console = console
        self._poller = Poller(api)
        self._downloader = Downloader(api)
        self._cancel = threading.Event()
        self._jobs: dict[str, tuple[FileOutcome, TaskID]] = {}
        self._downloads: dict[str, Future[Path]] = {}

    def run(self, outcomes: list[FileOutcome]) -> None:
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}", markup=False),
        )
        with (
            Progress(*columns, console=self._console) as bars,
            ThreadPoolExecutor(max_workers=2) as pool,
        ):
            try:
                self._upload_all(outcomes, bars)
                self._follow(bars, pool)
            except KeyboardInterrupt:
                self._cancel.set()
                for job_id in self._poller.active_ids:
                    with contextlib.suppress(ClientError):
                        self._api.cancel_job(job_id)
                raise
        self._collect_downloads()

    def _upload_all(self, outcomes: list[FileOutcome], bars: Progress) -> None:
        for outcome in outcomes:
            task = bars.add_task(outcome.source.name, total=100, status="uploading")
            try:
                job = self._api.create_job(outcome.source, self._options)
            except ApiError as error:
                if error.code == "invalid_options":
                    # The same options fail for every file: stop at once.
                    raise InvalidOptionsError(error.message) from error
                outcome.error = f"{outcome.source.name}: {error}"
                bars.update(task, status="failed")
                continue
            except ClientError as error:
                outcome.error = f"{outcome.source.name}: {error}"
                bars.update(task, status="failed")
                continue
            except OSError as error:
                outcome.error = f"Could not read {outcome.source}: {error.strerror}."
                bars.update(task, status="failed")
                continue
            self._poller.track(job)
            self._jobs[job.id] = (outcome, task)
            bars.update(task, status="queued")

    def _follow(self, bars: Progress, pool: ThreadPoolExecutor) -> None:
        """Poll until every job ended and every download finished."""
        lost_since: float | None = None
        while self._poller.active_ids or any(
            not future.done() for future in self._downloads.values()
        ):
            for state in self._poller.poll():
                outcome, task = self._jobs[state.job_id]
                bars.update(
                    task, completed=state.progress, status=describe_state(state)
                )
                if state.is_downloadable and state.job_id not in self._downloads:
                    self._downloads[state.job_id] = pool.submit(
                        self._download, state, outcome
                    )
                elif state.is_terminal and state.error_message:
                    outcome.error = state.error_message
                if state.job is not None:
                    outcome.notes = state.job.adjustments
            lost_since = self._check_connection(lost_since)
            time.sleep(self._poll_seconds)

    def _check_connection(self, lost_since: float | None) -> float | None:
        """Give up on jobs once no poll has reached the server for a while."""
        active = [self._poller.state(job_id) for job_id in self._poller.active_ids]
        if not active or not all(state.connection_problem for state in active):
            return None
        now = time.monotonic()
        if lost_since is None:
            return now
        if now - lost_since < CONNECTION_LOSS_SECONDS:
            return lost_since
        for state in active:
            outcome, _ = self._jobs[state.job_id]
            outcome.error = (
                f"Lost the connection to the server while converting "
                f"{outcome.source}: {state.connection_problem}"
            )
            self._poller.forget(state.job_id)
        return None

    def _collect_downloads(self) -> None:
        for job_id, future in self._downloads.items():
            outcome, _ = self._jobs[job_id]
            try:
                outcome.output = future.result()
            except ClientError as error:
                outcome.error = str(error)
            except OSError as error:
                outcome.error = (
                    f"Could not save the output of {outcome.source}: {error}"
                )

    def _download(self, state: JobState, outcome: FileOutcome) -> Path:
        assert state.job is not None
        folder = self._out_dir or outcome.source.resolve().parent
        return self._downloader.download(state.job, folder, cancel=self._cancel)


def _report(outcomes: Iterable[FileOutcome]) -> int:
    failed = 0
    for outcome in outcomes:
        if outcome.output is not None:
            print(f"{outcome.source} -> {outcome.output}")
            for note in outcome.notes:
                print(f"  note: {note}")
        else:
            failed += 1
            print(f"Failed: {outcome.error}", file=sys.stderr)
    return EXIT_FAILED if failed else 0

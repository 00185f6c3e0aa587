"""Headless command line: `audio-converter convert PATH... --to FORMAT`.

Also `audio-converter presets`, which lists the presets `--preset` takes.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
)
from rich.table import Column

from backend.conversion.formats import validate_options
from backend.errors import InvalidOptions
from backend.jobs.model import ConversionOptions as ServerOptions
from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.errors import ApiError, ClientError, ServerUnreachable
from desktop_app.client.models import ConversionOptions, JobInfo
from desktop_app.client.output_rules import (
    OutputRuleError,
    OutputRules,
    OverwritePolicy,
    TargetClaims,
    TargetExists,
    output_path,
    validate_template,
)
from desktop_app.client.poller import JobState, Poller
from desktop_app.client.presets import (
    Preset,
    PresetError,
    options_from_dict,
    options_to_dict,
)
from desktop_app.client.sources import SourceFile, expand_sources
from desktop_app.client.tags import read_tags
from desktop_app.formatting import describe_state
from desktop_app.user_settings import load_presets, open_settings, parallel_jobs

logger = logging.getLogger(__name__)

FORMAT_NAMES = ("mp3", "aac", "opus", "vorbis", "flac", "wav", "alac")
# Used only when the server does not list its formats.
FORMAT_EXTENSIONS = {
    "mp3": "mp3", "aac": "m4a", "opus": "opus", "vorbis": "ogg",
    "flac": "flac", "wav": "wav", "alac": "m4a",
}  # fmt: skip
DEFAULT_POLL_SECONDS = 0.25
# Shorter waits make the progress requests a busy loop, and longer ones delay
# every save by as much.
MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 60.0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Jobs are given up once no progress request has reached the server this long.
CONNECTION_LOSS_SECONDS = 60.0

# The flag that sets each ConversionOptions field; argparse stores each flag
# under its field name.
OPTION_FLAGS = {
    "format": "--to",
    "bitrate_kbps": "--bitrate",
    "bitrate_mode": "--bitrate-mode",
    "quality": "--quality",
    "sample_rate": "--sample-rate",
    "channels": "--channels",
    "compression_level": "--compression-level",
    "bit_depth": "--bit-depth",
    "loudness_lufs": "--loudness",
    "true_peak_db": "--true-peak",
    "trim_start_seconds": "--trim-start",
    "trim_end_seconds": "--trim-end",
    "fade_in_seconds": "--fade-in",
    "fade_out_seconds": "--fade-out",
    "keep_metadata": "--no-tags",
}
# Options that mean the same in every format; a preset keeps only these when
# --to names another format than the preset's.
FORMAT_INDEPENDENT_FIELDS = frozenset(
    {
        "sample_rate", "channels", "loudness_lufs", "true_peak_db",
        "trim_start_seconds", "trim_end_seconds", "fade_in_seconds",
        "fade_out_seconds", "keep_metadata",
    }
)  # fmt: skip
# Template fields that need the source's tags.
TAG_FIELDS = ("{artist}", "{album}", "{track}", "{title}")
TOKEN_VARIABLE = "AUDIO_CONVERTER_TOKEN"
# How far _transport_reason follows an error's chain of causes.
_MAX_CAUSES = 8


class InvalidOptionsError(ClientError):
    """The server rejected the conversion options themselves."""


@dataclass
class FileOutcome:
    """The end of one input file: where its output went, or why it was not made."""

    source: Path
    output: Path | None = None
    error: str | None = None
    skipped: str | None = None
    notes: tuple[str, ...] = ()
    dropped_tags: tuple[str, ...] = ()


@dataclass
class _Planned:
    """An input file to convert and where its output is to be saved."""

    source: SourceFile
    outcome: FileOutcome
    target: Path
    policy: OverwritePolicy
    notes: tuple[str, ...] = ()


# -- Arguments -------------------------------------------------------------------


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `convert` subcommand, and `presets`, which lists its presets."""
    parser = subparsers.add_parser(
        "convert",
        help="convert files without opening the window",
        description="Convert audio files, and the audio files in folders, and "
        "save the results. A preset (--preset) or a format (--to) is required; "
        "flags override the preset's values.",
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="PATH",
        help="audio files, or folders to search for audio files",
    )  # fmt: skip
    _add_option_arguments(parser)
    _add_output_arguments(parser)
    parser.add_argument(
        "--jobs", type=_positive_int, metavar="N",
        help="files converting at once (default: the saved setting, else one "
        "per CPU core)",
    )  # fmt: skip
    parser.add_argument(
        "--server", metavar="URL", default=argparse.SUPPRESS,
        help="use this backend instead of starting the bundled one",
    )  # fmt: skip
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_VARIABLE),
        help=f"bearer token for --server (default: ${TOKEN_VARIABLE})",
    )
    parser.add_argument(
        "--poll-interval", type=_poll_seconds, default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help=f"seconds between progress checks, {MIN_POLL_SECONDS:g} to "
        f"{MAX_POLL_SECONDS:g} (default: %(default)s)",
    )  # fmt: skip
    parser.set_defaults(handler=run_convert)

    presets = subparsers.add_parser(
        "presets",
        help="list the presets that convert --preset takes",
        description="List the built-in presets and your own, with their options.",
    )
    presets.set_defaults(handler=run_presets)


def _add_option_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("conversion options")
    group.add_argument(
        "--preset", metavar="NAME",
        help="start from this preset (see `audio-converter presets`)",
    )  # fmt: skip
    group.add_argument(
        "--to", type=str.lower, choices=FORMAT_NAMES, dest="format",
        help="output format (required without --preset)",
    )  # fmt: skip
    group.add_argument(
        "--bitrate", type=int, metavar="KBPS", dest="bitrate_kbps",
        help="bitrate in kbit/s",
    )  # fmt: skip
    group.add_argument(
        "--bitrate-mode", type=str.lower, choices=("cbr", "abr", "vbr"),
        help="MP3 bitrate mode: constant, average or variable",
    )  # fmt: skip
    group.add_argument(
        "--quality", type=float, help="VBR quality (MP3 0-9, Vorbis -1-10)"
    )
    group.add_argument(
        "--sample-rate", type=int, metavar="HZ", help="sample rate in Hz"
    )
    group.add_argument("--channels", type=int, help="channel count (1 = mono)")
    group.add_argument(
        "--compression-level", type=_int_range(0, 12), metavar="0-12",
        help="FLAC compression level; higher is smaller and slower",
    )  # fmt: skip
    group.add_argument(
        "--bit-depth", type=int, choices=(16, 24, 32),
        help="bits per sample: WAV 16, 24 or 32; FLAC and ALAC 16 or 24",
    )  # fmt: skip
    group.add_argument(
        "--loudness", type=float, metavar="LUFS", dest="loudness_lufs",
        help="normalize to this EBU R128 integrated loudness, such as -16",
    )  # fmt: skip
    group.add_argument(
        "--true-peak", type=float, metavar="DB", dest="true_peak_db",
        help="true-peak limit in dBTP for --loudness, such as -1",
    )  # fmt: skip
    for flag, field, action in (
        ("--trim-start", "trim_start_seconds", "cut this many seconds from the start"),
        ("--trim-end", "trim_end_seconds", "cut this many seconds from the end"),
        ("--fade-in", "fade_in_seconds", "fade in over this many seconds"),
        ("--fade-out", "fade_out_seconds", "fade out over this many seconds"),
    ):
        group.add_argument(
            flag, type=_seconds, metavar="SECONDS", dest=field, help=action
        )
    group.add_argument(
        "--no-tags", action="store_const", const=False, dest="keep_metadata",
        help="leave tags and cover pictures out of the outputs",
    )  # fmt: skip


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output files")
    group.add_argument(
        "--out", type=Path, metavar="DIR",
        help="folder for the outputs (default: beside each input)",
    )  # fmt: skip
    group.add_argument(
        "--template", default=OutputRules().template,
        help="output name; fields {name} {artist} {album} {track} {title} "
        "{format}, and / makes subfolders (default: %(default)s)",
    )  # fmt: skip
    group.add_argument(
        "--mirror", action="store_true",
        help="with --out, repeat the subfolders of each folder given",
    )  # fmt: skip
    group.add_argument(
        "--overwrite",
        choices=[str(policy) for policy in OverwritePolicy if policy != "ask"],
        default=str(OverwritePolicy.NUMBER),
        help="when the output exists: skip the file, number the new output "
        "(name (1).mp3) or overwrite it (default: %(default)s)",
    )
    group.add_argument(
        "--no-skip-up-to-date", action="store_true",
        help="convert even when the output is newer than its input",
    )  # fmt: skip


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number above 0")
    return value


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text} is not a whole number between {low} and {high}"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    # NaN fails this comparison too.
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
    return value


def _poll_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not MIN_POLL_SECONDS <= value <= MAX_POLL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text} is not a number of seconds from {MIN_POLL_SECONDS:g} to "
            f"{MAX_POLL_SECONDS:g}"
        )
    return value


# -- Presets ---------------------------------------------------------------------


def run_presets(args: argparse.Namespace) -> int:
    """Print each preset: its name, description and the flags it stands for."""
    library = load_presets(open_settings())
    for preset in library.all():
        kind = "built-in" if preset.builtin else "yours"
        print(f"{preset.name} ({kind})")
        if preset.description:
            print(f"  {preset.description}")
        print(f"  options: {preset_flags(preset)}")
    return 0


def preset_flags(preset: Preset) -> str:
    """Return the command line flags that give the preset's options."""
    words = []
    for field, value in options_to_dict(preset.options).items():
        flag = OPTION_FLAGS.get(field, f"{field}=")
        if field == "keep_metadata":
            words.append("--no-tags" if value is False else "")
        elif isinstance(value, float):
            words.append(f"{flag} {value:g}")
        else:
            words.append(f"{flag} {value}")
    return " ".join(word for word in words if word)


def build_options(args: argparse.Namespace, preset: Preset | None) -> ConversionOptions:
    """Return the preset's options with every flag given on top.

    When --to names another format than the preset's, only the preset's
    FORMAT_INDEPENDENT_FIELDS are kept. A rate-control flag (--bitrate,
    --quality, --bitrate-mode) replaces the preset's rate control, so that
    `--preset "Music MP3 V0" --bitrate 320` makes a 320 kbit/s CBR file.
    """
    flag_values = {
        field: getattr(args, field)
        for field in OPTION_FLAGS
        if getattr(args, field, None) is not None
    }
    values = options_to_dict(preset.options) if preset is not None else {}
    other_format = preset is not None and flag_values.get("format") not in (
        None,
        preset.options.format,
    )
    if other_format:
        values = {
            field: value
            for field, value in values.items()
            if field in FORMAT_INDEPENDENT_FIELDS
        }
    values = _without_replaced_rate_control(values, flag_values)
    values.update(flag_values)
    return options_from_dict(values, "The command line options")


def _without_replaced_rate_control(
    preset_values: dict[str, Any], flag_values: dict[str, Any]
) -> dict[str, Any]:
    """Drop the preset's bitrate, quality and mode that the flags replace.

    A bitrate flag, or `--bitrate-mode cbr` or `abr`, drops the preset's
    quality and its VBR mode. A quality flag, or `--bitrate-mode vbr`, drops
    the preset's bitrate and its CBR or ABR mode. Flags that ask for both
    drop all three, and the converter then rejects the flags themselves.
    """
    flag_mode = flag_values.get("bitrate_mode")
    by_bitrate = "bitrate_kbps" in flag_values or flag_mode in ("cbr", "abr")
    by_quality = "quality" in flag_values or flag_mode == "vbr"
    dropped: set[str] = set()
    if by_bitrate:
        dropped.add("quality")
        if preset_values.get("bitrate_mode") == "vbr":
            dropped.add("bitrate_mode")
    if by_quality:
        dropped.add("bitrate_kbps")
        if preset_values.get("bitrate_mode") in ("cbr", "abr"):
            dropped.add("bitrate_mode")
    return {
        field: value for field, value in preset_values.items() if field not in dropped
    }


def check_options(options: ConversionOptions) -> None:
    """Raise InvalidOptionsError if the converter would reject `options`.

    Applies the backend's own checks, so that the CLI stops before the first
    upload instead of after it.
    """
    # NOTE: a --server of another version may check differently; its own
    # rejection still stops the batch at the first upload.
    try:
        validate_options(ServerOptions.from_dict(dataclasses.asdict(options)))
    except InvalidOptions as error:
        raise InvalidOptionsError(error.message) from None


# -- Convert ---------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    """Convert every input file; return the process exit status."""
    console = Console(stderr=True)
    settings = open_settings()
    server = getattr(args, "server", None)
    try:
        preset = None
        if args.preset is not None:
            preset = load_presets(settings).get(args.preset)
        elif args.format is None:
            raise PresetError(
                "Name an output format with --to, or a preset with --preset "
                "(`audio-converter presets` lists them)."
            )
        options = build_options(args, preset)
        check_options(options)
        validate_template(args.template)
        if server:
            check_server_url(server)
        if args.out is not None:
            prepare_output_folder(args.out)
    except ClientError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_USAGE

    rules = OutputRules(
        folder=args.out,
        template=args.template,
        mirror_tree=args.mirror,
        overwrite=OverwritePolicy(args.overwrite),
        skip_up_to_date=not args.no_skip_up_to_date,
    )
    jobs = args.jobs or parallel_jobs(settings)
    missing = [
        path for path in args.files if not path.exists() and not path.is_symlink()
    ]
    sources, skipped = expand_sources(
        (path for path in args.files if path not in missing),
        exclude=[args.out] if args.out is not None else [],
    )
    outcomes = [FileOutcome(path, error=f"{path} was not found.") for path in missing]

    batch: _Batch | None = None
    try:
        with _connect(args, console) as api:
            extension = _extension(api, options.format, server, args.token)
            plans = _plan(sources, rules, options.format, extension, outcomes)
            batch = _Batch(api, options, jobs, args.poll_interval, console)
            batch.run(plans)
    except InvalidOptionsError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ClientError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        cancelled = 0 if batch is None else batch.cancelled_jobs
        print(
            f"Interrupted; {cancelled} unfinished job(s) were cancelled on the server.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED

    return _report(outcomes, skipped)


def check_server_url(url: str) -> None:
    """Raise ClientError unless `url` is an http:// or https:// address."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        raise ClientError(
            f"--server {url!r} is not a server address; write it as "
            "http://HOST:PORT, such as http://127.0.0.1:8765."
        )


def prepare_output_folder(folder: Path) -> None:
    """Create `folder` if needed; raise ClientError if outputs cannot go there."""
    advice = "choose another folder with --out."
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ClientError(
            f"Cannot use {folder} as the output folder: it is a file; {advice}"
        ) from None
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise ClientError(
            f"Cannot create the output folder {folder} ({reason}); {advice}"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ClientError(
            f"Cannot write to the output folder {folder} (permission denied); {advice}"
        )


@contextlib.contextmanager
def _connect(args: argparse.Namespace, console: Console) -> Iterator[ApiClient]:
    server = getattr(args, "server", None)
    if server:
        with ApiClient(server, args.token) as api:
            try:
                api.health()
            except ServerUnreachable as error:
                raise ServerUnreachable(
                    f"The server at {server} is not reachable "
                    f"({_transport_reason(error)}). Check that it is running and "
                    "that --server names its address and port."
                ) from error
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


def _transport_reason(error: BaseException) -> str:
    """Return why a request got no response, such as "connection refused"."""
    cause: BaseException | None = error
    # httpx chains its error to httpcore's, which chains the socket's OSError.
    for _ in range(_MAX_CAUSES):
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        if isinstance(cause, httpx.TimeoutException):
            return "timed out"
        cause = cause.__cause__ or cause.__context__
    return "no response"


def _extension(
    api: ApiClient, format_name: str, server: str | None, token: str | None
) -> str:
    """Return the file extension the server gives outputs of `format_name`.

    Raises ClientError once, before any upload, when `server` rejects the token.
    """
    try:
        formats = {item.name: item.extension for item in api.formats()}
    except ApiError as error:
        if error.status_code == 401 and server:
            raise ClientError(_token_problem(server, token)) from error
        # Each upload meets the same error and reports it for its file.
        logger.info("Could not list the server's formats: %s", error)
        formats = FORMAT_EXTENSIONS
    if format_name not in formats:
        offered = ", ".join(sorted(formats))
        raise InvalidOptionsError(
            f"The server does not offer the format {format_name!r}; it offers "
            f"{offered}."
        )
    return formats[format_name]


def _token_problem(server: str, token: str | None) -> str:
    fix = f"pass the server's token with --token or set {TOKEN_VARIABLE}"
    if not token:
        return f"The server at {server} requires a token; {fix}."
    return f"The server at {server} rejected the token; {fix}."


def _plan(
    sources: list[SourceFile],
    rules: OutputRules,
    format_name: str,
    extension: str,
    outcomes: list[FileOutcome],
) -> list[_Planned]:
    """Choose each output path; record the files skipped and why."""
    needs_tags = any(field in rules.template for field in TAG_FIELDS)
    claims = TargetClaims()
    plans = []
    for source in sources:
        outcome = FileOutcome(source.path)
        outcomes.append(outcome)
        tags = read_tags(source.path) if needs_tags else {}
        target = output_path(source, rules, extension, format_name, tags)
        try:
            claim = claims.claim(
                target,
                source.path,
                rules.overwrite,
                skip_up_to_date=rules.skip_up_to_date,
            )
        except OutputRuleError as error:
            outcome.error = str(error)
            continue
        if claim.path is None:
            outcome.skipped = f"{claim.skip_reason}."
            continue

        notes: tuple[str, ...] = ()
        if claim.renamed:
            notes = (
                f"Another input of this run has the output name {target.name}, "
                "so this output got a number.",
            )
        plans.append(_Planned(source, outcome, claim.path, claim.overwrite, notes))
    return plans


class _Batch:
    """Uploads, polls and downloads one batch, drawing a bar per file.

    At most `jobs` files are on the server unfinished at once; the next file
    is uploaded when one of them ends.
    """

    def __init__(
        self,
        api: ApiClient,
        options: ConversionOptions,
        jobs: int,
        poll_seconds: float,
        console: Console,
    ) -> None:
        self._api = api
        self._options = options
        self._max_jobs = jobs
        self._poll_seconds = poll_seconds
        self._console = console
        self._poller = Poller(api)
        self._downloader = Downloader(api)
        self._cancel = threading.Event()
        self._jobs: dict[str, tuple[_Planned, TaskID]] = {}
        self._downloads: dict[str, Future[Path]] = {}
        self._lost_since: float | None = None
        # Set when a download ends, so that the wait between polls ends too.
        self._download_ended = threading.Event()
        self.cancelled_jobs = 0

    def run(self, plans: list[_Planned]) -> None:
        pending = deque(plans)
        with (
            progress_bars(self._console) as bars,
            ThreadPoolExecutor(max_workers=2) as pool,
        ):
            try:
                while pending or self._busy():
                    while pending and len(self._poller.active_ids) < self._max_jobs:
                        self._upload(pending.popleft(), bars)
                    self._follow(bars, pool)
            except KeyboardInterrupt:
                self._cancel_all()
                raise
        self._collect_downloads()

    def _busy(self) -> bool:
        return bool(self._poller.active_ids) or any(
            not future.done() for future in self._downloads.values()
        )

    def _cancel_all(self) -> None:
        """Stop the downloads and cancel every unfinished job on the server."""
        self._cancel.set()
        # NOTE: a file whose upload Ctrl-C interrupted may have become a job
        # that the client never learnt of; it is not cancelled.
        for job_id in self._poller.active_ids:
            try:
                job = self._api.cancel_job(job_id)
            except ClientError as error:
                logger.warning("Could not cancel job %s: %s", job_id, error)
                continue
            # A job that ended before the request arrived keeps its status.
            if job.status == "cancelled":
                self.cancelled_jobs += 1

    def _upload(self, plan: _Planned, bars: Progress) -> None:
        outcome = plan.outcome
        name = plan.source.path.name
        task = bars.add_task(name, total=100, status="uploading")
        try:
            job = self._api.create_job(plan.source.path, self._options)
        except ApiError as error:
            if error.code == "invalid_options":
                # The same options fail for every file: stop at once.
                raise InvalidOptionsError(error.message) from error
            outcome.error = f"{name}: {error}"
        except ClientError as error:
            outcome.error = f"{name}: {error}"
        except OSError as error:
            outcome.error = f"Could not read {plan.source.path}: {error.strerror}."
        else:
            self._poller.track(job)
            self._jobs[job.id] = (plan, task)
            bars.update(task, status="queued")
            return
        bars.update(task, status="failed")

    def _follow(self, bars: Progress, pool: ThreadPoolExecutor) -> None:
        """Poll the active jobs once, start downloads, then wait a moment."""
        for state in self._poller.poll():
            plan, task = self._jobs[state.job_id]
            bars.update(task, completed=state.progress, status=describe_state(state))
            if state.is_downloadable and state.job_id not in self._downloads:
                future = pool.submit(self._download, state, plan)
                future.add_done_callback(lambda _: self._download_ended.set())
                self._downloads[state.job_id] = future
            elif state.is_terminal and state.error_message:
                plan.outcome.error = state.error_message
            if state.job is not None:
                plan.outcome.notes = plan.notes + state.job.adjustments
                if self._options.keep_metadata:
                    plan.outcome.dropped_tags = dropped_tags(state.job)
        self._lost_since = self._check_connection(self._lost_since)
        # Without this the last save was followed by an idle poll interval.
        self._download_ended.wait(self._poll_seconds)
        self._download_ended.clear()

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
            plan, _ = self._jobs[state.job_id]
            plan.outcome.error = (
                f"Lost the connection to the server while converting "
                f"{plan.source.path}: {state.connection_problem}"
            )
            self._poller.forget(state.job_id)
        return None

    def _collect_downloads(self) -> None:
        for job_id, future in self._downloads.items():
            plan, _ = self._jobs[job_id]
            outcome = plan.outcome
            try:
                outcome.output = future.result()
            except TargetExists as error:
                outcome.skipped = f"{error.target} appeared meanwhile and was kept."
            except ClientError as error:
                outcome.error = str(error)
            except OSError as error:
                where = f" ({error.filename})" if error.filename else ""
                reason = error.strerror or str(error)
                outcome.error = (
                    f"Could not save the output of {outcome.source}: {reason}{where}."
                )

    def _download(self, state: JobState, plan: _Planned) -> Path:
        assert state.job is not None
        return self._downloader.download(
            state.job,
            plan.target.parent,
            cancel=self._cancel,
            name=plan.target.name,
            overwrite=plan.policy,
        )


def progress_bars(console: Console) -> Progress:
    """Return the progress display: file name, bar, percentage and status.

    The columns share the terminal's width 3 : 1 : 2, so that a name of 36
    characters shows whole in 80 columns, and a long status is cut short
    with an ellipsis instead of squeezing the name.
    """

    def share(ratio: int) -> Column:
        return Column(ratio=ratio, no_wrap=True, overflow="ellipsis")

    return Progress(
        TextColumn("{task.description}", markup=False, table_column=share(3)),
        BarColumn(bar_width=None, table_column=share(1)),
        TaskProgressColumn(),
        TextColumn("{task.fields[status]}", markup=False, table_column=share(2)),
        console=console,
        expand=True,
    )


def dropped_tags(job: JobInfo) -> tuple[str, ...]:
    """Return the tags the server could not carry into the output."""
    return job.metadata.dropped if job.metadata is not None else ()


# -- Report ----------------------------------------------------------------------


def _report(outcomes: Iterable[FileOutcome], skipped_inputs: list[str]) -> int:
    """Print what happened to each file; return the exit status."""
    converted = skipped = failed = 0
    for sentence in skipped_inputs:
        print(sentence)
    for outcome in outcomes:
        if outcome.output is not None:
            converted += 1
            print(f"{outcome.source} -> {outcome.output}")
            for note in outcome.notes:
                print(f"  note: {note}")
            if outcome.dropped_tags:
                print(f"  tags dropped: {', '.join(outcome.dropped_tags)}")
        elif outcome.skipped is not None:
            skipped += 1
            print(f"Skipped: {outcome.source}: {outcome.skipped}")
        else:
            failed += 1
            print(f"Failed: {outcome.error}", file=sys.stderr)

    print(
        f"{converted} converted, {skipped} skipped, {failed} failed.", file=sys.stderr
    )
    if converted + skipped + failed == 0:
        print("Error: no audio files to convert were found.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if failed else 0

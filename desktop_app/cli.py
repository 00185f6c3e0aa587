"""Headless command line: `audio-converter convert PATH... --to FORMAT`.

Also `audio-converter presets`, which lists the presets `--preset` takes.
"""

from __future__ import annotations

import argparse
import contextlib
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
from desktop_app.client.models import ConversionOptions, JobInfo
from desktop_app.client.output_rules import (
    OutputRules,
    OverwritePolicy,
    TargetExists,
    is_up_to_date,
    output_path,
    resolve_target,
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
        default=os.environ.get("AUDIO_CONVERTER_TOKEN"),
        help="bearer token for --server (default: $AUDIO_CONVERTER_TOKEN)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=DEFAULT_POLL_SECONDS, metavar="SECONDS",
        help="seconds between progress checks (default: %(default)s)",
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
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number above 0")
    return value


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
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
    FORMAT_INDEPENDENT_FIELDS are kept.
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
    values.update(flag_values)
    return options_from_dict(values, "The command line options")


# -- Convert ---------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    """Convert every input file; return the process exit status."""
    console = Console(stderr=True)
    settings = open_settings()
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
        validate_template(args.template)
    except ClientError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.out is not None:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(
                f"Error: cannot use {args.out} as the output folder: {error}",
                file=sys.stderr,
            )
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
        path for path in args.files if path not in missing
    )
    outcomes = [FileOutcome(path, error=f"{path} was not found.") for path in missing]

    batch: _Batch | None = None
    try:
        with _connect(args, console) as api:
            extension = _extension(api, options.format)
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


def _extension(api: ApiClient, format_name: str) -> str:
    """Return the file extension the server gives outputs of `format_name`."""
    try:
        formats = {item.name: item.extension for item in api.formats()}
    except ApiError as error:
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


def _plan(
    sources: list[SourceFile],
    rules: OutputRules,
    format_name: str,
    extension: str,
    outcomes: list[FileOutcome],
) -> list[_Planned]:
    """Choose each output path; record files skipped as up to date or existing."""
    needs_tags = any(field in rules.template for field in TAG_FIELDS)
    claimed: set[Path] = set()
    plans = []
    for source in sources:
        outcome = FileOutcome(source.path)
        outcomes.append(outcome)
        tags = read_tags(source.path) if needs_tags else {}
        target = output_path(source, rules, extension, format_name, tags)
        if rules.skip_up_to_date and is_up_to_date(source.path, target):
            outcome.skipped = f"{target} is up to date."
            continue

        policy = rules.overwrite
        notes: tuple[str, ...] = ()
        if target in claimed:
            # Two inputs of this batch map to one name: the second never
            # overwrites the first nor is skipped because of it.
            policy = OverwritePolicy.NUMBER
            notes = (f"Another input is also saved as {target.name}.",)
        resolved = resolve_target(target, source.path, policy)
        if resolved is None:
            outcome.skipped = f"{target} exists."
            continue
        if resolved != target:
            # The downloader picks the numbered name when it saves, so a file
            # that appears meanwhile is not overwritten either. This also
            # covers OVERWRITE on the source itself.
            policy = OverwritePolicy.NUMBER
        claimed.add(target)
        plans.append(_Planned(source, outcome, target, policy, notes))
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
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}", markup=False),
        )
        pending = deque(plans)
        with (
            Progress(*columns, console=self._console) as bars,
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
                outcome.error = (
                    f"Could not save the output of {outcome.source}: {error}"
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

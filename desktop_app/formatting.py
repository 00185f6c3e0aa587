"""Plain-text descriptions of job states, shared by the window and the CLI."""

from __future__ import annotations

from desktop_app.client.models import ConversionOptions
from desktop_app.client.poller import JobState

STAGE_LABELS = {
    "uploading": "Uploading",
    "queued": "Waiting",
    "converting": "Converting",
    "finalizing": "Checking output",
    "completed": "Done",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def format_duration(seconds: float) -> str:
    """Return a short duration such as `45 s`, `3 min 05 s` or `1 h 02 min`."""
    total = max(round(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def describe_error(action: str, error: Exception) -> str:
    """Return a sentence for a failed action, without Python's error syntax."""
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{action} failed: {error.strerror}{where}."
    text = str(error).rstrip()
    return (
        f"{action} failed: {text}"
        if text.endswith(".")
        else f"{action} failed: {text}."
    )


def plural(count: int, noun: str) -> str:
    """Return `1 file`, `2 files`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_state(state: JobState) -> str:
    """Return the stage with speed and time left, or the failure reason."""
    if state.stage == "failed" and state.error_message:
        return state.error_message
    label = STAGE_LABELS.get(state.stage, state.stage.capitalize())
    details = []
    if state.stage == "converting":
        if state.speed:
            details.append(f"{state.speed:.0f}\u00d7 real time")
        if state.eta_seconds is not None:
            details.append(f"{format_duration(state.eta_seconds)} left")
    if state.connection_problem:
        details.append("connection lost, retrying")
    return " \u00b7 ".join([label, *details])


FORMAT_LABELS = {
    "mp3": "MP3",
    "aac": "AAC",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "flac": "FLAC",
    "wav": "WAV",
    "alac": "ALAC",
}


def describe_options(options: ConversionOptions) -> str:
    """Return a short label such as `MP3 VBR V0` or `Opus 48 kbit/s mono`."""
    parts = [FORMAT_LABELS.get(options.format, options.format.upper())]
    if options.quality is not None:
        if options.format == "mp3":
            parts.append(f"VBR V{options.quality:g}")
        else:
            parts.append(f"quality {options.quality:g}")
    elif options.bitrate_kbps is not None:
        mode = options.bitrate_mode.upper() + " " if options.bitrate_mode else ""
        parts.append(f"{mode}{options.bitrate_kbps} kbit/s")
    if options.bit_depth is not None:
        parts.append(f"{options.bit_depth}-bit")
    if options.compression_level is not None:
        parts.append(f"level {options.compression_level}")
    if options.sample_rate is not None:
        parts.append(f"{options.sample_rate / 1000:g} kHz")
    if options.channels is not None:
        parts.append({1: "mono", 2: "stereo"}.get(options.channels, "multichannel"))
    if options.loudness_lufs is not None:
        parts.append(f"{options.loudness_lufs:g} LUFS")
    if options.trim_start_seconds or options.trim_end_seconds:
        parts.append("trimmed")
    if options.fade_in_seconds or options.fade_out_seconds:
        parts.append("faded")
    if not options.keep_metadata:
        parts.append("no tags")
    head, details = parts[0], parts[1:]
    return f"{head} {', '.join(details)}" if details else head

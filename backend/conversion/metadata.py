"""Read tags from FFmpeg's input report, map them into outputs, report losses.

Containers keep tags in different places: MP3, MP4 and WAV in the container,
Ogg (Vorbis, Opus, FLAC in Ogg) on the audio stream. Tags are therefore read
from both places and compared by name, in lower case, between the source and
the probed output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from backend.jobs.model import MetadataReport

# Tags that describe the file, not the recording: FFmpeg or the container
# writes them itself, so they are neither carried over nor reported.
TECHNICAL_TAGS = frozenset(
    {
        "compatible_brands", "creation_time", "duration", "encoder",
        "handler_name", "itunnorm", "itunsmpb", "major_brand", "minor_version",
        "vendor_id",
    }
)  # fmt: skip
# Loudness tags that no longer describe the audio once it is normalised.
_GAIN_TAG = re.compile(r"^(replaygain_|r128_)", re.IGNORECASE)

# One "key : value" line of a Metadata block. FFmpeg pads keys to 16
# characters, and a continuation line of a multi-line value has an empty key.
_TAG_LINE = re.compile(r"^(?P<key>.*?)\s*: (?P<value>.*)$")
_STREAM_LINE = re.compile(r"^ {2}Stream #0:\d+")


def parse_tags(report: str) -> dict[str, str]:
    """Return the container's and the first audio stream's tags from `report`.

    `report` is what `ffmpeg -i FILE` prints. A stream tag wins over a
    container tag of the same name. Keys keep their case. Chapter tags and
    the tags of other streams are left out.
    """
    container: dict[str, str] = {}
    stream: dict[str, str] = {}
    target: dict[str, str] | None = None
    indent = ""
    first_audio_seen = False
    in_first_audio = False
    last_key: str | None = None

    for line in report.splitlines():
        if _STREAM_LINE.match(line):
            in_first_audio = ": Audio: " in line and not first_audio_seen
            first_audio_seen = first_audio_seen or in_first_audio
            target = None
            continue
        if line == "  Metadata:" and not first_audio_seen:
            target, indent, last_key = container, " " * 4, None
            continue
        if line == "    Metadata:" and in_first_audio:
            target, indent, last_key = stream, " " * 6, None
            continue
        if target is None:
            continue
        rest = line[len(indent) :] if line.startswith(indent) else ""
        match = _TAG_LINE.match(rest)
        if not rest or match is None:
            # Any other line ends the block ("Duration:", "Side data:").
            target = None
            continue
        key = match["key"].strip()
        if key and not rest[0].isspace():
            target[key] = match["value"]
            last_key = key
        elif not key and last_key is not None:
            target[last_key] += "\n" + match["value"]
        else:
            target = None

    merged = dict(container)
    known = {key.lower(): key for key in merged}
    for key, value in stream.items():
        merged.pop(known.get(key.lower(), key), None)
        merged[key] = value
    return merged


def user_tag_names(tags: Iterable[str]) -> list[str]:
    """Return the lower-case names of the tags a user set, in source order."""
    names: list[str] = []
    for key in tags:
        name = key.lower()
        if name not in TECHNICAL_TAGS and name not in names:
            names.append(name)
    return names


def gain_tag_keys(tags: Iterable[str]) -> list[str]:
    """Return the ReplayGain and R128 tag keys among `tags`."""
    return [key for key in tags if _GAIN_TAG.match(key)]


def metadata_args(keep: bool, muxer: str, drop_keys: Iterable[str] = ()) -> list[str]:
    """Return the FFmpeg output arguments that carry or strip the tags.

    Container tags and the first audio stream's tags are both mapped to the
    output's container tags. The Ogg muxer copies those onto the stream, and
    every other muxer reads them there. Each key in `drop_keys` is removed.
    """
    if not keep:
        return ["-map_metadata", "-1"]
    args = ["-map_metadata", "0", "-map_metadata", "0:s:a:0"]
    for key in drop_keys:
        # An empty value removes the tag.
        args += ["-metadata", f"{key}="]
    if muxer == "mp3":
        # ID3v2.3, because Windows Explorer, many car stereos and portable
        # players read ID3v2.4 (FFmpeg's default) partly or not at all.
        args += ["-id3v2_version", "3"]
    return args


def compare_tags(
    source_tags: dict[str, str],
    output_tags: dict[str, str],
    source_has_picture: bool,
    output_has_picture: bool,
) -> MetadataReport:
    """Report which of the source's tags and picture the output contains."""
    present = set(user_tag_names(output_tags))
    kept: list[str] = []
    dropped: list[str] = []
    for name in user_tag_names(source_tags):
        (kept if name in present else dropped).append(name)
    picture = None
    if source_has_picture:
        picture = "kept" if output_has_picture else "dropped"
    return MetadataReport(kept=tuple(kept), dropped=tuple(dropped), picture=picture)

"""Read the common tags of an audio file for naming outputs.

mutagen parses ID3 (MP3, and the ID3 chunks of WAV and AIFF), Vorbis comments
(FLAC, Ogg Vorbis, Opus), MP4 atoms (M4A, ALAC), APEv2 and ASF in pure Python,
so tags can be read before any upload and without running FFmpeg.
"""

from __future__ import annotations

import logging
import re
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3
from mutagen.wave import WAVE

logger = logging.getLogger(__name__)

TAG_NAMES = ("title", "artist", "album", "track", "date", "genre")

# Keys per tag, tried in order, as the formats name them: mutagen's "easy"
# names for ID3 and MP4, Vorbis comments, APEv2 and ASF (matched without case).
_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "artist": ("artist", "albumartist", "album artist", "author"),
    "album": ("album", "wm/albumtitle"),
    "track": ("tracknumber", "track", "wm/tracknumber"),
    "date": ("date", "year", "wm/year"),
    "genre": ("genre", "wm/genre"),
}
# ID3 frames per tag, for ID3 tags that mutagen offers only as frames (WAV,
# AIFF, DSF): title, lead artist, band (album artist), album, track, date.
_ID3_FRAMES: dict[str, tuple[str, ...]] = {
    "title": ("TIT2",),
    "artist": ("TPE1", "TPE2"),
    "album": ("TALB",),
    "track": ("TRCK",),
    "date": ("TDRC", "TYER"),
    "genre": ("TCON",),
}
# RIFF INFO fields of WAV files, which mutagen 1.48 does not read.
_RIFF_INFO_IDS = {
    b"INAM": "title",
    b"IART": "artist",
    b"IPRD": "album",
    b"IPRT": "track",
    b"ITRK": "track",
    b"ICRD": "date",
    b"IGNR": "genre",
}
# A LIST chunk larger than this contains more than tags; it is not read.
_MAX_RIFF_LIST_BYTES = 1024 * 1024
_TRACK_NUMBER = re.compile(r"\s*0*(\d+)")


def read_tags(path: Path) -> dict[str, str]:
    """Return the file's tags among TAG_NAMES; {} when it has none.

    `track` is the track number alone ("3" for "03/12"). Never raises: an
    unreadable, tagless or unknown file returns {}.
    """
    try:
        audio = mutagen.File(path, easy=True)
    except Exception as error:
        # mutagen's parsers raise assorted errors (MutagenError, OSError,
        # struct and index errors) on damaged files; naming must go on.
        logger.info("Could not read tags of %s: %s", path, error)
        return {}
    tags = None if audio is None else audio.tags
    raw: dict[str, str | None] = {}
    if isinstance(tags, ID3):
        raw = {name: _id3_text(tags, frames) for name, frames in _ID3_FRAMES.items()}
    elif tags:
        lookup = _case_insensitive(tags)
        raw = {name: _first(lookup, keys) for name, keys in _KEYS.items()}
    if isinstance(audio, WAVE):
        # An ID3 chunk wins over the INFO chunk, which FFmpeg and most editors
        # write.
        for name, value in _riff_info(path).items():
            raw[name] = raw.get(name) or value
    return _clean(raw)


def _case_insensitive(tags: Any) -> Callable[[str], Any]:
    try:
        items = {str(key).casefold(): value for key, value in tags.items()}
    except (AttributeError, TypeError, ValueError):
        return lambda key: None
    return items.get


def _first(lookup: Callable[[str], Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = lookup(key)
        if isinstance(value, list | tuple):
            value = value[0] if value else None
        text = None if value is None else str(value).strip()
        if text:
            return text
    return None


def _id3_text(tags: Any, frames: Iterable[str]) -> str | None:
    """Return the first text of `frames`; `tags` is an ID3 (not annotated)."""
    for frame_id in frames:
        # Text frames are stored under their bare id, one frame per id.
        frame = tags.get(frame_id)
        texts = getattr(frame, "genres", None) or getattr(frame, "text", None)
        text = str(texts[0]).strip() if texts else ""
        if text:
            return text
    return None


def _riff_info(path: Path) -> dict[str, str]:
    """Return the tags in a WAV file's LIST INFO chunk; {} on any fault."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
                return {}
            while len(chunk_header := handle.read(8)) == 8:
                chunk_id, size = (
                    chunk_header[:4],
                    int.from_bytes(chunk_header[4:], "little"),
                )
                if chunk_id == b"LIST" and 4 <= size <= _MAX_RIFF_LIST_BYTES:
                    body = handle.read(size)
                    if body[:4] == b"INFO":
                        return _parse_info(body[4:])
                else:
                    handle.seek(size + (size & 1), 1)
    except OSError as error:
        logger.info("Could not read the INFO chunk of %s: %s", path, error)
    return {}


def _parse_info(body: bytes) -> dict[str, str]:
    tags: dict[str, str] = {}
    offset = 0
    while offset + 8 <= len(body):
        sub_id, size = struct.unpack_from("<4sI", body, offset)
        raw = body[offset + 8 : offset + 8 + size].split(b"\0", 1)[0]
        offset += 8 + size + (size & 1)
        name = _RIFF_INFO_IDS.get(sub_id)
        if name is None or name in tags:
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        if text.strip():
            tags[name] = text.strip()
    return tags


def _clean(raw: dict[str, str | None]) -> dict[str, str]:
    """Drop empty values and reduce the track to its number."""
    tags = {name: value for name, value in raw.items() if value}
    if "track" in tags:
        match = _TRACK_NUMBER.match(tags["track"])
        if match:
            tags["track"] = str(int(match.group(1)))
        else:
            del tags["track"]
    return tags

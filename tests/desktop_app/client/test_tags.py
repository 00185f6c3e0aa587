"""Reading tags from files that FFmpeg and mutagen wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mutagen.id3 import TCON, TIT2, TPE1, TRCK
from mutagen.mp3 import MP3
from mutagen.wave import WAVE

from desktop_app.client.tags import read_tags
from tests.helpers.audio import make_tone

METADATA = {
    "title": "Song A/B",
    "artist": "Art Ist",
    "album": "Alb Um",
    "track": "03/12",
    "date": "2020",
    "genre": "Rock",
}
EXPECTED = {**METADATA, "track": "3"}


def tagged_tone(path: Path, tags: dict[str, str], *extra: str) -> Path:
    pairs = [
        arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")
    ]
    return make_tone(path, 0.2, extra=[*pairs, *extra])


@pytest.mark.parametrize("suffix", [".mp3", ".flac", ".m4a", ".ogg", ".opus", ".wav"])
def test_reads_tags_ffmpeg_wrote(tmp_path: Path, suffix: str) -> None:
    path = tagged_tone(tmp_path / f"tagged{suffix}", METADATA)

    # WAV keeps its tags in a RIFF INFO chunk, which tags.py parses itself.
    assert read_tags(path) == EXPECTED


def test_reads_aiff_id3_chunk(tmp_path: Path) -> None:
    path = tagged_tone(tmp_path / "tagged.aiff", METADATA, "-write_id3v2", "1")

    assert read_tags(path) == EXPECTED


def test_wav_id3_chunk_wins_over_info(tmp_path: Path) -> None:
    path = tagged_tone(tmp_path / "both.wav", {"title": "Info title", "artist": "A"})
    audio = WAVE(path)
    audio.add_tags()
    # mutagen annotates `tags` as None; after add_tags it is an ID3.
    id3: Any = audio.tags
    id3.add(TIT2(encoding=3, text=["Id3 title"]))
    id3.add(TRCK(encoding=3, text=["7/9"]))
    id3.add(TCON(encoding=3, text=["(17)"]))
    audio.save()

    tags = read_tags(path)

    assert tags["title"] == "Id3 title"
    assert tags["artist"] == "A"
    assert tags["track"] == "7"
    assert tags["genre"] == "Rock"


def test_id3_artist_falls_back_to_album_artist(tmp_path: Path) -> None:
    path = tagged_tone(tmp_path / "band.mp3", {"album_artist": "The Band"})

    assert read_tags(path) == {"artist": "The Band"}


def test_track_without_number_is_left_out(tmp_path: Path) -> None:
    path = tagged_tone(tmp_path / "odd.flac", {"track": "side A", "title": "X"})

    assert read_tags(path) == {"title": "X"}


def test_empty_values_are_left_out(tmp_path: Path) -> None:
    path = make_tone(tmp_path / "blank.mp3", 0.2)
    mp3 = MP3(path)
    id3: Any = mp3.tags
    id3.add(TIT2(encoding=3, text=["  "]))
    id3.add(TPE1(encoding=3, text=["Someone"]))
    mp3.save()

    assert read_tags(path) == {"artist": "Someone"}


def test_tagless_file_gives_nothing(tmp_path: Path) -> None:
    path = make_tone(tmp_path / "plain.wav", 0.2)

    assert read_tags(path) == {}


@pytest.mark.parametrize(
    "content",
    [b"", b"ID3\x04\x00\x00\xff\xff\xff\xff" + b"\x00" * 40, b"fLaC" + b"\xff" * 64,
     b"RIFF\x10\x00\x00\x00WAVELIST\xff\xff\xff\x7f", b"not audio at all"],
)  # fmt: skip
def test_damaged_files_give_nothing(tmp_path: Path, content: bytes) -> None:
    for name in ("damaged.mp3", "damaged.wav", "damaged.flac"):
        path = tmp_path / name
        path.write_bytes(content)

        assert read_tags(path) == {}, name


def test_unreadable_file_gives_nothing(tmp_path: Path) -> None:
    assert read_tags(tmp_path / "missing.flac") == {}
    assert read_tags(tmp_path) == {}

"""Expanding files and folders into input files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.client.sources import AUDIO_EXTENSIONS, SourceFile, expand_sources


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


@pytest.fixture
def music(tmp_path: Path) -> Path:
    """A tree with audio, a cover, hidden entries and nested folders."""
    root = tmp_path / "Music"
    for name in (
        "b.flac",
        "A.mp3",
        "cover.jpg",
        ".hidden.mp3",
        "Artist/Album/02.FLAC",
        "Artist/Album/01.flac",
        "Artist/notes.txt",
        ".git/objects/x.wav",
        "beta/c.opus",
        "Beta2/d.m4a",
    ):
        touch(root / name)  # fmt: skip
    return root


def test_folder_is_walked_sorted(music: Path) -> None:
    sources, _ = expand_sources([music])

    assert [source.path.relative_to(music).as_posix() for source in sources] == [
        "A.mp3",
        "Artist/Album/01.flac",
        "Artist/Album/02.FLAC",
        "b.flac",
        "beta/c.opus",
        "Beta2/d.m4a",
    ]
    assert all(source.root == music for source in sources)


def test_non_audio_files_are_reported(music: Path) -> None:
    _, skipped = expand_sources([music])

    assert skipped == [
        f"Skipped 2 files in {music} without an audio extension: "
        "Artist/notes.txt, cover.jpg."
    ]


def test_many_skipped_names_are_shortened(tmp_path: Path) -> None:
    for number in range(8):
        touch(tmp_path / f"doc{number}.txt")
    touch(tmp_path / "song.mp3")

    _, skipped = expand_sources([tmp_path])

    assert skipped == [
        f"Skipped 8 files in {tmp_path} without an audio extension: "
        "doc0.txt, doc1.txt, doc2.txt, doc3.txt, doc4.txt and 3 more."
    ]


def test_files_are_taken_as_given(music: Path, tmp_path: Path) -> None:
    text = touch(tmp_path / "readme.txt")
    hidden = music / ".hidden.mp3"

    sources, skipped = expand_sources([text, hidden, music / "b.flac"])

    assert sources == [
        SourceFile(text),
        SourceFile(hidden),
        SourceFile(music / "b.flac"),
    ]
    assert skipped == []


def test_relative_folder_follows_root(music: Path) -> None:
    sources, _ = expand_sources([music, music / "A.mp3"])
    by_name = {source.path.name: source for source in sources}

    assert by_name["01.flac"].relative_folder == Path("Artist/Album")
    assert by_name["A.mp3"].relative_folder == Path()
    assert SourceFile(music / "A.mp3").relative_folder == Path()


def test_file_reached_twice_is_taken_once(music: Path) -> None:
    sources, skipped = expand_sources([music / "A.mp3", music])

    assert [source.path.name for source in sources].count("A.mp3") == 1
    assert sources[0] == SourceFile(music / "A.mp3")
    assert f"{music / 'A.mp3'} was added twice; it is converted once." in skipped


def test_missing_and_special_paths_are_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    broken = tmp_path / "broken.wav"
    broken.symlink_to(tmp_path / "gone.wav")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)

    sources, skipped = expand_sources([missing, broken, fifo])

    assert sources == []
    assert skipped == [
        f"{missing} was not found.",
        f"{broken} is a link to a file that does not exist.",
        f"{fifo} is not a file or folder.",
    ]


def test_empty_folder_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    sources, skipped = expand_sources([empty])

    assert sources == []
    assert skipped == [f"{empty} contains no audio files."]


def test_symlink_loop_is_searched_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "inner" / "song.mp3")
    (root / "inner" / "loop").symlink_to(root, target_is_directory=True)
    (root / "dead").symlink_to(tmp_path / "nowhere.flac")

    sources, skipped = expand_sources([root])

    assert [source.path for source in sources] == [root / "inner" / "song.mp3"]
    assert any("link loop" in line and "loop" in line for line in skipped)
    assert f"{root / 'dead'} is a link to a file that does not exist." in skipped


def test_linked_folder_outside_root_is_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    touch(elsewhere / "far.ogg")
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)

    sources, _ = expand_sources([root])

    assert sources == [SourceFile(root / "linked" / "far.ogg", root)]
    assert sources[0].relative_folder == Path("linked")


def test_unreadable_folder_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    locked = root / "locked"
    touch(locked / "secret.mp3")
    touch(root / "open.mp3")
    real_scandir = os.scandir

    def scandir(path: Path) -> Iterator[os.DirEntry[str]]:
        # Tests run as root, which chmod cannot lock out, so the fault is
        # injected where the walk lists a folder.
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)

    sources, skipped = expand_sources([root])

    assert [source.path.name for source in sources] == ["open.mp3"]
    assert f"Could not read the folder {locked}: Permission denied." in skipped


def test_extensions_are_lower_case_with_dot() -> None:
    assert all(ext.startswith(".") and ext == ext.lower() for ext in AUDIO_EXTENSIONS)
    assert {".mp3", ".flac", ".wav", ".m4a", ".opus", ".ogg"} <= AUDIO_EXTENSIONS


def test_output_folder_inside_input_is_left_out(music: Path) -> None:
    out = music / "mp3"
    touch(out / "A.mp3")
    touch(out / "deeper" / "b.mp3")

    sources, skipped = expand_sources([music], exclude=[out])

    assert not any(source.path.is_relative_to(out) for source in sources)
    assert len(sources) == 6
    assert f"{out} is the output folder; it was not searched." in skipped


def test_output_folder_named_as_input_is_searched(music: Path) -> None:
    out = music / "beta"

    sources, skipped = expand_sources([out, music / "beta" / "c.opus"], exclude=[out])

    assert [source.path for source in sources] == [out / "c.opus"]
    assert skipped == [f"{out / 'c.opus'} was added twice; it is converted once."]


def test_excluded_folder_reached_through_link(music: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    touch(out / "x.mp3")
    (music / "link-to-out").symlink_to(out, target_is_directory=True)

    sources, _ = expand_sources([music], exclude=[out])

    assert not any("x.mp3" in source.path.name for source in sources)
